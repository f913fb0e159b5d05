/**
 * Worker transport for PipelineSession: node:worker_threads under Node, module Web Workers elsewhere
 * (browsers). Chosen by environment. Nothing here imports `node:` modules at load time, so browsers can
 * load it; the Node path imports them lazily.
 *
 * Both transports expose the same surface: spawn a stage worker with its WorkerInit (ports transferred),
 * postMessage with transferables, message/error/exit callbacks and terminate(). Web Workers have no
 * 'exit' event, and an uncaught error does not end them, so the web transport terminates a worker on
 * 'error' and synthesizes exit (code 1) on terminate, matching node:worker_threads' failure model.
 */
import type { MainMsg, WorkerInit } from './worker.js';
import { PipelineError } from './errors.js';

/** A running stage worker (under Node: the node:worker_threads Worker itself). */
export interface StageWorker {
  postMessage(msg: unknown, transfer?: readonly unknown[]): void;
  terminate(): Promise<unknown>;
}

export interface StageEvents {
  message(m: MainMsg): void;
  error(e: Error): void;
  /** the worker has ended (crash, uncaught error or terminate); called once */
  exit(code: number): void;
}

export interface Transport {
  readonly kind: 'node' | 'web';
  /** a channel whose ports can be handed to two workers */
  channel(): { port1: unknown; port2: unknown };
  spawn(init: WorkerInit, events: StageEvents): StageWorker;
}

/** True under Node (and runtimes that implement node:worker_threads the Node way). */
export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

export async function createTransport(workerUrl?: URL): Promise<Transport> {
  return isNode ? nodeTransport(workerUrl) : webTransport(workerUrl);
}

/** Where the Node worker script lives: compiled JS beside this module, or the TS source run through tsx. */
async function nodeWorkerSpec(override?: URL): Promise<{ script: URL | string; eval: boolean }> {
  if (override) return { script: override, eval: false };
  const { existsSync, readFileSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const { dirname, join } = await import('node:path');
  const { fileURLToPath, pathToFileURL } = await import('node:url');
  const js = new URL('./worker.js', import.meta.url);
  if (js.protocol !== 'file:' || existsSync(fileURLToPath(js))) return { script: js, eval: false };
  const ts = new URL('./worker.ts', import.meta.url);
  if (!existsSync(fileURLToPath(ts))) throw new PipelineError(`pipeline worker script not found beside ${fileURLToPath(import.meta.url)}`, -1);
  let api: string;
  try {
    // the ESM entry of tsx's API (require.resolve would pick the CJS one)
    const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
    api = pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import!.default!)).href;
  } catch {
    throw new PipelineError('running the pipeline from TypeScript sources needs tsx (or build first: worker.js is missing)', -1);
  }
  const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(ts.href)}, ${JSON.stringify(import.meta.url)}))`;
  return { script: code, eval: true };
}

async function nodeTransport(workerUrl?: URL): Promise<Transport> {
  const spec = await nodeWorkerSpec(workerUrl);
  const wt = await import('node:worker_threads');
  return {
    kind: 'node',
    channel: () => new wt.MessageChannel(),
    spawn(init, ev) {
      const transferList = [init.prev, init.next].filter((p) => p !== undefined) as import('node:worker_threads').MessagePort[];
      const w = new wt.Worker(spec.script, { eval: spec.eval, workerData: init, transferList });
      w.once('exit', (code) => ev.exit(code));
      w.on('error', (e) => ev.error(e));
      w.on('message', (m: MainMsg) => ev.message(m));
      return w as unknown as StageWorker;
    },
  };
}

async function webTransport(workerUrl?: URL): Promise<Transport> {
  if (typeof Worker === 'undefined' || typeof MessageChannel === 'undefined') {
    throw new PipelineError('PipelineSession needs node:worker_threads or Web Workers; neither is available here', -1);
  }
  // a bundler can pass its own worker URL (e.g. new URL('edgeq/dist/split/worker.js', import.meta.url))
  const url = workerUrl ?? new URL('./worker.js', import.meta.url);
  return {
    kind: 'web',
    channel: () => new MessageChannel(),
    spawn(init, ev) {
      const w = new Worker(url, { type: 'module', name: `edgeq-stage-${init.stage + 1}` });
      let ended = false;
      const exit = (code: number) => {
        if (ended) return;
        ended = true;
        ev.exit(code);
      };
      const die = (e: Error) => {
        if (ended) return;
        ev.error(e);
        w.terminate(); // an uncaught error does not end a Web Worker; make it fatal like in Node
        exit(1);
      };
      w.onmessage = (e: MessageEvent) => ev.message(e.data as MainMsg);
      w.onmessageerror = () => die(new Error('a message from the worker could not be deserialized'));
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        die(new Error(e.message || `cannot load worker script ${url.href}`));
      };
      // no workerData in browsers: the init (with its ports) is the first message
      const ports = [init.prev, init.next].filter((p) => p !== undefined) as MessagePort[];
      w.postMessage({ kind: 'init', init }, ports);
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
