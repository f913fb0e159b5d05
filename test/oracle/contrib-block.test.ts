// End to end: transformer blocks written with com.microsoft contrib ops the way onnxruntime's transformers
// optimizer and Optimum / transformers.js exports write them, run by edgeq (every node on a kernel) and by
// onnxruntime-node, outputs equal within rel 1e-4.
//  - BERT-style encoder layer: Attention (packed QKV weights, raw 2-D mask) → MatMul → SkipLayerNormalization
//    (+ bias) → MatMul → BiasGelu / FastGelu → MatMul → SkipLayerNormalization.
//  - LLaMA-style decoder layer, one step with a KV cache: SimplifiedLayerNormalization → MatMul Q/K/V →
//    GroupQueryAttention (kv heads < q heads, rotary, past/present) → MatMul → SkipSimplifiedLayerNormalization →
//    MatMul → QuickGelu (alpha 1 = SiLU) → MatMul; and a MultiHeadAttention + RotaryEmbedding variant.
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { i32, i64, ortRun, randT, relErr, rng } from '../helpers/ort-oracle.js';

const MS = 'com.microsoft';

class B {
  g = new Graph();
  r: () => number;
  n = 0;
  constructor(seed: number) {
    this.r = rng(seed);
    this.g.opsets = { '': 17, 'com.microsoft': 1 };
  }
  w(name: string, dims: number[], amp = 1) {
    this.g.initializers.set(name, randT(this.r, dims, amp));
    return name;
  }
  input(name: string, t: Tensor) {
    this.g.inputs.push({ name, type: { dtype: t.type, shape: [...t.dims] } });
    return name;
  }
  node(op: string, inputs: string[], attrs: Record<string, unknown> = {}, nOut = 1, domain = MS): string[] {
    const outs = Array.from({ length: nOut }, (_, i) => `${op}_${this.n}_${i}`);
    this.g.nodes.push({ name: `${op}_${this.n++}`, op, domain, inputs, outputs: outs, attrs: attrs as Node['attrs'] });
    return outs;
  }
  mm(x: string, k: number, n: number) {
    return this.node('MatMul', [x, this.w(`W${this.n}`, [k, n], 2 / Math.sqrt(k))], {}, 1, '')[0]!;
  }
  out(...names: string[]) {
    for (const o of names) this.g.outputs.push({ name: o, type: { dtype: 'float32' } });
  }
}

async function both(g: Graph, feeds: Record<string, Tensor>, outs: string[]) {
  const want = await ortRun(g, feeds);
  const s = await InferenceSession.create(g, { profile: true });
  const got = await s.run(feeds);
  const prof = s.profile();
  return { errs: outs.map((o) => relErr(got[o]!.data as Float32Array, want[o]!)), prof, fallbacks: [...s.executor.fallbacks].map(([n, w]) => `${n.name}: ${w}`) };
}

describe('transformer blocks from contrib ops match onnxruntime-node, all on kernels', () => {
  // ContribOperators.md Attention: "Merged Q/K/V weights with shape (input_hidden_size, hidden_size + hidden_size +
  // v_hidden_size)"; SkipLayerNormalization output 3 "input_skip_bias_sum"; BiasGelu "takes the sum of input A and
  // bias input B as the input of Gelu activation"
  it('BERT-style encoder layer, 1×128 tokens, d=256, 4 heads, padded batch of 2 with a raw mask', async () => {
    for (const [Bt, S, gelu] of [[1, 128, 'BiasGelu'], [2, 48, 'FastGelu']] as const) {
      const D = 256;
      const F = 4 * D;
      const b = new B(S);
      const xt = randT(b.r, [Bt, S, D], 2);
      const mask = i32(Array.from({ length: Bt * S }, (_, i) => (i % S < S - 7 * (Math.floor(i / S) % 2) ? 1 : 0)), [Bt, S]);
      const x = b.input('x', xt);
      const m = b.input('mask', mask);
      const [att] = b.node('Attention', [x, b.w('Wqkv', [D, 3 * D], 2 / Math.sqrt(D)), b.w('bqkv', [3 * D], 0.2), m], { num_heads: 4 });
      const o = b.mm(att!, D, D);
      const [ln1] = b.node('SkipLayerNormalization', [o, x, b.w('g1', [D], 2), b.w('be1', [D]), b.w('bo', [D], 0.2)], { epsilon: 1e-12 });
      const h = b.mm(ln1!, D, F);
      const [act] = b.node(gelu, [h, b.w('b1', [F], 0.2)]);
      const f = b.mm(act!, F, D);
      const [y, , , sum] = b.node('SkipLayerNormalization', [f, ln1!, b.w('g2', [D], 2), b.w('be2', [D]), b.w('b2', [D], 0.2)], { epsilon: 1e-12 }, 4);
      b.g.nodes[b.g.nodes.length - 1]!.outputs[1] = '';
      b.g.nodes[b.g.nodes.length - 1]!.outputs[2] = '';
      b.out(y!, sum!);
      const { errs, prof, fallbacks } = await both(b.g, { x: xt, mask }, [y!, sum!]);
      for (const e of errs) expect(e, `${gelu} B${Bt} S${S}`).toBeLessThan(1e-4);
      expect(fallbacks).toEqual([]);
      expect(prof.reference_share).toBe(0);
      expect(prof.ops.map((o) => o.op)).toContain('com.microsoft.Attention');
    }
  });

  // GroupQueryAttention: "seqlens_k ... (total_sequence_lengths - 1)"; past/present BNSH; do_rotary with
  // "cos_cache: 2D tensor with shape (max_sequence_length, head_size / 2)"; QuickGelu "x * Sigmoid(alpha * x)"
  it('LLaMA-style decoder layer: a prompt of 32 tokens, then one step against the 32-token cache (GQA 8/2 heads, rotary)', async () => {
    const D = 256;
    const N = 8;
    const Nkv = 2;
    const hs = D / N;
    const F = 512;
    const build = (S: number, P: number) => {
      const b = new B(77); // same seed: same weights in both graphs
      const x = b.input('x', randT(rng(1), [1, S, D]));
      const feeds: Record<string, Tensor> = { x: randT(rng(S + P), [1, S, D], 2), sk: i32([P + S - 1]), tl: i32([P + S], []) };
      b.input('sk', feeds.sk!);
      b.input('tl', feeds.tl!);
      const [n1] = b.node('SimplifiedLayerNormalization', [x, b.w('g1', [D], 2)], { epsilon: 1e-6 }, 1, '');
      const q = b.mm(n1!, D, D);
      const k = b.mm(n1!, D, Nkv * hs);
      const v = b.mm(n1!, D, Nkv * hs);
      const rows = 64;
      const cos = new Float32Array(rows * (hs / 2));
      const sin = new Float32Array(rows * (hs / 2));
      for (let p = 0; p < rows; p++)
        for (let i = 0; i < hs / 2; i++) {
          cos[p * (hs / 2) + i] = Math.cos(p / 10000 ** ((2 * i) / hs));
          sin[p * (hs / 2) + i] = Math.sin(p / 10000 ** ((2 * i) / hs));
        }
      b.g.initializers.set('cos', new Tensor('float32', cos, [rows, hs / 2]));
      b.g.initializers.set('sin', new Tensor('float32', sin, [rows, hs / 2]));
      let pk = '';
      let pv = '';
      if (P) {
        feeds.pk = randT(rng(5), [1, Nkv, P, hs]);
        feeds.pv = randT(rng(6), [1, Nkv, P, hs]);
        pk = b.input('pk', feeds.pk);
        pv = b.input('pv', feeds.pv);
      }
      const [att, presK, presV] = b.node('GroupQueryAttention', [q, k, v, pk, pv, 'sk', 'tl', 'cos', 'sin'], { num_heads: N, kv_num_heads: Nkv, do_rotary: 1 }, 3);
      const o = b.mm(att!, D, D);
      const [n2, , , res] = b.node('SkipSimplifiedLayerNormalization', [o, x, b.w('g2', [D], 2)], { epsilon: 1e-6 }, 4);
      b.g.nodes[b.g.nodes.length - 1]!.outputs[1] = '';
      b.g.nodes[b.g.nodes.length - 1]!.outputs[2] = '';
      const up = b.mm(n2!, D, F);
      const [act] = b.node('QuickGelu', [up], { alpha: 1 });
      const down = b.mm(act!, F, D);
      const [y] = b.node('Add', [down, res!], {}, 1, '');
      b.out(y!, presK!, presV!);
      return { g: b.g, feeds, outs: [y!, presK!, presV!] };
    };
    for (const [S, P] of [[32, 0], [1, 32]]) {
      const { g, feeds, outs } = build(S, P);
      const { errs, prof, fallbacks } = await both(g, feeds, outs);
      for (const e of errs) expect(e, `S${S} P${P}`).toBeLessThan(1e-4);
      expect(fallbacks).toEqual([]);
      expect(prof.reference_share).toBe(0);
    }
  });

  it('MultiHeadAttention + RotaryEmbedding (4-D position ids) decoder step with past key/value', async () => {
    const D = 128;
    const N = 4;
    const hs = D / N;
    const b = new B(3);
    const feeds: Record<string, Tensor> = { x: randT(rng(9), [2, 1, D], 2), pos: i64([16, 16], [2, 1]), pk: randT(rng(10), [2, N, 16, hs]), pv: randT(rng(11), [2, N, 16, hs]) };
    const x = b.input('x', feeds.x!);
    b.input('pos', feeds.pos!);
    b.input('pk', feeds.pk!);
    b.input('pv', feeds.pv!);
    b.w('cos', [32, hs / 2]);
    b.w('sin', [32, hs / 2]);
    const [qr] = b.node('RotaryEmbedding', [b.mm(x, D, D), 'pos', 'cos', 'sin'], { num_heads: N });
    const [kr] = b.node('RotaryEmbedding', [b.mm(x, D, D), 'pos', 'cos', 'sin'], { num_heads: N });
    const [att, pk2, pv2] = b.node('MultiHeadAttention', [qr!, kr!, b.mm(x, D, D), b.w('bqkv', [3 * D], 0.2), '', '', 'pk', 'pv'], { num_heads: N }, 3);
    const [y] = b.node('FastGelu', [b.mm(att!, D, D), b.w('bo', [D])]);
    b.out(y!, pk2!, pv2!);
    const { errs, fallbacks, prof } = await both(b.g, feeds, [y!, pk2!, pv2!]);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
    expect(fallbacks).toEqual([]);
    expect(prof.reference_share).toBe(0);
  });
});
