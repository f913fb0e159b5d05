import type { DType } from '../tensor/dtype.js';
import { allocData, isBig, isFloat } from '../tensor/dtype.js';
import type { TensorData } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { type AttrSpec, defineOp } from '../ir/registry.js';
import { broadcastBinary, broadcastDims, expandTo } from './broadcast.js';
import { erf } from './elementwise.js';
import { FLOATS, NUMERIC, floats, fromFloats, needType } from './util.js';

/**
 * Pointwise activations. Pattern for every op: attrs with defaults, an inferShape that validates,
 * a reference that is the spec. Float math runs in double and is rounded once on store.
 */

const IGNORED = ['consumed_inputs'] as const;

/**
 * A pointwise op over `types`. `f` computes in JS numbers; integer inputs are converted to numbers and the
 * result truncated back (int64 via BigInt).
 */
function unary(
  name: string,
  f: (x: number, attrs: Record<string, any>) => number,
  attrs: Record<string, AttrSpec> = {},
  types: readonly DType[] = FLOATS,
  big?: (x: bigint, attrs: Record<string, any>) => bigint,
) {
  defineOp({
    name,
    inputs: [1, 1],
    outputs: [1, 1],
    attrs,
    ignoredAttrs: IGNORED,
    commutes: 'elementwise',
    inferShape(ctx) {
      const x = needType(ctx, 0, types, 'X');
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    reference({ inputs, attrs: a }) {
      const x = inputs[0]!;
      if (isFloat(x.type)) {
        const v = floats(x);
        const out = v instanceof Float64Array ? new Float64Array(v.length) : new Float32Array(v.length);
        for (let i = 0; i < v.length; i++) out[i] = f(v[i]!, a);
        return [fromFloats(x.type, x.dims, out)];
      }
      const n = x.size;
      const out = allocData(x.type, n) as any;
      const v = x.data as ArrayLike<number | bigint>;
      if (isBig(x.type)) for (let i = 0; i < n; i++) out[i] = big!(v[i] as bigint, a);
      else for (let i = 0; i < n; i++) out[i] = Math.trunc(f(v[i] as number, a));
      return [new Tensor(x.type, out as TensorData, x.dims)];
    },
  });
}

const SIGNED: readonly DType[] = [...FLOATS, 'int8', 'int16', 'int32', 'int64'];

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
/** log(1 + e^x) without overflow */
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

// ONNX Relu: Y = max(0, X)
unary('Relu', (x) => (x > 0 || x !== x ? x : 0), {}, SIGNED, (x) => (x > 0n ? x : 0n));
// ONNX LeakyRelu: y = alpha * x for x < 0, y = x for x >= 0
unary('LeakyRelu', (x, a) => (x < 0 ? a.alpha * x : x), { alpha: { type: 'float', default: 0.01 } });
unary('Sigmoid', sigmoid);
// ONNX HardSigmoid: y = max(0, min(1, alpha * x + beta))
unary('HardSigmoid', (x, a) => Math.max(0, Math.min(1, a.alpha * x + a.beta)), { alpha: { type: 'float', default: 0.2 }, beta: { type: 'float', default: 0.5 } });
// ONNX HardSwish: y = x * max(0, min(1, alpha * x + beta)), alpha = 1/6, beta = 0.5
unary('HardSwish', (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)));
unary('Tanh', Math.tanh);
// ONNX Elu: y = alpha * (exp(x) - 1) for x < 0, y = x for x >= 0
unary('Elu', (x, a) => (x < 0 ? a.alpha * Math.expm1(x) : x), { alpha: { type: 'float', default: 1.0 } });
// ONNX Selu: y = gamma * (alpha * e^x - alpha) for x <= 0, y = gamma * x for x > 0
unary('Selu', (x, a) => (x > 0 ? a.gamma * x : a.gamma * (a.alpha * Math.exp(x) - a.alpha)), {
  alpha: { type: 'float', default: 1.67326319217681884765625 },
  gamma: { type: 'float', default: 1.05070102214813232421875 },
});
// ONNX Celu: max(0,x) + min(0, alpha * (exp(x/alpha) - 1))
unary('Celu', (x, a) => Math.max(0, x) + Math.min(0, a.alpha * Math.expm1(x / a.alpha)), { alpha: { type: 'float', default: 1.0 } }, [...FLOATS, 'bfloat16']);
// ONNX Swish (opset 24): y = x * sigmoid(alpha * x)
unary('Swish', (x, a) => x * sigmoid(a.alpha * x), { alpha: { type: 'float', default: 1.0 } });
// ONNX Gelu: 0.5x(1+erf(x/√2)); approximate='tanh': 0.5x(1+tanh(√(2/π)(x+0.044715x³)))
unary(
  'Gelu',
  (x, a) => (a.approximate === 'tanh' ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))) : 0.5 * x * (1 + erf(x / Math.SQRT2))),
  { approximate: { type: 'string', default: 'none', oneOf: ['none', 'tanh'] } },
);
unary('Softplus', softplus);
// ONNX Softsign: y = x / (1 + |x|)
unary('Softsign', (x) => x / (1 + Math.abs(x)));
// ONNX ThresholdedRelu: y = x for x > alpha, y = 0 otherwise
unary('ThresholdedRelu', (x, a) => (x > a.alpha ? x : 0), { alpha: { type: 'float', default: 1.0 } });
// ONNX Mish: y = x * tanh(softplus(x))
unary('Mish', (x) => x * Math.tanh(softplus(x)));
// ONNX Shrink: y = x + bias if x < -lambd; y = x - bias if x > lambd; else 0
const shrink = (x: number, a: Record<string, any>) => (x < -a.lambd ? x + a.bias : x > a.lambd ? x - a.bias : 0);
unary('Shrink', shrink, { bias: { type: 'float', default: 0 }, lambd: { type: 'float', default: 0.5 } }, NUMERIC, (x, a) => {
  const nx = Number(x);
  if (Math.abs(nx) < 2 ** 53) return BigInt(Math.trunc(shrink(nx, a)));
  // beyond 2^53 keep x exact: only the (integral part of the) bias moves it
  const b = BigInt(Math.trunc(a.bias));
  return nx < -a.lambd ? x + b : nx > a.lambd ? x - b : 0n;
});

// ONNX PRelu: y = slope * x for x < 0, y = x for x >= 0; slope is unidirectionally broadcastable to X
defineOp({
  name: 'PRelu',
  // the slope broadcasts to X from the right ("unidirectional broadcasting")
  commutes: 'broadcast',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  ignoredAttrs: IGNORED,
  inferShape(ctx) {
    const x = needType(ctx, 0, [...FLOATS, 'int32', 'int64', 'uint32', 'uint64'], 'X');
    const s = needType(ctx, 1, [x.dtype], 'slope');
    if (x.shape && s.shape) {
      if (s.shape.length > x.shape.length) ctx.fail(`slope rank ${s.shape.length} exceeds X rank ${x.shape.length}`);
      const b = broadcastDims(x.shape, s.shape, ctx.fail);
      b.forEach((d, i) => {
        const xd = x.shape![i]!;
        if (typeof d === 'number' && typeof xd === 'number' && d !== xd)
          ctx.fail(`slope shape [${s.shape}] is not unidirectionally broadcastable to X shape [${x.shape}]`);
      });
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs }) {
    const x = inputs[0]!;
    const s = inputs[1]!;
    return [broadcastBinary(x, s, x.type, (v: any, k: any) => (v < 0 ? v * k : v))];
  },
});

// ONNX Clip: y = min(max(x, min), max); "When 'min' is greater than 'max', … all values are set to 'max'"
defineOp({
  name: 'Clip',
  commutes: 'elementwise',
  inputs: [1, 3],
  outputs: [1, 1],
  attrs: {},
  ignoredAttrs: IGNORED,
  inferShape(ctx) {
    const x = needType(ctx, 0, NUMERIC, 'input');
    for (const [i, what] of [
      [1, 'min'],
      [2, 'max'],
    ] as const) {
      const t = ctx.inputs[i];
      if (!t) continue;
      if (t.dtype !== x.dtype) ctx.fail(`${what} has type ${t.dtype}, expected ${x.dtype}`);
      // "It must be a scalar (tensor of empty shape)"; a single-element [1] is accepted as exporters emit it
      if (t.shape && !(t.shape.length === 0 || (t.shape.length === 1 && t.shape[0] === 1)))
        ctx.fail(`${what} must be a scalar, got shape [${t.shape}]`);
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs }) {
    const x = inputs[0]!;
    const lo = inputs[1] ? expandTo(inputs[1], [])[0] : undefined;
    const hi = inputs[2] ? expandTo(inputs[2], [])[0] : undefined;
    const n = x.size;
    const clip = (v: any) => {
      if (lo !== undefined && v < lo) v = lo;
      if (hi !== undefined && v > hi) v = hi;
      return v;
    };
    if (isFloat(x.type)) {
      const v = floats(x);
      const out = v instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = clip(v[i]!);
      return [fromFloats(x.type, x.dims, out)];
    }
    const out = allocData(x.type, n) as any;
    const v = x.data as ArrayLike<any>;
    for (let i = 0; i < n; i++) out[i] = clip(v[i]);
    return [new Tensor(x.type, out as TensorData, x.dims)];
  },
});
