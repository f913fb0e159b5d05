// Sparse vs dense f32 GEMM against weight sparsity (0 … 0.95): Y[M×N] = X[M×K] · Wᵀ with W N×K pruned by
// magnitude. Dense: the TS reference loop and edgeq's packed WASM SIMD kernel; sparse: the CSR TS kernel.
// Prints the crossover (the lowest sparsity from which CSR beats each dense kernel) per shape.
import { csrGemmNT, denseGemmNT, toCsr } from '../dist/prune/csr.js';
import { PackedGemmF32 } from '../dist/kernels/gemm.js';
import { arena } from '../dist/kernels/wasm.js';
import { fmt, quick, table, timeMs } from './common.js';

const SPARSITIES = [0, 0.5, 0.7, 0.8, 0.9, 0.95];

/** deterministic weights with every |w| distinct enough; the `s` fraction of smallest magnitudes zeroed */
function prunedWeights(n, k, s) {
  const w = Float32Array.from({ length: n * k }, (_, i) => ((i * 104729) % 1009) / 1009 - 0.5);
  const mags = Float32Array.from(w, Math.abs).sort();
  const cut = Math.round(s * w.length);
  if (cut > 0) {
    const t = mags[cut - 1];
    let left = cut;
    for (let i = 0; i < w.length && left > 0; i++) if (Math.abs(w[i]) <= t) (w[i] = 0), left--;
  }
  return w;
}

export async function run() {
  // [M, K, N]: lenet f1 on a 64-image batch, a mid-size FC layer on batch 1 and 64, a conv as im2col GEMM
  const shapes = quick ? [[64, 400, 120], [1, 1024, 1024]] : [[64, 400, 120], [1, 1024, 1024], [64, 1024, 1024], [784, 150, 16]];
  const rows = [];
  const out = [];
  for (const [m, k, n] of shapes) {
    const x = Float32Array.from({ length: m * k }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const ybuf = new Float32Array(m * n);
    let crossTs = NaN;
    let crossWasm = NaN;
    for (const s of SPARSITIES) {
      const w = prunedWeights(n, k, s);
      const csr = toCsr(w, n, k);
      const denseMs = await timeMs('dense-ts', () => denseGemmNT(x, m, w, n, k, undefined, ybuf));
      // the WASM kernel takes W as K×N
      const wt = new Float32Array(k * n);
      for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) wt[t * n + j] = w[j * k + t];
      const packed = new PackedGemmF32(arena(), k, n, wt);
      const wasmMs = await timeMs('dense-wasm', () => packed.run(x, m));
      const csrMs = await timeMs('csr-ts', () => csrGemmNT(x, m, csr, undefined, ybuf));
      if (Number.isNaN(crossTs) && csrMs < denseMs) crossTs = s;
      if (Number.isNaN(crossWasm) && csrMs < wasmMs) crossWasm = s;
      const r = { shape: `${m}x${k}x${n}`, sparsity: s, nnz: csr.values.length, denseTsMs: denseMs, denseWasmMs: wasmMs, csrMs };
      out.push(r);
      rows.push({ 'M×K×N': r.shape, sparsity: fmt(s, 2), nnz: r.nnz, 'dense TS ms': fmt(denseMs, 3), 'dense WASM ms': fmt(wasmMs, 3), 'CSR TS ms': fmt(csrMs, 3), 'TS/CSR': fmt(denseMs / csrMs, 2), 'WASM/CSR': fmt(wasmMs / csrMs, 2) });
    }
    rows.push({ 'M×K×N': `${m}x${k}x${n} crossover`, sparsity: '', nnz: '', 'dense TS ms': Number.isNaN(crossTs) ? 'none' : `≥ ${crossTs}`, 'dense WASM ms': Number.isNaN(crossWasm) ? 'none ≤ 0.95' : `≥ ${crossWasm}`, 'CSR TS ms': '', 'TS/CSR': '', 'WASM/CSR': '' });
    out.push({ shape: `${m}x${k}x${n}`, crossoverVsTs: crossTs, crossoverVsWasm: crossWasm });
  }
  table('sparse (CSR) vs dense f32 GEMM by weight sparsity, one thread', rows);
  return { sparse: out };
}
