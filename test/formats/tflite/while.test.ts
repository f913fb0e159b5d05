// TFLite WHILE (while.cc) → ONNX Loop: edgeq's run of hand-built models, and the same bytes in TFLite's own runtime
// (tfjs-tflite in headless Chromium, scripts/tflite-web.mjs) as the oracle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, ModelFormatError, ShapeError } from '../../../src/errors.js';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import { env } from '../../../src/runtime/env.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { whileModel } from '../../helpers/tflite-builder.js';
// @ts-expect-error plain ESM JS without types
import { openTflitePage, tfliteWebAvailable } from '../../../scripts/tflite-web.mjs';

const f32 = (v: ArrayLike<number>) => Float32Array.from(v);

describe('TFLite WHILE', () => {
  it('WHILE runs the body while the cond subgraph holds; the outputs are the variables\' last values (while.cc)', async () => {
    const s = await InferenceSession.create(whileModel({ n: 5 }));
    const run = (i0: number) => s.runSync({ i: new Tensor('int32', Int32Array.of(i0), []), x: new Tensor('float32', f32([1, -3]), [2]) });
    const a = run(0);
    expect(Array.from(a.i_out!.data as Int32Array)).toEqual([5]);
    expect(Array.from(a.x_out!.data as Float32Array)).toEqual([32, -96]);
    const b = run(3); // two iterations
    expect(Array.from(b.x_out!.data as Float32Array)).toEqual([4, -12]);
    const c = run(9); // the condition is false at once: no iteration, the inputs come back
    expect(Array.from(c.i_out!.data as Int32Array)).toEqual([9]);
    expect(Array.from(c.x_out!.data as Float32Array)).toEqual([1, -3]);
  });

  it('WHILE with a loop variable whose shape grows every iteration', async () => {
    const s = await InferenceSession.create(whileModel({ n: 3, grow: true }));
    const r = s.runSync({ i: new Tensor('int32', Int32Array.of(0), []), x: new Tensor('float32', f32([1, 2]), [2]) });
    expect(r.x_out!.dims).toEqual([16]);
    expect(Array.from(r.x_out!.data as Float32Array)).toEqual(Array.from({ length: 16 }, (_, k) => (k % 2) + 1));
  });

  it('a WHILE whose condition never turns false ends in a ShapeError at env.limits.loopIterations, not a hang', async () => {
    const s = await InferenceSession.create(whileModel({ n: 2 ** 31 - 1 }));
    const was = env.limits.loopIterations;
    try {
      env.limits.loopIterations = 500;
      const run = () => s.runSync({ i: new Tensor('int32', Int32Array.of(0), []), x: new Tensor('float32', f32([1, 1]), [2]) });
      expect(run).toThrow(ShapeError);
      expect(run).toThrow(/WHILE_0: ran env.limits.loopIterations \(500\) iterations without ending/);
      env.limits.loopIterations = 600; // within the limit: 499 < 600 iterations
      const s2 = await InferenceSession.create(whileModel({ n: 499 }));
      expect(Array.from(s2.runSync({ i: new Tensor('int32', Int32Array.of(0), []), x: new Tensor('float32', f32([1, 1]), [2]) }).i_out!.data as Int32Array)).toEqual([499]);
      expect(() => (env.limits.loopIterations = 0)).toThrow(InputError);
      expect(() => (env.limits.loopIterations = 2 ** 31)).toThrow(InputError);
    } finally {
      env.limits.loopIterations = was;
    }
    expect(env.limits.loopIterations).toBe(1_000_000);
  });

  it('WHILE naming subgraph 0, a missing subgraph, itself, or subgraphs of the wrong arity is a ModelFormatError', () => {
    expect(() => readTflite(whileModel({ n: 1, cond: 0 }))).toThrow(ModelFormatError);
    expect(() => readTflite(whileModel({ n: 1, body: 7 }))).toThrow(ModelFormatError);
    expect(() => readTflite(whileModel({ n: 1, cond: 2 }))).toThrow(/expected 2 and 1/); // the body as the condition: 2 outputs
    expect(() => readTflite(whileModel({ n: 1, body: 1 }))).toThrow(/expected 2 and 2/);
  });
});

const avail = tfliteWebAvailable();
if (!avail.ok && process.env.CI) throw new Error(`TFLite web oracle cannot run under CI: ${avail.why}`);

describe.skipIf(!avail.ok)("TFLite WHILE in TFLite's own runtime (headless Chromium)", () => {
  let page: Awaited<ReturnType<typeof openTflitePage>>;
  beforeAll(async () => {
    page = await openTflitePage();
  }, 60_000);
  afterAll(async () => page?.close());

  for (const [what, model, i0, x0] of [
    ['x · 2 per iteration', { n: 5 }, [0, 3, 9], [1, -3]],
    ['x doubling in length per iteration', { n: 3, grow: true }, [0, 2], [1, 2]],
  ] as const) {
    it(`${what}: edgeq's outputs equal TFLite's`, async () => {
      const bytes = whileModel(model);
      const s = await InferenceSession.create(bytes);
      for (const i of i0) {
        const ours = s.runSync({ i: new Tensor('int32', Int32Array.of(i), []), x: new Tensor('float32', f32(x0), [2]) });
        const r = await page.runTflite(bytes, [{ data: Int32Array.of(i), dims: [] }, { data: f32(x0), dims: [2] }]);
        expect(Array.from(r.outputs[0].data)).toEqual(Array.from(ours.i_out!.data as Int32Array));
        expect(r.outputs[1].dims).toEqual([...ours.x_out!.dims]);
        expect(Array.from(r.outputs[1].data)).toEqual(Array.from(ours.x_out!.data as Float32Array));
      }
    }, 60_000);
  }
});
