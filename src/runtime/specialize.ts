import type { Graph } from '../ir/graph.js';
import { Tensor } from '../tensor/tensor.js';
import type { Value } from '../tensor/sequence.js';
import { Executor, type ExecutorOptions } from './executor.js';

/** How many plans per concrete input shape a session keeps (least recently used dropped first). */
export const SPECIALIZATIONS = 4;

/** `graph` with the given inputs' dims fixed (a clone; tensors shared), so shape inference makes every shape static. */
export function specializeInputs(graph: Graph, dims: ReadonlyMap<string, readonly number[]>): Graph {
  const g = graph.clone();
  for (const i of g.inputs) {
    const d = dims.get(i.name);
    if (d && !i.type.sequence) i.type = { ...i.type, shape: [...d] };
  }
  return g;
}

/** Plans for the concrete input shapes a session sees, made on first use and cached (see specializations). */
export interface Specializations {
  /** the plan for these (already checked) feeds' shapes */
  get(feeds: Record<string, Value>): Executor;
  readonly size: number;
}

/**
 * Symbolic input dims (PP-OCR's `[N,3,H,W]`): instead of one plan whose kernels must handle any size (and decline
 * where a dim must be known), each concrete set of input shapes gets its own Executor of the graph with those dims
 * fixed — constant folding then resolves Shape arithmetic, Resize sizes etc. — cached in a small LRU. Each plan packs
 * its own weights (no sharing between plans), so kernel memory is bounded by `capacity` × the packed weights; an
 * evicted plan is disposed at once. `live` is the session's list of executors (freed together on release).
 */
export function specializations(graph: Graph, opts: ExecutorOptions, live: Executor[], capacity = SPECIALIZATIONS, onEvict?: (e: Executor) => void): Specializations {
  const cache = new Map<string, Executor>();
  const symbolic = graph.inputs.filter((i) => !i.type.sequence && i.type.shape?.some((d) => typeof d !== 'number'));
  return {
    get size() {
      return cache.size;
    },
    get(feeds) {
      let key = '';
      for (const i of symbolic) key += `${(feeds[i.name] as Tensor).dims.join(',')};`;
      let e = cache.get(key);
      if (e) {
        cache.delete(key); // most recently used last
        cache.set(key, e);
        return e;
      }
      const dims = new Map(symbolic.map((i) => [i.name, [...(feeds[i.name] as Tensor).dims]] as const));
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
