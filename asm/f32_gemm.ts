import { clampv, storeRow } from './vec';
import { madd } from './madd';
// f32 GEMM family (WebAssembly SIMD128). C[M×N] = clamp(A[M×K] · W + bias, min, max)
//
// W is packed once per session by f32_gemm_pack_8 into panels of NR = 8 columns (XNNPACK's "goi" packing):
//   panel p: 8 bias floats, then K rows of 8 weights (columns n0..n0+7, zero-padded past N).
// The micro-kernel keeps a 4×8 tile of C in eight v128 accumulators; A is read row-wise and broadcast.
// All pointers are byte offsets into this module's linear memory; shape math stays in TypeScript.

/** Pack W[K×N] (row-major, stride ldw floats) and bias[N] (0 = none) into 8-wide panels at `out`. */
export function f32_gemm_pack_8(n: i32, k: i32, w: usize, ldw: i32, bias: usize, out: usize): void {
  for (let n0 = 0; n0 < n; n0 += 8) {
    const nc = min(8, n - n0);
    for (let j = 0; j < 8; j++) {
      f32.store(out + (j << 2), j < nc && bias != 0 ? f32.load(bias + ((n0 + j) << 2)) : 0);
    }
    out += 32;
    if (nc == 8) {
      // full panels: two vectors per row
      for (let kk = 0; kk < k; kk++) {
        const row = w + ((<usize>kk * ldw + n0) << 2);
        v128.store(out, v128.load(row));
        v128.store(out, v128.load(row, 16), 16);
        out += 32;
      }
      continue;
    }
    for (let kk = 0; kk < k; kk++) {
      const row = w + ((<usize>kk * ldw + n0) << 2);
      for (let j = 0; j < 8; j++) f32.store(out + (j << 2), j < nc ? f32.load(row + (j << 2)) : 0);
      out += 32;
    }
  }
}

/**
 * Pack a transposed operand: element (kk, j) of the K×N weight is read at w[j·ldw + kk] (Bᵀ stored N×K, row stride ldw
 * floats), so MatMul(A, Transpose(X)) — Q·Kᵀ — packs X in place without materializing the transpose. No bias.
 */
export function f32_gemm_pack_8_t(n: i32, k: i32, w: usize, ldw: i32, out: usize): void {
  for (let n0 = 0; n0 < n; n0 += 8) {
    const nc = min(8, n - n0);
    v128.store(out, f32x4.splat(0));
    v128.store(out, f32x4.splat(0), 16);
    out += 32;
    for (let kk = 0; kk < k; kk++) {
      for (let j = 0; j < 8; j++) f32.store(out + (j << 2), j < nc ? f32.load(w + ((<usize>(n0 + j) * ldw + kk) << 2)) : 0);
      out += 32;
    }
  }
}

/** Bytes f32_gemm_pack_8 writes for an N×K weight. */
export function f32_gemm_packed_size_8(n: i32, k: i32): i32 {
  return ((n + 7) >> 3) * (k + 1) * 32;
}

/**
 * 4×8 micro-kernel: rows a..a+mr (mr ≤ 4, stride lda floats) times one packed panel w, writing nc ≤ 8 columns.
 * Rows past mr alias the last valid row (their results are discarded), so the loop has no row branches.
 */
export function f32_gemm_4x8(mr: i32, nc: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize): void {
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
  if (rb != 0) {
    // per-row bias (conv output channels are rows): added on top of the panel's per-column bias
    const r0 = f32x4.splat(f32.load(rb));
    const r1 = f32x4.splat(mr > 1 ? f32.load(rb, 4) : 0);
    const r2 = f32x4.splat(mr > 2 ? f32.load(rb, 8) : 0);
    const r3 = f32x4.splat(mr > 3 ? f32.load(rb, 12) : 0);
    acc00 = f32x4.add(acc00, r0);
    acc01 = f32x4.add(acc01, r0);
    acc10 = f32x4.add(acc10, r1);
    acc11 = f32x4.add(acc11, r1);
    acc20 = f32x4.add(acc20, r2);
    acc21 = f32x4.add(acc21, r2);
    acc30 = f32x4.add(acc30, r3);
    acc31 = f32x4.add(acc31, r3);
  }
  let wp = w + 32;
  const kb = (<usize>k) << 2;
  let kk: usize = 0;
  // two k-steps per iteration (half the loop overhead; same order of adds per accumulator), then the odd one.
  // One load-and-broadcast instruction per A element.
  for (; kk + 4 < kb; kk += 8) {
    const b0 = v128.load(wp);
    const b1 = v128.load(wp, 16);
    let x0 = v128.load32_splat(a0 + kk);
    let x1 = v128.load32_splat(a1 + kk);
    let x2 = v128.load32_splat(a2 + kk);
    let x3 = v128.load32_splat(a3 + kk);
    acc00 = madd(x0, b0, acc00);
    acc01 = madd(x0, b1, acc01);
    acc10 = madd(x1, b0, acc10);
    acc11 = madd(x1, b1, acc11);
    acc20 = madd(x2, b0, acc20);
    acc21 = madd(x2, b1, acc21);
    acc30 = madd(x3, b0, acc30);
    acc31 = madd(x3, b1, acc31);
    const b2 = v128.load(wp, 32);
    const b3 = v128.load(wp, 48);
    wp += 64;
    x0 = v128.load32_splat(a0 + kk, 4);
    x1 = v128.load32_splat(a1 + kk, 4);
    x2 = v128.load32_splat(a2 + kk, 4);
    x3 = v128.load32_splat(a3 + kk, 4);
    acc00 = madd(x0, b2, acc00);
    acc01 = madd(x0, b3, acc01);
    acc10 = madd(x1, b2, acc10);
    acc11 = madd(x1, b3, acc11);
    acc20 = madd(x2, b2, acc20);
    acc21 = madd(x2, b3, acc21);
    acc30 = madd(x3, b2, acc30);
    acc31 = madd(x3, b3, acc31);
  }
  if (kk < kb) {
    const b0 = v128.load(wp);
    const b1 = v128.load(wp, 16);
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

/**
 * 1×8 micro-kernel for single rows (batch-1 fully-connected layers, GEMV): the 4×8 tile would spend three
 * quarters of its work on aliased rows. K is unrolled by two into independent accumulators (even and odd k,
 * added at the end) so the adds do not wait on one dependency chain.
 */
export function f32_gemm_1x8(nc: i32, k: i32, a: usize, w: usize, c: usize, lo: f32, hi: f32, rb: f32): void {
  const vr = f32x4.splat(rb);
  let e0 = f32x4.add(v128.load(w), vr);
  let e1 = f32x4.add(v128.load(w, 16), vr);
  let o0 = f32x4.splat(0);
  let o1 = f32x4.splat(0);
  let wp = w + 32;
  let kk = 0;
  for (; kk + 1 < k; kk += 2) {
    const x0 = v128.load32_splat(a + (<usize>kk << 2));
    const x1 = v128.load32_splat(a + (<usize>kk << 2), 4);
    e0 = madd(x0, v128.load(wp), e0);
    e1 = madd(x0, v128.load(wp, 16), e1);
    o0 = madd(x1, v128.load(wp, 32), o0);
    o1 = madd(x1, v128.load(wp, 48), o1);
    wp += 64;
  }
  if (kk < k) {
    const x0 = v128.load32_splat(a + (<usize>kk << 2));
    e0 = madd(x0, v128.load(wp), e0);
    e1 = madd(x0, v128.load(wp, 16), e1);
  }
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  storeRow(c, nc, clampv(f32x4.add(e0, o0), vlo, vhi), clampv(f32x4.add(e1, o1), vlo, vhi));
}

/**
 * Whole GEMM over packed weights: tiles of 4 rows × 8 columns. `rb` (0 = none) points at one bias per row
 * of C, added to the packed per-column bias.
 */
export function f32_gemm(m: i32, n: i32, k: i32, a: usize, lda: i32, w: usize, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize): void {
  const panel = (<usize>(k + 1)) << 5;
  if (m == 1) {
    // one row: the GEMV kernel (results agree with the tiled path to float rounding, not bit for bit)
    let wp = w;
    const r: f32 = rb != 0 ? f32.load(rb) : 0;
    for (let n0 = 0; n0 < n; n0 += 8) {
      f32_gemm_1x8(min(8, n - n0), k, a, wp, c + (<usize>n0 << 2), lo, hi, r);
      wp += panel;
    }
    return;
  }
  // Cache blocking over N: a block of panels (≤ ~64 KB, L2-resident) is swept by every 4-row block of A before
  // the next block is touched, so wide B (conv pixels: N = 12544 at 112×112) is read from L2 M/4 times instead
  // of from memory. Each output element is still computed by the same micro-kernel call (bit-identical).
  const block = blockCols(k); // columns per block, a multiple of 8
  for (let nb = 0; nb < n; nb += block) {
    const ne = min(n, nb + block);
    for (let i = 0; i < m; i += 4) {
      const mr = min(4, m - i);
      const ai = a + ((<usize>i * lda) << 2);
      const ci = c + ((<usize>i * ldc) << 2);
      let wp = w + (<usize>(nb >> 3)) * panel;
      for (let n0 = nb; n0 < ne; n0 += 8) {
        f32_gemm_4x8(mr, min(8, n - n0), k, ai, lda, wp, ci + (<usize>n0 << 2), ldc, lo, hi, rb != 0 ? rb + ((<usize>i) << 2) : 0);
        wp += panel;
      }
    }
  }
}


/**
 * Pack A[M×K] (row stride lda floats) into strips of 4 rows interleaved by k — strip s holds, for each kk, the four
 * floats A[4s..4s+3][kk] (16 bytes) — so f32_gemm_4x8_pa reads its four broadcasts from one pointer at fixed offsets.
 * Rows past M in the last strip alias row M − 1 (their results are discarded). Writes f32_gemm_pa_scratch(m, k) bytes.
 */
export function f32_gemm_pack_a4(m: i32, k: i32, a: usize, lda: i32, out: usize): void {
  const sa = (<usize>lda) << 2;
  for (let i = 0; i < m; i += 4) {
    const mr = min(4, m - i);
    const a0 = a + <usize>i * sa;
    const a1 = mr > 1 ? a0 + sa : a0;
    const a2 = mr > 2 ? a1 + sa : a1;
    const a3 = mr > 3 ? a2 + sa : a2;
    let kk = 0;
    // 4×4 blocks transposed in registers
    for (; kk + 4 <= k; kk += 4) {
      const o = <usize>kk << 2;
      const r0 = v128.load(a0 + o);
      const r1 = v128.load(a1 + o);
      const r2 = v128.load(a2 + o);
      const r3 = v128.load(a3 + o);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      v128.store(out, v128.shuffle<f64>(t0, t1, 0, 2));
      v128.store(out, v128.shuffle<f64>(t0, t1, 1, 3), 16);
      v128.store(out, v128.shuffle<f64>(t2, t3, 0, 2), 32);
      v128.store(out, v128.shuffle<f64>(t2, t3, 1, 3), 48);
      out += 64;
    }
    for (; kk < k; kk++) {
      const o = <usize>kk << 2;
      f32.store(out, f32.load(a0 + o));
      f32.store(out, f32.load(a1 + o), 4);
      f32.store(out, f32.load(a2 + o), 8);
      f32.store(out, f32.load(a3 + o), 12);
      out += 16;
    }
  }
}

/** Bytes f32_gemm_pack_a4 writes for M×K. */
export function f32_gemm_pa_scratch(m: i32, k: i32): i32 {
  return ((m + 3) >> 2) * (k << 4);
}

/**
 * 4×8 micro-kernel over a packed A strip (f32_gemm_pack_a4) and one packed panel: the same products and the same order
 * of adds per accumulator as f32_gemm_4x8 (bit-identical results), but one A pointer with fixed offsets and one k-step
 * per iteration — V8 keeps this loop in registers (fourteen xmm), where the 4-pointer, 2-step loop of f32_gemm_4x8 runs
 * at ~60 % of the speed with the data in L1 (28 vs 42 GFLOP/s measured on the bench machine).
 */
export function f32_gemm_4x8_pa(mr: i32, nc: i32, k: i32, ap: usize, w: usize, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize): void {
  tile4x8pa(mr, nc, k, ap, w, c, ldc, lo, hi, rb, false, 0, 0, 0);
}

/** f32_gemm_4x8_pa with tile4x8pa's fused residual (radd: at c + roff) and per-row channel steps (ep, em). */
function f32_gemm_4x8_pa_epi(mr: i32, nc: i32, k: i32, ap: usize, w: usize, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize, radd: bool, roff: usize, ep: usize, em: i32): void {
  tile4x8pa(mr, nc, k, ap, w, c, ldc, lo, hi, rb, radd, roff, ep, em);
}

/** Lanes 0 … n − 1 (n = 0 … 4) of the floats at p, the rest 0 (a residual row's last partial vector). */
// @ts-ignore: decorator
@inline
function loadLanes(p: usize, n: i32): v128 {
  if (n >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  if (n > 0) v = f32x4.replace_lane(v, 0, f32.load(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, f32.load(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, f32.load(p, 8));
  return v;
}

/**
 * One output row's fused epilogue: + the residual row at c + roff (radd), clamp, then the row's channel steps from
 * its 16-byte entry at ep: em & 1 PRelu by ep[0], em & 2 the affine ep[2] + ep[1]·y (f32_dwconv1x1's madd).
 */
// @ts-ignore: decorator
@inline
function epiRow(c: usize, nc: i32, v0: v128, v1: v128, radd: bool, roff: usize, clamp: bool, vlo: v128, vhi: v128, ep: usize, em: i32): void {
  let a = v0;
  let b = v1;
  if (radd) {
    // y + r as f32_binary's add pass computes it (one IEEE add per element)
    const r = c + roff;
    a = f32x4.add(a, loadLanes(r, nc));
    b = f32x4.add(b, loadLanes(r + 16, nc - 4));
  }
  if (clamp) {
    a = clampv(a, vlo, vhi);
    b = clampv(b, vlo, vhi);
  }
  if (em & 1) {
    // x < 0 ? x·slope : x, as f32_prelu_channels' select
    const s = f32x4.splat(f32.load(ep));
    const z = f32x4.splat(0);
    a = v128.bitselect(f32x4.mul(a, s), a, f32x4.lt(a, z));
    b = v128.bitselect(f32x4.mul(b, s), b, f32x4.lt(b, z));
  }
  if (em & 2) {
    const s = f32x4.splat(f32.load(ep, 4));
    const t = f32x4.splat(f32.load(ep, 8));
    a = madd(s, a, t);
    b = madd(s, b, t);
  }
  storeRow(c, nc, a, b);
}

/**
 * f32_gemm_4x8_pa's tile with an optional fused epilogue after the clamp-free sum: radd adds the residual tile at
 * c + roff (same layout and ldc as C), then the clamp [lo, hi], then per-row channel steps (em ≠ 0: a PRelu and / or a
 * per-channel affine, one 16-byte entry per row from ep; epiRow) — the arithmetic of the separate residual, PRelu
 * and affine passes, element by element.
 */
// @ts-ignore: decorator
@inline
function tile4x8pa(mr: i32, nc: i32, k: i32, ap: usize, w: usize, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize, radd: bool, roff: usize, ep: usize, em: i32): void {
  const sc = (<usize>ldc) << 2;
  let acc00 = v128.load(w);
  let acc01 = v128.load(w, 16);
  let acc10 = acc00;
  let acc11 = acc01;
  let acc20 = acc00;
  let acc21 = acc01;
  let acc30 = acc00;
  let acc31 = acc01;
  if (rb != 0) {
    // per-row bias (conv output channels are rows), added to the panel's per-column bias as f32_gemm_4x8 does
    const r0 = f32x4.splat(f32.load(rb));
    const r1 = f32x4.splat(mr > 1 ? f32.load(rb, 4) : 0);
    const r2 = f32x4.splat(mr > 2 ? f32.load(rb, 8) : 0);
    const r3 = f32x4.splat(mr > 3 ? f32.load(rb, 12) : 0);
    acc00 = f32x4.add(acc00, r0);
    acc01 = f32x4.add(acc01, r0);
    acc10 = f32x4.add(acc10, r1);
    acc11 = f32x4.add(acc11, r1);
    acc20 = f32x4.add(acc20, r2);
    acc21 = f32x4.add(acc21, r2);
    acc30 = f32x4.add(acc30, r3);
    acc31 = f32x4.add(acc31, r3);
  }
  let wp = w + 32;
  const end = ap + ((<usize>k) << 4);
  for (let p = ap; p < end; p += 16) {
    const b0 = v128.load(wp);
    const b1 = v128.load(wp, 16);
    wp += 32;
    const x0 = v128.load32_splat(p);
    const x1 = v128.load32_splat(p, 4);
    const x2 = v128.load32_splat(p, 8);
    const x3 = v128.load32_splat(p, 12);
    acc00 = madd(x0, b0, acc00);
    acc01 = madd(x0, b1, acc01);
    acc10 = madd(x1, b0, acc10);
    acc11 = madd(x1, b1, acc11);
    acc20 = madd(x2, b0, acc20);
    acc21 = madd(x2, b1, acc21);
    acc30 = madd(x3, b0, acc30);
    acc31 = madd(x3, b1, acc31);
  }
  if (radd || em != 0) {
    const clamp = lo != -Infinity || hi != Infinity;
    const vlo = f32x4.splat(lo);
    const vhi = f32x4.splat(hi);
    epiRow(c, nc, acc00, acc01, radd, roff, clamp, vlo, vhi, ep, em);
    if (mr > 1) epiRow(c + sc, nc, acc10, acc11, radd, roff, clamp, vlo, vhi, ep + 16, em);
    if (mr > 2) epiRow(c + 2 * sc, nc, acc20, acc21, radd, roff, clamp, vlo, vhi, ep + 32, em);
    if (mr > 3) epiRow(c + 3 * sc, nc, acc30, acc31, radd, roff, clamp, vlo, vhi, ep + 48, em);
    return;
  }
  if (lo != -Infinity || hi != Infinity) {
    const vlo = f32x4.splat(lo);
    const vhi = f32x4.splat(hi);
    acc00 = clampv(acc00, vlo, vhi);
    acc01 = clampv(acc01, vlo, vhi);
    acc10 = clampv(acc10, vlo, vhi);
    acc11 = clampv(acc11, vlo, vhi);
    acc20 = clampv(acc20, vlo, vhi);
    acc21 = clampv(acc21, vlo, vhi);
    acc30 = clampv(acc30, vlo, vhi);
    acc31 = clampv(acc31, vlo, vhi);
  }
  storeRow(c, nc, acc00, acc01);
  if (mr > 1) storeRow(c + sc, nc, acc10, acc11);
  if (mr > 2) storeRow(c + 2 * sc, nc, acc20, acc21);
  if (mr > 3) storeRow(c + 3 * sc, nc, acc30, acc31);
}

/**
 * f32_gemm over an A packed by f32_gemm_pack_a4 (`ap`, strips of 4 rows; M ≥ 1; rb: one bias per row or 0): the same cache
 * blocking over N and the same micro-kernel arithmetic as f32_gemm's 4×8 path, so C is bit-identical to it for M ≥ 2.
 * Column chunks of a thread split pass w/c offset by whole panels, row chunks (multiples of 4 rows) ap offset by strips.
 */
export function f32_gemm_pa(m: i32, n: i32, k: i32, ap: usize, w: usize, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize): void {
  gemmPa(m, n, k, ap, w, c, ldc, lo, hi, rb, false, 0, 0, 0);
}

/**
 * f32_gemm_pa with the fused epilogue of tile4x8pa: radd ≠ 0 adds the residual at c + roff (bytes; same layout as C)
 * before the clamp, then per-row channel steps (em: 1 PRelu, 2 affine; ep: m entries of 16 bytes [slope, scale, bias,
 * −]) — a conv followed by Add(·, r), PRelu and a depthwise 1×1 in one pass over its output instead of four.
 */
export function f32_gemm_pa_epi(m: i32, n: i32, k: i32, ap: usize, w: usize, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize, radd: i32, roff: i32, ep: usize, em: i32): void {
  gemmPa(m, n, k, ap, w, c, ldc, lo, hi, rb, radd != 0, <usize>roff, ep, em);
}

// @ts-ignore: decorator
@inline
function gemmPa(m: i32, n: i32, k: i32, ap: usize, w: usize, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize, radd: bool, roff: usize, ep: usize, em: i32): void {
  const panel = (<usize>(k + 1)) << 5;
  const strip = (<usize>k) << 4;
  const block = blockCols(k);
  for (let nb = 0; nb < n; nb += block) {
    const ne = min(n, nb + block);
    for (let i = 0; i < m; i += 4) {
      const mr = min(4, m - i);
      const as = ap + (<usize>(i >> 2)) * strip;
      const ci = c + ((<usize>i * ldc) << 2);
      let wp = w + (<usize>(nb >> 3)) * panel;
      for (let n0 = nb; n0 < ne; n0 += 8) {
        if (radd || em != 0) f32_gemm_4x8_pa_epi(mr, min(8, n - n0), k, as, wp, ci + (<usize>n0 << 2), ldc, lo, hi, rb != 0 ? rb + ((<usize>i) << 2) : 0, radd, roff, ep + ((<usize>i) << 4), em);
        else f32_gemm_4x8_pa(mr, min(8, n - n0), k, as, wp, ci + (<usize>n0 << 2), ldc, lo, hi, rb != 0 ? rb + ((<usize>i) << 2) : 0);
        wp += panel;
      }
    }
  }
}

/**
 * One row times the transpose of N rows, unpacked: y[j] = Σ_k x[k]·b[j·ldb + k] for j < n. A decoder step's q·Kᵀ
 * over a KV cache (k = head size, rows = cached positions, ldb ≥ k): each score reads its cache row once, where packing
 * Kᵀ into panels first would read and write every row an extra time for a single use.
 */
export function f32_gemv_t(n: i32, k: i32, x: usize, b: usize, ldb: i32, y: usize): void {
  const k4 = k & ~3;
  for (let j = 0; j < n; j++) {
    const row = b + ((<usize>j * ldb) << 2);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let kk = 0;
    for (; kk + 8 <= k; kk += 8) {
      const o = <usize>kk << 2;
      a0 = madd(v128.load(x + o), v128.load(row + o), a0);
      a1 = madd(v128.load(x + o, 16), v128.load(row + o, 16), a1);
    }
    if (kk < k4) {
      const o = <usize>kk << 2;
      a0 = madd(v128.load(x + o), v128.load(row + o), a0);
      kk += 4;
    }
    const s = f32x4.add(a0, a1);
    let acc = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
    for (; kk < k; kk++) acc += f32.load(x + (<usize>kk << 2)) * f32.load(row + (<usize>kk << 2));
    f32.store(y + (<usize>j << 2), acc);
  }
}

/**
 * One row times K unpacked rows: y[c] = Σ_r x[r]·b[r·ldb + c] for c < n. A decoder step's softmax·V over a KV cache
 * (r = cached positions, n = head size, ldb ≥ n): 16 columns are accumulated in registers across all rows, then stored.
 */
export function f32_gemv_n(n: i32, k: i32, x: usize, b: usize, ldb: i32, y: usize): void {
  let c0 = 0;
  for (; c0 + 16 <= n; c0 += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let r = 0; r < k; r++) {
      const xv = v128.load32_splat(x + (<usize>r << 2));
      const row = b + ((<usize>r * ldb + c0) << 2);
      a0 = madd(xv, v128.load(row), a0);
      a1 = madd(xv, v128.load(row, 16), a1);
      a2 = madd(xv, v128.load(row, 32), a2);
      a3 = madd(xv, v128.load(row, 48), a3);
    }
    const yo = y + (<usize>c0 << 2);
    v128.store(yo, a0);
    v128.store(yo, a1, 16);
    v128.store(yo, a2, 32);
    v128.store(yo, a3, 48);
  }
  for (; c0 + 4 <= n; c0 += 4) {
    let a0 = f32x4.splat(0);
    for (let r = 0; r < k; r++) a0 = madd(v128.load32_splat(x + (<usize>r << 2)), v128.load(b + ((<usize>r * ldb + c0) << 2)), a0);
    v128.store(y + (<usize>c0 << 2), a0);
  }
  for (; c0 < n; c0++) {
    let acc: f32 = 0;
    for (let r = 0; r < k; r++) acc += f32.load(x + (<usize>r << 2)) * f32.load(b + ((<usize>r * ldb + c0) << 2));
    f32.store(y + (<usize>c0 << 2), acc);
  }
}

/** Columns of B per cache block of f32_gemm / f32_gemm_blockpack: panels of (K + 1)·32 bytes, ≤ ~64 KB per block. */
// @ts-ignore: decorator
@inline
function blockCols(k: i32): i32 {
  return <i32>max<usize>(8, (<usize>65536 / ((<usize>(k + 1)) << 5)) << 3);
}

/** Scratch bytes f32_gemm_blockpack needs for K: one cache block of packed panels. */
export function f32_gemm_blockpack_scratch(k: i32): i32 {
  return (blockCols(k) >> 3) * ((k + 1) << 5);
}

/**
 * C[M×N] = clamp(A[M×K] · B[K×N] + rb, lo, hi) with B unpacked in memory (row stride ldb floats) — a pointwise
 * (1×1, stride 1, unpadded) NCHW conv: A = weights, B = the input's channel planes, rb = one bias per row (0 = none).
 * Instead of packing all of B first (a K·N-float round trip through memory), each cache block of columns is packed
 * into `scratch` (f32_gemm_blockpack_scratch bytes) row by row — sequential reads of B, and no power-of-two row
 * stride aliasing, which reading B in place suffers at 64×64 / 128×128 planes — and swept by every 4-row block of A
 * while it is L2-resident. The panels and micro-kernel calls are f32_gemm's: the same bits as f32_gemm over
 * f32_gemm_pack_8(B).
 */
export function f32_gemm_blockpack(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize, scratch: usize): void {
  blockpack(m, n, k, a, lda, 0, b, ldb, c, ldc, lo, hi, rb, scratch, false, 0, 0, 0);
}

/**
 * f32_gemm_blockpack with A = constant conv weights packed once into 4-row strips (f32_gemm_pack_a4, `ap`; M ≥ 2):
 * the same panels and the same products in the same order (bit-identical), on the one-pointer micro-kernel
 * f32_gemm_4x8_pa. Row chunks of a thread split pass ap offset by whole strips (multiples of 4 rows).
 */
export function f32_gemm_blockpack_pa(m: i32, n: i32, k: i32, ap: usize, b: usize, ldb: i32, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize, scratch: usize): void {
  blockpack(m, n, k, 0, 0, ap, b, ldb, c, ldc, lo, hi, rb, scratch, false, 0, 0, 0);
}

/** f32_gemm_blockpack_pa with f32_gemm_pa_epi's fused residual (radd, roff bytes) and per-row channel steps (ep, em). */
export function f32_gemm_blockpack_pa_epi(m: i32, n: i32, k: i32, ap: usize, b: usize, ldb: i32, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize, scratch: usize, radd: i32, roff: i32, ep: usize, em: i32): void {
  blockpack(m, n, k, 0, 0, ap, b, ldb, c, ldc, lo, hi, rb, scratch, radd != 0, <usize>roff, ep, em);
}

// @ts-ignore: decorator
@inline
function blockpack(m: i32, n: i32, k: i32, a: usize, lda: i32, ap: usize, b: usize, ldb: i32, c: usize, ldc: i32, lo: f32, hi: f32, rb: usize, scratch: usize, radd: bool, roff: usize, ep: usize, em: i32): void {
  const panel = (<usize>(k + 1)) << 5;
  const block = blockCols(k);
  const z = f32x4.splat(0);
  for (let nb = 0; nb < n; nb += block) {
    const ne = min(n, nb + block);
    const np = (ne - nb + 7) >> 3;
    const full = (ne - nb) >> 3;
    // zero bias rows, then B's rows kk into row kk + 1 of every panel of the block
    for (let j = 0; j < np; j++) {
      v128.store(scratch + <usize>j * panel, z);
      v128.store(scratch + <usize>j * panel, z, 16);
    }
    for (let kk = 0; kk < k; kk++) {
      const row = b + ((<usize>kk * ldb + nb) << 2);
      let dst = scratch + ((<usize>(kk + 1)) << 5);
      for (let j = 0; j < full; j++) {
        v128.store(dst, v128.load(row + ((<usize>j) << 5)));
        v128.store(dst, v128.load(row + ((<usize>j) << 5), 16), 16);
        dst += panel;
      }
      if (full < np) {
        const r = row + ((<usize>full) << 5);
        const nc = ne - nb - (full << 3);
        for (let j = 0; j < 8; j++) f32.store(dst + (j << 2), j < nc ? f32.load(r + (j << 2)) : 0);
      }
    }
    if (m == 1 && ap == 0) {
      const r: f32 = rb != 0 ? f32.load(rb) : 0;
      for (let j = 0; j < np; j++) f32_gemm_1x8(min(8, ne - nb - (j << 3)), k, a, scratch + <usize>j * panel, c + (<usize>(nb + (j << 3)) << 2), lo, hi, r);
      continue;
    }
    if (ap != 0) {
      const strip = (<usize>k) << 4;
      for (let i = 0; i < m; i += 4) {
        const mr = min(4, m - i);
        const as = ap + (<usize>(i >> 2)) * strip;
        const ci = c + ((<usize>i * ldc) << 2);
        const ri = rb != 0 ? rb + ((<usize>i) << 2) : 0;
        const ei = ep + ((<usize>i) << 4);
        if (radd || em != 0) for (let j = 0; j < np; j++) f32_gemm_4x8_pa_epi(mr, min(8, ne - nb - (j << 3)), k, as, scratch + <usize>j * panel, ci + (<usize>(nb + (j << 3)) << 2), ldc, lo, hi, ri, radd, roff, ei, em);
        else for (let j = 0; j < np; j++) f32_gemm_4x8_pa(mr, min(8, ne - nb - (j << 3)), k, as, scratch + <usize>j * panel, ci + (<usize>(nb + (j << 3)) << 2), ldc, lo, hi, ri);
      }
      continue;
    }
    for (let i = 0; i < m; i += 4) {
      const mr = min(4, m - i);
      const ai = a + ((<usize>i * lda) << 2);
      const ci = c + ((<usize>i * ldc) << 2);
      const ri = rb != 0 ? rb + ((<usize>i) << 2) : 0;
      for (let j = 0; j < np; j++) f32_gemm_4x8(mr, min(8, ne - nb - (j << 3)), k, ai, lda, scratch + <usize>j * panel, ci + (<usize>(nb + (j << 3)) << 2), ldc, lo, hi, ri);
    }
  }
}
