import type { Dim, Graph, Node } from '../ir/graph.js';
import { Tensor } from '../tensor/tensor.js';
import type { Value } from '../tensor/sequence.js';
import { Executor, type ExecutorOptions } from './executor.js';

/** How many plans per concrete input shape a session keeps (least recently used dropped first). */
export const SPECIALIZATIONS = 4;

/**
 * `graph` with the given inputs' dims fixed (a clone; tensors shared), so shape inference makes every shape static;
 * and with the `values` inputs read as those constants (configInputs): every node reading one reads an initializer
 * holding the fed value instead, so canonicalize folds the If conditions it decides and inlines the taken branch.
 * The input itself stays declared (and fed), unread.
 */
export function specializeInputs(graph: Graph, dims: ReadonlyMap<string, readonly Dim[]>, values?: ReadonlyMap<string, Tensor>): Graph {
  const g = graph.clone();
  for (const i of g.inputs) {
    const d = dims.get(i.name);
    if (d && !i.type.sequence) i.type = { ...i.type, shape: [...d] };
  }
  for (const [name, t] of values ?? []) {
    let c = `${name}::fed`;
    while (g.initializers.has(c) || g.nodes.some((n) => n.outputs.includes(c))) c += '_';
    g.initializers.set(c, t);
    for (const n of g.nodes) n.inputs = n.inputs.map((x) => (x === name ? c : x));
  }
  return g;
}

const CONFIG_DTYPES = new Set(['int64', 'int32', 'bool']);
/** Distinct values a config input takes before plans stop specializing on it (a counter, not a setting). */
export const CONFIG_VALUES = 4;

/**
 * Graph inputs that are settings rather than data: one integer or bool element, read (through any nodes) by the
 * condition of an If — silero VAD's `sr` picks the 16 kHz or the 8 kHz branch on every run. A plan made for one
 * value of each (specializations) has the condition folded and the taken branch inlined: no body plan to run per
 * call, and the whole graph can become a static plan.
 */
export function configInputs(graph: Graph): string[] {
  const conds = new Set(graph.nodes.filter((n) => n.op === 'If' && (n.domain === '' || n.domain === 'ai.onnx')).map((n) => n.inputs[0]!));
  if (!conds.size) return [];
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const x of n.inputs) if (x) (readers.get(x) ?? readers.set(x, []).get(x)!).push(n);
  const reachesCond = (start: string): boolean => {
    const seen = new Set<string>([start]);
    const todo = [start];
    while (todo.length) {
      const v = todo.pop()!;
      if (conds.has(v)) return true;
      for (const n of readers.get(v) ?? []) for (const o of n.outputs) if (o && !seen.has(o) && seen.add(o)) todo.push(o);
    }
    return false;
  };
  return graph.inputs
    .filter((i) => !i.type.sequence && CONFIG_DTYPES.has(i.type.dtype) && i.type.shape?.every((d) => d === 1) && reachesCond(i.name))
    .map((i) => i.name);
}

/** Plans for the concrete input shapes a session sees, made on first use and cached (see specializations). */
export interface Specializations {
  /** the plan for these (already checked) feeds' shapes; with `keep`, exactly the dims it names stay symbolic */
  get(feeds: Record<string, Value>, keep?: ReadonlySet<string>): Executor;
  readonly size: number;
  /** dim names found varying one at a time (a growing KV cache's `past`): plans keep them symbolic */
  readonly varying: ReadonlySet<string>;
}

/** How many distinct values a named dim takes, all other dims equal, before plans keep it symbolic. */
export const VARYING_AFTER = 3;

/**
 * Symbolic input dims (PP-OCR's `[N,3,H,W]`): instead of one plan whose kernels must handle any size (and decline
 * where a dim must be known), each concrete set of input shapes gets its own Executor of the graph with those dims
 * fixed — constant folding then resolves Shape arithmetic, Resize sizes etc. — cached in a small LRU. Each plan packs
 * its own weights (no sharing between plans), so kernel memory is bounded by `capacity` × the packed weights; an
 * evicted plan is disposed at once. `live` is the session's list of executors (freed together on release).
 *
 * A dim that changes on every run — a decoder's `past` growing by one per token — would make a plan per run. When
 * one named dim has taken VARYING_AFTER distinct values with every other dim the same, later plans keep that name
 * symbolic (one plan serves every cache length; the other dims, seq = 1 and the batch, still fold). Callers that
 * know better (generate.ts) pass `keep`: exactly those dims stay symbolic and nothing is tracked.
 */
export function specializations(graph: Graph, opts: ExecutorOptions, live: Executor[], capacity = SPECIALIZATIONS, onEvict?: (e: Executor) => void): Specializations {
  const cache = new Map<string, Executor>();
  const symbolic = graph.inputs.filter((i) => !i.type.sequence && i.type.shape?.some((d) => typeof d !== 'number'));
  // config inputs (configInputs) and the distinct values each took; past CONFIG_VALUES it is data, not a setting
  const config = new Map(configInputs(graph).map((n) => [n, new Set<string>()]));
  const varying = new Set<string>();
  /** per dim name: the other dims' key when it last changed alone, and the distinct values seen with that key */
  const seen = new Map<string, { rest: string; values: Set<number> }>();
  let last: Map<string, number> | undefined;
  const named = (d: Dim | undefined): d is string => typeof d === 'string' && d !== '' && d !== '?';
  return {
    get size() {
      return cache.size;
    },
    varying,
    get(feeds, keep) {
      // concrete values of the named dims (checkFeeds made them consistent across inputs)
      const now = new Map<string, number>();
      for (const i of symbolic) (feeds[i.name] as Tensor).dims.forEach((v, k) => named(i.type.shape![k]) && now.set(i.type.shape![k] as string, v));
      if (keep) {
        // the caller names the symbolic dims itself: no tracking, no automatic ones
      } else if (last) {
        const changed = [...now].filter(([n, v]) => last!.get(n) !== v).map(([n]) => n);
        if (changed.length === 1 && !varying.has(changed[0]!)) {
          const n = changed[0]!;
          const rest = [...now].filter(([m]) => m !== n).join(';');
          const s = seen.get(n);
          const entry = s && s.rest === rest ? s : { rest, values: new Set([last.get(n)!]) };
          entry.values.add(now.get(n)!);
          seen.set(n, entry);
          if (entry.values.size >= VARYING_AFTER) varying.add(n);
        }
      }
      if (!keep) last = now;
      const free = (n: Dim | undefined) => named(n) && (keep ? keep.has(n) : varying.has(n));
      let key = '';
      for (const i of symbolic) key += `${(feeds[i.name] as Tensor).dims.map((v, k) => (free(i.type.shape![k]) ? i.type.shape![k] : v)).join(',')};`;
      const values = new Map<string, Tensor>();
      for (const [name, seenValues] of config) {
        const t = feeds[name];
        if (!(t instanceof Tensor) || t.size !== 1) continue;
        const v = String(t.data[0]);
        if (seenValues.size >= CONFIG_VALUES && !seenValues.has(v)) continue;
        seenValues.add(v);
        values.set(name, t);
        key += `${name}=${v};`;
      }
      let e = cache.get(key);
      if (e) {
        cache.delete(key); // most recently used last
        cache.set(key, e);
        return e;
      }
      const dims = new Map(symbolic.map((i) => [i.name, (feeds[i.name] as Tensor).dims.map((v, k) => (free(i.type.shape![k]) ? i.type.shape![k]! : v))] as const));
      // the plan keeps its own copies of the fed config values (made only here, on a miss, not per run)
      const own = new Map([...values].map(([n, t]) => [n, new Tensor(t.type, (t.data as Int32Array).slice(), [...t.dims])] as const));
      e = new Executor(specializeInputs(graph, dims, own), opts);
      cache.set(key, e);
      live.push(e);
      if (cache.size > capacity) {
        const [oldKey, old] = cache.entries().next().value as [string, Executor];
        cache.delete(oldKey);
        old.dispose();
        live.splice(live.indexOf(old), 1);
        onEvict?.(old);
      }
      return e;
    },
  };
}
