import { ShapeError } from '../errors.js';
import type { Graph, Node } from '../ir/graph.js';
import { type BodyRunner, bindBody, freeVars, looseType, splitCaptured } from '../ir/subgraph.js';
import type { Tensor } from '../tensor/tensor.js';
import { TensorSequence, type Value } from '../tensor/sequence.js';

/** What the executor gives this module: an executor over a bound body (kept out to avoid an import cycle). */
export interface BodyExecutor {
  run(feeds: Record<string, Value>, fetch?: readonly string[]): Record<string, Value>;
  dispose(): void;
}

/**
 * Child executors of control-flow bodies (If/Loop/Scan/SequenceMap graph attributes), one per body and input-type
 * signature, built on first use and kept for the session: kernels run inside bodies as they do outside (weights the
 * body captures from the outer graph are constants of the child, so kernels pack them once).
 */
export class Bodies {
  private readonly cache = new Map<Graph, Map<string, BodyExecutor>>();

  constructor(
    private readonly make: (g: Graph) => BodyExecutor,
    /** the outer plan's constant value of a name, if it has one */
    private readonly constant: (name: string) => Tensor | undefined,
  ) {}

  /**
   * The runner handed to `node`'s op for one run. `detach` copies a value out of kernel memory (bodies run their own
   * kernels, which may grow the memory and detach views the outer run still holds).
   */
  runner(node: Node, inputs: readonly (Value | undefined)[], detach: (v: Value) => Value): BodyRunner {
    const copies = new Map<number, Value>();
    const input = (i: number): Value => {
      let v = copies.get(i);
      if (!v) {
        const x = inputs[i];
        if (!x) throw new ShapeError(`node '${node.name}' (${node.op}): captured value '${node.inputs[i]}' has no value`);
        copies.set(i, (v = detach(x)));
      }
      return v;
    };
    return {
      run: (g, formal) => {
        if (formal.length !== g.inputs.length) throw new ShapeError(`node '${node.name}' (${node.op}): body '${g.name}' takes ${g.inputs.length} inputs, given ${formal.length}`);
        const { captured } = splitCaptured(node);
        const free = freeVars(g).map((x) => {
          const i = captured.get(x);
          if (i === undefined) throw new ShapeError(`node '${node.name}' (${node.op}): body '${g.name}' reads '${x}', which the node does not capture`);
          return { name: x, i, value: this.constant(node.inputs[i]!) };
        });
        const sig = (v: Value) => (v instanceof TensorSequence ? `s${v.elemType}` : `${v.type}${v.dims.length}`);
        let key = formal.map(sig).join(',') + '|';
        for (const f of free) if (!f.value) key += sig(input(f.i)) + ',';
        let per = this.cache.get(g);
        if (!per) this.cache.set(g, (per = new Map()));
        let ex = per.get(key);
        if (!ex) {
          const byName = new Map(free.map((f) => [f.name, f]));
          const bound = bindBody(
            g,
            formal.map((v) => looseType(v, v instanceof TensorSequence)),
            (x) => {
              const f = byName.get(x)!;
              if (f.value) return { value: f.value };
              const v = input(f.i);
              return { type: looseType(v, v instanceof TensorSequence) };
            },
          );
          per.set(key, (ex = this.make(bound)));
        }
        const feeds: Record<string, Value> = {};
        g.inputs.forEach((io, k) => (feeds[io.name] = detach(formal[k]!)));
        for (const f of free) if (!f.value) feeds[f.name] = input(f.i);
        const out = ex.run(feeds, g.outputs.map((o) => o.name));
        return g.outputs.map((o) => out[o.name]!);
      },
    };
  }

  dispose(): void {
    for (const per of this.cache.values()) for (const ex of per.values()) ex.dispose();
    this.cache.clear();
  }
}
