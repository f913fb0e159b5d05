// WASM ConvTranspose (f32_gemm Wᵀ·X + asm f32_col2im scatter) against the TS reference ConvTranspose.
// ONNX ConvTranspose: every input pixel adds X[n, c, i]·W[c, m, k] at output i·stride − pad_begin + k·dilation;
// output_shape[i] = stride[i]·(in[i] − 1) + output_padding[i] + ((kernel[i] − 1)·dilation[i] + 1) − pads_begin[i] − pads_end[i]
// ("If output_shape is specified pads values are ignored" — total padding then follows auto_pad's rule: SAME_UPPER puts
// the odd pixel at the end, else at the beginning).
// Sums run in another order than the reference's, so results agree to 1e-5 relative, not bit for bit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const rng = (seed: number) => {
  let r = seed;
  return () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
};

function close(got: Tensor, want: Tensor): void {
  expect(got.dims).toEqual(want.dims);
  const a = got.data as Float32Array;
  const b = want.data as Float32Array;
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(b[i]!)));
}

describe('WASM ConvTranspose vs the TS reference', () => {
  it('agrees to 1e-5 over 1-D/2-D, groups, strides, dilations, pads, output_padding, output_shape, auto_pad, bias, fused Relu', () => {
    let kernelRuns = 0;
    fc.assert(
      fc.property(
        fc.record({
          rank: fc.constantFrom(1, 2, 2, 2),
          n: fc.integer({ min: 1, max: 2 }),
          group: fc.constantFrom(1, 1, 2, 3),
          cg: fc.integer({ min: 1, max: 5 }),
          mg: fc.integer({ min: 1, max: 6 }),
          k: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
          s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
          hw: fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 13 })),
          pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
          outPad: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
          mode: fc.constantFrom('pads', 'pads', 'output_shape', 'SAME_UPPER', 'SAME_LOWER', 'VALID'),
          bias: fc.boolean(),
          relu: fc.boolean(),
        }),
        fc.integer(),
        (r, seed) => {
          const rnd = rng(seed);
          const sp = r.rank;
          const pick = <T,>(t: [T, T]): T[] => (sp === 1 ? [t[1]] : [...t]);
          const k = pick(r.k);
          const s = pick(r.s);
          const d = pick(r.d);
          // ONNX: output_padding must be smaller than the stride or the dilation
          const op = pick(r.outPad).map((v, i) => Math.min(v, Math.max(s[i]!, d[i]!) - 1));
          const hw = pick(r.hw);
          const pads = sp === 1 ? [r.pads[0]!, r.pads[1]!] : r.pads;
          const c = r.cg * r.group;
          const m = r.mg * r.group;
          const full = hw.map((v, i) => s[i]! * (v - 1) + op[i]! + (k[i]! - 1) * d[i]! + 1);
          if (r.mode === 'pads' && full.some((f, i) => f - pads[i]! - pads[i + sp]! < 1)) return; // not a valid output
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [r.n, c, ...hw] } }];
          g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: c * r.mg * k.reduce((a, b) => a * b, 1) }, rnd), [c, r.mg, ...k]));
          if (r.bias) g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: m }, rnd), [m]));
          const attrs: Record<string, number | number[] | string> = { group: r.group, strides: s, dilations: d, kernel_shape: k, output_padding: op };
          if (r.mode === 'pads') attrs.pads = pads;
          else if (r.mode === 'output_shape') attrs.output_shape = full.map((f, i) => Math.max(1, f - pads[i]!));
          else attrs.auto_pad = r.mode;
          g.nodes.push({ name: 'ct', op: 'ConvTranspose', domain: '', inputs: ['X', 'W', r.bias ? 'B' : ''], outputs: [r.relu ? 'T' : 'Y'], attrs });
          if (r.relu) g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const x = new Tensor('float32', Float32Array.from({ length: r.n * c * hw.reduce((a, b) => a * b, 1) }, rnd), [r.n, c, ...hw]);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_conv_transpose_gemm');
          if (r.relu) expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
          kernelRuns++;
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          fast.dispose();
          close(got, want);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
    expect(kernelRuns).toBeGreaterThan(200);
  });

  // ONNX ConvTranspose with strides = kernel_shape, pads 0, dilations 1: output = stride·in + output_padding, and
  // each output pixel gets exactly one product sum (the windows tile the output): f32_col2im_tiled's case, widths
  // 1…13 to hit its 4-lane interleave tail; output_padding rows / columns get the bias alone.
  it('stride = kernel (no overlap, pixel-shuffle write) agrees to 1e-5, with output_padding and groups', () => {
    fc.assert(
      fc.property(
        fc.record({
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.constantFrom(1, 2, 2, 3),
          group: fc.constantFrom(1, 1, 2),
          cg: fc.integer({ min: 1, max: 9 }),
          mg: fc.integer({ min: 1, max: 5 }),
          hw: fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 13 })),
          outPad: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
          bias: fc.boolean(),
          n: fc.integer({ min: 1, max: 2 }),
        }),
        fc.integer(),
        (r, seed) => {
          const rnd = rng(seed);
          const k = [r.kh, r.kw];
          const op = r.outPad.map((v, i) => Math.min(v, k[i]! - 1));
          const c = r.cg * r.group;
          const m = r.mg * r.group;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [r.n, c, ...r.hw] } }];
          g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: c * r.mg * r.kh * r.kw }, rnd), [c, r.mg, ...k]));
          if (r.bias) g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: m }, rnd), [m]));
          g.nodes.push({ name: 'ct', op: 'ConvTranspose', domain: '', inputs: ['X', 'W', r.bias ? 'B' : ''], outputs: ['Y'], attrs: { group: r.group, strides: k, kernel_shape: k, output_padding: op } });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const x = new Tensor('float32', Float32Array.from({ length: r.n * c * r.hw[0] * r.hw[1] }, rnd), [r.n, c, ...r.hw]);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_conv_transpose_gemm');
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          fast.dispose();
          close(got, want);
        },
      ),
      { numRuns: 200, seed: 11 },
    );
  });

  it('declines 3-D and non-constant weights with a reason (the reference runs them)', () => {
    const g = new Graph();
    g.inputs = [
      { name: 'X', type: { dtype: 'float32', shape: [1, 2, 3, 3] } },
      { name: 'W', type: { dtype: 'float32', shape: [2, 1, 2, 2] } },
    ];
    g.nodes = [{ name: 'ct', op: 'ConvTranspose', domain: '', inputs: ['X', 'W'], outputs: ['Y'], attrs: {} }];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    expect(ex.kernels.has(g.nodes[0]!)).toBe(false);
    expect(ex.fallbacks.get(g.nodes[0]!)).toContain('W is not a constant');
  });
});
