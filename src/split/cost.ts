/**
 * Cost model for partitioning: multiply-accumulates per node from the static types (the textbook
 * counts: Conv = N·M·∏out·C/g·∏k, Gemm/MatMul = M·N·K, pools = out·∏k, everything else = output elements),
 * plus a fixed per-node dispatch overhead. Symbolic dims count as `batch` (default 1).
 */
import type { Dim, Node, ValueType } from '../ir/graph.js';

/** MAC-equivalents charged per node for dispatch / allocation. */
export const NODE_OVERHEAD = 256;

function prod(shape: readonly Dim[] | undefined, batch: number, from = 0, to?: number): number {
  if (!shape) return 1;
  let p = 1;
  for (let i = from; i < (to ?? shape.length); i++) {
    const d = shape[i]!;
    p *= typeof d === 'number' ? d : batch;
  }
  return p;
}

function num(a: unknown, dflt: number): number {
  return typeof a === 'number' ? a : dflt;
}

/** Multiply-accumulates (or element ops) one execution of `node` performs. */
export function nodeMacs(node: Node, typeOf: (name: string) => ValueType | undefined, batch = 1): number {
  const t = (i: number) => (node.inputs[i] ? typeOf(node.inputs[i]!) : undefined);
  const out = node.outputs[0] ? typeOf(node.outputs[0]) : undefined;
  const outSize = node.outputs.reduce((s, o) => s + (o ? prod(typeOf(o)?.shape, batch) : 0), 0);
  switch (node.op) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv': {
      const w = t(node.op === 'QLinearConv' ? 3 : 1)?.shape;
      if (!w || !out?.shape) break;
      // out [N, M, spatial…]; W [M, C/g, k…] (or OHWI; 1HWO, the weight_layout of TFLite depthwise, has M last)
      return prod(out.shape, batch) * prod(w, batch, 1, node.attrs.weight_layout === '1HWO' ? w.length - 1 : undefined);
    }
    case 'ConvTranspose': {
      const x = t(0)?.shape;
      const w = t(1)?.shape;
      if (!x || !w) break;
      // X [N, C, in…]; W [C, M/g, k…]: every input pixel scatters into M/g·∏k outputs (OHWI W is (M, k…, C/g))
      return prod(x, batch) * (node.attrs.weight_layout === 'OHWI' ? prod(w, batch, 0, w.length - 1) / Number(node.attrs.group ?? 1) : prod(w, batch, 1));
    }
    case 'Gemm': {
      const a = t(0)?.shape;
      if (!a || a.length !== 2 || !out?.shape) break;
      const k = num(node.attrs.transA, 0) ? a[0]! : a[1]!;
      return prod(out.shape, batch) * (typeof k === 'number' ? k : batch);
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const a = t(0)?.shape;
      if (!a || !out?.shape) break;
      const k = a[a.length - 1]!;
      return prod(out.shape, batch) * (typeof k === 'number' ? k : batch);
    }
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const k = node.attrs.kernel_shape;
      return outSize * (Array.isArray(k) ? (k as number[]).reduce((a, b) => a * b, 1) : 1);
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return prod(t(0)?.shape, batch);
    case 'LSTM':
    case 'GRU':
    case 'RNN': {
      const x = t(0)?.shape; // [seq, batch, input]
      const w = t(1)?.shape; // [dirs, gates·hidden, input]
      const r = t(2)?.shape; // [dirs, gates·hidden, hidden]
      if (!x || !w || !r) break;
      return prod(x, batch, 0, 2) * prod(w, batch, 0, 2) * (prod(w, batch, 2) + prod(r, batch, 2));
    }
    default:
      break;
  }
  return Math.max(outSize, 1);
}
