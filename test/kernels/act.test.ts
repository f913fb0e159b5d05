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
          // the clamp folds into the kernel's store, the activation after it (graph order is kept: clamp, then steps)
          expect(fast.fusedInto.has(act)).toBe(true);
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

// ONNX Clip: "min(max(input, min), max)", min/max optional scalars ("When 'min' is greater than 'max', the clip
// operator sets all the 'input' values to the value of 'max'"); Relu: "max(0, x)". Both are exact (no rounding).
describe('WASM standalone Clip / Relu vs the TS reference', () => {
  it('bit-exact over lengths, bounds (omitted, crossed, run-time) and special values, with a folded activation after', () => {
    fc.assert(
      fc.property(
        fc.record({
          op: fc.constantFrom('Clip', 'Relu'),
          n: fc.integer({ min: 1, max: 37 }),
          lo: fc.constantFrom<number | null>(null, -0.5, 0, 0.25),
          hi: fc.constantFrom<number | null>(null, 0.5, 6, -1),
          runtime: fc.boolean(),
          post: fc.constantFrom<string | null>(null, null, 'HardSigmoid', 'Relu'),
        }),
        fc.integer(),
        (r, seed) => {
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [r.n] } }];
          const feeds: Record<string, Tensor> = { X: new Tensor('float32', values(r.n, seed, 8), [r.n]) };
          const ins = ['X'];
          if (r.op === 'Clip') {
            for (const [name, v] of [['lo', r.lo], ['hi', r.hi]] as const) {
              if (v === null) {
                ins.push('');
                continue;
              }
              const t = new Tensor('float32', Float32Array.of(v), []);
              ins.push(name);
              // run-time bounds: a graph input (as exporters' CastLike(min, x) is to the plan)
              if (r.runtime) {
                g.inputs.push({ name, type: { dtype: 'float32', shape: [] } });
                feeds[name] = t;
              } else g.initializers.set(name, t);
            }
          }
          g.nodes = [{ name: 'c', op: r.op, domain: '', inputs: ins, outputs: [r.post ? 'T' : 'Y'], attrs: {} }];
          if (r.post) g.nodes.push({ name: 'p', op: r.post, domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_clamp');
          if (r.post) expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
          const got = fast.run(feeds).Y!.data as Float32Array;
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!.data as Float32Array;
          fast.dispose();
          check(r.post === 'HardSigmoid' ? 'HardSigmoid' : 'exact', got, want, feeds.X!.data as Float32Array);
        },
      ),
      { numRuns: 300, seed: 37 },
    );
  });

  it('a Relu after a Conv still folds into the conv (the standalone kernel is dropped)', () => {
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 2, 5, 5] } }];
    g.initializers.set('W', new Tensor('float32', values(2 * 2 * 9, 3, 1), [2, 2, 3, 3]));
    g.nodes = [
      { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['T'], attrs: { pads: [1, 1, 1, 1] } },
      { name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} },
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    expect(ex.fusedInto.has(g.nodes[1]!)).toBe(true);
    expect(ex.kernels.has(g.nodes[1]!)).toBe(false);
    const x = new Tensor('float32', values(50, 9, 1), [1, 2, 5, 5]);
    const got = ex.run({ X: x }).Y!.data as Float32Array;
    const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
    ex.dispose();
  });
});

// ONNX BatchNormalization (training_mode = 0): "Y = (X - input_mean) / sqrt(input_var + epsilon) * scale + B", per
// channel (axis 1). The kernel evaluates it as x·s + t in float (s, t from doubles), so agreement is to float rounding
// of the operands: |err| ≤ 1e-6·(1 + |x·s| + |t|).
describe('WASM BatchNormalization (inference) vs the TS reference', () => {
  it('agrees over ranks 2–5, channel counts, plane sizes around the vector width, constant or run-time parameters, fused Relu', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 7 }), sp: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 0, maxLength: 3 }), eps: fc.constantFrom(1e-5, 1e-3).map(Math.fround), runtime: fc.boolean(), relu: fc.boolean() }),
        fc.integer(),
        (r, seed) => {
          const dims = [r.n, r.c, ...r.sp];
          const size = dims.reduce((a, b) => a * b, 1);
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: dims } }];
          const feeds: Record<string, Tensor> = { X: new Tensor('float32', values(size, seed, 4), dims) };
          const params = ['scale', 'B', 'mean', 'var'];
          params.forEach((name, i) => {
            const v = values(r.c, seed + i + 1, 2);
            if (name === 'var') for (let j = 0; j < v.length; j++) v[j] = Math.abs(v[j]!) + 0.01;
            const t = new Tensor('float32', v, [r.c]);
            if (r.runtime) {
              g.inputs.push({ name, type: { dtype: 'float32', shape: [r.c] } });
              feeds[name] = t;
            } else g.initializers.set(name, t);
          });
          g.nodes = [{ name: 'bn', op: 'BatchNormalization', domain: '', inputs: ['X', ...params], outputs: [r.relu ? 'T' : 'Y'], attrs: { epsilon: r.eps } }];
          if (r.relu) g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_channel_affine');
          if (r.relu) expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
          const got = fast.run(feeds).Y!.data as Float32Array;
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!.data as Float32Array;
          fast.dispose();
          const x = feeds.X!.data as Float32Array;
          const [sc, b, mean, vr] = params.map((p) => (feeds[p] ?? g.initializers.get(p)!).data as Float32Array);
          const hw = size / (r.n * r.c);
          for (let i = 0; i < want.length; i++) {
            const ch = Math.floor(i / hw) % r.c;
            const s = sc![ch]! / Math.sqrt(vr![ch]! + r.eps);
            expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(x[i]! * s) + Math.abs(b![ch]! - mean![ch]! * s)));
          }
        },
      ),
      { numRuns: 300, seed: 41 },
    );
  });
});

// ONNX Mul / Add / Sub with a one-element constant broadcast over the other operand: each result rounds once, as
// the folded step does (x·a, then + b), so chains after a kernel (Conv → HardSwish → Mul → Add, PaddleOCR's
// "whswish") fold into it bit for bit against the unfused plan.
describe('scalar Mul / Add / Sub folded into the producing kernel', () => {
  it('agrees bit for bit with the unfused plan over chains, operand order and producers', () => {
    fc.assert(
      fc.property(
        fc.record({
          producer: fc.constantFrom('Conv', 'Add', 'MatMul'),
          chain: fc.array(fc.record({ op: fc.constantFrom('Mul', 'Add', 'Sub', 'HardSwish', 'Relu'), swap: fc.boolean(), c: fc.constantFrom(0.5, -1.25, 3, 0) }), { minLength: 1, maxLength: 4 }),
          c: fc.integer({ min: 1, max: 4 }),
          hw: fc.integer({ min: 1, max: 9 }),
        }),
        fc.integer(),
        (r, seed) => {
          const g = new Graph();
          const xDims = r.producer === 'MatMul' ? [r.hw, r.c] : [1, r.c, r.hw, r.hw];
          if (r.producer === 'Conv') {
            g.initializers.set('W', new Tensor('float32', values(r.c * r.c * 9, seed + 1, 1), [r.c, r.c, 3, 3]));
            g.nodes.push({ name: 'p', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['t0'], attrs: { pads: [1, 1, 1, 1] } });
          } else if (r.producer === 'Add') {
            g.initializers.set('W', new Tensor('float32', values(r.c * r.hw * r.hw, seed + 1, 1), xDims));
            g.nodes.push({ name: 'p', op: 'Add', domain: '', inputs: ['X', 'W'], outputs: ['t0'], attrs: {} });
          } else {
            g.initializers.set('W', new Tensor('float32', values(r.c * 3, seed + 1, 1), [r.c, 3]));
            g.nodes.push({ name: 'p', op: 'MatMul', domain: '', inputs: ['X', 'W'], outputs: ['t0'], attrs: {} });
          }
          r.chain.forEach((s, i) => {
            const y = `t${i}`;
            const z = i === r.chain.length - 1 ? 'Y' : `t${i + 1}`;
            if (s.op === 'HardSwish' || s.op === 'Relu') g.nodes.push({ name: `n${i}`, op: s.op, domain: '', inputs: [y], outputs: [z], attrs: {} });
            else {
              g.initializers.set(`c${i}`, new Tensor('float32', Float32Array.of(s.c), []));
              g.nodes.push({ name: `n${i}`, op: s.op, domain: '', inputs: s.swap ? [`c${i}`, y] : [y, `c${i}`], outputs: [z], attrs: {} });
            }
          });
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: xDims } }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const x = new Tensor('float32', values(xDims.reduce((a, b) => a * b, 1), seed, 4), xDims);
          // (without the plan-time conv rewrites, which would fold a Mul/Add straight after the conv into its weights)
          const fast = new Executor(g, { foldBatchNorm: false });
          // every step up to the first clamp after a step folds (a clamp cannot follow a step in the kernel)
          const firstArith = r.chain.findIndex((s) => s.op !== 'Relu');
          const stop = r.chain.findIndex((s, i) => s.op === 'Relu' && i > firstArith && firstArith >= 0);
          const expectFused = stop < 0 ? r.chain.length : stop;
          for (let i = 0; i < expectFused; i++) expect(fast.fusedInto.has(g.nodes[i + 1]!)).toBe(true);
          const got = fast.run({ X: x }).Y!.data as Float32Array;
          const unfused = new Executor(g, { fuseClamps: false, foldBatchNorm: false }).run({ X: x }).Y!.data as Float32Array;
          fast.dispose();
          for (let i = 0; i < unfused.length; i++) expect(Object.is(got[i], unfused[i])).toBe(true);
        },
      ),
      { numRuns: 200, seed: 47 },
    );
  });
});

// ONNX Sqrt: "Square root takes one input data (Tensor<T>) and produces one output data (Tensor<T>) where the square
// root is, y = x^0.5, is applied to the tensor elementwise. If x is negative, then it will return NaN."
// ONNX Pow: "Pow takes input data (Tensor<T>) and exponent Tensor, and produces one output data (Tensor<T>) where the
// function f(x) = x^exponent, is applied to the data tensor elementwise." — the kernel takes a constant exponent 2.
// ONNX Neg: "y = -x" (an exact sign flip).
// All are one correctly rounded float op: bit-exact with the reference's double result rounded to float.
describe('WASM Sqrt, Pow(x, 2) and Neg vs the TS reference', () => {
  it('bit-exact over lengths around the vector width and special values; other exponents decline', () => {
    fc.assert(
      fc.property(fc.constantFrom('Sqrt', 'Pow', 'Neg'), fc.integer({ min: 1, max: 23 }), fc.constantFrom(1, 1e3, 1e20), fc.constantFrom('float32', 'int64'), fc.integer(), (op, n, scale, et, seed) => {
        const g = new Graph();
        g.opsets = { '': 15 };
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [n] } }];
        if (op === 'Pow') g.initializers.set('E', et === 'int64' ? new Tensor('int64', BigInt64Array.of(2n), []) : new Tensor('float32', Float32Array.of(2), []));
        g.nodes = [{ name: 'u', op, domain: '', inputs: op === 'Pow' ? ['X', 'E'] : ['X'], outputs: ['Y'], attrs: {} }];
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        const x = values(n, seed, scale);
        if (n > 3) x.set([NaN, Infinity, -Infinity], 0);
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_unary');
        const got = fast.run({ X: new Tensor('float32', x, [n]) }).Y!.data as Float32Array;
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run({ X: new Tensor('float32', x, [n]) }).Y!.data as Float32Array;
        for (let i = 0; i < n; i++) expect(Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]))).toBe(true);
      }),
      { numRuns: 150, seed: 31 },
    );
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [4] } }];
    g.initializers.set('E', new Tensor('float32', Float32Array.of(3), []));
    g.nodes = [{ name: 'u', op: 'Pow', domain: '', inputs: ['X', 'E'], outputs: ['Y'], attrs: {} }];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    expect(new Executor(g).fallbacks.get(g.nodes[0]!)).toContain('exponent is not the constant scalar 2');
  });
});

// ONNX Log: "Calculates the natural log of the given input tensor, element-wise." Float log is not correctly rounded
// anywhere (the reference computes Math.log in double and rounds to float): the kernel (asm/vec.ts logv) agrees to a
// few float ulps; IEEE specials as the reference: log(±0) = −inf, log(x < 0) = NaN, log(inf) = inf, NaN stays NaN.
describe('WASM Log vs the TS reference', () => {
  it('within 4 ulps over positive magnitudes from subnormals to 1e38, lengths around the vector width, and specials', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 23 }), fc.integer({ min: -44, max: 38 }), fc.integer(), (n, exp10, seed) => {
        const g = new Graph();
        g.opsets = { '': 13 };
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [n] } }];
        g.nodes = [{ name: 'u', op: 'Log', domain: '', inputs: ['X'], outputs: ['Y'], attrs: {} }];
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        // mostly positive values spread over [0, 2·10^exp10), some negative, plus 1 (log 1 = 0 exactly)
        const x = values(n, seed, 10 ** exp10).map((v, i) => (i % 5 === 4 ? v : Math.abs(v)));
        if (n > 6) x.set([NaN, Infinity, -Infinity, 0, -0, 1], 0);
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_unary');
        const got = fast.run({ X: new Tensor('float32', x, [n]) }).Y!.data as Float32Array;
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run({ X: new Tensor('float32', x, [n]) }).Y!.data as Float32Array;
        for (let i = 0; i < n; i++) {
          if (!Number.isFinite(want[i]!) || want[i] === 0) {
            expect(Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]))).toBe(true);
            continue;
          }
          // 4 ulps of the reference value (float ulp = 2^(exponent − 23))
          const ulp = 2 ** (Math.floor(Math.log2(Math.abs(want[i]!))) - 23);
          expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(4 * ulp);
        }
      }),
      { numRuns: 300, seed: 53 },
    );
  });
});
