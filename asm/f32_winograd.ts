import { madd } from './madd';
import { clampv, storeRow } from './vec';
// Winograd F(2×2, 3×3) f32 convolution (NCHW, 3×3, stride 1, dilation 1, group 1), Lavin & Gray 2015:
//   Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A   per 2×2 output tile, d = the 4×4 input tile at (2·ty − pt, 2·tx − pl),
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 −1 −1].
// The weight transform U = G g Gᵀ is done once in TypeScript (src/kernels/winograd.ts). Per block of tiles:
//   f32_wino_input writes V_ξ = (Bᵀ d B)_ξ, ξ = 4i + j, straight into f32_gemm_pack_8's panel layout (tiles are
//   columns, channels rows), the 16 products M_ξ[m × tiles] = U_ξ[m × C] · V_ξ run on f32_wino_gemm (f32_gemm's
//   4×8 micro-kernel in the same panel layout, k unrolled by two, no epilogue), and
//   f32_wino_output folds them back with Aᵀ M A, adds the bias, clamps and writes the in-image part of each tile.
// Tiles t = ty·tw + tx are processed four at a time (one v128 lane per tile) within a tile row; the input comes
// from a zero-padded copy (f32_wino_pad), so neither transform has a bounds check.

/**
 * Rows [r0, r1) of the zero-padded copy of c channels of x[ih × iw] into out[hp × wp] per channel, input pixel
 * (iy, ix) at (iy + pt, ix + pl); everything else is 0. Threads pad bands of rows (each the rows it wrote the
 * input of, mostly: the copy after a pixel-split conv otherwise read half its input from the other core).
 */
export function f32_wino_pad(x: usize, c: i32, ih: i32, iw: i32, pt: i32, pl: i32, hp: i32, wp: i32, out: usize, r0: i32, r1: i32): void {
  const ncol = min(iw, wp - pl); // input columns that land inside the padded row
  const rowBytes = (<usize>wp) << 2;
  for (let ch = 0; ch < c; ch++) {
    const xc = x + ((<usize>ch * ih * iw) << 2);
    const oc = out + ((<usize>ch * hp * wp) << 2);
    for (let r = r0; r < r1; r++) {
      const dst = oc + <usize>r * rowBytes;
      const iy = r - pt;
      if (iy < 0 || iy >= ih || ncol <= 0) {
        memory.fill(dst, 0, rowBytes);
        continue;
      }
      memory.fill(dst, 0, (<usize>pl) << 2);
      memory.copy(dst + ((<usize>pl) << 2), xc + ((<usize>iy * iw) << 2), (<usize>ncol) << 2);
      const tail = wp - pl - ncol;
      if (tail > 0) memory.fill(dst + ((<usize>(pl + ncol)) << 2), 0, (<usize>tail) << 2);
    }
  }
}

/** Store lanes 0..n−1 of v at consecutive packed columns r..r+n−1 of row `row` (bytes into each panel). */
// @ts-ignore: decorator
@inline
function storeCols(v: v128, base: usize, panelBytes: usize, row: usize, r: i32, n: i32): void {
  const j = r & 7;
  if (n == 4 && j <= 4) {
    v128.store(base + (<usize>(r >> 3)) * panelBytes + row + (<usize>j << 2), v);
    return;
  }
  f32.store(base + (<usize>(r >> 3)) * panelBytes + row + (<usize>j << 2), f32x4.extract_lane(v, 0));
  if (n > 1) f32.store(base + (<usize>((r + 1) >> 3)) * panelBytes + row + (<usize>((r + 1) & 7) << 2), f32x4.extract_lane(v, 1));
  if (n > 2) f32.store(base + (<usize>((r + 2) >> 3)) * panelBytes + row + (<usize>((r + 2) & 7) << 2), f32x4.extract_lane(v, 2));
  if (n > 3) f32.store(base + (<usize>((r + 3) >> 3)) * panelBytes + row + (<usize>((r + 3) & 7) << 2), f32x4.extract_lane(v, 3));
}

/**
 * One row i of Bᵀ d B for four tiles: `h0…h3` are the 4-wide input rows already combined vertically (row i of
 * Bᵀ d), each given as floats 0..9 of the padded row from tile tx (a = 0..3, b = 4..7, c = 8..9). Lane k of
 * column j holds element 2k + j; the horizontal combination d·B gives V[i][0..3], stored to ξ = 4i + j.
 */
// @ts-ignore: decorator
@inline
function inputRow(a: v128, b: v128, c: v128, out: usize, xiBytes: usize, panelBytes: usize, row: usize, r: i32, n: i32): void {
  const c0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6); // elements 0, 2, 4, 6
  const c1 = v128.shuffle<f32>(a, b, 1, 3, 5, 7); // 1, 3, 5, 7
  const c2 = v128.shuffle<f32>(c0, c, 1, 2, 3, 4); // 2, 4, 6, 8
  const c3 = v128.shuffle<f32>(c1, c, 1, 2, 3, 5); // 3, 5, 7, 9
  storeCols(f32x4.sub(c0, c2), out, panelBytes, row, r, n);
  storeCols(f32x4.add(c1, c2), out + xiBytes, panelBytes, row, r, n);
  storeCols(f32x4.sub(c2, c1), out + 2 * xiBytes, panelBytes, row, r, n);
  storeCols(f32x4.sub(c1, c3), out + 3 * xiBytes, panelBytes, row, r, n);
}

/**
 * Input transform of tiles t0..t0+nb−1 (t = ty·tw + tx) of all c channels of the padded input xp (c × hp × wp,
 * wp ≥ 2·⌈tw/4⌉·4 + 2, hp ≥ 2·th + 2). Output: 16 packed B matrices, ξ at out + ξ·xiBytes, each ⌈nb/8⌉ panels
 * of (c + 1)·32 bytes: a zero bias row, then row ch holds V_ξ of channel ch for 8 tiles (tail columns zeroed).
 */
export function f32_wino_input(xp: usize, c: i32, hp: i32, wp: i32, tw: i32, t0: i32, nb: i32, out: usize, xiBytes: usize): void {
  const panels = (nb + 7) >> 3;
  const panelBytes = (<usize>(c + 1)) << 5;
  const zero = f32x4.splat(0);
  for (let xi = 0; xi < 16; xi++) {
    const ob = out + <usize>xi * xiBytes;
    for (let q = 0; q < panels; q++) {
      const p = ob + <usize>q * panelBytes;
      v128.store(p, zero);
      v128.store(p, zero, 16);
    }
    if ((nb & 7) != 0) {
      // zero the last panel's tail columns (never read back, but no stale denormals/NaNs in the GEMM)
      const last = ob + <usize>(panels - 1) * panelBytes + 32;
      for (let rr = 0; rr < c; rr++) for (let j = nb & 7; j < 8; j++) f32.store(last + ((<usize>rr) << 5) + (<usize>j << 2), 0);
    }
  }
  const rowBytes = (<usize>wp) << 2;
  const t1 = t0 + nb;
  const ty0 = t0 / tw;
  const ty1 = (t1 - 1) / tw;
  for (let ch = 0; ch < c; ch++) {
    const xc = xp + ((<usize>ch * hp * wp) << 2);
    const row: usize = 32 + ((<usize>ch) << 5);
    for (let ty = ty0; ty <= ty1; ty++) {
      const txs = ty == ty0 ? t0 - ty * tw : 0;
      const txe = ty == ty1 ? t1 - ty * tw : tw;
      const p0 = xc + <usize>(2 * ty) * rowBytes;
      for (let tx = txs; tx < txe; tx += 4) {
        const n = min(4, txe - tx);
        const r = ty * tw + tx - t0;
        const p = p0 + ((<usize>(2 * tx)) << 2);
        const p1 = p + rowBytes;
        const p2 = p1 + rowBytes;
        const p3 = p2 + rowBytes;
        // rows of Bᵀ d, on the raw 10-float rows (linear, so it commutes with the lane shuffles)
        const a1 = v128.load(p1);
        const b1 = v128.load(p1, 16);
        const e1 = v128.load64_zero(p1, 32);
        const a2 = v128.load(p2);
        const b2 = v128.load(p2, 16);
        const e2 = v128.load64_zero(p2, 32);
        inputRow(f32x4.sub(v128.load(p), a2), f32x4.sub(v128.load(p, 16), b2), f32x4.sub(v128.load64_zero(p, 32), e2), out, xiBytes, panelBytes, row, r, n);
        inputRow(f32x4.add(a1, a2), f32x4.add(b1, b2), f32x4.add(e1, e2), out + 4 * xiBytes, xiBytes, panelBytes, row, r, n);
        inputRow(f32x4.sub(a2, a1), f32x4.sub(b2, b1), f32x4.sub(e2, e1), out + 8 * xiBytes, xiBytes, panelBytes, row, r, n);
        inputRow(f32x4.sub(a1, v128.load(p3)), f32x4.sub(b1, v128.load(p3, 16)), f32x4.sub(e1, v128.load64_zero(p3, 32)), out + 12 * xiBytes, xiBytes, panelBytes, row, r, n);
      }
    }
  }
}

/**
 * Output transform of tiles t0..t0+nb−1 for m output channels: M_ξ (row-major m × ldm floats, ξ at
 * mb + ξ·xiBytes, column t − t0), Y = Aᵀ M A + bias[ch], clamped to [lo, hi], written to out (m × oh × ow)
 * without the parts of edge tiles past the output.
 */
export function f32_wino_output(mb: usize, m: i32, ldm: i32, xiBytes: usize, bias: usize, oh: i32, ow: i32, tw: i32, t0: i32, nb: i32, out: usize, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const t1 = t0 + nb;
  const ty0 = t0 / tw;
  const ty1 = (t1 - 1) / tw;
  const owBytes = (<usize>ow) << 2;
  for (let ch = 0; ch < m; ch++) {
    const vb = f32x4.splat(f32.load(bias + ((<usize>ch) << 2)));
    const mc = mb + ((<usize>ch * ldm) << 2);
    const oc = out + ((<usize>ch * oh * ow) << 2);
    for (let ty = ty0; ty <= ty1; ty++) {
      const txs = ty == ty0 ? t0 - ty * tw : 0;
      const txe = ty == ty1 ? t1 - ty * tw : tw;
      const second = 2 * ty + 1 < oh;
      const orow = oc + <usize>(2 * ty) * owBytes;
      for (let tx = txs; tx < txe; tx += 4) {
        const n = min(4, txe - tx);
        const p = mc + ((<usize>(ty * tw + tx - t0)) << 2);
        // s = Aᵀ M (rows), then y = s A (columns); lane k = tile tx + k
        const m00 = v128.load(p);
        const m01 = v128.load(p + xiBytes);
        const m02 = v128.load(p + 2 * xiBytes);
        const m03 = v128.load(p + 3 * xiBytes);
        const m10 = v128.load(p + 4 * xiBytes);
        const m11 = v128.load(p + 5 * xiBytes);
        const m12 = v128.load(p + 6 * xiBytes);
        const m13 = v128.load(p + 7 * xiBytes);
        const m20 = v128.load(p + 8 * xiBytes);
        const m21 = v128.load(p + 9 * xiBytes);
        const m22 = v128.load(p + 10 * xiBytes);
        const m23 = v128.load(p + 11 * xiBytes);
        const s12_0 = f32x4.add(m10, m20);
        const s12_1 = f32x4.add(m11, m21);
        const s12_2 = f32x4.add(m12, m22);
        const s12_3 = f32x4.add(m13, m23);
        const d12_0 = f32x4.sub(m10, m20);
        const d12_1 = f32x4.sub(m11, m21);
        const d12_2 = f32x4.sub(m12, m22);
        const d12_3 = f32x4.sub(m13, m23);
        const s00 = f32x4.add(m00, s12_0);
        const s01 = f32x4.add(m01, s12_1);
        const s02 = f32x4.add(m02, s12_2);
        const s03 = f32x4.add(m03, s12_3);
        const s10 = f32x4.sub(d12_0, v128.load(p + 12 * xiBytes));
        const s11 = f32x4.sub(d12_1, v128.load(p + 13 * xiBytes));
        const s12 = f32x4.sub(d12_2, v128.load(p + 14 * xiBytes));
        const s13 = f32x4.sub(d12_3, v128.load(p + 15 * xiBytes));
        const y00 = clampv(f32x4.add(f32x4.add(vb, s00), f32x4.add(s01, s02)), vlo, vhi);
        const y01 = clampv(f32x4.add(vb, f32x4.sub(f32x4.sub(s01, s02), s03)), vlo, vhi);
        const y10 = clampv(f32x4.add(f32x4.add(vb, s10), f32x4.add(s11, s12)), vlo, vhi);
        const y11 = clampv(f32x4.add(vb, f32x4.sub(f32x4.sub(s11, s12), s13)), vlo, vhi);
        const nc = min(2 * n, ow - 2 * tx);
        const o = orow + ((<usize>(2 * tx)) << 2);
        storeRow(o, nc, v128.shuffle<f32>(y00, y01, 0, 4, 1, 5), v128.shuffle<f32>(y00, y01, 2, 6, 3, 7));
        if (second) storeRow(o + owBytes, nc, v128.shuffle<f32>(y10, y11, 0, 4, 1, 5), v128.shuffle<f32>(y10, y11, 2, 6, 3, 7));
      }
    }
  }
}

/**
 * The 16 products M_ξ[m × nb] = U_ξ[m × c] · V_ξ for one block: U_ξ at u + ξ·⌈m/4⌉·c·16 in strips of 4 rows
 * interleaved by input channel (winogradWeights; f32_gemm_pack_a4's layout), V_ξ packed at v + ξ·vBytes
 * (f32_wino_input), M_ξ row-major (ldm floats, ldm ≥ ⌈nb/8⌉·8) at mo + ξ·mBytes. f32_gemm_4x8_pa's one-pointer,
 * one-k-step loop (~1.4× the 4-pointer loop with the data in L1) without its bias and clamp epilogue (neither
 * applies before the output transform) and always storing whole 8-column panels (M's rows are padded to ldm).
 * A copy on purpose: calling f32_gemm_4x8 per panel instead made squeezenet's fire2 expand3x3 (c = 16) 1.31 → 1.8 ms
 * and fire9 (c = 64) 1.04 → 1.22 ms (bench/conv.bench.js, same machine, both builds).
 */
export function f32_wino_gemm(m: i32, nb: i32, c: i32, u: usize, v: usize, vBytes: usize, mo: usize, mBytes: usize, ldm: i32): void {
  const panels = (nb + 7) >> 3;
  const panelBytes = (<usize>(c + 1)) << 5;
  const strip = (<usize>c) << 4;
  const plane = (<usize>((m + 3) >> 2)) * strip;
  const sc = (<usize>ldm) << 2;
  for (let xi = 0; xi < 16; xi++) {
    const ux = u + <usize>xi * plane;
    const vx = v + <usize>xi * vBytes + 32;
    const mx = mo + <usize>xi * mBytes;
    for (let i = 0; i < m; i += 4) {
      const as = ux + (<usize>(i >> 2)) * strip;
      const end = as + strip;
      const c0 = mx + <usize>i * sc;
      for (let q = 0; q < panels; q++) {
        let wp = vx + <usize>q * panelBytes;
        let acc00 = f32x4.splat(0);
        let acc01 = acc00;
        let acc10 = acc00;
        let acc11 = acc00;
        let acc20 = acc00;
        let acc21 = acc00;
        let acc30 = acc00;
        let acc31 = acc00;
        for (let p = as; p < end; p += 16) {
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
        const cp = c0 + ((<usize>q) << 5);
        v128.store(cp, acc00);
        v128.store(cp, acc01, 16);
        if (i + 1 < m) {
          v128.store(cp + sc, acc10);
          v128.store(cp + sc, acc11, 16);
        }
        if (i + 2 < m) {
          v128.store(cp + 2 * sc, acc20);
          v128.store(cp + 2 * sc, acc21, 16);
        }
        if (i + 3 < m) {
          v128.store(cp + 3 * sc, acc30);
          v128.store(cp + 3 * sc, acc31, 16);
        }
      }
    }
  }
}
