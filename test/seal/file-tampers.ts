// Random tamperings of a sealed file for the tests that compare two ways of opening it (stream.test.ts: streamed vs
// whole; v3.test.ts: path vs bytes): byte flips, truncations, an appended byte, a wrong content key, a foreign verify
// key, or none, on one of two files (0: unsigned, 1: signed by `signer`).
import fc from 'fast-check';

export const fileTamperArb = fc.record({
  file: fc.nat(1),
  kind: fc.constantFrom('flip', 'truncate', 'append', 'wrong-key', 'verify-foreign', 'none'),
  at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
  bit: fc.integer({ min: 0, max: 7 }),
  verify: fc.boolean(),
});

export type FileTamper = typeof fileTamperArb extends fc.Arbitrary<infer T> ? T : never;

/** The tampered bytes and the open options for case `c`. */
export function applyFileTamper(
  files: Uint8Array[],
  c: FileTamper,
  keys: { key: Uint8Array; other: Uint8Array; signer: string; foreign: string },
): { bytes: Uint8Array; opts: { decryptionKey: Uint8Array; verifyKey?: string } } {
  let b = files[c.file]!.slice();
  const i = Math.floor(c.at * b.length);
  if (c.kind === 'flip') b[i] ^= 1 << c.bit;
  if (c.kind === 'truncate') b = b.subarray(0, i);
  if (c.kind === 'append') b = Uint8Array.from([...b, c.bit]);
  const opts = { decryptionKey: c.kind === 'wrong-key' ? keys.other : keys.key, ...(c.kind === 'verify-foreign' ? { verifyKey: keys.foreign } : c.verify ? { verifyKey: keys.signer } : {}) };
  return { bytes: b, opts };
}
