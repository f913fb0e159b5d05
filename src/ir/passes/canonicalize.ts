import { EdgeqError } from '../../errors.js';
import { Graph, type Node } from '../graph.js';
import { analyze } from '../infer.js';
import { rangeOffsets } from './range-offset.js';
import { trivialMasks } from './causal-mask.js';
import { inlineConstantIfs } from './inline-if.js';
import { lastAxisSoftmax } from './legacy-softmax.js';
import { shapeArith } from './shape-arith.js';
import { widenHalf } from './widen-half.js';

export interface CanonicalizeOptions {
  /**
   * largest folded output, in elements (default 16 M: 64 MB of float32); bigger constant subgraphs stay nodes, except
   * element-preserving transforms of a weight (Transpose, DequantizeLinear, Cast … : infer.ts foldWeights)
   */
  maxElements?: number;
  /**
   * false: leave DequantizeLinear nodes (and what they feed) in place, so DQ→op→Q patterns can still be fused into
   * integer kernels (the executor folds what fusion left afterwards). Default true.
   */
  foldDequantize?: boolean;
  /** value names that stay computed by their node (not bypassed): e.g. split points a caller names */
  keep?: readonly string[];
  /**
   * true: float16 nodes compute in float32 between Casts, as onnxruntime's CPU provider runs them (widen-half.ts;
   * the executor's wasm backend asks for it). Default false: float16 nodes stay float16, so graphs written back
   * (quantize, prune, split) keep their float16 weights and values.
   */
  widenHalf?: boolean;
}

/** What canonicalize changed (for `edgeq profile` and tests). */
export interface CanonicalizeStats {
  /** nodes replaced by initializers (all inputs constant, or shape arithmetic on known dims) */
  folded: number;
  /** Identity and inference Dropout nodes bypassed */
  bypassed: number;
  /** nodes whose outputs nothing reads */
  dead: number;
}

const stats = new WeakMap<Graph, CanonicalizeStats>();

/** The counts of the canonicalize call that produced `g`, if it did. */
export function canonicalizeStats(g: Graph): CanonicalizeStats | undefined {
  return stats.get(g);
}

/**
 * The one pass pipeline every consumer runs first (the executor before planning; quantize, prune and split before
 * they look at weights):
 *
 * 1. Identity, and Dropout in inference (no training_mode, or a constant false one; the mask output unread), are
 *    bypassed: their readers read the input directly (a graph output keeps its node, its name is the interface).
 * 2. Every node whose inputs are all constant is evaluated once with the reference op and becomes an initializer
 *    (never the random ops, nor a big float16 weight's Cast to float32 the fp16 kernels read as halves; outputs up
 *    to `maxElements`), and so is shape arithmetic the op's `constantFromTypes`
 *    answers from static types (Shape, Size … of inputs whose dims are known). Weights computed by constant
 *    subgraphs — ConstantOfShape, Cast, Transpose, DequantizeLinear of initializers — then reach kernels, the
 *    quantizer and the pruner as initializers. A `Range(x, x + k)` with k folded becomes `x + Range(0, k)` and the
 *    graph is folded once more (range-offset.ts: a KV decoder's position ids, so a seq = 1 plan knows its shapes); so
 *    is it after a one-row causal mask that keeps everything became a constant fill (causal-mask.ts), after an If
 *    whose condition folded was replaced by the branch it selects (inline-if.ts), and after integer shape
 *    arithmetic on a run-time value was simplified and its per-layer copies merged (shape-arith.ts), and (with
 *    `widenHalf`) after float16 nodes were rewritten to compute in float32 between Casts (widen-half.ts). An opset
 *    ≤ 12 Softmax / LogSoftmax / Hardmax over the last axis, which the importer wrote as Flatten → op → Reshape,
 *    becomes one node again once x's rank is known (legacy-softmax.ts).
 * 3. Nodes no graph output depends on are removed, and initializers nothing reads (unless a graph input too).
 *
 * Returns a new graph (tensors shared with the input's; `graph` is not modified) or `graph` itself when nothing
 * changes. Values the result no longer computes can be fetched from the original graph only.
 */
export function canonicalize(graph: Graph, opts: CanonicalizeOptions = {}): Graph {
  const g = graph.clone();
  const st: CanonicalizeStats = { folded: 0, bypassed: 0, dead: 0 };
  const hasSubgraphs = g.nodes.some((n) => Object.values(n.attrs).some((v) => v instanceof Graph));
  const graphOut = new Set([...g.outputs.map((o) => o.name), ...(opts.keep ?? [])]);

  // 1. bypass Identity / inference Dropout (not when subgraphs may read a bypassed name from the outer scope)
  if (!hasSubgraphs) {
    const rename = new Map<string, string>();
    const resolve = (x: string): string => {
      let y = x;
      while (rename.has(y)) y = rename.get(y)!;
      return y;
    };
    const readers = new Set<string>();
    for (const n of g.nodes) for (const x of n.inputs) readers.add(x);
    g.nodes = g.nodes.filter((n) => {
      if (n.domain !== '' || !n.outputs[0] || graphOut.has(n.outputs[0]) || !n.inputs[0]) return true;
      const identity = n.op === 'Identity';
      const dropout =
        n.op === 'Dropout' &&
        (!n.outputs[1] || !readers.has(n.outputs[1])) &&
        (!n.inputs[2] || isFalse(g.initializers.get(n.inputs[2])));
      if (!identity && !dropout) return true;
      rename.set(n.outputs[0], n.inputs[0]);
      st.bypassed++;
      return false;
    });
    if (rename.size) for (const n of g.nodes) n.inputs = n.inputs.map((x) => (x ? resolve(x) : x));
  }

  // 2. fold constants with the analysis the executor uses (one reference evaluation per node)
  const keepDq = opts.foldDequantize === false;
  const keep = (n: Node): boolean => (keepDq && n.op === 'DequantizeLinear') || halfWeightCast(g, n);
  let inits = new Map(g.initializers);
  let nodes: Node[] = [];
  let rewritten = false;
  for (let round = 0; ; round++) {
    const a = analyze(g, { foldLimit: opts.maxElements ?? 1 << 24, keep, foldWeights: true });
    inits = new Map(g.initializers);
    nodes = [];
    for (const n of a.order) {
      if (n.outputs.some((o) => o) && n.outputs.every((o) => o === '' || a.consts.has(o))) {
        for (const o of n.outputs) if (o) inits.set(o, a.consts.get(o)!);
        st.folded++;
      } else nodes.push(n);
    }
    // Range(x, x + k) → x + const (range-offset.ts): its length becomes static; a one-row causal mask that keeps
    // everything → a constant fill (causal-mask.ts): fold again after either (a few rounds at most)
    const ranges = rangeOffsets(nodes, inits, a.types);
    const masks = trivialMasks(nodes, inits, a.types, graphOut, g.opsets['']);
    // an If whose condition folded: its branch's nodes (inline-if.ts), typed and folded in the next round
    const inlined = inlineConstantIfs(g, nodes, inits, a.consts);
    if (inlined) nodes = inlined;
    // float16 nodes → float32 between Casts (widen-half.ts); the Casts of initializers fold in the next round
    const halves = !inlined && opts.widenHalf ? widenHalf(g, nodes, inits, a.types, graphOut) : undefined;
    if (halves) nodes = halves;
    // integer shape arithmetic on a run-time value (a KV step plan's cache length): shape-arith.ts; not in a round
    // that inlined a branch (its nodes have no types yet) — the next round sees them typed
    const arith = !inlined && !halves && !hasSubgraphs && shapeArith(nodes, inits, a.types, graphOut);
    // an opset ≤ 12 Softmax over the last axis, imported as Flatten → Softmax → Reshape: one node again (legacy-softmax.ts)
    const legacy = !inlined && lastAxisSoftmax(nodes, inits, a.types, graphOut);
    if (ranges || masks || inlined || halves || arith || legacy) rewritten = true;
    if (round >= 6 || (!ranges && !masks && !inlined && !halves && !arith && !legacy)) break;
    g.nodes = nodes;
    g.initializers = inits;
  }

  // 3. dead nodes and unread initializers
  const live = new Set<string>(graphOut);
  const kept: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!n.outputs.some((o) => o && live.has(o))) {
      st.dead++;
      continue;
    }
    kept.push(n);
    for (const x of n.inputs) if (x) live.add(x);
    for (const v of Object.values(n.attrs)) if (v instanceof Graph) for (const x of outerReads(v)) live.add(x);
  }
  kept.reverse();
  const inputs = new Set(g.inputs.map((i) => i.name));
  for (const k of [...inits.keys()]) if (!live.has(k) && !inputs.has(k)) inits.delete(k);

  if (!st.folded && !st.bypassed && !st.dead && !rewritten && inits.size === graph.initializers.size) return graph;
  g.nodes = kept;
  g.initializers = inits;
  stats.set(g, st);
  return g;
}

/**
 * canonicalize for passes that also accept graphs edgeq cannot type (unknown ops, inconsistent dtypes the pass
 * reports itself): such a graph is returned unchanged instead of throwing.
 */
export function canonicalizeIfValid(graph: Graph, opts: CanonicalizeOptions = {}): Graph {
  try {
    return canonicalize(graph, opts);
  } catch (e) {
    if (e instanceof EdgeqError) return graph;
    throw e;
  }
}

/**
 * A Cast to float32 of a big float16 initializer stays: the fp16 kernels read the halves behind it (half the weight
 * memory) and the plan skips the Cast (kernels/fp16.ts). Small ones (≤ 65536 elements, analyze()'s own limit) fold,
 * and so do conv weights (every reader a Conv / ConvTranspose weight input), as XNNPACK widens TFLite's fp16 conv
 * weights at load: a float32 constant reaches the sparse, Winograd and depthwise kernels, which the per-run widening
 * f16w conv path does not (pose_detection's pruned 1×1 convs: 122 → 53 ms), and CNN weights are small next to
 * transformers' fp16 MatMul weights, which keep their halves.
 */
function halfWeightCast(g: Graph, n: Node): boolean {
  const src = n.op === 'Cast' && n.domain === '' ? g.initializers.get(n.inputs[0] ?? '') : undefined;
  if (!src || src.type !== 'float16' || src.size <= 1 << 16 || n.attrs.to !== 1) return false;
  const out = n.outputs[0];
  const readers = g.nodes.filter((r) => r.inputs.includes(out!));
  const convWeight = readers.length > 0 && readers.every((r) => (r.op === 'Conv' || r.op === 'ConvTranspose') && r.domain === '' && r.inputs.indexOf(out!) === 1 && r.inputs.lastIndexOf(out!) === 1);
  return !convWeight || g.outputs.some((o) => o.name === out);
}

function isFalse(t: { size: number; num(i: number): number } | undefined): boolean {
  return !!t && t.size === 1 && t.num(0) === 0;
}

/** Every value name a subgraph (and its nested subgraphs) reads: outer-scope reads are among them. */
function outerReads(g: Graph): string[] {
  const out: string[] = g.outputs.map((o) => o.name);
  for (const n of g.nodes) {
    out.push(...n.inputs.filter((x) => x));
    for (const v of Object.values(n.attrs)) if (v instanceof Graph) out.push(...outerReads(v));
  }
  return out;
}
