import type { Graph } from '../graph.js';

/**
 * A generator of value / node names unused in `g` (initializers, inputs, node outputs) and by earlier calls:
 * `base`, else `base_1`, `base_2`, … — for passes that add values.
 */
export function freshNames(g: Graph, taken: Iterable<string> = []): (base: string) => string {
  const names = new Set<string>([...g.initializers.keys(), ...g.inputs.map((i) => i.name), ...g.nodes.flatMap((n) => n.outputs), ...taken]);
  return (base: string): string => {
    let n = base;
    for (let i = 1; names.has(n); i++) n = `${base}_${i}`;
    names.add(n);
    return n;
  };
}
