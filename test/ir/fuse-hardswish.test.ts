// Plan-time recognition of HardSwish written out elementwise (paddle2onnx: Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6);
// PyTorch/tf2onnx: Mul(x, HardSigmoid(x, 1/6, 0.5))). ONNX HardSwish: "y = x * max(0, min(1, alpha * x + beta)),
// where alpha = 1/6 and beta = 0.5" — the same function, so results agree to float rounding.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { fuseHardSwish } from '../../src/ir/passes/fuse-hardswish.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const f = (v: number) => new Tensor('float32', Float32Array.of(v), []);

function graph(form: 'paddle' | 'hsig', opts: { constNodes?: boolean; three?: number; extraUse?: boolean; conv?: boolean; castLike?: boolean } = {}): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 2, 3, 5] } }];
  const put = (name: string, t: Tensor) => {
    if (opts.constNodes) g.nodes.push({ name: `c_${name}`, op: 'Constant', domain: '', inputs: [], outputs: [name], attrs: { value: t } });
    else g.initializers.set(name, t);
  };
  let x = 'X';
  if (opts.conv) {
    g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: 2 * 2 * 9 }, (_, i) => Math.sin(i) * 0.7), [2, 2, 3, 3]));
    g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['x'], attrs: { pads: [1, 1, 1, 1] } });
    x = 'x';
  }
  if (form === 'paddle') {
    put('three', f(opts.three ?? 3));
    put('zero', f(0));
    put('six', f(6));
    put('six2', f(6));
    g.nodes.push(
      { name: 'add', op: 'Add', domain: '', inputs: [x, 'three'], outputs: ['a'], attrs: {} },
      ...(opts.castLike
        ? [
            { name: 'cl0', op: 'CastLike', domain: '', inputs: ['zero', 'a'], outputs: ['zero_c'], attrs: {} },
            { name: 'cl1', op: 'CastLike', domain: '', inputs: ['six', 'a'], outputs: ['six_c'], attrs: {} },
          ]
        : []),
      { name: 'clip', op: 'Clip', domain: '', inputs: opts.castLike ? ['a', 'zero_c', 'six_c'] : ['a', 'zero', 'six'], outputs: ['c'], attrs: {} },
      { name: 'mul', op: 'Mul', domain: '', inputs: [x, 'c'], outputs: ['m'], attrs: {} },
      { name: 'div', op: 'Div', domain: '', inputs: ['m', 'six2'], outputs: ['Y'], attrs: {} },
    );
  } else {
    g.nodes.push(
      { name: 'hs', op: 'HardSigmoid', domain: '', inputs: [x], outputs: ['h'], attrs: { alpha: Math.fround(1 / 6), beta: 0.5 } },
      { name: 'mul', op: 'Mul', domain: '', inputs: ['h', x], outputs: ['Y'], attrs: {} },
    );
  }
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  if (opts.extraUse) g.outputs.push({ name: form === 'paddle' ? 'c' : 'h', type: { dtype: 'float32' } });
  return g;
}

describe('HardSwish recognition', () => {
  it('rewrites both forms (constants as initializers or Constant nodes) and agrees with the reference to float rounding', () => {
    fc.assert(
      fc.property(fc.record({ form: fc.constantFrom<'paddle' | 'hsig'>('paddle', 'hsig'), constNodes: fc.boolean(), conv: fc.boolean(), castLike: fc.boolean() }), fc.integer(), (r, seed) => {
        const g = graph(r.form, { constNodes: r.constNodes, conv: r.conv, castLike: r.castLike });
        const ex = new Executor(g);
        // (CastLike nodes of Clip's bounds are left to the plan: nothing reads them any more)
        expect(ex.graph.nodes.filter((n) => !['Constant', 'Conv', 'CastLike'].includes(n.op)).map((n) => n.op)).toEqual(['HardSwish']);
        // after a conv, the HardSwish folds into the conv kernel's epilogue
        if (r.conv) expect(ex.fusedInto.size).toBe(1);
        let q = seed;
        const x = new Tensor('float32', Float32Array.from({ length: 30 }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31 - 1) * 8), [1, 2, 3, 5]);
        const got = ex.run({ X: x }).Y!.data as Float32Array;
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
        ex.dispose();
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
      }),
      { numRuns: 40, seed: 5 },
    );
  });

  it('leaves look-alikes (another constant, an intermediate read elsewhere) alone', () => {
    const a = graph('paddle', { three: 2 });
    expect(fuseHardSwish(a)).toBe(a);
    const b = graph('paddle', { extraUse: true });
    expect(fuseHardSwish(b)).toBe(b);
    const c = graph('hsig', { extraUse: true });
    expect(fuseHardSwish(c)).toBe(c);
  });
});
