// Graph rewrites on tiny models: BN folding, shared Concat scales, MatMul per-column weights, QLinearAdd,
// the structural checker, and onnxruntime loading every produced model.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph, type Node } from '../../src/ir/graph.js';
import { checkModel, foldBatchNorms, quantize } from '../../src/quant/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

let seed = 1;
const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const randT = (dims: number[], s = 1) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rnd() * s), dims);
const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

/** x[N,3,8,8] → Conv(a)→BN→Relu ┐
 *              → Conv(b)→Relu ──┴ Concat → Add(c) → MatMul → y */
function tiny(): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: ['N', 3, 8, 8] } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: ['N', 4, 8, 5] } }];
  const init = (k: string, t: Tensor) => g.initializers.set(k, t);
  init('wa', randT([4, 3, 3, 3]));
  init('ba', randT([4]));
  init('wb', randT([4, 3, 3, 3], 0.2));
  init('gamma', randT([4]));
  init('beta', randT([4]));
  init('mean', randT([4], 0.1));
  init('var', new Tensor('float32', Float32Array.from([0.5, 1, 2, 0.1]), [4]));
  init('c', randT([1, 8, 1, 1]));
  init('m', randT([7, 5]));
  g.nodes = [
    node('conv_a', 'Conv', ['x', 'wa', 'ba'], ['ya'], { pads: [1, 1, 1, 1] }),
    node('bn', 'BatchNormalization', ['ya', 'gamma', 'beta', 'mean', 'var'], ['yb'], { epsilon: 1e-5 }),
    node('relu_a', 'Relu', ['yb'], ['ra']),
    node('conv_b', 'Conv', ['x', 'wb'], ['yc'], { pads: [1, 1, 1, 1] }),
    node('relu_b', 'Relu', ['yc'], ['rb']),
    node('cat', 'Concat', ['ra', 'rb'], ['cat'], { axis: 1 }),
    node('add', 'Add', ['cat', 'c'], ['added']),
    node('pool', 'MaxPool', ['added'], ['pooled'], { kernel_shape: [2, 2], strides: [2, 1], pads: [0, 0, 1, 0] }),
    node('tr', 'Transpose', ['pooled'], ['t'], { perm: [0, 2, 1, 3] }),
    node('mm', 'MatMul', ['t', 'm'], ['y']),
  ];
  return g;
}

const x = randT([16, 3, 8, 8]);

async function ortRun(g: Graph, feed: Tensor): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(writeOnnx(g));
  return (await s.run({ x: new ort.Tensor('float32', feed.data as Float32Array, [...feed.dims]) })).y!.data as Float32Array;
}
const edgeq = (g: Graph, feed: Tensor) => InferenceSession.fromGraph(g).runSync({ x: feed }).y!.data as Float32Array;
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const range = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

describe('quantization graph rewrites', () => {
  it('folds BatchNormalization into the Conv before it (same outputs)', () => {
    const g = tiny();
    const f = g.clone();
    expect(foldBatchNorms(f)).toBe(1);
    expect(f.nodes.some((n) => n.op === 'BatchNormalization')).toBe(false);
    expect(maxAbs(edgeq(f, x), edgeq(g, x))).toBeLessThan(1e-4);
    expect(g.nodes.some((n) => n.op === 'BatchNormalization')).toBe(true); // input untouched
  });

  for (const format of ['qdq', 'qoperator'] as const)
    it(`${format}: shared Concat scales, per-column MatMul weights; loads in onnxruntime and agrees with edgeq`, async () => {
      const g = tiny();
      const r = await quantize(g, { calib: x, format });
      expect(r.foldedBatchNorms).toBe(1);
      expect(checkModel(r.graph)).toEqual([]);
      const t = r.tensors;
      expect(t.get('ra')!.scale).toBe(t.get('cat')!.scale);
      expect(t.get('rb')!.scale).toBe(t.get('cat')!.scale);
      expect(t.get('pooled')!.scale).toBe(t.get('added')!.scale);
      expect(t.get('t')!.scale).toBe(t.get('added')!.scale);
      const mmLayer = r.layers.find((l) => l.node === 'mm')!;
      expect(mmLayer.perChannel).toBe(true);
      const ws = [...r.graph.initializers.entries()].find(([k]) => k.startsWith('m_scale'))![1];
      expect(ws.dims).toEqual([5]);
      if (format === 'qoperator') {
        const ops = r.graph.nodes.map((n) => n.op);
        expect(ops).toContain('QLinearConv');
        expect(ops).toContain('QLinearAdd');
        expect(ops).toContain('QLinearMatMul');
        expect(ops.filter((o) => o === 'Relu').length).toBe(0); // fused into QLinearConv's saturation
      }
      const want = edgeq(g, x);
      const got = edgeq(r.graph, x);
      const ref = await ortRun(r.graph, x);
      const step = t.get('y')!.scale;
      // one output step between the two runtimes (ORT's fixed-point requantization vs float DQ→op→Q)
      expect(maxAbs(ref, got)).toBeLessThanOrEqual(step * 1.0001 + 1e-6);
      // and the quantized model stays close to the float one
      expect(maxAbs(got, want) / range(want)).toBeLessThan(0.05);
    });

  it('int8 symmetric activations in QOperator keep Relu exact (no fusion) and agree with onnxruntime', async () => {
    const g = tiny();
    const r = await quantize(g, { calib: x, format: 'qoperator', activationType: 'int8' });
    expect(checkModel(r.graph)).toEqual([]);
    expect(r.graph.nodes.filter((n) => n.op === 'Relu').length).toBe(2);
    const got = edgeq(r.graph, x);
    expect(maxAbs(await ortRun(r.graph, x), got)).toBeLessThanOrEqual(r.tensors.get('y')!.scale * 1.0001 + 1e-6);
    expect(maxAbs(got, edgeq(g, x)) / range(got)).toBeLessThan(0.05);
  });

  it('dynamic and fp16 variants of the tiny model load in onnxruntime', async () => {
    const g = tiny();
    for (const mode of ['dynamic', 'fp16'] as const) {
      const r = await quantize(g, { mode });
      expect(checkModel(r.graph)).toEqual([]);
      const got = edgeq(r.graph, x);
      expect(maxAbs(await ortRun(r.graph, x), got) / range(got), mode).toBeLessThan(0.02);
    }
  });

  it('checkModel reports unsorted nodes, undefined inputs, double assignment and bad scales', () => {
    const g = tiny();
    const bad = g.clone();
    bad.nodes = [...bad.nodes].reverse();
    expect(checkModel(bad).some((i) => /before it is defined/.test(i.message))).toBe(true);
    const dup = g.clone();
    dup.nodes = [...dup.nodes, node('again', 'Relu', ['x'], ['ra'])];
    expect(checkModel(dup).some((i) => /assigned twice/.test(i.message))).toBe(true);
    const unk = g.clone();
    unk.nodes = [...unk.nodes, node('zz', 'NoSuchOp', ['x'], ['zz'])];
    expect(checkModel(unk).some((i) => /unknown op/.test(i.message))).toBe(true);
    const sc = new Graph();
    sc.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [2] } }];
    sc.outputs = [{ name: 'y', type: { dtype: 'uint8', shape: [2] } }];
    sc.initializers.set('s', new Tensor('float32', Float32Array.of(0), []));
    sc.nodes = [node('q', 'QuantizeLinear', ['x', 's'], ['y'])];
    expect(checkModel(sc).some((i) => /scale/.test(i.message))).toBe(true);
    const typ = sc.clone();
    typ.initializers.set('s', new Tensor('float32', Float32Array.of(1), []));
    typ.outputs = [{ name: 'y', type: { dtype: 'float32', shape: [2] } }];
    expect(checkModel(typ).some((i) => /declared float32/.test(i.message))).toBe(true);
  });
});
