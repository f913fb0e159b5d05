// Plan-time fusion must never change what a fetch returns: asking for a value that fusion folded away (the
// pre-activation output of a Conv whose Relu went into its epilogue) gives the model's value, not the fused one.
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

function convRelu(): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 1, 4, 4] } }];
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: 9 }, (_, i) => (i % 2 ? -1 : 0.5)), [1, 1, 3, 3]));
  g.nodes = [
    { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['T'], attrs: { pads: [1, 1, 1, 1] } },
    { name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('InferenceSession fetches', () => {
  it('a pre-activation value folded into a kernel epilogue is still fetched faithfully', async () => {
    const x = new Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => i - 8), [1, 1, 4, 4]);
    const fast = await InferenceSession.create(convRelu());
    const ref = await InferenceSession.create(convRelu(), { backend: 'reference' });
    const got = await fast.run({ X: x }, ['T', 'Y']);
    const want = await ref.run({ X: x }, ['T', 'Y']);
    expect(Array.from(got.T!.data as Float32Array)).toEqual(Array.from(want.T!.data as Float32Array));
    expect((want.T!.data as Float32Array).some((v) => v < 0)).toBe(true); // the case matters: Relu would change it
    expect(Array.from(got.Y!.data as Float32Array)).toEqual(Array.from(want.Y!.data as Float32Array));
    // plain fetches keep using the fused plan
    expect(Array.from((await fast.run({ X: x })).Y!.data as Float32Array)).toEqual(Array.from(want.Y!.data as Float32Array));
    await expect(fast.run({ X: x }, ['nope'])).rejects.toThrow(/unknown output 'nope'/);
    await fast.release();
  });
});
