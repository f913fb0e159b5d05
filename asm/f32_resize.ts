// f32 Resize over NCHW planes (H and W resized, N and C kept): the coordinate rules (coordinate_transformation_mode,
// nearest_mode, edge clamping) are resolved in TS (src/kernels/resize.ts: the reference's own taps, or onnxruntime's
// bilinear tables) into per-row and per-column tables; these kernels only gather.

/** Nearest: out[p, oy, ox] = x[p, yi[oy], xi[ox]] for `planes` planes; yi / xi are i32 tables of oh / ow indices. */
export function f32_resize_nearest(x: usize, planes: i32, ih: i32, iw: i32, oh: i32, ow: i32, yi: usize, xi: usize, out: usize): void {
  let d = out;
  for (let p = 0; p < planes; p++) {
    const xp = x + ((<usize>p * <usize>(ih * iw)) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const row = xp + ((<usize>(load<i32>(yi + ((<usize>oy) << 2)) * iw)) << 2);
      for (let ox = 0; ox < ow; ox++) {
        f32.store(d, f32.load(row + ((<usize>load<i32>(xi + ((<usize>ox) << 2))) << 2)));
        d += 4;
      }
    }
  }
}

/** Bytes of f32_resize_linear's column plan for `ow` output columns: one 80-byte entry per whole group of four. */
export function f32_resize_linear_plan_size(ow: i32): i32 {
  return (ow >> 2) * 80;
}

/**
 * The column plan f32_resize_linear vectorises with, built once per table: for each group of four output columns
 * (4g … 4g + 3) whose eight taps xs[…] lie within four neighbouring input columns s … s + 3 (upsampling, any zoom ≥
 * about 1), entry g at plan + 80·g holds the i8x16.swizzle masks that pick the left taps (bytes 0–15) and the right
 * taps (16–31) out of the vector of a row's columns s … s + 3, the left weights wx[2·ox] (32–47), the right weights
 * wx[2·ox + 1] (48–63) and the byte offset 4·s (64); −1 there when the taps spread wider (downsampling) or iw < 4,
 * and the group runs scalar. s = min(first tap, iw − 4), so the vector load stays inside the row.
 */
export function f32_resize_linear_plan(iw: i32, ow: i32, xs: usize, wx: usize, plan: usize): void {
  for (let g = 0; g < ow >> 2; g++) {
    const e = plan + <usize>g * 80;
    let lo = i32.MAX_VALUE;
    let hi = -1;
    for (let j = 0; j < 8; j++) {
      const c = load<i32>(xs + ((<usize>(g * 8 + j)) << 2));
      lo = min(lo, c);
      hi = max(hi, c);
    }
    const s = min(lo, iw - 4);
    if (iw < 4 || hi - s > 3) {
      store<i32>(e, -1, 64);
      continue;
    }
    for (let j = 0; j < 4; j++) {
      const k = (<usize>(g * 4 + j)) << 3;
      const c0 = load<i32>(xs + k) - s;
      const c1 = load<i32>(xs + k, 4) - s;
      for (let b = 0; b < 4; b++) {
        store<u8>(e + <usize>(j * 4 + b), <u8>(c0 * 4 + b));
        store<u8>(e + <usize>(16 + j * 4 + b), <u8>(c1 * 4 + b));
      }
      f32.store(e + <usize>(32 + j * 4), f32.load(wx + k));
      f32.store(e + <usize>(48 + j * 4), f32.load(wx + k, 4));
    }
    store<i32>(e, s << 2, 64);
  }
}

/**
 * Bilinear: out[p, oy, ox] = (wx0·wy0)·x11 + (wx1·wy0)·x21 + (wx0·wy1)·x12 + (wx1·wy1)·x22, summed left to right in
 * float32 with no fused multiply-add, where x11 = x[p, y0, x0], x21 = x[p, y0, x1], x12 = x[p, y1, x0], x22 = x[p, y1, x1]
 * for the row pair (y0, y1) = y[2·oy …] with weights (wy0, wy1) = wy[2·oy …] and the column pair xs[2·ox …] with wx[2·ox …].
 * This is onnxruntime's arithmetic (cpu/tensor/upsample.cc UpsampleBilinear: dx2·dy2·X11 + dx1·dy2·X21 + dx2·dy1·X12
 * + dx1·dy1·X22), so with its tables (src/kernels/resize.ts ortBilinearAxis) the outputs are its bits: a quantized
 * model that rounds activations after a Resize then makes the same rounding choices.
 * With a column plan (`plan` ≠ 0, f32_resize_linear_plan) four columns at a time where their taps fit one vector: the
 * taps gathered by swizzles of one load per row, the same products and sums per lane (the same bits); the scalar
 * loop did one pixel per 8 loads, and the FPN upsamplings of MediaPipe's detectors spent most of their time there.
 */
export function f32_resize_linear(x: usize, planes: i32, ih: i32, iw: i32, oh: i32, ow: i32, y: usize, wy: usize, xs: usize, wx: usize, out: usize, plan: usize): void {
  let d = out;
  const groups = plan != 0 ? ow >> 2 : 0;
  for (let p = 0; p < planes; p++) {
    const xp = x + ((<usize>p * <usize>(ih * iw)) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const q = (<usize>oy) << 3;
      const r0 = xp + ((<usize>(load<i32>(y + q) * iw)) << 2);
      const r1 = xp + ((<usize>(load<i32>(y + q, 4) * iw)) << 2);
      const a = f32.load(wy + q);
      const b = f32.load(wy + q, 4);
      const va = f32x4.splat(a);
      const vb = f32x4.splat(b);
      for (let g = 0; g < groups; g++) {
        const e = plan + <usize>g * 80;
        const s = load<i32>(e, 64);
        if (s < 0) {
          linearCols(d, g << 2, (g << 2) + 4, r0, r1, a, b, xs, wx);
        } else {
          const w0 = v128.load(r0 + <usize>s);
          const w1 = v128.load(r1 + <usize>s);
          const m0 = v128.load(e);
          const m1 = v128.load(e, 16);
          const u = v128.load(e, 32);
          const v = v128.load(e, 48);
          const t0 = f32x4.mul(f32x4.mul(u, va), i8x16.swizzle(w0, m0));
          const t1 = f32x4.mul(f32x4.mul(v, va), i8x16.swizzle(w0, m1));
          const t2 = f32x4.mul(f32x4.mul(u, vb), i8x16.swizzle(w1, m0));
          const t3 = f32x4.mul(f32x4.mul(v, vb), i8x16.swizzle(w1, m1));
          v128.store(d + ((<usize>g) << 4), f32x4.add(f32x4.add(f32x4.add(t0, t1), t2), t3));
        }
      }
      linearCols(d, groups << 2, ow, r0, r1, a, b, xs, wx);
      d += (<usize>ow) << 2;
    }
  }
}

/** Output columns ox0 … ox1 − 1 of one row (at d) of f32_resize_linear, one at a time. */
// @ts-ignore: decorator
@inline
function linearCols(d: usize, ox0: i32, ox1: i32, r0: usize, r1: usize, a: f32, b: f32, xs: usize, wx: usize): void {
  for (let ox = ox0; ox < ox1; ox++) {
    const k = (<usize>ox) << 3;
    const c0 = (<usize>load<i32>(xs + k)) << 2;
    const c1 = (<usize>load<i32>(xs + k, 4)) << 2;
    const u = f32.load(wx + k);
    const v = f32.load(wx + k, 4);
    f32.store(d + ((<usize>ox) << 2), u * a * f32.load(r0 + c0) + v * a * f32.load(r0 + c1) + u * b * f32.load(r1 + c0) + v * b * f32.load(r1 + c1));
  }
}

/**
 * MediaPipe TransformTensorBilinear (v2), NHWC [1, h, w, c] → [1, oh, ow, c]: output pixel (ox, oy) samples the input
 * at tx = f32(a0·ox + a1·oy + a3), ty = f32(b0·ox + b1·oy + b3) (a3, b3 carry the align-corners shift, computed by
 * the caller); a sample point outside [0, w−1] × [0, h−1] gives 0, taps past the last row / column read 0. The
 * arithmetic is the TS reference's (src/ops/mediapipe.ts) in f64, rounded to f32 where it rounds: the same bits.
 */
export function f32_affine_bilinear_nhwc(x: usize, h: i32, w: i32, c: i32, oh: i32, ow: i32, a0: f64, a1: f64, a3: f64, b0: f64, b1: f64, b3: f64, out: usize): void {
  const pix = (<usize>c) << 2;
  memory.fill(out, 0, <usize>oh * <usize>ow * pix);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const tx = <f64>(<f32>(a0 * <f64>ox + a1 * <f64>oy + a3));
      const ty = <f64>(<f32>(b0 * <f64>ox + b1 * <f64>oy + b3));
      if (tx < 0 || tx > <f64>(w - 1) || ty < 0 || ty > <f64>(h - 1)) continue;
      const fx = <i32>Math.floor(tx);
      const fy = <i32>Math.floor(ty);
      const rx = tx - <f64>fx;
      const ly = ty - <f64>fy;
      const has01 = fx + 1 < w;
      const has1 = fy + 1 < h;
      const p00 = x + <usize>(fy * w + fx) * pix;
      const p01 = p00 + pix;
      const p10 = p00 + <usize>w * pix;
      const p11 = p10 + pix;
      const o = out + <usize>(oy * ow + ox) * pix;
      for (let k = 0; k < c; k++) {
        const kb = (<usize>k) << 2;
        const v00 = <f64>f32.load(p00 + kb);
        const v01: f64 = has01 ? <f64>f32.load(p01 + kb) : 0;
        const v10: f64 = has1 ? <f64>f32.load(p10 + kb) : 0;
        const v11: f64 = has1 && has01 ? <f64>f32.load(p11 + kb) : 0;
        const upper = (1 - rx) * v00 + rx * v01;
        const lower = (1 - rx) * v10 + rx * v11;
        f32.store(o + kb, <f32>(ly * lower + (1 - ly) * upper));
      }
    }
  }
}
