import { InputError } from '../errors.js';
import { DTYPES, type DType, type TensorData, allocData, dtypeOfArray, is4Bit, isDType } from './dtype.js';
import type { QuantParams } from './quant.js';
import { sizeOf } from './shape.js';

type DataInput = TensorData | readonly number[] | readonly bigint[] | readonly boolean[];

/**
 * A dense row-major tensor. Mirrors onnxruntime-web's `Tensor`: `new Tensor(type, data, dims)` or
 * `new Tensor(data, dims)`; fields `type`, `data`, `dims`, `size`. Quantization parameters may ride along.
 */
export class Tensor {
  readonly type: DType;
  readonly data: TensorData;
  readonly dims: readonly number[];
  readonly size: number;
  quant?: QuantParams;
  readonly location = 'cpu' as const;

  constructor(type: DType, data: DataInput, dims?: readonly number[]);
  constructor(data: TensorData, dims?: readonly number[]);
  constructor(a: DType | TensorData, b?: DataInput | readonly number[], c?: readonly number[]) {
    if (trusted) {
      // trustedTensor(): the caller made the data and checked the dims
      this.type = a as DType;
      this.data = b as TensorData;
      this.dims = c!;
      this.size = (b as TensorData).length;
      return;
    }
    let type: DType;
    let data: DataInput;
    let dims: readonly number[] | undefined;
    if (typeof a === 'string') {
      if (!isDType(a)) throw new InputError(`unknown tensor type '${a}'`);
      type = a;
      data = b as DataInput;
      dims = c;
    } else {
      data = a;
      type = dtypeOfArray(a);
      dims = b as readonly number[] | undefined;
    }
    if (data == null) throw new InputError('tensor data missing');
    const len = (data as ArrayLike<unknown>).length;
    dims = dims ?? [len];
    if (!Array.isArray(dims) && !(dims as unknown instanceof Array)) throw new InputError('tensor dims must be an array');
    const size = sizeOf(dims, 'tensor');
    this.type = type;
    this.data = coerce(type, data);
    if (is4Bit(type) || type === 'int2' || type === 'uint2' || type === 'float4e2m1') check4(type, this.data as Int8Array | Uint8Array);
    if (this.data.length !== size) throw new InputError(`tensor of type ${type} with dims [${dims.join(',')}] needs ${size} elements, got ${this.data.length}`);
    // a frozen dims array (another tensor's, or a plan's cached output shape) is shared, not copied
    this.dims = Object.isFrozen(dims) ? dims : Object.freeze([...dims]);
    this.size = size;
  }

  /** A zero-filled tensor. */
  static zeros(type: DType, dims: readonly number[]): Tensor {
    return new Tensor(type, allocData(type, sizeOf(dims)), dims);
  }

  /** Same data, other dims (element count must match). */
  reshape(dims: readonly number[]): Tensor {
    const t = new Tensor(this.type, this.data, dims);
    if (this.quant) t.quant = this.quant;
    return t;
  }

  /** The storage for non-string types. */
  get typed(): Exclude<TensorData, string[]> {
    if (Array.isArray(this.data)) throw new InputError('string tensor has no typed storage');
    return this.data as Exclude<TensorData, string[]>;
  }

  /** Element i as a JS number (bigint converted, bool 0/1). */
  num(i: number): number {
    const v = (this.data as ArrayLike<number | bigint>)[i]!;
    return typeof v === 'bigint' ? Number(v) : (v as number);
  }

  /** All elements as plain numbers (for shape-like tensors). */
  toNumbers(): number[] {
    const out = new Array<number>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.num(i);
    return out;
  }

  /** Bytes of storage (0 for strings). */
  get byteLength(): number {
    return this.size * DTYPES[this.type].bytes;
  }
}

let trusted = false;

/**
 * A Tensor without the constructor's checks, for runtime code handing out data it made itself (a static plan's
 * outputs, every run): `data` an array of `type`'s kind (not a 4/2-bit type), `dims` frozen with product
 * `data.length`. Same object shape as `new Tensor(type, data, dims)`.
 */
export function trustedTensor(type: DType, data: TensorData, dims: readonly number[]): Tensor {
  trusted = true;
  try {
    return new Tensor(type, data, dims);
  } finally {
    trusted = false;
  }
}

/** int4/uint4/int2/uint2 (float4e2m1 codes) are held one per element: reject values outside their range. */
function check4(type: DType, a: Int8Array | Uint8Array): void {
  const { min, max } = type === 'float4e2m1' ? { min: 0, max: 15 } : DTYPES[type];
  for (let i = 0; i < a.length; i++) if (a[i]! < min! || a[i]! > max!) throw new InputError(`${type} tensor element ${i} = ${a[i]} is out of range [${min},${max}]`);
}

function coerce(type: DType, data: DataInput): TensorData {
  const info = DTYPES[type];
  if (type === 'string') {
    if (!Array.isArray(data) || !data.every((s) => typeof s === 'string')) throw new InputError('string tensor needs a string[]');
    return data as string[];
  }
  const Ctor = info.array!;
  if (data instanceof Ctor) return data as TensorData;
  // bool accepts Uint8Array / Int8Array; float16 accepts Uint16Array
  if (type === 'bool' && (data instanceof Uint8Array || data instanceof Int8Array)) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (Array.isArray(data)) {
    const out = new Ctor(data.length);
    const big = type === 'int64' || type === 'uint64';
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (big) (out as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
      else (out as Float32Array)[i] = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
    }
    return out;
  }
  throw new InputError(`tensor of type ${type} needs a ${Ctor.name} (or a plain array), got ${(data as object).constructor?.name}`);
}
