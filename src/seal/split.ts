/**
 * Seal each part of a split with its own content key (issue 19): a device is given only its part's key, so it can
 * decrypt only its part. Writes part<i>.onnx.eqs (sealed, never a plaintext copy on disk), one key file per part
 * (64 hex digits, mode 0600) and manifest.json whose parts carry `sealed: { keyId, sigAlg, signer? }` (Node only).
 */
import { SealError } from '../errors.js';
import { writeOnnx } from '../formats/onnx/writer.js';
import { readSealedHeader, sealModel } from '../formats/sealed.js';
import { type SigningKeyInput, generateContentKey, toHex } from '../formats/sealed-keys.js';
import type { SplitResult } from '../split/split.js';

// node:fs / node:path are loaded only under Node so browsers can import the package entry.
const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const fs = isNode ? await import('node:fs') : undefined;
const path = isNode ? await import('node:path') : undefined;

export interface SealSplitOptions {
  /** sign every part with this Ed25519 / ECDSA P-256 private key */
  signingKey?: SigningKeyInput;
  /** metadata written into every part's header (plus part=i/K) */
  meta?: Record<string, string>;
}

/** Write `result` to `dir` with every part sealed under a fresh key written to `keysDir/part<i>.key`. Returns the files written. */
export async function writeSealedSplit(result: SplitResult, dir: string, keysDir: string, opts: SealSplitOptions = {}): Promise<{ files: string[]; keys: string[] }> {
  if (!fs || !path) throw new SealError('malformed', 'writeSealedSplit needs a file system (Node)');
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  const keys: string[] = [];
  const K = result.parts.length;
  for (let i = 0; i < K; i++) {
    const part = result.manifest.parts[i]!;
    const key = generateContentKey();
    const sealed = await sealModel(writeOnnx(result.parts[i]!), { key, ...(opts.signingKey !== undefined ? { signingKey: opts.signingKey } : {}), meta: { ...opts.meta, part: `${i + 1}/${K}` } });
    const h = readSealedHeader(sealed);
    part.file = `part${i + 1}.onnx.eqs`;
    part.sealed = { keyId: h.keyId, sigAlg: h.sigAlg, ...(h.signer ? { signer: h.signer } : {}) };
    const f = path.join(dir, part.file);
    fs.writeFileSync(f, sealed);
    files.push(f);
    const kf = path.join(keysDir, `part${i + 1}.key`);
    fs.writeFileSync(kf, toHex(key) + '\n', { mode: 0o600 });
    key.fill(0);
    keys.push(kf);
  }
  const m = path.join(dir, 'manifest.json');
  fs.writeFileSync(m, JSON.stringify(result.manifest, null, 2) + '\n');
  files.push(m);
  return { files, keys };
}
