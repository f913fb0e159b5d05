import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { acquireThreads, gemmSplit, releaseThreads, setActiveThreads, setMinShare } from '../../src/kernels/threads.js';
import { PackedGemmF32 } from '../../src/kernels/gemm.js';
import { arena, kernels } from '../../src/kernels/wasm.js';

/** The spec: C[i,j] = bias[j] + Σ_k A[i,k]·W[k,j], accumulated in float32 in k order (no FMA). */
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

describe('f32_gemm_4x8 (WASM SIMD) against the TS reference', () => {
  it('is bit-identical over shapes that hit every tile edge (M ≥ 2 mod 4, N mod 8, K ≥ 1), bias and clamps', () => {
    const mem = arena();
    expect(mem).toBeDefined();
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 2, max: 13 }), n: fc.integer({ min: 1, max: 27 }), k: fc.integer({ min: 1, max: 33 }), withBias: fc.boolean(), clamp: fc.boolean() })
          .chain((s) => fc.tuple(fc.constant(s), floats(s.m * s.k), floats(s.k * s.n), floats(s.n))),
        ([{ m, n, k, withBias, clamp }, a, w, b]) => {
          const bias = withBias ? b : undefined;
          const [lo, hi] = clamp ? [-1, 6] : [-Infinity, Infinity];
          const before = mem!.inUse;
          const g = new PackedGemmF32(mem!, k, n, w, bias);
          const got = g.run(a, m, lo, hi);
          g.dispose();
          expect(mem!.inUse).toBe(before); // every block handed back
          expect(Array.from(got)).toEqual(Array.from(reference(a, w, bias, m, k, n, lo, hi)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('f32_gemm_1x8 (single rows, K split into even/odd partial sums) agrees to 1e-5 of Σ|a·w|', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 27 }), k: fc.integer({ min: 1, max: 65 }), withBias: fc.boolean(), clamp: fc.boolean() })
          .chain((s) => fc.tuple(fc.constant(s), floats(s.k), floats(s.k * s.n), floats(s.n))),
        ([{ n, k, withBias, clamp }, a, w, b]) => {
          const bias = withBias ? b : undefined;
          const [lo, hi] = clamp ? [-1, 6] : [-Infinity, Infinity];
          const g = new PackedGemmF32(mem, k, n, w, bias);
          const got = g.run(a, 1, lo, hi);
          g.dispose();
          const want = reference(a, w, bias, 1, k, n, lo, hi);
          for (let j = 0; j < n; j++) {
            let mag = bias ? Math.abs(bias[j]!) : 0;
            for (let kk = 0; kk < k; kk++) mag += Math.abs(a[kk]! * w[kk * n + j]!);
            expect(Math.abs(got[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 * mag + 1e-30);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  // ONNX MatMul: "Matrix product that behaves like numpy.matmul" — the packed-A path must give f32_gemm's bits exactly
  it('f32_gemm_pa over A packed in 4-row strips (f32_gemm_pack_a4) is bit-identical to f32_gemm, any M, K, lda ≥ K', () => {
    const mem = arena()!;
    const ex = kernels()!;
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 1, max: 14 }), n: fc.integer({ min: 1, max: 27 }), k: fc.integer({ min: 1, max: 70 }), pad: fc.integer({ min: 0, max: 5 }), clamp: fc.boolean() })
          .chain((s) => fc.tuple(fc.constant(s), floats(s.m * (s.k + s.pad)), floats(s.k * s.n), floats(s.n))),
        ([{ m, n, k, pad, clamp }, a, w, b]) => {
          const [lo, hi] = clamp ? [-1, 6] : [-Infinity, Infinity];
          const lda = k + pad;
          const before = mem.inUse;
          const wp = mem.alloc(w.length * 4, 'w');
          mem.f32(wp, w.length).set(w);
          const bp = mem.alloc(n * 4, 'b');
          mem.f32(bp, n).set(b);
          const packed = mem.alloc(ex.f32_gemm_packed_size_8(n, k), 'packed');
          ex.f32_gemm_pack_8(n, k, wp, n, bp, packed);
          const ap = mem.alloc(a.length * 4, 'a');
          mem.f32(ap, a.length).set(a);
          const sp = mem.alloc(ex.f32_gemm_pa_scratch(m, k), 'strips');
          ex.f32_gemm_pack_a4(m, k, ap, lda, sp);
          const c1 = mem.alloc(m * n * 4, 'c1');
          const c2 = mem.alloc(m * n * 4, 'c2');
          ex.f32_gemm_pa(m, n, k, sp, packed, c2, n, lo, hi, 0);
          if (m > 1) {
            ex.f32_gemm(m, n, k, ap, lda, packed, c1, n, lo, hi, 0);
            expect(Array.from(mem.f32(c2, m * n))).toEqual(Array.from(mem.f32(c1, m * n)));
          } else {
            // one row: the 4×8 tile's k-ordered sums (f32_gemm itself would take the GEMV path)
            const want = reference(a.subarray(0, k), w, b, 1, k, n, lo, hi);
            expect(Array.from(mem.f32(c2, n))).toEqual(Array.from(want));
          }
          for (const p of [c2, c1, sp, ap, packed, bp, wp]) mem.release(p);
          expect(mem.inUse).toBe(before);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('MatMul over packed A strips on threads', () => {
  let threads = 1;
  let minShare = 0;
  beforeAll(async () => {
    threads = await acquireThreads(3);
    minShare = setMinShare(1); // split even small GEMMs
  });
  afterAll(() => {
    setMinShare(minShare);
    if (threads > 1) releaseThreads();
  });
  // ONNX MatMul "behaves like numpy.matmul": the thread split (8-column panels or 4-row strips of the packed A) must not
  // change a bit of C
  it('gives the same bits on 1, 2 and 3 threads, split by rows and by columns', () => {
    const rnd = (i: number) => Math.sin(i * 12.9898) * 2;
    for (const [m, k, n] of [[130, 37, 20], [9, 50, 100], [6, 3, 9]] as const) {
      const g = new Graph();
      g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [m, k] } }];
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: k * n }, (_, i) => rnd(i + 7)), [k, n]));
      g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} });
      const feeds = { A: new Tensor('float32', Float32Array.from({ length: m * k }, (_, i) => rnd(i)), [m, k]) };
      const exec = new Executor(g, { backend: 'wasm' });
      const out: Uint32Array[] = [];
      for (const t of [1, 2, 3]) {
        const prev = setActiveThreads(t);
        try {
          out.push(new Uint32Array(Float32Array.from((exec.run(feeds).Y as Tensor).data as Float32Array).buffer));
        } finally {
          setActiveThreads(prev);
        }
      }
      expect(Array.from(out[1]!)).toEqual(Array.from(out[0]!));
      expect(Array.from(out[2]!)).toEqual(Array.from(out[0]!));
    }
    expect(gemmSplit(130, 20, 2)).toBe('rows'); // the first shape takes the row split
  });
});
