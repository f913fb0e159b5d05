import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { prune } from '../../src/prune/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { TrainableGraph } from '../../src/train/autodiff.js';
import { loadMnist, mnistSubset } from '../../src/train/mnist.js';
import { Optimizer } from '../../src/train/optim.js';
import { buildPreset } from '../../src/train/presets.js';
import { type Dataset, accuracyOf, distill, makeDataset, train } from '../../src/train/train.js';

const m = loadMnist();
const idx = m.split.train.subarray(0, 600);
const tr = mnistSubset(m, idx);
const te = mnistSubset(m, m.split.test.subarray(0, 400));
const data = makeDataset(tr.x, tr.y, 10);
const test = makeDataset(te.x, te.y, 10);

describe('train', () => {
  it('learns MNIST digits with an MLP and with a Conv-BN CNN (Adam and SGD)', () => {
    const mlp = train(buildPreset('mlp:784-32-10', { seed: 1 }), data, { epochs: 10, seed: 1 });
    expect(accuracyOf(new TrainableGraph(mlp.graph), test)).toBeGreaterThan(0.8);
    const cnn = train(buildPreset('cnn:4-8-10', { seed: 1 }), data, { epochs: 2, seed: 1, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4 } });
    expect(accuracyOf(new TrainableGraph(cnn.graph), test)).toBeGreaterThan(0.7);
    expect(cnn.history).toHaveLength(2);
    expect(cnn.history[1]!.loss).toBeLessThan(cnn.history[0]!.loss);
    // BatchNormalization running statistics were updated
    const v = cnn.graph.initializers.get('bn1.var')!.data as Float32Array;
    expect([...v].some((x) => Math.abs(x - 1) > 1e-3)).toBe(true);
  });

  it('is deterministic for a fixed seed (weights identical bit for bit), different for another seed', () => {
    const run = (seed: number) => train(buildPreset('cnn:2-4-10', { seed }), data, { epochs: 1, seed, shift: 1 }).graph;
    const a = run(7);
    const b = run(7);
    const c = run(8);
    for (const [k, t] of a.initializers) expect(Buffer.from((t.data as Float32Array).buffer).equals(Buffer.from((b.initializers.get(k)!.data as Float32Array).buffer))).toBe(true);
    expect([...(a.initializers.get('conv0.weight')!.data as Float32Array)]).not.toEqual([...(c.initializers.get('conv0.weight')!.data as Float32Array)]);
  });

  it('fine-tunes a pruned model with its masks kept', () => {
    const base = train(buildPreset('mlp:784-32-10', { seed: 2 }), data, { epochs: 10, seed: 2 }).graph;
    const p = prune(base, { sparsity: 0.8 });
    const ft = train(p.graph, data, { epochs: 4, seed: 2, masks: p.masks });
    let checked = 0;
    for (const [name, mask] of p.masks) {
      const w = ft.graph.initializers.get(name)!.data as Float32Array;
      for (let i = 0; i < mask.length; i++) if (!mask[i]) {
        expect(w[i]).toBe(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(accuracyOf(new TrainableGraph(ft.graph), test)).toBeGreaterThan(0.7);
    expect(() => train(p.graph, data, { epochs: 1, masks: new Map([['fc1.weight', new Uint8Array(3)]]) })).toThrow(InputError);
  });

  it('stops on a NaN/∞ loss with a clear message and keeps the last good weights', () => {
    const g = buildPreset('mlp:784-16-10', { seed: 3 });
    const r = train(g, data, { epochs: 3, optimizer: { type: 'sgd', lr: 1e30, momentum: 0 } });
    expect(r.stopped).toMatch(/loss became (NaN|Infinity).*kept the last weights/);
    for (const t of r.graph.initializers.values()) for (const v of t.data as Float32Array) expect(Number.isFinite(v)).toBe(true);
  });
});

describe('bad input → InputError before training', () => {
  const g = buildPreset('mlp:784-16-10');
  it('labels out of range, count mismatch, NaN data', () => {
    expect(() => makeDataset(tr.x, tr.y.map((v, i) => (i === 5 ? 10 : v)), 10)).toThrow(/label 5 is 10/);
    expect(() => makeDataset(tr.x, tr.y.map((v, i) => (i === 5 ? -1 : v)))).toThrow(InputError);
    expect(() => makeDataset(tr.x, tr.y.slice(1))).toThrow(/600 samples but the labels have 599/);
    const bad = (tr.x.data as Float32Array).slice();
    bad[1234] = NaN;
    expect(() => makeDataset(new Tensor('float32', bad, [...tr.x.dims]), tr.y)).toThrow(/NaN/);
    const d11: Dataset = { ...data, y: data.y!.map((v, i) => (i === 0 ? 11 : v)) };
    expect(() => train(g, d11, { epochs: 1 })).toThrow(/outside the model's 10 classes/);
  });
  it('a student whose output shape differs from the teacher', () => {
    expect(() => distill({ teacher: g, student: buildPreset('mlp:784-8-5'), data, epochs: 1 })).toThrow(/student gives 5 outputs per sample, the teacher 10/);
    expect(() => distill({ teacher: g, student: buildPreset('mlp:784-8-10'), data, epochs: 1, temperature: 0 })).toThrow(InputError);
    expect(() => distill({ teacher: g, student: buildPreset('mlp:784-8-10'), data, epochs: 1, alpha: 2 })).toThrow(InputError);
  });
  it('bad specs and optimizer settings', () => {
    expect(() => buildPreset('mlp:100-10')).toThrow(/flattened input/);
    expect(() => buildPreset('rnn:1-2')).toThrow(InputError);
    expect(() => buildPreset('cnn:8-8-8-8-8-10')).toThrow(/pooling/);
    expect(() => new Optimizer({ lr: -1 })).toThrow(InputError);
    expect(() => train(g, data, { epochs: 1.5 })).toThrow(InputError);
  });
});

describe('distill', () => {
  it('soft labels on unlabelled images help a few-label student', () => {
    const teacher = train(buildPreset('mlp:784-64-10', { seed: 4 }), data, { epochs: 12, seed: 4 }).graph;
    const few = makeDataset(new Tensor('float32', (tr.x.data as Float32Array).slice(0, 100 * 784), [100, 1, 28, 28]), tr.y.slice(0, 100), 10);
    const unl = makeDataset(new Tensor('float32', (tr.x.data as Float32Array).slice(100 * 784), [500, 1, 28, 28]));
    const plain = train(buildPreset('mlp:784-16-10', { seed: 5 }), few, { epochs: 72, seed: 5 }).graph;
    const kd = distill({ teacher, student: buildPreset('mlp:784-16-10', { seed: 5 }), data: few, unlabeled: unl, epochs: 12, seed: 5 });
    const a0 = accuracyOf(new TrainableGraph(plain), test);
    const a1 = accuracyOf(new TrainableGraph(kd.graph), test);
    expect(a1).toBeGreaterThan(a0);
    expect(kd.teacherAccuracy).toBeGreaterThan(0.8);
  });
});
