import { InputError, ModelFormatError } from '../errors.js';
import type { Dim, Graph } from '../ir/graph.js';
import { readModel } from '../formats/detect.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { Executor } from './executor.js';
import { type ProfileSummary, Profiler } from './profile.js';
import { type Specializations, specializations } from './specialize.js';

export interface SessionOptions {
  /** accepted for onnxruntime-web compatibility; edgeq runs on the CPU/WASM */
  executionProviders?: unknown[];
  graphOptimizationLevel?: string;
  logSeverityLevel?: number;
  /** 'wasm' (default) uses the WASM SIMD kernels where they apply; 'reference' runs only the TS reference ops */
  backend?: 'wasm' | 'reference';
  /** fuse DequantizeLinear→op→QuantizeLinear into integer kernels (default true; see ExecutorOptions) */
  fuseQdq?: boolean;
  /** record per-node times of every run for `session.profile()` (default false) */
  profile?: boolean;
}

export interface ValueMetadata {
  name: string;
  isTensor: true;
  type: DType;
  shape: Dim[];
}

/** Read a path (Node, Deno, Bun) or URL (browsers) into bytes. */
async function loadBytes(src: string): Promise<Uint8Array> {
  if (/^(https?|blob|data):/.test(src) || typeof process === 'undefined' || !process.versions?.node) {
    const res = await fetch(src);
    if (!res.ok) throw new ModelFormatError(`cannot fetch model '${src}': HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  const fs = await import('node:fs/promises');
  try {
    return new Uint8Array(await fs.readFile(src));
  } catch (e) {
    throw new InputError(`cannot read model file '${src}': ${(e as Error).message}`);
  }
}

/** Sessions dropped without release() still hand their kernel memory back. */
const finalizer = new FinalizationRegistry<Executor[]>((execs) => execs.forEach((e) => e.dispose()));

/**
 * Mirrors onnxruntime-web's InferenceSession: `await InferenceSession.create(model)`, then
 * `await session.run({name: tensor})`.
 */
export class InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  private readonly exec: Executor;
  private released = false;
  /** unfused plan for fetches of intermediates that fusion removed (see runSync) */
  private plain?: Executor;
  /** every executor this session built (freed together) */
  private readonly execs: Executor[] = [];
  /** plans per concrete input shape when the graph's inputs have symbolic dims (see specialize.ts) */
  private readonly specs?: Specializations;
  /** per-executor run records when created with `profile: true`; `lastProfiled` ran most recently */
  private readonly profilers = new Map<Executor, Profiler>();
  private lastProfiled?: Profiler;

  private constructor(
    readonly graph: Graph,
    private readonly options: SessionOptions = {},
  ) {
    const backend = options.backend ?? 'wasm';
    const symbolic = backend === 'wasm' && graph.inputs.some((i) => !i.type.sequence && i.type.shape?.some((d) => typeof d !== 'number'));
    // symbolic input dims: runs use a plan per concrete shape; this one (reference, no packed weights) types and checks
    this.exec = new Executor(graph, { backend: symbolic ? 'reference' : backend, fuseQdq: options.fuseQdq ?? true });
    this.execs.push(this.exec);
    if (symbolic) this.specs = specializations(graph, { backend, fuseQdq: options.fuseQdq ?? true }, this.execs, undefined, (e) => this.profilers.delete(e));
    finalizer.register(this, this.execs, this);
    this.inputNames = graph.inputs.map((i) => i.name);
    this.outputNames = graph.outputs.map((o) => o.name);
    const meta = (name: string, fallback?: { dtype: DType; shape?: Dim[] }): ValueMetadata => {
      const t = this.exec.analysis.types.get(name) ?? fallback;
      return { name, isTensor: true, type: t?.dtype ?? 'float32', shape: t?.shape ?? [] };
    };
    this.inputMetadata = graph.inputs.map((i) => meta(i.name, i.type));
    this.outputMetadata = graph.outputs.map((o) => meta(o.name, o.type));
  }

  static async create(model: string | Uint8Array | ArrayBuffer | Graph, options: SessionOptions = {}): Promise<InferenceSession> {
    if (typeof model === 'string') return new InferenceSession(readModel(await loadBytes(model)), options);
    if (model instanceof ArrayBuffer) return new InferenceSession(readModel(new Uint8Array(model)), options);
    if (model instanceof Uint8Array) return new InferenceSession(readModel(model), options);
    if (model && typeof model === 'object' && 'nodes' in model) return new InferenceSession(model as Graph, options);
    throw new InputError('InferenceSession.create expects a path/URL, bytes, or a Graph');
  }

  /** Synchronous variant for callers that already hold the graph (CLI, tests, passes). */
  static fromGraph(graph: Graph, options: SessionOptions = {}): InferenceSession {
    return new InferenceSession(graph, options);
  }

  async run(feeds: Record<string, Tensor>, fetches?: readonly string[] | Record<string, unknown>): Promise<Record<string, Tensor>> {
    return this.runSync(feeds, fetches);
  }

  runSync(feeds: Record<string, Tensor>, fetches?: readonly string[] | Record<string, unknown>): Record<string, Tensor> {
    if (this.released) throw new InputError('session was released');
    let names: readonly string[] = this.outputNames;
    if (Array.isArray(fetches)) names = fetches;
    else if (fetches && typeof fetches === 'object') names = Object.keys(fetches);
    for (const n of names) if (!this.exec.analysis.types.has(n) && !this.exec.altered.has(n) && !this.graph.initializers.has(n)) throw new InputError(`unknown output '${n}'`);
    // sequence-typed outputs (ONNX sequence values) come back as TensorSequence
    let exec = this.exec;
    if (this.specs) {
      exec.checkFeeds(feeds);
      exec = this.specs.get(feeds);
    }
    // fetching an intermediate that fusion folded away (a pre-activation conv output, a DQ→op→Q value) runs an
    // unfused plan of the same graph, built once on first need
    if (names.some((n) => exec.altered.has(n))) {
      if (!this.plain) {
        this.plain = new Executor(this.graph, { backend: this.options.backend ?? 'wasm', fuseQdq: false, fuseClamps: false, foldBatchNorm: false, elideUnread: false, canonicalize: false, fuseLayerNorm: false });
        this.execs.push(this.plain);
      }
      exec = this.plain;
    }
    if (!this.options.profile) return exec.run(feeds, names) as Record<string, Tensor>;
    const prof = this.profilers.get(exec) ?? this.profilers.set(exec, new Profiler(exec)).get(exec)!;
    const t0 = performance.now();
    const out = exec.run(feeds, names) as Record<string, Tensor>;
    prof.record(performance.now() - t0);
    this.lastProfiled = prof;
    return out;
  }

  /**
   * Per-node times of the runs since create (or `resetProfile()`), of the plan that ran last (with symbolic input
   * dims, the plan for the last run's shapes): median ms, the reference ops' share of the run time, and per node
   * the kernel that ran it or `reference` with every kernel's reason for declining. Needs `{ profile: true }`.
   */
  profile(): ProfileSummary {
    if (!this.options.profile) throw new InputError('profile() needs InferenceSession.create(model, { profile: true })');
    if (!this.lastProfiled) throw new InputError('profile(): no run yet');
    return this.lastProfiled.summary();
  }

  /** Forget the profiled runs so far (e.g. after warm-up). */
  resetProfile(): void {
    for (const p of this.profilers.values()) p.reset();
  }

  /** Free the packed weights in kernel memory now (otherwise they are freed when the session is collected). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    finalizer.unregister(this);
    for (const e of this.execs) e.dispose();
  }
}
