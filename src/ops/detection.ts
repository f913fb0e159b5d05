import { defineOp } from '../ir/registry.js';
import { allocData } from '../tensor/dtype.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { NUMERIC, floats, needType } from './util.js';
import { dim, elems } from './cost.js';

/** Detection and image-geometry ops: NonMaxSuppression, CenterCropPad. */

// ONNX NonMaxSuppression: "Filter out boxes that have high intersection-over-union (IOU) overlap with previously
// selected boxes. Bounding boxes with score less than score_threshold are removed ... center_point_box 0: [y1, x1,
// y2, x2] (any diagonal pair of corners), 1: [x_center, y_center, width, height] ... selected_indices
// [num_selected_indices, 3]: [batch_index, class_index, box_index]"
defineOp({
  name: 'NonMaxSuppression',
  cost: ({ inputs: [, s] }) => elems(s) * dim(s, -1),
  inputs: [2, 5],
  outputs: [1, 1],
  attrs: { center_point_box: { type: 'int', default: 0, oneOf: [0, 1] } },
  inferShape(ctx) {
    const b = needType(ctx, 0, ['float32', 'float16', 'float64'], 'boxes');
    const s = needType(ctx, 1, [b.dtype], 'scores');
    if (ctx.inputs[2]) needType(ctx, 2, ['int64'], 'max_output_boxes_per_class');
    if (ctx.inputs[3]) needType(ctx, 3, ['float32'], 'iou_threshold');
    if (ctx.inputs[4]) needType(ctx, 4, ['float32'], 'score_threshold');
    if (b.shape && (b.shape.length !== 3 || (typeof b.shape[2] === 'number' && b.shape[2] !== 4))) ctx.fail(`boxes must be [batch, boxes, 4], got [${b.shape.join(',')}]`);
    if (s.shape && s.shape.length !== 3) ctx.fail(`scores must be [batch, classes, boxes], got [${s.shape.join(',')}]`);
    if (b.shape && s.shape) {
      const [B, N] = b.shape;
      if (typeof B === 'number' && typeof s.shape[0] === 'number' && B !== s.shape[0]) ctx.fail(`boxes batch ${B} differs from scores batch ${s.shape[0]}`);
      if (typeof N === 'number' && typeof s.shape[2] === 'number' && N !== s.shape[2]) ctx.fail(`boxes count ${N} differs from scores count ${s.shape[2]}`);
    }
    return [{ dtype: 'int64', shape: ['?', 3] }];
  },
  reference({ inputs, attrs }) {
    const [boxes, scores, maxT, iouT, scoreT] = inputs;
    const [B, N] = boxes!.dims as [number, number];
    const C = scores!.dims[1]!;
    const bv = floats(boxes!);
    const sv = floats(scores!);
    const maxOut = maxT && maxT.size ? Number(maxT.data[0]) : 0;
    const iouTh = iouT && iouT.size ? Number(iouT.data[0]) : 0;
    const scoreTh = scoreT && scoreT.size ? Number(scoreT.data[0]) : -Infinity;
    // corners as (ymin, xmin, ymax, xmax)
    const corner = (b: number, i: number): [number, number, number, number] => {
      const o = (b * N + i) * 4;
      if (attrs.center_point_box) {
        const [xc, yc, w, h] = [bv[o]!, bv[o + 1]!, bv[o + 2]!, bv[o + 3]!];
        return [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2];
      }
      const [y1, x1, y2, x2] = [bv[o]!, bv[o + 1]!, bv[o + 2]!, bv[o + 3]!];
      return [Math.min(y1, y2), Math.min(x1, x2), Math.max(y1, y2), Math.max(x1, x2)];
    };
    const iou = (a: number[], c: number[]): number => {
      const ih = Math.max(0, Math.min(a[2]!, c[2]!) - Math.max(a[0]!, c[0]!));
      const iw = Math.max(0, Math.min(a[3]!, c[3]!) - Math.max(a[1]!, c[1]!));
      const inter = ih * iw;
      const area = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (c[2]! - c[0]!) * (c[3]! - c[1]!) - inter;
      return inter <= 0 || area <= 0 ? 0 : inter / area;
    };
    const out: bigint[] = [];
    for (let b = 0; b < B; b++) {
      const cs = Array.from({ length: N }, (_, i) => corner(b, i));
      for (let c = 0; c < C; c++) {
        if (maxOut <= 0) continue;
        const cand: number[] = [];
        for (let i = 0; i < N; i++) if (sv[(b * C + c) * N + i]! > scoreTh) cand.push(i);
        cand.sort((i, j) => sv[(b * C + c) * N + j]! - sv[(b * C + c) * N + i]! || i - j);
        const kept: number[] = [];
        for (const i of cand) {
          if (kept.length >= maxOut) break;
          if (kept.every((k) => iou(cs[i]!, cs[k]!) <= iouTh)) kept.push(i);
        }
        for (const k of kept) out.push(BigInt(b), BigInt(c), BigInt(k));
      }
    }
    return [new Tensor('int64', BigInt64Array.from(out), [out.length / 3, 3])];
  },
});

// ONNX CenterCropPad (opset 18): "Center crop or pad an input to given dimensions ... for each axis: crop when
// the target is smaller (centered, the extra element on the start side being dropped last), pad with zeros when
// larger (centered)"
defineOp({
  name: 'CenterCropPad',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { axes: { type: 'ints', default: undefined } },
  inferShape(ctx) {
    const x = needType(ctx, 0, [...NUMERIC, 'bool', 'string'], 'input_data');
    needType(ctx, 1, ['int32', 'int64'], 'shape');
    if (!x.shape) return [{ dtype: x.dtype }];
    const r = x.shape.length;
    const axes = ((ctx.attrs.axes as number[] | undefined) ?? x.shape.map((_, i) => i)).map((a) => {
      if (a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
      return a < 0 ? a + r : a;
    });
    if (new Set(axes).size !== axes.length) ctx.fail(`axes [${axes.join(',')}] repeat an axis`);
    const sv = ctx.value(1);
    if (!sv) return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (axes.includes(i) ? '?' : d)) }];
    if (sv.size !== axes.length) ctx.fail(`shape has ${sv.size} values for ${axes.length} axes`);
    const out = [...x.shape];
    axes.forEach((a, k) => {
      const v = sv.num(k);
      if (!Number.isInteger(v) || v < 0) ctx.fail(`target size ${v} must be a non-negative integer`);
      out[a] = v;
    });
    try {
      sizeOf(out as number[]);
    } catch (e) {
      ctx.fail((e as Error).message);
    }
    return [{ dtype: x.dtype, shape: out }];
  },
  reference({ inputs, outputTypes }) {
    const x = inputs[0]!;
    const out = outputTypes[0]!.shape as number[];
    const r = x.dims.length;
    // per axis: offset of the output window in the input (crop: start = (d - t) / 2 floored; pad: -(t - d) / 2 floored)
    const off = x.dims.map((d, i) => (out[i]! <= d ? Math.floor((d - out[i]!) / 2) : -Math.floor((out[i]! - d) / 2)));
    const n = out.reduce((a, b) => a * b, 1);
    const data = allocData(x.type, n) as any;
    const src = x.data as any;
    const inStr = x.dims.map((_, i) => x.dims.slice(i + 1).reduce((a, b) => a * b, 1));
    const idx = new Array<number>(r).fill(0);
    for (let o = 0; o < n; o++) {
      let p = 0;
      let inside = true;
      for (let i = 0; i < r; i++) {
        const j = idx[i]! + off[i]!;
        if (j < 0 || j >= x.dims[i]!) {
          inside = false;
          break;
        }
        p += j * inStr[i]!;
      }
      if (inside) data[o] = src[p];
      for (let i = r - 1; i >= 0 && ++idx[i]! === out[i]!; i--) idx[i] = 0;
    }
    return [new Tensor(x.type, data, out)];
  },
});
