/**
 * Model statistics for `inspect` and the demo: op histogram, parameter counts, bytes by dtype and a
 * multiply-accumulate estimate from the inferred shapes. Symbolic dims (e.g. batch 'N') count as 1, so
 * MACs are "per 1" of each symbolic dim (per image for a batch dim).
 */
import { EdgeqError } from '../errors.js';
import type { Graph, GraphIO, Node, ValueType } from './graph.js';
import { analyze } from './infer.js';
import { getOp, resolveAttrs } from './registry.js';
import { Tensor } from '../tensor/tensor.js';

export interface ModelStats {
  /** nodes per op type (domain-qualified when not ai.onnx), sorted by count */
  ops: Record<string, number>;
  nodes: number;
  /** total elements of all initializers and Constant-node tensors (Paddle2ONNX and some exporters keep every weight in a Constant) */
  params: number;
  /** elements of those per dtype */
  paramsByDtype: Record<string, number>;
  /** bytes of initializers per dtype */
  bytesByDtype: Record<string, number>;
  /** total initializer bytes */
  bytes: number;
  /** work of the ops that define a cost (OpDef.cost): multiply-accumulates of convs, products, attention and RNNs, pools' window reads (symbolic dims = 1) */
  macs: number;
  macsByOp: Record<string, number>;
  /** true when some counted node had a symbolic dim (MACs are then per unit of that dim) */
  perSymbolic: boolean;
  /** nodes with a cost whose shapes were unknown (not counted) */
  uncounted: string[];
  /** names of the symbolic dims seen in counted nodes ('?' = unnamed unknown dim) */
  symbols: string[];
  inputs: GraphIO[];
  /** graph outputs with inferred types where inference succeeded */
  outputs: GraphIO[];
  /** set when shape inference failed (stats then use only declared types) */
  inferenceError?: string;
}

/** Compute statistics. Runs shape inference (ops must be registered); falls back to declared types. */
export function modelStats(graph: Graph): ModelStats {
  let types = new Map<string, ValueType>(graph.types);
  for (const [n, t] of graph.initializers) types.set(n, { dtype: t.type, shape: [...t.dims] });
  for (const i of graph.inputs) types.set(i.name, i.type);
  let inferenceError: string | undefined;
  try {
    types = analyze(graph).types;
  } catch (e) {
    if (!(e instanceof EdgeqError)) throw e;
    inferenceError = `${e.name}: ${e.message}`;
  }
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) {
    const k = n.domain ? `${n.domain}.${n.op}` : n.op;
    ops[k] = (ops[k] ?? 0) + 1;
  }
  const sortedOps = Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  let params = 0;
  let bytes = 0;
  const paramsByDtype: Record<string, number> = {};
  const bytesByDtype: Record<string, number> = {};
  const constants = graph.nodes.filter((n) => n.op === 'Constant' && (!n.domain || n.domain === 'ai.onnx') && n.attrs.value instanceof Tensor).map((n) => n.attrs.value as Tensor);
  for (const t of [...graph.initializers.values(), ...constants]) {
    params += t.size;
    bytes += t.byteLength;
    paramsByDtype[t.type] = (paramsByDtype[t.type] ?? 0) + t.size;
    bytesByDtype[t.type] = (bytesByDtype[t.type] ?? 0) + t.byteLength;
  }
  let macs = 0;
  const macsByOp: Record<string, number> = {};
  const uncounted: string[] = [];
  const symbols = new Set<string>();
  for (const n of graph.nodes) {
    const r = nodeMacs(n, (x) => types.get(x));
    if (r === null) continue;
    if (r === undefined) {
      uncounted.push(n.name);
      continue;
    }
    for (const s of r.symbols) symbols.add(s);
    macs += r.macs;
    macsByOp[n.op] = (macsByOp[n.op] ?? 0) + r.macs;
  }
  return {
    ops: sortedOps,
    nodes: graph.nodes.length,
    params,
    paramsByDtype,
    bytesByDtype,
    bytes,
    macs,
    macsByOp,
    perSymbolic: symbols.size > 0,
    uncounted,
    symbols: [...symbols],
    inputs: graph.inputs,
    outputs: graph.outputs.map((o) => ({ name: o.name, type: types.get(o.name) ?? o.type })),
    ...(inferenceError ? { inferenceError } : {}),
  };
}

/**
 * The op's cost (OpDef.cost, the count `env.limits.nodeWork` bounds) of `n` from the types `type` gives, reading a
 * symbolic dim d as `sym(d)`: null when the op defines none, NaN when a shape is unknown (or the node is invalid).
 */
export function nodeCost(n: Node, type: (name: string) => ValueType | undefined, sym: (d: string) => number): number | null {
  const def = getOp(n.domain, n.op);
  if (!def?.cost) return null;
  const shape = (x: string) => type(x)?.shape?.map((d) => (typeof d === 'number' ? d : sym(d)));
  try {
    return def.cost({ attrs: resolveAttrs(def, n), inputs: n.inputs.map(shape), outputs: n.outputs.map(shape) });
  } catch (e) {
    if (e instanceof EdgeqError) return NaN;
    throw e;
  }
}

/**
 * Work of one node (its OpDef.cost, multiply-adds of convs and products, window reads of pools …), symbolic dims
 * counted as 1: null if the op defines no cost, undefined if it does but the shapes are unknown.
 */
export function nodeMacs(n: Node, type: (name: string) => ValueType | undefined): { macs: number; symbols: string[] } | null | undefined {
  const syms = new Set<string>();
  const macs = nodeCost(n, type, (d) => (syms.add(d), 1));
  return macs === null ? null : Number.isNaN(macs) ? undefined : { macs, symbols: [...syms] };
}
