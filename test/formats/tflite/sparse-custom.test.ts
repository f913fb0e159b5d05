// TFLite sparse constants (schema.fbs SparsityParameters, densified at load by src/formats/tflite/sparse.ts) and
// MediaPipe's Convolution2DTransposeBias custom op, on hand-built .tflite files.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../../src/errors.js';
import type { TflSparsity } from '../../../src/formats/tflite/model.js';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import { densify } from '../../../src/formats/tflite/sparse.js';
import '../../../src/ops/index.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { type SparsitySpec, type TflSpec, buildTflite } from '../../helpers/tflite-builder.js';

const f32 = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

/**
 * Encode a dense tensor in TFLite's sparse format (the inverse of FormatConverter::SparseToDense): the expanded
 * tensor (blocked dims split into outer / block dims) is walked in traversal order; a SPARSE_CSR level keeps the
 * children whose subtree holds a non-zero, a DENSE level keeps all.
 */
function encode(dense: number[], shape: number[], order: number[], blockMap: number[], blocks: number[], formats: (0 | 1)[]) {
  const n = shape.length;
  const expanded = [...shape];
  blockMap.forEach((d, i) => {
    expanded[d] = shape[d]! / blocks[i]!;
    expanded.push(blocks[i]!);
  });
  const L = order.length;
  const strides: number[] = [];
  for (let d = n - 1, s = 1; d >= 0; d--) (strides[d] = s), (s *= shape[d]!);
  const at = (idx: number[]) => {
    const orig = new Array<number>(n);
    for (let i = 0; i < n; i++) orig[order[i]!] = idx[i]!;
    for (let i = n; i < L; i++) {
      const b = order[i]! - n;
      orig[blockMap[b]!] = orig[blockMap[b]!]! * blocks[b]! + idx[i]!;
    }
    return dense[orig.reduce((a, v, d) => a + v * strides[d]!, 0)]!;
  };
  const nonzero = (idx: number[], l: number): boolean => {
    if (l === L) return at(idx) !== 0;
    for (let i = 0; i < expanded[order[l]!]!; i++) if (nonzero([...idx, i], l + 1)) return true;
    return false;
  };
  const dims: SparsitySpec['dims'] = formats.map((f, l) => (f === 0 ? { format: 0, denseSize: expanded[order[l]!]! } : { format: 1, segments: [1, [0]], indices: [1, []] }));
  const values: number[] = [];
  const walk = (idx: number[], l: number) => {
    if (l === L) return void values.push(at(idx));
    const size = expanded[order[l]!]!;
    for (let i = 0; i < size; i++) {
      if (formats[l] === 1) {
        if (!nonzero([...idx, i], l + 1)) continue;
        dims[l]!.indices![1].push(i);
      }
      walk([...idx, i], l + 1);
    }
    if (formats[l] === 1) dims[l]!.segments![1].push(dims[l]!.indices![1].length);
  };
  walk([], 0);
  return { values, sparsity: { traversalOrder: order, blockMap, dims } as SparsitySpec };
}

const toTfl = (sp: SparsitySpec): TflSparsity => ({
  traversalOrder: sp.traversalOrder,
  blockMap: sp.blockMap,
  dims: sp.dims.map((d) => (d.format === 0 ? { format: 'DENSE', denseSize: d.denseSize! } : { format: 'SPARSE_CSR', segments: Int32Array.from(d.segments![1]), indices: Int32Array.from(d.indices![1]) })),
});

/** x[1,K] → DENSIFY(sparse W[U,K]) → FULLY_CONNECTED(x, W, b) → y[1,U] */
function fcModel(U: number, K: number, values: number[], sp: SparsitySpec, bias: number[], valueType = 0): Uint8Array {
  const spec: TflSpec = {
    tensors: [
      { shape: [1, K], type: 0, buffer: 0, name: 'x' },
      { shape: [U, K], type: valueType, buffer: 1, name: 'w_sparse', sparsity: sp },
      { shape: [U, K], type: 0, buffer: 0, name: 'w' },
      { shape: [U], type: 0, buffer: 2, name: 'b' },
      { shape: [1, U], type: 0, buffer: 0, name: 'y' },
    ],
    buffers: [new Uint8Array(0), f32(values), f32(bias)],
    opcodes: [124, 9],
    ops: [
      { opcode: 0, inputs: [1], outputs: [2] },
      { opcode: 1, inputs: [0, 2, 3], outputs: [4] },
    ],
    inputs: [0],
    outputs: [4],
  };
  return buildTflite(spec);
}

describe('TFLite sparse tensors', () => {
  // schema.fbs: "a 4x4 matrix ... in CSR format: dim_metadata[0] DENSE dense_size 4, dim_metadata[1] SPARSE_CSR
  // array_segments [0, 3, 4, 5, 6], array_indices [0, 2, 3, 1, 2, 3]" — row-major, values in traversal order
  const M = [1, 0, 2, 3, 0, 4, 0, 0, 0, 0, 5, 0, 0, 0, 0, 6];
  it('CSR 4x4 from the schema comment densifies to the matrix, and FULLY_CONNECTED runs on it', async () => {
    const sp: SparsitySpec = { traversalOrder: [0, 1], blockMap: [], dims: [{ format: 0, denseSize: 4 }, { format: 1, segments: [1, [0, 3, 4, 5, 6]], indices: [1, [0, 2, 3, 1, 2, 3]] }] };
    const out = new Float32Array(16);
    densify(Float32Array.of(1, 2, 3, 4, 5, 6), [4, 4], toTfl(sp), out, 'w');
    expect(Array.from(out)).toEqual(M);
    const s = await InferenceSession.create(fcModel(4, 4, [1, 2, 3, 4, 5, 6], sp, [0.5, 0, 0, -1]));
    const x = [1, 2, 3, 4];
    const y = (await s.run({ x: new Tensor('float32', Float32Array.from(x), [1, 4]) })).y!.data as Float32Array;
    // fully_connected.cc: y[u] = Σ_k x[k]·W[u, k] + b[u]
    const want = [0, 1, 2, 3].map((u) => x.reduce((a, v, k) => a + v * M[u * 4 + k]!, 0) + [0.5, 0, 0, -1][u]!);
    expect(Array.from(y)).toEqual(want);
  });

  it('uint8 and uint16 index vectors read like int32 ones', () => {
    for (const t of [2, 3] as const) {
      const sp: SparsitySpec = { traversalOrder: [0, 1], blockMap: [], dims: [{ format: 0, denseSize: 4 }, { format: 1, segments: [t, [0, 3, 4, 5, 6]], indices: [t, [0, 2, 3, 1, 2, 3]] }] };
      const g = readTflite(fcModel(4, 4, [1, 2, 3, 4, 5, 6], sp, [0, 0, 0, 0]));
      expect(Array.from(g.initializers.get('w_sparse')!.data as Float32Array)).toEqual(M);
    }
  });

  it('property: random tensors encoded in any traversal order / block map / level formats densify back exactly', () => {
    const arb = fc
      .record({ r: fc.integer({ min: 1, max: 3 }), b0: fc.constantFrom(1, 2, 3), b1: fc.constantFrom(1, 2, 4), c: fc.integer({ min: 1, max: 3 }), swap: fc.boolean(), block: fc.constantFrom(0, 1, 2), density: fc.double({ min: 0, max: 1, noNaN: true }), seed: fc.integer(), f: fc.array(fc.constantFrom(0 as const, 1 as const), { minLength: 4, maxLength: 4 }) })
      .map((p) => p);
    fc.assert(
      fc.property(arb, (p) => {
        const shape = [p.r * p.b0, p.c * p.b1];
        let seed = p.seed >>> 0;
        const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
        const dense = Array.from({ length: shape[0]! * shape[1]! }, () => (rnd() < p.density ? Math.round(rnd() * 200 - 100) || 0 : 0));
        // block: 0 none, 1 dim 1 blocked by b1, 2 both dims blocked
        const blockMap = p.block === 0 ? [] : p.block === 1 ? [1] : [0, 1];
        const blocks = p.block === 0 ? [] : p.block === 1 ? [p.b1] : [p.b0, p.b1];
        const order = [...(p.swap ? [1, 0] : [0, 1]), ...blockMap.map((_, i) => 2 + i)];
        const formats = order.map((_, l) => (l < 2 ? p.f[l]! : 0)) as (0 | 1)[];
        const { values, sparsity } = encode(dense, shape, order, blockMap, blocks, formats);
        const out = new Float32Array(dense.length);
        densify(Float32Array.from(values), shape, toTfl(sparsity), out, 'w');
        expect(Array.from(out)).toEqual(dense);
      }),
      { numRuns: 300 },
    );
  });

  const bad: [string, () => SparsitySpec, number[], RegExp][] = [
    ['an index past the dimension', () => ({ traversalOrder: [0, 1], blockMap: [], dims: [{ format: 0, denseSize: 4 }, { format: 1, segments: [1, [0, 3, 4, 5, 6]], indices: [1, [0, 2, 4, 1, 2, 3]] }] }), [1, 2, 3, 4, 5, 6], /array_indices\[2\] = 4 outside 0..3/],
    ['decreasing segments', () => ({ traversalOrder: [0, 1], blockMap: [], dims: [{ format: 0, denseSize: 4 }, { format: 1, segments: [1, [0, 5, 4, 5, 6]], indices: [1, [0, 2, 3, 1, 2, 3]] }] }), [1, 2, 3, 4, 5, 6], /decrease/],
    ['too few segments', () => ({ traversalOrder: [0, 1], blockMap: [], dims: [{ format: 0, denseSize: 4 }, { format: 1, segments: [1, [0, 3, 6]], indices: [1, [0, 2, 3, 1, 2, 3]] }] }), [1, 2, 3, 4, 5, 6], /3 array_segments for 4 parent positions/],
    ['more values than leaves', () => ({ traversalOrder: [0, 1], blockMap: [], dims: [{ format: 0, denseSize: 4 }, { format: 1, segments: [1, [0, 3, 4, 5, 6]], indices: [1, [0, 2, 3, 1, 2, 3]] }] }), [1, 2, 3, 4, 5, 6, 7], /describes 6 stored values, the buffer holds 7/],
    ['a dense size that is not the dimension', () => ({ traversalOrder: [0, 1], blockMap: [], dims: [{ format: 0, denseSize: 5 }, { format: 0, denseSize: 4 }] }), new Array(20).fill(1), /DENSE of size 5/],
    ['a traversal order that is not a permutation', () => ({ traversalOrder: [0, 0], blockMap: [], dims: [{ format: 0, denseSize: 4 }, { format: 0, denseSize: 4 }] }), new Array(16).fill(1), /not a permutation/],
    ['a block size that does not divide the dimension', () => ({ traversalOrder: [0, 1, 2], blockMap: [1], dims: [{ format: 0, denseSize: 4 }, { format: 0, denseSize: 2 }, { format: 0, denseSize: 3 }] }), new Array(16).fill(1), /block size 3 does not divide/],
    ['dim_metadata count ≠ traversal levels', () => ({ traversalOrder: [0, 1], blockMap: [], dims: [{ format: 0, denseSize: 4 }] }), new Array(16).fill(1), /1 dim_metadata for 2 traversal levels/],
  ];
  for (const [what, sp, values, re] of bad)
    it(`rejects ${what} with a ModelFormatError`, () => {
      const e = (() => {
        try {
          readTflite(fcModel(4, 4, values, sp(), [0, 0, 0, 0]));
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(ModelFormatError);
      expect((e as Error).message).toMatch(/w_sparse/);
      expect((e as Error).message).toMatch(re);
    });
});

/** MediaPipe transpose_conv_bias.cc Eval, written out: bias-initialised output, every input pixel scattered. */
function mediapipeRef(x: Float32Array, [N, H, W, C]: number[], w: Float32Array, [O, KH, KW]: number[], b: Float32Array, padding: 1 | 2, sh: number, sw: number) {
  const P = (K: number, i: number, s: number) => (padding === 1 ? Math.max(0, K - ((i - 1) % s) - 1) : 0);
  const ph = P(KH, H, sh), pw = P(KW, W, sw);
  const OH = sh * (H - 1) + KH - ph, OW = sw * (W - 1) + KW - pw;
  const y = new Float32Array(N * OH * OW * O);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < OH * OW; i++) for (let o = 0; o < O; o++) y[(n * OH * OW + i) * O + o] = b[o]!;
    for (let iy = 0; iy < H; iy++)
      for (let ix = 0; ix < W; ix++)
        for (let c = 0; c < C; c++)
          for (let ky = 0; ky < KH; ky++)
            for (let kx = 0; kx < KW; kx++)
              for (let o = 0; o < O; o++) {
                const oy = iy * sh - Math.floor(ph / 2) + ky, ox = ix * sw - Math.floor(pw / 2) + kx;
                if (oy >= 0 && oy < OH && ox >= 0 && ox < OW) y[((n * OH + oy) * OW + ox) * O + o]! += x[((n * H + iy) * W + ix) * C + c]! * w[((o * KH + ky) * KW + kx) * C + c]!;
              }
  }
  return { y, dims: [N, OH, OW, O] };
}

function customModel(xs: number[], ws: number[], w: number[], b: number[], ys: number[], options: Uint8Array): Uint8Array {
  return buildTflite({
    tensors: [
      { shape: xs, type: 0, buffer: 0, name: 'x' },
      { shape: ws, type: 0, buffer: 1, name: 'w' },
      { shape: [ws[0]!], type: 0, buffer: 2, name: 'b' },
      { shape: ys, type: 0, buffer: 0, name: 'y' },
    ],
    buffers: [new Uint8Array(0), f32(w), f32(b)],
    opcodes: [32],
    customCodes: { 0: 'Convolution2DTransposeBias' },
    ops: [{ opcode: 0, inputs: [0, 1, 2], outputs: [3], customOptions: options }],
    inputs: [0],
    outputs: [3],
  });
}
const params = (padding: number, sw: number, sh: number) => new Uint8Array(Int32Array.of(padding, sw, sh).buffer);

describe("MediaPipe's Convolution2DTransposeBias", () => {
  it('property: matches transpose_conv_bias.cc over random sizes, strides, kernels and SAME / VALID', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ H: fc.integer({ min: 1, max: 6 }), W: fc.integer({ min: 1, max: 6 }), C: fc.integer({ min: 1, max: 3 }), O: fc.integer({ min: 1, max: 3 }), KH: fc.integer({ min: 1, max: 4 }), KW: fc.integer({ min: 1, max: 4 }), sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }), same: fc.boolean() }),
        async (p) => {
          const xs = [1, p.H, p.W, p.C], ws = [p.O, p.KH, p.KW, p.C];
          const x = Float32Array.from({ length: p.H * p.W * p.C }, (_, i) => Math.sin(i * 1.3) * 2);
          const w = Float32Array.from({ length: p.O * p.KH * p.KW * p.C }, (_, i) => Math.cos(i * 0.7));
          const b = Float32Array.from({ length: p.O }, (_, i) => i - 0.5);
          const padding = p.same ? 1 : 2;
          const want = mediapipeRef(x, xs, w, ws, b, padding, p.sh, p.sw);
          const s = await InferenceSession.create(customModel(xs, ws, Array.from(w), Array.from(b), want.dims, params(padding, p.sw, p.sh)));
          const got = (await s.run({ x: new Tensor('float32', x, xs) })).y!;
          expect(got.dims).toEqual(want.dims);
          const d = got.data as Float32Array;
          for (let i = 0; i < d.length; i++) expect(Math.abs(d[i]! - want.y[i]!)).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 60 },
    );
  });

  for (const [what, opts, re] of [
    ['8-byte custom_options', new Uint8Array(8), /custom_options has 8 bytes/],
    ['padding 0 (unknown)', params(0, 1, 1), /padding 0 is neither SAME/],
    ['stride 0', params(1, 0, 1), /strides 1x0/],
  ] as const)
    it(`rejects ${what} with a ModelFormatError`, () => {
      expect(() => readTflite(customModel([1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], [0], [1, 4, 4, 1], opts))).toThrow(ModelFormatError);
      expect(() => readTflite(customModel([1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], [0], [1, 4, 4, 1], opts))).toThrow(re);
    });
});

const poolParams = (padding: number, sw: number, sh: number, fw: number, fh: number, act = 0) => new Uint8Array(Int32Array.of(padding, sw, sh, fw, fh, act, 0, 0, 0, 0).buffer);

/** x → MaxPoolingWithArgmax2D → (y, idx) → MaxUnpooling2D → u; plus the builtin MAX_POOL_2D of x as m */
function poolModel(xs: number[], ys: number[], p: { padding: number; s: number; f: number; act?: number }): Uint8Array {
  const us = [xs[0]!, ys[1]! * p.f, ys[2]! * p.f, xs[3]!];
  return buildTflite({
    tensors: [
      { shape: xs, type: 0, buffer: 0, name: 'x' },
      { shape: ys, type: 0, buffer: 0, name: 'y' },
      { shape: ys, type: 0, buffer: 0, name: 'idx' },
      { shape: us, type: 0, buffer: 0, name: 'u' },
      { shape: ys, type: 0, buffer: 0, name: 'm' },
    ],
    buffers: [new Uint8Array(0)],
    opcodes: [32, 32, 17],
    customCodes: { 0: 'MaxPoolingWithArgmax2D', 1: 'MaxUnpooling2D' },
    ops: [
      { opcode: 0, inputs: [0], outputs: [1, 2], customOptions: poolParams(p.padding, p.s, p.s, p.f, p.f, p.act ?? 0) },
      { opcode: 1, inputs: [1, 2], outputs: [3], customOptions: poolParams(p.padding, p.s, p.s, p.f, p.f) },
      // Pool2DOptions: padding (SAME 0 / VALID 1), stride_w, stride_h, filter_width, filter_height, activation
      { opcode: 2, inputs: [0], outputs: [4], options: { type: 5, fields: [[0, 'i8', p.padding === 1 ? 0 : 1], [1, 'i32', p.s], [2, 'i32', p.s], [3, 'i32', p.f], [4, 'i32', p.f], [5, 'i8', p.act ?? 0]] } },
    ],
    inputs: [0],
    outputs: [1, 2, 3, 4],
  });
}

describe("MediaPipe's MaxPoolingWithArgmax2D / MaxUnpooling2D", () => {
  it('property: the pooled values are TFLite MAX_POOL_2D, each index names its max in the window, and unpooling puts every max back there', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record({ h: fc.integer({ min: 1, max: 4 }), w: fc.integer({ min: 1, max: 4 }), C: fc.integer({ min: 1, max: 3 }), f: fc.integer({ min: 1, max: 3 }), same: fc.boolean(), relu: fc.boolean(), seed: fc.integer() }), async (p) => {
        // unpooling inverts pooling when windows tile the input: stride = filter, H and W multiples of it
        const [H, W] = [p.h * p.f, p.w * p.f];
        const xs = [1, H, W, p.C], ys = [1, p.h, p.w, p.C];
        let seed = p.seed >>> 0;
        const x = Float32Array.from({ length: H * W * p.C }, () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 4 - 2);
        const act = p.relu ? 1 : 0;
        const s = await InferenceSession.create(poolModel(xs, ys, { padding: p.same ? 1 : 2, s: p.f, f: p.f, act }));
        const r = await s.run({ x: new Tensor('float32', x, xs) });
        const [y, idx, u, m] = ['y', 'idx', 'u', 'm'].map((k) => r[k]!.data as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
        expect(Array.from(y)).toEqual(Array.from(m));
        expect(r.u!.dims).toEqual([1, H, W, p.C]);
        const kept = new Set<number>();
        for (let oy = 0; oy < p.h; oy++)
          for (let ox = 0; ox < p.w; ox++)
            for (let c = 0; c < p.C; c++) {
              const o = (oy * p.w + ox) * p.C + c;
              // "indices = max_y * filter_width + max_x + 0.1f"
              const k = idx[o]! - 0.1;
              expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-5);
              const [fy, fx] = [Math.floor(Math.round(k) / p.f), Math.round(k) % p.f];
              const at = ((oy * p.f + fy) * W + ox * p.f + fx) * p.C + c;
              expect(Math.max(act ? 0 : -Infinity, x[at]!)).toBe(y[o]);
              for (let a = 0; a < p.f; a++) for (let b = 0; b < p.f; b++) expect(x[((oy * p.f + a) * W + ox * p.f + b) * p.C + c]!).toBeLessThanOrEqual(x[at]!);
              expect(u[at]).toBe(y[o]);
              kept.add(at);
            }
        for (let i = 0; i < u.length; i++) if (!kept.has(i)) expect(u[i]).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('rejects short custom_options (ModelFormatError) and an index outside the window at run time (ShapeError)', async () => {
    const unpool = (options: Uint8Array) =>
      buildTflite({
        tensors: [
          { shape: [1, 2, 2, 1], type: 0, buffer: 0, name: 'x' },
          { shape: [1, 2, 2, 1], type: 0, buffer: 0, name: 'i' },
          { shape: [1, 4, 4, 1], type: 0, buffer: 0, name: 'u' },
        ],
        buffers: [new Uint8Array(0)],
        opcodes: [32],
        customCodes: { 0: 'MaxUnpooling2D' },
        ops: [{ opcode: 0, inputs: [0, 1], outputs: [2], customOptions: options }],
        inputs: [0, 1],
        outputs: [2],
      });
    expect(() => readTflite(unpool(poolParams(2, 2, 2, 2, 2).subarray(0, 20)))).toThrow(/TfLitePoolParams needs 24/);
    const ok = unpool(poolParams(2, 2, 2, 2, 2));
    const s = await InferenceSession.create(ok);
    const x = new Tensor('float32', Float32Array.of(1, 2, 3, 4), [1, 2, 2, 1]);
    const good = await s.run({ x, i: new Tensor('float32', Float32Array.of(0.1, 1.1, 2.1, 3.1), [1, 2, 2, 1]) });
    // max_unpooling.cc: idx → (idx / filter_width, idx % filter_width) inside the window at (in_y·s, in_x·s)
    expect(Array.from(good.u!.data as Float32Array)).toEqual([1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 4]);
    await expect(s.run({ x, i: new Tensor('float32', Float32Array.of(0, 1, 2, 7), [1, 2, 2, 1]) })).rejects.toThrow(/index 7 .* outside the 2x2 window/);
  });
});
