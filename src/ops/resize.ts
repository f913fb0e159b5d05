import { UnsupportedError } from '../errors.js';
import type { Dim, Node } from '../ir/graph.js';
import { type Attrs, defineOp, type ShapeCtx } from '../ir/registry.js';
import { DTYPES, allocData, isBig, isFloat } from '../tensor/dtype.js';
import { roundHalfToEven } from '../tensor/rounding.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { FLOATS, NUMERIC, floats, fromFloats, needType, runShapeCtx } from './util.js';
import { dim } from './cost.js';

/**
 * Resize (opset 19 form; Resize-10 and Upsample-7/9 are rewritten to it in formats/onnx/legacy/resize.ts).
 * Interpolation is separable (the ONNX reference interpolates N-D as nested 1-D interpolations), so each
 * resized axis is processed in one 1-D pass: O(output size × taps) per pass.
 */

const MODES = ['nearest', 'linear', 'cubic'];
const CTMS = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_crop_and_resize', 'tf_half_pixel_for_nn'];
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

/** Per-axis resize parameters after resolving scales/sizes/axes/keep_aspect_ratio_policy. */
interface AxisPlan {
  outLen: number;
  scale: number;
  roiStart: number;
  roiEnd: number;
  /** per-axis nearest rounding override (Upsample) */
  nearest?: string;
}

/** Constant 1-D input i as numbers; null when omitted or empty ("" or a 0-element tensor), undefined when unknown. */
function optVec(ctx: ShapeCtx, i: number): number[] | null | undefined {
  const t = ctx.inputs[i];
  if (!t) return null;
  if (t.shape && t.shape.length !== 1) ctx.fail(`input ${i} must be 1-D, got rank ${t.shape.length}`);
  if (t.shape && t.shape[0] === 0) return null;
  const v = ctx.value(i);
  if (!v) return undefined;
  return v.size === 0 ? null : v.toNumbers();
}

function resolveAxes(ctx: ShapeCtx, r: number): number[] {
  const axes = ctx.attrs.axes as number[] | undefined;
  if (!axes) return Array.from({ length: r }, (_, i) => i);
  const out: number[] = [];
  for (const a of axes) {
    if (a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
    const n = a < 0 ? a + r : a;
    if (out.includes(n)) ctx.fail(`axes [${axes}] repeat axis ${a}`);
    out.push(n);
  }
  return out;
}

/**
 * Output dims and per-axis parameters. Returns undefined when scales/sizes are not constant or input dims
 * are symbolic (the output shape is then partly unknown).
 */
function plan(ctx: ShapeCtx, inShape: readonly Dim[]): { dims: Dim[]; axes: AxisPlan[] } | undefined {
  const a = ctx.attrs;
  const r = inShape.length;
  const axes = resolveAxes(ctx, r);
  const n = axes.length;
  const scales = optVec(ctx, 2);
  const sizes = optVec(ctx, 3);
  const roi = optVec(ctx, 1);
  const scalesT = ctx.inputs[2];
  const sizesT = ctx.inputs[3];
  const scalesGiven = scalesT && !(scalesT.shape && scalesT.shape[0] === 0) && scales !== null;
  const sizesGiven = sizesT && !(sizesT.shape && sizesT.shape[0] === 0) && sizes !== null;
  // ONNX: "Only one of 'scales' and 'sizes' can be specified."
  if (scalesGiven && sizesGiven) ctx.fail('only one of scales and sizes may be given');
  if (!scalesGiven && !sizesGiven) ctx.fail('one of scales or sizes must be given');
  if (scales && scales.length !== n) ctx.fail(`scales must have ${n} elements, got ${scales.length}`);
  if (sizes && sizes.length !== n) ctx.fail(`sizes must have ${n} elements, got ${sizes.length}`);
  if (scales && scales.some((s) => !(s > 0) || !Number.isFinite(s))) ctx.fail(`scales must be positive, got [${scales}]`);
  if (sizes && sizes.some((s) => !(s > 0))) ctx.fail(`sizes must be positive, got [${sizes}]`);
  if (a.coordinate_transformation_mode === 'tf_crop_and_resize') {
    if (roi === undefined && ctx.inputs[1]?.shape?.[0] !== undefined && ctx.inputs[1]!.shape![0] !== 2 * n)
      ctx.fail(`roi must have ${2 * n} elements`);
    if (roi && roi.length !== 2 * n) ctx.fail(`roi must have ${2 * n} elements, got ${roi.length}`);
  }
  if (scales === undefined || sizes === undefined) return undefined;
  if (a.coordinate_transformation_mode === 'tf_crop_and_resize' && roi === undefined) return undefined;
  const inputs = axes.map((ax) => inShape[ax]!);
  const dims = [...inShape];
  const out: AxisPlan[] = inShape.map((d) => ({ outLen: typeof d === 'number' ? d : -1, scale: 1, roiStart: 0, roiEnd: 1 }));
  axes.forEach((ax, i) => {
    if (roi) {
      out[ax]!.roiStart = roi[i]!;
      out[ax]!.roiEnd = roi[n + i]!;
    }
  });
  if (inputs.some((d) => typeof d !== 'number')) {
    // symbolic resized dims: known only for scale 1 (unchanged) or stretch sizes; the plan is shape-only
    const fresh = (ax: number): Dim => `${ctx.node.name}:out${ax}`;
    axes.forEach((ax, i) => {
      if (scales) dims[ax] = scales[i] === 1 && a.coordinate_transformation_mode !== 'tf_crop_and_resize' ? inShape[ax]! : fresh(ax);
      else dims[ax] = a.keep_aspect_ratio_policy === 'stretch' ? sizes![i]! : fresh(ax);
    });
    return { dims, axes: [] };
  }
  const ins = inputs as number[];
  if (scales) {
    // ONNX: "output_dimension = floor(input_dimension * (roi_end - roi_start) * scale)" (roi only for tf_crop_and_resize)
    axes.forEach((ax, i) => {
      const crop = a.coordinate_transformation_mode === 'tf_crop_and_resize' ? out[ax]!.roiEnd - out[ax]!.roiStart : 1;
      const len = Math.floor(ins[i]! * crop * scales[i]!);
      out[ax]!.outLen = len;
      out[ax]!.scale = scales[i]!;
      dims[ax] = len;
    });
  } else {
    const sz = sizes!;
    const policy = a.keep_aspect_ratio_policy as string;
    if (policy === 'stretch') {
      axes.forEach((ax, i) => {
        out[ax]!.outLen = sz[i]!;
        out[ax]!.scale = sz[i]! / ins[i]!;
        dims[ax] = sz[i]!;
      });
    } else {
      // ONNX: not_larger: scale = min(sizes[i] / in[i]); not_smaller: max; out = round(scale * in) (half up)
      const ratios = axes.map((_, i) => sz[i]! / ins[i]!);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((ax, i) => {
        const len = Math.floor(s * ins[i]! + 0.5);
        out[ax]!.outLen = len;
        out[ax]!.scale = s;
        dims[ax] = len;
      });
    }
  }
  for (const ax of axes) sizeOf([out[ax]!.outLen], 'Resize output');
  return { dims, axes: out };
}

function validate(ctx: ShapeCtx) {
  const a = ctx.attrs;
  if (a.mode === 'cubic' && !Number.isFinite(a.cubic_coeff_a)) ctx.fail('cubic_coeff_a must be finite');
}

defineOp({
  name: 'Resize',
  cost: ({ attrs, inputs: [x], outputs: [y] }) => {
    // separable passes, one per resized axis, each over at most ∏ max(in, out) elements with 1 (nearest), 2 (linear)
    // or 4 (cubic) taps, antialias widening them by the downscale factor
    const taps = attrs.mode === 'cubic' ? 4 : attrs.mode === 'linear' ? 2 : 1;
    let big = 1;
    let sum = 0;
    y?.forEach((o, d) => {
      const i = dim(x, d);
      big *= Math.max(i, o);
      if (i !== o) sum += taps * (attrs.antialias && o ? Math.max(1, i / o) : 1);
    });
    return y ? big * sum : NaN;
  },
  commutes: 'resize',
  inputs: [1, 4],
  outputs: [1, 1],
  attrs: {
    antialias: { type: 'int', default: 0, oneOf: [0, 1] },
    axes: { type: 'ints', required: false },
    coordinate_transformation_mode: { type: 'string', default: 'half_pixel', oneOf: CTMS },
    cubic_coeff_a: { type: 'float', default: -0.75 },
    exclude_outside: { type: 'int', default: 0, oneOf: [0, 1] },
    extrapolation_value: { type: 'float', default: 0 },
    keep_aspect_ratio_policy: { type: 'string', default: 'stretch', oneOf: ['stretch', 'not_larger', 'not_smaller'] },
    mode: { type: 'string', default: 'nearest', oneOf: MODES },
    nearest_mode: { type: 'string', default: 'round_prefer_floor', oneOf: NEAREST },
  },
  inferShape(ctx) {
    const x = needType(ctx, 0, ctx.attrs.mode === 'nearest' ? [...NUMERIC, 'bool', 'string'] : NUMERIC, 'X');
    if (ctx.inputs[1]) needType(ctx, 1, FLOATS, 'roi');
    if (ctx.inputs[2]) needType(ctx, 2, ['float32'], 'scales');
    if (ctx.inputs[3]) needType(ctx, 3, ['int64'], 'sizes');
    validate(ctx);
    if (!x.shape) return [{ dtype: x.dtype }];
    const p = plan(ctx, x.shape);
    if (!p) {
      // rank is known; resized dims are not
      const axes = resolveAxes(ctx, x.shape.length);
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (axes.includes(i) ? `${ctx.node.name}:out${i}` : d)) }];
    }
    return [{ dtype: x.dtype, shape: p.dims }];
  },
  reference({ node, inputs, attrs, outputTypes }) {
    const x = inputs[0]!;
    return [resize(x, runPlan(node, attrs, inputs), attrs, outputTypes[0]!.shape as number[])];
  },
});

/** The per-axis plan of a Resize for concrete inputs (already validated by inferShape). */
function runPlan(node: Node, attrs: Attrs, inputs: readonly (Tensor | undefined)[]): AxisPlan[] {
  return plan(runShapeCtx(node, attrs, inputs, UnsupportedError), inputs[0]!.dims)!.axes;
}

/** Output length and scale of each axis of a Resize for these concrete inputs (the scale given, or sizes / input). */
export function resizeAxisPlans(node: Node, attrs: Attrs, inputs: readonly (Tensor | undefined)[]): readonly { outLen: number; scale: number }[] {
  return runPlan(node, attrs, inputs);
}

/**
 * What the reference does along each axis of a Resize for these concrete inputs, for kernels that gather with
 * tables: `null` for an axis it leaves as is, else per output index the input indices (edge-clamped) and weights
 * it combines (one tap for nearest, two for linear …), or `extrapolate` (tf_crop_and_resize outside the roi).
 */
export function resizeAxisTaps(node: Node, attrs: Attrs, inputs: readonly (Tensor | undefined)[]): ({ idx: Int32Array; w: Float64Array; extrapolate: boolean }[] | null)[] {
  const x = inputs[0]!;
  const axes = runPlan(node, attrs, inputs);
  const ctm = attrs.coordinate_transformation_mode;
  return x.dims.map((inLen, ax) => {
    const p = axes[ax]!;
    if (p.outLen === inLen && p.scale === 1 && ctm !== 'tf_crop_and_resize') return null; // as resize() skips it
    return axisTaps(inLen, p, attrs);
  });
}

/** Interpolation taps for one output coordinate: input indices and weights, or extrapolate. */
interface Taps {
  idx: Int32Array;
  w: Float64Array;
  extrapolate: boolean;
}

function cubicCoeffs(ratio: number, A: number): number[] {
  const r1 = ratio + 1;
  const q = 1 - ratio;
  const q1 = q + 1;
  return [((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A, ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1, ((A + 2) * q - (A + 3)) * q * q + 1, ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A];
}

function cubicAntialias(ratio: number, scale: number, A: number): number[] {
  const s = Math.min(scale, 1);
  const k = (x: number) => {
    x = Math.abs(x);
    const x2 = x * x;
    const x3 = x * x2;
    if (x <= 1) return (A + 2) * x3 - (A + 3) * x2 + 1;
    if (x < 2) return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A;
    return 0;
  };
  const start = Math.floor(-2 / s) + 1;
  const end = 2 - start;
  const c: number[] = [];
  for (let i = start; i < end; i++) c.push(k(s * (i - ratio)));
  const sum = c.reduce((p, v) => p + v, 0);
  return c.map((v) => v / sum);
}

function linearAntialias(ratio: number, scale: number): number[] {
  const s = Math.min(scale, 1);
  const start = Math.floor(-1 / s) + 1;
  const footprint = 2 - 2 * start;
  const c: number[] = [];
  for (let i = start; i < start + footprint; i++) c.push(Math.min(1, Math.max(0, 1 - Math.abs((i - ratio) * s))));
  const sum = c.reduce((p, v) => p + v, 0);
  return c.map((v) => v / sum);
}

function nearestCoeffs(ratio: number, integer: boolean, mode: string): number[] {
  if (integer) return [0, 1];
  switch (mode) {
    case 'round_prefer_floor':
      return ratio <= 0.5 ? [1, 0] : [0, 1];
    case 'round_prefer_ceil':
      return ratio < 0.5 ? [1, 0] : [0, 1];
    case 'floor':
      return [1, 0];
    default:
      return [0, 1];
  }
}

/** Source coordinate of output index x along an axis (ONNX coordinate_transformation_mode). */
function sourceCoord(x: number, inLen: number, p: AxisPlan, ctm: string): number {
  const scale = p.scale;
  const outW = scale * inLen; // the reference uses the unrounded output length here
  switch (ctm) {
    case 'align_corners':
      return outW === 1 ? 0 : (x * (inLen - 1)) / (outW - 1);
    case 'asymmetric':
      return x / scale;
    case 'tf_crop_and_resize': {
      const x0 = outW === 1 ? ((p.roiEnd - p.roiStart) * (inLen - 1)) / 2 : (x * (p.roiEnd - p.roiStart) * (inLen - 1)) / (outW - 1);
      return x0 + p.roiStart * (inLen - 1);
    }
    case 'pytorch_half_pixel':
      return outW === 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      // ONNX: adjustment = output_width_int / output_width; offset = in/2 * (1 - adjustment)
      const adj = p.outLen / outW;
      const offset = (inLen / 2) * (1 - adj);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case 'tf_half_pixel_for_nn':
      return (x + 0.5) / scale;
    default:
      return (x + 0.5) / scale - 0.5;
  }
}

/**
 * An axis's interpolation taps, flat: output index j combines input indices idx[j·n … j·n + n) with weights w (n taps
 * per index: 1 for nearest, which keeps only the selected one, 2 for linear, 4+ for cubic / antialias), or takes the
 * extrapolation value where extrapolate[j]. Flat typed arrays, not an object per index: an axis resized to a million
 * indices (a stranger's `sizes`) made a million small arrays, and their allocation and GC were 2.6 of 3.2 s.
 */
interface FlatTaps {
  n: number;
  idx: Int32Array;
  w: Float64Array;
  extrapolate: Uint8Array;
}

function axisTapsFlat(inLen: number, p: AxisPlan, attrs: Attrs): FlatTaps {
  // an empty axis has no taps: its scale may be below 1 / inLen (a stranger's 1e-40), and an antialias filter spans
  // 1 / scale input pixels — building that one filter ran out of memory (fuzzer, seed 17 case 950)
  if (!p.outLen) return { n: 0, idx: new Int32Array(0), w: new Float64Array(0), extrapolate: new Uint8Array(0) };
  const ctm = attrs.coordinate_transformation_mode as string;
  const mode = attrs.mode as string;
  const A = attrs.cubic_coeff_a as number;
  const aa = attrs.antialias === 1;
  const coeffs = (ratio: number, integer: boolean): number[] => {
    if (mode === 'nearest') return nearestCoeffs(ratio, integer, p.nearest ?? (attrs.nearest_mode as string));
    if (mode === 'linear') return aa ? linearAntialias(ratio, p.scale) : [1 - ratio, ratio];
    return aa ? cubicAntialias(ratio, p.scale, A) : cubicCoeffs(ratio, A);
  };
  // taps per index: the coefficient count (fixed per axis: it depends on the mode and the scale only)
  const nc = coeffs(0.5, false).length;
  const n = mode === 'nearest' ? 1 : nc;
  const idx = new Int32Array(p.outLen * n);
  const w = new Float64Array(p.outLen * n);
  const extrapolate = new Uint8Array(p.outLen);
  const ti = new Int32Array(nc);
  const tw = new Float64Array(nc);
  for (let x = 0; x < p.outLen; x++) {
    const xo = sourceCoord(x, inLen, p, ctm);
    // ONNX tf_crop_and_resize: "if x_original is outside [0, length_original - 1], use extrapolation_value"
    if (ctm === 'tf_crop_and_resize' && (xo < 0 || xo > inLen - 1)) {
      extrapolate[x] = 1;
      continue;
    }
    const integer = Number.isInteger(xo);
    // ratio in (0, 1]: the reference prefers the pixel left of x_original
    const ratio = integer ? 1 : xo - Math.floor(xo);
    const c = coeffs(ratio, integer);
    const base = Math.ceil(xo) - 1; // nearest nc indices are base-nc/2+1 … base+nc/2
    const first = base - nc / 2 + 1;
    let sum = 0;
    for (let k = 0; k < nc; k++) {
      const i = first + k;
      let wk = c[k]!;
      if (attrs.exclude_outside === 1 && (i < 0 || i >= inLen)) wk = 0;
      ti[k] = Math.min(inLen - 1, Math.max(0, i)); // edge padding
      tw[k] = wk;
      sum += wk;
    }
    if (attrs.exclude_outside === 1 && sum !== 0) for (let k = 0; k < nc; k++) tw[k]! /= sum;
    if (mode === 'nearest') {
      // keep only the selected tap (exact copy, any dtype)
      idx[x] = ti[tw[0] ? 0 : 1]!;
      w[x] = 1;
    } else {
      idx.set(ti, x * n);
      w.set(tw, x * n);
    }
  }
  return { n, idx, w, extrapolate };
}

function axisTaps(inLen: number, p: AxisPlan, attrs: Attrs): Taps[] {
  const f = axisTapsFlat(inLen, p, attrs);
  return Array.from({ length: p.outLen }, (_, j) =>
    f.extrapolate[j] ? { idx: new Int32Array(0), w: new Float64Array(0), extrapolate: true } : { idx: f.idx.slice(j * f.n, (j + 1) * f.n), w: f.w.slice(j * f.n, (j + 1) * f.n), extrapolate: false },
  );
}

/**
 * Linear and cubic as separable 1-D passes in float64 (the ONNX reference interpolates N-D as nested 1-D
 * interpolations); nearest is one gather over all axes (resizeNearest).
 */
function resize(x: Tensor, axes: AxisPlan[], attrs: Attrs, outDims: number[]): Tensor {
  if (attrs.mode === 'nearest') return resizeNearest(x, axes, attrs, outDims);
  let dims = [...x.dims];
  const ctm = attrs.coordinate_transformation_mode;
  let cur: Float64Array | Float32Array | ArrayLike<number> = isFloat(x.type) ? floats(x) : isBig(x.type) ? Float64Array.from(x.data as BigInt64Array, Number) : (x.data as ArrayLike<number>);
  const ev = attrs.extrapolation_value as number;
  for (let ax = 0; ax < dims.length; ax++) {
    const p = axes[ax]!;
    const inLen = dims[ax]!;
    if (p.outLen === inLen && p.scale === 1 && ctm !== 'tf_crop_and_resize') continue;
    const { n, idx, w, extrapolate } = axisTapsFlat(inLen, p, attrs);
    const outer = dims.slice(0, ax).reduce((q, d) => q * d, 1);
    const inner = dims.slice(ax + 1).reduce((q, d) => q * d, 1);
    const nd = dims.map((d, i) => (i === ax ? p.outLen : d));
    const next = new Float64Array(sizeOf(nd));
    let q = 0;
    for (let o = 0; o < outer; o++) {
      const ob = o * inLen * inner;
      for (let j = 0; j < p.outLen; j++) {
        if (extrapolate[j]) {
          for (let i = 0; i < inner; i++) next[q++] = ev;
          continue;
        }
        const t0 = j * n;
        for (let i = 0; i < inner; i++) {
          let acc = 0;
          for (let k = 0; k < n; k++) acc += w[t0 + k]! * cur[ob + idx[t0 + k]! * inner + i]!;
          next[q++] = acc;
        }
      }
    }
    cur = next;
    dims = nd;
  }
  if (isFloat(x.type)) return fromFloats(x.type, outDims, x.type === 'float64' ? Float64Array.from(cur) : Float32Array.from(cur));
  // integer outputs: round to nearest and saturate to the type's range
  const out = allocData(x.type, sizeOf(outDims)) as any;
  const info = DTYPES[x.type];
  for (let i = 0; i < out.length; i++) {
    const v = Math.min(info.max!, Math.max(info.min!, Math.round(cur[i]!)));
    out[i] = isBig(x.type) ? BigInt(v) : v;
  }
  return new Tensor(x.type, out, outDims);
}

/**
 * Nearest: every output element is one input element (or the extrapolation value), so all axes resolve in one gather
 * over the output — per axis a table of source offsets (input index × input stride, −1 to extrapolate), the innermost
 * axis in a tight loop, rows of an axis left as is copied as blocks. No intermediate tensor per resized axis: those
 * were a 16M, 33M and 67M-element array for a [1,1,4,4] → [1,1M,8,8] Resize, and their allocation and GC most of its
 * time. Exact for every dtype (raw element copies).
 */
function resizeNearest(x: Tensor, axes: AxisPlan[], attrs: Attrs, outDims: number[]): Tensor {
  const r = x.dims.length;
  const src: any = x.data;
  const out: any = allocData(x.type, sizeOf(outDims));
  if (r === 0) {
    out[0] = src[0];
    return new Tensor(x.type, out, outDims);
  }
  const ctm = attrs.coordinate_transformation_mode;
  const offs: Float64Array[] = [];
  /** axes left as is (offset table is the identity × stride) */
  const plain: boolean[] = [];
  let stride = 1;
  for (let ax = r - 1; ax >= 0; ax--) {
    const p = axes[ax]!;
    const inLen = x.dims[ax]!;
    const t = new Float64Array(outDims[ax]!);
    const keep = p.outLen === inLen && p.scale === 1 && ctm !== 'tf_crop_and_resize';
    if (keep) for (let j = 0; j < t.length; j++) t[j] = j * stride;
    else {
      const f = axisTapsFlat(inLen, p, attrs);
      for (let j = 0; j < t.length; j++) t[j] = f.extrapolate[j] ? -1 : f.idx[j]! * stride;
    }
    offs[ax] = t;
    plain[ax] = keep;
    stride *= inLen;
  }
  const ev = extrapolated(x, attrs.extrapolation_value as number);
  const last = offs[r - 1]!;
  const L = outDims[r - 1]!;
  const block = plain[r - 1] && L >= 16 && !Array.isArray(src);
  let q = 0;
  const row = (k: number, base: number): void => {
    if (k === r - 1) {
      if (base < 0) for (let j = 0; j < L; j++) out[q++] = ev;
      else if (block) {
        out.set(src.subarray(base, base + L), q);
        q += L;
      } else
        for (let j = 0; j < L; j++) {
          const o = last[j]!;
          out[q++] = o < 0 ? ev : src[base + o];
        }
      return;
    }
    const t = offs[k]!;
    for (let j = 0; j < t.length; j++) row(k + 1, base < 0 || t[j]! < 0 ? -1 : base + t[j]!);
  };
  if (out.length) row(0, 0);
  return new Tensor(x.type, out, outDims);
}

/** extrapolation_value in the element representation of x (nearest mode copies raw elements). */
function extrapolated(x: Tensor, v: number): any {
  if (x.type === 'float16') return fromFloats('float16', [1], Float32Array.of(v)).data[0];
  if (isBig(x.type)) return BigInt(Math.trunc(v));
  if (x.type === 'string') return '';
  return v;
}

// ---------------------------------------------------------------------------------------------------
/**
 * Upsample-9 (also Resize-10, renamed on import): X, scales; "output_dimension = floor(input_dimension * scale)",
 * asymmetric coordinates. Nearest rounding follows onnxruntime's opset ≤ 10 rule: floor when an axis is
 * upsampled (the ONNX example: np.repeat), ceil when it is downsampled.
 */
defineOp({
  name: 'Upsample',
  inputs: [1, 2],
  outputs: [1, 1],
  attrs: { mode: { type: 'string', default: 'nearest', oneOf: ['nearest', 'linear', 'bilinear'] } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ctx.attrs.mode === 'nearest' ? [...NUMERIC, 'bool', 'string'] : NUMERIC, 'X');
    const st = ctx.inputs[1];
    if (!st) ctx.fail('scales input is missing');
    needType(ctx, 1, ['float32'], 'scales');
    if (st!.shape && st!.shape.length !== 1) ctx.fail(`scales must be 1-D, got rank ${st!.shape.length}`);
    if (!x.shape) return [{ dtype: x.dtype }];
    const r = x.shape.length;
    if (st!.shape && typeof st!.shape[0] === 'number' && st!.shape[0] !== r) ctx.fail(`scales must have ${r} elements, got ${st!.shape[0]}`);
    const v = ctx.value(1);
    if (!v) return [{ dtype: x.dtype, shape: x.shape.map((_, i) => `${ctx.node.name}:out${i}`) }];
    const s = v.toNumbers();
    if (s.some((a) => !(a > 0) || !Number.isFinite(a))) ctx.fail(`scales must be positive, got [${s}]`);
    const dims = x.shape.map((d, i) => (typeof d === 'number' ? Math.floor(d * s[i]!) : s[i] === 1 ? d : `${ctx.node.name}:out${i}`));
    for (const d of dims) if (typeof d === 'number') sizeOf([d], 'Upsample output');
    return [{ dtype: x.dtype, shape: dims }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const x = inputs[0]!;
    const s = inputs[1]!.toNumbers();
    const axes: AxisPlan[] = x.dims.map((d, i) => ({ outLen: Math.floor(d * s[i]!), scale: s[i]!, roiStart: 0, roiEnd: 1, nearest: s[i]! < 1 ? 'ceil' : 'floor' }));
    const mode = attrs.mode === 'nearest' ? 'nearest' : 'linear';
    const ra: Attrs = { mode, coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor', cubic_coeff_a: -0.75, exclude_outside: 0, extrapolation_value: 0, antialias: 0 };
    return [resize(x, axes, ra, outputTypes[0]!.shape as number[])];
  },
});

// ---------------------------------------------------------------------------------------------------------
// GridSample (opset 16 2-D, opset 20+ N-D)
// ---------------------------------------------------------------------------------------------------------

/** Keys cubic convolution weights (A = -0.75) for the four taps around a fractional offset t ∈ [0, 1). */
function cubicWeights(t: number): number[] {
  const A = -0.75;
  const w = (x: number) => {
    x = Math.abs(x);
    if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

/** Reflect x into [lo, hi] by the nearer border, repeatedly (ONNX GridSample reference `_gs_reflect`). */
function reflect(x: number, lo: number, hi: number): number {
  const rng = hi - lo;
  if (x < lo) {
    const dx = lo - x;
    const n = Math.trunc(dx / rng);
    const r = dx - n * rng;
    return n % 2 === 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const dx = x - hi;
    const n = Math.trunc(dx / rng);
    const r = dx - n * rng;
    return n % 2 === 0 ? hi - r : lo + r;
  }
  return x;
}

// ONNX GridSample: "Given an input X and a flow-field grid, computes the output Y using X values and pixel
// locations from the grid ... grid[..., 0] is the x (innermost, W) coordinate, normalized to [-1, 1] ...
// align_corners=1: -1 and 1 are the centers of the corner pixels; 0: their outer edges ... padding_mode zeros /
// border (clamp) / reflection for locations outside the input"
defineOp({
  name: 'GridSample',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {
    align_corners: { type: 'int', default: 0 },
    mode: { type: 'string', default: 'linear', oneOf: ['linear', 'nearest', 'cubic', 'bilinear', 'bicubic'] },
    padding_mode: { type: 'string', default: 'zeros', oneOf: ['zeros', 'border', 'reflection'] },
  },
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    const g = needType(ctx, 1, FLOATS, 'grid');
    if (!x.shape || !g.shape) return [{ dtype: x.dtype }];
    const r = x.shape.length - 2;
    if (r < 1) ctx.fail(`X must have rank ≥ 3 (N, C, spatial…), got ${x.shape.length}`);
    if (g.shape.length !== r + 2) ctx.fail(`grid must have rank ${r + 2} (N, spatial out…, ${r}), got ${g.shape.length}`);
    const last = g.shape[r + 1]!;
    if (typeof last === 'number' && last !== r) ctx.fail(`grid's last dim must be ${r} (one coordinate per spatial dim), got ${last}`);
    if (typeof x.shape[0] === 'number' && typeof g.shape[0] === 'number' && x.shape[0] !== g.shape[0]) ctx.fail(`X batch ${x.shape[0]} differs from grid batch ${g.shape[0]}`);
    const mode = ctx.attrs.mode as string;
    if ((mode === 'cubic' || mode === 'bicubic') && r !== 2) throw new UnsupportedError(`node '${ctx.node.name}' (GridSample): cubic mode is defined for 2-D inputs only`);
    return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...g.shape.slice(1, r + 1)] }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [X, G] = inputs as [Tensor, Tensor];
    const xv = floats(X);
    const gv = floats(G);
    const N = X.dims[0]!;
    const C = X.dims[1]!;
    const dims = X.dims.slice(2);
    const r = dims.length;
    const outSp = G.dims.slice(1, r + 1);
    const P = outSp.reduce((a, b) => a * b, 1);
    const inSize = dims.reduce((a, b) => a * b, 1);
    const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
    const mode = attrs.mode === 'bilinear' ? 'linear' : attrs.mode === 'bicubic' ? 'cubic' : (attrs.mode as string);
    const pad = attrs.padding_mode as string;
    const ac = attrs.align_corners !== 0;
    const lo = dims.map(() => (ac ? 0 : -0.5));
    const hi = dims.map((d) => (ac ? d - 1 : d - 0.5));
    /** input index along dim i for integer position p (-1: a zero of padding_mode=zeros) */
    const at = (i: number, p: number): number => {
      const d = dims[i]!;
      if (pad === 'zeros') return p >= 0 && p < d ? p : -1;
      if (pad === 'border') return Math.min(Math.max(p, 0), d - 1);
      return Math.trunc(reflect(p, lo[i]!, hi[i]!));
    };
    const Y = new Float64Array(N * C * P);
    const coord = new Float64Array(r);
    const taps: { idx: number[]; w: number[] }[] = Array.from({ length: r }, () => ({ idx: [], w: [] }));
    for (let n = 0; n < N; n++)
      for (let p = 0; p < P; p++) {
        for (let i = 0; i < r; i++) {
          // grid's last axis holds (x, y, z…): the innermost spatial dim first
          const g = gv[(n * P + p) * r + (r - 1 - i)]!;
          const d = dims[i]!;
          let x = Math.fround(ac ? ((g + 1) / 2) * (d - 1) : ((g + 1) * d - 1) / 2);
          if (mode === 'nearest') x = roundHalfToEven(x); // nearbyint, as the ONNX tests expect in 2-D and 3-D
          if (x < lo[i]! || x > hi[i]!) {
            if (pad === 'border') x = Math.min(Math.max(x, 0), d - 1);
            else if (pad === 'reflection') x = reflect(x, lo[i]!, hi[i]!);
          }
          coord[i] = x;
          const t = taps[i]!;
          if (mode === 'nearest') {
            t.idx = [at(i, Math.trunc(x))];
            t.w = [1];
          } else if (mode === 'linear') {
            const x0 = Math.floor(x);
            t.idx = [at(i, x0), at(i, x0 + 1)];
            t.w = [1 - (x - x0), x - x0];
          } else {
            const x0 = Math.floor(x);
            t.idx = [at(i, x0 - 1), at(i, x0), at(i, x0 + 1), at(i, x0 + 2)];
            t.w = cubicWeights(x - x0);
          }
        }
        // tensor product of the per-dim taps
        const k = new Array<number>(r).fill(0);
        for (let c = 0; c < C; c++) {
          const base = (n * C + c) * inSize;
          let acc = 0;
          k.fill(0);
          for (;;) {
            let w = 1;
            let off = 0;
            for (let i = 0; i < r; i++) {
              const ix = taps[i]!.idx[k[i]!]!;
              if (ix < 0) {
                w = 0;
                break;
              }
              w *= taps[i]!.w[k[i]!]!;
              off += ix * strides[i]!;
            }
            if (w !== 0) acc += w * xv[base + off]!;
            let j = r - 1;
            while (j >= 0 && ++k[j]! === taps[j]!.idx.length) k[j--] = 0;
            if (j < 0) break;
          }
          Y[(n * C + c) * P + p] = acc;
        }
      }
    return [fromFloats(outputTypes[0]!.dtype, [N, C, ...outSp], Y)];
  },
});


// ONNX AffineGrid (opset 20): "Generates a 2D or 3D flow field (sampling grid), given a batch of affine matrices
// theta ... size (N, C, H, W) / (N, C, D, H, W) ... grid (N, H, W, 2) / (N, D, H, W, 3)"; base coordinates are
// linspace(-1, 1) over pixel centers (align_corners=0) or over corner pixels (align_corners=1), grid = theta·[x, y, (z,) 1]
defineOp({
  name: 'AffineGrid',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { align_corners: { type: 'int', default: 0 } },
  inferShape(ctx) {
    const th = needType(ctx, 0, FLOATS, 'theta');
    needType(ctx, 1, ['int64'], 'size');
    const sv = ctx.value(1);
    if (th.shape && (th.shape.length !== 3 || !((th.shape[1] === 2 && th.shape[2] === 3) || (th.shape[1] === 3 && th.shape[2] === 4) || typeof th.shape[1] === 'string')))
      ctx.fail(`theta must be [N, 2, 3] or [N, 3, 4], got [${th.shape.join(',')}]`);
    if (!sv) return [{ dtype: th.dtype }];
    const s = sv.toNumbers();
    if (s.length !== 4 && s.length !== 5) ctx.fail(`size must have 4 or 5 values, got ${s.length}`);
    if (s.some((d) => !Number.isInteger(d) || d < 0)) ctx.fail(`size [${s.join(',')}] must be non-negative`);
    const r = s.length - 2;
    if (th.shape && typeof th.shape[1] === 'number' && th.shape[1] !== r) ctx.fail(`theta is for ${th.shape[1]}-D grids, size is ${r}-D`);
    const out = [s[0]!, ...s.slice(2), r];
    try {
      sizeOf(out);
    } catch (e) {
      ctx.fail((e as Error).message);
    }
    return [{ dtype: th.dtype, shape: out }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const th = floats(inputs[0]!);
    const s = inputs[1]!.toNumbers();
    const N = s[0]!;
    const sp = s.slice(2); // (H, W) or (D, H, W)
    const r = sp.length;
    const ac = attrs.align_corners !== 0;
    const base = (n: number, i: number) => (ac ? (n <= 1 ? 0 : -1 + (2 * i) / (n - 1)) : (2 * i + 1) / n - 1);
    const P = sp.reduce((a, b) => a * b, 1);
    const y = new Float64Array(N * P * r);
    const idx = new Array<number>(r).fill(0);
    for (let n = 0; n < N; n++) {
      idx.fill(0);
      for (let p = 0; p < P; p++) {
        // homogeneous coordinate (x, y, [z], 1): x along the last (W) dim
        const c = idx.map((i, d) => base(sp[d]!, i)).reverse();
        c.push(1);
        for (let row = 0; row < r; row++) {
          let acc = 0;
          for (let k = 0; k <= r; k++) acc += th[(n * r + row) * (r + 1) + k]! * c[k]!;
          y[(n * P + p) * r + row] = acc;
        }
        for (let d = r - 1; d >= 0 && ++idx[d]! === sp[d]!; d--) idx[d] = 0;
      }
    }
    return [fromFloats(outputTypes[0]!.dtype, [N, ...sp, r], y)];
  },
});
