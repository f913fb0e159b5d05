// Shared bench plumbing: tinybench runs, onnxruntime-web (wasm, SIMD, 1 thread) as the in-process rival; edgeq at 1 thread.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import * as ort from 'onnxruntime-web';
import { env } from '../dist/index.js';

ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;
ort.env.logLevel = 'error';
export { ort };
// edgeq on one kernel thread too, like ORT above (bench/threads.child.js sets 2 before its first session)
env.wasm.numThreads = 1;

export const args = process.argv.slice(2);
export const quick = args.includes('--quick');
export const json = args.includes('--json');

export function dataDir() {
  return process.env.EDGEQ_DATA ?? join(process.cwd(), '..', 'shared', 'models');
}
export function dataFile(rel) {
  const p = join(dataDir(), rel);
  if (!existsSync(p)) {
    if (process.env.CI) throw new Error(`bench data missing: ${p}`);
    return undefined;
  }
  return p;
}

/** Median ms of `fn` (async allowed) under tinybench; quick mode keeps CI fast. */
export async function timeMs(name, fn) {
  const bench = new Bench({ time: quick ? 100 : 1000, iterations: quick ? 3 : 10, warmupTime: quick ? 20 : 200, warmupIterations: quick ? 1 : 3 });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result;
  if (!r || r.error) throw r?.error ?? new Error(`bench ${name} failed`);
  const lat = r.latency ?? r;
  return lat.p50 ?? lat.median ?? r.mean;
}

/** Print a table of rows (objects) with fixed columns. */
export function table(title, rows) {
  if (json) return;
  console.log(`\n## ${title}`);
  if (!rows.length) return console.log('(nothing ran)');
  const cols = Object.keys(rows[0]);
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  console.log(cols.map((c, i) => c.padEnd(w[i])).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => String(r[c]).padEnd(w[i])).join('  '));
}

export const fmt = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : String(x));

/** Medians (ms) of `rounds` runs of two sessions alternating round by round, after one warm-up each. */
export async function alternating(a, feedsA, b, feedsB, rounds) {
  await a.run(feedsA);
  await b.run(feedsB);
  const ta = [];
  const tb = [];
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    await a.run(feedsA);
    ta.push(performance.now() - t);
    t = performance.now();
    await b.run(feedsB);
    tb.push(performance.now() - t);
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  return [med(ta), med(tb)];
}

/**
 * A thread of this process that spins (no memory traffic) on the other core while `holding(true)` — for the
 * 1-thread runs of the threads benches: on a quiet machine that core would sit idle; on a loaded one (CI, shared
 * hosts) it would run other programs that share the last-level cache and memory bus with the measured thread
 * (measured 18:57, load 17: edgeq 1T squeezenet 23 ms with the core held, 34 ms without), so 1T would read slow
 * and the 2T/1T speedup high. Returns holding(on).
 */
export function coreHolder() {
  // h[0]: 1 = spin; h[1]: the holder's OS thread id (Linux, from /proc/thread-self), for pinning it (threads.child.js)
  const hold = new Int32Array(new SharedArrayBuffer(8));
  const holder = new Worker("const { workerData: h } = require('node:worker_threads'); try { Atomics.store(h, 1, Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop())); } catch {} Atomics.notify(h, 1); for (;;) { Atomics.wait(h, 0, 0); while (Atomics.load(h, 0) === 1); }", { eval: true, workerData: hold });
  holder.unref();
  const holding = (on) => {
    Atomics.store(hold, 0, on ? 1 : 0);
    if (on) Atomics.notify(hold, 0);
  };
  /** the holder's OS thread id once it has started (0 where /proc/thread-self does not exist) */
  holding.tid = () => Atomics.load(hold, 1);
  return holding;
}
