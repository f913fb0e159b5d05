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

/**
 * fcDot (asm/tfl_requant.ts) of four consecutive weight rows (k taps each, zero points at wz[0..3]) as one i32x4: the four rows share
 * each (a − az) vector, and their lane sums are reduced together at the end (two shuffle+add rounds) instead of four
 * extract-lane sums and three replace-lanes. i32 additions wrap alike in any order: the same four sums as fcDot.
 */
// @ts-ignore: decorator
@inline
export function fcDot4(ar: usize, w0: usize, k: i32, az: i32, wz: usize): v128 {
  const z0 = load<i32>(wz), z1 = load<i32>(wz, 4), z2 = load<i32>(wz, 8), z3 = load<i32>(wz, 12);
  let kk = 0;
  let acc = i32x4.splat(0);
  if (k >= 8) {
    const w1 = w0 + <usize>k, w2 = w1 + <usize>k, w3 = w2 + <usize>k;
    const vaz = i16x8.splat(<i16>az);
    const vz0 = i16x8.splat(<i16>z0), vz1 = i16x8.splat(<i16>z1), vz2 = i16x8.splat(<i16>z2), vz3 = i16x8.splat(<i16>z3);
    let v0 = i32x4.splat(0), v1 = i32x4.splat(0), v2 = i32x4.splat(0), v3 = i32x4.splat(0);
    for (; kk + 8 <= k; kk += 8) {
      const av = i16x8.sub(v128.load8x8_s(ar + kk), vaz);
      v0 = i32x4.add(v0, i32x4.dot_i16x8_s(av, i16x8.sub(v128.load8x8_s(w0 + kk), vz0)));
      v1 = i32x4.add(v1, i32x4.dot_i16x8_s(av, i16x8.sub(v128.load8x8_s(w1 + kk), vz1)));
      v2 = i32x4.add(v2, i32x4.dot_i16x8_s(av, i16x8.sub(v128.load8x8_s(w2 + kk), vz2)));
      v3 = i32x4.add(v3, i32x4.dot_i16x8_s(av, i16x8.sub(v128.load8x8_s(w3 + kk), vz3)));
    }
    // [v0₀+v0₂, v1₀+v1₂, v0₁+v0₃, v1₁+v1₃] and the same for v2, v3; then lanes 0+2 and 1+3 of those
    const s01 = i32x4.add(v128.shuffle<i32>(v0, v1, 0, 4, 1, 5), v128.shuffle<i32>(v0, v1, 2, 6, 3, 7));
    const s23 = i32x4.add(v128.shuffle<i32>(v2, v3, 0, 4, 1, 5), v128.shuffle<i32>(v2, v3, 2, 6, 3, 7));
    acc = i32x4.add(v128.shuffle<i32>(s01, s23, 0, 1, 4, 5), v128.shuffle<i32>(s01, s23, 2, 3, 6, 7));
  }
  if (kk < k) {
    const t0 = tailDot(ar, w0, kk, k, az, z0);
    const t1 = tailDot(ar, w0 + <usize>k, kk, k, az, z1);
    const t2 = tailDot(ar, w0 + <usize>(2 * k), kk, k, az, z2);
    const t3 = tailDot(ar, w0 + <usize>(3 * k), kk, k, az, z3);
    acc = i32x4.add(acc, i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(t0), 1, t1), 2, t2), 3, t3));
  }
  return acc;
}

/** Σ (a[kk] − az)·(w[kk] − z) over taps kk … k − 1, one at a time (fcDot's and fcDot4's tails). */
// @ts-ignore: decorator
@inline
export function tailDot(ar: usize, wr: usize, kk: i32, k: i32, az: i32, z: i32): i32 {
  let acc: i32 = 0;
  for (; kk < k; kk++) acc += (<i32>load<i8>(ar + kk) - az) * (<i32>load<i8>(wr + kk) - z);
  return acc;
}
