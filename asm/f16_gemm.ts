import { clampv, storeRow } from './vec';
import { madd } from './madd';
// fp16-weight GEMM family (WebAssembly SIMD128). C[M×N] = clamp(A[M×K] · W + bias, lo, hi), A and C float32,
// W stored as IEEE binary16 (half the bytes of f32 in kernel memory).
//
// W is packed once by f16_gemm_pack_8 into panels of NR = 8 columns: 8 f32 bias values (32 bytes), then K rows of
// 8 halves (16 bytes, columns n0..n0+7, zero-padded past N). The micro-kernels widen one row of 8 halves to two
// f32x4 with integer ops only (no conversion instruction exists in plain SIMD):
//   x = i32 sign-extend(h); bits = (x << 13) & 0x8FFFE000   → sign, 000, exponent(5), mantissa(10), 0…
//   f = f32(bits) · 2^112                                     → exact for every finite half, subnormals included
// Infinities and NaNs would come out wrong that way, so the packer reports them and callers use f16_to_f32 +
// the f32 kernels instead (f16_to_f32 is exact for every half, including Inf/NaN).

// @ts-ignore: decorator
@inline
function widenLo(h: v128, mask: v128, scale: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(i32x4.extend_low_i16x8_s(h), 13), mask), scale);
}

// @ts-ignore: decorator
@inline
function widenHi(h: v128, mask: v128, scale: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(i32x4.extend_high_i16x8_s(h), 13), mask), scale);
}

/** Widen n halves at src to f32 at dst, exactly (Inf and NaN too; NaN payloads kept as quiet NaN bits). */
export function f16_to_f32(n: i32, src: usize, dst: usize): void {
  const expMask = i32x4.splat(0x0f800000); // the exponent field as placed by the shift (bits 23..27)
  const infBits = i32x4.splat(0x7f800000);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    const lo0 = i32x4.shl(i32x4.extend_low_i16x8_s(h), 13);
    const hi0 = i32x4.shl(i32x4.extend_high_i16x8_s(h), 13);
    const flo = f32x4.mul(v128.and(lo0, i32x4.splat(0x8fffe000)), f32x4.splat(5.192296858534828e33));
    const fhi = f32x4.mul(v128.and(hi0, i32x4.splat(0x8fffe000)), f32x4.splat(5.192296858534828e33));
    // exponent 31 (Inf/NaN): force the f32 exponent to 255, keep sign and mantissa
    const slo = i32x4.eq(v128.and(lo0, expMask), expMask);
    const shi = i32x4.eq(v128.and(hi0, expMask), expMask);
    v128.store(dst + (<usize>i << 2), v128.bitselect(v128.or(v128.and(lo0, i32x4.splat(0x807fe000)), infBits), flo, slo));
    v128.store(dst + (<usize>i << 2), v128.bitselect(v128.or(v128.and(hi0, i32x4.splat(0x807fe000)), infBits), fhi, shi), 16);
  }
  for (; i < n; i++) {
    const h = <i32>load<u16>(src + (<usize>i << 1));
    const s = (h & 0x8000) << 16;
    const e = (h >> 10) & 31;
    const m = h & 0x3ff;
    let bits: i32;
    if (e == 31) bits = s | 0x7f800000 | (m << 13);
    else bits = s | reinterpret<i32>(reinterpret<f32>(((e << 10) | m) << 13) * <f32>5.192296858534828e33);
    store<i32>(dst + (<usize>i << 2), bits);
  }
}

/**
 * Round n f32 at src to halves at dst: IEEE round to nearest, ties to even, overflow to ±Inf, subnormal halves,
 * NaN kept quiet (ONNX Cast float → float16); bit for bit src/tensor/fp16.ts's f32ToF16.
 */
export function f32_to_f16(n: i32, src: usize, dst: usize): void {
  for (let i = 0; i < n; i++) {
    const x = load<u32>(src + (<usize>i << 2));
    const sign = (x >>> 16) & 0x8000;
    const exp = <i32>((x >>> 23) & 0xff);
    let mant = x & 0x7fffff;
    let h: u32;
    if (exp == 0xff) h = sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
    else {
      const e = exp - 112; // rebias 127 → 15
      if (e >= 0x1f) h = sign | 0x7c00;
      else if (e <= 0) {
        if (e < -10) h = sign;
        else {
          mant |= 0x800000;
          const shift = <u32>(14 - e);
          const half = mant >>> shift;
          const rem = mant & ((<u32>1 << shift) - 1);
          const mid = <u32>1 << (shift - 1);
          h = sign | (half + (rem > mid || (rem == mid && (half & 1) == 1) ? 1 : 0));
        }
      } else {
        const half = (<u32>e << 10) | (mant >>> 13);
        const rem = mant & 0x1fff;
        h = sign | (half + (rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1) ? 1 : 0));
      }
    }
    store<u16>(dst + (<usize>i << 1), <u16>h);
  }
}

/**
 * Pack W[K×N] halves (row-major, stride ldw halves) and bias[N] f32 (0 = none) into 8-wide fp16 panels at `out`.
 * Returns 1 if any weight is Inf/NaN (the in-kernel widening is only exact for finite halves), else 0.
 */
export function f16_gemm_pack_8(n: i32, k: i32, w: usize, ldw: i32, bias: usize, out: usize): i32 {
  let special = 0;
  for (let n0 = 0; n0 < n; n0 += 8) {
    const nc = min(8, n - n0);
    for (let j = 0; j < 8; j++) f32.store(out + (j << 2), j < nc && bias != 0 ? f32.load(bias + ((n0 + j) << 2)) : 0);
    out += 32;
    for (let kk = 0; kk < k; kk++) {
      const row = w + ((kk * ldw + n0) << 1);
      for (let j = 0; j < 8; j++) {
        const h: i32 = j < nc ? <i32>load<u16>(row + (j << 1)) : 0;
        if ((h & 0x7c00) == 0x7c00) special = 1;
        store<u16>(out + (j << 1), h);
      }
      out += 16;
    }
  }
  return special;
}

/** Bytes f16_gemm_pack_8 writes for an N×K weight. */
export function f16_gemm_packed_size_8(n: i32, k: i32): i32 {
  return ((n + 7) >> 3) * (32 + k * 16);
}

/** Widen packed fp16 panels (f16_gemm_pack_8) into f32 panels in f32_gemm_pack_8's layout at `out`. */
export function f16_gemm_unpack_8(n: i32, k: i32, w: usize, out: usize): void {
  const M = i32x4.splat(0x8fffe000);
  const S = f32x4.splat(5.192296858534828e33);
  for (let n0 = 0; n0 < n; n0 += 8) {
    v128.store(out, v128.load(w));
    v128.store(out, v128.load(w, 16), 16);
    w += 32;
    out += 32;
    for (let kk = 0; kk < k; kk++) {
      const h = v128.load(w);
      v128.store(out, widenLo(h, M, S));
      v128.store(out, widenHi(h, M, S), 16);
      w += 16;
      out += 32;
    }
  }
}

/** 4×8 micro-kernel over one fp16 panel, widening each row of 8 halves once for the 4 rows of A. */
export function f16_gemm_4x8(mr: i32, nc: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32, lo: f32, hi: f32): void {
  const M = i32x4.splat(0x8fffe000);
  const S = f32x4.splat(5.192296858534828e33);
  const sa = (<usize>lda) << 2;
  const sc = (<usize>ldc) << 2;
  const a0 = a;
  const a1 = mr > 1 ? a0 + sa : a0;
  const a2 = mr > 2 ? a1 + sa : a1;
  const a3 = mr > 3 ? a2 + sa : a2;
  let acc00 = v128.load(w);
  let acc01 = v128.load(w, 16);
  let acc10 = acc00;
  let acc11 = acc01;
  let acc20 = acc00;
  let acc21 = acc01;
  let acc30 = acc00;
  let acc31 = acc01;
  let wp = w + 32;
  for (let kk: usize = 0; kk < <usize>(k << 2); kk += 4) {
    const h = v128.load(wp);
    wp += 16;
    const b0 = widenLo(h, M, S);
    const b1 = widenHi(h, M, S);
    const x0 = v128.load32_splat(a0 + kk);
    const x1 = v128.load32_splat(a1 + kk);
    const x2 = v128.load32_splat(a2 + kk);
    const x3 = v128.load32_splat(a3 + kk);
    acc00 = madd(x0, b0, acc00);
    acc01 = madd(x0, b1, acc01);
    acc10 = madd(x1, b0, acc10);
    acc11 = madd(x1, b1, acc11);
    acc20 = madd(x2, b0, acc20);
    acc21 = madd(x2, b1, acc21);
    acc30 = madd(x3, b0, acc30);
    acc31 = madd(x3, b1, acc31);
  }
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  storeRow(c, nc, clampv(acc00, vlo, vhi), clampv(acc01, vlo, vhi));
  if (mr > 1) storeRow(c + sc, nc, clampv(acc10, vlo, vhi), clampv(acc11, vlo, vhi));
  if (mr > 2) storeRow(c + 2 * sc, nc, clampv(acc20, vlo, vhi), clampv(acc21, vlo, vhi));
  if (mr > 3) storeRow(c + 3 * sc, nc, clampv(acc30, vlo, vhi), clampv(acc31, vlo, vhi));
}

/** 1×8 micro-kernel (GEMV): K unrolled by two into even/odd accumulators, like f32_gemm_1x8. */
export function f16_gemm_1x8(nc: i32, k: i32, a: usize, w: usize, c: usize, lo: f32, hi: f32): void {
  const M = i32x4.splat(0x8fffe000);
  const S = f32x4.splat(5.192296858534828e33);
  let e0 = v128.load(w);
  let e1 = v128.load(w, 16);
  let o0 = f32x4.splat(0);
  let o1 = f32x4.splat(0);
  let wp = w + 32;
  let kk = 0;
  for (; kk + 1 < k; kk += 2) {
    const x0 = v128.load32_splat(a + (<usize>kk << 2));
    const x1 = v128.load32_splat(a + (<usize>kk << 2), 4);
    const h0 = v128.load(wp);
    const h1 = v128.load(wp, 16);
    e0 = madd(x0, widenLo(h0, M, S), e0);
    e1 = madd(x0, widenHi(h0, M, S), e1);
    o0 = madd(x1, widenLo(h1, M, S), o0);
    o1 = madd(x1, widenHi(h1, M, S), o1);
    wp += 32;
  }
  if (kk < k) {
    const x0 = v128.load32_splat(a + (<usize>kk << 2));
    const h0 = v128.load(wp);
    e0 = madd(x0, widenLo(h0, M, S), e0);
    e1 = madd(x0, widenHi(h0, M, S), e1);
  }
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  storeRow(c, nc, clampv(f32x4.add(e0, o0), vlo, vhi), clampv(f32x4.add(e1, o1), vlo, vhi));
}

/** Whole GEMM over fp16 panels (finite weights): 4×8 tiles, or the 1×8 GEMV kernel when m = 1. */
export function f16_gemm(m: i32, n: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32, lo: f32, hi: f32): void {
  const panel = <usize>32 + ((<usize>k) << 4);
  if (m == 1) {
    let wp = w;
    for (let n0 = 0; n0 < n; n0 += 8) {
      f16_gemm_1x8(min(8, n - n0), k, a, wp, c + (<usize>n0 << 2), lo, hi);
      wp += panel;
    }
    return;
  }
  for (let i = 0; i < m; i += 4) {
    const mr = min(4, m - i);
    const ai = a + ((<usize>i * lda) << 2);
    const ci = c + ((<usize>i * ldc) << 2);
    let wp = w;
    for (let n0 = 0; n0 < n; n0 += 8) {
      f16_gemm_4x8(mr, min(8, n - n0), k, ai, lda, wp, ci + (<usize>n0 << 2), ldc, lo, hi);
      wp += panel;
    }
  }
}
