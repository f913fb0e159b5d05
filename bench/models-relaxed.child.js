// Child of bench/models.bench.js, run as `node --experimental-wasm-relaxed-simd bench/models-relaxed.child.js
// MODELS_JSON [--quick]`: the same whole-model sessions on edgeq's relaxed-SIMD build (f32x4.relaxed_madd, i.e. FMA
// where the CPU has it) — what Chromium runs by default; Node 20 needs the flag. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { InferenceSession, Tensor } from '../dist/index.js';
import { kernelFlavor } from '../dist/kernels/wasm.js';
import { timeMs } from './common.js';

const models = JSON.parse(process.argv[2]);
const rows = [];
for (const m of models) {
  const sess = await InferenceSession.create(new Uint8Array(readFileSync(m.path)));
  const n = m.dims.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5 + 0.5);
  const feed = { [m.input]: new Tensor('float32', x, m.dims) };
  // a fresh process: let V8 tier the kernels up before timing (the parent's plain module already ran for minutes)
  const t0 = performance.now();
  while (performance.now() - t0 < (process.argv.includes('--quick') ? 100 : 500)) await sess.run(feed);
  rows.push({ model: m.name, ms: await timeMs(m.name, () => sess.run(feed)) });
  await sess.release();
}
console.log(JSON.stringify({ flavor: kernelFlavor(), rows }));
