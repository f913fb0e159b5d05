// Sealed container version 3, how the weights reach the graph (docs/sealed-format.md, "Version 3 in the runtime"): the
// weights section is cut into segments (the weights starting in a chunk), each decrypted by whichever thread claims it
// first — the crypto thread from the front, the loading thread for a weight it reads before the crypto thread got
// there — and a weight is handed over only once every chunk it spans passed its tag. Issue 19, "done when": the
// seal → load round trip is bit-identical (whatever thread decrypted which segment, whatever the chunk size), and a
// damaged file ends in SealError with nothing handed out — also when the crypto thread reads a file that changed
// after its header was read.
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { type SealedSource, openSealedFileV3, sealModel, sealTrace } from '../../src/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair } from '../../src/formats/sealed-keys.js';
import type { Graph } from '../../src/ir/graph.js';
import { openModel, openModelFile } from '../../src/runtime/open-model.js';
import { dataPath, hasData } from '../helpers/data.js';
import { outcome, threadUp } from './crypto-thread.js';
import { aadEnd, reencryptChunk } from './file-tampers.js';

const tmp = mkdtempSync(join(tmpdir(), 'edgeq-seal-v3h-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


function bytesOf(g: Graph): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const [name, t] of g.initializers) {
    const d = t.data as ArrayBufferView;
    m.set(name, new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice());
  }
  return m;
}

/** read the initializers' data in `order` (indices into the initializer list, then the rest), then ready() */
async function readAll(o: Awaited<ReturnType<typeof openModel>>, order: number[]): Promise<Map<string, Uint8Array>> {
  const ts = [...o.graph.initializers.values()];
  for (const i of order) void ts[i % ts.length]!.data;
  await o.ready?.();
  return bytesOf(o.graph);
}

const LENET = 'mnist/lenet.onnx';
const MNV2 = 'bench/mobilenet_v2.onnx';

describe.skipIf(!hasData(LENET))('sealed version 3: segments and hand-over', () => {
  beforeAll(async () => {
    expect(await threadUp(), 'the crypto thread starts').toBe(true);
  });

  it('property: any chunk size and any order the loading thread reads the weights in (so segments, and chunks two segments share, are split between the threads in every way; signed: the signature\'s block digests too) — every initializer holds exactly the plain model\'s bytes and the signature verifies, from bytes and from a file', async () => {
    const model = new Uint8Array(readFileSync(dataPath(LENET)));
    const want = bytesOf(readOnnx(model));
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    await fc.assert(
      // (hashAhead: the crypto thread hashes between segments while the build is that many chunks behind, or after its last)
      fc.asyncProperty(fc.integer({ min: 1024, max: 1 << 16 }), fc.array(fc.nat(64), { maxLength: 12 }), fc.boolean(), fc.boolean(), fc.constantFrom(0, 1, 3), async (chunkSize, order, fromFile, signed, hashAhead) => {
        sealTrace.hashAhead = hashAhead;
        const sealed = await sealModel(model, { key, chunkSize, sealedAt: null, ...(signed ? { signingKey: kp.privatePem } : {}) });
        const opts = { decryptionKey: key, ...(signed ? { verifyKey: kp.publicPem } : {}) };
        await threadUp();
        let o;
        if (fromFile) {
          const path = join(tmp, 'p.eqs');
          writeFileSync(path, sealed);
          o = await openModelFile(path, opts);
        } else o = await openModel(sealed, opts);
        expect(o?.ready, 'a version 3 model opened lazily').toBeDefined();
        const got = await readAll(o!, order);
        expect([...got.keys()]).toEqual([...want.keys()]);
        for (const [name, b] of want) expect(Buffer.compare(got.get(name)!, b), name).toBe(0);
      }),
      { numRuns: 40, seed: 19 },
    );
    sealTrace.hashAhead = undefined;
  });

  it.skipIf(!hasData(MNV2))('mobilenet_v2: the loading thread reads the weights back to front while the crypto thread works front to back — bit-identical', async () => {
    const model = new Uint8Array(readFileSync(dataPath(MNV2)));
    const want = bytesOf(readOnnx(model));
    const key = generateContentKey();
    const sealed = await sealModel(model, { key });
    await threadUp();
    // which thread decrypted which segment (formats/sealed.ts sealTrace)
    const here = new Set<number>();
    sealTrace.on = (what, i) => void (what === 'segment decrypted on the loading thread' && here.add(i!));
    // the crypto thread is held until the loading thread has read the last eighth of the initializers (so it claims their
    // segments itself whatever the scheduler does), then works from the front while the loading thread reads the rest
    sealTrace.holdCrypto = true;
    let o;
    let got;
    let first: Set<number>;
    try {
      o = await openModel(sealed, { decryptionKey: key });
      sealTrace.holdCrypto = false;
      const n = o.graph.initializers.size;
      const ts = [...o.graph.initializers.values()];
      const rest = n - Math.max(1, n >> 3);
      for (let i = n - 1; i >= rest; i--) void ts[i]!.data;
      first = new Set(here);
      sealTrace.releaseCrypto!();
      got = await readAll(o, Array.from({ length: rest }, (_, i) => rest - 1 - i));
    } finally {
      sealTrace.on = undefined;
      sealTrace.holdCrypto = false;
      sealTrace.releaseCrypto = undefined;
    }
    for (const [name, b] of want) expect(Buffer.compare(got.get(name)!, b), name).toBe(0);
    const times = sealTrace.threadTimes!;
    const byThread = Array.from({ length: (times.length - 2) / 2 }, (_, s) => s).filter((s) => times[1 + 2 * s]! > 0);
    expect(first.size, 'the loading thread took the segments it read first').toBeGreaterThan(0);
    // (held, the crypto thread claimed none of them)
    for (const s of first) expect(byThread, `segment ${s}`).not.toContain(s);
    // every segment was done by one of them (a segment both started on is one the loading thread overtook after a stall)
    const segs = (times.length - 2) / 2;
    expect(new Set([...here, ...byThread]).size).toBe(segs);
  });

  it('a file that changes after its header was read (the crypto thread reads the weight chunks): shortened → truncated, a flipped weight byte → tampered; nothing is handed out, and the next load is clean', async () => {
    const model = new Uint8Array(readFileSync(dataPath(LENET)));
    const want = bytesOf(readOnnx(model));
    const key = generateContentKey();
    const sealed = await sealModel(model, { key, chunkSize: 4096 });
    const good = join(tmp, 'good.eqs');
    writeFileSync(good, sealed);
    const H = 32 + (sealed[20]! | (sealed[21]! << 8));
    const skeleton = (JSON.parse(new TextDecoder().decode(sealed.subarray(32, H))) as { skeleton: number }).skeleton;
    const firstWeights = H + skeleton + 16;
    const cases: [string, Uint8Array, string][] = [
      ['cut in the weights', sealed.slice(0, firstWeights + 5000), 'truncated'],
      ['cut at the last chunk', sealed.slice(0, sealed.length - 20), 'truncated'],
      ['flipped in the first weight chunk', flip(sealed, firstWeights + 10), 'tampered'],
      ['flipped in the last weight chunk', flip(sealed, sealed.length - 30), 'tampered'],
    ];
    for (const [name, changed, expected] of cases) {
      const bad = join(tmp, 'changed.eqs');
      writeFileSync(bad, changed);
      await threadUp();
      // the header, chunk 0 and the size come from the good file; the weight chunks are read from the changed one
      const fd = openSync(bad, 'r');
      const gfd = openSync(good, 'r');
      let closed = 0;
      const src: SealedSource = {
        size: sealed.length,
        read: async (into, at) => readSync(gfd, into, 0, into.length, at),
        readSync: (into, at) => readSync(fd, into, 0, into.length, at),
        fd,
        close: async () => void closed++,
      };
      try {
        const r = await openSealedFileV3(src, { decryptionKey: key });
        expect(r?.lazy, name).toBeDefined();
        const g = readOnnx(r!.plaintext, { owned: true, prefilled: r!.prefilled! });
        r!.lazy!.attach(g);
        const handed: ArrayBufferView[] = [];
        const got = await outcome(
          (async () => {
            for (const t of g.initializers.values()) handed.push(t.data as ArrayBufferView);
            await r!.lazy!.ready();
          })().catch(async (e) => {
            await r!.lazy!.abort(e).catch(() => undefined);
            throw e;
          }),
        );
        expect(got, name).toBe(expected);
        expect(closed, `${name}: the file is closed once`).toBe(1);
        // whatever was handed out before the failure was wiped with the rest
        for (const d of handed) expect(new Uint8Array(d.buffer, d.byteOffset, d.byteLength).every((x) => x === 0), name).toBe(true);
      } finally {
        closeSync(fd);
        closeSync(gfd);
      }
      await threadUp();
      const o = await openModelFile(good, { decryptionKey: key });
      const ok = await readAll(o!, []);
      for (const [n2, b] of want) expect(Buffer.compare(ok.get(n2)!, b), `${name}: the next load`).toBe(0);
    }
  });
});

describe.skipIf(!hasData(LENET))('sealed version 4: a file rewritten during the load', () => {
  beforeAll(async () => {
    expect(await threadUp(), 'the crypto thread starts').toBe(true);
  });

  // The threat: one who holds the content key but not the signing key rewrites the file while it is loaded, with a
  // chunk re-encrypted under the content key (a valid GCM tag). The crypto thread reads the weight chunks through the
  // file descriptor, the loading thread (a segment it decrypts itself) through readSync: here each sees the original
  // or the rewritten file, in any order of weight reads (so either thread decrypts any chunk). Version 4 hashes the
  // very bytes each thread decrypted, so the load either refuses (SealError) or hands out exactly the signed weights.
  it('property: whichever thread reads the rewritten chunk, the load refuses or yields exactly the signed weights; both reading it → signature-invalid', async () => {
    const model = new Uint8Array(readFileSync(dataPath(LENET)));
    const want = bytesOf(readOnnx(model));
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    const chunk = 4096;
    const sealed = await sealModel(model, { key, chunkSize: chunk, signingKey: kp.privatePem });
    expect(sealed[6]).toBe(4);
    const end = aadEnd(sealed);
    const hdr = JSON.parse(new TextDecoder().decode(sealed.subarray(32, end))) as { skeleton: number; payload: number };
    const n = 1 + Math.ceil((hdr.payload - hdr.skeleton) / chunk);
    const good = join(tmp, 'toctou-good.eqs');
    writeFileSync(good, sealed);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: n - 1 }), fc.constantFrom('crypto', 'loading', 'both'), fc.array(fc.nat(64), { maxLength: 12 }), fc.boolean(), async (i, who, order, backwards) => {
        const at = end + hdr.skeleton + 16 + (i - 1) * (chunk + 16);
        const len = Math.min(chunk, hdr.payload - hdr.skeleton - (i - 1) * chunk) + 16;
        const changed = join(tmp, 'toctou-changed.eqs');
        writeFileSync(changed, reencryptChunk(sealed, key, i, at, len, i === n - 1, i));
        await threadUp();
        const cfd = openSync(who === 'loading' ? good : changed, 'r');
        const lfd = openSync(who === 'crypto' ? good : changed, 'r');
        const gfd = openSync(good, 'r');
        try {
          const src: SealedSource = {
            size: sealed.length,
            read: async (into, pos) => readSync(gfd, into, 0, into.length, pos),
            readSync: (into, pos) => readSync(lfd, into, 0, into.length, pos),
            fd: cfd,
            close: async () => undefined,
          };
          const r = await openSealedFileV3(src, { decryptionKey: key, verifyKey: kp.publicPem });
          expect(r?.lazy).toBeDefined();
          const g = readOnnx(r!.plaintext, { owned: true, prefilled: r!.prefilled! });
          r!.lazy!.attach(g);
          const ts = [...g.initializers.values()];
          const idx = [...order, ...ts.keys()];
          const got = await outcome(
            (async () => {
              for (const k of backwards ? idx.reverse() : idx) void ts[k % ts.length]!.data;
              await r!.lazy!.ready();
            })().catch(async (e) => {
              await r!.lazy!.abort(e).catch(() => undefined);
              throw e;
            }),
          );
          seen.set(`${who}:${got}`, (seen.get(`${who}:${got}`) ?? 0) + 1);
          if (who === 'both') expect(got).toBe('signature-invalid');
          else expect(['ok', 'signature-invalid', 'truncated']).toContain(got);
          if (got === 'ok') for (const [name, b] of want) expect(Buffer.compare(bytesOf(g).get(name)!, b), name).toBe(0);
        } finally {
          closeSync(cfd);
          closeSync(lfd);
          closeSync(gfd);
        }
      }),
      { numRuns: 60, seed: 19 },
    );
    // both threads read the rewritten chunk in some runs and only one of them in others
    expect([...seen.keys()].some((k) => k.startsWith('both:'))).toBe(true);
    expect([...seen.keys()].some((k) => !k.startsWith('both:') && !k.endsWith(':ok'))).toBe(true);
  });
});

function flip(b: Uint8Array, at: number): Uint8Array {
  const c = b.slice();
  c[at] ^= 0x40;
  return c;
}
