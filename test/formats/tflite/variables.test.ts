// TFLite resource variables: CALL_ONCE (init subgraph binding variables to constants), VAR_HANDLE, READ_VARIABLE,
// ASSIGN_VARIABLE, on a hand-built two-subgraph model; checked against the arithmetic and, when Chromium is
// present, against TFLite's own runtime (first invoke: TFLite's variables persist across invokes, edgeq's
// start from their CALL_ONCE values at every run).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError, UnsupportedError } from '../../../src/errors.js';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import '../../../src/ops/index.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { type TflSpec, buildTflite } from '../../helpers/tflite-builder.js';
// @ts-expect-error plain ESM JS without types
import { openTflitePage, tfliteWebAvailable } from '../../../scripts/tflite-web.mjs';

const F32 = 0, RESOURCE = 13;
const f32 = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
// builtin codes and BuiltinOptions union values (schema.fbs)
const [ADD, MUL, CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE] = [0, 18, 129, 142, 143, 144];
const [CallOnceOptions, VarHandleOptions] = [103, 111];

/**
 * main: CALL_ONCE(init = 1); h = VAR_HANDLE('acc'); v = READ(h); y = x + v; ASSIGN(h, y); z = READ(h); out = z · x
 * init (subgraph 1): h = VAR_HANDLE('acc'); ASSIGN(h, c = [0.5, -1, 2])
 */
function model(initSubgraph = 1, initOps?: TflSpec['ops']): Uint8Array {
  const handle = (name: string) => ({ type: VarHandleOptions, fields: [[0, 'str', ''], [1, 'str', name]] as TflSpec['ops'][number]['options'] extends infer O ? (O extends { fields: infer F } ? F : never) : never });
  return buildTflite({
    tensors: [
      { shape: [3], type: F32, buffer: 0, name: 'x' },
      { shape: [], type: RESOURCE, buffer: 0, name: 'h' },
      { shape: [3], type: F32, buffer: 0, name: 'v' },
      { shape: [3], type: F32, buffer: 0, name: 'y' },
      { shape: [3], type: F32, buffer: 0, name: 'z' },
      { shape: [3], type: F32, buffer: 0, name: 'out' },
    ],
    buffers: [new Uint8Array(0), f32([0.5, -1, 2])],
    opcodes: [ADD, MUL, CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE],
    ops: [
      { opcode: 2, inputs: [], outputs: [], options: { type: CallOnceOptions, fields: [[0, 'i32', initSubgraph]] } },
      { opcode: 3, inputs: [], outputs: [1], options: handle('acc') },
      { opcode: 4, inputs: [1], outputs: [2] },
      { opcode: 0, inputs: [0, 2], outputs: [3], options: { type: 11, fields: [[0, 'i8', 0]] } },
      { opcode: 5, inputs: [1, 3], outputs: [] },
      { opcode: 4, inputs: [1], outputs: [4] },
      { opcode: 1, inputs: [4, 0], outputs: [5], options: { type: 21, fields: [[0, 'i8', 0]] } },
    ],
    inputs: [0],
    outputs: [3, 5],
    subgraphs: [
      {
        tensors: [
          { shape: [], type: RESOURCE, buffer: 0, name: 'h' },
          { shape: [3], type: F32, buffer: 1, name: 'c' },
        ],
        ops: initOps ?? [
          { opcode: 3, inputs: [], outputs: [0], options: handle('acc') },
          { opcode: 5, inputs: [0, 1], outputs: [] },
        ],
        inputs: [],
        outputs: [],
      },
    ],
  });
}

const x = [1, 2, 3];
// y = x + c; the variable then holds y, so out = y · x
const y = x.map((v, i) => v + [0.5, -1, 2][i]!);
const out = y.map((v, i) => v * x[i]!);

describe('TFLite resource variables', () => {
  it('CALL_ONCE initialises the variable; READ sees the latest ASSIGN (arithmetic)', async () => {
    const s = await InferenceSession.create(model());
    for (let k = 0; k < 2; k++) {
      const r = await s.run({ x: new Tensor('float32', Float32Array.from(x), [3]) });
      expect(Array.from(r.y!.data as Float32Array)).toEqual(y);
      expect(Array.from(r.out!.data as Float32Array)).toEqual(out);
    }
  });

  it('typed errors: a bad init subgraph index, a non-constant init, a read before any value', () => {
    expect(() => readTflite(model(5))).toThrow(ModelFormatError);
    expect(() => readTflite(model(0))).toThrow(/init_subgraph_index 0/);
    expect(() => readTflite(model(1, [{ opcode: 0, inputs: [1, 1], outputs: [1] }]))).toThrow(UnsupportedError);
    expect(() => readTflite(model(1, []))).toThrow(/read before any CALL_ONCE or ASSIGN_VARIABLE/);
  });

  const avail = tfliteWebAvailable();
  describe.runIf(avail.ok)("vs TFLite's runtime (first invoke)", () => {
    let page: Awaited<ReturnType<typeof openTflitePage>>;
    beforeAll(async () => {
      page = await openTflitePage();
    }, 60_000);
    afterAll(async () => page?.close());
    it('same outputs as TFLite', async () => {
      const bytes = model();
      const r = await page.runTflite(bytes, [{ data: Float32Array.from(x), dims: [3] }], { runs: 0, warmup: 0 });
      const s = await InferenceSession.create(bytes);
      const e = await s.run({ x: new Tensor('float32', Float32Array.from(x), [3]) });
      expect(Array.from(r.outputs[0].data)).toEqual(Array.from(e.y!.data as Float32Array));
      expect(Array.from(r.outputs[1].data)).toEqual(Array.from(e.out!.data as Float32Array));
    }, 120_000);
  });
});
