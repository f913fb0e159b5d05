import { Graph, type Node } from '../graph.js';
import { Tensor } from '../../tensor/tensor.js';

/** Domain of the KV cache ops (ops/kv-cache.ts); only this rewrite makes them. */
export const KV_DOMAIN = 'ai.edgeq.kv';
/** The rewritten graph's extra int64 [1] inputs: rows of the cache in use before the step, and after it. */
export const PAST_LEN = 'edgeq_kv_past_len';
export const TOTAL_LEN = 'edgeq_kv_total_len';
/** The symbolic capacity dim of the rewritten cache inputs. */
export const CAPACITY = 'edgeq_kv_capacity';

/** One cache input/output pair of a decoder and the fixed dims of its past input ([B, H, D]; the length is axis 2). */
export interface KvPair {
  past: string;
  present: string;
  /** batch, heads, head size */
  bhd: [number, number, number];
}

/**
 * A decoder step graph that keeps its KV cache in blocks with spare capacity instead of concatenating it every step.
 * The exported pattern (PyTorch / HF with explicit past_key_values) is, per cache pair,
 *
 *     present = Concat(past, new, axis=2)       past [B,H,P,D] graph input, present a graph output
 *     MatMul(q, Transpose(present, [0,1,3,2]))  and/or  MatMul(p, present)
 *     Shape(past), Shape(present)               (position ids, causal mask sizes)
 *
 * rewritten to
 *
 *     present = KvAppend(past, new, PAST_LEN)   past is now [B,H,CAPACITY,D]: the new rows are written at PAST_LEN
 *     KvMatMul(q, present, TOTAL_LEN, transB=1) / KvMatMul(p, present, TOTAL_LEN)
 *     Shape(past) → Concat([B,H], PAST_LEN, [D]); Shape(present) → Concat([B,H], TOTAL_LEN, [D])
 *
 * with `present` no longer a graph output (the caller's block is the cache). Any other use of past/present (a
 * consumer that is not one of these, a Shape with start/end, a Concat on another axis) leaves the graph alone:
 * returns the reason instead of a graph, and generate() keeps copying.
 */
export function kvAppendGraph(graph: Graph, pairs: readonly KvPair[]): Graph | string {
  const g = graph.clone();
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const x of new Set(n.inputs)) if (x) (consumers.get(x) ?? consumers.set(x, []).get(x)!).push(n);
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  if (g.inputs.some((i) => i.name === PAST_LEN || i.name === TOTAL_LEN)) return `the graph already has an input '${PAST_LEN}'`;
  const replace = new Map<Node, Node | undefined>();
  const dropOut = new Set<string>();
  const plainShape = (n: Node) => n.op === 'Shape' && n.domain === '' && n.attrs.start === undefined && n.attrs.end === undefined;
  const swapsLast = (n: Node) => n.op === 'Transpose' && n.domain === '' && JSON.stringify(n.attrs.perm) === '[0,1,3,2]';
  const isMatMulB = (n: Node, x: string) => n.op === 'MatMul' && n.domain === '' && n.inputs.length === 2 && n.inputs[1] === x && n.inputs[0] !== x;
  for (const { past, present, bhd } of pairs) {
    const cat = producer.get(present);
    if (!cat || cat.op !== 'Concat' || cat.domain !== '' || cat.inputs.length !== 2 || cat.inputs[0] !== past || cat.inputs[1] === past)
      return `'${present}' is not Concat('${past}', new rows)`;
    if (cat.attrs.axis !== 2 && cat.attrs.axis !== -2) return `'${cat.name}' concatenates on axis ${String(cat.attrs.axis)}, not the cache's length axis 2`;
    if (g.outputs.filter((o) => o.name === present).length !== 1) return `'${present}' is not a graph output`;
    const shapeOf = (n: Node, len: string): Node => {
      const bh = `${n.name}::kv_bh`;
      const d = `${n.name}::kv_d`;
      g.initializers.set(bh, new Tensor('int64', BigInt64Array.from(bhd.slice(0, 2), BigInt), [2]));
      g.initializers.set(d, new Tensor('int64', BigInt64Array.of(BigInt(bhd[2])), [1]));
      return { name: n.name, op: 'Concat', domain: '', inputs: [bh, len, d], outputs: [n.outputs[0]!], attrs: { axis: 0 } };
    };
    for (const c of consumers.get(past) ?? []) {
      if (c === cat) continue;
      if (!plainShape(c)) return `'${past}' is read by ${c.op} '${c.name}'`;
      replace.set(c, shapeOf(c, PAST_LEN));
    }
    replace.set(cat, { name: cat.name, op: 'KvAppend', domain: KV_DOMAIN, inputs: [past, cat.inputs[1]!, PAST_LEN], outputs: [present], attrs: {} });
    const kvMatMul = (m: Node, transB: number): Node => ({ name: m.name, op: 'KvMatMul', domain: KV_DOMAIN, inputs: [m.inputs[0]!, present, TOTAL_LEN], outputs: [...m.outputs], attrs: { transB } });
    for (const c of consumers.get(present) ?? []) {
      if (plainShape(c)) replace.set(c, shapeOf(c, TOTAL_LEN));
      else if (isMatMulB(c, present)) replace.set(c, kvMatMul(c, 0));
      else if (swapsLast(c) && !g.outputs.some((o) => o.name === c.outputs[0])) {
        const ms = consumers.get(c.outputs[0]!) ?? [];
        if (!ms.length || !ms.every((m) => isMatMulB(m, c.outputs[0]!))) return `'${c.outputs[0]}' (Kᵀ) is read by something other than MatMul`;
        replace.set(c, undefined);
        for (const m of ms) replace.set(m, kvMatMul(m, 1));
      } else return `'${present}' is read by ${c.op} '${c.name}'`;
    }
    const inp = g.inputs.find((i) => i.name === past);
    if (!inp) return `'${past}' is not a graph input`;
    inp.type = { dtype: 'float32', shape: [bhd[0], bhd[1], CAPACITY, bhd[2]] };
    dropOut.add(present);
    g.types.delete(present);
    g.types.delete(past);
  }
  for (const n of replace.keys()) for (const o of n.outputs) g.types.delete(o);
  g.nodes = g.nodes.flatMap((n) => (replace.has(n) ? (replace.get(n) ? [replace.get(n)!] : []) : [n]));
  g.outputs = g.outputs.filter((o) => !dropOut.has(o.name));
  for (const n of [PAST_LEN, TOTAL_LEN]) g.inputs.push({ name: n, type: { dtype: 'int64', shape: [1] } });
  g.opsets = { ...g.opsets, [KV_DOMAIN]: 1 };
  return g;
}
