// f32 convolution helpers (NCHW). Conv runs as GEMM: out[M×P] = W[M×K] · cols[K×P] (+ row bias), with the
// column matrix written straight into f32_gemm_pack_8's panel layout (no separate im2col + pack pass).
// Depthwise convs (one input channel per group) run direct: no GEMM pays for K = kh·kw.

/**
 * im2col into packed 8-column panels for f32_gemm: column j = output pixel (oy·ow + ox), row r = (c, ky, kx).
 * Panel p at out + p·(K+1)·32: 8 zero "bias" floats, then K rows of 8 floats. Out-of-image taps are 0.
 */
export function f32_im2col_pack_8(
  x: usize, c: i32, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, oh: i32, ow: i32, out: usize,
): void {
  const k = c * kh * kw;
  const p = oh * ow;
  const panels = (p + 7) >> 3;
  const panelBytes = (<usize>(k + 1)) << 5;
  // zero bias rows and the tail columns of the last panel
  for (let q = 0; q < panels; q++) v128.store(out + <usize>q * panelBytes, f32x4.splat(0)), v128.store(out + <usize>q * panelBytes, f32x4.splat(0), 16);
  if ((p & 7) != 0) {
    const last = out + <usize>(panels - 1) * panelBytes + 32;
    for (let r = 0; r < k; r++) for (let j = p & 7; j < 8; j++) f32.store(last + ((<usize>r) << 5) + (<usize>j << 2), 0);
  }
  let r = 0;
  for (let ch = 0; ch < c; ch++) {
    const xc = x + ((<usize>ch * ih * iw) << 2);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const rowOff: usize = 32 + ((<usize>r) << 5);
        let j = 0;
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - pt + ky * dh;
          const inRow = iy >= 0 && iy < ih;
          const xr = xc + ((<usize>iy * iw) << 2);
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * sw - pl + kx * dw;
            const v: f32 = inRow && ix >= 0 && ix < iw ? f32.load(xr + (<usize>ix << 2)) : 0;
            f32.store(out + <usize>(j >> 3) * panelBytes + rowOff + (<usize>(j & 7) << 2), v);
            j++;
          }
        }
        r++;
      }
    }
  }
}

/**
 * Depthwise conv, one channel: out[oh×ow] = clamp(bias + Σ w[ky,kx]·x[oy·sh−pt+ky·dh, ox·sw−pl+kx·dw], lo, hi).
 * Interior pixels of stride-1 rows run 4 at a time; borders and other strides are scalar.
 */
export function f32_dwconv2d(
  x: usize, ih: i32, iw: i32, w: usize, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, oh: i32, ow: i32, bias: f32, out: usize, lo: f32, hi: f32,
): void {
  const vb = f32x4.splat(bias);
  for (let oy = 0; oy < oh; oy++) {
    const orow = out + ((<usize>oy * ow) << 2);
    let ox = 0;
    for (; ox + 3 < ow; ox += 4) v128.store(orow + (<usize>ox << 2), vb);
    for (; ox < ow; ox++) f32.store(orow + (<usize>ox << 2), bias);
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sh - pt + ky * dh;
      if (iy < 0 || iy >= ih) continue;
      const xr = x + ((<usize>iy * iw) << 2);
      for (let kx = 0; kx < kw; kx++) {
        const wv = f32.load(w + ((<usize>(ky * kw + kx)) << 2));
        const off = kx * dw - pl;
        // ox range with 0 <= ox·sw + off < iw
        let o0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
        let o1 = (iw - 1 - off) >= 0 ? (iw - 1 - off) / sw + 1 : 0;
        if (o1 > ow) o1 = ow;
        if (o0 >= o1) continue;
        let o = o0;
        if (sw == 1) {
          const vw = f32x4.splat(wv);
          for (; o + 3 < o1; o += 4) {
            const po = orow + (<usize>o << 2);
            v128.store(po, f32x4.add(v128.load(po), f32x4.mul(vw, v128.load(xr + (<usize>(o + off) << 2)))));
          }
        } else if (sw == 2) {
          const vw = f32x4.splat(wv);
          for (; o + 3 < o1; o += 4) {
            const pi = xr + (<usize>(2 * o + off) << 2);
            // lanes 0,2 of two loads: the even-indexed inputs of this 4-pixel run (the 8th float is never read past o1)
            const ev = v128.shuffle<f32>(v128.load(pi), v128.load(pi, 16), 0, 2, 4, 6);
            const po = orow + (<usize>o << 2);
            v128.store(po, f32x4.add(v128.load(po), f32x4.mul(vw, ev)));
          }
        }
        for (; o < o1; o++) {
          const po = orow + (<usize>o << 2);
          f32.store(po, f32.load(po) + wv * f32.load(xr + (<usize>(o * sw + off) << 2)));
        }
      }
    }
    if (lo > -Infinity || hi < Infinity) {
      const vlo = f32x4.splat(lo);
      const vhi = f32x4.splat(hi);
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
