// TFLite-domain ops (src/ops/tflite.ts) and the TFLite forms of ONNX-family ops the importer maps onto (Conv /
// QLinearConv with NHWC layouts, QGemm and QLinearAdd with rounding 'tflite'): validation names the node; edge
// cases the model data misses.
import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { Graph } from '../../src/ir/graph.js';
import { TFL_DOMAIN, tflPadding } from '../../src/ops/tflite.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import '../../src/ops/index.js';

/** One TFLite node; `consts` become initializers (weights carry .quant), the rest graph inputs. */
async function run(op: string, ins: Tensor[], attrs: Record<string, any> = {}, consts: number[] = [], domain = TFL_DOMAIN): Promise<Tensor> {
  const g = new Graph();
  g.opsets = { '': 18, [TFL_DOMAIN]: 1, 'com.microsoft': 1 };
  ins.forEach((t, i) => (consts.includes(i) ? g.initializers.set(`in${i}`, t) : g.inputs.push({ name: `in${i}`, type: { dtype: t.type, shape: [...t.dims] } })));
  g.nodes.push({ name: 'the_node', op, domain, inputs: ins.map((_, i) => `in${i}`), outputs: ['y'], attrs });
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  const s = await InferenceSession.create(g);
  const feeds: Record<string, Tensor> = {};
  ins.forEach((t, i) => !consts.includes(i) && (feeds[`in${i}`] = t));
  return (await s.run(feeds)).y!;
}
const f32 = (v: number[], dims = [v.length]) => new Tensor('float32', Float32Array.from(v), dims);
const i8 = (v: number[], dims = [v.length]) => new Tensor('int8', Int8Array.from(v), dims);
const list = (t: Tensor) => Array.from(t.data as ArrayLike<number>);
async function rejects(p: Promise<unknown>, re: RegExp) {
  const e = await p.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(ShapeError);
  expect(String((e as Error).message)).toMatch(/the_node/);
  expect(String((e as Error).message)).toMatch(re);
}

describe('TFLite padding (padding.h)', () => {
  // "SAME: out = (in + stride - 1) / stride; VALID: out = (in + stride - effective_filter) / stride; pad = total / 2"
  it('SAME/VALID sizes and begin padding', () => {
    expect(tflPadding('SAME', 5, 3, 2, 1)).toEqual({ out: 3, pad: 1 });
    expect(tflPadding('SAME', 4, 3, 2, 1)).toEqual({ out: 2, pad: 0 }); // total 1 → extra pixel at the end
    expect(tflPadding('VALID', 5, 3, 2, 1)).toEqual({ out: 2, pad: 0 });
    expect(tflPadding('SAME', 7, 3, 1, 2)).toEqual({ out: 7, pad: 2 });
  });
});

describe('TFLite CONV_2D / DEPTHWISE_CONV_2D forms: Conv / QLinearConv with NHWC layouts', () => {
  const NHWC = { data_layout: 'NHWC', weight_layout: 'OHWI' };
  const f = (v: number) => new Tensor('float32', Float32Array.of(v), []);
  it('float NHWC conv with OHWI weights and SAME padding', async () => {
    const x = f32([1, 2, 3, 4], [1, 2, 2, 1]);
    const w = f32([1, 1, 1, 1], [1, 2, 2, 1]);
    const y = await run('Conv', [x, w], { auto_pad: 'SAME_UPPER', ...NHWC }, [1], '');
    expect(y.dims).toEqual([1, 2, 2, 1]);
    expect(list(y)).toEqual([10, 6, 7, 4]); // window anchored at top-left, padding only at the end
  });
  it('depthwise with multiplier 2 (1HWO)', async () => {
    const x = f32([1, 10], [1, 1, 1, 2]);
    const w = f32([1, 2, 3, 4], [1, 1, 1, 4]);
    const y = await run('Conv', [x, w], { auto_pad: 'VALID', group: 2, data_layout: 'NHWC', weight_layout: '1HWO' }, [1], '');
    expect(list(y)).toEqual([1, 2, 30, 40]);
  });
  it("int8 per-channel requantize with bias (QLinearConv rounding 'tflite')", async () => {
    const x = i8([10, -20], [1, 1, 1, 2]);
    const w = i8([1, 1, 2, -1], [2, 1, 1, 2]);
    const b = new Tensor('int32', Int32Array.of(100, -8), [2]);
    const ins = [x, f(0.1), i8([-2], []), w, f32([0.5, 0.25]), i8([0, 0]), f(0.2), i8([3], []), b];
    const y = await run('QLinearConv', ins, { auto_pad: 'VALID', ...NHWC, rounding: 'tflite' }, [1, 2, 3, 4, 5, 6, 7, 8], '');
    // acc0 = (12)(1) + (-18)(1) + 100 = 94 → 94·0.1·0.5/0.2 = 23.5 → 24 (+3); acc1 = 24 + 18 - 8 = 34 → 34·0.125 = 4.25 → 4 (+3)
    expect(list(y)).toEqual([27, 7]);
    // 16x8 with an int64 bias: the int64 MultiplyByQuantizedMultiplier (reduced 16-bit multiplier)
    const x16 = new Tensor('int16', Int16Array.of(1000, -2000), [1, 1, 1, 2]);
    const i16 = (v: number) => new Tensor('int16', Int16Array.of(v), []);
    const b64 = new Tensor('int64', BigInt64Array.of(100n, -8n), [2]);
    const y16 = await run('QLinearConv', [x16, f(0.1), i16(0), w, f32([0.5, 0.25]), i8([0, 0]), f(0.2), i16(3), b64], { auto_pad: 'VALID', ...NHWC, rounding: 'tflite' }, [1, 2, 3, 4, 5, 6, 7, 8], '');
    // acc0 = 1000 - 2000 + 100 = -900 → -900·0.25 = -225 (+3); acc1 = 2000 + 2000 - 8 = 3992 → 3992·0.125 = 499 (+3)
    expect(list(y16)).toEqual([-222, 502]);
  });
  it('rejects bad shapes and TFLite-only violations naming the node', async () => {
    await rejects(run('Conv', [f32([1, 2, 3], [1, 3]), f32([1], [1, 1, 1, 1])], NHWC, [1], ''), /rank/);
    await rejects(run('Conv', [f32([1, 2], [1, 1, 1, 2]), f32([1, 2, 3], [1, 1, 1, 3])], NHWC, [1], ''), /2 channels but W expects 3/);
    await rejects(run('Conv', [f32([1], [1, 1, 1, 1]), f32([1], [1, 1, 1, 1]), f32([1, 2])], NHWC, [1, 2], ''), /B has 2 elements, expected 1/);
    await rejects(run('Conv', [f32([1], [1, 1, 1, 1]), f32([1], [1, 1, 1, 1])], { ...NHWC, strides: [1, 0] }, [1], ''), /strides must be 2 positive ints/);
    const q = (wzp: number, ys: number) => [i8([1], [1, 1, 1, 1]), f(1), i8([0], []), i8([1], [1, 1, 1, 1]), f(1), i8([wzp], []), f(ys), i8([0], [])];
    await rejects(run('QLinearConv', q(0, 0), { ...NHWC, rounding: 'tflite' }, [1, 2, 3, 4, 5, 6, 7], ''), /y_scale must be positive/);
    const e = await run('QLinearConv', q(1, 1), { ...NHWC, rounding: 'tflite' }, [1, 2, 3, 4, 5, 6, 7], '').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(String(e)).toMatch(/the_node.*symmetric/);
  });
});

describe('QGemm / QLinearAdd (TFLite forms) / SUB / pooling / QUANTIZE', () => {
  it("QGemm rounding 'tflite' (quantized FULLY_CONNECTED): y = x·Wᵀ + bias, requantized per output channel", async () => {
    const f = (v: number) => new Tensor('float32', Float32Array.of(v), []);
    const x = i8([10, -20, 5, 7], [2, 2]);
    const w = i8([1, 2, -3, 1], [2, 2]); // [units, K]
    const b = new Tensor('int32', Int32Array.of(10, -10), [2]);
    const y = await run('QGemm', [x, f(0.5), i8([1], []), w, f32([1, 0.5]), i8([0, 0]), b, f(2), i8([-1], [])], { transB: 1, rounding: 'tflite' }, [1, 2, 3, 4, 5, 6, 7, 8], 'com.microsoft');
    // row 0: x - 1 = [9, -21]; u0: 9 - 42 + 10 = -23 → ·0.25 = -5.75 → -6 (-1); u1: -27 - 21 - 10 = -58 → ·0.125 = -7.25 → -7 (-1)
    // row 1: x - 1 = [4, 6];   u0: 4 + 12 + 10 = 26 → 6.5 → 7 (-1);          u1: -12 + 6 - 10 = -16 → -2 (-1)
    expect(list(y)).toEqual([-7, -8, 6, -3]);
    await rejects(run('QGemm', [x, f(0.5), i8([1], []), i8([1, 2, 3], [1, 3]), f(1), i8([0], []), b, f(2), i8([0], [])], { transB: 1, rounding: 'tflite' }, [1, 2, 3, 4, 5, 6, 7, 8], 'com.microsoft'), /inner dims differ/);
    await rejects(run('QGemm', [x, f(0.5), i8([1], []), w, f(1), i8([0], [])], { rounding: 'tflite' }, [1, 2, 3, 4, 5], 'com.microsoft'), /needs y_scale/);
  });
  it("QLinearAdd rounding 'tflite' (quantized ADD): add.cc rescale, broadcasting", async () => {
    const f = (v: number) => new Tensor('float32', Float32Array.of(v), []);
    const z = i8([0], []);
    await rejects(run('QLinearAdd', [i8([1, 2]), f(1), z, i8([1, 2, 3]), f(1), z, f(1), z], { rounding: 'tflite' }, [1, 2, 4, 5, 6, 7], 'com.microsoft'), /not broadcastable/);
    const y = await run('QLinearAdd', [i8([10, 20]), f(0.5), z, i8([4]), f(1), z, f(1), z], { rounding: 'tflite' }, [1, 2, 4, 5, 6, 7], 'com.microsoft');
    expect(list(y)).toEqual([9, 14]);
  });
  it("QLinearLeakyRelu (ORT table, and rounding 'tflite' for quantized LEAKY_RELU incl. int16)", async () => {
    const f = (v: number) => new Tensor('float32', Float32Array.of(v), []);
    // x·0.5 = [-5, -0.5, 5] → leaky(alpha 0.1) = [-0.5, -0.05, 5] → /0.25 = [-2, -0.2, 20]
    const ins = [i8([-10, -1, 10]), f(0.5), i8([0], []), f(0.25), i8([0], [])];
    expect(list(await run('QLinearLeakyRelu', ins, { alpha: 0.1 }, [1, 2, 3, 4], 'com.microsoft'))).toEqual([-2, 0, 20]);
    expect(list(await run('QLinearLeakyRelu', ins, { alpha: 0.1, rounding: 'tflite' }, [1, 2, 3, 4], 'com.microsoft'))).toEqual([-2, 0, 20]);
    const i16 = (v: number[], d = [v.length]) => new Tensor('int16', Int16Array.from(v), d);
    expect(list(await run('QLinearLeakyRelu', [i16([-30000, 30000]), f(0.5), i16([0], []), f(0.25), i16([0], [])], { alpha: 0.1, rounding: 'tflite' }, [1, 2, 3, 4], 'com.microsoft'))).toEqual([-6000, 32767]);
    await rejects(run('QLinearLeakyRelu', [i16([1]), f(0.5), i16([0], []), f(0.25), i16([0], [])], { alpha: 0.1 }, [1, 2, 3, 4], 'com.microsoft'), /X has type int16/);
  });
  it('int16 ADD/SUB with power-of-two scales shifts one input (pot_scale_int16)', async () => {
    const i16 = (v: number[]) => new Tensor('int16', Int16Array.from(v), [v.length]);
    const q = { in_scale: [2 ** -10, 2 ** -12], in_zero_point: [0, 0], out_scale: [2 ** -10], out_zero_point: [0], pot_scale_int16: 1 };
    // input2 at 2^-12 is shifted right by 2 with rounding: 6 → 2 (1.5 → 2), -6 → -2, 32767 saturates
    const f = (v: number) => new Tensor('float32', Float32Array.of(v), []);
    const z = new Tensor('int16', Int16Array.of(0), []);
    const add = [i16([100, 100, 32760]), f(2 ** -10), z, i16([6, -6, 400]), f(2 ** -12), z, f(2 ** -10), z];
    expect(list(await run('QLinearAdd', add, { rounding: 'tflite', pot_scale_int16: 1 }, [1, 2, 4, 5, 6, 7], 'com.microsoft'))).toEqual([102, 98, 32767]);
    expect(list(await run('SUB', [i16([100, 100]), i16([6, -6])], q))).toEqual([98, 102]);
  });
  it('int8 average pool rounds half away from zero; padding excluded from the count', async () => {
    const x = i8([1, 2, -1, -2], [1, 2, 2, 1]);
    const q = { in_scale: [1], in_zero_point: [0], out_scale: [1], out_zero_point: [0] };
    expect(list(await run('AVERAGE_POOL_2D', [x], { padding: 'VALID', filter_width: 2, filter_height: 1, stride_w: 2, ...q }))).toEqual([2, -2]); // 1.5 → 2, -1.5 → -2
    expect(list(await run('AVERAGE_POOL_2D', [x], { padding: 'SAME', filter_width: 2, filter_height: 2, ...q }))).toEqual([0, 0, -2, -2]);
    await rejects(run('MAX_POOL_2D', [x], { filter_width: 0, filter_height: 1, ...q }), /filter_width must be ≥ 1/);
  });
  it('QUANTIZE float → int8 (round half away) and requantize', async () => {
    expect(list(await run('QUANTIZE', [f32([0.25, -0.25, 100])], { output_type: 'int8', out_scale: [0.5], out_zero_point: [0] }))).toEqual([1, -1, 127]);
    expect(list(await run('QUANTIZE', [i8([3, -3])], { output_type: 'int16', in_scale: [0.5], in_zero_point: [0], out_scale: [1], out_zero_point: [0] }))).toEqual([2, -1]);
    await rejects(run('QUANTIZE', [f32([1])], { output_type: 'int8' }), /output has no quantization parameters/);
  });
});
