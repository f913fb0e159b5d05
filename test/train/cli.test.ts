import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { distillMain } from '../../src/cli/distill.js';
import { trainMain } from '../../src/cli/train.js';
import { InputError } from '../../src/errors.js';
import { writeNpy } from '../../src/formats/npy.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { loadMnist, mnistSubset } from '../../src/train/mnist.js';

const dir = mkdtempSync(join(tmpdir(), 'edgeq-train-'));
const m = loadMnist();
const tr = mnistSubset(m, m.split.train.subarray(0, 400));
const p = (f: string) => join(dir, f);
writeFileSync(p('x.npy'), writeNpy(tr.x));
writeFileSync(p('y.npy'), writeNpy(new Tensor('int64', BigInt64Array.from(tr.y, (v) => BigInt(v)), [400])));
writeFileSync(p('xu.npy'), writeNpy(mnistSubset(m, m.split.train.subarray(400, 800)).x));
writeFileSync(p('ybad.npy'), writeNpy(new Tensor('int64', BigInt64Array.from(tr.y, (v, i) => BigInt(i === 3 ? 12 : v)), [400])));
writeFileSync(p('yshort.npy'), writeNpy(new Tensor('int64', BigInt64Array.from(tr.y.slice(1), (v) => BigInt(v)), [399])));

const collect = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), progress: { isTTY: false, write: () => true } }, out, err };
};

describe('edgeq train / distill', () => {
  it('trains a preset, fine-tunes it with zeros kept, and distills a student from it', async () => {
    let c = collect();
    expect(await trainMain(['mlp:784-32-10', '--data', p('x.npy'), '--labels', p('y.npy'), '--out', p('t.onnx'), '--epochs', '3', '--val-data', p('x.npy'), '--val-labels', p('y.npy')], c.io)).toBe(0);
    expect(c.out.join('')).toMatch(/epoch 3: loss .* val top-1/);
    const s = await InferenceSession.create(p('t.onnx'));
    expect(s.outputMetadata[0]!.shape).toEqual(['N', 10]);
    c = collect();
    expect(await trainMain([p('t.onnx'), '--data', p('x.npy'), '--labels', p('y.npy'), '--out', p('t2.onnx'), '--epochs', '1', '--keep-zeros', '--optimizer', 'sgd', '--lr', '0.01', '--json'], c.io)).toBe(0);
    expect(JSON.parse(c.out.join('')).steps).toBe(7);
    c = collect();
    expect(await distillMain([p('t.onnx'), '--student', 'mlp:784-16-10', '--data', p('x.npy'), '--labels', p('y.npy'), '--unlabeled', p('xu.npy'), '--temperature', '3', '--alpha', '0.5', '--epochs', '2', '--seed', '4', '--out', p('s.onnx')], c.io)).toBe(0);
    expect(c.out.join('')).toMatch(/teacher top-1 on the labelled data: \d+\.\d+%/);
    // an ONNX student: its initializers are trained
    c = collect();
    expect(await distillMain([p('t.onnx'), '--student', p('s.onnx'), '--data', p('x.npy'), '--labels', p('y.npy'), '--epochs', '1', '--out', p('s2.onnx')], c.io)).toBe(0);
  });

  it('rejects bad input before training', async () => {
    const c = collect();
    await expect(trainMain(['mlp:784-8-10', '--data', p('x.npy'), '--labels', p('ybad.npy'), '--out', p('o.onnx')], c.io)).rejects.toThrow(/label 3 is 12/);
    await expect(trainMain(['mlp:784-8-10', '--data', p('x.npy'), '--labels', p('yshort.npy'), '--out', p('o.onnx')], c.io)).rejects.toThrow(InputError);
    await expect(distillMain([p('t.onnx'), '--student', 'mlp:784-8-7', '--data', p('x.npy'), '--labels', p('y.npy'), '--out', p('o.onnx')], c.io)).rejects.toThrow(/student gives 7 outputs/);
    await expect(trainMain(['mlp:784-8-10', '--data', p('x.npy'), '--labels', p('y.npy')], c.io)).rejects.toThrow(/--out/);
    await expect(trainMain(['mlp:784-8-10', '--data', p('x.npy'), '--labels', p('y.npy'), '--out', p('o.onnx'), '--optimizer', 'rmsprop'], c.io)).rejects.toThrow(/adam or sgd/);
  });
});
