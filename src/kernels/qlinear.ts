import { conv2dAt } from '../ir/conv-geometry.js';
import type { ValueType } from '../ir/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { attrs2d, dims2d } from './conv-run.js';
import { type KernelDef, type PreparedKernel, decline, registerKernel } from './registry.js';
import { type KernelCall, chunksOf, forkJoin, forkRanges, MAX_THREADS, shares, threadScratch, threadsFor } from './threads.js';
import { type Arena, arena, type KernelExports, kernelFlavor, kernels } from './wasm.js';

/**
 * int8 / uint8 kernels over asm/qs8_gemm.ts: QLinearMatMul, MatMulInteger (constant 2-D B) and QLinearConv,
 * ConvInteger (NCHW 2-D, and 1-D as 2-D with H = 1; constant weights, any group). Weights are packed once per session; zero points are
 * folded into per-row / per-column int32 terms from precomputed row / column sums, so the hot loop is a plain
 * widening int8 dot product. Integer accumulation wraps in int32 exactly like the TS reference (src/ops/quant.ts),
 * and requantization is the reference's own float64 arithmetic (`roundHalfToEven(acc · multiplier)` with the
 * multiplier rounded as the reference rounds it), so every output is bit-identical to the reference.
 * Cases outside these (per-row a scales / zero points, float16 scales, non-constant weights, 3-D+ conv)
 * stay with the reference: `prepare` declines, or `run` returns undefined.
 */

export type QData = Int8Array | Uint8Array;
export const isQ8 = (d: string | undefined): d is 'int8' | 'uint8' => d === 'int8' || d === 'uint8';
export const pad8 = (n: number) => ((n + 7) >> 3) << 3;
export const ints = (t: Tensor): ArrayLike<number> => t.data as unknown as ArrayLike<number>;
export const scalarInt = (t: Tensor | undefined): number => (t ? ints(t)[0]! : 0);
/** a per-tensor parameter: scalar or one element */
const isScalar = (t: Tensor | undefined) => !t || t.size === 1;

export function i32(mem: Arena, p: number, n: number): Int32Array {
  return new Int32Array(mem.buffer, p, n);
}
/** A float32's bits (f32Bits[0] = x, then i32Bits[0]): how a float argument rides in an int32 kernel parameter. */
const f32Bits = new Float32Array(1);
const i32Bits = new Int32Array(f32Bits.buffer);
export function f64(mem: Arena, p: number, n: number): Float64Array {
  return new Float64Array(mem.buffer, p, n);
}

/**
 * QLinearConv's requantization multipliers x_scale · w_scale[i] / y_scale, each step rounded to float32 as the
 * reference computes them, into the f64 block `mult` (m of them); whether all are small (the kernels' code bit 4).
 * `xs` / `ys`: the one-element float32 scales (run-time tensors, or a static plan's constants).
 */
function convMultipliers(mem: Arena, mult: number, m: number, xs: Tensor, ws: Float32Array, ys: Tensor): boolean {
  const [x, y] = [(xs.data as Float32Array)[0]!, (ys.data as Float32Array)[0]!];
  const mv = f64(mem, mult, m);
  for (let i = 0; i < m; i++) mv[i] = Math.fround(Math.fround(x * ws[ws.length === 1 ? 0 : i]!) / y);
  return smallMultipliers(mv);
}

/** a static plan's one-element float32 constant (a QLinearConv scale), else undefined */
const oneF32 = (t: Tensor | undefined): Tensor | undefined => (t?.type === 'float32' && t.size === 1 ? t : undefined);

/** Output code of qs8_gemm and the view constructor for it. */
export function outKind(dtype: string): { code: 0 | 1 | 2; esz: number; lo: number; hi: number } {
  if (dtype === 'int8') return { code: 1, esz: 1, lo: -128, hi: 127 };
  if (dtype === 'uint8') return { code: 2, esz: 1, lo: 0, hi: 255 };
  return { code: 0, esz: 4, lo: 0, hi: 0 };
}
export function outView(mem: Arena, code: 0 | 1 | 2, p: number, n: number): Int32Array | Int8Array | Uint8Array {
  const b = mem.buffer;
  return code === 0 ? new Int32Array(b, p, n) : code === 1 ? new Int8Array(b, p, n) : new Uint8Array(b, p, n);
}

/**
 * Whether every requantization multiplier is below 0.5 in magnitude, so |acc · mult| < 2^30 for any int32 acc:
 * the kernels then requantize with integer clamping (asm/q8.ts requant4i, output code | 4), exactly as otherwise.
 */
export function smallMultipliers(mult: ArrayLike<number>): boolean {
  for (let i = 0; i < mult.length; i++) if (!(Math.abs(mult[i]!) < 0.5)) return false;
  return true;
}

/** The rounding of the scale arithmetic (ONNX: the scales' type); undefined for types the kernel leaves alone. */
function scaleRounder(dtype: string): ((v: number) => number) | undefined {
  if (dtype === 'float32') return Math.fround;
  if (dtype === 'float64') return (v) => v;
  return undefined;
}

// ---------------------------------------------------------------- relaxed-SIMD int8 dot: which packing is exact

/**
 * How constant int8 GEMM weights are packed and multiplied: 'plain' = c2 panels and i32x4.dot_i16x8_s (exact
 * everywhere), 'signed' / 'unsigned' = c4 panels and i32x4.relaxed_dot_i8x16_i7x16_add_s (relaxed build only)
 * with the weights stored as int8 / as uint8 (w + 128) — the reading of the "i7" operand this engine performs
 * exactly. The relaxed dot is exact by the spec only for i7 bytes in [0, 127]; ARM sdot reads them as int8,
 * x86 vpdpbusd as uint8, and x86 pmaddubsw as uint8 with each pair sum saturated to int16 (no exact packing:
 * 'plain' is kept).
 */
export type QDotMode = 'plain' | 'signed' | 'unsigned';
let detectedMode: QDotMode | undefined;
let forcedMode: QDotMode | undefined;

/** Force a mode for packings made from now on (tests and benches; undefined = the probed mode). */
export function setQDotMode(mode: QDotMode | undefined): void {
  forcedMode = mode;
}

/** The probed mode of this engine (cached), or the forced one. */
export function qdotMode(): QDotMode {
  return forcedMode ?? (detectedMode ??= probeQDot());
}

/**
 * Probe (like MLAS's HasUSDot): run qs8_gemm_c4 itself — both tiles, several k quads — on extreme int8 inputs
 * (−128 and 127 rows and columns, so a pair sum reaches ±65280 and 4·16384 = 65536 in a lane) with the weights
 * stored each way, and keep the first storage whose int32 results are exactly Σ a·w_stored.
 */
function probeQDot(): QDotMode {
  const ex = kernels();
  const mem = arena();
  if (!ex || !mem || kernelFlavor() !== 'relaxed') return 'plain';
  const m = 5;
  const k = 24;
  const n = 8;
  let seed = 1;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24) - 128;
  const a = new Int8Array(m * k);
  const w = new Int8Array(k * n);
  const rowOf = [() => -128, () => 127, (kk: number) => (kk & 1 ? 127 : -128), rnd, () => -128];
  for (let i = 0; i < m; i++) for (let kk = 0; kk < k; kk++) a[i * k + kk] = rowOf[i]!(kk);
  const colOf = [() => -128, () => 127, (kk: number) => (kk & 1 ? -128 : 127), () => -1, rnd, (kk: number) => (kk & 2 ? 127 : -128), () => 1, rnd];
  for (let kk = 0; kk < k; kk++) for (let j = 0; j < n; j++) w[kk * n + j] = colOf[j]!(kk);
  const pa = mem.alloc(m * k, 'qdot probe');
  const pw = mem.alloc(k * n, 'qdot probe');
  const pp = mem.alloc(ex.qs8_packed_size_8(n, k), 'qdot probe');
  const pc = mem.alloc(m * n * 4, 'qdot probe');
  const tmp = mem.alloc(32, 'qdot probe');
  try {
    new Int8Array(mem.buffer, pa, m * k).set(a);
    new Int8Array(mem.buffer, pw, k * n).set(w);
    for (const mode of ['signed', 'unsigned'] as const) {
      const x = mode === 'unsigned' ? 0x80 : 0;
      ex.qs8_pack_b_c4(n, k, pw, n, x, x ? 1 : 0, pp, 0);
      ex.qs8_gemm_c4(m, n, k, pa, k, pp, pc, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, tmp);
      const got = i32(mem, pc, m * n);
      let ok = true;
      for (let i = 0; i < m && ok; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let kk = 0; kk < k; kk++) s += a[i * k + kk]! * (w[kk * n + j]! + (x ? 128 : 0));
          if (got[i * n + j] !== s) {
            ok = false;
            break;
          }
        }
      if (ok) return mode;
    }
    return 'plain';
  } finally {
    for (const p of [pa, pw, pp, pc, tmp]) mem.release(p);
  }
}

// ---------------------------------------------------------------- packed constant B (matmul)

/**
 * A constant K×N int8/uint8 matrix with per-tensor or per-column zero point, packed into c2 panels (uint8 is
 * stored as b − 128 with its zero point shifted alike, so (b − zb) is unchanged).
 */
export class PackedQGemm {
  readonly packed: number;
  private readonly colsum: number;
  /** zero point of the stored (shifted) B per column, padded to N8 */
  readonly zbS: Int32Array;
  private readonly cb: number;
  private readonly cv: number;
  private readonly mult: number;
  /** 32 bytes of tile scratch per kernel thread (threadScratch: each on its own cache lines) */
  private readonly tmpS: { block: number; ptr: number; stride: number };
  private get tmp(): number {
    return this.tmpS.ptr;
  }
  readonly needRowsum: boolean;
  /** packing and kernel: c2 + qs8_gemm / qu8_gemm ('plain') or c4 + qs8_gemm_c4 (relaxed dot) */
  readonly mode: QDotMode;
  constructor(
    private readonly mem: Arena,
    readonly k: number,
    readonly n: number,
    b: Tensor,
    bzp: ArrayLike<number> | undefined,
    mode: QDotMode = qdotMode(),
  ) {
    const ex = kernels()!;
    const n8 = pad8(n);
    this.mode = mode;
    // stored − raw value of every weight byte: c2 / 'signed' store int8 (uint8 − 128), 'unsigned' stores uint8
    const shift = mode === 'unsigned' ? (b.type === 'uint8' ? 0 : 128) : b.type === 'uint8' ? -128 : 0;
    this.packed = mem.alloc(ex.qs8_packed_size_8(n, k), 'packed int8 weight');
    this.colsum = mem.alloc(n8 * 4, 'int8 column sums');
    this.cb = mem.alloc(n8 * 4, 'int8 column bias');
    this.cv = mem.alloc(n8 * 4, 'int8 rank-1 term');
    this.mult = mem.alloc(n8 * 8, 'requant multipliers');
    this.tmpS = threadScratch(mem, 32, MAX_THREADS, 'int8 gemm scratch');
    const src = mem.inputBytes(b.data as QData, 'int8 weight');
    if (mode === 'plain') ex.qs8_pack_b(n, k, src.ptr, n, shift ? 1 : 0, this.packed, this.colsum);
    else ex.qs8_pack_b_c4(n, k, src.ptr, n, shift ? 0x80 : 0, mode === 'unsigned' ? 1 : 0, this.packed, this.colsum);
    if (src.copied) mem.release(src.ptr);
    this.zbS = new Int32Array(n8);
    for (let j = 0; j < n; j++) this.zbS[j] = (bzp ? (bzp.length === 1 ? bzp[0]! : bzp[j]!) : 0) + shift;
    this.needRowsum = this.zbS.some((v) => v !== 0);
    const cv = i32(mem, this.cv, n8);
    for (let j = 0; j < n8; j++) cv[j] = -this.zbS[j]!;
  }

  /**
   * Y[m×n] from A[m×k] (int8/uint8 bytes, per-tensor zero point za): out = 'int32' for the raw accumulator
   * (MatMulInteger), else requantized with per-column `mult` (QLinearMatMul); `bias` (int32 per column) is added
   * to the accumulator (QGemm's C). A resident view of kernel memory.
   */
  run(a: QData, m: number, aUnsigned: boolean, za: number, out: 'int32' | 'int8' | 'uint8', mult?: Float64Array, yz = 0, bias?: ArrayLike<number>): Int32Array | Int8Array | Uint8Array {
    const ex = kernels()!;
    const mem = this.mem;
    const { k, n } = this;
    const n8 = pad8(n);
    const kind = outKind(out);
    // the c4 kernel multiplies int8 A: uint8 A is flipped (a − 128, and its zero point alike) by qs8_pack_a
    const flipA = this.mode !== 'plain' && aUnsigned;
    const zaS = flipA ? za - 128 : za;
    this.columnTerms(this.cb, zaS, bias);
    if (mult) f64(mem, this.mult, n8).set(mult.subarray(0, n8));
    const ain = mem.inputBytes(a.subarray(0, m * k), 'int8 gemm input');
    const rs = this.needRowsum ? mem.alloc(m * 4, 'int8 row sums') : 0;
    const af = flipA ? mem.alloc(m * pad8(k), 'int8 gemm flipped input') : 0;
    const pa = this.mode === 'plain' ? this.packedA(m, (b, what) => mem.alloc(b, what)) : 0;
    const cp = mem.alloc(m * n * kind.esz, 'int8 gemm output');
    try {
      if (this.mode === 'plain') {
        const code = kind.code && mult && smallMultipliers(mult.subarray(0, n)) ? kind.code | 4 : kind.code;
        this.plainGemm(ain.ptr, m, aUnsigned, rs, pa, cp, yz, kind.lo, kind.hi, code);
      } else {
        if (af) ex.qs8_pack_a(m, k, ain.ptr, k, 1, af, rs);
        else if (rs) ex.qs8_rowsum(m, k, ain.ptr, k, 0, rs);
        const ap = af || ain.ptr;
        this.gemmAt('qs8_gemm_c4', m, ap, af ? pad8(k) : k, cp, this.cb, rs, rs ? this.cv : 0, this.mult, yz, kind.lo, kind.hi, kind.code);
      }
    } finally {
      if (pa) mem.release(pa);
      if (af) mem.release(af);
      if (rs) mem.release(rs);
      if (ain.copied) mem.release(ain.ptr);
    }
    return outView(mem, kind.code, cp, m * n);
  }

  /**
   * ex[fn](m, n, k, a, lda, packed B, c, n, cb, 0, ru, cv, mult, 0, yz, lo, hi, out, tmp) — the int8 GEMMs' shared
   * signature (qs8_gemm, qu8_gemm, qs8_gemm_a4, qs8_gemm_c4; cb, cv and mult read per column) — on the kernel threads
   * its work earns, in chunks of whole 8-column panels: a chunk runs the same tiles over its panels (B from its first
   * panel, C, cb, cv and mult from its first column) with its thread's tile scratch, so every output element comes
   * from the same tile call as on one thread: the same bits for any thread count.
   */
  private gemmAt(fn: 'qs8_gemm' | 'qu8_gemm' | 'qs8_gemm_a4' | 'qs8_gemm_c4', m: number, a: number, lda: number, c: number, cb: number, ru: number, cv: number, mult: number, yz: number, lo: number, hi: number, out: number): void {
    const ex = kernels()!;
    const { k, n, packed } = this;
    const nt = threadsFor(m * n * k);
    if (nt <= 1) return ex[fn](m, n, k, a, lda, packed, c, n, cb, 0, ru, cv, mult, 0, yz, lo, hi, out, this.tmp);
    const panel = pad8(k) * 8;
    const esz = out === 0 || out === 3 ? 4 : 1; // int32 / float output, else 8-bit (the kernel's own rule)
    const cols = chunksOf(n, 8, nt, m * k);
    const at = (p: number, c0: number, bytes: number) => (p ? p + c0 * bytes : 0);
    forkRanges(ex, cols, nt, (c0, c1): KernelCall[] => [
      [fn, [m, c1 - c0, k, a, lda, packed + (c0 >> 3) * panel, c + c0 * esz, n, at(cb, c0, 4), 0, ru, at(cv, c0, 4), at(mult, c0, 8), 0, yz, lo, hi, out, this.tmpS.ptr], { mask: 1 << 18, stride: this.tmpS.stride }],
    ]);
  }

  /** cb[j] = −za·Σ_k b_s[k,j] + K·za·zb_s[j] (+ bias[j]) at `cb`, wrapping int32 as the reference's accumulator wraps. */
  private columnTerms(cb: number, zaS: number, bias?: ArrayLike<number>): void {
    const { k, n } = this;
    const n8 = pad8(n);
    const cs = i32(this.mem, this.colsum, n8);
    const cbv = i32(this.mem, cb, n8);
    for (let j = 0; j < n8; j++) cbv[j] = (Math.imul(-zaS, cs[j]!) + Math.imul(Math.imul(k, zaS), this.zbS[j]!) + (bias && j < n ? bias[j]! : 0)) | 0;
  }

  /** Scratch for A packed by plainGemm (0 when it multiplies the bytes in place: fewer than 4 rows). */
  private packedA(m: number, alloc: (bytes: number, what: string) => number): number {
    return m >= 4 ? alloc(kernels()!.qs8_packed_a4_size(m, this.k), 'int8 gemm packed input') : 0;
  }

  /**
   * The 'plain' GEMM of m rows of A at `ap` (stride k, int8 or uint8) into `cp`, the row sums into `rs` (0 = none):
   * from 4 rows on, A is widened into 4-row groups at `pa` (qs8_pack_a4, which sums the rows as it goes) for
   * qs8_gemm_a4's broadcast-load tile; fewer rows (a GEMV is bound by streaming B) run qs8_gemm's tiles on the bytes.
   */
  private plainGemm(
    ap: number, m: number, aUnsigned: boolean, rs: number, pa: number, cp: number, yz: number, lo: number, hi: number, code: number,
    cb = this.cb, mult = this.mult, ru = rs, cv = rs ? this.cv : 0,
  ): void {
    const ex = kernels()!;
    const { k } = this;
    if (pa) {
      ex.qs8_pack_a4(m, k, ap, k, aUnsigned ? 2 : 0, pa, rs);
      this.gemmAt('qs8_gemm_a4', m, pa, 8 * pad8(k), cp, cb, ru, cv, mult, yz, lo, hi, code);
      return;
    }
    if (rs) ex.qs8_rowsum(m, k, ap, k, aUnsigned ? 1 : 0, rs);
    this.gemmAt(aUnsigned ? 'qu8_gemm' : 'qs8_gemm', m, ap, k, cp, cb, ru, cv, mult, yz, lo, hi, code);
  }

  /**
   * The call computing run(a, m, aUnsigned, za, out, mult, yz, bias) — the int32 accumulator, or 8-bit output
   * requantized by `mult` — from A at byte offset `ap` into the block `cp` (a static plan's bound step; yz, the
   * multipliers and the bias are the plan's constants; za too, or read by the call from kernel memory when it is a
   * function: a zero point the graph computes, DynamicQuantizeLinear's, whose column terms are then redone per call).
   * Its column terms and multipliers live in held scratch of its own (run() rewrites the shared ones per call), as do
   * the row sums, A packed in 4-row groups and the flipped copy of uint8 A.
   */
  bindGemm(ap: number, m: number, aUnsigned: boolean, za: number | (() => number), out: 'int32' | 'int8' | 'uint8', mult: ArrayLike<number> | undefined, yz: number, bias: ArrayLike<number> | undefined, cp: number, scratch: (bytes: number, what: string) => number): () => void {
    const ex = kernels()!;
    const mem = this.mem;
    const { k, n } = this;
    const n8 = pad8(n);
    const kind = outKind(out);
    const flipA = this.mode !== 'plain' && aUnsigned;
    const zaS = (z: number) => (flipA ? z - 128 : z);
    // every scratch block first (taking one may grow the memory), then the views that fill them
    const cb = scratch(n8 * 4, 'int8 column bias');
    const mp = scratch(n8 * 8, 'requant multipliers');
    const rs = this.needRowsum ? scratch(m * 4, 'int8 row sums') : 0;
    const af = flipA ? scratch(m * pad8(k), 'int8 gemm flipped input') : 0;
    const pa = this.mode === 'plain' ? this.packedA(m, scratch) : 0;
    if (typeof za === 'number') this.columnTerms(cb, zaS(za), bias);
    const terms = typeof za === 'number' ? () => {} : () => this.columnTerms(cb, zaS(za()), bias);
    const mv = f64(mem, mp, n8);
    if (mult) for (let j = 0; j < n; j++) mv[j] = mult[j]!;
    if (this.mode === 'plain') {
      const code = kind.code && mult && smallMultipliers(mv.subarray(0, n)) ? kind.code | 4 : kind.code;
      return () => {
        terms();
        this.plainGemm(ap, m, aUnsigned, rs, pa, cp, yz, kind.lo, kind.hi, code, cb, mp);
      };
    }
    const cv = rs ? this.cv : 0;
    return () => {
      terms();
      if (af) ex.qs8_pack_a(m, k, ap, k, 1, af, rs);
      else if (rs) ex.qs8_rowsum(m, k, ap, k, 0, rs);
      this.gemmAt('qs8_gemm_c4', m, af || ap, af ? pad8(k) : k, cp, cb, rs, cv, mp, yz, kind.lo, kind.hi, kind.code);
    };
  }

  /**
   * Y[m×n] float32 = f32(Σ (a − za)(b − zb)) · f32(aScale · bScale[j]) + add[j] for int8 A rows already in kernel
   * memory at `ap` (stride k, K8 bytes readable per row) — the GEMM's float epilogue (qs8_gemm out = 3). A resident
   * view.
   */
  runFloat(ap: number, m: number, za: number, aScale: number, bScale: ArrayLike<number>, add: ArrayLike<number> | undefined): Float32Array {
    const mem = this.mem;
    const rs = this.needRowsum ? mem.alloc(m * 4, 'int8 row sums') : 0;
    const ru = this.needRowsum ? 0 : mem.alloc(m * 4, 'int8 zero-point row factors');
    const pa = this.mode === 'plain' ? this.packedA(m, (b, what) => mem.alloc(b, what)) : 0;
    const cp = mem.alloc(m * this.n * 4, 'int8 gemm float output');
    try {
      this.floatTable(this.mult, bScale, add);
      this.floatGemm(ap, m, za, aScale, rs, ru, pa, cp, this.cb, this.mult);
    } finally {
      for (const p of [pa, ru, rs]) if (p) mem.release(p);
    }
    return mem.f32(cp, m * this.n);
  }

  /**
   * runFloat for a static plan: the call that computes it from A at `ap` into the block `cp` with the za and aScale
   * it is given (a dynamically quantized A's, known per call); B's scales and the addends are written into the
   * epilogue's table once here, the column terms and row sums live in held scratch of its own.
   */
  bindFloat(ap: number, m: number, cp: number, bScale: ArrayLike<number>, add: ArrayLike<number> | undefined, scratch: (bytes: number, what: string) => number): (za: number, aScale: number) => void {
    const n8 = pad8(this.n);
    const cb = this.needRowsum ? scratch(n8 * 4, 'int8 column bias') : 0;
    const sa = scratch(n8 * 8, 'int8 gemm float epilogue');
    const rs = this.needRowsum ? scratch(m * 4, 'int8 row sums') : 0;
    const ru = this.needRowsum ? 0 : scratch(m * 4, 'int8 zero-point row factors');
    const pa = this.mode === 'plain' ? this.packedA(m, scratch) : 0;
    this.floatTable(sa, bScale, add);
    return (za, aScale) => this.floatGemm(ap, m, za, aScale, rs, ru, pa, cp, cb, sa);
  }

  /** The float epilogue's table at `sa` in the kernel's layout: per panel of 8 columns, 8 of B's scales, 8 addends. */
  private floatTable(sa: number, bScale: ArrayLike<number>, add: ArrayLike<number> | undefined): void {
    const n = this.n;
    const n8 = pad8(n);
    const t = new Float32Array(this.mem.buffer, sa, n8 * 2);
    for (let j = 0; j < n8; j++) {
      const o = ((j >> 3) << 4) + (j & 7);
      t[o] = j < n ? bScale[bScale.length === 1 ? 0 : j]! : 0;
      // −0 is the additive identity for every float (+0 would turn a −0 product into +0)
      t[o + 8] = add && j < n ? add[j]! : -0;
    }
  }

  /**
   * The float GEMM of runFloat into `cp` with the epilogue's table at `sa`. B's zero points all 0 (int8 weights
   * stored as they are: no row sums, `rs` = 0): the one za term, −za·Σ_k b[k,j], is the kernel's rank-1 term with
   * −za in each of the m int32 at `ru` and the column sums — m stores per call instead of N column terms. Else the
   * column terms at `cb` and the row sums at `rs`.
   */
  private floatGemm(ap: number, m: number, za: number, aScale: number, rs: number, ru: number, pa: number, cp: number, cb: number, sa: number): void {
    const ex = kernels()!;
    const { k } = this;
    if (rs) this.columnTerms(cb, za);
    else i32(this.mem, ru, m).fill(-za);
    const [u, v] = rs ? [rs, this.cv] : [ru, this.colsum];
    f32Bits[0] = aScale;
    const as = i32Bits[0]!; // A's scale as float32 bits: the kernel's `yz` for out = 3
    if (this.mode === 'plain') this.plainGemm(ap, m, false, rs, pa, cp, as, 0, 0, 3, rs ? cb : 0, sa, u, v);
    else {
      if (rs) ex.qs8_rowsum(m, k, ap, k, 0, rs);
      this.gemmAt('qs8_gemm_c4', m, ap, k, cp, rs ? cb : 0, u, v, sa, as, 0, 0, 3);
    }
  }

  dispose(): void {
    for (const p of [this.packed, this.colsum, this.cb, this.cv, this.mult, this.tmpS.block]) this.mem.release(p);
  }
}

/**
 * A per-tensor 8-bit zero point for a bound call: the constant (absent: 0), or — at byte offset `p`, a scalar the graph
 * computes (DynamicQuantizeLinear's y_zero_point) — a reader of its byte, called per run; undefined if neither.
 */
export function zeroPointAt(mem: Arena, p: number | undefined, t: ValueType | undefined, c: Tensor | undefined): number | (() => number) | undefined {
  if (p === undefined || p < 0) return isScalar(c) ? scalarInt(c) : undefined;
  const dt = t?.dtype;
  if (!isQ8(dt) || !t!.shape || t!.shape.some((d) => d !== 1)) return undefined;
  return dt === 'uint8' ? () => new Uint8Array(mem.buffer, p, 1)[0]! : () => new Int8Array(mem.buffer, p, 1)[0]!;
}

/** Rows of A when B is a constant 2-D matrix and A has rank ≥ 2 (leading dims flattened), else undefined. */
function matmulRows(a: Tensor, k: number): number | undefined {
  if (a.dims.length < 2 || a.dims[a.dims.length - 1] !== k) return undefined;
  return a.size / k;
}

const qlinearMatMulWasm: KernelDef = {
  op: 'QLinearMatMul',
  backend: 'wasm',
  prepare(node, _attrs, types, constant) {
    const mem = arena();
    const b = constant(3);
    const bs = constant(4);
    const bz = constant(5);
    const a = types[0];
    if (!mem || !b || !bs || !bz || !isQ8(a?.dtype) || !isQ8(b.type) || b.dims.length !== 2) return decline('needs WASM, 8-bit A and constant 2-D 8-bit B with constant scale/zero point');
    if (a.shape && a.shape.length < 2) return decline('A has rank < 2');
    const rd = scaleRounder(bs.type);
    if (!rd) return decline("B's scale type has no rounding rule");
    const [k, n] = b.dims as [number, number];
    if (!(bs.size === 1 || bs.size === n) || !(bz.size === 1 || bz.size === n)) return decline("B's scale/zero point are neither per-tensor nor per-column");
    const g = new PackedQGemm(mem, k, n, b, ints(bz));
    const bsv = bs.data as Float32Array | Float64Array;
    const mult = new Float64Array(pad8(n));
    // multiplier[j] = a_scale · b_scale[j] / y_scale, each step rounded to the scales' type (as the reference)
    const multipliers = (as: Tensor, ys: Tensor, into: Float64Array) => {
      const asv = rd((as.data as Float32Array)[0]!);
      const ysv = rd((ys.data as Float32Array)[0]!);
      for (let j = 0; j < n; j++) into[j] = rd(rd(asv * rd(bsv[bsv.length === 1 ? 0 : j]!)) / ysv);
      return into;
    };
    return {
      name: g.mode === 'plain' ? (a.dtype === 'uint8' ? 'qu8_gemm_4x8c2' : 'qs8_gemm_4x8c2') : `qs8_gemm_4x8c4_rdot_${g.mode}`,
      run(inputs, [outType]) {
        const [x, as, az, , , , ys, yz] = inputs as Tensor[];
        const m = matmulRows(x!, k);
        // per-row a_scale / a_zero_point: the reference handles it
        if (m === undefined || !isScalar(as) || !isScalar(az) || as!.type !== bs.type) return undefined;
        multipliers(as!, ys!, mult);
        const od = outType!.dtype as 'int8' | 'uint8';
        const y = g.run(x!.data as QData, m, x!.type === 'uint8', scalarInt(az), od, mult, scalarInt(yz));
        return [new Tensor(od, y, outType!.shape as number[])];
      },
      // static plan: constant per-tensor A and Y scales / zero points (a QDQ-fused graph's), as run() computes them
      bind({ ins: [xp], consts: [, as, az, , , , ys, yz], inTypes: [xt], outs: [op], outTypes: [ot] , scratch }) {
        const shape = xt?.shape as number[] | undefined;
        if (!shape || shape.length < 2 || shape[shape.length - 1] !== k || !isScalar(as) || !isScalar(az) || !isScalar(ys) || (node.inputs[7] && !isScalar(yz)) || as!.type !== bs.type) return undefined;
        if (xp === undefined || op === undefined || xp < 0 || op < 0) return undefined;
        const m = shape.reduce((a, d) => a * d, 1) / k;
        return g.bindGemm(xp, m, xt!.dtype === 'uint8', scalarInt(az), ot!.dtype as 'int8' | 'uint8', multipliers(as!, ys!, new Float64Array(n)), scalarInt(yz), undefined, op, scratch);
      },
      dispose: () => g.dispose(),
    };
  },
};

const matMulIntegerWasm: KernelDef = {
  op: 'MatMulInteger',
  backend: 'wasm',
  prepare(node, _attrs, types, constant) {
    const mem = arena();
    const b = constant(1);
    const bz = node.inputs[3] ? constant(3) : undefined;
    const a = types[0];
    if (!mem || !b || !isQ8(a?.dtype) || !isQ8(b.type) || b.dims.length !== 2) return decline('needs WASM, 8-bit A and a constant 2-D 8-bit B');
    if (a.shape && a.shape.length < 2) return decline('A has rank < 2');
    if (node.inputs[3] && !bz) return decline("B's zero point is not a constant");
    const [k, n] = b.dims as [number, number];
    if (bz && !(bz.size === 1 || bz.size === n)) return decline("B's zero point is neither per-tensor nor per-column");
    const g = new PackedQGemm(mem, k, n, b, bz && ints(bz));
    return {
      name: g.mode === 'plain' ? (a.dtype === 'uint8' ? 'qu8_gemm_4x8c2' : 'qs8_gemm_4x8c2') : `qs8_gemm_4x8c4_rdot_${g.mode}`,
      run(inputs, [outType]) {
        const [x, , az] = inputs as Tensor[];
        const m = matmulRows(x!, k);
        if (m === undefined || !isScalar(az)) return undefined;
        const y = g.run(x!.data as QData, m, x!.type === 'uint8', scalarInt(az), 'int32');
        return [new Tensor('int32', y, outType!.shape as number[])];
      },
      // static plan: A's zero point a constant (absent: 0) or a scalar the graph computes (DynamicQuantizeLinear's)
      bind({ ins: [xp, , zp], consts: [, , az], inTypes: [xt, , zt], outs: [op], scratch }) {
        const shape = xt?.shape as number[] | undefined;
        const za = zeroPointAt(mem, zp, zt, az);
        if (!shape || shape.length < 2 || shape[shape.length - 1] !== k || za === undefined || xp === undefined || op === undefined || xp < 0 || op < 0) return undefined;
        return g.bindGemm(xp, shape.reduce((a, d) => a * d, 1) / k, xt!.dtype === 'uint8', za, 'int32', undefined, 0, undefined, op, scratch);
      },
      dispose: () => g.dispose(),
    };
  },
};

// ---------------------------------------------------------------- convolution

/**
 * Integer Conv2D, NCHW: per image and group out[Mg×P] = W[Mg×Kg] · cols[Kg×P], with cols written by
 * qs8_im2col_pack_8_range straight into the c2 panels (padding taps hold x_zero_point; one cache block at a time) and W the kernel's "A" rows
 * (stored once, K padded to 8: widened to int16 in 4-row groups for qs8_gemm_a4 when a group has ≥ 4 filters, else
 * int8 rows for qs8_gemm). Σ(w−wz)(x−xz) = Σwx − xz·Σ_k w − wz·Σ_k x + K·wz·xz: the first
 * correction and the constant go into a per-row bias (with B), the second is the rank-1 term −wz[m]·colsum[p]
 * (only when some weight zero point is nonzero).
 */
/**
 * TFLite's requantization (reference_integer_ops conv.h / depthwise_conv.h): per output channel MultiplyByQuantized-
 * Multiplier(acc, mult[c], shift[c]) + y_zp, clamped to [clamp.lo, clamp.hi] (read at run time: a fused activation
 * narrows it after prepare). The kernels requantize in their tiles (asm code | 8), int8 output only.
 */
export interface TflRequant {
  mult: Int32Array;
  shift: Int32Array;
  clamp: { lo: number; hi: number };
}

/** The per-channel (int32 multiplier, int32 shift) pairs of a TflRequant written at `p` (8 bytes a channel). */
function putTflMultipliers(mem: Arena, p: number, t: TflRequant, m: number): void {
  const v = i32(mem, p, 2 * m);
  for (let i = 0; i < m; i++) [v[2 * i], v[2 * i + 1]] = [t.mult[i]!, t.shift[i]!];
}

/**
 * Bytes of packed int8 column panels per cache block: one block is packed, then swept by every weight row (XNNPACK's
 * and MLAS's blocking). The whole image's columns at once were K·P bytes (302 MB for isnet's 3×3 conv of 128
 * channels over 512×512) streamed through memory twice.
 */
let INT8_BLOCK_BYTES = 128 * 1024;

/** Tests: set the column block size (bytes; 1 = one panel per block) for convs prepared after; returns the previous one. */
export function setInt8BlockBytes(bytes: number): number {
  const prev = INT8_BLOCK_BYTES;
  INT8_BLOCK_BYTES = bytes;
  return prev;
}

/** One thread's column block of an int8 conv (images()): packed panels, im2col rows, the GEMM's tile scratch. */
interface ConvBlock {
  panels: number;
  cols: number;
  rows: number;
  tmp: number;
  /** bytes from one thread's block to the next's (each on its own cache lines) */
  stride: number;
}

/** The layout of `nt` per-thread column blocks (≤ blockBytes of panels each) for P pixels and K8 rows, and where they sit from `base`. */
function convBlock(p: number, k8: number, pointwise: boolean, nt: number, blockBytes: number): { bytes: number; at(base: number): ConvBlock } {
  const panels = Math.max(1, Math.min((p + 7) >> 3, Math.floor(blockBytes / (k8 * 8))));
  const colsBytes = panels * k8 * 8;
  const rowsBytes = pointwise ? 0 : 2 * (panels * 8 + 16) + 32;
  const stride = Math.ceil((colsBytes + rowsBytes + 32) / 128) * 128;
  return {
    bytes: stride * Math.max(1, nt) + 128,
    at(base) {
      const cols = (base + 127) & ~127;
      return { panels, cols, rows: cols + colsBytes, tmp: cols + colsBytes + rowsBytes, stride };
    },
  };
}

export function prepareConv(
  ex: KernelExports,
  mem: Arena,
  attrs: Record<string, unknown>,
  xType: 'int8' | 'uint8',
  w: Tensor,
  wz: ArrayLike<number> | undefined,
  bias: ArrayLike<number> | undefined,
  ws: Float32Array | undefined,
  tfl?: TflRequant,
): PreparedKernel {
  const group = (attrs.group as number | undefined) ?? 1;
  const [m, cg, kh, kw] = w.dims as [number, number, number, number];
  const mg = m / group;
  const kg = cg * kh * kw;
  const k8 = pad8(kg);
  const fw = w.type === 'uint8' ? 128 : 0;
  const fx = xType === 'uint8' ? 128 : 0;
  const blockBytes = INT8_BLOCK_BYTES;
  // groups of ≥ 4 filters: weights widened to int16 in 4-row groups (qs8_gemm_a4's broadcast-load tile); fewer
  // (ConvInteger's depthwise-like groups) keep int8 rows, whose 1-row tile does not compute 3 padding rows
  const a4 = mg >= 4;
  const gemm = a4 ? 'qs8_gemm_a4' : 'qs8_gemm';
  const groupBytes = a4 ? ex.qs8_packed_a4_size(mg, kg) : mg * k8;
  const lda = a4 ? 8 * k8 : k8;
  const wp = mem.alloc(group * groupBytes, 'int8 conv weights');
  const rsum = mem.alloc(m * 4, 'int8 conv row sums');
  const rb = mem.alloc(m * 4, 'int8 conv row bias');
  const ru = mem.alloc(m * 4, 'int8 conv rank-1 term');
  const mult = mem.alloc(m * 8, 'requant multipliers');
  const src = mem.inputBytes(w.data as QData, 'int8 conv weights');
  if (a4) for (let gi = 0; gi < group; gi++) ex.qs8_pack_a4(mg, kg, src.ptr + gi * mg * kg, kg, fw ? 1 : 0, wp + gi * groupBytes, rsum + gi * mg * 4);
  else ex.qs8_pack_a(m, kg, src.ptr, kg, fw ? 1 : 0, wp, rsum);
  if (src.copied) mem.release(src.ptr);
  const wzS = new Int32Array(m);
  for (let i = 0; i < m; i++) wzS[i] = (wz ? (wz.length === 1 ? wz[0]! : wz[i]!) : 0) - fw;
  const needColsum = wzS.some((v) => v !== 0);
  const ruv = i32(mem, ru, m);
  for (let i = 0; i < m; i++) ruv[i] = -wzS[i]!;
  const strides = (attrs.strides as number[] | undefined) ?? [1, 1];
  const dil = (attrs.dilations as number[] | undefined) ?? [1, 1];
  const [sh, sw] = strides as [number, number];
  const [dh, dw] = dil as [number, number];
  if (tfl) putTflMultipliers(mem, mult, tfl, m);
  /** rb[m] = B[m] − xz_s·Σ_k w_s[m,k] + K·wz_s[m]·xz_s for x's zero point xz (wrapping int32, as the reference) */
  const rowTerms = (xz: number): void => {
    const xzS = xz - fx;
    const rs = i32(mem, rsum, m);
    const rbv = i32(mem, rb, m);
    for (let i = 0; i < m; i++) rbv[i] = ((bias ? bias[i]! | 0 : 0) - Math.imul(xzS, rs[i]!) + Math.imul(Math.imul(kg, wzS[i]!), xzS)) | 0;
  };
  /**
   * every image and group of x at `xp` into `op` (run's loop, and a static plan's bound call): one cache block of
   * column panels at a time (INT8_BLOCK_BYTES), packed (im2col or the pointwise input's rows) and then multiplied by
   * every weight row while it is L2-resident; threads take blocks (their own region of pixels first). `blk`: the
   * per-thread block (columns, im2col rows, the GEMM's 32-byte tile scratch) of convBlock's layout.
   */
  const images = (xp: number, op: number, dims: readonly number[], xz: number, yz: number, code: number, lo: number, hi: number, esz: number, blk: ConvBlock, cv: number): void => {
    const [n, c, ih, iw] = dims as [number, number, number, number];
    const { oh, ow, pt, pl, p, pointwise } = conv2dAt(ih, iw, kh, kw, attrs as never);
    const inSize = c * ih * iw;
    const nt = threadsFor(mg * p * kg);
    const panels = (p + 7) >> 3;
    const nb = blk.panels;
    const flip = fx ? 1 : 0;
    for (let bi = 0; bi < n; bi++) {
      for (let gi = 0; gi < group; gi++) {
        const xg = xp + bi * inSize + gi * cg * ih * iw;
        const r0 = gi * mg;
        const wa = wp + gi * groupBytes;
        const og = op + (bi * m + r0) * p * esz;
        // panels q0 … q1 − 1 (pixels c0 … c1 − 1): pack them at `cols`, their column sums, the GEMM of every row over them
        const pack = (q0: number, q1: number, cols: number, rows: number): void => {
          if (pointwise) ex.qs8_pack_b(Math.min(p, q1 * 8) - q0 * 8, cg, xg + q0 * 8, p, flip, cols, 0);
          else ex.qs8_im2col_pack_8_range(xg, cg, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, xz, flip, q0, q1, cols, rows);
        };
        if (nt <= 1) {
          for (let q0 = 0; q0 < panels; q0 += nb) {
            const q1 = Math.min(panels, q0 + nb);
            const [c0, c1] = [q0 * 8, Math.min(p, q1 * 8)];
            pack(q0, q1, blk.cols, blk.rows);
            if (cv) ex.qs8_panel_colsum(c1 - c0, kg, blk.cols, cv + c0 * 4);
            ex[gemm](mg, c1 - c0, kg, wa, lda, blk.cols, og + c0 * esz, p, 0, rb + r0 * 4, cv ? ru + r0 * 4 : 0, cv ? cv + c0 * 4 : 0, mult + r0 * 8, 1, yz, lo, hi, code, blk.tmp);
          }
          continue;
        }
        // the same three calls per block as chunks; the block's pointers are thread 0's, moved by `stride` on thread t
        const per = { mask: 0, stride: blk.stride };
        const { ranges, regions } = chunksOf(panels, 1, nt, mg * kg * 8);
        const calls: KernelCall[][] = [];
        for (const [a, b] of ranges) {
          const list: KernelCall[] = [];
          for (let q0 = a; q0 < b; q0 += nb) {
            const q1 = Math.min(b, q0 + nb);
            const [c0, c1] = [q0 * 8, Math.min(p, q1 * 8)];
            if (pointwise) list.push(['qs8_pack_b', [c1 - c0, cg, xg + c0, p, flip, blk.cols, 0], { ...per, mask: 1 << 5 }]);
            else list.push(['qs8_im2col_pack_8_range', [xg, cg, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, xz, flip, q0, q1, blk.cols, blk.rows], { ...per, mask: (1 << 18) | (1 << 19) }]);
            if (cv) list.push(['qs8_panel_colsum', [c1 - c0, kg, blk.cols, cv + c0 * 4], { ...per, mask: 1 << 2 }]);
            list.push([gemm, [mg, c1 - c0, kg, wa, lda, blk.cols, og + c0 * esz, p, 0, rb + r0 * 4, cv ? ru + r0 * 4 : 0, cv ? cv + c0 * 4 : 0, mult + r0 * 8, 1, yz, lo, hi, code, blk.tmp], { ...per, mask: (1 << 5) | (1 << 18) }]);
          }
          calls.push(list);
        }
        forkJoin(ex, calls, nt, regions);
      }
    }
  };
  return {
    name: tfl ? 'qs8_conv2d_tflite' : ws ? 'qs8_conv2d_gemm_4x8c2' : 'qs8_convinteger_gemm_4x8c2',
    run(inputs, [ot]) {
      const xt = inputs[0]!;
      if (xt.dims.length !== 4) return undefined;
      // QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B; ConvInteger: x, w, x_zp, w_zp
      const xz = scalarInt(inputs[2]);
      const kind = outKind(ot!.dtype);
      let code: number = kind.code;
      let yz = 0;
      const [lo, hi] = tfl ? [tfl.clamp.lo, tfl.clamp.hi] : [kind.lo, kind.hi];
      if (tfl) {
        yz = scalarInt(inputs[7]);
        code |= 8;
      } else if (ws) {
        yz = scalarInt(inputs[7]);
        if (convMultipliers(mem, mult, m, inputs[1]!, ws, inputs[6]!)) code |= 4;
      }
      rowTerms(xz);
      const [n, c, ih, iw] = xt.dims as [number, number, number, number];
      const { p, pointwise } = conv2dAt(ih, iw, kh, kw, attrs as never);
      const xin = mem.inputBytes(xt.data as QData, 'int8 conv input');
      const op = mem.alloc(n * m * p * kind.esz, 'int8 conv output');
      const lay = convBlock(p, k8, pointwise, threadsFor(mg * p * kg), blockBytes);
      const blockAt = mem.alloc(lay.bytes, 'int8 conv column blocks');
      const cv = needColsum ? mem.alloc(pad8(p) * 4, 'int8 conv column sums') : 0;
      let ok = false;
      try {
        images(xin.ptr, op, [n, c, ih, iw], xz, yz, code, lo, hi, kind.esz, lay.at(blockAt), cv);
        ok = true;
        return [new Tensor(ot!.dtype, outView(mem, kind.code, op, n * m * p), ot!.shape as number[])];
      } finally {
        if (cv) mem.release(cv);
        mem.release(blockAt);
        if (!ok) mem.release(op);
        if (xin.copied) mem.release(xin.ptr);
      }
    },
    bind({ ins, consts, inTypes: [xt, , zt], outs: [op], outTypes: [ot], scratch }) {
      const dims = xt!.shape as number[];
      // TFLite, and QLinearConv with constant scales (its multipliers then are what run() computes), y's zero point
      // constant; x's a constant, or (ConvInteger after DynamicQuantizeLinear) a scalar the graph computes: the call
      // reads it and redoes the row terms (m values) before the images
      const xz = zeroPointAt(mem, ins[2], zt, consts[2]);
      if (xz === undefined || dims.length !== 4 || ins[0]! < 0 || op! < 0 || (ins[7] ?? -1) >= 0) return undefined;
      const kind = outKind(ot!.dtype);
      let code: number = kind.code | (tfl ? 8 : 0);
      if (ws) {
        const [xs, ys] = [oneF32(consts[1]), oneF32(consts[6])];
        if (!xs || !ys) return undefined;
        if (convMultipliers(mem, mult, m, xs, ws, ys)) code |= 4;
      }
      const [, , ih, iw] = dims as [number, number, number, number];
      const { p, pointwise } = conv2dAt(ih, iw, kh, kw, attrs as never);
      // blocks for every thread the session may run (threadsFor decides per call)
      const lay = convBlock(p, k8, pointwise, MAX_THREADS, blockBytes);
      const blk = lay.at(scratch(lay.bytes, 'int8 conv column blocks'));
      const cv = needColsum ? scratch(pad8(p) * 4, 'int8 conv column sums') : 0;
      const [xp, yz] = [ins[0]!, scalarInt(consts[7])];
      const [lo, hi] = tfl ? [tfl.clamp.lo, tfl.clamp.hi] : [kind.lo, kind.hi];
      if (typeof xz === 'number') {
        rowTerms(xz);
        return () => images(xp, op!, dims, xz, yz, code, lo, hi, kind.esz, blk, cv);
      }
      return () => {
        const z = xz();
        rowTerms(z);
        images(xp, op!, dims, z, yz, code, lo, hi, kind.esz, blk, cv);
      };
    },
    dispose() {
      for (const q of [wp, rsum, rb, ru, mult]) mem.release(q);
    },
  };
}

/**
 * Depthwise QLinearConv (group = C = M, one input channel per filter), 2-D NCHW: the direct kernel
 * asm/qs8_dwconv.ts (no im2col, no GEMM of one-row matrices). Taps are stored once as int16 w − w_zero_point[m].
 * With `tfl` the kernel requantizes with TFLite's fixed-point arithmetic (DEPTHWISE_CONV_2D) instead of the float one.
 */
export function prepareDwConv(ex: KernelExports, mem: Arena, attrs: Record<string, unknown>, xType: 'int8' | 'uint8', w: Tensor, wz: ArrayLike<number>, bias: ArrayLike<number> | undefined, ws: Float32Array | undefined, tfl?: TflRequant): PreparedKernel {
  const [m, , kh, kw] = w.dims as [number, number, number, number];
  const taps = kh * kw;
  const wt = mem.alloc(m * taps * 2, 'int8 depthwise taps');
  const bp = mem.alloc(m * 4, 'int8 depthwise bias');
  const mult = mem.alloc(m * 8, 'requant multipliers');
  const wv = ints(w);
  const wtv = new Int16Array(mem.buffer, wt, m * taps);
  for (let i = 0; i < m; i++) for (let t = 0; t < taps; t++) wtv[i * taps + t] = wv[i * taps + t]! - (wz.length === 1 ? wz[0]! : wz[i]!);
  i32(mem, bp, m).set(Int32Array.from({ length: m }, (_, i) => (bias ? bias[i]! | 0 : 0)));
  const [sh, sw] = ((attrs.strides as number[] | undefined) ?? [1, 1]) as [number, number];
  const [dh, dw] = ((attrs.dilations as number[] | undefined) ?? [1, 1]) as [number, number];
  if (tfl) putTflMultipliers(mem, mult, tfl, m);
  const uns = xType === 'uint8' ? 1 : 0;
  /** every image of x at xp (NCHW dims) into op, channels split over `nt` threads with a scratch each */
  const images = (xp: number, op: number, dims: readonly number[], xz: number, yz: number, code: number, lo: number, hi: number, nt: number, scr: { ptr: number; stride: number }) => {
    const [n, c, ih, iw] = dims as [number, number, number, number];
    const { oh, ow, pt, pl } = conv2dAt(ih, iw, kh, kw, attrs as never);
    for (let bi = 0; bi < n; bi++) {
      const [xb, ob] = [xp + bi * c * ih * iw, op + bi * m * oh * ow];
      forkJoin(ex, shares(c, 1, nt).map(([c0, c1], t): KernelCall[] => [['qs8_dwconv2d', [xb + c0 * ih * iw, c1 - c0, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, xz, uns, wt + c0 * taps * 2, bp + c0 * 4, mult + c0 * 8, yz, lo, hi, code, ob + c0 * oh * ow, scr.ptr + t * scr.stride]]]));
    }
  };
  return {
    name: tfl ? 'qs8_dwconv2d_tflite' : 'qs8_dwconv2d',
    run(inputs, [ot]) {
      const xt = inputs[0]!;
      if (xt.dims.length !== 4) return undefined;
      const kind = outKind(ot!.dtype);
      let code: number = kind.code | 8;
      if (!tfl) code = kind.code | (convMultipliers(mem, mult, m, inputs[1]!, ws!, inputs[6]!) ? 4 : 0);
      const [lo, hi] = tfl ? [tfl.clamp.lo, tfl.clamp.hi] : [kind.lo, kind.hi];
      const [n, , ih, iw] = xt.dims as [number, number, number, number];
      const { oh, ow } = conv2dAt(ih, iw, kh, kw, attrs as never);
      const xin = mem.inputBytes(xt.data as QData, 'int8 conv input');
      const op = mem.alloc(n * m * oh * ow, 'int8 conv output');
      // kernel threads: channels split, a scratch block each
      const nt = threadsFor(m * oh * ow * taps);
      const scratches = threadScratch(mem, ex.qs8_dwconv_scratch(kh, kw, sh, sw, dh, dw, oh, ow), nt, 'int8 depthwise scratch');
      try {
        images(xin.ptr, op, xt.dims as number[], scalarInt(inputs[2]), scalarInt(inputs[7]), code, lo, hi, nt, scratches);
      } finally {
        mem.release(scratches.block);
        if (xin.copied) mem.release(xin.ptr);
      }
      return [new Tensor(ot!.dtype, outView(mem, kind.code, op, n * m * oh * ow), ot!.shape as number[])];
    },
    // TFLite, and QLinearConv with constant scales (the multipliers run() would compute, written now); zero points
    // constant; scratch for every thread the session may run (threadsFor decides per call)
    bind({ ins, consts, inTypes: [xt], outs: [op], outTypes: [ot], scratch }) {
      const dims = xt?.shape as number[] | undefined;
      if (!dims || dims.length !== 4 || (ins[0] ?? -1) < 0 || (op ?? -1) < 0 || (ins[2] ?? -1) >= 0 || (ins[7] ?? -1) >= 0) return undefined;
      const kind = outKind(ot!.dtype);
      let code = kind.code | 8;
      if (!tfl) {
        const [xs, ys] = [oneF32(consts[1]), oneF32(consts[6])];
        if (!xs || !ys) return undefined;
        code = kind.code | (convMultipliers(mem, mult, m, xs, ws!, ys) ? 4 : 0);
      }
      const [lo, hi] = tfl ? [tfl.clamp.lo, tfl.clamp.hi] : [kind.lo, kind.hi];
      const { oh, ow } = conv2dAt(dims[2]!, dims[3]!, kh, kw, attrs as never);
      const scr = threadScratch({ alloc: scratch }, ex.qs8_dwconv_scratch(kh, kw, sh, sw, dh, dw, oh, ow), MAX_THREADS, 'int8 depthwise scratch');
      const [xp, xz, yz] = [ins[0]!, scalarInt(consts[2]), scalarInt(consts[7])];
      return () => images(xp, op!, dims, xz, yz, code, lo, hi, threadsFor(m * oh * ow * taps), scr);
    },
    dispose() {
      for (const q of [wt, bp, mult]) mem.release(q);
    },
  };
}

function convOk(attrs: Record<string, unknown>, w: Tensor | undefined, xShape: readonly unknown[] | undefined): w is Tensor {
  if (!w || !isQ8(w.type) || (w.dims.length !== 4 && w.dims.length !== 3)) return false;
  if (xShape && xShape.length !== w.dims.length) return false;
  const group = (attrs.group as number | undefined) ?? 1;
  return Number.isInteger(group) && group >= 1 && w.dims[0]! % group === 0;
}

/**
 * A 1-D ConvInteger / QLinearConv (X [N, C, W], W [M, C/group, k]: whisper's and other audio front ends' Conv1d,
 * quantized) as the 2-D kernel with H = 1, as the float Conv kernel runs it: `prepare2d` gets the lifted
 * attributes (attrs2d) and the weight viewed as [M, C/group, 1, k]; the prepared kernel sees X as [N, C, 1, W]
 * and writes the node's own [N, M, W'] output (same values, same order). 2-D weights pass through unchanged.
 */
function convRank(attrs: Record<string, unknown>, w: Tensor, prepare2d: (attrs: Record<string, unknown>, w: Tensor) => PreparedKernel): PreparedKernel {
  if (w.dims.length === 4) return prepare2d(attrs, w);
  const k = prepare2d(attrs2d(attrs, 1), new Tensor(w.type, w.data, dims2d(w.dims)));
  return {
    name: k.name,
    run(inputs, outputTypes) {
      const x = inputs[0]!;
      if (x.dims.length !== 3) return undefined;
      return k.run([new Tensor(x.type, x.data, dims2d(x.dims)), ...inputs.slice(1)], outputTypes);
    },
    // static plan: the 2-D kernel's bound call on X's block seen as [N, C, 1, W]
    bind: k.bind && ((b) => {
      const t = b.inTypes[0];
      if (!t?.shape || t.shape.length !== 3) return undefined;
      return k.bind!({ ...b, inTypes: [{ ...t, shape: dims2d(t.shape as number[]) }, ...b.inTypes.slice(1)] });
    }),
    dispose: () => k.dispose?.(),
  };
}

const qlinearConvWasm: KernelDef = {
  op: 'QLinearConv',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    const w = constant(3);
    const ws = constant(4);
    const wz = constant(5);
    const b = node.inputs[8] ? constant(8) : undefined;
    const x = types[0];
    if (!mem || !ex || !isQ8(x?.dtype) || !convOk(attrs, w, x.shape) || !ws || ws.type !== 'float32' || !wz) return decline('needs WASM, 8-bit X, a constant 8-bit 1-D or 2-D conv weight the kernel supports, constant float32 scale and zero point');
    if (node.inputs[8] && (!b || b.type !== 'int32')) return decline('bias is not a constant int32');
    if (types[1]?.dtype !== 'float32' || types[6]?.dtype !== 'float32') return decline('scales are not float32');
    const group = (attrs.group as number | undefined) ?? 1;
    const xType = x.dtype;
    return convRank(attrs, w, (a, w4) =>
      group > 1 && group === w4.dims[0] && w4.dims[1] === 1
        ? prepareDwConv(ex, mem, a, xType, w4, ints(wz), b && ints(b), ws.data as Float32Array)
        : prepareConv(ex, mem, a, xType, w4, ints(wz), b && ints(b), ws.data as Float32Array),
    );
  },
};

const convIntegerWasm: KernelDef = {
  op: 'ConvInteger',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    const w = constant(1);
    const wz = node.inputs[3] ? constant(3) : undefined;
    const x = types[0];
    if (!mem || !ex || !isQ8(x?.dtype) || !convOk(attrs, w, x.shape)) return decline('needs WASM, 8-bit X and a constant 8-bit 1-D or 2-D conv weight the kernel supports');
    if (node.inputs[3] && !wz) return decline("W's zero point is not a constant");
    const xType = x.dtype;
    return convRank(attrs, w, (a, w4) => prepareConv(ex, mem, a, xType, w4, wz && ints(wz), undefined, undefined));
  },
};

registerKernel(qlinearMatMulWasm);
registerKernel(matMulIntegerWasm);
registerKernel(qlinearConvWasm);
registerKernel(convIntegerWasm);
