import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import { Graph, type Dim } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../../src/tensor/fp16.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { type In, arr, graph, i64, run } from '../helpers/op-graph.js';

const f32 = (v: number[], dims = [v.length]) => new Tensor('float32', v, dims);


describe('Gather family', () => {
  it('Gather negative indices and strings', async () => {
    const x = new Tensor('string', ['a', 'b', 'c'], [3]);
    const [y] = await run('Gather', [{ name: 'x', feed: x }, { name: 'i', feed: i64([-1, 0]) }]);
    expect(y!.data).toEqual(['c', 'a']);
  });
  it('Gather out-of-range index is a ShapeError naming the node', async () => {
    const s = await InferenceSession.create(graph('Gather', [{ name: 'x', dtype: 'float32', shape: [3] }, { name: 'i', dtype: 'int64', shape: [1] }]));
    await expect(s.run({ x: f32([1, 2, 3]), i: i64([3]) })).rejects.toThrow(/n0.*out of range/);
    await expect(s.run({ x: f32([1, 2, 3]), i: i64([-4]) })).rejects.toThrow(ShapeError);
  });
  it('Gather with constant bad indices fails at load', async () => {
    await expect(InferenceSession.create(graph('Gather', [{ name: 'x', dtype: 'float32', shape: [2, 2] }, { name: 'i', init: i64([2]) }], { axis: 1 }))).rejects.toThrow(ShapeError);
  });
  it('Gather keeps symbolic dims', async () => {
    const s = await InferenceSession.create(graph('Gather', [{ name: 'x', dtype: 'float32', shape: ['N', 5] }, { name: 'i', dtype: 'int32', shape: ['K', 2] }], { axis: 1 }));
    expect(s.outputMetadata[0]!.shape).toEqual(['N', 'K', 2]);
  });
  it('GatherElements rank mismatch', async () => {
    await expect(InferenceSession.create(graph('GatherElements', [{ name: 'x', dtype: 'float32', shape: [2, 2] }, { name: 'i', dtype: 'int64', shape: [2] }]))).rejects.toThrow(ShapeError);
  });
  it('GatherND batch_dims validation and values', async () => {
    await expect(InferenceSession.create(graph('GatherND', [{ name: 'x', dtype: 'float32', shape: [2, 2] }, { name: 'i', dtype: 'int64', shape: [2, 1] }], { batch_dims: 2 }))).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('GatherND', [{ name: 'x', dtype: 'float32', shape: [2, 2] }, { name: 'i', dtype: 'int64', shape: [1, 3] }]))).rejects.toThrow(ShapeError);
    const [y] = await run('GatherND', [{ name: 'x', feed: f32([0, 1, 2, 3], [2, 2]) }, { name: 'i', feed: i64([1, -1], [1, 2]) }]);
    expect(arr(y!)).toEqual([3]);
  });
  it('ScatterElements add on int64 with duplicates', async () => {
    const [y] = await run('ScatterElements', [{ name: 'x', feed: i64([0, 0, 0]) }, { name: 'i', feed: i64([1, 1, -1]) }, { name: 'u', feed: i64([5, 6, 7]) }], { reduction: 'add' });
    expect(arr(y!)).toEqual([0n, 11n, 7n]);
  });
  it('ScatterElements bad index / shapes', async () => {
    const s = await InferenceSession.create(graph('ScatterElements', [{ name: 'x', dtype: 'float32', shape: [3] }, { name: 'i', dtype: 'int64', shape: [1] }, { name: 'u', dtype: 'float32', shape: [1] }]));
    await expect(s.run({ x: f32([1, 2, 3]), i: i64([3]), u: f32([1]) })).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('ScatterElements', [{ name: 'x', dtype: 'float32', shape: [3] }, { name: 'i', dtype: 'int64', shape: [2] }, { name: 'u', dtype: 'float32', shape: [1] }]))).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('ScatterElements', [{ name: 'x', dtype: 'float32', shape: [3] }, { name: 'i', dtype: 'int64', shape: [1] }, { name: 'u', dtype: 'int32', shape: [1] }]))).rejects.toThrow(ShapeError);
  });
  it('ScatterND updates shape must match', async () => {
    await expect(InferenceSession.create(graph('ScatterND', [{ name: 'x', dtype: 'float32', shape: [4, 2] }, { name: 'i', dtype: 'int64', shape: [2, 1] }, { name: 'u', dtype: 'float32', shape: [2, 3] }]))).rejects.toThrow(ShapeError);
    const [y] = await run('ScatterND', [{ name: 'x', feed: f32([1, 1, 1, 1], [2, 2]) }, { name: 'i', feed: i64([1], [1, 1]) }, { name: 'u', feed: f32([3, 4], [1, 2]) }], { reduction: 'mul' });
    expect(arr(y!)).toEqual([1, 1, 3, 4]);
  });
  it('float16 scatter max', async () => {
    const h = (v: number[]) => new Tensor('float16', Uint16Array.from(v.map(f32ToF16)), [v.length]);
    const [y] = await run('ScatterElements', [{ name: 'x', feed: h([1, 5]) }, { name: 'i', feed: i64([0, 1]) }, { name: 'u', feed: h([2, 3]) }], { reduction: 'max' });
    expect(arr(y!).map((v) => f16ToF32(v as number))).toEqual([2, 5]);
  });
});

describe('selection ops', () => {
  it('Where broadcasts three ways', async () => {
    const c = new Tensor('bool', [1, 0], [2, 1]);
    const [y] = await run('Where', [{ name: 'c', feed: c }, { name: 'a', feed: f32([1, 2, 3], [1, 3]) }, { name: 'b', feed: f32([9], []) }]);
    expect(y!.dims).toEqual([2, 3]);
    expect(arr(y!)).toEqual([1, 2, 3, 9, 9, 9]);
    await expect(InferenceSession.create(graph('Where', [{ name: 'c', dtype: 'bool', shape: [2] }, { name: 'a', dtype: 'float32', shape: [3] }, { name: 'b', dtype: 'float32', shape: [1] }]))).rejects.toThrow(ShapeError);
  });
  it('TopK ties keep lower index first; K validated', async () => {
    const [v, i] = await run('TopK', [{ name: 'x', feed: f32([1, 3, 3, 2]) }, { name: 'k', init: i64([3]) }], {}, 2);
    expect(arr(v!)).toEqual([3, 3, 2]);
    expect(arr(i!)).toEqual([1n, 2n, 3n]);
    await expect(InferenceSession.create(graph('TopK', [{ name: 'x', dtype: 'float32', shape: [4] }, { name: 'k', init: i64([5]) }], {}, 2))).rejects.toThrow(ShapeError);
  });
  it('NonZero and Compress', async () => {
    const [nz] = await run('NonZero', [{ name: 'x', feed: f32([0, 1, 0, 2], [2, 2]) }]);
    expect(nz!.dims).toEqual([2, 2]);
    expect(arr(nz!)).toEqual([0n, 1n, 1n, 1n]);
    const [c] = await run('Compress', [{ name: 'x', feed: f32([1, 2, 3, 4], [2, 2]) }, { name: 'c', feed: new Tensor('bool', [0, 1], [2]) }], { axis: 1 });
    expect(arr(c!)).toEqual([2, 4]);
    await expect(InferenceSession.create(graph('Compress', [{ name: 'x', dtype: 'float32', shape: [2] }, { name: 'c', dtype: 'bool', shape: [3] }]))).rejects.toThrow(ShapeError);
  });
  it('Unique unsorted keeps first-occurrence order', async () => {
    const [y, idx, inv, cnt] = await run('Unique', [{ name: 'x', feed: f32([2, 1, 2, 3]) }], { sorted: 0 }, 4);
    expect(arr(y!)).toEqual([2, 1, 3]);
    expect(arr(idx!)).toEqual([0n, 1n, 3n]);
    expect(arr(inv!)).toEqual([0n, 1n, 0n, 2n]);
    expect(arr(cnt!)).toEqual([2n, 1n, 1n]);
  });
  it('Einsum diagonal/ellipsis and bad equations', async () => {
    const [y] = await run('Einsum', [{ name: 'a', feed: f32([1, 2, 3, 4], [2, 2]) }], { equation: 'ii->i' });
    expect(arr(y!)).toEqual([1, 4]);
    const [z] = await run('Einsum', [{ name: 'a', feed: f32([1, 2, 3, 4], [2, 2]) }, { name: 'b', feed: f32([1, 1], [2]) }], { equation: '...j,j' });
    expect(arr(z!)).toEqual([3, 7]);
    await expect(InferenceSession.create(graph('Einsum', [{ name: 'a', dtype: 'float32', shape: [2, 3] }], { equation: 'ijk' }))).rejects.toThrow(ShapeError);
  });
});
