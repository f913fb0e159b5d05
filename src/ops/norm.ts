import { UnsupportedError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import type { DType } from '../tensor/dtype.js';
import { normAxis, sizeOf, stridesOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';

/**
 * Normalizations: BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization,
 * LRN, MeanVarianceNormalization, LpNormalization. Statistics are accumulated in float64.
 */

/** Fail unless input i is a 1-D tensor of `n` elements (symbolic dims accepted). */
function need1D(ctx: ShapeCtx, i: number, n: Dim | undefined, what: string): ValueType {
  const t = needType(ctx, i, FLOATS, what);
  if (t.shape) {
    if (t.shape.length !== 1) ctx.fail(`${what} must be 1-D, got [${t.shape.join(',')}]`);
    const d = t.shape[0]!;
    if (typeof d === 'number' && typeof n === 'number' && d !== n) ctx.fail(`${what} has ${d} elements, expected ${n}`);
  }
  return t;
}

const out = (dtype: DType, dims: readonly number[], v: Float64Array): Tensor => fromFloats(dtype, dims, dtype === 'float64' ? v : Float32Array.from(v));

/** Split (N, C, spatial…) dims: returns [N, C, spatial size]. */
function ncs(dims: readonly number[]): [number, number, number] {
  const n = dims[0]!;
  const c = dims[1] ?? 1;
  let s = 1;
  for (let i = 2; i < dims.length; i++) s *= dims[i]!;
  return [n, c, s];
}

// ---------------------------------------------------------------------------------------------------

defineOp({
  name: 'BatchNormalization',
  inputs: [5, 5],
  outputs: [1, 3],
  attrs: {
    epsilon: { type: 'float', default: 1e-5 },
    momentum: { type: 'float', default: 0.9 },
    training_mode: { type: 'int', default: 0 },
  },
  doc: 'Y = scale·(X - mean)/sqrt(var + epsilon) + B per channel; training_mode=1 uses batch statistics',
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    const tm = ctx.attrs.training_mode as number;
    if (tm !== 0 && tm !== 1) ctx.fail(`training_mode must be 0 or 1, got ${tm}`);
    if (x.shape && x.shape.length < 2) ctx.fail(`X must have rank ≥ 2 (N, C, …), got [${x.shape.join(',')}]`);
    const c = x.shape?.[1];
    const scale = need1D(ctx, 1, c, 'scale');
    const b = need1D(ctx, 2, c, 'B');
    const mean = need1D(ctx, 3, c, 'input_mean');
    const v = need1D(ctx, 4, c, 'input_var');
    if (b.dtype !== scale.dtype) ctx.fail(`B is ${b.dtype} but scale is ${scale.dtype}`);
    if (v.dtype !== mean.dtype) ctx.fail(`input_var is ${v.dtype} but input_mean is ${mean.dtype}`);
    // ONNX: "running_mean/running_var ... Used only in training mode" (outputs 2, 3)
    if (ctx.numOutputs > 1 && tm === 0) ctx.fail('outputs running_mean/running_var require training_mode=1');
    const res: ValueType[] = [{ dtype: x.dtype, shape: x.shape }];
    const cs: Dim[] | undefined = c !== undefined ? [c] : undefined;
    for (let i = 1; i < ctx.numOutputs; i++) res.push({ dtype: mean.dtype, shape: cs });
    return res;
  },
  reference({ inputs, attrs, node }) {
    const [X, S, B, M, V] = inputs as Tensor[];
    const x = floats(X!);
    const s = floats(S!);
    const b = floats(B!);
    const [n, c, sp] = ncs(X!.dims);
    let mean: ArrayLike<number> = floats(M!);
    let vr: ArrayLike<number> = floats(V!);
    const outs: Tensor[] = [];
    let runMean: Float64Array | undefined;
    let runVar: Float64Array | undefined;
    if (attrs.training_mode === 1) {
      // ONNX: current mean/var over all axes but the channel axis (population variance);
      // running_mean = input_mean·momentum + current_mean·(1 - momentum), likewise for var
      const cm = new Float64Array(c);
      const cv = new Float64Array(c);
      const cnt = n * sp;
      for (let ci = 0; ci < c; ci++) {
        let sum = 0;
        for (let ni = 0; ni < n; ni++) for (let i = (ni * c + ci) * sp, e = i + sp; i < e; i++) sum += x[i]!;
        const mu = cnt ? sum / cnt : 0;
        let sq = 0;
        for (let ni = 0; ni < n; ni++)
          for (let i = (ni * c + ci) * sp, e = i + sp; i < e; i++) {
            const d = x[i]! - mu;
            sq += d * d;
          }
        cm[ci] = mu;
        cv[ci] = cnt ? sq / cnt : 0;
      }
      const mom = attrs.momentum as number;
      runMean = new Float64Array(c);
      runVar = new Float64Array(c);
      for (let ci = 0; ci < c; ci++) {
        runMean[ci] = mean[ci]! * mom + cm[ci]! * (1 - mom);
        runVar[ci] = vr[ci]! * mom + cv[ci]! * (1 - mom);
      }
      mean = cm;
      vr = cv;
    }
    const y = new Float64Array(X!.size);
    for (let ni = 0; ni < n; ni++)
      for (let ci = 0; ci < c; ci++) {
        const k = s[ci]! / Math.sqrt(vr[ci]! + attrs.epsilon);
        const o = b[ci]! - mean[ci]! * k;
        for (let i = (ni * c + ci) * sp, e = i + sp; i < e; i++) y[i] = x[i]! * k + o;
      }
    outs.push(out(X!.type, X!.dims, y));
    if (node.outputs.length > 1) outs.push(out(M!.type, [c], runMean!));
    if (node.outputs.length > 2) outs.push(out(V!.type, [c], runVar!));
    return outs;
  },
});

// ---------------------------------------------------------------------------------------------------

defineOp({
  name: 'InstanceNormalization',
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: { epsilon: { type: 'float', default: 1e-5 } },
  doc: 'y = scale·(x - mean)/sqrt(var + epsilon) + B, statistics per instance and channel',
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'input');
    if (x.shape && x.shape.length < 3) ctx.fail(`input must have rank ≥ 3 (N, C, D1, …), got [${x.shape.join(',')}]`);
    const c = x.shape?.[1];
    for (const [i, w] of [[1, 'scale'], [2, 'B']] as const) if (need1D(ctx, i, c, w).dtype !== x.dtype) ctx.fail(`${w} must be ${x.dtype}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const [X, S, B] = inputs as Tensor[];
    const x = floats(X!);
    const s = floats(S!);
    const b = floats(B!);
    const [n, c, sp] = ncs(X!.dims);
    const y = new Float64Array(X!.size);
    for (let ni = 0; ni < n; ni++) for (let ci = 0; ci < c; ci++) normalizeRange(x, y, (ni * c + ci) * sp, sp, attrs.epsilon, s[ci]!, b[ci]!);
    return [out(X!.type, X!.dims, y)];
  },
});

/** y[o..o+len) = (x - mean)/sqrt(var + eps)·scale + bias; returns [mean, 1/sqrt(var+eps)]. */
function normalizeRange(x: ArrayLike<number>, y: Float64Array, o: number, len: number, eps: number, scale = 1, bias = 0): [number, number] {
  let sum = 0;
  for (let i = o; i < o + len; i++) sum += x[i]!;
  const mu = sum / len;
  let sq = 0;
  for (let i = o; i < o + len; i++) {
    const d = x[i]! - mu;
    sq += d * d;
  }
  const inv = 1 / Math.sqrt(sq / len + eps);
  for (let i = o; i < o + len; i++) y[i] = (x[i]! - mu) * inv * scale + bias;
  return [mu, inv];
}

// ---------------------------------------------------------------------------------------------------

/** ONNX stash_type is a TensorProto element type: 1 float, 10 float16, 11 double. */
function stashDtype(ctx: { node: { name: string; op: string } }, st: number): DType {
  if (st === 1) return 'float32';
  if (st === 10) return 'float16';
  if (st === 11) return 'float64';
  throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): stash_type ${st} is not supported`);
}

/** True if `s` broadcasts unidirectionally to `target` (numpy rules, s may have lower rank). */
function unidirectional(s: readonly Dim[], target: readonly Dim[]): boolean {
  if (s.length > target.length) return false;
  for (let i = 0; i < s.length; i++) {
    const d = s[s.length - 1 - i]!;
    const t = target[target.length - 1 - i]!;
    if (d !== 1 && d !== t && typeof d === 'number' && typeof t === 'number') return false;
  }
  return true;
}

/** Index into a tensor of dims `s` broadcast to `target` for flat target index i (precomputed table). */
function broadcastIndex(s: readonly number[], target: readonly number[]): Int32Array {
  const n = sizeOf(target);
  const idx = new Int32Array(n);
  const r = target.length;
  const sp = [...new Array(r - s.length).fill(1), ...s];
  const ss = stridesOf(sp);
  const ts = stridesOf(target);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let k = 0;
    for (let d = 0; d < r; d++) {
      const q = Math.floor(rem / ts[d]!);
      rem -= q * ts[d]!;
      if (sp[d] !== 1) k += q * ss[d]!;
    }
    idx[i] = k;
  }
  return idx;
}

defineOp({
  name: 'LayerNormalization',
  inputs: [2, 3],
  outputs: [1, 3],
  attrs: {
    axis: { type: 'int', default: -1 },
    epsilon: { type: 'float', default: 1e-5 },
    stash_type: { type: 'int', default: 1 },
  },
  doc: 'normalize over dims [axis, rank); Scale/B broadcast over those dims; optional Mean and InvStdDev',
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    const sc = needType(ctx, 1, FLOATS, 'Scale');
    const b = ctx.inputs[2];
    if (sc.dtype !== x.dtype) ctx.fail(`Scale is ${sc.dtype} but X is ${x.dtype}`);
    if (b && b.dtype !== x.dtype) ctx.fail(`B is ${b.dtype} but X is ${x.dtype}`);
    const u = stashDtype(ctx, ctx.attrs.stash_type);
    if (!x.shape) return [{ dtype: x.dtype }, { dtype: u }, { dtype: u }].slice(0, ctx.numOutputs);
    const r = x.shape.length;
    const a = ctx.attrs.axis as number;
    if (r === 0 || a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
    const axis = a < 0 ? a + r : a;
    const norm = x.shape.slice(axis);
    // ONNX: "Scale ... shape is broadcastable to normalized_shape"
    if (sc.shape && !unidirectional(sc.shape, norm)) ctx.fail(`Scale [${sc.shape.join(',')}] does not broadcast to [${norm.join(',')}]`);
    if (b?.shape && !unidirectional(b.shape, norm)) ctx.fail(`B [${b.shape.join(',')}] does not broadcast to [${norm.join(',')}]`);
    const stat: Dim[] = [...x.shape.slice(0, axis), ...norm.map(() => 1)];
    return [
      { dtype: x.dtype, shape: x.shape },
      { dtype: u, shape: stat },
      { dtype: u, shape: stat },
    ].slice(0, ctx.numOutputs);
  },
  reference({ inputs, attrs, node, outputTypes }) {
    const [X, S, B] = inputs as [Tensor, Tensor, Tensor | undefined];
    const axis = normAxis(attrs.axis, X.dims.length);
    const norm = X.dims.slice(axis);
    const len = sizeOf(norm);
    const groups = len ? X.size / len : 0;
    const x = floats(X);
    const s = floats(S);
    const b = B ? floats(B) : undefined;
    const si = broadcastIndex(S.dims, norm);
    const bi = B ? broadcastIndex(B.dims, norm) : undefined;
    const y = new Float64Array(X.size);
    const mean = new Float64Array(groups);
    const inv = new Float64Array(groups);
    for (let g = 0; g < groups; g++) {
      const o = g * len;
      const [mu, iv] = normalizeRange(x, y, o, len, attrs.epsilon);
      mean[g] = mu;
      inv[g] = iv;
      for (let i = 0; i < len; i++) y[o + i] = y[o + i]! * s[si[i]!]! + (b ? b[bi![i]!]! : 0);
    }
    const stat = [...X.dims.slice(0, axis), ...norm.map(() => 1)];
    const res = [out(X.type, X.dims, y)];
    if (node.outputs.length > 1) res.push(out(outputTypes[1]!.dtype, stat, mean));
    if (node.outputs.length > 2) res.push(out(outputTypes[2]!.dtype, stat, inv));
    return res;
  },
});

// ---------------------------------------------------------------------------------------------------

defineOp({
  name: 'GroupNormalization',
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: {
    epsilon: { type: 'float', default: 1e-5 },
    num_groups: { type: 'int', required: true },
    stash_type: { type: 'int', default: 1 },
  },
  doc: 'normalize over channel groups (opset 21: per-channel scale and bias)',
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    const g = ctx.attrs.num_groups as number;
    stashDtype(ctx, ctx.attrs.stash_type);
    if (!(g >= 1)) ctx.fail(`num_groups must be ≥ 1, got ${g}`);
    if (x.shape && x.shape.length < 2) ctx.fail(`X must have rank ≥ 2 (N, C, …), got [${x.shape.join(',')}]`);
    const c = x.shape?.[1];
    if (typeof c === 'number' && c % g !== 0) ctx.fail(`channels ${c} are not divisible by num_groups ${g}`);
    // ONNX 21: "scale: Scale tensor of shape (C)", "bias: Bias tensor of shape (C)"
    for (const [i, w] of [[1, 'scale'], [2, 'bias']] as const) if (need1D(ctx, i, c, w).dtype !== x.dtype) ctx.fail(`${w} must be ${x.dtype}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const [X, S, B] = inputs as Tensor[];
    const x = floats(X!);
    const s = floats(S!);
    const b = floats(B!);
    const [n, c, sp] = ncs(X!.dims);
    const G = attrs.num_groups as number;
    const cg = c / G;
    const len = cg * sp;
    const y = new Float64Array(X!.size);
    for (let ni = 0; ni < n; ni++)
      for (let g = 0; g < G; g++) {
        const o = (ni * c + g * cg) * sp;
        normalizeRange(x, y, o, len, attrs.epsilon);
        for (let k = 0; k < cg; k++) {
          const ch = g * cg + k;
          for (let i = o + k * sp, e = i + sp; i < e; i++) y[i] = y[i]! * s[ch]! + b[ch]!;
        }
      }
    return [out(X!.type, X!.dims, y)];
  },
});

// ---------------------------------------------------------------------------------------------------

defineOp({
  name: 'LRN',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {
    alpha: { type: 'float', default: 0.0001 },
    beta: { type: 'float', default: 0.75 },
    bias: { type: 'float', default: 1.0 },
    size: { type: 'int', required: true },
  },
  doc: 'local response normalization across channels',
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    if (!(ctx.attrs.size >= 1)) ctx.fail(`size must be ≥ 1, got ${ctx.attrs.size}`);
    if (x.shape && x.shape.length < 2) ctx.fail(`X must have rank ≥ 2 (N, C, …), got [${x.shape.join(',')}]`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const X = inputs[0]!;
    const x = floats(X);
    const [n, c, sp] = ncs(X.dims);
    const size = attrs.size as number;
    // ONNX: square_sum[n, c, …] = sum(X[n, i, …]^2) for i in [max(0, c - floor((size-1)/2)), min(C-1, c + ceil((size-1)/2))]
    const lo = Math.floor((size - 1) / 2);
    const hi = Math.ceil((size - 1) / 2);
    const y = new Float64Array(X.size);
    for (let ni = 0; ni < n; ni++)
      for (let ci = 0; ci < c; ci++)
        for (let p = 0; p < sp; p++) {
          let sq = 0;
          for (let k = Math.max(0, ci - lo); k <= Math.min(c - 1, ci + hi); k++) {
            const v = x[(ni * c + k) * sp + p]!;
            sq += v * v;
          }
          const i = (ni * c + ci) * sp + p;
          // ONNX: Y = X / (bias + alpha / size * square_sum)^beta
          y[i] = x[i]! / Math.pow(attrs.bias + (attrs.alpha / size) * sq, attrs.beta);
        }
    return [out(X.type, X.dims, y)];
  },
});

// ---------------------------------------------------------------------------------------------------

/** For each element of `dims`, the flat index of its slot in the reduced (keepdims) shape over `axes`. */
function reduceSlots(dims: readonly number[], axes: readonly number[]): { slot: Int32Array; groups: number; count: number } {
  const red = dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const rs = stridesOf(red);
  const ts = stridesOf(dims);
  const n = sizeOf(dims);
  const slot = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let k = 0;
    for (let d = 0; d < dims.length; d++) {
      const q = Math.floor(rem / ts[d]!);
      rem -= q * ts[d]!;
      if (red[d] !== 1) k += q * rs[d]!;
    }
    slot[i] = k;
  }
  let groups = 1;
  for (const d of red) groups *= d;
  let count = 1;
  for (const a of axes) count *= dims[a]!;
  return { slot, groups, count };
}

function checkAxes(ctx: ShapeCtx, axes: number[], rank: number): number[] {
  const norm = axes.map((a) => {
    if (a < -rank || a >= rank) ctx.fail(`axis ${a} out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
  if (new Set(norm).size !== norm.length) ctx.fail(`axes [${axes.join(',')}] repeat an axis`);
  return norm;
}

defineOp({
  name: 'MeanVarianceNormalization',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { axes: { type: 'ints', default: [0, 2, 3] } },
  doc: '(X - E[X]) / (sqrt(E[X²] - E[X]²) + 1e-9) over `axes`',
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    if (x.shape) checkAxes(ctx, ctx.attrs.axes, x.shape.length);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const X = inputs[0]!;
    const axes = (attrs.axes as number[]).map((a) => normAxis(a, X.dims.length));
    const x = floats(X);
    const { slot, groups, count } = reduceSlots(X.dims, axes);
    const s1 = new Float64Array(groups);
    const s2 = new Float64Array(groups);
    for (let i = 0; i < x.length; i++) {
      s1[slot[i]!]! += x[i]!;
      s2[slot[i]!]! += x[i]! * x[i]!;
    }
    const y = new Float64Array(X.size);
    // ONNX function body: X_variance = E[X²] - E[X]²; Y = (X - E[X]) / (Sqrt(X_variance) + 1e-9)
    const mean = s1.map((v) => v / count);
    const std = s2.map((v, g) => Math.sqrt(Math.max(0, v / count - mean[g]! * mean[g]!)) + 1e-9);
    for (let i = 0; i < x.length; i++) y[i] = (x[i]! - mean[slot[i]!]!) / std[slot[i]!]!;
    return [out(X.type, X.dims, y)];
  },
});

defineOp({
  name: 'LpNormalization',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', default: -1 }, p: { type: 'int', default: 2 } },
  doc: 'x / ||x||_p along one axis (p = 1 or 2)',
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'input');
    const p = ctx.attrs.p as number;
    if (p !== 1 && p !== 2) ctx.fail(`p must be 1 or 2, got ${p}`);
    if (x.shape) checkAxes(ctx, [ctx.attrs.axis], x.shape.length);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const X = inputs[0]!;
    const axis = normAxis(attrs.axis, X.dims.length);
    const x = floats(X);
    const len = X.dims[axis]!;
    let inner = 1;
    for (let i = axis + 1; i < X.dims.length; i++) inner *= X.dims[i]!;
    const outer = len * inner ? X.size / (len * inner) : 0;
    const y = new Float64Array(X.size);
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) {
        const base = o * len * inner + j;
        let s = 0;
        for (let k = 0; k < len; k++) {
          const v = x[base + k * inner]!;
          s += attrs.p === 1 ? Math.abs(v) : v * v;
        }
        const nrm = attrs.p === 1 ? s : Math.sqrt(s);
        for (let k = 0; k < len; k++) y[base + k * inner] = x[base + k * inner]! / nrm;
      }
    return [out(X.type, X.dims, y)];
  },
});
