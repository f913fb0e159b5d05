import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { Graph, type Dim } from '../../src/ir/graph.js';
import { upgradeNode } from '../../src/formats/onnx/legacy/index.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../../src/tensor/fp16.js';
import { Tensor } from '../../src/tensor/tensor.js';

type In = { name: string; dtype: DType; shape?: Dim[] };

function graph(op: string, ins: In[], attrs: Record<string, any> = {}, opset = 22): Graph {
  const g = new Graph();
  g.opsets = { '': opset };
  for (const i of ins) g.inputs.push({ name: i.name, type: { dtype: i.dtype, ...(i.shape ? { shape: i.shape } : {}) } });
  g.nodes.push({ name: 'n0', op, domain: '', inputs: ins.map((i) => i.name), outputs: ['y'], attrs });
  g.outputs.push({ name: 'y', type: { dtype: 'float32' } });
  return g;
}

async function run(op: string, feeds: Record<string, Tensor>, attrs: Record<string, any> = {}): Promise<Tensor> {
  const ins = Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.type, shape: [...t.dims] }));
  const s = await InferenceSession.create(graph(op, ins, attrs));
  return (await s.run(feeds)).y!;
}

const arr = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>);
const f32 = (v: number[], dims = [v.length]) => new Tensor('float32', v, dims);

describe('activations', () => {
  it('Relu on int64 is exact', async () => {
    expect(arr(await run('Relu', { x: new Tensor('int64', [-5n, 9007199254740993n], [2]) }))).toEqual([0n, 9007199254740993n]);
  });
  it('Relu rejects unsigned ints', async () => {
    await expect(InferenceSession.create(graph('Relu', [{ name: 'x', dtype: 'uint8', shape: [2] }]))).rejects.toThrow(ShapeError);
  });
  it('Sigmoid and Softplus are stable at extremes', async () => {
    expect(arr(await run('Sigmoid', { x: f32([-1000, 0, 1000]) }))).toEqual([0, 0.5, 1]);
    expect(arr(await run('Softplus', { x: f32([-1000, 1000]) }))).toEqual([0, 1000]);
  });
  it('Gelu rejects an unknown approximation', async () => {
    await expect(InferenceSession.create(graph('Gelu', [{ name: 'x', dtype: 'float32', shape: [2] }], { approximate: 'erf' }))).rejects.toThrow(UnsupportedError);
  });
  it('float16 in, float16 out', async () => {
    const x = new Tensor('float16', Uint16Array.from([-2, 0.5].map(f32ToF16)), [2]);
    const y = await run('LeakyRelu', { x }, { alpha: 0.5 });
    expect(y.type).toBe('float16');
    expect(Array.from(y.data as Uint16Array).map(f16ToF32)).toEqual([-1, 0.5]);
  });
  it('Shrink on ints', async () => {
    expect(arr(await run('Shrink', { x: new Tensor('int32', [-3, 0, 3], [3]) }, { lambd: 1.5, bias: 1 }))).toEqual([-2, 0, 2]);
  });
  it('empty tensors pass through', async () => {
    const y = await run('Tanh', { x: f32([], [0, 2]) });
    expect(y.dims).toEqual([0, 2]);
  });
});

describe('PRelu', () => {
  it('broadcasts slope unidirectionally', async () => {
    const y = await run('PRelu', { x: f32([-1, -1, 2, -4], [2, 2]), s: f32([0.5, 2], [2]) });
    expect(arr(y)).toEqual([-0.5, -2, 2, -8]);
  });
  it('rejects a slope that would grow X', async () => {
    const g = graph('PRelu', [
      { name: 'x', dtype: 'float32', shape: [3] },
      { name: 's', dtype: 'float32', shape: [2, 3] },
    ]);
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
    const g2 = graph('PRelu', [
      { name: 'x', dtype: 'float32', shape: [2, 1] },
      { name: 's', dtype: 'float32', shape: [3] },
    ]);
    await expect(InferenceSession.create(g2)).rejects.toThrow(/'n0'/);
  });
  it('legacy 1-D slope is per channel', async () => {
    const g = graph('PRelu', [
      { name: 'x', dtype: 'float32', shape: [1, 2, 2] },
      { name: 's', dtype: 'float32', shape: [2] },
    ], {}, 6);
    g.nodes = upgradeNode(g.nodes[0]!, 6, g);
    const s = await InferenceSession.create(g);
    const y = (await s.run({ x: f32([-1, -1, -1, -1], [1, 2, 2]), s: f32([0.5, 2]) })).y!;
    expect(arr(y)).toEqual([-0.5, -0.5, -2, -2]);
  });
});

describe('Clip', () => {
  it('clips ints with optional bounds', async () => {
    const g = new Graph();
    g.opsets = { '': 13 };
    g.inputs.push({ name: 'x', type: { dtype: 'int64', shape: [3] } });
    g.initializers.set('hi', new Tensor('int64', [5n], []));
    g.nodes.push({ name: 'n0', op: 'Clip', domain: '', inputs: ['x', '', 'hi'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', type: { dtype: 'int64' } });
    const s = await InferenceSession.create(g);
    expect(arr((await s.run({ x: new Tensor('int64', [-10n, 3n, 10n], [3]) })).y!)).toEqual([-10n, 3n, 5n]);
  });
  it('min > max gives max; NaN stays NaN', async () => {
    const y = await run('Clip', { x: f32([-5, 0, 5, NaN]), lo: f32([2], []), hi: f32([1], []) });
    expect(arr(y)).toEqual([1, 1, 1, NaN]);
  });
  it('rejects non-scalar bounds and mismatched dtypes', async () => {
    await expect(InferenceSession.create(graph('Clip', [
      { name: 'x', dtype: 'float32', shape: [4] },
      { name: 'lo', dtype: 'float32', shape: [2] },
    ]))).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('Clip', [
      { name: 'x', dtype: 'float32', shape: [4] },
      { name: 'lo', dtype: 'float64', shape: [] },
    ]))).rejects.toThrow(ShapeError);
  });
  it('legacy min/max attributes become inputs', async () => {
    const g = graph('Clip', [{ name: 'x', dtype: 'float64', shape: [3] }], { min: -1, max: 1 }, 6);
    g.nodes = upgradeNode(g.nodes[0]!, 6, g);
    const s = await InferenceSession.create(g);
    const y = (await s.run({ x: new Tensor('float64', [-3, 0.25, 3], [3]) })).y!;
    expect(y.type).toBe('float64');
    expect(arr(y)).toEqual([-1, 0.25, 1]);
  });
  it('legacy Clip with unknown input dtype goes through CastLike', async () => {
    const g = new Graph();
    g.opsets = { '': 6 };
    g.inputs.push({ name: 'x', type: { dtype: 'float16', shape: [2] } });
    g.nodes.push({ name: 'sq', op: 'Abs', domain: '', inputs: ['x'], outputs: ['t'], attrs: {} });
    const clip = { name: 'n0', op: 'Clip', domain: '', inputs: ['t'], outputs: ['y'], attrs: { max: 1 } };
    g.nodes.push(...upgradeNode(clip, 6, g));
    g.outputs.push({ name: 'y', type: { dtype: 'float16' } });
    const s = await InferenceSession.create(g);
    const y = (await s.run({ x: new Tensor('float16', Uint16Array.from([-3, 0.5].map(f32ToF16)), [2]) })).y!;
    expect(Array.from(y.data as Uint16Array).map(f16ToF32)).toEqual([1, 0.5]);
  });
});
