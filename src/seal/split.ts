/**
 * Seal each part of a split with its own content key (issue 19): a device is given only its part's key, so it can
 * decrypt only its part. Writes part<i>.onnx.eqs (sealed, never a plaintext copy on disk), one key file per part
 * (64 hex digits, mode 0600) and manifest.json whose parts carry `sealed: { keyId, sigAlg, signer? }`
 * (Node, Deno, Bun: needs a file system).
 */
import { platform } from '#platform';
import { SealError } from '../errors.js';
import { writeOnnx } from '../formats/onnx/writer.js';
import { readSealedHeader, sealModel } from '../formats/sealed.js';
import { type SigningKeyInput, generateContentKey, toHex } from '../formats/sealed-keys.js';
import type { SplitResult } from '../split/split.js';

export interface SealSplitOptions {
  /** sign every part with this Ed25519 / ECDSA P-256 private key */
  signingKey?: SigningKeyInput;
  /** metadata written into every part's header (plus part=i/K) */
  meta?: Record<string, string>;
}

/** Write `result` to `dir` with every part sealed under a fresh key written to `keysDir/part<i>.key`. Returns the files written. */
export async function writeSealedSplit(result: SplitResult, dir: string, keysDir: string, opts: SealSplitOptions = {}): Promise<{ files: string[]; keys: string[] }> {
  if (platform.kind !== 'node') throw new SealError('malformed', 'writeSealedSplit needs a file system (Node, Deno or Bun)');
  const K = result.parts.length;
  const parts: { name: string; data: Uint8Array }[] = [];
  const keys: { name: string; data: string; mode: number }[] = [];
  for (let i = 0; i < K; i++) {
    const part = result.manifest.parts[i]!;
    const key = generateContentKey();
    const sealed = await sealModel(writeOnnx(result.parts[i]!), { key, ...(opts.signingKey !== undefined ? { signingKey: opts.signingKey } : {}), meta: { ...opts.meta, part: `${i + 1}/${K}` } });
    const h = readSealedHeader(sealed);
    part.file = `part${i + 1}.onnx.eqs`;
    part.sealed = { keyId: h.keyId, sigAlg: h.sigAlg, ...(h.signer ? { signer: h.signer } : {}) };
    parts.push({ name: part.file, data: sealed });
    keys.push({ name: `part${i + 1}.key`, data: toHex(key) + '\n', mode: 0o600 });
    key.fill(0);
  }
  const keyFiles = platform.writeFiles(keysDir, keys);
  const files = platform.writeFiles(dir, [...parts, { name: 'manifest.json', data: JSON.stringify(result.manifest, null, 2) + '\n' }]);
  return { files, keys: keyFiles };
}
