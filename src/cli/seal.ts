/**
 * `edgeq seal IN OUT --key-file K [--sign-key PRIV.pem] [--meta k=v …] [--chunk BYTES] [--container 1|2|3|4] [--json]`
 * `edgeq verify FILE [--verify-key PUB.pem] [--key-file K] [--json]`
 * `edgeq keygen OUT [--sign ed25519|p256] [--force] [--json]`
 * Sealed models (docs/sealed-format.md). Output names keys by id / fingerprint only, never by their bytes.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { readModel } from '../formats/detect.js';
import { openSealed, sealModel, verifySealed, type SealedInfo } from '../formats/sealed.js';
import { contentKeyId, generateContentKey, generateSigningKeyPair, type SigAlg, toHex } from '../formats/sealed-keys.js';
import '../ops/index.js';
import { UsageError, parseArgs } from './args.js';
import { type Io, fmtBytes, readBytes, stdio } from './inspect.js';

function parseMeta(items: string[]): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq <= 0) throw new UsageError(`--meta needs name=value, got '${it}'`);
    meta[it.slice(0, eq)] = it.slice(eq + 1);
  }
  return meta;
}

/** Read a PEM key file as text (the bytes are handed to WebCrypto as they are). */
function readText(path: string, what: string): string {
  return new TextDecoder().decode(readBytes(path, what));
}

export async function sealMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['key-file', 'sign-key', 'meta', 'chunk', 'container'], booleans: ['json'] });
  if (a.positional.length !== 2) throw new UsageError('seal needs IN and OUT paths');
  const chunk = a.get('chunk');
  const container = a.get('container');
  if (chunk !== undefined && !/^[0-9]+$/.test(chunk)) throw new UsageError(`--chunk must be a number of bytes, got '${chunk}'`);
  if (container !== undefined && !/^[1-4]$/.test(container)) throw new UsageError(`--container must be 1, 2, 3 or 4, got '${container}'`);
  const keyFile = a.get('key-file');
  if (!keyFile) throw new UsageError('seal needs --key-file K (make one with `edgeq keygen K`)');
  const [inPath, outPath] = a.positional as [string, string];
  const model = readBytes(inPath, 'model');
  readModel(model); // refuse to seal something that is not a model edgeq can read
  const key = readBytes(keyFile, 'key file');
  const signKey = a.get('sign-key');
  const sealed = await sealModel(model, {
    key,
    ...(signKey ? { signingKey: readText(signKey, 'signing key') } : {}),
    meta: parseMeta(a.all('meta')),
    ...(chunk !== undefined ? { chunkSize: Number(chunk) } : {}),
    ...(container !== undefined ? { version: Number(container) as 1 | 2 | 3 | 4 } : {}),
  });
  key.fill(0);
  writeFileSync(outPath, sealed);
  const info = await verifySealed(sealed);
  if (a.has('json')) {
    io.out(JSON.stringify({ in: inPath, out: outPath, ...info }, null, 2) + '\n');
    return 0;
  }
  io.out(`sealed ${inPath} (${info.format}, ${fmtBytes(info.size)}) → ${outPath} (${fmtBytes(info.sealedBytes)})\n`);
  printInfo(info, io);
  return 0;
}

function printInfo(info: SealedInfo, io: Io): void {
  io.out(`  sha256:    ${info.sha256}\n`);
  io.out(`  key id:    ${info.keyId}\n`);
  if (info.chunk !== undefined) io.out(`  chunks:    ${Math.max(1, Math.ceil(info.size / info.chunk))} of ≤ ${fmtBytes(info.chunk)}\n`);
  io.out(`  signature: ${info.sigAlg === 'none' ? 'none' : `${info.sigAlg}, signer ${info.signer}`}\n`);
  if (info.sealedAt) io.out(`  sealed at: ${info.sealedAt}\n`);
  for (const [k, v] of Object.entries(info.meta)) io.out(`  meta:      ${k}=${v}\n`);
}

export async function verifyMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['verify-key', 'key-file'], booleans: ['json'] });
  if (a.positional.length !== 1) throw new UsageError('verify needs exactly one sealed FILE');
  const file = a.positional[0]!;
  const bytes = readBytes(file, 'sealed model');
  const vk = a.get('verify-key');
  const verifyKey = vk ? readText(vk, 'verify key') : undefined;
  const kf = a.get('key-file');
  let info: SealedInfo;
  let decrypted: { nodes: number; inputs: string[]; outputs: string[] } | undefined;
  if (kf) {
    const key = readBytes(kf, 'key file');
    const r = await openSealed(bytes, { decryptionKey: key, checkDigest: true, ...(verifyKey ? { verifyKey } : {}) });
    key.fill(0);
    info = r.info;
    const g = readModel(r.plaintext);
    decrypted = { nodes: g.nodes.length, inputs: g.inputs.map((i) => i.name), outputs: g.outputs.map((o) => o.name) };
    r.plaintext.fill(0);
  } else info = await verifySealed(bytes, verifyKey ? { verifyKey } : {});
  const signature = info.sigAlg === 'none' ? 'none' : info.verified ? 'valid, signed by the verify key' : 'valid (embedded key only: integrity, not origin; pass --verify-key)';
  if (a.has('json')) {
    io.out(JSON.stringify({ file, ok: true, ...info, signature, ...(decrypted ? { decrypted: { ...decrypted, digest: 'matches' } } : {}) }, null, 2) + '\n');
    return 0;
  }
  io.out(`${file}: sealed model v${info.version}, ${info.format}, ${fmtBytes(info.size)}\n`);
  printInfo(info, io);
  io.out(`  verdict:   structure ok; signature ${signature}; ${decrypted ? `decrypted, SHA-256 matches, model parses (${decrypted.nodes} nodes)` : 'not decrypted (pass --key-file to check the content)'}\n`);
  return 0;
}

export async function keygenMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['sign'], booleans: ['force', 'json'] });
  if (a.positional.length !== 1) throw new UsageError('keygen needs exactly one OUT path');
  const out = a.positional[0]!;
  const sign = a.get('sign');
  const refuse = (f: string) => {
    if (existsSync(f) && !a.has('force')) throw new UsageError(`${f} exists; pass --force to overwrite it`);
  };
  if (sign === undefined) {
    refuse(out);
    const key = generateContentKey();
    const id = await contentKeyId(key);
    writeFileSync(out, toHex(key) + '\n', { mode: 0o600 });
    key.fill(0);
    if (a.has('json')) io.out(JSON.stringify({ keyFile: out, keyId: id }) + '\n');
    else io.out(`wrote AES-256 content key ${out} (64 hex digits, mode 600), key id ${id}\n`);
    return 0;
  }
  const alg: SigAlg | undefined = sign === 'ed25519' ? 'ed25519' : sign === 'p256' || sign === 'ecdsa-p256' ? 'ecdsa-p256' : undefined;
  if (!alg) throw new UsageError(`--sign must be ed25519 or p256, got '${sign}'`);
  const pub = out.endsWith('.pem') ? out.slice(0, -4) + '.pub.pem' : out + '.pub.pem';
  refuse(out);
  refuse(pub);
  const kp = await generateSigningKeyPair(alg);
  writeFileSync(out, kp.privatePem, { mode: 0o600 });
  writeFileSync(pub, kp.publicPem);
  if (a.has('json')) io.out(JSON.stringify({ privateKey: out, publicKey: pub, alg, fingerprint: kp.fingerprint }) + '\n');
  else io.out(`wrote ${alg} signing key ${out} (PKCS#8 PEM, mode 600) and public key ${pub} (SPKI PEM)\n  fingerprint: ${kp.fingerprint}\n`);
  return 0;
}
