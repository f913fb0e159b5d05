// One plan for every decoder step (runtime/specialize.ts, session.executorFor, generate.ts): the cache length stays
// symbolic while seq = 1 and the batch fold, so the per-layer shape arithmetic is constant and one plan serves each
// cache length — checked against onnxruntime-node on the shared decoder.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const MODEL = 'transformer/decoder_kv_d256_l4.onnx';

function feeds<T>(make: (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[]) => T, past: number): Record<string, T> {
  const f: Record<string, T> = { input_ids: make('int64', BigInt64Array.of(BigInt((past * 31) % 256)), [1, 1]) };
  for (let i = 0; i < 4; i++)
    for (const kv of ['key', 'value']) f[`past_${kv}_${i}`] = make('float32', Float32Array.from({ length: 4 * past * 64 }, (_, j) => Math.sin(j * 0.37 + i + past) * 0.5), [1, 4, past, 64]);
  return f;
}

const ours = (past: number) => feeds((t, d, s) => new Tensor(t, d, s), past);
const theirs = (past: number) => feeds((t, d, s) => new ort.Tensor(t, d, s), past);

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.runIf(hasData(MODEL))('decoder step plan with the cache length symbolic', () => {
  it('folds every Reshape target and Range; one plan answers past = 1, 5, 9 like onnxruntime-node', async () => {
    const sess = await InferenceSession.create(dataPath(MODEL));
    const o = await ort.InferenceSession.create(dataPath(MODEL));
    const keep = new Set(['past']);
    const plan = sess.executorFor(ours(1), keep);
    const { consts } = plan.analysis;
    const reshapes = plan.analysis.order.filter((n) => n.op === 'Reshape');
    expect(reshapes.length).toBeGreaterThan(0);
    for (const r of reshapes) expect(consts.has(r.inputs[1]!)).toBe(true);
    expect(plan.analysis.order.some((n) => n.op === 'Range')).toBe(false);
    for (const past of [1, 5, 9]) {
      const f = ours(past);
      expect(sess.executorFor(f, keep)).toBe(plan);
      const got = plan.run(f) as Record<string, Tensor>;
      const want = await o.run(theirs(past));
      expect(got.present_value_3!.dims).toEqual([1, 4, past + 1, 64]);
      expect(maxDiff(got.logits!.data as Float32Array, want.logits!.data as Float32Array)).toBeLessThan(1e-4);
      expect(maxDiff(got.present_key_2!.data as Float32Array, want.present_key_2!.data as Float32Array)).toBeLessThan(1e-5);
    }
    await sess.release();
  });

  it('session.run with a cache growing by one token per call settles on one plan for every length', async () => {
    const sess = await InferenceSession.create(dataPath(MODEL));
    const o = await ort.InferenceSession.create(dataPath(MODEL));
    for (let past = 2; past < 7; past++) {
      const got = await sess.run(ours(past));
      const want = await o.run(theirs(past));
      expect(maxDiff(got.logits!.data as Float32Array, want.logits!.data as Float32Array)).toBeLessThan(1e-4);
    }
    // 'past' took three values with everything else equal: later lengths share one plan
    expect(sess.executorFor(ours(20))).toBe(sess.executorFor(ours(21)));
    await sess.release();
  });
});
