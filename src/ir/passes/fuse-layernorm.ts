import { Graph, type Node } from '../graph.js';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * Layer normalization written out op by op (PyTorch's export before opset 17, openwakeword's MLPs, PP-OCR rec):
 *
 *     m = ReduceMean(x, axes=[-1]);  d = Sub(x, m);  v = ReduceMean(Pow(d, 2), axes=[-1])
 *     y = Div(d, Sqrt(Add(v, eps)));  z = Add(Mul(y, gamma), beta)
 *
 * becomes one LayerNormalization(x, gamma, beta; axis = -1, epsilon = eps) — the op's definition ("Mean = ReduceMean
 * (X); D = Sub(X, Mean); DD = Mul(D, D); Var = ReduceMean(DD); VarEps = Add(Var, epsilon); StdDev = Sqrt(VarEps);
 * Normalized = Div(D, StdDev); Y = Add(Mul(Normalized, Scale), B)") read backwards, so one node runs instead of nine
 * (of which four had no kernel). Only rewrites when every intermediate has no other reader and is not a graph
 * output, the reductions are over the last axis only with keepdims, eps is a constant scalar and gamma (and beta,
 * if present) are constant float32 vectors. Returns the graph unchanged when nothing matches.
 */
export function fuseLayerNorms(graph: Graph): Graph {
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const x of n.inputs) if (x) (readers.get(x) ?? readers.set(x, []).get(x)!).push(n);
  const outs = new Set(graph.outputs.map((o) => o.name));
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const init = (x: string | undefined): Tensor | undefined => (x ? graph.initializers.get(x) : undefined);
  const scalar = (x: string | undefined): number | undefined => {
    const t = init(x);
    return t && t.type === 'float32' && t.size === 1 ? (t.data as Float32Array)[0] : undefined;
  };
  /** the single reader of value `x` with op `op` (and x not otherwise read or fetched) */
  const only = (x: string, op: string): Node | undefined => {
    const r = readers.get(x);
    return r && r.length === 1 && r[0]!.op === op && r[0]!.domain === '' && !outs.has(x) ? r[0] : undefined;
  };
  const lastAxisMean = (n: Node | undefined): boolean => {
    if (!n || n.op !== 'ReduceMean' || n.domain !== '' || (n.attrs.keepdims ?? 1) !== 1) return false;
    const axes = n.inputs[1] ? init(n.inputs[1]) : undefined;
    const list = axes ? Array.from(axes.data as BigInt64Array, Number) : (n.attrs.axes as number[] | undefined);
    return !!list && list.length === 1 && list[0] === -1;
  };
  const vec = (x: string | undefined): boolean => {
    const t = init(x);
    return !!t && t.type === 'float32' && t.dims.length === 1;
  };

  const rewrites: { remove: Set<Node>; ln: Node; before: Node }[] = [];
  const used = new Set<Node>();
  for (const mean of graph.nodes) {
    if (!lastAxisMean(mean) || used.has(mean)) continue;
    const x = mean.inputs[0]!;
    const sub = only(mean.outputs[0]!, 'Sub');
    if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0]) continue;
    const d = sub.outputs[0]!;
    const dr = readers.get(d) ?? [];
    const pow = dr.find((n) => n.op === 'Pow');
    const div = dr.find((n) => n.op === 'Div');
    if (dr.length !== 2 || !pow || !div || outs.has(d) || pow.inputs[0] !== d || scalar(pow.inputs[1]) !== 2 || div.inputs[0] !== d) continue;
    const mean2 = only(pow.outputs[0]!, 'ReduceMean');
    if (!mean2 || !lastAxisMean(mean2)) continue;
    const add = only(mean2.outputs[0]!, 'Add');
    const eps = add && scalar(add.inputs[0] === mean2.outputs[0] ? add.inputs[1] : add.inputs[0]);
    if (!add || eps === undefined) continue;
    const sqrt = only(add.outputs[0]!, 'Sqrt');
    if (!sqrt || producer.get(div.inputs[1]!) !== sqrt || only(sqrt.outputs[0]!, 'Div') !== div) continue;
    const mul = only(div.outputs[0]!, 'Mul');
    const gamma = mul && (mul.inputs[0] === div.outputs[0] ? mul.inputs[1] : mul.inputs[0]);
    if (!mul || !vec(gamma)) continue;
    const bias = only(mul.outputs[0]!, 'Add');
    const beta = bias && (bias.inputs[0] === mul.outputs[0] ? bias.inputs[1] : bias.inputs[0]);
    const last = bias && vec(beta) && init(beta)!.size === init(gamma)!.size ? bias : mul;
    const chain = [mean, sub, pow, mean2, add, sqrt, div, mul, ...(last === bias ? [bias] : [])];
    if (chain.some((n) => used.has(n))) continue;
    chain.forEach((n) => used.add(n));
    const ln: Node = {
      name: `${mean.name}/LayerNormalization`,
      op: 'LayerNormalization',
      domain: '',
      inputs: [x, gamma!, ...(last === bias ? [beta!] : [])],
      outputs: [last.outputs[0]!],
      attrs: { axis: -1, epsilon: eps },
    };
    rewrites.push({ remove: new Set(chain), ln, before: last });
  }
  if (!rewrites.length) return graph;
  const g = graph.clone();
  const byLast = new Map(rewrites.map((r) => [r.before, r]));
  const dead = new Set(rewrites.flatMap((r) => [...r.remove]));
  // clone() copied the nodes: map back by position
  g.nodes = [];
  graph.nodes.forEach((n) => {
    const r = byLast.get(n);
    if (r) g.nodes.push(r.ln);
    else if (!dead.has(n)) g.nodes.push({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } });
  });
  return g;
}
