// Untrusted .tflite bytes: whatever they hold, edgeq answers with a typed EdgeqError (ModelFormatError for
// broken flatbuffers, naming the tensor/operator) or a correct run — never a RangeError or a hang.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EdgeqError, ModelFormatError, UnsupportedOpError } from '../../../src/errors.js';
import { detectFormat, readModel } from '../../../src/formats/detect.js';
import { Interpreter } from '../../../src/runtime/interpreter.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { dataPath, hasData } from '../../helpers/data.js';
import { type TflSpec, buildTflite } from '../../helpers/tflite-builder.js';

type Spec = TflSpec;
const build = buildTflite;

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
    s.opcodes = [160];
    expect(() => readModel(build(s))).toThrow(UnsupportedOpError);
    expect(() => readModel(build(s))).toThrow(/BITWISE_XOR \(TFLite builtin code 160, subgraph 0 operator 0/);
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
