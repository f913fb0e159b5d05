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

// @ts-ignore: decorator
@inline
function maxPixel(x: usize, ih: i32, iw: i32, kh: i32, kw: i32, y0: i32, x0: i32): f32 {
  let acc: f32 = -Infinity;
  let first = true;
  for (let ky = 0; ky < kh; ky++) {
    const iy = y0 + ky;
    if (iy < 0 || iy >= ih) continue;
    for (let kx = 0; kx < kw; kx++) {
      const ix = x0 + kx;
      if (ix < 0 || ix >= iw) continue;
      const v = f32.load(x + ((<usize>(iy * iw + ix)) << 2));
      if (first || v > acc) acc = v;
      first = false;
    }
  }
  return acc;
}

/**
 * MaxPool 2-D, dilation 1, one channel, separable: for each output row whose window lies inside the image,
 * a vertical pass takes the column maxima of the kh rows four columns at a time into `tmp` (iw + 4 floats), then
 * each output is the maximum of kw column maxima, four outputs at a time for strides 1 and 2 (branch-free
 * selects elsewhere: the comparisons are data-dependent and mispredict). "Keep the first, replace only by a strictly greater value"
 * (the reference's rule, so NaN taps after the first are skipped) holds in both passes; only which of +0/−0
 * survives a tie can differ from the row-major reference. Border pixels take the scalar path.
 */
export function f32_maxpool2d_sep(x: usize, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, oh: i32, ow: i32, out: usize, tmp: usize): void {
  for (let oy = 0; oy < oh; oy++) {
    const y0 = oy * sh - pt;
    const orow = out + ((<usize>oy * ow) << 2);
    if (y0 < 0 || y0 + kh > ih) {
      for (let ox = 0; ox < ow; ox++) f32.store(orow + (<usize>ox << 2), maxPixel(x, ih, iw, kh, kw, y0, ox * sw - pl));
      continue;
    }
    const r0 = x + ((<usize>y0 * iw) << 2);
    let c = 0;
    for (; c + 3 < iw; c += 4) {
      let acc = v128.load(r0 + (<usize>c << 2));
      for (let ky = 1; ky < kh; ky++) {
        const v = v128.load(r0 + ((<usize>(ky * iw + c)) << 2));
        acc = v128.bitselect(v, acc, f32x4.gt(v, acc));
      }
      v128.store(tmp + (<usize>c << 2), acc);
    }
    for (; c < iw; c++) {
      let acc = f32.load(r0 + (<usize>c << 2));
      for (let ky = 1; ky < kh; ky++) {
        const v = f32.load(r0 + ((<usize>(ky * iw + c)) << 2));
        if (v > acc) acc = v;
      }
      f32.store(tmp + (<usize>c << 2), acc);
    }
    let ox = 0;
    // windows cut by the left pad
    for (; ox < ow && ox * sw - pl < 0; ox++) f32.store(orow + (<usize>ox << 2), maxPixel(x, ih, iw, kh, kw, y0, ox * sw - pl));
    // four outputs at a time while their windows are inside the row: lane i takes tmp[x0 + i·sw + kx] over kx
    // (stride 2: the even lanes of two loads; the second load may read past the row into tmp's slack)
    if (sw == 1) {
      for (; ox + 3 < ow && (ox + 3) * sw - pl + kw <= iw; ox += 4) {
        const t = tmp + (<usize>(ox - pl) << 2);
        let acc = v128.load(t);
        for (let kx = 1; kx < kw; kx++) {
          const v = v128.load(t + (<usize>kx << 2));
          acc = v128.bitselect(v, acc, f32x4.gt(v, acc));
        }
        v128.store(orow + (<usize>ox << 2), acc);
      }
    } else if (sw == 2) {
      for (; ox + 3 < ow && (ox + 3) * sw - pl + kw <= iw; ox += 4) {
        const t = tmp + (<usize>(ox * 2 - pl) << 2);
        let acc = v128.shuffle<f32>(v128.load(t), v128.load(t, 16), 0, 2, 4, 6);
        for (let kx = 1; kx < kw; kx++) {
          const tk = t + (<usize>kx << 2);
          const v = v128.shuffle<f32>(v128.load(tk), v128.load(tk, 16), 0, 2, 4, 6);
          acc = v128.bitselect(v, acc, f32x4.gt(v, acc));
        }
        v128.store(orow + (<usize>ox << 2), acc);
      }
    }
    for (; ox < ow; ox++) {
      const x0 = ox * sw - pl;
      if (x0 + kw > iw) {
        f32.store(orow + (<usize>ox << 2), maxPixel(x, ih, iw, kh, kw, y0, x0));
        continue;
      }
      const t = tmp + (<usize>x0 << 2);
      let acc = f32.load(t);
      for (let kx = 1; kx < kw; kx++) {
        const v = f32.load(t + (<usize>kx << 2));
        acc = select<f32>(v, acc, v > acc);
      }
      f32.store(orow + (<usize>ox << 2), acc);
    }
  }
}

/**
 * GlobalAveragePool over `count` channels of `hw` pixels each: out[c] = (Σ x[c, ·]) / hw. Four partial sums per
 * channel in one vector, added pairwise at the end (float rounding differs from a sequential sum).
 */
export function f32_global_avgpool(x: usize, count: i32, hw: i32, out: usize): void {
  const inv: f32 = 1.0 / <f32>hw;
  for (let c = 0; c < count; c++) {
    const p = x + ((<usize>c * hw) << 2);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i + 3 < hw; i += 4) acc = f32x4.add(acc, v128.load(p + (<usize>i << 2)));
    let s: f32 = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    for (; i < hw; i++) s += f32.load(p + (<usize>i << 2));
    f32.store(out + (<usize>c << 2), s * inv);
  }
}

/** Scratch floats f32_avgpool2d_sep needs: one zero-bordered row of column sums, then one divisor per output column. */
export function f32_avgpool2d_sep_scratch(iw: i32, kw: i32, sw: i32, pl: i32, pr: i32, ow: i32): i32 {
  return pl + iw + pr + kw + 2 * sw + 8 + ow + 4;
}

/**
 * AveragePool 2-D, dilation 1, one channel, separable (mode 1: in-bounds taps only; mode 2: count_include_pad):
 * per output row the in-bounds input rows of its window are summed column-wise into tmp[pl + ix] (zero left and
 * right of the image, so padded taps add nothing), then each output sums kw of those column sums — four outputs
 * at a time for strides 1 and 2 — and divides by its tap count (the same counts f32_pool2d uses: valid rows ×
 * valid columns, or the taps inside the padded input without the ceil_mode overhang). Sums run in another order
 * than the row-major reference (float rounding, not bit for bit).
 */
export function f32_avgpool2d_sep(mode: i32, x: usize, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, pb: i32, pr: i32, oh: i32, ow: i32, out: usize, tmp: usize): void {
  const rowFloats = pl + iw + pr + kw + 2 * sw + 8;
  memory.fill(tmp, 0, (<usize>rowFloats) << 2);
  const cnt = tmp + ((<usize>rowFloats) << 2);
  for (let ox = 0; ox < ow; ox++) {
    const x0 = ox * sw - pl;
    const c = mode == 1 ? min(iw, x0 + kw) - max(0, x0) : min(iw + pr, x0 + kw) - max(-pl, x0);
    f32.store(cnt + (<usize>ox << 2), <f32>c);
  }
  const col = tmp + ((<usize>pl) << 2); // column sums of image column ix at col[ix]
  for (let oy = 0; oy < oh; oy++) {
    const y0 = oy * sh - pt;
    const r0 = max(0, y0);
    const r1 = min(ih, y0 + kh);
    const rows = mode == 1 ? r1 - r0 : min(ih + pb, y0 + kh) - max(-pt, y0);
    // column sums of rows r0..r1 (none in range: zeros)
    let c = 0;
    for (; c + 3 < iw; c += 4) {
      let acc = f32x4.splat(0);
      for (let r = r0; r < r1; r++) acc = f32x4.add(acc, v128.load(x + ((<usize>(r * iw + c)) << 2)));
      v128.store(col + (<usize>c << 2), acc);
    }
    for (; c < iw; c++) {
      let acc: f32 = 0;
      for (let r = r0; r < r1; r++) acc += f32.load(x + ((<usize>(r * iw + c)) << 2));
      f32.store(col + (<usize>c << 2), acc);
    }
    const orow = out + ((<usize>oy * ow) << 2);
    const vr = f32x4.splat(<f32>rows);
    let ox = 0;
    // output ox sums tmp[ox·sw + kx], kx < kw (tmp index = image column + pl)
    if (sw == 1) {
      for (; ox + 3 < ow; ox += 4) {
        const t = tmp + (<usize>ox << 2);
        let acc = v128.load(t);
        for (let kx = 1; kx < kw; kx++) acc = f32x4.add(acc, v128.load(t + (<usize>kx << 2)));
        v128.store(orow + (<usize>ox << 2), f32x4.div(acc, f32x4.mul(vr, v128.load(cnt + (<usize>ox << 2)))));
      }
    } else if (sw == 2) {
      for (; ox + 3 < ow; ox += 4) {
        const t = tmp + (<usize>(ox * 2) << 2);
        let acc = v128.shuffle<f32>(v128.load(t), v128.load(t, 16), 0, 2, 4, 6);
        for (let kx = 1; kx < kw; kx++) {
          const tk = t + (<usize>kx << 2);
          acc = f32x4.add(acc, v128.shuffle<f32>(v128.load(tk), v128.load(tk, 16), 0, 2, 4, 6));
        }
        v128.store(orow + (<usize>ox << 2), f32x4.div(acc, f32x4.mul(vr, v128.load(cnt + (<usize>ox << 2)))));
      }
    }
    for (; ox < ow; ox++) {
      const t = tmp + ((<usize>(ox * sw)) << 2);
      let acc: f32 = f32.load(t);
      for (let kx = 1; kx < kw; kx++) acc += f32.load(t + (<usize>kx << 2));
      f32.store(orow + (<usize>ox << 2), acc / (<f32>rows * f32.load(cnt + (<usize>ox << 2))));
    }
  }
}

/**
 * `planes` consecutive planes (ih·iw floats apart in, oh·ow floats apart out) of f32_pool2d / f32_maxpool2d_sep /
 * f32_avgpool2d_sep (`kind` 0 / 1 / 2; `mode` as theirs, ignored by the max-only kind 1): one call per chunk of
 * planes for the kernel threads instead of one per plane. Every plane runs the same call as on its own.
 */
export function f32_pool2d_planes(
  kind: i32, planes: i32, mode: i32, x: usize, ih: i32, iw: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, pb: i32, pr: i32, oh: i32, ow: i32, out: usize, tmp: usize,
): void {
  const inPlane = (<usize>ih * iw) << 2;
  const outPlane = (<usize>oh * ow) << 2;
  for (let i = 0; i < planes; i++) {
    const xi = x + <usize>i * inPlane;
    const oi = out + <usize>i * outPlane;
    if (kind == 1) f32_maxpool2d_sep(xi, ih, iw, kh, kw, sh, sw, pt, pl, oh, ow, oi, tmp);
    else if (kind == 2) f32_avgpool2d_sep(mode, xi, ih, iw, kh, kw, sh, sw, pt, pl, pb, pr, oh, ow, oi, tmp);
    else f32_pool2d(mode, xi, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow, oi);
  }
}
