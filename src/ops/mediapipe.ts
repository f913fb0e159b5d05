import { ShapeError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { type AttrSpec, defineOp, type RunCtx, type ShapeCtx } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { tflPadding } from './tflite.js';
import { needType } from './util.js';
import { poolCost } from './cost.js';

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
  cost: poolCost,
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

// ---------------------------------------------------------------- face mesh attention ops (version 2 registrations)

/** Validate a [1, 4, 4] float matrix input; inferShape. */
function matrix(ctx: ShapeCtx, i: number): void {
  const m = needType(ctx, i, ['float32'], 'transform matrix');
  if (m.shape && (m.shape.length !== 3 || m.shape.some((d, k) => typeof d === 'number' && d !== [1, 4, 4][k]))) ctx.fail(`transform matrix must be [1,4,4], got [${m.shape}]`);
}

// landmarks_to_transform_matrix.cc v2: rotation r = target - atan2(right.y - left.y, right.x - left.x); the subset's
// landmarks rotated by r give the crop box (size, centre rotated back); T = shift(centre) · rot(-r) · scale(scale_x ·
// crop_w / out_w, scale_y · crop_h / out_h) · shift(-out_w / 2, -out_h / 2), row-major [1, 4, 4]
defineOp({
  name: 'Landmarks2TransformMatrix',
  domain: TFL_DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {
    left_rotation_idx: { type: 'int', required: true },
    right_rotation_idx: { type: 'int', required: true },
    target_rotation_radians: { type: 'float', default: 0 },
    output_height: { type: 'int', required: true },
    output_width: { type: 'int', required: true },
    scale_x: { type: 'float', required: true },
    scale_y: { type: 'float', required: true },
    /** landmark index pairs, flattened */
    subset_idxs: { type: 'ints', required: true },
  },
  doc: "MediaPipe Landmarks2TransformMatrix (v2): the crop transform of a landmark subset, [1, N, 3] → [1, 4, 4]",
  inferShape(ctx) {
    const a = ctx.attrs;
    const x = needType(ctx, 0, ['float32'], 'landmarks');
    if (x.shape && (x.shape.length !== 3 || (typeof x.shape[2] === 'number' && x.shape[2] !== 3))) ctx.fail(`landmarks must be [1, N, 3], got [${x.shape}]`);
    if (!(a.output_height > 0 && a.output_width > 0 && a.scale_x > 0 && a.scale_y > 0)) ctx.fail('output_height, output_width, scale_x and scale_y must be > 0');
    const idx = [a.left_rotation_idx, a.right_rotation_idx, ...(a.subset_idxs as number[])];
    if ((a.subset_idxs as number[]).length < 2) ctx.fail('subset_idxs has no pair');
    const N = x.shape?.[1];
    for (const i of idx) if (!(i >= 0) || (typeof N === 'number' && i >= N)) ctx.fail(`landmark index ${i} outside 0..${typeof N === 'number' ? N - 1 : '?'}`);
    return [{ dtype: 'float32', shape: [1, 4, 4] }];
  },
  reference(ctx) {
    const a = ctx.attrs;
    const x = ctx.inputs[0]!;
    const d = x.data as Float32Array;
    const N = x.dims[1]!;
    const at = (i: number, k: number) => {
      if (!(i >= 0 && i < N)) throw new ShapeError(`node '${ctx.node.name}' (Landmarks2TransformMatrix): landmark index ${i} outside 0..${N - 1}`);
      return d[i * 3 + k]!;
    };
    const L = a.left_rotation_idx, R = a.right_rotation_idx;
    const r = a.target_rotation_radians - Math.atan2(at(R, 1) - at(L, 1), at(R, 0) - at(L, 0));
    const [c, s] = [Math.cos(r), Math.sin(r)];
    const idx = a.subset_idxs as number[];
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    // "subset_idxs" is read as int2 pairs: an odd trailing index is not part of a pair
    for (let k = 0; k + 1 < idx.length; k += 2)
      for (const i of [idx[k]!, idx[k + 1]!]) {
        const px = c * at(i, 0) - s * at(i, 1), py = s * at(i, 0) + c * at(i, 1);
        (x0 = Math.min(x0, px)), (x1 = Math.max(x1, px)), (y0 = Math.min(y0, py)), (y1 = Math.max(y1, py));
      }
    const [cw, ch] = [x1 - x0, y1 - y0];
    const [mx, my] = [(x0 + x1) / 2, (y0 + y1) / 2];
    // the centre rotated back by -r
    const cx = Math.cos(-r) * mx - Math.sin(-r) * my, cy = Math.sin(-r) * mx + Math.cos(-r) * my;
    const sx = (a.scale_x * cw) / a.output_width, sy = (a.scale_y * ch) / a.output_height;
    const [rc, rs] = [Math.cos(-r), Math.sin(-r)];
    // shift(c) · rot(-r) · scale(sx, sy) · shift(-w/2, -h/2), 2-D affine part of the 4x4
    const [hx, hy] = [-a.output_width / 2, -a.output_height / 2];
    const m = [rc * sx, -rs * sy, 0, rc * sx * hx - rs * sy * hy + cx, rs * sx, rc * sy, 0, rs * sx * hx + rc * sy * hy + cy, 0, 0, 1, 0, 0, 0, 0, 1];
    return [new Tensor('float32', Float32Array.from(m), [1, 4, 4])];
  },
});

// transform_tensor_bilinear.cc v2: x_t = row 0 of T, y_t = row 1, with the align-corners correction
// t[3] += t[0]·0.5 + t[1]·0.5 - 0.5; each output pixel (ox, oy) samples the input at (x_t·(ox, oy, 0, 1), y_t·…)
// bilinearly (taps outside the input read 0; a sample point outside [0, W-1] × [0, H-1] gives 0)
defineOp({
  name: 'TransformTensorBilinear',
  domain: TFL_DOMAIN,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { output_height: { type: 'int', required: true }, output_width: { type: 'int', required: true } },
  doc: 'MediaPipe TransformTensorBilinear (v2): affine bilinear resampling of an NHWC tensor by a [1, 4, 4] matrix',
  inferShape(ctx) {
    const x = nhwc(ctx, 0, 'input');
    matrix(ctx, 1);
    const a = ctx.attrs;
    if (!(a.output_height >= 1 && a.output_width >= 1 && a.output_height * a.output_width <= 1 << 26)) ctx.fail(`output size ${a.output_height}x${a.output_width} out of range`);
    if (x.shape && typeof x.shape[0] === 'number' && x.shape[0] !== 1) ctx.fail(`batch must be 1, got ${x.shape[0]}`);
    return [{ dtype: 'float32', shape: [1, a.output_height, a.output_width, x.shape?.[3] ?? `${ctx.node.name}_c`] }];
  },
  reference(ctx) {
    const [x, t] = ctx.inputs as [Tensor, Tensor];
    const [, H, W, C] = x.dims as [number, number, number, number];
    const { output_height: OH, output_width: OW } = ctx.attrs;
    const m = t.data as Float32Array, xd = x.data as Float32Array;
    const xt = [m[0]!, m[1]!, m[2]!, m[3]! + m[0]! * 0.5 + m[1]! * 0.5 - 0.5];
    const yt = [m[4]!, m[5]!, m[6]!, m[7]! + m[4]! * 0.5 + m[5]! * 0.5 - 0.5];
    const y = Tensor.zeros('float32', [1, OH, OW, C]);
    const yd = y.data as Float32Array;
    const read = (h: number, w: number, c: number) => (h < 0 || w < 0 || h >= H || w >= W ? 0 : xd[(h * W + w) * C + c]!);
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const tx = Math.fround(xt[0]! * ox + xt[1]! * oy + xt[3]!), ty = Math.fround(yt[0]! * ox + yt[1]! * oy + yt[3]!);
        if (tx < 0 || tx > W - 1 || ty < 0 || ty > H - 1) continue;
        const [fx, fy] = [Math.floor(tx), Math.floor(ty)];
        const [rx, ly] = [tx - fx, ty - fy];
        for (let c = 0; c < C; c++) {
          const upper = (1 - rx) * read(fy, fx, c) + rx * read(fy, fx + 1, c);
          const lower = (1 - rx) * read(fy + 1, fx, c) + rx * read(fy + 1, fx + 1, c);
          yd[(oy * OW + ox) * C + c] = ly * lower + (1 - ly) * upper;
        }
      }
    return [y];
  },
});

// transform_landmarks.cc v2: each landmark (x, y[, z]) of [1, N, d] becomes (x_t·(x, y, 0, 1), y_t·(x, y, 0, 1)[, z])
defineOp({
  name: 'TransformLandmarks',
  domain: TFL_DOMAIN,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  doc: 'MediaPipe TransformLandmarks (v2): 2-D affine transform of [1, N, 2|3] landmarks by a [1, 4, 4] matrix (z kept)',
  inferShape(ctx) {
    const x = needType(ctx, 0, ['float32'], 'landmarks');
    matrix(ctx, 1);
    if (x.shape && (x.shape.length !== 3 || (typeof x.shape[2] === 'number' && x.shape[2] !== 2 && x.shape[2] !== 3) || (typeof x.shape[0] === 'number' && x.shape[0] !== 1))) ctx.fail(`landmarks must be [1, N, 2|3], got [${x.shape}]`);
    return [{ dtype: 'float32', ...(x.shape ? { shape: x.shape } : {}) }];
  },
  reference(ctx) {
    const [x, t] = ctx.inputs as [Tensor, Tensor];
    const [, N, D] = x.dims as [number, number, number];
    const m = t.data as Float32Array, xd = x.data as Float32Array;
    const y = Tensor.zeros('float32', x.dims);
    const yd = y.data as Float32Array;
    for (let i = 0; i < N; i++) {
      const [px, py] = [xd[i * D]!, xd[i * D + 1]!];
      yd[i * D] = m[0]! * px + m[1]! * py + m[3]!;
      yd[i * D + 1] = m[4]! * px + m[5]! * py + m[7]!;
      if (D === 3) yd[i * D + 2] = xd[i * D + 2]!;
    }
    return [y];
  },
});
