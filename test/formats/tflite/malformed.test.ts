// Untrusted .tflite bytes: whatever they hold, edgeq answers with a typed EdgeqError (ModelFormatError for
// broken flatbuffers, naming the tensor/operator) or a correct run — never a RangeError or a hang.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import * as flatbuffers from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { EdgeqError, ModelFormatError, UnsupportedOpError } from '../../../src/errors.js';
import { detectFormat, readModel } from '../../../src/formats/detect.js';
import { Interpreter } from '../../../src/runtime/interpreter.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { dataPath, hasData } from '../../helpers/data.js';

interface Spec {
  tensors: { shape: number[]; type: number; buffer: number; name: string; scale?: number; zp?: number }[];
  buffers: Uint8Array[];
  opcodes: number[];
  ops: { opcode: number; inputs: number[]; outputs: number[] }[];
  inputs: number[];
  outputs: number[];
}

/** Build a .tflite flatbuffer with the official field ids (see schemas/tflite.fbs). */
function build(s: Spec): Uint8Array {
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
    const data = b.createByteVector(d);
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
    const i = ints(o.inputs);
    const out = ints(o.outputs);
    b.startObject(13);
    b.addFieldInt32(0, o.opcode, -1);
    b.addFieldOffset(1, i, 0);
    b.addFieldOffset(2, out, 0);
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

const F32 = 0;
const bias = new Uint8Array(new Float32Array([0.5, -1]).buffer);
const weights = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
/** x[1,3] → FULLY_CONNECTED(W[2,3], b[2]) → y[1,2] */
const good = (): Spec => ({
  tensors: [
    { shape: [1, 3], type: F32, buffer: 0, name: 'x' },
    { shape: [2, 3], type: F32, buffer: 1, name: 'w' },
    { shape: [2], type: F32, buffer: 2, name: 'b' },
    { shape: [1, 2], type: F32, buffer: 0, name: 'y' },
  ],
  buffers: [new Uint8Array(0), weights, bias],
  opcodes: [9],
  ops: [{ opcode: 0, inputs: [0, 1, 2], outputs: [3] }],
  inputs: [0],
  outputs: [3],
});

async function loadAndRun(bytes: Uint8Array): Promise<'ran' | EdgeqError> {
  try {
    const s = await InferenceSession.create(bytes);
    const feeds: Record<string, Tensor> = {};
    for (const m of s.inputMetadata) {
      const dims = m.shape.map((d) => (typeof d === 'number' ? d : 1));
      if (dims.reduce((a, c) => a * c, 1) > 1 << 18) return 'ran';
      feeds[m.name] = Tensor.zeros(m.type, dims);
    }
    s.runSync(feeds);
    return 'ran';
  } catch (e) {
    if (e instanceof EdgeqError) return e;
    throw new Error(`non-EdgeqError escaped: ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
  }
}

describe('TFLite reader on crafted flatbuffers', () => {
  it('reads a valid hand-built model (FULLY_CONNECTED float)', async () => {
    const bytes = build(good());
    expect(detectFormat(bytes)).toBe('tflite');
    const it = await Interpreter.create(bytes);
    it.allocateTensors();
    it.setTensor(0, [1, 1, 1]);
    it.invoke();
    expect(Array.from(it.getTensor(it.getOutputDetails()[0]!.index).data as Float32Array)).toEqual([6.5, 14]);
    const d = it.getInputDetails()[0]!;
    expect(d).toMatchObject({ name: 'x', index: 0, shape: [1, 3], dtype: 'float32', quantization: [0, 0] });
  });

  const bad = (mut: (s: Spec) => void, re: RegExp) => {
    const s = good();
    mut(s);
    let err: unknown;
    try {
      readModel(build(s));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as Error).message).toMatch(re);
  };

  it('buffer index past the end', () => bad((s) => (s.tensors[1]!.buffer = 9), /tensor 1 \('w'\): buffer index 9 past the end/));
  it('shape/buffer size mismatch', () => bad((s) => (s.tensors[1]!.shape = [3, 3]), /tensor 1 \('w'\): buffer 1 has 24 bytes.*needs 36/));
  it('negative dims', () => bad((s) => (s.tensors[0]!.shape = [1, -3]), /tensor 0 \('x'\): negative dimension -3/));
  it('operator tensor index out of range', () => bad((s) => (s.ops[0]!.inputs = [0, 1, 7]), /operator 0 \(FULLY_CONNECTED\) inputs: tensor index 7 out of range/));
  it('opcode index past the end', () => bad((s) => (s.ops[0]!.opcode = 4), /operator 0: opcode_index 4 past the end/));

  it('dangling operator input and doubly written tensors', () => {
    bad((s) => (s.ops[0]!.inputs = [3, 1, 2]), /operator 0 \(FULLY_CONNECTED\): input tensor 3 \('y'\) has no data, no producer/);
    bad((s) => (s.ops[0]!.outputs = [0]), /output tensor 0 \('x'\) is written twice or is a constant\/graph input/);
  });

  it('unknown op → UnsupportedOpError naming code, name and index', () => {
    const s = good();
    s.opcodes = [150];
    expect(() => readModel(build(s))).toThrow(UnsupportedOpError);
    expect(() => readModel(build(s))).toThrow(/GELU \(TFLite builtin code 150, subgraph 0 operator 0/);
  });

  it('truncated files and out-of-range offsets', () => {
    const bytes = build(good());
    for (let n = 8; n < bytes.length; n += 7) {
      const t = bytes.slice(0, n);
      t[4] = 0x54; // keep TFL3 so the TFLite reader is the one answering
      expect(() => readModel(t), `truncated at ${n}`).toThrow(EdgeqError);
    }
    const root = bytes.slice();
    new DataView(root.buffer).setUint32(0, bytes.length + 100, true);
    expect(() => readModel(root)).toThrow(/model: table: offset \d+\+4 outside the \d+-byte flatbuffer/);
  });

  it('vtable pointing outside the buffer', () => {
    const bytes = build(good());
    const v = new DataView(bytes.buffer);
    const rootPos = v.getUint32(0, true);
    v.setInt32(rootPos, -1_000_000, true);
    expect(() => readModel(bytes)).toThrow(ModelFormatError);
    expect(() => readModel(bytes)).toThrow(/vtable/);
  });

  it('fast-check: bit flips and byte rewrites of a crafted model only raise EdgeqError', async () => {
    const base = build(good());
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (muts) => {
        const b = base.slice();
        for (const [i, v] of muts) if (i < 4 || i >= 8) b[i] = v;
        const r = await loadAndRun(b);
        expect(r === 'ran' || r instanceof EdgeqError).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});

describe.runIf(hasData('tflite/hello_world_int8.tflite'))('fast-check over real .tflite models', () => {
  for (const f of ['hello_world_int8.tflite', 'seanet/add/add0.tflite', 'seanet/transpose_conv/transpose_conv0.tflite', 'micro_speech_quantized.tflite']) {
    it(f, async () => {
      const base = new Uint8Array(readFileSync(dataPath(`tflite/${f}`)));
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
          fc.option(fc.nat(base.length), { nil: undefined }),
          async (muts, cut) => {
            let b = base.slice();
            for (const [i, v] of muts) if (i < 4 || i >= 8) b[i] = v;
            if (cut !== undefined && cut >= 8) b = b.slice(0, cut);
            const r = await loadAndRun(b);
            expect(r === 'ran' || r instanceof EdgeqError).toBe(true);
          },
        ),
        { numRuns: f.startsWith('micro') ? 60 : 200 },
      );
    });
  }
});
