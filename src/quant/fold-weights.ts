/**
 * Local constant fold for the quantizers: PyTorch exports MatMul weights behind Transpose / Cast /
 * Identity / Reshape or as Constant nodes, so `MatMul(x, Transpose(W))` has no float32 initializer for
 * the quantizer to take. This folds such chains (rooted at initializers / Constant nodes) into a new
 * initializer under the MatMul's input name and drops the nodes that become dead.
 * (Small and local on purpose; the shared canonicalize pass replaces it when merged.)
 */
import type { Graph, Node } from '../ir/graph.js';
import { analyze } from '../ir/infer.js';
import type { Tensor } from '../tensor/tensor.js';
import { producersOf } from './graph-util.js';

/** Data-movement / dtype ops folded on the way back from a weight input to its constant root. */
const FOLDABLE = new Set(['Transpose', 'Cast', 'Identity', 'Constant', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten']);
const MAX_DEPTH = 16;

/** Fold the constant weight inputs (input 1) of MatMul / Gemm; returns how many became initializers. */
export function foldWeightChains(g: Graph, ops: ReadonlySet<string> = new Set(['MatMul', 'Gemm'])): number {
  const targets = g.nodes.filter((n) => n.domain === '' && ops.has(n.op) && n.inputs[1] && !g.initializers.has(n.inputs[1]));
  if (!targets.length) return 0;
  const an = analyze(g);
  const prod = producersOf(g);
  const memo = new Map<string, Tensor | undefined>();
  const valueOf = (x: string, depth: number): Tensor | undefined => {
    const init = g.initializers.get(x);
    if (init) return init;
    if (memo.has(x)) return memo.get(x);
    let r: Tensor | undefined;
    const n = prod.get(x);
    if (n && (n.domain === '' || n.domain === 'ai.onnx') && FOLDABLE.has(n.op) && depth < MAX_DEPTH && n.outputs.filter(Boolean).length === 1) {
      const ins = n.inputs.map((i) => (i === '' ? undefined : (an.consts.get(i) ?? valueOf(i, depth + 1))));
      if (ins.every((t, k) => t || n.inputs[k] === '')) {
        const t = an.types.get(x);
        if (t) r = an.defs.get(n)!.reference({ node: n, attrs: an.attrs.get(n)!, inputs: ins, outputTypes: [t] })[0];
      }
    }
    memo.set(x, r);
    return r;
  };
  let folded = 0;
  for (const n of targets) {
    let w = n.inputs[1]!;
    // shared weights (exporters alias one initializer through Identity per layer): point at the root, no copy
    for (let d = 0; !g.initializers.has(w) && prod.get(w)?.op === 'Identity' && d < MAX_DEPTH; d++) w = prod.get(w)!.inputs[0]!;
    if (g.initializers.get(w)?.type === 'float32') {
      n.inputs[1] = w;
      folded++;
      continue;
    }
    w = n.inputs[1]!;
    const t = valueOf(w, 0);
    if (!t || t.type !== 'float32') continue;
    g.initializers.set(w, t);
    folded++;
  }
  if (!folded) return 0;
  // producers of values that are now initializers go, then the chains that fed only them
  g.nodes = g.nodes.filter((n) => !n.outputs.every((o) => o === '' || g.initializers.has(o)));
  removeDeadFoldable(g);
  return folded;
}

/** Remove FOLDABLE nodes none of whose outputs is consumed or a graph output (repeat to a fixed point). */
function removeDeadFoldable(g: Graph): void {
  const outs = new Set(g.outputs.map((o) => o.name));
  for (;;) {
    const used = new Set<string>();
    for (const n of g.nodes) for (const x of n.inputs) if (x) used.add(x);
    const dead = (n: Node) => FOLDABLE.has(n.op) && n.outputs.every((o) => !o || (!used.has(o) && !outs.has(o)));
    const keep = g.nodes.filter((n) => !dead(n));
    if (keep.length === g.nodes.length) break;
    g.nodes = keep;
  }
  const used = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of g.nodes) for (const x of n.inputs) used.add(x);
  for (const k of [...g.initializers.keys()]) if (!used.has(k)) g.initializers.delete(k);
}
