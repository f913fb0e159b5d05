// WASM elementwise Add/Sub/Mul/Div (f32_binary) against the TS reference ops, bit for bit.
// ONNX Add/Sub/Mul/Div: "Performs element-wise binary … (with Numpy-style broadcasting support)"; float32 results
// are IEEE single operations, so the kernel and the reference must agree exactly, NaN and infinities included.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { broadcastPlan } from '../../src/kernels/eltwise.js';

const specials = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-40, 3.4e38];

function values(n: number, seed: number): Float32Array {
  let q = seed;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    return q % 17 === 0 ? specials[q % specials.length]! : q / 2 ** 31 - 1;
  });
}

describe('WASM elementwise binary ops vs the TS reference', () => {
  it('agree bit for bit over broadcast shapes (size-1 and missing leading dims on either side) and fused Relu/Clip', () => {
    fc.assert(
      fc.property(
        fc.record({
          // ONNX Max / Min: "Element-wise max (min) of each of the input tensors (with Numpy-style broadcasting
          // support)" — two inputs on the kernel; NaN and which zero wins follow the reference's comparison
          op: fc.constantFrom('Add', 'Sub', 'Mul', 'Div', 'Max', 'Min'),
          dims: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 0, maxLength: 5 }),
          // per output dim: 0 = both have it, 1 = a broadcasts it (1), 2 = b broadcasts it
          mask: fc.array(fc.constantFrom(0, 0, 1, 2), { minLength: 5, maxLength: 5 }),
          dropA: fc.integer({ min: 0, max: 5 }),
          dropB: fc.integer({ min: 0, max: 5 }),
          act: fc.constantFrom('none', 'Relu', 'Clip'),
        }),
        fc.integer(),
        (r, seed) => {
          const out = r.dims;
          let aDims = out.map((d, i) => (r.mask[i] === 1 ? 1 : d));
          let bDims = out.map((d, i) => (r.mask[i] === 2 ? 1 : d));
          // drop leading dims (unidirectional rank extension), keeping at least the rank-0 scalar
          aDims = aDims.slice(Math.min(r.dropA, aDims.length));
          bDims = bDims.slice(Math.min(r.dropB, bDims.length));
          const outDims = out.map((d, i) => Math.max(i - (out.length - aDims.length) >= 0 ? aDims[i - (out.length - aDims.length)]! : 1, i - (out.length - bDims.length) >= 0 ? bDims[i - (out.length - bDims.length)]! : 1));
          const n = outDims.reduce((x, y) => x * y, 1);
          const g = new Graph();
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
          const size = (d: number[]) => d.reduce((x, y) => x * y, 1);
          const feeds = {
            A: new Tensor('float32', values(size(aDims), seed), aDims),
            B: new Tensor('float32', values(size(bDims), seed ^ 0x5bd1e995), bDims),
          };
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_binary');
          if (r.act !== 'none') expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
          const got = fast.run(feeds).Y!;
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!;
          fast.dispose();
          expect(got.dims).toEqual(want.dims);
          expect(got.size).toBe(n);
          const gd = got.data as Float32Array;
          const wd = want.data as Float32Array;
          // compare bit patterns (NaN == NaN, −0 ≠ +0) except that a clamp may turn −0 into +0
          for (let i = 0; i < n; i++) {
            if (Number.isNaN(wd[i]!)) expect(gd[i]).toBeNaN();
            else expect(Object.is(gd[i], wd[i]) || (r.act !== 'none' && gd[i] === wd[i])).toBe(true);
          }
        },
      ),
      { numRuns: 400, seed: 21 },
    );
  });

  // ONNX Max / Min by a scalar constant c (tf2onnx's tf.math.maximum(LeakyRelu(x), c) in openWakeWord's embedding
  // CNN): a clamp to [c, ∞) / (−∞, c] folded into the producing kernel — in its store, or after a folded activation
  // as a clamp step. "Element-wise max (min) of each of the input tensors": NaN propagates as the reference's
  // comparison does; a ±0 constant whose tie the clamp would break differently stays a node.
  it('Max / Min by a scalar constant fold into the producer (after a folded LeakyRelu too), bit for bit', () => {
    fc.assert(
      fc.property(
        fc.record({
          op: fc.constantFrom('Max', 'Min'),
          constFirst: fc.boolean(),
          c: fc.constantFrom(0, -0, 0.25, -0.5, 1, -Infinity),
          leaky: fc.boolean(),
          n: fc.integer({ min: 1, max: 23 }),
          rank0: fc.boolean(),
        }),
        fc.integer(),
        (r, seed) => {
          const g = new Graph();
          g.inputs = [
            { name: 'A', type: { dtype: 'float32', shape: [2, r.n] } },
            { name: 'B', type: { dtype: 'float32', shape: [2, r.n] } },
          ];
          g.initializers.set('c', new Tensor('float32', Float32Array.of(r.c), r.rank0 ? [] : [1, 1]));
          g.nodes = [{ name: 'add', op: 'Add', domain: '', inputs: ['A', 'B'], outputs: ['T'], attrs: {} }];
          if (r.leaky) g.nodes.push({ name: 'leaky', op: 'LeakyRelu', domain: '', inputs: ['T'], outputs: ['U'], attrs: { alpha: 0.2 } });
          const y = r.leaky ? 'U' : 'T';
          g.nodes.push({ name: 'bound', op: r.op, domain: '', inputs: r.constFirst ? ['c', y] : [y, 'c'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const feeds = { A: new Tensor('float32', values(2 * r.n, seed), [2, r.n]), B: new Tensor('float32', values(2 * r.n, seed ^ 0x2545f491), [2, r.n]) };
          const fast = new Executor(g);
          const tie = (r.op === 'Max') === !r.constFirst ? Object.is(r.c, -0) : Object.is(r.c, 0);
          expect(fast.fusedInto.has(g.nodes[g.nodes.length - 1]!)).toBe(!tie);
          const got = fast.run(feeds).Y!.data as Float32Array;
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!.data as Float32Array;
          fast.dispose();
          // the folded LeakyRelu multiplies in f32 lanes, the reference in f64 then rounds: an ulp apart (bit for bit
          // without it)
          for (let i = 0; i < want.length; i++) {
            if (Number.isNaN(want[i]!)) expect(got[i]).toBeNaN();
            else if (r.leaky && got[i] !== want[i]) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2.5e-7 * Math.abs(want[i]!));
            else expect(Object.is(got[i], want[i]), `[${i}] ${got[i]} vs ${want[i]}`).toBe(true);
          }
        },
      ),
      { numRuns: 300, seed: 33 },
    );
  });

  it('merges dims into long rows: same shape and scalars are one flat loop, a per-channel bias rows of H·W', () => {
    expect(broadcastPlan([2, 3, 4], [2, 3, 4], [2, 3, 4])).toEqual({ shape: [24], sa: [1], sb: [1] });
    expect(broadcastPlan([2, 3, 4], [], [2, 3, 4])).toEqual({ shape: [24], sa: [1], sb: [0] });
    expect(broadcastPlan([1, 8, 5, 5], [8, 1, 1], [1, 8, 5, 5])).toEqual({ shape: [8, 25], sa: [25, 1], sb: [1, 0] });
    expect(broadcastPlan([6, 10], [10], [6, 10])).toEqual({ shape: [6, 10], sa: [10, 1], sb: [0, 1] });
  });
});

// ONNX PRelu: "f(x) = slope * x for x < 0, f(x) = x for x >= 0", slope unidirectionally broadcastable to X (a
// per-channel slope is [C, 1, 1] on NCHW). One float multiply: bit-exact.
describe('WASM PRelu vs the TS reference', () => {
  it('agrees bit for bit with per-channel, scalar and full slopes', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 6 }), h: fc.integer({ min: 1, max: 6 }), w: fc.integer({ min: 1, max: 9 }), slope: fc.constantFrom('channel', 'scalar', 'full', 'row') }),
        fc.integer(),
        (r, seed) => {
          let q = seed;
          const rnd = () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1;
          const dims = [r.n, r.c, r.h, r.w];
          const sd = r.slope === 'channel' ? [r.c, 1, 1] : r.slope === 'scalar' ? [1] : r.slope === 'row' ? [r.w] : dims;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: dims } }];
          g.initializers.set('S', new Tensor('float32', Float32Array.from({ length: sd.reduce((a, b) => a * b, 1) }, rnd), sd));
          g.nodes = [{ name: 'p', op: 'PRelu', domain: '', inputs: ['X', 'S'], outputs: ['Y'], attrs: {} }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const x = new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, rnd), dims);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_binary');
          const got = fast.run({ X: x }).Y!.data as Float32Array;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
          fast.dispose();
          expect(Array.from(got)).toEqual(Array.from(want));
        },
      ),
      { numRuns: 200, seed: 43 },
    );
  });
});

// f32_binary_rows (a conv's residual Add over one thread's chunk: rows × pixels of a strided block): unclamped, each
// element is the TS reference's Add, IEEE single (NaN stays NaN); clamped, each row is what one f32_binary call over
// it gives (the fused Relu/Clip epilogue above); nothing between the rows (the stride's gap) is written.
describe('WASM f32_binary_rows vs the TS reference', () => {
  it('adds row segments of a strided block bit for bit, specials included, leaving the gaps alone', async () => {
    const { arena, kernels } = await import('../../src/kernels/wasm.js');
    const ex = kernels()!;
    const mem = arena()!;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 9 }), fc.boolean(), fc.integer(), (rows, n, gap, clamp, seed) => {
        const ld = n + gap;
        const size = rows * ld;
        const a = values(size, seed);
        const b = values(size, seed ^ 0x5bd1e995);
        const [lo, hi] = clamp ? [0, 6] : [-Infinity, Infinity];
        const pa = mem.alloc(size * 4 + 4, 'a');
        const pb = mem.alloc(size * 4 + 4, 'b');
        const pw = mem.alloc(size * 4 + 4, 'want');
        try {
          mem.f32(pa, size).set(a);
          mem.f32(pb, size).set(b);
          mem.f32(pw, size).set(a);
          for (let r = 0; r < rows; r++) ex.f32_binary(0, pw + r * ld * 4, 1, pb + r * ld * 4, 1, pw + r * ld * 4, n, lo, hi);
          ex.f32_binary_rows(0, rows, n, ld, pa, pb, pa, lo, hi);
          const got = new Uint32Array(Float32Array.from(mem.f32(pa, size)).buffer);
          const want = new Uint32Array(Float32Array.from(mem.f32(pw, size)).buffer);
          expect(got).toEqual(want);
          const out = mem.f32(pa, size);
          for (let i = 0; i < size; i++) {
            if (i % ld >= n) expect(Object.is(out[i], a[i]) || (Number.isNaN(out[i]!) && Number.isNaN(a[i]!))).toBe(true);
            else if (!clamp) {
              const y = Math.fround(a[i]! + b[i]!);
              expect(Object.is(out[i], y) || (Number.isNaN(out[i]!) && Number.isNaN(y))).toBe(true);
            }
          }
        } finally {
          for (const q of [pa, pb, pw]) mem.release(q);
        }
      }),
      { numRuns: 200 },
    );
  });
});
