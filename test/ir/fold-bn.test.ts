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

// ONNX Mul / Add / Sub: multidirectional broadcasting; a scalar or [M, 1, 1] constant after a conv is per-channel affine
// (y·s + t), so it folds into W and B like a BatchNormalization (PaddleOCR's "mobile_one_block" Mul + Add per conv).
describe('Conv + Mul/Add/Sub (scalar or per-channel constant) folding', () => {
  it('folds chains (Mul→Add→BN, Sub, constants from Constant nodes) and agrees with the reference to 1e-5', () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.constantFrom(1, 2, 3),
          m: fc.integer({ min: 1, max: 5 }),
          chain: fc.array(fc.constantFrom('Mul', 'Add', 'Sub', 'BN'), { minLength: 1, maxLength: 3 }),
          perChannel: fc.boolean(),
          asConstantNode: fc.boolean(),
          swap: fc.boolean(),
          oneD: fc.boolean(),
        }),
        fc.integer(),
        (r, seed) => {
          const g = new Graph();
          const sp = r.oneD ? [7] : [6, 5];
          const k = r.oneD ? [3] : [3, 3];
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, r.c, ...sp] } }];
          g.initializers.set('W', new Tensor('float32', rnd(r.m * r.c * (r.oneD ? 3 : 9), seed), [r.m, r.c, ...k]));
          g.nodes = [{ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['y0'], attrs: { pads: r.oneD ? [1, 1] : [1, 1, 1, 1] } }];
          const put = (name: string, t: Tensor) => {
            if (r.asConstantNode) g.nodes.unshift({ name: `const_${name}`, op: 'Constant', domain: '', inputs: [], outputs: [name], attrs: { value: t } });
            else g.initializers.set(name, t);
          };
          r.chain.forEach((op, i) => {
            const y = `y${i}`;
            const z = i === r.chain.length - 1 ? 'Y' : `y${i + 1}`;
            if (op === 'BN') {
              put(`s${i}`, new Tensor('float32', rnd(r.m, seed + i, 0.5, 2), [r.m]));
              put(`b${i}`, new Tensor('float32', rnd(r.m, seed + i + 1), [r.m]));
              put(`mu${i}`, new Tensor('float32', rnd(r.m, seed + i + 2), [r.m]));
              put(`v${i}`, new Tensor('float32', rnd(r.m, seed + i + 3, 0.1, 3), [r.m]));
              g.nodes.push({ name: `bn${i}`, op: 'BatchNormalization', domain: '', inputs: [y, `s${i}`, `b${i}`, `mu${i}`, `v${i}`], outputs: [z], attrs: {} });
            } else {
              const dims = r.perChannel ? [r.m, ...sp.map(() => 1)] : [];
              put(`k${i}`, new Tensor('float32', rnd(r.perChannel ? r.m : 1, seed + 7 * i, 0.5, 1.5), dims));
              const ins = r.swap && op !== 'Sub' ? [`k${i}`, y] : [y, `k${i}`];
              g.nodes.push({ name: `op${i}`, op, domain: '', inputs: ins, outputs: [z], attrs: {} });
            }
          });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const folded = new Executor(g);
          expect(folded.graph.nodes.filter((n) => n.op !== 'Constant').map((n) => n.op)).toEqual(['Conv']);
          const x = new Tensor('float32', rnd(r.c * sp.reduce((a, b) => a * b, 1), seed + 9, -2, 2), [1, r.c, ...sp]);
          const got = folded.run({ X: x }).Y!.data as Float32Array;
          const ref = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
          folded.dispose();
          for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(ref[i]!)));
        },
      ),
      { numRuns: 80, seed: 43 },
    );
  });

  it('does not fold a constant that broadcasts beyond the channel axis, or x − conv', () => {
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 2, 4, 4] } }];
    g.initializers.set('W', new Tensor('float32', rnd(36, 1), [2, 2, 3, 3]));
    g.initializers.set('K', new Tensor('float32', rnd(4, 2), [4, 1])); // varies along H
    g.initializers.set('S', new Tensor('float32', Float32Array.of(1.5), []));
    g.nodes = [
      { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['y'], attrs: {} },
      { name: 'mul', op: 'Mul', domain: '', inputs: ['y', 'K'], outputs: ['z'], attrs: {} },
      { name: 'conv2', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['y2'], attrs: {} },
      { name: 'sub', op: 'Sub', domain: '', inputs: ['S', 'y2'], outputs: ['z2'], attrs: {} },
    ];
    g.outputs = [{ name: 'z', type: { dtype: 'float32' } }, { name: 'z2', type: { dtype: 'float32' } }];
    expect(foldBatchNorms(g)).toBe(g);
  });
});

// ONNX Conv: Y[m] = B[m] + Σ_{c, taps} W[m, c, taps] · X[c, shifted] with zero padding. A depthwise 1×1 conv before
// it (u = x·s + t per channel, MediaPipe's "batch norm" between PRelu and the next conv) folds into W and B only when
// the conv reads no padding (a padded tap reads 0, not t) — padded, grouped or shared cases stay as they are.
describe('depthwise 1×1 affine folded into the next, unpadded conv', () => {
  it('folds (pads 0, any kernel and stride) and agrees with the reference to 1e-5; leaves padded / grouped / shared ones', () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.integer({ min: 2, max: 6 }),
          m: fc.integer({ min: 1, max: 5 }),
          k: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          s: fc.integer({ min: 1, max: 2 }),
          bias: fc.tuple(fc.boolean(), fc.boolean()),
          kind: fc.constantFrom('fold', 'fold', 'padded', 'grouped', 'shared'),
        }),
        fc.integer(),
        (r, seed) => {
          const g = new Graph();
          const [h, w] = [7, 6];
          const group = r.kind === 'grouped' ? r.c : 1;
          const m = r.kind === 'grouped' ? r.c : r.m;
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, r.c, h, w] } }];
          g.initializers.set('S', new Tensor('float32', rnd(r.c, seed, -2, 2), [r.c, 1, 1, 1]));
          if (r.bias[0]) g.initializers.set('T', new Tensor('float32', rnd(r.c, seed + 1), [r.c]));
          g.initializers.set('W', new Tensor('float32', rnd((m * r.c * r.k[0] * r.k[1]) / group, seed + 2), [m, r.c / group, r.k[0], r.k[1]]));
          if (r.bias[1]) g.initializers.set('B', new Tensor('float32', rnd(m, seed + 3), [m]));
          g.nodes = [
            { name: 'aff', op: 'Conv', domain: '', inputs: ['X', 'S', ...(r.bias[0] ? ['T'] : [])], outputs: ['u'], attrs: { group: r.c, kernel_shape: [1, 1] } },
            { name: 'conv', op: 'Conv', domain: '', inputs: ['u', 'W', ...(r.bias[1] ? ['B'] : [])], outputs: ['Y'], attrs: { group, strides: [r.s, r.s], pads: r.kind === 'padded' ? [1, 0, 1, 1] : [0, 0, 0, 0] } },
          ];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          if (r.kind === 'shared') {
            g.nodes.push({ name: 'neg', op: 'Neg', domain: '', inputs: ['u'], outputs: ['U2'], attrs: {} });
            g.outputs.push({ name: 'U2', type: { dtype: 'float32' } });
          }
          const folded = foldBatchNorms(g);
          const convs = folded.nodes.filter((n) => n.op === 'Conv').length;
          expect(convs).toBe(r.kind === 'fold' ? 1 : 2);
          const x = new Tensor('float32', rnd(r.c * h * w, seed + 9, -2, 2), [1, r.c, h, w]);
          const ex = new Executor(g);
          const got = ex.run({ X: x }).Y!.data as Float32Array;
          const ref = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
          ex.dispose();
          for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref[i]!)) * r.c * r.k[0] * r.k[1]);
        },
      ),
      { numRuns: 120, seed: 43 },
    );
  });
});
