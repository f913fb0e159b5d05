// Integer shape arithmetic on a run-time value in canonicalize (ir/passes/shape-arith.ts): the per-layer chains a KV
// step plan keeps (its cache length is an input value) are simplified and merged; the values must stay the ONNX ones.
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { canonicalize } from '../../src/ir/passes/canonicalize.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });
const i64 = (vals: number[], dims = [vals.length]) => new Tensor('int64', BigInt64Array.from(vals, BigInt), dims);

/**
 * `layers` copies of what kv-append leaves per layer: dims = Concat([1, 4], len, [64]); T = Gather(dims, 2) (scalar);
 * P = T − 1; E = P + 1 (either order); mask = ConstantOfShape(Concat([1], Unsqueeze(E))) as float; plus Gather(dims,
 * [idx]) of a constant part. Output: the sum over layers of Where(mask, that dim, 0), shape [1, T].
 */
function chains(layers: number, idx: number, commuted: boolean): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'len', type: { dtype: 'int64', shape: [1] } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  for (const [k, v] of Object.entries({ bh: i64([1, 4]), d: i64([64]), two: i64([2], []), one: i64([1], []), axes: i64([0]), rows: i64([1]), at: i64([idx]), zero: new Tensor('float32', Float32Array.of(0), []) })) g.initializers.set(k, v);
  let acc = '';
  for (let l = 0; l < layers; l++) {
    const p = (x: string) => `l${l}_${x}`;
    g.nodes.push(
      node(p('cat'), 'Concat', ['bh', 'len', 'd'], [p('dims')], { axis: 0 }),
      node(p('g'), 'Gather', [p('dims'), 'two'], [p('T')], { axis: 0 }),
      node(p('sub'), 'Sub', [p('T'), 'one'], [p('P')]),
      node(p('add'), 'Add', commuted ? ['one', p('P')] : [p('P'), 'one'], [p('E')]),
      node(p('unsq'), 'Unsqueeze', [p('E'), 'axes'], [p('Eu')]),
      node(p('shape'), 'Concat', ['rows', p('Eu')], [p('ms')], { axis: 0 }),
      node(p('fill'), 'ConstantOfShape', [p('ms')], [p('m')], { value: new Tensor('bool', Uint8Array.of(1), [1]) }),
      node(p('gc'), 'Gather', [p('dims'), 'at'], [p('c')], { axis: 0 }),
      node(p('cf'), 'Cast', [p('c')], [p('cfl')], { to: 1 }),
      node(p('sel'), 'Where', [p('m'), p('cfl'), 'zero'], [p('v')]),
    );
    if (acc) g.nodes.push(node(p('acc'), 'Add', [acc, p('v')], [p('s')]));
    acc = acc ? p('s') : p('v');
  }
  g.nodes.push(node('out', 'Identity', [acc], ['y']));
  return g;
}

describe('integer shape arithmetic on a run-time value', () => {
  // ONNX Gather (axis 0): "output[i] = data[indices[i]]", a scalar index drops the axis; Concat joins its inputs in
  // order, so element 2 of Concat([1, 4], len, [64]) is len[0]; Sub/Add on integers wrap, so (x − 1) + 1 = x.
  it.each([
    [3, 0, false],
    [2, 3, true],
    [1, -4, false],
  ])('%i layers, constant index %i: same values as without it, one chain left', (layers, idx, commuted) => {
    const g = chains(layers, idx, commuted);
    const c = canonicalize(g);
    const count = (op: string) => c.nodes.filter((n) => n.op === op).length;
    expect(count('Sub') + count('Gather')).toBe(0);
    expect(count('ConstantOfShape')).toBe(1);
    const plain = new Executor(g, { backend: 'reference', canonicalize: false });
    const canon = new Executor(g, { backend: 'reference' });
    for (const len of [1, 2, 9]) {
      const feeds = { len: i64([len]) };
      const want = plain.run(feeds).y as Tensor;
      const got = canon.run(feeds).y as Tensor;
      expect(got.dims).toEqual([1, len]);
      expect(got.dims).toEqual(want.dims);
      expect([...(got.data as Float32Array)]).toEqual([...(want.data as Float32Array)]);
    }
  });

  it('leaves a Gather whose index is not constant, and a Sub/Add with different constants', () => {
    const g = chains(1, 0, false);
    g.initializers.set('other', i64([2], []));
    g.nodes.find((n) => n.name === 'l0_add')!.inputs = ['l0_P', 'other'];
    g.inputs.push({ name: 'k', type: { dtype: 'int64', shape: [] } });
    g.nodes.find((n) => n.name === 'l0_gc')!.inputs = ['l0_dims', 'k'];
    const c = canonicalize(g);
    expect(c.nodes.some((n) => n.op === 'Sub')).toBe(true);
    expect(c.nodes.filter((n) => n.op === 'Gather').length).toBe(1);
    const plain = new Executor(g, { backend: 'reference', canonicalize: false });
    const canon = new Executor(g, { backend: 'reference' });
    for (const [len, k] of [[1, 0], [3, 3], [5, -1]] as const) {
      const feeds = { len: i64([len]), k: i64([k], []) };
      expect([...((canon.run(feeds).y as Tensor).data as Float32Array)]).toEqual([...((plain.run(feeds).y as Tensor).data as Float32Array)]);
    }
  });
});
