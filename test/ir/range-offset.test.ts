// Range(x, x + k) → x + Range(0, k) in canonicalize (ir/passes/range-offset.ts): a KV decoder's position ids. The
// values must stay those of the ONNX rule, and the output's length must become static so what follows folds.
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { canonicalize } from '../../src/ir/passes/canonicalize.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

/** P = dim 2 of `past` [1, 2, past, 4] (symbolic); out = Range(Cast(P), Cast(Add(P, k)), delta) · 1, seq-shaped ones */
function positions(k: number, delta: number, commuted = false): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'past', type: { dtype: 'float32', shape: [1, 2, 'past', 4] } }];
  g.outputs = [{ name: 'y', type: { dtype: 'int64' } }];
  g.initializers.set('two', new Tensor('int64', BigInt64Array.of(2n), []));
  g.initializers.set('k', new Tensor('int64', BigInt64Array.of(BigInt(k)), []));
  g.initializers.set('delta', new Tensor('int64', BigInt64Array.of(BigInt(delta)), []));
  g.initializers.set('one', new Tensor('int64', BigInt64Array.of(1n), [1]));
  g.nodes = [
    node('shape', 'Shape', ['past'], ['s']),
    node('gather', 'Gather', ['s', 'two'], ['P'], { axis: 0 }),
    node('add', 'Add', commuted ? ['k', 'P'] : ['P', 'k'], ['end']),
    node('c0', 'Cast', ['P'], ['start'], { to: 7 }),
    node('c1', 'Cast', ['end'], ['limit'], { to: 7 }),
    node('range', 'Range', ['start', 'limit', 'delta'], ['r']),
    // the length feeds shape arithmetic: Shape(r) is foldable only when r's length is known
    node('len', 'Shape', ['r'], ['n']),
    node('grow', 'Expand', ['r', 'n'], ['e']),
    node('mul', 'Mul', ['e', 'one'], ['y']),
  ];
  return g;
}

describe('Range(x, x + k) canonicalization', () => {
  // ONNX Range: "number_of_elements = max( ceil( (limit - start) / delta ) , 0 )", "output[i] = start + (i * delta)"
  it.each([
    [1, 1, false],
    [5, 2, true],
    [7, 3, false],
    [0, 1, false],
    [-3, 1, true],
  ])('k = %i, delta = %i: same values as the reference Range, static length', (k, delta, commuted) => {
    const g = positions(k, delta, commuted);
    const c = canonicalize(g);
    expect(c.nodes.some((n) => n.op === 'Range')).toBe(false);
    const count = Math.max(Math.ceil(k / delta), 0);
    const plain = new Executor(g, { backend: 'reference', canonicalize: false });
    const canon = new Executor(g, { backend: 'reference' });
    expect(canon.analysis.types.get('r')?.shape).toEqual([count]);
    expect(canon.analysis.consts.has('n')).toBe(true); // Shape(r) folded
    for (const past of [0, 1, 6]) {
      const feeds = { past: new Tensor('float32', new Float32Array(8 * past), [1, 2, past, 4]) };
      const want = Array.from({ length: count }, (_, i) => BigInt(past + i * delta));
      expect([...((plain.run(feeds).y as Tensor).data as BigInt64Array)]).toEqual(want);
      expect([...((canon.run(feeds).y as Tensor).data as BigInt64Array)]).toEqual(want);
    }
  });

  it('leaves a Range whose limit is not start + constant alone', () => {
    const g = positions(3, 1);
    g.nodes.find((n) => n.name === 'c0')!.inputs = ['k']; // start is now the constant, limit P + 3: not x + k of x
    const c = canonicalize(g);
    expect(c.nodes.some((n) => n.op === 'Range')).toBe(true);
  });
});

/** A decoder's one-row causal mask: ConstantOfShape([rows, P + b]) → Trilu(·, P, upper 0) → Cast → Not → Cast → y */
function causal(rows: number, b: number): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'past', type: { dtype: 'float32', shape: [1, 2, 'past', 4] } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  g.initializers.set('two', new Tensor('int64', BigInt64Array.of(2n), []));
  g.initializers.set('b', new Tensor('int64', BigInt64Array.of(BigInt(b)), []));
  g.initializers.set('rows', new Tensor('int64', BigInt64Array.of(BigInt(rows)), [1]));
  g.initializers.set('axes', new Tensor('int64', BigInt64Array.of(0n), [1]));
  g.nodes = [
    node('shape', 'Shape', ['past'], ['s']),
    node('gather', 'Gather', ['s', 'two'], ['P'], { axis: 0 }),
    node('add', 'Add', ['P', 'b'], ['T']),
    node('unsq', 'Unsqueeze', ['T', 'axes'], ['Tu']),
    node('cat', 'Concat', ['rows', 'Tu'], ['dims'], { axis: 0 }),
    node('ones', 'ConstantOfShape', ['dims'], ['o'], { value: new Tensor('float32', Float32Array.of(1), [1]) }),
    node('tri', 'Trilu', ['o', 'P'], ['t'], { upper: 0 }),
    node('c0', 'Cast', ['t'], ['tb'], { to: 9 }),
    node('not', 'Not', ['tb'], ['nb']),
    node('c1', 'Cast', ['nb'], ['mb'], { to: 9 }),
    node('c2', 'Cast', ['mb'], ['y'], { to: 1 }),
  ];
  return g;
}

describe('one-row causal mask canonicalization', () => {
  // ONNX Trilu: "If upper is set to false, a lower triangular matrix is retained"; element (i, j) is kept iff
  // j ≤ i + k. With columns = k + b, b ≤ 1, every element is kept; the Cast/Not chain of a constant fill is a fill.
  it.each([
    [1, 1],
    [3, 1],
    [1, 0],
    [1, 2],
    [2, 3],
  ])('rows %i, columns past + %i: same values as the reference', (rows, b) => {
    const g = causal(rows, b);
    const c = canonicalize(g);
    expect(c.nodes.some((n) => n.op === 'Trilu')).toBe(b > 1);
    if (b <= 1) expect(c.nodes.some((n) => n.op === 'Not' || (n.op === 'Cast' && n.name !== 'c2'))).toBe(false);
    const plain = new Executor(g, { backend: 'reference', canonicalize: false });
    const canon = new Executor(g, { backend: 'reference' });
    for (const past of [0, 1, 5]) {
      const feeds = { past: new Tensor('float32', new Float32Array(8 * past), [1, 2, past, 4]) };
      const want = plain.run(feeds).y as Tensor;
      const got = canon.run(feeds).y as Tensor;
      expect(got.dims).toEqual(want.dims);
      expect([...(got.data as Float32Array)]).toEqual([...(want.data as Float32Array)]);
    }
  });
});
