// MediaPipe's npm-packaged models with a custom op and sparse weights, run by edgeq and by TFLite's own runtime
// (tfjs-tflite's WASM build of TFLite + XNNPACK in headless Chromium, scripts/tflite-web.mjs). Issue 16 "Done
// when": outputs within rel 1e-3 of the output's range.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTflite } from '../../../src/formats/tflite/model.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { replaceTransposeConvBias } from '../../helpers/tflite-rewrite.js';
// @ts-expect-error plain ESM JS without types
import { openTflitePage, tfliteWebAvailable } from '../../../scripts/tflite-web.mjs';

function pkgFile(pkg: string, file: string): string | undefined {
  try {
    const p = join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), file);
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}
const selfie = pkgFile('@mediapipe/selfie_segmentation', 'selfie_segmentation.tflite');
const sparse = pkgFile('@mediapipe/face_detection', 'face_detection_full_range_sparse.tflite');
const avail = tfliteWebAvailable();
if (process.env.CI && (!avail.ok || !selfie || !sparse)) throw new Error(`MediaPipe TFLite oracle test cannot run under CI: ${avail.why ?? 'npm packages missing'}`);

/** max |a - b| over the range (max - min) of b */
function relRange(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, lo = Infinity, hi = -Infinity;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    lo = Math.min(lo, b[i]!);
    hi = Math.max(hi, b[i]!);
  }
  return d / (hi - lo);
}

/** A smooth image-like input in [0, 1] (the models' documented input range). */
function image(shape: number[], k: number): Tensor {
  const [, H, W, C] = shape as [number, number, number, number];
  const x = new Float32Array(H * W * C);
  for (let y = 0; y < H; y++)
    for (let xx = 0; xx < W; xx++)
      for (let c = 0; c < C; c++) x[(y * W + xx) * C + c] = 0.5 + 0.45 * Math.sin(0.05 * (y + 1) * (c + 1 + k) + 0.031 * xx * (k + 2)) * Math.cos(0.02 * xx - 0.07 * y * c);
  return new Tensor('float32', x, shape);
}

describe.runIf(avail.ok && selfie && sparse)("MediaPipe models vs TFLite's runtime", () => {
  let page: Awaited<ReturnType<typeof openTflitePage>>;
  beforeAll(async () => {
    page = await openTflitePage();
  }, 60_000);
  afterAll(async () => page?.close());

  async function compare(edgeqBytes: Uint8Array, oracleBytes: Uint8Array, label: string): Promise<void> {
    const s = await InferenceSession.create(edgeqBytes);
    const shape = s.inputMetadata[0]!.shape as number[];
    for (let k = 0; k < 2; k++) {
      const x = image(shape, k);
      const out = await s.run({ [s.inputNames[0]!]: x });
      const r = await page.runTflite(oracleBytes, [{ data: x.data, dims: x.dims }]);
      expect(r.outputs.length).toBe(s.outputNames.length);
      s.outputNames.forEach((n, i) => {
        const got = out[n]!;
        expect(r.outputs[i].dims).toEqual(got.dims);
        const err = relRange(got.data as Float32Array, r.outputs[i].data);
        console.log(`${label} input ${k} output '${n}' [${got.dims}]: max |edgeq - TFLite| / range = ${err.toExponential(2)}`);
        expect(err).toBeLessThan(1e-3);
      });
    }
  }

  it('face_detection_full_range_sparse.tflite (sparse weights + DENSIFY, DEPTH_TO_SPACE) matches TFLite', async () => {
    const bytes = new Uint8Array(readFileSync(sparse!));
    expect(parseTflite(bytes).tensors.some((t) => t.sparsity)).toBe(true);
    await compare(bytes, bytes, 'face_detection_full_range_sparse');
  }, 300_000);

  it('selfie_segmentation.tflite (custom Convolution2DTransposeBias) matches TFLite with the op as TRANSPOSE_CONV + bias', async () => {
    const bytes = new Uint8Array(readFileSync(selfie!));
    // TFLite's runtime has no MediaPipe custom ops ("Can't initialize model"): it runs the same model with the
    // custom op replaced by the builtin it was copied from (test/helpers/tflite-rewrite.ts); edgeq runs the original
    const oracle = replaceTransposeConvBias(bytes);
    expect(parseTflite(oracle).operators.map((o) => o.opName)).not.toContain('CUSTOM');
    await compare(bytes, oracle, 'selfie_segmentation');
  }, 300_000);
});
