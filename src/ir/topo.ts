import { ModelFormatError } from '../errors.js';
import type { Graph, Node } from './graph.js';

/**
 * Validate the graph's wiring and return its nodes in topological order (stable: ties keep file order).
 * Errors name the node and tensor: a value produced twice, an input nothing produces, a cycle,
 * a graph output nothing produces.
 */
export function topoSort(g: Graph): Node[] {
  const producer = new Map<string, number>();
  const available = new Set<string>([...g.initializers.keys(), ...g.inputs.map((i) => i.name)]);
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (o === '') continue;
      if (producer.has(o) || available.has(o)) throw new ModelFormatError(`value '${o}' is produced twice (node '${n.name}')`);
      producer.set(o, i);
    }
  });
  const indeg = new Array<number>(g.nodes.length).fill(0);
  const users = new Map<number, number[]>();
  g.nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      if (x === '' || available.has(x)) continue;
      const p = producer.get(x);
      if (p === undefined) throw new ModelFormatError(`node '${n.name}' (${n.op}) reads '${x}', which no node, input or initializer produces`);
      indeg[i]!++;
      const u = users.get(p);
      if (u) u.push(i);
      else users.set(p, [i]);
    }
  });
  // Kahn with a min-heap-free approach: process in index order using a simple queue scan.
  const order: Node[] = [];
  const ready: number[] = [];
  indeg.forEach((d, i) => d === 0 && ready.push(i));
  // keep file order among ready nodes: ready is a sorted stack consumed from the front
  let head = 0;
  while (head < ready.length) {
    const i = ready[head++]!;
    order.push(g.nodes[i]!);
    for (const u of users.get(i) ?? []) {
      if (--indeg[u]! === 0) ready.push(u);
    }
  }
  if (order.length !== g.nodes.length) {
    const stuck = g.nodes.find((_, i) => indeg[i]! > 0)!;
    throw new ModelFormatError(`graph has a cycle through node '${stuck.name}' (${stuck.op})`);
  }
  for (const o of g.outputs) {
    if (!available.has(o.name) && !producer.has(o.name)) throw new ModelFormatError(`graph output '${o.name}' is not produced by any node`);
  }
  return order;
}
