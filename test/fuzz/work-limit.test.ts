// env.limits.nodeWork: a valid model whose shapes demand absurd compute (tensors all under the 2 GiB limit) fails
// with a ShapeError naming the node, its op, its cost and the limit, before any kernel runs — at create when its
// shapes are static, at run time when they depend on the feeds. Each heavy-op family is checked at its exact cost:
// the limit equal to the cost runs, one below it fails.
import { afterEach, describe, expect, it } from 'vitest';
import { InputError, ShapeError } from '../../src/errors.js';
import type { Graph, ValueType } from '../../src/ir/graph.js';
import { env } from '../../src/runtime/env.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { layerGraph } from '../helpers/op-graph.js';
import { TFLITE_ENUMS, TFLITE_UNIONS } from '../../src/formats/tflite/generated/tflite-schema.js';
import { oneOpTflite } from '../helpers/tflite-builder.js';
import { readModel } from '../../src/formats/detect.js';
import { analyze } from '../../src/ir/infer.js';
import { nodeCost } from '../../src/ir/stats.js';
import { dataPath, hasData } from '../helpers/data.js';
import { readFileSync } from 'node:fs';

const DEFAULT = env.limits.nodeWork;
afterEach(() => {
  env.limits.nodeWork = DEFAULT;
});

const f32 = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)), dims);
const u8 = (dims: number[]) => new Tensor('uint8', Uint8Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => (i * 37) % 256), dims);
const scalar = (type: 'float32' | 'uint8', v: number) => new Tensor(type, type === 'float32' ? Float32Array.of(v) : Uint8Array.of(v), []);
const vt = (shape: number[], dtype: ValueType['dtype'] = 'float32'): ValueType => ({ dtype, shape });
/** feeds for every graph input of `g`: deterministic values of its declared shape */
const feedsOf = (g: Graph) => Object.fromEntries(g.inputs.map((i) => [i.name, i.type.dtype === 'uint8' ? u8(i.type.shape as number[]) : f32(i.type.shape as number[])]));

/** the one node moved to com.microsoft */
const ms = (g: Graph) => ((g.nodes[0]!.domain = 'com.microsoft'), g);

// [what, graph, its multiply-adds by the textbook count]
const FAMILIES: [string, () => Graph, number][] = [
  ['Conv', () => layerGraph('Conv', [vt([1, 3, 8, 8]), f32([4, 3, 3, 3])], { pads: [1, 1, 1, 1] }), 4 * 8 * 8 * 3 * 3 * 3],
  ['grouped Conv', () => layerGraph('Conv', [vt([1, 4, 6, 6]), f32([4, 2, 3, 3])], { group: 2 }), 4 * 4 * 4 * 2 * 3 * 3],
  ['ConvTranspose', () => layerGraph('ConvTranspose', [vt([1, 2, 5, 5]), f32([2, 3, 3, 3])], { strides: [2, 2] }), 2 * 5 * 5 * 3 * 3 * 3],
  ['ConvInteger', () => layerGraph('ConvInteger', [vt([1, 2, 6, 6], 'uint8'), u8([3, 2, 3, 3])]), 3 * 4 * 4 * 2 * 3 * 3],
  [
    'QLinearConv',
    () => layerGraph('QLinearConv', [vt([1, 2, 6, 6], 'uint8'), scalar('float32', 0.1), scalar('uint8', 128), u8([3, 2, 3, 3]), scalar('float32', 0.1), scalar('uint8', 128), scalar('float32', 0.2), scalar('uint8', 128)]),
    3 * 4 * 4 * 2 * 3 * 3,
  ],
  ['MatMul', () => layerGraph('MatMul', [vt([2, 5, 7]), f32([7, 3])]), 2 * 5 * 3 * 7],
  ['Gemm transA', () => layerGraph('Gemm', [vt([7, 5]), f32([7, 3])], { transA: 1 }), 5 * 3 * 7],
  ['MatMulInteger', () => layerGraph('MatMulInteger', [vt([4, 6], 'uint8'), u8([6, 5])]), 4 * 5 * 6],
  [
    'QLinearMatMul',
    () => layerGraph('QLinearMatMul', [vt([4, 6], 'uint8'), scalar('float32', 0.1), scalar('uint8', 128), u8([6, 5]), scalar('float32', 0.1), scalar('uint8', 128), scalar('float32', 0.2), scalar('uint8', 128)]),
    4 * 5 * 6,
  ],
  ['DynamicQuantizeMatMul', () => ms(layerGraph('DynamicQuantizeMatMul', [vt([4, 6]), u8([6, 5]), f32([1])])), 4 * 5 * 6],
  ['MatMulNBits', () => ms(layerGraph('MatMulNBits', [vt([3, 32]), u8([5, 2, 8]), f32([10])], { K: 32, N: 5, bits: 4, block_size: 16 })), 3 * 5 * 32],
  ['MultiHeadAttention', () => ms(layerGraph('MultiHeadAttention', [vt([1, 4, 8]), vt([1, 6, 8]), vt([1, 6, 8])], { num_heads: 2 })), 2 * (1 * 4 * 8) * 6],
  ['Attention (ONNX, 3-D)', () => layerGraph('Attention', [vt([1, 4, 8]), vt([1, 6, 8]), vt([1, 6, 8])], { q_num_heads: 2, kv_num_heads: 2 }, 1, 23), 2 * (1 * 4 * 8) * 6],
  ['LSTM', () => layerGraph('LSTM', [vt([5, 2, 3]), f32([1, 16, 3]), f32([1, 16, 4])], { hidden_size: 4 }), 5 * 2 * 1 * 16 * (3 + 4)],
  ['GRU bidirectional', () => layerGraph('GRU', [vt([5, 2, 3]), f32([2, 12, 3]), f32([2, 12, 4])], { hidden_size: 4, direction: 'bidirectional' }), 5 * 2 * 2 * 12 * (3 + 4)],
  ['RNN', () => layerGraph('RNN', [vt([5, 2, 3]), f32([1, 4, 3]), f32([1, 4, 4])], { hidden_size: 4 }), 5 * 2 * 1 * 4 * (3 + 4)],
  ['MaxPool', () => layerGraph('MaxPool', [vt([1, 2, 9, 9])], { kernel_shape: [4, 4] }), 2 * 6 * 6 * 16],
  ['AveragePool', () => layerGraph('AveragePool', [vt([1, 2, 9, 9])], { kernel_shape: [3, 5] }), 2 * 7 * 5 * 15],
  ['Resize linear', () => layerGraph('Resize', [vt([1, 1, 4, 4]), '', new Tensor('float32', Float32Array.of(1, 1, 2, 3), [4])], { mode: 'linear' }), 8 * 12 * 2 * 2],
  ['Einsum', () => layerGraph('Einsum', [vt([3, 4]), f32([4, 5])], { equation: 'ij,jk->ik' }), 3 * 4 * 5 * 2],
  ['Det', () => layerGraph('Det', [vt([2, 4, 4])]), 2 * 4 * 4 * 4],
  ['NonMaxSuppression', () => layerGraph('NonMaxSuppression', [vt([1, 6, 4]), vt([1, 2, 6])]), 2 * 6 * 6],
];

/** ShapeError naming node n0, its op, its cost and the limit */
const refusal = (op: string, cost: number) => new RegExp(`node 'n0' \\(${op}\\): its shapes take ${cost} multiply-adds, more than env\\.limits\\.nodeWork \\(${cost - 1}\\)`);

describe('env.limits.nodeWork', () => {
  for (const [what, make, cost] of FAMILIES) {
    it(`${what}: runs at a limit of its ${cost} multiply-adds, fails at create one below it`, async () => {
      const g = make();
      const op = g.nodes[0]!.op;
      env.limits.nodeWork = cost;
      const s = await InferenceSession.create(g);
      const out = s.runSync(feedsOf(g));
      expect(Object.keys(out).length).toBeGreaterThan(0);
      env.limits.nodeWork = cost - 1;
      await expect(InferenceSession.create(make())).rejects.toThrow(ShapeError);
      await expect(InferenceSession.create(make())).rejects.toThrow(refusal(op, cost));
    });
  }

  it('a dynamic shape is checked at run time, before the node computes: attention over 10^6 tokens under the default', async () => {
    // Q, K, V [1, S, 1] with S symbolic: create cannot know the cost; the run with S = 10^6 would score 10^12 pairs
    const g = layerGraph('Attention', [{ dtype: 'float32', shape: [1, 'S', 1] }, { dtype: 'float32', shape: [1, 'S', 1] }, { dtype: 'float32', shape: [1, 'S', 1] }], { q_num_heads: 1, kv_num_heads: 1 }, 1, 23);
    const s = await InferenceSession.create(g);
    const small = f32([1, 3, 1]);
    expect(s.runSync({ in0: small, in1: small, in2: small }).out0!.dims).toEqual([1, 3, 1]);
    const big = new Tensor('float32', new Float32Array(1e6), [1, 1e6, 1]);
    // refused from the shapes: computing 10^12 scores first would outlast the test's timeout by hours
    expect(() => s.runSync({ in0: big, in1: big, in2: big })).toThrow(/node 'n0' \(Attention\): its shapes take 2000000000000 multiply-adds, more than env\.limits\.nodeWork \(1000000000000\)/);
  });

  it('a static Conv padded by 2^10 with a 1024² kernel (4·10^12 multiply-adds, 20 MB of tensors) fails at create under the default', async () => {
    const g = layerGraph('Conv', [vt([1, 1, 1024, 1024]), f32([1, 1, 1024, 1024])], { pads: [1024, 1024, 1024, 1024] });
    await expect(InferenceSession.create(g)).rejects.toThrow(/node 'n0' \(Conv\): its shapes take \d+ multiply-adds, more than env\.limits\.nodeWork \(1000000000000\)/);
  });

  it("a TFLite CONV_2D is checked through its mapping onto Conv (NHWC, OHWI)", async () => {
    const OP = TFLITE_ENUMS.BuiltinOperator;
    const OPT = TFLITE_UNIONS.BuiltinOptions;
    const m = oneOpTflite({
      tensors: [{ shape: [1, 6, 6, 2] }, { shape: [3, 3, 3, 2], data: new Float32Array(54).fill(0.5) }, { shape: [3], data: new Float32Array(3) }, { shape: [1, 4, 4, 3] }],
      opcode: OP.CONV_2D,
      inputs: [0, 1, 2],
      outputs: [3],
      options: { type: OPT.Conv2DOptions, fields: [[0, 'i8', 1], [1, 'i32', 1], [2, 'i32', 1]] },
    });
    const cost = 3 * 4 * 4 * 3 * 3 * 2;
    env.limits.nodeWork = cost;
    const s = await InferenceSession.create(m);
    expect(s.runSync({ t0: f32([1, 6, 6, 2]) }).t3!.dims).toEqual([1, 4, 4, 3]);
    env.limits.nodeWork = cost - 1;
    await expect(InferenceSession.create(m)).rejects.toThrow(new RegExp(`\\(Conv\\): its shapes take ${cost} multiply-adds`));
  });

  it.skipIf(!hasData('mnist/lenet.onnx'))('a real model (LeNet) runs under the default and at a limit of its heaviest node; one below fails naming that node', async () => {
    const bytes = new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));
    const g = readModel(bytes);
    const { types } = analyze(g);
    const costs = g.nodes.map((n) => nodeCost(n, (x) => types.get(x), () => 1) ?? 0);
    const max = Math.max(...costs);
    const heaviest = g.nodes[costs.indexOf(max)]!;
    // one image (the batch dim is symbolic: costs count it as 1, and the run checks them with the feed's shape)
    const run = async () => Object.keys((await InferenceSession.create(bytes)).runSync({ [g.inputs[0]!.name]: f32([1, 1, 28, 28]) }));
    expect(await run()).toEqual(g.outputs.map((o) => o.name));
    env.limits.nodeWork = max;
    expect(await run()).toEqual(g.outputs.map((o) => o.name));
    env.limits.nodeWork = max - 1;
    await expect(run()).rejects.toThrow(`node '${heaviest.name}' (${heaviest.op}): its shapes take ${max} multiply-adds`);
  });

  it('a Loop body counts per iteration: a MatMul in the body is checked on its own, whatever the trip count', async () => {
    const { Graph } = await import('../../src/ir/graph.js');
    const body = new Graph();
    body.inputs = [{ name: 'i', type: vt([], 'int64') }, { name: 'c', type: vt([], 'bool') }, { name: 'h', type: vt([2, 6]) }];
    body.initializers.set('w', f32([6, 6]));
    body.nodes = [
      { name: 'cond', op: 'Identity', domain: '', inputs: ['c'], outputs: ['c2'], attrs: {} },
      { name: 'step', op: 'MatMul', domain: '', inputs: ['h', 'w'], outputs: ['h2'], attrs: {} },
    ];
    body.outputs = [{ name: 'c2', type: vt([], 'bool') }, { name: 'h2', type: vt([2, 6]) }];
    const g = new Graph();
    g.opsets = { '': 22 };
    g.inputs = [{ name: 'h0', type: vt([2, 6]) }];
    g.initializers.set('M', new Tensor('int64', [50n], []));
    g.initializers.set('C', new Tensor('bool', Uint8Array.of(1), []));
    g.nodes = [{ name: 'loop', op: 'Loop', domain: '', inputs: ['M', 'C', 'h0'], outputs: ['hN'], attrs: { body } }];
    g.outputs = [{ name: 'hN', type: { dtype: 'float32' } }];
    env.limits.nodeWork = 2 * 6 * 6; // one iteration's MatMul, not 50 of them
    const s = await InferenceSession.create(g);
    expect(s.runSync({ h0: f32([2, 6]) }).hN!.dims).toEqual([2, 6]);
    env.limits.nodeWork = 2 * 6 * 6 - 1;
    const s2 = await InferenceSession.create(g);
    expect(() => s2.runSync({ h0: f32([2, 6]) })).toThrow(/node 'step' \(MatMul\): its shapes take 72 multiply-adds/);
  });

  it('the setter takes an integer ≥ 1 or Infinity; anything else is an InputError', () => {
    expect(DEFAULT).toBe(1e12);
    for (const bad of [0, -1, 1.5, NaN, -Infinity]) expect(() => (env.limits.nodeWork = bad)).toThrow(InputError);
    expect(env.limits.nodeWork).toBe(DEFAULT);
    env.limits.nodeWork = Infinity;
    expect(env.limits.nodeWork).toBe(Infinity);
    env.limits.nodeWork = 7;
    expect(env.limits.nodeWork).toBe(7);
  });
});
