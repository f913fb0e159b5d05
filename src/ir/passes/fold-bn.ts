import { Graph, type Node } from '../graph.js';
import { freshNames } from './names.js';
import { Tensor } from '../../tensor/tensor.js';

/**
 * Fold per-channel affine ops that follow a Conv into its weights (plan time, wasm backend):
 *
 *     y = Conv(x, W, B);  z = y·s + t   →   z = Conv(x, W', B'),  W'[m, …] = W[m, …]·s[m],  B'[m] = B[m]·s[m] + t[m]
 *
 * where the op after the conv is
 *  - BatchNormalization (training_mode = 0): ONNX "Y = (X - input_mean) / sqrt(input_var + epsilon) * scale + B" per
 *    channel (axis 1): s = scale / √(var + ε), t = B − mean·s;
 *  - Mul / Add by a constant, or Sub of a constant (ONNX multidirectional broadcasting), when the constant is a scalar
 *    or per channel ([M, 1, 1] / [1, M, 1, 1] on a 2-D conv's output): s = c or t = ±c. PaddleOCR exports scale and
 *    shift every conv this way ("mobile_one_block" Mul + Add).
 * Chains fold one op per round (Conv→Mul→Add→BN …). s and t are computed in double and rounded once, so the result
 * is exact up to float rounding. Only rewrites: float32 NCHW Conv with constant W (and B), its output used only by
 * the folded op and not a graph output. Constants are initializers or Constant nodes. Returns the graph unchanged
 * when nothing matches.
 */
export function foldBatchNorms(graph: Graph): Graph {
  let g = graph;
  for (let round = 0; round < 16; round++) {
    const next = foldIntoNext(foldOnce(g));
    if (next === g) break;
    g = next;
  }
  return g;
}

/** A float32 constant by value name: an initializer or the value of a Constant node. */
function constants(graph: Graph): (name: string | undefined) => Tensor | undefined {
  const fromNodes = new Map<string, Tensor>();
  for (const n of graph.nodes) if (n.op === 'Constant' && n.domain === '' && n.attrs.value instanceof Tensor && n.outputs[0]) fromNodes.set(n.outputs[0], n.attrs.value);
  return (name) => (name ? (graph.initializers.get(name) ?? fromNodes.get(name)) : undefined);
}

/**
 * An inference BatchNormalization as a per-channel affine y = x·s + t (ONNX: "Y = (X - input_mean) /
 * sqrt(input_var + epsilon) * scale + B"): s = scale/√(var + ε), t = B − mean·s, in double precision.
 */
export function batchNormAffine(scale: Float32Array, beta: Float32Array, mean: Float32Array, vr: Float32Array, eps: number): [Float64Array, Float64Array] {
  const m = scale.length;
  const s = new Float64Array(m);
  const t = new Float64Array(m);
  for (let o = 0; o < m; o++) {
    s[o] = scale[o]! / Math.sqrt(vr[o]! + eps);
    t[o] = beta[o]! - mean[o]! * s[o]!;
  }
  return [s, t];
}

/** The per-channel affine (s, t) of `op` applied to a conv output with m channels and rank r, or undefined. */
function affineOf(op: Node, y: string, m: number, r: number, constant: (name: string | undefined) => Tensor | undefined): [Float64Array, Float64Array] | undefined {
  const f32 = (name: string | undefined): Float32Array | undefined => {
    const t = constant(name);
    return t && t.type === 'float32' && t.dims.length === 1 && t.size === m ? (t.data as Float32Array) : undefined;
  };
  if (op.op === 'BatchNormalization') {
    if ((op.attrs.training_mode ?? 0) !== 0 || op.inputs[0] !== y || op.outputs.filter((o) => o).length !== 1) return undefined;
    const [scale, beta, mean, vr] = [1, 2, 3, 4].map((i) => f32(op.inputs[i]));
    if (!scale || !beta || !mean || !vr) return undefined;
    return batchNormAffine(scale, beta, mean, vr, typeof op.attrs.epsilon === 'number' ? op.attrs.epsilon : 1e-5);
  }
  if (op.op !== 'Mul' && op.op !== 'Add' && op.op !== 'Sub') return undefined;
  if (op.inputs.length !== 2 || op.outputs.length !== 1) return undefined;
  const k = op.inputs[0] === y ? 1 : 0;
  if (op.inputs[1 - k] !== y || op.inputs[k] === y || (op.op === 'Sub' && k !== 1)) return undefined;
  const c = constant(op.inputs[k]);
  // ONNX broadcasting: the constant, right-aligned to the conv output's rank, must be 1 everywhere but the channel axis
  if (!c || c.type !== 'float32' || c.dims.length > r) return undefined;
  const pad = [...new Array<number>(r - c.dims.length).fill(1), ...c.dims];
  if (pad.some((d, i) => d !== 1 && !(i === 1 && d === m))) return undefined;
  const v = c.data as Float32Array;
  const s = new Float64Array(m).fill(1);
  const t = new Float64Array(m);
  for (let o = 0; o < m; o++) {
    const cv = v[c.size === 1 ? 0 : o]!;
    if (op.op === 'Mul') s[o] = cv;
    else t[o] = op.op === 'Add' ? cv : -cv;
  }
  return [s, t];
}

function foldOnce(graph: Graph): Graph {
  const uses = new Map<string, number>();
  const consumer = new Map<string, Node>();
  for (const n of graph.nodes)
    for (const x of n.inputs)
      if (x) {
        uses.set(x, (uses.get(x) ?? 0) + 1);
        consumer.set(x, n);
      }
  for (const o of graph.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const constant = constants(graph);
  const pairs: [Node, Node, Float64Array, Float64Array][] = [];
  for (const conv of graph.nodes) {
    if (conv.op !== 'Conv' || conv.domain !== '' || uses.get(conv.outputs[0]!) !== 1) continue;
    if ((conv.attrs.data_layout ?? 'NCHW') !== 'NCHW' || (conv.attrs.weight_layout ?? 'OIHW') !== 'OIHW') continue;
    const w = constant(conv.inputs[1]);
    if (!w || w.type !== 'float32' || w.dims.length < 3) continue;
    const m = w.dims[0]!;
    const b = conv.inputs[2] ? constant(conv.inputs[2]) : undefined;
    if (conv.inputs[2] && !(b && b.type === 'float32' && b.dims.length === 1 && b.size === m)) continue;
    const op = consumer.get(conv.outputs[0]!);
    if (!op || op.domain !== '') continue; // a graph output
    const st = affineOf(op, conv.outputs[0]!, m, w.dims.length, constant);
    if (st) pairs.push([conv, op, ...st]);
  }
  if (!pairs.length) return graph;
  const g = graph.clone();
  const fresh = freshNames(g);
  const dropped = new Set<string>();
  for (const [conv0, op0, s, t] of pairs) {
    const conv = g.nodes[graph.nodes.indexOf(conv0)]!;
    const op = g.nodes[graph.nodes.indexOf(op0)]!;
    const w = constant(conv.inputs[1])!;
    const m = w.dims[0]!;
    const per = w.size / m;
    const wd = w.data as Float32Array;
    const b = conv.inputs[2] ? (constant(conv.inputs[2])!.data as Float32Array) : new Float32Array(m);
    const w2 = new Float32Array(w.size);
    const b2 = new Float32Array(m);
    for (let o = 0; o < m; o++) {
      for (let i = o * per; i < (o + 1) * per; i++) w2[i] = wd[i]! * s[o]!;
      b2[o] = b[o]! * s[o]! + t[o]!;
    }
    const wName = fresh(`${conv.inputs[1]}_folded`);
    const bName = fresh(`${conv.name || 'conv'}_folded_bias`);
    g.initializers.set(wName, new Tensor('float32', w2, [...w.dims]));
    g.initializers.set(bName, new Tensor('float32', b2, [m]));
    dropped.add(conv.inputs[1]!);
    if (conv.inputs[2]) dropped.add(conv.inputs[2]);
    conv.inputs = [conv.inputs[0]!, wName, bName];
    conv.outputs = [op.outputs.find((o) => o)!];
  }
  const gone = new Set(pairs.map(([, op]) => g.nodes[graph.nodes.indexOf(op)]!));
  g.nodes = g.nodes.filter((n) => !gone.has(n));
  // the original weights (and the folded ops' constants) are garbage now unless something else reads them
  const still = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) still.add(o.name);
  for (const d of dropped) if (!still.has(d)) g.initializers.delete(d);
  g.nodes = g.nodes.filter((n) => !(n.op === 'Constant' && n.outputs.every((o) => !o || !still.has(o))));
  return g;
}

/**
 * The other direction, for a per-channel affine that a nonlinearity separates from the conv before it (MediaPipe's
 * BlazeBlocks: Conv → PRelu → depthwise 1×1 "batch norm" → Conv): an affine feeding an unpadded Conv folds into
 * that conv's weights,
 *
 *     u = x·s + t (per input channel c);  z = Conv(u, W, B)   →   z = Conv(x, W', B'),
 *     W'[m, c, …] = W[m, c, …]·s[c],  B'[m] = B[m] + Σ_{c, taps} W[m, c, taps]·t[c]
 *
 * exact up to float rounding only without padding (a padded tap would read 0, not t) — so only convs with all pads 0
 * (auto_pad NOTSET or VALID) and group 1. The affine is a depthwise 1×1 Conv (W [C, 1, 1, 1], group C, stride 1, no
 * pads, its bias t). Its output must feed only that conv and not be a graph output.
 */
function foldIntoNext(graph: Graph): Graph {
  const uses = new Map<string, number>();
  const consumer = new Map<string, Node>();
  for (const n of graph.nodes)
    for (const x of n.inputs)
      if (x) {
        uses.set(x, (uses.get(x) ?? 0) + 1);
        consumer.set(x, n);
      }
  for (const o of graph.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const constant = constants(graph);
  const zeros = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => x === 0));
  const ones = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => x === 1));
  const plainConv = (n: Node) => n.op === 'Conv' && n.domain === '' && (n.attrs.data_layout ?? 'NCHW') === 'NCHW' && (n.attrs.weight_layout ?? 'OIHW') === 'OIHW' && ['NOTSET', 'VALID'].includes((n.attrs.auto_pad as string | undefined) ?? 'NOTSET') && zeros(n.attrs.pads);
  const f32 = (name: string | undefined, len: number) => {
    const t = constant(name);
    return t && t.type === 'float32' && t.size === len ? t : undefined;
  };
  const pairs: [Node, Node][] = [];
  const taken = new Set<Node>();
  for (const aff of graph.nodes) {
    if (!plainConv(aff) || !ones(aff.attrs.strides) || uses.get(aff.outputs[0]!) !== 1) continue;
    const s = constant(aff.inputs[1]);
    if (!s || s.type !== 'float32' || s.dims.length !== 4 || s.dims.slice(1).some((d) => d !== 1)) continue;
    const c = s.dims[0]!;
    if ((aff.attrs.group ?? 1) !== c || c < 2 || (aff.inputs[2] && !f32(aff.inputs[2], c))) continue;
    const next = consumer.get(aff.outputs[0]!);
    if (!next || taken.has(next) || !plainConv(next) || (next.attrs.group ?? 1) !== 1 || next.inputs[0] !== aff.outputs[0] || next.inputs.slice(1).includes(aff.outputs[0]!)) continue;
    const w = constant(next.inputs[1]);
    if (!w || w.type !== 'float32' || w.dims.length !== 4 || w.dims[1] !== c) continue;
    if (next.inputs[2] && !f32(next.inputs[2], w.dims[0]!)) continue;
    pairs.push([aff, next]);
    taken.add(next);
    taken.add(aff);
  }
  if (!pairs.length) return graph;
  const g = graph.clone();
  const fresh = freshNames(g);
  const dropped = new Set<string>();
  for (const [aff0, next0] of pairs) {
    const aff = g.nodes[graph.nodes.indexOf(aff0)]!;
    const conv = g.nodes[graph.nodes.indexOf(next0)]!;
    const sd = constant(aff.inputs[1])!.data as Float32Array;
    const c = sd.length;
    const td = aff.inputs[2] ? (constant(aff.inputs[2])!.data as Float32Array) : new Float32Array(c);
    const w = constant(conv.inputs[1])!;
    const m = w.dims[0]!;
    const taps = w.dims[2]! * w.dims[3]!;
    const wd = w.data as Float32Array;
    const b = conv.inputs[2] ? (constant(conv.inputs[2])!.data as Float32Array) : new Float32Array(m);
    const w2 = new Float32Array(w.size);
    const b2 = new Float32Array(m);
    for (let o = 0; o < m; o++) {
      let acc = b[o]!;
      for (let ci = 0; ci < c; ci++)
        for (let k = 0; k < taps; k++) {
          const i = (o * c + ci) * taps + k;
          w2[i] = wd[i]! * sd[ci]!;
          acc += wd[i]! * td[ci]!;
        }
      b2[o] = acc;
    }
    const wName = fresh(`${conv.inputs[1]}_folded`);
    const bName = fresh(`${conv.name || 'conv'}_folded_bias`);
    g.initializers.set(wName, new Tensor('float32', w2, [...w.dims]));
    g.initializers.set(bName, new Tensor('float32', b2, [m]));
    for (const x of [...aff.inputs.slice(1), ...conv.inputs.slice(1)]) if (x) dropped.add(x);
    conv.inputs = [aff.inputs[0]!, wName, bName];
  }
  const gone = new Set(pairs.map(([aff]) => g.nodes[graph.nodes.indexOf(aff)]!));
  g.nodes = g.nodes.filter((n) => !gone.has(n));
  const still = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) still.add(o.name);
  for (const d of dropped) if (!still.has(d)) g.initializers.delete(d);
  g.nodes = g.nodes.filter((n) => !(n.op === 'Constant' && n.outputs.every((o) => !o || !still.has(o))));
  return g;
}
