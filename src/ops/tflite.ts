import { UnsupportedError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { type Attrs, type AttrSpec, defineOp, type RunCtx, type ShapeCtx } from '../ir/registry.js';
import type { DType } from '../tensor/dtype.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import {
  activationRangeQuantized,
  affineQuantize,
  dequantize,
  hardSwishTable8,
  multiplyByQuantizedMultiplier,
  multiplyByQuantizedMultiplierAcc,
  perChannelMultipliers,
  qbounds,
  quantizeMultiplier,
  logisticInt8,
  sigmoidTanhParams,
  softmaxParams,
  softmaxQuantRow,
  tanhInt8,
  tflAddSub,
} from '../tensor/tflite-quant.js';
import { type Lstm8Quant, lstm8CellScale, lstm8Params, lstm8x8_16Run } from './tflite-lstm8.js';
import { need } from './util.js';
import { dim, elems, poolCost } from './cost.js';

/**
 * TFLite builtin operators that have no exact ONNX-family counterpart yet, with TFLite's own semantics (NHWC
 * activations, OHWI weights, TFLite's integer arithmetic bit for bit from src/tensor/tflite-quant.ts). Domain
 * `ai.edgeq.tflite`; op names are the TFLite BuiltinOperator names. Only the TFLite importer creates these nodes.
 *
 * Everything else is imported as the ONE definition ONNX models use (src/formats/tflite/reader.ts):
 *  - float32 CONV_2D / DEPTHWISE_CONV_2D → Conv (data_layout NHWC, weight_layout OHWI / 1HWO); MAX/AVERAGE_POOL_2D →
 *    MaxPool / AveragePool (NHWC); FULLY_CONNECTED → Gemm(transB); ADD / SUB / MUL → Add / Sub / Mul; SOFTMAX
 *    (beta 1) → Softmax; MEAN → ReduceMean; RESIZE_BILINEAR → Resize; TRANSPOSE_CONV → ConvTranspose (NHWC,
 *    OHWI); LOGISTIC / TANH / RELU / RELU6 / RELU_N1_TO_1 / LEAKY_RELU / HARD_SWISH → Sigmoid / Tanh / Relu / Clip /
 *    LeakyRelu / HardSwish; DEQUANTIZE float16 → Cast; layout-neutral ops → their ONNX ops; the elementwise /
 *    shape builtins converters emit (MAXIMUM, RSQRT, EXPAND_DIMS, GATHER, BATCH_MATMUL, reducers, comparisons …)
 *    → their IR ops (src/formats/tflite/builtins.ts); IF → If;
 *  - int8 / uint8 / 16x8 CONV_2D / DEPTHWISE_CONV_2D → QLinearConv, FULLY_CONNECTED → com.microsoft QGemm,
 *    ADD / MUL / LEAKY_RELU → com.microsoft QLinearAdd / QLinearMul / QLinearLeakyRelu, all with
 *    `rounding: 'tflite'` (the same integer kernels); int8 MAX_POOL_2D → MaxPool (NHWC).
 * What stays here, and why:
 *  - quantized TRANSPOSE_CONV (float maps to ConvTranspose NHWC/OHWI): no quantized ConvTranspose in ONNX;
 *  - quantized AVERAGE_POOL_2D, int16 MAX_POOL_2D, SUB, LOGISTIC, TANH, HARD_SWISH, RELU*, SOFTMAX, MEAN, RESIZE_*, QUANTIZE,
 *    DEQUANTIZE (int): TFLite-specific fixed-point kernels (LUT / gemmlowp exp / rounding half away) that no
 *    QLinear* op defines, and (SUB) no quantized ONNX-family op at all;
 *  - float SOFTMAX with beta ≠ 1, RESIZE_NEAREST_NEIGHBOR (TFLite's x·(in/out) ≠ ONNX's x/(out/in) at exact
 *    integers): no exact ONNX spelling;
 *  - SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM: no ONNX counterpart with TFLite's state and integer semantics.
 * MediaPipe's custom ops (MaxPoolingWithArgmax2D, MaxUnpooling2D, Landmarks2TransformMatrix, TransformTensorBilinear,
 * TransformLandmarks) are defined in src/ops/mediapipe.ts; Convolution2DTransposeBias maps onto ConvTranspose.
 *
 * Quantization parameters of activations ride on the node as attributes (one entry per input/output;
 * scale 0 = not quantized) so kernels never depend on run-time metadata; per-channel weight scales come
 * from the weight initializer's `quant`.
 */
export { TFL_DOMAIN };
/** Shared with the quantized math builtins (src/ops/tflite-qmath.ts). */
export { QUANT_ATTRS, qin, qout, needQ, outType, broadcastInfer, broadcastIndex, unaryInfer, type QP };

const QUANT_ATTRS: Record<string, AttrSpec> = {
  in_scale: { type: 'floats', default: [] },
  in_zero_point: { type: 'ints', default: [] },
  out_scale: { type: 'floats', default: [] },
  out_zero_point: { type: 'ints', default: [] },
};
/** Layouts are explicit IR attributes (only TFLite's are implemented: NHWC activations, OHWI / 1HWO weights). */
const NHWC: Record<string, AttrSpec> = { data_layout: { type: 'string', default: 'NHWC', oneOf: ['NHWC'] } };
const layout = (w: string): Record<string, AttrSpec> => ({ ...NHWC, weight_layout: { type: 'string', default: w, oneOf: [w] } });
const CONV_ATTRS: Record<string, AttrSpec> = {
  padding: { type: 'string', default: 'SAME', oneOf: ['SAME', 'VALID'] },
  stride_w: { type: 'int', default: 1 },
  stride_h: { type: 'int', default: 1 },
  dilation_w_factor: { type: 'int', default: 1 },
  dilation_h_factor: { type: 'int', default: 1 },
};

interface QP {
  scale: number;
  zp: number;
}
function qin(a: Attrs, i: number): QP | undefined {
  const s = (a.in_scale as number[])[i];
  return s ? { scale: s, zp: (a.in_zero_point as number[])[i] ?? 0 } : undefined;
}
function qout(a: Attrs, i = 0): QP | undefined {
  const s = (a.out_scale as number[])[i];
  return s ? { scale: s, zp: (a.out_zero_point as number[])[i] ?? 0 } : undefined;
}
const isQ = (t: DType) => t === 'int8' || t === 'uint8' || t === 'int16';

function needQ(ctx: ShapeCtx, qp: QP | undefined, dtype: DType, what: string): void {
  if (isQ(dtype) && !qp) ctx.fail(`${what} is ${dtype} but has no quantization parameters`);
  if (qp && !(qp.scale > 0 && Number.isFinite(qp.scale))) ctx.fail(`${what} has invalid scale ${qp.scale}`);
  if (qp && isQ(dtype)) {
    const [lo, hi] = qbounds(dtype);
    if (qp.zp < lo || qp.zp > hi) ctx.fail(`${what} zero point ${qp.zp} outside ${dtype} range`);
  }
}

function outType(ctx: ShapeCtx, dtype: DType, shape: Dim[] | undefined): ValueType {
  const q = qout(ctx.attrs);
  needQ(ctx, q, dtype, 'output');
  return { dtype, ...(shape ? { shape } : {}), ...(q ? { quant: { scale: Float32Array.of(q.scale), zeroPoint: Int32Array.of(q.zp) } } : {}) };
}

function rank(ctx: ShapeCtx, i: number, r: number, what: string): ValueType {
  const t = need(ctx, i, what);
  if (t.shape && t.shape.length !== r) ctx.fail(`${what} must have rank ${r}, got [${t.shape}]`);
  return t;
}

const num = (d: Dim | undefined): number | undefined => (typeof d === 'number' ? d : undefined);

/** TFLite ComputeOutSize + ComputePaddingWithOffset (padding.h): SAME → ceil(in/s), pad_before = total/2. */
export function tflPadding(padding: string, inSize: number, filter: number, stride: number, dilation: number): { out: number; pad: number } {
  const eff = (filter - 1) * dilation + 1;
  const out = padding === 'SAME' ? Math.floor((inSize + stride - 1) / stride) : Math.floor((inSize + stride - eff) / stride);
  const total = Math.max(0, (out - 1) * stride + eff - inSize);
  return { out: Math.max(0, out), pad: Math.floor(total / 2) };
}

function checkConvAttrs(ctx: ShapeCtx): void {
  const a = ctx.attrs;
  for (const k of ['stride_w', 'stride_h', 'dilation_w_factor', 'dilation_h_factor']) if (k in a && !(a[k] >= 1)) ctx.fail(`${k} must be ≥ 1, got ${a[k]}`);
}

/** Per-channel (or per-tensor) filter scales from a weight tensor's quant. */
function filterScales(ctx: { fail(m: string): never }, wq: ValueType['quant'] | undefined, channels: number, axis: number): Float32Array {
  if (!wq) return ctx.fail('quantized weights have no quantization parameters');
  if (wq.scale.length !== 1 && (wq.scale.length !== channels || (wq.axis ?? axis) !== axis)) ctx.fail(`weights have ${wq.scale.length} scales for ${channels} output channels`);
  return wq.scale;
}

function intData(t: Tensor): ArrayLike<number> {
  if (t.type === 'int64') {
    const d = t.data as BigInt64Array;
    const out = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    return out;
  }
  return t.data as ArrayLike<number>;
}

/** Shared quantized-conv epilogue: TFLite picks the int64 rescale for 16-bit activations with int64 (or no) bias. */
function requantizer(x: Tensor, bias: Tensor | undefined): (acc: number, m: number, s: number) => number {
  const wide = x.type === 'int16' && (!bias || bias.type === 'int64');
  return wide ? multiplyByQuantizedMultiplierAcc : multiplyByQuantizedMultiplier;
}

function checkBias(ctx: ShapeCtx, i: number, channels: number | undefined, xType: DType): void {
  const b = ctx.inputs[i];
  if (!b) return;
  const want: DType[] = xType === 'float32' ? ['float32'] : xType === 'int16' ? ['int64', 'int32'] : ['int32'];
  if (!xType) return;
  if (!want.includes(b.dtype)) ctx.fail(`bias has type ${b.dtype}, expected ${want.join(' or ')}`);
  if (b.shape && (b.shape.length !== 1 || (channels !== undefined && typeof b.shape[0] === 'number' && b.shape[0] !== channels))) ctx.fail(`bias must have shape [${channels}], got [${b.shape}]`);
}

// CONV_2D / DEPTHWISE_CONV_2D: imported as ONNX Conv (float) or QLinearConv with rounding 'tflite' (int8/uint8/16x8),
// with data_layout NHWC and weight_layout OHWI / 1HWO (src/formats/tflite/reader.ts)

// ---------------------------------------------------------------- TRANSPOSE_CONV

defineOp({
  name: 'TRANSPOSE_CONV',
  cost: ({ inputs: [, w, x] }) => elems(x) * elems(w, 0, -1),
  domain: TFL_DOMAIN,
  inputs: [3, 4],
  outputs: [1, 1],
  attrs: { padding: CONV_ATTRS.padding!, stride_w: CONV_ATTRS.stride_w!, stride_h: CONV_ATTRS.stride_h!, ...layout('OHWI'), ...QUANT_ATTRS },
  doc: 'TFLite TRANSPOSE_CONV(output_shape, OHWI weights, NHWC input, bias)',
  inferShape(ctx) {
    checkConvAttrs(ctx);
    const os = need(ctx, 0, 'output_shape');
    if (os.dtype !== 'int32') ctx.fail(`output_shape must be int32, got ${os.dtype}`);
    const w = rank(ctx, 1, 4, 'weights');
    const x = rank(ctx, 2, 4, 'input');
    if (!['float32', 'int8', 'int16'].includes(x.dtype)) ctx.fail(`input type ${x.dtype} not supported`);
    if ((x.dtype === 'float32') !== (w.dtype === 'float32') || (w.dtype !== 'float32' && w.dtype !== 'int8')) ctx.fail(`weights type ${w.dtype} does not match input ${x.dtype}`);
    needQ(ctx, qin(ctx.attrs, 2), x.dtype, 'input');
    const ws = w.shape?.map(num);
    if (ws && x.shape && ws[3] !== undefined && typeof x.shape[3] === 'number' && ws[3] !== x.shape[3]) ctx.fail(`weights input channels ${ws[3]} ≠ input channels ${x.shape[3]}`);
    checkBias(ctx, 3, ws?.[0], x.dtype);
    const v = ctx.value(0);
    if (!v) return [outType(ctx, x.dtype, undefined)];
    const shape = v.toNumbers();
    if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 0)) ctx.fail(`output_shape must be 4 non-negative ints, got [${shape}]`);
    if (ws?.[0] !== undefined && shape[3] !== ws[0]) ctx.fail(`output_shape channels ${shape[3]} ≠ weights output channels ${ws[0]}`);
    if (x.shape && typeof x.shape[0] === 'number' && x.shape[0] !== shape[0]) ctx.fail(`output_shape batch ${shape[0]} ≠ input batch ${x.shape[0]}`);
    sizeOf(shape, `node '${ctx.node.name}' output`);
    return [outType(ctx, x.dtype, shape)];
  },
  reference(ctx) {
    const [, w, x, b] = ctx.inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
    const a = ctx.attrs;
    const dims = ctx.outputTypes[0]!.shape as number[];
    const [N, OH, OW, O] = dims as [number, number, number, number];
    const [, KH, KW, C] = w.dims as number[];
    const [, H, W] = x.dims as number[];
    // TFLite computes the padding with the output as "input" (transpose_conv.cc ResizeTensor/Prepare)
    const ph = tflPadding(a.padding, OH, KH!, a.stride_h, 1).pad;
    const pw = tflPadding(a.padding, OW, KW!, a.stride_w, 1).pad;
    const quant = x.type !== 'float32';
    const xd = x.data as ArrayLike<number>;
    const wd = w.data as ArrayLike<number>;
    const acc = new Float64Array(sizeOf(dims));
    const xOff = quant ? -qin(a, 2)!.zp : 0;
    for (let n = 0; n < N; n++)
      for (let iy = 0; iy < H!; iy++)
        for (let ix = 0; ix < W!; ix++) {
          const xb = ((n * H! + iy) * W! + ix) * C!;
          for (let ky = 0; ky < KH!; ky++) {
            const oy = iy * a.stride_h - ph + ky;
            if (oy < 0 || oy >= OH) continue;
            for (let kx = 0; kx < KW!; kx++) {
              const ox = ix * a.stride_w - pw + kx;
              if (ox < 0 || ox >= OW) continue;
              const ob = ((n * OH + oy) * OW + ox) * O;
              for (let oc = 0; oc < O; oc++) {
                const wb = ((oc * KH! + ky) * KW! + kx) * C!;
                let s = 0;
                for (let ic = 0; ic < C!; ic++) s += (xd[xb + ic]! + xOff) * wd[wb + ic]!;
                acc[ob + oc]! += s;
              }
            }
          }
        }
    const bd = b ? intData(b) : undefined;
    const out = Tensor.zeros(x.type, dims);
    const od = out.data as Float32Array | Int8Array | Int16Array;
    if (!quant) {
      for (let i = 0; i < acc.length; i++) od[i] = acc[i]! + (bd ? bd[i % O]! : 0);
      return [out];
    }
    const oq = qout(a)!;
    const fs = filterScales({ fail: (m) => { throw new UnsupportedError(`node '${ctx.node.name}': ${m}`); } }, w.quant, O, 0);
    const { mult, shift } = perChannelMultipliers(qin(a, 2)!.scale, fs, oq.scale, O);
    const [lo, hi] = qbounds(x.type);
    const rq = requantizer(x, b);
    for (let i = 0; i < acc.length; i++) {
      const oc = i % O;
      const v = rq(acc[i]! + (bd ? bd[oc]! : 0), mult[oc]!, shift[oc]!) + oq.zp;
      od[i] = v < lo ? lo : v > hi ? hi : v;
    }
    out.quant = ctx.outputTypes[0]?.quant;
    return [out];
  },
});

// FULLY_CONNECTED: imported as ONNX Gemm(transB = 1) (float) or com.microsoft QGemm with rounding 'tflite'

// ---------------------------------------------------------------- pooling

const POOL_ATTRS: Record<string, AttrSpec> = {
  padding: CONV_ATTRS.padding!,
  stride_w: CONV_ATTRS.stride_w!,
  stride_h: CONV_ATTRS.stride_h!,
  filter_width: { type: 'int', required: true },
  filter_height: { type: 'int', required: true },
  ...NHWC,
  ...QUANT_ATTRS,
};

function poolInfer(ctx: ShapeCtx): ValueType[] {
  const a = ctx.attrs;
  for (const k of ['stride_w', 'stride_h', 'filter_width', 'filter_height']) if (!(a[k] >= 1)) ctx.fail(`${k} must be ≥ 1, got ${a[k]}`);
  const x = rank(ctx, 0, 4, 'input');
  if (!['float32', 'int8', 'int16', 'uint8'].includes(x.dtype)) ctx.fail(`input type ${x.dtype} not supported`);
  const iq = qin(a, 0);
  needQ(ctx, iq, x.dtype, 'input');
  const oq = qout(a);
  if (iq && oq && (iq.scale !== oq.scale || iq.zp !== oq.zp)) ctx.fail('pooling input and output quantization must match');
  if (!x.shape) return [outType(ctx, x.dtype, undefined)];
  const [n, h, w, c] = x.shape;
  const oh = typeof h === 'number' ? tflPadding(a.padding, h, a.filter_height, a.stride_h, 1).out : `${ctx.node.name}_h`;
  const ow = typeof w === 'number' ? tflPadding(a.padding, w, a.filter_width, a.stride_w, 1).out : `${ctx.node.name}_w`;
  return [outType(ctx, x.dtype, [n!, oh, ow, c!])];
}

function poolRun(ctx: RunCtx, max: boolean): Tensor[] {
  const x = ctx.inputs[0]!;
  const a = ctx.attrs;
  const [N, H, W, C] = x.dims as number[];
  const ph = tflPadding(a.padding, H!, a.filter_height, a.stride_h, 1);
  const pw = tflPadding(a.padding, W!, a.filter_width, a.stride_w, 1);
  const dims = [N!, ph.out, pw.out, C!];
  const out = Tensor.zeros(x.type, dims);
  const xd = x.data as ArrayLike<number>;
  const od = out.data as Float32Array | Int8Array | Int16Array;
  const quant = x.type !== 'float32';
  let o = 0;
  for (let n = 0; n < N!; n++)
    for (let oy = 0; oy < ph.out; oy++)
      for (let ox = 0; ox < pw.out; ox++) {
        const y0 = oy * a.stride_h - ph.pad;
        const x0 = ox * a.stride_w - pw.pad;
        const fy0 = Math.max(0, -y0), fy1 = Math.min(a.filter_height, H! - y0);
        const fx0 = Math.max(0, -x0), fx1 = Math.min(a.filter_width, W! - x0);
        for (let c = 0; c < C!; c++, o++) {
          let acc = max ? -Infinity : 0;
          let cnt = 0;
          for (let fy = fy0; fy < fy1; fy++)
            for (let fx = fx0; fx < fx1; fx++) {
              const v = xd[((n * H! + y0 + fy) * W! + x0 + fx) * C! + c]!;
              if (max) acc = v > acc ? v : acc;
              else acc += v;
              cnt++;
            }
          if (max) od[o] = cnt ? acc : 0;
          else if (!quant) od[o] = cnt ? Math.fround(acc) / cnt : 0;
          // "acc = acc > 0 ? (acc + filter_count / 2) / filter_count : (acc - filter_count / 2) / filter_count" (C division)
          else od[o] = cnt ? Math.trunc((acc > 0 ? acc + Math.trunc(cnt / 2) : acc - Math.trunc(cnt / 2)) / cnt) : 0;
        }
      }
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}

defineOp({ name: 'AVERAGE_POOL_2D', domain: TFL_DOMAIN, cost: poolCost, inputs: [1, 1], outputs: [1, 1], attrs: POOL_ATTRS, doc: 'TFLite AVERAGE_POOL_2D (NHWC; padding excluded from the count)', inferShape: poolInfer, reference: (c) => poolRun(c, false) });
defineOp({ name: 'MAX_POOL_2D', domain: TFL_DOMAIN, cost: poolCost, inputs: [1, 1], outputs: [1, 1], attrs: POOL_ATTRS, doc: 'TFLite MAX_POOL_2D (NHWC)', inferShape: poolInfer, reference: (c) => poolRun(c, true) });

// ---------------------------------------------------------------- ADD / SUB / MUL

function broadcastInfer(ctx: ShapeCtx): Dim[] | undefined {
  const a = need(ctx, 0, 'input1');
  const b = need(ctx, 1, 'input2');
  if (a.dtype !== b.dtype) ctx.fail(`input types differ: ${a.dtype} vs ${b.dtype}`);
  if (!a.shape || !b.shape) return undefined;
  const r = Math.max(a.shape.length, b.shape.length);
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const x = a.shape[a.shape.length - r + i] ?? 1;
    const y = b.shape[b.shape.length - r + i] ?? 1;
    if (typeof x === 'number' && typeof y === 'number' && x !== y && x !== 1 && y !== 1) ctx.fail(`shapes [${a.shape}] and [${b.shape}] are not broadcastable`);
    out.push(x === 1 ? y : y === 1 ? x : typeof x === 'number' ? x : y);
  }
  return out;
}

/** Visit broadcast index pairs (row-major over the output). */
function broadcastIndex(a: readonly number[], b: readonly number[], out: readonly number[], f: (o: number, i: number, j: number) => void): void {
  const r = out.length;
  const sa = new Array<number>(r).fill(0), sb = new Array<number>(r).fill(0);
  let acc = 1;
  for (let k = a.length - 1; k >= 0; k--) {
    sa[r - a.length + k] = a[k] === 1 ? 0 : acc;
    acc *= a[k]!;
  }
  acc = 1;
  for (let k = b.length - 1; k >= 0; k--) {
    sb[r - b.length + k] = b[k] === 1 ? 0 : acc;
    acc *= b[k]!;
  }
  const n = sizeOf(out);
  const idx = new Array<number>(r).fill(0);
  let i = 0, j = 0;
  for (let o = 0; o < n; o++) {
    f(o, i, j);
    for (let k = r - 1; k >= 0; k--) {
      idx[k]!++;
      i += sa[k]!;
      j += sb[k]!;
      if (idx[k]! < out[k]!) break;
      i -= sa[k]! * out[k]!;
      j -= sb[k]! * out[k]!;
      idx[k] = 0;
    }
  }
}

function arithInfer(ctx: ShapeCtx): ValueType[] {
  const shape = broadcastInfer(ctx);
  const t = ctx.inputs[0]!.dtype;
  if (!['float32', 'int8', 'int16', 'uint8', 'int32'].includes(t)) ctx.fail(`type ${t} not supported`);
  if (isQ(t)) {
    needQ(ctx, qin(ctx.attrs, 0), t, 'input1');
    needQ(ctx, qin(ctx.attrs, 1), t, 'input2');
  }
  return [outType(ctx, t, shape)];
}

function addSub(ctx: RunCtx, sign: 1 | -1): Tensor[] {
  const [x, y] = ctx.inputs as [Tensor, Tensor];
  const dims = ctx.outputTypes[0]!.shape as number[];
  const out = Tensor.zeros(x.type, dims);
  const xd = x.data as ArrayLike<number>, yd = y.data as ArrayLike<number>;
  const od = out.data as Float32Array | Int8Array | Int16Array | Int32Array;
  if (!isQ(x.type)) {
    broadcastIndex(x.dims, y.dims, dims, (o, i, j) => (od[o] = xd[i]! + sign * yd[j]!));
    return [out];
  }
  const a = ctx.attrs;
  // the integer kernel of add.cc / sub.cc (shared with com.microsoft QLinearAdd's rounding 'tflite')
  const f = tflAddSub(x.type, qin(a, 0)!, qin(a, 1)!, qout(a)!, !!a.pot_scale_int16, sign);
  if (typeof f === 'string') throw new UnsupportedError(`node '${ctx.node.name}': ${f}`);
  broadcastIndex(x.dims, y.dims, dims, (o, i, j) => (od[o] = f(xd[i]!, yd[j]!)));
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}

const ARITH_ATTRS: Record<string, AttrSpec> = { pot_scale_int16: { type: 'int', default: 1 }, ...QUANT_ATTRS };
// ADD / MUL: imported as ONNX Add / Mul (float, int32) or com.microsoft QLinearAdd / QLinearMul with rounding 'tflite';
// SUB has no quantized ONNX-family op and stays here (sharing tflAddSub with QLinearAdd)
defineOp({ name: 'SUB', domain: TFL_DOMAIN, inputs: [2, 2], outputs: [1, 1], attrs: ARITH_ATTRS, doc: 'TFLite SUB (broadcasting; int8/int16 rescaled per sub.cc)', inferShape: arithInfer, reference: (c) => addSub(c, -1) });

// ---------------------------------------------------------------- element-wise activations

function unaryInfer(ctx: ShapeCtx): ValueType[] {
  const x = need(ctx, 0, 'input');
  if (!['float32', 'int8', 'int16', 'uint8'].includes(x.dtype)) ctx.fail(`input type ${x.dtype} not supported`);
  needQ(ctx, qin(ctx.attrs, 0), x.dtype, 'input');
  return [outType(ctx, x.dtype, x.shape)];
}

/** Element-wise op: float function; quantized inputs go through dequantize → f → quantize (see note). */
function unaryRun(ctx: RunCtx, f: (v: number) => number): Tensor[] {
  const x = ctx.inputs[0]!;
  const out = Tensor.zeros(x.type, x.dims);
  const xd = x.data as ArrayLike<number>;
  const od = out.data as Float32Array | Int8Array | Int16Array;
  if (x.type === 'float32') {
    for (let i = 0; i < x.size; i++) od[i] = f(xd[i]!);
    return [out];
  }
  const iq = qin(ctx.attrs, 0)!, oq = qout(ctx.attrs)!;
  const [lo, hi] = qbounds(x.type);
  // Not TFLite's LUT/fixed-point kernel: float reference, rounded half away from zero.
  const cache = new Map<number, number>();
  for (let i = 0; i < x.size; i++) {
    const q = xd[i]!;
    let r = cache.get(q);
    if (r === undefined) {
      r = affineQuantize(f(dequantize(q, iq.scale, iq.zp)), oq.scale, oq.zp, lo, hi);
      cache.set(q, r);
    }
    od[i] = r;
  }
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}

/**
 * int8 LOGISTIC / TANH: reference_integer_ops kernels (gemmlowp fixed point) when the output has the fixed
 * parameters TFLite requires (logistic: scale 1/256, zp -128; tanh: scale 1/128, zp 0); otherwise, and for
 * int16, the float reference rounded half away from zero.
 */
function sigmoidTanhRun(ctx: RunCtx, tanh: boolean): Tensor[] {
  const x = ctx.inputs[0]!;
  const iq = qin(ctx.attrs, 0), oq = qout(ctx.attrs);
  const fixed = x.type === 'int8' && iq && oq && (tanh ? oq.scale === 1 / 128 && oq.zp === 0 : oq.scale === 1 / 256 && oq.zp === -128);
  if (!fixed) return unaryRun(ctx, tanh ? (v) => Math.fround(Math.tanh(v)) : (v) => Math.fround(1 / (1 + Math.exp(-v))));
  const p = sigmoidTanhParams(iq!.scale);
  const out = Tensor.zeros('int8', x.dims);
  const xd = x.data as Int8Array, od = out.data as Int8Array;
  const f = tanh ? tanhInt8 : logisticInt8;
  for (let i = 0; i < x.size; i++) od[i] = f(xd[i]!, iq!.zp, p);
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}
defineOp({ name: 'LOGISTIC', domain: TFL_DOMAIN, inputs: [1, 1], outputs: [1, 1], attrs: QUANT_ATTRS, inferShape: unaryInfer, reference: (c) => sigmoidTanhRun(c, false) });
defineOp({ name: 'TANH', domain: TFL_DOMAIN, inputs: [1, 1], outputs: [1, 1], attrs: QUANT_ATTRS, inferShape: unaryInfer, reference: (c) => sigmoidTanhRun(c, true) });
/** HARD_SWISH: 8-bit codes through TFLite's 16-bit fixed point (hardSwishTable8); float32 / int16 as the float function. */
function hardSwishRun(ctx: RunCtx): Tensor[] {
  const x = ctx.inputs[0]!;
  if (x.type !== 'int8' && x.type !== 'uint8') return unaryRun(ctx, (v) => Math.fround((v * Math.min(6, Math.max(0, v + 3))) / 6));
  const iq = qin(ctx.attrs, 0)!, oq = qout(ctx.attrs)!;
  const t = hardSwishTable8(x.type, iq.scale, iq.zp, oq.scale, oq.zp);
  if (typeof t === 'string') throw new UnsupportedError(`node '${ctx.node.name}' (HARD_SWISH): ${t}`);
  const out = Tensor.zeros(x.type, x.dims);
  const xd = x.data as Int8Array | Uint8Array, od = out.data as Int8Array | Uint8Array;
  for (let i = 0; i < xd.length; i++) od[i] = t[xd[i]! & 0xff]!;
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}
defineOp({
  name: 'HARD_SWISH',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: QUANT_ATTRS,
  inferShape(ctx) {
    const r = unaryInfer(ctx);
    const t = ctx.inputs[0]!.dtype, iq = qin(ctx.attrs, 0), oq = qout(ctx.attrs);
    // HardSwishPrepare refuses an output multiplier ≥ 1 ("output_multiplier_exponent <= 0"), as TFLite-web does
    const why = (t === 'int8' || t === 'uint8') && iq && oq ? hardSwishTable8(t, iq.scale, iq.zp, oq.scale, oq.zp) : undefined;
    if (typeof why === 'string') throw new UnsupportedError(`node '${ctx.node.name}' (HARD_SWISH): ${why}`);
    return r;
  },
  reference: hardSwishRun,
});

/** Quantized RELU/RELU6/RELU_N1_TO_1 (activations.cc ReluPrepare): requantize input→output, then clamp. */
function reluRun(ctx: RunCtx, loF: number, hiF: number): Tensor[] {
  const x = ctx.inputs[0]!;
  if (x.type === 'float32') return unaryRun(ctx, (v) => Math.min(hiF, Math.max(loF, v)));
  const iq = qin(ctx.attrs, 0)!, oq = qout(ctx.attrs)!;
  const [m, s] = quantizeMultiplier(iq.scale / oq.scale);
  const [qlo, qhi] = qbounds(x.type);
  const lo = Math.max(qlo, oq.zp + (loF === -Infinity ? -Infinity : Math.round(loF / oq.scale)));
  const hi = Math.min(qhi, oq.zp + (hiF === Infinity ? Infinity : Math.round(hiF / oq.scale)));
  const out = Tensor.zeros(x.type, x.dims);
  const xd = x.data as ArrayLike<number>;
  const od = out.data as Int8Array | Int16Array;
  // ReluX: "clamped = output_offset + MultiplyByQuantizedMultiplier(input - input_zero_point, multiplier, shift)"
  for (let i = 0; i < x.size; i++) {
    const v = oq.zp + multiplyByQuantizedMultiplier(xd[i]! - iq.zp, m, s);
    od[i] = v < lo ? lo : v > hi ? hi : v;
  }
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}
defineOp({ name: 'RELU', domain: TFL_DOMAIN, inputs: [1, 1], outputs: [1, 1], attrs: QUANT_ATTRS, inferShape: unaryInfer, reference: (c) => reluRun(c, 0, Infinity) });
defineOp({ name: 'RELU6', domain: TFL_DOMAIN, inputs: [1, 1], outputs: [1, 1], attrs: QUANT_ATTRS, inferShape: unaryInfer, reference: (c) => reluRun(c, 0, 6) });
defineOp({ name: 'RELU_N1_TO_1', domain: TFL_DOMAIN, inputs: [1, 1], outputs: [1, 1], attrs: QUANT_ATTRS, inferShape: unaryInfer, reference: (c) => reluRun(c, -1, 1) });

// LEAKY_RELU: imported as ONNX LeakyRelu (float) or com.microsoft QLinearLeakyRelu with rounding 'tflite'

// ---------------------------------------------------------------- QUANTIZE / DEQUANTIZE

defineOp({
  name: 'QUANTIZE',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { output_type: { type: 'string', required: true, oneOf: ['int8', 'uint8', 'int16', 'int32'] }, ...QUANT_ATTRS },
  doc: 'TFLite QUANTIZE: float → q (round half away) or requantize q → q',
  inferShape(ctx) {
    const x = need(ctx, 0, 'input');
    if (!['float32', 'int8', 'uint8', 'int16', 'int32'].includes(x.dtype)) ctx.fail(`input type ${x.dtype} not supported`);
    if (x.dtype !== 'float32') needQ(ctx, qin(ctx.attrs, 0) ?? ctx.fail('quantized input has no quantization parameters'), x.dtype, 'input');
    const oq = qout(ctx.attrs);
    if (!oq) ctx.fail('output has no quantization parameters');
    return [outType(ctx, ctx.attrs.output_type, x.shape)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const t = ctx.attrs.output_type as DType;
    const oq = qout(ctx.attrs)!;
    const [lo, hi] = qbounds(t);
    const out = Tensor.zeros(t, x.dims);
    const od = out.data as Int8Array | Uint8Array | Int16Array;
    const xd = x.data as ArrayLike<number>;
    if (x.type === 'float32') for (let i = 0; i < x.size; i++) od[i] = affineQuantize(xd[i]!, oq.scale, oq.zp, lo, hi);
    else {
      const iq = qin(ctx.attrs, 0)!;
      // quantize.cc: "effective_output_scale = (double)input->params.scale / (double)output->params.scale";
      // Requantize: "output = MultiplyByQuantizedMultiplier(input - input_zeropoint, multiplier, shift) + output_zeropoint"
      const [m, s] = quantizeMultiplier(iq.scale / oq.scale);
      for (let i = 0; i < x.size; i++) {
        const v = multiplyByQuantizedMultiplier(xd[i]! - iq.zp, m, s) + oq.zp;
        od[i] = v < lo ? lo : v > hi ? hi : v;
      }
    }
    out.quant = ctx.outputTypes[0]?.quant;
    return [out];
  },
});

defineOp({
  name: 'DEQUANTIZE',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: QUANT_ATTRS,
  doc: 'TFLite DEQUANTIZE: float(scale · (q - zero_point)); float16 → float32',
  inferShape(ctx) {
    const x = need(ctx, 0, 'input');
    if (!['int8', 'uint8', 'int16', 'float16'].includes(x.dtype)) ctx.fail(`input type ${x.dtype} not supported`);
    if (x.dtype !== 'float16') needQ(ctx, qin(ctx.attrs, 0) ?? ctx.fail('input has no quantization parameters'), x.dtype, 'input');
    return [{ dtype: 'float32', ...(x.shape ? { shape: x.shape } : {}) }];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const out = Tensor.zeros('float32', x.dims);
    const od = out.data as Float32Array;
    if (x.type === 'float16') {
      const f = new Tensor('float16', x.data, x.dims);
      od.set(f16(f));
      return [out];
    }
    const iq = qin(ctx.attrs, 0)!;
    const xd = x.data as ArrayLike<number>;
    for (let i = 0; i < x.size; i++) od[i] = dequantize(xd[i]!, iq.scale, iq.zp);
    return [out];
  },
});

import { floats } from './util.js';
const f16 = (t: Tensor) => floats(t);

// ---------------------------------------------------------------- SOFTMAX / MEAN / RESIZE (float reference)

defineOp({
  name: 'SOFTMAX',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { beta: { type: 'float', default: 1 }, output_type: { type: 'string', default: '', oneOf: ['', 'float32', 'int8', 'uint8', 'int16'] }, ...QUANT_ATTRS },
  doc: 'TFLite SOFTMAX over the last axis; int8/uint8 input: reference_ops fixed-point kernel (TFLM), int16 input: float reference',
  inferShape(ctx) {
    const x = need(ctx, 0, 'input');
    if (!['float32', 'int8', 'int16', 'uint8'].includes(x.dtype)) ctx.fail(`input type ${x.dtype} not supported`);
    needQ(ctx, qin(ctx.attrs, 0), x.dtype, 'input');
    const ot = (ctx.attrs.output_type || x.dtype) as DType;
    if ((ot === 'float32') !== (x.dtype === 'float32')) ctx.fail(`output type ${ot} does not match input ${x.dtype}`);
    return [outType(ctx, ot, x.shape)];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const beta = ctx.attrs.beta as number;
    const D = x.dims.at(-1) ?? 1;
    const rows = D ? x.size / D : 0;
    const iq = qin(ctx.attrs, 0), oq = qout(ctx.attrs);
    const xd = x.data as ArrayLike<number>;
    const ot = ctx.outputTypes[0]!.dtype;
    const out = Tensor.zeros(ot, x.dims);
    const od = out.data as Float32Array | Int8Array | Int16Array;
    const [lo, hi] = qbounds(ot);
    if (iq && (x.type === 'int8' || x.type === 'uint8') && oq) {
      // reference_ops::Softmax (gemmlowp fixed point); output is scale 1/2^bits, zero point = type min
      const p = softmaxParams(beta, iq.scale);
      const bits = ot === 'int16' ? 16 : 8;
      for (let r = 0; r < rows; r++) softmaxQuantRow(xd, r * D, D, od, p, bits, lo, hi);
      out.quant = ctx.outputTypes[0]?.quant;
      return [out];
    }
    const row = new Float64Array(D);
    for (let r = 0; r < rows; r++) {
      let mx = -Infinity;
      for (let k = 0; k < D; k++) {
        const v = iq ? dequantize(xd[r * D + k]!, iq.scale, iq.zp) : xd[r * D + k]!;
        row[k] = v;
        if (v > mx) mx = v;
      }
      let sum = 0;
      for (let k = 0; k < D; k++) sum += row[k] = Math.exp((row[k]! - mx) * beta);
      for (let k = 0; k < D; k++) od[r * D + k] = oq ? affineQuantize(row[k]! / sum, oq.scale, oq.zp, lo, hi) : row[k]! / sum;
    }
    out.quant = ctx.outputTypes[0]?.quant;
    return [out];
  },
});

defineOp({
  name: 'MEAN',
  domain: TFL_DOMAIN,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { keep_dims: { type: 'int', default: 0 }, ...QUANT_ATTRS },
  doc: 'TFLite MEAN over constant axes (int8 / int16 over H and W with keep_dims: reference_integer_ops::Mean; other quantized cases: float reference)',
  inferShape(ctx) {
    const x = need(ctx, 0, 'input');
    needQ(ctx, qin(ctx.attrs, 0), x.dtype, 'input');
    const ax = ctx.value(1);
    if (!ax) ctx.fail('axes must be a constant');
    if (!x.shape) return [outType(ctx, x.dtype, undefined)];
    const r = x.shape.length;
    const axes = new Set(ax!.toNumbers().map((a) => (a < -r || a >= r ? ctx.fail(`axis ${a} out of range for rank ${r}`) : a < 0 ? a + r : a)));
    const shape: Dim[] = [];
    x.shape.forEach((d, i) => (axes.has(i) ? ctx.attrs.keep_dims && shape.push(1) : shape.push(d)));
    return [outType(ctx, x.dtype, shape)];
  },
  reference(ctx) {
    const [x, ax] = ctx.inputs as [Tensor, Tensor];
    const r = x.dims.length;
    const axes = new Set(ax.toNumbers().map((a) => (a < 0 ? a + r : a)));
    const dims = ctx.outputTypes[0]!.shape as number[];
    const iq = qin(ctx.attrs, 0), oq = qout(ctx.attrs);
    const hw = tflMeanHW(x, axes, ctx.attrs);
    if (hw) {
      const [mult, shift] = quantizeMultiplier(iq!.scale / oq!.scale);
      const [N, H, W, C] = x.dims as [number, number, number, number];
      const n = H * W;
      const [lo, hi] = qbounds(x.type);
      const out = Tensor.zeros(x.type, dims);
      const xd = x.data as Int8Array | Int16Array;
      const od = out.data as Int8Array | Int16Array;
      // reference_integer_ops/mean.h: "acc += input_data[...] - input_zero_point" over H·W; "acc =
      // MultiplyByQuantizedMultiplier(acc, multiplier, shift); acc = acc > 0 ? (acc + num_elements_in_axis / 2) /
      // num_elements_in_axis : (acc - num_elements_in_axis / 2) / num_elements_in_axis; acc += output_zero_point",
      // clamped; multiplier from "input->params.scale / output->params.scale" (PrepareMeanOrSum)
      for (let b = 0; b < N; b++)
        for (let c = 0; c < C; c++) {
          let acc = 0;
          for (let i = 0; i < n; i++) acc = (acc + xd[(b * n + i) * C + c]! - iq!.zp) | 0;
          acc = multiplyByQuantizedMultiplier(acc, mult, shift);
          const half = Math.trunc(n / 2);
          acc = Math.trunc(acc > 0 ? ((acc + half) | 0) / n : ((acc - half) | 0) / n) + oq!.zp; // int32 sums, C division
          od[b * C + c] = acc < lo ? lo : acc > hi ? hi : acc;
        }
      out.quant = ctx.outputTypes[0]?.quant;
      return [out];
    }
    const acc = new Float64Array(sizeOf(dims));
    const ostr: number[] = [];
    let s = 1;
    for (let i = r - 1; i >= 0; i--) {
      ostr[i] = axes.has(i) ? 0 : s;
      if (!axes.has(i)) s *= x.dims[i]!;
    }
    const xd = x.data as ArrayLike<number>;
    const idx = new Array<number>(r).fill(0);
    let o = 0;
    for (let i = 0; i < x.size; i++) {
      acc[o]! += iq ? dequantize(xd[i]!, iq.scale, iq.zp) : xd[i]!;
      for (let k = r - 1; k >= 0; k--) {
        idx[k]!++;
        o += ostr[k]!;
        if (idx[k]! < x.dims[k]!) break;
        o -= ostr[k]! * x.dims[k]!;
        idx[k] = 0;
      }
    }
    const cnt = acc.length ? x.size / acc.length : 1;
    const out = Tensor.zeros(x.type, dims);
    const od = out.data as Float32Array | Int8Array | Int16Array;
    const [lo, hi] = qbounds(x.type);
    for (let i = 0; i < acc.length; i++) od[i] = oq ? affineQuantize(acc[i]! / cnt, oq.scale, oq.zp, lo, hi) : acc[i]! / cnt;
    out.quant = ctx.outputTypes[0]?.quant;
    return [out];
  },
});

/**
 * The MEAN TFLite computes with reference_integer_ops::Mean (reduce.cc EvalMeanReferenceOps): int8 / int16, keep_dims,
 * a 4-D input reduced over axes 1 and 2 exactly, quantized input and output.
 */
export function tflMeanHW(x: { type: string; dims: readonly number[] }, axes: Set<number>, attrs: Attrs): boolean {
  return (x.type === 'int8' || x.type === 'int16') && !!attrs.keep_dims && x.dims.length === 4 && axes.size === 2 && axes.has(1) && axes.has(2) && !!qin(attrs, 0) && !!qout(attrs);
}

function resizeInfer(ctx: ShapeCtx): ValueType[] {
  const x = rank(ctx, 0, 4, 'input');
  needQ(ctx, qin(ctx.attrs, 0), x.dtype, 'input');
  if (ctx.attrs.align_corners && ctx.attrs.half_pixel_centers) ctx.fail('align_corners and half_pixel_centers are exclusive');
  const sz = ctx.value(1);
  if (!sz) return [outType(ctx, x.dtype, undefined)];
  const s = sz.toNumbers();
  if (s.length !== 2 || s.some((d) => !Number.isInteger(d) || d < 1)) ctx.fail(`size must be 2 positive ints, got [${s}]`);
  return [outType(ctx, x.dtype, x.shape ? [x.shape[0]!, s[0]!, s[1]!, x.shape[3]!] : undefined)];
}

/**
 * RESIZE_NEAREST_NEIGHBOR's source index (reference_ops resize_nearest_neighbor.h GetNearestNeighbor), in float32:
 * "scale = (align_corners && output_size > 1) ? (input_size - 1) / static_cast<float>(output_size - 1) :
 * input_size / static_cast<float>(output_size); offset = half_pixel_centers ? 0.5f : 0.0f; output_value =
 * std::min(align_corners ? static_cast<int32_t>(TfLiteRound((input_value + offset) * scale)) :
 * static_cast<int32_t>(std::floor((input_value + offset) * scale)), input_size - 1); if (half_pixel_centers)
 * output_value = std::max(0, output_value)". Values are ≥ 0, where TfLiteRound (half away from zero) is Math.round.
 */
export function tflNearestIndex(v: number, inSize: number, outSize: number, ac: boolean, hp: boolean): number {
  const scale = ac && outSize > 1 ? Math.fround((inSize - 1) / (outSize - 1)) : Math.fround(inSize / outSize);
  const f = Math.fround((v + (hp ? 0.5 : 0)) * scale);
  const i = Math.min(ac ? Math.round(f) : Math.floor(f), inSize - 1);
  return hp ? Math.max(0, i) : i;
}

/**
 * RESIZE_BILINEAR of int8 / int16 (reference_ops::ResizeBilinearInteger, resize_bilinear.h): per output row / column
 * the 10-bit fixed-point source coordinate and its two neighbours — "scale_10 = ((1 << 10) * input_size +
 * output_size / 2) / output_size" (align_corners: "((1 << 10) * (input_size - 1) + (output_size - 1) / 2) /
 * (output_size - 1)"), ComputeInterpolationValuesInteger: "scaled_value = value * scale_10 [+ scale_10 / 2 - (1 << 9)
 * with half_pixel_centers]; lower_bound = std::max(scaled_value / (1 << 10), 0); upper_bound =
 * std::min((scaled_value + (1 << 10) - 1) / (1 << 10), input_size - 1)" (C division truncating). Returns, per
 * output position, [scaled, lower, upper].
 */
export function tflBilinearCoords(outSize: number, inSize: number, ac: boolean, hp: boolean): Int32Array {
  const scale = ac && outSize > 1 ? Math.trunc((1024 * (inSize - 1) + Math.trunc((outSize - 1) / 2)) / (outSize - 1)) : Math.trunc((1024 * inSize + Math.trunc(outSize / 2)) / outSize);
  const t = new Int32Array(3 * outSize);
  for (let v = 0; v < outSize; v++) {
    const sv = hp ? v * scale + Math.trunc(scale / 2) - 512 : v * scale;
    t[3 * v] = sv;
    t[3 * v + 1] = Math.max(Math.trunc(sv / 1024), 0);
    t[3 * v + 2] = Math.min(Math.trunc((sv + 1023) / 1024), inSize - 1);
  }
  return t;
}

/**
 * One int8 / int16 RESIZE_BILINEAR output from its four neighbours' codes (ResizeBilinearInteger): "output_20 =
 * Σ input · weight_y · weight_x" with weights (1 << 10) − (input_y − (1 << 10)·y0) and input_y − (1 << 10)·y0 (and
 * the same in x), then "round = (output_20 > 0) ? (1 << 19) : -(1 << 19); (output_20 + round) / (1 << 20)" (C
 * division; TFLite's default double rounding), stored with static_cast<T> (no clamp). |output_20| < 2^40: exact in doubles.
 */
export function tflBilinearInteger(ll: number, lu: number, rl: number, ru: number, iy: number, y0: number, ix: number, x0: number): number {
  const dy = iy - 1024 * y0;
  const dx = ix - 1024 * x0;
  const o = ll * (1024 - dy) * (1024 - dx) + lu * dy * (1024 - dx) + rl * (1024 - dy) * dx + ru * dy * dx;
  return Math.trunc((o + (o > 0 ? 2 ** 19 : -(2 ** 19))) / 2 ** 20);
}

function resizeRun(ctx: RunCtx, bilinear: boolean): Tensor[] {
  const x = ctx.inputs[0]!;
  const dims = ctx.outputTypes[0]!.shape as number[];
  const [N, H, W, C] = x.dims as number[];
  const [, OH, OW] = dims as number[];
  const { align_corners: ac, half_pixel_centers: hp } = ctx.attrs;
  const scale = (i: number, o: number) => (ac && o > 1 ? (i - 1) / (o - 1) : i / o);
  const sy = scale(H!, OH!), sx = scale(W!, OW!);
  const iq = qin(ctx.attrs, 0), oq = qout(ctx.attrs);
  const xd = x.data as ArrayLike<number>;
  const at = (n: number, y: number, xx: number, c: number) => xd[((n * H! + y) * W! + xx) * C! + c]!;
  const get = (n: number, y: number, xx: number, c: number) => {
    const v = at(n, y, xx, c);
    return iq && bilinear ? dequantize(v, iq.scale, iq.zp) : v;
  };
  const out = Tensor.zeros(x.type, dims);
  const od = out.data as Float32Array | Int8Array | Int16Array;
  const [lo, hi] = qbounds(x.type);
  // int8 / int16 bilinear: TFLite's integer kernel on the codes (no requantization; static_cast wraps like the typed array)
  const integer = bilinear && (x.type === 'int8' || x.type === 'int16');
  const ty = integer ? tflBilinearCoords(OH!, H!, !!ac, !!hp) : undefined;
  const tx = integer ? tflBilinearCoords(OW!, W!, !!ac, !!hp) : undefined;
  let o = 0;
  for (let n = 0; n < N!; n++)
    for (let oy = 0; oy < OH!; oy++)
      for (let ox = 0; ox < OW!; ox++)
        for (let c = 0; c < C!; c++, o++) {
          if (!bilinear) {
            od[o] = at(n, tflNearestIndex(oy, H!, OH!, !!ac, !!hp), tflNearestIndex(ox, W!, OW!, !!ac, !!hp), c);
            continue;
          }
          if (ty && tx) {
            const [iy, y0, y1, ix, x0, x1] = [ty[3 * oy]!, ty[3 * oy + 1]!, ty[3 * oy + 2]!, tx[3 * ox]!, tx[3 * ox + 1]!, tx[3 * ox + 2]!];
            od[o] = tflBilinearInteger(at(n, y0, x0, c), at(n, y1, x0, c), at(n, y0, x1, c), at(n, y1, x1, c), iy, y0, ix, x0);
            continue;
          }
          const fy = hp ? (oy + 0.5) * sy - 0.5 : oy * sy;
          const fx = hp ? (ox + 0.5) * sx - 0.5 : ox * sx;
          const y0 = Math.max(0, Math.floor(fy)), x0 = Math.max(0, Math.floor(fx));
          const y1 = Math.min(H! - 1, Math.ceil(fy)), x1 = Math.min(W! - 1, Math.ceil(fx));
          const dy = fy - Math.floor(fy), dx = fx - Math.floor(fx);
          const v = get(n, y0, x0, c) * (1 - dy) * (1 - dx) + get(n, y1, x0, c) * dy * (1 - dx) + get(n, y0, x1, c) * (1 - dy) * dx + get(n, y1, x1, c) * dy * dx;
          od[o] = oq ? affineQuantize(v, oq.scale, oq.zp, lo, hi) : v;
        }
  out.quant = ctx.outputTypes[0]?.quant;
  return [out];
}
const RESIZE_ATTRS: Record<string, AttrSpec> = { align_corners: { type: 'int', default: 0 }, half_pixel_centers: { type: 'int', default: 0 }, ...NHWC, ...QUANT_ATTRS };
defineOp({ name: 'RESIZE_BILINEAR', domain: TFL_DOMAIN, inputs: [2, 2], outputs: [1, 1], attrs: RESIZE_ATTRS, inferShape: resizeInfer, reference: (c) => resizeRun(c, true) });
defineOp({ name: 'RESIZE_NEAREST_NEIGHBOR', domain: TFL_DOMAIN, inputs: [2, 2], outputs: [1, 1], attrs: RESIZE_ATTRS, inferShape: resizeInfer, reference: (c) => resizeRun(c, false) });

export { activationRangeQuantized };

// ---------------------------------------------------------------- SVDF

defineOp({
  name: 'SVDF',
  domain: TFL_DOMAIN,
  inputs: [4, 5],
  outputs: [1, 1],
  attrs: { rank: { type: 'int', required: true }, ...QUANT_ATTRS },
  doc: 'TFLite SVDF(input, weights_feature, weights_time, bias, state); state starts from its initial value each run',
  inferShape(ctx) {
    const x = rank(ctx, 0, 2, 'input');
    const wf = rank(ctx, 1, 2, 'weights_feature');
    const wt = rank(ctx, 2, 2, 'weights_time');
    const st = rank(ctx, 4, 2, 'activation_state');
    const r = ctx.attrs.rank as number;
    if (!(r >= 1)) ctx.fail(`rank must be ≥ 1, got ${r}`);
    if (!['float32', 'int8'].includes(x.dtype)) ctx.fail(`input type ${x.dtype} not supported`);
    if (x.dtype === 'int8') {
      if (wf.dtype !== 'int8' || !['int8', 'int16'].includes(wt.dtype) || !['int8', 'int16'].includes(st.dtype)) ctx.fail('integer SVDF needs int8 input/weights_feature and int8/int16 weights_time/state');
    } else if (wf.dtype !== 'float32' || wt.dtype !== 'float32' || st.dtype !== 'float32') ctx.fail('float SVDF needs float32 weights and state');
    const [B, I] = x.shape ?? [];
    const [F, I2] = wf.shape ?? [];
    const [F2, M] = wt.shape ?? [];
    if (typeof I === 'number' && typeof I2 === 'number' && I !== I2) ctx.fail(`input depth ${I} ≠ weights_feature depth ${I2}`);
    if (typeof F === 'number' && typeof F2 === 'number' && F !== F2) ctx.fail(`weights_feature filters ${F} ≠ weights_time filters ${F2}`);
    if (typeof F === 'number' && F % r !== 0) ctx.fail(`filters ${F} not divisible by rank ${r}`);
    if (typeof F === 'number' && typeof M === 'number' && st.shape && typeof st.shape[1] === 'number' && st.shape[1] !== F * M) ctx.fail(`state must be [batch, ${F * M}], got [${st.shape}]`);
    const U = typeof F === 'number' ? F / r : undefined;
    checkBias(ctx, 3, U, x.dtype === 'int8' ? 'int8' : 'float32');
    return [outType(ctx, x.dtype, B !== undefined && U !== undefined ? [B, U] : undefined)];
  },
  reference(ctx) {
    const [x, wf, wt, bias, state] = ctx.inputs as [Tensor, Tensor, Tensor, Tensor | undefined, Tensor];
    const a = ctx.attrs;
    const [B, I] = x.dims as [number, number];
    const [F] = wf.dims as [number];
    const M = wt.dims[1]!;
    const R = a.rank as number;
    const U = F / R;
    const quant = x.type === 'int8';
    const xd = x.data as ArrayLike<number>, fd = wf.data as ArrayLike<number>, td = wt.data as ArrayLike<number>;
    const bd = bias ? (bias.data as ArrayLike<number>) : undefined;
    // "Left shift the activation_state" by one, then write the newest feature column at n_memory - 1
    const s = Float64Array.from(state.data as ArrayLike<number>);
    for (let i = 0; i + 1 < s.length; i++) s[i] = s[i + 1]!;
    const out = Tensor.zeros(x.type, [B, U]);
    const od = out.data as Float32Array | Int8Array;
    const iq = qin(a, 0), wfq = qin(a, 1), wtq = qin(a, 2), sq = qin(a, 4), oq = qout(a);
    let m1 = 0, s1 = 0, m2 = 0, s2 = 0, slo = 0, shi = 0;
    if (quant) {
      // svdf.cc: "effective_scale_1 = input_scale * weights_feature_scale / state_scale",
      // "effective_scale_2 = state_scale * weights_time_scale / output_scale" (float products)
      [m1, s1] = quantizeMultiplier(Math.fround(Math.fround(iq!.scale * wfq!.scale) / sq!.scale));
      [m2, s2] = quantizeMultiplier(Math.fround(Math.fround(sq!.scale * wtq!.scale) / oq!.scale));
      [slo, shi] = qbounds(state.type);
    }
    const szp = sq?.zp ?? 0;
    for (let b = 0; b < B; b++)
      for (let f = 0; f < F; f++) {
        let dot = 0;
        for (let c = 0; c < I; c++) dot += fd[f * I + c]! * (xd[b * I + c]! - (iq?.zp ?? 0));
        if (quant) {
          const v = multiplyByQuantizedMultiplier(dot, m1, s1) + szp;
          dot = v < slo ? slo : v > shi ? shi : v;
        } else dot = Math.fround(dot);
        s[(b * F + f) * M + M - 1] = dot;
      }
    const [lo, hi] = qbounds(x.type);
    for (let b = 0; b < B; b++)
      for (let u = 0; u < U; u++) {
        let acc = bd ? bd[u]! : 0;
        for (let r = 0; r < R; r++) {
          const f = u * R + r;
          for (let j = 0; j < M; j++) acc += td[f * M + j]! * (s[(b * F + f) * M + j]! - szp);
        }
        if (quant) {
          const v = multiplyByQuantizedMultiplier(acc, m2, s2) + oq!.zp;
          od[b * U + u] = v < lo ? lo : v > hi ? hi : v;
        } else od[b * U + u] = acc;
      }
    out.quant = ctx.outputTypes[0]?.quant;
    return [out];
  },
});

// ---------------------------------------------------------------- UNIDIRECTIONAL_SEQUENCE_LSTM (float)

const LSTM_ACT: Record<string, (v: number) => number> = {
  NONE: (v) => v,
  RELU: (v) => Math.max(0, v),
  RELU_N1_TO_1: (v) => Math.min(1, Math.max(-1, v)),
  RELU6: (v) => Math.min(6, Math.max(0, v)),
  TANH: Math.tanh,
  SIGN_BIT: (v) => (v < 0 ? 1 : 0),
};

/** The int8 (8x8_16) LSTM's types and the pieces TFLite's integer kernel has that edgeq does not (declined by name). */
function checkLstm8(ctx: ShapeCtx): void {
  const has = (i: number) => !!ctx.inputs[i];
  const no = (what: string) => {
    throw new UnsupportedError(`node '${ctx.node.name}': int8 LSTM with ${what} is not supported (plain LSTM only)`);
  };
  if (!has(1)) no('CIFG (no input gate)');
  if ([9, 10, 11].some(has)) no('peepholes');
  if (has(16) || has(17)) no('projection');
  if ([20, 21, 22, 23].some(has)) no('layer norm');
  const a = ctx.attrs;
  if (a.fused_activation_function !== 'TANH') ctx.fail(`int8 LSTM needs the TANH cell activation, got ${a.fused_activation_function}`);
  const want = (i: number, dt: DType) => {
    const t = need(ctx, i, `input ${i}`);
    if (t.dtype !== dt) ctx.fail(`input ${i} has type ${t.dtype}, expected ${dt}`);
    if (dt !== 'int32') needQ(ctx, qin(a, i), dt, `input ${i}`);
  };
  for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 8, 18]) want(i, 'int8');
  for (const i of [12, 13, 14, 15]) want(i, 'int32');
  want(19, 'int16');
  if (!(a.hidden_scale > 0)) ctx.fail('int8 LSTM needs the hidden intermediate\'s scale (hidden_scale)');
  // TFLite versions disagree on the sign CwiseMul gives the hidden zero point ("value -= output_zp" vs "+="): only 0
  if (a.hidden_zero_point !== 0) throw new UnsupportedError(`node '${ctx.node.name}': int8 LSTM with hidden zero point ${a.hidden_zero_point} is not supported`);
  const l = lstm8CellScale(qin(a, 19)!.scale);
  if (typeof l === 'string') ctx.fail(l);
}

/** Scales and zero points of the int8 LSTM's tensors from the op's attributes (validated by checkLstm8). */
export function lstm8Quant(a: Attrs): Lstm8Quant {
  const s = (i: number) => qin(a, i)?.scale ?? 0;
  return {
    inputScale: s(0),
    inputZp: qin(a, 0)?.zp ?? 0,
    wInScale: [1, 2, 3, 4].map(s),
    wRecScale: [5, 6, 7, 8].map(s),
    stateScale: s(18),
    stateZp: qin(a, 18)?.zp ?? 0,
    cellStateScale: s(19),
    hiddenScale: a.hidden_scale as number,
    cellClip: a.cell_clip as number,
  };
}

/** Reference of the int8 LSTM: TFLite's EvalInteger8x8_16 (src/ops/tflite-lstm8.ts) per batch row. */
function lstm8Reference(ctx: RunCtx): Tensor {
  const ins = ctx.inputs;
  const x = ins[0]!;
  const [d0, d1] = x.dims as [number, number, number];
  const tm = !!ctx.attrs.time_major;
  const [T, B] = tm ? [d0, d1] : [d1, d0];
  const nCell = ins[2]!.dims[0]!, nIn = ins[2]!.dims[1]!, nOut = ins[6]!.dims[1]!;
  const q = lstm8Quant(ctx.attrs);
  const i8 = (i: number) => ins[i]!.data as Int8Array;
  const p = lstm8Params(q, [1, 2, 3, 4].map(i8), [5, 6, 7, 8].map(i8), [12, 13, 14, 15].map((i) => ins[i]?.data as Int32Array | undefined), nCell, nIn, nOut);
  if (typeof p === 'string') throw new UnsupportedError(`node '${ctx.node.name}': ${p}`);
  const out = Tensor.zeros('int8', [d0, d1, nOut]);
  const h = Int8Array.from(ins[18]!.data as Int8Array);
  const c = Int16Array.from(ins[19]!.data as Int16Array);
  const xd = x.data as Int8Array;
  // EvalInteger8x8_16 runs batch rows one by one when batch-major, all rows per step when time-major: without
  // cross-row coupling both are the same arithmetic per row
  for (let b = 0; b < B; b++) {
    const at = (t: number) => (tm ? t * B + b : b * T + t);
    lstm8x8_16Run(p, xd, (t) => at(t) * nIn, T, h.subarray(b * nOut, (b + 1) * nOut), c.subarray(b * nCell, (b + 1) * nCell), out.data as Int8Array, (t) => at(t) * nOut);
  }
  out.quant = ctx.outputTypes[0]?.quant;
  return out;
}

defineOp({
  name: 'UNIDIRECTIONAL_SEQUENCE_LSTM',
  cost: ({ inputs: [x, , , , w], outputs: [y] }) => elems(x, 0, 2) * 4 * dim(w, 0) * (dim(x, 2) + dim(y, 2)),
  domain: TFL_DOMAIN,
  inputs: [1, 24], // optional tensors (CIFG, peephole, projection) are '' — required ones are checked in inferShape
  outputs: [1, 1],
  attrs: {
    fused_activation_function: { type: 'string', default: 'TANH', oneOf: Object.keys(LSTM_ACT) },
    cell_clip: { type: 'float', default: 0 },
    proj_clip: { type: 'float', default: 0 },
    time_major: { type: 'int', default: 0 },
    // int8: the scale / zero point of the hidden-state intermediate (the operator's intermediates[4])
    hidden_scale: { type: 'float', default: 0 },
    hidden_zero_point: { type: 'int', default: 0 },
    ...QUANT_ATTRS,
  },
  doc: "TFLite UNIDIRECTIONAL_SEQUENCE_LSTM: float32 (CIFG, peephole and projection supported; layer norm not) and int8 (TFLite's 8x8_16 integer kernel; plain LSTM only)",
  inferShape(ctx) {
    const x = rank(ctx, 0, 3, 'input');
    if (x.dtype === 'int8') checkLstm8(ctx);
    else if (x.dtype !== 'float32') ctx.fail(`only float32 and int8 LSTMs are supported, got ${x.dtype}`);
    else
      for (let i = 1; i < 24; i++) {
        const t = ctx.inputs[i];
        if (t && t.dtype !== 'float32') ctx.fail(`input ${i} has type ${t.dtype}, expected float32`);
      }
    for (const i of [2, 3, 4, 6, 7, 8, 13, 14, 15, 18, 19]) need(ctx, i, `input ${i}`);
    for (let i = 20; i < 24; i++) if (ctx.inputs[i]) throw new UnsupportedError(`node '${ctx.node.name}': layer-norm LSTM is not supported`);
    const wf = rank(ctx, 2, 2, 'input_to_forget_weights');
    const rf = rank(ctx, 6, 2, 'recurrent_to_forget_weights');
    const nCell = num(wf.shape?.[0]);
    const nIn = num(wf.shape?.[1]);
    const nOut = num(rf.shape?.[1]);
    const [d0, d1, d2] = x.shape ?? [];
    if (typeof d2 === 'number' && nIn !== undefined && d2 !== nIn) ctx.fail(`input depth ${d2} ≠ weights depth ${nIn}`);
    const check = (i: number, shape: (number | undefined)[]) => {
      const t = ctx.inputs[i];
      if (!t?.shape) return;
      if (t.shape.length !== shape.length || t.shape.some((d, k) => typeof d === 'number' && shape[k] !== undefined && d !== shape[k])) ctx.fail(`input ${i} must have shape [${shape}], got [${t.shape}]`);
    };
    for (const i of [1, 2, 3, 4]) check(i, [nCell, nIn]);
    for (const i of [5, 6, 7, 8]) check(i, [nCell, nOut]);
    for (const i of [9, 10, 11, 12, 13, 14, 15]) check(i, [nCell]);
    if (ctx.inputs[16]) check(16, [nOut, nCell]);
    else if (nOut !== undefined && nCell !== undefined && nOut !== nCell) ctx.fail(`output size ${nOut} ≠ cell size ${nCell} without projection`);
    if (!!ctx.inputs[1] !== !!ctx.inputs[5]) ctx.fail('input_to_input and recurrent_to_input weights must both be present or both absent (CIFG)');
    const batch = ctx.attrs.time_major ? d1 : d0;
    check(18, [num(batch), nOut]);
    check(19, [num(batch), nCell]);
    const shape = x.shape && nOut !== undefined ? [d0!, d1!, nOut] : undefined;
    return [x.dtype === 'int8' ? outType(ctx, 'int8', shape) : { dtype: 'float32', ...(shape ? { shape } : {}) }];
  },
  reference(ctx) {
    const ins = ctx.inputs;
    const a = ctx.attrs;
    const x = ins[0]!;
    if (x.type === 'int8') return [lstm8Reference(ctx)];
    const [d0, d1, nIn] = x.dims as [number, number, number];
    const tm = !!a.time_major;
    const T = tm ? d0 : d1;
    const B = tm ? d1 : d0;
    const nCell = ins[2]!.dims[0]!;
    const nOut = ins[6]!.dims[1]!;
    const f = (i: number) => (ins[i] ? (ins[i]!.data as Float32Array) : undefined);
    const [Wi, Wf, Wc, Wo, Ri, Rf, Rc, Ro, Pi, Pf, Po, bi, bf, bc, bo, Wp, bp] = Array.from({ length: 17 }, (_, k) => f(k + 1));
    const act = LSTM_ACT[a.fused_activation_function as string]!;
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const h = Float32Array.from(f(18)!);
    const c = Float32Array.from(f(19)!);
    const xd = x.data as Float32Array;
    const out = Tensor.zeros('float32', ctx.outputTypes[0]!.shape as number[]);
    const od = out.data as Float32Array;
    const gi = new Float32Array(nCell), gf = new Float32Array(nCell), gc = new Float32Array(nCell), go = new Float32Array(nCell), hc = new Float32Array(nCell);
    const mv = (W: Float32Array | undefined, v: ArrayLike<number>, vOff: number, n: number, row: number) => {
      if (!W) return 0;
      let s = 0;
      for (let k = 0; k < n; k++) s += W[row * n + k]! * v[vOff + k]!;
      return s;
    };
    for (let t = 0; t < T; t++)
      for (let b = 0; b < B; b++) {
        const xo = (tm ? t * B + b : b * T + t) * nIn;
        const ho = b * nOut, co = b * nCell;
        for (let r = 0; r < nCell; r++) {
          const cp = c[co + r]!;
          gf[r] = sig(mv(Wf, xd, xo, nIn, r) + mv(Rf, h, ho, nOut, r) + (Pf ? Pf[r]! * cp : 0) + bf![r]!);
          gi[r] = Wi ? sig(mv(Wi, xd, xo, nIn, r) + mv(Ri, h, ho, nOut, r) + (Pi ? Pi[r]! * cp : 0) + (bi ? bi[r]! : 0)) : 1 - gf[r]!; // CIFG: i = 1 - f
          gc[r] = act(mv(Wc, xd, xo, nIn, r) + mv(Rc, h, ho, nOut, r) + bc![r]!);
        }
        for (let r = 0; r < nCell; r++) {
          let cn = gf[r]! * c[co + r]! + gi[r]! * gc[r]!;
          if (a.cell_clip > 0) cn = Math.min(a.cell_clip, Math.max(-a.cell_clip, cn));
          c[co + r] = cn;
        }
        for (let r = 0; r < nCell; r++) {
          go[r] = sig(mv(Wo, xd, xo, nIn, r) + mv(Ro, h, ho, nOut, r) + (Po ? Po[r]! * c[co + r]! : 0) + bo![r]!);
          hc[r] = go[r]! * act(c[co + r]!);
        }
        for (let r = 0; r < nOut; r++) {
          let v = Wp ? mv(Wp, hc, 0, nCell, r) + (bp ? bp[r]! : 0) : hc[r]!;
          if (Wp && a.proj_clip > 0) v = Math.min(a.proj_clip, Math.max(-a.proj_clip, v));
          h[ho + r] = v;
        }
        od.set(h.subarray(ho, ho + nOut), (tm ? t * B + b : b * T + t) * nOut);
      }
    return [out];
  },
});
