import type { Node, ValueType } from '../graph.js';
import { Tensor } from '../../tensor/tensor.js';

/**
 * `Range(start, start + k, delta)` with a constant k (and delta) → `Add(start, R)` where R = Range(0, k, delta) is a
 * constant: the same values (ONNX Range: element i = start + i·delta, count max(ceil((limit − start) / delta), 0) =
 * max(ceil(k / delta), 0)), but its length is now known from types. Decoders exported with a KV cache compute their
 * position ids as `Range(past, past + seq)`; with `past` symbolic the hidden state's sequence dim was unknown and none
 * of the per-layer shape arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape) could fold in a plan for seq = 1.
 * `start`/`limit` are matched through int64→int64 (no-op) Casts and a commutative Add. Returns whether it rewrote.
 */
export function rangeOffsets(nodes: Node[], inits: Map<string, Tensor>, types: ReadonlyMap<string, ValueType>): boolean {
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const strip = stripNoopCasts(producer, types);
  const scalarInt = (x: string): number | undefined => {
    const t = inits.get(x);
    return t && t.size === 1 && (t.type === 'int64' || t.type === 'int32') ? t.num(0) : undefined;
  };
  let changed = false;
  nodes.forEach((n, idx) => {
    if (n.op !== 'Range' || n.domain !== '' || n.inputs.length !== 3 || !n.outputs[0]) return;
    const [s, l, d] = n.inputs as [string, string, string];
    const dtype = types.get(s)?.dtype;
    if ((dtype !== 'int64' && dtype !== 'int32') || types.get(s)?.shape?.length !== 0) return;
    const delta = scalarInt(d);
    if (delta === undefined || delta === 0) return;
    const add = producer.get(strip(l));
    if (!add || add.op !== 'Add' || add.domain !== '' || add.inputs.length !== 2) return;
    const base = strip(s);
    const j = add.inputs.findIndex((x, i) => scalarInt(x) !== undefined && strip(add.inputs[1 - i]!) === base);
    if (j < 0) return;
    const k = scalarInt(add.inputs[j]!)!;
    const count = Math.max(Math.ceil(k / delta), 0);
    if (count > 1 << 20) return;
    const name = `${n.outputs[0]}::offsets`;
    const vals = Array.from({ length: count }, (_, i) => i * delta);
    inits.set(name, dtype === 'int64' ? new Tensor('int64', BigInt64Array.from(vals, BigInt), [count]) : new Tensor('int32', Int32Array.from(vals), [count]));
    nodes[idx] = { name: n.name, op: 'Add', domain: '', inputs: [s, name], outputs: [n.outputs[0]], attrs: {} };
    changed = true;
  });
  return changed;
}

/** `x` with no-op Casts (to the dtype it already has, e.g. int64 → int64) peeled off, given the graph's producers. */
export function stripNoopCasts(producer: ReadonlyMap<string, Node>, types: ReadonlyMap<string, ValueType>): (x: string) => string {
  return (x) => {
    for (let p = producer.get(x); p && p.op === 'Cast' && p.domain === '' && types.get(p.inputs[0] ?? '')?.dtype === types.get(x)?.dtype; p = producer.get(x)) x = p.inputs[0]!;
    return x;
  };
}
