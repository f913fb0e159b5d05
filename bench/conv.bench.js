// Conv family: one-op ONNX models (3×3, 1×1, depthwise 3×3 stride 1 and 2) at MobileNetV2 / SqueezeNet layer
// shapes, edgeq InferenceSession vs onnxruntime-web (wasm, SIMD, numThreads = 1) in the same process.
// GFLOP/s counts 2·N·M·(C/group)·kh·kw·oh·ow from the edgeq time; % peak is against bench/peak.bench.js's probe.
import { Graph, InferenceSession, Tensor } from '../dist/index.js';
import { writeOnnx } from '../dist/formats/onnx/writer.js';
import { fmt, ort, quick, table, timeMs } from './common.js';

/** Deterministic values in [-0.5, 0.5). */
export function seeded(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

/** A graph of one node `op` over input X (float32, dims `xDims`) with float32 initializers `inits` → Y. */
export function oneOpGraph(op, xDims, yDims, attrs, inits = []) {
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: xDims } }];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32', shape: yDims } }];
  for (const [name, data, dims] of inits) g.initializers.set(name, new Tensor('float32', data, dims));
  g.nodes = [{ name: op.toLowerCase(), op, domain: '', inputs: ['X', ...inits.map((i) => i[0])], outputs: ['Y'], attrs }];
  return g;
}

/** Time the one-op graph in edgeq and in onnxruntime-web; returns { edgeqMs, ortMs, maxDiff }. */
export async function compareOneOp(g, xDims, x) {
  const sess = await InferenceSession.create(g);
  const feed = { X: new Tensor('float32', x, xDims) };
  const mine = (await sess.run(feed)).Y.data;
  const edgeqMs = await timeMs('edgeq', () => sess.run(feed));
  const osess = await ort.InferenceSession.create(writeOnnx(g), { executionProviders: ['wasm'] });
  const ofeed = { X: new ort.Tensor('float32', x, xDims) };
  const theirs = (await osess.run(ofeed)).Y.data;
  const ortMs = await timeMs('ort', () => osess.run(ofeed));
  let maxDiff = 0;
  for (let i = 0; i < theirs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(mine[i] - theirs[i]));
  await osess.release?.();
  return { edgeqMs, ortMs, maxDiff };
}

const out2 = (i, k, s, p) => Math.floor((i + 2 * p - k) / s) + 1;

// [label, C, H(=W), M, k, stride, pad, group]
const LAYERS = [
  ['mbv2 stem 3x3 s2', 3, 224, 32, 3, 2, 1, 1],
  ['sqz fire2 expand3x3', 16, 55, 64, 3, 1, 1, 1],
  ['sqz fire4 expand3x3', 32, 27, 128, 3, 1, 1, 1],
  ['sqz fire6 expand3x3', 48, 13, 192, 3, 1, 1, 1],
  ['sqz fire9 expand3x3', 64, 13, 256, 3, 1, 1, 1],
  ['mbv2 1x1 expand 24→144', 24, 56, 144, 1, 1, 0, 1],
  ['mbv2 1x1 project 144→24', 144, 56, 24, 1, 1, 0, 1],
  ['mbv2 1x1 320→1280', 320, 7, 1280, 1, 1, 0, 1],
  ['sqz fire2 squeeze 64→16', 64, 55, 16, 1, 1, 0, 1],
  ['mbv2 dw3x3 s1 144@56', 144, 56, 144, 3, 1, 1, 144],
  ['mbv2 dw3x3 s1 576@14', 576, 14, 576, 3, 1, 1, 576],
  ['mbv2 dw3x3 s2 96@112', 96, 112, 96, 3, 2, 1, 96],
  ['mbv2 dw3x3 s2 144@56', 144, 56, 144, 3, 2, 1, 144],
];
const QUICK = new Set(['mbv2 stem 3x3 s2', 'mbv2 1x1 expand 24→144', 'mbv2 dw3x3 s1 144@56', 'mbv2 dw3x3 s2 96@112']);

export async function run(ctx) {
  const rows = [];
  const out = [];
  for (const [label, c, h, m, k, s, p, group] of LAYERS) {
    if (quick && !QUICK.has(label)) continue;
    const oh = out2(h, k, s, p);
    const xDims = [1, c, h, h];
    const yDims = [1, m, oh, oh];
    const w = seeded(m * (c / group) * k * k, m * 31 + c);
    const b = seeded(m, m + 7);
    const attrs = { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], group, dilations: [1, 1] };
    const g = oneOpGraph('Conv', xDims, yDims, attrs, [['W', w, [m, c / group, k, k]], ['B', b, [m]]]);
    const x = seeded(c * h * h, c * h);
    const { edgeqMs, ortMs, maxDiff } = await compareOneOp(g, xDims, x);
    const flop = 2 * m * (c / group) * k * k * oh * oh;
    const gflops = flop / (edgeqMs / 1e3) / 1e9;
    const r = { layer: label, shape: `${c}x${h}x${h}→${m}x${oh}x${oh} k${k} s${s} g${group}`, edgeqMs, ortMs, ratio: edgeqMs / ortMs, gflops, pctPeak: ctx.f32PeakGflops ? (100 * gflops) / ctx.f32PeakGflops : NaN, maxDiff };
    out.push(r);
    rows.push({ layer: label, shape: r.shape, 'GFLOP/s': fmt(gflops, 1), '% peak': fmt(r.pctPeak, 0), 'edgeq ms': fmt(edgeqMs, 3), 'ORT-web ms': fmt(ortMs, 3), 'edgeq/ORT': fmt(r.ratio, 2), '|Δ| max': maxDiff.toExponential(1) });
  }
  table('f32 Conv layers (one-op models), one thread', rows);
  return { conv: out };
}
