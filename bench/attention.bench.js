// The attention block as PyTorch exports it (nn.MultiheadAttention at opset 17: head Reshape/Transpose of Q, K, V,
// Div by √hd, MatMul(Q, Kᵀ), Add of an additive mask, Softmax, MatMul(·, V), Transpose/Reshape back), alone:
// edgeq's plan with the pattern fused into one ai.edgeq ScaledDotProductAttention node (kernels/attend.ts), the same
// plan unfused (ExecutorOptions fusePatterns: false: batched MatMul, Softmax, MatMul kernels), and onnxruntime-web
// (wasm, 1 thread), alternating round by round in one process.
import { Graph, InferenceSession, Tensor } from '../dist/index.js';
import { Executor } from '../dist/runtime/executor.js';
import { writeOnnx } from '../dist/formats/onnx/writer.js';
import { fmt, ort, quick, table } from './common.js';

export function attentionGraph(S, H, hd) {
  const d = H * hd;
  const g = new Graph();
  g.opsets = { '': 17 };
  for (const n of ['q', 'k', 'v']) g.inputs.push({ name: n, type: { dtype: 'float32', shape: [S, 1, d] } });
  g.inputs.push({ name: 'mask', type: { dtype: 'float32', shape: [H, 1, S] } });
  g.outputs.push({ name: 'y', type: { dtype: 'float32', shape: [S, 1, d] } });
  g.initializers.set('heads', new Tensor('int64', BigInt64Array.of(BigInt(S), BigInt(H), BigInt(hd)), [3]));
  g.initializers.set('back', new Tensor('int64', BigInt64Array.of(BigInt(S), 1n, BigInt(d)), [3]));
  g.initializers.set('sqrt', new Tensor('float32', Float32Array.of(Math.sqrt(hd)), []));
  const node = (op, inputs, outputs, attrs = {}) => g.nodes.push({ name: outputs[0], op, domain: '', inputs, outputs, attrs });
  for (const n of ['q', 'k', 'v']) node('Reshape', [n, 'heads'], [`${n}h`]);
  node('Transpose', ['qh'], ['qt'], { perm: [1, 0, 2] });
  node('Transpose', ['kh'], ['kt'], { perm: [1, 2, 0] });
  node('Transpose', ['vh'], ['vt'], { perm: [1, 0, 2] });
  node('Div', ['qt', 'sqrt'], ['qs']);
  node('MatMul', ['qs', 'kt'], ['sc']);
  node('Add', ['sc', 'mask'], ['sm']);
  node('Softmax', ['sm'], ['p'], { axis: -1 });
  node('MatMul', ['p', 'vt'], ['ctx']);
  node('Transpose', ['ctx'], ['ct'], { perm: [1, 0, 2] });
  node('Reshape', ['ct', 'back'], ['y']);
  return g;
}

export async function run() {
  const configs = quick ? [[128, 12, 64]] : [[128, 4, 64], [128, 12, 64], [512, 12, 64]];
  const rows = [];
  const out = [];
  for (const [S, H, hd] of configs) {
    const g = attentionGraph(S, H, hd);
    const d = H * hd;
    const val = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s));
    const data = { q: val(S * d, 1), k: val(S * d, 2), v: val(S * d, 3), mask: Float32Array.from({ length: H * S }, (_, i) => (i % S > S - 8 ? -Infinity : 0)) };
    const feeds = (T) => ({ q: new T('float32', data.q, [S, 1, d]), k: new T('float32', data.k, [S, 1, d]), v: new T('float32', data.v, [S, 1, d]), mask: new T('float32', data.mask, [H, 1, S]) });
    const sess = await InferenceSession.create(g);
    const unfused = new Executor(g, { fusePatterns: false });
    const osess = await ort.InferenceSession.create(writeOnnx(g), { executionProviders: ['wasm'] });
    const ef = feeds(Tensor);
    const of = feeds(ort.Tensor);
    const a = (await sess.run(ef)).y.data;
    const b = unfused.run(ef).y.data;
    const c = (await osess.run(of)).y.data;
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - c[i]), Math.abs(b[i] - c[i]));
    const te = [];
    const tu = [];
    const to = [];
    for (let r = 0; r < (quick ? 5 : 30); r++) {
      let t = performance.now();
      await sess.run(ef);
      te.push(performance.now() - t);
      t = performance.now();
      unfused.run(ef);
      tu.push(performance.now() - t);
      t = performance.now();
      await osess.run(of);
      to.push(performance.now() - t);
    }
    // medians (MIN=1: minima, steadier on a loaded machine)
    const med = process.env.MIN ? (xs) => Math.min(...xs) : (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
    const [e, u, o] = [med(te), med(tu), med(to)];
    out.push({ shape: `S${S} H${H} hd${hd}`, fusedMs: e, unfusedMs: u, ortMs: o, ratio: e / o, maxAbsErr: err });
    rows.push({ 'S, heads, head dim': `${S}, ${H}, ${hd}`, 'fused ms': fmt(e, 3), 'unfused ms': fmt(u, 3), 'ORT-web ms': fmt(o, 3), 'fused/unfused': fmt(e / u), 'fused/ORT': fmt(e / o), 'max |Δ| vs ORT': err.toExponential(1) });
    await sess.release();
    unfused.dispose();
    await osess.release();
  }
  table('Attention block as PyTorch exports it (QKᵀ/√d + mask → Softmax → ·V), one thread, alternating', rows);
  return { attention: out };
}
