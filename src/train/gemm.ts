/**
 * Unpacked f32 GEMM for training, where weights change every step: C[m×n] = op(A)·op(B) (+ C when
 * `accumulate`). op(X) is X or Xᵀ (row-major storage). B is packed into the WASM kernel's panel layout per
 * call (O(k·n), small next to the O(m·n·k) product), then the same f32_gemm kernel as inference runs.
 * Without WASM SIMD it falls back to a cache-friendly TS loop.
 */
import { arena, kernels } from '../kernels/wasm.js';

/** Row-major transpose of a [rows×cols] matrix into `out` ([cols×rows]). */
export function transpose(a: Float32Array, rows: number, cols: number, out = new Float32Array(rows * cols)): Float32Array {
  const B = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        const r = i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = a[r + j]!;
      }
    }
  }
  return out;
}

export interface GemmOptions {
  /** A is stored [k×m] (use Aᵀ) */
  transA?: boolean;
  /** B is stored [n×k] (use Bᵀ) */
  transB?: boolean;
  /** write into this array (m·n) */
  out?: Float32Array;
  /** add to `out` instead of overwriting */
  accumulate?: boolean;
  /** force the TS loop (tests compare both paths) */
  reference?: boolean;
}

function gemmRef(a: Float32Array, b: Float32Array, m: number, k: number, n: number, c: Float32Array): void {
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      if (av === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j]!;
    }
  }
}

/** C = op(A)·op(B) with op(A) [m×k], op(B) [k×n]; returns C [m×n]. */
export function gemm(a: Float32Array, b: Float32Array, m: number, k: number, n: number, o: GemmOptions = {}): Float32Array {
  if (m === 0 || n === 0 || k === 0) {
    const z = o.out ?? new Float32Array(m * n);
    if (!o.accumulate) z.fill(0, 0, m * n);
    return z;
  }
  const A = o.transA ? transpose(a.subarray(0, m * k), k, m) : a;
  const Bm = o.transB ? transpose(b.subarray(0, k * n), n, k) : b;
  const ex = o.reference ? undefined : kernels();
  const mem = ex ? arena() : undefined;
  if (!ex || !mem) {
    const out = o.out ?? new Float32Array(m * n);
    if (!o.accumulate) out.fill(0, 0, m * n);
    gemmRef(A, Bm, m, k, n, out);
    return out;
  }
  const wp = mem.alloc(k * n * 4, 'train gemm B');
  const pp = mem.alloc(ex.f32_gemm_packed_size_8(n, k), 'train gemm packed B');
  const ap = mem.alloc(m * k * 4, 'train gemm A');
  const cp = mem.alloc(m * n * 4, 'train gemm C');
  try {
    mem.f32(wp, k * n).set(Bm.subarray(0, k * n));
    ex.f32_gemm_pack_8(n, k, wp, n, 0, pp);
    mem.f32(ap, m * k).set(A.subarray(0, m * k));
    ex.f32_gemm(m, n, k, ap, k, pp, cp, n, -Infinity, Infinity, 0);
    const c = mem.f32(cp, m * n);
    if (!o.out) return c.slice();
    const out = o.out;
    if (o.accumulate) for (let i = 0; i < m * n; i++) out[i] += c[i]!;
    else out.set(c);
    return out;
  } finally {
    mem.release(cp);
    mem.release(ap);
    mem.release(pp);
    mem.release(wp);
  }
}
