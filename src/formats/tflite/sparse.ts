import { ModelFormatError } from '../../errors.js';
import type { TflSparsity } from './model.js';

/**
 * Densify a TFLite sparse constant (schema.fbs SparsityParameters; TFLite's
 * tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc FormatConverter::SparseToDense).
 *
 * The tensor of shape `shape` (rank n) with k blocked dimensions (`blockMap[i]` is split into
 * shape[blockMap[i]] / b_i blocks of size b_i, b_i = the dense_size of level n + i's metadata) is an expanded
 * tensor of rank n + k; its levels are visited in `traversalOrder` (the n outer dims first, then the k block
 * dims). A DENSE level enumerates 0..dense_size-1; a SPARSE_CSR level enumerates
 * array_indices[array_segments[p] .. array_segments[p+1]) where p is the position reached in the level above.
 * Every leaf reached takes the next stored value. Every size, segment and index is validated against the
 * shape before anything is written, so a hostile file cannot index out of bounds or loop for long.
 */
export function densify<T extends ArrayLike<number> | ArrayLike<bigint>>(values: T, shape: number[], sp: TflSparsity, out: { [i: number]: number | bigint; length: number }, what: string): void {
  const n = shape.length;
  const k = sp.blockMap.length;
  const L = n + k;
  const fail = (m: string) => new ModelFormatError(`${what}: sparsity ${m}`);
  if (sp.traversalOrder.length !== L || sp.dims.length !== L) throw fail(`has ${sp.traversalOrder.length} traversal levels and ${sp.dims.length} dim_metadata for rank ${n} with ${k} blocked dims`);
  // the first n levels traverse the original dims, the last k the block dims (as TFLite's converter requires)
  const seenOrder = new Set<number>();
  sp.traversalOrder.forEach((d, i) => {
    if (!(Number.isInteger(d) && (i < n ? d >= 0 && d < n : d >= n && d < L)) || seenOrder.has(d)) throw fail(`traversal_order [${sp.traversalOrder.join(',')}] is not a permutation of the ${n} dims followed by the ${k} block dims`);
    seenOrder.add(d);
  });
  const blockSize: number[] = [];
  const expanded = [...shape];
  const seenBlock = new Set<number>();
  for (let i = 0; i < k; i++) {
    const d = sp.blockMap[i]!;
    if (!(Number.isInteger(d) && d >= 0 && d < n) || seenBlock.has(d)) throw fail(`block_map [${sp.blockMap.join(',')}] names a dim twice or out of rank ${n}`);
    seenBlock.add(d);
    // the block size is the dense size of the level that traverses block dim n + i
    const lvl = sp.traversalOrder.indexOf(n + i);
    const m = sp.dims[lvl]!;
    if (m.format !== 'DENSE') throw fail(`block dim ${n + i} is not DENSE`);
    const b = m.denseSize;
    if (!(b >= 1 && shape[d]! % b === 0)) throw fail(`block size ${b} does not divide dim ${d} of shape [${shape.join(',')}]`);
    blockSize.push(b);
    expanded[d] = shape[d]! / b;
    expanded.push(b);
  }
  // level sizes and the number of positions reaching each level (CSR segments need one more entry than that)
  let positions = 1;
  for (let l = 0; l < L; l++) {
    const m = sp.dims[l]!;
    const size = expanded[sp.traversalOrder[l]!]!;
    if (m.format === 'DENSE') {
      if (m.denseSize !== size) throw fail(`level ${l} is DENSE of size ${m.denseSize}, the dim has ${size}`);
      positions *= size;
    } else {
      const { segments: s, indices: ix } = m;
      if (s.length !== positions + 1) throw fail(`level ${l} has ${s.length} array_segments for ${positions} parent positions (expected ${positions + 1})`);
      if (s[0] !== 0 || s[positions] !== ix.length) throw fail(`level ${l} array_segments run ${s[0]}..${s[positions]}, expected 0..${ix.length} (the array_indices length)`);
      for (let i = 0; i < positions; i++) if (s[i + 1]! < s[i]!) throw fail(`level ${l} array_segments decrease at ${i}`);
      for (let i = 0; i < ix.length; i++) if (ix[i]! < 0 || ix[i]! >= size) throw fail(`level ${l} array_indices[${i}] = ${ix[i]} outside 0..${size - 1}`);
      positions = ix.length;
    }
  }
  if (positions !== values.length) throw fail(`describes ${positions} stored values, the buffer holds ${values.length}`);
  const strides = new Array<number>(n);
  for (let d = n - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  const idx = new Array<number>(L).fill(0);
  const orig = new Array<number>(n).fill(0);
  let src = 0;
  const visit = (l: number, prev: number): void => {
    if (l === L) {
      for (let i = 0; i < n; i++) orig[sp.traversalOrder[i]!] = idx[i]!;
      for (let i = n; i < L; i++) {
        const b = sp.traversalOrder[i]! - n;
        const d = sp.blockMap[b]!;
        orig[d] = orig[d]! * blockSize[b]! + idx[i]!;
      }
      let flat = 0;
      for (let d = 0; d < n; d++) flat += orig[d]! * strides[d]!;
      out[flat] = values[src++]!;
      return;
    }
    const m = sp.dims[l]!;
    if (m.format === 'DENSE') {
      for (let i = 0; i < m.denseSize; i++) {
        idx[l] = i;
        visit(l + 1, prev * m.denseSize + i);
      }
    } else {
      for (let i = m.segments[prev]!; i < m.segments[prev + 1]!; i++) {
        idx[l] = m.indices[i]!;
        visit(l + 1, i);
      }
    }
  };
  visit(0, 0);
}
