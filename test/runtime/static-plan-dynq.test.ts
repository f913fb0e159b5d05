// Static plans of dynamically quantized models (onnxruntime's quantize_dynamic, edgeq's `quantize(g, { mode:
// 'dynamic' })`): the activation's scale and zero point are computed by the graph on every run, so the bound calls read
// them from their blocks — DynamicQuantizeLinear writes codes, scale and zero point there; MatMulInteger / ConvInteger
// read the zero point byte and redo their zero-point terms; DynamicQuantizeMatMul (fuse-dynq's form of the MatMul
// chain) quantizes and multiplies in one call. Each must give the general path's bytes run after run while the inputs
// move the range (scale and zero point), an all-zero input included (a degenerate range: the reference's rules), and
// the plan must be made.
//   ONNX DynamicQuantizeLinear: "y_scale = (maximum(0, max(x)) - minimum(0, min(x))) / (qmax - qmin)",
//     "y = saturate (round (x / y_scale) + y_zero_point)"
//   ONNX MatMulInteger / ConvInteger: "a_zero_point … Zero point tensor for input 'A'", (a − a_zp)·(b − b_zp) in int32
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { quantize } from '../../src/quant/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { staticEqualsGeneral } from '../helpers/static-paths.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });
const rng = (seed: number) => {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
};
const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const f32 = (dims: number[], r: () => number, scale = 1, offset = 0) => new Tensor('float32', Float32Array.from({ length: size(dims) }, () => r() * scale + offset), dims);

/**
 * The static plan and the general path give the same bytes for every graph output over inputs whose ranges differ
 * (scale and offset: the zero point moves from 0 to 255) and an all-zero input; the plan is made.
 */
function samePaths(g: Graph, dims: number[], seed: number, opts: { fusePatterns?: boolean } = {}): void {
  const r = rng(seed);
  staticEqualsGeneral(g, [f32(dims, r, 2), f32(dims, r, 0.3, 0.25), f32(dims, r, 5, -4), new Tensor('float32', new Float32Array(size(dims)), dims), f32(dims, r, 40, 3)], opts);
}

/** MatMul → Add → Relu → MatMul (→ Gemm) over rows of tokens: what `quantize(…, { mode: 'dynamic' })` rewrites */
function mlp(m: number, k: number, n: number, seed: number): { g: Graph; dims: number[] } {
  const r = rng(seed);
  const g = new Graph();
  g.opsets = { '': 17 };
  const dims = [m, k];
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: dims } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  g.initializers.set('w1', f32([k, n], r, 0.4));
  g.initializers.set('b1', f32([n], r, 0.3));
  g.initializers.set('w2', f32([n, 7], r, 0.4));
  g.initializers.set('w3', f32([5, 7], r, 0.4));
  g.initializers.set('b3', f32([5], r, 0.3));
  g.nodes.push(
    node('mm1', 'MatMul', ['x', 'w1'], ['a']),
    node('add', 'Add', ['a', 'b1'], ['ab']),
    node('relu', 'Relu', ['ab'], ['h']),
    node('mm2', 'MatMul', ['h', 'w2'], ['h2']),
    node('fc', 'Gemm', ['h2', 'w3', 'b3'], ['y'], { transB: 1 }),
  );
  return { g, dims };
}

interface ConvLayer {
  c: number;
  k: number;
  stride: number;
  wType: 'int8' | 'uint8';
}

/**
 * onnxruntime quantize_dynamic's Conv (isnet's, whisper's Conv1d): DynamicQuantizeLinear(x) → ConvInteger(xq, W, xz,
 * wz) → Cast → Mul(·, x_scale · w_scale) → Add(bias [1, C, 1(, 1)]) → Relu, layer after layer; `rank` 1 or 2.
 */
function convNet(rank: 1 | 2, cin: number, hw: number, layers: ConvLayer[], seed: number): { g: Graph; dims: number[] } {
  const r = rng(seed);
  const g = new Graph();
  g.opsets = { '': 17 };
  const sp = rank === 2 ? [hw, hw] : [hw];
  const dims = [1, cin, ...sp];
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: dims } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  let x = 'x';
  let c = cin;
  layers.forEach((l, i) => {
    const kd = Array<number>(rank).fill(l.k);
    const codes = size([l.c, c, ...kd]);
    const wq = l.wType === 'uint8' ? new Tensor('uint8', Uint8Array.from({ length: codes }, () => Math.floor((r() + 1) * 127.5)), [l.c, c, ...kd]) : new Tensor('int8', Int8Array.from({ length: codes }, () => Math.round(r() * 127)), [l.c, c, ...kd]);
    const wz = l.wType === 'uint8' ? new Tensor('uint8', Uint8Array.of(Math.floor((r() + 1) * 127.5)), []) : new Tensor('int8', Int8Array.of(Math.round(r() * 20)), []);
    g.initializers.set(`w${i}`, wq);
    g.initializers.set(`wz${i}`, wz);
    g.initializers.set(`ws${i}`, new Tensor('float32', Float32Array.of(0.002 + Math.abs(r()) * 0.01), []));
    g.initializers.set(`b${i}`, f32([1, l.c, ...Array<number>(rank).fill(1)], r, 0.5));
    const pad = (l.k - 1) >> 1;
    const y = i === layers.length - 1 ? 'y' : `r${i}`;
    g.nodes.push(
      node(`dql${i}`, 'DynamicQuantizeLinear', [x], [`q${i}`, `s${i}`, `z${i}`]),
      node(`sm${i}`, 'Mul', [`s${i}`, `ws${i}`], [`sw${i}`]),
      node(`conv${i}`, 'ConvInteger', [`q${i}`, `w${i}`, `z${i}`, `wz${i}`], [`acc${i}`], { kernel_shape: kd, pads: Array<number>(2 * rank).fill(pad), strides: Array<number>(rank).fill(l.stride) }),
      node(`cast${i}`, 'Cast', [`acc${i}`], [`f${i}`], { to: 1 }),
      node(`mul${i}`, 'Mul', [`f${i}`, `sw${i}`], [`m${i}`]),
      node(`add${i}`, 'Add', [`m${i}`, `b${i}`], [`a${i}`]),
      node(`relu${i}`, 'Relu', [`a${i}`], [y]),
    );
    x = y;
    c = l.c;
  });
  return { g, dims };
}

const layer = fc.record({ c: fc.integer({ min: 1, max: 9 }), k: fc.constantFrom(1, 3), stride: fc.constantFrom(1, 2), wType: fc.constantFrom('int8' as const, 'uint8' as const) });

describe('static plans of dynamically quantized models', () => {
  it("quantize(…, { mode: 'dynamic' }) MLPs plan whole, same bytes: DynamicQuantizeMatMul (fused) and DynamicQuantizeLinear → MatMulInteger → Cast → Mul (unfused)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 24 }), fc.boolean(), fc.boolean(), fc.integer(), async (m, k, n, perChannel, fusePatterns, seed) => {
        const { g, dims } = mlp(m, k, n, seed);
        const q = await quantize(g, { mode: 'dynamic', perChannel, report: false });
        const ops = new Set(q.graph.nodes.map((x) => x.op));
        expect(ops.has('DynamicQuantizeLinear') && ops.has('MatMulInteger')).toBe(true);
        samePaths(q.graph, dims, seed, { fusePatterns });
      }),
      { numRuns: 24 },
    );
  });

  it('ConvInteger after DynamicQuantizeLinear (a zero point the graph computes), 2-D and 1-D, int8 / uint8 weights, plans whole, same bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(1 as const, 2 as const), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 3, max: 12 }), fc.array(layer, { minLength: 1, maxLength: 3 }), fc.integer(), (rank, cin, hw, layers, seed) => {
        const { g, dims } = convNet(rank, cin, hw, layers, seed);
        samePaths(g, dims, seed);
      }),
      { numRuns: 24 },
    );
  });
});
