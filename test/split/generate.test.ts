// A decoder split by split() into 2 parts, one worker each, generating through PipelineSession (generateWith: each
// step streams through both workers, present_* fed back as past_*): the same tokens as generate() on the whole model.
// The decoder is generated with the PyTorch export pattern (scripts/make-transformer.mjs, d 64, 4 layers).
import { describe, expect, it } from 'vitest';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { decoderIo, generate, generateWith } from '../../src/runtime/generate.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { PipelineSession } from '../../src/split/pipeline.js';
import { split } from '../../src/split/split.js';
import { collect, decoderBytes } from '../helpers/decoder.js';

const CONFIG = { d: 64, layers: 4, heads: 2, ffn: 128, seed: 9 };
const PROMPT = [72, 101, 108, 108, 111];

describe('split decoder streaming tokens through PipelineSession', () => {
  it('2 parts, one worker each: the whole model’s tokens (greedy and sampled)', { timeout: 240_000 }, async () => {
    const bytes = decoderBytes(CONFIG);
    const whole = await InferenceSession.create(bytes);
    const io = decoderIo(whole);
    const r = split(readOnnx(bytes), { parts: 2 });
    expect(r.parts.length).toBe(2);
    // each part holds only its own layers' weights
    const total = r.info.reduce((a, p) => a + p.params, 0);
    for (const p of r.info) expect(p.params).toBeLessThan(0.8 * total);
    const pipe = await PipelineSession.create(r.parts);
    try {
      for (const o of [{}, { temperature: 0.8, topK: 20, seed: 3 }]) {
        const want = await collect(generate(whole, { ids: PROMPT, maxTokens: 6, ...o }));
        const got = await collect(generateWith((f) => pipe.run(f), io, { ids: PROMPT, maxTokens: 6, ...o }));
        expect(got).toEqual(want);
      }
    } finally {
      await pipe.close();
      await whole.release();
    }
    expect(pipe.liveWorkers).toBe(0);
  });
});
