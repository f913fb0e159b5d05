import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  activationRangeQuantized,
  affineQuantize,
  multiplyByQuantizedMultiplier,
  multiplyByQuantizedMultiplier64,
  multiplyByQuantizedMultiplierAcc,
  quantizeMultiplier,
  expOnNegativeValues,
  logisticInt8,
  sigmoidTanhParams,
  tanhInt8,
  oneOverOnePlusX,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
  softmaxParams,
  softmaxQuantRow,
} from '../../src/tensor/tflite-quant.js';

const I32 = fc.integer({ min: -2147483648, max: 2147483647 });

/** BigInt transcription of gemmlowp's SaturatingRoundingDoublingHighMul. */
function srdhmRef(a: number, b: number): number {
  if (a === -2147483648 && b === -2147483648) return 2147483647;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n)); // BigInt division truncates toward zero like C
}

describe('TFLite fixed-point primitives', () => {
  // gemmlowp: "ab_x2_high32 = (ab_64 + nudge) / (1ll << 31)", saturating only for INT32_MIN·INT32_MIN
  it('SaturatingRoundingDoublingHighMul matches the int64 definition', () => {
    fc.assert(fc.property(I32, I32, (a, b) => saturatingRoundingDoublingHighMul(a, b) === srdhmRef(a, b)), { numRuns: 20000 });
    expect(saturatingRoundingDoublingHighMul(-2147483648, -2147483648)).toBe(2147483647);
    expect(saturatingRoundingDoublingHighMul(1 << 30, 1 << 30)).toBe(1 << 29);
    expect(saturatingRoundingDoublingHighMul(-1, 1 << 30)).toBe(0); // -0.5 rounds away from zero? nudge makes it 0 ((−2^30 + 1 − 2^30)/2^31 → 0)
  });

  // gemmlowp RoundingDivideByPOT: "threshold = (mask >> 1) + (x < 0); (x >> exponent) + (remainder > threshold)": halves away from zero
  it('RoundingDivideByPOT rounds half away from zero', () => {
    expect(roundingDivideByPOT(5, 1)).toBe(3);
    expect(roundingDivideByPOT(-5, 1)).toBe(-3);
    expect(roundingDivideByPOT(4, 1)).toBe(2);
    expect(roundingDivideByPOT(-6, 2)).toBe(-2); // -1.5 → -2
    expect(roundingDivideByPOT(6, 2)).toBe(2); // 1.5 → 2
    expect(roundingDivideByPOT(-2147483648, 31)).toBe(-1);
    fc.assert(
      fc.property(I32, fc.integer({ min: 0, max: 31 }), (x, e) => {
        const q = x / 2 ** e;
        const want = q < 0 ? -Math.round(-q) : Math.round(q);
        return roundingDivideByPOT(x, e) === want;
      }),
      { numRuns: 5000 },
    );
  });

  // QuantizeMultiplier: "q = frexp(m); q_fixed = round(q * 2^31); if (q_fixed == 2^31) { q_fixed /= 2; ++shift; }"
  it('QuantizeMultiplier decomposes real multipliers', () => {
    expect(quantizeMultiplier(0.5)).toEqual([1 << 30, 0]);
    expect(quantizeMultiplier(1)).toEqual([1 << 30, 1]);
    expect(quantizeMultiplier(0.25)).toEqual([1 << 30, -1]);
    expect(quantizeMultiplier(0)).toEqual([0, 0]);
    expect(quantizeMultiplier(1 - 2 ** -40)).toEqual([1 << 30, 1]); // rounds up to 2^31 → halved, shift+1
    expect(quantizeMultiplier(2 ** -40)).toEqual([0, 0]); // "if (shift < -31) { shift = 0; q_fixed = 0; }"
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1000, noNaN: true }), (m) => {
        const [q, s] = quantizeMultiplier(m);
        return q >= 2 ** 30 && q < 2 ** 31 && Math.abs(q * 2 ** (s - 31) - m) <= m * 2 ** -30;
      }),
    );
  });

  // MultiplyByQuantizedMultiplier: "RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * (1 << left_shift), qm), right_shift)"
  it('MultiplyByQuantizedMultiplier (int32) applies double rounding', () => {
    const [m, s] = quantizeMultiplier(0.5);
    expect(multiplyByQuantizedMultiplier(3, m, s)).toBe(2); // 1.5 → 2
    // SRDHM's nudge for negative products is 1 - 2^30, so -1.5 truncates to -1 (TFLite's known asymmetry)
    expect(multiplyByQuantizedMultiplier(-3, m, s)).toBe(-1);
    const [m2, s2] = quantizeMultiplier(3);
    expect(multiplyByQuantizedMultiplier(7, m2, s2)).toBe(21);
  });

  // int64 variant (16x8): "reduced_multiplier = (qm < 0x7FFF0000) ? ((qm + (1 << 15)) >> 16) : 0x7FFF;
  // total_shift = 15 - shift; x = (x * reduced_multiplier) + (1 << (total_shift - 1)); result = x >> total_shift"
  it('MultiplyByQuantizedMultiplier (int64) uses the reduced 16-bit multiplier', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 36), max: 2 ** 36 }), fc.double({ min: 1e-5, max: 0.9, noNaN: true }), (x, r) => {
        const [m, s] = quantizeMultiplier(r);
        return multiplyByQuantizedMultiplierAcc(x, m, s) === multiplyByQuantizedMultiplier64(BigInt(x), m, s);
      }),
      { numRuns: 5000 },
    );
    const [m, s] = quantizeMultiplier(0.5);
    expect(multiplyByQuantizedMultiplier64(-3n, m, s)).toBe(-1); // arithmetic shift: -1.5 + 0.5 floors to -1
    expect(multiplyByQuantizedMultiplier64(3n, m, s)).toBe(2);
  });

  // CalculateActivationRangeQuantized: "act_min = max(qmin, zero_point + round(0 / scale))", RELU6 max at quantize(6)
  it('activation clamps', () => {
    expect(activationRangeQuantized('RELU', 'int8', 0.1, -10)).toEqual([-10, 127]);
    expect(activationRangeQuantized('RELU6', 'int8', 0.1, -10)).toEqual([-10, 50]);
    expect(activationRangeQuantized('RELU_N1_TO_1', 'int16', 0.001, 0)).toEqual([-1000, 1000]);
    expect(activationRangeQuantized('NONE', 'int16', 1, 0)).toEqual([-32768, 32767]);
  });

  // AffineQuantize: "static_cast<int32>(TfLiteRound(val / scale)) + zero_point" — halves away from zero (not to even)
  it('AffineQuantize rounds half away from zero', () => {
    expect(affineQuantize(2.5, 1, 0, -128, 127)).toBe(3);
    expect(affineQuantize(-2.5, 1, 0, -128, 127)).toBe(-3);
    expect(affineQuantize(1000, 1, 0, -128, 127)).toBe(127);
  });

  // gemmlowp exp_on_negative_values: FixedPoint<int32, 5> in (x ≤ 0), FixedPoint<int32, 0> out ≈ exp(x); exp(0) saturates to One()
  it('exp_on_negative_values and one_over_one_plus_x approximate their functions', () => {
    expect(expOnNegativeValues(0, 5)).toBe(2147483647);
    for (const x of [-0.01, -0.25, -0.5, -1, -2, -4.5, -10, -20]) {
      const raw = Math.round(x * 2 ** 26);
      expect(Math.abs(expOnNegativeValues(raw, 5) / 2 ** 31 - Math.exp(x))).toBeLessThan(2e-6);
    }
    for (const x of [0, 0.1, 0.5, 0.9, 0.999]) expect(Math.abs(oneOverOnePlusX(Math.round(x * 2 ** 31) | 0) / 2 ** 31 - 1 / (1 + x))).toBeLessThan(1e-6);
  });

  // reference_ops::Softmax (int8 → int8): output scale 1/256, zero point -128; within one step of the real softmax
  it('quantized softmax stays within one output step of the float softmax', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -128, max: 127 }), { minLength: 1, maxLength: 12 }), fc.double({ min: 0.01, max: 0.5, noNaN: true }), (row, scale) => {
        const out = new Int8Array(row.length);
        softmaxQuantRow(row, 0, row.length, out, softmaxParams(1, Math.fround(scale)), 8, -128, 127);
        const mx = Math.max(...row);
        const e = row.map((q) => Math.exp((q - mx) * Math.fround(scale)));
        const sum = e.reduce((a, b) => a + b, 0);
        return row.every((_, i) => Math.abs((out[i]! + 128) / 256 - Math.min(e[i]! / sum, 255 / 256)) <= 1.01 / 256);
      }),
      { numRuns: 2000 },
    );
  });

  // reference_integer_ops::Logistic / Tanh (int8): "input_in_q4 = MultiplyByQuantizedMultiplier(input, multiplier, shift)",
  // gemmlowp logistic/tanh, "RoundingDivideByPOT(output_in_q0, 31 - 8)" (logistic) / "31 - 7" (tanh); saturate past the radius
  it('int8 logistic/tanh track the real functions within one output step', () => {
    for (const scale of [0.01, 0.05, 0.1, 0.25]) {
      const p = sigmoidTanhParams(scale);
      for (let q = -128; q < 128; q++) {
        const x = Math.fround(scale) * (q + 3);
        const sig = (logisticInt8(q, -3, p) + 128) / 256;
        const th = tanhInt8(q, -3, p) / 128;
        expect(Math.abs(sig - Math.min(1 / (1 + Math.exp(-x)), 255 / 256)), `logistic q=${q} s=${scale}`).toBeLessThanOrEqual(1.01 / 256);
        expect(Math.abs(th - Math.min(Math.tanh(x), 127 / 128)), `tanh q=${q} s=${scale}`).toBeLessThanOrEqual(1.01 / 128);
      }
    }
  });
});
