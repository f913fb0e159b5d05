// ONNX opset-23 Attention, RMSNormalization and RotaryEmbedding on the wasm kernels (src/kernels/attention.ts):
// against onnxruntime-node on realistic shapes and fast-check shapes, every node on a kernel. Rules from the ONNX
// operator docs quoted beside the checks (the references are also locked by the node conformance tests).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { compareWithOrt, feedsOf, i64, type OIn, randT, rng } from '../helpers/ort-oracle.js';

function g23(op: string, ins: OIn[], attrs: Record<string, unknown>, outs: string[]): Graph {
  const g = new Graph();
  g.opsets = { '': 23 };
  for (const i of ins) {
    if (i === '') continue;
    if ('init' in i) g.initializers.set(i.name, i.init);
    else g.inputs.push({ name: i.name, type: { dtype: i.feed.type, shape: [...i.feed.dims] } });
  }
  g.nodes.push({ name: 'n0', op, domain: '', inputs: ins.map((i) => (i === '' ? '' : i.name)), outputs: outs, attrs: attrs as Node['attrs'] });
  for (const o of outs) if (o) g.outputs.push({ name: o, type: { dtype: 'float32' } });
  return g;
}

async function check(op: string, ins: OIn[], attrs: Record<string, unknown>, outs: string[], what: string) {
  const { ref, wasm, fallbacks } = await compareWithOrt(g23(op, ins, attrs, outs), feedsOf(ins), outs.filter((o) => o));
  expect(ref, `${what} reference`).toBeLessThan(1e-4);
  expect(wasm, `${what} wasm`).toBeLessThan(1e-4);
  expect(fallbacks, `${what} on kernels`).toEqual([]);
}

describe('opset-23 transformer ops on kernels', () => {
  // Attention: Q/K/V "(batch_size, q_num_heads, q_sequence_length, head_size)" or 3-D with q_num_heads /
  // kv_num_heads; "attn_mask ... broadcastable to (batch_size, q_num_heads, q_sequence_length,
  // total_sequence_length)"; "present_key = concat(past_key, K)"; is_causal; GQA when kv heads < q heads
  it('Attention: 4-D / 3-D, GQA, bool / float masks, causal with past, softcap', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 }), fc.constantFrom([2, 2], [4, 2], [4, 1]), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 4 }), fc.constantFrom(8, 16), fc.boolean(), fc.integer({ min: 0, max: 2 }), fc.boolean(), fc.boolean(), fc.integer(), async (B, [N, Nkv], S, P, hs, three, maskKind, causal, softcap, seed) => {
        const r = rng(seed);
        const L = S;
        const T = P + L;
        const ins: OIn[] = three
          ? [{ name: 'q', feed: randT(r, [B, S, N * hs], 2) }, { name: 'k', feed: randT(r, [B, L, Nkv * hs], 2) }, { name: 'v', feed: randT(r, [B, L, Nkv * hs], 2) }]
          : [{ name: 'q', feed: randT(r, [B, N, S, hs], 2) }, { name: 'k', feed: randT(r, [B, Nkv, L, hs], 2) }, { name: 'v', feed: randT(r, [B, Nkv, L, hs], 2) }];
        if (maskKind === 1) ins.push({ name: 'm', feed: randT(r, [S, T], 4) });
        else if (maskKind === 2) ins.push({ name: 'm', feed: new Tensor('bool', Uint8Array.from({ length: B * S * T }, (_, i) => (i % T === 0 || r() > -0.2 ? 1 : 0)), [B, 1, S, T]) });
        else ins.push('');
        if (P) ins.push({ name: 'pk', feed: randT(r, [B, Nkv, P, hs]) }, { name: 'pv', feed: randT(r, [B, Nkv, P, hs]) });
        while (ins[ins.length - 1] === '') ins.pop();
        const attrs: Record<string, unknown> = { is_causal: causal ? 1 : 0 };
        if (three) Object.assign(attrs, { q_num_heads: N, kv_num_heads: Nkv });
        if (softcap) attrs.softcap = 2;
        await check('Attention', ins, attrs, P ? ['y', 'pk_out', 'pv_out'] : ['y'], `Attention B${B} ${N}/${Nkv} S${S} P${P} mask${maskKind}`);
      }),
      { numRuns: 25 },
    );
  });

  it('realistic shapes: 1×128 tokens, 4 heads of 64 (encoder self-attention), and RMSNormalization / RotaryEmbedding over it', async () => {
    const r = rng(11);
    await check('Attention', [{ name: 'q', feed: randT(r, [1, 4, 128, 64], 2) }, { name: 'k', feed: randT(r, [1, 4, 128, 64], 2) }, { name: 'v', feed: randT(r, [1, 4, 128, 64]) }], {}, ['y'], 'Attention 1×4×128×64');
    // RMSNormalization: "Normalized = Div(X, RMS); Y = Mul(Normalized, Scale)" over the axes from `axis`
    await check('RMSNormalization', [{ name: 'x', feed: randT(r, [1, 128, 256], 3) }, { name: 's', init: randT(r, [256], 2) }], { epsilon: 1e-6 }, ['y'], 'RMSNormalization');
    // RotaryEmbedding: "cos_cache ... (max_position_id_plus_1, head_size / 2)" indexed by position_ids
    const cos = new Tensor('float32', Float32Array.from({ length: 256 * 32 }, (_, i) => Math.cos(i * 0.01)), [256, 32]);
    const sin = new Tensor('float32', Float32Array.from({ length: 256 * 32 }, (_, i) => Math.sin(i * 0.01)), [256, 32]);
    for (const interleaved of [0, 1]) await check('RotaryEmbedding', [{ name: 'x', feed: randT(r, [1, 4, 128, 64], 2) }, { name: 'cos', init: cos }, { name: 'sin', init: sin }, { name: 'p', feed: i64(Array.from({ length: 128 }, (_, i) => i + 7), [1, 128]) }], { interleaved }, ['y'], 'RotaryEmbedding');
  });
});
