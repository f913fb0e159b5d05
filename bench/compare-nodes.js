// Where does edgeq start to differ from onnxruntime on this model? Every node's outputs of an ONNX model, edgeq (the
// TS reference by default, or the planned kernels) against onnxruntime-node with graph optimizations off, on the
// random inputs `edgeq profile` uses. A value is off when max |Δ| exceeds --tol of onnxruntime's range (floats) or
// differs at all (integers); the nodes where the difference starts — output off, every input within tolerance — are
// where the semantics (or the float order) part. `edgeq check` is the same walk for kernels against the reference.
// A diagnostic beside compare-model.js (onnxruntime-node is a devDependency, so not an edgeq command):
//   node bench/compare-nodes.js MODEL.onnx [--backend reference|wasm] [--tol 1e-5] [--dims NAME=d0,d1,… …]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { walkNodes } from '../dist/cli/check.js';
import { inputShapes } from '../dist/cli/profile.js';
import { sampleFeeds } from '../dist/cli/split.js';
import { readOnnx } from '../dist/formats/onnx/reader.js';
import { writeOnnx } from '../dist/formats/onnx/writer.js';
import { analyze } from '../dist/ir/infer.js';
import { topoSort } from '../dist/ir/topo.js';
import { InferenceSession } from '../dist/runtime/session.js';

const argv = process.argv.slice(2);
const path = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
if (!path) {
  console.log('usage: node bench/compare-nodes.js MODEL.onnx [--backend reference|wasm] [--tol 1e-5] [--dims NAME=d0,d1,… …]');
  process.exit(1);
}
const opt = (name, d) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : d;
};
const backend = opt('--backend', 'reference');
const tol = Number(opt('--tol', 1e-5));
const dims = new Map(argv.flatMap((a, i) => (argv[i - 1] === '--dims' ? [a.split('=')] : [])).map(([k, v]) => [k, v.split(',').map(Number)]));
const ortNode = createRequire(import.meta.url)('onnxruntime-node');

const g = readOnnx(new Uint8Array(readFileSync(path)));
const { types } = analyze(g);
const order = topoSort(g);
// onnxruntime returns only graph outputs: every typed intermediate becomes one
const wide = g.clone();
const fetch = new Set(wide.outputs.map((o) => o.name));
for (const n of order) {
  for (const o of n.outputs) {
    if (o && !fetch.has(o) && types.get(o)?.shape) {
      wide.outputs.push({ name: o, type: types.get(o) });
      fetch.add(o);
    }
  }
}
const feeds = sampleFeeds(g, 1, inputShapes(g, dims, new Set()));
const os = await ortNode.InferenceSession.create(writeOnnx(wide), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
const want = await os.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortNode.Tensor(t.type, t.data, t.dims)])));
const s = await InferenceSession.create(g, { backend });
const got = s.runSync(feeds, [...fetch].filter((n) => want[n]));
const rows = walkNodes(order, got, want, tol, true);
const offCount = rows.filter((r) => !r.ok).length;
const e = (x) => (Number.isFinite(x) ? x.toExponential(1) : String(x));
console.log(`${path}: edgeq (${backend}) against onnxruntime-node (no graph optimizations), tol ${tol}: ${rows.length} values compared, ${offCount} off`);
const starts = rows.filter((r) => r.starts);
console.log(`where a difference starts (${starts.length}):`);
for (const r of starts.slice(0, 20)) console.log(`  ${r.op} ${r.node} → ${r.name}: rel ${e(r.rel)}, max |Δ| ${e(r.max_abs)}, range ${e(r.range)}${r.skipped ? ` (${r.skipped})` : ''}`);
for (const o of g.outputs) {
  const r = rows.find((x) => x.name === o.name);
  if (r) console.log(`output ${o.name}: rel ${e(r.rel)}, max |Δ| ${e(r.max_abs)}, ${r.ok ? 'within' : 'OFF'}`);
}
await s.release();
