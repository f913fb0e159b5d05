import { EdgeqError, ShapeError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { DTYPES } from '../tensor/dtype.js';
import { limits } from '../tensor/limits.js';
import { MAX_TENSOR_BYTES } from '../tensor/shape.js';
import { Graph, type Node, type ValueType } from './graph.js';
import { type Attrs, type OpDef, opFor, resolveAttrs } from './registry.js';
import { topoSort } from './topo.js';

export interface Analysis {
  order: Node[];
  defs: Map<Node, OpDef>;
  attrs: Map<Node, Attrs>;
  /** static type of every value reachable from the inputs */
  types: Map<string, ValueType>;
  /** values that are constant at load time (initializers and folded subgraphs) */
  consts: Map<string, Tensor>;
}

/** Ops never folded (non-deterministic). */
const NO_FOLD = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);
/** Fold only small constants: shape arithmetic, not whole weight transforms. */
const FOLD_LIMIT = 1 << 16;
/**
 * Element-preserving transforms: their output is a constant input in another layout or type (a weight stored
 * transposed, quantized, reshaped), so folding one costs at most its input's elements (4 bytes each for float32
 * from 8-bit codes), once, instead of recomputing the weight on every run.
 */
const WEIGHT_TRANSFORMS = new Set(['Transpose', 'DequantizeLinear', 'Cast', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

export interface AnalyzeOptions {
  /** fold all-constant nodes (default true) */
  fold?: boolean;
  /** largest constant (elements) folded or folded from (default 65536: shape arithmetic, not weight transforms) */
  foldLimit?: number;
  /** nodes never folded even when their inputs are constant */
  keep?: (node: Node) => boolean;
  /**
   * also fold element-preserving transforms of constants larger than foldLimit (Transpose, DequantizeLinear, Cast,
   * Reshape … whose output has no more elements than their largest input): a big weight the model stores quantized
   * or transposed (whisper's tied 51865×384 uint8 embedding, transposed and dequantized for the logits MatMul) then
   * reaches the kernels as a constant instead of being recomputed on the reference every run. Default false.
   */
  foldWeights?: boolean;
}

/**
 * Validate and type every node in topological order. Each op's inferShape is the one place its
 * inputs are checked. Small all-constant subgraphs (Shape→Gather→Concat chains) are folded so data-
 * dependent shapes (Reshape, Expand, …) can be inferred statically.
 */
export function analyze(g: Graph, opts: AnalyzeOptions = {}): Analysis {
  const limit = opts.foldLimit ?? FOLD_LIMIT;
  const order = topoSort(g);
  const types = new Map<string, ValueType>();
  const consts = new Map<string, Tensor>();
  for (const [name, t] of g.initializers) {
    types.set(name, { dtype: t.type, shape: [...t.dims], ...(t.quant ? { quant: t.quant } : {}) });
    consts.set(name, t);
  }
  for (const i of g.inputs) types.set(i.name, i.type);
  const defs = new Map<Node, OpDef>();
  const attrsOf = new Map<Node, Attrs>();
  for (const node of order) {
    const def = opFor(node, g.opsets[node.domain === 'ai.onnx' ? '' : node.domain]);
    const attrs = resolveAttrs(def, node);
    defs.set(node, def);
    attrsOf.set(node, attrs);
    const inTypes = node.inputs.map((x) => (x === '' ? undefined : types.get(x)));
    const out = runInfer(def, node, attrs, inTypes, (i) => consts.get(node.inputs[i] ?? ''));
    node.outputs.forEach((o, k) => {
      if (o !== '' && out[k]) types.set(o, out[k]!);
    });
    // control flow (graph attributes) runs its bodies through an executor: never folded here
    if (opts.fold === false || NO_FOLD.has(node.op) || out.some((t) => t?.sequence) || opts.keep?.(node) || Object.values(node.attrs).some((v) => v instanceof Graph)) continue;
    const bigConst = (x: string) => consts.has(x) && consts.get(x)!.size > limit;
    // a transform of a big weight folds when its output turns out no bigger than its input (checked below)
    const weight = !!opts.foldWeights && WEIGHT_TRANSFORMS.has(node.op) && (node.domain === '' || node.domain === 'ai.onnx') && node.inputs.some(bigConst);
    const allConst = node.inputs.every((x) => x === '' || (consts.has(x) && (weight || consts.get(x)!.size <= limit)));
    let res: (Tensor | undefined)[] | undefined;
    if (allConst && (node.op === 'Constant' || node.inputs.some((x) => x !== ''))) {
      const ins = node.inputs.map((x) => (x === '' ? undefined : consts.get(x)));
      res = guard(node, () => def.reference({ node, attrs, inputs: ins, outputTypes: out }));
    } else if (def.constantFromTypes) {
      res = guard(node, () => def.constantFromTypes!({ node, attrs, inputs: inTypes, value: (i) => consts.get(node.inputs[i] ?? ''), numOutputs: node.outputs.length, fail: (m) => { throw new ShapeError(m); } }));
    }
    node.outputs.forEach((o, k) => {
      const t = res?.[k];
      // a Constant node's value already exists (its attribute): kept whatever its size, so weights exported as
      // Constant nodes reach the kernels as constants; computed values stay capped
      const inSize = weight ? Math.max(...node.inputs.map((x) => consts.get(x)?.size ?? 0)) : 0;
      if (o !== '' && t && (t.size <= limit || node.op === 'Constant' || t.size <= inSize)) consts.set(o, t);
    });
  }
  return { order, defs, attrs: attrsOf, types, consts };
}

function guard<T>(node: Node, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof EdgeqError) {
      if (!e.message.includes(`'${node.name}'`)) e.message = `node '${node.name}' (${node.op}): ${e.message}`;
      throw e;
    }
    throw new ShapeError(`node '${node.name}' (${node.op}): ${(e as Error).message}`);
  }
}

/** A type's shape when every dim is a number (what OpDef.cost reads). */
const concrete = (t: ValueType | undefined): number[] | undefined => (t?.shape?.every((d) => typeof d === 'number') ? (t.shape as number[]) : undefined);

/** Run an op's shape rule, turning any failure into a ShapeError that names the node. */
export function runInfer(
  def: OpDef,
  node: Node,
  attrs: Attrs,
  inputs: (ValueType | undefined)[],
  value: (i: number) => Tensor | undefined,
): ValueType[] {
  const fail = (msg: string): never => {
    throw new ShapeError(`node '${node.name}' (${node.op}): ${msg}`);
  };
  if (!def.runValues) inputs.forEach((t, i) => t?.sequence && fail(`input ${i} ('${node.inputs[i]}') is a sequence; ${node.op} takes tensors`));
  const out = guard(node, () => def.inferShape({ node, attrs, inputs, value, numOutputs: node.outputs.length, fail }));
  out.forEach((t, k) => {
    if (!t || t.sequence || !t.shape || !t.shape.every((d) => typeof d === 'number') || !DTYPES[t.dtype]) return;
    const bytes = (t.shape as number[]).reduce((a, b) => a * b, 1) * DTYPES[t.dtype].bytes;
    if (bytes > MAX_TENSOR_BYTES) fail(`output '${node.outputs[k]}' [${t.shape.join(',')}] of ${t.dtype} would take ${bytes} bytes, more than the ${MAX_TENSOR_BYTES}-byte limit of one tensor`);
  });
  // the work limit, before anything computes the node (a NaN cost — some shape still symbolic — is checked at run time)
  const work = def.cost?.({ attrs, inputs: inputs.map(concrete), outputs: out.map(concrete) });
  if (work! > limits.nodeWork) fail(`its shapes take ${work} multiply-adds, more than env.limits.nodeWork (${limits.nodeWork})`);
  return out;
}
