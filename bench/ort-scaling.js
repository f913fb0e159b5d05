// onnxruntime-web's own 1-thread vs 2-thread time on the benchmark CNNs (one process per thread count: ORT reads
// env.wasm.numThreads once). A diagnostic for issue 17: what the peer's threads gain on this machine.
//   node bench/ort-scaling.js [model] [threads] [runs]   → prints the median ms
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
const [model = 'mobilenet_v2', th = '1', runs = '40'] = process.argv.slice(2);
ort.env.wasm.numThreads = Number(th);
ort.env.wasm.simd = true;
ort.env.logLevel = 'error';
const path = `${process.env.EDGEQ_DATA ?? '../shared/models'}/bench/${model}.onnx`;
const s = await ort.InferenceSession.create(new Uint8Array(readFileSync(path)), { executionProviders: ['wasm'] });
const x = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 0.5 + 0.5);
const feed = { [s.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 224, 224]) };
const t0 = performance.now();
while (performance.now() - t0 < 1500) await s.run(feed);
const w = [];
for (let i = 0; i < Number(runs); i++) {
  const t = performance.now();
  await s.run(feed);
  w.push(performance.now() - t);
}
w.sort((a, b) => a - b);
console.log(JSON.stringify({ model, threads: Number(th), ms: w[w.length >> 1] }));
process.exit(0);
