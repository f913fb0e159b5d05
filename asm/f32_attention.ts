import { f32_gemm_4x8, f32_gemm_pack_8, f32_gemm_pack_8_t, f32_gemv_n, f32_gemv_t } from './f32_gemm';
import { expShiftSum } from './vec';
// Fused scaled-dot-product attention (WebAssembly SIMD128), one head at a time, for a block of mr ≤ 4 query rows:
//
//   o[r] = Σ_j p[r][j] · v[j],   p[r] = softmax_j(scale · (q[r] · k[j]) + mask[r][j])   over keys j in [lo_r, hi_r)
//
// Kᵀ and V are packed once per head (f32_gemm_pack_8_t / f32_gemm_pack_8, no bias) and every block of query rows
// runs the f32_gemm_4x8 micro-kernel twice: scores into a 4 × t scratch (one row block, never the whole [S, T]
// score matrix), then exp(scores − row max) / Σ times V.
// Q rows, masks and output rows are addressed with strides, so Q/K/V can be read straight out of a fused QKV
// projection or a [B, H, cap, hd] cache, and the output written straight into [B, S, H·vd] rows.

/** row[j] = scale·row[j] + mrow[j] for j in [lo, hi), in place (mrow 0: no mask); returns their max (−∞ if none). */
// @ts-ignore: decorator
@inline
function scaleMaskMax(row: usize, mrow: usize, lo: i32, hi: i32, scale: f32): f32 {
  const vs = f32x4.splat(scale);
  let vm = f32x4.splat(-Infinity);
  let j = lo;
  for (; j + 4 <= hi; j += 4) {
    const o4 = <usize>j << 2;
    let x = f32x4.mul(v128.load(row + o4), vs);
    if (mrow != 0) x = f32x4.add(x, v128.load(mrow + o4));
    v128.store(row + o4, x);
    // pmax: one maxps (max is a NaN/±0-exact sequence); a NaN score still makes its row NaN through the exp sum
    vm = f32x4.pmax(vm, x);
  }
  let mx = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
  for (; j < hi; j++) {
    const o4 = <usize>j << 2;
    let x = f32.load(row + o4) * scale;
    if (mrow != 0) x += f32.load(mrow + o4);
    f32.store(row + o4, x);
    mx = max(mx, x);
  }
  return mx;
}

/**
 * One block of `mr` ≤ 4 query rows against `t` keys of one head (see the file comment).
 * - q: row r at q + r·ldq floats (hd floats each); kp: Kᵀ packed by f32_gemm_pack_8_t(t, hd, k, ldk, kp);
 *   vp: V packed by f32_gemm_pack_8(vd, t, v, ldv, 0, vp).
 * - mask: 0 (none) or an additive row per query row at mask + r·ldm floats (ldm 0: one row for every query row),
 *   added after the scale; −∞ entries exclude keys.
 * - keys j < lo0 + r·dlo or j ≥ hi0 + r·dhi are excluded (causal: hi0 = past + 1, dhi = 1; key lengths: hi0 = len).
 * - s: scratch of 4·t floats; o: output row r at o + r·ldo floats (vd floats each).
 * - a row that excludes every key (or whose scores are all −∞) gives zeros, or NaN when `nanEmpty` (what ONNX
 *   Softmax's 0/0 gives for the unfused graph).
 */
export function f32_attn_rows(mr: i32, t: i32, hd: i32, vd: i32, q: usize, ldq: i32, kp: usize, vp: usize, scale: f32, mask: usize, ldm: i32, lo0: i32, dlo: i32, hi0: i32, dhi: i32, s: usize, o: usize, ldo: i32, nanEmpty: i32): void {
  // the keys any row of the block can see: [kLo, kHi)
  let kHi = 0;
  let kLo = t;
  for (let r = 0; r < mr; r++) {
    kHi = max(kHi, min(t, hi0 + r * dhi));
    kLo = min(kLo, max(0, lo0 + r * dlo));
  }
  kLo &= ~7; // whole 8-key panels
  const kpanel = (<usize>(hd + 1)) << 5;
  // scores: row r of the block at s + r·t floats
  for (let j0 = kLo; j0 < kHi; j0 += 8) {
    f32_gemm_4x8(mr, min(8, t - j0), hd, q, ldq, kp + (<usize>(j0 >> 3)) * kpanel, s + (<usize>j0 << 2), t, -Infinity, Infinity, 0);
  }
  let empty = 0; // bit r: row r sees no key
  for (let r = 0; r < mr; r++) {
    const row = s + ((<usize>r * t) << 2);
    const mrow = mask != 0 ? mask + ((<usize>r * ldm) << 2) : 0;
    const lo = max(0, lo0 + r * dlo);
    const hi = min(t, hi0 + r * dhi);
    // x = scale·s + mask on [lo, hi), running max
    const mx = scaleMaskMax(row, mrow, lo, hi, scale);
    // zeros outside [lo, hi) up to kHi (the P·V product reads keys [0, kHi))
    for (let z = 0; z < lo; z++) f32.store(row + (<usize>z << 2), 0);
    for (let z = max(lo, hi); z < kHi; z++) f32.store(row + (<usize>z << 2), 0);
    if (hi <= lo || mx == -Infinity) {
      for (let z = lo; z < hi; z++) f32.store(row + (<usize>z << 2), 0);
      empty |= 1 << r;
      continue;
    }
    const sum = expShiftSum(row, row, lo, hi, mx);
    // normalize p here (t products per row; the output's vd would be fewer, but this keeps P·V the last pass)
    const inv = <f32>(1.0 / sum);
    const vi = f32x4.splat(inv);
    let j = lo;
    for (; j + 4 <= hi; j += 4) v128.store(row + (<usize>j << 2), f32x4.mul(v128.load(row + (<usize>j << 2)), vi));
    for (; j < hi; j++) f32.store(row + (<usize>j << 2), f32.load(row + (<usize>j << 2)) * inv);
  }
  // P · V over keys [0, kHi) (the panels' zero bias row starts every column panel)
  const vpanel = (<usize>(t + 1)) << 5;
  for (let c0 = 0; c0 < vd; c0 += 8) {
    f32_gemm_4x8(mr, min(8, vd - c0), kHi, s, t, vp + (<usize>(c0 >> 3)) * vpanel, o + (<usize>c0 << 2), ldo, -Infinity, Infinity, 0);
  }
  if (empty != 0 && nanEmpty != 0) {
    for (let r = 0; r < mr; r++) {
      if ((empty & (1 << r)) == 0) continue;
      const orow = o + ((<usize>r * ldo) << 2);
      for (let c = 0; c < vd; c++) f32.store(orow + (<usize>c << 2), NaN);
    }
  }
}

/**
 * A whole head: packs K (rows of hd floats at k + j·ldk when kd = 1, else Kᵀ rows of T keys at k + d·kd) and V
 * (rows at v + j·ldv) into kp / vp, then runs every block of ≤ 4 of its S query rows (f32_attn_rows). Row i sees
 * keys [lo0 + i·dlo, min(hi0 + i·dhi, end)); blocks whose window would pass `end` run row by row.
 * One call per head lets kernel threads take whole heads (each with its own kp, vp and scratch s).
 */
export function f32_attn_head(s_: i32, t: i32, hd: i32, vd: i32, q: usize, ldq: i32, k: usize, ldk: i32, kd: i32, v: usize, ldv: i32, kp: usize, vp: usize, scale: f32, mask: usize, ldm: i32, lo0: i32, dlo: i32, hi0: i32, dhi: i32, end: i32, s: usize, o: usize, ldo: i32, nanEmpty: i32): void {
  if (t > 0) {
    if (kd == 1) f32_gemm_pack_8_t(t, hd, k, ldk, kp);
    else f32_gemm_pack_8(t, hd, k, kd, 0, kp);
    f32_gemm_pack_8(vd, t, v, ldv, 0, vp);
  }
  for (let i0 = 0; i0 < s_; i0 += 4) {
    const mr = min(4, s_ - i0);
    const qi = q + ((<usize>i0 * ldq) << 2);
    const mi = mask != 0 ? mask + ((<usize>i0 * ldm) << 2) : 0;
    const oi = o + ((<usize>i0 * ldo) << 2);
    const hi = hi0 + i0 * dhi;
    if (hi + (mr - 1) * dhi <= end) {
      f32_attn_rows(mr, t, hd, vd, qi, ldq, kp, vp, scale, mi, ldm, lo0 + i0 * dlo, dlo, hi, dhi, s, oi, ldo, nanEmpty);
      continue;
    }
    for (let r = 0; r < mr; r++) {
      const i = i0 + r;
      f32_attn_rows(1, t, hd, vd, q + ((<usize>i * ldq) << 2), ldq, kp, vp, scale, mask != 0 ? mask + ((<usize>i * ldm) << 2) : 0, 0, lo0 + i * dlo, 0, min(hi0 + i * dhi, end), 0, s, o + ((<usize>i * ldo) << 2), ldo, nanEmpty);
    }
  }
}

/**
 * A decoder step, every head in one call: `n` heads of one query row each against `t` keys read in place (no packing),
 *   o_h = Σ_j p_h[j] · v_h[j],   p_h = softmax_j(scale · (q_h · k_h[j]) + mask_h[j]).
 * Head h: q at q + h·qh floats (hd floats), key row j at k + h·kh + j·ldk, value row j at v + h·vh + j·ldv (vd floats),
 * additive mask row (t floats) at mask + h·mh (mask 0: none; mh 0: one row for every head), output at o + h·oh.
 * `s`: scratch of t floats. A head whose scores are all −∞ gives zeros, or NaN when `nanEmpty` (the unfused Softmax's
 * 0/0). Scores by f32_gemv_t, ·V by f32_gemv_n: K and V are each read once.
 */
export function f32_attn_step(n: i32, t: i32, hd: i32, vd: i32, q: usize, qh: i32, k: usize, kh: i32, ldk: i32, v: usize, vh: i32, ldv: i32, scale: f32, mask: usize, mh: i32, s: usize, o: usize, oh: i32, nanEmpty: i32): void {
  for (let h = 0; h < n; h++) {
    const oo = o + ((<usize>h * oh) << 2);
    f32_gemv_t(t, hd, q + ((<usize>h * qh) << 2), k + ((<usize>h * kh) << 2), ldk, s);
    const mx = scaleMaskMax(s, mask != 0 ? mask + ((<usize>h * mh) << 2) : 0, 0, t, scale);
    if (mx == -Infinity || t == 0) {
      const fill: f32 = nanEmpty != 0 ? NaN : 0;
      for (let c = 0; c < vd; c++) f32.store(oo + (<usize>c << 2), fill);
      continue;
    }
    const inv = <f32>(1.0 / expShiftSum(s, s, 0, t, mx));
    const vi = f32x4.splat(inv);
    let j = 0;
    for (; j + 4 <= t; j += 4) v128.store(s + (<usize>j << 2), f32x4.mul(v128.load(s + (<usize>j << 2)), vi));
    for (; j < t; j++) f32.store(s + (<usize>j << 2), f32.load(s + (<usize>j << 2)) * inv);
    f32_gemv_n(vd, t, s, v + ((<usize>h * vh) << 2), ldv, oo);
  }
}
