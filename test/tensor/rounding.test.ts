import { describe, expect, it } from 'vitest';
import { quantizeValue, roundHalfToEven, saturate, saturateInt8, saturateUint8, saturateInt16, saturateUint16, saturateInt32 } from '../../src/tensor/rounding.js';

describe('roundHalfToEven', () => {
  it('rounds ties to the even neighbour (numpy.rint)', () => {
    const cases: [number, number][] = [
      [0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, 0], [-1.5, -2], [-2.5, -2],
      [0.49999997, 0], [0.50000006, 1], [-0.7, -1], [2.4, 2], [2.6, 3], [7, 7], [-7, -7],
    ];
    for (const [x, want] of cases) expect(roundHalfToEven(x) + 0).toBe(want);
  });
  it('passes NaN and infinities through, and large integers unchanged', () => {
    expect(roundHalfToEven(NaN)).toBeNaN();
    expect(roundHalfToEven(Infinity)).toBe(Infinity);
    expect(roundHalfToEven(-Infinity)).toBe(-Infinity);
    expect(roundHalfToEven(2 ** 53)).toBe(2 ** 53);
    expect(roundHalfToEven(4503599627370495.5)).toBe(4503599627370496);
  });
});

describe('saturating casts', () => {
  it('clamp after rounding, NaN to 0', () => {
    expect(saturateInt8(127.5)).toBe(127);
    expect(saturateInt8(-128.5)).toBe(-128);
    expect(saturateInt8(-1e9)).toBe(-128);
    expect(saturateUint8(-3)).toBe(0);
    expect(saturateUint8(254.5)).toBe(254);
    expect(saturateUint8(255.5)).toBe(255);
    expect(saturateInt16(40000)).toBe(32767);
    expect(saturateUint16(-0.4)).toBe(0);
    expect(saturateUint16(70000)).toBe(65535);
    expect(saturateInt32(3e9)).toBe(2147483647);
    expect(saturateInt32(-Infinity)).toBe(-2147483648);
    expect(saturateUint8(NaN)).toBe(0);
    expect(saturate(NaN, -5, 5)).toBe(0);
  });
});

describe('quantizeValue (ONNX QuantizeLinear rule)', () => {
  it('y = saturate(round_half_even(x / scale) + zero_point)', () => {
    expect(quantizeValue(1, 2, 128, 0, 255)).toBe(128); // 0.5 -> 0
    expect(quantizeValue(3, 2, 128, 0, 255)).toBe(130); // 1.5 -> 2
    expect(quantizeValue(-1000, 2, 128, 0, 255)).toBe(0);
    expect(quantizeValue(1000, 2, -1, -128, 127)).toBe(127);
  });
  it('divides in float32 by default', () => {
    // f32(0.35) / f32(0.1) is 3.4999998882 in float64 but exactly 3.5 in float32 (-> 4, the even neighbour)
    const x = Math.fround(0.35);
    const s = Math.fround(0.1);
    expect(quantizeValue(x, s, 0, -128, 127)).toBe(4);
    expect(quantizeValue(x, s, 0, -128, 127, false)).toBe(3);
    // f32(0.25) / f32(0.1) = 2.5 in float32 -> 2
    expect(quantizeValue(Math.fround(0.25), s, 0, -128, 127)).toBe(2);
  });
});
