// The TFLite-in-Chromium oracle harness (scripts/tflite-web.mjs) against edgeq's own TFLite reader/runtime on
// TFLite Micro's float and int8 hello_world sine models: the same model, the same inputs, two runtimes.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';
// @ts-expect-error plain ESM JS without types
import { openTflitePage, tfliteWebAvailable } from '../../scripts/tflite-web.mjs';

const avail = tfliteWebAvailable();
if (!avail.ok && process.env.CI) throw new Error(`TFLite web oracle cannot run under CI: ${avail.why}`);
const ready = avail.ok && hasData('tflite/hello_world_float.tflite');

describe.skipIf(!ready)('TFLite WASM runtime in headless Chromium (oracle harness)', () => {
  let page: Awaited<ReturnType<typeof openTflitePage>>;
  beforeAll(async () => {
    page = await openTflitePage();
  }, 60_000);
  afterAll(async () => page?.close());

  it('float hello_world: outputs agree with edgeq within 1e-5, dims and names come back, ms is a number', async () => {
    const bytes = readFileSync(dataPath('tflite/hello_world_float.tflite'));
    const xs = [0, 0.5, 1, 2, 3, 5];
    const sess = await InferenceSession.create(new Uint8Array(bytes));
    for (const x of xs) {
      const r = await page.runTflite(bytes, [{ data: new Float32Array([x]), dims: [1, 1] }], { runs: 3 });
      expect(r.outputs).toHaveLength(1);
      expect(r.outputs[0].dims).toEqual([1, 1]);
      expect(r.outputs[0].data).toBeInstanceOf(Float32Array);
      expect(r.ms).toBeGreaterThan(0);
      const mine = await sess.run({ [sess.inputNames[0]]: new Tensor('float32', new Float32Array([x]), [1, 1]) });
      const want = (mine[sess.outputNames[0]].data as Float32Array)[0];
      expect(Math.abs(r.outputs[0].data[0] - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
    }
  });

  // XNNPACK's int8 requantization (fp32 multiplier) may round differently from TFLite's reference kernels
  // (QuantizeMultiplier + SaturatingRoundingDoublingHighMul, which edgeq follows bit for bit), and the
  // differences compound over the 3 FULLY_CONNECTED layers: every output within 4 LSB, most exact.
  it('int8 hello_world: runTfliteBatch (one load, many invokes) agrees with edgeq within a few LSB', async () => {
    const bytes = readFileSync(dataPath('tflite/hello_world_int8.tflite'));
    const sess = await InferenceSession.create(new Uint8Array(bytes));
    const sets = Array.from({ length: 64 }, (_, i) => [{ data: new Int8Array([i * 4 - 128]), dims: [1, 1] }]);
    const rs = await page.runTfliteBatch(bytes, sets);
    let exact = 0;
    for (let i = 0; i < sets.length; i++) {
      const mine = await sess.run({ [sess.inputNames[0]]: new Tensor('int8', sets[i][0].data, [1, 1]) });
      expect(rs[i].outputs[0].dtype).toBe('int8');
      const d = rs[i].outputs[0].data[0] - (mine[sess.outputNames[0]].data as Int8Array)[0];
      expect(Math.abs(d)).toBeLessThanOrEqual(4);
      if (d === 0) exact++;
    }
    expect(exact).toBeGreaterThan(sets.length / 2);
  });
});
