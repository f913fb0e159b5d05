// WASM ReduceSum / ReduceMean (f32_reduce_sum over [outer, r, inner]) and ReduceMax / ReduceMin (f32_reduce_max)
// against the TS reference.
// ONNX ReduceSum: "Computes the sum of the input tensor's elements along the provided axes. The resulting tensor has
// the same rank as the input if keepdims equals 1 … Input tensors of rank zero are valid. … The default is to reduce
// over all the dimensions of the input tensor if 'noop_with_empty_axes' is false"; ReduceMean: the mean likewise.
// Float sums run in another order than the reference's doubles: agreement to 1e-5 of the sum of magnitudes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

function graph(op: string, dims: number[], axes: number[] | undefined, keepdims: number): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: dims } }];
  if (axes) g.initializers.set('axes', new Tensor('int64', BigInt64Array.from(axes.map(BigInt)), [axes.length]));
  g.nodes = [{ name: 'r', op, domain: '', inputs: axes ? ['X', 'axes'] : ['X'], outputs: ['Y'], attrs: { keepdims } }];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('WASM ReduceSum / ReduceMean vs the TS reference', () => {
  it('agree over ranks (known at plan time or not), contiguous axis runs (negative too), all axes, keepdims and inner sizes around 4 and 16', () => {
    const arb = fc
      .record({
        op: fc.constantFrom('ReduceSum', 'ReduceMean'),
        dims: fc.array(fc.integer({ min: 1, max: 19 }), { minLength: 1, maxLength: 4 }),
        start: fc.nat(),
        len: fc.nat(),
        all: fc.boolean(),
        neg: fc.boolean(),
        keepdims: fc.constantFrom(0, 1),
        open: fc.boolean(),
      })
      .map((r) => {
        const rank = r.dims.length;
        const a0 = r.start % rank;
        const n = 1 + (r.len % (rank - a0));
        const axes = r.all ? undefined : Array.from({ length: n }, (_, i) => (r.neg ? a0 + i - rank : a0 + i));
        return { ...r, axes };
      });
    let runs = 0;
    fc.assert(
      fc.property(arb, fc.integer(), (r, seed) => {
        let q = seed;
        const size = r.dims.reduce((a, b) => a * b, 1);
        const x = new Tensor('float32', Float32Array.from({ length: size }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1), r.dims);
        const g = graph(r.op, r.dims, r.axes, r.keepdims);
        // rank unknown at plan time (a control-flow body's value): the kernel finds the reduced run at the first run
        if (r.open) g.inputs[0]!.type = { dtype: 'float32' };
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(r.op === 'ReduceSum' ? 'f32_reduce_sum' : 'f32_reduce_mean');
        const got = fast.run({ X: x }).Y!;
        expect(fast.fallbacks.size).toBe(0);
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
        expect(got.dims).toEqual(want.dims);
        const a = got.data as Float32Array;
        const b = want.data as Float32Array;
        const rsz = size / Math.max(1, b.length);
        for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * (r.op === 'ReduceSum' ? rsz : 1));
        runs++;
      }),
      { numRuns: 300, seed: 21 },
    );
    expect(runs).toBe(300);
  });

  // ONNX ReduceMax / ReduceMin: "Computes the max (min) of the input tensor's elements along the provided axes …
  // If the input data type is Boolean, the comparison should consider False < True" — float32 here; exact
  // comparisons, so bit for bit with the reference, NaN and which of ±0 wins included.
  it('ReduceMax / ReduceMin agree bit for bit over contiguous axis runs, with NaN and ±0', () => {
    const specials = [0, -0, NaN, Infinity, -Infinity];
    fc.assert(
      fc.property(
        fc.constantFrom('ReduceMax', 'ReduceMin'),
        fc.array(fc.integer({ min: 1, max: 11 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        fc.constantFrom(0, 1),
        fc.integer(),
        (op, dims, start, len, all, keepdims, seed) => {
          const rank = dims.length;
          const a0 = start % rank;
          const axes = all ? undefined : Array.from({ length: 1 + (len % (rank - a0)) }, (_, i) => a0 + i);
          let q = seed;
          const size = dims.reduce((a, b) => a * b, 1);
          const x = new Tensor('float32', Float32Array.from({ length: size }, () => {
            q = (Math.imul(q, 1103515245) + 12345) >>> 0;
            return q % 7 === 0 ? specials[(q >>> 8) % specials.length]! : q / 2 ** 31 - 1;
          }), dims);
          const g = graph(op, dims, axes, keepdims);
          g.opsets = { '': 18 };
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_reduce_max');
          const got = fast.run({ X: x }).Y!;
          fast.dispose();
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          expect(got.dims).toEqual(want.dims);
          const a = got.data as Float32Array;
          const b = want.data as Float32Array;
          for (let i = 0; i < b.length; i++) expect(Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]))).toBe(true);
        },
      ),
      { numRuns: 300, seed: 23 },
    );
  });

  it('axes with a gap stay on the reference, with the reason', () => {
    const g = graph('ReduceSum', [2, 3, 4], [0, 2], 1);
    const ex = new Executor(g);
    expect(ex.kernels.has(g.nodes[0]!)).toBe(false);
    expect(ex.fallbacks.get(g.nodes[0]!)).toContain('not one contiguous run');
    ex.dispose();
  });
});
