import { UnsupportedError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import type { DType } from '../tensor/dtype.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { convGeometry, convOutDims, type Geometry } from '../ir/conv-geometry.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';
import { poolCost } from './cost.js';

/**
 * Pooling: MaxPool (with Indices), AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool.
 * Spatial geometry comes from ir/conv-geometry.ts; loops run on a 3-D view (1-D/2-D padded with leading 1s).
 */

const MAX_SPATIAL = 3;

const POOL_ATTRS = {
  auto_pad: { type: 'string', default: 'NOTSET', oneOf: ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] },
  ceil_mode: { type: 'int', default: 0 },
  dilations: { type: 'ints' },
  kernel_shape: { type: 'ints', required: true },
  pads: { type: 'ints' },
  strides: { type: 'ints' },
} as const;

/** edgeq extension: 'NHWC' puts channels last in X and Y (TFLite import); the loops do the index math. */
const LAYOUT_ATTR = { data_layout: { type: 'string', default: 'NCHW', oneOf: ['NCHW', 'NHWC'] } } as const;

/** X's dims viewed as (N, C, spatial…). */
function nchwView<T>(dims: readonly T[], nhwc: boolean): T[] {
  return nhwc ? [dims[0]!, dims[dims.length - 1]!, ...dims.slice(1, -1)] : [...dims];
}

function to3(v: readonly number[], fill: number): [number, number, number] {
  const r = [...new Array(MAX_SPATIAL - v.length).fill(fill), ...v];
  return [r[0]!, r[1]!, r[2]!];
}

/** Validate X and the window attributes; returns X's type and the output shape (undefined if unknowable). */
function poolShape(ctx: ShapeCtx, dtypes: readonly DType[]): { x: ValueType; shape?: Dim[] } {
  const x = needType(ctx, 0, dtypes, 'X');
  const kernel: number[] = ctx.attrs.kernel_shape;
  const ceil = ctx.attrs.ceil_mode as number;
  if (ceil !== 0 && ceil !== 1) ctx.fail(`ceil_mode must be 0 or 1, got ${ceil}`);
  if (kernel.length === 0) ctx.fail('kernel_shape must not be empty');
  if (kernel.length > MAX_SPATIAL) throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): ${kernel.length}-D pooling is not supported (max ${MAX_SPATIAL})`);
  // pads smaller than the (dilated) window, as onnxruntime requires ("Pad should be smaller than kernel"): a window wholly
  // in the padding pools no input, so a stranger's huge pads only buy huge outputs of -inf / NaN at huge cost
  const pads: number[] | undefined = ctx.attrs.pads;
  const dil: number[] | undefined = ctx.attrs.dilations;
  const reach = kernel.map((k, i) => (k - 1) * (dil?.[i] ?? 1) + 1);
  if (pads && pads.length === 2 * kernel.length && pads.some((p, i) => p >= reach[i % kernel.length]!)) ctx.fail(`pads [${pads.join(',')}] must each be smaller than the window [${reach.join(',')}] (kernel_shape × dilations)`);
  if (!x.shape) {
    // still check the attribute lists against each other
    convGeometry(new Array(kernel.length).fill('?'), kernel, ctx.attrs, ctx.fail);
    return { x };
  }
  if (x.shape.length !== kernel.length + 2) ctx.fail(`X [${x.shape.join(',')}] must have rank ${kernel.length + 2} for kernel_shape [${kernel.join(',')}]`);
  const nhwc = ctx.attrs.data_layout === 'NHWC';
  const v = nchwView(x.shape, nhwc);
  const out = convOutDims(v.slice(2), kernel, ctx.attrs, ctx.fail, { ceilMode: ceil === 1 });
  return { x, shape: nhwc ? [v[0]!, ...out, v[1]!] : [v[0]!, v[1]!, ...out] };
}

function geometryOf(X: Tensor, attrs: Record<string, any>): Geometry {
  return convGeometry(
    nchwView(X.dims, attrs.data_layout === 'NHWC').slice(2),
    attrs.kernel_shape,
    attrs,
    (msg) => {
      throw new UnsupportedError(msg);
    },
    { ceilMode: attrs.ceil_mode === 1 },
  )!;
}

type Mode = 'max' | 'avg' | 'avg_incl' | 'lp';

interface PoolOut {
  y: Float64Array;
  idx?: BigInt64Array;
}

/** Taps k in [k0, k1) ∩ [0, K) of a window at output o whose input position o·s - pad + k·d lies in [lo, hi). */
function tapSpan(o: number, s: number, pad: number, K: number, d: number, lo: number, hi: number): [number, number] {
  const base = o * s - pad;
  return [Math.max(0, Math.ceil((lo - base) / d)), Math.min(K, Math.ceil((hi - base) / d))];
}

/**
 * The window loop. For each output pixel visit the taps in bounds; `max` also records the flat input
 * index of the first maximum (row-major, or column-major spatial part when storageOrder = 1).
 */
function poolLoop(x: ArrayLike<number>, xdims: readonly number[], g: Geometry, mode: Mode, p: number, wantIdx: boolean, storageOrder: number, nhwc = false): PoolOut {
  const dims = nchwView(xdims, nhwc);
  const nc = dims[0]! * dims[1]!;
  const C = dims[1]!;
  const [ID, IH, IW] = to3(dims.slice(2), 1);
  const [KD, KH, KW] = to3(g.kernel, 1);
  const [OD, OH, OW] = to3(g.out, 1);
  const [sD, sH, sW] = to3(g.strides, 1);
  const [dD, dH, dW] = to3(g.dilations, 1);
  const [pD, pH, pW] = to3(g.padBegin, 0);
  const [eD, eH, eW] = to3(g.padEnd, 0);
  const oSp = OD * OH * OW;
  const inSp = ID * IH * IW;
  const y = new Float64Array(sizeOf([nc, oSp], 'pool output'));
  const idx = wantIdx ? new BigInt64Array(y.length) : undefined;
  // count of taps k in [0,K) whose position o·s - pad + k·d lies in [lo, hi)
  const taps = (o: number, s: number, pad: number, K: number, d: number, lo: number, hi: number) => {
    const [k0, k1] = tapSpan(o, s, pad, K, d, lo, hi);
    return Math.max(0, k1 - k0);
  };
  for (let b = 0; b < nc; b++) {
    // element (batch, channel, flat spatial q): NCHW b·inSp + q; NHWC (n·inSp + q)·C + c
    const xo = nhwc ? Math.floor(b / C) * inSp * C + (b % C) : b * inSp;
    const xs = nhwc ? C : 1;
    const yo = nhwc ? Math.floor(b / C) * oSp * C + (b % C) : b * oSp;
    for (let od = 0; od < OD; od++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = mode === 'max' ? -Infinity : 0;
          let best = -1;
          let cnt = 0;
          // only the taps inside the input, in the same ascending order (a huge kernel mostly lies in the padding)
          const [kd0, kd1] = tapSpan(od, sD, pD, KD, dD, 0, ID);
          const [kh0, kh1] = tapSpan(oh, sH, pH, KH, dH, 0, IH);
          const [kw0, kw1] = tapSpan(ow, sW, pW, KW, dW, 0, IW);
          for (let kd = kd0; kd < kd1; kd++) {
            const id = od * sD - pD + kd * dD;
            for (let kh = kh0; kh < kh1; kh++) {
              const ih = oh * sH - pH + kh * dH;
              for (let kw = kw0; kw < kw1; kw++) {
                const iw = ow * sW - pW + kw * dW;
                const off = (id * IH + ih) * IW + iw;
                const v = x[xo + off * xs]!;
                if (mode === 'max') {
                  if (v > acc || best < 0) {
                    acc = v;
                    best = storageOrder === 1 ? id + ih * ID + iw * ID * IH : off;
                  }
                } else if (mode === 'lp') acc += Math.pow(Math.abs(v), p);
                else {
                  acc += v;
                  cnt++;
                }
              }
            }
          }
          const o = yo + ((od * OH + oh) * OW + ow) * xs;
          if (mode === 'avg') y[o] = acc / cnt;
          else if (mode === 'avg_incl') {
            // ONNX count_include_pad=1: padded positions count in the divisor (but not the ceil_mode overhang)
            const n =
              taps(od, sD, pD, KD, dD, -pD, ID + eD) * taps(oh, sH, pH, KH, dH, -pH, IH + eH) * taps(ow, sW, pW, KW, dW, -pW, IW + eW);
            y[o] = acc / n;
          } else if (mode === 'lp') y[o] = Math.pow(acc, 1 / p);
          else {
            y[o] = acc;
            if (idx) idx[o] = BigInt(b * inSp + (best < 0 ? 0 : best));
          }
        }
  }
  return { y, idx };
}

/** Values of X as plain numbers (floats widened; int8/uint8 used directly). */
const numbersOf = (X: Tensor): ArrayLike<number> => (FLOATS.includes(X.type) ? floats(X) : (X.data as ArrayLike<number>));

function outputOf(X: Tensor, dims: number[], y: Float64Array): Tensor {
  if (FLOATS.includes(X.type)) return fromFloats(X.type, dims, X.type === 'float64' ? y : Float32Array.from(y));
  return new Tensor(X.type, X.type === 'int8' ? Int8Array.from(y) : Uint8Array.from(y), dims);
}

defineOp({
  name: 'MaxPool',
  cost: poolCost,
  inputs: [1, 1],
  outputs: [1, 2],
  attrs: { ...POOL_ATTRS, storage_order: { type: 'int', default: 0 }, ...LAYOUT_ATTR },
  doc: 'max over sliding windows; optional Indices output (flat input index of each maximum)',
  inferShape(ctx) {
    const { x, shape } = poolShape(ctx, [...FLOATS, 'int8', 'uint8']);
    const so = ctx.attrs.storage_order as number;
    if (so !== 0 && so !== 1) ctx.fail(`storage_order must be 0 or 1, got ${so}`);
    if (ctx.attrs.data_layout === 'NHWC' && ctx.numOutputs > 1 && ctx.node.outputs[1]) throw new UnsupportedError(`node '${ctx.node.name}' (MaxPool): the Indices output is not supported with data_layout NHWC`);
    const out: ValueType[] = [{ dtype: x.dtype, shape }];
    if (ctx.numOutputs > 1) out.push({ dtype: 'int64', shape });
    return out;
  },
  reference({ inputs, attrs, node }) {
    const X = inputs[0]!;
    const g = geometryOf(X, attrs);
    const wantIdx = node.outputs.length > 1 && node.outputs[1] !== '';
    const nhwc = attrs.data_layout === 'NHWC';
    const r = poolLoop(numbersOf(X), X.dims, g, 'max', 0, wantIdx, attrs.storage_order, nhwc);
    const dims = nhwc ? [X.dims[0]!, ...g.out, X.dims[X.dims.length - 1]!] : [X.dims[0]!, X.dims[1]!, ...g.out];
    const outs = [outputOf(X, dims, r.y)];
    if (node.outputs.length > 1) outs.push(new Tensor('int64', r.idx ?? new BigInt64Array(r.y.length), dims));
    return outs;
  },
});

defineOp({
  name: 'AveragePool',
  cost: poolCost,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { ...POOL_ATTRS, count_include_pad: { type: 'int', default: 0 }, ...LAYOUT_ATTR },
  doc: 'mean over sliding windows (count_include_pad decides whether padding counts)',
  inferShape(ctx) {
    const { x, shape } = poolShape(ctx, FLOATS);
    const c = ctx.attrs.count_include_pad as number;
    if (c !== 0 && c !== 1) ctx.fail(`count_include_pad must be 0 or 1, got ${c}`);
    return [{ dtype: x.dtype, shape }];
  },
  reference({ inputs, attrs }) {
    const X = inputs[0]!;
    const g = geometryOf(X, attrs);
    const nhwc = attrs.data_layout === 'NHWC';
    const r = poolLoop(floats(X), X.dims, g, attrs.count_include_pad ? 'avg_incl' : 'avg', 0, false, 0, nhwc);
    return [outputOf(X, nhwc ? [X.dims[0]!, ...g.out, X.dims[X.dims.length - 1]!] : [X.dims[0]!, X.dims[1]!, ...g.out], r.y)];
  },
});

defineOp({
  name: 'LpPool',
  cost: poolCost,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { ...POOL_ATTRS, p: { type: 'int', default: 2 } },
  doc: 'Lp norm over sliding windows: (Σ|x|^p)^(1/p)',
  inferShape(ctx) {
    const { x, shape } = poolShape(ctx, FLOATS);
    if (!(ctx.attrs.p >= 1)) ctx.fail(`p must be ≥ 1, got ${ctx.attrs.p}`);
    return [{ dtype: x.dtype, shape }];
  },
  reference({ inputs, attrs }) {
    const X = inputs[0]!;
    const g = geometryOf(X, attrs);
    const r = poolLoop(floats(X), X.dims, g, 'lp', attrs.p, false, 0);
    return [outputOf(X, [X.dims[0]!, X.dims[1]!, ...g.out], r.y)];
  },
});

/** Global pools reduce every spatial dim to 1: Y is (N, C, 1, …, 1). */
function defineGlobal(name: string, mode: 'max' | 'avg' | 'lp', attrs: Record<string, any> = {}) {
  defineOp({
    name,
    inputs: [1, 1],
    outputs: [1, 1],
    attrs,
    doc: `${name}: pool over all spatial dims`,
    inferShape(ctx) {
      const x = needType(ctx, 0, FLOATS, 'X');
      if (mode === 'lp' && !(ctx.attrs.p >= 1)) ctx.fail(`p must be ≥ 1, got ${ctx.attrs.p}`);
      if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
      if (x.shape.length < 3) ctx.fail(`X must have rank ≥ 3 (N, C, spatial…), got [${x.shape.join(',')}]`);
      return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)] }];
    },
    reference({ inputs, attrs: a }) {
      const X = inputs[0]!;
      const x = floats(X);
      const nc = X.dims[0]! * X.dims[1]!;
      const sp = X.size / Math.max(1, nc);
      const y = new Float64Array(nc);
      for (let b = 0; b < nc; b++) {
        let acc = mode === 'max' ? -Infinity : 0;
        for (let i = b * sp, e = i + sp; i < e; i++) {
          const v = x[i]!;
          if (mode === 'max') acc = v > acc || v !== v ? v : acc;
          else if (mode === 'lp') acc += Math.pow(Math.abs(v), a.p);
          else acc += v;
        }
        y[b] = mode === 'avg' ? acc / sp : mode === 'lp' ? Math.pow(acc, 1 / a.p) : acc;
      }
      return [outputOf(X, [X.dims[0]!, X.dims[1]!, ...X.dims.slice(2).map(() => 1)], y)];
    },
  });
}

defineGlobal('GlobalAveragePool', 'avg');
defineGlobal('GlobalMaxPool', 'max');
defineGlobal('GlobalLpPool', 'lp', { p: { type: 'int', default: 2 } });
