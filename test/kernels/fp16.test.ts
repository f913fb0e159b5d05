// fp16-weight kernels (asm/f16_gemm.ts + src/kernels/fp16.ts) against the TS reference.
// Weights are halves widened exactly, so with float32 activations the 4×8 path is bit-identical to the f32 GEMM
// spec (same k order, no FMA); the GEMV path splits K in two partial sums (1e-5 of Σ|a·w|). float16 nodes round
// the f32 result to half once, the reference rounds its float64 sum: they may differ by one half ulp.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { f16ToF32, f32ArrayToF16, f16ArrayToF32 } from '../../src/tensor/fp16.js';
import { PackedGemmF16, asHalves, fp16Stats } from '../../src/kernels/fp16.js';
import { arena, kernels } from '../../src/kernels/wasm.js';
import { winogradWins } from '../../src/kernels/winograd.js';

function reference(a: Float32Array, w: Float32Array, bias: Float32Array | undefined, m: number, k: number, n: number, lo: number, hi: number) {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let kk = 0; kk < k; kk++) s = Math.fround(s + Math.fround(a[i * k + kk]! * w[kk * n + j]!));
      c[i * n + j] = Math.min(Math.max(s, lo), hi);
    }
  return c;
}

const floats = (n: number) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, min: -8, max: 8 });
/** any finite half, subnormals and -0 included */
const halves = (n: number) => fc.array(fc.integer({ min: 0, max: 0xffff }).map((h) => ((h & 0x7c00) === 0x7c00 ? h & 0x83ff : h)), { minLength: n, maxLength: n }).map((a) => Uint16Array.from(a));

describe('f16_to_f32 (WASM SIMD)', () => {
  it('widens all 65536 halves exactly (Inf, NaN, subnormals, -0)', () => {
    const mem = arena()!;
    const ex = kernels()!;
    const src = Uint16Array.from({ length: 65536 + 5 }, (_, i) => i & 0xffff); // +5: the scalar tail too
    const sp = mem.alloc(src.length * 2);
    const dp = mem.alloc(src.length * 4);
    new Uint16Array(mem.memory.buffer, sp, src.length).set(src);
    ex.f16_to_f32(src.length, sp, dp);
    const got = mem.f32(dp, src.length).slice();
    mem.release(dp);
    mem.release(sp);
    for (let i = 0; i < src.length; i++) {
      const want = f16ToF32(src[i]!);
      if (Number.isNaN(want)) expect(Number.isNaN(got[i]!)).toBe(true);
      else expect(Object.is(got[i], Math.fround(want)), `half 0x${src[i]!.toString(16)}`).toBe(true);
    }
  });
});

describe('PackedGemmF16 against the f32 GEMM spec', () => {
  for (const strategy of ['kernel', 'unpack'] as const)
    it(`${strategy}: bit-identical for M ≥ 2 over every tile edge, bias and clamps; memory handed back`, () => {
      const mem = arena()!;
      fc.assert(
        fc.property(
          fc.record({ m: fc.integer({ min: 2, max: 13 }), n: fc.integer({ min: 1, max: 27 }), k: fc.integer({ min: 1, max: 33 }), withBias: fc.boolean(), clamp: fc.boolean() })
            .chain((s) => fc.tuple(fc.constant(s), floats(s.m * s.k), halves(s.k * s.n), floats(s.n))),
          ([{ m, n, k, withBias, clamp }, a, h, b]) => {
            const bias = withBias ? b : undefined;
            const [lo, hi] = clamp ? [-1, 6] : [-Infinity, Infinity];
            const before = mem.inUse;
            const g = new PackedGemmF16(mem, k, n, h, bias, strategy);
            expect(g.bytes).toBeLessThan(kernels()!.f32_gemm_packed_size_8(n, k));
            const got = g.run(a, m, lo, hi);
            g.dispose();
            expect(mem.inUse).toBe(before);
            expect(Array.from(got)).toEqual(Array.from(reference(a, f16ArrayToF32(h), bias, m, k, n, lo, hi)));
          },
        ),
        { numRuns: 200 },
      );
    });

  it('GEMV (M = 1) agrees to 1e-5 of Σ|a·w|', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 27 }), k: fc.integer({ min: 1, max: 65 }), withBias: fc.boolean() })
          .chain((s) => fc.tuple(fc.constant(s), floats(s.k), halves(s.k * s.n), floats(s.n))),
        ([{ n, k, withBias }, a, h, b]) => {
          const bias = withBias ? b : undefined;
          const g = new PackedGemmF16(mem, k, n, h, bias);
          const got = g.run(a, 1);
          g.dispose();
          const w = f16ArrayToF32(h);
          const want = reference(a, w, bias, 1, k, n, -Infinity, Infinity);
          for (let j = 0; j < n; j++) {
            let mag = bias ? Math.abs(bias[j]!) : 0;
            for (let kk = 0; kk < k; kk++) mag += Math.abs(a[kk]! * w[kk * n + j]!);
            expect(Math.abs(got[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 * mag + 1e-30);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('asHalves', () => {
  it('takes float16 and exactly-half float32 weights, refuses the rest and Inf/NaN', () => {
    expect(asHalves(new Tensor('float32', Float32Array.of(1, -0, 0.5, 2 ** -24, 65504), [5]))).toEqual(Uint16Array.of(0x3c00, 0x8000, 0x3800, 1, 0x7bff));
    expect(asHalves(new Tensor('float32', Float32Array.of(1, 0.1), [2]))).toBeUndefined();
    expect(asHalves(new Tensor('float32', Float32Array.of(Infinity), [1]))).toBeUndefined();
    expect(asHalves(new Tensor('float16', Uint16Array.of(0x7e00), [1]))).toBeUndefined();
  });
});

// ---- whole graphs: the planned kernel vs the reference backend ----

let seed = 1;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const halfRnd = (n: number) => f32ArrayToF16(Float32Array.from({ length: n }, rnd));

function compare(g: Graph, feeds: Record<string, Tensor>, kernelName: string, tolHalf: boolean) {
  // float16 nodes as they are (the session widens them to float32: ir/passes/widen-half.ts): these tests are for
  // the float16-node kernels
  const fast = new Executor(g, { widenHalf: false });
  const names = [...fast.kernels.values()].map((k) => k.name);
  expect(names).toContain(kernelName);
  const slow = new Executor(g, { backend: 'reference' });
  const a = fast.run(feeds).Y as Tensor;
  const b = slow.run(feeds).Y as Tensor;
  fast.dispose();
  expect(a.type).toBe(b.type);
  expect(a.dims).toEqual(b.dims);
  const av = a.type === 'float16' ? f16ArrayToF32(a.data as Uint16Array) : (a.data as Float32Array);
  const bv = b.type === 'float16' ? f16ArrayToF32(b.data as Uint16Array) : (b.data as Float32Array);
  for (let i = 0; i < av.length; i++) {
    const tol = (tolHalf ? 2 ** -10 * Math.abs(bv[i]!) + 2 ** -24 : 0) + 1e-5 * Math.max(1, Math.abs(bv[i]!));
    expect(Math.abs(av[i]! - bv[i]!), `element ${i}`).toBeLessThanOrEqual(tol);
  }
}

describe('fp16 weights in graphs', () => {
  it('float32 MatMul with a small float16 initializer behind a Cast: folded to float32, the f32 kernel runs it', () => {
    for (const [m, k, n] of [[1, 37, 19], [5, 16, 8], [9, 3, 33]] as const) {
      const g = new Graph();
      g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [m, k] } }];
      g.initializers.set('Wh', new Tensor('float16', halfRnd(k * n), [k, n]));
      g.nodes.push({ name: 'cast', op: 'Cast', domain: '', inputs: ['Wh'], outputs: ['W'], attrs: { to: 1 } });
      g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'W'], outputs: ['Y'], attrs: {} });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      compare(g, { A: new Tensor('float32', Float32Array.from({ length: m * k }, rnd), [m, k]) }, 'f32_gemm_4x8', false);
    }
  });

  it('float16 Gemm (transB, bias, beta) and MatMul nodes', () => {
    for (const transB of [0, 1]) {
      const [m, k, n] = [6, 21, 11];
      const g = new Graph();
      g.inputs = [{ name: 'A', type: { dtype: 'float16', shape: [m, k] } }];
      g.initializers.set('W', new Tensor('float16', halfRnd(k * n), transB ? [n, k] : [k, n]));
      g.initializers.set('C', new Tensor('float16', halfRnd(n), [n]));
      g.nodes.push({ name: 'gemm', op: 'Gemm', domain: '', inputs: ['A', 'W', 'C'], outputs: ['Y'], attrs: { transB, beta: 0.5 } });
      g.outputs = [{ name: 'Y', type: { dtype: 'float16' } }];
      compare(g, { A: new Tensor('float16', halfRnd(m * k), [m, k]) }, 'f16w_gemm_4x8', true);
    }
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'float16', shape: [2, 3, 10] } }];
    g.initializers.set('W', new Tensor('float16', halfRnd(70), [10, 7]));
    g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'W'], outputs: ['Y'], attrs: {} });
    g.outputs = [{ name: 'Y', type: { dtype: 'float16' } }];
    compare(g, { A: new Tensor('float16', halfRnd(60), [2, 3, 10]) }, 'f16w_gemm_4x8', true);
  });

  it('Conv with fp16 weights: dense, grouped, depthwise 3×3 s1/s2, general depthwise, 1×1; small f32-behind-Cast (f32 kernels) and all-fp16', () => {
    // [c, h, m, k, stride, pad, group, dilation]
    const cases = [
      [3, 9, 5, 3, 1, 1, 1, 1], [4, 8, 6, 3, 2, 0, 2, 1], [6, 10, 6, 3, 1, 1, 6, 1], [5, 11, 5, 3, 2, 1, 5, 1],
      [4, 9, 4, 5, 1, 2, 4, 2], [7, 6, 9, 1, 1, 0, 1, 1],
    ] as const;
    for (const half of [false, true])
      for (const [c, h, m, k, s, p, group, d] of cases) {
        const dt = half ? 'float16' : 'float32';
        const g = new Graph();
        g.inputs = [{ name: 'X', type: { dtype: dt, shape: [2, c, h, h] } }];
        g.initializers.set('Wh', new Tensor('float16', halfRnd((m * c * k * k) / group), [m, c / group, k, k]));
        g.initializers.set('Bh', new Tensor('float16', halfRnd(m), [m]));
        if (!half) {
          g.nodes.push({ name: 'cw', op: 'Cast', domain: '', inputs: ['Wh'], outputs: ['W'], attrs: { to: 1 } });
          g.nodes.push({ name: 'cb', op: 'Cast', domain: '', inputs: ['Bh'], outputs: ['B'], attrs: { to: 1 } });
        }
        const attrs = { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], group, dilations: [d, d] };
        g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', half ? 'Wh' : 'W', half ? 'Bh' : 'B'], outputs: ['Y'], attrs });
        g.outputs = [{ name: 'Y', type: { dtype: dt } }];
        const n = 2 * c * h * h;
        const x = half ? new Tensor('float16', halfRnd(n), [2, c, h, h]) : new Tensor('float32', Float32Array.from({ length: n }, rnd), [2, c, h, h]);
        // all-fp16 nodes keep halves; float32 nodes get the small Cast folded and run the f32 kernels
        const pre = half ? 'f16w' : 'f32';
        const wino = !half && group === 1 && k === 3 && s === 1 && d === 1 && winogradWins(c, m, h + 2 * p - 2, h + 2 * p - 2); // f32: Winograd where it wins
        const want = wino ? 'f32_conv3x3_winograd_2x2' : c / group === 1 && m === group ? ((k === 3 || k === 5) && d === 1 ? `${pre}_dwconv${k}x${k}` : `${pre}_dwconv2d`) : `${pre}_conv2d_gemm_4x8`;
        compare(g, { X: x }, want, half);
      }
  });

  it('a float16 weight too big to fold behind its Cast still reaches the fp16 kernel (MatMul, Gemm, Conv)', () => {
    const [m, k, n] = [3, 300, 250]; // 75000 weights > the 2^16 folding limit
    for (const op of ['MatMul', 'Gemm', 'Conv'] as const) {
      const g = new Graph();
      const conv = op === 'Conv';
      const xd = conv ? [1, 300, 5, 5] : [m, k];
      const wd = conv ? [250, 300, 1, 1] : op === 'Gemm' ? [n, k] : [k, n];
      g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: xd } }];
      g.initializers.set('Wh', new Tensor('float16', halfRnd(k * n), wd));
      g.nodes.push({ name: 'cast', op: 'Cast', domain: '', inputs: ['Wh'], outputs: ['W'], attrs: { to: 1 } });
      g.nodes.push({ name: 'op', op, domain: '', inputs: ['A', 'W'], outputs: ['Y'], attrs: op === 'Gemm' ? { transB: 1 } : conv ? { kernel_shape: [1, 1] } : {} });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      const a = new Tensor('float32', Float32Array.from({ length: xd.reduce((p, q) => p * q, 1) }, rnd), xd);
      // a Conv weight's Cast folds in canonicalize (next test): the f16w conv kernel is checked on the graph as is
      const fast = new Executor(g, conv ? { canonicalize: false } : {});
      expect([...fast.kernels.values()].map((kk) => kk.name)).toEqual(['f16_to_f32', conv ? 'f16w_conv2d_gemm_4x8' : 'f16w_gemm_4x8']);
      const slow = new Executor(g, { backend: 'reference' });
      const want = slow.run({ A: a }).Y as Tensor;
      let misses = 0;
      for (let r = 0; r < 3; r++) {
        if (r === 1) misses = fp16Stats.castMisses;
        const got = fast.run({ A: a }).Y as Tensor;
        const gv = got.data as Float32Array;
        const wv = want.data as Float32Array;
        for (let i = 0; i < wv.length; i++) expect(Math.abs(gv[i]! - wv[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(wv[i]!)) * 10);
      }
      // steady state: the kernel ran (no fallback to the reference once memory stopped growing)
      expect(fp16Stats.castMisses).toBe(misses);
      // the Cast itself does not run: its only consumer keeps the halves (the plan elides it) …
      fast.profile = new Map();
      fast.run({ A: a });
      expect([...fast.profile.keys()]).toEqual([conv ? 'f16w_conv2d_gemm_4x8' : 'f16w_gemm_4x8']);
      // … unless its output is fetched, which computes it (ONNX Cast: float16 → float32 is exact)
      const w = fast.run({ A: a }, ['W', 'Y']).W as Tensor;
      const halves = (g.initializers.get('Wh')!.data as Uint16Array);
      expect(Array.from(w.data as Float32Array)).toEqual(Array.from(f16ArrayToF32(halves)));
      const eager = new Executor(g, { elideUnread: false, ...(conv ? { canonicalize: false } : {}) });
      eager.profile = new Map();
      eager.run({ A: a });
      expect(eager.profile.has('f16_to_f32')).toBe(true);
      eager.dispose();
      fast.dispose();
    }
  });

  // ONNX Cast: "casting from float16 to float32 is exact" — so folding a conv weight's Cast changes no value; the
  // float32 conv kernels (here the dense GEMM; sparse / Winograd / depthwise where they apply) then take it, while a
  // MatMul weight of the same size keeps its halves
  it('canonicalize folds a big float16 Conv weight behind its Cast to float32 and keeps a MatMul weight as halves', () => {
    for (const op of ['Conv', 'MatMul'] as const) {
      const conv = op === 'Conv';
      const g = new Graph();
      const xd = conv ? [1, 300, 5, 5] : [3, 300];
      g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: xd } }];
      g.initializers.set('Wh', new Tensor('float16', halfRnd(75000), conv ? [250, 300, 1, 1] : [300, 250]));
      g.nodes.push({ name: 'cast', op: 'Cast', domain: '', inputs: ['Wh'], outputs: ['W'], attrs: { to: 1 } });
      g.nodes.push({ name: 'op', op, domain: '', inputs: ['A', 'W'], outputs: ['Y'], attrs: conv ? { kernel_shape: [1, 1] } : {} });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      const a = new Tensor('float32', Float32Array.from({ length: xd.reduce((p, q) => p * q, 1) }, rnd), xd);
      const fast = new Executor(g);
      expect([...fast.kernels.values()].map((kk) => kk.name)).toEqual(conv ? ['f32_conv2d_gemm_4x8'] : ['f16_to_f32', 'f16w_gemm_4x8']);
      const got = fast.run({ A: a }).Y as Tensor;
      const want = new Executor(g, { backend: 'reference' }).run({ A: a }).Y as Tensor;
      const gv = got.data as Float32Array;
      const wv = want.data as Float32Array;
      for (let i = 0; i < wv.length; i++) expect(Math.abs(gv[i]! - wv[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(wv[i]!)) * 10);
      fast.dispose();
    }
  });

  it('float32 weights that are not halves stay with the f32 kernels', () => {
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [4, 3] } }];
    g.initializers.set('W', new Tensor('float32', Float32Array.of(0.1, 1, 2, 3, 4, 5), [3, 2]));
    g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'W'], outputs: ['Y'], attrs: {} });
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    expect([...ex.kernels.values()].map((k) => k.name)).toEqual(['f32_gemm_4x8']);
    ex.dispose();
  });
});
