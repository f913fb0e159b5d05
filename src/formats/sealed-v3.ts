/**
 * The payload of a version 3 sealed container (docs/sealed-format.md): an ONNX model taken apart into
 *
 *   skeleton section (chunk 0, authenticated on its own):
 *     u32 skeleton length K | u32 edit count E | E edits | K skeleton bytes | zeros to a multiple of 16
 *     edit: u32 offset in the skeleton | u8 kind (0 message length, 1 moved raw_data) | u8 L | L bytes: the varint as
 *           it was in the model | kind 1: u32 offset of the raw_data in the weights section
 *   weights section (chunks 1 …): every moved raw_data, each at a multiple of 16, in the order the graph's nodes
 *     first read them (so the loading thread finds the weight it needs next already decrypted)
 *
 * The skeleton is sealed-scatter.ts's: the model with each moved raw_data replaced by one placeholder byte (length
 * varint 1) and the enclosing message lengths rewritten as 5-byte varints; the ONNX reader parses it with the weights
 * `prefilled`. The edits give back the model byte for byte (`rebuildModel`, for openSealed and its SHA-256).
 * All integers little-endian.
 */
import { SealError } from '../errors.js';
import { readOnnx } from './onnx/reader.js';
import { OnnxScatter, type SkeletonEdit } from './sealed-scatter.js';

export interface V3Edit {
  /** offset in the skeleton */
  at: number;
  kind: 'frame' | 'raw';
  /** the varint as it was in the model, and its value */
  orig: Uint8Array;
  value: number;
  /** raw: where its bytes are in the weights section (their length is `value`) */
  wOff: number;
}

export interface V3Skeleton {
  /** the skeleton the ONNX reader parses (a view into the section) */
  skeleton: Uint8Array;
  edits: V3Edit[];
  /** the raw edits, in skeleton order */
  raws: V3Edit[];
}

const ALIGN = 16;

function malformed(msg: string): never {
  throw new SealError('malformed', `version 3 skeleton: ${msg}`);
}

/**
 * The version 3 payload of an ONNX model (skeleton section ‖ weights section) and the skeleton section's length;
 * undefined when the model does not come apart cleanly (the scanner stopped, the skeleton does not parse, a moved
 * raw_data is decoded by reading its values — bool, 4-bit — or the weights exceed 4 GiB): then it is sealed as
 * version 2.
 */
export function v3Payload(model: Uint8Array, minOut: number): { payload: Uint8Array; skeleton: number } | undefined {
  const sc = new OnnxScatter(model.length, minOut);
  sc.push(model);
  const r = sc.finish();
  if (!r.prefilled || !r.edits) {
    r.bytes.fill(0);
    return undefined;
  }
  const edits = r.edits;
  const raws = edits.filter((e) => e.kind === 'raw');
  const wipe = () => raws.forEach((e) => e.data!.fill(0));
  // the order the graph reads its weights: the reader takes each moved raw_data as its tensor's data (a view)
  const byBuffer = new Map<ArrayBufferLike, SkeletonEdit>(raws.map((e) => [e.data!.buffer, e]));
  const rank = new Map<SkeletonEdit, number>();
  try {
    const g = readOnnx(r.bytes.slice(), { owned: true, prefilled: r.prefilled });
    const first = new Map<string, number>();
    g.nodes.forEach((n, i) => n.inputs.forEach((x) => x && !first.has(x) && first.set(x, i)));
    for (const [name, t] of g.initializers) {
      const d = t.data as ArrayBufferView;
      const e = byBuffer.get(d.buffer);
      if (!e) continue;
      if (t.type === 'bool' || d.byteOffset !== 0) return void wipe();
      rank.set(e, first.get(name) ?? Infinity);
    }
  } catch {
    return void wipe();
  }
  if (rank.size !== raws.length) return void wipe();
  const order = [...raws].sort((a, b) => rank.get(a)! - rank.get(b)!);
  const wOff = new Map<SkeletonEdit, number>();
  let w = 0;
  for (const e of order) {
    w = Math.ceil(w / ALIGN) * ALIGN;
    wOff.set(e, w);
    w += e.data!.length;
  }
  if (w >= 2 ** 32) return void wipe();
  const skel = r.bytes;
  let head = 8;
  for (const e of edits) head += 6 + e.orig.length + (e.kind === 'raw' ? 4 : 0);
  const S = Math.ceil((head + skel.length) / ALIGN) * ALIGN;
  const payload = new Uint8Array(S + w);
  const dv = new DataView(payload.buffer);
  dv.setUint32(0, skel.length, true);
  dv.setUint32(4, edits.length, true);
  let o = 8;
  for (const e of edits) {
    dv.setUint32(o, e.at, true);
    payload[o + 4] = e.kind === 'raw' ? 1 : 0;
    payload[o + 5] = e.orig.length;
    payload.set(e.orig, o + 6);
    o += 6 + e.orig.length;
    if (e.kind === 'raw') {
      dv.setUint32(o, wOff.get(e)!, true);
      o += 4;
    }
  }
  payload.set(skel, o);
  skel.fill(0);
  for (const e of order) payload.set(e.data!, S + wOff.get(e)!);
  wipe();
  return { payload, skeleton: S };
}

/** Decode a stored varint (1–5 bytes, < 2^32); undefined when it is not one. */
function varint(b: Uint8Array): number | undefined {
  if (b.length < 1 || b.length > 5) return undefined;
  let v = 0;
  for (let i = b.length - 1; i >= 0; i--) {
    const last = i === b.length - 1;
    if (last ? b[i]! & 128 : !(b[i]! & 128)) return undefined;
    v = v * 128 + (b[i]! & 127);
  }
  return v < 2 ** 32 ? v : undefined;
}

/**
 * Parse and check a decrypted skeleton section (SealError 'malformed' naming what is wrong); `weights` is the
 * weights section's length. Every moved raw_data must lie in it, aligned, without overlapping another.
 */
export function parseSkeletonSection(sec: Uint8Array, weights: number): V3Skeleton {
  if (sec.length < 8) malformed(`section of ${sec.length} bytes`);
  const dv = new DataView(sec.buffer, sec.byteOffset, sec.length);
  const K = dv.getUint32(0, true);
  const E = dv.getUint32(4, true);
  if (E > sec.length / 6) malformed(`${E} edits in a ${sec.length}-byte section`);
  const edits: V3Edit[] = [];
  const raws: V3Edit[] = [];
  let o = 8;
  let prevEnd = 0;
  for (let k = 0; k < E; k++) {
    if (o + 6 > sec.length) malformed('edit table runs past the section');
    const at = dv.getUint32(o, true);
    const kindByte = sec[o + 4]!;
    const L = sec[o + 5]!;
    if (kindByte > 1) malformed(`edit ${k} has kind ${kindByte}`);
    if (o + 6 + L + (kindByte ? 4 : 0) > sec.length) malformed('edit table runs past the section');
    const orig = sec.subarray(o + 6, o + 6 + L);
    const value = varint(orig);
    if (value === undefined) malformed(`edit ${k} does not hold a varint`);
    o += 6 + L;
    const kind = kindByte ? 'raw' : 'frame';
    let wOff = 0;
    if (kind === 'raw') {
      wOff = dv.getUint32(o, true);
      o += 4;
      if (wOff % ALIGN || wOff + value > weights) malformed(`raw_data [${wOff}, ${wOff + value}) is not an aligned range of the ${weights}-byte weights section`);
    }
    if (at < prevEnd || at + (kind === 'raw' ? 2 : 5) > K) malformed(`edit ${k} at ${at} is out of order or outside the ${K}-byte skeleton`);
    prevEnd = at + (kind === 'raw' ? 2 : 5);
    const e: V3Edit = { at, kind, orig, value, wOff };
    edits.push(e);
    if (kind === 'raw') raws.push(e);
  }
  if (o + K > sec.length) malformed(`the ${K}-byte skeleton runs past the section`);
  const skeleton = sec.subarray(o, o + K);
  for (const e of raws) if (skeleton[e.at] !== 1) malformed(`edit at ${e.at} is not a placeholder`);
  const sorted = [...raws].sort((a, b) => a.wOff - b.wOff);
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.wOff < sorted[i - 1]!.wOff + sorted[i - 1]!.value) malformed('two raw_data overlap in the weights section');
  return { skeleton, edits, raws };
}

/** The sealed model byte for byte, from its skeleton section and weights section; SealError when it is not `size` bytes. */
export function rebuildModel(sk: V3Skeleton, weights: Uint8Array, size: number): Uint8Array {
  let n = sk.skeleton.length;
  for (const e of sk.edits) n += e.orig.length - (e.kind === 'raw' ? 2 : 5) + (e.kind === 'raw' ? e.value : 0);
  if (n !== size) throw new SealError('tampered', `the version 3 skeleton rebuilds ${n} bytes, the header says ${size}`);
  const out = new Uint8Array(size);
  let from = 0;
  let to = 0;
  for (const e of sk.edits) {
    out.set(sk.skeleton.subarray(from, e.at), to);
    to += e.at - from;
    out.set(e.orig, to);
    to += e.orig.length;
    if (e.kind === 'raw') {
      out.set(weights.subarray(e.wOff, e.wOff + e.value), to);
      to += e.value;
    }
    from = e.at + (e.kind === 'raw' ? 2 : 5);
  }
  out.set(sk.skeleton.subarray(from), to);
  return out;
}
