import { ShapeError } from '../errors.js';

/** Largest element count edgeq will allocate for one tensor (2^31 - 1, the WASM32/typed-array bound). */
export const MAX_ELEMENTS = 2 ** 31 - 1;
/**
 * Largest tensor edgeq computes, in bytes (2 GiB): kernel memory is WASM32, where byte offsets past 2^31 are where
 * int32 arithmetic breaks, and a stranger's data-dependent sizes (Resize sizes, Range limits, pads) within the element
 * limit asked for 8 GB arrays that then took minutes to fill. Shape rules' concrete outputs are checked against it
 * (runInfer), at load and at run time.
 */
export const MAX_TENSOR_BYTES = 2 ** 31;

/** Product of dims, validated: every dim a non-negative integer and the product ≤ MAX_ELEMENTS. */
export function sizeOf(dims: readonly number[], what = 'tensor'): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ShapeError(`${what}: invalid dimension ${d} in [${dims.join(',')}] (expected integers ≥ 0)`);
    n *= d;
  }
  if (n > MAX_ELEMENTS) throw new ShapeError(`${what}: shape [${dims.join(',')}] has ${n} elements, more than the limit ${MAX_ELEMENTS}`);
  return n;
}

/** Row-major strides. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Normalise a possibly negative axis against `rank`; ShapeError when out of range. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new ShapeError(`${what} ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Numpy-style multidirectional broadcast of concrete shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[], what = 'broadcast'): number[] {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ShapeError(`${what}: shapes [${a.join(',')}] and [${b.join(',')}] are not broadcastable`);
    out[i] = x === 1 ? y : x;
  }
  return out;
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
