// Sealed files opened while they are read (formats/sealed.ts openSealedSource, used by InferenceSession.create(path)):
// the streamed path gives the same plaintext as openSealed on the whole bytes, and it is only a fast path — on any
// tampering it returns nothing (never a plaintext), so the caller falls back to openSealed, whose SealError reasons the
// file path then reports exactly as the bytes path does (issue 19: "1,000 random tamperings … each end in SealError,
// none runs").
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type SealedSource, openSealed, openSealedSource, sealModel } from '../../src/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair } from '../../src/formats/sealed-keys.js';
import { platform } from '#platform';
import { InferenceSession } from '../../src/runtime/session.js';
import { dataPath, hasData } from '../helpers/data.js';
import { outcome } from './crypto-thread.js';
import { applyFileTamper, fileTamperArb } from './file-tampers.js';

const tmp = mkdtempSync(join(tmpdir(), 'edgeq-seal-stream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** bytes as a SealedSource; `shrinkAt`: reads from there on come back short (a file truncated while it is read) */
function source(bytes: Uint8Array, shrinkAt = Infinity): SealedSource & { reads: number } {
  const s = {
    size: bytes.length,
    reads: 0,
    read: async (into: Uint8Array, position: number) => {
      s.reads++;
      const part = bytes.subarray(position, Math.min(position + into.length, shrinkAt));
      into.set(part);
      return part.length;
    },
  };
  return s;
}


describe.skipIf(!hasData('mnist/lenet.onnx'))('sealed files opened while read', () => {
  const model = () => new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));

  it('chunk sizes 1 KiB … 4 MiB, signed or not, an empty model: the same plaintext and info as openSealed, from a file handle', async () => {
    const m = model();
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    const cases = [
      { m, chunkSize: 1024 },
      { m, chunkSize: 1024, signingKey: kp.privatePem },
      // a chunk size that is no power of two (LeNet is one digest block; the next test spans several)
      { m, chunkSize: 16384 + 8, signingKey: kp.privatePem },
      { m, signingKey: kp.privatePem },
      { m },
      { m: new Uint8Array(0), signingKey: kp.privatePem },
    ];
    for (const c of cases) {
      const bytes = await sealModel(c.m, { key, format: 'onnx', version: 2, ...(c.chunkSize ? { chunkSize: c.chunkSize } : {}), ...(c.signingKey ? { signingKey: c.signingKey } : {}) });
      const opts = { decryptionKey: key, checkDigest: true, ...(c.signingKey ? { verifyKey: kp.publicPem } : {}) };
      const want = await openSealed(bytes, opts);
      const path = join(tmp, 'm.eqs');
      writeFileSync(path, bytes);
      const f = await platform.openFile!(path);
      try {
        const got = await openSealedSource(f, opts);
        expect(got, `chunk ${c.chunkSize}`).toBeDefined();
        expect(Buffer.compare(got!.plaintext, c.m)).toBe(0);
        expect(got!.info).toEqual(want.info);
      } finally {
        await f.close();
      }
    }
  });

  it('a model spanning several 1 MiB digest blocks, chunk edges off the block edges: signed, streamed, verified', async () => {
    // 2.5 MiB of pseudo-random bytes sealed as ONNX (the container does not parse it)
    const m = new Uint8Array(5 << 19);
    for (let i = 0, x = 19; i < m.length; i++) m[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ecdsa-p256');
    for (const chunkSize of [300_000, 1 << 20, 1 << 22]) {
      const bytes = await sealModel(m, { key, format: 'onnx', chunkSize, signingKey: kp.privatePem });
      const got = await openSealedSource(source(bytes), { decryptionKey: key, verifyKey: kp.publicPem });
      expect(got, `chunk ${chunkSize}`).toBeDefined();
      expect(Buffer.compare(got!.plaintext, m)).toBe(0);
      expect(got!.info.verified).toBe(true);
      // one flipped ciphertext byte in the last block: no plaintext from the stream, signature-invalid from the bytes
      const bad = bytes.slice();
      bad[bad.length - 100] ^= 1;
      expect(await openSealedSource(source(bad), { decryptionKey: key, verifyKey: kp.publicPem })).toBeUndefined();
      expect(await outcome(openSealed(bad, { decryptionKey: key, verifyKey: kp.publicPem }))).toBe('signature-invalid');
    }
  });

  it('version 1 files, a file that shrinks while it is read, and a missing key are left to the whole-file path', async () => {
    const m = model();
    const key = generateContentKey();
    expect(await openSealedSource(source(await sealModel(m, { key, version: 1 })), { decryptionKey: key })).toBeUndefined();
    const v2 = await sealModel(m, { key, version: 2, chunkSize: 1024 });
    expect(await openSealedSource(source(v2, v2.length - 5000), { decryptionKey: key })).toBeUndefined();
    expect(await openSealedSource(source(v2), {})).toBeUndefined();
    expect(await openSealedSource(source(m), { decryptionKey: key })).toBeUndefined();
  });

  it('random tamperings (flips, truncations, appends, wrong key, foreign signer): the stream yields a plaintext exactly when openSealed does, and InferenceSession.create(path) fails with the bytes path reason', async () => {
    const m = model();
    const key = generateContentKey();
    const other = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    const foreign = await generateSigningKeyPair('ed25519');
    const files = [await sealModel(m, { key, version: 2, chunkSize: 4096 }), await sealModel(m, { key, version: 2, chunkSize: 4096, signingKey: kp.privatePem })];
    const path = join(tmp, 't.eqs');
    const keys = { key, other, signer: kp.publicPem, foreign: foreign.publicPem };
    let failures = 0;
    await fc.assert(
      fc.asyncProperty(fileTamperArb, async (c) => {
        const { bytes: b, opts } = applyFileTamper(files, c, keys);
        const whole = await outcome(openSealed(b, opts));
        const streamed = await openSealedSource(source(b), opts);
        if (whole === 'ok') {
          // the stream only leaves version 2 files to the whole-file path on failures
          expect(streamed).toBeDefined();
          expect(Buffer.compare(streamed!.plaintext, m)).toBe(0);
        } else {
          failures++;
          expect(streamed, `${c.kind} → ${whole}`).toBeUndefined();
          writeFileSync(path, b);
          expect(await outcome(InferenceSession.create(path, opts))).toBe(whole);
        }
      }),
      { numRuns: 200, seed: 19 },
    );
    expect(failures).toBeGreaterThan(130);
  });
});
