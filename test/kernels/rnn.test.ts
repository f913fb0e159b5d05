// WASM recurrent kernels (src/kernels/rnn.ts: packed X·Wᵀ GEMM, per-step h·Rᵀ GEMV, asm/f32_rnn.ts cells) against the TS
// references over random shapes, directions, layouts, clip, biases, initial states and sequence_lens.
// ONNX LSTM: "it = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Pi (.) Ct-1 + Wbi + Rbi); ft = f(Xt*(Wf^T) + Ht-1*(Rf^T) + Pf (.) Ct-1 +
// Wbf + Rbf); ct = g(Xt*(Wc^T) + Ht-1*(Rc^T) + Wbc + Rbc); Ct = ft (.) Ct-1 + it (.) ct; ot = f(Xt*(Wo^T) +
// Ht-1*(Ro^T) + Po (.) Ct + Wbo + Rbo); Ht = ot (.) h(Ct)", gates in W/R/B in the order i, o, f, c.
// ONNX GRU: "zt = f(Xt*(Wz^T) + Ht-1*(Rz^T) + Wbz + Rbz); rt = f(Xt*(Wr^T) + Ht-1*(Rr^T) + Wbr + Rbr); ht = g(Xt*(Wh^T)
// + (rt (.) Ht-1)*(Rh^T) + Rbh + Wbh) # default, when linear_before_reset = 0; ht = g(Xt*(Wh^T) + (rt (.) (Ht-1*(Rh^T) +
// Rbh)) + Wbh) # when linear_before_reset != 0; Ht = (1 - zt) (.) ht + zt (.) Ht-1", gates z, r, h.
// ONNX RNN: "Ht = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Wbi + Rbi)", f Tanh by default (Relu also on the kernel).
// "clip: Cell clip threshold. Clipping bounds the elements of a tensor in the range of [-threshold, +threshold] and is
// applied to the input of activations". sequence_lens: Y past a batch entry's length is 0, Y_h its last valid step.
// Tolerance 1e-5·(1 + |want|): the kernels sum in float32 in another order than the references' doubles (≤ 70
// products, weights scaled by 1/√fan-in as PyTorch initializes them, so pre-activations stay O(1)), and the SIMD
// exp / tanh are float approximations; over ≤ 7 steps of a contracting recurrence that stays near float rounding.
// The static plan and the general path run the same kernel calls in the same order: bit for bit.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareTensors } from '../../src/cli/conformance-runner.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { readTensorProto } from '../../src/formats/onnx/test-data.js';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

function rng(seed: number) {
  let r = seed >>> 0 || 1;
  return () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}

const GATES = { LSTM: 4, GRU: 3, RNN: 1 } as const;
type Op = keyof typeof GATES;
const KERNEL: Record<Op, string> = { LSTM: 'f32_lstm', GRU: 'f32_gru', RNN: 'f32_rnn' };
const OUTS: Record<Op, string[]> = { LSTM: ['Y', 'Y_h', 'Y_c'], GRU: ['Y', 'Y_h'], RNN: ['Y', 'Y_h'] };
const bits = (t: Tensor) => Array.from(new Uint32Array((t.data as Float32Array).slice().buffer));

interface Case {
  op: Op;
  seq: number;
  batch: number;
  I: number;
  H: number;
  direction: string;
  layout: number;
  bias: boolean;
  initH: boolean;
  initC: boolean;
  /** sequence_lens: absent, a graph input or a constant */
  lens: 'none' | 'fed' | 'constant';
  clip?: number;
  /** the default activations spelled out (LSTM, GRU) / Relu (RNN) */
  acts: boolean;
  lbr: number;
  /** which outputs are fetched (a subset of OUTS[op], at least one) */
  outs: boolean[];
}

/** The one-node graph and its feeds for case k. */
function build(k: Case, seed: number) {
  const rnd = rng(seed);
  const dirs = k.direction === 'bidirectional' ? 2 : 1;
  const { seq, batch, I, H } = k;
  const G = GATES[k.op];
  const f = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * rnd());
  const g = new Graph();
  const xDims = k.layout === 0 ? [seq, batch, I] : [batch, seq, I];
  const sDims = k.layout === 0 ? [dirs, batch, H] : [batch, dirs, H];
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: xDims } }];
  if (k.initH) g.inputs.push({ name: 'h0', type: { dtype: 'float32', shape: sDims } });
  if (k.initC) g.inputs.push({ name: 'c0', type: { dtype: 'float32', shape: sDims } });
  if (k.lens === 'fed') g.inputs.push({ name: 'lens', type: { dtype: 'int32', shape: [batch] } });
  const lens = Int32Array.from({ length: batch }, () => 1 + Math.floor(((rnd() + 1) / 2) * seq * 0.999));
  if (k.lens === 'constant') g.initializers.set('lens', new Tensor('int32', lens, [batch]));
  g.initializers.set('W', new Tensor('float32', f(dirs * G * H * I, 1 / Math.sqrt(I)), [dirs, G * H, I]));
  g.initializers.set('R', new Tensor('float32', f(dirs * G * H * H, 1 / Math.sqrt(H)), [dirs, G * H, H]));
  if (k.bias) g.initializers.set('B', new Tensor('float32', f(dirs * 2 * G * H), [dirs, 2 * G * H]));
  const attrs: Record<string, unknown> = { hidden_size: H, direction: k.direction, layout: k.layout };
  if (k.clip !== undefined) attrs.clip = k.clip;
  if (k.op === 'GRU') attrs.linear_before_reset = k.lbr;
  const acts = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Relu'] }[k.op];
  if (k.acts) attrs.activations = Array.from({ length: dirs }, () => acts).flat();
  const outNames = OUTS[k.op].map((n, i) => (k.outs[i] ? n : ''));
  const inputs = ['X', 'W', 'R', k.bias ? 'B' : '', k.lens === 'none' ? '' : 'lens', k.initH ? 'h0' : ''];
  if (k.op === 'LSTM') inputs.push(k.initC ? 'c0' : '');
  g.nodes.push({ name: 'rnn', op: k.op, domain: '', inputs, outputs: outNames, attrs });
  g.outputs = outNames.filter((n) => n).map((name) => ({ name, type: { dtype: 'float32' } }));
  const feeds = (r: number): Record<string, Tensor> => {
    const rr = rng(seed + 7919 * (r + 1));
    const v = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * rr());
    const out: Record<string, Tensor> = { X: new Tensor('float32', v(seq * batch * I, 2), xDims) };
    if (k.initH) out.h0 = new Tensor('float32', v(dirs * batch * H), sDims);
    if (k.initC) out.c0 = new Tensor('float32', v(dirs * batch * H), sDims);
    if (k.lens === 'fed') out.lens = new Tensor('int32', lens, [batch]);
    return out;
  };
  return { g, feeds };
}

/** Kernel (static plan and general path, bit for bit, two runs each) vs the reference to 1e-5·(1 + |want|). */
function check(k: Case, seed: number): void {
  const { g, feeds } = build(k, seed);
  const fast = new Executor(g);
  const slow = new Executor(g, { staticPlan: false });
  try {
    expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(KERNEL[k.op]);
    for (let r = 0; r < 2; r++) {
      const x = feeds(r);
      // the second round reuses the packed weights, the plan's blocks and the freed scratch with other inputs
      const got = fast.run(x);
      const gen = slow.run(x);
      const want = new Executor(g, { backend: 'reference' }).run(x);
      for (const o of g.outputs) {
        const a = got[o.name] as Tensor;
        const b = want[o.name] as Tensor;
        expect(a.dims).toEqual(b.dims);
        expect(bits(a)).toEqual(bits(gen[o.name] as Tensor));
        const av = a.data as Float32Array;
        const bv = b.data as Float32Array;
        for (let i = 0; i < bv.length; i++) expect(Math.abs(av[i]! - bv[i]!), `${o.name}[${i}]`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(bv[i]!)));
      }
    }
    expect(fast.staticPlanStatus()).toEqual({ static: true });
    expect(slow.fallbacks.size).toBe(0);
  } finally {
    fast.dispose();
    slow.dispose();
  }
}

/** hidden sizes around the SIMD tiles (4-lane cells, 8-column panels, 4-row GEMM blocks) and a few ≥ 64 */
const hidden = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 19 }) }, { weight: 1, arbitrary: fc.constantFrom(64, 65, 71) });

function caseArb(op: Op) {
  const n = OUTS[op].length;
  return fc.record({
    op: fc.constant(op),
    seq: fc.integer({ min: 1, max: 7 }),
    batch: fc.integer({ min: 1, max: 3 }),
    I: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 19 }) }, { weight: 1, arbitrary: fc.constant(67) }),
    H: hidden,
    direction: fc.constantFrom('forward', 'reverse', 'bidirectional'),
    layout: fc.constantFrom(0, 1),
    bias: fc.boolean(),
    initH: fc.boolean(),
    initC: op === 'LSTM' ? fc.boolean() : fc.constant(false),
    lens: fc.constantFrom('none', 'fed', 'constant') as fc.Arbitrary<Case['lens']>,
    clip: fc.option(fc.double({ min: 0.3, max: 3, noNaN: true }), { nil: undefined }),
    acts: fc.boolean(),
    lbr: fc.constantFrom(0, 1),
    outs: fc.array(fc.boolean(), { minLength: n, maxLength: n }).filter((o) => o.some((x) => x)),
  });
}

describe('WASM recurrent kernels vs the TS references', () => {
  for (const [op, runs, seed] of [['GRU', 200, 16], ['RNN', 150, 17], ['LSTM', 150, 14]] as const) {
    it(`${op} (${KERNEL[op]}): 1e-5 over sizes, directions, layouts, clip, biases, initial states, sequence_lens${op === 'GRU' ? ', linear_before_reset' : ''}; static plan = general path bit for bit`, () => {
      let n = 0;
      fc.assert(
        fc.property(caseArb(op), fc.integer(), (k, s) => {
          check(k, s);
          n++;
        }),
        { numRuns: runs, seed },
      );
      expect(n).toBe(runs);
    });
  }

  it('a fed sequence_lens out of [1, seq] is a ShapeError on the static plan as on the general path', () => {
    const k: Case = { op: 'GRU', seq: 3, batch: 2, I: 2, H: 3, direction: 'forward', layout: 0, bias: false, initH: false, initC: false, lens: 'fed', acts: false, lbr: 1, outs: [true, true] };
    const { g, feeds } = build(k, 1);
    for (const ex of [new Executor(g), new Executor(g, { staticPlan: false })]) {
      for (const bad of [[1, 4], [0, 2]]) {
        expect(() => ex.run({ ...feeds(0), lens: new Tensor('int32', Int32Array.from(bad), [2]) })).toThrow(/sequence_lens\[\d\] = \d is outside \[1, 3\]/);
      }
      ex.dispose();
    }
  });

  it('leaves peepholes, input_forget and other activations to the reference, with a reason', () => {
    const cases: [string, string, (g: Graph) => void][] = [
      ['LSTM', 'peepholes (P) are given', (g) => { g.initializers.set('P', new Tensor('float32', new Float32Array(6), [1, 6])); g.nodes[0]!.inputs = ['X', 'W', 'R', '', '', '', '', 'P']; }],
      ['LSTM', 'input_forget = 1', (g) => { g.nodes[0]!.attrs.input_forget = 1; }],
      ['LSTM', 'activations hardsigmoid,tanh,tanh', (g) => { g.nodes[0]!.attrs.activations = ['HardSigmoid', 'Tanh', 'Tanh']; }],
      ['GRU', 'activations sigmoid,relu', (g) => { g.nodes[0]!.attrs.activations = ['Sigmoid', 'Relu']; }],
      ['RNN', 'activations sigmoid', (g) => { g.nodes[0]!.attrs.activations = ['Sigmoid']; }],
      ['GRU', 'W and R are not float32 constants', (g) => { g.initializers.delete('W'); g.inputs.push({ name: 'W', type: { dtype: 'float32', shape: [1, 6, 3] } }); }],
    ];
    for (const [op, why, edit] of cases) {
      const G = GATES[op as Op];
      const g = new Graph();
      g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [2, 1, 3] } }];
      g.initializers.set('W', new Tensor('float32', new Float32Array(G * 2 * 3).fill(0.1), [1, G * 2, 3]));
      g.initializers.set('R', new Tensor('float32', new Float32Array(G * 2 * 2).fill(0.1), [1, G * 2, 2]));
      g.nodes.push({ name: 'rnn', op, domain: '', inputs: ['X', 'W', 'R'], outputs: ['Y'], attrs: { hidden_size: 2 } });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      edit(g);
      const ex = new Executor(g);
      expect(ex.kernels.has(g.nodes[0]!)).toBe(false);
      expect(ex.fallbacks.get(g.nodes[0]!)).toContain(why);
      ex.dispose();
    }
  });
});

// The ONNX backend tests for GRU and RNN feed W, R and B as graph inputs; models hold them as initializers, which is
// what the kernels take. Each test's weights become initializers, the kernel must take the node, and its outputs
// must match the test's with the backend runner's tolerance (|got − want| ≤ 1e-7 + 1e-3·|want|).
describe.skipIf(!hasData('onnx-conformance'))('ONNX conformance GRU / RNN tests on the kernels', () => {
  const root = dataPath('onnx-conformance/node');
  const names = existsSync(root) ? readdirSync(root).filter((n) => /^test_(gru|rnn|simple_rnn)_/.test(n)) : [];
  it('finds the tests', () => expect(names.length).toBeGreaterThanOrEqual(8));
  for (const name of names) {
    it(name, () => {
      const dir = join(root, name);
      const g = readOnnx(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
      const node = g.nodes[0]!;
      const sets = readdirSync(dir).filter((d) => d.startsWith('test_data_set_'));
      expect(sets.length).toBeGreaterThan(0);
      for (const set of sets) {
        const read = (f: string) => readTensorProto(new Uint8Array(readFileSync(join(dir, set, f))), f);
        const inputs = g.inputs.map((v, k) => [v.name, read(`input_${k}.pb`)] as const);
        const g2 = new Graph();
        g2.opsets = g.opsets;
        g2.nodes = g.nodes;
        g2.outputs = g.outputs;
        g2.inputs = g.inputs.filter((v) => v.name === node.inputs[0]);
        for (const [n, t] of inputs) if (n !== node.inputs[0]) g2.initializers.set(n, t);
        const ex = new Executor(g2);
        expect(ex.kernels.get(node)?.name).toBe(node.op === 'GRU' ? 'f32_gru' : 'f32_rnn');
        const got = ex.run({ [node.inputs[0]!]: inputs.find(([n]) => n === node.inputs[0])![1] });
        ex.dispose();
        g.outputs.forEach((o, k) => expect(compareTensors(got[o.name] as Tensor, read(`output_${k}.pb`)), o.name).toBeUndefined());
      }
    });
  }
});

// TFLite UNIDIRECTIONAL_SEQUENCE_LSTM (lstm.cc, float path): gates from input_to_*_weights · x + recurrent_to_*_weights ·
// h + *_gate_bias; "cell_clip: the clipping threshold for the cell state" (applied to the stored C); output h =
// o ⊙ activation(C); time_major picks [T, B, I] vs [B, T, I]. Inputs 18/19 are the initial output and cell states.
describe('WASM TFLite UNIDIRECTIONAL_SEQUENCE_LSTM (f32_lstm) vs the TS reference', () => {
  it('agrees to 1e-5 over seq, batch, sizes, time_major and cell_clip', () => {
    const arb = fc.record({
      seq: fc.integer({ min: 1, max: 6 }),
      batch: fc.integer({ min: 1, max: 3 }),
      I: fc.integer({ min: 1, max: 11 }),
      H: fc.integer({ min: 1, max: 13 }),
      timeMajor: fc.constantFrom(0, 1),
      cellClip: fc.constantFrom(0, 0.5, 3),
    });
    fc.assert(
      fc.property(arb, fc.integer(), (k, seed) => {
        const rnd = rng(seed);
        const { seq, batch, I, H } = k;
        const f = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * rnd());
        const g = new Graph();
        const xDims = k.timeMajor ? [seq, batch, I] : [batch, seq, I];
        g.inputs = [
          { name: 'X', type: { dtype: 'float32', shape: xDims } },
          { name: 'h0', type: { dtype: 'float32', shape: [batch, H] } },
          { name: 'c0', type: { dtype: 'float32', shape: [batch, H] } },
        ];
        const inputs = ['X'];
        for (let i = 1; i <= 17; i++) {
          const name = `t${i}`;
          if (i <= 4) g.initializers.set(name, new Tensor('float32', f(H * I), [H, I]));
          else if (i <= 8) g.initializers.set(name, new Tensor('float32', f(H * H), [H, H]));
          else if (i >= 12 && i <= 15) g.initializers.set(name, new Tensor('float32', f(H), [H]));
          inputs.push(g.initializers.has(name) ? name : '');
        }
        inputs.push('h0', 'c0');
        g.nodes.push({ name: 'lstm', op: 'UNIDIRECTIONAL_SEQUENCE_LSTM', domain: 'ai.edgeq.tflite', inputs, outputs: ['Y'], attrs: { fused_activation_function: 'TANH', cell_clip: k.cellClip, time_major: k.timeMajor } });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        const feeds = { X: new Tensor('float32', f(seq * batch * I, 2), xDims), h0: new Tensor('float32', f(batch * H), [batch, H]), c0: new Tensor('float32', f(batch * H, 2), [batch, H]) };
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_lstm');
        const a = fast.run(feeds).Y as Tensor;
        fast.dispose();
        const b = new Executor(g, { backend: 'reference' }).run(feeds).Y as Tensor;
        expect(a.dims).toEqual(b.dims);
        const av = a.data as Float32Array;
        const bv = b.data as Float32Array;
        for (let i = 0; i < bv.length; i++) expect(Math.abs(av[i]! - bv[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(bv[i]!)));
      }),
      { numRuns: 150, seed: 15 },
    );
  });
});
