import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { Graph } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { f16ToF32, f32ArrayToF16 } from '../../src/tensor/fp16.js';
import { Tensor } from '../../src/tensor/tensor.js';
import '../../src/ops/index.js';

/** One-node graph: every input fed at run time, outputs y0.. (or names given). */
async function run(op: string, ins: (Tensor | undefined)[], attrs: Record<string, any> = {}, nOut = 1, domain = ''): Promise<Tensor[]> {
  const g = new Graph();
  g.opsets = { '': 25, 'com.microsoft': 1 };
  const names = ins.map((t, i) => (t ? `in${i}` : ''));
  ins.forEach((t, i) => t && g.inputs.push({ name: `in${i}`, type: { dtype: t.type, shape: [...t.dims] } }));
  const outs = Array.from({ length: nOut }, (_, i) => `y${i}`);
  g.nodes.push({ name: 'the_node', op, domain, inputs: names, outputs: outs, attrs });
  g.outputs = outs.map((name) => ({ name, type: { dtype: 'float32' } }));
  const s = await InferenceSession.create(g);
  const feeds: Record<string, Tensor> = {};
  ins.forEach((t, i) => t && (feeds[`in${i}`] = t));
  const r = await s.run(feeds);
  return outs.map((o) => r[o]!);
}

const f32 = (v: number[], dims = [v.length]) => new Tensor('float32', Float32Array.from(v), dims);
const u8 = (v: number[], dims = [v.length]) => new Tensor('uint8', Uint8Array.from(v), dims);
const i8 = (v: number[], dims = [v.length]) => new Tensor('int8', Int8Array.from(v), dims);
const list = (t: Tensor) => Array.from(t.data as ArrayLike<number>);

async function rejects(p: Promise<unknown>, Err: typeof ShapeError | typeof UnsupportedError, re: RegExp) {
  const e = await p.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(Err);
  expect(String(e.message)).toMatch(/the_node/);
  expect(String(e.message)).toMatch(re);
}

describe('QuantizeLinear', () => {
  it('blocked quantization with a partial last block (ceil)', async () => {
    // x [2,5], block 2 along axis 1 -> scale [2,3]
    const x = f32([1, 2, 3, 4, 5, -1, -2, -3, -4, -5], [2, 5]);
    const s = f32([1, 2, 4, 1, 0.5, 0.25], [2, 3]);
    const [y] = await run('QuantizeLinear', [x, s, i8([0, 0, 1, 0, 0, 0], [2, 3])], { axis: 1, block_size: 2 });
    // row0: 1/1,2/1,3/2,4/2,5/4+1 ; row1: -1,-2,-3/0.5,-4/0.5,-5/0.25
    expect(list(y!)).toEqual([1, 2, 2, 2, 2, -1, -2, -6, -8, -20]);
  });
  it('per-axis with a negative axis, int16 saturation', async () => {
    const x = f32([1e6, -1e6, 3, 5], [2, 2]);
    const s = f32([1, 2]);
    const [y] = await run('QuantizeLinear', [x, s, new Tensor('int16', Int16Array.from([0, 0]), [2])], { axis: -1 });
    expect(y!.type).toBe('int16');
    expect(list(y!)).toEqual([32767, -32768, 3, 2]); // 5/2 = 2.5 -> 2
  });
  it('defaults to uint8 without a zero point; output_dtype selects int8', async () => {
    const [a] = await run('QuantizeLinear', [f32([-1, 0.5, 1.5, 300]), f32([1], [])]);
    expect(a!.type).toBe('uint8');
    expect(list(a!)).toEqual([0, 0, 2, 255]);
    const [b] = await run('QuantizeLinear', [f32([-1, 0.5, 1.5, 300]), f32([1], [])], { output_dtype: 3 });
    expect(b!.type).toBe('int8');
    expect(list(b!)).toEqual([-1, 0, 2, 127]);
  });
  it('float16 x and scale (division in float16)', async () => {
    const x = new Tensor('float16', f32ArrayToF16([3, -7, 100]), [3]);
    const s = new Tensor('float16', f32ArrayToF16([2]), []);
    const [y] = await run('QuantizeLinear', [x, s, i8([1], [])]);
    expect(list(y!)).toEqual([3, -3, 51]);
  });
  it('empty tensors', async () => {
    const [y] = await run('QuantizeLinear', [f32([], [0, 3]), f32([1, 1, 1])]);
    expect(y!.dims).toEqual([0, 3]);
  });
  it('rejects bad granularity, mismatched zero point and unsupported dtypes', async () => {
    await rejects(run('QuantizeLinear', [f32([1, 2, 3, 4], [2, 2]), f32([1, 1, 1])]), ShapeError, /per-axis/);
    await rejects(run('QuantizeLinear', [f32([1, 2, 3, 4], [2, 2]), f32([1, 1]), u8([1])]), ShapeError, /zero point shape/);
    await rejects(run('QuantizeLinear', [f32([1, 2, 3, 4], [2, 2]), f32([1, 1], [2, 1]), undefined], { axis: 1, block_size: 1 }), ShapeError, /blocked/);
    await rejects(run('QuantizeLinear', [f32([1, 2, 3, 4], [2, 2]), f32([1, 1], [2, 1])], { axis: 1, block_size: -1 }), ShapeError, /block_size/);
    await rejects(run('QuantizeLinear', [f32([1, 2]), f32([1, 1]), u8([1, 1])], { axis: 3 }), ShapeError, /axis/);
    await rejects(run('QuantizeLinear', [f32([1]), f32([1], []), u8([1], [])], { output_dtype: 3 }), ShapeError, /output_dtype/);
    await rejects(run('QuantizeLinear', [f32([1]), f32([1], [])], { output_dtype: 24 }), UnsupportedError, /output_dtype=24/);
    await rejects(run('QuantizeLinear', [u8([1]), f32([1], [])]), ShapeError, /x has type uint8/);
  });
});

describe('DequantizeLinear', () => {
  it('int32 without zero point, per-axis', async () => {
    const x = new Tensor('int32', Int32Array.from([-2147483648, 10, 7, -3]), [2, 2]);
    const [y] = await run('DequantizeLinear', [x, f32([0.5, 2])], { axis: 0 });
    expect(list(y!)).toEqual([-1073741824, 5, 14, -6]);
  });
  it('output_dtype float16 rounds the product to half', async () => {
    const [y] = await run('DequantizeLinear', [u8([0, 255, 3]), f32([0.1], []), u8([1], [])], { output_dtype: 10 });
    expect(y!.type).toBe('float16');
    const v = Array.from(y!.data as Uint16Array, f16ToF32);
    expect(v[0]).toBeCloseTo(-0.1, 3);
    expect(v[1]).toBeCloseTo(25.4, 1);
  });
  it('rejects a zero point of another type and a float x', async () => {
    await rejects(run('DequantizeLinear', [u8([1]), f32([1], []), i8([1], [])]), ShapeError, /x_zero_point/);
    await rejects(run('DequantizeLinear', [f32([1]), f32([1], [])]), ShapeError, /x has type float32/);
  });
});

describe('DynamicQuantizeLinear', () => {
  it('all zeros: scale 0, zero point 0, y 0', async () => {
    const [y, s, z] = await run('DynamicQuantizeLinear', [f32([0, 0, 0])], {}, 3);
    expect(list(y!)).toEqual([0, 0, 0]);
    expect(list(s!)).toEqual([0]);
    expect(list(z!)).toEqual([0]);
  });
  it('range includes 0 (all positive / all negative)', async () => {
    const [y, s, z] = await run('DynamicQuantizeLinear', [f32([1, 2, 2.55])], {}, 3);
    expect(s!.data[0]).toBeCloseTo(0.01, 6);
    expect(list(z!)).toEqual([0]);
    expect(list(y!)).toEqual([100, 200, 255]);
    const [y2, , z2] = await run('DynamicQuantizeLinear', [f32([-2.55, -1])], {}, 3);
    expect(list(z2!)).toEqual([255]);
    expect(list(y2!)).toEqual([0, 155]);
  });
  it('empty input', async () => {
    const [y, s] = await run('DynamicQuantizeLinear', [f32([], [0])], {}, 3);
    expect(y!.size).toBe(0);
    expect(s!.size).toBe(1);
  });
});

/** Plain integer matmul of 2-D row-major arrays. */
function mm(a: number[], b: number[], M: number, K: number, N: number): number[] {
  const c = new Array(M * N).fill(0);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) c[i * N + j] += a[i * K + k]! * b[k * N + j]!;
  return c;
}

describe('MatMulInteger', () => {
  it('broadcasts batch dims, per-row and per-column zero points', async () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; // [2,2,3]
    const b = [3, 1, 4, 1, 5, 9]; // [3,2]
    const [y] = await run('MatMulInteger', [u8(a, [2, 2, 3]), u8(b, [1, 3, 2]), u8([1, 2]), u8([3, 1])]);
    expect(y!.dims).toEqual([2, 2, 2]);
    const a2 = a.map((v, i) => v - [1, 2][Math.floor(i / 3) % 2]!);
    const b2 = b.map((v, i) => v - [3, 1][i % 2]!);
    expect(list(y!)).toEqual([...mm(a2.slice(0, 6), b2, 2, 3, 2), ...mm(a2.slice(6), b2, 2, 3, 2)]);
  });
  it('1-D operands', async () => {
    const [y] = await run('MatMulInteger', [i8([1, -2, 3]), i8([4, 5, -6])]);
    expect(y!.dims).toEqual([]);
    expect(list(y!)).toEqual([4 - 10 - 18]);
    const [z] = await run('MatMulInteger', [i8([1, -2]), i8([1, 2, 3, 4], [2, 2])]);
    expect(list(z!)).toEqual([1 - 6, 2 - 8]);
  });
  it('extreme values are exact (int8 × int8, K = 300)', async () => {
    const K = 300;
    const [y] = await run('MatMulInteger', [i8(new Array(K).fill(-128), [1, K]), i8(new Array(K).fill(-128), [K, 1])]);
    expect(list(y!)).toEqual([K * 16384]);
  });
  it('rejects mismatched inner dims and bad zero points', async () => {
    await rejects(run('MatMulInteger', [u8([1, 2, 3], [1, 3]), u8([1, 2], [2, 1])]), ShapeError, /inner dims/);
    await rejects(run('MatMulInteger', [u8([1, 2, 3], [1, 3]), u8([1, 2, 3], [3, 1]), u8([1, 2])]), ShapeError, /a_zero_point/);
    await rejects(run('MatMulInteger', [u8([1, 2], [1, 2]), u8([1, 2], [2, 1]), i8([1], [])]), ShapeError, /a_zero_point has type int8/);
    await rejects(run('MatMulInteger', [u8([1, 2, 3, 4], [2, 1, 2]), u8([1, 2, 3, 4, 5, 6], [3, 2, 1])]), ShapeError, /batch dims/);
  });
});

describe('QLinearMatMul', () => {
  it('per-row a_scale and per-column b_scale', async () => {
    const a = u8([10, 20, 30, 40], [2, 2]);
    const b = u8([1, 2, 3, 4], [2, 2]);
    const ins = [a, f32([0.5, 1]), u8([0], []), b, f32([1, 2]), u8([1], []), f32([1], []), u8([10], [])];
    const [y] = await run('QLinearMatMul', ins);
    // A·(B-1) = [[10,20],[30,40]]·[[0,1],[2,3]] = [[40,70],[80,150]]; × a_s[i]·b_s[j]
    expect(list(y!)).toEqual([10 + 20, 10 + 70, 10 + 80, 255]);
  });
});

describe('ConvInteger', () => {
  it('group=2, per-channel w zero point, SAME_UPPER padding (pads contribute 0 after x_zp)', async () => {
    // x [1,2,3,3] channels 0..8 and 10..18, x_zp 1; w [2,1,2,2] all 2 with w_zp [1,0]
    const x = u8([...Array.from({ length: 9 }, (_, i) => i + 1), ...Array.from({ length: 9 }, (_, i) => i + 11)], [1, 2, 3, 3]);
    const w = u8(new Array(8).fill(2), [2, 1, 2, 2]);
    const [y] = await run('ConvInteger', [x, w, u8([1], []), u8([1, 0])], { group: 2, auto_pad: 'SAME_UPPER' });
    expect(y!.dims).toEqual([1, 2, 3, 3]);
    const xs = list(x).map((v) => v - 1);
    const want: number[] = [];
    for (let m = 0; m < 2; m++) {
      const wv = 2 - [1, 0][m]!;
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          let s = 0;
          for (let di = 0; di < 2; di++) for (let dj = 0; dj < 2; dj++) if (i + di < 3 && j + dj < 3) s += xs[m * 9 + (i + di) * 3 + j + dj]! * wv;
          want.push(s);
        }
    }
    expect(list(y!)).toEqual(want);
  });
  it('1-D and 3-D convolutions', async () => {
    const [y1] = await run('ConvInteger', [u8([1, 2, 3, 4], [1, 1, 4]), u8([1, 1], [1, 1, 2])], { strides: [2] });
    expect(list(y1!)).toEqual([3, 7]);
    const [y3] = await run('ConvInteger', [u8(new Array(8).fill(1), [1, 1, 2, 2, 2]), u8(new Array(8).fill(3), [1, 1, 2, 2, 2])]);
    expect(list(y3!)).toEqual([24]);
  });
  it('rejects channel mismatch, bad group and short inputs', async () => {
    await rejects(run('ConvInteger', [u8(new Array(18).fill(0), [1, 2, 3, 3]), u8(new Array(12).fill(0), [1, 3, 2, 2])]), ShapeError, /channels/);
    await rejects(run('ConvInteger', [u8(new Array(18).fill(0), [1, 2, 3, 3]), u8(new Array(12).fill(0), [3, 1, 2, 2])], { group: 2 }), ShapeError, /multiple of group/);
    await rejects(run('ConvInteger', [u8(new Array(9).fill(0), [1, 1, 3, 3]), u8(new Array(16).fill(0), [1, 1, 4, 4])]), ShapeError, /output spatial/);
    await rejects(run('ConvInteger', [u8([1, 2, 3], [1, 3]), u8([1, 2, 3], [1, 3])]), ShapeError, /rank/);
  });
});

describe('QLinearConv', () => {
  it('per-channel w_scale, int32 bias, int8 output saturation', async () => {
    const x = u8([2, 4, 6, 8], [1, 1, 2, 2]);
    const w = i8([1, 1, 1, 1, -1, -1, -1, -1], [2, 1, 2, 2]);
    const ins = [x, f32([0.5], []), u8([2], []), w, f32([1, 100]), i8([0, 0]), f32([1], []), i8([-1], []), new Tensor('int32', Int32Array.from([1, 0]), [2])];
    const [y] = await run('QLinearConv', ins);
    // acc0 = (0+2+4+6)+1 = 13 -> 13·0.5 = 6.5 -> 6 (even) -1 = 5; acc1 = -12 -> -12·50 = -600 -> -128
    expect(y!.type).toBe('int8');
    expect(list(y!)).toEqual([5, -128]);
  });
  it('rejects a per-channel x_scale and a bias of the wrong length', async () => {
    const x = u8([2, 4, 6, 8], [1, 1, 2, 2]);
    const w = u8([1, 1, 1, 1], [1, 1, 2, 2]);
    const base = [x, f32([0.5], []), u8([2], []), w, f32([1], []), u8([0], []), f32([1], []), u8([0], [])];
    const bad = [...base];
    bad[1] = f32([0.5, 0.5]);
    await rejects(run('QLinearConv', bad), ShapeError, /x_scale must be a scalar/);
    await rejects(run('QLinearConv', [...base, new Tensor('int32', Int32Array.from([1, 2]), [2])]), ShapeError, /B must be 1-D/);
  });
});

describe('symbolic dims', () => {
  it('QLinearConv with symbolic batch keeps N and computes spatial dims', async () => {
    const g = new Graph();
    g.opsets = { '': 21 };
    g.inputs.push({ name: 'x', type: { dtype: 'uint8', shape: ['N', 1, 4, 4] } });
    const c = (n: string, t: Tensor) => g.initializers.set(n, t);
    c('xs', f32([1], []));
    c('xz', u8([0], []));
    c('w', u8(new Array(9).fill(1), [1, 1, 3, 3]));
    c('ws', f32([1], []));
    c('wz', u8([0], []));
    c('ys', f32([1], []));
    c('yz', u8([0], []));
    g.nodes.push({ name: 'the_node', op: 'QLinearConv', domain: '', inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } });
    g.outputs = [{ name: 'y', type: { dtype: 'uint8' } }];
    const s = await InferenceSession.create(g);
    expect(s.outputMetadata[0]!.shape).toEqual(['N', 1, 4, 4]);
    const r = await s.run({ x: u8(new Array(32).fill(1), [2, 1, 4, 4]) });
    expect(list(r.y!).slice(0, 5)).toEqual([4, 6, 6, 4, 6]);
  });
});

describe('com.microsoft quantized ops', () => {
  const MS = 'com.microsoft';
  it('QLinearAdd broadcasts and requantizes', async () => {
    // A real = 0.5·(a-10), B real = 1·(b-0), C = round(sum / 0.25) + 5
    const ins = [u8([10, 12, 14, 16], [2, 2]), f32([0.5], []), u8([10], []), u8([1, 200], [2]), f32([1], []), u8([0], []), f32([0.25], []), u8([5], [])];
    const [y] = await run('QLinearAdd', ins, {}, 1, MS);
    expect(list(y!)).toEqual([9, 255, 17, 255]);
  });
  it('QLinearMul int8', async () => {
    const ins = [i8([-4, 4], [2]), f32([0.5], []), i8([0], []), i8([3], []), f32([1], []), i8([1], []), f32([0.5], []), i8([0], [])];
    const [y] = await run('QLinearMul', ins, {}, 1, MS);
    expect(list(y!)).toEqual([-8, 8]);
  });
  it('QLinearSigmoid', async () => {
    const [y] = await run('QLinearSigmoid', [u8([128, 0, 255]), f32([0.1], []), u8([128], []), f32([1 / 256], []), u8([0], [])], {}, 1, MS);
    expect(list(y!)).toEqual([128, roundTo(256 / (1 + Math.exp(12.8))), 255]);
  });
  it('QLinearGlobalAveragePool NCHW and NHWC', async () => {
    const x = u8([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
    const p = [f32([1], []), u8([0], []), f32([1], []), u8([0], [])];
    const [a] = await run('QLinearGlobalAveragePool', [x, ...p], {}, 1, MS);
    expect(a!.dims).toEqual([1, 2, 1, 1]);
    expect(list(a!)).toEqual([2, 25]); // 2.5 -> 2, 25
    const [b] = await run('QLinearGlobalAveragePool', [u8([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]), ...p], { channels_last: 1 }, 1, MS);
    expect(b!.dims).toEqual([1, 1, 1, 2]);
    expect(list(b!)).toEqual([2, 25]);
  });
});
function roundTo(v: number): number {
  return Math.round(v);
}
