// ONNX external data (onnx/docs/ExternalData.md): a TensorProto with data_location = EXTERNAL keeps its bytes in
// the file named by external_data 'location' (relative to the model), at 'offset' for 'length' bytes.
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { folderSource, readOnnxFile } from '../../src/formats/onnx/external-node.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { onnxRoot } from '../helpers/onnx-reflect.js';
import { type ExternalDataWrite, writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** y = x · W + b with a 64×32 weight (8 KiB, external) and a 32-entry bias (128 B, inline). */
function model(): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'x', type: { dtype: 'float32', shape: [2, 64] } });
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: 64 * 32 }, (_, i) => Math.sin(i)), [64, 32]));
  g.initializers.set('W2', new Tensor('float32', Float32Array.from({ length: 32 * 32 }, (_, i) => Math.cos(i) / 8), [32, 32]));
  g.initializers.set('b', new Tensor('float32', Float32Array.from({ length: 32 }, (_, i) => i / 10), [32]));
  g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['h'], attrs: {} });
  g.nodes.push({ name: 'mm2', op: 'MatMul', domain: '', inputs: ['h', 'W2'], outputs: ['h2'], attrs: {} });
  g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: ['h2', 'b'], outputs: ['y'], attrs: {} });
  g.outputs.push({ name: 'y', type: { dtype: 'float32', shape: [2, 32] } });
  return g;
}

const x = Float32Array.from({ length: 128 }, (_, i) => ((i * 37) % 17) / 17 - 0.5);

function pair(dir: string, location = 'model.onnx.data'): { path: string; ed: ExternalDataWrite; model: Uint8Array } {
  const ed: ExternalDataWrite = { location };
  const model = writeOnnx(model_, { externalData: ed });
  const path = join(dir, 'model.onnx');
  writeFileSync(path, model);
  writeFileSync(join(dir, location), ed.data!);
  return { path, ed, model };
}
const model_ = model();

/** Rewrite one initializer's external_data entries of a written model. */
function patch(bytes: Uint8Array, name: string, kv: Record<string, string>): Uint8Array {
  const T = onnxRoot().lookupType('onnx.ModelProto');
  const m = T.toObject(T.decode(bytes), { longs: Number }) as any;
  const tp = m.graph.initializer.find((t: any) => t.name === name);
  tp.external_data = tp.external_data.map((e: any) => (e.key in kv ? { key: e.key, value: kv[e.key] } : e));
  return T.encode(T.fromObject(m)).finish();
}

describe('ONNX external data', () => {
  it('writer splits large initializers into model.onnx.data; edgeq (path and bytes) and onnxruntime-node read the pair alike', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-ext-'));
    const { path, ed, model: bytes } = pair(dir);
    expect(ed.data!.length).toBeGreaterThanOrEqual((64 * 32 + 32 * 32) * 4);
    expect(bytes.length).toBeLessThan(2000); // weights are not inline
    const want = InferenceSession.fromGraph(model_).runSync({ x: new Tensor('float32', x, [2, 64]) }).y!.data as Float32Array;
    const g1 = readOnnxFile(path);
    const got1 = InferenceSession.fromGraph(g1).runSync({ x: new Tensor('float32', x, [2, 64]) }).y!.data as Float32Array;
    expect(Array.from(got1)).toEqual(Array.from(want));
    const s = await InferenceSession.create(bytes, { externalData: [{ path: 'model.onnx.data', data: ed.data! }] });
    const got2 = (await s.run({ x: new Tensor('float32', x, [2, 64]) })).y!.data as Float32Array;
    expect(Array.from(got2)).toEqual(Array.from(want));
    const o = await ort.InferenceSession.create(path);
    const r = (await o.run({ x: new ort.Tensor('float32', x, [2, 64]) })).y!.data as Float32Array;
    for (let i = 0; i < r.length; i++) expect(r[i]).toBeCloseTo(want[i]!, 4);
  });

  it("InferenceSession.create('model.onnx') resolves the data beside the model (offsets into a shared .data file), equal to onnxruntime-node", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-ext-'));
    mkdirSync(join(dir, 'w'));
    const { path } = pair(dir, 'w/weights.bin');
    const feeds = { x: new Tensor('float32', x, [2, 64]) };
    const o = await ort.InferenceSession.create(path);
    const want = (await o.run({ x: new ort.Tensor('float32', x, [2, 64]) })).y!.data as Float32Array;
    for (const backend of ['wasm', 'reference'] as const) {
      const got = (await (await InferenceSession.create(path, { backend })).run(feeds)).y!.data as Float32Array;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[i]!)));
    }
    // explicit bytes still win over the folder (onnxruntime-web's option), and a wrong entry is refused by name
    await expect(InferenceSession.create(path, { externalData: [{ path: 'other.bin', data: new Uint8Array(4) }] })).rejects.toThrow(/'W'/);
    // a location escaping the folder is refused when loading by path, too
    writeFileSync(join(dir, 'evil.onnx'), patch(readFileSync(path), 'W', { location: '../w/weights.bin' }));
    await expect(InferenceSession.create(join(dir, 'evil.onnx'))).rejects.toThrow(ModelFormatError);
    // a missing data file names the tensor and the file
    writeFileSync(join(dir, 'gone.onnx'), patch(readFileSync(path), 'W', { location: 'w/missing.bin' }));
    await expect(InferenceSession.create(join(dir, 'gone.onnx'))).rejects.toThrow(/tensor 'W'.*missing\.bin/);
  });

  it('without the data, or with locations escaping the folder, reading fails with a typed error naming the tensor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-ext-'));
    const { model: bytes } = pair(dir);
    expect(() => readOnnx(bytes)).toThrow(UnsupportedError);
    expect(() => readOnnx(bytes)).toThrow(/'W'.*model\.onnx\.data/);
    for (const loc of ['../secret.bin', '/etc/passwd', 'a/../../x', 'C:/x', 'file:///etc/passwd'])
      expect(() => readOnnx(patch(bytes, 'W', { location: loc }), { externalData: folderSource(dir) }), loc).toThrow(ModelFormatError);
    // a symlink inside the folder pointing outside it is refused too
    const outside = mkdtempSync(join(tmpdir(), 'edgeq-out-'));
    writeFileSync(join(outside, 'w.bin'), new Uint8Array(65536));
    mkdirSync(join(dir, 'sub'));
    symlinkSync(join(outside, 'w.bin'), join(dir, 'sub', 'link.bin'));
    expect(() => readOnnx(patch(bytes, 'W', { location: 'sub/link.bin' }), { externalData: folderSource(dir) })).toThrow(/outside the model's folder/);
  });

  it('offset / length are validated against the file and the tensor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-ext-'));
    const { model: bytes, ed } = pair(dir);
    const n = ed.data!.length;
    const src = { externalData: [{ path: 'model.onnx.data', data: ed.data! }] };
    expect(() => readOnnx(patch(bytes, 'W', { offset: String(n) }), src)).toThrow(/'W'.*outside/);
    expect(() => readOnnx(patch(bytes, 'W', { length: String(n + 1) }), src)).toThrow(/'W'.*outside/);
    expect(() => readOnnx(patch(bytes, 'W', { offset: '-4' }), src)).toThrow(/'W'.*offset/);
    expect(() => readOnnx(patch(bytes, 'W', { length: '12' }), src)).toThrow(/'W'.*raw_data has 12 bytes/);
    expect(() => readOnnx(patch(bytes, 'W', { length: String(2 ** 32) }), src)).toThrow(/'W'.*4 GiB/);
    expect(() => readOnnx(bytes, { externalData: [{ path: 'other.data', data: ed.data! }] })).toThrow(/'W'.*not given/);
    expect(readFileSync(join(dir, 'model.onnx.data')).length).toBe(n);
  });
});
