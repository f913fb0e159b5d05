// Plan-time fusion of decomposed transformer patterns (src/ir/passes/fuse-xfmr.ts): PyTorch's erf GELU and a
// ReduceMean/Sub/Pow/Sqrt/Div LayerNorm become Gelu / LayerNormalization, run on kernels, and give the unfused
// reference's results.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { fuseTransformerPatterns } from '../../src/ir/passes/fuse-xfmr.js';
import { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

const c = (name: string, v: number): Node => ({ name: `${name}_c`, op: 'Constant', domain: '', inputs: [], outputs: [name], attrs: { value: new Tensor('float32', Float32Array.of(v), []) } });

/** x → [bias Add] → GELU as torch.onnx writes nn.GELU() at opset 17 */
function geluGraph(n: number, swap: boolean): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [2, n] } }];
  g.initializers.set('b', new Tensor('float32', Float32Array.from({ length: n }, (_, i) => i / n - 0.5), [n]));
  g.nodes = [
    { name: 'bias', op: 'Add', domain: '', inputs: ['b', 'X'], outputs: ['x'], attrs: {} },
    c('sqrt2', Math.SQRT2),
    c('one', 1),
    c('half', 0.5),
    { name: 'div', op: 'Div', domain: '', inputs: ['x', 'sqrt2'], outputs: ['d'], attrs: {} },
    { name: 'erf', op: 'Erf', domain: '', inputs: ['d'], outputs: ['e'], attrs: {} },
    { name: 'add1', op: 'Add', domain: '', inputs: swap ? ['one', 'e'] : ['e', 'one'], outputs: ['a'], attrs: {} },
    { name: 'mul', op: 'Mul', domain: '', inputs: swap ? ['a', 'x'] : ['x', 'a'], outputs: ['m'], attrs: {} },
    { name: 'mul_half', op: 'Mul', domain: '', inputs: ['m', 'half'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

function layerNormGraph(n: number, affine: boolean): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [3, n] } }];
  g.initializers.set('gamma', new Tensor('float32', Float32Array.from({ length: n }, (_, i) => 1 + i / n), [n]));
  g.initializers.set('ax', new Tensor('int64', BigInt64Array.of(-1n), [1]));
  g.initializers.set('beta', new Tensor('float32', Float32Array.from({ length: n }, (_, i) => i / n), [n]));
  g.nodes = [
    { name: 'mean', op: 'ReduceMean', domain: '', inputs: ['X', 'ax'], outputs: ['mu'], attrs: {} },
    { name: 'sub', op: 'Sub', domain: '', inputs: ['X', 'mu'], outputs: ['d'], attrs: {} },
    c('two', 2),
    c('eps', 1e-5),
    { name: 'pow', op: 'Pow', domain: '', inputs: ['d', 'two'], outputs: ['d2'], attrs: {} },
    { name: 'var', op: 'ReduceMean', domain: '', inputs: ['d2', 'ax'], outputs: ['v'], attrs: {} },
    { name: 'addeps', op: 'Add', domain: '', inputs: ['v', 'eps'], outputs: ['ve'], attrs: {} },
    { name: 'sqrt', op: 'Sqrt', domain: '', inputs: ['ve'], outputs: ['sd'], attrs: {} },
    { name: 'div', op: 'Div', domain: '', inputs: ['d', 'sd'], outputs: affine ? ['nrm'] : ['Y'], attrs: {} },
    ...(affine
      ? [
          { name: 'scale', op: 'Mul', domain: '', inputs: ['nrm', 'gamma'], outputs: ['sc'], attrs: {} },
          { name: 'shift', op: 'Add', domain: '', inputs: ['sc', 'beta'], outputs: ['Y'], attrs: {} },
        ]
      : []),
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

function values(n: number, seed: number, scale: number): Float32Array {
  let q = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    return (q / 2 ** 31 - 1) * scale;
  });
}

describe('transformer pattern fusion', () => {
  // ONNX Gelu (opset 20): "y = 0.5 * x * (1 + erf(x/sqrt(2)))" — the decomposed graph computes exactly this.
  it('GELU → one Gelu folded into the bias Add kernel; results as unfused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 37 }), fc.boolean(), fc.integer(), fc.constantFrom(0.5, 3, 8), (n, swap, seed, scale) => {
        const g = geluGraph(n, swap);
        expect(fuseTransformerPatterns(g).nodes.map((x) => x.op)).toEqual(['Add', 'Constant', 'Constant', 'Constant', 'Gelu']);
        const fast = new Executor(g);
        expect([...fast.fusedInto.keys()].map((x) => x.op)).toEqual(['Gelu']);
        const x = new Tensor('float32', values(2 * n, seed, scale), [2, n]);
        const got = fast.run({ X: x }).Y!.data as Float32Array;
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want[i]!)));
      }),
      { numRuns: 60, seed: 29 },
    );
  });

  // ONNX LayerNormalization's function body: Mean = ReduceMean(X); D = Sub(X, Mean); Var = ReduceMean(Mul(D, D));
  // StdDev = Sqrt(Add(Var, epsilon)); Normalized = Div(D, StdDev) (as Mul by InvStdDev); Y = Normalized·Scale + B
  it('ReduceMean/Sub/Pow/Sqrt/Div LayerNorm → LayerNormalization; results as unfused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 41 }), fc.boolean(), fc.integer(), (n, affine, seed) => {
        const g = layerNormGraph(n, affine);
        const fused = fuseTransformerPatterns(g);
        expect(fused.nodes.filter((x) => x.op === 'LayerNormalization')).toHaveLength(1);
        expect(fused.nodes.some((x) => x.op === 'ReduceMean' || x.op === 'Pow')).toBe(false);
        const fast = new Executor(g);
        const x = new Tensor('float32', values(3 * n, seed, 4).map((v) => v + 2), [3, n]);
        const got = fast.run({ X: x }).Y!.data as Float32Array;
        if (affine) expect([...fast.kernels.values()].map((k) => k.name)).toEqual(['f32_layernorm']);
        fast.dispose();
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(want[i]!)));
      }),
      { numRuns: 60, seed: 31 },
    );
  });

  it('leaves a pattern alone when an intermediate is used elsewhere, and still serves fetches of fused values', async () => {
    const g = geluGraph(8, false);
    g.outputs.push({ name: 'e', type: { dtype: 'float32' } });
    expect(fuseTransformerPatterns(g)).toBe(g);
    const s = await InferenceSession.create(geluGraph(8, false));
    const x = new Tensor('float32', values(16, 1, 2), [2, 8]);
    const r = await s.run({ X: x }, ['Y', 'e']);
    expect(r.e!.dims).toEqual([2, 8]);
  });

  // PyTorch's scaled dot-product attention at opset 17 (nn.MultiheadAttention): Q, K, V heads by Reshape/Transpose,
  // Div(Q, √hd), MatMul(Q, Kᵀ), [Mul by a constant], Add(mask), Softmax(axis = −1), MatMul(·, V). ONNX MatMul:
  // "behaves like numpy.matmul"; Softmax (opset 13): "exp(input) / ReduceSum(exp(input), axis, keepdims = 1)" along
  // the last axis. The fused ai.edgeq ScaledDotProductAttention must give the unfused reference's results, NaN rows
  // (every key −∞: exp(−∞ − (−∞)) = NaN) included, with Q/Kᵀ/V read in place through their Transposes.
  it('Div → MatMul(Q, Kᵀ) → [Mul] → [Add mask | Where(bool mask, −∞, ·)] → Softmax → MatMul(·, V) → ScaledDotProductAttention; results as unfused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(4, 8, 12),
        fc.integer({ min: 0, max: 4 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        (S, H, hd, maskKind, postMul, mulFirst, seed) => {
          const d = H * hd;
          const g = new Graph();
          g.opsets = { '': 17 };
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [S, 1, 3 * d] } }];
          const i64 = (name: string, v: number[]) => g.initializers.set(name, new Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]));
          i64('heads', [S, H, hd]);
          i64('back', [S, d]);
          i64('split', [d, d, d]);
          const mshape = maskKind === 1 ? [H, 1, S] : maskKind === 2 ? [S, S] : [H, S, S];
          const mv = values(mshape.reduce((a, b) => a * b, 1), seed ^ 3, 2);
          // maskKind 3: −∞ at random keys and every key of some rows (→ NaN rows, as unfused)
          if (maskKind === 3) for (let i = 0; i < mv.length; i++) if (mv[i]! > 1 || Math.floor(i / S) % 4 === 2) mv[i] = -Infinity;
          // maskKind 4: a boolean mask as PyTorch decoders write it, Where(masked, −∞, scores) — ONNX Where: "elements
          // from X if condition is true, from Y otherwise" (masked rows included)
          if (maskKind === 4) g.initializers.set('bmask', new Tensor('bool', Uint8Array.from(mv, (v, i) => (v > 1 || Math.floor(i / S) % 4 === 2 ? 1 : 0)), mshape));
          else if (maskKind) g.initializers.set('mask', new Tensor('float32', mv, mshape));
          g.nodes = [
            { name: 'split', op: 'Split', domain: '', inputs: ['X', 'split'], outputs: ['q0', 'k0', 'v0'], attrs: { axis: -1 } },
            ...['q', 'k', 'v'].map((n): Node => ({ name: `r${n}`, op: 'Reshape', domain: '', inputs: [`${n}0`, 'heads'], outputs: [`${n}h`], attrs: {} })),
            { name: 'tq', op: 'Transpose', domain: '', inputs: ['qh'], outputs: ['qt'], attrs: { perm: [1, 0, 2] } },
            { name: 'tk', op: 'Transpose', domain: '', inputs: ['kh'], outputs: ['kt'], attrs: { perm: [1, 2, 0] } },
            { name: 'tv', op: 'Transpose', domain: '', inputs: ['vh'], outputs: ['vt'], attrs: { perm: [1, 0, 2] } },
            c('sq', Math.sqrt(hd)),
            c('two', 0.5),
            { name: 'div', op: 'Div', domain: '', inputs: ['qt', 'sq'], outputs: ['qs'], attrs: {} },
            { name: 'qk', op: 'MatMul', domain: '', inputs: ['qs', 'kt'], outputs: ['sc'], attrs: {} },
            ...(postMul ? [{ name: 'mul', op: 'Mul', domain: '', inputs: mulFirst ? ['two', 'sc'] : ['sc', 'two'], outputs: ['sc2'], attrs: {} }] : []),
            c('ninf', -Infinity),
            ...(maskKind === 4 ? [{ name: 'where', op: 'Where', domain: '', inputs: ['bmask', 'ninf', postMul ? 'sc2' : 'sc'], outputs: ['sm'], attrs: {} }] : []),
            ...(maskKind && maskKind < 4 ? [{ name: 'add', op: 'Add', domain: '', inputs: mulFirst ? ['mask', postMul ? 'sc2' : 'sc'] : [postMul ? 'sc2' : 'sc', 'mask'], outputs: ['sm'], attrs: {} }] : []),
            { name: 'softmax', op: 'Softmax', domain: '', inputs: [maskKind ? 'sm' : postMul ? 'sc2' : 'sc'], outputs: ['p'], attrs: { axis: -1 } },
            { name: 'pv', op: 'MatMul', domain: '', inputs: ['p', 'vt'], outputs: ['ctx'], attrs: {} },
            { name: 'tb', op: 'Transpose', domain: '', inputs: ['ctx'], outputs: ['cb'], attrs: { perm: [1, 0, 2] } },
            { name: 'rb', op: 'Reshape', domain: '', inputs: ['cb', 'back'], outputs: ['Y'], attrs: {} },
          ];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const fused = fuseTransformerPatterns(g);
          expect(fused.nodes.filter((x) => x.op === 'ScaledDotProductAttention')).toHaveLength(1);
          expect(fused.nodes.some((x) => x.op === 'Softmax' || x.op === 'MatMul')).toBe(false);
          const fast = new Executor(g);
          const sdpa = fast.graph.nodes.find((x) => x.op === 'ScaledDotProductAttention')!;
          expect(fast.kernels.get(sdpa)?.name).toBe('f32_attention_fused');
          const x = new Tensor('float32', values(S * 3 * d, seed, 2), [S, 1, 3 * d]);
          const got = fast.run({ X: x }).Y!.data as Float32Array;
          fast.dispose();
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
          expect(got.length).toBe(want.length);
          for (let i = 0; i < want.length; i++) {
            if (Number.isNaN(want[i])) expect(got[i]).toBeNaN();
            else expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(want[i]!)));
          }
        },
      ),
      { numRuns: 60, seed: 17 },
    );
  });
  it('layers masking with the same boolean mask and −∞ share one additive mask (one Where); results as unfused', () => {
    const [S, T, hd] = [3, 5, 4];
    const g = new Graph();
    g.opsets = { '': 17 };
    g.inputs = [
      { name: 'q', type: { dtype: 'float32', shape: [S, hd] } },
      { name: 'kt', type: { dtype: 'float32', shape: [hd, T] } },
      { name: 'v', type: { dtype: 'float32', shape: [T, hd] } },
      { name: 'bmask', type: { dtype: 'bool', shape: [S, T] } },
    ];
    const layer = (l: number, x: string, y: string): Node[] => [
      c(`ninf${l}`, -Infinity),
      { name: `qk${l}`, op: 'MatMul', domain: '', inputs: [x, 'kt'], outputs: [`sc${l}`], attrs: {} },
      { name: `where${l}`, op: 'Where', domain: '', inputs: ['bmask', `ninf${l}`, `sc${l}`], outputs: [`sm${l}`], attrs: {} },
      { name: `softmax${l}`, op: 'Softmax', domain: '', inputs: [`sm${l}`], outputs: [`p${l}`], attrs: { axis: -1 } },
      { name: `pv${l}`, op: 'MatMul', domain: '', inputs: [`p${l}`, 'v'], outputs: [y], attrs: {} },
    ];
    g.nodes = [...layer(0, 'q', 'h'), ...layer(1, 'h', 'Y')];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const fused = fuseTransformerPatterns(g);
    expect(fused.nodes.filter((x) => x.op === 'ScaledDotProductAttention')).toHaveLength(2);
    expect(fused.nodes.filter((x) => x.op === 'Where')).toHaveLength(1);
    const feeds = {
      q: new Tensor('float32', values(S * hd, 1, 1), [S, hd]),
      kt: new Tensor('float32', values(hd * T, 2, 1), [hd, T]),
      v: new Tensor('float32', values(T * hd, 3, 1), [T, hd]),
      // ONNX Where: "elements from X if condition is true, from Y otherwise" — key 0 stays visible in every row
      bmask: new Tensor('bool', Uint8Array.from({ length: S * T }, (_, i) => (i % T > 0 && i % 3 === 1 ? 1 : 0)), [S, T]),
    };
    const fast = new Executor(g);
    const got = fast.run(feeds).Y!.data as Float32Array;
    fast.dispose();
    const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(want[i]!)));
  });
});
