/**
 * com.microsoft contrib ops of transformer exports (onnxruntime transformers optimizer, Optimum / transformers.js):
 * the fused normalizations and activations. Rules quoted from onnxruntime's docs/ContribOperators.md; the values
 * are checked against onnxruntime-node in test/ops/contrib-xfmr.test.ts. Computed in float64, rounded once.
 *
 * SimplifiedLayerNormalization is registered by onnxruntime in the ONNX domain (not com.microsoft), so it is
 * defined there.
 */
import { UnsupportedError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { erf } from './elementwise.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';

const MS = 'com.microsoft';

/** Fail unless input i is a 1-D float of `n` elements (the hidden size) and of X's dtype. */
function needVec(ctx: ShapeCtx, i: number, dtype: string, n: Dim | undefined, what: string): ValueType {
  const t = needType(ctx, i, FLOATS, what);
  if (t.dtype !== dtype) ctx.fail(`${what} is ${t.dtype}, expected ${dtype} like the input`);
  if (t.shape) {
    if (t.shape.length !== 1) ctx.fail(`${what} must be 1-D (hidden_size), got [${t.shape.join(',')}]`);
    const d = t.shape[0]!;
    if (typeof d === 'number' && typeof n === 'number' && d !== n) ctx.fail(`${what} has ${d} elements, expected hidden_size ${n}`);
  }
  return t;
}

/**
 * Skip: "(batch_size, sequence_length, hidden_size) or (1, sequence_length, hidden_size) or (sequence_length,
 * hidden_size)" — i.e. it broadcasts onto the input over leading dims. Returns nothing; fails otherwise.
 */
function checkSkip(ctx: ShapeCtx, x: ValueType, s: ValueType): void {
  if (!x.shape || !s.shape) return;
  const xs = x.shape;
  const ss = s.shape;
  if (ss.length > xs.length || ss.length < 2) ctx.fail(`skip [${ss.join(',')}] must be (batch, seq, hidden), (1, seq, hidden) or (seq, hidden) for input [${xs.join(',')}]`);
  const off = xs.length - ss.length;
  for (let i = 0; i < ss.length; i++) {
    const a = ss[i]!;
    const b = xs[off + i]!;
    if (typeof a === 'number' && typeof b === 'number' && a !== b && !(a === 1 && i < ss.length - 2)) ctx.fail(`skip [${ss.join(',')}] does not match input [${xs.join(',')}]`);
  }
}

/** Index into skip's data for flat element `i` of X (skip broadcast over X's leading dims). */
function skipIndexer(xdims: readonly number[], sdims: readonly number[]): (i: number) => number {
  const n = xdims.reduce((a, b) => a * b, 1);
  const sn = sdims.reduce((a, b) => a * b, 1);
  if (sn === n) return (i) => i;
  // (1, S, H) or (S, H) against (B, S, H): the skip repeats every S·H elements
  return (i) => i % sn;
}

/**
 * SkipLayerNormalization / SkipSimplifiedLayerNormalization: s = input + skip (+ bias); then LayerNorm (mean and
 * variance over hidden) or RMS norm ("Skip and Root Mean Square Layer Normalization") with gamma (and beta).
 * Outputs: output, mean, inv_std_var ("used during training": not produced), input_skip_bias_sum ("Sum of the
 * input and skip inputs (and bias if it exists)").
 */
function skipNorm(simplified: boolean): void {
  const betaIdx = simplified ? -1 : 3;
  const biasIdx = simplified ? 3 : 4;
  defineOp({
    name: simplified ? 'SkipSimplifiedLayerNormalization' : 'SkipLayerNormalization',
    domain: MS,
    inputs: [3, simplified ? 4 : 5],
    outputs: [1, 4],
    // onnxruntime: kDefaultSkipLayerNormEpsilon = 1e-12
    attrs: { epsilon: { type: 'float', default: 1e-12 } },
    inferShape(ctx) {
      const x = needType(ctx, 0, FLOATS, 'input');
      if (x.shape && x.shape.length !== 2 && x.shape.length !== 3) ctx.fail(`input must be 3-D (batch, seq, hidden) or 2-D (tokens, hidden), got rank ${x.shape.length}`);
      const s = needType(ctx, 1, [x.dtype], 'skip');
      checkSkip(ctx, x, s);
      const h = x.shape?.[x.shape.length - 1];
      needVec(ctx, 2, x.dtype, h, 'gamma');
      if (betaIdx > 0 && ctx.inputs[betaIdx]) needVec(ctx, betaIdx, x.dtype, h, 'beta');
      if (ctx.inputs[biasIdx]) needVec(ctx, biasIdx, x.dtype, h, 'bias');
      if ((ctx.node.outputs[1] ?? '') !== '' || (ctx.node.outputs[2] ?? '') !== '') throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): the training outputs mean / inv_std_var are not produced`);
      const t = { dtype: x.dtype, shape: x.shape };
      const lead = x.shape?.slice(0, -1);
      const stat = { dtype: 'float32' as const, shape: lead ? [...lead, 1] : undefined };
      return [t, stat, stat, t].slice(0, ctx.numOutputs);
    },
    reference({ inputs, attrs, outputTypes }) {
      const [x, sk, g] = inputs as [Tensor, Tensor, Tensor];
      const beta = betaIdx > 0 ? inputs[betaIdx] : undefined;
      const bias = inputs[biasIdx];
      const H = x.dims[x.dims.length - 1]!;
      const rows = H ? x.size / H : 0;
      const xv = floats(x);
      const sv = floats(sk);
      const gv = floats(g);
      const bv = beta ? floats(beta) : undefined;
      const cv = bias ? floats(bias) : undefined;
      const si = skipIndexer(x.dims, sk.dims);
      const sum = new Float64Array(x.size);
      const y = new Float64Array(x.size);
      // the sum is a tensor of X's type: round it like onnxruntime before normalizing
      const rnd = x.type === 'float64' ? (v: number) => v : Math.fround;
      for (let i = 0; i < x.size; i++) sum[i] = rnd(xv[i]! + sv[si(i)]! + (cv ? cv[i % H]! : 0));
      for (let r = 0; r < rows; r++) {
        const o = r * H;
        let mean = 0;
        if (!simplified) {
          for (let i = 0; i < H; i++) mean += sum[o + i]!;
          mean /= H;
        }
        let q = 0;
        for (let i = 0; i < H; i++) q += (sum[o + i]! - mean) ** 2;
        const inv = 1 / Math.sqrt(q / H + attrs.epsilon);
        for (let i = 0; i < H; i++) y[o + i] = (sum[o + i]! - mean) * inv * gv[i]! + (bv ? bv[i]! : 0);
      }
      const out = [fromFloats(x.type, x.dims, y), undefined, undefined, fromFloats(x.type, x.dims, sum)];
      return out.slice(0, outputTypes.length).map((t, i) => t ?? fromFloats('float32', [...x.dims.slice(0, -1), 1], new Float32Array(rows))) as Tensor[];
    },
    doc: simplified ? 'com.microsoft SkipSimplifiedLayerNormalization: RMS norm of input + skip (+ bias)' : 'com.microsoft SkipLayerNormalization: LayerNorm of input + skip (+ bias)',
  });
}
skipNorm(false);
skipNorm(true);

// onnxruntime (ONNX domain, contrib schema): SimplifiedLayerNormalization — "LayerNormalization without the mean":
// Y = X / sqrt(mean(X², axes ≥ axis) + epsilon) · scale; optional output inv_std_var
defineOp({
  name: 'SimplifiedLayerNormalization',
  inputs: [2, 2],
  outputs: [1, 2],
  attrs: { axis: { type: 'int', default: -1 }, epsilon: { type: 'float', default: 1e-5 }, stash_type: { type: 'int', default: 1 } },
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    const s = needType(ctx, 1, FLOATS, 'scale');
    if (!x.shape) return ([{ dtype: x.dtype }, { dtype: 'float32' }] as ValueType[]).slice(0, ctx.numOutputs);
    const r = x.shape.length;
    const a: number = ctx.attrs.axis;
    if (a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
    const ax = a < 0 ? a + r : a;
    const inner = x.shape.slice(ax);
    if (s.shape) {
      const sn = s.shape.every((d) => typeof d === 'number') ? (s.shape as number[]).reduce((p, d) => p * d, 1) : undefined;
      const xn = inner.every((d) => typeof d === 'number') ? (inner as number[]).reduce((p, d) => p * d, 1) : undefined;
      if (sn !== undefined && xn !== undefined && sn !== xn) ctx.fail(`scale has ${sn} elements, the normalized block [${inner.join(',')}] has ${xn}`);
    }
    return ([{ dtype: x.dtype, shape: x.shape }, { dtype: 'float32', shape: [...x.shape.slice(0, ax), ...inner.map(() => 1)] }] as ValueType[]).slice(0, ctx.numOutputs);
  },
  reference({ inputs, attrs, outputTypes }) {
    const [x, s] = inputs as [Tensor, Tensor];
    const r = x.dims.length;
    const ax = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
    const inner = x.dims.slice(ax).reduce((a, b) => a * b, 1);
    const rows = inner ? x.size / inner : 0;
    const xv = floats(x);
    const sv = floats(s);
    const y = new Float64Array(x.size);
    const invs = new Float32Array(rows);
    for (let o = 0; o < rows; o++) {
      let q = 0;
      for (let i = 0; i < inner; i++) q += xv[o * inner + i]! ** 2;
      const inv = 1 / Math.sqrt(q / inner + attrs.epsilon);
      invs[o] = inv;
      for (let i = 0; i < inner; i++) y[o * inner + i] = xv[o * inner + i]! * inv * sv[i]!;
    }
    const out = [fromFloats(x.type, x.dims, y), fromFloats('float32', outputTypes[1]?.shape as number[] ?? [rows], invs)];
    return out.slice(0, outputTypes.length);
  },
  doc: 'onnxruntime SimplifiedLayerNormalization (RMS norm): X / sqrt(mean(X²) + epsilon) · scale',
});

// ---------------------------------------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------------------------------------

/** An elementwise activation f(x + bias), bias 1-D over the last axis (optional when `biasInput` is 'optional'). */
function biasAct(name: string, biasInput: 'none' | 'optional' | 'required', f: (x: number, attrs: Record<string, any>) => number, attrs: Record<string, { type: 'float'; default: number }>, doc: string): void {
  const max = biasInput === 'none' ? 1 : 2;
  defineOp({
    name,
    domain: MS,
    inputs: [biasInput === 'required' ? 2 : 1, max],
    outputs: [1, 1],
    attrs,
    inferShape(ctx) {
      const x = needType(ctx, 0, FLOATS, 'X');
      if (max === 2 && ctx.inputs[1]) {
        const h = x.shape?.[x.shape.length - 1];
        if (x.shape && x.shape.length === 0) ctx.fail('X must have rank ≥ 1 to take a bias');
        needVec(ctx, 1, x.dtype, h, 'bias');
      }
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    reference({ inputs, attrs: a }) {
      const x = inputs[0]!;
      const b = inputs[1];
      const xv = floats(x);
      const bv = b ? floats(b) : undefined;
      const H = b ? b.size : 1;
      const y = new Float64Array(x.size);
      for (let i = 0; i < x.size; i++) y[i] = f(bv ? Math.fround(xv[i]! + bv[i % H]!) : xv[i]!, a);
      return [fromFloats(x.type, x.dims, y)];
    },
    doc,
  });
}

const geluErf = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
// FastGelu: "Y=0.5*X*(1+tanh(0.797885*X+0.035677*X*X*X))" — the constants are √(2/π) and 0.044715·√(2/π)
const SQRT_2_PI = Math.sqrt(2 / Math.PI);
export const fastGelu = (x: number) => 0.5 * x * (1 + Math.tanh(SQRT_2_PI * x + 0.044715 * SQRT_2_PI * x * x * x));

biasAct('Gelu', 'none', geluErf, {}, 'com.microsoft Gelu: 0.5·x·(1 + erf(x/√2))');
biasAct('BiasGelu', 'required', geluErf, {}, 'com.microsoft BiasGelu: Gelu(A + B), B 1-D over the last axis');
biasAct('FastGelu', 'optional', fastGelu, {}, 'com.microsoft FastGelu: tanh-approximated Gelu of X (+ bias)');
// QuickGelu: "Compute x * Sigmoid(alpha * x)"; onnxruntime's default alpha is 1.702
biasAct('QuickGelu', 'none', (x, a) => x / (1 + Math.exp(-a.alpha * x)), { alpha: { type: 'float', default: 1.702 } }, 'com.microsoft QuickGelu: x·sigmoid(alpha·x)');

// BiasAdd: "Add input with bias, then add residual inputs" — X (N, S, C) + bias (C) + skip (N, S, C)
defineOp({
  name: 'BiasAdd',
  domain: MS,
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    if (x.shape && x.shape.length !== 3) ctx.fail(`X must be 3-D (N, S, C), got rank ${x.shape.length}`);
    needVec(ctx, 1, x.dtype, x.shape?.[2], 'bias');
    const s = needType(ctx, 2, [x.dtype], 'skip');
    if (x.shape && s.shape && (s.shape.length !== 3 || s.shape.some((d, i) => typeof d === 'number' && typeof x.shape![i] === 'number' && d !== x.shape![i]))) ctx.fail(`skip [${s.shape.join(',')}] must have X's shape [${x.shape.join(',')}]`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs }) {
    const [x, b, s] = inputs as [Tensor, Tensor, Tensor];
    const xv = floats(x);
    const bv = floats(b);
    const sv = floats(s);
    const C = b.size;
    const y = new Float64Array(x.size);
    for (let i = 0; i < x.size; i++) y[i] = Math.fround(xv[i]! + bv[i % C]!) + sv[i]!;
    return [fromFloats(x.type, x.dims, y)];
  },
  doc: 'com.microsoft BiasAdd: X + bias + skip',
});
