import type { Graph, Node } from '../../../ir/graph.js';
import { LEGACY_ELEMENTWISE } from './elementwise.js';
import { LEGACY_NN } from './nn.js';
import { LEGACY_SHAPE } from './shape.js';
import { LEGACY_REDUCE } from './reduce.js';
import { LEGACY_RESIZE } from './resize.js';
import { LEGACY_QUANT } from './quant.js';

/**
 * Opset differences as data: each entry rewrites a node of an older opset into the form the op
 * definitions implement (the newest ONNX form), e.g. Slice-1's attributes become Slice-10's inputs.
 * `upTo`: the entry applies when the model's opset for the node's domain is ≤ upTo.
 */
export interface LegacyRule {
  op: string;
  domain?: string;
  upTo: number;
  /** return the replacement node(s); may add initializers to `g` (use uniqueName) */
  upgrade(node: Node, g: Graph, opset: number): Node[];
}

const RULES: LegacyRule[] = [...LEGACY_ELEMENTWISE, ...LEGACY_NN, ...LEGACY_SHAPE, ...LEGACY_REDUCE, ...LEGACY_RESIZE, ...LEGACY_QUANT];

export function upgradeNode(node: Node, opset: number, g: Graph): Node[] {
  for (const r of RULES) {
    if (r.op === node.op && (r.domain ?? '') === node.domain && opset <= r.upTo) return r.upgrade(node, g, opset);
  }
  return [node];
}

/** A value name not yet used in `g`, derived from `base`. */
export function uniqueName(g: Graph, base: string): string {
  let name = base;
  for (let i = 1; g.initializers.has(name) || g.types.has(name); i++) name = `${base}_${i}`;
  return name;
}

/**
 * The lowest opset of `domain` at which every node is already in the form the definitions implement
 * (one past the largest `upTo` of the rules): exporters write at least this opset.
 */
export function newestFormOpset(domain = ''): number {
  let m = 0;
  for (const r of RULES) if ((r.domain ?? '') === domain) m = Math.max(m, r.upTo + 1);
  return m;
}
