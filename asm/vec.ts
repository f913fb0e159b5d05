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
