// ir/passes/fuse-xfmr.ts: a layer norm written out op by op (PyTorch's opset-13 nn.LayerNorm) becomes one
// LayerNormalization.
// ONNX LayerNormalization: "Mean = ReduceMean<axes=normalized_axes>(X); D = Sub(X, Mean); DD = Mul(D, D);
// Var = ReduceMean(DD); VarEps = Add(Var, epsilon); StdDev = Sqrt(VarEps); InvStdDev = Reciprocal(StdDev);
// Normalized = Mul(D, InvStdDev); ... Y = Add(Mul(Normalized, Scale), B)".
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { fuseTransformerPatterns } from '../../src/ir/passes/fuse-xfmr.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const node = (name: string, op: string, inputs: string[], outputs: string[]): Node => ({ name, op, domain: '', inputs, outputs, attrs: {} });
const f32 = (v: number[] | Float32Array, dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 4 - 2);
}

/** PyTorch's opset-13 export of nn.LayerNorm(d) applied to X[rows, d]; `beta` false drops the bias Add. */
function writtenOut(rows: number, d: number, seed: number, beta = true, extraReader = false): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [rows, d] } }];
  g.initializers.set('axes', new Tensor('int64', BigInt64Array.from([-1n]), [1]));
  g.initializers.set('two', f32([2], []));
  g.initializers.set('eps', f32([1e-5], []));
  g.initializers.set('gamma', f32(rand(d, seed + 1), [d]));
  g.initializers.set('beta', f32(rand(d, seed + 2), [d]));
  g.nodes = [
    node('mean', 'ReduceMean', ['X', 'axes'], ['m']),
    node('sub', 'Sub', ['X', 'm'], ['d']),
    node('pow', 'Pow', ['d', 'two'], ['p']),
    node('mean2', 'ReduceMean', ['p', 'axes'], ['v']),
    node('addeps', 'Add', ['v', 'eps'], ['ve']),
    node('sqrt', 'Sqrt', ['ve'], ['s']),
    node('div', 'Div', ['d', 's'], ['n']),
    node('mul', 'Mul', ['n', 'gamma'], [beta ? 'y' : 'Y']),
    ...(beta ? [node('bias', 'Add', ['y', 'beta'], ['Y'])] : []),
    ...(extraReader ? [node('spy', 'Relu', ['v'], ['V'])] : []),
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }, ...(extraReader ? [{ name: 'V', type: { dtype: 'float32' } }] : [])];
  return g;
}

describe('fuseTransformerPatterns: written-out LayerNorm', () => {
  it('rewrites the written-out form into one LayerNormalization that agrees with it (1e-5 of the range)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 40 }), fc.integer(), fc.boolean(), (rows, d, seed, beta) => {
        const g = writtenOut(rows, d, seed, beta);
        const f = fuseTransformerPatterns(g);
        expect(f.nodes.map((n) => n.op)).toEqual(['LayerNormalization']);
        expect(f.nodes[0]!.inputs).toEqual(beta ? ['X', 'gamma', 'beta'] : ['X', 'gamma']);
        const x = f32(rand(rows * d, seed), [rows, d]);
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y as Tensor;
        const ex = new Executor(g);
        expect(ex.graph.nodes.map((n) => n.op)).toEqual(['LayerNormalization']);
        const got = ex.run({ X: x }).Y as Tensor;
        ex.dispose();
        const w = want.data as Float32Array;
        const range = Math.max(1, ...Array.from(w, Math.abs));
        (got.data as Float32Array).forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThanOrEqual(1e-5 * range));
      }),
      { numRuns: 40 },
    );
  });

  it('leaves the pattern alone when an intermediate has another reader', () => {
    const g = writtenOut(2, 8, 1, true, true);
    expect(fuseTransformerPatterns(g)).toBe(g);
  });
});
