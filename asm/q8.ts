// Inline helpers shared by the int8 kernel families (not re-exported by asm/index.ts).

/**
 * Requantize 4 int32 accumulators exactly as the TS reference does on JS doubles:
 * clamp(nearest_even(f64(acc) · m) + yz, lo, hi) per lane (m01 / m23: the multipliers of lanes 0–1 / 2–3).
 */
// @ts-ignore: decorator
@inline
export function requant4(acc: v128, m01: v128, m23: v128, yz: v128, lo: v128, hi: v128): v128 {
  const d0 = f64x2.convert_low_i32x4_s(acc);
  const d1 = f64x2.convert_low_i32x4_s(v128.shuffle<i32>(acc, acc, 2, 3, 2, 3));
  const y0 = f64x2.min(f64x2.max(f64x2.add(f64x2.nearest(f64x2.mul(d0, m01)), yz), lo), hi);
  const y1 = f64x2.min(f64x2.max(f64x2.add(f64x2.nearest(f64x2.mul(d1, m23)), yz), lo), hi);
  const q0 = i32x4.trunc_sat_f64x2_s_zero(y0);
  const q1 = i32x4.trunc_sat_f64x2_s_zero(y1);
  return v128.shuffle<i32>(q0, q1, 0, 1, 4, 5);
}

/**
 * The same result without float min / max / truncation (multi-instruction sequences in engines), valid when
 * |f64(acc) · m| < 2^30 (the caller checks |m| < 0.5): adding 1.5·2^52 rounds to the nearest integer with ties to
 * even (the double grid there has spacing 1) and leaves it in the low 32 bits; then + yz and the clamp in int32.
 * Returns the 4 int32 results. `yz`, `lo`, `hi` are i32x4 splats here.
 */
// @ts-ignore: decorator
@inline
export function requant4i(acc: v128, m01: v128, m23: v128, yz: v128, lo: v128, hi: v128): v128 {
  const magic = f64x2.splat(6755399441055744.0);
  const t0 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(acc), m01), magic);
  const t1 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(v128.shuffle<i32>(acc, acc, 2, 3, 2, 3)), m23), magic);
  const k = i32x4.add(v128.shuffle<i32>(t0, t1, 0, 2, 4, 6), yz);
  return i32x4.min_s(i32x4.max_s(k, lo), hi);
}

/** Narrow 8 int32 lanes (already inside [lo, hi]) to 8 bytes in the low half: int8 (code 1) or uint8 (code 2). */
// @ts-ignore: decorator
@inline
export function narrow8(q0: v128, q1: v128, code: i32): v128 {
  const h = i16x8.narrow_i32x4_s(q0, q1);
  return code == 1 ? i8x16.narrow_i16x8_s(h, h) : i8x16.narrow_i16x8_u(h, h);
}

/** Store the first nc (1…8) bytes of the low half of `b` at `p`. */
// @ts-ignore: decorator
@inline
export function store8(p: usize, b: v128, nc: i32): void {
  if (nc == 8) {
    v128.store64_lane(p, b, 0);
    return;
  }
  const lanes = i64x2.extract_lane(b, 0);
  for (let j = 0; j < nc; j++) store<u8>(p + j, <u8>(lanes >> (<i64>(j << 3))));
}

/**
 * TFLite's MultiplyByQuantizedMultiplier (double rounding, the reference_integer_ops requantization) + yz, clamped,
 * on 4 int32 lanes with one multiplier q (never INT32_MIN: the caller checks) and shift s for all lanes:
 *   x = acc << max(s, 0)                                              (wrapping, as Math.imul in the TS reference)
 *   SaturatingRoundingDoublingHighMul(x, q) = (x·q + nudge) / 2^31 truncating, nudge = 2^30 or 1 − 2^30 by sign,
 *     which is floor((x·q + 2^30) / 2^31) in both cases: bits 31…62 of the i64 sum, taken by a logical shift
 *     (the result fits 32 bits unless x = q = INT32_MIN, excluded)
 *   RoundingDivideByPOT(v, r = max(−s, 0)): (v >> r) + (v & mask > (mask >> 1) + (v < 0)), branch-free for r = 0
 * Returns the 4 int32 results inside [lo, hi]. `yz`, `lo`, `hi` are i32x4 splats.
 */
// @ts-ignore: decorator
@inline
export function tflRequant4(acc: v128, q: v128, left: i32, right: i32, mask: v128, half: v128, yz: v128, lo: v128, hi: v128): v128 {
  return i32x4.min_s(i32x4.max_s(i32x4.add(tflMbqm4(acc, q, left, right, mask, half), yz), lo), hi);
}

/** MultiplyByQuantizedMultiplier alone on 4 int32 lanes (the steps of tflRequant4 before + yz and the clamp). */
// @ts-ignore: decorator
@inline
export function tflMbqm4(acc: v128, q: v128, left: i32, right: i32, mask: v128, half: v128): v128 {
  const x = i32x4.shl(acc, left);
  const r2 = i64x2.splat(1 << 30);
  const pl = i64x2.shr_u(i64x2.add(i64x2.extmul_low_i32x4_s(x, q), r2), 31);
  const ph = i64x2.shr_u(i64x2.add(i64x2.extmul_high_i32x4_s(x, q), r2), 31);
  const v = v128.shuffle<i32>(pl, ph, 0, 2, 4, 6);
  const thr = i32x4.sub(half, i32x4.shr_s(v, 31));
  return i32x4.sub(i32x4.shr_s(v, right), i32x4.gt_s(v128.and(v, mask), thr));
}

/** The rounding mask of RoundingDivideByPOT for exponent r (0 … 31), as a scalar. */
// @ts-ignore: decorator
@inline
export function tflMask(right: i32): i32 {
  return right >= 31 ? 0x7fffffff : (1 << right) - 1;
}
