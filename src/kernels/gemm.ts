import { gemmRowBias } from './gemm-bias.js';
import { Epilogue } from './epilogue.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import { type KernelCall, chunksOf, f32GemmThreaded, forkRanges, gemmSplit, threadsFor } from './threads.js';
import { type Arena, type KernelExports, arena, kernels } from './wasm.js';
import { type BindArgs, type KernelDef, type Producer, decline, registerKernel } from './registry.js';

/**
 * C[m×n] = clamp(A[m×k] · W + bias) over W packed at `w` (f32_gemm_pack_8 panels), no per-row bias. With m ≥ 2, A is
 * first packed into 4-row strips (f32_gemm_pack_a4: m·k floats of scratch, a small cost beside m·n·k) and
 * f32_gemm_pa runs the 4×8 tiles from one A pointer — the same products in the same order as f32_gemm (C bit-identical),
 * ~1.4× f32_gemm's speed at transformer shapes (bench/gemm.bench.js). Threads split it like f32GemmThreaded (8-column
 * panels, or 4-row strips of the packed A when there are few panels); m = 1 stays f32_gemm's GEMV.
 */
export function f32GemmPackedA(ex: KernelExports, mem: Arena, m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number, scratch?: number): void {
  if (m < 2) return f32GemmThreaded(ex, m, n, k, a, lda, w, c, ldc, lo, hi, 0);
  // `scratch`: ex.f32_gemm_pa_scratch(m, k) bytes the caller holds (a static plan's bound call), else taken here
  const sp = scratch ?? mem.alloc(ex.f32_gemm_pa_scratch(m, k), 'gemm packed A');
  try {
    ex.f32_gemm_pack_a4(m, k, a, lda, sp);
    const nt = threadsFor(m * n * k);
    if (nt <= 1) return ex.f32_gemm_pa(m, n, k, sp, w, c, ldc, lo, hi, 0);
    if (gemmSplit(m, n, nt) === 'rows') {
      const rows = chunksOf(m, 4, nt, 4 * n * k);
      return forkRanges(ex, rows, nt, (r0, r1): KernelCall[] => [['f32_gemm_pa', [r1 - r0, n, k, sp + r0 * k * 4, w, c + r0 * ldc * 4, ldc, lo, hi, 0]]]);
    }
    const panel = (k + 1) * 32;
    const cols = chunksOf(n, 8, nt, m * k);
    forkRanges(ex, cols, nt, (c0, c1): KernelCall[] => [['f32_gemm_pa', [m, c1 - c0, k, sp, w + (c0 >> 3) * panel, c + c0 * 4, ldc, lo, hi, 0]]]);
  } finally {
    if (scratch === undefined) mem.release(sp);
  }
}

/**
 * f32 GEMM against a constant weight packed once into WASM memory (f32_gemm_pack_8 panels).
 * `w` is K×N row-major; `bias` has N entries or is undefined.
 */
export class PackedGemmF32 {
  readonly packed: number;
  constructor(
    private readonly mem: Arena,
    readonly k: number,
    readonly n: number,
    w: Float32Array,
    bias?: Float32Array,
  ) {
    const ex = kernels()!;
    // the packed panels persist for the session; the row-major staging copies above them are freed at once
    this.packed = mem.alloc(ex.f32_gemm_packed_size_8(n, k), 'packed gemm weight');
    const wp = mem.alloc(w.length * 4, 'gemm weight');
    mem.f32(wp, w.length).set(w);
    let bp = 0;
    if (bias) {
      bp = mem.alloc(n * 4, 'gemm bias');
      mem.f32(bp, n).set(bias);
    }
    ex.f32_gemm_pack_8(n, k, wp, n, bp, this.packed);
    if (bp) mem.release(bp);
    mem.release(wp);
  }

  /**
   * C[m×n] = A[m×k] · W + bias, clamped to [lo, hi], as a view into kernel memory that the caller must
   * `mem.release(ptr)` (the executor's residency does). A may itself be a resident view (no copy in).
   */
  runResident(a: Float32Array, m: number, lo = -Infinity, hi = Infinity): { view: Float32Array; ptr: number } {
    const ex = kernels()!;
    const ain = this.mem.input(a.subarray(0, m * this.k), 'gemm input');
    const cp = this.mem.alloc(m * this.n * 4, 'gemm output');
    f32GemmPackedA(ex, this.mem, m, this.n, this.k, ain.ptr, this.k, this.packed, cp, this.n, lo, hi);
    if (ain.copied) this.mem.release(ain.ptr);
    return { view: this.mem.f32(cp, m * this.n), ptr: cp };
  }

  /**
   * The call computing C[m×n] = clamp(A · W + bias) from A at byte offset `a` into `c` (a static plan's bound step):
   * the same kernels as runResident, with its packed-A scratch held from `scratch` instead of taken per call.
   */
  bind(m: number, a: number, c: number, lo: number, hi: number, scratch: (bytes: number, what: string) => number): () => void {
    const ex = kernels()!;
    const { mem, n, k, packed } = this;
    const sp = m < 2 ? undefined : scratch(ex.f32_gemm_pa_scratch(m, k), 'gemm packed A');
    return () => f32GemmPackedA(ex, mem, m, n, k, a, k, packed, c, n, lo, hi, sp);
  }

  /** C[m×n] = A[m×k] · W + bias, clamped to [lo, hi], copied out to JS memory. */
  run(a: Float32Array, m: number, lo = -Infinity, hi = Infinity): Float32Array {
    const ex = kernels()!;
    const ap = this.mem.alloc(m * this.k * 4, 'gemm input');
    const cp = this.mem.alloc(m * this.n * 4, 'gemm output');
    try {
      this.mem.f32(ap, m * this.k).set(a.subarray(0, m * this.k));
      f32GemmPackedA(ex, this.mem, m, this.n, this.k, ap, this.k, this.packed, cp, this.n, lo, hi);
      return this.mem.f32(cp, m * this.n).slice();
    } finally {
      this.mem.release(cp);
      this.mem.release(ap);
    }
  }

  /** Free the packed weights (session release). */
  dispose(): void {
    this.mem.release(this.packed);
  }
}

const isF32Const = (t: TensorT | undefined): t is TensorT => !!t && t.type === 'float32';

/**
 * The constant weight behind MatMul's B: the initializer itself, or one reaching it through an Identity (PyTorch
 * exports shared weights so) or a 2-D Transpose of an initializer (transposed once here). The canonicalize pass folds
 * these in general; this keeps the weight packed when the plan sees the unfolded graph.
 */
function weightOf(constant: (i: number) => TensorT | undefined, producer?: (i: number) => Producer | undefined): TensorT | undefined {
  const b = constant(1);
  if (b) return b;
  const p = producer?.(1);
  if (!p || p.node.domain !== '') return undefined;
  const x = p.constant(0);
  if (p.node.op === 'Identity') return x;
  if (p.node.op === 'Transpose' && x?.type === 'float32' && x.dims.length === 2) {
    const perm = p.attrs.perm as number[] | undefined;
    if (perm && !(perm[0] === 1 && perm[1] === 0)) return undefined;
    const [r, c] = x.dims as [number, number];
    const src = x.data as Float32Array;
    const t = new Float32Array(r * c);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = src[i * c + j]!;
    return new Tensor('float32', t, [c, r]);
  }
  return undefined;
}

/** MatMul(A, B) with constant 2-D float32 B: rows of A (all leading dims flattened) times packed B. */
const matmulWasm: KernelDef = {
  op: 'MatMul',
  backend: 'wasm',
  prepare(node, _attrs, types, constant, producer) {
    const b = weightOf(constant, producer);
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    if (!isF32Const(b)) return decline(b ? `B is a constant ${(b as TensorT).type}, not float32` : 'B is not a constant (activation × activation)');
    if (b.dims.length !== 2) return decline(`B is ${b.dims.length}-D, the kernel takes a 2-D weight`);
    if (types[0]?.dtype !== 'float32') return decline(`A is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    if (types[0].shape && types[0].shape.length < 2) return decline('A is 1-D'); // leave to the reference
    const [k, n] = b.dims as [number, number];
    let g = new PackedGemmF32(mem, k, n, b.data as Float32Array);
    const epi = new Epilogue();
    let clamped = false;
    // a residual Add folded in (fuseResidual): its input index; r is added over the output block before any clamp
    let residual = -1;
    return {
      name: 'f32_gemm_4x8',
      fuseClamp: (lo, hi) => epi.fuseClamp(lo, hi) && (clamped = true),
      fusePost: (op, attrs) => epi.fusePost(op, attrs) && (clamped = true),
      // Add(bias, MatMul(x, W)) as PyTorch exports nn.Linear: the bias goes into the packed panels (added in the
      // micro-kernel), so the output block is written once; only before any clamp/activation (they act on x·W + bias)
      fuseBias(bias) {
        if (clamped || residual >= 0 || bias.length !== n) return false;
        const biased = new PackedGemmF32(mem, k, n, b.data as Float32Array, bias);
        g.dispose();
        g = biased;
        return true;
      },
      // the transformer residual x + Linear(h) (after the bias): added over the output block in one f32_binary pass
      // instead of an Add node; the shapes may agree only by symbol ([batch, seq, d]), so run() checks them
      fuseResidual: (prefix) => {
        // a prefix residual (a zero-tail Pad's input) would need the Pad to run when the dims differ at run time
        if (clamped || prefix) return false;
        residual = node.inputs.length;
        return true;
      },
      run(ins, [out]) {
        const a = ins[0];
        if (!a || a.dims.length < 2) return undefined;
        const shape = out!.shape as number[];
        const r = residual >= 0 ? ins[residual] : undefined;
        if (r && (r.type !== 'float32' || r.dims.length !== shape.length || r.dims.some((d, i) => d !== shape[i]))) return undefined;
        const m = a.size / k;
        // the residual's place in kernel memory, taken before anything here allocates (a grown memory detaches views)
        const rp = r ? mem.ptrOf(r) : undefined;
        const { ptr: yp } = g.runResident(a.data as Float32Array, m, r ? -Infinity : epi.lo, r ? Infinity : epi.hi);
        if (r) {
          const rin = rp !== undefined ? { ptr: rp, copied: false } : mem.input(r.data as Float32Array, 'matmul residual');
          kernels()!.f32_binary(0, yp, 1, rin.ptr, 1, yp, m * n, epi.lo, epi.hi);
          if (rin.copied) mem.release(rin.ptr);
        }
        const y = mem.f32(yp, m * n);
        epi.apply(y);
        return [new Tensor('float32', y, shape)];
      },
      bind({ ins, inTypes, outs: [yp], outTypes: [out], scratch }) {
        const [ap, a] = [ins[0]!, inTypes[0]?.shape as number[] | undefined];
        const shape = out!.shape as number[];
        if (ap < 0 || yp! < 0 || !a || a.length < 2) return undefined;
        const m = a.reduce((x, d) => x * d, 1) / k;
        const rp = residual >= 0 ? ins[residual]! : -1;
        const rs = residual >= 0 ? (inTypes[residual]?.shape as number[] | undefined) : undefined;
        if (residual >= 0 && (rp < 0 || inTypes[residual]?.dtype !== 'float32' || !rs || rs.length !== shape.length || rs.some((d, i) => d !== shape[i]))) return undefined;
        const ex = kernels()!;
        const gemm = g.bind(m, ap, yp!, rp >= 0 ? -Infinity : epi.lo, rp >= 0 ? Infinity : epi.hi, scratch);
        const [lo, hi] = [epi.lo, epi.hi];
        return () => {
          gemm();
          if (rp >= 0) ex.f32_binary(0, yp!, 1, rp, 1, yp!, m * n, lo, hi);
          epi.applyAt(yp!, m * n);
        };
      },
      dispose: () => g.dispose(),
    };
  },
};

/** Gemm(A, B, C) with transA = 0, constant B (either transB) and constant C broadcast along rows. */
const gemmWasm: KernelDef = {
  op: 'Gemm',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const b = constant(1);
    const c = node.inputs[2] ? constant(2) : undefined;
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    if (!isF32Const(b)) return decline(b ? `B is a constant ${(b as TensorT).type}, not float32` : 'B is not a constant');
    if (b.dims.length !== 2 || types[0]?.dtype !== 'float32') return decline(`needs float32 A and 2-D B (A ${types[0]?.dtype}, B ${b.dims.length}-D)`);
    if (attrs.transA) return decline('transA = 1');
    const [k, n] = (attrs.transB ? [b.dims[1], b.dims[0]] : b.dims) as [number, number];
    const w = new Float32Array(k * n);
    const bd = b.data as Float32Array;
    const alpha = attrs.alpha ?? 1;
    for (let kk = 0; kk < k; kk++) for (let j = 0; j < n; j++) w[kk * n + j] = alpha * (attrs.transB ? bd[j * k + kk]! : bd[kk * n + j]!);
    let bias: Float32Array | undefined;
    if (node.inputs[2]) {
      if (!isF32Const(c)) return decline('C is not a float32 constant');
      const beta = attrs.beta ?? 1;
      bias = gemmRowBias(c.data as Float32Array, c.dims, n, beta);
      if (!bias) return decline(`C [${c.dims.join(',')}] is not broadcast along rows`); // full M×N C: reference handles it
    }
    const g = new PackedGemmF32(mem, k, n, w, bias);
    const epi = new Epilogue();
    return {
      name: 'f32_gemm_4x8',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      run([a], [out]) {
        const m = a!.dims[0]!;
        const y = g.runResident(a!.data as Float32Array, m, epi.lo, epi.hi).view;
        epi.apply(y);
        return [new Tensor('float32', y, out!.shape as number[])];
      },
      bind({ ins: [ap], inTypes: [a], outs: [yp], scratch }) {
        const m = a?.shape?.[0] as number | undefined;
        if (ap! < 0 || yp! < 0 || m === undefined || a!.shape!.length !== 2) return undefined;
        const gemm = g.bind(m, ap!, yp!, epi.lo, epi.hi, scratch);
        return () => {
          gemm();
          epi.applyAt(yp!, m * g.n);
        };
      },
      dispose: () => g.dispose(),
    };
  },
};

registerKernel(matmulWasm);
registerKernel(gemmWasm);

/**
 * Pointers to float32 tensors in kernel memory: resident views first (before any allocation can grow memory and
 * detach them), then copies of the rest. Release the `copied` ones after the kernel ran.
 */
export function pinInputs(mem: Arena, ts: Float32Array[], what: string): { ptrs: number[]; copied: number[] } {
  const ptrs = ts.map((t) => mem.ptrOf({ data: t }) ?? -1);
  const copied: number[] = [];
  ts.forEach((t, i) => {
    if (ptrs[i]! >= 0) return;
    const p = mem.alloc(t.length * 4, what);
    mem.f32(p, t.length).set(t);
    ptrs[i] = p;
    copied.push(p);
  });
  return { ptrs, copied };
}

/** Element strides of the batch dims (all but the last two) of `dims` over `nb` output batch dims; 0 where broadcast. */
function batchStrides(dims: readonly number[], nb: number): number[] {
  const lead = dims.slice(0, -2);
  const pad = [...new Array<number>(nb - lead.length).fill(1), ...lead];
  const st = new Array<number>(nb).fill(0);
  let acc = dims.at(-1)! * dims.at(-2)!;
  for (let i = nb - 1; i >= 0; i--) {
    st[i] = pad[i] === 1 ? 0 : acc;
    acc *= pad[i]!;
  }
  return st;
}

/**
 * MatMul of two activations, A[…, M, K] · B[…, K, N] with NumPy broadcasting of the batch dims (attention's Q·Kᵀ and
 * softmax·V). Per batch, B is packed into 8-column panels (K·N work against M·K·N for the product; a B broadcast over
 * batches is packed once) and the f32_gemm micro-kernels run on it. With M = 1 (a decoder step) and no clamp, B is not
 * packed: f32_gemv_t / f32_gemv_n read its rows once in place.
 * When B reaches the node through a Transpose that swaps its last two axes (Kᵀ), `transposedB` is true and the plan
 * hands the Transpose's input instead: the panels are packed from it in place (f32_gemm_pack_8_t), no transpose is
 * materialized. `bRows`: only B's first rows are in use (a KV cache with spare capacity, kernels/kv-cache.ts: its batch
 * strides stay those of the whole block; with `bT` they are the N columns, else the K rows, which A's K already says).
 */
export function runBatchedMatMul(mem: Arena, a: TensorT, b: TensorT, bT: boolean, out: number[], lo: number, hi: number, bRows?: number): Float32Array {
  const ex = kernels()!;
  const g = bmmGeometry(a.dims, b.dims, bT, out, lo, hi, bRows);
  // inputs first: an allocation may grow memory, which detaches views (a resident input would look foreign)
  const { ptrs, copied } = pinInputs(mem, [a.data as Float32Array, b.data as Float32Array], 'MatMul input');
  const cp = mem.alloc(g.batches * g.m * g.n * 4, 'MatMul output');
  if (g.batches * g.m * g.n === 0) {
    for (const p of copied) mem.release(p);
    return mem.f32(cp, 0);
  }
  const packed = g.gemv ? undefined : mem.alloc(ex.f32_gemm_packed_size_8(g.n, g.k), 'MatMul packed B');
  try {
    bmmAt(g, ptrs[0]!, ptrs[1]!, cp, packed ?? 0);
  } finally {
    if (packed !== undefined) mem.release(packed);
    for (const p of copied) mem.release(p);
  }
  return mem.f32(cp, g.batches * g.m * g.n);
}

/** The shapes of a batched MatMul (runBatchedMatMul): per-batch m, n, k, the batch strides, whether it is GEMV. */
interface BmmGeometry {
  m: number;
  n: number;
  k: number;
  ldb: number;
  bT: boolean;
  nb: number;
  bdims: number[];
  batches: number;
  sa: number[];
  sb: number[];
  gemv: boolean;
  lo: number;
  hi: number;
}

function bmmGeometry(adims: readonly number[], bd: readonly number[], bT: boolean, out: readonly number[], lo: number, hi: number, bRows?: number): BmmGeometry {
  const [m, k] = adims.slice(-2) as [number, number];
  const n = bT ? (bRows ?? bd.at(-2)!) : bd.at(-1)!;
  const nb = out.length - 2;
  const bdims = out.slice(0, nb);
  // one row per batch (a decoder step's q·Kᵀ and softmax·V): B's rows are read once, unpacked, by the GEMV kernels
  const gemv = m === 1 && lo === -Infinity && hi === Infinity;
  return { m, n, k, ldb: bd.at(-1)!, bT, nb, bdims, batches: bdims.reduce((x, d) => x * d, 1), sa: batchStrides(adims, nb), sb: batchStrides(bd, nb), gemv, lo, hi };
}

/** The product on pointers: A at ap, B at bp, C at cp; `packed` holds f32_gemm_packed_size_8(n, k) bytes unless gemv. */
function bmmAt(g: BmmGeometry, ap: number, bp: number, cp: number, packed: number): void {
  const ex = kernels()!;
  const { m, n, k, ldb, bT, nb, bdims, batches, sa, sb, gemv, lo, hi } = g;
  if (batches * m * n === 0) return;
  const idx = new Array<number>(nb).fill(0);
  let lastB = -1;
  for (let bi = 0; bi < batches; bi++) {
    let offA = 0;
    let offB = 0;
    for (let d = 0; d < nb; d++) {
      offA += idx[d]! * sa[d]!;
      offB += idx[d]! * sb[d]!;
    }
    if (gemv) {
      if (bT) ex.f32_gemv_t(n, k, ap + offA * 4, bp + offB * 4, ldb, cp + bi * n * 4);
      else ex.f32_gemv_n(n, k, ap + offA * 4, bp + offB * 4, ldb, cp + bi * n * 4);
    } else if (offB !== lastB) {
      if (bT) ex.f32_gemm_pack_8_t(n, k, bp + offB * 4, k, packed);
      else ex.f32_gemm_pack_8(n, k, bp + offB * 4, n, 0, packed);
      lastB = offB;
    }
    if (!gemv) f32GemmPackedA(ex, arena()!, m, n, k, ap + offA * 4, k, packed, cp + bi * m * n * 4, n, lo, hi);
    for (let d = nb - 1; d >= 0; d--) {
      if (++idx[d]! < bdims[d]!) break;
      idx[d] = 0;
    }
  }
}

/**
 * runBatchedMatMul as a static plan's call: A and B blocks of this run (B the Transpose's input with `bT`), the
 * packed panels in plan scratch; the epilogue after it. Undefined for a constant or absent operand.
 */
export function bindBatchedMatMul(b: BindArgs, bT: boolean, epi: Epilogue): (() => void) | undefined {
  const [ap, bp] = b.ins;
  const [at, bt] = b.inTypes.map((t) => t?.shape as number[] | undefined);
  const out = b.outTypes[0]?.shape as number[] | undefined;
  const cp = b.outs[0] ?? -1;
  if (ap === undefined || bp === undefined || ap < 0 || bp < 0 || cp < 0 || !at || !bt || !out || at.length < 2 || bt.length < 2) return undefined;
  const g = bmmGeometry(at, bt, bT, out, epi.lo, epi.hi);
  const packed = g.gemv ? 0 : b.scratch(kernels()!.f32_gemm_packed_size_8(g.n, g.k), 'MatMul packed B');
  const size = out.reduce((x, d) => x * d, 1);
  return () => {
    bmmAt(g, ap, bp, cp, packed);
    epi.applyAt(cp, size);
  };
}

/** True if `perm` swaps the last two axes and keeps the others (Kᵀ in attention). */
export function swapsLastTwo(perm: readonly number[] | undefined, rank: number): boolean {
  if (rank < 2) return false;
  const p = perm ?? [...Array(rank).keys()].reverse();
  if (p.length !== rank) return false;
  for (let i = 0; i < rank - 2; i++) if (p[i] !== i) return false;
  return p[rank - 2] === rank - 1 && p[rank - 1] === rank - 2;
}

const bmmWasm: KernelDef = {
  op: 'MatMul',
  backend: 'wasm',
  prepare(_node, _attrs, types, _constant, producer) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32' || types[1]?.dtype !== 'float32') return decline(`inputs are ${types[0]?.dtype}/${types[1]?.dtype}, not float32`);
    if ((types[0].shape && types[0].shape.length < 2) || (types[1].shape && types[1].shape.length < 2)) return decline('an operand is 1-D');
    // B = Transpose(X) swapping X's last two axes: read X in place
    const p = producer?.(1);
    const xt = p?.node.op === 'Transpose' && p.node.domain === '' ? types[1].shape?.length : undefined;
    const bypass = xt !== undefined && swapsLastTwo(p!.attrs.perm as number[] | undefined, xt) ? p!.node.inputs[0]! : undefined;
    const epi = new Epilogue();
    return {
      name: 'f32_bmm',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      ...(bypass ? { readsInstead: (i: number) => (i === 1 ? bypass : undefined) } : {}),
      run([a, b], [out]) {
        // with a bypass, b is the Transpose's input (never fall back then: the reference would need the transpose)
        const bT = !!bypass;
        if (!bT && (!a || !b || a.dims.length < 2 || b.dims.length < 2)) return undefined;
        const shape = out!.shape as number[];
        const y = runBatchedMatMul(mem, a!, b!, bT, shape, epi.lo, epi.hi);
        epi.apply(y);
        return [new Tensor('float32', y, shape)];
      },
      // with a bypass, B's block is the Transpose's input (the plan reads through it, as run() gets it)
      bind: (b) => bindBatchedMatMul(b, !!bypass, epi),
    };
  },
};

registerKernel(bmmWasm);
