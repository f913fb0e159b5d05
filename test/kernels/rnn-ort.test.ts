// onnxruntime-node as the oracle for the WASM GRU kernel on graphs in the form torch.onnx exports nn.GRU
// (batch_first, num_layers 2, with h0): Transpose of the input to [seq, batch, in]; per layer a Slice of h0, a GRU
// node with linear_before_reset = 1 (PyTorch's n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))), W/R/B with the gates
// reordered from PyTorch's r, z, n to ONNX's z, r, h, then Squeeze of the direction axis (unidirectional) or
// Transpose + Reshape to [seq, batch, 2·hidden] (bidirectional); the layers' Y_h concatenated; Transpose back.
// Weights U(−1/√hidden, 1/√hidden) as nn.GRU initializes them. Tolerance 1e-5 relative to the largest output: both
// engines sum in float32 (other orders) and approximate sigmoid / tanh in float.
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { compareWithOrt, randT, rng } from '../helpers/ort-oracle.js';

const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);

/** nn.GRU(I, H, num_layers = layers, batch_first = True, bidirectional) as torch.onnx writes it, seeded weights */
function torchGru(I: number, H: number, layers: number, bidirectional: boolean, batch: number, seq: number, seed: number): { g: Graph; feeds: Record<string, Tensor> } {
  const r = rng(seed);
  const D = bidirectional ? 2 : 1;
  const k = 2 / Math.sqrt(H); // randT draws from [−0.5, 0.5) × amp
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [
    { name: 'x', type: { dtype: 'float32', shape: [batch, seq, I] } },
    { name: 'h0', type: { dtype: 'float32', shape: [layers * D, batch, H] } },
  ];
  const nodes: Node[] = [];
  const n = (op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}) => nodes.push({ name: `${op}_${nodes.length}`, op, domain: '', inputs, outputs, attrs });
  n('Transpose', ['x'], ['x_t'], { perm: [1, 0, 2] });
  let prev = 'x_t';
  let inSize = I;
  const hs: string[] = [];
  g.initializers.set('axis1', i64([1]));
  g.initializers.set('axis0', i64([0]));
  g.initializers.set('shape_sb', i64([0, 0, -1]));
  for (let l = 0; l < layers; l++) {
    g.initializers.set(`W${l}`, randT(r, [D, 3 * H, inSize], k));
    g.initializers.set(`R${l}`, randT(r, [D, 3 * H, H], k));
    g.initializers.set(`B${l}`, randT(r, [D, 6 * H], k));
    g.initializers.set(`s${l}`, i64([l * D]));
    g.initializers.set(`e${l}`, i64([(l + 1) * D]));
    n('Slice', ['h0', `s${l}`, `e${l}`, 'axis0'], [`h0_${l}`]);
    n('GRU', [prev, `W${l}`, `R${l}`, `B${l}`, '', `h0_${l}`], [`y${l}`, `hn${l}`], { hidden_size: H, linear_before_reset: 1, ...(bidirectional ? { direction: 'bidirectional' } : {}) });
    if (bidirectional) {
      n('Transpose', [`y${l}`], [`yt${l}`], { perm: [0, 2, 1, 3] });
      n('Reshape', [`yt${l}`, 'shape_sb'], [`out${l}`]);
    } else n('Squeeze', [`y${l}`, 'axis1'], [`out${l}`]);
    prev = `out${l}`;
    inSize = D * H;
    hs.push(`hn${l}`);
  }
  n('Transpose', [prev], ['y'], { perm: [1, 0, 2] });
  n('Concat', hs, ['hn'], { axis: 0 });
  g.nodes = nodes;
  g.outputs = [
    { name: 'y', type: { dtype: 'float32' } },
    { name: 'hn', type: { dtype: 'float32' } },
  ];
  const feeds = { x: randT(r, [batch, seq, I], 4), h0: randT(r, [layers * D, batch, H], 1) };
  return { g, feeds };
}

describe('WASM GRU vs onnxruntime-node on torch.onnx-shaped nn.GRU graphs', () => {
  for (const [what, I, H, bi, batch, seq] of [
    ['DTLN-sized (257 → 128, 2 layers)', 257, 128, false, 1, 12],
    ['bidirectional, batch 2 (40 → 48, 2 layers)', 40, 48, true, 2, 9],
    ['small odd sizes (5 → 3, 2 layers)', 5, 3, false, 3, 4],
  ] as const) {
    it(what, async () => {
      const { g, feeds } = torchGru(I, H, 2, bi, batch, seq, I * 31 + H);
      const ex = new Executor(g);
      // the plan's nodes (its passes copy the graph)
      expect(ex.analysis.order.filter((n) => n.op === 'GRU').map((n) => ex.kernels.get(n)?.name ?? ex.fallbacks.get(n))).toEqual(['f32_gru', 'f32_gru']);
      // the whole graph (Transpose, Slice, Squeeze / Reshape, Concat around the GRUs) stays on one static plan
      ex.run(feeds);
      expect(ex.staticPlanStatus()).toEqual({ static: true });
      ex.dispose();
      const { wasm, ref, fallbacks } = await compareWithOrt(g, feeds, ['y', 'hn']);
      expect(fallbacks).toEqual([]);
      console.log(`${what}: max relative error vs onnxruntime-node: kernel ${wasm.toExponential(2)}, reference ${ref.toExponential(2)}`);
      expect(wasm).toBeLessThan(1e-5);
      expect(ref).toBeLessThan(1e-5);
    });
  }
});
