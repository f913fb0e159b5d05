import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { TrainableGraph } from '../../src/train/autodiff.js';
import { gemm } from '../../src/train/gemm.js';
import { distillLoss } from '../../src/train/loss.js';
import { UniformRng, buildPreset } from '../../src/train/presets.js';

/** A graph from (op, inputs, attrs) steps chained from 'x'; params are given as [name, dims]. */
export function chain(inDims: number[], params: Record<string, number[]>, steps: [string, string[], Node['attrs']?][], seed: number, consts: Record<string, Tensor> = {}): Graph {
  const g = new Graph();
  const rng = new UniformRng(seed);
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: inDims } }];
  for (const [k, d] of Object.entries(params)) g.initializers.set(k, new Tensor('float32', rng.uniform(d.reduce((a, b) => a * b, 1), 0.8), d));
  for (const [k, t] of Object.entries(consts)) g.initializers.set(k, t);
  let cur = 'x';
  steps.forEach(([op, ins, attrs], i) => {
    const out = i === steps.length - 1 ? 'y' : `v${i}`;
    g.nodes.push({ name: `n${i}_${op}`, op, domain: '', inputs: [cur, ...ins], outputs: [out], attrs: attrs ?? {} });
    cur = out;
  });
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  return g;
}

/** Max relative error between analytic parameter gradients and central finite differences of L = Σ y·r. */
export function gradCheck(g: Graph, inDims: number[], seed: number, train = true): number {
  const rng = new UniformRng(seed + 1000);
  const x = rng.uniform(inDims.reduce((a, b) => a * b, 1), 1);
  const tg = new TrainableGraph(g);
  const out0 = tg.forward(x, inDims, train, true);
  const r = rng.uniform(out0.d.length, 1);
  const grads = tg.backward(r);
  const loss = () => {
    const o = tg.forward(x, inDims, train);
    let s = 0;
    for (let i = 0; i < o.d.length; i++) s += o.d[i]! * r[i]!;
    tg.clear();
    return s;
  };
  const errs: number[] = [];
  let norm = 0;
  for (const [name, p] of tg.params) {
    const ga = grads.get(name)!;
    const num = new Float64Array(p.length);
    const saved = tg.snapshot();
    for (let i = 0; i < p.length; i++) {
      const h = H * Math.max(1, Math.abs(p[i]!));
      const v = p[i]!;
      p[i] = v + h;
      const lp = loss();
      p[i] = v - h;
      const lm = loss();
      p[i] = v;
      tg.restore(saved);
      num[i] = (lp - lm) / (2 * h);
    }
    for (let i = 0; i < p.length; i++) {
      errs.push((num[i]! - ga[i]!) ** 2);
      norm += num[i]! ** 2;
    }
  }
  // relative error over all parameters together (a parameter whose true gradient is 0, such as a conv bias
  // feeding a training-mode BatchNormalization, only contributes finite-difference noise); the worst 2 % of
  // coordinates are dropped: a ±h step can cross a Relu/MaxPool kink, where finite differences are meaningless
  errs.sort((a, b) => a - b);
  const keep = errs.slice(0, Math.ceil(errs.length * 0.98));
  return Math.sqrt(keep.reduce((a, b) => a + b, 0)) / Math.max(1e-6, Math.sqrt(norm));
}

const TOL = 2e-2;
let H = 1e-3;
export const setH = (h: number) => (H = h);

describe('training gemm', () => {
  it('WASM path matches the TS loop for every transpose combination', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 1e6 }), (m, k, n, ta, tb, seed) => {
        const rng = new UniformRng(seed);
        const a = rng.uniform(m * k, 1);
        const b = rng.uniform(k * n, 1);
        const c1 = gemm(a, b, m, k, n, { transA: ta, transB: tb });
        const c2 = gemm(a, b, m, k, n, { transA: ta, transB: tb, reference: true });
        for (let i = 0; i < m * n; i++) expect(Math.abs(c1[i]! - c2[i]!)).toBeLessThan(1e-4);
      }),
      { numRuns: 40, seed: 20240 },
    );
  });
});

describe('gradients match finite differences', () => {
  const seeds = fc.integer({ min: 0, max: 1e6 });
  it('Gemm (all transposes, alpha, beta, broadcast C) and MatMul', () => {
    fc.assert(
      fc.property(seeds, fc.boolean(), fc.boolean(), (seed, ta, tb) => {
        const g = chain(
          ta ? [5, 3] : [3, 5],
          { w: tb ? [4, 5] : [5, 4], c: [4], w2: [4, 2] },
          [
            ['Gemm', ['w', 'c'], { transA: ta ? 1 : 0, transB: tb ? 1 : 0, alpha: 0.7, beta: 1.3 }],
            ['Tanh', []],
            ['MatMul', ['w2']],
          ],
          seed,
        );
        expect(gradCheck(g, ta ? [5, 3] : [3, 5], seed)).toBeLessThan(TOL);
      }),
      { numRuns: 8, seed: 20240 },
    );
  });
  it('Conv → BatchNormalization (train) → LeakyRelu → MaxPool → Conv → AveragePool → Flatten', () => {
    fc.assert(
      fc.property(seeds, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 1 }), (seed, stride, pad) => {
        const g = chain(
          [3, 2, 7, 7],
          { w1: [3, 2, 3, 3], b1: [3], s: [3], bb: [3], w2: [2, 3, 2, 2], b2: [2] },
          [
            ['Conv', ['w1', 'b1'], { strides: [stride, stride], pads: [pad, pad, pad, pad] }],
            ['BatchNormalization', ['s', 'bb', 'm', 'v'], { epsilon: 1e-3 }],
            // LeakyRelu, not Relu: Relu's exact zeros tie inside MaxPool windows, a kink finite differences cannot see past
            ['LeakyRelu', [], { alpha: 0.1 }],
            ['MaxPool', [], { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 1, 1] }],
            ['Conv', ['w2', 'b2'], { pads: [1, 0, 0, 1], dilations: [1, 1] }],
            ['AveragePool', [], { kernel_shape: [2, 2], strides: [1, 1], pads: [1, 1, 0, 0], count_include_pad: pad }],
            ['Flatten', []],
          ],
          seed,
          { m: new Tensor('float32', new Float32Array(3), [3]), v: new Tensor('float32', new Float32Array(3).fill(1), [3]) },
        );
        // MaxPool windows can swap their argmax under a ±h step: a looser bound (a wrong gradient gives O(1) errors)
        expect(gradCheck(g, [3, 2, 7, 7], seed)).toBeLessThan(5e-2);
      }),
      { numRuns: 10, seed: 20240 },
    );
  });
  it('BatchNormalization in inference mode, Add/Sub/Mul broadcast, GlobalAveragePool, Reshape, LogSoftmax, Softmax', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const g = chain(
          [2, 3, 4, 4],
          { w: [4, 3, 1, 1], a: [1, 4, 1, 1], mu: [4, 1, 1], s: [4], bb: [4], fw: [4, 3] },
          [
            ['Conv', ['w'], {}],
            ['Add', ['a']],
            ['Mul', ['mu']],
            ['BatchNormalization', ['s', 'bb', 'm', 'v'], {}],
            ['Sigmoid', []],
            ['Sub', ['a']],
            ['GlobalAveragePool', []],
            ['Reshape', ['shape']],
            ['MatMul', ['fw']],
            ['LogSoftmax', [], { axis: -1 }],
            ['Softmax', [], { axis: 1 }],
          ],
          seed,
          {
            m: new Tensor('float32', Float32Array.from([0.1, -0.2, 0.3, 0]), [4]),
            v: new Tensor('float32', Float32Array.from([1, 2, 0.5, 1.5]), [4]),
            shape: new Tensor('int64', BigInt64Array.from([0n, -1n]), [2]),
          },
        );
        expect(gradCheck(g, [2, 3, 4, 4], seed, false)).toBeLessThan(TOL);
      }),
      { numRuns: 6, seed: 20240 },
    );
  });
  it('Relu and MaxPool on their own', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const g = chain([2, 2, 6, 6], { w: [3, 2, 3, 3], fw: [12, 4] }, [['Conv', ['w'], { pads: [1, 1, 1, 1] }], ['MaxPool', [], { kernel_shape: [3, 3], strides: [2, 2] }], ['Relu', []], ['Flatten', []], ['MatMul', ['fw']]], seed);
        expect(gradCheck(g, [2, 2, 6, 6], seed)).toBeLessThan(TOL);
      }),
      { numRuns: 10, seed: 20240 },
    );
  });
  it('a preset CNN end to end', () => {
    const g = buildPreset('cnn:2-3-fc5-4', { seed: 1, input: [1, 8, 8] });
    expect(gradCheck(g, [4, 1, 8, 8], 1)).toBeLessThan(TOL);
  });
});

describe('distillation loss gradient', () => {
  it('matches finite differences for CE, KL and mixed rows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.double({ min: 0.5, max: 8, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (seed, T, alpha) => {
        const rng = new UniformRng(seed);
        const B = 4;
        const C = 5;
        const z = rng.uniform(B * C, 3);
        const t = rng.uniform(B * C, 3);
        const y = [0, 3, -1, 4];
        const { grad } = distillLoss(z, t, y, B, C, T, alpha);
        for (let i = 0; i < B * C; i++) {
          const h = 1e-2;
          const v = z[i]!;
          z[i] = v + h;
          const lp = distillLoss(z, t, y, B, C, T, alpha).loss;
          z[i] = v - h;
          const lm = distillLoss(z, t, y, B, C, T, alpha).loss;
          z[i] = v;
          expect(Math.abs((lp - lm) / (2 * h) - grad[i]!)).toBeLessThan(2e-3 * Math.max(1, T));
        }
      }),
      { numRuns: 30, seed: 20240 },
    );
  });
});
