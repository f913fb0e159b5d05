/**
 * Worker transport for PipelineSession: node:worker_threads under Node, Deno and Bun, module Web Workers in
 * browsers, chosen by the '#platform' module (package.json "imports"; see src/platform/). Both expose
 * the same surface: spawn a stage worker with its WorkerInit (ports transferred), postMessage with
 * transferables, message/error/exit callbacks and terminate(); a failing Web Worker is terminated and
 * reports exit code 1, matching node:worker_threads' failure model.
 */
import { platform } from '#platform';
import type { WorkerHandle } from '../platform/types.js';
import type { MainMsg, WorkerInit } from './worker.js';
import { PipelineError } from './errors.js';

/** A running stage worker (under Node: the node:worker_threads Worker itself). */
export type StageWorker = WorkerHandle;

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

/** True where the platform has a file system and node:worker_threads (Node, Deno, Bun). */
export const isNode = platform.kind === 'node';

/**
 * `workerUrl` overrides the stage worker script; a bundled app passes its own bundle of 'edgeq/worker'
 * (the default, ./worker.js beside this module, only exists in an unbundled dist/).
 */
export async function createTransport(workerUrl?: URL): Promise<Transport> {
  let w;
  try {
    w = await platform.workers(workerUrl ? { js: workerUrl } : { js: new URL('./worker.js', import.meta.url), ts: new URL('./worker.ts', import.meta.url) });
  } catch (e) {
    throw new PipelineError(`PipelineSession cannot start workers: ${(e as Error).message}`, -1);
  }
  return {
    kind: w.kind,
    channel: () => w.channel(),
    spawn: (init, ev) =>
      w.spawn(init, [init.prev, init.next].filter((p) => p !== undefined), { message: (m) => ev.message(m as MainMsg), error: ev.error, exit: ev.exit }, `edgeq-stage-${init.stage + 1}`),
  };
}
