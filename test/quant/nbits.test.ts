// Weight-only MatMulNBits (com.microsoft) and dynamic int8 on transformer-style graphs, checked against
// onnxruntime-node (the oracle for ONNX / contrib outputs).
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeMain } from '../../src/cli/quantize.js';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { Graph } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { dequantNBits } from '../../src/ops/contrib.js';
import { compareOutputs, cosine, probeFeeds } from '../../src/quant/compare.js';
import { quantizeNBits } from '../../src/quant/nbits.js';
import { quantize } from '../../src/quant/quantize.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

/** x [M, K] · Transpose(W [N, K]) (the PyTorch nn.Linear export) → y [M, N]; plus a Gemm transB = 1 with bias. */
function linearGraph(M: number, K: number, N: number, seed: number): Graph {
  const r = rng(seed);
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'x', type: { dtype: 'float32', shape: [M, K] } });
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: N * K }, r), [N, K]));
  g.initializers.set('W2', new Tensor('float32', Float32Array.from({ length: N * N }, r), [N, N]));
  g.initializers.set('b2', new Tensor('float32', Float32Array.from({ length: N }, r), [N]));
  g.nodes.push({ name: 't', op: 'Transpose', domain: '', inputs: ['W'], outputs: ['Wt'], attrs: { perm: [1, 0] } });
  g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['x', 'Wt'], outputs: ['h'], attrs: {} });
  g.nodes.push({ name: 'gemm', op: 'Gemm', domain: '', inputs: ['h', 'W2', 'b2'], outputs: ['y'], attrs: { transB: 1 } });
  g.outputs.push({ name: 'y', type: { dtype: 'float32' } });
  return g;
}

async function ortRun(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes);
  const f: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, [...t.dims]);
  const r = await s.run(f);
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
}

describe('MatMulNBits layout', () => {
  // ContribOperators.md MatMulNBits: "B ... [N, k_blocks, blob_size]", 4-bit codes low nibble first,
  // zero_points packed like B per row, default zero point 2^(bits-1); w = (q - zp) * scale.
  it('quantize → dequantize round trip stays within half a step per block, with and without zero points', () => {
    const r = rng(3);
    for (const [K, N, bits, bs, zp] of [[40, 5, 4, 16, true], [64, 3, 8, 32, true], [33, 7, 4, 32, false], [96, 2, 8, 16, false]] as const) {
      const w = Float32Array.from({ length: K * N }, r);
      const q = quantizeNBits(w, K, N, bits, bs, zp);
      expect(q.b.length).toBe(N * Math.ceil(K / bs) * ((bs * bits) / 8));
      const d = dequantNBits(q.gm, q.b, q.scales, q.zp);
      for (let k = 0; k < K; k++)
        for (let n = 0; n < N; n++) {
          const s = Math.abs(q.scales[n * q.gm.kBlocks + Math.floor(k / bs)]!);
          expect(Math.abs(d[k * N + n]! - w[k * N + n]!)).toBeLessThanOrEqual(s * (zp ? 0.5 : 1) + 1e-6);
        }
    }
  });
});

describe('weight-only MatMulNBits files run in onnxruntime-node like in edgeq', () => {
  for (const [bits, zeroPoints, K, bs] of [[4, true, 64, 32], [4, false, 40, 16], [8, true, 48, 32], [8, false, 64, 16]] as const)
    it(`${bits}-bit, ${zeroPoints ? 'zero points' : 'symmetric'}, K=${K}, block ${bs}`, async () => {
      const g = linearGraph(3, K, 24, bits * 100 + K);
      // accuracy_level 0: float compute on both sides, so the outputs agree to float rounding
      const r = await quantize(g, { mode: 'weight-only', weightBits: bits, blockSize: bs, zeroPoints, accuracyLevel: 0 });
      expect(r.skipped).toEqual([]); // the weight behind Transpose was folded
      expect(r.graph.nodes.filter((n) => n.op === 'MatMulNBits').length).toBe(2);
      const feeds = probeFeeds(g, 7);
      const e = InferenceSession.fromGraph(r.graph).runSync(feeds).y!.data as Float32Array;
      const o = (await ortRun(writeOnnx(r.graph), feeds)).y!;
      for (let i = 0; i < o.length; i++) expect(e[i]).toBeCloseTo(o[i]!, 4);
      const [c] = compareOutputs(g, r.graph, feeds);
      expect(c!.cosine).toBeGreaterThan(bits === 8 ? 0.9999 : 0.99);
      // accuracy_level 4 (the default): each runtime may round A to int8 its own way (edgeq per row, onnxruntime per
      // block), so the two agree to that rounding, not to float rounding
      const r4 = await quantize(g, { mode: 'weight-only', weightBits: bits, blockSize: bs, zeroPoints });
      expect(r4.graph.nodes.filter((n) => n.op === 'MatMulNBits').every((n) => n.attrs.accuracy_level === 4)).toBe(true);
      const e4 = InferenceSession.fromGraph(r4.graph).runSync(feeds).y!.data as Float32Array;
      const o4 = (await ortRun(writeOnnx(r4.graph), feeds)).y!;
      expect(cosine(e4, o4)).toBeGreaterThan(0.9999);
      expect(cosine(e4, e)).toBeGreaterThan(0.9999);
    });
});

describe('GatherBlockQuantized (quantized embedding tables)', () => {
  // ContribOperators.md com.microsoft.GatherBlockQuantized: Gather of a block-quantized constant; uint8 data packs two
  // 4-bit codes per byte (low nibble first), scales [rows, cols / block_size], zero_points packed like data, default
  // zero point 8 (4 bits) / 128 (8 bits); output = (code − zero_point) · scale. onnxruntime-node is the oracle.
  for (const [bits, zp, bs] of [[4, false, 32], [4, true, 16], [8, false, 32], [8, true, 16]] as const)
    it(`${bits}-bit, ${zp ? 'zero points' : 'default zero point'}, block ${bs}: same values as onnxruntime-node`, async () => {
      const R = 7;
      const C = 64;
      const nb = C / bs;
      const zl = bits === 4 ? Math.ceil(nb / 2) : nb;
      const g = new Graph();
      g.opsets = { '': 17, 'com.microsoft': 1 };
      g.inputs.push({ name: 'i', type: { dtype: 'int64', shape: [2, 2] } });
      g.initializers.set('d', new Tensor('uint8', Uint8Array.from({ length: (R * C * bits) / 8 }, (_, k) => (k * 37 + 11) & 255), [R, (C * bits) / 8]));
      g.initializers.set('s', new Tensor('float32', Float32Array.from({ length: R * nb }, (_, k) => 0.1 + k * 0.01), [R, nb]));
      if (zp) g.initializers.set('z', new Tensor('uint8', Uint8Array.from({ length: R * zl }, (_, k) => (k * 53 + 3) & 255), [R, zl]));
      g.nodes.push({ name: 'g', op: 'GatherBlockQuantized', domain: 'com.microsoft', inputs: zp ? ['d', 'i', 's', 'z'] : ['d', 'i', 's'], outputs: ['y'], attrs: { bits, block_size: bs, gather_axis: 0, quantize_axis: 1 } });
      g.outputs.push({ name: 'y', type: { dtype: 'float32' } });
      const idx = new Tensor('int64', BigInt64Array.from([6n, 0n, -2n, 3n]), [2, 2]);
      const e = InferenceSession.fromGraph(g).runSync({ i: idx }).y!;
      expect(e.dims).toEqual([2, 2, C]);
      const o = (await ortRun(writeOnnx(g), { i: idx })).y!;
      expect(Array.from(e.data as Float32Array)).toEqual(Array.from(o));
    });

  it('weight-only quantization stores a table only Gather reads as GatherBlockQuantized (cosine vs fp32 ≥ 0.99)', async () => {
    const r = rng(11);
    const g = new Graph();
    g.opsets = { '': 17 };
    g.inputs.push({ name: 'ids', type: { dtype: 'int64', shape: [5] } });
    g.initializers.set('emb', new Tensor('float32', Float32Array.from({ length: 200 * 128 }, r), [200, 128]));
    g.nodes.push({ name: 'gather', op: 'Gather', domain: '', inputs: ['emb', 'ids'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', type: { dtype: 'float32' } });
    const q = await quantize(g, { mode: 'weight-only', weightBits: 4 });
    expect(q.graph.nodes.map((n) => n.op)).toEqual(['GatherBlockQuantized']);
    expect(q.layers.some((l) => l.op === 'table' && l.weightBits === 4)).toBe(true);
    const out = writeOnnx(q.graph);
    expect(out.length).toBeLessThan(0.2 * writeOnnx(g).length);
    const feeds = { ids: new Tensor('int64', BigInt64Array.from([0n, 199n, 7n, 7n, 42n]), [5]) };
    const [c] = compareOutputs(g, q.graph, feeds);
    expect(c!.cosine).toBeGreaterThan(0.99);
    const e = InferenceSession.fromGraph(q.graph).runSync(feeds).y!.data as Float32Array;
    expect(Array.from(e)).toEqual(Array.from((await ortRun(out, feeds)).y!));
  });
});

describe('transformer encoder (shared data)', () => {
  const rel = 'transformer/encoder_d256_l4.onnx';
  for (const [label, opts, maxRatio, minCos] of [
    ['dynamic int8', { mode: 'dynamic' }, 0.3, 0.999],
    ['weight-only int4', { mode: 'weight-only', weightBits: 4 }, 0.2, 0.99],
  ] as const)
    it.skipIf(!hasData(rel))(`${label}: every linear layer quantized, file ≤ ${maxRatio * 100} % of fp32, cosine ≥ ${minCos}, onnxruntime-node agrees`, async () => {
      const bytes = readFileSync(dataPath(rel));
      const g = readOnnx(bytes);
      const r = await quantize(g, opts);
      // only the activation × activation attention MatMuls stay float
      expect(r.skipped.filter((s) => s.op === 'MatMul' || s.op === 'Gemm').every((s) => /activation × activation|not a float32 initializer/.test(s.reason))).toBe(true);
      expect(r.layers.filter((l) => l.op === 'MatMul' || l.op === 'Gemm').length).toBe(16);
      const out = writeOnnx(r.graph);
      expect(out.length / bytes.length).toBeLessThanOrEqual(maxRatio);
      const feeds = probeFeeds(g, 5);
      const [c] = compareOutputs(g, r.graph, feeds);
      expect(c!.cosine).toBeGreaterThanOrEqual(minCos);
      const e = InferenceSession.fromGraph(r.graph).runSync(feeds).embedding!.data as Float32Array;
      const o = (await ortRun(out, feeds)).embedding!;
      // dynamic int8: the same float32 steps on both sides; int4 at accuracy_level 4: A rounded to int8 differently
      expect(cosine(e, o)).toBeGreaterThan(opts.mode === 'dynamic' ? 0.99999 : 0.9999);
    });
});

describe('edgeq quantize CLI on the encoder (shared data)', () => {
  const rel = 'transformer/encoder_d256_l4.onnx';
  it.skipIf(!hasData(rel))('--weight-bits 4 --block-size 64 writes MatMulNBits and reports cosine per output; --exclude keeps a layer float', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-nbits-'));
    const out = join(dir, 'q4.onnx');
    let text = '';
    const code = await quantizeMain([dataPath(rel), out, '--weight-bits', '4', '--block-size', '64', '--exclude', '/enc/layers.0/linear1/MatMul', '--json'], { out: (s: string) => (text += s), err: () => {} } as never);
    expect(code).toBe(0);
    const j = JSON.parse(text);
    expect(j.mode).toBe('weight-only');
    expect(j.outputs[0].name).toBe('embedding');
    expect(j.outputs[0].cosine).toBeGreaterThan(0.99);
    expect(j.skipped.some((s: { node: string; reason: string }) => s.node === '/enc/layers.0/linear1/MatMul' && s.reason === 'excluded')).toBe(true);
    expect(j.bytes.after).toBe(statSync(out).size);
    const g = readOnnx(readFileSync(out));
    const nb = g.nodes.filter((n) => n.op === 'MatMulNBits');
    expect(nb.length).toBe(15);
    expect(nb.every((n) => n.attrs.block_size === 64 && n.attrs.bits === 4)).toBe(true);
  });
});
