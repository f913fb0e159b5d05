import type { Dim, ValueType } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';

/** Dropout (inference and training mode), NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss. */

/** Small deterministic PRNG (mulberry32) for seeded training-mode Dropout. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isScalarShape = (s: Dim[] | undefined) => !s || s.length === 0 || (s.length === 1 && (s[0] === 1 || typeof s[0] !== 'number'));

defineOp({
  name: 'Dropout',
  inputs: [1, 3],
  outputs: [1, 2],
  attrs: { seed: { type: 'int' } },
  doc: 'identity (mask all true) unless training_mode is true; then zero elements with probability ratio and scale by 1/(1-ratio)',
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'data');
    const r = ctx.inputs[1];
    if (r) {
      if (!FLOATS.includes(r.dtype)) ctx.fail(`ratio has type ${r.dtype}, expected a float`);
      if (!isScalarShape(r.shape)) ctx.fail(`ratio must be a scalar, got [${r.shape!.join(',')}]`);
      const v = ctx.value(1);
      if (v && v.size > 0) {
        const ratio = floats(v)[0]!;
        // ONNX: "ratio ... It's a scalar value in the range [0, 1)"
        if (!(ratio >= 0 && ratio < 1)) ctx.fail(`ratio must be in [0, 1), got ${ratio}`);
      }
    }
    const t = ctx.inputs[2];
    if (t) {
      if (t.dtype !== 'bool') ctx.fail(`training_mode has type ${t.dtype}, expected bool`);
      if (!isScalarShape(t.shape)) ctx.fail(`training_mode must be a scalar, got [${t.shape!.join(',')}]`);
    }
    const res: ValueType[] = [{ dtype: x.dtype, shape: x.shape }];
    if (ctx.numOutputs > 1) res.push({ dtype: 'bool', shape: x.shape });
    return res;
  },
  reference({ inputs, attrs, node }) {
    const [X, R, T] = inputs;
    const training = !!T && T.size > 0 && T.num(0) !== 0;
    const ratio = R && R.size > 0 ? floats(R)[0]! : 0.5;
    const wantMask = node.outputs.length > 1 && node.outputs[1] !== '';
    const mask = new Uint8Array(wantMask ? X!.size : 0);
    if (!training || ratio === 0) {
      // ONNX: "If training_mode is false ... the output is the same as the input and mask is all true"
      mask.fill(1);
      const outs = [X!];
      if (node.outputs.length > 1) outs.push(new Tensor('bool', wantMask ? mask : new Uint8Array(X!.size).fill(1), X!.dims));
      return outs;
    }
    const rnd = attrs.seed !== undefined ? mulberry32(attrs.seed) : Math.random;
    const x = floats(X!);
    const y = X!.type === 'float64' ? new Float64Array(x.length) : new Float32Array(x.length);
    const full = new Uint8Array(X!.size);
    const scale = 1 / (1 - ratio);
    for (let i = 0; i < x.length; i++) {
      const keep = rnd() >= ratio;
      full[i] = keep ? 1 : 0;
      y[i] = keep ? x[i]! * scale : 0;
    }
    const outs = [fromFloats(X!.type, X!.dims, y)];
    if (node.outputs.length > 1) outs.push(new Tensor('bool', full, X!.dims));
    return outs;
  },
});

// ---------------------------------------------------------------------------------------------------

const LOSS_ATTRS = {
  ignore_index: { type: 'int' },
  reduction: { type: 'string', default: 'mean', oneOf: ['none', 'sum', 'mean'] },
} as const;

/**
 * Shared shape rule: scores/input (N, C, d1…dk), target (N, d1…dk) int32/int64, optional weight (C).
 * Target values are range-checked when known (always at run time).
 */
function lossShape(ctx: ShapeCtx, what: string): { x: ValueType; out: Dim[] | undefined } {
  const x = needType(ctx, 0, FLOATS, what);
  const t = needType(ctx, 1, ['int32', 'int64'], 'target');
  const w = ctx.inputs[2];
  if (w && w.dtype !== x.dtype) ctx.fail(`weight is ${w.dtype} but ${what} is ${x.dtype}`);
  if (x.shape && x.shape.length < 2) ctx.fail(`${what} must have rank ≥ 2 (N, C, …), got [${x.shape.join(',')}]`);
  const c = x.shape?.[1];
  if (w?.shape) {
    if (w.shape.length !== 1) ctx.fail(`weight must be 1-D, got [${w.shape.join(',')}]`);
    if (typeof c === 'number' && typeof w.shape[0] === 'number' && w.shape[0] !== c) ctx.fail(`weight has ${w.shape[0]} elements, expected C=${c}`);
  }
  let tshape: Dim[] | undefined = t.shape;
  if (x.shape && t.shape) {
    const want = [x.shape[0]!, ...x.shape.slice(2)];
    if (t.shape.length !== want.length || t.shape.some((d, i) => typeof d === 'number' && typeof want[i] === 'number' && d !== want[i]))
      ctx.fail(`target [${t.shape.join(',')}] must have shape [${want.join(',')}] (input without the class axis)`);
    tshape = want.map((d, i) => (typeof d === 'number' ? d : t.shape![i]!));
  }
  const tv = ctx.value(1);
  if (tv && typeof c === 'number') {
    const ii = ctx.attrs.ignore_index as number | undefined;
    for (let i = 0; i < tv.size; i++) {
      const v = tv.num(i);
      if (v !== ii && (v < 0 || v >= c)) ctx.fail(`target value ${v} at ${i} is outside [0, ${c})${ii !== undefined ? ` and is not ignore_index ${ii}` : ''}`);
    }
  }
  return { x, out: ctx.attrs.reduction === 'none' ? tshape : [] };
}

/** NLL over log-probabilities `lp` (N, C, D flattened): per-element losses and the reduction. */
function nll(lp: ArrayLike<number>, dims: readonly number[], target: Tensor, weight: ArrayLike<number> | undefined, ignore: number | undefined, reduction: string): { vals: Float64Array; dims: number[] } {
  const n = dims[0]!;
  const c = dims[1]!;
  let d = 1;
  for (let i = 2; i < dims.length; i++) d *= dims[i]!;
  const loss = new Float64Array(n * d);
  let wsum = 0;
  let lsum = 0;
  for (let ni = 0; ni < n; ni++)
    for (let k = 0; k < d; k++) {
      const t = target.num(ni * d + k);
      if (t === ignore) continue; // ONNX: ignored targets contribute 0 loss and 0 weight
      const w = weight ? weight[t]! : 1;
      const l = -lp[(ni * c + t) * d + k]! * w;
      loss[ni * d + k] = l;
      lsum += l;
      wsum += w;
    }
  if (reduction === 'none') return { vals: loss, dims: [n, ...dims.slice(2)] };
  // ONNX: "mean: the sum of the output will be divided by the sum of applied weights"
  return { vals: Float64Array.of(reduction === 'sum' ? lsum : lsum / wsum), dims: [] };
}

const toOut = (dtype: Tensor['type'], dims: number[], v: Float64Array) => fromFloats(dtype, dims, dtype === 'float64' ? v : Float32Array.from(v));

defineOp({
  name: 'NegativeLogLikelihoodLoss',
  inputs: [2, 3],
  outputs: [1, 1],
  attrs: { ...LOSS_ATTRS },
  doc: 'loss = -input[n, target[n, …], …]·weight[target], reduced by none/sum/mean',
  inferShape(ctx) {
    const { x, out } = lossShape(ctx, 'input');
    return [{ dtype: x.dtype, shape: out }];
  },
  reference({ inputs, attrs }) {
    const [X, T, W] = inputs;
    const r = nll(floats(X!), X!.dims, T!, W ? floats(W) : undefined, attrs.ignore_index, attrs.reduction);
    return [toOut(X!.type, r.dims, r.vals)];
  },
});

defineOp({
  name: 'SoftmaxCrossEntropyLoss',
  inputs: [2, 3],
  outputs: [1, 2],
  attrs: { ...LOSS_ATTRS },
  doc: 'NLL of log-softmax(scores) over the class axis 1; optional log_prob output',
  inferShape(ctx) {
    const { x, out } = lossShape(ctx, 'scores');
    const res: ValueType[] = [{ dtype: x.dtype, shape: out }];
    if (ctx.numOutputs > 1) res.push({ dtype: x.dtype, shape: x.shape });
    return res;
  },
  reference({ inputs, attrs, node }) {
    const [X, T, W] = inputs;
    const dims = X!.dims;
    const x = floats(X!);
    const n = dims[0]!;
    const c = dims[1]!;
    let d = 1;
    for (let i = 2; i < dims.length; i++) d *= dims[i]!;
    const lp = new Float64Array(X!.size);
    for (let ni = 0; ni < n; ni++)
      for (let k = 0; k < d; k++) {
        const base = ni * c * d + k;
        let mx = -Infinity;
        for (let j = 0; j < c; j++) mx = Math.max(mx, x[base + j * d]!);
        let s = 0;
        for (let j = 0; j < c; j++) s += Math.exp(x[base + j * d]! - mx);
        const ls = Math.log(s) + mx;
        for (let j = 0; j < c; j++) lp[base + j * d] = x[base + j * d]! - ls;
      }
    const r = nll(lp, dims, T!, W ? floats(W) : undefined, attrs.ignore_index, attrs.reduction);
    const outs = [toOut(X!.type, r.dims, r.vals)];
    if (node.outputs.length > 1) outs.push(toOut(X!.type, [...dims], lp));
    return outs;
  },
});

// ONNX Col2Im (opset 18): "The operator rearranges column blocks back into a multidimensional image ... input
// [N, C * prod(block_shape), L] ... output [N, C, image_shape...]"; overlapping block values are summed
defineOp({
  name: 'Col2Im',
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: { dilations: { type: 'ints', default: undefined }, pads: { type: 'ints', default: undefined }, strides: { type: 'ints', default: undefined } },
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'input');
    needType(ctx, 1, ['int64'], 'image_shape');
    needType(ctx, 2, ['int64'], 'block_shape');
    const img = ctx.value(1);
    const blk = ctx.value(2);
    if (x.shape && x.shape.length !== 3) ctx.fail(`input must be [N, C·prod(block), L], got rank ${x.shape.length}`);
    if (!img || !blk || !x.shape) return [{ dtype: x.dtype }];
    const r = img.size;
    if (blk.size !== r || r < 1) ctx.fail(`image_shape and block_shape must have the same length ≥ 1 (${img.size}, ${blk.size})`);
    const g = col2imGeometry(ctx.attrs, img.toNumbers(), blk.toNumbers());
    if (typeof g === 'string') ctx.fail(g);
    const geo = g as Col2ImGeometry;
    const cb = x.shape[1];
    const L = x.shape[2];
    if (typeof cb === 'number' && cb % geo.kernel !== 0) ctx.fail(`input dim 1 (${cb}) is not a multiple of prod(block_shape) = ${geo.kernel}`);
    if (typeof L === 'number' && L !== geo.blocks) ctx.fail(`input has ${L} blocks, the geometry gives ${geo.blocks}`);
    return [{ dtype: x.dtype, shape: [x.shape[0]!, typeof cb === 'number' ? cb / geo.kernel : '?', ...geo.image] }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const x = inputs[0]!;
    const geo = col2imGeometry(attrs, inputs[1]!.toNumbers(), inputs[2]!.toNumbers()) as Col2ImGeometry;
    const [N, CB, L] = x.dims as [number, number, number];
    const C = CB / geo.kernel;
    const r = geo.image.length;
    const xv = floats(x);
    const imgSize = geo.image.reduce((a, b) => a * b, 1);
    const y = new Float64Array(N * C * imgSize);
    const kIdx = new Array<number>(r).fill(0);
    const bIdx = new Array<number>(r).fill(0);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let k = 0; k < geo.kernel; k++) {
          // kernel offset k → per-dim kernel index (row-major over block_shape)
          let rem = k;
          for (let i = r - 1; i >= 0; i--) {
            kIdx[i] = rem % geo.block[i]!;
            rem = Math.floor(rem / geo.block[i]!);
          }
          for (let l = 0; l < L; l++) {
            let rl = l;
            for (let i = r - 1; i >= 0; i--) {
              bIdx[i] = rl % geo.counts[i]!;
              rl = Math.floor(rl / geo.counts[i]!);
            }
            let p = 0;
            let inside = true;
            for (let i = 0; i < r; i++) {
              const pos = bIdx[i]! * geo.strides[i]! + kIdx[i]! * geo.dilations[i]! - geo.pads[i]!;
              if (pos < 0 || pos >= geo.image[i]!) {
                inside = false;
                break;
              }
              p = p * geo.image[i]! + pos;
            }
            if (inside) y[(n * C + c) * imgSize + p] += xv[(n * CB + c * geo.kernel + k) * L + l]!;
          }
        }
    return [fromFloats(outputTypes[0]!.dtype, [N, C, ...geo.image], y)];
  },
});

interface Col2ImGeometry {
  image: number[];
  block: number[];
  dilations: number[];
  pads: number[];
  strides: number[];
  /** blocks per spatial dim, their product, and prod(block_shape) */
  counts: number[];
  blocks: number;
  kernel: number;
}

/** Col2Im's sliding-window geometry, or a message naming what is invalid. */
function col2imGeometry(attrs: Record<string, any>, image: number[], block: number[]): Col2ImGeometry | string {
  const r = image.length;
  const dilations: number[] = attrs.dilations ?? new Array(r).fill(1);
  const pads: number[] = attrs.pads ?? new Array(2 * r).fill(0);
  const strides: number[] = attrs.strides ?? new Array(r).fill(1);
  if (dilations.length !== r || strides.length !== r || pads.length !== 2 * r) return `dilations/strides need ${r} values and pads ${2 * r}`;
  const counts: number[] = [];
  for (let i = 0; i < r; i++) {
    if (!(image[i]! >= 1) || !(block[i]! >= 1) || !(dilations[i]! >= 1) || !(strides[i]! >= 1) || pads[i]! < 0 || pads[i + r]! < 0) return `invalid geometry in dim ${i}`;
    const eff = dilations[i]! * (block[i]! - 1) + 1;
    const n = Math.floor((image[i]! + pads[i]! + pads[i + r]! - eff) / strides[i]!) + 1;
    if (n < 1) return `block ${block[i]} (dilation ${dilations[i]}) does not fit image dim ${image[i]} with its pads`;
    counts.push(n);
  }
  const blocks = counts.reduce((a, b) => a * b, 1);
  const kernel = block.reduce((a, b) => a * b, 1);
  if (image.reduce((a, b) => a * b, 1) > 2 ** 28) return `image_shape [${image.join(',')}] is too large`;
  return { image, block, dilations, pads, strides, counts, blocks, kernel };
}
