// Generation helpers shared by the KV-cache tests: the tokens of an async iterator, onnxruntime-node's greedy tokens for
// a decoder with past_*/present_* inputs and outputs (present_* fed back as past_*, argmax of the last logits row), and
// a small decoder generated with the PyTorch export pattern (scripts/make-transformer.mjs on dist/: only bytes cross).
import * as ort from 'onnxruntime-node';
// @ts-expect-error untyped script (built on dist/, as `npm run gen:transformer` runs it)
import { makeDecoder } from '../../scripts/make-transformer.mjs';
// @ts-expect-error untyped build output
import { writeOnnx as distWriter } from '../../dist/index.js';

export async function collect(it: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const id of it) out.push(id);
  return out;
}

export interface DecoderConfig {
  d: number;
  layers: number;
  heads: number;
  ffn: number;
  seed: number;
}

/** ONNX bytes of a generated decoder (vocab 256, cache [batch, heads, past, d / heads]). */
export function decoderBytes(c: DecoderConfig): Uint8Array {
  return (distWriter as (g: unknown) => Uint8Array)((makeDecoder as (c: DecoderConfig) => { graph: unknown })(c).graph);
}

/** Greedy tokens of onnxruntime-node, `n` steps after `prompt`, for a decoder whose cache is [1, heads, past, hd]. */
export async function ortGreedy(model: string | Uint8Array, prompt: readonly number[], n: number, heads: number, hd: number): Promise<number[]> {
  const o = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model); // (one overload each)
  const past: Record<string, ort.Tensor> = {};
  for (const name of o.inputNames) if (name.startsWith('past_')) past[name] = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, hd]);
  let step = prompt;
  const want: number[] = [];
  for (let k = 0; k < n; k++) {
    const r = await o.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(step, BigInt), [1, step.length]), ...past });
    const logits = r.logits!.data as Float32Array;
    const v = r.logits!.dims.at(-1)!;
    const row = logits.subarray(logits.length - v);
    let best = 0;
    for (let i = 1; i < v; i++) if (row[i]! > row[best]!) best = i;
    want.push(best);
    for (const name of Object.keys(past)) past[name] = r[name.replace('past', 'present')]!;
    step = [best];
  }
  await o.release();
  return want;
}
