// Plan-time buffer sharing for Concat (issue 5: "one arena in WASM memory with buffers reused"): kernels write the
// parts of a batch-1 channel Concat straight into its output block. The result must be bit-identical to the plan
// without it (same kernels, only where the bytes land), intermediates stay fetchable, and memory stays flat.
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { arena } from '../../src/kernels/wasm.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

function fireNet(batch: number | string): Graph {
  const g = new Graph();
  const rnd = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.5);
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [batch, 4, 9, 9] } }];
  g.initializers.set('Wa', new Tensor('float32', rnd(5 * 4 * 9, 1), [5, 4, 3, 3]));
  g.initializers.set('Wb', new Tensor('float32', rnd(3 * 4, 2), [3, 4, 1, 1]));
  g.initializers.set('Bb', new Tensor('float32', rnd(3, 3), [3]));
  g.initializers.set('Wc', new Tensor('float32', rnd(2 * 12, 4), [2, 12, 1, 1]));
  g.nodes = [
    { name: 'ca', op: 'Conv', domain: '', inputs: ['X', 'Wa'], outputs: ['a'], attrs: { pads: [1, 1, 1, 1] } },
    { name: 'ra', op: 'Relu', domain: '', inputs: ['a'], outputs: ['ra'], attrs: {} },
    { name: 'cb', op: 'Conv', domain: '', inputs: ['X', 'Wb', 'Bb'], outputs: ['b'], attrs: {} },
    // a kernel that cannot write in place (its part is copied into the block)
    { name: 'mp', op: 'MaxPool', domain: '', inputs: ['X'], outputs: ['p'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { name: 'cat', op: 'Concat', domain: '', inputs: ['ra', 'b', 'p'], outputs: ['cat'], attrs: { axis: 1 } },
    { name: 'cc', op: 'Conv', domain: '', inputs: ['cat', 'Wc'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

const input = (n: number) => new Tensor('float32', Float32Array.from({ length: n * 4 * 81 }, (_, i) => Math.cos(i * 0.37)), [n, 4, 9, 9]);

describe('Concat in place', () => {
  it('batch-1 channel concat: parts written into one block, bit-identical to the copying plan', () => {
    const fast = new Executor(fireNet(1));
    const copying = new Executor(fireNet(1), { concatInPlace: false });
    expect(fast.concatPlans.size).toBe(1);
    expect(copying.concatPlans.size).toBe(0);
    const x = input(1);
    const names = ['Y', 'cat', 'ra', 'b', 'p'];
    const got = fast.run({ X: x }, names);
    const want = copying.run({ X: x }, names);
    for (const n of names) expect(Array.from(got[n]!.data as Float32Array), n).toEqual(Array.from(want[n]!.data as Float32Array));
    // and the reference ops agree (ONNX Concat: "concatenate a list of tensors into a single tensor")
    const ref = new Executor(fireNet(1), { backend: 'reference' }).run({ X: x }, ['cat']).cat!.data as Float32Array;
    (got.cat!.data as Float32Array).forEach((v, i) => expect(Math.abs(v - ref[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref[i]!))));
    fast.dispose();
    copying.dispose();
  });

  it('is not planned where the parts are not contiguous (batch > 1) or the batch is symbolic', () => {
    expect(new Executor(fireNet(2)).concatPlans.size).toBe(0);
    expect(new Executor(fireNet('N')).concatPlans.size).toBe(0);
  });

  it('holds no block after a run and does not grow memory over 200 runs', () => {
    const mem = arena()!;
    const ex = new Executor(fireNet(1));
    const x = input(1);
    const first = ex.run({ X: x }).Y!.data as Float32Array;
    const bytes = mem.memory.buffer.byteLength;
    const held = mem.inUse;
    for (let i = 0; i < 200; i++) ex.run({ X: x });
    expect(mem.memory.buffer.byteLength).toBe(bytes);
    expect(mem.inUse).toBe(held);
    expect(Array.from(ex.run({ X: x }).Y!.data as Float32Array)).toEqual(Array.from(first));
    ex.dispose();
  });
});
