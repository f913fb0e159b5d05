// A seeded random pre-norm transformer encoder as an edgeq Graph (ONNX opset 17), for benches at sizes the shared
// models do not have (d_model 512–768, 6–12 layers): token Gather + learned positions, per layer LayerNormalization →
// Q/K/V MatMul + bias → heads (Reshape / Transpose) → QKᵀ · 1/√d_head → Softmax → ·V → output MatMul + bias → residual,
// LayerNormalization → FFN MatMul + bias → GELU (erf form, as PyTorch exports it) → MatMul + bias → residual; a final
// LayerNormalization. Input `input_ids` int64 [seq], output `hidden` float32 [seq, d].
import { Graph, Tensor } from '../dist/index.js';

export function encoderGraph({ d = 512, layers = 6, heads = 8, ffn = 4 * d, vocab = 1000, seq = 128, seed = 1 } = {}) {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'input_ids', type: { dtype: 'int64', shape: [seq] } });
  g.outputs.push({ name: 'hidden', type: { dtype: 'float32', shape: [seq, d] } });
  let k = 0;
  const init = (dims, f) => {
    const n = `w${k++}`;
    g.initializers.set(n, new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, f), dims));
    return n;
  };
  const i64 = (vals) => {
    const n = `c${k++}`;
    g.initializers.set(n, new Tensor('int64', BigInt64Array.from(vals.map(BigInt)), [vals.length]));
    return n;
  };
  const scalar = (v) => init([], () => v);
  const node = (op, inputs, attrs = {}) => {
    const o = `t${k++}`;
    g.nodes.push({ name: `${op}_${k}`, op, domain: '', inputs, outputs: [o], attrs });
    return o;
  };
  const linear = (x, kin, kout) => node('Add', [node('MatMul', [x, init([kin, kout], () => rnd() / Math.sqrt(kin))]), init([kout], () => rnd() * 0.1)]);
  const norm = (x) => node('LayerNormalization', [x, init([d], () => 1 + rnd() * 0.1), init([d], () => rnd() * 0.1)], { axis: -1, epsilon: 1e-5 });
  const dh = d / heads;
  let h = node('Add', [node('Gather', [init([vocab, d], rnd), 'input_ids']), init([seq, d], () => rnd() * 0.1)]);
  const shHeads = i64([seq, heads, dh]);
  const shBack = i64([seq, d]);
  for (let l = 0; l < layers; l++) {
    const a = norm(h);
    const q = node('Transpose', [node('Reshape', [linear(a, d, d), shHeads])], { perm: [1, 0, 2] });
    const kt = node('Transpose', [node('Reshape', [linear(a, d, d), shHeads])], { perm: [1, 2, 0] });
    const v = node('Transpose', [node('Reshape', [linear(a, d, d), shHeads])], { perm: [1, 0, 2] });
    const p = node('Softmax', [node('Mul', [node('MatMul', [q, kt]), scalar(1 / Math.sqrt(dh))])], { axis: -1 });
    const ctx = node('Reshape', [node('Transpose', [node('MatMul', [p, v])], { perm: [1, 0, 2] }), shBack]);
    h = node('Add', [h, linear(ctx, d, d)]);
    const f1 = linear(norm(h), d, ffn);
    const gelu = node('Mul', [node('Mul', [f1, node('Add', [node('Erf', [node('Div', [f1, scalar(Math.SQRT2)])]), scalar(1)])]), scalar(0.5)]);
    h = node('Add', [h, linear(gelu, ffn, d)]);
  }
  norm(h);
  g.nodes[g.nodes.length - 1].outputs = ['hidden'];
  return g;
}
