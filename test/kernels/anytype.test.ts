// WASM Cast / Equal / Expand / integer Add·Sub·Mul on integer and bool tensors (src/kernels/anytype.ts, asm/x_layout.ts) against the TS
// reference, bit for bit (no float arithmetic beyond the int → float32 conversion, which rounds to nearest as the
// reference's Math.fround does).
// ONNX Cast: "The operator casts the elements of a given input tensor to a data type specified by the 'to' argument";
// Equal: "Returns the tensor resulted from performing the equal logical operation elementwise on the input tensors
// A and B (with Numpy-style broadcasting support)"; Expand: "Broadcast the input tensor following the given shape
// and the broadcast rule … Dimensions are right alignment".
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ortRun } from '../helpers/ort-oracle.js';

const ONNX: Record<string, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9 };

function values(t: DType, n: number, rnd: () => number): Tensor['data'] {
  const v = Array.from({ length: n }, () => Math.floor(rnd() * 7) - 3);
  if (t === 'int64') return BigInt64Array.from(v.map((x) => BigInt(x * 1e12 + x)));
  if (t === 'int32') return Int32Array.from(v.map((x) => x * 123457));
  if (t === 'int8') return Int8Array.from(v);
  if (t === 'int16') return Int16Array.from(v.map((x) => x * 1001));
  if (t === 'float32') return Float32Array.from(v.map((x) => (x === 3 ? NaN : x / 2)));
  return Uint8Array.from(v.map((x) => (t === 'bool' ? (x > 0 ? 1 : 0) : x + 3)));
}

function check(g: Graph, feeds: Record<string, Tensor>, kernel: string): void {
  const fast = new Executor(g);
  expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(kernel);
  const got = fast.run(feeds).Y as Tensor;
  fast.dispose();
  const want = new Executor(g, { backend: 'reference' }).run(feeds).Y as Tensor;
  expect(got.type).toBe(want.type);
  expect(got.dims).toEqual(want.dims);
  expect(Array.from(got.data as ArrayLike<unknown>)).toEqual(Array.from(want.data as ArrayLike<unknown>));
}

/** int64 / int32 values whose sums and products overflow (the results must wrap as two's complement) */
function wide(t: 'int64' | 'int32', n: number, rnd: () => number): BigInt64Array | Int32Array {
  const v = Array.from({ length: n }, () => (rnd() - 0.5) * 2);
  if (t === 'int64') return BigInt64Array.from(v.map((x) => BigInt(Math.trunc(x * 2 ** 52)) * 1025n));
  return Int32Array.from(v.map((x) => Math.trunc(x * 2 ** 31)));
}

/** A, B (each fed, or a one-element / full constant) → op → Y */
function arithGraph(op: string, t: DType, ad: number[], bd: number[], constB?: Tensor): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'A', type: { dtype: t, shape: ad } }];
  if (constB) g.initializers.set('B', constB);
  else g.inputs.push({ name: 'B', type: { dtype: t, shape: bd } });
  g.nodes = [{ name: 'e', op, domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} }];
  g.outputs = [{ name: 'Y', type: { dtype: t } }];
  return g;
}

const rng = (seed: number) => {
  let q = seed >>> 0 || 1;
  return () => (q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 32;
};

describe('WASM Cast / Equal / Expand on any element type vs the TS reference', () => {
  it('Cast int64/int32/int8/uint8/bool → float32 and same-type casts', () => {
    fc.assert(
      fc.property(fc.constantFrom<DType>('int64', 'int32', 'int8', 'uint8', 'bool'), fc.boolean(), fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 3 }), fc.integer(), (t, same, dims, seed) => {
        const g = new Graph();
        g.inputs = [{ name: 'X', type: { dtype: t, shape: dims } }];
        g.nodes = [{ name: 'c', op: 'Cast', domain: '', inputs: ['X'], outputs: ['Y'], attrs: { to: same ? ONNX[t]! : 1 } }];
        g.outputs = [{ name: 'Y', type: { dtype: same ? t : 'float32' } }];
        const n = dims.reduce((a, b) => a * b, 1);
        check(g, { X: new Tensor(t, values(t, n, rng(seed)) as never, dims) }, same ? 'view' : 'x_cast_f32');
      }),
      { numRuns: 150, seed: 31 },
    );
  });

  // ONNX Cast: "casting from a float to float16 … the result rounds to the nearest representable value (ties to
  // even)"; overflow gives ±Inf, NaN stays NaN. Random bit patterns (every exponent: subnormals, Inf, NaN) plus
  // exact halfway ties and the float16 → float32 direction, which is exact.
  it('Cast float32 → float16 and float16 → float32, bit for bit', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 3 }), fc.integer(), (toHalf, dims, seed) => {
        const rnd = rng(seed);
        const n = dims.reduce((a, b) => a * b, 1);
        const g = new Graph();
        const from: DType = toHalf ? 'float32' : 'float16';
        g.inputs = [{ name: 'X', type: { dtype: from, shape: dims } }];
        g.nodes = [{ name: 'c', op: 'Cast', domain: '', inputs: ['X'], outputs: ['Y'], attrs: { to: toHalf ? 10 : 1 } }];
        g.outputs = [{ name: 'Y', type: { dtype: toHalf ? 'float16' : 'float32' } }];
        let x: Tensor;
        if (toHalf) {
          const u = Uint32Array.from({ length: n }, (_, i) => {
            const r = (rnd() * 2 ** 32) >>> 0;
            // every third value a tie: a half's mantissa bits then exactly the halfway point below
            return i % 3 === 0 ? ((r & 0xffffe000) | 0x1000) >>> 0 : r;
          });
          x = new Tensor('float32', new Float32Array(u.buffer), dims);
        } else x = new Tensor('float16', Uint16Array.from({ length: n }, () => (rnd() * 65536) >>> 0), dims);
        check(g, { X: x }, toHalf ? 'f32_to_f16' : 'f16_to_f32');
      }),
      { numRuns: 200, seed: 37 },
    );
  });

  it('Equal with a one-element or same-shape operand (NaN ≠ NaN for float32)', () => {
    fc.assert(
      fc.property(fc.constantFrom<DType>('int64', 'int32', 'float32', 'bool', 'int8', 'uint8'), fc.constantFrom('same', 'scalarB', 'scalarA'), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), fc.integer(), (t, mode, dims, seed) => {
        const rnd = rng(seed);
        const n = dims.reduce((a, b) => a * b, 1);
        const ad = mode === 'scalarA' ? [] : dims;
        const bd = mode === 'scalarB' ? [] : dims;
        const g = new Graph();
        g.inputs = [{ name: 'A', type: { dtype: t, shape: ad } }, { name: 'B', type: { dtype: t, shape: bd } }];
        g.nodes = [{ name: 'e', op: 'Equal', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} }];
        g.outputs = [{ name: 'Y', type: { dtype: 'bool' } }];
        check(g, { A: new Tensor(t, values(t, ad.length ? n : 1, rnd) as never, ad), B: new Tensor(t, values(t, bd.length ? n : 1, rnd) as never, bd) }, 'x_equal');
      }),
      { numRuns: 150, seed: 32 },
    );
  });

  // ONNX Greater / GreaterOrEqual / Less / LessOrEqual: "Returns the tensor resulted from performing the greater
  // (greater_equal, less, less_equal) logical operation elementwise on the input tensors A and B (with Numpy-style
  // broadcasting support)"; comparisons with NaN are false.
  it('Greater / GreaterOrEqual / Less / LessOrEqual on float32 with a one-element or same-shape operand (NaN compares false)', () => {
    fc.assert(
      fc.property(fc.constantFrom('Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual'), fc.constantFrom('same', 'scalarB', 'scalarA'), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), fc.integer(), (op, mode, dims, seed) => {
        const rnd = rng(seed);
        const n = dims.reduce((a, b) => a * b, 1);
        const ad = mode === 'scalarA' ? [] : dims;
        const bd = mode === 'scalarB' ? [] : dims;
        const g = new Graph();
        g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: ad } }, { name: 'B', type: { dtype: 'float32', shape: bd } }];
        g.nodes = [{ name: 'e', op, domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} }];
        g.outputs = [{ name: 'Y', type: { dtype: 'bool' } }];
        check(g, { A: new Tensor('float32', values('float32', ad.length ? n : 1, rnd) as never, ad), B: new Tensor('float32', values('float32', bd.length ? n : 1, rnd) as never, bd) }, 'f32_compare');
      }),
      { numRuns: 200, seed: 33 },
    );
  });

  it('Expand of 1-, 2-, 4- and 8-byte elements over right-aligned broadcasts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<DType>('int64', 'int32', 'float32', 'bool', 'int8', 'int16'),
        fc.array(fc.record({ out: fc.integer({ min: 1, max: 5 }), one: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        fc.nat(3),
        fc.integer(),
        (t, ax, drop, seed) => {
          const out = ax.map((a) => a.out);
          const xd = ax.map((a) => (a.one ? 1 : a.out)).slice(Math.min(drop, ax.length - 1));
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: t, shape: xd } }];
          g.initializers.set('S', new Tensor('int64', BigInt64Array.from(out.map(BigInt)), [out.length]));
          g.nodes = [{ name: 'x', op: 'Expand', domain: '', inputs: ['X', 'S'], outputs: ['Y'], attrs: {} }];
          g.outputs = [{ name: 'Y', type: { dtype: t } }];
          check(g, { X: new Tensor(t, values(t, xd.reduce((a, b) => a * b, 1), rng(seed)) as never, xd) }, 'x_expand');
        },
      ),
      { numRuns: 200, seed: 33 },
    );
  });
  // ONNX Add / Sub / Mul: "Performs element-wise binary addition (subtraction, multiplication) (with Numpy-style
  // broadcasting support)" for int32 / int64 too; integer results wrap (two's complement, as onnxruntime's do).
  it('integer Add / Sub / Mul (i64_arith / i32_arith): wrapping results, a one-element or same-shape operand', () => {
    fc.assert(
      fc.property(fc.constantFrom('Add', 'Sub', 'Mul'), fc.constantFrom<'int64' | 'int32'>('int64', 'int32'), fc.constantFrom('same', 'scalarB', 'scalarA'), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), fc.integer(), (op, t, mode, dims, seed) => {
        const rnd = rng(seed);
        const n = dims.reduce((a, b) => a * b, 1);
        const ad = mode === 'scalarA' ? [] : dims;
        const bd = mode === 'scalarB' ? [] : dims;
        const A = new Tensor(t, wide(t, ad.length ? n : 1, rnd) as never, ad);
        const B = new Tensor(t, wide(t, bd.length ? n : 1, rnd) as never, bd);
        check(arithGraph(op, t, ad, bd), { A, B }, t === 'int64' ? 'i64_arith' : 'i32_arith');
      }),
      { numRuns: 150, seed: 34 },
    );
  });

  it('integer Add / Sub / Mul match onnxruntime-node, and a fed int64 through Mul → Cast → Add stays on the static plan', async () => {
    const rnd = rng(35);
    for (const op of ['Add', 'Sub', 'Mul'])
      for (const t of ['int64', 'int32'] as const) {
        const A = new Tensor(t, wide(t, 12, rnd) as never, [3, 4]);
        const B = new Tensor(t, wide(t, 1, rnd) as never, []);
        const g = arithGraph(op, t, [3, 4], [], B);
        const ex = new Executor(g);
        try {
          const got = ex.run({ A }).Y as Tensor;
          expect(ex.kernels.get(g.nodes[0]!)?.name).toBe(t === 'int64' ? 'i64_arith' : 'i32_arith');
          const want = (await ortRun(g, { A })).Y as unknown as ArrayLike<unknown>;
          expect(Array.from(got.data as ArrayLike<unknown>)).toEqual(Array.from(want));
        } finally {
          ex.dispose();
        }
      }
    // silero VAD (16k, opset 15): stateN = LSTM state + Cast(sr · 0) — the int64 Mul of a fed scalar took the plan
    // off the static path ('/Mul runs on the reference')
    const g = new Graph();
    g.opsets = { '': 15 };
    g.inputs = [{ name: 'sr', type: { dtype: 'int64', shape: [] } }, { name: 'x', type: { dtype: 'float32', shape: [2, 3] } }];
    g.initializers.set('zero', new Tensor('int64', BigInt64Array.of(0n), []));
    g.nodes = [
      { name: 'mul', op: 'Mul', domain: '', inputs: ['sr', 'zero'], outputs: ['m'], attrs: {} },
      { name: 'cast', op: 'Cast', domain: '', inputs: ['m'], outputs: ['mf'], attrs: { to: 1 } },
      { name: 'add', op: 'Add', domain: '', inputs: ['x', 'mf'], outputs: ['Y'], attrs: {} },
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    try {
      for (const sr of [16000n, 8000n]) {
        const feeds = { sr: new Tensor('int64', BigInt64Array.of(sr), []), x: new Tensor('float32', Float32Array.from([1, -2, 3.5, 0.25, -0, 7]), [2, 3]) };
        const got = ex.run(feeds).Y as Tensor;
        expect(Array.from(got.data as Float32Array)).toEqual(Array.from((await ortRun(g, feeds)).Y!));
      }
      expect(ex.staticPlanStatus()).toEqual({ static: true });
    } finally {
      ex.dispose();
    }
  });
});
