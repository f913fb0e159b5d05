// writeTflite + the ONNX → TFLite conversion, checked in Node against edgeq's own TFLite reader/runtime and
// onnxruntime-node (the browser test writer-tflite-web.test.ts checks the same files in TFLite's own runtime).
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { fp16Weights, onnxToTfliteGraph, nchwToNhwc, quantizeTfliteGraph, tfliteToOnnxGraph } from '../../../src/convert/tflite.js';
import { UnsupportedOpError } from '../../../src/errors.js';
import { readNpy } from '../../../src/formats/npy.js';
import { readOnnx } from '../../../src/formats/onnx/reader.js';
import { writeOnnx } from '../../../src/formats/onnx/writer.js';
import { parseTflite } from '../../../src/formats/tflite/model.js';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import { writeTflite } from '../../../src/formats/tflite/writer.js';
import { Graph } from '../../../src/ir/graph.js';
import '../../../src/ops/index.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { relErr } from '../../helpers/compare.js';
import { dataPath, hasData } from '../../helpers/data.js';

const run = async (s: InferenceSession, x: Tensor) => (await s.run({ [s.inputNames[0]!]: x }))[s.outputNames[0]!]!;
const sameBytes = (a: Tensor, b: Tensor) => {
  const x = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const y = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  return a.type === b.type && x.length === y.length && x.every((v, i) => v === y[i]);
};

describe.runIf(hasData('tflite'))('round trip: read → write → read of TFLite Micro models', () => {
  for (const f of ['hello_world_float', 'hello_world_int8', 'person_detection/person_detect', 'micro_speech_quantized']) {
    it(`${f}: same ops, bit-identical outputs, written file passes the reader`, async () => {
      const src = new Uint8Array(readFileSync(dataPath(`tflite/${f}.tflite`)));
      const g = readTflite(src);
      const bytes = writeTflite(g);
      const g2 = readTflite(bytes);
      expect(g2.nodes.map((n) => n.op)).toEqual(g.nodes.map((n) => n.op));
      const m = parseTflite(bytes);
      expect(m.version).toBe(3);
      const inp = g.inputs[0]!;
      const shape = (inp.type.shape as number[]).map((d) => (typeof d === 'number' ? d : 1));
      const n = shape.reduce((a, b) => a * b, 1);
      const s1 = await InferenceSession.create(src);
      const s2 = await InferenceSession.create(bytes);
      for (let k = 0; k < 3; k++) {
        const x = inp.type.dtype === 'float32' ? new Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + k)), shape) : new Tensor(inp.type.dtype, Int8Array.from({ length: n }, (_, i) => ((i * 37 + k * 11) % 256) - 128) as never, shape);
        expect(sameBytes(await run(s2, x), await run(s1, x))).toBe(true);
      }
    });
  }
});

describe.runIf(hasData('mnist/lenet.onnx'))('LeNet: ONNX → TFLite', () => {
  const onnx = readFileSync(dataPath('mnist/lenet.onnx'));
  const g = readOnnx(new Uint8Array(onnx));
  const xt = readNpy(readFileSync(dataPath('mnist/x_test.npy')));
  const batch = (i: number, n: number) => new Tensor('float32', (xt.data as Float32Array).slice(i * 784, (i + n) * 784), [n, 1, 28, 28]);

  it('NHWC with the layout folded into the weights: no Transpose, outputs within 1e-5 of the ONNX run', async () => {
    const { graph, nhwcInputs } = onnxToTfliteGraph(g);
    expect(nhwcInputs).toEqual({ input: true });
    expect(graph.nodes.some((n) => n.op === 'Transpose')).toBe(false);
    const conv = graph.nodes.filter((n) => n.op === 'Conv');
    expect(conv.every((n) => n.attrs.data_layout === 'NHWC' && n.attrs.weight_layout === 'OHWI')).toBe(true);
    const bytes = writeTflite(graph);
    const back = readTflite(bytes);
    // CONV_2D ×2 with fused RELU, MAX_POOL_2D ×2, RESHAPE, FULLY_CONNECTED ×3 (two with fused RELU)
    const m = parseTflite(bytes);
    expect(m.operators.map((o) => o.opName)).toEqual(['CONV_2D', 'MAX_POOL_2D', 'CONV_2D', 'MAX_POOL_2D', 'RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'FULLY_CONNECTED']);
    expect(back.nodes.filter((n) => n.op === 'Relu')).toHaveLength(4);
    // the file has batch 1 (shape [1, 28, 28, 1], shape_signature [-1, 28, 28, 1], as TFLite's converter writes it)
    expect(back.inputs[0]!.type.shape).toEqual([1, 28, 28, 1]);
    const s0 = await InferenceSession.create(new Uint8Array(onnx));
    const s1 = await InferenceSession.create(bytes);
    for (let i = 0; i < 8; i++) {
      const x = batch(i, 1);
      expect(relErr((await run(s1, nchwToNhwc(x))).data as Float32Array, (await run(s0, x)).data as Float32Array)).toBeLessThan(1e-5);
    }
  });

  it('int8: the written file (reference and WASM backends) is bit-identical to the in-memory int8 graph; ≥ 96.6 % top-1', async () => {
    const { graph } = onnxToTfliteGraph(g);
    const calib = readNpy(readFileSync(dataPath('mnist/x_calib.npy')));
    const qg = await quantizeTfliteGraph(graph, { calib, calibGraph: g });
    const bytes = writeTflite(qg);
    const m = parseTflite(bytes);
    // per-channel symmetric weights, int32 bias at s_in·s_w
    const conv = m.operators.find((o) => o.opName === 'CONV_2D')!;
    const [x, w, b] = conv.inputs.map((i) => m.tensors[i]!);
    expect(w!.type).toBe(9);
    expect(w!.scale!.length).toBe(w!.shape[0]);
    expect(w!.zeroPoint!.every((z) => z === 0n)).toBe(true);
    expect(b!.type).toBe(2);
    b!.scale!.forEach((s, c) => expect(Math.abs(s - x!.scale![0]! * w!.scale![c]!)).toBeLessThan(1e-6 * s));
    const a = InferenceSession.fromGraph(qg, { backend: 'reference' });
    const f = await InferenceSession.create(bytes, { backend: 'reference' });
    const fw = await InferenceSession.create(bytes); // WASM kernels: must equal the reference bit for bit too
    const y = readNpy(readFileSync(dataPath('mnist/y_test.npy')));
    let correct = 0;
    const N = xt.dims[0]!;
    let same = 0;
    for (let i = 0; i < N; i++) {
      const xb = nchwToNhwc(batch(i, 1));
      const r2 = await run(fw, xb);
      if (i < 200) {
        const ref = await run(f, xb);
        expect(sameBytes(ref, await run(a, xb))).toBe(true);
        expect(sameBytes(r2, ref)).toBe(true);
        same++;
      }
      const o = r2.data as Float32Array;
      let best = 0;
      for (let c = 1; c < 10; c++) if (o[c]! > o[best]!) best = c;
      if (best === Number((y.data as BigInt64Array)[i])) correct++;
    }
    expect(same).toBe(200);
    expect(correct / N).toBeGreaterThanOrEqual(0.966);
    expect(bytes.length / writeTflite(graph).length).toBeLessThan(0.3);
  });

  it('--int8-io: int8 input and output tensors with their quantization parameters', async () => {
    const { graph } = onnxToTfliteGraph(g);
    const qg = await quantizeTfliteGraph(graph, { calib: readNpy(readFileSync(dataPath('mnist/x_calib.npy'))), calibGraph: g, int8Io: true });
    const m = parseTflite(writeTflite(qg));
    const io = [...m.inputs, ...m.outputs].map((i) => m.tensors[i]!);
    expect(io.map((t) => t.type)).toEqual([9, 9]);
    expect(io.every((t) => t.scale?.length === 1)).toBe(true);
    expect(m.operators.some((o) => o.opName === 'QUANTIZE' || o.opName === 'DEQUANTIZE')).toBe(false);
  });

  it('fp16 weights: float16 buffers behind DEQUANTIZE, about half the size, outputs within 1e-2', async () => {
    const { graph } = onnxToTfliteGraph(g);
    const f32 = writeTflite(graph);
    const bytes = writeTflite(fp16Weights(graph));
    const m = parseTflite(bytes);
    expect(m.operators.filter((o) => o.opName === 'DEQUANTIZE').length).toBe(10);
    expect(bytes.length / f32.length).toBeLessThan(0.52);
    const x = nchwToNhwc(batch(0, 1));
    const r = await run(await InferenceSession.create(bytes), x);
    const want = await run(await InferenceSession.create(f32), x);
    expect(relErr(r.data as Float32Array, want.data as Float32Array)).toBeLessThan(1e-2);
  });

  it('TFLite → ONNX: the converted file loads in onnxruntime-node and matches', async () => {
    const tfl = readTflite(writeTflite(onnxToTfliteGraph(g).graph));
    const onnxBack = writeOnnx(tfliteToOnnxGraph(tfl));
    const s = await ort.InferenceSession.create(onnxBack);
    const x = nchwToNhwc(batch(0, 1));
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, x.dims) });
    const want = await run(await InferenceSession.create(new Uint8Array(onnx)), batch(0, 1));
    expect(relErr(out[s.outputNames[0]!]!.data as Float32Array, want.data as Float32Array)).toBeLessThan(1e-5);
  });
});

describe('typed errors naming the node', () => {
  it('an op with no TFLite form', () => {
    const g = new Graph();
    g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [1, 4] } }];
    g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: [1, 4] } }];
    g.nodes = [{ name: 'the_erf', op: 'Erf', domain: '', inputs: ['x'], outputs: ['y'], attrs: {} }];
    expect(() => writeTflite(g)).toThrow(UnsupportedOpError);
    expect(() => writeTflite(g)).toThrow(/the_erf/);
  });
  it('an NCHW conv given straight to the writer', () => {
    const g = new Graph();
    g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [1, 2, 5, 5] } }];
    g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: [1, 3, 5, 5] } }];
    g.initializers.set('w', new Tensor('float32', new Float32Array(3 * 2 * 9), [3, 2, 3, 3]));
    g.nodes = [{ name: 'nchw_conv', op: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }];
    expect(() => writeTflite(g)).toThrow(/nchw_conv.*NHWC/);
  });
  it('int8 conversion of an op the quantizer does not handle', async () => {
    const g = new Graph();
    g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [2, 4] } }];
    g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: [2, 4] } }];
    g.nodes = [{ name: 'the_exp', op: 'Exp', domain: '', inputs: ['x'], outputs: ['y'], attrs: {} }];
    await expect(quantizeTfliteGraph(g, { calib: new Tensor('float32', new Float32Array(8), [2, 4]) })).rejects.toThrow(/the_exp/);
  });
});
