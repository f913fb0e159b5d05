import { Graph, type Node, type ValueType } from '../graph.js';
import { Tensor } from '../../tensor/tensor.js';
import { stripNoopCasts } from './range-offset.js';

/**
 * Integer shape arithmetic that stays in a plan because one value is only known at run time — a KV decoder's cache
 * length in the generate() step plan (ir/passes/kv-append.ts turns `Shape(past)` into `Concat([B, H], past_len, [D])`):
 * PyTorch exports recompute `Shape → Gather → Sub → Add → Unsqueeze → Concat → ConstantOfShape` in every layer, and each
 * of those int64 nodes ran on the reference every step. Three rewrites, all exact on integers:
 *
 * 1. `Gather(Concat(p0, p1, …, axis 0), i)` with a constant index and parts of static length reads one part: a
 *    constant part's element becomes an initializer; a one-element run-time part is read directly (Reshape to the
 *    scalar for a 0-d index — ONNX Gather: output rank = q + r − 1, so a scalar index of a 1-D tensor is a scalar).
 * 2. `Add(Sub(x, c), c)` (either Add order) with the same constant scalar c is x: integer + and − wrap in two's
 *    complement, so (x − c) + c = x for every x, int32 or int64.
 * 3. Common subexpressions: nodes whose outputs are all integer or bool (shape values, masks) with the same op,
 *    attributes and inputs as an earlier node are dropped and their readers read the earlier node's outputs (every
 *    layer's copy of the chain collapses into one). Ops with random outputs are never merged.
 *
 * Graph outputs keep their nodes. Modifies `nodes` / `inits` in place; returns whether it rewrote anything.
 */
export function shapeArith(nodes: Node[], inits: Map<string, Tensor>, types: ReadonlyMap<string, ValueType>, graphOut: ReadonlySet<string>): boolean {
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const strip = stripNoopCasts(producer, types);
  const isInt = (x: string): boolean => {
    const d = types.get(x)?.dtype;
    return d === 'int64' || d === 'int32';
  };
  const is = (n: Node | undefined, op: string): n is Node => !!n && n.op === op && n.domain === '';
  const rename = new Map<string, string>();
  const drop = new Set<Node>();
  let changed = false;

  for (let idx = 0; idx < nodes.length; idx++) {
    const n = nodes[idx]!;
    const out = n.outputs[0];
    if (!out || graphOut.has(out)) continue;
    // 1. Gather of a Concat of 1-D integer parts at a constant index
    if (is(n, 'Gather') && n.inputs.length === 2 && (n.attrs.axis ?? 0) === 0 && isInt(n.inputs[0]!)) {
      const index = inits.get(n.inputs[1]!);
      const cat = producer.get(n.inputs[0]!);
      if (!index || index.size !== 1 || index.dims.length > 1 || !is(cat, 'Concat') || ((cat.attrs.axis as number | undefined) ?? 0) !== 0) continue;
      const lens = cat.inputs.map((x) => {
        const s = types.get(x)?.shape;
        return s && s.length === 1 && typeof s[0] === 'number' ? s[0] : -1;
      });
      if (lens.some((l) => l < 0)) continue;
      const total = lens.reduce((a, b) => a + b, 0);
      let at = index.num(0);
      if (at < 0) at += total;
      if (at < 0 || at >= total) continue; // out of range: the reference op reports it at run time
      let part = 0;
      while (at >= lens[part]!) at -= lens[part++]!;
      const src = cat.inputs[part]!;
      const c = inits.get(src);
      const dims = index.dims.length ? [1] : [];
      if (c) {
        inits.set(out, new Tensor(c.type, c.type === 'int64' ? BigInt64Array.of(c.data[at] as bigint) : Int32Array.of(c.num(at)), dims));
        drop.add(n);
      } else if (lens[part] === 1 && dims.length === 1) {
        rename.set(out, src);
        drop.add(n);
      } else if (lens[part] === 1 && (inits.get(SCALAR_SHAPE)?.size ?? 0) === 0) {
        const shape = SCALAR_SHAPE; // one name for every such Reshape, so their copies merge below
        if (!inits.has(shape)) inits.set(shape, new Tensor('int64', new BigInt64Array(0), [0]));
        nodes[idx] = { name: n.name, op: 'Reshape', domain: '', inputs: [src, shape], outputs: [out], attrs: {} };
      } else continue;
      changed = true;
      continue;
    }
    // 2. (x − c) + c
    if (is(n, 'Add') && n.inputs.length === 2 && isInt(out)) {
      for (let j = 0; j < 2; j++) {
        const sub = producer.get(strip(n.inputs[1 - j]!));
        const c = n.inputs[j]!;
        if (!is(sub, 'Sub') || sub.inputs[1] !== c || !inits.has(c) || inits.get(c)!.dims.length !== 0) continue;
        const x = sub.inputs[0]!;
        const tx = types.get(x);
        const to = types.get(out);
        if (!tx?.shape || !to?.shape || tx.dtype !== to.dtype || tx.shape.join() !== to.shape.join()) continue;
        rename.set(out, x);
        drop.add(n);
        changed = true;
        break;
      }
    }
  }
  if (rename.size) {
    const resolve = (x: string): string => {
      while (rename.has(x)) x = rename.get(x)!;
      return x;
    };
    for (const n of nodes) n.inputs = n.inputs.map((x) => (x ? resolve(x) : x));
  }
  if (drop.size) for (let i = nodes.length - 1; i >= 0; i--) if (drop.has(nodes[i]!)) nodes.splice(i, 1);

  // 3. common subexpressions among integer/bool nodes (nodes are in topological order)
  const seen = new Map<string, Node>();
  const merged = new Map<string, string>();
  const kept: Node[] = [];
  for (const n of nodes) {
    if (merged.size) n.inputs = n.inputs.map((x) => merged.get(x) ?? x);
    const key = cseKey(n, types, graphOut, inits);
    const prev = key === undefined ? undefined : seen.get(key);
    if (prev && prev.outputs.length === n.outputs.length) {
      n.outputs.forEach((o, k) => o && merged.set(o, prev.outputs[k]!));
      changed = true;
      continue;
    }
    if (key !== undefined) seen.set(key, n);
    kept.push(n);
  }
  if (kept.length !== nodes.length) nodes.splice(0, nodes.length, ...kept);
  return changed;
}

/** The empty shape initializer of the Reshapes to a scalar that rewrite 1 makes. */
const SCALAR_SHAPE = 'edgeq::scalar_shape';

const RANDOM = /^(Random|Multinomial|Bernoulli|Dropout)/;

/** The identity of a mergeable node (integer/bool outputs, no subgraphs, no randomness), or undefined. */
function cseKey(n: Node, types: ReadonlyMap<string, ValueType>, graphOut: ReadonlySet<string>, inits: ReadonlyMap<string, Tensor>): string | undefined {
  if (!n.outputs.length || RANDOM.test(n.op)) return undefined;
  for (const o of n.outputs) {
    if (!o || graphOut.has(o)) return undefined;
    const d = types.get(o)?.dtype;
    if (d !== 'int64' && d !== 'int32' && d !== 'bool') return undefined;
  }
  let attrs = '';
  for (const k of Object.keys(n.attrs).sort()) {
    const v = n.attrs[k];
    if (v instanceof Graph) return undefined;
    if (v instanceof Tensor) {
      if (v.size > 64) return undefined;
      attrs += `${k}=${tensorKey(v)};`;
    } else attrs += `${k}=${JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))};`;
  }
  // small constant inputs by value: each layer's copy of a shape constant is its own initializer
  const ins = n.inputs.map((x) => {
    const c = inits.get(x);
    return c && c.size <= 64 ? `=${tensorKey(c)}` : x;
  });
  return `${n.domain}|${n.op}|${attrs}|${ins.join('\u0000')}|${n.outputs.length}`;
}

function tensorKey(t: Tensor): string {
  return `${t.type}[${t.dims.join(',')}]${Array.from({ length: t.size }, (_, i) => String(t.data[i])).join(',')}`;
}
