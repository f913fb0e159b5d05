// com.microsoft MatMulNBits input validation (ContribOperators.md: B [N, k_blocks, blob_size], scales N·k_blocks,
// zero_points N·ceil(k_blocks·bits/8) packed bytes, A's last dim K); values are checked against onnxruntime-node
// in test/quant/nbits.test.ts.
import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { Graph } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

function g(o: { K?: number; bdims?: number[]; scales?: number; zp?: number; bits?: number; bs?: number; aK?: number }): Graph {
  const K = o.K ?? 40;
  const N = 3;
  const bs = o.bs ?? 16;
  const bits = o.bits ?? 4;
  const kb = Math.ceil(K / bs);
  const gr = new Graph();
  gr.opsets = { '': 13, 'com.microsoft': 1 };
  gr.inputs.push({ name: 'A', type: { dtype: 'float32', shape: [2, o.aK ?? K] } });
  const bd = o.bdims ?? [N, kb, (bs * bits) / 8];
  gr.initializers.set('B', new Tensor('uint8', new Uint8Array(bd.reduce((a, b) => a * b, 1)), bd));
  gr.initializers.set('S', new Tensor('float32', new Float32Array(o.scales ?? N * kb).fill(0.1), [o.scales ?? N * kb]));
  const inputs = ['A', 'B', 'S'];
  if (o.zp !== undefined) {
    gr.initializers.set('Z', new Tensor('uint8', new Uint8Array(o.zp), [o.zp]));
    inputs.push('Z');
  }
  gr.nodes.push({ name: 'nb', op: 'MatMulNBits', domain: 'com.microsoft', inputs, outputs: ['Y'], attrs: { K, N, bits, block_size: bs } });
  gr.outputs.push({ name: 'Y', type: { dtype: 'float32' } });
  return gr;
}

describe('MatMulNBits validation', () => {
  it('accepts the onnxruntime layout, including a partial last block', () => {
    const y = InferenceSession.fromGraph(g({ zp: 3 * 2 })).runSync({ A: new Tensor('float32', new Float32Array(80).fill(1), [2, 40]) }).Y!;
    expect(y.dims).toEqual([2, 3]);
    // code 0 with zero point 0 → every weight 0
    expect(Array.from(y.data as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('rejects wrong B / scales / zero_points shapes, K mismatch, bad block size and unsupported bits, naming the node', () => {
    expect(() => InferenceSession.fromGraph(g({ bdims: [3, 2, 8] }))).toThrow(/'nb'.*B must be \[N, k_blocks, blob_size\] = \[3, 3, 8\]/);
    expect(() => InferenceSession.fromGraph(g({ scales: 8 }))).toThrow(ShapeError);
    expect(() => InferenceSession.fromGraph(g({ zp: 9 }))).toThrow(/zero_points must have .* = 6 packed bytes/);
    expect(() => InferenceSession.fromGraph(g({ aK: 41 }))).toThrow(/last dim 41 must equal K = 40/);
    expect(() => InferenceSession.fromGraph(g({ bs: 24 }))).toThrow(/block_size must be a power of two/);
    expect(() => InferenceSession.fromGraph(g({ bits: 2 }))).toThrow(UnsupportedError);
  });
});
