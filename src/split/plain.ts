/**
 * Graph ⇄ structured-clone-safe plain object, for handing parts to workers without a serializer round
 * trip (tensor buffers are copied by postMessage; class prototypes are restored here).
 */
import { Graph, type AttrValue, type ValueType } from '../ir/graph.js';
import type { DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

export interface PlainTensor {
  __t: 1;
  type: DType;
  dims: number[];
  data: Tensor['data'];
  quant?: Tensor['quant'];
}

export interface PlainGraph {
  __g: 1;
  name: string;
  inputs: { name: string; type: ValueType }[];
  outputs: { name: string; type: ValueType }[];
  nodes: { name: string; op: string; domain: string; inputs: string[]; outputs: string[]; attrs: Record<string, unknown> }[];
  initializers: [string, PlainTensor][];
  types: [string, ValueType][];
  opsets: Record<string, number>;
  source: string;
  metadata: Record<string, string>;
  producer: string;
  irVersion: number;
}

export function tensorToPlain(t: Tensor): PlainTensor {
  return { __t: 1, type: t.type, dims: [...t.dims], data: t.data, ...(t.quant ? { quant: t.quant } : {}) };
}

export function tensorFromPlain(p: PlainTensor): Tensor {
  const t = new Tensor(p.type, p.data, p.dims);
  if (p.quant) t.quant = p.quant;
  return t;
}

function attrToPlain(a: AttrValue): unknown {
  if (a instanceof Tensor) return tensorToPlain(a);
  if (a instanceof Graph) return graphToPlain(a);
  return a;
}

function attrFromPlain(a: unknown): AttrValue {
  if (a && typeof a === 'object' && '__t' in a) return tensorFromPlain(a as PlainTensor);
  if (a && typeof a === 'object' && '__g' in a) return graphFromPlain(a as PlainGraph);
  return a as AttrValue;
}

export function graphToPlain(g: Graph): PlainGraph {
  return {
    __g: 1,
    name: g.name,
    inputs: g.inputs,
    outputs: g.outputs,
    nodes: g.nodes.map((n) => ({ ...n, attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, v]) => [k, attrToPlain(v)])) })),
    initializers: [...g.initializers].map(([k, t]) => [k, tensorToPlain(t)]),
    types: [...g.types],
    opsets: g.opsets,
    source: g.source,
    metadata: g.metadata,
    producer: g.producer,
    irVersion: g.irVersion,
  };
}

export function graphFromPlain(p: PlainGraph): Graph {
  const g = new Graph();
  g.name = p.name;
  g.inputs = p.inputs;
  g.outputs = p.outputs;
  g.nodes = p.nodes.map((n) => ({ ...n, attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, v]) => [k, attrFromPlain(v)])) }));
  g.initializers = new Map(p.initializers.map(([k, t]) => [k, tensorFromPlain(t)]));
  g.types = new Map(p.types);
  g.opsets = p.opsets;
  g.source = p.source;
  g.metadata = p.metadata;
  g.producer = p.producer;
  g.irVersion = p.irVersion;
  return g;
}
