import type { DType } from './dtype.js';

/**
 * Integer rounding and saturation rules shared by the quantized ops.
 * ONNX QuantizeLinear: "For (x / y_scale), it rounds to the nearest even."
 */

/** Round to the nearest integer, ties to even (IEEE roundTiesToEven, numpy.rint). NaN/±inf pass through. */
export function roundHalfToEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Inclusive integer range of the quantized types. */
export const QRANGE: Partial<Record<DType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int4: [-8, 7],
  uint4: [0, 15],
  int2: [-2, 1],
  uint2: [0, 3],
};

/** Clamp `x` (already integral, or ±inf) into [lo, hi]; NaN saturates to 0. */
export function saturate(x: number, lo: number, hi: number): number {
  if (x !== x) return 0;
  return x < lo ? lo : x > hi ? hi : x;
}

export const saturateInt8 = (x: number): number => saturate(roundHalfToEven(x), -128, 127);
export const saturateUint8 = (x: number): number => saturate(roundHalfToEven(x), 0, 255);
export const saturateInt16 = (x: number): number => saturate(roundHalfToEven(x), -32768, 32767);
export const saturateUint16 = (x: number): number => saturate(roundHalfToEven(x), 0, 65535);
export const saturateInt32 = (x: number): number => saturate(roundHalfToEven(x), -2147483648, 2147483647);

/** Range of a quantized dtype, or undefined when `dtype` is not one. */
export function qrange(dtype: DType): readonly [number, number] | undefined {
  return QRANGE[dtype];
}

/**
 * The ONNX QuantizeLinear rule for one element: y = saturate(round_half_even(x / y_scale) + y_zero_point).
 * `fround` (default true) rounds the division to float32 like a float32 y_scale requires; pass false for
 * float64 scales.
 */
export function quantizeValue(x: number, scale: number, zeroPoint: number, lo: number, hi: number, fround = true): number {
  const q = fround ? Math.fround(x / scale) : x / scale;
  return saturate(roundHalfToEven(q) + zeroPoint, lo, hi);
}
