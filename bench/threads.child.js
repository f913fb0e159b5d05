// Child of bench/threads.bench.js (a fresh process, because onnxruntime-web reads env.wasm.numThreads once, at its
// first session): squeezenet1_1 and mobilenet_v2 on edgeq at 1 and 2 kernel threads and on onnxruntime-web at
// numThreads = 2, alternating round by round, each run started with the other engine's threads quiet (quiesce). CPU time / wall time
// per run shows how many threads really worked.
// Prints one JSON line.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { InferenceSession, Tensor, env } from '../dist/index.js';
import { coreHolder, ort } from './common.js';

const [spec, ...rest] = process.argv.slice(2);
const quick = rest.includes('--quick');
const T = 2;
env.wasm.numThreads = T; // before the first kernel use (bench/common.js sets 1 for the other benches)
ort.env.wasm.numThreads = T;

/** median wall ms and CPU/wall of fn over `rounds` runs (one per round, interleaved by the caller) */
function meter() {
  const wall = [];
  let cpu = 0;
  let sum = 0;
  return {
    async once(fn) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fn();
      const dt = performance.now() - t0;
      const c = process.cpuUsage(c0);
      wall.push(dt);
      sum += dt;
      cpu += (c.user + c.system) / 1000;
    },
    get ms() {
      return [...wall].sort((a, b) => a - b)[wall.length >> 1];
    },
    get cpuPerWall() {
      return cpu / sum;
    },
  };
}

/**
 * Busy-wait (at most 0.5 s) until no other thread of this process burns CPU. onnxruntime-web's pool threads spin
 * for some 20–50 ms after each of its runs (measured: process CPU/wall 1.86 for 20 ms after an ORT run, 1.09 after
 * 200 ms), which on 2 cores took one of the two from whichever edgeq session ran next; each engine is timed with
 * the other one quiet instead (edgeq's workers spin < 0.5 ms). Busy, not asleep: a sleeping process hands both
 * cores to the rest of the machine, whose programs then evict the models' weights from the caches.
 */
function quiesce() {
  for (let i = 0; i < 50; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < 10); // CPU time of the other threads is accounted in scheduler ticks (≥ 1 ms)
    const c = process.cpuUsage(c0);
    if ((c.user + c.system) / 1000 / (performance.now() - t0) < 1.2) return;
  }
}

// while the 1-thread session runs, a thread of this process holds the other core (bench/common.js coreHolder)
const holding = coreHolder();

/** OS threads of this process (Linux): each worker_thread adds one, so ORT's pthread pool and edgeq's workers show */
const osThreads = () => (existsSync('/proc/self/task') ? readdirSync('/proc/self/task').length : NaN);
const rows = [];
for (const m of JSON.parse(spec)) {
  const bytes = new Uint8Array(readFileSync(m.path));
  const n = m.dims.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5 + 0.5);
  const t0s = osThreads();
  const s1 = await InferenceSession.create(bytes, { numThreads: 1 });
  const s2 = await InferenceSession.create(bytes, { numThreads: T });
  const t1s = osThreads();
  const os = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  await os.run({ [m.input]: new ort.Tensor('float32', new Float32Array(n), m.dims) });
  const t2s = osThreads();
  const feed = { [m.input]: new Tensor('float32', x, m.dims) };
  const ofeed = { [m.input]: new ort.Tensor('float32', x, m.dims) };
  const runs = [[meter(), () => s1.run(feed), true], [meter(), () => s2.run(feed)], [meter(), () => os.run(ofeed)]];
  // warm up (V8 tiers the kernels up; the workers instantiate theirs)
  const t0 = performance.now();
  while (performance.now() - t0 < (quick ? 300 : 1500)) for (const [, f] of runs) await f();
  for (let r = 0; r < (quick ? 5 : 25); r++) {
    for (const [mt, f, held] of runs) {
      quiesce();
      holding(held);
      await mt.once(f);
      holding(false);
    }
  }
  const [a, b, o] = runs.map(([mt]) => mt);
  rows.push({ model: m.name, threads: s2.numThreads, ms1: a.ms, ms2: b.ms, ort2: o.ms, cpu2: b.cpuPerWall, cpuOrt: o.cpuPerWall, osThreadsEdgeq: t1s - t0s, osThreadsOrt: t2s - t1s, ortNumThreads: ort.env.wasm.numThreads });
  await s1.release();
  await s2.release();
}
console.log(JSON.stringify({ rows }));
