// com.microsoft contrib-op transformers (the onnxruntime transformers optimizer's / Optimum's fused form) against
// onnxruntime-web (wasm, SIMD, numThreads = 1) in the same process, alternating runs: a 4-layer BERT-style encoder
// (Attention, SkipLayerNormalization, BiasGelu; d=256, 4 heads, 1×128 tokens) and one 4-layer LLaMA-style decoder
// step (SimplifiedLayerNormalization, GroupQueryAttention 8/2 heads + rotary, SkipSimplifiedLayerNormalization,
// QuickGelu; one token after 128 cached). Graphs are built here with random weights (no data files).
import { Graph, InferenceSession, Tensor, writeOnnx } from '../dist/index.js';
import { alternating, fmt, ort, quick, table } from './common.js';

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

class Builder {
  constructor(seed) {
    this.g = new Graph();
    this.g.opsets = { '': 17, 'com.microsoft': 1 };
    this.r = rng(seed);
    this.n = 0;
  }
  w(dims, amp = 1) {
    const name = `w${this.n++}`;
    this.g.initializers.set(name, new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => this.r() * amp), dims));
    return name;
  }
  node(op, inputs, attrs = {}, nOut = 1, domain = 'com.microsoft') {
    const outs = Array.from({ length: nOut }, (_, i) => `${op}_${this.n}_${i}`);
    this.g.nodes.push({ name: `${op}_${this.n++}`, op, domain, inputs, outputs: outs, attrs });
    return outs;
  }
  mm(x, k, n) {
    return this.node('MatMul', [x, this.w([k, n], 2 / Math.sqrt(k))], {}, 1, '')[0];
  }
}

export function encoder(layers, S, D, N) {
  const b = new Builder(1);
  b.g.inputs.push({ name: 'x', type: { dtype: 'float32', shape: [1, S, D] } }, { name: 'mask', type: { dtype: 'int32', shape: [1, S] } });
  let x = 'x';
  for (let l = 0; l < layers; l++) {
    const [att] = b.node('Attention', [x, b.w([D, 3 * D], 2 / Math.sqrt(D)), b.w([3 * D], 0.2), 'mask'], { num_heads: N });
    const [ln1] = b.node('SkipLayerNormalization', [b.mm(att, D, D), x, b.w([D], 2), b.w([D]), b.w([D], 0.2)], { epsilon: 1e-12 });
    const [act] = b.node('BiasGelu', [b.mm(ln1, D, 4 * D), b.w([4 * D], 0.2)]);
    [x] = b.node('SkipLayerNormalization', [b.mm(act, 4 * D, D), ln1, b.w([D], 2), b.w([D]), b.w([D], 0.2)], { epsilon: 1e-12 });
  }
  b.g.outputs.push({ name: x, type: { dtype: 'float32' } });
  const r = rng(2);
  const feeds = (T) => ({ x: new T('float32', Float32Array.from({ length: S * D }, () => r()), [1, S, D]), mask: new T('int32', new Int32Array(S).fill(1), [1, S]) });
  return { g: b.g, feeds };
}

export function decoderStep(layers, P, D, N, Nkv) {
  const hs = D / N;
  const b = new Builder(3);
  const rows = P + 16;
  const cos = new Float32Array(rows * (hs / 2));
  const sin = new Float32Array(rows * (hs / 2));
  for (let p = 0; p < rows; p++)
    for (let i = 0; i < hs / 2; i++) {
      cos[p * (hs / 2) + i] = Math.cos(p / 10000 ** ((2 * i) / hs));
      sin[p * (hs / 2) + i] = Math.sin(p / 10000 ** ((2 * i) / hs));
    }
  b.g.initializers.set('cos', new Tensor('float32', cos, [rows, hs / 2]));
  b.g.initializers.set('sin', new Tensor('float32', sin, [rows, hs / 2]));
  b.g.inputs.push({ name: 'x', type: { dtype: 'float32', shape: [1, 1, D] } }, { name: 'sk', type: { dtype: 'int32', shape: [1] } }, { name: 'tl', type: { dtype: 'int32', shape: [] } });
  let x = 'x';
  for (let l = 0; l < layers; l++) {
    for (const kv of ['k', 'v']) b.g.inputs.push({ name: `p${kv}${l}`, type: { dtype: 'float32', shape: [1, Nkv, P, hs] } });
    const [n1] = b.node('SimplifiedLayerNormalization', [x, b.w([D], 2)], { epsilon: 1e-6 }, 1, '');
    const [att] = b.node('GroupQueryAttention', [b.mm(n1, D, D), b.mm(n1, D, Nkv * hs), b.mm(n1, D, Nkv * hs), `pk${l}`, `pv${l}`, 'sk', 'tl', 'cos', 'sin'], { num_heads: N, kv_num_heads: Nkv, do_rotary: 1 });
    const [n2, , , res] = b.node('SkipSimplifiedLayerNormalization', [b.mm(att, D, D), x, b.w([D], 2)], { epsilon: 1e-6 }, 4);
    b.g.nodes[b.g.nodes.length - 1].outputs[1] = '';
    b.g.nodes[b.g.nodes.length - 1].outputs[2] = '';
    const [act] = b.node('QuickGelu', [b.mm(n2, D, 3 * D)], { alpha: 1 });
    [x] = b.node('Add', [b.mm(act, 3 * D, D), res], {}, 1, '');
  }
  b.g.outputs.push({ name: x, type: { dtype: 'float32' } });
  const r = rng(4);
  const feeds = (T) => {
    const f = { x: new T('float32', Float32Array.from({ length: D }, () => r()), [1, 1, D]), sk: new T('int32', Int32Array.from([P]), [1]), tl: new T('int32', Int32Array.from([P + 1]), []) };
    for (let l = 0; l < layers; l++) for (const kv of ['k', 'v']) f[`p${kv}${l}`] = new T('float32', Float32Array.from({ length: Nkv * P * hs }, () => r()), [1, Nkv, P, hs]);
    return f;
  };
  return { g: b.g, feeds };
}

const MODELS = [
  { name: 'contrib encoder 4×(Attention, SkipLN, BiasGelu), d256, 1×128', make: () => encoder(4, 128, 256, 4), rounds: [3, 15] },
  { name: 'contrib decoder step 4×(GQA 8/2 + rotary, SkipSimplifiedLN), d256, past 128', make: () => decoderStep(4, 128, 256, 8, 2), rounds: [10, 60] },
];

export async function run() {
  const rows = [];
  const out = [];
  for (const m of MODELS) {
    const { g, feeds } = m.make();
    const bytes = writeOnnx(g);
    const sess = await InferenceSession.create(bytes);
    const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const [e, o] = await alternating(sess, feeds(Tensor), osess, feeds(ort.Tensor), quick ? m.rounds[0] : m.rounds[1]);
    out.push({ model: m.name, edgeqMs: e, ortMs: o, ratio: e / o });
    rows.push({ model: m.name, 'edgeq ms': fmt(e), 'ORT-web ms': fmt(o), 'edgeq/ORT': fmt(e / o) });
    await sess.release();
    await osess.release();
  }
  table('com.microsoft contrib-op transformers, one thread, alternating runs (lower edgeq/ORT is better)', rows);
  return { contribTransformers: out };
}
