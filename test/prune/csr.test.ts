import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csrGemmNT, denseGemmNT, fromCsr, toCsr } from '../../src/prune/index.js';

describe('CSR f32 GEMM', () => {
  it('toCsr/fromCsr round-trip and csrGemmNT equals the dense product (single row and batched paths)', () => {
    const arb = fc
      .record({ m: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 7 }), k: fc.integer({ min: 1, max: 11 }), bias: fc.boolean() })
      .chain((p) =>
        fc.record({
          p: fc.constant(p),
          x: fc.float32Array({ minLength: p.m * p.k, maxLength: p.m * p.k, noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }),
          w: fc.array(fc.oneof(fc.constant(0), fc.float({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 })), { minLength: p.n * p.k, maxLength: p.n * p.k }),
          b: fc.float32Array({ minLength: p.n, maxLength: p.n, noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }),
        }),
      );
    fc.assert(
      fc.property(arb, ({ p, x, w, b }) => {
        const wf = Float32Array.from(w);
        const csr = toCsr(wf, p.n, p.k);
        expect(csr.values.length).toBe(wf.filter((v) => v !== 0).length);
        expect(Array.from(fromCsr(csr))).toEqual(Array.from(wf, (v) => (v === 0 ? 0 : v)));
        const bias = p.bias ? b : undefined;
        const want = denseGemmNT(x, p.m, wf, p.n, p.k, bias);
        const got = csrGemmNT(x, p.m, csr, bias);
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * 100 * (p.k + 1) * 10);
      }),
      { numRuns: 300 },
    );
  });
  it('an all-zero weight gives the bias', () => {
    const csr = toCsr(new Float32Array(6), 2, 3);
    expect(Array.from(csrGemmNT(new Float32Array(15).fill(1), 5, csr, Float32Array.from([1, 2])))).toEqual([1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
  });
});
