// Where a 2-thread run loses against half of a 1-thread run, node by node (a diagnostic, not part of bench/run.js):
//   EDGEQ_DATA=/work/shared/models node bench/threads-nodes.js [squeezenet1_1|mobilenet_v2] [runs]
// Two profiled sessions (numThreads 1 and 2) of the same model run alternately in this process; during the 1-thread
// runs a spinning thread holds the other core, as in bench/threads.child.js. Per node: median ms at 1T and 2T, the
// speedup and "lost" = 2T − 1T/2 (what a perfect split would save); then per op type, and the fork/join counters of
// the 2T runs (kernels/threads.ts forkStats: forks per run, share of chunks the calling thread ran, workers
// cancelled because they had not started when the caller ran out of chunks, ms the caller spent in chunks, in
// joins and writing the chunk tables). "outside forks" is the rest of the 2T run: serial kernels, JS in and between kernels.
// Last, the machine's thread wake-up latency: how long a worker sleeping in Atomics.wait takes to run after a notify
// (what a 2-thread run's first fork waits for, its workers having slept since the last run) — ~0.1 ms on a quiet
// machine, ms when the other core runs other programs' threads (the scheduler lets them finish their slice).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InferenceSession, Tensor, env } from '../dist/index.js';
import { forkStats } from '../dist/kernels/threads.js';
import { coreHolder, dataFile } from './common.js';

const model = process.argv[2] ?? 'squeezenet1_1';
const runs = Number(process.argv[3] ?? 40);
const path = dataFile(`bench/${model}.onnx`);
if (!path) {
  console.log(`no ${model}.onnx (set EDGEQ_DATA)`);
  process.exit(0);
}
env.wasm.numThreads = 2;
const bytes = new Uint8Array(readFileSync(path));
const dims = [1, 3, 224, 224];
const x = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 0.5 + 0.5);
const feed = { input: new Tensor('float32', x, dims) };
const holding = coreHolder();
const s1 = await InferenceSession.create(bytes, { numThreads: 1, profile: true });
const s2 = await InferenceSession.create(bytes, { numThreads: 2, profile: true });
const load0 = loadavg()[0];
for (let i = 0; i < 10; i++) {
  holding(true);
  await s1.run(feed);
  holding(false);
  await s2.run(feed);
}
s1.resetProfile();
s2.resetProfile();
let wall2 = 0;
let fork = { forks: 0, chunks: 0, callerChunks: 0, cancelled: 0, kept: 0, keptTables: 0, callerMs: 0, joinMs: 0, setupMs: 0, workerChunks: 0, workerLateMs: 0, workerMs: 0, workerIdleMs: 0 };
for (let i = 0; i < runs; i++) {
  holding(true);
  await s1.run(feed);
  holding(false);
  forkStats(true);
  const t = performance.now();
  await s2.run(feed);
  wall2 += performance.now() - t;
  const st = forkStats(false);
  for (const k of Object.keys(fork)) fork[k] += st[k];
}
const a = s1.profile();
const b = s2.profile();
const f = (v, d = 3) => v.toFixed(d);
console.log(`${model}: ${runs} runs each, load average ${f(load0, 1)} → ${f(loadavg()[0], 1)}; median run 1T ${f(a.ms, 2)} ms, 2T ${f(b.ms, 2)} ms → ${f(a.ms / b.ms, 2)}×`);
const rows = a.nodes.map((n, i) => ({ n, m: b.nodes[i] })).filter(({ n }) => n.ms >= 0.05);
console.log('\nnode                                     kernel                   1T ms   2T ms  speedup  lost');
for (const { n, m } of rows) console.log(`${n.name.slice(-40).padEnd(40)} ${n.kernel.slice(0, 24).padEnd(24)} ${f(n.ms).padStart(6)} ${f(m.ms).padStart(7)} ${f(n.ms / m.ms, 2).padStart(8)} ${f(m.ms - n.ms / 2).padStart(6)}`);
const ops = new Map();
a.nodes.forEach((n, i) => {
  const o = ops.get(n.op) ?? { c: 0, t1: 0, t2: 0 };
  o.c++;
  o.t1 += n.ms;
  o.t2 += b.nodes[i].ms;
  ops.set(n.op, o);
});
console.log('\nop                  nodes   1T ms   2T ms  speedup  lost');
for (const [op, o] of ops) console.log(`${op.padEnd(18)} ${String(o.c).padStart(6)} ${f(o.t1, 2).padStart(7)} ${f(o.t2, 2).padStart(7)} ${f(o.t1 / o.t2, 2).padStart(8)} ${f(o.t2 - o.t1 / 2, 2).padStart(5)}`);
const per = (v) => v / runs;
console.log(
  `\n2T fork/join per run: ${f(per(fork.forks), 0)} forks, ${f(per(fork.chunks), 0)} chunks (${f((100 * fork.callerChunks) / fork.chunks, 0)} % run by the caller), ` +
    `${f(per(fork.cancelled), 1)} workers cancelled, ${f(per(fork.kept), 0)} kept from the run before (${f(per(fork.keptTables), 0)} with their table); caller in chunks ${f(per(fork.callerMs), 2)} ms, in joins ${f(per(fork.joinMs), 2)} ms, ` +
    `writing chunk tables ${f(per(fork.setupMs), 2)} ms, outside forks ${f(per(wall2 - fork.callerMs - fork.joinMs - fork.setupMs), 2)} ms of ${f(per(wall2), 2)}`,
);
console.log(
  `worker per run: ${f(per(fork.workerChunks), 0)} chunks, started ${f(per(fork.workerLateMs), 2)} ms after the posts (sum over forks), in chunks ${f(per(fork.workerMs), 2)} ms, ` +
    `done while the caller still ran chunks ${f(per(fork.workerIdleMs), 2)} ms`,
);
await s1.release();
await s2.release();

// wake-up latency: the main thread busy (as in a run), the worker asleep for 20 ms, then notified
const wake = new SharedArrayBuffer(16);
const wi = new Int32Array(wake);
const wt = new Float64Array(wake, 8, 1);
new Worker(
  "const { workerData: s } = require('node:worker_threads'); const i = new Int32Array(s); const t = new Float64Array(s, 8, 1);" +
    'for (let q = 1; ; q++) { Atomics.wait(i, 0, q - 1); t[0] = performance.timeOrigin + performance.now(); Atomics.store(i, 1, q); }',
  { eval: true, workerData: wake },
).unref();
const lat = [];
for (let q = 1; q <= 100; q++) {
  const t = performance.now();
  while (performance.now() - t < 20);
  const t0 = performance.timeOrigin + performance.now();
  Atomics.store(wi, 0, q);
  Atomics.notify(wi, 0);
  while (Atomics.load(wi, 1) !== q);
  lat.push(wt[0] - t0);
}
lat.sort((u, v) => u - v);
console.log(`worker wake-up after a 20 ms sleep (100 times): p50 ${f(lat[50])} ms, p90 ${f(lat[90])} ms, max ${f(lat[99])} ms; load average ${f(loadavg()[0], 1)}`);
process.exit(0);
