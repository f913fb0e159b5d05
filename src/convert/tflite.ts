/**
 * ONNX (NCHW) → the TFLite form of the IR (NHWC), ready for writeTflite. Layer: beside quant/prune (uses ir,
 * formats, ops, runtime and quant's calibration).
 *
 * Layout: every rank-4 activation becomes NHWC. The layout change is folded into constants — conv weights become
 * OHWI (or 1HWO for depthwise), broadcast constants of binary ops are permuted, and a Flatten of an NHWC map
 * feeding FULLY_CONNECTED layers permutes those layers' weight columns — so no TRANSPOSE is left around convs.
 * Graph inputs of rank 4 become NHWC (TFLite's convention); rank-4 graph outputs are transposed back to NCHW so
 * outputs keep the ONNX meaning. ONNX explicit pads that are not TFLite's SAME become a PAD (PADV2 with -FLT_MAX
 * before a max pool, which also expresses ceil_mode) followed by a VALID op. An op with no NHWC form gets its NHWC
 * inputs transposed back to NCHW and is copied as is; what the writer cannot express then fails there with an
 * UnsupportedOpError naming the node.
 */
import { InputError, UnsupportedOpError } from '../errors.js';
import type { AttrValue, Graph as G, Node, ValueType } from '../ir/graph.js';
import { Graph } from '../ir/graph.js';
import { analyze } from '../ir/infer.js';
import { floats } from '../ops/util.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { calibrate } from '../quant/calibrate.js';
import { qparams } from '../quant/params.js';
import { foldBatchNorms } from '../quant/quantize.js';
import { activationRangeQuantized } from '../tensor/tflite-quant.js';
import { f32ArrayToF16 } from '../tensor/fp16.js';
import { Tensor } from '../tensor/tensor.js';

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];
/** NCHW axis → NHWC axis */
const AXIS_NHWC = [0, 3, 1, 2];

function permute(t: Tensor, perm: number[]): Tensor {
  const d = t.dims;
  const r = d.length;
  const out = perm.map((p) => d[p]!);
  const src = t.data as unknown as ArrayLike<number>;
  const dst = new (src.constructor as Float32ArrayConstructor)(t.size);
  const inStr = new Array<number>(r);
  inStr[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) inStr[i] = inStr[i + 1]! * d[i + 1]!;
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < t.size; o++) {
    let s = 0;
    for (let k = 0; k < r; k++) s += idx[k]! * inStr[perm[k]!]!;
    dst[o] = src[s]!;
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k]! < out[k]!) break;
      idx[k] = 0;
    }
  }
  return new Tensor(t.type, dst as never, out);
}

export interface ToTfliteResult {
  graph: G;
  /** per input name: true when the input was turned from NCHW into NHWC */
  nhwcInputs: Record<string, boolean>;
}

/** Lower a float ONNX graph to the NHWC TFLite form of the IR (see the file comment). */
export function onnxToTfliteGraph(src: G): ToTfliteResult {
  if (src.source === 'tflite') return { graph: src, nhwcInputs: {} };
  const g0 = src.clone();
  foldBatchNorms(g0);
  const an = analyze(g0);
  const types = an.types;
  const consts = an.consts;
  const out = new Graph();
  out.name = src.name;
  out.producer = src.producer || 'onnx';
  out.opsets = { ...src.opsets };
  out.metadata = { ...src.metadata };
  out.source = 'edgeq';
  const nhwc = new Set<string>();
  const alias = new Map<string, string>();
  const real = (v: string) => alias.get(v) ?? v;
  const used = new Set<string>([...g0.initializers.keys(), ...types.keys()]);
  const fresh = (base: string) => {
    let n = base;
    for (let i = 1; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    return n;
  };
  const rank = (v: string) => types.get(v)?.shape?.length ?? -1;
  const isConst = (v: string) => consts.has(v) && !src.inputs.some((i) => i.name === v);
  const constIn = (v: string): string => {
    if (!out.initializers.has(v)) out.initializers.set(v, consts.get(v)!);
    return v;
  };
  const addConst = (base: string, t: Tensor) => {
    const n = fresh(base);
    out.initializers.set(n, t);
    return n;
  };
  const i64 = (base: string, v: number[]) => addConst(base, new Tensor('int64', BigInt64Array.from(v, (x) => BigInt(x)), [v.length]));
  const node = (op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue>, name: string, domain = '') => {
    out.nodes.push({ name: fresh(name), op, domain, inputs, outputs, attrs });
  };
  /** A value in NCHW (transposing an NHWC one back). */
  const asNchw = (v: string, n: Node): string => {
    v = real(v);
    if (!nhwc.has(v)) return isConst(v) ? constIn(v) : v;
    const t = fresh(`${v}_nchw`);
    node('Transpose', [v], [t], { perm: TO_NCHW }, `${n.name}_to_nchw`);
    return t;
  };
  /** A rank-4 value in NHWC (transposing an NCHW one). */
  const asNhwc = (v: string, n: Node): string => {
    v = real(v);
    if (nhwc.has(v)) return v;
    if (isConst(v)) return addConst(`${v}_nhwc`, permute(consts.get(v)!, TO_NHWC));
    const t = fresh(`${v}_nhwc`);
    node('Transpose', [v], [t], { perm: TO_NHWC }, `${n.name}_to_nhwc`);
    nhwc.add(t);
    return t;
  };

  for (const i of g0.inputs) {
    const s = i.type.shape;
    if (s && s.length === 4 && i.type.dtype === 'float32') {
      out.inputs.push({ name: i.name, type: { ...i.type, shape: TO_NHWC.map((p) => s[p]!) } });
      nhwc.add(i.name);
    } else out.inputs.push({ name: i.name, type: { ...i.type } });
  }
  const nhwcInputs = Object.fromEntries(out.inputs.map((i) => [i.name, nhwc.has(i.name)]));
  /** Flatten outputs of NHWC maps: [C, H, W] of the map, for consumers that fold the permutation into weights */
  const flatPerm = new Map<string, [number, number, number]>();
  const consumers = new Map<string, Node[]>();
  for (const n of an.order) for (const i of n.inputs) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);

  /** Explicit ONNX pads → TFLite padding (SAME_UPPER | VALID), inserting a Pad node when neither fits. */
  const lowerPads = (n: Node, x: string, k: [number, number], s: [number, number], d: [number, number], padValue: number, ceil: boolean): { x: string; autoPad: string } => {
    const ap = (n.attrs.auto_pad as string | undefined) ?? 'NOTSET';
    if (ap === 'VALID' || ap === 'SAME_UPPER') {
      if (!ceil) return { x, autoPad: ap };
    }
    const xs = types.get(n.inputs[0]!)?.shape;
    if (!xs || typeof xs[2] !== 'number' || typeof xs[3] !== 'number') throw new UnsupportedOpError(n.op, `node '${n.name}'`, 'TFLite needs the input spatial size to lower explicit pads');
    const [H, W] = [xs[2] as number, xs[3] as number];
    let pads = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
    if (ap === 'SAME_LOWER' || ap === 'SAME_UPPER') {
      pads = [0, 0, 0, 0];
      [H, W].forEach((inn, i) => {
        const o = Math.ceil(inn / s[i]!);
        const tot = Math.max(0, (o - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - inn);
        const lo = ap === 'SAME_UPPER' ? Math.floor(tot / 2) : Math.ceil(tot / 2);
        pads[i] = lo;
        pads[i + 2] = tot - lo;
      });
    }
    const [pt, pl, pb0, pr0] = pads as [number, number, number, number];
    let pb = pb0, pr = pr0;
    if (ceil) {
      // ceil_mode: one more output where a last window starts inside the (padded) input; its missing taps are pad
      const extra = (inn: number, k0: number, s0: number, p0: number, p1: number) => {
        const span = inn + p0 + p1 - k0;
        const oc = Math.ceil(span / s0) + 1;
        const of = Math.floor(span / s0) + 1;
        const o = oc > of && (oc - 1) * s0 >= inn + p0 ? of : oc;
        return Math.max(0, (o - 1) * s0 + k0 - (inn + p0 + p1));
      };
      pb += extra(H, k[0], s[0], pt, pb0);
      pr += extra(W, k[1], s[1], pl, pr0);
    }
    if (pt === 0 && pl === 0 && pb === 0 && pr === 0) return { x, autoPad: 'VALID' };
    // TFLite SAME (padding.h): out = ceil(in / s), pad_before = total / 2
    const same = [H, W].map((inn, i) => {
      const o = Math.ceil(inn / s[i]!);
      const tot = Math.max(0, (o - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - inn);
      return [Math.floor(tot / 2), tot - Math.floor(tot / 2)];
    });
    if (!ceil && same[0]![0] === pt && same[0]![1] === pb && same[1]![0] === pl && same[1]![1] === pr && padValue !== -Infinity) return { x, autoPad: 'SAME_UPPER' };
    const padded = fresh(`${x}_padded`);
    const cv = addConst(`${n.name}_pad_value`, new Tensor('float32', Float32Array.of(padValue === -Infinity ? -3.4028234663852886e38 : padValue), []));
    node('Pad', [x, i64(`${n.name}_pads`, [0, pt, pl, 0, 0, pb, pr, 0]), cv], [padded], { mode: 'constant' }, `${n.name}_pad`);
    nhwc.add(padded);
    return { x: padded, autoPad: 'VALID' };
  };
  const pairAttr = (n: Node, key: string, d: number): [number, number] => {
    const v = n.attrs[key] as number[] | undefined;
    return v && v.length === 2 ? [v[0]!, v[1]!] : [d, d];
  };

  for (const n of an.order) {
    if (n.outputs.length && n.outputs.every((o) => o === '' || consts.has(o))) continue; // folded constant
    const o0 = n.outputs[0]!;
    const D = n.domain;
    if (D === '' && n.op === 'Identity') {
      alias.set(o0, real(n.inputs[0]!));
      continue;
    }
    if (D === '' && n.op === 'Conv' && rank(n.inputs[0]!) === 4) {
      const W = consts.get(n.inputs[1]!);
      if (!W || W.dims.length !== 4) throw new UnsupportedOpError('Conv', `node '${n.name}'`, 'TFLite needs constant 4-D conv weights');
      const x = asNhwc(n.inputs[0]!, n);
      const C = (types.get(n.inputs[0]!)?.shape?.[1] as number | undefined) ?? W.dims[1]!;
      const group = (n.attrs.group as number | undefined) ?? 1;
      const [O, , KH, KW] = W.dims as [number, number, number, number];
      const dw = group > 1 && group === C && W.dims[1] === 1;
      // OIHW → OHWI; depthwise [O, 1, KH, KW] → 1HWO
      const w = dw ? permute(W, [1, 2, 3, 0]) : permute(W, TO_NHWC);
      const wn = addConst(`${n.inputs[1]}_${dw ? '1hwo' : 'ohwi'}`, w);
      const s = pairAttr(n, 'strides', 1), d = pairAttr(n, 'dilations', 1);
      const p = lowerPads(n, x, [KH, KW], s, d, 0, false);
      const ins = [p.x, wn, ...(n.inputs[2] ? [constIn(n.inputs[2])] : [])];
      node('Conv', ins, [o0], { auto_pad: p.autoPad, strides: s, dilations: d, group, data_layout: 'NHWC', weight_layout: dw ? '1HWO' : 'OHWI' }, n.name);
      void O;
      nhwc.add(o0);
      continue;
    }
    if (D === '' && (n.op === 'MaxPool' || n.op === 'AveragePool') && rank(n.inputs[0]!) === 4) {
      const x = asNhwc(n.inputs[0]!, n);
      const k = pairAttr(n, 'kernel_shape', 1), s = pairAttr(n, 'strides', 1), d = pairAttr(n, 'dilations', 1);
      const max = n.op === 'MaxPool';
      const cip = (n.attrs.count_include_pad as number | undefined) ?? 0;
      const p = lowerPads(n, x, k, s, d, max ? -Infinity : 0, (n.attrs.ceil_mode as number | undefined) === 1);
      if (!max && p.x !== x && cip === 0) throw new UnsupportedOpError(n.op, `node '${n.name}'`, 'AveragePool with pads that are not TFLite SAME and count_include_pad 0 has no TFLite form');
      node(n.op, [p.x], [o0], { auto_pad: p.autoPad, strides: s, kernel_shape: k, data_layout: 'NHWC' }, n.name);
      nhwc.add(o0);
      continue;
    }
    if (D === '' && n.op === 'GlobalAveragePool' && rank(n.inputs[0]!) === 4) {
      const x = asNhwc(n.inputs[0]!, n);
      node('ReduceMean', [x, i64(`${n.name}_axes`, [1, 2])], [o0], { keepdims: 1 }, n.name);
      nhwc.add(o0);
      continue;
    }
    if (D === '' && ['Relu', 'Clip', 'Sigmoid', 'Tanh', 'HardSwish', 'LeakyRelu'].includes(n.op)) {
      const x = real(n.inputs[0]!);
      node(n.op, [x, ...n.inputs.slice(1).map((c) => (c ? constIn(c) : ''))], [o0], { ...n.attrs }, n.name);
      if (nhwc.has(x)) nhwc.add(o0);
      continue;
    }
    if (D === '' && ['Add', 'Sub', 'Mul', 'Div'].includes(n.op)) {
      const [a0, b0] = n.inputs.map(real) as [string, string];
      const anyNhwc = nhwc.has(a0) || nhwc.has(b0);
      const fix = (v: string): string => {
        if (!anyNhwc) return isConst(v) ? constIn(v) : v;
        if (nhwc.has(v)) return v;
        if (isConst(v)) {
          const c = consts.get(v)!;
          if (c.size === 1) return constIn(v);
          const r4 = c.dims.length < 4 ? c.reshape([...new Array(4 - c.dims.length).fill(1), ...c.dims]) : c;
          return addConst(`${v}_nhwc`, permute(r4, TO_NHWC));
        }
        if (rank(v) === 4) return asNhwc(v, n);
        throw new UnsupportedOpError(n.op, `node '${n.name}'`, `broadcasting a rank-${rank(v)} value against an NHWC map`);
      };
      node(n.op, [fix(a0), fix(b0)], [o0], {}, n.name);
      if (anyNhwc) nhwc.add(o0);
      continue;
    }
    if (D === '' && (n.op === 'Flatten' || n.op === 'Reshape') && nhwc.has(real(n.inputs[0]!))) {
      const x = real(n.inputs[0]!);
      const xs0 = types.get(n.inputs[0]!)?.shape;
      const xs = xs0 && xs0.slice(1).every((d) => typeof d === 'number') ? (xs0 as number[]) : undefined;
      const ys = types.get(o0)?.shape;
      const flat = n.op === 'Flatten' ? ((n.attrs.axis as number | undefined) ?? 1) === 1 : ys?.length === 2 && ys[1] === (xs ? xs[1]! * xs[2]! * xs[3]! : -1);
      if (xs && flat) {
        const trivial = xs[2]! * xs[3]! === 1 || xs[1] === 1;
        const cs = consumers.get(o0) ?? [];
        const gemmOnly = cs.length > 0 && cs.every((c) => c.op === 'Gemm' && c.inputs[0] === o0 && isConst(c.inputs[1]!) && ((c.attrs.transB as number | undefined) ?? 0) === 1);
        if (trivial || gemmOnly) {
          node('Flatten', [x], [o0], { axis: 1 }, n.name);
          if (!trivial) flatPerm.set(o0, [xs[1]!, xs[2]!, xs[3]!]);
          continue;
        }
      }
      node(n.op, [asNchw(x, n), ...n.inputs.slice(1).map((c) => (c ? constIn(c) : ''))], [o0], { ...n.attrs }, n.name);
      continue;
    }
    if (D === '' && n.op === 'Gemm' && flatPerm.has(real(n.inputs[0]!))) {
      const [C, H, W] = flatPerm.get(real(n.inputs[0]!))!;
      const B = consts.get(n.inputs[1]!)!;
      const U = B.dims[0]!;
      const b = floats(B);
      const nb = new Float32Array(B.size);
      // column (c, h, w) of the NCHW flatten is column (h, w, c) of the NHWC one
      for (let u = 0; u < U; u++)
        for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) nb[u * C * H * W + (h * W + w) * C + c] = b[u * C * H * W + (c * H + h) * W + w]!;
      const bn = addConst(`${n.inputs[1]}_nhwc_cols`, new Tensor('float32', nb, [...B.dims]));
      node('Gemm', [real(n.inputs[0]!), bn, ...(n.inputs[2] ? [constIn(n.inputs[2])] : [])], [o0], { ...n.attrs }, n.name);
      continue;
    }
    if (D === '' && n.op === 'Concat' && n.inputs.some((i) => nhwc.has(real(i)))) {
      const r = rank(o0);
      let ax = n.attrs.axis as number;
      if (ax < 0) ax += r;
      node('Concat', n.inputs.map((i) => asNhwc(i, n)), [o0], { axis: AXIS_NHWC[ax]! }, n.name);
      nhwc.add(o0);
      continue;
    }
    if (D === '' && n.op === 'Softmax' && nhwc.has(real(n.inputs[0]!)) && ((n.attrs.axis as number | undefined) ?? -1) === 1) {
      node('Softmax', [real(n.inputs[0]!)], [o0], { axis: -1 }, n.name);
      nhwc.add(o0);
      continue;
    }
    if (D === '' && n.op === 'ReduceMean' && nhwc.has(real(n.inputs[0]!))) {
      const axT = n.inputs[1] ? consts.get(n.inputs[1]) : undefined;
      const axes = (axT ? axT.toNumbers() : ((n.attrs.axes as number[] | undefined) ?? [])).map((a) => (a < 0 ? a + 4 : a));
      const keep = ((n.attrs.keepdims as number | undefined) ?? 1) === 1;
      if (axes.length && (keep || (axes.includes(2) && axes.includes(3)))) {
        node('ReduceMean', [real(n.inputs[0]!), i64(`${n.name}_axes`, axes.map((a) => AXIS_NHWC[a]!))], [o0], { keepdims: keep ? 1 : 0 }, n.name);
        if (keep) nhwc.add(o0);
        continue;
      }
    }
    if (D === '' && n.op === 'Transpose' && nhwc.has(real(n.inputs[0]!))) {
      const perm = (n.attrs.perm as number[] | undefined) ?? [3, 2, 1, 0];
      node('Transpose', [real(n.inputs[0]!)], [o0], { perm: perm.map((p) => AXIS_NHWC[p]!) }, n.name);
      continue;
    }
    if (D === '' && n.op === 'Pad' && nhwc.has(real(n.inputs[0]!)) && n.inputs[1] && consts.has(n.inputs[1]) && !n.inputs[3]) {
      const p = consts.get(n.inputs[1])!.toNumbers();
      const q = [...TO_NHWC.map((a) => p[a]!), ...TO_NHWC.map((a) => p[a + 4]!)];
      node('Pad', [real(n.inputs[0]!), i64(`${n.name}_pads`, q), ...(n.inputs[2] ? [constIn(n.inputs[2])] : [])], [o0], { ...n.attrs }, n.name);
      nhwc.add(o0);
      continue;
    }
    // no NHWC form: run it on NCHW values
    node(n.op, n.inputs.map((i) => (i ? asNchw(i, n) : '')), n.outputs, { ...n.attrs }, n.name, D);
  }
  for (const o of src.outputs) {
    let v = real(o.name);
    if (nhwc.has(v)) {
      const t = fresh(`${v}_nhwc_out`);
      // rename the NHWC producer output so the graph output keeps its name and NCHW meaning
      for (const n of out.nodes) n.outputs = n.outputs.map((x) => (x === v ? t : x));
      for (const n of out.nodes) n.inputs = n.inputs.map((x) => (x === v ? t : x));
      node('Transpose', [t], [o.name], { perm: TO_NCHW }, `${o.name}_to_nchw`);
      v = o.name;
    } else if (v !== o.name) node('Identity', [v], [o.name], {}, `${o.name}_identity`);
    out.outputs.push({ name: o.name, type: { ...o.type } });
  }
  const a2 = analyze(out);
  for (const [k, t] of a2.types) if (!out.initializers.has(k)) out.types.set(k, t as ValueType);
  return { graph: out, nhwcInputs };
}

/** NCHW samples [N, C, H, W] → NHWC [N, H, W, C] (what a converted model's rank-4 input takes). */
export function nchwToNhwc(t: Tensor): Tensor {
  if (t.dims.length !== 4) throw new InputError(`expected a rank-4 NCHW tensor, got [${t.dims.join(',')}]`);
  return permute(t, TO_NHWC);
}

export { permute as permuteTensor };

// ---- full-integer int8 (as TFLite's converter writes it) ----------------------------------------------------

export interface Int8Options {
  /** calibration data (float, the converted graph's input layout — NHWC for rank-4 inputs) */
  calib: Tensor | Record<string, Tensor>;
  /** int8 graph inputs/outputs instead of float ones with QUANTIZE / DEQUANTIZE */
  int8Io?: boolean;
  /** calibration batch (default 64) */
  batch?: number;
  /**
   * Run calibration on this graph instead — the ONNX model the TFLite graph was converted from, with `calib` in its
   * (NCHW) layout. Min/max ranges do not depend on the layout and the conversion keeps value names, so the ranges
   * are the same, and the source graph runs on edgeq's fast NCHW kernels.
   */
  calibGraph?: G;
}

interface QP {
  scale: number;
  zp: number;
}

/** TFLite's std::round (half away from zero). */
const roundAway = (x: number) => (x < 0 ? -Math.round(-x) : Math.round(x));

/**
 * Quantize the float NHWC TFLite IR (from onnxToTfliteGraph) to full-integer int8 in the reader's form:
 * Conv → QLinearConv (rounding 'tflite') with per-channel symmetric int8 weights (scale max|w|/127 per output
 * channel, zero point 0) and int32 bias at s_in·s_w; Gemm → com.microsoft QGemm likewise; Add → QLinearAdd;
 * MaxPool / Reshape / Flatten / Pad keep their input's parameters; ReduceMean → TFLite MEAN; Softmax / Sigmoid →
 * TFLite SOFTMAX / LOGISTIC at 1/256, -128. Activations are int8 asymmetric from min/max calibration (range widened
 * to include 0). A Relu / Clip after a conv / FC / add shares the producer's output parameters (calibrated after
 * the activation) and is a Clip at TFLite's CalculateActivationRangeQuantized bounds — the writer fuses it.
 */
export async function quantizeTfliteGraph(g: G, o: Int8Options): Promise<G> {
  const an = analyze(g);
  const consts = an.consts;
  const floatsV = [...g.inputs.map((i) => i.name), ...an.order.flatMap((n) => n.outputs)].filter((v) => v && !consts.has(v) && an.types.get(v)?.dtype === 'float32');
  // a model with a fixed batch dimension (torchvision exports: [1, 3, 224, 224]) is calibrated that many samples at a time
  const cg = o.calibGraph ?? g;
  const fixed = cg.inputs.map((i) => i.type.shape?.[0]).find((d) => typeof d === 'number') as number | undefined;
  let names = floatsV;
  if (o.calibGraph) {
    const have = new Set([...cg.inputs.map((i) => i.name), ...cg.nodes.flatMap((n) => n.outputs)]);
    names = floatsV.filter((v) => have.has(v));
  }
  const obs = await calibrate(cg, o.calib, names, { batch: fixed ?? o.batch ?? 64 });
  const qpOf = new Map<string, QP>();
  const calQ = (v: string): QP => {
    const ob = obs.get(v);
    const [lo, hi] = ob ? ob.range() : [0, 0];
    const p = qparams(lo, hi, 'int8', false);
    return { scale: p.scale, zp: p.zeroPoint };
  };
  const out = new Graph();
  out.name = g.name;
  out.producer = g.producer;
  out.opsets = { ...g.opsets, [TFL_DOMAIN]: 1, 'com.microsoft': 1 };
  out.metadata = { ...g.metadata };
  const used = new Set<string>([...g.initializers.keys(), ...an.types.keys()]);
  const fresh = (base: string) => {
    let n = base;
    for (let i = 1; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    return n;
  };
  const addConst = (base: string, t: Tensor) => {
    const n = fresh(base);
    out.initializers.set(n, t);
    return n;
  };
  const f32 = (base: string, v: number[], vec = false) => addConst(base, new Tensor('float32', Float32Array.from(v), vec ? [v.length] : []));
  const i8 = (base: string, v: number[], vec = false) => addConst(base, new Tensor('int8', Int8Array.from(v), vec ? [v.length] : []));
  const node = (op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue>, name: string, domain = '') => out.nodes.push({ name: fresh(name), op, domain, inputs, outputs, attrs });
  const qname = new Map<string, string>(); // float value → its int8 value
  const q = (v: string, n: Node): string => {
    const r = qname.get(v);
    if (!r) throw new UnsupportedOpError(n.op, `node '${n.name}'`, `input '${v}' has no int8 form (unsupported producer)`);
    return r;
  };
  const consumers = new Map<string, Node[]>();
  for (const n of an.order) for (const i of n.inputs) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  const outNames = new Set(g.outputs.map((x) => x.name));
  const actOf = (n: Node): 'RELU' | 'RELU6' | 'RELU_N1_TO_1' | undefined => {
    if (n.op === 'Relu') return 'RELU';
    if (n.op !== 'Clip') return undefined;
    const lo = n.inputs[1] ? consts.get(n.inputs[1])?.num(0) : -Infinity;
    const hi = n.inputs[2] ? consts.get(n.inputs[2])?.num(0) : Infinity;
    return lo === 0 && hi === Infinity ? 'RELU' : lo === 0 && hi === 6 ? 'RELU6' : lo === -1 && hi === 1 ? 'RELU_N1_TO_1' : undefined;
  };
  /** The output of `n` (int8), absorbing a following Relu / Clip: returns [pre-activation name, fused node]. */
  const withAct = (n: Node): { pre: string; qp: QP; act?: Node; actName?: 'RELU' | 'RELU6' | 'RELU_N1_TO_1' } => {
    const v = n.outputs[0]!;
    const cs = consumers.get(v) ?? [];
    const a = cs.length === 1 && !outNames.has(v) ? cs[0]! : undefined;
    const an2 = a ? actOf(a) : undefined;
    if (a && an2) {
      const qp = calQ(a.outputs[0]!);
      return { pre: fresh(`${a.outputs[0]}_int8_pre`), qp, act: a, actName: an2 };
    }
    const qp = calQ(v);
    const name = fresh(`${v}_int8`);
    return { pre: name, qp };
  };
  const finish = (r: ReturnType<typeof withAct>, n: Node) => {
    const v = n.outputs[0]!;
    if (!r.act) {
      qname.set(v, r.pre);
      qpOf.set(r.pre, r.qp);
      return;
    }
    const [lo, hi] = activationRangeQuantized(r.actName!, 'int8', r.qp.scale, r.qp.zp);
    const y = fresh(`${r.act.outputs[0]}_int8`);
    node('Clip', [r.pre, i8(`${r.act.name}_min`, [lo]), i8(`${r.act.name}_max`, [hi])], [y], {}, r.act.name);
    qpOf.set(r.pre, r.qp);
    qpOf.set(y, r.qp);
    qname.set(r.act.outputs[0]!, y);
    done.add(r.act);
  };
  const done = new Set<Node>();
  const qattrs = (ins: (QP | undefined)[], outs: QP[]) => ({ in_scale: ins.map((p) => p?.scale ?? 0), in_zero_point: ins.map((p) => p?.zp ?? 0), out_scale: outs.map((p) => p.scale), out_zero_point: outs.map((p) => p.zp) });

  for (const i of g.inputs) {
    const qp = calQ(i.name);
    if (i.type.dtype !== 'float32') {
      out.inputs.push({ name: i.name, type: { ...i.type } });
      continue;
    }
    if (o.int8Io) {
      out.inputs.push({ name: i.name, type: { ...i.type, dtype: 'int8', quant: { scale: Float32Array.of(qp.scale), zeroPoint: Int32Array.of(qp.zp) } } });
      qname.set(i.name, i.name);
      qpOf.set(i.name, qp);
    } else {
      out.inputs.push({ name: i.name, type: { ...i.type } });
      const y = fresh(`${i.name}_int8`);
      node('QUANTIZE', [i.name], [y], { output_type: 'int8', ...qattrs([undefined], [qp]) }, `${i.name}_quantize`, TFL_DOMAIN);
      qname.set(i.name, y);
      qpOf.set(y, qp);
    }
  }

  /** per-channel symmetric int8 weights along `axis` and the int32 bias at s_in·s_w */
  const qWeights = (W: Tensor, axis: number, bias: Tensor | undefined, sIn: number, base: string) => {
    const w = floats(W);
    const O = W.dims[axis]!;
    const inner = W.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const scales = new Float32Array(O);
    for (let i = 0; i < w.length; i++) {
      const c = Math.floor(i / inner) % O;
      scales[c] = Math.max(scales[c]!, Math.abs(w[i]!));
    }
    for (let c = 0; c < O; c++) scales[c] = Math.fround(scales[c]! > 0 ? scales[c]! / 127 : 1e-8);
    const wq = new Int8Array(w.length);
    for (let i = 0; i < w.length; i++) {
      const c = Math.floor(i / inner) % O;
      wq[i] = Math.max(-127, Math.min(127, roundAway(w[i]! / scales[c]!)));
    }
    const bq = new Int32Array(O);
    if (bias) {
      const b = floats(bias);
      for (let c = 0; c < O; c++) bq[c] = Math.max(-2147483648, Math.min(2147483647, roundAway(b[c]! / Math.fround(sIn * scales[c]!))));
    }
    return {
      w: addConst(`${base}_int8`, new Tensor('int8', wq, [...W.dims])),
      ws: f32(`${base}_scale`, Array.from(scales), true),
      wz: i8(`${base}_zero_point`, new Array(O).fill(0), true),
      b: addConst(`${base}_bias_int32`, new Tensor('int32', bq, [O])),
    };
  };

  for (const n of an.order) {
    if (done.has(n)) continue;
    if (n.outputs.every((x) => !x || consts.has(x))) continue;
    const D = n.domain;
    const where = `node '${n.name}'`;
    if (D === '' && n.op === 'Conv') {
      const x = q(n.inputs[0]!, n);
      const px = qpOf.get(x)!;
      const W = consts.get(n.inputs[1]!)!;
      const dw = n.attrs.weight_layout === '1HWO';
      const wq = qWeights(W, dw ? 3 : 0, n.inputs[2] ? consts.get(n.inputs[2]) : undefined, px.scale, n.inputs[1]!);
      const r = withAct(n);
      node('QLinearConv', [x, f32(`${n.name}_x_scale`, [px.scale]), i8(`${n.name}_x_zero_point`, [px.zp]), wq.w, wq.ws, wq.wz, f32(`${n.name}_y_scale`, [r.qp.scale]), i8(`${n.name}_y_zero_point`, [r.qp.zp]), wq.b], [r.pre], { ...n.attrs, rounding: 'tflite' }, n.name);
      finish(r, n);
      continue;
    }
    if (D === '' && n.op === 'Gemm') {
      const x = q(n.inputs[0]!, n);
      const px = qpOf.get(x)!;
      const W = consts.get(n.inputs[1]!);
      if (!W || (n.attrs.transB ?? 0) !== 1) throw new UnsupportedOpError('Gemm', where, 'int8 FULLY_CONNECTED needs constant weights with transB = 1');
      const wq = qWeights(W, 0, n.inputs[2] ? consts.get(n.inputs[2]) : undefined, px.scale, n.inputs[1]!);
      const r = withAct(n);
      node('QGemm', [x, f32(`${n.name}_a_scale`, [px.scale]), i8(`${n.name}_a_zero_point`, [px.zp]), wq.w, wq.ws, wq.wz, wq.b, f32(`${n.name}_y_scale`, [r.qp.scale]), i8(`${n.name}_y_zero_point`, [r.qp.zp])], [r.pre], { transB: 1, rounding: 'tflite' }, n.name, 'com.microsoft');
      finish(r, n);
      continue;
    }
    if (D === '' && n.op === 'Add') {
      const [a, b] = n.inputs.map((v) => q(v, n)) as [string, string];
      const pa = qpOf.get(a)!, pb = qpOf.get(b)!;
      const r = withAct(n);
      node('QLinearAdd', [a, f32(`${n.name}_A_scale`, [pa.scale]), i8(`${n.name}_A_zero_point`, [pa.zp]), b, f32(`${n.name}_B_scale`, [pb.scale]), i8(`${n.name}_B_zero_point`, [pb.zp]), f32(`${n.name}_C_scale`, [r.qp.scale]), i8(`${n.name}_C_zero_point`, [r.qp.zp])], [r.pre], { rounding: 'tflite' }, n.name, 'com.microsoft');
      finish(r, n);
      continue;
    }
    if (D === '' && ['MaxPool', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose'].includes(n.op)) {
      const x = q(n.inputs[0]!, n);
      const y = fresh(`${n.outputs[0]}_int8`);
      const rest = n.inputs.slice(1).map((c) => {
        if (!c) return '';
        if (!out.initializers.has(c)) out.initializers.set(c, consts.get(c)!);
        return c;
      });
      node(n.op, [x, ...rest], [y], { ...n.attrs }, n.name);
      qname.set(n.outputs[0]!, y);
      qpOf.set(y, qpOf.get(x)!);
      continue;
    }
    if (D === '' && n.op === 'Pad') {
      const x = q(n.inputs[0]!, n);
      const px = qpOf.get(x)!;
      const cv = n.inputs[2] ? consts.get(n.inputs[2])!.num(0) : 0;
      const qv = Math.max(-128, Math.min(127, roundAway(Math.max(cv, -1e30) / px.scale) + px.zp));
      const pads = addConst(`${n.name}_pads`, consts.get(n.inputs[1]!)!);
      const y = fresh(`${n.outputs[0]}_int8`);
      node('Pad', [x, pads, i8(`${n.name}_value`, [cv < -1e30 ? -128 : qv])], [y], { mode: 'constant' }, n.name);
      qname.set(n.outputs[0]!, y);
      qpOf.set(y, px);
      continue;
    }
    if (D === '' && n.op === 'ReduceMean') {
      const x = q(n.inputs[0]!, n);
      const px = qpOf.get(x)!;
      const axT = consts.get(n.inputs[1]!);
      if (!axT) throw new UnsupportedOpError('ReduceMean', where, 'axes must be constant');
      const axes = addConst(`${n.name}_axes`, new Tensor('int32', Int32Array.from(axT.toNumbers()), [axT.size]));
      const qp = calQ(n.outputs[0]!);
      const y = fresh(`${n.outputs[0]}_int8`);
      node('MEAN', [x, axes], [y], { keep_dims: (n.attrs.keepdims ?? 1) ? 1 : 0, ...qattrs([px, undefined], [qp]) }, n.name, TFL_DOMAIN);
      qname.set(n.outputs[0]!, y);
      qpOf.set(y, qp);
      continue;
    }
    if (D === '' && (n.op === 'Softmax' || n.op === 'Sigmoid')) {
      const x = q(n.inputs[0]!, n);
      const px = qpOf.get(x)!;
      const qp = { scale: 1 / 256, zp: -128 };
      const y = fresh(`${n.outputs[0]}_int8`);
      if (n.op === 'Softmax') node('SOFTMAX', [x], [y], { beta: 1, output_type: 'int8', ...qattrs([px], [qp]) }, n.name, TFL_DOMAIN);
      else node('LOGISTIC', [x], [y], qattrs([px], [qp]), n.name, TFL_DOMAIN);
      qname.set(n.outputs[0]!, y);
      qpOf.set(y, qp);
      continue;
    }
    throw new UnsupportedOpError(D ? `${D}.${n.op}` : n.op, where, 'no int8 TFLite form in the converter');
  }
  for (const oo of g.outputs) {
    const y = q(oo.name, { name: oo.name, op: 'output', domain: '', inputs: [], outputs: [], attrs: {} });
    const qp = qpOf.get(y)!;
    if (o.int8Io) {
      // the int8 value becomes the output under the output's name
      for (const n of out.nodes) n.outputs = n.outputs.map((x) => (x === y ? oo.name : x));
      for (const n of out.nodes) n.inputs = n.inputs.map((x) => (x === y ? oo.name : x));
      out.outputs.push({ name: oo.name, type: { ...oo.type, dtype: 'int8', quant: { scale: Float32Array.of(qp.scale), zeroPoint: Int32Array.of(qp.zp) } } });
    } else {
      node('DEQUANTIZE', [y], [oo.name], qattrs([qp], [{ scale: 0, zp: 0 }]), `${oo.name}_dequantize`, TFL_DOMAIN);
      out.outputs.push({ name: oo.name, type: { ...oo.type } });
    }
  }
  const a2 = analyze(out);
  for (const [k, t] of a2.types) if (!out.initializers.has(k)) out.types.set(k, t as ValueType);
  return out;
}

/** float16 weights: every float32 conv / FC weight and bias constant becomes float16 behind a Cast (DEQUANTIZE). */
export function fp16Weights(g: G): G {
  const out = g.clone();
  const cast = new Map<string, string>();
  const nodes: Node[] = [];
  for (const n of out.nodes) {
    if ((n.op === 'Conv' || n.op === 'Gemm' || n.op === 'MatMul') && n.domain === '') {
      n.inputs = n.inputs.map((v, k) => {
        if (k === 0 || !v) return v;
        const t = out.initializers.get(v);
        if (!t || t.type !== 'float32') return v;
        if (!cast.has(v)) {
          const h = `${v}_fp16`;
          out.initializers.set(h, new Tensor('float16', f32ArrayToF16(floats(t)) as never, [...t.dims]));
          const f = `${v}_dequantized`;
          nodes.push({ name: `${v}_dequantize`, op: 'Cast', domain: '', inputs: [h], outputs: [f], attrs: { to: 1 } });
          cast.set(v, f);
        }
        return cast.get(v)!;
      });
    }
  }
  out.nodes = [...nodes, ...out.nodes];
  for (const v of cast.keys()) if (!out.nodes.some((n) => n.inputs.includes(v))) out.initializers.delete(v);
  const a2 = analyze(out);
  for (const [k, t] of a2.types) if (!out.initializers.has(k)) out.types.set(k, t as ValueType);
  return out;
}

// ---- TFLite (NHWC IR) → ONNX --------------------------------------------------------------------------------

/**
 * RESIZE_BILINEAR reads as a Resize of the NHWC H and W (`axes` [1, 2], a 2-element `sizes`). onnxruntime's layout
 * optimizer (graph optimization level 'extended' and up, the default) rewrites such a node into one whose `sizes`
 * has 0 elements and then fails to load the model ("Number of elements of input 'sizes' (0) does not match the number
 * of axes (2)"), while the same node loads with optimizations disabled. With the input's dims static, the written node
 * takes the full-rank `sizes` instead (ONNX Resize: "the number of elements of 'sizes' should be the same as the rank
 * of input 'X'" when `axes` is absent) — the same output size and, by the spec's scale = sizes / input dims per axis,
 * the same sampling.
 */
function fullRankResize(g: G, n: Node, dims: readonly (number | string)[] | undefined, fresh: (b: string) => string): void {
  const axes = n.attrs.axes as number[];
  const sz = n.inputs[3] ? g.initializers.get(n.inputs[3]) : undefined;
  if (!sz || !dims || dims.some((d) => typeof d !== 'number') || n.inputs[2] || sz.size !== axes.length) return;
  const full = (dims as number[]).slice();
  const r = full.length;
  const want = sz.toNumbers();
  axes.forEach((a, k) => (full[a < 0 ? a + r : a] = want[k]!));
  const name = fresh(`${n.inputs[3]}_full`);
  g.initializers.set(name, new Tensor('int64', BigInt64Array.from(full, (d) => BigInt(d)), [r]));
  n.inputs = [n.inputs[0]!, n.inputs[1] ?? '', '', name];
  n.attrs = { ...n.attrs };
  delete n.attrs.axes;
}

/**
 * The float NHWC TFLite IR (readTflite's output, or onnxToTfliteGraph's) as plain ONNX: each NHWC Conv / ConvTranspose /
 * MaxPool / AveragePool / DepthToSpace runs on NCHW between two Transposes, with OHWI / 1HWO weights permuted back to ONNX's layouts
 * (float16 weights behind their DEQUANTIZE Cast included). Ops without an
 * ONNX counterpart (ai.edgeq.tflite, TFLite's integer rounding) make writeOnnx fail with a typed error.
 */
export function tfliteToOnnxGraph(src: G): G {
  const g = src.clone();
  const nodes: Node[] = [];
  let k = 0;
  const fresh = (b: string) => {
    let n: string;
    do n = `${b}__onnx${k++}`;
    while (g.initializers.has(n) || g.types.has(n));
    return n;
  };
  // Casts of a constant to float32, by output (a float16 weight's DEQUANTIZE)
  const castOf = new Map<string, Node>();
  for (const n of g.nodes) if (n.op === 'Cast' && n.domain === '' && n.attrs.to === 1 && g.initializers.has(n.inputs[0]!)) castOf.set(n.outputs[0]!, n);
  const shapes = analyze(src).types;
  for (const n of g.nodes) {
    const lay = n.attrs.data_layout;
    if (n.op === 'Resize' && n.domain === '' && n.attrs.axes) fullRankResize(g, n, shapes.get(n.inputs[0]!)?.shape, fresh);
    if (n.domain !== '' || lay !== 'NHWC' || !['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'DepthToSpace'].includes(n.op)) {
      nodes.push(n);
      continue;
    }
    const x = fresh(`${n.inputs[0]}_nchw`);
    const y = fresh(`${n.outputs[0]}_nchw`);
    nodes.push({ name: `${n.name}_to_nchw`, op: 'Transpose', domain: '', inputs: [n.inputs[0]!], outputs: [x], attrs: { perm: TO_NCHW } });
    const attrs = { ...n.attrs };
    delete attrs.data_layout;
    delete attrs.weight_layout;
    const ins = [x, ...n.inputs.slice(1)];
    if (n.op === 'Conv' || n.op === 'ConvTranspose') {
      // a float16 weight (MediaPipe's f16 models, fp16Weights' output) is a constant behind DEQUANTIZE (read as a
      // Cast to float32): the float16 constant is permuted and gets its own Cast
      const cast = castOf.get(n.inputs[1]!);
      const W = g.initializers.get(cast ? cast.inputs[0]! : n.inputs[1]!);
      if (!W) throw new UnsupportedOpError(n.op, `node '${n.name}'`, `NHWC ${n.op} with non-constant weights`);
      if (n.op === 'ConvTranspose' && ((n.attrs.group as number | undefined) ?? 1) !== 1) throw new UnsupportedOpError(n.op, `node '${n.name}'`, 'grouped NHWC ConvTranspose');
      // Conv: OHWI → OIHW, 1HWO → [O, 1, H, W]; ConvTranspose (TFLite TRANSPOSE_CONV / MediaPipe's
      // Convolution2DTransposeBias): OHWI → ONNX's (C_in, C_out, kH, kW), the same permutation as 1HWO
      const w = n.attrs.weight_layout === '1HWO' || n.op === 'ConvTranspose' ? permute(W, [3, 0, 1, 2]) : permute(W, TO_NCHW);
      const wn = fresh(`${n.inputs[1]}_oihw`);
      g.initializers.set(wn, w);
      ins[1] = wn;
      if (cast) {
        ins[1] = fresh(`${n.inputs[1]}_oihw_f32`);
        nodes.push({ ...cast, name: fresh(`${cast.name}_oihw`), inputs: [wn], outputs: [ins[1]] });
      }
    }
    nodes.push({ ...n, inputs: ins, outputs: [y], attrs });
    nodes.push({ name: `${n.name}_to_nhwc`, op: 'Transpose', domain: '', inputs: [y], outputs: [n.outputs[0]!], attrs: { perm: TO_NHWC } });
  }
  // the original Casts of permuted weights are read by nobody now
  const read = new Set(nodes.flatMap((n) => n.inputs).concat(g.outputs.map((o) => o.name)));
  g.nodes = nodes.filter((n) => !castOf.has(n.outputs[0]!) || read.has(n.outputs[0]!));
  for (const c of castOf.values()) if (!g.nodes.some((n) => n.inputs.includes(c.inputs[0]!))) g.initializers.delete(c.inputs[0]!);
  g.types = new Map();
  g.source = 'edgeq';
  g.opsets = { '': Math.max(13, g.opsets[''] ?? 13) };
  return g;
}
