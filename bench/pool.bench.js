// Pool family: MaxPool 3×3 s2, AveragePool, GlobalAveragePool as one-op ONNX models at SqueezeNet /
// MobileNetV2 / Inception-style shapes, edgeq vs onnxruntime-web (wasm, SIMD, numThreads = 1), same process.
// "GOP/s" counts one compare/add per window tap (kh·kw per output); % peak is against the f32 mul+add probe.
import { compareOneOp, oneOpGraph, seeded } from './conv.bench.js';
import { fmt, quick, table } from './common.js';

const outDim = (i, k, s, p, ceil) => (ceil ? Math.ceil : Math.floor)((i + 2 * p - k) / s) + 1;

// [label, op, C, H(=W), k, stride, pad, extra attrs]
const LAYERS = [
  ['sqz maxpool 3x3 s2 ceil', 'MaxPool', 64, 111, 3, 2, 0, { ceil_mode: 1 }],
  ['maxpool 3x3 s2 p1 (resnet)', 'MaxPool', 64, 112, 3, 2, 1, {}],
  ['avgpool 3x3 s1 p1', 'AveragePool', 192, 28, 3, 1, 1, { count_include_pad: 0 }],
  ['avgpool 2x2 s2', 'AveragePool', 256, 28, 2, 2, 0, {}],
  ['avgpool 3x3 s2 ceil count_include_pad', 'AveragePool', 96, 55, 3, 2, 0, { ceil_mode: 1, count_include_pad: 1 }],
  ['maxpool 3x3 s1 dilation 2 p2', 'MaxPool', 64, 56, 3, 1, 2, { dilations: [2, 2] }],
  ['mbv2 global avgpool', 'GlobalAveragePool', 1280, 7, 7, 1, 0, {}],
  ['sqz global avgpool', 'GlobalAveragePool', 1000, 13, 13, 1, 0, {}],
];

export async function run(ctx) {
  const rows = [];
  const out = [];
  for (const [label, op, c, h, k, s, p, extra] of LAYERS) {
    if (quick && !['sqz maxpool 3x3 s2 ceil', 'avgpool 3x3 s1 p1', 'mbv2 global avgpool'].includes(label)) continue;
    const global = op === 'GlobalAveragePool';
    const ek = (k - 1) * (extra.dilations?.[0] ?? 1) + 1;
    const oh = global ? 1 : outDim(h, ek, s, p, extra.ceil_mode);
    const xDims = [1, c, h, h];
    const attrs = global ? {} : { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], ...extra };
    const g = oneOpGraph(op, xDims, [1, c, oh, oh], attrs);
    const x = seeded(c * h * h, c + h);
    const { edgeqMs, ortMs, maxDiff } = await compareOneOp(g, xDims, x);
    const ops = c * oh * oh * k * k;
    const gops = ops / (edgeqMs / 1e3) / 1e9;
    const r = { layer: label, op, shape: `${c}x${h}x${h}→${c}x${oh}x${oh}`, edgeqMs, ortMs, ratio: edgeqMs / ortMs, gops, pctPeak: ctx.f32PeakGflops ? (100 * gops) / ctx.f32PeakGflops : NaN, maxDiff };
    out.push(r);
    rows.push({ layer: label, shape: r.shape, 'GOP/s': fmt(gops, 2), '% peak': fmt(r.pctPeak, 1), 'edgeq ms': fmt(edgeqMs, 3), 'ORT-web ms': fmt(ortMs, 3), 'edgeq/ORT': fmt(r.ratio, 2), '|Δ| max': maxDiff.toExponential(1) });
  }
  // 1-D and asymmetric-pad pooling (run on the 2-D kernels)
  for (const [label, op, xDims, yDims, attrs] of [
    ['maxpool 1-D k3 s2 p1 128xL512', 'MaxPool', [1, 128, 512], [1, 128, 256], { kernel_shape: [3], strides: [2], pads: [1, 1] }],
    ['avgpool asym pads (0,0,1,1) 2x2 s2 64@55', 'AveragePool', [1, 64, 55, 55], [1, 64, 28, 28], { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 1, 1] }],
  ]) {
    if (quick) continue;
    const g = oneOpGraph(op, xDims, yDims, attrs);
    const n = xDims.reduce((a, b) => a * b, 1);
    const { edgeqMs, ortMs, maxDiff } = await compareOneOp(g, xDims, seeded(n, n));
    out.push({ layer: label, op, shape: `${xDims.join('x')}→${yDims.join('x')}`, edgeqMs, ortMs, ratio: edgeqMs / ortMs, maxDiff });
    rows.push({ layer: label, shape: `${xDims.join('x')}→${yDims.join('x')}`, 'GOP/s': '', '% peak': '', 'edgeq ms': fmt(edgeqMs, 3), 'ORT-web ms': fmt(ortMs, 3), 'edgeq/ORT': fmt(edgeqMs / ortMs, 2), '|Δ| max': maxDiff.toExponential(1) });
  }
  table('f32 pooling (one-op models), one thread', rows);
  return { pool: out };
}
