/**
 * Accuracy-aware quantization: quantize everything, and when top-1 on the given data drops by more than the
 * allowed budget, rank the weighted layers by their sensitivity — the model-output SQNR (vs fp32, on the
 * calibration data) when that layer alone is quantized — and let the k most sensitive layers fall back to
 * float (fp16 weights behind a Cast first, fp32 if that is not enough) for k = 0, 1, 2, … until the budget is
 * met, then tries to quantize each fallen-back layer again (least sensitive first) and keeps every one that
 * still meets the budget. The result is the smallest model this greedy search visits.
 */
import { InputError } from '../errors.js';
import type { Graph, Node } from '../ir/graph.js';
import { evaluate } from '../runtime/evaluate.js';
import { writeOnnx } from '../formats/onnx/writer.js';
import { floats } from '../ops/util.js';
import { InferenceSession } from '../runtime/session.js';
import { f32ArrayToF16 } from '../tensor/fp16.js';
import { Tensor } from '../tensor/tensor.js';
import { calibFeeds } from './calibrate.js';
import { Names, mkNode } from './graph-util.js';
import { sqnrDb } from './params.js';
import type { LayerQuant, QuantizeOptions, QuantizeResult } from './quantize.js';

export type Fallback = 'fp16' | 'fp32';

export interface AccuracyCandidate {
  /** layers kept float, with how */
  fallback: Record<string, Fallback>;
  accuracy: number;
  bytes: number;
  meets: boolean;
}

export interface AccuracyReport {
  fp32: number;
  quantized: number;
  /** allowed drop in percentage points */
  maxDrop: number;
  met: boolean;
  samples: number;
  /** layer name -> model-output SQNR (dB) with only that layer quantized; ascending = most sensitive first */
  sensitivity: { node: string; op: string; sqnr: number }[];
  candidates: AccuracyCandidate[];
}

type QuantizeFn = (g: Graph, o: QuantizeOptions) => Promise<QuantizeResult>;

const ONNX_FLOAT = 1;

/** Top-1 of a graph on the evaluation set. */
async function top1(g: Graph, x: Tensor, y: ArrayLike<number>): Promise<number> {
  const s = InferenceSession.fromGraph(g);
  try {
    return (await evaluate(s, x, y, { batch: 500 })).accuracy;
  } finally {
    void s.release();
  }
}

/** First ≤ n samples of each calibration feed. */
function head(src: Graph, o: QuantizeOptions, n: number): Record<string, Tensor> {
  const { feeds, samples } = calibFeeds(src, o.calib!);
  const b = Math.min(samples, n);
  const f: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) f[k] = new Tensor(t.type, t.typed.subarray(0, (t.size / t.dims[0]!) * b) as never, [b, ...t.dims.slice(1)]);
  return f;
}

/** SQNR (dB) of every float graph output of `q` against `ref` (summed over outputs). */
function outputSqnr(ref: Record<string, Tensor>, q: Record<string, Tensor>): number {
  let s = 0;
  let e = 0;
  for (const [k, a] of Object.entries(ref)) {
    const b = q[k];
    if (!b || a.type !== 'float32') continue;
    const x = floats(a);
    const y = floats(b);
    for (let i = 0; i < x.length; i++) {
      s += x[i]! * x[i]!;
      e += (x[i]! - y[i]!) ** 2;
    }
  }
  return sqnrDb(s, e);
}

/**
 * Keep `nodes` float with float16 weights: each float32 initializer input becomes a float16 initializer and
 * a Cast back to float32 in front of the node (the arithmetic stays float32, the file stores half the bytes).
 */
export function fp16Weights(g: Graph, nodes: ReadonlySet<string>): void {
  const names = new Names(g);
  const casts: Node[] = [];
  const done = new Map<string, string>();
  for (const n of g.nodes) {
    if (!nodes.has(n.name)) continue;
    n.inputs = n.inputs.map((x, i) => {
      const t = i > 0 && x ? g.initializers.get(x) : undefined;
      if (!t || t.type !== 'float32') return x;
      let c = done.get(x);
      if (!c) {
        const h = names.take(`${x}_fp16`);
        g.initializers.set(h, new Tensor('float16', f32ArrayToF16(floats(t)), t.dims));
        c = names.take(`${x}_fp16_float`);
        casts.push(mkNode(names.take(`${x}_Cast`), 'Cast', [h], [c], { to: ONNX_FLOAT }));
        done.set(x, c);
      }
      return c;
    });
  }
  g.nodes = [...casts, ...g.nodes];
  const used = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of g.nodes) for (const x of n.inputs) used.add(x);
  for (const k of [...g.initializers.keys()]) if (!used.has(k)) g.initializers.delete(k);
}

/** Fused activation names a compute node brings along when it is quantized on its own. */
function fusedWith(g: Graph, n: Node): string[] {
  const y = n.outputs[0];
  const cs = g.nodes.filter((m) => m.inputs.includes(y!));
  return cs.length === 1 && (cs[0]!.op === 'Relu' || cs[0]!.op === 'Clip') ? [cs[0]!.name] : [];
}

export async function quantizeAccuracyAware(graph: Graph, o: QuantizeOptions, quantize: QuantizeFn): Promise<QuantizeResult> {
  const maxDrop = o.maxAccuracyDrop!;
  if (!(maxDrop >= 0) || !Number.isFinite(maxDrop)) throw new InputError(`max accuracy drop must be a finite number of percentage points ≥ 0, got ${maxDrop}`);
  if ((o.mode ?? 'static') !== 'static') throw new InputError('the accuracy-aware mode works on static quantization');
  const ev = o.evalData;
  if (!ev) throw new InputError('the accuracy-aware mode needs evaluation data and labels (evalData)');
  const inner: QuantizeOptions = { ...o };
  delete inner.maxAccuracyDrop;
  delete inner.evalData;

  const fp32 = await top1(graph, ev.x, ev.labels);
  const full = await quantize(graph, inner);
  const fullAcc = await top1(full.graph, ev.x, ev.labels);
  const ok = (acc: number) => (fp32 - acc) * 100 <= maxDrop + 1e-9;
  const report: AccuracyReport = { fp32, quantized: fullAcc, maxDrop, met: ok(fullAcc), samples: ev.labels.length, sensitivity: [], candidates: [{ fallback: {}, accuracy: fullAcc, bytes: writeOnnx(full.graph).length, meets: ok(fullAcc) }] };
  const weighted = full.layers.filter((l) => l.weight);

  // sensitivity: the model with only this layer (and its fused activation) quantized, vs fp32
  const feeds = head(graph, o, 256);
  const fs = InferenceSession.fromGraph(graph);
  const ref = fs.runSync(feeds);
  void fs.release();
  const all = graph.nodes.map((n) => n.name);
  for (const l of weighted) {
    const n = graph.nodes.find((m) => m.name === l.node);
    const keep = new Set([l.node, ...(n ? fusedWith(graph, n) : [])]);
    const r = await quantize(graph, { ...inner, exclude: [...(inner.exclude ?? []), ...all.filter((x) => !keep.has(x))], report: false });
    const s = InferenceSession.fromGraph(r.graph);
    const sq = outputSqnr(ref, s.runSync(feeds));
    void s.release();
    report.sensitivity.push({ node: l.node, op: l.op, sqnr: sq });
  }
  report.sensitivity.sort((a, b) => a.sqnr - b.sqnr);
  const soloOf = new Map(report.sensitivity.map((x) => [x.node, x.sqnr]));
  for (const l of full.layers) if (soloOf.has(l.node)) l.soloSqnr = soloOf.get(l.node)!;
  if (report.met) return { ...full, accuracy: report, options: o };

  let best: { r: QuantizeResult; fb: Record<string, Fallback>; acc: number } | undefined;
  let chosen: { r: QuantizeResult; fb: Record<string, Fallback> } | undefined;
  const order = report.sensitivity.map((x) => x.node);
  search: for (let k = 1; k <= order.length; k++) {
    for (const how of ['fp16', 'fp32'] as const) {
      const fb: Record<string, Fallback> = {};
      for (const name of order.slice(0, k)) fb[name] = how;
      const r = await quantize(graph, { ...inner, exclude: [...(inner.exclude ?? []), ...order.slice(0, k)] });
      if (how === 'fp16') fp16Weights(r.graph, new Set(order.slice(0, k)));
      const acc = await top1(r.graph, ev.x, ev.labels);
      const meets = ok(acc);
      report.candidates.push({ fallback: fb, accuracy: acc, bytes: writeOnnx(r.graph).length, meets });
      if (!best || acc > best.acc) best = { r, fb, acc };
      if (meets) {
        chosen = { r, fb };
        break search;
      }
    }
  }
  // backward pass: try to quantize each fallen-back layer again, least sensitive first; keep what still meets
  if (chosen) {
    const names = Object.keys(chosen.fb);
    for (const name of names.slice().reverse()) {
      if (Object.keys(chosen.fb).length <= 1) break;
      const fb: Record<string, Fallback> = { ...chosen.fb };
      delete fb[name];
      const ex = Object.keys(fb);
      const r = await quantize(graph, { ...inner, exclude: [...(inner.exclude ?? []), ...ex] });
      const f16 = ex.filter((k) => fb[k] === 'fp16');
      if (f16.length) fp16Weights(r.graph, new Set(f16));
      const acc = await top1(r.graph, ev.x, ev.labels);
      const meets = ok(acc);
      report.candidates.push({ fallback: fb, accuracy: acc, bytes: writeOnnx(r.graph).length, meets });
      if (meets) chosen = { r, fb };
    }
  }
  const pick = chosen ?? best!;
  report.met = !!chosen;
  report.quantized = report.candidates.find((c) => c.fallback === pick.fb)!.accuracy;
  const res = pick.r;
  // the fallen-back layers: listed as layers with their setting, and no longer as "excluded"
  const fbLayers: LayerQuant[] = [];
  for (const [name, how] of Object.entries(pick.fb)) {
    const prev = full.layers.find((l) => l.node === name)!;
    fbLayers.push({
      node: name,
      op: prev.op,
      ...(prev.weight ? { weight: prev.weight } : {}),
      ...(prev.weightSqnr !== undefined ? { weightSqnr: prev.weightSqnr } : {}),
      soloSqnr: soloOf.get(name)!,
      fallback: how,
      setting: how === 'fp16' ? 'float, fp16 weights (accuracy fallback)' : 'float32 (accuracy fallback)',
    });
  }
  res.skipped = res.skipped.filter((s) => !(s.node in pick.fb) || s.reason !== 'excluded');
  for (const l of res.layers) if (soloOf.has(l.node)) l.soloSqnr = soloOf.get(l.node)!;
  const pos = new Map(graph.nodes.map((n, i) => [n.name, i]));
  res.layers = [...res.layers, ...fbLayers].sort((a, b) => (pos.get(a.node) ?? 1e9) - (pos.get(b.node) ?? 1e9));
  return { ...res, accuracy: report, options: o };
}
