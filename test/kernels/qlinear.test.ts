// int8 WASM kernels (asm/qs8_gemm.ts via src/kernels/qlinear.ts) against the TS reference ops of
// src/ops/quant.ts: QLinearMatMul, MatMulInteger, QLinearConv, ConvInteger. Integer results and the
// requantized outputs must be BIT-EXACT (same int32 wrapping, same float64 requantization).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { arena } from '../../src/kernels/wasm.js';
import { setInt8BlockBytes } from '../../src/kernels/qlinear.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { type Q, qArb, rng, qdata, qt, scalarQ, zpv } from '../helpers/quant-data.js';


/** run the graph with the WASM kernels and with the reference; assert the kernel was used and results agree */
function check(g: Graph, feeds: Record<string, Tensor>, expectKernel = true) {
  const mem = arena()!;
  const before = mem.inUse;
  const wasm = new Executor(g, { backend: 'wasm' });
  if (expectKernel) expect(wasm.kernels.size).toBe(1);
  const ref = new Executor(g, { backend: 'reference' });
  const got = wasm.run(feeds).Y as Tensor;
  const want = ref.run(feeds).Y as Tensor;
  // run twice: the second run must not depend on state the first left behind
  const got2 = wasm.run(feeds).Y as Tensor;
  wasm.dispose();
  expect(mem.inUse).toBe(before);
  expect(got.type).toBe(want.type);
  expect(got.dims).toEqual(want.dims);
  expect(Array.from(got.data as Int32Array)).toEqual(Array.from(want.data as Int32Array));
  expect(Array.from(got2.data as Int32Array)).toEqual(Array.from(want.data as Int32Array));
}

describe('QLinearMatMul / MatMulInteger (qs8_gemm, qu8_gemm)', () => {
  it('QLinearMatMul is bit-exact over tile edges, signedness, zero points, per-column scales, batches', () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 0, max: 2 }), m: fc.integer({ min: 1, max: 11 }), k: fc.integer({ min: 1, max: 37 }), n: fc.integer({ min: 1, max: 27 }),
          ta: qArb, tb: qArb, ty: qArb, perCol: fc.boolean(), perColZp: fc.boolean(), seed: fc.integer(), scale: fc.double({ min: 1e-4, max: 0.5, noNaN: true }),
        }),
        (c) => {
          const rnd = rng(c.seed);
          const aDims = c.batch ? [c.batch, c.m, c.k] : [c.m, c.k];
          const g = new Graph();
          g.inputs = [{ name: 'A', type: { dtype: c.ta, shape: aDims } }];
          g.outputs = [{ name: 'Y', type: { dtype: c.ty } }];
          g.initializers.set('as', new Tensor('float32', Float32Array.of(c.scale), []));
          g.initializers.set('az', scalarQ(c.ta, zpv(c.ta, rnd)));
          g.initializers.set('B', qt(c.tb, qdata(c.tb, c.k * c.n, rnd), [c.k, c.n]));
          g.initializers.set('bs', c.perCol ? new Tensor('float32', Float32Array.from({ length: c.n }, () => 0.001 + rnd() * 0.05), [c.n]) : new Tensor('float32', Float32Array.of(0.02), []));
          g.initializers.set('bz', c.perColZp ? qt(c.tb, qdata(c.tb, c.n, rnd), [c.n]) : scalarQ(c.tb, zpv(c.tb, rnd)));
          g.initializers.set('ys', new Tensor('float32', Float32Array.of(0.05 + rnd() * 2), []));
          g.initializers.set('yz', scalarQ(c.ty, zpv(c.ty, rnd)));
          g.nodes = [{ name: 'qmm', op: 'QLinearMatMul', domain: '', inputs: ['A', 'as', 'az', 'B', 'bs', 'bz', 'ys', 'yz'], outputs: ['Y'], attrs: {} }];
          check(g, { A: qt(c.ta, qdata(c.ta, aDims.reduce((x, y) => x * y, 1), rnd), aDims) });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('MatMulInteger is bit-exact (int32) with and without zero points', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 13 }), k: fc.integer({ min: 1, max: 45 }), n: fc.integer({ min: 1, max: 25 }), ta: qArb, tb: qArb,
          azp: fc.boolean(), bzp: fc.constantFrom('none', 'scalar', 'col'), seed: fc.integer(),
        }),
        (c) => {
          const rnd = rng(c.seed);
          const g = new Graph();
          g.inputs = [{ name: 'A', type: { dtype: c.ta, shape: [c.m, c.k] } }];
          g.outputs = [{ name: 'Y', type: { dtype: 'int32' } }];
          g.initializers.set('B', qt(c.tb, qdata(c.tb, c.k * c.n, rnd), [c.k, c.n]));
          if (c.azp) g.initializers.set('az', scalarQ(c.ta, zpv(c.ta, rnd)));
          if (c.bzp === 'scalar') g.initializers.set('bz', scalarQ(c.tb, zpv(c.tb, rnd)));
          if (c.bzp === 'col') g.initializers.set('bz', qt(c.tb, qdata(c.tb, c.n, rnd), [c.n]));
          g.nodes = [{ name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['A', 'B', c.azp ? 'az' : '', c.bzp !== 'none' ? 'bz' : ''], outputs: ['Y'], attrs: {} }];
          check(g, { A: qt(c.ta, qdata(c.ta, c.m * c.k, rnd), [c.m, c.k]) });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('wraps in int32 like the reference when K·255² overflows', () => {
    const k = 40000;
    const m = 1;
    const n = 3;
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'uint8', shape: [m, k] } }];
    g.outputs = [{ name: 'Y', type: { dtype: 'int32' } }];
    g.initializers.set('B', new Tensor('uint8', new Uint8Array(k * n).fill(255), [k, n]));
    g.nodes = [{ name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} }];
    check(g, { A: new Tensor('uint8', new Uint8Array(k).fill(255), [m, k]) });
  });

  it('per-row a_zero_point falls back to the reference (same answer)', () => {
    const rnd = rng(7);
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'uint8', shape: [3, 5] } }];
    g.outputs = [{ name: 'Y', type: { dtype: 'int32' } }];
    g.initializers.set('B', qt('int8', qdata('int8', 10, rnd), [5, 2]));
    g.initializers.set('az', new Tensor('uint8', Uint8Array.of(1, 2, 3), [3]));
    g.nodes = [{ name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['A', 'B', 'az'], outputs: ['Y'], attrs: {} }];
    check(g, { A: qt('uint8', qdata('uint8', 15, rnd), [3, 5]) });
  });
});

interface ConvCase {
  n: number; c: number; h: number; w: number; group: number; mg: number; kh: number; kw: number;
  s: [number, number]; d: [number, number]; pads: number[]; tx: Q; tw: Q; ty: Q; perCh: boolean; wzp: 'zero' | 'scalar' | 'ch'; bias: boolean; seed: number;
}

const convArb: fc.Arbitrary<ConvCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }), cg: fc.integer({ min: 1, max: 5 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 9 }),
    group: fc.integer({ min: 1, max: 3 }), mg: fc.integer({ min: 1, max: 6 }), kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }),
    s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }), tx: qArb, tw: qArb, ty: qArb, perCh: fc.boolean(),
    wzp: fc.constantFrom<'zero' | 'scalar' | 'ch'>('zero', 'scalar', 'ch'), bias: fc.boolean(), seed: fc.integer(),
  })
  .map((r) => ({ ...r, c: r.cg * r.group }) as ConvCase & { cg: number })
  .filter((k) => k.h + k.pads[0]! + k.pads[2]! >= (k.kh - 1) * k.d[0] + 1 && k.w + k.pads[1]! + k.pads[3]! >= (k.kw - 1) * k.d[1] + 1);

/** `rank1`: the 1-D conv of k's W axis (X [N, C, W], W [M, C/group, kw]; k's H axis, kh and H pads unused). */
function convGraph(k: ConvCase, integer: boolean, rank1 = false): { g: Graph; x: Tensor } {
  const rnd = rng(k.seed);
  const cg = k.c / k.group;
  const m = k.mg * k.group;
  const g = new Graph();
  const xDims = rank1 ? [k.n, k.c, k.w] : [k.n, k.c, k.h, k.w];
  const wDims = rank1 ? [m, cg, k.kw] : [m, cg, k.kh, k.kw];
  g.inputs = [{ name: 'X', type: { dtype: k.tx, shape: xDims } }];
  g.outputs = [{ name: 'Y', type: { dtype: integer ? 'int32' : k.ty } }];
  g.initializers.set('W', qt(k.tw, qdata(k.tw, wDims.reduce((a, b) => a * b, 1), rnd), wDims));
  g.initializers.set('xz', scalarQ(k.tx, zpv(k.tx, rnd)));
  g.initializers.set('wz', k.wzp === 'ch' ? qt(k.tw, qdata(k.tw, m, rnd), [m]) : scalarQ(k.tw, k.wzp === 'zero' ? (k.tw === 'uint8' ? 128 : 0) : zpv(k.tw, rnd)));
  const attrs = rank1
    ? { group: k.group, strides: [k.s[1]], dilations: [k.d[1]], pads: [k.pads[1]!, k.pads[3]!], kernel_shape: [k.kw] }
    : { group: k.group, strides: k.s, dilations: k.d, pads: k.pads, kernel_shape: [k.kh, k.kw] };
  if (integer) {
    g.nodes = [{ name: 'ci', op: 'ConvInteger', domain: '', inputs: ['X', 'W', 'xz', 'wz'], outputs: ['Y'], attrs }];
  } else {
    g.initializers.set('xs', new Tensor('float32', Float32Array.of(0.02 + rnd() * 0.1), []));
    g.initializers.set('ws', k.perCh ? new Tensor('float32', Float32Array.from({ length: m }, () => 0.001 + rnd() * 0.02), [m]) : new Tensor('float32', Float32Array.of(0.01), []));
    g.initializers.set('ys', new Tensor('float32', Float32Array.of(0.05 + rnd()), []));
    g.initializers.set('yz', scalarQ(k.ty, zpv(k.ty, rnd)));
    if (k.bias) g.initializers.set('B', new Tensor('int32', Int32Array.from({ length: m }, () => Math.floor(rnd() * 20000) - 10000), [m]));
    g.nodes = [{ name: 'qc', op: 'QLinearConv', domain: '', inputs: ['X', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz', ...(k.bias ? ['B'] : [])], outputs: ['Y'], attrs }];
  }
  const x = qt(k.tx, qdata(k.tx, xDims.reduce((a, b) => a * b, 1), rnd), xDims);
  return { g, x };
}

describe('QLinearConv / ConvInteger (im2col into int8 panels + qs8_gemm)', () => {
  it('QLinearConv is bit-exact over strides, pads, dilations, groups, zero points and per-channel scales', () => {
    fc.assert(
      fc.property(convArb, (k) => {
        const { g, x } = convGraph(k, false);
        check(g, { X: x });
      }),
      { numRuns: 250 },
    );
  });

  it('ConvInteger is bit-exact (int32)', () => {
    fc.assert(
      fc.property(convArb, (k) => {
        const { g, x } = convGraph(k, true);
        check(g, { X: x });
      }),
      { numRuns: 200 },
    );
  });

  // The conv packs and multiplies one cache block of column panels at a time (qlinear.ts convBlock): with blocks of
  // one to a few panels, planes of many panels and both the im2col and the pointwise packing cross block edges.
  // Integer math in any block order is the same: ConvInteger's int32 and QLinearConv's requantized bytes stay exact.
  it('ConvInteger and QLinearConv in column blocks of 1–3 panels are bit-exact', () => {
    const big = fc.record({
      n: fc.integer({ min: 1, max: 2 }), cg: fc.integer({ min: 1, max: 5 }), h: fc.integer({ min: 3, max: 20 }), w: fc.integer({ min: 3, max: 20 }),
      group: fc.integer({ min: 1, max: 2 }), mg: fc.integer({ min: 1, max: 9 }), kh: fc.constantFrom(1, 3), kw: fc.constantFrom(1, 3),
      s: fc.constantFrom<[number, number]>([1, 1], [2, 2], [1, 2]), d: fc.constantFrom<[number, number]>([1, 1], [2, 1]),
      pads: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 4, maxLength: 4 }), tx: qArb, tw: qArb, ty: qArb, perCh: fc.boolean(),
      wzp: fc.constantFrom<'zero' | 'scalar' | 'ch'>('zero', 'scalar', 'ch'), bias: fc.boolean(), seed: fc.integer(),
    }).map((r) => ({ ...r, c: r.cg * r.group }) as ConvCase & { cg: number })
      .filter((k) => k.h + k.pads[0]! + k.pads[2]! >= (k.kh - 1) * k.d[0] + 1 && k.w + k.pads[1]! + k.pads[3]! >= (k.kw - 1) * k.d[1] + 1);
    fc.assert(
      fc.property(big, fc.boolean(), fc.integer({ min: 1, max: 400 }), (k, integer, bytes) => {
        const prev = setInt8BlockBytes(bytes);
        try {
          const { g, x } = convGraph(k, integer);
          check(g, { X: x });
        } finally {
          setInt8BlockBytes(prev);
        }
      }),
      { numRuns: 150 },
    );
  });

  // ONNX ConvInteger / QLinearConv take X as (N x C x D1 x … x Dn), any spatial rank. A 1-D one (whisper's
  // Conv1d front end after quantize_dynamic: ConvInteger on [1, 80, 3000]) runs as the 2-D kernel with H = 1.
  it('1-D ConvInteger and QLinearConv are bit-exact (the 2-D kernel with H = 1)', () => {
    fc.assert(
      fc.property(convArb, fc.boolean(), (k, integer) => {
        const { g, x } = convGraph(k, integer, true);
        check(g, { X: x });
      }),
      { numRuns: 200 },
    );
  });

  it('depthwise and pointwise shapes', () => {
    const base = { n: 1, h: 7, w: 6, d: [1, 1] as [number, number], tx: 'uint8' as Q, tw: 'int8' as Q, ty: 'uint8' as Q, perCh: true, wzp: 'zero' as const, bias: true, seed: 3 };
    check(convGraph({ ...base, c: 5, group: 5, mg: 1, kh: 3, kw: 3, s: [2, 2], pads: [1, 1, 1, 1] }, false).g, { X: convGraph({ ...base, c: 5, group: 5, mg: 1, kh: 3, kw: 3, s: [2, 2], pads: [1, 1, 1, 1] }, false).x });
    const pw = { ...base, c: 9, group: 1, mg: 17, kh: 1, kw: 1, s: [1, 1] as [number, number], pads: [0, 0, 0, 0] };
    const { g, x } = convGraph(pw, false);
    check(g, { X: x });
    // 1-D depthwise (qs8_dwconv2d with H = 1)
    const dw1 = convGraph({ ...base, c: 5, group: 5, mg: 1, kh: 1, kw: 3, s: [1, 2], pads: [0, 1, 0, 1] }, false, true);
    check(dw1.g, { X: dw1.x });
  });
});
