// TFLite builtins mapped onto IR ops (src/formats/tflite/builtins.ts): one-op models built with the test
// builder, run through the session, checked against TS expectations written from the TFLite kernels' rules
// (quoted beside each check), over random shapes where shapes matter.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelFormatError, UnsupportedOpError } from '../../../src/errors.js';
import { TFLITE_ENUMS, TFLITE_UNIONS } from '../../../src/formats/tflite/generated/tflite-schema.js';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import type { DType } from '../../../src/tensor/dtype.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { buildTflite, type OneOpSpec, type OptionField, oneOpTflite } from '../../helpers/tflite-builder.js';

const OP = TFLITE_ENUMS.BuiltinOperator;
const OPT = TFLITE_UNIONS.BuiltinOptions;
const F32 = 0, I32 = 2, I64 = 4, BOOL = 6;
const DT: Record<number, DType> = { [F32]: 'float32', [I32]: 'int32', [I64]: 'int64', [BOOL]: 'bool' };

type Arr = Float32Array | Int32Array | Uint8Array | BigInt64Array;
interface In {
  shape: number[];
  type?: number;
  data: Arr;
  /** a constant of the model (else a graph input fed with `data`) */
  c?: boolean;
}
interface Out {
  shape: number[];
  type?: number;
}

const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
const f32 = (v: ArrayLike<number>) => Float32Array.from(v);
const i32 = (v: ArrayLike<number>) => Int32Array.from(v);

/** One-op model over `ins` (then `outs`) run once; the outputs in order. */
async function run(opcode: number, ins: In[], outs: Out[], options?: { type: number; fields: OptionField[] }): Promise<Tensor[]> {
  const spec: OneOpSpec = {
    tensors: [...ins.map((t) => ({ shape: t.shape, type: t.type ?? F32, ...(t.c ? { data: t.data } : {}) })), ...outs.map((o) => ({ shape: o.shape, type: o.type ?? F32 }))],
    opcode,
    inputs: ins.map((_, k) => k),
    outputs: outs.map((_, k) => ins.length + k),
    ...(options ? { options } : {}),
  };
  const s = await InferenceSession.create(oneOpTflite(spec));
  const feeds: Record<string, Tensor> = {};
  ins.forEach((t, k) => !t.c && (feeds[`t${k}`] = new Tensor(DT[t.type ?? F32]!, t.data as never, t.shape)));
  const r = s.runSync(feeds);
  return outs.map((_, k) => r[`t${ins.length + k}`]!);
}

/** Row-major strides. */
const strides = (d: number[]) => d.map((_, i) => size(d.slice(i + 1)));
/** Multi-index of flat offset `o` in dims `d`. */
const unravel = (o: number, d: number[]) => d.map((n, i) => Math.floor(o / strides(d)[i]!) % n);

/** NumPy broadcasting (TFLite's BroadcastBinary / ONNX multidirectional): out shape and f over both inputs. */
function bcast(a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[], f: (x: number, y: number) => number): { shape: number[]; data: number[] } {
  const r = Math.max(as.length, bs.length);
  const pa = [...new Array(r - as.length).fill(1), ...as], pb = [...new Array(r - bs.length).fill(1), ...bs];
  const shape = pa.map((d, i) => Math.max(d, pb[i]!));
  const sa = strides(pa), sb = strides(pb);
  const data = Array.from({ length: size(shape) }, (_, o) => {
    const ix = unravel(o, shape);
    return f(a[ix.reduce((s, v, i) => s + (pa[i] === 1 ? 0 : v * sa[i]!), 0)]!, b[ix.reduce((s, v, i) => s + (pb[i] === 1 ? 0 : v * sb[i]!), 0)]!);
  });
  return { shape, data };
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = Number(got[i]), w = Number(want[i]);
    if (tol === 0) expect(Object.is(g, w) || g === w, `${what}[${i}]: ${g} ≠ ${w}`).toBe(true);
    else expect(Math.abs(g - w), `${what}[${i}]: ${g} vs ${w}`).toBeLessThanOrEqual(tol * (1 + Math.abs(w)));
  }
}

const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 });
const valuesArb = (n: number, lo = -4, hi = 4) => fc.array(fc.float({ min: Math.fround(lo), max: Math.fround(hi), noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n });
/** a shape and a second one broadcastable against it (a suffix with some dims set to 1) */
const pairArb = shapeArb.chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: 0, max: a.length }), fc.array(fc.boolean(), { minLength: a.length, maxLength: a.length })).map(([s, k, ones]) => [s, s.slice(k).map((d, i) => (ones[k + i] ? 1 : d))] as const));

/** round.cc RoundToNearest: halves go to the even neighbour */
const roundHalfEven = (x: number) => {
  const f = Math.floor(x), d = x - f;
  return d < 0.5 || (d === 0.5 && f % 2 === 0) ? f : f + 1;
};
const erf = (x: number) => {
  // Abramowitz–Stegun 7.1.26 is too coarse for 1e-6: integrate the series instead
  let s = 0, t = x, n = 0;
  while (Math.abs(t) > 1e-17 * Math.abs(s) && n < 200) {
    s += t / (2 * n + 1);
    n++;
    t = (-t * x * x) / n;
  }
  return (2 / Math.sqrt(Math.PI)) * s;
};

describe('TFLite elementwise builtins (float) = the kernels’ formulas', () => {
  // [builtin, f, tolerance (0 = bit exact in float32), domain]
  const UNARY: [keyof typeof OP, (x: number) => number, number, 'any' | 'pos'][] = [
    ['ABS', Math.abs, 0, 'any'],
    ['NEG', (x) => -x, 0, 'any'],
    // sqrt.cc / rsqrt.cc: std::sqrt(x), 1.f / std::sqrt(x) (each step rounded to float)
    ['SQRT', (x) => Math.fround(Math.sqrt(x)), 0, 'pos'],
    ['RSQRT', (x) => Math.fround(1 / Math.fround(Math.sqrt(x))), 0, 'pos'],
    // square.cc: x * x
    ['SQUARE', (x) => Math.fround(x * x), 0, 'any'],
    ['FLOOR', Math.floor, 0, 'any'],
    ['CEIL', Math.ceil, 0, 'any'],
    ['ROUND', roundHalfEven, 0, 'any'],
    ['EXP', Math.exp, 1e-6, 'any'],
    ['LOG', Math.log, 1e-6, 'pos'],
    ['SIN', Math.sin, 1e-6, 'any'],
    ['COS', Math.cos, 1e-6, 'any'],
    // elu.cc: x < 0 ? exp(x) - 1 : x
    ['ELU', (x) => (x < 0 ? Math.expm1(x) : x), 1e-6, 'any'],
  ];
  for (const [name, f, tol, dom] of UNARY)
    it(`${name}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          shapeArb.chain((s) => fc.tuple(fc.constant(s), valuesArb(size(s)))),
          async ([shape, v]) => {
            // ROUND sees exact halves too (its one rule that matters)
            const x = f32(v.map((a) => (dom === 'pos' ? Math.abs(a) + 0.125 : name === 'ROUND' ? Math.round(a * 4) / 2 : a)));
            const [y] = await run(OP[name], [{ shape, data: x }], [{ shape }]);
            expect(y!.dims).toEqual(shape);
            close(y!.data as Float32Array, Array.from(x, (a) => Math.fround(f(a))), tol, name);
          },
        ),
        { numRuns: 12 },
      );
    });

  it('GELU: approximate = false → 0.5·x·(1 + erf(x/√2)); true → the tanh form (gelu.cc)', async () => {
    const x = f32([-3, -1.5, -0.25, 0, 0.3, 1, 2.5]);
    for (const approx of [0, 1]) {
      const [y] = await run(OP.GELU, [{ shape: [7], data: x }], [{ shape: [7] }], { type: OPT.GeluOptions, fields: [[0, 'bool', approx]] });
      const want = Array.from(x, (v) => (approx ? 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))) : 0.5 * v * (1 + erf(v / Math.SQRT2))));
      close(y!.data as Float32Array, want, 1e-6, `GELU approximate=${approx}`);
    }
  });

  it('LOG_SOFTMAX over the last axis: x - max - log Σ exp(x - max) (log_softmax.cc)', async () => {
    const x = f32([1, 2, 3, -1, 0, 50]);
    const [y] = await run(OP.LOG_SOFTMAX, [{ shape: [2, 3], data: x }], [{ shape: [2, 3] }]);
    const want: number[] = [];
    for (let r = 0; r < 2; r++) {
      const row = Array.from(x.subarray(3 * r, 3 * r + 3));
      const m = Math.max(...row);
      const l = Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      want.push(...row.map((v) => v - m - l));
    }
    close(y!.data as Float32Array, want, 1e-6, 'LOG_SOFTMAX');
  });

  // [builtin, f, tolerance, positive-only y?]
  const BINARY: [keyof typeof OP, (x: number, y: number) => number, number, boolean][] = [
    // maximum_minimum.cc: el1 > el2 ? el1 : el2 (and <)
    ['MAXIMUM', (x, y) => (x > y ? x : y), 0, false],
    ['MINIMUM', (x, y) => (x < y ? x : y), 0, false],
    ['DIV', (x, y) => Math.fround(x / y), 0, true],
    // squared_difference.cc: (x - y) * (x - y)
    ['SQUARED_DIFFERENCE', (x, y) => Math.fround(Math.fround(x - y) ** 2), 0, false],
    // floor_div.cc (float): std::floor(x / y)
    ['FLOOR_DIV', (x, y) => Math.floor(Math.fround(x / y)), 0, true],
    ['POW', (x, y) => Math.pow(x, y), 1e-5, true],
  ];
  for (const [name, f, tol, pos] of BINARY)
    it(`${name} with broadcasting`, async () => {
      await fc.assert(
        fc.asyncProperty(
          pairArb.chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), valuesArb(size(a)), valuesArb(size(b)), fc.boolean())),
          async ([as, bs, av, bv, swap]) => {
            const fix = (v: number[], p: boolean) => f32(v.map((a) => (p ? Math.abs(a) + 0.5 : a)));
            // POW: positive bases (a negative base with a fractional exponent is NaN in both)
            let A = { shape: as, data: fix(av, name === 'POW') }, B = { shape: [...bs], data: fix(bv, pos) };
            if (swap && name !== 'POW' && !pos) [A, B] = [B, A];
            const want = bcast(A.data, A.shape, B.data, B.shape, (x, y) => Math.fround(f(x, y)));
            const [y] = await run(OP[name], [A, B], [{ shape: want.shape }]);
            expect(y!.dims).toEqual(want.shape);
            close(y!.data as Float32Array, want.data, tol, name);
          },
        ),
        { numRuns: 12 },
      );
    });

  it('FLOOR_MOD: r = x % y; r != 0 and (y < 0) != (r < 0) → r + y; FLOOR_DIV: floor(x / y) — int32 and float (floor_mod.cc, floor_div.cc)', async () => {
    const xs = [7, -7, 7, -7, 6, -6, 0, 5, -1, 2147483647, -2147483648];
    const ys = [3, 3, -3, -3, 3, -4, 5, 7, 2, -2, 3];
    const n = xs.length;
    for (const t of [I32, F32]) {
      const mk = (v: number[]) => ({ shape: [n], type: t, data: t === I32 ? i32(v) : f32(v) });
      const x = mk(xs).data, y = mk(ys).data;
      const [m] = await run(OP.FLOOR_MOD, [mk(xs), mk(ys)], [{ shape: [n], type: t }]);
      const [d] = await run(OP.FLOOR_DIV, [mk(xs), mk(ys)], [{ shape: [n], type: t }]);
      const wantMod = Array.from(x, (a, i) => {
        const r = t === I32 ? a % y[i]! : Math.fround(a % y[i]!);
        return r !== 0 && y[i]! < 0 !== r < 0 ? Math.fround(r + y[i]!) : r;
      });
      const wantDiv = Array.from(x, (a, i) => (t === I32 ? Math.floor(a / y[i]!) : Math.floor(Math.fround(a / y[i]!))));
      expect(Array.from(m!.data as Float32Array), `FLOOR_MOD ${DT[t]}`).toEqual(wantMod.map((v) => v + 0));
      expect(Array.from(d!.data as Float32Array), `FLOOR_DIV ${DT[t]}`).toEqual(wantDiv.map((v) => v + 0));
    }
  });

  it('FLOOR_MOD / FLOOR_DIV on other types are refused with UnsupportedOpError', () => {
    const m = (op: number, t: number) => oneOpTflite({ tensors: [{ shape: [2], type: t }, { shape: [2], type: t }, { shape: [2], type: t }], opcode: op, inputs: [0, 1], outputs: [2] });
    expect(() => readTflite(m(OP.FLOOR_MOD, 7))).toThrow(UnsupportedOpError);
    expect(() => readTflite(m(OP.FLOOR_DIV, 7))).toThrow(UnsupportedOpError);
  });

  it('comparisons and logical ops (bool outputs, broadcasting)', async () => {
    const CMP: [keyof typeof OP, (x: number, y: number) => boolean][] = [
      ['EQUAL', (x, y) => x === y],
      ['NOT_EQUAL', (x, y) => x !== y],
      ['LESS', (x, y) => x < y],
      ['LESS_EQUAL', (x, y) => x <= y],
      ['GREATER', (x, y) => x > y],
      ['GREATER_EQUAL', (x, y) => x >= y],
    ];
    const a = f32([1, 2, 3, 2, 2, 0]), b = f32([2, 2, 1]);
    for (const [name, f] of CMP) {
      const want = bcast(a, [2, 3], b, [3], (x, y) => (f(x, y) ? 1 : 0));
      const [y] = await run(OP[name], [{ shape: [2, 3], data: a }, { shape: [3], data: b }], [{ shape: [2, 3], type: BOOL }]);
      expect(y!.type, name).toBe('bool');
      expect(Array.from(y!.data as Uint8Array), name).toEqual(want.data);
    }
    const p = Uint8Array.of(0, 1, 0, 1), q = Uint8Array.of(0, 0, 1, 1);
    const bool = (data: Uint8Array) => ({ shape: [4], type: BOOL, data });
    const [and] = await run(OP.LOGICAL_AND, [bool(p), bool(q)], [{ shape: [4], type: BOOL }]);
    const [or] = await run(OP.LOGICAL_OR, [bool(p), bool(q)], [{ shape: [4], type: BOOL }]);
    const [not] = await run(OP.LOGICAL_NOT, [bool(p)], [{ shape: [4], type: BOOL }]);
    expect(Array.from(and!.data as Uint8Array)).toEqual([0, 0, 0, 1]);
    expect(Array.from(or!.data as Uint8Array)).toEqual([0, 1, 1, 1]);
    expect(Array.from(not!.data as Uint8Array)).toEqual([1, 0, 1, 0]);
  });

  it('quantized inputs to a float math op are refused; MAXIMUM on int8 with one scale/zero point is a raw max', async () => {
    const q = { shape: [4], type: 9, q: [0.5, 3] as [number, number] };
    expect(() => readTflite(oneOpTflite({ tensors: [q, q], opcode: OP.RSQRT, inputs: [0], outputs: [1] }))).toThrow(UnsupportedOpError);
    const s = await InferenceSession.create(oneOpTflite({ tensors: [q, q, q], opcode: OP.MAXIMUM, inputs: [0, 1], outputs: [2] }));
    const y = s.runSync({ t0: new Tensor('int8', Int8Array.of(-5, 7, 0, 3), [4]), t1: new Tensor('int8', Int8Array.of(1, -2, 0, 9), [4]) }).t2!;
    expect(Array.from(y.data as Int8Array)).toEqual([1, 7, 0, 9]);
    expect(() => readTflite(oneOpTflite({ tensors: [q, { ...q, q: [0.25, 3] }, q], opcode: OP.MAXIMUM, inputs: [0, 1], outputs: [2] }))).toThrow(/different quantization/);
  });
});

describe('TFLite shape / data-movement builtins', () => {
  const iota = (n: number) => f32(Array.from({ length: n }, (_, i) => i + 1));

  it('EXPAND_DIMS: "axis < 0 → axis + rank + 1" (expand_dims.cc), every axis of ranks 0..4', async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb.chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length - 1, max: s.length }))), async ([shape, axis]) => {
        const a = axis < 0 ? axis + shape.length + 1 : axis;
        const want = [...shape.slice(0, a), 1, ...shape.slice(a)];
        const x = iota(size(shape));
        const [y] = await run(OP.EXPAND_DIMS, [{ shape, data: x }, { shape: [], type: I32, data: i32([axis]), c: true }], [{ shape: want }]);
        expect(y!.dims).toEqual(want);
        expect(Array.from(y!.data as Float32Array)).toEqual(Array.from(x));
      }),
      { numRuns: 15 },
    );
    const bad = oneOpTflite({ tensors: [{ shape: [2] }, { shape: [], type: I32, data: i32([3]) }, { shape: [2, 1] }], opcode: OP.EXPAND_DIMS, inputs: [0, 1], outputs: [2] });
    expect(() => readTflite(bad)).toThrow(ModelFormatError);
  });

  it('GATHER along any axis (negative axes counted from the end); batch_dims ≠ 0 is refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 }), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }))),
        async ([shape, axis, raw]) => {
          const a = axis < 0 ? axis + shape.length : axis;
          const idx = raw.map((v) => v % shape[a]!);
          const x = iota(size(shape));
          const outShape = [...shape.slice(0, a), idx.length, ...shape.slice(a + 1)];
          // gather.cc: out[o, j, i] = params[o, indices[j], i]
          const outer = size(shape.slice(0, a)), inner = size(shape.slice(a + 1));
          const want: number[] = [];
          for (let o = 0; o < outer; o++) for (const j of idx) for (let i = 0; i < inner; i++) want.push(x[(o * shape[a]! + j) * inner + i]!);
          const [y] = await run(OP.GATHER, [{ shape, data: x }, { shape: [idx.length], type: I32, data: i32(idx) }], [{ shape: outShape }], { type: OPT.GatherOptions, fields: [[0, 'i32', axis]] });
          expect(y!.dims).toEqual(outShape);
          expect(Array.from(y!.data as Float32Array)).toEqual(want);
        },
      ),
      { numRuns: 15 },
    );
    const bd = oneOpTflite({ tensors: [{ shape: [2, 3] }, { shape: [2, 1], type: I32 }, { shape: [2, 1] }], opcode: OP.GATHER, inputs: [0, 1], outputs: [2], options: { type: OPT.GatherOptions, fields: [[0, 'i32', 1], [1, 'i32', 1]] } });
    expect(() => readTflite(bd)).toThrow(UnsupportedOpError);
  });

  it('SLICE: begin + size, "size[i] = -1: all remaining elements in dimension i" (slice.cc)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).chain((s) => fc.tuple(fc.constant(s), fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: -1, max: d - b }))))))),
        async ([shape, bs]) => {
          const begin = bs.map(([b]) => b), sz = bs.map(([b, n], i) => (n === -1 ? shape[i]! - b : n));
          const x = iota(size(shape));
          const want: number[] = [];
          for (let o = 0; o < size(sz); o++) {
            const ix = unravel(o, sz);
            want.push(x[ix.reduce((s, v, i) => s + (v + begin[i]!) * strides(shape)[i]!, 0)]!);
          }
          const [y] = await run(OP.SLICE, [{ shape, data: x }, { shape: [shape.length], type: I32, data: i32(begin), c: true }, { shape: [shape.length], type: I32, data: i32(bs.map(([, n]) => n)), c: true }], [{ shape: sz }]);
          expect(y!.dims).toEqual(sz);
          expect(Array.from(y!.data as Float32Array)).toEqual(want);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('PACK stacks along a new axis (axis < 0 → + rank + 1); UNPACK is its inverse', async () => {
    const a = iota(6), b = f32(Array.from(a, (v) => -v));
    for (const axis of [0, 1, 2, -1, -3]) {
      const ax = axis < 0 ? axis + 3 : axis;
      const outShape = [2, 3];
      outShape.splice(ax, 0, 2);
      const [y] = await run(OP.PACK, [{ shape: [2, 3], data: a }, { shape: [2, 3], data: b }], [{ shape: outShape }], { type: OPT.PackOptions, fields: [[0, 'i32', 2], [1, 'i32', axis]] });
      expect(y!.dims).toEqual(outShape);
      // pack.cc: out[…, k, …] = input k
      const want = Array.from({ length: 12 }, (_, o) => {
        const ix = unravel(o, outShape);
        const k = ix.splice(ax, 1)[0]!;
        return (k ? b : a)[ix[0]! * 3 + ix[1]!]!;
      });
      expect(Array.from(y!.data as Float32Array), `PACK axis ${axis}`).toEqual(want);
      const parts = await run(OP.UNPACK, [{ shape: outShape, data: y!.data as Float32Array }], [{ shape: [2, 3] }, { shape: [2, 3] }], { type: OPT.UnpackOptions, fields: [[0, 'i32', 2], [1, 'i32', axis]] });
      expect(Array.from(parts[0]!.data as Float32Array), `UNPACK axis ${axis}`).toEqual(Array.from(a));
      expect(Array.from(parts[1]!.data as Float32Array)).toEqual(Array.from(b));
    }
    const wrong = oneOpTflite({ tensors: [{ shape: [2] }, { shape: [2] }, { shape: [2, 2] }], opcode: OP.PACK, inputs: [0, 1], outputs: [2], options: { type: OPT.PackOptions, fields: [[0, 'i32', 3], [1, 'i32', 0]] } });
    expect(() => readTflite(wrong)).toThrow(/values_count 3/);
  });

  it('SPLIT_V: size_splits with one -1 taking the rest (split_v.cc)', async () => {
    const x = iota(2 * 7);
    const outs = await run(OP.SPLIT_V, [{ shape: [2, 7], data: x }, { shape: [3], type: I32, data: i32([2, -1, 1]), c: true }, { shape: [], type: I32, data: i32([-1]), c: true }], [{ shape: [2, 2] }, { shape: [2, 4] }, { shape: [2, 1] }]);
    expect(outs.map((o) => o.dims)).toEqual([[2, 2], [2, 4], [2, 1]]);
    expect(Array.from(outs[1]!.data as Float32Array)).toEqual([3, 4, 5, 6, 10, 11, 12, 13]);
    const bad = oneOpTflite({ tensors: [{ shape: [7] }, { shape: [2], type: I32, data: i32([-1, -1]) }, { shape: [], type: I32, data: i32([0]) }, { shape: [3] }, { shape: [4] }], opcode: OP.SPLIT_V, inputs: [0, 1, 2], outputs: [3, 4] });
    expect(() => readTflite(bad)).toThrow(ModelFormatError);
  });

  it('CAST (float → int32 truncates toward zero, → bool is x ≠ 0) and SHAPE (int32)', async () => {
    const x = f32([-2.7, -0.5, 0, 0.5, 3.9, 1e-3]);
    const [c] = await run(OP.CAST, [{ shape: [6], data: x }], [{ shape: [6], type: I32 }]);
    expect(Array.from(c!.data as Int32Array)).toEqual(Array.from(x, (v) => Math.trunc(v) | 0));
    const [bl] = await run(OP.CAST, [{ shape: [6], data: x }], [{ shape: [6], type: BOOL }]);
    expect(Array.from(bl!.data as Uint8Array)).toEqual(Array.from(x, (v) => (v !== 0 ? 1 : 0)));
    const [s] = await run(OP.SHAPE, [{ shape: [3, 1, 2], data: iota(6) }], [{ shape: [3], type: I32 }]);
    expect(s!.type).toBe('int32');
    expect(Array.from(s!.data as Int32Array)).toEqual([3, 1, 2]);
  });

  it('SUM / REDUCE_PROD / REDUCE_MAX / REDUCE_MIN: keep_dims, negative and repeated axes (reduced once), no axes = identity', async () => {
    const x = f32([1, -2, 3, 4, 5, -6, 0.5, 2, -1, 3, 2, 1]);
    const shape = [2, 3, 2];
    const RED: [keyof typeof OP, (a: number, b: number) => number][] = [
      ['SUM', (a, b) => a + b],
      ['REDUCE_PROD', (a, b) => a * b],
      ['REDUCE_MAX', Math.max],
      ['REDUCE_MIN', Math.min],
    ];
    for (const [name, f] of RED)
      for (const [axes, keep] of [[[1], 0], [[-1, 0], 1], [[2, -1], 0], [[], 0]] as [number[], number][]) {
        const ax = new Set(axes.map((a) => (a < 0 ? a + 3 : a)));
        const outShape = shape.flatMap((d, i) => (ax.has(i) ? (keep ? [1] : []) : [d]));
        const full = shape.map((d, i) => (ax.has(i) ? 1 : d));
        const want: number[] = new Array(size(full)).fill(NaN);
        for (let o = 0; o < x.length; o++) {
          const ix = unravel(o, shape).map((v, i) => (ax.has(i) ? 0 : v));
          const k = ix.reduce((s, v, i) => s + v * strides(full)[i]!, 0);
          want[k] = Number.isNaN(want[k]!) ? x[o]! : f(want[k]!, x[o]!);
        }
        const [y] = await run(OP[name], [{ shape, data: x }, { shape: [axes.length], type: I32, data: i32(axes), c: true }], [{ shape: outShape }], { type: OPT.ReducerOptions, fields: [[0, 'bool', keep]] });
        expect(y!.dims, `${name} ${axes}`).toEqual(outShape);
        close(y!.data as Float32Array, want.map(Math.fround), 1e-6, `${name} axes [${axes}] keep ${keep}`);
      }
  });

  it('ARG_MAX / ARG_MIN: first index of the extreme along axis, int32 or int64 output (arg_min_max.cc)', async () => {
    const x = f32([1, 5, 5, 0, -1, -1, 3, 3]);
    for (const [name, table] of [['ARG_MAX', OPT.ArgMaxOptions], ['ARG_MIN', OPT.ArgMinOptions]] as const)
      for (const t of [I32, I64]) {
        const [y] = await run(OP[name], [{ shape: [2, 4], data: x }, { shape: [], type: I32, data: i32([1]), c: true }], [{ shape: [2], type: t }], { type: table, fields: [[0, 'i8', t]] });
        const want = name === 'ARG_MAX' ? [1, 2] : [3, 0];
        expect(y!.type).toBe(DT[t]);
        expect(Array.from(y!.data as Int32Array, Number), `${name} ${DT[t]}`).toEqual(want);
      }
  });

  it('BATCH_MATMUL: adj_x / adj_y transpose the last two dims, batch dims broadcast (batch_matmul.cc)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), fc.boolean(), async (B, M, K, N, ax, ay, bcastY) => {
        const xs = ax ? [B, K, M] : [B, M, K], ys = bcastY ? (ay ? [N, K] : [K, N]) : ay ? [B, N, K] : [B, K, N];
        const x = f32(Array.from({ length: size(xs) }, (_, i) => Math.sin(i + 1))), y = f32(Array.from({ length: size(ys) }, (_, i) => Math.cos(i * 0.7)));
        const X = (b: number, m: number, k: number) => x[ax ? (b * K + k) * M + m : (b * M + m) * K + k]!;
        const yb = (b: number) => (bcastY ? 0 : b);
        const Y = (b: number, k: number, n: number) => y[ay ? (yb(b) * N + n) * K + k : (yb(b) * K + k) * N + n]!;
        const want: number[] = [];
        for (let b = 0; b < B; b++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) want.push([...Array(K).keys()].reduce((s, k) => s + X(b, m, k) * Y(b, k, n), 0));
        const [z] = await run(OP.BATCH_MATMUL, [{ shape: xs, data: x }, { shape: ys, data: y, c: true }], [{ shape: [B, M, N] }], { type: OPT.BatchMatMulOptions, fields: [[0, 'bool', ax ? 1 : 0], [1, 'bool', ay ? 1 : 0]] });
        expect(z!.dims).toEqual([B, M, N]);
        close(z!.data as Float32Array, want, 1e-5, 'BATCH_MATMUL');
      }),
      { numRuns: 15 },
    );
  });

  it('TILE, BROADCAST_TO, FILL, ZEROS_LIKE, RANGE', async () => {
    const x = f32([1, 2, 3]);
    const [t] = await run(OP.TILE, [{ shape: [1, 3], data: x }, { shape: [2], type: I32, data: i32([2, 2]), c: true }], [{ shape: [2, 6] }]);
    expect(Array.from(t!.data as Float32Array)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    const [b] = await run(OP.BROADCAST_TO, [{ shape: [3], data: x }, { shape: [2], type: I32, data: i32([2, 3]), c: true }], [{ shape: [2, 3] }]);
    expect(Array.from(b!.data as Float32Array)).toEqual([1, 2, 3, 1, 2, 3]);
    // fill.cc: dims (a graph input here) and a scalar value
    const [f] = await run(OP.FILL, [{ shape: [2], type: I32, data: i32([2, 2]) }, { shape: [], data: f32([7.5]) }], [{ shape: [2, 2] }]);
    expect(f!.dims).toEqual([2, 2]);
    expect(Array.from(f!.data as Float32Array)).toEqual([7.5, 7.5, 7.5, 7.5]);
    const [z] = await run(OP.ZEROS_LIKE, [{ shape: [3], data: f32([NaN, -1, Infinity]) }], [{ shape: [3] }]);
    expect(Array.from(z!.data as Float32Array)).toEqual([0, 0, 0]);
    // range.cc: start, start + delta, … while < limit
    const sc = (v: number, type = I32) => ({ shape: [], type, data: type === I32 ? i32([v]) : f32([v]) });
    const [r] = await run(OP.RANGE, [sc(3), sc(-4), sc(-2)], [{ shape: [4], type: I32 }]);
    expect(Array.from(r!.data as Int32Array)).toEqual([3, 1, -1, -3]);
    const [rf] = await run(OP.RANGE, [sc(0, F32), sc(1, F32), sc(0.25, F32)], [{ shape: [4] }]);
    expect(Array.from(rf!.data as Float32Array)).toEqual([0, 0.25, 0.5, 0.75]);
  });

  it('SELECT_V2 broadcasts; SELECT with a vector condition picks whole rows (select.cc)', async () => {
    const x = iota(6), y = f32(Array.from(x, (v) => -v));
    const cond = Uint8Array.of(1, 0);
    const [s1] = await run(OP.SELECT, [{ shape: [2], type: BOOL, data: cond }, { shape: [2, 3], data: x }, { shape: [2, 3], data: y }], [{ shape: [2, 3] }]);
    expect(Array.from(s1!.data as Float32Array)).toEqual([1, 2, 3, -4, -5, -6]);
    const [s2] = await run(OP.SELECT_V2, [{ shape: [3], type: BOOL, data: Uint8Array.of(1, 0, 1) }, { shape: [2, 3], data: x }, { shape: [], data: f32([0]) }], [{ shape: [2, 3] }]);
    expect(Array.from(s2!.data as Float32Array)).toEqual([1, 0, 3, 4, 0, 6]);
  });

  it('MIRROR_PAD REFLECT excludes the edge (mirror_pad.cc); SYMMETRIC is refused', async () => {
    const x = f32([1, 2, 3, 4, 5, 6]);
    const pads = { shape: [2, 2], type: I32, data: i32([1, 0, 2, 2]), c: true };
    const [y] = await run(OP.MIRROR_PAD, [{ shape: [2, 3], data: x }, pads], [{ shape: [3, 7] }], { type: OPT.MirrorPadOptions, fields: [[0, 'i8', 0]] });
    // rows: [4 5 6] reflected above; columns: c b | a b c | b a
    expect(Array.from(y!.data as Float32Array)).toEqual([6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4]);
    const sym = oneOpTflite({ tensors: [{ shape: [2, 3] }, { shape: [2, 2], type: I32, data: i32([1, 0, 2, 2]) }, { shape: [3, 7] }], opcode: OP.MIRROR_PAD, inputs: [0, 1], outputs: [2], options: { type: OPT.MirrorPadOptions, fields: [[0, 'i8', 1]] } });
    expect(() => readTflite(sym)).toThrow(UnsupportedOpError);
  });

  it('SPACE_TO_DEPTH (NHWC): out[b, h, w, (i·bs + j)·C + c] = in[b, h·bs + i, w·bs + j, c]', async () => {
    const [N, H, W, C, bs] = [1, 4, 6, 2, 2];
    const x = iota(N * H * W * C);
    const [y] = await run(OP.SPACE_TO_DEPTH, [{ shape: [N, H, W, C], data: x }], [{ shape: [N, H / bs, W / bs, bs * bs * C] }], { type: OPT.SpaceToDepthOptions, fields: [[0, 'i32', bs]] });
    const want: number[] = [];
    for (let h = 0; h < H / bs; h++) for (let w = 0; w < W / bs; w++) for (let i = 0; i < bs; i++) for (let j = 0; j < bs; j++) for (let c = 0; c < C; c++) want.push(x[((h * bs + i) * W + w * bs + j) * C + c]!);
    expect(Array.from(y!.data as Float32Array)).toEqual(want);
  });

  it('L2_NORMALIZATION: x / max(√Σx², 1e-6) over the last axis (l2norm.cc); CUMSUM with exclusive / reverse', async () => {
    const x = f32([3, 4, 0, 0, 1e-8, 0]);
    const [y] = await run(OP.L2_NORMALIZATION, [{ shape: [3, 2], data: x }], [{ shape: [3, 2] }]);
    close(y!.data as Float32Array, [0.6, 0.8, 0, 0, 1e-8 / 1e-6, 0], 1e-6, 'L2_NORMALIZATION');
    const v = f32([1, 2, 3, 4]);
    for (const [ex, rev, want] of [[0, 0, [1, 3, 6, 10]], [1, 0, [0, 1, 3, 6]], [0, 1, [10, 9, 7, 4]], [1, 1, [9, 7, 4, 0]]] as const) {
      const [c] = await run(OP.CUMSUM, [{ shape: [4], data: v }, { shape: [], type: I32, data: i32([0]), c: true }], [{ shape: [4] }], { type: OPT.CumsumOptions, fields: [[0, 'bool', ex], [1, 'bool', rev]] });
      expect(Array.from(c!.data as Float32Array), `exclusive ${ex} reverse ${rev}`).toEqual(want);
    }
  });
});

describe('TFLite control flow and empty tensors', () => {
  /** IF(cond, x) over subgraph 1 (then: x·2) and 2 (else: x unchanged, output = input) */
  function ifModel(opts: { then: number; else: number }): Uint8Array {
    const two = f32([2]);
    return buildTflite({
      tensors: [
        { shape: [], type: BOOL, buffer: 0, name: 'cond' },
        { shape: [3], type: F32, buffer: 0, name: 'x' },
        { shape: [3], type: F32, buffer: 0, name: 'y' },
      ],
      buffers: [new Uint8Array(0), new Uint8Array(two.buffer)],
      opcodes: [OP.IF, OP.MUL],
      ops: [{ opcode: 0, inputs: [0, 1], outputs: [2], options: { type: OPT.IfOptions, fields: [[0, 'i32', opts.then], [1, 'i32', opts.else]] } }],
      inputs: [0, 1],
      outputs: [2],
      subgraphs: [
        {
          tensors: [
            { shape: [3], type: F32, buffer: 0, name: 'x' },
            { shape: [], type: F32, buffer: 1, name: 'two' },
            { shape: [3], type: F32, buffer: 0, name: 'y' },
          ],
          ops: [{ opcode: 1, inputs: [0, 1], outputs: [2] }],
          inputs: [0],
          outputs: [2],
        },
        { tensors: [{ shape: [3], type: F32, buffer: 0, name: 'x' }], ops: [], inputs: [0], outputs: [0] },
      ],
    });
  }

  it('IF runs then_subgraph_index when cond is true, else_subgraph_index otherwise (if.cc)', async () => {
    const s = await InferenceSession.create(ifModel({ then: 1, else: 2 }));
    const x = new Tensor('float32', f32([1, -2, 3]), [3]);
    const y = (c: number) => Array.from(s.runSync({ cond: new Tensor('bool', Uint8Array.of(c), []), x }).y!.data as Float32Array);
    expect(y(1)).toEqual([2, -4, 6]);
    expect(y(0)).toEqual([1, -2, 3]);
  });

  it('IF naming subgraph 0, a missing subgraph or itself (recursion) is a ModelFormatError', () => {
    expect(() => readTflite(ifModel({ then: 0, else: 2 }))).toThrow(ModelFormatError);
    expect(() => readTflite(ifModel({ then: 1, else: 9 }))).toThrow(ModelFormatError);
  });

  it('a zero-element tensor with no buffer is an empty constant: RESHAPE with the legacy shape [0] gives a scalar', async () => {
    const bytes = buildTflite({
      tensors: [
        { shape: [1, 1], type: F32, buffer: 0, name: 't0' },
        { shape: [0], type: I32, buffer: 0, name: 'shape' },
        { shape: [], type: F32, buffer: 0, name: 't2' },
      ],
      buffers: [new Uint8Array(0)],
      opcodes: [OP.RESHAPE],
      ops: [{ opcode: 0, inputs: [0, 1], outputs: [2] }],
      inputs: [0],
      outputs: [2],
    });
    const s = await InferenceSession.create(bytes);
    expect(s.inputNames).toEqual(['t0']);
    const y = s.runSync({ t0: new Tensor('float32', f32([4.5]), [1, 1]) }).t2!;
    expect(y.dims).toEqual([]);
    expect(y.num(0)).toBe(4.5);
  });
});
