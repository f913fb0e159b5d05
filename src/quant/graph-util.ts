/** Small IR helpers for the quantization rewrites. */
import type { Graph, Node } from '../ir/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { floats } from '../ops/util.js';

/** Allocates value / node names not used anywhere in the graph. */
export class Names {
  private used = new Set<string>();
  constructor(g: Graph) {
    for (const i of g.inputs) this.used.add(i.name);
    for (const o of g.outputs) this.used.add(o.name);
    for (const k of g.initializers.keys()) this.used.add(k);
    for (const n of g.nodes) {
      this.used.add(n.name);
      for (const x of [...n.inputs, ...n.outputs]) if (x) this.used.add(x);
    }
  }
  take(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

/** value name -> nodes consuming it */
export function consumersOf(g: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.nodes)
    for (const x of n.inputs) {
      if (!x) continue;
      const a = m.get(x);
      if (a) {
        if (!a.includes(n)) a.push(n);
      } else m.set(x, [n]);
    }
  return m;
}

/** value name -> producing node */
export function producersOf(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

/** Float values of a float32/float16/float64 initializer as float64 numbers. */
export function floatValues(t: Tensor): Float64Array {
  return Float64Array.from(floats(t));
}

export const f32 = (dims: readonly number[], v: ArrayLike<number>): Tensor => new Tensor('float32', Float32Array.from(v), dims);
export const scalarF32 = (v: number): Tensor => new Tensor('float32', Float32Array.of(v), []);

export function mkNode(name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}, domain = ''): Node {
  return { name, op, domain, inputs, outputs, attrs };
}

/** Product of dims. */
export const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);
