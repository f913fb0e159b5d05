import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import { Graph, type Dim } from '../../src/ir/graph.js';
import { upgradeNode } from '../../src/formats/onnx/legacy/index.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../../src/tensor/fp16.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { type In, arr, graph, i64, run } from '../helpers/op-graph.js';

const f32 = (v: number[], dims = [v.length]) => new Tensor('float32', v, dims);

describe('Reduce*', () => {
  it('ReduceSum over int64 is exact beyond 2^53', async () => {
    const [y] = await run('ReduceSum', [{ name: 'x', feed: i64([9007199254740993n, 2n], [2]) }], { keepdims: 0 });
    expect(arr(y!)).toEqual([9007199254740995n]);
  });
  it('empty-set reductions follow ONNX 18', async () => {
    const x = new Tensor('int32', [], [2, 0]);
    const ax = { name: 'axes', init: i64([1]) };
    expect(arr((await run('ReduceMax', [{ name: 'x', feed: x }, ax]))[0]!)).toEqual([-2147483648, -2147483648]);
    expect(arr((await run('ReduceProd', [{ name: 'x', feed: x }, ax]))[0]!)).toEqual([1, 1]);
    const xf = f32([], [2, 0]);
    expect(arr((await run('ReduceLogSumExp', [{ name: 'x', feed: xf }, ax]))[0]!)).toEqual([-Infinity, -Infinity]);
    expect(arr((await run('ReduceSumSquare', [{ name: 'x', feed: xf }, ax]))[0]!)).toEqual([0, 0]);
  });
  it('noop_with_empty_axes returns the input; without it all axes reduce', async () => {
    const x = f32([1, 2, 3, 4], [2, 2]);
    const [a] = await run('ReduceSum', [{ name: 'x', feed: x }, { name: 'axes', init: i64([]) }], { noop_with_empty_axes: 1 });
    expect(a!.dims).toEqual([2, 2]);
    const [b] = await run('ReduceSum', [{ name: 'x', feed: x }], { keepdims: 0 });
    expect(b!.dims).toEqual([]);
    expect(arr(b!)).toEqual([10]);
  });
  it('LogSumExp is stable for large inputs', async () => {
    const [y] = await run('ReduceLogSumExp', [{ name: 'x', feed: f32([1000, 1000]) }], { keepdims: 0 });
    expect(arr(y!)[0]).toBeCloseTo(1000 + Math.log(2), 3);
  });
  it('float16 mean', async () => {
    const x = new Tensor('float16', Uint16Array.from([1, 2, 3, 6].map(f32ToF16)), [2, 2]);
    const [y] = await run('ReduceMean', [{ name: 'x', feed: x }, { name: 'axes', init: i64([-1]) }]);
    expect(y!.type).toBe('float16');
    expect(arr(y!).map((h) => f16ToF32(h as number))).toEqual([1.5, 4.5]);
  });
  it('bad axes are ShapeErrors naming the node', async () => {
    const x = { name: 'x', dtype: 'float32' as DType, shape: [2, 3] };
    await expect(InferenceSession.create(graph('ReduceSum', [x, { name: 'a', init: i64([2]) }]))).rejects.toThrow(/n0.*out of range/);
    await expect(InferenceSession.create(graph('ReduceMax', [x, { name: 'a', init: i64([1, -1]) }]))).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('ReduceMax', [x, { name: 'a', init: new Tensor('float32', [1], [1]) }]))).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('ReduceMax', [{ name: 'x', dtype: 'string', shape: [2] }]))).rejects.toThrow(ShapeError);
  });
  it('symbolic dims survive', async () => {
    const s = await InferenceSession.create(graph('ReduceL2', [{ name: 'x', dtype: 'float32', shape: ['N', 3, 4] }, { name: 'a', init: i64([1]) }], { keepdims: 0 }));
    expect(s.outputMetadata[0]!.shape).toEqual(['N', 4]);
  });
  it('legacy axes attribute becomes an input', () => {
    const g = new Graph();
    const node = { name: 'r', op: 'ReduceMean', domain: '', inputs: ['x'], outputs: ['y'], attrs: { axes: [1], keepdims: 0 } };
    const [up] = upgradeNode(node, 13, g);
    expect(up!.inputs.length).toBe(2);
    expect(up!.attrs).toEqual({ keepdims: 0 });
    expect(arr(g.initializers.get(up!.inputs[1]!)!)).toEqual([1n]);
    // ReduceSum switched at 13: no rewrite there
    const [same] = upgradeNode({ ...node, op: 'ReduceSum', attrs: {} }, 13, g);
    expect(same!.inputs).toEqual(['x']);
  });
});

describe('ArgMax / ArgMin / CumSum', () => {
  it('select_last_index picks the last tie', async () => {
    const x = f32([2, 5, 5, 1], [4]);
    expect(arr((await run('ArgMax', [{ name: 'x', feed: x }], { keepdims: 0 }))[0]!)).toEqual([1n]);
    expect(arr((await run('ArgMax', [{ name: 'x', feed: x }], { keepdims: 0, select_last_index: 1 }))[0]!)).toEqual([2n]);
  });
  it('ArgMin on an empty axis is a ShapeError', async () => {
    await expect(InferenceSession.create(graph('ArgMin', [{ name: 'x', dtype: 'float32', shape: [0, 2] }]))).rejects.toThrow(ShapeError);
  });
  it('CumSum int64 exclusive reverse', async () => {
    const [y] = await run('CumSum', [{ name: 'x', feed: i64([1, 2, 3]) }, { name: 'a', init: new Tensor('int32', [0], []) }], { exclusive: 1, reverse: 1 });
    expect(arr(y!)).toEqual([5n, 3n, 0n]);
  });
  it('CumSum axis out of range', async () => {
    await expect(InferenceSession.create(graph('CumSum', [{ name: 'x', dtype: 'float32', shape: [3] }, { name: 'a', init: new Tensor('int32', [1], []) }]))).rejects.toThrow(ShapeError);
  });
});
