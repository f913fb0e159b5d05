import { InputError, ModelFormatError, UnsupportedError } from '../../errors.js';
import { DTYPES, type DType, packedPerByte } from '../../tensor/dtype.js';
import { MAX_ELEMENTS } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';

// The codes live in tensor/ so that ops (which must not import a file format) can name them too.
export { DTYPE_ONNX, ONNX_DTYPE } from '../../tensor/onnx-dtype.js';
import { ONNX_DTYPE } from '../../tensor/onnx-dtype.js';

/**
 * An int64 protobuf field as a JS number. protobufjs yields number or Long; values beyond 2^53 are only
 * allowed where `clamp` (attributes such as Slice's INT64_MAX ends), where they saturate.
 */
export function int(v: unknown, what: string, clamp = false): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean };
    const n = l.high * 4294967296 + (l.low >>> 0);
    if (!Number.isSafeInteger(n) && !clamp) throw new ModelFormatError(`${what}: integer ${n} out of range`);
    return n;
  }
  if (v === undefined || v === null) return 0;
  throw new ModelFormatError(`${what}: expected an integer`);
}

function big(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(v);
  const l = v as { low: number; high: number };
  return (BigInt(l.high) << 32n) | BigInt(l.low >>> 0);
}

/**
 * Where EXTERNAL tensor bytes come from (ONNX external data: TensorProto.external_data keys location / offset /
 * length). `file(location)` returns the whole file named by a validated, relative location.
 */
export interface ExternalDataSource {
  file(location: string, tensor: string): Uint8Array;
}

/** The browser form (onnxruntime-web's option name): `[{ path, data }]`, matched on the normalized path. */
export type ExternalDataEntries = readonly { path: string; data: Uint8Array | ArrayBuffer }[];

/** 4 GiB: a single wasm32 linear memory cannot hold more. */
export const WASM_MEMORY_LIMIT = 2 ** 32;

let external: ExternalDataSource | undefined;

/** Decode with `src` resolving external data (synchronous, so a module-level slot is safe). */
export function withExternalData<T>(src: ExternalDataSource | undefined, fn: () => T): T {
  const prev = external;
  external = src;
  try {
    return fn();
  } finally {
    external = prev;
  }
}

let owned: ArrayBufferLike | undefined;

/**
 * Decode with the bytes of `buf` handed over to the graph (a decrypted sealed model nobody else holds): raw_data
 * lying in it at an offset aligned for its type is aliased instead of copied.
 */
export function withOwnedBytes<T>(buf: ArrayBufferLike | undefined, fn: () => T, pre?: Map<number, Uint8Array>): T {
  const prev = [owned, prefilled] as const;
  owned = buf;
  prefilled = pre;
  try {
    return fn();
  } finally {
    [owned, prefilled] = prev;
  }
}

/**
 * With owned bytes that are a sealed model's skeleton (formats/sealed-scatter.ts): the one-byte raw_data at each of
 * these offsets stands for the tensor bytes mapped to it, decrypted straight into a buffer of their own (handed over).
 */
let prefilled: Map<number, Uint8Array> | undefined;

/**
 * Where an owned raw_data can be viewed as an aligned typed array without a copy: its own offset when aligned,
 * else (after moving it down in place) the aligned offset at most `k` bytes lower, where k is the size of its
 * own field tag and length varint, which sit right before it and are no part of any value once parsed. -1 when
 * neither works (then it is copied). Moving within memory already touched costs a memmove instead of fresh pages.
 */
function alignInPlace(raw: Uint8Array, size: number): number {
  const o = raw.byteOffset;
  const shift = o % size;
  if (shift === 0) return o;
  const len = raw.length;
  // the framing before the bytes: tag of TensorProto.raw_data (field 9, length-delimited: 0x4a), then varint(len)
  let varint = 1;
  for (let v = len; v >= 128; v = Math.floor(v / 128)) varint++;
  const framing = 1 + varint;
  if (shift > framing || o < framing) return -1;
  const all = new Uint8Array(raw.buffer, 0, o);
  if (all[o - framing] !== 0x4a) return -1;
  let v = 0;
  let mul = 1;
  for (let i = o - varint; i < o; i++, mul *= 128) {
    if ((all[i]! >= 128) !== i < o - 1) return -1;
    v += (all[i]! & 127) * mul;
  }
  if (v !== len) return -1;
  new Uint8Array(raw.buffer).copyWithin(o - shift, o, o + len);
  return o - shift;
}

/**
 * Validate an external-data location (untrusted input): relative, '/'-separated, no '..' segment, no drive or
 * scheme, so it can never name a file outside the model's folder. Returns it without './' segments.
 */
export function checkLocation(loc: string, tensor: string): string {
  if (typeof loc !== 'string' || !loc || loc.includes('\0') || loc.includes('\\') || loc.startsWith('/') || /^[a-zA-Z]:/.test(loc) || /^[a-z]+:\/\//i.test(loc))
    throw new ModelFormatError(`tensor ${tensor}: external data location '${loc}' must be a relative path inside the model's folder`);
  const parts = loc.split('/').filter((x) => x !== '' && x !== '.');
  if (!parts.length || parts.some((x) => x === '..')) throw new ModelFormatError(`tensor ${tensor}: external data location '${loc}' escapes the model's folder`);
  return parts.join('/');
}

export function entriesSource(entries: ExternalDataEntries): ExternalDataSource {
  const m = new Map<string, Uint8Array>();
  for (const e of entries) {
    if (!e || typeof e.path !== 'string' || !(e.data instanceof Uint8Array || e.data instanceof ArrayBuffer)) throw new InputError('externalData entries must be { path: string, data: Uint8Array | ArrayBuffer }');
    m.set(checkLocation(e.path, `'${e.path}'`), e.data instanceof Uint8Array ? e.data : new Uint8Array(e.data));
  }
  return {
    file(location, tensor) {
      const d = m.get(location);
      if (!d) throw new ModelFormatError(`tensor ${tensor}: external data file '${location}' was not given (externalData has ${[...m.keys()].map((k) => `'${k}'`).join(', ') || 'no entries'})`);
      return d;
    },
  };
}

function externalBytes(tp: any, name: string): Uint8Array {
  const kv = new Map<string, string>();
  for (const e of tp.external_data ?? []) kv.set(String(e.key ?? ''), String(e.value ?? ''));
  const loc = kv.get('location');
  if (loc === undefined) throw new ModelFormatError(`tensor ${name}: external data without a location`);
  const location = checkLocation(loc, name);
  if (!external) throw new UnsupportedError(`tensor ${name}: external data in '${location}' was not provided: load the model from a path (Node) or pass { externalData: [{ path: '${location}', data }] }`);
  const num = (k: string): number | undefined => {
    const v = kv.get(k);
    if (v === undefined) return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) throw new ModelFormatError(`tensor ${name}: external data ${k} '${v}' is not a non-negative integer`);
    return n;
  };
  const offset = num('offset') ?? 0;
  const file = external.file(location, name);
  const length = num('length') ?? file.length - offset;
  if (length >= WASM_MEMORY_LIMIT) throw new ModelFormatError(`tensor ${name}: ${length} bytes of external data exceed the 4 GiB WASM memory limit`);
  if (offset > file.length || length < 0 || offset + length > file.length) throw new ModelFormatError(`tensor ${name}: external data [${offset}, ${offset + length}) lies outside '${location}' (${file.length} bytes)`);
  return file.subarray(offset, offset + length);
}

/** Decode a TensorProto (raw_data or typed fields), validating dims and lengths before allocating. */
export function decodeTensor(tp: any, what: string): Tensor {
  const name = tp.name ? `'${tp.name}'` : what;
  if (tp.data_location === 1 || (tp.external_data ?? []).length) tp = { ...tp, raw_data: externalBytes(tp, name), data_location: 0, external_data: [] };
  if (tp.segment) throw new UnsupportedError(`tensor ${name}: segmented tensors are not supported`);
  const dtype = ONNX_DTYPE[tp.data_type ?? 0];
  if (!dtype) throw new UnsupportedError(`tensor ${name}: data type ${tp.data_type} is not supported`);
  const dims: number[] = (tp.dims ?? []).map((d: unknown) => int(d, `tensor ${name} dims`));
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ModelFormatError(`tensor ${name}: invalid dimension ${d} in [${dims.join(',')}]`);
    n *= d;
  }
  if (n > MAX_ELEMENTS) throw new ModelFormatError(`tensor ${name}: [${dims.join(',')}] has ${n} elements (limit ${MAX_ELEMENTS})`);
  const info = DTYPES[dtype];
  let raw: Uint8Array | undefined = tp.raw_data && tp.raw_data.length ? tp.raw_data : undefined;
  // a sealed model's weight decrypted into its own buffer (see withOwnedBytes): ours to alias, aligned at its start
  const pre = raw && prefilled && raw.length === 1 && raw.buffer === owned ? prefilled.get(raw.byteOffset) : undefined;
  if (pre) raw = tp.raw_data = pre;
  const mismatch = (got: number, field: string) =>
    new ModelFormatError(`tensor ${name}: ${field} holds ${got} elements but dims [${dims.join(',')}] need ${n} (${dtype})`);
  if (dtype === 'string') {
    const sd = tp.string_data ?? [];
    if (sd.length !== n) throw mismatch(sd.length, 'string_data');
    const dec = new TextDecoder();
    return new Tensor('string', sd.map((b: Uint8Array) => dec.decode(b)), dims);
  }
  if (packedPerByte(dtype)) return decodePacked(tp, dtype, dims, n, name, raw);
  const Ctor = info.array!;
  if (raw) {
    if (raw.length !== n * info.bytes) throw new ModelFormatError(`tensor ${name}: raw_data has ${raw.length} bytes but dims [${dims.join(',')}] of ${dtype} need ${n * info.bytes}`);
    // copy into an aligned buffer (protobuf sub-arrays are not aligned) unless the bytes are handed over and this
    // one is aligned; little-endian as ONNX specifies
    let data;
    const at = pre ? pre.byteOffset : owned !== undefined && raw.buffer === owned ? alignInPlace(raw, info.bytes) : -1;
    if (at >= 0) {
      data = new Ctor(raw.buffer as ArrayBuffer, at, n);
      // the bytes may have moved: a second decode of this TensorProto must find them
      tp.raw_data = new Uint8Array(raw.buffer, at, raw.length);
    }
    else {
      const copy = new Uint8Array(raw.length);
      copy.set(raw);
      data = new Ctor(copy.buffer, 0, n);
    }
    if (dtype === 'bool') for (let i = 0; i < n; i++) (data as Uint8Array)[i] = data[i] ? 1 : 0;
    return new Tensor(dtype, data as never, dims);
  }
  const data = new Ctor(n);
  const fill = (src: ArrayLike<unknown> | undefined, field: string, conv: (v: any) => any) => {
    const len = src?.length ?? 0;
    if (len !== n) throw mismatch(len, field);
    for (let i = 0; i < n; i++) (data as any)[i] = conv(src![i]);
  };
  switch (dtype) {
    case 'float32':
      fill(tp.float_data, 'float_data', Number);
      break;
    case 'float64':
      fill(tp.double_data, 'double_data', Number);
      break;
    case 'int64':
      fill(tp.int64_data, 'int64_data', big);
      break;
    case 'uint64':
      fill(tp.uint64_data, 'uint64_data', (v) => BigInt.asUintN(64, big(v)));
      break;
    case 'uint32':
      fill(tp.uint64_data, 'uint64_data', (v) => Number(BigInt.asUintN(32, big(v))));
      break;
    case 'bool':
      fill(tp.int32_data, 'int32_data', (v) => (v ? 1 : 0));
      break;
    default:
      // int8/uint8/int16/uint16/int32/float16/bfloat16/float8 live in int32_data (the float types as raw bits)
      fill(tp.int32_data, 'int32_data', Number);
  }
  return new Tensor(dtype, data as never, dims);
}

/**
 * INT4/UINT4 (onnx.proto): "uint4 and int4 values must be packed to 4bitx2 prior to writing to the buffer,
 * the first element is stored in the 4 LSB and the second element is stored in the 4 MSB." That holds for
 * raw_data (one byte per pair) and int32_data (one packed byte per entry); an odd count leaves the last
 * high nibble as padding. FLOAT4E2M1 packs the same way; INT2/UINT2 pack four per byte, first in the 2 LSB.
 * Unpacked in memory to one value per element (int4/int2 sign-extended, float4e2m1 as its 4-bit code).
 */
function decodePacked(tp: any, dtype: DType, dims: number[], n: number, name: string, raw: Uint8Array | undefined): Tensor {
  const per = packedPerByte(dtype)!;
  const bits = 8 / per;
  const packed = Math.ceil(n / per);
  const src: ArrayLike<number> | undefined = raw ?? tp.int32_data;
  const len = src?.length ?? 0;
  if (len !== packed)
    throw new ModelFormatError(`tensor ${name}: ${raw ? 'raw_data' : 'int32_data'} holds ${len} packed ${dtype} ${raw ? 'bytes' : 'entries'} but dims [${dims.join(',')}] need ${packed} (${n} elements, ${per} per byte)`);
  if (!raw)
    for (let i = 0; i < len; i++) {
      const v = Number(src![i]);
      if (!Number.isInteger(v) || v < 0 || v > 255) throw new ModelFormatError(`tensor ${name}: int32_data[${i}] = ${v} is not a packed ${dtype} byte`);
    }
  const signed = dtype === 'int4' || dtype === 'int2';
  const data = signed ? new Int8Array(n) : new Uint8Array(n);
  const mask = (1 << bits) - 1;
  for (let i = 0; i < n; i++) {
    const v = (Number(src![Math.floor(i / per)]) >> ((i % per) * bits)) & mask;
    data[i] = signed && v >= 1 << (bits - 1) ? v - (1 << bits) : v;
  }
  return new Tensor(dtype, data, dims);
}

/** int4/uint4 two per byte (see packBits). */
export const pack4 = (data: Int8Array | Uint8Array): Uint8Array => packBits(data, 2);

/** Pack sub-byte values (int4/uint4/float4e2m1 two per byte, int2/uint2 four), low bits first; padding 0. */
export function packBits(data: Int8Array | Uint8Array, per: number): Uint8Array {
  const bits = 8 / per;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(Math.ceil(data.length / per));
  for (let i = 0; i < data.length; i++) out[Math.floor(i / per)]! |= (data[i]! & mask) << ((i % per) * bits);
  return out;
}

