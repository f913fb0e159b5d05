import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { upgradeNode } from '../../src/formats/onnx/legacy/index.js';
import { type Dim, Graph, type Node } from '../../src/ir/graph.js';
import { analyze } from '../../src/ir/infer.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../../src/tensor/fp16.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** An input: a Tensor becomes a feed (or an initializer when `const`), a type stays symbolic. */
type In = { name: string; t?: Tensor; dtype?: DType; shape?: Dim[]; const?: boolean } | '';

function graph(op: string, ins: In[], attrs: Record<string, any> = {}, nOut = 1, opset = 22): Graph {
  const g = new Graph();
  g.opsets = { '': opset };
  for (const i of ins) {
    if (i === '') continue;
    if (i.const && i.t) g.initializers.set(i.name, i.t);
    else g.inputs.push({ name: i.name, type: { dtype: i.t?.type ?? i.dtype!, ...(i.t ? { shape: [...i.t.dims] } : i.shape ? { shape: i.shape } : {}) } });
  }
  const outs = Array.from({ length: nOut }, (_, k) => `y${k}`);
  g.nodes.push({ name: 'n0', op, domain: '', inputs: ins.map((i) => (i === '' ? '' : i.name)), outputs: outs, attrs });
  for (const o of outs) g.outputs.push({ name: o, type: { dtype: 'float32' } });
  return g;
}

async function run(op: string, ins: In[], attrs: Record<string, any> = {}, nOut = 1): Promise<Tensor[]> {
  const s = await InferenceSession.create(graph(op, ins, attrs, nOut));
  const feeds: Record<string, Tensor> = {};
  for (const i of ins) if (i !== '' && i.t && !i.const) feeds[i.name] = i.t;
  const r = await s.run(feeds);
  return Array.from({ length: nOut }, (_, k) => r[`y${k}`]!);
}
const run1 = async (op: string, ins: In[], attrs: Record<string, any> = {}) => (await run(op, ins, attrs))[0]!;

const arr = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint | string>);
const f32 = (v: number[], dims = [v.length]) => new Tensor('float32', v, dims);
const i64 = (v: number[], dims = [v.length]) => new Tensor('int64', v.map(BigInt), dims);
const x = (t: Tensor): In => ({ name: 'x', t });
const c = (name: string, t: Tensor): In => ({ name, t, const: true });
const iota = (n: number, dims: number[]) => f32(Array.from({ length: n }, (_, i) => i), dims);

/** Static output type of node n0's first output after analysis. */
function staticType(op: string, ins: In[], attrs: Record<string, any> = {}) {
  return analyze(graph(op, ins, attrs)).types.get('y0');
}

async function rejects(op: string, ins: In[], attrs: Record<string, any> = {}, Err: any = ShapeError, nOut = 1) {
  const err = await run(op, ins, attrs, nOut).then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(Err);
  if (Err === ShapeError) expect(err.message).toContain("'n0'");
}

describe('Reshape', () => {
  it('infers -1 and copies 0 over symbolic dims', () => {
    expect(staticType('Reshape', [{ name: 'x', dtype: 'float32', shape: ['N', 3, 4] }, c('s', i64([0, -1]))])?.shape).toEqual(['N', 12]);
    // the symbol survives a -1 whose known factors divide out; otherwise the dim is unknown
    expect(staticType('Reshape', [{ name: 'x', dtype: 'float32', shape: ['N', 3, 4] }, c('s', i64([-1, 12]))])?.shape).toEqual(['N', 12]);
    expect(staticType('Reshape', [{ name: 'x', dtype: 'float32', shape: ['N', 3, 4] }, c('s', i64([-1, 8]))])?.shape).toEqual(['?', 8]);
    expect(staticType('Reshape', [{ name: 'x', dtype: 'float32', shape: [2, 3, 4] }, c('s', i64([0, -1]))])?.shape).toEqual([2, 12]);
  });
  it('allowzero keeps a literal 0 dim', async () => {
    const y = await run1('Reshape', [x(f32([], [0, 3])), c('s', i64([3, 0]))], { allowzero: 1 });
    expect(y.dims).toEqual([3, 0]);
  });
  it('rejects bad shapes', async () => {
    await rejects('Reshape', [x(iota(6, [2, 3])), c('s', i64([4, -1]))]);
    await rejects('Reshape', [x(iota(6, [2, 3])), c('s', i64([-1, -1]))]);
    await rejects('Reshape', [x(iota(6, [2, 3])), c('s', i64([-2, -3]))]);
    await rejects('Reshape', [x(f32([], [0, 3])), c('s', i64([0, -1]))], { allowzero: 1 });
    await rejects('Reshape', [x(iota(6, [2, 3])), c('s', i64([7]))]);
  });
  it('rejects a huge shape without allocating', async () => {
    await rejects('Reshape', [x(iota(1, [1])), c('s', i64([65536, 65536, 65536]))]);
  });
  it('data-dependent shape from a graph input', async () => {
    const y = await run1('Reshape', [x(iota(6, [2, 3])), { name: 's', t: i64([3, 2]) }]);
    expect(y.dims).toEqual([3, 2]);
  });
});

describe('Transpose / Squeeze / Unsqueeze / Flatten', () => {
  it('transposes float16 and strings', async () => {
    const h = new Tensor('float16', Uint16Array.from([1, 2, 3, 4, 5, 6].map(f32ToF16)), [2, 3]);
    const y = await run1('Transpose', [x(h)]);
    expect(y.type).toBe('float16');
    expect(Array.from(y.data as Uint16Array).map(f16ToF32)).toEqual([1, 4, 2, 5, 3, 6]);
    const s = await run1('Transpose', [x(new Tensor('string', ['a', 'b', 'c', 'd'], [2, 2]))], { perm: [1, 0] });
    expect(arr(s)).toEqual(['a', 'c', 'b', 'd']);
  });
  it('rejects a bad perm', async () => {
    await rejects('Transpose', [x(iota(6, [2, 3]))], { perm: [0, 0] });
    await rejects('Transpose', [x(iota(6, [2, 3]))], { perm: [0] });
  });
  it('Squeeze rejects a non-1 dim and removes all 1s without axes', async () => {
    await rejects('Squeeze', [x(iota(6, [2, 3])), c('a', i64([0]))]);
    expect((await run1('Squeeze', [x(iota(3, [1, 3, 1]))])).dims).toEqual([3]);
  });
  it('Unsqueeze with unsorted and negative axes; duplicates rejected', async () => {
    expect((await run1('Unsqueeze', [x(iota(6, [2, 3])), c('a', i64([-1, 0]))])).dims).toEqual([1, 2, 3, 1]);
    await rejects('Unsqueeze', [x(iota(6, [2, 3])), c('a', i64([0, -4]))]);
    await rejects('Unsqueeze', [x(iota(6, [2, 3])), c('a', i64([5]))]);
  });
  it('Flatten axis range is [-r, r]', async () => {
    expect((await run1('Flatten', [x(iota(6, [2, 3]))], { axis: 2 })).dims).toEqual([6, 1]);
    await rejects('Flatten', [x(iota(6, [2, 3]))], { axis: 3 });
  });
});

describe('Concat / Split', () => {
  it('Concat rejects mismatched dims and dtypes', async () => {
    await rejects('Concat', [{ name: 'a', t: iota(6, [2, 3]) }, { name: 'b', t: iota(4, [2, 2]) }], { axis: 0 });
    await rejects('Concat', [{ name: 'a', t: iota(2, [2]) }, { name: 'b', t: i64([1]) }], { axis: 0 });
    await rejects('Concat', [{ name: 'a', t: iota(2, [2]) }], { axis: 1 });
  });
  it('Concat handles empty inputs and int64', async () => {
    const y = await run1('Concat', [{ name: 'a', t: i64([], [0, 2]) }, { name: 'b', t: i64([1, 2], [1, 2]) }], { axis: 0 });
    expect(arr(y)).toEqual([1n, 2n]);
  });
  it('Split num_outputs: last chunk smaller', async () => {
    const ys = await run('Split', [x(iota(5, [5]))], { num_outputs: 3 }, 3);
    expect(ys.map((t) => arr(t))).toEqual([[0, 1], [2, 3], [4]]);
  });
  it('Split rejects a bad split and even split of an odd axis', async () => {
    await rejects('Split', [x(iota(5, [5])), c('s', i64([2, 2]))], {}, ShapeError, 2);
    await rejects('Split', [x(iota(5, [5]))], {}, ShapeError, 2);
    await rejects('Split', [x(iota(5, [5])), c('s', i64([2, 3]))], { num_outputs: 2 }, ShapeError, 2);
  });
});

describe('Slice', () => {
  it('negative steps with INT64 extremes clamp per spec', async () => {
    const big = new Tensor('int64', [9223372036854775807n], [1]);
    const small = new Tensor('int64', [-9223372036854775808n], [1]);
    const y = await run1('Slice', [x(iota(5, [5])), c('s', big), c('e', small), c('a', i64([0])), c('st', i64([-2]))]);
    expect(arr(y)).toEqual([4, 2, 0]);
  });
  it('int32 indices and empty result', async () => {
    const i32 = (v: number[]) => new Tensor('int32', Int32Array.from(v), [v.length]);
    const y = await run1('Slice', [x(iota(5, [5])), c('s', i32([3])), c('e', i32([1]))]);
    expect(y.dims).toEqual([0]);
  });
  it('rejects step 0, duplicate axes and mixed index types', async () => {
    await rejects('Slice', [x(iota(5, [5])), c('s', i64([0])), c('e', i64([3])), c('a', i64([0])), c('st', i64([0]))]);
    await rejects('Slice', [x(iota(6, [2, 3])), c('s', i64([0, 0])), c('e', i64([1, 1])), c('a', i64([0, -2]))]);
    await rejects('Slice', [x(iota(5, [5])), c('s', i64([0])), c('e', new Tensor('int32', Int32Array.of(3), [1]))]);
  });
  it('symbolic input keeps unsliced dims', () => {
    const t = staticType('Slice', [{ name: 'x', dtype: 'float32', shape: ['N', 8] }, c('s', i64([2])), c('e', i64([6])), c('a', i64([1]))]);
    expect(t?.shape).toEqual(['N', 4]);
  });
});

describe('Expand / Tile', () => {
  it('Expand is bidirectional and rejects clashes', async () => {
    const y = await run1('Expand', [x(iota(3, [3, 1])), c('s', i64([2, 1, 2]))]);
    expect(y.dims).toEqual([2, 3, 2]);
    expect(arr(y)).toEqual([0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
    await rejects('Expand', [x(iota(3, [3])), c('s', i64([2]))]);
  });
  it('Tile with zero repeats and bad repeats', async () => {
    expect((await run1('Tile', [x(iota(2, [2])), c('r', i64([0]))])).dims).toEqual([0]);
    await rejects('Tile', [x(iota(2, [2])), c('r', i64([1, 1]))]);
    await rejects('Tile', [x(iota(2, [2])), c('r', i64([-1]))]);
  });
});

describe('Pad', () => {
  const d = () => x(iota(4, [4]));
  it('modes', async () => {
    expect(arr(await run1('Pad', [d(), c('p', i64([2, 3]))], { mode: 'reflect' }))).toEqual([2, 1, 0, 1, 2, 3, 2, 1, 0]);
    expect(arr(await run1('Pad', [d(), c('p', i64([2, 3]))], { mode: 'edge' }))).toEqual([0, 0, 0, 1, 2, 3, 3, 3, 3]);
    expect(arr(await run1('Pad', [d(), c('p', i64([5, 1]))], { mode: 'wrap' }))).toEqual([3, 0, 1, 2, 3, 0, 1, 2, 3, 0]);
    expect(arr(await run1('Pad', [d(), c('p', i64([1, 1])), c('v', f32([7], []))]))).toEqual([7, 0, 1, 2, 3, 7]);
  });
  it('negative pads crop', async () => {
    expect(arr(await run1('Pad', [d(), c('p', i64([-1, 1]))]))).toEqual([1, 2, 3, 0]);
    await rejects('Pad', [d(), c('p', i64([-3, -2]))]);
  });
  it('axes input and validation', async () => {
    const y = await run1('Pad', [x(iota(4, [2, 2])), c('p', i64([1, 0])), '', c('a', i64([-1]))]);
    expect(y.dims).toEqual([2, 3]);
    await rejects('Pad', [d(), c('p', i64([1]))]);
    await rejects('Pad', [d(), c('p', i64([4, 0]))], { mode: 'reflect' });
    await rejects('Pad', [x(f32([], [0])), c('p', i64([1, 0]))], { mode: 'edge' });
    await rejects('Pad', [d(), c('p', i64([1, 0])), c('v', i64([1], []))]);
  });
  it('unknown mode is unsupported', async () => {
    await rejects('Pad', [d(), c('p', i64([1, 0]))], { mode: 'mirror' }, UnsupportedError);
  });
});

describe('Shape / Size / Identity', () => {
  it('Shape folds from static types and handles start/end', async () => {
    const a = analyze(graph('Shape', [{ name: 'x', dtype: 'float32', shape: ['N', 3, 4] }], { start: 1 }));
    expect(arr(a.consts.get('y0')!)).toEqual([3n, 4n]);
    const y = await run1('Shape', [x(iota(24, [2, 3, 4]))], { start: -5, end: 2 });
    expect(arr(y)).toEqual([2n, 3n]);
    const z = await run1('Shape', [x(iota(24, [2, 3, 4]))], { start: 2, end: 1 });
    expect(z.dims).toEqual([0]);
  });
  it('Size of an empty tensor', async () => {
    expect(arr(await run1('Size', [x(f32([], [2, 0]))]))).toEqual([0n]);
  });
});

describe('DepthToSpace / SpaceToDepth / ReverseSequence', () => {
  it('round trips DCR', async () => {
    const t = iota(16, [1, 4, 2, 2]);
    const d = await run1('DepthToSpace', [x(t)], { blocksize: 2 });
    expect(d.dims).toEqual([1, 1, 4, 4]);
    const s = await run1('SpaceToDepth', [x(d)], { blocksize: 2 });
    expect(arr(s)).toEqual(arr(t));
  });
  it('rejects indivisible dims', async () => {
    await rejects('DepthToSpace', [x(iota(12, [1, 3, 2, 2]))], { blocksize: 2 });
    await rejects('SpaceToDepth', [x(iota(12, [1, 1, 3, 4]))], { blocksize: 2 });
    await rejects('DepthToSpace', [x(iota(4, [4]))], { blocksize: 2 });
  });
  it('ReverseSequence', async () => {
    const y = await run1('ReverseSequence', [x(iota(6, [3, 2])), c('l', i64([3, 1]))], { batch_axis: 1, time_axis: 0 });
    expect(arr(y)).toEqual([4, 1, 2, 3, 0, 5]);
    await rejects('ReverseSequence', [x(iota(6, [3, 2])), c('l', i64([4, 1]))]);
  });
});

describe('generators', () => {
  it('Constant needs exactly one value', async () => {
    await rejects('Constant', [], {});
    await rejects('Constant', [], { value_int: 1, value_float: 2 });
    expect(arr(await run1('Constant', [], { value_ints: [1, 2] }))).toEqual([1n, 2n]);
  });
  it('ConstantOfShape', async () => {
    const y = await run1('ConstantOfShape', [c('s', i64([2, 2]))], { value: new Tensor('int32', Int32Array.of(7), [1]) });
    expect(y.type).toBe('int32');
    expect(arr(y)).toEqual([7, 7, 7, 7]);
    await rejects('ConstantOfShape', [c('s', i64([-1]))]);
    await rejects('ConstantOfShape', [c('s', i64([2]))], { value: f32([1, 2]) });
  });
  it('Range: int64 exact, empty, delta 0 rejected', async () => {
    const s = (v: number) => new Tensor('int64', [BigInt(v)], []);
    expect(arr(await run1('Range', [{ name: 'a', t: s(10) }, { name: 'b', t: s(4) }, { name: 'c', t: s(-3) }]))).toEqual([10n, 7n]);
    expect((await run1('Range', [{ name: 'a', t: s(0) }, { name: 'b', t: s(4) }, { name: 'c', t: s(-1) }])).dims).toEqual([0]);
    await rejects('Range', [{ name: 'a', t: s(0) }, { name: 'b', t: s(4) }, { name: 'c', t: s(0) }]);
    await rejects('Range', [{ name: 'a', t: f32([0], []) }, { name: 'b', t: f32([1e12], []) }, { name: 'c', t: f32([1], []) }]);
  });
  it('EyeLike with k and dtype', async () => {
    const y = await run1('EyeLike', [x(iota(6, [2, 3]))], { k: 1, dtype: 7 });
    expect(arr(y)).toEqual([0n, 1n, 0n, 0n, 0n, 1n]);
    await rejects('EyeLike', [x(iota(3, [3]))]);
  });
  it('OneHot: float indices, negative, out of range', async () => {
    const y = await run1('OneHot', [x(f32([1.7, -1, 5])), c('d', f32([3], [])), c('v', f32([0, 1]))]);
    expect(arr(y)).toEqual([0, 1, 0, 0, 0, 1, 0, 0, 0]);
    await rejects('OneHot', [x(f32([1])), c('d', f32([0], [])), c('v', f32([0, 1]))]);
    await rejects('OneHot', [x(f32([1])), c('d', f32([3], [])), c('v', f32([0, 1]))], { axis: 2 });
  });
  it('Trilu on int32 batches and rank check', async () => {
    const t = new Tensor('int32', Int32Array.from({ length: 8 }, (_, i) => i + 1), [2, 2, 2]);
    expect(arr(await run1('Trilu', [x(t)], { upper: 0 }))).toEqual([1, 0, 3, 4, 5, 0, 7, 8]);
    await rejects('Trilu', [x(f32([1]))]);
  });
});

describe('legacy forms', () => {
  const up = (node: Partial<Node> & { op: string }, opset: number, g = new Graph()) =>
    upgradeNode({ name: 'n', domain: '', inputs: ['x'], outputs: ['y'], attrs: {}, ...node }, opset, g);
  it('Slice-1 attrs become inputs', () => {
    const g = new Graph();
    const [n] = up({ op: 'Slice', attrs: { starts: [1], ends: [3], axes: [0] } }, 9, g);
    expect(n!.inputs.length).toBe(4);
    expect(n!.attrs).toEqual({});
    expect(arr(g.initializers.get(n!.inputs[1]!)!)).toEqual([1n]);
  });
  it('Squeeze-11 / Unsqueeze-11 / Split-11 / Reshape-1 / Pad-2', () => {
    expect(up({ op: 'Squeeze', attrs: { axes: [0] } }, 11)[0]!.inputs.length).toBe(2);
    expect(up({ op: 'Squeeze', attrs: {} }, 11)[0]!.inputs.length).toBe(1);
    expect(up({ op: 'Unsqueeze', attrs: { axes: [0] } }, 12)[0]!.inputs.length).toBe(2);
    expect(up({ op: 'Split', attrs: { split: [1, 2], axis: 0 }, outputs: ['a', 'b'] }, 11)[0]!.attrs).toEqual({ axis: 0 });
    expect(up({ op: 'Reshape', attrs: { shape: [2, -1] } }, 4)[0]!.inputs.length).toBe(2);
    expect(up({ op: 'Split', attrs: { axis: 1 }, outputs: ['a', 'b'] }, 13)[0]!.attrs).toEqual({ axis: 1, num_outputs: 2 });
    expect(up({ op: 'Split', inputs: ['x', 's'], attrs: {}, outputs: ['a', 'b'] }, 13)[0]!.attrs).toEqual({});
    const g = new Graph();
    const [p] = up({ op: 'Pad', attrs: { pads: [1, 1], value: 2, mode: 'constant' } }, 2, g);
    expect(p!.inputs.length).toBe(3);
    expect(arr(g.initializers.get(p!.inputs[2]!)!)).toEqual([2]);
  });
  it('upgraded Pad-2 runs', async () => {
    const g = graph('Pad', [x(iota(2, [2]))], {}, 1, 2);
    g.nodes = upgradeNode({ ...g.nodes[0]!, attrs: { pads: [1, 0], value: 9 } }, 2, g);
    const s = await InferenceSession.create(g);
    expect(arr((await s.run({ x: iota(2, [2]) })).y0!)).toEqual([9, 0, 1]);
  });
});
