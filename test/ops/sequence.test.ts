import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError, ShapeError } from '../../src/errors.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { Graph, type Node, type ValueType } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { TensorSequence } from '../../src/tensor/sequence.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const f32 = (v: number[], dims = [v.length]) => new Tensor('float32', v, dims);
const i64 = (v: number[], dims = [v.length]) => new Tensor('int64', v.map(BigInt), dims);
const arr = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>);

/** A graph from nodes; `ins` are graph inputs, `consts` initializers, `outs` graph outputs. */
function graph(nodes: [string, string[], string[], Record<string, any>?][], ins: Record<string, ValueType>, outs: string[], consts: Record<string, Tensor> = {}): Graph {
  const g = new Graph();
  g.opsets = { '': 22 };
  for (const [name, type] of Object.entries(ins)) g.inputs.push({ name, type });
  for (const [name, t] of Object.entries(consts)) g.initializers.set(name, t);
  g.nodes = nodes.map(([op, inputs, outputs, attrs], i): Node => ({ name: `n${i}`, op, domain: '', inputs, outputs, attrs: attrs ?? {} }));
  for (const o of outs) g.outputs.push({ name: o, type: { dtype: 'float32' } });
  return g;
}

const T = (shape: number[]): ValueType => ({ dtype: 'float32', shape });
const SEQ: ValueType = { dtype: 'float32', sequence: true };

describe('sequence ops', () => {
  it('construct, insert at front, erase, at', async () => {
    const g = graph(
      [
        ['SequenceConstruct', ['a', 'b'], ['s1']],
        ['SequenceInsert', ['s1', 'c', 'p0'], ['s2']],
        ['SequenceErase', ['s2'], ['s3']],
        ['SequenceAt', ['s3', 'pm1'], ['y']],
        ['SequenceLength', ['s3'], ['n']],
      ],
      { a: T([2]), b: T([3]), c: T([1]) },
      ['y', 'n'],
      { p0: i64([0], []), pm1: i64([-1], []) },
    );
    const s = await InferenceSession.create(g);
    const r = await s.run({ a: f32([1, 2]), b: f32([3, 4, 5]), c: f32([9]) });
    // [c, a, b] → erase last → [c, a] → at -1 = a
    expect(arr(r.y!)).toEqual([1, 2]);
    expect(arr(r.n!)).toEqual([2n]);
  });

  it('position out of range is a ShapeError naming the node', async () => {
    const g = graph([['SequenceConstruct', ['a'], ['s']], ['SequenceAt', ['s', 'p'], ['y']]], { a: T([2]) }, ['y'], { p: i64([1], []) });
    const s = await InferenceSession.create(g);
    const e = await s.run({ a: f32([1, 2]) }).catch((x) => x);
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toContain("'n1'");
  });

  it('a sequence fed to a tensor op is rejected at load', async () => {
    const g = graph([['SequenceConstruct', ['a'], ['s']], ['Relu', ['s'], ['y']]], { a: T([2]) }, ['y']);
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
  });

  it('insert with a mismatched dtype is rejected', async () => {
    const g = graph([['SequenceEmpty', [], ['s'], { dtype: 7 }], ['SequenceInsert', ['s', 'a'], ['t']], ['SequenceAt', ['t', 'p'], ['y']]], { a: T([2]) }, ['y'], { p: i64([0], []) });
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
  });

  it('SplitToSequence: scalar split with a smaller last chunk, keepdims=0', async () => {
    const g = graph(
      [
        ['SplitToSequence', ['x', 'k'], ['s']],
        ['SequenceAt', ['s', 'p'], ['y']],
        ['SplitToSequence', ['x'], ['s2'], { keepdims: 0 }],
        ['SequenceAt', ['s2', 'p'], ['z']],
      ],
      { x: T([5]) },
      ['y', 'z'],
      { k: i64([2], []), p: i64([-1], []) },
    );
    const s = await InferenceSession.create(g);
    const r = await s.run({ x: f32([0, 1, 2, 3, 4]) });
    expect(arr(r.y!)).toEqual([4]);
    expect(r.z!.dims).toEqual([]);
  });

  it('SplitToSequence rejects a split that does not sum to the axis', async () => {
    const g = graph([['SplitToSequence', ['x', 'k'], ['s']], ['SequenceLength', ['s'], ['n']]], { x: T([5]) }, ['n'], { k: i64([2, 2]) });
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
  });

  it('ConcatFromSequence with new_axis, and mismatched elements', async () => {
    const g = graph([['SequenceConstruct', ['a', 'b'], ['s']], ['ConcatFromSequence', ['s'], ['y'], { axis: -1, new_axis: 1 }]], { a: T([2]), b: T([2]) }, ['y']);
    const r = await (await InferenceSession.create(g)).run({ a: f32([1, 2]), b: f32([3, 4]) });
    expect(r.y!.dims).toEqual([2, 2]);
    expect(arr(r.y!)).toEqual([1, 3, 2, 4]);
    const bad = graph([['SequenceConstruct', ['a', 'b'], ['s']], ['ConcatFromSequence', ['s'], ['y'], { axis: 0 }]], { a: T([1, 2]), b: T([1, 3]) }, ['y']);
    const e = await (await InferenceSession.create(bad)).run({ a: f32([1, 2], [1, 2]), b: f32([3, 4, 5], [1, 3]) }).catch((x) => x);
    expect(e).toBeInstanceOf(ShapeError);
    const axis = graph([['SequenceConstruct', ['a'], ['s']], ['ConcatFromSequence', ['s'], ['y'], { axis: 2, new_axis: 1 }]], { a: T([2]) }, ['y']);
    await expect(InferenceSession.create(axis)).rejects.toThrow(ShapeError);
  });

  it('sequence graph inputs/outputs carry TensorSequence; Identity passes them through', async () => {
    const g = graph([['Identity', ['s'], ['t']]], { s: SEQ }, ['t']);
    g.outputs[0]!.type = SEQ;
    const sess = await InferenceSession.create(g);
    const seq = new TensorSequence('float32', [f32([1]), f32([2, 3])]);
    const out = (await sess.run({ s: seq as unknown as Tensor })).t as unknown as TensorSequence;
    expect(out).toBeInstanceOf(TensorSequence);
    expect(out.length).toBe(2);
    await expect(sess.run({ s: f32([1]) })).rejects.toThrow(InputError);
  });

  it('TensorSequence rejects mixed element types', () => {
    expect(() => new TensorSequence('float32', [f32([1]), i64([1])])).toThrow(InputError);
  });

  it('the ONNX reader accepts sequence_type graph I/O', () => {
    if (!hasData('onnx-conformance/node/test_sequence_insert_at_back')) return;
    const g = readOnnx(new Uint8Array(readFileSync(dataPath('onnx-conformance/node/test_sequence_insert_at_back/model.onnx'))));
    expect(g.inputs[0]!.type).toEqual({ dtype: 'int64', sequence: true });
    expect(g.outputs[0]!.type.sequence).toBe(true);
  });
});
