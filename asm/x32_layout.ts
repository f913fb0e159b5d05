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
