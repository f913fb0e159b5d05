// edgeq keygen / seal / verify, and `edgeq split --seal-keys` + PipelineSession with per-part keys (issue 19).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { readSealedHeader } from '../../src/formats/sealed.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { PipelineSession } from '../../src/split/pipeline.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const tmp = mkdtempSync(join(tmpdir(), 'edgeq-seal-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function collect() {
  let out = '';
  let err = '';
  return { io: { out: (s: string) => void (out += s), err: (s: string) => void (err += s) }, get out() { return out; }, get err() { return err; } };
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = collect();
  const code = await main(argv, c.io);
  return { code, out: c.out, err: c.err };
}

describe.skipIf(!hasData('mnist/lenet.onnx'))('edgeq keygen / seal / verify', () => {
  const model = dataPath('mnist/lenet.onnx');
  const k = join(tmp, 'model.key');
  const priv = join(tmp, 'signer.pem');
  const pub = join(tmp, 'signer.pub.pem');
  const sealed = join(tmp, 'lenet.onnx.eqs');

  it('keygen writes a 0600 hex key and a PEM pair, never printing key bytes; refuses to overwrite', async () => {
    const r = await cli('keygen', k);
    expect(r.code).toBe(0);
    const hex = readFileSync(k, 'utf8').trim();
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(k).mode & 0o777).toBe(0o600);
    expect(r.out).toMatch(/key id [0-9a-f]{16}/);
    expect(r.out).not.toContain(hex);
    expect((await cli('keygen', k)).code).toBe(2);
    const s = await cli('keygen', priv, '--sign', 'ed25519');
    expect(s.code).toBe(0);
    expect(readFileSync(priv, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(pub, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(s.out).toMatch(/fingerprint: [0-9a-f]{64}/);
    expect((await cli('keygen', join(tmp, 'x.pem'), '--sign', 'rsa')).code).toBe(2);
  });

  it('seal then verify (structure, signature against the public key, decrypt + digest + parse); the sealed file runs like the model', async () => {
    const r = await cli('seal', model, sealed, '--key-file', k, '--sign-key', priv, '--meta', 'name=lenet', '--meta', 'owner=acme');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/sealed .*lenet\.onnx \(onnx, .*\) → /);
    expect(r.out).toContain('meta:      owner=acme');
    expect(r.out).not.toContain(readFileSync(k, 'utf8').trim());
    const v = await cli('verify', sealed, '--verify-key', pub, '--key-file', k, '--json');
    expect(v.code).toBe(0);
    const j = JSON.parse(v.out);
    expect(j).toMatchObject({ ok: true, format: 'onnx', sigAlg: 'ed25519', verified: true, meta: { name: 'lenet', owner: 'acme' }, decrypted: { digest: 'matches' } });
    const digest = Buffer.from(await crypto.subtle.digest('SHA-256', readFileSync(model))).toString('hex');
    expect(j.sha256).toBe(digest);
    const plainOut = await cli('verify', sealed);
    expect(plainOut.code).toBe(0);
    expect(plainOut.out).toMatch(/embedded key only/);
    const s = await InferenceSession.create(sealed, { decryptionKey: readFileSync(k, 'utf8'), verifyKey: readFileSync(pub, 'utf8') });
    const x = new Tensor('float32', new Float32Array(784).fill(0.25), [1, 1, 28, 28]);
    const ref = await InferenceSession.create(model);
    expect(Array.from((await s.run({ input: x })).logits!.data as Float32Array)).toEqual(Array.from((await ref.run({ input: x })).logits!.data as Float32Array));
  });

  it('--container writes the version asked for (1–4; 4 is the default for ONNX) and refuses others', async () => {
    for (const v of ['1', '2', '3', '4']) {
      const out = join(tmp, `lenet.v${v}.eqs`);
      expect((await cli('seal', model, out, '--key-file', k, '--container', v)).code).toBe(0);
      expect(readSealedHeader(readFileSync(out)).version).toBe(Number(v));
      expect((await cli('verify', out, '--key-file', k)).code).toBe(0);
    }
    const dflt = join(tmp, 'lenet.default.eqs');
    expect((await cli('seal', model, dflt, '--key-file', k)).code).toBe(0);
    expect(readSealedHeader(readFileSync(dflt)).version).toBe(4);
    const bad = await cli('seal', model, join(tmp, 'x.eqs'), '--key-file', k, '--container', '5');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--container must be 1, 2, 3 or 4/);
  });

  it('verify fails with exit 1 and a typed message on a tampered file, a foreign signer or a wrong key', async () => {
    const bytes = readFileSync(sealed);
    bytes[bytes.length - 100] ^= 1;
    const bad = join(tmp, 'bad.eqs');
    writeFileSync(bad, bytes);
    const t = await cli('verify', bad);
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/SealError: signature-invalid/);
    await cli('keygen', join(tmp, 'other.pem'), '--sign', 'p256');
    const o = await cli('verify', sealed, '--verify-key', join(tmp, 'other.pub.pem'));
    expect(o.code).toBe(1);
    expect(o.err).toMatch(/signature-invalid: signed by key [0-9a-f]{16}…, not by the verify key/);
    await cli('keygen', join(tmp, 'other.key'));
    const w = await cli('verify', sealed, '--key-file', join(tmp, 'other.key'));
    expect(w.code).toBe(1);
    expect(w.err).toMatch(/SealError: wrong-key/);
    expect(w.err).not.toContain(readFileSync(join(tmp, 'other.key'), 'utf8').trim());
    // the plain model commands refuse a sealed file with a typed error
    expect((await cli('inspect', sealed)).err).toMatch(/SealError: .*key-required: the model is sealed/);
  });

  it('split --seal-keys: one sealed file and key per part, no plaintext part on disk; PipelineSession opens it with per-part keys', async () => {
    const dir = join(tmp, 'split');
    const keys = join(tmp, 'split-keys');
    const r = await cli('split', model, '--parts', '2', '--out', dir, '--seal-keys', keys, '--sign-key', priv);
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'part1.onnx.eqs', 'part2.onnx.eqs']);
    expect(readdirSync(keys).sort()).toEqual(['part1.key', 'part2.key']);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const k1 = readFileSync(join(keys, 'part1.key'), 'utf8');
    const k2 = readFileSync(join(keys, 'part2.key'), 'utf8');
    expect(k1).not.toBe(k2);
    for (let i = 0; i < 2; i++) {
      const h = readSealedHeader(new Uint8Array(readFileSync(join(dir, m.parts[i].file))));
      expect(m.parts[i].sealed).toEqual({ keyId: h.keyId, sigAlg: 'ed25519', signer: h.signer });
      expect(h.meta.part).toBe(`${i + 1}/2`);
    }
    const x = new Tensor('float32', new Float32Array(2 * 784).map((_, i) => Math.abs(Math.sin(i))), [2, 1, 28, 28]);
    const ref = InferenceSession.fromGraph(readOnnx(new Uint8Array(readFileSync(model)))).runSync({ input: x });
    const p = await PipelineSession.create(dir, { partKeys: [k1, k2], verifyKey: readFileSync(pub, 'utf8') });
    try {
      const out = await p.run({ input: x });
      expect(Array.from(out.logits!.data as Float32Array)).toEqual(Array.from(ref.logits!.data as Float32Array));
    } finally {
      await p.close();
    }
    // part 2's key cannot open part 1; a missing key is named before any worker starts
    await expect(PipelineSession.create(dir, { partKeys: [k2, k1] })).rejects.toThrow(/part [12] failed to load: SealError: wrong-key/);
    await expect(PipelineSession.create(dir, { partKeys: [k1] })).rejects.toThrow(/part 2 \(part2\.onnx\.eqs\) is sealed for key id/);
    expect(existsSync(join(dir, 'part1.onnx'))).toBe(false);
  });
});
