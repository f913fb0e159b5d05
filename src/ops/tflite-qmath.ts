import { UnsupportedError } from '../errors.js';
import type { Dim } from '../ir/graph.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { type Attrs, defineOp, type RunCtx, type ShapeCtx } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { invSqrtQuantizedMultiplierExp, lutPopulate8, multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplierSingle, quantizeMultiplier, roundAway } from '../tensor/tflite-quant.js';
import { erf } from './elementwise.js';
import { broadcastIndex, broadcastInfer, needQ, outType, qin, qout, QUANT_ATTRS, unaryInfer } from './tflite.js';
import { need } from './util.js';
import { matmulCost } from './cost.js';

/**
 * Quantized (int8) forms of TFLite's math builtins that no ONNX-family op computes: each with the integer kernel's
 * own arithmetic (kernels/*.cc Prepare multipliers, reference_integer_ops / reference_ops Eval), so an int8 model
 * from the TF converter runs as in TFLite. The importer (src/formats/tflite/builtins.ts) maps only the quantized
 * forms here; float forms stay ONNX ops. Pointwise ones are per-code functions and run on the 8-bit table kernel
 * (src/kernels/tflite-int8.ts tflLutKernel). Checked against TFLite-web byte for byte
 * (test/formats/tflite/int8-math-tflite-web.test.ts).
 */

const fr = Math.fround;
const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

function int8Only(ctx: ShapeCtx, k: number, what: string): void {
  const t = need(ctx, k, what);
  if (t.dtype !== 'int8') ctx.fail(`${what} is ${t.dtype}; only the int8 form is defined here`);
  needQ(ctx, qin(ctx.attrs, k), t.dtype, what);
}

// ---------------------------------------------------------------- per-code (table) ops

/** A pointwise int8 op: one value per input code, built as TFLite builds its table, then looked up. */
function tableRun(ctx: RunCtx, table: (inScale: number, inZp: number, outScale: number, outZp: number) => ArrayLike<number>): Tensor[] {
  const x = ctx.inputs[0]!;
  const iq = qin(ctx.attrs, 0)!, oq = qout(ctx.attrs)!;
  const t = table(iq.scale, iq.zp, oq.scale, oq.zp);
  const out = Tensor.zeros('int8', x.dims);
  const xd = x.data as Int8Array, od = out.data as Int8Array;
  for (let i = 0; i < xd.length; i++) od[i] = t[xd[i]! & 0xff]!;
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}

function int8UnaryInfer(ctx: ShapeCtx) {
  int8Only(ctx, 0, 'input');
  return unaryInfer(ctx);
}

/** gelu.h: GeluTransform "0.5f * in * (1.f + std::erf(in * M_SQRT1_2))" (erf of a double), GeluTransformApproximate in float. */
const SQRT_2_PI = fr((2 / Math.sqrt(Math.PI)) * Math.SQRT1_2);
export const geluTransform = (v: number): number => fr(fr(0.5 * v) * (1 + erf(v * Math.SQRT1_2)));
export const geluTransformApproximate = (v: number): number => {
  const cube = fr(fr(fr(fr(0.044715 * v) * v) * v));
  return fr(fr(0.5 * v) * fr(1 + fr(Math.tanh(fr(SQRT_2_PI * fr(v + cube))))));
};
/** activations.cc EluPrepare: "value < 0.0 ? std::exp(value) - 1.0f : value" (expf). */
export const eluTransform = (v: number): number => (v < 0 ? fr(fr(Math.exp(v)) - 1) : v);

defineOp({
  name: 'GELU',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { approximate: { type: 'int', default: 0 }, ...QUANT_ATTRS },
  doc: 'TFLite int8 GELU: the 256-entry table of gelu.cc (LUTPopulate of GeluTransform / GeluTransformApproximate)',
  inferShape: int8UnaryInfer,
  reference: (c) => tableRun(c, (is, iz, os, oz) => lutPopulate8('int8', is, iz, os, oz, c.attrs.approximate ? geluTransformApproximate : geluTransform)),
});
defineOp({
  name: 'ELU',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: QUANT_ATTRS,
  doc: 'TFLite int8 ELU: the 256-entry table of activations.cc EluPrepare (expm1 for negative inputs)',
  inferShape: int8UnaryInfer,
  reference: (c) => tableRun(c, (is, iz, os, oz) => lutPopulate8('int8', is, iz, os, oz, eluTransform)),
});

/** elementwise.cc AbsEvalQuantized: "MultiplyByQuantizedMultiplier(std::abs(i - input_zp), multiplier, shift) + output_zp", clamped. */
export function absTable(inScale: number, inZp: number, outScale: number, outZp: number): Int8Array {
  const [m, s] = quantizeMultiplier(inScale / outScale);
  return Int8Array.from({ length: 256 }, (_, k) => clamp(multiplyByQuantizedMultiplier(Math.abs(((k << 24) >> 24) - inZp), m, s) + outZp, -128, 127));
}
defineOp({
  name: 'ABS',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: QUANT_ATTRS,
  doc: 'TFLite int8 ABS: |x − zp| requantized (elementwise.cc AbsEvalQuantized)',
  inferShape: int8UnaryInfer,
  reference: (c) => tableRun(c, absTable),
});

// ---------------------------------------------------------------- broadcasting binary ops

function int8BinaryInfer(ctx: ShapeCtx) {
  int8Only(ctx, 0, 'input1');
  int8Only(ctx, 1, 'input2');
  const shape = broadcastInfer(ctx);
  if (shape && shape.length > 6) ctx.fail(`rank ${shape.length} > 6`);
  return [outType(ctx, 'int8', shape)];
}

function binaryRun(ctx: RunCtx, f: (a: number, b: number) => number): Tensor[] {
  const [x, y] = ctx.inputs as [Tensor, Tensor];
  const dims = ctx.outputTypes[0]!.shape as number[];
  const out = Tensor.zeros('int8', dims);
  const xd = x.data as Int8Array, yd = y.data as Int8Array, od = out.data as Int8Array;
  broadcastIndex(x.dims, y.dims, dims, (o, i, j) => (od[o] = f(xd[i]!, yd[j]!)));
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}

/**
 * squared_difference.cc (int8): left_shift 7, twice_max_input_scale = 2·max(s1, s2) (double), input multipliers
 * s_i / twice_max, output multiplier twice_max² / (2^14 · s_out), all QuantizeMultiplierSmallerThanOneExp; Eval:
 * "raw_diff = MBQMSmallerThanOneExp((x1 − zp1)·2^7, m1, e1) − MBQMSmallerThanOneExp((x2 − zp2)·2^7, m2, e2);
 * raw_output = MBQMSmallerThanOneExp(raw_diff², m_out, e_out) + out_zp", clamped. A string says why the form is refused.
 */
export function squaredDifferenceInt8(s1: number, z1: number, s2: number, z2: number, so: number, zo: number): ((a: number, b: number) => number) | string {
  const twiceMax = 2 * Math.max(s1, s2);
  const [m1, e1] = quantizeMultiplier(s1 / twiceMax);
  const [m2, e2] = quantizeMultiplier(s2 / twiceMax);
  const [mo, eo] = quantizeMultiplier((twiceMax * twiceMax) / ((1 << 14) * so));
  // QuantizeMultiplierSmallerThanOneExp asserts a multiplier below one (shift ≤ 0)
  if (e1 > 0 || e2 > 0 || eo > 0) return `the output multiplier ${(twiceMax * twiceMax) / ((1 << 14) * so)} is not below 1 (TFLite's kernel requires it)`;
  return (a, b) => {
    const d = multiplyByQuantizedMultiplier((a - z1) * 128, m1, e1) - multiplyByQuantizedMultiplier((b - z2) * 128, m2, e2);
    return clamp(multiplyByQuantizedMultiplier(d * d, mo, eo) + zo, -128, 127);
  };
}
function sqdFn(attrs: Attrs, node: string): (a: number, b: number) => number {
  const [a, b, o] = [qin(attrs, 0)!, qin(attrs, 1)!, qout(attrs)!];
  const f = squaredDifferenceInt8(a.scale, a.zp, b.scale, b.zp, o.scale, o.zp);
  if (typeof f === 'string') throw new UnsupportedError(`node '${node}' (SQUARED_DIFFERENCE): ${f}`);
  return f;
}
defineOp({
  name: 'SQUARED_DIFFERENCE',
  domain: TFL_DOMAIN,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: QUANT_ATTRS,
  doc: 'TFLite int8 SQUARED_DIFFERENCE (squared_difference.cc: rescale with left_shift 7, square, requantize)',
  inferShape(ctx) {
    const r = int8BinaryInfer(ctx);
    sqdFn(ctx.attrs, ctx.node.name); // refused at load, as TFLite's Prepare refuses
    return r;
  },
  reference: (c) => binaryRun(c, sqdFn(c.attrs, c.node.name)),
});

/**
 * prelu.cc (int8): output_multiplier_1 = input_scale / output_scale, output_multiplier_2 = input_scale · alpha_scale /
 * output_scale (float arithmetic, as the kernel's float fields); BroadcastPrelu4DSlow: "input_value = x − input_zp;
 * input_value ≥ 0 ? MBQM(input_value, m1, s1) : MBQM(input_value · (alpha − alpha_zp), m2, s2)" + output_zp, clamped.
 */
export function preluInt8(sx: number, zx: number, sa: number, za: number, so: number, zo: number): (x: number, a: number) => number {
  const [m1, s1] = quantizeMultiplier(fr(fr(sx) / fr(so)));
  const [m2, s2] = quantizeMultiplier(fr(fr(fr(sx) * fr(sa)) / fr(so)));
  return (x, a) => {
    const v = x - zx;
    return clamp((v >= 0 ? multiplyByQuantizedMultiplier(v, m1, s1) : multiplyByQuantizedMultiplier(v * (a - za), m2, s2)) + zo, -128, 127);
  };
}
defineOp({
  name: 'PRELU',
  domain: TFL_DOMAIN,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: QUANT_ATTRS,
  doc: 'TFLite int8 PRELU (prelu.cc: identity and alpha multipliers)',
  inferShape: int8BinaryInfer,
  reference(c) {
    const [x, a, o] = [qin(c.attrs, 0)!, qin(c.attrs, 1)!, qout(c.attrs)!];
    return binaryRun(c, preluInt8(x.scale, x.zp, a.scale, a.zp, o.scale, o.zp));
  },
});

// ---------------------------------------------------------------- BATCH_MATMUL

/**
 * batch_matmul.cc (int8, adj_x / adj_y already applied by the importer's Transposes): x [..., M, K] · y [..., K, N] with
 * broadcast batch dims; "total += (lhs − lhs_zp)·(rhs − rhs_zp)" in int32, requantized with the multiplier of
 * s_x·s_y / s_out (GetQuantizedConvolutionMultipler, double) + output_zp, clamped. TFLite's registered kernel is the
 * optimized one (optimized_ops::BatchMatMul → cpu_backend_gemm → ruy), so the requantization is ruy's single-rounding
 * MultiplyByQuantizedMultiplier, not reference_ops' gemmlowp double rounding: TFLite-web gives -105 for acc -601,
 * multiplier 1806269432, shift -2, zp 21 (real -105.38), where double rounding gives -106.
 */
defineOp({
  name: 'BATCH_MATMUL',
  cost: matmulCost,
  domain: TFL_DOMAIN,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: QUANT_ATTRS,
  doc: 'TFLite int8 BATCH_MATMUL (int32 accumulation, requantized per batch_matmul.cc)',
  inferShape(ctx) {
    int8Only(ctx, 0, 'x');
    int8Only(ctx, 1, 'y');
    const a = ctx.inputs[0]!.shape, b = ctx.inputs[1]!.shape;
    if (!a || !b) return [outType(ctx, 'int8', undefined)];
    if (a.length < 2 || b.length < 2 || a.length > 5 || b.length > 5) ctx.fail(`ranks ${a.length} and ${b.length}; BATCH_MATMUL takes 2..5`);
    const K = a[a.length - 1], K2 = b[b.length - 2];
    if (typeof K === 'number' && typeof K2 === 'number' && K !== K2) ctx.fail(`inner dimensions ${K} and ${K2} differ`);
    const r = Math.max(a.length, b.length) - 2;
    const batch: Dim[] = [];
    for (let i = 0; i < r; i++) {
      const x = a[a.length - 2 - r + i] ?? 1, y = b[b.length - 2 - r + i] ?? 1;
      if (typeof x === 'number' && typeof y === 'number' && x !== y && x !== 1 && y !== 1) ctx.fail(`batch dims [${a}] and [${b}] do not broadcast`);
      batch.push(x === 1 ? y : x);
    }
    return [outType(ctx, 'int8', [...batch, a[a.length - 2]!, b[b.length - 1]!])];
  },
  reference(c) {
    const [x, y] = c.inputs as [Tensor, Tensor];
    const dims = c.outputTypes[0]!.shape as number[];
    const [qx, qy, qo] = [qin(c.attrs, 0)!, qin(c.attrs, 1)!, qout(c.attrs)!];
    const [m, s] = quantizeMultiplier((qx.scale * qy.scale) / qo.scale);
    const M = x.dims[x.dims.length - 2]!, K = x.dims[x.dims.length - 1]!, N = y.dims[y.dims.length - 1]!;
    const out = Tensor.zeros('int8', dims);
    const xd = x.data as Int8Array, yd = y.data as Int8Array, od = out.data as Int8Array;
    // the batch index pairs: broadcastIndex over the batch dims with one element per matrix
    const bx = x.dims.slice(0, -2), by = y.dims.slice(0, -2), bo = dims.slice(0, -2);
    broadcastIndex(bx, by, bo, (o, i, j) => {
      for (let r = 0; r < M; r++)
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += (xd[(i * M + r) * K + k]! - qx.zp) * (yd[(j * K + k) * N + n]! - qy.zp);
          od[(o * M + r) * N + n] = clamp(multiplyByQuantizedMultiplierSingle(acc | 0, m, s) + qo.zp, -128, 127);
        }
    });
    out.quant = c.outputTypes[0]?.quant;
    return [out];
  },
});


// ---------------------------------------------------------------- SUM

/** Output shape of a reduction over constant axes (reduce.cc ResizeOutputTensor: a repeated axis counts once). */
function reduceInfer(ctx: ShapeCtx) {
  int8Only(ctx, 0, 'input');
  const x = ctx.inputs[0]!;
  const ax = ctx.value(1);
  if (!ax) ctx.fail('axes must be a constant');
  if (!x.shape) return [outType(ctx, 'int8', undefined)];
  const r = x.shape.length;
  const axes = new Set(ax!.toNumbers().map((a) => (!Number.isInteger(a) || a < -r || a >= r ? ctx.fail(`axis ${a} out of range for rank ${r}`) : a < 0 ? a + r : a)));
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => (axes.has(i) ? ctx.attrs.keep_dims && shape.push(1) : shape.push(d)));
  return [outType(ctx, 'int8', shape)];
}

/** Σ of the raw codes per output element (ReduceSumImpl with an int32 accumulator), and the count reduced into each. */
function sumCodes(x: Tensor, axes: Set<number>): { sums: Int32Array; count: number } {
  const r = x.dims.length;
  const ostr: number[] = [];
  let s = 1;
  for (let i = r - 1; i >= 0; i--) {
    ostr[i] = axes.has(i) ? 0 : s;
    if (!axes.has(i)) s *= x.dims[i]!;
  }
  const sums = new Int32Array(s);
  const xd = x.data as Int8Array;
  const idx = new Array<number>(r).fill(0);
  let o = 0;
  for (let i = 0; i < x.size; i++) {
    sums[o] = (sums[o]! + xd[i]!) | 0;
    for (let k = r - 1; k >= 0; k--) {
      idx[k]!++;
      o += ostr[k]!;
      if (idx[k]! < x.dims[k]!) break;
      o -= ostr[k]! * x.dims[k]!;
      idx[k] = 0;
    }
  }
  return { sums, count: s ? x.size / s : 0 };
}

/**
 * reduce.cc EvalSum (int8): with the input's scale and zero point on the output, EvalGeneric sums the codes in the
 * int8 type itself (wrapping); otherwise reference_ops::QuantizedMeanOrSum(compute_sum): int32 sums of the codes,
 * then in float "scale = input_scale / output_scale; bias = -input_zero_point * scale * num_elements_in_axis;
 * static_cast<int32>(TfLiteRound(temp_sum * scale + bias)) + output_zero_point", stored with static_cast<int8_t>
 * (no clamp: TFLite wraps).
 */
export function sumInt8(sums: Int32Array, count: number, si: number, zi: number, so: number, zo: number): Int8Array {
  const out = new Int8Array(sums.length);
  if (si === so && zi === zo) {
    for (let i = 0; i < sums.length; i++) out[i] = sums[i]!; // the int8 accumulator's wrap-around
    return out;
  }
  if (count === 0) return out;
  const scale = fr(fr(si) / fr(so));
  const bias = fr(fr(-zi * scale) * count);
  for (let i = 0; i < sums.length; i++) out[i] = roundAway(fr(fr(fr(sums[i]!) * scale) + bias)) + zo;
  return out;
}
defineOp({
  name: 'SUM',
  domain: TFL_DOMAIN,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { keep_dims: { type: 'int', default: 0 }, ...QUANT_ATTRS },
  doc: 'TFLite int8 SUM over constant axes (reduce.cc EvalSum: QuantizedMeanOrSum, or a wrapping int8 sum at equal parameters)',
  inferShape: reduceInfer,
  reference(c) {
    const [x, ax] = c.inputs as [Tensor, Tensor];
    const r = x.dims.length;
    const { sums, count } = sumCodes(x, new Set(ax.toNumbers().map((a) => (a < 0 ? a + r : a))));
    const [qi, qo] = [qin(c.attrs, 0)!, qout(c.attrs)!];
    const out = new Tensor('int8', sumInt8(sums, count, qi.scale, qi.zp, qo.scale, qo.zp), c.outputTypes[0]!.shape as number[]);
    out.quant = c.outputTypes[0]?.quant;
    return [out];
  },
});

// ---------------------------------------------------------------- L2_NORMALIZATION

/**
 * reference_integer_ops::L2Normalization (int8, over the last axis): "acc = Σ (x − zp)²" (int32);
 * GetInvSqrtQuantizedMultiplierExp(acc, kReverseShift = −1); "MultiplyByQuantizedMultiplier(x − zp, inv_l2norm_multiplier,
 * inv_l2norm_shift + 7)" clamped to int8. The output is on TFLite's fixed scale 1/128, zero point 0 (l2norm.cc Prepare
 * requires it).
 */
defineOp({
  name: 'L2_NORMALIZATION',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: QUANT_ATTRS,
  doc: 'TFLite int8 L2_NORMALIZATION over the last axis (reference_integer_ops::L2Normalization, output scale 1/128, zp 0)',
  inferShape(ctx) {
    const r = int8UnaryInfer(ctx);
    const oq = qout(ctx.attrs)!;
    if (oq.scale !== 1 / 128 || oq.zp !== 0) throw new UnsupportedError(`node '${ctx.node.name}' (L2_NORMALIZATION): int8 output must have scale 1/128 and zero point 0 (TFLite's l2norm.cc), got ${oq.scale} / ${oq.zp}`);
    return r;
  },
  reference(c) {
    const x = c.inputs[0]!;
    const zp = qin(c.attrs, 0)!.zp;
    const depth = x.dims[x.dims.length - 1] ?? 1;
    const out = Tensor.zeros('int8', x.dims);
    const xd = x.data as Int8Array, od = out.data as Int8Array;
    for (let o = 0; depth > 0 && o < xd.length; o += depth) {
      let acc = 0;
      for (let i = 0; i < depth; i++) acc = (acc + (xd[o + i]! - zp) ** 2) | 0;
      const [m, s] = invSqrtQuantizedMultiplierExp(acc, -1);
      for (let i = 0; i < depth; i++) od[o + i] = clamp(multiplyByQuantizedMultiplier(xd[o + i]! - zp, m, s + 7), -128, 127);
    }
    out.quant = c.outputTypes[0]?.quant;
    return [out];
  },
});
