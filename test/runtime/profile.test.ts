// session.profile() (runtime/profile.ts) and plans per concrete input shape (runtime/specialize.ts).
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { SPECIALIZATIONS } from '../../src/runtime/specialize.js';
import { capturedBy } from '../../src/ir/subgraph.js';
import { Tensor } from '../../src/tensor/tensor.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

/** X[N,4,H,W] → Conv 3×3 (kernel) → Floor (reference) → Reshape (view kernel) to [N, -1] with the shape computed by Shape/Gather/Concat. */
function model(shape: (number | string)[] = ['N', 4, 'H', 'W']): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape } }];
  g.initializers.set('W', new Tensor('float32', rand(8 * 4 * 9, 1), [8, 4, 3, 3]));
  g.initializers.set('i0', new Tensor('int64', BigInt64Array.from([0n]), [1]));
  g.initializers.set('m1', new Tensor('int64', BigInt64Array.from([-1n]), [1]));
  g.nodes = [
    node('conv', 'Conv', ['X', 'W'], ['C'], { pads: [1, 1, 1, 1] }),
    node('floor', 'Floor', ['C'], ['F']),
    node('shape', 'Shape', ['X'], ['s']),
    node('batch', 'Gather', ['s', 'i0'], ['n'], { axis: 0 }),
    node('target', 'Concat', ['n', 'm1'], ['t'], { axis: 0 }),
    node('flat', 'Reshape', ['F', 't'], ['Y']),
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('session.profile()', () => {
  it('reports per node the kernel or the reference with its reason, per-op totals and the reference share', async () => {
    const s = await InferenceSession.create(model([1, 4, 6, 6]), { profile: true });
    const x = new Tensor('float32', rand(144, 2), [1, 4, 6, 6]);
    s.runSync({ X: x });
    s.resetProfile();
    for (let r = 0; r < 5; r++) s.runSync({ X: x });
    const p = s.profile();
    expect(p.runs).toBe(5);
    expect(p.ms).toBeGreaterThan(0);
    expect(p.reference_share).toBeGreaterThan(0); // Floor runs on the reference
    expect(p.reference_share).toBeLessThanOrEqual(1);
    const by = new Map(p.nodes.map((n) => [n.name, n]));
    expect(by.get('conv')!.kernel).toMatch(/conv/);
    expect(by.get('conv')!.reason).toBeUndefined();
    expect(by.get('floor')).toMatchObject({ op: 'Floor', kernel: 'reference', reason: 'no WASM kernel for Floor' });
    expect(by.has('shape')).toBe(false); // folded by canonicalize: the dims are static
    expect(p.canonicalized.folded).toBe(3);
    const floorOps = p.ops.find((o) => o.op === 'Floor')!;
    expect(floorOps).toMatchObject({ kernel: 'reference', count: 1 });
    await s.release();
  });

  it('needs { profile: true }', async () => {
    const s = await InferenceSession.create(model([1, 4, 6, 6]));
    expect(() => s.profile()).toThrow(/profile: true/);
    await s.release();
  });

  it("keeps the executor's per-kernel-name `profile` map working (derived from the per-node records)", () => {
    const ex = new Executor(model([1, 4, 6, 6]));
    ex.profile = new Map();
    ex.run({ X: new Tensor('float32', rand(144, 3), [1, 4, 6, 6]) });
    expect([...ex.profile.keys()].sort()).toEqual([ex.kernels.get(ex.graph.nodes[0]!)!.name, 'ref:Floor', 'view'].sort());
    ex.dispose();
  });
});

describe('symbolic input dims: a plan per concrete shape', () => {
  it('plans each input shape with static shapes (Shape arithmetic folded), agrees with the reference, keeps at most 4 plans', async () => {
    const g = model();
    const s = await InferenceSession.create(g, { profile: true });
    const ref = await InferenceSession.create(g, { backend: 'reference' });
    const shapes = [
      [1, 4, 6, 6],
      [2, 4, 5, 7],
      [1, 4, 6, 6],
      [1, 4, 9, 3],
      [3, 4, 2, 2],
      [1, 4, 4, 4],
      [2, 4, 5, 7],
    ];
    for (const [k, d] of shapes.entries()) {
      const x = new Tensor('float32', rand(d.reduce((a, b) => a * b), 10 + k), d);
      const y = (await s.run({ X: x })).Y!;
      const want = (await ref.run({ X: x })).Y!;
      expect(y.dims).toEqual(want.dims);
      const w = want.data as Float32Array;
      (y.data as Float32Array).forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThanOrEqual(1)); // Floor of ~1e-6 differences
      const p = s.profile();
      expect(p.nodes.some((n) => n.op === 'Shape')).toBe(false);
      expect(p.nodes.find((n) => n.name === 'conv')!.kernel).toMatch(/conv/);
    }
    // the generic (reference) plan + at most SPECIALIZATIONS specialized ones are alive
    expect((s as unknown as { execs: unknown[] }).execs.length).toBeLessThanOrEqual(1 + SPECIALIZATIONS);
    // mismatched symbols are still rejected by the generic plan's checks
    await expect(s.run({ X: new Tensor('float32', new Float32Array(10), [1, 5, 2, 1]) })).rejects.toThrow(/shape/);
    await s.release();
    await ref.release();
  });
});

/**
 * X[1,4,6,6], flag (bool, a run-time input) → If(flag) { then: Conv 3×3 (a kernel) inside the body; Shape(X)[1] == 4
 * → a nested If that folds once the body is planned for X's shape, so its branch (Neg) is inlined } else Floor(X).
 */
function branching(): Graph {
  const body = new Graph();
  body.name = 'then';
  body.initializers.set('W', new Tensor('float32', rand(8 * 4 * 9, 3), [8, 4, 3, 3]));
  body.initializers.set('i1', new Tensor('int64', BigInt64Array.from([1n]), []));
  body.initializers.set('four', new Tensor('int64', BigInt64Array.from([4n]), []));
  const inner = new Graph();
  inner.name = 'inner_then';
  inner.nodes = [node('neg', 'Neg', ['C'], ['N'])];
  inner.outputs = [{ name: 'N', type: { dtype: 'float32' } }];
  const innerElse = new Graph();
  innerElse.name = 'inner_else';
  innerElse.nodes = [node('floor2', 'Floor', ['C'], ['F2'])];
  innerElse.outputs = [{ name: 'F2', type: { dtype: 'float32' } }];
  body.nodes = [
    node('conv', 'Conv', ['X', 'W'], ['C'], { pads: [1, 1, 1, 1] }),
    node('shape', 'Shape', ['X'], ['s']),
    node('c', 'Gather', ['s', 'i1'], ['ch'], { axis: 0 }),
    node('is4', 'Equal', ['ch', 'four'], ['k']),
    node('inner', 'If', ['k'], ['T'], { then_branch: inner, else_branch: innerElse }),
  ];
  body.nodes[4]!.inputs.push(...capturedBy(body.nodes[4]!)); // outer names a body reads are inputs (as the reader does)
  body.outputs = [{ name: 'T', type: { dtype: 'float32' } }];
  const other = new Graph();
  other.name = 'else';
  other.nodes = [node('floor', 'Floor', ['X'], ['E'])];
  other.outputs = [{ name: 'E', type: { dtype: 'float32' } }];
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs = [
    { name: 'X', type: { dtype: 'float32', shape: [1, 4, 6, 6] } },
    { name: 'flag', type: { dtype: 'bool', shape: [] } },
  ];
  g.nodes = [node('branch', 'If', ['flag'], ['Y'], { then_branch: body, else_branch: other })];
  g.nodes[0]!.inputs.push(...capturedBy(g.nodes[0]!));
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('profile of control flow', () => {
  it("an If counts with its bodies' reference nodes, not as a reference op (a nested If on a shape folds away)", async () => {
    const s = await InferenceSession.create(branching(), { profile: true });
    const feeds = { X: new Tensor('float32', rand(144, 4), [1, 4, 6, 6]), flag: new Tensor('bool', Uint8Array.of(1), []) };
    const got = s.runSync(feeds).Y!;
    const want = new Executor(branching(), { backend: 'reference', canonicalize: false }).run(feeds).Y as Tensor;
    // the Conv kernel sums in another order than the reference: close, not bit-equal
    const w = want.data as Float32Array;
    (got.data as Float32Array).forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(w[i]!))));
    s.resetProfile();
    for (let r = 0; r < 5; r++) s.runSync(feeds);
    const p = s.profile();
    const br = p.nodes.find((n) => n.name === 'branch')!;
    expect(br.kernel).toBe('control-flow');
    // every body node ran on a kernel (Conv; Neg of the inlined nested If): nothing on the reference
    expect(br.body_reference_ms).toBe(0);
    expect(p.reference_share).toBe(0);
    // the else branch's Floor runs on the reference: the If counts with that node's time
    const q = await InferenceSession.create(branching(), { profile: true });
    const other = { ...feeds, flag: new Tensor('bool', Uint8Array.of(0), []) };
    for (let r = 0; r < 5; r++) q.runSync(other);
    const p2 = q.profile();
    const br2 = p2.nodes.find((n) => n.name === 'branch')!;
    expect(br2.body_reference_ms).toBeGreaterThan(0);
    expect(br2.body_reference_ms).toBeLessThanOrEqual(br2.ms);
    expect(p2.reference_share).toBeCloseTo(br2.body_reference_ms! / p2.nodes_ms, 6);
    await q.release();
    await s.release();
  });
});
