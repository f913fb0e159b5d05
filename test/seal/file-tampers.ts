// Random tamperings of a sealed file for the tests that compare two ways of opening it (stream.test.ts: streamed vs
// whole; v3.test.ts: path vs bytes): byte flips, truncations, an appended byte, a wrong content key, a foreign verify
// key, or none, on one of two files (0: unsigned, 1: signed by `signer`).
import { createCipheriv } from 'node:crypto';
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

/** Offsets from docs/sealed-format.md: the fixed part is 32 bytes, the header length a u32 LE at 20. */
export function aadEnd(b: Uint8Array): number {
  return 32 + (b[20]! | (b[21]! << 8) | (b[22]! << 16) | (b[23]! << 24));
}

/**
 * What one who holds the content key but not the signing key can do to a sealed file (versions ≥ 2): stored chunk i
 * (at `at`, `len` bytes with its tag, the last one when `last`) replaced by other plaintext encrypted under the content
 * key with that chunk's own nonce (the base nonce, its last 4 bytes XOR i big-endian) and additional data (fixed part +
 * header ‖ u32 LE i ‖ u8 last flag) — so its GCM tag is valid, and only the signature can refuse it.
 */
export function reencryptChunk(sealed: Uint8Array, key: Uint8Array, i: number, at: number, len: number, last: boolean, seed: number): Uint8Array {
  const x = sealed.slice();
  const iv = x.slice(8, 20);
  const dv = new DataView(iv.buffer);
  dv.setUint32(8, dv.getUint32(8, false) ^ i, false);
  const end = aadEnd(x);
  const ad = new Uint8Array(end + 5);
  ad.set(x.subarray(0, end));
  new DataView(ad.buffer).setUint32(end, i, true);
  ad[end + 4] = last ? 1 : 0;
  const other = new Uint8Array(len - 16).map((_, k) => (seed * 31 + k * 7 + 1) & 255);
  const enc = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 }).setAAD(ad);
  x.set(Buffer.concat([enc.update(other), enc.final(), enc.getAuthTag()]), at);
  return x;
}
