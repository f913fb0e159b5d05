/**
 * Element types. Names follow onnxruntime-web's `Tensor.Type` strings so feeds move over unchanged.
 * int64/uint64 use BigInt64Array/BigUint64Array exactly like onnxruntime-web; float16 is stored as raw
 * IEEE half bits in a Uint16Array.
 */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string'
  | 'int4'
  | 'uint4'
  | 'int2'
  | 'uint2'
  | 'bfloat16'
  | 'float8e4m3fn'
  | 'float8e4m3fnuz'
  | 'float8e5m2'
  | 'float8e5m2fnuz'
  | 'float4e2m1'
  | 'float8e8m0';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type TensorData = TypedArray | string[];

export interface DTypeInfo {
  /** bytes per element (strings: 0, not storable in linear memory) */
  bytes: number;
  /** constructor of the storage array */
  array: { new (n: number): TypedArray; new (buf: ArrayBufferLike, off: number, n: number): TypedArray; BYTES_PER_ELEMENT: number } | null;
  kind: 'float' | 'int' | 'uint' | 'bool' | 'string';
  /** min/max of integer types (as numbers; 64-bit bounds approximate) */
  min?: number;
  max?: number;
}

export const DTYPES: Record<DType, DTypeInfo> = {
  float32: { bytes: 4, array: Float32Array as never, kind: 'float' },
  float64: { bytes: 8, array: Float64Array as never, kind: 'float' },
  float16: { bytes: 2, array: Uint16Array as never, kind: 'float' },
  int8: { bytes: 1, array: Int8Array as never, kind: 'int', min: -128, max: 127 },
  uint8: { bytes: 1, array: Uint8Array as never, kind: 'uint', min: 0, max: 255 },
  int16: { bytes: 2, array: Int16Array as never, kind: 'int', min: -32768, max: 32767 },
  uint16: { bytes: 2, array: Uint16Array as never, kind: 'uint', min: 0, max: 65535 },
  int32: { bytes: 4, array: Int32Array as never, kind: 'int', min: -2147483648, max: 2147483647 },
  uint32: { bytes: 4, array: Uint32Array as never, kind: 'uint', min: 0, max: 4294967295 },
  int64: { bytes: 8, array: BigInt64Array as never, kind: 'int', min: -9223372036854775808, max: 9223372036854775807 },
  uint64: { bytes: 8, array: BigUint64Array as never, kind: 'uint', min: 0, max: 18446744073709551615 },
  bool: { bytes: 1, array: Uint8Array as never, kind: 'bool', min: 0, max: 1 },
  string: { bytes: 0, array: null, kind: 'string' },
  // 4-bit integers: held unpacked in memory (one value per element, range-checked by Tensor); packed two per
  // byte only in files (ONNX INT4/UINT4 raw_data). `bytes` is the in-memory element size.
  int4: { bytes: 1, array: Int8Array as never, kind: 'int', min: -8, max: 7 },
  uint4: { bytes: 1, array: Uint8Array as never, kind: 'uint', min: 0, max: 15 },
  // 2-bit integers (ONNX INT2/UINT2): like the 4-bit ones, unpacked in memory, four per byte in files
  int2: { bytes: 1, array: Int8Array as never, kind: 'int', min: -2, max: 1 },
  uint2: { bytes: 1, array: Uint8Array as never, kind: 'uint', min: 0, max: 3 },
  // narrow floats held as raw codes (tensor/minifloat.ts converts); float4e2m1 is packed two per byte in files
  bfloat16: { bytes: 2, array: Uint16Array as never, kind: 'float' },
  float8e4m3fn: { bytes: 1, array: Uint8Array as never, kind: 'float' },
  float8e4m3fnuz: { bytes: 1, array: Uint8Array as never, kind: 'float' },
  float8e5m2: { bytes: 1, array: Uint8Array as never, kind: 'float' },
  float8e5m2fnuz: { bytes: 1, array: Uint8Array as never, kind: 'float' },
  float4e2m1: { bytes: 1, array: Uint8Array as never, kind: 'float' },
  float8e8m0: { bytes: 1, array: Uint8Array as never, kind: 'float' },
};

/** Elements per byte in ONNX files for the sub-byte types (packed low bits first), else undefined. */
export const packedPerByte = (t: DType): number | undefined => (t === 'int4' || t === 'uint4' || t === 'float4e2m1' ? 2 : t === 'int2' || t === 'uint2' ? 4 : undefined);

/** True for the 4-bit types (packed two per byte in files). */
export const is4Bit = (t: DType): t is 'int4' | 'uint4' => t === 'int4' || t === 'uint4';

export const isFloat = (t: DType): boolean => DTYPES[t].kind === 'float';
export const isInteger = (t: DType): boolean => DTYPES[t].kind === 'int' || DTYPES[t].kind === 'uint';
export const isBig = (t: DType): boolean => t === 'int64' || t === 'uint64';
export const isDType = (t: unknown): t is DType => typeof t === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, t);

/** Allocate zeroed storage for `n` elements of `dtype`. */
export function allocData(dtype: DType, n: number): TensorData {
  const info = DTYPES[dtype];
  if (!info.array) return new Array<string>(n).fill('');
  return new info.array(n);
}

/** The dtype a typed array naturally holds (Uint16Array is ambiguous: reported as uint16). */
export function dtypeOfArray(a: TensorData): DType {
  if (Array.isArray(a)) return 'string';
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof BigInt64Array) return 'int64';
  return 'uint64';
}
