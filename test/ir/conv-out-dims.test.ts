// Conv / Pool / QLinearConv shape rules on symbolic spatial dims (dynamic-resolution exports such as Paddle2ONNX's
// PP-OCR detector, input [N, 3, H, W]). ONNX Conv: "output_shape[i] = floor((input[i] + pad_begin[i] + pad_end[i] −
// ((kernel[i] − 1)·dilation[i] + 1)) / stride[i]) + 1"; auto_pad SAME_*: "output_shape[i] = ceil(input[i] /
// strides[i])". So with stride 1 and pad_begin + pad_end = (k − 1)·d the output dim IS the input dim (its symbol is
// kept), any other symbolic case is an unknown dim '?', and rank and channel count are always known.
import { describe, expect, it } from 'vitest';
import { convOutDims } from '../../src/ir/conv-geometry.js';
import { type Dim, Graph, type Node } from '../../src/ir/graph.js';
import { analyze } from '../../src/ir/infer.js';
import { modelStats } from '../../src/ir/stats.js';
import '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';

const fail = (m: string): never => {
  throw new Error(m);
};
const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });
const f32 = (dims: number[]) => new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);

describe('convOutDims', () => {
  it('keeps a symbol where stride 1 and the pads restore the kernel reach, else "?"', () => {
    expect(convOutDims(['H', 'W'], [3, 3], { pads: [1, 1, 1, 1] }, fail)).toEqual(['H', 'W']);
    expect(convOutDims(['H', 'W'], [3, 3], { pads: [1, 1, 1, 1], strides: [2, 2] }, fail)).toEqual(['?', '?']);
    expect(convOutDims(['H', 'W'], [3, 3], { pads: [0, 0, 0, 0] }, fail)).toEqual(['?', '?']);
    expect(convOutDims(['H', 'W'], [3, 3], { auto_pad: 'SAME_UPPER' }, fail)).toEqual(['H', 'W']);
    expect(convOutDims(['H', 'W'], [3, 3], { auto_pad: 'SAME_LOWER', strides: [1, 2] }, fail)).toEqual(['H', '?']);
    expect(convOutDims(['H', 'W'], [1, 1], { auto_pad: 'VALID' }, fail)).toEqual(['H', 'W']);
    // dilation 2 on a 3-wide kernel reaches 5: pads 2 + 2 keep the size
    expect(convOutDims(['H'], [3], { pads: [2, 2], dilations: [2] }, fail)).toEqual(['H']);
    expect(convOutDims(['H'], [3], { pads: [1, 1], dilations: [2] }, fail)).toEqual(['?']);
  });

  it('computes the concrete dims of a mixed shape exactly as for a concrete one', () => {
    for (const [n, k, s, pb, pe] of [[32, 3, 2, 1, 1], [33, 5, 2, 2, 1], [7, 1, 1, 0, 0], [48, 3, 1, 1, 1]]) {
      const attrs = { strides: [1, s], pads: [1, pb, 1, pe] };
      const got = convOutDims(['H', n], [3, k], attrs, fail);
      const whole = convOutDims([10, n], [3, k], attrs, fail);
      expect(got).toEqual(['H', whole[1]]);
    }
    expect(convOutDims(['H', 224], [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }, fail)).toEqual(['?', 112]);
  });

  it('validates the attributes even when every dim is symbolic', () => {
    expect(() => convOutDims(['H', 'W'], [3, 3], { strides: [0, 1] }, fail)).toThrow(/strides/);
    expect(() => convOutDims(['H', 'W'], [3, 3], { pads: [1, 1] }, fail)).toThrow(/pads/);
  });
});

describe('shape inference on a dynamic-resolution CNN', () => {
  // x [N, 3, H, W] → Conv 3×3 s2 p1 (weights in a Constant node, as Paddle2ONNX writes them) → Conv 3×3 s1 p1 →
  // MaxPool 2×2 s2 → Conv 1×1 → ConvTranspose 2×2 s2
  function graph(): Graph {
    const g = new Graph();
    g.opsets = { '': 13 };
    g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: ['N', 3, 'H', 'W'] } }];
    g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
    g.initializers.set('w2', f32([8, 16, 3, 3]));
    g.initializers.set('w3', f32([4, 8, 1, 1]));
    g.initializers.set('w4', f32([4, 2, 2, 2]));
    g.nodes.push(
      node('c0', 'Constant', [], ['w1'], { value: f32([16, 3, 3, 3]) }),
      node('conv1', 'Conv', ['x', 'w1'], ['a'], { strides: [2, 2], pads: [1, 1, 1, 1] }),
      node('conv2', 'Conv', ['a', 'w2'], ['b'], { pads: [1, 1, 1, 1] }),
      node('pool', 'MaxPool', ['b'], ['c'], { kernel_shape: [2, 2], strides: [2, 2] }),
      node('conv3', 'Conv', ['c', 'w3'], ['d']),
      node('up', 'ConvTranspose', ['d', 'w4'], ['y'], { strides: [2, 2] }),
    );
    return g;
  }

  it('keeps rank and channels through every layer', () => {
    const t = analyze(graph()).types;
    const shape = (n: string): Dim[] | undefined => t.get(n)?.shape;
    expect(shape('a')).toEqual(['N', 16, '?', '?']);
    expect(shape('b')).toEqual(['N', 8, '?', '?']);
    expect(shape('c')).toEqual(['N', 8, '?', '?']);
    expect(shape('d')).toEqual(['N', 4, '?', '?']);
    expect(shape('y')).toEqual(['N', 2, '?', '?']);
  });

  it('inspect counts Constant-node weights as parameters and every Conv as counted', () => {
    const s = modelStats(graph());
    expect(s.params).toBe(16 * 3 * 9 + 8 * 16 * 9 + 4 * 8 + 4 * 2 * 4);
    expect(s.bytes).toBe(4 * s.params);
    expect(s.uncounted).toEqual([]);
    expect(s.outputs[0]!.type.shape).toEqual(['N', 2, '?', '?']);
  });

  it('a channel mismatch behind a symbolic spatial dim is still caught', () => {
    const g = graph();
    g.initializers.set('w4', f32([5, 2, 2, 2]));
    expect(() => analyze(g)).toThrow(/channels/);
  });
});
