/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0 read; 1.0/2.0 written).
 * The header dict is parsed by a tiny literal parser (never evaluated); every length, the dtype, the
 * shape and the data length are validated, and problems are ModelFormatError naming the file.
 */
import { EdgeqError, ModelFormatError, UnsupportedError } from '../errors.js';
import type { DType } from '../tensor/dtype.js';
import { DTYPES } from '../tensor/dtype.js';
import { MAX_ELEMENTS } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;
/** Headers beyond this are rejected (numpy itself limits to 10000 bytes by default). */
const MAX_HEADER = 1 << 20;

/** numpy descr (kind+size) -> dtype; byte order handled separately */
const DESCR: Record<string, DType> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
  b1: 'bool',
};
const DTYPE_DESCR: Partial<Record<DType, string>> = {
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
  bool: '|b1',
};

type PyVal = string | boolean | number[] | { tuple: true; items: number[] };

/** Parse the header: a Python dict literal with str keys and str / bool / tuple-of-int values. */
function parseHeader(src: string, file: string): Record<string, PyVal> {
  let i = 0;
  const bad = (msg: string): never => {
    throw new ModelFormatError(`${file}: malformed .npy header (${msg} at offset ${i}): ${JSON.stringify(src.slice(0, 200))}`);
  };
  const ws = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const str = (): string => {
    const q = src[i];
    if (q !== "'" && q !== '"') bad('expected a string');
    const end = src.indexOf(q!, i + 1);
    if (end < 0) bad('unterminated string');
    const s = src.slice(i + 1, end);
    if (s.includes('\\')) bad('escapes are not allowed');
    i = end + 1;
    return s;
  };
  const int = (): number => {
    const m = /^[0-9]+L?/.exec(src.slice(i, i + 40));
    if (!m) bad('expected a non-negative integer');
    i += m![0].length;
    const v = Number(m![0].replace('L', ''));
    if (!Number.isSafeInteger(v)) bad(`integer ${m![0]} out of range`);
    return v;
  };
  const value = (): PyVal => {
    ws();
    const c = src[i];
    if (c === "'" || c === '"') return str();
    if (src.startsWith('True', i)) return (i += 4), true;
    if (src.startsWith('False', i)) return (i += 5), false;
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: number[] = [];
      for (;;) {
        ws();
        if (src[i] === close) break;
        items.push(int());
        ws();
        if (src[i] === ',') i++;
        else if (src[i] !== close) bad(`expected ',' or '${close}'`);
      }
      i++;
      return c === '(' ? { tuple: true, items } : items;
    }
    return bad('unsupported value');
  };
  const out: Record<string, PyVal> = {};
  ws();
  if (src[i] !== '{') bad("expected '{'");
  i++;
  for (;;) {
    ws();
    if (src[i] === '}') break;
    const k = str();
    ws();
    if (src[i] !== ':') bad("expected ':'");
    i++;
    if (Object.prototype.hasOwnProperty.call(out, k)) bad(`duplicate key '${k}'`);
    out[k] = value();
    ws();
    if (src[i] === ',') i++;
    else if (src[i] !== '}') bad("expected ',' or '}'");
  }
  i++;
  ws();
  if (i !== src.length) bad('trailing characters');
  return out;
}

/** Decode a .npy file. `name` (the file path) appears in every error message. */
export function readNpy(bytes: Uint8Array, name = 'array.npy'): Tensor {
  try {
    return readNpyInner(bytes, name);
  } catch (e) {
    if (e instanceof EdgeqError) throw e;
    throw new ModelFormatError(`${name}: malformed .npy file: ${(e as Error).message}`);
  }
}

function readNpyInner(bytes: Uint8Array, file: string): Tensor {
  if (!(bytes instanceof Uint8Array)) throw new ModelFormatError(`${file}: .npy data must be bytes`);
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) throw new ModelFormatError(`${file}: not a .npy file (bad magic)`);
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) throw new UnsupportedError(`${file}: .npy format version ${major}.${minor} is not supported`);
  let hlen: number;
  let off: number;
  if (major === 1) {
    hlen = bytes[8]! | (bytes[9]! << 8);
    off = 10;
  } else {
    if (bytes.length < 12) throw new ModelFormatError(`${file}: truncated .npy header`);
    hlen = (bytes[8]! | (bytes[9]! << 8) | (bytes[10]! << 16)) + bytes[11]! * 0x1000000;
    off = 12;
  }
  if (hlen > MAX_HEADER) throw new ModelFormatError(`${file}: .npy header length ${hlen} exceeds the limit ${MAX_HEADER}`);
  if (off + hlen > bytes.length) throw new ModelFormatError(`${file}: .npy header length ${hlen} runs past the end of the file (${bytes.length} bytes)`);
  const hb = bytes.subarray(off, off + hlen);
  const text = major === 3 ? new TextDecoder('utf-8', { fatal: true }).decode(hb) : String.fromCharCode(...hb);
  const h = parseHeader(text, file);
  for (const k of Object.keys(h))
    if (k !== 'descr' && k !== 'fortran_order' && k !== 'shape') throw new ModelFormatError(`${file}: unexpected key '${k}' in .npy header`);
  const descr = h.descr;
  const fortran = h.fortran_order;
  const shapeV = h.shape;
  if (typeof descr !== 'string') throw new UnsupportedError(`${file}: .npy descr must be a simple type string (structured dtypes are not supported)`);
  if (typeof fortran !== 'boolean') throw new ModelFormatError(`${file}: .npy header needs 'fortran_order': True/False`);
  if (!shapeV || typeof shapeV !== 'object' || !('tuple' in shapeV)) throw new ModelFormatError(`${file}: .npy header needs 'shape' as a tuple`);
  if (fortran) throw new UnsupportedError(`${file}: Fortran-order .npy arrays are not supported (save with C order)`);
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  const dtype = m ? DESCR[m[2]! + m[3]!] : undefined;
  if (!m || !dtype) throw new UnsupportedError(`${file}: .npy dtype '${descr}' is not supported`);
  const order = m[1]!;
  const bpe = DTYPES[dtype].bytes;
  if (order === '|' && bpe !== 1) throw new ModelFormatError(`${file}: byte order '|' is invalid for '${descr}'`);
  const bigEndian = order === '>' && bpe > 1;
  const dims = shapeV.items;
  if (dims.length > 64) throw new ModelFormatError(`${file}: .npy shape has rank ${dims.length} (limit 64)`);
  let n = 1;
  for (const d of dims) {
    n *= d;
    if (n > MAX_ELEMENTS) throw new ModelFormatError(`${file}: .npy shape (${dims.join(', ')}) has more than ${MAX_ELEMENTS} elements`);
  }
  const dataOff = off + hlen;
  const need = n * bpe;
  const have = bytes.length - dataOff;
  if (have !== need)
    throw new ModelFormatError(`${file}: .npy data holds ${have} bytes but shape (${dims.join(', ')}) of ${descr} needs ${need}`);
  const copy = new Uint8Array(need);
  copy.set(bytes.subarray(dataOff, dataOff + need));
  if (bigEndian) {
    for (let i = 0; i < need; i += bpe) copy.subarray(i, i + bpe).reverse();
  }
  const data = new DTYPES[dtype].array!(copy.buffer, 0, n);
  if (dtype === 'bool') for (let i = 0; i < n; i++) (data as Uint8Array)[i] = data[i] ? 1 : 0;
  return new Tensor(dtype, data as never, dims);
}

/** The exact header numpy.save writes for (descr, shape) (including its growth-axis padding). */
function headerFor(descr: string, dims: readonly number[]): Uint8Array {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  if (dims.length > 0) h += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(dims[0]).length));
  let version = 1;
  let pre = 10;
  let pad = ARRAY_ALIGN - ((pre + h.length + 1) % ARRAY_ALIGN);
  if (h.length + pad + 1 > 65535) {
    version = 2;
    pre = 12;
    pad = ARRAY_ALIGN - ((pre + h.length + 1) % ARRAY_ALIGN);
  }
  if (pad === ARRAY_ALIGN) pad = 0;
  h += ' '.repeat(pad) + '\n';
  const out = new Uint8Array(pre + h.length);
  out.set(MAGIC);
  out[6] = version;
  out[7] = 0;
  const len = h.length;
  out[8] = len & 0xff;
  out[9] = (len >>> 8) & 0xff;
  if (version === 2) {
    out[10] = (len >>> 16) & 0xff;
    out[11] = (len >>> 24) & 0xff;
  }
  for (let i = 0; i < len; i++) out[pre + i] = h.charCodeAt(i);
  return out;
}

/** Encode a tensor as a C-order little-endian .npy file (format 1.0, or 2.0 for huge headers). */
export function writeNpy(t: Tensor): Uint8Array {
  const descr = DTYPE_DESCR[t.type];
  if (!descr) throw new UnsupportedError(`cannot write a ${t.type} tensor as .npy`);
  const head = headerFor(descr, t.dims);
  const src = t.typed;
  const body = new Uint8Array(src.buffer, src.byteOffset, t.byteLength);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  if (t.type === 'bool') for (let i = head.length; i < out.length; i++) out[i] = out[i] ? 1 : 0;
  return out;
}
