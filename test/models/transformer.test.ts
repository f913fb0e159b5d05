// The shared transformers (PyTorch 1.13 exports, opset 17) against onnxruntime-node, and the plan: every MatMul,
// LayerNormalization, Softmax and Erf runs on a WASM kernel (none falls back to the reference).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const ENC = 'transformer/encoder_d256_l4.onnx';
const DEC = 'transformer/decoder_kv_d256_l4.onnx';

function worst(got: Tensor, want: ort.Tensor): number {
  expect(got.dims).toEqual([...want.dims]);
  const a = got.data as Float32Array;
  const b = want.data as Float32Array;
  let w = 0;
  for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return w;
}

async function check(rel: string, feeds: Record<string, Tensor>): Promise<void> {
  const sess = await InferenceSession.create(dataPath(rel));
  const got = await sess.run(feeds);
  const heavy = [...sess.executor.fallbacks.keys()].filter((n) => ['MatMul', 'LayerNormalization', 'Softmax', 'Erf'].includes(n.op));
  expect(heavy.map((n) => `${n.name}: ${sess.executor.fallbacks.get(n)}`)).toEqual([]);
  await sess.release();
  const o = await ort.InferenceSession.create(dataPath(rel));
  const ofeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) ofeeds[k] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
  const want = await o.run(ofeeds);
  for (const name of Object.keys(want)) expect(worst(got[name]!, want[name]!), name).toBeLessThan(1e-4);
}

describe.runIf(hasData(ENC))('transformers vs onnxruntime-node', () => {
  it('encoder 1×128 with padding (mask zeros at the end), 2×37', async () => {
    for (const [b, s, pad] of [[1, 128, 0], [2, 37, 5]] as const) {
      const ids = BigInt64Array.from({ length: b * s }, (_, i) => BigInt((i * 131 + 7) % 1000));
      const mask = BigInt64Array.from({ length: b * s }, (_, i) => (i % s >= s - pad && i >= s ? 0n : 1n));
      await check(ENC, { input_ids: new Tensor('int64', ids, [b, s]), attention_mask: new Tensor('int64', mask, [b, s]) });
    }
  });

  it('decoder: a 7-token prompt with no past, and one token after 16 cached', async () => {
    for (const [seq, past] of [[7, 0], [1, 16]] as const) {
      const feeds: Record<string, Tensor> = { input_ids: new Tensor('int64', BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 37 + 5) % 256)), [1, seq]) };
      for (let i = 0; i < 4; i++)
        for (const kv of ['key', 'value']) feeds[`past_${kv}_${i}`] = new Tensor('float32', Float32Array.from({ length: 4 * past * 64 }, (_, j) => Math.sin(j * 0.37 + i)), [1, 4, past, 64]);
      await check(DEC, feeds);
    }
  });
});
