// WASM elementwise Add/Sub/Mul/Div (f32_binary) against the TS reference ops, bit for bit.
// ONNX Add/Sub/Mul/Div: "Performs element-wise binary … (with Numpy-style broadcasting support)"; float32 results
// are IEEE single operations, so the kernel and the reference must agree exactly, NaN and infinities included.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const specials = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-40, 3.4e38];

function values(n: number, seed: number): Float32Array {
  let q = seed;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    return q % 17 === 0 ? specials[q % specials.length]! : q / 2 ** 31 - 1;
  });
}

describe('WASM elementwise binary ops vs the TS reference', () => {
  it('agree bit for bit over shapes, scalar operands on either side and fused Relu/Clip', () => {
    fc.assert(
      fc.property(
        fc.record({
          op: fc.constantFrom('Add', 'Sub', 'Mul', 'Div'),
          dims: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }),
          scalar: fc.constantFrom('none', 'a', 'b'),
          act: fc.constantFrom('none', 'Relu', 'Clip'),
        }),
        fc.integer(),
        (r, seed) => {
          const n = r.dims.reduce((a, b) => a * b, 1);
          const g = new Graph();
          const aDims = r.scalar === 'a' ? [1] : r.dims;
          const bDims = r.scalar === 'b' ? [] : r.dims;
          g.inputs = [
            { name: 'A', type: { dtype: 'float32', shape: aDims } },
            { name: 'B', type: { dtype: 'float32', shape: bDims } },
          ];
          g.nodes = [{ name: 'op', op: r.op, domain: '', inputs: ['A', 'B'], outputs: [r.act === 'none' ? 'Y' : 'T'], attrs: {} }];
          if (r.act === 'Relu') g.nodes.push({ name: 'act', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
          if (r.act === 'Clip') {
            g.initializers.set('lo', new Tensor('float32', Float32Array.of(-0.5), []));
            g.initializers.set('hi', new Tensor('float32', Float32Array.of(0.75), []));
            g.nodes.push({ name: 'act', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
          }
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const feeds = {
            A: new Tensor('float32', values(r.scalar === 'a' ? 1 : n, seed), aDims),
            B: new Tensor('float32', values(r.scalar === 'b' ? 1 : n, seed ^ 0x5bd1e995), bDims),
          };
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_binary');
          if (r.act !== 'none') expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
          const got = fast.run(feeds).Y!.data as Float32Array;
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!.data as Float32Array;
          fast.dispose();
          expect(got.length).toBe(n);
          // compare bit patterns (NaN == NaN, −0 ≠ +0) except that a clamp may turn −0 into +0 or pick either NaN
          for (let i = 0; i < n; i++) {
            if (Number.isNaN(want[i]!)) expect(got[i]).toBeNaN();
            else expect(Object.is(got[i], want[i]) || (r.act !== 'none' && got[i] === want[i])).toBe(true);
          }
        },
      ),
      { numRuns: 300, seed: 21 },
    );
  });

  it('falls back to the reference for other broadcasts (per-channel bias shapes)', () => {
    const g = new Graph();
    g.inputs = [
      { name: 'A', type: { dtype: 'float32', shape: [1, 3, 2, 2] } },
      { name: 'B', type: { dtype: 'float32', shape: [3, 1, 1] } },
    ];
    g.nodes = [{ name: 'add', op: 'Add', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} }];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const a = new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => i), [1, 3, 2, 2]);
    const b = new Tensor('float32', Float32Array.of(100, 200, 300), [3, 1, 1]);
    const y = new Executor(g).run({ A: a, B: b }).Y!.data as Float32Array;
    expect(Array.from(y)).toEqual([100, 101, 102, 103, 204, 205, 206, 207, 308, 309, 310, 311]);
  });

  it('does not fold a Relu when the shapes could need the reference at run time (symbolic dims)', () => {
    const g = new Graph();
    g.inputs = [
      { name: 'A', type: { dtype: 'float32', shape: ['N', 3] } },
      { name: 'B', type: { dtype: 'float32', shape: [3] } },
    ];
    g.nodes = [
      { name: 'sub', op: 'Sub', domain: '', inputs: ['A', 'B'], outputs: ['T'], attrs: {} },
      { name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} },
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    expect(ex.fusedInto.size).toBe(0);
    const y = ex.run({ A: new Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]), B: new Tensor('float32', Float32Array.of(2, 2, 2), [3]) }).Y!.data;
    expect(Array.from(y as Float32Array)).toEqual([0, 0, 1, 2, 3, 4]);
  });
});
