import type { Graph, Node } from '../graph.js';
import { freshNames } from './names.js';
import { analyze } from '../infer.js';
import { TFL_DOMAIN } from '../layout.js';
import { Tensor } from '../../tensor/tensor.js';
import { allocData } from '../../tensor/dtype.js';

/**
 * The layout pass (docs/layout.md): the kernels are NCHW (float Conv incl. Winograd and depthwise, pooling,
 * eltwise, the int8 conv), TFLite models are NHWC. At plan time (wasm backend) every NHWC Conv / QLinearConv /
 * MaxPool / AveragePool becomes its NCHW form with the weights re-laid-out once (OHWI → OIHW, 1HWO → [O,1,H,W]),
 * and the tensors stay NCHW between kernels:
 *
 *  - each 4-D value is held in NHWC (as the model defines it), in NCHW (a renamed value), or both;
 *  - a layout-sensitive node takes the NCHW form of its input and makes only the NCHW form of its output;
 *  - an NHWC DepthToSpace of a value held in NCHW becomes its NCHW (ONNX) form;
 *  - a layout-agnostic node (pointwise unary ops, broadcasting binary ops with constants permuted, Concat with the
 *    axis remapped, Pad with the pads permuted) whose activation input is held in NCHW is rewritten on the NCHW
 *    forms; its other 4-D inputs are transposed (constants once, here);
 *  - anything else (Reshape, Squeeze, graph outputs, ops whose axes this pass does not know) reads the NHWC form,
 *    which a Transpose(perm 0,2,3,1) materializes once, where first needed.
 *
 * So Transposes appear only at graph edges and before layout-sensitive ops the pass does not rewrite; pairs never
 * arise (nothing is transposed back and forth). The rewritten ops compute the same numbers in the same order per
 * output element (float kernels: within 1e-5 rel of the reference; the int8 conv with rounding 'tflite': the
 * same integers). Returns the graph unchanged when it has no NHWC conv or pool.
 */
export function nhwcToNchw(graph: Graph): Graph {
  if (!graph.nodes.some(isSensitive)) return graph;
  const { types, consts } = analyze(graph);
  const g = graph.clone();
  const rank = (x: string) => types.get(x)?.shape?.length;
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const fresh = freshNames(g);
  const readers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const x of n.inputs) if (x) (readers.get(x) ?? readers.set(x, []).get(x)!).push(n);
  /** every reader of n's output is a layout-sensitive node (it would transpose n's output anyway) */
  const feedsSensitive = (n: Node): boolean => {
    const rs = readers.get(n.outputs[0] ?? '') ?? [];
    return rs.length > 0 && rs.every(isSensitive) && !g.outputs.some((o) => o.name === n.outputs[0]);
  };
  /** NCHW form of a 4-D value (a renamed value) */
  const nchw = new Map<string, string>();
  /** values whose NHWC form exists (graph inputs, initializers, outputs of nodes left as they are) */
  const nhwc = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  const out: Node[] = [];
  const transpose = (x: string, perm: number[], y: string, tag: string): void => {
    out.push({ name: fresh(`${x}_${tag}`), op: 'Transpose', domain: '', inputs: [x], outputs: [y], attrs: { perm } });
  };
  /** the NHWC form of x, materialized from its NCHW form on first need */
  const needNhwc = (x: string): string => {
    if (!x || nhwc.has(x) || !nchw.has(x)) return x;
    transpose(nchw.get(x)!, [0, 2, 3, 1], x, 'to_nhwc');
    nhwc.add(x);
    return x;
  };
  /** the NCHW form of a 4-D value x (a Transpose from its NHWC form on first need) */
  const needNchw = (x: string): string => {
    const have = nchw.get(x);
    if (have) return have;
    const y = fresh(`${x}_nchw`);
    transpose(x, [0, 3, 1, 2], y, 'to_nchw');
    nchw.set(x, y);
    return y;
  };
  /** a constant permuted by `perm` (an initializer, or one Cast / DequantizeLinear of an initializer): its new name */
  const permuteConst = (x: string, perm: number[], dims?: number[]): string | undefined => {
    const t = g.initializers.get(x);
    if (t) {
      const name = fresh(`${x}_nchw`);
      g.initializers.set(name, permute(dims ? t.reshape(dims) : t, perm));
      return name;
    }
    const p = producer.get(x);
    if (!p || p.outputs.length !== 1 || !(p.op === 'Cast' || p.op === 'DequantizeLinear') || p.domain !== '') return undefined;
    const src = g.initializers.get(p.inputs[0] ?? '');
    if (!src || p.inputs.slice(1).some((s) => s && (g.initializers.get(s)?.size ?? 2) !== 1)) return undefined; // per-axis DQ: no
    const name = fresh(`${p.inputs[0]}_nchw`);
    g.initializers.set(name, permute(dims ? src.reshape(dims) : src, perm));
    const y = fresh(`${x}_nchw`);
    out.push({ ...p, name: fresh(`${p.name}_nchw`), inputs: [name, ...p.inputs.slice(1)], outputs: [y], attrs: { ...p.attrs } });
    return y;
  };
  const addConst = (base: string, t: Tensor): string => {
    const name = fresh(base);
    g.initializers.set(name, t);
    return name;
  };
  /** the output of a rewritten node: NCHW form only */
  const makeNchw = (n: Node): Node => {
    const y = n.outputs[0]!;
    const yn = fresh(`${y}_nchw`);
    nchw.set(y, yn);
    return { ...n, outputs: [yn, ...n.outputs.slice(1)] };
  };

  for (const n0 of g.nodes) {
    const gap = globalMean(n0, rank, consts, nchw);
    if (gap) {
      // ReduceMean over H and W of an NCHW-held value: GlobalAveragePool (the pooling kernel), squeezed for keepdims 0
      const keep = (n0.attrs.keepdims ?? 1) !== 0;
      const y = n0.outputs[0]!;
      const pooled = fresh(`${y}_nchw`);
      out.push({ name: fresh(`${n0.name}_gap`), op: 'GlobalAveragePool', domain: '', inputs: [nchw.get(n0.inputs[0]!)!], outputs: [pooled], attrs: {} });
      if (keep) nchw.set(y, pooled);
      else {
        out.push({ name: fresh(`${n0.name}_squeeze`), op: 'Reshape', domain: '', inputs: [pooled, addConst(`${n0.name}_shape`, new Tensor('int64', BigInt64Array.of(0n, -1n), [2]))], outputs: [y], attrs: {} });
        nhwc.add(y);
      }
      continue;
    }
    let n: Node | undefined;
    if ((isSensitive(n0) && n0.outputs.filter((o) => o).length === 1 && rank(n0.inputs[0]!) === 4) || nchwDepthToSpace(n0, nchw)) n = rewriteSensitive(n0, needNchw, permuteConst);
    else if (agnostic(n0, types, consts, nchw, feedsSensitive)) n = rewriteAgnostic(n0, types, consts, needNchw, permuteConst, addConst);
    if (n) {
      out.push(makeNchw(n));
      continue;
    }
    const kept = { ...n0, inputs: n0.inputs.map(needNhwc) };
    out.push(kept);
    for (const o of kept.outputs) if (o) nhwc.add(o);
  }
  for (const o of g.outputs) needNhwc(o.name);
  g.nodes = out;
  // weights no longer read (their NCHW copies replaced them)
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) read.add(o.name);
  for (const k of [...g.initializers.keys()]) if (!read.has(k) && graph.initializers.has(k)) g.initializers.delete(k);
  // the weights' Cast / DequantizeLinear nodes whose NCHW clones replaced them
  g.nodes = g.nodes.filter((n) => !(n.inputs.length && n.inputs.every((x) => !x || g.initializers.has(x)) && n.outputs.every((o) => !o || !read.has(o))));
  for (const x of nchw.keys()) if (!nhwc.has(x)) g.types.delete(x);
  return g;
}

/** A ReduceMean over exactly the H and W axes (NHWC 1, 2) of a 4-D value held in NCHW, axes constant. */
function globalMean(n: Node, rank: (x: string) => number | undefined, consts: Map<string, Tensor>, nchw: Map<string, string>): boolean {
  if (n.op !== 'ReduceMean' || n.domain !== '' || !nchw.has(n.inputs[0] ?? '') || rank(n.inputs[0]!) !== 4) return false;
  if (n.outputs.filter((o) => o).length !== 1) return false;
  const ax = n.inputs[1] ? consts.get(n.inputs[1]) : undefined;
  const axes = ax ? Array.from(ax.data as BigInt64Array, Number) : (n.attrs.axes as number[] | undefined);
  if (!axes || axes.length !== 2) return false;
  const set = new Set(axes.map((a) => (a < 0 ? a + 4 : a)));
  return set.has(1) && set.has(2);
}

const CONV_W: Record<string, number> = { Conv: 1, QLinearConv: 3, ConvTranspose: 1 };

function isSensitive(n: Node): boolean {
  if (n.domain !== '' || n.attrs.data_layout !== 'NHWC') return false;
  if (n.op === 'Conv' || n.op === 'QLinearConv') return n.attrs.weight_layout === 'OHWI' || n.attrs.weight_layout === '1HWO';
  // TFLite TRANSPOSE_CONV / MediaPipe Convolution2DTransposeBias: W (M, kH, kW, C) → ONNX (C, M, kH, kW), group 1
  if (n.op === 'ConvTranspose') return n.attrs.weight_layout === 'OHWI' && (n.attrs.group ?? 1) === 1;
  return n.op === 'MaxPool' || n.op === 'AveragePool';
}

/**
 * An NHWC DepthToSpace (TFLite DEPTH_TO_SPACE) of a value held in NCHW (a conv's output): its NCHW form (ONNX
 * DepthToSpace) reads that as it is. Of an NHWC-held value it stays NHWC (one kernel either way, no transposes).
 */
function nchwDepthToSpace(n: Node, nchw: Map<string, string>): boolean {
  return n.op === 'DepthToSpace' && n.domain === '' && n.attrs.data_layout === 'NHWC' && nchw.has(n.inputs[0] ?? '') && n.outputs.filter((o) => o).length === 1;
}

function rewriteSensitive(n: Node, needNchw: (x: string) => string, permuteConst: (x: string, perm: number[], dims?: number[]) => string | undefined): Node | undefined {
  const attrs = { ...n.attrs };
  delete attrs.data_layout;
  const inputs = [...n.inputs];
  const wi = CONV_W[n.op];
  if (wi !== undefined) {
    // OHWI → OIHW is perm [0,3,1,2]; 1HWO → [O,1,H,W] is perm [3,0,1,2]; ConvTranspose's OHWI → IOHW is [3,0,1,2]
    const w = permuteConst(n.inputs[wi]!, attrs.weight_layout === 'OHWI' && n.op !== 'ConvTranspose' ? [0, 3, 1, 2] : [3, 0, 1, 2]);
    if (!w) return undefined;
    delete attrs.weight_layout;
    inputs[wi] = w;
  }
  inputs[0] = needNchw(n.inputs[0]!);
  return { ...n, inputs, attrs };
}

type Types = Map<string, { shape?: (number | string)[] }>;

/** pointwise ops (input 0 the activation, any other inputs size-1 constants) */
const UNARY = new Set(['Relu', 'Clip', 'Sigmoid', 'Tanh', 'HardSwish', 'HardSigmoid', 'LeakyRelu', 'Elu', 'Selu', 'Cast', 'Identity', 'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Erf', 'Softplus', 'Gelu', 'QuantizeLinear', 'DequantizeLinear']);
const UNARY_TFL = new Set(['LOGISTIC', 'TANH', 'HARD_SWISH', 'RELU', 'RELU6', 'RELU_N1_TO_1', 'QUANTIZE', 'DEQUANTIZE']);
/**
 * broadcasting binary ops: which inputs are activations or broadcast constants (the rest must be size-1 constants).
 * PRelu's slope broadcasts to X from the right (ONNX "unidirectional broadcasting"; TFLite PRELU's alpha [1, 1, C]),
 * so a constant slope is permuted like an Add's constant operand.
 */
const BINARY: Record<string, number[]> = { PRelu: [0, 1], Add: [0, 1], Sub: [0, 1], Mul: [0, 1], Div: [0, 1], Max: [0, 1], Min: [0, 1], 'com.microsoft.QLinearAdd': [0, 3], 'com.microsoft.QLinearMul': [0, 3], [`${TFL_DOMAIN}.SUB`]: [0, 1] };

function dataInputs(n: Node): number[] | undefined {
  const key = n.domain ? `${n.domain}.${n.op}` : n.op;
  if (BINARY[key]) return BINARY[key];
  if ((n.domain === '' && UNARY.has(n.op)) || (n.domain === TFL_DOMAIN && UNARY_TFL.has(n.op))) return [0];
  if (n.domain === '' && n.op === 'Concat') return n.inputs.map((_, i) => i);
  if (n.domain === '' && n.op === 'Pad') return [0];
  if (n.domain === '' && n.op === 'Resize') return [0];
  if (n.domain === '' && n.op === 'Slice') return [0];
  return undefined;
}

/** NHWC axis a → NCHW axis */
const AXIS = [0, 2, 3, 1];

function agnostic(n: Node, types: Types, consts: Map<string, unknown>, nchw: Map<string, string>, feedsSensitive: (n: Node) => boolean): boolean {
  const data = dataInputs(n);
  if (!data || n.outputs.filter((o) => o).length !== 1 || types.get(n.outputs[0]!)?.shape?.length !== 4) return false;
  // something NCHW to gain: an input held in NCHW, or a layout-sensitive reader (a Pad before the first conv)
  if (!data.some((i) => nchw.has(n.inputs[i] ?? '')) && !feedsSensitive(n)) return false;
  const size = (x: string) => (types.get(x)?.shape ?? [2]).reduce<number>((a, d) => a * (typeof d === 'number' ? d : 2), 1);
  for (let i = 0; i < n.inputs.length; i++) {
    const x = n.inputs[i]!;
    if (!x) continue;
    const r = types.get(x)?.shape?.length;
    if (!data.includes(i)) {
      if (n.op === 'Pad' && i === 1) continue; // checked below
      if (n.op === 'Resize' || n.op === 'Slice') continue; // checked below
      if (!consts.has(x) || size(x) !== 1) return false;
      continue;
    }
    if (r === 4) continue;
    if (r === undefined || !consts.has(x) || n.op === 'Concat' || n.op === 'Pad') return false; // a lower-rank constant broadcasts
  }
  if (n.op === 'Pad') {
    const pads = consts.get(n.inputs[1] ?? '') as Tensor | undefined;
    if (!pads || pads.size !== 8 || pads.type !== 'int64' || n.inputs[3]) return false;
  }
  if (n.op === 'Resize') return resizeRemappable(n, consts);
  if (n.op === 'Slice') return sliceRemappable(n, consts);
  return true;
}

/**
 * A Slice the pass can hold in NCHW (BlazeFace / hand_recrop's channel crops before a residual Add): starts, ends,
 * axes and steps constant, axes given (renamed, the per-axis values stay in their order).
 */
function sliceRemappable(n: Node, consts: Map<string, unknown>): boolean {
  const ins = n.inputs.slice(1);
  if (ins.length < 3 || !ins[2] || !ins.every((x) => !x || consts.has(x))) return false;
  // axes in range (a bad one stays NHWC for Slice's own shape rule to reject)
  const axes = consts.get(ins[2]) as Tensor;
  return (axes.type === 'int64' || axes.type === 'int32') && Array.from(axes.data as ArrayLike<number | bigint>, Number).every((a) => a >= -4 && a <= 3);
}

function rewriteAgnostic(
  n: Node,
  types: Types,
  consts: Map<string, Tensor>,
  needNchw: (x: string) => string,
  permuteConst: (x: string, perm: number[], dims?: number[]) => string | undefined,
  addConst: (base: string, t: Tensor) => string,
): Node | undefined {
  const data = dataInputs(n)!;
  const inputs = [...n.inputs];
  const attrs = { ...n.attrs };
  for (const i of data) {
    const x = n.inputs[i]!;
    const shape = types.get(x)!.shape!;
    if (consts.has(x)) {
      if (shape.reduce<number>((a, d) => a * (d as number), 1) === 1) continue; // a scalar broadcasts the same
      // a constant broadcasts from the right in NHWC: pad to rank 4 with leading 1s, then permute
      const dims = [...Array(4 - shape.length).fill(1), ...(shape as number[])];
      const p = permuteConst(x, [0, 3, 1, 2], dims);
      if (!p) return undefined;
      inputs[i] = p;
      continue;
    }
    inputs[i] = needNchw(x);
  }
  if (n.op === 'Concat') {
    const a = n.attrs.axis as number;
    attrs.axis = AXIS[a < 0 ? a + 4 : a]!;
  }
  if (n.op === 'Resize') {
    // per-axis scales/sizes: with `axes` the axes are renamed; over all four axes the constants are permuted
    const axes = n.attrs.axes as number[] | undefined;
    if (axes) attrs.axes = axes.map((a) => AXIS[a < 0 ? a + 4 : a]!);
    else
      for (const i of [2, 3]) {
        const x = n.inputs[i];
        if (!x) continue;
        const t = consts.get(x)!;
        const v = t.data as Float32Array | BigInt64Array;
        const data = t.type === 'int64' ? BigInt64Array.from([v[0], v[3], v[1], v[2]] as bigint[]) : Float32Array.from([v[0], v[3], v[1], v[2]] as number[]);
        inputs[i] = addConst(`${x}_nchw`, new Tensor(t.type, data, [4]));
      }
  }
  if (n.op === 'Slice') {
    // ONNX Slice: "axes: 1-D tensor of axes that starts and ends apply to. Negative value means counting dimensions
    // from the back": NHWC axis a is NCHW axis AXIS[a]
    const t = consts.get(n.inputs[3]!)!;
    const v = Array.from(t.data as ArrayLike<number | bigint>, Number).map((a) => AXIS[a < 0 ? a + 4 : a]!);
    inputs[3] = addConst(`${n.inputs[3]}_nchw`, t.type === 'int64' ? new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]) : new Tensor('int32', Int32Array.from(v), [v.length]));
  }
  if (n.op === 'Pad') {
    // NHWC pads [b_N, b_H, b_W, b_C, e_N, e_H, e_W, e_C] → NCHW order
    const p = consts.get(n.inputs[1]!)!.data as BigInt64Array;
    inputs[1] = addConst(`${n.inputs[1]}_nchw`, new Tensor('int64', BigInt64Array.from([0, 3, 1, 2, 4, 7, 5, 6], (i) => p[i]!), [8]));
  }
  return { ...n, inputs, attrs };
}

/**
 * A Resize the pass can hold in NCHW: no roi (or tf_crop_and_resize not used), scales/sizes constant, and either an
 * `axes` attribute (renamed) or scales/sizes over all four axes (permuted).
 */
function resizeRemappable(n: Node, consts: Map<string, unknown>): boolean {
  if (n.attrs.coordinate_transformation_mode === 'tf_crop_and_resize') return false;
  const ins = [2, 3].map((i) => n.inputs[i]).filter((x): x is string => !!x);
  if (!ins.length || !ins.every((x) => consts.has(x))) return false;
  if (n.attrs.axes) return true;
  return ins.every((x) => (consts.get(x) as Tensor).size === 4);
}

/** A 4-D tensor with its axes permuted (out dims = dims[perm[i]]). */
export function permute(t: Tensor, perm: number[]): Tensor {
  const d = t.dims;
  const od = perm.map((p) => d[p]!);
  const st = [d[1]! * d[2]! * d[3]!, d[2]! * d[3]!, d[3]!, 1];
  const ps = perm.map((p) => st[p]!);
  const src = t.data as unknown as ArrayLike<number>;
  const dst = allocData(t.type, t.size) as unknown as number[];
  let o = 0;
  for (let a = 0; a < od[0]!; a++)
    for (let b = 0; b < od[1]!; b++)
      for (let c = 0; c < od[2]!; c++) {
        let off = a * ps[0]! + b * ps[1]! + c * ps[2]!;
        for (let e = 0; e < od[3]!; e++, off += ps[3]!) dst[o++] = src[off]!;
      }
  const r = new Tensor(t.type, dst as never, od);
  if (t.quant) r.quant = t.quant;
  return r;
}
