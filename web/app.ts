/**
 * The edgeq web page (web/index.html; `npm run web`): open or drop an .onnx/.tflite model, see the summary
 * `edgeq inspect` prints, run it on a seeded random or uploaded .npy input, profile it per op, quantize or
 * prune it and download the result, and compare the variants' accuracy/size/latency with the pipeline
 * report's plots. Bundled by scripts/build-web.mjs (esbuild, browser platform) into web/dist/app.js.
 */
import { detectFormat, readModel } from '../src/formats/detect.js';
import { readNpy } from '../src/formats/npy.js';
import { writeOnnx } from '../src/formats/onnx/writer.js';
import type { Graph } from '../src/ir/graph.js';
import { modelStats } from '../src/ir/stats.js';
import { fmtBytes, summaryRows, summaryText } from '../src/ir/summary.js';
import { type VariantRow, scatterSvg, variantTable, kib } from '../src/pipeline/report.js';
import { prune } from '../src/prune/index.js';
import { quantize } from '../src/quant/index.js';
import { env } from '../src/runtime/env.js';
import { InferenceSession } from '../src/runtime/session.js';
import { profileNodes } from '../src/split/profile.js';
import type { DType } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface Loaded {
  name: string;
  bytes: Uint8Array;
  graph: Graph;
  format: string;
}
let model: Loaded | undefined;
let userInput: Tensor | undefined;
let userLabels: Tensor | undefined;

function status(msg: string, error = false): void {
  const s = $('status');
  s.textContent = msg;
  s.className = error ? 'error' : '';
}

/** run f with the buttons disabled and errors shown on the page (and kept in window.edgeqErrors for tests) */
async function busy(what: string, f: () => Promise<void>): Promise<void> {
  const buttons = [...document.querySelectorAll('button')];
  buttons.forEach((b) => (b.disabled = true));
  status(`${what}…`);
  await new Promise((r) => setTimeout(r, 20)); // let the page paint
  try {
    await f();
    status(`${what}: done`);
  } catch (e) {
    console.error(e);
    ((window as unknown as { edgeqErrors: string[] }).edgeqErrors ??= []).push(String((e as Error)?.message ?? e));
    status(`${what} failed: ${(e as Error)?.message ?? e}`, true);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ---- inputs -------------------------------------------------------------------------------------------

/** mulberry32: a small seeded generator, so "random" inputs are the same on every load */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTensor(dtype: DType, dims: number[], seed: number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  switch (dtype) {
    case 'float32':
      return new Tensor('float32', Float32Array.from({ length: n }, r), dims);
    case 'int8':
      return new Tensor('int8', Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128), dims);
    case 'uint8':
      return new Tensor('uint8', Uint8Array.from({ length: n }, () => Math.floor(r() * 256)), dims);
    case 'int32':
      return new Tensor('int32', Int32Array.from({ length: n }, () => Math.floor(r() * 10)), dims);
    case 'int64':
      return new Tensor('int64', BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * 10))), dims);
    default:
      throw new Error(`cannot make a random ${dtype} input; upload a .npy`);
  }
}

/** Feeds of `batch` samples: the uploaded .npy (first input) or seeded random data; symbolic dims → batch (first) or 1. */
function feedsFor(session: InferenceSession, batch = 1): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  session.inputMetadata.forEach((m, k) => {
    if (k === 0 && userInput) {
      const n = userInput.dims[0] ?? 1;
      feeds[m.name] = batch >= n ? userInput : sliceBatch(userInput, batch);
      return;
    }
    const dims = m.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : 1));
    feeds[m.name] = randomTensor(m.type, dims, 1234 + k);
  });
  return feeds;
}

function sliceBatch(t: Tensor, n: number): Tensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return new Tensor(t.type, (t.data as Float32Array).slice(0, n * per) as Tensor['data'], [n, ...t.dims.slice(1)]);
}

function first(t: Tensor, k = 8): string {
  const d = t.data as ArrayLike<number | bigint | string | boolean>;
  const v = Array.from({ length: Math.min(k, d.length) }, (_, i) => {
    const x = d[i]!;
    return typeof x === 'number' && !Number.isInteger(x) ? x.toPrecision(5) : String(x);
  });
  return `[${v.join(', ')}${d.length > k ? ', …' : ''}]`;
}

// ---- load + inspect -----------------------------------------------------------------------------------

async function load(file: File): Promise<void> {
  await busy(`reading ${file.name}`, async () => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const format = detectFormat(bytes);
    const graph = readModel(bytes);
    model = { name: file.name, bytes, graph, format };
    const s = modelStats(graph);
    const pre = $('summary');
    pre.textContent = summaryText(summaryRows(graph, s, `${file.name} (${format}, ${fmtBytes(bytes.length)})`));
    pre.hidden = false;
    $('controls').hidden = false;
    for (const id of ['outputs', 'profile-out', 'downloads', 'plots']) {
      const e = $(id);
      e.innerHTML = '';
      if (e.tagName === 'PRE') e.hidden = true;
    }
  });
}

// ---- run / profile ------------------------------------------------------------------------------------

async function run(): Promise<void> {
  if (!model) return;
  const session = await InferenceSession.create(model.graph);
  const feeds = feedsFor(session);
  await session.run(feeds); // warm-up (kernel preparation)
  const t0 = performance.now();
  const outs = await session.run(feeds);
  const ms = performance.now() - t0;
  const lines = Object.entries(feeds).map(([n, t]) => `input  ${n}  ${t.type} [${t.dims.join(',')}]  ${userInput ? 'from .npy' : 'random'}`);
  for (const name of session.outputNames) {
    const t = outs[name]!;
    lines.push(`output ${name}  ${t.type} [${t.dims.join(',')}]  ${first(t)}`);
  }
  lines.push(`ran in ${ms.toFixed(2)} ms (${env.wasm.relaxedSimd ? 'relaxed SIMD' : env.wasm.simd ? 'WASM SIMD' : 'reference'} kernels, ${env.wasm.numThreads} thread${env.wasm.numThreads > 1 ? 's' : ''})`);
  const pre = $('outputs');
  pre.textContent = lines.join('\n');
  pre.hidden = false;
}

async function profile(): Promise<void> {
  if (!model) return;
  const session = await InferenceSession.create(model.graph);
  const times = profileNodes(model.graph, feedsFor(session), 3);
  const byOp = new Map<string, { ms: number; n: number }>();
  for (const node of model.graph.nodes) {
    const e = byOp.get(node.op) ?? { ms: 0, n: 0 };
    e.ms += times.get(node.name) ?? 0;
    e.n++;
    byOp.set(node.op, e);
  }
  const total = [...byOp.values()].reduce((a, e) => a + e.ms, 0) || 1;
  const rows = [...byOp.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
  $('profile-out').innerHTML =
    `<h3>Profile (each node alone, median of 3)</h3><table id="profile-table"><tr><th>op</th><th>nodes</th><th>ms</th><th>share</th><th></th></tr>` +
    rows.map(([op, e]) => `<tr><td>${esc(op)}</td><td>${e.n}</td><td>${e.ms.toFixed(3)}</td><td>${((100 * e.ms) / total).toFixed(1)}%</td><td style="text-align:left"><span class="bar" style="width:${Math.max(1, (200 * e.ms) / total).toFixed(0)}px"></span></td></tr>`).join('') +
    `</table><p class="muted">total ${total.toFixed(3)} ms over ${model.graph.nodes.length} nodes</p>`;
}

// ---- quantize / prune / download ----------------------------------------------------------------------

function baseName(): string {
  return (model?.name ?? 'model').replace(/\.(onnx|tflite)$/i, '');
}

function offerDownload(g: Graph, suffix: string, what: string): void {
  const bytes = writeOnnx(g);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  a.download = `${baseName()}.${suffix}.onnx`;
  a.textContent = `download ${a.download}`;
  a.className = 'download';
  a.dataset.bytes = String(bytes.length);
  const p = document.createElement('p');
  p.append(a, ` — ${what}, ${fmtBytes(bytes.length)} (original ${fmtBytes(model!.bytes.length)})`);
  $('downloads').prepend(p);
}

async function calibTensor(): Promise<Tensor> {
  const session = await InferenceSession.create(model!.graph);
  return Object.values(feedsFor(session, 16))[0]!;
}

async function doQuantize(): Promise<void> {
  if (!model) return;
  const q = await quantize(model.graph, { mode: 'static', calib: await calibTensor() });
  offerDownload(q.graph, 'int8', `static int8 (QDQ), ${q.layers.length} layers quantized${q.skipped.length ? `, ${q.skipped.length} left float` : ''}`);
}

async function doPrune(): Promise<void> {
  if (!model) return;
  const sparsity = Number(($('sparsity') as HTMLInputElement).value);
  const r = prune(model.graph, { sparsity });
  offerDownload(r.graph, `pruned${Math.round(sparsity * 100)}`, `${(100 * r.sparsity).toFixed(1)}% of ${r.totalWeights.toLocaleString('en-US')} weights pruned`);
}

// ---- compare variants (the pipeline report's table and plots) -----------------------------------------

const argmax = (d: ArrayLike<number>, off: number, n: number) => {
  let best = 0;
  for (let i = 1; i < n; i++) if (d[off + i]! > d[off + best]!) best = i;
  return best;
};

function top1(t: Tensor): number[] {
  const [n, c] = [t.dims[0] ?? 1, t.dims[t.dims.length - 1] ?? 1];
  return Array.from({ length: n }, (_, i) => argmax(t.data as Float32Array, i * c, c));
}

async function compare(): Promise<void> {
  if (!model) return;
  const g = model.graph;
  const ref = await InferenceSession.create(g);
  if (ref.inputNames.length !== 1 || ref.outputNames.length !== 1) throw new Error('comparing variants needs a classifier with one input and one output');
  const batchSym = typeof ref.inputMetadata[0]!.shape[0] !== 'number';
  const n = userInput ? userInput.dims[0]! : batchSym ? 64 : 1;
  const feeds = feedsFor(ref, n);
  const labels = userLabels ? Array.from(userLabels.data as ArrayLike<number | bigint>, Number).slice(0, n) : top1(ref.runSync(feeds)[ref.outputNames[0]!]!);
  const calib = await calibTensor();
  const variants: [string, string, () => Promise<Graph>][] = [
    ['original', model.format, async () => g],
    ['pruned 50%', 'unstructured magnitude, per layer', async () => prune(g, { sparsity: 0.5 }).graph],
    ['int8 static', 'QDQ, calibrated on 16 inputs', async () => (await quantize(g, { mode: 'static', calib })).graph],
    ['int8 dynamic', 'dynamic QDQ weights', async () => (await quantize(g, { mode: 'dynamic' })).graph],
    ['fp16', 'float16 weights', async () => (await quantize(g, { mode: 'fp16' })).graph],
  ];
  const rows: VariantRow[] = [];
  const notes: string[] = [];
  for (const [name, recipe, make] of variants) {
    status(`comparing variants: ${name}…`);
    await new Promise((r) => setTimeout(r, 0));
    let vg: Graph;
    try {
      vg = await make();
    } catch (e) {
      notes.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    const s = InferenceSession.fromGraph(vg);
    const out = s.runSync(feeds)[s.outputNames[0]!]!;
    const pred = top1(out);
    const acc = pred.filter((p, i) => p === labels[i]).length / labels.length;
    const one = feedsFor(s, 1);
    s.runSync(one);
    // browsers coarsen performance.now() (0.1 ms without cross-origin isolation): time runs in groups of >= 20 ms
    let reps = 1;
    for (let t0 = performance.now(); performance.now() - t0 < 20 && reps < 1 << 16; reps *= 2) for (let r = 0; r < reps; r++) s.runSync(one);
    const ts: number[] = [];
    for (let k = 0; k < 7; k++) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) s.runSync(one);
      ts.push((performance.now() - t0) / reps);
    }
    ts.sort((a, b) => a - b);
    const st = modelStats(vg);
    rows.push({ name, file: '', recipe, accuracy: acc, bytes: name === 'original' ? model.bytes.length : writeOnnx(vg).length, params: st.params, macs: st.macs, latencyMs: ts[3]! });
  }
  const what = userLabels ? `top-1 accuracy on ${labels.length} labelled inputs` : `top-1 agreement with the original on ${labels.length} ${userInput ? 'uploaded' : 'random'} inputs (upload labels for accuracy)`;
  $('plots').innerHTML =
    `<h3>Variants</h3><p class="muted">"top-1" is the ${what}; size of the ONNX file; median single-input latency on one thread.</p>` +
    `<pre id="variant-table">${variantTable(rows).replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!)}</pre>` +
    `<div class="plots">${scatterSvg(rows, (r) => r.bytes, 'file size', kib, 'accuracy vs size')}${scatterSvg(rows, (r) => r.latencyMs, 'latency per input, one thread (ms)', (v) => `${v < 0.1 ? v.toFixed(3) : v.toFixed(2)} ms`, 'accuracy vs latency')}</div>` +
    (notes.length ? `<p class="muted">skipped: ${notes.join('; ')}</p>` : '');
}

// ---- wiring -------------------------------------------------------------------------------------------

$('env').textContent = `edgeq ${env.version} · ${env.wasm.simd ? (env.wasm.relaxedSimd ? 'WASM relaxed SIMD' : 'WASM SIMD') : 'no WASM SIMD (reference ops)'} · ${env.wasm.numThreads} thread${env.wasm.numThreads > 1 ? 's' : ''}`;
$<HTMLInputElement>('model').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) void load(f);
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files?.[0];
  if (f) void load(f);
});
$<HTMLInputElement>('npy').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  await busy('reading input', async () => {
    userInput = f ? readNpy(new Uint8Array(await f.arrayBuffer()), f.name) : undefined;
    $('input-desc').textContent = userInput ? `input: ${f!.name} ${userInput.type} [${userInput.dims.join(',')}]` : 'input: random (seeded)';
  });
});
$<HTMLInputElement>('labels').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  await busy('reading labels', async () => {
    userLabels = f ? readNpy(new Uint8Array(await f.arrayBuffer()), f.name) : undefined;
  });
});
$('run').addEventListener('click', () => void busy('running', run));
$('profile').addEventListener('click', () => void busy('profiling', profile));
$('quantize').addEventListener('click', () => void busy('quantizing', doQuantize));
$('prune').addEventListener('click', () => void busy('pruning', doPrune));
$('compare').addEventListener('click', () => void busy('comparing variants', compare));
(window as unknown as { edgeqReady: boolean }).edgeqReady = true;
