import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../src/errors.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph } from '../../src/ir/graph.js';
import { getOp } from '../../src/ir/registry.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { f32ToF16 } from '../../src/tensor/fp16.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

function richGraph(): Graph {
  const g = new Graph();
  g.name = 'rich';
  g.producer = 'edgeq-test';
  g.irVersion = 9;
  g.opsets = { '': 17, 'test.domain': 2 };
  g.metadata = { author: 'me', note: 'ünïcode' };
  g.inputs = [
    { name: 'x', type: { dtype: 'float32', shape: ['N', 3, '?', 4] } },
    { name: 'm', type: { dtype: 'bool' } },
  ];
  g.outputs = [{ name: 'y', type: { dtype: 'float16', shape: ['N', 12] } }];
  g.types.set('mid', { dtype: 'int64', shape: [2, 'K'] });
  g.initializers.set('f16', new Tensor('float16', Uint16Array.of(f32ToF16(1.5), 0x7c00, 0x8000, 1), [2, 2]));
  g.initializers.set('i64', new Tensor('int64', BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n), [4]));
  g.initializers.set('u64', new Tensor('uint64', BigUint64Array.of(2n ** 64n - 1n), [1]));
  g.initializers.set('b', new Tensor('bool', Uint8Array.of(1, 0, 1), [3]));
  g.initializers.set('f64', new Tensor('float64', Float64Array.of(Math.PI, -0), [2]));
  g.initializers.set('i8', new Tensor('int8', Int8Array.of(-128, 127), [2]));
  g.initializers.set('u16', new Tensor('uint16', Uint16Array.of(65535), []));
  g.initializers.set('s', new Tensor('string', ['a', 'βγ'], [2]));
  g.initializers.set('empty', new Tensor('float32', new Float32Array(0), [0, 3]));
  g.nodes = [
    {
      name: 'n0',
      op: 'Foo',
      domain: 'test.domain',
      inputs: ['x', '', 'i64'],
      outputs: ['mid'],
      attrs: {
        alpha: 0.25,
        count: 3,
        big: 2 ** 63,
        neg: -(2 ** 63),
        name: 'hello',
        t: new Tensor('int32', Int32Array.of(1, 2, 3), [3]),
        ints: [1, -2, 3],
        floats: [0.5, 1.5],
        strings: ['p', 'q'],
        noints: [],
      },
    },
    { name: 'n1', op: 'Bar', domain: 'test.domain', inputs: ['mid', 'm'], outputs: ['y'], attrs: {} },
  ];
  return g;
}

describe('writeOnnx → readOnnx round trip', () => {
  it('keeps graph, IO types with symbolic dims, value_info, metadata, opsets and all attribute kinds', () => {
    const g = richGraph();
    const r = readOnnx(writeOnnx(g));
    expect(r.name).toBe('rich');
    expect(r.producer).toBe('edgeq-test');
    expect(r.irVersion).toBe(9);
    expect(r.opsets['test.domain']).toBe(2);
    expect(r.opsets['']).toBeGreaterThanOrEqual(17);
    expect(r.metadata).toEqual(g.metadata);
    expect(r.inputs).toEqual(g.inputs);
    expect(r.outputs).toEqual(g.outputs);
    expect(r.types.get('mid')).toEqual({ dtype: 'int64', shape: [2, 'K'] });
    expect(r.nodes.map((n) => [n.name, n.op, n.domain, n.inputs, n.outputs])).toEqual(g.nodes.map((n) => [n.name, n.op, n.domain, n.inputs, n.outputs]));
    const a = r.nodes[0]!.attrs;
    expect(a.alpha).toBe(0.25);
    expect(a.count).toBe(3);
    expect(a.big).toBe(2 ** 63); // INT64_MAX saturates like the reader's clamp
    expect(a.neg).toBe(-(2 ** 63));
    expect(a.name).toBe('hello');
    expect([...((a.t as Tensor).data as Int32Array)]).toEqual([1, 2, 3]);
    expect(a.ints).toEqual([1, -2, 3]);
    expect(a.floats).toEqual([0.5, 1.5]);
    expect(a.strings).toEqual(['p', 'q']);
    expect(a.noints).toEqual([]);
    expect([...r.initializers.keys()]).toEqual([...g.initializers.keys()]);
    for (const [k, t] of g.initializers) {
      const u = r.initializers.get(k)!;
      expect(u.type).toBe(t.type);
      expect(u.dims).toEqual(t.dims);
      expect(Array.from(u.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
  });

  it('uses the op definitions for FLOAT vs INT attributes (Gemm alpha=1 stays FLOAT)', () => {
    // checked by onnxruntime below; here only that a float attr with an integral value survives
    const g = gemmGraph();
    const r = readOnnx(writeOnnx(g));
    expect(r.nodes[1]!.attrs).toEqual({ alpha: 1, beta: 0.5, transB: 1 });
  });

  it('rejects values it cannot encode', () => {
    const g = richGraph();
    g.nodes[0]!.attrs.bad = { weird: true } as never;
    expect(() => writeOnnx(g)).toThrow(UnsupportedError);
  });
});

/** input [N,2,3] → Flatten → Gemm(W [4,6] transB, b) → logits [N,4] */
function gemmGraph(): Graph {
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs = [{ name: 'input', type: { dtype: 'float32', shape: ['N', 2, 3] } }];
  g.outputs = [{ name: 'logits', type: { dtype: 'float32', shape: ['N', 4] } }];
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: 24 }, (_, i) => (i % 7) - 3), [4, 6]));
  g.initializers.set('b', new Tensor('float32', Float32Array.of(0.5, -1, 2, 0), [4]));
  g.nodes = [
    { name: 'flat', op: 'Flatten', domain: '', inputs: ['input'], outputs: ['f'], attrs: { axis: 1 } },
    { name: 'fc', op: 'Gemm', domain: '', inputs: ['f', 'W', 'b'], outputs: ['logits'], attrs: { alpha: 1, beta: 0.5, transB: 1 } },
  ];
  return g;
}

describe('written files load in onnxruntime-node', () => {
  it('int64/bool initializers, float16 output, symbolic batch', async () => {
    const g = new Graph();
    g.opsets = { '': 13 };
    g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: ['N', 4] } }];
    g.outputs = [
      { name: 'y', type: { dtype: 'float32', shape: ['M', 2] } },
      { name: 'h', type: { dtype: 'float16', shape: ['M', 2] } },
    ];
    g.initializers.set('shape', new Tensor('int64', BigInt64Array.of(-1n, 2n), [2]));
    g.initializers.set('cond', new Tensor('bool', Uint8Array.of(1, 0), [2]));
    g.initializers.set('zero', new Tensor('float32', Float32Array.of(-7), []));
    g.nodes = [
      { name: 'r', op: 'Reshape', domain: '', inputs: ['x', 'shape'], outputs: ['xr'], attrs: {} },
      { name: 'w', op: 'Where', domain: '', inputs: ['cond', 'xr', 'zero'], outputs: ['y'], attrs: {} },
      { name: 'c', op: 'Cast', domain: '', inputs: ['y'], outputs: ['h'], attrs: { to: 10 } },
    ];
    const s = await ort.InferenceSession.create(writeOnnx(g));
    const x = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const out = await s.run({ x: new ort.Tensor('float32', x, [2, 4]) });
    expect(out.y!.dims).toEqual([4, 2]);
    expect([...(out.y!.data as Float32Array)]).toEqual([1, -7, 3, -7, 5, -7, 7, -7]);
    expect([...(out.h!.data as Uint16Array)]).toEqual([1, -7, 3, -7, 5, -7, 7, -7].map(f32ToF16));
  });

  it('Flatten → Gemm agrees between onnxruntime and edgeq', async () => {
    const bytes = writeOnnx(gemmGraph());
    const x = Float32Array.from({ length: 18 }, (_, i) => Math.sin(i));
    const s = await ort.InferenceSession.create(bytes);
    const want = (await s.run({ input: new ort.Tensor('float32', x, [3, 2, 3]) })).logits!.data as Float32Array;
    // W·x with transB, beta 0.5 on the bias
    const W = gemmGraph().initializers.get('W')!.data as Float32Array;
    const b = [0.5, -1, 2, 0];
    for (let n = 0; n < 3; n++)
      for (let o = 0; o < 4; o++) {
        let acc = 0;
        for (let k = 0; k < 6; k++) acc += x[n * 6 + k]! * W[o * 6 + k]!;
        expect(want[n * 4 + o]).toBeCloseTo(acc + 0.5 * b[o]!, 5);
      }
    if (!getOp('', 'Flatten') || !getOp('', 'Gemm')) return; // edgeq half runs once those ops exist
    const e = await InferenceSession.create(bytes);
    const got = (await e.run({ input: new Tensor('float32', x, [3, 2, 3]) })).logits!.data as Float32Array;
    for (let i = 0; i < 12; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
  });

  it.runIf(hasData('mnist/lenet.onnx'))('re-written LeNet gives onnxruntime the same logits as the original', async () => {
    const orig = new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));
    const rewritten = writeOnnx(readOnnx(orig));
    const x = Float32Array.from({ length: 2 * 784 }, (_, i) => ((i * 37) % 101) / 100);
    const feed = { input: new ort.Tensor('float32', x, [2, 1, 28, 28]) };
    const a = (await (await ort.InferenceSession.create(orig)).run(feed)).logits!.data as Float32Array;
    const b = (await (await ort.InferenceSession.create(rewritten)).run(feed)).logits!.data as Float32Array;
    expect([...b]).toEqual([...a]);
  });
});
