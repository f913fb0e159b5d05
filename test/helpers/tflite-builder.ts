// Hand-built .tflite flatbuffers for tests (official table field ids, see schemas/tflite.fbs).
import * as flatbuffers from 'flatbuffers';
import { TFLITE_ENUMS, TFLITE_UNIONS } from '../../src/formats/tflite/generated/tflite-schema.js';

/** A builtin-options field: [field id, kind, value]. */
export type OptionField = [id: number, kind: 'i8' | 'i32' | 'bool' | 'f32', value: number] | [id: number, kind: 'str', value: string];

export interface TflSpec {
  /** scale / zp: per tensor; scales / zps: per channel along quantized_dimension qdim */
  tensors: { shape: number[]; type: number; buffer: number; name: string; scale?: number; zp?: number; scales?: number[]; zps?: number[]; qdim?: number; sparsity?: SparsitySpec }[];
  /** buffer 0 is conventionally empty (tensors without data) */
  buffers: Uint8Array[];
  /** builtin op codes, indexed by the operators' `opcode` */
  opcodes: number[];
  /** custom_code of opcode entries (index into `opcodes`) whose code is CUSTOM (32) */
  customCodes?: Record<number, string>;
  /** OperatorCode.version of opcode entries (default 1) */
  opcodeVersions?: Record<number, number>;
  ops: { opcode: number; inputs: number[]; outputs: number[]; options?: { type: number; fields: OptionField[] }; customOptions?: Uint8Array }[];
  inputs: number[];
  outputs: number[];
  /** subgraphs 1.. (sharing buffers and opcodes with the main one) */
  subgraphs?: Pick<TflSpec, 'tensors' | 'ops' | 'inputs' | 'outputs'>[];
}

/** SparsityParameters: index vectors as [SparseIndexVector type (1 Int32Vector, 2 Uint16Vector, 3 Uint8Vector), values]. */
export interface SparsitySpec {
  traversalOrder: number[];
  blockMap: number[];
  dims: { format: 0 | 1; denseSize?: number; segments?: [1 | 2 | 3, number[]]; indices?: [1 | 2 | 3, number[]] }[];
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
  const indexVector = ([type, v]: [1 | 2 | 3, number[]]) => {
    const size = type === 1 ? 4 : type === 2 ? 2 : 1;
    b.startVector(size, v.length, size);
    for (let i = v.length - 1; i >= 0; i--) (type === 1 ? b.addInt32(v[i]!) : type === 2 ? b.addInt16(v[i]!) : b.addInt8(v[i]!));
    const vec = b.endVector();
    b.startObject(1);
    b.addFieldOffset(0, vec, 0);
    return b.endObject();
  };
  const sparsity = (sp: SparsitySpec) => {
    const dims = sp.dims.map((d) => {
      const seg = d.segments ? indexVector(d.segments) : 0;
      const idx = d.indices ? indexVector(d.indices) : 0;
      b.startObject(6);
      b.addFieldInt8(0, d.format, -1);
      b.addFieldInt32(1, d.denseSize ?? 0, -1);
      if (d.segments) (b.addFieldInt8(2, d.segments[0], 0), b.addFieldOffset(3, seg, 0));
      if (d.indices) (b.addFieldInt8(4, d.indices[0], 0), b.addFieldOffset(5, idx, 0));
      return b.endObject();
    });
    const to = ints(sp.traversalOrder), bm = ints(sp.blockMap), dm = offs(dims);
    b.startObject(3);
    b.addFieldOffset(0, to, 0);
    b.addFieldOffset(1, bm, 0);
    b.addFieldOffset(2, dm, 0);
    return b.endObject();
  };
  const subgraph = (g: Pick<TflSpec, 'tensors' | 'ops' | 'inputs' | 'outputs'>) => {
    const tensors = g.tensors.map((t) => {
      const sp = t.sparsity ? sparsity(t.sparsity) : 0;
      const name = b.createString(t.name);
      const shape = ints(t.shape);
      let q = 0;
      if (t.scale !== undefined || t.scales) {
        const scales = t.scales ?? [t.scale!];
        const zps = t.zps ?? scales.map(() => t.zp ?? 0);
        b.startVector(4, scales.length, 4);
        for (let i = scales.length - 1; i >= 0; i--) b.addFloat32(scales[i]!);
        const sc = b.endVector();
        b.startVector(8, zps.length, 8);
        for (let i = zps.length - 1; i >= 0; i--) b.addInt64(BigInt(zps[i]!));
        const zp = b.endVector();
        b.startObject(7);
        b.addFieldOffset(2, sc, 0);
        b.addFieldOffset(3, zp, 0);
        if (t.qdim) b.addFieldInt32(6, t.qdim, 0);
        q = b.endObject();
      }
      b.startObject(10);
      b.addFieldOffset(0, shape, 0);
      b.addFieldInt8(1, t.type, -1);
      b.addFieldInt32(2, t.buffer, -1);
      b.addFieldOffset(3, name, 0);
      if (q) b.addFieldOffset(4, q, 0);
      if (sp) b.addFieldOffset(6, sp, 0);
      return b.endObject();
    });
    const ops = g.ops.map((o) => {
      let opts = 0;
      if (o.options) {
        const strs = o.options.fields.map((f) => (f[1] === 'str' ? b.createString(f[2]) : 0));
        b.startObject(Math.max(0, ...o.options.fields.map((f) => f[0] + 1)));
        o.options.fields.forEach((f, k) => {
          const [id, kind, v] = f;
          if (kind === 'str') b.addFieldOffset(id, strs[k]!, 0);
          else if (kind === 'i8' || kind === 'bool') b.addFieldInt8(id, v, -1);
          // the default argument only decides whether flatbuffers writes the field: one the value never equals
          else if (kind === 'i32') b.addFieldInt32(id, v, v === -1 ? 0 : -1);
          else b.addFieldFloat32(id, v, -1);
        });
        opts = b.endObject();
      }
      let co = 0;
      if (o.customOptions) {
        b.startVector(1, o.customOptions.length, 1);
        for (let k = o.customOptions.length - 1; k >= 0; k--) b.addInt8(o.customOptions[k]!);
        co = b.endVector();
      }
      const i = ints(o.inputs);
      const out = ints(o.outputs);
      b.startObject(13);
      if (co) b.addFieldOffset(5, co, 0);
      b.addFieldInt32(0, o.opcode, -1);
      b.addFieldOffset(1, i, 0);
      b.addFieldOffset(2, out, 0);
      if (o.options) {
        b.addFieldInt8(3, o.options.type, 0);
        b.addFieldOffset(4, opts, 0);
      }
      return b.endObject();
    });
    const tv = offs(tensors), iv = ints(g.inputs), ov = ints(g.outputs), opv = offs(ops);
    b.startObject(5);
    b.addFieldOffset(0, tv, 0);
    b.addFieldOffset(1, iv, 0);
    b.addFieldOffset(2, ov, 0);
    b.addFieldOffset(3, opv, 0);
    return b.endObject();
  };
  const codes = s.opcodes.map((c, k) => {
    const custom = s.customCodes?.[k] !== undefined ? b.createString(s.customCodes[k]!) : 0;
    b.startObject(4);
    if (custom) b.addFieldOffset(1, custom, 0);
    b.addFieldInt8(0, Math.min(c, 127), -1);
    b.addFieldInt32(2, s.opcodeVersions?.[k] ?? 1, 0);
    b.addFieldInt32(3, c, -1);
    return b.endObject();
  });
  const sgs = [s, ...(s.subgraphs ?? [])].map(subgraph);
  const sgv = offs(sgs), cv = offs(codes), bv = offs(bufs);
  b.startObject(8);
  b.addFieldInt32(0, 3, -1);
  b.addFieldOffset(1, cv, 0);
  b.addFieldOffset(2, sgv, 0);
  b.addFieldOffset(4, bv, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array().slice();
}

export interface OneOpTensor {
  shape: number[];
  type?: number; // TensorType, float32 by default
  data?: Float32Array | Int32Array | Uint16Array | Int8Array | Uint8Array | BigInt64Array;
  q?: [scale: number, zeroPoint: number];
}
export interface OneOpSpec {
  tensors: OneOpTensor[];
  opcode: number;
  options?: { type: number; fields: OptionField[] };
  inputs: number[];
  outputs: number[];
}

/** One-operator model: tensors with data are constants (one buffer each); the others are graph inputs/outputs. */
export function oneOpTflite(s: OneOpSpec): Uint8Array {
  let nb = 0;
  const dataTensors = s.tensors.filter((t) => t.data);
  return buildTflite({
    tensors: s.tensors.map((t, k) => ({ shape: t.shape, type: t.type ?? 0, buffer: t.data ? ++nb : 0, name: `t${k}`, ...(t.q ? { scale: t.q[0], zp: t.q[1] } : {}) })),
    buffers: [new Uint8Array(0), ...dataTensors.map((t) => new Uint8Array(t.data!.buffer, t.data!.byteOffset, t.data!.byteLength))],
    opcodes: [s.opcode],
    ops: [{ opcode: 0, inputs: s.inputs, outputs: s.outputs, ...(s.options ? { options: s.options } : {}) }],
    inputs: s.tensors.flatMap((t, k) => (t.data ? [] : [k])).filter((k) => !s.outputs.includes(k)),
    outputs: s.outputs,
  });
}

const OP = TFLITE_ENUMS.BuiltinOperator;
const OPT = TFLITE_UNIONS.BuiltinOptions;
const F32 = 0, I32 = 2, BOOL = 6;

/**
 * WHILE(i, x) (while.cc): cond subgraph `i < n`, body subgraph `(i + 1, grow ? concat(x, x) : x · 2)`; the loop
 * variables' last values are the outputs. i: int32 scalar, x: float32 [2]; with `grow` x's shape doubles every
 * iteration (TFLite resizes the body's tensors as it goes).
 */
export function whileModel(o: { n: number; grow?: boolean; cond?: number; body?: number }): Uint8Array {
  const i32 = (v: number[]) => new Uint8Array(Int32Array.from(v).buffer);
  return buildTflite({
    tensors: [
      { shape: [], type: I32, buffer: 0, name: 'i' },
      { shape: [2], type: F32, buffer: 0, name: 'x' },
      { shape: [], type: I32, buffer: 0, name: 'i_out' },
      { shape: [2], type: F32, buffer: 0, name: 'x_out' },
    ],
    buffers: [new Uint8Array(0), i32([o.n]), i32([1]), new Uint8Array(Float32Array.of(2).buffer)],
    opcodes: [OP.WHILE, OP.LESS, OP.ADD, OP.MUL, OP.CONCATENATION],
    ops: [{ opcode: 0, inputs: [0, 1], outputs: [2, 3], options: { type: OPT.WhileOptions, fields: [[0, 'i32', o.cond ?? 1], [1, 'i32', o.body ?? 2]] } }],
    inputs: [0, 1],
    outputs: [2, 3],
    subgraphs: [
      {
        // cond: i < n
        tensors: [
          { shape: [], type: I32, buffer: 0, name: 'i' },
          { shape: [2], type: F32, buffer: 0, name: 'x' },
          { shape: [], type: I32, buffer: 1, name: 'n' },
          { shape: [], type: BOOL, buffer: 0, name: 'go' },
        ],
        ops: [{ opcode: 1, inputs: [0, 2], outputs: [3] }],
        inputs: [0, 1],
        outputs: [3],
      },
      {
        // body: i + 1, and x · 2 or concat(x, x)
        tensors: [
          { shape: [], type: I32, buffer: 0, name: 'i' },
          { shape: [2], type: F32, buffer: 0, name: 'x' },
          { shape: [], type: I32, buffer: 2, name: 'one' },
          { shape: [], type: F32, buffer: 3, name: 'two' },
          { shape: [], type: I32, buffer: 0, name: 'i1' },
          { shape: [o.grow ? 4 : 2], type: F32, buffer: 0, name: 'x1' },
        ],
        ops: [
          { opcode: 2, inputs: [0, 2], outputs: [4] },
          o.grow ? { opcode: 4, inputs: [1, 1], outputs: [5], options: { type: OPT.ConcatenationOptions, fields: [[0, 'i32', 0]] } } : { opcode: 3, inputs: [1, 3], outputs: [5] },
        ],
        inputs: [0, 1],
        outputs: [4, 5],
      },
    ],
  });
}


