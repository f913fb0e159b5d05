// Static plans of quantized models: the QDQ graphs edgeq's own quantizer writes (and its QOperator form) run as one
// plan — QuantizeLinear at the input, QLinearConv / QGemm / QLinearMatMul (fused from Q → DQ → op → Q), 8-bit
// MaxPool, and DequantizeLinear at the output — with the general path's bits, run after run. Before, such a model
// ran node by node (QuantizeLinear, 8-bit MaxPool, QGemm had no bound form, DequantizeLinear no WASM kernel at all),
// and the int8 models of `npm start` ran slower than their float originals.
//   ONNX QuantizeLinear: "y = saturate((x / y_scale) + y_zero_point)", rounding to nearest even
//   ONNX DequantizeLinear: "y = (x - x_zero_point) * x_scale" (8-bit x, per-tensor scale here: a 256-entry table)
//   QLinearConv / QLinearMatMul / QGemm: the integer accumulator requantized by a_scale · b_scale / y_scale
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { quantize } from '../../src/quant/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { staticEqualsGeneral } from '../helpers/static-paths.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });
const rng = (seed: number) => {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
};
const f32 = (dims: number[], r: () => number, scale = 1) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * scale), dims);

/** an empty float graph with input x of `dims` and output y, its random source, and positive bias vectors */
function floatGraph(dims: number[], seed: number) {
  const r = rng(seed);
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: dims } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  // positive biases before each Relu: no layer's activations are all zero (see quantizedSame)
  const pos = (n: number) => new Tensor('float32', Float32Array.from({ length: n }, () => 0.2 + Math.abs(r()) * 0.3), [n]);
  return { g, r, pos };
}

/** Conv 3×3 → Relu → MaxPool 2×2 → Conv 1×1 → Relu → Flatten → Gemm → Relu → Gemm: the shape of `npm start`'s teacher */
function cnn(c: number, h: number, w: number, c1: number, c2: number, hid: number, seed: number): { g: Graph; dims: number[] } {
  const dims = [1, c, h, w];
  const { g, r, pos } = floatGraph(dims, seed);
  const flat = c2 * Math.floor(h / 2) * Math.floor(w / 2);
  const inits: Record<string, Tensor> = {
    w1: f32([c1, c, 3, 3], r, 0.5), b1: pos(c1),
    w2: f32([c2, c1, 1, 1], r, 0.5), b2: pos(c2),
    w3: f32([hid, flat], r, 0.2), b3: pos(hid),
    w4: f32([5, hid], r, 0.3), b4: f32([5], r, 0.1),
  };
  for (const [k, v] of Object.entries(inits)) g.initializers.set(k, v);
  g.nodes.push(
    node('conv1', 'Conv', ['x', 'w1', 'b1'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    node('relu1', 'Relu', ['c1'], ['r1']),
    node('pool', 'MaxPool', ['r1'], ['p1'], { kernel_shape: [2, 2], strides: [2, 2] }),
    node('conv2', 'Conv', ['p1', 'w2', 'b2'], ['c2'], { kernel_shape: [1, 1] }),
    node('relu2', 'Relu', ['c2'], ['r2']),
    node('flat', 'Flatten', ['r2'], ['f']),
    node('fc1', 'Gemm', ['f', 'w3', 'b3'], ['g1'], { transB: 1 }),
    node('relu3', 'Relu', ['g1'], ['r3']),
    node('fc2', 'Gemm', ['r3', 'w4', 'b4'], ['y'], { transB: 1 }),
  );
  return { g, dims };
}

/** Conv → Relu → (depthwise 3×3 → Relu ‖ Conv 1×1 → Relu) → Concat → GlobalAveragePool → Flatten → Gemm: MobileNet's and
 * SqueezeNet's int8 pieces (depthwise QLinearConv, 8-bit Concat, QLinearGlobalAveragePool) */
function branches(c: number, h: number, w: number, c1: number, c2: number, seed: number): { g: Graph; dims: number[] } {
  const dims = [1, c, h, w];
  const { g, r, pos } = floatGraph(dims, seed);
  const inits: Record<string, Tensor> = {
    w1: f32([c1, c, 3, 3], r, 0.5), b1: pos(c1),
    wd: f32([c1, 1, 3, 3], r, 0.5), bd: pos(c1),
    wp: f32([c2, c1, 1, 1], r, 0.5), bp: pos(c2),
    wf: f32([4, c1 + c2], r, 0.3), bf: f32([4], r, 0.1),
  };
  for (const [k, v] of Object.entries(inits)) g.initializers.set(k, v);
  g.nodes.push(
    node('conv1', 'Conv', ['x', 'w1', 'b1'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }),
    node('relu1', 'Relu', ['c1'], ['r1']),
    node('dw', 'Conv', ['r1', 'wd', 'bd'], ['d'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: c1 }),
    node('relud', 'Relu', ['d'], ['rd']),
    node('pw', 'Conv', ['r1', 'wp', 'bp'], ['p'], { kernel_shape: [1, 1] }),
    node('relup', 'Relu', ['p'], ['rp']),
    node('cat', 'Concat', ['rd', 'rp'], ['cc'], { axis: 1 }),
    node('gap', 'GlobalAveragePool', ['cc'], ['gp']),
    node('flat', 'Flatten', ['gp'], ['f']),
    node('fc', 'Gemm', ['f', 'wf', 'bf'], ['y'], { transB: 1 }),
  );
  return { g, dims };
}

/** MatMul → Add → Relu → MatMul over rows of tokens (QLinearMatMul after fusion) */
function mlp(m: number, k: number, n: number, seed: number): { g: Graph; dims: number[] } {
  const dims = [m, k];
  const { g, r, pos } = floatGraph(dims, seed);
  g.initializers.set('w1', f32([k, n], r, 0.4));
  g.initializers.set('b1', pos(n));
  g.initializers.set('w2', f32([n, 7], r, 0.4));
  g.nodes.push(node('mm1', 'MatMul', ['x', 'w1'], ['a']), node('add', 'Add', ['a', 'b1'], ['ab']), node('relu', 'Relu', ['ab'], ['h']), node('mm2', 'MatMul', ['h', 'w2'], ['y']));
  return { g, dims };
}

/** Conv1d → Relu → Conv1d (stride 2) → Relu: an audio front end (whisper's), 1-D QLinearConv after fusion */
function conv1d(c: number, w: number, c1: number, seed: number): { g: Graph; dims: number[] } {
  const dims = [1, c, w];
  const { g, r, pos } = floatGraph(dims, seed);
  g.initializers.set('w1', f32([c1, c, 3], r, 0.5));
  g.initializers.set('b1', pos(c1));
  g.initializers.set('w2', f32([c1, c1, 3], r, 0.5));
  g.initializers.set('b2', pos(c1));
  g.nodes.push(
    node('conv1', 'Conv', ['x', 'w1', 'b1'], ['c1'], { kernel_shape: [3], pads: [1, 1] }),
    node('relu1', 'Relu', ['c1'], ['r1']),
    node('conv2', 'Conv', ['r1', 'w2', 'b2'], ['c2'], { kernel_shape: [3], pads: [1, 1], strides: [2] }),
    node('relu2', 'Relu', ['c2'], ['y']),
  );
  return { g, dims };
}

/** the static plan and the general path of `g` give the same bytes over 3 inputs, and the plan is made */
function samePaths(g: Graph, dims: number[], seed: number): void {
  staticEqualsGeneral(g, [0, 1, 2].map((k) => f32(dims, rng(seed * 7 + k), 2)));
}

/**
 * Quantize the float graph `built` makes (calibrated on one input) with options `o`, then samePaths. `o.nonEmpty`: skip
 * cases where a layer calibrated to all zeros (a Relu after one channel can): it gets a 1e-8 scale, and its bias as
 * int32 could overflow the accumulator, which the QGemm kernel declines on purpose (the reference runs it).
 */
async function quantizedSame({ g, dims }: { g: Graph; dims: number[] }, o: Parameters<typeof quantize>[1], seed: number, nonEmpty = true): Promise<void> {
  const q = await quantize(g, { calib: f32(dims, rng(seed + 1), 2), ...o, report: false });
  if (nonEmpty) fc.pre([...q.tensors.values()].every((t) => t.max > t.min));
  samePaths(q.graph, dims, seed);
}

const kinds = fc.record({ activationType: fc.constantFrom('uint8' as const, 'int8' as const), format: fc.constantFrom('qdq' as const, 'qoperator' as const), perChannel: fc.boolean() });

describe('static plans of quantized models', () => {
  it('a CNN quantized to int8 (QDQ and QOperator, uint8 / int8 activations, per-channel or per-tensor weights) plans whole, same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 13 }), fc.integer({ min: 4, max: 13 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 20 }), kinds, fc.integer(), async (c, h, w, c1, c2, hid, o, seed) => {
        await quantizedSame(cnn(c, h, w, c1, c2, hid, seed), o, seed);
      }),
      { numRuns: 24 },
    );
  });

  it('depthwise conv, 8-bit Concat and GlobalAveragePool quantized (QDQ and QOperator) plan whole, same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 17 }), fc.integer({ min: 4, max: 17 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), kinds, fc.integer(), async (c, h, w, c1, c2, o, seed) => {
        await quantizedSame(branches(c, h, w, c1, c2, seed), o, seed);
      }),
      { numRuns: 20 },
    );
  });

  it('1-D convs quantized to int8 (QLinearConv on the 2-D kernel with H = 1) plan whole, same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 3, max: 40 }), fc.integer({ min: 1, max: 9 }), kinds, fc.integer(), async (c, w, c1, o, seed) => {
        await quantizedSame(conv1d(c, w, c1, seed), o, seed);
      }),
      { numRuns: 16 },
    );
  });

  it('MatMul layers quantized to int8 (QLinearMatMul after fusion) plan whole, same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 24 }), kinds, fc.integer(), async (m, k, n, o, seed) => {
        await quantizedSame(mlp(m, k, n, seed), o, seed, false);
      }),
      { numRuns: 24 },
    );
  });
});
