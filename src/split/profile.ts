/**
 * Measured kernel speed for the cost model, through the public session API only:
 * - profileNodes: time every node alone (a one-node graph with the same constant inputs, so the same
 *   kernel is chosen) on the intermediate values of one real run;
 * - measuredSplit: split, time each real part, rescale the node times of every part by measured/estimated,
 *   re-split; keep the split whose measured slowest stage is fastest (fusion and memory effects that
 *   one-node timing misses are corrected this way).
 */
import { Graph, type Node } from '../ir/graph.js';
import { analyze } from '../ir/infer.js';
import '../ops/index.js';
import { InferenceSession } from '../runtime/session.js';
import type { Tensor } from '../tensor/tensor.js';
import { type SplitOptions, type SplitResult, split } from './split.js';

function medianMs(f: () => void, runs: number): number {
  f();
  const ts: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  ts.sort((x, y) => x - y);
  return ts[ts.length >> 1]!;
}

/** Median milliseconds per node name (0 for nodes folded at load). `feeds` must be valid inputs of `g`. */
export function profileNodes(g: Graph, feeds: Record<string, Tensor>, runs = 3): Map<string, number> {
  const a = analyze(g);
  const names = new Set<string>();
  for (const n of a.order) for (const o of n.outputs) if (o && !a.consts.has(o)) names.add(o);
  const values = InferenceSession.fromGraph(g).runSync(feeds, [...names]);
  const all = (x: string): Tensor | undefined => values[x] ?? feeds[x] ?? a.consts.get(x);
  const out = new Map<string, number>();
  for (const node of a.order) {
    if (node.outputs.every((o) => !o || a.consts.has(o))) {
      out.set(node.name, 0);
      continue;
    }
    const one = new Graph();
    one.opsets = { ...g.opsets };
    const f: Record<string, Tensor> = {};
    for (const x of new Set(node.inputs)) {
      if (!x) continue;
      const c = a.consts.get(x);
      if (c) one.initializers.set(x, c);
      else {
        const t = all(x)!;
        one.inputs.push({ name: x, type: { dtype: t.type, shape: [...t.dims] } });
        f[x] = t;
      }
    }
    one.nodes = [{ ...node } as Node];
    one.outputs = node.outputs.filter((o) => o).map((o) => ({ name: o, type: a.types.get(o) ?? { dtype: all(o)!.type } }));
    const s = InferenceSession.fromGraph(one);
    out.set(node.name, medianMs(() => s.runSync(f), runs));
  }
  return out;
}

/** Sample inputs for a part from a run of the whole chain. */
function partFeeds(parts: Graph[], feeds: Record<string, Tensor>): Record<string, Tensor>[] {
  const res: Record<string, Tensor>[] = [];
  let cur = feeds;
  for (const p of parts) {
    const s = InferenceSession.fromGraph(p);
    const f: Record<string, Tensor> = {};
    for (const n of s.inputNames) f[n] = cur[n]!;
    res.push(f);
    cur = s.runSync(f);
  }
  return res;
}

export interface MeasuredSplit extends SplitResult {
  /** measured median ms of each part (on this machine, one thread) */
  measuredMs: number[];
}

/**
 * `split` with `parts` = K, driven by measured times: start from profileNodes, then `iterations` rounds of
 * measure-the-parts-and-rescale. Returns the split with the fastest measured bottleneck (speed-adjusted).
 */
export function measuredSplit(g: Graph, opts: SplitOptions, feeds: Record<string, Tensor>, iterations = 3, runs = 5): MeasuredSplit {
  const nodeMs = profileNodes(g, feeds, runs);
  const speed = (i: number) => opts.deviceSpeed?.[i] ?? 1;
  let best: MeasuredSplit | undefined;
  let bestScore = Infinity;
  const seen = new Set<string>();
  for (let it = 0; it <= iterations; it++) {
    const r = split(g, { ...opts, nodeMs: new Map(nodeMs) });
    const key = r.info.map((p) => p.nodes).join(',');
    const pf = partFeeds(r.parts, feeds);
    const measured = r.parts.map((p, i) => {
      const s = InferenceSession.fromGraph(p);
      return medianMs(() => s.runSync(pf[i]!), runs);
    });
    const score = Math.max(...measured.map((m, i) => m / speed(i)));
    if (score < bestScore) {
      bestScore = score;
      best = Object.assign(r, { measuredMs: measured });
    }
    if (seen.has(key)) break; // converged (or cycling)
    seen.add(key);
    r.info.forEach((p, i) => {
      const est = p.nodeNames.reduce((s, n) => s + (nodeMs.get(n) ?? 0), 0);
      const f = est > 0 ? measured[i]! / est : 1;
      for (const n of p.nodeNames) nodeMs.set(n, (nodeMs.get(n) ?? 0) * f);
    });
  }
  return best!;
}
