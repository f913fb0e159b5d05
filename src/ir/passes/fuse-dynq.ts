import type { Graph, Node } from '../graph.js';

/**
 * Plan-time rewrite (wasm backend) of the dynamic-quantization chain that `edgeq quantize --dynamic` and
 * onnxruntime's `quantize_dynamic` write for a MatMul / Gemm with constant weights,
 *
 *   (xq, xs, xz) = DynamicQuantizeLinear(x)
 *   acc = MatMulInteger(xq, W, xz [, wz]);  f = Cast(acc, to = float);  s = Mul(xs, ws);  y = Mul(f, s)
 *   [out = Add(y, bias)]                   (either operand order in the Muls and the Add)
 *
 * into one `com.microsoft DynamicQuantizeMatMul(x, W, ws [, wz [, bias]])` node, whose kernel quantizes x, runs the
 * int8 GEMM against W packed once and dequantizes (+ bias) in the GEMM's epilogue. The fused op is defined with the
 * same float32 roundings as the chain (src/ops/quant.ts), so no result changes. W, ws, wz and bias must be
 * initializers (bias a 1-D float32 vector); the chain's intermediate values must have no other reader and not be
 * graph outputs. The DynamicQuantizeLinear stays while some other node still reads one of its outputs.
 * Returns the graph unchanged when nothing matches.
 */
export function fuseDynamicQuantMatMul(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.op === 'MatMulInteger' && n.domain === '')) return graph;
  const producer = new Map<string, Node>();
  const uses = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const x of n.inputs) if (x) (uses.get(x) ?? uses.set(x, []).get(x)!).push(n);
  }
  const graphOut = new Set(graph.outputs.map((o) => o.name));
  const only = (v: string): Node | undefined => {
    const u = uses.get(v) ?? [];
    return u.length === 1 && !graphOut.has(v) ? u[0] : undefined;
  };
  const is = (n: Node | undefined, op: string): n is Node => !!n && n.op === op && n.domain === '';
  const other = (n: Node, x: string): string | undefined => (n.inputs[0] === x ? n.inputs[1] : n.inputs[1] === x ? n.inputs[0] : undefined);
  const init = (x: string | undefined) => (x ? graph.initializers.get(x) : undefined);

  const drop = new Set<Node>();
  const replace = new Map<Node, Node>();
  /** readers of each DynamicQuantizeLinear output that the rewrite removes */
  const removedReads = new Map<Node, number>();
  let k = 0;
  for (const mi of graph.nodes) {
    if (!is(mi, 'MatMulInteger')) continue;
    const [xq, w, xz, wz] = mi.inputs;
    const dql = xq ? producer.get(xq) : undefined;
    if (!is(dql, 'DynamicQuantizeLinear') || dql.outputs[0] !== xq || !xz || dql.outputs[2] !== xz) continue;
    if (!init(w) || (wz && !init(wz))) continue;
    const cast = only(mi.outputs[0]!);
    if (!is(cast, 'Cast') || cast.attrs.to !== 1) continue;
    const mul = only(cast.outputs[0]!);
    if (!is(mul, 'Mul')) continue;
    const s = other(mul, cast.outputs[0]!);
    const sm = s ? producer.get(s) : undefined;
    if (!s || !is(sm, 'Mul')) continue;
    const ws = other(sm, dql.outputs[1]!);
    const wst = init(ws);
    if (!ws || !wst || wst.type !== 'float32') continue;
    const chain = [mi, cast, mul];
    let y = mul.outputs[0]!;
    let bias: string | undefined;
    const add = only(y);
    if (is(add, 'Add')) {
      const b = other(add, y);
      const bt = init(b);
      const n = init(w)!.dims[init(w)!.dims.length - 1];
      if (b && bt && bt.type === 'float32' && bt.dims.length === 1 && bt.dims[0] === n) {
        bias = b;
        chain.push(add);
        y = add.outputs[0]!;
      }
    }
    if (chain.some((n) => drop.has(n) || replace.has(n))) continue;
    for (const n of chain.slice(0, -1)) drop.add(n);
    // the scale product goes when this chain was its only reader
    if (only(s) === mul) drop.add(sm);
    const inputs = [dql.inputs[0]!, w!, ws, wz ?? '', bias ?? ''];
    while (inputs[inputs.length - 1] === '') inputs.pop();
    replace.set(chain[chain.length - 1]!, { name: `${mi.name}/dynamic_quantize_matmul`, op: 'DynamicQuantizeMatMul', domain: 'com.microsoft', inputs, outputs: [y], attrs: {} });
    removedReads.set(dql, (removedReads.get(dql) ?? 0) + 1);
    k++;
  }
  if (!k) return graph;
  // a DynamicQuantizeLinear whose every output reader was fused away (xq and xz by the MatMulInteger, xs by the scale Mul)
  for (const [dql] of removedReads) {
    const readers = dql.outputs.flatMap((o) => (o ? (uses.get(o) ?? []) : []));
    if (dql.outputs.every((o) => !o || !graphOut.has(o)) && readers.every((r) => drop.has(r) || replace.has(r))) drop.add(dql);
  }
  const g = graph.clone();
  g.nodes = graph.nodes.flatMap((n, i) => (replace.has(n) ? [replace.get(n)!] : drop.has(n) ? [] : [g.nodes[i]!]));
  g.opsets['com.microsoft'] ??= 1;
  return g;
}
