// Plan-time fusion of decomposed transformer patterns (src/ir/passes/fuse-xfmr.ts): PyTorch's erf GELU and a
// ReduceMean/Sub/Pow/Sqrt/Div LayerNorm become Gelu / LayerNormalization, run on kernels, and give the unfused
// reference's results.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { fuseTransformerPatterns } from '../../src/ir/passes/fuse-xfmr.js';
import { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

const c = (name: string, v: number): Node => ({ name: `${name}_c`, op: 'Constant', domain: '', inputs: [], outputs: [name], attrs: { value: new Tensor('float32', Float32Array.of(v), []) } });

/** x → [bias Add] → GELU as torch.onnx writes nn.GELU() at opset 17 */
function geluGraph(n: number, swap: boolean): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [2, n] } }];
  g.initializers.set('b', new Tensor('float32', Float32Array.from({ length: n }, (_, i) => i / n - 0.5), [n]));
  g.nodes = [
    { name: 'bias', op: 'Add', domain: '', inputs: ['b', 'X'], outputs: ['x'], attrs: {} },
    c('sqrt2', Math.SQRT2),
    c('one', 1),
    c('half', 0.5),
    { name: 'div', op: 'Div', domain: '', inputs: ['x', 'sqrt2'], outputs: ['d'], attrs: {} },
    { name: 'erf', op: 'Erf', domain: '', inputs: ['d'], outputs: ['e'], attrs: {} },
    { name: 'add1', op: 'Add', domain: '', inputs: swap ? ['one', 'e'] : ['e', 'one'], outputs: ['a'], attrs: {} },
    { name: 'mul', op: 'Mul', domain: '', inputs: swap ? ['a', 'x'] : ['x', 'a'], outputs: ['m'], attrs: {} },
    { name: 'mul_half', op: 'Mul', domain: '', inputs: ['m', 'half'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

function layerNormGraph(n: number, affine: boolean): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [3, n] } }];
  g.initializers.set('gamma', new Tensor('float32', Float32Array.from({ length: n }, (_, i) => 1 + i / n), [n]));
  g.initializers.set('ax', new Tensor('int64', BigInt64Array.of(-1n), [1]));
  g.initializers.set('beta', new Tensor('float32', Float32Array.from({ length: n }, (_, i) => i / n), [n]));
  g.nodes = [
    { name: 'mean', op: 'ReduceMean', domain: '', inputs: ['X', 'ax'], outputs: ['mu'], attrs: {} },
    { name: 'sub', op: 'Sub', domain: '', inputs: ['X', 'mu'], outputs: ['d'], attrs: {} },
    c('two', 2),
    c('eps', 1e-5),
    { name: 'pow', op: 'Pow', domain: '', inputs: ['d', 'two'], outputs: ['d2'], attrs: {} },
    { name: 'var', op: 'ReduceMean', domain: '', inputs: ['d2', 'ax'], outputs: ['v'], attrs: {} },
    { name: 'addeps', op: 'Add', domain: '', inputs: ['v', 'eps'], outputs: ['ve'], attrs: {} },
    { name: 'sqrt', op: 'Sqrt', domain: '', inputs: ['ve'], outputs: ['sd'], attrs: {} },
    { name: 'div', op: 'Div', domain: '', inputs: ['d', 'sd'], outputs: affine ? ['nrm'] : ['Y'], attrs: {} },
    ...(affine
      ? [
          { name: 'scale', op: 'Mul', domain: '', inputs: ['nrm', 'gamma'], outputs: ['sc'], attrs: {} },
          { name: 'shift', op: 'Add', domain: '', inputs: ['sc', 'beta'], outputs: ['Y'], attrs: {} },
        ]
      : []),
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

function values(n: number, seed: number, scale: number): Float32Array {
  let q = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    return (q / 2 ** 31 - 1) * scale;
  });
}

describe('transformer pattern fusion', () => {
  // ONNX Gelu (opset 20): "y = 0.5 * x * (1 + erf(x/sqrt(2)))" — the decomposed graph computes exactly this.
  it('GELU → one Gelu folded into the bias Add kernel; results as unfused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 37 }), fc.boolean(), fc.integer(), fc.constantFrom(0.5, 3, 8), (n, swap, seed, scale) => {
        const g = geluGraph(n, swap);
        expect(fuseTransformerPatterns(g).nodes.map((x) => x.op)).toEqual(['Add', 'Constant', 'Constant', 'Constant', 'Gelu']);
        const fast = new Executor(g);
        expect([...fast.fusedInto.keys()].map((x) => x.op)).toEqual(['Gelu']);
        const x = new Tensor('float32', values(2 * n, seed, scale), [2, n]);
        const got = fast.run({ X: x }).Y!.data as Float32Array;
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want[i]!)));
      }),
      { numRuns: 60, seed: 29 },
    );
  });

  // ONNX LayerNormalization's function body: Mean = ReduceMean(X); D = Sub(X, Mean); Var = ReduceMean(Mul(D, D));
  // StdDev = Sqrt(Add(Var, epsilon)); Normalized = Div(D, StdDev) (as Mul by InvStdDev); Y = Normalized·Scale + B
  it('ReduceMean/Sub/Pow/Sqrt/Div LayerNorm → LayerNormalization; results as unfused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 41 }), fc.boolean(), fc.integer(), (n, affine, seed) => {
        const g = layerNormGraph(n, affine);
        const fused = fuseTransformerPatterns(g);
        expect(fused.nodes.filter((x) => x.op === 'LayerNormalization')).toHaveLength(1);
        expect(fused.nodes.some((x) => x.op === 'ReduceMean' || x.op === 'Pow')).toBe(false);
        const fast = new Executor(g);
        const x = new Tensor('float32', values(3 * n, seed, 4).map((v) => v + 2), [3, n]);
        const got = fast.run({ X: x }).Y!.data as Float32Array;
        if (affine) expect([...fast.kernels.values()].map((k) => k.name)).toEqual(['f32_layernorm']);
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(want[i]!)));
      }),
      { numRuns: 60, seed: 31 },
    );
  });

  it('leaves a pattern alone when an intermediate is used elsewhere, and still serves fetches of fused values', async () => {
    const g = geluGraph(8, false);
    g.outputs.push({ name: 'e', type: { dtype: 'float32' } });
    expect(fuseTransformerPatterns(g)).toBe(g);
    const s = await InferenceSession.create(geluGraph(8, false));
    const x = new Tensor('float32', values(16, 1, 2), [2, 8]);
    const r = await s.run({ X: x }, ['Y', 'e']);
    expect(r.e!.dims).toEqual([2, 8]);
  });
});
