/**
 * PipelineSession: the parts of a split, one worker each (node:worker_threads under Node, module Web
 * Workers in browsers; see transport.ts), chained by MessagePorts
 * (stage i posts straight to stage i+1; tensors travel as transferred ArrayBuffers). `runStream` keeps up
 * to `maxInFlight` inputs inside the pipeline so every stage works on a different input at once.
 * Optional simulated links (latency, bandwidth) delay each stage's outgoing messages.
 *
 * Failure model: a part that throws on one input rejects that input's result (PipelineError naming the
 * part); a worker that dies (crash, terminate, uncaught error) rejects every pending result with
 * WorkerCrashError, terminates the other workers and marks the session dead. No promise is left pending.
 */
import { platform } from '#platform';
import type { Graph } from '../ir/graph.js';
import { relaxedSimdAllowed } from '../kernels/wasm.js';
import { Tensor } from '../tensor/tensor.js';
import { PipelineError, WorkerCrashError } from './errors.js';
import { graphToPlain } from './plain.js';
import type { Manifest } from './split.js';
import { createTransport, isNode, type StageWorker } from './transport.js';
import type { MainMsg, StageMsg, WireTensor, WorkerInit } from './worker.js';

export interface LinkSpec {
  /** one-way latency in ms */
  latencyMs?: number;
  /** bandwidth in Mbit/s (unset = unlimited) */
  mbps?: number;
}

export interface PipelineOptions {
  backend?: 'wasm' | 'reference';
  /**
   * kernel threads per stage (default 1): every stage is already a thread of its own, so stages that each started
   * the runtime's default number of kernel threads would oversubscribe the cores
   */
  numThreads?: number;
  /** simulated link after each stage (one spec = every link) */
  links?: LinkSpec | LinkSpec[];
  /** inputs kept inside the pipeline by runStream (default 2 × stages) */
  maxInFlight?: number;
  /** transfer (detach) the caller's input buffers instead of copying them (default false) */
  transferInputs?: boolean;
  /**
   * override the worker script (default: worker.js beside this module, or worker.ts via tsx under Node).
   * In browsers it must be an ES module worker (bundlers: point it at edgeq's dist/split/worker.js).
   */
  workerUrl?: URL;
  /**
   * content keys of sealed parts (a split written with --seal-keys), by part index: 32 bytes or hex/base64 text.
   * Each worker receives only its own part's key.
   */
  partKeys?: readonly (Uint8Array | string | undefined)[];
  /** require every sealed part to be signed by this public key (SPKI PEM text or DER bytes) */
  verifyKey?: string | Uint8Array;
}

interface Deferred {
  resolve(v: Record<string, Tensor>): void;
  reject(e: Error): void;
}

function toWire(feeds: Record<string, Tensor>, names: readonly string[], transfer: boolean): { tensors: WireTensor[]; buffers: ArrayBuffer[] } {
  const tensors: WireTensor[] = [];
  const buffers = new Set<ArrayBuffer>();
  for (const name of names) {
    const t = feeds[name];
    if (t === undefined) throw new PipelineError(`input '${name}' is missing`, 0);
    if (!t || typeof t !== 'object' || !('data' in t) || !('dims' in t)) throw new PipelineError(`input '${name}' must be a Tensor`, 0);
    let data = t.data;
    if (!Array.isArray(data)) {
      const d = data as Uint8Array;
      if (!transfer || d.byteOffset !== 0 || d.byteLength !== d.buffer.byteLength || !(d.buffer instanceof ArrayBuffer)) data = d.slice() as unknown as Tensor['data'];
      buffers.add((data as Uint8Array).buffer as ArrayBuffer);
    }
    tensors.push({ name, type: t.type, dims: [...t.dims], data });
  }
  return { tensors, buffers: [...buffers] };
}

function fromWire(ts: WireTensor[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const t of ts) out[t.name] = new Tensor(t.type, t.data, t.dims);
  return out;
}

export class PipelineSession {
  readonly stages: number;
  private readonly workers: StageWorker[] = [];
  private readonly exited: Promise<void>[] = [];
  private live = 0;
  private seq = 0;
  private readonly pending = new Map<number, Deferred>();
  private failure: Error | undefined;
  private closing = false;

  private constructor(
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    private readonly opts: PipelineOptions,
    stages: number,
  ) {
    this.stages = stages;
  }

  /** Start one worker per part. `parts` are Graphs, or the path of a split directory / its manifest.json. */
  static async create(parts: Graph[] | string, opts: PipelineOptions = {}): Promise<PipelineSession> {
    let inits: Omit<WorkerInit, 'stage' | 'stages'>[];
    let inputNames: string[];
    let outputNames: string[];
    if (typeof parts === 'string') {
      if (!isNode) throw new PipelineError('a split directory needs a file system (Node, Deno, Bun); in browsers pass the parts as Graphs', -1);
      const mpath = parts.endsWith('.json') ? parts : platform.join(parts, 'manifest.json');
      let m: Manifest;
      try {
        m = JSON.parse(new TextDecoder().decode(await platform.readFile(mpath))) as Manifest;
      } catch (e) {
        throw new PipelineError(`cannot read split manifest '${mpath}': ${(e as Error).message}`, -1);
      }
      if (!Array.isArray(m?.parts) || !m.parts.length) throw new PipelineError(`manifest '${mpath}' lists no parts`, -1);
      inits = m.parts.map((p, i) => {
        const key = opts.partKeys?.[i];
        if (p.sealed && key === undefined) throw new PipelineError(`part ${i + 1} (${p.file}) is sealed for key id ${p.sealed.keyId}; pass partKeys[${i}]`, i);
        return { path: platform.join(platform.dirname(mpath), p.file), ...(key !== undefined ? { decryptionKey: key } : {}), ...(opts.verifyKey !== undefined ? { verifyKey: opts.verifyKey } : {}) };
      });
      inputNames = m.parts[0]!.inputs.map((i) => i.name);
      outputNames = m.parts[m.parts.length - 1]!.outputs.map((o) => o.name);
    } else {
      if (!Array.isArray(parts) || !parts.length) throw new PipelineError('PipelineSession.create needs at least one part', -1);
      inits = parts.map((g) => ({ graph: graphToPlain(g) }));
      inputNames = parts[0]!.inputs.map((i) => i.name);
      outputNames = parts[parts.length - 1]!.outputs.map((o) => o.name);
    }
    const mif = opts.maxInFlight ?? 2 * inits.length;
    if (!(Number.isInteger(mif) && mif >= 1)) throw new PipelineError(`maxInFlight must be a positive integer, got ${opts.maxInFlight}`, -1);
    const s = new PipelineSession(inputNames, outputNames, opts, inits.length);
    await s.start(inits);
    return s;
  }

  /** Workers still running (0 after close or a crash has been cleaned up). */
  get liveWorkers(): number {
    return this.live;
  }

  /** The worker of a stage (tests use it to kill a stage). Under Node it is the node:worker_threads Worker. */
  workerAt(stage: number): StageWorker {
    const w = this.workers[stage];
    if (!w) throw new PipelineError(`no stage ${stage}`, stage);
    return w;
  }

  /** Test hook: make a stage throw an uncaught error (its worker dies). */
  crashStage(stage: number): void {
    this.workerAt(stage).postMessage({ kind: 'crash' } satisfies StageMsg);
  }

  private async start(inits: Omit<WorkerInit, 'stage' | 'stages'>[]): Promise<void> {
    const transport = await createTransport(this.opts.workerUrl);
    const K = inits.length;
    const links = this.opts.links;
    const chans = Array.from({ length: K - 1 }, () => transport.channel());
    let readyCount = 0;
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      onReady = res;
      onFail = rej;
    });
    for (let i = 0; i < K; i++) {
      const link = i < K - 1 ? (Array.isArray(links) ? links[i] : links) : undefined;
      const init: WorkerInit = {
        ...inits[i],
        stage: i,
        stages: K,
        ...(this.opts.backend ? { backend: this.opts.backend } : {}),
        numThreads: this.opts.numThreads ?? 1,
        ...(relaxedSimdAllowed() ? {} : { relaxedSimd: false }),
        ...(i > 0 ? { prev: chans[i - 1]!.port2 as WorkerInit['prev'] } : {}),
        ...(i < K - 1 ? { next: chans[i]!.port1 as WorkerInit['next'] } : {}),
        ...(link ? { link: { latencyMs: link.latencyMs ?? 0, ...(link.mbps ? { mbps: link.mbps } : {}) } } : {}),
      };
      let resolveExit!: () => void;
      const exited = new Promise<void>((res) => (resolveExit = res));
      let w: StageWorker;
      try {
        w = transport.spawn(init, {
          exit: (code) => {
            this.live--;
            if (!this.closing) this.crash(new WorkerCrashError(`pipeline worker for part ${i + 1} exited unexpectedly (code ${code})`, i));
            onFail(this.failure ?? new WorkerCrashError(`pipeline worker for part ${i + 1} exited during start-up`, i));
            resolveExit();
          },
          error: (e) => {
            this.crash(new WorkerCrashError(`pipeline worker for part ${i + 1} crashed: ${e?.message ?? e}`, i));
            onFail(this.failure!);
          },
          message: (m: MainMsg) => {
            if (m.kind === 'ready') {
              if (++readyCount === K) onReady();
            } else if (m.kind === 'out') {
              const d = this.pending.get(m.seq);
              this.pending.delete(m.seq);
              d?.resolve(fromWire(m.tensors));
            } else if (m.kind === 'error') {
              const e = new PipelineError(`part ${m.stage + 1} failed${m.seq >= 0 ? ` on input #${m.seq}` : ' to load'}: ${m.name}: ${m.message}`, m.stage);
              if (m.seq < 0) {
                this.crash(e);
                onFail(e);
                return;
              }
              const d = this.pending.get(m.seq);
              this.pending.delete(m.seq);
              d?.reject(e);
            }
          },
        });
      } catch (e) {
        await this.close();
        throw e instanceof Error ? e : new PipelineError(String(e), i);
      }
      this.exited.push(exited);
      this.workers.push(w);
      this.live++;
    }
    try {
      await ready;
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** A stage died: fail everything pending, stop the other workers. */
  private crash(e: Error): void {
    if (this.failure || this.closing) return;
    this.failure = e;
    for (const d of this.pending.values()) d.reject(e);
    this.pending.clear();
    void this.close();
  }

  private submit(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new PipelineError('pipeline is closed', -1));
    const seq = this.seq++;
    let wire: ReturnType<typeof toWire>;
    try {
      wire = toWire(feeds, this.inputNames, !!this.opts.transferInputs);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = new Promise<Record<string, Tensor>>((resolve, reject) => this.pending.set(seq, { resolve, reject }));
    this.workers[0]!.postMessage({ kind: 'run', seq, tensors: wire.tensors } satisfies StageMsg, wire.buffers);
    return p;
  }

  /** Run one input through every stage. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.submit(feeds);
  }

  /**
   * Stream inputs through the pipeline; yields outputs in input order. Rejects (throws from the
   * iterator) with a PipelineError/WorkerCrashError when a part fails or a worker dies.
   */
  async *runStream(inputs: Iterable<Record<string, Tensor>> | AsyncIterable<Record<string, Tensor>>): AsyncGenerator<Record<string, Tensor>> {
    const max = this.opts.maxInFlight ?? 2 * this.stages;
    const queue: Promise<Record<string, Tensor>>[] = [];
    const push = (feeds: Record<string, Tensor>) => {
      const p = this.submit(feeds);
      p.catch(() => {}); // observed when its turn comes; avoid unhandled-rejection noise meanwhile
      queue.push(p);
    };
    for await (const feeds of inputs) {
      if (this.failure) throw this.failure;
      push(feeds);
      while (queue.length >= max) yield await queue.shift()!;
    }
    while (queue.length) yield await queue.shift()!;
  }

  /** Stop every worker; resolves when all have exited. Pending results reject. */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      const e = this.failure ?? new PipelineError('pipeline closed', -1);
      for (const d of this.pending.values()) d.reject(e);
      this.pending.clear();
      await Promise.all(this.workers.map((w) => w.terminate().catch(() => undefined)));
    }
    await Promise.all(this.exited);
  }

  async release(): Promise<void> {
    await this.close();
  }
}
