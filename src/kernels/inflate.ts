import { ModelFormatError } from '../errors.js';

/**
 * Raw DEFLATE (RFC 1951) decoder, synchronous, for the embedded kernel binary: base64 of the deflated module is
 * ~25 KB gzipped in a bundle where base64 of the module itself was ~39 KB (gzip finds few matches in base64 text),
 * and kernels are instantiated synchronously, so the runtimes' async DecompressionStream does not fit. Canonical
 * Huffman codes decoded bit by bit (tinf's scheme): slow per bit, but the binary is inflated once per process.
 * Every length and distance is checked against the output, which has a known size.
 */

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** order in which a dynamic block lists the code-length code's lengths */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** a canonical Huffman code: how many codes of each length, and the symbols in code order */
interface Code {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function bad(what: string): never {
  throw new ModelFormatError(`inflate: ${what}`);
}

function code(lengths: ArrayLike<number>, from: number, n: number): Code {
  const counts = new Uint16Array(16);
  for (let i = 0; i < n; i++) counts[lengths[from + i]!]!++;
  counts[0] = 0;
  const offs = new Uint16Array(16);
  for (let i = 1; i < 16; i++) offs[i] = offs[i - 1]! + counts[i - 1]!;
  const symbols = new Uint16Array(n);
  for (let i = 0; i < n; i++) if (lengths[from + i]) symbols[offs[lengths[from + i]!]!++] = i;
  return { counts, symbols };
}

let FIXED: [Code, Code] | undefined;
function fixedCodes(): [Code, Code] {
  if (!FIXED) {
    const l = new Uint8Array(288);
    l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    FIXED = [code(l, 0, 288), code(new Uint8Array(30).fill(5), 0, 30)];
  }
  return FIXED;
}

/** Inflate raw DEFLATE `src` into exactly `size` bytes (ModelFormatError on anything malformed or a size mismatch). */
export function inflateRaw(src: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let pos = 0; // next input byte
  let tag = 0; // bits not yet consumed from src[pos - 1], LSB first
  let nbits = 0;
  let o = 0;
  const bit = (): number => {
    if (nbits === 0) {
      if (pos >= src.length) bad('input ends inside a block');
      tag = src[pos++]!;
      nbits = 8;
    }
    const b = tag & 1;
    tag >>>= 1;
    nbits--;
    return b;
  };
  const bits = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) v |= bit() << i;
    return v;
  };
  const decode = (c: Code): number => {
    let cur = 0;
    let sum = 0;
    for (let len = 1; len < 16; len++) {
      cur = 2 * cur + bit();
      sum += c.counts[len]!;
      cur -= c.counts[len]!;
      if (cur < 0) return c.symbols[sum + cur]!;
    }
    return bad('invalid Huffman code');
  };

  let last = 0;
  while (!last) {
    last = bit();
    const type = bits(2);
    if (type === 0) {
      nbits = 0; // stored block: skip to the byte boundary
      if (pos + 4 > src.length) bad('stored block header past the end');
      const len = src[pos]! | (src[pos + 1]! << 8);
      const nlen = src[pos + 2]! | (src[pos + 3]! << 8);
      if ((len ^ 0xffff) !== nlen) bad('stored block length check');
      pos += 4;
      if (pos + len > src.length || o + len > size) bad('stored block past the end');
      out.set(src.subarray(pos, pos + len), o);
      pos += len;
      o += len;
      continue;
    }
    let lit: Code;
    let dist: Code;
    if (type === 1) [lit, dist] = fixedCodes();
    else if (type === 2) {
      const hlit = bits(5) + 257;
      const hdist = bits(5) + 1;
      const hclen = bits(4) + 4;
      const cl = new Uint8Array(19);
      for (let i = 0; i < hclen; i++) cl[CL_ORDER[i]!] = bits(3);
      const clc = code(cl, 0, 19);
      const lengths = new Uint8Array(hlit + hdist);
      for (let i = 0; i < hlit + hdist; ) {
        const s = decode(clc);
        if (s < 16) {
          lengths[i++] = s;
          continue;
        }
        let rep: number;
        let v = 0;
        if (s === 16) {
          if (i === 0) bad('length repeat with no previous length');
          v = lengths[i - 1]!;
          rep = 3 + bits(2);
        } else rep = s === 17 ? 3 + bits(3) : 11 + bits(7);
        if (i + rep > hlit + hdist) bad('code lengths overflow');
        lengths.fill(v, i, i + rep);
        i += rep;
      }
      lit = code(lengths, 0, hlit);
      dist = code(lengths, hlit, hdist);
    } else return bad('reserved block type');
    for (;;) {
      const s = decode(lit);
      if (s < 256) {
        if (o >= size) bad('output longer than expected');
        out[o++] = s;
        continue;
      }
      if (s === 256) break;
      const li = s - 257;
      if (li >= 29) bad('invalid length symbol');
      const len = LEN_BASE[li]! + bits(LEN_EXTRA[li]!);
      const di = decode(dist);
      if (di >= 30) bad('invalid distance symbol');
      const d = DIST_BASE[di]! + bits(DIST_EXTRA[di]!);
      if (d > o) bad('distance before the start of the output');
      if (o + len > size) bad('output longer than expected');
      for (let k = 0; k < len; k++, o++) out[o] = out[o - d]!;
    }
  }
  if (o !== size) bad(`output is ${o} bytes, expected ${size}`);
  return out;
}
