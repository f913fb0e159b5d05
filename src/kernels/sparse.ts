import { gemmRowBias } from './gemm-bias.js';
import { winogradShape, winogradWins } from './winograd.js';
import { convF32Shape } from './conv-run.js';
import { Epilogue } from './epilogue.js';
import { im2colPack } from './im2col.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import { conv2dAt } from '../ir/conv-geometry.js';
import type { DType } from '../tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../tensor/fp16.js';
import { QRANGE, roundHalfToEven, saturate } from '../tensor/rounding.js';
import { floats } from '../ops/util.js';
import { type Arena, arena, kernels } from './wasm.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type KernelCall, chunksOf, forkCached, threadsFor } from './threads.js';
import { ShapeError } from '../errors.js';

/**
 * Sparse-weight kernels (asm/f32_spmm.ts) for MatMul, Gemm and Conv with a constant, pruned float32 weight.
 * They register before the dense kernels (src/kernels/index.ts imports this file first) and take a node
 * only when the weight's sparsity (fraction of exact zeros) reaches the measured crossover for its shape
 * class; otherwise `prepare` returns undefined and the dense packed GEMM takes the node.
 *
 * Crossovers: measured by bench/sparse.bench.js (`EDGEQ_SRC=1 node --import tsx bench/sparse.bench.js`, or `npm run
 * bench -- --filter sparse` after a build; medians of 3 tinybench medians on the shared dev machine, unstructured
 * random magnitude pruning, sparse vs the dense WASM kernels (f32_gemm with its GEMV row path, f32_conv2d_gemm,
 * qs8_gemm), copy-in/copy-out included for both). Run of 2026-11-25:
 *  - one activation row (m = 1, batch-1 FC layers), 1×4 blocked CSR (f32_spmm_1x4): 1×1024×1024 wins from 0.7
 *    (1.07× at 0.7, 1.5× at 0.8, 2.7× at 0.9, 6× at 0.95); the tiny 1×400×120 (4 µs) only from 0.9 (0.9× at 0.8,
 *    a 1 µs loss). SPARSE_MIN_SMALL_M = 0.8: the worst case would be 0.9, but 0.8 gains 60 µs on the big layer
 *    for 1 µs on the tiny one.
 *  - m ≥ 2 rows (batches), scalar CSR with SIMD over 8 rows (f32_spmm_csr_8): 4×1024×1024 ≥ 0.7 (the worst:
 *    one 8-row panel half empty; 1.35× at 0.7, 3.7× at 0.9), 64×1024×1024 ≥ 0.6, 64×400×120 ≥ 0.5 (2.25× at 0.7,
 *    4.8× at 0.9), 784×150×16 ≥ 0.5. SPARSE_MIN_LARGE_M = 0.7 (m = 2, 3 cost the same as m = 4 in both kernels).
 *  - Conv (batch 1) through im2col + CSR: 6×12×12→16 5×5 ≥ 0.5, 32×56×56→64 3×3 ≥ 0.5 (2.4× at 0.8),
 *    64×28×28→128 3×3/2 ≥ 0.5 (2.6× at 0.8), 1×1 64×56×56→128 ≥ 0.5 (1.85× at 0.8): SPARSE_MIN_CONV = 0.5.
 *    Against the dense Winograd path (3×3 stride-1 convs where winogradWins) the crossover moves up: 32×56×56→64
 *    sparse 2.64 vs Winograd 2.05 ms at 0.7, 2.21 vs 2.31 at 0.8; 16×55×55→64 1.26 vs 1.47 at 0.8:
 *    SPARSE_MIN_CONV_WINOGRAD = 0.8.
 *    The direct sparse conv (f32_spconv2d, no im2col) beats im2col + CSR only for stride 1 from 0.9
 *    (32×56×56: 1.03 vs 1.56 ms at 0.95; lenet's 6×12×12: 0.023 vs 0.049 ms at 0.9): SPARSE_DIRECT_CONV = 0.9.
 * When the row count is not known at plan time (symbolic batch), the larger of the two GEMM thresholds applies.
 *
 * Like every sparse kernel (XNNPACK's, onnxruntime's), a dropped zero weight never meets its activation: where
 * the dense product has 0 · ±Inf = NaN the sparse one keeps the finite sum. Finite inputs agree to float
 * rounding (the sums run in another order).
 */
export const SMALL_M = 2;
export const SPARSE_MIN_SMALL_M = 0.8;
export const SPARSE_MIN_LARGE_M = 0.7;
export const SPARSE_MIN_CONV = 0.5;
export const SPARSE_MIN_CONV_WINOGRAD = 0.8;
export const SPARSE_DIRECT_CONV = 0.9;

/**
 * Switches for benchmarks and tests: `enabled = false` leaves every node to the dense kernels, `force = true`
 * takes every eligible node whatever its sparsity (to time the sparse kernels below their crossover).
 */
export const sparseConfig = { enabled: true, force: false };

/** The sparsity from which the sparse kernel pays for `m` activation rows (undefined m = unknown). */
export function sparseThreshold(m: number | undefined): number {
  if (sparseConfig.force) return 0;
  if (m === undefined) return Math.max(SPARSE_MIN_SMALL_M, SPARSE_MIN_LARGE_M);
  return m < SMALL_M ? SPARSE_MIN_SMALL_M : SPARSE_MIN_LARGE_M;
}

/** Fraction of exact zeros in `w`. */
export function sparsityOf(w: Float32Array): number {
  let z = 0;
  for (let i = 0; i < w.length; i++) if (w[i] === 0) z++;
  return w.length ? z / w.length : 0;
}

function i32(mem: Arena, ptr: number, n: number): Int32Array {
  return new Int32Array(mem.buffer, ptr, n);
}

/** Scalar CSR of an n×k row-major matrix in kernel memory, column indices stored as byte offsets k·32. */
class CsrBlock {
  readonly rowptr: number;
  readonly kidx: number;
  readonly vals: number;
  readonly nnz: number;
  constructor(
    private readonly mem: Arena,
    w: Float32Array,
    off: number,
    n: number,
    k: number,
  ) {
    let nnz = 0;
    for (let i = 0; i < n * k; i++) if (w[off + i] !== 0) nnz++;
    this.nnz = nnz;
    this.rowptr = mem.alloc((n + 1) * 4, 'sparse rowptr');
    this.kidx = mem.alloc(nnz * 4, 'sparse indices');
    this.vals = mem.alloc(nnz * 4, 'sparse values');
    const rp = i32(mem, this.rowptr, n + 1);
    const ki = i32(mem, this.kidx, nnz);
    const va = mem.f32(this.vals, nnz);
    let p = 0;
    rp[0] = 0;
    for (let j = 0; j < n; j++) {
      for (let t = 0; t < k; t++) {
        const v = w[off + j * k + t]!;
        if (v !== 0) {
          ki[p] = t * 32;
          va[p++] = v;
        }
      }
      rp[j + 1] = p;
    }
  }
  dispose(): void {
    this.mem.release(this.vals);
    this.mem.release(this.kidx);
    this.mem.release(this.rowptr);
  }
}

/**
 * Y[m×n] = A[m×k] · W + bias with W given as Wᵀ (n×k row-major, `wt`), pruned. Keeps two compressed forms:
 * 1×4 blocked CSR along n for m < SMALL_M and scalar CSR (SIMD over 8 rows of Aᵀ) for larger m.
 */
export class SparseGemmF32 {
  private readonly csr: CsrBlock | undefined;
  private readonly bptr: number = 0;
  private readonly bkidx: number = 0;
  private readonly bvals: number = 0;
  private readonly bias4: number = 0;
  private readonly bias: number = 0;
  /** stored 1×4 blocks (-1 when that form was not built) */
  readonly blocks: number = -1;
  /**
   * `rows`: the row count when it is known at plan time, so only the form its kernel uses is built
   * (undefined = both, picked per run).
   */
  constructor(
    private readonly mem: Arena,
    readonly k: number,
    readonly n: number,
    wt: Float32Array,
    bias?: Float32Array,
    rows?: number,
  ) {
    const want = rows === undefined ? undefined : SparseGemmF32.kernelFor(rows);
    if (want !== 'f32_spmm_1x4') this.csr = new CsrBlock(mem, wt, 0, n, k);
    const nb = (n + 3) >> 2;
    if (bias) {
      this.bias = mem.alloc(n * 4, 'sparse bias');
      mem.f32(this.bias, n).set(bias);
    }
    if (want === 'f32_spmm_csr_8') return;
    if (bias) {
      this.bias4 = mem.alloc(nb * 16, 'sparse bias');
      const b4 = mem.f32(this.bias4, nb * 4);
      b4.fill(0);
      b4.set(bias);
    }
    // 1×4 blocks: for column block b, every k where one of W[k, 4b…4b+3] is non-zero
    let blocks = 0;
    for (let b = 0; b < nb; b++) {
      const j1 = Math.min(n, 4 * b + 4);
      for (let t = 0; t < k; t++) {
        for (let j = 4 * b; j < j1; j++)
          if (wt[j * k + t] !== 0) {
            blocks++;
            break;
          }
      }
    }
    this.blocks = blocks;
    this.bptr = mem.alloc((nb + 1) * 4, 'sparse block ptr');
    this.bkidx = mem.alloc(blocks * 4, 'sparse block indices');
    this.bvals = mem.alloc(blocks * 16, 'sparse block values');
    const bp = i32(mem, this.bptr, nb + 1);
    const bk = i32(mem, this.bkidx, blocks);
    const bv = mem.f32(this.bvals, blocks * 4);
    let e = 0;
    bp[0] = 0;
    for (let b = 0; b < nb; b++) {
      const j1 = Math.min(n, 4 * b + 4);
      for (let t = 0; t < k; t++) {
        let any = false;
        for (let j = 4 * b; j < j1; j++) if (wt[j * k + t] !== 0) any = true;
        if (!any) continue;
        bk[e] = t * 4;
        for (let j = 4 * b; j < 4 * b + 4; j++) bv[e * 4 + j - 4 * b] = j < n ? wt[j * k + t]! : 0;
        e++;
      }
      bp[b + 1] = e;
    }
  }

  /** Which kernel runs for m rows. */
  static kernelFor(m: number): 'f32_spmm_1x4' | 'f32_spmm_csr_8' {
    return m < SMALL_M ? 'f32_spmm_1x4' : 'f32_spmm_csr_8';
  }

  /** C[m×n] clamped to [lo, hi] as a view into kernel memory the caller must release (the executor does). */
  runResident(a: Float32Array, m: number, lo = -Infinity, hi = Infinity, kernel = SparseGemmF32.kernelFor(m)): { view: Float32Array; ptr: number } {
    const ex = kernels()!;
    const { k, n, mem, csr } = this;
    if (!csr) kernel = 'f32_spmm_1x4';
    else if (this.blocks < 0) kernel = 'f32_spmm_csr_8';
    const ain = mem.input(a.subarray(0, m * k), 'sparse gemm input');
    let cp = 0;
    let pp = 0;
    try {
      cp = mem.alloc(m * n * 4, 'sparse gemm output');
      if (kernel === 'f32_spmm_1x4') ex.f32_spmm_1x4(m, n, ain.ptr, k, this.bptr, this.bkidx, this.bvals, this.bias4, cp, n, lo, hi);
      else {
        pp = mem.alloc(((m + 7) >> 3) * (k + 1) * 32, 'sparse gemm packed input');
        ex.f32_spmm_pack_t8(m, k, ain.ptr, k, pp);
        ex.f32_spmm_csr_8(n, m, pp + 32, (k + 1) * 32, csr!.rowptr, csr!.kidx, csr!.vals, this.bias, cp, 1, n, lo, hi);
      }
    } catch (e) {
      if (cp) mem.release(cp);
      throw e;
    } finally {
      if (pp) mem.release(pp);
      if (ain.copied) mem.release(ain.ptr);
    }
    return { view: mem.f32(cp, m * n), ptr: cp };
  }

  /**
   * A static plan's call (PreparedKernel.bind): C[m×n] clamped to [lo, hi] at `cp` from A[m×k] at `ap`, the kernel
   * runResident would pick; the CSR path's packed A lives in plan scratch. Same calls, same bits as runResident.
   */
  bindAt(ap: number, m: number, cp: number, lo: number, hi: number, scratch: (bytes: number, what: string) => number): () => void {
    const ex = kernels()!;
    const { k, n, csr } = this;
    const kernel = !csr ? 'f32_spmm_1x4' : this.blocks < 0 ? 'f32_spmm_csr_8' : SparseGemmF32.kernelFor(m);
    if (!m) return () => {};
    if (kernel === 'f32_spmm_1x4') return () => ex.f32_spmm_1x4(m, n, ap, k, this.bptr, this.bkidx, this.bvals, this.bias4, cp, n, lo, hi);
    const pp = scratch(((m + 7) >> 3) * (k + 1) * 32, 'sparse gemm packed input');
    return () => {
      ex.f32_spmm_pack_t8(m, k, ap, k, pp);
      ex.f32_spmm_csr_8(n, m, pp + 32, (k + 1) * 32, csr!.rowptr, csr!.kidx, csr!.vals, this.bias, cp, 1, n, lo, hi);
    };
  }

  /** Same product copied out to JS memory (benchmarks, tests). */
  run(a: Float32Array, m: number, lo = -Infinity, hi = Infinity, kernel = SparseGemmF32.kernelFor(m)): Float32Array {
    const { view, ptr } = this.runResident(a, m, lo, hi, kernel);
    const out = view.slice();
    this.mem.release(ptr);
    return out;
  }

  dispose(): void {
    this.csr?.dispose();
    for (const p of [this.bptr, this.bkidx, this.bvals, this.bias, this.bias4]) if (p) this.mem.release(p);
  }
}

const isF32Const = (t: TensorT | undefined): t is TensorT => !!t && t.type === 'float32';

/** Static row count of A (all leading dims flattened), undefined when symbolic/unknown. */
function staticRows(shape: readonly (number | string)[] | undefined, drop: number): number | undefined {
  if (!shape) return undefined;
  let m = 1;
  for (let i = 0; i < shape.length - drop; i++) {
    const d = shape[i];
    if (typeof d !== 'number') return undefined;
    m *= d;
  }
  return m;
}


/** MatMul(A, B) with constant pruned 2-D float32 B (K×N). */
const matmulSparse: KernelDef = {
  op: 'MatMul',
  backend: 'wasm',
  prepare(_node, _attrs, types, constant) {
    const b = constant(1);
    const mem = sparseConfig.enabled ? arena() : undefined;
    if (!mem || !isF32Const(b) || b.dims.length !== 2 || types[0]?.dtype !== 'float32') return decline('sparse kernels off, or B is not a constant 2-D float32 with float32 A');
    if (types[0].shape && types[0].shape.length < 2) return decline('A has rank < 2');
    const [k, n] = b.dims as [number, number];
    if (k === 0 || n === 0) return decline('empty weight');
    const bd = b.data as Float32Array;
    if (sparsityOf(bd) < sparseThreshold(staticRows(types[0].shape, 1))) return decline('B is not sparse enough for the sparse kernel');
    const wt = new Float32Array(k * n);
    for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) wt[j * k + t] = bd[t * n + j]!;
    const g = new SparseGemmF32(mem, k, n, wt, undefined, staticRows(types[0].shape, 1));
    const c = new Epilogue();
    return {
      name: 'f32_spmm',
      fuseClamp: c.fuseClamp,
      run([a], [out]) {
        if (!a || a.dims.length < 2) return undefined;
        const m = a.size / k;
        return [new Tensor('float32', g.runResident(a.data as Float32Array, m, c.lo, c.hi).view, out!.shape as number[])];
      },
      bind({ ins: [ap], outs: [cp], inTypes: [at], scratch }) {
        const dims = at?.shape as number[] | undefined;
        if (ap === undefined || cp === undefined || ap < 0 || cp < 0 || !dims || dims.length < 2) return undefined;
        return g.bindAt(ap, dims.reduce((p, d) => p * d, 1) / k, cp, c.lo, c.hi, scratch);
      },
      dispose: () => g.dispose(),
    };
  },
};

/** Gemm(A, B, C) with transA = 0, constant pruned B (either transB) and constant C broadcast along rows. */
const gemmSparse: KernelDef = {
  op: 'Gemm',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const b = constant(1);
    const cT = node.inputs[2] ? constant(2) : undefined;
    const mem = sparseConfig.enabled ? arena() : undefined;
    if (!mem || !isF32Const(b) || b.dims.length !== 2 || types[0]?.dtype !== 'float32' || attrs.transA) return decline('sparse kernels off, or B is not a constant 2-D float32 with float32 A (no transA)');
    const [k, n] = (attrs.transB ? [b.dims[1], b.dims[0]] : b.dims) as [number, number];
    if (k === 0 || n === 0) return decline('empty weight');
    const alpha: number = attrs.alpha ?? 1;
    const bd = b.data as Float32Array;
    // alpha = 0 zeroes the product: "Y = alpha * A' * B' + beta * C" — leave that odd case to the dense kernel
    if (alpha === 0 || sparsityOf(bd) < sparseThreshold(staticRows(types[0].shape, 1))) return decline('alpha = 0 or B is not sparse enough for the sparse kernel');
    let bias: Float32Array | undefined;
    if (node.inputs[2]) {
      if (!isF32Const(cT)) return decline('C is not a constant float32');
      const beta: number = attrs.beta ?? 1;
      bias = gemmRowBias(cT.data as Float32Array, cT.dims, n, beta);
      if (!bias) return decline('C is a full M\u00d7N matrix, not a row bias'); // full M×N C: the dense kernel / reference handles it
    }
    const wt = new Float32Array(k * n);
    for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) wt[j * k + t] = alpha * (attrs.transB ? bd[j * k + t]! : bd[t * n + j]!);
    const g = new SparseGemmF32(mem, k, n, wt, bias, staticRows(types[0].shape, 1));
    const c = new Epilogue();
    return {
      name: 'f32_spmm',
      fuseClamp: c.fuseClamp,
      run([a], [out]) {
        const m = a!.dims[0]!;
        return [new Tensor('float32', g.runResident(a!.data as Float32Array, m, c.lo, c.hi).view, out!.shape as number[])];
      },
      bind({ ins: [ap], outs: [cp], inTypes: [at], scratch }) {
        const dims = at?.shape as number[] | undefined;
        if (ap === undefined || cp === undefined || ap < 0 || cp < 0 || !dims || dims.length !== 2) return undefined;
        return g.bindAt(ap, dims[0]!, cp, c.lo, c.hi, scratch);
      },
      dispose: () => g.dispose(),
    };
  },
};

/**
 * f32_spmm_nchw_32's split of a 1×1 conv's channels: input-channel ranges of SPMM_CHUNK channels (a 32-pixel tile of
 * one range, 32 · 4 · 64 = 8 KB, stays in L1 while the output channels read it) from SPMM_CHUNK_MIN input channels on,
 * and then output-channel blocks of SPMM_BLOCK (the block's partial sums between ranges, 64 · 128 = 8 KB, stay in L1).
 * bench/sparse.bench.js's 1×1 NCHW section (one range vs this split, same bits; loaded 2-vCPU machine, 2026-12-07):
 * 192×1152 at 14×14 16.6 → 23.3 GFLOP/s of non-zero work, 96×384 at 6×6 19.4 → 23.7, 64×128 at 24×24 22.4 → 25.1;
 * ranges of 128 or 192 channels gained less, 32 no more than 64.
 */
export const SPMM_CHUNK = 64;
export const SPMM_CHUNK_MIN = 128;
export const SPMM_BLOCK = 64;

/**
 * One group of a sparse 1×1 conv in XNNPACK's SpMM layout for f32_spmm_nchw_32: the weight stream (output-channel
 * block after block, in a block input-channel range after range, per output channel its non-zero weights from that
 * range, the bias first in the first range), the counts in the same order and the input-pointer increments between
 * consecutive non-zero weights' channel rows. The increments are bytes, so they depend on the pixel count p; they
 * are rewritten when a run brings another p (symbolic spatial dims).
 */
export class SpmmNchw {
  readonly wts: number;
  readonly nnzp: number;
  readonly dmap: number;
  /** input-channel ranges and output channels per block (f32_spmm_nchw_32's chunks, nb) */
  readonly chunks: number;
  readonly nb: number;
  /** stored (non-zero) weights */
  readonly nnz: number;
  private readonly chans: Int32Array;
  private p = -1;
  constructor(
    private readonly mem: Arena,
    w: Float32Array,
    off: number,
    n: number,
    k: number,
    bias: Float32Array | undefined,
    boff: number,
  ) {
    let nnz = 0;
    for (let i = 0; i < n * k; i++) if (w[off + i] !== 0) nnz++;
    this.nnz = nnz;
    const { chunk, chunkMin, block } = sparseConvConfig;
    const chunks = (this.chunks = k < chunkMin ? 1 : Math.ceil(k / chunk));
    const nb = (this.nb = chunks > 1 ? Math.max(1, Math.min(n, block)) : Math.max(n, 1));
    this.chans = new Int32Array(nnz);
    this.wts = mem.alloc((n + nnz) * 4, 'sparse conv weights');
    this.nnzp = mem.alloc(Math.max(n * chunks, 1) * 4, 'sparse conv counts');
    this.dmap = mem.alloc(Math.max(nnz, 1) * 4, 'sparse conv increments');
    const wv = mem.f32(this.wts, n + nnz);
    const cnt = i32(mem, this.nnzp, n * chunks);
    let e = 0;
    let q = 0;
    let ci = 0;
    for (let j0 = 0; j0 < n; j0 += nb)
      for (let c = 0; c < chunks; c++) {
        // range c: input channels [t0, t1), balanced
        const t0 = Math.floor((c * k) / chunks);
        const t1 = Math.floor(((c + 1) * k) / chunks);
        for (let j = j0; j < Math.min(n, j0 + nb); j++) {
          if (c === 0) wv[q++] = bias ? bias[boff + j]! : 0;
          let m = 0;
          for (let t = t0; t < t1; t++) {
            const v = w[off + j * k + t]!;
            if (v === 0) continue;
            wv[q++] = v;
            this.chans[e++] = t;
            m++;
          }
          cnt[ci++] = m;
        }
      }
  }
  /** byte offset of the first non-zero weight's input row for `p` pixels (the increments rewritten for `p`) */
  first(p: number): number {
    const ch = this.chans;
    if (p !== this.p) {
      const d = i32(this.mem, this.dmap, Math.max(ch.length, 1));
      for (let e = 0; e < ch.length; e++) d[e] = (ch[(e + 1) % ch.length]! - ch[e]!) * p * 4;
      this.p = p;
    }
    return ch.length ? ch[0]! * p * 4 : 0;
  }
  dispose(): void {
    this.mem.release(this.dmap);
    this.mem.release(this.nnzp);
    this.mem.release(this.wts);
  }
}

/**
 * Conv2D NCHW float32 with a constant pruned weight, any group count except depthwise (which the dense
 * direct kernel keeps): per group out[Mg×P] = W[Mg×K] · cols[K×P] + bias with W in scalar CSR and cols in
 * the 8-column panels of f32_im2col_pack_8. A 1×1 stride-1 unpadded conv instead runs f32_spmm_nchw_32 straight on
 * the NCHW input rows (XNNPACK's SpMM: 32-pixel tiles, no packing); face_detection_full_range_sparse's 46 sparse
 * 1×1 convs: the whole model 11.70 → 10.41 ms in Node (fastest of 150 alternated runs each, loaded machine). Its
 * pixels split over kernel threads at multiples of 32 (bit-identical to one thread).
 */
/**
 * Conv path switches (benchmarks and tests compare them): direct sparse conv vs im2col + CSR; the 1×1 NCHW SpMM; its
 * channel split (SPMM_CHUNK, SPMM_CHUNK_MIN, SPMM_BLOCK; tests force small ones). Read when a node is prepared.
 */
export const sparseConvConfig: { direct: 'auto' | 'always' | 'never'; nchw: boolean; chunk: number; chunkMin: number; block: number } = {
  direct: 'auto',
  nchw: true,
  chunk: SPMM_CHUNK,
  chunkMin: SPMM_CHUNK_MIN,
  block: SPMM_BLOCK,
};

const convSparse: KernelDef = {
  op: 'Conv',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const w = constant(1);
    const b = node.inputs[2] ? constant(2) : undefined;
    const mem = sparseConfig.enabled ? arena() : undefined;
    const ex = kernels();
    const x = types[0];
    if (!mem || !ex || !w || w.type !== 'float32' || w.dims.length !== 4 || x?.dtype !== 'float32') return decline('sparse kernels off, or W is not a constant 4-D float32 with float32 X');
    if (x.shape && x.shape.length !== 4) return decline('only 2-D convs (X rank is not 4)');
    if (node.inputs[2] && (!b || b.type !== 'float32')) return decline('bias is not a constant float32');
    const group: number = attrs.group ?? 1;
    const [m, cg, kh, kw] = w.dims as [number, number, number, number];
    if (m % group !== 0 || m === 0) return decline('output channels not divisible by group');
    const mg = m / group;
    const kg = cg * kh * kw;
    if (cg === 1 && mg === 1) return decline('depthwise conv: the dense direct kernel takes it'); // depthwise: direct dense kernel
    const wd = w.data as Float32Array;
    const sparsity = sparsityOf(wd);
    const cs = convF32Shape(w.dims, attrs);
    const [ih, iw] = [x.shape?.[2], x.shape?.[3]];
    const { oh, ow } = typeof ih === 'number' && typeof iw === 'number' ? conv2dAt(ih, iw, kh, kw, attrs) : { oh: 56, ow: 56 };
    const wino = !!cs && winogradShape(cs) && winogradWins(cg, m, oh, ow);
    if (sparsity < (sparseConfig.force ? 0 : wino ? SPARSE_MIN_CONV_WINOGRAD : SPARSE_MIN_CONV)) return decline('W is not sparse enough for the sparse kernel');
    const [sh, sw] = (attrs.strides as number[] | undefined) ?? [1, 1];
    const [dh, dw] = (attrs.dilations as number[] | undefined) ?? [1, 1];
    // direct (no im2col) for stride-1 convs from SPARSE_DIRECT_CONV on; never for a plain 1×1 (its "im2col" is a
    // copy) or width strides without a SIMD path
    const mode = sparseConvConfig.direct;
    const canDirect = (kh * kw > 1 || sh !== 1 || sw !== 1) && (sw === 1 || sw === 2);
    const direct = canDirect && (mode === 'always' || (mode === 'auto' && sh === 1 && sw === 1 && sparsity >= SPARSE_DIRECT_CONV));
    const csr: CsrBlock[] = [];
    const nchw: SpmmNchw[] = [];
    // 1×1, stride 1, no padding: the NCHW SpMM (its "im2col" would be a copy)
    const pw1x1 = sparseConvConfig.nchw && !direct && kh === 1 && kw === 1 && sh === 1 && sw === 1 && !(attrs.pads as number[] | undefined)?.some((v) => v !== 0);
    let eptr = 0;
    let ent = 0;
    if (direct) {
      // per filter j: its non-zero taps as (absolute input channel, ky·dh, kx·dw, weight)
      let nnz = 0;
      for (let i = 0; i < wd.length; i++) if (wd[i] !== 0) nnz++;
      eptr = mem.alloc((m + 1) * 4, 'sparse conv filter ptr');
      ent = mem.alloc(nnz * 16, 'sparse conv taps');
      const ep = i32(mem, eptr, m + 1);
      const ei = i32(mem, ent, nnz * 4);
      const ef = mem.f32(ent, nnz * 4);
      let e = 0;
      ep[0] = 0;
      for (let j = 0; j < m; j++) {
        const gi = Math.floor(j / mg);
        for (let cl = 0; cl < cg; cl++)
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const v = wd[((j * cg + cl) * kh + ky) * kw + kx]!;
              if (v === 0) continue;
              ei[e * 4] = gi * cg + cl;
              ei[e * 4 + 1] = ky * dh!;
              ei[e * 4 + 2] = kx * dw!;
              ef[e * 4 + 3] = v;
              e++;
            }
        ep[j + 1] = e;
      }
    } else if (pw1x1) {
      for (let gi = 0; gi < group; gi++) nchw.push(new SpmmNchw(mem, wd, gi * mg * kg, mg, kg, b?.data as Float32Array | undefined, gi * mg));
    } else for (let gi = 0; gi < group; gi++) csr.push(new CsrBlock(mem, wd, gi * mg * kg, mg, kg));
    const bp = mem.alloc(m * 4, 'conv bias');
    mem.f32(bp, m).set(b ? (b.data as Float32Array) : new Float32Array(m));
    const c = new Epilogue();
    // a folded residual Add (1×1 NCHW path only): its tensor arrives after the node's own inputs
    let residual = -1;
    /** the im2col + CSR path's column panels for p output pixels */
    const colBytes = (p: number) => ((p + 7) >> 3) * (kg + 1) * 32;
    /** X (NCHW `dims`) at xp → Y at op; rp the residual (pw1x1, 0: none), cp the column scratch (im2col path) */
    const convAt = (xp: number, dims: readonly number[], op: number, rp: number, cp: number): void => {
      const [n, ch, ih, iw] = dims as [number, number, number, number];
      const { oh, ow, pt, pl, p, pointwise } = conv2dAt(ih, iw, kh, kw, attrs);
      const inSize = ch * ih * iw;
      if (direct) {
        for (let bi = 0; bi < n; bi++) ex.f32_spconv2d(xp + bi * inSize * 4, ih, iw, m, eptr, ent, sh!, sw!, pt, pl, oh, ow, bp, op + bi * m * p * 4, c.lo, c.hi);
        return;
      }
      if (pw1x1) {
        for (let bi = 0; bi < n; bi++)
          for (let gi = 0; gi < group; gi++) {
            const s = nchw[gi]!;
            const xg = xp + (bi * inSize + gi * cg * p) * 4 + s.first(p);
            const o = (bi * m + gi * mg) * p * 4;
            const ro = rp ? rp + o : 0;
            // kernel threads: shares of the pixels cut at multiples of 32 (the kernel sums every pixel in one order
            // whichever tile holds it, so the bits do not depend on the split); the fork kept per group of one image
            const nt = threadsFor(s.nnz * p);
            if (nt > 1)
              forkCached(ex, n === 1 ? s : undefined, [xg, op + o, ro, p, c.lo, c.hi], nt, () => {
                const cols = chunksOf(p, 32, nt, s.nnz);
                const call = ([q0, q1]: [number, number]): KernelCall[] => [['f32_spmm_nchw_32', [p, q0, q1, mg, xg, s.wts, s.dmap, s.nnzp, op + o, c.lo, c.hi, ro, s.chunks, s.nb]]];
                return { chunks: cols.ranges.map(call), regions: cols.regions };
              });
            else ex.f32_spmm_nchw_32(p, 0, p, mg, xg, s.wts, s.dmap, s.nnzp, op + o, c.lo, c.hi, ro, s.chunks, s.nb);
          }
        return;
      }
      for (let bi = 0; bi < n; bi++) {
        const xb = xp + bi * inSize * 4;
        const ob = op + bi * m * p * 4;
        for (let gi = 0; gi < group; gi++) {
          const xg = xb + gi * cg * ih * iw * 4;
          if (pointwise) ex.f32_gemm_pack_8(p, cg, xg, p, 0, cp);
          else im2colPack(mem, ex, xg, cg, ih, iw, kh, kw, sh!, sw!, dh!, dw!, pt, pl, oh, ow, cp);
          const s = csr[gi]!;
          ex.f32_spmm_csr_8(mg, p, cp + 32, (kg + 1) * 32, s.rowptr, s.kidx, s.vals, bp + gi * mg * 4, ob + gi * mg * p * 4, p, 1, c.lo, c.hi);
        }
      }
    };
    return {
      name: direct ? 'f32_spconv2d' : 'f32_spmm_conv2d',
      fuseClamp: c.fuseClamp,
      fuseResidual: pw1x1
        ? (prefix) => {
            if (!c.empty || prefix) return false; // a clamp or step already fused runs before the add
            residual = node.inputs.length;
            return true;
          }
        : undefined,
      run(ins, [outType]) {
        const input = ins[0];
        // the residual's place in kernel memory before anything here allocates (a grown memory detaches old views)
        const rt = residual >= 0 ? ins[residual] : undefined;
        const rRes = rt ? mem.ptrOf(rt) : undefined;
        const xt = input!;
        const [n, , ih, iw] = xt.dims as [number, number, number, number];
        const { p } = conv2dAt(ih, iw, kh, kw, attrs);
        if (rt && pw1x1 && rt.size !== n * m * p) throw new ShapeError(`node '${node.name}': residual of ${rt.size} values for an output of ${n * m * p}`);
        const xin = mem.input(xt.data as Float32Array, 'conv input');
        const op = mem.alloc(n * m * p * 4, 'conv output');
        let cp = 0;
        let ok = false;
        let rin: { ptr: number; copied: boolean } | undefined;
        try {
          rin = rt && pw1x1 ? (rRes !== undefined ? { ptr: rRes, copied: false } : mem.input(rt.data as Float32Array, 'conv residual')) : undefined;
          if (!direct && !pw1x1) cp = mem.alloc(colBytes(p), 'conv columns');
          convAt(xin.ptr, xt.dims, op, rin ? rin.ptr : 0, cp);
          ok = true;
          return [new Tensor('float32', mem.f32(op, n * m * p), outType!.shape as number[])];
        } finally {
          if (cp) mem.release(cp);
          if (!ok) mem.release(op);
          if (xin.copied) mem.release(xin.ptr);
          if (rin?.copied) mem.release(rin.ptr);
        }
      },
      // static plan: convAt on fixed places, the column scratch held
      bind({ ins, inTypes, outs: [yp], outTypes: [ot], scratch }) {
        const dims = inTypes[0]!.shape as number[];
        const rp = residual >= 0 ? ins[residual]! : 0;
        const total = (ot!.shape as number[]).reduce((a, d) => a * d, 1);
        if (ins[0]! < 0 || yp! < 0 || rp < 0 || dims.length !== 4 || (residual >= 0 && (!pw1x1 || (inTypes[residual]!.shape as number[]).reduce((a, d) => a * d, 1) !== total))) return undefined;
        const { p } = conv2dAt(dims[2]!, dims[3]!, kh, kw, attrs);
        const cp = !direct && !pw1x1 ? scratch(colBytes(p), 'conv columns') : 0;
        return () => convAt(ins[0]!, dims, yp!, rp, cp);
      },
      dispose() {
        for (const s of csr) s.dispose();
        for (const s of nchw) s.dispose();
        if (direct) {
          mem.release(ent);
          mem.release(eptr);
        }
        mem.release(bp);
      },
    };
  },
};

// ---------------------------------------------------------------- int8: MatMulInteger / QLinearMatMul

/**
 * Int8/uint8 MatMul with a constant 2-D B and constant b_zero_point: W' = B − b_zp in 1×4 blocked CSR of
 * i32 (i32_spmm_1x4); A − a_zp is widened to i32 per run. int32 accumulation wraps exactly like the
 * reference (src/ops/quant.ts matmulInt), so results are bit-identical. Sparsity = fraction of B == b_zp.
 * Against the dense int8 WASM GEMM (qs8_gemm_4x8c2, src/kernels/qlinear.ts: packed int8, 16-bit dot products) this
 * i32 path only wins at extreme sparsity and few rows (bench: 1×1024×1024 and 4×1024×1024 ≥ 0.95, 1.1–1.3×;
 * 64×400×120 never, 0.88× at 0.95), so the plan takes a node only from SPARSE_MIN_INT8 with < INT8_MAX_ROWS
 * static rows. It still handles what the dense kernel leaves to the reference (per-row a_scale / a_zero_point).
 */
export const SPARSE_MIN_INT8 = 0.95;
/** int8 sparse only for few static rows: at 64 rows it lost even at 0.95 (0.88×). */
export const INT8_MAX_ROWS = 8;

function int8Rows(shape: readonly (number | string)[] | undefined): boolean {
  if (sparseConfig.force) return true;
  const m = staticRows(shape, 1);
  return m !== undefined && m < INT8_MAX_ROWS;
}

const ints = (t: TensorT): ArrayLike<number> => t.data as unknown as ArrayLike<number>;
const Q8 = (d: DType | undefined) => d === 'int8' || d === 'uint8';

export class SparseMatMulInt {
  private readonly bptr: number;
  private readonly bkidx: number;
  private readonly bvals: number;
  readonly blocks: number;
  constructor(
    private readonly mem: Arena,
    readonly k: number,
    readonly n: number,
    w: Int32Array, // K×N, zero point already subtracted
  ) {
    const nb = (n + 3) >> 2;
    const rowAny = (b: number, t: number) => {
      for (let j = 4 * b; j < Math.min(n, 4 * b + 4); j++) if (w[t * n + j] !== 0) return true;
      return false;
    };
    let blocks = 0;
    for (let b = 0; b < nb; b++) for (let t = 0; t < k; t++) if (rowAny(b, t)) blocks++;
    this.blocks = blocks;
    this.bptr = mem.alloc((nb + 1) * 4, 'sparse int block ptr');
    this.bkidx = mem.alloc(blocks * 4, 'sparse int block indices');
    this.bvals = mem.alloc(blocks * 16, 'sparse int block values');
    const bp = i32(mem, this.bptr, nb + 1);
    const bk = i32(mem, this.bkidx, blocks);
    const bv = i32(mem, this.bvals, blocks * 4);
    let e = 0;
    bp[0] = 0;
    for (let b = 0; b < nb; b++) {
      for (let t = 0; t < k; t++) {
        if (!rowAny(b, t)) continue;
        bk[e] = t * 4;
        for (let j = 4 * b; j < 4 * b + 4; j++) bv[e * 4 + j - 4 * b] = j < n ? w[t * n + j]! : 0;
        e++;
      }
      bp[b + 1] = e;
    }
  }

  /** C[m×n] (i32, resident: the caller releases `ptr`) = (A − a_zp) · W'; a_zp per tensor or per row (mod M). */
  run(a: TensorT, azp: ArrayLike<number> | undefined): { ptr: number; m: number } {
    const ex = kernels()!;
    const { k, n, mem } = this;
    const m = a.size / k;
    const rowsM = a.dims[a.dims.length - 2]!;
    const ap = mem.alloc(m * k * 4, 'sparse int input');
    let cp = 0;
    try {
      const a2 = i32(mem, ap, m * k);
      const av = ints(a);
      for (let r = 0; r < m; r++) {
        const z = azp ? (azp.length === 1 ? azp[0]! : azp[r % rowsM]!) : 0;
        for (let t = 0; t < k; t++) a2[r * k + t] = av[r * k + t]! - z;
      }
      cp = mem.alloc(m * n * 4, 'sparse int output');
      ex.i32_spmm_1x4(m, n, ap, k, this.bptr, this.bkidx, this.bvals, cp, n);
    } finally {
      mem.release(ap);
    }
    return { ptr: cp, m };
  }

  dispose(): void {
    this.mem.release(this.bvals);
    this.mem.release(this.bkidx);
    this.mem.release(this.bptr);
  }
}

/** W' = B − b_zp (per tensor or per column) of a constant 2-D int8/uint8 B, or undefined if not applicable. */
function intWeight(b: TensorT | undefined, bzp: TensorT | undefined | null): Int32Array | undefined {
  if (!b || !Q8(b.type) || b.dims.length !== 2 || bzp === null) return undefined;
  const [k, n] = b.dims as [number, number];
  if (k === 0 || n === 0) return undefined;
  const z = bzp ? ints(bzp) : undefined;
  if (z && z.length !== 1 && z.length !== n) return undefined;
  const bv = ints(b);
  const w = new Int32Array(k * n);
  for (let i = 0; i < w.length; i++) w[i] = bv[i]! - (z ? (z.length === 1 ? z[0]! : z[i % n]!) : 0);
  return w;
}

function zeroFraction(w: Int32Array): number {
  let z = 0;
  for (let i = 0; i < w.length; i++) if (w[i] === 0) z++;
  return z / w.length;
}

const matmulIntegerSparse: KernelDef = {
  op: 'MatMulInteger',
  backend: 'wasm',
  prepare(node, _attrs, types, constant) {
    const mem = sparseConfig.enabled ? arena() : undefined;
    if (!mem || !Q8(types[0]?.dtype) || (types[0]!.shape && types[0]!.shape.length < 2)) return decline('sparse kernels off, or A is not 8-bit of rank >= 2');
    if (!int8Rows(types[0]!.shape)) return decline("A's row count is not static");
    const w = intWeight(constant(1), node.inputs[3] ? (constant(3) ?? null) : undefined);
    if (!w || zeroFraction(w) < (sparseConfig.force ? 0 : SPARSE_MIN_INT8)) return decline('B is not a sparse constant 8-bit weight');
    const [k, n] = constant(1)!.dims as [number, number];
    const g = new SparseMatMulInt(mem, k, n, w);
    return {
      name: 'i32_spmm_1x4',
      run([a, , azp], [out]) {
        if (!a || a.dims.length < 2) return undefined;
        const { ptr, m } = g.run(a, azp && ints(azp));
        return [new Tensor('int32', new Int32Array(mem.buffer, ptr, m * n), out!.shape as number[])];
      },
      dispose: () => g.dispose(),
    };
  },
};

/** Round to the precision of the scales' dtype (as the reference QLinearMatMul does). */
function rounder(dtype: DType): (v: number) => number {
  if (dtype === 'float64') return (v) => v;
  if (dtype === 'float16') return (v) => f16ToF32(f32ToF16(v));
  return Math.fround;
}

const qlinearMatmulSparse: KernelDef = {
  op: 'QLinearMatMul',
  backend: 'wasm',
  prepare(_node, _attrs, types, constant) {
    const mem = sparseConfig.enabled ? arena() : undefined;
    if (!mem || !Q8(types[0]?.dtype) || (types[0]!.shape && types[0]!.shape.length < 2)) return decline('sparse kernels off, or A is not 8-bit of rank >= 2');
    if (!int8Rows(types[0]!.shape)) return decline("A's row count is not static");
    const w = intWeight(constant(3), constant(5) ?? null);
    if (!w || zeroFraction(w) < (sparseConfig.force ? 0 : SPARSE_MIN_INT8)) return decline('B is not a sparse constant 8-bit weight');
    const [k, n] = constant(3)!.dims as [number, number];
    const g = new SparseMatMulInt(mem, k, n, w);
    return {
      name: 'i32_spmm_1x4',
      run([a, as, azp, , bs, , ys, yzp], [out]) {
        if (!a || a.dims.length < 2) return undefined;
        const rowsM = a.dims[a.dims.length - 2]!;
        const { ptr, m } = g.run(a, ints(azp!));
        try {
          const c = i32(mem, ptr, m * n);
          const dt = out!.dtype;
          const rd = rounder(as!.type);
          const asv = floats(as!);
          const bsv = floats(bs!);
          const ysv = rd(floats(ys!)[0]!);
          const zp = ints(yzp!)[0]!;
          const [lo, hi] = QRANGE[dt]!;
          // multiplier[i][j] = a_scale[i] · b_scale[j] / y_scale, in the scales' precision (as the reference)
          const mult = new Float64Array(rowsM * n);
          for (let i = 0; i < rowsM; i++)
            for (let j = 0; j < n; j++) mult[i * n + j] = rd(rd(rd(asv[asv.length === 1 ? 0 : i]!) * rd(bsv[bsv.length === 1 ? 0 : j]!)) / ysv);
          const y = Tensor.zeros(dt, out!.shape as number[]);
          const yd = y.data as unknown as number[];
          const mn = rowsM * n;
          // y = saturate(round_half_even(C · multiplier) + y_zero_point)
          for (let i = 0; i < c.length; i++) yd[i] = saturate(roundHalfToEven(c[i]! * mult[i % mn]!) + zp, lo, hi);
          return [y];
        } finally {
          mem.release(ptr);
        }
      },
      dispose: () => g.dispose(),
    };
  },
};

registerKernel(matmulIntegerSparse);
registerKernel(qlinearMatmulSparse);
registerKernel(matmulSparse);
registerKernel(gemmSparse);
registerKernel(convSparse);
