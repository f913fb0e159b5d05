// Whole models: edgeq InferenceSession vs onnxruntime-web (wasm, SIMD, numThreads = 1) in the same process.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InferenceSession, Tensor } from '../dist/index.js';
import { dataFile, fmt, ort, quick, table, timeMs } from './common.js';

const MODELS = [
  { name: 'lenet (fp32)', file: 'mnist/lenet.onnx', input: 'input', dims: [1, 1, 28, 28] },
  { name: 'squeezenet1_1 (fp32)', file: 'bench/squeezenet1_1.onnx', input: 'input', dims: [1, 3, 224, 224] },
  { name: 'mobilenet_v2 (fp32)', file: 'bench/mobilenet_v2.onnx', input: 'input', dims: [1, 3, 224, 224] },
];

export async function run() {
  const rows = [];
  const out = [];
  for (const m of MODELS) {
    const path = dataFile(m.file);
    if (!path) {
      rows.push({ model: m.name, 'edgeq ms': 'skipped (no ../shared data)', 'ORT-web ms': '', 'edgeq/ORT': '', 'create+1st run ms': '' });
      continue;
    }
    const bytes = new Uint8Array(readFileSync(path));
    const n = m.dims.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5 + 0.5);
    const t0 = performance.now();
    const sess = await InferenceSession.create(bytes);
    const feed = { [m.input]: new Tensor('float32', x, m.dims) };
    await sess.run(feed);
    const firstMs = performance.now() - t0;
    const edgeqMs = await timeMs(m.name, () => sess.run(feed));
    const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const ofeed = { [m.input]: new ort.Tensor('float32', x, m.dims) };
    const ortMs = await timeMs(m.name + ' ort', () => osess.run(ofeed));
    out.push({ model: m.name, edgeqMs, ortMs, ratio: edgeqMs / ortMs, createAndFirstRunMs: firstMs });
    rows.push({ model: m.name, 'edgeq ms': fmt(edgeqMs), 'ORT-web ms': fmt(ortMs), 'edgeq/ORT': fmt(edgeqMs / ortMs), 'create+1st run ms': fmt(firstMs, 1), path });
    await sess.release();
  }
  // the relaxed-SIMD build on the same models, in a child node with the flag (Chromium enables relaxed SIMD by default)
  const ran = rows.filter((r) => r.path);
  const child = fileURLToPath(new URL('./models-relaxed.child.js', import.meta.url));
  const spec = ran.map((r) => ({ ...MODELS.find((m) => m.name === r.model), path: r.path }));
  const res = JSON.parse(execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', child, JSON.stringify(spec), ...(quick ? ['--quick'] : [])], { encoding: 'utf8' }).trim().split('\n').pop());
  for (const r of rows) {
    const rel = res.rows.find((x) => x.model === r.model);
    const o = out.find((x) => x.model === r.model);
    delete r.path;
    r[`edgeq ${res.flavor} ms`] = rel ? fmt(rel.ms) : '';
    r[`${res.flavor}/ORT`] = rel && o ? fmt(rel.ms / o.ortMs) : '';
    if (rel && o) Object.assign(o, { relaxedMs: rel.ms, relaxedFlavor: res.flavor, relaxedRatio: rel.ms / o.ortMs });
  }
  table('Models, one thread (lower edgeq/ORT is better; the relaxed columns come from a child node --experimental-wasm-relaxed-simd)', rows);
  return { models: out };
}
