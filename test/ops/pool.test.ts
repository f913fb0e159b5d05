import { describe, expect, it } from 'vitest';
import { Graph, InferenceSession, ShapeError, Tensor } from '../../src/index.js';
import type { Dim, ValueType } from '../../src/index.js';
import '../../src/ops/index.js';
import { layerGraph as graph } from '../helpers/op-graph.js';

const seq = (n: number, f = (i: number) => i + 1) => Array.from({ length: n }, (_, i) => f(i));
const f32 = (dims: number[], v?: number[]) => new Tensor('float32', Float32Array.from(v ?? seq(dims.reduce((a, b) => a * b, 1))), dims);
const t = (dtype: ValueType['dtype'], shape?: Dim[]): ValueType => ({ dtype, shape });
const create = (g: Graph) => InferenceSession.create(g, { backend: 'reference' });
const vals = (x: Tensor) => Array.from(x.data as ArrayLike<number | bigint>, Number);

describe('MaxPool', () => {
  it('returns flat indices (row-major, and column-major with storage_order=1) including the batch/channel offset', async () => {
    const X = f32([1, 2, 2, 3], [1, 9, 3, 4, 5, 6, 7, 8, 0, 1, 2, 12]);
    for (const so of [0, 1]) {
      const s = await create(graph('MaxPool', [t('float32', [1, 2, 2, 3])], { kernel_shape: [2, 2], storage_order: so }, 2));
      const r = s.runSync({ in0: X });
      expect(vals(r.out0!)).toEqual([9, 9, 8, 12]);
      expect(r.out1!.type).toBe('int64');
      // channel 0: 9 at (0,1); channel 1: 8 at (0,1) and 12 at (1,2); (h,w) → h·3+w or w·2+h
      expect(vals(r.out1!)).toEqual(so === 0 ? [1, 1, 6 + 1, 6 + 5] : [2, 2, 6 + 2, 6 + 5]);
    }
  });
  it('pools int8 and honours ceil_mode', async () => {
    const s = await create(graph('MaxPool', [t('int8', [1, 1, 5])], { kernel_shape: [2], strides: [2], ceil_mode: 1 }));
    const r = s.runSync({ in0: new Tensor('int8', Int8Array.of(-5, -7, 3, -1, -128), [1, 1, 5]) }).out0!;
    expect(r.type).toBe('int8');
    expect(vals(r)).toEqual([-5, 3, -128]);
  });
  it('leaves symbolic spatial dims unknown and rejects bad attributes with ShapeError', async () => {
    const s = await create(graph('MaxPool', [t('float32', ['N', 3, 'H', 'W'])], { kernel_shape: [3, 3] }));
    expect(s.outputMetadata[0]!.type).toBe('float32');
    const bad = [
      graph('MaxPool', [t('float32', [1, 1, 4, 4])]), // kernel_shape required
      graph('MaxPool', [t('float32', [1, 1, 4, 4])], { kernel_shape: [2] }),
      graph('MaxPool', [t('float32', [1, 1, 4, 4])], { kernel_shape: [2, 2], ceil_mode: 2 }),
      graph('MaxPool', [t('float32', [1, 1, 4, 4])], { kernel_shape: [2, 2], storage_order: 3 }),
      graph('MaxPool', [t('float32', [1, 1, 4, 4])], { kernel_shape: [2, 2], pads: [1, 1, 1] }),
      graph('MaxPool', [t('float32', [1, 1, 4, 4])], { kernel_shape: [5, 5] }),
      graph('MaxPool', [t('float32', [1, 1, 4, 4])], { kernel_shape: [2, 2], strides: [0, 1] }),
      graph('MaxPool', [t('int32', [1, 1, 4, 4])], { kernel_shape: [2, 2] }),
    ];
    for (const g of bad) await expect(create(g)).rejects.toThrow(ShapeError);
    await expect(create(bad[1]!)).rejects.toThrow(/'n0' \(MaxPool\)/);
  });
});

describe('AveragePool / LpPool / global pools', () => {
  it('count_include_pad decides the divisor at the borders', async () => {
    const X = f32([1, 1, 3], [3, 6, 9]);
    const run = async (c: number) => vals((await create(graph('AveragePool', [t('float32', [1, 1, 3])], { kernel_shape: [2], pads: [1, 1], count_include_pad: c }))).runSync({ in0: X }).out0!);
    expect(await run(0)).toEqual([3, 4.5, 7.5, 9]);
    expect(await run(1)).toEqual([1.5, 4.5, 7.5, 4.5]);
  });
  it('LpPool p=1 sums magnitudes; global pools reduce every spatial dim', async () => {
    const s = await create(graph('LpPool', [t('float32', [1, 1, 4])], { kernel_shape: [2], strides: [2], p: 1 }));
    expect(vals(s.runSync({ in0: f32([1, 1, 4], [-1, 2, -3, 4]) }).out0!)).toEqual([3, 7]);
    const X = f32([1, 2, 2, 2], [1, 2, 3, 4, -1, -2, -3, -4]);
    const avg = (await create(graph('GlobalAveragePool', [t('float32', [1, 2, 2, 2])]))).runSync({ in0: X }).out0!;
    expect(avg.dims).toEqual([1, 2, 1, 1]);
    expect(vals(avg)).toEqual([2.5, -2.5]);
    expect(vals((await create(graph('GlobalMaxPool', [t('float32', [1, 2, 2, 2])]))).runSync({ in0: X }).out0!)).toEqual([4, -1]);
    const lp = (await create(graph('GlobalLpPool', [t('float32', [1, 2, 2, 2])]))).runSync({ in0: X }).out0!;
    expect(vals(lp)[0]).toBeCloseTo(Math.sqrt(30), 5);
  });
  it('rejects bad inputs', async () => {
    await expect(create(graph('GlobalAveragePool', [t('float32', [2, 3])]))).rejects.toThrow(ShapeError);
    await expect(create(graph('LpPool', [t('float32', [1, 1, 4])], { kernel_shape: [2], p: 0 }))).rejects.toThrow(ShapeError);
    await expect(create(graph('AveragePool', [t('float32', [1, 1, 4])], { kernel_shape: [2], count_include_pad: 5 }))).rejects.toThrow(ShapeError);
    await expect(create(graph('AveragePool', [t('uint8', [1, 1, 4])], { kernel_shape: [2] }))).rejects.toThrow(ShapeError);
  });
});
