import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { readTensorProto } from '../../src/formats/onnx/test-data.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import type { Graph } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** A conformance-style case folder: model.onnx plus test_data_set_0 inputs. */
export function loadCase(dir: string): { graph: Graph; feeds: Record<string, Tensor> } {
  const graph = readOnnx(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
  const feeds: Record<string, Tensor> = {};
  graph.inputs.forEach((inp, k) => {
    const f = join(dir, 'test_data_set_0', `input_${k}.pb`);
    if (existsSync(f)) feeds[inp.name] = readTensorProto(new Uint8Array(readFileSync(f)), f);
  });
  return { graph, feeds };
}

function bytesOf(t: Tensor): Uint8Array {
  const d = t.data as Uint8Array;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Same dtype, dims and bit pattern (NaN payloads included). */
export function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.type !== b.type || a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return false;
  if (Array.isArray(a.data)) return JSON.stringify(a.data) === JSON.stringify(b.data);
  return Buffer.compare(bytesOf(a), bytesOf(b)) === 0;
}

export function expectSameOutputs(got: Record<string, Tensor>, want: Record<string, Tensor>, what: string): void {
  expect(Object.keys(got).sort(), what).toEqual(Object.keys(want).sort());
  for (const k of Object.keys(want)) expect(sameBits(got[k]!, want[k]!), `${what}: output '${k}' differs`).toBe(true);
}

/** Worst |a-b|/(1+|b|) over all elements. */
function violation(got: Tensor, want: ort.Tensor): number {
  expect([...got.dims]).toEqual([...want.dims]);
  const a = got.data as ArrayLike<number | bigint>;
  const b = want.data as ArrayLike<number | bigint>;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    worst = Math.max(worst, Math.abs(x - y) / (1 + Math.abs(y)));
  }
  return worst;
}

/**
 * Write every part with writeOnnx, load it in onnxruntime-node, feed it the same inputs edgeq's chain
 * gives it and return the worst disagreement with edgeq's outputs for that part.
 */
export async function ortCheckParts(parts: Graph[], feeds: Record<string, Tensor>): Promise<number> {
  let cur = feeds;
  let worst = 0;
  for (const g of parts) {
    const s = InferenceSession.fromGraph(g);
    const f: Record<string, Tensor> = {};
    for (const n of s.inputNames) f[n] = cur[n]!;
    const ours = s.runSync(f);
    const o = await ort.InferenceSession.create(writeOnnx(g));
    const of: Record<string, ort.Tensor> = {};
    for (const n of o.inputNames) of[n] = new ort.Tensor(f[n]!.type as 'float32', f[n]!.data as Float32Array, [...f[n]!.dims]);
    const theirs = await o.run(of);
    for (const n of s.outputNames) worst = Math.max(worst, violation(ours[n]!, theirs[n]!));
    await o.release();
    cur = ours;
  }
  return worst;
}
