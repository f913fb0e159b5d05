// int8 / uint8 MaxPool 2-D (NCHW, dilation 1), one plane after another; the TS reference's result exactly
// (max over the in-bounds taps; out-of-image taps are ignored, as ONNX pads MaxPool with −∞).
// Separable: per output row the column maxima of its in-bounds input rows, 16 columns per i8x16.max, into
// `tmp` (iw bytes), then each output the maximum of its in-bounds columns of `tmp`.

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
      for (let ox = 0; ox < ow; ox++) {
        const x0 = max(ox * sw - pl, 0);
        const x1 = min(ox * sw - pl + kw, iw);
        if (x0 >= x1) {
          store<u8>(orow + ox, 0);
          continue;
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
    }
  }
}
