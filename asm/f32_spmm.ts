import { clampv, dwClampExact, dwClampZero, tapRow } from './vec';
import { madd } from './madd';
// f32 sparse-weight × dense-activation kernels (WebAssembly SIMD128). The weight is pruned and constant, so it is
// compressed once per session (in TypeScript, src/kernels/sparse.ts) into one of two layouts:
//
//  1×4 blocked CSR along N ("f32_spmm_1x4", for few activation rows, e.g. batch 1):
//    C[M×N] = A[M×K] · W[K×N]. Columns of W are grouped 4 at a time; for column block b the entries
//    bptr[b] … bptr[b+1]-1 each hold a byte offset k·4 into a row of A (kidx) and the 4 weights W[k, 4b…4b+3]
//    (vals, 16 bytes, zero past N). A block is stored when any of its 4 weights is non-zero.
//    Rows of A run 4 at a time and every stored block does one splat-multiply-add per row.
//
//  scalar CSR with SIMD across 8 activation columns ("f32_spmm_csr_8", for many rows / conv pixels):
//    C[N×P] = W[N×K] · X[K×P], X in the 8-column panels of f32_gemm_pack_8 / f32_im2col_pack_8 (panel q at
//    x + q·pstride, row k of the panel at +k·32). Row j of W holds entries rowptr[j] … rowptr[j+1]-1, each
//    a byte offset k·32 (kidx) and one weight (vals). Every stored weight does two 4-lane multiply-adds.
//    The output element (j, p) goes to c + (j·csn + p·csp)·4, so conv (csn = P, csp = 1) writes NCHW rows
//    and MatMul (X = Aᵀ packed by f32_spmm_pack_t8; csn = 1, csp = N) writes C[M×N] row-major.
//
// No allocation here: every pointer is a byte offset into the one linear memory, sized by the caller.

// @ts-ignore: decorator
@inline
function store4(c: usize, nc: i32, v: v128): void {
  if (nc >= 4) v128.store(c, v);
  else {
    f32.store(c, f32x4.extract_lane(v, 0));
    if (nc > 1) f32.store(c, f32x4.extract_lane(v, 1), 4);
    if (nc > 2) f32.store(c, f32x4.extract_lane(v, 2), 8);
  }
}

// @ts-ignore: decorator
@inline
function storei4(c: usize, nc: i32, v: v128): void {
  if (nc >= 4) v128.store(c, v);
  else {
    store<i32>(c, i32x4.extract_lane(v, 0));
    if (nc > 1) store<i32>(c, i32x4.extract_lane(v, 1), 4);
    if (nc > 2) store<i32>(c, i32x4.extract_lane(v, 2), 8);
  }
}

/**
 * C[m×n] = clamp(A[m×k] · W + bias, lo, hi) with W in 1×4 blocked CSR (see above). `bias` (0 = none) holds
 * ceil(n/4)·4 floats (zero-padded). lda / ldc are in floats.
 */
export function f32_spmm_1x4(m: i32, n: i32, a: usize, lda: i32, bptr: usize, kidx: usize, vals: usize, bias: usize, c: usize, ldc: i32, lo: f32, hi: f32): void {
  const nb = (n + 3) >> 2;
  const sa = (<usize>lda) << 2;
  const sc = (<usize>ldc) << 2;
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const a0 = a + <usize>i * sa;
    const a1 = a0 + sa;
    const a2 = a1 + sa;
    const a3 = a2 + sa;
    const ci = c + <usize>i * sc;
    for (let b = 0; b < nb; b++) {
      let acc0 = bias != 0 ? v128.load(bias + ((<usize>b) << 4)) : f32x4.splat(0);
      let acc1 = acc0;
      let acc2 = acc0;
      let acc3 = acc0;
      const e1 = load<i32>(bptr + ((<usize>b + 1) << 2));
      for (let e = load<i32>(bptr + ((<usize>b) << 2)); e < e1; e++) {
        const ko = <usize>load<i32>(kidx + ((<usize>e) << 2));
        const v = v128.load(vals + ((<usize>e) << 4));
        acc0 = f32x4.add(acc0, f32x4.mul(f32x4.splat(f32.load(a0 + ko)), v));
        acc1 = f32x4.add(acc1, f32x4.mul(f32x4.splat(f32.load(a1 + ko)), v));
        acc2 = f32x4.add(acc2, f32x4.mul(f32x4.splat(f32.load(a2 + ko)), v));
        acc3 = f32x4.add(acc3, f32x4.mul(f32x4.splat(f32.load(a3 + ko)), v));
      }
      const nc = min(4, n - (b << 2));
      const cb = ci + ((<usize>b) << 4);
      store4(cb, nc, clampv(acc0, vlo, vhi));
      store4(cb + sc, nc, clampv(acc1, vlo, vhi));
      store4(cb + 2 * sc, nc, clampv(acc2, vlo, vhi));
      store4(cb + 3 * sc, nc, clampv(acc3, vlo, vhi));
    }
  }
  // leftover rows one at a time; two accumulators over alternate blocks hide the add latency
  for (; i < m; i++) {
    const a0 = a + <usize>i * sa;
    const ci = c + <usize>i * sc;
    for (let b = 0; b < nb; b++) {
      let acc0 = bias != 0 ? v128.load(bias + ((<usize>b) << 4)) : f32x4.splat(0);
      let acc1 = f32x4.splat(0);
      const e1 = load<i32>(bptr + ((<usize>b + 1) << 2));
      let e = load<i32>(bptr + ((<usize>b) << 2));
      for (; e + 1 < e1; e += 2) {
        const k0 = <usize>load<i32>(kidx + ((<usize>e) << 2));
        const k1 = <usize>load<i32>(kidx + ((<usize>e) << 2), 4);
        const vp = vals + ((<usize>e) << 4);
        acc0 = f32x4.add(acc0, f32x4.mul(f32x4.splat(f32.load(a0 + k0)), v128.load(vp)));
        acc1 = f32x4.add(acc1, f32x4.mul(f32x4.splat(f32.load(a0 + k1)), v128.load(vp, 16)));
      }
      if (e < e1) {
        const k0 = <usize>load<i32>(kidx + ((<usize>e) << 2));
        acc0 = f32x4.add(acc0, f32x4.mul(f32x4.splat(f32.load(a0 + k0)), v128.load(vals + ((<usize>e) << 4))));
      }
      store4(ci + ((<usize>b) << 4), min(4, n - (b << 2)), clampv(f32x4.add(acc0, acc1), vlo, vhi));
    }
  }
}

/**
 * C = clamp(W[n×K] · X[K×p] + bias, lo, hi) with W in scalar CSR and X in 8-column panels (see above).
 * `bias` (0 = none) holds n floats. Output element (j, col) at c + (j·csn + col·csp)·4.
 */
export function f32_spmm_csr_8(n: i32, p: i32, x: usize, pstride: i32, rowptr: usize, kidx: usize, vals: usize, bias: usize, c: usize, csn: i32, csp: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const panels = (p + 7) >> 3;
  for (let q = 0; q < panels; q++) {
    const xq = x + <usize>q * <usize>pstride;
    const pc = min(8, p - (q << 3));
    const cq = c + ((<usize>(q << 3) * <usize>csp) << 2);
    let e = load<i32>(rowptr);
    for (let j = 0; j < n; j++) {
      const bj: f32 = bias != 0 ? f32.load(bias + ((<usize>j) << 2)) : 0;
      let acc0 = f32x4.splat(bj);
      let acc1 = acc0;
      let acc2 = f32x4.splat(0);
      let acc3 = acc2;
      const e1 = load<i32>(rowptr + ((<usize>j + 1) << 2));
      for (; e + 1 < e1; e += 2) {
        const k0 = xq + <usize>load<i32>(kidx + ((<usize>e) << 2));
        const k1 = xq + <usize>load<i32>(kidx + ((<usize>e) << 2), 4);
        const v0 = f32x4.splat(f32.load(vals + ((<usize>e) << 2)));
        const v1 = f32x4.splat(f32.load(vals + ((<usize>e) << 2), 4));
        acc0 = f32x4.add(acc0, f32x4.mul(v0, v128.load(k0)));
        acc1 = f32x4.add(acc1, f32x4.mul(v0, v128.load(k0, 16)));
        acc2 = f32x4.add(acc2, f32x4.mul(v1, v128.load(k1)));
        acc3 = f32x4.add(acc3, f32x4.mul(v1, v128.load(k1, 16)));
      }
      if (e < e1) {
        const k0 = xq + <usize>load<i32>(kidx + ((<usize>e) << 2));
        const v0 = f32x4.splat(f32.load(vals + ((<usize>e) << 2)));
        acc0 = f32x4.add(acc0, f32x4.mul(v0, v128.load(k0)));
        acc1 = f32x4.add(acc1, f32x4.mul(v0, v128.load(k0, 16)));
        e++;
      }
      const r0 = clampv(f32x4.add(acc0, acc2), vlo, vhi);
      const r1 = clampv(f32x4.add(acc1, acc3), vlo, vhi);
      const cj = cq + ((<usize>j * <usize>csn) << 2);
      if (csp == 1) {
        if (pc == 8) {
          v128.store(cj, r0);
          v128.store(cj, r1, 16);
        } else {
          store4(cj, pc, r0);
          if (pc > 4) store4(cj + 16, pc - 4, r1);
        }
      } else {
        const s = (<usize>csp) << 2;
        f32.store(cj, f32x4.extract_lane(r0, 0));
        if (pc > 1) f32.store(cj + s, f32x4.extract_lane(r0, 1));
        if (pc > 2) f32.store(cj + 2 * s, f32x4.extract_lane(r0, 2));
        if (pc > 3) f32.store(cj + 3 * s, f32x4.extract_lane(r0, 3));
        if (pc > 4) f32.store(cj + 4 * s, f32x4.extract_lane(r1, 0));
        if (pc > 5) f32.store(cj + 5 * s, f32x4.extract_lane(r1, 1));
        if (pc > 6) f32.store(cj + 6 * s, f32x4.extract_lane(r1, 2));
        if (pc > 7) f32.store(cj + 7 * s, f32x4.extract_lane(r1, 3));
      }
    }
  }
}

/**
 * Pack Aᵀ for f32_spmm_csr_8: A is m×k (stride lda floats); panel q (rows 8q…8q+7 of A) at out + q·(k+1)·32
 * holds 32 unused header bytes (the f32_gemm_pack_8 layout) then k rows of 8 floats, zero past m.
 */
export function f32_spmm_pack_t8(m: i32, k: i32, a: usize, lda: i32, out: usize): void {
  const sa = (<usize>lda) << 2;
  const panelBytes = (<usize>(k + 1)) << 5;
  for (let i0 = 0; i0 < m; i0 += 8) {
    const mc = min(8, m - i0);
    const pq = out + <usize>(i0 >> 3) * panelBytes;
    v128.store(pq, f32x4.splat(0));
    v128.store(pq, f32x4.splat(0), 16);
    const ai = a + <usize>i0 * sa;
    if (mc == 8) {
      // 4×4 transposes: rows i0…i0+3 and i0+4…i0+7, 4 columns of A at a time
      let kk = 0;
      for (; kk + 3 < k; kk += 4) {
        const o = pq + 32 + ((<usize>kk) << 5);
        const ko = (<usize>kk) << 2;
        for (let h = 0; h < 2; h++) {
          const ah = ai + <usize>(h * 4) * sa + ko;
          const r0 = v128.load(ah);
          const r1 = v128.load(ah + sa);
          const r2 = v128.load(ah + 2 * sa);
          const r3 = v128.load(ah + 3 * sa);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const oh = o + ((<usize>h) << 4);
          v128.store(oh, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(oh + 32, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
          v128.store(oh + 64, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
          v128.store(oh + 96, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        }
      }
      for (; kk < k; kk++) {
        const o = pq + 32 + ((<usize>kk) << 5);
        for (let r = 0; r < 8; r++) f32.store(o + ((<usize>r) << 2), f32.load(ai + <usize>r * sa + ((<usize>kk) << 2)));
      }
    } else {
      for (let kk = 0; kk < k; kk++) {
        const o = pq + 32 + ((<usize>kk) << 5);
        for (let r = 0; r < 8; r++) f32.store(o + ((<usize>r) << 2), r < mc ? f32.load(ai + <usize>r * sa + ((<usize>kk) << 2)) : 0);
      }
    }
  }
}

/**
 * Integer variant for MatMulInteger / QLinearMatMul: C[m×n] (i32) = A'[m×k] · W' with A' = A − a_zero_point
 * (i32, widened by the caller) and W' = B − b_zero_point in 1×4 blocked CSR of i32x4 (same layout as
 * f32_spmm_1x4). Wrapping i32 arithmetic, exactly like the reference's `(c + Math.imul(x, w)) | 0`.
 */
export function i32_spmm_1x4(m: i32, n: i32, a: usize, lda: i32, bptr: usize, kidx: usize, vals: usize, c: usize, ldc: i32): void {
  const nb = (n + 3) >> 2;
  const sa = (<usize>lda) << 2;
  const sc = (<usize>ldc) << 2;
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const a0 = a + <usize>i * sa;
    const a1 = a0 + sa;
    const a2 = a1 + sa;
    const a3 = a2 + sa;
    const ci = c + <usize>i * sc;
    for (let b = 0; b < nb; b++) {
      let acc0 = i32x4.splat(0);
      let acc1 = acc0;
      let acc2 = acc0;
      let acc3 = acc0;
      const e1 = load<i32>(bptr + ((<usize>b + 1) << 2));
      for (let e = load<i32>(bptr + ((<usize>b) << 2)); e < e1; e++) {
        const ko = <usize>load<i32>(kidx + ((<usize>e) << 2));
        const v = v128.load(vals + ((<usize>e) << 4));
        acc0 = i32x4.add(acc0, i32x4.mul(i32x4.splat(load<i32>(a0 + ko)), v));
        acc1 = i32x4.add(acc1, i32x4.mul(i32x4.splat(load<i32>(a1 + ko)), v));
        acc2 = i32x4.add(acc2, i32x4.mul(i32x4.splat(load<i32>(a2 + ko)), v));
        acc3 = i32x4.add(acc3, i32x4.mul(i32x4.splat(load<i32>(a3 + ko)), v));
      }
      const nc = min(4, n - (b << 2));
      const cb = ci + ((<usize>b) << 4);
      storei4(cb, nc, acc0);
      storei4(cb + sc, nc, acc1);
      storei4(cb + 2 * sc, nc, acc2);
      storei4(cb + 3 * sc, nc, acc3);
    }
  }
  for (; i < m; i++) {
    const a0 = a + <usize>i * sa;
    const ci = c + <usize>i * sc;
    for (let b = 0; b < nb; b++) {
      let acc0 = i32x4.splat(0);
      const e1 = load<i32>(bptr + ((<usize>b + 1) << 2));
      for (let e = load<i32>(bptr + ((<usize>b) << 2)); e < e1; e++) {
        const ko = <usize>load<i32>(kidx + ((<usize>e) << 2));
        acc0 = i32x4.add(acc0, i32x4.mul(i32x4.splat(load<i32>(a0 + ko)), v128.load(vals + ((<usize>e) << 4))));
      }
      storei4(ci + ((<usize>b) << 4), min(4, n - (b << 2)), acc0);
    }
  }
}

/**
 * Direct sparse Conv2D for one image, no im2col: for output channel j, out[j] = clamp(bias[j] + Σ_e w_e ·
 * x[c_e, oy·sh − pt + dy_e, ox·sw − pl + dx_e], lo, hi) over the stored (non-zero) weights e of filter j.
 * Entries eptr[j] … eptr[j+1]−1 at `ent`, 16 bytes each: i32 input channel c (absolute, so groups need no
 * special case), i32 dy = ky·dh, i32 dx = kx·dw, f32 weight. Each entry does one axpy per output row over the
 * in-image range of ox (4 pixels per SIMD step for sw = 1 and 2, scalar otherwise), like f32_dwconv2d.
 */
export function f32_spconv2d(
  x: usize, ih: i32, iw: i32, m: i32, eptr: usize, ent: usize, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32, bias: usize, out: usize, lo: f32, hi: f32,
): void {
  const plane = (<usize>ih * <usize>iw) << 2;
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const clamp = lo > -Infinity || hi < Infinity;
  for (let j = 0; j < m; j++) {
    const bj: f32 = bias != 0 ? f32.load(bias + ((<usize>j) << 2)) : 0;
    const vb = f32x4.splat(bj);
    const oj = out + ((<usize>j * <usize>oh * <usize>ow) << 2);
    const e0 = load<i32>(eptr + ((<usize>j) << 2));
    const e1 = load<i32>(eptr + ((<usize>j + 1) << 2));
    for (let oy = 0; oy < oh; oy++) {
      const orow = oj + ((<usize>oy * ow) << 2);
      let ox = 0;
      for (; ox + 3 < ow; ox += 4) v128.store(orow + (<usize>ox << 2), vb);
      for (; ox < ow; ox++) f32.store(orow + (<usize>ox << 2), bj);
      const iy0 = oy * sh - pt;
      for (let e = e0; e < e1; e++) {
        const ep = ent + ((<usize>e) << 4);
        const iy = iy0 + load<i32>(ep, 4);
        if (iy < 0 || iy >= ih) continue;
        const xr = x + <usize>load<i32>(ep) * plane + ((<usize>iy * iw) << 2);
        const off = load<i32>(ep, 8) - pl;
        const wv = f32.load(ep, 12);
        tapRow(orow, xr, wv, off, sw, iw, ow);
      }
      if (clamp) {
        ox = 0;
        for (; ox + 3 < ow; ox += 4) {
          const po = orow + (<usize>ox << 2);
          v128.store(po, f32x4.min(f32x4.max(v128.load(po), vlo), vhi));
        }
        for (; ox < ow; ox++) {
          const po = orow + (<usize>ox << 2);
          f32.store(po, min(max(f32.load(po), lo), hi));
        }
      }
    }
  }
}

/**
 * NCHW sparse 1×1 conv (XNNPACK's f32-spmm layout, src/f32-spmm/*wasmsimd*): out[j, q] = clamp(bias_j + Σ_e w_e ·
 * x[c_e, q], lo, hi) for the pixels q0 ≤ q < q1 of rows of p (a thread's share: the caller cuts [0, p) at multiples
 * of 32), straight from the NCHW input rows (no packing), 32 pixels per tile (8
 * accumulators), then one 16-, 8-, 4-, 2- and 1-pixel tail each at most (XNNPACK's tails: a 16-pixel remainder is one
 * pass over the weights, not two). Weight stream `wts`: per output channel j its bias then its nnz[j]
 * non-zero weights (f32). `dmap` (i32, one per non-zero weight, in the same order): the byte increment that moves
 * the input pointer from this weight's channel row to the next weight's (the last one wraps to the first, so the
 * chain sums to zero per tile). `x` points at the first non-zero weight's channel row (the caller adds c_0·p·4);
 * `nnz` holds n i32 counts. Output rows are p floats apart, as are input rows (dmap encodes the input stride).
 * `res` (0 = none): a residual of the output's layout added before the clamp (a folded Add: out = clamp(acc + res)).
 *
 * `chunks` ≥ 1, `nb` ≥ 1: the input channels come in `chunks` consecutive ranges and the output channels in blocks of
 * nb (the caller's split, src/kernels/sparse.ts); the stream holds, block after block and within a block range after
 * range, every output channel's weights from that range (the bias only in the first range; `nnz` holds the counts
 * in the same order, chunks·n of them). A tile runs each block range after range, keeping the block's partial sums
 * in its output rows between ranges: the tile's input rows of one range stay in L1 across the block's output channels
 * (a 32-pixel tile of 1152 input channels is 147 KB: every load went to L2), and so do the block's partial sums. A
 * partial sum is stored and reloaded exactly, so every pixel's sum still runs in one order (bias, the weights in
 * channel order, the residual) whatever the ranges and blocks and whichever tile holds the pixel: a split of the
 * pixels (threads) cannot change a bit.
 */
export function f32_spmm_nchw_32(p: i32, q0: i32, q1: i32, n: i32, x: usize, wts: usize, dmap: usize, nnz: usize, out: usize, lo: f32, hi: f32, res: usize, chunks: i32, nb: i32): void {
  // the clamp specialised away when there is none (a conv whose output feeds an Add), only a lower bound (ReLU),
  // both (dwClamp's pmin / pmax: one x64 instruction each where f32x4.min / max are ~8), or a bound that needs the
  // NaN-exact f32x4.min / max (hi = −0, NaN bounds; see dwClamp)
  if (lo == -Infinity && hi == Infinity) spmmNchw(p, q0, q1, n, x, wts, dmap, nnz, out, res, lo, hi, chunks, nb, 0);
  else if (dwClampExact(lo, hi)) spmmNchw(p, q0, q1, n, x, wts, dmap, nnz, out, res, lo, hi, chunks, nb, 3);
  else if (hi == Infinity) spmmNchw(p, q0, q1, n, x, wts, dmap, nnz, out, res, lo, hi, chunks, nb, 1);
  else spmmNchw(p, q0, q1, n, x, wts, dmap, nnz, out, res, lo, hi, chunks, nb, 2);
}

/**
 * v clamped to [lo, hi] by `mode` (a constant after inlining): 0 none, 1 max(v, lo) only, 2 both bounds, each
 * through pmax / pmin plus vz (dwClamp: exact but for NaN payloads), 3 both through the NaN-exact f32x4.max / min.
 */
// @ts-ignore: decorator
@inline
function clampMode(v: v128, vlo: v128, vhi: v128, vz: v128, mode: i32): v128 {
  if (mode == 0) return v;
  if (mode == 1) return f32x4.add(f32x4.pmax(v, vlo), vz);
  if (mode == 2) return f32x4.add(f32x4.pmin(f32x4.pmax(v, vlo), vhi), vz);
  return f32x4.min(f32x4.max(v, vlo), vhi);
}

// @ts-ignore: decorator
@inline
function spmmNchw(p: i32, q0: i32, q1: i32, n: i32, x: usize, wts: usize, dmap: usize, nnz: usize, out: usize, res: usize, lo: f32, hi: f32, chunks: i32, nb: i32, mode: i32): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const vz = dwClampZero(lo);
  const os = (<usize>p) << 2;
  let q = q0;
  for (; q + 32 <= q1; q += 32) spmmTile(q, 32, n, x, wts, dmap, nnz, out, res, os, chunks, nb, vlo, vhi, vz, mode);
  if (q + 16 <= q1) {
    spmmTile(q, 16, n, x, wts, dmap, nnz, out, res, os, chunks, nb, vlo, vhi, vz, mode);
    q += 16;
  }
  if (q + 8 <= q1) {
    spmmTile(q, 8, n, x, wts, dmap, nnz, out, res, os, chunks, nb, vlo, vhi, vz, mode);
    q += 8;
  }
  if (q + 4 <= q1) {
    spmmTile(q, 4, n, x, wts, dmap, nnz, out, res, os, chunks, nb, vlo, vhi, vz, mode);
    q += 4;
  }
  if (q + 2 <= q1) {
    spmmTile(q, 2, n, x, wts, dmap, nnz, out, res, os, chunks, nb, vlo, vhi, vz, mode);
    q += 2;
  }
  if (q < q1) spmmTile(q, 1, n, x, wts, dmap, nnz, out, res, os, chunks, nb, vlo, vhi, vz, mode);
}

/** `px` (32, 16, 8, 4, 2 or 1, a constant after inlining) floats at `a` as one vector: a full load for px ≥ 4 */
// @ts-ignore: decorator
@inline
function loadPx(a: usize, px: i32): v128 {
  if (px == 2) return v128.load64_zero(a);
  if (px == 1) return v128.load32_zero(a);
  return v128.load(a);
}

// @ts-ignore: decorator
@inline
function storePx(a: usize, v: v128, px: i32): void {
  if (px == 2) v128.store64_lane(a, v, 0);
  else if (px == 1) v128.store32_lane(a, v, 0);
  else v128.store(a, v);
}

/**
 * One tile of `px` pixels from pixel q (a constant after inlining; px / 4 vectors, or one partial vector for 2 and
 * 1), output-channel block after block and in a block input-channel range after range: the splat-multiply-add of
 * each stored weight over the tile's pixels of its input row; a range after the first resumes from the partial sums
 * in the block's output rows.
 */
// @ts-ignore: decorator
@inline
function spmmTile(q: i32, px: i32, n: i32, x: usize, wts: usize, dmap: usize, nnz: usize, out: usize, res: usize, os: usize, chunks: i32, nb: i32, vlo: v128, vhi: v128, vz: v128, mode: i32): void {
  let xi = x + ((<usize>q) << 2);
  let w = wts;
  let d = dmap;
  let cp = nnz;
  for (let j0 = 0; j0 < n; j0 += nb) {
    const j1 = min(n, j0 + nb);
    for (let c = 1; c <= chunks; c++) {
      const last = c == chunks;
      let o = out + ((<usize>q) << 2) + <usize>j0 * os;
      let r = res + ((<usize>q) << 2) + <usize>j0 * os;
      for (let j = j0; j < j1; j++) {
        let cnt = load<i32>(cp);
        cp += 4;
        let a0: v128;
        let a1: v128;
        let a2: v128;
        let a3: v128;
        let a4: v128;
        let a5: v128;
        let a6: v128;
        let a7: v128;
        if (c == 1) {
          a0 = v128.load32_splat(w);
          w += 4;
          a1 = a0;
          a2 = a0;
          a3 = a0;
          a4 = a0;
          a5 = a0;
          a6 = a0;
          a7 = a0;
        } else {
          a0 = loadPx(o, px);
          a1 = px >= 8 ? v128.load(o, 16) : a0;
          a2 = px >= 16 ? v128.load(o, 32) : a0;
          a3 = px >= 16 ? v128.load(o, 48) : a0;
          a4 = px >= 32 ? v128.load(o, 64) : a0;
          a5 = px >= 32 ? v128.load(o, 80) : a0;
          a6 = px >= 32 ? v128.load(o, 96) : a0;
          a7 = px >= 32 ? v128.load(o, 112) : a0;
        }
        for (; cnt > 0; cnt--) {
          const vw = v128.load32_splat(w);
          w += 4;
          a0 = madd(loadPx(xi, px), vw, a0);
          if (px >= 8) a1 = madd(v128.load(xi, 16), vw, a1);
          if (px >= 16) {
            a2 = madd(v128.load(xi, 32), vw, a2);
            a3 = madd(v128.load(xi, 48), vw, a3);
          }
          if (px >= 32) {
            a4 = madd(v128.load(xi, 64), vw, a4);
            a5 = madd(v128.load(xi, 80), vw, a5);
            a6 = madd(v128.load(xi, 96), vw, a6);
            a7 = madd(v128.load(xi, 112), vw, a7);
          }
          xi += <usize>load<i32>(d);
          d += 4;
        }
        if (last) {
          if (res != 0) {
            a0 = f32x4.add(a0, loadPx(r, px));
            if (px >= 8) a1 = f32x4.add(a1, v128.load(r, 16));
            if (px >= 16) {
              a2 = f32x4.add(a2, v128.load(r, 32));
              a3 = f32x4.add(a3, v128.load(r, 48));
            }
            if (px >= 32) {
              a4 = f32x4.add(a4, v128.load(r, 64));
              a5 = f32x4.add(a5, v128.load(r, 80));
              a6 = f32x4.add(a6, v128.load(r, 96));
              a7 = f32x4.add(a7, v128.load(r, 112));
            }
          }
          storeTile(o, px, clampMode(a0, vlo, vhi, vz, mode), clampMode(a1, vlo, vhi, vz, mode), clampMode(a2, vlo, vhi, vz, mode), clampMode(a3, vlo, vhi, vz, mode),
            clampMode(a4, vlo, vhi, vz, mode), clampMode(a5, vlo, vhi, vz, mode), clampMode(a6, vlo, vhi, vz, mode), clampMode(a7, vlo, vhi, vz, mode));
        } else storeTile(o, px, a0, a1, a2, a3, a4, a5, a6, a7);
        o += os;
        r += os;
      }
    }
  }
}

/** The first px floats of (a0 … a7) at o (px as in spmmTile). */
// @ts-ignore: decorator
@inline
function storeTile(o: usize, px: i32, a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128, a6: v128, a7: v128): void {
  storePx(o, a0, px);
  if (px >= 8) v128.store(o, a1, 16);
  if (px >= 16) {
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  if (px >= 32) {
    v128.store(o, a4, 64);
    v128.store(o, a5, 80);
    v128.store(o, a6, 96);
    v128.store(o, a7, 112);
  }
}
