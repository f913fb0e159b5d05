import type { Node, ValueType } from '../ir/graph.js';
import type { Attrs } from '../ir/registry.js';
import type { TypedArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Fast implementations of ops, registered per backend (TF.js style `op_backend`). The runtime asks each
 * matching kernel at plan time whether it handles a node (given static types and constant inputs, e.g. to
 * pack weights once); nodes no kernel takes run the TS reference, which stays the spec.
 */
export interface PreparedKernel {
  name: string;
  /** inputs were already validated by the op's inferShape; outputTypes are concrete */
  run(inputs: (Tensor | undefined)[], outputTypes: ValueType[], dst?: number): Tensor[] | undefined;
  /**
   * true if run() honours `dst`: a byte offset in kernel memory, sized by the caller for the single output, where
   * the kernel writes that output instead of a fresh block (the plan points it into a Concat's output block)
   */
  writesInto?: boolean;
  /** Fold a following clamp (Relu = [0, ∞), Clip, Relu6) into this kernel's epilogue; false if it can't. */
  fuseClamp?(lo: number, hi: number): boolean;
  /** Fold a following Clip/Relu on this kernel's 8-bit output codes (integer bounds); false if it can't. */
  fuseClampQ?(lo: number, hi: number): boolean;
  /**
   * Fold a following Add of a constant float32 row (`bias`: one value per column of the output's last dim, broadcast
   * over all rows) into this kernel's arithmetic, before any clamp or activation; false if it can't.
   */
  fuseBias?(bias: Float32Array): boolean;
  /**
   * Fold a following Add of another runtime tensor of exactly the output's shape (a residual connection) into this
   * kernel: out = clamp(acc + residual) with any clamp fused later applied after the add; false if it can't (e.g. a
   * clamp or activation is already fused: it would have to run before the add). When true, the plan appends the
   * residual tensor to run()'s inputs, after the node's own inputs (index node.inputs.length).
   * `prefix`: the residual may be shorter than the output (the input of a zero Pad whose block is that input then
   * zeros): add it over the first residual.size values, the rest is acc alone (clamped). A kernel that accepts
   * a prefix must not return undefined from run() (the Pad the residual stands for does not run).
   * `symbolic`: the two shapes agree only by dim symbols (e.g. [batch, seq, d]); accept only if run() checks the
   * residual's dims and returns undefined (the reference runs the node, the Add then runs as itself) when they differ.
   */
  fuseResidual?(prefix: boolean, symbolic?: boolean): boolean;
  /** Fold a following pointwise activation (an op of kernels/epilogue.ts POST_OPS, with its attributes); false if it can't. */
  fusePost?(op: string, attrs: Record<string, unknown>): boolean;
  /**
   * A kernel whose output its consumers may not need (Cast of a float16 weight, whose consumers keep the halves):
   * the plan skips it when every consumer's `ignoresInput` is true for that value (and nobody fetches it).
   */
  elidable?: boolean;
  /**
   * true if run() never reads input `i` (it took what it needs at plan time): the plan may then pass `undefined`
   * for it, and run() must not return undefined (fall back to the reference) in that case.
   */
  ignoresInput?(i: number): boolean;
  /**
   * Input `i` is the output of a layout-only producer (a Transpose) whose input the kernel reads in place instead:
   * the name of that value. The plan then hands the kernel that value for input `i` (types for the shape rule still
   * come from the real input's dims), and skips the producer when no one else reads its output. A kernel with a
   * bypass must not return undefined from run() (the reference would need the real input).
   */
  readsInstead?(i: number): string | undefined;
  /**
   * The node's output is input 0's data under the output's dims (Reshape, Flatten, Squeeze, …: the view kernel): a
   * static plan (see `bind`) gives the output input 0's block instead of running anything.
   */
  alias?: boolean;
  /**
   * Static plan (the executor's fast path for graphs whose shapes are all static and whose every step binds): the
   * node's inputs sit at fixed byte offsets of kernel memory and its outputs go to fixed offsets, with the shapes
   * of `b`. Return the call that computes the node there — WASM calls on those pointers, no Tensor, no shape work, no
   * allocation that outlives the call (scratch a kernel's run() takes per call, e.g. a conv's column panels, may be
   * taken and freed the same way: the plan re-takes its views after the calls) — or undefined when the kernel
   * cannot (the plan then runs every node through `run`). Scratch the call keeps comes from `b.scratch` (held until
   * the plan is dropped). The call must compute exactly what `run` would (tests compare the two paths bit for bit)
   * and must not decline at call time.
   */
  bind?(b: BindArgs): (() => void) | undefined;
  /**
   * Node inputs the bound call can read straight from the caller's feed (`BindArgs.feeds`) when they are graph inputs:
   * a decoder step's past KV cache, which CacheAttention copies into its present block itself — the plan then gives
   * the value no block and does not copy the feed in first (each past row moves once per step, not twice).
   */
  readsFeed?: readonly number[];
  /** free what prepare allocated (packed weights) when the session is released */
  dispose?(): void;
}

/** What a kernel's `bind` gets: per input its byte offset (runtime values) or constant, per output its offset. */
export interface BindArgs {
  /** per node input (then the folded residual, as in run()): byte offset in kernel memory, or -1 (constant / absent) */
  ins: number[];
  /** per node input: its constant value (bound at plan time), else undefined */
  consts: (Tensor | undefined)[];
  /** per input: its static type (shape all numbers), undefined when absent */
  inTypes: (ValueType | undefined)[];
  /** per output: byte offset where the call writes it (-1: an output nobody reads, e.g. an optional second output) */
  outs: number[];
  outTypes: ValueType[];
  /** `bytes` of kernel memory for the call's own use, freed with the plan (alloc-time growth only) */
  scratch(bytes: number, what: string): number;
  /**
   * per node input listed in PreparedKernel.readsFeed that the plan reads from the feed (its `ins` entry is then -1):
   * the getter of the array fed to the current run (JS memory, or a view into kernel memory), else undefined
   */
  feeds?: ((() => TypedArray) | undefined)[];
}

/** The node computing a kernel's input, with its resolved attributes and constant inputs (plan-time view). */
export interface Producer {
  node: Node;
  attrs: Attrs;
  constant(j: number): Tensor | undefined;
}

export interface KernelDef {
  op: string;
  domain?: string;
  backend: 'wasm';
  /** prepares nodes with non-ONNX attributes too (NHWC / OHWI layouts, TFLite rounding); others never see them */
  layouts?: boolean;
  prepare(
    node: Node,
    attrs: Attrs,
    types: (ValueType | undefined)[],
    constant: (i: number) => Tensor | undefined,
    producer?: (i: number) => Producer | undefined,
  ): PreparedKernel | undefined;
}

/**
 * Why kernels decline nodes. `prepare` says `return decline('weights are not constant')` instead of a bare
 * `return undefined`; the plan collects the reasons of every candidate that declined a node, so a heavy op on the
 * reference is never silent (`edgeq profile`, `session.profile()`).
 */
let declineSink: string[] | undefined;

export function decline(reason: string): undefined {
  declineSink?.push(reason);
  return undefined;
}

/** Run `f` (a kernel's prepare) and collect the reasons it declined with. */
export function collectDeclines<T>(f: () => T): { value: T; reasons: string[] } {
  const prev = declineSink;
  const reasons: string[] = [];
  declineSink = reasons;
  try {
    return { value: f(), reasons };
  } finally {
    declineSink = prev;
  }
}

const kernels = new Map<string, KernelDef[]>();
const key = (domain: string, op: string) => `${domain}::${op}`;

export function registerKernel(def: KernelDef): void {
  const k = key(def.domain ?? '', def.op);
  kernels.set(k, [...(kernels.get(k) ?? []), def]);
}

export function kernelsFor(domain: string, op: string): readonly KernelDef[] {
  return kernels.get(key(domain, op)) ?? [];
}
