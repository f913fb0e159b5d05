// Plans per value of a config input (runtime/specialize.ts configInputs): a one-element integer/bool graph input that
// decides an If condition — silero VAD's `sr` — gets a plan per fed value with the condition folded and the taken
// branch inlined (no body plan per run; the graph can become a static plan). ONNX If: "then_branch: Graph to run if
// condition is true … else_branch: Graph to run if condition is false". What must hold: the outputs are the
// branch the fed value selects, a value past CONFIG_VALUES distinct ones falls back to the general plan (a counter
// is data, not a setting), and the number of plans stays bounded.
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { capturedBy } from '../../src/ir/subgraph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { CONFIG_VALUES, SPECIALIZATIONS, configInputs } from '../../src/runtime/specialize.js';
import { Tensor } from '../../src/tensor/tensor.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

/** x [N, 4], mode int64 []: y = mode == 1 ? Relu(x) : −x (an If whose branches read x from the outer scope) */
function model(): Graph {
  const then = new Graph();
  then.name = 'then';
  then.nodes = [node('relu', 'Relu', ['x'], ['r'])];
  then.outputs = [{ name: 'r', type: { dtype: 'float32' } }];
  const other = new Graph();
  other.name = 'else';
  other.nodes = [node('neg', 'Neg', ['x'], ['n'])];
  other.outputs = [{ name: 'n', type: { dtype: 'float32' } }];
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [
    { name: 'x', type: { dtype: 'float32', shape: ['N', 4] } },
    { name: 'mode', type: { dtype: 'int64', shape: [] } },
  ];
  g.initializers.set('one', new Tensor('int64', BigInt64Array.of(1n), []));
  g.nodes = [node('eq', 'Equal', ['mode', 'one'], ['c']), node('branch', 'If', ['c'], ['y'], { then_branch: then, else_branch: other })];
  g.nodes[1]!.inputs.push(...capturedBy(g.nodes[1]!));
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  return g;
}

const x = new Tensor('float32', Float32Array.of(-2, -0.5, 0.5, 2, 1, -1, 3, -3), [2, 4]);
const mode = (v: number) => new Tensor('int64', BigInt64Array.of(BigInt(v)), []);
const want = (v: number) => Array.from(x.data as Float32Array, (a) => (v === 1 ? Math.max(a, 0) : -a));

describe('plans per config-input value', () => {
  it('finds the inputs that decide an If condition', () => {
    expect(configInputs(model())).toEqual(['mode']);
    const g = model();
    g.nodes = [node('eq', 'Equal', ['mode', 'one'], ['c']), node('cast', 'Cast', ['c'], ['y'], { to: 1 })];
    expect(configInputs(g)).toEqual([]); // no If: nothing to decide
  });

  it('runs the branch the fed value selects, inlined in a plan of its own (static)', async () => {
    const s = await InferenceSession.create(model());
    for (const v of [1, 0, 1, 0]) {
      const y = (await s.run({ x, mode: mode(v) })).y!;
      expect(Array.from(y.data as Float32Array)).toEqual(want(v));
      const e = s.executorFor({ x, mode: mode(v) });
      expect(e.analysis.order.some((n) => n.op === 'If')).toBe(false);
      expect(e.staticPlanStatus()).toEqual({ static: true });
    }
    await s.release();
  });

  it('stops specializing past CONFIG_VALUES distinct values, and stays right', async () => {
    const s = await InferenceSession.create(model());
    const values = Array.from({ length: CONFIG_VALUES + 3 }, (_, i) => i - 1);
    for (const v of [...values, ...values]) {
      const y = (await s.run({ x, mode: mode(v) })).y!;
      expect(Array.from(y.data as Float32Array)).toEqual(want(v));
    }
    // a value first seen after CONFIG_VALUES others runs on the plan that keeps the If
    const late = s.executorFor({ x, mode: mode(values[values.length - 1]!) });
    expect(late.analysis.order.some((n) => n.op === 'If')).toBe(true);
    expect((s as unknown as { specs: { size: number } }).specs.size).toBeLessThanOrEqual(SPECIALIZATIONS);
    await s.release();
  });
});
