// int8 / uint8 GEMM family (WebAssembly SIMD128, plain — no relaxed SIMD).
//
//   C[M×N] = epilogue( Σ_k A[i,k] · B[k,j] )        A: int8 (qs8) or uint8 (qu8) rows, B: packed int8 panels
//
// B is packed once (weights) or per run (im2col columns) into panels of NR = 8 columns in "c2" order: for each
// pair of k (K padded to a multiple of 8 with zeros) 8 columns × 2 k = 16 bytes,
//   byte (kp·16 + j·2 + s) = B[2·kp + s, n0 + j].
// uint8 B is stored shifted to int8 (b − 128, with its zero point shifted the same way: (b − zb) is unchanged).
// The micro-kernel widens 8 k of each A row at once (v128.load8x8_s/u), broadcasts one k pair per step
// (i32 lane shuffle) and multiplies it against two i16x8 vectors of B with i32x4.dot_i16x8_s: 8 multiply-adds
// per instruction, accumulated exactly in wrapping int32 (the TS reference also wraps: Math.imul, | 0).
//
// Zero points never enter the hot loop: Σ(a−za)(b−zb) = Σab − za·Σ_k b − zb·Σ_k a + K·za·zb, and the caller folds
// the constant parts into a per-column bias `cb`, a per-row bias `rb` and one rank-1 term ru[i]·cv[j].
// Epilogue (all optional, pointer 0 = absent):
//   acc = dot + cb[j] + rb[i] + ru[i]·cv[j]                          (int32, wrapping)
//   out = 0: store acc as int32
//   out = 1 / 2: y = clamp(nearest_even(f64(acc) · mult) + yz, lo, hi) stored as int8 / uint8, where mult is a
//     float64 per column (mrow = 0) or per row (mrow = 1) — the exact arithmetic of the TS reference
//     (`roundHalfToEven(acc * mult)` on JS doubles), so results are bit-identical.
//   out | 4 (5 / 6): the same, computed with integer clamping (asm/q8.ts requant4i); only when every |mult| < 0.5.
//   out | 8 (9 / 10, mrow = 1 only): TFLite's MultiplyByQuantizedMultiplier (asm/q8.ts tflRequant4) with `mult`
//     holding per row an int32 multiplier and an int32 shift (8 bytes, the float64's place), + yz, clamped.
//   out = 3: float32 y = f32(acc) · f32(a · s[j]) + t[j] (DynamicQuantizeMatMul's dequantize + bias: A's scale a times
//     B's scale, rounded to float32 as the chain's Mul rounds it), with `yz` holding a's float32 bits (a changes per
//     call, s and t do not, so the caller writes their table once) and `mult` per panel of 8 columns 8 float32 scales
//     then 8 float32 addends (the 64 bytes the panel's float64 multipliers take).

import { narrow8, requant4, requant4i, store8, tflMask, tflRequant4 } from './q8';

/** Bytes of packed panels for an N×K operand. */
export function qs8_packed_size_8(n: i32, k: i32): i32 {
  return ((n + 7) >> 3) * (((k + 7) >> 3) << 3) * 8;
}

/**
 * Pack B[K×N] (row-major, stride ldb bytes; int8, or uint8 when `flip` = 1, which stores b − 128) into c2
 * panels at `out`. If `csum` ≠ 0, writes the column sums Σ_k b (of the stored, shifted values) as int32[Npad].
 */
export function qs8_pack_b(n: i32, k: i32, b: usize, ldb: i32, flip: i32, out: usize, csum: usize): void {
  const k8 = ((k + 7) >> 3) << 3;
  const x: i32 = flip ? 0x80 : 0;
  const vx = i8x16.splat(<i8>x);
  for (let n0 = 0; n0 < n; n0 += 8) {
    const nc = min(8, n - n0);
    let kk = 0;
    if (nc == 8) {
      // whole panel rows, two k at a time: 8 bytes of row kk and of row kk + 1, interleaved
      for (; kk + 1 < k; kk += 2) {
        const row = b + <usize>kk * ldb + n0;
        const r0 = v128.load64_zero(row);
        const r1 = v128.load64_zero(row + ldb);
        const v = i8x16.shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        v128.store(out + ((<usize>(kk >> 1)) << 4), v128.xor(v, vx));
      }
    }
    for (; kk < k8; kk++) {
      const row = b + <usize>kk * ldb + n0;
      const dst = out + ((<usize>(kk >> 1)) << 4) + (kk & 1);
      for (let j = 0; j < 8; j++) {
        const v: i32 = kk < k && j < nc ? <i32>load<u8>(row + j) ^ x : 0;
        store<u8>(dst + (j << 1), v);
      }
    }
    if (csum != 0) {
      for (let j = 0; j < 8; j++) {
        let s = 0;
        for (let kk = 0; kk < k; kk++) s += <i32>load<i8>(out + ((<usize>(kk >> 1)) << 4) + (j << 1) + (kk & 1));
        store<i32>(csum + ((<usize>(n0 + j)) << 2), s);
      }
    }
    out += <usize>k8 << 3;
  }
}

/**
 * Copy A[M×K] (stride lda) into rows of K8 bytes (zero-padded), optionally flipping uint8 to int8 (flip = 1),
 * and write the row sums Σ_k a (of the stored values) as int32[M] at `rsum` (0 = skip).
 */
export function qs8_pack_a(m: i32, k: i32, a: usize, lda: i32, flip: i32, out: usize, rsum: usize): void {
  const k8 = ((k + 7) >> 3) << 3;
  const x: i32 = flip ? 0x80 : 0;
  for (let i = 0; i < m; i++) {
    const src = a + <usize>i * lda;
    const dst = out + <usize>i * k8;
    let s = 0;
    for (let kk = 0; kk < k8; kk++) {
      const v: i32 = kk < k ? <i32>(<i8>(<i32>load<u8>(src + kk) ^ x)) : 0;
      store<i8>(dst + kk, v);
      s += v;
    }
    if (rsum != 0) store<i32>(rsum + ((<usize>i) << 2), s);
  }
}

/** Bytes of A[M×K] packed by qs8_pack_a4: groups of 4 rows, 8·K8 bytes each. */
export function qs8_packed_a4_size(m: i32, k: i32): i32 {
  return ((m + 3) >> 2) * (((k + 7) >> 3) << 3) * 8;
}

/** 8 bytes of A at `p` widened to int16 — mode 0: int8, 1: uint8 flipped to int8 (a − 128), 2: uint8. */
// @ts-ignore: decorator
@inline
function widen8(p: usize, mode: i32): v128 {
  if (mode == 2) return v128.load8x8_u(p);
  if (mode == 1) return i16x8.extend_low_i8x16_s(v128.xor(v128.load64_zero(p), i8x16.splat(-128)));
  return v128.load8x8_s(p);
}

/** One element of A as qs8_pack_a4 stores it (see widen8 for `mode`). */
// @ts-ignore: decorator
@inline
function widen1(p: usize, mode: i32): i32 {
  if (mode == 2) return <i32>load<u8>(p);
  if (mode == 1) return <i32>load<u8>(p) - 128;
  return <i32>load<i8>(p);
}

/**
 * Pack A[M×K] (stride lda bytes; `mode` as widen8) for qs8_gemm_a4: groups of 4 rows (rows past M are zero), per
 * k pair 16 bytes — row r's (A[r, 2p], A[r, 2p + 1]) as two int16 at byte p·16 + 4r — K padded to K8 with zeros.
 * The tile then broadcasts each row's pair with one v128.load32_splat (a load, no shuffle) and reads all four rows
 * from one pointer. Writes the row sums Σ_k of the stored values as int32[M] at `rsum` (0 = skip).
 */
export function qs8_pack_a4(m: i32, k: i32, a: usize, lda: i32, mode: i32, out: usize, rsum: usize): void {
  const k8 = ((k + 7) >> 3) << 3;
  const kf = k & ~7; // whole chunks of 8 k read with vector loads
  const z = i32x4.splat(0);
  for (let g = 0; g < m; g += 4) {
    const mr = min(4, m - g);
    const r0 = a + <usize>g * lda;
    const dst = out + <usize>(g >> 2) * (<usize>k8 << 3);
    let s0 = z, s1 = z, s2 = z, s3 = z;
    for (let kk = 0; kk < kf; kk += 8) {
      const x0 = widen8(r0 + kk, mode);
      const x1 = mr > 1 ? widen8(r0 + lda + kk, mode) : z;
      const x2 = mr > 2 ? widen8(r0 + 2 * lda + kk, mode) : z;
      const x3 = mr > 3 ? widen8(r0 + 3 * lda + kk, mode) : z;
      s0 = i32x4.add(s0, i32x4.extadd_pairwise_i16x8_s(x0));
      s1 = i32x4.add(s1, i32x4.extadd_pairwise_i16x8_s(x1));
      s2 = i32x4.add(s2, i32x4.extadd_pairwise_i16x8_s(x2));
      s3 = i32x4.add(s3, i32x4.extadd_pairwise_i16x8_s(x3));
      // 4×4 transpose of the rows' k pairs (i32 lanes): output vector p = pair p of rows 0…3
      const t0 = v128.shuffle<i32>(x0, x1, 0, 4, 1, 5);
      const t1 = v128.shuffle<i32>(x2, x3, 0, 4, 1, 5);
      const t2 = v128.shuffle<i32>(x0, x1, 2, 6, 3, 7);
      const t3 = v128.shuffle<i32>(x2, x3, 2, 6, 3, 7);
      const d = dst + (<usize>kk << 3);
      v128.store(d, v128.shuffle<i64>(t0, t1, 0, 2));
      v128.store(d, v128.shuffle<i64>(t0, t1, 1, 3), 16);
      v128.store(d, v128.shuffle<i64>(t2, t3, 0, 2), 32);
      v128.store(d, v128.shuffle<i64>(t2, t3, 1, 3), 48);
    }
    let e0 = i32x4.extract_lane(s0, 0) + i32x4.extract_lane(s0, 1) + i32x4.extract_lane(s0, 2) + i32x4.extract_lane(s0, 3);
    let e1 = i32x4.extract_lane(s1, 0) + i32x4.extract_lane(s1, 1) + i32x4.extract_lane(s1, 2) + i32x4.extract_lane(s1, 3);
    let e2 = i32x4.extract_lane(s2, 0) + i32x4.extract_lane(s2, 1) + i32x4.extract_lane(s2, 2) + i32x4.extract_lane(s2, 3);
    let e3 = i32x4.extract_lane(s3, 0) + i32x4.extract_lane(s3, 1) + i32x4.extract_lane(s3, 2) + i32x4.extract_lane(s3, 3);
    // the last partial chunk (K % 8 elements, zeros up to K8) element by element: rows end at K, no 8-byte loads
    for (let kk = kf; kk < k8; kk++) {
      const d = dst + ((<usize>(kk >> 1)) << 4) + ((kk & 1) << 1);
      const v0 = kk < k ? widen1(r0 + kk, mode) : 0;
      const v1 = kk < k && mr > 1 ? widen1(r0 + lda + kk, mode) : 0;
      const v2 = kk < k && mr > 2 ? widen1(r0 + 2 * lda + kk, mode) : 0;
      const v3 = kk < k && mr > 3 ? widen1(r0 + 3 * lda + kk, mode) : 0;
      store<i16>(d, <i16>v0);
      store<i16>(d, <i16>v1, 4);
      store<i16>(d, <i16>v2, 8);
      store<i16>(d, <i16>v3, 12);
      e0 += v0;
      e1 += v1;
      e2 += v2;
      e3 += v3;
    }
    if (rsum != 0) {
      const rp = rsum + (<usize>g << 2);
      store<i32>(rp, e0);
      if (mr > 1) store<i32>(rp, e1, 4);
      if (mr > 2) store<i32>(rp, e2, 8);
      if (mr > 3) store<i32>(rp, e3, 12);
    }
  }
}

/** Row sums Σ_{k<K} A[i,k] (int8 when uns = 0, uint8 when uns = 1) into int32[M] at `out`. */
export function qs8_rowsum(m: i32, k: i32, a: usize, lda: i32, uns: i32, out: usize): void {
  for (let i = 0; i < m; i++) {
    const row = a + <usize>i * lda;
    let vs = i32x4.splat(0);
    let kk = 0;
    if (uns) {
      for (; kk + 15 < k; kk += 16) vs = i32x4.add(vs, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v128.load(row + kk))));
    } else {
      for (; kk + 15 < k; kk += 16) vs = i32x4.add(vs, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(row + kk))));
    }
    let s = i32x4.extract_lane(vs, 0) + i32x4.extract_lane(vs, 1) + i32x4.extract_lane(vs, 2) + i32x4.extract_lane(vs, 3);
    if (uns) for (; kk < k; kk++) s += <i32>load<u8>(row + kk);
    else for (; kk < k; kk++) s += <i32>load<i8>(row + kk);
    store<i32>(out + ((<usize>i) << 2), s);
  }
}

/** Column sums over packed panels (int32[Npad] at `out`): Σ over all K8 rows (padding rows are 0). */
export function qs8_panel_colsum(n: i32, k: i32, w: usize, out: usize): void {
  const k8 = ((k + 7) >> 3) << 3;
  const panels = (n + 7) >> 3;
  for (let q = 0; q < panels; q++) {
    let s0 = i32x4.splat(0);
    let s1 = i32x4.splat(0);
    const p = w + <usize>q * (<usize>k8 << 3);
    for (let kp = 0; kp < (k8 >> 1); kp++) {
      // pairwise add of the two k of each column: i16x8 lanes (k0 j, k1 j) → i32 per column
      s0 = i32x4.add(s0, i32x4.extadd_pairwise_i16x8_s(v128.load8x8_s(p + (<usize>kp << 4))));
      s1 = i32x4.add(s1, i32x4.extadd_pairwise_i16x8_s(v128.load8x8_s(p + (<usize>kp << 4), 8)));
    }
    v128.store(out + (<usize>q << 5), s0);
    v128.store(out + (<usize>q << 5), s1, 16);
  }
}

/**
 * Row r = (ch, ky, kx) of the im2col matrix over output pixels j0 … j1 − 1 (j = oy·ow + ox) as raw bytes at `dst`
 * (out-of-image taps: `pad`): each output row's run of pixels is a fill, a copy of input bytes, a fill.
 */
// @ts-ignore: decorator
@inline
function im2colRow(
  dst: usize, r: i32, x: usize, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, ow: i32, j0: i32, j1: i32, pad: u8,
): void {
  const vpad = i8x16.splat(<i8>pad);
  const kx = r % kw;
  const ky = (r / kw) % kh;
  const ch = r / (kw * kh);
  const xc = x + <usize>ch * ih * iw;
  // output columns ox0 ≤ ox < ox1 read inside the image: 0 ≤ ox·sw − pl + kx·dw < iw
  const off = kx * dw - pl;
  let ox0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
  let ox1 = iw - off <= 0 ? 0 : (iw - off + sw - 1) / sw;
  if (ox1 > ow) ox1 = ow;
  if (ox0 > ox1) ox0 = ox1;
  for (let j = j0; j < j1; ) {
    const oy = j / ow;
    // this output row's pixels a … b − 1 of the range, at d + ox
    const a = j - oy * ow;
    const b = min(ow, a + (j1 - j));
    const d = dst + <usize>(j - j0) - <usize>a;
    j += b - a;
    const iy = oy * sh - pt + ky * dh;
    const s0 = max(a, ox0);
    const s1 = min(b, ox1);
    if (iy < 0 || iy >= ih || s0 >= s1) {
      fillOver(d + <usize>a, vpad, b - a);
      continue;
    }
    const xr = xc + <usize>iy * iw;
    if (s0 > a) fillOver(d + <usize>a, vpad, s0 - a);
    if (sw == 1) copyOver(d + <usize>s0, xr + (s0 + off), s1 - s0);
    else {
      let ox = s0;
      // stride 2: the even bytes of 16 (reads one byte past the last tap: arena slack)
      if (sw == 2) for (; ox + 8 <= s1; ox += 8) v128.store64_lane(d + <usize>ox, i8x16.shuffle(v128.load(xr + (ox * 2 + off)), i32x4.splat(0), 0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0), 0);
      for (; ox < s1; ox++) store<u8>(d + <usize>ox, load<u8>(xr + (ox * sw + off)));
    }
    if (s1 < b) fillOver(d + <usize>s1, vpad, b - s1);
  }
}

// The runs of an im2col row are short (a block's pixels of one output row: tens of bytes), where memory.copy /
// memory.fill cost a call each; these write whole vectors instead — up to 15 bytes past the run, which the row's next
// run overwrites (runs are written in address order) or which land in the row buffer's slack — and read up to 15
// bytes past the source run (the arena's read slack).
// @ts-ignore: decorator
@inline
function copyOver(d: usize, s: usize, n: i32): void {
  for (let o = 0; o < n; o += 16) v128.store(d + <usize>o, v128.load(s + <usize>o));
}

// @ts-ignore: decorator
@inline
function fillOver(d: usize, v: v128, n: i32): void {
  for (let o = 0; o < n; o += 16) v128.store(d + <usize>o, v);
}

/**
 * im2col of one NCHW image (c channels of ih×iw int8, or uint8 when flip = 1) into c2 panels of 8 output pixels,
 * panels q0 … q1 − 1 only (output pixels 8·q0 … min(P, 8·q1) − 1), panel q0 at `out`: row r = (ch, ky, kx) of
 * K = c·kh·kw, column j = oy·ow + ox. Out-of-image taps take the input zero point `xz` (raw, before flipping), so
 * (x − xz) is 0 there as the ONNX spec's padding with x_zero_point requires. Two rows at a time are written plainly
 * into `tmp` (2·(pixels of the range) + 32 bytes: runs of input bytes in whole vectors, copyOver / fillOver; the
 * input needs the arena's 16 bytes of read slack), then interleaved
 * into the panels 8 columns per vector; rows K … K8 − 1 and the columns past the range's last pixel are zero.
 * A conv packs and multiplies one cache block of panels at a time: the whole image's columns (K·P bytes: 302 MB for
 * a 3×3 conv of 128 channels over 512×512) never exist at once.
 */
export function qs8_im2col_pack_8_range(
  x: usize, c: i32, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, oh: i32, ow: i32, xz: i32, flip: i32,
  q0: i32, q1: i32, out: usize, tmp: usize,
): void {
  const k = c * kh * kw;
  const k8 = ((k + 7) >> 3) << 3;
  const j0 = q0 << 3;
  const j1 = min(oh * ow, q1 << 3);
  const p = j1 - j0;
  const full = p >> 3;
  const tail = p & 7;
  const panelBytes = <usize>k8 << 3;
  const vx = i8x16.splat(<i8>(flip ? 0x80 : 0));
  const pad: u8 = <u8>xz;
  const t0 = tmp;
  const t1 = tmp + <usize>((p + 15) & ~7);
  for (let r = 0; r < k8; r += 2) {
    if (r < k) im2colRow(t0, r, x, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, ow, j0, j1, pad);
    if (r + 1 < k) im2colRow(t1, r + 1, x, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, ow, j0, j1, pad);
    const base = out + ((<usize>(r >> 1)) << 4);
    if (r >= k) {
      for (let q = 0; q <= full - (tail ? 0 : 1); q++) v128.store(base + <usize>q * panelBytes, i32x4.splat(0));
      continue;
    }
    const second = r + 1 < k;
    for (let q = 0; q < full; q++) {
      const r0 = v128.load64_zero(t0 + (<usize>q << 3));
      const r1 = second ? v128.load64_zero(t1 + (<usize>q << 3)) : vx; // a zero row: vx ^ vx = 0 after the flip
      const v = i8x16.shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      v128.store(base + <usize>q * panelBytes, v128.xor(v, vx));
    }
    if (tail) {
      const d = base + <usize>full * panelBytes;
      const fx: u8 = flip ? 0x80 : 0;
      for (let j = 0; j < 8; j++) {
        store<u8>(d + (j << 1), j < tail ? load<u8>(t0 + (full << 3) + j) ^ fx : 0);
        store<u8>(d + (j << 1) + 1, j < tail && second ? load<u8>(t1 + (full << 3) + j) ^ fx : 0);
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function loadA<T>(p: usize): v128 {
  if (isSigned<T>()) return v128.load8x8_s(p);
  return v128.load8x8_u(p);
}

/** Epilogue of one row of a tile: 8 accumulated columns (v0: j0..3, v1: j4..7), nc of them valid. */
// @ts-ignore: decorator
@inline
function storeRowQ(
  v0: v128, v1: v128, i: i32, n0: i32, nc: i32, c: usize, cb: usize, rb: usize, ru: usize, cv: usize,
  mult: usize, mrow: i32, yz: v128, lo: v128, hi: v128, out: i32,
): void {
  if (cb != 0) {
    v0 = i32x4.add(v0, v128.load(cb + (<usize>n0 << 2)));
    v1 = i32x4.add(v1, v128.load(cb + (<usize>n0 << 2), 16));
  }
  if (rb != 0) {
    const r = i32x4.splat(load<i32>(rb + (<usize>i << 2)));
    v0 = i32x4.add(v0, r);
    v1 = i32x4.add(v1, r);
  }
  if (ru != 0) {
    const u = i32x4.splat(load<i32>(ru + (<usize>i << 2)));
    v0 = i32x4.add(v0, i32x4.mul(u, v128.load(cv + (<usize>n0 << 2))));
    v1 = i32x4.add(v1, i32x4.mul(u, v128.load(cv + (<usize>n0 << 2), 16)));
  }
  if (out == 0) {
    // int32: always 8 lanes (the caller passes 32 bytes of scratch for a partial tile)
    v128.store(c, v0);
    v128.store(c, v1, 16);
    return;
  }
  if (out == 3) {
    // float32: y = f32(acc) · f32(a · s[j]) + t[j] (`yz`: a splat), the panel's 8 scales then 8 addends at
    // mult + n0·8 (each step rounded, no fused multiply-add: the same float32 steps as the chain's Muls and Add);
    // 8 lanes like int32
    const mp = mult + (<usize>n0 << 3);
    v128.store(c, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(v0), f32x4.mul(yz, v128.load(mp))), v128.load(mp, 32)));
    v128.store(c, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(v1), f32x4.mul(yz, v128.load(mp, 16))), v128.load(mp, 48)), 16);
    return;
  }
  if (out & 8) {
    // TFLite's MultiplyByQuantizedMultiplier per row (mrow = 1): q and shift as two int32 at mult + i·8
    const q = load<i32>(mult + (<usize>i << 3));
    const s = load<i32>(mult + (<usize>i << 3), 4);
    const right = s > 0 ? 0 : -s;
    const mask = tflMask(right);
    const vq = i32x4.splat(q);
    const vm = i32x4.splat(mask);
    const vh = i32x4.splat(mask >> 1);
    const left = s > 0 ? s : 0;
    store8(c, narrow8(tflRequant4(v0, vq, left, right, vm, vh, yz, lo, hi), tflRequant4(v1, vq, left, right, vm, vh, yz, lo, hi), out & 3), nc);
    return;
  }
  let m0: v128, m1: v128, m2: v128, m3: v128;
  if (mrow) {
    m0 = f64x2.splat(load<f64>(mult + (<usize>i << 3)));
    m1 = m0;
    m2 = m0;
    m3 = m0;
  } else {
    const mp = mult + (<usize>n0 << 3);
    m0 = v128.load(mp);
    m1 = v128.load(mp, 16);
    m2 = v128.load(mp, 32);
    m3 = v128.load(mp, 48);
  }
  const fast = (out & 4) != 0;
  const q0 = fast ? requant4i(v0, m0, m1, yz, lo, hi) : requant4(v0, m0, m1, yz, lo, hi);
  const q1 = fast ? requant4i(v1, m2, m3, yz, lo, hi) : requant4(v1, m2, m3, yz, lo, hi);
  const h = i16x8.narrow_i32x4_s(q0, q1);
  const b = (out & 3) == 1 ? i8x16.narrow_i16x8_s(h, h) : i8x16.narrow_i16x8_u(h, h);
  if (nc == 8) {
    v128.store64_lane(c, b, 0);
    return;
  }
  const lanes = i64x2.extract_lane(b, 0);
  for (let j = 0; j < nc; j++) store<u8>(c + j, <u8>(lanes >> (<i64>(j << 3))));
}

/**
 * 4×8 tile: rows a..a+mr (mr ≤ 4; stride lda bytes, K8 bytes readable per row — bytes past K meet zero
 * weights) times one packed panel. Rows past mr alias the last valid row.
 */
// @ts-ignore: decorator
@inline
function tile<T>(
  mr: i32, nc: i32, k8: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32, i: i32, n0: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: v128, lo: v128, hi: v128, out: i32, tmp: usize,
): void {
  const sa = <usize>lda;
  const a0 = a;
  const a1 = mr > 1 ? a0 + sa : a0;
  const a2 = mr > 2 ? a1 + sa : a1;
  const a3 = mr > 3 ? a2 + sa : a2;
  let c00 = i32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  let wp = w;
  for (let kk: usize = 0; kk < <usize>k8; kk += 8) {
    const x0 = loadA<T>(a0 + kk);
    const x1 = loadA<T>(a1 + kk);
    const x2 = loadA<T>(a2 + kk);
    const x3 = loadA<T>(a3 + kk);
    // k pair 0
    let b0 = v128.load8x8_s(wp);
    let b1 = v128.load8x8_s(wp, 8);
    let s = v128.shuffle<i32>(x0, x0, 0, 0, 0, 0);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(s, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x1, x1, 0, 0, 0, 0);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(s, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x2, x2, 0, 0, 0, 0);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(s, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x3, x3, 0, 0, 0, 0);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(s, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(s, b1));
    // k pair 1
    b0 = v128.load8x8_s(wp, 16);
    b1 = v128.load8x8_s(wp, 24);
    s = v128.shuffle<i32>(x0, x0, 1, 1, 1, 1);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(s, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x1, x1, 1, 1, 1, 1);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(s, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x2, x2, 1, 1, 1, 1);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(s, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x3, x3, 1, 1, 1, 1);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(s, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(s, b1));
    // k pair 2
    b0 = v128.load8x8_s(wp, 32);
    b1 = v128.load8x8_s(wp, 40);
    s = v128.shuffle<i32>(x0, x0, 2, 2, 2, 2);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(s, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x1, x1, 2, 2, 2, 2);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(s, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x2, x2, 2, 2, 2, 2);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(s, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x3, x3, 2, 2, 2, 2);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(s, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(s, b1));
    // k pair 3
    b0 = v128.load8x8_s(wp, 48);
    b1 = v128.load8x8_s(wp, 56);
    s = v128.shuffle<i32>(x0, x0, 3, 3, 3, 3);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(s, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x1, x1, 3, 3, 3, 3);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(s, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x2, x2, 3, 3, 3, 3);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(s, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(s, b1));
    s = v128.shuffle<i32>(x3, x3, 3, 3, 3, 3);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(s, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(s, b1));
    wp += 64;
  }
  store4x8(c00, c01, c10, c11, c20, c21, c30, c31, mr, nc, i, n0, c, ldc, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out, tmp);
}

/** The epilogue of a 4×8 int32 tile (rows past mr dropped): partial int32 tiles go through `tmp` (8 ints). */
// @ts-ignore: decorator
@inline
function store4x8(
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128, mr: i32, nc: i32, i: i32, n0: i32, c: usize, ldc: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: v128, lo: v128, hi: v128, out: i32, tmp: usize,
): void {
  const esz: usize = out == 0 || out == 3 ? 4 : 1;
  const sc = <usize>ldc * esz;
  // partial int32 tiles go through `tmp` (8 ints) and are copied column by column
  const direct = (out != 0 && out != 3) || nc == 8;
  let dst = direct ? c : tmp;
  storeRowQ(c00, c01, i, n0, nc, dst, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out);
  if (!direct) copyI32(tmp, c, nc);
  if (mr > 1) {
    dst = direct ? c + sc : tmp;
    storeRowQ(c10, c11, i + 1, n0, nc, dst, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out);
    if (!direct) copyI32(tmp, c + sc, nc);
  }
  if (mr > 2) {
    dst = direct ? c + 2 * sc : tmp;
    storeRowQ(c20, c21, i + 2, n0, nc, dst, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out);
    if (!direct) copyI32(tmp, c + 2 * sc, nc);
  }
  if (mr > 3) {
    dst = direct ? c + 3 * sc : tmp;
    storeRowQ(c30, c31, i + 3, n0, nc, dst, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out);
    if (!direct) copyI32(tmp, c + 3 * sc, nc);
  }
}

/**
 * 4×8 tile over A packed by qs8_pack_a4 (one 4-row group at `a`; rows past mr are computed, not stored) times one
 * packed panel. Per k pair: 2 B loads widened to int16, each row's pair broadcast by a load32_splat, 8 dots. One k
 * pair per iteration keeps 12 vector registers live — unrolled, V8 hoists the next pair's loads and spills.
 */
// @ts-ignore: decorator
@inline
function tileA4(
  mr: i32, nc: i32, k8: i32, a: usize, w: usize, c: usize, ldc: i32, i: i32, n0: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: v128, lo: v128, hi: v128, out: i32, tmp: usize,
): void {
  let c00 = i32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  let wp = w;
  const ae = a + (<usize>k8 << 3);
  for (let ap = a; ap < ae; ap += 16) {
    const b0 = v128.load8x8_s(wp);
    const b1 = v128.load8x8_s(wp, 8);
    let s = v128.load32_splat(ap);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(s, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(s, b1));
    s = v128.load32_splat(ap, 4);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(s, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(s, b1));
    s = v128.load32_splat(ap, 8);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(s, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(s, b1));
    s = v128.load32_splat(ap, 12);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(s, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(s, b1));
    wp += 16;
  }
  store4x8(c00, c01, c10, c11, c20, c21, c30, c31, mr, nc, i, n0, c, ldc, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out, tmp);
}

// @ts-ignore: decorator
@inline
function copyI32(src: usize, dst: usize, n: i32): void {
  for (let j = 0; j < n; j++) store<i32>(dst + (<usize>j << 2), load<i32>(src + (<usize>j << 2)));
}

/** 1×8 tile (single rows: batch-1 fully-connected layers) — four independent accumulator chains. */
// @ts-ignore: decorator
@inline
function tile1<T>(
  nc: i32, k8: i32, a: usize, w: usize, c: usize, i: i32, n0: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: v128, lo: v128, hi: v128, out: i32, tmp: usize,
): void {
  let p0 = i32x4.splat(0);
  let p1 = p0;
  let q0 = p0;
  let q1 = p0;
  let wp = w;
  for (let kk: usize = 0; kk < <usize>k8; kk += 8) {
    const x = loadA<T>(a + kk);
    let s = v128.shuffle<i32>(x, x, 0, 0, 0, 0);
    p0 = i32x4.add(p0, i32x4.dot_i16x8_s(s, v128.load8x8_s(wp)));
    p1 = i32x4.add(p1, i32x4.dot_i16x8_s(s, v128.load8x8_s(wp, 8)));
    s = v128.shuffle<i32>(x, x, 1, 1, 1, 1);
    q0 = i32x4.add(q0, i32x4.dot_i16x8_s(s, v128.load8x8_s(wp, 16)));
    q1 = i32x4.add(q1, i32x4.dot_i16x8_s(s, v128.load8x8_s(wp, 24)));
    s = v128.shuffle<i32>(x, x, 2, 2, 2, 2);
    p0 = i32x4.add(p0, i32x4.dot_i16x8_s(s, v128.load8x8_s(wp, 32)));
    p1 = i32x4.add(p1, i32x4.dot_i16x8_s(s, v128.load8x8_s(wp, 40)));
    s = v128.shuffle<i32>(x, x, 3, 3, 3, 3);
    q0 = i32x4.add(q0, i32x4.dot_i16x8_s(s, v128.load8x8_s(wp, 48)));
    q1 = i32x4.add(q1, i32x4.dot_i16x8_s(s, v128.load8x8_s(wp, 56)));
    wp += 64;
  }
  const direct = (out != 0 && out != 3) || nc == 8;
  storeRowQ(i32x4.add(p0, q0), i32x4.add(p1, q1), i, n0, nc, direct ? c : tmp, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out);
  if (!direct) copyI32(tmp, c, nc);
}

// @ts-ignore: decorator
@inline
function gemm<T>(
  m: i32, n: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: i32, lo: i32, hi: i32, out: i32, tmp: usize, kind: i32,
): void {
  const k8 = ((k + 7) >> 3) << 3;
  const panel = <usize>k8 << 3;
  const esz: usize = out == 0 || out == 3 ? 4 : 1;
  const fast = (out & 12) != 0; // integer yz / lo / hi splats for requant4i (4) and TFLite's requantization (8)
  // out = 3: yz is the float32 bits of A's scale
  const vyz = out == 3 ? f32x4.splat(reinterpret<f32>(yz)) : fast ? i32x4.splat(yz) : f64x2.splat(<f64>yz);
  const vlo = fast ? i32x4.splat(lo) : f64x2.splat(<f64>lo);
  const vhi = fast ? i32x4.splat(hi) : f64x2.splat(<f64>hi);
  // columns in blocks of about B_BLOCK bytes of panels, every row tile over one block before the next: the block
  // stays in L1 while the rows pass over it (a conv's im2col panels of 112×112 pixels are ~200 KB per 16 k)
  const bn = blockCols(panel);
  for (let nb = 0; nb < n; nb += bn) {
    const ne = min(n, nb + bn);
    for (let i = 0; i < m; i += 4) {
      const mr = min(4, m - i);
      // A4: lda is the byte stride of 4-row groups
      const ai = kind == A4 ? a + <usize>(i >> 2) * lda : a + <usize>i * lda;
      const ci = c + <usize>i * ldc * esz;
      let wp = w + <usize>(nb >> 3) * panel;
      for (let n0 = nb; n0 < ne; n0 += 8) {
        // the kind is a constant per caller: each exported kernel inlines one
        if (kind == A4) tileA4(mr, min(8, n - n0), k8, ai, wp, ci + <usize>n0 * esz, ldc, i, n0, cb, rb, ru, cv, mult, mrow, vyz, vlo, vhi, out, tmp);
        else if (kind == C4) {
          if (mr == 1) tile1C4(min(8, n - n0), k8, ai, wp, ci + <usize>n0 * esz, i, n0, cb, rb, ru, cv, mult, mrow, vyz, vlo, vhi, out, tmp);
          else tileC4(mr, min(8, n - n0), k8, ai, lda, wp, ci + <usize>n0 * esz, ldc, i, n0, cb, rb, ru, cv, mult, mrow, vyz, vlo, vhi, out, tmp);
        } else if (mr == 1) tile1<T>(min(8, n - n0), k8, ai, wp, ci + <usize>n0 * esz, i, n0, cb, rb, ru, cv, mult, mrow, vyz, vlo, vhi, out, tmp);
        else tile<T>(mr, min(8, n - n0), k8, ai, lda, wp, ci + <usize>n0 * esz, ldc, i, n0, cb, rb, ru, cv, mult, mrow, vyz, vlo, vhi, out, tmp);
        wp += panel;
      }
    }
  }
}

/** Tile kinds of `gemm`: A rows × c2 panels, A rows × c4 panels (relaxed dot), A packed by qs8_pack_a4 × c2 panels. */
const C2 = 0;
const C4 = 1;
const A4 = 2;

/** Bytes of B panels a column block of the GEMMs spans (L1 data caches are 32–48 KB). */
const B_BLOCK: usize = 24576;

/** Columns per block: whole panels of 8 columns, at least one. */
// @ts-ignore: decorator
@inline
function blockCols(panel: usize): i32 {
  const np = B_BLOCK / panel;
  return <i32>(np > 1 ? np : 1) << 3;
}

/**
 * C = epilogue(A · Bpacked) for A int8 (`qs8_gemm`) — see the file comment for the epilogue. `a` rows must
 * have K8 = ceil(K/8)·8 readable bytes (whatever lies past K is multiplied by zero). cb, cv and (per-column)
 * mult are read in whole panels of 8 (pad them to N8). `tmp` points at 32 bytes of scratch.
 */
export function qs8_gemm(
  m: i32, n: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: i32, lo: i32, hi: i32, out: i32, tmp: usize,
): void {
  gemm<i8>(m, n, k, a, lda, w, c, ldc, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out, tmp, C2);
}

/** As qs8_gemm with A uint8. */
export function qu8_gemm(
  m: i32, n: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: i32, lo: i32, hi: i32, out: i32, tmp: usize,
): void {
  gemm<u8>(m, n, k, a, lda, w, c, ldc, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out, tmp, C2);
}

/**
 * As qs8_gemm (same epilogue and arguments) with A packed by qs8_pack_a4 (int8, flipped or plain uint8 — already
 * widened) and `lda` the byte stride between its 4-row groups (qs8_packed_a4_size per M rows: 8·K8 for whole
 * matrices). Every row group runs the 4×8 broadcast-load tile, ~1.5× the MACs per cycle of qs8_gemm's tile.
 */
export function qs8_gemm_a4(
  m: i32, n: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: i32, lo: i32, hi: i32, out: i32, tmp: usize,
): void {
  gemm<i8>(m, n, k, a, lda, w, c, ldc, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out, tmp, A4);
}

/**
 * int8 peak probe for the benches: per iteration 8 independent i32x4.dot_i16x8_s (8 multiply-adds = 16 int ops
 * each) into 4 accumulators (two adds per accumulator per iteration: their 1-cycle chains are not the limit), no
 * memory traffic in the loop. One operand changes every iteration (one i16x8.add) so nothing is hoisted. The other
 * operands are loaded from memory (whatever bytes lie at address 0: timing does not depend on them) before the loop:
 * V8 rematerializes constants and splats inside the loop (a scalar move and a broadcast each), which made the probe
 * measure those instead of the dots — it reported about half the rate qs8_gemm_a4 reaches.
 * 4 accumulators + x, z, inc + 4 operands + the dot's result = 12 vector registers (x64 allocates 15): no spills.
 */
export function qs8_peak_dot(iters: i32): i32 {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(1), a2 = i32x4.splat(2), a3 = i32x4.splat(3);
  let x = i16x8.splat(3);
  let z = i16x8.splat(-4);
  const inc = v128.load(0, 64);
  const y0 = v128.load(0), y1 = v128.load(0, 16), y2 = v128.load(0, 32), y3 = v128.load(0, 48);
  for (let i = 0; i < iters; i++) {
    x = i16x8.add(x, inc);
    z = i16x8.sub(z, inc);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(x, y0));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(x, y1));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(x, y2));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(x, y3));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(z, y0));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(z, y1));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(z, y2));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(z, y3));
  }
  const s = i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 3);
}

// ---------------------------------------------------------------- relaxed SIMD: c4 panels, one dot per 16 MACs
//
// i32x4.relaxed_dot_i8x16_i7x16_add_s(s, u, acc) adds, per i32 lane, the four products of the lane's bytes of
// s (int8) and u (the "i7" operand). It is exact on every engine only for u in [0, 127]; outside that, engines
// differ: ARM sdot reads u as int8, x86 vpdpbusd reads it as uint8, and x86 pmaddubsw+pmaddwd reads it as uint8
// but saturates each pair sum to int16. So the host (src/kernels/qlinear.ts) probes the engine once through
// qs8_gemm_c4 itself and stores the weights the way the engine reads them exactly — int8 (mode "signed") or
// uint8 (mode "unsigned") — or keeps the plain kernels above when neither reading is exact (pmaddubsw: a pair
// 255·(−128)·2 saturates). The zero-point algebra absorbs the ±128 shift of the stored weights.
//
// c4 layout: panels of NR = 8 columns, K padded to a multiple of 8; per k quad 32 bytes,
//   byte (kq·32 + h·16 + jj·4 + s) = B[4·kq + s, n0 + 4·h + jj] ^ x       (x = 0 or 0x80)
// Same panel size as the c2 layout (qs8_packed_size_8). A is the int8 operand: rows of int8 (uint8 inputs are
// flipped by the host with qs8_pack_a first), four k broadcast to all lanes with one v128.load32_splat.
// The plain build compiles none of this (RELAXED = 0 leaves `unreachable` stubs, never called).

/**
 * Pack B[K×N] (stride ldb bytes) into c4 panels, storing each byte XOR `x`. If `csum` ≠ 0, writes the column
 * sums of the stored bytes — read as uint8 when `uns` = 1, else as int8 — as int32[Npad].
 */
export function qs8_pack_b_c4(n: i32, k: i32, b: usize, ldb: i32, x: i32, uns: i32, out: usize, csum: usize): void {
  // @ts-ignore: RELAXED is defined on the asc command line
  if (!RELAXED) unreachable();
  const k8 = ((k + 7) >> 3) << 3;
  for (let n0 = 0; n0 < n; n0 += 8) {
    const nc = min(8, n - n0);
    for (let kk = 0; kk < k8; kk++) {
      const row = b + <usize>kk * ldb + n0;
      const dst = out + ((<usize>(kk >> 2)) << 5) + (kk & 3);
      for (let j = 0; j < 8; j++) {
        const v: i32 = kk < k && j < nc ? (<i32>load<u8>(row + j) ^ x) : 0;
        store<u8>(dst + ((<usize>(j >> 2)) << 4) + ((j & 3) << 2), v);
      }
    }
    if (csum != 0) {
      for (let j = 0; j < 8; j++) {
        let s = 0;
        const col = out + ((<usize>(j >> 2)) << 4) + ((j & 3) << 2);
        for (let kk = 0; kk < k; kk++) {
          const p = col + ((<usize>(kk >> 2)) << 5) + (kk & 3);
          s += uns ? <i32>load<u8>(p) : <i32>load<i8>(p);
        }
        store<i32>(csum + ((<usize>(n0 + j)) << 2), s);
      }
    }
    out += <usize>k8 << 3;
  }
}

// @ts-ignore: decorator
@inline
function rdot(s: v128, u: v128, acc: v128): v128 {
  // @ts-ignore: RELAXED is defined on the asc command line
  if (RELAXED) return i32x4.relaxed_dot_i8x16_i7x16_add_s(s, u, acc);
  else return acc; // never reached: the host calls the c4 kernels only in the relaxed build
}

/** 4×8 c4 tile (see `tile` for the row / store conventions). */
// @ts-ignore: decorator
@inline
function tileC4(
  mr: i32, nc: i32, k8: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32, i: i32, n0: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: v128, lo: v128, hi: v128, out: i32, tmp: usize,
): void {
  const sa = <usize>lda;
  const a0 = a;
  const a1 = mr > 1 ? a0 + sa : a0;
  const a2 = mr > 2 ? a1 + sa : a1;
  const a3 = mr > 3 ? a2 + sa : a2;
  let c00 = i32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  let wp = w;
  for (let kk: usize = 0; kk < <usize>k8; kk += 4) {
    const b0 = v128.load(wp);
    const b1 = v128.load(wp, 16);
    let s = v128.load32_splat(a0 + kk);
    c00 = rdot(s, b0, c00);
    c01 = rdot(s, b1, c01);
    s = v128.load32_splat(a1 + kk);
    c10 = rdot(s, b0, c10);
    c11 = rdot(s, b1, c11);
    s = v128.load32_splat(a2 + kk);
    c20 = rdot(s, b0, c20);
    c21 = rdot(s, b1, c21);
    s = v128.load32_splat(a3 + kk);
    c30 = rdot(s, b0, c30);
    c31 = rdot(s, b1, c31);
    wp += 32;
  }
  store4x8(c00, c01, c10, c11, c20, c21, c30, c31, mr, nc, i, n0, c, ldc, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out, tmp);
}

/** 1×8 c4 tile: two k quads per step into separate accumulators (four independent chains). */
// @ts-ignore: decorator
@inline
function tile1C4(
  nc: i32, k8: i32, a: usize, w: usize, c: usize, i: i32, n0: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: v128, lo: v128, hi: v128, out: i32, tmp: usize,
): void {
  let p0 = i32x4.splat(0);
  let p1 = p0;
  let q0 = p0;
  let q1 = p0;
  let wp = w;
  for (let kk: usize = 0; kk < <usize>k8; kk += 8) {
    let s = v128.load32_splat(a + kk);
    p0 = rdot(s, v128.load(wp), p0);
    p1 = rdot(s, v128.load(wp, 16), p1);
    s = v128.load32_splat(a + kk + 4);
    q0 = rdot(s, v128.load(wp, 32), q0);
    q1 = rdot(s, v128.load(wp, 48), q1);
    wp += 64;
  }
  const direct = (out != 0 && out != 3) || nc == 8;
  storeRowQ(i32x4.add(p0, q0), i32x4.add(p1, q1), i, n0, nc, direct ? c : tmp, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out);
  if (!direct) copyI32(tmp, c, nc);
}

/**
 * As qs8_gemm (A int8, same epilogue and arguments) over c4 panels from qs8_pack_b_c4, with one
 * i32x4.relaxed_dot_i8x16_i7x16_add_s per 16 multiply-adds. Relaxed build only (the plain build traps).
 */
export function qs8_gemm_c4(
  m: i32, n: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32,
  cb: usize, rb: usize, ru: usize, cv: usize, mult: usize, mrow: i32, yz: i32, lo: i32, hi: i32, out: i32, tmp: usize,
): void {
  // @ts-ignore: RELAXED is defined on the asc command line
  if (!RELAXED) unreachable();
  gemm<i8>(m, n, k, a, lda, w, c, ldc, cb, rb, ru, cv, mult, mrow, yz, lo, hi, out, tmp, C4);
}
