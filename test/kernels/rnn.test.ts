// WASM LSTM kernel (src/kernels/rnn.ts: packed X·Wᵀ GEMM, per-step h·Rᵀ GEMV, asm/f32_rnn.ts cell) against the TS
// reference LSTM over random shapes, directions, layouts, clip, biases and initial states.
// ONNX LSTM: "it = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Pi (.) Ct-1 + Wbi + Rbi); ft = f(Xt*(Wf^T) + Ht-1*(Rf^T) + Pf (.) Ct-1 +
// Wbf + Rbf); ct = g(Xt*(Wc^T) + Ht-1*(Rc^T) + Wbc + Rbc); Ct = ft (.) Ct-1 + it (.) ct; ot = f(Xt*(Wo^T) +
// Ht-1*(Ro^T) + Po (.) Ct + Wbo + Rbo); Ht = ot (.) h(Ct)", gates in W/R/B in the order i, o, f, c; "clip: Cell clip
// threshold. Clipping bounds the elements of a tensor in the range of [-threshold, +threshold] and is applied to the
// input of activations". Float sums run in another order than the reference's doubles: agreement to 1e-5.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

function rng(seed: number) {
  let r = seed >>> 0 || 1;
  return () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}

describe('WASM LSTM (f32_lstm) vs the TS reference', () => {
  it('agrees to 1e-5 over seq, batch, sizes, directions, layouts, clip, biases, initial states and fetched outputs', () => {
    const arb = fc.record({
      seq: fc.integer({ min: 1, max: 6 }),
      batch: fc.integer({ min: 1, max: 3 }),
      I: fc.integer({ min: 1, max: 11 }),
      H: fc.integer({ min: 1, max: 13 }),
      direction: fc.constantFrom('forward', 'reverse', 'bidirectional'),
      layout: fc.constantFrom(0, 1),
      bias: fc.boolean(),
      initH: fc.boolean(),
      initC: fc.boolean(),
      clip: fc.option(fc.double({ min: 0.3, max: 3, noNaN: true }), { nil: undefined }),
      acts: fc.boolean(),
      outs: fc.constantFrom([true, true, true], [true, false, false], [false, true, false], [false, true, true], [true, false, true]),
    });
    let runs = 0;
    fc.assert(
      fc.property(arb, fc.integer(), (k, seed) => {
        const rnd = rng(seed);
        const dirs = k.direction === 'bidirectional' ? 2 : 1;
        const { seq, batch, I, H } = k;
        const f = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * rnd());
        const g = new Graph();
        const xDims = k.layout === 0 ? [seq, batch, I] : [batch, seq, I];
        const sDims = k.layout === 0 ? [dirs, batch, H] : [batch, dirs, H];
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: xDims } }];
        if (k.initH) g.inputs.push({ name: 'h0', type: { dtype: 'float32', shape: sDims } });
        if (k.initC) g.inputs.push({ name: 'c0', type: { dtype: 'float32', shape: sDims } });
        g.initializers.set('W', new Tensor('float32', f(dirs * 4 * H * I), [dirs, 4 * H, I]));
        g.initializers.set('R', new Tensor('float32', f(dirs * 4 * H * H), [dirs, 4 * H, H]));
        if (k.bias) g.initializers.set('B', new Tensor('float32', f(dirs * 8 * H), [dirs, 8 * H]));
        const attrs: Record<string, unknown> = { hidden_size: H, direction: k.direction, layout: k.layout };
        if (k.clip !== undefined) attrs.clip = k.clip;
        if (k.acts) attrs.activations = Array.from({ length: dirs }, () => ['Sigmoid', 'Tanh', 'Tanh']).flat();
        const outNames = ['Y', 'Y_h', 'Y_c'].map((n, i) => (k.outs[i] ? n : ''));
        g.nodes.push({ name: 'lstm', op: 'LSTM', domain: '', inputs: ['X', 'W', 'R', k.bias ? 'B' : '', '', k.initH ? 'h0' : '', k.initC ? 'c0' : ''], outputs: outNames, attrs });
        g.outputs = outNames.filter((n) => n).map((name) => ({ name, type: { dtype: 'float32' } }));
        const feeds: Record<string, Tensor> = { X: new Tensor('float32', f(seq * batch * I, 2), xDims) };
        if (k.initH) feeds.h0 = new Tensor('float32', f(dirs * batch * H), sDims);
        if (k.initC) feeds.c0 = new Tensor('float32', f(dirs * batch * H), sDims);
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_lstm');
        // twice: the second run reuses the packed weights and the freed scratch
        fast.run(feeds);
        const got = fast.run(feeds);
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run(feeds);
        for (const o of g.outputs) {
          const a = got[o.name] as Tensor;
          const b = want[o.name] as Tensor;
          expect(a.dims).toEqual(b.dims);
          const av = a.data as Float32Array;
          const bv = b.data as Float32Array;
          for (let i = 0; i < bv.length; i++) expect(Math.abs(av[i]! - bv[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(bv[i]!)));
        }
        runs++;
      }),
      { numRuns: 200, seed: 14 },
    );
    expect(runs).toBe(200);
  });

  it('leaves sequence_lens, peepholes, input_forget and other activations to the reference, with a reason', () => {
    const cases: [string, (g: Graph) => void][] = [
      ['peepholes (P) are given', (g) => { g.initializers.set('P', new Tensor('float32', new Float32Array(6), [1, 6])); g.nodes[0]!.inputs = ['X', 'W', 'R', '', '', '', '', 'P']; }],
      ['input_forget = 1', (g) => { g.nodes[0]!.attrs.input_forget = 1; }],
      ['activations', (g) => { g.nodes[0]!.attrs.activations = ['HardSigmoid', 'Tanh', 'Tanh']; }],
    ];
    for (const [why, edit] of cases) {
      const g = new Graph();
      g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [2, 1, 3] } }];
      g.initializers.set('W', new Tensor('float32', new Float32Array(24).fill(0.1), [1, 8, 3]));
      g.initializers.set('R', new Tensor('float32', new Float32Array(16).fill(0.1), [1, 8, 2]));
      g.nodes.push({ name: 'lstm', op: 'LSTM', domain: '', inputs: ['X', 'W', 'R'], outputs: ['Y'], attrs: { hidden_size: 2 } });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      edit(g);
      const ex = new Executor(g);
      expect(ex.kernels.has(g.nodes[0]!)).toBe(false);
      expect(ex.fallbacks.get(g.nodes[0]!)).toContain(why);
      ex.dispose();
    }
  });
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
