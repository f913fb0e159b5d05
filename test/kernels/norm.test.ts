// CNN normalizations on WASM (src/kernels/norm.ts) against the TS reference ops, over random shapes that hit the
// 4-lane vector tails: Softmax over an axis that is not the last one (f32_softmax_strided: channels of NCHW
// segmentation heads) and InstanceNormalization (f32_instancenorm: style-transfer / GAN generators) with a fused
// Relu / Clip.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

function values(n: number, seed: number, scale = 1): Float32Array {
  let q = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    return (q / 2 ** 31 - 1) * scale;
  });
}

function graph(op: string, shape: number[], attrs: Record<string, unknown>, inits: [string, Tensor][], post?: [string, Record<string, unknown>]): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape } }];
  for (const [n, t] of inits) g.initializers.set(n, t);
  g.nodes = [{ name: 'n', op, domain: '', inputs: ['X', ...inits.map(([n]) => n)], outputs: [post ? 'T' : 'Y'], attrs }];
  if (post) g.nodes.push({ name: 'post', op: post[0], domain: '', inputs: ['T'], outputs: ['Y'], attrs: post[1] });
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

function check(g: Graph, x: Tensor, kernel: string, tol: (want: number) => number): void {
  const fast = new Executor(g);
  expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(kernel);
  if (g.nodes[1]) expect(fast.fusedInto.has(g.nodes[1])).toBe(true);
  const got = fast.run({ X: x }).Y!.data as Float32Array;
  fast.dispose();
  const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i]! - want[i]!) <= tol(want[i]!) || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!ok) expect(`[${i}] ${got[i]}`).toBe(`${want[i]}`);
  }
}

describe('Softmax over an inner axis (f32_softmax_strided)', () => {
  // ONNX Softmax (opset 13): "The operator computes the normalized exponential values for the given input:
  // Softmax(input, axis) = Exp(input) / ReduceSum(Exp(input), axis=axis, keepdims=1)"; "axis: The dimension
  // Softmax will be performed on. Negative value means counting dimensions from the back. Accepted range is
  // [-r, r-1] where r = rank(input)."
  it('equals the reference for every non-last axis of rank-2…4 tensors, inner sizes 1…13', () => {
    let runs = 0;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 2, maxLength: 4 }), fc.nat(), fc.boolean(), fc.constantFrom(1, 8, 40), fc.integer(), (dims, a, neg, scale, seed) => {
        const r = dims.length;
        const axis = a % (r - 1); // not the last axis
        const shape = [...dims];
        shape[r - 1] = 1 + (seed >>> 0) % 13;
        const x = values(shape.reduce((p, d) => p * d, 1), seed, scale);
        runs++;
        check(graph('Softmax', shape, { axis: neg ? axis - r : axis }, []), new Tensor('float32', x, shape), 'f32_softmax_strided', (w) => 3e-6 * Math.abs(w) + 1e-9);
      }),
      { numRuns: 150, seed: 21 },
    );
    expect(runs).toBe(150);
  });
});

describe('Softmax with NaN and infinite entries (f32_softmax, f32_softmax_strided)', () => {
  // The kernels take the max with pmax, which skips a NaN; exp(NaN − max) then makes the sum — and so every entry of
  // that row — NaN, which is what the spec's Exp(x) / ReduceSum(Exp(x)) gives (and the reference). An all −∞ row is
  // NaN too (−∞ − (−∞)); a +∞ entry makes its row NaN (∞ − ∞). Each case: NaN exactly where the reference has NaN,
  // the other values within 3e-6.
  it('gives NaN exactly where the reference does, on the last axis and an inner one', () => {
    const specials = [NaN, Infinity, -Infinity, 0, -0];
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 19 }), fc.boolean(), fc.integer(), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...specials)), { maxLength: 4 }), (rows, n, inner, seed, put) => {
        const shape = inner ? [rows, n, 3] : [rows, n];
        const x = values(shape.reduce((p, d) => p * d, 1), seed, 8);
        for (const [at, v] of put) x[at % x.length] = v;
        check(graph('Softmax', shape, { axis: 1 }, []), new Tensor('float32', x, shape), inner ? 'f32_softmax_strided' : 'f32_softmax', (w) => 3e-6 * Math.abs(w) + 1e-9);
      }),
      { numRuns: 200, seed: 5 },
    );
  });
});

describe('InstanceNormalization (f32_instancenorm)', () => {
  // ONNX InstanceNormalization: "y = scale * (x - mean) / sqrt(variance + epsilon) + B, where mean and variance
  // are computed per instance per channel."
  it('equals the reference over N, C, 1-D…3-D spatial sizes (tails of 4), with a fused Relu / Clip / LeakyRelu', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          c: fc.integer({ min: 1, max: 6 }),
          sp: fc.array(fc.integer({ min: 1, max: 11 }), { minLength: 1, maxLength: 3 }),
          eps: fc.constantFrom(1e-5, 1e-3),
          offset: fc.constantFrom(0, 3, 100),
          post: fc.constantFrom(undefined, ['Relu', {}] as [string, Record<string, unknown>], ['Clip', { min: -0.5, max: 0.7 }] as [string, Record<string, unknown>], ['LeakyRelu', { alpha: 0.2 }] as [string, Record<string, unknown>]),
          seed: fc.integer(),
        }),
        (r) => {
          const shape = [r.n, r.c, ...r.sp];
          const x = values(shape.reduce((p, d) => p * d, 1), r.seed, 2).map((v) => v + r.offset);
          const inits: [string, Tensor][] = [
            ['scale', new Tensor('float32', values(r.c, r.seed ^ 5), [r.c])],
            ['B', new Tensor('float32', values(r.c, r.seed ^ 9), [r.c])],
          ];
          let post = r.post;
          // Clip takes min / max as inputs from opset 11: a constant-attribute Clip is written as opset-6 style here,
          // so use Relu-like bounds through the Clip inputs instead
          const g = graph('InstanceNormalization', shape, { epsilon: r.eps }, inits, post && post[0] === 'Clip' ? ['Clip', {}] : post);
          if (post && post[0] === 'Clip') {
            g.initializers.set('lo', new Tensor('float32', Float32Array.of(-0.5), []));
            g.initializers.set('hi', new Tensor('float32', Float32Array.of(0.7), []));
            g.nodes[1]!.inputs = ['T', 'lo', 'hi'];
            post = undefined;
          }
          // statistics in f32 lanes (summed in f64) vs the reference's f64: agreement to a few ulps of the scale
          check(g, new Tensor('float32', x, shape), 'f32_instancenorm', (w) => 2e-5 * (1 + Math.abs(w)));
        },
      ),
      { numRuns: 150, seed: 22 },
    );
  });
});

describe('LayerNormalization with a fused activation (f32_layernorm_clamp)', () => {
  // ONNX LayerNormalization (opset 17): "Mean = ReduceMean<axes=normalized_axes>(X); D = Sub(X, Mean); DD = Mul(D, D);
  // Var = ReduceMean<axes=normalized_axes>(DD); VarEps = Add(Var, epsilon); StdDev = Sqrt(VarEps); InvStdDev =
  // Reciprocal(StdDev); Normalized = Mul(D, InvStdDev); NormalizedScaled = Mul(Normalized, Scale); Y = Add(
  // NormalizedScaled, B)". The Relu / Clip / Sigmoid after it (openWakeWord's Gemm → LayerNorm → Relu blocks) folds
  // into the kernel: the clamp in its store, other activations over its output.
  it('equals the reference over rows × normalized sizes (tails of 4), with Relu / Clip / Sigmoid folded in', () => {
    fc.assert(
      fc.property(
        fc.record({
          rows: fc.integer({ min: 1, max: 5 }),
          n: fc.integer({ min: 1, max: 37 }),
          bias: fc.boolean(),
          post: fc.constantFrom('Relu', 'Clip', 'Sigmoid'),
          seed: fc.integer(),
        }),
        (r) => {
          const shape = [r.rows, r.n];
          const x = values(r.rows * r.n, r.seed, 2);
          const inits: [string, Tensor][] = [['scale', new Tensor('float32', values(r.n, r.seed ^ 5), [r.n])]];
          if (r.bias) inits.push(['B', new Tensor('float32', values(r.n, r.seed ^ 9), [r.n])]);
          const g = graph('LayerNormalization', shape, { axis: -1, epsilon: 1e-5 }, inits, [r.post, {}]);
          if (r.post === 'Clip') {
            g.initializers.set('lo', new Tensor('float32', Float32Array.of(-0.25), []));
            g.initializers.set('hi', new Tensor('float32', Float32Array.of(0.6), []));
            g.nodes[1]!.inputs = ['T', 'lo', 'hi'];
          }
          check(g, new Tensor('float32', x, shape), 'f32_layernorm', (w) => 2e-5 * (1 + Math.abs(w)));
        },
      ),
      { numRuns: 150, seed: 17 },
    );
  });
});
