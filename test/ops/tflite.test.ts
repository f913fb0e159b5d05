// TFLite-domain ops (src/ops/tflite.ts): validation names the node; edge cases the model data misses.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import { Graph } from '../../src/ir/graph.js';
import { TFL_DOMAIN, tflPadding } from '../../src/ops/tflite.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import '../../src/ops/index.js';

/** One TFLite node; `consts` become initializers (weights carry .quant), the rest graph inputs. */
async function run(op: string, ins: Tensor[], attrs: Record<string, any> = {}, consts: number[] = []): Promise<Tensor> {
  const g = new Graph();
  g.opsets = { '': 18, [TFL_DOMAIN]: 1 };
  ins.forEach((t, i) => (consts.includes(i) ? g.initializers.set(`in${i}`, t) : g.inputs.push({ name: `in${i}`, type: { dtype: t.type, shape: [...t.dims] } })));
  g.nodes.push({ name: 'the_node', op, domain: TFL_DOMAIN, inputs: ins.map((_, i) => `in${i}`), outputs: ['y'], attrs });
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

describe('CONV_2D / DEPTHWISE_CONV_2D', () => {
  it('float NHWC conv with OHWI weights and SAME padding', async () => {
    const x = f32([1, 2, 3, 4], [1, 2, 2, 1]);
    const w = f32([1, 1, 1, 1], [1, 2, 2, 1]);
    const y = await run('CONV_2D', [x, w], { padding: 'SAME' }, [1]);
    expect(y.dims).toEqual([1, 2, 2, 1]);
    expect(list(y)).toEqual([10, 6, 7, 4]); // window anchored at top-left, padding only at the end
  });
  it('depthwise with multiplier 2 (1HWO)', async () => {
    const x = f32([1, 10], [1, 1, 1, 2]);
    const w = f32([1, 2, 3, 4], [1, 1, 1, 4]);
    const y = await run('DEPTHWISE_CONV_2D', [x, w], { padding: 'VALID' }, [1]);
    expect(list(y)).toEqual([1, 2, 30, 40]);
  });
  it('int8 per-channel requantize with bias', async () => {
    const x = i8([10, -20], [1, 1, 1, 2]);
    const w = i8([1, 1, 2, -1], [2, 1, 1, 2]);
    w.quant = { scale: Float32Array.of(0.5, 0.25), zeroPoint: Int32Array.of(0, 0), axis: 0 };
    const b = new Tensor('int32', Int32Array.of(100, -8), [2]);
    const y = await run('CONV_2D', [x, w, b], { padding: 'VALID', in_scale: [0.1], in_zero_point: [-2], out_scale: [0.2], out_zero_point: [3] }, [1, 2]);
    // acc0 = (12)(1) + (-18)(1) + 100 = 94 → 94·0.1·0.5/0.2 = 23.5 → 24 (+3); acc1 = 24 + 18 - 8 = 34 → 34·0.125 = 4.25 → 4 (+3)
    expect(list(y)).toEqual([27, 7]);
  });
  it('rejects bad shapes naming the node', async () => {
    await rejects(run('CONV_2D', [f32([1, 2, 3], [1, 3]), f32([1], [1, 1, 1, 1])], {}, [1]), /input must have rank 4/);
    await rejects(run('CONV_2D', [f32([1, 2], [1, 1, 1, 2]), f32([1, 2, 3], [1, 1, 1, 3])], {}, [1]), /not a multiple of filter input channels/);
    await rejects(run('CONV_2D', [f32([1], [1, 1, 1, 1]), f32([1], [1, 1, 1, 1]), f32([1, 2])], {}, [1, 2]), /bias must have shape \[1\]/);
    await rejects(run('CONV_2D', [f32([1], [1, 1, 1, 1]), f32([1], [1, 1, 1, 1])], { stride_w: 0 }, [1]), /stride_w must be ≥ 1/);
    await rejects(run('CONV_2D', [i8([1], [1, 1, 1, 1]), i8([1], [1, 1, 1, 1])], {}, [1]), /input is int8 but has no quantization parameters/);
  });
});

describe('FULLY_CONNECTED / ADD / pooling / QUANTIZE', () => {
  it('FC flattens leading dims unless keep_num_dims', async () => {
    const x = f32([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const w = f32([1, 0, 0, 0, 0, 1], [2, 3]);
    expect((await run('FULLY_CONNECTED', [x, w], {}, [1])).dims).toEqual([2, 2]);
    const y = await run('FULLY_CONNECTED', [x, w], { keep_num_dims: 1 }, [1]);
    expect(y.dims).toEqual([1, 2, 2]);
    expect(list(y)).toEqual([1, 3, 4, 6]);
    await rejects(run('FULLY_CONNECTED', [f32([1, 2, 3, 4, 5]), w], {}, [1]), /not a multiple of weights depth 3/);
  });
  it('ADD broadcasting and quantized rescale', async () => {
    await rejects(run('ADD', [f32([1, 2]), f32([1, 2, 3])]), /not broadcastable/);
    const y = await run('ADD', [i8([10, 20]), i8([4])], { in_scale: [0.5, 1], in_zero_point: [0, 0], out_scale: [1], out_zero_point: [0] });
    expect(list(y)).toEqual([9, 14]);
  });
  it('int16 ADD/SUB with power-of-two scales shifts one input (pot_scale_int16)', async () => {
    const i16 = (v: number[]) => new Tensor('int16', Int16Array.from(v), [v.length]);
    const q = { in_scale: [2 ** -10, 2 ** -12], in_zero_point: [0, 0], out_scale: [2 ** -10], out_zero_point: [0], pot_scale_int16: 1 };
    // input2 at 2^-12 is shifted right by 2 with rounding: 6 → 2 (1.5 → 2), -6 → -2, 32767 saturates
    expect(list(await run('ADD', [i16([100, 100, 32760]), i16([6, -6, 400])], q))).toEqual([102, 98, 32767]);
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
