// Child of bench/threads.bench.js (a fresh process, because onnxruntime-web reads env.wasm.numThreads once, at its
// first session): squeezenet1_1 and mobilenet_v2 on edgeq at 1 and 2 kernel threads and on onnxruntime-web at
// numThreads = 2, alternating round by round, each run started with the other engine's threads quiet (quiesce). CPU time / wall time
// per run shows how many threads really worked.
// Prints one JSON line.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { InferenceSession, Tensor, env } from '../dist/index.js';
import { coreHolder, ort } from './common.js';

const [spec, ...rest] = process.argv.slice(2);
const quick = rest.includes('--quick');
const T = 2;
/**
 * Timed rounds per model (each: one run of every case). 41, not 25: the VM's speed drifts over seconds (another
 * guest on the host), and the per-round ratio below pairs runs a few ms apart, so its median needs the rounds more
 * than the per-case medians do.
 */
const ROUNDS = 41;
env.wasm.numThreads = T; // before the first kernel use (bench/common.js sets 1 for the other benches)
ort.env.wasm.numThreads = T;

/** median wall ms and CPU/wall of fn over `rounds` runs (one per round, interleaved by the caller); `wall`: each run's ms */
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
    wall,
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

/**
 * Pins every thread of this process to one CPU (Linux `taskset`), or back to all with `cpu = -1`. On this project's
 * 2-vCPU VM the two vCPUs do not run kernels at the same speed: squeezenet1_1 on one thread took 15.7–16.3 ms pinned
 * to cpu0 and 20.7–23.8 ms pinned to cpu1 for minutes at a time (2026-12-07, quiet machine, /tmp/core1t.mjs), while a
 * scalar loop and AES ran alike on both — the host shares the second vCPU's core or caches. Two threads can then do
 * at most 1/(1/t0 + 1/t1) of work per ms, i.e. 1 + t0/t1 ≈ 1.7× the faster core, whatever the kernels do. Timing the
 * 1-thread session pinned to each CPU, interleaved with the other runs, shows that bound next to the speedup.
 * Returns false where pinning is unavailable (not Linux, no taskset, one CPU).
 */
const cpus = availableParallelism();
function taskset(cpuList, id, all) {
  execFileSync('taskset', [...(all ? ['-a'] : []), '-p', '-c', cpuList, String(id)], { stdio: 'ignore' });
}
function pin(cpu) {
  if (process.platform !== 'linux' || cpus < 2) return false;
  try {
    taskset(cpu < 0 ? `0-${cpus - 1}` : String(cpu), process.pid, true);
    // the holder spins on the other CPU meanwhile, as it does for the unpinned 1T runs (see coreHolder)
    if (cpu >= 0 && holding.tid()) taskset(String(cpu === 0 ? 1 : 0), holding.tid(), false);
    return true;
  } catch {
    return false;
  }
}

while (process.platform === 'linux' && !holding.tid() && performance.now() < 5000) await new Promise((r) => setTimeout(r, 5));
const pinning = pin(-1);

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
  // the 1-thread session pinned to cpu0 and to cpu1 (every thread of the process on that CPU but the holder, which
  // spins on the other one)
  if (pinning) for (const cpu of [0, 1]) runs.push([meter(), () => s1.run(feed), true, cpu]);
  // warm up (V8 tiers the kernels up; the workers instantiate theirs)
  const t0 = performance.now();
  while (performance.now() - t0 < (quick ? 300 : 1500)) for (const [, f] of runs) await f();
  for (let r = 0; r < (quick ? 5 : ROUNDS); r++) {
    for (const [mt, f, held, cpu] of runs) {
      quiesce();
      if (cpu !== undefined) {
        pin(cpu);
        await f(); // the first run on a newly pinned CPU refills its caches: not timed
      }
      holding(held);
      await mt.once(f);
      holding(false);
      if (cpu !== undefined) pin(-1);
    }
  }
  const [a, b, o, p0, p1] = runs.map(([mt]) => mt);
  // speedup per round: the 1T run and the 2T run right after it saw the same machine (drift cancels), unlike the
  // ratio of the two medians, whose runs may come from different phases of the host's load
  const perRound = a.wall.map((t1, i) => t1 / b.wall[i]).sort((u, v) => u - v);
  rows.push({ model: m.name, threads: s2.numThreads, ms1: a.ms, ms2: b.ms, ort2: o.ms, cpu2: b.cpuPerWall, cpuOrt: o.cpuPerWall, osThreadsEdgeq: t1s - t0s, osThreadsOrt: t2s - t1s, ortNumThreads: ort.env.wasm.numThreads, ms1cpu0: p0?.ms, ms1cpu1: p1?.ms, speedupPerRound: perRound[perRound.length >> 1], speedupP25: perRound[perRound.length >> 2] });
  await s1.release();
  await s2.release();
}
console.log(JSON.stringify({ rows }));
