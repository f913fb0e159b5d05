/**
 * Cost model for partitioning: multiply-accumulates per node from the static types (the ops' own counts,
 * OpDef.cost: Conv = N·M·∏out·C/g·∏k, Gemm/MatMul = M·N·K, pools = out·∏k …; everything else = output elements),
 * plus a fixed per-node dispatch overhead. Symbolic dims count as `batch` (default 1).
 */
import type { Dim, Node, ValueType } from '../ir/graph.js';
import { nodeCost } from '../ir/stats.js';

/** MAC-equivalents charged per node for dispatch / allocation. */
export const NODE_OVERHEAD = 256;

function prod(shape: readonly Dim[] | undefined, batch: number): number {
  return shape ? shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : batch), 1) : 1;
}

/** Multiply-accumulates (or element ops) one execution of `node` performs. */
export function nodeMacs(node: Node, typeOf: (name: string) => ValueType | undefined, batch = 1): number {
  // the op's own count (OpDef.cost: convs, products, attention, RNNs, pools), else one step per output element
  const c = nodeCost(node, typeOf, () => batch);
  if (c !== null && !Number.isNaN(c)) return Math.max(c, 1);
  if (node.op === 'GlobalAveragePool' || node.op === 'GlobalMaxPool') return Math.max(prod(node.inputs[0] ? typeOf(node.inputs[0])?.shape : undefined, batch), 1);
  const outSize = node.outputs.reduce((s, o) => s + (o ? prod(typeOf(o)?.shape, batch) : 0), 0);
  return Math.max(outSize, 1);
}
