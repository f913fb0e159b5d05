// The executor runs a plan compiled once into a flat list of steps (constant inputs bound at plan time, shape answers
// cached per step, a value map holding only what the run computes). These check what that must not change: an
// input that also has an initializer is the fed value (ONNX IR: "an initializer with the same name as a graph input
// specifies a default value for that input"), initializers can be fetched, repeated runs with other inputs agree
// with the reference backend, and bad feeds stay typed errors.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InputError } from '../../src/errors.js';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

function mlp(): Graph {
  const g = new Graph();
  g.inputs = [
    { name: 'X', type: { dtype: 'float32', shape: [2, 3] } },
    { name: 'S', type: { dtype: 'float32', shape: [4] } },
  ];
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => (i % 5) * 0.25 - 0.5), [3, 4]));
  g.initializers.set('S', new Tensor('float32', new Float32Array(4).fill(1), [4])); // default for input S
  g.nodes = [
    { name: 'mm', op: 'MatMul', domain: '', inputs: ['X', 'W'], outputs: ['H'], attrs: {} },
    { name: 'relu', op: 'Relu', domain: '', inputs: ['H'], outputs: ['R'], attrs: {} },
    { name: 'flat', op: 'Flatten', domain: '', inputs: ['R'], outputs: ['F'], attrs: {} },
    { name: 'sig', op: 'Sigmoid', domain: '', inputs: ['F'], outputs: ['Y'], attrs: {} },
    { name: 'scale', op: 'Mul', domain: '', inputs: ['F', 'S'], outputs: ['Z'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }, { name: 'Z', type: { dtype: 'float32' } }];
  return g;
}

describe('compiled plan steps', () => {
  it('a fed input with an initializer default is the fed value, not the default', () => {
    const ex = new Executor(mlp(), { backend: 'reference' });
    const x = new Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const s = new Tensor('float32', new Float32Array([2, 3, 4, 5]), [4]);
    const { F, Z } = ex.run({ X: x, S: s }, ['F', 'Z']) as Record<string, Tensor>;
    const f = F!.data as Float32Array;
    expect(Array.from(Z!.data as Float32Array)).toEqual(Array.from(f, (v, i) => Math.fround(v * s.data[i % 4]! as number)));
  });

  it('fetches an initializer', () => {
    const ex = new Executor(mlp());
    const x = new Tensor('float32', new Float32Array(6), [2, 3]);
    const out = ex.run({ X: x, S: new Tensor('float32', new Float32Array(4), [4]) }, ['W']) as Record<string, Tensor>;
    expect(out.W!.dims).toEqual([3, 4]);
    expect(Array.from(out.W!.data as Float32Array)).toEqual(Array.from(mlp().initializers.get('W')!.data as Float32Array));
    ex.dispose();
  });

  it('repeated runs with other inputs agree with the reference backend (shape answers cached per step)', () => {
    const wasm = new Executor(mlp());
    const ref = new Executor(mlp(), { backend: 'reference' });
    const f32 = (n: number) => fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: n, maxLength: n });
    fc.assert(
      fc.property(f32(6), f32(4), (xs, ss) => {
        const feeds = { X: new Tensor('float32', Float32Array.from(xs), [2, 3]), S: new Tensor('float32', Float32Array.from(ss), [4]) };
        const a = wasm.run(feeds) as Record<string, Tensor>;
        const b = ref.run(feeds) as Record<string, Tensor>;
        for (const k of ['Y', 'Z']) {
          expect(a[k]!.dims).toEqual(b[k]!.dims);
          const [p, q] = [a[k]!.data as Float32Array, b[k]!.data as Float32Array];
          for (let i = 0; i < p.length; i++) expect(Math.abs(p[i]! - q[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(q[i]!)));
        }
      }),
      { numRuns: 30 },
    );
    wasm.dispose();
  });

  it('bad feeds are InputErrors naming the tensor', () => {
    const ex = new Executor(mlp());
    const x = new Tensor('float32', new Float32Array(6), [2, 3]);
    const s = new Tensor('float32', new Float32Array(4), [4]);
    expect(() => ex.run({ X: x })).toThrow(InputError);
    expect(() => ex.run({ X: x, S: s, Q: s })).toThrow(/unknown input 'Q'/);
    expect(() => ex.run({ X: new Tensor('float32', new Float32Array(6), [3, 2]), S: s })).toThrow(/input 'X' has shape \[3,2\]/);
    ex.dispose();
  });
});
