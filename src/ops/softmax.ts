import { defineOp } from '../ir/registry.js';
import { normAxis } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { FLOATS, floats, floatScratch, fromFloats, needType } from './util.js';

/**
 * Softmax, LogSoftmax, Hardmax with opset-13 semantics: the op acts along ONE axis (default -1).
 * Older opsets ("coerce to 2-D at axis") are rewritten by src/formats/onnx/legacy/nn.ts.
 */

type Kernel = (x: Float32Array | Float64Array, y: Float32Array | Float64Array, base: number, len: number, stride: number) => void;

function defineAxisOp(name: string, doc: string, kernel: Kernel) {
  defineOp({
    name,
    inputs: [1, 1],
    outputs: [1, 1],
    attrs: { axis: { type: 'int', default: -1 } },
    doc,
    inferShape(ctx) {
      const x = needType(ctx, 0, FLOATS, 'input');
      if (x.shape) {
        const r = x.shape.length;
        const a = ctx.attrs.axis as number;
        // ONNX: "Accepted range is [-r, r-1] where r = rank(input)"
        if (r === 0 || a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
      }
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    reference({ inputs, attrs }) {
      return [alongAxis(inputs[0]!, attrs.axis, kernel)];
    },
  });
}

function alongAxis(t: Tensor, axisAttr: number, kernel: Kernel): Tensor {
  const dims = t.dims;
  const axis = normAxis(axisAttr, dims.length);
  const x = floats(t);
  const y = floatScratch(t.type, dims);
  const len = dims[axis]!;
  let inner = 1;
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i]!;
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i]!;
  if (len > 0)
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) kernel(x, y, o * len * inner + i, len, inner);
  return fromFloats(t.type, dims, y);
}

// ONNX Softmax: exp(x - max) / sum(exp(x - max)) along axis
defineAxisOp('Softmax', 'softmax along one axis', (x, y, base, len, stride) => {
  let mx = -Infinity;
  for (let k = 0; k < len; k++) mx = Math.max(mx, x[base + k * stride]!);
  let s = 0;
  for (let k = 0; k < len; k++) {
    const e = Math.exp(x[base + k * stride]! - mx);
    y[base + k * stride] = e;
    s += e;
  }
  for (let k = 0; k < len; k++) y[base + k * stride] = y[base + k * stride]! / s;
});

// ONNX LogSoftmax: (x - max) - log(sum(exp(x - max))) along axis
defineAxisOp('LogSoftmax', 'log of softmax along one axis', (x, y, base, len, stride) => {
  let mx = -Infinity;
  for (let k = 0; k < len; k++) mx = Math.max(mx, x[base + k * stride]!);
  let s = 0;
  for (let k = 0; k < len; k++) s += Math.exp(x[base + k * stride]! - mx);
  const ls = Math.log(s);
  for (let k = 0; k < len; k++) y[base + k * stride] = x[base + k * stride]! - mx - ls;
});

// ONNX Hardmax: 1 for the first maximum along axis, 0 elsewhere
defineAxisOp('Hardmax', 'one-hot of the first maximum along one axis', (x, y, base, len, stride) => {
  let best = 0;
  let mx = x[base]!;
  for (let k = 1; k < len; k++) {
    const v = x[base + k * stride]!;
    if (v > mx) {
      mx = v;
      best = k;
    }
  }
  for (let k = 0; k < len; k++) y[base + k * stride] = k === best ? 1 : 0;
});
