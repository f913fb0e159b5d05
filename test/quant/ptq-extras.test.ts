// Issue 6 item 6: accuracy-aware fallback, bias correction, cross-layer equalisation.
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, labelsOf } from '../../src/cli/eval.js';
import { quantizeMain } from '../../src/cli/quantize.js';
import { UsageError } from '../../src/cli/args.js';
import { InputError } from '../../src/errors.js';
import { readModel } from '../../src/formats/detect.js';
import { readNpy } from '../../src/formats/npy.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph, type Node } from '../../src/ir/graph.js';
import { floats } from '../../src/ops/util.js';
import { checkModel, quantize } from '../../src/quant/index.js';
import { equalize, resolveConstInputs } from '../../src/quant/equalize.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const HAS = hasData('mnist/lenet.onnx');
let g: Graph;
let xc: Tensor;
let xt: Tensor;
let yt: Int32Array;
const npy = (f: string) => readNpy(new Uint8Array(readFileSync(dataPath(`mnist/${f}`))), f);
const head = (t: Tensor, n: number) => new Tensor(t.type, t.typed.slice(0, (t.size / t.dims[0]!) * n) as never, [n, ...t.dims.slice(1)]);

beforeAll(() => {
  if (!HAS) return;
  g = readModel(new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx'))));
  xc = npy('x_calib.npy');
  xt = head(npy('x_test.npy'), 1000);
  yt = labelsOf(npy('y_test.npy')).slice(0, 1000);
});

const accuracy = async (m: Graph, x: Tensor, y: Int32Array) => (await evaluate(InferenceSession.fromGraph(m), x, y, { batch: 500 })).accuracy;

describe.skipIf(!HAS)('accuracy-aware mode on lenet', () => {
  it('2-bit round-to-nearest collapses; within a 0.5 pt budget the most sensitive layers fall back to fp16', async () => {
    const r = await quantize(g, { calib: head(xc, 200), weightBits: 2, weightClip: 'minmax', maxAccuracyDrop: 0.5, evalData: { x: xt, labels: yt } });
    const a = r.accuracy!;
    expect(a.candidates[0]!.accuracy).toBeLessThan(a.fp32 - 0.1); // the all-quantized model is far off
    expect(a.met).toBe(true);
    const fb = r.layers.filter((l) => l.fallback);
    expect(fb.length).toBeGreaterThan(0);
    expect(fb.length).toBeLessThan(5); // not everything: some layer stays 2-bit
    expect(r.layers.some((l) => l.weightBits === 2)).toBe(true);
    // sensitivity ranking: ascending SQNR; the most sensitive layer is among the fallen-back ones
    expect(a.sensitivity.map((s) => s.sqnr)).toEqual([...a.sensitivity.map((s) => s.sqnr)].sort((p, q) => p - q));
    expect(fb.map((l) => l.node)).toContain(a.sensitivity[0]!.node);
    expect(fb.every((l) => l.soloSqnr !== undefined)).toBe(true);
    // the budget holds on the data it was given, in edgeq and in onnxruntime
    const acc = await accuracy(r.graph, xt, yt);
    expect((a.fp32 - acc) * 100).toBeLessThanOrEqual(0.5 + 1e-9);
    expect(acc).toBe(a.quantized);
    expect(checkModel(r.graph)).toEqual([]);
    const os = await ort.InferenceSession.create(writeOnnx(r.graph));
    const o = (await os.run({ input: new ort.Tensor('float32', xt.typed as Float32Array, [...xt.dims]) })).logits!.data as Float32Array;
    let ok = 0;
    for (let i = 0; i < yt.length; i++) {
      let m = 0;
      for (let k = 1; k < 10; k++) if (o[i * 10 + k]! > o[i * 10 + m]!) m = k;
      if (m === yt[i]) ok++;
    }
    // onnxruntime rounds a few near-tie logits the other way (≤ one quantization step per element)
    expect(Math.abs(ok / yt.length - acc)).toBeLessThanOrEqual(0.005);
    // fp16 fallback weights are float16 initializers behind a Cast
    expect([...r.graph.initializers.values()].some((t) => t.type === 'float16')).toBe(true);
  }, 120_000);

  it('a budget the full quantization already meets returns it unchanged', async () => {
    const r = await quantize(g, { calib: head(xc, 200), maxAccuracyDrop: 1, evalData: { x: xt, labels: yt } });
    expect(r.accuracy!.met).toBe(true);
    expect(r.accuracy!.candidates).toHaveLength(1);
    expect(r.layers.filter((l) => l.fallback)).toHaveLength(0);
    expect(r.layers.filter((l) => l.weight).every((l) => l.soloSqnr !== undefined && l.soloSqnr > 20)).toBe(true);
  }, 60_000);

  it('bad options', async () => {
    await expect(quantize(g, { calib: xc, maxAccuracyDrop: 0.5 })).rejects.toThrow(InputError);
    await expect(quantize(g, { calib: xc, maxAccuracyDrop: -1, evalData: { x: xt, labels: yt } })).rejects.toThrow(InputError);
    await expect(quantizeMain([dataPath('mnist/lenet.onnx'), '/tmp/x.onnx', '--calib', dataPath('mnist/x_calib.npy'), '--max-accuracy-drop', '0.5'], { out: () => {}, err: () => {} } as never)).rejects.toThrow(UsageError);
    await expect(quantizeMain([dataPath('mnist/lenet.onnx'), '/tmp/x.onnx', '--calib', dataPath('mnist/x_calib.npy'), '--max-accuracy-drop', 'abc'], { out: () => {}, err: () => {} } as never)).rejects.toThrow(UsageError);
  });

  it('CLI: --max-accuracy-drop with --report prints the solo SQNR column and the fallbacks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-aa-'));
    let text = '';
    const code = await quantizeMain(
      [dataPath('mnist/lenet.onnx'), join(dir, 'q.onnx'), '--calib', dataPath('mnist/x_calib.npy'), '--weight-bits', '2', '--weight-clip', 'minmax', '--max-accuracy-drop', '0.5', '--data', dataPath('mnist/x_test.npy'), '--labels', dataPath('mnist/y_test.npy'), '--limit', '500', '--report'],
      { out: (s: string) => (text += s), err: () => {} } as never,
    );
    expect(code).toBe(0);
    expect(text).toMatch(/accuracy-aware: budget 0\.5 pt on 500 samples/);
    expect(text).toMatch(/solo SQNR dB/);
    expect(text).toMatch(/accuracy fallback/);
  }, 120_000);
});

/** Mean over a layer's output channels of |E[y_q] − E[y]| on the calibration data (quantized vs float model). */
async function layerBiasErrors(f: Graph, q: Graph, layers: string[], x: Tensor): Promise<number[]> {
  const fs = InferenceSession.fromGraph(f);
  const qs = InferenceSession.fromGraph(q);
  const a = fs.runSync({ input: x }, layers);
  const b = qs.runSync({ input: x }, layers);
  return layers.map((n) => {
    const u = floats(a[n]!);
    const v = floats(b[n]!);
    const d = a[n]!.dims;
    const C = d[1]!;
    const inner = d.slice(2).reduce((p, k) => p * k, 1);
    let tot = 0;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let i = 0; i < d[0]!; i++) for (let k = 0; k < inner; k++) s += v[(i * C + c) * inner + k]! - u[(i * C + c) * inner + k]!;
      tot += Math.abs(s / (d[0]! * inner));
    }
    return tot / C;
  });
}

describe.skipIf(!HAS)('bias correction on lenet', () => {
  it('reduces the mean output error of every layer on the calibration data (3-bit, per tensor)', async () => {
    const outs = g.nodes.filter((n) => n.op === 'Conv' || n.op === 'Gemm').map((n) => n.outputs[0]!);
    const base = { calib: xc, weightBits: 3, perChannel: false, report: false } as const;
    const r0 = await quantize(g, base);
    const r1 = await quantize(g, { ...base, biasCorrection: true });
    const ri = await quantize(g, { ...base, biasCorrection: 'independent' });
    const e0 = await layerBiasErrors(g, r0.graph, outs, xc);
    const e1 = await layerBiasErrors(g, r1.graph, outs, xc);
    const ei = await layerBiasErrors(g, ri.graph, outs, xc);
    for (let i = 0; i < outs.length; i++) {
      expect(e1[i]!).toBeLessThan(e0[i]!);
      expect(ei[i]!).toBeLessThan(e0[i]!);
    }
    // the correction the layer report shows: a per-layer shift, and ~0 left after it
    for (const l of r1.layers.filter((x) => x.weight)) {
      expect(l.biasError!.before).toBeGreaterThan(0);
      expect(l.biasError!.after).toBeLessThan(1e-5 * Math.max(1, l.biasError!.before));
    }
    expect(checkModel(r1.graph)).toEqual([]);
  }, 60_000);

  it('CLI: --bias-correction --equalize --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-bc-'));
    let text = '';
    const code = await quantizeMain([dataPath('mnist/lenet.onnx'), join(dir, 'q.onnx'), '--calib', dataPath('mnist/x_calib.npy'), '--bias-correction', '--equalize', '--weight-bits', '4', '--json'], { out: (s: string) => (text += s), err: () => {} } as never);
    expect(code).toBe(0);
    const j = JSON.parse(text);
    expect(j.equalizedPairs).toBe(1); // c1 → Relu → MaxPool → c2
    expect(j.biasCorrection).toBe(true);
    expect(j.layers.filter((l: { biasError?: unknown }) => l.biasError)).toHaveLength(5);
  }, 60_000);

  it('a Conv without a bias gets one', async () => {
    const h = tinyConvRelu({ bias1: false, bias2: false, group2: 1, clip: false, pool: false, c: 3, m: 4 });
    const x = randInput([8, 2, 6, 6]);
    const r = await quantize(h.g, { calib: x, weightBits: 4, biasCorrection: true, format: 'qdq' });
    expect(r.layers.filter((l) => l.biasError).length).toBe(2);
    expect(checkModel(r.graph)).toEqual([]);
    await ort.InferenceSession.create(writeOnnx(r.graph));
  });
});

// ---- cross-layer equalisation ----

let seed = 7;
const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const randInput = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rnd()), dims);
const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

interface TinyOpts {
  bias1: boolean;
  bias2: boolean;
  /** 1 or the channel count m (depthwise) */
  group2: number;
  clip: boolean;
  pool: boolean;
  c: number;
  m: number;
  /** per-output-channel magnitudes of the first conv (unequal ranges) */
  spread?: number[];
}

/** x[N,2,6,6] → Conv1(m) → Relu|Clip(0,6) → [MaxPool] → Conv2 (group2) → y */
function tinyConvRelu(o: TinyOpts, vals?: number[]): { g: Graph } {
  let k = 0;
  const next = () => (vals ? vals[k++ % vals.length]! : rnd());
  const t = (dims: number[], scale: (i: number) => number = () => 1) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const per = n / dims[0]!;
    return new Tensor('float32', Float32Array.from({ length: n }, (_, i) => next() * scale(Math.floor(i / per))), dims);
  };
  const g = new Graph();
  g.inputs = [{ name: 'input', type: { dtype: 'float32', shape: ['N', 2, 6, 6] } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  const m = o.m;
  const m2 = o.group2 === 1 ? o.c : m;
  g.initializers.set('w1', t([m, 2, 3, 3], (c) => o.spread?.[c % o.spread.length] ?? 1));
  if (o.bias1) g.initializers.set('b1', t([m], () => 0.5));
  g.initializers.set('w2', t([m2, m / o.group2, 3, 3]));
  if (o.bias2) g.initializers.set('b2', t([m2]));
  g.initializers.set('lo', new Tensor('float32', Float32Array.of(0), []));
  g.initializers.set('hi', new Tensor('float32', Float32Array.of(6), []));
  g.nodes = [
    node('conv1', 'Conv', ['input', 'w1', ...(o.bias1 ? ['b1'] : [])], ['a'], { pads: [1, 1, 1, 1] }),
    o.clip ? node('act', 'Clip', ['a', 'lo', 'hi'], ['r']) : node('act', 'Relu', ['a'], ['r']),
    ...(o.pool ? [node('pool', 'MaxPool', ['r'], ['p'], { kernel_shape: [2, 2], strides: [1, 1] })] : []),
    node('conv2', 'Conv', [o.pool ? 'p' : 'r', 'w2', ...(o.bias2 ? ['b2'] : [])], ['y'], { pads: [1, 1, 1, 1], group: o.group2 }),
  ];
  return { g };
}

describe('cross-layer equalisation', () => {
  it('property: the float function is unchanged (≤ 1e-4) on random Conv→Relu→Conv graphs', () => {
    fc.assert(
      fc.property(
        fc.record({
          bias1: fc.boolean(),
          bias2: fc.boolean(),
          depthwise: fc.boolean(),
          clip: fc.boolean(),
          pool: fc.boolean(),
          m: fc.integer({ min: 1, max: 6 }),
          c: fc.integer({ min: 1, max: 5 }),
          spread: fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 1, maxLength: 6 }),
          vals: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 7, maxLength: 40 }),
        }),
        (p) => {
          const h = tinyConvRelu({ ...p, group2: p.depthwise ? p.m : 1 }, p.vals);
          const e = h.g.clone();
          const pairs = equalize(e);
          expect(pairs).toBe(1);
          const x = randInput([2, 2, 6, 6]);
          const a = floats(InferenceSession.fromGraph(h.g).runSync({ input: x }).y!);
          const b = floats(InferenceSession.fromGraph(e).runSync({ input: x }).y!);
          let scale = 1;
          for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
          for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-4 * scale);
          // the input graph is untouched
          expect(h.g.nodes.find((n) => n.name === 'conv1')!.inputs[1]).toBe('w1');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('equalises per-channel ranges: max|W1[i]| = max|W2[:, i]| afterwards', () => {
    const h = tinyConvRelu({ bias1: true, bias2: true, group2: 4, clip: false, pool: false, c: 4, m: 4, spread: [0.01, 1, 10, 100] });
    const e = h.g.clone();
    equalize(e);
    const [c1, c2] = [e.nodes.find((n) => n.name === 'conv1')!, e.nodes.find((n) => n.name === 'conv2')!];
    const w1 = floats(e.initializers.get(c1.inputs[1]!)!);
    const w2 = floats(e.initializers.get(c2.inputs[1]!)!);
    for (let i = 0; i < 4; i++) {
      let r1 = 0;
      let r2 = 0;
      for (let k = 0; k < 18; k++) r1 = Math.max(r1, Math.abs(w1[i * 18 + k]!));
      for (let k = 0; k < 9; k++) r2 = Math.max(r2, Math.abs(w2[i * 9 + k]!));
      expect(r1 / r2).toBeCloseTo(1, 4);
    }
  });

  it('improves per-tensor weight quantization on unequal channel ranges (depthwise)', async () => {
    const h = tinyConvRelu({ bias1: true, bias2: true, group2: 4, clip: true, pool: false, c: 4, m: 4, spread: [0.01, 1, 10, 100] });
    const x = randInput([16, 2, 6, 6]);
    const ref = floats(InferenceSession.fromGraph(h.g).runSync({ input: x }).y!);
    const err = async (eq: boolean) => {
      const r = await quantize(h.g, { calib: x, perChannel: false, equalize: eq });
      expect(checkModel(r.graph)).toEqual([]);
      await ort.InferenceSession.create(writeOnnx(r.graph));
      const y = floats(InferenceSession.fromGraph(r.graph).runSync({ input: x }).y!);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += (y[i]! - ref[i]!) ** 2;
      return { s, r };
    };
    const a = await err(false);
    const b = await err(true);
    expect(b.r.equalized).toBe(1);
    expect(b.s).toBeLessThan(a.s / 4);
  });

  it('weights behind Identity / Constant are resolved to initializers', () => {
    const h = tinyConvRelu({ bias1: true, bias2: false, group2: 1, clip: false, pool: false, c: 3, m: 4 });
    h.g.nodes.unshift(node('id', 'Identity', ['w2'], ['w2_id']));
    h.g.nodes.find((n) => n.name === 'conv2')!.inputs[1] = 'w2_id';
    expect(resolveConstInputs(h.g)).toBe(1);
    expect(h.g.nodes.find((n) => n.name === 'conv2')!.inputs[1]).toBe('w2');
  });
});
