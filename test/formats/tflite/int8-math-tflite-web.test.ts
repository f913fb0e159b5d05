// The int8 forms of TFLite's math and shape builtins (src/ops/tflite-qmath.ts, src/formats/tflite/builtins.ts) against
// TFLite itself: one-op int8 models with random scales / zero points (test/helpers/tflite-int8-cases.ts) run in
// TFLite-web (scripts/tflite-web.mjs: tfjs-tflite's WASM TFLite) and in edgeq, on the WASM kernels and on the
// reference; the int8 outputs must be equal byte for byte. Each case names the TFLite kernel rule it exercises.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeqError } from '../../../src/errors.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { int8Cases } from '../../helpers/tflite-int8-cases.js';
// @ts-expect-error plain ESM JS without types
import { openTflitePage, tfliteWebAvailable } from '../../../scripts/tflite-web.mjs';

const avail = tfliteWebAvailable();
if (!avail.ok && process.env.CI) throw new Error(`TFLite web oracle cannot run under CI: ${avail.why}`);

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

describe.skipIf(!avail.ok)('int8 math / shape builtins: edgeq = TFLite-web, byte for byte', () => {
  let page: Awaited<ReturnType<typeof openTflitePage>>;
  beforeAll(async () => {
    page = await openTflitePage();
  }, 60_000);
  afterAll(async () => page?.close());

  for (const c0 of int8Cases(1).filter((c) => c.oracle === 'both')) {
    it(`${c0.name} — ${c0.rule} (${SEEDS.length} seeds, WASM and reference)`, async () => {
      for (const seed of SEEDS) {
        const c = int8Cases(seed).find((k) => k.name === c0.name)!;
        const want = (await page.runTflite(c.bytes, c.inputs)).outputs as { data: Int8Array; dims: number[]; dtype: string }[];
        for (const backend of ['wasm', 'reference'] as const) {
          const s = await InferenceSession.create(c.bytes, { backend });
          const feeds = Object.fromEntries(s.inputNames.map((n, k) => [n, new Tensor('int8', c.inputs[k]!.data.slice(), c.inputs[k]!.dims)]));
          const got = s.runSync(feeds);
          s.outputNames.forEach((n, k) => {
            expect(want[k]!.dtype).toBe('int8');
            expect(got[n]!.dims, `${c.name} seed ${seed} ${backend} dims`).toEqual(want[k]!.dims);
            expect(Array.from(got[n]!.data as Int8Array), `${c.name} seed ${seed} ${backend}`).toEqual(Array.from(want[k]!.data));
          });
        }
      }
    }, 120_000);
  }

  // leaky_relu.cc's int8 kernel (which edgeq follows, QLinearLeakyRelu rounding 'tflite': "output_zp +
  // MultiplyByQuantizedMultiplier(x − zp, identity or alpha multiplier)") is not what this TFLite-web build runs: it
  // delegates int8 LEAKY_RELU to XNNPACK's qs8-vlrelu ("(bias + (x − zp)·round(256·scale)) >> 8", an 8-bit fraction),
  // whose output it matches exactly; the two differ by at most 1 LSB
  it('LEAKY_RELU: TFLite-web runs XNNPACK (8.8 fixed point), edgeq the builtin kernel; at most 1 LSB apart', async () => {
    for (const seed of SEEDS) {
      const c = int8Cases(seed).find((k) => k.oracle === 'xnnpack')!;
      const want = (await page.runTflite(c.bytes, c.inputs)).outputs[0].data as Int8Array;
      const s = await InferenceSession.create(c.bytes);
      const got = s.runSync({ [s.inputNames[0]!]: new Tensor('int8', c.inputs[0]!.data.slice(), c.inputs[0]!.dims) })[s.outputNames[0]!]!.data as Int8Array;
      got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1));
    }
  }, 120_000);

  // what the inventory (docs/tflite-int8-coverage.md) says: int8 forms TFLite-web runs and edgeq refuses by name, and
  // forms this TFLite-web build refuses itself (newer TFLite kernels: int8 RSQRT / EXP / LOG …)
  it('int8 forms edgeq does not define yet are refused with a typed error naming the op', async () => {
    for (const c of int8Cases(1).filter((k) => k.oracle === 'tflite' || k.oracle === 'neither')) {
      const op = c.name.split(' ')[0]!;
      if (c.oracle === 'tflite') await page.runTflite(c.bytes, c.inputs); // TFLite runs it
      else await expect(page.runTflite(c.bytes, c.inputs), op).rejects.toThrow();
      if (op === 'BROADCAST_TO') continue; // a shape op: edgeq runs it with shared parameters
      await expect(InferenceSession.create(c.bytes), op).rejects.toThrow(EdgeqError);
      await expect(InferenceSession.create(c.bytes), op).rejects.toThrow(op);
    }
  }, 120_000);
});
