// Block-quantized int8 GEMM for com.microsoft MatMulNBits with accuracy_level = 4 ("int8 compute", onnxruntime's
// CompInt8 path): the 4/8-bit weight codes minus their zero points are unpacked once into int8 c2 panels (the layout of
// asm/qs8_gemm.ts, qs8_pack_b), A is quantized per row to symmetric int8 at run time, and
//
//   Y[i, j] = sa[i] · Σ_blk ws[blk, j] · Σ_{k ∈ blk} qa[i, k] · qb[k, j]  + bias[j]
//
// where the inner sums are exact int32 (i32x4.dot_i16x8_s, as in qs8_gemm) and the outer sum runs in float32, one block
// of `bs` k (a multiple of 8) at a time. Block scales are stored per panel of 8 columns: ws at
// (panel · kBlocks + blk) · 32 bytes, 8 float32 (padding columns 0). A rows are K8 = ceil(K/8)·8 int8 (zero-padded).

/**
 * Per row i < m of x (float32 [m × k]): sa[i] = max|x[i, ·]| / 127 and q[i, kk] = clamp(nearest(x / sa[i]), ±127) as
 * int8 at out + i·k8 (bytes k … k8 − 1 zero). A row of zeros (or one whose maximum is not finite) gets sa = 0 and
 * codes 0 — a non-finite row would poison every output anyway, so the caller checks sa first (see src/kernels/nbits.ts).
 */
export function f32_rowquant_s8(x: usize, m: i32, k: i32, out: usize, sa: usize): void {
  const k8 = ((k + 7) >> 3) << 3;
  for (let i = 0; i < m; i++) {
    const row = x + ((<usize>i * <usize>k) << 2);
    let vm = f32x4.splat(0);
    let kk = 0;
    for (; kk + 4 <= k; kk += 4) vm = f32x4.pmax(vm, f32x4.abs(v128.load(row + (<usize>kk << 2))));
    let amax = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
    for (; kk < k; kk++) {
      const v = abs<f32>(load<f32>(row + (<usize>kk << 2)));
      if (v > amax) amax = v;
    }
    const dst = out + <usize>i * <usize>k8;
    let s: f32 = amax / 127;
    if (!(s > 0) || !isFinite<f32>(s)) {
      s = 0;
      memory.fill(dst, 0, k8);
      store<f32>(sa + (<usize>i << 2), s);
      continue;
    }
    store<f32>(sa + (<usize>i << 2), s);
    const inv = f32x4.splat(1 / s);
    // pmin/pmax (one minps/maxps each): ±127 bounds, x first, and trunc_sat after — the same codes as min/max
    const lo = f32x4.splat(-127);
    const hi = f32x4.splat(127);
    kk = 0;
    for (; kk + 8 <= k; kk += 8) {
      const p = row + (<usize>kk << 2);
      const q0 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(f32x4.pmax(f32x4.nearest(f32x4.mul(v128.load(p), inv)), lo), hi));
      const q1 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(f32x4.pmax(f32x4.nearest(f32x4.mul(v128.load(p, 16), inv)), lo), hi));
      const h = i16x8.narrow_i32x4_s(q0, q1);
      v128.store64_lane(dst + <usize>kk, i8x16.narrow_i16x8_s(h, h), 0);
    }
    const r: f32 = 1 / s;
    for (; kk < k8; kk++) {
      let q: i32 = 0;
      if (kk < k) {
        const v = nearest<f32>(load<f32>(row + (<usize>kk << 2)) * r);
        q = v != v ? 0 : <i32>min<f32>(max<f32>(v, -127), 127);
      }
      store<i8>(dst + <usize>kk, <i8>q);
    }
  }
}

// @ts-ignore: decorator
@inline
function fma4(f: v128, c: v128, s: v128): v128 {
  return f32x4.add(f, f32x4.mul(f32x4.convert_i32x4_s(c), s));
}

// @ts-ignore: decorator
@inline
function storeRowF(f0: v128, f1: v128, sa: f32, bias: usize, n0: i32, nc: i32, c: usize, tmp: usize): void {
  const s = f32x4.splat(sa);
  let y0 = f32x4.mul(f0, s);
  let y1 = f32x4.mul(f1, s);
  if (bias != 0) {
    y0 = f32x4.add(y0, v128.load(bias + (<usize>n0 << 2)));
    y1 = f32x4.add(y1, v128.load(bias + (<usize>n0 << 2), 16));
  }
  if (nc == 8) {
    v128.store(c, y0);
    v128.store(c, y1, 16);
    return;
  }
  v128.store(tmp, y0);
  v128.store(tmp, y1, 16);
  for (let j = 0; j < nc; j++) store<f32>(c + (<usize>j << 2), load<f32>(tmp + (<usize>j << 2)));
}

/** 4 rows × 8 columns (one panel) over all blocks; rows past mr alias the last valid row and are not stored. */
// @ts-ignore: decorator
@inline
function tileNb4(
  mr: i32, nc: i32, k8: i32, bs: i32, kBlocks: i32, a: usize, lda: i32, sa: usize, i: i32, w: usize, ws: usize, bias: usize, n0: i32, c: usize, ldc: i32, tmp: usize,
): void {
  const sl = <usize>lda;
  const a0 = a;
  const a1 = mr > 1 ? a0 + sl : a0;
  const a2 = mr > 2 ? a1 + sl : a1;
  const a3 = mr > 3 ? a2 + sl : a2;
  let f00 = f32x4.splat(0);
  let f01 = f00, f10 = f00, f11 = f00, f20 = f00, f21 = f00, f30 = f00, f31 = f00;
  let wp = w;
  let sp = ws;
  for (let blk = 0; blk < kBlocks; blk++) {
    const kb0 = blk * bs;
    const kb1 = min(kb0 + bs, k8);
    let c00 = i32x4.splat(0);
    let c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (let kk = <usize>kb0; kk < <usize>kb1; kk += 8) {
      const x0 = v128.load8x8_s(a0 + kk);
      const x1 = v128.load8x8_s(a1 + kk);
      const x2 = v128.load8x8_s(a2 + kk);
      const x3 = v128.load8x8_s(a3 + kk);
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
    const s0 = v128.load(sp);
    const s1 = v128.load(sp, 16);
    f00 = fma4(f00, c00, s0);
    f01 = fma4(f01, c01, s1);
    f10 = fma4(f10, c10, s0);
    f11 = fma4(f11, c11, s1);
    f20 = fma4(f20, c20, s0);
    f21 = fma4(f21, c21, s1);
    f30 = fma4(f30, c30, s0);
    f31 = fma4(f31, c31, s1);
    sp += 32;
  }
  const sc = <usize>ldc << 2;
  storeRowF(f00, f01, load<f32>(sa + (<usize>i << 2)), bias, n0, nc, c, tmp);
  if (mr > 1) storeRowF(f10, f11, load<f32>(sa + (<usize>(i + 1) << 2)), bias, n0, nc, c + sc, tmp);
  if (mr > 2) storeRowF(f20, f21, load<f32>(sa + (<usize>(i + 2) << 2)), bias, n0, nc, c + 2 * sc, tmp);
  if (mr > 3) storeRowF(f30, f31, load<f32>(sa + (<usize>(i + 3) << 2)), bias, n0, nc, c + 3 * sc, tmp);
}

/** 1 row × 8 columns: four independent int32 chains per block (the GEMV of a decoder step). */
// @ts-ignore: decorator
@inline
function tileNb1(k8: i32, bs: i32, kBlocks: i32, a: usize, sa: f32, w: usize, ws: usize, bias: usize, n0: i32, nc: i32, c: usize, tmp: usize): void {
  let f0 = f32x4.splat(0);
  let f1 = f0;
  let wp = w;
  let sp = ws;
  for (let blk = 0; blk < kBlocks; blk++) {
    const kb0 = blk * bs;
    const kb1 = min(kb0 + bs, k8);
    let p0 = i32x4.splat(0);
    let p1 = p0, q0 = p0, q1 = p0;
    for (let kk = <usize>kb0; kk < <usize>kb1; kk += 8) {
      const x = v128.load8x8_s(a + kk);
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
    f0 = fma4(f0, i32x4.add(p0, q0), v128.load(sp));
    f1 = fma4(f1, i32x4.add(p1, q1), v128.load(sp, 16));
    sp += 32;
  }
  storeRowF(f0, f1, sa, bias, n0, nc, c, tmp);
}

/**
 * Y[m × n] float32 (row stride ldc) from int8 A rows (stride lda, K8 bytes each) with per-row scales sa (float32[m]),
 * int8 c2 panels w (qs8_pack_b of the unpacked codes), block scales ws (see the file comment) for blocks of `bs` k
 * (a multiple of 8), and an optional bias (float32[N8], 0 = none). `tmp` points at 32 bytes of scratch.
 */
export function qs8_nbits_gemm(m: i32, n: i32, k: i32, a: usize, lda: i32, sa: usize, w: usize, bs: i32, ws: usize, bias: usize, c: usize, ldc: i32, tmp: usize): void {
  const k8 = ((k + 7) >> 3) << 3;
  const kBlocks = (k8 + bs - 1) / bs;
  const panel = <usize>k8 << 3;
  const spanel = <usize>kBlocks << 5;
  for (let i = 0; i < m; i += 4) {
    const mr = min(4, m - i);
    const ai = a + <usize>i * <usize>lda;
    const ci = c + ((<usize>i * <usize>ldc) << 2);
    let wp = w;
    let sp = ws;
    for (let n0 = 0; n0 < n; n0 += 8) {
      const nc = min(8, n - n0);
      if (mr == 1) tileNb1(k8, bs, kBlocks, ai, load<f32>(sa + (<usize>i << 2)), wp, sp, bias, n0, nc, ci + (<usize>n0 << 2), tmp);
      else tileNb4(mr, nc, k8, bs, kBlocks, ai, lda, sa, i, wp, sp, bias, n0, ci + (<usize>n0 << 2), ldc, tmp);
      wp += panel;
      sp += spanel;
    }
  }
}
