import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, InferenceSession, ShapeError, Tensor, UnsupportedError } from '../../src/index.js';
import type { Dim, ValueType } from '../../src/index.js';
import '../../src/ops/index.js';
import { layerGraph as graph } from '../helpers/op-graph.js';

const f32 = (dims: number[], v?: number[]) => new Tensor('float32', Float32Array.from(v ?? Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => i + 1)), dims);
const t = (dtype: ValueType['dtype'], shape?: Dim[]): ValueType => ({ dtype, shape });

describe('MatMul', () => {
  it('broadcasts batch dims and promotes 1-D operands', async () => {
    const s = await InferenceSession.create(graph('MatMul', [t('float32', [2, 1, 2, 3]), t('float32', [3])]), { backend: 'reference' });
    const r = await s.run({ in0: f32([2, 1, 2, 3]), in1: f32([3], [1, 0, -1]) });
    expect(r.out0!.dims).toEqual([2, 1, 2]);
    expect(Array.from(r.out0!.data as Float32Array)).toEqual([-2, -2, -2, -2]);
  });
  it('infers symbolic shapes and rejects a K mismatch with a ShapeError naming the node', async () => {
    const s = await InferenceSession.create(graph('MatMul', [t('float32', ['B', 4, 5]), t('float32', [5, 6])]));
    expect(s.outputMetadata[0]!.shape).toEqual(['B', 4, 6]);
    await expect(InferenceSession.create(graph('MatMul', [t('float32', [4, 5]), t('float32', [4, 6])]))).rejects.toThrow(/'n0'.*inner dimensions/);
    await expect(InferenceSession.create(graph('MatMul', [t('float32', [2, 4, 5]), t('float32', [3, 5, 6])]))).rejects.toBeInstanceOf(ShapeError);
    await expect(InferenceSession.create(graph('MatMul', [t('float32', []), t('float32', [3])]))).rejects.toBeInstanceOf(ShapeError);
    await expect(InferenceSession.create(graph('MatMul', [t('float32', [2, 3]), t('int32', [3, 2])]))).rejects.toBeInstanceOf(ShapeError);
  });
  it('handles int32 (wrapping) and int64 (BigInt)', async () => {
    const s = await InferenceSession.create(graph('MatMul', [t('int64', [1, 2]), t('int64', [2, 1])]));
    const r = await s.run({ in0: new Tensor('int64', [3n, 4n], [1, 2]), in1: new Tensor('int64', [5n, 6n], [2, 1]) });
    expect(r.out0!.data).toEqual(BigInt64Array.of(39n));
    const s2 = await InferenceSession.create(graph('MatMul', [t('int32', [1, 1]), t('int32', [1, 1])]));
    const r2 = await s2.run({ in0: new Tensor('int32', [65536], [1, 1]), in1: new Tensor('int32', [65536], [1, 1]) });
    expect(r2.out0!.data).toEqual(Int32Array.of(0));
  });
  it('handles an empty K dimension (zeros)', async () => {
    const s = await InferenceSession.create(graph('MatMul', [t('float32', [2, 0]), t('float32', [0, 3])]), { backend: 'reference' });
    const r = await s.run({ in0: f32([2, 0]), in1: f32([0, 3]) });
    expect(Array.from(r.out0!.data as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('WASM kernel agrees with the reference (constant B)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 17 }), (m, k, n) => {
        const b = f32([k, n], Array.from({ length: k * n }, (_, i) => Math.sin(i)));
        const a = f32([m, k], Array.from({ length: m * k }, (_, i) => Math.cos(i)));
        const run = (backend: 'wasm' | 'reference') => InferenceSession.fromGraph(graph('MatMul', [t('float32', [m, k]), b]), { backend }).runSync({ in0: a }).out0!;
        const w = run('wasm').data as Float32Array;
        const r = run('reference').data as Float32Array;
        r.forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
      }),
      { numRuns: 40 },
    );
  });
});

describe('Gemm', () => {
  it('applies transA/transB/alpha/beta and broadcasts C per row and column', async () => {
    const A = f32([3, 2]); // transA -> 2x3
    const B = f32([4, 3]); // transB -> 3x4
    const s = await InferenceSession.create(graph('Gemm', [t('float32', [3, 2]), B, f32([2, 1], [10, 20])], { transA: 1, transB: 1, alpha: 0.5, beta: 2 }), { backend: 'reference' });
    const r = await s.run({ in0: A });
    const a = [1, 3, 5, 2, 4, 6]; // A^T
    const bt = (p: number, j: number) => j * 3 + p + 1; // B^T[p][j]
    const want: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) {
      let acc = 0;
      for (let p = 0; p < 3; p++) acc += a[i * 3 + p]! * bt(p, j);
      want.push(0.5 * acc + 2 * (i === 0 ? 10 : 20));
    }
    expect(r.out0!.dims).toEqual([2, 4]);
    expect(Array.from(r.out0!.data as Float32Array)).toEqual(want);
  });
  it('rejects bad shapes with ShapeError and integer Gemm with UnsupportedError', async () => {
    await expect(InferenceSession.create(graph('Gemm', [t('float32', [2, 3]), t('float32', [4, 5])]))).rejects.toThrow(/'n0'.*inner/);
    await expect(InferenceSession.create(graph('Gemm', [t('float32', [2, 3]), t('float32', [3, 5]), t('float32', [3, 5])]))).rejects.toBeInstanceOf(ShapeError);
    await expect(InferenceSession.create(graph('Gemm', [t('float32', [2, 3, 1]), t('float32', [3, 5])]))).rejects.toBeInstanceOf(ShapeError);
    await expect(InferenceSession.create(graph('Gemm', [t('float32', [2, 3]), t('float32', [3, 5])], { transA: 2 }))).rejects.toBeInstanceOf(ShapeError);
    await expect(InferenceSession.create(graph('Gemm', [t('int32', [2, 3]), t('int32', [3, 5])]))).rejects.toBeInstanceOf(UnsupportedError);
  });
  it('WASM kernel agrees with the reference (constant B and C, transB)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 17 }), fc.boolean(), (m, k, n, tb) => {
        const b = f32(tb ? [n, k] : [k, n], Array.from({ length: k * n }, (_, i) => Math.sin(i)));
        const c = f32([n], Array.from({ length: n }, (_, i) => i - 2));
        const a = f32([m, k], Array.from({ length: m * k }, (_, i) => Math.cos(i)));
        const run = (backend: 'wasm' | 'reference') => InferenceSession.fromGraph(graph('Gemm', [t('float32', [m, k]), b, c], { transB: tb ? 1 : 0, alpha: 1.5, beta: 0.5 }), { backend }).runSync({ in0: a }).out0!;
        const w = run('wasm').data as Float32Array;
        const r = run('reference').data as Float32Array;
        r.forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
      }),
      { numRuns: 40 },
    );
  });
});
