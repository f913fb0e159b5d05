import type { Graph, Node } from '../graph.js';
import { freshNames } from './names.js';
import { analyze } from '../infer.js';
import { type Commutes, getOp } from '../registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { allocData } from '../../tensor/dtype.js';

/**
 * Transpose sinking (docs/layout.md, "Converted models"): models converted from TensorFlow / TFLite to ONNX wrap
 * every conv in Transpose(NHWC→NCHW) … Transpose(NCHW→NHWC), with the activations, Adds, Concats, Pads, Resizes
 * between them in NHWC. ONNX's Transpose "permutes the axes of the input tensor according to the values given"
 * (perm), and the ops below compute every output element from the same input elements whatever the order of the
 * axes, so a Transpose can be moved past them (their axes / constants remapped) until it meets its inverse and both
 * vanish — as onnxruntime's transpose optimizer does.
 *
 * At plan time, nodes in topological order: the output v of a Transpose(x, perm) is not computed but "held" as
 * (x, perm); a Transpose of a held value composes the perms (identity: v is x); a node whose op declares how it
 * commutes with a permutation (OpDef.commutes, next to its defineOp; the rules are below) and whose data inputs are all held with one perm p (or constants, permuted once here) is rewritten on the unpermuted values
 * and its output is held with p. Anything else (and graph outputs) reads a held value through one Transpose
 * emitted where first needed, under the value's own name.
 *
 * Cost: the held values form components (joined by the nodes rewritten across them); a component is kept only when
 * it executes fewer Transposes than the original ones it absorbed, and no more elements (Pad / Resize / a
 * broadcast may grow a value before its Transpose is emitted); otherwise its nodes are left as they are and the
 * pass runs again without them. So the Transposes executed never rise, and a graph that gains nothing is returned
 * unchanged (which keeps the patterns later passes match, e.g. attention's Transposes).
 *
 * Arithmetic: element for element the same operations (bit-identical), except reductions over several axes whose
 * order in memory the permutation changes (ReduceSum / ReduceMean …: a different summation order).
 */
export function sinkTransposes(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.op === 'Transpose' && n.domain === '')) return graph;
  const deny = new Set<string>();
  for (let round = 0; round < 4; round++) {
    const r = attempt(graph, deny);
    // nothing gains: the graph as it was (no second analysis)
    if (!r.changed) return graph;
    if (!r.bad.size) return r.graph;
    for (const name of r.bad) deny.add(name);
  }
  return graph;
}

type Perm = readonly number[];

interface Held {
  src: string;
  perm: Perm;
  comp: number;
}

/** what one component of held values costs: Transposes before (original) and after (emitted), count and elements */
interface Cost {
  before: number;
  beforeElems: number;
  after: number;
  afterElems: number;
  nodes: string[];
}

/** the context a sink rule rewrites a node in */
export interface SinkCtx {
  /** constant value of an input name, if known at plan time */
  constOf(x: string): Tensor | undefined;
  /** a new initializer; returns its name */
  addConst(base: string, t: Tensor): string;
  /** opset of the node's domain */
  opset: number;
}

/**
 * How an op commutes with a permutation: given a node whose data inputs (`data`) are held transposed by perm p
 * (value = Transpose(src, p), so the value's axis a is src's axis p[a]), the node on the src values: new attrs /
 * constant inputs, and the perm each output is held with (undefined: that output is not permuted, e.g. a full
 * reduction to a scalar). Returns undefined when it cannot (unknown axes, non-constant parameters).
 */
interface Sink {
  /** input indices that carry permuted data (the others are parameters the rule handles) */
  data(n: Node): number[];
  rewrite(n: Node, p: Perm, ctx: SinkCtx): { node: Node; outPerms: (Perm | undefined)[] } | undefined;
}

const inverse = (p: Perm): number[] => {
  const q = new Array<number>(p.length);
  p.forEach((a, i) => (q[a] = i));
  return q;
};
/** Transpose(Transpose(x, p), q) = Transpose(x, compose(p, q)) */
const compose = (p: Perm, q: Perm): number[] => q.map((a) => p[a]!);
const isIdentity = (p: Perm): boolean => p.every((a, i) => a === i);
const norm = (a: number, r: number): number => (a < 0 ? a + r : a);
/** the value's axis a is src's axis p[a] */
const remapAxis = (a: number, p: Perm): number => p[norm(a, p.length)]!;
const ints = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);
const intTensor = (like: Tensor, v: number[]): Tensor =>
  like.type === 'int32' ? new Tensor('int32', Int32Array.from(v), [v.length]) : new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);

const all = (n: Node): number[] => n.inputs.map((_, i) => i);
const first = (): number[] => [0];
const same = (n: Node, p: Perm, attrs: Node['attrs'] = n.attrs, inputs = n.inputs) => ({ node: { ...n, attrs, inputs }, outPerms: n.outputs.map(() => p) });
const scalarParams = (n: Node, ctx: SinkCtx, from: number): boolean => n.inputs.slice(from).every((x) => !x || (ctx.constOf(x)?.size ?? 2) === 1);

/** a constant broadcast from the right against rank-r data held by p: padded to rank r, permuted by p⁻¹ */
function permuteConst(x: string, p: Perm, ctx: SinkCtx): string | undefined {
  const t = ctx.constOf(x);
  if (!t || t.dims.length > p.length) return undefined;
  if (t.size === 1) return x; // a size-1 constant broadcasts the same either way
  const dims = [...new Array<number>(p.length - t.dims.length).fill(1), ...t.dims];
  return ctx.addConst(`${x}_t`, permuteAxes(t.reshape(dims), inverse(p)));
}

const unary: Sink = {
  data: first,
  rewrite: (n, p, ctx) => (scalarParams(n, ctx, 1) ? same(n, p) : undefined),
};

/** Quantize/DequantizeLinear: per-tensor as unary; per-axis: the axis renamed (blocked quantization: no) */
const qdq: Sink = {
  data: first,
  rewrite(n, p, ctx) {
    if (scalarParams(n, ctx, 1)) return same(n, p);
    if (n.attrs.block_size || !n.inputs.slice(1).every((x) => !x || ctx.constOf(x)?.dims.length === 1)) return undefined;
    return same(n, p, { ...n.attrs, axis: remapAxis((n.attrs.axis as number | undefined) ?? 1, p) });
  },
};

const broadcast: Sink = {
  data: all,
  rewrite(n, p, ctx) {
    const inputs = [...n.inputs];
    // the held inputs were checked by the caller; the rest must be constants
    for (let i = 0; i < inputs.length; i++) {
      if (!ctx.constOf(inputs[i]!)) continue;
      const c = permuteConst(inputs[i]!, p, ctx);
      if (!c) return undefined;
      inputs[i] = c;
    }
    return same(n, p, n.attrs, inputs);
  },
};

const concat: Sink = {
  data: all,
  rewrite(n, p, ctx) {
    const inputs = [...n.inputs];
    for (let i = 0; i < inputs.length; i++) {
      const t = ctx.constOf(inputs[i]!);
      if (!t) continue;
      if (t.dims.length !== p.length) return undefined; // Concat does not broadcast
      inputs[i] = ctx.addConst(`${inputs[i]}_t`, permuteAxes(t, inverse(p)));
    }
    return same(n, p, { ...n.attrs, axis: remapAxis(n.attrs.axis as number, p) }, inputs);
  },
};

const split: Sink = {
  data: first,
  rewrite(n, p, ctx) {
    if (n.inputs[1] && !ctx.constOf(n.inputs[1])) return undefined;
    return same(n, p, { ...n.attrs, axis: remapAxis((n.attrs.axis as number | undefined) ?? 0, p) });
  },
};

/** per-axis values v (one per value axis, [begin…, end…] when `twice`) in src axis order */
function permuteList(v: number[], p: Perm, twice: boolean): number[] | undefined {
  const r = p.length;
  if (v.length !== (twice ? 2 * r : r)) return undefined;
  const q = inverse(p);
  const one = (o: number) => q.map((a) => v[o + a]!);
  return twice ? [...one(0), ...one(r)] : one(0);
}

const pad: Sink = {
  data: first,
  rewrite(n, p, ctx) {
    const pads = ctx.constOf(n.inputs[1] ?? '');
    if (!pads || !scalarParams(n, ctx, 2) || (n.inputs[2] && !ctx.constOf(n.inputs[2]))) return undefined;
    const inputs = [...n.inputs];
    const axes = n.inputs[3] ? ctx.constOf(n.inputs[3]) : undefined;
    if (n.inputs[3]) {
      // opset 18's axes: the pads stay in their order, the axes are renamed
      if (!axes) return undefined;
      inputs[3] = ctx.addConst(`${n.inputs[3]}_t`, intTensor(axes, ints(axes).map((a) => remapAxis(a, p))));
      return same(n, p, n.attrs, inputs);
    }
    const v = permuteList(ints(pads), p, true);
    if (!v) return undefined;
    inputs[1] = ctx.addConst(`${n.inputs[1]}_t`, intTensor(pads, v));
    return same(n, p, n.attrs, inputs);
  },
};

const resize: Sink = {
  data: first,
  rewrite(n, p, ctx) {
    // opset 10's Resize takes scales as input 1 (no roi); crop-and-resize's roi is not a per-axis list to permute
    if (ctx.opset < 11 || n.attrs.coordinate_transformation_mode === 'tf_crop_and_resize') return undefined;
    const inputs = [...n.inputs];
    if (n.attrs.axes) return same(n, p, { ...n.attrs, axes: (n.attrs.axes as number[]).map((a) => remapAxis(a, p)) });
    for (const i of [1, 2, 3]) {
      const x = n.inputs[i];
      if (!x) continue;
      const t = ctx.constOf(x);
      if (!t) return undefined;
      if (t.size === 0) continue; // an empty roi / scales placeholder
      const v = permuteList(Array.from(t.data as ArrayLike<number | bigint>, Number), p, i === 1);
      if (!v) return undefined;
      inputs[i] = ctx.addConst(`${x}_t`, t.type === 'int64' ? new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]) : new Tensor(t.type, Float32Array.from(v) as never, [v.length]));
    }
    return same(n, p, n.attrs, inputs);
  },
};

const slice: Sink = {
  data: first,
  rewrite(n, p, ctx) {
    const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => (n.inputs[i] ? ctx.constOf(n.inputs[i]!) : undefined));
    if (!starts || !ends || (n.inputs[3] && !axes) || (n.inputs[4] && !steps)) return undefined;
    // ONNX: "If axes are omitted, they are set to [0, ..., len(starts)-1]"
    const ax = axes ? ints(axes) : Array.from({ length: starts.size }, (_, i) => i);
    if (ax.some((a) => a < -p.length || a >= p.length)) return undefined;
    const inputs = [...n.inputs];
    while (inputs.length < 4) inputs.push('');
    inputs[3] = ctx.addConst(`${n.inputs[3] || n.name}_axes_t`, intTensor(axes ?? starts, ax.map((a) => remapAxis(a, p))));
    return same(n, p, n.attrs, inputs);
  },
};

/**
 * Reduce* (axes as input 1, the IR's form for every opset): axes renamed; keepdims 0 drops the reduced axes, so the
 * output is held by p without them (renumbered). A full reduction's output is not permuted.
 */
const reduce: Sink = {
  data: first,
  rewrite(n, p, ctx) {
    const r = p.length;
    const axesT = n.inputs[1] ? ctx.constOf(n.inputs[1]) : undefined;
    if (n.inputs[1] && !axesT) return undefined;
    let axes = axesT ? ints(axesT) : [];
    if (!axes.length) {
      if (n.attrs.noop_with_empty_axes) return undefined;
      axes = Array.from({ length: r }, (_, i) => i);
    }
    if (axes.some((a) => a < -r || a >= r)) return undefined;
    const mapped = axes.map((a) => remapAxis(a, p));
    const inputs = [...n.inputs];
    if (axesT) inputs[1] = ctx.addConst(`${n.inputs[1]}_t`, intTensor(axesT, mapped));
    return { node: { ...n, inputs }, outPerms: [keptPerm(n, p, mapped)] };
  },
};

/** ArgMax / ArgMin: one axis renamed, keepdims as Reduce* */
const arg: Sink = {
  data: first,
  rewrite(n, p) {
    const a = (n.attrs.axis as number | undefined) ?? 0;
    if (a < -p.length || a >= p.length) return undefined;
    const m = remapAxis(a, p);
    return { node: { ...n, attrs: { ...n.attrs, axis: m } }, outPerms: [keptPerm(n, p, [m])] };
  },
};

/** the perm a reduction's output is held with: p, or for keepdims 0 p without the reduced (src) axes, renumbered */
function keptPerm(n: Node, p: Perm, reduced: number[]): Perm | undefined {
  if ((n.attrs.keepdims ?? 1) !== 0) return p;
  const gone = new Set(reduced);
  const kept = p.filter((a) => !gone.has(a));
  if (!kept.length) return undefined;
  const rank = [...kept].sort((a, b) => a - b);
  return kept.map((a) => rank.indexOf(a));
}

/** the rule of each OpDef.commutes kind (each op declares its kind next to its defineOp) */
const SINKS: Record<Commutes, Sink> = { elementwise: unary, broadcast, concat, split, pad, resize, slice, reduce, arg, qdq };

function attempt(graph: Graph, deny: Set<string>): { graph: Graph; bad: Set<string>; changed: boolean } {
  const { types, consts, order } = analyze(graph);
  const g = graph.clone();
  const fresh = freshNames(g);
  const elems = (x: string): number => (types.get(x)?.shape ?? ['?']).reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1);
  const rankOf = (x: string): number | undefined => types.get(x)?.shape?.length;
  const held = new Map<string, Held>();
  const costs: Cost[] = [];
  const parent: number[] = [];
  const root = (c: number): number => (parent[c] === c ? c : (parent[c] = root(parent[c]!)));
  const newComp = (): number => {
    parent.push(costs.length);
    costs.push({ before: 0, beforeElems: 0, after: 0, afterElems: 0, nodes: [] });
    return costs.length - 1;
  };
  const join = (a: number, b: number): number => {
    const [x, y] = [root(a), root(b)];
    if (x !== y) parent[y] = x;
    return x;
  };
  const out: Node[] = [];
  const emitted = new Set<string>();
  /** the value x as the model defines it: a held value gets its Transpose (once) */
  const need = (x: string): string => {
    const h = held.get(x);
    if (!h) return x;
    if (isIdentity(h.perm)) return need(h.src);
    if (!emitted.has(x)) {
      emitted.add(x);
      out.push({ name: fresh(`${x}_transpose`), op: 'Transpose', domain: '', inputs: [h.src], outputs: [x], attrs: { perm: [...h.perm] } });
      const c = costs[root(h.comp)]!;
      c.after++;
      c.afterElems += elems(x);
    }
    return x;
  };
  const ctxFor = (n: Node): SinkCtx => ({
    constOf: (x) => consts.get(x),
    addConst: (base, t) => {
      const name = fresh(base);
      g.initializers.set(name, t);
      return name;
    },
    opset: g.opsets[n.domain] ?? 1,
  });

  for (const n of order) {
    const keep = (): void => {
      out.push({ ...n, inputs: n.inputs.map((x) => (x ? need(x) : x)) });
    };
    if (deny.has(n.name) || n.domain !== '') {
      keep();
      continue;
    }
    if (n.op === 'Transpose' && n.inputs[0] && n.outputs[0]) {
      const x = n.inputs[0];
      const r = rankOf(x);
      // a Transpose of a constant is folded, not moved
      const perm = (n.attrs.perm as number[] | undefined) ?? (r === undefined ? undefined : Array.from({ length: r }, (_, i) => r - 1 - i));
      const h = held.get(x);
      // an identity perm on its own is the kernel's business (a copy or a view), not a pair to cancel
      if (!perm || consts.has(x) || (!h && isIdentity(perm))) {
        keep();
        continue;
      }
      const comp = h ? h.comp : newComp();
      const c = costs[root(comp)]!;
      c.before++;
      c.beforeElems += elems(n.outputs[0]);
      c.nodes.push(n.name);
      held.set(n.outputs[0], h ? { src: h.src, perm: compose(h.perm, perm), comp } : { src: x, perm, comp });
      continue;
    }
    const kind = getOp('', n.op)?.commutes;
    const rule = kind && SINKS[kind];
    const rewritten = rule && rewriteOn(n, rule);
    if (!rewritten) keep();
  }
  /** n on the src forms of its held data inputs, if they share one perm and the rule takes n */
  function rewriteOn(n: Node, rule: Sink): boolean {
    const data = rule.data(n).filter((i) => n.inputs[i]);
    const hs = data.map((i) => held.get(n.inputs[i]!));
    const p = hs.find((h) => h)?.perm;
    if (!p || isIdentity(p)) return false;
    // every data input held with the same perm, or a constant
    if (!data.every((i, k) => (hs[k] ? hs[k]!.perm.every((a, j) => a === p[j]) && hs[k]!.perm.length === p.length : consts.has(n.inputs[i]!)))) return false;
    if (n.outputs.some((o) => o && rankOf(o) === undefined)) return false;
    const res = rule.rewrite(n, p, ctxFor(n));
    if (!res) return false;
    // outputs' ranks as the perms say (a constant of higher rank would broadcast the data up)
    if (n.outputs.some((o, k) => o && res.outPerms[k] && rankOf(o) !== res.outPerms[k]!.length)) return false;
    let comp = -1;
    for (const h of hs) if (h) comp = comp < 0 ? h.comp : join(comp, h.comp);
    costs[root(comp)]!.nodes.push(n.name);
    const inputs = res.node.inputs.map((x, i) => (data.includes(i) && held.has(x) ? held.get(x)!.src : x ? need(x) : x));
    const outputs = n.outputs.map((o, k) => {
      const q = res.outPerms[k];
      if (!o || !q) return o;
      const y = fresh(`${o}_t`);
      held.set(o, { src: y, perm: q, comp });
      return y;
    });
    out.push({ ...res.node, inputs, outputs });
    return true;
  }

  // graph outputs keep their names and layout
  for (const o of g.outputs) {
    const h = held.get(o.name);
    if (h && isIdentity(h.perm)) out.push({ name: fresh(`${o.name}_identity`), op: 'Identity', domain: '', inputs: [need(h.src)], outputs: [o.name], attrs: {} });
    else need(o.name);
  }
  const bad = new Set<string>();
  let changed = false;
  for (let c = 0; c < costs.length; c++) {
    if (root(c) !== c) continue;
    const k = costs[c]!;
    const gains = k.after < k.before && (k.afterElems <= k.beforeElems || k.after === 0);
    if (gains) changed = true;
    else for (const name of k.nodes) bad.add(name);
  }
  g.nodes = out;
  // constants no longer read (replaced by their permuted copies), and the pure nodes that only made them
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) read.add(o.name);
  for (const k of [...g.initializers.keys()]) if (!read.has(k)) g.initializers.delete(k);
  for (const x of held.keys()) if (!emitted.has(x) && !g.outputs.some((o) => o.name === x)) g.types.delete(x);
  return { graph: g, bad, changed };
}

/** A tensor with its axes permuted (out dims[i] = dims[perm[i]]), any rank. */
export function permuteAxes(t: Tensor, perm: Perm): Tensor {
  const d = t.dims;
  const r = d.length;
  const od = perm.map((p) => d[p]!);
  const st = new Array<number>(r).fill(1);
  for (let i = r - 2; i >= 0; i--) st[i] = st[i + 1]! * d[i + 1]!;
  const ps = perm.map((p) => st[p]!);
  const src = t.data as unknown as ArrayLike<number>;
  const dst = allocData(t.type, t.size) as unknown as number[];
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < t.size; o++) {
    let off = 0;
    for (let i = 0; i < r; i++) off += idx[i]! * ps[i]!;
    dst[o] = src[off]!;
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i]! < od[i]!) break;
      idx[i] = 0;
    }
  }
  const res = new Tensor(t.type, dst as never, od);
  if (t.quant) res.quant = t.quant;
  return res;
}
