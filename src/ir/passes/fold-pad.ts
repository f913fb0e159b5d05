import type { Graph, Node } from '../graph.js';
import { analyze } from '../infer.js';

/**
 * Fold an explicit constant Pad into the NCHW convolution that reads it (plan time, wasm backend, after the layout
 * pass): TFLite models pad explicitly before a stride-2 VALID conv (PAD then CONV_2D / DEPTHWISE_CONV_2D).
 *
 *     y = Pad(x, pads = [0, 0, t, l, 0, 0, b, r], value v);  z = Conv(y, W, …, auto_pad / pads p)
 *       →  z = Conv(x, W, …, pads = p + [t, l, b, r])
 *
 * Exact because a conv's own padding reads as zero — for float Conv that is v = 0; for QLinearConv the padded input
 * is the code x_zero_point (ONNX QLinearConv / TFLite conv.h: padding contributes (x_zp − x_zp)·w = 0), so v must
 * equal x_zero_point. SAME_UPPER / SAME_LOWER convs are resolved to explicit pads first (static shapes only).
 * Only 2-D convs with default layouts, non-negative spatial pads, and a Pad output read by that conv alone.
 */
export function foldPads(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.op === 'Pad')) return graph;
  const uses = new Map<string, number>();
  for (const n of graph.nodes) for (const x of n.inputs) if (x) uses.set(x, (uses.get(x) ?? 0) + 1);
  for (const o of graph.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const candidates = graph.nodes.filter((c) => (c.op === 'Conv' || c.op === 'QLinearConv') && c.domain === '' && producer.get(c.inputs[0] ?? '')?.op === 'Pad');
  if (!candidates.length) return graph;
  const { types, consts } = analyze(graph);
  const folds = new Map<Node, { pad: Node; attrs: Record<string, unknown> }>();
  for (const conv of candidates) {
    const pad = producer.get(conv.inputs[0]!)!;
    if (pad.domain !== '' || (pad.attrs.mode ?? 'constant') !== 'constant' || pad.inputs[3] || uses.get(pad.outputs[0]!) !== 1) continue;
    if ((conv.attrs.data_layout ?? 'NCHW') !== 'NCHW' || (conv.attrs.weight_layout ?? 'OIHW') !== 'OIHW') continue;
    const pt = consts.get(pad.inputs[1] ?? '');
    if (!pt || pt.type !== 'int64' || pt.size !== 8) continue;
    const p = Array.from(pt.data as BigInt64Array, Number);
    if (p.some((v) => v < 0) || p[0] || p[1] || p[4] || p[5]) continue; // batch / channel pads stay
    const cv = pad.inputs[2] ? consts.get(pad.inputs[2]) : undefined;
    if (pad.inputs[2] && !cv) continue;
    const value = cv ? Number((cv.data as ArrayLike<number>)[0]) : 0;
    if (conv.op === 'Conv' && value !== 0) continue;
    if (conv.op === 'QLinearConv') {
      const zp = consts.get(conv.inputs[2] ?? '');
      if (!zp || zp.size !== 1 || Number((zp.data as ArrayLike<number>)[0]) !== value || cv?.type !== zp.type) continue;
    }
    const x = types.get(conv.inputs[0]!)?.shape; // the padded input
    const w = types.get(conv.inputs[conv.op === 'Conv' ? 1 : 3] ?? '')?.shape;
    if (!x || x.length !== 4 || !w || w.length !== 4) continue;
    const own = explicitPads(conv.attrs, x, w);
    if (!own) continue;
    const pads = [own[0]! + p[2]!, own[1]! + p[3]!, own[2]! + p[6]!, own[3]! + p[7]!];
    const attrs: Record<string, unknown> = { ...conv.attrs, pads };
    delete attrs.auto_pad;
    folds.set(conv, { pad, attrs });
  }
  if (!folds.size) return graph;
  const g = graph.clone();
  const dropped = new Set<number>();
  for (const [conv0, { pad, attrs }] of folds) {
    const conv = g.nodes[graph.nodes.indexOf(conv0)]!;
    conv.inputs = [pad.inputs[0]!, ...conv.inputs.slice(1)];
    conv.attrs = attrs as Node['attrs'];
    dropped.add(graph.nodes.indexOf(pad));
  }
  g.nodes = g.nodes.filter((_, i) => !dropped.has(i));
  return g;
}

/** A 2-D conv's pads [top, left, bottom, right] with auto_pad resolved (static input and kernel dims), or undefined. */
function explicitPads(a: Record<string, unknown>, x: (number | string)[], w: (number | string)[]): number[] | undefined {
  const auto = (a.auto_pad as string | undefined) ?? 'NOTSET';
  if (auto === 'VALID') return [0, 0, 0, 0];
  if (auto === 'NOTSET') return (a.pads as number[] | undefined) ?? [0, 0, 0, 0];
  const s = (a.strides as number[] | undefined) ?? [1, 1];
  const d = (a.dilations as number[] | undefined) ?? [1, 1];
  const out: number[] = [0, 0, 0, 0];
  for (let i = 0; i < 2; i++) {
    const n = x[2 + i];
    const k = w[2 + i];
    if (typeof n !== 'number' || typeof k !== 'number') return undefined;
    // ONNX auto_pad SAME_*: output = ceil(in / stride); total = max(0, (out − 1)·s + (k − 1)·d + 1 − in), the odd
    // one at the end (SAME_UPPER) or the beginning (SAME_LOWER)
    const o = Math.ceil(n / s[i]!);
    const total = Math.max(0, (o - 1) * s[i]! + (k - 1) * d[i]! + 1 - n);
    const lo = auto === 'SAME_LOWER' ? Math.ceil(total / 2) : Math.floor(total / 2);
    out[i] = lo;
    out[i + 2] = total - lo;
  }
  return out;
}
