import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, InferenceSession, ShapeError, Tensor, UnsupportedError, f16ToF32, f32ToF16 } from '../../src/index.js';
import type { Dim, ValueType } from '../../src/index.js';
import '../../src/ops/index.js';
import { layerGraph as graph } from '../helpers/op-graph.js';

const seq = (n: number, f = (i: number) => i + 1) => Array.from({ length: n }, (_, i) => f(i));
const f32 = (dims: number[], v?: number[]) => new Tensor('float32', Float32Array.from(v ?? seq(dims.reduce((a, b) => a * b, 1))), dims);
const t = (dtype: ValueType['dtype'], shape?: Dim[]): ValueType => ({ dtype, shape });
const create = (g: Graph) => InferenceSession.create(g, { backend: 'reference' });

describe('Conv', () => {
  it('computes a grouped, padded, strided, dilated 2-D conv against a naive formula', async () => {
    const X = f32([1, 4, 5, 5], seq(100, (i) => Math.sin(i)));
    const W = f32([6, 2, 2, 3], seq(72, (i) => Math.cos(i)));
    const B = f32([6], seq(6));
    const attrs = { group: 2, pads: [1, 0, 1, 2], strides: [2, 1], dilations: [1, 2] };
    const r = (await create(graph('Conv', [t('float32', [1, 4, 5, 5]), W, B], attrs))).runSync({ in0: X }).out0!;
    // out H = floor((5+2-2)/2)+1 = 3; W = floor((5+2-5)/1)+1 = 3
    expect(r.dims).toEqual([1, 6, 3, 3]);
    const x = X.data as Float32Array;
    const w = W.data as Float32Array;
    for (let m = 0; m < 6; m++)
      for (let oh = 0; oh < 3; oh++)
        for (let ow = 0; ow < 3; ow++) {
          let acc = m + 1;
          const g = Math.floor(m / 3);
          for (let c = 0; c < 2; c++)
            for (let kh = 0; kh < 2; kh++)
              for (let kw = 0; kw < 3; kw++) {
                const ih = oh * 2 - 1 + kh;
                const iw = ow - 0 + kw * 2;
                if (ih < 0 || ih >= 5 || iw < 0 || iw >= 5) continue;
                acc += x[(g * 2 + c) * 25 + ih * 5 + iw]! * w[((m * 2 + c) * 2 + kh) * 3 + kw]!;
              }
          expect((r.data as Float32Array)[(m * 3 + oh) * 3 + ow]).toBeCloseTo(acc, 5);
        }
  });
  it('keeps symbolic N and rejects inconsistent inputs with ShapeErrors naming the node', async () => {
    const s = await create(graph('Conv', [t('float32', ['N', 3, 8, 8]), t('float32', [5, 3, 3, 3])], { auto_pad: 'SAME_UPPER', strides: [2, 2] }));
    expect(s.outputMetadata[0]!.shape).toEqual(['N', 5, 4, 4]);
    const bad = [
      graph('Conv', [t('float32', [1, 4, 8, 8]), t('float32', [5, 3, 3, 3])]), // channels
      graph('Conv', [t('float32', [1, 4, 8, 8]), t('float32', [5, 2, 3, 3])], { group: 2 }), // M % group
      graph('Conv', [t('float32', [1, 3, 8, 8]), t('float32', [5, 3, 3, 3])], { kernel_shape: [3, 2] }),
      graph('Conv', [t('float32', [1, 3, 8, 8]), t('float32', [5, 3, 3, 3])], { pads: [1, 1] }),
      graph('Conv', [t('float32', [1, 3, 2, 2]), t('float32', [5, 3, 3, 3])]), // output would be 0
      graph('Conv', [t('float32', [1, 3, 8, 8]), t('float32', [5, 3, 3])]), // rank mismatch
      graph('Conv', [t('float32', [1, 3, 8, 8]), t('float32', [5, 3, 3, 3]), t('float32', [4])]), // bias size
      graph('Conv', [t('float32', [1, 3, 8, 8]), t('float16', [5, 3, 3, 3])]), // dtype
      graph('Conv', [t('float32', [1, 3, 8, 8]), t('float32', [5, 3, 3, 3])], { group: 0 }),
      graph('Conv', [t('int32', [1, 3, 8, 8]), t('int32', [5, 3, 3, 3])]),
    ];
    for (const g of bad) await expect(create(g)).rejects.toThrow(ShapeError);
    await expect(create(bad[0]!)).rejects.toThrow(/'n0' \(Conv\)/);
    await expect(create(graph('Conv', [t('float32', [1, 1, 2, 2, 2, 2]), t('float32', [1, 1, 1, 1, 1, 1])]))).rejects.toBeInstanceOf(UnsupportedError);
  });
  it('runs float16 and float64 1-D convs', async () => {
    const w = [1, -1, 2];
    for (const dtype of ['float16', 'float64'] as const) {
      const mk = (v: number[], dims: number[]) => (dtype === 'float16' ? new Tensor('float16', Uint16Array.from(v.map(f32ToF16)), dims) : new Tensor('float64', Float64Array.from(v), dims));
      const s = await create(graph('Conv', [t(dtype, [1, 1, 4]), mk(w, [1, 1, 3])], { pads: [1, 1] }));
      const r = s.runSync({ in0: mk([1, 2, 3, 4], [1, 1, 4]) }).out0!;
      expect(r.type).toBe(dtype);
      const vals = dtype === 'float16' ? Array.from(r.data as Uint16Array, f16ToF32) : Array.from(r.data as Float64Array);
      expect(vals).toEqual([3, 5, 7, -1]);
    }
  });
  it('WASM kernel agrees with the reference over random geometry', () => {
    fc.assert(
      fc.property(
        fc.record({ c: fc.integer({ min: 1, max: 3 }), m: fc.integer({ min: 1, max: 5 }), h: fc.integer({ min: 3, max: 7 }), w: fc.integer({ min: 3, max: 7 }), k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 2 }), d: fc.integer({ min: 1, max: 2 }), p: fc.integer({ min: 0, max: 1 }), auto: fc.constantFrom('NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID') }),
        ({ c, m, h, w, k, s, d, p, auto }) => {
          if ((k - 1) * d + 1 > Math.min(h, w)) return;
          const W = f32([m, c, k, k], seq(m * c * k * k, (i) => Math.sin(i)));
          const B = f32([m], seq(m, (i) => i / 3));
          const X = f32([2, c, h, w], seq(2 * c * h * w, (i) => Math.cos(i)));
          const attrs = { strides: [s, s], dilations: [d, d], auto_pad: auto, ...(auto === 'NOTSET' ? { pads: [p, p, 0, p] } : {}) };
          const run = (backend: 'wasm' | 'reference') => InferenceSession.fromGraph(graph('Conv', [t('float32', [2, c, h, w]), W, B], attrs), { backend }).runSync({ in0: X }).out0!;
          const a = run('wasm');
          const b = run('reference');
          expect(a.dims).toEqual(b.dims);
          (b.data as Float32Array).forEach((v, i) => expect(Math.abs(v - (a.data as Float32Array)[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('ConvTranspose', () => {
  it('output_shape larger than the natural size extends the output with zeros (negative total padding)', async () => {
    // natural size 1·(2-1)+0+1 = 2 with k=1; output_shape 4 → total padding -2
    const W = f32([1, 1, 1], [1]);
    const run = async (auto: string) => (await create(graph('ConvTranspose', [t('float32', [1, 1, 2]), W], { output_shape: [4], auto_pad: auto }))).runSync({ in0: f32([1, 1, 2], [5, 6]) }).out0!;
    expect(Array.from((await run('SAME_UPPER')).data as Float32Array)).toEqual([0, 5, 6, 0]);
    expect(Array.from((await run('NOTSET')).data as Float32Array)).toEqual([0, 5, 6, 0]);
    const up = await create(graph('ConvTranspose', [t('float32', [1, 1, 3]), W], { output_shape: [4], auto_pad: 'SAME_UPPER' }));
    // total padding -1: floor division as in the ONNX reference (pads_begin = -1 for SAME_UPPER, 0 otherwise)
    expect(Array.from(up.runSync({ in0: f32([1, 1, 3], [1, 2, 3]) }).out0!.data as Float32Array)).toEqual([0, 1, 2, 3]);
    const lo = await create(graph('ConvTranspose', [t('float32', [1, 1, 3]), W], { output_shape: [4] }));
    expect(Array.from(lo.runSync({ in0: f32([1, 1, 3], [1, 2, 3]) }).out0!.data as Float32Array)).toEqual([1, 2, 3, 0]);
  });
  it('accepts a full (N, C, …) output_shape and groups', async () => {
    const s = await create(graph('ConvTranspose', [t('float32', [1, 4, 3, 3]), f32([4, 3, 2, 2])], { group: 2, strides: [2, 2], output_shape: [1, 6, 7, 7] }));
    expect(s.outputMetadata[0]!.shape).toEqual([1, 6, 7, 7]);
  });
  it('rejects bad inputs', async () => {
    const bad = [
      graph('ConvTranspose', [t('float32', [1, 3, 4, 4]), t('float32', [2, 2, 3, 3])]), // C vs W[0]
      graph('ConvTranspose', [t('float32', [1, 3, 4, 4]), t('float32', [3, 2, 3, 3])], { group: 2 }),
      graph('ConvTranspose', [t('float32', [1, 2, 4, 4]), t('float32', [2, 2, 3, 3])], { output_padding: [1] }),
      graph('ConvTranspose', [t('float32', [1, 2, 4, 4]), t('float32', [2, 2, 3, 3])], { output_shape: [0, 5] }),
      graph('ConvTranspose', [t('float32', [1, 2, 1, 1]), t('float32', [2, 2, 1, 1])], { pads: [1, 1, 1, 1] }),
      graph('ConvTranspose', [t('float32', [1, 2, 4, 4]), t('float32', [2, 2, 3, 3]), t('float32', [3])], { group: 2 }),
    ];
    for (const g of bad) await expect(create(g)).rejects.toThrow(ShapeError);
  });
});
