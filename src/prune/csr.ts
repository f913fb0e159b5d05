/**
 * Compressed sparse row (CSR) f32 weights and the GEMM that uses them: Y[M×N] = X[M×K] · Wᵀ (+ bias),
 * with W the N×K weight of a Gemm(transB=1) / Conv (im2col) layer. Cost O(M · nnz) instead of O(M·N·K).
 */
export interface CsrMatrix {
  rows: number;
  cols: number;
  /** rows + 1 offsets into colIdx/values */
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float32Array;
}

/** CSR of a dense row-major rows×cols matrix (exact zeros dropped). */
export function toCsr(w: Float32Array, rows: number, cols: number): CsrMatrix {
  let nnz = 0;
  for (let i = 0; i < rows * cols; i++) if (w[i] !== 0) nnz++;
  const rowPtr = new Int32Array(rows + 1);
  const colIdx = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let p = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = w[base + c]!;
      if (v !== 0) {
        colIdx[p] = c;
        values[p++] = v;
      }
    }
    rowPtr[r + 1] = p;
  }
  return { rows, cols, rowPtr, colIdx, values };
}

/** Dense rows×cols copy of a CSR matrix. */
export function fromCsr(a: CsrMatrix): Float32Array {
  const out = new Float32Array(a.rows * a.cols);
  for (let r = 0; r < a.rows; r++) for (let p = a.rowPtr[r]!; p < a.rowPtr[r + 1]!; p++) out[r * a.cols + a.colIdx[p]!] = a.values[p]!;
  return out;
}

/**
 * Y[m×N] = X[m×K] · Wᵀ + bias with W given as CSR N×K. For batches (m ≥ 4) X is transposed once so every
 * stored weight does one contiguous length-m axpy (Yᵀ[j,:] += w · Xᵀ[k,:]); a single row uses sparse dots.
 */
export function csrGemmNT(x: Float32Array, m: number, w: CsrMatrix, bias?: Float32Array, out = new Float32Array(m * w.rows)): Float32Array {
  const { rows: n, cols: k, rowPtr, colIdx, values } = w;
  if (m < 4) {
    for (let i = 0; i < m; i++) {
      const xo = i * k;
      const yo = i * n;
      for (let j = 0; j < n; j++) {
        let s = bias ? bias[j]! : 0;
        const end = rowPtr[j + 1]!;
        for (let p = rowPtr[j]!; p < end; p++) s += values[p]! * x[xo + colIdx[p]!]!;
        out[yo + j] = s;
      }
    }
    return out;
  }
  const xt = new Float32Array(k * m);
  for (let i = 0; i < m; i++) for (let t = 0; t < k; t++) xt[t * m + i] = x[i * k + t]!;
  const acc = new Float32Array(m);
  for (let j = 0; j < n; j++) {
    acc.fill(bias ? bias[j]! : 0);
    const end = rowPtr[j + 1]!;
    for (let p = rowPtr[j]!; p < end; p++) {
      const v = values[p]!;
      const xo = colIdx[p]! * m;
      for (let i = 0; i < m; i++) acc[i]! += v * xt[xo + i]!;
    }
    for (let i = 0; i < m; i++) out[i * n + j] = acc[i]!;
  }
  return out;
}

/** The dense TS reference of the same product: Y[m×N] = X[m×K] · Wᵀ + bias, W row-major N×K. */
export function denseGemmNT(x: Float32Array, m: number, w: Float32Array, n: number, k: number, bias?: Float32Array, out = new Float32Array(m * n)): Float32Array {
  for (let i = 0; i < m; i++) {
    const xo = i * k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let s = bias ? bias[j]! : 0;
      for (let t = 0; t < k; t++) s += x[xo + t]! * w[wo + t]!;
      out[i * n + j] = s;
    }
  }
  return out;
}
