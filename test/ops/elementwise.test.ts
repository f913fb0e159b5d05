import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { Graph, type Dim } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { broadcastWalk } from '../../src/ops/broadcast.js';
import { castTensor, erf, f64ToF16, roundHalfEven } from '../../src/ops/elementwise.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../../src/tensor/fp16.js';
import { Tensor } from '../../src/tensor/tensor.js';

type In = { name: string; dtype: DType; shape?: Dim[] };

/** One-node graph: inputs x0, x1, … → y. */
function graph(op: string, ins: In[], attrs: Record<string, any> = {}, inits: Record<string, Tensor> = {}, opset = 21): Graph {
  const g = new Graph();
  g.opsets = { '': opset };
  for (const i of ins) g.inputs.push({ name: i.name, type: { dtype: i.dtype, ...(i.shape ? { shape: i.shape } : {}) } });
  for (const [k, t] of Object.entries(inits)) g.initializers.set(k, t);
  g.nodes.push({ name: 'n0', op, domain: '', inputs: [...ins.map((i) => i.name), ...Object.keys(inits)], outputs: ['y'], attrs });
  g.outputs.push({ name: 'y', type: { dtype: 'float32' } });
  return g;
}

async function run(op: string, feeds: Record<string, Tensor>, attrs: Record<string, any> = {}): Promise<Tensor> {
  const ins = Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.type, shape: [...t.dims] }));
  const s = await InferenceSession.create(graph(op, ins, attrs));
  return (await s.run(feeds)).y!;
}

const arr = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>);

describe('broadcast', () => {
  it('walks broadcast indices in row-major order', () => {
    const seen: number[][] = [];
    broadcastWalk([2, 3, 2], [2, 1, 2], [3, 1], (o, a, b) => seen.push([o, a, b]));
    const want: number[][] = [];
    let o = 0;
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) want.push([o++, i * 2 + k, j]);
    expect(seen).toEqual(want);
  });
  it('broadcasts both ways and handles empty tensors', async () => {
    const y = await run('Add', { a: new Tensor('float32', [1, 2, 3], [3, 1]), b: new Tensor('float32', [10, 20], [1, 2]) });
    expect(y.dims).toEqual([3, 2]);
    expect(arr(y)).toEqual([11, 21, 12, 22, 13, 23]);
    const e = await run('Mul', { a: new Tensor('float32', [], [0, 3]), b: new Tensor('float32', [1, 2, 3], [3]) });
    expect(e.dims).toEqual([0, 3]);
  });
  it('rejects incompatible shapes with a ShapeError naming the node', async () => {
    const g = graph('Add', [
      { name: 'a', dtype: 'float32', shape: [2, 3] },
      { name: 'b', dtype: 'float32', shape: [4] },
    ]);
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(g)).rejects.toThrow(/'n0'/);
  });
  it('rejects mixed dtypes', async () => {
    const g = graph('Add', [
      { name: 'a', dtype: 'float32', shape: [2] },
      { name: 'b', dtype: 'int32', shape: [2] },
    ]);
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
  });
  it('keeps symbolic dims', async () => {
    const g = graph('Add', [
      { name: 'a', dtype: 'float32', shape: ['N', 1, 4] },
      { name: 'b', dtype: 'float32', shape: [3, 1] },
    ]);
    const s = await InferenceSession.create(g);
    expect(s.outputMetadata[0]!.shape).toEqual(['N', 3, 4]);
  });
});

describe('integer arithmetic', () => {
  it('Div truncates toward zero and wraps', async () => {
    const y = await run('Div', { a: new Tensor('int32', [7, -7, 7, -7, -2147483648], [5]), b: new Tensor('int32', [2, 2, -2, -2, -1], [5]) });
    expect(arr(y)).toEqual([3, -3, -3, 3, -2147483648]);
  });
  it('int64 stays exact beyond 2^53', async () => {
    const big = 9007199254740993n;
    const y = await run('Add', { a: new Tensor('int64', [big], [1]), b: new Tensor('int64', [2n], [1]) });
    expect(arr(y)).toEqual([big + 2n]);
    const d = await run('Div', { a: new Tensor('int64', [-7n, 5n], [2]), b: new Tensor('int64', [2n, 0n], [2]) });
    expect(arr(d)).toEqual([-3n, 0n]);
  });
  it('int32 Mul wraps exactly', async () => {
    const y = await run('Mul', { a: new Tensor('int32', [123456789], [1]), b: new Tensor('int32', [987654321], [1]) });
    expect(arr(y)).toEqual([Math.imul(123456789, 987654321)]);
  });
  it('Mod fmod=0 follows the divisor, fmod=1 the dividend', async () => {
    const a = new Tensor('int32', [-4, 7, 5, -5], [4]);
    const b = new Tensor('int32', [3, -3, 3, -3], [4]);
    expect(arr(await run('Mod', { a, b }))).toEqual([2, -2, 2, -2]);
    expect(arr(await run('Mod', { a, b }, { fmod: 1 }))).toEqual([-1, 1, 2, -2]);
    const a64 = new Tensor('int64', [-4n, 7n], [2]);
    const b64 = new Tensor('int64', [3n, -3n], [2]);
    expect(arr(await run('Mod', { a: a64, b: b64 }))).toEqual([2n, -2n]);
  });
  it('Mod on floats requires fmod=1', async () => {
    const g = graph('Mod', [
      { name: 'a', dtype: 'float32', shape: [2] },
      { name: 'b', dtype: 'float32', shape: [2] },
    ]);
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
  });
  it('BitShift handles shifts of the full width', async () => {
    const y = await run('BitShift', { a: new Tensor('uint8', [1, 255], [2]), b: new Tensor('uint8', [7, 8], [2]) }, { direction: 'LEFT' });
    expect(arr(y)).toEqual([128, 0]);
    const r = await run('BitShift', { a: new Tensor('uint64', [1n << 63n], [1]), b: new Tensor('uint64', [63n], [1]) }, { direction: 'RIGHT' });
    expect(arr(r)).toEqual([1n]);
  });
  it('BitShift rejects a bad direction', async () => {
    const g = graph('BitShift', [
      { name: 'a', dtype: 'uint8', shape: [2] },
      { name: 'b', dtype: 'uint8', shape: [2] },
    ], { direction: 'UP' });
    await expect(InferenceSession.create(g)).rejects.toThrow(UnsupportedError);
  });
  it('Pow int64 is exact and mixed types follow X', async () => {
    const y = await run('Pow', { a: new Tensor('int64', [3n], [1]), b: new Tensor('int64', [39n], [1]) });
    expect(arr(y)).toEqual([3n ** 39n]);
    const z = await run('Pow', { a: new Tensor('int32', [2, 3], [2]), b: new Tensor('float32', [0.5, 2], [2]) });
    expect(z.type).toBe('int32');
    expect(arr(z)).toEqual([1, 9]);
  });
});

describe('variadic and comparison', () => {
  it('Max/Min broadcast over many inputs and propagate NaN', async () => {
    const y = await run('Max', { a: new Tensor('float32', [1, NaN], [2]), b: new Tensor('float32', [3], [1]), c: new Tensor('float32', [0, 0, 5, 5], [2, 2]) });
    expect(y.dims).toEqual([2, 2]);
    expect(arr(y)).toEqual([3, NaN, 5, NaN]);
  });
  it('Mean of float16', async () => {
    const h = (v: number[]) => new Tensor('float16', Uint16Array.from(v.map(f32ToF16)), [v.length]);
    const y = await run('Mean', { a: h([1, 2]), b: h([2, 4]), c: h([3, 0]) });
    expect(Array.from(y.data as Uint16Array).map(f16ToF32)).toEqual([2, 2]);
  });
  it('Equal on strings and comparisons on int64', async () => {
    const y = await run('Equal', { a: new Tensor('string', ['a', 'b'], [2]), b: new Tensor('string', ['a'], [1]) });
    expect(y.type).toBe('bool');
    expect(arr(y)).toEqual([1, 0]);
    const l = await run('Less', { a: new Tensor('int64', [9007199254740993n], [1]), b: new Tensor('int64', [9007199254740994n], [1]) });
    expect(arr(l)).toEqual([1]);
  });
  it('Sum rejects integer inputs', async () => {
    const g = graph('Sum', [{ name: 'a', dtype: 'int32', shape: [2] }]);
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
  });
});

describe('Cast', () => {
  it('truncates floats to ints and wraps', () => {
    expect(arr(castTensor(new Tensor('float32', [1.9, -1.9, 300], [3]), 'int8'))).toEqual([1, -1, 44]);
    expect(arr(castTensor(new Tensor('float64', [-2.5], [1]), 'int64'))).toEqual([-2n]);
    expect(arr(castTensor(new Tensor('int64', [-1n], [1]), 'uint8'))).toEqual([255]);
  });
  it('bool and string conversions', () => {
    expect(arr(castTensor(new Tensor('float32', [0, NaN, -0.5], [3]), 'bool'))).toEqual([0, 1, 1]);
    expect(arr(castTensor(new Tensor('string', ['1.5', 'INF', '-INF', 'NaN'], [4]), 'float32'))).toEqual([1.5, Infinity, -Infinity, NaN]);
    expect(castTensor(new Tensor('float32', [0.1, 3], [2]), 'string').data).toEqual(['0.1', '3']);
    expect(arr(castTensor(new Tensor('string', ['9007199254740993'], [1]), 'int64'))).toEqual([9007199254740993n]);
  });
  it('double to float16 rounds once', () => {
    // 1 + 2^-11 + 2^-30 is just above the half-way point between two halves; float32 would round it to the tie
    const x = 1 + 2 ** -11 + 2 ** -30;
    expect(f16ToF32(f64ToF16(x))).toBe(1 + 2 ** -10);
    expect(f64ToF16(65520)).toBe(0x7c00);
  });
  it('rejects unsupported targets with UnsupportedError', async () => {
    const g = graph('Cast', [{ name: 'a', dtype: 'float32', shape: [2] }], { to: 14 }); // complex64
    await expect(InferenceSession.create(g)).rejects.toThrow(UnsupportedError);
  });
  it('requires `to`', async () => {
    const g = graph('Cast', [{ name: 'a', dtype: 'float32', shape: [2] }]);
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
  });
});

describe('unary math', () => {
  it('Round is half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
  });
  it('erf is accurate', () => {
    const cases: [number, number][] = [
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2.9, 0.9999589021219005],
      [3.5, 0.9999992569016276],
      [1e-8, 1.1283791670955126e-8],
    ];
    for (const [x, y] of cases) {
      expect(Math.abs(erf(x) - y)).toBeLessThan(1e-15);
      expect(erf(-x)).toBe(-erf(x));
    }
  });
  it('Abs/Neg keep integer semantics', async () => {
    expect(arr(await run('Abs', { a: new Tensor('int8', [-128, -3], [2]) }))).toEqual([-128, 3]);
    expect(arr(await run('Neg', { a: new Tensor('int64', [-(2n ** 62n)], [1]) }))).toEqual([2n ** 62n]);
  });
  it('Neg rejects unsigned input', async () => {
    const g = graph('Neg', [{ name: 'a', dtype: 'uint8', shape: [2] }]);
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
  });
  it('IsInf honours detect_* attributes', async () => {
    const x = new Tensor('float32', [Infinity, -Infinity, 1, NaN], [4]);
    expect(arr(await run('IsInf', { x }, { detect_negative: 0 }))).toEqual([1, 0, 0, 0]);
    expect(arr(await run('IsNaN', { x }))).toEqual([0, 0, 0, 1]);
  });
  it('BitwiseNot on uint64', async () => {
    expect(arr(await run('BitwiseNot', { a: new Tensor('uint64', [0n], [1]) }))).toEqual([2n ** 64n - 1n]);
  });
});

describe('legacy broadcast (opset ≤ 6)', () => {
  it('aligns B at axis', async () => {
    const g = new Graph();
    g.opsets = { '': 6 };
    g.inputs.push({ name: 'a', type: { dtype: 'float32', shape: [2, 3, 4] } });
    g.nodes.push({ name: 'n0', op: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', type: { dtype: 'float32' } });
    // go through the importer's legacy rewrite
    const { upgradeNode } = await import('../../src/formats/onnx/legacy/index.js');
    g.inputs.push({ name: 'b', type: { dtype: 'float32', shape: [3] } });
    const node = { name: 'n0', op: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['y'], attrs: { broadcast: 1, axis: 1 } };
    g.nodes = upgradeNode(node, 6, g);
    const s = await InferenceSession.create(g);
    const a = new Tensor('float32', new Float32Array(24), [2, 3, 4]);
    const y = (await s.run({ a, b: new Tensor('float32', [1, 2, 3], [3]) })).y!;
    expect(y.dims).toEqual([2, 3, 4]);
    expect(arr(y).slice(0, 12)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  });
});
