import { describe, expect, it } from 'vitest';
import { Graph, InferenceSession, ShapeError, Tensor, UnsupportedError } from '../../src/index.js';
import type { Dim, Node, ValueType } from '../../src/index.js';
import { upgradeNode } from '../../src/formats/onnx/legacy/index.js';
import '../../src/ops/index.js';
import { layerGraph as graph } from '../helpers/op-graph.js';

const seq = (n: number, f = (i: number) => i + 1) => Array.from({ length: n }, (_, i) => f(i));
const f32 = (dims: number[], v?: number[]) => new Tensor('float32', Float32Array.from(v ?? seq(dims.reduce((a, b) => a * b, 1))), dims);
const t = (dtype: ValueType['dtype'], shape?: Dim[]): ValueType => ({ dtype, shape });
const create = (g: Graph) => InferenceSession.create(g, { backend: 'reference' });
const vals = (x: Tensor) => Array.from(x.data as ArrayLike<number | bigint>, Number);
const close = (got: number[], want: number[], eps = 1e-5) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(eps * (1 + Math.abs(want[i]!))));
};

describe('BatchNormalization', () => {
  it('training_mode=1 uses batch statistics and updates the running ones', async () => {
    const s = await create(graph('BatchNormalization', [t('float32', [2, 1, 2]), f32([1], [1]), f32([1], [0]), f32([1], [10]), f32([1], [4])], { training_mode: 1, momentum: 0.5, epsilon: 0 }, 3));
    const r = s.runSync({ in0: f32([2, 1, 2], [1, 3, 5, 7]) });
    // batch mean 4, population var 5
    close(vals(r.out0!), [-3, -1, 1, 3].map((v) => v / Math.sqrt(5)));
    close(vals(r.out1!), [7]);
    close(vals(r.out2!), [4.5]);
  });
  it('rejects mismatched parameter sizes and running outputs outside training', async () => {
    const p = (n: number) => t('float32', [n]);
    await expect(create(graph('BatchNormalization', [t('float32', [2, 3, 4]), p(3), p(3), p(2), p(3)]))).rejects.toThrow(/'n0'.*input_mean/);
    await expect(create(graph('BatchNormalization', [t('float32', [2, 3, 4]), p(3), p(3), p(3), p(3)], {}, 3))).rejects.toThrow(ShapeError);
    await expect(create(graph('BatchNormalization', [t('float32', [3]), p(3), p(3), p(3), p(3)]))).rejects.toThrow(ShapeError);
  });
  it('legacy BatchNormalization-6 drops is_test/spatial; training outputs are unsupported', async () => {
    const ins = [t('float32', [1, 2, 2]), f32([2], [1, 1]), f32([2], [0, 1]), f32([2], [0, 0]), f32([2], [1, 1])];
    const s = await create(graph('BatchNormalization', ins, { is_test: 1, spatial: 1, epsilon: 0, consumed_inputs: [] }, 1, 6));
    close(vals(s.runSync({ in0: f32([1, 2, 2], [1, 2, 3, 4]) }).out0!), [1, 2, 4, 5]);
    expect(() => graph('BatchNormalization', ins, {}, 5, 9)).toThrow(UnsupportedError);
    expect(() => graph('BatchNormalization', ins, { spatial: 0 }, 1, 7)).toThrow(UnsupportedError);
  });
});

describe('Layer/Group/Instance normalization', () => {
  it('LayerNormalization broadcasts Scale, emits Mean and InvStdDev of the stash type', async () => {
    const s = await create(graph('LayerNormalization', [t('float16', [2, 2]), new Tensor('float16', Uint16Array.of(0x3c00, 0x4000), [2])], { epsilon: 0 }, 3));
    expect(s.outputMetadata.map((m) => m.type)).toEqual(['float16', 'float32', 'float32']);
    expect(s.outputMetadata[1]!.shape).toEqual([2, 1]);
    const r = s.runSync({ in0: new Tensor('float16', Uint16Array.of(0x3c00, 0x4200, 0x4000, 0x4000), [2, 2]) }); // [[1,3],[2,2]]
    close(vals(r.out1!), [2, 2]);
    expect(vals(r.out2!)[0]).toBeCloseTo(1, 5);
    expect(vals(r.out2!)[1]).toBe(Infinity);
  });
  it('LayerNormalization rejects bad axis and scale shapes', async () => {
    await expect(create(graph('LayerNormalization', [t('float32', [2, 3]), t('float32', [3])], { axis: 2 }))).rejects.toThrow(ShapeError);
    await expect(create(graph('LayerNormalization', [t('float32', [2, 3]), t('float32', [4])]))).rejects.toThrow(ShapeError);
    await expect(create(graph('LayerNormalization', [t('float32', [2, 3]), t('float32', [3])], { stash_type: 7 }))).rejects.toThrow(UnsupportedError);
  });
  it('GroupNormalization validates groups; legacy opset 18 per-group scale is expanded per channel', async () => {
    await expect(create(graph('GroupNormalization', [t('float32', [1, 6, 2]), t('float32', [6]), t('float32', [6])], { num_groups: 4 }))).rejects.toThrow(ShapeError);
    await expect(create(graph('GroupNormalization', [t('float32', [1, 6, 2]), t('float32', [2]), t('float32', [2])], { num_groups: 2 }))).rejects.toThrow(ShapeError);
    const X = f32([1, 4, 1], [1, 3, 10, 30]);
    const s = await create(graph('GroupNormalization', [t('float32', [1, 4, 1]), f32([2], [1, 2]), f32([2], [0, 100])], { num_groups: 2, epsilon: 0 }, 1, 18));
    close(vals(s.runSync({ in0: X }).out0!), [-1, 1, 98, 102]);
  });
  it('InstanceNormalization, LRN, MVN and LpNormalization', async () => {
    const inst = await create(graph('InstanceNormalization', [t('float32', [1, 1, 2]), f32([1], [2]), f32([1], [1])], { epsilon: 0 }));
    close(vals(inst.runSync({ in0: f32([1, 1, 2], [0, 4]) }).out0!), [-1, 3]);
    const lrn = await create(graph('LRN', [t('float32', [1, 3, 1])], { size: 2, alpha: 2, beta: 1, bias: 1 }));
    // channel c sums c and c+1: [1+4, 4+9, 9]
    close(vals(lrn.runSync({ in0: f32([1, 3, 1], [1, 2, 3]) }).out0!), [1 / 6, 2 / 14, 3 / 10]);
    const mvn = await create(graph('MeanVarianceNormalization', [t('float32', [1, 4])], { axes: [1] }));
    close(vals(mvn.runSync({ in0: f32([1, 4], [1, 1, 3, 3]) }).out0!), [-1, -1, 1, 1]);
    const lp = await create(graph('LpNormalization', [t('float32', [2, 2])], { axis: 0, p: 1 }));
    close(vals(lp.runSync({ in0: f32([2, 2], [1, -2, 3, 2]) }).out0!), [0.25, -0.5, 0.75, 0.5]);
    await expect(create(graph('LpNormalization', [t('float32', [2, 2])], { p: 3 }))).rejects.toThrow(ShapeError);
    await expect(create(graph('MeanVarianceNormalization', [t('float32', [2, 2])], { axes: [0, 0] }))).rejects.toThrow(ShapeError);
    await expect(create(graph('LRN', [t('float32', [2, 2])], { size: 0 }))).rejects.toThrow(ShapeError);
    await expect(create(graph('InstanceNormalization', [t('float32', [1, 2, 2]), t('float32', [3]), t('float32', [2])]))).rejects.toThrow(ShapeError);
  });
});

describe('Softmax family (and its opset ≤ 12 rewrite)', () => {
  it('acts on one axis; Hardmax picks the first maximum', async () => {
    const sm = await create(graph('Softmax', [t('float32', [2, 2])], { axis: 0 }));
    close(vals(sm.runSync({ in0: f32([2, 2], [0, 1000, 0, 1000]) }).out0!), [0.5, 0.5, 0.5, 0.5]);
    const hm = await create(graph('Hardmax', [t('float32', [1, 3])]));
    expect(vals(hm.runSync({ in0: f32([1, 3], [2, 5, 5]) }).out0!)).toEqual([0, 1, 0]);
    await expect(create(graph('LogSoftmax', [t('float32', [2, 2])], { axis: 2 }))).rejects.toThrow(/'n0'.*axis 2/);
    await expect(create(graph('Softmax', [t('int32', [2, 2])]))).rejects.toThrow(ShapeError);
  });
  it('opset 11 Softmax coerces to 2-D at axis (Flatten → Softmax → Reshape)', async () => {
    const s = await create(graph('Softmax', [t('float32', [1, 2, 2])], { axis: 1 }, 1, 11));
    const r = s.runSync({ in0: f32([1, 2, 2], [0, 0, 0, 0]) }).out0!;
    expect(r.dims).toEqual([1, 2, 2]);
    close(vals(r), [0.25, 0.25, 0.25, 0.25]);
    const h = await create(graph('Hardmax', [t('float32', [2, 2])], {}, 1, 11)); // default axis=1, last axis: kept as is
    expect(h.graph.nodes.length).toBe(1);
  });
});

describe('Dropout and losses', () => {
  it('Dropout is the identity with an all-true mask unless training; ratio is range-checked', async () => {
    const s = await create(graph('Dropout', [t('float32', [3]), f32([], [0.9])], {}, 2));
    const r = s.runSync({ in0: f32([3]) });
    expect(vals(r.out0!)).toEqual([1, 2, 3]);
    expect(r.out1!.type).toBe('bool');
    expect(vals(r.out1!)).toEqual([1, 1, 1]);
    await expect(create(graph('Dropout', [t('float32', [3]), f32([], [1])]))).rejects.toThrow(ShapeError);
    await expect(create(graph('Dropout', [t('float32', [3]), '', t('float32', [])]))).rejects.toThrow(ShapeError);
    const tr = await create(graph('Dropout', [t('float32', [1000]), f32([], [0.5]), new Tensor('bool', Uint8Array.of(1), [])], { seed: 3 }, 2));
    const o = tr.runSync({ in0: f32([1000], seq(1000, () => 1)) });
    const kept = vals(o.out1!).reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(400);
    expect(kept).toBeLessThan(600);
    vals(o.out0!).forEach((v, i) => expect(v).toBe(vals(o.out1!)[i] ? 2 : 0));
  });
  it('legacy Dropout-7 drops ratio and casts the mask to the data type', async () => {
    const s = await create(graph('Dropout', [t('float32', [2])], { ratio: 0.3 }, 2, 7));
    const r = s.runSync({ in0: f32([2]) });
    expect(r.out1!.type).toBe('float32');
    expect(vals(r.out1!)).toEqual([1, 1]);
  });
  it('legacy Dropout-9 mask of an intermediate value (type known only after inference) is cast like the data', async () => {
    // old CNN exports: Relu → Dropout(opset 9) with its mask output; the Relu output has no value_info
    const g = new Graph();
    g.opsets = { '': 9 };
    g.inputs.push({ name: 'x', type: t('float32', [3]) });
    g.nodes.push({ name: 'r', op: 'Relu', domain: '', inputs: ['x'], outputs: ['h'], attrs: {} });
    const drop: Node = { name: 'd', op: 'Dropout', domain: '', inputs: ['h'], outputs: ['y', 'm'], attrs: { ratio: 0.5 } };
    g.nodes.push(...upgradeNode(drop, 9, g));
    g.outputs.push({ name: 'y', type: t('float32') }, { name: 'm', type: t('float32') });
    const r = (await create(g)).runSync({ x: f32([3], [-1, 2, 3]) });
    expect(vals(r.y!)).toEqual([0, 2, 3]);
    expect(r.m!.type).toBe('float32');
    expect(vals(r.m!)).toEqual([1, 1, 1]);
  });
  it('losses: mean divides by applied weights; out-of-range targets fail at run time', async () => {
    const s = await create(graph('NegativeLogLikelihoodLoss', [t('float32', [2, 3]), t('int64', [2]), f32([3], [1, 2, 3])], { ignore_index: 0 }));
    const X = f32([2, 3], [-1, -2, -3, -4, -5, -6]);
    close(vals(s.runSync({ in0: X, in1: new Tensor('int64', [2n, 0n], [2]) }).out0!), [3]); // (3·3)/3, second ignored
    expect(() => s.runSync({ in0: X, in1: new Tensor('int64', [3n, 1n], [2]) })).toThrow(/'n0'.*target value 3/);
    const ce = await create(graph('SoftmaxCrossEntropyLoss', [t('float32', [1, 2]), t('int32', [1])], { reduction: 'none' }, 2));
    const r = ce.runSync({ in0: f32([1, 2], [0, 0]), in1: new Tensor('int32', [1], [1]) });
    close(vals(r.out0!), [Math.LN2]);
    close(vals(r.out1!), [-Math.LN2, -Math.LN2]);
    await expect(create(graph('SoftmaxCrossEntropyLoss', [t('float32', [2, 3]), t('int64', [3])]))).rejects.toThrow(ShapeError);
    await expect(create(graph('NegativeLogLikelihoodLoss', [t('float32', [2, 3]), t('float32', [2])]))).rejects.toThrow(ShapeError);
  });
});
