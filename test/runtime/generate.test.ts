// KV-cache generation (runtime/generate.ts, `edgeq generate`) on the shared decoder: greedy tokens equal the argmax of
// onnxruntime-node's logits run step by step with the same cache protocol (present_* fed back as past_*); the append
// path (cache in capacity blocks, new rows written in place: ir/passes/kv-append.ts), the resident path (present_*
// kept in kernel memory and read in place, Concat copying) and the plain path give the same tokens.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { arena } from '../../src/kernels/wasm.js';
import { decoderIo, generate } from '../../src/runtime/generate.js';
import type { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { dataPath, hasData } from '../helpers/data.js';
import { collect, ortGreedy } from '../helpers/decoder.js';

const MODEL = 'transformer/decoder_kv_d256_l4.onnx';
const PROMPT = [...new TextEncoder().encode('The cache ')];

describe.runIf(hasData(MODEL))('generate with a KV cache', () => {
  it('greedy tokens equal step-by-step onnxruntime-node argmax (12 tokens), the cache appended in place', async () => {
    const N = 12;
    const sess = await InferenceSession.create(dataPath(MODEL));
    const ours = await collect(generate(sess, { ids: PROMPT, maxTokens: N }));
    // the default path ran the rewritten step graph: every Concat(past, new) an in-place append, fused with its layer's
    // head split and attention into one KvAppendAttention per layer on its kernel
    const plans = sess.derivedPlans('kv-append', () => undefined);
    expect(plans?.size).toBe(2); // the prompt's plan and the one step plan
    const plansKv = (sess as unknown as { execs: Executor[] }).execs.filter((e) => e.analysis.order.some((n) => n.op === 'KvAppendAttention'));
    expect(plansKv.length).toBe(2);
    for (const e of plansKv) {
      const appends = e.analysis.order.filter((n) => n.op === 'KvAppendAttention');
      expect(appends.length).toBe(4);
      expect(e.analysis.order.filter((n) => n.op === 'KvAppend' || n.op === 'Split' || n.op === 'Transpose')).toEqual([]);
      for (const n of appends) expect(e.kernels.get(n)?.name).toBe('kv_append_attention');
      expect(e.analysis.order.some((n) => n.op === 'Concat' && n.inputs.some((x) => x.startsWith('past_')))).toBe(false);
    }
    const io = decoderIo(sess);
    await sess.release();
    expect(io.cache.length).toBe(8);
    const want = await ortGreedy(dataPath(MODEL), PROMPT, N, 4, 64);
    expect(ours).toEqual(want);
  });

  it('the appended and the resident cache give the plain path’s tokens (greedy and sampled) and free their blocks', async () => {
    const sess = await InferenceSession.create(dataPath(MODEL));
    const mem = arena()!;
    // the session's plans (prompt, and one step plan for every cache length) pack their weights on first use
    await collect(generate(sess, { ids: PROMPT, maxTokens: 3 }));
    await collect(generate(sess, { ids: PROMPT, maxTokens: 3, cache: 'resident' }));
    const before = mem.inUse;
    for (const o of [{}, { temperature: 0.9, topK: 40, seed: 7 }]) {
      const a = await collect(generate(sess, { ids: PROMPT, maxTokens: 20, cache: 'resident', ...o }));
      expect(mem.inUse).toBe(before); // every cache block handed back
      const c = await collect(generate(sess, { ids: PROMPT, maxTokens: 20, cache: 'append', ...o }));
      expect(mem.inUse).toBe(before);
      const b = await collect(generate(sess, { ids: PROMPT, maxTokens: 20, cache: 'plain', ...o }));
      expect(a).toEqual(b);
      expect(c).toEqual(b);
      expect(a.length).toBe(20);
    }
    await sess.release();
  });

  it('edgeq generate prints tokens/s; --json gives the ids; a model without a cache is refused', async () => {
    let out = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
    expect(await main(['generate', dataPath(MODEL), '--ids', '1,2,3', '--max-tokens', '5', '--json'], io)).toBe(0);
    const j = JSON.parse(out);
    expect(j.ids).toHaveLength(5);
    expect(j.tokensPerSec).toBeGreaterThan(0);
    out = '';
    expect(await main(['generate', dataPath(MODEL), '--prompt', 'Hi', '--max-tokens', '3'], io)).toBe(0);
    expect(out).toMatch(/tokens\/s/);
    out = '';
    expect(await main(['generate', dataPath('mnist/lenet.onnx'), '--ids', '1'], io)).not.toBe(0);
    expect(out).toMatch(/no token-id input|cache/);
  });
});
