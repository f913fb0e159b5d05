import { ShapeError } from '../errors.js';
import type { Dim, Node, ValueType } from '../ir/graph.js';
import { type Attrs, type RunCtx, type ShapeCtx, defineOp } from '../ir/registry.js';
import { isConcrete } from '../ir/dims.js';
import { DTYPES, type DType, type TensorData, allocData } from '../tensor/dtype.js';
import { sizeOf, stridesOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { ALL, need, needType, openDims, runShapeCtx } from './util.js';
import { broadcastDims } from './broadcast.js';

/**
 * Shape and layout ops: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat, Split, Slice, Expand,
 * Tile, Pad, Shape, Size, Identity, DepthToSpace, SpaceToDepth, ReverseSequence.
 * Unknown dims of a known-rank result are reported as '?'.
 */

/** Element storage indexed generically (typed arrays and string[] alike). */
type Arr = { [i: number]: any; length: number };

const INDEX: readonly DType[] = ['int32', 'int64'];
const U = '?';

// ---------------------------------------------------------------------------------------------------------
// helpers shared with generate.ts / sequence.ts

/** Concrete output dims k from the run-time shape rule (always concrete at run time). */
export function outDims(ctx: RunCtx, k = 0): number[] {
  const s = ctx.outputTypes[k]?.shape;
  if (!isConcrete(s)) throw new ShapeError(`output ${k} shape is not concrete at run time`);
  return s;
}

/**
 * Constant integer input i (int32/int64), validated: rank 1 (or scalar when `scalarOk`), every value a
 * safe integer unless `clampBig` (then saturated to ±2^53). undefined when absent or not constant.
 */
export function constInts(ctx: ShapeCtx, i: number, what: string, opts: { scalarOk?: boolean; rank1?: boolean; clampBig?: boolean } = {}): number[] | undefined {
  const t = ctx.inputs[i];
  if (!t) return undefined;
  if (!INDEX.includes(t.dtype)) ctx.fail(`${what} has type ${t.dtype}, expected int64 or int32`);
  if (t.shape) {
    if (t.shape.length > 1 || (t.shape.length === 0 && !opts.scalarOk) || (t.shape.length === 1 && opts.rank1 === false))
      ctx.fail(`${what} must be ${opts.scalarOk ? (opts.rank1 === false ? 'a scalar' : 'a scalar or 1-D') : '1-D'}, got rank ${t.shape.length}`);
  }
  const v = ctx.value(i);
  if (!v) return undefined;
  const out = new Array<number>(v.size);
  for (let k = 0; k < v.size; k++) {
    const raw = (v.data as Arr)[k];
    let n = typeof raw === 'bigint' ? Number(raw) : (raw as number);
    if (!Number.isSafeInteger(n)) {
      if (!opts.clampBig) ctx.fail(`${what} value ${String(raw)} is out of range`);
      n = n > 0 ? Number.MAX_SAFE_INTEGER : -Number.MAX_SAFE_INTEGER;
    }
    out[k] = n;
  }
  return out;
}

/** Normalise axis against rank inside a shape rule. */
export function axisIn(ctx: ShapeCtx, axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) ctx.fail(`${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** A product of dims as (constant factor, symbols) so symbolic batch dims survive Flatten/Reshape. */
function symProduct(s: readonly Dim[]): { k: number; syms: string[] } | undefined {
  let k = 1;
  const syms: string[] = [];
  for (const d of s) {
    if (typeof d === 'number') k *= d;
    else if (d === U || d === '') return undefined;
    else syms.push(d);
  }
  return { k, syms: syms.sort() };
}
const fromSym = (p: { k: number; syms: string[] } | undefined): Dim =>
  !p ? U : p.syms.length === 0 ? p.k : p.syms.length === 1 && p.k === 1 ? p.syms[0]! : U;

/** Product of dims: a number, the single symbol of [N, 1, …], or unknown. */
const prodDims = (s: readonly Dim[]): Dim => fromSym(symProduct(s));

/** total / others for Reshape's -1: exact when others' symbols are among total's and the constants divide. */
function quotientDims(total: readonly Dim[], others: readonly Dim[]): Dim {
  const t = symProduct(total);
  const o = symProduct(others);
  if (!t || !o || o.k === 0 || t.k % o.k !== 0) return U;
  const rest = [...t.syms];
  for (const sym of o.syms) {
    const i = rest.indexOf(sym);
    if (i < 0) return U;
    rest.splice(i, 1);
  }
  return fromSym({ k: t.k / o.k, syms: rest });
}

/** Fail when a static shape already exceeds the element limit. */
function checkSize(ctx: ShapeCtx, s: readonly Dim[]): void {
  if (isConcrete(s)) {
    try {
      sizeOf(s);
    } catch (e) {
      ctx.fail((e as Error).message);
    }
  }
}

/**
 * gatherAxes' per-axis source index maps, none for an empty output: a 0 beside a dim of 2^31 - 1 is a valid, empty
 * shape, and its maps were 2^31 callback calls (a stranger's TFLite shape hung a Slice).
 */
function axisMaps(out: readonly number[], at: (axis: number, k: number) => number): Int32Array[] {
  const empty = out.includes(0);
  return out.map((d, a) => (empty ? new Int32Array(0) : Int32Array.from({ length: d }, (_, k) => at(a, k))));
}

/**
 * out[o] = x[Σ map_a[o_a]·stride_a] with one index map per axis (entry < 0 → `fill`). Covers Slice, Pad,
 * Tile, Expand: O(output) work (inner loop along the last axis).
 */
export function gatherAxes(x: Tensor, maps: Int32Array[], outShape: readonly number[], fill?: unknown): Tensor {
  const rank = outShape.length;
  const n = sizeOf(outShape);
  const out = allocData(x.type, n) as Arr;
  if (n === 0) return new Tensor(x.type, out as TensorData, outShape);
  const src = x.data as Arr;
  const fillV = fill ?? (x.type === 'string' ? '' : DTYPES[x.type].array === BigInt64Array || DTYPES[x.type].array === BigUint64Array ? 0n : 0);
  if (rank === 0) {
    out[0] = src[0];
    return new Tensor(x.type, out as TensorData, outShape);
  }
  const st = stridesOf(x.dims);
  const last = maps[rank - 1]!;
  const lastStride = st[rank - 1]!;
  const inner = outShape[rank - 1]!;
  const idx = new Array<number>(rank - 1).fill(0);
  let o = 0;
  const rows = n / inner;
  for (let r = 0; r < rows; r++) {
    let base = 0;
    let skip = false;
    for (let a = 0; a < rank - 1; a++) {
      const m = maps[a]![idx[a]!]!;
      if (m < 0) {
        skip = true;
        break;
      }
      base += m * st[a]!;
    }
    if (skip) for (let k = 0; k < inner; k++) out[o++] = fillV;
    else
      for (let k = 0; k < inner; k++) {
        const m = last[k]!;
        out[o++] = m < 0 ? fillV : src[base + m * lastStride];
      }
    for (let a = rank - 2; a >= 0; a--) {
      if (++idx[a]! < outShape[a]!) break;
      idx[a] = 0;
    }
  }
  return new Tensor(x.type, out as TensorData, outShape);
}

/** Generic permuted copy: out dims = dims[perm[i]]. O(size). */
export function transposeData(type: DType, src: Arr, dims: readonly number[], perm: readonly number[]): { data: TensorData; dims: number[] } {
  const rank = dims.length;
  const outDims = perm.map((p) => dims[p]!);
  const n = sizeOf(outDims);
  const out = allocData(type, n) as Arr;
  if (n === 0) return { data: out as TensorData, dims: outDims };
  const st = stridesOf(dims);
  const ps = perm.map((p) => st[p]!);
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let o = 0; o < n; o++) {
    out[o] = src[off];
    for (let a = rank - 1; a >= 0; a--) {
      off += ps[a]!;
      if (++idx[a]! < outDims[a]!) break;
      off -= ps[a]! * outDims[a]!;
      idx[a] = 0;
    }
  }
  return { data: out as TensorData, dims: outDims };
}

/** Concatenate tensors (same dtype/rank, equal dims except `axis`) along `axis` into `outShape`. */
export function concatTensors(type: DType, xs: readonly Tensor[], axis: number, outShape: readonly number[]): Tensor {
  const n = sizeOf(outShape);
  const out = allocData(type, n) as Arr;
  let outer = 1;
  for (let a = 0; a < axis; a++) outer *= outShape[a]!;
  const rowOut = outer === 0 ? 0 : n / outer;
  let colOff = 0;
  for (const x of xs) {
    const src = x.data as Arr;
    const rowIn = outer === 0 ? 0 : x.size / outer;
    const typed = ArrayBuffer.isView(src) && ArrayBuffer.isView(out);
    for (let r = 0; r < outer; r++) {
      const so = r * rowIn;
      const dOff = r * rowOut + colOff;
      // typed arrays: one block copy per row (memcpy), strings: element by element
      if (typed) (out as Float32Array).set((src as Float32Array).subarray(so, so + rowIn), dOff);
      else for (let k = 0; k < rowIn; k++) out[dOff + k] = src[so + k];
    }
    colOff += rowIn;
  }
  return new Tensor(type, out as TensorData, outShape);
}

/** Split `x` along `axis` into chunks of the given sizes (sum = dims[axis]). */
export function splitTensor(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const dims = x.dims;
  let outer = 1;
  for (let a = 0; a < axis; a++) outer *= dims[a]!;
  let inner = 1;
  for (let a = axis + 1; a < dims.length; a++) inner *= dims[a]!;
  const src = x.data as Arr;
  const rowIn = dims[axis]! * inner;
  const res: Tensor[] = [];
  let start = 0;
  for (const s of sizes) {
    const od = [...dims];
    od[axis] = s;
    const cnt = s * inner;
    const out = allocData(x.type, outer * cnt) as Arr;
    for (let r = 0; r < outer; r++) {
      const so = r * rowIn + start * inner;
      for (let k = 0; k < cnt; k++) out[r * cnt + k] = src[so + k];
    }
    res.push(new Tensor(x.type, out as TensorData, od));
    start += s;
  }
  return res;
}


const sameType = (x: ValueType, shape: Dim[] | undefined): ValueType => ({ dtype: x.dtype, ...(shape ? { shape } : {}) });

// ---------------------------------------------------------------------------------------------------------
// Reshape

defineOp({
  name: 'Reshape',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { allowzero: { type: 'int', default: 0, oneOf: [0, 1] } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'data');
    const st = needType(ctx, 1, ['int64'], 'shape');
    if (st.shape && st.shape.length !== 1) ctx.fail(`shape must be 1-D, got rank ${st.shape.length}`);
    const s = constInts(ctx, 1, 'shape');
    if (!s) {
      const len = st.shape?.[0];
      return [sameType(x, typeof len === 'number' ? openDims(ctx, len, `shape of length ${len}`) : undefined)];
    }
    const allowzero = ctx.attrs.allowzero === 1;
    let neg = -1;
    s.forEach((d, i) => {
      if (d < -1) ctx.fail(`shape[${i}] = ${d} is invalid (dims must be ≥ -1)`);
      if (d === -1) {
        if (neg >= 0) ctx.fail('shape has more than one -1');
        neg = i;
      }
    });
    // ONNX: "if allowzero is set, it is invalid for the shape to contain both a zero value and -1"
    if (allowzero && neg >= 0 && s.includes(0)) ctx.fail('allowzero=1 shape contains both 0 and -1');
    const out: Dim[] = s.map((d, i) => {
      if (d === 0 && !allowzero) {
        if (!x.shape) return U;
        if (i >= x.shape.length) ctx.fail(`shape[${i}] = 0 copies input dim ${i}, but input has rank ${x.shape.length}`);
        return x.shape[i]!;
      }
      return d;
    });
    const total = x.shape ? prodDims(x.shape) : U;
    if (neg >= 0) {
      const others = prodDims(out.filter((_, i) => i !== neg));
      if (typeof total === 'number' && typeof others === 'number') {
        if (others === 0 || total % others !== 0) ctx.fail(`cannot reshape [${x.shape!.join(',')}] into [${s.join(',')}]`);
        out[neg] = total / others;
      } else out[neg] = x.shape ? quotientDims(x.shape, out.filter((_, i) => i !== neg)) : U;
    }
    const prod = prodDims(out);
    if (typeof total === 'number' && typeof prod === 'number' && total !== prod) ctx.fail(`cannot reshape [${x.shape!.join(',')}] (${total} elements) into [${out.join(',')}] (${prod} elements)`);
    checkSize(ctx, out);
    return [sameType(x, out)];
  },
  reference(ctx) {
    return [ctx.inputs[0]!.reshape(outDims(ctx))];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Flatten

defineOp({
  name: 'Flatten',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', default: 1 } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'input');
    if (!x.shape) return [sameType(x, [U, U])];
    const r = x.shape.length;
    let axis: number = ctx.attrs.axis;
    // ONNX: "Accepted range is [-r, r]"
    if (axis < -r || axis > r) ctx.fail(`axis ${axis} is out of range [-${r}, ${r}]`);
    if (axis < 0) axis += r;
    return [sameType(x, [prodDims(x.shape.slice(0, axis)), prodDims(x.shape.slice(axis))])];
  },
  reference(ctx) {
    return [ctx.inputs[0]!.reshape(outDims(ctx))];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Identity (tensors; sequences pass through the executor unchanged as well)

defineOp({
  name: 'Identity',
  commutes: 'elementwise',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = need(ctx, 0, 'input');
    return [{ ...x }];
  },
  reference(ctx) {
    return [ctx.inputs[0]!];
  },
  runValues(ctx) {
    return [ctx.inputs[0]!];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Transpose

defineOp({
  name: 'Transpose',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { perm: { type: 'ints' } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'data');
    const perm: number[] | undefined = ctx.attrs.perm;
    if (!x.shape) {
      if (perm) return [sameType(x, new Array<Dim>(perm.length).fill(U))];
      return [sameType(x, undefined)];
    }
    const r = x.shape.length;
    const p = perm ?? x.shape.map((_, i) => r - 1 - i);
    if (p.length !== r) ctx.fail(`perm has ${p.length} entries, input has rank ${r}`);
    const seen = new Set<number>();
    for (const a of p) {
      if (!(a >= 0 && a < r) || seen.has(a)) ctx.fail(`perm [${p.join(',')}] is not a permutation of 0..${r - 1}`);
      seen.add(a);
    }
    return [sameType(x, p.map((a) => x.shape![a]!))];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const r = x.dims.length;
    const perm: number[] = ctx.attrs.perm ?? x.dims.map((_, i) => r - 1 - i);
    const { data, dims } = transposeData(x.type, x.data as Arr, x.dims, perm);
    return [new Tensor(x.type, data, dims)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Squeeze / Unsqueeze (axes as input, opset 13+)

defineOp({
  name: 'Squeeze',
  inputs: [1, 2],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'data');
    const axesGiven = !!ctx.inputs[1];
    if (axesGiven) needType(ctx, 1, ['int64'], 'axes');
    const axes = constInts(ctx, 1, 'axes');
    if (!x.shape) return [sameType(x, undefined)];
    const r = x.shape.length;
    if (axesGiven && !axes) {
      const n = ctx.inputs[1]!.shape?.[0];
      return [sameType(x, typeof n === 'number' && r - n >= 0 ? new Array<Dim>(r - n).fill(U) : undefined)];
    }
    if (!axes) {
      // ONNX: "If axes is not provided, all the single dimensions will be removed from the shape"
      if (x.shape.some((d) => typeof d !== 'number')) return [sameType(x, undefined)];
      return [sameType(x, x.shape.filter((d) => d !== 1))];
    }
    const drop = new Set<number>();
    for (const a of axes) {
      const n = axisIn(ctx, a, r, 'axes entry');
      if (drop.has(n)) ctx.fail(`axes [${axes.join(',')}] has a duplicate`);
      const d = x.shape[n]!;
      // ONNX: "If an axis is selected with shape entry not equal to one, an error is raised"
      if (typeof d === 'number' && d !== 1) ctx.fail(`cannot squeeze axis ${a}: dim is ${d}, not 1`);
      drop.add(n);
    }
    return [sameType(x, x.shape.filter((_, i) => !drop.has(i)))];
  },
  reference(ctx) {
    return [ctx.inputs[0]!.reshape(outDims(ctx))];
  },
});

defineOp({
  name: 'Unsqueeze',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'data');
    const at = needType(ctx, 1, ['int64'], 'axes');
    const axes = constInts(ctx, 1, 'axes', { scalarOk: true });
    if (!axes) {
      const n = at.shape?.length === 0 ? 1 : at.shape?.[0];
      return [sameType(x, x.shape && typeof n === 'number' ? openDims(ctx, x.shape.length + n, `axes of length ${n}`) : undefined)];
    }
    if (!x.shape) return [sameType(x, undefined)];
    const r = x.shape.length + axes.length;
    const ins = new Set<number>();
    for (const a of axes) {
      // ONNX: "The rank of the output tensor (r) ... accepted range is [-r, r-1]"
      const n = axisIn(ctx, a, r, 'axes entry');
      if (ins.has(n)) ctx.fail(`axes [${axes.join(',')}] has a duplicate`);
      ins.add(n);
    }
    const out: Dim[] = [];
    let k = 0;
    for (let i = 0; i < r; i++) out.push(ins.has(i) ? 1 : x.shape[k++]!);
    return [sameType(x, out)];
  },
  reference(ctx) {
    return [ctx.inputs[0]!.reshape(outDims(ctx))];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Concat

/** Shape rule shared by Concat and ConcatFromSequence-like ops. */
export function concatShape(ctx: ShapeCtx, ins: readonly ValueType[], axisAttr: number): Dim[] | undefined {
  const dtype = ins[0]!.dtype;
  for (let i = 1; i < ins.length; i++) if (ins[i]!.dtype !== dtype) ctx.fail(`input ${i} has type ${ins[i]!.dtype}, input 0 has ${dtype}`);
  const known = ins.find((t) => t.shape)?.shape;
  if (!known) return undefined;
  const r = known.length;
  if (r === 0) ctx.fail('cannot concatenate scalars');
  const axis = axisIn(ctx, axisAttr, r);
  const out: Dim[] = [...known];
  let sum: Dim = 0;
  for (let i = 0; i < ins.length; i++) {
    const s = ins[i]!.shape;
    if (!s) {
      sum = U;
      continue;
    }
    if (s.length !== r) ctx.fail(`input ${i} has rank ${s.length}, expected ${r}`);
    for (let a = 0; a < r; a++) {
      if (a === axis) continue;
      const d = s[a]!;
      const o = out[a]!;
      if (typeof d === 'number' && typeof o === 'number' && d !== o) ctx.fail(`input ${i} has dim ${a} = ${d}, expected ${o} (all dims but axis ${axis} must match)`);
      if (typeof o !== 'number' && typeof d === 'number') out[a] = d;
    }
    const d = s[axis]!;
    sum = typeof sum === 'number' && typeof d === 'number' ? sum + d : U;
  }
  out[axis] = sum;
  checkSize(ctx, out);
  return out;
}

defineOp({
  name: 'Concat',
  commutes: 'concat',
  inputs: [1, Infinity],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', required: true } },
  inferShape(ctx) {
    const ins = ctx.inputs.map((_, i) => needType(ctx, i, ALL, `input ${i}`));
    return [sameType(ins[0]!, concatShape(ctx, ins, ctx.attrs.axis))];
  },
  reference(ctx) {
    const xs = ctx.inputs as Tensor[];
    const out = outDims(ctx);
    const axis = ctx.attrs.axis < 0 ? ctx.attrs.axis + out.length : ctx.attrs.axis;
    return [concatTensors(xs[0]!.type, xs, axis, out)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Split (opset 18: split input or num_outputs)

/** Chunk sizes per ONNX Split-18 for a concrete dim. */
function splitSizes(ctx: ShapeCtx, dim: number, split: number[] | undefined, numOutputs: number | undefined, n: number): number[] {
  if (split) {
    if (split.length !== n) ctx.fail(`split has ${split.length} entries but the node has ${n} outputs`);
    if (split.some((s) => s < 0)) ctx.fail(`split [${split.join(',')}] has a negative entry`);
    const sum = split.reduce((a, b) => a + b, 0);
    if (sum !== dim) ctx.fail(`split [${split.join(',')}] sums to ${sum}, but the axis has ${dim}`);
    return split;
  }
  // ONNX: "If the tensor is not evenly splittable the last chunk will be smaller"
  if (numOutputs !== undefined) {
    const chunk = Math.ceil(dim / numOutputs);
    const out: number[] = [];
    let left = dim;
    for (let i = 0; i < numOutputs; i++) {
      const c = Math.max(0, Math.min(chunk, left));
      out.push(c);
      left -= c;
    }
    return out;
  }
  return ctx.fail(`axis of size ${dim}: neither split nor num_outputs given for ${n} outputs`);
}

defineOp({
  name: 'Split',
  commutes: 'split',
  inputs: [1, 2],
  outputs: [1, Infinity],
  attrs: { axis: { type: 'int', default: 0 }, num_outputs: { type: 'int' } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'input');
    const n = ctx.numOutputs;
    const numOutputs: number | undefined = ctx.attrs.num_outputs;
    const hasSplit = !!ctx.inputs[1];
    if (hasSplit) needType(ctx, 1, ['int64'], 'split');
    // ONNX: "Either input 'split' or the attribute 'num_outputs' should be specified, but not both"
    if (hasSplit && numOutputs !== undefined) ctx.fail("both the 'split' input and the num_outputs attribute are given");
    if (!hasSplit && numOutputs === undefined) ctx.fail("neither the 'split' input nor the num_outputs attribute is given");
    if (numOutputs !== undefined) {
      if (numOutputs < 1) ctx.fail(`num_outputs must be ≥ 1, got ${numOutputs}`);
      if (numOutputs !== n) ctx.fail(`num_outputs = ${numOutputs} but the node has ${n} outputs`);
    }
    const split = constInts(ctx, 1, 'split');
    if (!x.shape) return new Array(n).fill(0).map(() => sameType(x, undefined));
    const axis = axisIn(ctx, ctx.attrs.axis, x.shape.length);
    const d = x.shape[axis]!;
    let sizes: Dim[];
    if (split && split.length !== n) ctx.fail(`split has ${split.length} entries but the node has ${n} outputs`);
    if (typeof d === 'number' && (split || !hasSplit)) sizes = splitSizes(ctx, d, split, numOutputs, n);
    else if (split) sizes = split;
    else sizes = new Array<Dim>(n).fill(U);
    return sizes.map((s) => {
      const o = [...x.shape!];
      o[axis] = s;
      return sameType(x, o);
    });
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const axis = ctx.attrs.axis < 0 ? ctx.attrs.axis + x.dims.length : ctx.attrs.axis;
    return splitTensor(x, axis, ctx.outputTypes.map((_, k) => outDims(ctx, k)[axis]!));
  },
});

// ---------------------------------------------------------------------------------------------------------
// Slice (opset 13)

interface SliceAxis {
  start: number;
  step: number;
  len: number;
}

/** ONNX Slice clamping for one axis of concrete size `dim`. */
function sliceAxis(dim: number, start: number, end: number, step: number): SliceAxis {
  // ONNX: "If the value passed to start or end is larger than n ... it represents n. For slicing to the end
  // of a dimension with unknown size, INT_MAX; for negative steps, clamped to [0, dims-1] / [-1, dims-1]"
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
  } else {
    start = Math.min(Math.max(start, 0), dim - 1);
    end = Math.min(Math.max(end, -1), dim - 1);
  }
  const len = Math.max(0, Math.ceil((end - start) / step));
  return { start, step, len };
}

interface SliceSpec {
  axes: number[];
  starts: number[];
  ends: number[];
  steps: number[];
}

function sliceSpec(ctx: ShapeCtx, rank: number | undefined): SliceSpec | undefined {
  needType(ctx, 0, ALL, 'data');
  const st = needType(ctx, 1, INDEX, 'starts');
  const et = needType(ctx, 2, INDEX, 'ends');
  if (st.dtype !== et.dtype) ctx.fail(`starts (${st.dtype}) and ends (${et.dtype}) must have the same type`);
  for (const i of [3, 4]) if (ctx.inputs[i] && ctx.inputs[i]!.dtype !== st.dtype) ctx.fail(`${i === 3 ? 'axes' : 'steps'} has type ${ctx.inputs[i]!.dtype}, starts has ${st.dtype}`);
  const starts = constInts(ctx, 1, 'starts', { clampBig: true });
  const ends = constInts(ctx, 2, 'ends', { clampBig: true });
  const axesIn = constInts(ctx, 3, 'axes');
  const stepsIn = constInts(ctx, 4, 'steps', { clampBig: true });
  if (!starts || !ends || (ctx.inputs[3] && !axesIn) || (ctx.inputs[4] && !stepsIn)) return undefined;
  const k = starts.length;
  if (ends.length !== k) ctx.fail(`starts has ${k} entries, ends has ${ends.length}`);
  if (axesIn && axesIn.length !== k) ctx.fail(`axes has ${axesIn.length} entries, starts has ${k}`);
  if (stepsIn && stepsIn.length !== k) ctx.fail(`steps has ${stepsIn.length} entries, starts has ${k}`);
  if (rank === undefined) return undefined;
  const axes = (axesIn ?? starts.map((_, i) => i)).map((a) => axisIn(ctx, a, rank, 'axes entry'));
  if (new Set(axes).size !== axes.length) ctx.fail(`axes [${axes.join(',')}] has a duplicate`);
  const steps = stepsIn ?? new Array<number>(k).fill(1);
  if (steps.some((s) => s === 0)) ctx.fail('steps must not be 0');
  return { axes, starts, ends, steps };
}

defineOp({
  name: 'Slice',
  commutes: 'slice',
  inputs: [3, 5],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = need(ctx, 0, 'data');
    const spec = sliceSpec(ctx, x.shape?.length);
    if (!x.shape) return [sameType(x, undefined)];
    if (!spec) {
      // axes known (given as a constant) → other dims are preserved
      const axes = constInts(ctx, 3, 'axes');
      if (axes) {
        const s = new Set(axes.map((a) => axisIn(ctx, a, x.shape!.length, 'axes entry')));
        return [sameType(x, x.shape.map((d, i) => (s.has(i) ? U : d)))];
      }
      return [sameType(x, x.shape.map(() => U))];
    }
    const out: Dim[] = [...x.shape];
    spec.axes.forEach((a, i) => {
      const d = x.shape![a]!;
      out[a] = typeof d === 'number' ? sliceAxis(d, spec.starts[i]!, spec.ends[i]!, spec.steps[i]!).len : U;
    });
    return [sameType(x, out)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const per = sliceStartSteps(ctx.node, ctx.attrs, ctx.inputs);
    const out = outDims(ctx);
    const maps = axisMaps(out, (a, k) => per[a]!.start + k * per[a]!.step);
    return [gatherAxes(x, maps, out)];
  },
});

/** Per axis of the data, the first index and the step a Slice with these concrete inputs reads (also for kernels). */
export function sliceStartSteps(node: Node, attrs: Attrs, inputs: readonly (Tensor | undefined)[]): { start: number; step: number }[] {
  const x = inputs[0]!;
  const spec = sliceSpec(runShapeCtx(node, attrs, inputs), x.dims.length)!;
  const per = x.dims.map(() => ({ start: 0, step: 1 }));
  spec.axes.forEach((a, i) => {
    const s = sliceAxis(x.dims[a]!, spec.starts[i]!, spec.ends[i]!, spec.steps[i]!);
    per[a] = { start: s.start, step: s.step };
  });
  return per;
}

// ---------------------------------------------------------------------------------------------------------
// Expand, Tile

defineOp({
  name: 'Expand',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'input');
    const st = needType(ctx, 1, ['int64'], 'shape');
    if (st.shape && st.shape.length !== 1) ctx.fail(`shape must be 1-D, got rank ${st.shape.length}`);
    const s = constInts(ctx, 1, 'shape');
    if (!s) {
      const n = st.shape?.[0];
      if (typeof n === 'number' && x.shape) return [sameType(x, openDims(ctx, Math.max(n, x.shape.length), `shape of length ${n}`))];
      return [sameType(x, undefined)];
    }
    if (s.some((d) => d < 0)) ctx.fail(`shape [${s.join(',')}] has a negative dim`);
    if (!x.shape) return [sameType(x, undefined)];
    // ONNX: "Broadcast the input tensor following the given shape and the broadcast rule" (bidirectional)
    const out = broadcastDims(x.shape, s, ctx.fail);
    checkSize(ctx, out);
    return [sameType(x, out)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const out = outDims(ctx);
    const r = out.length;
    const xd = [...new Array<number>(r - x.dims.length).fill(1), ...x.dims];
    const maps = axisMaps(out, (a, k) => (xd[a] === 1 ? 0 : k));
    return [gatherAxes(x.reshape(xd), maps, out)];
  },
});

defineOp({
  name: 'Tile',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'input');
    const rt = needType(ctx, 1, ['int64'], 'repeats');
    if (rt.shape && rt.shape.length !== 1) ctx.fail(`repeats must be 1-D, got rank ${rt.shape.length}`);
    if (x.shape && rt.shape && typeof rt.shape[0] === 'number' && rt.shape[0] !== x.shape.length)
      ctx.fail(`repeats has ${rt.shape[0]} entries, input has rank ${x.shape.length}`);
    const reps = constInts(ctx, 1, 'repeats');
    if (!x.shape) return [sameType(x, undefined)];
    if (!reps) return [sameType(x, x.shape.map(() => U))];
    if (reps.length !== x.shape.length) ctx.fail(`repeats has ${reps.length} entries, input has rank ${x.shape.length}`);
    if (reps.some((r) => r < 0)) ctx.fail(`repeats [${reps.join(',')}] has a negative entry`);
    const out = x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i]! : reps[i] === 1 ? d : reps[i] === 0 ? 0 : U));
    checkSize(ctx, out);
    return [sameType(x, out)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const out = outDims(ctx);
    const maps = axisMaps(out, (a, k) => k % x.dims[a]!);
    return [gatherAxes(x, maps, out)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Pad (opset 21: pads / constant_value / axes inputs; constant, reflect, edge, wrap)

defineOp({
  name: 'Pad',
  commutes: 'pad',
  inputs: [2, 4],
  outputs: [1, 1],
  attrs: { mode: { type: 'string', default: 'constant', oneOf: ['constant', 'reflect', 'edge', 'wrap'] } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'data');
    needType(ctx, 1, ['int64'], 'pads');
    if (ctx.inputs[2]) {
      const cv = needType(ctx, 2, [x.dtype], 'constant_value');
      if (cv.shape && cv.shape.length > 1) ctx.fail(`constant_value must be a scalar, got rank ${cv.shape.length}`);
      if (cv.shape && cv.shape.length === 1 && typeof cv.shape[0] === 'number' && cv.shape[0] !== 1) ctx.fail('constant_value must hold one element');
    }
    if (ctx.inputs[3]) needType(ctx, 3, INDEX, 'axes');
    const pads = constInts(ctx, 1, 'pads');
    const axesIn = constInts(ctx, 3, 'axes');
    if (!x.shape) return [sameType(x, undefined)];
    const r = x.shape.length;
    if (!pads || (ctx.inputs[3] && !axesIn)) return [sameType(x, x.shape.map(() => U))];
    const axes = (axesIn ?? x.shape.map((_, i) => i)).map((a) => axisIn(ctx, a, r, 'axes entry'));
    if (new Set(axes).size !== axes.length) ctx.fail(`axes [${axes.join(',')}] has a duplicate`);
    if (pads.length !== 2 * axes.length) ctx.fail(`pads has ${pads.length} entries, expected ${2 * axes.length}`);
    const mode: string = ctx.attrs.mode;
    const out: Dim[] = [...x.shape];
    axes.forEach((a, i) => {
      const d = x.shape![a]!;
      const pb = pads[i]!;
      const pe = pads[i + axes.length]!;
      if (typeof d !== 'number') {
        out[a] = pb === 0 && pe === 0 ? d : U;
        return;
      }
      const o = d + pb + pe;
      if (o < 0) ctx.fail(`axis ${a}: pads ${pb}+${pe} remove more than the ${d} elements`);
      if (mode !== 'constant' && (pb > 0 || pe > 0)) {
        if (d === 0) ctx.fail(`axis ${a}: cannot ${mode}-pad an empty axis`);
        // onnxruntime: reflect pads must be smaller than the dim
        if (mode === 'reflect' && (pb >= d || pe >= d) && d > 1) ctx.fail(`axis ${a}: reflect pads ${pb},${pe} must be smaller than the dim ${d}`);
      }
      out[a] = o;
    });
    checkSize(ctx, out);
    return [sameType(x, out)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const out = outDims(ctx);
    const r = x.dims.length;
    const pads = ctx.inputs[1]!.toNumbers();
    const axes = ctx.inputs[3] ? ctx.inputs[3].toNumbers().map((a) => (a < 0 ? a + r : a)) : x.dims.map((_, i) => i);
    const mode: string = ctx.attrs.mode;
    const pb = new Array<number>(r).fill(0);
    axes.forEach((a, i) => (pb[a] = pads[i]!));
    const cv = ctx.inputs[2];
    const fill = cv && cv.size > 0 ? (cv.data as Arr)[0] : undefined;
    const maps = axisMaps(out, (a, o) => {
      const d = x.dims[a]!;
      const i = o - pb[a]!;
      if (i >= 0 && i < d) return i;
      if (mode === 'constant') return -1;
      if (mode === 'edge') return i < 0 ? 0 : d - 1;
      if (mode === 'wrap') return ((i % d) + d) % d;
      if (d === 1) return 0;
      // reflect without repeating the edge: period 2(d-1)
      const p = 2 * (d - 1);
      const k = ((i % p) + p) % p;
      return k >= d ? p - k : k;
    });
    return [gatherAxes(x, maps, out, fill)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Shape, Size (fold from static types)

function shapeRange(ctx: ShapeCtx, rank: number): [number, number] {
  // ONNX: "Negative value means counting dimensions from the back ... clamped to the range [0, r]"
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(ctx.attrs.start);
  const end = ctx.attrs.end === undefined ? rank : clamp(ctx.attrs.end);
  return [start, Math.max(start, end)];
}

defineOp({
  name: 'Shape',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { start: { type: 'int', default: 0 }, end: { type: 'int' } },
  inferShape(ctx) {
    const x = need(ctx, 0, 'data');
    if (!x.shape) return [{ dtype: 'int64', shape: [U] }];
    const [s, e] = shapeRange(ctx, x.shape.length);
    return [{ dtype: 'int64', shape: [e - s] }];
  },
  constantFromTypes(ctx) {
    const x = ctx.inputs[0];
    if (!x?.shape) return undefined;
    const [s, e] = shapeRange(ctx, x.shape.length);
    const dims = x.shape.slice(s, e);
    if (!isConcrete(dims)) return undefined;
    return [new Tensor('int64', BigInt64Array.from(dims, BigInt), [dims.length])];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const dims = x.dims;
    const [s, e] = shapeRange({ attrs: ctx.attrs } as ShapeCtx, dims.length);
    const d = dims.slice(s, e);
    return [new Tensor('int64', BigInt64Array.from(d, BigInt), [d.length])];
  },
});

defineOp({
  name: 'Size',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    need(ctx, 0, 'data');
    return [{ dtype: 'int64', shape: [] }];
  },
  constantFromTypes(ctx) {
    const x = ctx.inputs[0];
    if (!x?.shape || !isConcrete(x.shape)) return undefined;
    return [new Tensor('int64', BigInt64Array.of(BigInt(sizeOf(x.shape))), [])];
  },
  reference(ctx) {
    return [new Tensor('int64', BigInt64Array.of(BigInt(ctx.inputs[0]!.size)), [])];
  },
});

// ---------------------------------------------------------------------------------------------------------
// DepthToSpace / SpaceToDepth

function blockShape(ctx: ShapeCtx, toSpace: boolean): ValueType {
  const x = needType(ctx, 0, ALL, 'input');
  const b: number = ctx.attrs.blocksize;
  const nhwc = ctx.attrs.data_layout === 'NHWC';
  if (!(b >= 1)) ctx.fail(`blocksize must be ≥ 1, got ${b}`);
  if (!x.shape) return sameType(x, [U, U, U, U]);
  if (x.shape.length !== 4) ctx.fail(`input must be 4-D [N,${nhwc ? 'H,W,C' : 'C,H,W'}], got rank ${x.shape.length}`);
  const [n, c, h, w] = (nhwc ? [0, 3, 1, 2].map((a) => x.shape![a]) : x.shape) as [Dim, Dim, Dim, Dim];
  const mul = (d: Dim, k: number): Dim => (typeof d === 'number' ? d * k : b === 1 ? d : U);
  if (toSpace) {
    if (typeof c === 'number' && c % (b * b) !== 0) ctx.fail(`channels ${c} are not divisible by blocksize² = ${b * b}`);
    const c2 = typeof c === 'number' ? c / (b * b) : b === 1 ? c : U;
    return sameType(x, nhwc ? [n, mul(h, b), mul(w, b), c2] : [n, c2, mul(h, b), mul(w, b)]);
  }
  if (typeof h === 'number' && h % b !== 0) ctx.fail(`height ${h} is not divisible by blocksize ${b}`);
  if (typeof w === 'number' && w % b !== 0) ctx.fail(`width ${w} is not divisible by blocksize ${b}`);
  const div = (d: Dim): Dim => (typeof d === 'number' ? d / b : b === 1 ? d : U);
  return sameType(x, [n, mul(c, b * b), div(h), div(w)]);
}

defineOp({
  name: 'DepthToSpace',
  inputs: [1, 1],
  outputs: [1, 1],
  // data_layout NHWC: an edgeq extension (TFLite DEPTH_TO_SPACE; the layout pass makes it NCHW)
  attrs: { blocksize: { type: 'int', required: true }, mode: { type: 'string', default: 'DCR', oneOf: ['DCR', 'CRD'] }, data_layout: { type: 'string', default: 'NCHW', oneOf: ['NCHW', 'NHWC'] } },
  inferShape(ctx) {
    return [blockShape(ctx, true)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const { dims, perm } = depthToSpaceView(x.dims, ctx.attrs.blocksize, ctx.attrs.mode === 'DCR', ctx.attrs.data_layout === 'NHWC');
    const { data } = transposeData(x.type, x.data as Arr, dims, perm);
    return [new Tensor(x.type, data, outDims(ctx))];
  },
});

/**
 * DepthToSpace as a 6-D transpose of its input: the input viewed as `dims`, permuted by `perm`, is the output.
 * ONNX DCR: reshape [N, b, b, C/b², H, W], transpose [0,3,4,1,5,2]; CRD: [N, C/b², b, b, H, W], [0,1,4,2,5,3].
 * NHWC (TFLite depth_to_space.h, DCR order: out[n, h·b + i, w·b + j, c] = in[n, h, w, (i·b + j)·C/b² + c]):
 * [N, H, W, b, b, C/b²] by [0,1,3,2,4,5]; CRD likewise [N, H, W, C/b², b, b] by [0,1,4,2,5,3].
 */
export function depthToSpaceView(x: readonly number[], b: number, dcr: boolean, nhwc: boolean): { dims: number[]; perm: number[] } {
  const [n, c, h, w] = (nhwc ? [x[0], x[3], x[1], x[2]] : x) as [number, number, number, number];
  const c2 = c / (b * b);
  if (nhwc) return dcr ? { dims: [n, h, w, b, b, c2], perm: [0, 1, 3, 2, 4, 5] } : { dims: [n, h, w, c2, b, b], perm: [0, 1, 4, 2, 5, 3] };
  return dcr ? { dims: [n, b, b, c2, h, w], perm: [0, 3, 4, 1, 5, 2] } : { dims: [n, c2, b, b, h, w], perm: [0, 1, 4, 2, 5, 3] };
}

defineOp({
  name: 'SpaceToDepth',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { blocksize: { type: 'int', required: true } },
  inferShape(ctx) {
    return [blockShape(ctx, false)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const b: number = ctx.attrs.blocksize;
    const [n, c, h, w] = x.dims as [number, number, number, number];
    // ONNX: reshape [N, C, H/b, b, W/b, b], transpose [0,3,5,1,2,4], reshape [N, C·b², H/b, W/b]
    const { data } = transposeData(x.type, x.data as Arr, [n, c, h / b, b, w / b, b], [0, 3, 5, 1, 2, 4]);
    return [new Tensor(x.type, data, outDims(ctx))];
  },
});

// ---------------------------------------------------------------------------------------------------------
// ReverseSequence

defineOp({
  name: 'ReverseSequence',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { batch_axis: { type: 'int', default: 1, oneOf: [0, 1] }, time_axis: { type: 'int', default: 0, oneOf: [0, 1] } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'input');
    const sl = needType(ctx, 1, ['int64'], 'sequence_lens');
    const ba: number = ctx.attrs.batch_axis;
    const ta: number = ctx.attrs.time_axis;
    if (ba === ta) ctx.fail('batch_axis and time_axis must differ');
    if (x.shape && x.shape.length < 2) ctx.fail(`input must have rank ≥ 2, got ${x.shape.length}`);
    if (sl.shape && sl.shape.length !== 1) ctx.fail(`sequence_lens must be 1-D, got rank ${sl.shape.length}`);
    if (x.shape && sl.shape) {
      const b = x.shape[ba]!;
      const k = sl.shape[0]!;
      if (typeof b === 'number' && typeof k === 'number' && b !== k) ctx.fail(`sequence_lens has ${k} entries, batch size is ${b}`);
    }
    const lens = constInts(ctx, 1, 'sequence_lens');
    if (lens && x.shape) {
      const t = x.shape[ta]!;
      lens.forEach((l, i) => {
        if (l < 0 || (typeof t === 'number' && l > t)) ctx.fail(`sequence_lens[${i}] = ${l} is outside [0, ${t}]`);
      });
    }
    return [sameType(x, x.shape)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const lens = ctx.inputs[1]!.toNumbers();
    const ba: number = ctx.attrs.batch_axis;
    const ta: number = ctx.attrs.time_axis;
    // per batch entry entry: reverse the first lens[b] steps along time_axis
    const st = stridesOf(x.dims);
    const src = x.data as Arr;
    const out = allocData(x.type, x.size) as Arr;
    for (let i = 0; i < x.size; i++) out[i] = src[i];
    let inner = 1;
    for (let a = 2; a < x.dims.length; a++) inner *= x.dims[a]!;
    for (let b = 0; b < x.dims[ba]!; b++) {
      const l = lens[b]!;
      for (let t = 0; t < l; t++) {
        const dst = b * st[ba]! + t * st[ta]!;
        const from = b * st[ba]! + (l - 1 - t) * st[ta]!;
        for (let k = 0; k < inner; k++) out[dst + k] = src[from + k];
      }
    }
    return [new Tensor(x.type, out as TensorData, x.dims)];
  },
});

