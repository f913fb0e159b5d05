/**
 * A decrypted ONNX model taken apart while it is decrypted (sealed.ts, Node's node:crypto path): the bytes of every
 * graph initializer's raw_data go straight from the decryption's small, reused output pieces into a buffer of their
 * own — the same one buffer per tensor that the plain load's reader copies each weight into — and everything else
 * (the protobuf framing, nodes, names, small tensors) into a compact "skeleton" in which each moved raw_data is one
 * placeholder byte. The ONNX reader parses the skeleton and takes each placeholder's buffer as that tensor's data
 * (tensor-proto.ts withOwnedBytes `prefilled`).
 *
 * Why: a sealed model used to be decrypted into one fresh model-sized buffer. Its memory is a new mapping on every
 * load (the allocator maps any block of that size anew), and on this VM a first touch of a 4 KiB page costs ≈ 10 µs:
 * ≈ 35 ms for mobilenet_v2, more than the whole plain load, which copies its weights into per-tensor buffers the
 * allocator recycles. With the weights scattered, a sealed load allocates exactly what a plain one does, plus the
 * skeleton (tens of KB).
 *
 * The scanner follows only ModelProto.graph (field 7) → GraphProto.initializer (5) → TensorProto.raw_data (9); every
 * other field is copied through. Lengths in the skeleton are rewritten as 5-byte varints (non-minimal, which
 * protobuf decoders accept). Anything it does not expect (a length past its parent, a group, a 6+ byte length)
 * stops the scanning and the rest is copied through; `finish()` then gives back the whole plaintext, rebuilt byte
 * for byte, and the reader parses that as before — so the reader sees the same bytes and reports the same errors.
 */

/** raw_data shorter than this stays in the skeleton */
const MIN_SCATTER = 16;

interface Frame {
  kind: 'graph' | 'tensor';
  /** end of the message in the plaintext */
  end: number;
  /** its length varint in `meta` (rewritten to 5 bytes) */
  edit: Edit;
  /** bytes its encoding loses (moved raw_data, shorter nested lengths) */
  removed: number;
}

interface Edit {
  /** where the varint is in `meta`, and its byte count */
  at: number;
  len: number;
  /** frame: the new length; raw: the moved bytes */
  kind: 'frame' | 'raw';
  value: number;
  data?: Uint8Array;
}

export interface Scattered {
  /** the skeleton (prefilled set) or, when scanning stopped, the whole plaintext */
  bytes: Uint8Array;
  /** offset in `bytes` of each placeholder byte → the raw_data it stands for */
  prefilled?: Map<number, Uint8Array>;
  /**
   * (prefilled set) every rewritten varint, in skeleton order: where it is in the skeleton, what it was in the
   * plaintext and (raw) the bytes moved out — enough to rebuild the plaintext byte for byte (sealed.ts version 3)
   */
  edits?: SkeletonEdit[];
}

/** A length varint the skeleton rewrote: a message's (5 bytes in the skeleton) or a moved raw_data's (2: length 1 + placeholder). */
export interface SkeletonEdit {
  /** offset in the skeleton */
  at: number;
  kind: 'frame' | 'raw';
  /** the varint as it was in the plaintext */
  orig: Uint8Array;
  /** raw: the moved bytes */
  data?: Uint8Array;
}

/** Padded 5-byte varint of v < 2^32 (protobuf readers accept non-minimal varints). */
function put5(out: Uint8Array, at: number, v: number): void {
  for (let i = 0; i < 4; i++) {
    out[at + i] = (v & 127) | 128;
    v = Math.floor(v / 128);
  }
  out[at + 4] = v;
}

export class OnnxScatter {
  private meta = new Uint8Array(1 << 16);
  private metaLen = 0;
  private pos = 0;
  private readonly edits: Edit[] = [];
  private readonly stack: Frame[] = [];
  /** bytes of a varint being read (tag or length) */
  private vbuf: number[] = [];
  /** what the bytes being read are: a tag, a length, a scalar varint, or n bytes copied/moved */
  private state: 'tag' | 'len' | 'varint' | 'copy' | 'move' = 'tag';
  private field = 0;
  private left = 0;
  private move?: Uint8Array;
  private moveAt = 0;
  private lenStart = 0;
  private stopped = false;

  /** `min`: raw_data shorter than this stays in the skeleton (default 16 bytes) */
  constructor(
    private readonly size: number,
    private readonly min = MIN_SCATTER,
  ) {}

  private emit(b: Uint8Array): void {
    if (this.metaLen + b.length > this.meta.length) {
      let n = this.meta.length * 2;
      while (n < this.metaLen + b.length) n *= 2;
      const grown = new Uint8Array(Math.min(n, Math.max(this.size, this.metaLen + b.length)));
      grown.set(this.meta.subarray(0, this.metaLen));
      this.meta.fill(0);
      this.meta = grown;
    }
    this.meta.set(b, this.metaLen);
    this.metaLen += b.length;
  }

  private emitByte(v: number): void {
    if (this.metaLen === this.meta.length) this.emit(new Uint8Array([v]));
    else this.meta[this.metaLen++] = v;
  }

  private get level(): 'model' | Frame['kind'] {
    return this.stack.length ? this.stack[this.stack.length - 1]!.kind : 'model';
  }

  private stop(): void {
    this.stopped = true;
  }

  /** close every message that ends here */
  private pop(): void {
    while (this.stack.length && this.pos === this.stack[this.stack.length - 1]!.end) {
      const f = this.stack.pop()!;
      f.edit.value -= f.removed;
      const parent = this.stack[this.stack.length - 1];
      if (parent) parent.removed += f.removed - (5 - f.edit.len);
    }
    if (this.stack.length && this.pos > this.stack[this.stack.length - 1]!.end) this.stop();
  }

  /** the next decrypted piece, in order (copied; the caller may wipe it afterwards) */
  push(p: Uint8Array): void {
    let i = 0;
    while (i < p.length) {
      if (this.stopped) {
        this.emit(p.subarray(i));
        this.pos += p.length - i;
        return;
      }
      if (this.state === 'copy' || this.state === 'move') {
        const take = Math.min(this.left, p.length - i);
        if (this.state === 'copy') this.emit(p.subarray(i, i + take));
        else {
          this.move!.set(p.subarray(i, i + take), this.moveAt);
          this.moveAt += take;
        }
        i += take;
        this.pos += take;
        this.left -= take;
        if (this.left === 0) {
          this.state = 'tag';
          this.pop();
        }
        continue;
      }
      // a varint, byte by byte (tags and lengths only: a few bytes per field)
      const b = p[i++]!;
      this.pos++;
      if (this.state === 'len' && this.vbuf.length === 0) this.lenStart = this.metaLen;
      this.emitByte(b);
      this.vbuf.push(b);
      if (b & 128) {
        if (this.vbuf.length >= (this.state === 'varint' ? 10 : 5)) this.stop();
        continue;
      }
      let v = 0;
      for (let k = this.vbuf.length - 1; k >= 0; k--) v = v * 128 + (this.vbuf[k]! & 127);
      const nbytes = this.vbuf.length;
      this.vbuf = [];
      if (this.state === 'varint') {
        this.state = 'tag';
        this.pop();
      } else if (this.state === 'tag') {
        const wire = v % 8;
        this.field = Math.floor(v / 8);
        if (wire === 0) this.state = 'varint';
        else if (wire === 1 || wire === 5) {
          this.state = 'copy';
          this.left = wire === 1 ? 8 : 4;
        } else if (wire === 2) this.state = 'len';
        else this.stop();
      } else {
        // a length (state 'len'): a message to enter, a raw_data to move, or bytes to copy
        const end = this.pos + v;
        const parentEnd = this.stack.length ? this.stack[this.stack.length - 1]!.end : this.size;
        if (end > parentEnd || v >= 2 ** 31) {
          this.stop();
          continue;
        }
        const level = this.level;
        const kind = level === 'model' && this.field === 7 ? 'graph' : level === 'graph' && this.field === 5 ? 'tensor' : undefined;
        if (kind) {
          const edit: Edit = { at: this.lenStart, len: nbytes, kind: 'frame', value: v };
          this.edits.push(edit);
          this.stack.push({ kind, end, edit, removed: 0 });
          this.state = 'tag';
          this.pop();
        } else if (level === 'tensor' && this.field === 9 && v >= this.min) {
          const data = new Uint8Array(v);
          this.edits.push({ at: this.lenStart, len: nbytes, kind: 'raw', value: v, data });
          this.stack[this.stack.length - 1]!.removed += v + nbytes - 2;
          this.move = data;
          this.moveAt = 0;
          this.state = 'move';
          this.left = v;
        } else if (v === 0) {
          this.state = 'tag';
          this.pop();
        } else {
          this.state = 'copy';
          this.left = v;
        }
      }
    }
  }

  /** after the last piece: the skeleton and its moved tensors, or (scanning stopped) the whole plaintext */
  finish(): Scattered {
    const meta = this.meta.subarray(0, this.metaLen);
    const done = !this.stopped && this.pos === this.size && this.state === 'tag' && this.vbuf.length === 0 && this.stack.length === 0;
    let grow = 0;
    for (const e of this.edits) grow += done ? (e.kind === 'frame' ? 5 : 2) - e.len : e.kind === 'raw' ? e.value : 0;
    const out = new Uint8Array(this.metaLen + grow);
    const prefilled = done ? new Map<number, Uint8Array>() : undefined;
    const edits: SkeletonEdit[] = [];
    let from = 0;
    let to = 0;
    for (const e of this.edits) {
      out.set(meta.subarray(from, e.at), to);
      to += e.at - from;
      from = e.at + e.len;
      if (!done) {
        // the original bytes: the varint as it was, then (raw) the moved bytes back in place
        out.set(meta.subarray(e.at, from), to);
        to += e.len;
        if (e.kind === 'raw') {
          out.set(e.data!, to);
          to += e.data!.length;
          e.data!.fill(0);
        }
      } else if (e.kind === 'frame') {
        edits.push({ at: to, kind: 'frame', orig: meta.slice(e.at, from) });
        put5(out, to, e.value);
        to += 5;
      } else {
        edits.push({ at: to, kind: 'raw', orig: meta.slice(e.at, from), data: e.data! });
        out[to] = 1; // length 1, then the placeholder byte
        prefilled!.set(to + 1, e.data!);
        to += 2;
      }
    }
    out.set(meta.subarray(from), to);
    this.wipeMeta();
    return prefilled ? { bytes: out, prefilled, edits } : { bytes: out };
  }

  /** zero everything decrypted so far (a failed tag, a bad signature) */
  wipe(): void {
    for (const e of this.edits) e.data?.fill(0);
    this.wipeMeta();
  }

  private wipeMeta(): void {
    this.meta.fill(0);
    this.metaLen = 0;
  }
}

/**
 * Read buffers kept between loads: a fresh multi-MiB buffer per load costs a first-touch page fault per 4 KiB (≈ 10 µs
 * each on the VM measured). They only ever hold file bytes as read (ciphertext, or a plain model), never decrypted
 * bytes. `take` hands out a buffer of at least n bytes; `give` returns it once no read into it is pending.
 */
const spare: Uint8Array[] = [];
const SPARE_MAX = 4;

export function takeReadBuffer(n: number): Uint8Array {
  if (n === 0) return new Uint8Array(0);
  const i = spare.findIndex((b) => b.length >= n);
  return i >= 0 ? spare.splice(i, 1)[0]!.subarray(0, n) : new Uint8Array(n);
}

export function giveReadBuffer(b: Uint8Array): void {
  if (spare.length < SPARE_MAX && b.byteLength > 0) spare.push(new Uint8Array(b.buffer, b.byteOffset, b.buffer.byteLength - b.byteOffset));
}

/** A file read piece by piece (platform OpenedFile). */
export interface PieceSource {
  readonly size: number;
  read(into: Uint8Array, position: number): Promise<number>;
}

const PIECE = 1 << 22;

/**
 * A plain ONNX file read piece by piece (piece i + 1 read on the I/O threads while piece i is taken apart) into a
 * skeleton and per-tensor weights, as a sealed one is: no buffer the size of the file. Undefined when the file
 * ends early (it changed while read).
 */
export async function readOnnxScattered(src: PieceSource): Promise<Scattered | undefined> {
  const size = src.size;
  const sc = new OnnxScatter(size);
  const bufs = [takeReadBuffer(Math.min(PIECE, size)), takeReadBuffer(size > PIECE ? Math.min(PIECE, size - PIECE) : 0)];
  const n = Math.max(1, Math.ceil(size / PIECE));
  const lenOf = (i: number) => Math.min(PIECE, size - i * PIECE);
  const readPiece = (i: number) => {
    const p = src.read(bufs[i & 1]!.subarray(0, lenOf(i)), i * PIECE);
    p.catch(() => undefined);
    return p;
  };
  let next = readPiece(0);
  for (let i = 0; i < n; i++) {
    const got = await next;
    if (i + 1 < n) next = readPiece(i + 1);
    if (got !== lenOf(i)) {
      await next.catch(() => undefined);
      return undefined;
    }
    sc.push(bufs[i & 1]!.subarray(0, got));
  }
  bufs.forEach(giveReadBuffer);
  return sc.finish();
}
