// WASM Resize (asm/f32_resize.ts, tables from the reference's own taps) against the TS reference Resize, NCHW float32
// (and NHWC over H and W, transposed around the same call).
// ONNX Resize: x_original = f(x_resized) per coordinate_transformation_mode, e.g. asymmetric "x_resized / scale",
// half_pixel "(x_resized + 0.5) / scale − 0.5", pytorch_half_pixel "length_resized > 1 ? (x_resized + 0.5) / scale −
// 0.5 : 0", align_corners "x_resized · (length_original − 1) / (length_resized − 1)"; nearest picks per nearest_mode
// (round_prefer_floor, round_prefer_ceil, floor, ceil), linear interpolates the two neighbours (edge-clamped);
// "output_dimension = floor(input_dimension · scale)" when scales are given, else sizes.
// Nearest copies elements (bit-exact). Bilinear: the kernel does onnxruntime's float32 arithmetic (coordinates and
// weights rounded to float32, the four products summed left to right) and the reference float64, so a coordinate's
// rounding (≤ half an ulp of the input length, in float32) moves an output by at most that times the largest step
// between neighbouring pixels (≤ 2·max|x|), plus float32 rounding of the sum: |Δ| ≤ (2^-23·max(h, w) + 2^-20)·max|x|.
// Against onnxruntime-node itself the bilinear outputs are bit-exact (half_pixel, asymmetric, pytorch_half_pixel,
// align_corners), the property below.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const CTMS = ['asymmetric', 'half_pixel', 'align_corners', 'pytorch_half_pixel', 'half_pixel_symmetric', 'tf_half_pixel_for_nn'];
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

describe('WASM Resize vs the TS reference', () => {
  it('nearest (bit-exact) and bilinear (float32 coordinate bound) over coordinate modes, nearest modes, scales and sizes, constant or run-time', () => {
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
          else {
            const tol = (2 ** -23 * Math.max(r.h, r.w) + 2 ** -20) * Math.max(1e-30, ...Array.from(x.data as Float32Array, Math.abs));
            for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol);
          }
        },
      ),
      { numRuns: 400, seed: 13 },
    );
    expect(kernelRuns).toBeGreaterThan(300);
  });

  // onnxruntime (cpu/tensor/upsample.cc) builds its bilinear tables in float32 and sums dx2·dy2·X11 + dx1·dy2·X21 +
  // dx2·dy1·X12 + dx1·dy1·X22; the kernel's tables (kernels/resize.ts ortBilinearAxis) and sum are the same, so the
  // outputs are its bits — what keeps a dynamically quantized model that resizes (isnet, @imgly/background-removal)
  // on onnxruntime's rounding choices layer after layer.
  it('bilinear is bit-exact with onnxruntime-node (half_pixel, asymmetric, pytorch_half_pixel, align_corners; scales and sizes)', async () => {
    const { ortRun } = await import('../helpers/ort-oracle.js');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('half_pixel', 'asymmetric', 'pytorch_half_pixel', 'align_corners'),
        fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }),
        fc.tuple(fc.constantFrom(0.5, 1, 1.5, 2, 3, 4, 0.75), fc.constantFrom(0.5, 1, 2, 3, 2.5, 4)),
        fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 })), fc.boolean(), fc.integer(),
        async (ctm, h, w, scale, sizes, useSizes, seed) => {
          // align_corners / pytorch_half_pixel with a non-whole scale·length: onnxruntime and the ONNX reference read
          // different output lengths (the kernel follows the reference there, see kernels/resize.ts)
          if (!useSizes && (ctm === 'align_corners' || ctm === 'pytorch_half_pixel') && (h * scale[0] !== Math.floor(h * scale[0]) || w * scale[1] !== Math.floor(w * scale[1]))) return;
          const outH = useSizes ? sizes[0] : Math.floor(h * scale[0]);
          const outW = useSizes ? sizes[1] : Math.floor(w * scale[1]);
          if (outH < 1 || outW < 1) return;
          const g = new Graph();
          g.opsets = { '': 13 };
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 2, h, w] } }];
          g.initializers.set('roi', new Tensor('float32', new Float32Array(0), [0]));
          if (useSizes) {
            g.initializers.set('scales', new Tensor('float32', new Float32Array(0), [0]));
            g.initializers.set('sizes', new Tensor('int64', BigInt64Array.from([1n, 2n, BigInt(outH), BigInt(outW)]), [4]));
          } else g.initializers.set('scales', new Tensor('float32', Float32Array.from([1, 1, ...scale]), [4]));
          g.nodes = [{ name: 'rs', op: 'Resize', domain: '', inputs: ['X', 'roi', 'scales', ...(useSizes ? ['sizes'] : [])], outputs: ['Y'], attrs: { mode: 'linear', coordinate_transformation_mode: ctm } }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          let q = seed;
          const X = new Tensor('float32', Float32Array.from({ length: 2 * h * w }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31 - 1) * 100), [1, 2, h, w]);
          const exec = new Executor(g);
          expect(exec.kernels.get(g.nodes[0]!)?.name).toBe('f32_resize_linear');
          const got = exec.run({ X }).Y!;
          exec.dispose();
          const want = (await ortRun(g, { X })).Y!;
          expect(Array.from(new Uint32Array(Float32Array.from(got.data as Float32Array).buffer))).toEqual(Array.from(new Uint32Array(want.buffer, want.byteOffset, want.length)));
        },
      ),
      { numRuns: 300 },
    );
  });

  // asm/f32_resize.ts: four columns at a time (swizzled taps of one vector load per row) where a column plan entry
  // allows, one at a time elsewhere; the two must give the same bits. Arbitrary tables (taps anywhere in the row, not
  // only a resize's monotone ones; any weights) reach both kinds of plan entry, widths below 4 none.
  it('bilinear: the vectorised column groups give the scalar loop\'s bits for any tables', async () => {
    const { arena, kernels } = await import('../../src/kernels/wasm.js');
    const ex = kernels()!;
    const mem = arena()!;
    let vector = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 23 }), fc.integer({ min: 0, max: 3 }), fc.integer(), (planes, ih, iw, oh, ow, spread, seed) => {
        let q = seed;
        const rnd = () => (q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 32;
        const tabBytes = (oh + ow) * 16;
        const planBytes = ex.f32_resize_linear_plan_size(ow);
        const n = planes * ih * iw;
        const tab = mem.alloc(tabBytes + planBytes, 'tables');
        const xp = mem.alloc(n * 4, 'x');
        const y1 = mem.alloc(planes * oh * ow * 4, 'y1');
        const y2 = mem.alloc(planes * oh * ow * 4, 'y2');
        try {
          const i32 = new Int32Array(mem.buffer, tab, (oh + ow) * 4);
          const f32 = new Float32Array(mem.buffer, tab, (oh + ow) * 4);
          for (let o = 0; o < 2 * oh; o++) {
            i32[o] = Math.floor(rnd() * ih);
            f32[2 * oh + o] = rnd() * 2 - 0.5;
          }
          // column taps near a walking position (spread 0: a tight upsampling; larger: wider, some groups scalar)
          for (let o = 0; o < ow; o++) {
            const c = Math.floor((o * iw) / ow);
            for (let t = 0; t < 2; t++) i32[4 * oh + 2 * o + t] = Math.min(iw - 1, Math.max(0, c + t + Math.floor((rnd() - 0.5) * 2 * spread)));
            for (let t = 0; t < 2; t++) f32[4 * oh + 2 * ow + 2 * o + t] = rnd() * 2 - 0.5;
          }
          mem.f32(xp, n).set(Float32Array.from({ length: n }, () => (rnd() - 0.5) * 200));
          ex.f32_resize_linear_plan(iw, ow, tab + 16 * oh, tab + 16 * oh + 8 * ow, tab + tabBytes);
          const planI = new Int32Array(mem.buffer, tab + tabBytes, planBytes / 4);
          for (let g = 0; g < ow >> 2; g++) if (planI[g * 20 + 16]! >= 0) vector++;
          const args = [xp, planes, ih, iw, oh, ow, tab, tab + 8 * oh, tab + 16 * oh, tab + 16 * oh + 8 * ow] as const;
          ex.f32_resize_linear(...args, y1, tab + tabBytes);
          ex.f32_resize_linear(...args, y2, 0);
          const bits = (p: number) => Array.from(new Uint32Array(mem.buffer, p, planes * oh * ow));
          expect(bits(y1)).toEqual(bits(y2));
        } finally {
          for (const p of [tab, xp, y1, y2]) mem.release(p);
        }
      }),
      { numRuns: 300 },
    );
    expect(vector).toBeGreaterThan(100);
  });

  // A TFLite / Keras model written as ONNX (edgeq convert IN.tflite OUT.onnx, tf2onnx) resizes NHWC [N, H, W, C]
  // over axes 1 and 2 (full-rank sizes or scales, or opset 18's `axes` [1, 2]): MediaPipe's selfie segmentation spent
  // 80 % of its time on the reference there (62 ms of 78). The kernel transposes to NCHW around the same call, so
  // bilinear keeps onnxruntime's bits and nearest the reference's; the static plan takes it too.
  it('NHWC over H and W: bilinear bit-exact with onnxruntime-node, nearest with the reference, static plan = general path', async () => {
    const { ortRun } = await import('../helpers/ort-oracle.js');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('half_pixel', 'asymmetric', 'pytorch_half_pixel', 'align_corners'),
        fc.constantFrom('linear', 'nearest'),
        fc.record({ n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 9 }), c: fc.integer({ min: 1, max: 6 }) }),
        fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 })),
        fc.constantFrom('sizes', 'axes', 'scales'),
        fc.integer(),
        async (ctm, mode, { n, h, w, c }, [oh, ow], form, seed) => {
          // scales: whole multiples, so every coordinate mode reads the same output length as onnxruntime
          const [sh, sw] = [1 + (oh % 3), 1 + (ow % 3)];
          const [outH, outW] = form === 'scales' ? [h * sh, w * sw] : [oh, ow];
          const g = new Graph();
          g.opsets = { '': 18 };
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [n, h, w, c] } }];
          const attrs: Record<string, unknown> = { mode, coordinate_transformation_mode: ctm, ...(form === 'axes' ? { axes: [1, 2] } : {}) };
          if (form === 'scales') g.initializers.set('s', new Tensor('float32', Float32Array.of(1, sh, sw, 1), [4]));
          else g.initializers.set('s', new Tensor('int64', BigInt64Array.from(form === 'axes' ? [outH, outW] : [n, outH, outW, c], BigInt), [form === 'axes' ? 2 : 4]));
          g.nodes = [{ name: 'rs', op: 'Resize', domain: '', inputs: form === 'scales' ? ['X', '', 's'] : ['X', '', '', 's'], outputs: ['Y'], attrs: attrs as never }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          let q = seed;
          const X = new Tensor('float32', Float32Array.from({ length: n * h * w * c }, () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 31 - 1) * 100), [n, h, w, c]);
          const fast = new Executor(g);
          const slow = new Executor(g, { staticPlan: false });
          try {
            expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(mode === 'linear' ? 'f32_resize_linear' : 'f32_resize_nearest');
            const got = fast.run({ X }).Y!;
            const general = slow.run({ X }).Y!;
            expect(fast.staticPlanStatus()).toEqual({ static: true });
            expect(slow.fallbacks.get(g.nodes[0]!)).toBeUndefined();
            const bits = (a: Float32Array) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
            expect(got.dims).toEqual([n, outH, outW, c]);
            expect(bits(got.data as Float32Array)).toEqual(bits(general.data as Float32Array));
            const want = mode === 'linear' ? (await ortRun(g, { X })).Y! : (new Executor(g, { backend: 'reference' }).run({ X }).Y!.data as Float32Array);
            expect(bits(got.data as Float32Array)).toEqual(bits(want));
          } finally {
            fast.dispose();
            slow.dispose();
          }
        },
      ),
      { numRuns: 150 },
    );
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

// MediaPipe TransformTensorBilinear (v2, transform_tensor_bilinear.cc): with x_t, y_t rows 0 and 1 of the [1, 4, 4]
// matrix and the align-corners correction t[3] += t[0]·0.5 + t[1]·0.5 − 0.5, output pixel (ox, oy) samples the NHWC
// input bilinearly at (x_t·(ox, oy, 0, 1), y_t·(ox, oy, 0, 1)); a point outside [0, W−1] × [0, H−1] gives 0 and taps
// past the edge read 0. The kernel does the reference's double arithmetic: bit-exact, in-range and out-of-range points.
describe('WASM TransformTensorBilinear vs the TS reference', () => {
  it('bit-exact over sizes, channels and affine matrices (rotations, scales, shifts past the image)', async () => {
    const { TFL_DOMAIN } = await import('../../src/ir/layout.js');
    fc.assert(
      fc.property(
        fc.record({ h: fc.integer({ min: 1, max: 12 }), w: fc.integer({ min: 1, max: 12 }), c: fc.integer({ min: 1, max: 9 }), oh: fc.integer({ min: 1, max: 10 }), ow: fc.integer({ min: 1, max: 10 }), rot: fc.double({ min: -3.2, max: 3.2, noNaN: true }), sx: fc.double({ min: 0.2, max: 2.5, noNaN: true }), sy: fc.double({ min: 0.2, max: 2.5, noNaN: true }), tx: fc.double({ min: -6, max: 12, noNaN: true }), ty: fc.double({ min: -6, max: 12, noNaN: true }), integral: fc.boolean() }),
        fc.integer(),
        (r, seed) => {
          let q = seed >>> 0;
          const rnd = () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
          const g = new Graph();
          g.inputs = [
            { name: 'X', type: { dtype: 'float32', shape: [1, r.h, r.w, r.c] } },
            { name: 'T', type: { dtype: 'float32', shape: [1, 4, 4] } },
          ];
          g.nodes = [{ name: 'tt', op: 'TransformTensorBilinear', domain: TFL_DOMAIN, inputs: ['X', 'T'], outputs: ['Y'], attrs: { output_height: r.oh, output_width: r.ow } }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const [c, s] = [Math.cos(r.rot), Math.sin(r.rot)];
          // integral: a pure shift by whole pixels, so sample points land exactly on the image's last row / column
          const m = r.integral ? [1, 0, 0, Math.round(r.tx) - 0, 0, 1, 0, Math.round(r.ty), 0, 0, 1, 0, 0, 0, 0, 1] : [c * r.sx, -s * r.sy, 0, r.tx, s * r.sx, c * r.sy, 0, r.ty, 0, 0, 1, 0, 0, 0, 0, 1];
          const feeds = { X: new Tensor('float32', Float32Array.from({ length: r.h * r.w * r.c }, rnd), [1, r.h, r.w, r.c]), T: new Tensor('float32', Float32Array.from(m), [1, 4, 4]) };
          const fast = new Executor(g);
          const got = fast.run(feeds).Y!;
          expect(fast.fallbacks.size).toBe(0);
          fast.dispose();
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!;
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
        },
      ),
      { numRuns: 200, seed: 14 },
    );
  });
});
