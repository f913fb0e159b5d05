/**
 * The browser platform (package.json "imports" #platform, "browser" condition; also the default for
 * runtimes without a Node-compatible API): fetch for files, module Web Workers for the pipeline.
 * Must never import a `node:` module (test/runtimes/bundle.test.ts bundles the browser entry to check).
 */
import type { Platform, WorkerSelf, Workers } from './types.js';

async function readFile(path: string): Promise<Uint8Array> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
  return new Uint8Array(await res.arrayBuffer());
}

function webWorkers(url: URL): Workers {
  if (typeof Worker === 'undefined' || typeof MessageChannel === 'undefined') {
    throw new Error('this runtime has neither node:worker_threads nor Web Workers');
  }
  return {
    kind: 'web',
    channel: () => new MessageChannel(),
    spawn(init, ports, ev, name) {
      // Web Workers have no 'exit' event and an uncaught error does not end them: terminate on 'error'
      // and synthesize exit (code 1) on terminate, matching node:worker_threads' failure model.
      const w = new Worker(url, { type: 'module', name });
      let ended = false;
      const exit = (code: number) => {
        if (ended) return;
        ended = true;
        ev.exit(code);
      };
      const die = (e: Error) => {
        if (ended) return;
        ev.error(e);
        w.terminate();
        exit(1);
      };
      w.onmessage = (e: MessageEvent) => ev.message(e.data);
      w.onmessageerror = () => die(new Error('a message from the worker could not be deserialized'));
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        die(new Error(e.message || `cannot load worker script ${url.href}`));
      };
      // no workerData in browsers: the init (with its ports) is the first message
      w.postMessage({ kind: 'init', init }, ports as Transferable[]);
      return {
        postMessage: (msg, transfer) => w.postMessage(msg, (transfer ?? []) as Transferable[]),
        terminate: () => {
          w.terminate();
          // like node:worker_threads, 'exit' follows terminate asynchronously
          return Promise.resolve().then(() => exit(1));
        },
      };
    },
  };
}

interface WebScope {
  postMessage(msg: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', fn: (e: MessageEvent) => void): void;
}

async function workerSelf(): Promise<WorkerSelf> {
  // the first message carries the init; later ones are queued until onMessage is called
  const scope = globalThis as unknown as WebScope;
  const queued: unknown[] = [];
  let deliver: ((m: unknown) => void) | undefined;
  const init = await new Promise<unknown>((resolve) => {
    scope.addEventListener('message', (e: MessageEvent) => {
      const m = e.data as { kind?: string; init?: unknown };
      if (m?.kind === 'init') resolve(m.init);
      else if (deliver) deliver(m);
      else queued.push(m);
    });
  });
  return {
    init,
    postMessage: (m, t) => scope.postMessage(m, t ?? []),
    onMessage: (fn) => {
      deliver = fn;
      for (const m of queued.splice(0)) fn(m);
    },
  };
}

function kernelThread(code: string, data: unknown, onExit: () => void): { terminate(): unknown } | undefined {
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined' || typeof URL.createObjectURL !== 'function') return undefined;
  const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  try {
    const w = new Worker(url, { type: 'module', name: 'edgeq-kernels' });
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault(); // a failed thread never reports ready: the pool runs without it
      onExit();
    };
    w.postMessage(data);
    return w;
  } finally {
    // the worker has fetched its script by the time it runs; revoking later keeps Blob URLs from piling up
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

function defaultThreads(): number {
  const g = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number }; document?: unknown };
  // only where SharedArrayBuffer is usable (browsers: cross-origin isolated) and on a page's main thread
  if (typeof SharedArrayBuffer === 'undefined' || g.crossOriginIsolated === false || g.document === undefined) return 0;
  return Math.max(1, Math.min(4, g.navigator?.hardwareConcurrency ?? 1));
}

export const platform: Platform = {
  kind: 'web',
  readFile,
  externalDataBeside: () => undefined,
  join: (...parts) => parts.filter((p) => p !== '').join('/').replace(/([^:/])\/{2,}/g, '$1/'),
  dirname: (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) || '/' : '.'),
  writeFiles() {
    throw new Error('writing files needs a file system (Node, Deno or Bun); in browsers download the bytes instead');
  },
  workers: async (script) => webWorkers(script.js),
  workerSelf,
  kernelThread,
  defaultThreads,
};
