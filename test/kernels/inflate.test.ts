// The embedded kernel binary ships deflated by Zopfli (scripts/build-asm.mjs); src/kernels/inflate.ts must undo what
// it and node:zlib write, for every block type RFC 1951 §3.2.3 defines: stored (BTYPE 00, level 0), fixed Huffman (01)
// and dynamic Huffman (10) — and refuse damaged input with a typed error instead of hanging or reading past the end.
// (That the shipped module inflates to the compiler's file is checked in wasm-delta.test.ts.)
import fc from 'fast-check';
import zopfli from '@gfx/zopfli';
import { constants, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/errors.js';
import { inflateRaw } from '../../src/kernels/inflate.js';

/** bytes with runs and repeats (so the deflater emits matches at many lengths and distances) or plain noise */
const data = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 300 })), { maxLength: 60 }).map((parts) => {
    const out: number[] = [];
    for (const [p, n] of parts) for (let i = 0; i < n; i++) out.push(p[i % p.length]!);
    return Uint8Array.from(out);
  }),
);

describe('inflateRaw (RFC 1951) vs node:zlib deflateRawSync', () => {
  it('round-trips stored, fixed and dynamic blocks at every level and strategy', () => {
    fc.assert(
      fc.property(data, fc.integer({ min: 0, max: 9 }), fc.constantFrom(constants.Z_DEFAULT_STRATEGY, constants.Z_FIXED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE), (x, level, strategy) => {
        const z = deflateRawSync(x, { level, strategy });
        expect(inflateRaw(new Uint8Array(z), x.length)).toEqual(x);
      }),
      { numRuns: 300 },
    );
  });

  it("round-trips Zopfli's streams (the build's deflater: its own block splits and Huffman tables)", async () => {
    const samples = fc.sample(data, { numRuns: 40, seed: 9 });
    for (const x of samples) {
      const z = await new Promise<Uint8Array>((res, rej) => zopfli.deflate(x, { numiterations: 5 }, (e, out) => (e ? rej(e) : res(out))));
      expect(inflateRaw(z, x.length)).toEqual(x);
    }
  });

  it('a long input spans several blocks, and distances reach back 32 KB', () => {
    const x = new Uint8Array(300_000);
    for (let i = 0; i < x.length; i++) x[i] = (i * 2654435761) >>> 27 ^ (i > 40_000 ? x[i - 32_768]! : 0);
    expect(inflateRaw(new Uint8Array(deflateRawSync(x, { level: 9 })), x.length)).toEqual(x);
  });

  it('truncated or corrupted input, or a wrong size, is a ModelFormatError (no hang, no read past the end)', () => {
    fc.assert(
      fc.property(data, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.integer({ min: -3, max: 3 }), (x, at, flip, dsize) => {
        const z = new Uint8Array(deflateRawSync(x, { level: 6 }));
        const cut = z.subarray(0, at % z.length);
        expect(() => inflateRaw(cut, x.length)).toThrow(ModelFormatError);
        if (dsize !== 0 && x.length + dsize >= 0) expect(() => inflateRaw(z, x.length + dsize)).toThrow(ModelFormatError);
        const bent = z.slice();
        bent[at % z.length] ^= flip;
        try {
          const y = inflateRaw(bent, x.length); // a flip may still decode to x.length bytes: then it returned them
          expect(y.length).toBe(x.length);
        } catch (e) {
          expect(e).toBeInstanceOf(ModelFormatError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
