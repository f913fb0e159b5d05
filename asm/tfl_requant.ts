// TFLite integer requantization (the `rounding: 'tflite'` int8 conv kernels): int32 accumulators in NCHW order to
// int8 outputs in NHWC order, with TFLite's MultiplyByQuantizedMultiplier — the same integer steps as
// src/tensor/tflite-quant.ts (the TS reference), so results are bit-identical. Plus the NHWC → NCHW byte transpose
// that feeds the NCHW int8 conv kernels.

/** gemmlowp SaturatingRoundingDoublingHighMul: (a·b + nudge) / 2^31, truncating; INT32_MIN² saturates. */
// @ts-ignore: decorator
@inline
function srdhm(a: i32, b: i32): i32 {
  if (a == b && a == i32.MIN_VALUE) return i32.MAX_VALUE;
  const ab = <i64>a * <i64>b;
  const nudge: i64 = ab >= 0 ? 1 << 30 : 1 - (1 << 30);
  return <i32>((ab + nudge) / (1 << 31));
}

/** gemmlowp RoundingDivideByPOT: round half away from zero. */
// @ts-ignore: decorator
@inline
function rdbp(x: i32, e: i32): i32 {
  if (e == 0) return x;
  const mask = e >= 31 ? 0x7fffffff : (1 << e) - 1;
  const rem = x & mask;
  const thr = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (rem > thr ? 1 : 0);
}

/**
 * out[b, p, m] = clamp(MultiplyByQuantizedMultiplier(acc[b, m, p], mult[m], shift[m]) + zp, lo, hi) as int8, for
 * n images of m channels × p pixels (acc int32 NCHW, out int8 NHWC; mult/shift int32 per channel).
 */
export function tfl_requant_i8_nhwc(acc: usize, n: i32, m: i32, p: i32, mult: usize, shift: usize, zp: i32, lo: i32, hi: i32, out: usize): void {
  for (let b = 0; b < n; b++) {
    const ab = acc + ((<usize>b * m * p) << 2);
    const ob = out + <usize>b * m * p;
    for (let c = 0; c < m; c++) {
      const q = load<i32>(mult + ((<usize>c) << 2));
      const s = load<i32>(shift + ((<usize>c) << 2));
      const left = s > 0 ? s : 0;
      const right = s > 0 ? 0 : -s;
      const row = ab + ((<usize>c * p) << 2);
      for (let i = 0; i < p; i++) {
        let v = rdbp(srdhm(load<i32>(row + ((<usize>i) << 2)) << left, q), right) + zp;
        v = v < lo ? lo : v > hi ? hi : v;
        store<i8>(ob + <usize>i * m + c, <i8>v);
      }
    }
  }
}

/** out (NCHW bytes) = x (NHWC bytes) for n images of hw pixels × c channels. */
export function x8_nhwc_to_nchw(x: usize, n: i32, hw: i32, c: i32, out: usize): void {
  for (let b = 0; b < n; b++) {
    const xb = x + <usize>b * hw * c;
    const ob = out + <usize>b * hw * c;
    for (let ch = 0; ch < c; ch++) {
      const o = ob + <usize>ch * hw;
      for (let i = 0; i < hw; i++) store<u8>(o + i, load<u8>(xb + <usize>i * c + ch));
    }
  }
}

/**
 * out[i, j] = clamp(MultiplyByQuantizedMultiplier(acc[i, j], mult[j], shift[j]) + zp, lo, hi) as int8 for an m×n
 * row-major int32 matrix (TFLite FULLY_CONNECTED: the channel is the column).
 */
export function tfl_requant_i8_rows(acc: usize, m: i32, n: i32, mult: usize, shift: usize, zp: i32, lo: i32, hi: i32, out: usize): void {
  for (let i = 0; i < m; i++) {
    const row = acc + ((<usize>i * n) << 2);
    const orow = out + <usize>i * n;
    for (let j = 0; j < n; j++) {
      const s = load<i32>(shift + ((<usize>j) << 2));
      const left = s > 0 ? s : 0;
      const right = s > 0 ? 0 : -s;
      let v = rdbp(srdhm(load<i32>(row + ((<usize>j) << 2)) << left, load<i32>(mult + ((<usize>j) << 2))), right) + zp;
      v = v < lo ? lo : v > hi ? hi : v;
      store<i8>(orow + j, <i8>v);
    }
  }
}

/**
 * out[b, m, p] = clamp(MultiplyByQuantizedMultiplier(acc[b, m, p], mult[m], shift[m]) + zp, lo, hi) as int8: the
 * NCHW form of tfl_requant_i8_nhwc (the layout pass keeps int8 activations NCHW between kernels).
 */
export function tfl_requant_i8_nchw(acc: usize, n: i32, m: i32, p: i32, mult: usize, shift: usize, zp: i32, lo: i32, hi: i32, out: usize): void {
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < m; c++) {
      const q = load<i32>(mult + ((<usize>c) << 2));
      const s = load<i32>(shift + ((<usize>c) << 2));
      const left = s > 0 ? s : 0;
      const right = s > 0 ? 0 : -s;
      const o = (<usize>b * m + c) * p;
      const row = acc + (o << 2);
      const orow = out + o;
      for (let i = 0; i < p; i++) {
        let v = rdbp(srdhm(load<i32>(row + ((<usize>i) << 2)) << left, q), right) + zp;
        v = v < lo ? lo : v > hi ? hi : v;
        store<i8>(orow + i, <i8>v);
      }
    }
  }
}

/**
 * TFLite int8 / int16 AVERAGE_POOL_2D on NHWC (reference_integer_ops/pooling.h AveragePool): per output the sum of
 * the taps inside the image, then "acc > 0 ? (acc + filter_count / 2) / filter_count : (acc - filter_count / 2) /
 * filter_count" with C's truncating division, clamped to [lo, hi]. esz: 1 (int8) or 2 (int16).
 */
export function tfl_avgpool_nhwc(x: usize, esz: i32, n: i32, h: i32, w: i32, c: i32, fh: i32, fw: i32, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32, lo: i32, hi: i32, out: usize): void {
  let o: usize = 0;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        const y0 = oy * sh - pt;
        const x0 = ox * sw - pl;
        const fy0 = y0 < 0 ? -y0 : 0;
        const fy1 = fh < h - y0 ? fh : h - y0;
        const fx0 = x0 < 0 ? -x0 : 0;
        const fx1 = fw < w - x0 ? fw : w - x0;
        const cnt = (fy1 > fy0 ? fy1 - fy0 : 0) * (fx1 > fx0 ? fx1 - fx0 : 0);
        for (let ch = 0; ch < c; ch++, o++) {
          let acc: i32 = 0;
          for (let fy = fy0; fy < fy1; fy++) {
            const row = ((<usize>b * h + y0 + fy) * w + x0) * c + ch;
            for (let fx = fx0; fx < fx1; fx++) {
              const i = row + <usize>fx * c;
              acc += esz == 1 ? <i32>load<i8>(x + i) : <i32>load<i16>(x + (i << 1));
            }
          }
          let v: i32 = 0;
          if (cnt) v = acc > 0 ? (acc + cnt / 2) / cnt : (acc - cnt / 2) / cnt;
          v = v < lo ? lo : v > hi ? hi : v;
          if (esz == 1) store<i8>(out + o, <i8>v);
          else store<i16>(out + (o << 1), <i16>v);
        }
      }
}

/** MultiplyByQuantizedMultiplier(int32 x, multiplier, shift) (TFLite's default, double rounding). */
// @ts-ignore: decorator
@inline
function mbqm(x: i32, q: i32, s: i32): i32 {
  return rdbp(srdhm(x << (s > 0 ? s : 0), q), s > 0 ? 0 : -s);
}

/**
 * TFLite quantized ADD / SUB, general form (add.cc / sub.cc, non power-of-two): per element
 * v1 = MBQM((a − a_zp) << ls, m1, s1), v2 = MBQM((b − b_zp) << ls, m2, s2),
 * out = clamp(MBQM(v1 ± v2, mo, so) + out_zp, lo, hi). int8 elements; sa / sb are element strides (0 = a scalar).
 */
export function tfl_add_i8(a: usize, sa: i32, b: usize, sb: i32, n: i32, az: i32, bz: i32, ls: i32, m1: i32, s1: i32, m2: i32, s2: i32, mo: i32, so: i32, oz: i32, lo: i32, hi: i32, sign: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const x = <i32>load<i8>(a + <usize>(i * sa)) - az;
    const y = <i32>load<i8>(b + <usize>(i * sb)) - bz;
    const v1 = mbqm(x << ls, m1, s1);
    const v2 = mbqm(y << ls, m2, s2);
    let r = mbqm(sign > 0 ? v1 + v2 : v1 - v2, mo, so) + oz;
    r = r < lo ? lo : r > hi ? hi : r;
    store<i8>(out + i, <i8>r);
  }
}

/** TFLite quantized MUL (mul.cc): out = clamp(MBQM((a − a_zp)·(b − b_zp), m, s) + out_zp, lo, hi); int8, strides as tfl_add_i8. */
export function tfl_mul_i8(a: usize, sa: i32, b: usize, sb: i32, n: i32, az: i32, bz: i32, m: i32, s: i32, oz: i32, lo: i32, hi: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const x = <i32>load<i8>(a + <usize>(i * sa)) - az;
    const y = <i32>load<i8>(b + <usize>(i * sb)) - bz;
    let r = mbqm(x * y, m, s) + oz;
    r = r < lo ? lo : r > hi ? hi : r;
    store<i8>(out + i, <i8>r);
  }
}
