// Transformer kernels against the TS reference ops, over random shapes that hit the 4-row / 8-column GEMM tile edges,
// the 4-lane vector tails of the row kernels and broadcast batch dims: batched MatMul of two activations (f32_bmm,
// with and without a Transpose read in place), MatMul by a weight behind an Identity / Transpose, LayerNormalization,
// Softmax on the last axis, Erf / Tanh / Gelu.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

function values(n: number, seed: number, scale = 1): Float32Array {
  let q = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    return (q / 2 ** 31 - 1) * scale;
  });
}

function both(g: Graph, feeds: Record<string, Tensor>, kernelOf?: string): { got: Float32Array; want: Float32Array; fast: Executor } {
  const fast = new Executor(g);
  if (kernelOf) expect(fast.kernels.get(g.nodes.find((n) => n.name === kernelOf)!)?.name).toBeDefined();
  const got = fast.run(feeds).Y!.data as Float32Array;
  const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!.data as Float32Array;
  fast.dispose();
  return { got, want, fast };
}

/** |got − want| ≤ tol · scale per element, where scale is each output's Σ|a·b| bound (float accumulation order). */
function close(got: Float32Array, want: Float32Array, tol: (i: number) => number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i]! - want[i]!) <= tol(i) || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!ok) expect(`[${i}] ${got[i]}`).toBe(`${want[i]}`);
  }
}

const dimsArb = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 });

describe('f32_bmm: MatMul of two activations', () => {
  // ONNX MatMul: "Matrix product that behaves like numpy.matmul" — batch dims broadcast (numpy: "the arrays are
  // broadcast together"), the last two dims multiply.
  it('equals the reference over broadcast batch dims and tile edges (M, N, K 1…13)', () => {
    fc.assert(
      fc.property(
        fc.record({ ba: dimsArb, bb: dimsArb, m: fc.integer({ min: 1, max: 13 }), n: fc.integer({ min: 1, max: 19 }), k: fc.integer({ min: 1, max: 13 }), bcast: fc.integer({ min: 0, max: 3 }), seed: fc.integer() }),
        (r) => {
          // make the batch dims broadcast-compatible: some 1s on either side
          const nb = Math.max(r.ba.length, r.bb.length);
          const ba = r.ba.map((d, i) => ((r.bcast >> (i % 2)) & 1 ? 1 : d));
          const bb = r.bb.map((d, i) => {
            const j = nb - r.bb.length + i;
            const ai = j - (nb - ba.length);
            return ai >= 0 && ba[ai] !== 1 ? ba[ai]! : d;
          });
          const A = [...ba, r.m, r.k];
          const B = [...bb, r.k, r.n];
          const g = new Graph();
          g.opsets = { '': 17 };
          g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: A } }, { name: 'B', type: { dtype: 'float32', shape: B } }];
          g.nodes = [{ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const a = values(A.reduce((x, d) => x * d, 1), r.seed);
          const b = values(B.reduce((x, d) => x * d, 1), r.seed + 1);
          const ex = new Executor(g);
          expect(ex.kernels.get(g.nodes[0]!)?.name).toBe('f32_bmm');
          ex.dispose();
          const { got, want } = both(g, { A: new Tensor('float32', a, A), B: new Tensor('float32', b, B) });
          close(got, want, () => 2e-6 * r.k);
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  // ONNX Transpose: "perm ... permute the axes"; MatMul(Q, Transpose(K, perm swapping the last two)) = Q·Kᵀ.
  it('reads a Transpose of its B input in place (Q·Kᵀ) and skips the Transpose', () => {
    fc.assert(
      fc.property(
        fc.record({ h: fc.integer({ min: 1, max: 4 }), m: fc.integer({ min: 1, max: 11 }), n: fc.integer({ min: 1, max: 21 }), k: fc.integer({ min: 1, max: 17 }), seed: fc.integer() }),
        (r) => {
          const g = new Graph();
          g.opsets = { '': 17 };
          g.inputs = [{ name: 'Q', type: { dtype: 'float32', shape: [1, r.h, r.m, r.k] } }, { name: 'K', type: { dtype: 'float32', shape: [1, r.h, r.n, r.k] } }];
          const t: Node = { name: 'tr', op: 'Transpose', domain: '', inputs: ['K'], outputs: ['Kt'], attrs: { perm: [0, 1, 3, 2] } };
          const mm: Node = { name: 'mm', op: 'MatMul', domain: '', inputs: ['Q', 'Kt'], outputs: ['Y'], attrs: {} };
          g.nodes = [t, mm];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const q = new Tensor('float32', values(r.h * r.m * r.k, r.seed), [1, r.h, r.m, r.k]);
          const k = new Tensor('float32', values(r.h * r.n * r.k, r.seed + 5), [1, r.h, r.n, r.k]);
          const fast = new Executor(g);
          fast.profile = new Map();
          const got = fast.run({ Q: q, K: k }).Y!;
          // the transpose never ran: only the MatMul's kernel was timed
          expect([...fast.profile.keys()]).toEqual(['f32_bmm']);
          // fetching the Transpose's output still computes it
          expect(fast.run({ Q: q, K: k }, ['Kt', 'Y']).Kt!.dims).toEqual([1, r.h, r.k, r.n]);
          fast.dispose();
          const want = new Executor(g, { backend: 'reference' }).run({ Q: q, K: k }).Y!;
          expect(got.dims).toEqual(want.dims);
          close(got.data as Float32Array, want.data as Float32Array, () => 2e-6 * r.k);
        },
      ),
      { numRuns: 80, seed: 11 },
    );
  });
});

describe('MatMul by a weight behind Identity / Transpose (packed once)', () => {
  it('takes the weight through the producer and matches the reference', () => {
    fc.assert(
      fc.property(fc.record({ via: fc.constantFrom('Identity', 'Transpose'), s: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 20 }), n: fc.integer({ min: 1, max: 20 }), seed: fc.integer() }), (r) => {
        const g = new Graph();
        g.opsets = { '': 17 };
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [2, r.s, r.k] } }];
        const wd = r.via === 'Identity' ? [r.k, r.n] : [r.n, r.k];
        g.initializers.set('W', new Tensor('float32', values(r.k * r.n, r.seed), wd));
        g.nodes = [
          { name: 'p', op: r.via, domain: '', inputs: ['W'], outputs: ['Wk'], attrs: r.via === 'Transpose' ? { perm: [1, 0] } : {} },
          { name: 'mm', op: 'MatMul', domain: '', inputs: ['X', 'Wk'], outputs: ['Y'], attrs: {} },
        ];
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        const ex = new Executor(g);
        // (the plan's graph is canonicalized: look the MatMul up there, by name)
        expect(ex.kernels.get(ex.graph.nodes.find((n) => n.name === 'mm')!)?.name).toBe('f32_gemm_4x8');
        ex.dispose();
        const { got, want } = both(g, { X: new Tensor('float32', values(2 * r.s * r.k, r.seed + 3), [2, r.s, r.k]) });
        close(got, want, () => 2e-6 * r.k);
      }),
      { numRuns: 60, seed: 3 },
    );
  });
});

function oneNode(op: string, shape: number[], attrs: Record<string, unknown>, inits: [string, Tensor][] = []): Graph {
  const g = new Graph();
  g.opsets = { '': 20 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape } }];
  for (const [n, t] of inits) g.initializers.set(n, t);
  g.nodes = [{ name: 'n', op, domain: '', inputs: ['X', ...inits.map(([n]) => n)], outputs: ['Y'], attrs }];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('row kernels', () => {
  // ONNX LayerNormalization: "Mean = ReduceMean<axes=normalized_axes>(X); D = Sub(X, Mean); DD = Mul(D, D);
  // Var = ReduceMean<axes=normalized_axes>(DD); VarEps = Add(Var, epsilon); StdDev = Sqrt(VarEps);
  // InvStdDev = Reciprocal(StdDev); Normalized = Mul(D, InvStdDev); NormalizedScaled = Mul(Normalized, Scale);
  // Y = Add(NormalizedScaled, B)"
  it('LayerNormalization (axis −1 and −2, with and without B) equals the reference', () => {
    fc.assert(
      fc.property(fc.record({ rows: fc.integer({ min: 1, max: 5 }), a: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 37 }), axis: fc.constantFrom(-1, -2), bias: fc.boolean(), offset: fc.constantFrom(0, 100), seed: fc.integer() }), (r) => {
        const shape = [r.rows, r.a, r.n];
        const norm = r.axis === -1 ? [r.n] : [r.a, r.n];
        const cnt = norm.reduce((x, d) => x * d, 1);
        const inits: [string, Tensor][] = [['S', new Tensor('float32', values(cnt, r.seed + 1), norm)]];
        if (r.bias) inits.push(['B', new Tensor('float32', values(cnt, r.seed + 2), norm)]);
        const g = oneNode('LayerNormalization', shape, { axis: r.axis, epsilon: 1e-5 }, inits);
        const x = values(r.rows * r.a * r.n, r.seed).map((v) => v * 3 + r.offset);
        const { got, want } = both(g, { X: new Tensor('float32', x, shape) }, 'n');
        close(got, want, (i) => 2e-5 * (1 + Math.abs(want[i]!)) + (r.offset ? 1e-3 : 0));
      }),
      { numRuns: 150, seed: 5 },
    );
  });

  // ONNX Softmax (opset 13): "Softmax(input, axis) = Exp(input) / ReduceSum(Exp(input), axis=axis, keepdims=1)"
  it('Softmax on the last axis equals the reference, including −∞-masked entries', () => {
    fc.assert(
      fc.property(fc.record({ rows: fc.integer({ min: 1, max: 6 }), n: fc.integer({ min: 1, max: 41 }), scale: fc.constantFrom(1, 10, 60), mask: fc.boolean(), seed: fc.integer() }), (r) => {
        const x = values(r.rows * r.n, r.seed, r.scale);
        if (r.mask) for (let i = 0; i < x.length; i += 3) if (i % r.n !== 0) x[i] = -Infinity;
        const g = oneNode('Softmax', [r.rows, r.n], { axis: -1 });
        const { got, want } = both(g, { X: new Tensor('float32', x, [r.rows, r.n]) }, 'n');
        close(got, want, (i) => 3e-6 * Math.abs(want[i]!) + 1e-9);
      }),
      { numRuns: 150, seed: 9 },
    );
  });

  // ONNX Erf: "the error function of the given input tensor element-wise"; Tanh: "hyperbolic tangent";
  // Gelu (opset 20, approximate = 'none'): "y = 0.5 * x * (1 + erf(x/sqrt(2)))"
  it('Erf, Tanh, Gelu equal the reference to a few float ulps', () => {
    fc.assert(
      fc.property(fc.record({ op: fc.constantFrom('Erf', 'Tanh', 'Gelu'), n: fc.integer({ min: 1, max: 45 }), scale: fc.constantFrom(0.05, 1, 3, 12), seed: fc.integer() }), (r) => {
        const x = values(r.n, r.seed, r.scale);
        if (r.n > 3) x.set([0, -0, 1e-30], 0);
        const g = oneNode(r.op, [r.n], {});
        const { got, want } = both(g, { X: new Tensor('float32', x, [r.n]) }, 'n');
        close(got, want, (i) => 5e-7 * Math.abs(want[i]!) + (r.op === 'Gelu' ? 3e-7 * Math.abs(x[i]!) : 1e-7 * Math.min(1, Math.abs(x[i]!)) + 1e-38));
      }),
      { numRuns: 200, seed: 13 },
    );
  });
});

describe('Where (masked fill)', () => {
  // ONNX Where: "Return elements, either from X or Y, depending on condition. Where behaves like numpy.where with
  // three parameters" and "supports multidirectional (i.e., Numpy-style) broadcasting"
  it('equals the reference over broadcast condition / X / Y shapes', () => {
    const sub = (d: number[], mask: number) => d.map((v, i) => ((mask >> i) & 1 ? 1 : v)).slice(mask & 16 ? 1 : 0);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 31 }), fc.integer(), (d, mc, mx, my, seed) => {
        const [dc, dx, dy] = [sub(d, mc), sub(d, mx), sub(d, my)];
        const g = new Graph();
        g.opsets = { '': 17 };
        g.inputs = [
          { name: 'C', type: { dtype: 'bool', shape: dc } },
          { name: 'X', type: { dtype: 'float32', shape: dx } },
          { name: 'Y', type: { dtype: 'float32', shape: dy } },
        ];
        g.nodes = [{ name: 'n', op: 'Where', domain: '', inputs: ['C', 'X', 'Y'], outputs: ['O'], attrs: {} }];
        g.outputs = [{ name: 'O', type: { dtype: 'float32' } }];
        const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
        const cv = values(size(dc), seed);
        const feeds = {
          C: new Tensor('bool', Uint8Array.from(cv, (v) => (v > 0 ? 1 : 0)), dc),
          X: new Tensor('float32', values(size(dx), seed + 1), dx),
          Y: new Tensor('float32', values(size(dy), seed + 2).map((v) => (v > 0.5 ? -Infinity : v)), dy),
        };
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_where');
        const got = fast.run(feeds).O!;
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run(feeds).O!;
        expect(got.dims).toEqual(want.dims);
        expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
      }),
      { numRuns: 150, seed: 41 },
    );
  });
});

describe('layout kernels (x32_strided_copy): Transpose, Slice, Concat, Split', () => {
  const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });
  const sz = (d: number[]) => d.reduce((a, b) => a * b, 1);
  function run1(g: Graph, feeds: Record<string, Tensor>, kernel: string): void {
    const fast = new Executor(g);
    expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(kernel);
    const got = fast.run(feeds);
    fast.dispose();
    const want = new Executor(g, { backend: 'reference' }).run(feeds);
    for (const o of g.outputs) {
      expect(got[o.name]!.dims).toEqual(want[o.name]!.dims);
      expect(Array.from(got[o.name]!.data as Float32Array)).toEqual(Array.from(want[o.name]!.data as Float32Array)); // a copy: bit-exact
    }
  }
  function g1(op: string, ins: [string, number[]][], inits: [string, Tensor][], attrs: Record<string, unknown>, outs = ['Y']): Graph {
    const g = new Graph();
    g.opsets = { '': 18 };
    g.inputs = ins.map(([name, shape]) => ({ name, type: { dtype: 'float32', shape } }));
    for (const [n, t] of inits) g.initializers.set(n, t);
    g.nodes = [{ name: 'n', op, domain: '', inputs: [...ins.map(([n]) => n), ...inits.map(([n]) => n)], outputs: outs, attrs }];
    g.outputs = outs.map((name) => ({ name, type: { dtype: 'float32' } }));
    return g;
  }

  // ONNX Transpose: "the output shape is input.shape[perm[i]]"
  it('Transpose over every permutation of rank ≤ 4', () => {
    fc.assert(
      fc.property(shapeArb.chain((d) => fc.tuple(fc.constant(d), fc.shuffledSubarray([...d.keys()], { minLength: d.length, maxLength: d.length }), fc.integer())), ([d, perm, seed]) => {
        run1(g1('Transpose', [['X', d]], [], { perm }), { X: new Tensor('float32', values(sz(d), seed), d) }, 'x32_transpose');
      }),
      { numRuns: 120, seed: 17 },
    );
  });

  // ONNX Slice: "starts, ends, axes, steps ... negative value means counting dimensions from the back ... clamped"
  it('Slice with negative and out-of-range starts/ends and steps ±1…3', () => {
    fc.assert(
      fc.property(
        shapeArb.chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: 0, max: d.length - 1 }), fc.integer({ min: -7, max: 7 }), fc.integer({ min: -7, max: 7 }), fc.constantFrom(1, 2, 3, -1, -2), fc.integer())),
        ([d, axis, start, end, step, seed]) => {
          const i64 = (v: number) => new Tensor('int64', BigInt64Array.from([BigInt(v)]), [1]);
          const g = g1('Slice', [['X', d]], [['s', i64(start)], ['e', i64(end)], ['a', i64(axis)], ['p', i64(step)]], {});
          run1(g, { X: new Tensor('float32', values(sz(d), seed), d) }, 'x32_slice');
        },
      ),
      { numRuns: 150, seed: 19 },
    );
  });

  // ONNX Gather: "Given data tensor of rank r >= 1, and indices tensor of rank q, gather entries of the axis
  // dimension of data (by default outer-most one as axis=0) indexed by indices" — negative indices count from the back
  // (float32 tables, and the 8-bit tables of quantized models: whisper-tiny quantized's uint8 embedding; a float16 table
  // reaches the executor widened to float32 by the fp16 pass)
  it('Gather of rows (embeddings) on any axis, negative indices, float32 / uint8 / int8 tables', () => {
    const kinds = { float32: 'x32_gather', uint8: 'x8_gather', int8: 'x8_gather' } as const;
    fc.assert(
      fc.property(shapeArb.chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: 0, max: d.length - 1 }), fc.array(fc.integer({ min: -5, max: 4 }), { minLength: 0, maxLength: 6 }), fc.integer(), fc.constantFrom(...(Object.keys(kinds) as (keyof typeof kinds)[])))), ([d, axis, raw, seed, dt]) => {
        const len = d[axis]!;
        const idx = raw.map((i) => ((i % len) + len) % len - (i < 0 ? len : 0));
        const g = new Graph();
        g.opsets = { '': 18 };
        const f = values(sz(d), seed);
        const table = dt === 'float32' ? f : dt === 'uint8' ? Uint8Array.from(f, (v) => (v * 1000) & 255) : Int8Array.from(f, (v) => (v * 1000) | 0);
        g.initializers.set('W', new Tensor(dt, table as never, d));
        g.inputs = [{ name: 'I', type: { dtype: 'int64', shape: [idx.length] } }];
        g.nodes = [{ name: 'n', op: 'Gather', domain: '', inputs: ['W', 'I'], outputs: ['Y'], attrs: { axis } }];
        g.outputs = [{ name: 'Y', type: { dtype: dt } }];
        run1(g, { I: new Tensor('int64', BigInt64Array.from(idx, BigInt), [idx.length]) }, kinds[dt]);
      }),
      { numRuns: 120, seed: 37 },
    );
  });

  // ONNX Concat: "All input tensors must have the same shape, except for the dimension size of the axis to concatenate on"
  // ONNX Split: "Split a tensor into a list of tensors, along the specified 'axis'"
  it('Concat along an inner axis and Split into uneven parts', () => {
    fc.assert(
      fc.property(fc.record({ lead: fc.integer({ min: 2, max: 4 }), a: fc.integer({ min: 1, max: 5 }), b: fc.integer({ min: 1, max: 5 }), inner: fc.integer({ min: 1, max: 9 }), seed: fc.integer() }), (r) => {
        const da = [r.lead, r.a, r.inner];
        const db = [r.lead, r.b, r.inner];
        run1(g1('Concat', [['A', da], ['B', db]], [], { axis: 1 }), { A: new Tensor('float32', values(sz(da), r.seed), da), B: new Tensor('float32', values(sz(db), r.seed + 1), db) }, 'x32_concat');
        const dx = [r.lead, r.a + r.b, r.inner];
        const split = new Tensor('int64', BigInt64Array.from([BigInt(r.a), BigInt(r.b)]), [2]);
        run1(g1('Split', [['X', dx]], [['sp', split]], { axis: -2 }, ['Y0', 'Y1']), { X: new Tensor('float32', values(sz(dx), r.seed), dx) }, 'x32_split');
      }),
      { numRuns: 100, seed: 23 },
    );
  });
});
