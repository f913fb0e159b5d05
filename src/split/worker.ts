/**
 * Pipeline stage worker (node:worker_threads under Node, a module Web Worker in browsers). Runs one part:
 * reads inputs from the main thread (stage 0) or from the previous stage's MessagePort, writes outputs to the next stage's port (after the simulated
 * link delay) or, for the last stage, to the main thread. Failures go to the main thread as messages.
 * Under Node the init arrives as workerData; in browsers it is the first message ({ kind: 'init' }) (see
 * src/platform/). No top-level await: bundlers may emit this worker as a classic script.
 */
import { platform } from '#platform';
import { allowRelaxedSimd } from '../kernels/wasm.js';
import { InferenceSession } from '../runtime/session.js';
import type { DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { graphFromPlain, type PlainGraph } from './plain.js';

export interface WireTensor {
  name: string;
  type: DType;
  dims: number[];
  data: Tensor['data'];
}

export interface WorkerInit {
  stage: number;
  stages: number;
  graph?: PlainGraph;
  path?: string;
  /** content key of a sealed part file (only this part's) */
  decryptionKey?: Uint8Array | string;
  /** public key its signature must verify with */
  verifyKey?: Uint8Array | string;
  backend?: 'wasm' | 'reference';
  /** kernel threads of this stage's session (PipelineOptions.numThreads) */
  numThreads?: number;
  /** false: keep the plain SIMD build, as the main thread does (env.wasm.relaxedSimd = false) */
  relaxedSimd?: boolean;
  /** port to read inputs from (stages > 0) */
  prev?: WirePort;
  /** port to write outputs to (all but the last stage) */
  next?: WirePort;
  /** simulated outgoing link */
  link?: { latencyMs: number; mbps?: number };
}

/** node:worker_threads' MessagePort, as far as the worker uses it (no `node:` import, even of types). */
interface NodeMessagePort {
  on(event: 'message', fn: (m: StageMsg) => void): unknown;
  postMessage(m: unknown, transfer?: readonly ArrayBuffer[]): void;
}

/** A MessagePort of node:worker_threads, or a DOM MessagePort in browsers. */
export type WirePort = NodeMessagePort | MessagePort;

export type StageMsg =
  | { kind: 'run'; seq: number; tensors: WireTensor[] }
  | { kind: 'crash' };

export type MainMsg =
  | { kind: 'ready'; stage: number }
  | { kind: 'out'; seq: number; tensors: WireTensor[] }
  | { kind: 'error'; stage: number; seq: number; name: string; message: string };

/** The worker's view of one message endpoint, the same under Node and in browsers. */
interface Endpoint {
  postMessage(msg: unknown, transfer?: ArrayBuffer[]): void;
  onMessage(fn: (m: StageMsg) => void): void;
}

function endpoint(p: WirePort): Endpoint {
  if (typeof (p as NodeMessagePort).on === 'function') {
    const n = p as NodeMessagePort;
    return { postMessage: (m, t) => n.postMessage(m, t), onMessage: (fn) => n.on('message', fn) };
  }
  const w = p as MessagePort;
  return {
    postMessage: (m, t) => w.postMessage(m, t ?? []),
    onMessage: (fn) => {
      w.addEventListener('message', (e) => fn(e.data as StageMsg));
      w.start();
    },
  };
}

let init: WorkerInit;
let port: Endpoint;

function fail(seq: number, e: unknown): void {
  const err = e as Error;
  port.postMessage({ kind: 'error', stage: init.stage, seq, name: err?.name ?? 'Error', message: err?.message ?? String(e) } satisfies MainMsg);
}

async function main(): Promise<void> {
  // the init arrives as workerData (node:worker_threads) or as the first message (Web Workers)
  const self = await platform.workerSelf();
  init = self.init as WorkerInit;
  port = { postMessage: self.postMessage, onMessage: (fn) => self.onMessage(fn as (m: unknown) => void) };
  if (init.relaxedSimd === false) allowRelaxedSimd(false);
  let session: InferenceSession;
  try {
    const opts = { backend: init.backend ?? 'wasm', ...(init.numThreads !== undefined ? { numThreads: init.numThreads } : {}) } as const;
    session = init.graph
      ? InferenceSession.fromGraph(graphFromPlain(init.graph), opts)
      : await InferenceSession.create(init.path!, { ...opts, ...(init.decryptionKey !== undefined ? { decryptionKey: init.decryptionKey } : {}), ...(init.verifyKey !== undefined ? { verifyKey: init.verifyKey } : {}) });
  } catch (e) {
    fail(-1, e);
    return;
  }
  // buffers the session owns (initializers): never transferred, always copied
  const owned = new Set<ArrayBufferLike>();
  for (const t of session.graph.initializers.values()) if (!Array.isArray(t.data)) owned.add((t.data as Uint8Array).buffer);

  let linkFreeAt = 0;
  const next = init.next ? endpoint(init.next) : undefined;
  const send = (msg: MainMsg | StageMsg, tensors: WireTensor[]) => {
    const transfer = new Set<ArrayBuffer>();
    for (const t of tensors) {
      if (Array.isArray(t.data)) continue;
      const d = t.data as Uint8Array;
      const whole = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && d.buffer instanceof ArrayBuffer;
      if (!whole || owned.has(d.buffer)) {
        t.data = d.slice() as unknown as Tensor['data'];
      }
      transfer.add((t.data as Uint8Array).buffer as ArrayBuffer);
    }
    const target = next ?? port;
    const post = () => {
      try {
        target.postMessage(msg, [...transfer]);
      } catch {
        target.postMessage(msg); // e.g. a non-detachable buffer: fall back to copying
      }
    };
    const link = next ? init.link : undefined;
    if (!link || (link.latencyMs <= 0 && !link.mbps)) return post();
    let bytes = 0;
    for (const t of tensors) if (!Array.isArray(t.data)) bytes += (t.data as Uint8Array).byteLength;
    const now = performance.now();
    const start = Math.max(now, linkFreeAt);
    linkFreeAt = start + (link.mbps ? (bytes * 8) / (link.mbps * 1e6) * 1e3 : 0);
    const deliverAt = linkFreeAt + link.latencyMs;
    setTimeout(post, Math.max(0, deliverAt - now));
  };

  const onRun = (m: StageMsg) => {
    if (m.kind === 'crash') {
      // test hook: an uncaught error kills this worker
      (globalThis.setImmediate ?? setTimeout)(() => {
        throw new Error(`stage ${init.stage} crashed on request`);
      });
      return;
    }
    if (m.kind !== 'run') return;
    let outs: Record<string, Tensor>;
    try {
      const feeds: Record<string, Tensor> = {};
      for (const t of m.tensors) feeds[t.name] = new Tensor(t.type, t.data, t.dims);
      outs = session.runSync(feeds);
    } catch (e) {
      fail(m.seq, e);
      return;
    }
    const tensors: WireTensor[] = session.outputNames.map((name) => {
      const t = outs[name]!;
      return { name, type: t.type, dims: [...t.dims], data: t.data };
    });
    send(init.next ? { kind: 'run', seq: m.seq, tensors } : { kind: 'out', seq: m.seq, tensors }, tensors);
  };

  port.onMessage(onRun);
  if (init.prev) endpoint(init.prev).onMessage(onRun);
  port.postMessage({ kind: 'ready', stage: init.stage } satisfies MainMsg);
}

void main();
