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
  ];
  g.initializers.set('W', new Tensor('float32', new Float32Array(12).fill(0.5), [4, 3]));
  g.nodes = [
    { name: 'act_x_act', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['C'], attrs: {} },
    { name: 'by_weight', op: 'MatMul', domain: '', inputs: ['C', 'W'], outputs: ['D'], attrs: {} },
    { name: 'floor', op: 'Floor', domain: '', inputs: ['D'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('plan fallbacks', () => {
  it('names why each node runs on the reference', () => {
    const ex = new Executor(graph());
    const byName = new Map([...ex.fallbacks].map(([n, why]) => [n.name, why]));
    expect(byName.get('act_x_act')).toMatch(/B is not a constant/);
    expect(byName.get('floor')).toBe('no WASM kernel for Floor');
    expect(byName.has('by_weight')).toBe(false);
    expect(ex.kernels.get(ex.graph.nodes[1]!)?.name).toBe('f32_gemm_4x8');
    ex.dispose();
  });
});
