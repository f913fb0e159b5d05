// Hand-built .tflite flatbuffers for tests (official table field ids, see schemas/tflite.fbs).
import * as flatbuffers from 'flatbuffers';

/** A builtin-options field: [field id, kind, value]. */
export type OptionField = [id: number, kind: 'i8' | 'i32' | 'bool' | 'f32', value: number];

export interface TflSpec {
  tensors: { shape: number[]; type: number; buffer: number; name: string; scale?: number; zp?: number }[];
  /** buffer 0 is conventionally empty (tensors without data) */
  buffers: Uint8Array[];
  /** builtin op codes, indexed by the operators' `opcode` */
  opcodes: number[];
  ops: { opcode: number; inputs: number[]; outputs: number[]; options?: { type: number; fields: OptionField[] } }[];
  inputs: number[];
  outputs: number[];
}

/** One subgraph; buffers are 16-byte aligned, as TFLite's converter writes them. */
export function buildTflite(s: TflSpec): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const ints = (v: number[]) => {
    b.startVector(4, v.length, 4);
    for (let i = v.length - 1; i >= 0; i--) b.addInt32(v[i]!);
    return b.endVector();
  };
  const offs = (v: number[]) => {
    b.startVector(4, v.length, 4);
    for (let i = v.length - 1; i >= 0; i--) b.addOffset(v[i]!);
    return b.endVector();
  };
  const bufs = s.buffers.map((d) => {
    b.startVector(1, d.length, 16);
    for (let i = d.length - 1; i >= 0; i--) b.addInt8(d[i]!);
    const data = b.endVector();
    b.startObject(3);
    b.addFieldOffset(0, data, 0);
    return b.endObject();
  });
  const tensors = s.tensors.map((t) => {
    const name = b.createString(t.name);
    const shape = ints(t.shape);
    let q = 0;
    if (t.scale !== undefined) {
      b.startVector(4, 1, 4);
      b.addFloat32(t.scale);
      const sc = b.endVector();
      b.startVector(8, 1, 8);
      b.addInt64(BigInt(t.zp ?? 0));
      const zp = b.endVector();
      b.startObject(7);
      b.addFieldOffset(2, sc, 0);
      b.addFieldOffset(3, zp, 0);
      q = b.endObject();
    }
    b.startObject(10);
    b.addFieldOffset(0, shape, 0);
    b.addFieldInt8(1, t.type, -1);
    b.addFieldInt32(2, t.buffer, -1);
    b.addFieldOffset(3, name, 0);
    if (q) b.addFieldOffset(4, q, 0);
    return b.endObject();
  });
  const ops = s.ops.map((o) => {
    let opts = 0;
    if (o.options) {
      b.startObject(Math.max(0, ...o.options.fields.map((f) => f[0] + 1)));
      for (const [id, kind, v] of o.options.fields) {
        if (kind === 'i8' || kind === 'bool') b.addFieldInt8(id, v, -1);
        else if (kind === 'i32') b.addFieldInt32(id, v, -1);
        else b.addFieldFloat32(id, v, -1);
      }
      opts = b.endObject();
    }
    const i = ints(o.inputs);
    const out = ints(o.outputs);
    b.startObject(13);
    b.addFieldInt32(0, o.opcode, -1);
    b.addFieldOffset(1, i, 0);
    b.addFieldOffset(2, out, 0);
    if (o.options) {
      b.addFieldInt8(3, o.options.type, 0);
      b.addFieldOffset(4, opts, 0);
    }
    return b.endObject();
  });
  const codes = s.opcodes.map((c) => {
    b.startObject(4);
    b.addFieldInt8(0, Math.min(c, 127), -1);
    b.addFieldInt32(2, 1, 0);
    b.addFieldInt32(3, c, -1);
    return b.endObject();
  });
  const tv = offs(tensors), iv = ints(s.inputs), ov = ints(s.outputs), opv = offs(ops);
  b.startObject(5);
  b.addFieldOffset(0, tv, 0);
  b.addFieldOffset(1, iv, 0);
  b.addFieldOffset(2, ov, 0);
  b.addFieldOffset(3, opv, 0);
  const sg = b.endObject();
  const sgv = offs([sg]), cv = offs(codes), bv = offs(bufs);
  b.startObject(8);
  b.addFieldInt32(0, 3, -1);
  b.addFieldOffset(1, cv, 0);
  b.addFieldOffset(2, sgv, 0);
  b.addFieldOffset(4, bv, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array().slice();
}
