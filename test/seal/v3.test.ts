// Sealed container version 3 (docs/sealed-format.md): the skeleton section is chunk 0, the weights follow in the order
// the graph first reads them, and InferenceSession.create builds the session while the weights are decrypted (on the
// host's crypto thread when it is free, else on first read on the loading thread). Issue 19, "done when": the seal →
// load round trip gives bit-identical outputs; tamperings end in SealError and nothing runs — here also those found
// only after the session was built (a weight chunk read last, the signature); fuzz tests of the skeleton section.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platform } from '#platform';
import { SealError } from '../../src/errors.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { openSealed, readSealedHeader, sealModel } from '../../src/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair } from '../../src/formats/sealed-keys.js';
import { parseSkeletonSection, rebuildModel, v3Payload } from '../../src/formats/sealed-v3.js';
import type { HostCrypto } from '../../src/platform/types.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';
import { threadUp } from './crypto-thread.js';
import { applyFileTamper, fileTamperArb } from './file-tampers.js';

const tmp = mkdtempSync(join(tmpdir(), 'edgeq-seal-v3-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MODELS = ['mnist/lenet.onnx', 'bench/mobilenet_v2.onnx'].filter((m) => hasData(m));

function inputFor(s: InferenceSession): Record<string, Tensor> {
  const meta = s.inputMetadata[0]!;
  const shape = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
  const n = shape.reduce((a, b) => a * b, 1);
  return { [meta.name]: new Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.abs(Math.sin(i * 0.37))), shape) };
}

async function outputs(s: InferenceSession, feeds: Record<string, Tensor>): Promise<Uint8Array[]> {
  const out = await s.run(feeds);
  return s.outputNames.map((n) => new Uint8Array((out[n]!.data as Float32Array).slice().buffer));
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    const s = (await p) as InferenceSession;
    await s.release();
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(SealError);
    return (e as SealError).reason;
  }
}

const host = platform.crypto as HostCrypto;
const p = platform as { crypto?: HostCrypto };
/** the three ways a version 3 model is decrypted for the runtime */
const paths = {
  thread: () => host,
  'loading thread only': () => ({ ...host, gcmThread: undefined }),
  WebCrypto: () => undefined,
};

describe.skipIf(!MODELS.length)('sealed container version 3', () => {
  beforeAll(async () => {
    expect(await threadUp(), 'the crypto thread starts').toBe(true);
  });

  it.each(MODELS)('%s: bytes and path, signed or not, on the crypto thread, the loading thread and WebCrypto: bit-identical outputs; openSealed gives the model back byte for byte', async (rel) => {
    const model = new Uint8Array(readFileSync(dataPath(rel)));
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    const plain = await InferenceSession.create(model);
    const feeds = inputFor(plain);
    const want = await outputs(plain, feeds);
    await plain.release();
    for (const [version, signingKey] of [[4, undefined], [4, kp.privatePem], [3, kp.privatePem]] as const) {
      const sealed = await sealModel(model, { key, ...(version === 3 ? { version } : {}), ...(signingKey ? { signingKey } : {}) });
      expect(readSealedHeader(sealed).version).toBe(version);
      const back = await openSealed(sealed, { decryptionKey: key, checkDigest: true });
      expect(Buffer.compare(back.plaintext, model)).toBe(0);
      const path = join(tmp, 'm.eqs');
      writeFileSync(path, sealed);
      for (const [name, make] of Object.entries(paths)) {
        p.crypto = make();
        try {
          for (const src of [sealed, path]) {
            const events: unknown[] = [];
            const s = await InferenceSession.create(src, { decryptionKey: key, ...(signingKey ? { verifyKey: kp.publicPem } : {}), onModelLoaded: (e) => events.push(e) });
            const got = await outputs(s, feeds);
            await s.release();
            got.forEach((g, i) => expect(Buffer.compare(g, want[i]!), `${rel} ${name} ${typeof src}`).toBe(0));
            expect(events).toHaveLength(1);
            expect(events[0]).toMatchObject({ sealed: true, verified: !!signingKey, size: model.length });
          }
        } finally {
          p.crypto = host;
        }
        await threadUp();
      }
    }
  });

  it.each(MODELS)('%s: the weights section holds every moved raw_data in the order the nodes first read them, and the payload rebuilds the model for any out-of-line threshold', (rel) => {
    const model = new Uint8Array(readFileSync(dataPath(rel)));
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 1 << 16 }), (minOut) => {
        const v3 = v3Payload(model, minOut);
        expect(v3).toBeDefined();
        const { payload, skeleton } = v3!;
        const weights = payload.subarray(skeleton);
        const sk = parseSkeletonSection(payload.subarray(0, skeleton), weights.length);
        expect(Buffer.compare(rebuildModel(sk, weights, model.length), model)).toBe(0);
        // parse the skeleton with its weights and find where each initializer's bytes are
        const prefilled = new Map(sk.raws.map((e) => [sk.skeleton.byteOffset + e.at + 1, weights.subarray(e.wOff, e.wOff + e.value)]));
        const g = readOnnx(sk.skeleton, { owned: true, prefilled });
        const first = new Map<string, number>();
        g.nodes.forEach((n, i) => n.inputs.forEach((x) => x && !first.has(x) && first.set(x, i)));
        const placed = [...g.initializers]
          // (inline tensors are views into the skeleton, before the weights section)
          .filter(([, t]) => (t.data as ArrayBufferView).buffer === payload.buffer && (t.data as ArrayBufferView).byteOffset >= skeleton)
          .map(([name, t]) => ({ at: (t.data as ArrayBufferView).byteOffset, use: first.get(name) ?? Infinity }))
          .sort((a, b) => a.at - b.at);
        expect(placed).toHaveLength(sk.raws.length);
        for (let i = 1; i < placed.length; i++) expect(placed[i]!.use).toBeGreaterThanOrEqual(placed[i - 1]!.use);
        for (const e of sk.raws) expect(e.value).toBeGreaterThanOrEqual(minOut);
      }),
      { numRuns: rel.includes('mobilenet') ? 4 : 25, seed: 19 },
    );
  });

  it('fuzz: any skeleton section — random bytes, or a real one with bytes flipped, cut or appended — parses or is SealError malformed, and what parses keeps every raw_data inside the weights, aligned and apart', () => {
    const model = new Uint8Array(readFileSync(dataPath(MODELS[0]!)));
    const { payload, skeleton } = v3Payload(model, 1024)!;
    const real = payload.slice(0, skeleton);
    const W = payload.length - skeleton;
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 256 }).map((b) => ({ sec: b, w: W })),
      fc.record({ at: fc.nat(real.length - 1), mask: fc.integer({ min: 1, max: 255 }), cut: fc.nat(real.length), tail: fc.uint8Array({ maxLength: 16 }), w: fc.nat(W + 64) }).map((c) => {
        const sec = real.slice(0, Math.max(8, c.cut));
        if (c.at < sec.length) sec[c.at] ^= c.mask;
        const out = new Uint8Array(sec.length + c.tail.length);
        out.set(sec);
        out.set(c.tail, sec.length);
        return { sec: out, w: c.w };
      }),
    );
    let parsed = 0;
    fc.assert(
      fc.property(arb, ({ sec, w }) => {
        let sk;
        try {
          sk = parseSkeletonSection(sec, w);
        } catch (e) {
          expect(e).toBeInstanceOf(SealError);
          expect((e as SealError).reason).toBe('malformed');
          return;
        }
        parsed++;
        const spans = sk.raws.map((e) => [e.wOff, e.wOff + e.value] as const).sort((a, b) => a[0] - b[0]);
        spans.forEach(([s, e], i) => {
          expect(s % 16).toBe(0);
          expect(e).toBeLessThanOrEqual(w);
          if (i) expect(s).toBeGreaterThanOrEqual(spans[i - 1]![1]);
        });
        for (const e of sk.raws) expect(sk.skeleton[e.at]).toBe(1);
      }),
      { numRuns: 2000, seed: 19 },
    );
    expect(parsed).toBeGreaterThan(0);
  });

  it('a weight chunk that fails its tag — the first one read, or the last — rejects create() with tampered on every path, and nothing is handed out', async () => {
    const model = new Uint8Array(readFileSync(dataPath(MODELS[0]!)));
    const key = generateContentKey();
    const sealed = await sealModel(model, { key, chunkSize: 4096 });
    const H = 32 + (sealed[20]! | (sealed[21]! << 8));
    const header = JSON.parse(new TextDecoder().decode(sealed.subarray(32, H))) as { skeleton: number };
    for (const at of [H + header.skeleton + 16 + 100, sealed.length - 40]) {
      const bad = sealed.slice();
      bad[at] ^= 0x20;
      for (const [name, make] of Object.entries(paths)) {
        p.crypto = make();
        let loaded = 0;
        try {
          expect(await reason(InferenceSession.create(bad, { decryptionKey: key, onModelLoaded: () => void loaded++ })), `${name} at ${at}`).toBe('tampered');
        } finally {
          p.crypto = host;
        }
        expect(loaded).toBe(0);
        await threadUp();
      }
    }
  });

  it('random tamperings of a version 3 file (flips, truncations, appends, wrong key, foreign signer): create(path) fails exactly as create(bytes), with a SealError', async () => {
    const model = new Uint8Array(readFileSync(dataPath(MODELS[0]!)));
    const key = generateContentKey();
    const other = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    const foreign = await generateSigningKeyPair('ed25519');
    const files = [await sealModel(model, { key, chunkSize: 4096 }), await sealModel(model, { key, chunkSize: 4096, signingKey: kp.privatePem })];
    const path = join(tmp, 't.eqs');
    const keys = { key, other, signer: kp.publicPem, foreign: foreign.publicPem };
    let failures = 0;
    await fc.assert(
      fc.asyncProperty(fileTamperArb, async (c) => {
        const { bytes: b, opts } = applyFileTamper(files, c, keys);
        const fromBytes = await reason(InferenceSession.create(b, opts));
        writeFileSync(path, b);
        expect(await reason(InferenceSession.create(path, opts)), `${c.kind}`).toBe(fromBytes);
        if (fromBytes !== 'ok') failures++;
      }),
      { numRuns: 80, seed: 19 },
    );
    expect(failures).toBeGreaterThan(45);
  });
});
