/**
 * The sealed model container (format described in docs/sealed-format.md). Version 2 (written by default):
 *
 *   0   6  magic "EQSEAL"
 *   6   1  version (2; version 1 is still read)
 *   7   1  flags (0; reserved)
 *   8  12  base nonce (random)
 *   20  4  H = header length (u32 LE, 2 ≤ H ≤ 65536)
 *   24  8  C = length of the chunks (u64 LE) = size + 16 · n
 *   32  H  header: UTF-8 JSON (model SHA-256, format, size, chunk size, key id, signature algorithm, signer, metadata)
 *   …   C  n chunks, chunk i = AES-256-GCM(plaintext[i·chunk, (i+1)·chunk)) ‖ 16-byte tag, nonce = base nonce with its
 *          last 4 bytes XOR i (big-endian), additional data = bytes [0, 32 + H) ‖ u32 LE i ‖ u8 (i = n − 1)
 *   …   2  S = signature length (u16 LE)      ┐ only when the header's sigAlg is not "none"
 *   …   S  signature over bytes [0, 32 + H) ‖ SHA-256 of each 1 MiB block of the chunks, in order   ┘
 *
 * Version 1 is one chunk (the whole model, additional data = bytes [0, 32 + H)) and signs bytes [0, 32 + H + C).
 * Chunks decrypt independently (WebCrypto runs them concurrently on its threads; Node uses node:crypto through
 * `#platform`, which is several times faster than Node's WebCrypto), and a signature is checked over 32-byte
 * block digests (the host's SHA-256 where it has one, else WebCrypto's, concurrently with decryption). A file is
 * decrypted while it is read (openSealedSource). Lives in formats/ (not seal/) because the runtime opens
 * sealed files and may import only lower layers.
 */
import { platform } from '#platform';
import type { GcmThreadSlot, HostCrypto } from '../platform/types.js';
import type { Graph } from '../ir/graph.js';
import { SealError } from '../errors.js';
import {
  ALG_PARAMS,
  type ContentKey,
  type ContentKeyInput,
  type SigAlg,
  type SigningKeyInput,
  type VerifyKeyInput,
  fromBase64,
  hostContentKey,
  hostVerifyKey,
  importContentKey,
  importSigningKey,
  importVerifyKey,
  sha256,
  spkiFingerprint,
  subtle,
  toBase64,
  toHex,
} from './sealed-keys.js';
import { OnnxScatter, giveReadBuffer, takeReadBuffer } from './sealed-scatter.js';
import { type V3Skeleton, parseSkeletonSection, rebuildModel, v3Payload as takeApart } from './sealed-v3.js';

function v3Payload(model: Uint8Array): { payload: Uint8Array; skeleton: number } | undefined {
  return takeApart(model, V3_OUT_OF_LINE);
}

export const SEAL_MAGIC = new Uint8Array([0x45, 0x51, 0x53, 0x45, 0x41, 0x4c]); // "EQSEAL"
/** the version sealModel writes by default */
export const SEAL_VERSION = 2;
/** the versions this edgeq reads */
export const SEAL_VERSIONS: readonly number[] = [1, 2, 3, 4];
/**
 * default plaintext bytes per chunk (version 2): 4 MiB. Node decrypts every chunk into the one buffer the reader
 * parses whatever the size; WebCrypto (browsers) decrypts chunks concurrently and its in/out copies stay bounded.
 */
export const SEAL_CHUNK = 1 << 22;
/** default bytes per weight chunk of version 3: the loading thread waits for the chunks of the weight it needs */
export const SEAL_CHUNK_V3 = 1 << 20;
/** version 3: raw_data of at least this many bytes leave the skeleton (smaller tensors stay inline) */
const V3_OUT_OF_LINE = 1024;
const MIN_CHUNK = 1024;
const MAX_CHUNK = 1 << 30;
const FIXED = 32;
const IV_AT = 8;
const IV_LEN = 12;
const TAG_LEN = 16;
const MAX_HEADER = 65536;
const MAX_META = 64;
const SIG_LEN = 64;
const DIGEST_LEN = 32;
/** bytes of chunk data per digest in a version 2 signature */
const SIGN_BLOCK = 1 << 20;

export type SealedFormat = 'onnx' | 'tflite';

/** The JSON header of a sealed file (authenticated as AES-GCM additional data, covered by the signature). */
export interface SealHeader {
  /** SHA-256 (hex) of the plaintext model */
  sha256: string;
  format: SealedFormat;
  /** plaintext bytes */
  size: number;
  /** plaintext bytes per chunk (versions 2 and 3; the last chunk may be shorter; version 3: per weight chunk) */
  chunk?: number;
  /** version 3: bytes of the skeleton section (chunk 0) at the start of the payload */
  skeleton?: number;
  /** version 3: bytes encrypted (skeleton section + weights section); `size` is the model's */
  payload?: number;
  /** id of the content key (16 hex digits; see sealed-keys.ts) */
  keyId: string;
  sigAlg: 'none' | SigAlg;
  /** the signer's public key (SPKI DER, base64) and its SHA-256 fingerprint, when signed */
  signer?: { spki: string; fingerprint: string };
  /** free-form text metadata (name=value) */
  meta: Record<string, string>;
  /** ISO-8601 time of sealing (optional) */
  sealedAt?: string;
}

/** What a sealed file says about itself, and what was checked. Never contains key or model bytes. */
export interface SealedInfo {
  version: number;
  sha256: string;
  format: SealedFormat;
  size: number;
  /** plaintext bytes per chunk (version 2) */
  chunk?: number;
  keyId: string;
  sigAlg: 'none' | SigAlg;
  /** fingerprint of the key that signed it (SHA-256 of its SPKI, hex) */
  signer?: string;
  /** the signature was checked against a verify key the caller gave (origin), not only the embedded one */
  verified: boolean;
  meta: Record<string, string>;
  sealedAt?: string;
  /** total bytes of the sealed file */
  sealedBytes: number;
}

interface Layout {
  version: number;
  header: SealHeader;
  /** end of the authenticated header (32 + H) */
  aadEnd: number;
  /** end of the ciphertext (32 + H + C) */
  signedEnd: number;
  /** plaintext bytes per chunk and number of chunks (version 1: one chunk of the whole model) */
  chunk: number;
  n: number;
  /** bytes encrypted (versions 1–2: the model's size) and plaintext bytes of chunk 0 (version 3: the skeleton section) */
  payload: number;
  first: number;
  sig?: Uint8Array;
}

/** True when `bytes` start with the sealed-model magic (whatever follows). */
export function isSealed(bytes: Uint8Array): boolean {
  if (!(bytes instanceof Uint8Array) || bytes.length < SEAL_MAGIC.length) return false;
  for (let i = 0; i < SEAL_MAGIC.length; i++) if (bytes[i] !== SEAL_MAGIC[i]) return false;
  return true;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function malformed(msg: string): never {
  throw new SealError('malformed', msg);
}

function validateHeader(h: unknown, version: number): SealHeader {
  if (!h || typeof h !== 'object' || Array.isArray(h)) malformed('header is not a JSON object');
  const o = h as Record<string, unknown>;
  const allowed = new Set(['sha256', 'format', 'size', 'keyId', 'sigAlg', 'signer', 'meta', 'sealedAt', ...(version >= 2 ? ['chunk'] : []), ...(version >= 3 ? ['skeleton', 'payload'] : [])]);
  for (const k of Object.keys(o)) if (!allowed.has(k)) malformed(`header has an unknown field '${k.slice(0, 40)}'`);
  if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) malformed('header.sha256 must be 64 lowercase hex digits');
  if (o.format !== 'onnx' && o.format !== 'tflite') malformed(`header.format must be 'onnx' or 'tflite'`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) malformed('header.size must be a non-negative integer');
  if (version >= 2 && (typeof o.chunk !== 'number' || !Number.isSafeInteger(o.chunk) || o.chunk < MIN_CHUNK || o.chunk > MAX_CHUNK)) {
    malformed(`header.chunk must be an integer in [${MIN_CHUNK}, ${MAX_CHUNK}]`);
  }
  if (version >= 3) {
    if (o.format !== 'onnx') malformed('a version 3 container holds an ONNX model');
    if (typeof o.payload !== 'number' || !Number.isSafeInteger(o.payload) || o.payload < 8) malformed('header.payload must be an integer ≥ 8');
    if (typeof o.skeleton !== 'number' || !Number.isSafeInteger(o.skeleton) || o.skeleton < 8 || o.skeleton > o.payload || o.skeleton > MAX_CHUNK) malformed('header.skeleton must be an integer in [8, payload]');
  }
  if (typeof o.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(o.keyId)) malformed('header.keyId must be 16 lowercase hex digits');
  if (o.sigAlg !== 'none' && o.sigAlg !== 'ed25519' && o.sigAlg !== 'ecdsa-p256') {
    throw new SealError('unsupported-algorithm', `header.sigAlg '${String(o.sigAlg).slice(0, 20)}' is not none, ed25519 or ecdsa-p256`);
  }
  if (o.sigAlg === 'none') {
    if (o.signer !== undefined) malformed('header.signer given for an unsigned file');
  } else {
    const s = o.signer as Record<string, unknown> | undefined;
    if (!s || typeof s !== 'object' || typeof s.spki !== 'string' || typeof s.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(s.fingerprint) || Object.keys(s).length !== 2) {
      malformed('header.signer must be { spki: base64, fingerprint: 64 hex digits }');
    }
  }
  const m = o.meta;
  if (!m || typeof m !== 'object' || Array.isArray(m)) malformed('header.meta must be an object');
  const entries = Object.entries(m as object);
  if (entries.length > MAX_META) malformed(`header.meta has ${entries.length} entries (at most ${MAX_META})`);
  for (const [, v] of entries) if (typeof v !== 'string') malformed('header.meta values must be strings');
  if (o.sealedAt !== undefined && (typeof o.sealedAt !== 'string' || o.sealedAt.length > 64)) malformed('header.sealedAt must be an ISO-8601 string');
  return o as unknown as SealHeader;
}

/** Number of chunks of a `size`-byte model in `chunk`-byte chunks (an empty model is one empty chunk). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function chunkCount(size: number, chunk: number): number {
  return Math.max(1, Math.ceil(size / chunk));
}

/** Check the container's structure (no crypto). Throws SealError naming what is wrong. */
function layout(bytes: Uint8Array): Layout {
  if (!(bytes instanceof Uint8Array)) throw new SealError('not-sealed', 'a sealed model must be given as bytes');
  const l = layoutHead(bytes, bytes.length);
  return layoutTail(l, bytes.subarray(l.signedEnd, l.signedEnd + 2 + SIG_LEN), bytes.length);
}

/**
 * The structure up to the end of the ciphertext, from the first bytes of a `total`-byte file: `head` holds bytes
 * [0, min(total, 32 + H)) at least (a file read piece by piece needs only its first 32 + 65536 bytes).
 */
function layoutHead(head: Uint8Array, total: number): Layout {
  if (!isSealed(head)) throw new SealError('not-sealed', 'the file does not start with the sealed-model magic "EQSEAL"');
  if (total < FIXED) throw new SealError('truncated', `the file has ${total} bytes, less than the ${FIXED}-byte fixed header`);
  const version = head[6]!;
  if (!SEAL_VERSIONS.includes(version)) throw new SealError('unknown-version', `container version ${version} (this edgeq reads versions ${SEAL_VERSIONS.join(' and ')})`);
  if (head[7] !== 0) malformed(`flags byte is 0x${head[7]!.toString(16)} (reserved, must be 0)`);
  const H = u32(head, 20);
  const cLo = u32(head, 24);
  const cHi = u32(head, 28);
  if (H < 2 || H > MAX_HEADER) malformed(`header length ${H} is outside [2, ${MAX_HEADER}]`);
  if (cHi > 0x1fffff) malformed('ciphertext length does not fit in 53 bits');
  const C = cHi * 2 ** 32 + cLo;
  if (C < TAG_LEN) malformed(`ciphertext length ${C} is shorter than the ${TAG_LEN}-byte GCM tag`);
  const aadEnd = FIXED + H;
  if (total < aadEnd) throw new SealError('truncated', `the file has ${total} bytes; its header ends at byte ${aadEnd}`);
  let header: SealHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(FIXED, aadEnd))) as SealHeader;
  } catch {
    malformed(`the ${H}-byte header is not UTF-8 JSON`);
  }
  header = validateHeader(header, version);
  const chunk = version >= 2 ? header.chunk! : Math.max(1, header.size);
  // version 3: chunk 0 is the skeleton section, then the weights section in `chunk`-byte chunks
  const payload = version >= 3 ? header.payload! : header.size;
  const first = version >= 3 ? header.skeleton! : chunk;
  const n = version >= 3 ? 1 + Math.ceil((payload - first) / chunk) : chunkCount(header.size, chunk);
  if (n > 2 ** 32) malformed(`${n} chunks (at most 2^32)`);
  if (payload + n * TAG_LEN !== C) malformed(`header.${version >= 3 ? 'payload' : 'size'} ${payload} in ${n} chunk(s) does not match the ciphertext length ${C}`);
  const signedEnd = aadEnd + C;
  if (total < signedEnd) throw new SealError('truncated', `the file has ${total} bytes; its ciphertext ends at byte ${signedEnd}`);
  return { version, header, aadEnd, signedEnd, chunk, n, payload, first };
}

/** The signature part: `tail` holds bytes [signedEnd, min(total, signedEnd + 2 + 64)) of the `total`-byte file. */
function layoutTail(l: Layout, tail: Uint8Array, total: number): Layout {
  const { header, signedEnd } = l;
  if (header.sigAlg !== 'none') {
    if (total < signedEnd + 2) throw new SealError('truncated', `the file has ${total} bytes; the header announces a ${header.sigAlg} signature after byte ${signedEnd}`);
    const S = tail[0]! | (tail[1]! << 8);
    if (S !== SIG_LEN) malformed(`signature length ${S} (a ${header.sigAlg} signature has ${SIG_LEN} bytes)`);
    const end = signedEnd + 2 + S;
    if (total < end) throw new SealError('truncated', `the file has ${total} bytes; its signature ends at byte ${end}`);
    if (total > end) throw new SealError('tampered', `${total - end} unexpected bytes after the signature`);
    return { ...l, sig: new Uint8Array(tail.subarray(2, 2 + S)) }; // (a copy: WebCrypto takes no view of shared memory)
  }
  if (total > signedEnd) throw new SealError('tampered', `${total - signedEnd} unexpected bytes after the ciphertext of an unsigned file`);
  return l;
}

/** Chunk i: its ciphertext ‖ tag in the file, where its plaintext goes, its nonce and its additional data. */
function chunkAt(bytes: Uint8Array, l: Layout, i: number): { stored: Uint8Array; at: number; len: number; iv: Uint8Array; aad: Uint8Array } {
  const at = chunkStart(l, i);
  const len = Math.min(i === 0 ? l.first : l.chunk, l.payload - at);
  const start = l.aadEnd + at + i * TAG_LEN;
  const stored = bytes.subarray(start, start + len + TAG_LEN);
  return { stored, at, len, ...nonceAad(bytes.subarray(0, l.aadEnd), bytes.subarray(IV_AT, IV_AT + IV_LEN), l.version, i, l.n) };
}

/** Plaintext offset of chunk i in the payload. */
function chunkStart(l: { first: number; chunk: number }, i: number): number {
  return i === 0 ? 0 : l.first + (i - 1) * l.chunk;
}

/** Version 2: nonce = base XOR i (big-endian, last 4 bytes); additional data = header ‖ u32 LE i ‖ u8 last. Version 1: as stored. */
function nonceAad(header: Uint8Array, base: Uint8Array, version: number, i: number, n: number): { iv: Uint8Array; aad: Uint8Array } {
  if (version === 1) return { iv: base, aad: header };
  // (a copy — `new Uint8Array`, not `slice()`: a Node Buffer's slice is a view, and this would XOR the caller's bytes)
  const iv = new Uint8Array(base);
  iv[8]! ^= (i >>> 24) & 255;
  iv[9]! ^= (i >>> 16) & 255;
  iv[10]! ^= (i >>> 8) & 255;
  iv[11]! ^= i & 255;
  const aad = new Uint8Array(header.length + 5);
  aad.set(header);
  new DataView(aad.buffer).setUint32(header.length, i, true);
  aad[header.length + 4] = i === n - 1 ? 1 : 0;
  return { iv, aad };
}

function infoOf(l: Layout, verified: boolean, sealedBytes: number): SealedInfo {
  const h = l.header;
  return {
    version: l.version,
    sha256: h.sha256,
    format: h.format,
    size: h.size,
    ...(h.chunk !== undefined ? { chunk: h.chunk } : {}),
    keyId: h.keyId,
    sigAlg: h.sigAlg,
    ...(h.signer ? { signer: h.signer.fingerprint } : {}),
    verified,
    meta: { ...h.meta },
    ...(h.sealedAt ? { sealedAt: h.sealedAt } : {}),
    sealedBytes,
  };
}

/** Read what a sealed file says about itself (structure only: nothing is verified or decrypted). */
export function readSealedHeader(bytes: Uint8Array): SealedInfo {
  return infoOf(layout(bytes), false, bytes.length);
}

export interface SealOptions {
  /** the content key (AES-256) */
  key: ContentKeyInput;
  /** sign the file with this Ed25519 / ECDSA P-256 private key */
  signingKey?: SigningKeyInput;
  meta?: Record<string, string>;
  /** the plaintext's format (default: detected — TFLite by its "TFL3" identifier, else ONNX) */
  format?: SealedFormat;
  /** recorded in the header (default: now; null leaves it out) */
  sealedAt?: Date | null;
  /**
   * container version (default: 4 for an ONNX model the skeleton scanner takes apart, else 2; 3 for readers without
   * version 4 (it signs 1 MiB blocks instead of chunks), 2 for readers without version 3, 1 for readers older than
   * chunked files)
   */
  version?: 1 | 2 | 3 | 4;
  /** plaintext bytes per chunk, versions 2 and 3 (default 4 MiB, version 3: 1 MiB per weight chunk; 1 KiB … 1 GiB) */
  chunkSize?: number;
}

/** Encrypt (and optionally sign) a model's bytes into a sealed container. */
export async function sealModel(model: Uint8Array, opts: SealOptions): Promise<Uint8Array> {
  if (!(model instanceof Uint8Array)) throw new SealError('malformed', 'the model to seal must be bytes');
  if (isSealed(model)) throw new SealError('malformed', 'the model is already sealed');
  const format = opts.format ?? (model.length >= 8 && model[4] === 0x54 && model[5] === 0x46 && model[6] === 0x4c && model[7] === 0x33 ? 'tflite' : 'onnx');
  if (opts.version !== undefined && !SEAL_VERSIONS.includes(opts.version)) throw new SealError('unknown-version', `cannot write container version ${opts.version} (versions ${SEAL_VERSIONS.join(', ')})`);
  // version 3: the model taken apart into a skeleton section and its weights in consumption order (see v3Payload)
  const v3 = (opts.version === undefined || opts.version >= 3) && format === 'onnx' ? v3Payload(model) : undefined;
  if (opts.version !== undefined && opts.version >= 3 && !v3) throw new SealError('malformed', `version ${opts.version} holds an ONNX model whose initializers the skeleton scanner can take apart; seal this one as version 2`);
  const version = opts.version ?? (v3 ? 4 : SEAL_VERSION);
  const chunkSize = opts.chunkSize ?? (version >= 3 ? SEAL_CHUNK_V3 : SEAL_CHUNK);
  if (version >= 2 && (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK)) throw new SealError('malformed', `chunkSize must be an integer in [${MIN_CHUNK}, ${MAX_CHUNK}]`);
  const s = subtle();
  const ck = await importContentKey(opts.key);
  if (!ck.keyId) throw new SealError('bad-key', 'sealing needs an extractable content key (its key id is written to the header)');
  const sk = opts.signingKey !== undefined ? await importSigningKey(opts.signingKey) : undefined;
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.meta ?? {})) {
    if (typeof v !== 'string') throw new SealError('malformed', `metadata '${k}' must be a string`);
    meta[k] = v;
  }
  if (Object.keys(meta).length > MAX_META) throw new SealError('malformed', `at most ${MAX_META} metadata entries`);
  const header: SealHeader = {
    sha256: toHex(await sha256(model)),
    format,
    size: model.length,
    ...(version >= 2 ? { chunk: chunkSize } : {}),
    ...(v3 ? { skeleton: v3.skeleton, payload: v3.payload.length } : {}),
    keyId: ck.keyId,
    sigAlg: sk ? sk.alg : 'none',
    ...(sk ? { signer: { spki: toBase64(sk.spki), fingerprint: sk.fingerprint } } : {}),
    meta,
    ...(opts.sealedAt !== null ? { sealedAt: (opts.sealedAt ?? new Date()).toISOString() } : {}),
  };
  const hbytes = new TextEncoder().encode(JSON.stringify(header));
  if (hbytes.length > MAX_HEADER) throw new SealError('malformed', `header is ${hbytes.length} bytes (at most ${MAX_HEADER}); use less metadata`);
  const chunk = version >= 2 ? chunkSize : Math.max(1, model.length);
  const plain = v3 ? v3.payload : model;
  const first = v3 ? v3.skeleton : chunk;
  const n = v3 ? 1 + Math.ceil((plain.length - first) / chunk) : chunkCount(model.length, chunk);
  const C = plain.length + n * TAG_LEN;
  const aadEnd = FIXED + hbytes.length;
  const signedEnd = aadEnd + C;
  const out = new Uint8Array(signedEnd + (sk ? 2 + SIG_LEN : 0));
  out.set(SEAL_MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  out.set(globalThis.crypto.getRandomValues(new Uint8Array(IV_LEN)), IV_AT);
  const dv = new DataView(out.buffer);
  dv.setUint32(20, hbytes.length, true);
  dv.setUint32(24, C % 2 ** 32, true);
  dv.setUint32(28, Math.floor(C / 2 ** 32), true);
  out.set(hbytes, FIXED);
  const l: Layout = { version, header, aadEnd, signedEnd, chunk, n, payload: plain.length, first };
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const c = chunkAt(out, l, i);
      const ct = new Uint8Array(await s.encrypt({ name: 'AES-GCM', iv: c.iv as Uint8Array<ArrayBuffer>, additionalData: c.aad as Uint8Array<ArrayBuffer>, tagLength: 128 }, ck.key, plain.subarray(c.at, c.at + c.len) as Uint8Array<ArrayBuffer>));
      if (ct.length !== c.stored.length) throw new SealError('malformed', `AES-GCM returned ${ct.length} bytes, expected ${c.stored.length}`);
      c.stored.set(ct);
    }),
  );
  v3?.payload.fill(0);
  if (sk) {
    const sig = new Uint8Array(await s.sign(ALG_PARAMS[sk.alg].sign, sk.privateKey, (await signedMessage(out, l)) as Uint8Array<ArrayBuffer>));
    if (sig.length !== SIG_LEN) throw new SealError('unsupported-algorithm', `${sk.alg} signature has ${sig.length} bytes, expected ${SIG_LEN}`);
    dv.setUint16(signedEnd, SIG_LEN, true);
    out.set(sig, signedEnd + 2);
  }
  return out;
}

/** how many digests a version ≥ 2 signature covers: one per 1 MiB block of the chunks (versions 2, 3), one per chunk (4) */
function signBlocks(l: Layout): number {
  return l.version >= 4 ? l.n : Math.max(1, Math.ceil((l.signedEnd - l.aadEnd) / SIGN_BLOCK));
}

/**
 * What the signature covers. Version 1: bytes [0, 32 + H + C). Version 2: bytes [0, 32 + H) followed by the
 * SHA-256 of every 1 MiB block of the chunks [32 + H, 32 + H + C) in order (the last block shorter) — fixed-size
 * blocks, whatever the chunk size, so the digests run concurrently on WebCrypto's threads while this one decrypts
 * (version 3 likewise). Version 4: bytes [0, 32 + H) followed by the SHA-256 of each chunk's stored bytes (ciphertext ‖
 * tag), so whoever decrypts a chunk can hash exactly the bytes it decrypted (docs/sealed-format.md, version 4).
 */
async function signedMessage(bytes: Uint8Array, l: Layout): Promise<Uint8Array> {
  if (l.version === 1) return bytes.subarray(0, l.signedEnd);
  const blocks = signBlocks(l);
  const msg = new Uint8Array(l.aadEnd + blocks * DIGEST_LEN);
  msg.set(bytes.subarray(0, l.aadEnd));
  const block = (i: number) => (l.version >= 4 ? chunkAt(bytes, l, i).stored : bytes.subarray(l.aadEnd + i * SIGN_BLOCK, Math.min(l.signedEnd, l.aadEnd + (i + 1) * SIGN_BLOCK)));
  // the host's SHA-256 (Node: node:crypto, SHA-NI) on this thread: Node's WebCrypto digests on its thread pool cost
  // several times the CPU (a copy of every block into fresh memory, thread hand-offs) and were slower in wall time too
  const host = platform.crypto;
  if (host) {
    try {
      for (let i = 0; i < blocks; i++) msg.set(host.sha256(block(i)), l.aadEnd + i * DIGEST_LEN);
      return msg;
    } catch {
      // a runtime whose node:crypto lacks it: WebCrypto below
    }
  }
  const s = subtle();
  await Promise.all(
    Array.from({ length: blocks }, async (_, i) => {
      msg.set(new Uint8Array(await s.digest('SHA-256', block(i) as Uint8Array<ArrayBuffer>)), l.aadEnd + i * DIGEST_LEN);
    }),
  );
  return msg;
}

/** failures of the load itself that a signature check waiting for the digests reports as they are */
const loadFailures = new WeakSet<SealError>();

/**
 * Check a sealed file's signature: against `verifyKey` when given (origin: signed by that key), otherwise
 * against the public key embedded in its header (integrity only). Does not decrypt.
 * SealError 'signature-missing' when a verify key is given and the file is unsigned.
 */
async function checkSignature(l: Layout, verifyKey: VerifyKeyInput | undefined, signed: () => Promise<Uint8Array>): Promise<boolean> {
  const h = l.header;
  // start hashing the chunks first: it is the long part and runs off this thread
  const message = h.sigAlg === 'none' ? undefined : signed();
  message?.catch(() => undefined);
  // the host's own signature check (Node: node:crypto) where it has one: synchronous, so no step of it waits for an
  // event-loop turn (a version 3 load's loading thread builds the session without yielding, then checks this)
  const host = platform.crypto;
  const vk = hostVerifyKey(verifyKey) ?? (verifyKey !== undefined ? await importVerifyKey(verifyKey) : undefined);
  if (h.sigAlg === 'none') {
    if (vk) throw new SealError('signature-missing', 'a verify key was given but the file is not signed');
    return false;
  }
  const alg = h.sigAlg;
  let check: (sig: Uint8Array, msg: Uint8Array) => boolean | Promise<boolean>;
  let given = false;
  const webVerify = (k: CryptoKey) => (sig: Uint8Array, msg: Uint8Array) => subtle().verify(ALG_PARAMS[alg].sign, k, sig as Uint8Array<ArrayBuffer>, msg as Uint8Array<ArrayBuffer>);
  if (vk) {
    if (vk.fingerprint !== h.signer!.fingerprint) throw new SealError('signature-invalid', `signed by key ${h.signer!.fingerprint.slice(0, 16)}…, not by the verify key ${vk.fingerprint.slice(0, 16)}…`);
    if (vk.alg !== alg) throw new SealError('signature-invalid', `the file is signed with ${alg}, the verify key is ${vk.alg}`);
    check = 'hostKey' in vk ? (sig, msg) => host!.verify!(alg, vk.hostKey, sig, msg) : webVerify(vk.publicKey);
    given = true;
  } else {
    const spki = fromBase64(h.signer!.spki);
    const fp = spki && (host ? toHex(host.sha256(spki)) : await spkiFingerprint(spki));
    if (!spki || fp !== h.signer!.fingerprint) throw new SealError('signature-invalid', 'the embedded signer key does not match its fingerprint');
    if (host?.verifyKey && host.verify) {
      let k: unknown;
      try {
        k = host.verifyKey(alg, spki);
      } catch {
        throw new SealError('signature-invalid', `the embedded signer key is not a valid ${alg} public key (DataError)`);
      }
      check = (sig, msg) => host.verify!(alg, k, sig, msg);
    } else {
      try {
        check = webVerify(await subtle().importKey('spki', spki as Uint8Array<ArrayBuffer>, ALG_PARAMS[alg].import, false, ['verify']));
      } catch (e) {
        throw new SealError('signature-invalid', `the embedded signer key is not a valid ${alg} public key (${(e as Error).name})`);
      }
    }
  }
  let ok: boolean;
  try {
    const m = await message!.catch((e: unknown) => {
      // (the load's own failure, when the digests could not be taken: a file that could not be read whole)
      if (e instanceof SealError) loadFailures.add(e);
      throw e;
    });
    ok = await check(l.sig!, m);
  } catch (e) {
    if (e instanceof SealError && loadFailures.has(e)) throw e;
    throw new SealError('signature-invalid', `${alg} verification failed (${(e as Error).name})`);
  }
  if (!ok) throw new SealError('signature-invalid', `the ${alg} signature of key ${h.signer!.fingerprint.slice(0, 16)}… does not match the file (altered, or signed by another key)`);
  return given;
}

export interface VerifyOptions {
  /** check the signature against this public key (origin); without it the embedded key is used (integrity only) */
  verifyKey?: VerifyKeyInput;
}

/** Check structure and signature without decrypting. */
export async function verifySealed(bytes: Uint8Array, opts: VerifyOptions = {}): Promise<SealedInfo> {
  const l = layout(bytes);
  const verified = await checkSignature(l, opts.verifyKey, () => signedMessage(bytes, l));
  return infoOf(l, verified, bytes.length);
}

export interface OpenOptions extends VerifyOptions {
  /** the content key (AES-256) */
  decryptionKey?: ContentKeyInput;
  /** recompute the plaintext's SHA-256 and compare it with the header (default false: AES-GCM already authenticates the header and the plaintext) */
  checkDigest?: boolean;
}

/**
 * Verify and decrypt a sealed model. The plaintext is decrypted once into a fresh buffer (returned; the caller
 * owns the only copy). Checks: structure, then signature and (concurrently) key id + AES-GCM tags over header
 * + ciphertext. A signature failure wins over a decryption failure, and the plaintext of a file whose signature
 * fails is wiped, never returned.
 */
export async function openSealed(bytes: Uint8Array, opts: OpenOptions): Promise<{ plaintext: Uint8Array; info: SealedInfo }> {
  const { plaintext, info } = await openSealedAs(bytes, opts, false);
  return { plaintext, info };
}

/**
 * A sealed model opened for the model reader (the runtime): as openSealed, but an ONNX model decrypted by the host's
 * AES-GCM comes back taken apart (sealed-scatter.ts) — `plaintext` is then the skeleton the reader parses with
 * `{ owned: true, prefilled }`, and each weight already sits in a buffer of its own.
 */
export async function openSealedModel(bytes: Uint8Array, opts: OpenOptions): Promise<OpenedModel> {
  return openSealedAs(bytes, opts, true);
}

/** A decrypted model: the whole plaintext, or (prefilled set) the skeleton and its weights (sealed-scatter.ts). */
export interface OpenedModel {
  plaintext: Uint8Array;
  info: SealedInfo;
  prefilled?: Map<number, Uint8Array>;
  /**
   * version 3 on a host with synchronous AES-GCM: the weights (`prefilled`) are still being decrypted; `attach` the
   * parsed graph, build the session, then `ready()` — or `abort(e)` if building failed. See openV3Lazy.
   */
  lazy?: LazyWeights;
}

/**
 * The weights of a version 3 model arriving while the session is built. Until `ready()` resolves nothing may be
 * handed to the caller: a tag or signature failure surfaces there (or from the first read of a weight whose chunk
 * failed) as a SealError.
 */
export interface LazyWeights {
  /** each initializer of `graph` holding one of the weights fills on its first `data` read (waiting for its chunks) */
  attach(graph: Graph): void;
  /** every chunk authenticated and copied, the signature checked: resolves to `verified` (origin), else rejects */
  ready(): Promise<boolean>;
  /** the session was not built: wipe everything and reject with the error to report (a signature failure wins over `e`) */
  abort(e: unknown): Promise<never>;
}

type Decrypted = { plaintext: Uint8Array; prefilled?: Map<number, Uint8Array> };

function wipe(d: Decrypted): void {
  d.plaintext.fill(0);
  d.prefilled?.forEach((b) => b.fill(0));
}

async function openSealedAs(bytes: Uint8Array, opts: OpenOptions, scatter: boolean): Promise<OpenedModel> {
  const l = layout(bytes);
  const host = platform.crypto;
  if (scatter && l.version >= 3 && !opts.checkDigest && host) {
    const lazy = await openV3Lazy(bytes, l, opts, host);
    if (lazy) return lazy;
  }
  const [sig, dec] = await Promise.allSettled([checkSignature(l, opts.verifyKey, () => signedMessage(bytes, l)), decrypt(bytes, l, opts, scatter)]);
  if (sig.status === 'rejected') {
    if (dec.status === 'fulfilled') wipe(dec.value);
    throw sig.reason;
  }
  if (dec.status === 'rejected') throw dec.reason;
  return { ...dec.value, info: infoOf(l, sig.value, bytes.length) };
}

/**
 * Where the host's decryption puts the plaintext, in order: one model-sized buffer, or (an ONNX model for the
 * reader, no digest check) an OnnxScatter that gives every weight its own buffer.
 */
function plainSink(l: Layout, opts: OpenOptions, scatter: boolean): { put(p: Uint8Array): void; wipe(): void; done(): Decrypted } {
  const size = l.payload;
  if (scatter && l.header.format === 'onnx' && !opts.checkDigest && l.version < 3) {
    const sc = new OnnxScatter(size);
    return {
      put: (p) => sc.push(p),
      wipe: () => sc.wipe(),
      done: () => {
        const r = sc.finish();
        return r.prefilled ? { plaintext: r.bytes, prefilled: r.prefilled } : { plaintext: r.bytes };
      },
    };
  }
  const plaintext = new Uint8Array(size);
  let at = 0;
  return {
    put: (p) => {
      plaintext.set(p, at);
      at += p.length;
    },
    wipe: () => plaintext.fill(0),
    done: () => ({ plaintext }),
  };
}

/** The content key given in `opts`, checked against the file's key id when it has one. */
async function contentKeyOf(l: Layout, opts: OpenOptions): Promise<ContentKey> {
  if (opts.decryptionKey === undefined || opts.decryptionKey === null) throw new SealError('key-required', `the model is sealed (key id ${l.header.keyId}); pass decryptionKey`);
  const ck = await importContentKey(opts.decryptionKey);
  if (ck.keyId !== undefined && ck.keyId !== l.header.keyId) throw wrongKey(l, ck.keyId);
  return ck;
}

function wrongKey(l: Layout, keyId: string): SealError {
  return new SealError('wrong-key', `the file is sealed for key id ${l.header.keyId}, the given key has id ${keyId}`);
}

function gcmFailure(ck: Pick<ContentKey, 'keyId'>): SealError {
  return new SealError(ck.keyId === undefined ? 'wrong-key' : 'tampered', ck.keyId === undefined ? 'AES-GCM authentication failed: wrong key, or the file was altered' : 'AES-GCM authentication failed: the header or ciphertext was altered');
}

async function decrypt(bytes: Uint8Array, l: Layout, opts: OpenOptions, scatter = false): Promise<Decrypted> {
  const ck = await contentKeyOf(l, opts);
  const fail = () => gcmFailure(ck);
  const size = l.payload;
  // the host's synchronous AES-GCM (node:crypto) when it takes this key; WebCrypto otherwise, or when the host fails
  // for any reason but a tag mismatch (a runtime whose node:crypto lacks something)
  const host = platform.crypto;
  const hk = host?.aesGcmKey(ck.key);
  if (host && hk !== undefined) {
    // in order, chunk by chunk, in small pieces: into one buffer, or the weights straight into their own (plainSink)
    const sink = plainSink(l, opts, scatter);
    let authentic = true;
    let ok = false;
    try {
      for (let i = 0; i < l.n && authentic; i++) {
        const c = chunkAt(bytes, l, i);
        authentic = host.aesGcmDecryptPieces(hk, c.iv, c.aad, c.stored.subarray(0, c.len), c.stored.subarray(c.len), sink.put);
      }
      ok = true;
    } catch {
      sink.wipe();
    }
    if (ok) {
      if (!authentic) {
        sink.wipe();
        throw fail();
      }
      const d = v3Finish(sink.done(), l, opts, scatter);
      await checkPlaintext(d, l, opts);
      return d;
    }
  }
  // every chunk is decrypted into this one buffer, which the model reader then parses and aliases
  const plaintext = new Uint8Array(size);
  {
    // WebCrypto: every chunk at once (they run concurrently on the runtime's crypto threads); it returns new
    // buffers, gathered here and wiped
    const s = subtle();
    const parts = await Promise.allSettled(
      Array.from({ length: l.n }, async (_, i) => {
        const c = chunkAt(bytes, l, i);
        const pt = new Uint8Array(await s.decrypt({ name: 'AES-GCM', iv: c.iv as Uint8Array<ArrayBuffer>, additionalData: c.aad as Uint8Array<ArrayBuffer>, tagLength: 128 }, ck.key, c.stored as Uint8Array<ArrayBuffer>));
        plaintext.set(pt, c.at);
        pt.fill(0);
      }),
    );
    if (parts.some((p) => p.status === 'rejected')) {
      plaintext.fill(0);
      throw fail();
    }
  }
  const d = v3Finish({ plaintext }, l, opts, scatter);
  await checkPlaintext(d, l, opts);
  return d;
}

/**
 * A version 3 payload decrypted whole: for the runtime's reader (scatter) the skeleton with each weight a view into
 * the payload (aligned by the writer); else the model rebuilt byte for byte (the payload wiped). Other versions: as is.
 */
function v3Finish(d: Decrypted, l: Layout, opts: OpenOptions, scatter: boolean): Decrypted {
  if (l.version < 3) return d;
  const payload = d.plaintext;
  let sk: V3Skeleton;
  try {
    sk = parseSkeletonSection(payload.subarray(0, l.first), l.payload - l.first);
  } catch (e) {
    payload.fill(0);
    throw e;
  }
  const weights = payload.subarray(l.first);
  if (scatter && !opts.checkDigest) {
    const prefilled = new Map<number, Uint8Array>();
    for (const e of sk.raws) prefilled.set(sk.skeleton.byteOffset + e.at + 1, weights.subarray(e.wOff, e.wOff + e.value));
    return { plaintext: sk.skeleton, prefilled };
  }
  try {
    return { plaintext: rebuildModel(sk, weights, l.header.size) };
  } finally {
    payload.fill(0);
  }
}

/** The decrypted size, and with checkDigest the SHA-256, against the header (wiped and SealError when not). */
async function checkPlaintext(d: Decrypted, l: Layout, opts: OpenOptions): Promise<void> {
  // (a skeleton has no size to check: the scatter saw exactly header.size bytes, and it never has checkDigest)
  if (!d.prefilled && (d.plaintext.length !== l.header.size || (opts.checkDigest && toHex(await sha256(d.plaintext)) !== l.header.sha256))) {
    wipe(d);
    throw new SealError('tampered', 'the decrypted model does not match the size and SHA-256 in the header');
  }
}


/** A sealed file read piece by piece (Node: a file handle; see platform OpenedFile). */
export interface SealedSource {
  /** bytes in the file */
  readonly size: number;
  /** read up to `into.length` bytes from `position`; resolves to the bytes read */
  read(into: Uint8Array, position: number): Promise<number>;
  /** (version 3 from a file) the same read, synchronous, and the OS file descriptor the crypto thread reads from */
  readSync?(into: Uint8Array, position: number): number;
  readonly fd?: number;
  /** (version 3 from a file) called once the load no longer reads the file */
  close?(): Promise<void>;
}

/** largest chunk read and decrypted piece by piece (two of them are buffered); files with larger chunks are read whole */
const STREAM_MAX_CHUNK = 1 << 26;

async function readExactly(src: SealedSource, into: Uint8Array, position: number): Promise<void> {
  if ((await src.read(into, position)) !== into.length) throw new SealError('truncated', `the file ended before byte ${position + into.length} while it was read`);
}

/**
 * Open a version 2 sealed file chunk by chunk while it is read: chunk i + 1 is read (the runtime's I/O threads)
 * while chunk i is decrypted into the plaintext (the host's synchronous AES-GCM) and, when signed, its 1 MiB
 * blocks are hashed — so decryption overlaps reading, and the ciphertext is never held whole. Only the fast path:
 * it resolves to undefined — after wiping anything decrypted — whenever the file is not a version 2 container with
 * chunks ≤ 64 MiB, the host has no synchronous AES-GCM for this key, or ANY check fails (structure, key, tag,
 * signature, a short read); the caller then reads the whole file and opens it with `openSealed`, which reports the
 * failure exactly as it does for bytes (and re-checks everything on what it read).
 */
export async function openSealedSource(src: SealedSource, opts: OpenOptions, scatter = false): Promise<OpenedModel | undefined> {
  const host = platform.crypto;
  if (!host || !(src.size >= FIXED)) return undefined;
  let sink: ReturnType<typeof plainSink> | undefined;
  try {
    const head = new Uint8Array(Math.min(src.size, FIXED + MAX_HEADER));
    await readExactly(src, head, 0);
    if (!isSealed(head) || head[6] !== 2) return undefined;
    const l0 = layoutHead(head, src.size);
    if (l0.chunk > STREAM_MAX_CHUNK) return undefined;
    const tail = new Uint8Array(Math.min(src.size - l0.signedEnd, 2 + SIG_LEN));
    await readExactly(src, tail, l0.signedEnd);
    const l = layoutTail(l0, tail, src.size);
    const size = l.header.size;
    const signed = l.header.sigAlg !== 'none';
    // the signature check waits for the block digests this loop computes; it imports the keys meanwhile
    let message: (m: Uint8Array) => void = () => undefined;
    const digestsReady = new Promise<Uint8Array>((resolve) => (message = resolve));
    const sig = checkSignature(l, opts.verifyKey, () => digestsReady);
    sig.catch(() => undefined);
    const ck = await contentKeyOf(l, opts);
    const hk = host.aesGcmKey(ck.key);
    if (hk === undefined) return undefined;
    // the weights of an ONNX model straight into their own buffers when `scatter` (openSealedModel), else one buffer
    sink = plainSink(l, opts, scatter);
    const msg = signed ? new Uint8Array(l.aadEnd + Math.max(1, Math.ceil((l.signedEnd - l.aadEnd) / SIGN_BLOCK)) * DIGEST_LEN) : undefined;
    msg?.set(head.subarray(0, l.aadEnd));
    let hash = signed ? host.sha256Stream() : undefined;
    let inBlock = 0;
    let digestAt = l.aadEnd;
    const hashStored = (b: Uint8Array) => {
      for (let o = 0; o < b.length; ) {
        const take = Math.min(SIGN_BLOCK - inBlock, b.length - o);
        hash!.update(b.subarray(o, o + take));
        inBlock += take;
        o += take;
        if (inBlock === SIGN_BLOCK) {
          msg!.set(hash!.digest(), digestAt);
          digestAt += DIGEST_LEN;
          hash = host.sha256Stream();
          inBlock = 0;
        }
      }
    };
    const stride = l.chunk + TAG_LEN;
    const lenOf = (i: number) => Math.min(l.chunk, size - i * l.chunk);
    // reused between loads (ciphertext only): fresh ones would cost a page fault per 4 KiB on every load
    const bufs = [takeReadBuffer(Math.min(stride, l.signedEnd - l.aadEnd)), takeReadBuffer(l.n > 1 ? stride : 0)];
    const readChunk = (i: number) => {
      const p = readExactly(src, bufs[i & 1]!.subarray(0, lenOf(i) + TAG_LEN), l.aadEnd + i * stride);
      p.catch(() => undefined);
      return p;
    };
    const hdr = head.subarray(0, l.aadEnd);
    const base = head.subarray(IV_AT, IV_AT + IV_LEN);
    let next = readChunk(0);
    for (let i = 0; i < l.n; i++) {
      await next;
      if (i + 1 < l.n) next = readChunk(i + 1);
      const len = lenOf(i);
      const stored = bufs[i & 1]!.subarray(0, len + TAG_LEN);
      if (signed) hashStored(stored);
      const { iv, aad } = nonceAad(hdr, base, l.version, i, l.n);
      if (!host.aesGcmDecryptPieces(hk, iv, aad, stored.subarray(0, len), stored.subarray(len), sink.put)) throw new SealError('tampered', 'chunk');
    }
    if (signed) {
      if (inBlock > 0) {
        msg!.set(hash!.digest(), digestAt);
        digestAt += DIGEST_LEN;
      }
      if (digestAt !== msg!.length) throw new SealError('malformed', 'block count');
      message(msg!);
    } else message(new Uint8Array(0));
    bufs.forEach(giveReadBuffer);
    const verified = await sig;
    const d = sink.done();
    sink = { put: () => undefined, wipe: () => wipe(d), done: () => d };
    await checkPlaintext(d, l, opts);
    return { ...d, info: infoOf(l, verified, src.size) };
  } catch {
    sink?.wipe();
    return undefined;
  }
}

/**
 * The crypto thread hashes between segments while the session build is this many chunks behind it (0: all after its last
 * segment). 0: decrypting first keeps it ahead of the build. Same process, signed mobilenet_v2, load 10–12.6, three runs
 * of 31–41 shuffled rounds (`sealTrace.hashAhead`), signed/plain wall — 0: bytes 1.301 / 1.095 / 0.964, file 1.273 /
 * 0.979 / 0.946; 1: 1.246 / 1.183 / 1.075, 1.059 / 1.302 / 1.054; 3: 1.321 / 1.296 / 1.072, 1.164 / 1.150 / 1.407.
 */
const HASH_AHEAD = 0;
/** how long the loading thread waits for the crypto thread without progress before doing the work itself */
const STALL_MS = 3000;
/** version 3: ms per chunk (+ one) the loading thread waits for a segment the crypto thread is on before doing it too */
const TAKE_OVER_MS = 2;

/**
 * Where a version 3 load spends its time (bench/seal-timeline.js): when `on` is set, openV3Lazy reports its steps
 * (`weight read` with the weight's segment and bytes) and the crypto thread records, per segment, when it took it and
 * when its weights were handed over (`threadTimes`, epoch ms `performance.timeOrigin + performance.now()`: [job start,
 * claim_0, done_0, claim_1, …, hashes done], then the thread's CPU time in ms at the job's start and at its end, Linux).
 * Events name steps and indices only — never key or model bytes. Off (undefined) in normal use. `takeOverMs` and `hashAhead` override TAKE_OVER_MS and HASH_AHEAD for same-process
 * comparisons in benches and tests. `cryptoNice` (an experiment for a quiet machine, bench/seal.bench.js with
 * EDGEQ_SEAL_NICE): raise the crypto thread's own nice value by this much (Linux), so that when both cores are busy the
 * scheduler gives the loading thread — and V8's helpers, which a plain load keeps busy on the other core — precedence
 * over decryption; once raised it stays for the process.
 */
export const sealTrace: {
  on?: (event: string, index?: number, bytes?: number) => void;
  threadTimes?: Float64Array;
  takeOverMs?: number;
  hashAhead?: number;
  cryptoNice?: number;
  /**
   * (tests) the next loads' crypto thread claims no segment until `releaseCrypto()` (set by each such load; also
   * called by its ready() and abort(), and the thread lets go by itself after 10 s): so a test can have the loading
   * thread claim segments first, whatever the scheduler does
   */
  holdCrypto?: boolean;
  releaseCrypto?: () => void;
} = {};

/**
 * What the model reader aliases for a version 3 weight until it arrives: a view into one zero buffer that is never
 * written (its pages are never touched, so it costs address space only), at the weight's offset in the weights
 * section. The tensor's `data` is swapped for the weight's own buffer on its first read (see `attach`).
 */
let placeholder: ArrayBuffer | undefined;
function placeholders(n: number): ArrayBuffer {
  if (!placeholder || placeholder.byteLength < n) placeholder = new ArrayBuffer(Math.max(16, n));
  return placeholder;
}

/**
 * Version 3 for the runtime on a host with synchronous AES-GCM (Node: node:crypto). The skeleton section (chunk 0) is
 * decrypted and checked here; the weight chunks are decrypted by the host's crypto thread when it is free, while this
 * thread parses the skeleton and builds the session. The weights section is cut into **segments**: runs of chunks
 * that no weight crosses out of (a weight spanning chunks 8–12 makes them one segment). Whoever claims a segment —
 * the crypto thread, front to back (the order the graph reads its weights), or this thread for one it needs before
 * the crypto thread got to it — decrypts its chunks into a fresh buffer per weight and hands them over only once every
 * tag of the segment verified: the crypto thread transfers them (postMessage, no copy), so this thread neither copies
 * nor allocates the weights it did not decrypt. Each initializer's `data` is its own weight buffer from its first
 * read on; until then the reader holds a placeholder view. No unauthenticated byte reaches a tensor. The stored chunks
 * reach the crypto thread's shared memory by a copy from `bytes`, or (`file`: a file given by path) by the crypto
 * thread reading the file itself — this thread then reads only the header, chunk 0 and the signature. Undefined when
 * the host cannot take the key (WebCrypto then).
 */
async function openV3Lazy(bytes: Uint8Array, l: Layout, opts: OpenOptions, host: HostCrypto, file?: { slot: GcmThreadSlot; src: SealedSource }): Promise<OpenedModel | undefined> {
  const trace = sealTrace.on;
  trace?.('open');
  const signed = l.header.sigAlg !== 'none';
  // the signature check starts first (importing keys); its block digests come from ready(), or from here on failure
  let giveDigests: (m: Promise<Uint8Array>) => void = () => undefined;
  const digests = new Promise<Uint8Array>(
    (resolve) =>
      (giveDigests = (m) => {
        m.catch(() => undefined); // (handled where it is awaited; one given after the first is dropped)
        resolve(m);
      }),
  );
  const sig = checkSignature(l, opts.verifyKey, () => digests);
  sig.catch(() => undefined);
  const failWith = async (e: unknown): Promise<never> => {
    // (a file's ciphertext is not all read yet: openSealedFileV3 then falls back to the whole file, so any digests do)
    giveDigests(signed && !file ? signedMessage(bytes, l) : Promise.resolve(new Uint8Array(0)));
    await sig;
    throw e;
  };
  let ck: Pick<ContentKey, 'keyId'>;
  let hk: unknown;
  try {
    // key bytes straight into the host's AES-GCM (no WebCrypto import), checked against the header's key id
    const fast = hostContentKey(opts.decryptionKey);
    if (fast && fast.keyId !== l.header.keyId) throw wrongKey(l, fast.keyId);
    if (fast) {
      ck = { keyId: fast.keyId };
      hk = fast.key;
    } else {
      const c = await contentKeyOf(l, opts);
      ck = c;
      hk = host.aesGcmKey(c.key);
    }
  } catch (e) {
    file?.slot.cancel();
    return failWith(e);
  }
  if (hk === undefined) {
    file?.slot.cancel();
    giveDigests(Promise.resolve(new Uint8Array(0)));
    return undefined;
  }
  trace?.('key imported');
  // chunk 0, the skeleton section: authenticated before any of it is parsed
  const c0 = chunkAt(bytes, l, 0);
  const sec = new Uint8Array(c0.len);
  let p0 = 0;
  let sk: V3Skeleton;
  try {
    if (!host.aesGcmDecryptPieces(hk, c0.iv, c0.aad, c0.stored.subarray(0, c0.len), c0.stored.subarray(c0.len), (p) => {
      sec.set(p, p0);
      p0 += p.length;
    })) throw gcmFailure(ck);
    sk = parseSkeletonSection(sec, l.payload - l.first);
  } catch (e) {
    sec.fill(0);
    file?.slot.cancel();
    return failWith(e);
  }
  trace?.('chunk 0 decrypted, skeleton section checked');
  const W = l.payload - l.first;
  const m = l.n - 1;
  const storedLen = l.signedEnd - l.aadEnd;
  const nb = signed ? signBlocks(l) : 0;
  // weight chunk j is chunk j + 1: where it is stored (from byte 32 + H) and where its plaintext goes in the weights section
  const stAt: number[] = [];
  const ptAt: number[] = [];
  const lens: number[] = [];
  const ivs: Uint8Array[] = [];
  const aads: Uint8Array[] = [];
  const hdr = bytes.subarray(0, l.aadEnd);
  const base = bytes.subarray(IV_AT, IV_AT + IV_LEN);
  for (let j = 0; j < m; j++) {
    const at = chunkStart(l, j + 1);
    stAt.push(at + (j + 1) * TAG_LEN);
    ptAt.push(at - l.first);
    lens.push(Math.min(l.chunk, l.payload - at));
    const na = nonceAad(hdr, base, l.version, j + 1, l.n);
    ivs.push(na.iv);
    aads.push(na.aad);
  }
  // the signature's digest blocks, as ranges of the stored chunks: 1 MiB each (version 3), or chunk by chunk (4: block 0
  // is chunk 0, block j + 1 weight chunk j)
  const blocks: number[] = [];
  for (let b = 0; b < nb; b++) blocks.push(l.version >= 4 ? (b === 0 ? 0 : stAt[b - 1]!) : b * SIGN_BLOCK);
  if (nb) blocks.push(storedLen);
  /**
   * Version 4 from a file: a weight chunk this thread decrypts is read into its own buffer (never into the crypto
   * thread's memory, which holds what that thread read and hashes) and hashed right there: `mineDigests[j]` is the digest of
   * exactly the bytes this thread decrypted. So every plaintext used comes from a read whose digest the signature covers.
   */
  const ownReads = l.version >= 4 && !!file;
  const mineDigests: (Uint8Array | undefined)[] = [];
  // the weights in weights-section order, and the segments: segment s holds the weights that start in weight chunk s
  // and needs chunks s … segG[s] (the last one any of them reaches; a chunk two segments need is decrypted by each
  // owner, once when the same thread owns both)
  type Weight = { wOff: number; len: number; seg: number; buf?: Uint8Array; filled: boolean; attached: boolean };
  const ws: Weight[] = sk.raws.filter((e) => e.value > 0).map((e) => ({ wOff: e.wOff, len: e.value, seg: 0, filled: false, attached: false }));
  ws.sort((a, b) => a.wOff - b.wOff);
  const chunkOf = (off: number) => Math.floor(off / l.chunk);
  const nseg = m;
  const segG = Array.from({ length: m }, (_, j) => j);
  const segW: number[] = [];
  ws.forEach((w, i) => {
    w.seg = chunkOf(w.wOff);
    segG[w.seg] = Math.max(segG[w.seg]!, chunkOf(w.wOff + w.len - 1));
    while (segW.length <= w.seg) segW.push(i);
  });
  while (segW.length <= nseg) segW.push(ws.length);
  // a weight's buffer: every byte of it is written by its decryption before it is handed over (its segment's chunks
  // cover it), and it is wiped if that fails — so it need not be zeroed first
  const newWeight = (n: number): Uint8Array => host.uninitialized?.(n) ?? new Uint8Array(n);
  const slot = file?.slot ?? (m > 0 || signed ? host.gcmThread?.() : undefined);
  const src = file?.src;
  let input: Uint8Array;
  let state: Int32Array;
  /** cv[j]: weight chunk j's tag verified (by either thread) */
  let cv: Int32Array;
  let ctl: Int32Array;
  /** (sealTrace.holdCrypto) let the crypto thread start claiming segments */
  const releaseCrypto = (): void => {
    if (Atomics.compareExchange(ctl, 5, 1, 0) === 1) Atomics.notify(ctl, 5);
  };
  /** rt[j]: the crypto thread read weight chunk j from the file (once: it never reads it again) */
  let rt: Int32Array;
  /** hs[b]: digest block b 0 unclaimed, 1 being hashed, 2 in `sums` (hashed from `input`), 4 not in `input` (see digestsNow) */
  let hs: Int32Array;
  let sums: Uint8Array;
  if (slot) {
    try {
      if (file) input = bytes.subarray(l.aadEnd, l.signedEnd);
      else {
        // at the source's alignment mod 8: V8 copies into shared memory word by word only between equally aligned
        // addresses (else byte by byte, ~10× slower)
        const d = (bytes.byteOffset + l.aadEnd) % 8;
        input = slot.shared(0, storedLen + d).subarray(d);
        input.set(bytes.subarray(l.aadEnd, l.signedEnd));
        trace?.('ciphertext copied into shared memory');
      }
      const words = slot.shared(3, (8 + nseg + 2 * m + nb) * 4);
      ctl = new Int32Array(words.buffer, words.byteOffset, 8).fill(0);
      if (sealTrace.holdCrypto) {
        Atomics.store(ctl, 5, 1);
        sealTrace.releaseCrypto = releaseCrypto;
      }
      state = new Int32Array(words.buffer, words.byteOffset + 32, nseg).fill(0);
      cv = new Int32Array(words.buffer, words.byteOffset + 32 + 4 * nseg, m).fill(0);
      rt = new Int32Array(words.buffer, words.byteOffset + 32 + 4 * (nseg + m), m).fill(0);
      hs = new Int32Array(words.buffer, words.byteOffset + 32 + 4 * (nseg + 2 * m), nb).fill(0);
      sums = slot.shared(2, nb * DIGEST_LEN);
      const times = trace ? new Float64Array(new SharedArrayBuffer(8 * (2 * nseg + 4))) : undefined;
      sealTrace.threadTimes = times;
      // the weights' buffers are allocated here, as the plain reader allocates its copies (so the allocator recycles
      // the last load's, which this thread's garbage collector frees), and lent to the crypto thread to fill
      const bufs = ws.map((w) => newWeight(w.len));
      trace?.('weight buffers allocated');
      slot.post({
        bufs,
        key: hk, input, state, cv, ctl, ivs, aads, stAt, ptAt, lens, segG, segW, wOff: ws.map((w) => w.wOff), wLen: ws.map((w) => w.len),
        blocks, hs, rt, byRead: ownReads, hashAhead: sealTrace.hashAhead ?? HASH_AHEAD, ...(sealTrace.cryptoNice ? { nice: sealTrace.cryptoNice } : {}), digests: sums, ...(times ? { times } : {}), ...(file && src?.fd !== undefined ? { fd: src.fd, fileAt: l.aadEnd } : {}),
      }, bufs.map((b) => b.buffer as ArrayBuffer));
      trace?.('job posted to the crypto thread');
    } catch (e) {
      slot.cancel();
      sec.fill(0);
      return failWith(e);
    }
  } else {
    input = bytes.subarray(l.aadEnd, l.signedEnd);
    ctl = new Int32Array(8);
    state = new Int32Array(nseg);
    cv = new Int32Array(m);
    rt = new Int32Array(m);
    hs = new Int32Array(nb);
    sums = new Uint8Array(nb * DIGEST_LEN);
    trace?.('no crypto thread: every chunk on this thread');
  }
  // what the reader aliases until a weight arrives (never written; see placeholders)
  const ph = placeholders(W);
  const prefilled = new Map<number, Uint8Array>();
  const byOff = new Map<number, Weight>();
  for (const e of sk.raws) prefilled.set(sk.skeleton.byteOffset + e.at + 1, new Uint8Array(ph, e.wOff, e.value));
  for (const w of ws) byOff.set(w.wOff, w);
  /** segments whose weights this thread holds (decrypted here, or handed over by the crypto thread) */
  const taken = new Uint8Array(nseg);
  let failed: SealError | undefined;
  let closed = false;
  /** the file is done with (every read finished): close it (not waited for: nothing depends on it) */
  const closeFile = (): void => {
    if (closed || !src?.close) return;
    closed = true;
    src.close().catch(() => undefined);
  };
  /** (version 4 from a file) this thread's read buffer, reused between loads (ciphertext only) */
  let own: Uint8Array | undefined;
  const dropOwn = (): void => {
    if (own) giveReadBuffer(own);
    own = undefined;
  };
  /**
   * Weight chunk j's stored bytes (ciphertext ‖ tag) for this thread to decrypt: from a file given by path read here
   * (the crypto thread did not take its segment) — version 4 into this thread's own buffer, hashed into `mineDigests`
   * (a chunk read twice must read the same) — else where they are. Undefined: the read failed or the file changed.
   */
  const readHere = (j: number): Uint8Array | undefined => {
    const at = stAt[j]!;
    const n = lens[j]! + TAG_LEN;
    if (!src) return input.subarray(at, at + n);
    const into = ownReads ? (own ??= takeReadBuffer(l.chunk + TAG_LEN)).subarray(0, n) : input.subarray(at, at + n);
    try {
      if (src.readSync!(into, l.aadEnd + at) !== n) return undefined;
    } catch {
      return undefined;
    }
    if (ownReads && signed) {
      const d = host.sha256(into);
      const had = mineDigests[j];
      if (had && !sameBytes(had, d)) return undefined;
      mineDigests[j] = d;
    }
    return into;
  };
  /** segment s decrypted on this thread into fresh buffers, given to its weights only once every tag verified: 3, 4 (a tag), 5 (a read) */
  const decryptHere = (s: number): number => {
    const mine = ws.slice(segW[s], segW[s + 1]);
    const bufs = mine.map((w) => newWeight(w.len));
    let r = 3;
    for (let j = s; j <= segG[s]! && r === 3; j++) {
      // (a chunk no weight of this segment reads is only checked, unless someone already did)
      if (!mine.length && Atomics.load(cv, j)) continue;
      const stored = readHere(j);
      if (!stored) {
        r = 5;
        break;
      }
      const len = lens[j]!;
      let o = ptAt[j]!;
      const ok = host.aesGcmDecryptPieces(hk, ivs[j]!, aads[j]!, stored.subarray(0, len), stored.subarray(len), (p) => {
        mine.forEach((w, i) => {
          const a = Math.max(o, w.wOff);
          const e = Math.min(o + p.length, w.wOff + w.len);
          if (a < e) bufs[i]!.set(p.subarray(a - o, e - o), a - w.wOff);
        });
        o += p.length;
      });
      if (!ok) r = 4;
      else Atomics.store(cv, j, 1);
    }
    if (r !== 3) bufs.forEach((b) => b.fill(0));
    else if (!taken[s]) {
      mine.forEach((w, i) => (w.buf = bufs[i]));
      taken[s] = 1;
    }
    trace?.('segment decrypted on the loading thread', s);
    return r;
  };
  /** the crypto thread's hand-overs up to segment s's (it posts a segment's weights before marking it done) */
  const takeUntil = (s: number): void => {
    if (segW[s] === segW[s + 1]) taken[s] = 1; // (no weights: nothing handed over)
    const t0 = performance.now();
    while (!taken[s]) {
      const msg = slot?.take();
      if (!msg) {
        if (performance.now() - t0 > STALL_MS) throw (failed ??= new SealError('tampered', `the weights of segment ${s} were not handed over`));
        continue;
      }
      const mine = ws.slice(segW[msg.seg], segW[msg.seg + 1]);
      if (taken[msg.seg] || mine.length !== msg.bufs.length || mine.some((w, i) => msg.bufs[i]!.length !== w.len)) {
        msg.bufs.forEach((b) => b.fill(0));
        continue;
      }
      mine.forEach((w, i) => (w.buf = msg.bufs[i]));
      taken[msg.seg] = 1;
    }
  };
  /** segment s authenticated and its weights here, else SealError */
  const ensure = (s: number): void => {
    let since = 0;
    for (;;) {
      const st = Atomics.load(state, s);
      if (st === 3) {
        if (since) trace?.('waited for the crypto thread until here', s);
        takeUntil(s);
        return;
      }
      if (st === 4) throw (failed ??= gcmFailure(ck));
      if (st === 5) throw (failed ??= new SealError('truncated', 'the file ended or changed while it was read'));
      if (st === 6) throw (failed ??= new SealError('tampered', 'the version 3 weights were released before they were read'));
      if (st === 0) {
        if (Atomics.compareExchange(state, s, 0, 2) === 0) {
          let r = 4;
          try {
            r = decryptHere(s);
          } finally {
            Atomics.store(state, s, r);
          }
        }
        continue;
      }
      if (st !== 1) throw (failed ??= new SealError('tampered', `segment ${s} is in an unknown state`));
      // the crypto thread has it (1): wait for as long as it should take (≈ 0.5 ms a chunk), then do it here too —
      // the thread may have lost its core to another process — and whichever finishes first is used (the other's
      // weights are wiped unused)
      const now = performance.now();
      if (!since) {
        since = now;
        trace?.('waits for the crypto thread', s);
      } else if (now - since > (sealTrace.takeOverMs ?? TAKE_OVER_MS) * (segG[s]! - s + 2)) {
        trace?.('takes over from the crypto thread', s);
        const r = decryptHere(s);
        if (Atomics.compareExchange(state, s, 1, r) === 1 || r === 3) continue;
      }
      Atomics.wait(state, s, 1, TAKE_OVER_MS);
    }
  };
  /** the segment the session build asks for, so far at most (+ 1): the crypto thread hashes only while it is ahead of it */
  let asked = 0;
  const fill = (w: Weight): void => {
    if (w.filled) return;
    if (failed) throw failed;
    trace?.('weight read', w.seg, w.len);
    if (w.seg >= asked) Atomics.store(ctl, 4, (asked = w.seg + 1));
    ensure(w.seg);
    if (!w.buf) throw (failed ??= new SealError('tampered', 'a version 3 weight was not handed over'));
    w.filled = true;
  };
  /**
   * The signature's message: header ‖ every block's digest. A block the crypto thread hashed (hs 2) or is hashing (1,
   * waited for) comes from `sums`; one nobody claimed is hashed here from `input` when `input` holds it for good (bytes:
   * always; a file: chunk 0, version 3 every chunk — all reads go there —, version 4 a chunk the crypto thread read),
   * else (version 4, a chunk only this thread read) it is the digest of this thread's own read. Version 4: a chunk both
   * threads read must have read the same (else the file changed while it was read: SealError).
   */
  const digestsNow = (): Uint8Array => {
    const msg = new Uint8Array(l.aadEnd + nb * DIGEST_LEN);
    msg.set(hdr);
    const inInput = (b: number): boolean => !ownReads || b === 0 || Atomics.load(rt, b - 1) === 1;
    const hashed = (b: number): Uint8Array => host.sha256(input.subarray(blocks[b]!, blocks[b + 1]!));
    let here = 0;
    for (let b = 0; b < nb; b++) {
      let d: Uint8Array | undefined;
      const t0 = performance.now();
      for (;;) {
        const st = Atomics.load(hs, b);
        if (st === 2) d = sums.subarray(b * DIGEST_LEN, (b + 1) * DIGEST_LEN);
        else if (st === 0) {
          if (Atomics.compareExchange(hs, b, 0, 1) !== 0) continue;
          if (inInput(b)) {
            d = hashed(b);
            here++;
            sums.set(d, b * DIGEST_LEN);
          }
          Atomics.store(hs, b, d ? 2 : 4);
        } else if (st === 1) {
          // the crypto thread is on it (≈ 0.6 ms a MiB); if it lost its core, hash it here too (it only hashes blocks
          // `input` holds for good)
          if (performance.now() - t0 <= TAKE_OVER_MS * 2) {
            Atomics.wait(hs, b, 1, TAKE_OVER_MS);
            continue;
          }
          d = hashed(b);
          here++;
        }
        break;
      }
      const mine = ownReads && b > 0 ? mineDigests[b - 1] : undefined;
      if (mine && d && !sameBytes(mine, d)) throw (failed ??= new SealError('truncated', 'the file ended or changed while it was read'));
      d ??= mine;
      if (!d) throw (failed ??= new SealError('truncated', `chunk ${b} of the file was not read`));
      msg.set(d, l.aadEnd + b * DIGEST_LEN);
    }
    trace?.('block digests: hashed on the loading thread', here);
    return msg;
  };
  /**
   * Stop the crypto thread's work for this load: no segment is claimed any more (6), the one it is on is waited for,
   * and whatever it handed over is wiped. A file's chunks nobody read are read now when signed (the digests need them).
   */
  const stop = (): void => {
    Atomics.store(ctl, 0, 1);
    releaseCrypto();
    const abandoned: number[] = [];
    for (let s = 0; s < nseg; s++) if (Atomics.compareExchange(state, s, 0, 6) === 0) abandoned.push(s);
    const t0 = performance.now();
    for (let s = 0; s < nseg; s++) while (Atomics.load(state, s) === 1 && performance.now() - t0 < STALL_MS) Atomics.wait(state, s, 1, 20);
    for (let msg; (msg = slot?.take()); ) msg.bufs.forEach((b) => b.fill(0));
    if (src && signed && abandoned.length) for (let j = 0; j < m; j++) if (!Atomics.load(cv, j) && !(ownReads && Atomics.load(rt, j))) readHere(j);
  };
  const lazy: LazyWeights = {
    attach(graph) {
      for (const t of graph.initializers.values()) {
        const d = t.data as unknown as ArrayBufferView & { length: number; constructor: new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView };
        if (!d || d.buffer !== ph) continue;
        const w = byOff.get(d.byteOffset);
        if (!w || w.attached || t.type === 'bool' || d.byteLength !== w.len) throw new SealError('malformed', 'a version 3 weight is not a plain view of its bytes');
        w.attached = true;
        Object.defineProperty(t, 'data', {
          configurable: true,
          enumerable: true,
          get() {
            fill(w);
            const v = new d.constructor(w.buf!.buffer, w.buf!.byteOffset, d.length);
            Object.defineProperty(t, 'data', { value: v, writable: true, configurable: true, enumerable: true });
            return v;
          },
        });
      }
      for (const w of ws) if (!w.attached) throw new SealError('malformed', 'a version 3 weight is not the data of a graph initializer');
    },
    async ready() {
      trace?.('ready() called');
      releaseCrypto();
      let msg: Uint8Array;
      try {
        for (let s = 0; s < nseg; s++) ensure(s);
        for (const w of ws) fill(w);
        for (let j = 0; j < m; j++) if (!Atomics.load(cv, j)) throw (failed ??= new SealError('tampered', `weight chunk ${j} was not authenticated`));
        if (signed) trace?.('every chunk authenticated; takes the block digests');
        msg = signed ? digestsNow() : new Uint8Array(0);
      } catch (e) {
        return lazy.abort(e);
      }
      closeFile();
      dropOwn();
      // (duplicates of segments this thread overtook after a stall)
      for (let d; (d = slot?.take()); ) d.bufs.forEach((b) => b.fill(0));
      trace?.('every segment authenticated and handed over');
      giveDigests(Promise.resolve(msg));
      try {
        const r = await sig;
        if (signed) trace?.('signature checked');
        return r;
      } catch (e) {
        for (const w of ws) w.buf?.fill(0);
        throw e;
      }
    },
    async abort(e) {
      let msg: Uint8Array | undefined;
      try {
        stop();
        if (signed) msg = digestsNow();
      } catch {
        // reported below as e
      }
      closeFile();
      dropOwn();
      for (const w of ws) w.buf?.fill(0);
      sec.fill(0);
      // (a file whose chunks could not all be read has no digests: the signature check reports the failure itself, unless
      // the signer is wrong anyway)
      giveDigests(msg ? Promise.resolve(msg) : !signed ? Promise.resolve(new Uint8Array(0)) : !file ? signedMessage(bytes, l) : e instanceof SealError ? Promise.reject(e) : Promise.resolve(new Uint8Array(0)));
      await sig;
      throw e;
    },
  };
  return { plaintext: sk.skeleton, prefilled, info: infoOf(l, false, l.signedEnd + (l.sig ? 2 + SIG_LEN : 0)), lazy };
}

/**
 * A version 3 file given by path (Node): the header, chunk 0 and the signature are read here into the crypto thread's
 * shared memory, the weight chunks by the crypto thread itself (synchronous reads of the same open file, each chunk
 * just before it decrypts it) while this thread parses the skeleton and builds the session; the file stays open until
 * `ready()` or `abort()`. Undefined when the file is not version 3, the thread is not free, or anything fails before
 * the weights are on their way — then the caller reads the whole file and opens the bytes, which reports any failure
 * exactly as for bytes.
 */
export async function openSealedFileV3(src: SealedSource, opts: OpenOptions): Promise<OpenedModel | undefined> {
  const host = platform.crypto;
  if (!host?.gcmThread || !(src.size >= FIXED) || opts.checkDigest || src.fd === undefined || !src.readSync) return undefined;
  const slot = host.gcmThread();
  if (!slot) return undefined;
  try {
    const whole = slot.shared(0, src.size);
    // the header (up to its 64 KiB limit; usually chunk 0 too) and the signature's place at the end, read together: the
    // rest of chunk 0, if any, after — all this thread reads
    const first = Math.min(src.size, FIXED + MAX_HEADER);
    const tailAt = Math.max(first, src.size - 2 - SIG_LEN);
    await Promise.all([readExactly(src, whole.subarray(0, first), 0), tailAt < src.size ? readExactly(src, whole.subarray(tailAt), tailAt) : undefined]);
    if (!isSealed(whole) || whole[6]! < 3 || !SEAL_VERSIONS.includes(whole[6]!)) {
      slot.cancel();
      return undefined;
    }
    const l0 = layoutHead(whole, src.size);
    const c0End = l0.aadEnd + l0.first + TAG_LEN;
    if (c0End > first) await readExactly(src, whole.subarray(first, Math.min(c0End, tailAt)), first);
    if (l0.signedEnd < tailAt) await readExactly(src, whole.subarray(l0.signedEnd, tailAt), l0.signedEnd);
    const l = layoutTail(l0, whole.subarray(l0.signedEnd), src.size);
    const r = await openV3Lazy(whole, l, opts, host, { slot, src });
    if (!r) return undefined;
    return { ...r, info: { ...r.info, sealedBytes: src.size } };
  } catch {
    slot.cancel();
    return undefined;
  }
}
