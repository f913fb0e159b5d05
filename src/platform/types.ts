/**
 * What edgeq needs from its host runtime. `import { platform } from '#platform'` (package.json "imports")
 * resolves to platform/node.ts under Node, Deno and Bun and to platform/web.ts in browsers and bundles
 * (the "browser" condition), so nothing reachable from a browser entry names a `node:` module.
 * The platform modules import nothing from edgeq at run time (types only): under tsx, vitest or a mix of
 * src/ and dist/ they stay leaf modules and never duplicate edgeq's classes.
 */

/** Events of one spawned worker. */
export interface WorkerEvents {
  message(m: unknown): void;
  error(e: Error): void;
  /** the worker has ended (crash, uncaught error or terminate); called once */
  exit(code: number): void;
}

/** A running worker (under Node: the node:worker_threads Worker itself). */
export interface WorkerHandle {
  postMessage(msg: unknown, transfer?: readonly unknown[]): void;
  terminate(): Promise<unknown>;
}

/** Where a worker script is: a URL, or (Node only) the compiled worker beside its TypeScript source. */
export interface WorkerScript {
  /** compiled JS (the only one browsers use) */
  js: URL;
  /** TypeScript source, run through tsx when js is missing (Node, from a source checkout) */
  ts?: URL;
}

/** Spawns workers; `init` (with its ports in `ports`) is the worker's start-up data. */
export interface Workers {
  readonly kind: 'node' | 'web';
  /** a channel whose ports can be handed to two workers */
  channel(): { port1: unknown; port2: unknown };
  spawn(init: unknown, ports: unknown[], events: WorkerEvents, name: string): WorkerHandle;
}

/** The inside of a worker: its start-up data and the port to the thread that spawned it. */
export interface WorkerSelf {
  init: unknown;
  postMessage(msg: unknown, transfer?: ArrayBuffer[]): void;
  onMessage(fn: (m: unknown) => void): void;
}

export interface Platform {
  /** 'node' (Node, Deno, Bun: file system and node:worker_threads) or 'web' (browsers, Web Workers, fetch) */
  readonly kind: 'node' | 'web';
  /** the bytes of a file path ('node') or of a URL fetched relative to the page ('web') */
  readFile(path: string): Promise<Uint8Array>;
  /** path join / dirname ('/'-separated URLs on 'web') */
  join(...parts: string[]): string;
  dirname(path: string): string;
  /** write files into dir (created if missing); returns their paths. Throws on 'web' (no file system). */
  writeFiles(dir: string, files: { name: string; data: Uint8Array | string; mode?: number }[]): string[];
  /** worker_threads or Web Workers running `script`; rejects (plain Error) when the runtime has neither */
  workers(script: WorkerScript): Promise<Workers>;
  /** inside a worker spawned by workers(): its init and parent port */
  workerSelf(): Promise<WorkerSelf>;
  /**
   * A kernel thread (src/kernels/threads.ts): runs the self-contained script `code` with `data` as its start-up data
   * (Node: `workerData` through node:worker_threads, unref'd so it never keeps the process alive; browsers, Deno,
   * Bun: the first message to a Blob-URL module Worker). `onExit` is called if it fails or ends. Undefined where the
   * runtime has no workers.
   */
  kernelThread(code: string, data: unknown, onExit: () => void): { terminate(): unknown } | undefined;
  /**
   * Kernel threads to run by default: min(cores, 4) on the main thread where shared memory exists (browsers only when
   * crossOriginIsolated); 0 (none: no shared kernel memory unless asked for) inside a worker (pipeline workers
   * already run one per core) or without SharedArrayBuffer.
   */
  defaultThreads(): number;
}
