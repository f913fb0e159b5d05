// Post-training quantization of the MNIST LeNet: accuracy vs fp32 (96.90 %) and agreement with
// onnxruntime-node on the written model file.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, labelsOf } from '../../src/cli/eval.js';
import { quantizeMain } from '../../src/cli/quantize.js';
import { InputError } from '../../src/errors.js';
import { readModel } from '../../src/formats/detect.js';
import { readNpy } from '../../src/formats/npy.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import type { Graph } from '../../src/ir/graph.js';
import { type QuantizeOptions, type QuantizeResult, checkModel, quantize } from '../../src/quant/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const HAS = hasData('mnist/lenet.onnx');
const FP32 = 0.969;

let g: Graph;
let xc: Tensor;
let xt: Tensor;
let yt: Int32Array;
const npy = (f: string) => readNpy(new Uint8Array(readFileSync(dataPath(`mnist/${f}`))), f);

beforeAll(() => {
  if (!HAS) return;
  g = readModel(new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx'))));
  xc = npy('x_calib.npy');
  xt = npy('x_test.npy');
  yt = labelsOf(npy('y_test.npy'));
});

const accuracy = async (m: Graph) => (await evaluate(InferenceSession.fromGraph(m), xt, yt, { batch: 2000 })).accuracy;

/** Write the model, load it in onnxruntime-node and in edgeq (from the same bytes), run the test split. */
async function both(r: QuantizeResult): Promise<{ maxDiff: number; agree: number; ortAcc: number; edgeqAcc: number; bytes: number }> {
  expect(checkModel(r.graph)).toEqual([]);
  const bytes = writeOnnx(r.graph);
  const os = await ort.InferenceSession.create(bytes);
  const es = InferenceSession.fromGraph(readModel(bytes));
  const a = (await os.run({ input: new ort.Tensor('float32', xt.typed as Float32Array, [...xt.dims]) })).logits!.data as Float32Array;
  const b = (await es.run({ input: xt })).logits!.data as Float32Array;
  const arg = (v: Float32Array, r: number) => {
    let m = 0;
    for (let k = 1; k < 10; k++) if (v[r * 10 + k]! > v[r * 10 + m]!) m = k;
    return m;
  };
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  let agree = 0;
  let ca = 0;
  let cb = 0;
  for (let r = 0; r < yt.length; r++) {
    const pa = arg(a, r);
    const pb = arg(b, r);
    if (pa === pb) agree++;
    if (pa === yt[r]) ca++;
    if (pb === yt[r]) cb++;
  }
  return { maxDiff, agree: agree / yt.length, ortAcc: ca / yt.length, edgeqAcc: cb / yt.length, bytes: bytes.length };
}

const q = (o: QuantizeOptions) => quantize(g, { calib: xc, ...o });

describe.skipIf(!HAS)('lenet post-training quantization', () => {
  it('fp32 baseline is 96.90 %', async () => {
    expect(await accuracy(g)).toBeCloseTo(FP32, 4);
  });

  it('int8 QDQ per-channel: within 0.3 pt of fp32, loads in onnxruntime, outputs within one output step', async () => {
    const r = await q({});
    const step = r.tensors.get('logits')!.scale;
    const c = await both(r);
    // measured: max |ort − edgeq| = 0.16895 = exactly one logits step (ORT's fused QLinearConv/QGemm requantize
    // with fixed-point multipliers, edgeq dequantizes in float: the final Q can land one code apart)
    expect(c.maxDiff).toBeLessThanOrEqual(step * 1.0001);
    expect(c.agree).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(c.edgeqAcc - FP32)).toBeLessThanOrEqual(0.003);
    expect(Math.abs(c.ortAcc - FP32)).toBeLessThanOrEqual(0.003);
    expect(c.bytes).toBeLessThan(0.3 * 248421);
    // weights int8 per output channel, biases int32 with scale s_in·s_w
    const w = r.graph.initializers.get('c1.weight_quantized')!;
    expect(w.type).toBe('int8');
    expect(r.graph.initializers.get('c1.weight_scale')!.dims).toEqual([6]);
    const bs = r.graph.initializers.get('c1.bias_scale')!.data as Float32Array;
    const ws = r.graph.initializers.get('c1.weight_scale')!.data as Float32Array;
    expect(r.graph.initializers.get('c1.bias_quantized')!.type).toBe('int32');
    expect(bs[3]).toBe(Math.fround(r.tensors.get('input')!.scale * ws[3]!));
    expect(r.graph.initializers.get('f1.weight_scale')!.dims).toEqual([120]); // Gemm transB=1: per output row
    // Relu fused: no Q/DQ between Conv and Relu, and the MaxPool output shares the Relu output's scale
    expect(r.tensors.has('/c1/Conv_output_0')).toBe(false);
    expect(r.tensors.get('/p1/MaxPool_output_0')!.scale).toBe(r.tensors.get('/r1/Relu_output_0')!.scale);
    expect(r.layers.find((l) => l.node === '/c1/Conv')!.outputSqnr!).toBeGreaterThan(30);
  });

  it('int8 QDQ per-tensor and int8 symmetric activations', async () => {
    const pt = await both(await q({ perChannel: false }));
    expect(Math.abs(pt.edgeqAcc - FP32)).toBeLessThanOrEqual(0.005);
    expect(pt.agree).toBeGreaterThanOrEqual(0.99);
    const s8 = await q({ activationType: 'int8' });
    expect(s8.tensors.get('logits')!.zeroPoint).toBe(0);
    const c = await both(s8);
    expect(c.maxDiff).toBeLessThanOrEqual(s8.tensors.get('logits')!.scale * 1.0001);
    expect(Math.abs(c.edgeqAcc - FP32)).toBeLessThanOrEqual(0.003);
  });

  it('calibration methods: percentile and mse within 0.3 pt, entropy within 1 pt', async () => {
    // measured: minmax 96.90, percentile 96.90, mse 96.95, entropy 96.45 (KL clips the logits hard)
    for (const [method, tol] of [['percentile', 0.003], ['mse', 0.003], ['entropy', 0.01]] as const) {
      const r = await q({ method });
      expect(Math.abs((await accuracy(r.graph)) - FP32), method).toBeLessThanOrEqual(tol);
    }
  });

  it('QOperator format (QLinearConv, MatMulInteger chains, uint8 MaxPool) agrees with onnxruntime', async () => {
    const r = await q({ format: 'qoperator' });
    const ops = new Set(r.graph.nodes.map((n) => n.op));
    expect(ops.has('QLinearConv')).toBe(true);
    expect(ops.has('MatMulInteger')).toBe(true);
    expect(ops.has('Conv')).toBe(false);
    const c = await both(r);
    // measured 0.0261: only the float rescale of the MatMulInteger accumulators differs
    expect(c.maxDiff).toBeLessThanOrEqual(0.05);
    expect(c.agree).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(c.edgeqAcc - FP32)).toBeLessThanOrEqual(0.003);
  });

  it('dynamic quantization (DynamicQuantizeLinear + MatMulInteger) loads and agrees', async () => {
    const r = await quantize(g, { mode: 'dynamic' });
    expect(r.graph.nodes.filter((n) => n.op === 'MatMulInteger').length).toBe(3);
    expect(r.skipped.map((s) => s.op)).toEqual(['Conv', 'Conv']);
    const c = await both(r);
    // measured 0.0535: both runtimes quantize the activations at run time; ORT rounds the dynamic zero
    // point / scale in a different order, shifting some input codes by one step
    expect(c.maxDiff).toBeLessThanOrEqual(0.15);
    expect(c.agree).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(c.edgeqAcc - FP32)).toBeLessThanOrEqual(0.003);
  });

  it('fp16: float16 initializers, float32 I/O via Cast, agrees with onnxruntime', async () => {
    const r = await quantize(g, { mode: 'fp16' });
    expect([...r.graph.initializers.values()].every((t) => t.type === 'float16')).toBe(true);
    expect(r.graph.inputs[0]!.type.dtype).toBe('float32');
    const c = await both(r);
    // measured 0.0113: float16 rounding of every intermediate (≈ 2^-11 relative on logits of magnitude ~20)
    expect(c.maxDiff).toBeLessThanOrEqual(0.05);
    expect(c.agree).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(c.edgeqAcc - FP32)).toBeLessThanOrEqual(0.003);
    expect(c.bytes).toBeLessThan(0.55 * 248421);
    const keep = await quantize(g, { mode: 'fp16', keepIoFp16: true });
    expect(keep.graph.inputs[0]!.type.dtype).toBe('float16');
    expect(checkModel(keep.graph)).toEqual([]);
  });

  it('4-bit weights (MSE-optimal clipping) ≥ 96.5 % in onnxruntime; 2-bit beats round-to-nearest', async () => {
    const r4 = await q({ weightBits: 4 });
    const w4 = await both(r4);
    expect(w4.ortAcc).toBeGreaterThanOrEqual(0.965);
    // weights really 4-bit on disk: ONNX INT4 initializers (and zero points) feeding DequantizeLinear at opset ≥ 21
    // measured: 41 947 bytes = 16.9 % of the fp32 file; ORT and edgeq 97.00 %; max |ort − edgeq| = one logits step
    expect(w4.bytes).toBeLessThanOrEqual(0.2 * 248421);
    expect(r4.graph.initializers.get('c1.weight_quantized')!.type).toBe('int4');
    expect(r4.graph.initializers.get('c1.weight_zero_point')!.type).toBe('int4');
    expect(r4.graph.opsets['']).toBeGreaterThanOrEqual(21);
    expect(w4.maxDiff).toBeLessThanOrEqual(r4.tensors.get('logits')!.scale * 1.0001);
    expect(w4.agree).toBeGreaterThanOrEqual(0.99);
    expect(w4.edgeqAcc).toBeGreaterThanOrEqual(0.965);
    // asymmetric uint8 weights at 4 bits become UINT4
    const u4 = await q({ weightBits: 4, weightType: 'uint8' });
    expect(u4.graph.initializers.get('c1.weight_quantized')!.type).toBe('uint4');
    const cu = await both(u4);
    expect(cu.bytes).toBeLessThanOrEqual(0.2 * 248421);
    expect(cu.agree).toBeGreaterThanOrEqual(0.99);
    const w2 = await accuracy((await q({ weightBits: 2 })).graph);
    const w2rtn = await accuracy((await q({ weightBits: 2, weightClip: 'minmax' })).graph);
    // measured: 88.45 % vs 30.35 %
    expect(w2).toBeGreaterThan(w2rtn + 0.3);
  });

  it('calibration data that does not match the model input → InputError naming the input', async () => {
    const bad = new Tensor('float32', new Float32Array(10 * 784), [10, 784, 1]);
    await expect(quantize(g, { calib: bad })).rejects.toThrow(InputError);
    await expect(quantize(g, { calib: bad })).rejects.toThrow(/'input'/);
    const f64 = new Tensor('float64', new Float64Array(10 * 784), [10, 1, 28, 28]);
    await expect(quantize(g, { calib: f64 })).rejects.toThrow(/input 'input' is float64/);
    await expect(quantize(g, { calib: { other: xc } })).rejects.toThrow(/'input'/);
    await expect(quantize(g, {})).rejects.toThrow(InputError);
    await expect(quantize(g, { calib: xc, weightBits: 9 })).rejects.toThrow(InputError);
  });

  it('ops without a quantized form stay float and are listed; excluded nodes stay float', async () => {
    const h = g.clone();
    h.nodes = [...h.nodes.map((n) => ({ ...n, outputs: n.outputs.map((o) => (o === 'logits' ? 'pre' : o)) })), { name: 'sm', op: 'Softmax', domain: '', inputs: ['pre'], outputs: ['sig'], attrs: { axis: 1 } }, { name: 'th', op: 'Tanh', domain: '', inputs: ['sig'], outputs: ['logits'], attrs: {} }];
    const r = await quantize(h, { calib: xc, exclude: ['/f2/Gemm'] });
    expect(r.skipped.map((s) => s.node).sort()).toEqual(['/f2/Gemm', 'sm', 'th']);
    expect(r.graph.nodes.find((n) => n.op === 'Softmax')).toBeDefined();
    expect(r.graph.nodes.some((n) => n.op === 'Gemm' && n.inputs[1] === 'f2.weight')).toBe(true);
    expect(checkModel(r.graph)).toEqual([]);
    const c = await both(r);
    expect(c.agree).toBeGreaterThanOrEqual(0.99);
    const ex = await quantize(g, { calib: xc, excludeOps: ['Conv'] });
    expect(ex.graph.nodes.filter((n) => n.op === 'Conv').every((n) => n.inputs[1]!.endsWith('.weight'))).toBe(true);
  });

  it('CLI: edgeq quantize writes a checked model and reports accuracy (json)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-q-'));
    const out: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void out.push(s) };
    const code = await quantizeMain([dataPath('mnist/lenet.onnx'), join(dir, 'q.onnx'), '--calib', dataPath('mnist/x_calib.npy'), '--data', dataPath('mnist/x_test.npy'), '--labels', dataPath('mnist/y_test.npy'), '--json'], io);
    expect(code).toBe(0);
    const j = JSON.parse(out.join(''));
    expect(j.accuracy.fp32).toBeCloseTo(FP32, 4);
    expect(Math.abs(j.accuracy.quantized - FP32)).toBeLessThanOrEqual(0.003);
    expect(j.bytes.after).toBeLessThan(j.bytes.before * 0.3);
    const again = readModel(new Uint8Array(readFileSync(join(dir, 'q.onnx'))));
    expect(checkModel(again)).toEqual([]);
    out.length = 0;
    expect(await quantizeMain([dataPath('mnist/lenet.onnx'), join(dir, 'q2.onnx'), '--calib', dataPath('mnist/x_calib.npy'), '--report', '--format', 'qoperator'], io)).toBe(0);
    expect(out.join('')).toMatch(/\/c1\/Conv\s+Conv\s+[\d.]+\s+[\d.]+/);
  });
});
