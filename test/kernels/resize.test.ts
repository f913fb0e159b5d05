// WASM Resize (asm/f32_resize.ts, tables from the reference's own taps) against the TS reference Resize, NCHW float32.
// ONNX Resize: x_original = f(x_resized) per coordinate_transformation_mode, e.g. asymmetric "x_resized / scale",
// half_pixel "(x_resized + 0.5) / scale − 0.5", pytorch_half_pixel "length_resized > 1 ? (x_resized + 0.5) / scale −
// 0.5 : 0", align_corners "x_resized · (length_original − 1) / (length_resized − 1)"; nearest picks per nearest_mode
// (round_prefer_floor, round_prefer_ceil, floor, ceil), linear interpolates the two neighbours (edge-clamped);
// "output_dimension = floor(input_dimension · scale)" when scales are given, else sizes.
// Nearest copies elements (bit-exact); bilinear is float arithmetic vs the reference's doubles (1e-6 relative).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const CTMS = ['asymmetric', 'half_pixel', 'align_corners', 'pytorch_half_pixel', 'half_pixel_symmetric', 'tf_half_pixel_for_nn'];
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

describe('WASM Resize vs the TS reference', () => {
  it('nearest (bit-exact) and bilinear (1e-6) over coordinate modes, nearest modes, scales and sizes, constant or run-time', () => {
    let kernelRuns = 0;
    fc.assert(
      fc.property(
        fc.record({
          mode: fc.constantFrom('nearest', 'linear'),
          ctm: fc.constantFrom(...CTMS),
          nearest: fc.constantFrom(...NEAREST),
          n: fc.integer({ min: 1, max: 2 }),
          c: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 11 }),
          scale: fc.tuple(fc.constantFrom(0.5, 1, 1.5, 2, 3, 0.75, 1.3), fc.constantFrom(0.5, 1, 1.5, 2, 3, 0.6, 2.5)),
          sizes: fc.tuple(fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 17 })),
          useSizes: fc.boolean(),
          runtime: fc.boolean(),
        }),
        fc.integer(),
        (r, seed) => {
          if (r.mode === 'linear' && r.ctm === 'tf_half_pixel_for_nn') r.ctm = 'half_pixel'; // a nearest-only mode
          const outH = r.useSizes ? r.sizes[0] : Math.floor(r.h * r.scale[0]);
          const outW = r.useSizes ? r.sizes[1] : Math.floor(r.w * r.scale[1]);
          if (outH < 1 || outW < 1) return;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [r.n, r.c, r.h, r.w] } }];
          const param = r.useSizes
            ? new Tensor('int64', BigInt64Array.from([r.n, r.c, ...r.sizes].map(BigInt)), [4])
            : new Tensor('float32', Float32Array.from([1, 1, ...r.scale]), [4]);
          const pname = r.useSizes ? 'sizes' : 'scales';
          if (r.runtime) g.inputs.push({ name: pname, type: { dtype: param.type, shape: [4] } });
          else g.initializers.set(pname, param);
          const attrs = { mode: r.mode, coordinate_transformation_mode: r.ctm, nearest_mode: r.nearest };
          g.nodes = [{ name: 'rs', op: 'Resize', domain: '', inputs: ['X', '', r.useSizes ? '' : 'scales', r.useSizes ? 'sizes' : ''], outputs: ['Y'], attrs }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          let q = seed;
          const x = new Tensor('float32', Float32Array.from({ length: r.n * r.c * r.h * r.w }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1), [r.n, r.c, r.h, r.w]);
          const feeds: Record<string, Tensor> = { X: x };
          if (r.runtime) feeds[pname] = param;
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(r.mode === 'nearest' ? 'f32_resize_nearest' : 'f32_resize_linear');
          const got = fast.run(feeds).Y!;
          // the kernel ran (a run-time decline would be recorded as a fallback)
          expect(fast.fallbacks.has(g.nodes[0]!)).toBe(false);
          kernelRuns++;
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!;
          fast.dispose();
          expect(got.dims).toEqual(want.dims);
          const a = got.data as Float32Array;
          const b = want.data as Float32Array;
          if (r.mode === 'nearest') expect(Array.from(a)).toEqual(Array.from(b));
          else for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(b[i]!)));
        },
      ),
      { numRuns: 400, seed: 13 },
    );
    expect(kernelRuns).toBeGreaterThan(300);
  });

  it('leaves cubic, antialias and resizing N or C to the reference, saying why', () => {
    const mk = (attrs: Record<string, unknown>, scales: number[]) => {
      const g = new Graph();
      g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 2, 4, 4] } }];
      g.initializers.set('scales', new Tensor('float32', Float32Array.from(scales), [4]));
      g.nodes = [{ name: 'rs', op: 'Resize', domain: '', inputs: ['X', '', 'scales'], outputs: ['Y'], attrs }];
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      return g;
    };
    const cubic = mk({ mode: 'cubic' }, [1, 1, 2, 2]);
    const e1 = new Executor(cubic);
    expect(e1.fallbacks.get(cubic.nodes[0]!)).toContain('mode cubic');
    const chan = mk({ mode: 'nearest' }, [1, 2, 2, 2]);
    const e2 = new Executor(chan);
    const x = new Tensor('float32', Float32Array.from({ length: 32 }, (_, i) => i), [1, 2, 4, 4]);
    const got = e2.run({ X: x }).Y!;
    expect(e2.fallbacks.get(chan.nodes[0]!)).toContain('declined this run');
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(new Executor(chan, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array));
    e2.dispose();
  });
});
