// Standalone Relu/Clip (kernels/act.ts f32_clamp, with the clamp epilogue) and the view kernels
// (kernels/view.ts: Reshape/Flatten/Squeeze/Unsqueeze alias their input) against the TS reference ops.
// ONNX Relu: "y = max(0, x)"; ONNX Clip: "y = min(max(x, min), max)" with min/max optional scalars;
// ONNX Reshape: "the data is not changed" (Flatten, Squeeze, Unsqueeze likewise only relabel dims).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

function values(n: number, seed: number): Float32Array {
  let q = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    if (q % 17 === 0) return [0, 100, -100, 6, -6, 1e-30][q % 6]!;
    return (q / 2 ** 31 - 1) * 8;
  });
}

/** X → Exp (reference: the input is a JS tensor, not kernel memory) → OP → Y, or OP directly on X. */
function model(op: string, dims: number[], extra: { inits?: Record<string, Tensor>; inputs?: string[]; attrs?: Node['attrs'] }, viaRef: boolean): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: dims } }];
  for (const [k, t] of Object.entries(extra.inits ?? {})) g.initializers.set(k, t);
  const src = viaRef ? 'E' : 'X';
  g.nodes = [
    ...(viaRef ? [{ name: 'floor', op: 'Floor', domain: '', inputs: ['X'], outputs: ['E'], attrs: {} }] : []),
    { name: 'n0', op, domain: '', inputs: [src, ...(extra.inputs ?? [])], outputs: ['Y'], attrs: extra.attrs ?? {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

function compare(g: Graph, x: Tensor, kernel: string): void {
  const fast = new Executor(g);
  const n0 = fast.graph.nodes.find((n) => n.name === 'n0')!;
  expect(fast.kernels.get(n0)?.name).toBe(kernel);
  const got = fast.run({ X: x }).Y as Tensor;
  const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y as Tensor;
  expect([...got.dims]).toEqual([...want.dims]);
  const a = got.data as Float32Array;
  const b = want.data as Float32Array;
  for (let i = 0; i < b.length; i++) if (!(a[i] === b[i] || (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)))) expect([i, a[i]]).toEqual([i, b[i]]);
  fast.dispose();
}

const dimsArb = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 });

describe('standalone Relu / Clip kernel', () => {
  it('equals the reference (exact: x·1 then the clamp) over shapes around the vector width and bound combinations', () => {
    fc.assert(
      fc.property(dimsArb, fc.integer(), fc.boolean(), fc.option(fc.float({ min: -10, max: 10, noNaN: true })), fc.option(fc.float({ min: -10, max: 10, noNaN: true })), (dims, seed, viaRef, lo, hi) => {
        const n = dims.reduce((a, b) => a * b, 1);
        const x = new Tensor('float32', values(n, seed), dims);
        compare(model('Relu', dims, {}, viaRef), x, 'f32_clamp');
        if (lo !== null && hi !== null && lo > hi) [lo, hi] = [hi, lo];
        const inits: Record<string, Tensor> = {};
        if (lo !== null) inits.lo = new Tensor('float32', Float32Array.from([lo]), []);
        if (hi !== null) inits.hi = new Tensor('float32', Float32Array.from([hi]), []);
        compare(model('Clip', dims, { inits, inputs: [lo !== null ? 'lo' : '', hi !== null ? 'hi' : ''] }, viaRef), x, 'f32_clamp');
      }),
      { numRuns: 60 },
    );
  });

  it('min > max: every output is max, as the spec says (ONNX Clip: "When min is greater than max, the clip operator sets all the input values to the value of max")', () => {
    const dims = [2, 3];
    const inits = { lo: new Tensor('float32', Float32Array.from([2]), []), hi: new Tensor('float32', Float32Array.from([1]), []) };
    const x = new Tensor('float32', Float32Array.from([-3, 0, 0.5, 1.5, 2.5, 9]), dims);
    compare(model('Clip', dims, { inits, inputs: ['lo', 'hi'] }, false), x, 'f32_clamp');
    const ex = new Executor(model('Clip', dims, { inits, inputs: ['lo', 'hi'] }, false));
    expect(Array.from((ex.run({ X: x }).Y as Tensor).data as Float32Array)).toEqual([1, 1, 1, 1, 1, 1]);
    ex.dispose();
  });
});

describe('view kernels', () => {
  it('Reshape / Flatten / Squeeze / Unsqueeze alias the data under the new dims, equal to the reference', () => {
    fc.assert(
      fc.property(dimsArb, fc.integer(), fc.boolean(), (dims, seed, viaRef) => {
        const n = dims.reduce((a, b) => a * b, 1);
        const x = new Tensor('float32', values(n, seed), dims);
        const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);
        compare(model('Reshape', dims, { inits: { s: i64([-1]) }, inputs: ['s'] }, viaRef), x, 'view');
        compare(model('Flatten', dims, { attrs: { axis: dims.length > 1 ? 1 : 0 } }, viaRef), x, 'view');
        compare(model('Unsqueeze', dims, { inits: { a: i64([0]) }, inputs: ['a'] }, viaRef), x, 'view');
        const ones = dims.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
        if (ones.length) compare(model('Squeeze', dims, { inits: { a: i64(ones) }, inputs: ['a'] }, viaRef), x, 'view');
      }),
      { numRuns: 40 },
    );
  });
});
