import type { Dim, ValueType } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import { DTYPES, type DType, allocData, isBig, isFloat } from '../tensor/dtype.js';
import { sizeOf, stridesOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { FLOATS, NUMERIC, floats, fromFloats, needType } from './util.js';

/**
 * Reductions (ReduceSum … ReduceLogSumExp, opset 18 form: axes as optional input), ArgMax/ArgMin and
 * CumSum. Older opsets (axes attribute) are rewritten in formats/onnx/legacy/reduce.ts.
 */

const REDUCE_TYPES: readonly DType[] = [...NUMERIC];
const MINMAX_TYPES: readonly DType[] = [...NUMERIC, 'bool'];

/** Read an axes/axis tensor input (int64/int32) as plain numbers. */
function axesOf(ctx: ShapeCtx, i: number): number[] | undefined | null {
  const t = ctx.inputs[i];
  if (!t) return null; // omitted
  if (t.dtype !== 'int64' && t.dtype !== 'int32') ctx.fail(`axes must be int64, got ${t.dtype}`);
  if (t.shape && t.shape.length !== 1) ctx.fail(`axes must be 1-D, got rank ${t.shape.length}`);
  const v = ctx.value(i);
  return v ? v.toNumbers() : undefined;
}

/** Normalise axes against rank; ShapeError on out-of-range or duplicates. */
function normAxes(ctx: ShapeCtx, axes: number[], rank: number): number[] {
  const out: number[] = [];
  for (const a of axes) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) ctx.fail(`axis ${a} out of range for rank ${rank}`);
    const n = a < 0 ? a + rank : a;
    if (out.includes(n)) ctx.fail(`axis ${a} repeated in axes [${axes}]`);
    out.push(n);
  }
  return out;
}

interface ReducePlan {
  /** reduced-axis mask, or null for identity (noop_with_empty_axes) */
  mask: boolean[] | null;
}

function reducePlan(ctx: ShapeCtx, rank: number): ReducePlan | undefined {
  const axes = axesOf(ctx, 1);
  if (axes === undefined) return undefined;
  // ONNX: "empty axes with noop_with_empty_axes=1 … the input tensor will not be reduced"; otherwise all axes.
  if (axes === null || axes.length === 0) {
    if (ctx.attrs.noop_with_empty_axes) return { mask: null };
    return { mask: new Array(rank).fill(true) };
  }
  const mask = new Array<boolean>(rank).fill(false);
  for (const a of normAxes(ctx, axes, rank)) mask[a] = true;
  return { mask };
}

function reducedShape(shape: readonly Dim[], mask: boolean[] | null, keep: boolean): Dim[] {
  if (!mask) return [...shape];
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!mask[i]) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

/** For each input element, the flat index of its output element (reduced axes collapse). */
function outIndexMap(dims: readonly number[], mask: boolean[]): { map: Int32Array; outSize: number } {
  const n = sizeOf(dims);
  const r = dims.length;
  const outDims = dims.map((d, i) => (mask[i] ? 1 : d));
  const os = stridesOf(outDims).map((s, i) => (mask[i] ? 0 : s));
  const outSize = sizeOf(outDims);
  const map = new Int32Array(n);
  const idx = new Array<number>(r).fill(0);
  let o = 0;
  for (let i = 0; i < n; i++) {
    map[i] = o;
    for (let k = r - 1; k >= 0; k--) {
      idx[k]!++;
      o += os[k]!;
      if (idx[k]! < dims[k]!) break;
      o -= os[k]! * dims[k]!;
      idx[k] = 0;
    }
  }
  return { map, outSize };
}

type Kind = 'Sum' | 'Mean' | 'Max' | 'Min' | 'Prod' | 'L1' | 'L2' | 'LogSum' | 'LogSumExp' | 'SumSquare';

/** Element values as numbers (bool/ints/floats; float16 widened). Not for 64-bit exact paths. */
function nums(t: Tensor): ArrayLike<number> {
  if (isFloat(t.type)) return floats(t);
  if (isBig(t.type)) return Float64Array.from(t.data as BigInt64Array, Number);
  return t.data as ArrayLike<number>;
}

function typeMin(dt: DType): number {
  return isFloat(dt) ? -Infinity : DTYPES[dt].min!;
}
function typeMax(dt: DType): number {
  return isFloat(dt) ? Infinity : DTYPES[dt].max!;
}

function reduceNumber(kind: Kind, x: Tensor, mask: boolean[]): Float64Array {
  const { map, outSize } = outIndexMap(x.dims, mask);
  const v = nums(x);
  const n = v.length;
  const acc = new Float64Array(outSize);
  const count = outSize ? n / outSize : 0;
  switch (kind) {
    case 'Sum':
    case 'Mean':
    case 'LogSum':
      for (let i = 0; i < n; i++) acc[map[i]!] += v[i]!;
      break;
    case 'SumSquare':
    case 'L2':
      for (let i = 0; i < n; i++) acc[map[i]!] += v[i]! * v[i]!;
      break;
    case 'L1':
      for (let i = 0; i < n; i++) acc[map[i]!] += Math.abs(v[i]!);
      break;
    case 'Prod':
      acc.fill(1);
      for (let i = 0; i < n; i++) acc[map[i]!] *= v[i]!;
      break;
    case 'Max': {
      // ONNX 18: empty set → "minus infinity (if supported by the datatype) or the minimum value of the data type"
      acc.fill(x.type === 'bool' ? 0 : typeMin(x.type));
      for (let i = 0; i < n; i++) {
        const o = map[i]!;
        const a = v[i]!;
        if (a > acc[o]! || a !== a) acc[o] = a;
      }
      break;
    }
    case 'Min': {
      acc.fill(x.type === 'bool' ? 1 : typeMax(x.type));
      for (let i = 0; i < n; i++) {
        const o = map[i]!;
        const a = v[i]!;
        if (a < acc[o]! || a !== a) acc[o] = a;
      }
      break;
    }
    case 'LogSumExp': {
      // stable: log(sum(exp(x - m))) + m with m the per-output max; empty set → log(0) = -inf
      const m = new Float64Array(outSize).fill(-Infinity);
      for (let i = 0; i < n; i++) if (v[i]! > m[map[i]!]!) m[map[i]!] = v[i]!;
      for (let i = 0; i < n; i++) {
        const mm = m[map[i]!]!;
        acc[map[i]!] += mm === -Infinity || mm === Infinity ? Math.exp(v[i]!) : Math.exp(v[i]! - mm);
      }
      for (let o = 0; o < outSize; o++) {
        const mm = m[o]!;
        acc[o] = mm === -Infinity || mm === Infinity ? Math.log(acc[o]!) : Math.log(acc[o]!) + mm;
      }
      return acc;
    }
  }
  if (kind === 'Mean') for (let o = 0; o < outSize; o++) acc[o] = acc[o]! / count;
  else if (kind === 'L2') for (let o = 0; o < outSize; o++) acc[o] = Math.sqrt(acc[o]!);
  else if (kind === 'LogSum') for (let o = 0; o < outSize; o++) acc[o] = Math.log(acc[o]!);
  return acc;
}

/** Exact 64-bit integer path for the kinds that stay integral. */
function reduceBig(kind: Kind, x: Tensor, mask: boolean[]): BigInt64Array | BigUint64Array {
  const { map, outSize } = outIndexMap(x.dims, mask);
  const v = x.data as BigInt64Array;
  const n = v.length;
  const unsigned = x.type === 'uint64';
  const acc: bigint[] = new Array(outSize);
  const init = kind === 'Prod' ? 1n : kind === 'Max' ? (unsigned ? 0n : -(1n << 63n)) : kind === 'Min' ? (unsigned ? (1n << 64n) - 1n : (1n << 63n) - 1n) : 0n;
  acc.fill(init);
  for (let i = 0; i < n; i++) {
    const o = map[i]!;
    const a = v[i]!;
    switch (kind) {
      case 'Sum':
      case 'Mean':
        acc[o]! += a;
        break;
      case 'SumSquare':
        acc[o]! += a * a;
        break;
      case 'L1':
        acc[o]! += a < 0n ? -a : a;
        break;
      case 'Prod':
        acc[o]! *= a;
        break;
      case 'Max':
        if (a > acc[o]!) acc[o] = a;
        break;
      case 'Min':
        if (a < acc[o]!) acc[o] = a;
        break;
      default:
        break;
    }
  }
  const count = outSize ? BigInt(n / outSize) : 0n;
  const out = unsigned ? new BigUint64Array(outSize) : new BigInt64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    let a = acc[o]!;
    if (kind === 'Mean') a = count === 0n ? 0n : a / count;
    out[o] = unsigned ? BigInt.asUintN(64, a) : BigInt.asIntN(64, a);
  }
  return out;
}

function toDType(dt: DType, dims: readonly number[], v: Float64Array): Tensor {
  if (isFloat(dt)) return fromFloats(dt, dims, dt === 'float64' ? v : Float32Array.from(v));
  const out = allocData(dt, v.length);
  if (isBig(dt)) {
    for (let i = 0; i < v.length; i++) {
      const a = v[i]!;
      (out as BigInt64Array)[i] = Number.isFinite(a) ? BigInt(Math.trunc(a)) : 0n;
    }
    return new Tensor(dt, out, dims);
  }
  if (dt === 'bool') for (let i = 0; i < v.length; i++) (out as Uint8Array)[i] = v[i] ? 1 : 0;
  else (out as Float32Array).set(v.map(Math.trunc));
  return new Tensor(dt, out, dims);
}

function defineReduce(kind: Kind, types: readonly DType[]) {
  defineOp({
    name: `Reduce${kind}`,
    commutes: 'reduce',
    inputs: [1, 2],
    outputs: [1, 1],
    attrs: {
      keepdims: { type: 'int', default: 1, oneOf: [0, 1] },
      noop_with_empty_axes: { type: 'int', default: 0, oneOf: [0, 1] },
    },
    inferShape(ctx) {
      const x = needType(ctx, 0, types, 'data');
      const keep = ctx.attrs.keepdims === 1;
      if (!x.shape) {
        axesOf(ctx, 1);
        return [{ dtype: x.dtype }];
      }
      const plan = reducePlan(ctx, x.shape.length);
      if (!plan) return [{ dtype: x.dtype }];
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, plan.mask, keep) }];
    },
    reference({ inputs, attrs, outputTypes }) {
      const x = inputs[0]!;
      const axesT = inputs[1];
      const rank = x.dims.length;
      const axes = axesT ? axesT.toNumbers().map((a) => (a < 0 ? a + rank : a)) : [];
      if (axes.length === 0 && attrs.noop_with_empty_axes) return [x];
      const mask = new Array<boolean>(rank).fill(axes.length === 0);
      for (const a of axes) mask[a] = true;
      const outDims = outputTypes[0]!.shape as number[];
      const exactBig = isBig(x.type) && ['Sum', 'Mean', 'SumSquare', 'L1', 'Prod', 'Max', 'Min'].includes(kind);
      if (exactBig) return [new Tensor(x.type, reduceBig(kind, x, mask), outDims)];
      return [toDType(x.type, outDims, reduceNumber(kind, x, mask))];
    },
  });
}

defineReduce('Sum', REDUCE_TYPES);
defineReduce('Mean', REDUCE_TYPES);
defineReduce('Max', MINMAX_TYPES);
defineReduce('Min', MINMAX_TYPES);
defineReduce('Prod', REDUCE_TYPES);
defineReduce('L1', REDUCE_TYPES);
defineReduce('L2', REDUCE_TYPES);
defineReduce('LogSum', REDUCE_TYPES);
defineReduce('LogSumExp', REDUCE_TYPES);
defineReduce('SumSquare', REDUCE_TYPES);

// ---------------------------------------------------------------------------------------------------
// ArgMax / ArgMin

function defineArg(name: 'ArgMax' | 'ArgMin') {
  const better = name === 'ArgMax' ? (a: number | bigint, b: number | bigint) => a > b : (a: number | bigint, b: number | bigint) => a < b;
  defineOp({
    name,
    commutes: 'arg',
    inputs: [1, 1],
    outputs: [1, 1],
    attrs: {
      axis: { type: 'int', default: 0 },
      keepdims: { type: 'int', default: 1, oneOf: [0, 1] },
      select_last_index: { type: 'int', default: 0, oneOf: [0, 1] },
    },
    inferShape(ctx) {
      const x = needType(ctx, 0, NUMERIC, 'data');
      if (!x.shape) return [{ dtype: 'int64' }];
      const r = x.shape.length;
      const a = ctx.attrs.axis as number;
      if (a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
      const axis = a < 0 ? a + r : a;
      if (x.shape[axis] === 0) ctx.fail(`cannot take ${name} over an empty axis ${axis}`);
      const mask = x.shape.map((_, i) => i === axis);
      return [{ dtype: 'int64', shape: reducedShape(x.shape, mask, ctx.attrs.keepdims === 1) }];
    },
    reference({ inputs, attrs, outputTypes }) {
      const x = inputs[0]!;
      const r = x.dims.length;
      const axis = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
      const n = x.dims[axis]!;
      const inner = x.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
      const outer = x.dims.slice(0, axis).reduce((p, d) => p * d, 1);
      const v: ArrayLike<number | bigint> = x.type === 'float16' ? floats(x) : (x.data as ArrayLike<number | bigint>);
      const last = attrs.select_last_index === 1;
      const out = new BigInt64Array(outer * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * n * inner + i;
          let best = v[base]!;
          let bi = 0;
          for (let k = 1; k < n; k++) {
            const a = v[base + k * inner]!;
            // ties: first occurrence, or last with select_last_index=1; NaN wins (numpy's argmax/argmin)
            if (best === best && (better(a, best) || (last && a === best) || a !== a)) {
              best = a;
              bi = k;
            }
          }
          out[o * inner + i] = BigInt(bi);
        }
      }
      return [new Tensor('int64', out, outputTypes[0]!.shape as number[])];
    },
  });
}
defineArg('ArgMax');
defineArg('ArgMin');

// ---------------------------------------------------------------------------------------------------
// CumSum

const CUMSUM_TYPES: readonly DType[] = [...FLOATS, 'int32', 'int64', 'uint32', 'uint64'];

/** CumSum / CumProd: one scan along `axis` with `op` (ints of 64 bits as bigint). */
function cumulative(name: string, one: 0 | 1, op: (a: any, b: any) => any): void {
  defineOp({
    name,
    inputs: [2, 2],
    outputs: [1, 1],
    attrs: {
      exclusive: { type: 'int', default: 0, oneOf: [0, 1] },
      reverse: { type: 'int', default: 0, oneOf: [0, 1] },
    },
    inferShape(ctx) {
      const x = needType(ctx, 0, CUMSUM_TYPES, 'x');
      const a: ValueType = needType(ctx, 1, ['int32', 'int64'], 'axis');
      if (a.shape && !(a.shape.length === 0 || (a.shape.length === 1 && (a.shape[0] === 1 || typeof a.shape[0] === 'string'))))
        ctx.fail(`axis must be a scalar, got shape [${a.shape}]`);
      const av = ctx.value(1);
      if (av && av.size !== 1) ctx.fail('axis must hold one value');
      if (av && x.shape) {
        const r = x.shape.length;
        const ax = av.num(0);
        if (ax < -r || ax >= r) ctx.fail(`axis ${ax} out of range for rank ${r}`);
      }
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    reference({ inputs, attrs }) {
      const x = inputs[0]!;
      const r = x.dims.length;
      let axis = inputs[1]!.num(0);
      if (axis < 0) axis += r;
      const n = x.dims[axis]!;
      const inner = x.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
      const outer = x.dims.slice(0, axis).reduce((p, d) => p * d, 1);
      const big = isBig(x.type);
      const src: ArrayLike<number | bigint> = isFloat(x.type) ? floats(x) : (x.data as ArrayLike<number | bigint>);
      const dst: any = isFloat(x.type) ? (x.type === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size)) : allocData(x.type, x.size);
      const excl = attrs.exclusive === 1;
      const rev = attrs.reverse === 1;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * n * inner + i;
          let acc: any = big ? BigInt(one) : one;
          for (let s = 0; s < n; s++) {
            const k = rev ? n - 1 - s : s;
            const p = base + k * inner;
            // exclusive: "the j-th output element would be the sum of the first (j-1) elements"
            if (excl) {
              dst[p] = acc;
              acc = op(acc, src[p]);
            } else {
              acc = op(acc, src[p]);
              dst[p] = acc;
            }
          }
        }
      }
      if (isFloat(x.type)) return [fromFloats(x.type, x.dims, dst)];
      return [new Tensor(x.type, dst, x.dims)];
    },
  });
}
cumulative('CumSum', 0, (a, b) => a + b);
// ONNX CumProd (opset 26): "Performs cumulative product of the input elements along the given axis"; exclusive
// starts from 1
cumulative('CumProd', 1, (a, b) => a * b);

