import { ShapeError } from '../errors.js';
import type { Graph, Node, ValueType } from '../ir/graph.js';
import { type BodyRunner, bindBody, freeVars, looseType, splitCaptured } from '../ir/subgraph.js';
import { Tensor } from '../tensor/tensor.js';
import { TensorSequence, type Value } from '../tensor/sequence.js';

/** Plans per body for exact input shapes before the body gets one shape-agnostic plan. */
const MAX_EXACT_PLANS = 4;

/** What the executor gives this module: an executor over a bound body (kept out to avoid an import cycle). */
export interface BodyExecutor {
  run(feeds: Record<string, Value>, fetch?: readonly string[]): Record<string, Value>;
  dispose(): void;
}

/** A value a body reads from the enclosing graph (see Bodies.freeOf). */
interface Free {
  name: string;
  i: number;
  value: Tensor | undefined;
}

/**
 * Child executors of control-flow bodies (If/Loop/Scan/SequenceMap graph attributes), one per body and input-type
 * signature, built on first use and kept for the session: kernels run inside bodies as they do outside (weights the
 * body captures from the outer graph are constants of the child, so kernels pack them once).
 */
export class Bodies<E extends BodyExecutor = BodyExecutor> {
  private readonly cache = new Map<Graph, Map<string, E>>();
  private readonly frees = new Map<Node, Map<Graph, Free[]>>();
  /** per body: what passThrough found (null: not a pass-through body) */
  private readonly through = new Map<Graph, (number | Free)[] | null>();
  /** per body: its output names (the fetch list of every child run) */
  private readonly fetches = new Map<Graph, string[]>();

  constructor(
    private readonly make: (g: Graph) => E,
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
        const free = this.freeOf(node, g);
        // a body of Identity nodes only (PyTorch's `else: return x`): its outputs are values it was given, so no
        // executor runs (a child run costs tens of µs, the whole of a small model's If)
        const through = this.passThrough(g, free);
        if (through) return through.map((src) => (typeof src === 'number' ? detach(formal[src]!) : input(src.i)));
        // first bodies are planned for the exact input shapes (kernels get static shapes, as outside); a body
        // that keeps seeing new shapes (a Loop growing its state) gets one plan with every dim open
        const sig = (v: Value, exact: boolean) => (v instanceof TensorSequence ? `s${v.elemType}` : `${v.type}${exact ? `[${v.dims.join(',')}]` : v.dims.length}`);
        const keyOf = (exact: boolean) => {
          let k = formal.map((v) => sig(v, exact)).join(',') + '|';
          for (const f of free) if (!f.value) k += sig(input(f.i), exact) + ',';
          return k;
        };
        let per = this.cache.get(g);
        if (!per) this.cache.set(g, (per = new Map()));
        const exactKey = keyOf(true);
        let ex = per.get(exactKey);
        const exact = !ex && per.size < MAX_EXACT_PLANS;
        const key = ex ? exactKey : exact ? exactKey : keyOf(false);
        ex ??= per.get(key);
        if (!ex) {
          const typeOf = (v: Value) => (exact && v instanceof Tensor ? { dtype: v.type, shape: [...v.dims] } : looseType(v, v instanceof TensorSequence));
          per.set(key, (ex = this.build(g, free, formal.map(typeOf), (f) => typeOf(input(f.i)))));
        }
        const feeds: Record<string, Value> = {};
        g.inputs.forEach((io, k) => (feeds[io.name] = detach(formal[k]!)));
        for (const f of free) if (!f.value) feeds[f.name] = input(f.i);
        let fetch = this.fetches.get(g);
        if (!fetch) this.fetches.set(g, (fetch = g.outputs.map((o) => o.name)));
        const out = ex.run(feeds, fetch); // one array per body: a child's static plan answers its fetch check once
        return g.outputs.map((o) => out[o.name]!);
      },
    };
  }

  /**
   * The executor of body `g` of `node` (no formal inputs: an If branch) for captured values of these static types
   * (`typeOf(i)`: the type of node.inputs[i]) — the one runner() picks for values of those shapes, made now if absent,
   * so a static plan's branch and the general path share one set of packed weights. Undefined when a captured value
   * has no static tensor type.
   */
  branch(node: Node, g: Graph, typeOf: (i: number) => ValueType | undefined): E | undefined {
    if (g.inputs.length) return undefined;
    const free = this.freeOf(node, g);
    let key = '|';
    for (const f of free) {
      if (f.value) continue;
      const t = typeOf(f.i);
      if (!t || t.sequence || !t.shape?.every((d) => typeof d === 'number')) return undefined;
      key += `${t.dtype}[${t.shape.join(',')}],`; // as keyOf(true) in runner()
    }
    let per = this.cache.get(g);
    if (!per) this.cache.set(g, (per = new Map()));
    let ex = per.get(key);
    if (!ex) per.set(key, (ex = this.build(g, free, [], (f) => ({ dtype: typeOf(f.i)!.dtype, shape: [...typeOf(f.i)!.shape!] }))));
    return ex;
  }

  /** An executor of `g` with its formal inputs and its captured values (constants bound, the rest typed by `freeType`). */
  private build(g: Graph, free: readonly Free[], formal: ValueType[], freeType: (f: Free) => ValueType): E {
    const byName = new Map(free.map((f) => [f.name, f]));
    const bound = bindBody(g, formal, (x) => {
      const f = byName.get(x)!;
      return f.value ? { value: f.value } : { type: freeType(f) };
    });
    return this.make(bound);
  }

  /**
   * What body `g` of `node` reads from outside: name, index into node.inputs, and the outer constant if any. Fixed
   * for the plan (graphs are not edited after planning), so computed once per body instead of walking it per run.
   */
  private freeOf(node: Node, g: Graph): Free[] {
    let per = this.frees.get(node);
    if (!per) this.frees.set(node, (per = new Map()));
    let free = per.get(g);
    if (free) return free;
    const { captured } = splitCaptured(node);
    free = freeVars(g).map((x) => {
      const i = captured.get(x);
      if (i === undefined) throw new ShapeError(`node '${node.name}' (${node.op}): body '${g.name}' reads '${x}', which the node does not capture`);
      return { name: x, i, value: this.constant(node.inputs[i]!) };
    });
    per.set(g, free);
    return free;
  }

  /**
   * For a body whose nodes are all Identity: per output, the formal input index or the captured value it passes on
   * (outer constants excluded — those go through a child plan, which copies them); undefined for any other body.
   */
  private passThrough(g: Graph, free: readonly Free[]): (number | Free)[] | undefined {
    let r = this.through.get(g);
    if (r !== undefined) return r ?? undefined;
    r = null;
    if (g.nodes.every((n) => n.op === 'Identity' && (n.domain ?? '') === '' && n.inputs.length === 1 && n.outputs.length === 1)) {
      const src = new Map(g.nodes.map((n) => [n.outputs[0]!, n.inputs[0]!]));
      const resolve = (name: string): number | Free | undefined => {
        for (let hops = 0; hops <= g.nodes.length; hops++) {
          const k = g.inputs.findIndex((io) => io.name === name);
          if (k >= 0) return k;
          const f = free.find((x) => x.name === name);
          if (f) return f.value ? undefined : f;
          const next = src.get(name);
          if (next === undefined) return undefined;
          name = next;
        }
        return undefined;
      };
      const outs = g.outputs.map((o) => resolve(o.name));
      if (outs.every((x) => x !== undefined)) r = outs as (number | Free)[];
    }
    this.through.set(g, r);
    return r ?? undefined;
  }

  dispose(): void {
    for (const per of this.cache.values()) for (const ex of per.values()) ex.dispose();
    this.cache.clear();
    this.frees.clear();
    this.through.clear();
    this.fetches.clear();
  }
}
