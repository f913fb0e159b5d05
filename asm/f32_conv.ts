import { dwClamp, dwClampExact, dwClampZero, tapRow } from './vec';
import { madd } from './madd';
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

/**
 * Stride-2 planes hold each padded row as two half rows, even columns then odd columns, `half` floats each: tap kx
 * of output ox is even[ox + kx/2] (kx even) or odd[ox + (kx−1)/2] (kx odd), so four outputs read whole vectors with
 * no shuffles. `half` covers the image's columns and every tap of a k-wide kernel.
 */
// @ts-ignore: decorator
@inline
function dwHalf(iw: i32, pl: i32, ow: i32, k: i32): i32 {
  return max(ow + (k >> 1), (iw + pl + 1) >> 1);
}

/**
 * Copy one channel (ih×iw at xc) into a stride-2 plane (rows of 2·half floats from `tmp`, image at row pt, padded
 * column pl), deinterleaving columns: padded column j goes to half row j & 1 at j >> 1. Pixels only — the zero
 * border written once by the caller stays zero across channels.
 */
// @ts-ignore: decorator
@inline
function dwCopyS2(xc: usize, ih: i32, iw: i32, tmp: usize, pt: i32, pl: i32, half: i32): void {
  const rowBytes = (<usize>half) << 3;
  // input column ix = 2q lands at half row (pl & 1) position q + a0, ix = 2q + 1 at the other one, position q + b0
  const odd = pl & 1;
  const a0 = (<usize>(odd ? (<usize>half) << 2 : 0)) + ((<usize>(pl >> 1)) << 2);
  const b0 = (<usize>(odd ? 0 : (<usize>half) << 2)) + ((<usize>((pl + 1) >> 1)) << 2);
  for (let y = 0; y < ih; y++) {
    const src = xc + ((<usize>y * iw) << 2);
    const row = tmp + <usize>(y + pt) * rowBytes;
    const pa = row + a0;
    const pb = row + b0;
    let ix = 0;
    for (; ix + 7 < iw; ix += 8) {
      const u = v128.load(src + ((<usize>ix) << 2));
      const v = v128.load(src + ((<usize>ix) << 2), 16);
      v128.store(pa + ((<usize>ix) << 1), v128.shuffle<f32>(u, v, 0, 2, 4, 6));
      v128.store(pb + ((<usize>ix) << 1), v128.shuffle<f32>(u, v, 1, 3, 5, 7));
    }
    for (; ix < iw; ix++) f32.store((ix & 1 ? pb : pa) + ((<usize>(ix >> 1)) << 2), f32.load(src + ((<usize>ix) << 2)));
  }
}

/**
 * Copy one channel (ih×iw at xc) into a stride-1 plane (rows of rowBytes from `tmp`, image at row pt, column pl):
 * four floats per vector load / store, the row's last iw mod 4 one by one. A memory.copy per row (a call into the
 * engine each) cost more than the taps on the 7×7 – 14×14 planes of the late depthwise layers.
 */
// @ts-ignore: decorator
@inline
function dwCopyS1(xc: usize, ih: i32, iw: i32, tmp: usize, pt: i32, pl: i32, rowBytes: usize): void {
  const bytes = (<usize>iw) << 2;
  const vec = bytes & ~15;
  for (let y = 0; y < ih; y++) {
    const src = xc + <usize>y * bytes;
    const dst = tmp + <usize>(y + pt) * rowBytes + ((<usize>pl) << 2);
    let o: usize = 0;
    for (; o < vec; o += 16) v128.store(dst + o, v128.load(src + o));
    for (; o < bytes; o += 4) f32.store(dst + o, f32.load(src + o));
  }
}

/** Scratch bytes f32_dwconv3x3 needs (one zero-padded input plane; at column stride 2 with deinterleaved rows). */
export function f32_dwconv3x3_scratch_size(ih: i32, iw: i32, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32): i32 {
  const ow4 = (ow + 3) & ~3;
  if (sw == 2) return (dwPlaneRows(ih, sh, pt, oh) * dwHalf(iw, pl, ow4, 3)) << 3;
  return (dwPlaneRows(ih, sh, pt, oh) * dwPlaneRows(iw, 1, pl, ow4)) << 2;
}

/** Lanes 0 … n − 1 (n = 1 … 3) of v to p: the partial last vector of an output row. */
// @ts-ignore: decorator
@inline
function storeLanes(p: usize, v: v128, n: i32): void {
  v128.store32_lane(p, v, 0);
  if (n > 1) v128.store32_lane(p, v, 1, 4);
  if (n > 2) v128.store32_lane(p, v, 2, 8);
}

/** Four outputs of two output rows `obytes` apart (va at p, vv below it); only n lanes of each when n < 4 (a row's end). */
// @ts-ignore: decorator
@inline
function storeRowPair(p: usize, obytes: usize, va: v128, vv: v128, n: i32): void {
  if (n >= 4) {
    v128.store(p, va);
    v128.store(p + obytes, vv);
  } else {
    storeLanes(p, va, n);
    storeLanes(p + obytes, vv, n);
  }
}

/** Three taps of one kernel row for four outputs: (w0·x0 + w1·x1) + w2·x2 (fused multiply-adds in the relaxed build). */
// @ts-ignore: decorator
@inline
function dwRow3(w0: v128, w1: v128, w2: v128, x0: v128, x1: v128, x2: v128): v128 {
  return madd(w2, x2, madd(w1, x1, f32x4.mul(w0, x0)));
}

/** dwRow3 over the taps at p, p + t1, p + t2 of a plane row (f32_dwconv3x3: columns ox … ox + 2, or even / odd half rows). */
// @ts-ignore: decorator
@inline
function dwTaps3(p: usize, t1: usize, t2: usize, w0: v128, w1: v128, w2: v128): v128 {
  return dwRow3(w0, w1, w2, v128.load(p), v128.load(p + t1), v128.load(p + t2));
}

/**
 * Depthwise 3×3, dilation 1, row stride sh ≥ 1 and column stride sw 1 or 2 (any pair: PP-OCR rec's (2,1)/(1,2)), over
 * `c` channels (weights 9 per channel at w, biases at `bias`). Row strides only pick which plane rows an output row reads.
 * Each channel is copied into a zero-padded plane in `tmp` first (its border stays zero across channels), so every
 * output pixel takes the same branch-free path: scalar per-pixel border handling used to cost more than the
 * interior on 56×56 planes. Stride 2 deinterleaves even and odd columns during that copy (dwCopyS2), so its taps
 * are plain vector loads as at stride 1. At row stride 1 or 2 two output rows run per pass, four outputs each: the
 * plane rows both read (two at stride 1, one at stride 2) are loaded once and feed both (XNNPACK's multi-row
 * dwconv tiles); other row strides one row of four. The nine taps stay splatted in locals. Each kernel row's three
 * taps are summed first, then bias + row0 + (row1 + row2), clamped to [lo, hi] (dwClamp; none when lo = −∞, hi = +∞).
 */
export function f32_dwconv3x3(x: usize, c: i32, ih: i32, iw: i32, w: usize, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32, bias: usize, out: usize, lo: f32, hi: f32, tmp: usize): void {
  const hp = dwPlaneRows(ih, sh, pt, oh);
  // columns for whole 4-output vectors: the last ow mod 4 outputs run as one more vector, stored lane by lane
  const ow4 = (ow + 3) & ~3;
  const half = dwHalf(iw, pl, ow4, 3);
  const wp = sw == 2 ? half << 1 : dwPlaneRows(iw, 1, pl, ow4);
  const rowBytes = (<usize>wp) << 2;
  // tap 1 / tap 2 of output ox: x[ox + 1], x[ox + 2] at stride 1; odd[ox], even[ox + 1] of the half rows at stride 2
  const t1 = sw == 2 ? (<usize>half) << 2 : 4;
  const t2: usize = sw == 2 ? 4 : 8;
  memory.fill(tmp, 0, <usize>hp * rowBytes);
  const clamp = lo > -Infinity || hi < Infinity;
  const exact = dwClampExact(lo, hi);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const vz = dwClampZero(lo);
  const obytes = (<usize>ow) << 2;
  // output row pairs (oy, oy + 1) at row stride 1 or 2; the rest (odd oh, other strides) one row at a time
  const pairs = sh <= 2 ? oh >> 1 : 0;
  for (let ch = 0; ch < c; ch++) {
    const xc = x + ((<usize>ch * ih * iw) << 2);
    if (sw == 2) dwCopyS2(xc, ih, iw, tmp, pt, pl, half);
    else dwCopyS1(xc, ih, iw, tmp, pt, pl, rowBytes);
    const wc = w + <usize>ch * 36;
    const w0 = v128.load32_splat(wc);
    const w1 = v128.load32_splat(wc, 4);
    const w2 = v128.load32_splat(wc, 8);
    const w3 = v128.load32_splat(wc, 12);
    const w4 = v128.load32_splat(wc, 16);
    const w5 = v128.load32_splat(wc, 20);
    const w6 = v128.load32_splat(wc, 24);
    const w7 = v128.load32_splat(wc, 28);
    const w8 = v128.load32_splat(wc, 32);
    const b: f32 = f32.load(bias + ((<usize>ch) << 2));
    const vb = f32x4.splat(b);
    const oc = out + ((<usize>ch * oh * ow) << 2);
    for (let pr = 0; pr < pairs; pr++) {
      const oy = pr << 1;
      const orow = oc + ((<usize>oy * ow) << 2);
      const r0 = tmp + <usize>(oy * sh) * rowBytes;
      const r1 = r0 + rowBytes;
      const r2 = r1 + rowBytes;
      for (let ox = 0; ox < ow; ox += 4) {
        const c0 = (<usize>ox) << 2;
        const p0 = r0 + c0, p1 = r1 + c0, p2 = r2 + c0;
        const a0 = dwTaps3(p0, t1, t2, w0, w1, w2);
        const x10 = v128.load(p1), x11 = v128.load(p1 + t1), x12 = v128.load(p1 + t2);
        const a1 = dwRow3(w3, w4, w5, x10, x11, x12);
        const x20 = v128.load(p2), x21 = v128.load(p2 + t1), x22 = v128.load(p2 + t2);
        const a2 = dwRow3(w6, w7, w8, x20, x21, x22);
        let b0: v128, b1: v128, b2: v128;
        if (sh == 1) {
          // output row oy + 1 reads plane rows oy + 1 … oy + 3: two of them already loaded
          const p3 = p2 + rowBytes;
          b0 = dwRow3(w0, w1, w2, x10, x11, x12);
          b1 = dwRow3(w3, w4, w5, x20, x21, x22);
          b2 = dwTaps3(p3, t1, t2, w6, w7, w8);
        } else {
          // row stride 2: output row oy + 1 reads plane rows oy·2 + 2 … oy·2 + 4, the first already loaded
          const p3 = p2 + rowBytes;
          const p4 = p3 + rowBytes;
          b0 = dwRow3(w0, w1, w2, x20, x21, x22);
          b1 = dwTaps3(p3, t1, t2, w3, w4, w5);
          b2 = dwTaps3(p4, t1, t2, w6, w7, w8);
        }
        const va = dwClamp(f32x4.add(f32x4.add(vb, a0), f32x4.add(a1, a2)), clamp, exact, vlo, vhi, vz);
        const vv = dwClamp(f32x4.add(f32x4.add(vb, b0), f32x4.add(b1, b2)), clamp, exact, vlo, vhi, vz);
        storeRowPair(orow + c0, obytes, va, vv, ow - ox);
      }
    }
    for (let oy = pairs << 1; oy < oh; oy++) {
      const orow = oc + ((<usize>oy * ow) << 2);
      const r0 = tmp + <usize>(oy * sh) * rowBytes;
      // four outputs per step; the last ow mod 4 run as one more vector over the plane's spare zero
      // columns, only its valid lanes stored
      for (let ox = 0; ox < ow; ox += 4) {
        const c0 = (<usize>ox) << 2;
        const a0 = dwTaps3(r0 + c0, t1, t2, w0, w1, w2);
        const a1 = dwTaps3(r0 + rowBytes + c0, t1, t2, w3, w4, w5);
        const a2 = dwTaps3(r0 + 2 * rowBytes + c0, t1, t2, w6, w7, w8);
        const v = dwClamp(f32x4.add(f32x4.add(vb, a0), f32x4.add(a1, a2)), clamp, exact, vlo, vhi, vz);
        if (ox + 3 < ow) v128.store(orow + c0, v);
        else storeLanes(orow + c0, v, ow - ox);
      }
    }
  }
}

/**
 * Depthwise 1×1 (a per-channel scale and bias: MediaPipe's BlazeBlocks use them between convs), stride 1, no pads:
 * out[ch, i] = clamp(bias[ch] + w[ch]·x[ch, i], lo, hi) over `p` pixels of `c` channels.
 */
export function f32_dwconv1x1(x: usize, c: i32, p: i32, w: usize, bias: usize, out: usize, lo: f32, hi: f32): void {
  // no clamp at all when unbounded (the per-channel affine epilogue step), else dwClamp's three instructions
  if (lo == -Infinity && hi == Infinity) dwconv1x1(x, c, p, w, bias, out, lo, hi, false);
  else dwconv1x1(x, c, p, w, bias, out, lo, hi, true);
}

// @ts-ignore: decorator
@inline
function dwconv1x1(x: usize, c: i32, p: i32, w: usize, bias: usize, out: usize, lo: f32, hi: f32, clamp: bool): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const exact = dwClampExact(lo, hi);
  const vz = dwClampZero(lo);
  for (let ch = 0; ch < c; ch++) {
    const wv: f32 = f32.load(w + ((<usize>ch) << 2));
    const b: f32 = f32.load(bias + ((<usize>ch) << 2));
    const vw = f32x4.splat(wv);
    const vb = f32x4.splat(b);
    const xc = x + ((<usize>ch * p) << 2);
    const oc = out + ((<usize>ch * p) << 2);
    let i = 0;
    for (; i + 7 < p; i += 8) {
      const o = (<usize>i) << 2;
      v128.store(oc + o, dwClamp(madd(vw, v128.load(xc + o), vb), clamp, exact, vlo, vhi, vz));
      v128.store(oc + o, dwClamp(madd(vw, v128.load(xc + o, 16), vb), clamp, exact, vlo, vhi, vz), 16);
    }
    for (; i < p; i++) {
      const o = (<usize>i) << 2;
      f32.store(oc + o, min(max(b + wv * f32.load(xc + o), lo), hi));
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

/** Scratch bytes f32_dwconv5x5 needs: one zero-padded plane (at column stride 2 with deinterleaved rows, as dwCopyS2 writes). */
export function f32_dwconv5x5_scratch_size(ih: i32, iw: i32, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32): i32 {
  const ow4 = (ow + 3) & ~3;
  if (sw == 2) return (max(ih + pt, (oh - 1) * sh + 5) * dwHalf(iw, pl, ow4, 5)) << 3;
  return (max(ih + pt, (oh - 1) * sh + 5) * max(iw + pl, ow4 - 1 + 5)) << 2;
}

/** Five taps of one kernel row for four outputs: ((w0·x0 + w1·x1) + (w2·x2 + w3·x3)) + w4·x4 (madd: FMA in the relaxed build). */
// @ts-ignore: decorator
@inline
function dwRow5(wa: v128, wb: v128, wc: v128, wd: v128, we: v128, x0: v128, x1: v128, x2: v128, x3: v128, x4: v128): v128 {
  return madd(we, x4, f32x4.add(madd(wb, x1, f32x4.mul(wa, x0)), madd(wd, x3, f32x4.mul(wc, x2))));
}

/** dwRow5 at stride 1: taps x[c + j + k] of the padded row at p. */
// @ts-ignore: decorator
@inline
function dwRow5s1(p: usize, wa: v128, wb: v128, wc: v128, wd: v128, we: v128): v128 {
  return dwRow5(wa, wb, wc, wd, we, v128.load(p), v128.load(p, 4), v128.load(p, 8), v128.load(p, 12), v128.load(p, 16));
}

/** dwRow5 at stride 2 over a deinterleaved row: taps even[ox], odd[ox], even[ox + 1], odd[ox + 1], even[ox + 2]. */
// @ts-ignore: decorator
@inline
function dwRow5s2(e: usize, o: usize, wa: v128, wb: v128, wc: v128, wd: v128, we: v128): v128 {
  return dwRow5(wa, wb, wc, wd, we, v128.load(e), v128.load(o), v128.load(e, 4), v128.load(o, 4), v128.load(e, 8));
}

/**
 * Depthwise 5×5, dilation 1, row stride sh ≥ 1, column stride sw 1 or 2, over `c` channels (weights 25 per channel at
 * w, biases at `bias`), the
 * f32_dwconv3x3 scheme one size up: each channel is copied into a zero-padded plane in `tmp` (border zero across
 * channels; stride 2 deinterleaves even and odd columns, dwCopyS2), so every output pixel takes the same
 * branch-free path; the 25 taps stay splatted in locals and each kernel row's five taps are summed first. Output rows
 * in pairs (row stride 1 at column stride 1, stride 2 at 2: each plane row both read is loaded once) sum the rows in
 * order from the bias, ((((bias + row0) + row1) + row2) + row3) + row4, so only two accumulators are live beside the
 * 25 taps (the ten row sums the pairs used to keep made them ~8 % slower); the other rows (an odd last one, other
 * strides) bias + ((row0 + row1) + (row2 + (row3 + row4))), whose shorter add chain suits one row of four outputs.
 * Clamped to [lo, hi] (dwClamp).
 */
export function f32_dwconv5x5(x: usize, c: i32, ih: i32, iw: i32, w: usize, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32, bias: usize, out: usize, lo: f32, hi: f32, tmp: usize): void {
  const hp = max(ih + pt, (oh - 1) * sh + 5);
  // columns for whole 4-output vectors: the last ow mod 4 outputs run as one more vector, stored lane by lane
  const ow4 = (ow + 3) & ~3;
  const half = dwHalf(iw, pl, ow4, 5);
  const wp = sw == 2 ? half << 1 : max(iw + pl, ow4 - 1 + 5);
  const rowBytes = (<usize>wp) << 2;
  const oddBytes = (<usize>half) << 2;
  memory.fill(tmp, 0, <usize>hp * rowBytes);
  const clamp = lo > -Infinity || hi < Infinity;
  const exact = dwClampExact(lo, hi);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const vz = dwClampZero(lo);
  const obytes = (<usize>ow) << 2;
  for (let ch = 0; ch < c; ch++) {
    const xc = x + ((<usize>ch * ih * iw) << 2);
    if (sw == 2) dwCopyS2(xc, ih, iw, tmp, pt, pl, half);
    else dwCopyS1(xc, ih, iw, tmp, pt, pl, rowBytes);
    const wc = w + <usize>ch * 100;
    const k00 = v128.load32_splat(wc, 0), k01 = v128.load32_splat(wc, 4), k02 = v128.load32_splat(wc, 8), k03 = v128.load32_splat(wc, 12), k04 = v128.load32_splat(wc, 16);
    const k10 = v128.load32_splat(wc, 20), k11 = v128.load32_splat(wc, 24), k12 = v128.load32_splat(wc, 28), k13 = v128.load32_splat(wc, 32), k14 = v128.load32_splat(wc, 36);
    const k20 = v128.load32_splat(wc, 40), k21 = v128.load32_splat(wc, 44), k22 = v128.load32_splat(wc, 48), k23 = v128.load32_splat(wc, 52), k24 = v128.load32_splat(wc, 56);
    const k30 = v128.load32_splat(wc, 60), k31 = v128.load32_splat(wc, 64), k32 = v128.load32_splat(wc, 68), k33 = v128.load32_splat(wc, 72), k34 = v128.load32_splat(wc, 76);
    const k40 = v128.load32_splat(wc, 80), k41 = v128.load32_splat(wc, 84), k42 = v128.load32_splat(wc, 88), k43 = v128.load32_splat(wc, 92), k44 = v128.load32_splat(wc, 96);
    const b: f32 = f32.load(bias + ((<usize>ch) << 2));
    const vb = f32x4.splat(b);
    const oc = out + ((<usize>ch * oh * ow) << 2);
    // stride 1: output rows in pairs, each plane row loaded once for both (rows oy … oy + 5; XNNPACK's 2-row tiles)
    const pairs = sh == 1 && sw == 1 ? oh >> 1 : 0;
    for (let pr = 0; pr < pairs; pr++) {
      const oy = pr << 1;
      const orow = oc + ((<usize>oy * ow) << 2);
      const r0 = tmp + <usize>oy * rowBytes;
      for (let ox = 0; ox < ow; ox += 4) {
        const c0 = (<usize>ox) << 2;
        const p0 = r0 + c0;
        // plane row j feeds kernel row j of output oy and kernel row j − 1 of output oy + 1; both outputs run as one
        // sum from the bias, row by row (two accumulators live, not ten row sums: the 25 taps already fill the registers)
        let va = f32x4.add(vb, dwRow5s1(p0, k00, k01, k02, k03, k04));
        let p = p0 + rowBytes;
        let x0 = v128.load(p), x1 = v128.load(p, 4), x2 = v128.load(p, 8), x3 = v128.load(p, 12), x4 = v128.load(p, 16);
        va = f32x4.add(va, dwRow5(k10, k11, k12, k13, k14, x0, x1, x2, x3, x4));
        let vv = f32x4.add(vb, dwRow5(k00, k01, k02, k03, k04, x0, x1, x2, x3, x4));
        p += rowBytes;
        x0 = v128.load(p); x1 = v128.load(p, 4); x2 = v128.load(p, 8); x3 = v128.load(p, 12); x4 = v128.load(p, 16);
        va = f32x4.add(va, dwRow5(k20, k21, k22, k23, k24, x0, x1, x2, x3, x4));
        vv = f32x4.add(vv, dwRow5(k10, k11, k12, k13, k14, x0, x1, x2, x3, x4));
        p += rowBytes;
        x0 = v128.load(p); x1 = v128.load(p, 4); x2 = v128.load(p, 8); x3 = v128.load(p, 12); x4 = v128.load(p, 16);
        va = f32x4.add(va, dwRow5(k30, k31, k32, k33, k34, x0, x1, x2, x3, x4));
        vv = f32x4.add(vv, dwRow5(k20, k21, k22, k23, k24, x0, x1, x2, x3, x4));
        p += rowBytes;
        x0 = v128.load(p); x1 = v128.load(p, 4); x2 = v128.load(p, 8); x3 = v128.load(p, 12); x4 = v128.load(p, 16);
        va = dwClamp(f32x4.add(va, dwRow5(k40, k41, k42, k43, k44, x0, x1, x2, x3, x4)), clamp, exact, vlo, vhi, vz);
        vv = f32x4.add(vv, dwRow5(k30, k31, k32, k33, k34, x0, x1, x2, x3, x4));
        vv = dwClamp(f32x4.add(vv, dwRow5s1(p + rowBytes, k40, k41, k42, k43, k44)), clamp, exact, vlo, vhi, vz);
        storeRowPair(orow + c0, obytes, va, vv, ow - ox);
      }
    }
    // stride 2: output rows in pairs too, plane rows 2·oy … 2·oy + 6, the middle three read once for both
    const pairs2 = sh == 2 && sw == 2 ? oh >> 1 : 0;
    for (let pr = 0; pr < pairs2; pr++) {
      const oy = pr << 1;
      const orow = oc + ((<usize>oy * ow) << 2);
      const r0 = tmp + <usize>(oy << 1) * rowBytes;
      for (let ox = 0; ox < ow; ox += 4) {
        const c0 = (<usize>ox) << 2;
        const e0 = r0 + c0;
        let va = f32x4.add(vb, dwRow5s2(e0, e0 + oddBytes, k00, k01, k02, k03, k04));
        va = f32x4.add(va, dwRow5s2(e0 + rowBytes, e0 + rowBytes + oddBytes, k10, k11, k12, k13, k14));
        let e = e0 + 2 * rowBytes;
        let o = e + oddBytes;
        let x0 = v128.load(e), x1 = v128.load(o), x2 = v128.load(e, 4), x3 = v128.load(o, 4), x4 = v128.load(e, 8);
        va = f32x4.add(va, dwRow5(k20, k21, k22, k23, k24, x0, x1, x2, x3, x4));
        let vv = f32x4.add(vb, dwRow5(k00, k01, k02, k03, k04, x0, x1, x2, x3, x4));
        e += rowBytes;
        o += rowBytes;
        x0 = v128.load(e); x1 = v128.load(o); x2 = v128.load(e, 4); x3 = v128.load(o, 4); x4 = v128.load(e, 8);
        va = f32x4.add(va, dwRow5(k30, k31, k32, k33, k34, x0, x1, x2, x3, x4));
        vv = f32x4.add(vv, dwRow5(k10, k11, k12, k13, k14, x0, x1, x2, x3, x4));
        e += rowBytes;
        o += rowBytes;
        x0 = v128.load(e); x1 = v128.load(o); x2 = v128.load(e, 4); x3 = v128.load(o, 4); x4 = v128.load(e, 8);
        va = dwClamp(f32x4.add(va, dwRow5(k40, k41, k42, k43, k44, x0, x1, x2, x3, x4)), clamp, exact, vlo, vhi, vz);
        vv = f32x4.add(vv, dwRow5(k20, k21, k22, k23, k24, x0, x1, x2, x3, x4));
        vv = f32x4.add(vv, dwRow5s2(e + rowBytes, o + rowBytes, k30, k31, k32, k33, k34));
        vv = dwClamp(f32x4.add(vv, dwRow5s2(e + 2 * rowBytes, o + 2 * rowBytes, k40, k41, k42, k43, k44)), clamp, exact, vlo, vhi, vz);
        storeRowPair(orow + c0, obytes, va, vv, ow - ox);
      }
    }
    for (let oy = (pairs + pairs2) << 1; oy < oh; oy++) {
      const orow = oc + ((<usize>oy * ow) << 2);
      const r0 = tmp + <usize>(oy * sh) * rowBytes;
      const r1 = r0 + rowBytes;
      const r2 = r1 + rowBytes;
      const r3 = r2 + rowBytes;
      const r4 = r3 + rowBytes;
      let ox = 0;
      if (sw == 1) {
        // four outputs per step; the last ow mod 4 run as one more vector over the plane's spare zero
        // columns, only its valid lanes stored
        for (; ox < ow; ox += 4) {
          const c0 = (<usize>ox) << 2;
          const a0 = dwRow5s1(r0 + c0, k00, k01, k02, k03, k04);
          const a1 = dwRow5s1(r1 + c0, k10, k11, k12, k13, k14);
          const a2 = dwRow5s1(r2 + c0, k20, k21, k22, k23, k24);
          const a3 = dwRow5s1(r3 + c0, k30, k31, k32, k33, k34);
          const a4 = dwRow5s1(r4 + c0, k40, k41, k42, k43, k44);
          const v = dwClamp(f32x4.add(f32x4.add(vb, f32x4.add(a0, a1)), f32x4.add(a2, f32x4.add(a3, a4))), clamp, exact, vlo, vhi, vz);
          if (ox + 3 < ow) v128.store(orow + c0, v);
          else storeLanes(orow + c0, v, ow - ox);
        }
      } else {
        // four outputs per step; the last ow mod 4 run as one more vector over the plane's spare zero
        // columns, only its valid lanes stored
        for (; ox < ow; ox += 4) {
          const c0 = (<usize>ox) << 2;
          const a0 = dwRow5s2(r0 + c0, r0 + oddBytes + c0, k00, k01, k02, k03, k04);
          const a1 = dwRow5s2(r1 + c0, r1 + oddBytes + c0, k10, k11, k12, k13, k14);
          const a2 = dwRow5s2(r2 + c0, r2 + oddBytes + c0, k20, k21, k22, k23, k24);
          const a3 = dwRow5s2(r3 + c0, r3 + oddBytes + c0, k30, k31, k32, k33, k34);
          const a4 = dwRow5s2(r4 + c0, r4 + oddBytes + c0, k40, k41, k42, k43, k44);
          const v = dwClamp(f32x4.add(f32x4.add(vb, f32x4.add(a0, a1)), f32x4.add(a2, f32x4.add(a3, a4))), clamp, exact, vlo, vhi, vz);
          if (ox + 3 < ow) v128.store(orow + c0, v);
          else storeLanes(orow + c0, v, ow - ox);
        }
      }
    }
  }
}

/** Scratch bytes f32_dwconv_plane needs: one zero-padded plane for a kh×kw kernel (column stride 2: deinterleaved rows). */
export function f32_dwconv_plane_scratch_size(ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32): i32 {
  const ow4 = (ow + 3) & ~3;
  const rows = max(ih + pt, (oh - 1) * sh + kh);
  if (sw == 2) return (rows * dwHalf(iw, pl, ow4, kw)) << 3;
  return (rows * max(iw + pl, ow4 - 1 + kw)) << 2;
}

/**
 * Depthwise conv of any kernel size kh×kw (1×k / k×1 too), dilation 1, row stride sh ≥ 1, column stride sw 1 or 2,
 * over `c` channels (weights kh·kw per channel at w, biases at `bias`): the f32_dwconv3x3 scheme with the taps in a
 * loop. Each channel is copied into a zero-padded plane in `tmp` (border zero across channels; column stride 2
 * deinterleaves even and odd columns, dwCopyS2), so every output takes the same branch-free path; eight outputs
 * per step accumulate in four registers (even and odd kernel rows apart), the last ow mod 8 four at a time, the
 * final partial vector stored lane by lane. out = clamp(bias + Σ taps, lo, hi) (dwClamp).
 */
export function f32_dwconv_plane(x: usize, c: i32, ih: i32, iw: i32, w: usize, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32, bias: usize, out: usize, lo: f32, hi: f32, tmp: usize): void {
  const ow4 = (ow + 3) & ~3;
  const hp = max(ih + pt, (oh - 1) * sh + kh);
  const half = dwHalf(iw, pl, ow4, kw);
  const wp = sw == 2 ? half << 1 : max(iw + pl, ow4 - 1 + kw);
  const rowBytes = (<usize>wp) << 2;
  const oddBytes = (<usize>half) << 2;
  memory.fill(tmp, 0, <usize>hp * rowBytes);
  const clamp = lo > -Infinity || hi < Infinity;
  const exact = dwClampExact(lo, hi);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const vz = dwClampZero(lo);
  const taps = kh * kw;
  for (let ch = 0; ch < c; ch++) {
    const xc = x + ((<usize>ch * ih * iw) << 2);
    if (sw == 2) dwCopyS2(xc, ih, iw, tmp, pt, pl, half);
    else dwCopyS1(xc, ih, iw, tmp, pt, pl, rowBytes);
    const wc = w + ((<usize>ch * taps) << 2);
    const vb = f32x4.splat(f32.load(bias + ((<usize>ch) << 2)));
    const oc = out + ((<usize>ch * oh * ow) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const orow = oc + ((<usize>oy * ow) << 2);
      const r0 = tmp + <usize>(oy * sh) * rowBytes;
      let ox = 0;
      for (; ox + 7 < ow; ox += 8) {
        const c0 = (<usize>ox) << 2;
        let a0 = vb;
        let b0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let b1 = f32x4.splat(0);
        for (let ky = 0; ky < kh; ky++) {
          const r = r0 + <usize>ky * rowBytes + c0;
          const wr = wc + ((<usize>(ky * kw)) << 2);
          for (let kx = 0; kx < kw; kx++) {
            const wv = v128.load32_splat(wr + ((<usize>kx) << 2));
            // tap kx of output ox: column ox + kx (stride 1), or even / odd half row at ox + kx / 2 (stride 2)
            const p = sw == 2 ? r + (kx & 1 ? oddBytes : 0) + ((<usize>(kx >> 1)) << 2) : r + ((<usize>kx) << 2);
            if (ky & 1) {
              a1 = madd(wv, v128.load(p), a1);
              b1 = madd(wv, v128.load(p, 16), b1);
            } else {
              a0 = madd(wv, v128.load(p), a0);
              b0 = madd(wv, v128.load(p, 16), b0);
            }
          }
        }
        const po = orow + c0;
        v128.store(po, dwClamp(f32x4.add(a0, a1), clamp, exact, vlo, vhi, vz));
        v128.store(po, dwClamp(f32x4.add(f32x4.add(vb, b0), b1), clamp, exact, vlo, vhi, vz), 16);
      }
      // four outputs per step over the plane's spare zero columns; the partial last vector stored lane by lane
      for (; ox < ow; ox += 4) {
        const c0 = (<usize>ox) << 2;
        let a0 = vb;
        let a1 = f32x4.splat(0);
        for (let ky = 0; ky < kh; ky++) {
          const r = r0 + <usize>ky * rowBytes + c0;
          const wr = wc + ((<usize>(ky * kw)) << 2);
          for (let kx = 0; kx < kw; kx++) {
            const wv = v128.load32_splat(wr + ((<usize>kx) << 2));
            const p = sw == 2 ? r + (kx & 1 ? oddBytes : 0) + ((<usize>(kx >> 1)) << 2) : r + ((<usize>kx) << 2);
            if (kx & 1) a1 = madd(wv, v128.load(p), a1);
            else a0 = madd(wv, v128.load(p), a0);
          }
        }
        const v = dwClamp(f32x4.add(a0, a1), clamp, exact, vlo, vhi, vz);
        if (ox + 3 < ow) v128.store(orow + c0, v);
        else storeLanes(orow + c0, v, ow - ox);
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


/**
 * Bytes f32_conv2d_direct_4x8's packed weights take for m output channels and k = cin·kh·kw taps: ⌈m/4⌉ blocks of
 * 4 biases then k vectors of 4 weights (f32_conv2d_direct_pack's layout).
 */
export function f32_conv2d_direct_size(m: i32, k: i32): i32 {
  return ((m + 3) >> 2) * (k + 1) * 16;
}

/**
 * Pack OIHW weights (m × cin × kh × kw at w) and m biases for f32_conv2d_direct_4x8: per 4 output channels the 4
 * biases, then for every tap t = (ky·kw + kx)·cin + ci the 4 channels' weights (channels past m: 0).
 */
export function f32_conv2d_direct_pack(w: usize, bias: usize, m: i32, cin: i32, kh: i32, kw: i32, out: usize): void {
  const k = cin * kh * kw;
  const cv = (m + 3) >> 2;
  for (let v = 0; v < cv; v++) {
    const blk = out + <usize>v * (<usize>(k + 1) << 4);
    for (let l = 0; l < 4; l++) {
      const co = v * 4 + l;
      f32.store(blk + ((<usize>l) << 2), co < m ? f32.load(bias + ((<usize>co) << 2)) : 0);
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++)
          for (let ci = 0; ci < cin; ci++) {
            const t = (ky * kw + kx) * cin + ci;
            const src = w + ((<usize>(((co * cin + ci) * kh + ky) * kw + kx)) << 2);
            f32.store(blk + (<usize>(t + 1) << 4) + ((<usize>l) << 2), co < m ? f32.load(src) : 0);
          }
    }
  }
}

/** Store 4 pixels × 4 channels (a_j: pixel j's channels) as 4 channel rows of 4 pixels at o, o + plane, …: n pixels, c channels. */
// @ts-ignore: decorator
@inline
function storeTransposed(o: usize, plane: usize, a0: v128, a1: v128, a2: v128, a3: v128, n: i32, c: i32): void {
  const t0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
  const r0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5);
  const r1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
  const r2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5);
  const r3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
  if (n == 4) {
    v128.store(o, r0);
    if (c > 1) v128.store(o + plane, r1);
    if (c > 2) v128.store(o + 2 * plane, r2);
    if (c > 3) v128.store(o + 3 * plane, r3);
  } else {
    storeLanes(o, r0, n);
    if (c > 1) storeLanes(o + plane, r1, n);
    if (c > 2) storeLanes(o + 2 * plane, r2, n);
    if (c > 3) storeLanes(o + 3 * plane, r3, n);
  }
}

/** Field `off` (0 slope, 4 scale, 8 bias) of 4 consecutive 16-byte channel-step entries at e, as one vector's lanes. */
// @ts-ignore: decorator
@inline
function chanLanes(e: usize, off: usize): v128 {
  let v = f32x4.splat(f32.load(e + off));
  v = f32x4.replace_lane(v, 1, f32.load(e + off + 16));
  v = f32x4.replace_lane(v, 2, f32.load(e + off + 32));
  return f32x4.replace_lane(v, 3, f32.load(e + off + 48));
}

/** A pixel's 4 channels (lanes) through the fused channel steps: em & 1 PRelu (slopes ps), em & 2 ab + as·y. */
// @ts-ignore: decorator
@inline
function chanSteps(y: v128, em: i32, ps: v128, as: v128, ab: v128): v128 {
  let r = y;
  if (em & 1) r = v128.bitselect(f32x4.mul(r, ps), r, f32x4.lt(r, f32x4.splat(0)));
  if (em & 2) r = madd(as, r, ab);
  return r;
}

/** The input tap (iy, ix) of one channel at `q` (its pixel (0, 0)) as 4 lanes, or 0 outside the ih×iw image. */
// @ts-ignore: decorator
@inline
function tapOr0(q: usize, iy: i32, ix: i32, ih: i32, iw: i32, sy: i32, sx: i32): v128 {
  return iy >= 0 && iy < ih && ix >= 0 && ix < iw ? v128.load32_splat(q + ((<usize>(iy * sy + ix * sx)) << 2)) : f32x4.splat(0);
}

/**
 * Direct conv for few input channels (a network's first conv: 3×3 stride 2 over RGB), group 1, dilation 1, output
 * NCHW rows oy0 … oy1 − 1 of m channels, the input read through element strides (channel sc, row sy, column sx:
 * NCHW or NHWC alike). XNNPACK's indirect-GEMM tile without the column matrix: 4 output pixels × 8 channels per
 * pass (channels in lanes), every tap t = (ky·kw + kx)·cin + ci a splat of each pixel's input times the packed
 * weight vectors (f32_conv2d_direct_pack, w), summed from the bias in tap order (madd), clamped to [lo, hi], the
 * 4×4 blocks transposed into the output's pixel rows. Pixel quads whose taps are all inside the image read them
 * through a table of tap offsets (tab: k i32s); the others (borders, the last ow mod 4 pixels) test each tap.
 */
export function f32_conv2d_direct_4x8(x: usize, sc: i32, sy: i32, sx: i32, ih: i32, iw: i32, cin: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, w: usize, m: i32, oh: i32, ow: i32, oy0: i32, oy1: i32, out: usize, lo: f32, hi: f32, tab: usize, ep: usize, em: i32): void {
  const k = cin * kh * kw;
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++)
      for (let ci = 0; ci < cin; ci++) i32.store(tab + ((<usize>((ky * kw + kx) * cin + ci)) << 2), (ky * sy + kx * sx + ci * sc) << 2);
  const cv = (m + 3) >> 2;
  const blkBytes = (<usize>(k + 1)) << 4;
  const ps = (<usize>(sw * sx)) << 2;
  const plane = (<usize>(oh * ow)) << 2;
  const clamp = lo > -Infinity || hi < Infinity;
  const exact = dwClampExact(lo, hi);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const vz = dwClampZero(lo);
  const tabEnd = tab + ((<usize>k) << 2);
  for (let oy = oy0; oy < oy1; oy++) {
    const iy0 = oy * sh - pt;
    const rowIn = iy0 >= 0 && iy0 + kh <= ih;
    for (let v = 0; v < cv; v += 2) {
      const pair = v + 1 < cv;
      const w0 = w + <usize>v * blkBytes;
      const w1 = pair ? w0 + blkBytes : w0;
      const vb0 = v128.load(w0);
      const vb1 = v128.load(w1);
      // the blocks' channel steps (em: 1 PRelu slopes, 2 affine scale and bias; ep: 16 bytes per channel, padded to 4)
      const e0 = ep + (<usize>v << 6);
      const e1 = pair ? e0 + 64 : e0;
      const ps0 = chanLanes(e0, 0), ps1 = chanLanes(e1, 0);
      const as0 = chanLanes(e0, 4), as1 = chanLanes(e1, 4);
      const ab0 = chanLanes(e0, 8), ab1 = chanLanes(e1, 8);
      for (let ox = 0; ox < ow; ox += 4) {
        const n = min(4, ow - ox);
        const ix0 = ox * sw - pl;
        let a0 = vb0, a1 = vb0, a2 = vb0, a3 = vb0;
        let b0 = vb1, b1 = vb1, b2 = vb1, b3 = vb1;
        if (rowIn && n == 4 && ix0 >= 0 && ix0 + 3 * sw + kw <= iw) {
          const p = x + ((<usize>(iy0 * sy + ix0 * sx)) << 2);
          let wp0 = w0 + 16;
          let wp1 = w1 + 16;
          if (pair) {
            for (let tp = tab; tp < tabEnd; tp += 4) {
              const q = p + <usize>i32.load(tp);
              const x0 = v128.load32_splat(q);
              const x1 = v128.load32_splat(q + ps);
              const x2 = v128.load32_splat(q + 2 * ps);
              const x3 = v128.load32_splat(q + 3 * ps);
              const u0 = v128.load(wp0);
              const u1 = v128.load(wp1);
              a0 = madd(x0, u0, a0);
              a1 = madd(x1, u0, a1);
              a2 = madd(x2, u0, a2);
              a3 = madd(x3, u0, a3);
              b0 = madd(x0, u1, b0);
              b1 = madd(x1, u1, b1);
              b2 = madd(x2, u1, b2);
              b3 = madd(x3, u1, b3);
              wp0 += 16;
              wp1 += 16;
            }
          } else {
            for (let tp = tab; tp < tabEnd; tp += 4) {
              const q = p + <usize>i32.load(tp);
              const u0 = v128.load(wp0);
              a0 = madd(v128.load32_splat(q), u0, a0);
              a1 = madd(v128.load32_splat(q + ps), u0, a1);
              a2 = madd(v128.load32_splat(q + 2 * ps), u0, a2);
              a3 = madd(v128.load32_splat(q + 3 * ps), u0, a3);
              wp0 += 16;
            }
          }
        } else {
          // border quads: each tap tested (0 outside the image; pixels past ow read as the last valid one)
          let wp0 = w0 + 16;
          let wp1 = w1 + 16;
          const j1 = min(1, n - 1) * sw, j2 = min(2, n - 1) * sw, j3 = min(3, n - 1) * sw;
          for (let ky = 0; ky < kh; ky++) {
            const iy = iy0 + ky;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ix0 + kx;
              for (let ci = 0; ci < cin; ci++) {
                const q = x + ((<usize>(ci * sc)) << 2);
                const x0 = tapOr0(q, iy, ix, ih, iw, sy, sx);
                const x1 = tapOr0(q, iy, ix + j1, ih, iw, sy, sx);
                const x2 = tapOr0(q, iy, ix + j2, ih, iw, sy, sx);
                const x3 = tapOr0(q, iy, ix + j3, ih, iw, sy, sx);
                const u0 = v128.load(wp0);
                const u1 = v128.load(wp1);
                a0 = madd(x0, u0, a0);
                a1 = madd(x1, u0, a1);
                a2 = madd(x2, u0, a2);
                a3 = madd(x3, u0, a3);
                b0 = madd(x0, u1, b0);
                b1 = madd(x1, u1, b1);
                b2 = madd(x2, u1, b2);
                b3 = madd(x3, u1, b3);
                wp0 += 16;
                wp1 += 16;
              }
            }
          }
        }
        const o = out + ((<usize>(((v << 2) * oh + oy) * ow + ox)) << 2);
        storeTransposed(o, plane, chanSteps(dwClamp(a0, clamp, exact, vlo, vhi, vz), em, ps0, as0, ab0), chanSteps(dwClamp(a1, clamp, exact, vlo, vhi, vz), em, ps0, as0, ab0), chanSteps(dwClamp(a2, clamp, exact, vlo, vhi, vz), em, ps0, as0, ab0), chanSteps(dwClamp(a3, clamp, exact, vlo, vhi, vz), em, ps0, as0, ab0), n, min(4, m - (v << 2)));
        if (pair) storeTransposed(o + (plane << 2), plane, chanSteps(dwClamp(b0, clamp, exact, vlo, vhi, vz), em, ps1, as1, ab1), chanSteps(dwClamp(b1, clamp, exact, vlo, vhi, vz), em, ps1, as1, ab1), chanSteps(dwClamp(b2, clamp, exact, vlo, vhi, vz), em, ps1, as1, ab1), chanSteps(dwClamp(b3, clamp, exact, vlo, vhi, vz), em, ps1, as1, ab1), n, min(4, m - ((v + 1) << 2)));
      }
    }
  }
}
