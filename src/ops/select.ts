import { ShapeError } from '../errors.js';
import type { Dim } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import { type DType, allocData, isFloat } from '../tensor/dtype.js';
import { broadcastShapes, sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { expandTo, inferBroadcast } from './broadcast.js';
import { ALL, FLOATS, NUMERIC, floats, fromFloats, need, needType } from './util.js';

/** Where, TopK, NonZero, Compress, Unique, Einsum. */

const prod = (d: readonly number[]) => d.reduce((p, x) => p * x, 1);

/** Comparable numeric view of a tensor (float16 widened). */
function values(t: Tensor): ArrayLike<number | bigint> {
  return t.type === 'float16' ? floats(t) : (t.data as ArrayLike<number | bigint>);
}

// ---------------------------------------------------------------------------------------------------
defineOp({
  name: 'Where',
  commutes: 'broadcast',
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    needType(ctx, 0, ['bool'], 'condition');
    const x = needType(ctx, 1, ALL, 'X');
    const y = need(ctx, 2, 'Y');
    if (y.dtype !== x.dtype) ctx.fail(`X (${x.dtype}) and Y (${y.dtype}) must have the same type`);
    // ONNX: "Where supports multidirectional (i.e., Numpy-style) broadcasting"
    return [{ dtype: x.dtype, shape: inferBroadcast(ctx, [0, 1, 2]) }];
  },
  reference({ inputs }) {
    const [c, x, y] = inputs as [Tensor, Tensor, Tensor];
    const dims = broadcastShapes(broadcastShapes(c.dims, x.dims), y.dims);
    const n = sizeOf(dims);
    const cv = expandTo(c, dims, true);
    const xv = expandTo(x, dims, true);
    const yv = expandTo(y, dims, true);
    const out = allocData(x.type, n) as any;
    for (let i = 0; i < n; i++) out[i] = cv[i] ? xv[i] : yv[i];
    return [new Tensor(x.type, out, dims)];
  },
});

// ---------------------------------------------------------------------------------------------------
defineOp({
  name: 'TopK',
  inputs: [2, 2],
  outputs: [2, 2],
  attrs: {
    axis: { type: 'int', default: -1 },
    largest: { type: 'int', default: 1, oneOf: [0, 1] },
    sorted: { type: 'int', default: 1, oneOf: [0, 1] },
  },
  inferShape(ctx) {
    const x = needType(ctx, 0, NUMERIC, 'X');
    const kt = needType(ctx, 1, ['int64'], 'K');
    if (kt.shape && !(kt.shape.length === 1 && (kt.shape[0] === 1 || typeof kt.shape[0] === 'string')) && kt.shape.length !== 0)
      ctx.fail(`K must be a 1-D tensor of one element, got shape [${kt.shape}]`);
    const kv = ctx.value(1);
    if (kv && kv.size !== 1) ctx.fail(`K must hold one value, got ${kv.size}`);
    if (!x.shape) return [{ dtype: x.dtype }, { dtype: 'int64' }];
    const r = x.shape.length;
    const a = ctx.attrs.axis as number;
    if (a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
    const axis = a < 0 ? a + r : a;
    if (!kv) return [{ dtype: x.dtype }, { dtype: 'int64' }];
    const k = kv.num(0);
    const n = x.shape[axis]!;
    if (k < 0 || (typeof n === 'number' && k > n)) ctx.fail(`K = ${k} must be in [0, ${n}]`);
    const shape = x.shape.map((d, i) => (i === axis ? k : d));
    return [
      { dtype: x.dtype, shape },
      { dtype: 'int64', shape: [...shape] },
    ];
  },
  reference({ inputs, attrs, outputTypes }) {
    const x = inputs[0]!;
    const k = inputs[1]!.num(0);
    const r = x.dims.length;
    const axis = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
    const n = x.dims[axis]!;
    const inner = prod(x.dims.slice(axis + 1));
    const outer = prod(x.dims.slice(0, axis));
    const v = values(x);
    const raw = x.data as ArrayLike<any>;
    const dims = outputTypes[0]!.shape as number[];
    const outV = allocData(x.type, sizeOf(dims)) as any;
    const outI = new BigInt64Array(outV.length);
    const largest = attrs.largest === 1;
    const order = new Array<number>(n);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        for (let j = 0; j < n; j++) order[j] = j;
        // ONNX: "If two elements are equal, the element with the lower index will appear first"; NaN ranks
        // as larger than every number.
        order.sort((p, q) => {
          const a = v[base + p * inner]!;
          const b = v[base + q * inner]!;
          const an = a !== a;
          const bn = b !== b;
          let c = an || bn ? (an && bn ? 0 : an ? 1 : -1) : a < b ? -1 : a > b ? 1 : 0;
          if (largest) c = -c;
          return c || p - q;
        });
        for (let j = 0; j < k; j++) {
          const dst = o * k * inner + j * inner + i;
          outV[dst] = raw[base + order[j]! * inner];
          outI[dst] = BigInt(order[j]!);
        }
      }
    }
    return [new Tensor(x.type, outV, dims), new Tensor('int64', outI, dims)];
  },
});

// ---------------------------------------------------------------------------------------------------
/** A symbolic dim for a data-dependent size (unique per node). */
const dataDim = (ctx: ShapeCtx, what: string): Dim => `${ctx.node.name}:${what}`;

function isTrue(v: any): boolean {
  return typeof v === 'bigint' ? v !== 0n : v !== 0 && v === v ? true : v !== v; // NaN counts as nonzero
}

defineOp({
  name: 'NonZero',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, [...NUMERIC, 'bool'], 'X');
    const r = x.shape ? Math.max(1, x.shape.length) : undefined;
    const v = ctx.value(0);
    if (v) {
      const vv = values(v);
      let c = 0;
      for (let i = 0; i < v.size; i++) if (isTrue(vv[i])) c++;
      return [{ dtype: 'int64', shape: [Math.max(1, v.dims.length), c] }];
    }
    return [{ dtype: 'int64', shape: r === undefined ? undefined : [r, dataDim(ctx, 'nonzero')] }];
  },
  reference({ inputs }) {
    const x = inputs[0]!;
    // a scalar behaves as a 1-element vector (numpy nonzero on 0-d input)
    const dims = x.dims.length ? x.dims : [1];
    const r = dims.length;
    const vv = values(x);
    const hits: number[] = [];
    for (let i = 0; i < x.size; i++) if (isTrue(vv[i])) hits.push(i);
    const out = new BigInt64Array(r * hits.length);
    hits.forEach((flat, j) => {
      let f = flat;
      for (let a = r - 1; a >= 0; a--) {
        out[a * hits.length + j] = BigInt(f % dims[a]!);
        f = Math.floor(f / dims[a]!);
      }
    });
    return [new Tensor('int64', out, [r, hits.length])];
  },
});

// ---------------------------------------------------------------------------------------------------
defineOp({
  name: 'Compress',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', required: false } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'input');
    const c = needType(ctx, 1, ['bool'], 'condition');
    if (c.shape && c.shape.length !== 1) ctx.fail(`condition must be 1-D, got rank ${c.shape.length}`);
    if (!x.shape) return [{ dtype: x.dtype }];
    const r = x.shape.length;
    const a = ctx.attrs.axis as number | undefined;
    let axis: number | undefined;
    if (a !== undefined) {
      if (a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
      axis = a < 0 ? a + r : a;
    }
    const len: Dim = axis === undefined ? (x.shape.every((d) => typeof d === 'number') ? prod(x.shape as number[]) : '?') : x.shape[axis]!;
    const cl = c.shape?.[0];
    // ONNX: "Its length can be less than the input length along the axis … slices exceeding the condition length are discarded"
    if (typeof cl === 'number' && typeof len === 'number' && cl > len) ctx.fail(`condition length ${cl} exceeds the selected length ${len}`);
    const cv = ctx.value(1);
    let count: Dim = dataDim(ctx, 'compress');
    if (cv) {
      count = 0;
      for (let i = 0; i < cv.size; i++) if (cv.num(i)) count++;
    }
    if (axis === undefined) return [{ dtype: x.dtype, shape: [count] }];
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? count : d)) }];
  },
  reference({ inputs, attrs }) {
    const [x, c] = inputs as [Tensor, Tensor];
    const src = x.data as any;
    const keep: number[] = [];
    for (let i = 0; i < c.size; i++) if (c.num(i)) keep.push(i);
    if (attrs.axis === undefined) {
      const out = allocData(x.type, keep.length) as any;
      keep.forEach((k, j) => (out[j] = src[k]));
      return [new Tensor(x.type, out, [keep.length])];
    }
    const r = x.dims.length;
    const axis = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
    const n = x.dims[axis]!;
    const inner = prod(x.dims.slice(axis + 1));
    const outer = prod(x.dims.slice(0, axis));
    const dims = x.dims.map((d, i) => (i === axis ? keep.length : d));
    const out = allocData(x.type, sizeOf(dims)) as any;
    let p = 0;
    for (let o = 0; o < outer; o++) for (const k of keep) for (let i = 0; i < inner; i++) out[p++] = src[(o * n + k) * inner + i];
    return [new Tensor(x.type, out, dims)];
  },
});

// ---------------------------------------------------------------------------------------------------
defineOp({
  name: 'Unique',
  inputs: [1, 1],
  outputs: [1, 4],
  attrs: {
    axis: { type: 'int', required: false },
    sorted: { type: 'int', default: 1, oneOf: [0, 1] },
  },
  inferShape(ctx) {
    const x = needType(ctx, 0, ALL, 'X');
    const u = dataDim(ctx, 'unique');
    let yShape: Dim[] | undefined = [u];
    let axisLen: Dim | undefined = x.shape && x.shape.every((d) => typeof d === 'number') ? prod(x.shape as number[]) : undefined;
    if (ctx.attrs.axis !== undefined) {
      if (!x.shape) yShape = undefined;
      else {
        const r = x.shape.length;
        const a = ctx.attrs.axis as number;
        if (a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
        const axis = a < 0 ? a + r : a;
        yShape = x.shape.map((d, i) => (i === axis ? u : d));
        axisLen = x.shape[axis];
      }
    }
    const v = ctx.value(0);
    if (v) {
      // concrete at run time: compute the count
      const res = uniqueOf(v, ctx.attrs.axis, ctx.attrs.sorted === 1);
      return res.map((t) => ({ dtype: t.type, shape: [...t.dims] }));
    }
    return [
      { dtype: x.dtype, shape: yShape },
      { dtype: 'int64', shape: [u] },
      { dtype: 'int64', shape: axisLen === undefined ? undefined : [axisLen] },
      { dtype: 'int64', shape: [u] },
    ];
  },
  reference({ inputs, attrs }) {
    return uniqueOf(inputs[0]!, attrs.axis, attrs.sorted === 1);
  },
});

function cmpScalar(a: any, b: any): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function uniqueOf(x: Tensor, axisAttr: number | undefined, sorted: boolean): Tensor[] {
  const raw = x.data as ArrayLike<any>;
  const v = x.type === 'float16' ? floats(x) : raw;
  let n: number;
  let inner: number;
  let outer: number;
  let axis = -1;
  if (axisAttr === undefined) {
    n = x.size;
    inner = 1;
    outer = 1;
  } else {
    const r = x.dims.length;
    axis = axisAttr < 0 ? axisAttr + r : axisAttr;
    n = x.dims[axis]!;
    inner = prod(x.dims.slice(axis + 1));
    outer = prod(x.dims.slice(0, axis));
  }
  // slice j = all elements with coordinate j along axis, in row-major order
  const cmp = (p: number, q: number): number => {
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const c = cmpScalar(v[(o * n + p) * inner + i], v[(o * n + q) * inner + i]);
        if (c) return c;
      }
    return 0;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((p, q) => cmp(p, q) || p - q);
  // groups of equal slices; first occurrence = smallest index in the group (stable sort)
  const groupOf = new Int32Array(n);
  const firsts: number[] = [];
  const counts: number[] = [];
  for (let j = 0; j < n; j++) {
    const p = order[j]!;
    if (j === 0 || cmp(order[j - 1]!, p) !== 0) {
      firsts.push(p);
      counts.push(0);
    }
    groupOf[p] = firsts.length - 1;
    counts[counts.length - 1]!++;
  }
  // ONNX: sorted=0 → "unique values … in the same order that they occur in the input"
  let rank = firsts.map((_, g) => g);
  if (!sorted) {
    const byFirst = rank.slice().sort((a, b) => firsts[a]! - firsts[b]!);
    rank = new Array(firsts.length);
    byFirst.forEach((g, k) => (rank[g] = k));
  }
  const u = firsts.length;
  const pos = new Array<number>(u);
  rank.forEach((k, g) => (pos[k] = g));
  const yDims = axis < 0 ? [u] : x.dims.map((d, i) => (i === axis ? u : d));
  const y = allocData(x.type, sizeOf(yDims)) as any;
  let p = 0;
  if (axis < 0) for (let k = 0; k < u; k++) y[p++] = raw[firsts[pos[k]!]!];
  else
    for (let o = 0; o < outer; o++)
      for (let k = 0; k < u; k++) {
        const s = firsts[pos[k]!]!;
        for (let i = 0; i < inner; i++) y[p++] = raw[(o * n + s) * inner + i];
      }
  const idx = BigInt64Array.from(pos, (g) => BigInt(firsts[g]!));
  const inv = BigInt64Array.from(groupOf, (g) => BigInt(rank[g]!));
  const cnt = BigInt64Array.from(pos, (g) => BigInt(counts[g]!));
  return [new Tensor(x.type, y, yDims), new Tensor('int64', idx, [u]), new Tensor('int64', inv, [n]), new Tensor('int64', cnt, [u])];
}

// ---------------------------------------------------------------------------------------------------
// Einsum (explicit and implicit modes, ellipsis, repeated labels = diagonals).

interface EinsumPlan {
  inputs: string[][]; // per input: label per axis ('.0', '.1' … for ellipsis dims)
  output: string[];
}

function parseEinsum(eq: string, ranks: number[], fail: (m: string) => never): EinsumPlan {
  const s = eq.replace(/\s+/g, '');
  const [lhs, rhs] = s.includes('->') ? (s.split('->') as [string, string]) : [s, undefined];
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) fail(`equation has ${terms.length} operands, node has ${ranks.length} inputs`);
  let ellRank = 0;
  const inputs = terms.map((t, k) => {
    const parts = t.split('...');
    if (parts.length > 2) fail(`operand ${k}: more than one ellipsis`);
    const letters = parts.join('');
    if (!/^[a-zA-Z]*$/.test(letters)) fail(`operand ${k}: invalid labels '${t}'`);
    const e = parts.length === 2 ? ranks[k]! - letters.length : 0;
    if (e < 0 || (parts.length === 1 && letters.length !== ranks[k])) fail(`operand ${k}: '${t}' does not match rank ${ranks[k]}`);
    ellRank = Math.max(ellRank, e);
    const ell = Array.from({ length: e }, (_, i) => `.${ellRank - e + i}`);
    return parts.length === 2 ? [...parts[0]!.split(''), ...ell, ...parts[1]!.split('')] : parts[0]!.split('');
  });
  // re-derive ellipsis labels right-aligned to the widest ellipsis
  let output: string[];
  const ellAll = Array.from({ length: ellRank }, (_, i) => `.${i}`);
  if (rhs === undefined) {
    const cnt = new Map<string, number>();
    for (const t of inputs) for (const l of t) if (!l.startsWith('.')) cnt.set(l, (cnt.get(l) ?? 0) + 1);
    output = [...ellAll, ...[...cnt.keys()].filter((l) => cnt.get(l) === 1).sort()];
  } else {
    const parts = rhs.split('...');
    if (parts.length > 2 || !/^[a-zA-Z]*$/.test(parts.join(''))) fail(`invalid output '${rhs}'`);
    output = parts.length === 2 ? [...parts[0]!.split(''), ...ellAll, ...parts[1]!.split('')] : parts[0]!.split('');
    const known = new Set(inputs.flat());
    for (const l of output) if (!known.has(l)) fail(`output label '${l}' not in any input`);
    if (new Set(output).size !== output.length) fail(`output repeats a label`);
  }
  return { inputs, output };
}

function einsumDims(plan: EinsumPlan, shapes: readonly (readonly Dim[])[], fail: (m: string) => never): Map<string, Dim> {
  const size = new Map<string, Dim>();
  plan.inputs.forEach((labels, k) =>
    labels.forEach((l, i) => {
      const d = shapes[k]![i]!;
      const prev = size.get(l);
      if (prev === undefined || prev === 1) size.set(l, d);
      else if (l.startsWith('.') && d === 1) return;
      else if (typeof prev === 'number' && typeof d === 'number' && prev !== d) fail(`label '${l}' has sizes ${prev} and ${d}`);
    }),
  );
  return size;
}

defineOp({
  name: 'Einsum',
  cost: ({ attrs, inputs }) => {
    // the reference's loop: every combination of label values, one product over the inputs each
    if (inputs.some((s) => !s)) return NaN;
    const fail = (m: string): never => {
      throw new ShapeError(m);
    };
    const size = einsumDims(parseEinsum(attrs.equation, inputs.map((s) => s!.length), fail), inputs as number[][], fail) as Map<string, number>;
    return [...size.values()].reduce((a, b) => a * b, inputs.length);
  },
  inputs: [1, Infinity],
  outputs: [1, 1],
  attrs: { equation: { type: 'string', required: true } },
  inferShape(ctx) {
    const n = ctx.node.inputs.length;
    const first = needType(ctx, 0, [...FLOATS, 'int32', 'int64', 'uint32', 'uint64'], 'Inputs[0]');
    for (let i = 1; i < n; i++) if (need(ctx, i).dtype !== first.dtype) ctx.fail(`all inputs must have type ${first.dtype}`);
    const shapes = ctx.inputs.map((t) => t?.shape);
    if (shapes.some((s) => !s)) return [{ dtype: first.dtype }];
    const plan = parseEinsum(ctx.attrs.equation, shapes.map((s) => s!.length), ctx.fail);
    const size = einsumDims(plan, shapes as Dim[][], ctx.fail);
    return [{ dtype: first.dtype, shape: plan.output.map((l) => size.get(l) ?? 1) }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const ts = inputs as Tensor[];
    const fail = (m: string): never => {
      throw new ShapeError(m);
    };
    const plan = parseEinsum(attrs.equation, ts.map((t) => t.dims.length), fail);
    const size = einsumDims(plan, ts.map((t) => t.dims), fail) as Map<string, number>;
    const outLabels = plan.output;
    const sumLabels = [...size.keys()].filter((l) => !outLabels.includes(l));
    const all = [...outLabels, ...sumLabels];
    const dims = all.map((l) => size.get(l)!);
    const outDims = outputTypes[0]!.shape as number[];
    const big = ts[0]!.type === 'int64' || ts[0]!.type === 'uint64';
    const dtype: DType = ts[0]!.type;
    // per input: stride of each label in `all` (0 when absent or broadcast)
    const strides = ts.map((t, k) => {
      const st = new Array<number>(all.length).fill(0);
      let acc = 1;
      for (let i = t.dims.length - 1; i >= 0; i--) {
        const j = all.indexOf(plan.inputs[k]![i]!);
        if (t.dims[i] !== 1) st[j]! += acc;
        acc *= t.dims[i]!;
      }
      return st;
    });
    const vals = ts.map((t) => (isFloat(t.type) ? floats(t) : (t.data as ArrayLike<any>)));
    const nOut = prod(outDims);
    const nSum = prod(sumLabels.map((l) => size.get(l)!));
    const acc: any[] = new Array(nOut).fill(big ? 0n : 0);
    // textbook loop over all label combinations: O(prod of all label sizes × inputs)
    const idx = new Array<number>(all.length).fill(0);
    const total = nOut * nSum;
    const offs = new Array<number>(ts.length).fill(0);
    for (let c = 0; c < total; c++) {
      let p: any = big ? 1n : 1;
      for (let k = 0; k < ts.length; k++) p *= vals[k]![offs[k]!];
      const o = Math.floor(c / nSum);
      acc[o] += p;
      for (let a = all.length - 1; a >= 0; a--) {
        idx[a]!++;
        for (let k = 0; k < ts.length; k++) offs[k]! += strides[k]![a]!;
        if (idx[a]! < dims[a]!) break;
        for (let k = 0; k < ts.length; k++) offs[k]! -= strides[k]![a]! * dims[a]!;
        idx[a] = 0;
      }
    }
    if (isFloat(dtype)) {
      const f = dtype === 'float64' ? Float64Array.from(acc) : Float32Array.from(acc);
      return [fromFloats(dtype, outDims, f)];
    }
    const out = allocData(dtype, nOut) as any;
    for (let i = 0; i < nOut; i++) out[i] = acc[i];
    return [new Tensor(dtype, out, outDims)];
  },
});

