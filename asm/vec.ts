// Inline vector helpers shared by the f32 / fp16 / sparse kernels (not re-exported by asm/index.ts).

/** Clamp each lane to [lo, hi] (the fused Relu/Clip epilogue). */
// @ts-ignore: decorator
@inline
export function clampv(v: v128, lo: v128, hi: v128): v128 {
  return f32x4.min(f32x4.max(v, lo), hi);
}

/** Store the first `nc` (1…8) floats of the 8-lane row (v0, v1) at `c`. */
// @ts-ignore: decorator
@inline
export function storeRow(c: usize, nc: i32, v0: v128, v1: v128): void {
  if (nc == 8) {
    v128.store(c, v0);
    v128.store(c, v1, 16);
  } else {
    let v = v0;
    let j = 0;
    if (nc >= 4) {
      v128.store(c, v0);
      v = v1;
      j = 4;
    }
    const r = nc - j;
    const p = c + (j << 2);
    if (r > 0) f32.store(p, f32x4.extract_lane(v, 0));
    if (r > 1) f32.store(p, f32x4.extract_lane(v, 1), 4);
    if (r > 2) f32.store(p, f32x4.extract_lane(v, 2), 8);
  }
}

/**
 * One filter tap along one output row of a direct convolution: out[ox] += wv · xr[ox·sw + off] for every ox < ow
 * whose input column lies in [0, iw). Strides 1 and 2 run four outputs per vector; the stride-2 path reads the even
 * inputs of two loads (at most one float past the last tap: inputs live in padded arena blocks).
 */
// @ts-ignore: decorator
@inline
export function tapRow(orow: usize, xr: usize, wv: f32, off: i32, sw: i32, iw: i32, ow: i32): void {
  // ox range with 0 <= ox·sw + off < iw
  const o0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
  let o1 = iw - 1 - off >= 0 ? (iw - 1 - off) / sw + 1 : 0;
  if (o1 > ow) o1 = ow;
  if (o0 >= o1) return;
  let o = o0;
  const vw = f32x4.splat(wv);
  if (sw == 1) {
    for (; o + 3 < o1; o += 4) {
      const po = orow + (<usize>o << 2);
      v128.store(po, f32x4.add(v128.load(po), f32x4.mul(vw, v128.load(xr + (<usize>(o + off) << 2)))));
    }
  } else if (sw == 2) {
    for (; o + 3 < o1; o += 4) {
      const pi = xr + (<usize>(2 * o + off) << 2);
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
