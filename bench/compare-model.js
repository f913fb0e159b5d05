// Bring your own ONNX model: edgeq against onnxruntime-web (speed, one thread each, same process, runs alternated)
// and against onnxruntime-node (outputs) on one deterministic input. Not part of bench/run.js (any model, any size).
//   node bench/compare-model.js MODEL.onnx [--runs N] [--dims NAME=1,3,224,224 …] [--threads N]
// Symbolic input dims default to 1 (give --dims for real sizes, 0 too: an empty past KV cache); float32 inputs get
// sin(0.37·i)/2, int64 inputs 1, bool inputs false (a merged decoder's use_cache_branch: its no-cache branch).
// Prints per output the max |edgeq − ORT-node| next to max |ORT-web − ORT-node| (how far onnxruntime's own two
// builds are apart on this model), then median wall and CPU ms of each engine and their ratio.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { InferenceSession, Tensor, env } from '../dist/index.js';
import { fmt, ort } from './common.js';

const argv = process.argv.slice(2);
const path = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
if (!path) {
  console.log('usage: node bench/compare-model.js MODEL.onnx [--runs N] [--dims NAME=d0,d1,… …] [--threads N]');
  process.exit(1);
}
const opt = (name, d) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : d;
};
const runs = Number(opt('--runs', 5));
const threads = Number(opt('--threads', 1));
const dims = Object.fromEntries(argv.flatMap((a, i) => (argv[i - 1] === '--dims' ? [a.split('=')] : [])).map(([k, v]) => [k, v.split(',').map(Number)]));
env.wasm.numThreads = threads;
ort.env.wasm.numThreads = threads;
const ortNode = createRequire(import.meta.url)('onnxruntime-node');

const bytes = new Uint8Array(readFileSync(path));
const s = await InferenceSession.create(bytes, { numThreads: threads });
const web = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
const node = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: threads });
const feeds = [{}, {}, {}];
for (const m of s.inputMetadata) {
  const d = dims[m.name] ?? m.shape.map((x) => (typeof x === 'number' ? x : 1));
  const n = d.reduce((a, b) => a * b, 1);
  const data = m.type === 'float32' ? Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) / 2) : m.type === 'int64' ? new BigInt64Array(n).fill(1n) : m.type === 'bool' ? new Uint8Array(n) : undefined;
  if (!data) throw new Error(`input ${m.name}: ${m.type} (only float32, int64 and bool inputs are generated)`);
  feeds[0][m.name] = new Tensor(m.type, data, d);
  feeds[1][m.name] = new ort.Tensor(m.type, data, d);
  feeds[2][m.name] = new ortNode.Tensor(m.type, data, d);
}
const [a, b, c] = [await s.run(feeds[0]), await web.run(feeds[1]), await node.run(feeds[2])];
const maxDiff = (p, q) => {
  let d = 0;
  for (let i = 0; i < q.length; i++) d = Math.max(d, Math.abs(Number(p[i]) - Number(q[i])));
  return d;
};
for (const k of s.outputNames) {
  const ref = c[k].data;
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(Number(ref[i])));
  console.log(`${k}: max |edgeq − ORT-node| ${maxDiff(a[k].data, ref).toExponential(2)}, max |ORT-web − ORT-node| ${maxDiff(b[k].data, ref).toExponential(2)} (max |output| ${m.toExponential(2)})`);
}
const t = { edgeq: [], web: [] };
for (let r = 0; r < runs; r++) {
  for (const [k, f] of [['edgeq', () => s.run(feeds[0])], ['web', () => web.run(feeds[1])]]) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    const cu = process.cpuUsage(c0);
    t[k].push([performance.now() - t0, (cu.user + cu.system) / 1000]);
  }
}
const med = (v, i) => v.map((x) => x[i]).sort((p, q) => p - q)[v.length >> 1];
const [ew, ec, ow, oc] = [med(t.edgeq, 0), med(t.edgeq, 1), med(t.web, 0), med(t.web, 1)];
console.log(`${threads} thread(s), median of ${runs}: edgeq ${fmt(ew, 1)} ms (CPU ${fmt(ec, 1)}), onnxruntime-web ${fmt(ow, 1)} ms (CPU ${fmt(oc, 1)}); edgeq/ORT ${fmt(ew / ow)} (CPU ${fmt(ec / oc)})`);
await s.release();
process.exit(0);
