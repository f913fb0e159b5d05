import { gemmRowBias } from './gemm-bias.js';
import { Epilogue } from './epilogue.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import { f16ArrayToF32, f32ArrayToF16, f32ToF16 } from '../tensor/fp16.js';
import { type KernelCall, chunksOf, forkRanges, threadsFor } from './threads.js';
import { type Arena, arena, kernels } from './wasm.js';
import { type KernelDef, type PreparedKernel, type Producer, decline, registerKernel } from './registry.js';
import { convF32Shape, runConvF32 } from './conv-run.js';

/**
 * fp16 weights: Conv / Gemm / MatMul whose constant weight is float16 — either the whole node is float16, or a
 * float32 node whose weight is a float16 initializer behind a Cast (constant folding hands the kernel the
 * widened float32 copy; every value of it is then exactly a half, which is what we test — storing such a weight
 * as halves loses nothing, so the result is the float32 kernels' bit for bit).
 * The weights live in kernel memory as halves (half the bytes of the f32 kernels):
 *  - Gemm / MatMul: packed once into fp16 panels (f16_gemm_pack_8); the micro-kernels widen each row of 8 halves
 *    in registers (f16_gemm) for M < 16 rows, or (M ≥ 16) the panels are widened per run into f32 scratch for f32_gemm.
 *  - Conv: W[M×K] kept as halves, widened per run (M·K values, small next to the M·K·P multiply-adds) into f32
 *    scratch for the same im2col-pack + f32_gemm / depthwise kernels the f32 Conv uses. Float16 conv weights behind
 *    a Cast are folded to float32 by canonicalize (halfWeightCast), so this path serves float16 graphs and plans
 *    made without canonicalize.
 * Inf/NaN weights are left to the other kernels (the in-register widening is exact for finite halves only).
 * float16 activations are widened on the way in and rounded to half (nearest-even) on the way out.
 */

/** Halves of `t` if it is float16, or of a float32 tensor whose every value is exactly a finite half; else undefined. */
export function asHalves(t: TensorT | undefined): Uint16Array | undefined {
  if (!t) return undefined;
  if (t.type === 'float16') {
    const h = t.data as Uint16Array;
    for (let i = 0; i < h.length; i++) if ((h[i]! & 0x7c00) === 0x7c00) return undefined;
    return h;
  }
  if (t.type !== 'float32' || t.size === 0) return undefined;
  const f = t.data as Float32Array;
  const h = new Uint16Array(f.length);
  const back = new Float32Array(1);
  for (let i = 0; i < f.length; i++) {
    const v = f[i]!;
    const b = f32ToF16(v);
    if ((b & 0x7c00) === 0x7c00) return undefined;
    back[0] = halfToF32(b);
    // exact, including the sign of zero (Object.is): -0 and +0 give different sums only in corner cases, keep both
    if (!Object.is(back[0], v)) return undefined;
    h[i] = b;
  }
  return h;
}

function halfToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  return e === 0 ? sign * m * 2 ** -24 : sign * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * A float32 weight that is a float16 initializer behind a Cast too big for load-time folding reaches the
 * consumers as a run-time value. A consumer sees the Cast through the plan's `producer` view and keeps the halves;
 * the Cast kernel below tags every tensor it produces, and a consumer uses the halves only if, at run time, its
 * input really is the tagged output made from that source (else it returns undefined and the reference runs).
 */
const castOutputs = new WeakMap<object, TensorT>();

type Types = ({ dtype: string; shape?: (number | string)[] } | undefined)[];

/** The float16 initializer behind input `i` when its producer is Cast(to float32) of one. */
function castSource(i: number, types: Types, producer: ((i: number) => Producer | undefined) | undefined): TensorT | undefined {
  const p = producer?.(i);
  if (!p || p.node.op !== 'Cast' || p.node.domain !== '' || p.attrs.to !== 1) return undefined;
  const src = p.constant(0);
  const t = types[i];
  if (!src || src.type !== 'float16' || t?.dtype !== 'float32' || !t.shape || t.shape.length !== src.dims.length || t.shape.some((d, j) => d !== src.dims[j])) return undefined;
  return src;
}

/** Weight `i`: a float16 constant (float16 node), or the float16 source of a Cast (checked again at run time). */
function weight(i: number, types: Types, constant: (i: number) => TensorT | undefined, producer: ((i: number) => Producer | undefined) | undefined): { w: TensorT; viaCast: boolean } | undefined {
  const c = constant(i);
  // a folded constant only when it is float16 itself (a float16 node): a small float16 weight behind a Cast
  // folds to float32, and for that the f32 kernels are faster (no widening in the loop) at a trivial memory cost
  if (c) return c.type === 'float16' ? { w: c, viaCast: false } : undefined;
  const s = castSource(i, types, producer);
  return s ? { w: s, viaCast: true } : undefined;
}

/** runs where a consumer found its input was not the noted Cast's output (e.g. views rebound after memory.grow) */
export const fp16Stats = { castMisses: 0 };

/** at run time: is `t` the Cast output made from `src`? */
function fromCast(t: TensorT | undefined, src: TensorT): boolean {
  if (t && castOutputs.get(t.data as object) === src) return true;
  fp16Stats.castMisses++;
  return false;
}

/** Cast(float16 constant → float32) too big to fold: widened in WASM each run, output tagged for the consumers. */
const castF16: KernelDef = {
  op: 'Cast',
  backend: 'wasm',
  prepare(node, attrs, _types, constant) {
    const src = constant(0);
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex || !src || src.type !== 'float16' || attrs.to !== 1 || !node.outputs[0]) return decline('needs WASM and a constant float16 input cast to float32');
    const h = src.data as Uint16Array;
    return {
      name: 'f16_to_f32',
      elidable: true,
      run(_inputs, [out]) {
        const hp = mem.alloc(h.length * 2, 'cast input');
        const op = mem.alloc(h.length * 4, 'cast output');
        new Uint16Array(mem.buffer, hp, h.length).set(h);
        ex.f16_to_f32(h.length, hp, op);
        mem.release(hp);
        const view = mem.f32(op, h.length);
        castOutputs.set(view, src);
        return [new Tensor('float32', view, out!.shape as number[])];
      },
    } satisfies PreparedKernel;
  },
};

/** Floats of an activation tensor (float32 as is, float16 widened). */
const actFloats = (t: TensorT): Float32Array => (t.type === 'float16' ? f16ArrayToF32(t.data as Uint16Array) : (t.data as Float32Array));

export type F16Strategy = 'kernel' | 'unpack' | 'auto';
/**
 * 'auto': rows at which widening all panels once per run (K·N conversions) beats widening in the micro-kernel
 * (K·N/4 conversions per 4-row tile). Measured with bench/fp16.bench.js: in-kernel widening costs ~1.4× f32 on
 * compute-bound tiles, the per-run unpack ~1.05–1.2× at M ≥ 64 but 1.9× at M = 4 (see the README table).
 */
const UNPACK_MIN_ROWS = 16;

/**
 * GEMM against a constant fp16 weight packed once into kernel memory (f16_gemm_pack_8 panels, 16 bytes per k
 * and 8 columns instead of 32). `w` is K×N row-major halves (finite); `bias` has N entries or is undefined.
 */
export class PackedGemmF16 {
  private readonly packed: number;
  readonly bytes: number;
  constructor(
    private readonly mem: Arena,
    readonly k: number,
    readonly n: number,
    w: Uint16Array,
    bias?: Float32Array,
    /** 'kernel': widen in the micro-kernel; 'unpack': widen all panels to f32 scratch per run, then f32_gemm */
    readonly strategy: F16Strategy = 'auto',
  ) {
    const ex = kernels()!;
    this.bytes = ex.f16_gemm_packed_size_8(n, k);
    this.packed = mem.alloc(this.bytes, 'packed fp16 gemm weight');
    const wp = mem.alloc(w.length * 2, 'fp16 gemm weight');
    new Uint16Array(mem.buffer, wp, w.length).set(w);
    let bp = 0;
    if (bias) {
      bp = mem.alloc(n * 4, 'gemm bias');
      mem.f32(bp, n).set(bias);
    }
    ex.f16_gemm_pack_8(n, k, wp, n, bp, this.packed);
    if (bp) mem.release(bp);
    mem.release(wp);
  }

  /**
   * On kernel threads the columns are cut into chunks of whole 8-column panels (chunksOf), each chunk the same calls
   * over its panels — in-kernel widening, or widening its panels and f32_gemm over them — so every output element is
   * computed exactly as on one thread (panels are independent): bit-identical for any thread count.
   */
  private gemm(m: number, ap: number, cp: number, lo: number, hi: number): void {
    const ex = kernels()!;
    const { n, k } = this;
    const inKernel = this.strategy === 'kernel' || (this.strategy === 'auto' && m < UNPACK_MIN_ROWS);
    const nt = threadsFor(m * n * k);
    // bytes per 8-column panel: fp16 (8 f32 of bias, then k rows of 8 halves) and widened f32 (f32_gemm_pack_8's)
    const [p16, p32] = [32 + k * 16, (k + 1) * 32];
    if (inKernel) {
      if (nt <= 1) return ex.f16_gemm(m, n, k, ap, k, this.packed, cp, n, lo, hi);
      const cols = chunksOf(n, 8, nt, m * k);
      return forkRanges(ex, cols, nt, (c0, c1): KernelCall[] => [['f16_gemm', [m, c1 - c0, k, ap, k, this.packed + (c0 >> 3) * p16, cp + c0 * 4, n, lo, hi]]]);
    }
    const wf = this.mem.alloc(ex.f32_gemm_packed_size_8(n, k), 'widened gemm weight');
    try {
      if (nt <= 1) {
        ex.f16_gemm_unpack_8(n, k, this.packed, wf);
        ex.f32_gemm(m, n, k, ap, k, wf, cp, n, lo, hi, 0);
        return;
      }
      const cols = chunksOf(n, 8, nt, m * k);
      forkRanges(ex, cols, nt, (c0, c1): KernelCall[] => [
        ['f16_gemm_unpack_8', [c1 - c0, k, this.packed + (c0 >> 3) * p16, wf + (c0 >> 3) * p32]],
        ['f32_gemm', [m, c1 - c0, k, ap, k, wf + (c0 >> 3) * p32, cp + c0 * 4, n, lo, hi, 0]],
      ]);
    } finally {
      this.mem.release(wf);
    }
  }

  /** C[m×n] = A[m×k] · W + bias, clamped, as a view into kernel memory the caller must `mem.release(ptr)`. */
  runResident(a: Float32Array, m: number, lo = -Infinity, hi = Infinity): { view: Float32Array; ptr: number } {
    const ain = this.mem.input(a.subarray(0, m * this.k), 'gemm input');
    const cp = this.mem.alloc(m * this.n * 4, 'gemm output');
    try {
      this.gemm(m, ain.ptr, cp, lo, hi);
    } finally {
      if (ain.copied) this.mem.release(ain.ptr);
    }
    return { view: this.mem.f32(cp, m * this.n), ptr: cp };
  }

  /**
   * A static plan's bound call: C[m×n] at `cp` from float32 A[m×k] at `ap` (runResident's GEMM on fixed places), or
   * undefined unless A and C are float32 (float16 activations convert on the general path).
   */
  bind(m: number, a: { ins: number[]; inTypes: ({ dtype: string } | undefined)[]; outs: number[]; outTypes: { dtype: string }[] }, lo: number, hi: number): (() => void) | undefined {
    const [ap, cp] = [a.ins[0]!, a.outs[0]!];
    if (ap < 0 || cp < 0 || a.inTypes[0]?.dtype !== 'float32' || a.outTypes[0]!.dtype !== 'float32' || !Number.isInteger(m)) return undefined;
    return () => this.gemm(m, ap, cp, lo, hi);
  }

  /** C[m×n] = A[m×k] · W + bias, clamped, copied out to JS memory. */
  run(a: Float32Array, m: number, lo = -Infinity, hi = Infinity): Float32Array {
    const r = this.runResident(a, m, lo, hi);
    try {
      return r.view.slice();
    } finally {
      this.mem.release(r.ptr);
    }
  }

  dispose(): void {
    this.mem.release(this.packed);
  }
}

/** Wrap a resident f32 result as the node's output: float32 stays resident, float16 is rounded and freed. */
function output(mem: Arena, r: { view: Float32Array; ptr: number }, dtype: string, shape: number[]): Tensor {
  if (dtype === 'float32') return new Tensor('float32', r.view, shape);
  const h = f32ArrayToF16(r.view);
  mem.release(r.ptr);
  return new Tensor('float16', h, shape);
}

/** the activation dtype this file handles with the given weight: f32 activations, or all-float16 nodes */
function actOk(xType: string | undefined, w: TensorT): boolean {
  return xType === 'float32' ? w.type === 'float32' || w.type === 'float16' : xType === 'float16' && w.type === 'float16';
}


const matmulF16: KernelDef = {
  op: 'MatMul',
  backend: 'wasm',
  prepare(node, _attrs, types, constant, producer) {
    const wb = weight(1, types, constant, producer);
    const b = wb?.w;
    const mem = arena();
    const xt = types[0]?.dtype;
    if (!mem || !b || b.dims.length !== 2 || !actOk(xt, b)) return decline("needs WASM and a constant 2-D float16 weight (or a float16 weight's Cast) with float32/float16 activations");
    if (types[0]!.shape && types[0]!.shape.length < 2) return decline('A has rank < 2');
    const h = asHalves(b);
    if (!h) return decline('weight is not exactly representable as float16');
    const [k, n] = b.dims as [number, number];
    const g = new PackedGemmF16(mem, k, n, h);
    const c = new Epilogue();
    return {
      name: 'f16w_gemm_4x8',
      fuseClamp: c.fuseClamp,
      // the weight's Cast output is never read (the halves are here); A's rank is known, so no fallback either
      ignoresInput: (i) => i === 1 && wb.viaCast && !!types[0]!.shape,
      run([a, bt], [out]) {
        if (!a || a.dims.length < 2 || (wb!.viaCast && bt !== undefined && !fromCast(bt, b))) return undefined;
        const m = a.size / k;
        return [output(mem, g.runResident(actFloats(a), m, c.lo, c.hi), out!.dtype, out!.shape as number[])];
      },
      bind: (b) => (b.inTypes[0]!.shape!.length < 2 ? undefined : g.bind((b.inTypes[0]!.shape as number[]).reduce((x, d) => x * d, 1) / k, b, c.lo, c.hi)),
      dispose: () => g.dispose(),
    } satisfies PreparedKernel;
  },
};

const gemmF16: KernelDef = {
  op: 'Gemm',
  backend: 'wasm',
  prepare(node, attrs, types, constant, producer) {
    const wb = weight(1, types, constant, producer);
    const b = wb?.w;
    const mem = arena();
    const xt = types[0]?.dtype;
    // alpha·B is generally not a half any more: alpha ≠ 1 stays with the f32 kernel / reference
    if (!mem || !b || b.dims.length !== 2 || !actOk(xt, b) || attrs.transA || (attrs.alpha ?? 1) !== 1) return decline('needs WASM, a constant 2-D float16 weight, no transA and alpha = 1');
    const h0 = asHalves(b);
    if (!h0) return decline('weight is not exactly representable as float16');
    const [k, n] = (attrs.transB ? [b.dims[1], b.dims[0]] : b.dims) as [number, number];
    let h = h0;
    if (attrs.transB) {
      h = new Uint16Array(k * n);
      for (let kk = 0; kk < k; kk++) for (let j = 0; j < n; j++) h[kk * n + j] = h0[j * k + kk]!;
    }
    let bias: Float32Array | undefined;
    if (node.inputs[2]) {
      const c = constant(2);
      if (!c || (c.type !== 'float32' && c.type !== 'float16')) return decline('C is not a constant float32/float16');
      const beta = attrs.beta ?? 1;
      bias = gemmRowBias(actFloats(c), c.dims, n, beta);
      if (!bias) return decline('C does not broadcast as a row bias');
    }
    const g = new PackedGemmF16(mem, k, n, h, bias);
    const c = new Epilogue();
    return {
      name: 'f16w_gemm_4x8',
      fuseClamp: c.fuseClamp,
      ignoresInput: (i) => i === 1 && wb.viaCast,
      run([a, bt], [out]) {
        if (wb!.viaCast && bt !== undefined && !fromCast(bt, b)) return undefined;
        const m = a!.dims[0]!;
        return [output(mem, g.runResident(actFloats(a!), m, c.lo, c.hi), out!.dtype, out!.shape as number[])];
      },
      bind: (b) => g.bind(b.inTypes[0]!.shape![0] as number, b, c.lo, c.hi),
      dispose: () => g.dispose(),
    } satisfies PreparedKernel;
  },
};

/** Conv2D NCHW with fp16 weights kept as halves in kernel memory (any group count; see the file comment). */
const convF16: KernelDef = {
  op: 'Conv',
  backend: 'wasm',
  prepare(node, attrs, types, constant, producer) {
    const ww = weight(1, types, constant, producer);
    const w = ww?.w;
    const bt = node.inputs[2] ? constant(2) : undefined;
    const mem = arena();
    const ex = kernels();
    const x = types[0];
    if (!mem || !ex || !w || w.dims.length !== 4 || !actOk(x?.dtype, w)) return decline("needs WASM and a constant 4-D float16 weight (or a float16 weight's Cast) with float32/float16 activations");
    if (x!.shape && x!.shape.length !== 4) return decline('only 2-D convs (X rank is not 4)');
    if (node.inputs[2] && (!bt || (bt.type !== 'float32' && bt.type !== 'float16') || (x!.dtype === 'float16') !== (bt.type === 'float16'))) return decline("bias is not a constant of the activation's float type");
    const h = asHalves(w);
    if (!h) return decline('weight is not exactly representable as float16');
    const shape = convF32Shape(w.dims, attrs);
    if (!shape) return decline('attributes not supported by the f32 conv geometry');
    const { m, depthwise, dw3x3, dw5x5 } = shape;
    const hp = mem.alloc(h.length * 2, 'fp16 conv weights');
    new Uint16Array(mem.buffer, hp, h.length).set(h);
    const bias = bt ? Float32Array.from(actFloats(bt)) : new Float32Array(m);
    const bp = mem.alloc(m * 4, 'conv bias');
    mem.f32(bp, m).set(bias);
    const c = new Epilogue();
    return {
      name: dw3x3 ? 'f16w_dwconv3x3' : dw5x5 ? 'f16w_dwconv5x5' : depthwise ? 'f16w_dwconv2d' : 'f16w_conv2d_gemm_4x8',
      fuseClamp: c.fuseClamp,
      ignoresInput: (i) => i === 1 && ww.viaCast,
      run([input, wt], [outType]) {
        if (ww!.viaCast && wt !== undefined && !fromCast(wt, w)) return undefined;
        const xt = input!;
        const xin = mem.input(actFloats(xt), 'conv input');
        // the weights stay halves between runs; widened into a scratch block for this run (M·K values)
        const wf = mem.alloc(h.length * 4, 'widened conv weights');
        try {
          ex.f16_to_f32(h.length, hp, wf);
          const op = runConvF32(mem, ex, shape, attrs, xt.dims, xin.ptr, wf, bp, c.lo, c.hi);
          const out = outType!.shape as number[];
          return [output(mem, { view: mem.f32(op, out.reduce((a, d) => a * d, 1)), ptr: op }, outType!.dtype, out)];
        } finally {
          mem.release(wf);
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      dispose() {
        mem.release(bp);
        mem.release(hp);
      },
    } satisfies PreparedKernel;
  },
};

registerKernel(castF16);
registerKernel(matmulF16);
registerKernel(gemmF16);
registerKernel(convF16);
