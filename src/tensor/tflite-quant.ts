/**
 * TFLite's integer arithmetic, bit for bit (tensorflow/lite/kernels/internal/common.h,
 * quantization_util.cc and gemmlowp/fixedpoint). TFLite models run with these rules; ONNX models keep
 * ONNX rounding (src/tensor/rounding.ts). All values are int32 unless the name says otherwise.
 */

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const TWO31 = 2147483648;

/** C/C++ std::round: halves away from zero (TfLiteRound). */
export function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * QuantizeMultiplier(double m) → [multiplier, shift] with m ≈ multiplier · 2^(shift-31), multiplier in
 * [2^30, 2^31). "q = frexp(m, &shift); q_fixed = round(q * (1 << 31)); if (q_fixed == (1 << 31)) { q_fixed /= 2; ++shift; }
 * if (shift < -31) { shift = 0; q_fixed = 0; }" and (newer TFLite) "if (shift > 30) { shift = 30; q_fixed = (1 << 31) - 1; }".
 */
export function quantizeMultiplier(m: number): [number, number] {
  if (m === 0 || !Number.isFinite(m)) return [0, 0];
  let [q, shift] = frexp(m);
  let qf = roundAway(q * TWO31);
  if (qf === TWO31) {
    qf /= 2;
    shift++;
  }
  if (shift < -31) return [0, 0];
  if (shift > 30) return [INT32_MAX, 30];
  return [qf, shift];
}

/** frexp: m = q · 2^e with |q| in [0.5, 1). */
export function frexp(m: number): [number, number] {
  if (m === 0 || !Number.isFinite(m)) return [m, 0];
  let e = Math.max(-1073, Math.floor(Math.log2(Math.abs(m))) + 1);
  let q = m * 2 ** -e;
  // correct log2 rounding at the edges
  while (Math.abs(q) < 0.5) {
    q *= 2;
    e--;
  }
  while (Math.abs(q) >= 1) {
    q /= 2;
    e++;
  }
  return [q, e];
}

/**
 * gemmlowp SaturatingRoundingDoublingHighMul: "(a*b + nudge) / 2^31" with nudge = 2^30 for a*b ≥ 0 and
 * 1 - 2^30 otherwise, C division truncating toward zero; a == b == INT32_MIN saturates to INT32_MAX.
 * Exact in doubles: b is split in 16-bit halves so no partial product exceeds 2^53.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const neg = a !== 0 && b !== 0 && a < 0 !== b < 0;
  const bh = b >> 16;
  const bl = b & 0xffff;
  const x = a * bh; // |x| < 2^46, exact
  const y = a * bl + (neg ? 1 - 2 ** 30 : 2 ** 30); // |y| < 2^48, exact
  // a*b + nudge = x·2^16 + y = xq·2^31 + r
  const xq = Math.floor(x / 32768);
  const xr = x - xq * 32768;
  const r = xr * 65536 + y;
  const rq = Math.floor(r / TWO31);
  let res = xq + rq;
  // C truncation toward zero: for a negative sum floor is one below unless exact
  if (neg && r - rq * TWO31 !== 0) res += 1;
  return res | 0;
}

/**
 * gemmlowp RoundingDivideByPOT: "mask = (1 << exponent) - 1; remainder = x & mask; threshold = (mask >> 1) + (x < 0);
 * return (x >> exponent) + (remainder > threshold)" — round half away from zero.
 */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  const mask = exponent >= 31 ? 0x7fffffff : (1 << exponent) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * MultiplyByQuantizedMultiplier(int32 x, multiplier, shift) (TFLite default, double rounding):
 * "RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * (1 << left_shift), multiplier), right_shift)".
 */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(Math.imul(x, 2 ** left), multiplier), right);
}

/**
 * MultiplyByQuantizedMultiplier(int64 x, ...) used by 16x8 kernels with int64 accumulators:
 * "reduced_multiplier = (quantized_multiplier < 0x7FFF0000) ? ((quantized_multiplier + (1 << 15)) >> 16) : 0x7FFF;
 * total_shift = 15 - shift; x = (x * reduced_multiplier) + (1 << (total_shift - 1)); result = x >> total_shift".
 */
export function multiplyByQuantizedMultiplier64(x: bigint, multiplier: number, shift: number): number {
  const reduced = multiplier < 0x7fff0000 ? (multiplier + (1 << 15)) >> 16 : 0x7fff;
  const total = BigInt(15 - shift);
  const v = (x * BigInt(reduced) + (1n << (total - 1n))) >> total;
  return Number(BigInt.asIntN(32, v));
}

/** Fast path of multiplyByQuantizedMultiplier64 when |x| < 2^37 (result exact in doubles). */
export function multiplyByQuantizedMultiplierAcc(x: number, multiplier: number, shift: number): number {
  const reduced = multiplier < 0x7fff0000 ? (multiplier + (1 << 15)) >> 16 : 0x7fff;
  const total = 15 - shift;
  const p = x * reduced; // < 2^52 when |x| < 2^37
  if (Math.abs(p) < 2 ** 52) return Math.floor((p + 2 ** (total - 1)) / 2 ** total) | 0;
  return multiplyByQuantizedMultiplier64(BigInt(x), multiplier, shift);
}

/** Per-channel multipliers: effective scale_c = input_scale · filter_scale_c / output_scale (in double). */
export function perChannelMultipliers(inputScale: number, filterScales: ArrayLike<number>, outputScale: number, channels: number): { mult: Int32Array; shift: Int32Array } {
  const mult = new Int32Array(channels);
  const shift = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const fs = filterScales.length === 1 ? filterScales[0]! : filterScales[c]!;
    const [m, s] = quantizeMultiplier((inputScale * fs) / outputScale);
    mult[c] = m;
    shift[c] = s;
  }
  return { mult, shift };
}

/** Integer bounds of a quantized storage type. */
export function qbounds(dtype: string): [number, number] {
  switch (dtype) {
    case 'int8':
      return [-128, 127];
    case 'uint8':
      return [0, 255];
    case 'int16':
      return [-32768, 32767];
    case 'int32':
      return [INT32_MIN, INT32_MAX];
    default:
      return [-Infinity, Infinity];
  }
}

/**
 * CalculateActivationRangeQuantized: "act_min = max(qmin, zero_point + round(lo / scale))",
 * "act_max = min(qmax, zero_point + round(hi / scale))" for RELU [0,∞), RELU6 [0,6], RELU_N1_TO_1 [-1,1].
 * Quantize() there is `zero_point + static_cast<int32>(TfLiteRound(f / scale))` in float.
 */
export function activationRangeQuantized(act: 'NONE' | 'RELU' | 'RELU6' | 'RELU_N1_TO_1', dtype: string, scale: number, zeroPoint: number): [number, number] {
  const [qmin, qmax] = qbounds(dtype);
  const q = (f: number) => zeroPoint + roundAway(Math.fround(Math.fround(f) / Math.fround(scale)));
  switch (act) {
    case 'RELU':
      return [Math.max(qmin, q(0)), qmax];
    case 'RELU6':
      return [Math.max(qmin, q(0)), Math.min(qmax, q(6))];
    case 'RELU_N1_TO_1':
      return [Math.max(qmin, q(-1)), Math.min(qmax, q(1))];
    default:
      return [qmin, qmax];
  }
}

/** AffineQuantize: "static_cast<int32>(TfLiteRound(val / scale)) + zero_point", clamped (float division). */
export function affineQuantize(v: number, scale: number, zeroPoint: number, lo: number, hi: number): number {
  const q = roundAway(Math.fround(Math.fround(v) / Math.fround(scale))) + zeroPoint;
  return q < lo ? lo : q > hi ? hi : q;
}

/** Dequantize: "static_cast<float>(scale * (val - zero_point))" with a double scale. */
export function dequantize(q: number, scale: number, zeroPoint: number): number {
  return Math.fround(Math.fround(scale) * (q - zeroPoint));
}

// ---------------------------------------------------------------- gemmlowp fixed point (softmax)

/** gemmlowp SaturatingRoundingMultiplyByPOT<e>: saturating left shift for e > 0, RoundingDivideByPOT for e < 0. */
export function saturatingRoundingMultiplyByPOT(x: number, e: number): number {
  if (e === 0) return x;
  if (e < 0) return roundingDivideByPOT(x, -e);
  const threshold = 2 ** (31 - e) - 1;
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (x << e) | 0;
}

const fmul = saturatingRoundingDoublingHighMul;

/**
 * gemmlowp's FixedPoint arithmetic over one raw integer type. gemmlowp's exp / logistic / tanh templates are
 * generic in the raw type, and an int16 raw (FixedPoint<int16_t, N>, TFLite's integer LSTM) rounds differently
 * from int32: products keep 15 fraction bits, constants are the int32 ones rounded by 2^16
 * (RescaleConstantInitializer), sums wrap to 16 bits and AddSaturatingIf16Bit saturates.
 */
interface Fx {
  bits: 16 | 32;
  max: number;
  /** SaturatingRoundingDoublingHighMul (operator*) */
  mul(a: number, b: number): number;
  /** the raw type's wrap-around (operator+, operator-, unary minus) */
  wrap(x: number): number;
  /** SaturatingRoundingMultiplyByPOT<e> */
  pot(x: number, e: number): number;
  /** GEMMLOWP_CHECKED_FIXEDPOINT_CONSTANT from its int32 raw value */
  c(raw32: number): number;
  /** AddSaturatingIf16Bit */
  addSat(a: number, b: number): number;
}

const FX32: Fx = { bits: 32, max: INT32_MAX, mul: fmul, wrap: (x) => x | 0, pot: saturatingRoundingMultiplyByPOT, c: (v) => v, addSat: (a, b) => (a + b) | 0 };

const wrap16 = (x: number) => (x << 16) >> 16;
const sat16 = (x: number) => (x < -32768 ? -32768 : x > 32767 ? 32767 : x);
const FX16: Fx = {
  bits: 16,
  max: 32767,
  // "ab_x2_high16 = (ab_32 + nudge) / (1 << 15)", nudge 2^14 or 1 - 2^14; -32768 · -32768 saturates
  mul: (a, b) => (a === -32768 && b === -32768 ? 32767 : Math.trunc((a * b + (a * b >= 0 ? 16384 : -16383)) / 32768)),
  wrap: wrap16,
  pot: (x, e) => (e <= 0 ? roundingDivideByPOT(x, -e) : x > 2 ** (15 - e) - 1 ? 32767 : x < -(2 ** (15 - e) - 1) ? -32768 : wrap16(x << e)),
  c: (v) => roundingDivideByPOT(v, 16),
  addSat: (a, b) => sat16(a + b),
};

/** gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl (FixedPoint<raw, 0>). */
function expOnIntervalNegQuarter0(f: Fx, a: number): number {
  const constantTerm = f.c(1895147668); // exp(-1/8)
  const oneOver3 = f.c(715827883);
  const x = f.wrap(a + 2 ** (f.bits - 4)); // x = a + 1/8
  const x2 = f.mul(x, x);
  const x3 = f.mul(x2, x);
  const x4 = f.mul(x2, x2);
  const x4over4 = f.pot(x4, -2);
  const poly = f.pot(f.wrap(f.mul(f.wrap(x4over4 + x3), oneOver3) + x2), -1);
  return f.addSat(constantTerm, f.mul(constantTerm, f.wrap(x + poly)));
}

const EXP_BARREL: [number, number][] = [
  [-2, 1672461947],
  [-1, 1302514674],
  [0, 790015084],
  [1, 290630308],
  [2, 39332535],
  [3, 720401],
  [4, 242],
];

/** gemmlowp exp_on_negative_values for FixedPoint<raw, integerBits> input (raw), result FixedPoint<raw, 0>. */
function expNeg(f: Fx, a: number, integerBits: number): number {
  const frac = f.bits - 1 - integerBits;
  const oneQuarter = 1 << (frac - 2);
  const mask = oneQuarter - 1;
  const aModQuarterMinusQuarter = f.wrap((a & mask) - oneQuarter);
  let result = expOnIntervalNegQuarter0(f, f.pot(aModQuarterMinusQuarter, integerBits)); // Rescale<0>
  const remainder = f.wrap(aModQuarterMinusQuarter - a);
  for (const [exp, mult] of EXP_BARREL) {
    if (integerBits > exp) {
      const shift = frac + exp;
      if (remainder & (1 << shift)) result = f.mul(result, f.c(mult));
    }
  }
  if (integerBits > 5) {
    const clampRaw = f.c(-(1 << (36 - integerBits)) | 0); // -32.0
    if (a < clampRaw) result = 0;
  }
  if (a === 0) result = f.max;
  return result;
}

/** gemmlowp exp_on_negative_values for FixedPoint<int32, integerBits> input (raw), result FixedPoint<int32, 0>. */
export function expOnNegativeValues(a: number, integerBits: number): number {
  return expNeg(FX32, a, integerBits);
}

/** gemmlowp RoundingHalfSum (int32 or int16: the sum is formed in int32). */
function roundingHalfSum(a: number, b: number): number {
  const sum = a + b;
  return Math.trunc((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/**
 * The Newton-Raphson division shared by gemmlowp one_over_one_plus_x_for_x_in_0_1 and
 * one_minus_x_over_one_plus_x_for_x_in_0_1: x ≈ 1 / half_denominator as FixedPoint<raw, 2>, "x = 48/17 - 32/17·d"
 * then three "x = x + Rescale<2>(x · (1 - d·x))".
 */
function newtonHalfReciprocal(f: Fx, half: number): number {
  let x = f.wrap(f.c(1515870810) + f.mul(half, f.c(-1010580540)));
  const one2 = 2 ** (f.bits - 3);
  for (let i = 0; i < 3; i++) {
    const oneMinus = f.wrap(one2 - f.mul(half, x));
    x = f.wrap(x + f.pot(f.mul(x, oneMinus), 2));
  }
  return x;
}

/** gemmlowp one_over_one_plus_x_for_x_in_0_1: Rescale<0>(ExactMulByPot<-1>(x)). */
function oneOverOnePlusXFx(f: Fx, a: number): number {
  return f.pot(newtonHalfReciprocal(f, roundingHalfSum(a, f.max)), 1);
}

/** gemmlowp one_over_one_plus_x_for_x_in_0_1 (Newton-Raphson, FixedPoint<int32, 0> in and out). */
export function oneOverOnePlusX(a: number): number {
  return oneOverOnePlusXFx(FX32, a);
}

/** TFLite GetReciprocal: 1/x for FixedPoint<int32, integerDigits> x, with the shift it needs. */
export function getReciprocal(x: number, integerDigits: number): [number, number] {
  const headroomPlusOne = Math.clz32(x);
  const numBitsOverUnit = integerDigits - headroomPlusOne;
  const shiftedSumMinusOne = ((x << headroomPlusOne) - 0x80000000) | 0;
  return [oneOverOnePlusX(shiftedSumMinusOne), numBitsOverUnit];
}

/**
 * Softmax parameters (PreprocessSoftmaxScaling + CalculateInputRadius with kScaledDiffIntegerBits = 5):
 * "input_beta_real_multiplier = min(beta * input_scale * (1 << (31 - 5)), (1 << 31) - 1.0)", "diff_min = -floor(((1 << 5) - 1) * (1 << 26) / (1 << left_shift))".
 */
export function softmaxParams(beta: number, inputScale: number): { multiplier: number; leftShift: number; diffMin: number } {
  const real = Math.min(beta * inputScale * (1 << 26), 2 ** 31 - 1);
  const [multiplier, leftShift] = quantizeMultiplier(real);
  const radius = Math.floor((31 * 2 ** 26) / 2 ** leftShift);
  return { multiplier, leftShift, diffMin: -radius };
}

/** reference_ops::Softmax for int8/uint8 input and int8/uint8/int16 output, one row. */
export function softmaxQuantRow(input: ArrayLike<number>, off: number, depth: number, out: { [i: number]: number }, p: { multiplier: number; leftShift: number; diffMin: number }, outBits: number, outMin: number, outMax: number): void {
  let max = -Infinity;
  for (let c = 0; c < depth; c++) if (input[off + c]! > max) max = input[off + c]!;
  let sum = 0;
  const scaled = (d: number) => saturatingRoundingDoublingHighMul(Math.imul(d, 2 ** p.leftShift), p.multiplier);
  for (let c = 0; c < depth; c++) {
    const d = input[off + c]! - max;
    if (d >= p.diffMin) sum = (sum + saturatingRoundingMultiplyByPOT(expOnNegativeValues(scaled(d), 5), -12)) | 0; // Rescale<12>
  }
  const [shiftedScale, bitsOverUnit] = getReciprocal(sum, 12);
  for (let c = 0; c < depth; c++) {
    const d = input[off + c]! - max;
    if (d >= p.diffMin) {
      const e = expOnNegativeValues(scaled(d), 5);
      const unsat = roundingDivideByPOT(fmul(shiftedScale, e), bitsOverUnit + 31 - outBits);
      const v = unsat + outMin;
      out[off + c] = v < outMin ? outMin : v > outMax ? outMax : v;
    } else out[off + c] = outMin;
  }
}

/** gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1: Rescale<0>(x - F2::One()). */
function oneMinusXOverOnePlusX(f: Fx, a: number): number {
  return f.pot(f.wrap(newtonHalfReciprocal(f, roundingHalfSum(a, f.max)) - 2 ** (f.bits - 3)), 2);
}

/** gemmlowp logistic(FixedPoint<raw, integerBits>) → FixedPoint<raw, 0>. */
function logisticFx(f: Fx, a: number, integerBits: number): number {
  if (a === 0) return f.c(1 << 30); // one half
  const abs = a > 0 ? a : f.wrap(-a);
  const pos = oneOverOnePlusXFx(f, expNeg(f, f.wrap(-abs), integerBits));
  return a > 0 ? pos : f.wrap(f.max - pos);
}

/** gemmlowp tanh(FixedPoint<raw, integerBits>) → FixedPoint<raw, 0>: -tanh(n) = (1 - e^{2n}) / (1 + e^{2n}) for n = -|a|. */
function tanhFx(f: Fx, a: number, integerBits: number): number {
  if (a === 0) return 0;
  const n = a < 0 ? a : f.wrap(-a);
  const t = oneMinusXOverOnePlusX(f, expNeg(f, n, integerBits + 1)); // ExactMulByPot<1>
  return a < 0 ? f.wrap(-t) : t;
}

/** gemmlowp logistic(FixedPoint<int32, integerBits>) → FixedPoint<int32, 0>. */
export function fixedLogistic(a: number, integerBits: number): number {
  return logisticFx(FX32, a, integerBits);
}

/** gemmlowp tanh(FixedPoint<int32, integerBits>) → FixedPoint<int32, 0>. */
export function fixedTanh(a: number, integerBits: number): number {
  return tanhFx(FX32, a, integerBits);
}

/** gemmlowp logistic(FixedPoint<int16, integerBits>) → FixedPoint<int16, 0> (tensor_utils ApplySigmoid: Q3.12 in, Q0.15 out). */
export function fixedLogistic16(a: number, integerBits: number): number {
  return logisticFx(FX16, a, integerBits);
}

/** gemmlowp tanh(FixedPoint<int16, integerBits>) → FixedPoint<int16, 0> (tensor_utils ApplyTanh). */
export function fixedTanh16(a: number, integerBits: number): number {
  return tanhFx(FX16, a, integerBits);
}

/**
 * Int8 LOGISTIC / TANH parameters (kInputIntegerBits = 4): "input_real_multiplier = input_scale * (1 << 27);
 * q = frexp(m, &left_shift); multiplier = round(q * 2^31); radius = CalculateInputRadius(4, left_shift, 31)".
 */
export function sigmoidTanhParams(inputScale: number): { multiplier: number; shift: number; radius: number } {
  const [q, e] = frexp(Math.fround(inputScale) * 2 ** 27);
  const multiplier = roundAway(q * TWO31);
  const radius = Math.floor((15 * 2 ** 27) / 2 ** e);
  return { multiplier, shift: e, radius };
}

/** reference_integer_ops::Logistic (int8, output scale 1/256, zero point -128). */
export function logisticInt8(q: number, zp: number, p: { multiplier: number; shift: number; radius: number }): number {
  const x = q - zp;
  if (x <= -p.radius) return -128;
  if (x >= p.radius) return 127;
  const inQ4 = multiplyByQuantizedMultiplier(x, p.multiplier, p.shift);
  const v = roundingDivideByPOT(fixedLogistic(inQ4, 4), 23) - 128;
  return v < -128 ? -128 : v > 127 ? 127 : v;
}

/** reference_integer_ops::Tanh (int8, output scale 1/128, zero point 0). */
export function tanhInt8(q: number, zp: number, p: { multiplier: number; shift: number; radius: number }): number {
  const x = q - zp;
  if (x <= -p.radius) return -128;
  if (x >= p.radius) return 127;
  const inQ4 = multiplyByQuantizedMultiplier(x, p.multiplier, p.shift);
  const v = roundingDivideByPOT(fixedTanh(inQ4, 4), 24);
  return v < -128 ? -128 : v > 127 ? 127 : v;
}

/** TFLite CheckedLog2: "x_log2 = log(x) * (1 / log(2)); rounded = round(x_log2); is POT if |x_log2 - rounded| < 1e-3" (float). */
export function checkedLog2(x: number): number | undefined {
  const l = Math.fround(Math.fround(Math.log(x)) * Math.fround(1 / Math.fround(Math.log(2))));
  const r = Math.round(l);
  return Math.abs(l - r) < 1e-3 ? r : undefined;
}

/** Per-tensor quantization of one operand: real = scale · (q - zeroPoint). */
export interface TflQ {
  scale: number;
  zp: number;
}

/**
 * Element kernel of quantized ADD (sign 1) / SUB (sign -1), add.cc / sub.cc, for storage type `dtype`
 * (int8/uint8/int16): returns f(q1, q2) → clamped output, or a string saying why the case is unsupported.
 *  - int16 with pot_scale_int16 and power-of-two scales: "scaled_input = RoundingDivideByPOT(shift_input, -shift)",
 *    then a saturating add/sub (zero points 0, one input at the output scale);
 *  - otherwise: "left_shift = (output->type == kTfLiteInt16) ? 15 : 20; twice_max_input_scale = 2 * max(s1, s2);
 *    real_input_multiplier = s / twice_max_input_scale; real_output_multiplier = twice_max_input_scale / ((1 << left_shift) * so)".
 */
export function tflAddSub(dtype: string, q1: TflQ, q2: TflQ, oq: TflQ, potScaleInt16: boolean, sign: 1 | -1): ((a: number, b: number) => number) | string {
  const [lo, hi] = qbounds(dtype);
  if (dtype === 'int16' && potScaleInt16) {
    const l1 = checkedLog2(q1.scale), l2 = checkedLog2(q2.scale), lo2 = checkedLog2(oq.scale);
    if (l1 !== undefined && l2 !== undefined && lo2 !== undefined) {
      const s1 = l1 - lo2, s2 = l2 - lo2;
      if (q1.zp || q2.zp || oq.zp || (s1 !== 0 && s2 !== 0) || s1 > 0 || s2 > 0) return 'int16 ADD/SUB with power-of-two scales needs zero points 0 and one input at the output scale';
      return (a, b) => {
        const r = roundingDivideByPOT(a, -s1) + sign * roundingDivideByPOT(b, -s2);
        return r < lo ? lo : r > hi ? hi : r;
      };
    }
  }
  const { leftShift, m1, s1, m2, s2, mo, so } = tflAddParams(dtype, q1, q2, oq);
  const off1 = -q1.zp, off2 = -q2.zp, ls = 1 << leftShift;
  return (a, b) => {
    const v1 = multiplyByQuantizedMultiplier((a + off1) * ls, m1, s1);
    const v2 = multiplyByQuantizedMultiplier((b + off2) * ls, m2, s2);
    const r = multiplyByQuantizedMultiplier((v1 + sign * v2) | 0, mo, so) + oq.zp;
    return r < lo ? lo : r > hi ? hi : r;
  };
}

/** The general (non power-of-two) ADD/SUB requantization of add.cc: left shift and the three quantized multipliers. */
export function tflAddParams(dtype: string, q1: TflQ, q2: TflQ, oq: TflQ): { leftShift: number; m1: number; s1: number; m2: number; s2: number; mo: number; so: number } {
  const leftShift = dtype === 'int16' ? 15 : 20;
  const twiceMax = 2 * Math.max(q1.scale, q2.scale);
  const [m1, s1] = quantizeMultiplier(q1.scale / twiceMax);
  const [m2, s2] = quantizeMultiplier(q2.scale / twiceMax);
  const [mo, so] = quantizeMultiplier(twiceMax / Math.fround((1 << leftShift) * oq.scale));
  return { leftShift, m1, s1, m2, s2, mo, so };
}

/** MUL's quantized multiplier and shift (mul.cc: input1_scale · input2_scale / output_scale in float). */
export function tflMulParams(q1: TflQ, q2: TflQ, oq: TflQ): [number, number] {
  return quantizeMultiplier(Math.fround(Math.fround(q1.scale * q2.scale) / oq.scale));
}

/** Element kernel of quantized MUL (mul.cc): "real_multiplier = input1_scale * input2_scale / output_scale" (float), then QuantizeMultiplier. */
export function tflMul(dtype: string, q1: TflQ, q2: TflQ, oq: TflQ): (a: number, b: number) => number {
  const [m, s] = tflMulParams(q1, q2, oq);
  const [lo, hi] = qbounds(dtype);
  return (a, b) => {
    const r = multiplyByQuantizedMultiplier((a - q1.zp) * (b - q2.zp), m, s) + oq.zp;
    return r < lo ? lo : r > hi ? hi : r;
  };
}

/**
 * Element kernel of quantized LEAKY_RELU (leaky_relu.cc / reference_ops::QuantizeLeakyRelu): LeakyReluPrepare's
 * "alpha_multiplier = input->params.scale * params->alpha / output->params.scale" and "identity_multiplier =
 * input->params.scale / output->params.scale" (float expressions), then per element
 * "output_zero_point + MultiplyByQuantizedMultiplier(input - input_zero_point, input >= 0 ? identity : alpha)", clamped.
 */
export function tflLeakyRelu(dtype: string, iq: TflQ, oq: TflQ, alpha: number): (q: number) => number {
  const a = Math.fround(alpha);
  const [ma, sa] = quantizeMultiplier(Math.fround(Math.fround(iq.scale * a) / oq.scale));
  const [mi, si] = quantizeMultiplier(Math.fround(iq.scale / oq.scale));
  const [lo, hi] = qbounds(dtype);
  return (q) => {
    const v = q - iq.zp;
    const r = oq.zp + (v >= 0 ? multiplyByQuantizedMultiplier(v, mi, si) : multiplyByQuantizedMultiplier(v, ma, sa));
    return r < lo ? lo : r > hi ? hi : r;
  };
}

/**
 * LUTPopulate for 8-bit types (kernels/internal/reference lut.h; activations.cc PopulateLookupTable before it), all in
 * float: "dequantized = input_scale * (val - input_zp); transformed = transform(dequantized); rescaled =
 * TfLiteRound(transformed * inverse_scale); quantized = static_cast<int32_t>(rescaled + output_zp)", clamped to the
 * type's range, with inverse_scale = 1 / output_scale. Entry k holds the result for the code whose byte is k.
 */
export function lutPopulate8(dtype: 'int8' | 'uint8', inScale: number, inZp: number, outScale: number, outZp: number, transform: (v: number) => number): Int8Array | Uint8Array {
  const [lo, hi] = qbounds(dtype);
  const inv = Math.fround(1 / Math.fround(outScale));
  const table = dtype === 'int8' ? new Int8Array(256) : new Uint8Array(256);
  for (let v = lo; v <= hi; v++) {
    const deq = Math.fround(Math.fround(inScale) * (v - inZp));
    const rescaled = roundAway(Math.fround(Math.fround(transform(deq)) * inv));
    const q = Math.trunc(Math.fround(rescaled + outZp));
    table[v & 0xff] = q < lo ? lo : q > hi ? hi : q;
  }
  return table;
}

/**
 * ruy's MultiplyByQuantizedMultiplier (ruy/apply_multiplier.cc), the requantization of TFLite's optimized integer GEMMs
 * through cpu_backend_gemm (int8 BATCH_MATMUL): one rounding, half up — "total_shift = 31 - shift; round = 1 <<
 * (total_shift - 1); result = (x * quantized_multiplier + round) >> total_shift" in int64 — where gemmlowp's form
 * rounds twice (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT).
 */
export function multiplyByQuantizedMultiplierSingle(x: number, multiplier: number, shift: number): number {
  const total = BigInt(31 - shift);
  return Number(BigInt.asIntN(32, (BigInt(x) * BigInt(multiplier) + (1n << (total - 1n))) >> total));
}

// ---- 16-bit fixed point of TFLite's int8 HARD_SWISH (reference_ops::HardSwish, kernels/internal/common.h)

const I16_MIN = -32768;
const I16_MAX = 32767;
/** gemmlowp SaturatingRoundingDoublingHighMul on int16 (FX16.mul). */
const srdhm16 = FX16.mul;
/** common.h SaturatingDoublingHighMul (no rounding): "static_cast<int16_t>(a·b / (1 << 15))". */
function sdhm16(a: number, b: number): number {
  if (a === I16_MIN && b === I16_MIN) return I16_MAX;
  return wrap16(Math.trunc((a * b) / 32768));
}
/** DownScaleInt32ToInt16Multiplier: "(multiplier + (1 << 15)) >> 16", or INT16_MAX near the top. */
function downScale16(m: number): number {
  return m >= 2147483647 - (1 << 15) ? I16_MAX : (m + (1 << 15)) >> 16;
}

/**
 * The table of TFLite's 8-bit HARD_SWISH (activations.cc HardSwishPrepare + reference_ops::HardSwish): hires_input_scale
 * = input_scale / 128, output multiplier hires / output_scale and "reluish" multiplier hires / (3 / 32768), both
 * QuantizeMultiplier'd in float then DownScaleInt32ToInt16Multiplier'd; per code: x·2^7 (x = code − zp), its
 * SRDHM16 by the output multiplier; (RoundingDivideByPOT on int16 values is the int32 rule); the reluish value (saturating left shifts / rounding right shift around SRDHM16),
 * mapped from [-1, 1] to [0, 1] by "(v + (1 << 15)) >> 1"; SaturatingDoublingHighMul of the two, RoundingDivideByPOT by
 * the output exponent, + output_zp, clamped. A string says why the parameters are refused (TF_LITE_ENSURE).
 */
export function hardSwishTable8(dtype: 'int8' | 'uint8', inScale: number, inZp: number, outScale: number, outZp: number): Int8Array | Uint8Array | string {
  const hires = Math.fround(Math.fround(1 / 128) * Math.fround(inScale));
  const [om, oe] = quantizeMultiplier(Math.fround(hires / Math.fround(outScale)));
  if (oe > 0) return `the output multiplier ${Math.fround(hires / Math.fround(outScale))} is not below 1 (output scale < input scale / 128)`;
  const [rm, re] = quantizeMultiplier(Math.fround(hires / Math.fround(3 / 32768)));
  const om16 = downScale16(om), rm16 = downScale16(rm);
  const [lo, hi] = qbounds(dtype);
  const table = dtype === 'int8' ? new Int8Array(256) : new Uint8Array(256);
  for (let v = lo; v <= hi; v++) {
    const x = wrap16(v - inZp);
    const hiresX = wrap16(x * 128);
    const preshift = srdhm16(hiresX, om16);
    let r = hiresX;
    if (re > 0) r = sat16(r * 2 ** (re - 1));
    r = srdhm16(r, rm16);
    if (re > 0) r = sat16(r * 2);
    if (re < 0) r = roundingDivideByPOT(r, -re);
    r = (r + (1 << 15)) >> 1;
    let y = roundingDivideByPOT(sdhm16(r, preshift), -oe) + outZp;
    y = Math.min(Math.max(y, lo), hi);
    table[v & 0xff] = y;
  }
  return table;
}

/**
 * GetInvSqrtQuantizedMultiplierExp(input, reverse_shift) (kernels/internal/common.h): 1/√input as a multiplier and
 * shift — input ≤ 1 gives (INT32_MAX, 0); else the input is normalised into [2^27, 2^29) by pairs of bits, 5
 * Newton–Raphson steps "x = Rescale<3>(1.5·x − (input/2)·Rescale<3>(x³))" in FixedPoint<int32, 3> from x = 1, times
 * √2/2 (1518500250 in F0); a negative shift is folded into the multiplier; the shift is multiplied by reverse_shift.
 */
export function invSqrtQuantizedMultiplierExp(input: number, reverseShift: number): [number, number] {
  if (input <= 1) return [INT32_MAX, 0];
  let shift = 11;
  while (input >= 1 << 29) {
    input = Math.trunc(input / 4);
    shift++;
  }
  const maxLeftShiftBits = Math.clz32(input) - 1;
  const pairs = Math.floor(maxLeftShiftBits / 2) - 1;
  shift -= pairs;
  input = input << (2 * pairs);
  const fin = input >> 1; // F3 raw
  const halfIn = saturatingRoundingMultiplyByPOT(fin, -1);
  const halfThree = (1 << 28) + (1 << 27);
  let x = 1 << 28; // F3 one
  for (let i = 0; i < 5; i++) {
    // F3·F3·F3 = F9 raw by two SRDHMs; Rescale<3> of F9 multiplies by 2^6 (saturating, rounding)
    const x3 = saturatingRoundingMultiplyByPOT(fmul(fmul(x, x), x), 6);
    // F3·F3 = F6; their difference rescaled to F3: × 2^3
    x = saturatingRoundingMultiplyByPOT((fmul(halfThree, x) - fmul(halfIn, x3)) | 0, 3);
  }
  let m = fmul(x, 1518500250);
  if (shift < 0) {
    m = (m << -shift) | 0;
    shift = 0;
  }
  return [m, shift * reverseShift];
}
