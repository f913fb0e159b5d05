// Issue 19, "done when": 1,000 random tamperings of a sealed LeNet — byte flips anywhere, truncations, headers
// swapped between two sealed files, signatures from another key, a wrong content key, unknown versions, appended
// bytes — each end in SealError from InferenceSession.create, no model is parsed or run (onModelLoaded never
// fires), and no error message contains the key (hex or base64). Run for container version 1 (one AES-GCM
// message) and version 2 (16 KiB chunks, so LeNet has 16), where chunks are also reordered, dropped and the last
// one shortened — with the lengths in the fixed part and the header rewritten to match, so only the
// authentication (GCM tags over index/last-flag and header, signature over block digests) can catch them. And for
// version 3 (skeleton chunk first, weights decrypted on the crypto thread while the session is built, 16 KiB weight
// chunks): the same, where a failure found only after the session was built must still end in SealError; and version
// 4 (version 3 with the signature over per-chunk digests). From version 2 on also the attack the signature is there
// for: one who holds the content key but not the signing key re-encrypts a chunk (same key, nonce and additional
// data, so its GCM tag is valid): only the signature, over the SHA-256 of the stored chunks, catches it.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { SealError } from '../../src/errors.js';
import { SEAL_VERSIONS, sealModel } from '../../src/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair, toBase64, toHex } from '../../src/formats/sealed-keys.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { dataPath, hasData } from '../helpers/data.js';
import { aadEnd, reencryptChunk } from './file-tampers.js';

/** Container pieces by docs/sealed-format.md: fixed part, JSON header, stored chunks (ciphertext ‖ tag), signature (with its length). */
function pieces(b: Uint8Array) {
  const end = aadEnd(b);
  const header = JSON.parse(new TextDecoder().decode(b.subarray(32, end))) as { size: number; chunk?: number; sigAlg: string; skeleton?: number; payload?: number };
  const chunk = header.chunk ?? Math.max(1, header.size);
  // version 3: chunk 0 is the skeleton section, then `chunk`-byte chunks of the rest of the payload
  const size = header.payload ?? header.size;
  const first = header.skeleton ?? chunk;
  const n = header.skeleton !== undefined ? 1 + Math.ceil((size - first) / chunk) : Math.max(1, Math.ceil(size / chunk));
  const chunks: Uint8Array[] = [];
  let at = end;
  for (let i = 0, pt = 0; i < n; i++) {
    const len = Math.min(i === 0 ? first : chunk, size - pt) + 16;
    pt += len - 16;
    chunks.push(b.subarray(at, at + len));
    at += len;
  }
  return { fixed: b.subarray(0, 32), header, chunks, tail: b.subarray(at), size };
}

/** A container from pieces, with H, C and header.size (version 3: header.payload) rewritten to match the chunks given. */
function rebuild(p: ReturnType<typeof pieces>, chunks: Uint8Array[], size: number): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(p.header.payload !== undefined ? { ...p.header, payload: size } : { ...p.header, size }));
  const C = chunks.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(32 + h.length + C + p.tail.length);
  out.set(p.fixed);
  const dv = new DataView(out.buffer);
  dv.setUint32(20, h.length, true);
  dv.setUint32(24, C, true);
  dv.setUint32(28, 0, true);
  out.set(h, 32);
  let at = 32 + h.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  out.set(p.tail, at);
  return out;
}

describe.skipIf(!hasData('mnist/lenet.onnx')).each([1, 2, 3, 4] as const)('tampered sealed models (container version %i)', (version) => {
  const sealOpts = version === 1 ? { version } : { version, chunkSize: 16384 };
  if (version >= 3) it(`LeNet seals as version ${version} with several weight chunks`, async () => {
    expect(a[6]).toBe(version);
    expect(pieces(a).chunks.length).toBeGreaterThan(8);
  });
  let model: Uint8Array;
  let key: Uint8Array;
  let legit: Awaited<ReturnType<typeof generateSigningKeyPair>>;
  let other: Awaited<ReturnType<typeof generateSigningKeyPair>>;
  /** signed by `legit` */
  let a: Uint8Array;
  /** unsigned (only AES-GCM guards it) */
  let u: Uint8Array;
  /** the same model, same content key, sealed again (different IV) and signed by `legit` */
  let b: Uint8Array;
  /** the same model and content key, signed by `other` (an attacker who holds the content key but not the signing key) */
  let forged: Uint8Array;

  beforeAll(async () => {
    model = new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));
    key = generateContentKey();
    legit = await generateSigningKeyPair('ed25519');
    other = await generateSigningKeyPair('ed25519');
    a = await sealModel(model, { key, signingKey: legit.privatePem, meta: { name: 'lenet' }, ...sealOpts });
    u = await sealModel(model, { key, meta: { name: 'lenet' }, ...sealOpts });
    b = await sealModel(model, { key, signingKey: legit.privatePem, meta: { name: 'lenet' }, ...sealOpts });
    forged = await sealModel(model, { key, signingKey: other.privatePem, meta: { name: 'lenet' }, ...sealOpts });
    // sanity: the untampered file loads with every option set the property uses
    for (const verifyKey of [undefined, legit.publicPem]) {
      const s = await InferenceSession.create(a, { decryptionKey: key, ...(verifyKey ? { verifyKey } : {}) });
      await s.release();
    }
    await (await InferenceSession.create(u, { decryptionKey: key })).release();
  });

  type Case =
    | { kind: 'flip'; unsigned: boolean; at: number; mask: number }
    | { kind: 'truncate'; unsigned: boolean; len: number }
    | { kind: 'swap-header' }
    | { kind: 'swap-iv' }
    | { kind: 'other-signature'; embed: boolean }
    | { kind: 'wrong-key'; k: Uint8Array }
    | { kind: 'version'; v: number }
    | { kind: 'append'; unsigned: boolean; extra: Uint8Array }
    | { kind: 'reorder'; unsigned: boolean; i: number; j: number }
    | { kind: 'drop'; unsigned: boolean; i: number }
    | { kind: 'shorten-last'; unsigned: boolean; cut: number }
    | { kind: 'downgrade' }
    | { kind: 'reencrypt'; i: number; seed: number; unsigned?: boolean };

  /** A position in a file of `n` bytes: anywhere, in the fixed part + header, or in the last 100 bytes (tag, signature). */
  const position = (n: number, hdr: number) => fc.oneof(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: hdr - 1 }), fc.integer({ min: n - 100, max: n - 1 }));

  function caseArb(): fc.Arbitrary<Case> {
    const n = Math.min(a.length, u.length);
    const hdr = Math.min(aadEnd(a), aadEnd(u));
    return fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('flip' as const), unsigned: fc.boolean(), at: position(n, hdr), mask: fc.integer({ min: 1, max: 255 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), unsigned: fc.boolean(), len: position(n, hdr) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'swap-header' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'swap-iv' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('other-signature' as const), embed: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrong-key' as const), k: fc.uint8Array({ minLength: 32, maxLength: 32 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('version' as const), v: fc.integer({ min: 0, max: 255 }).filter((v) => !SEAL_VERSIONS.includes(v)) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), unsigned: fc.boolean(), extra: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
      ...(version >= 2
        ? [
            // full-size chunks 0 … n − 2 (version 3: 1 … n − 2, chunk 0 is the skeleton) have equal lengths, so a swap keeps every length right
            { weight: 2, arbitrary: fc.record({ kind: fc.constant('reorder' as const), unsigned: fc.boolean(), i: fc.integer({ min: version >= 3 ? 1 : 0, max: pieces(a).chunks.length - 2 }), j: fc.integer({ min: version >= 3 ? 1 : 0, max: pieces(a).chunks.length - 2 }) }).filter((c) => c.i !== c.j) },
            { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), unsigned: fc.boolean(), i: fc.nat(pieces(a).chunks.length - 1) }) },
            { weight: 2, arbitrary: fc.record({ kind: fc.constant('shorten-last' as const), unsigned: fc.boolean(), cut: fc.integer({ min: 1, max: pieces(a).chunks.at(-1)!.length - 16 }) }) },
            { weight: 1, arbitrary: fc.constant({ kind: 'downgrade' as const }) },
            { weight: 2, arbitrary: fc.record({ kind: fc.constant('reencrypt' as const), i: fc.nat(pieces(a).chunks.length - 1), seed: fc.nat() }) },
          ]
        : []),
    ) as fc.Arbitrary<Case>;
  }

  /** The tampered file and the content key the loader is given. */
  function apply(c: Case): { bytes: Uint8Array; key: Uint8Array } {
    switch (c.kind) {
      case 'flip': {
        const x = (c.unsigned ? u : a).slice();
        x[c.at] ^= c.mask;
        return { bytes: x, key };
      }
      case 'truncate':
        return { bytes: (c.unsigned ? u : a).slice(0, c.len), key };
      case 'swap-header': {
        // b's fixed part + header (its IV, lengths, JSON) over a's ciphertext and signature
        const hb = aadEnd(b);
        const x = new Uint8Array(a.length);
        x.set(b.subarray(0, hb));
        x.set(a.subarray(aadEnd(a)), hb);
        return { bytes: x, key };
      }
      case 'swap-iv': {
        const x = a.slice();
        x.set(b.subarray(8, 20), 8);
        return { bytes: x, key };
      }
      case 'other-signature': {
        // embed: the attacker's whole file (its own signer in the header); else a's bytes with the attacker's signature
        if (c.embed) return { bytes: forged, key };
        const x = a.slice();
        x.set(forged.subarray(forged.length - 64), x.length - 64);
        return { bytes: x, key };
      }
      case 'wrong-key':
        return { bytes: a, key: c.k.every((v, i) => v === key[i]) ? generateContentKey() : c.k };
      case 'version': {
        const x = a.slice();
        x[6] = c.v;
        return { bytes: x, key };
      }
      case 'reorder': {
        const p = pieces(c.unsigned ? u : a);
        const chunks = [...p.chunks];
        [chunks[c.i], chunks[c.j]] = [chunks[c.j]!, chunks[c.i]!];
        return { bytes: rebuild(p, chunks, p.size), key };
      }
      case 'drop': {
        const p = pieces(c.unsigned ? u : a);
        const gone = p.chunks[c.i]!.length - 16;
        return { bytes: rebuild(p, p.chunks.filter((_, k) => k !== c.i), p.size - gone), key };
      }
      case 'shorten-last': {
        // the last chunk loses `cut` ciphertext bytes (its tag kept); size and lengths say so
        const p = pieces(c.unsigned ? u : a);
        const last = p.chunks.at(-1)!;
        const short = new Uint8Array(last.length - c.cut);
        short.set(last.subarray(0, last.length - 16 - c.cut));
        short.set(last.subarray(last.length - 16), short.length - 16);
        return { bytes: rebuild(p, [...p.chunks.slice(0, -1), short], p.size - c.cut), key };
      }
      case 'downgrade': {
        const x = a.slice();
        x[6] = version - 1;
        return { bytes: x, key };
      }
      case 'reencrypt': {
        // (the file: a, or the unsigned u for the control test below) chunk i replaced by other plaintext encrypted under the content key with chunk i's own nonce (the base
        // nonce, its last 4 bytes XOR i) and additional data (fixed part + header ‖ u32 i ‖ last flag): a valid tag
        const x = c.unsigned ? u : a;
        const p = pieces(x);
        const chunk = p.chunks[c.i]!;
        return { bytes: reencryptChunk(x, key, c.i, chunk.byteOffset - x.byteOffset, chunk.length, c.i === p.chunks.length - 1, c.seed), key };
      }
      case 'append': {
        const base = c.unsigned ? u : a;
        const x = new Uint8Array(base.length + c.extra.length);
        x.set(base);
        x.set(c.extra, base.length);
        return { bytes: x, key };
      }
    }
  }

  it('1,000 tamperings: every one is a SealError, nothing loads, no key in any message', async () => {
    const seen = new Map<string, number>();
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(caseArb(), fc.boolean(), async (c, withVerifyKey) => {
        const { bytes, key: k } = apply(c);
        // a forged file with only the content key is indistinguishable from a legitimate one: origin needs the verify key
        const verifyKey = withVerifyKey || c.kind === 'other-signature' ? legit.publicPem : undefined;
        let err: unknown;
        try {
          const s = await InferenceSession.create(bytes, { decryptionKey: k, ...(verifyKey ? { verifyKey } : {}), onModelLoaded: () => void loaded++ });
          await s.release();
        } catch (e) {
          err = e;
        }
        expect(err, `${c.kind} did not fail`).toBeInstanceOf(SealError);
        const e = err as SealError;
        for (const kk of [key, k]) {
          expect(e.message).not.toContain(toHex(kk));
          expect(e.message).not.toContain(toBase64(kk));
        }
        seen.set(`${c.kind}:${e.reason}`, (seen.get(`${c.kind}:${e.reason}`) ?? 0) + 1);
      }),
      { numRuns: 1000, seed: 19 },
    );
    if (process.env.SEAL_TAMPER_STATS) console.log(JSON.stringify(Object.fromEntries([...seen].sort())));
    expect(loaded).toBe(0);
    // every tampering kind was exercised, and each maps to the reasons it should
    const kinds = new Set([...seen.keys()].map((s) => s.split(':')[0]));
    const v2kinds = version >= 2 ? ['downgrade', 'drop', 'reencrypt', 'reorder', 'shorten-last'] : [];
    expect([...kinds].sort()).toEqual(['append', 'flip', 'other-signature', 'swap-header', 'swap-iv', 'truncate', 'version', 'wrong-key', ...v2kinds].sort());
    for (const [k, n] of seen) {
      const [kind, reason] = k.split(':') as [string, string];
      const allowed: Record<string, string[]> = {
        version: ['unknown-version'],
        'wrong-key': ['wrong-key'],
        'swap-iv': ['signature-invalid'],
        'swap-header': ['signature-invalid'],
        'other-signature': ['signature-invalid'],
        append: ['tampered'],
        // the GCM tags (index and last flag in the additional data, header with the size) or the signature (chunk
        // digests); signature-missing: an unsigned file given a verify key
        reorder: ['tampered', 'signature-invalid', 'signature-missing'],
        // (version 3, malformed: without the skeleton chunk, whose length the header fixes, the chunk count no longer matches)
        drop: ['tampered', 'signature-invalid', 'signature-missing', ...(version >= 3 ? ['malformed'] : [])],
        // malformed: the whole last chunk cut, so the size implies one chunk fewer than are stored
        'shorten-last': ['tampered', 'signature-invalid', 'signature-missing', 'malformed'],
        // (4 → 3: the same header fields; the signature, over other digests, fails first)
        downgrade: version === 4 ? ['signature-invalid'] : ['malformed'],
        // the key holder's chunk has a valid tag: only the signature over the chunks' digests can refuse it
        reencrypt: ['signature-invalid'],
      };
      if (allowed[kind]) expect(allowed[kind], `${kind} → ${reason} (${n}×)`).toContain(reason);
    }
  });

  if (version >= 2) it('control: the re-encrypted chunk has a valid tag — in an unsigned file it passes every seal check (versions 3, 4: it loads, with other weights; 2: the model parser then sees other bytes), so only the signature stops a key holder', async () => {
    const { bytes } = apply({ kind: 'reencrypt', i: pieces(u).chunks.length - 1, seed: 5, unsigned: true });
    let err: unknown;
    try {
      await (await InferenceSession.create(bytes, { decryptionKey: key })).release();
    } catch (e) {
      err = e;
    }
    expect(err).not.toBeInstanceOf(SealError);
    if (version >= 3) expect(err).toBeUndefined();
  });

  it('a signature from another key is refused even when it is the only change', async () => {
    // the attacker's file with the legit verify key: signature-invalid, naming fingerprints only
    await expect(InferenceSession.create(forged, { decryptionKey: key, verifyKey: legit.publicPem })).rejects.toMatchObject({ reason: 'signature-invalid' });
    await expect(InferenceSession.create(forged, { decryptionKey: key, verifyKey: other.publicPem })).resolves.toBeDefined();
  });
});
