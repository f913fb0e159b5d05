// Winograd F(2×2, 3×3) f32 Conv (asm/f32_winograd.ts + src/kernels/winograd.ts) against the TS reference Conv.
// ONNX Conv: Y[n, m, oy, ox] = B[m] + Σ_{c, ky, kx} X[n, c, oy − pad_top + ky, ox − pad_left + kx] · W[m, c, ky, kx]
// (stride 1, dilation 1, group 1; taps outside X read 0). Winograd is not bit-identical to the direct sum: the
// transforms reorder and rescale the arithmetic, so each output must agree to 1e-5 of Σ|x·w| + |b| (its
// condition scale). Measured worst error: 1.3e-6 of that scale over the driver property (300 runs), 5.1e-7
// through the Executor (150 runs), i.e. ≥ 7× inside the bound.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { conv2dAt } from '../../src/ir/conv-geometry.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { arena, kernels } from '../../src/kernels/wasm.js';
import { runConvWinograd, tileBlock, winogradWeights, winogradWins } from '../../src/kernels/winograd.js';
import { convF32Shape } from '../../src/kernels/conv-run.js';

interface Case {
  n: number; c: number; m: number; h: number; w: number; pads: number[]; bias: boolean; act: 'none' | 'relu' | 'clip';
}

const CLIP = [-0.5, 0.75] as const;

function build(k: Case, seed: number) {
  let r = seed;
  const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const W = Float32Array.from({ length: k.m * k.c * 9 }, rnd);
  const B = k.bias ? Float32Array.from({ length: k.m }, rnd) : undefined;
  const X = Float32Array.from({ length: k.n * k.c * k.h * k.w }, rnd);
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [k.n, k.c, k.h, k.w] } }];
  g.initializers.set('W', new Tensor('float32', W, [k.m, k.c, 3, 3]));
  if (B) g.initializers.set('B', new Tensor('float32', B, [k.m]));
  const attrs = { group: 1, strides: [1, 1], dilations: [1, 1], kernel_shape: [3, 3], pads: k.pads };
  g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', B ? 'B' : ''], outputs: [k.act === 'none' ? 'Y' : 'T'], attrs });
  if (k.act === 'relu') g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
  if (k.act === 'clip') {
    g.initializers.set('lo', new Tensor('float32', Float32Array.of(CLIP[0]), []));
    g.initializers.set('hi', new Tensor('float32', Float32Array.of(CLIP[1]), []));
    g.nodes.push({ name: 'clip', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
  }
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return { g, attrs, W, B, X: new Tensor('float32', X, [k.n, k.c, k.h, k.w]) };
}

/** Σ|x·w| + |b| per output (float64): the scale the 1e-5 tolerance is relative to. */
function scale(k: Case, X: Float32Array, W: Float32Array, B: Float32Array | undefined, oh: number, ow: number): Float64Array {
  const [pt, pl] = k.pads as [number, number];
  const s = new Float64Array(k.n * k.m * oh * ow);
  for (let n = 0; n < k.n; n++)
    for (let m = 0; m < k.m; m++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let a = B ? Math.abs(B[m]!) : 0;
          for (let c = 0; c < k.c; c++)
            for (let ky = 0; ky < 3; ky++)
              for (let kx = 0; kx < 3; kx++) {
                const iy = oy - pt + ky;
                const ix = ox - pl + kx;
                if (iy >= 0 && iy < k.h && ix >= 0 && ix < k.w) a += Math.abs(X[((n * k.c + c) * k.h + iy) * k.w + ix]! * W[((m * k.c + c) * 3 + ky) * 3 + kx]!);
              }
          s[((n * k.m + m) * oh + oy) * ow + ox] = a;
        }
  return s;
}

// C, M, H, W in 1..20 (odd and even: edge tiles half outside the output), pads 0/1/2 per side incl. asymmetric
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 20 }),
    m: fc.integer({ min: 1, max: 20 }),
    h: fc.integer({ min: 1, max: 20 }),
    w: fc.integer({ min: 1, max: 20 }),
    pads: fc.oneof(fc.constant([0, 0, 0, 0]), fc.constant([1, 1, 1, 1]), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 })),
    bias: fc.boolean(),
    act: fc.constantFrom('none', 'relu', 'clip'),
  })
  .filter((k) => k.h + k.pads[0]! + k.pads[2]! >= 3 && k.w + k.pads[1]! + k.pads[3]! >= 3) as fc.Arbitrary<Case>;

function expectClose(got: Float32Array, want: Float32Array, sc: Float64Array): number {
  let worst = 0;
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    expect(e).toBeLessThanOrEqual(1e-5 * sc[i]!);
    if (sc[i]! > 0) worst = Math.max(worst, e / sc[i]!);
  }
  return worst;
}

describe('Winograd F(2×2,3×3) conv vs the TS reference', () => {
  it('the driver agrees to 1e-5 of Σ|x·w| over sizes, pads, batch, bias and clamps (every tile block size)', () => {
    const mem = arena()!;
    const ex = kernels()!;
    fc.assert(
      fc.property(caseArb, fc.integer(), fc.constantFrom(0, 8, 16), (k, seed, blk) => {
        const { g, attrs, W, B, X } = build({ ...k, act: 'none' }, seed);
        const want = new Executor(g, { backend: 'reference' }).run({ X }).Y!;
        const { oh, ow } = conv2dAt(k.h, k.w, 3, 3, attrs);
        expect(want.dims).toEqual([k.n, k.m, oh, ow]);
        const [lo, hi] = k.act === 'relu' ? [0, Infinity] : k.act === 'clip' ? CLIP : [-Infinity, Infinity];
        const u = winogradWeights(W, k.m, k.c);
        const up = mem.alloc(u.length * 4);
        mem.f32(up, u.length).set(u);
        const bp = mem.alloc(k.m * 4);
        mem.f32(bp, k.m).set(B ?? new Float32Array(k.m));
        const xd = X.data as Float32Array;
        const xp = mem.alloc(xd.length * 4);
        mem.f32(xp, xd.length).set(xd);
        const op = runConvWinograd(mem, ex, k.m, attrs, X.dims, xp, up, bp, lo, hi, blk || undefined);
        const got = mem.f32(op, k.n * k.m * oh * ow).slice();
        for (const p of [op, xp, bp, up]) mem.release(p);
        // the clamp is the last step of the spec'd Relu/Clip: clamp the reference, and its scale is unchanged
        const ref = (want.data as Float32Array).map((v) => Math.min(Math.max(v, lo), hi));
        expectClose(got, ref, scale(k, xd, W, B, oh, ow));
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('the Conv kernel picks Winograd where it wins and fuses Relu/Clip', () => {
    let picked = 0;
    fc.assert(
      fc.property(caseArb, fc.integer(), (k, seed) => {
        const { g, attrs, W, B, X } = build(k, seed);
        const fast = new Executor(g);
        const { oh, ow } = conv2dAt(k.h, k.w, 3, 3, attrs);
        const wino = winogradWins(k.c, k.m, oh, ow);
        // where Winograd does not win: ≤ 4 input channels run the direct kernel (f32_conv2d_direct_4x8), one in and
        // one out the depthwise one, the rest im2col + GEMM
        const s = convF32Shape([k.m, k.c, 3, 3], attrs)!;
        const other = s.direct ? 'f32_conv2d_direct_4x8' : s.dw3x3 ? 'f32_dwconv3x3' : 'f32_conv2d_gemm_4x8';
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(wino ? 'f32_conv3x3_winograd_2x2' : other);
        if (k.act !== 'none') expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
        if (wino) picked++;
        const got = fast.run({ X }).Y!;
        const want = new Executor(g, { backend: 'reference' }).run({ X }).Y!;
        fast.dispose();
        expect(got.dims).toEqual(want.dims);
        expectClose(got.data as Float32Array, want.data as Float32Array, scale(k, X.data as Float32Array, W, B, oh, ow));
      }),
      { numRuns: 150, seed: 9 },
    );
    expect(picked).toBeGreaterThan(30);
  });

  // ONNX Conv reads taps outside X as 0: the padded copy holds X[c, y − pt, x − pl] inside and 0 elsewhere. Threads
  // pad bands of rows [r0, r1); any cut of [0, hp) into bands must give the same copy as one pass.
  it('the padded copy in bands of rows (threads) equals zero padding by definition', () => {
    const ex = kernels()! as unknown as { f32_wino_pad(...a: number[]): void };
    const mem = arena()!;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 19 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), (c, ih, iw, pt, pl, cuts) => {
        const th = (ih + 2 * pt - 1) >> 1;
        const hp = 2 * Math.max(1, th) + 2;
        const wp = 2 * ((((iw + 2 * pl - 1) >> 1) + 3 >> 2) << 2) + 2;
        const x = Float32Array.from({ length: c * ih * iw }, (_, i) => i + 1);
        const xp = mem.alloc(x.length * 4);
        mem.f32(xp, x.length).set(x);
        const op = mem.alloc(c * hp * wp * 4);
        mem.f32(op, c * hp * wp).fill(NaN); // every element must be written
        const bounds = [0, ...cuts.map((f) => Math.floor(f * hp)).sort((a, b) => a - b), hp];
        for (let b = 0; b + 1 < bounds.length; b++) ex.f32_wino_pad(xp, c, ih, iw, pt, pl, hp, wp, op, bounds[b]!, bounds[b + 1]!);
        const got = Array.from(mem.f32(op, c * hp * wp));
        const want: number[] = [];
        for (let ch = 0; ch < c; ch++) for (let y = 0; y < hp; y++) for (let xx = 0; xx < wp; xx++) {
          const iy = y - pt, ix = xx - pl;
          want.push(iy >= 0 && iy < ih && ix >= 0 && ix < iw ? x[(ch * ih + iy) * iw + ix]! : 0);
        }
        mem.release(xp);
        mem.release(op);
        expect(got).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it('tile blocks are multiples of 8 and cover small images in one block', () => {
    for (const [c, m, t] of [[16, 64, 784], [64, 256, 49], [1, 1, 1], [512, 512, 10000]] as const) {
      const nb = tileBlock(c, m, t);
      expect(nb % 8).toBe(0);
      expect(nb).toBeGreaterThanOrEqual(8);
      expect(nb).toBeLessThanOrEqual(Math.max(8, ((t + 7) >> 3) << 3));
    }
  });
});
