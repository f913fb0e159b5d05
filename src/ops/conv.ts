import { UnsupportedError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import { sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { CONV_ATTRS, convGeometry, convOutDims, convTransposeGeometry, type Geometry, LAYOUT_ATTRS, wView, xView } from '../ir/conv-geometry.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';
import { convCost, elems } from './cost.js';

/**
 * Conv and ConvTranspose (1-D/2-D/3-D, groups, dilations, auto_pad, output_padding, output_shape).
 * Direct loops with float64 accumulators; spatial dims are padded to 3-D internally.
 */

const MAX_SPATIAL = 3;

/** Shared validation of X / W / B for both ops. `wIn`: W's dim holding the per-group input channels. */
function checkConvInputs(ctx: ShapeCtx, transpose: boolean): { x: ValueType; w: ValueType; kernel?: number[] } {
  const x = needType(ctx, 0, FLOATS, 'X');
  const w = needType(ctx, 1, FLOATS, 'W');
  const nhwc = ctx.attrs.data_layout === 'NHWC';
  const wl: string = ctx.attrs.weight_layout ?? 'OIHW';
  if (w.dtype !== x.dtype) ctx.fail(`W is ${w.dtype} but X is ${x.dtype}`);
  const b = ctx.inputs[2];
  if (b && b.dtype !== x.dtype) ctx.fail(`B is ${b.dtype} but X is ${x.dtype}`);
  const group = ctx.attrs.group as number;
  if (!(group >= 1)) ctx.fail(`group must be ≥ 1, got ${group}`);
  const ks: number[] | undefined = ctx.attrs.kernel_shape;
  if (x.shape && x.shape.length < 3) ctx.fail(`X must have rank ≥ 3 (N, C, spatial…), got [${x.shape.join(',')}]`);
  if (w.shape && w.shape.length < 3) ctx.fail(`W must have rank ≥ 3, got [${w.shape.join(',')}]`);
  if (x.shape && w.shape && x.shape.length !== w.shape.length) ctx.fail(`X [${x.shape.join(',')}] and W [${w.shape.join(',')}] differ in rank`);
  const rank = x.shape ? x.shape.length - 2 : w.shape ? w.shape.length - 2 : ks?.length;
  if (rank !== undefined && rank > MAX_SPATIAL) throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): ${rank}-D convolution is not supported (max ${MAX_SPATIAL})`);
  if (ks && rank !== undefined && ks.length !== rank) ctx.fail(`kernel_shape [${ks.join(',')}] does not have ${rank} entries`);
  if (ks && ks.some((k) => k < 1)) ctx.fail(`kernel_shape must be positive, got [${ks.join(',')}]`);
  let kernel: number[] | undefined = ks ? [...ks] : undefined;
  if (w.shape) {
    const wv = wView(w.shape, wl);
    const wk = wv.k;
    if (kernel) {
      wk.forEach((d, i) => {
        if (typeof d === 'number' && d !== kernel![i]) ctx.fail(`kernel_shape [${kernel!.join(',')}] does not match W [${w.shape!.join(',')}]`);
      });
    } else if (wk.every((d) => typeof d === 'number')) kernel = wk as number[];
    const c = x.shape ? xView(x.shape, nhwc).c : undefined;
    if (!transpose) {
      // ONNX Conv: W is (M, C/group, k1, …, kn)
      const cg = wv.cg;
      const m = wv.m;
      if (wl === '1HWO' && typeof cg === 'number' && cg !== 1) ctx.fail(`W in layout 1HWO must have a leading 1, got [${w.shape.join(',')}]`);
      if (typeof c === 'number' && typeof cg === 'number' && c !== cg * group) ctx.fail(`X has ${c} channels but W expects ${cg}×group(${group})`);
      if (typeof m === 'number' && m % group !== 0) ctx.fail(`W's ${m} output channels are not divisible by group ${group}`);
    } else if (wl === 'OHWI') {
      // TFLite TRANSPOSE_CONV: W is (M, k1, …, kn, C/group)
      const cg = w.shape[w.shape.length - 1]!;
      const m = w.shape[0]!;
      if (typeof c === 'number' && typeof cg === 'number' && c !== cg * group) ctx.fail(`X has ${c} channels but W expects ${cg}×group(${group})`);
      if (typeof m === 'number' && m % group !== 0) ctx.fail(`W's ${m} output channels are not divisible by group ${group}`);
    } else {
      // ONNX ConvTranspose: W is (C, M/group, k1, …, kn)
      const wc = w.shape[0]!;
      if (typeof c === 'number' && typeof wc === 'number' && c !== wc) ctx.fail(`X has ${c} channels but W has ${wc}`);
      if (typeof wc === 'number' && wc % group !== 0) ctx.fail(`input channels ${wc} are not divisible by group ${group}`);
    }
  }
  const xc = x.shape ? xView(x.shape, nhwc).c : undefined;
  if (typeof xc === 'number' && xc % group !== 0) ctx.fail(`X's ${xc} channels are not divisible by group ${group}`);
  return { x, w, kernel };
}

function checkBias(ctx: ShapeCtx, m: Dim | undefined) {
  const b = ctx.inputs[2];
  if (!b?.shape) return;
  if (b.shape.length !== 1) ctx.fail(`B must be 1-D, got [${b.shape.join(',')}]`);
  const d = b.shape[0]!;
  if (typeof d === 'number' && typeof m === 'number' && d !== m) ctx.fail(`B has ${d} elements, expected ${m} (output channels)`);
}

/** Pad spatial vectors to 3 entries (leading 1s / 0s) so one 3-D loop serves 1-D, 2-D and 3-D. */
function to3(v: readonly number[], fill: number): [number, number, number] {
  const r = [...new Array(MAX_SPATIAL - v.length).fill(fill), ...v];
  return [r[0]!, r[1]!, r[2]!];
}

defineOp({
  name: 'Conv',
  cost: convCost(1),
  inputs: [2, 3],
  outputs: [1, 1],
  attrs: { ...CONV_ATTRS, ...LAYOUT_ATTRS },
  doc: 'N-D convolution (NCHW…, or NHWC via data_layout; OIHW/OHWI/1HWO weights), groups, dilations, auto_pad',
  inferShape(ctx) {
    const { x, w, kernel } = checkConvInputs(ctx, false);
    const nhwc = ctx.attrs.data_layout === 'NHWC';
    const m = w.shape ? wView(w.shape, ctx.attrs.weight_layout).m : undefined;
    checkBias(ctx, m);
    if (!x.shape || !kernel) return [{ dtype: x.dtype, shape: undefined }];
    const xv = xView(x.shape, nhwc);
    const out = convOutDims(xv.sp, kernel, ctx.attrs, ctx.fail);
    const md = m ?? `${ctx.node.name}_M`;
    return [{ dtype: x.dtype, shape: nhwc ? [xv.n, ...out, md] : [xv.n, md, ...out] }];
  },
  reference({ inputs, attrs }) {
    const [X, W, B] = inputs as [Tensor, Tensor, Tensor | undefined];
    const nhwc = attrs.data_layout === 'NHWC';
    const kernel = wView(W.dims, attrs.weight_layout).k;
    const g = convGeometry(xView(X.dims, nhwc).sp, kernel, attrs, (msg) => {
      throw new UnsupportedError(msg);
    })!;
    return [convRef(X, W, B, g, attrs.group, nhwc, attrs.weight_layout)];
  },
});

function convRef(X: Tensor, W: Tensor, B: Tensor | undefined, g: Geometry, group: number, nhwc = false, wl = 'OIHW'): Tensor {
  const xv = xView(X.dims, nhwc);
  const wv = wView(W.dims, wl);
  const n = xv.n;
  const c = xv.c;
  const m = wv.m;
  const cg = c / group;
  const mg = m / group;
  const [ID, IH, IW] = to3(xv.sp, 1);
  const [KD, KH, KW] = to3(g.kernel, 1);
  const [OD, OH, OW] = to3(g.out, 1);
  const [sD, sH, sW] = to3(g.strides, 1);
  const [dD, dH, dW] = to3(g.dilations, 1);
  const [pD, pH, pW] = to3(g.padBegin, 0);
  const outDims = nhwc ? [n, ...g.out, m] : [n, m, ...g.out];
  const total = sizeOf(outDims, 'Conv output');
  const x = floats(X);
  const w = floats(W);
  const b = B ? floats(B) : undefined;
  const y = X.type === 'float64' ? new Float64Array(total) : new Float32Array(total);
  const inSp = ID * IH * IW;
  const kSp = KD * KH * KW;
  const oSp = OD * OH * OW;
  // element strides of (batch, channel, flat spatial) in X and Y, and of (M, C/group, flat kernel) in W
  const [xN, xC, xS] = nhwc ? [inSp * c, 1, c] : [c * inSp, inSp, 1];
  const [yN, yM, yS] = nhwc ? [oSp * m, 1, m] : [m * oSp, oSp, 1];
  const [wM, wI, wK] = wl === 'OHWI' ? [kSp * cg, 1, cg] : wl === '1HWO' ? [1, kSp * m, m] : [cg * kSp, kSp, 1];
  for (let ni = 0; ni < n; ni++)
    for (let mi = 0; mi < m; mi++) {
      const gi = Math.floor(mi / mg);
      const bias = b ? b[mi]! : 0;
      const yo = ni * yN + mi * yM;
      for (let od = 0; od < OD; od++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            let acc = 0;
            for (let ci = 0; ci < cg; ci++) {
              const xo = ni * xN + (gi * cg + ci) * xC;
              const wo = mi * wM + ci * wI;
              for (let kd = 0; kd < KD; kd++) {
                const id = od * sD - pD + kd * dD;
                if (id < 0 || id >= ID) continue;
                for (let kh = 0; kh < KH; kh++) {
                  const ih = oh * sH - pH + kh * dH;
                  if (ih < 0 || ih >= IH) continue;
                  const xr = (id * IH + ih) * IW;
                  const wr = (kd * KH + kh) * KW;
                  for (let kw = 0; kw < KW; kw++) {
                    const iw = ow * sW - pW + kw * dW;
                    if (iw < 0 || iw >= IW) continue;
                    acc += x[xo + (xr + iw) * xS]! * w[wo + (wr + kw) * wK]!;
                  }
                }
              }
            }
            y[yo + ((od * OH + oh) * OW + ow) * yS] = acc + bias;
          }
    }
  return fromFloats(X.type, outDims, y);
}

defineOp({
  name: 'ConvTranspose',
  cost: ({ attrs, inputs: [x, w] }) => elems(x) * (attrs.weight_layout === 'OHWI' ? elems(w, 0, -1) / attrs.group : elems(w, 1)),
  inputs: [2, 3],
  outputs: [1, 1],
  attrs: {
    ...CONV_ATTRS,
    output_padding: { type: 'ints' },
    output_shape: { type: 'ints' },
    // edgeq extension (TFLite TRANSPOSE_CONV): NHWC X/Y; weight_layout 'OHWI' = W as (M, k…, C/group). The default
    // 'OIHW' names ONNX's own ConvTranspose layout, (C, M/group, k…).
    data_layout: LAYOUT_ATTRS.data_layout,
    weight_layout: { type: 'string', default: 'OIHW', oneOf: ['OIHW', 'OHWI'] },
  },
  doc: 'N-D transposed convolution (gradient of Conv), groups, dilations, output_padding, output_shape; NHWC / OHWI via layout attributes',
  inferShape(ctx) {
    const { x, w, kernel } = checkConvInputs(ctx, true);
    const nhwc = ctx.attrs.data_layout === 'NHWC';
    const mg = w.shape?.[1];
    const m = ctx.attrs.weight_layout === 'OHWI' ? w.shape?.[0] : typeof mg === 'number' ? mg * ctx.attrs.group : undefined;
    checkBias(ctx, m);
    if (!x.shape || !kernel) return [{ dtype: x.dtype, shape: undefined }];
    const xv = xView(x.shape, nhwc);
    // symbolic spatial dims: unknown output dims ('?'), rank and channels still known (see convOutDims)
    const out: Dim[] = convTransposeGeometry(xv.sp, kernel, ctx.attrs, ctx.fail)?.out ?? xv.sp.map(() => '?');
    const md = m ?? `${ctx.node.name}_M`;
    return [{ dtype: x.dtype, shape: nhwc ? [xv.n, ...out, md] : [xv.n, md, ...out] }];
  },
  reference({ inputs, attrs }) {
    const [X, W, B] = inputs as [Tensor, Tensor, Tensor | undefined];
    const nhwc = attrs.data_layout === 'NHWC';
    const g = convTransposeGeometry(xView(X.dims, nhwc).sp, wView(W.dims, attrs.weight_layout).k, attrs, (msg) => {
      throw new UnsupportedError(msg);
    })!;
    return [convTransposeRef(X, W, B, g, attrs.group, nhwc, attrs.weight_layout)];
  },
});

/** Scatter form: every input pixel adds x·W[c, m, k] at output position i·stride - pad_begin + k·dilation. */
function convTransposeRef(X: Tensor, W: Tensor, B: Tensor | undefined, g: Geometry, group: number, nhwc = false, wl = 'OIHW'): Tensor {
  const xv = xView(X.dims, nhwc);
  const n = xv.n;
  const c = xv.c;
  const cg = c / group;
  const ohwi = wl === 'OHWI';
  const mg = ohwi ? W.dims[0]! / group : W.dims[1]!;
  const m = mg * group;
  const [ID, IH, IW] = to3(xv.sp, 1);
  const [KD, KH, KW] = to3(g.kernel, 1);
  const [OD, OH, OW] = to3(g.out, 1);
  const [sD, sH, sW] = to3(g.strides, 1);
  const [dD, dH, dW] = to3(g.dilations, 1);
  const [pD, pH, pW] = to3(g.padBegin, 0);
  const outDims = nhwc ? [n, ...g.out, m] : [n, m, ...g.out];
  const total = sizeOf(outDims, 'ConvTranspose output');
  const x = floats(X);
  const w = floats(W);
  const b = B ? floats(B) : undefined;
  const acc = new Float64Array(total);
  const inSp = ID * IH * IW;
  const kSp = KD * KH * KW;
  const oSp = OD * OH * OW;
  // element strides of (batch, channel, flat spatial) in X and Y
  const [xN, xC, xS] = nhwc ? [inSp * c, 1, c] : [c * inSp, inSp, 1];
  const [yN, yM, yS] = nhwc ? [oSp * m, 1, m] : [m * oSp, oSp, 1];
  for (let ni = 0; ni < n; ni++)
    for (let ci = 0; ci < c; ci++) {
      const gi = Math.floor(ci / cg);
      const xo = ni * xN + ci * xC;
      for (let mj = 0; mj < mg; mj++) {
        const mi = gi * mg + mj;
        const yo = ni * yN + mi * yM;
        // W element of (input channel ci, output channel mi, flat kernel k) = w[wo + k·wK]
        const [wo, wK] = ohwi ? [mi * kSp * cg + (ci - gi * cg), cg] : [(ci * mg + mj) * kSp, 1];
        for (let id = 0; id < ID; id++)
          for (let ih = 0; ih < IH; ih++)
            for (let iw = 0; iw < IW; iw++) {
              const xv2 = x[xo + ((id * IH + ih) * IW + iw) * xS]!;
              for (let kd = 0; kd < KD; kd++) {
                const od = id * sD - pD + kd * dD;
                if (od < 0 || od >= OD) continue;
                for (let kh = 0; kh < KH; kh++) {
                  const oh = ih * sH - pH + kh * dH;
                  if (oh < 0 || oh >= OH) continue;
                  const yr = (od * OH + oh) * OW;
                  const wr = (kd * KH + kh) * KW;
                  for (let kw = 0; kw < KW; kw++) {
                    const ow = iw * sW - pW + kw * dW;
                    if (ow < 0 || ow >= OW) continue;
                    acc[yo + (yr + ow) * yS]! += xv2 * w[wo + (wr + kw) * wK]!;
                  }
                }
              }
            }
      }
    }
  if (b) for (let ni = 0; ni < n; ni++) for (let mi = 0; mi < m; mi++) for (let p = 0; p < oSp; p++) acc[ni * yN + mi * yM + p * yS]! += b[mi]!;
  return fromFloats(X.type, outDims, X.type === 'float64' ? acc : Float32Array.from(acc));
}
