import { type KernelCall, chunksOf, forkRanges, threadsFor } from './threads.js';
import { type KernelExports, arena, kernels } from './wasm.js';

/**
 * What a kernel folds in after its arithmetic: a clamp (Relu, Relu6/Clip, Max/Min by a scalar constant) applied
 * inside the micro-kernel's store (or, after an activation, as a clamp step), then pointwise steps — activations (LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Erf, Tanh, Gelu) and Mul/Add/Sub
 * by a scalar constant — each run over the output block in place right after it is written (asm/f32_act.ts
 * f32_unary). The plan (runtime/executor.ts) folds those nodes away. Order is the graph's: a clamp can fold in only
 * before any step.
 */
export class Epilogue {
  lo = -Infinity;
  hi = Infinity;
  /** pointwise steps after the clamp, in graph order: activations (POST_OPS), scalar Mul/Add steps (AFFINE) and
   * per-channel PRelu (code PRELU, with its slopes and the [channels, inner] blocks they apply over) */
  private posts: [code: number, alpha: number, beta: number, prelu?: { ptr: number; c: number; inner: number; bias?: number }][] = [];

  /**
   * `channelPosts`: the kernel also takes per-channel PRelu (its slopes live in kernel memory from the plan on, so
   * the kernel must call dispose()); without it fusePost declines PRelu.
   */
  constructor(private readonly channelPosts = false) {}

  /** Whether nothing is folded in yet: no clamp and no step (a residual Add may then join before all of them). */
  get empty(): boolean {
    return this.lo === -Infinity && this.hi === Infinity && this.posts.length === 0;
  }

  /** Release the PRelu slopes (kernels built with channelPosts call this from their dispose). */
  dispose(): void {
    const mem = arena();
    for (const p of this.posts)
      if (p[3] && mem) {
        mem.release(p[3].ptr);
        if (p[3].bias !== undefined) mem.release(p[3].bias);
      }
    this.posts = [];
  }

  readonly fuseClamp = (l: number, h: number): boolean => {
    if (this.posts.length) {
      // after an activation (LeakyRelu → Max(·, c), tf2onnx's tf.math.maximum): a clamp step over the output, merged
      // with a clamp step right before it
      const last = this.posts[this.posts.length - 1]!;
      if (last[0] === UNARY.clamp) last.splice(1, 2, Math.max(last[1], l), Math.min(last[2], h));
      else this.posts.push([UNARY.clamp, l, h]);
      return true;
    }
    this.lo = Math.max(this.lo, l);
    this.hi = Math.min(this.hi, h);
    return true;
  };

  readonly fusePost = (op: string, attrs: Record<string, unknown>): boolean => {
    if (op === AFFINE) {
      // y·alpha + beta (the plan passes a Mul or an Add/Sub by a float32 scalar constant); a Mul then an Add merge
      // into one step, which rounds exactly as the two ops do (x·a, then + b)
      const a = attrs.alpha as number;
      const b = attrs.beta as number;
      const last = this.posts[this.posts.length - 1];
      if (last && last[0] === UNARY.mul && a === 1) last.splice(0, 3, UNARY.affine, last[1], b);
      // beta = −0 marks a pure multiply (x·a + (−0) = x·a for every x, signed zeros included); alpha = 1 an add
      else this.posts.push(Object.is(b, -0) ? [UNARY.mul, a, 0] : a === 1 ? [UNARY.add, 1, b] : [UNARY.affine, a, b]);
      return true;
    }
    if (op === 'PRelu') {
      // { slope: one float per channel, inner: elements per channel in each block } from the plan (executor.ts)
      const slope = attrs.slope;
      const inner = attrs.inner;
      const mem = arena();
      if (!this.channelPosts || !mem || !(slope instanceof Float32Array) || !slope.length || typeof inner !== 'number' || inner < 1) return false;
      const ptr = mem.alloc(slope.length * 4, 'PRelu slopes');
      mem.f32(ptr, slope.length).set(slope);
      this.posts.push([PRELU, 0, 0, { ptr, c: slope.length, inner }]);
      return true;
    }
    if (op === CHANNEL_AFFINE) {
      // { scale, bias: one float each per channel, inner: elements per channel in each block } (executor.ts: a
      // depthwise 1×1 conv or an inference BatchNormalization after this kernel's activation)
      const { scale, bias, inner } = attrs as { scale?: unknown; bias?: unknown; inner?: unknown };
      const mem = arena();
      if (!this.channelPosts || !mem || !(scale instanceof Float32Array) || !(bias instanceof Float32Array) || !scale.length || bias.length !== scale.length || typeof inner !== 'number' || inner < 1) return false;
      const ptr = mem.alloc(scale.length * 4, 'channel scales');
      mem.f32(ptr, scale.length).set(scale);
      const bp = mem.alloc(bias.length * 4, 'channel biases');
      mem.f32(bp, bias.length).set(bias);
      this.posts.push([CHANNEL, 0, 0, { ptr, c: scale.length, inner, bias: bp }]);
      return true;
    }
    const code = POST_OPS[op];
    if (code === undefined || !postSupported(op, attrs)) return false;
    const f = (k: string, d: number) => (typeof attrs[k] === 'number' ? (attrs[k] as number) : d);
    this.posts.push([code, f('alpha', op === 'LeakyRelu' ? 0.01 : 0.2), f('beta', 0.5)]);
    return true;
  };

  /**
   * The leading per-channel steps over `c` channels of `inner` elements each that a kernel can apply while storing: a
   * PRelu (slopes: c floats in kernel memory), then a per-channel affine (scale, bias), either or both, in graph
   * order; `count` steps, which the kernel then skips with apply(out, count). Undefined when the first step is neither.
   */
  leadingChannelSteps(c: number, inner: number): { slopes?: number; scale?: number; bias?: number; count: number } | undefined {
    const fits = (x: (typeof this.posts)[number] | undefined, code: number) => x && x[0] === code && x[3]?.c === c && x[3].inner === inner;
    let i = 0;
    const r: { slopes?: number; scale?: number; bias?: number; count: number } = { count: 0 };
    if (fits(this.posts[i], PRELU)) r.slopes = this.posts[i++]![3]!.ptr;
    if (fits(this.posts[i], CHANNEL)) {
      r.scale = this.posts[i]![3]!.ptr;
      r.bias = this.posts[i++]![3]!.bias;
    }
    r.count = i;
    return i ? r : undefined;
  }

  /** Run the folded activation and scalar steps (if any; from step `from` on) over a kernel output, in place. */
  apply(out: Float32Array, from = 0): void {
    this.applyAt(out.byteOffset, out.length, from);
  }

  /** apply() over the `n` floats at byte offset `ptr` of kernel memory (a static plan's bound call: no view). */
  applyAt(ptr: number, n: number, from = 0): void {
    if (!n || this.posts.length <= from) return;
    const ex = kernels()!;
    const out = { byteOffset: ptr, length: n };
    for (let i = from; i < this.posts.length; i++) {
      const [code, alpha, beta, prelu] = this.posts[i]!;
      if (code === CHANNEL) {
        // y·scale[ch] + bias[ch] in place, one [c, inner] block at a time (f32_dwconv1x1 with no clamp)
        const { ptr, c, inner, bias } = prelu!;
        const block = c * inner;
        for (let o = 0; o + block <= out.length; o += block) ex.f32_dwconv1x1(out.byteOffset + o * 4, c, inner, ptr, bias!, out.byteOffset + o * 4, -Infinity, Infinity);
      } else if (prelu) ex.f32_prelu_channels(out.byteOffset, out.length, prelu.c, prelu.inner, prelu.ptr);
      else unaryAt(ex, code, out.byteOffset, out.byteOffset, out.length, alpha, beta);
    }
  }
}

/**
 * The pseudo-op name the plan passes to `fusePost` for a Mul / Add / Sub of the kernel's output by a float32 scalar
 * constant, with attrs { alpha, beta }: y·alpha + beta (a Mul passes beta = −0, an Add/Sub alpha = 1: one op each).
 */
export const AFFINE = 'edgeq.Affine';

/** The epilogue step code of a per-channel PRelu (asm/f32_prelu_channels; not an f32_unary op). */
const PRELU = -1;

/**
 * The pseudo-op name the plan passes to `fusePost` for a per-channel y·scale[c] + bias[c] after the kernel's other
 * folded steps, with attrs { scale, bias: Float32Array (one per channel), inner: elements per channel in a block }.
 */
export const CHANNEL_AFFINE = 'edgeq.ChannelAffine';
/** Its step code (asm/f32_dwconv1x1 in place). */
const CHANNEL = -2;

/** f32_unary's other op codes (asm/f32_act.ts): clamp to [alpha, beta], x·alpha, x·alpha + beta, x + beta, x·x, √x, ln x. */
export const UNARY = { clamp: 7, mul: 8, affine: 9, add: 10, square: 11, sqrt: 12, log: 13 } as const;

/** f32_unary codes whose element costs a polynomial or more (Sigmoid, Erf, Tanh, Gelu, sqrt, log); the rest are a few ops. */
const HEAVY = new Set([3, 4, 5, 6, 12, 13]);

/**
 * ex.f32_unary(code, x, y, n, alpha, beta) on the kernel threads its work earns (an element of a heavy op counted as
 * 16 multiply-adds, of a light one as 1), in chunks of multiples of 4 floats: every element gets the same vector
 * arithmetic as in one call — the last n mod 4 the same scalar tail — so the bits do not depend on the thread count.
 */
export function unaryAt(ex: KernelExports, code: number, x: number, y: number, n: number, alpha: number, beta: number): void {
  if (!n) return;
  const per = HEAVY.has(code) ? 16 : 1;
  const nt = threadsFor(n * per);
  if (nt <= 1) return ex.f32_unary(code, x, y, n, alpha, beta);
  const parts = chunksOf(n, 4, nt, per);
  forkRanges(ex, parts, nt, (a, b): KernelCall[] => [['f32_unary', [code, x + a * 4, y + a * 4, b - a, alpha, beta]]]);
}

/** Activations f32_unary implements, by ONNX op name (its `op` code). */
export const POST_OPS: Readonly<Record<string, number>> = { LeakyRelu: 0, HardSigmoid: 1, HardSwish: 2, Sigmoid: 3, Erf: 4, Tanh: 5, Gelu: 6 };

/** Attribute values f32_unary does not implement (Gelu's tanh approximation): the reference runs those. */
export function postSupported(op: string, attrs: Record<string, unknown>): boolean {
  return !(op === 'Gelu' && attrs.approximate !== undefined && attrs.approximate !== 'none');
}
