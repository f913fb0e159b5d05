// Add(bias, MatMul(x, W)) — nn.Linear as PyTorch exports it — folded into the MatMul kernel (runtime/executor.ts
// fuseRowBias, kernels/gemm.ts fuseBias): the bias is packed with the weight. Checked against the reference plan over
// random shapes hitting the 4×8 tile edges, both operand orders, [N] / [1,N] / [1,1,N] biases, and activations after.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../helpers/compare.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });
const floats = (n: number) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, noDefaultInfinity: true, min: -4, max: 4 });

interface Case {
  b: number;
  m: number;
  k: number;
  n: number;
  biasFirst: boolean;
  biasRank: number;
  act: 'none' | 'Relu' | 'Gelu';
}

function linear(c: Case, w: Float32Array, bias: Float32Array, extraUse = false): Graph {
  const g = new Graph();
  g.opsets = { '': 20 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [c.b, c.m, c.k] } }];
  g.initializers.set('W', new Tensor('float32', w, [c.k, c.n]));
  g.initializers.set('bias', new Tensor('float32', bias, [...new Array<number>(c.biasRank - 1).fill(1), c.n]));
  g.nodes = [node('mm', 'MatMul', ['x', 'W'], ['h']), node('add', 'Add', c.biasFirst ? ['bias', 'h'] : ['h', 'bias'], ['z'])];
  let out = 'z';
  if (c.act !== 'none') {
    g.nodes.push(node('act', c.act, ['z'], ['y']));
    out = 'y';
  }
  g.outputs = [{ name: out, type: { dtype: 'float32' } }];
  if (extraUse) {
    g.nodes.push(node('neg', 'Neg', ['h'], ['hn']));
    g.outputs.push({ name: 'hn', type: { dtype: 'float32' } });
  }
  return g;
}

const cases = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  m: fc.integer({ min: 1, max: 9 }),
  k: fc.integer({ min: 1, max: 20 }),
  n: fc.integer({ min: 1, max: 19 }),
  biasFirst: fc.boolean(),
  biasRank: fc.integer({ min: 1, max: 3 }),
  act: fc.constantFrom<Case['act']>('none', 'Relu', 'Gelu'),
});

describe('MatMul + row-bias Add fused into f32_gemm', () => {
  // ONNX Add: "Performs element-wise binary addition (with Numpy-style broadcasting support)" — a [N] (or [1,…,1,N])
  // bias is added to every row of MatMul's [.., M, N] output; the fused kernel must give the same values.
  it('equals the reference plan (random shapes, either operand order, activations after)', () => {
    fc.assert(
      fc.property(
        cases.chain((c) => fc.tuple(fc.constant(c), floats(c.b * c.m * c.k), floats(c.k * c.n), floats(c.n))),
        ([c, x, w, bias]) => {
          const g = linear(c, w, bias);
          const wasm = new Executor(g);
          const ref = new Executor(g, { backend: 'reference' });
          expect([...wasm.fusedInto.keys()].map((n) => n.name)).toContain('add');
          const feeds = { x: new Tensor('float32', x, [c.b, c.m, c.k]) };
          const out = g.outputs[0]!.name;
          expectClose(wasm.run(feeds)[out] as Tensor, ref.run(feeds)[out] as Tensor);
          wasm.dispose();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('does not fuse when the MatMul output has another reader, or the addend is not a row', () => {
    const c: Case = { b: 1, m: 3, k: 5, n: 6, biasFirst: true, biasRank: 1, act: 'none' };
    const w = Float32Array.from({ length: 30 }, (_, i) => Math.sin(i));
    const bias = Float32Array.from({ length: 6 }, (_, i) => i - 2);
    const x = new Tensor('float32', Float32Array.from({ length: 15 }, (_, i) => Math.cos(i)), [1, 3, 5]);
    const shared = linear(c, w, bias, true);
    const e = new Executor(shared);
    expect(e.fusedInto.size).toBe(0);
    const r = new Executor(shared, { backend: 'reference' });
    expectClose(e.run({ x }).z as Tensor, r.run({ x }).z as Tensor);
    expectClose(e.run({ x }).hn as Tensor, r.run({ x }).hn as Tensor);
    e.dispose();
    // a full [M, N] addend is not a per-column bias
    const full = linear(c, w, bias);
    full.initializers.set('bias', new Tensor('float32', Float32Array.from({ length: 18 }, (_, i) => i / 3), [3, 6]));
    const f = new Executor(full);
    expect(f.fusedInto.size).toBe(0);
    expectClose(f.run({ x }).z as Tensor, new Executor(full, { backend: 'reference' }).run({ x }).z as Tensor);
    f.dispose();
  });
});
