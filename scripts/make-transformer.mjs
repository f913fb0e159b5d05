#!/usr/bin/env node
// Generated-model provenance: this script WRITES models (random weights) into an ignored folder; nothing it writes
// is committed. Run with `npm run gen:transformer [-- options]` after `npm run build` (it builds graphs with dist/).
//
// Transformer graphs larger than the shared ones (../shared/models/transformer, d 256, 4 layers) with the op
// pattern PyTorch 1.13 exports at opset 17 (the node sequences were transcribed from those two files with
// `edgeq inspect` / a node dump, so the int64 shape arithmetic, the mask path and the KV-cache Concat are the same):
//   encoder_d{D}_l{L}.onnx    nn.TransformerEncoder (post-norm, GELU) + masked mean: inputs input_ids,
//                             attention_mask int64 [batch, seq] (seq ≤ 512), output embedding [batch, D]
//   decoder_kv_d{D}_l{L}.onnx pre-norm decoder-only LM with an explicit KV cache: input_ids int64 [batch, seq],
//                             past_key_i / past_value_i [batch, H, past, D/H]; outputs logits [batch, seq, vocab],
//                             present_key_i / present_value_i [batch, H, past + seq, D/H]
//
// Usage: node scripts/make-transformer.mjs [--out DIR] [--d 512 --layers 6 --heads 8 --ffn 2048 --vocab 256]
//        [--norm post|pre] [--gelu erf|tanh] [--no-mask] [--kind encoder|decoder|both] [--seed S] [--extra]
//   Without --d: the presets d512/l6/h8/ffn2048 and d768/l12/h12/ffn3072 (both kinds); --extra: EXTRA_PRESETS
//   (d1024/l8/h16, d384/l6/h6/ffn1536, pre-LN / tanh-GELU / unmasked encoders); --step: the decoders of STEP_PRESETS
//   (d1024/l12/h16). Variant files carry a suffix
//   (_pre, _tanh, _nomask). DIR defaults to tmp/transformer
//   (git-ignored). Prints one line per file written: its path and parameter count.
// From code: `import { makeEncoder, makeDecoder, writeTransformers } from './scripts/make-transformer.mjs'`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Graph, Tensor, writeOnnx } from '../dist/index.js';
import { mulberry32 } from '../dist/ops/nn-misc.js';

/** A tiny graph builder: node names and value names follow PyTorch's `/scope/Op_k` scheme. */
class Builder {
  constructor(seed) {
    this.g = new Graph();
    this.g.opsets = { '': 17 };
    this.g.producer = 'pytorch';
    this.g.irVersion = 8;
    this.counts = new Map();
    this.rand = mulberry32(seed);
    this.constN = 0;
  }
  name(scope, op) {
    const key = `${scope}/${op}`;
    const k = this.counts.get(key) ?? 0;
    this.counts.set(key, k + 1);
    return `${scope}/${op}${k ? `_${k}` : ''}`;
  }
  /** add a node; returns its output names (one unless nOut > 1) */
  op(scope, op, inputs, attrs = {}, nOut = 1) {
    const name = this.name(scope, op);
    const outputs = nOut === 1 ? [`${name}_output_0`] : Array.from({ length: nOut }, (_, i) => `${name}_output_${i}`);
    this.g.nodes.push({ name, op, domain: '', inputs, outputs, attrs });
    return nOut === 1 ? outputs[0] : outputs;
  }
  /** a Constant node: int64 (bigints or numbers) or float32 values; dims [] = scalar */
  i64(scope, vals, dims = [vals.length]) {
    return this.op(scope, 'Constant', [], { value: new Tensor('int64', BigInt64Array.from(vals, BigInt), dims) });
  }
  f32(scope, v) {
    return this.op(scope, 'Constant', [], { value: new Tensor('float32', Float32Array.of(v), []) });
  }
  /** PyTorch's unnamed `Constant_k` → `onnx::Unsqueeze_k` axes for Unsqueeze */
  axes0() {
    const k = this.constN++;
    const out = `onnx::Unsqueeze_c${k}`;
    this.g.nodes.push({ name: `Constant_u${k}`, op: 'Constant', domain: '', inputs: [], outputs: [out], attrs: { value: new Tensor('int64', BigInt64Array.of(0n), [1]) } });
    return out;
  }
  unsq(scope, x) {
    return this.op(scope, 'Unsqueeze', [x, this.axes0()]);
  }
  /** scalar dim `i` of x's shape (Shape → Gather with a 0-d index) */
  dim(scope, x, i) {
    return this.op(scope, 'Gather', [this.op(scope, 'Shape', [x]), this.i64(scope, [i], [])], { axis: 0 });
  }
  /** a float32 initializer: uniform in ±scale (random), or filled with `fill` */
  weight(name, dims, scale, fill) {
    const n = dims.reduce((a, d) => a * d, 1);
    const data = new Float32Array(n);
    if (fill !== undefined) data.fill(fill);
    else for (let i = 0; i < n; i++) data[i] = (this.rand() * 2 - 1) * scale;
    this.g.initializers.set(name, new Tensor('float32', data, dims));
    return name;
  }
  params() {
    let p = 0;
    for (const t of this.g.initializers.values()) p += t.size;
    return p;
  }
}

function checkConfig(c) {
  for (const k of ['d', 'layers', 'heads', 'ffn', 'vocab']) if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`make-transformer: --${k} must be a positive integer, got ${c[k]}`);
  if (c.d % c.heads) throw new Error(`make-transformer: d ${c.d} is not a multiple of heads ${c.heads}`);
}

/**
 * GELU as PyTorch exports nn.GELU(): x · (erf(x / √2) + 1) · 0.5; with kind 'tanh' nn.GELU(approximate='tanh') as
 * torch.onnx writes it at opset 17: 0.5 · (x · (1 + tanh(√(2/π) · (x + 0.044715 · x·x·x)))).
 */
function gelu(b, s, x, kind = 'erf') {
  if (kind === 'tanh') {
    const cube = b.op(s, 'Mul', [x, b.op(s, 'Mul', [x, x])]);
    const inner = b.op(s, 'Mul', [b.f32(s, Math.sqrt(2 / Math.PI)), b.op(s, 'Add', [x, b.op(s, 'Mul', [b.f32(s, 0.044715), cube])])]);
    return b.op(s, 'Mul', [b.f32(s, 0.5), b.op(s, 'Mul', [x, b.op(s, 'Add', [b.f32(s, 1), b.op(s, 'Tanh', [inner])])])]);
  }
  const e = b.op(s, 'Erf', [b.op(s, 'Div', [x, b.f32(s, Math.SQRT2)])]);
  return b.op(s, 'Mul', [b.op(s, 'Mul', [x, b.op(s, 'Add', [e, b.f32(s, 1)])]), b.f32(s, 0.5)]);
}

/** file-name suffix of the variant options (none for the defaults: post-norm, erf GELU, attention mask) */
function variant({ norm = 'post', gelu: g = 'erf', mask = true }) {
  return `${norm === 'pre' ? '_pre' : ''}${g === 'tanh' ? '_tanh' : ''}${mask ? '' : '_nomask'}`;
}

/** Linear as exported: MatMul by the [in, out] weight, then Add(bias, ·) */
function linear(b, s, x, name, din, dout) {
  const w = b.weight(`onnx::MatMul_${name}`, [din, dout], 1 / Math.sqrt(din));
  const bias = b.weight(`${name}.bias`, [dout], 0.02);
  return b.op(s, 'Add', [bias, b.op(s, 'MatMul', [x, w])]);
}

function layerNorm(b, s, x, name, d) {
  return b.op(s, 'LayerNormalization', [x, b.weight(`${name}.weight`, [d], 0, 1), b.weight(`${name}.bias`, [d], 0, 0)], { axis: -1, epsilon: 9.999999747378752e-6 });
}

/**
 * nn.TransformerEncoder(batch_first=True, norm_first=False, activation='gelu') over token + learned position
 * embeddings, src_key_padding_mask = (attention_mask == 0), then LayerNorm and the mask-weighted mean over tokens.
 * Variants: norm 'pre' (norm_first=True: x + attn(norm1(x)), then + ffn(norm2(·))), gelu 'tanh' (approximate='tanh'),
 * mask false (no attention_mask input and no key padding: the plain mean over tokens, ReduceMean).
 */
export function makeEncoder({ d = 512, layers = 6, heads = 8, ffn = 4 * d, vocab = 1000, maxPos = 512, seed = 1, norm = 'post', gelu: act = 'erf', mask: useMask = true } = {}) {
  checkConfig({ d, layers, heads, ffn, vocab });
  const b = new Builder(seed);
  const g = b.g;
  g.name = `encoder_d${d}_l${layers}${variant({ norm, gelu: act, mask: useMask })}`;
  const hd = d / heads;
  g.inputs = [{ name: 'input_ids', type: { dtype: 'int64', shape: ['batch', 'seq'] } }];
  if (useMask) g.inputs.push({ name: 'attention_mask', type: { dtype: 'int64', shape: ['batch', 'seq'] } });
  g.outputs = [{ name: 'embedding', type: { dtype: 'float32', shape: ['batch', d] } }];
  const emb = b.op('/emb', 'Gather', [b.weight('emb.weight', [vocab, d], 1), 'input_ids']);
  const seq = b.dim('', 'input_ids', 1);
  const pos = b.op('', 'Slice', [b.weight('pos', [1, maxPos, d], 0.02), b.i64('', [0]), b.unsq('', seq), b.i64('', [1]), b.i64('', [1])]);
  let x = b.op('', 'Add', [emb, pos]);
  const padding = useMask ? b.op('', 'Equal', ['attention_mask', b.i64('', [0], [])]) : undefined;
  for (let l = 0; l < layers; l++) {
    const s = `/enc/layers.${l}/self_attn`;
    const xin = norm === 'pre' ? layerNorm(b, `/enc/layers.${l}/norm1`, x, `enc.layers.${l}.norm1`, d) : x;
    const t = b.op(s, 'Transpose', [xin], { perm: [1, 0, 2] });
    const tgt = b.dim(s, t, 0);
    const bsz = b.dim(s, t, 1);
    const embed = b.dim(s, t, 2);
    const headDim = b.op(s, 'Cast', [b.op(s, 'Cast', [b.op(s, 'Div', [embed, b.i64(s, [heads], [])])], { to: 7 })], { to: 7 });
    const inProj = b.op(s, 'Add', [b.weight(`enc.layers.${l}.self_attn.in_proj_bias`, [3 * d], 0.02), b.op(s, 'MatMul', [t, b.weight(`onnx::MatMul_in${l}`, [d, 3 * d], 1 / Math.sqrt(d))])]);
    const last = b.i64(s, [-1]);
    const width = b.op(s, 'Gather', [b.op(s, 'Shape', [inProj]), last], { axis: 0 });
    const start = b.i64(s, [0]);
    const third = b.op(s, 'Div', [b.op(s, 'Add', [width, b.i64(s, [2])]), b.i64(s, [3])]);
    const e1 = b.op(s, 'Mul', [third, b.i64(s, [1])]);
    const q0 = b.op(s, 'Slice', [inProj, start, e1, last]);
    const e2 = b.op(s, 'Mul', [third, b.i64(s, [2])]);
    const k0 = b.op(s, 'Slice', [inProj, e1, e2, last]);
    const e3 = b.op(s, 'Mul', [third, b.i64(s, [3])]);
    const v0 = b.op(s, 'Slice', [inProj, e2, e3, last]);
    const bh = b.op(s, 'Mul', [bsz, b.i64(s, [heads], [])]);
    const q = b.op(s, 'Transpose', [b.op(s, 'Reshape', [q0, b.op(s, 'Concat', [b.unsq(s, tgt), b.unsq(s, bh), b.unsq(s, headDim)], { axis: 0 })], { allowzero: 0 })], { perm: [1, 0, 2] });
    const kLen = b.dim(s, k0, 0);
    const kr = b.op(s, 'Reshape', [k0, b.op(s, 'Concat', [b.unsq(s, kLen), b.unsq(s, bh), b.unsq(s, headDim)], { axis: 0 })], { allowzero: 0 });
    const k = b.op(s, 'Transpose', [kr], { perm: [1, 0, 2] });
    const vLen = b.dim(s, v0, 0);
    const vr = b.op(s, 'Reshape', [v0, b.op(s, 'Concat', [b.unsq(s, vLen), b.unsq(s, bh), b.unsq(s, headDim)], { axis: 0 })], { allowzero: 0 });
    const v = b.op(s, 'Transpose', [vr], { perm: [1, 0, 2] });
    const qs = b.op(s, 'Div', [q, b.f32(s, Math.sqrt(hd))]);
    const kt = b.op(s, 'Transpose', [kr], { perm: [1, 2, 0] });
    let scores;
    if (useMask) {
    const srcLen = b.dim(s, k, 1);
    const m4 = b.op(s, 'Reshape', [padding, b.op(s, 'Concat', [b.unsq(s, bsz), b.i64(s, [1]), b.i64(s, [1]), b.unsq(s, srcLen)], { axis: 0 })], { allowzero: 0 });
    const expandTo = b.i64(s, [-1, heads, -1, -1]);
    const ones = b.op(s, 'ConstantOfShape', [b.i64(s, [4])], { value: new Tensor('int64', BigInt64Array.of(1n), [1]) });
    const minus = b.op(s, 'Mul', [ones, b.i64(s, [-1], [])]);
    const shape = b.op(s, 'Where', [b.op(s, 'Equal', [b.i64(s, [-1, heads, -1, -1]), minus]), ones, expandTo]);
    const expanded = b.op(s, 'Expand', [m4, shape]);
    const mask = b.op(s, 'Reshape', [expanded, b.op(s, 'Concat', [b.unsq(s, bh), b.i64(s, [1]), b.unsq(s, srcLen)], { axis: 0 })], { allowzero: 0 });
    const zeros = b.op(s, 'ConstantOfShape', [b.op(s, 'Shape', [mask])], { value: new Tensor('float32', Float32Array.of(0), [1]) });
    const bias = b.op(s, 'Where', [b.op(s, 'Cast', [mask], { to: 9 }), b.f32(s, -Infinity), zeros]);
    scores = b.op(s, 'Add', [b.op(s, 'Mul', [b.op(s, 'MatMul', [qs, kt]), b.f32(s, 1)]), b.op(s, 'Mul', [bias, b.f32(s, 1)])]);
    } else scores = b.op(s, 'MatMul', [qs, kt]);
    const attn = b.op(s, 'Transpose', [b.op(s, 'MatMul', [b.op(s, 'Softmax', [scores], { axis: -1 }), v])], { perm: [1, 0, 2] });
    const flat = b.op(s, 'Reshape', [attn, b.op(s, 'Concat', [b.unsq(s, b.op(s, 'Mul', [tgt, bsz])), b.unsq(s, embed)], { axis: 0 })], { allowzero: 0 });
    const gemm = b.op(s, 'Gemm', [flat, b.weight(`enc.layers.${l}.self_attn.out_proj.weight`, [d, d], 1 / Math.sqrt(d)), b.weight(`enc.layers.${l}.self_attn.out_proj.bias`, [d], 0.02)], { alpha: 1, beta: 1, transB: 1 });
    const outDim = b.dim(s, gemm, 1);
    const back = b.op(s, 'Transpose', [b.op(s, 'Reshape', [gemm, b.op(s, 'Concat', [b.unsq(s, tgt), b.unsq(s, bsz), b.unsq(s, outDim)], { axis: 0 })], { allowzero: 0 })], { perm: [1, 0, 2] });
    const L = `/enc/layers.${l}`;
    if (norm === 'pre') {
      const h1 = b.op(L, 'Add', [x, back]);
      const f = gelu(b, L, linear(b, `${L}/linear1`, layerNorm(b, `${L}/norm2`, h1, `enc.layers.${l}.norm2`, d), `enc.layers.${l}.linear1`, d, ffn), act);
      x = b.op(L, 'Add', [h1, linear(b, `${L}/linear2`, f, `enc.layers.${l}.linear2`, ffn, d)]);
      continue;
    }
    const n1 = layerNorm(b, `${L}/norm1`, b.op(L, 'Add', [x, back]), `enc.layers.${l}.norm1`, d);
    const h = gelu(b, L, linear(b, `${L}/linear1`, n1, `enc.layers.${l}.linear1`, d, ffn), act);
    x = layerNorm(b, `${L}/norm2`, b.op(L, 'Add', [n1, linear(b, `${L}/linear2`, h, `enc.layers.${l}.linear2`, ffn, d)]), `enc.layers.${l}.norm2`, d);
  }
  if (!useMask) {
    g.nodes.push({ name: '/ReduceMean', op: 'ReduceMean', domain: '', inputs: [layerNorm(b, '/norm', x, 'norm', d), b.i64('', [1])], outputs: ['embedding'], attrs: { keepdims: 0 } }); // axes as input: the in-memory (opset 18) form; the writer raises the opset to match
    return { graph: g, params: b.params() };
  }
  const m = b.op('', 'Cast', [b.op('', 'Unsqueeze', ['attention_mask', b.i64('', [-1])])], { to: 1 });
  const y = b.op('', 'Mul', [layerNorm(b, '/norm', x, 'norm', d), m]);
  const axis = b.i64('', [1]);
  const num = b.op('', 'ReduceSum', [y, axis], { keepdims: 0 });
  const den = b.op('', 'ReduceSum', [m, axis], { keepdims: 0 });
  g.nodes.push({ name: '/Div', op: 'Div', domain: '', inputs: [num, den], outputs: ['embedding'], attrs: {} });
  return { graph: g, params: b.params() };
}

/**
 * Pre-norm decoder-only LM (token + learned positions, causal self-attention with an explicit KV cache, GELU MLP,
 * final LayerNorm, bias-free head) as exported with past_key_i / past_value_i inputs and present_* outputs.
 */
export function makeDecoder({ d = 512, layers = 6, heads = 8, ffn = 4 * d, vocab = 256, maxPos = 1024, seed = 2, gelu: act = 'erf' } = {}) {
  checkConfig({ d, layers, heads, ffn, vocab });
  const b = new Builder(seed);
  const g = b.g;
  g.name = `decoder_kv_d${d}_l${layers}${variant({ gelu: act })}`;
  const hd = d / heads;
  g.inputs = [{ name: 'input_ids', type: { dtype: 'int64', shape: ['batch', 'seq'] } }];
  g.outputs = [{ name: 'logits', type: { dtype: 'float32', shape: ['batch', 'seq', vocab] } }];
  for (let l = 0; l < layers; l++)
    for (const kv of ['key', 'value']) {
      g.inputs.push({ name: `past_${kv}_${l}`, type: { dtype: 'float32', shape: ['batch', heads, 'past', hd] } });
      g.outputs.push({ name: `present_${kv}_${l}`, type: { dtype: 'float32', shape: ['batch', heads, 'total', hd] } });
    }
  const past = b.dim('', 'past_key_0', 2);
  const tok = b.op('/tok', 'Gather', [b.weight('tok.weight', [vocab, d], 1), 'input_ids']);
  const seq = b.dim('', 'input_ids', 1);
  const end = b.op('', 'Add', [past, seq]);
  const range = b.op('', 'Range', [b.op('', 'Cast', [past], { to: 7 }), b.op('', 'Cast', [end], { to: 7 }), b.i64('', [1], [])]);
  let x = b.op('', 'Add', [tok, b.op('/pos', 'Gather', [b.weight('pos.weight', [maxPos, d], 0.02), range])]);
  for (let l = 0; l < layers; l++) {
    const s = `/blocks.${l}`;
    const B = b.dim(s, x, 0);
    const S = b.dim(s, x, 1);
    const qkv = linear(b, `${s}/qkv`, layerNorm(b, `${s}/ln1`, x, `blocks.${l}.ln1`, d), `blocks.${l}.qkv`, d, 3 * d);
    const [q0, k0, v0] = b.op(s, 'Split', [qkv, b.i64(s, [d, d, d])], { axis: 2 }, 3);
    const heads4 = () => b.op(s, 'Concat', [b.unsq(s, B), b.unsq(s, S), b.i64(s, [heads]), b.i64(s, [hd])], { axis: 0 });
    const sq = heads4();
    const sk = heads4();
    const sv = heads4();
    const q = b.op(s, 'Transpose', [b.op(s, 'Reshape', [q0, sq], { allowzero: 0 })], { perm: [0, 2, 1, 3] });
    const kNew = b.op(s, 'Transpose', [b.op(s, 'Reshape', [k0, sk], { allowzero: 0 })], { perm: [0, 2, 1, 3] });
    const presentK = `present_key_${l}`;
    g.nodes.push({ name: b.name(s, 'Concat'), op: 'Concat', domain: '', inputs: [`past_key_${l}`, kNew], outputs: [presentK], attrs: { axis: 2 } });
    const vNew = b.op(s, 'Transpose', [b.op(s, 'Reshape', [v0, sv], { allowzero: 0 })], { perm: [0, 2, 1, 3] });
    const presentV = `present_value_${l}`;
    g.nodes.push({ name: b.name(s, 'Concat'), op: 'Concat', domain: '', inputs: [`past_value_${l}`, vNew], outputs: [presentV], attrs: { axis: 2 } });
    const P = b.op(s, 'Sub', [b.dim(s, presentK, 2), S]);
    const scores = b.op(s, 'Div', [b.op(s, 'MatMul', [q, b.op(s, 'Transpose', [presentK], { perm: [0, 1, 3, 2] })]), b.f32(s, Math.sqrt(hd))]);
    const total = b.op(s, 'Add', [P, S]);
    const ones = b.op(s, 'ConstantOfShape', [b.op(s, 'Concat', [b.unsq(s, S), b.unsq(s, total)], { axis: 0 })], { value: new Tensor('float32', Float32Array.of(1), [1]) });
    const causal = b.op(s, 'Cast', [b.op(s, 'Not', [b.op(s, 'Cast', [b.op(s, 'Trilu', [ones, P], { upper: 0 })], { to: 9 })])], { to: 9 });
    const masked = b.op(s, 'Where', [causal, b.f32(s, -Infinity), scores]);
    const ctx = b.op(s, 'Transpose', [b.op(s, 'MatMul', [b.op(s, 'Softmax', [masked], { axis: -1 }), presentV])], { perm: [0, 2, 1, 3] });
    const flat = b.op(s, 'Reshape', [ctx, b.op(s, 'Concat', [b.unsq(s, B), b.unsq(s, S), b.i64(s, [d])], { axis: 0 })], { allowzero: 0 });
    const h = b.op(s, 'Add', [x, linear(b, `${s}/proj`, flat, `blocks.${l}.proj`, d, d)]);
    const f = gelu(b, s, linear(b, `${s}/fc`, layerNorm(b, `${s}/ln2`, h, `blocks.${l}.ln2`, d), `blocks.${l}.fc`, d, ffn), act);
    x = b.op(s, 'Add', [h, linear(b, `${s}/out`, f, `blocks.${l}.out`, ffn, d)]);
  }
  const y = layerNorm(b, '/ln', x, 'ln', d);
  g.nodes.push({ name: '/head/MatMul', op: 'MatMul', domain: '', inputs: [y, b.weight('onnx::MatMul_head', [d, vocab], 1 / Math.sqrt(d))], outputs: ['logits'], attrs: {} });
  return { graph: g, params: b.params() };
}

export const PRESETS = [
  { d: 512, layers: 6, heads: 8, ffn: 2048 },
  { d: 768, layers: 12, heads: 12, ffn: 3072 },
];

/**
 * Decoders larger than PRESETS for the step bench (`--large`: decoder only, one step after `past` cached rows): a
 * d1024 / 12-layer / 16-head model (151 M parameters, 0.6 GB of float32 weights streamed per token) after 256 rows,
 * and the d512 one after 512 rows (a step whose cache traffic is a sixth of its weight traffic).
 */
export const STEP_PRESETS = [
  { d: 1024, layers: 12, heads: 16, ffn: 4096, past: 256 },
  { d: 512, layers: 6, heads: 8, ffn: 2048, past: 512 },
];

/**
 * Other shapes a user's export may have (`--extra`): wider and narrower models with other head counts, and the
 * encoder variants (pre-LN, tanh GELU, no attention mask). The decoder ignores norm/mask (it is pre-norm and causal).
 */
export const EXTRA_PRESETS = [
  { d: 1024, layers: 8, heads: 16, ffn: 4096 },
  { d: 384, layers: 6, heads: 6, ffn: 1536 },
  { d: 512, layers: 6, heads: 8, ffn: 2048, norm: 'pre', gelu: 'tanh', mask: false },
  { d: 768, layers: 4, heads: 12, ffn: 3072, norm: 'pre' },
  { d: 512, layers: 6, heads: 8, ffn: 2048, gelu: 'tanh' },
];

/** File names of a config's encoder and decoder (as writeTransformers writes them). */
export function fileNames(c) {
  return { encoder: `encoder_d${c.d}_l${c.layers}${variant(c)}.onnx`, decoder: `decoder_kv_d${c.d}_l${c.layers}${variant({ gelu: c.gelu })}.onnx` };
}

/** Write the encoder and/or decoder of each config into `out`; returns [{ kind, path, params, config }]. */
export function writeTransformers(out, configs = PRESETS, kind = 'both') {
  mkdirSync(out, { recursive: true });
  const written = [];
  const seen = new Set();
  for (const c of configs) {
    for (const k of kind === 'both' ? ['encoder', 'decoder'] : [kind]) {
      const path = join(out, fileNames(c)[k]);
      if (seen.has(path)) continue; // decoders of encoder-only variants
      seen.add(path);
      const { graph, params } = k === 'encoder' ? makeEncoder(c) : makeDecoder(c);
      writeFileSync(path, writeOnnx(graph));
      written.push({ kind: k, path, params, config: c });
    }
  }
  return written;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  const opt = (k, dflt) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const out = opt('out', join('tmp', 'transformer'));
  const kind = opt('kind', argv.includes('--step') ? 'decoder' : 'both');
  if (!['encoder', 'decoder', 'both'].includes(kind)) throw new Error(`make-transformer: --kind must be encoder, decoder or both, got ${kind}`);
  let configs = argv.includes('--extra') ? EXTRA_PRESETS : argv.includes('--step') ? STEP_PRESETS : PRESETS;
  if (opt('d')) {
    const d = Number(opt('d'));
    const norm = opt('norm', 'post');
    const gelu = opt('gelu', 'erf');
    if (!['pre', 'post'].includes(norm)) throw new Error(`make-transformer: --norm must be pre or post, got ${norm}`);
    if (!['erf', 'tanh'].includes(gelu)) throw new Error(`make-transformer: --gelu must be erf or tanh, got ${gelu}`);
    configs = [{ d, layers: Number(opt('layers', 6)), heads: Number(opt('heads', Math.max(1, d / 64))), ffn: Number(opt('ffn', 4 * d)), norm, gelu, mask: !argv.includes('--no-mask'), ...(opt('vocab') ? { vocab: Number(opt('vocab')) } : {}), ...(opt('seed') ? { seed: Number(opt('seed')) } : {}) }];
  }
  for (const w of writeTransformers(out, configs, kind)) console.log(`${w.path}  ${w.kind} d${w.config.d} l${w.config.layers} h${w.config.heads} ffn${w.config.ffn}  ${(w.params / 1e6).toFixed(1)} M parameters`);
}
