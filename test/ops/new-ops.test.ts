// Bad inputs of the ops added for issue 16 (their values are checked by the ONNX conformance allow-lists):
// each is a ShapeError naming the node, raised when the session is created.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, i64 } from '../helpers/op-graph.js';

const f = (name: string, shape: number[]) => ({ name, dtype: 'float32' as const, shape });
async function bad(g: ReturnType<typeof graph>, re: RegExp) {
  const e = await InferenceSession.create(g).then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(ShapeError);
  expect(String(e.message)).toMatch(/'n0'/);
  expect(String(e.message)).toMatch(re);
}

describe('new ops reject bad inputs with a ShapeError naming the node', () => {
  // ONNX Attention: "q_num_heads ... must be a multiple of kv_num_heads" (GQA)
  it('Attention: head counts, head sizes, 3-D without head counts', async () => {
    await bad(graph('Attention', [f('q', [1, 3, 2, 4]), f('k', [1, 2, 2, 4]), f('v', [1, 2, 2, 4])]), /multiple of kv heads/);
    await bad(graph('Attention', [f('q', [1, 2, 2, 4]), f('k', [1, 2, 2, 8]), f('v', [1, 2, 2, 4])]), /head size/);
    await bad(graph('Attention', [f('q', [1, 2, 8]), f('k', [1, 2, 8]), f('v', [1, 2, 8])]), /q_num_heads/);
  });
  it('RMSNormalization: axis out of range; RotaryEmbedding: 3-D input needs num_heads', async () => {
    await bad(graph('RMSNormalization', [f('x', [2, 3]), { name: 's', init: new Tensor('float32', new Float32Array(3), [3]) }], { axis: 2 }), /axis 2/);
    await bad(graph('RotaryEmbedding', [f('x', [1, 2, 8]), f('c', [1, 2, 4]), f('s', [1, 2, 4])]), /num_heads/);
  });
  // ONNX GridSample: "grid ... of shape (N, D1_out, ..., Dr_out, r)"
  it('GridSample: grid rank and coordinate count', async () => {
    await bad(graph('GridSample', [f('x', [1, 1, 4, 4]), f('g', [1, 4, 4])]), /grid must have rank 4/);
    await bad(graph('GridSample', [f('x', [1, 1, 4, 4]), f('g', [1, 4, 4, 3])]), /last dim must be 2/);
  });
  it('NonMaxSuppression, Col2Im, DFT, StringSplit, CenterCropPad, Det', async () => {
    await bad(graph('NonMaxSuppression', [f('b', [1, 3, 5]), f('s', [1, 1, 3])]), /boxes must be/);
    await bad(graph('Col2Im', [f('x', [1, 5, 4]), { name: 'i', init: i64([3, 3]) }, { name: 'b', init: i64([2, 2]) }]), /multiple of prod\(block_shape\)/);
    await bad(graph('DFT', [f('x', [1, 8, 3])]), /last dim must be 1/);
    await bad(graph('StringSplit', [{ name: 's', dtype: 'string', shape: [2] }], { maxsplit: -1 }, 2), /maxsplit/);
    await bad(graph('CenterCropPad', [f('x', [2, 3]), { name: 'sh', init: i64([1, 2, 3]) }]), /3 values for 2 axes/);
    await bad(graph('Det', [f('x', [2, 3])]), /square/);
  });
});
