// f32 2-D pooling (NCHW), one channel per call. Same semantics as the TS reference (src/ops/pool.ts):
//   mode 0 max: the first in-bounds tap, then any strictly greater one (so NaN taps after the first are skipped);
//   mode 1 average over in-bounds taps (count_include_pad = 0);
//   mode 2 average with padded taps counted, but not the ceil_mode overhang past the end padding.

// @ts-ignore: decorator
@inline
function taps(o: i32, s: i32, pad: i32, k: i32, d: i32, lo: i32, hi: i32): i32 {
  let c = 0;
  for (let t = 0; t < k; t++) {
    const q = o * s - pad + t * d;
    if (q >= lo && q < hi) c++;
  }
  return c;
}

export function f32_pool2d(
  mode: i32, x: usize, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, pb: i32, pr: i32, oh: i32, ow: i32, out: usize,
): void {
  for (let oy = 0; oy < oh; oy++) {
    const y0 = oy * sh - pt;
    for (let ox = 0; ox < ow; ox++) {
      const x0 = ox * sw - pl;
      let acc: f32 = mode == 0 ? -Infinity : 0;
      let first = true;
      let cnt = 0;
      for (let ky = 0; ky < kh; ky++) {
        const iy = y0 + ky * dh;
        if (iy < 0 || iy >= ih) continue;
        const row = x + ((<usize>iy * iw) << 2);
        for (let kx = 0; kx < kw; kx++) {
          const ix = x0 + kx * dw;
          if (ix < 0 || ix >= iw) continue;
          const v = f32.load(row + (<usize>ix << 2));
          if (mode == 0) {
            if (first || v > acc) acc = v;
            first = false;
          } else {
            acc += v;
            cnt++;
          }
        }
      }
      if (mode == 1) acc = acc / <f32>cnt;
      else if (mode == 2) acc = acc / <f32>(taps(oy, sh, pt, kh, dh, -pt, ih + pb) * taps(ox, sw, pl, kw, dw, -pl, iw + pr));
      f32.store(out + ((<usize>(oy * ow + ox)) << 2), acc);
    }
  }
}
