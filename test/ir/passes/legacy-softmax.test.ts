// Opset ≤ 12 Softmax over the last axis (src/ir/passes/legacy-softmax.ts). ONNX Softmax-11: "The input is coerced
// into a 2-D tensor [d0·…·d(axis−1), d(axis)·…·d(n−1)]" — over axis = rank − 1 that is a softmax over the last axis
// alone, opset 13's `Softmax(x, axis = −1)`. The importer writes the old node as Flatten → Softmax → Reshape
// (formats/onnx/legacy/nn.ts) when it cannot see the rank; canonicalize turns it back into one node once it can,
// and an attention block written that way is then fused like an opset-17 one.
import { describe, expect, it } from 'vitest';
import { upgradeNode } from '../../../src/formats/onnx/legacy/index.js';
import { Graph, type Node } from '../../../src/ir/graph.js';
import { canonicalize } from '../../../src/ir/passes/canonicalize.js';
import { Executor } from '../../../src/runtime/executor.js';
import { Tensor } from '../../../src/tensor/tensor.js';

/** Q [H, S, d] · Kᵀ [H, d, T] → (opset-11 op, axis) → · V [H, T, d], written as the importer writes it */
function attention11(op: string, axis: number, extraReader = false): Graph {
  const [H, S, T, d] = [3, 5, 7, 4];
  const g = new Graph();
  g.opsets = { '': 11 };
  g.inputs = [
    { name: 'Q', type: { dtype: 'float32', shape: [H, S, d] } },
    { name: 'Kt', type: { dtype: 'float32', shape: [H, d, T] } },
    { name: 'V', type: { dtype: 'float32', shape: [H, T, d] } },
  ];
  const sm: Node = { name: 'sm', op, domain: '', inputs: ['s'], outputs: ['p'], attrs: { axis } };
  g.nodes = [
    { name: 'qk', op: 'MatMul', domain: '', inputs: ['Q', 'Kt'], outputs: ['s'], attrs: {} },
    ...upgradeNode(sm, 11, g),
    { name: 'pv', op: 'MatMul', domain: '', inputs: ['p', 'V'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }, ...(extraReader ? [{ name: 'p', type: { dtype: 'float32' } }] : [])];
  return g;
}

const feeds = (): Record<string, Tensor> => {
  const f = (dims: number[], k: number) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * k) * 2), dims);
  return { Q: f([3, 5, 4], 0.7), Kt: f([3, 4, 7], 1.3), V: f([3, 7, 4], 0.4) };
};

describe('opset ≤ 12 Softmax over the last axis', () => {
  it('the importer writes Flatten → Softmax → Reshape when the rank is unknown', () => {
    expect(attention11('Softmax', 2).nodes.map((n) => n.op)).toEqual(['MatMul', 'Shape', 'Flatten', 'Softmax', 'Reshape', 'MatMul']);
  });

  for (const op of ['Softmax', 'LogSoftmax', 'Hardmax']) {
    it(`${op}(axis = rank − 1) becomes one node over axis −1; same results as the graph as written`, () => {
      for (const axis of [2, -1]) {
        const g = attention11(op, axis);
        const c = canonicalize(g);
        expect(c.nodes.map((n) => n.op)).toEqual(['MatMul', op, 'MatMul']);
        expect(c.nodes[1]!.attrs.axis).toBe(-1);
        const want = new Executor(g, { backend: 'reference', canonicalize: false }).run(feeds()).Y!.data as Float32Array;
        const got = new Executor(c, { backend: 'reference', canonicalize: false }).run(feeds()).Y!.data as Float32Array;
        expect(Array.from(got)).toEqual(Array.from(want));
      }
    });
  }

  it('the planned attention block is fused (ai.edgeq ScaledDotProductAttention) and matches the reference', () => {
    const g = attention11('Softmax', 2);
    const fast = new Executor(g);
    expect(fast.graph.nodes.map((n) => n.op)).toContain('ScaledDotProductAttention');
    expect(fast.graph.nodes.map((n) => n.op)).not.toContain('Flatten');
    const got = fast.run(feeds()).Y!.data as Float32Array;
    const want = new Executor(g, { backend: 'reference' }).run(feeds()).Y!.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
  });

  it('stays as written over another axis (there the 2-D coercion really flattens)', () => {
    const g = attention11('Softmax', 1);
    expect(canonicalize(g).nodes.map((n) => n.op)).toContain('Flatten');
  });

  it('a softmax that is also a graph output keeps its name and values', () => {
    const g = attention11('Softmax', 2, true);
    const c = canonicalize(g);
    expect(c.nodes.map((n) => n.op)).toEqual(['MatMul', 'Softmax', 'MatMul']);
    const want = new Executor(g, { backend: 'reference', canonicalize: false }).run(feeds());
    const got = new Executor(c, { backend: 'reference', canonicalize: false }).run(feeds());
    expect(Array.from(got.p!.data as Float32Array)).toEqual(Array.from(want.p!.data as Float32Array));
    expect(got.p!.dims).toEqual([3, 5, 7]);
  });
});
