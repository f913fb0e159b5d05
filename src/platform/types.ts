import type { ExternalDataSource } from '../formats/onnx/tensor-proto.js';
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

/**
 * The host's own synchronous crypto (Node: node:crypto, OpenSSL with AES-NI and SHA-NI), used by sealed models
 * (src/formats/sealed.ts, sealed-keys.ts) where it beats WebCrypto: Node's WebCrypto copies the data in and out,
 * hops to the thread pool for every call, and ran AES-GCM 2–10× slower on whole models. Absent on 'web';
 * `aesGcmKey()` returns undefined when the host cannot take a CryptoKey (then WebCrypto does the work).
 */
export interface HostCrypto {
  /** a handle for an AES-256-GCM CryptoKey, or undefined when this host cannot take it */
  aesGcmKey(k: CryptoKey): unknown;
  /** the same for 32 raw key bytes (copied; the caller wipes its own) */
  aesGcmRawKey?(raw: Uint8Array): unknown;
  /** decrypt `ct` into `out` from byte `at`; false when the 16-byte `tag` does not verify (that range is then zeroed) */
  aesGcmDecryptInto(key: unknown, iv: Uint8Array, aad: Uint8Array, ct: Uint8Array, tag: Uint8Array, out: Uint8Array, at: number): boolean;
  /**
   * decrypt `ct` piece by piece: `sink` gets each piece of plaintext in order (a short-lived buffer, wiped when sink
   * returns; the pieces are unauthenticated until this returns true). False when the tag does not verify.
   */
  aesGcmDecryptPieces(key: unknown, iv: Uint8Array, aad: Uint8Array, ct: Uint8Array, tag: Uint8Array, sink: (piece: Uint8Array) => void): boolean;
  /**
   * The host's crypto thread (Node: one persistent worker_thread running node:crypto, started by the first call),
   * claimed for one sealed load: undefined while it serves another load. The caller fills the slot's shared buffers,
   * then posts the job (or cancels); a job posted while the thread starts waits for it. See formats/sealed.ts, version 3.
   */
  gcmThread?(): GcmThreadSlot | undefined;
  /**
   * n bytes NOT zeroed (Node: Buffer.allocUnsafeSlow, its own ArrayBuffer), for a buffer the caller overwrites entirely
   * before anyone reads it — a version 3 weight's, written by its decryption (zeroing 14 MB of weights cost ≈ 1 ms).
   */
  uninitialized?(n: number): Uint8Array;
  sha256(data: Uint8Array): Uint8Array;
  /**
   * A public key (SPKI DER) for `verify`, parsed synchronously (Node: a KeyObject); throws when it is not a valid key
   * of that algorithm. Where present, a sealed file's signature is checked with no WebCrypto job and no event-loop turn.
   */
  verifyKey?(alg: 'ed25519' | 'ecdsa-p256', spki: Uint8Array): unknown;
  /** Ed25519, or ECDSA P-256 with SHA-256 and the signature as r ‖ s (64 bytes); false when it does not verify */
  verify?(alg: 'ed25519' | 'ecdsa-p256', key: unknown, signature: Uint8Array, message: Uint8Array): boolean;
  /** an incremental SHA-256 (fed piece by piece, e.g. while a file is read) */
  sha256Stream(): { update(data: Uint8Array): void; digest(): Uint8Array };
}

/**
 * The crypto thread claimed for one load. `shared(i, n)` is kept shared buffer i (0: stored chunks, 2: digests,
 * 3: control words) of n bytes, reused between loads (fresh memory costs a page fault per 4 KiB).
 */
export interface GcmThreadSlot {
  shared(which: 0 | 1 | 2 | 3, n: number): Uint8Array;
  /** hand the job over (`transfer`: its weight buffers, lent to the thread) */
  post(job: GcmThreadJob, transfer?: ArrayBuffer[]): void;
  /** give the thread back without a job */
  cancel(): void;
  /** the next segment of this load's job the thread handed over (its weights' buffers, transferred), or undefined */
  take(): { seg: number; bufs: Uint8Array[] } | undefined;
}

/**
 * Decrypt the weights of a version 3 model (formats/sealed.ts openV3Lazy). Segment s needs chunks s … segG[s] and
 * holds weights [segW[s], segW[s + 1]) (weight w: bytes [wOff[w], wOff[w] + wLen[w]) of the weights section). Chunk
 * k is stored at `input[stAt[k], stAt[k] + lens[k] + 16)` (ciphertext ‖ tag; with `fd`, read there first from file
 * offset fileAt + stAt[k]); its plaintext is bytes [ptAt[k], ptAt[k] + lens[k]) of the weights section. For every
 * segment whose `state[s]` the thread claims (0 → 1; the loading thread claims 0 → 2 to do one itself, 6 to abandon
 * it): decrypt its chunks (those it reads, or one nobody verified yet: cv[k] is set when a tag verified) and copy each
 * authenticated plaintext into its weights' `bufs`; post them (transferred back) for `take()` and set 3; else wipe
 * them and set 4 (a tag) or 5 (a read). Hash the `blocks` of `input` into `digests` (each claimed with hs[b]), each once
 * every chunk it overlaps is ready: between segments while the loading thread's furthest segment asked for (ctl[4] − 1)
 * is a few chunks behind, the rest after the last segment. ctl[0] set: stop claiming. ctl[5] = 1 when the job starts
 * (a test hook): claim nothing until it is 0 (or ctl[0] is set; at most 10 s).
 */
export interface GcmThreadJob {
  key: unknown;
  input: Uint8Array;
  state: Int32Array;
  ctl: Int32Array;
  ivs: Uint8Array[];
  aads: Uint8Array[];
  stAt: number[];
  ptAt: number[];
  lens: number[];
  /** weight chunk k's tag verified: set by whoever decrypted it */
  cv: Int32Array;
  segG: number[];
  segW: number[];
  /** weight w's buffer (allocated by the loading thread, transferred): filled and handed back in its segment's message */
  bufs: Uint8Array[];
  wOff: number[];
  wLen: number[];
  /** the signature's digest blocks: block b is input[blocks[b], blocks[b + 1]) (none: unsigned); hs[b] 0 unclaimed, 1 claimed, 2 in `digests` */
  blocks?: number[];
  hs: Int32Array;
  /** rt[k]: weight chunk k was read from `fd` (once; set by the thread) */
  rt: Int32Array;
  /** hash blocks between segments while the loading thread's furthest segment (ctl[4] − 1) is this many chunks behind (0/undefined: all after the last segment) */
  hashAhead?: number;
  /** (an experiment) raise the thread's own nice value by this much (Linux; once raised it stays) */
  nice?: number;
  /** a block is ready to hash once the thread read its chunks (version 4 from a file), else once they are authenticated */
  byRead?: boolean;
  digests: Uint8Array;
  /** read each chunk from this file descriptor first (a file given by path) */
  fd?: number;
  fileAt?: number;
  /** (tracing only, formats/sealed.ts sealTrace) epoch ms: [0] job start, [1 + 2s] segment s claimed, [2 + 2s] done, then hashes done; and the thread's CPU ms at the job's start and end */
  times?: Float64Array;
}

/** A file opened for positioned reads (Node, Deno, Bun): sealed files are read and decrypted chunk by chunk. */
export interface OpenedFile {
  /** bytes in the file when it was opened */
  readonly size: number;
  /** read up to `into.length` bytes from `position` into `into`; resolves to the bytes read (fewer only at the end) */
  read(into: Uint8Array, position: number): Promise<number>;
  /** the same read, synchronous (a sealed version 3 file: chunks read while the session is built) */
  readSync?(into: Uint8Array, position: number): number;
  /** the OS file descriptor (Node): the crypto thread reads a sealed version 3 file's chunks through it */
  readonly fd?: number;
  close(): Promise<void>;
}

export interface Platform {
  /** 'node' (Node, Deno, Bun: file system and node:worker_threads) or 'web' (browsers, Web Workers, fetch) */
  readonly kind: 'node' | 'web';
  /** the bytes of a file path ('node') or of a URL fetched relative to the page ('web') */
  readFile(path: string): Promise<Uint8Array>;
  /** open a file path for positioned reads (absent on 'web': there readFile fetches) */
  openFile?(path: string): Promise<OpenedFile>;
  /**
   * ONNX external data files resolved beside a model file path (confined to its folder), or undefined where the
   * runtime has no file system ('web': pass the bytes as `externalData: [{ path, data }]` instead)
   */
  externalDataBeside(modelPath: string): ExternalDataSource | undefined;
  /** path join / dirname ('/'-separated URLs on 'web') */
  join(...parts: string[]): string;
  dirname(path: string): string;
  /** write files into dir (created if missing); returns their paths. Throws on 'web' (no file system). */
  writeFiles(dir: string, files: { name: string; data: Uint8Array | string; mode?: number }[]): string[];
  /** worker_threads or Web Workers running `script`; rejects (plain Error) when the runtime has neither */
  workers(script: WorkerScript): Promise<Workers>;
  /** inside a worker spawned by workers(): its init and parent port */
  workerSelf(): Promise<WorkerSelf>;
  /** synchronous AES-256-GCM and SHA-256 of the host, when it has faster ones than WebCrypto (Node) */
  readonly crypto?: HostCrypto;
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
