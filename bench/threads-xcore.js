// Does it matter which core wrote a kernel's input? A diagnostic (not part of bench/run.js):
//   node bench/threads-xcore.js [M,K,P]   (default 16,128,3025: squeezenet's 55×55 squeeze conv, 1×1, 128 → 16)
// The main thread and one worker share the kernel memory; the conv's input X [K × P] is written in two pixel halves
// (f32_binary_rows, X = A + B over the half), then each thread runs f32_gemm_blockpack_pa over one half:
//   alone — the main thread writes and reads both halves (the other thread idle), as on one thread;
//   seq   — each thread reads the half it wrote, one thread after the other (never both at once);
//   same  — each thread reads the half it wrote, both at once (a kernel split like the one before it);
//   cross — each thread reads the half the OTHER thread wrote, both at once (e.g. a pool split by planes before a
//           conv split by pixels: every kernel boundary where the partition changes).
// cross − same is what a change of partition between two kernels costs the second one. Medians of 200 rounds.
// On the 2-vCPU EPYC VM (2026-12-07, loaded; within-run comparisons only): cross 8–10 % slower than same on the
// 55×55 squeeze (16,128,3025) and on a 27×27 one (32,256,729). Splitting MaxPool by row bands to keep squeezenet's
// partition consistent did not pay that back (the pool's own forks got slower, the convs after it did not gain).
import { Worker } from 'node:worker_threads';
import { kernelBinary, kernelFlavor, kernels, sharedMemoryBytes } from '../dist/kernels/wasm.js';

kernels();
const sbytes = sharedMemoryBytes(kernelBinary(kernelFlavor()));
const memory = new WebAssembly.Memory({ initial: 1024, maximum: 4096, shared: true });
const imports = { env: { memory, abort() { throw new Error('abort'); } } };
const ex = new WebAssembly.Instance(new WebAssembly.Module(sbytes), imports).exports;
const [M, K, P] = (process.argv[2] ?? '16,128,3025').split(',').map(Number);
const MB = 1 << 20;
const L = { w: 1 * MB, wa: 2 * MB, a: 4 * MB, b: 12 * MB, x: 20 * MB, c: 28 * MB, bias: 30 * MB, s0: 31 * MB, s1: 33 * MB };
const v = new Float32Array(memory.buffer);
for (let i = 0; i < M * K; i++) v[L.w / 4 + i] = Math.sin(i) * 0.05;
for (let i = 0; i < K * P; i++) { v[L.a / 4 + i] = Math.cos(i); v[L.b / 4 + i] = 0; }
ex.f32_gemm_pack_a4(M, K, L.w, K, L.wa);
const half = Math.floor((P + 7) / 8 / 2) * 8;
const halves = [[0, half], [half, P]];
const produce = (h) => ['f32_binary_rows', [0, K, h[1] - h[0], P, L.a + h[0] * 4, L.b + h[0] * 4, L.x + h[0] * 4, -1e30, 1e30]];
const consume = (h, s) => ['f32_gemm_blockpack_pa', [M, h[1] - h[0], K, L.wa, L.x + h[0] * 4, P, L.c + h[0] * 4, P, -1e30, 1e30, L.bias, s]];
const ctrl = new SharedArrayBuffer(256);
const ci = new Int32Array(ctrl);
const wt = new Float64Array(ctrl, 64, 1);
const jobs = { p0: produce(halves[0]), p1: produce(halves[1]), c0: consume(halves[0], L.s1), c1: consume(halves[1], L.s1) };
const names = Object.keys(jobs);
const worker = new Worker(`const { workerData: d, parentPort } = require('node:worker_threads');
   const ex = new WebAssembly.Instance(new WebAssembly.Module(d.bytes), { env: { memory: d.memory, abort() { throw new Error('abort'); } } }).exports;
   const ci = new Int32Array(d.ctrl), wt = new Float64Array(d.ctrl, 64, 1);
   parentPort.postMessage('ready');
   for (let seen = 0; ;) { let s; while ((s = Atomics.load(ci, 0)) === seen); seen = s; if (ci[2] < 0) break;
     const [fn, a] = d.jobs[d.names[ci[2]]]; const t = performance.now(); ex[fn](...a); wt[0] = performance.now() - t; Atomics.store(ci, 1, s); }`,
  { eval: true, workerData: { bytes: sbytes, memory, ctrl, jobs, names } });
await new Promise((r) => worker.once('message', r));
let seq = 0;
const onWorker = (job) => { ci[2] = names.indexOf(job); Atomics.store(ci, 0, ++seq); };
const join = () => { while (Atomics.load(ci, 1) !== seq); return wt[0]; };
const main = ([fn, a]) => { const t = performance.now(); ex[fn](...a); return performance.now() - t; };
const mainC = (h) => main(consume(halves[h], L.s0));
const med = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
const R = { same: [[], []], cross: [[], []], alone: [[], []], seq: [[], []] };
for (let i = -10; i < 200; i++) {
  // same: main writes half 0 and reads it; the worker half 1
  onWorker('p1'); main(produce(halves[0])); join();
  onWorker('c1'); let m = mainC(0); let w = join();
  if (i >= 0) { R.same[0].push(m); R.same[1].push(w); }
  // cross: main writes half 1, the worker half 0; then main reads half 0, the worker half 1
  onWorker('p0'); main(produce(halves[1])); join();
  onWorker('c1'); m = mainC(0); w = join();
  if (i >= 0) { R.cross[0].push(m); R.cross[1].push(w); }
  // alone: main writes both and reads both (the other thread idle: spinning)
  main(produce(halves[0])); main(produce(halves[1]));
  m = mainC(0); w = mainC(1);
  if (i >= 0) { R.alone[0].push(m); R.alone[1].push(w); }
  // seq: main writes half 0, the worker half 1; each reads its own, one after the other (never both at once)
  onWorker('p1'); main(produce(halves[0])); join();
  m = mainC(0); onWorker('c1'); w = join();
  if (i >= 0) { R.seq[0].push(m); R.seq[1].push(w); }
}
ci[2] = -1; Atomics.store(ci, 0, ++seq);
const f = (x) => x.toFixed(3);
console.log(`conv 1×1 ${M}×${K}, ${P} pixels (input ${(K * P * 4 / 1024).toFixed(0)} KB), medians of 200, ms for half 0 / half 1:`);
for (const k of ['alone', 'seq', 'same', 'cross']) console.log(`  ${k.padEnd(6)} ${f(med(R[k][0]))} / ${f(med(R[k][1]))}  sum ${f(med(R[k][0]) + med(R[k][1]))}`);
process.exit(0);
