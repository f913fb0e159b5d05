// com.microsoft RotaryEmbedding, Attention, MultiHeadAttention, GroupQueryAttention (src/ops/contrib-attention.ts)
// against onnxruntime-node on the TS reference and the wasm kernels (src/kernels/attention.ts); rel 1e-4.
// Rules quoted from onnxruntime's docs/ContribOperators.md beside each check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { compareWithOrt, feedsOf, i32, i64, type OIn, oneNode, randT, rng } from '../helpers/ort-oracle.js';

const MS = 'com.microsoft';
const TOL = 1e-4;

async function check(op: string, ins: OIn[], attrs: Record<string, unknown>, outs: string[], what = op, ortIns = ins) {
  const g = oneNode(op, MS, ins, attrs, outs);
  const { ref, wasm, fallbacks } = await compareWithOrt(g, feedsOf(ins), outs.filter((o) => o), oneNode(op, MS, ortIns, attrs, outs));
  expect(ref, `${what} reference`).toBeLessThan(TOL);
  expect(wasm, `${what} wasm`).toBeLessThan(TOL);
  expect(fallbacks, `${what} on kernels`).toEqual([]);
}

function caches(r: () => number, rows: number, half: number): [OIn, OIn] {
  // real RoPE caches: cos/sin of position · inverse frequency
  const c = new Float32Array(rows * half);
  const s = new Float32Array(rows * half);
  for (let p = 0; p < rows; p++)
    for (let i = 0; i < half; i++) {
      const a = p / 10000 ** (i / half) + r() * 0.01;
      c[p * half + i] = Math.cos(a);
      s[p * half + i] = Math.sin(a);
    }
  return [
    { name: 'cos', feed: { type: 'float32', data: c, dims: [rows, half] } as never },
    { name: 'sin', feed: { type: 'float32', data: s, dims: [rows, half] } as never },
  ];
}

describe('RotaryEmbedding (com.microsoft)', () => {
  // "input: 3D tensor with shape (batch_size, sequence_length, hidden_size) or 4D with shape (batch_size, num_heads,
  // sequence_length, head_size)"; "position_ids: 1D tensor with shape (1) or 2D tensor with shape (batch_size,
  // sequence_length)"; "interleaved: ... Default value is 0 (False), meaning the first half of the input consists of
  // real values and the second half consists of imaginary values"; rotary_embedding_dim "Must use with num_heads"
  it('matches onnxruntime: 3-D / 4-D, interleaved, start or per-token positions, partial rotation', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(4, 8, 16), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(), async (B, S, N, D, four, inter, perTok, partial, seed) => {
        const r = rng(seed);
        const rot = partial ? D / 2 : D;
        const maxPos = S + 6;
        const x = randT(r, four ? [B, N, S, D] : [B, S, N * D], 2);
        const pos = perTok ? i64(Array.from({ length: B * S }, () => Math.floor((r() + 0.5) * maxPos)), [B, S]) : i64([3]);
        const [c, s] = caches(r, maxPos, rot / 2);
        const attrs: Record<string, unknown> = { interleaved: inter ? 1 : 0 };
        if (partial || (!four && r() > 0)) Object.assign(attrs, { num_heads: N, ...(partial ? { rotary_embedding_dim: rot } : {}) });
        await check('RotaryEmbedding', [{ name: 'x', feed: x }, { name: 'p', feed: pos }, c, s], attrs, ['y']);
      }),
      { numRuns: 20 },
    );
  });
  it('a position outside the cache and wrong cache widths are typed errors naming the node', async () => {
    const r = rng(3);
    const [c, s] = caches(r, 4, 4);
    const g = oneNode('RotaryEmbedding', MS, [{ name: 'x', feed: randT(r, [1, 2, 16]) }, { name: 'p', feed: i64([9]) }, c, s], {}, ['y']);
    await expect((await InferenceSession.create(g)).run({ x: randT(r, [1, 2, 16]), p: i64([9]), cos: (c as any).feed, sin: (s as any).feed })).rejects.toThrow(/'n0'.*position 9.*outside the cos\/sin cache of 4 rows/);
    const [c2, s2] = caches(r, 4, 3);
    expect(() => InferenceSession.fromGraph(oneNode('RotaryEmbedding', MS, [{ name: 'x', feed: randT(r, [1, 2, 16]) }, { name: 'p', feed: i64([0]) }, c2, s2], { num_heads: 2 }, ['y']))).toThrow(/cos_cache\/sin_cache have 3 columns, expected rotary_embedding_dim \/ 2 = 4/);
  });
});

describe('Attention (com.microsoft, packed QKV weights)', () => {
  // "Merged Q/K/V weights with shape (input_hidden_size, hidden_size + hidden_size + v_hidden_size)"; mask_index
  // "(batch_size, total_sequence_length) or (batch_size, sequence_length, total_sequence_length) with value 0 for
  // masked and 1 otherwise ... mask_index is one dimension with shape (batch_size), where value is actual sequence
  // length excluding padding ... (2 * batch_size), where the values are the exclusive end positions followed by the
  // inclusive start positions"; "When unidirectional is 1, each token only attends to previous tokens";
  // past "(2, batch_size, num_heads, past_sequence_length, head_size)"; present "(2, batch_size, num_heads,
  // total_sequence_length, head_size)"
  it('matches onnxruntime over masks, past/present, unidirectional, bias, attention_bias, qkv_hidden_sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(4, 8), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }),
        fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(),
        async (B, S, N, hs, P, maskKind, uni, withBias, withAB, seed) => {
          const r = rng(seed);
          const In = 12;
          const H = N * hs;
          const Hv = P ? H : N * (hs + (seed & 1 ? 4 : 0));
          const T = P + S;
          const ins: OIn[] = [{ name: 'x', feed: randT(r, [B, S, In], 2) }, { name: 'w', init: randT(r, [In, 2 * H + Hv]) }, withBias ? { name: 'b', init: randT(r, [2 * H + Hv]) } : ''];
          const len = () => 1 + Math.floor((r() + 0.5) * T);
          let mask: OIn = '';
          if (maskKind === 1) mask = { name: 'm', feed: i32(Array.from({ length: B }, len)) };
          if (maskKind === 2) mask = { name: 'm', feed: i32([...Array.from({ length: B }, () => T), ...Array.from({ length: B }, () => Math.floor((r() + 0.5) * T * 0.5))]) };
          if (maskKind === 3) mask = { name: 'm', feed: i32(Array.from({ length: B * T }, (_, i) => (i % T === 0 || r() > -0.2 ? 1 : 0)), [B, T]) };
          if (maskKind === 4) mask = { name: 'm', feed: i32(Array.from({ length: B * S * T }, (_, i) => (i % T === 0 || r() > -0.2 ? 1 : 0)), [B, S, T]) };
          // onnxruntime: "Attention cannot have both past and attention_bias"
          ins.push(mask, P ? { name: 'past', feed: randT(r, [2, B, N, P, hs]) } : '', withAB && !P ? { name: 'ab', feed: randT(r, [1, N, S, T], 3) } : '');
          while (ins[ins.length - 1] === '') ins.pop();
          const attrs: Record<string, unknown> = { num_heads: N, unidirectional: uni ? 1 : 0 };
          if (Hv !== H) attrs.qkv_hidden_sizes = [H, H, Hv];
          // onnxruntime's CPU kernel crashes without the (optional) bias: it gets an explicit zero bias instead
          const ortIns = withBias ? ins : [ins[0]!, ins[1]!, { name: 'b', init: randT(() => 0, [2 * H + Hv]) }, ...ins.slice(3)];
          await check('Attention', ins, attrs, P ? ['y', 'present'] : ['y'], `Attention B${B} S${S} N${N} hs${hs} P${P} mask${maskKind}`, ortIns);
        },
      ),
      { numRuns: 30 },
    );
  });
  it('missing num_heads and bad weights are ShapeErrors naming the node; 4-D masks are UnsupportedError', () => {
    const r = rng(4);
    const mk = (attrs: Record<string, unknown>, w: number[], m?: OIn) => () => InferenceSession.fromGraph(oneNode('Attention', MS, [{ name: 'x', feed: randT(r, [1, 3, 8]) }, { name: 'w', init: randT(r, w) }, '', ...(m ? [m] : [])], attrs, ['y']));
    expect(mk({}, [8, 24])).toThrow(/'n0'.*required attribute 'num_heads'/);
    expect(mk({ num_heads: 2 }, [8, 25])).toThrow(ShapeError);
    expect(mk({ num_heads: 2 }, [7, 24])).toThrow(/weights have 7 rows, input_hidden is 8/);
    expect(mk({ num_heads: 2 }, [8, 24], { name: 'm', feed: i32(new Array(9).fill(1), [1, 1, 3, 3]) })).toThrow(UnsupportedError);
  });
});

describe('MultiHeadAttention (com.microsoft)', () => {
  // "query (batch_size, sequence_length, hidden_size)", "key (batch_size, kv_sequence_length, hidden_size) ... or
  // past_key with shape (batch_size, num_heads, kv_sequence_length, head_size)"; "bias ... (hidden_size +
  // hidden_size + v_hidden_size) from input projection"; key_padding_mask "(batch_size), ... (batch_size,
  // kv_sequence_length), (batch_size, total_sequence_length), or (batch_size, sequence_length,
  // total_sequence_length)"; present_key "(batch_size, num_heads, total_sequence_length, head_size)"
  it('matches onnxruntime: self / cross attention, bias, masks, attention_bias, past/present, unidirectional', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(4, 8), fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(),
        async (B, S, L0, N, hs, P, maskKind, withBias, withAB, uni, seed) => {
          const r = rng(seed);
          const H = N * hs;
          const L = uni ? S : L0;
          const T = P + L;
          const ins: OIn[] = [{ name: 'q', feed: randT(r, [B, S, H], 2) }, { name: 'k', feed: randT(r, [B, L, H], 2) }, { name: 'v', feed: randT(r, [B, L, H], 2) }, withBias ? { name: 'b', init: randT(r, [3 * H]) } : ''];
          let mask: OIn = '';
          if (maskKind === 1) mask = { name: 'm', feed: i32(Array.from({ length: B }, () => 1 + Math.floor((r() + 0.5) * T))) };
          if (maskKind === 2) mask = { name: 'm', feed: i32(Array.from({ length: B * T }, (_, i) => (i % T === 0 || r() > -0.2 ? 1 : 0)), [B, T]) };
          if (maskKind === 3) mask = { name: 'm', feed: i32(Array.from({ length: B * S * T }, (_, i) => (i % T === 0 || r() > -0.2 ? 1 : 0)), [B, S, T]) };
          ins.push(mask, withAB ? { name: 'ab', feed: randT(r, [B, 1, S, T], 3) } : '');
          if (P) ins.push({ name: 'pk', feed: randT(r, [B, N, P, hs]) }, { name: 'pv', feed: randT(r, [B, N, P, hs]) });
          while (ins[ins.length - 1] === '') ins.pop();
          await check('MultiHeadAttention', ins, { num_heads: N, unidirectional: uni ? 1 : 0 }, P ? ['y', 'pk_out', 'pv_out'] : ['y'], `MHA B${B} S${S} L${L} N${N} P${P} mask${maskKind}`);
        },
      ),
      { numRuns: 30 },
    );
  });
  it('4-D (already projected) key / value for cross attention', async () => {
    const r = rng(8);
    await check('MultiHeadAttention', [{ name: 'q', feed: randT(r, [2, 3, 16]) }, { name: 'k', feed: randT(r, [2, 2, 5, 8]) }, { name: 'v', feed: randT(r, [2, 2, 5, 8]) }], { num_heads: 2 }, ['y']);
  });
  it('a key of the wrong hidden size is a ShapeError naming the node', () => {
    const r = rng(9);
    expect(() => InferenceSession.fromGraph(oneNode('MultiHeadAttention', MS, [{ name: 'q', feed: randT(r, [1, 3, 16]) }, { name: 'k', feed: randT(r, [1, 3, 12]) }, { name: 'v', feed: randT(r, [1, 3, 16]) }], { num_heads: 2 }, ['y']))).toThrow(/'n0'.*key \[1,3,12\] must be \(batch 1, kv_seq, hidden 16\)/);
  });
});

describe('GroupQueryAttention (com.microsoft)', () => {
  // "kv_num_heads: Number of attention heads for k and v"; "seqlens_k: 1D Tensor of shape (batch_size).
  // Equivalent to (total_sequence_lengths - 1)"; "total_sequence_length: Scalar tensor equivalent to the maximum
  // total sequence length (past + new) of the batch"; past/present in BNSH "(batch_size, num_heads,
  // cache_sequence_length, head_size)"; "query ... or packed QKV with shape (batch_size, sequence_length, d) where d
  // is (num_heads * head_size + 2 * kv_num_heads * head_size)"; "local_window_size: left_window_size for causal
  // local attention"; rotary with "cos_cache: 2D tensor with shape (max_sequence_length, head_size / 2)"
  it('prompt and decoding steps match onnxruntime: grouped heads, past cache, packed QKV, rotary, window, softcap', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 }), fc.constantFrom([2, 1], [4, 2], [4, 1], [3, 3]), fc.constantFrom(8, 16, 32), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 4 }),
        fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(),
        async (B, [N, Nkv], hs, P, S0, packed, rotary, inter, windowed, softcap, seed) => {
          const r = rng(seed);
          // a decoding step (past present) runs one token per batch entry when B > 1 ("sequence_length > 1
          // requires batch_size == 1" with past context)
          const S = P && B > 1 ? 1 : S0;
          const T = P + S;
          const q = randT(r, [B, S, packed ? (N + 2 * Nkv) * hs : N * hs], 2);
          const ins: OIn[] = [{ name: 'q', feed: q }];
          if (packed) ins.push('', '');
          else ins.push({ name: 'k', feed: randT(r, [B, S, Nkv * hs], 2) }, { name: 'v', feed: randT(r, [B, S, Nkv * hs], 2) });
          if (P) ins.push({ name: 'pk', feed: randT(r, [B, Nkv, P, hs]) }, { name: 'pv', feed: randT(r, [B, Nkv, P, hs]) });
          else ins.push('', '');
          ins.push({ name: 'sk', feed: i32(new Array(B).fill(T - 1)) }, { name: 'tl', feed: i32([T], []) });
          const attrs: Record<string, unknown> = { num_heads: N, kv_num_heads: Nkv };
          // onnxruntime (CPU) rotary: "head_size shall be a multiple of 16"
          if (rotary && hs % 16 === 0) {
            ins.push(...caches(r, T + 4, hs / 2));
            Object.assign(attrs, { do_rotary: 1, rotary_interleaved: inter ? 1 : 0 });
          }
          if (windowed) attrs.local_window_size = 2;
          if (softcap) attrs.softcap = 3;
          await check('GroupQueryAttention', ins, attrs, ['y', 'pk_out', 'pv_out'], `GQA B${B} N${N}/${Nkv} hs${hs} P${P} S${S}${packed ? ' packed' : ''}${rotary ? ' rotary' : ''}`);
        },
      ),
      { numRuns: 30 },
    );
  });
  it('inconsistent seqlens_k is a typed error naming the node; num_heads not a multiple of kv_num_heads a ShapeError', async () => {
    const r = rng(2);
    const ins: OIn[] = [{ name: 'q', feed: randT(r, [1, 1, 16]) }, { name: 'k', feed: randT(r, [1, 1, 8]) }, { name: 'v', feed: randT(r, [1, 1, 8]) }, { name: 'pk', feed: randT(r, [1, 1, 2, 8]) }, { name: 'pv', feed: randT(r, [1, 1, 2, 8]) }, { name: 'sk', feed: i32([7]) }, { name: 'tl', feed: i32([3], []) }];
    const s = await InferenceSession.create(oneNode('GroupQueryAttention', MS, ins, { num_heads: 2, kv_num_heads: 1 }, ['y']));
    await expect(s.run(feedsOf(ins))).rejects.toThrow(/'n0'.*seqlens_k\[0\] = 7 is inconsistent/);
    expect(() => InferenceSession.fromGraph(oneNode('GroupQueryAttention', MS, ins, { num_heads: 3, kv_num_heads: 2 }, ['y']))).toThrow(ShapeError);
  });
});
