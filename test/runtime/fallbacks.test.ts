// A heavy op on the reference is a performance bug, so it must never be silent: the plan records, per node that no
// kernel took, why (no kernel for the op, or every candidate kernel's decline reason).
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

function graph(): Graph {
  const g = new Graph();
  g.inputs = [
    { name: 'A', type: { dtype: 'float32', shape: [2, 3] } },
    { name: 'B', type: { dtype: 'float32', shape: [3, 4] } },
    { name: 'V', type: { dtype: 'float32', shape: [3] } },
  ];
  g.initializers.set('W', new Tensor('float32', new Float32Array(12).fill(0.5), [4, 3]));
  g.nodes = [
    { name: 'act_x_act', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['C'], attrs: {} },
    { name: 'by_weight', op: 'MatMul', domain: '', inputs: ['C', 'W'], outputs: ['D'], attrs: {} },
    { name: 'floor', op: 'Floor', domain: '', inputs: ['D'], outputs: ['Y'], attrs: {} },
    { name: 'vec_x_act', op: 'MatMul', domain: '', inputs: ['V', 'B'], outputs: ['Z'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }, { name: 'Z', type: { dtype: 'float32' } }];
  return g;
}

describe('plan fallbacks', () => {
  it('names why each node runs on the reference', () => {
    const ex = new Executor(graph());
    const byName = new Map([...ex.fallbacks].map(([n, why]) => [n.name, why]));
    expect(byName.get('vec_x_act')).toMatch(/B is not a constant.*an operand is 1-D/);
    expect(byName.has('act_x_act')).toBe(false); // batched activation × activation kernel (f32_bmm)
    expect(ex.kernels.get(ex.graph.nodes[0]!)?.name).toBe('f32_bmm');
    expect(byName.get('floor')).toBe('no WASM kernel for Floor');
    expect(byName.has('by_weight')).toBe(false);
    expect(ex.kernels.get(ex.graph.nodes[1]!)?.name).toBe('f32_gemm_4x8');
    ex.dispose();
  });
});

describe('a kernel that falls back at run time', () => {
  // ONNX Relu: "y = max(0, x)". The Relu was folded into the MatMul kernel's epilogue at plan time (A's rank unknown);
  // a 1-D A at run time sends the MatMul to the reference, so the Relu must run as itself, not be skipped.
  it('still applies the activations that were folded into it', () => {
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'float32' } }];
    g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => (i % 3) - 1), [4, 3]));
    g.nodes = [
      { name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'W'], outputs: ['C'], attrs: {} },
      { name: 'relu', op: 'Relu', domain: '', inputs: ['C'], outputs: ['Y'], attrs: {} },
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    expect(ex.kernels.get(ex.graph.nodes.find((n) => n.name === 'mm')!)?.name).toBe('f32_gemm_4x8');
    expect(ex.fusedInto.size).toBe(1);
    const a1 = new Tensor('float32', Float32Array.of(1, 2, -3, 4), [4]);
    const got = ex.run({ A: a1 }).Y as Tensor;
    const want = new Executor(g, { backend: 'reference' }).run({ A: a1 }).Y as Tensor;
    expect(Array.from(want.data as Float32Array).some((v) => v === 0)).toBe(true); // the Relu matters here
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
    expect(ex.fallbacks.get(ex.graph.nodes.find((n) => n.name === 'mm')!)).toMatch(/declined this run/);
    // a 2-D A takes the kernel (Relu in its epilogue) again
    const a2 = new Tensor('float32', Float32Array.of(1, 2, -3, 4, -1, 0, 2, 1), [2, 4]);
    const got2 = ex.run({ A: a2 }).Y as Tensor;
    const want2 = new Executor(g, { backend: 'reference' }).run({ A: a2 }).Y as Tensor;
    expect(Array.from(got2.data as Float32Array)).toEqual(Array.from(want2.data as Float32Array));
    ex.dispose();
  });
});
