import type { Dim } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import { type DType, allocData } from '../tensor/dtype.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { ALL, floats, fromFloats, need, needType } from './util.js';

/** Gather, GatherElements, GatherND, ScatterElements, Scatter (deprecated alias), ScatterND. */

const IDX: readonly DType[] = ['int32', 'int64'];

const prod = (d: readonly number[]) => d.reduce((p, x) => p * x, 1);

function normAxisAttr(ctx: ShapeCtx, a: number, rank: number): number {
  if (a < -rank || a >= rank) ctx.fail(`axis ${a} out of range for rank ${rank}`);
  return a < 0 ? a + rank : a;
}

/** Fail unless every value of index input `i` lies in [-size, size-1] (size per position via `sizeAt`). */
function checkIndices(ctx: ShapeCtx, i: number, sizeAt: (k: number) => number | undefined, what = 'indices'): void {
  const v = ctx.value(i);
  if (!v) return;
  for (let k = 0; k < v.size; k++) {
    const s = sizeAt(k);
    if (s === undefined) continue;
    const x = v.num(k);
    // ONNX: "All index values are expected to be within bounds [-s, s-1] along axis of size s"
    if (x < -s || x >= s) ctx.fail(`${what}[${k}] = ${x} out of range [${-s}, ${s - 1}]`);
  }
}

const sameDim = (a: Dim, b: Dim) => a === b || typeof a === 'string' || typeof b === 'string';

// ---------------------------------------------------------------------------------------------------
defineOp({
  name: 'Gather',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', default: 0 } },
  inferShape(ctx) {
    const d = needType(ctx, 0, ALL, 'data');
    const ind = needType(ctx, 1, IDX, 'indices');
    if (!d.shape) return [{ dtype: d.dtype }];
    const r = d.shape.length;
    if (r < 1) ctx.fail('data must have rank ≥ 1');
    const axis = normAxisAttr(ctx, ctx.attrs.axis, r);
    const s = d.shape[axis]!;
    if (typeof s === 'number') checkIndices(ctx, 1, () => s);
    if (!ind.shape) return [{ dtype: d.dtype }];
    return [{ dtype: d.dtype, shape: [...d.shape.slice(0, axis), ...ind.shape, ...d.shape.slice(axis + 1)] }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [x, ind] = inputs as [Tensor, Tensor];
    const axis = attrs.axis < 0 ? attrs.axis + x.dims.length : attrs.axis;
    const n = x.dims[axis]!;
    const outer = prod(x.dims.slice(0, axis));
    const inner = prod(x.dims.slice(axis + 1));
    const idx = ind.toNumbers();
    const outDims = outputTypes[0]!.shape as number[];
    const src = x.data as any;
    const out = allocData(x.type, sizeOf(outDims)) as any;
    let p = 0;
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idx.length; j++) {
        const k = idx[j]! < 0 ? idx[j]! + n : idx[j]!;
        const base = (o * n + k) * inner;
        for (let i = 0; i < inner; i++) out[p++] = src[base + i];
      }
    }
    return [new Tensor(x.type, out, outDims)];
  },
});

// ---------------------------------------------------------------------------------------------------
/** Shared validation for GatherElements / ScatterElements: same rank, index dims fit, bounds. */
function elementsCheck(ctx: ShapeCtx, dShape: readonly Dim[], iShape: readonly Dim[], axis: number, idxInput: number) {
  if (iShape.length !== dShape.length) ctx.fail(`indices rank ${iShape.length} must equal data rank ${dShape.length}`);
  const s = dShape[axis];
  if (typeof s === 'number') checkIndices(ctx, idxInput, () => s);
}

defineOp({
  name: 'GatherElements',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', default: 0 } },
  inferShape(ctx) {
    const d = needType(ctx, 0, ALL, 'data');
    const ind = needType(ctx, 1, IDX, 'indices');
    if (!d.shape || !ind.shape) return [{ dtype: d.dtype, shape: ind.shape }];
    const r = d.shape.length;
    if (r < 1) ctx.fail('data must have rank ≥ 1');
    const axis = normAxisAttr(ctx, ctx.attrs.axis, r);
    elementsCheck(ctx, d.shape, ind.shape, axis, 1);
    ind.shape.forEach((s, i) => {
      const ds = d.shape![i]!;
      if (i !== axis && typeof s === 'number' && typeof ds === 'number' && s > ds) ctx.fail(`indices dim ${i} (${s}) exceeds data dim (${ds})`);
    });
    return [{ dtype: d.dtype, shape: [...ind.shape] }];
  },
  reference({ inputs, attrs }) {
    const [x, ind] = inputs as [Tensor, Tensor];
    const r = x.dims.length;
    const axis = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
    const src = x.data as any;
    const out = allocData(x.type, ind.size) as any;
    const ds = x.dims;
    const n = ds[axis]!;
    forEachIndex(ind.dims, ds, (k, off, coordAxisStride) => {
      let v = ind.num(k);
      if (v < 0) v += n;
      out[k] = src[off + v * coordAxisStride(axis)];
    }, axis);
    return [new Tensor(x.type, out, ind.dims)];
  },
});

/**
 * Walk every position of `idxDims` (row-major); calls f(k, off, stride) where `off` is the flat offset of
 * the same coordinates in a tensor of `dataDims` with the coordinate along `skipAxis` set to 0.
 */
function forEachIndex(idxDims: readonly number[], dataDims: readonly number[], f: (k: number, off: number, stride: (a: number) => number) => void, skipAxis: number) {
  const r = idxDims.length;
  const ds = new Array<number>(r);
  let acc = 1;
  for (let i = r - 1; i >= 0; i--) {
    ds[i] = acc;
    acc *= dataDims[i]!;
  }
  const stride = (a: number) => ds[a]!;
  const n = prod(idxDims);
  const c = new Array<number>(r).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    f(k, off, stride);
    for (let i = r - 1; i >= 0; i--) {
      c[i]!++;
      if (i !== skipAxis) off += ds[i]!;
      if (c[i]! < idxDims[i]!) break;
      if (i !== skipAxis) off -= ds[i]! * idxDims[i]!;
      c[i] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
defineOp({
  name: 'GatherND',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { batch_dims: { type: 'int', default: 0 } },
  inferShape(ctx) {
    const d = needType(ctx, 0, ALL, 'data');
    const ind = needType(ctx, 1, ['int64'], 'indices');
    const b = ctx.attrs.batch_dims as number;
    if (b < 0) ctx.fail(`batch_dims must be ≥ 0, got ${b}`);
    if (!d.shape || !ind.shape) return [{ dtype: d.dtype }];
    const r = d.shape.length;
    const q = ind.shape.length;
    if (r < 1 || q < 1) ctx.fail(`data and indices must have rank ≥ 1 (got ${r}, ${q})`);
    if (b >= Math.min(r, q)) ctx.fail(`batch_dims ${b} must be smaller than both ranks (${r}, ${q})`);
    for (let i = 0; i < b; i++) if (!sameDim(d.shape[i]!, ind.shape[i]!)) ctx.fail(`batch dim ${i}: data ${d.shape[i]} vs indices ${ind.shape[i]}`);
    const k = ind.shape[q - 1]!;
    if (typeof k !== 'number') return [{ dtype: d.dtype }];
    // ONNX: "indices_shape[-1] should have a value between 1 (inclusive) and rank r-b (inclusive)"
    if (k < 1 || k > r - b) ctx.fail(`indices last dim ${k} must be in [1, ${r - b}]`);
    const ds = d.shape;
    checkIndices(ctx, 1, (j) => {
      const s = ds[b + (j % k)];
      return typeof s === 'number' ? s : undefined;
    });
    return [{ dtype: d.dtype, shape: [...ind.shape.slice(0, q - 1), ...d.shape.slice(b + k)] }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [x, ind] = inputs as [Tensor, Tensor];
    const b = attrs.batch_dims as number;
    const q = ind.dims.length;
    const k = ind.dims[q - 1]!;
    const batch = prod(x.dims.slice(0, b));
    const slice = prod(x.dims.slice(b + k));
    const perBatchData = prod(x.dims.slice(b));
    const tuples = prod(ind.dims.slice(b, q - 1));
    const outDims = outputTypes[0]!.shape as number[];
    const src = x.data as any;
    const out = allocData(x.type, sizeOf(outDims)) as any;
    const iv = ind.toNumbers();
    // strides of the indexed dims b..b+k-1 (in elements)
    const st: number[] = [];
    for (let j = 0; j < k; j++) st.push(prod(x.dims.slice(b + j + 1)));
    let p = 0;
    for (let bb = 0; bb < batch; bb++) {
      for (let t = 0; t < tuples; t++) {
        const ti = (bb * tuples + t) * k;
        let off = bb * perBatchData;
        for (let j = 0; j < k; j++) {
          let v = iv[ti + j]!;
          if (v < 0) v += x.dims[b + j]!;
          off += v * st[j]!;
        }
        for (let i = 0; i < slice; i++) out[p++] = src[off + i];
      }
    }
    return [new Tensor(x.type, out, outDims)];
  },
});

// ---------------------------------------------------------------------------------------------------
type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';

/** A mutable working copy of `t` (float16 widened) and how to turn it back into a tensor. */
function workCopy(t: Tensor): { arr: any; finish(): Tensor } {
  if (t.type === 'float16') {
    const arr = Float32Array.from(floats(t));
    return { arr, finish: () => fromFloats('float16', t.dims, arr) };
  }
  const arr = (t.data as any).slice();
  return { arr, finish: () => new Tensor(t.type, arr, t.dims) };
}

function srcValues(t: Tensor): any {
  return t.type === 'float16' ? floats(t) : t.data;
}

function combine(red: Reduction, a: any, b: any): any {
  switch (red) {
    case 'none':
      return b;
    case 'add':
      return a + b;
    case 'mul':
      return a * b;
    case 'max':
      return b > a ? b : a;
    case 'min':
      return b < a ? b : a;
  }
}

function checkReduction(ctx: ShapeCtx, dtype: DType) {
  const red = ctx.attrs.reduction as Reduction | undefined;
  if (red && red !== 'none' && (dtype === 'string' || (dtype === 'bool' && red !== 'max' && red !== 'min')))
    ctx.fail(`reduction '${red}' is not defined for ${dtype}`);
}

function defineScatterElements(name: string, withReduction: boolean) {
  defineOp({
    name,
    inputs: [3, 3],
    outputs: [1, 1],
    attrs: {
      axis: { type: 'int', default: 0 },
      ...(withReduction ? { reduction: { type: 'string' as const, default: 'none', oneOf: ['none', 'add', 'mul', 'max', 'min'] } } : {}),
    },
    inferShape(ctx) {
      const d = needType(ctx, 0, ALL, 'data');
      const ind = needType(ctx, 1, IDX, 'indices');
      const u = need(ctx, 2, 'updates');
      if (u.dtype !== d.dtype) ctx.fail(`updates type ${u.dtype} must match data type ${d.dtype}`);
      checkReduction(ctx, d.dtype);
      if (ind.shape && u.shape) {
        if (ind.shape.length !== u.shape.length || ind.shape.some((s, i) => !sameDim(s, u.shape![i]!)))
          ctx.fail(`indices shape [${ind.shape}] must equal updates shape [${u.shape}]`);
      }
      if (d.shape && ind.shape) {
        const r = d.shape.length;
        if (r < 1) ctx.fail('data must have rank ≥ 1');
        const axis = normAxisAttr(ctx, ctx.attrs.axis, r);
        elementsCheck(ctx, d.shape, ind.shape, axis, 1);
        ind.shape.forEach((s, i) => {
          const ds = d.shape![i]!;
          if (i !== axis && typeof s === 'number' && typeof ds === 'number' && s > ds) ctx.fail(`indices dim ${i} (${s}) exceeds data dim (${ds})`);
        });
      }
      return [{ dtype: d.dtype, shape: d.shape }];
    },
    reference({ inputs, attrs }) {
      const [x, ind, upd] = inputs as [Tensor, Tensor, Tensor];
      const r = x.dims.length;
      const axis = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
      const red: Reduction = attrs.reduction ?? 'none';
      const w = workCopy(x);
      const u = srcValues(upd);
      const n = x.dims[axis]!;
      forEachIndex(ind.dims, x.dims, (k, off, stride) => {
        let v = ind.num(k);
        if (v < 0) v += n;
        const p = off + v * stride(axis);
        w.arr[p] = combine(red, w.arr[p], u[k]);
      }, axis);
      return [w.finish()];
    },
  });
}
defineScatterElements('ScatterElements', true);
// Scatter-9/10 (deprecated): "This operator is deprecated. Please use ScatterElements" — same semantics.
defineScatterElements('Scatter', false);

// ---------------------------------------------------------------------------------------------------
defineOp({
  name: 'ScatterND',
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: { reduction: { type: 'string', default: 'none', oneOf: ['none', 'add', 'mul', 'max', 'min'] } },
  inferShape(ctx) {
    const d = needType(ctx, 0, ALL, 'data');
    const ind = needType(ctx, 1, ['int64'], 'indices');
    const u = need(ctx, 2, 'updates');
    if (u.dtype !== d.dtype) ctx.fail(`updates type ${u.dtype} must match data type ${d.dtype}`);
    checkReduction(ctx, d.dtype);
    if (!d.shape || !ind.shape) return [{ dtype: d.dtype, shape: d.shape }];
    const r = d.shape.length;
    const q = ind.shape.length;
    if (r < 1 || q < 1) ctx.fail(`data and indices must have rank ≥ 1 (got ${r}, ${q})`);
    const k = ind.shape[q - 1]!;
    if (typeof k !== 'number') return [{ dtype: d.dtype, shape: d.shape }];
    if (k < 1 || k > r) ctx.fail(`indices last dim ${k} must be in [1, ${r}]`);
    // ONNX: "updates is treated as a (q-1)-rank tensor of replacement-slice-values … shape indices.shape[0:q-1] ++ data.shape[k:r-1]"
    const want = [...ind.shape.slice(0, q - 1), ...d.shape.slice(k)];
    if (u.shape && (u.shape.length !== want.length || u.shape.some((s, i) => !sameDim(s, want[i]!))))
      ctx.fail(`updates shape [${u.shape}] must be [${want}]`);
    const ds = d.shape;
    checkIndices(ctx, 1, (j) => {
      const s = ds[j % k];
      return typeof s === 'number' ? s : undefined;
    });
    return [{ dtype: d.dtype, shape: d.shape }];
  },
  reference({ inputs, attrs }) {
    const [x, ind, upd] = inputs as [Tensor, Tensor, Tensor];
    const red: Reduction = attrs.reduction;
    const q = ind.dims.length;
    const k = ind.dims[q - 1]!;
    const slice = prod(x.dims.slice(k));
    const tuples = prod(ind.dims.slice(0, q - 1));
    const st: number[] = [];
    for (let j = 0; j < k; j++) st.push(prod(x.dims.slice(j + 1)));
    const iv = ind.toNumbers();
    const w = workCopy(x);
    const u = srcValues(upd);
    for (let t = 0; t < tuples; t++) {
      let off = 0;
      for (let j = 0; j < k; j++) {
        let v = iv[t * k + j]!;
        if (v < 0) v += x.dims[j]!;
        off += v * st[j]!;
      }
      for (let i = 0; i < slice; i++) w.arr[off + i] = combine(red, w.arr[off + i], u[t * slice + i]);
    }
    return [w.finish()];
  },
});
