// WASM pointwise activations (asm/f32_act.ts f32_unary) against the TS reference ops, standalone and folded into
// the producing Conv / MatMul / Gemm / Add (the "fused bias + activation epilogue").
// ONNX: LeakyRelu y = alpha·x for x < 0 else x; HardSigmoid y = max(0, min(1, alpha·x + beta));
// HardSwish y = x·max(0, min(1, x/6 + 0.5)); Sigmoid y = 1 / (1 + exp(−x)).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const OPS = ['LeakyRelu', 'HardSigmoid', 'HardSwish', 'Sigmoid'] as const;

function values(n: number, seed: number, scale: number): Float32Array {
  let q = seed;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    if (q % 23 === 0) return [0, -0, 100, -100, 1e-30, -1e-30, 88, -88, -104][q % 9]!;
    return (q / 2 ** 31 - 1) * scale;
  });
}

/**
 * LeakyRelu is one float multiply (bit-exact; ONNX float attributes are 32-bit, hence Math.fround in the cases);
 * the others are float arithmetic vs the reference's doubles.
 */
function check(op: string, got: Float32Array, want: Float32Array, x?: Float32Array): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (op === 'LeakyRelu' || op === 'exact') expect(Object.is(got[i], want[i]) || got[i] === want[i]).toBe(true);
    // Sigmoid: relative (its exp is evaluated to a few ulps); Hard*: alpha·x + beta rounds in float, so the error
    // scales with the operands, not the (possibly cancelled) result
    else if (op === 'Sigmoid') expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(4e-7 * Math.abs(want[i]!) + 1e-30);
    else expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(3e-7 * (1 + Math.abs(x![i]!) * (1 + Math.abs(x![i]!))));
  }
}

describe('WASM activations vs the TS reference', () => {
  it('standalone, over lengths around the vector width, attributes and input ranges', () => {
    fc.assert(
      fc.property(
        fc.record({ op: fc.constantFrom(...OPS), n: fc.integer({ min: 1, max: 41 }), scale: fc.constantFrom(1, 8, 90), alpha: fc.constantFrom(0.01, 0.2, 1.5).map(Math.fround), beta: fc.constantFrom(0.5, 0.1).map(Math.fround) }),
        fc.integer(),
        (r, seed) => {
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [r.n] } }];
          const attrs: Record<string, number> = {};
          if (r.op === 'LeakyRelu' || r.op === 'HardSigmoid') attrs.alpha = r.alpha;
          if (r.op === 'HardSigmoid') attrs.beta = r.beta;
          g.nodes = [{ name: 'act', op: r.op, domain: '', inputs: ['X'], outputs: ['Y'], attrs }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const x = new Tensor('float32', values(r.n, seed, r.scale), [r.n]);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_unary');
          const got = fast.run({ X: x }).Y!.data as Float32Array;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
          fast.dispose();
          check(r.op, got, want, x.data as Float32Array);
        },
      ),
      { numRuns: 400, seed: 31 },
    );
  });

  it('folded into Conv, MatMul, Gemm and Add: no activation node runs, results as unfused', () => {
    fc.assert(
      fc.property(
        fc.record({ op: fc.constantFrom(...OPS), producer: fc.constantFrom('Conv', 'MatMul', 'Gemm', 'Add'), m: fc.integer({ min: 1, max: 9 }), c: fc.integer({ min: 1, max: 6 }), hw: fc.integer({ min: 1, max: 7 }), clampFirst: fc.boolean() }),
        fc.integer(),
        (r, seed) => {
          const g = new Graph();
          const w = (n: number, s: number) => values(n, s, 1);
          let xDims: number[];
          if (r.producer === 'Conv') {
            xDims = [1, r.c, r.hw, r.hw];
            g.initializers.set('W', new Tensor('float32', w(r.m * r.c * 9, seed + 1), [r.m, r.c, 3, 3]));
            g.nodes.push({ name: 'p', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['T0'], attrs: { pads: [1, 1, 1, 1] } });
          } else if (r.producer === 'Add') {
            xDims = [r.c, r.hw, r.m];
            g.initializers.set('W', new Tensor('float32', w(r.c * r.hw * r.m, seed + 1), xDims));
            g.nodes.push({ name: 'p', op: 'Add', domain: '', inputs: ['X', 'W'], outputs: ['T0'], attrs: {} });
          } else {
            xDims = [r.hw, r.c];
            g.initializers.set('W', new Tensor('float32', w(r.c * r.m, seed + 1), [r.c, r.m]));
            g.nodes.push({ name: 'p', op: r.producer, domain: '', inputs: ['X', 'W'], outputs: ['T0'], attrs: {} });
          }
          let t = 'T0';
          if (r.clampFirst) {
            g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: [t], outputs: ['T1'], attrs: {} });
            t = 'T1';
          }
          g.nodes.push({ name: 'act', op: r.op, domain: '', inputs: [t], outputs: ['Y'], attrs: {} });
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: xDims } }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const x = new Tensor('float32', values(xDims.reduce((a, b) => a * b, 1), seed, 4), xDims);
          const fast = new Executor(g);
          const act = g.nodes[g.nodes.length - 1]!;
          // the clamp folds first; the activation folds only straight after the producer (order is kept)
          expect(fast.fusedInto.has(act)).toBe(!r.clampFirst);
          const got = fast.run({ X: x }).Y!.data as Float32Array;
          const unfused = new Executor(g, { fuseClamps: false }).run({ X: x }).Y!.data as Float32Array;
          fast.dispose();
          check(r.op === 'LeakyRelu' ? 'LeakyRelu' : 'exact', got, unfused);
        },
      ),
      { numRuns: 200, seed: 32 },
    );
  });
});
