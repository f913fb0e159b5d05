// qs8_gemm_a4 (asm/qs8_gemm.ts): A widened to int16 and packed in 4-row groups by qs8_pack_a4, B in c2 panels by
// qs8_pack_b — against a TS reference of the same integer math (wrapping int32, as the ops' references wrap):
//   C[i,j] = Σ_k a(i,k)·b(k,j) + cb[j] + rb[i] + ru[i]·cv[j],  a = int8 (mode 0), uint8 − 128 (mode 1), uint8 (mode 2)
// over partial row groups (M % 4), K remainders (K % 8), partial panels (N % 8), strided A rows and full-range bytes.
// The requantizing epilogues are the c2 kernel's own code (store4x8); QLinearConv / ConvInteger cover them end to end.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arena, kernels } from '../../src/kernels/wasm.js';
import { rng } from '../helpers/quant-data.js';

const pad8 = (x: number) => (x + 7) & ~7;

/** A's element as the packer stores it. */
function aValue(byte: number, mode: number): number {
  if (mode === 2) return byte;
  if (mode === 1) return byte - 128;
  return (byte << 24) >> 24;
}

describe('qs8_pack_a4 + qs8_gemm_a4', () => {
  it('is bit-exact to the TS reference (int32 out, row sums, column/row biases, rank-1 term)', () => {
    const ex = kernels()!;
    const mem = arena()!;
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 13 }), k: fc.integer({ min: 1, max: 45 }), n: fc.integer({ min: 1, max: 27 }), extra: fc.integer({ min: 0, max: 5 }),
          mode: fc.constantFrom(0, 1, 2), rank1: fc.boolean(), extreme: fc.boolean(), seed: fc.integer(),
        }),
        (c) => {
          const rnd = rng(c.seed);
          const { m, k, n, mode } = c;
          const lda = k + c.extra;
          const n8 = pad8(n);
          const byte = () => (c.extreme ? (rnd() < 0.5 ? 0 : 255) : Math.floor(rnd() * 256));
          const before = mem.inUse;
          const pa = mem.alloc(m * lda + 16, 'test a');
          const pb = mem.alloc(k * n, 'test b');
          const pw = mem.alloc(ex.qs8_packed_size_8(n, k), 'test panels');
          const pp = mem.alloc(ex.qs8_packed_a4_size(m, k), 'test packed a');
          const prs = mem.alloc(m * 4, 'test row sums');
          const pcb = mem.alloc(n8 * 4, 'test cb');
          const prb = mem.alloc(m * 4, 'test rb');
          const pru = mem.alloc(m * 4, 'test ru');
          const pcv = mem.alloc(n8 * 4, 'test cv');
          const pc = mem.alloc(m * n * 4, 'test c');
          const tmp = mem.alloc(32, 'test tmp');
          try {
            const a = new Uint8Array(mem.buffer, pa, m * lda + 16);
            for (let i = 0; i < a.length; i++) a[i] = byte();
            const b = new Int8Array(mem.buffer, pb, k * n);
            for (let i = 0; i < b.length; i++) b[i] = byte() - 128;
            // written in place (TypedArray.map would return a copy outside kernel memory)
            const fill = (p: number, len: number, f: () => number) => {
              const v = new Int32Array(mem.buffer, p, len);
              for (let i = 0; i < len; i++) v[i] = f();
              return v;
            };
            const cb = fill(pcb, n8, () => Math.floor(rnd() * 2 ** 32) | 0);
            const rb = fill(prb, m, () => Math.floor(rnd() * 2 ** 32) | 0);
            const ru = fill(pru, m, () => Math.floor(rnd() * 512) - 256);
            const cv = fill(pcv, n8, () => Math.floor(rnd() * 2 ** 24) - 2 ** 23);
            ex.qs8_pack_b(n, k, pb, n, 0, pw, 0);
            ex.qs8_pack_a4(m, k, pa, lda, mode, pp, prs);
            ex.qs8_gemm_a4(m, n, k, pp, 8 * pad8(k), pw, pc, n, pcb, prb, c.rank1 ? pru : 0, c.rank1 ? pcv : 0, 0, 0, 0, 0, 0, 0, tmp);
            const got = Array.from(new Int32Array(mem.buffer, pc, m * n));
            const sums = Array.from(new Int32Array(mem.buffer, prs, m));
            const want: number[] = [];
            const wantSums: number[] = [];
            for (let i = 0; i < m; i++) {
              let s = 0;
              for (let kk = 0; kk < k; kk++) s += aValue(a[i * lda + kk]!, mode);
              wantSums.push(s);
              for (let j = 0; j < n; j++) {
                let acc = 0;
                for (let kk = 0; kk < k; kk++) acc = (acc + Math.imul(aValue(a[i * lda + kk]!, mode), b[kk * n + j]!)) | 0;
                acc = (acc + cb[j]! + rb[i]!) | 0;
                if (c.rank1) acc = (acc + Math.imul(ru[i]!, cv[j]!)) | 0;
                want.push(acc);
              }
            }
            expect(sums).toEqual(wantSums);
            expect(got).toEqual(want);
          } finally {
            for (const p of [pa, pb, pw, pp, prs, pcb, prb, pru, pcv, pc, tmp]) mem.release(p);
          }
          expect(mem.inUse).toBe(before);
        },
      ),
      { numRuns: 300 },
    );
  });
});
