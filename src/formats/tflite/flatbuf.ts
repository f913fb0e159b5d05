import { ModelFormatError } from '../../errors.js';
import { TFLITE_FIELDS } from './generated/tflite-schema.js';

/**
 * A bounds-checked FlatBuffers table reader for untrusted .tflite bytes. Field ids come from the generated
 * schema module (schemas/tflite.fbs); every offset, vtable and vector length is validated against the
 * buffer and any violation is a ModelFormatError naming what was being read. (The `flatbuffers` runtime's
 * generated accessors do not validate, so they are not used on untrusted input.)
 */
export type TableName = keyof typeof TFLITE_FIELDS;

export class FbBuffer {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  check(pos: number, size: number, what: string): void {
    if (!Number.isInteger(pos) || pos < 0 || size < 0 || pos + size > this.bytes.length)
      throw new ModelFormatError(`${what}: offset ${pos}+${size} outside the ${this.bytes.length}-byte flatbuffer`);
  }
  u8(p: number, w: string): number {
    this.check(p, 1, w);
    return this.view.getUint8(p);
  }
  i8(p: number, w: string): number {
    this.check(p, 1, w);
    return this.view.getInt8(p);
  }
  u16(p: number, w: string): number {
    this.check(p, 2, w);
    return this.view.getUint16(p, true);
  }
  i32(p: number, w: string): number {
    this.check(p, 4, w);
    return this.view.getInt32(p, true);
  }
  u32(p: number, w: string): number {
    this.check(p, 4, w);
    return this.view.getUint32(p, true);
  }
  f32(p: number, w: string): number {
    this.check(p, 4, w);
    return this.view.getFloat32(p, true);
  }
  i64(p: number, w: string): bigint {
    this.check(p, 8, w);
    return this.view.getBigInt64(p, true);
  }
  u64(p: number, w: string): bigint {
    this.check(p, 8, w);
    return this.view.getBigUint64(p, true);
  }
  /** The root table (offset at byte 0). */
  root<T extends TableName>(type: T): Table<T> {
    return new Table(this, this.u32(0, 'root offset'), type, 'model');
  }
}

export class Table<T extends TableName> {
  private readonly vt: number;
  private readonly vtSize: number;
  constructor(
    readonly buf: FbBuffer,
    readonly pos: number,
    readonly type: T,
    readonly what: string,
  ) {
    const soff = buf.i32(pos, `${what}: table`);
    this.vt = pos - soff;
    this.vtSize = buf.u16(this.vt, `${what}: vtable`);
    if (this.vtSize < 4 || this.vtSize % 2) throw new ModelFormatError(`${what}: bad vtable size ${this.vtSize}`);
    buf.check(this.vt, this.vtSize, `${what}: vtable`);
    const tSize = buf.u16(this.vt + 2, `${what}: vtable`);
    buf.check(pos, Math.max(tSize, 4), `${what}: table body`);
  }
  /** The same table read as another schema type (union members arrive untyped). */
  as<U extends TableName>(type: U): Table<U> {
    return new Table(this.buf, this.pos, type, this.what);
  }
  /** Absolute position of field `name`, or 0 when absent. */
  private field(name: keyof (typeof TFLITE_FIELDS)[T] & string): number {
    const id = (TFLITE_FIELDS[this.type] as Record<string, number>)[name]!;
    const o = 4 + 2 * id;
    if (o + 2 > this.vtSize) return 0;
    const off = this.buf.u16(this.vt + o, `${this.what}.${name}`);
    return off ? this.pos + off : 0;
  }
  has(name: keyof (typeof TFLITE_FIELDS)[T] & string): boolean {
    return this.field(name) !== 0;
  }
  int(name: keyof (typeof TFLITE_FIELDS)[T] & string, kind: 'i8' | 'u8' | 'i32' | 'u32', def = 0): number {
    const p = this.field(name);
    return p ? this.buf[kind](p, `${this.what}.${name}`) : def;
  }
  bool(name: keyof (typeof TFLITE_FIELDS)[T] & string, def = false): boolean {
    const p = this.field(name);
    return p ? this.buf.u8(p, `${this.what}.${name}`) !== 0 : def;
  }
  float(name: keyof (typeof TFLITE_FIELDS)[T] & string, def = 0): number {
    const p = this.field(name);
    return p ? this.buf.f32(p, `${this.what}.${name}`) : def;
  }
  u64(name: keyof (typeof TFLITE_FIELDS)[T] & string): bigint {
    const p = this.field(name);
    return p ? this.buf.u64(p, `${this.what}.${name}`) : 0n;
  }
  private deref(name: string, p: number): number {
    const target = p + this.buf.u32(p, `${this.what}.${name}`);
    return target;
  }
  table<U extends TableName>(name: keyof (typeof TFLITE_FIELDS)[T] & string, type: U, what = `${this.what}.${name}`): Table<U> | undefined {
    const p = this.field(name);
    return p ? new Table(this.buf, this.deref(name, p), type, what) : undefined;
  }
  string(name: keyof (typeof TFLITE_FIELDS)[T] & string): string | undefined {
    const p = this.field(name);
    if (!p) return undefined;
    const s = this.deref(name, p);
    const n = this.buf.u32(s, `${this.what}.${name} length`);
    this.buf.check(s + 4, n, `${this.what}.${name}`);
    return utf8.decode(this.buf.bytes.subarray(s + 4, s + 4 + n));
  }
  /** A vector field: start of the elements and the count (elements validated to lie in the buffer). */
  vector(name: keyof (typeof TFLITE_FIELDS)[T] & string, elemSize: number): { start: number; length: number } | undefined {
    const p = this.field(name);
    if (!p) return undefined;
    const v = this.deref(name, p);
    const n = this.buf.u32(v, `${this.what}.${name} length`);
    this.buf.check(v + 4, n * elemSize, `${this.what}.${name} (${n} elements)`);
    return { start: v + 4, length: n };
  }
  ints(name: keyof (typeof TFLITE_FIELDS)[T] & string): number[] | undefined {
    const v = this.vector(name, 4);
    if (!v) return undefined;
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.buf.view.getInt32(v.start + 4 * i, true);
    return out;
  }
  floats(name: keyof (typeof TFLITE_FIELDS)[T] & string): number[] | undefined {
    const v = this.vector(name, 4);
    if (!v) return undefined;
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.buf.view.getFloat32(v.start + 4 * i, true);
    return out;
  }
  longs(name: keyof (typeof TFLITE_FIELDS)[T] & string): bigint[] | undefined {
    const v = this.vector(name, 8);
    if (!v) return undefined;
    const out = new Array<bigint>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.buf.view.getBigInt64(v.start + 8 * i, true);
    return out;
  }
  bytes(name: keyof (typeof TFLITE_FIELDS)[T] & string): Uint8Array | undefined {
    const v = this.vector(name, 1);
    return v ? this.buf.bytes.subarray(v.start, v.start + v.length) : undefined;
  }
  /** Vector of tables: length and a lazy accessor. */
  tables<U extends TableName>(name: keyof (typeof TFLITE_FIELDS)[T] & string, type: U, label: (i: number) => string): { length: number; at(i: number): Table<U> } {
    const v = this.vector(name, 4);
    const buf = this.buf;
    return {
      length: v?.length ?? 0,
      at(i: number): Table<U> {
        const p = v!.start + 4 * i;
        return new Table(buf, p + buf.u32(p, label(i)), type, label(i));
      },
    };
  }
}

const utf8 = new TextDecoder();
