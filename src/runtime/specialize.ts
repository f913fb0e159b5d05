import type { Dim, Graph } from '../ir/graph.js';
import { Tensor } from '../tensor/tensor.js';
import type { Value } from '../tensor/sequence.js';
import { Executor, type ExecutorOptions } from './executor.js';

/** How many plans per concrete input shape a session keeps (least recently used dropped first). */
export const SPECIALIZATIONS = 4;

/** `graph` with the given inputs' dims fixed (a clone; tensors shared), so shape inference makes every shape static. */
export function specializeInputs(graph: Graph, dims: ReadonlyMap<string, readonly Dim[]>): Graph {
  const g = graph.clone();
  for (const i of g.inputs) {
    const d = dims.get(i.name);
    if (d && !i.type.sequence) i.type = { ...i.type, shape: [...d] };
  }
  return g;
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
      let e = cache.get(key);
      if (e) {
        cache.delete(key); // most recently used last
        cache.set(key, e);
        return e;
      }
      const dims = new Map(symbolic.map((i) => [i.name, (feeds[i.name] as Tensor).dims.map((v, k) => (free(i.type.shape![k]) ? i.type.shape![k]! : v))] as const));
      e = new Executor(specializeInputs(graph, dims), opts);
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
