import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { EdgeqError } from '../../src/errors.js';
import { NothingToPruneError, PruneOptionsError, applyMasks, prune, sliceAxis } from '../../src/prune/index.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

/** Gemm(transB=1) chain: x[N,k0] -> fc1 -> Relu -> fc2 -> y */
function mlp(w1: Float32Array, k0: number, h: number, w2: Float32Array, out: number, b1?: Float32Array): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: ['N', k0] } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: ['N', out] } }];
  g.initializers.set('w1', new Tensor('float32', w1, [h, k0]));
  g.initializers.set('b1', new Tensor('float32', b1 ?? new Float32Array(h), [h]));
  g.initializers.set('w2', new Tensor('float32', w2, [out, h]));
  g.nodes = [node('fc1', 'Gemm', ['x', 'w1', 'b1'], ['h'], { transB: 1 }), node('act', 'Relu', ['h'], ['a']), node('fc2', 'Gemm', ['a', 'w2'], ['y'], { transB: 1 })];
  return g;
}

/** Conv(3x3 pad 1) -> BN -> Relu -> MaxPool -> Conv(3x3) -> Flatten -> Gemm */
function cnn(rand: () => number, zeroChannels: number[] = [], norm: 'bn' | 'mul' = 'bn'): Graph {
  const g = new Graph();
  const c0 = 2;
  const c1 = 6;
  const c2 = 4;
  const f = (n: number) => Float32Array.from({ length: n }, () => rand());
  const w1 = f(c1 * c0 * 9);
  const b1 = f(c1);
  for (const c of zeroChannels) {
    w1.fill(0, c * c0 * 9, (c + 1) * c0 * 9);
    b1[c] = 0;
  }
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: ['N', c0, 8, 8] } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: ['N', 3] } }];
  g.initializers.set('w1', new Tensor('float32', w1, [c1, c0, 3, 3]));
  g.initializers.set('b1', new Tensor('float32', b1, [c1]));
  g.initializers.set('scale', new Tensor('float32', f(c1).map((v) => 1 + Math.abs(v)), [c1]));
  g.initializers.set('bias', new Tensor('float32', f(c1), [c1]));
  g.initializers.set('mean', new Tensor('float32', f(c1), [c1]));
  g.initializers.set('var', new Tensor('float32', f(c1).map((v) => 0.5 + Math.abs(v)), [c1]));
  if (norm === 'mul') {
    for (const k of ['bias', 'mean', 'var']) g.initializers.delete(k);
    g.initializers.set('scale', g.initializers.get('scale')!.reshape([1, c1, 1, 1]));
  }
  g.initializers.set('w2', new Tensor('float32', f(c2 * c1 * 9), [c2, c1, 3, 3]));
  g.initializers.set('b2', new Tensor('float32', f(c2), [c2]));
  g.initializers.set('w3', new Tensor('float32', f(3 * c2 * 4), [3, c2 * 4]));
  g.initializers.set('b3', new Tensor('float32', f(3), [3]));
  g.nodes = [
    node('conv1', 'Conv', ['x', 'w1', 'b1'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    norm === 'bn' ? node('bn', 'BatchNormalization', ['c1', 'scale', 'bias', 'mean', 'var'], ['bn']) : node('bn', 'Mul', ['c1', 'scale'], ['bn']),
    node('relu', 'Relu', ['bn'], ['r1']),
    node('pool', 'MaxPool', ['r1'], ['p1'], { kernel_shape: [2, 2], strides: [2, 2] }),
    node('conv2', 'Conv', ['p1', 'w2', 'b2'], ['c2'], { kernel_shape: [3, 3] }),
    node('flat', 'Flatten', ['c2'], ['fl'], { axis: 1 }),
    node('fc', 'Gemm', ['fl', 'w3', 'b3'], ['y'], { transB: 1 }),
  ];
  return g;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const run = (g: Graph, x: Tensor) => {
  const s = InferenceSession.fromGraph(g, { backend: 'reference' });
  return s.runSync({ [g.inputs[0]!.name]: x })[g.outputs[0]!.name]!;
};

const floatArr = (n: number) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, noDefaultInfinity: true, min: -100, max: 100 });

describe('unstructured magnitude pruning (properties)', () => {
  const arb = fc.record({ k0: fc.integer({ min: 1, max: 6 }), h: fc.integer({ min: 1, max: 6 }), out: fc.integer({ min: 1, max: 4 }), s: fc.double({ min: 0, max: 0.999, noNaN: true }) }).chain((p) =>
    fc.record({ p: fc.constant(p), w1: floatArr(p.k0 * p.h), w2: floatArr(p.h * p.out), scope: fc.constantFrom('layer' as const, 'global' as const) }),
  );

  it('achieved sparsity equals the request (± one weight per scope) and pruned |w| ≤ kept |w| per scope', () => {
    fc.assert(
      fc.property(arb, ({ p, w1, w2, scope }) => {
        const g = mlp(w1, p.k0, p.h, w2, p.out);
        const r = prune(g, { sparsity: p.s, scope });
        const scopes = scope === 'layer' ? [['w1'], ['w2']] : [['w1', 'w2']];
        for (const sc of scopes) {
          let n = 0;
          let pruned = 0;
          let maxPruned = -Infinity;
          let minKept = Infinity;
          for (const name of sc) {
            const orig = g.initializers.get(name)!.data as Float32Array;
            const mk = r.masks.get(name)!;
            const now = r.graph.initializers.get(name)!.data as Float32Array;
            for (let i = 0; i < orig.length; i++) {
              n++;
              if (!mk[i]) {
                pruned++;
                expect(now[i]).toBe(0);
                maxPruned = Math.max(maxPruned, Math.abs(orig[i]!));
              } else {
                expect(now[i]).toBe(orig[i]);
                minKept = Math.min(minKept, Math.abs(orig[i]!));
              }
            }
          }
          expect(Math.abs(pruned - p.s * n)).toBeLessThanOrEqual(1);
          expect(maxPruned).toBeLessThanOrEqual(minKept);
        }
        // the input graph is untouched
        expect(g.initializers.get('w1')!.data).toBe(w1);
      }),
      { numRuns: 200 },
    );
  });

  it('pruning at sparsity 0 changes nothing', () => {
    fc.assert(
      fc.property(arb, ({ p, w1, w2, scope }) => {
        const g = mlp(w1, p.k0, p.h, w2, p.out);
        const r = prune(g, { sparsity: 0, scope });
        expect(r.prunedWeights).toBe(0);
        expect(Array.from(r.graph.initializers.get('w1')!.data as Float32Array)).toEqual(Array.from(w1));
        expect(Array.from(r.graph.initializers.get('w2')!.data as Float32Array)).toEqual(Array.from(w2));
      }),
      { numRuns: 100 },
    );
  });

  it('threshold prunes exactly |w| < T', () => {
    fc.assert(
      fc.property(arb, fc.double({ min: 0, max: 100, noNaN: true }), ({ p, w1, w2 }, t) => {
        const r = prune(mlp(w1, p.k0, p.h, w2, p.out), { threshold: t });
        const now = r.graph.initializers.get('w1')!.data as Float32Array;
        for (let i = 0; i < w1.length; i++) expect(now[i]).toBe(Math.abs(w1[i]!) < t ? 0 : w1[i]);
      }),
    );
  });
});

describe('N:M pruning (properties)', () => {
  it('the N:M pattern holds in every group along the reduction axis, keeping the largest', () => {
    const arb = fc
      .record({ k0: fc.integer({ min: 1, max: 13 }), h: fc.integer({ min: 1, max: 5 }), nm: fc.constantFrom([2, 4], [4, 8], [1, 4], [1, 2]), transB: fc.boolean() })
      .chain((p) => fc.record({ p: fc.constant(p), w1: floatArr(p.k0 * p.h) }));
    fc.assert(
      fc.property(arb, ({ p, w1 }) => {
        const [n, m] = p.nm as [number, number];
        const g = mlp(w1, p.k0, p.h, new Float32Array(p.h), 1);
        if (!p.transB) {
          g.nodes[0]!.attrs = {};
          g.initializers.set('w1', new Tensor('float32', w1, [p.k0, p.h]));
        }
        const r = prune(g, { structured: 'n:m', n, m, exclude: ['fc2'] });
        const now = r.graph.initializers.get('w1')!.data as Float32Array;
        const at = (row: number, c: number) => (p.transB ? row * p.k0 + c : c * p.h + row);
        for (let row = 0; row < p.h; row++) {
          for (let c0 = 0; c0 < p.k0; c0 += m) {
            const grp = [];
            for (let c = c0; c < Math.min(p.k0, c0 + m); c++) grp.push(at(row, c));
            const kept = grp.filter((i) => r.masks.get('w1')![i]);
            expect(kept.length).toBe(Math.min(n, grp.length));
            for (const i of grp) expect(now[i]).toBe(r.masks.get('w1')![i] ? w1[i] : 0);
            const minKept = Math.min(...kept.map((i) => Math.abs(w1[i]!)));
            for (const i of grp) if (!r.masks.get('w1')![i]) expect(Math.abs(w1[i]!)).toBeLessThanOrEqual(minKept);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('channel pruning', () => {
  it.each(['bn', 'mul'] as const)('removing channels whose weights (and bias) are all zero leaves outputs identical (%s)', (norm) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 5 }), (seed, zeros) => {
        const rand = lcg(seed);
        const g = cnn(rand, zeros, norm);
        // zero channels become constant after BN; make BN map 0 -> 0 for them so removal is exact
        if (norm === 'bn') {
          const bnB = g.initializers.get('bias')!.data as Float32Array;
          const mean = g.initializers.get('mean')!.data as Float32Array;
          for (const c of zeros) bnB[c] = mean[c] = 0;
        }
        const r = prune(g, { structured: 'channel', sparsity: zeros.length / 6, exclude: ['conv2'] });
        expect(r.layers.find((l) => l.node === 'conv1')!.channels!.after).toBe(6 - zeros.length);
        expect(r.graph.initializers.get('w2')!.dims).toEqual([4, 6 - zeros.length, 3, 3]);
        const x = new Tensor('float32', Float32Array.from({ length: 2 * 2 * 64 }, () => rand()), [2, 2, 8, 8]);
        const a = run(g, x).data as Float32Array;
        const b = run(r.graph, x).data as Float32Array;
        for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
      }),
      { numRuns: 25 },
    );
  });

  it.each(['bn', 'mul'] as const)('removes output channels and rewrites %s, next Conv and the Gemm after Flatten', (norm) => {
    const g = cnn(lcg(7), [], norm);
    const r = prune(g, { structured: 'channel', sparsity: 0.5 });
    expect(r.graph.initializers.get('w1')!.dims).toEqual([3, 2, 3, 3]);
    expect(r.graph.initializers.get('scale')!.dims).toEqual(norm === 'bn' ? [3] : [1, 3, 1, 1]);
    expect(r.graph.initializers.get('w2')!.dims).toEqual([2, 3, 3, 3]);
    expect(r.graph.initializers.get('w3')!.dims).toEqual([3, 8]);
    expect(r.skipped).toEqual([{ node: 'fc', reason: "its channels reach graph output 'y'" }]);
    expect(r.prunedWeights).toBeGreaterThan(0);
    const y = run(r.graph, new Tensor('float32', new Float32Array(2 * 2 * 64).fill(0.1), [2, 2, 8, 8]));
    expect(y.dims).toEqual([2, 3]);
  });

  it('keeps the channels with the largest L1 norm', () => {
    const w1 = Float32Array.from([1, 1, 5, 5, 0.5, 0.5, 3, -3]); // rows: L1 2, 10, 1, 6
    const r = prune(mlp(w1, 2, 4, new Float32Array(8).fill(1), 2), { structured: 'channel', sparsity: 0.5 });
    expect(r.layers[0]!.channels!.kept).toEqual([1, 3]);
    expect(Array.from(r.graph.initializers.get('w1')!.data as Float32Array)).toEqual([5, 5, 3, -3]);
    expect(r.graph.initializers.get('b1')!.dims).toEqual([2]);
    expect(r.graph.initializers.get('w2')!.dims).toEqual([2, 2]);
  });

  it('excludes Add groups with a reason', () => {
    const g = mlp(new Float32Array(8).fill(1), 2, 4, new Float32Array(8).fill(1), 2);
    g.initializers.set('w0', new Tensor('float32', new Float32Array(8).fill(1), [4, 2]));
    g.nodes.splice(1, 0, node('fc0', 'Gemm', ['x', 'w0'], ['h0'], { transB: 1 }), node('add', 'Add', ['h', 'h0'], ['hs']));
    g.nodes[3]!.inputs = ['hs'];
    expect(() => prune(g, { structured: 'channel', sparsity: 0.5 })).toThrow(NothingToPruneError);
    try {
      prune(g, { structured: 'channel', sparsity: 0.5 });
    } catch (e) {
      expect((e as Error).message).toMatch(/Add 'add'.*Add\/Concat groups are excluded/);
    }
  });

  it('a sliced constant per-channel Add after MatMul stays consistent', () => {
    const g = new Graph();
    g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [1, 3] } }];
    g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: [1, 2] } }];
    g.initializers.set('w', new Tensor('float32', Float32Array.from([1, 0, 2, 0, 1, 0, 2, 0, 1, 0.1, 2, 0.1]), [3, 4]));
    g.initializers.set('b', new Tensor('float32', Float32Array.from([1, 2, 3, 4]), [4]));
    g.initializers.set('w2', new Tensor('float32', Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1]), [4, 2]));
    g.nodes = [node('mm', 'MatMul', ['x', 'w'], ['h']), node('add', 'Add', ['h', 'b'], ['hb']), node('mm2', 'MatMul', ['hb', 'w2'], ['y'])];
    const r = prune(g, { structured: 'channel', sparsity: 0.5 });
    expect(r.layers[0]!.channels!.kept).toEqual([0, 2]);
    expect(Array.from(r.graph.initializers.get('b')!.data as Float32Array)).toEqual([1, 3]);
    const y = run(r.graph, new Tensor('float32', Float32Array.from([1, 1, 1]), [1, 3]));
    expect(Array.from(y.data as Float32Array)).toEqual([13, 13]);
  });
});

describe('bad input', () => {
  const g = () => mlp(new Float32Array(6).fill(1), 2, 3, new Float32Array(6).fill(1), 2);
  it.each([-0.1, 1, 1.5, NaN, Infinity])('sparsity %s is a PruneOptionsError', (s) => {
    expect(() => prune(g(), { sparsity: s })).toThrow(PruneOptionsError);
  });
  it('bad threshold, bad n:m, bad scope, both sparsity and threshold', () => {
    expect(() => prune(g(), { threshold: -1 })).toThrow(PruneOptionsError);
    expect(() => prune(g(), { threshold: 1, sparsity: 0.5 })).toThrow(PruneOptionsError);
    expect(() => prune(g(), { structured: 'n:m', n: 4, m: 4 })).toThrow(PruneOptionsError);
    expect(() => prune(g(), { structured: 'n:m', n: 1.5, m: 4 })).toThrow(PruneOptionsError);
    expect(() => prune(g(), { scope: 'model' as never })).toThrow(PruneOptionsError);
    expect(() => prune(g(), { structured: 'blocks' as never })).toThrow(PruneOptionsError);
  });
  it('unknown node names are a PruneOptionsError naming them', () => {
    expect(() => prune(g(), { sparsity: 0.5, exclude: ['fc1', 'nope'] })).toThrow(/no node or initializer named 'nope'/);
  });
  it('a model with nothing prunable is a NothingToPruneError (an EdgeqError)', () => {
    const h = new Graph();
    h.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [2] } }];
    h.outputs = [{ name: 'y', type: { dtype: 'float32', shape: [2] } }];
    h.nodes = [node('r', 'Relu', ['x'], ['y'])];
    expect(() => prune(h, { sparsity: 0.5 })).toThrow(NothingToPruneError);
    expect(() => prune(g(), { sparsity: 0.5, exclude: ['fc1', 'fc2'] })).toThrow(EdgeqError);
    // Gemm with a non-constant weight
    const k = g();
    k.inputs.push({ name: 'w1', type: { dtype: 'float32', shape: [3, 2] } });
    k.initializers.delete('w1');
    expect(() => prune(k, { sparsity: 0.5, exclude: ['fc2'] })).toThrow(/nothing to prune.*not a constant initializer/);
  });
  it('excludeFirst / excludeLast', () => {
    const r = prune(g(), { sparsity: 0.5, excludeFirst: true });
    expect(r.layers.map((l) => l.node)).toEqual(['fc2']);
    expect(() => prune(g(), { sparsity: 0.5, excludeFirst: true, excludeLast: true })).toThrow(NothingToPruneError);
  });
});

describe('masks and helpers', () => {
  it('applyMasks re-zeroes pruned weights after an update (fine-tuning hook)', () => {
    const r = prune(mlp(Float32Array.from([1, -2, 3, -4, 5, -6]), 2, 3, new Float32Array(6).fill(1), 2), { sparsity: 0.5, exclude: ['fc2'] });
    const t = r.graph.initializers.get('w1')!;
    r.graph.initializers.set('w1', new Tensor('float32', (t.data as Float32Array).map((v) => v + 0.5), t.dims));
    applyMasks(r.graph, r.masks);
    expect(Array.from(r.graph.initializers.get('w1')!.data as Float32Array)).toEqual([0, 0, 0, -3.5, 5.5, -5.5]);
  });
  it('float16 and float64 weights are pruned in their own dtype', () => {
    for (const dtype of ['float16', 'float64'] as const) {
      const g = mlp(new Float32Array(6), 2, 3, new Float32Array(6), 2);
      const vals = [1, -2, 3, -4, 5, -6];
      g.initializers.set('w1', dtype === 'float64' ? new Tensor('float64', Float64Array.from(vals), [3, 2]) : new Tensor('float16', Uint16Array.from([0x3c00, 0xc000, 0x4200, 0xc400, 0x4500, 0xc600]), [3, 2]));
      const r = prune(g, { sparsity: 0.5, exclude: ['fc2'] });
      const t = r.graph.initializers.get('w1')!;
      expect(t.type).toBe(dtype);
      expect(Array.from(r.masks.get('w1')!)).toEqual([0, 0, 0, 1, 1, 1]);
    }
  });
  it('sliceAxis keeps blocks along an axis', () => {
    const t = new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => i), [2, 6]);
    expect(Array.from(sliceAxis(t, 1, [0, 2], 2).data as Float32Array)).toEqual([0, 1, 4, 5, 6, 7, 10, 11]);
    expect(sliceAxis(t, 0, [1]).dims).toEqual([1, 6]);
  });
});
