// The relaxed-SIMD build ships as a delta of the plain build (scripts/wasm-delta.mjs → src/kernels/wasm-delta.ts):
// decoding must give the encoded target byte for byte, for any pair of inputs, and a damaged delta must throw.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error — a build script (plain .mjs, no types)
import { encodeDelta } from '../../scripts/wasm-delta.mjs';
import { applyDelta } from '../../src/kernels/wasm-delta.js';
import { kernelBinary } from '../../src/kernels/wasm.js';

const enc = encodeDelta as (a: Uint8Array, b: Uint8Array) => Uint8Array;

describe('wasm delta', () => {
  it('round-trips random edits of random bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(40), fc.uint8Array({ maxLength: 30 })), { maxLength: 12 }),
        (base, edits) => {
          let t = Array.from(base);
          for (const [at, del, ins] of edits) {
            const i = t.length ? at % t.length : 0;
            t.splice(i, del, ...ins);
          }
          const target = Uint8Array.from(t);
          expect(applyDelta(base, enc(base, target))).toEqual(target);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rebuilds the shipped relaxed build from the plain one, and rejects damaged deltas', () => {
    const dist = join(__dirname, '../../dist');
    const plain = new Uint8Array(readFileSync(join(dist, 'edgeq-simd.wasm')));
    const relaxed = new Uint8Array(readFileSync(join(dist, 'edgeq-relaxed.wasm')));
    const d = enc(plain, relaxed);
    expect(d.length).toBeLessThan(relaxed.length / 4);
    expect(applyDelta(plain, d)).toEqual(relaxed);
    // what the runtime instantiates is the build the compiler wrote
    expect(kernelBinary('simd')).toEqual(plain);
    expect(kernelBinary('relaxed')).toEqual(relaxed);
    expect(() => applyDelta(plain, d.subarray(0, d.length - 1))).toThrow(/wasm delta/);
    expect(() => applyDelta(plain.subarray(0, 100), d)).toThrow(/wasm delta/);
  });
});
