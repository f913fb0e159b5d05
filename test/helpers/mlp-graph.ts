// Random static-shape MLP graphs for the static-plan and Interpreter tests.
import fc from 'fast-check';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/tensor/tensor.js';

export type Layer = { op: 'MatMul' | 'Gemm'; n: number; bias: boolean; act: 'none' | 'Relu' | 'Clip' | 'Sigmoid'; residual: boolean; flatten: boolean; norm?: boolean };

/** An MLP of MatMul / Gemm layers with bias Adds, activations, residual Adds and Flatten views (static shapes). */
export function mlp(m: number, k0: number, layers: Layer[], seed: number): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [m, k0] } }];
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.8;
  const nodes: Node[] = [];
  let cur = 'x';
  let k = k0;
  layers.forEach((l, i) => {
    const w = `w${i}`;
    g.initializers.set(w, new Tensor('float32', Float32Array.from({ length: k * l.n }, rnd), l.op === 'Gemm' ? [l.n, k] : [k, l.n]));
    const y = `y${i}`;
    if (l.op === 'Gemm') {
      const inputs = [cur, w];
      if (l.bias) {
        g.initializers.set(`c${i}`, new Tensor('float32', Float32Array.from({ length: l.n }, rnd), [l.n]));
        inputs.push(`c${i}`);
      }
      nodes.push({ name: `gemm${i}`, op: 'Gemm', domain: '', inputs, outputs: [y], attrs: { transB: 1 } });
    } else {
      nodes.push({ name: `mm${i}`, op: 'MatMul', domain: '', inputs: [cur, w], outputs: [l.bias ? `${y}_mm` : y], attrs: {} });
      if (l.bias) {
        g.initializers.set(`b${i}`, new Tensor('float32', Float32Array.from({ length: l.n }, rnd), [l.n]));
        nodes.push({ name: `bias${i}`, op: 'Add', domain: '', inputs: [`${y}_mm`, `b${i}`], outputs: [y], attrs: {} });
      }
    }
    let out = y;
    // a residual connection (x + Linear(x)) when the widths agree: folded into the MatMul's epilogue
    if (l.residual && l.n === k && l.op === 'MatMul') {
      nodes.push({ name: `res${i}`, op: 'Add', domain: '', inputs: [out, cur], outputs: [`${y}_res`], attrs: {} });
      out = `${y}_res`;
    }
    // LayerNormalization over the features (openWakeWord's classifier heads: Gemm → LayerNorm → Relu); the
    // activation after it folds into its store (Relu/Clip) or runs over its output (Sigmoid)
    if (l.norm) {
      g.initializers.set(`g${i}`, new Tensor('float32', Float32Array.from({ length: l.n }, () => 1 + rnd()), [l.n]));
      g.initializers.set(`be${i}`, new Tensor('float32', Float32Array.from({ length: l.n }, rnd), [l.n]));
      nodes.push({ name: `ln${i}`, op: 'LayerNormalization', domain: '', inputs: [out, `g${i}`, `be${i}`], outputs: [`${y}_ln`], attrs: { axis: -1, epsilon: 1e-5 } });
      out = `${y}_ln`;
    }
    if (l.act !== 'none') {
      const inputs = [out];
      if (l.act === 'Clip') {
        g.initializers.set(`lo${i}`, new Tensor('float32', new Float32Array([-0.25]), []));
        g.initializers.set(`hi${i}`, new Tensor('float32', new Float32Array([0.5]), []));
        inputs.push(`lo${i}`, `hi${i}`);
      }
      nodes.push({ name: `act${i}`, op: l.act, domain: '', inputs, outputs: [`${y}_act`], attrs: {} });
      out = `${y}_act`;
    }
    if (l.flatten) {
      nodes.push({ name: `flat${i}`, op: 'Flatten', domain: '', inputs: [out], outputs: [`${y}_flat`], attrs: { axis: 1 } });
      out = `${y}_flat`;
    }
    cur = out;
    k = l.n;
  });
  g.nodes = nodes;
  // the last value and, when there is one, an intermediate as a second output
  g.outputs = [{ name: cur, type: { dtype: 'float32' } }];
  const mid = nodes[Math.floor(nodes.length / 2)]!.outputs[0]!;
  if (mid !== cur) g.outputs.push({ name: mid, type: { dtype: 'float32' } });
  return g;
}

export const layer = fc.record({
  op: fc.constantFrom('MatMul' as const, 'MatMul' as const, 'Gemm' as const),
  n: fc.integer({ min: 1, max: 20 }),
  bias: fc.boolean(),
  act: fc.constantFrom('none' as const, 'Relu' as const, 'Clip' as const, 'Sigmoid' as const),
  residual: fc.boolean(),
  flatten: fc.boolean(),
  norm: fc.boolean(),
});

