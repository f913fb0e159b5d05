/**
 * Magnitude pruning on the IR: unstructured (per layer or global, by sparsity or by |w| < T),
 * N:M semi-structured (2:4, 4:8) and structured channel pruning (see channel.ts).
 * The input graph is never modified; the result carries the pruned copy, per-weight masks (the hook for
 * fine-tuning: re-apply with `applyMasks` after each optimizer step) and a per-layer report.
 */
import type { Graph, Node } from '../ir/graph.js';
import { canonicalizeIfValid } from '../ir/passes/canonicalize.js';
import type { Tensor } from '../tensor/tensor.js';
import { pruneChannels } from './channel.js';
import { NothingToPruneError, PruneOptionsError, type WeightRef, orderByMagnitude, weightOf, weightValues, withValues } from './weights.js';

export type PruneScope = 'layer' | 'global';
export type PruneStructure = 'none' | 'channel' | 'n:m';

export interface PruneOptions {
  /** fraction of weights (or output channels) to remove, in [0, 1); default 0.5 unless `threshold` is given */
  sparsity?: number;
  /** unstructured only: prune every weight with |w| < threshold (the classic recipe); exclusive with sparsity */
  threshold?: number;
  /** 'layer' (default): the sparsity applies to every weight; 'global': one magnitude ranking across all */
  scope?: PruneScope;
  /** default 'none' (unstructured) */
  structured?: PruneStructure;
  /** N:M: keep n of every m consecutive weights along the reduction axis (default 2:4) */
  n?: number;
  m?: number;
  /** channel pruning: filter norm used to rank output channels (default 'l1') */
  norm?: 'l1' | 'l2';
  /** node names (or weight initializer names) to leave alone */
  exclude?: readonly string[];
  /** leave the first / last prunable layer alone (default false) */
  excludeFirst?: boolean;
  excludeLast?: boolean;
}

export interface LayerReport {
  node: string;
  op: string;
  weight: string;
  /** entries of the weight in the input model, and how many were zeroed (unstructured, N:M) or removed (channel:
   * its own output channels plus input channels a pruned producer took away) */
  total: number;
  pruned: number;
  /** pruned / total; for channel pruning the fraction of this layer's output channels removed */
  sparsity: number;
  /** channel pruning: output channels before / after */
  channels?: { before: number; after: number; kept: number[] };
}

export interface SkippedLayer {
  node: string;
  reason: string;
}

export interface PruneResult {
  graph: Graph;
  /** weight initializer name -> mask over the result's tensor (1 = kept, 0 = pruned) */
  masks: Map<string, Uint8Array>;
  layers: LayerReport[];
  skipped: SkippedLayer[];
  /** prunable weights considered before pruning, and how many were pruned/removed */
  totalWeights: number;
  prunedWeights: number;
  sparsity: number;
  options: Required<Pick<PruneOptions, 'scope' | 'structured'>> & PruneOptions;
}

/** Validate options (PruneOptionsError on anything out of range) and fill defaults. */
export function normalizeOptions(o: PruneOptions): PruneResult['options'] {
  if (o === null || typeof o !== 'object') throw new PruneOptionsError('prune options must be an object');
  const structured = o.structured ?? 'none';
  if (!['none', 'channel', 'n:m'].includes(structured)) throw new PruneOptionsError(`structured must be 'none', 'channel' or 'n:m', got '${String(structured)}'`);
  const scope = o.scope ?? 'layer';
  if (scope !== 'layer' && scope !== 'global') throw new PruneOptionsError(`scope must be 'layer' or 'global', got '${String(scope)}'`);
  if (o.threshold !== undefined) {
    if (typeof o.threshold !== 'number' || !Number.isFinite(o.threshold) || o.threshold < 0) throw new PruneOptionsError(`threshold must be a finite number ≥ 0, got ${String(o.threshold)}`);
    if (o.sparsity !== undefined) throw new PruneOptionsError('give either sparsity or threshold, not both');
    if (structured !== 'none') throw new PruneOptionsError(`threshold applies to unstructured pruning only (structured '${structured}')`);
  }
  if (o.sparsity !== undefined && (typeof o.sparsity !== 'number' || !(o.sparsity >= 0 && o.sparsity < 1))) {
    throw new PruneOptionsError(`sparsity must be a number in [0, 1), got ${String(o.sparsity)}`);
  }
  let n = o.n;
  let m = o.m;
  if (structured === 'n:m') {
    n ??= 2;
    m ??= 4;
    if (!Number.isInteger(m) || m < 1 || m > 1024) throw new PruneOptionsError(`N:M needs an integer m in [1, 1024], got ${String(m)}`);
    if (!Number.isInteger(n) || n < 0 || n >= m) throw new PruneOptionsError(`N:M needs an integer n in [0, m), got n=${String(n)} m=${m}`);
    // "N:M" fixes the sparsity at 1 - n/m
    if (o.sparsity !== undefined) throw new PruneOptionsError('N:M pruning fixes the sparsity at 1 - n/m; do not give sparsity');
  } else if (o.n !== undefined || o.m !== undefined) {
    throw new PruneOptionsError(`n/m apply to structured 'n:m' only (structured '${structured}')`);
  }
  const norm = o.norm ?? 'l1';
  if (norm !== 'l1' && norm !== 'l2') throw new PruneOptionsError(`norm must be 'l1' or 'l2', got '${String(norm)}'`);
  if (o.exclude !== undefined && (!Array.isArray(o.exclude) || o.exclude.some((e) => typeof e !== 'string'))) throw new PruneOptionsError('exclude must be an array of node names');
  return { ...o, scope, structured, norm, ...(n !== undefined ? { n, m } : {}), sparsity: o.threshold !== undefined || structured === 'n:m' ? undefined : (o.sparsity ?? 0.5) } as PruneResult['options'];
}

/** The weights pruning may touch, after exclusions; unknown exclude names throw PruneOptionsError. */
export function selectWeights(g: Graph, opts: PruneOptions): { weights: WeightRef[]; skipped: SkippedLayer[] } {
  const nodeNames = new Set(g.nodes.map((n) => n.name));
  const excl = new Set(opts.exclude ?? []);
  for (const e of excl) if (!nodeNames.has(e) && !g.initializers.has(e)) throw new PruneOptionsError(`exclude: no node or initializer named '${e}'`);
  const weights: WeightRef[] = [];
  const skipped: SkippedLayer[] = [];
  const seen = new Map<string, Node>();
  for (const node of g.nodes) {
    const w = weightOf(g, node);
    if (typeof w === 'string') {
      if (['Conv', 'ConvTranspose', 'Gemm', 'MatMul'].includes(node.op)) skipped.push({ node: node.name, reason: w });
      continue;
    }
    if (excl.has(node.name) || excl.has(w.name)) {
      skipped.push({ node: node.name, reason: 'excluded' });
      continue;
    }
    const prev = seen.get(w.name);
    if (prev) {
      skipped.push({ node: node.name, reason: `shares weight '${w.name}' with '${prev.name}' (pruned once there)` });
      continue;
    }
    seen.set(w.name, node);
    weights.push(w);
  }
  if (opts.excludeFirst && weights.length) skipped.push({ node: weights.shift()!.node.name, reason: 'first prunable layer excluded' });
  if (opts.excludeLast && weights.length) skipped.push({ node: weights.pop()!.node.name, reason: 'last prunable layer excluded' });
  return { weights, skipped };
}

function nothing(skipped: SkippedLayer[]): never {
  const why = skipped.length ? `; skipped: ${skipped.map((s) => `${s.node} (${s.reason})`).join(', ')}` : '';
  throw new NothingToPruneError(`nothing to prune: no Conv/Gemm/MatMul with a constant float weight${why}`);
}

/**
 * Prune a model. Returns a new graph (the input is untouched). Throws PruneOptionsError for bad options or
 * unknown names, NothingToPruneError when no weight qualifies.
 */
export function prune(graph: Graph, options: PruneOptions = {}): PruneResult {
  const opts = normalizeOptions(options);
  // weights computed by constant subgraphs become initializers first (they are what pruning selects)
  const g = canonicalizeIfValid(graph).clone();
  g.initializers = new Map(graph.initializers);
  if (opts.structured === 'channel') {
    if (opts.scope === 'global') throw new PruneOptionsError("channel pruning ranks filters per layer; use scope 'layer'");
    return pruneChannels(g, opts, selectWeights, nothing);
  }
  const { weights, skipped } = selectWeights(g, opts);
  if (!weights.length) nothing(skipped);
  const masks = new Map<string, Uint8Array>();
  const layers: LayerReport[] = [];
  const vals = weights.map((w) => weightValues(w.tensor));
  for (const w of weights) masks.set(w.name, new Uint8Array(w.tensor.size).fill(1));

  if (opts.structured === 'n:m') {
    weights.forEach((w, i) => nmMask(w, vals[i]!, opts.n!, opts.m!, masks.get(w.name)!));
  } else if (opts.threshold !== undefined) {
    // "prune |w| < T"
    weights.forEach((w, i) => {
      const v = vals[i]!;
      const mk = masks.get(w.name)!;
      for (let j = 0; j < v.length; j++) if (Math.abs(v[j]!) < opts.threshold!) mk[j] = 0;
    });
  } else if (opts.scope === 'layer') {
    weights.forEach((w, i) => magnitudeMask([vals[i]!], [masks.get(w.name)!], opts.sparsity!));
  } else {
    magnitudeMask(vals, weights.map((w) => masks.get(w.name)!), opts.sparsity!);
  }

  let total = 0;
  let pruned = 0;
  weights.forEach((w, i) => {
    const mk = masks.get(w.name)!;
    const v = vals[i]!;
    const out = new (v instanceof Float64Array ? Float64Array : Float32Array)(v.length);
    let p = 0;
    for (let j = 0; j < v.length; j++) {
      if (mk[j]) out[j] = v[j]!;
      else p++;
    }
    g.initializers.set(w.name, withValues(w.tensor, out));
    total += v.length;
    pruned += p;
    layers.push({ node: w.node.name, op: w.node.op, weight: w.name, total: v.length, pruned: p, sparsity: p / v.length });
  });
  return { graph: g, masks, layers, skipped, totalWeights: total, prunedWeights: pruned, sparsity: pruned / total, options: opts };
}

/**
 * Zero the k = round(sparsity · n) smallest-magnitude weights across all arrays of one scope
 * (ties broken by position, so the result is deterministic and exactly k weights are pruned).
 */
export function magnitudeMask(vals: readonly (Float32Array | Float64Array)[], masks: readonly Uint8Array[], sparsity: number): void {
  let n = 0;
  for (const v of vals) n += v.length;
  const mags = new Float64Array(n);
  const owner = new Uint32Array(n);
  const offset = new Uint32Array(n);
  let p = 0;
  vals.forEach((v, a) => {
    for (let j = 0; j < v.length; j++, p++) {
      mags[p] = Math.abs(v[j]!);
      owner[p] = a;
      offset[p] = j;
    }
  });
  const k = Math.min(n, Math.round(sparsity * n));
  const order = orderByMagnitude(mags);
  for (let i = 0; i < k; i++) {
    const q = order[i]!;
    masks[owner[q]!]![offset[q]!] = 0;
  }
}

/** Keep the n largest |w| of every m consecutive weights along each row's reduction axis. */
export function nmMask(w: WeightRef, v: Float32Array | Float64Array, n: number, m: number, mask: Uint8Array): void {
  const idx = new Array<number>(m);
  for (let r = 0; r < w.rows; r++) {
    for (let c0 = 0; c0 < w.cols; c0 += m) {
      const len = Math.min(m, w.cols - c0);
      for (let t = 0; t < len; t++) idx[t] = r * w.rowStride + (c0 + t) * w.colStride;
      const grp = idx.slice(0, len);
      const key = (i: number) => (Number.isNaN(v[i]!) ? Infinity : Math.abs(v[i]!));
      // largest first; ties keep the earlier weight
      grp.sort((a, b) => key(b) - key(a) || a - b);
      for (let t = n; t < len; t++) mask[grp[t]!] = 0;
    }
  }
}

/** Re-apply masks after a fine-tuning step: every masked weight is set back to zero. */
export function applyMasks(graph: Graph, masks: ReadonlyMap<string, Uint8Array>): void {
  for (const [name, mk] of masks) {
    const t = graph.initializers.get(name);
    if (!t || t.size !== mk.length) continue;
    const v = Float64Array.from(weightValues(t));
    for (let j = 0; j < v.length; j++) if (!mk[j]) v[j] = 0;
    graph.initializers.set(name, withValues(t, t.type === 'float64' ? v : Float32Array.from(v)));
  }
}

/** Fraction of exact zeros in a float weight. */
export function zeroFraction(t: Tensor): number {
  const v = weightValues(t);
  let z = 0;
  for (let j = 0; j < v.length; j++) if (v[j] === 0) z++;
  return v.length ? z / v.length : 0;
}
