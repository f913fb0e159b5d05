// Dynamic-quantization glue kernels (src/kernels/dynq.ts) and MatMulNBits (src/kernels/nbits.ts) against the TS
// reference ops, bit-exact for the integer / cast paths.
// ONNX DynamicQuantizeLinear: y_scale = (max(x, 0) − min(x, 0)) / 255, y_zero_point = saturate(round(0 − min / y_scale)),
// y = saturate(round(x / y_scale) + y_zero_point), rounding half to even.
// ONNX Cast int32 → float: the nearest float32.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { quantizeNBits } from '../../src/quant/nbits.js';
import { Tensor } from '../../src/tensor/tensor.js';

function dqlGraph(n: number): Graph {
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs.push({ name: 'X', type: { dtype: 'float32', shape: [n] } });
  g.inputs.push({ name: 'I', type: { dtype: 'int32', shape: [n] } });
  g.nodes.push({ name: 'q', op: 'DynamicQuantizeLinear', domain: '', inputs: ['X'], outputs: ['Y', 'S', 'Z'], attrs: {} });
  g.nodes.push({ name: 'c', op: 'Cast', domain: '', inputs: ['I'], outputs: ['F'], attrs: { to: 1 } });
  for (const [o, dtype] of [['Y', 'uint8'], ['S', 'float32'], ['Z', 'uint8'], ['F', 'float32']] as const) g.outputs.push({ name: o, type: { dtype } });
  return g;
}

describe('dynamic quantization kernels vs the reference', () => {
  it('DynamicQuantizeLinear and Cast int32→float32 are bit-exact (ties, all-negative, all-zero, large ints)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 1e9 }),
        fc.constantFrom(1, 255, 1e-3, 1e4),
        fc.constantFrom('mixed', 'neg', 'zero', 'ties'),
        (n, seed, scale, kind) => {
          let s = seed;
          const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
          const x = Float32Array.from({ length: n }, (_, i) => (kind === 'zero' ? 0 : kind === 'neg' ? -Math.abs(r()) * scale : kind === 'ties' ? (i % 7) - 3 + 0.5 * (i % 2) : r() * scale));
          const ints = Int32Array.from({ length: n }, () => Math.round(r() * 2 ** 31));
          const g = dqlGraph(n);
          const feeds = { X: new Tensor('float32', x, [n]), I: new Tensor('int32', ints, [n]) };
          const fast = new Executor(g);
          expect(g.nodes.map((nd) => fast.kernels.get(nd)?.name)).toEqual(['js_dynamic_quantize_u8', 'js_cast_i32_f32']);
          const got = fast.run(feeds);
          const want = new Executor(g, { backend: 'reference' }).run(feeds);
          for (const k of ['Y', 'S', 'Z', 'F']) expect(Array.from(got[k]!.data as ArrayLike<number>)).toEqual(Array.from(want[k]!.data as ArrayLike<number>));
        },
      ),
      { numRuns: 60 },
    );
  });

  // ContribOperators.md MatMulNBits: Y = A · dequant(B)ᵀ (+ bias); the kernel dequantizes once into f32 GEMM panels.
  it('MatMulNBits kernel matches the reference over shapes hitting the 4×8 tile edges and partial blocks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 19 }), fc.constantFrom(4, 8), fc.constantFrom(16, 32), fc.boolean(), (M, K, N, bits, bs, zp) => {
        let s = M * 1000 + K * 10 + N;
        const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
        const q = quantizeNBits(Float32Array.from({ length: K * N }, r), K, N, bits as 4 | 8, bs, zp);
        const g = new Graph();
        g.opsets = { '': 13, 'com.microsoft': 1 };
        g.inputs.push({ name: 'A', type: { dtype: 'float32', shape: [M, K] } });
        g.initializers.set('B', new Tensor('uint8', q.b, [N, q.gm.kBlocks, q.gm.blobSize]));
        g.initializers.set('S', new Tensor('float32', q.scales, [q.scales.length]));
        if (q.zp) g.initializers.set('Z', new Tensor('uint8', q.zp, [q.zp.length]));
        g.nodes.push({ name: 'n', op: 'MatMulNBits', domain: 'com.microsoft', inputs: ['A', 'B', 'S', q.zp ? 'Z' : ''], outputs: ['Y'], attrs: { K, N, bits, block_size: bs } });
        g.outputs.push({ name: 'Y', type: { dtype: 'float32' } });
        const a = { A: new Tensor('float32', Float32Array.from({ length: M * K }, r), [M, K]) };
        const ex = new Executor(g);
        const got = ex.run(a).Y!.data as Float32Array;
        expect(ex.kernels.get(g.nodes[0]!)?.name).toBe('nbits_dequant_f32_gemm_4x8');
        const want = new Executor(g, { backend: 'reference' }).run(a).Y!.data as Float32Array;
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)) * K);
      }),
      { numRuns: 60 },
    );
  });
});
