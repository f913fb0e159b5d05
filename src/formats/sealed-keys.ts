/**
 * Keys for sealed models (docs/sealed-format.md), on WebCrypto only (`globalThis.crypto.subtle`), so the same
 * code runs in Node ≥ 20, Deno, Bun and browsers.
 *
 * - Content keys: AES-256-GCM, given as 32 raw bytes, 64 hex digits or base64 text (a key file may hold any of
 *   the three), or a CryptoKey. Their public name is a key id: the first 16 hex digits of
 *   SHA-256("edgeq-seal-key-id\0" ‖ key), which names the key without revealing it.
 * - Signing keys: Ed25519 or ECDSA P-256, private keys as PKCS#8 (PEM or DER), public keys as SPKI (PEM or
 *   DER); a signer is named by the SHA-256 fingerprint of its SPKI.
 *
 * No error message here ever contains key material (only lengths, labels, ids and fingerprints).
 * Lives in formats/ (not seal/) because the runtime needs it to open sealed files and may not import seal/.
 */
import { platform } from '#platform';
import { SealError } from '../errors.js';

export type SigAlg = 'ed25519' | 'ecdsa-p256';
/** 32 raw bytes, hex / base64 text (string or the bytes of a key file), or an AES-GCM CryptoKey */
export type ContentKeyInput = CryptoKey | Uint8Array | ArrayBuffer | string;
/** PKCS#8 private key (PEM text or DER bytes) or a CryptoKeyPair */
export type SigningKeyInput = string | Uint8Array | CryptoKeyPair;
/** SPKI public key (PEM text or DER bytes) or a public CryptoKey */
export type VerifyKeyInput = string | Uint8Array | CryptoKey;

export interface ContentKey {
  key: CryptoKey;
  /** 16 hex digits; undefined for a non-extractable CryptoKey (whose bytes cannot be hashed) */
  keyId: string | undefined;
}
export interface SigningKey {
  privateKey: CryptoKey;
  alg: SigAlg;
  /** the matching public key (SPKI DER), embedded in sealed headers */
  spki: Uint8Array;
  fingerprint: string;
}
export interface VerifyKey {
  publicKey: CryptoKey;
  alg: SigAlg;
  spki: Uint8Array;
  fingerprint: string;
}

export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new SealError('unsupported-algorithm', 'this runtime has no WebCrypto (globalThis.crypto.subtle); sealed models need it (browsers: a secure context)');
  return s;
}

export const ALG_PARAMS: Record<SigAlg, { import: EcKeyImportParams | Algorithm; sign: EcdsaParams | Algorithm; jwk: { kty: string; crv: string } }> = {
  ed25519: { import: { name: 'Ed25519' }, sign: { name: 'Ed25519' }, jwk: { kty: 'OKP', crv: 'Ed25519' } },
  'ecdsa-p256': { import: { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyImportParams, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams, jwk: { kty: 'EC', crv: 'P-256' } },
};

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function toBase64(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i]! << 16;
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
  }
  return s;
}

/** Standard or URL-safe base64 (padding optional); undefined when `s` is not base64. */
export function fromBase64(s: string): Uint8Array | undefined {
  const t = s.replace(/[\r\n\t ]/g, '').replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(t) || t.length % 4 === 1) return undefined;
  const out = new Uint8Array((t.length * 3) >> 2);
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < t.length; i++) {
    acc = (acc << 6) | B64.indexOf(t[i]!);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  return out;
}

/** SHA-256: the host's synchronous one when it has one (Node: node:crypto, no thread-pool hop), else WebCrypto's. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  const host = platform.crypto;
  if (host) {
    try {
      return host.sha256(data);
    } catch {
      // a runtime whose node:crypto lacks it: WebCrypto below
    }
  }
  return new Uint8Array(await subtle().digest('SHA-256', data as Uint8Array<ArrayBuffer>));
}

const KEY_ID_PREFIX = new TextEncoder().encode('edgeq-seal-key-id\0');

/** The public name of a 32-byte content key (16 hex digits of a domain-separated SHA-256). */
export async function contentKeyId(raw: Uint8Array): Promise<string> {
  const buf = new Uint8Array(KEY_ID_PREFIX.length + raw.length);
  buf.set(KEY_ID_PREFIX);
  buf.set(raw, KEY_ID_PREFIX.length);
  const id = toHex(await sha256(buf)).slice(0, 16);
  buf.fill(0);
  return id;
}

/**
 * The 32 bytes of a content key from raw bytes or hex / base64 text (leading/trailing whitespace ignored).
 * The result is a fresh copy the caller may wipe.
 */
export function contentKeyBytes(input: Uint8Array | ArrayBuffer | string): Uint8Array {
  const bytes = typeof input === 'string' ? undefined : input instanceof ArrayBuffer ? new Uint8Array(input) : input;
  // (new Uint8Array copies; a Node Buffer's slice() is a view, which the caller's wipe would zero under its owner)
  if (bytes && bytes.length === 32) return new Uint8Array(bytes);
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    if (bytes!.length > 4096) throw new SealError('bad-key', `an AES-256 key is 32 raw bytes, 64 hex digits or base64 of 32 bytes; got ${bytes!.length} bytes`);
    text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  }
  text = text.trim();
  let out: Uint8Array | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  } else {
    const b = fromBase64(text);
    if (b && b.length === 32) out = b;
    else b?.fill(0);
  }
  if (!out) throw new SealError('bad-key', `an AES-256 key is 32 raw bytes, 64 hex digits or base64 of 32 bytes; got ${typeof input === 'string' ? `a ${text.length}-character string` : `${bytes!.length} bytes`} that is none of these`);
  return out;
}

/** Import a content key for AES-256-GCM (non-extractable) and compute its key id. */
export async function importContentKey(input: ContentKeyInput): Promise<ContentKey> {
  if (isCryptoKey(input)) {
    const alg = input.algorithm as AesKeyAlgorithm;
    if (alg.name !== 'AES-GCM' || alg.length !== 256) throw new SealError('bad-key', `the content key must be an AES-GCM 256-bit CryptoKey, got ${alg.name}${alg.length ? '-' + alg.length : ''}`);
    let keyId: string | undefined;
    if (input.extractable) {
      const raw = new Uint8Array(await subtle().exportKey('raw', input));
      keyId = await contentKeyId(raw);
      raw.fill(0);
    }
    return { key: input, keyId };
  }
  if (input === undefined || input === null) throw new SealError('key-required', 'no content key given');
  const raw = contentKeyBytes(input);
  try {
    const key = await subtle().importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    return { key, keyId: await contentKeyId(raw) };
  } finally {
    raw.fill(0);
  }
}

/**
 * A content key given as bytes or text, imported into the host's own AES-GCM (Node: a KeyObject) with its key id —
 * synchronously: no WebCrypto import and no promise to wait for on the loading thread (formats/sealed.ts, version 3).
 * Undefined for a CryptoKey, a missing key, or a host without it (then importContentKey); bad bytes are `bad-key`.
 */
export function hostContentKey(input: ContentKeyInput | undefined | null): { key: unknown; keyId: string } | undefined {
  const host = platform.crypto;
  if (!host?.aesGcmRawKey || !(input instanceof Uint8Array || input instanceof ArrayBuffer || typeof input === 'string')) return undefined;
  const raw = contentKeyBytes(input);
  const buf = new Uint8Array(KEY_ID_PREFIX.length + raw.length);
  try {
    buf.set(KEY_ID_PREFIX);
    buf.set(raw, KEY_ID_PREFIX.length);
    const key = host.aesGcmRawKey(raw);
    return key === undefined ? undefined : { key, keyId: toHex(host.sha256(buf)).slice(0, 16) };
  } catch {
    return undefined;
  } finally {
    raw.fill(0);
    buf.fill(0);
  }
}

/** 32 random bytes for a new content key. */
export function generateContentKey(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(32));
}

function isCryptoKey(x: unknown): x is CryptoKey {
  return typeof CryptoKey !== 'undefined' && x instanceof CryptoKey;
}

/** Decode PEM text: the first block's label and DER bytes. */
export function pemDecode(text: string, what: string): { label: string; der: Uint8Array } {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new SealError('bad-key', `${what} is not PEM text (-----BEGIN …----- block)`);
  const der = fromBase64(m[2]!);
  if (!der || !der.length) throw new SealError('bad-key', `${what}: the PEM block '${m[1]}' does not hold base64`);
  return { label: m[1]!, der };
}

export function pemEncode(label: string, der: Uint8Array): string {
  const b = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 64) lines.push(b.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const OID_ED25519 = [0x06, 0x03, 0x2b, 0x65, 0x70];
const OID_P256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

function hasSeq(der: Uint8Array, seq: number[], limit = 64): boolean {
  outer: for (let i = 0; i + seq.length <= Math.min(der.length, limit); i++) {
    for (let k = 0; k < seq.length; k++) if (der[i + k] !== seq[k]) continue outer;
    return true;
  }
  return false;
}

/** Which signature algorithm a PKCS#8 / SPKI key is for (by its algorithm OID near the start of the DER). */
export function keyAlg(der: Uint8Array, what: string): SigAlg {
  if (hasSeq(der, OID_ED25519)) return 'ed25519';
  if (hasSeq(der, OID_P256)) return 'ecdsa-p256';
  throw new SealError('unsupported-algorithm', `${what}: only Ed25519 and ECDSA P-256 keys are supported`);
}

function derOf(input: string | Uint8Array, labels: string[], what: string): Uint8Array {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new SealError('bad-key', `${what} must be PEM text or DER bytes`);
  const text = typeof input === 'string' ? input : input[0] === 0x2d /* '-' */ ? new TextDecoder().decode(input) : undefined;
  if (text === undefined) return input as Uint8Array;
  const { label, der } = pemDecode(text, what);
  if (!labels.includes(label)) throw new SealError('bad-key', `${what}: expected a PEM '${labels.join("' or '")}' block, got '${label}'`);
  return der;
}

export async function spkiFingerprint(spki: Uint8Array): Promise<string> {
  return toHex(await sha256(spki));
}

/** Import a PKCS#8 private key (PEM/DER) or a CryptoKeyPair for signing; derives its public key. */
export async function importSigningKey(input: SigningKeyInput): Promise<SigningKey> {
  const s = subtle();
  if (input && typeof input === 'object' && 'privateKey' in input && 'publicKey' in input) {
    const spki = new Uint8Array(await s.exportKey('spki', input.publicKey));
    return { privateKey: input.privateKey, alg: keyAlg(spki, 'signing key'), spki, fingerprint: await spkiFingerprint(spki) };
  }
  const der = derOf(input as string | Uint8Array, ['PRIVATE KEY'], 'signing key');
  const alg = keyAlg(der, 'signing key');
  const p = ALG_PARAMS[alg];
  let priv: CryptoKey;
  try {
    priv = await s.importKey('pkcs8', der as Uint8Array<ArrayBuffer>, p.import, true, ['sign']);
  } catch (e) {
    throw new SealError(alg === 'ed25519' && (e as Error).name === 'NotSupportedError' ? 'unsupported-algorithm' : 'bad-key', `signing key: not a valid ${alg} PKCS#8 private key (${(e as Error).name})`);
  }
  // the public half: the JWK of the private key carries it (x, and y for EC)
  const jwk = await s.exportKey('jwk', priv);
  const pubJwk: JsonWebKey = { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, ...(jwk.y ? { y: jwk.y } : {}) };
  const pub = await s.importKey('jwk', pubJwk, p.import, true, ['verify']);
  const spki = new Uint8Array(await s.exportKey('spki', pub));
  // keep only a non-extractable copy of the private key
  const privateKey = await s.importKey('jwk', jwk, p.import, false, ['sign']);
  return { privateKey, alg, spki, fingerprint: await spkiFingerprint(spki) };
}

/** Import an SPKI public key (PEM/DER) or a public CryptoKey for verification. */
export async function importVerifyKey(input: VerifyKeyInput): Promise<VerifyKey> {
  const s = subtle();
  let spki: Uint8Array;
  if (isCryptoKey(input)) {
    if (input.type !== 'public') throw new SealError('bad-key', `the verify key must be a public key, got a ${input.type} key`);
    spki = new Uint8Array(await s.exportKey('spki', input));
  } else spki = derOf(input, ['PUBLIC KEY'], 'verify key');
  const alg = keyAlg(spki, 'verify key');
  let publicKey: CryptoKey;
  try {
    publicKey = await s.importKey('spki', spki as Uint8Array<ArrayBuffer>, ALG_PARAMS[alg].import, true, ['verify']);
  } catch (e) {
    throw new SealError('bad-key', `verify key: not a valid ${alg} SPKI public key (${(e as Error).name})`);
  }
  return { publicKey, alg, spki, fingerprint: await spkiFingerprint(spki) };
}

/**
 * A verify key given as PEM or DER, parsed by the host's own crypto (Node: a KeyObject) — synchronously, so checking a
 * signature needs no WebCrypto job (each one an event-loop turn, which a loading thread busy building a session does
 * not take until it is done). Undefined for a CryptoKey, no key, or a host without it (then importVerifyKey). Bad input
 * fails as importVerifyKey's does (`bad-key`, `unsupported-algorithm`).
 */
export function hostVerifyKey(input: VerifyKeyInput | undefined): { hostKey: unknown; alg: SigAlg; spki: Uint8Array; fingerprint: string } | undefined {
  const host = platform.crypto;
  if (!host?.verifyKey || !host.verify || input === undefined || isCryptoKey(input)) return undefined;
  const spki = derOf(input, ['PUBLIC KEY'], 'verify key');
  const alg = keyAlg(spki, 'verify key');
  let hostKey: unknown;
  try {
    hostKey = host.verifyKey(alg, spki);
  } catch {
    throw new SealError('bad-key', `verify key: not a valid ${alg} SPKI public key (DataError)`);
  }
  return { hostKey, alg, spki, fingerprint: toHex(host.sha256(spki)) };
}

/** A new signing key pair as PEM text (PKCS#8 private, SPKI public). */
export async function generateSigningKeyPair(alg: SigAlg): Promise<{ privatePem: string; publicPem: string; fingerprint: string }> {
  const s = subtle();
  const kp = (await s.generateKey(ALG_PARAMS[alg].import, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await s.exportKey('pkcs8', kp.privateKey));
  const spki = new Uint8Array(await s.exportKey('spki', kp.publicKey));
  const privatePem = pemEncode('PRIVATE KEY', pkcs8);
  pkcs8.fill(0);
  return { privatePem, publicPem: pemEncode('PUBLIC KEY', spki), fingerprint: await spkiFingerprint(spki) };
}
