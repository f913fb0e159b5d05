// data_layout / weight_layout on the ONNX Conv / MaxPool / AveragePool definitions (the TFLite importer maps float
// CONV_2D, DEPTHWISE_CONV_2D, *_POOL_2D onto them): checked against the ai.edgeq.tflite definitions, against the
// default NCHW/OIHW path on transposed data, and for bad inputs, kernels and the ONNX writer.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InferenceSession, ShapeError, Tensor, UnsupportedError, readTflite, writeOnnx } from '../../src/index.js';
import { TFL_DOMAIN } from '../../src/ops/tflite.js';
import { type In, graph } from '../helpers/op-graph.js';
import { dataPath, hasData } from '../helpers/data.js';

const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 2);
const f32 = (dims: number[], seed: number) => new Tensor('float32', rnd(dims.reduce((a, b) => a * b, 1), seed), dims);
const feed = (name: string, t: Tensor): In => ({ name, feed: t });
const init = (name: string, t: Tensor): In => ({ name, init: t });

async function runOp(op: string, ins: In[], attrs: Record<string, any>, domain = '', backend?: 'reference'): Promise<Tensor> {
  const g = graph(op, ins, attrs);
  g.nodes[0]!.domain = domain;
  if (domain) g.opsets[domain] = 1;
  const s = await InferenceSession.create(g, backend ? { backend } : {});
  const feeds: Record<string, Tensor> = {};
  for (const i of ins) if (i !== '' && i.feed) feeds[i.name] = i.feed;
  return s.runSync(feeds)[s.outputNames[0]!]!;
}

/** Permute a tensor's dims (plain loop; test helper only). */
function permute(t: Tensor, perm: number[]): Tensor {
  const d = t.dims;
  const od = perm.map((p) => d[p]!);
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  const strides = d.map((_, i) => d.slice(i + 1).reduce((a, b) => a * b, 1));
  const idx = new Array(d.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let r = o;
    for (let k = od.length - 1; k >= 0; k--) {
      idx[perm[k]!] = r % od[k]!;
      r = Math.floor(r / od[k]!);
    }
    out[o] = src[idx.reduce((a, v, i) => a + v * strides[i]!, 0)]!;
  }
  return new Tensor('float32', out, od);
}
const close = (a: Tensor, b: Tensor) => {
  expect(a.dims).toEqual(b.dims);
  const x = a.data as Float32Array, y = b.data as Float32Array;
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(y[i]!)));
};

describe('Conv data_layout NHWC / weight_layout OHWI, 1HWO', () => {
  it('grouped, strided, dilated SAME_UPPER conv matches NCHW Conv on transposed data (reference and default backend)', async () => {
    const X = f32([2, 7, 6, 4], 1);
    const W = f32([6, 3, 2, 2], 2); // OHWI, 2 groups of 2 input channels
    const B = f32([6], 3);
    const attrs = { auto_pad: 'SAME_UPPER', strides: [2, 1], dilations: [1, 2], group: 2, data_layout: 'NHWC', weight_layout: 'OHWI' };
    const y = await runOp('Conv', [feed('x', X), init('w', W), init('b', B)], attrs, '', 'reference');
    expect(y.dims).toEqual([2, 4, 6, 6]);
    const yc = await runOp('Conv', [feed('x', permute(X, [0, 3, 1, 2])), init('w', permute(W, [0, 3, 1, 2])), init('b', B)], { ...attrs, data_layout: 'NCHW', weight_layout: 'OIHW' });
    close(y, permute(yc, [0, 2, 3, 1]));
    // the default (WASM) backend must leave NHWC to the reference: same answer
    close(await runOp('Conv', [feed('x', X), init('w', W), init('b', B)], attrs), y);
  });
  it('depthwise 1HWO (multiplier 2, VALID) matches NCHW/OIHW Conv on transposed data', async () => {
    const X = f32([1, 5, 5, 3], 4);
    const W = f32([1, 3, 3, 6], 5);
    const B = f32([6], 6);
    const y = await runOp('Conv', [feed('x', X), init('w', W), init('b', B)], { auto_pad: 'VALID', group: 3, data_layout: 'NHWC', weight_layout: '1HWO' });
    expect(y.dims).toEqual([1, 3, 3, 6]);
    const yc = await runOp('Conv', [feed('x', permute(X, [0, 3, 1, 2])), init('w', permute(W, [3, 0, 1, 2])), init('b', B)], { auto_pad: 'VALID', group: 3 });
    close(y, permute(yc, [0, 2, 3, 1]));
  });
  it('keeps symbolic dims and rejects bad layouts with errors naming the node', async () => {
    const g = graph('Conv', [{ name: 'x', dtype: 'float32', shape: ['N', 8, 8, 3] }, init('w', f32([5, 3, 3, 3], 1))], { auto_pad: 'SAME_UPPER', strides: [2, 2], data_layout: 'NHWC', weight_layout: 'OHWI' });
    expect((await InferenceSession.create(g)).outputMetadata[0]!.shape).toEqual(['N', 4, 4, 5]);
    const bad = async (ins: In[], attrs: Record<string, any>, re: RegExp, cls: typeof ShapeError | typeof UnsupportedError = ShapeError) => {
      const e = await InferenceSession.create(graph('Conv', ins, attrs)).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(cls);
      expect(String(e)).toMatch(/n0/);
      expect(String(e)).toMatch(re);
    };
    const x = { name: 'x', dtype: 'float32', shape: [1, 8, 8, 4] } as In;
    await bad([x, init('w', f32([2, 3, 3, 8], 1))], { group: 4, data_layout: 'NHWC', weight_layout: '1HWO' }, /leading 1/);
    await bad([x, init('w', f32([5, 3, 3, 3], 1))], { data_layout: 'NHWC', weight_layout: 'OHWI' }, /4 channels but W expects 3/);
    await bad([x, init('w', f32([5, 3, 3, 4], 1))], { data_layout: 'NCWH' }, /data_layout/, UnsupportedError);
    await bad([x, init('w', f32([5, 3, 3, 4], 1))], { weight_layout: 'HWIO' }, /weight_layout/, UnsupportedError);
  });
});

describe('ConvTranspose data_layout NHWC / weight_layout OHWI (TFLite TRANSPOSE_CONV)', () => {
  it('grouped, strided, padded, output_padding: matches NCHW/ONNX-layout ConvTranspose on transposed data', async () => {
    const X = f32([2, 4, 3, 4], 11);
    const W = f32([6, 3, 2, 2], 12); // OHWI: (M = 6, kH, kW, C/group = 2), group 2
    const B = f32([6], 13);
    const attrs = { strides: [2, 3], pads: [1, 0, 0, 1], output_padding: [1, 0], dilations: [1, 2], group: 2 };
    const y = await runOp('ConvTranspose', [feed('x', X), init('w', W), init('b', B)], { ...attrs, data_layout: 'NHWC', weight_layout: 'OHWI' });
    // ONNX W is (C, M/group, k…): W_onnx[g·2 + c, j, kh, kw] = W_ohwi[g·3 + j, kh, kw, c]
    const w = W.data as Float32Array;
    const wo = new Float32Array(w.length);
    for (let g = 0; g < 2; g++)
      for (let c = 0; c < 2; c++)
        for (let j = 0; j < 3; j++)
          for (let k = 0; k < 6; k++) wo[((g * 2 + c) * 3 + j) * 6 + k] = w[((g * 3 + j) * 6 + k) * 2 + c]!;
    const yc = await runOp('ConvTranspose', [feed('x', permute(X, [0, 3, 1, 2])), init('w', new Tensor('float32', wo, [4, 3, 3, 2])), init('b', B)], attrs);
    close(y, permute(yc, [0, 2, 3, 1]));
  });
});

describe('MaxPool / AveragePool data_layout NHWC', () => {
  for (const [op, tfl] of [['MaxPool', 'MAX_POOL_2D'], ['AveragePool', 'AVERAGE_POOL_2D']] as const) {
    it(`${op} SAME_UPPER matches TFLite ${tfl} (padding excluded from the average) and NCHW on transposed data`, async () => {
      const X = f32([2, 5, 7, 3], 7);
      const attrs = { auto_pad: 'SAME_UPPER', kernel_shape: [3, 2], strides: [2, 2], data_layout: 'NHWC' };
      const y = await runOp(op, [feed('x', X)], attrs);
      expect(y.dims).toEqual([2, 3, 4, 3]);
      close(y, await runOp(tfl, [feed('x', X)], { padding: 'SAME', stride_h: 2, stride_w: 2, filter_height: 3, filter_width: 2 }, TFL_DOMAIN));
      const yc = await runOp(op, [feed('x', permute(X, [0, 3, 1, 2]))], { ...attrs, data_layout: 'NCHW' });
      close(y, permute(yc, [0, 2, 3, 1]));
    });
  }
  it('refuses the MaxPool Indices output in NHWC', async () => {
    const g = graph('MaxPool', [{ name: 'x', dtype: 'float32', shape: [1, 4, 4, 2] }], { kernel_shape: [2, 2], data_layout: 'NHWC' }, 2);
    await expect(InferenceSession.create(g)).rejects.toBeInstanceOf(UnsupportedError);
  });
});

describe('ONNX writer and TFLite importer', () => {
  it('writeOnnx refuses non-default layouts and still writes the defaults', () => {
    const g = graph('Conv', [{ name: 'x', dtype: 'float32', shape: [1, 4, 4, 2] }, init('w', f32([3, 1, 1, 2], 1))], { data_layout: 'NHWC', weight_layout: 'OHWI' });
    expect(() => writeOnnx(g)).toThrow(/data_layout NHWC/);
    const q = graph('QLinearAdd', [{ name: 'a', dtype: 'int8', shape: [2] }, init('as', f32([], 1)), { name: 'az', dtype: 'int8', shape: [] }, { name: 'b', dtype: 'int8', shape: [2] }, init('bs', f32([], 1)), { name: 'bz', dtype: 'int8', shape: [] }, init('cs', f32([], 1)), { name: 'cz', dtype: 'int8', shape: [] }], { rounding: 'tflite' });
    q.nodes[0]!.domain = 'com.microsoft';
    expect(() => writeOnnx(q)).toThrow(/rounding tflite/);
    const g2 = graph('Conv', [{ name: 'x', dtype: 'float32', shape: [1, 2, 4, 4] }, init('w', f32([3, 2, 1, 1], 1))]);
    expect(writeOnnx(g2).length).toBeGreaterThan(0);
  });
  it.runIf(hasData('tflite/hello_world_float.tflite'))('float FULLY_CONNECTED imports as ONNX Gemm', () => {
    const g = readTflite(new Uint8Array(readFileSync(dataPath('tflite/hello_world_float.tflite'))));
    expect(g.nodes.map((n) => n.op).sort()).toEqual(['Gemm', 'Gemm', 'Gemm', 'Relu', 'Relu']);
  });
  const hands = (() => {
    try {
      const p = join(dirname(createRequire(import.meta.url).resolve('@mediapipe/hands/package.json')), 'hand_landmark_lite.tflite');
      return existsSync(p) ? p : undefined;
    } catch {
      return undefined;
    }
  })();
  it.runIf(hands)('the float hand_landmark_lite model imports without any ai.edgeq.tflite node', () => {
    const g = readTflite(new Uint8Array(readFileSync(hands!)));
    expect(g.nodes.filter((n) => n.domain !== '')).toEqual([]);
    const conv = g.nodes.find((n) => n.op === 'Conv')!;
    expect(conv.attrs.data_layout).toBe('NHWC');
  });
});
