import { platform } from '#platform';
import { ShapeError } from '../errors.js';
import { type KernelExports, kernels, setThreadsWanted, sharedKernelModule } from './wasm.js';

/**
 * Kernel threads: N−1 workers each instantiate the kernel module over the ONE shared WASM memory, and a kernel
 * that is worth splitting hands each worker a list of export calls over its share of the output (GEMM column
 * panels, conv output channels, Winograd tile blocks) while the calling thread runs its own share, then waits.
 * Every output element is computed by the same kernel call sequence as on one thread, so results are
 * bit-identical for any thread count. The module has no globals, data segments or heap (asm/: pointers only),
 * so instances cannot clobber each other; each share gets its own scratch from the arena.
 *
 * Control block (one SharedArrayBuffer, SLOT bytes per worker): i32 [0] job sequence (written by the caller),
 * [1] sequence done (written by the worker), [2] error flag, [3] ready, [4] a run is in progress (spin); then f64 [8…]: the job, a list of
 * (export index, argument count, arguments…), ended by −1.
 */

const SLOT = 8192;
/**
 * Longest spin (ms) of a waiting thread before it sleeps in Atomics.wait: a worker between two kernels of a run,
 * the caller in a join. A futex sleep costs a wake-up per fork and join (40–100 µs on a quiet machine, ms when
 * the cores are contended); pthreadpool and onnxruntime's pool spin likewise (ORT for 20–50 ms after a run).
 * Workers spin only while a run is in progress (setActiveThreads), so they sleep as soon as it ends.
 */
const SPIN_MS = 5;
const JOB0 = 8; // first f64 of the job in a slot
const JOB_MAX = SLOT / 8 - JOB0;
/** most threads a session may use */
export const MAX_THREADS = 4;

/** The worker: plain JS run as given (node:worker_threads eval, or a Blob-URL module Worker); no free names. */
const WORKER = `
const start = (d) => {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(d.bytes), { env: { memory: d.memory, abort: () => { throw new Error('WASM kernel aborted'); } } });
  const fns = d.names.map((n) => inst.exports[n]);
  const i32 = new Int32Array(d.ctrl, d.base, 8);
  const f64 = new Float64Array(d.ctrl, d.base);
  const args = [];
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
    try {
      for (let p = ${JOB0}; f64[p] >= 0; ) {
        const f = fns[f64[p]];
        const n = f64[p + 1];
        args.length = n;
        for (let i = 0; i < n; i++) args[i] = f64[p + 2 + i];
        p += 2 + n;
        f(...args);
      }
      Atomics.store(i32, 2, 0);
    } catch (e) {
      Atomics.store(i32, 2, 1);
    }
    Atomics.store(i32, 1, s);
    Atomics.notify(i32, 1);
  }
};
if (typeof require === 'function') start(require('worker_threads').workerData); // not 'node:…': browser bundles are checked for that
else self.onmessage = (e) => { self.onmessage = null; start(e.data); };
`;

/** A call of a kernel export: its name and numeric arguments. */
export type KernelCall = [name: string, args: number[]];

interface Pool {
  readonly ex: KernelExports;
  readonly ctrl: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly names: string[];
  readonly index: Map<string, number>;
  readonly handles: { terminate(): unknown }[];
  /** workers that failed or ended (never ready: acquire stops waiting for them) */
  dead: number;
  /** sessions holding the pool */
  users: number;
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
    const ctrl = new SharedArrayBuffer(SLOT * (MAX_THREADS - 1));
    const names = Object.keys(ex).filter((k) => typeof (ex as unknown as Record<string, unknown>)[k] === 'function');
    pool = { ex, ctrl, i32: new Int32Array(ctrl), f64: new Float64Array(ctrl), names, index: new Map(names.map((k, i) => [k, i])), handles: [], users: 0, dead: 0 };
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
}

/** Threads the kernels may use for the run in progress (the executor sets it per run; 1 outside runs). */
export function setActiveThreads(n: number): number {
  const prev = active;
  active = Math.max(1, n);
  // a run starts: wake the workers, which then spin between its kernels instead of sleeping (no futex wake-up
  // per fork); it ends: they go to sleep at once
  if (pool) {
    for (let w = 0; w < pool.handles.length; w++) {
      const b = (w * SLOT) / 4;
      Atomics.store(pool.i32, b + 4, w + 1 < active ? 1 : 0);
      if (w + 1 < active) Atomics.notify(pool.i32, b);
    }
  }
  return prev;
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

/**
 * Run shares[i] (a list of kernel calls) on thread i: shares[0] on the calling thread, the rest on workers
 * (threadsFor decides how many there are); returns when all are done. A share whose arguments do not fit a
 * worker's job block runs on the calling thread after its own.
 */
export function forkJoin(ex: KernelExports, shares: KernelCall[][]): void {
  const p = pool;
  const run = (calls: KernelCall[]) => {
    for (const [f, a] of calls) ((ex as unknown as Record<string, (...a: number[]) => unknown>)[f]!)(...a);
  };
  if (!p || shares.length <= 1) {
    for (const s of shares) run(s);
    return;
  }
  seq = (seq + 1) | 0;
  const posted: number[] = [];
  const late: KernelCall[][] = [];
  for (let w = 0; w + 1 < shares.length; w++) {
    const calls = shares[w + 1]!;
    const f = new Float64Array(p.ctrl, w * SLOT + JOB0 * 8, JOB_MAX);
    let q = 0;
    let fits = w < p.handles.length && ready(p, w);
    for (const [name, args] of calls) {
      if (!fits || q + 3 + args.length > JOB_MAX) {
        fits = false;
        break;
      }
      f[q++] = p.index.get(name)!;
      f[q++] = args.length;
      for (const a of args) f[q++] = a;
    }
    if (!fits) {
      late.push(calls);
      continue;
    }
    f[q] = -1;
    const b = (w * SLOT) / 4;
    Atomics.store(p.i32, b, seq);
    Atomics.notify(p.i32, b);
    posted.push(w);
  }
  let err: unknown;
  try {
    run(shares[0]!);
    for (const s of late) run(s);
  } catch (e) {
    err = e;
  }
  // join even when our share failed: the workers are still writing into the same memory
  const wait = canWait();
  let failed = false;
  for (const w of posted) {
    const b = (w * SLOT) / 4;
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
  }
  if (err) throw err;
  if (failed) throw new ShapeError('a kernel thread failed (WASM trap in a worker)');
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

/**
 * How to split ex.f32_gemm(m, n, k, …) over `nt` threads so that each thread does about the same work: by 8-column
 * panels of C ('cols': each share can pack its own panels of B), or by 4-row blocks of A and C ('rows': B packed
 * once, before the fork, read by every share) when there are too few panels for an even split — a 7×7 conv's
 * 49 pixels are 7 panels, 3 against 4 (the fourth holding one column) — and enough rows. Every output element
 * is computed by the same micro-kernel call either way (f32_gemm's 4×8 tiles over the same k), so C is
 * bit-identical; 'rows' is never picked when a share would get a single row (f32_gemm runs m = 1 as a GEMV).
 */
export function gemmSplit(m: number, n: number, nt: number): 'rows' | 'cols' {
  const panels = (n + 7) >> 3;
  const blocks = (m + 3) >> 2;
  // the busiest share's units over the even share: panels are charged whole (a 1-column panel costs a full one)
  const skew = (units: number) => Math.ceil(units / nt) / (units / nt);
  if (m < 8 || skew(blocks) >= skew(panels) || shares(m, 4, nt).some(([r0, r1]) => r1 - r0 === 1)) return 'cols';
  // rows only when it is clearly better (cols keeps B's packing inside the shares)
  return skew(panels) > 1.02 ? 'rows' : 'cols';
}

/** The calls of ex.f32_gemm's rows [r0, r1) (see gemmSplit): A, C and the row bias offset, the packed B shared. */
export function gemmRows(r0: number, r1: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number, rb: number): KernelCall {
  return ['f32_gemm', [r1 - r0, n, k, a + r0 * lda * 4, lda, w, c + r0 * ldc * 4, ldc, lo, hi, rb ? rb + r0 * 4 : 0]];
}

/**
 * ex.f32_gemm(m, n, k, a, lda, w, c, ldc, lo, hi, rb) (B packed at w) over the threads its work earns, split by
 * gemmSplit: C is bit-identical to one thread.
 */
export function f32GemmThreaded(ex: KernelExports, m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number, rb: number): void {
  const nt = threadsFor(m * n * k);
  if (nt <= 1) return ex.f32_gemm(m, n, k, a, lda, w, c, ldc, lo, hi, rb);
  if (gemmSplit(m, n, nt) === 'rows') {
    forkJoin(ex, shares(m, 4, nt).map(([r0, r1]): KernelCall[] => [gemmRows(r0, r1, n, k, a, lda, w, c, ldc, lo, hi, rb)]));
    return;
  }
  const panel = (k + 1) * 32;
  forkJoin(ex, shares(n, 8, nt).map(([c0, c1]): KernelCall[] => [['f32_gemm', [m, c1 - c0, k, a, lda, w + (c0 >> 3) * panel, c + c0 * 4, ldc, lo, hi, rb]]]));
}
