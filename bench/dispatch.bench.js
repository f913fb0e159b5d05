// Per-node dispatch on tiny models (issue 14 item 5): synthetic many-small-node MLPs, written as ONNX here, edgeq vs
// onnxruntime-web (wasm, numThreads 1) in this process. Rows: edgeq run() (async, as ORT's), runSync(), runSync into
// preallocated outputs, Interpreter.invoke() on its tensors in place (TFLite's typed_input_tensor: no copies), and
// ORT-web run(); samples of each alternated round by round, medians per run. Also whether edgeq took its static plan
// (every node bound: src/runtime/static-plan.ts).
import { Graph, InferenceSession, Interpreter, Tensor, writeOnnx } from '../dist/index.js';
import { fmt, ort, quick, table } from './common.js';

/** L × (MatMul → Add(bias) → Relu), the last without Relu: 3L − 1 nodes, widths d. Weights from a fixed LCG. */
function mlp(layers, d, batch) {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'x', type: { dtype: 'float32', shape: [batch, d] } });
  let seed = 1;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.4;
  let cur = 'x';
  for (let l = 0; l < layers; l++) {
    g.initializers.set(`w${l}`, new Tensor('float32', Float32Array.from({ length: d * d }, rnd), [d, d]));
    g.initializers.set(`b${l}`, new Tensor('float32', Float32Array.from({ length: d }, rnd), [d]));
    g.nodes.push({ name: `mm${l}`, op: 'MatMul', domain: '', inputs: [cur, `w${l}`], outputs: [`m${l}`], attrs: {} });
    g.nodes.push({ name: `add${l}`, op: 'Add', domain: '', inputs: [`m${l}`, `b${l}`], outputs: [`a${l}`], attrs: {} });
    cur = `a${l}`;
    if (l < layers - 1) {
      g.nodes.push({ name: `relu${l}`, op: 'Relu', domain: '', inputs: [cur], outputs: [`r${l}`], attrs: {} });
      cur = `r${l}`;
    }
  }
  g.outputs.push({ name: cur, type: { dtype: 'float32', shape: [batch, d] } });
  return { bytes: writeOnnx(g), out: cur, nodes: g.nodes.length };
}

const CASES = [
  { name: 'MLP 20 nodes, d32, batch 1', layers: 7, d: 32, batch: 1 },
  { name: 'MLP 59 nodes, d16, batch 1', layers: 20, d: 16, batch: 1 },
  { name: 'MLP 20 nodes, d128, batch 4', layers: 7, d: 128, batch: 4 },
];

const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function run() {
  const rows = [];
  const out = {};
  for (const c of CASES) {
    const { bytes, out: y, nodes } = mlp(c.layers, c.d, c.batch);
    const s = await InferenceSession.create(bytes, { numThreads: 1 });
    const o = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const x = Float32Array.from({ length: c.batch * c.d }, (_, i) => Math.sin(i));
    const fe = { x: new Tensor('float32', x, [c.batch, c.d]) };
    const fo = { x: new ort.Tensor('float32', x, [c.batch, c.d]) };
    const pre = { [y]: new Tensor('float32', new Float32Array(c.batch * c.d), [c.batch, c.d]) };
    const ip = Interpreter.fromSession(s);
    ip.allocateTensors();
    ip.typedInputTensor(0).set(x);
    const a = s.runSync(fe)[y].data;
    ip.invoke();
    const same = ip.typedOutputTensor(0).every((v, i) => Object.is(v, a[i]));
    const b = (await o.run(fo))[y].data;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    // k runs per sample so a sample lasts ~2 ms (quick: ~0.5 ms); rounds alternate the four ways
    const probe = performance.now();
    for (let i = 0; i < 200; i++) await o.run(fo);
    const k = Math.max(10, Math.round((quick ? 0.5 : 2) / ((performance.now() - probe) / 200)));
    const rounds = quick ? 7 : 25;
    const t = { run: [], sync: [], pre: [], ip: [], ort: [] };
    const sample = async (key, f) => {
      const t0 = performance.now();
      for (let i = 0; i < k; i++) await f();
      t[key].push(((performance.now() - t0) / k) * 1000);
    };
    for (let r = 0; r < rounds + 1; r++) {
      await sample('ort', () => o.run(fo));
      await sample('run', () => s.run(fe));
      await sample('sync', () => s.runSync(fe));
      await sample('pre', () => s.runSync(fe, pre));
      await sample('ip', () => ip.invoke());
    }
    const [us, ss, ps, is, os] = ['run', 'sync', 'pre', 'ip', 'ort'].map((key) => med(t[key].slice(1)));
    rows.push({
      model: c.name,
      'static plan': s.executor.staticPlan ? 'yes' : 'no',
      'edgeq run µs': fmt(us),
      'runSync µs': fmt(ss),
      'preallocated µs': fmt(ps),
      'Interpreter.invoke in place µs': `${fmt(is)}${ip.inPlace ? '' : ' (copies)'}${same ? '' : ' DIFFERS from runSync'}`,
      'ORT-web run µs': fmt(os),
      'run/ORT': fmt(us / os),
      'runSync/ORT': fmt(ss / os),
      'max rel diff': (diff / Math.max(scale, 1e-30)).toExponential(1),
      nodes,
    });
    out[c.name] = { runUs: us, runSyncUs: ss, preallocatedUs: ps, inPlaceUs: is, ortUs: os, ratio: us / os, staticPlan: !!s.executor.staticPlan };
    await ip.release();
    await s.release();
    await o.release();
  }
  table('Tiny models, per-node dispatch: edgeq vs onnxruntime-web (wasm, 1 thread), same process, rounds alternated', rows);
  return { dispatch: out };
}
