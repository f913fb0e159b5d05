import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { Graph, type Dim } from '../../src/ir/graph.js';
import { upgradeNode } from '../../src/formats/onnx/legacy/index.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { type In, arr, graph, i64, run } from '../helpers/op-graph.js';

const f32 = (v: number[], dims = [v.length]) => new Tensor('float32', v, dims);


const sc = (v: number[]) => ({ name: 'scales', init: new Tensor('float32', v, [v.length]) });
const sz = (v: number[]) => ({ name: 'sizes', init: i64(v) });

describe('Resize', () => {
  it('scales and sizes together / neither are ShapeErrors', async () => {
    const x = { name: 'x', dtype: 'float32' as DType, shape: [1, 1, 2, 2] };
    await expect(InferenceSession.create(graph('Resize', [x, '', sc([1, 1, 2, 2]), sz([1, 1, 4, 4])]))).rejects.toThrow(/n0.*only one/);
    await expect(InferenceSession.create(graph('Resize', [x]))).rejects.toThrow(ShapeError);
  });
  it('wrong scales length, non-positive scales, bad axes', async () => {
    const x = { name: 'x', dtype: 'float32' as DType, shape: [1, 1, 2, 2] };
    await expect(InferenceSession.create(graph('Resize', [x, '', sc([2, 2])]))).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('Resize', [x, '', sc([1, 1, 0, 2])]))).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('Resize', [x, '', sc([2, 2])], { axes: [2, 4] }))).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(graph('Resize', [x, '', sc([2, 2])], { axes: [2, -2] }))).rejects.toThrow(ShapeError);
  });
  it('unknown mode is unsupported', async () => {
    const x = { name: 'x', dtype: 'float32' as DType, shape: [1, 2] };
    await expect(InferenceSession.create(graph('Resize', [x, '', sc([1, 2])], { mode: 'area' }))).rejects.toThrow(UnsupportedError);
  });
  it('nearest copies int64 exactly', async () => {
    const [y] = await run('Resize', [{ name: 'x', feed: i64([9007199254740993n, 1n], [1, 2]) }, '', sc([1, 2])], { nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' });
    expect(arr(y!)).toEqual([9007199254740993n, 9007199254740993n, 1n, 1n]);
  });
  it('linear on uint8 rounds', async () => {
    const [y] = await run('Resize', [{ name: 'x', feed: new Tensor('uint8', [0, 255], [2]) }, '', '', sz([3])], { mode: 'linear', coordinate_transformation_mode: 'align_corners' });
    expect(arr(y!)).toEqual([0, 128, 255]);
  });
  it('symbolic batch dims are kept', async () => {
    const s = await InferenceSession.create(graph('Resize', [{ name: 'x', dtype: 'float32', shape: ['N', 3, 4, 4] }, '', sc([2, 2])], { axes: [2, 3] }));
    expect(s.outputMetadata[0]!.shape).toEqual(['N', 3, 8, 8]);
  });
  it('tf_crop_and_resize extrapolates outside the roi', async () => {
    const roi = { name: 'roi', init: f32([-1, 1]) };
    const [y] = await run('Resize', [{ name: 'x', feed: f32([1, 2]) }, roi, '', sz([3])], { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: 7 });
    expect(arr(y!)).toEqual([7, 1, 2]);
  });
  it('Upsample-7 (scales attribute) is upgraded and runs', async () => {
    const g = new Graph();
    g.opsets = { '': 7 };
    g.inputs.push({ name: 'x', type: { dtype: 'float32', shape: [1, 2] } });
    const node = { name: 'u', op: 'Upsample', domain: '', inputs: ['x'], outputs: ['y0'], attrs: { scales: [1, 2], mode: 'nearest' } };
    g.nodes.push(...upgradeNode(node, 7, g));
    g.outputs.push({ name: 'y0', type: { dtype: 'float32' } });
    const s = await InferenceSession.create(g);
    expect(arr((await s.run({ x: f32([1, 2], [1, 2]) })).y0!)).toEqual([1, 1, 2, 2]);
  });
  it('Resize-10 becomes Upsample (ceil when downsampling)', async () => {
    const g = new Graph();
    const [up] = upgradeNode({ name: 'r', op: 'Resize', domain: '', inputs: ['x', 's'], outputs: ['y'], attrs: {} }, 10, g);
    expect(up!.op).toBe('Upsample');
    const [y] = await run('Upsample', [{ name: 'x', feed: f32([1, 2, 3, 4]) }, { name: 's', init: f32([0.5]) }]);
    expect(arr(y!)).toEqual([1, 3]);
  });
});

describe('Resize symbolic shapes', () => {
  it('scale-1 symbolic axes and stretch sizes stay known', async () => {
    const a = await InferenceSession.create(graph('Resize', [{ name: 'x', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }, '', sc([1, 1, 2, 2])]));
    expect(a.outputMetadata[0]!.shape).toEqual(['N', 3, 'n0:out2', 'n0:out3']);
    const b = await InferenceSession.create(graph('Resize', [{ name: 'x', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }, '', '', sz([5, 6])], { axes: [2, 3] }));
    expect(b.outputMetadata[0]!.shape).toEqual(['N', 3, 5, 6]);
    const s = await b.run({ x: f32(new Array(2 * 3 * 2 * 2).fill(1), [2, 3, 2, 2]) });
    expect(s.y0!.dims).toEqual([2, 3, 5, 6]);
  });

  // ONNX Resize: "Each dimension value of the output tensor is: output_dimension = floor(input_dimension * (roi_end -
  // roi_start) * scale)" and nearest interpolates "N-D as nested 1-D" — so resizing all axes at once equals resizing
  // one axis after the other (the `axes` attribute). The reference gathers every axis in one pass (ops/resize.ts
  // resizeNearest); this holds it to the per-axis composition over ranks 1–4, every coordinate mode (incl.
  // tf_crop_and_resize's extrapolation) and rounding mode, rows copied as blocks (an axis of 16+ left as is last) and element by element.
  it('nearest over all axes at once equals one axis after the other (reference, property)', async () => {
    const ctms = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_crop_and_resize', 'tf_half_pixel_for_nn'];
    const modes = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ d: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.integer({ min: 16, max: 18 }) }), o: fc.integer({ min: 1, max: 20 }), keep: fc.boolean(), lo: fc.double({ min: 0, max: 0.5, noNaN: true }), hi: fc.double({ min: 0.5, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...ctms),
        fc.constantFrom(...modes),
        fc.constantFrom('float32', 'int32'),
        async (axes, ctm, nearest_mode, dtype) => {
          const dims = axes.map((a) => a.d);
          const outs = axes.map((a) => (a.keep ? a.d : a.o));
          const n = dims.reduce((p, d) => p * d, 1);
          const x = new Tensor(dtype as DType, Array.from({ length: n }, (_, i) => i + 1), dims);
          const crop = ctm === 'tf_crop_and_resize';
          const attrs = { mode: 'nearest', coordinate_transformation_mode: ctm, nearest_mode, extrapolation_value: -7 };
          const roi = (ks: number[]) => (crop ? { name: 'roi', init: new Tensor('float32', [...ks.map((k) => axes[k]!.lo), ...ks.map((k) => axes[k]!.hi)], [2 * ks.length]) } : ('' as const));
          const once = async (t: Tensor, ks: number[], sizes: number[], extra: Record<string, unknown>) => {
            const s = await InferenceSession.create(graph('Resize', [{ name: 'x', dtype: t.type, shape: [...t.dims] }, roi(ks), '', sz(sizes)], { ...attrs, ...extra }), { backend: 'reference' });
            return (await s.run({ x: t })).y0!;
          };
          const all = await once(x, dims.map((_, k) => k), outs, {});
          let seq = x;
          for (let k = 0; k < dims.length; k++) seq = await once(seq, [k], [outs[k]!], { axes: [k] });
          expect(all.dims).toEqual(seq.dims);
          expect(arr(all)).toEqual(arr(seq));
        },
      ),
      { numRuns: 80 },
    );
  });
});

