// A sealed ONNX model taken apart while it is decrypted (src/formats/sealed-scatter.ts): whatever the piece sizes the
// decryption hands over, the skeleton parsed with its prefilled weights reads as the same graph as the plain bytes;
// when the scanner meets something it does not follow, finish() gives back the plaintext byte for byte; and any
// byte string either comes back unchanged or reads with the same outcome as the original.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readModel } from '../../src/formats/detect.js';
import { OnnxScatter } from '../../src/formats/sealed-scatter.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Graph } from '../../src/ir/graph.js';
import { dataPath, hasData } from '../helpers/data.js';

function scatter(bytes: Uint8Array, cuts: number[]): ReturnType<OnnxScatter['finish']> {
  const s = new OnnxScatter(bytes.length);
  let at = 0;
  for (const c of [...cuts.map((x) => Math.floor(x * bytes.length)).sort((a, b) => a - b), bytes.length]) {
    // the piece is wiped after push, as the decryption does
    const piece = bytes.slice(at, Math.max(at, c));
    s.push(piece);
    piece.fill(0xee);
    at = Math.max(at, c);
  }
  return s.finish();
}

function bytesOf(t: { data: unknown }): Uint8Array {
  const d = t.data as Uint8Array;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function sameGraph(a: Graph, b: Graph): void {
  expect(a.nodes.map((n) => [n.op, n.inputs, n.outputs, JSON.stringify(Object.keys(n.attrs ?? {}))])).toEqual(b.nodes.map((n) => [n.op, n.inputs, n.outputs, JSON.stringify(Object.keys(n.attrs ?? {}))]));
  expect(a.inputs.map((i) => i.name)).toEqual(b.inputs.map((i) => i.name));
  expect(a.outputs.map((o) => o.name)).toEqual(b.outputs.map((o) => o.name));
  expect([...a.initializers.keys()]).toEqual([...b.initializers.keys()]);
  for (const [name, t] of b.initializers) {
    const u = a.initializers.get(name)!;
    expect(u.type).toBe(t.type);
    expect(u.dims).toEqual(t.dims);
    expect(Buffer.compare(bytesOf(u), bytesOf(t)), name).toBe(0);
  }
}

function outcome(bytes: Uint8Array, opts: Parameters<typeof readModel>[1]): Graph | string {
  try {
    return readModel(bytes, opts);
  } catch (e) {
    return (e as Error).constructor.name;
  }
}

const models = ['mnist/lenet.onnx', 'bench/squeezenet1_1.onnx', 'bench/mobilenet_v2.onnx'];

describe('OnnxScatter', () => {
  it.each(models)('%s: any piece sizes → a skeleton of a few KB whose prefilled weights read as the plain graph', (rel) => {
    if (!hasData(rel)) return;
    const model = new Uint8Array(readFileSync(dataPath(rel)));
    const ref = readModel(model);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: rel.includes('mobilenet') ? 6 : 40 }), (cuts) => {
        const r = scatter(model, cuts);
        expect(r.prefilled).toBeDefined();
        expect(r.bytes.length).toBeLessThan(model.length / 10);
        const g = readModel(r.bytes, { owned: true, prefilled: r.prefilled! });
        sameGraph(g, ref);
        // every moved weight is the tensor's own buffer (aliased, not copied again)
        const own = new Set([...r.prefilled!.values()].map((b) => b.buffer));
        let moved = 0;
        for (const t of g.initializers.values()) if (own.has((t.data as Uint8Array).buffer)) moved++;
        expect(moved).toBe(r.prefilled!.size);
      }),
      { numRuns: rel.includes('mobilenet') ? 4 : 30 },
    );
  });

  it('byte flips, truncations and random bytes: the plaintext comes back unchanged, or the skeleton reads with the same outcome', () => {
    if (!hasData('mnist/lenet.onnx')) return;
    const model = new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));
    const mutant = fc.oneof(
      fc.record({ at: fc.nat(), v: fc.integer({ min: 0, max: 255 }), len: fc.constant(-1) }),
      fc.record({ at: fc.constant(0), v: fc.constant(0), len: fc.nat() }),
    );
    let unchanged = 0;
    fc.assert(
      fc.property(fc.array(mutant, { minLength: 1, maxLength: 4 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }), (ms, cuts) => {
        let b = model.slice();
        for (const m of ms) {
          if (m.len >= 0) b = b.slice(0, m.len % (b.length + 1));
          else if (b.length) b[m.at % b.length] = m.v;
        }
        const r = scatter(b, cuts);
        if (!r.prefilled) {
          unchanged++;
          expect(Buffer.compare(r.bytes, b)).toBe(0);
          return;
        }
        const want = outcome(b, {});
        const got = outcome(r.bytes, { owned: true, prefilled: r.prefilled });
        if (typeof want === 'string' || typeof got === 'string') expect(got).toEqual(want);
        else sameGraph(got, want);
      }),
      { numRuns: 300 },
    );
    expect(unchanged).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const r = scatter(b, [0.5]);
        if (!r.prefilled) expect(Buffer.compare(r.bytes, b)).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('a plain ONNX file path is read piece by piece into the skeleton: the same outputs as from bytes, and a damaged file fails as its bytes do', async () => {
    if (!hasData('mnist/lenet.onnx')) return;
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-scatter-'));
    try {
      const model = new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx')));
      const p = join(dir, 'lenet.onnx');
      writeFileSync(p, model);
      const a = await InferenceSession.create(model);
      const b = await InferenceSession.create(p);
      sameGraph(b.graph, a.graph);
      const x = new Tensor('float32', Float32Array.from({ length: 784 }, (_, i) => Math.sin(i)), [1, 1, 28, 28]);
      const [ya, yb] = [await a.run({ [a.inputNames[0]!]: x }), await b.run({ [b.inputNames[0]!]: x })];
      expect(Buffer.compare(bytesOf(yb[b.outputNames[0]!]!), bytesOf(ya[a.outputNames[0]!]!))).toBe(0);
      await Promise.all([a.release(), b.release()]);
      for (const cut of [model.length - 1, model.length >> 1, 100]) {
        const bad = join(dir, `cut${cut}.onnx`);
        writeFileSync(bad, model.subarray(0, cut));
        const err = async (src: string | Uint8Array) => InferenceSession.create(src).then(() => 'loaded', (e: Error) => `${e.constructor.name}: ${e.message}`);
        expect(await err(bad)).toBe(await err(model.subarray(0, cut)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
