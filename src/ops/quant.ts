import { UnsupportedError } from '../errors.js';
import { broadcastDims, shapeStr } from '../ir/dims.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { type Attrs, defineOp, type ShapeCtx } from '../ir/registry.js';
import type { DType } from '../tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../tensor/fp16.js';
import { floatsToMini, isMiniFloat } from '../tensor/minifloat.js';
import { QRANGE, roundHalfToEven, saturate } from '../tensor/rounding.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { CONV_ATTRS, convGeometry, convOutDims, type Geometry, LAYOUT_ATTRS, wView, xView } from '../ir/conv-geometry.js';
import { multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplierAcc, perChannelMultipliers, qbounds, tflAddSub, tflLeakyRelu, tflMul, type TflQ } from '../tensor/tflite-quant.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';
import { convCost, matmulCost } from './cost.js';

/**
 * Quantized ops: QuantizeLinear / DequantizeLinear (opset 25 form: per-tensor, per-axis, blocked),
 * DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv.
 * Integer products accumulate exactly in int32; requantization follows the ONNX reference (float).
 */

/** TensorProto.DataType values the quantized ops accept in attributes (output_dtype, precision). */
const ONNX_ENUM: Record<number, DType> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 10: 'float16', 11: 'float64', 16: 'bfloat16',
  17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4e2m1', 25: 'uint2', 26: 'int2',
};
/** float8/float4 quantized types (opset 19/23): "y = saturate(cast(x / y_scale + y_zero_point))", no integer rounding */
const Q_FLOAT: readonly DType[] = ['float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float4e2m1'];
const Q8: readonly DType[] = ['int8', 'uint8'];
// int4/uint4 (opset 21): QuantizeLinear saturates to [-8, 7] / [0, 15] (QRANGE)
const Q_QL: readonly DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int4', 'uint4', 'int2', 'uint2', ...Q_FLOAT];
const Q_DQ: readonly DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'int4', 'uint4', 'int2', 'uint2', ...Q_FLOAT];

function enumDType(ctx: ShapeCtx, name: string, v: number, allowed: readonly DType[]): DType {
  const d = ONNX_ENUM[v];
  if (!d || !allowed.includes(d)) throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): ${name}=${v} is not supported (edgeq supports ${allowed.join(', ')})`);
  return d;
}

/** Elements of an integer tensor of at most 32 bits as numbers (int64 is never a quantized type here). */
const ints = (t: Tensor): ArrayLike<number> => t.data as unknown as ArrayLike<number>;

/** Round `v` to the precision of `dtype` (the precision ONNX prescribes for the scale arithmetic). */
function rounder(dtype: DType): (v: number) => number {
  if (dtype === 'float64') return (v) => v;
  if (dtype === 'float16') return (v) => f16ToF32(f32ToF16(v));
  return Math.fround;
}

// ---------------------------------------------------------------- QuantizeLinear / DequantizeLinear

/**
 * Validate scale/zero-point shapes against x (ONNX QuantizeLinear "quantization granularity"):
 * per-tensor (scalar, or one element), per-axis (1-D of x.shape[axis]) or blocked (rank of x, with
 * scale.shape[axis] = ceil(x.shape[axis] / block_size) and all other dims equal).
 */
function checkGranularity(ctx: ShapeCtx, x: ValueType, s: ValueType, zp: ValueType | undefined, attrs: Attrs, sName: string): void {
  const blockSize: number = attrs.block_size;
  if (blockSize < 0) ctx.fail(`block_size must be ≥ 0, got ${blockSize}`);
  if (zp?.shape && s.shape) {
    const a = zp.shape;
    const b = s.shape;
    // a one-element zero point beside a one-element scale is per-tensor either way (ONNX int4/uint4 DQ tests: [1] vs [])
    const one = (sh: readonly Dim[]) => sh.every((d) => d === 1);
    if (!(one(a) && one(b)) && (a.length !== b.length || a.some((d, i) => typeof d === 'number' && typeof b[i] === 'number' && d !== b[i])))
      ctx.fail(`zero point shape ${shapeStr(a)} must equal ${sName} shape ${shapeStr(b)}`);
  }
  if (!x.shape || !s.shape) return;
  const r = x.shape.length;
  const ss = s.shape;
  if (blockSize > 0) {
    if (ss.length !== r) ctx.fail(`blocked quantization needs ${sName} of rank ${r} (rank of x), got ${shapeStr(ss)}`);
    if (!(attrs.axis >= -r && attrs.axis < r)) ctx.fail(`axis ${attrs.axis} out of range for rank ${r}`);
    const axis = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
    for (let i = 0; i < r; i++) {
      const xd = x.shape[i]!;
      const sd = ss[i]!;
      if (typeof xd !== 'number' || typeof sd !== 'number') continue;
      // "scale.shape[axis] = ceil(x.shape[axis] / block_size)", other dims equal
      const want = i === axis ? Math.ceil(xd / blockSize) : xd;
      if (sd !== want) ctx.fail(`blocked quantization: ${sName} shape ${shapeStr(ss)} does not match x ${shapeStr(x.shape)} with axis ${axis}, block_size ${blockSize}`);
    }
    return;
  }
  if (ss.length === 0) return;
  if (ss.length === 1 && ss[0] === 1 && r === 0) return;
  if (ss.length !== 1) ctx.fail(`${sName} must be a scalar (per-tensor) or 1-D (per-axis) without block_size, got ${shapeStr(ss)}`);
  if (r === 0) {
    if (ss[0] === 1) return;
    ctx.fail(`per-axis ${sName} ${shapeStr(ss)} needs x of rank ≥ 1`);
  }
  if (!(attrs.axis >= -r && attrs.axis < r)) ctx.fail(`axis ${attrs.axis} out of range for rank ${r}`);
  const axis = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
  const xd = x.shape[axis]!;
  // a one-element scale is per-tensor whatever x.shape[axis] is
  if (typeof xd === 'number' && typeof ss[0] === 'number' && ss[0] !== xd && ss[0] !== 1)
    ctx.fail(`per-axis ${sName} has ${ss[0]} elements, x.shape[${axis}] is ${xd}`);
}

/**
 * For each element of x (row-major), the index into scale / zero point. Loops as outer × D × inner
 * around the quantization axis.
 */
function forEachParam(xDims: readonly number[], sDims: readonly number[], axisAttr: number, blockSize: number, f: (i: number, p: number) => void): void {
  const r = xDims.length;
  const n = sizeOf(xDims);
  const sSize = sizeOf(sDims);
  if (sSize === 1 && blockSize === 0) {
    for (let i = 0; i < n; i++) f(i, 0);
    return;
  }
  const axis = axisAttr < 0 ? axisAttr + r : axisAttr;
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= xDims[i]!;
  const D = xDims[axis]!;
  const inner = n / Math.max(1, outer * D) || 0;
  let i = 0;
  if (blockSize > 0) {
    const SD = sDims[axis]!;
    for (let o = 0; o < outer; o++)
      for (let d = 0; d < D; d++) {
        const base = (o * SD + Math.floor(d / blockSize)) * inner;
        for (let k = 0; k < inner; k++) f(i++, base + k);
      }
  } else {
    for (let o = 0; o < outer; o++)
      for (let d = 0; d < D; d++) for (let k = 0; k < inner; k++) f(i++, d);
  }
}

defineOp({
  name: 'QuantizeLinear',
  commutes: 'qdq',
  inputs: [2, 3],
  outputs: [1, 1],
  attrs: {
    axis: { type: 'int', default: 1 },
    block_size: { type: 'int', default: 0 },
    output_dtype: { type: 'int', default: 0 },
    precision: { type: 'int', default: 0 },
    // float8 outputs: out-of-range values become ±max (1) or NaN/±Inf (0), as in Cast
    saturate: { type: 'int', default: 1 },
  },
  inferShape(ctx) {
    const x = needType(ctx, 0, [...FLOATS, 'int32'], 'x');
    const s = needType(ctx, 1, [...FLOATS, 'int32'], 'y_scale');
    const zp = ctx.inputs[2] ? needType(ctx, 2, Q_QL, 'y_zero_point') : undefined;
    let out: DType = zp?.dtype ?? 'uint8';
    if (ctx.attrs.output_dtype !== 0) {
      out = enumDType(ctx, 'output_dtype', ctx.attrs.output_dtype, Q_QL);
      if (zp && zp.dtype !== out) ctx.fail(`output_dtype ${out} differs from y_zero_point type ${zp.dtype}`);
    }
    if (ctx.attrs.precision !== 0) enumDType(ctx, 'precision', ctx.attrs.precision, FLOATS);
    checkGranularity(ctx, x, s, zp, ctx.attrs, 'y_scale');
    return [{ dtype: out, shape: x.shape }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [x, s, zpT] = inputs as [Tensor, Tensor, Tensor | undefined];
    const out = outputTypes[0]!.dtype;
    const xv = x.type === 'int32' ? ints(x) : floats(x);
    const sv = s.type === 'int32' ? ints(s) : floats(s);
    if (isMiniFloat(out)) {
      // "y = saturate(cast(x / y_scale + y_zero_point))": the float8 cast rounds to nearest even, `saturate` as in Cast
      const zf = zpT ? floats(zpT) : undefined;
      const prec: DType = attrs.precision !== 0 ? ONNX_ENUM[attrs.precision]! : s.type === 'int32' ? 'float32' : s.type;
      const rd = rounder(prec);
      const v = new Float64Array(x.size);
      forEachParam(x.dims, s.dims, attrs.axis, attrs.block_size, (i, p) => {
        v[i] = rd(rd(xv[i]!) / rd(sv[p]!)) + (zf ? zf[p]! : 0);
      });
      return [new Tensor(out, floatsToMini(out, v, attrs.saturate !== 0), x.dims)];
    }
    const [lo, hi] = QRANGE[out]!;
    const zv = zpT ? ints(zpT) : undefined;
    // "The type of y_scale determines the precision of the division operation between x and y_scale,
    // unless the precision attribute is specified."
    const prec: DType = attrs.precision !== 0 ? ONNX_ENUM[attrs.precision]! : s.type === 'int32' ? 'float32' : s.type;
    const rd = rounder(prec);
    const y = Tensor.zeros(out, x.dims);
    const yd = y.data as unknown as number[];
    forEachParam(x.dims, s.dims, attrs.axis, attrs.block_size, (i, p) => {
      // y = saturate(round_half_even(x / y_scale) + y_zero_point)
      const q = roundHalfToEven(rd(rd(xv[i]!) / rd(sv[p]!)));
      yd[i] = saturate(q + (zv ? zv[p]! : 0), lo, hi);
    });
    return [y];
  },
});

defineOp({
  name: 'DequantizeLinear',
  commutes: 'qdq',
  inputs: [2, 3],
  outputs: [1, 1],
  attrs: {
    axis: { type: 'int', default: 1 },
    block_size: { type: 'int', default: 0 },
    output_dtype: { type: 'int', default: 0 },
  },
  inferShape(ctx) {
    const x = needType(ctx, 0, Q_DQ, 'x');
    const s = needType(ctx, 1, FLOATS, 'x_scale');
    const zp = ctx.inputs[2] ? needType(ctx, 2, [x.dtype], 'x_zero_point') : undefined;
    // "If 'output_dtype' is not supplied then the output type is the same as x_scale."
    const out = ctx.attrs.output_dtype !== 0 ? enumDType(ctx, 'output_dtype', ctx.attrs.output_dtype, FLOATS) : s.dtype;
    checkGranularity(ctx, x, s, zp, ctx.attrs, 'x_scale');
    return [{ dtype: out, shape: x.shape }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [x, s, zpT] = inputs as [Tensor, Tensor, Tensor | undefined];
    const out = outputTypes[0]!.dtype;
    // float8/float4 codes dequantize through their values
    const xv = isMiniFloat(x.type) ? floats(x) : ints(x);
    const sv = floats(s);
    const zv = zpT ? (isMiniFloat(zpT.type) ? floats(zpT) : ints(zpT)) : undefined;
    // "The output type also determines the precision of the multiplication."
    const rd = rounder(out);
    const y = out === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
    forEachParam(x.dims, s.dims, attrs.axis, attrs.block_size, (i, p) => {
      // y = (x - x_zero_point) * x_scale; the integer difference is exact
      y[i] = rd(rd(xv[i]! - (zv ? zv[p]! : 0)) * rd(sv[p]!));
    });
    return [fromFloats(out, x.dims, y)];
  },
});

defineOp({
  name: 'DynamicQuantizeLinear',
  inputs: [1, 1],
  outputs: [3, 3],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, ['float32'], 'x');
    return [
      { dtype: 'uint8', shape: x.shape },
      { dtype: 'float32', shape: [] },
      { dtype: 'uint8', shape: [] },
    ];
  },
  reference({ inputs }) {
    const x = inputs[0]!;
    const v = floats(x);
    const { scale, zp } = dynamicQuantParams(v);
    const y = new Uint8Array(v.length);
    // y = saturate(round(x / y_scale) + y_zero_point)
    for (let i = 0; i < v.length; i++) y[i] = saturate(roundHalfToEven(Math.fround(v[i]! / scale)) + zp, 0, 255);
    return [new Tensor('uint8', y, x.dims), new Tensor('float32', Float32Array.of(scale), []), new Tensor('uint8', Uint8Array.of(zp), [])];
  },
});

/** DynamicQuantizeLinear's y_scale and y_zero_point for the values `v` (shared with the JS kernel). */
export function dynamicQuantParams(v: ArrayLike<number>): { scale: number; zp: number } {
  // "data range is adjusted to include 0"
  let mn = 0;
  let mx = 0;
  for (let i = 0; i < v.length; i++) {
    const a = v[i]!;
    if (a < mn) mn = a;
    if (a > mx) mx = a;
  }
  return dynamicQuantParamsOf(mn, mx);
}

/** dynamicQuantParams from min(0, x…) and max(0, x…) (the WASM kernel finds those in one SIMD pass). */
export function dynamicQuantParamsOf(mn: number, mx: number): { scale: number; zp: number } {
  // y_scale = (max - min) / (qmax - qmin), in float32: the subtraction rounds too (a negative min and a positive max
  // of other magnitudes differ by more bits than float32 holds — onnxruntime and the ONNX reference round it, and
  // one ulp of scale changes codes downstream). An all-zero x gives scale 0; the spec's 0/0 below is NaN, which
  // saturates to 0 (so y and the zero point are 0).
  const scale = Math.fround(Math.fround(mx - mn) / 255);
  // intermediate_zero_point = qmin - min(x)/y_scale; y_zero_point = round(saturate(...)), ties to even
  const zp = saturate(roundHalfToEven(saturate(Math.fround(0 - Math.fround(mn / scale)), 0, 255)), 0, 255);
  return { scale, zp };
}

// ---------------------------------------------------------------- integer MatMul

/** numpy matmul output shape (1-D operands promoted and the added dim removed), or a failure. */
function matmulShape(ctx: ShapeCtx, a: Dim[] | undefined, b: Dim[] | undefined): { shape?: Dim[]; M?: Dim; K?: Dim; N?: Dim } {
  if (!a || !b) return {};
  if (a.length === 0 || b.length === 0) ctx.fail(`matmul operands must have rank ≥ 1, got ${shapeStr(a)} and ${shapeStr(b)}`);
  const A = a.length === 1 ? [1, a[0]!] : a;
  const B = b.length === 1 ? [b[0]!, 1] : b;
  const K = A[A.length - 1]!;
  const Kb = B[B.length - 2]!;
  if (typeof K === 'number' && typeof Kb === 'number' && K !== Kb) ctx.fail(`matmul inner dims differ: ${shapeStr(a)} × ${shapeStr(b)}`);
  const batch = broadcastDims(A.slice(0, -2), B.slice(0, -2));
  if (!batch) ctx.fail(`matmul batch dims are not broadcastable: ${shapeStr(a)} × ${shapeStr(b)}`);
  const M = A[A.length - 2]!;
  const N = B[B.length - 1]!;
  const shape = [...batch!, ...(a.length === 1 ? [] : [M]), ...(b.length === 1 ? [] : [N])];
  return { shape, M, K, N };
}

/** Check a per-tensor / per-row (a) or per-column (b) quantization parameter of a matmul operand. */
function checkVecParam(ctx: ShapeCtx, t: ValueType | undefined, len: Dim | undefined, what: string, rows: string): void {
  if (!t?.shape) return;
  const s = t.shape;
  if (s.length === 0) return;
  if (s.length === 1 && (s[0] === 1 || typeof s[0] !== 'number' || len === undefined || typeof len !== 'number' || s[0] === len)) return;
  ctx.fail(`${what} must be a scalar or 1-D with one value per ${rows} (${String(len)}), got ${shapeStr(s)}`);
}

/**
 * Batched integer matmul with numpy broadcasting: C = (A - a_zp) · (B - b_zp), int32 accumulation.
 * a_zp is per tensor or per row (length M), b_zp per tensor or per column (length N).
 */
function matmulInt(a: Tensor, b: Tensor, azp: ArrayLike<number> | undefined, bzp: ArrayLike<number> | undefined, outDims: number[]): { c: Int32Array; M: number; N: number } {
  const A = a.dims.length === 1 ? [1, a.dims[0]!] : [...a.dims];
  const B = b.dims.length === 1 ? [b.dims[0]!, 1] : [...b.dims];
  const M = A[A.length - 2]!;
  const K = A[A.length - 1]!;
  const N = B[B.length - 1]!;
  const av = ints(a);
  const bv = ints(b);
  // subtract zero points once: A' is [.., M, K], B' is [.., K, N]
  const a2 = new Int32Array(av.length);
  for (let i = 0; i < av.length; i++) a2[i] = av[i]! - (azp ? (azp.length === 1 ? azp[0]! : azp[Math.floor(i / K) % M]!) : 0);
  const b2 = new Int32Array(bv.length);
  for (let i = 0; i < bv.length; i++) b2[i] = bv[i]! - (bzp ? (bzp.length === 1 ? bzp[0]! : bzp[i % N]!) : 0);
  const batchA = A.slice(0, -2);
  const batchB = B.slice(0, -2);
  const batch = outDims.slice(0, outDims.length - (a.dims.length === 1 ? 0 : 1) - (b.dims.length === 1 ? 0 : 1));
  const nb = sizeOf(batch);
  const c = new Int32Array(sizeOf([nb, M, N]));
  const r = batch.length;
  const idx = new Array<number>(r).fill(0);
  for (let bi = 0; bi < nb; bi++) {
    // broadcast offsets of this batch element in A and B
    let oa = 0;
    let ob = 0;
    for (let d = 0; d < r; d++) {
      const da = batchA[batchA.length - r + d] ?? 1;
      const db = batchB[batchB.length - r + d] ?? 1;
      oa = oa * da + (da === 1 ? 0 : idx[d]!);
      ob = ob * db + (db === 1 ? 0 : idx[d]!);
    }
    oa *= M * K;
    ob *= K * N;
    const oc = bi * M * N;
    for (let i = 0; i < M; i++)
      for (let k = 0; k < K; k++) {
        const x = a2[oa + i * K + k]!;
        if (x === 0) continue;
        const rowB = ob + k * N;
        const rowC = oc + i * N;
        for (let j = 0; j < N; j++) c[rowC + j] = (c[rowC + j]! + Math.imul(x, b2[rowB + j]!)) | 0;
      }
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d]! < batch[d]!) break;
      idx[d] = 0;
    }
  }
  return { c, M, N };
}

defineOp({
  name: 'MatMulInteger',
  cost: matmulCost,
  inputs: [2, 4],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const a = needType(ctx, 0, Q8, 'A');
    const b = needType(ctx, 1, Q8, 'B');
    const azp = ctx.inputs[2] ? needType(ctx, 2, [a.dtype], 'a_zero_point') : undefined;
    const bzp = ctx.inputs[3] ? needType(ctx, 3, [b.dtype], 'b_zero_point') : undefined;
    const { shape, M, N } = matmulShape(ctx, a.shape, b.shape);
    checkVecParam(ctx, azp, M, 'a_zero_point', 'row of A');
    checkVecParam(ctx, bzp, N, 'b_zero_point', 'column of B');
    return [{ dtype: 'int32', shape }];
  },
  reference({ inputs, outputTypes }) {
    const [a, b, azp, bzp] = inputs as [Tensor, Tensor, Tensor?, Tensor?];
    const dims = outputTypes[0]!.shape as number[];
    const { c } = matmulInt(a, b, azp && ints(azp), bzp && ints(bzp), dims);
    return [new Tensor('int32', c, dims)];
  },
});

/**
 * com.microsoft GatherBlockQuantized (onnxruntime ContribOperators.md), the form onnxruntime's quantizers write for
 * embedding tables: Gather along axis 0 of a constant table quantized in blocks of `block_size` along its last axis,
 * then dequantized — uint8 `data` [rows, cols·bits/8] (bits = 4: two codes per byte, low nibble first), `scales`
 * [rows, ceil(cols / block_size)], optional `zero_points` packed like data (default 8 for 4 bits, 128 for 8 bits):
 * out[…idx, c] = (code[idx, c] − zp[idx, c / block_size]) · scale[idx, c / block_size]. Only gather_axis = 0 and
 * quantize_axis = last (uint8 data requires both) are supported.
 */
function gbqGeom(ctx: { fail(m: string): never }, attrs: Attrs, rank: number): { bits: number; bs: number } {
  const bits = (attrs.bits as number | undefined) ?? 4;
  const bs = (attrs.block_size as number | undefined) ?? 128;
  if (bits !== 4 && bits !== 8) ctx.fail(`bits must be 4 or 8, got ${bits}`);
  if (!(Number.isInteger(bs) && bs >= 16 && (bs & (bs - 1)) === 0)) ctx.fail(`block_size must be a power of two ≥ 16, got ${bs}`);
  const ga = (attrs.gather_axis as number | undefined) ?? 0;
  const qa = (attrs.quantize_axis as number | undefined) ?? 1;
  if (ga !== 0 || (qa !== rank - 1 && qa !== -1)) throw new UnsupportedError(`GatherBlockQuantized: only gather_axis 0 and quantize_axis = last (${rank - 1}) are supported, got ${ga} and ${qa}`);
  return { bits, bs };
}

defineOp({
  name: 'GatherBlockQuantized',
  domain: 'com.microsoft',
  inputs: [3, 4],
  outputs: [1, 1],
  attrs: {
    bits: { type: 'int', default: 4 },
    block_size: { type: 'int', default: 128 },
    gather_axis: { type: 'int', default: 0 },
    quantize_axis: { type: 'int', default: 1 },
  },
  inferShape(ctx) {
    const d = needType(ctx, 0, ['uint8'], 'data');
    const ind = needType(ctx, 1, ['int32', 'int64'], 'indices');
    const sc = needType(ctx, 2, ['float32'], 'scales');
    if (ctx.inputs[3]) needType(ctx, 3, ['uint8'], 'zero_points');
    if (!d.shape) return [{ dtype: sc.dtype }];
    if (d.shape.length < 2) ctx.fail('data must have rank ≥ 2');
    const { bits, bs } = gbqGeom(ctx, ctx.attrs, d.shape.length);
    const last = d.shape[d.shape.length - 1]!;
    const cols = typeof last === 'number' ? (last * 8) / bits : last;
    const rows = d.shape[0]!;
    if (sc.shape && typeof cols === 'number') {
      const want = [...d.shape.slice(0, -1), Math.ceil(cols / bs)];
      if (sc.shape.length !== want.length || sc.shape.some((x, i) => typeof x === 'number' && x !== want[i])) ctx.fail(`scales must be [${want.join(', ')}], got ${shapeStr(sc.shape)}`);
    }
    const v = ctx.value(1);
    if (v && typeof rows === 'number')
      for (let k = 0; k < v.size; k++) if (v.num(k) < -rows || v.num(k) >= rows) ctx.fail(`indices[${k}] = ${v.num(k)} out of range [${-rows}, ${rows - 1}]`);
    if (!ind.shape) return [{ dtype: sc.dtype }];
    return [{ dtype: sc.dtype, shape: [...ind.shape, ...d.shape.slice(1, -1), cols] }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [d, ind, sc, zp] = inputs as [Tensor, Tensor, Tensor, Tensor?];
    const { bits, bs } = gbqGeom({ fail: (m) => { throw new UnsupportedError(`GatherBlockQuantized: ${m}`); } }, attrs, d.dims.length);
    const rows = d.dims[0]!;
    const bytesRow = d.size / rows;
    const cols = (d.dims[d.dims.length - 1]! * 8) / bits;
    const inner = bytesRow / d.dims[d.dims.length - 1]!; // lines of `cols` per gathered row (middle dims)
    const nb = Math.ceil(cols / bs);
    const zpLine = bits === 4 ? Math.ceil(nb / 2) : nb;
    const data = d.data as Uint8Array;
    const s = floats(sc);
    const z = zp?.data as Uint8Array | undefined;
    const def = bits === 4 ? 8 : 128;
    const idx = ind.toNumbers();
    const out = new Float32Array(idx.length * inner * cols);
    let p = 0;
    for (const i0 of idx) {
      const r = i0 < 0 ? i0 + rows : i0;
      for (let l = 0; l < inner; l++) {
        const line = r * inner + l;
        const base = line * (cols * bits) / 8;
        for (let c = 0; c < cols; c++) {
          const code = bits === 8 ? data[base + c]! : (data[base + (c >> 1)]! >> ((c & 1) * 4)) & 15;
          const b = Math.floor(c / bs);
          const zz = z ? (bits === 8 ? z[line * zpLine + b]! : (z[line * zpLine + (b >> 1)]! >> ((b & 1) * 4)) & 15) : def;
          out[p++] = (code - zz) * s[line * nb + b]!;
        }
      }
    }
    return [new Tensor('float32', out, outputTypes[0]!.shape as number[])];
  },
  doc: 'com.microsoft GatherBlockQuantized: Gather of a 4/8-bit block-quantized table (axis 0, blocks along the last axis)',
});

/**
 * com.microsoft DynamicQuantizeMatMul (onnxruntime ContribOperators.md): A is quantized as DynamicQuantizeLinear does
 * (uint8, per tensor), multiplied by the 8-bit B as MatMulInteger does, and "Y = (A_q − a_zp)·(B − b_zp)·(a_scale ·
 * b_scale) + bias" — b_scale / b_zero_point per tensor or per column of B, bias [N]. Every float step rounds to float32
 * in the order of the graph the quantizer writes (Cast(acc) · fround(a_scale · b_scale[j]), then + bias[j]), so the
 * plan-time fusion (src/ir/passes/fuse-dynq.ts) of DynamicQuantizeLinear → MatMulInteger → Cast → Mul (→ Add)
 * into this op changes no bit of the result.
 */
defineOp({
  name: 'DynamicQuantizeMatMul',
  cost: matmulCost,
  domain: 'com.microsoft',
  inputs: [3, 5],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const a = needType(ctx, 0, ['float32'], 'A');
    const b = needType(ctx, 1, Q8, 'B');
    const bs = needType(ctx, 2, ['float32'], 'b_scale');
    const bzp = ctx.inputs[3] ? needType(ctx, 3, [b.dtype], 'b_zero_point') : undefined;
    const { shape, N } = matmulShape(ctx, a.shape, b.shape);
    checkVecParam(ctx, bs, N, 'b_scale', 'column of B');
    checkVecParam(ctx, bzp, N, 'b_zero_point', 'column of B');
    if (ctx.inputs[4]) {
      const bias = needType(ctx, 4, ['float32'], 'bias');
      if (bias.shape && (bias.shape.length !== 1 || (typeof bias.shape[0] === 'number' && typeof N === 'number' && bias.shape[0] !== N))) ctx.fail(`bias must be 1-D [N = ${String(N)}], got ${shapeStr(bias.shape)}`);
    }
    return [{ dtype: 'float32', shape }];
  },
  reference({ inputs, outputTypes }) {
    const [a, b, bs, bzp, bias] = inputs as [Tensor, Tensor, Tensor, Tensor?, Tensor?];
    const v = floats(a);
    const { scale, zp } = dynamicQuantParams(v);
    const q = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) q[i] = saturate(roundHalfToEven(Math.fround(v[i]! / scale)) + zp, 0, 255);
    const dims = outputTypes[0]!.shape as number[];
    const { c, N } = matmulInt(new Tensor('uint8', q, a.dims), b, [zp], bzp && ints(bzp), dims);
    const sv = floats(bs);
    const mult = Float32Array.from({ length: N }, (_, j) => scale * sv[sv.length === 1 ? 0 : j]!);
    const bv = bias ? floats(bias) : undefined;
    const y = new Float32Array(c.length);
    for (let i = 0; i < c.length; i++) {
      const j = i % N;
      y[i] = Math.fround(c[i]!) * mult[j]!;
      if (bv) y[i] = y[i]! + bv[j]!;
    }
    return [new Tensor('float32', y, dims)];
  },
  doc: 'com.microsoft DynamicQuantizeMatMul: dynamic uint8 quantization of A, 8-bit B, float32 Y with scales and bias',
});

defineOp({
  name: 'QLinearMatMul',
  cost: matmulCost,
  inputs: [8, 8],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const a = needType(ctx, 0, Q8, 'a');
    const as = needType(ctx, 1, FLOATS, 'a_scale');
    const azp = needType(ctx, 2, [a.dtype], 'a_zero_point');
    const b = needType(ctx, 3, Q8, 'b');
    const bs = needType(ctx, 4, [as.dtype], 'b_scale');
    const bzp = needType(ctx, 5, [b.dtype], 'b_zero_point');
    const ys = needType(ctx, 6, [as.dtype], 'y_scale');
    const yzp = needType(ctx, 7, Q8, 'y_zero_point');
    const { shape, M, N } = matmulShape(ctx, a.shape, b.shape);
    checkVecParam(ctx, as, M, 'a_scale', 'row of a');
    checkVecParam(ctx, azp, M, 'a_zero_point', 'row of a');
    checkVecParam(ctx, bs, N, 'b_scale', 'column of b');
    checkVecParam(ctx, bzp, N, 'b_zero_point', 'column of b');
    for (const [t, w] of [[ys, 'y_scale'], [yzp, 'y_zero_point']] as const)
      if (t.shape && !(t.shape.length === 0 || (t.shape.length === 1 && t.shape[0] === 1))) ctx.fail(`${w} must be a scalar, got ${shapeStr(t.shape)}`);
    return [{ dtype: yzp.dtype, shape }];
  },
  reference({ inputs, outputTypes }) {
    const [a, as, azp, b, bs, bzp, ys, yzp] = inputs as Tensor[];
    const dims = outputTypes[0]!.shape as number[];
    const out = outputTypes[0]!.dtype;
    const { c, M, N } = matmulInt(a!, b!, ints(azp!), ints(bzp!), dims);
    const rd = rounder(as!.type);
    const asv = floats(as!);
    const bsv = floats(bs!);
    const ysv = rd(floats(ys!)[0]!);
    const zp = ints(yzp!)[0]!;
    const [lo, hi] = QRANGE[out]!;
    // multiplier[i][j] = a_scale[i] · b_scale[j] / y_scale, in the scales' precision
    const mult = new Float64Array(M * N);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) mult[i * N + j] = rd(rd(rd(asv[asv.length === 1 ? 0 : i]!) * rd(bsv[bsv.length === 1 ? 0 : j]!)) / ysv);
    const y = Tensor.zeros(out, dims);
    const yd = y.data as unknown as number[];
    const mn = M * N;
    // y = saturate(round_half_even(C · multiplier) + y_zero_point)
    for (let i = 0; i < c.length; i++) yd[i] = saturate(roundHalfToEven(c[i]! * mult[i % mn]!) + zp, lo, hi);
    return [y];
  },
});

// ---------------------------------------------------------------- integer Conv

interface ConvPlan {
  shape?: Dim[];
}

/** Shared shape rule of ConvInteger / QLinearConv (the ONNX Conv rule on int8/uint8 tensors). */
function convShape(ctx: ShapeCtx, x: ValueType, w: ValueType): ConvPlan {
  const attrs = ctx.attrs;
  if (attrs.group < 1) ctx.fail(`group must be ≥ 1, got ${attrs.group}`);
  if (!x.shape || !w.shape) return {};
  const r = x.shape.length;
  if (r < 3) ctx.fail(`x must have rank ≥ 3 (N, C, spatial…), got ${shapeStr(x.shape)}`);
  if (w.shape.length !== r) ctx.fail(`w must have rank ${r} like x, got ${shapeStr(w.shape)}`);
  // data_layout / weight_layout (edgeq extension, see ir/conv-geometry.ts): views as (N, C, spatial…) and (M, C/group, k…)
  const nhwc = attrs.data_layout === 'NHWC';
  const xv = xView(x.shape, nhwc);
  const wv = wView(w.shape, attrs.weight_layout ?? 'OIHW');
  const [N, C] = [xv.n, xv.c];
  const [M, Cg] = [wv.m, wv.cg];
  if (attrs.weight_layout === '1HWO' && typeof Cg === 'number' && Cg !== 1) ctx.fail(`w in layout 1HWO must have a leading 1, got ${shapeStr(w.shape)}`);
  const g = attrs.group as number;
  if (typeof C === 'number' && typeof Cg === 'number' && C !== Cg * g) ctx.fail(`x has ${C} channels, w expects ${Cg} × group ${g}`);
  if (typeof M === 'number' && M % g !== 0) ctx.fail(`w has ${M} output channels, not a multiple of group ${g}`);
  const kdims = wv.k;
  if (attrs.kernel_shape && (attrs.kernel_shape.length !== r - 2 || kdims.some((d, i) => typeof d === 'number' && d !== attrs.kernel_shape[i])))
    ctx.fail(`kernel_shape [${attrs.kernel_shape}] does not match w ${shapeStr(w.shape)}`);
  if (kdims.some((d) => typeof d !== 'number')) {
    if (!attrs.kernel_shape) return {};
  }
  const kernel = kdims.map((d, i) => (typeof d === 'number' ? d : (attrs.kernel_shape[i] as number)));
  const out = convOutDims(xv.sp, kernel, attrs, ctx.fail);
  return { shape: nhwc ? [N, ...out, M] : [N, M, ...out] };
}

/**
 * Direct N-D integer convolution: out[n, m, o] = Σ_{c, k} x'[n, g·C/g + c, o·s - pb + k·d] · w'[m, c, k],
 * where x' = x - x_zp (so padding contributes 0, exactly as padding with x_zero_point) and w' = w - w_zp[m].
 * Accumulates exactly in int32.
 */
function convInt(x: Tensor, w: Tensor, xzp: number, wzp: ArrayLike<number> | undefined, geom: Geometry, group: number, bias?: ArrayLike<number>): { acc: Int32Array; dims: number[] } {
  const [N, C] = x.dims as [number, number];
  const [M, Cg] = w.dims as [number, number];
  const sp = x.dims.slice(2);
  const rank = sp.length;
  const inSize = sizeOf(sp);
  const outSize = sizeOf(geom.out);
  const kSize = sizeOf(geom.kernel);
  const xv = ints(x);
  const wv = ints(w);
  const x2 = new Int32Array(xv.length);
  for (let i = 0; i < xv.length; i++) x2[i] = xv[i]! - xzp;
  const w2 = new Int32Array(wv.length);
  const perM = Cg * kSize;
  for (let i = 0; i < wv.length; i++) w2[i] = wv[i]! - (wzp ? (wzp.length === 1 ? wzp[0]! : wzp[Math.floor(i / perM)]!) : 0);
  // For every output position, the (kernel index, input spatial index) pairs that fall inside the input.
  const pairStart = new Int32Array(outSize + 1);
  const kIdx: number[] = [];
  const inIdx: number[] = [];
  const o = new Array<number>(rank).fill(0);
  const k = new Array<number>(rank).fill(0);
  for (let p = 0; p < outSize; p++) {
    pairStart[p] = kIdx.length;
    k.fill(0);
    for (let kk = 0; kk < kSize; kk++) {
      let flat = 0;
      let ok = true;
      for (let d = 0; d < rank; d++) {
        const pos = o[d]! * geom.strides[d]! - geom.padBegin[d]! + k[d]! * geom.dilations[d]!;
        if (pos < 0 || pos >= sp[d]!) {
          ok = false;
          break;
        }
        flat = flat * sp[d]! + pos;
      }
      if (ok) {
        kIdx.push(kk);
        inIdx.push(flat);
      }
      for (let d = rank - 1; d >= 0; d--) {
        if (++k[d]! < geom.kernel[d]!) break;
        k[d] = 0;
      }
    }
    for (let d = rank - 1; d >= 0; d--) {
      if (++o[d]! < geom.out[d]!) break;
      o[d] = 0;
    }
  }
  pairStart[outSize] = kIdx.length;
  const dims = [N, M, ...geom.out];
  const acc = new Int32Array(sizeOf(dims));
  const mPerG = M / group;
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      const g = Math.floor(m / mPerG);
      const ob = (n * M + m) * outSize;
      const b0 = bias ? bias[m]! | 0 : 0;
      for (let p = 0; p < outSize; p++) {
        let s = b0;
        for (let c = 0; c < Cg; c++) {
          const xb = (n * C + g * Cg + c) * inSize;
          const wb = (m * Cg + c) * kSize;
          for (let q = pairStart[p]!; q < pairStart[p + 1]!; q++) s = (s + Math.imul(x2[xb + inIdx[q]!]!, w2[wb + kIdx[q]!]!)) | 0;
        }
        acc[ob + p] = s;
      }
    }
  return { acc, dims };
}

function checkScalar(ctx: ShapeCtx, t: ValueType | undefined, what: string): void {
  if (t?.shape && !(t.shape.length === 0 || (t.shape.length === 1 && t.shape[0] === 1))) ctx.fail(`${what} must be a scalar (per-tensor), got ${shapeStr(t.shape)}`);
}

/** w zero point / scale: scalar or one per output channel (w.shape[0]). */
function checkPerChannel(ctx: ShapeCtx, t: ValueType | undefined, w: ValueType, what: string, m?: Dim): void {
  if (!t?.shape) return;
  const s = t.shape;
  if (s.length === 0 || (s.length === 1 && s[0] === 1)) return;
  const M = m ?? w.shape?.[0];
  if (s.length === 1 && (typeof s[0] !== 'number' || typeof M !== 'number' || s[0] === M)) return;
  ctx.fail(`${what} must be a scalar or 1-D with one value per output channel (${String(M)}), got ${shapeStr(s)}`);
}

defineOp({
  name: 'ConvInteger',
  cost: convCost(1),
  inputs: [2, 4],
  outputs: [1, 1],
  attrs: { ...CONV_ATTRS },
  inferShape(ctx) {
    const x = needType(ctx, 0, Q8, 'x');
    const w = needType(ctx, 1, Q8, 'w');
    const xzp = ctx.inputs[2] ? needType(ctx, 2, [x.dtype], 'x_zero_point') : undefined;
    const wzp = ctx.inputs[3] ? needType(ctx, 3, [w.dtype], 'w_zero_point') : undefined;
    checkScalar(ctx, xzp, 'x_zero_point');
    checkPerChannel(ctx, wzp, w, 'w_zero_point');
    return [{ dtype: 'int32', shape: convShape(ctx, x, w).shape }];
  },
  reference({ inputs, attrs, outputTypes, node }) {
    const [x, w, xzp, wzp] = inputs as [Tensor, Tensor, Tensor?, Tensor?];
    const geom = plan(node.name, attrs, x, w, outputTypes);
    const { acc, dims } = convInt(x, w, xzp ? ints(xzp)[0]! : 0, wzp && ints(wzp), geom, attrs.group);
    return [new Tensor('int32', acc, dims)];
  },
});

/** Recompute the geometry at run time (inferShape already validated these concrete shapes). */
function plan(name: string, attrs: Attrs, x: Tensor, w: Tensor, outputTypes: ValueType[]): Geometry {
  void outputTypes;
  const fail = (m: string): never => {
    throw new UnsupportedError(`node '${name}': ${m}`);
  };
  return convGeometry(xView(x.dims, attrs.data_layout === 'NHWC').sp, wView(w.dims, attrs.weight_layout ?? 'OIHW').k, attrs, fail)!;
}

/**
 * 2-D integer convolution in any layout (data_layout NCHW/NHWC, weight_layout OIHW/OHWI/1HWO): the exact
 * accumulator acc = bias[m] + Σ (x - x_zp)·(w - w_zp[m]) per output element, in float64 (exact below 2^53, so
 * TFLite's int64 accumulators for 16-bit activations are exact too). `wrap32` wraps it to int32 like convInt.
 */
function convIntLayout(x: Tensor, w: Tensor, xzp: number, wzp: ArrayLike<number>, geom: Geometry, group: number, nhwc: boolean, wl: string, bias: ArrayLike<number> | undefined, wrap32: boolean): { acc: Float64Array; dims: number[] } {
  const xv = xView(x.dims, nhwc);
  const wv = wView(w.dims, wl);
  const [N, C, M, cg] = [xv.n, xv.c, wv.m, wv.cg];
  const [H, W] = xv.sp as [number, number];
  const [KH, KW] = geom.kernel as [number, number];
  const [OH, OW] = geom.out as [number, number];
  const [sh, sw] = geom.strides as [number, number];
  const [dh, dw] = geom.dilations as [number, number];
  const [ph, pw] = geom.padBegin as [number, number];
  const mg = M / group;
  const inSp = H * W, kSp = KH * KW, oSp = OH * OW;
  const [xN, xC, xS] = nhwc ? [inSp * C, 1, C] : [C * inSp, inSp, 1];
  const [yN, yM, yS] = nhwc ? [oSp * M, 1, M] : [M * oSp, oSp, 1];
  const [wM, wI, wK] = wl === 'OHWI' ? [kSp * cg, 1, cg] : wl === '1HWO' ? [1, kSp * M, M] : [cg * kSp, kSp, 1];
  const xd = ints(x);
  const wd = ints(w);
  const dims = nhwc ? [N, OH, OW, M] : [N, M, OH, OW];
  const acc = new Float64Array(sizeOf(dims));
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      const gi = Math.floor(m / mg);
      const wz = wzp.length === 1 ? wzp[0]! : wzp[m]!;
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let s = bias ? bias[m]! : 0;
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * sh - ph + ky * dh;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * sw - pw + kx * dw;
              if (ix < 0 || ix >= W) continue;
              const xb = n * xN + (iy * W + ix) * xS + gi * cg * xC;
              const wb = m * wM + (ky * KW + kx) * wK;
              for (let c = 0; c < cg; c++) s += (xd[xb + c * xC]! - xzp) * (wd[wb + c * wI]! - wz);
            }
          }
          acc[n * yN + m * yM + (oy * OW + ox) * yS] = wrap32 ? s | 0 : s;
        }
    }
  return { acc, dims };
}

defineOp({
  name: 'QLinearConv',
  cost: convCost(3),
  inputs: [8, 9],
  outputs: [1, 1],
  attrs: {
    ...CONV_ATTRS,
    // edgeq extensions for the TFLite importer (defaults = ONNX): layouts, and `rounding: 'tflite'` = TFLite's
    // integer requantization (QuantizeMultiplier + MultiplyByQuantizedMultiplier, src/tensor/tflite-quant.ts)
    ...LAYOUT_ATTRS,
    rounding: { type: 'string', default: 'onnx', oneOf: ['onnx', 'tflite'] },
  },
  inferShape(ctx) {
    const tfl = ctx.attrs.rounding === 'tflite';
    // TFLite conv.cc: int8 (and uint8) activations, or int16 activations with int8 weights (16x8)
    const x = needType(ctx, 0, tfl ? ['int8', 'uint8', 'int16'] : Q8, 'x');
    const xs = needType(ctx, 1, ['float32'], 'x_scale');
    const xzp = needType(ctx, 2, [x.dtype], 'x_zero_point');
    const w = needType(ctx, 3, x.dtype === 'int16' ? ['int8'] : Q8, 'w');
    const ws = needType(ctx, 4, ['float32'], 'w_scale');
    const wzp = needType(ctx, 5, [w.dtype], 'w_zero_point');
    const ys = needType(ctx, 6, ['float32'], 'y_scale');
    const yzp = needType(ctx, 7, tfl ? [x.dtype] : Q8, 'y_zero_point');
    // 16x8: "bias is int64" (or int32 in older converters)
    const b = ctx.inputs[8] ? needType(ctx, 8, x.dtype === 'int16' ? ['int64', 'int32'] : ['int32'], 'B') : undefined;
    const wl: string = ctx.attrs.weight_layout;
    const M = w.shape ? wView(w.shape, wl).m : undefined;
    checkScalar(ctx, xs, 'x_scale');
    checkScalar(ctx, xzp, 'x_zero_point');
    checkScalar(ctx, ys, 'y_scale');
    checkScalar(ctx, yzp, 'y_zero_point');
    checkPerChannel(ctx, ws, w, 'w_scale', M);
    checkPerChannel(ctx, wzp, w, 'w_zero_point', M);
    if (b?.shape && (b.shape.length !== 1 || (typeof b.shape[0] === 'number' && typeof M === 'number' && b.shape[0] !== M)))
      ctx.fail(`B must be 1-D with one ${b.dtype} per output channel (${String(M)}), got ${shapeStr(b.shape)}`);
    const generic = tfl || nonDefault(ctx.attrs);
    if (generic && x.shape && x.shape.length !== 4) throw new UnsupportedError(`node '${ctx.node.name}' (QLinearConv): rounding 'tflite' and non-default layouts support 2-D convolutions only, got x ${shapeStr(x.shape)}`);
    if (tfl) {
      for (const [i, what] of [[1, 'x_scale'], [4, 'w_scale'], [6, 'y_scale']] as const) {
        const v = ctx.value(i);
        if (v && floats(v).some((q) => !(q > 0 && Number.isFinite(q)))) ctx.fail(`${what} must be positive and finite for TFLite requantization`);
      }
      // TFLite: "int8 filters must be symmetric" (zero point 0) unless the activations are uint8
      const wz = ctx.value(5);
      if (wz && x.dtype !== 'uint8' && Array.from(ints(wz)).some((z) => z !== 0)) throw new UnsupportedError(`node '${ctx.node.name}' (QLinearConv): int8 filters must be symmetric (zero point 0) with rounding 'tflite'`);
    }
    return [{ dtype: yzp.dtype, shape: convShape(ctx, x, w).shape }];
  },
  reference({ inputs, attrs, outputTypes, node }) {
    const [x, xs, xzp, w, ws, wzp, ys, yzp, b] = inputs as Tensor[];
    const out = outputTypes[0]!.dtype;
    const geom = plan(node.name, attrs, x!, w!, outputTypes);
    const tfl = attrs.rounding === 'tflite';
    if (tfl || nonDefault(attrs)) {
      const nhwc = attrs.data_layout === 'NHWC';
      const { acc, dims } = convIntLayout(x!, w!, ints(xzp!)[0]!, ints(wzp!), geom, attrs.group, nhwc, attrs.weight_layout, b && (b.type === 'int64' ? Float64Array.from(b.data as BigInt64Array, Number) : ints(b)), !tfl);
      const M = nhwc ? dims[3]! : dims[1]!;
      const per = nhwc ? 1 : dims[2]! * dims[3]!;
      const chan = (i: number) => Math.floor(i / per) % M;
      const zp = ints(yzp!)[0]!;
      const y = Tensor.zeros(out, dims);
      const yd = y.data as unknown as number[];
      if (tfl) {
        // TFLite: acc → MultiplyByQuantizedMultiplier(acc, mult[m], shift[m]) + output_offset, clamped to the type;
        // 16-bit activations with an int64 (or no) bias use the int64 form (reference_integer_ops/conv.h)
        const { mult, shift } = perChannelMultipliers(floats(xs!)[0]!, floats(ws!), floats(ys!)[0]!, M);
        const rq = x!.type === 'int16' && (!b || b.type === 'int64') ? multiplyByQuantizedMultiplierAcc : multiplyByQuantizedMultiplier;
        const [lo, hi] = qbounds(out);
        for (let i = 0; i < acc.length; i++) {
          const c = chan(i);
          const v = rq(acc[i]!, mult[c]!, shift[c]!) + zp;
          yd[i] = v < lo ? lo : v > hi ? hi : v;
        }
      } else {
        const mult = onnxConvMultipliers(xs!, ws!, ys!, M);
        const [lo, hi] = QRANGE[out]!;
        for (let i = 0; i < acc.length; i++) yd[i] = saturate(roundHalfToEven(acc[i]! * mult[chan(i)]!) + zp, lo, hi);
      }
      return [y];
    }
    const { acc, dims } = convInt(x!, w!, ints(xzp!)[0]!, ints(wzp!), geom, attrs.group, b && ints(b));
    const M = dims[1]!;
    const mult = onnxConvMultipliers(xs!, ws!, ys!, M);
    const zp = ints(yzp!)[0]!;
    const [lo, hi] = QRANGE[out]!;
    const y = Tensor.zeros(out, dims);
    const yd = y.data as unknown as number[];
    const per = acc.length / Math.max(1, dims[0]! * M) || 0;
    // y = saturate(round_half_even(acc · multiplier) + y_zero_point); the product is exact in float64, as
    // in the ONNX reference (int32 array × float32 scalar promotes to float64 in numpy)
    for (let i = 0; i < acc.length; i++) yd[i] = saturate(roundHalfToEven(acc[i]! * mult[Math.floor(i / per) % M]!) + zp, lo, hi);
    return [y];
  },
});

const nonDefault = (a: Attrs) => (a.data_layout ?? 'NCHW') !== 'NCHW' || (a.weight_layout ?? 'OIHW') !== 'OIHW';

/** ONNX QLinearConv multiplier = x_scale · w_scale[m] / y_scale, in float32 (the scales' type). */
function onnxConvMultipliers(xs: Tensor, ws: Tensor, ys: Tensor, M: number): Float32Array {
  const xsv = floats(xs)[0]!;
  const wsv = floats(ws);
  const ysv = floats(ys)[0]!;
  const mult = new Float32Array(M);
  for (let m = 0; m < M; m++) mult[m] = Math.fround(Math.fround(xsv * wsv[wsv.length === 1 ? 0 : m]!) / ysv);
  return mult;
}

// ---------------------------------------------------------------- com.microsoft QGemm

/**
 * onnxruntime's QGemm (com.microsoft): Y = alpha·(A' - a_zp)·(B' - b_zp) + C, C being int32 in units of
 * a_scale·b_scale; quantized with y_scale / y_zero_point when given, else float32. b_scale / b_zero_point are
 * per tensor or per column of Y. `rounding: 'tflite'` (edgeq extension, the TFLite importer's FULLY_CONNECTED)
 * requantizes as TFLite does: MultiplyByQuantizedMultiplier(acc + C, QuantizeMultiplier(a_scale·b_scale[j] /
 * y_scale)) + y_zero_point, clamped; there A may be int16 (16x8, int8 B, int64 or int32 C) and alpha must be 1.
 */
defineOp({
  name: 'QGemm',
  cost: matmulCost,
  domain: 'com.microsoft',
  inputs: [6, 9],
  outputs: [1, 1],
  attrs: {
    alpha: { type: 'float', default: 1 },
    transA: { type: 'int', default: 0, oneOf: [0, 1] },
    transB: { type: 'int', default: 0, oneOf: [0, 1] },
    rounding: { type: 'string', default: 'onnx', oneOf: ['onnx', 'tflite'] },
  },
  inferShape(ctx) {
    const tfl = ctx.attrs.rounding === 'tflite';
    const a = needType(ctx, 0, tfl ? ['int8', 'uint8', 'int16'] : Q8, 'A');
    const as = needType(ctx, 1, ['float32'], 'a_scale');
    const azp = needType(ctx, 2, [a.dtype], 'a_zero_point');
    const b = needType(ctx, 3, a.dtype === 'int16' ? ['int8'] : Q8, 'B');
    const bs = needType(ctx, 4, ['float32'], 'b_scale');
    const bzp = needType(ctx, 5, [b.dtype], 'b_zero_point');
    const c = ctx.inputs[6] ? needType(ctx, 6, a.dtype === 'int16' ? ['int32', 'int64'] : ['int32'], 'C') : undefined;
    const ys = ctx.inputs[7] ? needType(ctx, 7, ['float32'], 'y_scale') : undefined;
    const yzp = ctx.inputs[8] ? needType(ctx, 8, tfl ? [a.dtype] : Q8, 'y_zero_point') : undefined;
    if (!!ys !== !!yzp) ctx.fail('y_scale and y_zero_point must be given together');
    if (tfl && !ys) ctx.fail("rounding 'tflite' needs y_scale and y_zero_point");
    if (tfl && ctx.attrs.alpha !== 1) throw new UnsupportedError(`node '${ctx.node.name}' (QGemm): rounding 'tflite' needs alpha = 1, got ${ctx.attrs.alpha}`);
    checkScalar(ctx, as, 'a_scale');
    checkScalar(ctx, azp, 'a_zero_point');
    checkScalar(ctx, ys, 'y_scale');
    checkScalar(ctx, yzp, 'y_zero_point');
    if (a.shape && a.shape.length !== 2) ctx.fail(`A must be 2-D, got ${shapeStr(a.shape)}`);
    if (b.shape && b.shape.length !== 2) ctx.fail(`B must be 2-D, got ${shapeStr(b.shape)}`);
    const M = a.shape?.[ctx.attrs.transA ? 1 : 0];
    const K = a.shape?.[ctx.attrs.transA ? 0 : 1];
    const Kb = b.shape?.[ctx.attrs.transB ? 1 : 0];
    const N = b.shape?.[ctx.attrs.transB ? 0 : 1];
    if (typeof K === 'number' && typeof Kb === 'number' && K !== Kb) ctx.fail(`inner dims differ: A ${shapeStr(a.shape!)}${ctx.attrs.transA ? 'ᵀ' : ''} × B ${shapeStr(b.shape!)}${ctx.attrs.transB ? 'ᵀ' : ''}`);
    checkVecParam(ctx, bs, N, 'b_scale', 'column of Y');
    checkVecParam(ctx, bzp, N, 'b_zero_point', 'column of Y');
    // C: scalar, [N], [1, N] or [M, N]
    if (c?.shape) {
      const cs = c.shape;
      const ok = (d: Dim | undefined, want: Dim | undefined) => typeof d !== 'number' || typeof want !== 'number' || d === want;
      const fits = cs.length === 0 || (cs.length === 1 && (cs[0] === 1 || ok(cs[0], N))) || (cs.length === 2 && (cs[0] === 1 || ok(cs[0], M)) && ok(cs[1], N));
      if (!fits) ctx.fail(`C must be a scalar, [N], [1, N] or [M, N] for Y [${String(M)}, ${String(N)}], got ${shapeStr(cs)}`);
    }
    if (tfl) {
      for (const [i, what] of [[1, 'a_scale'], [4, 'b_scale'], [7, 'y_scale']] as const) {
        const v = ctx.value(i);
        if (v && floats(v).some((q) => !(q > 0 && Number.isFinite(q)))) ctx.fail(`${what} must be positive and finite for TFLite requantization`);
      }
    }
    const shape = a.shape && b.shape ? [M!, N!] : undefined;
    return [{ dtype: yzp ? yzp.dtype : 'float32', shape }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [A, as, azp, B, bs, bzp, C, ys, yzp] = inputs as (Tensor | undefined)[];
    const tfl = attrs.rounding === 'tflite';
    const [M, N] = outputTypes[0]!.shape as [number, number];
    const K = A!.dims[attrs.transA ? 0 : 1]!;
    const av = ints(A!);
    const bv = ints(B!);
    const az = ints(azp!)[0]!;
    const bz = ints(bzp!);
    const cv = C ? (C.type === 'int64' ? Float64Array.from(C.data as BigInt64Array, Number) : ints(C)) : undefined;
    const cAt = (i: number, j: number) => (!cv ? 0 : cv.length === 1 ? cv[0]! : cv.length === N && C!.dims.length < 2 ? cv[j]! : C!.dims[0] === 1 ? cv[j]! : cv[i * N + j]!);
    const asv = floats(as!)[0]!;
    const bsv = floats(bs!);
    const out = outputTypes[0]!.dtype;
    const y = Tensor.zeros(out, [M, N]);
    const yd = y.data as unknown as number[];
    const [lo, hi] = out === 'float32' ? [0, 0] : tfl ? qbounds(out) : QRANGE[out]!;
    const zp = yzp ? ints(yzp)[0]! : 0;
    const tq = tfl ? perChannelMultipliers(asv, bsv, floats(ys!)[0]!, N) : undefined;
    // TFLite fully_connected: 16-bit activations with an int64 (or no) bias use the int64 MultiplyByQuantizedMultiplier
    const rq = A!.type === 'int16' && (!C || C.type === 'int64') ? multiplyByQuantizedMultiplierAcc : multiplyByQuantizedMultiplier;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        const bzj = bz.length === 1 ? bz[0]! : bz[j]!;
        let s = 0;
        for (let k = 0; k < K; k++) {
          const x = av[attrs.transA ? k * M + i : i * K + k]! - az;
          const w = bv[attrs.transB ? j * K + k : k * N + j]! - bzj;
          s += x * w;
        }
        const o = i * N + j;
        if (tfl) {
          // exact in float64 (TFLite accumulates in int32, or int64 for 16x8)
          const v = rq(s + cAt(i, j), tq!.mult[j]!, tq!.shift[j]!) + zp;
          yd[o] = v < lo ? lo : v > hi ? hi : v;
          continue;
        }
        // int32 accumulator; real value = (alpha·acc + C)·a_scale·b_scale[j]
        const acc = attrs.alpha * (s | 0) + cAt(i, j);
        const scale = Math.fround(asv * bsv[bsv.length === 1 ? 0 : j]!);
        if (out === 'float32') yd[o] = Math.fround(acc * scale);
        else yd[o] = saturate(roundHalfToEven(acc * Math.fround(scale / floats(ys!)[0]!)) + zp, lo, hi);
      }
    return [y];
  },
});

// ---------------------------------------------------------------- com.microsoft quantized elementwise ops
// (onnxruntime contrib ops: real values are dequantized, combined in float32 and requantized.)

/** Element offsets of `dims` broadcast to `out` (numpy rules; inferShape checked compatibility). */
function broadcastIndex(dims: readonly number[], out: readonly number[]): Int32Array {
  const n = sizeOf(out);
  const idx = new Int32Array(n);
  const r = out.length;
  const strides = new Array<number>(r).fill(0);
  for (let i = dims.length - 1, s = 1; i >= 0; i--) {
    strides[r - dims.length + i] = dims[i] === 1 ? 0 : s;
    s *= dims[i]!;
  }
  const pos = new Array<number>(r).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = off;
    for (let d = r - 1; d >= 0; d--) {
      pos[d]!++;
      off += strides[d]!;
      if (pos[d]! < out[d]!) break;
      off -= strides[d]! * pos[d]!;
      pos[d] = 0;
    }
  }
  return idx;
}

const scalarParam = (t: Tensor | undefined, dflt: number) => (t ? (t.type === 'float32' || t.type === 'float16' || t.type === 'float64' ? floats(t)[0]! : ints(t)[0]!) : dflt);

type TflBinary = (dtype: string, q1: TflQ, q2: TflQ, oq: TflQ, potScaleInt16: boolean) => ((a: number, b: number) => number) | string;

function qlinearBinary(name: string, f: (a: number, b: number) => number, tflite: TflBinary) {
  defineOp({
    name,
    domain: 'com.microsoft',
    inputs: [7, 8],
    outputs: [1, 1],
    attrs: {
      // edgeq extensions for the TFLite importer (defaults = onnxruntime): `rounding: 'tflite'` is TFLite's integer
      // kernel (add.cc / mul.cc, src/tensor/tflite-quant.ts), also for int16; pot_scale_int16 is AddOptions'
      rounding: { type: 'string', default: 'onnx', oneOf: ['onnx', 'tflite'] },
      pot_scale_int16: { type: 'int', default: 1, oneOf: [0, 1] },
    },
    inferShape(ctx) {
      const a = needType(ctx, 0, ctx.attrs.rounding === 'tflite' ? ['int8', 'uint8', 'int16'] : Q8, 'A');
      const b = needType(ctx, 3, [a.dtype], 'B');
      checkScalar(ctx, needType(ctx, 1, ['float32'], 'A_scale'), 'A_scale');
      checkScalar(ctx, needType(ctx, 4, ['float32'], 'B_scale'), 'B_scale');
      checkScalar(ctx, needType(ctx, 6, ['float32'], 'C_scale'), 'C_scale');
      for (const [i, w] of [[2, 'A_zero_point'], [5, 'B_zero_point'], [7, 'C_zero_point']] as const)
        if (ctx.inputs[i]) checkScalar(ctx, needType(ctx, i, [a.dtype], w), w);
      if (ctx.attrs.rounding === 'tflite')
        for (const [i, w] of [[1, 'A_scale'], [4, 'B_scale'], [6, 'C_scale']] as const) {
          const v = ctx.value(i);
          if (v && !(floats(v)[0]! > 0 && Number.isFinite(floats(v)[0]!))) ctx.fail(`${w} must be positive and finite for TFLite requantization`);
        }
      if (!a.shape || !b.shape) return [{ dtype: a.dtype }];
      const shape = broadcastDims(a.shape, b.shape);
      if (!shape) ctx.fail(`A ${shapeStr(a.shape)} and B ${shapeStr(b.shape)} are not broadcastable`);
      return [{ dtype: a.dtype, shape }];
    },
    reference({ inputs, outputTypes, attrs, node }) {
      const [a, as, az, b, bs, bz, cs, cz] = inputs;
      const dims = outputTypes[0]!.shape as number[];
      const out = outputTypes[0]!.dtype;
      const [lo, hi] = QRANGE[out]!;
      const ia = broadcastIndex(a!.dims, dims);
      const ib = broadcastIndex(b!.dims, dims);
      const av = ints(a!);
      const bv = ints(b!);
      const [sa, za, sb, zb, sc, zc] = [scalarParam(as, 1), scalarParam(az, 0), scalarParam(bs, 1), scalarParam(bz, 0), scalarParam(cs, 1), scalarParam(cz, 0)];
      const y = Tensor.zeros(out, dims);
      const yd = y.data as unknown as number[];
      if (attrs.rounding === 'tflite') {
        const g = tflite(out, { scale: sa, zp: za }, { scale: sb, zp: zb }, { scale: sc, zp: zc }, attrs.pot_scale_int16 === 1);
        if (typeof g === 'string') throw new UnsupportedError(`node '${node.name}' (${name}): ${g}`);
        for (let i = 0; i < yd.length; i++) yd[i] = g(av[ia[i]!]!, bv[ib[i]!]!);
        return [y];
      }
      for (let i = 0; i < yd.length; i++) {
        const r = f(Math.fround(sa * (av[ia[i]!]! - za)), Math.fround(sb * (bv[ib[i]!]! - zb)));
        yd[i] = saturate(roundHalfToEven(Math.fround(Math.fround(r) / sc)) + zc, lo, hi);
      }
      return [y];
    },
  });
}
qlinearBinary('QLinearAdd', (a, b) => a + b, (d, q1, q2, oq, pot) => tflAddSub(d, q1, q2, oq, pot, 1));
qlinearBinary('QLinearMul', (a, b) => a * b, (d, q1, q2, oq) => tflMul(d, q1, q2, oq));

// onnxruntime's QLinearLeakyRelu: y = quantize(x ≥ 0 ? x : alpha·x) of the dequantized x (a table over every
// input value). `rounding: 'tflite'` (edgeq extension, the TFLite importer's quantized LEAKY_RELU, also int16):
// TFLite's identity / alpha multipliers with MultiplyByQuantizedMultiplier (tflLeakyRelu).
defineOp({
  name: 'QLinearLeakyRelu',
  domain: 'com.microsoft',
  inputs: [4, 5],
  outputs: [1, 1],
  attrs: {
    alpha: { type: 'float', default: 0.01 },
    rounding: { type: 'string', default: 'onnx', oneOf: ['onnx', 'tflite'] },
  },
  inferShape(ctx) {
    const tfl = ctx.attrs.rounding === 'tflite';
    const x = needType(ctx, 0, tfl ? ['int8', 'uint8', 'int16'] : Q8, 'X');
    checkScalar(ctx, needType(ctx, 1, ['float32'], 'X_scale'), 'X_scale');
    checkScalar(ctx, needType(ctx, 3, ['float32'], 'Y_scale'), 'Y_scale');
    for (const [i, w] of [[2, 'X_zero_point'], [4, 'Y_zero_point']] as const) if (ctx.inputs[i]) checkScalar(ctx, needType(ctx, i, [x.dtype], w), w);
    if (tfl)
      for (const [i, w] of [[1, 'X_scale'], [3, 'Y_scale']] as const) {
        const v = ctx.value(i);
        if (v && !(floats(v)[0]! > 0 && Number.isFinite(floats(v)[0]!))) ctx.fail(`${w} must be positive and finite for TFLite requantization`);
      }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const [x, xs, xz, ys, yz] = inputs;
    const [sx, zx, sy, zy] = [scalarParam(xs, 1), scalarParam(xz, 0), scalarParam(ys, 1), scalarParam(yz, 0)];
    const tf = attrs.rounding === 'tflite' ? tflLeakyRelu(x!.type, { scale: sx, zp: zx }, { scale: sy, zp: zy }, attrs.alpha) : undefined;
    const [lo, hi] = QRANGE[x!.type]!;
    const alpha = Math.fround(attrs.alpha);
    const xv = ints(x!);
    const y = Tensor.zeros(x!.type, x!.dims);
    const yd = y.data as unknown as number[];
    const table = new Map<number, number>();
    for (let i = 0; i < yd.length; i++) {
      const q = xv[i]!;
      let r = table.get(q);
      if (r === undefined) {
        if (tf) r = tf(q);
        else {
          const v = Math.fround(sx * (q - zx));
          r = saturate(roundHalfToEven(Math.fround((v >= 0 ? v : Math.fround(alpha * v)) / sy)) + zy, lo, hi);
        }
        table.set(q, r);
      }
      yd[i] = r;
    }
    return [y];
  },
});

defineOp({
  name: 'QLinearSigmoid',
  domain: 'com.microsoft',
  inputs: [4, 5],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, Q8, 'X');
    checkScalar(ctx, needType(ctx, 1, ['float32'], 'X_scale'), 'X_scale');
    checkScalar(ctx, needType(ctx, 3, ['float32'], 'Y_scale'), 'Y_scale');
    for (const [i, w] of [[2, 'X_zero_point'], [4, 'Y_zero_point']] as const) if (ctx.inputs[i]) checkScalar(ctx, needType(ctx, i, [x.dtype], w), w);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs }) {
    const [x, xs, xz, ys, yz] = inputs;
    const [lo, hi] = QRANGE[x!.type]!;
    const [sx, zx, sy, zy] = [scalarParam(xs, 1), scalarParam(xz, 0), scalarParam(ys, 1), scalarParam(yz, 0)];
    // y = quantize(sigmoid(dequantize(x))): a 256-entry table over every possible input
    const table = new Map<number, number>();
    for (let q = lo; q <= hi; q++) {
      const v = Math.fround(1 / (1 + Math.exp(-Math.fround(sx * (q - zx)))));
      table.set(q, saturate(roundHalfToEven(Math.fround(v / sy)) + zy, lo, hi));
    }
    const xv = ints(x!);
    const y = Tensor.zeros(x!.type, x!.dims);
    const yd = y.data as unknown as number[];
    for (let i = 0; i < yd.length; i++) yd[i] = table.get(xv[i]!)!;
    return [y];
  },
});

defineOp({
  name: 'QLinearGlobalAveragePool',
  domain: 'com.microsoft',
  inputs: [5, 5],
  outputs: [1, 1],
  attrs: { channels_last: { type: 'int', default: 0, oneOf: [0, 1] } },
  inferShape(ctx) {
    const x = needType(ctx, 0, Q8, 'X');
    checkScalar(ctx, needType(ctx, 1, ['float32'], 'x_scale'), 'x_scale');
    checkScalar(ctx, needType(ctx, 2, [x.dtype], 'x_zero_point'), 'x_zero_point');
    checkScalar(ctx, needType(ctx, 3, ['float32'], 'y_scale'), 'y_scale');
    checkScalar(ctx, needType(ctx, 4, [x.dtype], 'y_zero_point'), 'y_zero_point');
    if (!x.shape) return [{ dtype: x.dtype }];
    if (x.shape.length < 3) ctx.fail(`X must have rank ≥ 3, got ${shapeStr(x.shape)}`);
    const s = x.shape.map((d, i) => (i === 0 ? d : ctx.attrs.channels_last ? (i === x.shape!.length - 1 ? d : 1) : i === 1 ? d : 1));
    return [{ dtype: x.dtype, shape: s }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [x, xs, xz, ys, yz] = inputs as Tensor[];
    const dims = x!.dims;
    const N = dims[0]!;
    const C = attrs.channels_last ? dims[dims.length - 1]! : dims[1]!;
    const S = sizeOf(dims) / Math.max(1, N * C) || 0;
    const [lo, hi] = QRANGE[x!.type]!;
    const [sx, zx, sy, zy] = [scalarParam(xs, 1), scalarParam(xz, 0), scalarParam(ys, 1), scalarParam(yz, 0)];
    const xv = ints(x!);
    const y = Tensor.zeros(x!.type, outputTypes[0]!.shape as number[]);
    const yd = y.data as unknown as number[];
    // y = round((Σx - S·x_zp) · x_scale / (S · y_scale)) + y_zp, the sum exact in integers
    const mult = Math.fround(sx / Math.fround(S * sy));
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let s = 0; s < S; s++) sum += xv[attrs.channels_last ? (n * S + s) * C + c : (n * C + c) * S + s]!;
        yd[n * C + c] = saturate(roundHalfToEven(Math.fround((sum - S * zx) * mult)) + zy, lo, hi);
      }
    return [y];
  },
});
