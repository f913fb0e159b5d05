import { ShapeError } from '../errors.js';
import { type DType, isFloat } from '../tensor/dtype.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../tensor/fp16.js';
import { floatsToMini, isMiniFloat, miniToFloats } from '../tensor/minifloat.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import type { Attrs, ShapeCtx } from '../ir/registry.js';
import type { Dim, Node, ValueType } from '../ir/graph.js';

/** Shared helpers for op definitions. Keep ops boringly obvious; put the repetition here. */

/**
 * Elements of a float tensor as a Float32Array/Float64Array (float16 widened to float32).
 * The returned array may alias the tensor's storage: treat it as read-only.
 */
export function floats(t: Tensor): Float32Array | Float64Array {
  if (t.type === 'float32' || t.type === 'float64') return t.data as Float32Array | Float64Array;
  if (t.type === 'float16') return f16ArrayToF32(t.data as Uint16Array);
  if (isMiniFloat(t.type)) return miniToFloats(t.type, t.data as Uint8Array | Uint16Array);
  throw new ShapeError(`expected a float tensor, got ${t.type}`);
}

/** Build a float tensor of `dtype` from computed values (narrowing to float16 when asked). */
export function fromFloats(dtype: DType, dims: readonly number[], v: Float32Array | Float64Array): Tensor {
  if (dtype === 'float16') return new Tensor('float16', f32ArrayToF16(v), dims);
  if (dtype === 'float32') return new Tensor('float32', v instanceof Float32Array ? v : Float32Array.from(v), dims);
  if (dtype === 'float64') return new Tensor('float64', v instanceof Float64Array ? v : Float64Array.from(v), dims);
  if (isMiniFloat(dtype)) return new Tensor(dtype, floatsToMini(dtype, v), dims); // round to nearest even, saturating
  throw new ShapeError(`expected a float dtype, got ${dtype}`);
}

/** A scratch array for computing `dtype` results at full precision (Float64 for float64, else Float32). */
export function floatScratch(dtype: DType, dims: readonly number[]): Float32Array | Float64Array {
  const n = sizeOf(dims);
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** Input type i, or a ShapeError naming what was expected. */
/**
 * A shape context over a run's concrete inputs, for references and kernels that reuse an op's spec parsing at run
 * time; `fail` throws `err` (ShapeError by default).
 */
export function runShapeCtx(node: Node, attrs: Attrs, inputs: readonly (Tensor | undefined)[], err: new (m: string) => Error = ShapeError): ShapeCtx {
  return {
    node,
    attrs,
    inputs: inputs.map((t) => (t ? { dtype: t.type, shape: [...t.dims] } : undefined)),
    value: (i) => inputs[i],
    numOutputs: 1,
    fail: (m) => {
      throw new err(m);
    },
  };
}

export function need(ctx: ShapeCtx, i: number, what = `input ${i}`): ValueType {
  const t = ctx.inputs[i];
  if (!t) ctx.fail(`${what} is missing`);
  return t!;
}

/** Fail unless input i has one of `dtypes`. */
export function needType(ctx: ShapeCtx, i: number, dtypes: readonly DType[], what = `input ${i}`): ValueType {
  const t = need(ctx, i, what);
  if (!dtypes.includes(t.dtype)) ctx.fail(`${what} has type ${t.dtype}, expected one of ${dtypes.join(', ')}`);
  return t;
}

export const FLOATS: readonly DType[] = ['float32', 'float16', 'float64'];
/** The narrow float types (held as codes; computed through floats()/fromFloats()). */
export const MINI_FLOATS: readonly DType[] = ['bfloat16', 'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float4e2m1', 'float8e8m0'];
export const INTS: readonly DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'];
export const NUMERIC: readonly DType[] = [...FLOATS, ...INTS];
export const ALL: readonly DType[] = [...NUMERIC, 'bool', 'string'];
export { isFloat };

/** Largest rank a shape rule builds from a shape input's declared length (numpy's limit, NPY_MAXDIMS). */
export const MAX_RANK = 64;
/**
 * `n` unknown dims for an output whose rank is the declared length of a shape / axes input (its values unknown until
 * run time). The length is a stranger's number: a declared [2^31 - 1] allocated that array (hang, then out of memory).
 */
export function openDims(ctx: ShapeCtx, n: number, what: string): Dim[] {
  if (!(Number.isInteger(n) && n >= 0 && n <= MAX_RANK)) ctx.fail(`${what} would make the output rank ${n} (at most ${MAX_RANK})`);
  return new Array<Dim>(n).fill('?');
}
