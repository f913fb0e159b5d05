// Files written by edgeq's ONNX → TFLite conversion, run by TFLite's own runtime (tfjs-tflite's WASM build of
// TFLite + XNNPACK in headless Chromium, scripts/tflite-web.mjs). Float outputs must agree with edgeq's run of
// the source ONNX model; int8 is judged by accuracy and top-1 agreement, since XNNPACK's requantization may
// differ from TFLite's reference kernels (which edgeq follows bit for bit) by a few LSB.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fp16Weights, nchwToNhwc, onnxToTfliteGraph, quantizeTfliteGraph } from '../../../src/convert/tflite.js';
import { readNpy } from '../../../src/formats/npy.js';
import { readOnnx } from '../../../src/formats/onnx/reader.js';
import { parseTflite } from '../../../src/formats/tflite/model.js';
import { writeTflite } from '../../../src/formats/tflite/writer.js';
import '../../../src/ops/index.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { relErr } from '../../helpers/compare.js';
import { dataPath, hasData } from '../../helpers/data.js';
// @ts-expect-error plain ESM JS without types
import { openTflitePage, tfliteWebAvailable } from '../../../scripts/tflite-web.mjs';

const avail = tfliteWebAvailable();
if (!avail.ok && process.env.CI) throw new Error(`TFLite web oracle cannot run under CI: ${avail.why}`);
const ready = avail.ok && hasData('mnist/lenet.onnx') && hasData('bench/mobilenet_v2.onnx');

const argmax = (a: ArrayLike<number>, off = 0, n = a.length) => {
  let b = 0;
  for (let i = 1; i < n; i++) if (Number(a[off + i]) > Number(a[off + b])) b = i;
  return b;
};
const opNames = (bytes: Uint8Array) => parseTflite(bytes).operators.map((o) => o.opName);

describe.skipIf(!ready)("converted models in TFLite's own runtime (headless Chromium)", () => {
  let page: Awaited<ReturnType<typeof openTflitePage>>;
  beforeAll(async () => {
    page = await openTflitePage();
  }, 60_000);
  afterAll(async () => page?.close());

  for (const [rel, n] of [['mnist/lenet.onnx', 4], ['bench/squeezenet1_1.onnx', 1], ['bench/mobilenet_v2.onnx', 1]] as const) {
    it(`float ${rel}: TFLite's outputs within rel 1e-4 of edgeq's ONNX run, no TRANSPOSE`, async () => {
      const onnx = new Uint8Array(readFileSync(dataPath(rel)));
      const g = readOnnx(onnx);
      const bytes = writeTflite(onnxToTfliteGraph(g).graph);
      expect(opNames(bytes)).not.toContain('TRANSPOSE');
      const s = await InferenceSession.create(onnx);
      const shape = (g.inputs[0]!.type.shape as (number | string)[]).map((d) => (typeof d === 'number' ? d : 1));
      const size = shape.reduce((a, b) => a * b, 1);
      let worst = 0;
      for (let k = 0; k < n; k++) {
        const x = new Tensor('float32', Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.011 + k) * 0.9), shape);
        const want = (await s.run({ [s.inputNames[0]!]: x }))[s.outputNames[0]!]!.data as Float32Array;
        const xh = nchwToNhwc(x);
        const r = await page.runTflite(bytes, [{ data: xh.data, dims: xh.dims }]);
        expect(r.outputs[0].dims).toEqual([1, want.length]);
        const err = relErr(r.outputs[0].data, want);
        worst = Math.max(worst, err);
        expect(err).toBeLessThan(1e-4);
      }
      console.log(`${rel}: .tflite ${bytes.length} B, TFLite vs edgeq ONNX max |diff| / max |y| = ${worst.toExponential(2)}`);
    }, 120_000);
  }

  it('int8 LeNet: ≥ 96.6 % top-1 on the 2000-image test split in TFLite, top-1 agreeing with edgeq', async () => {
    const onnx = new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));
    const g = readOnnx(onnx);
    const qg = await quantizeTfliteGraph(onnxToTfliteGraph(g).graph, { calib: readNpy(readFileSync(dataPath('mnist/x_calib.npy'))), calibGraph: g });
    const bytes = writeTflite(qg);
    expect(opNames(bytes)).toEqual(['QUANTIZE', 'CONV_2D', 'MAX_POOL_2D', 'CONV_2D', 'MAX_POOL_2D', 'RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'DEQUANTIZE']);
    const xt = readNpy(readFileSync(dataPath('mnist/x_test.npy')));
    const yt = readNpy(readFileSync(dataPath('mnist/y_test.npy')));
    const N = xt.dims[0]!;
    const xd = xt.data as Float32Array;
    const sets = Array.from({ length: N }, (_, i) => [{ data: xd.subarray(i * 784, (i + 1) * 784), dims: [1, 28, 28, 1] }]);
    const rs = await page.runTfliteBatch(bytes, sets);
    const mine = await InferenceSession.create(bytes);
    let correct = 0, agree = 0, exact = 0;
    for (let i = 0; i < N; i++) {
      const t = rs[i].outputs[0].data as Float32Array;
      if (argmax(t) === Number((yt.data as BigInt64Array)[i])) correct++;
      const e = (await mine.run({ [mine.inputNames[0]!]: new Tensor('float32', sets[i]![0]!.data.slice(), [1, 28, 28, 1]) }))[mine.outputNames[0]!]!.data as Float32Array;
      if (argmax(e) === argmax(t)) agree++;
      if (e.every((v, k) => v === t[k])) exact++;
    }
    console.log(`int8 LeNet in TFLite: top-1 ${((100 * correct) / N).toFixed(2)} %, top-1 agreement with edgeq ${agree}/${N}, identical outputs ${exact}/${N}`);
    expect(correct / N).toBeGreaterThanOrEqual(0.966);
    expect(agree / N).toBeGreaterThanOrEqual(0.99);
  }, 180_000);

  it('int8 LeNet with --int8-io and fp16 LeNet run in TFLite', async () => {
    const g = readOnnx(new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx'))));
    const { graph } = onnxToTfliteGraph(g);
    const xt = readNpy(readFileSync(dataPath('mnist/x_test.npy')));
    const x = (xt.data as Float32Array).slice(0, 784);
    const ref = await page.runTflite(writeTflite(graph), [{ data: x, dims: [1, 28, 28, 1] }]);
    const half = await page.runTflite(writeTflite(fp16Weights(graph)), [{ data: x, dims: [1, 28, 28, 1] }]);
    expect(relErr(half.outputs[0].data, ref.outputs[0].data)).toBeLessThan(1e-2);
    const qg = await quantizeTfliteGraph(graph, { calib: readNpy(readFileSync(dataPath('mnist/x_calib.npy'))), calibGraph: g, int8Io: true });
    const inQ = qg.inputs[0]!.type.quant!;
    const xq = Int8Array.from(x, (v) => Math.max(-128, Math.min(127, Math.round(v / inQ.scale[0]!) + inQ.zeroPoint[0]!)));
    const r = await page.runTflite(writeTflite(qg), [{ data: xq, dims: [1, 28, 28, 1] }]);
    expect(r.outputs[0].dtype).toBe('int8');
    expect(argmax(r.outputs[0].data)).toBe(argmax(ref.outputs[0].data));
  }, 60_000);

  it('int8 mobilenet_v2: file ≤ 27 % of the fp32 .tflite, runs in TFLite', async () => {
    const g = readOnnx(new Uint8Array(readFileSync(dataPath('bench/mobilenet_v2.onnx'))));
    const { graph } = onnxToTfliteGraph(g);
    const f32 = writeTflite(graph);
    const calib = new Tensor('float32', Float32Array.from({ length: 2 * 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.37)), [2, 3, 224, 224]);
    const bytes = writeTflite(await quantizeTfliteGraph(graph, { calib, calibGraph: g }));
    console.log(`mobilenet_v2: fp32 .tflite ${f32.length} B, int8 ${bytes.length} B (${((100 * bytes.length) / f32.length).toFixed(1)} %)`);
    expect(bytes.length / f32.length).toBeLessThanOrEqual(0.27);
    const ops = opNames(bytes);
    expect(ops.filter((o) => o === 'CONV_2D').length + ops.filter((o) => o === 'DEPTHWISE_CONV_2D').length).toBe(52);
    expect(ops).not.toContain('TRANSPOSE');
    const x = Float32Array.from({ length: 224 * 224 * 3 }, (_, i) => Math.cos(i * 0.01));
    const r = await page.runTflite(bytes, [{ data: x, dims: [1, 224, 224, 3] }]);
    expect(r.outputs[0].dims).toEqual([1, 1000]);
    expect(Array.from(r.outputs[0].data as Float32Array).every(Number.isFinite)).toBe(true);
  }, 120_000);
});
