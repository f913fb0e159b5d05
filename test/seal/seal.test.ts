// Sealed models (issue 19): seal → load gives bit-identical outputs (ONNX LeNet, TFLite person_detection and
// hello_world), keys in every accepted form, typed refusals, and the onModelLoaded audit event.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SealError } from '../../src/errors.js';
import { readModel } from '../../src/formats/detect.js';
import { platform } from '#platform';
import { isSealed, openSealed, readSealedHeader, sealModel, verifySealed } from '../../src/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair, importSigningKey, toBase64, toHex } from '../../src/formats/sealed-keys.js';
import { Interpreter } from '../../src/runtime/interpreter.js';
import type { ModelLoadedEvent } from '../../src/runtime/open-model.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';
import { bmpInt8 } from '../helpers/bmp.js';

const tmp = mkdtempSync(join(tmpdir(), 'edgeq-seal-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function sealErr(p: Promise<unknown>): Promise<SealError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SealError);
    return e as SealError;
  }
  throw new Error('expected a SealError, the promise resolved');
}

function sameBits(a: Tensor, b: Tensor): void {
  expect(a.type).toBe(b.type);
  expect(a.dims).toEqual(b.dims);
  const ab = a.data as Float32Array;
  const bb = b.data as Float32Array;
  expect(new Uint8Array(ab.buffer, ab.byteOffset, ab.byteLength)).toEqual(new Uint8Array(bb.buffer, bb.byteOffset, bb.byteLength));
}

describe.skipIf(!hasData('mnist/lenet.onnx'))('sealed ONNX (LeNet)', () => {
  const plain = () => new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));

  it.each(['ed25519', 'ecdsa-p256'] as const)('seal (%s-signed) → load: bit-identical outputs, audit event, verified origin', async (alg) => {
    const model = plain();
    const key = generateContentKey();
    const kp = await generateSigningKeyPair(alg);
    const sealed = await sealModel(model, { key, signingKey: kp.privatePem, meta: { name: 'lenet', version: '3' } });
    expect(isSealed(sealed)).toBe(true);
    // the ciphertext does not contain the model's bytes (a 64-byte window of the weights)
    const window = toHex(model.subarray(model.length - 64));
    expect(toHex(sealed).includes(window)).toBe(false);

    const events: ModelLoadedEvent[] = [];
    const s = await InferenceSession.create(sealed, { decryptionKey: key, verifyKey: kp.publicPem, onModelLoaded: (e) => events.push(e) });
    const ref = await InferenceSession.create(model);
    const x = readModelInput();
    sameBits((await s.run({ input: x })).logits!, (await ref.run({ input: x })).logits!);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    const digest = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', model)));
    expect(e).toMatchObject({ sha256: digest, format: 'onnx', size: model.length, sealed: true, verified: true, signer: kp.fingerprint, meta: { name: 'lenet', version: '3' } });
    expect(Date.now() - Date.parse(e.time)).toBeLessThan(60_000);
    expect(JSON.stringify(e)).not.toContain(toHex(key));
    await s.release();
    await ref.release();
  });

  it('content keys as raw bytes, hex, base64, key-file bytes and ArrayBuffer all open it; a path loads too', async () => {
    const model = plain();
    const key = generateContentKey();
    const sealed = await sealModel(model, { key });
    const file = join(tmp, 'lenet.eqs');
    writeFileSync(file, sealed);
    for (const k of [key, toHex(key), toBase64(key), new TextEncoder().encode(toHex(key) + '\n'), new TextEncoder().encode(toBase64(key) + '\n'), key.slice().buffer]) {
      const { plaintext } = await openSealed(sealed, { decryptionKey: k, checkDigest: true });
      expect(Buffer.compare(plaintext, model)).toBe(0);
    }
    const events: ModelLoadedEvent[] = [];
    const s = await InferenceSession.create(file, { decryptionKey: toHex(key), onModelLoaded: (e) => events.push(e) });
    expect(events[0]).toMatchObject({ sealed: true, verified: false, source: file, keyId: readSealedHeader(sealed).keyId });
    expect(events[0]!.signer).toBeUndefined();
    await s.release();
  });

  it('Node Buffers (readFileSync of the sealed file and of a raw key file), versions 4, 3 and 2, signed: load again and again, and neither Buffer is changed (a Buffer\'s slice() is a view: the loader once XORed the nonce into the caller\'s file bytes and wiped the caller\'s key)', async () => {
    const model = plain();
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    writeFileSync(join(tmp, 'raw.key'), key);
    for (const version of [4, 3, 2] as const) {
      writeFileSync(join(tmp, 'buf.eqs'), await sealModel(model, { key, version, signingKey: kp.privatePem }));
      const sealed = readFileSync(join(tmp, 'buf.eqs'));
      const keyBuf = readFileSync(join(tmp, 'raw.key'));
      const before = Buffer.from(sealed);
      for (let i = 0; i < 3; i++) await (await InferenceSession.create(sealed, { decryptionKey: keyBuf, verifyKey: kp.publicPem })).release();
      expect(Buffer.compare(sealed, before), `v${version}: the file bytes`).toBe(0);
      expect(Buffer.compare(keyBuf, key), `v${version}: the key bytes`).toBe(0);
      const { plaintext } = await openSealed(sealed, { decryptionKey: keyBuf, verifyKey: kp.publicPem, checkDigest: true });
      expect(Buffer.compare(plaintext, model)).toBe(0);
    }
  });

  it('refusals are typed: no key, plain model given a key, unsigned given a verify key, readModel on sealed bytes', async () => {
    const model = plain();
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    const sealed = await sealModel(model, { key });
    expect((await sealErr(InferenceSession.create(sealed))).reason).toBe('key-required');
    expect((await sealErr(Interpreter.create(sealed))).reason).toBe('key-required');
    expect(() => readModel(sealed)).toThrow(SealError);
    expect((await sealErr(InferenceSession.create(model, { decryptionKey: key }))).reason).toBe('not-sealed');
    expect((await sealErr(InferenceSession.create(sealed, { decryptionKey: key, verifyKey: kp.publicPem }))).reason).toBe('signature-missing');
    expect((await sealErr(InferenceSession.create(sealed, { decryptionKey: 'not a key' }))).reason).toBe('bad-key');
    expect((await sealErr(InferenceSession.create(sealed, { decryptionKey: generateContentKey() }))).reason).toBe('wrong-key');
    expect((await sealErr(sealModel(sealed, { key }))).reason).toBe('malformed');
    // a P-384 / RSA key is refused as unsupported (here: a made-up SPKI without a known OID)
    expect((await sealErr(verifySealed(sealed, { verifyKey: new Uint8Array(91) }))).reason).toBe('unsupported-algorithm');
  });

  it('a non-extractable CryptoKey opens it; the signer of a CryptoKeyPair is reported', async () => {
    const model = plain();
    const raw = generateContentKey();
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const signer = await importSigningKey(pair);
    const sealed = await sealModel(model, { key: raw, signingKey: pair, sealedAt: null });
    expect(readSealedHeader(sealed).sealedAt).toBeUndefined();
    const ck = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['decrypt']);
    const info = await verifySealed(sealed, { verifyKey: pair.publicKey });
    expect(info).toMatchObject({ verified: true, sigAlg: 'ecdsa-p256', signer: signer.fingerprint });
    const { plaintext } = await openSealed(sealed, { decryptionKey: ck });
    expect(Buffer.compare(plaintext, model)).toBe(0);
    expect((await sealErr(openSealed(sealed, { decryptionKey: await crypto.subtle.importKey('raw', generateContentKey(), 'AES-GCM', false, ['decrypt']) }))).reason).toBe('wrong-key');
  });
});

describe.skipIf(!hasData('mnist/lenet.onnx'))('container versions and decryption paths', () => {
  it('versions 1, 2 (one chunk, 16 chunks, 243 chunks), 4 and 3 (skeleton + 1 MiB / 1 KiB weight chunks) open to the same bytes through node:crypto and through WebCrypto; a bad chunk fails on both', async () => {
    const model = new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ecdsa-p256');
    const files = [
      await sealModel(model, { key, version: 1, signingKey: kp.privatePem }),
      await sealModel(model, { key, version: 2, signingKey: kp.privatePem }),
      await sealModel(model, { key, version: 2, chunkSize: 16384, signingKey: kp.privatePem }),
      await sealModel(model, { key, version: 2, chunkSize: 1024 }),
      await sealModel(model, { key, signingKey: kp.privatePem }),
      await sealModel(model, { key, chunkSize: 1024 }),
      await sealModel(new Uint8Array(0), { key, format: 'onnx' }),
      await sealModel(model, { key, version: 3, signingKey: kp.privatePem }),
      await sealModel(model, { key, version: 3, chunkSize: 1024, signingKey: kp.privatePem }),
    ];
    // the default is version 4 for an ONNX model that comes apart (an empty one does not: version 2)
    expect(files.map((f) => readSealedHeader(f).version)).toEqual([1, 2, 2, 2, 4, 4, 2, 3, 3]);
    expect(files.map((f) => readSealedHeader(f).chunk)).toEqual([undefined, 1 << 22, 16384, 1024, 1 << 20, 1024, 1 << 22, 1 << 20, 1024]);
    const host = platform.crypto;
    expect(host, 'Node has the node:crypto path').toBeDefined();
    const p = platform as { crypto?: unknown };
    try {
      for (const useHost of [true, false]) {
        p.crypto = useHost ? host : undefined;
        for (const f of files) {
          const want = readSealedHeader(f).size === 0 ? new Uint8Array(0) : model;
          const signed = readSealedHeader(f).sigAlg !== 'none';
          const { plaintext, info } = await openSealed(f, { decryptionKey: key, checkDigest: true, ...(signed ? { verifyKey: kp.publicPem } : {}) });
          expect(Buffer.compare(plaintext, want), `v${info.version} chunk ${info.chunk} host ${useHost}`).toBe(0);
          expect(info.verified).toBe(signed);
          if (!want.length) continue;
          // a flipped bit in the middle of the ciphertext
          const bad = f.slice();
          bad[bad.length >> 1] ^= 4;
          expect((await sealErr(openSealed(bad, { decryptionKey: key }))).reason).toMatch(/^(tampered|signature-invalid)$/);
        }
      }
    } finally {
      p.crypto = host;
    }
  });

  it.each(['mnist/lenet.onnx', 'bench/mobilenet_v2.onnx'])('owned plaintext (%s): the reader aliases aligned weights, moving the others down over their own field header, and every initializer equals the copying read', (rel) => {
    if (!hasData(rel)) return;
    const model = new Uint8Array(readFileSync(dataPath(rel)));
    const ref = readModel(model);
    const mine = model.slice();
    const g = readModel(mine, { owned: true });
    let aliased = 0;
    let bytes = 0;
    for (const [name, t] of ref.initializers) {
      const u = g.initializers.get(name)!;
      expect(u.dims).toEqual(t.dims);
      const a = t.data as Uint8Array;
      const b = u.data as Uint8Array;
      expect(Buffer.compare(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), new Uint8Array(a.buffer, a.byteOffset, a.byteLength)), name).toBe(0);
      bytes += b.byteLength;
      if (b.buffer === mine.buffer) aliased += b.byteLength;
    }
    // the copying read never aliases the caller's bytes
    for (const t of ref.initializers.values()) expect((t.data as Uint8Array).buffer).not.toBe(model.buffer);
    // all but tensors too small for their field header to absorb the move (or 8-byte types) are aliased
    expect(aliased / bytes).toBeGreaterThan(0.95);
  });

  it('bad chunk sizes and versions are refused when sealing', async () => {
    const key = generateContentKey();
    const m = new Uint8Array(4096);
    expect((await sealErr(sealModel(m, { key, chunkSize: 512 }))).reason).toBe('malformed');
    expect((await sealErr(sealModel(m, { key, chunkSize: 1.5 * 1024 + 0.5 }))).reason).toBe('malformed');
    expect((await sealErr(sealModel(m, { key, version: 5 as 2 }))).reason).toBe('unknown-version');
    // version 3 holds ONNX models only (a TFLite model, or bytes the skeleton scanner cannot take apart: version 2)
    expect((await sealErr(sealModel(m, { key, version: 3, format: 'tflite' }))).reason).toBe('malformed');
  });
});

function readModelInput(): Tensor {
  return new Tensor('float32', new Float32Array(3 * 784).map((_, i) => Math.abs(Math.sin(i * 0.37))), [3, 1, 28, 28]);
}

describe.skipIf(!hasData('tflite/person_detection'))('sealed TFLite', () => {
  it('person_detection through Interpreter.create: bit-identical scores on both test images', async () => {
    const model = new Uint8Array(readFileSync(dataPath('tflite/person_detection/person_detect.tflite')));
    const key = generateContentKey();
    const kp = await generateSigningKeyPair('ed25519');
    const sealed = await sealModel(model, { key, signingKey: kp.privatePem });
    expect(readSealedHeader(sealed).format).toBe('tflite');
    const events: ModelLoadedEvent[] = [];
    const a = await Interpreter.create(sealed, { decryptionKey: toBase64(key), verifyKey: kp.publicPem, onModelLoaded: (e) => events.push(e) });
    const b = await Interpreter.create(model);
    expect(events[0]).toMatchObject({ format: 'tflite', verified: true, signer: kp.fingerprint });
    for (const img of ['person.bmp', 'no_person.bmp']) {
      const x = bmpInt8(dataPath(`tflite/person_detection/${img}`));
      for (const it of [a, b]) {
        it.setTensor(it.getInputDetails()[0]!.index, x);
        it.invoke();
      }
      sameBits(a.getTensor(a.getOutputDetails()[0]!.index), b.getTensor(b.getOutputDetails()[0]!.index));
    }
  });

  it('hello_world (float and int8): bit-identical over a sweep of inputs', async () => {
    for (const f of ['hello_world_float.tflite', 'hello_world_int8.tflite']) {
      const model = new Uint8Array(readFileSync(dataPath(`tflite/${f}`)));
      const key = generateContentKey();
      const a = await Interpreter.create(await sealModel(model, { key }), { decryptionKey: key });
      const b = await Interpreter.create(model);
      const d = a.getInputDetails()[0]!;
      for (let k = 0; k < 50; k++) {
        const v = d.dtype === 'int8' ? Int8Array.of(k * 5 - 128) : Float32Array.of(k * 0.13);
        a.setTensor(d.index, v);
        b.setTensor(d.index, v);
        a.invoke();
        b.invoke();
        sameBits(a.getTensor(a.getOutputDetails()[0]!.index), b.getTensor(b.getOutputDetails()[0]!.index));
      }
    }
  });
});
