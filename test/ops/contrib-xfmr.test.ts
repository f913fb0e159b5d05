// com.microsoft normalizations and activations (src/ops/contrib-xfmr.ts) against onnxruntime-node, on the TS
// reference and on the wasm kernels (src/kernels/contrib.ts); rel 1e-4. Rules quoted from onnxruntime's
// docs/ContribOperators.md beside each check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { compareWithOrt, edgeqRun, feedsOf, type OIn, oneNode, ortRun, randT, relErr, rng } from '../helpers/ort-oracle.js';

const MS = 'com.microsoft';
const TOL = 1e-4;

// errors relative to max(|y|, 1): a tensor of a few elements deep in Gelu's negative tail (|y| ~ 1e-3) would
// otherwise measure onnxruntime's own erf approximation
async function check(op: string, domain: string, ins: OIn[], attrs: Record<string, unknown>, outs: string[]) {
  const g = oneNode(op, domain, ins, attrs, outs);
  const { ref, wasm, fallbacks } = await compareWithOrt(g, feedsOf(ins), outs.filter((o) => o), g, 1);
  expect(ref, `${op} reference`).toBeLessThan(TOL);
  expect(wasm, `${op} wasm`).toBeLessThan(TOL);
  expect(fallbacks, `${op} on kernels`).toEqual([]);
}

describe('SkipLayerNormalization / SkipSimplifiedLayerNormalization', () => {
  // "skip: 3D skip tensor with shape (batch_size, sequence_length, hidden_size) or (1, sequence_length,
  // hidden_size) or (sequence_length, hidden_size)"; output 3 "input_skip_bias_sum: Sum of the input and skip
  // inputs (and bias if it exists)"
  it('matches onnxruntime over shapes, skip forms, optional beta/bias and the sum output', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 2 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(), async (B, S, H, skipForm, beta, bias, simplified, seed) => {
        const r = rng(seed);
        const sk = skipForm === 0 ? [B, S, H] : skipForm === 1 ? [1, S, H] : [S, H];
        const ins: OIn[] = [{ name: 'x', feed: randT(r, [B, S, H], 4) }, { name: 's', feed: randT(r, sk, 4) }, { name: 'g', init: randT(r, [H], 2) }];
        if (!simplified) ins.push(beta ? { name: 'b', init: randT(r, [H]) } : '');
        ins.push(bias ? { name: 'c', init: randT(r, [H]) } : '');
        while (ins[ins.length - 1] === '') ins.pop();
        await check(simplified ? 'SkipSimplifiedLayerNormalization' : 'SkipLayerNormalization', MS, ins, { epsilon: 1e-5 }, ['y', '', '', 'sum']);
      }),
      { numRuns: 24 },
    );
  });
  it('uses onnxruntime default epsilon (1e-12) when absent', async () => {
    const r = rng(5);
    await check('SkipLayerNormalization', MS, [{ name: 'x', feed: randT(r, [1, 3, 8], 1e-3) }, { name: 's', feed: randT(r, [1, 3, 8], 1e-3) }, { name: 'g', init: randT(r, [8]) }], {}, ['y']);
  });
  it('wrong gamma / skip shapes are a ShapeError naming the node', () => {
    const r = rng(1);
    const bad = (sk: number[], g: number[]) => () => InferenceSession.fromGraph(oneNode('SkipLayerNormalization', MS, [{ name: 'x', feed: randT(r, [2, 3, 8]) }, { name: 's', feed: randT(r, sk) }, { name: 'g', init: randT(r, g) }], {}, ['y']));
    expect(bad([2, 3, 8], [7])).toThrow(/'n0'.*gamma has 7 elements, expected hidden_size 8/);
    expect(bad([2, 4, 8], [8])).toThrow(ShapeError);
    expect(bad([8], [8])).toThrow(/skip \[8\] must be/);
  });
});

describe('SimplifiedLayerNormalization (ONNX domain in onnxruntime)', () => {
  // RMS norm: Y = X / sqrt(mean(X²) + epsilon) · scale over the axes from `axis`
  it('matches onnxruntime for the last axis and earlier axes', async () => {
    for (const [dims, axis, seed] of [[[2, 5, 32], -1, 1], [[3, 7], -1, 2], [[2, 3, 4, 5], 2, 3], [[1, 1, 67], -1, 4]] as const) {
      const r = rng(seed);
      const inner = dims.slice(axis < 0 ? axis + dims.length : axis);
      await check('SimplifiedLayerNormalization', '', [{ name: 'x', feed: randT(r, [...dims], 3) }, { name: 's', init: randT(r, inner) }], { axis, epsilon: 1e-6 }, ['y']);
    }
  });
});

describe('Gelu family, QuickGelu, BiasAdd', () => {
  // FastGelu: "Y=0.5*X*(1+tanh(0.797885*X+0.035677*X*X*X)) with an optional input of bias that will be added to X"
  // BiasGelu: "takes the sum of input A and bias input B as the input of Gelu"; Gelu: 0.5·x·(1+erf(x/√2))
  // QuickGelu: "Compute x * Sigmoid(alpha * x)"; BiasAdd: "Add input with bias, then add residual inputs"
  it('match onnxruntime over shapes (bias over the last axis)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer(), async (lead, H, seed) => {
        const r = rng(seed);
        const dims = [...lead, H];
        const x = () => ({ name: 'x', feed: randT(r, dims, 8) });
        await check('Gelu', MS, [x()], {}, ['y']);
        await check('BiasGelu', MS, [x(), { name: 'b', init: randT(r, [H], 2) }], {}, ['y']);
        await check('FastGelu', MS, [x(), { name: 'b', init: randT(r, [H], 2) }], {}, ['y']);
        await check('FastGelu', MS, [x()], {}, ['y']);
        await check('QuickGelu', MS, [x()], { alpha: 1.5 + r() }, ['y']);
        await check('QuickGelu', MS, [x()], {}, ['y']);
        if (dims.length === 3) {
          // onnxruntime has BiasAdd only on CUDA: the oracle is its Add(Add(X, bias), skip)
          const ins: OIn[] = [x(), { name: 'b', init: randT(r, [H]) }, { name: 's', feed: randT(r, dims) }];
          const g = oneNode('BiasAdd', MS, ins, {}, ['y']);
          const o = oneNode('Add', '', ins.slice(0, 2), {}, ['t']);
          o.inputs.push({ name: 's', type: { dtype: 'float32', shape: dims } });
          o.nodes.push({ name: 'n1', op: 'Add', domain: '', inputs: ['t', 's'], outputs: ['y'], attrs: {} });
          o.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
          const want = (await ortRun(o, feedsOf(ins))).y!;
          for (const backend of ['reference', 'wasm'] as const) expect(relErr((await edgeqRun(g, feedsOf(ins), { backend })).y!.data as Float32Array, want)).toBeLessThan(TOL);
        }
      }),
      { numRuns: 12 },
    );
  });
  it('a bias of the wrong length is a ShapeError naming the node', () => {
    const r = rng(2);
    expect(() => InferenceSession.fromGraph(oneNode('BiasGelu', MS, [{ name: 'x', feed: randT(r, [2, 8]) }, { name: 'b', init: randT(r, [4]) }], {}, ['y']))).toThrow(/'n0'.*bias has 4 elements/);
  });
});
