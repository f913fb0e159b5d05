// The int8 kernels of quantized whole models (asm/qs8_dwconv.ts, asm/qs8_eltwise.ts, asm/qs8_pool.ts via
// src/kernels/qlinear.ts and src/kernels/qlinear-ops.ts) against the TS reference ops: depthwise QLinearConv,
// QuantizeLinear, QLinearAdd, 8-bit MaxPool, QLinearGlobalAveragePool and QGemm. Every result BIT-EXACT,
// including both requantization paths (integer clamping when every multiplier is < 0.5, float64 otherwise).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { arena } from '../../src/kernels/wasm.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { type Q, qArb, rng, qdata, qt, scalarQ, zpv } from '../helpers/quant-data.js';
const f32s = (v: number) => new Tensor('float32', Float32Array.of(v), []);
const size = (d: number[]) => d.reduce((a, b) => a * b, 1);

/** One-node graph run with the WASM kernel (which must be chosen: `kernel`) and with the reference: equal bits. */
function check(g: Graph, feeds: Record<string, Tensor>, kernel: string) {
  const mem = arena()!;
  const before = mem.inUse;
  const wasm = new Executor(g, { backend: 'wasm', fuseQdq: false });
  expect([...wasm.kernels.values()].map((k) => k.name)).toEqual([kernel]);
  const ref = new Executor(g, { backend: 'reference' });
  const got = wasm.run(feeds).Y as Tensor;
  const want = ref.run(feeds).Y as Tensor;
  const got2 = wasm.run(feeds).Y as Tensor;
  wasm.dispose();
  expect(mem.inUse).toBe(before);
  expect(got.type).toBe(want.type);
  expect(got.dims).toEqual(want.dims);
  // Object.is: NaN and −0 must match too (float outputs)
  const a = Array.from(got.data as Float32Array);
  const b = Array.from(want.data as Float32Array);
  expect(a.map((v, i) => Object.is(v, b[i]))).not.toContain(false);
  expect(Array.from(got2.data as Float32Array)).toEqual(b);
}

function graph(inputs: { name: string; dtype: Q | 'float32'; shape: number[] }[], node: Omit<Node, 'name' | 'outputs'>, inits: Record<string, Tensor>): Graph {
  const g = new Graph();
  g.opsets = { '': 21, 'com.microsoft': 1 };
  g.inputs = inputs.map((i) => ({ name: i.name, type: { dtype: i.dtype, shape: i.shape } }));
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  for (const [k, v] of Object.entries(inits)) g.initializers.set(k, v);
  g.nodes = [{ ...node, name: 'n', outputs: ['Y'] }];
  return g;
}

describe('depthwise QLinearConv (qs8_dwconv2d)', () => {
  // ONNX QLinearConv: y = saturate(round_half_even((Σ (x − x_zp)(w − w_zp) + B) · x_scale·w_scale / y_scale) + y_zp),
  // "x_zero_point … padding uses it"; group = C: "each group of input channels convolved with its own filters"
  it('is bit-exact over kernel sizes, strides, dilations, pads, zero points, per-channel scales, both requant paths', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 2, max: 6 }), h: fc.integer({ min: 1, max: 13 }), w: fc.integer({ min: 1, max: 21 }),
          kh: fc.integer({ min: 1, max: 5 }), kw: fc.integer({ min: 1, max: 5 }), s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })), pads: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
          tx: qArb, tw: qArb, ty: qArb, perCh: fc.boolean(), wzCh: fc.boolean(), bias: fc.boolean(), bigMult: fc.boolean(), seed: fc.integer(),
        }).filter((k) => k.h + k.pads[0]! + k.pads[2]! >= (k.kh - 1) * k.d[0] + 1 && k.w + k.pads[1]! + k.pads[3]! >= (k.kw - 1) * k.d[1] + 1),
        (k) => {
          const rnd = rng(k.seed);
          const xDims = [k.n, k.c, k.h, k.w];
          const inits: Record<string, Tensor> = {
            xs: f32s(0.02 + rnd() * 0.1), xz: scalarQ(k.tx, zpv(k.tx, rnd)),
            W: qt(k.tw, qdata(k.tw, k.c * k.kh * k.kw, rnd), [k.c, 1, k.kh, k.kw]),
            ws: k.perCh ? new Tensor('float32', Float32Array.from({ length: k.c }, () => 0.001 + rnd() * 0.02), [k.c]) : f32s(0.01),
            wz: k.wzCh ? qt(k.tw, qdata(k.tw, k.c, rnd), [k.c]) : scalarQ(k.tw, zpv(k.tw, rnd)),
            // a tiny y_scale makes multipliers ≥ 0.5 (the float64 requantization path)
            ys: f32s(k.bigMult ? 1e-5 + rnd() * 1e-4 : 0.05 + rnd()), yz: scalarQ(k.ty, zpv(k.ty, rnd)),
            ...(k.bias ? { B: new Tensor('int32', Int32Array.from({ length: k.c }, () => Math.floor(rnd() * 40000) - 20000), [k.c]) } : {}),
          };
          const attrs = { group: k.c, strides: k.s, dilations: k.d, pads: k.pads, kernel_shape: [k.kh, k.kw] };
          const g = graph([{ name: 'X', dtype: k.tx, shape: xDims }], { op: 'QLinearConv', domain: '', inputs: ['X', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz', ...(k.bias ? ['B'] : [])], attrs }, inits);
          check(g, { X: qt(k.tx, qdata(k.tx, size(xDims), rnd), xDims) }, 'qs8_dwconv2d');
        },
      ),
      { numRuns: 250 },
    );
  });
});

describe('GEMM-based QLinearConv with multipliers ≥ 0.5 (float64 requantization path)', () => {
  it('QLinearConv 3×3 (stride 1 and 2, wide rows: vector im2col runs) is bit-exact with large and mixed multipliers', () => {
    fc.assert(
      fc.property(fc.record({ c: fc.integer({ min: 1, max: 9 }), m: fc.integer({ min: 1, max: 11 }), h: fc.integer({ min: 3, max: 9 }), w: fc.integer({ min: 3, max: 41 }), s: fc.integer({ min: 1, max: 2 }), tx: qArb, tw: qArb, ty: qArb, seed: fc.integer() }), (k) => {
        const rnd = rng(k.seed);
        const xDims = [1, k.c, k.h, k.w];
        const inits = {
          xs: f32s(0.05), xz: scalarQ(k.tx, zpv(k.tx, rnd)), W: qt(k.tw, qdata(k.tw, k.m * k.c * 9, rnd), [k.m, k.c, 3, 3]),
          // per-channel: some multipliers below 0.5, some above
          ws: new Tensor('float32', Float32Array.from({ length: k.m }, () => (rnd() < 0.5 ? 1e-6 : 0.5) * (1 + rnd())), [k.m]), wz: scalarQ(k.tw, zpv(k.tw, rnd)),
          ys: f32s(0.01 + rnd() * 0.01), yz: scalarQ(k.ty, zpv(k.ty, rnd)),
        };
        const g = graph([{ name: 'X', dtype: k.tx, shape: xDims }], { op: 'QLinearConv', domain: '', inputs: ['X', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz'], attrs: { pads: [1, 1, 1, 1], strides: [k.s, k.s] } }, inits);
        check(g, { X: qt(k.tx, qdata(k.tx, size(xDims), rnd), xDims) }, 'qs8_conv2d_gemm_4x8c2');
      }),
      { numRuns: 100 },
    );
  });
});

describe('QuantizeLinear float32 → 8-bit (qs8_quantize_f32)', () => {
  // ONNX QuantizeLinear: y = saturate(round(x / y_scale) + y_zero_point), "rounding to nearest ties to even"
  it('is bit-exact, including ties, saturation, infinities and NaN', () => {
    fc.assert(
      fc.property(fc.record({ n: fc.integer({ min: 0, max: 70 }), ty: qArb, zp: fc.boolean(), scale: fc.double({ min: 1e-4, max: 10, noNaN: true }), seed: fc.integer() }), (k) => {
        const rnd = rng(k.seed);
        const s = Math.fround(k.scale);
        const special = [Infinity, -Infinity, NaN, 0, -0, 1e30, -1e30];
        // half-way points (j + 0.5)·s hit the tie rule; wide values hit saturation
        const x = Float32Array.from({ length: k.n }, (_, i) => (i % 9 === 8 ? special[i % special.length]! : i % 3 === 0 ? (Math.floor(rnd() * 600) - 300 + 0.5) * s : (rnd() - 0.5) * 400 * s));
        const z = zpv(k.ty, rnd);
        const g = graph([{ name: 'X', dtype: 'float32', shape: [k.n] }], { op: 'QuantizeLinear', domain: '', inputs: ['X', 's', ...(k.zp ? ['z'] : [])], attrs: k.zp ? {} : { output_dtype: k.ty === 'int8' ? 3 : 2 } }, { s: f32s(s), z: scalarQ(k.ty, z) });
        check(g, { X: new Tensor('float32', x, [k.n]) }, 'qs8_quantize_f32');
      }),
      { numRuns: 200 },
    );
  });
});

describe('QLinearAdd (qs8_qlinear_add)', () => {
  // onnxruntime QLinearAdd: C = quantize(dequantize(A) + dequantize(B)) with C_scale, C_zero_point
  it('is bit-exact over lengths (vector body and tail), types, scales and zero points', () => {
    fc.assert(
      fc.property(fc.record({ dims: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }), t: qArb, seed: fc.integer(), sc: fc.double({ min: 1e-3, max: 1, noNaN: true }) }), (k) => {
        const rnd = rng(k.seed);
        const inits = { as: f32s(0.001 + rnd() * 0.1), az: scalarQ(k.t, zpv(k.t, rnd)), bs: f32s(0.001 + rnd() * 0.1), bz: scalarQ(k.t, zpv(k.t, rnd)), cs: f32s(k.sc * 0.2), cz: scalarQ(k.t, zpv(k.t, rnd)) };
        const g = graph([{ name: 'A', dtype: k.t, shape: k.dims }, { name: 'B', dtype: k.t, shape: k.dims }], { op: 'QLinearAdd', domain: 'com.microsoft', inputs: ['A', 'as', 'az', 'B', 'bs', 'bz', 'cs', 'cz'], attrs: {} }, inits);
        check(g, { A: qt(k.t, qdata(k.t, size(k.dims), rnd), k.dims), B: qt(k.t, qdata(k.t, size(k.dims), rnd), k.dims) }, 'qs8_qlinear_add');
      }),
      { numRuns: 200 },
    );
  });
});

describe('MaxPool on 8-bit codes (qs8_maxpool2d)', () => {
  // ONNX MaxPool: max over each window; padded positions are not part of any window's candidates (−∞)
  it('is bit-exact over kernels, strides, pads and ceil_mode', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 12 }), w: fc.integer({ min: 1, max: 37 }), kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }),
          s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), p: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 4, maxLength: 4 }), ceil: fc.boolean(), t: qArb, seed: fc.integer(),
        }).filter((k) => k.h + k.p[0]! + k.p[2]! >= k.kh && k.w + k.p[1]! + k.p[3]! >= k.kw && k.p.every((v, i) => v < (i % 2 ? k.kw : k.kh))),
        (k) => {
          const rnd = rng(k.seed);
          const dims = [k.n, k.c, k.h, k.w];
          const g = graph([{ name: 'X', dtype: k.t, shape: dims }], { op: 'MaxPool', domain: '', inputs: ['X'], attrs: { kernel_shape: [k.kh, k.kw], strides: k.s, pads: k.p, ceil_mode: k.ceil ? 1 : 0 } }, {});
          check(g, { X: qt(k.t, qdata(k.t, size(dims), rnd), dims) }, 'qs8_maxpool2d');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('QLinearGlobalAveragePool (qs8_rowsum)', () => {
  // onnxruntime QLinearGlobalAveragePool: y = quantize(mean over spatial of dequantize(x)), NCHW
  it('is bit-exact', () => {
    fc.assert(
      fc.property(fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 9 }), h: fc.integer({ min: 1, max: 15 }), w: fc.integer({ min: 1, max: 15 }), t: qArb, seed: fc.integer() }), (k) => {
        const rnd = rng(k.seed);
        const dims = [k.n, k.c, k.h, k.w];
        const inits = { xs: f32s(0.01 + rnd() * 0.1), xz: scalarQ(k.t, zpv(k.t, rnd)), ys: f32s(0.001 + rnd() * 0.05), yz: scalarQ(k.t, zpv(k.t, rnd)) };
        const g = graph([{ name: 'X', dtype: k.t, shape: dims }], { op: 'QLinearGlobalAveragePool', domain: 'com.microsoft', inputs: ['X', 'xs', 'xz', 'ys', 'yz'], attrs: {} }, inits);
        check(g, { X: qt(k.t, qdata(k.t, size(dims), rnd), dims) }, 'qs8_global_avgpool');
      }),
      { numRuns: 100 },
    );
  });
});

describe('QGemm (PackedQGemm with the bias in the column terms)', () => {
  // onnxruntime QGemm: Y = alpha·(A − a_zp)(B − b_zp) + C, C int32 in units of a_scale·b_scale; quantized with
  // y_scale / y_zero_point when given, else float32
  it('is bit-exact with float and 8-bit outputs, per-column scales and zero points, with and without C', () => {
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 40 }), n: fc.integer({ min: 1, max: 19 }), ta: qArb, tb: qArb, ty: fc.constantFrom<Q | 'float32'>('int8', 'uint8', 'float32'), perCol: fc.boolean(), bias: fc.boolean(), bigMult: fc.boolean(), seed: fc.integer() }),
        (k) => {
          const rnd = rng(k.seed);
          const inits: Record<string, Tensor> = {
            as: f32s(0.02 + rnd() * 0.05), az: scalarQ(k.ta, zpv(k.ta, rnd)), B: qt(k.tb, qdata(k.tb, k.k * k.n, rnd), [k.k, k.n]),
            bs: k.perCol ? new Tensor('float32', Float32Array.from({ length: k.n }, () => 0.001 + rnd() * 0.05), [k.n]) : f32s(0.01),
            bz: k.perCol ? qt(k.tb, qdata(k.tb, k.n, rnd), [k.n]) : scalarQ(k.tb, zpv(k.tb, rnd)),
            ...(k.bias ? { C: new Tensor('int32', Int32Array.from({ length: k.n }, () => Math.floor(rnd() * 2e6) - 1e6), [k.n]) } : {}),
            ...(k.ty !== 'float32' ? { ys: f32s(k.bigMult ? 1e-5 : 0.05 + rnd() * 2), yz: scalarQ(k.ty, zpv(k.ty, rnd)) } : {}),
          };
          const ins = ['A', 'as', 'az', 'B', 'bs', 'bz', k.bias ? 'C' : '', ...(k.ty !== 'float32' ? ['ys', 'yz'] : [])];
          while (ins[ins.length - 1] === '') ins.pop();
          const g = graph([{ name: 'A', dtype: k.ta, shape: [k.m, k.k] }], { op: 'QGemm', domain: 'com.microsoft', inputs: ins, attrs: {} }, inits);
          check(g, { A: qt(k.ta, qdata(k.ta, k.m * k.k, rnd), [k.m, k.k]) }, k.ta === 'uint8' ? 'qu8_gemm_4x8c2' : 'qs8_gemm_4x8c2');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Concat of 8-bit codes (q8_concat)', () => {
  // ONNX Concat: "Concatenate a list of tensors into a single tensor … along the given axis"
  it('is bit-exact over ranks, axes (negative too) and input counts', () => {
    fc.assert(
      fc.property(
        fc.record({ dims: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), k: fc.integer({ min: 1, max: 4 }), axisSeed: fc.integer({ min: 0, max: 100 }), neg: fc.boolean(), t: qArb, seed: fc.integer() }),
        (c) => {
          const rnd = rng(c.seed);
          const r = c.dims.length;
          const axis = c.axisSeed % r;
          const shapes = Array.from({ length: c.k }, () => c.dims.map((d, i) => (i === axis ? 1 + Math.floor(rnd() * 4) : d)));
          const names = shapes.map((_, i) => `X${i}`);
          const g = graph(shapes.map((s, i) => ({ name: names[i]!, dtype: c.t, shape: s })), { op: 'Concat', domain: '', inputs: names, attrs: { axis: c.neg ? axis - r : axis } }, {});
          check(g, Object.fromEntries(shapes.map((s, i) => [names[i]!, qt(c.t, qdata(c.t, size(s), rnd), s)])), 'q8_concat');
        },
      ),
      { numRuns: 150 },
    );
  });
});
