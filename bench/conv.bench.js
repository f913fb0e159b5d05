// Conv family: one-op ONNX models (3×3, 1×1, depthwise 3×3 and 5×5 stride 1 and 2) at MobileNetV2 / SqueezeNet layer
// shapes, edgeq InferenceSession vs onnxruntime-web (wasm, SIMD, numThreads = 1) in the same process.
// GFLOP/s counts 2·N·M·(C/group)·kh·kw·oh·ow from the edgeq time; % peak is against bench/peak.bench.js's probe.
import { Graph, InferenceSession, Tensor } from '../dist/index.js';
import { writeOnnx } from '../dist/formats/onnx/writer.js';
import { fmt, ort, quick, table } from './common.js';

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
export function oneOpGraph(op, xDims, yDims, attrs, inits = [], inputs = ['X', ...inits.map((i) => i[0])]) {
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: xDims } }];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32', shape: yDims } }];
  for (const [name, data, dims] of inits) g.initializers.set(name, new Tensor('float32', data, dims));
  g.nodes = [{ name: op.toLowerCase(), op, domain: '', inputs, outputs: ['Y'], attrs }];
  return g;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
// EDGEQ_BENCH_CLOCK=cpu: time batches by this process's CPU time (user + system) instead of wall time — on a
// machine shared with other jobs, wall time mostly measures the scheduler (both runtimes run on one thread here)
const clock = process.env.EDGEQ_BENCH_CLOCK === 'cpu' ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();

/**
 * Time the one-op graph in edgeq and in onnxruntime-web; returns { edgeqMs, ortMs, maxDiff }. Samples alternate
 * edgeq / ORT (each a batch of runs lasting ≥ 2 ms) so both see the same machine load and the same state of the
 * allocator (fresh output pages cost both runtimes alike; timing one after the other favoured the second).
 */
export async function compareOneOp(g, xDims, x) {
  const sess = await InferenceSession.create(g);
  const feed = { X: new Tensor('float32', x, xDims) };
  const mine = (await sess.run(feed)).Y.data;
  const osess = await ort.InferenceSession.create(writeOnnx(g), { executionProviders: ['wasm'] });
  const ofeed = { X: new ort.Tensor('float32', x, xDims) };
  const theirs = (await osess.run(ofeed)).Y.data;
  const batch = async (fn) => {
    let k = 0;
    const t0 = clock();
    do {
      await fn();
      k++;
    } while (clock() - t0 < 2);
    return (clock() - t0) / k;
  };
  for (let i = 0; i < 2; i++) await batch(() => sess.run(feed)), await batch(() => osess.run(ofeed));
  const e = [];
  const o = [];
  const budget = quick ? 150 : 1500;
  const start = performance.now();
  while (e.length < (quick ? 5 : 25) && (e.length < 5 || performance.now() - start < budget)) {
    e.push(await batch(() => sess.run(feed)));
    o.push(await batch(() => osess.run(ofeed)));
  }
  const [edgeqMs, ortMs] = [median(e), median(o)];
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
  ['hand_landmark dw5x5 s1 144@28', 144, 28, 144, 5, 1, 2, 144],
  ['hand_landmark dw5x5 s2 96@56', 96, 56, 96, 5, 2, 2, 96],
  ['pose_detection dw5x5 s1 672@14', 672, 14, 672, 5, 1, 2, 672],
  ['pose_detection dw5x5 s1 1152@7', 1152, 7, 1152, 5, 1, 2, 1152],
  ['face_landmark dw3x3 s2 16@96', 16, 96, 16, 3, 2, 1, 16],
  ['face_landmark stem 3x3 s2 3→16 @192', 3, 192, 16, 3, 2, 1, 1],
  ['hand_recrop dw1x1 8@128 (channel scale)', 8, 128, 8, 1, 1, 0, 8],
];
const QUICK = new Set(['mbv2 stem 3x3 s2', 'mbv2 1x1 expand 24→144', 'mbv2 dw3x3 s1 144@56', 'mbv2 dw3x3 s2 96@112', 'hand_landmark dw5x5 s1 144@28']);

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
  const others = await runOthers();
  return { conv: out, cnnOps: others };
}

// The other NCHW CNN ops (PP-OCR det / cls shapes where they come from there): [label, op, X dims, Y dims, attrs,
// initializers [name, dims, values?], node inputs]
const f32 = (v) => Float32Array.from(v);
const OTHERS = [
  ['ppocr det ConvTranspose k2 s2 24@80', 'ConvTranspose', [1, 24, 80, 80], [1, 24, 160, 160], { kernel_shape: [2, 2], strides: [2, 2] }, [['W', [24, 24, 2, 2]]]],
  ['ppocr det ConvTranspose k2 s2 24→1 @160', 'ConvTranspose', [1, 24, 160, 160], [1, 1, 320, 320], { kernel_shape: [2, 2], strides: [2, 2] }, [['W', [24, 1, 2, 2]]]],
  ['ConvTranspose k4 s2 p1 64→32 @40', 'ConvTranspose', [1, 64, 40, 40], [1, 32, 80, 80], { kernel_shape: [4, 4], strides: [2, 2], pads: [1, 1, 1, 1] }, [['W', [64, 32, 4, 4]], ['B', [32]]]],
  ['Conv 1-D k3 p1 64→64 L256', 'Conv', [1, 64, 256], [1, 64, 256], { kernel_shape: [3], pads: [1, 1] }, [['W', [64, 64, 3]], ['B', [64]]]],
  ['Conv asym pads (0,0,1,1) 3x3 s2 32→64 @56', 'Conv', [1, 32, 56, 56], [1, 64, 28, 28], { kernel_shape: [3, 3], strides: [2, 2], pads: [0, 0, 1, 1] }, [['W', [64, 32, 3, 3]]]],
  ['ppocr det Resize nearest x2 96@40', 'Resize', [1, 96, 40, 40], [1, 96, 80, 80], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, [['scales', [4], [1, 1, 2, 2]]], ['X', '', 'scales']],
  ['Resize linear x2 half_pixel 64@40', 'Resize', [1, 64, 40, 40], [1, 64, 80, 80], { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }, [['scales', [4], [1, 1, 2, 2]]], ['X', '', 'scales']],
  ['ppocr det BatchNormalization 16@160', 'BatchNormalization', [1, 16, 160, 160], [1, 16, 160, 160], { epsilon: 1e-5 }, [['scale', [16]], ['Bn', [16]], ['mean', [16]], ['var', [16], Array.from({ length: 16 }, (_, i) => 0.5 + i / 16)]]],
  ['InstanceNormalization 64@56 (style transfer)', 'InstanceNormalization', [1, 64, 56, 56], [1, 64, 56, 56], { epsilon: 1e-5 }, [['scale', [64]], ['Bn', [64]]]],
  ['Softmax over channels 21@64 (segmentation head)', 'Softmax', [1, 21, 64, 64], [1, 21, 64, 64], { axis: 1 }, []],
  ['PRelu per-channel 64@56', 'PRelu', [1, 64, 56, 56], [1, 64, 56, 56], {}, [['slope', [64, 1, 1]]]],
  ['ppocr cls Clip 0..6 88x3x96', 'Clip', [1, 88, 3, 96], [1, 88, 3, 96], {}, [['lo', [], [0]], ['hi', [], [6]]]],
  ['Relu 64@56', 'Relu', [1, 64, 56, 56], [1, 64, 56, 56], {}, []],
];
const QUICK_OTHERS = new Set(['ppocr det ConvTranspose k2 s2 24@80', 'ppocr det Resize nearest x2 96@40', 'ppocr det BatchNormalization 16@160']);

async function runOthers() {
  const rows = [];
  const out = [];
  for (const [label, op, xDims, yDims, attrs, inits, inputs] of OTHERS) {
    if (quick && !QUICK_OTHERS.has(label)) continue;
    const size = (d) => d.reduce((a, b) => a * b, 1);
    const tensors = inits.map(([name, dims, v], i) => [name, v ? f32(v) : seeded(size(dims), 97 * i + size(dims)), dims]);
    const g = oneOpGraph(op, xDims, yDims, attrs, tensors, inputs);
    const x = seeded(size(xDims), size(xDims) + 5);
    const { edgeqMs, ortMs, maxDiff } = await compareOneOp(g, xDims, x);
    out.push({ layer: label, op, edgeqMs, ortMs, ratio: edgeqMs / ortMs, maxDiff });
    rows.push({ layer: label, shape: `${xDims.join('x')}→${yDims.join('x')}`, 'edgeq ms': fmt(edgeqMs, 3), 'ORT-web ms': fmt(ortMs, 3), 'edgeq/ORT': fmt(edgeqMs / ortMs, 2), '|Δ| max': maxDiff.toExponential(1) });
  }
  table('f32 NCHW CNN ops beside Conv (one-op models), one thread', rows);
  return out;
}
