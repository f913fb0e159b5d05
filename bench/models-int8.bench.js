// int8 whole models: each fp32 model quantized here by edgeq's own static quantizer (QDQ, per-channel int8
// weights, uint8 activations — onnxruntime's default U8S8 form), then the SAME model bytes run in edgeq's
// InferenceSession and in onnxruntime-web (wasm, SIMD, numThreads = 1) in this process. Printed: both times,
// edgeq/ORT, edgeq int8 vs edgeq fp32 of the same model, and how far the two runtimes' outputs are apart on the
// bench input (top-1 and max |Δ|, in output quantization steps where the output is dequantized), so a fast
// wrong answer cannot hide. Calibration: lenet on mnist/x_calib.npy; mobilenet_v2 and squeezenet1_1 on seeded
// synthetic inputs in [0, 1) (8 samples, 2 under --quick; no ImageNet here).
import { readFileSync } from 'node:fs';
import { InferenceSession, Tensor, readNpy, readOnnx, writeOnnx } from '../dist/index.js';
import { quantize, resolveConstInputs } from '../dist/quant/index.js';
import { dataFile, fmt, ort, quick, table, timeMs } from './common.js';

const MODELS = [
  { name: 'lenet', file: 'mnist/lenet.onnx', calib: 'mnist/x_calib.npy', input: 'input', dims: [1, 1, 28, 28] },
  { name: 'squeezenet1_1', file: 'bench/squeezenet1_1.onnx', input: 'input', dims: [1, 3, 224, 224] },
  { name: 'mobilenet_v2', file: 'bench/mobilenet_v2.onnx', input: 'input', dims: [1, 3, 224, 224] },
];

/** n seeded uniform [0, 1) samples of `dims` (an LCG: the same model every run). */
function synthetic(n, dims) {
  const per = dims.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n * per);
  let s = 12345;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = s / 2 ** 32;
  }
  return new Tensor('float32', d, [n, ...dims.slice(1)]);
}

/** Scale of the DequantizeLinear that produces graph output `name`, if one does (one output code = that much). */
function outputStep(graph, name) {
  const dq = graph.nodes.find((n) => n.op === 'DequantizeLinear' && n.outputs[0] === name);
  const s = dq && graph.initializers.get(dq.inputs[1]);
  return s && s.size === 1 ? s.data[0] : undefined;
}

export async function run(ctx) {
  const rows = [];
  const out = [];
  const fp32 = new Map((ctx.models ?? []).map((r) => [r.model.replace(/ \(fp32\)$/, ''), r.edgeqMs]));
  for (const m of MODELS) {
    const path = dataFile(m.file);
    const calibPath = m.calib ? dataFile(m.calib) : undefined;
    if (!path || (m.calib && !calibPath)) {
      rows.push({ model: `${m.name} (int8)`, 'edgeq ms': 'skipped (no ../shared data)', 'ORT-web ms': '', 'edgeq/ORT': '', 'edgeq fp32 ms': '', 'int8 vs fp32': '', 'top-1 same': '', 'max |Δ|': '', 'quantize ms': '' });
      continue;
    }
    const fbytes = new Uint8Array(readFileSync(path));
    const g = readOnnx(fbytes);
    resolveConstInputs(g); // conv weights behind Identity nodes (39 in mobilenet_v2) are quantized too
    const calib = calibPath ? readNpy(new Uint8Array(readFileSync(calibPath))) : synthetic(quick ? 2 : 8, m.dims);
    const tq = performance.now();
    const q = await quantize(g, { calib, perChannel: true, activationType: 'uint8', weightType: 'int8', report: false, batch: calibPath ? 100 : 1 });
    const bytes = writeOnnx(q.graph);
    const quantizeMs = performance.now() - tq;

    const n = m.dims.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5 + 0.5);
    const sess = await InferenceSession.create(bytes);
    const feed = { [m.input]: new Tensor('float32', x, m.dims) };
    const outName = sess.outputNames[0];
    const mine = (await sess.run(feed))[outName].data;
    const edgeqMs = await timeMs(`${m.name} int8`, () => sess.run(feed));
    const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const ofeed = { [m.input]: new ort.Tensor('float32', x, m.dims) };
    const theirs = (await osess.run(ofeed))[osess.outputNames[0]].data;
    const ortMs = await timeMs(`${m.name} int8 ort`, () => osess.run(ofeed));
    let fp32Ms = fp32.get(m.name);
    if (fp32Ms === undefined) {
      const fsess = await InferenceSession.create(fbytes);
      fp32Ms = await timeMs(`${m.name} fp32`, () => fsess.run(feed));
    }
    // agreement of the two runtimes on the same quantized model
    let maxDiff = 0;
    let am = 0;
    let bm = 0;
    for (let i = 0; i < mine.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(mine[i] - theirs[i]));
      if (mine[i] > mine[am]) am = i;
      if (theirs[i] > theirs[bm]) bm = i;
    }
    const step = outputStep(q.graph, outName);
    const r = { model: `${m.name} (int8)`, edgeqMs, ortMs, ratio: edgeqMs / ortMs, fp32Ms, int8VsFp32: edgeqMs / fp32Ms, top1Same: am === bm, maxAbsDiff: maxDiff, maxDiffSteps: step ? maxDiff / step : undefined, quantizeMs };
    out.push(r);
    rows.push({
      model: r.model, 'edgeq ms': fmt(edgeqMs), 'ORT-web ms': fmt(ortMs), 'edgeq/ORT': fmt(r.ratio), 'edgeq fp32 ms': fmt(fp32Ms), 'int8 vs fp32': fmt(r.int8VsFp32),
      'top-1 same': r.top1Same ? 'yes' : 'NO', 'max |Δ|': step ? `${fmt(maxDiff, 4)} (${fmt(maxDiff / step, 1)} steps)` : fmt(maxDiff, 4), 'quantize ms': fmt(quantizeMs, 0),
    });
  }
  table('int8 models (static QDQ U8S8, per-channel), one thread: edgeq vs onnxruntime-web on the same bytes (lower edgeq/ORT is better; int8 vs fp32 < 1 means int8 is faster)', rows);
  return { modelsInt8: out };
}
