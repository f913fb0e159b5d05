// int8 GEMM: edgeq's packed WASM SIMD int8 kernel (asm/qs8_gemm.ts) vs edgeq's own f32 kernel on the same
// shape, and a whole QLinearMatMul session vs onnxruntime-web running the same model (written with writeOnnx).
// GOP/s counts 2·M·N·K integer ops; % peak is against the int8 dot_i16x8 probe measured here (qs8_peak_dot)
// and against the f32 peak of bench/peak.bench.js when it ran first. The relaxed-SIMD build's int8 kernel is timed
// in a child node with --experimental-wasm-relaxed-simd (bench/qgemm-relaxed.child.js) on the same operands and
// compared with the plain build's f32 and int8 kernels timed here.
import { Graph, InferenceSession, Tensor } from '../dist/index.js';
import { PackedGemmF32 } from '../dist/kernels/gemm.js';
import { PackedQGemm } from '../dist/kernels/qlinear.js';
import { arena, kernels } from '../dist/kernels/wasm.js';
import { writeOnnx } from '../dist/formats/onnx/writer.js';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fmt, ort, quick, table, timeMs } from './common.js';

function qmatmulGraph(m, k, n, b) {
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs = [{ name: 'A', type: { dtype: 'uint8', shape: [m, k] } }];
  g.outputs = [{ name: 'Y', type: { dtype: 'uint8', shape: [m, n] } }];
  g.initializers.set('as', new Tensor('float32', Float32Array.of(0.02), []));
  g.initializers.set('az', new Tensor('uint8', Uint8Array.of(128), []));
  g.initializers.set('B', new Tensor('int8', b, [k, n]));
  g.initializers.set('bs', new Tensor('float32', Float32Array.of(0.01), []));
  g.initializers.set('bz', new Tensor('int8', Int8Array.of(0), []));
  g.initializers.set('ys', new Tensor('float32', Float32Array.of(0.05 * Math.sqrt(k)), []));
  g.initializers.set('yz', new Tensor('uint8', Uint8Array.of(128), []));
  g.nodes = [{ name: 'qmm', op: 'QLinearMatMul', domain: '', inputs: ['A', 'as', 'az', 'B', 'bs', 'bz', 'ys', 'yz'], outputs: ['Y'], attrs: {} }];
  return g;
}

function int8Peak() {
  const k = kernels();
  const iters = quick ? 1e7 : 5e7;
  k.qs8_peak_dot(1e6);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    k.qs8_peak_dot(iters);
    best = Math.min(best, performance.now() - t);
  }
  return (iters * 8 * 16) / (best / 1e3) / 1e9; // 8 dots × 8 multiply-adds × 2 ops
}

export async function run(ctx) {
  const shapes = quick ? [[256, 256, 256], [1, 1024, 1024]] : [[512, 512, 512], [256, 1152, 128], [1, 1024, 1024], [1, 4096, 1024], [64, 400, 120]];
  const mem = arena();
  const peak = int8Peak();
  const rows = [];
  const out = [];
  for (const [m, k, n] of shapes) {
    const af = Float32Array.from({ length: m * k }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const wf = Float32Array.from({ length: k * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
    const aq = Uint8Array.from({ length: m * k }, (_, i) => (i * 7919) % 256);
    const bq = Int8Array.from({ length: k * n }, (_, i) => ((i * 104729) % 256) - 128);
    const ops = 2 * m * n * k;
    // kernels alone, inputs already resident in kernel memory (as inside a session)
    const fg = new PackedGemmF32(mem, k, n, wf);
    const fa = mem.alloc(m * k * 4, 'bench a');
    mem.f32(fa, m * k).set(af);
    const f32Ms = await timeMs('f32', () => {
      const r = fg.runResident(mem.f32(fa, m * k), m);
      mem.release(r.ptr);
    });
    const qg = new PackedQGemm(mem, k, n, new Tensor('int8', bq, [k, n]), [0]);
    const qa = mem.alloc(m * k, 'bench a');
    new Uint8Array(mem.memory.buffer, qa, m * k).set(aq);
    const mult = new Float64Array(((n + 7) >> 3) << 3).fill(0.001);
    const q8Ms = await timeMs('int8', () => {
      const y = qg.run(new Uint8Array(mem.memory.buffer, qa, m * k), m, true, 128, 'uint8', mult, 128);
      mem.release(y.byteOffset);
    });
    fg.dispose();
    qg.dispose();
    mem.release(fa);
    mem.release(qa);
    // whole sessions on the same QLinearMatMul model
    const g = qmatmulGraph(m, k, n, bq);
    const sess = await InferenceSession.create(g);
    const feed = { A: new Tensor('uint8', aq, [m, k]) };
    const edgeqMs = await timeMs('edgeq', () => sess.run(feed));
    const osess = await ort.InferenceSession.create(writeOnnx(g), { executionProviders: ['wasm'] });
    const ofeed = { A: new ort.Tensor('uint8', aq, [m, k]) };
    const ortMs = await timeMs('ort', () => osess.run(ofeed));
    const gops = ops / (q8Ms / 1e3) / 1e9;
    const r = {
      shape: `${m}x${k}x${n}`, int8KernelMs: q8Ms, f32KernelMs: f32Ms, int8VsF32: f32Ms / q8Ms, kernelGops: gops, pctInt8Peak: (100 * gops) / peak,
      pctF32Peak: ctx.f32PeakGflops ? (100 * gops) / ctx.f32PeakGflops : NaN, edgeqMs, ortMs, ratio: edgeqMs / ortMs,
    };
    out.push(r);
    rows.push({
      'M×K×N': r.shape, 'int8 ms': fmt(q8Ms, 3), 'GOP/s': fmt(gops, 1), '% int8 peak': fmt(r.pctInt8Peak, 0), '% f32 peak': fmt(r.pctF32Peak, 0),
      'f32 ms': fmt(f32Ms, 3), 'int8 speedup': fmt(r.int8VsF32, 2), 'edgeq ms': fmt(edgeqMs, 3), 'ORT-web ms': fmt(ortMs, 3), 'edgeq/ORT': fmt(r.ratio, 2),
    });
  }
  table(`int8 GEMM (QLinearMatMul, uint8 × int8, constant B), one thread — int8 dot_i16x8 peak ${fmt(peak, 1)} GOP/s`, rows);
  const relaxed = relaxedRows(out);
  return { qgemm: out, int8PeakGops: peak, qgemmRelaxed: relaxed };
}

/** Relaxed-SIMD int8 rows from the child process, against this process's plain f32 and int8 timings. */
function relaxedRows(out) {
  const wanted = quick ? ['256x256x256', '1x1024x1024'] : ['512x512x512', '1x1024x1024', '256x1152x128'];
  const plain = new Map(out.map((r) => [r.shape, r]));
  const shapes = wanted.filter((s) => plain.has(s)).map((s) => s.split('x').map(Number));
  const child = fileURLToPath(new URL('./qgemm-relaxed.child.js', import.meta.url));
  const res = JSON.parse(
    execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', child, JSON.stringify(shapes), ...(quick ? ['--quick'] : [])], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop(),
  );
  const rows = res.rows.map((r) => {
    const p = plain.get(r.shape);
    return { ...r, flavor: res.flavor, packing: res.probed, f32KernelMs: p.f32KernelMs, int8KernelMs: p.int8KernelMs, relaxedVsF32: p.f32KernelMs / r.relaxedMs, c4VsF32: p.f32KernelMs / r.c4Ms };
  });
  table(
    `int8 GEMM, relaxed-SIMD build (child node --experimental-wasm-relaxed-simd: ${res.flavor} kernels, probed packing '${res.probed}') vs the plain build here`,
    rows.map((r) => ({
      'M×K×N': r.shape, packing: r.packing, 'relaxed int8 ms': fmt(r.relaxedMs, 3), 'GOP/s': fmt(r.gops, 1), 'plain f32 ms': fmt(r.f32KernelMs, 3), 'plain int8 ms': fmt(r.int8KernelMs, 3),
      'relaxed int8 vs plain f32': fmt(r.relaxedVsF32, 2), 'c4 rdot ms (forced, timing only)': fmt(r.c4Ms, 3), 'c4 vs plain f32': fmt(r.c4VsF32, 2),
    })),
  );
  return rows;
}
