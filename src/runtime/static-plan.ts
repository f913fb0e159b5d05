import { InputError } from '../errors.js';
import type { Arena } from '../kernels/wasm.js';
import type { DType, TypedArray } from '../tensor/dtype.js';
import { DTYPES } from '../tensor/dtype.js';
import type { QuantParams } from '../tensor/quant.js';
import { Tensor, trustedTensor } from '../tensor/tensor.js';

/** A graph input or output of a static plan: its block in kernel memory and its one shape. */
export interface StaticIO {
  name: string;
  type: DType;
  /** frozen: the output Tensors share it */
  dims: readonly number[];
  size: number;
  /** byte offset in kernel memory; -1 for an input with no block (its kernels read it from the feed of run()) */
  ptr: number;
  /** an output's quantization parameters from its type (as the kernels attach them on the general path) */
  quant?: QuantParams;
}

/** Where a block of a static plan lives: [first step writing it, last step reading it] and its bytes. */
export interface Lifetime {
  first: number;
  last: number;
  bytes: number;
}

/**
 * Offsets for blocks with lifetimes, TFLite's "greedy by size" arena plan: the largest block first, each at the lowest
 * offset that overlaps no placed block alive at the same time (steps in common, the bounds included, so a step's
 * output never shares bytes with its inputs). Returns the offsets (16-byte aligned) and the total bytes.
 */
export function planOffsets(blocks: readonly Lifetime[]): { offsets: number[]; total: number } {
  const order = blocks.map((_, i) => i).sort((a, b) => blocks[b]!.bytes - blocks[a]!.bytes || a - b);
  const offsets = new Array<number>(blocks.length).fill(0);
  const placed: number[] = [];
  let total = 0;
  for (const i of order) {
    const b = blocks[i]!;
    const size = (b.bytes + 15) & ~15;
    const live = placed.filter((j) => blocks[j]!.first <= b.last && b.first <= blocks[j]!.last).sort((x, y) => offsets[x]! - offsets[y]!);
    let at = 0;
    for (const j of live) {
      if (at + size <= offsets[j]!) break;
      at = Math.max(at, offsets[j]! + ((blocks[j]!.bytes + 15) & ~15));
    }
    offsets[i] = at;
    placed.push(i);
    total = Math.max(total, at + size);
  }
  return { offsets, total };
}

/**
 * A compiled plan for a graph whose every value has one static shape and whose every node bound to fixed places in
 * kernel memory (PreparedKernel.bind): a run copies the feeds into their blocks, makes the bound calls in order, and
 * copies the fetched outputs out (or into the caller's preallocated tensors). No maps, no shape rules, no Tensor
 * between nodes, no allocation but the returned outputs — TFLite's interpreter loop.
 */
export class StaticPlan {
  private buffer?: ArrayBuffer;
  private inViews: TypedArray[] = [];
  private outViews: TypedArray[] = [];
  private lastFetch?: readonly string[];
  /** per fetched name: its output, the index of its view in outViews and its array type (copyOut) */
  private fetchIO: { io: StaticIO; view: number; Ctor: ArrayCtor }[] = [];
  private readonly outList: StaticIO[];
  private disposed = false;
  /** per input: the (frozen) dims array of the last feed found to have the planned dims */
  private readonly seenDims: (readonly number[] | undefined)[] = [];

  constructor(
    private readonly mem: Arena,
    readonly inputs: readonly StaticIO[],
    readonly outputs: ReadonlyMap<string, StaticIO>,
    private readonly calls: readonly (() => void)[],
    /** blocks this plan holds (its arena block, kernels' scratch): freed by dispose */
    private readonly held: number[],
    /** bytes of its value block (tests, reports) */
    readonly bytes: number,
    /**
     * per input, the array fed to the run in progress for inputs with no block (ptr < 0: every reader takes it from
     * the feed, BindArgs.feeds): set before the calls, cleared after them (the plan holds no caller array between runs)
     */
    private readonly fed: (TypedArray | undefined)[] = [],
  ) {
    this.outList = [...outputs.values()];
    this.feedOnly = inputs.find((io) => io.ptr < 0);
  }

  /** an input with no block (its kernels read the feed of run()), which invoke() cannot run without */
  private readonly feedOnly?: StaticIO;

  /** Typed views of the input and output blocks, rebuilt when the memory grew since the last run. */
  private views(): void {
    const buf = this.mem.buffer;
    if (buf === this.buffer) return;
    this.buffer = buf;
    this.inViews = this.inputs.map((io) => (io.ptr < 0 ? NO_BLOCK : viewOf(buf, io)));
    this.outViews = this.outList.map((io) => viewOf(buf, io));
  }

  /**
   * Run with `feeds` when they are exactly what the plan was made for (Tensors of the planned dtype and dims, no other
   * keys) and `fetch` names only graph outputs; else undefined (the executor's general path validates and runs).
   */
  run(feeds: Record<string, unknown>, fetch: readonly string[], into?: Record<string, unknown>): Record<string, Tensor> | undefined {
    const ins = this.inputs;
    let keys = 0;
    for (const _ in feeds) keys++;
    if (keys !== ins.length) return undefined;
    const seen = this.seenDims;
    for (let i = 0; i < ins.length; i++) {
      const t = feeds[ins[i]!.name];
      if (!(t instanceof Tensor) || t.type !== ins[i]!.type) return undefined;
      // a Tensor's dims are frozen: the array last checked needs no second look (a session fed the same tensors)
      if (t.dims !== seen[i]) {
        if (!sameDims(t.dims, ins[i]!.dims)) return undefined;
        seen[i] = t.dims;
      }
    }
    if (fetch !== this.lastFetch) {
      const io: { io: StaticIO; view: number; Ctor: ArrayCtor }[] = [];
      for (const name of fetch) {
        const o = this.outputs.get(name);
        if (!o) return undefined;
        io.push({ io: o, view: this.outList.indexOf(o), Ctor: DTYPES[o.type].array as unknown as ArrayCtor });
      }
      this.lastFetch = fetch;
      this.fetchIO = io;
    }
    this.views();
    const buf = this.buffer!;
    const fed = this.fed;
    for (let i = 0; i < ins.length; i++) {
      const d = (feeds[ins[i]!.name] as Tensor).data as TypedArray;
      if (ins[i]!.ptr < 0) {
        // read by the kernels as it is: a view detached by a memory growth since the caller made it has no data
        if (d.length !== ins[i]!.size) throw new InputError(`input '${ins[i]!.name}' holds ${d.length} values, its dims [${ins[i]!.dims.join(',')}] need ${ins[i]!.size} (a view into kernel memory made before the memory grew?)`);
        fed[i] = d;
      }
      // a feed that already is this block (a previous output fed back as a view) needs no copy; byteOffset first: a
      // caller's own array starts at 0, no block does, and the buffer getter of a view is the dearer read
      else if (d.byteOffset !== ins[i]!.ptr || d.buffer !== buf) copyIn(this.inViews[i]!, d);
    }
    const calls = this.calls;
    if (!this.feedOnly) for (let i = 0; i < calls.length; i++) calls[i]!();
    else {
      try {
        for (let i = 0; i < calls.length; i++) calls[i]!();
      } finally {
        fed.fill(undefined);
      }
    }
    // a call that took scratch for itself (a conv's columns) may have grown the memory
    this.views();
    const result: Record<string, Tensor> = {};
    const io = this.fetchIO;
    for (let i = 0; i < io.length; i++) {
      const o = io[i]!.io;
      const view = this.outViews[io[i]!.view]!;
      const dst = into?.[o.name];
      if (dst != null) result[o.name] = writeInto(o.name, dst, o.type, o.dims, view);
      else {
        // the plan's frozen dims and a fresh array of them: no checks to repeat
        const t = trustedTensor(o.type, copyOut(view, io[i]!.Ctor), o.dims);
        if (o.quant) t.quant = o.quant;
        result[o.name] = t;
      }
    }
    return result;
  }

  /**
   * In place (TFLite's `typed_input_tensor(i)`): a typed view of input `i`'s block, which `invoke()` reads. Valid until
   * the kernel memory grows (any call that may allocate kernel memory: creating a session, a run on the general path,
   * a plan): a view held across such a call is detached (length 0) or stale, so ask again after it. The view is the
   * same object while the memory has not grown. Only plans made with their inputs kept (Executor.newStaticPlan) keep
   * an input's bytes from one invoke to the next.
   */
  inputView(i: number): TypedArray {
    if (this.disposed) throw new InputError('the static plan was released');
    this.views();
    const v = this.inViews[i];
    if (!v) throw new InputError(`input ${i} does not exist (the model has ${this.inputs.length})`);
    if (v === NO_BLOCK) throw new InputError(`input ${i} ('${this.inputs[i]!.name}') has no block: its kernels read it from the feed of run()`);
    return v;
  }

  /** In place (TFLite's `typed_output_tensor`): output `name`'s block, written by `invoke()`; the rule of inputView. */
  outputView(name: string): TypedArray {
    if (this.disposed) throw new InputError('the static plan was released');
    this.views();
    const k = this.outList.findIndex((o) => o.name === name);
    if (k < 0) throw new InputError(`'${name}' is not an output of the plan`);
    return this.outViews[k]!;
  }

  /**
   * Run on what the input blocks hold now, leaving the outputs in their blocks (TFLite's Invoke()): the bound calls
   * and nothing else — no copy, no allocation, no Tensor.
   */
  invoke(): void {
    if (this.disposed) throw new InputError('the static plan was released');
    const feedOnly = this.feedOnly;
    if (feedOnly) throw new InputError(`input '${feedOnly.name}' has no block: its kernels read it from the feed of run()`);
    const calls = this.calls;
    for (let i = 0; i < calls.length; i++) calls[i]!();
  }

  dispose(): void {
    this.disposed = true;
    for (const p of this.held) this.mem.release(p);
    this.held.length = 0;
  }
}

/**
 * Up to this many elements a JS loop copies a feed or an output faster than TypedArray set / slice (a builtin call
 * each, and slice's new ArrayBuffer off the heap; V8 keeps a small `new Int8Array(n)` on its heap): hello_world's
 * one-element input and output, once per run.
 */
const SMALL_COPY = 16;

/** `src` (of `dst`'s length, a typed or plain array of its kind) into `dst`. */
function copyIn(dst: TypedArray, src: ArrayLike<number | bigint>): void {
  const n = src.length;
  if (n > SMALL_COPY) dst.set(src as never);
  else for (let i = 0; i < n; i++) dst[i] = src[i]!;
}

type ArrayCtor = new (n: number) => TypedArray;

/** A fresh array (of `view`'s type, `Ctor`) holding its elements. */
function copyOut(view: TypedArray, Ctor: ArrayCtor): TypedArray {
  const n = view.length;
  if (n > SMALL_COPY) return view.slice();
  const a = new Ctor(n);
  for (let i = 0; i < n; i++) a[i] = view[i]!;
  return a;
}

/** inViews' entry for an input with no block (read from the feed by its kernels) */
const NO_BLOCK = new Float32Array(0);

function viewOf(buf: ArrayBuffer, io: StaticIO): TypedArray {
  const Ctor = DTYPES[io.type].array as unknown as new (b: ArrayBuffer, o: number, n: number) => TypedArray;
  return new Ctor(buf, io.ptr, io.size);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A preallocated output (onnxruntime-web's `run(feeds, { name: tensor })`): `src` copied into `dst`'s data, which
 * must be a Tensor of the output's dtype and dims; returns `dst`.
 */
export function writeInto(name: string, dst: unknown, type: DType, dims: readonly number[], src: ArrayLike<unknown>): Tensor {
  if (!(dst instanceof Tensor)) throw new InputError(`output '${name}': a preallocated output must be a Tensor (or null to have one made)`);
  if (dst.type !== type || !sameDims(dst.dims, dims)) throw new InputError(`output '${name}' is ${type}[${dims.join(',')}], the preallocated tensor is ${dst.type}[${dst.dims.join(',')}]`);
  if (type === 'string') (dst.data as string[]).splice(0, dst.size, ...(src as string[]));
  else copyIn(dst.data as TypedArray, src as TypedArray);
  return dst;
}
