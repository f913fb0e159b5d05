/**
 * Model bytes → Graph for InferenceSession.create / Interpreter.create, opening sealed containers
 * (docs/sealed-format.md) and reporting each load to the app's `onModelLoaded` audit hook.
 */
import { platform } from '#platform';
import { SealError } from '../errors.js';
import { detectFormat, readModel } from '../formats/detect.js';
import { type OpenedModel, type SealedFormat, isSealed, openSealedFileV3, openSealedModel, openSealedSource } from '../formats/sealed.js';
import { readOnnxScattered } from '../formats/sealed-scatter.js';
import { type ContentKeyInput, type VerifyKeyInput, sha256, toHex } from '../formats/sealed-keys.js';
import type { Graph } from '../ir/graph.js';
import type { ExternalDataEntries, ExternalDataSource } from '../formats/onnx/tensor-proto.js';

/** One model load, for an audit log. Holds digests, ids and fingerprints only — never key or model bytes. */
export interface ModelLoadedEvent {
  /** SHA-256 (hex) of the plaintext model: from the authenticated header of a sealed file, computed for a plain one */
  sha256: string;
  format: SealedFormat;
  /** plaintext model bytes */
  size: number;
  sealed: boolean;
  /** id of the content key that opened it (sealed files) */
  keyId?: string;
  /** fingerprint (SHA-256 of the SPKI, hex) of the key that signed it */
  signer?: string;
  /** the signature was checked against the caller's verifyKey (origin), not only its embedded key */
  verified: boolean;
  /** ISO-8601 time the load finished */
  time: string;
  /** the sealed header's metadata ({} for plain files) */
  meta: Record<string, string>;
  /** the path/URL it came from, when given one */
  source?: string;
}

export interface SealedLoadOptions {
  /** content key of a sealed model: 32 raw bytes, hex/base64 text or an AES-GCM CryptoKey. When given, plain models are refused. */
  decryptionKey?: ContentKeyInput;
  /** require a signature by this Ed25519 / ECDSA P-256 public key (SPKI PEM/DER or CryptoKey). When given, plain and unsigned models are refused. */
  verifyKey?: VerifyKeyInput;
  /** called once per loaded model with its digest, signer and time (for the app's audit log) */
  onModelLoaded?: (e: ModelLoadedEvent) => void;
}

/**
 * The decrypted model parsed (the plaintext is ours alone: the reader may alias its aligned weights instead of copying
 * them; an ONNX skeleton's weights were decrypted into buffers of their own, `prefilled`).
 */
async function opened({ plaintext, info, prefilled, lazy }: OpenedModel, read: { externalData?: ExternalDataEntries | ExternalDataSource }, src: { source?: string }): Promise<OpenedGraph> {
  let graph: Graph;
  try {
    graph = readModel(plaintext, { ...read, owned: true, ...(prefilled ? { prefilled } : {}) });
    lazy?.attach(graph);
  } catch (e) {
    if (lazy) await lazy.abort(e);
    throw e;
  }
  const event: ModelLoadedEvent = {
    sha256: info.sha256,
    format: info.format,
    size: info.size,
    sealed: true,
    keyId: info.keyId,
    ...(info.signer ? { signer: info.signer } : {}),
    verified: info.verified,
    time: new Date().toISOString(),
    meta: info.meta,
    ...src,
  };
  if (!lazy) return { graph, event };
  // a version 3 model's weights are still being decrypted: the caller builds the session, then awaits `ready`
  return {
    graph,
    event,
    ready: async () => {
      event.verified = await lazy.ready();
      event.time = new Date().toISOString();
    },
    abort: (e) => lazy.abort(e),
  };
}

/**
 * A parsed model. With `ready` (a sealed version 3 model, formats/sealed.ts openV3Lazy) its weights are still being
 * decrypted: build the session from the graph, then `await ready()` — it rejects with the SealError to report if any
 * chunk or the signature fails, and nothing may run before it resolves — or call `abort(e)` if building failed.
 */
export interface OpenedGraph {
  graph: Graph;
  event: ModelLoadedEvent | undefined;
  ready?: () => Promise<void>;
  abort?: (e: unknown) => Promise<never>;
}

/**
 * A model file opened while it is read: a sealed one decrypted chunk by chunk (formats/sealed.ts openSealedSource:
 * chunk i + 1 is read while chunk i is decrypted), a plain ONNX one read piece by piece — both taken apart into a
 * skeleton and per-tensor weights (formats/sealed-scatter.ts), never held in one buffer the size of the file. Undefined
 * when that does not apply or anything fails — then the caller reads the whole file and goes through `openModel`,
 * which opens it (or reports the failure) exactly as it does bytes.
 */
export async function openModelFile(path: string, opts: SealedLoadOptions & { externalData?: ExternalDataEntries | ExternalDataSource }): Promise<OpenedGraph | undefined> {
  // a plain file with a verify key is refused and one with an audit hook needs its digest: both by openModel
  const plain = opts.decryptionKey === undefined;
  if (!platform.openFile || (plain && (opts.verifyKey !== undefined || opts.onModelLoaded))) return undefined;
  let file;
  try {
    file = await platform.openFile(path);
  } catch {
    return undefined;
  }
  const read = opts.externalData ? { externalData: opts.externalData } : {};
  let handedOver = false;
  try {
    if (plain) {
      const head = new Uint8Array(Math.min(8, file.size));
      if ((await file.read(head, 0)) !== head.length || head.length < 8 || isSealed(head) || detectFormat(head) !== 'onnx') return undefined;
      const r = await readOnnxScattered(file);
      if (!r) return undefined;
      try {
        return { graph: readModel(r.bytes, { ...read, owned: true, ...(r.prefilled ? { prefilled: r.prefilled } : {}) }), event: undefined };
      } catch {
        return undefined; // the whole-file read reports it, in the plain reader's words
      }
    }
    // version 3: the crypto thread reads and decrypts the weights while the session is built (the load closes the file)
    const v3 = await openSealedFileV3(file, opts);
    if (v3) {
      handedOver = true;
      return await opened(v3, read, { source: path });
    }
    const r = await openSealedSource(file, opts, true);
    return r ? await opened(r, read, { source: path }) : undefined;
  } finally {
    if (!handedOver) await file.close().catch(() => undefined);
  }
}

/** Parse model bytes (sealed or plain) into a Graph; sealed bytes are decrypted once into a fresh buffer the graph may alias. */
export async function openModel(bytes: Uint8Array, opts: SealedLoadOptions & { externalData?: ExternalDataEntries | ExternalDataSource }, source?: string): Promise<OpenedGraph> {
  const src = source !== undefined ? { source } : {};
  const read = opts.externalData ? { externalData: opts.externalData } : {};
  if (isSealed(bytes)) {
    return opened(await openSealedModel(bytes, opts), read, src);
  }
  if (opts.decryptionKey !== undefined || opts.verifyKey !== undefined) {
    throw new SealError('not-sealed', `a ${opts.decryptionKey !== undefined ? 'decryptionKey' : 'verifyKey'} was given but the model is not sealed; refusing to load it unprotected`);
  }
  const graph = readModel(bytes, read);
  if (!opts.onModelLoaded) return { graph, event: undefined };
  const event: ModelLoadedEvent = {
    sha256: toHex(await sha256(bytes)),
    format: detectFormat(bytes),
    size: bytes.length,
    sealed: false,
    verified: false,
    time: new Date().toISOString(),
    meta: {},
    ...src,
  };
  return { graph, event };
}
