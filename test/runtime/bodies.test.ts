// Control-flow bodies (runtime/bodies.ts): a body of Identity nodes only — PyTorch's `else: return x` — returns the
// values it passes on without running a child plan. ONNX If: "then_branch: Graph to run if condition is true ...
// values you wish to be live-out to the enclosing scope"; Identity: "Identity operator" (output = input).
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { capturedBy } from '../../src/ir/subgraph.js';
import { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

/**
 * X[2,3] → Relu (a kernel: its output lives in kernel memory) → R; If(flag) { then: Sigmoid(R) (a child plan)
 * else: Identity(Identity(R)) (a pass-through body) } → Y; Z = Relu(X·(−1)) runs after the If and overwrites kernel
 * memory the next run, so a Y that still pointed into it would change under the caller.
 */
function model(): Graph {
  const then = new Graph();
  then.name = 'then';
  then.nodes = [node('sig', 'Sigmoid', ['R'], ['S'])];
  then.outputs = [{ name: 'S', type: { dtype: 'float32' } }];
  const other = new Graph();
  other.name = 'else';
  other.nodes = [node('id1', 'Identity', ['R'], ['a']), node('id2', 'Identity', ['a'], ['b'])];
  other.outputs = [{ name: 'b', type: { dtype: 'float32' } }];
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [
    { name: 'X', type: { dtype: 'float32', shape: [2, 3] } },
    { name: 'flag', type: { dtype: 'bool', shape: [] } },
  ];
  g.initializers.set('m1', new Tensor('float32', Float32Array.of(-1), []));
  g.nodes = [
    node('relu', 'Relu', ['X'], ['R']),
    node('branch', 'If', ['flag'], ['Y'], { then_branch: then, else_branch: other }),
    node('neg', 'Mul', ['X', 'm1'], ['NX']),
    node('relu2', 'Relu', ['NX'], ['Z']),
  ];
  g.nodes[1]!.inputs.push(...capturedBy(g.nodes[1]!));
  g.outputs = [
    { name: 'Y', type: { dtype: 'float32' } },
    { name: 'Z', type: { dtype: 'float32' } },
  ];
  return g;
}

describe('control-flow bodies', () => {
  it('an Identity-only branch passes its captured value on: same values as the reference, both branches, and results that later runs do not change', async () => {
    const s = await InferenceSession.create(model());
    const ref = new Executor(model(), { backend: 'reference', canonicalize: false });
    const x = (k: number) => new Tensor('float32', Float32Array.from({ length: 6 }, (_, i) => Math.sin(i * 1.7 + k) * 3), [2, 3]);
    const flag = (b: boolean) => new Tensor('bool', Uint8Array.of(b ? 1 : 0), []);
    const kept: { got: Float32Array; want: Float32Array }[] = [];
    for (let k = 0; k < 6; k++) {
      const feeds = { X: x(k), flag: flag(k % 2 === 0) };
      const got = await s.run(feeds);
      const want = ref.run(feeds);
      for (const name of ['Y', 'Z']) {
        const w = (want[name] as Tensor).data as Float32Array;
        const o = got[name]!.data as Float32Array;
        expect(got[name]!.dims).toEqual([2, 3]);
        // Relu and Identity are exact; Sigmoid's vector exp is within a few ulps of the reference's Math.exp
        o.forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThanOrEqual(1e-6));
      }
      kept.push({ got: got.Y!.data as Float32Array, want: Float32Array.from((want.Y as Tensor).data as Float32Array) });
    }
    // every earlier result is intact after the later runs reused kernel memory
    for (const { got, want } of kept) got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-6));
    await s.release();
  });
});
