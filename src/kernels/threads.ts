import { platform } from '#platform';
import { ShapeError } from '../errors.js';
import { type Arena, type KernelExports, kernels, setThreadsWanted, sharedKernelModule } from './wasm.js';

/**
 * Kernel threads: N−1 workers each instantiate the kernel module over the ONE shared WASM memory. A kernel that
 * is worth splitting cuts its output into chunks (GEMM column panels or row blocks, conv output channels,
 * Winograd tile blocks), each a list of export calls; the calling thread and the workers then claim chunks one at
 * a time from a shared counter until none are left, and the caller waits for the workers' last ones. Every output
 * element is computed by the same kernel call sequence as on one thread, whichever thread claims it, so results
 * are bit-identical for any thread count. Claiming (not fixed shares) keeps both cores busy when one thread is
 * slowed — preempted on a loaded machine, or woken late — and a worker that has not started by the time the
 * caller ran out of chunks is cancelled instead of waited for. The module has no globals, data segments or heap
 * (asm/: pointers only), so instances cannot clobber each other; scratch is per chunk, or per thread (a call's
 * arguments flagged in its mask get thread index × stride added: 0 on the caller, w + 1 on worker w).
 *
 * Control block (one SharedArrayBuffer): per worker SLOT bytes, i32 [0] job sequence (written by the caller),
 * [1] sequence done (written by the worker), [2] error flag, [3] ready, [4] a run is in progress (spin),
 * [5] the job's sequence while nobody claimed it (the worker's compare-exchange to 0 claims it, the caller's
 * cancels it), [6] forkStats is on: the worker writes f64 at byte 64 of its slot [0] when it started the job,
 * [1] when it ended (timeOrigin-based ms), [2] the chunks it ran; then at DYN the chunk table shared by all threads: per region r (one per thread, each on its
 * own cache line) i32 [16r] the chunks [next, end) still unclaimed, as next | end << 16 (claimed by
 * compare-exchange: the region's owner takes `next`, its largest chunk, any other thread `end − 1`, its
 * smallest); [64] the region count, [65] where the fork's table starts in D (B); then at DYN + 320 the f64 array D:
 * at D[B + c] where chunk c's calls start, and the chunks: (export index, argument count, mask, stride,
 * arguments…)…, −1. Tables of call sites that fork the same chunks run after run (forkCached) stay in D, each at
 * its own place, and are not written again while D has room (a full D starts over: `gen`).
 */

const SLOT = 128;
/** most threads a session may use */
export const MAX_THREADS = 4;
/**
 * Longest spin (ms) of a waiting thread before it sleeps in Atomics.wait: a worker between two kernels of a run,
 * the caller in a join. A futex sleep costs a wake-up per fork and join (40–100 µs on a quiet machine, ms when
 * the cores are contended); pthreadpool and onnxruntime's pool spin likewise (ORT for 20–50 ms after a run).
 * Workers spin only while a run is in progress (setActiveThreads), so they sleep as soon as it ends.
 */
const SPIN_MS = 5;
/** byte offset of the chunk table, and its f64 capacity */
const DYN = SLOT * 4;
const DYN_MAX = 32768;
/** i32 index of the region count in the counter block; bytes of the block */
const REGIONS = 16 * MAX_THREADS;
const CNT_BYTES = 320;

/**
 * Claim a chunk of region u (forkJoin's regions): the owner (`own`) takes the next from the front — the region's
 * chunks shrink from front to back (chunks()), so it starts on the largest — and any other thread the last one,
 * the smallest: a thread that is done with its own region takes the small ones of a late or slow thread first,
 * and larger ones only while that thread has still not come. −1: none left. Its source runs in the workers too
 * (WORKER): no free names but Atomics.
 */
function claim(cnt: Int32Array, u: number, own: boolean): number {
  for (;;) {
    const v = Atomics.load(cnt, 16 * u);
    const n = v & 0xffff;
    const e = v >>> 16;
    if (n >= e) return -1;
    if (Atomics.compareExchange(cnt, 16 * u, v, own ? v + 1 : v - 0x10000) === v) return own ? n : e - 1;
  }
}

/** The worker: plain JS run as given (node:worker_threads eval, or a Blob-URL module Worker); no free names. */
const WORKER = `
const start = (d) => {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(d.bytes), { env: { memory: d.memory, abort: () => { throw new Error('WASM kernel aborted'); } } });
  const fns = d.names.map((n) => inst.exports[n]);
  const i32 = new Int32Array(d.ctrl, d.base, 8);
  const tm = new Float64Array(d.ctrl, d.base + 64, 4);
  const cnt = new Int32Array(d.ctrl, ${DYN}, ${CNT_BYTES / 4});
  const D = new Float64Array(d.ctrl, ${DYN + CNT_BYTES}, ${DYN_MAX});
  const t = d.base / ${SLOT} + 1;
  const args = [];
  const claim = ${claim.toString()};
  Atomics.store(i32, 3, 1);
  Atomics.notify(i32, 3);
  let seen = Atomics.load(i32, 0);
  for (;;) {
    let s = seen;
    const t0 = performance.now();
    for (let spin = 1; s === seen; spin++) {
      s = Atomics.load(i32, 0);
      if ((spin & 255) === 0 && (Atomics.load(i32, 4) === 0 || performance.now() - t0 > ${SPIN_MS})) break;
    }
    if (s === seen) {
      Atomics.wait(i32, 0, seen);
      continue;
    }
    seen = s;
    if (Atomics.compareExchange(i32, 5, s, 0) !== s) continue; // cancelled: the caller ran out of chunks first
    const timed = i32[6] === 1; // forkStats on: when this job started and ended, its chunks (f64 at SLOT byte 64)
    if (timed) tm[0] = performance.timeOrigin + performance.now();
    let nc = 0;
    try {
      // own region first, then the others' leftovers; the chunk table starts at D[B]
      const B = cnt[${REGIONS + 1}];
      for (let r = 0, R = cnt[${REGIONS}]; r < R; r++) {
      for (let u = (t + r) % R, c; (c = claim(cnt, u, r === 0)) >= 0; nc++) {
        for (let p = D[B + c]; D[p] >= 0; ) {
          const f = fns[D[p]];
          const k = D[p + 1];
          const mask = D[p + 2];
          const off = t * D[p + 3];
          args.length = k;
          for (let i = 0; i < k; i++) args[i] = D[p + 4 + i] + ((mask >>> i) & 1 ? off : 0);
          p += 4 + k;
          f(...args);
        }
      }
      }
      Atomics.store(i32, 2, 0);
    } catch (e) {
      Atomics.store(i32, 2, 1);
    }
    if (timed) {
      tm[1] = performance.timeOrigin + performance.now();
      tm[2] = nc;
    }
    Atomics.store(i32, 1, s);
    Atomics.notify(i32, 1);
  }
};
if (typeof require === 'function') start(require('worker_threads').workerData); // not 'node:…': browser bundles are checked for that
else self.onmessage = (e) => { self.onmessage = null; start(e.data); };
`;

/**
 * A call of a kernel export: its name and numeric arguments; with `perThread`, the arguments whose bit is set in
 * `mask` get t × `stride` added on thread t (0: the caller, 1…: the workers) — per-thread scratch for chunks.
 */
export type KernelCall = [name: string, args: number[], perThread?: { mask: number; stride: number }];

interface Pool {
  readonly ex: KernelExports;
  readonly ctrl: SharedArrayBuffer;
  readonly i32: Int32Array;
  /** the chunk claim counter and the chunk table */
  readonly cnt: Int32Array;
  readonly dyn: Float64Array;
  readonly names: string[];
  readonly index: Map<string, number>;
  readonly handles: { terminate(): unknown }[];
  /** workers that failed or ended (never ready: acquire stops waiting for them) */
  dead: number;
  /** sessions holding the pool */
  users: number;
  /** D[0, top) holds kept tables (ForkSite) of generation `gen` */
  top: number;
  gen: number;
  /** the calling thread's exports by table index (for `fnsOf`) */
  fns?: ((...a: number[]) => unknown)[];
  fnsOf?: KernelExports;
}

let pool: Pool | undefined;
/** env.wasm.numThreads as set (undefined: the platform default) */
let configured: number | undefined;
/** threads the running session asked for (set by the executor around each run) */
let active = 1;

/** Threads per session by default or as configured (clamped to 1…MAX_THREADS). */
export function threadsConfigured(): number {
  const n = configured ?? platform.defaultThreads();
  return Math.max(1, Math.min(MAX_THREADS, Math.floor(n) || 1));
}
// the kernel memory is made shared where threads can run at all (even on one core: sessions may still ask for
// numThreads 2), unless env.wasm.numThreads was set to 1 before the first kernel use
setThreadsWanted(() => (configured !== undefined ? configured > 1 : platform.defaultThreads() > 0));

/** env.wasm.numThreads = n (0 or undefined: the default). More than 1 needs a shared memory, made on first kernel use only. */
export function configureThreads(n: number | undefined): void {
  configured = n === undefined || n === 0 ? undefined : n;
}

/** Whether kernel threads can run at all here (the kernel memory is shared). */
export function threadsAvailable(): boolean {
  return sharedKernelModule() !== undefined;
}

let mainCanWait: boolean | undefined;
/** Browsers forbid Atomics.wait on the main thread: spin there instead. */
function canWait(): boolean {
  if (mainCanWait === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      mainCanWait = true;
    } catch {
      mainCanWait = false;
    }
  }
  return mainCanWait;
}

function ready(p: Pool, w: number): boolean {
  return Atomics.load(p.i32, (w * SLOT) / 4 + 3) === 1;
}

/**
 * Hold kernel threads for a session that wants `n`: starts workers up to n−1 (shared by every session) and
 * resolves with the threads it can use once they are ready (1 when the memory is not shared, the runtime has no
 * workers, or they do not start within 5 s). Pair with releaseThreads() when the result is > 1 (at 1 nothing is held).
 */
export async function acquireThreads(n: number): Promise<number> {
  n = Math.max(1, Math.min(MAX_THREADS, Math.floor(n) || 1));
  const shared = n > 1 ? sharedKernelModule() : undefined;
  const ex = kernels();
  if (!shared || !ex) return 1;
  if (!pool) {
    const ctrl = new SharedArrayBuffer(DYN + CNT_BYTES + DYN_MAX * 8);
    const names = Object.keys(ex).filter((k) => typeof (ex as unknown as Record<string, unknown>)[k] === 'function');
    pool = { ex, ctrl, i32: new Int32Array(ctrl), cnt: new Int32Array(ctrl, DYN, CNT_BYTES / 4), dyn: new Float64Array(ctrl, DYN + CNT_BYTES, DYN_MAX), names, index: new Map(names.map((k, i) => [k, i])), handles: [], users: 0, dead: 0, top: 0, gen: 0 };
  }
  const p = pool;
  p.users++;
  try {
    while (p.handles.length < n - 1) {
      let gone = false;
      const h = platform.kernelThread(WORKER, { bytes: shared.bytes, memory: shared.memory, ctrl: p.ctrl, base: p.handles.length * SLOT, names: p.names }, () => {
        if (!gone) p.dead++;
        gone = true;
      });
      if (!h) break;
      p.handles.push(h);
    }
  } catch {
    // the runtime refused another worker: use those there are
  }
  const want = Math.min(n - 1, p.handles.length);
  for (let t = 0; t < 5000; t += 2) {
    let k = 0;
    while (k < want && ready(p, k)) k++;
    if (k === want || k + p.dead >= want) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  let k = 0;
  while (k < want && ready(p, k)) k++;
  if (k === 0) releaseThreads();
  return k + 1;
}

/** Live kernel workers (0 once the last session holding them is released). */
export function threadWorkers(): number {
  return pool?.handles.length ?? 0;
}

/** A session that acquired more than one thread is done: the last one out terminates the workers. */
export function releaseThreads(): void {
  if (!pool || --pool.users > 0) return;
  for (const h of pool.handles) void h.terminate();
  pool = undefined;
  awake = false;
}

/**
 * Threads the kernels may use for the run in progress (the executor sets it per run; 1 outside runs). `plan`: what
 * runs (a session's executor, a static plan) — when its last run on threads forked, the workers are woken now.
 */
export function setActiveThreads(n: number, plan?: object): number {
  const prev = active;
  active = Math.max(1, n);
  // a run's workers are woken at its first fork (wake), which then spin between its kernels instead of sleeping
  // (no futex wake-up per fork); when it ends they go to sleep at once. A run that never forks (a tiny static
  // plan: hello_world's three 16-wide layers) pays two assignments here instead of a store and a notify per worker
  // at each end (~120 ns of a 140 ns invoke in Node, where sessions default to 2 threads). A plan whose last run
  // forked wakes them at its start instead: the wake-up (0.1 ms on a quiet machine, more when the other core is
  // busy) then passes while the caller copies the inputs in and runs the nodes before the first fork, instead of
  // the caller running the first fork's chunks alone (squeezenet's first conv: 0.12 ms of a 9.7 ms 2-thread run)
  if (running && active === 1) {
    if (forked) forking.add(running);
    else forking.delete(running);
    running = undefined;
  }
  if (pool && awake) wake(pool);
  forked = false;
  if (plan && active > 1) {
    running = plan;
    if (pool && forking.has(plan)) wake(pool);
  }
  return prev;
}
/** whether the workers were told to spin for the run in progress (wake) */
let awake = false;
/** the plan of the run in progress on threads (setActiveThreads), whether that run posted to a worker yet, and the plans whose last such run did */
let running: object | undefined;
let forked = false;
const forking = new WeakSet<object>();

/** Whether the workers spin for the run in progress (woken at its start or at its first fork; tests). */
export function workersSpinning(): boolean {
  return awake;
}
function wake(p: Pool): void {
  for (let w = 0; w < p.handles.length; w++) {
    const b = (w * SLOT) / 4;
    Atomics.store(p.i32, b + 4, w + 1 < active ? 1 : 0);
    if (w + 1 < active) Atomics.notify(p.i32, b);
  }
  awake = active > 1;
}

/**
 * Threads to split a kernel of `work` multiply-adds (or comparable steps) over: 1 below ~MIN_SHARE per thread, so
 * the dispatch (a few µs, more when the worker sleeps) stays small beside the work.
 */
export function threadsFor(work: number): number {
  if (active <= 1 || !pool) return 1;
  const byWork = Math.floor(work / MIN_SHARE);
  let n = Math.min(active, byWork, pool.handles.length + 1);
  while (n > 1 && !ready(pool, n - 2)) n--;
  return Math.max(1, n);
}
let MIN_SHARE = 150_000;

/** Work per thread below which kernels stay on one thread; returns the previous value (tests set 1 to split everything). */
export function setMinShare(work: number): number {
  const prev = MIN_SHARE;
  MIN_SHARE = work;
  return prev;
}

let seq = 0;
/** the calling thread's argument list for a table call (reused) */
const args: number[] = [];
/** diagnostic (setInlineForks): forkJoin runs every chunk on the calling thread, cut as for the threads */
let inline = false;

/** Diagnostic: with `on`, kernels still cut their work for the run's thread count, but the caller runs every chunk (what the split itself costs); returns the previous value. */
export function setInlineForks(on: boolean): boolean {
  const prev = inline;
  inline = on;
  return prev;
}

/** Fork/join counters since forkStats(true) (bench/threads-nodes.js): where a threaded run's time goes. */
export interface ForkStats {
  /** forkJoin calls that posted to at least one worker */
  forks: number;
  chunks: number;
  /** chunks the calling thread ran itself */
  callerChunks: number;
  /** workers cancelled because the caller ran out of chunks before they started */
  cancelled: number;
  /** forks whose chunk lists were kept from an earlier run (forkCached), and of those, whose table was still in place */
  kept: number;
  keptTables: number;
  /** ms the caller spent running chunks, and waiting for the workers' last ones */
  callerMs: number;
  joinMs: number;
  /** ms the caller spent in forkJoin before the workers could start: writing the chunk table, posting */
  setupMs: number;
  /** workers' chunks; their ms from the post to their start (wake-up), in chunks, and idle while the caller still ran chunks */
  workerChunks: number;
  workerLateMs: number;
  workerMs: number;
  workerIdleMs: number;
  /** with forkStats(true, true), per fork: [caller ms in chunks, its chunks, chunks, join ms, worker late ms, worker ms in chunks, its chunks, worker idle ms, regions, setup ms] (inline forks: the first three) */
  log?: number[][];
}
let stats: ForkStats | undefined;

/** Start (true: from zero), stop (false) or read (no argument) the fork/join counters; off by default (no clock reads). */
export function forkStats(on?: boolean, log = false): ForkStats | undefined {
  const cur = stats;
  if (on === true) stats = { forks: 0, chunks: 0, callerChunks: 0, cancelled: 0, kept: 0, keptTables: 0, callerMs: 0, joinMs: 0, setupMs: 0, workerChunks: 0, workerLateMs: 0, workerMs: 0, workerIdleMs: 0, ...(log ? { log: [] } : {}) };
  else if (on === false) stats = undefined;
  return cur;
}

/** Write `chunks` as a table at D[base] (see the control block): chunk starts, then each chunk's calls, −1. */
function encode(p: Pool, chunks: KernelCall[][], base: number): void {
  const D = p.dyn;
  let q = base + chunks.length;
  for (let c = 0; c < chunks.length; c++) {
    D[base + c] = q;
    const calls = chunks[c]!;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      const args = call[1];
      const per = call[2];
      D[q] = p.index.get(call[0])!;
      D[q + 1] = args.length;
      D[q + 2] = per ? per.mask : 0;
      D[q + 3] = per ? per.stride : 0;
      q += 4;
      for (let j = 0; j < args.length; j++) D[q++] = args[j]!;
    }
    D[q++] = -1;
  }
}

/**
 * A call site that forks the same chunks run after run (a kernel node: the same pointers and sizes each run):
 * forkCached keeps its chunk lists, and forkJoin its table in D, so neither is built again until the key changes.
 */
export interface ForkSite {
  key: number[];
  chunks: KernelCall[][];
  regions: readonly number[];
  pool?: Pool;
  gen: number;
  base: number;
}
const sites = new WeakMap<object, ForkSite>();

/**
 * forkJoin(ex, build().chunks, nt, build().regions), with the chunk lists kept for `owner` (one fork per owner:
 * e.g. a conv node's shape object) while `key` — every number the lists are built from that may change between
 * runs (pointers, sizes; `nt` is added) — is the same; `build` runs only when it is not. Without an owner, or
 * when the run stays on one thread, it is forkJoin as is.
 */
export function forkCached(ex: KernelExports, owner: object | undefined, key: readonly number[], nt: number, build: () => { chunks: KernelCall[][]; regions: readonly number[] }): void {
  if (!owner || !pool || nt <= 1) {
    const b = build();
    return forkJoin(ex, b.chunks, nt, b.regions);
  }
  let site = sites.get(owner);
  let same = site !== undefined && site.key.length === key.length + 1 && site.key[0] === nt;
  for (let i = 0; same && i < key.length; i++) same = Object.is(site!.key[i + 1], key[i]);
  if (!same) {
    const b = build();
    site = { key: [nt, ...key], chunks: b.chunks, regions: b.regions, gen: -1, base: -1 };
    sites.set(owner, site);
  } else if (stats) stats.kept++;
  forkJoin(ex, site!.chunks, nt, site!.regions, site);
}

/**
 * Run `chunks` (each a list of kernel calls, independent of each other) on up to `nt` threads, the calling one
 * included; returns when all are done. `regions` (the first chunk of each) give thread t region t: it claims
 * the next chunk of its own region until none are left, then of the others' — the same thread keeps the same
 * part of the output from one kernel to the next (its caches hold it) unless another thread is faster. Chunk c
 * may run on any thread, so its scratch must be its own or per thread (KernelCall's perThread). Without workers
 * (or when the chunks do not fit the table) the calling thread runs them all, in order.
 */
export function forkJoin(ex: KernelExports, chunks: KernelCall[][], nt = chunks.length, regions: readonly number[] = chunks.length <= MAX_THREADS ? chunks.map((_, i) => i) : [0], site?: ForkSite): void {
  const p = pool;
  const ts = stats ? performance.now() : 0;
  const fn = ex as unknown as Record<string, (...a: number[]) => unknown>;
  const run = (calls: KernelCall[], t: number) => {
    for (const [f, a, per] of calls) {
      if (t && per) fn[f]!(...a.map((v, i) => ((per.mask >>> i) & 1 ? v + t * per.stride : v)));
      else fn[f]!(...a);
    }
  };
  const workers = p ? Math.min(nt, chunks.length, p.handles.length + 1) - 1 : 0;
  if (p && workers > 0 && !awake && active > 1) wake(p);
  // the table: a site's kept one while it is still in D, else written now — a site's at D's top (kept), any
  // other fork's above the kept ones (overwritten by the next fork)
  let base = -1;
  if (p && workers > 0 && !inline && regions.length <= MAX_THREADS) {
    if (site && site.pool === p && site.gen === p.gen) {
      base = site.base;
      if (stats) stats.keptTables++;
    }
    else {
      // per chunk its start, its calls (4 + arguments each) and the −1 that ends it
      let need = 2 * chunks.length;
      for (const c of chunks) for (const call of c) need += 4 + call[1].length;
      if (need <= DYN_MAX) {
        if (p.top + need > DYN_MAX) {
          p.gen++; // D is full: every kept table is written again when its site next forks
          p.top = 0;
        }
        base = p.top;
        encode(p, chunks, base);
        if (site) {
          site.pool = p;
          site.gen = p.gen;
          site.base = base;
          p.top += need;
        }
      }
    }
  }
  if (!p || base < 0) {
    const t0 = stats ? performance.now() : 0;
    for (const c of chunks) run(c, 0);
    if (stats && inline) {
      const t1 = performance.now();
      stats.setupMs += t0 - ts;
      stats.forks++;
      stats.chunks += chunks.length;
      stats.callerChunks += chunks.length;
      stats.callerMs += t1 - t0;
      stats.log?.push([t1 - t0, chunks.length, chunks.length]);
    }
    return;
  }
  seq = (seq + 1) | 0;
  const R = regions.length;
  for (let r = 0; r < R; r++) {
    p.cnt[16 * r] = regions[r]! | ((r + 1 < R ? regions[r + 1]! : chunks.length) << 16);
  }
  p.cnt[REGIONS] = R; // published to the workers by the Atomics.store of the sequence below
  p.cnt[REGIONS + 1] = base;
  const posted: number[] = [];
  forked = true;
  const tp = stats ? performance.now() : 0;
  for (let w = 0; w < workers; w++) {
    if (!ready(p, w)) continue;
    const b = (w * SLOT) / 4;
    p.i32[b + 6] = stats ? 1 : 0;
    Atomics.store(p.i32, b + 5, seq);
    Atomics.store(p.i32, b, seq);
    Atomics.notify(p.i32, b);
    posted.push(w);
  }
  let err: unknown;
  const st = stats;
  const t0 = st ? performance.now() : 0;
  let mine = 0;
  try {
    const D = p.dyn;
    if (p.fnsOf !== ex) {
      p.fns = p.names.map((k) => fn[k]!);
      p.fnsOf = ex;
    }
    const fns = p.fns!;
    for (let r = 0; r < R; r++) {
      for (let c; (c = claim(p.cnt, r, r === 0)) >= 0; mine++) {
        // the chunk's calls as the table has them (the calling thread is thread 0: no per-thread offsets)
        for (let q = D[base + c]!; D[q]! >= 0; ) {
          const k = D[q + 1]!;
          args.length = k;
          for (let i = 0; i < k; i++) args[i] = D[q + 4 + i]!;
          fns[D[q]!]!(...args);
          q += 4 + k;
        }
      }
    }
  } catch (e) {
    err = e;
  }
  const t1 = st ? performance.now() : 0;
  // join even when a chunk of ours failed: the workers are still writing into the same memory
  const wait = canWait();
  let failed = false;
  let wc = 0, wl = 0, wm = 0, wi = 0;
  for (const w of posted) {
    const b = (w * SLOT) / 4;
    // not started yet: every chunk is claimed, so cancel it rather than wait for it to wake
    if (Atomics.compareExchange(p.i32, b + 5, seq, 0) === seq) {
      if (st) st.cancelled++;
      continue;
    }
    // spin first (up to SPIN_MS), then sleep
    let t0 = 0;
    for (let spin = 1; ; spin++) {
      const d = Atomics.load(p.i32, b + 1);
      if (d === seq) break;
      if (!wait || (spin & 255) !== 0) continue;
      if (!t0) t0 = performance.now();
      else if (performance.now() - t0 > SPIN_MS) Atomics.wait(p.i32, b + 1, d, 50);
    }
    if (Atomics.load(p.i32, b + 2) !== 0) failed = true;
    if (st) {
      const tm = new Float64Array(p.ctrl, w * SLOT + 64, 4);
      const o = performance.timeOrigin;
      wc += tm[2]!;
      wl += Math.max(0, tm[0]! - (o + tp));
      wm += tm[1]! - tm[0]!;
      wi += Math.max(0, o + t1 - tm[1]!);
    }
  }
  if (st) {
    st.setupMs += t0 - ts;
    st.forks++;
    st.chunks += chunks.length;
    st.callerChunks += mine;
    st.callerMs += t1 - t0;
    const j = performance.now() - t1;
    st.joinMs += j;
    st.workerChunks += wc;
    st.workerLateMs += wl;
    st.workerMs += wm;
    st.workerIdleMs += wi;
    st.log?.push([t1 - t0, mine, chunks.length, j, wl, wm, wc, wi, R, t0 - ts]);
  }
  if (err) throw err;
  if (failed) throw new ShapeError('a kernel thread failed (WASM trap in a worker)');
}

/**
 * Per-thread scratch (KernelCall's perThread): `nt` blocks of `bytes` in one allocation, each starting on its own
 * 128-byte line pair, so no cache line is written by two threads. A line two cores both write moves between them
 * on every write (false sharing): with MaxPool's 460-byte row scratch blocks back to back, 2 threads ran a 64×111×111
 * pool slower than one. `ptr` is the first block, `stride` the distance between blocks; free with mem.release(`block`)
 * (`mem` may be a static plan's scratch, `{ alloc: b.scratch }`, freed with the plan).
 */
export function threadScratch(mem: Pick<Arena, 'alloc'>, bytes: number, nt: number, what: string): { block: number; ptr: number; stride: number } {
  if (nt <= 1) {
    const block = mem.alloc(bytes, what);
    return { block, ptr: block, stride: 0 };
  }
  const stride = Math.ceil(bytes / 128) * 128;
  const block = mem.alloc(stride * nt + 128, what);
  return { block, ptr: (block + 127) & ~127, stride };
}

/** Chunk ranges [start, end) and where each thread's region of them starts (forkJoin's `regions`). */
export interface Chunks {
  ranges: [number, number][];
  regions: number[];
}

/**
 * Chunks of `count` units (multiples of `grain` units but the last) for `nt` threads: one contiguous region
 * per thread (shares()), cut into chunks of half of what is left of it (at least `minUnits` units), so a thread
 * that is slowed hands its later, smaller chunks to the others, and the last ones, which decide when the join
 * happens, are small.
 */
export function chunks(count: number, grain: number, nt: number, minUnits = grain): Chunks {
  const least = Math.max(1, Math.ceil(minUnits / grain));
  const ranges: [number, number][] = [];
  const regions: number[] = [];
  for (const [s0, s1] of shares(count, grain, nt)) {
    regions.push(ranges.length);
    const b1 = Math.ceil(s1 / grain);
    for (let b = s0 / grain; b < b1; ) {
      const size = Math.min(b1 - b, Math.max(least, Math.ceil((b1 - b) / 2)));
      ranges.push([b * grain, Math.min(count, (b + size) * grain)]);
      b += size;
    }
  }
  return { ranges, regions };
}

/** Contiguous shares of `count` units (each share a multiple of `grain` units but the last): [start, end) pairs. */
export function shares(count: number, grain: number, n: number): [number, number][] {
  const blocks = Math.ceil(count / grain);
  n = Math.max(1, Math.min(n, blocks));
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const b0 = Math.floor((blocks * i) / n);
    const b1 = Math.floor((blocks * (i + 1)) / n);
    out.push([b0 * grain, Math.min(count, b1 * grain)]);
  }
  return out;
}

/** Work (multiply-adds or comparable steps) below which a chunk is not cut smaller: a claim costs ~1 µs. */
const CHUNK_WORK = 50_000;

/** chunks() of `count` units of `unitWork` each: no chunk under CHUNK_WORK (unless the whole is; tests that set a tiny MIN_SHARE get tiny chunks too). */
export function chunksOf(count: number, grain: number, nt: number, unitWork: number): Chunks {
  return chunks(count, grain, nt, Math.ceil(Math.min(CHUNK_WORK, MIN_SHARE) / Math.max(1, unitWork)));
}

/** forkJoin over the ranges of `c` (chunks / chunksOf): range [r0, r1) runs `calls(r0, r1)`, each thread starting in its own region. */
export function forkRanges(ex: KernelExports, c: Chunks, nt: number, calls: (r0: number, r1: number) => KernelCall[]): void {
  forkJoin(ex, c.ranges.map(([r0, r1]) => calls(r0, r1)), nt, c.regions);
}

/**
 * How to split ex.f32_gemm(m, n, k, …) over `nt` threads: by 8-column panels of C ('cols': each chunk can pack
 * its own panels of B), or by 4-row blocks of A and C ('rows': B packed once, before the fork, read by every
 * chunk) when there are few panels — a 7×7 conv's 49 pixels are 7 panels, so the last chunk would be a seventh
 * of the work — and enough rows. Every output element is computed by the same micro-kernel call either way
 * (f32_gemm's 4×8 tiles over the same k), so C is bit-identical.
 */
export function gemmSplit(m: number, n: number, nt: number): 'rows' | 'cols' {
  return (n + 7) >> 3 < 8 * nt && m >= 8 * nt ? 'rows' : 'cols';
}

/**
 * ex.f32_gemm in chunks of rows (see gemmSplit): A, C and the row bias offset, the packed B shared. No chunk
 * has a single row (f32_gemm runs m = 1 as a GEMV, which rounds differently): one is merged into the one before.
 */
export function gemmRowChunks(ex: KernelExports, m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number, rb: number, nt: number, ap = 0, post?: (r0: number, r1: number) => KernelCall[]): void {
  const { chunks, regions } = gemmRowPlan(m, n, k, a, lda, w, c, ldc, lo, hi, rb, nt, ap, post);
  forkJoin(ex, chunks, nt, regions);
}

/** gemmRowChunks' chunk lists (for forkCached). */
export function gemmRowPlan(m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number, rb: number, nt: number, ap = 0, post?: (r0: number, r1: number) => KernelCall[]): { chunks: KernelCall[][]; regions: number[] } {
  const { ranges, regions } = chunksOf(m, 4, nt, 4 * n * k);
  const last = ranges.length - 1;
  if (last > 0 && ranges[last]![1] - ranges[last]![0] === 1) {
    ranges.splice(-2, 2, [ranges[last - 1]![0], m]);
    if (regions[regions.length - 1] === last) regions.pop();
  }
  // ap: A already packed in 4-row strips (f32_gemm_pack_a4; chunks start on multiples of 4 rows) — f32_gemm_pa, same bits
  // post(r0, r1): calls run after a chunk's rows (a residual over them)
  const chunks = ranges.map(([r0, r1]): KernelCall[] => [
    ap ? ['f32_gemm_pa', [r1 - r0, n, k, ap + r0 * k * 4, w, c + r0 * ldc * 4, ldc, lo, hi, rb ? rb + r0 * 4 : 0]] : ['f32_gemm', [r1 - r0, n, k, a + r0 * lda * 4, lda, w, c + r0 * ldc * 4, ldc, lo, hi, rb ? rb + r0 * 4 : 0]],
    ...(post ? post(r0, r1) : []),
  ]);
  return { chunks, regions };
}

/**
 * ex.f32_gemm(m, n, k, a, lda, w, c, ldc, lo, hi, rb) (B packed at w) over the threads its work earns, split by
 * gemmSplit: C is bit-identical to one thread.
 */
export function f32GemmThreaded(ex: KernelExports, m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number, rb: number): void {
  const nt = threadsFor(m * n * k);
  if (nt <= 1) return ex.f32_gemm(m, n, k, a, lda, w, c, ldc, lo, hi, rb);
  if (m > 1 && gemmSplit(m, n, nt) === 'rows') return gemmRowChunks(ex, m, n, k, a, lda, w, c, ldc, lo, hi, rb, nt);
  const panel = (k + 1) * 32;
  const cols = chunksOf(n, 8, nt, m * k);
  forkRanges(ex, cols, nt, (c0, c1): KernelCall[] => [['f32_gemm', [m, c1 - c0, k, a, lda, w + (c0 >> 3) * panel, c + c0 * 4, ldc, lo, hi, rb]]]);
}
