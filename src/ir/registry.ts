import { ShapeError, UnsupportedError, UnsupportedOpError } from '../errors.js';
import type { Value } from '../tensor/sequence.js';
import type { Tensor } from '../tensor/tensor.js';
import { type AttrValue, Graph, type Node, type ValueType } from './graph.js';
import type { BodyRunner } from './subgraph.js';

export type AttrType = 'int' | 'float' | 'string' | 'ints' | 'floats' | 'strings' | 'tensor' | 'graph';

export interface AttrSpec {
  type: AttrType;
  /** default when absent; omit together with `required: false` for "absent means something" attrs */
  default?: AttrValue;
  required?: boolean;
  /** allowed values (ints or strings) */
  oneOf?: readonly (number | string)[];
}

/** Resolved attributes: every declared attribute with its default applied (possibly undefined). */
export type Attrs = Record<string, any>;

/** What `inferShape` sees: static types, constant values when known, attrs, and a fail helper. */
export interface ShapeCtx {
  node: Node;
  attrs: Attrs;
  /** input types; undefined for omitted optional inputs */
  inputs: (ValueType | undefined)[];
  /** constant value of input i when known (always known at run time) */
  value(i: number): Tensor | undefined;
  /** number of outputs the node declares */
  numOutputs: number;
  /** throw a ShapeError that names the node */
  fail(msg: string): never;
}

export interface RunCtx {
  node: Node;
  attrs: Attrs;
  /** undefined for omitted optional inputs */
  inputs: (Tensor | undefined)[];
  /** the concrete output types inferShape just computed for these inputs */
  outputTypes: ValueType[];
}

/** RunCtx for ops that handle sequences: inputs may be TensorSequence (see OpDef.runValues). */
export interface ValueRunCtx extends Omit<RunCtx, 'inputs'> {
  inputs: (Value | undefined)[];
  /** runs the node's graph attributes (If/Loop/Scan bodies); given by the executor */
  bodies?: BodyRunner;
}

/** What `OpDef.cost` sees: resolved attributes and the node's shapes, each undefined unless every dim is a number. */
export interface CostCtx {
  attrs: Attrs;
  inputs: (readonly number[] | undefined)[];
  outputs: (readonly number[] | undefined)[];
}

export interface OpDef {
  name: string;
  /** '' = ai.onnx */
  domain: string;
  /** min/max number of inputs (max may be Infinity for variadic) */
  inputs: [number, number];
  outputs: [number, number];
  attrs: Record<string, AttrSpec>;
  /** Attributes accepted and ignored (legacy ones such as consumed_inputs). */
  ignoredAttrs?: readonly string[];
  /** The single place inputs are validated: returns one type per output, or throws ShapeError. */
  inferShape(ctx: ShapeCtx): ValueType[];
  /** Plain TypeScript reference implementation: the spec the WASM kernels answer to. */
  reference(ctx: RunCtx): Tensor[];
  /**
   * Ops that take or produce tensor sequences (ValueType.sequence) implement this; the executor then
   * calls it instead of `reference`/kernels. Ops without it never receive sequence inputs.
   */
  runValues?(ctx: ValueRunCtx): Value[];
  /**
   * Optional: outputs that are constant given only static input types (Shape, Size of a concretely
   * shaped tensor). Lets shape-computing subgraphs fold at load time.
   */
  constantFromTypes?(ctx: ShapeCtx): (Tensor | undefined)[] | undefined;
  /** Short description for docs/inspect. */
  doc?: string;
  /**
   * How the op commutes with a permutation of its data's axes, for the plan-time Transpose sinking
   * (ir/passes/transpose-sink.ts): 'elementwise' (input 0 the data, any other inputs size-1 constants),
   * 'broadcast' (every input data or a constant broadcast from the right), or an op whose axes / per-axis
   * parameters the pass renames ('concat', 'split', 'pad', 'resize', 'slice', 'reduce', 'arg', 'qdq').
   * Undefined: a Transpose stops before the op.
   */
  commutes?: Commutes;
  /**
   * Multiply-adds (or comparable elementary steps) one run of the node takes, from its shapes; NaN when a shape it
   * needs is unknown. `env.limits.nodeWork` bounds it before any kernel runs (ir/infer.ts runInfer) and `inspect` and
   * the splitter count it. Defined by ops whose work can grow faster than their tensors (convs, products,
   * attention, recurrences, windows); the others are bounded by MAX_TENSOR_BYTES. Helpers: ops/cost.ts.
   */
  cost?(c: CostCtx): number;
}

/** see OpDef.commutes */
export type Commutes = 'elementwise' | 'broadcast' | 'concat' | 'split' | 'pad' | 'resize' | 'slice' | 'reduce' | 'arg' | 'qdq';

const registry = new Map<string, OpDef>();
const key = (domain: string, name: string) => `${domain === 'ai.onnx' ? '' : domain}::${name}`;

/** Register an op. Called once per op at module load of src/ops/*. */
export function defineOp(def: Omit<OpDef, 'domain'> & { domain?: string }): OpDef {
  const full: OpDef = { domain: '', ...def };
  const k = key(full.domain, full.name);
  if (registry.has(k)) throw new Error(`op ${full.name} defined twice`);
  registry.set(k, full);
  return full;
}

export function getOp(domain: string, name: string): OpDef | undefined {
  return registry.get(key(domain, name));
}

/** Every registered op (for docs and `inspect`). */
export function allOps(): OpDef[] {
  return [...registry.values()];
}

/** Look up the node's op or throw UnsupportedOpError naming it. */
export function opFor(node: Node, opset?: number): OpDef {
  const def = getOp(node.domain, node.op);
  if (!def) {
    const dom = node.domain || 'ai.onnx';
    throw new UnsupportedOpError(node.op, `domain ${dom}${opset !== undefined ? ' opset ' + opset : ''}, node '${node.name}'`);
  }
  return def;
}

/**
 * Check arity and attributes of `node` against `def`, apply defaults. Throws ShapeError/UnsupportedError
 * naming the node.
 */
export function resolveAttrs(def: OpDef, node: Node): Attrs {
  const where = `node '${node.name}' (${node.op})`;
  let nIn = node.inputs.length;
  while (nIn > 0 && node.inputs[nIn - 1] === '') nIn--;
  if (nIn < def.inputs[0] || nIn > def.inputs[1])
    throw new ShapeError(`${where}: expected ${def.inputs[0]}${def.inputs[1] === def.inputs[0] ? '' : '..' + def.inputs[1]} inputs, got ${nIn}`);
  for (let i = 0; i < def.inputs[0]; i++) if (node.inputs[i] === '') throw new ShapeError(`${where}: required input ${i} is missing`);
  if (node.outputs.length < def.outputs[0] || node.outputs.length > def.outputs[1])
    throw new ShapeError(`${where}: expected ${def.outputs[0]}..${def.outputs[1]} outputs, got ${node.outputs.length}`);
  const out: Attrs = {};
  for (const [name, v] of Object.entries(node.attrs)) {
    const spec = def.attrs[name];
    if (!spec) {
      if (def.ignoredAttrs?.includes(name)) continue;
      throw new UnsupportedError(`${where}: unknown attribute '${name}'`);
    }
    out[name] = checkAttr(where, name, spec, v);
  }
  for (const [name, spec] of Object.entries(def.attrs)) {
    if (name in out) continue;
    if (spec.required) throw new ShapeError(`${where}: required attribute '${name}' is missing`);
    out[name] = spec.default;
  }
  return out;
}

function checkAttr(where: string, name: string, spec: AttrSpec, v: AttrValue): AttrValue {
  const bad = (want: string): never => {
    throw new ShapeError(`${where}: attribute '${name}' must be ${want}`);
  };
  switch (spec.type) {
    case 'int':
      if (typeof v !== 'number' || !Number.isFinite(v)) bad('an int');
      v = Math.trunc(v as number);
      break;
    case 'float':
      if (typeof v !== 'number') bad('a float');
      break;
    case 'string':
      if (typeof v !== 'string') bad('a string');
      break;
    case 'ints':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) bad('a list of ints');
      v = (v as number[]).map(Math.trunc);
      break;
    case 'floats':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) bad('a list of floats');
      break;
    case 'strings':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad('a list of strings');
      break;
    case 'tensor':
      if (typeof v !== 'object' || Array.isArray(v) || !('dims' in v)) bad('a tensor');
      break;
    case 'graph':
      if (!(v instanceof Graph)) bad('a graph');
      break;
  }
  if (spec.oneOf && !spec.oneOf.includes(v as number | string)) throw new UnsupportedError(`${where}: attribute ${name}=${String(v)} not supported (expected one of ${spec.oneOf.join(', ')})`);
  return v;
}
