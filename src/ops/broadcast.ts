import type { Dim, ValueType } from '../ir/graph.js';
import type { ShapeCtx } from '../ir/registry.js';
import { type DType, type TensorData, allocData } from '../tensor/dtype.js';
import { f16ArrayToF32, f32ToF16 } from '../tensor/fp16.js';
import { broadcastShapes, sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastDims as staticBroadcast } from '../ir/dims.js';

/**
 * Numpy-style (ONNX "multidirectional") broadcasting.
 *
 * Shape side:
 *   - `broadcastDims(a, b, fail)` broadcasts two possibly symbolic shapes (for inferShape).
 *   - `inferBroadcast(ctx, idxs)` broadcasts the shapes of several inputs of a node (undefined when a rank is unknown).
 *
 * Value side:
 *   - `broadcastBinary(a, b, outDtype, f)`: out[i] = f(a[ia], b[ib]) over the broadcast shape. `f` receives raw
 *     element values: numbers for float32/float64/int8..uint32/bool (0/1), bigint for int64/uint64, strings for
 *     string tensors, and *decoded* numbers for float16 (inputs are widened, the result is narrowed back when
 *     outDtype is float16). The return value is stored into an array of `outDtype` (typed-array store semantics:
 *     ints wrap, float32 rounds; return bigint for int64/uint64 outputs, 0/1 or boolean for bool).
 *   - `broadcastWalk(outDims, aDims, bDims, visit)`: the underlying strided walk; calls
 *     visit(outIndex, aIndex, bIndex) in row-major output order. No per-element divmod: axes are merged where
 *     possible and the innermost axis is a plain loop with constant strides.
 */

/** Broadcast two static shapes. Symbolic dims: equal names stay, 1 yields the other, a number n>1 wins over a name. */
export function broadcastDims(a: readonly Dim[], b: readonly Dim[], fail: (msg: string) => never): Dim[] {
  return staticBroadcast(a, b) ?? fail(`shapes [${a.join(',')}] and [${b.join(',')}] are not broadcastable`);
}

/** Broadcast shape of inputs `idxs` (omitted inputs skipped); undefined if any shape is unknown. */
export function inferBroadcast(ctx: ShapeCtx, idxs: readonly number[]): Dim[] | undefined {
  let out: Dim[] | undefined = [];
  for (const i of idxs) {
    const t: ValueType | undefined = ctx.inputs[i];
    if (!t) continue;
    if (!t.shape) out = undefined;
    else if (out) out = broadcastDims(out, t.shape, ctx.fail);
  }
  return out;
}

/**
 * Strided walk over the broadcast of aDims and bDims (outDims must be their broadcast).
 * visit(o, ia, ib) is called for every output element in row-major order.
 */
export function broadcastWalk(
  outDims: readonly number[],
  aDims: readonly number[],
  bDims: readonly number[],
  visit: (o: number, ia: number, ib: number) => void,
): void {
  const r = outDims.length;
  const n = sizeOf(outDims);
  if (n === 0) return;
  // per-axis element strides of a and b in output coordinates (0 where broadcast)
  const sa = new Array<number>(r).fill(0);
  const sb = new Array<number>(r).fill(0);
  let acc = 1;
  for (let i = aDims.length - 1, k = r - 1; i >= 0; i--, k--) {
    sa[k] = aDims[i] === 1 ? 0 : acc;
    acc *= aDims[i]!;
  }
  acc = 1;
  for (let i = bDims.length - 1, k = r - 1; i >= 0; i--, k--) {
    sb[k] = bDims[i] === 1 ? 0 : acc;
    acc *= bDims[i]!;
  }
  // merge adjacent axes where both operands are contiguous across the boundary; drop size-1 axes
  const dims: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let k = 0; k < r; k++) {
    const d = outDims[k]!;
    if (d === 1) continue;
    const m = dims.length - 1;
    if (m >= 0 && as[m] === sa[k]! * d && bs[m] === sb[k]! * d) {
      dims[m]! *= d;
      as[m] = sa[k]!;
      bs[m] = sb[k]!;
    } else {
      dims.push(d);
      as.push(sa[k]!);
      bs.push(sb[k]!);
    }
  }
  if (dims.length === 0) {
    visit(0, 0, 0);
    return;
  }
  const R = dims.length;
  const inner = dims[R - 1]!;
  const ia0 = as[R - 1]!;
  const ib0 = bs[R - 1]!;
  const idx = new Array<number>(R).fill(0);
  let ia = 0;
  let ib = 0;
  let o = 0;
  while (o < n) {
    for (let j = 0, pa = ia, pb = ib; j < inner; j++, pa += ia0, pb += ib0) visit(o++, pa, pb);
    // odometer over the outer axes
    let k = R - 2;
    for (; k >= 0; k--) {
      idx[k]!++;
      ia += as[k]!;
      ib += bs[k]!;
      if (idx[k]! < dims[k]!) break;
      ia -= as[k]! * dims[k]!;
      ib -= bs[k]! * dims[k]!;
      idx[k] = 0;
    }
    if (k < 0) break;
  }
}

/** Elements of t for `f`: float16 widened to float32 numbers, everything else as stored. */
function elems(t: Tensor): ArrayLike<any> {
  return t.type === 'float16' ? f16ArrayToF32(t.data as Uint16Array) : (t.data as ArrayLike<any>);
}

/** out = f(a, b) with multidirectional broadcasting; see the module comment for value conventions. */
export function broadcastBinary(a: Tensor, b: Tensor, outDtype: DType, f: (x: any, y: any) => any): Tensor {
  const dims = broadcastShapes(a.dims, b.dims);
  const n = sizeOf(dims);
  const x = elems(a);
  const y = elems(b);
  const half = outDtype === 'float16';
  const out = half ? new Float32Array(n) : (allocData(outDtype, n) as any);
  const bool = outDtype === 'bool';
  if (bool) {
    const o = out as Uint8Array;
    if (a.size === n && b.size === n) for (let i = 0; i < n; i++) o[i] = f(x[i], y[i]) ? 1 : 0;
    else if (b.size === 1 && a.size === n) {
      const v = y[0];
      for (let i = 0; i < n; i++) o[i] = f(x[i], v) ? 1 : 0;
    } else broadcastWalk(dims, a.dims, b.dims, (i, ia, ib) => (o[i] = f(x[ia], y[ib]) ? 1 : 0));
  } else if (a.size === n && b.size === n) for (let i = 0; i < n; i++) out[i] = f(x[i], y[i]);
  else if (b.size === 1 && a.size === n) {
    const v = y[0];
    for (let i = 0; i < n; i++) out[i] = f(x[i], v);
  } else if (a.size === 1 && b.size === n) {
    const v = x[0];
    for (let i = 0; i < n; i++) out[i] = f(v, y[i]);
  } else broadcastWalk(dims, a.dims, b.dims, (i, ia, ib) => (out[i] = f(x[ia], y[ib])));
  return new Tensor(outDtype, half ? narrowF16(out) : (out as TensorData), dims);
}

function narrowF16(v: Float32Array): Uint16Array {
  const h = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) h[i] = f32ToF16(v[i]!);
  return h;
}

/**
 * Gather `t` broadcast to `dims` (unidirectional: t's shape must broadcast to dims). Returns raw elements
 * (float16 widened to numbers unless `raw`: then bits are copied as stored). Handy for ternary ops (Clip bounds,
 * Where, PRelu slopes).
 */
export function expandTo(t: Tensor, dims: readonly number[], raw = false): ArrayLike<any> {
  const x = raw ? (t.data as ArrayLike<any>) : elems(t);
  const n = sizeOf(dims);
  if (t.size === n) return x;
  const out: any[] = new Array(n);
  if (t.size === 1) return out.fill(x[0]);
  broadcastWalk(dims, dims, t.dims, (i, _ia, ib) => (out[i] = x[ib]));
  return out;
}
