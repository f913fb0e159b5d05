// Depthwise int8 / uint8 convolution (group = C = M, one filter per channel), NCHW, direct (no im2col):
//
//   y[c, oy, ox] = clamp(nearest_even(f64(acc) · mult[c]) + yz, lo, hi),
//   acc = bias[c] + Σ_{ky,kx} (x[c, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw] − xz) · wt[c, ky, kx]   (int32, wrapping)
//
// with wt = w − w_zero_point[c] as int16 (the caller subtracts it), taps outside the image contributing 0 (ONNX
// pads QLinearConv's input with x_zero_point). Per channel the input is first written to `scratch` as int16
// x − xz, zero-padded, split into sw column phases (phase p holds padded column sw·j + p), so every tap of 8
// consecutive outputs is one unaligned 8 × int16 load: products by i32x4.extmul_{low,high}_i16x8_s are exact
// (|x − xz|, |wt| ≤ 255) and the sums wrap in int32 like the TS reference. Requantization is the reference's
// float64 arithmetic (asm/q8.ts requant4), or TFLite's fixed-point one (code & 8, asm/q8.ts tflRequant4), so outputs
// are bit-identical.

import { narrow8, requant4, requant4i, store8, tflMask, tflRequant4 } from './q8';

/** Requantize and store 8 accumulators (a0: outputs 0–3, a1: 4–7), nc of them, by the channel's mode (see below). */
// @ts-ignore: decorator
@inline
function dwStore(
  p: usize, a0: v128, a1: v128, nc: i32, tfl: bool, fast: bool, m: v128, q: v128, left: i32, right: i32, mask: v128, half: v128, yz: v128, lo: v128, hi: v128, code: i32,
): void {
  if (tfl) store8(p, narrow8(tflRequant4(a0, q, left, right, mask, half, yz, lo, hi), tflRequant4(a1, q, left, right, mask, half, yz, lo, hi), code), nc);
  else if (fast) store8(p, narrow8(requant4i(a0, m, m, yz, lo, hi), requant4i(a1, m, m, yz, lo, hi), code), nc);
  else store8(p, narrow8(requant4(a0, m, m, yz, lo, hi), requant4(a1, m, m, yz, lo, hi), code), nc);
}

/** Bytes of scratch qs8_dwconv2d needs for one channel. */
export function qs8_dwconv_scratch(kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, oh: i32, ow: i32): i32 {
  const rows = (oh - 1) * sh + (kh - 1) * dh + 1;
  const cols = (((ow + 7) & ~7) + ((kw - 1) * dw) / sw + 8) & ~7; // a multiple of 8: whole-vector phase splits
  return (sw * rows * cols + cols * sw + 16) * 2;
}

/** One padded row of int16 x − xz: column j ↔ input column j − pl, zero outside the image (or when !inRow). */
// @ts-ignore: decorator
@inline
function padRow(dst: usize, src: usize, inRow: bool, pl: i32, iw: i32, n: i32, xz: i32, vxz: v128, uns: i32): void {
  let j = 0;
  if (inRow) {
    for (; j < n && j < pl; j++) store<i16>(dst + (<usize>j << 1), 0);
    const end = min(n, pl + iw);
    if (uns) for (; j + 8 <= end; j += 8) v128.store(dst + (<usize>j << 1), i16x8.sub(v128.load8x8_u(src + (j - pl)), vxz));
    else for (; j + 8 <= end; j += 8) v128.store(dst + (<usize>j << 1), i16x8.sub(v128.load8x8_s(src + (j - pl)), vxz));
    if (uns) for (; j < end; j++) store<i16>(dst + (<usize>j << 1), <i32>load<u8>(src + (j - pl)) - xz);
    else for (; j < end; j++) store<i16>(dst + (<usize>j << 1), <i32>load<i8>(src + (j - pl)) - xz);
  }
  for (; j < n; j++) store<i16>(dst + (<usize>j << 1), 0);
}

export function qs8_dwconv2d(
  x: usize, c: i32, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, oh: i32, ow: i32,
  xz: i32, uns: i32, wt: usize, bias: usize, mult: usize, yz: i32, lo: i32, hi: i32, code: i32, out: usize, scratch: usize,
): void {
  const rows = (oh - 1) * sh + (kh - 1) * dh + 1;
  const cols = (((ow + 7) & ~7) + ((kw - 1) * dw) / sw + 8) & ~7; // a multiple of 8: whole-vector phase splits
  const plane = <usize>rows * cols; // int16 elements per phase
  const taps = kh * kw;
  // code & 4: every |mult| < 0.5, the integer-clamp requantization (asm/q8.ts requant4i) is exact
  const fast = (code & 4) != 0;
  // code & 8: TFLite's MultiplyByQuantizedMultiplier (asm/q8.ts tflRequant4), `mult` holding per channel an int32
  // multiplier and an int32 shift (8 bytes, the float64's place) — TFLite's DEPTHWISE_CONV_2D arithmetic
  const tfl = (code & 8) != 0;
  const ints = fast || tfl;
  code &= 3;
  const vyz = ints ? i32x4.splat(yz) : f64x2.splat(<f64>yz);
  const vlo = ints ? i32x4.splat(lo) : f64x2.splat(<f64>lo);
  const vhi = ints ? i32x4.splat(hi) : f64x2.splat(<f64>hi);
  const vxz = i16x8.splat(<i16>xz);
  for (let ch = 0; ch < c; ch++) {
    const xc = x + <usize>ch * ih * iw;
    // ---- padded, zero-point-subtracted, phase-split copy of the channel
    for (let r = 0; r < rows; r++) {
      const iy = r - pt;
      const inRow = iy >= 0 && iy < ih;
      const src = xc + <usize>iy * iw;
      if (sw == 1) {
        padRow(scratch + ((<usize>r * cols) << 1), src, inRow, pl, iw, cols, xz, vxz, uns);
        continue;
      }
      // padded row into the temp row after the planes, then split into the sw column phases
      const tmp = scratch + ((<usize>sw * plane) << 1);
      padRow(tmp, src, inRow, pl, iw, cols * sw, xz, vxz, uns);
      if (sw == 2) {
        const e = scratch + ((<usize>r * cols) << 1);
        const o = e + (plane << 1);
        for (let j = 0; j < cols; j += 8) {
          const a = v128.load(tmp + (<usize>j << 2));
          const b = v128.load(tmp + (<usize>j << 2), 16);
          // even / odd int16 lanes of the 16 padded columns 2j … 2j + 15 (reads ≤ 16 int16 past the row: slack)
          v128.store(e + (<usize>j << 1), i8x16.shuffle(a, b, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29));
          v128.store(o + (<usize>j << 1), i8x16.shuffle(a, b, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31));
        }
        continue;
      }
      for (let pc = 0; pc < cols * sw; pc++)
        store<i16>(scratch + (((<usize>(pc % sw) * plane) + <usize>r * cols + <usize>(pc / sw)) << 1), load<i16>(tmp + (<usize>pc << 1)));
    }
    // ---- 8 outputs of a row at a time
    const b = i32x4.splat(load<i32>(bias + (<usize>ch << 2)));
    const m = f64x2.splat(load<f64>(mult + (<usize>ch << 3)));
    const tq = load<i32>(mult + (<usize>ch << 3));
    const ts = load<i32>(mult + (<usize>ch << 3), 4);
    const left = ts > 0 ? ts : 0;
    const right = ts > 0 ? 0 : -ts;
    const vq = i32x4.splat(tq);
    const vmask = i32x4.splat(tflMask(right));
    const vhalf = i32x4.splat(tflMask(right) >> 1);
    const wc = wt + ((<usize>ch * taps) << 1);
    const oc = out + <usize>ch * oh * ow;
    if (kh == 3 && kw == 3) {
      // taps in pairs: i32x4.dot_i16x8_s of (x_a, x_b) interleaved per output against (w_a, w_b) repeated; the
      // ninth alone by extmul. Tap (ky, kx) reads phase (kx·dw) % sw at column offset (kx·dw) / sw, row + ky·dh.
      const t0 = load<u16>(wc), t1 = load<u16>(wc, 2), t2 = load<u16>(wc, 4), t3 = load<u16>(wc, 6);
      const t4 = load<u16>(wc, 8), t5 = load<u16>(wc, 10), t6 = load<u16>(wc, 12), t7 = load<u16>(wc, 14);
      const w01 = i32x4.splat(<i32>t0 | (<i32>t1 << 16));
      const w23 = i32x4.splat(<i32>t2 | (<i32>t3 << 16));
      const w45 = i32x4.splat(<i32>t4 | (<i32>t5 << 16));
      const w67 = i32x4.splat(<i32>t6 | (<i32>t7 << 16));
      const w8 = i16x8.splat(load<i16>(wc, 16));
      const rs = <usize>cols << 1;
      const c1 = (<usize>(dw % sw) * plane + <usize>(dw / sw)) << 1;
      const c2 = (<usize>((2 * dw) % sw) * plane + <usize>((2 * dw) / sw)) << 1;
      const r1 = rs * dh;
      const r2 = rs * 2 * dh;
      // tap offsets: 0 (0,0) c1 (0,1) c2 (0,2) r1 (1,0) r1+c1 r1+c2 r2 r2+c1 r2+c2
      for (let oy = 0; oy < oh; oy++) {
        const row = scratch + rs * (oy * sh);
        for (let ox = 0; ox < ow; ox += 8) {
          const p = row + (<usize>ox << 1);
          let a0 = b;
          let a1 = b;
          let u = v128.load(p);
          let v = v128.load(p + c1);
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.shuffle<i16>(u, v, 0, 8, 1, 9, 2, 10, 3, 11), w01));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.shuffle<i16>(u, v, 4, 12, 5, 13, 6, 14, 7, 15), w01));
          u = v128.load(p + c2);
          v = v128.load(p + r1);
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.shuffle<i16>(u, v, 0, 8, 1, 9, 2, 10, 3, 11), w23));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.shuffle<i16>(u, v, 4, 12, 5, 13, 6, 14, 7, 15), w23));
          u = v128.load(p + r1 + c1);
          v = v128.load(p + r1 + c2);
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.shuffle<i16>(u, v, 0, 8, 1, 9, 2, 10, 3, 11), w45));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.shuffle<i16>(u, v, 4, 12, 5, 13, 6, 14, 7, 15), w45));
          u = v128.load(p + r2);
          v = v128.load(p + r2 + c1);
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.shuffle<i16>(u, v, 0, 8, 1, 9, 2, 10, 3, 11), w67));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.shuffle<i16>(u, v, 4, 12, 5, 13, 6, 14, 7, 15), w67));
          u = v128.load(p + r2 + c2);
          a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(u, w8));
          a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(u, w8));
          dwStore(oc + <usize>oy * ow + ox, a0, a1, min(8, ow - ox), tfl, fast, m, vq, left, right, vmask, vhalf, vyz, vlo, vhi, code);
        }
      }
      continue;
    }
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox += 8) {
        let a0 = b;
        let a1 = b;
        for (let ky = 0; ky < kh; ky++) {
          const r = oy * sh + ky * dh;
          for (let kx = 0; kx < kw; kx++) {
            const off = kx * dw;
            const p = scratch + ((<usize>(off % sw) * plane + <usize>r * cols + <usize>(ox + off / sw)) << 1);
            const wv = i16x8.splat(load<i16>(wc + (<usize>(ky * kw + kx) << 1)));
            const v = v128.load(p);
            a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(v, wv));
            a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(v, wv));
          }
        }
        dwStore(oc + <usize>oy * ow + ox, a0, a1, min(8, ow - ox), tfl, fast, m, vq, left, right, vmask, vhalf, vyz, vlo, vhi, code);
      }
    }
  }
}
