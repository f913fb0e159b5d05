import { UnsupportedError } from '../errors.js';
import { ONNX_DTYPE } from '../tensor/onnx-dtype.js';
import type { Dim } from '../ir/graph.js';
import { type Attrs, type AttrSpec, type ShapeCtx, defineOp } from '../ir/registry.js';
import { type DType, type TensorData, DTYPES, allocData, isBig, isFloat, packedPerByte } from '../tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../tensor/fp16.js';
import { type E8M0Round, floatsToMini, isMiniFloat } from '../tensor/minifloat.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastBinary, broadcastDims } from './broadcast.js';
import { FLOATS, INTS, MINI_FLOATS, NUMERIC, floats, fromFloats, needType } from './util.js';

/**
 * Elementwise ops: binary arithmetic/bitwise/logic/comparison with multidirectional broadcasting, the variadic
 * Min/Max/Sum/Mean, Cast/CastLike and unary math. Integers keep exact integer semantics (int64/uint64 via
 * BigInt; results wrap like C two's-complement arithmetic on store).
 */

const SIGNED_INTS: readonly DType[] = ['int8', 'int16', 'int32', 'int64'];
const BOOL: readonly DType[] = ['bool'];
const LEGACY_IGNORED = ['consumed_inputs'] as const;

// ---------------------------------------------------------------------------------------------------------
// shared validation
// ---------------------------------------------------------------------------------------------------------

/** Inputs idxs must all exist, have a dtype in `types`, and share one dtype. Returns their broadcast shape. */
function sameTypeBroadcast(ctx: ShapeCtx, idxs: readonly number[], types: readonly DType[], names?: string[]): { dtype: DType; shape: Dim[] | undefined } {
  let dtype: DType | undefined;
  let shape: Dim[] | undefined = [];
  idxs.forEach((i, k) => {
    const what = names?.[k] ?? `input ${i}`;
    const t = needType(ctx, i, types, what);
    if (dtype === undefined) dtype = t.dtype;
    else if (t.dtype !== dtype) ctx.fail(`${what} has type ${t.dtype}, expected ${dtype} (same as input ${idxs[0]})`);
    if (!t.shape) shape = undefined;
    else if (shape) shape = broadcastDims(shape, t.shape, ctx.fail);
  });
  return { dtype: dtype!, shape };
}

/** int64/uint64 from a JS number with C-like truncation; non-finite values map to INT64_MIN (x86 cvttsd2si). */
function toBig(x: number): bigint {
  return Number.isFinite(x) ? BigInt(Math.trunc(x)) : -9223372036854775808n;
}

// ---------------------------------------------------------------------------------------------------------
// binary ops
// ---------------------------------------------------------------------------------------------------------

type BinFn = (x: any, y: any) => any;

function binaryOp(
  name: string,
  types: readonly DType[],
  make: (dtype: DType, attrs: Attrs) => BinFn,
  opts: { bool?: boolean; attrs?: Record<string, AttrSpec>; check?: (ctx: ShapeCtx, dtype: DType) => void } = {},
) {
  defineOp({
    name,
    inputs: [2, 2],
    outputs: [1, 1],
    attrs: opts.attrs ?? {},
    commutes: 'broadcast',
    ignoredAttrs: LEGACY_IGNORED,
    inferShape(ctx) {
      const { dtype, shape } = sameTypeBroadcast(ctx, [0, 1], types, ['A', 'B']);
      opts.check?.(ctx, dtype);
      return [{ dtype: opts.bool ? 'bool' : dtype, shape }];
    },
    reference({ inputs, attrs }) {
      const a = inputs[0]!;
      const b = inputs[1]!;
      return [broadcastBinary(a, b, opts.bool ? 'bool' : a.type, make(a.type, attrs))];
    },
  });
}

const bits = (t: DType) => DTYPES[t].bytes * 8;

// ONNX Add/Sub/Mul: integer results wrap (stored into the typed array of the output type)
binaryOp('Add', NUMERIC, () => (x, y) => x + y);
binaryOp('Sub', NUMERIC, () => (x, y) => x - y);
binaryOp('Mul', NUMERIC, (t) => (t === 'int32' || t === 'uint32' ? (x, y) => Math.imul(x, y) : (x, y) => x * y));
// ONNX Div: "integer division truncates toward zero"; integer division by zero yields 0 here (UB in ONNX)
binaryOp('Div', NUMERIC, (t) => {
  if (isFloat(t)) return (x, y) => x / y;
  if (isBig(t)) return (x: bigint, y: bigint) => (y === 0n ? 0n : x / y);
  return (x: number, y: number) => (y === 0 ? 0 : Math.trunc(x / y));
});

// ONNX Mod: fmod=0 → sign of the divisor (Python %), fmod=1 → sign of the dividend (C fmod).
// "If the input type is floating point, then fmod attribute must be set to 1."
binaryOp(
  'Mod',
  NUMERIC,
  (t, a) => {
    if (isBig(t)) {
      if (a.fmod) return (x: bigint, y: bigint) => (y === 0n ? 0n : x % y);
      return (x: bigint, y: bigint) => {
        if (y === 0n) return 0n;
        const r = x % y;
        return r !== 0n && r < 0n !== y < 0n ? r + y : r;
      };
    }
    if (a.fmod || isFloat(t)) return isFloat(t) ? (x: number, y: number) => x % y : (x: number, y: number) => (y === 0 ? 0 : x % y);
    return (x: number, y: number) => {
      if (y === 0) return 0;
      const r = x % y;
      return r !== 0 && r < 0 !== y < 0 ? r + y : r;
    };
  },
  {
    attrs: { fmod: { type: 'int', default: 0, oneOf: [0, 1] } },
    check(ctx, dtype) {
      if (isFloat(dtype) && ctx.attrs.fmod !== 1) ctx.fail(`fmod must be 1 for floating point inputs (${dtype})`);
    },
  },
);

// ONNX BitShift (uint types). Shifts by ≥ the bit width give 0.
binaryOp(
  'BitShift',
  ['uint8', 'uint16', 'uint32', 'uint64'],
  (t, a) => {
    const left = a.direction === 'LEFT';
    if (isBig(t)) return left ? (x: bigint, y: bigint) => (y >= 64n ? 0n : x << y) : (x: bigint, y: bigint) => (y >= 64n ? 0n : x >> y);
    const nb = bits(t);
    return left ? (x: number, y: number) => (y >= nb ? 0 : x << y) : (x: number, y: number) => (y >= nb ? 0 : x >>> y);
  },
  { attrs: { direction: { type: 'string', required: true, oneOf: ['LEFT', 'RIGHT'] } } },
);

binaryOp('BitwiseAnd', INTS, () => (x, y) => x & y);
binaryOp('BitwiseOr', INTS, () => (x, y) => x | y);
binaryOp('BitwiseXor', INTS, () => (x, y) => x ^ y);

binaryOp('And', BOOL, () => (x, y) => x & y, { bool: true });
binaryOp('Or', BOOL, () => (x, y) => x | y, { bool: true });
binaryOp('Xor', BOOL, () => (x, y) => x ^ y, { bool: true });

binaryOp('Equal', [...NUMERIC, 'bool', 'string'], () => (x, y) => x === y, { bool: true });
binaryOp('Less', NUMERIC, () => (x, y) => x < y, { bool: true });
binaryOp('Greater', NUMERIC, () => (x, y) => x > y, { bool: true });
binaryOp('LessOrEqual', NUMERIC, () => (x, y) => x <= y, { bool: true });
binaryOp('GreaterOrEqual', NUMERIC, () => (x, y) => x >= y, { bool: true });

/** x^n for int64 by squaring, wrapping modulo 2^64 at every step (n ≥ 0). */
function powBig(x: bigint, n: bigint, signed: boolean): bigint {
  const wrap = signed ? (v: bigint) => BigInt.asIntN(64, v) : (v: bigint) => BigInt.asUintN(64, v);
  let r = 1n;
  let b = wrap(x);
  while (n > 0n) {
    if (n & 1n) r = wrap(r * b);
    n >>= 1n;
    if (n > 0n) b = wrap(b * b);
  }
  return r;
}

// ONNX Pow: Z = X ^ Y, Z has X's type; Y may be any numeric type
defineOp({
  name: 'Pow',
  commutes: 'broadcast',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  ignoredAttrs: LEGACY_IGNORED,
  inferShape(ctx) {
    const x = needType(ctx, 0, ['int32', 'int64', ...FLOATS], 'X');
    const y = needType(ctx, 1, NUMERIC, 'Y');
    return [{ dtype: x.dtype, shape: x.shape && y.shape ? broadcastDims(x.shape, y.shape, ctx.fail) : undefined }];
  },
  reference({ inputs }) {
    const x = inputs[0]!;
    const y = inputs[1]!;
    let f: BinFn;
    if (isFloat(x.type)) f = (a: number, b: number | bigint) => Math.pow(a, Number(b));
    else if (x.type === 'int64') {
      f = (a: bigint, b: number | bigint) => {
        if (typeof b === 'bigint' && b >= 0n) return powBig(a, b, true);
        if (typeof b === 'number' && Number.isInteger(b) && b >= 0) return powBig(a, BigInt(b), true);
        return toBig(Math.pow(Number(a), Number(b)));
      };
    } else {
      // int32: exact while |result| < 2^53; larger results wrap like C's integer pow loop
      f = (a: number, b: number | bigint) => {
        const nb = Number(b);
        if (Number.isInteger(nb) && nb >= 0) {
          const p = Math.pow(a, nb);
          if (Math.abs(p) <= Number.MAX_SAFE_INTEGER) return p;
          return Number(powBig(BigInt(a), BigInt(nb), true) & 0xffffffffn);
        }
        const p = Math.trunc(Math.pow(a, nb));
        return Number.isFinite(p) ? p : -2147483648;
      };
    }
    return [broadcastBinary(x, y, x.type, f)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// variadic Min / Max / Sum / Mean
// ---------------------------------------------------------------------------------------------------------

function variadicOp(name: string, types: readonly DType[], make: (dtype: DType) => BinFn, finish?: (v: number, n: number) => number) {
  defineOp({
    name,
    inputs: [1, Infinity],
    outputs: [1, 1],
    attrs: {},
    commutes: 'broadcast',
    ignoredAttrs: LEGACY_IGNORED,
    inferShape(ctx) {
      const idxs = ctx.inputs.map((_, i) => i);
      const { dtype, shape } = sameTypeBroadcast(ctx, idxs, types);
      return [{ dtype, shape }];
    },
    reference({ inputs }) {
      const ts = inputs as Tensor[];
      const dtype = ts[0]!.type;
      // float16 accumulates in float32 and is rounded once at the end
      const wide = dtype === 'float16' ? 'float32' : dtype;
      const widen = (t: Tensor) => (t.type === 'float16' ? new Tensor('float32', floats(t) as Float32Array, t.dims) : t);
      const f = make(wide);
      let acc = widen(ts[0]!);
      if (ts.length === 1) acc = new Tensor(acc.type, (acc.data as any).slice(), acc.dims);
      for (let k = 1; k < ts.length; k++) acc = broadcastBinary(acc, widen(ts[k]!), wide, f);
      if (finish) {
        const d = acc.data as Float32Array | Float64Array;
        for (let i = 0; i < d.length; i++) d[i] = finish(d[i]!, ts.length);
      }
      return [dtype === 'float16' ? fromFloats('float16', acc.dims, acc.data as Float32Array) : acc];
    },
  });
}

// NaN propagates (numpy maximum/minimum semantics)
variadicOp('Max', NUMERIC, (t) => (isBig(t) ? (x, y) => (x > y ? x : y) : (x, y) => (x > y || x !== x ? x : y)));
variadicOp('Min', NUMERIC, (t) => (isBig(t) ? (x, y) => (x < y ? x : y) : (x, y) => (x < y || x !== x ? x : y)));
variadicOp('Sum', FLOATS, () => (x, y) => x + y);
variadicOp('Mean', FLOATS, () => (x, y) => x + y, (v, n) => v / n);

// ---------------------------------------------------------------------------------------------------------
// Cast / CastLike
// ---------------------------------------------------------------------------------------------------------

/** double -> half bits, correctly rounded (nearest, ties to even) without float32 double rounding. */
export function f64ToF16(x: number): number {
  const h = f32ToF16(x);
  if (!Number.isFinite(x) || (h & 0x7fff) === 0x7c00 || Math.fround(x) === x) return h;
  // the float32 detour may have rounded across a half-way point: pick the nearest of h and its neighbours
  let best = h;
  let bestErr = Math.abs(f16ToF32(h) - x);
  for (const c of [h - 1, h + 1]) {
    if ((c & 0x8000) !== (h & 0x8000) || (c & 0x7fff) > 0x7c00 || c < 0) continue;
    const v = f16ToF32(c);
    const err = Math.abs(v - x);
    if (err < bestErr || (err === bestErr && (c & 1) === 0)) {
      best = c;
      bestErr = err;
    }
  }
  return best;
}

function parseNumber(s: string): number {
  const t = s.trim();
  if (/^[+]?inf(inity)?$/i.test(t)) return Infinity;
  if (/^-inf(inity)?$/i.test(t)) return -Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  return Number(t === '' ? NaN : t);
}

function formatNumber(v: number, dtype: DType): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'INF';
  if (v === -Infinity) return '-INF';
  if (dtype === 'float32' || dtype === 'float16') {
    // shortest decimal that reads back as the same float32
    for (let p = 1; p <= 9; p++) {
      const s = v.toPrecision(p);
      if (Math.fround(Number(s)) === v) return String(Number(s));
    }
  }
  return String(v);
}

/** Convert t to dtype `to` with C static_cast semantics (float→int truncates, ints wrap, x≠0 → true). */
export function castTensor(t: Tensor, to: DType, saturate = true, round: E8M0Round = 'up'): Tensor {
  const from = t.type;
  const n = t.size;
  if (from === to) return t;
  if (to === 'string') {
    const out = new Array<string>(n);
    if (from === 'bool') for (let i = 0; i < n; i++) out[i] = t.data[i] ? 'true' : 'false';
    else if (isFloat(from)) {
      const v = floats(t);
      for (let i = 0; i < n; i++) out[i] = formatNumber(v[i]!, from);
    } else for (let i = 0; i < n; i++) out[i] = String(t.data[i]);
    return new Tensor('string', out, t.dims);
  }
  if (isMiniFloat(to)) {
    // ONNX Cast: to float8 "saturate ... any value out of range ... becomes the maximum"/NaN/Inf; RNE otherwise
    const v = from === 'string' ? (t.data as string[]).map(parseNumber) : from === 'bool' || !isFloat(from) ? Array.from(t.data as ArrayLike<number | bigint>, Number) : floats(t);
    return new Tensor(to, floatsToMini(to, v, saturate, round), t.dims);
  }
  const out = allocData(to, n) as any;
  // source values as numbers (or bigint for 64-bit ints, parsed strings as numbers)
  let src: ArrayLike<number | bigint>;
  if (from === 'string') {
    const ss = t.data as string[];
    if (isBig(to)) {
      for (let i = 0; i < n; i++) {
        const s = ss[i]!.trim();
        out[i] = /^[+-]?\d+$/.test(s) ? BigInt(s) : toBig(parseNumber(s));
      }
      return new Tensor(to, out as TensorData, t.dims);
    }
    src = ss.map(parseNumber);
  } else src = from === 'float16' || isMiniFloat(from) ? floats(t) : (t.data as ArrayLike<number | bigint>);
  if (to === 'bool') {
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      out[i] = typeof v === 'bigint' ? (v !== 0n ? 1 : 0) : v !== 0 ? 1 : 0; // NaN → true
    }
  } else if (to === 'float16') {
    for (let i = 0; i < n; i++) out[i] = f64ToF16(Number(src[i]!));
  } else if (to === 'float32' || to === 'float64') {
    for (let i = 0; i < n; i++) out[i] = Number(src[i]!);
  } else if (isBig(to)) {
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      out[i] = typeof v === 'bigint' ? v : toBig(v); // typed-array store wraps modulo 2^64
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      // float → int truncates; integer stores wrap modulo 2^bits
      out[i] = typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : Math.trunc(v);
    }
    // int4/uint4 (held in 8-bit storage) wrap modulo 2^4 like the other integer targets (ONNX cast tests: -9 → 7)
    if (to === 'int4') for (let i = 0; i < n; i++) out[i] = ((out[i] & 15) ^ 8) - 8;
    else if (to === 'uint4') for (let i = 0; i < n; i++) out[i] &= 15;
    else if (to === 'int2') for (let i = 0; i < n; i++) out[i] = ((out[i] & 3) ^ 2) - 2;
    else if (to === 'uint2') for (let i = 0; i < n; i++) out[i] &= 3;
  }
  return new Tensor(to, out as TensorData, t.dims);
}

const CAST_TYPES: readonly DType[] = [...NUMERIC, 'bool', 'string', 'int4', 'uint4', 'int2', 'uint2', ...MINI_FLOATS];
const CAST_ATTRS = {
  saturate: { type: 'int', default: 1 }, // only meaningful for float8 targets
  round_mode: { type: 'string', default: 'up', oneOf: ['up', 'down', 'nearest'] }, // float8e8m0 only
} as const;

function castTarget(ctx: ShapeCtx, code: number): DType {
  const dt = ONNX_DTYPE[code];
  if (!dt) throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): cast to ONNX element type ${code} is not supported`);
  return dt;
}

// ONNX Cast: "Casting from floating point to fixed point ... truncates"; saturate only applies to float8
defineOp({
  name: 'Cast',
  commutes: 'elementwise',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { to: { type: 'int', required: true }, ...CAST_ATTRS },
  inferShape(ctx) {
    const x = needType(ctx, 0, CAST_TYPES, 'input');
    return [{ dtype: castTarget(ctx, ctx.attrs.to), shape: x.shape }];
  },
  reference({ inputs, outputTypes, attrs }) {
    return [castTensor(inputs[0]!, outputTypes[0]!.dtype, attrs.saturate !== 0, attrs.round_mode)];
  },
});

// ONNX BitCast (opset 26): "Reinterprets the binary representation of a tensor as a different data type ...
// the input and output types must have the same bit-width"; the shape is unchanged
defineOp({
  name: 'BitCast',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { to: { type: 'int', required: true } },
  inferShape(ctx) {
    const x = needType(ctx, 0, [...NUMERIC, 'bool', 'bfloat16'], 'input');
    const to = castTarget(ctx, ctx.attrs.to);
    if (to === 'string' || DTYPES[to].bytes !== DTYPES[x.dtype].bytes || packedPerByte(to) || packedPerByte(x.dtype))
      ctx.fail(`cannot reinterpret ${x.dtype} as ${to}: the element types must have the same bit width`);
    return [{ dtype: to, shape: x.shape }];
  },
  reference({ inputs, outputTypes }) {
    const x = inputs[0]!;
    const to = outputTypes[0]!.dtype;
    const src = x.typed;
    const bytes = new Uint8Array(src.buffer, src.byteOffset, x.byteLength).slice();
    const out = new DTYPES[to].array!(bytes.buffer, 0, x.size);
    if (to === 'bool') for (let i = 0; i < out.length; i++) out[i] = out[i] ? 1 : 0;
    return [new Tensor(to, out as TensorData, x.dims)];
  },
});

defineOp({
  name: 'CastLike',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { ...CAST_ATTRS },
  inferShape(ctx) {
    const x = needType(ctx, 0, CAST_TYPES, 'input');
    const t = needType(ctx, 1, CAST_TYPES, 'target_type');
    return [{ dtype: t.dtype, shape: x.shape }];
  },
  // only target_type's dtype is read: a constant input casts at load even when target_type is a run-time value
  // (paddle2onnx writes Clip bounds as CastLike(constant, activation))
  constantFromTypes(ctx) {
    const x = ctx.value(0);
    const t = ctx.inputs[1];
    return x && t ? [castTensor(x, t.dtype, ctx.attrs.saturate !== 0, ctx.attrs.round_mode)] : undefined;
  },
  reference({ inputs, attrs }) {
    return [castTensor(inputs[0]!, inputs[1]!.type, attrs.saturate !== 0, attrs.round_mode)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// unary math
// ---------------------------------------------------------------------------------------------------------

interface UnaryFns {
  /** float path (computed in double, rounded once on store); also used for number-typed ints if `int` absent */
  f?: (x: number) => number;
  /** int8..uint32 path */
  int?: (x: number) => number;
  /** int64/uint64 path */
  big?: (x: bigint) => bigint;
}

function unaryOp(name: string, types: readonly DType[], fns: UnaryFns) {
  defineOp({
    name,
    commutes: 'elementwise',
    inputs: [1, 1],
    outputs: [1, 1],
    attrs: {},
    ignoredAttrs: LEGACY_IGNORED,
    inferShape(ctx) {
      const x = needType(ctx, 0, types, 'X');
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    reference({ inputs }) {
      const x = inputs[0]!;
      const n = x.size;
      if (isFloat(x.type)) {
        const v = floats(x);
        const out = v instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
        const f = fns.f!;
        for (let i = 0; i < n; i++) out[i] = f(v[i]!);
        return [fromFloats(x.type, x.dims, out)];
      }
      const out = allocData(x.type, n) as any;
      if (isBig(x.type)) {
        const v = x.data as BigInt64Array;
        const f = fns.big!;
        for (let i = 0; i < n; i++) out[i] = f(v[i]!);
      } else {
        const v = x.data as Int32Array;
        const f = (fns.int ?? fns.f)!;
        for (let i = 0; i < n; i++) out[i] = f(v[i]!);
      }
      return [new Tensor(x.type, out as TensorData, x.dims)];
    },
  });
}

/** ONNX Round: "round half to even" */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  const r = d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
  return r === 0 ? x * 0 : r; // keep the sign of zero (-0.5 → -0)
}

/** erf(x) to double precision: Maclaurin series for |x| < 2, continued fraction for erfc beyond. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2) {
    // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
  let cf = ax;
  for (let k = 120; k >= 1; k--) cf = ax + k / 2 / cf;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / cf;
  return Math.sign(x) * (1 - erfc);
}

unaryOp('Abs', NUMERIC, { f: Math.abs, big: (x) => (x < 0n ? -x : x) });
unaryOp('Neg', [...FLOATS, ...SIGNED_INTS], { f: (x) => -x, big: (x) => -x });
unaryOp('Sign', NUMERIC, { f: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN), big: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n) });
unaryOp('Reciprocal', FLOATS, { f: (x) => 1 / x });
unaryOp('Sqrt', FLOATS, { f: Math.sqrt });
unaryOp('Exp', FLOATS, { f: Math.exp });
unaryOp('Log', FLOATS, { f: Math.log });
unaryOp('Floor', FLOATS, { f: Math.floor });
unaryOp('Ceil', FLOATS, { f: Math.ceil });
unaryOp('Round', FLOATS, { f: roundHalfEven });
unaryOp('Sin', FLOATS, { f: Math.sin });
unaryOp('Cos', FLOATS, { f: Math.cos });
unaryOp('Tan', FLOATS, { f: Math.tan });
unaryOp('Asin', FLOATS, { f: Math.asin });
unaryOp('Acos', FLOATS, { f: Math.acos });
unaryOp('Atan', FLOATS, { f: Math.atan });
unaryOp('Sinh', FLOATS, { f: Math.sinh });
unaryOp('Cosh', FLOATS, { f: Math.cosh });
unaryOp('Asinh', FLOATS, { f: Math.asinh });
unaryOp('Acosh', FLOATS, { f: Math.acosh });
unaryOp('Atanh', FLOATS, { f: Math.atanh });
// integer inputs: static_cast of erf(x) truncates, so only |x| ≥ 6 (erf rounds to ±1 in double) is non-zero
unaryOp('Erf', NUMERIC, { f: erf, int: (x) => Math.trunc(erf(x)), big: (x) => (x >= 6n ? 1n : x <= -6n ? -1n : 0n) });
unaryOp('BitwiseNot', INTS, { int: (x) => ~x, big: (x) => ~x });
unaryOp('Not', BOOL, { int: (x) => (x ? 0 : 1) });

function floatToBool(name: string, attrs: Record<string, AttrSpec>, pred: (x: number, a: Attrs) => boolean) {
  defineOp({
    name,
    commutes: 'elementwise',
    inputs: [1, 1],
    outputs: [1, 1],
    attrs,
    inferShape(ctx) {
      const x = needType(ctx, 0, FLOATS, 'X');
      return [{ dtype: 'bool', shape: x.shape }];
    },
    reference({ inputs, attrs: a }) {
      const x = inputs[0]!;
      const v = floats(x);
      const out = new Uint8Array(sizeOf(x.dims));
      for (let i = 0; i < v.length; i++) out[i] = pred(v[i]!, a) ? 1 : 0;
      return [new Tensor('bool', out, x.dims)];
    },
  });
}

floatToBool('IsNaN', {}, (x) => x !== x);
floatToBool(
  'IsInf',
  { detect_negative: { type: 'int', default: 1 }, detect_positive: { type: 'int', default: 1 } },
  (x, a) => (x === Infinity && a.detect_positive !== 0) || (x === -Infinity && a.detect_negative !== 0),
);
