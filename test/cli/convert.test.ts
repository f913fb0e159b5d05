// `edgeq convert`: ONNX → TFLite (float, int8, fp16) and back, through the CLI entry point.
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseTflite } from '../../src/formats/tflite/model.js';
import { dataPath, hasData } from '../helpers/data.js';

const cli = async (...argv: string[]) => {
  const o = { out: '', err: '' };
  const code = await main(argv, { out: (s) => void (o.out += s), err: (s) => void (o.err += s) });
  return { code, ...o };
};
const dir = mkdtempSync(join(tmpdir(), 'edgeq-convert-'));

describe.runIf(hasData('mnist/lenet.onnx'))('edgeq convert', () => {
  const lenet = dataPath('mnist/lenet.onnx');
  it('ONNX → TFLite float, --json summary', async () => {
    const out = join(dir, 'lenet.tflite');
    const r = await cli('convert', lenet, out, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ outFormat: 'tflite', int8: false, nhwcInputs: ['input'] });
    expect(j.outBytes).toBe(statSync(out).size);
    expect(parseTflite(new Uint8Array(readFileSync(out))).operators.map((o) => o.opName)).toContain('CONV_2D');
  });
  it('--int8 --calib: int8 file about 28 % of the float one; --fp16 about half', async () => {
    const r = await cli('convert', lenet, join(dir, 'lenet-int8.tflite'), '--int8', '--calib', dataPath('mnist/x_calib.npy'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/tflite int8/);
    const r2 = await cli('convert', lenet, join(dir, 'lenet-fp16.tflite'), '--fp16');
    expect(r2.code).toBe(0);
    const f32 = statSync(join(dir, 'lenet.tflite')).size;
    expect(statSync(join(dir, 'lenet-int8.tflite')).size / f32).toBeLessThan(0.3);
    expect(statSync(join(dir, 'lenet-fp16.tflite')).size / f32).toBeLessThan(0.52);
    const m = parseTflite(new Uint8Array(readFileSync(join(dir, 'lenet-int8.tflite'))));
    expect(m.tensors[m.inputs[0]!]!.type).toBe(0); // float input behind QUANTIZE
  });
  it('TFLite → ONNX loads in onnxruntime-node', async () => {
    const out = join(dir, 'lenet-back.onnx');
    const r = await cli('convert', join(dir, 'lenet.tflite'), out);
    expect(r.code).toBe(0);
    const s = await ort.InferenceSession.create(out);
    const y = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(784), [1, 28, 28, 1]) });
    expect(y[s.outputNames[0]!]!.dims).toEqual([1, 10]);
  });
  it('usage errors', async () => {
    expect((await cli('convert', lenet)).code).toBe(2);
    expect((await cli('convert', lenet, join(dir, 'x.pb'))).code).toBe(2);
    expect((await cli('convert', lenet, join(dir, 'x.tflite'), '--int8')).code).toBe(2);
    expect((await cli('convert', lenet, join(dir, 'x.onnx'), '--fp16')).code).toBe(2);
  });
});
