// Plan-time Conv+BatchNormalization folding (issue 5: "fusion (Conv+BN folded …)").
// ONNX BatchNormalization, training_mode = 0: "Y = (X - input_mean) / sqrt(input_var + epsilon) * scale + B",
// per channel — affine in the conv's output channel, so folded weights give the same result up to float rounding.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { foldBatchNorms } from '../../src/ir/passes/fold-bn.js';
import { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

function rnd(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let q = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 32) * (hi - lo) + lo);
}

function convBn(o: { c: number; m: number; group: number; bias: boolean; eps?: number; extraUse?: boolean }, seed: number): Graph {
  const g = new Graph();
  const { c, m, group } = o;
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, c, 6, 5] } }];
  g.initializers.set('W', new Tensor('float32', rnd((m * c * 9) / group, seed), [m, c / group, 3, 3]));
  if (o.bias) g.initializers.set('B', new Tensor('float32', rnd(m, seed + 1), [m]));
  g.initializers.set('scale', new Tensor('float32', rnd(m, seed + 2, 0.5, 2), [m]));
  g.initializers.set('beta', new Tensor('float32', rnd(m, seed + 3), [m]));
  g.initializers.set('mean', new Tensor('float32', rnd(m, seed + 4), [m]));
  g.initializers.set('var', new Tensor('float32', rnd(m, seed + 5, 0.1, 3), [m]));
  g.nodes = [
    { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', ...(o.bias ? ['B'] : [])], outputs: ['y'], attrs: { pads: [1, 1, 1, 1], group } },
    { name: 'bn', op: 'BatchNormalization', domain: '', inputs: ['y', 'scale', 'beta', 'mean', 'var'], outputs: ['z'], attrs: o.eps === undefined ? {} : { epsilon: o.eps } },
    { name: 'relu', op: 'Relu', domain: '', inputs: ['z'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  if (o.extraUse) {
    g.nodes.push({ name: 'id', op: 'Identity', domain: '', inputs: ['y'], outputs: ['Y2'], attrs: {} });
    g.outputs.push({ name: 'Y2', type: { dtype: 'float32' } });
  }
  return g;
}

describe('Conv + BatchNormalization folding', () => {
  it('folds into the conv weights and agrees with the unfolded plan and the reference to 1e-5', () => {
    fc.assert(
      fc.property(fc.record({ c: fc.constantFrom(1, 2, 4), mg: fc.integer({ min: 1, max: 5 }), grouped: fc.boolean(), bias: fc.boolean(), eps: fc.constantFrom(undefined, 1e-3) }), fc.integer(), (r, seed) => {
        const group = r.grouped ? r.c : 1;
        const g = convBn({ c: r.c, m: r.mg * group, group, bias: r.bias, eps: r.eps }, seed);
        const folded = new Executor(g);
        expect(folded.graph.nodes.some((n) => n.op === 'BatchNormalization')).toBe(false);
        const x = new Tensor('float32', rnd(r.c * 30, seed + 9, -2, 2), [1, r.c, 6, 5]);
        const got = folded.run({ X: x }).Y!.data as Float32Array;
        const plain = new Executor(g, { foldBatchNorm: false }).run({ X: x }).Y!.data as Float32Array;
        const ref = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
        folded.dispose();
        for (let i = 0; i < ref.length; i++) {
          expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref[i]!)));
          expect(Math.abs(got[i]! - plain[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(plain[i]!)));
        }
      }),
      { numRuns: 60, seed: 41 },
    );
  });

  it('leaves a conv whose output is also used elsewhere, and keeps the pre-BN value fetchable', async () => {
    const shared = convBn({ c: 2, m: 3, group: 1, bias: true, extraUse: true }, 7);
    expect(foldBatchNorms(shared)).toBe(shared);
    const g = convBn({ c: 2, m: 3, group: 1, bias: true }, 7);
    const s = await InferenceSession.create(g);
    const x = new Tensor('float32', rnd(60, 3), [1, 2, 6, 5]);
    const y = (await s.run({ X: x }, ['y'])).y!.data as Float32Array;
    const want = new Executor(g, { backend: 'reference' }).run({ X: x }, ['y']).y!.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(y[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
  });
});
