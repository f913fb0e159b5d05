/**
 * Structured channel pruning: remove the output channels of Conv/Gemm/MatMul layers with the smallest
 * L1/L2 filter norm and rewrite every consumer so the graph stays valid and actually shrinks:
 * bias, BatchNormalization / InstanceNormalization parameters, per-channel constant Add/Mul/Sub/Div operands,
 * depthwise Convs (pruned along), and the next Conv (input channels), Gemm/MatMul (input features, also
 * through Flatten). Layers whose channels meet another activation (Add/Concat groups, residuals), reach a
 * graph output or an op we cannot rewrite are left alone, with the reason in `skipped`.
 */
import type { Graph, Node } from '../ir/graph.js';
import { topoSort } from '../ir/topo.js';
import type { TypedArray } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import type { LayerReport, PruneOptions, PruneResult, SkippedLayer } from './prune.js';
import { type WeightRef, useCounts, weightOf, weightValues } from './weights.js';

/** ops that act on each channel independently and keep the layout (channel axis unchanged) */
const ELEMENTWISE = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Celu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Softsign',
  'Gelu', 'Mish', 'Erf', 'Exp', 'Abs', 'Neg', 'Sqrt', 'Identity', 'Dropout', 'Clip', 'ThresholdedRelu', 'Cast', 'Floor', 'Ceil', 'Round',
]);
/** spatial pooling: keeps channels (axis 1) apart */
const POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div']);

interface State {
  /** channel axis counted from the end (-1 = last) */
  axis: number;
  /** rank of the value when known */
  rank?: number;
  /** after Flatten: channels are contiguous blocks of features, block size fixed by the consumer */
  flat: boolean;
}

type Edit = (kept: number[], c: number) => void;

/** Copy of `t` keeping only entries `kept` (in blocks of `block`) along `axis`. */
export function sliceAxis(t: Tensor, axis: number, kept: readonly number[], block = 1): Tensor {
  const d = [...t.dims];
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= d[i]!;
  let inner = 1;
  for (let i = axis + 1; i < d.length; i++) inner *= d[i]!;
  const src = t.data as TypedArray;
  const nd = [...d];
  nd[axis] = kept.length * block;
  const Ctor = src.constructor as new (n: number) => TypedArray;
  const out = new Ctor(outer * nd[axis]! * inner);
  const run = block * inner;
  let o = 0;
  for (let a = 0; a < outer; a++) {
    const base = a * d[axis]! * inner;
    for (const c of kept) {
      const s = base + c * run;
      (out as Float32Array).set((src as Float32Array).subarray(s, s + run), o);
      o += run;
    }
  }
  const r = new Tensor(t.type, out, nd);
  if (t.quant) r.quant = t.quant;
  return r;
}

class Planner {
  readonly consumers = new Map<string, { node: Node; idx: number }[]>();
  readonly uses: Map<string, number>;
  readonly outputs: Set<string>;
  touched = new Set<string>();
  constructor(readonly g: Graph) {
    for (const node of g.nodes) node.inputs.forEach((x, idx) => x && this.consumers.set(x, [...(this.consumers.get(x) ?? []), { node, idx }]));
    this.uses = useCounts(g);
    this.outputs = new Set(g.outputs.map((o) => o.name));
  }

  /** initializer `name` if it exists and nothing else reads it */
  private own(name: string | undefined, who: Node): Tensor | string {
    const t = name ? this.g.initializers.get(name) : undefined;
    if (!t) return `'${who.name}' (${who.op}) reads a non-constant '${name}'`;
    if ((this.uses.get(name!) ?? 0) !== 1) return `initializer '${name}' of '${who.name}' is shared with other nodes`;
    return t;
  }

  /** edits that slice the producer's own output channels, or a reason it cannot be pruned */
  producer(w: WeightRef): { edits: Edit[]; state: State; out: string } | string {
    const node = w.node;
    const edits: Edit[] = [];
    if ((this.uses.get(w.name) ?? 0) !== 1) return `weight '${w.name}' is read by other nodes too`;
    const t0 = () => this.g.initializers.get(w.name)!;
    if (node.op === 'Conv') {
      if (((node.attrs.group as number) ?? 1) !== 1) return 'grouped Conv (only group = 1 producers)';
      edits.push((kept) => this.g.initializers.set(w.name, sliceAxis(t0(), 0, kept)));
      if (node.inputs[2]) {
        const b = this.own(node.inputs[2], node);
        if (typeof b === 'string') return b;
        const bName = node.inputs[2];
        edits.push((kept) => this.g.initializers.set(bName, sliceAxis(this.g.initializers.get(bName)!, 0, kept)));
      }
      return { edits, state: { axis: -(w.tensor.dims.length - 1), rank: w.tensor.dims.length, flat: false }, out: node.outputs[0]! };
    }
    if (node.op === 'Gemm') {
      if (node.attrs.transA) return 'Gemm with transA';
      const transB = !!node.attrs.transB;
      edits.push((kept) => this.g.initializers.set(w.name, sliceAxis(t0(), transB ? 0 : 1, kept)));
      const cName = node.inputs[2];
      if (cName) {
        const c = this.own(cName, node);
        if (typeof c === 'string') return c;
        const n = w.rows;
        if (c.size !== 1) {
          if (!(c.dims.length === 1 && c.dims[0] === n) && !(c.dims.length === 2 && c.dims[0] === 1 && c.dims[1] === n)) return `Gemm bias '${cName}' has shape [${c.dims}] (per-column bias or scalar only)`;
          edits.push((kept) => this.g.initializers.set(cName, sliceAxis(this.g.initializers.get(cName)!, c.dims.length - 1, kept)));
        }
      }
      return { edits, state: { axis: -1, rank: 2, flat: false }, out: node.outputs[0]! };
    }
    if (node.op === 'MatMul' && node.inputs[1] === w.name && w.tensor.dims.length === 2) {
      edits.push((kept) => this.g.initializers.set(w.name, sliceAxis(t0(), 1, kept)));
      return { edits, state: { axis: -1, flat: false }, out: node.outputs[0]! };
    }
    return `${node.op} cannot be channel-pruned here`;
  }

  /** follow value `x` (carrying channels in `st`) to every reader; edits that rewrite them, or a reason */
  trace(x: string, st: State, c: number, edits: Edit[], depth = 0): string | undefined {
    if (depth > 256) return 'channel path too long';
    this.touched.add(x);
    if (this.outputs.has(x)) return `its channels reach graph output '${x}'`;
    for (const { node, idx } of this.consumers.get(x) ?? []) {
      const why = this.consumer(node, idx, st, c, edits, depth);
      if (why) return why;
    }
    return undefined;
  }

  private used(node: Node, from: number): boolean {
    return node.outputs.slice(from).some((o) => o && (this.uses.get(o) ?? 0) > 0);
  }

  private consumer(node: Node, idx: number, st: State, c: number, edits: Edit[], depth: number): string | undefined {
    const where = `${node.op} '${node.name}'`;
    const axisIdx = st.rank !== undefined ? st.rank + st.axis : undefined;
    if (node.domain !== '' && node.domain !== 'ai.onnx') return `feeds ${where} in domain ${node.domain}`;
    if (ELEMENTWISE.has(node.op)) {
      if (idx !== 0) return `feeds ${where} as input ${idx}`;
      if (node.op === 'Dropout' && this.used(node, 1)) return `feeds ${where} whose mask is used`;
      return this.trace(node.outputs[0]!, st, c, edits, depth + 1);
    }
    if (POOLS.has(node.op)) {
      if (st.flat || axisIdx !== 1) return `feeds ${where} but its channels are not on axis 1`;
      if (this.used(node, 1)) return `feeds ${where} whose indices output is used`;
      return this.trace(node.outputs[0]!, st, c, edits, depth + 1);
    }
    if (node.op === 'BatchNormalization' || node.op === 'InstanceNormalization') {
      if (idx !== 0) return `feeds ${where} as input ${idx}`;
      if (st.flat || axisIdx !== 1) return `feeds ${where} but its channels are not on axis 1`;
      if (this.used(node, 1)) return `feeds ${where} in training mode`;
      const params = node.op === 'BatchNormalization' ? [1, 2, 3, 4] : [1, 2];
      for (const p of params) {
        const t = this.own(node.inputs[p], node);
        if (typeof t === 'string') return t;
        if (t.size !== c) return `${where} parameter '${node.inputs[p]}' has ${t.size} entries, expected ${c}`;
        const name = node.inputs[p]!;
        edits.push((kept) => this.g.initializers.set(name, sliceAxis(this.g.initializers.get(name)!, 0, kept)));
      }
      return this.trace(node.outputs[0]!, st, c, edits, depth + 1);
    }
    if (BINARY.has(node.op)) {
      const other = node.inputs[1 - idx];
      const t = other ? this.g.initializers.get(other) : undefined;
      if (!t) return `feeds ${where} together with another activation (Add/Concat groups are excluded)`;
      if (node.op === 'Div' && idx === 1) return `feeds ${where} as the divisor`;
      if (t.size !== 1) {
        if (st.flat) return `feeds ${where} with a non-scalar constant after Flatten`;
        const r = t.dims.length;
        const pos = r + st.axis; // the constant's axis aligned with the channel axis
        if (st.rank !== undefined && r > st.rank) return `${where} constant '${other}' has a higher rank than its input`;
        const dim = pos >= 0 ? t.dims[pos]! : 1;
        if (dim === c) {
          const own = this.own(other, node);
          if (typeof own === 'string') return own;
          edits.push((kept) => this.g.initializers.set(other!, sliceAxis(this.g.initializers.get(other!)!, pos, kept)));
        } else if (dim !== 1) return `${where} constant '${other}' has ${dim} entries on the channel axis, expected ${c} or 1`;
      }
      return this.trace(node.outputs[0]!, st, c, edits, depth + 1);
    }
    if (node.op === 'Flatten') {
      const axis = (node.attrs.axis as number | undefined) ?? 1;
      if (st.flat || axisIdx !== 1 || (axis !== 1 && axis !== 1 - (st.rank ?? 0))) return `feeds ${where} that does not flatten from the channel axis`;
      return this.trace(node.outputs[0]!, { axis: -1, rank: 2, flat: true }, c, edits, depth + 1);
    }
    if (node.op === 'Conv') {
      if (idx !== 0) return `feeds ${where} as input ${idx}`;
      if (st.flat || axisIdx !== 1) return `feeds ${where} but its channels are not on axis 1`;
      const wName = node.inputs[1]!;
      const w = this.own(wName, node);
      if (typeof w === 'string') return w;
      const group = (node.attrs.group as number | undefined) ?? 1;
      if (group === 1) {
        if (w.dims[1] !== c) return `${where} weight has ${w.dims[1]} input channels, expected ${c}`;
        edits.push((kept) => this.g.initializers.set(wName, sliceAxis(this.g.initializers.get(wName)!, 1, kept)));
        return undefined;
      }
      if (group === c && w.dims[0] === c && w.dims[1] === 1) {
        // depthwise (multiplier 1): channel k in -> channel k out; prune it along and keep following
        edits.push((kept) => {
          this.g.initializers.set(wName, sliceAxis(this.g.initializers.get(wName)!, 0, kept));
          node.attrs.group = kept.length;
        });
        if (node.inputs[2]) {
          const bName = node.inputs[2];
          const b = this.own(bName, node);
          if (typeof b === 'string') return b;
          edits.push((kept) => this.g.initializers.set(bName, sliceAxis(this.g.initializers.get(bName)!, 0, kept)));
        }
        return this.trace(node.outputs[0]!, st, c, edits, depth + 1);
      }
      return `feeds grouped ${where} (group ${group})`;
    }
    if (node.op === 'Gemm' || node.op === 'MatMul') {
      if (idx !== 0) return `feeds ${where} as input ${idx}`;
      if (node.op === 'Gemm' && node.attrs.transA) return `feeds ${where} with transA`;
      if (st.axis !== -1) return `feeds ${where} but its channels are not on the last axis`;
      const wName = node.inputs[1]!;
      const w = this.own(wName, node);
      if (typeof w === 'string') return w;
      if (w.dims.length !== 2) return `${where} weight has rank ${w.dims.length}`;
      const kAxis = node.op === 'Gemm' && node.attrs.transB ? 1 : 0;
      const k = w.dims[kAxis]!;
      if (k % c !== 0 || (!st.flat && k !== c)) return `${where} weight has ${k} input features, not a multiple of ${c} channels`;
      const block = k / c;
      edits.push((kept) => this.g.initializers.set(wName, sliceAxis(this.g.initializers.get(wName)!, kAxis, kept, block)));
      return undefined;
    }
    return `feeds ${where}, which channel pruning cannot rewrite`;
  }
}

/** Filter norms (L1 or L2) of every output row of `w`. */
export function filterNorms(w: WeightRef, norm: 'l1' | 'l2'): Float64Array {
  const v = weightValues(w.tensor);
  const out = new Float64Array(w.rows);
  for (let r = 0; r < w.rows; r++) {
    let s = 0;
    for (let j = 0; j < w.cols; j++) {
      const x = v[r * w.rowStride + j * w.colStride]!;
      s += norm === 'l1' ? Math.abs(x) : x * x;
    }
    out[r] = norm === 'l1' ? s : Math.sqrt(s);
  }
  return out;
}

export function pruneChannels(
  g: Graph,
  opts: PruneResult['options'],
  select: (g: Graph, o: PruneOptions) => { weights: WeightRef[]; skipped: SkippedLayer[] },
  nothing: (s: SkippedLayer[]) => never,
): PruneResult {
  const { weights, skipped } = select(g, opts);
  if (!weights.length) nothing(skipped);
  const order = topoSort(g);
  const rank = new Map(order.map((n, i) => [n, i]));
  weights.sort((a, b) => rank.get(a.node)! - rank.get(b.node)!);
  const prunableNames = new Set<string>();
  for (const n of g.nodes) {
    const w = weightOf(g, n);
    if (typeof w !== 'string') prunableNames.add(w.name);
  }
  let before = 0;
  for (const name of prunableNames) before += g.initializers.get(name)!.size;
  const layers: LayerReport[] = [];
  const masks = new Map<string, Uint8Array>();
  const touched = new Set<string>();
  let eligible = 0;
  for (const w0 of weights) {
    const w = weightOf(g, w0.node); // fresh: earlier producers may have sliced this weight's input channels
    if (typeof w === 'string') {
      skipped.push({ node: w0.node.name, reason: w });
      continue;
    }
    const planner = new Planner(g);
    const p = planner.producer(w);
    if (typeof p === 'string') {
      skipped.push({ node: w.node.name, reason: p });
      continue;
    }
    const c = w.rows;
    const why = planner.trace(p.out, p.state, c, p.edits);
    if (why) {
      skipped.push({ node: w.node.name, reason: why });
      continue;
    }
    eligible++;
    const k = Math.min(c - 1, Math.round(opts.sparsity! * c));
    const norms = filterNorms(w, opts.norm ?? 'l1');
    const idx = Array.from({ length: c }, (_, i) => i);
    idx.sort((a, b) => norms[a]! - norms[b]! || a - b);
    const kept = idx.slice(k).sort((a, b) => a - b);
    if (k > 0) {
      for (const e of p.edits) e(kept, c);
      for (const v of planner.touched) touched.add(v);
      touched.add(p.out);
    }
    // total: the weight as in the input model; pruned (set below): all entries removed from it, input channels included
    layers.push({ node: w.node.name, op: w.node.op, weight: w.name, total: w0.tensor.size, pruned: 0, sparsity: k / c, channels: { before: c, after: kept.length, kept } });
  }
  if (!eligible) nothing(skipped);
  // shapes of rewritten intermediates changed: drop their recorded types (re-inferred on load/run)
  for (const v of touched) if (!g.inputs.some((i) => i.name === v) && !g.outputs.some((o) => o.name === v)) g.types.delete(v);
  let after = 0;
  for (const name of prunableNames) after += g.initializers.get(name)!.size;
  for (const l of layers) {
    const size = g.initializers.get(l.weight)!.size;
    l.pruned = l.total - size;
    masks.set(l.weight, new Uint8Array(size).fill(1));
  }
  return { graph: g, masks, layers, skipped, totalWeights: before, prunedWeights: before - after, sparsity: before ? (before - after) / before : 0, options: opts };
}
