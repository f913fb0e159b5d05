// Sparse WASM kernels (src/kernels/sparse.ts, asm/f32_spmm.ts) against the TS reference ops.
// MatMul/Gemm: Y = A·B (+ C), Conv: Y[n,m] = B[m] + Σ W·X (ONNX spec). Float sums run in another order, so
// results agree to 1e-5 relative, not bit for bit. The kernel choice follows the sparsity crossover.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { SPARSE_MIN_CONV, SPARSE_MIN_LARGE_M, SPARSE_MIN_SMALL_M, SparseGemmF32, sparseConfig, sparseConvConfig, sparseThreshold } from '../../src/kernels/sparse.js';
import { arena } from '../../src/kernels/wasm.js';
import { acquireThreads, forkStats, releaseThreads, setActiveThreads, setMinShare } from '../../src/kernels/threads.js';

const rng = (seed: number) => {
  let r = seed >>> 0 || 1;
  return () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
};

/** Random weights, then exactly ceil(s·len) of them zeroed (random positions); `emptyRows` zeroes whole output rows. */
function sparseWeights(len: number, s: number, seed: number, rowOf?: (i: number) => number, emptyRows: number[] = []): Float32Array {
  const rnd = rng(seed);
  const w = Float32Array.from({ length: len }, () => {
    const v = rnd();
    return v === 0 ? 0.5 : v;
  });
  const idx = Array.from({ length: len }, (_, i) => i);
  for (let i = len - 1; i > 0; i--) {
    const j = Math.floor(((rnd() + 1) / 2) * (i + 1)) % (i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const cut = Math.min(len, Math.ceil(s * len));
  for (let i = 0; i < cut; i++) w[idx[i]!] = 0;
  if (rowOf) for (let i = 0; i < len; i++) if (emptyRows.includes(rowOf(i))) w[i] = 0;
  return w;
}

function close(got: Tensor, want: Tensor): void {
  expect(got.dims).toEqual(want.dims);
  const a = got.data as Float32Array;
  const b = want.data as Float32Array;
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(b[i]!)));
}

function addAct(g: Graph, act: 'none' | 'relu' | 'clip'): void {
  if (act === 'relu') g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
  if (act === 'clip') {
    g.initializers.set('lo', new Tensor('float32', Float32Array.of(-0.5), []));
    g.initializers.set('hi', new Tensor('float32', Float32Array.of(0.75), []));
    g.nodes.push({ name: 'clip', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
  }
}

function check(g: Graph, feeds: Record<string, Tensor>, kernel: string | string[]): void {
  const mem = arena()!;
  const before = mem.inUse;
  const fast = new Executor(g);
  const ref = new Executor(g, { backend: 'reference' });
  expect(Array.isArray(kernel) ? kernel : [kernel]).toContain(fast.kernels.get(g.nodes[0]!)?.name);
  if (g.nodes.length > 1) expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
  const got = fast.run(feeds).Y as Tensor;
  const want = ref.run(feeds).Y as Tensor;
  close(got, want);
  // twice: steady-state runs reuse blocks
  close(fast.run(feeds).Y as Tensor, want);
  fast.dispose();
  expect(mem.inUse).toBe(before);
}

/** f32_spmm_nchw_32's channel split [input channels per range, from how many input channels, output channels per block]; undefined: the default */
const splitArb = fc.constantFrom<[number, number, number] | undefined>(undefined, [1, 1, 1], [2, 2, 3], [3, 2, 2], [4, 5, 1], [2, 2, 64]);

/** `make()` with sparseConvConfig's channel split set to `split` (the kernel reads it when a node is prepared) */
function withSplit<T>(split: [number, number, number] | undefined, make: () => T): T {
  const { chunk, chunkMin, block } = sparseConvConfig;
  if (split) [sparseConvConfig.chunk, sparseConvConfig.chunkMin, sparseConvConfig.block] = split;
  try {
    return make();
  } finally {
    Object.assign(sparseConvConfig, { chunk, chunkMin, block });
  }
}

const sparsityArb = fc.oneof(fc.double({ min: SPARSE_MIN_SMALL_M, max: 0.99, noNaN: true }), fc.constantFrom(0.99, 1));
const actArb = fc.constantFrom<'none' | 'relu' | 'clip'>('none', 'relu', 'clip');

describe('sparse WASM kernels vs the TS reference', () => {
  it('MatMul: constant pruned B over rows hitting the 4-row / 8-row tiles, N mod 4, empty rows, rank-3 A', () => {
    fc.assert(
      fc.property(
        fc.record({
          lead: fc.constantFrom([1], [2], [3], [4], [5], [7], [8], [9], [16], [17], [2, 5], [3, 7], [65]),
          k: fc.integer({ min: 1, max: 40 }),
          n: fc.integer({ min: 1, max: 27 }),
          s: sparsityArb,
          empty: fc.array(fc.integer({ min: 0, max: 26 }), { maxLength: 4 }),
          act: actArb,
          seed: fc.integer(),
        }),
        ({ lead, k, n, s, empty, act, seed }) => {
          const g = new Graph();
          g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [...lead, k] } }];
          // empty rows of the CSR = output columns of B with no weight
          g.initializers.set('B', new Tensor('float32', sparseWeights(k * n, Math.max(s, SPARSE_MIN_LARGE_M, SPARSE_MIN_SMALL_M), seed, (i) => i % n, empty), [k, n]));
          g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: [act === 'none' ? 'Y' : 'T'], attrs: {} });
          addAct(g, act);
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const m = lead.reduce((a, b) => a * b, 1);
          const rnd = rng(seed ^ 0x5bd1e995);
          check(g, { A: new Tensor('float32', Float32Array.from({ length: m * k }, rnd), [...lead, k]) }, 'f32_spmm');
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it('Gemm: transB, alpha, beta, bias shapes, fused clamps', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 20 }),
          k: fc.integer({ min: 1, max: 33 }),
          n: fc.integer({ min: 1, max: 19 }),
          s: sparsityArb,
          transB: fc.boolean(),
          alpha: fc.constantFrom(1, 0.5, -2),
          beta: fc.constantFrom(1, 0.25),
          bias: fc.constantFrom('none', 'n', '1n', 'scalar'),
          act: actArb,
          seed: fc.integer(),
        }),
        ({ m, k, n, s, transB, alpha, beta, bias, act, seed }) => {
          const g = new Graph();
          g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [m, k] } }];
          g.initializers.set('B', new Tensor('float32', sparseWeights(k * n, Math.max(s, sparseThreshold(m)), seed), transB ? [n, k] : [k, n]));
          const rnd = rng(seed ^ 0x1234567);
          if (bias !== 'none') {
            const dims = bias === 'n' ? [n] : bias === '1n' ? [1, n] : [];
            g.initializers.set('C', new Tensor('float32', Float32Array.from({ length: bias === 'scalar' ? 1 : n }, rnd), dims));
          }
          g.nodes.push({ name: 'gemm', op: 'Gemm', domain: '', inputs: ['A', 'B', bias === 'none' ? '' : 'C'], outputs: [act === 'none' ? 'Y' : 'T'], attrs: { transB: transB ? 1 : 0, alpha, beta } });
          addAct(g, act);
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          check(g, { A: new Tensor('float32', Float32Array.from({ length: m * k }, rnd), [m, k]) }, 'f32_spmm');
        },
      ),
      { numRuns: 150, seed: 11 },
    );
  });

  it.each(['always', 'never', 'auto'] as const)('Conv (direct = %s): pruned weights over groups, strides, dilations, 1×1 and im2col geometries, pixel counts around 8, empty filters', (direct) => {
    sparseConvConfig.direct = direct;
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          group: fc.constantFrom(1, 1, 2, 3),
          cg: fc.integer({ min: 1, max: 5 }),
          mg: fc.integer({ min: 2, max: 9 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
          pads: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 4, maxLength: 4 }),
          extra: fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 11 })),
          sp: sparsityArb,
          empty: fc.array(fc.integer({ min: 0, max: 26 }), { maxLength: 3 }),
          bias: fc.boolean(),
          act: actArb,
          split: splitArb,
          seed: fc.integer(),
        }),
        (c) => {
          const m = c.mg * c.group;
          const ch = c.cg * c.group;
          const h = (c.kh - 1) * c.d[0] + 1 + c.extra[0];
          const w = (c.kw - 1) * c.d[1] + 1 + c.extra[1];
          const kg = c.cg * c.kh * c.kw;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [c.n, ch, h, w] } }];
          g.initializers.set('W', new Tensor('float32', sparseWeights(m * kg, Math.max(c.sp, SPARSE_MIN_CONV), c.seed, (i) => Math.floor(i / kg), c.empty), [m, c.cg, c.kh, c.kw]));
          const rnd = rng(c.seed ^ 0x7777);
          if (c.bias) g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: m }, rnd), [m]));
          g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', c.bias ? 'B' : ''], outputs: [c.act === 'none' ? 'Y' : 'T'], attrs: { group: c.group, strides: c.s, dilations: c.d, pads: c.pads, kernel_shape: [c.kh, c.kw] } });
          addAct(g, c.act);
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          check(g, { X: new Tensor('float32', Float32Array.from({ length: c.n * ch * h * w }, rnd), [c.n, ch, h, w]) }, direct !== 'never' ? ['f32_spconv2d', 'f32_spmm_conv2d'] : 'f32_spmm_conv2d');
        },
      ),
      { numRuns: 200, seed: 3 },
    );
    sparseConvConfig.direct = 'auto';
  });

  // ONNX Conv with a 1×1 kernel, stride 1, no pads: Y[n, m, y, x] = B[m] + Σ_c W[m, c] · X[n, c, y, x]
  // (per group). f32_spmm_nchw_32 runs it on the NCHW rows in 32-pixel tiles with one 16-, 8-, 4-, 2- and 1-pixel
  // tail each at most, so pixel counts 1…90 cover every combination of tails; two runs with another H×W check the
  // rewritten input increments. `split` forces small input-channel ranges and output-channel blocks (the model
  // layers' split starts at SPMM_CHUNK_MIN input channels), uneven ones and ranges without any weight included.
  it('Conv 1×1 (f32_spmm_nchw_32): pixel tails 16 / 8 / 4 / 2 / 1 around 32, channel ranges and blocks, groups, batch, empty filters, all-zero weights, another H×W per run', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          group: fc.constantFrom(1, 1, 2),
          cg: fc.integer({ min: 1, max: 12 }),
          mg: fc.integer({ min: 2, max: 9 }),
          hw: fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 })),
          hw2: fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 15 })),
          sp: sparsityArb,
          empty: fc.array(fc.integer({ min: 0, max: 17 }), { maxLength: 3 }),
          bias: fc.boolean(),
          act: actArb,
          split: splitArb,
          seed: fc.integer(),
        }),
        (c) => {
          const m = c.mg * c.group;
          const ch = c.cg * c.group;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [c.n, ch, 'h', 'w'] } }];
          g.initializers.set('W', new Tensor('float32', sparseWeights(m * c.cg, Math.max(c.sp, SPARSE_MIN_CONV), c.seed, (i) => Math.floor(i / c.cg), c.empty), [m, c.cg, 1, 1]));
          const rnd = rng(c.seed ^ 0x5151);
          if (c.bias) g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: m }, rnd), [m]));
          g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', c.bias ? 'B' : ''], outputs: [c.act === 'none' ? 'Y' : 'T'], attrs: { group: c.group, kernel_shape: [1, 1] } });
          addAct(g, c.act);
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const mem = arena()!;
          const before = mem.inUse;
          const fast = withSplit(c.split, () => new Executor(g));
          // one range, one block: a split keeps every sum's order, so the bits must not change
          const whole = withSplit([1, 1 << 30, 1 << 30], () => new Executor(g));
          const ref = new Executor(g, { backend: 'reference' });
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_spmm_conv2d');
          for (const [h, w] of [c.hw, c.hw2, c.hw]) {
            const X = new Tensor('float32', Float32Array.from({ length: c.n * ch * h * w }, rnd), [c.n, ch, h, w]);
            const got = fast.run({ X }).Y as Tensor;
            close(got, ref.run({ X }).Y as Tensor);
            expect(new Uint32Array((got.data as Float32Array).slice().buffer)).toEqual(new Uint32Array(((whole.run({ X }).Y as Tensor).data as Float32Array).slice().buffer));
          }
          fast.dispose();
          whole.dispose();
          expect(mem.inUse).toBe(before);
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });

  // ONNX Relu: Y = max(0, X) (the reference: x > 0 ? x : 0), so an output of −0 before it (an empty filter with
  // bias −0) is +0 after it. The fused clamp (pmax then + 0 in f32_spmm_nchw_32) must keep that sign: zero outputs
  // are compared with Object.is, every pixel tail included (p = 1…40).
  it('Conv 1×1 + Relu: the signs of zero outputs match the reference', () => {
    for (let p = 1; p <= 40; p++) {
      const [c, m] = [5, 6];
      const g = new Graph();
      g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, c, 1, p] } }];
      g.initializers.set('W', new Tensor('float32', sparseWeights(m * c, 0.7, p, (i) => Math.floor(i / c), [0, 3]), [m, c, 1, 1]));
      g.initializers.set('B', new Tensor('float32', Float32Array.of(-0, 0.25, -0.5, -0, 1, -1), [m]));
      g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: ['T'], attrs: { kernel_shape: [1, 1] } });
      addAct(g, 'relu');
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      const fast = new Executor(g);
      const ref = new Executor(g, { backend: 'reference' });
      expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_spmm_conv2d');
      expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
      const X = new Tensor('float32', Float32Array.from({ length: c * p }, rng(p ^ 0x77)), [1, c, 1, p]);
      const got = fast.run({ X }).Y as Tensor;
      const want = ref.run({ X }).Y as Tensor;
      const zeros = [...(want.data as Float32Array).keys()].filter((i) => want.data[i] === 0);
      expect(zeros.length).toBeGreaterThanOrEqual(2 * p); // the two empty filters at least
      for (const i of zeros) expect(Object.is(got.data[i], want.data[i])).toBe(true);
      close(got, want);
      fast.dispose();
    }
  });

  // ONNX Add (same shapes, no broadcast): Y = A + B elementwise; Relu after it: max(0, ·) of the sum. A residual
  // Add folded into the 1×1 sparse conv (fuseResidual) must give the same values as the unfused graph.
  it('Conv 1×1 + residual Add (+ Relu): folded into f32_spmm_nchw_32 when the residual exists before the conv; otherwise left alone', () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.integer({ min: 2, max: 10 }),
          m: fc.integer({ min: 2, max: 9 }),
          hw: fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 9 })),
          swap: fc.boolean(),
          // 'input': R is a graph input; 'early': R = Neg(Z) before the conv; 'late': after it (no fold);
          // 'clamped': Conv → Relu → Add (the clamp must run before the add: no fold)
          where: fc.constantFrom('input', 'early', 'late', 'clamped'),
          relu: fc.boolean(),
          sp: sparsityArb,
          split: splitArb,
          seed: fc.integer(),
        }),
        (t) => {
          const [h, w] = t.hw;
          const g = new Graph();
          const shape = [1, t.m, h, w];
          g.inputs = [
            { name: 'X', type: { dtype: 'float32', shape: [1, t.c, h, w] } },
            { name: t.where === 'input' ? 'R' : 'Z', type: { dtype: 'float32', shape } },
          ];
          const rnd = rng(t.seed ^ 0x3131);
          g.initializers.set('W', new Tensor('float32', sparseWeights(t.m * t.c, Math.max(t.sp, SPARSE_MIN_CONV), t.seed), [t.m, t.c, 1, 1]));
          g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: t.m }, rnd), [t.m]));
          const conv = { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: [t.where === 'clamped' ? 'C0' : 'C'], attrs: { kernel_shape: [1, 1] } };
          const neg = { name: 'neg', op: 'Neg', domain: '', inputs: ['Z'], outputs: ['R'], attrs: {} };
          if (t.where === 'early' || t.where === 'clamped') g.nodes.push(neg);
          g.nodes.push(conv);
          if (t.where === 'clamped') g.nodes.push({ name: 'relu0', op: 'Relu', domain: '', inputs: ['C0'], outputs: ['C'], attrs: {} });
          if (t.where === 'late') g.nodes.push(neg);
          const add = { name: 'add', op: 'Add', domain: '', inputs: t.swap ? ['R', 'C'] : ['C', 'R'], outputs: [t.relu ? 'S' : 'Y'], attrs: {} };
          g.nodes.push(add);
          if (t.relu) g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['S'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const mem = arena()!;
          const before = mem.inUse;
          const fast = withSplit(t.split, () => new Executor(g));
          const ref = new Executor(g, { backend: 'reference' });
          const convNode = g.nodes.find((n) => n.name === 'conv') ?? fast.graph.nodes.find((n) => n.op === 'Conv')!;
          expect(fast.kernels.get(convNode)?.name).toBe('f32_spmm_conv2d');
          const addNode = fast.graph.nodes.find((n) => n.op === 'Add')!;
          expect(fast.fusedInto.has(addNode)).toBe(t.where === 'input' || t.where === 'early');
          const feeds = {
            X: new Tensor('float32', Float32Array.from({ length: t.c * h * w }, rnd), [1, t.c, h, w]),
            [t.where === 'input' ? 'R' : 'Z']: new Tensor('float32', Float32Array.from({ length: t.m * h * w }, rnd), shape),
          };
          const want = ref.run(feeds).Y as Tensor;
          close(fast.run(feeds).Y as Tensor, want);
          close(fast.run(feeds).Y as Tensor, want);
          fast.dispose();
          expect(mem.inUse).toBe(before);
        },
      ),
      { numRuns: 150, seed: 9 },
    );
  });

  it('leaves weights below the crossover to the dense kernels', () => {
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [1, 16] } }];
    g.initializers.set('B', new Tensor('float32', sparseWeights(16 * 8, 0.3, 5), [16, 8]));
    g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} });
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    expect(ex.kernels.get(g.nodes[0]!)?.name).toBe('f32_gemm_4x8');
    ex.dispose();
  });

  it('symbolic batch: the stricter threshold decides; both row classes run', () => {
    const thr = sparseThreshold(undefined);
    expect(thr).toBe(Math.max(SPARSE_MIN_SMALL_M, SPARSE_MIN_LARGE_M));
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: ['N', 24] } }];
    g.initializers.set('B', new Tensor('float32', sparseWeights(24 * 10, thr, 9), [24, 10]));
    g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} });
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const fast = new Executor(g);
    const ref = new Executor(g, { backend: 'reference' });
    expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_spmm');
    const rnd = rng(4);
    for (const m of [1, 3, 8, 33]) {
      const A = new Tensor('float32', Float32Array.from({ length: m * 24 }, rnd), [m, 24]);
      close(fast.run({ A }).Y as Tensor, ref.run({ A }).Y as Tensor);
    }
    fast.dispose();
  });

  it('both compressed forms agree with each other for every row count, and an all-zero weight gives the bias', () => {
    const mem = arena()!;
    const k = 13;
    const n = 6;
    const bias = Float32Array.from({ length: n }, (_, j) => j - 2.5);
    const g = new SparseGemmF32(mem, k, n, new Float32Array(n * k), bias);
    expect(g.blocks).toBe(0);
    const a = Float32Array.from({ length: 11 * k }, rng(2));
    for (const kernel of ['f32_spmm_1x4', 'f32_spmm_csr_8'] as const) {
      const y = g.run(a, 11, -Infinity, Infinity, kernel);
      for (let i = 0; i < 11; i++) expect(Array.from(y.subarray(i * n, (i + 1) * n))).toEqual(Array.from(bias));
    }
    g.dispose();
    const wt = sparseWeights(n * k, 0.8, 3);
    const h = new SparseGemmF32(mem, k, n, wt);
    for (let m = 1; m <= 11; m++) {
      const p = h.run(a, m, -1, 1, 'f32_spmm_1x4');
      const q = h.run(a, m, -1, 1, 'f32_spmm_csr_8');
      for (let i = 0; i < p.length; i++) expect(Math.abs(p[i]! - q[i]!)).toBeLessThanOrEqual(1e-5);
    }
    h.dispose();
  });

  it('MatMulInteger / QLinearMatMul: bit-identical to the reference over int8/uint8, zero points per tensor / row / column', () => {
    fc.assert(
      fc.property(
        fc.record({
          lead: fc.constantFrom([1], [3], [4], [5], [9], [2, 3], [3, 4]),
          k: fc.integer({ min: 1, max: 30 }),
          n: fc.integer({ min: 1, max: 13 }),
          s: fc.double({ min: 0.5, max: 1, noNaN: true }),
          at: fc.constantFrom('int8', 'uint8'),
          bt: fc.constantFrom('int8', 'uint8'),
          perRow: fc.boolean(),
          perCol: fc.boolean(),
          qlinear: fc.boolean(),
          seed: fc.integer(),
        }),
        ({ lead, k, n, s, at, bt, perRow, perCol, qlinear, seed }) => {
          const rnd = rng(seed);
          const M = lead[lead.length - 1]!;
          const m = lead.reduce((x, y) => x * y, 1);
          const range = (t: string) => (t === 'int8' ? [-128, 127] : [0, 255]) as [number, number];
          const q = (t: string, len: number) => {
            const [lo, hi] = range(t);
            const v = Array.from({ length: len }, () => Math.round(lo + ((rnd() + 1) / 2) * (hi - lo)));
            return t === 'int8' ? Int8Array.from(v) : Uint8Array.from(v);
          };
          if (qlinear) perRow = perCol = false; // keep the scalar-parameter form plus per-column via b_scale below
          const azp = q(at, perRow ? M : 1);
          const bzp = q(bt, perCol ? n : 1);
          // B = b_zp where the weight is pruned
          const mask = sparseWeights(k * n, s, seed ^ 99);
          const braw = q(bt, k * n);
          for (let i = 0; i < k * n; i++) if (mask[i] === 0) braw[i] = bzp[bzp.length === 1 ? 0 : i % n]!;
          const g = new Graph();
          g.inputs = [{ name: 'A', type: { dtype: at, shape: [...lead, k] } }];
          g.initializers.set('B', new Tensor(bt, braw, [k, n]));
          g.initializers.set('bzp', new Tensor(bt, bzp, perCol ? [n] : []));
          if (qlinear) {
            g.initializers.set('azp', new Tensor(at, azp, []));
            g.initializers.set('as', new Tensor('float32', Float32Array.of(0.02), []));
            g.initializers.set('bs', new Tensor('float32', Float32Array.from({ length: n }, () => 0.01 + Math.abs(rnd()) * 0.05), [n]));
            g.initializers.set('ys', new Tensor('float32', Float32Array.of(0.5), []));
            g.initializers.set('yzp', new Tensor('uint8', Uint8Array.of(128), []));
            g.nodes.push({ name: 'qmm', op: 'QLinearMatMul', domain: '', inputs: ['A', 'as', 'azp', 'B', 'bs', 'bzp', 'ys', 'yzp'], outputs: ['Y'], attrs: {} });
          } else {
            g.initializers.set('azp', new Tensor(at, azp, perRow ? [M] : []));
            g.nodes.push({ name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['A', 'B', 'azp', 'bzp'], outputs: ['Y'], attrs: {} });
          }
          g.outputs = [{ name: 'Y', type: { dtype: qlinear ? 'uint8' : 'int32' } }];
          const A = new Tensor(at, q(at, m * k), [...lead, k]);
          const mem = arena()!;
          const before = mem.inUse;
          sparseConfig.force = true; // the plan alone takes int8 only from 0.95 and < 8 rows
          const fast = new Executor(g);
          sparseConfig.force = false;
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('i32_spmm_1x4');
          const got = fast.run({ A }).Y as Tensor;
          const want = new Executor(g, { backend: 'reference' }).run({ A }).Y as Tensor;
          expect(got.type).toBe(want.type);
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as Int32Array)).toEqual(Array.from(want.data as Int32Array));
          fast.dispose();
          expect(mem.inUse).toBe(before);
        },
      ),
      { numRuns: 150, seed: 5 },
    );
  });

  it('plan policy: the measured thresholds pick the kernel per shape class', () => {
    const pick = (g: Graph) => {
      const ex = new Executor(g);
      const name = ex.kernels.get(g.nodes[0]!)?.name;
      ex.dispose();
      return name;
    };
    const conv = (s: number, stride: number) => {
      const g = new Graph();
      g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 8, 12, 12] } }];
      g.initializers.set('W', new Tensor('float32', sparseWeights(16 * 8 * 9, s, 1), [16, 8, 3, 3]));
      g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['Y'], attrs: { strides: [stride, stride], pads: [1, 1, 1, 1] } });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      return pick(g);
    };
    expect(conv(0.3, 1)).toBe('f32_conv3x3_winograd_2x2'); // dense 3×3 stride 1: Winograd (src/kernels/winograd.ts)
    expect(conv(0.3, 2)).toBe('f32_conv2d_gemm_4x8');
    // against Winograd the sparse conv pays only from SPARSE_MIN_CONV_WINOGRAD (0.8); against im2col from 0.5
    expect(conv(0.6, 1)).toBe('f32_conv3x3_winograd_2x2');
    expect(conv(0.85, 1)).toBe('f32_spmm_conv2d');
    expect(conv(0.6, 2)).toBe('f32_spmm_conv2d');
    expect(conv(0.95, 1)).toBe('f32_spconv2d');
    expect(conv(0.95, 2)).toBe('f32_spmm_conv2d');
    const mmi = (rows: number, s: number) => {
      const g = new Graph();
      g.inputs = [{ name: 'A', type: { dtype: 'int8', shape: [rows, 64] } }];
      const mask = sparseWeights(64 * 32, s, 2);
      g.initializers.set('B', new Tensor('int8', Int8Array.from(mask, (v) => (v === 0 ? 0 : v > 0 ? 5 : -5)), [64, 32]));
      g.nodes.push({ name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} });
      g.outputs = [{ name: 'Y', type: { dtype: 'int32' } }];
      return pick(g);
    };
    expect(mmi(1, 0.97)).toBe('i32_spmm_1x4');
    expect(mmi(1, 0.8)).not.toBe('i32_spmm_1x4');
    expect(mmi(64, 0.99)).not.toBe('i32_spmm_1x4');
    const mm = (rows: number, s: number) => {
      const g = new Graph();
      g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [rows, 64] } }];
      g.initializers.set('B', new Tensor('float32', sparseWeights(64 * 32, s, 3), [64, 32]));
      g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      return pick(g);
    };
    expect(mm(1, SPARSE_MIN_SMALL_M)).toBe('f32_spmm');
    expect(mm(1, SPARSE_MIN_SMALL_M - 0.1)).not.toBe('f32_spmm');
    expect(mm(16, SPARSE_MIN_LARGE_M)).toBe('f32_spmm');
    expect(mm(16, SPARSE_MIN_LARGE_M - 0.1)).not.toBe('f32_spmm');
  });
});

// Kernel threads: f32_spmm_nchw_32 splits a 1×1 conv's pixels at multiples of 32 (src/kernels/sparse.ts), and every
// pixel's sum runs in one order whichever tile holds it, so 2 and 3 threads must give the bits of 1 — for pixel counts
// around the 32-pixel shares and every tail, channel ranges and blocks, groups, batches, a fused Relu or residual Add.
describe('sparse 1×1 conv on kernel threads', () => {
  let threads = 1;
  let minShare = 0;
  beforeAll(async () => {
    threads = await acquireThreads(3);
    minShare = setMinShare(1); // split even the smallest convs
  });
  afterAll(() => {
    setMinShare(minShare);
    if (threads > 1) releaseThreads();
  });

  const bits = (t: Tensor) => new Uint32Array(Float32Array.from(t.data as Float32Array).buffer);

  it('2 and 3 threads bit-identical to 1 (pixel shares at multiples of 32, tails, ranges, groups, batch, Relu, residual)', () => {
    expect(threads).toBeGreaterThan(1);
    fc.assert(
      fc.property(
        fc.record({
          n: fc.constantFrom(1, 1, 2),
          group: fc.constantFrom(1, 1, 2),
          cg: fc.integer({ min: 1, max: 12 }),
          mg: fc.integer({ min: 2, max: 9 }),
          p: fc.oneof(fc.integer({ min: 1, max: 140 }), fc.constantFrom(32, 33, 64, 65, 95, 96, 97, 129)),
          relu: fc.boolean(),
          residual: fc.boolean(),
          split: splitArb,
          seed: fc.integer(),
        }),
        (c) => {
          const m = c.mg * c.group;
          const ch = c.cg * c.group;
          const rnd = rng(c.seed ^ 0x2727);
          const g = new Graph();
          const shape = [c.n, m, 1, c.p];
          g.inputs = [
            { name: 'X', type: { dtype: 'float32', shape: [c.n, ch, 1, c.p] } },
            { name: 'R', type: { dtype: 'float32', shape } },
          ];
          const w = sparseWeights(m * c.cg, 0.7, c.seed);
          g.initializers.set('W', new Tensor('float32', w, [m, c.cg, 1, 1]));
          g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: m }, rnd), [m]));
          g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: ['C'], attrs: { group: c.group, kernel_shape: [1, 1] } });
          let y = 'C';
          if (c.residual) g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: [y, 'R'], outputs: [(y = 'S')], attrs: {} });
          if (c.relu) g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: [y], outputs: [(y = 'T')], attrs: {} });
          g.nodes.push({ name: 'id', op: 'Identity', domain: '', inputs: [y], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const exec = withSplit(c.split, () => new Executor(g));
          const feeds = {
            X: new Tensor('float32', Float32Array.from({ length: c.n * ch * c.p }, rnd), [c.n, ch, 1, c.p]),
            R: new Tensor('float32', Float32Array.from({ length: c.n * m * c.p }, rnd), shape),
          };
          const negated = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new Tensor('float32', (t.data as Float32Array).map((v) => -v), [...t.dims])]));
          const runOn = (nt: number, f: Record<string, Tensor>) => {
            const prev = setActiveThreads(nt);
            try {
              return bits(exec.run(f).Y as Tensor);
            } finally {
              setActiveThreads(prev);
            }
          };
          try {
            expect(exec.kernels.get(g.nodes[0]!)?.name).toBe('f32_spmm_conv2d');
            const one = runOn(1, feeds);
            for (const nt of [2, 3]) {
              // a 1-thread run on other inputs first: an output element no chunk wrote would keep its bits
              runOn(1, negated);
              forkStats(true);
              const got = runOn(nt, feeds);
              const forks = forkStats(false)!.forks;
              expect(got).toEqual(one);
              // more than 32 pixels and a weight to multiply: the conv forked (the workers took part)
              if (c.p > 32 && w.some((v) => v !== 0)) expect(forks).toBeGreaterThan(0);
            }
          } finally {
            exec.dispose();
          }
        },
      ),
      { numRuns: 120, seed: 13 },
    );
  });
});
