import { platform } from '#platform';
import { InputError, ModelFormatError } from '../errors.js';
import type { Dim, Graph } from '../ir/graph.js';
import type { ExternalDataEntries } from '../formats/onnx/tensor-proto.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { acquireThreads, releaseThreads, setActiveThreads, threadsConfigured } from '../kernels/threads.js';
import { Executor } from './executor.js';
import { type SealedLoadOptions, openModel, openModelFile } from './open-model.js';
import { type ProfileSummary, Profiler } from './profile.js';
import { type Specializations, specializations } from './specialize.js';

export interface SessionOptions extends SealedLoadOptions {
  /** ONNX external data files as bytes (onnxruntime-web's option): `[{ path: 'model.onnx.data', data }]` */
  externalData?: ExternalDataEntries;
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
  /**
   * kernel threads (onnxruntime-web's env.wasm.numThreads, per session): GEMM and conv kernels split their output
   * over this many threads sharing one WASM memory, bit-identical to one thread. Default `env.wasm.numThreads`
   * (min(cores, 4) where shared memory exists); 1 where it does not (browsers without cross-origin isolation).
   */
  numThreads?: number;
}

export interface ValueMetadata {
  name: string;
  isTensor: true;
  type: DType;
  shape: Dim[];
}

/** A model: a file path (Node, Deno, Bun) or URL string, a URL, a fetch Response, a Blob/File, bytes, or a Graph. */
export type ModelSource = string | URL | Response | Blob | Uint8Array | ArrayBuffer | Graph;

/** A string naming a local file (not an http/blob/data/file URL) on a runtime with a file system. */
const isFilePath = (s: string) => platform.kind === 'node' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !/^(blob|data):/.test(s);

/** Read a path (Node, Deno, Bun) or URL (every runtime with fetch) into bytes. */
async function loadBytes(src: string | URL): Promise<Uint8Array> {
  const s = String(src);
  if (src instanceof URL || /^(https?|blob|data):/.test(s) || platform.kind === 'web') {
    if (src instanceof URL && src.protocol === 'file:' && platform.kind === 'node') return readPath(decodeURIComponent(src.pathname));
    let res: Response;
    try {
      res = await fetch(s);
    } catch (e) {
      throw new InputError(`cannot fetch model '${s}': ${(e as Error).message}`);
    }
    return responseBytes(res, s);
  }
  return readPath(s);
}

async function readPath(p: string): Promise<Uint8Array> {
  try {
    return await platform.readFile(p);
  } catch (e) {
    throw new InputError(`cannot read model file '${p}': ${(e as Error).message}`);
  }
}

async function responseBytes(res: Response, what: string): Promise<Uint8Array> {
  if (!res.ok) throw new ModelFormatError(`cannot fetch model '${what}': HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The bytes of any non-Graph ModelSource. */
async function modelBytes(model: Exclude<ModelSource, Graph>): Promise<Uint8Array> {
  if (typeof model === 'string' || model instanceof URL) return loadBytes(model);
  if (model instanceof Uint8Array) return model;
  if (model instanceof ArrayBuffer) return new Uint8Array(model);
  if (typeof Response !== 'undefined' && model instanceof Response) return responseBytes(model, model.url || 'Response');
  if (typeof Blob !== 'undefined' && model instanceof Blob) return new Uint8Array(await model.arrayBuffer());
  throw new InputError(`InferenceSession.create: unsupported model source ${Object.prototype.toString.call(model)}`);
}

/** Kernel threads a session with these options runs with (validated): see SessionOptions.numThreads. */
function threadsWanted(options: SessionOptions): number {
  const want = (options.backend ?? 'wasm') === 'wasm' ? (options.numThreads ?? threadsConfigured()) : 1;
  if (options.numThreads !== undefined && !(Number.isInteger(want) && want >= 0)) throw new InputError(`numThreads must be a non-negative integer, got ${options.numThreads}`);
  return want;
}

/** Sessions dropped without release() still hand their kernel memory (and kernel threads) back. */
const finalizer = new FinalizationRegistry<{ execs: Executor[]; threads: { held: boolean } }>(({ execs, threads }) => {
  execs.forEach((e) => e.dispose());
  if (threads.held) releaseThreads();
});

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
  /** kernel threads this session runs with (1 until the workers are ready), and whether it holds the pool */
  private threads = 1;
  private readonly threadsHeld = { held: false };
  private readonly threadsReady: Promise<void>;

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
    const want = threadsWanted(options);
    const held = this.threadsHeld;
    this.threadsReady = want > 1
      ? acquireThreads(want).then((n) => {
          if (n <= 1) return;
          if (this.released) releaseThreads();
          else {
            held.held = true;
            this.threads = n;
          }
        })
      : Promise.resolve();
    finalizer.register(this, { execs: this.execs, threads: held }, this);
    this.inputNames = graph.inputs.map((i) => i.name);
    this.outputNames = graph.outputs.map((o) => o.name);
    const meta = (name: string, fallback?: { dtype: DType; shape?: Dim[] }): ValueMetadata => {
      const t = this.exec.analysis.types.get(name) ?? fallback;
      return { name, isTensor: true, type: t?.dtype ?? 'float32', shape: t?.shape ?? [] };
    };
    this.inputMetadata = graph.inputs.map((i) => meta(i.name, i.type));
    this.outputMetadata = graph.outputs.map((o) => meta(o.name, o.type));
  }

  static async create(model: ModelSource, options: SessionOptions = {}): Promise<InferenceSession> {
    if (model && typeof model === 'object' && 'nodes' in model) {
      const session = new InferenceSession(model as Graph, options);
      await session.threadsReady;
      return session;
    }
    if (model === null || (typeof model !== 'string' && typeof model !== 'object')) {
      throw new InputError('InferenceSession.create expects a path/URL, a Response, a Blob, bytes, or a Graph');
    }
    // the kernel threads start (worker boot, WASM instantiation) while the model is read, decrypted and parsed; the
    // session takes its own hold on them, this one is let go once it has
    const want = threadsWanted(options);
    const early = want > 1 ? acquireThreads(want) : undefined;
    try {
      return await InferenceSession.open(model, options);
    } finally {
      void early?.then((n) => n > 1 && releaseThreads());
    }
  }

  private static async open(model: Exclude<ModelSource, Graph>, options: SessionOptions): Promise<InferenceSession> {
    // sealed models (docs/sealed-format.md) are opened here; the session keeps its options, not the keys
    // a file path in Node: TensorProto external data (data_location EXTERNAL) resolves beside the model, confined
    // to its folder; explicit `externalData` bytes win (onnxruntime-web's option)
    const path = typeof model === 'string' && isFilePath(model) ? model : undefined;
    const beside = !options.externalData && path !== undefined ? platform.externalDataBeside(path) : undefined;
    const opts = beside ? { ...options, externalData: beside } : options;
    // a sealed file is decrypted while it is read; anything else (or any failure there) reads the whole file first
    const { graph, event, ready, abort } =
      (path !== undefined ? await openModelFile(path, opts) : undefined) ??
      (await openModel(await modelBytes(model), opts, typeof model === 'string' || model instanceof URL ? String(model) : undefined));
    const { decryptionKey: _k, verifyKey: _v, onModelLoaded: _h, ...kept } = options;
    // a sealed version 3 model: the session is built while its weights are decrypted; it is handed out only once
    // every chunk and the signature check out (open-model.ts OpenedGraph)
    let session: InferenceSession;
    try {
      session = new InferenceSession(graph, kept);
    } catch (e) {
      if (abort) await abort(e);
      throw e;
    }
    if (ready) {
      try {
        await ready();
      } catch (e) {
        await session.release();
        throw e;
      }
    }
    await session.threadsReady;
    if (event) options.onModelLoaded?.(event);
    return session;
  }

  /** Synchronous variant for callers that already hold the graph (CLI, tests, passes); its kernel threads join once started. */
  static fromGraph(graph: Graph, options: SessionOptions = {}): InferenceSession {
    return new InferenceSession(graph, options);
  }

  async run(feeds: Record<string, Tensor>, fetches?: readonly string[] | Record<string, unknown>): Promise<Record<string, Tensor>> {
    return this.runSync(feeds, fetches);
  }

  runSync(feeds: Record<string, Tensor>, fetches?: readonly string[] | Record<string, unknown>): Record<string, Tensor> {
    if (this.released) throw new InputError('session was released');
    // preallocated outputs (onnxruntime-web's `run(feeds, { name: tensor })`): written in place and returned
    const into = fetches && !Array.isArray(fetches) && typeof fetches === 'object' ? (fetches as Record<string, unknown>) : undefined;
    const names = this.fetchNames(fetches);
    // sequence-typed outputs (ONNX sequence values) come back as TensorSequence
    let exec = this.exec;
    if (this.specs) {
      exec.checkFeeds(feeds);
      exec = this.specs.get(feeds);
    }
    // fetching an intermediate that fusion folded away (a pre-activation conv output, a DQ→op→Q value) runs an
    // unfused plan of the same graph, built once on first need
    if (exec === this.exec ? this.fetchAltered(names) : names.some((n) => exec.altered.has(n))) {
      if (!this.plain) {
        this.plain = new Executor(this.graph, { backend: this.options.backend ?? 'wasm', fuseQdq: false, fuseClamps: false, foldBatchNorm: false, fusePatterns: false, elideUnread: false, layout: false, canonicalize: false });
        this.execs.push(this.plain);
      }
      exec = this.plain;
    }
    // one thread: nothing to switch (between runs the active count is always 1, runs restore it)
    if (this.threads === 1 && !this.options.profile) return exec.run(feeds, names, undefined, into) as Record<string, Tensor>;
    const prevThreads = setActiveThreads(this.threads, exec);
    try {
      if (!this.options.profile) return exec.run(feeds, names, undefined, into) as Record<string, Tensor>;
      const prof = this.profilers.get(exec) ?? this.profilers.set(exec, new Profiler(exec)).get(exec)!;
      const t0 = performance.now();
      const out = exec.run(feeds, names, undefined, into) as Record<string, Tensor>;
      prof.record(performance.now() - t0);
      this.lastProfiled = prof;
      return out;
    } finally {
      setActiveThreads(prevThreads);
    }
  }

  /** the last fetch list checked by fetchNames (the same array while callers fetch the same names) */
  private lastNames?: readonly string[];
  /** the last list given to fetchAltered, and its answer */
  private lastAltered?: { names: readonly string[]; altered: boolean };

  /** Whether `names` (a fetchNames list) asks for a value the session's plan altered (answered once per list). */
  private fetchAltered(names: readonly string[]): boolean {
    const last = this.lastAltered;
    if (last?.names === names) return last.altered;
    const altered = names.some((n) => this.exec.altered.has(n));
    this.lastAltered = { names, altered };
    return altered;
  }

  /**
   * The names `fetches` asks for (all outputs when absent), each checked to name a value of the graph. The last list
   * is kept and handed back while the names are the same, so the plan's per-fetch caches hit and nothing is re-checked.
   */
  private fetchNames(fetches?: readonly string[] | Record<string, unknown>): readonly string[] {
    if (!fetches || typeof fetches !== 'object') return this.outputNames;
    const last = this.lastNames;
    if (last) {
      let i = 0;
      let same = true;
      if (Array.isArray(fetches)) same = fetches.length === last.length && fetches.every((n, j) => n === last[j]);
      else {
        for (const n in fetches) if (last[i++] !== n) same = false;
        same &&= i === last.length;
      }
      if (same) return last;
    }
    const names = Array.isArray(fetches) ? [...(fetches as readonly string[])] : Object.keys(fetches);
    for (const n of names) if (!this.exec.analysis.types.has(n) && !this.exec.altered.has(n) && !this.graph.initializers.has(n)) throw new InputError(`unknown output '${n}'`);
    this.lastNames = names;
    return names;
  }

  /** Kernel threads this session's runs use (see SessionOptions.numThreads). */
  get numThreads(): number {
    return this.threads;
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

  /** The plan run() executes (kernels, fallbacks, profile); runtime helpers such as generate() drive it directly. */
  get executor(): Executor {
    if (this.released) throw new InputError('session was released');
    return this.exec;
  }

  /**
   * The plan that runs these feeds (checked): with symbolic input dims the one for their shapes, where dims named in
   * `keep` stay symbolic (generate.ts: one plan for every cache length); else the session's only plan.
   */
  executorFor(feeds: Record<string, Tensor>, keep?: ReadonlySet<string>): Executor {
    if (this.released) throw new InputError('session was released');
    this.exec.checkFeeds(feeds);
    return this.specs ? this.specs.get(feeds, keep) : this.exec;
  }

  private readonly derived = new Map<string, Specializations | undefined>();
  /**
   * Plans of a rewritten copy of this graph (generate.ts: the KV-append step graph), made once per `key` (undefined
   * when `make` returns no graph) and freed with the session.
   */
  derivedPlans(key: string, make: (g: Graph) => Graph | undefined): Specializations | undefined {
    if (this.released) throw new InputError('session was released');
    if (!this.derived.has(key)) {
      const g = make(this.graph);
      this.derived.set(key, g && specializations(g, { backend: this.options.backend ?? 'wasm', fuseQdq: this.options.fuseQdq ?? true }, this.execs, undefined, (e) => this.profilers.delete(e)));
    }
    return this.derived.get(key);
  }

  /** Free the packed weights in kernel memory now (otherwise they are freed when the session is collected). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    finalizer.unregister(this);
    for (const e of this.execs) e.dispose();
    if (this.threadsHeld.held) {
      this.threadsHeld.held = false;
      releaseThreads();
    }
  }
}
