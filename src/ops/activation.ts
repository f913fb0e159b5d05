import { defineOp } from '../ir/registry.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';

/**
 * Pointwise float activations. Pattern for every op: attrs with defaults, an inferShape that validates,
 * a reference that is the spec.
 */
function unaryFloat(name: string, f: (x: number, attrs: Record<string, any>) => number, attrs: Record<string, any> = {}) {
  defineOp({
    name,
    inputs: [1, 1],
    outputs: [1, 1],
    attrs,
    inferShape(ctx) {
      const x = needType(ctx, 0, FLOATS, 'X');
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    reference({ inputs, attrs: a }) {
      const x = inputs[0]!;
      const v = floats(x);
      const out = v instanceof Float64Array ? new Float64Array(v.length) : new Float32Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = f(v[i]!, a);
      return [fromFloats(x.type, x.dims, out)];
    },
  });
}

// ONNX Relu: Y = max(0, X)
unaryFloat('Relu', (x) => (x > 0 || x !== x ? x : 0));
