// WASM pooling (f32_pool2d) against the TS reference MaxPool / AveragePool.
// ONNX MaxPool: Y = max over the window of in-bounds taps; AveragePool: mean over in-bounds taps, or with
// count_include_pad = 1 over the taps inside the padded input (the ceil_mode overhang never counts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

describe('WASM pooling vs the TS reference', () => {
  it('MaxPool bit-exact, AveragePool to 1e-6, over kernels, strides, dilations, pads, ceil_mode', () => {
    fc.assert(
      fc.property(
        fc.record({
          op: fc.constantFrom('MaxPool', 'AveragePool'),
          c: fc.integer({ min: 1, max: 3 }),
          kh: fc.integer({ min: 1, max: 4 }),
          kw: fc.integer({ min: 1, max: 4 }),
          s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
          pad: fc.integer({ min: 0, max: 1 }),
          extra: fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 })),
          ceil: fc.constantFrom(0, 1),
          incl: fc.constantFrom(0, 1),
          autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'SAME_UPPER', 'VALID'),
        }),
        fc.integer(),
        (r, seed) => {
          if (r.op === 'AveragePool' && r.d.some((v) => v > 1)) r.d = [1, 1]; // dilations: MaxPool only before opset 19
          const pads = [r.pad, r.pad, r.pad, r.pad].map((p, i) => Math.min(p, (i % 2 ? r.kw : r.kh) - 1));
          const h = (r.kh - 1) * r.d[0] + 1 + r.extra[0];
          const w = (r.kw - 1) * r.d[1] + 1 + r.extra[1];
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [2, r.c, h, w] } }];
          const attrs: Record<string, number | number[] | string> = { kernel_shape: [r.kh, r.kw], strides: r.s, ceil_mode: r.ceil };
          if (r.op === 'MaxPool') attrs.dilations = r.d;
          else attrs.count_include_pad = r.incl;
          if (r.autoPad === 'NOTSET') attrs.pads = pads;
          else attrs.auto_pad = r.autoPad;
          g.nodes = [{ name: 'pool', op: r.op, domain: '', inputs: ['X'], outputs: ['Y'], attrs }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          let q = seed;
          const x = new Tensor('float32', Float32Array.from({ length: 2 * r.c * h * w }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1), [2, r.c, h, w]);
          const fast = new Executor(g);
          expect(fast.kernels.has(g.nodes[0]!)).toBe(true);
          const got = fast.run({ X: x }).Y!.data as Float32Array;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
          expect(got.length).toBe(want.length);
          if (r.op === 'MaxPool') expect(Array.from(got)).toEqual(Array.from(want));
          else for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want[i]!)));
        },
      ),
      { numRuns: 300, seed: 5 },
    );
  });

  it('GlobalAveragePool agrees to 1e-6 relative over ranks, channel counts and pixel counts around 4', () => {
    fc.assert(
      fc.property(fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 9 }), sp: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }) }), fc.integer(), (r, seed) => {
        const dims = [r.n, r.c, ...r.sp];
        const g = new Graph();
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: dims } }];
        g.nodes = [{ name: 'gap', op: 'GlobalAveragePool', domain: '', inputs: ['X'], outputs: ['Y'], attrs: {} }];
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        let q = seed;
        const size = dims.reduce((a, b) => a * b, 1);
        const x = new Tensor('float32', Float32Array.from({ length: size }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1), dims);
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_global_avgpool');
        const got = fast.run({ X: x }).Y!;
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
        expect(got.dims).toEqual(want.dims);
        const a = got.data as Float32Array;
        const b = want.data as Float32Array;
        for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(b[i]!)));
      }),
      { numRuns: 200, seed: 13 },
    );
  });
});

// ONNX MaxPool / AveragePool 1-D (X (N, C, W)) and asymmetric pads "[x1_begin, x2_begin…, x1_end, x2_end…]"; with
// ceil_mode the last window must start inside the input or the left padding. 1-D runs as 2-D with H = 1.
describe('WASM pooling, 1-D and asymmetric pads, vs the TS reference', () => {
  it('MaxPool bit-exact, AveragePool to 1e-6, over 1-D/2-D, asymmetric pads, dilations, ceil_mode, count_include_pad', () => {
    fc.assert(
      fc.property(
        fc.record({
          op: fc.constantFrom('MaxPool', 'AveragePool'),
          rank: fc.constantFrom(1, 2),
          c: fc.integer({ min: 1, max: 3 }),
          k: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 })),
          s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
          pads: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
          extra: fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 17 })),
          ceil: fc.constantFrom(0, 1),
          incl: fc.constantFrom(0, 1),
        }),
        fc.integer(),
        (r, seed) => {
          const sp = r.rank;
          const pick = <T,>(t: [T, T]): T[] => (sp === 1 ? [t[1]] : [...t]);
          const k = pick(r.k);
          const d = r.op === 'MaxPool' ? pick(r.d) : k.map(() => 1);
          const s = pick(r.s);
          // pads smaller than the (dilated) kernel, as onnxruntime requires
          const pb = (sp === 1 ? [r.pads[0]!, r.pads[1]!] : r.pads).map((p, i) => Math.min(p, (k[i % sp]! - 1) * d[i % sp]!));
          const hw = k.map((kk, i) => (kk - 1) * d[i]! + 1 + pick(r.extra)[i]!);
          const dims = [2, r.c, ...hw];
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: dims } }];
          const attrs: Record<string, number | number[]> = { kernel_shape: k, strides: s, pads: pb, ceil_mode: r.ceil };
          if (r.op === 'MaxPool') attrs.dilations = d;
          else attrs.count_include_pad = r.incl;
          g.nodes = [{ name: 'pool', op: r.op, domain: '', inputs: ['X'], outputs: ['Y'], attrs }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          let q = seed;
          const x = new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1), dims);
          const fast = new Executor(g);
          expect(fast.kernels.has(g.nodes[0]!)).toBe(true);
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          expect(got.dims).toEqual(want.dims);
          const a = got.data as Float32Array;
          const b = want.data as Float32Array;
          if (r.op === 'MaxPool') expect(Array.from(a)).toEqual(Array.from(b));
          else for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(b[i]!)));
        },
      ),
      { numRuns: 300, seed: 19 },
    );
  });
});
