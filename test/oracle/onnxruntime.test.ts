// onnxruntime-node (devDependency, oracle only) against edgeq on real models: every pytorch-converted/
// model (inputs from its test_data_set_0) and lenet. Outputs must agree within 1e-4 (abs + rel·|want|).
// onnxruntime-node 1.30 refuses some old-opset models (Add-6 `broadcast`, AveragePool-1 …); those are
// counted and printed — edgeq checks them against the ONNX expected outputs in the conformance tests.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readTensorProto } from '../../src/formats/onnx/test-data.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const TOL = 1e-4;

function maxViolation(got: Tensor, want: ort.Tensor): number {
  expect(got.dims).toEqual([...want.dims]);
  const a = got.data as ArrayLike<number>;
  const b = want.data as ArrayLike<number>;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    worst = Math.max(worst, Math.abs(x - y) / (1 + Math.abs(y)));
  }
  return worst;
}

/** Run both engines on the same feeds; return the worst violation, or 'ort-refused'. */
async function compare(modelPath: string, feeds: Record<string, Tensor>): Promise<number | 'ort-refused'> {
  let ortSession: ort.InferenceSession;
  try {
    ortSession = await ort.InferenceSession.create(modelPath);
  } catch {
    return 'ort-refused';
  }
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
  const want = await ortSession.run(ortFeeds);
  const ours = await (await InferenceSession.create(new Uint8Array(readFileSync(modelPath)))).run(feeds);
  let worst = 0;
  for (const name of ortSession.outputNames) worst = Math.max(worst, maxViolation(ours[name]!, want[name]!));
  return worst;
}

describe.skipIf(!hasData('onnx-conformance/pytorch-converted'))('edgeq vs onnxruntime-node', () => {
  const dir = dataPath('onnx-conformance/pytorch-converted');
  const cases = existsSync(dir) ? readdirSync(dir).sort() : [];

  it(`every pytorch-converted model agrees within ${TOL}`, async () => {
    const refused: string[] = [];
    const bad: string[] = [];
    let compared = 0;
    for (const c of cases) {
      const model = join(dir, c, 'model.onnx');
      const session = await InferenceSession.create(new Uint8Array(readFileSync(model)));
      const feeds: Record<string, Tensor> = {};
      session.inputNames.forEach((n, k) => (feeds[n] = readTensorProto(new Uint8Array(readFileSync(join(dir, c, 'test_data_set_0', `input_${k}.pb`))))));
      const r = await compare(model, feeds);
      if (r === 'ort-refused') refused.push(c);
      else {
        compared++;
        if (!(r <= TOL)) bad.push(`${c}: ${r}`);
      }
    }
    console.log(`pytorch-converted: ${compared} compared with onnxruntime-node, ${refused.length} refused by it (${refused.join(', ')})`);
    expect(bad).toEqual([]);
    expect(compared).toBeGreaterThanOrEqual(59); // what onnxruntime-node 1.30 itself passes
  });

  it.skipIf(!hasData('mnist/lenet.onnx'))(`lenet agrees within ${TOL} on a batch of real digits`, async () => {
    // 16 real test digits from the npy (parsed minimally here: float32 C-order after the header)
    const raw = readFileSync(dataPath('mnist/x_test.npy'));
    const headerLen = raw.readUInt16LE(8);
    const x = new Float32Array(raw.buffer.slice(raw.byteOffset + 10 + headerLen, raw.byteOffset + 10 + headerLen + 16 * 784 * 4));
    const r = await compare(dataPath('mnist/lenet.onnx'), { input: new Tensor('float32', x, [16, 1, 28, 28]) });
    expect(r).not.toBe('ort-refused');
    expect(r as number).toBeLessThanOrEqual(TOL);
  });
});
