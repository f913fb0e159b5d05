// The real model of issue 3: ../shared/models/mnist/lenet.onnx on the 2,000-image test split must give the
// accuracy its README states (96.90 %, 1,938 of 2,000) within ±0.05 pt — with the WASM kernels and with the
// plain TS reference ops.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../src/formats/npy.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

async function accuracy(backend: 'wasm' | 'reference'): Promise<number> {
  const x = readNpy(new Uint8Array(readFileSync(dataPath('mnist/x_test.npy'))), 'x_test.npy');
  const y = readNpy(new Uint8Array(readFileSync(dataPath('mnist/y_test.npy'))), 'y_test.npy');
  const s = await InferenceSession.create(dataPath('mnist/lenet.onnx'), { backend });
  const n = x.dims[0]!;
  const labels = y.data as BigInt64Array;
  const xd = x.data as Float32Array;
  let correct = 0;
  const B = 250;
  for (let i = 0; i < n; i += B) {
    const b = Math.min(B, n - i);
    const out = await s.run({ input: new Tensor('float32', xd.subarray(i * 784, (i + b) * 784), [b, 1, 28, 28]) });
    const logits = out.logits!.data as Float32Array;
    for (let j = 0; j < b; j++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (logits[j * 10 + c]! > logits[j * 10 + best]!) best = c;
      if (BigInt(best) === labels[i + j]) correct++;
    }
  }
  await s.release();
  return correct / n;
}

describe.skipIf(!hasData('mnist/lenet.onnx'))('lenet on the MNIST test split', () => {
  it('WASM kernels: 96.90 % ± 0.05 pt', async () => {
    expect(Math.abs((await accuracy('wasm')) - 0.969)).toBeLessThanOrEqual(0.0005);
  });
  it('TS reference ops: 96.90 % ± 0.05 pt', async () => {
    expect(Math.abs((await accuracy('reference')) - 0.969)).toBeLessThanOrEqual(0.0005);
  });
});
