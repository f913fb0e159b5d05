import type { Graph, Node } from '../graph.js';
import { Tensor } from '../../tensor/tensor.js';

/**
 * Recognise HardSwish written out elementwise and replace it with the one HardSwish node (plan time, wasm backend),
 * which the plan then folds into the producing kernel's epilogue:
 *
 *     y = Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)          (paddle2onnx, and PyTorch before opset 14)
 *     y = Mul(x, HardSigmoid(x, alpha = 1/6, beta = 0.5))  (PyTorch / tf2onnx)
 *
 * ONNX HardSwish: "y = x * max(0, min(1, alpha * x + beta)), where alpha = 1/6 and beta = 0.5" — the same function;
 * results agree to float rounding (a few ulps). Only float32 constants (initializers or Constant nodes, Clip's bounds
 * also through a CastLike) match, the
 * intermediate values must have no other reader and not be graph outputs. Returns the graph unchanged when nothing
 * matches.
 */
export function fuseHardSwish(graph: Graph): Graph {
  const uses = new Map<string, Node[]>();
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) {
    for (const x of n.inputs) if (x) (uses.get(x) ?? uses.set(x, []).get(x)!).push(n);
    for (const o of n.outputs) if (o) producer.set(o, n);
  }
  const outs = new Set(graph.outputs.map((o) => o.name));
  const constNodes = new Map<string, Tensor>();
  for (const n of graph.nodes) if (n.op === 'Constant' && n.attrs.value instanceof Tensor && n.outputs[0]) constNodes.set(n.outputs[0], n.attrs.value);
  const scalar = (name: string | undefined): number | undefined => {
    let t = name ? (graph.initializers.get(name) ?? constNodes.get(name)) : undefined;
    // paddle2onnx casts Clip's bounds to the input's type: CastLike(c, x). Every match below also needs a float32
    // constant on x's own path (Add(x, 3), Div(·, 6)), so x is float32 and the cast leaves c as it is
    const p = name && !t ? producer.get(name) : undefined;
    if (p && p.op === 'CastLike' && p.domain === '') t = graph.initializers.get(p.inputs[0]!) ?? constNodes.get(p.inputs[0]!);
    return t && t.type === 'float32' && t.size === 1 ? (t.data as Float32Array)[0] : undefined;
  };
  const only = (v: string, reader: Node): boolean => !outs.has(v) && uses.get(v)?.length === 1 && uses.get(v)![0] === reader;
  const other = (n: Node, v: string): string | undefined => (n.inputs.length === 2 && n.inputs.filter((i) => i === v).length === 1 ? n.inputs.find((i) => i !== v) : undefined);
  const single = (v: string): Node | undefined => (uses.get(v)?.length === 1 ? uses.get(v)![0] : undefined);
  const plain = (n: Node | undefined, op: string): boolean => !!n && n.op === op && n.domain === '' && n.outputs.length === 1;
  const rewrites: { x: string; y: string; drop: Node[]; likes: Node[] }[] = [];
  const taken = new Set<Node>();
  for (const n of graph.nodes) {
    if (taken.has(n)) continue;
    // Add(x, 3) → Clip(·, 0, 6) → Mul(x, ·) → Div(·, 6)
    if (plain(n, 'Add')) {
      const three = n.inputs.find((i) => scalar(i) === 3);
      const x = three !== undefined ? other(n, three) : undefined;
      const a = n.outputs[0]!;
      const clip = (uses.get(a) ?? []).find((u) => u.op === 'Clip');
      // besides the Clip, only CastLikes may read Add(x, 3), for its type (paddle2onnx's CastLike(bound, x + 3)); that
      // type is float32 (the 3 is), so they become CastLike(bound, bound)
      const likes = (uses.get(a) ?? []).filter((u) => u !== clip);
      if (x === undefined || !clip || !plain(clip, 'Clip') || clip.inputs[0] !== a || outs.has(a) || uses.get(a)!.filter((u) => u === clip).length !== 1) continue;
      const f32const = (v: string | undefined) => (v ? (graph.initializers.get(v) ?? constNodes.get(v))?.type === 'float32' : false);
      if (likes.some((u) => u.op !== 'CastLike' || u.inputs[1] !== a || !f32const(u.inputs[0]))) continue;
      if (scalar(clip.inputs[1]) !== 0 || scalar(clip.inputs[2]) !== 6) continue;
      const c = clip.outputs[0]!;
      const mul = single(c);
      if (!mul || !plain(mul, 'Mul') || other(mul, c) !== x || !only(c, mul)) continue;
      const mo = mul.outputs[0]!;
      const div = single(mo);
      if (!div || !plain(div, 'Div') || div.inputs[0] !== mo || scalar(div.inputs[1]) !== 6 || !only(mo, div)) continue;
      rewrites.push({ x, y: div.outputs[0]!, drop: [n, clip, mul, div], likes });
      [n, clip, mul, div].forEach((d) => taken.add(d));
    } else if (plain(n, 'HardSigmoid')) {
      // Mul(x, HardSigmoid(x, 1/6, 0.5)); ONNX float attributes are 32-bit
      const alpha = typeof n.attrs.alpha === 'number' ? n.attrs.alpha : 0.2;
      const beta = typeof n.attrs.beta === 'number' ? n.attrs.beta : 0.5;
      if (Math.fround(alpha) !== Math.fround(1 / 6) || beta !== 0.5) continue;
      const x = n.inputs[0]!;
      const h = n.outputs[0]!;
      const mul = single(h);
      if (!mul || !plain(mul, 'Mul') || other(mul, h) !== x || !only(h, mul)) continue;
      rewrites.push({ x, y: mul.outputs[0]!, drop: [n, mul], likes: [] });
      [n, mul].forEach((d) => taken.add(d));
    }
  }
  if (!rewrites.length) return graph;
  const g = graph.clone();
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  const drop = new Set<number>();
  for (const r of rewrites) {
    const last = index.get(r.drop[r.drop.length - 1]!)!;
    r.drop.forEach((d) => drop.add(index.get(d)!));
    drop.delete(last);
    const n = g.nodes[last]!;
    g.nodes[last] = { name: `${n.name || r.y}_hardswish`, op: 'HardSwish', domain: '', inputs: [r.x], outputs: [r.y], attrs: {} };
    // CastLike(c, x + 3) → CastLike(c, c): the same float32 type, and now a constant the plan folds (x keeps its
    // single reader, so the HardSwish can fold into x's producer)
    for (const l of r.likes) {
      const cl = g.nodes[index.get(l)!]!;
      cl.inputs[1] = cl.inputs[0]!;
    }
  }
  g.nodes = g.nodes.filter((_, i) => !drop.has(i));
  return g;
}
