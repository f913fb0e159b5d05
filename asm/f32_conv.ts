import { tapRow } from './vec';
// f32 convolution helpers (NCHW). Conv runs as GEMM: out[M×P] = W[M×K] · cols[K×P] (+ row bias), with the
// column matrix written straight into f32_gemm_pack_8's panel layout (no separate im2col + pack pass).
// Depthwise convs (one input channel per group) run direct: no GEMM pays for K = kh·kw.

/**
 * Zero-padded copy of `c` planes of ih×iw floats into planes of ihp×iwp, the image at row pt, column pl: im2col then
 * reads every tap without bounds checks.
 */
export function f32_pad_planes(x: usize, c: i32, ih: i32, iw: i32, pt: i32, pl: i32, ihp: i32, iwp: i32, out: usize): void {
  const plane = (<usize>ihp * iwp) << 2;
  memory.fill(out, 0, plane * c);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < ih; y++) {
      memory.copy(out + <usize>ch * plane + ((<usize>(y + pt) * iwp + pl) << 2), x + ((<usize>(ch * ih + y) * iw) << 2), (<usize>iw) << 2);
    }
  }
}

/** Scratch bytes f32_im2col_pack_8 needs: one offset per row of the column matrix, plus 8 lane offsets. */
export function f32_im2col_scratch_size(c: i32, kh: i32, kw: i32): i32 {
  return (c * kh * kw + 8) << 2;
}

/**
 * im2col into packed 8-column panels for f32_gemm: column j = output pixel (oy·ow + ox), row r = (c, ky, kx).
 * Panel p at out + p·(K+1)·32: 8 zero "bias" floats, then K rows of 8 floats. Lanes past the last pixel repeat
 * pixel 0 (the GEMM computes and drops them).
 *
 * `x` holds every tap (the caller pads it: f32_pad_planes), so there are no bounds checks. The panels are written in
 * order, one at a time: the 8 lanes' pixel offsets are computed once per panel and every row r = (c, ky, kx) adds
 * its own offset (a table in `scratch`). Lanes that are 8 consecutive pixels of one output row read 8 contiguous
 * floats (stride 1) or the even floats of 16 (stride 2); other panels (rows that wrap, narrow images) gather.
 */
export function f32_im2col_pack_8(
  x: usize, c: i32, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, oh: i32, ow: i32, out: usize, scratch: usize,
): void {
  f32_im2col_pack_8_range(x, c, ih, iw, kh, kw, sh, sw, dh, dw, oh, ow, 0, (oh * ow + 7) >> 3, out, scratch);
}

/** f32_im2col_pack_8 of panels q0 ≤ q < q1 only (still at out + q·(K+1)·32): kernel threads pack their own panels. */
export function f32_im2col_pack_8_range(
  x: usize, c: i32, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, oh: i32, ow: i32, q0: i32, q1: i32, out: usize, scratch: usize,
): void {
  const k = c * kh * kw;
  const p = oh * ow;
  const panels = min(q1, (p + 7) >> 3);
  const panelBytes = (<usize>(k + 1)) << 5;
  const zero = f32x4.splat(0);
  let r = 0;
  for (let ch = 0; ch < c; ch++)
    for (let ky = 0; ky < kh; ky++)
      for (let kx = 0; kx < kw; kx++) {
        store<i32>(scratch + ((<usize>r) << 2), ((ch * ih + ky * dh) * iw + kx * dw) << 2);
        r++;
      }
  const lanes = scratch + ((<usize>k) << 2);
  const rowEnd = scratch + ((<usize>k) << 2);
  let oy = (q0 << 3) / ow;
  let ox = (q0 << 3) % ow;
  for (let q = q0; q < panels; q++) {
    const base = out + <usize>q * panelBytes;
    v128.store(base, zero);
    v128.store(base, zero, 16);
    const nj = min(8, p - q * 8);
    // one output row holds all 8 lanes: a contiguous (stride 1) or even-element (stride 2) run
    const run = nj == 8 && ox + 8 <= ow;
    const first = (oy * sh * iw + ox * sw) << 2;
    for (let j = 0; j < 8; j++) {
      store<i32>(lanes + ((<usize>j) << 2), j < nj ? (oy * sh * iw + ox * sw) << 2 : first);
      if (j < nj && ++ox == ow) {
        ox = 0;
        oy++;
      }
    }
    let d = base + 32;
    if (run && sw == 1) {
      const src = x + <usize>first;
      for (let t = scratch; t < rowEnd; t += 4) {
        const s = src + <usize>load<i32>(t);
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        d += 32;
      }
    } else if (run && sw == 2) {
      // reads one float past the last tap: the caller's buffer has room (arena blocks are padded)
      const src = x + <usize>first;
      for (let t = scratch; t < rowEnd; t += 4) {
        const s = src + <usize>load<i32>(t);
        v128.store(d, v128.shuffle<f32>(v128.load(s), v128.load(s, 16), 0, 2, 4, 6));
        v128.store(d, v128.shuffle<f32>(v128.load(s, 32), v128.load(s, 48), 0, 2, 4, 6), 16);
        d += 32;
      }
    } else {
      const o0 = x + <usize>load<i32>(lanes);
      const o1 = x + <usize>load<i32>(lanes, 4);
      const o2 = x + <usize>load<i32>(lanes, 8);
      const o3 = x + <usize>load<i32>(lanes, 12);
      const o4 = x + <usize>load<i32>(lanes, 16);
      const o5 = x + <usize>load<i32>(lanes, 20);
      const o6 = x + <usize>load<i32>(lanes, 24);
      const o7 = x + <usize>load<i32>(lanes, 28);
      for (let t = scratch; t < rowEnd; t += 4) {
        const ro = <usize>load<i32>(t);
        f32.store(d, f32.load(o0 + ro));
        f32.store(d, f32.load(o1 + ro), 4);
        f32.store(d, f32.load(o2 + ro), 8);
        f32.store(d, f32.load(o3 + ro), 12);
        f32.store(d, f32.load(o4 + ro), 16);
        f32.store(d, f32.load(o5 + ro), 20);
        f32.store(d, f32.load(o6 + ro), 24);
        f32.store(d, f32.load(o7 + ro), 28);
        d += 32;
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
        tapRow(orow, xr, wv, off, sw, iw, ow);
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

/** Padded plane f32_dwconv3x3 works on: rows × columns holding every tap of the output (zeros outside the image). */
// @ts-ignore: decorator
@inline
function dwPlaneRows(ih: i32, s: i32, pt: i32, oh: i32): i32 {
  return max(ih + pt, (oh - 1) * s + 3);
}

/** Scratch bytes f32_dwconv3x3 needs (one zero-padded input plane). */
export function f32_dwconv3x3_scratch_size(ih: i32, iw: i32, s: i32, pt: i32, pl: i32, oh: i32, ow: i32): i32 {
  return (dwPlaneRows(ih, s, pt, oh) * dwPlaneRows(iw, s, pl, ow)) << 2;
}

/**
 * Depthwise 3×3, dilation 1, stride 1 or 2, over `c` channels (weights 9 per channel at w, biases at `bias`).
 * Each channel is copied into a zero-padded plane in `tmp` first (its border stays zero across channels), so every
 * output pixel takes the same branch-free path: scalar per-pixel border handling used to cost more than the
 * interior on 56×56 planes. Interior pixels keep all nine taps and four or eight outputs in registers. Each kernel
 * row's three taps are summed first, then bias + row0 + (row1 + row2), clamped to [lo, hi].
 */
export function f32_dwconv3x3(x: usize, c: i32, ih: i32, iw: i32, w: usize, s: i32, pt: i32, pl: i32, oh: i32, ow: i32, bias: usize, out: usize, lo: f32, hi: f32, tmp: usize): void {
  const hp = dwPlaneRows(ih, s, pt, oh);
  const wp = dwPlaneRows(iw, s, pl, ow);
  const rowBytes = (<usize>wp) << 2;
  memory.fill(tmp, 0, <usize>hp * rowBytes);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  for (let ch = 0; ch < c; ch++) {
    const xc = x + ((<usize>ch * ih * iw) << 2);
    for (let y = 0; y < ih; y++) memory.copy(tmp + <usize>(y + pt) * rowBytes + ((<usize>pl) << 2), xc + ((<usize>y * iw) << 2), (<usize>iw) << 2);
    const wc = w + <usize>ch * 36;
    const w0 = f32x4.splat(f32.load(wc));
    const w1 = f32x4.splat(f32.load(wc, 4));
    const w2 = f32x4.splat(f32.load(wc, 8));
    const w3 = f32x4.splat(f32.load(wc, 12));
    const w4 = f32x4.splat(f32.load(wc, 16));
    const w5 = f32x4.splat(f32.load(wc, 20));
    const w6 = f32x4.splat(f32.load(wc, 24));
    const w7 = f32x4.splat(f32.load(wc, 28));
    const w8 = f32x4.splat(f32.load(wc, 32));
    const b: f32 = f32.load(bias + ((<usize>ch) << 2));
    const vb = f32x4.splat(b);
    const oc = out + ((<usize>ch * oh * ow) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const orow = oc + ((<usize>oy * ow) << 2);
      const r0 = tmp + <usize>(oy * s) * rowBytes;
      const r1 = r0 + rowBytes;
      const r2 = r1 + rowBytes;
      let ox = 0;
      if (s == 1) {
        // 8 outputs per step in two independent chains, each row's three taps summed separately first:
        // the adds no longer wait on one long dependency chain (the kernel was add-latency bound)
        for (; ox + 7 < ow; ox += 8) {
          const c0 = (<usize>ox) << 2;
          const a0 = f32x4.add(f32x4.add(f32x4.mul(w0, v128.load(r0 + c0)), f32x4.mul(w1, v128.load(r0 + c0, 4))), f32x4.mul(w2, v128.load(r0 + c0, 8)));
          const b0 = f32x4.add(f32x4.add(f32x4.mul(w0, v128.load(r0 + c0, 16)), f32x4.mul(w1, v128.load(r0 + c0, 20))), f32x4.mul(w2, v128.load(r0 + c0, 24)));
          const a1 = f32x4.add(f32x4.add(f32x4.mul(w3, v128.load(r1 + c0)), f32x4.mul(w4, v128.load(r1 + c0, 4))), f32x4.mul(w5, v128.load(r1 + c0, 8)));
          const b1 = f32x4.add(f32x4.add(f32x4.mul(w3, v128.load(r1 + c0, 16)), f32x4.mul(w4, v128.load(r1 + c0, 20))), f32x4.mul(w5, v128.load(r1 + c0, 24)));
          const a2 = f32x4.add(f32x4.add(f32x4.mul(w6, v128.load(r2 + c0)), f32x4.mul(w7, v128.load(r2 + c0, 4))), f32x4.mul(w8, v128.load(r2 + c0, 8)));
          const b2 = f32x4.add(f32x4.add(f32x4.mul(w6, v128.load(r2 + c0, 16)), f32x4.mul(w7, v128.load(r2 + c0, 20))), f32x4.mul(w8, v128.load(r2 + c0, 24)));
          const po = orow + c0;
          v128.store(po, f32x4.min(f32x4.max(f32x4.add(f32x4.add(vb, a0), f32x4.add(a1, a2)), vlo), vhi));
          v128.store(po, f32x4.min(f32x4.max(f32x4.add(f32x4.add(vb, b0), f32x4.add(b1, b2)), vlo), vhi), 16);
        }
        for (; ox + 3 < ow; ox += 4) {
          const c0 = (<usize>ox) << 2;
          const a0 = f32x4.add(f32x4.add(f32x4.mul(w0, v128.load(r0 + c0)), f32x4.mul(w1, v128.load(r0 + c0, 4))), f32x4.mul(w2, v128.load(r0 + c0, 8)));
          const a1 = f32x4.add(f32x4.add(f32x4.mul(w3, v128.load(r1 + c0)), f32x4.mul(w4, v128.load(r1 + c0, 4))), f32x4.mul(w5, v128.load(r1 + c0, 8)));
          const a2 = f32x4.add(f32x4.add(f32x4.mul(w6, v128.load(r2 + c0)), f32x4.mul(w7, v128.load(r2 + c0, 4))), f32x4.mul(w8, v128.load(r2 + c0, 8)));
          v128.store(orow + c0, f32x4.min(f32x4.max(f32x4.add(f32x4.add(vb, a0), f32x4.add(a1, a2)), vlo), vhi));
        }
      } else {
        for (; ox + 3 < ow; ox += 4) {
          const c0 = (<usize>(2 * ox)) << 2;
          // inputs c..c+8 of each row: evens e = x[c + 2j], odds o = x[c + 2j + 1], evens shifted e1 = x[c + 2j + 2]
          let a = v128.load(r0 + c0);
          let bb = v128.load(r0 + c0, 16);
          let e = v128.shuffle<f32>(a, bb, 0, 2, 4, 6);
          let o = v128.shuffle<f32>(a, bb, 1, 3, 5, 7);
          let e1 = v128.shuffle<f32>(e, f32x4.splat(f32.load(r0 + c0, 32)), 1, 2, 3, 4);
          const p0 = f32x4.add(f32x4.add(f32x4.mul(w0, e), f32x4.mul(w1, o)), f32x4.mul(w2, e1));
          a = v128.load(r1 + c0);
          bb = v128.load(r1 + c0, 16);
          e = v128.shuffle<f32>(a, bb, 0, 2, 4, 6);
          o = v128.shuffle<f32>(a, bb, 1, 3, 5, 7);
          e1 = v128.shuffle<f32>(e, f32x4.splat(f32.load(r1 + c0, 32)), 1, 2, 3, 4);
          const p1 = f32x4.add(f32x4.add(f32x4.mul(w3, e), f32x4.mul(w4, o)), f32x4.mul(w5, e1));
          a = v128.load(r2 + c0);
          bb = v128.load(r2 + c0, 16);
          e = v128.shuffle<f32>(a, bb, 0, 2, 4, 6);
          o = v128.shuffle<f32>(a, bb, 1, 3, 5, 7);
          e1 = v128.shuffle<f32>(e, f32x4.splat(f32.load(r2 + c0, 32)), 1, 2, 3, 4);
          const p2 = f32x4.add(f32x4.add(f32x4.mul(w6, e), f32x4.mul(w7, o)), f32x4.mul(w8, e1));
          v128.store(orow + (<usize>ox << 2), f32x4.min(f32x4.max(f32x4.add(f32x4.add(vb, p0), f32x4.add(p1, p2)), vlo), vhi));
        }
      }
      // the last ow mod 4 pixels: nine taps each, same sums as the vector lanes
      for (; ox < ow; ox++) {
        const c0 = (<usize>(ox * s)) << 2;
        const t0 = f32.load(wc) * f32.load(r0 + c0) + f32.load(wc, 4) * f32.load(r0 + c0, 4) + f32.load(wc, 8) * f32.load(r0 + c0, 8);
        const t1 = f32.load(wc, 12) * f32.load(r1 + c0) + f32.load(wc, 16) * f32.load(r1 + c0, 4) + f32.load(wc, 20) * f32.load(r1 + c0, 8);
        const t2 = f32.load(wc, 24) * f32.load(r2 + c0) + f32.load(wc, 28) * f32.load(r2 + c0, 4) + f32.load(wc, 32) * f32.load(r2 + c0, 8);
        f32.store(orow + (<usize>ox << 2), min(max(b + t0 + (t1 + t2), lo), hi));
      }
    }
  }
}

/**
 * ConvTranspose's scatter (col2im), one group of one image: out[oc, oy, ox] = bias[oc] + Σ col[(oc·kh + ky)·kw + kx,
 * iy·iw + ix] over every (iy, ix, ky, kx) with oy = iy·sh − pt + ky·dh and ox = ix·sw − pl + kx·dw inside the
 * output. `col` holds m·kh·kw rows of ih·iw floats (Wᵀ·X from f32_gemm); `bias` may be 0 (none).
 */
export function f32_col2im(col: usize, m: i32, kh: i32, kw: i32, ih: i32, iw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, oh: i32, ow: i32, bias: usize, out: usize): void {
  const plane = oh * ow;
  const ip = ih * iw;
  for (let oc = 0; oc < m; oc++) {
    const op = out + ((<usize>oc * plane) << 2);
    const b: f32 = bias ? f32.load(bias + ((<usize>oc) << 2)) : 0;
    const vb = f32x4.splat(b);
    let i = 0;
    for (; i + 3 < plane; i += 4) v128.store(op + ((<usize>i) << 2), vb);
    for (; i < plane; i++) f32.store(op + ((<usize>i) << 2), b);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const row = col + ((<usize>((oc * kh + ky) * kw + kx) * ip) << 2);
        const ox0 = kx * dw - pl; // output column of input column 0
        // input columns whose output column lies in [0, ow)
        let ixa = ox0 >= 0 ? 0 : (-ox0 + sw - 1) / sw;
        let ixb = ow - 1 - ox0 < 0 ? -1 : (ow - 1 - ox0) / sw;
        if (ixb > iw - 1) ixb = iw - 1;
        if (ixa > ixb) continue;
        for (let iy = 0; iy < ih; iy++) {
          const oy = iy * sh - pt + ky * dh;
          if (oy < 0 || oy >= oh) continue;
          const src = row + ((<usize>iy * iw) << 2);
          const dst = op + ((<usize>(oy * ow + ox0)) << 2);
          let ix = ixa;
          if (sw == 1) {
            for (; ix + 3 <= ixb; ix += 4) {
              const d = dst + ((<usize>ix) << 2);
              v128.store(d, f32x4.add(v128.load(d), v128.load(src + ((<usize>ix) << 2))));
            }
          }
          for (; ix <= ixb; ix++) {
            const d = dst + ((<usize>(ix * sw)) << 2);
            f32.store(d, f32.load(d) + f32.load(src + ((<usize>ix) << 2)));
          }
        }
      }
    }
  }
}

/** Scratch bytes f32_dwconv5x5 needs: one zero-padded plane, 4 spare columns so stride 2 reads whole vectors. */
export function f32_dwconv5x5_scratch_size(ih: i32, iw: i32, s: i32, pt: i32, pl: i32, oh: i32, ow: i32): i32 {
  return (max(ih + pt, (oh - 1) * s + 5) * (max(iw + pl, (ow - 1) * s + 5) + 4)) << 2;
}

/** Five taps of one kernel row at stride 1 for four outputs: Σ w_k·x[c + j + k], summed as two pairs plus one. */
// @ts-ignore: decorator
@inline
function dwRow5s1(p: usize, wa: v128, wb: v128, wc: v128, wd: v128, we: v128): v128 {
  return f32x4.add(f32x4.add(f32x4.add(f32x4.mul(wa, v128.load(p)), f32x4.mul(wb, v128.load(p, 4))), f32x4.add(f32x4.mul(wc, v128.load(p, 8)), f32x4.mul(wd, v128.load(p, 12)))), f32x4.mul(we, v128.load(p, 16)));
}

/** Five taps of one kernel row for one output (stride applied by the caller), in dwRow5s1's order. */
// @ts-ignore: decorator
@inline
function dwRow5Scalar(r: usize, wr: usize): f32 {
  return f32.load(wr) * f32.load(r) + f32.load(wr, 4) * f32.load(r, 4) + (f32.load(wr, 8) * f32.load(r, 8) + f32.load(wr, 12) * f32.load(r, 12)) + f32.load(wr, 16) * f32.load(r, 16);
}

/** Five taps of one kernel row at stride 2 for four outputs: Σ w_k·x[c + 2j + k] from three vector loads (12 floats). */
// @ts-ignore: decorator
@inline
function dwRow5s2(p: usize, wa: v128, wb: v128, wc: v128, wd: v128, we: v128): v128 {
  const a = v128.load(p);
  const b = v128.load(p, 16);
  const c = v128.load(p, 32);
  const e0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6); // x[c + 2j]
  const o0 = v128.shuffle<f32>(a, b, 1, 3, 5, 7); // x[c + 2j + 1]
  const e2 = v128.shuffle<f32>(b, c, 0, 2, 4, 6); // x[c + 2j + 4]
  const o2 = v128.shuffle<f32>(b, c, 1, 3, 5, 7); // x[c + 2j + 5]
  const e1 = v128.shuffle<f32>(e0, e2, 1, 2, 3, 6); // x[c + 2j + 2]: e0 lanes 1..3, then x[c + 8]
  const o1 = v128.shuffle<f32>(o0, o2, 1, 2, 3, 6); // x[c + 2j + 3]: o0 lanes 1..3, then x[c + 9]
  return f32x4.add(f32x4.add(f32x4.add(f32x4.mul(wa, e0), f32x4.mul(wb, o0)), f32x4.add(f32x4.mul(wc, e1), f32x4.mul(wd, o1))), f32x4.mul(we, e2));
}

/**
 * Depthwise 5×5, dilation 1, stride 1 or 2, over `c` channels (weights 25 per channel at w, biases at `bias`), the
 * f32_dwconv3x3 scheme one size up: each channel is copied into a zero-padded plane in `tmp` (border zero across
 * channels), so every output pixel takes the same branch-free path; the 25 taps stay splatted in locals and each
 * kernel row's five taps are summed first, then bias + (row0 + row1) + (row2 + (row3 + row4)), clamped to [lo, hi].
 */
export function f32_dwconv5x5(x: usize, c: i32, ih: i32, iw: i32, w: usize, s: i32, pt: i32, pl: i32, oh: i32, ow: i32, bias: usize, out: usize, lo: f32, hi: f32, tmp: usize): void {
  const hp = max(ih + pt, (oh - 1) * s + 5);
  const wp = max(iw + pl, (ow - 1) * s + 5) + 4;
  const rowBytes = (<usize>wp) << 2;
  memory.fill(tmp, 0, <usize>hp * rowBytes);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  for (let ch = 0; ch < c; ch++) {
    const xc = x + ((<usize>ch * ih * iw) << 2);
    for (let y = 0; y < ih; y++) memory.copy(tmp + <usize>(y + pt) * rowBytes + ((<usize>pl) << 2), xc + ((<usize>y * iw) << 2), (<usize>iw) << 2);
    const wc = w + <usize>ch * 100;
    const k00 = v128.load32_splat(wc, 0), k01 = v128.load32_splat(wc, 4), k02 = v128.load32_splat(wc, 8), k03 = v128.load32_splat(wc, 12), k04 = v128.load32_splat(wc, 16);
    const k10 = v128.load32_splat(wc, 20), k11 = v128.load32_splat(wc, 24), k12 = v128.load32_splat(wc, 28), k13 = v128.load32_splat(wc, 32), k14 = v128.load32_splat(wc, 36);
    const k20 = v128.load32_splat(wc, 40), k21 = v128.load32_splat(wc, 44), k22 = v128.load32_splat(wc, 48), k23 = v128.load32_splat(wc, 52), k24 = v128.load32_splat(wc, 56);
    const k30 = v128.load32_splat(wc, 60), k31 = v128.load32_splat(wc, 64), k32 = v128.load32_splat(wc, 68), k33 = v128.load32_splat(wc, 72), k34 = v128.load32_splat(wc, 76);
    const k40 = v128.load32_splat(wc, 80), k41 = v128.load32_splat(wc, 84), k42 = v128.load32_splat(wc, 88), k43 = v128.load32_splat(wc, 92), k44 = v128.load32_splat(wc, 96);
    const b: f32 = f32.load(bias + ((<usize>ch) << 2));
    const vb = f32x4.splat(b);
    const oc = out + ((<usize>ch * oh * ow) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const orow = oc + ((<usize>oy * ow) << 2);
      const r0 = tmp + <usize>(oy * s) * rowBytes;
      const r1 = r0 + rowBytes;
      const r2 = r1 + rowBytes;
      const r3 = r2 + rowBytes;
      const r4 = r3 + rowBytes;
      let ox = 0;
      if (s == 1) {
        for (; ox + 3 < ow; ox += 4) {
          const c0 = (<usize>ox) << 2;
          const a0 = dwRow5s1(r0 + c0, k00, k01, k02, k03, k04);
          const a1 = dwRow5s1(r1 + c0, k10, k11, k12, k13, k14);
          const a2 = dwRow5s1(r2 + c0, k20, k21, k22, k23, k24);
          const a3 = dwRow5s1(r3 + c0, k30, k31, k32, k33, k34);
          const a4 = dwRow5s1(r4 + c0, k40, k41, k42, k43, k44);
          v128.store(orow + c0, f32x4.min(f32x4.max(f32x4.add(f32x4.add(vb, f32x4.add(a0, a1)), f32x4.add(a2, f32x4.add(a3, a4))), vlo), vhi));
        }
      } else {
        for (; ox + 3 < ow; ox += 4) {
          const c0 = (<usize>(2 * ox)) << 2;
          const a0 = dwRow5s2(r0 + c0, k00, k01, k02, k03, k04);
          const a1 = dwRow5s2(r1 + c0, k10, k11, k12, k13, k14);
          const a2 = dwRow5s2(r2 + c0, k20, k21, k22, k23, k24);
          const a3 = dwRow5s2(r3 + c0, k30, k31, k32, k33, k34);
          const a4 = dwRow5s2(r4 + c0, k40, k41, k42, k43, k44);
          v128.store(orow + (<usize>ox << 2), f32x4.min(f32x4.max(f32x4.add(f32x4.add(vb, f32x4.add(a0, a1)), f32x4.add(a2, f32x4.add(a3, a4))), vlo), vhi));
        }
      }
      // the last ow mod 4 pixels: 25 taps each, summed in the vector lanes' order
      for (; ox < ow; ox++) {
        const c0 = (<usize>(ox * s)) << 2;
        const t0 = dwRow5Scalar(r0 + c0, wc);
        const t1 = dwRow5Scalar(r1 + c0, wc + 20);
        const t2 = dwRow5Scalar(r2 + c0, wc + 40);
        const t3 = dwRow5Scalar(r3 + c0, wc + 60);
        const t4 = dwRow5Scalar(r4 + c0, wc + 80);
        const t: f32 = b + (t0 + t1) + (t2 + (t3 + t4));
        f32.store(orow + (<usize>ox << 2), min(max(t, lo), hi));
      }
    }
  }
}

/**
 * ConvTranspose's scatter when stride = kernel, dilation 1 and no pads (kernel windows tile the output without
 * overlap: PP-OCR det's and U-Nets' k2 s2 upsampling): out[oc, iy·kh + ky, ix·kw + kx] = bias[oc] + col[(oc·kh + ky)
 * ·kw + kx, iy·iw + ix], every output pixel written once (a pixel shuffle; no bias pre-fill, no read-add). ow = iw·kw;
 * oh ≥ ih·kh, rows past ih·kh (output_padding) get the bias alone. kw = 2 interleaves two column rows with shuffles.
 */
export function f32_col2im_tiled(col: usize, m: i32, kh: i32, kw: i32, ih: i32, iw: i32, oh: i32, bias: usize, out: usize): void {
  const ow = iw * kw;
  const plane = oh * ow;
  const ip = ih * iw;
  const iv = iw & ~3;
  for (let oc = 0; oc < m; oc++) {
    const op = out + ((<usize>oc * plane) << 2);
    const b: f32 = bias ? f32.load(bias + ((<usize>oc) << 2)) : 0;
    const vb = f32x4.splat(b);
    for (let ky = 0; ky < kh; ky++) {
      const rows = col + ((<usize>((oc * kh + ky) * kw) * ip) << 2);
      for (let iy = 0; iy < ih; iy++) {
        const dst = op + ((<usize>((iy * kh + ky) * ow)) << 2);
        const src = rows + ((<usize>(iy * iw)) << 2);
        if (kw == 2) {
          const src1 = src + ((<usize>ip) << 2);
          let ix = 0;
          for (; ix < iv; ix += 4) {
            const a = f32x4.add(v128.load(src + ((<usize>ix) << 2)), vb);
            const c = f32x4.add(v128.load(src1 + ((<usize>ix) << 2)), vb);
            const d = dst + ((<usize>ix) << 3);
            v128.store(d, i32x4.shuffle(a, c, 0, 4, 1, 5));
            v128.store(d + 16, i32x4.shuffle(a, c, 2, 6, 3, 7));
          }
          for (; ix < iw; ix++) {
            const d = dst + ((<usize>ix) << 3);
            f32.store(d, f32.load(src + ((<usize>ix) << 2)) + b);
            f32.store(d + 4, f32.load(src1 + ((<usize>ix) << 2)) + b);
          }
        } else {
          for (let kx = 0; kx < kw; kx++) {
            const s = src + ((<usize>(kx * ip)) << 2);
            for (let ix = 0; ix < iw; ix++) f32.store(dst + ((<usize>(ix * kw + kx)) << 2), f32.load(s + ((<usize>ix) << 2)) + b);
          }
        }
      }
    }
    // output_padding rows below the last window: bias only
    for (let i = ih * kh * ow; i < plane; i++) f32.store(op + ((<usize>i) << 2), b);
  }
}
