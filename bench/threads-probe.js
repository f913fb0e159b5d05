// Why does a 2-thread run not take half the time? A diagnostic (not part of bench/run.js), two parts:
//   EDGEQ_DATA=/work/shared/models node bench/threads-probe.js [squeezenet1_1|mobilenet_v2] [runs]
// 1. Kernel probe, no model: this process's main thread and one worker instantiate the kernel module over one shared
//    memory and run (a) a pure-ALU loop (f32_peak_muladd: registers only) and (b) squeezenet's classifier GEMM
//    (1000 × 512 weights, 169 pixels) cut in two halves of rows, each thread ALONE (the other spinning) and BOTH AT
//    ONCE, interleaved; plus the same GEMM on an unshared memory (shared-memory codegen). If the concurrent times
//    equal the lone ones, the cores do not slow each other down; the vCPU each thread ran on is printed (Linux).
// 2. Per fork of a model run: the same session's chunk lists run on the calling thread alone (setInlineForks: the
//    cost of the split itself, against the 1-thread run) and on 2 threads (caller + worker ms in chunks; their sum
//    over the lone time is what concurrency costs a chunk), the worker's start latency after the post, the join,
//    and how long each thread waited on the OS run queue per run (/proc/self/task/*/schedstat: preemption by other
//    programs, or the two threads sharing a core). Sums of per-fork medians; `-v` prints every fork.
// Run it on a quiet machine; on a loaded one the run-queue waits show how much of the time the OS took.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InferenceSession, Tensor, env } from '../dist/index.js';
import { forkStats, setInlineForks } from '../dist/kernels/threads.js';
import { kernelBinary, kernelFlavor, kernels, sharedMemoryBytes } from '../dist/kernels/wasm.js';
import { dataFile } from './common.js';

const model = process.argv[2] && !process.argv[2].startsWith('-') ? process.argv[2] : 'squeezenet1_1';
const runs = Number(process.argv[3] && !process.argv[3].startsWith('-') ? process.argv[3] : 40);
const verbose = process.argv.includes('-v');
env.wasm.numThreads = 2;
const f = (v, d = 3) => v.toFixed(d);
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

/** Linux: this process's threads (tid, vCPU last run on, CPU ticks, ns run / ns waited on the run queue) */
function tasks() {
  if (!existsSync('/proc/self/task')) return [];
  return readdirSync('/proc/self/task').map((t) => {
    const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    const fl = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [run, wait] = readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ').map(Number);
    return { tid: Number(t), cpu: Number(fl[36]), ticks: Number(fl[11]) + Number(fl[12]), run, wait };
  });
}

// ---- 1. kernel probe ----
kernels(); // the session's choice of build (relaxed where it validates)
const bytes = kernelBinary(kernelFlavor());
const sbytes = sharedMemoryBytes(bytes);
const MB = 1 << 20;
const memory = new WebAssembly.Memory({ initial: 512, maximum: 4096, shared: true });
const imports = (m) => ({ env: { memory: m, abort() { throw new Error('abort'); } } });
const ex = new WebAssembly.Instance(new WebAssembly.Module(sbytes), imports(memory)).exports;
const umem = new WebAssembly.Memory({ initial: 512, maximum: 4096 });
const uex = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports(umem)).exports;
const M = 1000, N = 169, K = 512, half = 500;
const L = { w: 1 * MB, ap: 4 * MB, x: 8 * MB, c: 10 * MB, rb: 12 * MB, s0: 13 * MB, s1: 14 * MB };
for (const [mem, e] of [[memory, ex], [umem, uex]]) {
  const v = new Float32Array(mem.buffer);
  for (let i = 0; i < M * K; i++) v[L.w / 4 + i] = Math.sin(i) * 0.05;
  for (let i = 0; i < K * N; i++) v[L.x / 4 + i] = Math.cos(i);
  e.f32_gemm_pack_a4(M, K, L.w, K, L.ap);
}
const gemm = (rows, r0, s) => ['f32_gemm_blockpack_pa', [rows, N, K, L.ap + r0 * K * 4, L.x, N, L.c + r0 * N * 4, N, -1e30, 1e30, L.rb + r0 * 4, s]];
const jobs = { alu: ['f32_peak_muladd', [400000]], full: gemm(M, 0, L.s0), h0: gemm(half, 0, L.s0), h1: gemm(M - half, half, L.s1) };
const names = Object.keys(jobs);
const ctrl = new SharedArrayBuffer(256);
const ci = new Int32Array(ctrl);
const wt = new Float64Array(ctrl, 64, 1);
const worker = new Worker(
  `const { workerData: d, parentPort } = require('node:worker_threads');
   const ex = new WebAssembly.Instance(new WebAssembly.Module(d.bytes), { env: { memory: d.memory, abort() { throw new Error('abort'); } } }).exports;
   const ci = new Int32Array(d.ctrl), wt = new Float64Array(d.ctrl, 64, 1);
   parentPort.postMessage('ready');
   for (let seen = 0; ;) {
     let s; while ((s = Atomics.load(ci, 0)) === seen);
     seen = s;
     if (ci[2] < 0) break;
     const [fn, a] = d.jobs[d.names[ci[2]]];
     const t = performance.now(); ex[fn](...a); wt[0] = performance.now() - t;
     Atomics.store(ci, 1, s);
   }`,
  { eval: true, workerData: { bytes: sbytes, memory, ctrl, jobs, names } },
);
await new Promise((r) => worker.once('message', r));
let seq = 0;
const post = (job) => {
  ci[2] = job === null ? -1 : names.indexOf(job);
  Atomics.store(ci, 0, ++seq);
};
const join = () => {
  while (Atomics.load(ci, 1) !== seq);
  return wt[0];
};
const call = (e, [fn, a]) => e[fn](...a);
/** medians of main's and the worker's ms: `m` on main, `w` on the worker (null: that thread spins) */
function measure(m, w, e = ex, iters = 40) {
  const tm = [], tw = [];
  for (let i = 0; i < iters; i++) {
    if (w) post(w);
    if (m) {
      const t = performance.now();
      call(e, jobs[m]);
      tm.push(performance.now() - t);
    }
    if (w) tw.push(join());
  }
  return [tm.length ? med(tm) : NaN, tw.length ? med(tw) : NaN];
}
for (let i = 0; i < 10; i++) measure('full', 'full', ex, 2), measure('full', null, uex, 2);
const where = () => {
  const ts = tasks();
  const main = ts.find((t) => t.tid === process.pid);
  const w = ts.filter((t) => t.tid !== process.pid).sort((a, b) => b.ticks - a.ticks)[0];
  return main && w ? `main on vCPU ${main.cpu}, worker on vCPU ${w.cpu}` : '';
};
console.log(`${model}; load average ${f(loadavg()[0], 1)}; kernels ${kernelFlavor()}`);
console.log('\nkernel probe (ms, medians of 40; "alone": the other thread spins on a flag)');
for (let rep = 0; rep < 3; rep++) {
  const [aluM] = measure('alu', null);
  const [, aluW] = measure(null, 'alu');
  const [aluBM, aluBW] = measure('alu', 'alu');
  const [fullS] = measure('full', null);
  const [fullU] = measure('full', null, uex);
  const [h0] = measure('h0', null);
  const [, h1] = measure(null, 'h1');
  const [h0b, h1b] = measure('h0', 'h1');
  console.log(
    `  ALU loop: main ${f(aluM)} / worker ${f(aluW)} alone, ${f(aluBM)} / ${f(aluBW)} both → ${f((aluM + aluW) / (aluBM + aluBW), 2)}×;` +
      ` GEMM 1000×512×169: shared memory ${f(fullS)}, unshared ${f(fullU)}; halves main ${f(h0)} / worker ${f(h1)} alone, ${f(h0b)} / ${f(h1b)} both → ${f((h0 + h1) / (h0b + h1b), 2)}× (both vs alone); ${where()}`,
  );
}
// vCPU or thread? With taskset (Linux, util-linux) pin main and the worker to vCPUs 0 and 1, then swapped: a GEMM
// half that is slow on one vCPU whichever thread runs it is that core's doing (the hypervisor's other load on it).
const probeTid = (() => {
  const ts = tasks().filter((t) => t.tid !== process.pid);
  return ts.sort((a, b) => b.ticks - a.ticks)[0]?.tid;
})();
const pin = (tid, cpu) => {
  try {
    execFileSync('taskset', ['-pc', String(cpu), String(tid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
// (not under a real-time policy, e.g. chrt -f: moving a spinning real-time thread onto the other's vCPU starves it)
const policy = existsSync('/proc/self/stat') ? Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[38]) : 0;
if (policy === 0 && probeTid && pin(process.pid, 0) && pin(probeTid, 1)) {
  const out = [];
  for (const [a, b] of [[0, 1], [1, 0], [0, 1], [1, 0]]) {
    pin(process.pid, a);
    pin(probeTid, b);
    const [h0] = measure('h0', null);
    const [, h1] = measure(null, 'h1');
    out.push(`main on vCPU ${a} ${f(h0)}, worker on vCPU ${b} ${f(h1)}`);
  }
  pin(process.pid, '0-1023');
  pin(probeTid, '0-1023');
  console.log(`  GEMM half alone, threads pinned (taskset): ${out.join('; ')}`);
}
post(null);
await new Promise((r) => worker.once('exit', r));

// ---- 2. per-fork probe ----
const path = dataFile(`bench/${model}.onnx`);
if (!path) {
  console.log(`\nno ${model}.onnx (set EDGEQ_DATA)`);
  process.exit(0);
}
const mbytes = new Uint8Array(readFileSync(path));
const x = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 0.5 + 0.5);
const feed = { input: new Tensor('float32', x, [1, 3, 224, 224]) };
const s1 = await InferenceSession.create(mbytes, { numThreads: 1 });
const s2 = await InferenceSession.create(mbytes, { numThreads: 2 });
for (let i = 0; i < 10; i++) await s1.run(feed), await s2.run(feed);
// the kernel worker: after those runs, the busiest thread but this one and the probe's worker (which has ended)
const t0s = tasks();
const kw = t0s.filter((t) => t.tid !== process.pid).sort((a, b) => b.ticks - a.ticks)[0];
const mainQ = () => tasks().find((t) => t.tid === process.pid);
const workQ = () => tasks().find((t) => t.tid === kw?.tid);
const W = [[], [], []], LI = [], L2 = [];
let qm = 0, qw = 0;
for (let i = 0; i < runs; i++) {
  let t = performance.now();
  await s1.run(feed);
  W[0].push(performance.now() - t);
  setInlineForks(true);
  forkStats(true, true);
  t = performance.now();
  await s2.run(feed);
  W[1].push(performance.now() - t);
  LI.push(forkStats(false).log);
  setInlineForks(false);
  const a = mainQ(), b = workQ();
  forkStats(true, true);
  t = performance.now();
  await s2.run(feed);
  W[2].push(performance.now() - t);
  L2.push(forkStats(false).log);
  const c = mainQ(), d = workQ();
  if (a && c) qm += c.wait - a.wait;
  if (b && d) qw += d.wait - b.wait;
}
const n = LI[0].length;
const tot = new Array(8).fill(0);
let lone = 0;
if (verbose) console.log('\nfork chunks  alone  caller ms (chunks)  worker ms (chunks)  late   join  (caller+worker)/alone');
for (let k = 0; k < n; k++) {
  const a = med(LI.map((l) => l[k][0]));
  const r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => med(L2.map((l) => l[k]?.[j] ?? 0)));
  lone += a;
  r.forEach((v, j) => (tot[j] += v));
  if (verbose) console.log(`${String(k).padStart(4)} ${String(r[2]).padStart(6)} ${f(a).padStart(6)} ${f(r[0]).padStart(10)} (${r[1]}) ${f(r[5]).padStart(10)} (${r[6]}) ${f(r[4]).padStart(9)} ${f(r[3]).padStart(6)} ${f((r[0] + r[5]) / a, 2).padStart(8)}`);
}
const m1 = med(W[0]), mi = med(W[1]), m2 = med(W[2]);
console.log(`\nper run (medians of ${runs}): 1T ${f(m1, 2)} ms, 2T with every chunk on the caller ${f(mi, 2)} ms (${f(mi / m1, 3)}× 1T: the split's own cost), 2T ${f(m2, 2)} ms → 1T/2T ${f(m1 / m2, 2)}`);
console.log(
  `${n} forks; Σ per-fork medians: chunks alone ${f(lone, 2)} ms; on 2 threads caller ${f(tot[0], 2)} + worker ${f(tot[5], 2)} ms in chunks (${f((tot[0] + tot[5]) / lone, 3)}× alone), ` +
    `worker started ${f(tot[4], 2)} ms after the posts, joins ${f(tot[3], 2)} ms; outside forks ${f(m2 - tot[0] - tot[3], 2)} ms of the 2T run`,
);
if (kw) console.log(`OS run-queue wait per 2T run: main thread ${f(qm / runs / 1e6, 2)} ms, kernel worker ${f(qw / runs / 1e6, 2)} ms; load average ${f(loadavg()[0], 1)}`);
await s1.release();
await s2.release();
process.exit(0);
