// int8 / uint8 MaxPool 2-D (NCHW, dilation 1), one plane after another; the TS reference's result exactly
// (max over the in-bounds taps; out-of-image taps are ignored, as ONNX pads MaxPool with −∞).
// Separable: per output row the column maxima of its in-bounds input rows, 16 columns per i8x16.max, into
// `tmp` (iw bytes), then each output the maximum of its in-bounds columns of `tmp` — 16 outputs per vector
// where the whole window is inside the row and the stride is 1 or 2, one at a time at the borders.

export function qs8_maxpool2d(
  x: usize, planes: i32, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32, uns: i32, out: usize, tmp: usize,
): void {
  for (let pi = 0; pi < planes; pi++) {
    const xp = x + <usize>pi * ih * iw;
    const op = out + <usize>pi * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = max(oy * sh - pt, 0);
      const y1 = min(oy * sh - pt + kh, ih);
      if (y0 >= y1) {
        // no in-bounds row (cannot happen for ONNX geometry); the reference's −∞ stores as 0
        memory.fill(op + <usize>oy * ow, 0, ow);
        continue;
      }
      memory.copy(tmp, xp + <usize>y0 * iw, iw);
      for (let r = y0 + 1; r < y1; r++) {
        const row = xp + <usize>r * iw;
        let j = 0;
        if (uns) for (; j + 16 <= iw; j += 16) v128.store(tmp + j, i8x16.max_u(v128.load(tmp + j), v128.load(row + j)));
        else for (; j + 16 <= iw; j += 16) v128.store(tmp + j, i8x16.max_s(v128.load(tmp + j), v128.load(row + j)));
        if (uns) for (; j < iw; j++) store<u8>(tmp + j, max(load<u8>(tmp + j), load<u8>(row + j)));
        else for (; j < iw; j++) store<i8>(tmp + j, max(load<i8>(tmp + j), load<i8>(row + j)));
      }
      const orow = op + <usize>oy * ow;
      // interior outputs (every tap inside the row): 16 at a time when sw ≤ 2, taps as (strided) vector loads
      let ox = 0;
      const lo = (pl + sw - 1) / sw; // first ox with ox·sw − pl ≥ 0
      const hiEx = iw - kw + pl >= 0 ? (iw - kw + pl) / sw + 1 : 0; // ox < hiEx ⇒ ox·sw − pl + kw ≤ iw
      for (; ox < ow && ox < lo; ox++) scalarMax(tmp, orow, ox, sw, pl, kw, iw, uns);
      if (sw <= 2) {
        for (; ox + 16 <= hiEx; ox += 16) {
          const base = tmp + <usize>(ox * sw - pl);
          let m = tap(base, sw);
          for (let kx = 1; kx < kw; kx++) m = uns ? i8x16.max_u(m, tap(base + kx, sw)) : i8x16.max_s(m, tap(base + kx, sw));
          v128.store(orow + ox, m);
        }
      }
      for (; ox < ow; ox++) scalarMax(tmp, orow, ox, sw, pl, kw, iw, uns);
    }
  }
}

/** 16 bytes at p, p + sw, …, p + 15·sw (sw = 1 or 2; may read 16 bytes past the last one). */
// @ts-ignore: decorator
@inline
function tap(p: usize, sw: i32): v128 {
  if (sw == 1) return v128.load(p);
  return i8x16.shuffle(v128.load(p), v128.load(p, 16), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}

/** One output: the maximum of the in-bounds columns of `tmp` (none: 0, as the reference stores −∞). */
// @ts-ignore: decorator
@inline
function scalarMax(tmp: usize, orow: usize, ox: i32, sw: i32, pl: i32, kw: i32, iw: i32, uns: i32): void {
  const x0 = max(ox * sw - pl, 0);
  const x1 = min(ox * sw - pl + kw, iw);
  if (x0 >= x1) {
    store<u8>(orow + ox, 0);
    return;
  }
  if (uns) {
    let m = load<u8>(tmp + x0);
    for (let c = x0 + 1; c < x1; c++) m = max(m, load<u8>(tmp + c));
    store<u8>(orow + ox, m);
  } else {
    let m = load<i8>(tmp + x0);
    for (let c = x0 + 1; c < x1; c++) m = max(m, load<i8>(tmp + c));
    store<i8>(orow + ox, m);
  }
}
