// The KV-append rewrite of a decoder step graph (ir/passes/kv-append.ts) on a decoder generated with the PyTorch
// export pattern at another size than the shared one (scripts/make-transformer.mjs, d 64, 2 layers, 2 heads): tokens
// equal onnxruntime-node's step-by-step argmax and the copying path's; a graph whose cache is read by anything else is
// left alone (the reason is returned) and generate() keeps copying, with the same tokens.
import { describe, expect, it } from 'vitest';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { type KvPair, PAST_LEN, kvAppendGraph } from '../../src/ir/passes/kv-append.js';
import type { Executor } from '../../src/runtime/executor.js';
import { generate } from '../../src/runtime/generate.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { collect, decoderBytes, ortGreedy } from '../helpers/decoder.js';

const CONFIG = { d: 64, layers: 2, heads: 2, ffn: 128, seed: 5 };
const PROMPT = [5, 80, 33, 200, 7];

const ortTokens = (bytes: Uint8Array, n: number) => ortGreedy(bytes, PROMPT, n, CONFIG.heads, CONFIG.d / CONFIG.heads);

const pairs = (layers: number): KvPair[] => [...Array(layers).keys()].flatMap((l) => ['key', 'value'].map((kv) => ({ past: `past_${kv}_${l}`, present: `present_${kv}_${l}`, bhd: [1, CONFIG.heads, CONFIG.d / CONFIG.heads] as [number, number, number] })));

describe('KV-append rewrite of a generated decoder', () => {
  const bytes = decoderBytes(CONFIG);

  it('appends in place and generates onnxruntime-node’s tokens and the copying path’s', async () => {
    const g = readOnnx(bytes);
    const r = kvAppendGraph(g, pairs(CONFIG.layers));
    expect(typeof r).not.toBe('string');
    const sess = await InferenceSession.create(bytes);
    const a = await collect(generate(sess, { ids: PROMPT, maxTokens: 10 }));
    expect(sess.derivedPlans('kv-append', () => undefined)).toBeDefined();
    // the step plan (seq = 1, cache length an input value): the per-layer int64 shape chains are simplified and
    // merged (ir/passes/shape-arith.ts), so at most one copy of each op runs on the reference per step
    const steps = (sess as unknown as { execs: Executor[] }).execs.filter((e) => e.graph.inputs.some((i) => i.name === PAST_LEN) && e.graph.inputs.find((i) => i.name === 'input_ids')?.type.shape?.[1] === 1);
    expect(steps.length).toBe(1);
    const ref = [...steps[0]!.fallbacks.keys()].map((n) => n.op);
    expect(ref.length).toBeLessThanOrEqual(3);
    expect(new Set(ref).size).toBe(ref.length);
    const b = await collect(generate(sess, { ids: PROMPT, maxTokens: 10, cache: 'resident' }));
    await sess.release();
    expect(a).toEqual(b);
    expect(a).toEqual(await ortTokens(bytes, 10));
  });

  it('leaves a cache read by another op alone; generate() then copies, same tokens', async () => {
    const g = readOnnx(bytes);
    g.nodes.push({ name: 'extra', op: 'Neg', domain: '', inputs: ['present_key_1'], outputs: ['neg_key'], attrs: {} });
    g.outputs.push({ name: 'neg_key', type: { dtype: 'float32' } });
    expect(kvAppendGraph(g, pairs(CONFIG.layers))).toMatch(/'present_key_1' is read by Neg 'extra'/);
    const sess = await InferenceSession.create(writeOnnx(g));
    const a = await collect(generate(sess, { ids: PROMPT, maxTokens: 6 }));
    expect(sess.derivedPlans('kv-append', () => undefined)).toBeUndefined();
    await sess.release();
    expect(a).toEqual(await ortTokens(bytes, 6));
  });
});
