// TFLite models against TFLite's own WASM runtime (@tensorflow/tfjs-tflite 0.0.1-alpha.10: TFLite + XNNPACK,
// numThreads 1) in the SAME headless Chromium page (scripts/tflite-web.mjs), with edgeq bundled for the browser
// (esbuild --bundle --platform=browser --external:node:*). Runs alternate between the two runtimes on the same
// input; printed: median ms of each, edgeq/TFLite for three edgeq rows (runSync returning fresh outputs, the honest
// row; runSync into preallocated outputs; Interpreter.invoke on tensors in place, which like TFLite's infer() copies
// nothing), edgeq's reference share (time on TS reference ops) and the largest output difference (the three rows'
// outputs are checked bit-identical). Without Chromium or the npm packages the table says why and the bench is skipped.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dataFile, fmt, quick, table, timeMs } from './common.js';
import { openTflitePage, tfliteWebAvailable } from '../scripts/tflite-web.mjs';
import { InferenceSession, Tensor } from '../dist/index.js';

const require = createRequire(import.meta.url);
const nm = (rel) => {
  try {
    return require.resolve(rel);
  } catch {
    return undefined;
  }
};

function models() {
  const mnv2 = dataFile('bench/mobilenet_v2.onnx');
  return [
    { name: 'face_detection_short_range (float)', path: nm('@mediapipe/face_detection/face_detection_short_range.tflite') },
    { name: 'hand_landmark_lite (float)', path: nm('@mediapipe/hands/hand_landmark_lite.tflite') },
    { name: 'person_detection (int8)', path: dataFile('tflite/person_detection/person_detect.tflite') },
    // int8 models TFLite-web loads: TFLite Micro's speech / sine models, and mobilenet_v2 quantized to full-integer
    // int8 by edgeq's own converter (float in / out through QUANTIZE / DEQUANTIZE, as `edgeq convert --int8` writes it)
    { name: 'micro_speech (int8)', path: dataFile('tflite/micro_speech_quantized.tflite') },
    { name: 'hello_world (int8)', path: dataFile('tflite/hello_world_int8.tflite') },
    { name: 'mobilenet_v2 (int8, edgeq convert)', path: mnv2, make: () => int8MobilenetV2(mnv2) },
    // EDGEQ_TFLITE_MODELS=a.tflite,b.tflite: more models (outside the corpus) in the same table
    ...(process.env.EDGEQ_TFLITE_MODELS ?? '').split(',').filter(Boolean).map((path) => ({ name: path.split('/').pop(), path })),
  ]
    .filter((m) => m.path && existsSync(m.path))
    // EDGEQ_TFLITE_ONLY=regex: only the models whose name matches
    .filter((m) => !process.env.EDGEQ_TFLITE_ONLY || new RegExp(process.env.EDGEQ_TFLITE_ONLY).test(m.name));
}

/** bench/mobilenet_v2.onnx → full-integer int8 .tflite, calibrated on two fixed inputs (the weights are random) */
async function int8MobilenetV2(path) {
  const [{ onnxToTfliteGraph, quantizeTfliteGraph }, { readOnnx }, { writeTflite }] = await Promise.all([import('../dist/convert/tflite.js'), import('../dist/formats/onnx/reader.js'), import('../dist/formats/tflite/writer.js')]);
  const g = readOnnx(new Uint8Array(readFileSync(path)));
  const calib = new Tensor('float32', Float32Array.from({ length: 2 * 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.37)), [2, 3, 224, 224]);
  return writeTflite(await quantizeTfliteGraph(onnxToTfliteGraph(g).graph, { calib, calibGraph: g }));
}

/** edgeq as one browser ES module (the page imports it as the global `edgeq`) */
function bundle() {
  const dir = mkdtempSync(join(tmpdir(), 'edgeq-bundle-'));
  const out = join(dir, 'edgeq.js');
  const esbuild = join(new URL('..', import.meta.url).pathname, 'node_modules', '.bin', 'esbuild');
  // EDGEQ_DIST=<another build's dist/> bundles that build instead (e.g. main's, for before/after ratios)
  const entry = process.env.EDGEQ_DIST ? join(process.env.EDGEQ_DIST, 'index.js') : new URL('../dist/index.js', import.meta.url).pathname;
  execFileSync(esbuild, [entry, '--bundle', '--platform=browser', '--external:node:*', '--format=esm', `--outfile=${out}`, '--log-level=warning']);
  return { dir, out };
}

// page side: load the model into an edgeq session (cached per model) and into TFLite's runner (TFLite + XNNPACK,
// numThreads 1, inputs written straight into its tensors, as scripts/tflite-web.mjs does), then time `runs` pairs of
// samples, TFLite and edgeq alternated sample by sample with the order flipped every pair (k back-to-back runs per
// sample, k such that a sample lasts ≥ 5 ms: the page clock has 100 µs steps). A load change on the machine hits both
// runtimes of a pair alike, so the median of the per-pair ratios is steadier than a ratio of separate medians
// (whole-model rounds alternated: face_detection 0.82–1.75× between quick passes). Then one profiled run for the
// reference share.
const PAIR_PAGE = `async ({ model, inputs, runs, warmup }) => {
  const unpack = (p) => { const s = atob(p.b); const u = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i); return new globalThis[p.t](u.buffer); };
  const pack = (a) => { const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = ''; for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000)); return { t: a.constructor.name, b: btoa(s) }; };
  const bytes = unpack(model);
  globalThis.__eq ??= new Map();
  const key = model.b.length + ':' + model.b.slice(0, 64);
  let s = globalThis.__eq.get(key);
  if (!s) { s = await edgeq.InferenceSession.create(new Uint8Array(bytes.buffer)); globalThis.__eq.set(key, s); }
  const feeds = {};
  s.inputNames.forEach((n, i) => { const d = unpack(inputs[i].data); feeds[n] = new edgeq.Tensor(s.inputMetadata[i].type, d, inputs[i].dims); });
  const runner = (await tflite.loadTFLiteModel(bytes.buffer.slice(0), { numThreads: 1 })).modelRunner;
  let ip;
  try {
    runner.getInputs().forEach((t, i) => { const d = t.data(); const x = unpack(inputs[i].data); new Uint8Array(d.buffer, d.byteOffset, d.byteLength).set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)); });
    const tfl = () => { if (!runner.infer()) throw new Error('TFLite Invoke() failed'); };
    let outs;
    const eq = () => { outs = s.runSync(feeds); };
    // like TFLite's infer(), which writes outputs into tensors it owns: edgeq into preallocated output tensors
    // (onnxruntime-web's run(feeds, { name: tensor })); the honest eq row above returns fresh tensors every run
    const pre = {};
    s.outputNames.forEach((n, i) => { const m = s.outputMetadata[i]; const dims = m.shape.map((d) => (typeof d === 'number' ? d : 1)); const size = dims.reduce((a, b) => a * b, 1); pre[n] = new edgeq.Tensor(m.type, m.type === 'float32' ? new Float32Array(size) : m.type === 'int8' ? new Int8Array(size) : m.type === 'uint8' ? new Uint8Array(size) : m.type === 'int32' ? new Int32Array(size) : new Float32Array(size), dims); });
    let preOk = true;
    const eqPre = () => { if (preOk) { try { s.runSync(feeds, pre); } catch { preOk = false; } } };
    // like for like with infer(): edgeq's TFLite-shaped Interpreter with its tensors in place (typedInputTensor(i),
    // TFLite's typed_input_tensor), inputs written into them once, invoke() on a static plan of its own (copies
    // nothing; graphs without one copy, the same API); outputs read from typedOutputTensor(i) at the end
    ip = await edgeq.Interpreter.create(new Uint8Array(bytes.buffer.slice(0)));
    ip.allocateTensors();
    s.inputNames.forEach((n, i) => ip.typedInputTensor(i).set(feeds[n].data));
    const eqIp = () => ip.invoke();
    for (let i = 0; i < warmup; i++) { tfl(); eq(); eqPre(); eqIp(); }
    // k from the quickest of three tries: one stall of a loaded machine during calibration (k = 8) left sub-µs
    // models with samples below the page clock's step, reading 0 ms
    const kOf = (f) => { let k = 1; for (;;) { let dt = Infinity; for (let r = 0; r < 3; r++) { const t0 = performance.now(); for (let j = 0; j < k; j++) f(); dt = Math.min(dt, performance.now() - t0); } if (dt >= 5 || k >= 65536) return k; k = dt < 0.5 ? k * 8 : Math.ceil((k * 5) / dt); } };
    const kt = kOf(tfl), ke = kOf(eq), kp = kOf(eqPre), ki = kOf(eqIp);
    const sample = (f, k) => { const t0 = performance.now(); for (let j = 0; j < k; j++) f(); return (performance.now() - t0) / k; };
    const tt = [], te = [], ratios = [], tp = [], ratiosPre = [], ti = [], ratiosIp = [];
    for (let i = 0; i < runs; i++) {
      let a, b, c, d;
      if (i % 2) { d = sample(eqIp, ki); c = sample(eqPre, kp); b = sample(eq, ke); a = sample(tfl, kt); } else { a = sample(tfl, kt); b = sample(eq, ke); c = sample(eqPre, kp); d = sample(eqIp, ki); }
      tt.push(a); te.push(b); ratios.push(b / a); tp.push(c); ratiosPre.push(c / a); ti.push(d); ratiosIp.push(d / a);
    }
    const med = (xs) => { const v = [...xs].sort((x, y) => x - y); return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
    // reference share: one profiled run (per node wall time under its kernel name or ref:<Op>)
    const ex = s.exec; ex.profile = new Map(); s.runSync(feeds);
    let tot = 0, ref = 0; for (const [name, t] of ex.profile) { tot += t; if (name.startsWith('ref:')) ref += t; }
    const top = [...ex.profile].filter(([n]) => n.startsWith('ref:')).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([n, t]) => n + ' ' + (100 * t / tot).toFixed(1) + '%');
    ex.profile = undefined;
    // the three edgeq rows computed the same outputs (bit for bit; the table compares runSync's with TFLite's)
    const bitsOf = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const same = (a, b) => { const x = bitsOf(a), y = bitsOf(b); return x.length === y.length && x.every((v, j) => v === y[j]); };
    const sameRows = s.outputNames.every((n, i) => same(outs[n].data, ip.typedOutputTensor(i)) && (!preOk || same(outs[n].data, pre[n].data)));
    return { tflMs: med(tt), ms: med(te), ratio: med(ratios), preMs: preOk ? med(tp) : NaN, ratioPre: preOk ? med(ratiosPre) : NaN, ipMs: med(ti), ratioIp: med(ratiosIp), inPlace: ip.inPlace, sameRows, refShare: tot ? ref / tot : 0, top, outputs: s.outputNames.map((n) => ({ name: n, data: pack(outs[n].data), dims: [...outs[n].dims] })), tflOutputs: runner.getOutputs().map((t) => ({ data: pack(t.data().slice()) })) };
  } finally {
    runner.cleanUp && runner.cleanUp();
    if (ip) await ip.release();
  }
}`;

function unpack(p) {
  const b = Buffer.from(p.b, 'base64');
  return new globalThis[p.t](b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
const pack = (a) => ({ t: a.constructor.name, b: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64') });

function inputFor(info, seed) {
  const n = info.dims.reduce((a, d) => a * d, 1);
  if (info.dtype === 'float32') return { data: Float32Array.from({ length: n }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37 + seed)), dims: info.dims };
  if (info.dtype === 'int8') return { data: Int8Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % 256) - 128), dims: info.dims };
  if (info.dtype === 'uint8') return { data: Uint8Array.from({ length: n }, (_, i) => (i * 7919 + seed) % 256), dims: info.dims };
  throw new Error(`input dtype ${info.dtype}`);
}

/** the largest difference between TFLite's and edgeq's outputs: float relative to the output's scale, ints in codes */
function maxDiff(a, b) {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(Number(a[i]) - Number(b[i])));
    s = Math.max(s, Math.abs(Number(a[i])));
  }
  return a instanceof Float32Array ? `${(d / Math.max(s, 1e-30)).toExponential(1)} rel` : `${d} code${d === 1 ? '' : 's'}`;
}

export async function run() {
  const title = 'TFLite models, one thread, same Chromium page: edgeq vs TFLite-web (tfjs-tflite 0.0.1-alpha.10, XNNPACK)';
  const avail = tfliteWebAvailable();
  const list = models();
  if (!avail.ok || !list.length) {
    table(title, [{ model: '-', note: `skipped: ${avail.ok ? 'no models (npm ci; ../shared data)' : avail.why}` }]);
    return {};
  }
  const { dir, out } = bundle();
  const page = await openTflitePage();
  const rows = [];
  const result = {};
  try {
    page.serve('edgeq', dir);
    await page.addScript({ content: "import * as e from '/edgeq/edgeq.js'; globalThis.edgeq = e;", type: 'module' });
    await page.page.waitForFunction(() => globalThis.edgeq !== undefined, null, { timeout: 60_000 });
    // pairs of alternated samples (TFLite, edgeq)
    const runs = quick ? 5 : 15;
    for (const m of list) {
      const bytes = m.make ? await m.make() : new Uint8Array(readFileSync(m.path));
      // input shapes and dtypes as edgeq reads them (the same .tflite tensors TFLite allocates)
      const s = await InferenceSession.create(bytes);
      const infos = s.inputMetadata.map((x) => ({ dtype: x.type, dims: x.shape.map((d) => (typeof d === 'number' ? d : 1)) }));
      await s.release();
      const inputs = infos.map((x, i) => inputFor(x, i));
      try {
        await page.runTflite(bytes, inputs, { runs: 0, warmup: 0 });
      } catch (e) {
        // TFLite-web cannot load it (person_detection: TFLite Micro's per-channel bias quantization): edgeq's WASM
        // kernels against edgeq's TS reference in Node instead, outputs bit for bit
        // (the message carries the runtime's whole error log: its last ERROR line is this model's)
        const why = [...String(e.message).matchAll(/ERROR: ([^\n]*)/g)].pop()?.[1] ?? String(e.message).split('\n')[0];
        const fast = await InferenceSession.create(bytes);
        const ref = await InferenceSession.create(bytes, { backend: 'reference' });
        const feed = Object.fromEntries(fast.inputNames.map((n, i) => [n, new Tensor(infos[i].dtype, inputs[i].data, inputs[i].dims)]));
        const a = Object.values(await fast.run(feed)).map((t) => t.data);
        const b = Object.values(await ref.run(feed)).map((t) => t.data);
        // integer outputs bit for bit; float outputs (a float model with ops TFLite-web lacks, e.g. MediaPipe's
        // custom ops) within 1e-3 of the output's scale — kernels accumulate in another order than the reference
        const relOk = (x, y) => { let d = 0, s = 0; for (let j = 0; j < x.length; j++) { d = Math.max(d, Math.abs(x[j] - y[j])); s = Math.max(s, Math.abs(y[j])); } return d <= 1e-3 * Math.max(s, 1e-30); };
        const same = a.every((x, i) => x.length === b[i].length && (x instanceof Float32Array ? relOk(x, b[i]) : x.every((v, j) => v === b[i][j])));
        const exact = a.every((x, i) => x.every((v, j) => v === b[i][j]));
        const wasmMs = await timeMs(`${m.name} wasm`, () => fast.run(feed));
        const refMs = await timeMs(`${m.name} reference`, () => ref.run(feed));
        await fast.release();
        await ref.release();
        rows.push({ model: m.name, 'TFLite ms': `(cannot load: ${why.slice(0, 60)})`, 'edgeq ms': fmt(wasmMs), 'edgeq/TFLite': '-', 'preallocated outputs ms': '-', 'prealloc/TFLite': '-', 'edgeq Interpreter.invoke (in place, like infer()) ms': '-', 'in place/TFLite': '-', 'reference share': '-', 'top reference ops': `vs edgeq's TS reference in Node: ${fmt(refMs)} ms`, 'max output diff (all 3 rows)': !same ? 'DIFFERS from the reference' : exact ? '0 (bit-identical to the reference)' : '≤ 1e-3 rel of the reference' });
        if (!same) throw new Error(`${m.name}: WASM kernels and reference disagree`);
        continue;
      }
      const last = await page.evaluate(`(${PAIR_PAGE})(${JSON.stringify({ model: pack(bytes), inputs: inputs.map((x) => ({ data: pack(x.data), dims: x.dims })), runs, warmup: 2 })})`);
      const [tm, em] = [last.tflMs, last.ms];
      const diffs = last.tflOutputs.map((o, i) => maxDiff(unpack(o.data), unpack(last.outputs[i].data))).join(', ');
      if (!last.sameRows) throw new Error(`${m.name}: Interpreter.invoke / preallocated outputs differ from runSync's`);
      const ipMs = last.ipMs;
      rows.push({ model: m.name, 'TFLite ms': fmt(tm, tm < 0.01 ? 5 : 2), 'edgeq ms': fmt(em, em < 0.01 ? 5 : 2), 'edgeq/TFLite': `${fmt(last.ratio)}×`, 'preallocated outputs ms': fmt(last.preMs, last.preMs < 0.01 ? 5 : 2), 'prealloc/TFLite': `${fmt(last.ratioPre)}×`, 'edgeq Interpreter.invoke (in place, like infer()) ms': `${fmt(ipMs, ipMs < 0.01 ? 5 : 2)}${last.inPlace ? '' : ' (copies: no static plan)'}`, 'in place/TFLite': `${fmt(last.ratioIp)}×`, 'reference share': `${fmt(100 * last.refShare, 1)}%`, 'top reference ops': last.top.join(', ') || '-', 'max output diff (all 3 rows)': diffs });
      result[m.name] = { tfliteMs: tm, edgeqMs: em, ratio: last.ratio, preallocatedMs: last.preMs, preallocatedRatio: last.ratioPre, inPlaceMs: ipMs, inPlaceRatio: last.ratioIp, inPlace: last.inPlace, refShare: last.refShare };
    }
  } finally {
    await page.close();
    rmSync(dir, { recursive: true, force: true });
  }
  table(title, rows);
  return { tflite: result };
}
