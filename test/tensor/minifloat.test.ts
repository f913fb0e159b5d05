import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MINIFLOATS, miniToNumber, numberToMini } from '../../src/tensor/minifloat.js';

describe('narrow float codes (bfloat16, float8, float4, e8m0)', () => {
  it('every code but NaN decodes and encodes back to itself', () => {
    for (const t of MINIFLOATS) {
      const n = t === 'bfloat16' ? 1 << 16 : t === 'float4e2m1' ? 16 : 256;
      for (let c = 0; c < n; c++) {
        const v = miniToNumber(t, c);
        if (Number.isNaN(v)) continue;
        const back = numberToMini(t, v, Number.isFinite(v)); // saturate=1 maps ±Inf to ±max
        expect(miniToNumber(t, back), `${t} code ${c}`).toBe(v);
      }
    }
  });

  // ONNX Cast (float8 table): saturate=1: "x > FLT_MAX → FLT_MAX, Inf → FLT_MAX"; saturate=0: E4M3FN/E4M3FNUZ/E5M2FNUZ
  // give NaN, E5M2 gives ±Inf
  it('saturates or overflows as the Cast table says', () => {
    expect(miniToNumber('float8e4m3fn', numberToMini('float8e4m3fn', 1e6))).toBe(448);
    expect(miniToNumber('float8e4m3fn', numberToMini('float8e4m3fn', -Infinity))).toBe(-448);
    expect(miniToNumber('float8e4m3fn', numberToMini('float8e4m3fn', 1e6, false))).toBeNaN();
    expect(miniToNumber('float8e4m3fnuz', numberToMini('float8e4m3fnuz', 1e6))).toBe(240);
    expect(miniToNumber('float8e5m2', numberToMini('float8e5m2', 1e6, false))).toBe(Infinity);
    expect(miniToNumber('float8e5m2', numberToMini('float8e5m2', -1e6, false))).toBe(-Infinity);
    expect(miniToNumber('float8e5m2fnuz', numberToMini('float8e5m2fnuz', Infinity, false))).toBeNaN();
    // "FNUZ: no negative zero": -0 encodes as +0
    expect(numberToMini('float8e4m3fnuz', -0)).toBe(0);
    expect(numberToMini('float8e4m3fn', -0)).toBe(0x80);
    expect(miniToNumber('float4e2m1', numberToMini('float4e2m1', 100))).toBe(6);
  });

  it('rounds to the nearest representable value, ties to even (fast-check against a brute-force search)', () => {
    for (const t of ['float8e4m3fn', 'float8e5m2', 'float8e4m3fnuz', 'float4e2m1'] as const) {
      const n = t === 'float4e2m1' ? 16 : 256;
      const values: [number, number][] = [];
      for (let c = 0; c < n; c++) if (Number.isFinite(miniToNumber(t, c))) values.push([miniToNumber(t, c), c]);
      const max = Math.max(...values.map((v) => v[0]));
      fc.assert(
        fc.property(fc.double({ min: -max, max, noNaN: true }), (x) => {
          const got = miniToNumber(t, numberToMini(t, x));
          let best = Infinity;
          for (const [v] of values) best = Math.min(best, Math.abs(v - x));
          expect(Math.abs(got - x)).toBe(best);
        }),
      );
    }
  });

  it('bfloat16 rounds float32 to nearest even and keeps NaN', () => {
    expect(numberToMini('bfloat16', 1)).toBe(0x3f80);
    expect(numberToMini('bfloat16', 1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(numberToMini('bfloat16', 1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(miniToNumber('bfloat16', numberToMini('bfloat16', NaN))).toBeNaN();
  });
});
