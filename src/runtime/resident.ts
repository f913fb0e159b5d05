import type { Arena } from '../kernels/wasm.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Tensors that live in kernel memory during one run. Kernels return their outputs as views into the WASM
 * memory (no copy out) and accept such views as inputs (no copy in), so chains of kernels never leave WASM.
 * This tracks which values are views, counts aliases (Reshape, Identity and fused activations share the
 * block), frees a block when its last alias dies, rebinds views after memory.grow (which detaches them),
 * and copies graph outputs out before the run ends.
 */
export class Residency {
  /** block start → values viewing it */
  private readonly refs = new Map<number, number>();
  /** value name → block start */
  private readonly ptrOf = new Map<string, number>();
  /** values that view part of a block another value owns (written in place into a planned Concat): never freed */
  private readonly slices = new Set<string>();
  /** block starts of feeds in kernel memory (the caller's blocks, alive for the whole run) */
  private readonly fed = new Set<number>();
  private buffer: ArrayBuffer;

  constructor(readonly mem: Arena) {
    this.buffer = mem.buffer;
  }

  /** Pointer of `t` if it is a view into kernel memory. */
  private view(t: unknown): number | undefined {
    if (!(t instanceof Tensor) || !ArrayBuffer.isView(t.data)) return undefined;
    return (t.data as ArrayBufferView).buffer === this.mem.buffer ? (t.data as ArrayBufferView).byteOffset : undefined;
  }

  /**
   * Record value `name` = `t`. Views at a known block start are aliases; views the kernels handed out are new
   * blocks (`fromKernel`); any other view into kernel memory (a sub-range some op made) is copied out.
   */
  adopt(name: string, t: Tensor, fromKernel: boolean): Tensor {
    const p = this.view(t);
    if (p === undefined) return t;
    const n = this.refs.get(p);
    if (n !== undefined) this.refs.set(p, n + 1);
    else if (this.fed.has(p)) this.slices.add(name); // a view of a feed (Reshape, KvAppend in place): the caller's block
    else if (fromKernel) this.refs.set(p, 1);
    else return copyOut(t);
    this.ptrOf.set(name, p);
    return t;
  }

  /**
   * Record value `name` = `t`, a view of part of a block that a later value will own (a Concat input written in
   * place). It is rebound after memory growth like any view but never freed on its own.
   */
  slice(name: string, t: Tensor): Tensor {
    const p = this.view(t);
    if (p === undefined) return t;
    this.ptrOf.set(name, p);
    this.slices.add(name);
    return t;
  }

  /**
   * `t` as a view at `dst` (a slot in a planned Concat block): kernels that honour `dst` already wrote it there;
   * anything else (a reference op, a kernel without `writesInto`) is copied there, and a block a kernel handed out
   * for it is freed.
   */
  place(t: Tensor, dst: number, fromKernel: boolean): Tensor {
    const p = this.view(t);
    if (p === dst) return t;
    const at = new Float32Array(this.mem.buffer, dst, t.size);
    at.set(t.data as Float32Array);
    if (p !== undefined && fromKernel) this.mem.release(p);
    return new Tensor('float32', at, t.dims);
  }

  /** Record feed `name` = `t` (see slice): a view a kernel returns of it aliases the caller's block, never freed here. */
  feed(name: string, t: Tensor): Tensor {
    const p = this.view(t);
    if (p !== undefined) this.fed.add(p);
    return this.slice(name, t);
  }

  isSlice(name: string): boolean {
    return this.slices.has(name);
  }

  /** Value `name` is dead: free its block when no alias is left. */
  drop(name: string): void {
    const p = this.ptrOf.get(name);
    if (p === undefined) return;
    this.ptrOf.delete(name);
    if (this.slices.delete(name)) return;
    const n = this.refs.get(p)! - 1;
    if (n > 0) this.refs.set(p, n);
    else {
      this.refs.delete(p);
      this.mem.release(p);
    }
  }

  /** After a kernel ran: if memory grew, re-create the views of every live value. */
  rebind(values: Map<string, unknown>): void {
    if (this.mem.buffer === this.buffer) return;
    this.buffer = this.mem.buffer;
    for (const [name, p] of this.ptrOf) {
      const t = values.get(name) as Tensor;
      const Ctor = (t.data as unknown as { constructor: new (b: ArrayBuffer, o: number, n: number) => Tensor['data'] }).constructor;
      const fresh = new Tensor(t.type, new Ctor(this.buffer, p, t.size), t.dims);
      if (t.quant) fresh.quant = t.quant;
      values.set(name, fresh);
    }
  }

  /**
   * Hand value `name`'s block to the caller: it is not freed when the run ends. Returns its pointer, or undefined
   * when `name` is not a whole block of its own (not resident, or part of another block): then copy it out instead.
   */
  keep(name: string): number | undefined {
    const p = this.ptrOf.get(name);
    if (p === undefined || this.slices.has(name) || !this.refs.has(p)) return undefined;
    this.refs.delete(p);
    this.ptrOf.delete(name);
    return p;
  }

  /** A copy of `t` in JS memory if it is a view into kernel memory. */
  detach(t: unknown): unknown {
    return this.view(t) === undefined ? t : copyOut(t as Tensor);
  }

  /** Free every block still held (end of run, or an error). */
  releaseAll(): void {
    for (const p of this.refs.keys()) this.mem.release(p);
    this.refs.clear();
    this.ptrOf.clear();
    this.slices.clear();
  }
}

function copyOut(t: Tensor): Tensor {
  const c = new Tensor(t.type, (t.data as Float32Array).slice(), t.dims);
  if (t.quant) c.quant = t.quant;
  return c;
}
