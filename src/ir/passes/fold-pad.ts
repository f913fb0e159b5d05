import type { Graph, Node } from '../graph.js';
import { type Analysis, analyze } from '../infer.js';

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
 * Only 2-D convs with default layouts, non-negative spatial pads, and a Pad output read by convs alone (as their data
 * input; several convs each fold the pad into their own pads), never a graph output.
 */
export function foldPads(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.op === 'Pad')) return graph;
  // every reader of each value (a node reading it twice counts twice), graph outputs as readers that never fold
  const readers = new Map<string, (Node | undefined)[]>();
  const read = (x: string, n: Node | undefined) => (readers.get(x) ?? readers.set(x, []).get(x)!).push(n);
  for (const n of graph.nodes) for (const x of n.inputs) if (x) read(x, n);
  for (const o of graph.outputs) read(o.name, undefined);
  const isConv = (c: Node | undefined): c is Node => !!c && (c.op === 'Conv' || c.op === 'QLinearConv') && c.domain === '';
  // a Pad folds when every reader is a conv reading it as its input: Keras' ZeroPadding2D before a stride-2 VALID
  // conv is often read by two convs (BlazePose's detector: two depthwise branches of one padded input)
  const pads = graph.nodes.filter((p) => p.op === 'Pad' && p.domain === '' && (readers.get(p.outputs[0] ?? '') ?? []).every((c) => isConv(c) && c.inputs.indexOf(p.outputs[0]!) === 0 && c.inputs.lastIndexOf(p.outputs[0]!) === 0));
  if (!pads.length) return graph;
  const { types, consts } = analyze(graph);
  const folds = new Map<Node, { pad: Node; attrs: Record<string, unknown> }>();
  for (const pad of pads) {
    const convs = readers.get(pad.outputs[0]!)! as Node[];
    const attrs = convs.map((conv) => foldedAttrs(pad, conv, types, consts));
    if (attrs.some((a) => !a)) continue;
    convs.forEach((conv, i) => folds.set(conv, { pad, attrs: attrs[i]! }));
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

/** `conv`'s attributes with `pad` folded into its pads, or undefined when that is not exact (see foldPads). */
function foldedAttrs(pad: Node, conv: Node, types: Analysis['types'], consts: Analysis['consts']): Record<string, unknown> | undefined {
  if ((pad.attrs.mode ?? 'constant') !== 'constant' || pad.inputs[3]) return undefined;
  if ((conv.attrs.data_layout ?? 'NCHW') !== 'NCHW' || (conv.attrs.weight_layout ?? 'OIHW') !== 'OIHW') return undefined;
  const pt = consts.get(pad.inputs[1] ?? '');
  if (!pt || pt.type !== 'int64' || pt.size !== 8) return undefined;
  const p = Array.from(pt.data as BigInt64Array, Number);
  if (p.some((v) => v < 0) || p[0] || p[1] || p[4] || p[5]) return undefined; // batch / channel pads stay
  const cv = pad.inputs[2] ? consts.get(pad.inputs[2]) : undefined;
  if (pad.inputs[2] && !cv) return undefined;
  const value = cv ? Number((cv.data as ArrayLike<number>)[0]) : 0;
  if (conv.op === 'Conv' && value !== 0) return undefined;
  if (conv.op === 'QLinearConv') {
    const zp = consts.get(conv.inputs[2] ?? '');
    if (!zp || zp.size !== 1 || Number((zp.data as ArrayLike<number>)[0]) !== value || cv?.type !== zp.type) return undefined;
  }
  const x = types.get(conv.inputs[0]!)?.shape; // the padded input
  const w = types.get(conv.inputs[conv.op === 'Conv' ? 1 : 3] ?? '')?.shape;
  if (!x || x.length !== 4 || !w || w.length !== 4) return undefined;
  const own = explicitPads(conv.attrs, x, w);
  if (!own) return undefined;
  const attrs: Record<string, unknown> = { ...conv.attrs, pads: [own[0]! + p[2]!, own[1]! + p[3]!, own[2]! + p[6]!, own[3]! + p[7]!] };
  delete attrs.auto_pad;
  return attrs;
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
