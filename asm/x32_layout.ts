// Data movement of 4-byte elements (float32 / int32): one strided gather that Transpose, Slice, Concat and Split are
// made of (and its byte-wise twin for Expand of other widths). Shape math (the strides of a permutation or a slice) stays in TypeScript.

/**
 * The strided gather both widths share: elements of 1 << ew bytes, strides in elements. When the innermost
 * stride is 1 each row is one memory.copy; otherwise elements are copied one by one.
 */
// @ts-ignore: decorator
@inline
function stridedCopy(ew: i32, src: usize, out: usize, rank: i32, shape: usize, st: usize, idx: usize): void {
  const last = <usize>(rank - 1) << 2;
  const inner = load<i32>(shape + last);
  const ist = load<i32>(st + last);
  let outer = 1;
  for (let d = 0; d < rank - 1; d++) {
    outer *= load<i32>(shape + (<usize>d << 2));
    store<i32>(idx + (<usize>d << 2), 0);
  }
  if (inner <= 0 || outer <= 0) return;
  let off: i32 = 0;
  let o = out;
  const rowBytes = <usize>inner << ew;
  for (let r = 0; r < outer; r++) {
    const base = <usize>(<i32>src + (off << ew));
    if (ist == 1) memory.copy(o, base, rowBytes);
    else {
      let p = base;
      const step = <usize>(ist << ew);
      for (let j = 0; j < inner; j++) {
        if (ew == 2) store<i32>(o + (<usize>j << 2), load<i32>(p));
        else store<u8>(o + <usize>j, load<u8>(p));
        p += step;
      }
    }
    o += rowBytes;
    for (let d = rank - 2; d >= 0; d--) {
      const pi = idx + (<usize>d << 2);
      const sd = load<i32>(st + (<usize>d << 2));
      const i = load<i32>(pi) + 1;
      off += sd;
      if (i < load<i32>(shape + (<usize>d << 2))) {
        store<i32>(pi, i);
        break;
      }
      off -= sd * i;
      store<i32>(pi, 0);
    }
  }
}

/**
 * out (contiguous, row-major over shape[0..rank)) = src viewed with element strides st[0..rank) (negative allowed:
 * slices with negative steps): out[i0, …, ir−1] = src[Σ i_d · st_d]. When the innermost stride is 1 each row is one
 * memory.copy. `shape`, `st` and `idx` point at rank i32s each (`idx` is scratch). rank ≥ 1.
 */
export function x32_strided_copy(src: usize, out: usize, rank: i32, shape: usize, st: usize, idx: usize): void {
  stridedCopy(2, src, out, rank, shape, st, idx);
}

/**
 * x32_strided_copy with BYTE strides: elements of any width (the caller appends the element's bytes as a last
 * axis of stride 1, so each innermost run is one memory.copy). Expand of bool / int64 / float16 data (broadcast
 * axes have stride 0). rank ≥ 1.
 */
export function x8_strided_copy(src: usize, out: usize, rank: i32, shape: usize, st: usize, idx: usize): void {
  stridedCopy(0, src, out, rank, shape, st, idx);
}

/**
 * Batched 2-D transpose of 4-byte elements: for each of `n` matrices, out[c·rows + r] = src[r·cols + c] (src rows ×
 * cols, row-major). Transpose's NHWC ↔ NCHW layout changes are this after merging axes. 4×4 blocks move through
 * registers (four loads, eight shuffles, four stores); three columns (RGB images) go four rows at a time, three
 * loads in, three stores out; the edges are scalar.
 */
export function x32_transpose2d(src: usize, n: i32, rows: i32, cols: i32, out: usize): void {
  const mat = (<usize>rows * cols) << 2;
  const rowBytes = (<usize>cols) << 2;
  const colBytes = (<usize>rows) << 2;
  const r4 = rows & ~3;
  const c4 = cols & ~3;
  for (let b = 0; b < n; b++) {
    const s = src + <usize>b * mat;
    const o = out + <usize>b * mat;
    if (cols == 3) {
      let r = 0;
      for (; r < r4; r += 4) {
        const p = s + ((<usize>r * 3) << 2);
        const v0 = v128.load(p); // a0 a1 a2 b0
        const v1 = v128.load(p, 16); // b1 b2 c0 c1
        const v2 = v128.load(p, 32); // c2 d0 d1 d2
        const q = o + ((<usize>r) << 2);
        v128.store(q, v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 0, 3, 6, 7), v2, 0, 1, 2, 5));
        v128.store(q + colBytes, v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 1, 4, 7, 7), v2, 0, 1, 2, 6));
        v128.store(q + 2 * colBytes, v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 2, 5, 5, 5), v2, 0, 1, 4, 7));
      }
      for (; r < rows; r++) for (let c = 0; c < 3; c++) store<i32>(o + <usize>c * colBytes + ((<usize>r) << 2), load<i32>(s + ((<usize>(r * 3 + c)) << 2)));
      continue;
    }
    for (let r = 0; r < r4; r += 4) {
      const p0 = s + <usize>r * rowBytes;
      const p1 = p0 + rowBytes;
      const p2 = p1 + rowBytes;
      const p3 = p2 + rowBytes;
      let c = 0;
      for (; c < c4; c += 4) {
        const cb = (<usize>c) << 2;
        const a = v128.load(p0 + cb);
        const bb = v128.load(p1 + cb);
        const cc = v128.load(p2 + cb);
        const d = v128.load(p3 + cb);
        const lo0 = v128.shuffle<f32>(a, bb, 0, 4, 1, 5); // a0 b0 a1 b1
        const lo1 = v128.shuffle<f32>(cc, d, 0, 4, 1, 5); // c0 d0 c1 d1
        const hi0 = v128.shuffle<f32>(a, bb, 2, 6, 3, 7); // a2 b2 a3 b3
        const hi1 = v128.shuffle<f32>(cc, d, 2, 6, 3, 7); // c2 d2 c3 d3
        const q = o + <usize>c * colBytes + ((<usize>r) << 2);
        v128.store(q, v128.shuffle<f32>(lo0, lo1, 0, 1, 4, 5));
        v128.store(q + colBytes, v128.shuffle<f32>(lo0, lo1, 2, 3, 6, 7));
        v128.store(q + 2 * colBytes, v128.shuffle<f32>(hi0, hi1, 0, 1, 4, 5));
        v128.store(q + 3 * colBytes, v128.shuffle<f32>(hi0, hi1, 2, 3, 6, 7));
      }
      for (; c < cols; c++) {
        const q = o + <usize>c * colBytes + ((<usize>r) << 2);
        const cb = (<usize>c) << 2;
        store<i32>(q, load<i32>(p0 + cb));
        store<i32>(q, load<i32>(p1 + cb), 4);
        store<i32>(q, load<i32>(p2 + cb), 8);
        store<i32>(q, load<i32>(p3 + cb), 12);
      }
    }
    for (let r = r4; r < rows; r++) for (let c = 0; c < cols; c++) store<i32>(o + <usize>c * colBytes + ((<usize>r) << 2), load<i32>(s + <usize>r * rowBytes + ((<usize>c) << 2)));
  }
}
