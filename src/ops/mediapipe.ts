import { ShapeError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { type AttrSpec, defineOp, type RunCtx, type ShapeCtx } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { tflPadding } from './tflite.js';
import { needType } from './util.js';

/**
 * MediaPipe's custom TFLite pooling ops (mediapipe/util/tflite/operations/max_pool_argmax.cc, max_unpooling.cc),
 * float32 NHWC, domain `ai.edgeq.tflite`. Their custom_options are a raw TfLitePoolParams (padding, strides,
 * filter, fused activation), which the TFLite reader turns into these attributes. (Convolution2DTransposeBias is
 * ONNX ConvTranspose with NHWC / OHWI layouts: see src/formats/tflite/reader.ts.)
 */
const ATTRS: Record<string, AttrSpec> = {
  padding: { type: 'string', default: 'SAME', oneOf: ['SAME', 'VALID'] },
  stride_w: { type: 'int', required: true },
  stride_h: { type: 'int', required: true },
  filter_width: { type: 'int', required: true },
  filter_height: { type: 'int', required: true },
  /** fused activation (TfLiteFusedActivation name); CalculateActivationRange clamps RELU / RELU_N1_TO_1 / RELU6 only */
  activation: { type: 'string', default: 'NONE', oneOf: ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT', 'SIGMOID'] },
};

function checkAttrs(ctx: ShapeCtx): void {
  for (const k of ['stride_w', 'stride_h', 'filter_width', 'filter_height']) if (!(ctx.attrs[k] >= 1)) ctx.fail(`${k} must be ≥ 1, got ${ctx.attrs[k]}`);
}

function nhwc(ctx: ShapeCtx, i: number, what: string): ValueType {
  const t = needType(ctx, i, ['float32'], what);
  if (t.shape && t.shape.length !== 4) ctx.fail(`${what} must be NHWC (rank 4), got [${t.shape}]`);
  return t;
}

// max_pool_argmax.cc Prepare: out = SAME ? ceil(in / s) : (in - f + s) / s; pad = ComputePadding(s, 1, in, f, out)
defineOp({
  name: 'MaxPoolingWithArgmax2D',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [2, 2],
  attrs: ATTRS,
  doc: "MediaPipe MaxPoolingWithArgmax2D: TFLite max pooling (NHWC) plus each max's position in its window, y·filter_width + x + 0.1, as float",
  inferShape(ctx) {
    checkAttrs(ctx);
    const x = nhwc(ctx, 0, 'input');
    if (!x.shape) return [{ dtype: 'float32' }, { dtype: 'float32' }];
    const [n, h, w, c] = x.shape;
    const a = ctx.attrs;
    const oh: Dim = typeof h === 'number' ? tflPadding(a.padding, h, a.filter_height, a.stride_h, 1).out : `${ctx.node.name}_h`;
    const ow: Dim = typeof w === 'number' ? tflPadding(a.padding, w, a.filter_width, a.stride_w, 1).out : `${ctx.node.name}_w`;
    return [{ dtype: 'float32', shape: [n!, oh, ow, c!] }, { dtype: 'float32', shape: [n!, oh, ow, c!] }];
  },
  reference(ctx: RunCtx): Tensor[] {
    const x = ctx.inputs[0]!;
    const a = ctx.attrs;
    const [N, H, W, C] = x.dims as [number, number, number, number];
    const ph = tflPadding(a.padding, H, a.filter_height, a.stride_h, 1), pw = tflPadding(a.padding, W, a.filter_width, a.stride_w, 1);
    const dims = [N, ph.out, pw.out, C];
    const y = Tensor.zeros('float32', dims), ix = Tensor.zeros('float32', dims);
    const xd = x.data as Float32Array, yd = y.data as Float32Array, id = ix.data as Float32Array;
    const [lo, hi] = a.activation === 'RELU' ? [0, Infinity] : a.activation === 'RELU_N1_TO_1' ? [-1, 1] : a.activation === 'RELU6' ? [0, 6] : [-Infinity, Infinity];
    let o = 0;
    for (let n = 0; n < N; n++)
      for (let oy = 0; oy < ph.out; oy++)
        for (let ox = 0; ox < pw.out; ox++) {
          const y0 = oy * a.stride_h - ph.pad, x0 = ox * a.stride_w - pw.pad;
          const fy0 = Math.max(0, -y0), fy1 = Math.min(a.filter_height, H - y0);
          const fx0 = Math.max(0, -x0), fx1 = Math.min(a.filter_width, W - x0);
          for (let c = 0; c < C; c++, o++) {
            // "float max = std::numeric_limits<float>::lowest(); int max_x = 0, max_y = 0; if (cur > max) …"
            let m = -3.4028234663852886e38, my = 0, mx = 0;
            for (let fy = fy0; fy < fy1; fy++)
              for (let fx = fx0; fx < fx1; fx++) {
                const v = xd[((n * H + y0 + fy) * W + x0 + fx) * C + c]!;
                if (v > m) (m = v), (my = fy), (mx = fx);
              }
            yd[o] = Math.min(hi, Math.max(lo, m));
            id[o] = my * a.filter_width + mx + 0.1;
          }
        }
    return [y, ix];
  },
});

// max_unpooling.cc Prepare: out = in · filter (per spatial dim), pad = ComputePadding(s, 1, out, f, in)
const unpoolPad = (inS: number, f: number, s: number) => Math.max(0, Math.trunc(((inS - 1) * s + f - inS * f) / 2));

defineOp({
  name: 'MaxUnpooling2D',
  domain: TFL_DOMAIN,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: ATTRS,
  doc: 'MediaPipe MaxUnpooling2D: scatters each input value to the window position its (float) argmax index names, zeros elsewhere (NHWC)',
  inferShape(ctx) {
    checkAttrs(ctx);
    const x = nhwc(ctx, 0, 'input'), i = nhwc(ctx, 1, 'indices');
    if (x.shape && i.shape && x.shape.some((d, k) => typeof d === 'number' && typeof i.shape![k] === 'number' && d !== i.shape![k])) ctx.fail(`indices [${i.shape}] must have the input's shape [${x.shape}]`);
    if (!x.shape) return [{ dtype: 'float32' }];
    const [n, h, w, c] = x.shape;
    const mul = (d: Dim | undefined, f: number, k: string): Dim => (typeof d === 'number' ? d * f : `${ctx.node.name}_${k}`);
    return [{ dtype: 'float32', shape: [n!, mul(h, ctx.attrs.filter_height, 'h'), mul(w, ctx.attrs.filter_width, 'w'), c!] }];
  },
  reference(ctx: RunCtx): Tensor[] {
    const [x, ix] = ctx.inputs as [Tensor, Tensor];
    const a = ctx.attrs;
    const [N, H, W, C] = x.dims as [number, number, number, number];
    if (ix.dims.some((d, k) => d !== x.dims[k])) throw new ShapeError(`node '${ctx.node.name}' (MaxUnpooling2D): indices [${ix.dims}] must have the input's shape [${x.dims}]`);
    const OH = H * a.filter_height, OW = W * a.filter_width;
    const pt = unpoolPad(H, a.filter_height, a.stride_h), pl = unpoolPad(W, a.filter_width, a.stride_w);
    const y = Tensor.zeros('float32', [N, OH, OW, C]);
    const xd = x.data as Float32Array, id = ix.data as Float32Array, yd = y.data as Float32Array;
    const win = a.filter_width * a.filter_height;
    let i = 0;
    for (let n = 0; n < N; n++)
      for (let iy = 0; iy < H; iy++)
        for (let ixx = 0; ixx < W; ixx++)
          for (let c = 0; c < C; c++, i++) {
            // "int idx = indices_data[input_offset]" (truncation); max_x = idx % filter_width, max_y = idx / filter_width
            const idx = Math.trunc(id[i]!);
            const oy = iy * a.stride_h - pt + Math.trunc(idx / a.filter_width), ox = ixx * a.stride_w - pl + (idx % a.filter_width);
            // MediaPipe writes wherever the index points; edgeq refuses an index outside the window or the output
            if (!(idx >= 0 && idx < win && oy >= 0 && oy < OH && ox >= 0 && ox < OW)) throw new ShapeError(`node '${ctx.node.name}' (MaxUnpooling2D): index ${id[i]} at input [${n},${iy},${ixx},${c}] is outside the ${a.filter_height}x${a.filter_width} window or the [${OH},${OW}] output`);
            yd[((n * OH + oy) * OW + ox) * C + c] = xd[i]!;
          }
    return [y];
  },
});
