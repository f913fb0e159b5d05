import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import { Graph, type Dim } from '../../src/ir/graph.js';
import { upgradeNode } from '../../src/formats/onnx/legacy/index.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../../src/tensor/fp16.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** Input spec: a runtime feed (`feed`), a constant (`init`), a symbolic-shape graph input, or omitted (''). */
type In = { name: string; feed?: Tensor; init?: Tensor; dtype?: DType; shape?: Dim[] } | '';

function graph(op: string, ins: In[], attrs: Record<string, any> = {}, nOut = 1, opset = 22): Graph {
  const g = new Graph();
  g.opsets = { '': opset };
  for (const i of ins) {
    if (i === '') continue;
    if (i.init) g.initializers.set(i.name, i.init);
    else {
      const dtype = i.feed?.type ?? i.dtype!;
      const shape = i.shape ?? (i.feed ? [...i.feed.dims] : undefined);
      g.inputs.push({ name: i.name, type: { dtype, ...(shape ? { shape } : {}) } });
    }
  }
  const outs = Array.from({ length: nOut }, (_, k) => `y${k}`);
  g.nodes.push({ name: 'n0', op, domain: '', inputs: ins.map((i) => (i === '' ? '' : i.name)), outputs: outs, attrs });
  for (const o of outs) g.outputs.push({ name: o, type: { dtype: 'float32' } });
  return g;
}

async function run(op: string, ins: In[], attrs: Record<string, any> = {}, nOut = 1): Promise<Tensor[]> {
  const s = await InferenceSession.create(graph(op, ins, attrs, nOut));
  const feeds: Record<string, Tensor> = {};
  for (const i of ins) if (i !== '' && i.feed) feeds[i.name] = i.feed;
  const r = await s.run(feeds);
  return Array.from({ length: nOut }, (_, k) => r[`y${k}`]!);
}

const arr = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>);
const i64 = (v: (number | bigint)[], dims = [v.length]) => new Tensor('int64', v.map((x) => BigInt(x)), dims);
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
