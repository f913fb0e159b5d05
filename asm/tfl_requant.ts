// TFLite integer arithmetic for the `rounding: 'tflite'` / ai.edgeq.tflite kernels (FULLY_CONNECTED's
// requantization, pooling, ADD / MUL, QUANTIZE, tables, SOFTMAX …) with TFLite's MultiplyByQuantizedMultiplier — the
// same integer steps as src/tensor/tflite-quant.ts (the TS reference), so results are bit-identical. The int8 convs
// requantize inside their tiles (asm/q8.ts tflRequant4).

import { fcDot4, tailDot, tflMask, tflMbqm4, tflRequant4 } from './q8';

/** gemmlowp SaturatingRoundingDoublingHighMul: (a·b + nudge) / 2^31, truncating; INT32_MIN² saturates. */
// @ts-ignore: decorator
@inline
function srdhm(a: i32, b: i32): i32 {
  if (a == b && a == i32.MIN_VALUE) return i32.MAX_VALUE;
  const ab = <i64>a * <i64>b;
  const nudge: i64 = ab >= 0 ? 1 << 30 : 1 - (1 << 30);
  const s = ab + nudge;
  return <i32>((s + (s < 0 ? (<i64>1 << 31) - 1 : 0)) >> 31); // "/ 2^31" truncating, without an i64 division
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
  let i = 0;
  // four lanes at a time (asm/q8.ts tflMbqm4: the same integer steps; no multiplier may be INT32_MIN there)
  if (m1 != i32.MIN_VALUE && m2 != i32.MIN_VALUE && mo != i32.MIN_VALUE) {
    const vaz = i32x4.splat(az), vbz = i32x4.splat(bz), voz = i32x4.splat(oz), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi);
    for (; i + 4 <= n; i += 4) {
      const v1 = mbqm4(i32x4.shl(i32x4.sub(load4(a, i, sa), vaz), ls), m1, s1);
      const v2 = mbqm4(i32x4.shl(i32x4.sub(load4(b, i, sb), vbz), ls), m2, s2);
      const r = mbqm4(sign > 0 ? i32x4.add(v1, v2) : i32x4.sub(v1, v2), mo, so);
      store4(out + i, i32x4.min_s(i32x4.max_s(i32x4.add(r, voz), vlo), vhi));
    }
  }
  for (; i < n; i++) {
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
  let i = 0;
  if (m != i32.MIN_VALUE) {
    const vaz = i32x4.splat(az), vbz = i32x4.splat(bz), voz = i32x4.splat(oz), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi);
    for (; i + 4 <= n; i += 4) {
      const r = mbqm4(i32x4.mul(i32x4.sub(load4(a, i, sa), vaz), i32x4.sub(load4(b, i, sb), vbz)), m, s);
      store4(out + i, i32x4.min_s(i32x4.max_s(i32x4.add(r, voz), vlo), vhi));
    }
  }
  for (; i < n; i++) {
    const x = <i32>load<i8>(a + <usize>(i * sa)) - az;
    const y = <i32>load<i8>(b + <usize>(i * sb)) - bz;
    let r = mbqm(x * y, m, s) + oz;
    r = r < lo ? lo : r > hi ? hi : r;
    store<i8>(out + i, <i8>r);
  }
}

/** tflMbqm4 with the multiplier's scalar shift split and rounding constants computed here (hoisted by the caller's loop). */
// @ts-ignore: decorator
@inline
function mbqm4(x: v128, q: i32, s: i32): v128 {
  const right = s > 0 ? 0 : -s;
  const mask = tflMask(right);
  return tflMbqm4(x, i32x4.splat(q), s > 0 ? s : 0, right, i32x4.splat(mask), i32x4.splat(mask >> 1));
}

/** 4 int8 elements i … i + 3 at stride s (0: one element broadcast, 1: contiguous) as int32 lanes. */
// @ts-ignore: decorator
@inline
function load4(p: usize, i: i32, s: i32): v128 {
  if (s == 0) return i32x4.splat(<i32>load<i8>(p));
  return i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p + <usize>i)));
}

/** Store 4 int32 lanes (inside int8) as 4 bytes. */
// @ts-ignore: decorator
@inline
function store4(p: usize, v: v128): void {
  const h = i16x8.narrow_i32x4_s(v, v);
  v128.store32_lane(p, i8x16.narrow_i16x8_s(h, h), 0);
}

/**
 * TFLite int8 FULLY_CONNECTED for small layers (K·N under the packed GEMM's break-even): direct dot products,
 * acc = bias[j] + Σ_k (a[i, k] − az)·(w[j, k] − wz[j]) (w: N×K int8 rows as TFLite stores them; bias / wz: N
 * int32s, bias 0 = none), then MultiplyByQuantizedMultiplier per column as in tfl_requant_i8_rows.
 */
export function tfl_fc_i8_small(a: usize, m: i32, k: i32, az: i32, w: usize, wz: usize, bias: usize, n: i32, mult: usize, shift: usize, zp: i32, lo: i32, hi: i32, out: usize): void {
  const vzp = i32x4.splat(zp), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi);
  for (let i = 0; i < m; i++) {
    const ar = a + <usize>i * k;
    const orow = out + <usize>i * n;
    let j = 0;
    // four columns at a time when they share one shift (per-tensor quantization, hello_world's layers): the
    // requantization on four lanes (asm/q8.ts tflRequant4: the same integer steps; no multiplier may be INT32_MIN there)
    for (; j + 4 <= n; j += 4) {
      const jb = (<usize>j) << 2;
      const s = load<i32>(shift + jb);
      const q = v128.load(mult + jb);
      if (load<i32>(shift + jb, 4) != s || load<i32>(shift + jb, 8) != s || load<i32>(shift + jb, 12) != s) break;
      if (i32x4.all_true(i32x4.ne(q, i32x4.splat(i32.MIN_VALUE))) == 0) break;
      let acc = fcDot4(ar, w + <usize>j * k, k, az, wz + jb);
      if (bias) acc = i32x4.add(acc, v128.load(bias + jb));
      const left = s > 0 ? s : 0;
      const right = s > 0 ? 0 : -s;
      const mask = tflMask(right);
      const r = tflRequant4(acc, q, left, right, i32x4.splat(mask), i32x4.splat(mask >> 1), vzp, vlo, vhi);
      const h = i16x8.narrow_i32x4_s(r, r);
      v128.store32_lane(orow + j, i8x16.narrow_i16x8_s(h, h), 0);
    }
    for (; j < n; j++) {
      const z = load<i32>(wz + ((<usize>j) << 2));
      const acc: i32 = (bias ? load<i32>(bias + ((<usize>j) << 2)) : 0) + fcDot(ar, w + <usize>j * k, k, az, z);
      const s = load<i32>(shift + ((<usize>j) << 2));
      const left = s > 0 ? s : 0;
      const right = s > 0 ? 0 : -s;
      let v = rdbp(srdhm(acc << left, load<i32>(mult + ((<usize>j) << 2))), right) + zp;
      v = v < lo ? lo : v > hi ? hi : v;
      store<i8>(orow + j, <i8>v);
    }
  }
}

/**
 * Σ (a[kk] − az)·(w[kk] − z) over k int8 taps, wrapping in i32. 8 taps at a time: (a − az) and (w − z) lie in
 * [−255, 255], so i16 lanes hold them and i32x4.dot_i16x8_s adds exact products; i32 addition wraps the same in any
 * order, so the sum equals the scalar loop's.
 */
// @ts-ignore: decorator
@inline
function fcDot(ar: usize, wr: usize, k: i32, az: i32, z: i32): i32 {
  let acc: i32 = 0;
  let kk = 0;
  if (k >= 8) {
    const vaz = i16x8.splat(<i16>az);
    const vz = i16x8.splat(<i16>z);
    let vacc = i32x4.splat(0);
    for (; kk + 8 <= k; kk += 8) vacc = i32x4.add(vacc, i32x4.dot_i16x8_s(i16x8.sub(v128.load8x8_s(ar + kk), vaz), i16x8.sub(v128.load8x8_s(wr + kk), vz)));
    acc = i32x4.extract_lane(vacc, 0) + i32x4.extract_lane(vacc, 1) + i32x4.extract_lane(vacc, 2) + i32x4.extract_lane(vacc, 3);
  }
  return acc + tailDot(ar, wr, kk, k, az, z);
}

/** out[i] = table[x[i] & 255] for n bytes: any per-code op on 8-bit input (a 256-byte table built from the reference). */
export function x8_lut(x: usize, n: i32, table: usize, out: usize): void {
  for (let i = 0; i < n; i++) store<u8>(out + i, load<u8>(table + load<u8>(x + i)));
}

/** out[i] = table[x[i] & 255] as f32 for n bytes (TFLite DEQUANTIZE of 8-bit codes: a 256-float table). */
export function x8_lut_f32(x: usize, n: i32, table: usize, out: usize): void {
  for (let i = 0; i < n; i++) store<f32>(out + ((<usize>i) << 2), load<f32>(table + ((<usize>load<u8>(x + i)) << 2)));
}

/**
 * TFLite QUANTIZE float → 8-bit (AffineQuantize): "static_cast<int32>(TfLiteRound(val / scale)) + zero_point",
 * clamped to [lo, hi]; the division in f32, TfLiteRound halves away from zero. NaN stores 0 (as a JS typed array does).
 */
export function tfl_quantize_f32_x8(x: usize, n: i32, scale: f32, zp: i32, lo: i32, hi: i32, out: usize): void {
  let i = 0;
  // four lanes at a time, the same steps in f32: |q| − floor(|q|) is exact, so the half test is; r + zp is exact
  // wherever it is not clamped anyway (|r| < 2^24); NaN passes min / max and truncates to 0; ±∞ clamps
  const vs = f32x4.splat(scale), half = f32x4.splat(0.5), one = f32x4.splat(1), sign = i32x4.splat(0x80000000);
  const vzp = f32x4.splat(<f32>zp), vlo = f32x4.splat(<f32>lo), vhi = f32x4.splat(<f32>hi);
  for (; i + 4 <= n; i += 4) {
    const q = f32x4.div(v128.load(x + ((<usize>i) << 2)), vs);
    const a = f32x4.abs(q);
    let r = f32x4.floor(a);
    r = f32x4.add(r, v128.and(f32x4.ge(f32x4.sub(a, r), half), one));
    const v = f32x4.min(f32x4.max(f32x4.add(v128.or(r, v128.and(q, sign)), vzp), vlo), vhi);
    const k = i32x4.trunc_sat_f32x4_s(v);
    const h = i16x8.narrow_i32x4_s(k, k);
    v128.store32_lane(out + i, lo >= 0 ? i8x16.narrow_i16x8_u(h, h) : i8x16.narrow_i16x8_s(h, h), 0);
  }
  for (; i < n; i++) {
    const q = <f64>(load<f32>(x + ((<usize>i) << 2)) / scale);
    if (q != q) {
      store<u8>(out + i, 0);
      continue;
    }
    const a = Math.abs(q);
    let r = Math.floor(a);
    if (a - r >= 0.5) r += 1;
    const v = (q < 0 ? -r : r) + <f64>zp;
    store<u8>(out + i, <u8>(<i32>(v < <f64>lo ? <f64>lo : v > <f64>hi ? <f64>hi : v)));
  }
}

/** gemmlowp SaturatingRoundingMultiplyByPOT for exponent e (> 0: saturating left shift; < 0: RoundingDivideByPOT). */
// @ts-ignore: decorator
@inline
function srmpot(x: i32, e: i32): i32 {
  if (e == 0) return x;
  if (e < 0) return rdbp(x, -e);
  const thr: i32 = (1 << (31 - e)) - 1;
  if (x > thr) return i32.MAX_VALUE;
  if (x < -thr) return i32.MIN_VALUE;
  return x << e;
}

/** gemmlowp one_over_one_plus_x_for_x_in_0_1 (Newton-Raphson; FixedPoint<int32, 0> in and out). */
function oneOverOnePlusX(a: i32): i32 {
  const sum = <i64>a + <i64>i32.MAX_VALUE;
  const half = <i32>((sum + (sum >= 0 ? 1 : -1)) / 2); // RoundingHalfSum
  let x: i32 = 1515870810 + srdhm(half, -1010580540);
  for (let i = 0; i < 3; i++) {
    const oneMinus: i32 = (1 << 29) - srdhm(half, x);
    x = x + srmpot(srdhm(x, oneMinus), 2);
  }
  return srmpot(x, 1);
}

/**
 * TFLite reference_ops::Softmax for 8-bit input (int8 or uint8, `signed` 1/0), one row of `depth` codes at a time:
 * max, Σ exp of the differences (Rescale<12>), GetReciprocal, then "RoundingDivideByPOT(shifted_scale · exp,
 * num_bits_over_unit + 31 − out_bits) + out_min" clamped. expt / sumt: 256 int32s indexed by max − x, the
 * exp_on_negative_values of the scaled difference and its Rescale<12> (zero below diff_min), built in TS by the
 * reference's own functions. Output elements of oesz bytes (1 or 2).
 */
export function tfl_softmax_x8(x: usize, signed: i32, rows: i32, depth: i32, expt: usize, sumt: usize, outBits: i32, outMin: i32, outMax: i32, oesz: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * depth;
    let mx: i32 = -1000;
    for (let c = 0; c < depth; c++) {
      const v: i32 = signed ? <i32>load<i8>(xr + c) : <i32>load<u8>(xr + c);
      if (v > mx) mx = v;
    }
    let sum: i32 = 0;
    for (let c = 0; c < depth; c++) {
      const v: i32 = signed ? <i32>load<i8>(xr + c) : <i32>load<u8>(xr + c);
      sum += load<i32>(sumt + ((<usize>(mx - v)) << 2));
    }
    // GetReciprocal(sum, 12)
    const headroom: i32 = <i32>clz<u32>(<u32>sum);
    const bitsOverUnit: i32 = 12 - headroom;
    const scale = oneOverOnePlusX(<i32>((<u32>sum << headroom) - 0x80000000));
    const e = bitsOverUnit + 31 - outBits;
    for (let c = 0; c < depth; c++) {
      const v: i32 = signed ? <i32>load<i8>(xr + c) : <i32>load<u8>(xr + c);
      let o = rdbp(srdhm(scale, load<i32>(expt + ((<usize>(mx - v)) << 2))), e) + outMin;
      o = o < outMin ? outMin : o > outMax ? outMax : o;
      const i = <usize>r * depth + c;
      if (oesz == 1) store<u8>(out + i, <u8>o);
      else store<i16>(out + (i << 1), <i16>o);
    }
  }
}

/** Load element i of esz bytes (1: int8 or uint8 by `signed`, 2: int16, 4: int32). */
// @ts-ignore: decorator
@inline
function loadq(p: usize, i: i32, esz: i32, signed: i32): i32 {
  if (esz == 1) return signed ? <i32>load<i8>(p + i) : <i32>load<u8>(p + i);
  if (esz == 2) return <i32>load<i16>(p + ((<usize>i) << 1));
  return load<i32>(p + ((<usize>i) << 2));
}

/**
 * TFLite QUANTIZE between integer types (quantize.cc Requantize): "output = MultiplyByQuantizedMultiplier(input −
 * input_zeropoint, multiplier, shift) + output_zeropoint", clamped to [lo, hi]; elements of iesz / oesz bytes (1, 2, 4).
 */
export function tfl_requantize(x: usize, iesz: i32, isigned: i32, n: i32, izp: i32, mult: i32, shift: i32, ozp: i32, lo: i32, hi: i32, oesz: i32, out: usize): void {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  for (let i = 0; i < n; i++) {
    let v = rdbp(srdhm((loadq(x, i, iesz, isigned) - izp) << left, mult), right) + ozp;
    v = v < lo ? lo : v > hi ? hi : v;
    if (oesz == 1) store<u8>(out + i, <u8>v);
    else if (oesz == 2) store<i16>(out + ((<usize>i) << 1), <i16>v);
    else store<i32>(out + ((<usize>i) << 2), v);
  }
}

/**
 * TFLite reference_integer_ops::Mean over H and W of NHWC int8 (esz 1) / int16 (esz 2): per image and channel
 * acc = Σ (x − izp) (int32), MultiplyByQuantizedMultiplier(acc, mult, shift), then "acc > 0 ? (acc + n / 2) / n :
 * (acc − n / 2) / n" (C division, n = H·W) + ozp, clamped to [lo, hi]. Channels are summed 8 at a time into int32
 * lanes; acc: c int32s of scratch.
 */
export function tfl_mean_hw(x: usize, esz: i32, nb: i32, hw: i32, c: i32, izp: i32, mult: i32, shift: i32, ozp: i32, lo: i32, hi: i32, acc: usize, out: usize): void {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  const half = hw / 2;
  for (let b = 0; b < nb; b++) {
    memory.fill(acc, 0, <usize>c << 2);
    const xb = x + <usize>b * hw * c * esz;
    for (let i = 0; i < hw; i++) {
      const row = xb + <usize>i * c * esz;
      let ch = 0;
      if (esz == 1) {
        for (; ch + 8 <= c; ch += 8) {
          const p = acc + ((<usize>ch) << 2);
          const w = v128.load8x8_s(row + ch);
          v128.store(p, i32x4.add(v128.load(p), i32x4.extend_low_i16x8_s(w)));
          v128.store(p + 16, i32x4.add(v128.load(p + 16), i32x4.extend_high_i16x8_s(w)));
        }
        for (; ch < c; ch++) store<i32>(acc + ((<usize>ch) << 2), load<i32>(acc + ((<usize>ch) << 2)) + <i32>load<i8>(row + ch));
      } else for (; ch < c; ch++) store<i32>(acc + ((<usize>ch) << 2), load<i32>(acc + ((<usize>ch) << 2)) + <i32>load<i16>(row + ((<usize>ch) << 1)));
    }
    for (let ch = 0; ch < c; ch++) {
      // Σ (x − izp) = Σ x − hw·izp (int32 wrapping either way)
      let v = rdbp(srdhm((load<i32>(acc + ((<usize>ch) << 2)) - hw * izp) << left, mult), right);
      v = (v > 0 ? (v + half) / hw : (v - half) / hw) + ozp;
      v = v < lo ? lo : v > hi ? hi : v;
      if (esz == 1) store<i8>(out + <usize>b * c + ch, <i8>v);
      else store<i16>(out + ((<usize>(b * c + ch)) << 1), <i16>v);
    }
  }
}

/**
 * TFLite integer SVDF (svdf.cc EvalIntegerSVDF as the TS reference computes it), one run from the initial state:
 * the state (B×F×M, elements of sesz bytes) shifted left by one, its newest column the feature dot
 * clamp(MultiplyByQuantizedMultiplier(Σ_c wf[f, c]·(x[b, c] − izp), m1, s1) + szp, slo, shi); then per unit u
 * clamp(MultiplyByQuantizedMultiplier(bias[u] + Σ_{r, j} wt[u·R + r, j]·(state[b, u·R + r, j] − szp), m2, s2) + ozp, lo, hi)
 * as int8. wt elements of tesz bytes; bias 0 = none; st: B·F·M int32s of scratch. Sums wrap in int32.
 */
export function tfl_svdf_i8(x: usize, b: i32, ii: i32, izp: i32, wf: usize, f: i32, m: i32, wt: usize, tesz: i32, state: usize, sesz: i32, szp: i32, m1: i32, s1: i32, slo: i32, shi: i32, bias: usize, r: i32, m2: i32, s2: i32, ozp: i32, lo: i32, hi: i32, st: usize, out: usize): void {
  const n = b * f * m;
  for (let i = 0; i + 1 < n; i++) store<i32>(st + ((<usize>i) << 2), loadq(state, i + 1, sesz, 1));
  const l1 = s1 > 0 ? s1 : 0;
  const r1 = s1 > 0 ? 0 : -s1;
  for (let bb = 0; bb < b; bb++) {
    const xr = x + <usize>bb * ii;
    for (let ff = 0; ff < f; ff++) {
      const wr = wf + <usize>ff * ii;
      let dot: i32 = 0;
      for (let c = 0; c < ii; c++) dot += <i32>load<i8>(wr + c) * (<i32>load<i8>(xr + c) - izp);
      let v = rdbp(srdhm(dot << l1, m1), r1) + szp;
      v = v < slo ? slo : v > shi ? shi : v;
      store<i32>(st + ((<usize>((bb * f + ff) * m + m - 1)) << 2), v);
    }
  }
  const u = f / r;
  const l2 = s2 > 0 ? s2 : 0;
  const r2 = s2 > 0 ? 0 : -s2;
  for (let bb = 0; bb < b; bb++)
    for (let uu = 0; uu < u; uu++) {
      let acc: i32 = bias ? load<i32>(bias + ((<usize>uu) << 2)) : 0;
      for (let rr = 0; rr < r; rr++) {
        const ff = uu * r + rr;
        const srow = st + ((<usize>((bb * f + ff) * m)) << 2);
        for (let j = 0; j < m; j++) acc += loadq(wt, ff * m + j, tesz, 1) * (load<i32>(srow + ((<usize>j) << 2)) - szp);
      }
      let v = rdbp(srdhm(acc << l2, m2), r2) + ozp;
      v = v < lo ? lo : v > hi ? hi : v;
      store<i8>(out + <usize>(bb * u + uu), <i8>v);
    }
}

/**
 * TFLite RESIZE_NEAREST_NEIGHBOR on NHWC of any element type: output pixel (oy, ox) is a copy of the `pix` bytes
 * (C · element size) of input pixel (ytab[oy], xtab[ox]); the int32 index tables come from the reference's
 * GetNearestNeighbor (src/ops/tflite.ts tflNearestIndex).
 */
export function tfl_resize_nearest_nhwc(x: usize, pix: i32, n: i32, ih: i32, iw: i32, oh: i32, ow: i32, ytab: usize, xtab: usize, out: usize): void {
  let o = out;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++) {
      const row = x + <usize>(b * ih + load<i32>(ytab + ((<usize>oy) << 2))) * iw * pix;
      for (let ox = 0; ox < ow; ox++) {
        memory.copy(o, row + <usize>load<i32>(xtab + ((<usize>ox) << 2)) * pix, <usize>pix);
        o += <usize>pix;
      }
    }
}

/**
 * TFLite int8 / int16 RESIZE_BILINEAR on NHWC (reference_ops::ResizeBilinearInteger): per output row / column the
 * table entries (scaled 10-bit coordinate, lower, upper) from src/ops/tflite.ts tflBilinearCoords, then per channel
 * output_20 = Σ code · weight_y · weight_x and (output_20 ± 2^19) / 2^20 truncating, stored without a clamp.
 */
export function tfl_resize_bilinear_nhwc(x: usize, esz: i32, n: i32, ih: i32, iw: i32, c: i32, oh: i32, ow: i32, ty: usize, tx: usize, out: usize): void {
  let o: usize = 0;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++) {
      const yp = ty + <usize>oy * 12;
      const y0 = load<i32>(yp, 4);
      const dy = <i64>(load<i32>(yp) - 1024 * y0);
      const r0 = <usize>(b * ih + y0) * iw * c;
      const r1 = <usize>(b * ih + load<i32>(yp, 8)) * iw * c;
      for (let ox = 0; ox < ow; ox++) {
        const xp = tx + <usize>ox * 12;
        const x0 = load<i32>(xp, 4);
        const dx = <i64>(load<i32>(xp) - 1024 * x0);
        const c0 = <usize>x0 * c;
        const c1 = <usize>load<i32>(xp, 8) * c;
        const wll = (1024 - dy) * (1024 - dx), wlu = dy * (1024 - dx), wrl = (1024 - dy) * dx, wru = dy * dx;
        for (let ch = 0; ch < c; ch++, o++) {
          const e = <usize>ch;
          let v: i64;
          if (esz == 1) v = <i64>load<i8>(x + r0 + c0 + e) * wll + <i64>load<i8>(x + r1 + c0 + e) * wlu + <i64>load<i8>(x + r0 + c1 + e) * wrl + <i64>load<i8>(x + r1 + c1 + e) * wru;
          else v = <i64>load<i16>(x + ((r0 + c0 + e) << 1)) * wll + <i64>load<i16>(x + ((r1 + c0 + e) << 1)) * wlu + <i64>load<i16>(x + ((r0 + c1 + e) << 1)) * wrl + <i64>load<i16>(x + ((r1 + c1 + e) << 1)) * wru;
          const r = (v + (v > 0 ? 1 << 19 : -(1 << 19))) / (1 << 20);
          if (esz == 1) store<i8>(out + o, <i8>r);
          else store<i16>(out + (o << 1), <i16>r);
        }
      }
    }
}
