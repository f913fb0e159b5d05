// INT4/UINT4 tensors: unpacked one value per element in memory, packed two per byte (low nibble first) in
// ONNX files; QuantizeLinear/DequantizeLinear/Cast on them, and the written models in onnxruntime-node.
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InputError, ModelFormatError } from '../../src/errors.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { onnxRoot } from '../helpers/onnx-reflect.js';
import { decodeTensor, pack4 } from '../../src/formats/onnx/tensor-proto.js';
import { tensorProto, writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';

const T4 = { int4: { lo: -8, hi: 7 }, uint4: { lo: 0, hi: 15 } } as const;

/** w (int4/uint4 initializer) → DequantizeLinear(w, 0.5, zp) → y float32 */
function dqGraph(w: Tensor, zp: Tensor): Graph {
  const g = new Graph();
  g.opsets = { '': 21 };
  g.initializers.set('w', w);
  g.initializers.set('s', new Tensor('float32', Float32Array.of(0.5), []));
  g.initializers.set('zp', zp);
  g.nodes = [{ name: 'dq', op: 'DequantizeLinear', domain: '', inputs: ['w', 's', 'zp'], outputs: ['y'], attrs: {} }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: [...w.dims] } }];
  return g;
}

const tensor4 = (type: 'int4' | 'uint4', v: number[], dims = [v.length]) => new Tensor(type, type === 'int4' ? Int8Array.from(v) : Uint8Array.from(v), dims);

/** Decode a hand-made TensorProto (through protobuf encode/decode like a real file). */
function decodeProto(obj: Record<string, unknown>): Tensor {
  const T = onnxRoot().lookupType('onnx.TensorProto');
  return decodeTensor(T.decode(T.encode(T.fromObject(obj)).finish()), 'test tensor');
}

describe('int4/uint4 tensors', () => {
  it('are held unpacked and range-checked', () => {
    const t = tensor4('int4', [-8, 7, 0]);
    expect(t.byteLength).toBe(3);
    expect(() => new Tensor('int4', Int8Array.of(8), [1])).toThrow(InputError);
    expect(() => new Tensor('int4', Int8Array.of(-9), [1])).toThrow(/out of range \[-8,7\]/);
    expect(() => new Tensor('uint4', Uint8Array.of(16), [1])).toThrow(InputError);
    expect(() => new Tensor('uint4', [3, 20], [2])).toThrow(InputError);
  });

  it('pack low nibble first; an odd count pads the last high nibble with 0', () => {
    expect([...pack4(Int8Array.of(1, -1, 7))]).toEqual([0xf1, 0x07]);
    expect([...pack4(Uint8Array.of(15, 0, 9))]).toEqual([0x0f, 0x09]);
    const tp = tensorProto(tensor4('int4', [-8, 7, -1], [3, 1]), 'w');
    expect(tp.data_type).toBe(22);
    expect([...(tp.raw_data as Uint8Array)]).toEqual([0x78, 0x0f]);
    expect(tensorProto(tensor4('uint4', []), 'e').raw_data).toEqual(new Uint8Array(0));
  });

  it('round trip through writeOnnx/readOnnx for any values and (odd) lengths', () => {
    for (const type of ['int4', 'uint4'] as const)
      fc.assert(
        fc.property(fc.array(fc.integer({ min: T4[type].lo, max: T4[type].hi }), { minLength: 0, maxLength: 41 }), fc.boolean(), (v, twoD) => {
          const w = tensor4(type, v, twoD ? [1, v.length] : [v.length]);
          const bytes = writeOnnx(dqGraph(w, tensor4(type, [type === 'int4' ? -3 : 11], [])));
          const g = readOnnx(bytes);
          const r = g.initializers.get('w')!;
          expect(r.type).toBe(type);
          expect(r.dims).toEqual(w.dims);
          expect([...(r.data as Int8Array)]).toEqual(v);
          expect(g.initializers.get('zp')!.type).toBe(type);
          expect(g.irVersion).toBeGreaterThanOrEqual(10); // INT4 exists from IR version 10 on
        }),
        { numRuns: 60 },
      );
  });

  it('decode int32_data (one packed byte per entry) and raw_data identically', () => {
    const raw = decodeProto({ name: 'a', data_type: 22, dims: [3], raw_data: Uint8Array.of(0x9f, 0x0e) });
    const i32 = decodeProto({ name: 'a', data_type: 22, dims: [3], int32_data: [0x9f, 0x0e] });
    expect([...(raw.data as Int8Array)]).toEqual([-1, -7, -2]);
    expect([...(i32.data as Int8Array)]).toEqual([-1, -7, -2]);
    const u = decodeProto({ name: 'u', data_type: 21, dims: [2, 2], raw_data: Uint8Array.of(0x9f, 0xe0) });
    expect(u.type).toBe('uint4');
    expect([...(u.data as Uint8Array)]).toEqual([15, 9, 0, 14]);
  });

  it('malformed packed lengths → ModelFormatError naming the tensor', () => {
    // 5 elements need ceil(5/2) = 3 packed bytes
    for (const raw of [Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3, 4), new Uint8Array(5)])
      expect(() => decodeProto({ name: 'bad_w', data_type: 22, dims: [5], raw_data: raw })).toThrow(/tensor 'bad_w': raw_data holds \d+ packed int4 bytes but dims \[5\] need 3/);
    expect(() => decodeProto({ name: 'bad_u', data_type: 21, dims: [4], int32_data: [1] })).toThrow(ModelFormatError);
    expect(() => decodeProto({ name: 'bad_u', data_type: 21, dims: [4], int32_data: [1, 2, 3, 4] })).toThrow(/'bad_u'.*int32_data holds 4/);
    expect(() => decodeProto({ name: 'big', data_type: 21, dims: [2], int32_data: [256] })).toThrow(/'big'.*not a packed uint4 byte/);
    expect(() => decodeProto({ name: 'neg', data_type: 22, dims: [1], int32_data: [-1] })).toThrow(ModelFormatError);
    expect(() => decodeProto({ name: 'none', data_type: 22, dims: [3] })).toThrow(ModelFormatError);
    // a corrupt file is rejected at read time, the valid one loads
    const good = writeOnnx(dqGraph(tensor4('int4', [1, 2, 3]), tensor4('int4', [0], [])));
    expect(readOnnx(good).initializers.get('w')!.size).toBe(3);
  });

  it('QuantizeLinear saturates to [-8, 7] / [0, 15]; DequantizeLinear per-axis on int4', async () => {
    const run = async (zpType: 'int4' | 'uint4', zp: number) => {
      const g = new Graph();
      g.opsets = { '': 21 };
      g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [5] } }];
      g.initializers.set('s', new Tensor('float32', Float32Array.of(2), []));
      g.initializers.set('zp', tensor4(zpType, [zp], []));
      g.nodes = [
        { name: 'q', op: 'QuantizeLinear', domain: '', inputs: ['x', 's', 'zp'], outputs: ['y'], attrs: {} },
        { name: 'dq', op: 'DequantizeLinear', domain: '', inputs: ['y', 's', 'zp'], outputs: ['z'], attrs: {} },
      ];
      g.outputs = [{ name: 'y', type: { dtype: zpType, shape: [5] } }, { name: 'z', type: { dtype: 'float32', shape: [5] } }];
      const x = new Tensor('float32', Float32Array.of(-100, 100, 3, 5, -2.9), [5]);
      const r = await (await InferenceSession.create(g)).run({ x });
      // ORT agrees on the written file (without the int4 graph output: onnxruntime-node cannot hand int4
      // tensors to JS — its OrtValueToNapiValue aborts the process)
      const h = g.clone();
      h.outputs = h.outputs.filter((v) => v.name === 'z');
      const o = await (await ort.InferenceSession.create(writeOnnx(h))).run({ x: new ort.Tensor('float32', x.data as Float32Array, [5]) });
      expect([...(o.z!.data as Float32Array)]).toEqual([...(r.z!.data as Float32Array)]);
      return { y: [...(r.y!.data as Int8Array)], z: [...(r.z!.data as Float32Array)] };
    };
    // y = saturate(round_half_even(x / 2) + zp): 3/2 = 1.5 → 2, 5/2 = 2.5 → 2, -2.9/2 = -1.45 → -1
    expect(await run('int4', 1)).toEqual({ y: [-8, 7, 3, 3, 0], z: [-18, 12, 4, 4, -2] });
    expect(await run('uint4', 8)).toEqual({ y: [0, 15, 10, 10, 7], z: [-16, 14, 4, 4, -2] });
    // per-axis: axis 0 with 2 channels
    const g = dqGraph(tensor4('int4', [-8, 7, 1, 2], [2, 2]), tensor4('int4', [1, -1], [2]));
    g.initializers.set('s', new Tensor('float32', Float32Array.of(1, 0.25), [2]));
    g.nodes[0]!.attrs = { axis: 0 };
    const r = await (await InferenceSession.create(g)).run({});
    expect([...(r.y!.data as Float32Array)]).toEqual([-9, 6, 0.5, 0.75]);
    const o = await (await ort.InferenceSession.create(writeOnnx(g))).run({});
    expect([...(o.y!.data as Float32Array)]).toEqual([-9, 6, 0.5, 0.75]);
  });

  it('bad int4 graphs fail in inferShape naming the node', async () => {
    const g = dqGraph(tensor4('int4', [1, 2]), tensor4('uint4', [1], []));
    await expect(InferenceSession.create(g)).rejects.toThrow(/node 'dq' \(DequantizeLinear\).*x_zero_point has type uint4/);
  });

  it('Cast to int4/uint4 wraps modulo 16 (float truncates first); from int4 widens', async () => {
    const cast = async (x: Tensor, to: DType, code: number) => {
      const g = new Graph();
      g.opsets = { '': 21 };
      g.inputs = [{ name: 'x', type: { dtype: x.type, shape: [...x.dims] } }];
      g.nodes = [{ name: 'c', op: 'Cast', domain: '', inputs: ['x'], outputs: ['y'], attrs: { to: code } }];
      g.outputs = [{ name: 'y', type: { dtype: to, shape: [...x.dims] } }];
      const y = (await (await InferenceSession.create(g)).run({ x })).y!;
      expect(y.type).toBe(to);
      return [...(y.data as ArrayLike<number>)];
    };
    const x = new Tensor('float32', Float32Array.of(-9, 8, 15.7, -0.5, 16, Number.NaN), [6]);
    expect(await cast(x, 'int4', 22)).toEqual([7, -8, -1, 0, 0, 0]);
    expect(await cast(x, 'uint4', 21)).toEqual([7, 8, 15, 0, 0, 0]);
    expect(await cast(tensor4('int4', [-8, 7, -1]), 'float32', 1)).toEqual([-8, 7, -1]);
    expect(await cast(tensor4('uint4', [15, 0]), 'int8', 3)).toEqual([15, 0]);
  });
});
