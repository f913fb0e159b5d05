import type { DType } from '../tensor/dtype.js';
import type { QuantParams } from '../tensor/quant.js';
import type { Tensor } from '../tensor/tensor.js';

/** A dimension: a concrete size, or a symbolic name such as 'N' (unknown until run time). */
export type Dim = number | string;

/** Static type of a value: dtype plus shape (undefined shape = unknown rank). */
export interface ValueType {
  dtype: DType;
  shape?: Dim[];
  quant?: QuantParams;
  /**
   * Set when the value is a sequence of tensors (ONNX sequence type): `dtype` is the element type and
   * `shape` the shape every element shares (undefined / '?' dims where elements may differ).
   */
  sequence?: true;
}

/** Attribute values as importers deliver them (ints/floats both as numbers). */
export type AttrValue = number | string | number[] | string[] | Tensor | Graph;

export interface Node {
  /** unique, human-readable name used in every error message */
  name: string;
  /** op type, e.g. 'Conv' */
  op: string;
  /** '' for ONNX's default domain */
  domain: string;
  /** value names; '' marks an omitted optional input */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface GraphIO {
  name: string;
  type: ValueType;
}

/**
 * The one IR every importer builds and every pass, runtime and exporter consumes.
 * Values are named (SSA: each name produced once); initializers are constant tensors.
 */
export class Graph {
  name = 'graph';
  inputs: GraphIO[] = [];
  outputs: GraphIO[] = [];
  nodes: Node[] = [];
  initializers = new Map<string, Tensor>();
  /** inferred or declared types of every value (inputs, outputs, intermediates) */
  types = new Map<string, ValueType>();
  /** opset imports: domain -> version ('' = ai.onnx) */
  opsets: Record<string, number> = { '': 13 };
  /** where the model came from: 'onnx' | 'tflite' | 'edgeq' */
  source = 'edgeq';
  metadata: Record<string, string> = {};
  producer = '';
  irVersion = 8;

  /** Type of a value if known (initializers included). */
  typeOf(name: string): ValueType | undefined {
    const t = this.types.get(name);
    if (t) return t;
    const init = this.initializers.get(name);
    if (init) return { dtype: init.type, shape: [...init.dims], ...(init.quant ? { quant: init.quant } : {}) };
    return undefined;
  }

  /** Shallow-ish copy: new node/IO arrays and maps, tensors shared (they are treated as immutable). */
  clone(): Graph {
    const g = new Graph();
    g.name = this.name;
    g.inputs = this.inputs.map((i) => ({ name: i.name, type: { ...i.type, ...(i.type.shape ? { shape: [...i.type.shape] } : {}) } }));
    g.outputs = this.outputs.map((o) => ({ name: o.name, type: { ...o.type, ...(o.type.shape ? { shape: [...o.type.shape] } : {}) } }));
    g.nodes = this.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } }));
    g.initializers = new Map(this.initializers);
    g.types = new Map(this.types);
    g.opsets = { ...this.opsets };
    g.source = this.source;
    g.metadata = { ...this.metadata };
    g.producer = this.producer;
    g.irVersion = this.irVersion;
    return g;
  }
}
