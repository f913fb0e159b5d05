// Latency of `npm start`'s exported variants in one process (the pipeline table's latency column is one pass and
// swings from run to run): teacher, teacher-int8, student, student-int8 at batch 1, `runSync`, runs alternated round
// by round, medians of 21 rounds × 500 runs. Not part of bench/run.js.
//   node bench/variants-latency.js [edgeq-out]
import { existsSync } from 'node:fs';
import { InferenceSession, Tensor } from '../dist/index.js';

const dir = process.argv[2] ?? 'edgeq-out';
const names = ['teacher', 'teacher-int8', 'student', 'student-int8'].filter((n) => existsSync(`${dir}/${n}.onnx`));
if (!names.length) {
  console.log(`no variants in ${dir} (run npm start first)`);
  process.exit(0);
}
const xs = new Float32Array(784).map((_, i) => Math.sin(i) * 0.5 + 0.5);
const S = [];
for (const n of names) {
  const s = await InferenceSession.create(`${dir}/${n}.onnx`);
  S.push({ n, s, feed: { [s.inputNames[0]]: new Tensor('float32', xs, [1, 1, 28, 28]) }, ts: [] });
}
for (const x of S) for (let i = 0; i < 2000; i++) x.s.runSync(x.feed);
for (let r = 0; r < 21; r++) {
  for (const x of S) {
    const t0 = performance.now();
    for (let i = 0; i < 500; i++) x.s.runSync(x.feed);
    x.ts.push((performance.now() - t0) / 500);
  }
}
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(S.map((x) => `${x.n} ${(med(x.ts) * 1000).toFixed(1)} µs`).join(', '));
process.exit(0);
