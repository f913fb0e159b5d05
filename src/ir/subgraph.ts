import type { Tensor } from '../tensor/tensor.js';
import type { Value } from '../tensor/sequence.js';
import { Graph, type GraphIO, type Node, type ValueType } from './graph.js';

/**
 * Control-flow bodies (If/Loop/Scan/SequenceMap graph attributes).
 *
 * A body may read values of the enclosing graphs ("outer scope"). The ONNX reader makes that explicit: the
 * names a node's bodies capture (`capturedBy(node)`) are appended to the node's inputs, so topological order,
 * liveness and passes see the dependency. The op then splits `node.inputs` into its ONNX inputs and the
 * captured tail (`splitCaptured`), and the executor binds the captured values into the body (`bindBody`).
 */

/** Body inputs/outputs the file declares without a type (legal inside subgraphs): typed when bound. */
export const UNTYPED = new WeakSet<GraphIO>();

/** Deepest nesting of bodies the reader accepts (untrusted files). */
export const MAX_BODY_DEPTH = 16;

/** The graph attributes of a node, in attribute order. */
export function bodies(node: Node): Graph[] {
  return Object.values(node.attrs).filter((v): v is Graph => v instanceof Graph);
}

/**
 * Names `g` reads but does not define (its inputs, initializers and node outputs), in first-use order; node
 * inputs already include what nested bodies capture (the reader appends them), graph outputs count as reads.
 */
export function freeVars(g: Graph): string[] {
  const defined = new Set<string>([...g.initializers.keys(), ...g.inputs.map((i) => i.name)]);
  for (const n of g.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const out: string[] = [];
  const seen = new Set<string>();
  const use = (x: string) => {
    if (x && !defined.has(x) && !seen.has(x)) {
      seen.add(x);
      out.push(x);
    }
  };
  for (const n of g.nodes) n.inputs.forEach(use);
  for (const o of g.outputs) use(o.name);
  return out;
}

/** What every body of `node` captures from outside, in body order (the tail the reader appends to its inputs). */
export function capturedBy(node: Node): string[] {
  const out: string[] = [];
  for (const b of bodies(node)) for (const x of freeVars(b)) if (!out.includes(x)) out.push(x);
  return out;
}

/** A node's own ONNX inputs and its captured tail (name inside the bodies → index into node.inputs). */
export function splitCaptured(node: Node): { own: number; captured: Map<string, number> } {
  const names = capturedBy(node);
  const own = node.inputs.length - names.length;
  return { own, captured: new Map(names.map((x, k) => [x, own + k])) };
}

export interface Captured {
  type?: ValueType;
  /** known constant (outer initializer or folded value): bound as an initializer of the body */
  value?: Tensor;
}

/**
 * A copy of body `g` the analyser and executor can run on its own: formal inputs typed (declared types kept,
 * types from `formal` where given — run-time values, whose shapes may change across iterations), captured constants as initializers, other captured values as extra inputs.
 */
export function bindBody(g: Graph, formal: (ValueType | undefined)[], captured: (name: string) => Captured): Graph {
  const b = g.clone();
  b.inputs = g.inputs.map((io, i) => ({ name: io.name, type: formal[i] ?? { ...io.type } }));
  for (const x of freeVars(g)) {
    const c = captured(x);
    if (c.value) b.initializers.set(x, c.value);
    else b.inputs.push({ name: x, type: c.type ?? { dtype: 'float32' } });
  }
  b.outputs = g.outputs.map((o) => ({ name: o.name, type: { ...o.type } }));
  return b;
}

/** The run-time type of a value with every dim left open ('?'): bodies see changing shapes across iterations. */
export function looseType(v: Value, seq: boolean): ValueType {
  if (seq) {
    const s = v as { elemType: ValueType['dtype'] };
    return { dtype: s.elemType, sequence: true };
  }
  const t = v as Tensor;
  return { dtype: t.type, shape: t.dims.map(() => '?') };
}

/** Runs a node's bodies (provided by the executor; ops cannot import the runtime layer). */
export interface BodyRunner {
  /** Run body `g` of the current node with its formal inputs; returns its outputs in declared order. */
  run(g: Graph, formal: Value[]): Value[];
}
