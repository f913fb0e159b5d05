// Transpose sinking (src/ir/passes/transpose-sink.ts, docs/layout.md "Converted models").
// ONNX Transpose: "Transpose the input tensor similar to numpy.transpose. For example, when perm=(1, 0, 2), given an
// input tensor of shape (1, 2, 3), the output shape will be (2, 1, 3)" — perm: "A list of integers. By default,
// reverse the dimensions, otherwise permute the axes according to the values given."
// So output[i_0, …, i_{r−1}] = input at index j with j[perm[k]] = i_k: moving a Transpose past an elementwise op,
// a broadcast with a (permuted) constant, or an op with axes (renamed) changes no element's arithmetic. The pass's
// output graph must give the same outputs as the graph as written (both on the TS reference): bit for bit, except a
// ReduceSum / ReduceMean / ReduceL2 over several axes, whose summation order follows the memory order of the axes
// (there: 1e-6 of the output's scale). And it must never execute more Transposes (count or elements) than the
// graph as written.
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { tfliteToOnnxGraph } from '../../../src/convert/tflite.js';
import { readModel } from '../../../src/formats/detect.js';
import { writeOnnx } from '../../../src/formats/onnx/writer.js';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import { Graph, type Node } from '../../../src/ir/graph.js';
import { analyze } from '../../../src/ir/infer.js';
import { sinkTransposes } from '../../../src/ir/passes/transpose-sink.js';
import '../../../src/ops/index.js';
import { Executor } from '../../../src/runtime/executor.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { rng } from '../../helpers/ort-oracle.js';
import { buildTflite } from '../../helpers/tflite-builder.js';

/** count and total elements of the Transposes a graph executes (constant ones are folded at load) */
function transposes(g: Graph): { count: number; elems: number } {
  const { types, consts } = analyze(g);
  let count = 0;
  let elems = 0;
  for (const n of g.nodes) {
    if (n.op !== 'Transpose' || consts.has(n.inputs[0]!)) continue;
    count++;
    elems += (types.get(n.outputs[0]!)!.shape as number[]).reduce((a, b) => a * b, 1);
  }
  return { count, elems };
}

const ref = (g: Graph, feeds: Record<string, Tensor>) => new Executor(g, { backend: 'reference' }).run(feeds);

interface Val {
  name: string;
  dims: number[];
}

const UNARY = ['Relu', 'Sigmoid', 'Neg', 'Abs', 'Tanh', 'HardSwish', 'LeakyRelu', 'Clip', 'Exp'];
const BINARY = ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'PRelu', 'Pow'];

/**
 * A random DAG over one input of rank 3–5: Transposes by a perm p, its inverse or a random perm; the ops the pass
 * moves Transposes through (random constants of broadcast shapes, random axes: unary, broadcasting binary, Concat,
 * Split, Pad, Reduce*, Slice, comparisons, per-axis Q→DQ, ArgMax/ArgMin, nearest Resize); values reused by several nodes and
 * some of them graph outputs. Returns whether a reduction over several axes sums (order may differ: tolerance).
 */
function randomGraph(seed: number, steps: number): { g: Graph; feeds: Record<string, Tensor>; sums: boolean } {
  const r = rng(seed);
  const int = (n: number) => Math.min(n - 1, Math.floor((r() + 0.5) * n));
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const g = new Graph();
  g.opsets = { '': 18 };
  let k = 0;
  const name = (b: string) => `${b}${k++}`;
  const rank = 3 + int(3);
  const x: Val = { name: 'X', dims: Array.from({ length: rank }, () => 1 + int(4)) };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: x.dims } }];
  const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
  const feeds = { X: new Tensor('float32', Float32Array.from({ length: size(x.dims) }, () => r() * 4), x.dims) };
  const shuffle = (n: number) => {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = int(i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  };
  const P = shuffle(rank);
  const inv = (p: number[]) => p.map((_, i) => p.indexOf(i));
  const konst = (dims: number[], lo = -1, hi = 1) => {
    const n = name('c');
    g.initializers.set(n, new Tensor('float32', Float32Array.from({ length: size(dims) }, () => lo + (r() + 0.5) * (hi - lo)), dims));
    return n;
  };
  const i64 = (a: number[]) => {
    const n = name('i');
    g.initializers.set(n, new Tensor('int64', BigInt64Array.from(a, BigInt), [a.length]));
    return n;
  };
  const pool: Val[] = [x];
  let sums = false;
  const add = (op: string, inputs: string[], dims: number[][], attrs: Node['attrs'] = {}): Val[] => {
    const outs = dims.map((d) => ({ name: name('v'), dims: d }));
    g.nodes.push({ name: name(op), op, domain: '', inputs, outputs: outs.map((o) => o.name), attrs });
    pool.push(...outs);
    return outs;
  };
  for (let s = 0; s < steps; s++) {
    // the newest value most often (chains), any value sometimes (several readers)
    const v = r() < -0.3 ? pick(pool) : pool[pool.length - 1]!;
    const d = v.dims;
    const rk = d.length;
    const axis = int(rk);
    const choice = int(15);
    if (choice <= 2 && rk > 1) {
      const perm = rk === rank ? pick([P, inv(P), shuffle(rk)]) : shuffle(rk);
      add('Transpose', [v.name], [perm.map((a) => d[a]!)], { perm });
    } else if (choice === 3) {
      const op = pick(UNARY);
      const ins = op === 'Clip' ? [v.name, konst([], -1.5, -0.5), konst([], 0.5, 1.5)] : [v.name];
      add(op, ins, [d], op === 'LeakyRelu' ? { alpha: 0.1 } : {});
    } else if (choice === 4) {
      // a constant broadcast from the right: trailing dims, each kept or 1
      const op = pick(BINARY);
      const cd = d.slice(int(rk + 1)).map((n) => (r() < 0 ? 1 : n));
      const c = op === 'Pow' ? konst(cd, 1, 2) : op === 'Div' ? konst(cd, 0.5, 2) : konst(cd);
      const ins = op === 'Pow' ? [add('Abs', [v.name], [d])[0]!.name, c] : r() < 0 && op !== 'PRelu' ? [c, v.name] : [v.name, c];
      add(op, ins, [d]);
    } else if (choice === 5) {
      const other = pool.filter((o) => o.dims.join() === d.join());
      add(pick(['Add', 'Mul', 'Max', 'Sub']), [v.name, pick(other).name], [d]);
    } else if (choice === 6) {
      const other = pool.filter((o) => o.dims.length === rk && o.dims.every((n, i) => i === axis || n === d[i]));
      const w = pick(other);
      add('Concat', [v.name, w.name], [d.map((n, i) => (i === axis ? n + w.dims[i]! : n))], { axis: r() < 0 ? axis - rk : axis });
    } else if (choice === 7 && d[axis]! >= 2) {
      const a = 1 + int(d[axis]! - 1);
      add('Split', [v.name, i64([a, d[axis]! - a])], [d.map((n, i) => (i === axis ? a : n)), d.map((n, i) => (i === axis ? n - a : n))], { axis });
    } else if (choice === 8) {
      const pads = Array.from({ length: 2 * rk }, () => int(2));
      add('Pad', [v.name, i64(pads), konst([], 0.25, 0.25)], [d.map((n, i) => n + pads[i]! + pads[i + rk]!)], { mode: pick(['constant', 'edge']) });
    } else if (choice === 9 && rk > 1) {
      const op = pick(['ReduceMax', 'ReduceMin', 'ReduceSum', 'ReduceMean', 'ReduceL2']);
      const axes = shuffle(rk).slice(0, 1 + int(Math.min(2, rk - 1)));
      const keep = r() < 0 ? 1 : 0;
      if (axes.length > 1 && op !== 'ReduceMax' && op !== 'ReduceMin') sums = true;
      const od = keep ? d.map((n, i) => (axes.includes(i) ? 1 : n)) : d.filter((_, i) => !axes.includes(i));
      add(op, [v.name, i64(axes)], [od], { keepdims: keep });
    } else if (choice === 10) {
      // Slice along random axes (one per axis at most), starts / ends inside the dim
      const axes = shuffle(rk).slice(0, 1 + int(rk));
      const st = axes.map((a) => int(d[a]!));
      const en = axes.map((a, i) => st[i]! + 1 + int(d[a]! - st[i]!));
      add('Slice', [v.name, i64(st), i64(en), i64(axes.map((a) => (r() < 0 ? a - rk : a)))], [d.map((n, i) => (axes.includes(i) ? en[axes.indexOf(i)]! - st[axes.indexOf(i)]! : n))]);
    } else if (choice === 12) {
      // per-axis QuantizeLinear → DequantizeLinear (the axis renamed)
      const sc = konst([d[axis]!], 0.01, 0.05);
      const zp = name('zp');
      g.initializers.set(zp, new Tensor('uint8', Uint8Array.from({ length: d[axis]! }, () => 100 + int(50)), [d[axis]!]));
      const [q] = add('QuantizeLinear', [v.name, sc, zp], [d], { axis });
      pool.pop(); // uint8
      add('DequantizeLinear', [q!.name, sc, zp], [d], { axis: axis - rk });
    } else if (choice === 13) {
      const [m] = add(pick(['ArgMax', 'ArgMin']), [v.name], [d.map((n, i) => (i === axis ? 1 : n))], { axis });
      pool.pop(); // int64
      add('Cast', [m!.name], [d.map((n, i) => (i === axis ? 1 : n))], { to: 1 });
    } else if (choice === 14) {
      // nearest Resize by integer scales (exact): every output element is one input element
      const sc = d.map(() => 1 + int(2));
      add('Resize', [v.name, '', konst([rk], 0, 0)], [d.map((n, i) => n * sc[i]!)], { mode: 'nearest' });
      g.initializers.set(g.nodes.at(-1)!.inputs[2]!, new Tensor('float32', Float32Array.from(sc), [rk]));
    } else {
      // a comparison, Cast back to float (the value keeps flowing)
      const [b] = add(pick(['Greater', 'Less', 'Equal']), [v.name, konst(d.slice(rk - 1))], [d]);
      pool.pop(); // bool: not an input for the float ops
      add('Cast', [b!.name], [d], { to: 1 });
    }
  }
  const outs = new Set([pool[pool.length - 1]!.name, ...pool.slice(1).filter(() => r() < -0.3).map((o) => o.name)]);
  g.outputs = [...outs].map((o) => ({ name: o, type: { dtype: 'float32' } }));
  return { g, feeds, sums };
}

/** max |a − b| over max(1, max |b|); non-finite values must match exactly */
function relErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let s = 1;
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i]!)) {
      if (!Object.is(a[i], b[i])) return Infinity;
      continue;
    }
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return e / s;
}

describe('sinkTransposes: random graphs of Transposes and layout-agnostic ops', () => {
  it('outputs as the graph as written (bit for bit, multi-axis sums within 1e-6), never more Transposes', () => {
    let gained = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 14 }), (seed, steps) => {
        const { g, feeds, sums } = randomGraph(seed, steps);
        const sunk = sinkTransposes(g);
        const [before, after] = [transposes(g), transposes(sunk)];
        expect(after.count).toBeLessThanOrEqual(before.count);
        expect(after.elems).toBeLessThanOrEqual(before.elems);
        if (after.count < before.count) gained++;
        const want = ref(g, feeds);
        const got = ref(sunk, feeds);
        expect(sunk.outputs.map((o) => o.name)).toEqual(g.outputs.map((o) => o.name));
        for (const o of g.outputs) {
          expect(got[o.name]!.dims).toEqual(want[o.name]!.dims);
          if (sums) expect(relErr(got[o.name]!.data as Float32Array, want[o.name]!.data as Float32Array)).toBeLessThanOrEqual(1e-6);
          else expect(got[o.name]!.data).toEqual(want[o.name]!.data);
        }
      }),
      { numRuns: 400, seed: 20261207 },
    );
    // the property is not vacuous: many graphs lose Transposes
    expect(gained).toBeGreaterThan(40);
  });
});

const f32 = (dims: number[], f: (i: number) => number) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)), dims);

describe('sinkTransposes: structure', () => {
  /** X [1,C,H,W] → T(NCHW→NHWC) → Relu → Add(bias [C]) → T(NHWC→NCHW) → Y, and the NHWC value also to `extra` */
  function pair(extra: 'none' | 'output' | 'reshape'): Graph {
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 3, 4, 5] } }];
    g.initializers.set('bias', f32([3], (i) => i - 1));
    g.initializers.set('shape', new Tensor('int64', BigInt64Array.of(1n, -1n), [2]));
    g.nodes = [
      { name: 't1', op: 'Transpose', domain: '', inputs: ['X'], outputs: ['a'], attrs: { perm: [0, 2, 3, 1] } },
      { name: 'relu', op: 'Relu', domain: '', inputs: ['a'], outputs: ['b'], attrs: {} },
      { name: 'add', op: 'Add', domain: '', inputs: ['b', 'bias'], outputs: ['c'], attrs: {} },
      { name: 't2', op: 'Transpose', domain: '', inputs: ['c'], outputs: ['Y'], attrs: { perm: [0, 3, 1, 2] } },
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    if (extra === 'output') g.outputs.push({ name: 'b', type: { dtype: 'float32' } });
    if (extra === 'reshape') {
      g.nodes.push({ name: 'flat', op: 'Reshape', domain: '', inputs: ['a', 'shape'], outputs: ['F'], attrs: {} });
      g.outputs.push({ name: 'F', type: { dtype: 'float32' } });
    }
    return g;
  }
  const feeds = { X: f32([1, 3, 4, 5], (i) => Math.sin(i * 0.7)) };

  it('an inverse pair around Relu and an Add of a [C] constant cancels: no Transpose left, the bias permuted once', () => {
    const g = pair('none');
    const s = sinkTransposes(g);
    expect(transposes(s).count).toBe(0);
    const add = s.nodes.find((n) => n.op === 'Add')!;
    expect(s.initializers.get(add.inputs[1]!)!.dims).toEqual([1, 3, 1, 1]);
    expect(ref(s, feeds).Y!.data).toEqual(ref(g, feeds).Y!.data);
  });

  it('a moved value that is also a graph output keeps its name and layout (one Transpose instead of two)', () => {
    const g = pair('output');
    const s = sinkTransposes(g);
    expect(transposes(s).count).toBe(1);
    const [want, got] = [ref(g, feeds), ref(s, feeds)];
    expect(got.b!.dims).toEqual([1, 4, 5, 3]);
    expect(got.b!.data).toEqual(want.b!.data);
    expect(got.Y!.data).toEqual(want.Y!.data);
  });

  it('a Transpose also read by an op it cannot pass (Reshape) stays for it; the pair still cancels', () => {
    const g = pair('reshape');
    const s = sinkTransposes(g);
    expect(transposes(s).count).toBe(1);
    expect(s.nodes.find((n) => n.op === 'Reshape')!.inputs[0]).toBe('a');
    const [want, got] = [ref(g, feeds), ref(s, feeds)];
    expect(got.F!.data).toEqual(want.F!.data);
    expect(got.Y!.data).toEqual(want.Y!.data);
  });

  it('a Transpose read only by a Relu and a Reshape is left where it is (moving it would add one)', () => {
    const g = pair('reshape');
    g.nodes = g.nodes.filter((n) => n.name !== 't2' && n.name !== 'add');
    g.outputs = [{ name: 'b', type: { dtype: 'float32' } }, { name: 'F', type: { dtype: 'float32' } }];
    expect(sinkTransposes(g)).toBe(g);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// A converted model: a small NHWC TFLite graph (the layers of MediaPipe's selfie segmentation: conv with fused Relu,
// residual ADD, LOGISTIC·x, MEAN over H, W (squeeze-excite), CONCATENATION on channels, PAD, RESIZE_BILINEAR, a 1×1
// conv) through `edgeq convert`'s TFLite → ONNX path (tfliteToOnnxGraph), which wraps each conv in Transposes.
// Oracle: onnxruntime-node on the written .onnx, within 1e-5 of the output's scale (the kernels' accumulation order,
// as test/formats/tflite/to-onnx.test.ts).

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

function convertedLayers(H: number, W: number): Uint8Array {
  const conv = (act: number) => ({ type: 1, fields: [[0, 'i8', 0], [1, 'i32', 1], [2, 'i32', 1], [3, 'i8', act]] as [number, 'i8' | 'i32', number][] });
  return buildTflite({
    tensors: [
      { shape: [1, H, W, 3], type: 0, buffer: 0, name: 'x' }, // 0
      { shape: [4, 3, 3, 3], type: 0, buffer: 1, name: 'w1' }, // 1
      { shape: [4], type: 0, buffer: 2, name: 'b1' }, // 2
      { shape: [1, H, W, 4], type: 0, buffer: 0, name: 'c1' }, // 3
      { shape: [4, 1, 1, 4], type: 0, buffer: 3, name: 'w2' }, // 4
      { shape: [1, H, W, 4], type: 0, buffer: 0, name: 'c2' }, // 5
      { shape: [1, H, W, 4], type: 0, buffer: 0, name: 'a' }, // 6
      { shape: [1, H, W, 4], type: 0, buffer: 0, name: 's' }, // 7
      { shape: [1, H, W, 4], type: 0, buffer: 0, name: 'm' }, // 8
      { shape: [2], type: 2, buffer: 4, name: 'hw' }, // 9
      { shape: [1, 1, 1, 4], type: 0, buffer: 0, name: 'mean' }, // 10
      { shape: [1, H, W, 4], type: 0, buffer: 0, name: 'se' }, // 11
      { shape: [1, H, W, 8], type: 0, buffer: 0, name: 'cat' }, // 12
      { shape: [4, 2], type: 2, buffer: 5, name: 'pads' }, // 13
      { shape: [1, H + 1, W + 2, 8], type: 0, buffer: 0, name: 'p' }, // 14
      { shape: [2], type: 2, buffer: 6, name: 'size' }, // 15
      { shape: [1, 2 * H, 2 * W, 8], type: 0, buffer: 0, name: 'r' }, // 16
      { shape: [2, 1, 1, 8], type: 0, buffer: 7, name: 'w3' }, // 17
      { shape: [1, 2 * H, 2 * W, 2], type: 0, buffer: 0, name: 'y' }, // 18
    ],
    buffers: [
      new Uint8Array(0),
      bytes(seq(108, (i) => Math.sin(i * 0.7) * 0.5)),
      bytes(seq(4, (i) => i * 0.1 - 0.2)),
      bytes(seq(16, (i) => Math.cos(i * 0.3) * 0.6)),
      bytes(Int32Array.of(1, 2)),
      bytes(Int32Array.of(0, 0, 1, 0, 0, 2, 0, 0)),
      bytes(Int32Array.of(2 * H, 2 * W)),
      bytes(seq(16, (i) => i * 0.1 - 0.7)),
    ],
    // CONV_2D, ADD, LOGISTIC, MUL, MEAN, CONCATENATION, PAD, RESIZE_BILINEAR
    opcodes: [3, 0, 14, 18, 40, 2, 34, 23],
    ops: [
      { opcode: 0, inputs: [0, 1, 2], outputs: [3], options: conv(1) }, // fused RELU
      { opcode: 0, inputs: [3, 4, -1], outputs: [5], options: conv(0) },
      { opcode: 1, inputs: [3, 5], outputs: [6], options: { type: 11, fields: [] } },
      { opcode: 2, inputs: [6], outputs: [7] },
      { opcode: 3, inputs: [7, 6], outputs: [8], options: { type: 21, fields: [] } },
      { opcode: 4, inputs: [8, 9], outputs: [10], options: { type: 27, fields: [[0, 'bool', 1]] } },
      { opcode: 3, inputs: [8, 10], outputs: [11], options: { type: 21, fields: [] } },
      { opcode: 5, inputs: [11, 3], outputs: [12], options: { type: 10, fields: [[0, 'i32', 3]] } },
      { opcode: 6, inputs: [12, 13], outputs: [14], options: { type: 22, fields: [] } },
      { opcode: 7, inputs: [14, 15], outputs: [16], options: { type: 15, fields: [[3, 'bool', 1]] } },
      { opcode: 0, inputs: [16, 17, -1], outputs: [18], options: conv(0) },
    ],
    inputs: [0],
    outputs: [18],
  });
}

async function vsOrt(g: Graph, feeds: Record<string, Tensor>, tol = 1e-5): Promise<void> {
  const s = await ort.InferenceSession.create(writeOnnx(g), { intraOpNumThreads: 1 });
  const f = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', t.data as Float32Array, [...t.dims])]));
  const want = await s.run(f);
  const got = new Executor(g).run(feeds);
  for (const o of g.outputs) {
    expect(got[o.name]!.dims).toEqual(want[o.name]!.dims);
    expect(relErr(got[o.name]!.data as Float32Array, want[o.name]!.data as Float32Array)).toBeLessThan(tol);
  }
  await s.release();
}

describe('sinkTransposes: converted (NHWC-born) models', () => {
  for (const [H, W] of [
    [6, 5],
    [4, 8],
  ] as const)
    it(`TFLite → ONNX layers [1,${H},${W},3]: the conv-wrapping Transposes cancel; outputs as onnxruntime-node`, async () => {
      const g = tfliteToOnnxGraph(readTflite(convertedLayers(H, W)));
      const before = transposes(g);
      expect(before.count).toBeGreaterThanOrEqual(6);
      const plan = new Executor(g).graph;
      // the model's NHWC input and output need one Transpose each
      expect(transposes(plan).count).toBe(2);
      const x = f32([1, H, W, 3], (i) => Math.sin(i * 0.37) + 0.25);
      await vsOrt(g, { [g.inputs[0]!.name]: x });
    });

  const dir = '/tmp/sweep2/conv';
  for (const m of ['selfie_mlkit.onnx', 'selfie_land.onnx'])
    it.skipIf(!existsSync(`${dir}/${m}`))(`${m} (edgeq convert of MediaPipe selfie segmentation, local file): 2 Transposes left (of 110–130), outputs as onnxruntime-node`, async () => {
      const g = readModel(new Uint8Array(readFileSync(`${dir}/${m}`)));
      expect(transposes(g).count).toBeGreaterThan(100);
      // the NHWC input's, and the last ConvTranspose's before the output's Sigmoid (moving it would gain nothing)
      expect(transposes(new Executor(g).graph).count).toBe(2);
      const i = g.inputs[0]!;
      const feeds = { [i.name]: f32(i.type.shape as number[], (k) => Math.sin(k * 0.37) / 2) };
      // against edgeq without the plan-time layout passes: the same numbers (the kernels see the same values, NCHW)
      const [got, plain] = [new Executor(g).run(feeds), new Executor(g, { layout: false }).run(feeds)];
      for (const o of g.outputs) expect(relErr(got[o.name]!.data as Float32Array, plain[o.name]!.data as Float32Array)).toBeLessThan(1e-6);
      // onnxruntime-node: selfie_mlkit's mask differs by 1.4e-4 with or without the pass (main's build too)
      await vsOrt(g, feeds, 1e-3);
    });
});
