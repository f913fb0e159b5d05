// The layout pass (src/ir/passes/layout.ts, docs/layout.md): NHWC convs / pools (TFLite) become NCHW at plan
// time, tensors stay NCHW between kernels, Transposes appear only at the graph's edges or before ops that need NHWC.
// Outputs must match the TS reference, which runs the model as written (NHWC): float within 1e-5 of the output's
// scale, int8 (rounding 'tflite', TFLite's MultiplyByQuantizedMultiplier) bit for bit.
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { nhwcToNchw } from '../../src/ir/passes/layout.js';
import { readModel } from '../../src/formats/detect.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

function rnd(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let q = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 32) * (hi - lo) + lo);
}

/** max |a − b| over max |b| (the output's scale) */
function relErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return e / Math.max(s, 1e-30);
}

interface Case {
  n: number;
  h: number;
  w: number;
  c: number;
  m: number;
  k: number;
  s: number;
  dw: boolean;
  pad: 'channel' | 'spatial';
  pool: boolean;
  axis: number;
}

/**
 * X (NHWC) → Conv (OHWI or 1HWO) → Relu → Pad → Add(bias [C] broadcast from the right) → Concat with a second conv
 * branch → MaxPool → output, plus a Reshape of the pre-pool value (needs NHWC: one Transpose back).
 */
function nhwcGraph(r: Case, seed: number): Graph {
  const g = new Graph();
  const { n, h, w, c, k } = r;
  const m = r.dw ? c : r.m;
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [n, h, w, c] } }];
  g.initializers.set('W', new Tensor('float32', rnd(m * k * k * (r.dw ? 1 : c), seed), r.dw ? [1, k, k, m] : [m, k, k, c]));
  g.initializers.set('B', new Tensor('float32', rnd(m, seed + 1), [m]));
  g.initializers.set('W2', new Tensor('float32', rnd(m * c, seed + 2), [m, 1, 1, c]));
  const padC = r.pad === 'channel' ? 3 : 0;
  const pads = r.pad === 'channel' ? [0, 0, 0, 0, 0, 0, 0, padC] : [0, 1, 0, 0, 0, 0, 2, 0];
  g.initializers.set('pads', new Tensor('int64', BigInt64Array.from(pads, BigInt), [8]));
  g.initializers.set('pv', new Tensor('float32', Float32Array.of(0.25), []));
  g.initializers.set('bias', new Tensor('float32', rnd(m + padC, seed + 3), [m + padC]));
  const conv = (name: string, x: string, wt: string, y: string, dw: boolean, kk: number, s: number): Node => ({
    name,
    op: 'Conv',
    domain: '',
    inputs: [x, wt, ...(name === 'conv1' ? ['B'] : [])],
    outputs: [y],
    attrs: { auto_pad: 'SAME_UPPER', strides: [s, s], group: dw ? c : 1, kernel_shape: [kk, kk], data_layout: 'NHWC', weight_layout: dw ? '1HWO' : 'OHWI' },
  });
  g.nodes = [
    conv('conv1', 'X', 'W', 'y1', r.dw, k, r.s),
    { name: 'relu', op: 'Relu', domain: '', inputs: ['y1'], outputs: ['r1'], attrs: {} },
    { name: 'pad', op: 'Pad', domain: '', inputs: ['r1', 'pads', 'pv'], outputs: ['p1'], attrs: { mode: 'constant' } },
    { name: 'add', op: 'Add', domain: '', inputs: ['p1', 'bias'], outputs: ['a1'], attrs: {} },
    conv('conv2', 'X', 'W2', 'y2', false, 1, 1),
    { name: 'relu2', op: 'Relu', domain: '', inputs: ['y2'], outputs: ['r2'], attrs: {} },
  ];
  // concat along the channel axis (the spatial dims of the two branches differ with strides / pads)
  const same = r.s === 1 && r.pad === 'channel';
  if (same) g.nodes.push({ name: 'cat', op: 'Concat', domain: '', inputs: ['a1', 'r2'], outputs: ['c1'], attrs: { axis: r.axis } });
  else g.nodes.push({ name: 'cat', op: 'Concat', domain: '', inputs: ['a1', 'a1'], outputs: ['c1'], attrs: { axis: r.axis } });
  g.initializers.set('shape', new Tensor('int64', BigInt64Array.of(0n, -1n), [2]));
  g.nodes.push({ name: 'flat', op: 'Reshape', domain: '', inputs: ['c1', 'shape'], outputs: ['F'], attrs: {} });
  if (r.pool) g.nodes.push({ name: 'pool', op: 'MaxPool', domain: '', inputs: ['c1'], outputs: ['Y'], attrs: { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'SAME_UPPER', data_layout: 'NHWC' } });
  else g.nodes.push({ name: 'id', op: 'Sigmoid', domain: '', inputs: ['c1'], outputs: ['Y'], attrs: {} });
  g.outputs = [
    { name: 'Y', type: { dtype: 'float32' } },
    { name: 'F', type: { dtype: 'float32' } },
  ];
  return g;
}

describe('layout pass: NHWC graphs on NCHW kernels', () => {
  it('matches the reference (1e-5 of the output scale) and transposes only at the edges', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 2, max: 9 }),
          w: fc.integer({ min: 2, max: 11 }),
          c: fc.integer({ min: 1, max: 6 }),
          m: fc.integer({ min: 1, max: 9 }),
          k: fc.constantFrom(1, 3, 5),
          s: fc.constantFrom(1, 2),
          dw: fc.boolean(),
          pad: fc.constantFrom('channel' as const, 'spatial' as const),
          pool: fc.boolean(),
          axis: fc.constantFrom(3, -1),
        }),
        fc.integer(),
        (r, seed) => {
          const g = nhwcGraph(r, seed);
          const ex = new Executor(g);
          const planned = ex.graph.nodes;
          // no NHWC node left; Transposes only at the edges: the input (shared by both convs), back to NHWC for the
          // Reshape, and for the graph output Y
          expect(planned.filter((n) => n.attrs.data_layout === 'NHWC')).toEqual([]);
          expect(planned.filter((n) => n.op === 'Transpose').map((n) => (n.attrs.perm as number[]).join(''))).toEqual(['0312', '0231', '0231']);
          // conv2 feeds the Concat only when the branches' shapes agree; otherwise it is dead and canonicalize drops it
          expect([...ex.kernels.keys()].filter((n) => n.op === 'Conv').length).toBe(r.s === 1 && r.pad === 'channel' ? 2 : 1);
          const x = new Tensor('float32', rnd(r.n * r.h * r.w * r.c, seed + 9, -2, 2), [r.n, r.h, r.w, r.c]);
          const got = ex.run({ X: x });
          const ref = new Executor(g, { backend: 'reference' }).run({ X: x });
          ex.dispose();
          for (const k of ['Y', 'F']) {
            expect(got[k]!.dims).toEqual(ref[k]!.dims);
            expect(relErr(got[k]!.data as Float32Array, ref[k]!.data as Float32Array)).toBeLessThanOrEqual(1e-5);
          }
        },
      ),
      { numRuns: 60, seed: 7 },
    );
  });

  // ONNX PRelu: "f(x) = slope * x for x < 0, f(x) = x for x >= 0", slope unidirectionally broadcastable to X; TFLite
  // PRELU (MediaPipe face / palm / hand-recrop models) has alpha [1, 1, C] between two NHWC convs. Held in NCHW with
  // its constant slope permuted once, the convs' output never goes back to NHWC.
  it('PRelu between NHWC convs stays NCHW (slope permuted), outputs within 1e-5 of the reference', () => {
    fc.assert(
      fc.property(
        fc.record({ h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 9 }), c: fc.integer({ min: 1, max: 5 }), m: fc.integer({ min: 1, max: 9 }), slope: fc.constantFrom('C', '11C', '111C', '1', 'HWC') }),
        fc.integer(),
        ({ h, w, c, m, slope }, seed) => {
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, h, w, c] } }];
          g.initializers.set('W', new Tensor('float32', rnd(m * c, seed), [m, 1, 1, c]));
          g.initializers.set('W2', new Tensor('float32', rnd(m * 9, seed + 1), [1, 3, 3, m]));
          const sd = { C: [m], '11C': [1, 1, m], '111C': [1, 1, 1, m], '1': [1], HWC: [h, w, m] }[slope];
          g.initializers.set('S', new Tensor('float32', rnd(sd.reduce((a, d) => a * d, 1), seed + 2, 0, 0.5), sd));
          const conv = (name: string, x: string, wt: string, y: string, dw: boolean): Node => ({ name, op: 'Conv', domain: '', inputs: [x, wt], outputs: [y], attrs: { auto_pad: 'SAME_UPPER', strides: [1, 1], group: dw ? m : 1, kernel_shape: dw ? [3, 3] : [1, 1], data_layout: 'NHWC', weight_layout: dw ? '1HWO' : 'OHWI' } });
          g.nodes = [conv('c1', 'X', 'W', 'y1', false), { name: 'p', op: 'PRelu', domain: '', inputs: ['y1', 'S'], outputs: ['p1'], attrs: {} }, conv('c2', 'p1', 'W2', 'Y', true)];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const ex = new Executor(g);
          expect(ex.graph.nodes.filter((n) => n.op === 'Transpose').map((n) => (n.attrs.perm as number[]).join(''))).toEqual(['0312', '0231']);
          // on a kernel, or folded into the conv's epilogue (a slope varying along at most one axis)
          const pn = ex.graph.nodes.find((n) => n.op === 'PRelu')!;
          expect(ex.kernels.has(pn) || ex.fusedInto.has(pn)).toBe(true);
          const x = new Tensor('float32', rnd(h * w * c, seed + 9, -2, 2), [1, h, w, c]);
          const got = ex.run({ X: x });
          const ref = new Executor(g, { backend: 'reference' }).run({ X: x });
          ex.dispose();
          expect(relErr(got.Y!.data as Float32Array, ref.Y!.data as Float32Array)).toBeLessThanOrEqual(1e-5);
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });

  it('leaves graphs without NHWC nodes alone', () => {
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 2, 3, 3] } }];
    g.nodes = [{ name: 'r', op: 'Relu', domain: '', inputs: ['X'], outputs: ['Y'], attrs: {} }];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    expect(nhwcToNchw(g)).toBe(g);
  });
});

const FACE = 'node_modules/@mediapipe/face_detection/face_detection_short_range.tflite';
const HAND = 'node_modules/@mediapipe/hands/hand_landmark_lite.tflite';

describe('layout pass on real TFLite models', () => {
  for (const path of [FACE, HAND]) {
    it(`${path.split('/').pop()}: every conv on a kernel, no NHWC node left, outputs within 1e-5 of the reference`, () => {
      expect(existsSync(path)).toBe(true); // devDependencies
      const g = readModel(new Uint8Array(readFileSync(path)));
      const ex = new Executor(g);
      expect(ex.graph.nodes.filter((n) => n.attrs.data_layout === 'NHWC')).toEqual([]);
      const onRef = [...ex.fallbacks.keys()].filter((n) => ['Conv', 'MaxPool', 'AveragePool', 'Pad', 'Transpose', 'Add', 'GlobalAveragePool'].includes(n.op));
      expect(onRef.map((n) => `${n.op} ${ex.fallbacks.get(n)}`)).toEqual([]);
      const feeds: Record<string, Tensor> = {};
      for (const i of g.inputs) {
        const sh = i.type.shape!.map((d) => (typeof d === 'number' ? d : 1));
        feeds[i.name] = new Tensor('float32', rnd(sh.reduce((a, d) => a * d, 1), 5, 0, 1), sh);
      }
      const got = ex.run(feeds);
      const ref = new Executor(g, { backend: 'reference' }).run(feeds);
      ex.dispose();
      for (const k of Object.keys(ref)) expect(relErr(got[k]!.data as Float32Array, ref[k]!.data as Float32Array)).toBeLessThanOrEqual(1e-5);
    });
  }

  it('person_detection (int8): convs NCHW with TFLite rounding, no per-conv transposes, bit-exact with the reference', () => {
    if (!hasData('tflite/person_detection')) return;
    const g = readModel(new Uint8Array(readFileSync(dataPath('tflite/person_detection/person_detect.tflite'))));
    const ex = new Executor(g);
    const convs = ex.graph.nodes.filter((n) => n.op === 'QLinearConv');
    expect(convs.length).toBe(28);
    // the 13 depthwise convs over more than one channel on the direct depthwise kernel, the rest on the int8 GEMM
    // (the first DEPTHWISE_CONV_2D reads the 1-channel image: a plain conv)
    expect(convs.every((n) => n.attrs.data_layout === undefined && n.attrs.rounding === 'tflite' && ex.kernels.get(n)?.name === ((n.attrs.group ?? 1) !== 1 ? 'qs8_dwconv2d_tflite' : 'qs8_conv2d_tflite'))).toBe(true);
    expect(convs.filter((n) => ex.kernels.get(n)?.name === 'qs8_dwconv2d_tflite').length).toBe(13);
    // Transposes: the input, around the NHWC-only TFLite AVERAGE_POOL_2D (3×3×256, not rewritten yet) and before
    // the final Reshape — none around the 28 convs
    expect(ex.graph.nodes.filter((n) => n.op === 'Transpose').length).toBe(4);
    const x = new Tensor('int8', Int8Array.from({ length: 96 * 96 }, (_, i) => ((i * 7919) % 256) - 128), [1, 96, 96, 1]);
    const got = ex.run({ [g.inputs[0]!.name]: x });
    const ref = new Executor(g, { backend: 'reference' }).run({ [g.inputs[0]!.name]: x });
    ex.dispose();
    for (const k of Object.keys(ref)) expect(Array.from(got[k]!.data as Int8Array)).toEqual(Array.from(ref[k]!.data as Int8Array));
  });
});

// Explicit PAD before a conv (TFLite pads explicitly before stride-2 VALID convs) folds into the conv's pads: exact
// when the pad value is what the conv's own padding reads — 0 for float Conv; for QLinearConv the input zero point
// (TFLite reference_integer_ops/conv.h adds input_offset = −x_zp to every tap inside the image and skips padded taps,
// i.e. a padded tap counts as the code x_zp; PAD of a quantized tensor pads with its zero point).
describe('explicit Pad folded into the following conv', () => {
  it('float and int8 (rounding tflite): folded iff the pad value is 0 / the input zero point and only convs read it; outputs unchanged', () => {
    fc.assert(
      fc.property(
        fc.record({
          int8: fc.boolean(),
          c: fc.integer({ min: 1, max: 4 }),
          m: fc.integer({ min: 1, max: 5 }),
          h: fc.integer({ min: 3, max: 9 }),
          w: fc.integer({ min: 3, max: 9 }),
          k: fc.constantFrom(1, 2, 3),
          s: fc.constantFrom(1, 2),
          dw: fc.boolean(),
          pads: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
          auto: fc.constantFrom('VALID', 'SAME_UPPER'),
          matching: fc.boolean(),
          // who else reads the padded value: nobody, a second conv (folds into both), a Relu (no fold)
          other: fc.constantFrom('none', 'conv', 'relu'),
        }),
        fc.integer(),
        (r, seed) => {
          const [t, l, b, rr] = r.pads;
          const m = r.dw ? r.c : r.m;
          const g = new Graph();
          const dt = r.int8 ? 'int8' : 'float32';
          g.inputs = [{ name: 'X', type: { dtype: dt, shape: [1, r.h, r.w, r.c] } }];
          const zp = r.int8 ? (seed & 15) - 8 : 0;
          const value = r.matching ? zp : zp + 1;
          g.initializers.set('pads', new Tensor('int64', BigInt64Array.from([0, t, l, 0, 0, b, rr, 0], BigInt), [8]));
          g.initializers.set('v', r.int8 ? new Tensor('int8', Int8Array.of(value), []) : new Tensor('float32', Float32Array.of(value), []));
          const wn = m * r.k * r.k * (r.dw ? 1 : r.c);
          const wdims = r.dw ? [1, r.k, r.k, m] : [m, r.k, r.k, r.c];
          const attrs = { auto_pad: r.auto, strides: [r.s, r.s], group: r.dw ? r.c : 1, data_layout: 'NHWC', weight_layout: r.dw ? '1HWO' : 'OHWI', ...(r.int8 ? { rounding: 'tflite' } : {}) };
          g.nodes = [{ name: 'pad', op: 'Pad', domain: '', inputs: ['X', 'pads', 'v'], outputs: ['P'], attrs: { mode: 'constant' } }];
          if (r.int8) {
            const f = (v: number) => new Tensor('float32', Float32Array.of(v), []);
            g.initializers.set('xs', f(0.05));
            g.initializers.set('xz', new Tensor('int8', Int8Array.of(zp), []));
            g.initializers.set('W', new Tensor('int8', Int8Array.from({ length: wn }, (_, i) => ((i * 53 + seed) % 255) - 127), wdims));
            g.initializers.set('ws', f(0.01));
            g.initializers.set('wz', new Tensor('int8', Int8Array.of(0), []));
            g.initializers.set('ys', f(0.1));
            g.initializers.set('yz', new Tensor('int8', Int8Array.of(3), []));
            g.initializers.set('W2', new Tensor('int8', Int8Array.from({ length: wn }, (_, i) => ((i * 31 + seed) % 255) - 127), wdims));
            g.nodes.push({ name: 'conv', op: 'QLinearConv', domain: '', inputs: ['P', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz'], outputs: ['Y'], attrs });
            if (r.other === 'conv') g.nodes.push({ name: 'conv2', op: 'QLinearConv', domain: '', inputs: ['P', 'xs', 'xz', 'W2', 'ws', 'wz', 'ys', 'yz'], outputs: ['Y2'], attrs });
          } else {
            g.initializers.set('W', new Tensor('float32', rnd(wn, seed), wdims));
            g.initializers.set('W2', new Tensor('float32', rnd(wn, seed + 7), wdims));
            g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['P', 'W'], outputs: ['Y'], attrs });
            if (r.other === 'conv') g.nodes.push({ name: 'conv2', op: 'Conv', domain: '', inputs: ['P', 'W2'], outputs: ['Y2'], attrs });
          }
          if (r.other === 'relu') g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['P'], outputs: ['Y2'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: dt } }, ...(r.other === 'none' ? [] : [{ name: 'Y2', type: { dtype: dt } }])];
          const n = r.h * r.w * r.c;
          const x = r.int8 ? new Tensor('int8', Int8Array.from({ length: n }, (_, i) => ((i * 97 + seed) % 256) - 128), [1, r.h, r.w, r.c]) : new Tensor('float32', rnd(n, seed + 1, -2, 2), [1, r.h, r.w, r.c]);
          const ex = new Executor(g);
          const folded = !ex.graph.nodes.some((nd) => nd.op === 'Pad');
          expect(folded).toBe(r.matching && r.other !== 'relu');
          const gotAll = ex.run({ X: x });
          const wantAll = new Executor(g, { backend: 'reference' }).run({ X: x });
          ex.dispose();
          for (const name of g.outputs.map((o) => o.name)) {
            const got = gotAll[name]!;
            const want = wantAll[name]!;
            expect(got.dims).toEqual(want.dims);
            if (r.int8) expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
            else expect(relErr(got.data as Float32Array, want.data as Float32Array)).toBeLessThanOrEqual(1e-5);
          }
        },
      ),
      { numRuns: 120, seed: 13 },
    );
  });
});

// TFLite's RESIZE_* (Resize over NHWC axes 1 and 2) and TRANSPOSE_CONV / Convolution2DTransposeBias (ConvTranspose,
// NHWC data, OHWI weights) stay NCHW between kernels too. ONNX Resize: "axes … If provided, it specifies a subset of
// axes that 'roi', 'scales' and 'sizes' refer to"; ONNX ConvTranspose: W is (C, M/group, kH, kW).
describe('layout pass: Resize and ConvTranspose of NHWC values', () => {
  it('run on the NCHW kernels and match the reference (1e-5 of the output scale)', () => {
    fc.assert(
      fc.property(
        fc.record({ h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 7 }), c: fc.integer({ min: 1, max: 5 }), m: fc.integer({ min: 1, max: 5 }), k: fc.constantFrom(2, 3), s: fc.constantFrom(1, 2), f: fc.constantFrom(2, 3), mode: fc.constantFrom('nearest', 'linear'), full: fc.boolean() }),
        fc.integer(),
        (r, seed) => {
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, r.h, r.w, r.c] } }];
          g.initializers.set('W', new Tensor('float32', rnd(r.c * r.c, seed), [r.c, 1, 1, r.c]));
          g.initializers.set('Wt', new Tensor('float32', rnd(r.m * r.k * r.k * r.c, seed + 1), [r.m, r.k, r.k, r.c]));
          g.initializers.set('Bt', new Tensor('float32', rnd(r.m, seed + 2), [r.m]));
          const oh = (r.h - 1) * r.s + r.k;
          const ow = (r.w - 1) * r.s + r.k;
          const sizes = r.full ? [1n, BigInt(oh * r.f), BigInt(ow * r.f), BigInt(r.m)] : [BigInt(oh * r.f), BigInt(ow * r.f)];
          g.initializers.set('sizes', new Tensor('int64', BigInt64Array.from(sizes), [sizes.length]));
          g.nodes = [
            { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['a'], attrs: { kernel_shape: [1, 1], data_layout: 'NHWC', weight_layout: 'OHWI' } },
            { name: 'up', op: 'ConvTranspose', domain: '', inputs: ['a', 'Wt', 'Bt'], outputs: ['b'], attrs: { kernel_shape: [r.k, r.k], strides: [r.s, r.s], data_layout: 'NHWC', weight_layout: 'OHWI' } },
            { name: 'resize', op: 'Resize', domain: '', inputs: ['b', '', '', 'sizes'], outputs: ['Y'], attrs: { mode: r.mode, ...(r.full ? {} : { axes: [1, 2] }) } },
          ];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const ex = new Executor(g);
          const byOp = (op: string) => ex.graph.nodes.find((n) => n.op === op)!;
          expect(ex.graph.nodes.filter((n) => n.attrs.data_layout === 'NHWC')).toEqual([]);
          expect(ex.kernels.get(byOp('ConvTranspose'))?.name).toBe('f32_conv_transpose_gemm');
          const x = new Tensor('float32', rnd(r.h * r.w * r.c, seed + 3), [1, r.h, r.w, r.c]);
          const got = ex.run({ X: x }).Y as Tensor;
          expect(ex.fallbacks.get(byOp('Resize'))).toBeUndefined();
          ex.dispose();
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y as Tensor;
          expect(got.dims).toEqual(want.dims);
          expect(relErr(got.data as Float32Array, want.data as Float32Array)).toBeLessThanOrEqual(1e-5);
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });
});

// ONNX Slice: "axes: 1-D tensor of axes that starts and ends apply to. Negative value means counting dimensions from
// the back"; steps may be negative. On an NCHW-held value the pass renames the axes (NHWC axis a → NCHW [0, 2, 3, 1][a])
// and keeps the Slice in NCHW: no Transpose around it, outputs as the reference's NHWC run.
describe('layout pass: Slice of NHWC values', () => {
  it('stays NCHW (axes renamed) with no transpose around it and matches the reference', () => {
    fc.assert(
      fc.property(
        fc.record({
          h: fc.integer({ min: 1, max: 6 }),
          w: fc.integer({ min: 1, max: 6 }),
          c: fc.integer({ min: 2, max: 9 }),
          axis: fc.constantFrom(1, 2, 3, -1, -3),
          neg: fc.boolean(),
          i64: fc.boolean(),
          seed: fc.integer(),
        }),
        (r) => {
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, r.h, r.w, r.c] } }];
          g.initializers.set('W', new Tensor('float32', rnd(r.c * r.c, r.seed), [r.c, 1, 1, r.c]));
          const dim = [1, r.h, r.w, r.c][r.axis < 0 ? r.axis + 4 : r.axis]!;
          // a crop of the first half (or a reversed walk with step −1)
          const [st, en, sp] = r.neg ? [dim - 1, -dim - 1, -1] : [0, Math.max(1, dim >> 1), 1];
          const mk = (v: number) => (r.i64 ? new Tensor('int64', BigInt64Array.of(BigInt(v)), [1]) : new Tensor('int32', Int32Array.of(v), [1]));
          g.initializers.set('st', mk(st));
          g.initializers.set('en', mk(en));
          g.initializers.set('ax', mk(r.axis));
          g.initializers.set('sp', mk(sp));
          g.nodes = [
            { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['a'], attrs: { kernel_shape: [1, 1], data_layout: 'NHWC', weight_layout: 'OHWI' } },
            { name: 'slice', op: 'Slice', domain: '', inputs: ['a', 'st', 'en', 'ax', 'sp'], outputs: ['b'], attrs: {} },
            { name: 'relu', op: 'Relu', domain: '', inputs: ['b'], outputs: ['Y'], attrs: {} },
          ];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const ex = new Executor(g);
          const order = ex.graph.nodes.map((n) => n.op);
          // the one Transpose left is the graph input's (before the conv) and the output's (after the Relu)
          expect(order.indexOf('Slice')).toBe(order.indexOf('Conv') + 1);
          expect(order.filter((o) => o === 'Transpose')).toHaveLength(2);
          const x = new Tensor('float32', rnd(r.h * r.w * r.c, r.seed + 1), [1, r.h, r.w, r.c]);
          const got = ex.run({ X: x }).Y as Tensor;
          ex.dispose();
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y as Tensor;
          expect(got.dims).toEqual(want.dims);
          expect(relErr(got.data as Float32Array, want.data as Float32Array)).toBeLessThanOrEqual(1e-5);
        },
      ),
      { numRuns: 60, seed: 14 },
    );
  });
});

// TFLite DEPTH_TO_SPACE (DepthToSpace with data_layout NHWC): depth_to_space.h "out[b, h·bs + i, w·bs + j, c] =
// in[b, h, w, (i·bs + j)·C + c]" — run by the pass as ONNX DCR on the conv's NCHW output, with no transpose between
describe('layout pass: DepthToSpace of NHWC values', () => {
  it('runs DCR on the NCHW form right after the conv and matches the reference (1e-5 of the output scale)', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 6 }), w: fc.integer({ min: 1, max: 9 }), c: fc.integer({ min: 1, max: 4 }), oc: fc.integer({ min: 1, max: 3 }), b: fc.integer({ min: 1, max: 3 }), seed: fc.integer({ min: 0, max: 1000 }) }),
        (r) => {
          const m = r.oc * r.b * r.b;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [r.n, r.h, r.w, r.c] } }];
          g.initializers.set('W', new Tensor('float32', rnd(m * r.c, r.seed), [m, 1, 1, r.c]));
          g.nodes = [
            { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['a'], attrs: { kernel_shape: [1, 1], data_layout: 'NHWC', weight_layout: 'OHWI' } },
            { name: 'd2s', op: 'DepthToSpace', domain: '', inputs: ['a'], outputs: ['b'], attrs: { blocksize: r.b, mode: 'DCR', data_layout: 'NHWC' } },
            { name: 'relu', op: 'Relu', domain: '', inputs: ['b'], outputs: ['Y'], attrs: {} },
          ];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const ex = new Executor(g);
          const nodes = ex.graph.nodes;
          const d2s = nodes.find((n) => n.op === 'DepthToSpace')!;
          expect(d2s.attrs.data_layout).toBeUndefined();
          expect(nodes.find((n) => n.outputs.includes(d2s.inputs[0]!))?.op).toBe('Conv');
          // the Transposes left are the graph input's and the output's
          expect(nodes.filter((n) => n.op === 'Transpose')).toHaveLength(2);
          const x = new Tensor('float32', rnd(r.n * r.h * r.w * r.c, r.seed + 1), [r.n, r.h, r.w, r.c]);
          const got = ex.run({ X: x }).Y as Tensor;
          ex.dispose();
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y as Tensor;
          expect(got.dims).toEqual([r.n, r.h * r.b, r.w * r.b, r.oc]);
          expect(got.dims).toEqual(want.dims);
          expect(relErr(got.data as Float32Array, want.data as Float32Array)).toBeLessThanOrEqual(1e-5);
        },
      ),
      { numRuns: 60, seed: 15 },
    );
  });
});
