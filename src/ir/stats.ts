/**
 * Model statistics for `inspect` and the demo: op histogram, parameter counts, bytes by dtype and a
 * multiply-accumulate estimate from the inferred shapes. Symbolic dims (e.g. batch 'N') count as 1, so
 * MACs are "per 1" of each symbolic dim (per image for a batch dim).
 */
import { EdgeqError } from '../errors.js';
import type { Dim, Graph, GraphIO, Node, ValueType } from './graph.js';
import { analyze } from './infer.js';
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
  /** multiply-accumulates of Conv, ConvTranspose, Gemm, MatMul, QLinear and Integer variants, RNNs (symbolic dims = 1) */
  macs: number;
  macsByOp: Record<string, number>;
  /** true when some counted node had a symbolic dim (MACs are then per unit of that dim) */
  perSymbolic: boolean;
  /** MAC-bearing nodes whose shapes were unknown (not counted) */
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
    const r = nodeMacs(n, (i) => types.get(n.inputs[i] ?? ''), (i) => types.get(n.outputs[i] ?? ''));
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

type TypeAt = (i: number) => ValueType | undefined;

/**
 * MACs of one node: null if the op does no multiply-accumulate work we count, undefined if it does but
 * the shapes are unknown.
 */
export function nodeMacs(n: Node, inT: TypeAt, outT: TypeAt): { macs: number; symbols: string[] } | null | undefined {
  const syms: string[] = [];
  const num = (d: Dim | undefined): number => {
    if (typeof d === 'number') return d;
    if (typeof d === 'string') syms.push(d);
    return 1;
  };
  const prod = (s: readonly Dim[]) => s.reduce<number>((a, d) => a * num(d), 1);
  const shape = (t: ValueType | undefined) => t?.shape;
  const res = (macs: number) => ({ macs, symbols: [...new Set(syms)] });
  const dom = n.domain;
  if (dom !== '' && dom !== 'com.microsoft') return null;
  switch (n.op) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv': {
      const wi = n.op === 'QLinearConv' ? 3 : 1;
      const w = shape(inT(wi));
      const y = shape(outT(0));
      if (!w || !y || w.length < 2 || y.length !== w.length) return undefined;
      // each output element: C/group × prod(kernel) MACs (W's dims past the first are those for OIHW and OHWI;
      // 1HWO (TFLite depthwise, weight_layout attribute) has one input channel and M last)
      return res(prod(y) * prod(n.attrs.weight_layout === '1HWO' ? w.slice(1, -1) : w.slice(1)));
    }
    case 'ConvTranspose': {
      const x = shape(inT(0));
      const w = shape(inT(1));
      if (!x || !w || w.length < 2 || x.length !== w.length) return undefined;
      // each input element scatters into M/group × prod(kernel) outputs (W (C, M/group, k…); OHWI is (M, k…, C/group))
      return res(prod(x) * (n.attrs.weight_layout === 'OHWI' ? prod(w.slice(0, -1)) / Number(n.attrs.group ?? 1) : prod(w.slice(1))));
    }
    case 'Gemm': {
      const a = shape(inT(0));
      const b = shape(inT(1));
      if (!a || !b || a.length !== 2 || b.length !== 2) return undefined;
      const ta = Number(n.attrs.transA ?? 0) !== 0;
      const tb = Number(n.attrs.transB ?? 0) !== 0;
      const M = ta ? a[1] : a[0];
      const K = ta ? a[0] : a[1];
      const N = tb ? b[0] : b[1];
      return res(num(M) * num(K) * num(N));
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const bi = n.op === 'QLinearMatMul' ? 3 : 1;
      const a = shape(inT(0));
      const b = shape(inT(bi));
      const y = shape(outT(0));
      if (!a || !b || !a.length || !b.length) return undefined;
      const K = a[a.length - 1];
      // output elements × K (1-D operands are promoted and their dim removed in Y)
      if (y) return res(prod(y) * num(K));
      const M = a.length >= 2 ? a[a.length - 2] : 1;
      const N = b.length >= 2 ? b[b.length - 1] : 1;
      const batch = a.length > 2 ? prod(a.slice(0, -2)) : 1;
      return res(batch * num(M) * num(K) * num(N));
    }
    case 'LSTM':
    case 'GRU':
    case 'RNN': {
      const x = shape(inT(0));
      const w = shape(inT(1));
      const r = shape(inT(2));
      if (!x || !w || !r || x.length !== 3 || w.length !== 3 || r.length !== 3) return undefined;
      const layout = Number(n.attrs.layout ?? 0);
      const seq = layout ? x[1] : x[0];
      const batch = layout ? x[0] : x[1];
      // per step and direction: W·x (gates·H × I) + R·h (gates·H × H)
      return res(num(seq) * num(batch) * num(w[0]) * (num(w[1]) * num(w[2]) + num(r[1]) * num(r[2])));
    }
    default:
      return null;
  }
}
