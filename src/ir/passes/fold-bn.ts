import { Graph, type Node } from '../graph.js';
import { freshNames } from './names.js';
import { Tensor } from '../../tensor/tensor.js';

/**
 * Fold an inference-mode BatchNormalization into the Conv that feeds it (plan time, wasm backend):
 *
 *     y = Conv(x, W, B);  z = BN(y, scale, beta, mean, var)   →   z = Conv(x, W', B')
 *     s = scale / √(var + ε),  W'[m, …] = W[m, …] · s[m],  B'[m] = (B[m] − mean[m]) · s[m] + beta[m]
 *
 * ONNX BatchNormalization (training_mode = 0): "Y = (X - input_mean) / sqrt(input_var + epsilon) * scale + B" per
 * channel (axis 1), which is affine in the conv's output channel, so it moves into the weights exactly up to float
 * rounding (s and B' are computed in double and rounded once). Only rewrites: float32 NCHW Conv with constant W (and
 * B), its output used only by the BN and not a graph output; BN with constant float32 [M] parameters, one output.
 * Returns the graph unchanged when nothing matches.
 */
export function foldBatchNorms(graph: Graph): Graph {
  const uses = new Map<string, number>();
  for (const n of graph.nodes) for (const x of n.inputs) if (x) uses.set(x, (uses.get(x) ?? 0) + 1);
  for (const o of graph.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const f32 = (name: string | undefined, len?: number): Float32Array | undefined => {
    const t = name ? graph.initializers.get(name) : undefined;
    return t && t.type === 'float32' && (len === undefined || (t.dims.length === 1 && t.size === len)) ? (t.data as Float32Array) : undefined;
  };
  const pairs: [Node, Node][] = [];
  for (const bn of graph.nodes) {
    if (bn.op !== 'BatchNormalization' || bn.domain !== '' || (bn.attrs.training_mode ?? 0) !== 0) continue;
    if (bn.outputs.filter((o) => o).length !== 1) continue;
    const conv = producer.get(bn.inputs[0] ?? '');
    if (!conv || conv.op !== 'Conv' || conv.domain !== '' || uses.get(conv.outputs[0]!) !== 1) continue;
    if ((conv.attrs.data_layout ?? 'NCHW') !== 'NCHW' || (conv.attrs.weight_layout ?? 'OIHW') !== 'OIHW') continue;
    const w = graph.initializers.get(conv.inputs[1] ?? '');
    if (!w || w.type !== 'float32' || w.dims.length < 3) continue;
    const m = w.dims[0]!;
    if (conv.inputs[2] && !f32(conv.inputs[2], m)) continue;
    if ([1, 2, 3, 4].some((i) => !f32(bn.inputs[i], m))) continue;
    pairs.push([conv, bn]);
  }
  if (!pairs.length) return graph;
  const g = graph.clone();
  const fresh = freshNames(g);
  const dropped = new Set<string>();
  for (const [conv0, bn0] of pairs) {
    const conv = g.nodes[graph.nodes.indexOf(conv0)]!;
    const bn = g.nodes[graph.nodes.indexOf(bn0)]!;
    const w = g.initializers.get(conv.inputs[1]!)!;
    const m = w.dims[0]!;
    const per = w.size / m;
    const wd = w.data as Float32Array;
    const b = conv.inputs[2] ? f32(conv.inputs[2], m)! : new Float32Array(m);
    const [scale, beta, mean, vr] = [1, 2, 3, 4].map((i) => f32(bn.inputs[i], m)!) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps: number = typeof bn.attrs.epsilon === 'number' ? bn.attrs.epsilon : 1e-5;
    const w2 = new Float32Array(w.size);
    const b2 = new Float32Array(m);
    for (let o = 0; o < m; o++) {
      const s = scale[o]! / Math.sqrt(vr[o]! + eps);
      for (let i = o * per; i < (o + 1) * per; i++) w2[i] = wd[i]! * s;
      b2[o] = (b[o]! - mean[o]!) * s + beta[o]!;
    }
    const wName = fresh(`${conv.inputs[1]}_bnfolded`);
    const bName = fresh(`${conv.name || 'conv'}_bnfolded_bias`);
    g.initializers.set(wName, new Tensor('float32', w2, [...w.dims]));
    g.initializers.set(bName, new Tensor('float32', b2, [m]));
    dropped.add(conv.inputs[1]!);
    if (conv.inputs[2]) dropped.add(conv.inputs[2]);
    conv.inputs = [conv.inputs[0]!, wName, bName];
    conv.outputs = [bn.outputs.find((o) => o)!];
  }
  const bns = new Set(pairs.map(([, bn]) => g.nodes[graph.nodes.indexOf(bn)]!));
  g.nodes = g.nodes.filter((n) => !bns.has(n));
  // the original weights are garbage now unless something else reads them
  const still = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const d of dropped) if (!still.has(d) && !g.outputs.some((o) => o.name === d)) g.initializers.delete(d);
  return g;
}
