// Issue 7 on the real model: lenet channel-pruned (and unstructured / 2:4) -> writeOnnx -> loads in
// onnxruntime-node with outputs equal to edgeq's within 1e-5; the pruned file is smaller.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readModel } from '../../src/formats/detect.js';
import { readNpy } from '../../src/formats/npy.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { modelStats } from '../../src/ir/stats.js';
import { prune, type PruneOptions } from '../../src/prune/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

describe.skipIf(!hasData('mnist/lenet.onnx'))('lenet pruning', () => {
  const load = () => readModel(new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx'))));
  const x = () => {
    const t = readNpy(new Uint8Array(readFileSync(dataPath('mnist/x_test.npy'))), 'x_test.npy');
    return new Tensor('float32', (t.data as Float32Array).slice(0, 64 * 784), [64, 1, 28, 28]);
  };

  it.each<[string, PruneOptions]>([
    ['channel 0.5', { structured: 'channel', sparsity: 0.5 }],
    ['channel 0.3 l2', { structured: 'channel', sparsity: 0.3, norm: 'l2' }],
    ['global 0.8', { scope: 'global', sparsity: 0.8 }],
    ['2:4', { structured: 'n:m', n: 2, m: 4 }],
  ])('%s: written file loads in onnxruntime-node with outputs equal to edgeq (1e-5)', async (_, opts) => {
    const g = load();
    const r = prune(g, opts);
    const bytes = writeOnnx(r.graph);
    const before = writeOnnx(g);
    if (opts.structured === 'channel') {
      expect(bytes.length).toBeLessThan(before.length * 0.8);
      const s0 = modelStats(g);
      const s1 = modelStats(readModel(bytes));
      expect(s1.params).toBeLessThan(s0.params);
      expect(s1.macs).toBeLessThan(s0.macs);
      expect(r.skipped.map((s) => s.node)).toEqual(['/f3/Gemm']);
    }
    const input = x();
    const mine = InferenceSession.fromGraph(readModel(bytes)).runSync({ input }).logits!;
    const os = await ort.InferenceSession.create(bytes);
    const theirs = (await os.run({ input: new ort.Tensor('float32', input.data as Float32Array, input.dims) })).logits!;
    expect(theirs.dims).toEqual(mine.dims);
    const a = mine.data as Float32Array;
    const b = theirs.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
    expect(worst).toBeLessThanOrEqual(1e-5);
  });
});
