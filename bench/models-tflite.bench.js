// TFLite int8 model (TFLite Micro's person_detection, 96×96 MobileNet v1): edgeq's WASM kernels vs edgeq's TS
// reference ops on the same session input. onnxruntime-web cannot read .tflite and tfjs-tflite is not installable
// here, so the comparison is within edgeq; the scores must agree bit for bit (TFLite integer requantization).
import { readFileSync } from 'node:fs';
import { InferenceSession, Tensor } from '../dist/index.js';
import { dataFile, fmt, table, timeMs } from './common.js';

export async function run() {
  const path = dataFile('tflite/person_detection/person_detect.tflite');
  if (!path) {
    table('TFLite int8 model, one thread', [{ model: 'person_detection', note: 'skipped (no ../shared data)' }]);
    return {};
  }
  const bytes = new Uint8Array(readFileSync(path));
  const x = new Tensor('int8', Int8Array.from({ length: 96 * 96 }, (_, i) => ((i * 7919) % 256) - 128), [1, 96, 96, 1]);
  const fast = await InferenceSession.create(bytes);
  const ref = await InferenceSession.create(bytes, { backend: 'reference' });
  const feed = { [fast.inputNames[0]]: x };
  const a = Object.values(await fast.run(feed))[0].data;
  const b = Object.values(await ref.run(feed))[0].data;
  const same = a.length === b.length && a.every((v, i) => v === b[i]);
  const wasmMs = await timeMs('person_detection wasm', () => fast.run(feed));
  const refMs = await timeMs('person_detection reference', () => ref.run(feed));
  table('TFLite int8 model (person_detection, 96×96), one thread: WASM kernels vs edgeq\'s TS reference', [
    { model: 'person_detection (int8)', 'wasm ms': fmt(wasmMs), 'reference ms': fmt(refMs), speedup: `${fmt(refMs / wasmMs, 1)}×`, 'scores identical': same ? 'yes' : 'NO' },
  ]);
  if (!same) throw new Error('person_detection: WASM kernels and reference disagree');
  return { tflite: { model: 'person_detection', wasmMs, refMs, same } };
}
