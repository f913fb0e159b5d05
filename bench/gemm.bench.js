// f32 GEMM: edgeq's packed WASM SIMD kernel and a whole MatMul session vs onnxruntime-web's MatMul, same shapes
// (128×768×3072 / 128×3072×768: a transformer FFN at 128 tokens; with M ≥ 2 A is packed into 4-row strips first).
import { Graph, InferenceSession, Tensor } from '../dist/index.js';
import { PackedGemmF32 } from '../dist/kernels/gemm.js';
import { arena } from '../dist/kernels/wasm.js';
import { writeOnnx } from '../dist/formats/onnx/writer.js';
import { fmt, ort, quick, table, timeMs } from './common.js';

function matmulGraph(m, k, n, w) {
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [m, k] } }];
  g.outputs = [{ name: 'C', type: { dtype: 'float32', shape: [m, n] } }];
  g.initializers.set('B', new Tensor('float32', w, [k, n]));
  g.nodes = [{ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['C'], attrs: {} }];
  return g;
}

export async function run(ctx) {
  const shapes = quick ? [[256, 256, 256], [1, 1024, 1024]] : [[512, 512, 512], [256, 1152, 128], [1, 1024, 1024], [64, 400, 120], [128, 768, 3072], [128, 3072, 768]];
  const rows = [];
  const out = [];
  for (const [m, k, n] of shapes) {
    const a = Float32Array.from({ length: m * k }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const w = Float32Array.from({ length: k * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
    const flop = 2 * m * n * k;
    const kern = new PackedGemmF32(arena(), k, n, w);
    const kernMs = await timeMs('kernel', () => kern.run(a, m));
    const g = matmulGraph(m, k, n, w);
    const sess = await InferenceSession.create(g);
    const feed = { A: new Tensor('float32', a, [m, k]) };
    const edgeqMs = await timeMs('edgeq', () => sess.run(feed));
    const osess = await ort.InferenceSession.create(writeOnnx(g), { executionProviders: ['wasm'] });
    const ofeed = { A: new ort.Tensor('float32', a, [m, k]) };
    const ortMs = await timeMs('ort', () => osess.run(ofeed));
    const gflops = flop / (kernMs / 1e3) / 1e9;
    const r = { shape: `${m}x${k}x${n}`, kernelMs: kernMs, edgeqMs, ortMs, ratio: edgeqMs / ortMs, kernelGflops: gflops, pctPeak: ctx.f32PeakGflops ? (100 * gflops) / ctx.f32PeakGflops : NaN };
    out.push(r);
    rows.push({ 'M×K×N': r.shape, 'kernel ms': fmt(kernMs, 3), 'GFLOP/s': fmt(gflops, 1), '% peak': fmt(r.pctPeak, 0), 'edgeq ms': fmt(edgeqMs, 3), 'ORT-web ms': fmt(ortMs, 3), 'edgeq/ORT': fmt(r.ratio, 2) });
  }
  table('f32 GEMM (MatMul with constant B), one thread', rows);
  return { gemm: out };
}
