/**
 * Shared helpers for the pruning passes: which nodes carry prunable weights, how to read/write them as
 * float arrays, and the typed errors the passes throw.
 */
import { InputError, UnsupportedError } from '../errors.js';
import type { Graph, Node } from '../ir/graph.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../tensor/fp16.js';
import { Tensor } from '../tensor/tensor.js';

/** Bad pruning options (sparsity out of range, unknown node names, N:M with N ≥ M, …). */
export class PruneOptionsError extends InputError {}
/** The model has no weight the requested pruning can touch (after exclusions). */
export class NothingToPruneError extends InputError {}

export const PRUNABLE_OPS = ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'] as const;
const FLOAT_WEIGHTS = new Set(['float32', 'float16', 'float64']);

/** A weight tensor a pruning pass may touch, seen as rows (outputs) × reduction (fan-in). */
export interface WeightRef {
  node: Node;
  /** initializer name */
  name: string;
  tensor: Tensor;
  /** number of output units (Conv filters / Gemm output features) */
  rows: number;
  /** fan-in per output unit */
  cols: number;
  /** flat index of (row r, reduction j) = r * rowStride + j * colStride */
  rowStride: number;
  colStride: number;
}

/** Float view of a float weight (copy for float16). */
export function weightValues(t: Tensor): Float32Array | Float64Array {
  if (t.type === 'float16') return f16ArrayToF32(t.data as Uint16Array);
  if (t.type === 'float32' || t.type === 'float64') return t.data as Float32Array | Float64Array;
  throw new UnsupportedError(`pruning: weights of type ${t.type} are not supported (float32/float16/float64 only)`);
}

/** A new tensor of `t`'s dtype holding `v` (float32 values are rounded to fp16 for float16). */
export function withValues(t: Tensor, v: Float32Array | Float64Array, dims: readonly number[] = t.dims): Tensor {
  let data: Float32Array | Float64Array | Uint16Array;
  if (t.type === 'float16') data = f32ArrayToF16(v);
  else if (t.type === 'float32') data = v instanceof Float32Array ? v : Float32Array.from(v);
  else data = v instanceof Float64Array ? v : Float64Array.from(v);
  const out = new Tensor(t.type, data, dims);
  if (t.quant) out.quant = t.quant;
  return out;
}

/** How many times each value name is read (node inputs, graph outputs). */
export function useCounts(g: Graph): Map<string, number> {
  const c = new Map<string, number>();
  const inc = (n: string) => n && c.set(n, (c.get(n) ?? 0) + 1);
  for (const n of g.nodes) n.inputs.forEach(inc);
  for (const o of g.outputs) inc(o.name);
  return c;
}

const attrNum = (n: Node, k: string, d: number): number => (typeof n.attrs[k] === 'number' ? (n.attrs[k] as number) : d);

/**
 * The prunable weight of `node`, or a reason it has none. Conv/ConvTranspose input 1, Gemm input 1 (B),
 * MatMul input 1 (or input 0 when it is the constant), each an initializer of a float dtype.
 */
export function weightOf(g: Graph, node: Node): WeightRef | string {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return `domain ${node.domain}`;
  if (!(PRUNABLE_OPS as readonly string[]).includes(node.op)) return `op ${node.op} has no prunable weight`;
  let idx = 1;
  if (node.op === 'MatMul' && !g.initializers.has(node.inputs[1] ?? '') && g.initializers.has(node.inputs[0] ?? '')) idx = 0;
  const name = node.inputs[idx] ?? '';
  const t = g.initializers.get(name);
  if (!t) return `weight '${name}' is not a constant initializer`;
  if (!FLOAT_WEIGHTS.has(t.type)) return `weight '${name}' has type ${t.type} (float weights only)`;
  const d = t.dims;
  if (t.size === 0) return `weight '${name}' is empty`;
  switch (node.op) {
    case 'Conv': {
      if (d.length < 3) return `weight '${name}' has rank ${d.length}`;
      const cols = t.size / d[0]!;
      return { node, name, tensor: t, rows: d[0]!, cols, rowStride: cols, colStride: 1 };
    }
    case 'ConvTranspose': {
      // [C_in, C_out/group, k...]: output units are along dim 1; treat the whole tensor as one block of rows
      if (d.length < 3) return `weight '${name}' has rank ${d.length}`;
      const cols = t.size / d[0]!;
      return { node, name, tensor: t, rows: d[0]!, cols, rowStride: cols, colStride: 1 };
    }
    case 'Gemm': {
      if (d.length !== 2) return `weight '${name}' has rank ${d.length}`;
      if (attrNum(node, 'transB', 0)) return { node, name, tensor: t, rows: d[0]!, cols: d[1]!, rowStride: d[1]!, colStride: 1 };
      return { node, name, tensor: t, rows: d[1]!, cols: d[0]!, rowStride: 1, colStride: d[1]! };
    }
    default: {
      // MatMul: constant B [.., K, N] (rows = N outputs, reduction along K) or constant A [M, K]
      if (d.length < 2) return `weight '${name}' has rank ${d.length}`;
      const r = d[d.length - 2]!;
      const c = d[d.length - 1]!;
      if (d.length > 2) return `weight '${name}' is a batched MatMul operand (rank ${d.length})`;
      if (idx === 1) return { node, name, tensor: t, rows: c, cols: r, rowStride: 1, colStride: c };
      return { node, name, tensor: t, rows: r, cols: c, rowStride: c, colStride: 1 };
    }
  }
}

/** Sort-free k-th selection is not needed: pruning sorts each scope once (O(n log n)). */
export function orderByMagnitude(mags: Float64Array): Uint32Array {
  const idx = new Uint32Array(mags.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  // NaN sorts last (kept): never prune a value we cannot compare
  const key = (i: number) => (Number.isNaN(mags[i]!) ? Infinity : mags[i]!);
  idx.sort((a, b) => key(a) - key(b) || a - b);
  return idx;
}
