import * as flatbuffers from 'flatbuffers';
import { UnsupportedError, UnsupportedOpError } from '../../errors.js';
import type { Dim, Graph, Node, ValueType } from '../../ir/graph.js';
import { analyze } from '../../ir/infer.js';
import { TFL_DOMAIN } from '../../ir/layout.js';
import type { DType } from '../../tensor/dtype.js';
import type { QuantParams } from '../../tensor/quant.js';
import { Tensor } from '../../tensor/tensor.js';
import { activationRangeQuantized } from '../../tensor/tflite-quant.js';
import { TFLITE_ENUMS, TFLITE_FIELDS, TFLITE_UNIONS } from './generated/tflite-schema.js';

/**
 * Serialize a graph in the TFLite form of the IR — what readTflite produces, and what src/convert/tflite.ts
 * lowers ONNX graphs to: NHWC Conv / MaxPool / AveragePool (data_layout 'NHWC', weight_layout 'OHWI' | '1HWO',
 * auto_pad SAME_UPPER | VALID), Gemm(transB = 1) on 2-D inputs, QLinearConv / com.microsoft QGemm / QLinearAdd /
 * QLinearMul with rounding 'tflite', ai.edgeq.tflite ops — into a .tflite flatbuffer (schema version 3, one
 * subgraph, a 'serving_default' signature and min_runtime_version metadata). Relu / Clip after a conv, FC, pool,
 * add or concat whose result has no other consumer become fused activations. Shapes come from analyze(), so
 * the op definitions must be registered (importing edgeq or src/ops does that). What TFLite cannot express is an
 * UnsupportedOpError naming the node.
 */
export interface WriteTfliteOptions {
  description?: string;
  /** signature key (default 'serving_default') */
  signatureKey?: string;
}

const F = TFLITE_FIELDS;
const OPS = TFLITE_ENUMS.BuiltinOperator as Record<string, number>;
const OPT = TFLITE_UNIONS.BuiltinOptions as Record<string, number>;
const TT: Partial<Record<DType, number>> = { float32: 0, float16: 1, int32: 2, uint8: 3, int64: 4, bool: 6, int16: 7, int8: 9, float64: 10, uint64: 12, uint32: 15, uint16: 16 };
const ACT: Record<string, number> = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4 };

interface TTensor {
  name: string;
  shape: number[];
  signature?: number[];
  type: number;
  buffer: number;
  quant?: QuantParams;
}
interface TOp {
  code: string;
  inputs: number[];
  outputs: number[];
  options?: { table: string; fields: [string, 'i8' | 'i32' | 'f32' | 'bool' | 'ivec', number | number[]][] };
  version: number;
}

/** ONNX-era Clip / Relu constants as an activation name, or undefined. */
function floatAct(n: Node, consts: Map<string, Tensor>): string | undefined {
  if (n.op === 'Relu' && n.domain === '') return 'RELU';
  if (n.op === 'Tanh' && n.domain === '') return 'TANH';
  if (n.op !== 'Clip' || n.domain !== '') return undefined;
  const lo = n.inputs[1] ? consts.get(n.inputs[1]) : undefined;
  const hi = n.inputs[2] ? consts.get(n.inputs[2]) : undefined;
  const l = lo ? lo.num(0) : -Infinity, h = hi ? hi.num(0) : Infinity;
  if (l === 0 && h === Infinity) return 'RELU';
  if (l === 0 && h === 6) return 'RELU6';
  if (l === -1 && h === 1) return 'RELU_N1_TO_1';
  return undefined;
}

export function writeTflite(graph: Graph, opts: WriteTfliteOptions = {}): Uint8Array {
  const an = analyze(graph);
  const consts = an.consts;
  const types = an.types;
  const consumers = new Map<string, Node[]>();
  for (const n of an.order) for (const i of n.inputs) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const producer = new Map<string, Node>();
  for (const n of an.order) for (const o of n.outputs) producer.set(o, n);

  // float16 weights behind Cast(to FLOAT) stay float16 + DEQUANTIZE (analyze may have folded the small ones)
  const dequantized = new Set<string>();
  for (const n of an.order) if (n.op === 'Cast' && n.domain === '' && n.attrs.to === 1 && graph.initializers.get(n.inputs[0]!)?.type === 'float16') dequantized.add(n.outputs[0]!);
  const buffers: Uint8Array[] = [new Uint8Array(0)];
  const tensors: TTensor[] = [];
  const index = new Map<string, number>();
  const ops: TOp[] = [];
  const alias = new Map<string, string>();
  const real = (v: string): string => {
    let x = v;
    while (alias.has(x)) x = alias.get(x)!;
    return x;
  };
  let fresh = 0;

  const where = (n: Node) => `node '${n.name}'`;
  const unsupported = (n: Node, why: string): never => {
    throw new UnsupportedOpError(n.domain ? `${n.domain}.${n.op}` : n.op, where(n), `cannot be written as TFLite: ${why}`);
  };

  /** Quantization parameters of an activation value (from its type or its producer). */
  const qOf = (v: string): QuantParams | undefined => {
    const t = types.get(v);
    if (t?.quant) return t.quant;
    const c = consts.get(v);
    if (c?.quant) return c.quant;
    const p = producer.get(v);
    if (!p) return graph.inputs.find((i) => i.name === v)?.type.quant;
    const sc = (k: number, z: number): QuantParams => ({ scale: Float32Array.of(consts.get(p.inputs[k]!)!.num(0)), zeroPoint: Int32Array.of(consts.get(p.inputs[z]!)!.num(0)) });
    if (p.op === 'QLinearConv') return sc(6, 7);
    if (p.op === 'QGemm') return sc(7, 8);
    if (p.op === 'QLinearAdd' || p.op === 'QLinearMul') return sc(6, 7);
    if (p.domain === TFL_DOMAIN && Array.isArray(p.attrs.out_scale) && (p.attrs.out_scale as number[]).length) {
      const s = (p.attrs.out_scale as number[])[0]!;
      if (s) return { scale: Float32Array.of(s), zeroPoint: Int32Array.of((p.attrs.out_zero_point as number[])[0] ?? 0) };
    }
    if (['Relu', 'Clip', 'MaxPool', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Pad', 'Concat', 'Identity'].includes(p.op) && p.inputs[0]) return qOf(p.inputs[0]);
    return undefined;
  };

  const dimsOf = (v: string, n?: Node): { shape: number[]; signature?: number[] } => {
    const t = types.get(v);
    const s = t?.shape;
    if (!s) {
      if (n) unsupported(n, `the shape of '${v}' is unknown`);
      return { shape: [] };
    }
    const dyn = s.some((d) => typeof d !== 'number');
    return { shape: s.map((d: Dim) => (typeof d === 'number' ? d : 1)), ...(dyn ? { signature: s.map((d: Dim) => (typeof d === 'number' ? d : -1)) } : {}) };
  };

  const addBuffer = (t: Tensor): number => {
    const d = t.data as unknown as ArrayBufferView;
    buffers.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    return buffers.length - 1;
  };

  const typeCode = (dt: DType, what: string): number => {
    const c = TT[dt];
    if (c === undefined) throw new UnsupportedError(`cannot write TFLite: ${what} has type ${dt}`);
    return c;
  };

  /** Tensor index of a value (activation or constant); `q` overrides its quantization parameters. */
  const tensorOf = (v: string, n?: Node, q?: QuantParams, as?: Tensor): number => {
    v = real(v);
    const c = as ?? consts.get(v);
    const isConst = !!c && !graph.inputs.some((i) => i.name === v) && !dequantized.has(v);
    // a constant may be written twice with different quantization; an activation is always one tensor
    const key = isConst && (q || as) ? `${v}#${tensors.length}` : v;
    const have = index.get(key);
    if (have !== undefined) return have;
    let t: TTensor;
    if (isConst) {
      t = { name: v, shape: [...c!.dims], type: typeCode(c!.type, `constant '${v}'`), buffer: addBuffer(c!) };
      const cq = q ?? c!.quant;
      if (cq) t.quant = cq;
    } else {
      const ty = types.get(v) as ValueType | undefined;
      if (!ty) throw new UnsupportedError(`cannot write TFLite: no type for value '${v}'${n ? ` (${where(n)})` : ''}`);
      t = { name: v, ...dimsOf(v, n), type: typeCode(ty.dtype, `value '${v}'`), buffer: 0 };
      const vq = q ?? qOf(v);
      if (vq && ty.dtype !== 'float32') t.quant = vq;
    }
    tensors.push(t);
    index.set(key, tensors.length - 1);
    return tensors.length - 1;
  };
  const constTensor = (base: string, t: Tensor, q?: QuantParams): number => {
    const name = `${base}__w${fresh++}`;
    const tt: TTensor = { name, shape: [...t.dims], type: typeCode(t.type, `constant '${name}'`), buffer: addBuffer(t) };
    if (q) tt.quant = q;
    tensors.push(tt);
    return tensors.length - 1;
  };
  const i32 = (base: string, v: number[], dims = [v.length]) => constTensor(base, new Tensor('int32', Int32Array.from(v), dims));

  /** Fusable activation consumer of `v`: [activation name, the node, its output]. */
  const fusable = (v: string, quantized: boolean): [string, Node] | undefined => {
    const cs = consumers.get(v) ?? [];
    if (cs.length !== 1 || outputs.has(v)) return undefined;
    const a = cs[0]!;
    if (a.inputs[0] !== v) return undefined;
    if (!quantized) {
      const act = floatAct(a, consts);
      return act ? [act, a] : undefined;
    }
    if (a.op !== 'Clip' && a.op !== 'Relu') return undefined;
    const q = qOf(v);
    const dt = types.get(v)?.dtype;
    if (!q || !dt) return undefined;
    const lo = a.inputs[1] ? consts.get(a.inputs[1])?.num(0) : undefined;
    const hi = a.inputs[2] ? consts.get(a.inputs[2])?.num(0) : undefined;
    for (const act of ['RELU', 'RELU6', 'RELU_N1_TO_1'] as const) {
      const [l, h] = activationRangeQuantized(act, dt, q.scale[0]!, q.zeroPoint[0]!);
      const ql = dt === 'int8' ? -128 : dt === 'uint8' ? 0 : -32768;
      const qh = dt === 'int8' ? 127 : dt === 'uint8' ? 255 : 32767;
      if ((lo ?? ql) === l && (hi ?? qh) === h) return [act, a];
    }
    return undefined;
  };
  const fused = new Set<Node>();
  /** Output tensor index and fused activation for a node whose result is output 0. */
  const outAct = (n: Node, canFuse: boolean): [number, number] => {
    const v = n.outputs[0]!;
    const dt = types.get(v)?.dtype;
    const f = canFuse ? fusable(v, dt !== 'float32') : undefined;
    if (!f) return [tensorOf(v, n), 0];
    fused.add(f[1]);
    // the fused result keeps the pre-activation quantization (same scale), under the activation's output name
    const out = f[1].outputs[0]!;
    alias.set(v, out);
    return [tensorOf(out, f[1]), ACT[f[0]]!];
  };

  const emit = (code: string, inputs: number[], outs: number[], options?: TOp['options'], version = 1) => {
    if (OPS[code] === undefined) throw new UnsupportedError(`cannot write TFLite: unknown builtin ${code}`);
    ops.push({ code, inputs, outputs: outs, ...(options ? { options } : {}), version });
  };
  const padding = (n: Node): number => {
    const ap = (n.attrs.auto_pad as string | undefined) ?? 'NOTSET';
    if (ap === 'SAME_UPPER') return 0;
    if (ap === 'VALID') return 1;
    const pads = (n.attrs.pads as number[] | undefined) ?? [];
    if (pads.every((p) => p === 0)) return 1;
    return unsupported(n, `explicit pads [${pads.join(',')}] (TFLite has SAME and VALID only; lower them to a PAD first)`);
  };
  const nhwc = (n: Node) => {
    if (n.attrs.data_layout !== 'NHWC') unsupported(n, 'TFLite convolutions and pools are NHWC (data_layout NHWC expected; convert the graph with src/convert/tflite.ts)');
  };
  const pair = (n: Node, k: string, d: number): [number, number] => {
    const v = (n.attrs[k] as number[] | undefined) ?? [d, d];
    return [v[0]!, v[1]!];
  };
  const int8ish = (v: string) => {
    const dt = types.get(real(v))?.dtype;
    return dt === 'int8' || dt === 'uint8' || dt === 'int16';
  };

  const convOp = (n: Node, x: string, w: string, b: string | undefined, qw?: QuantParams, qy?: QuantParams, qx?: QuantParams) => {
    nhwc(n);
    const wl = n.attrs.weight_layout;
    const dw = wl === '1HWO';
    if (wl !== 'OHWI' && !dw) unsupported(n, `weight_layout ${String(wl)} (OHWI or 1HWO expected)`);
    const wdims = (dequantized.has(w) ? (types.get(w)?.shape as number[] | undefined) : consts.get(w)?.dims) ?? unsupported(n, 'weights must be constant (or float16 constants behind a Cast)');
    const O = dw ? wdims[3]! : wdims[0]!;
    const [sh, sw] = pair(n, 'strides', 1);
    const [dh, dwl] = pair(n, 'dilations', 1);
    const xi = tensorOf(x, n);
    const wi = tensorOf(w, n, qw);
    let bi: number;
    if (b) bi = tensorOf(b, n, qw && qx ? { scale: Float32Array.from(qw.scale, (s) => s * qx.scale[0]!), zeroPoint: new Int32Array(qw.scale.length) } : undefined);
    else if (qw) bi = constTensor(`${n.name}_bias`, new Tensor('int32', new Int32Array(O), [O]), { scale: Float32Array.from(qw.scale, (s) => s * qx!.scale[0]!), zeroPoint: new Int32Array(qw.scale.length) });
    else bi = constTensor(`${n.name}_bias`, new Tensor('float32', new Float32Array(O), [O]));
    const [yi, act] = outAct(n, true);
    if (qy) tensors[yi]!.quant ??= qy;
    const pad = padding(n);
    if (dw) {
      const C = (types.get(x)?.shape?.[3] as number) ?? O;
      emit('DEPTHWISE_CONV_2D', [xi, wi, bi], [yi], { table: 'DepthwiseConv2DOptions', fields: [['padding', 'i8', pad], ['stride_w', 'i32', sw], ['stride_h', 'i32', sh], ['depth_multiplier', 'i32', O / C], ['fused_activation_function', 'i8', act], ['dilation_w_factor', 'i32', dwl], ['dilation_h_factor', 'i32', dh]] }, qw ? 3 : 1);
    } else {
      emit('CONV_2D', [xi, wi, bi], [yi], { table: 'Conv2DOptions', fields: [['padding', 'i8', pad], ['stride_w', 'i32', sw], ['stride_h', 'i32', sh], ['fused_activation_function', 'i8', act], ['dilation_w_factor', 'i32', dwl], ['dilation_h_factor', 'i32', dh]] }, qw ? 3 : 1);
    }
  };
  const qparamsFrom = (n: Node, s: number, z: number, axis?: number): QuantParams => {
    const st = consts.get(n.inputs[s]!), zt = consts.get(n.inputs[z]!);
    if (!st || !zt) unsupported(n, 'quantization parameters must be constant');
    const scale = Float32Array.from(st!.toNumbers());
    const zp = Int32Array.from(zt!.size === scale.length ? zt!.toNumbers() : scale.map(() => zt!.num(0)));
    return { scale, zeroPoint: zp, ...(scale.length > 1 && axis !== undefined ? { axis } : {}) };
  };

  for (const n of an.order) {
    if (fused.has(n)) continue;
    const ins = n.inputs;
    const D = n.domain;
    const allConst = n.outputs.every((o) => consts.has(o)) && !dequantized.has(n.outputs[0]!);
    if (allConst) continue; // folded at load time (shape arithmetic, Constant nodes)
    if (D === '' && n.op === 'Identity') {
      alias.set(n.outputs[0]!, ins[0]!);
      continue;
    }
    if (D === '' && n.op === 'Conv') {
      convOp(n, ins[0]!, ins[1]!, ins[2] || undefined);
      continue;
    }
    if (D === '' && n.op === 'QLinearConv') {
      if (n.attrs.rounding !== 'tflite') unsupported(n, "QLinearConv needs rounding 'tflite' to be a TFLite CONV_2D");
      const dw = n.attrs.weight_layout === '1HWO';
      convOp(n, ins[0]!, ins[3]!, ins[8] || undefined, qparamsFrom(n, 4, 5, dw ? 3 : 0), qparamsFrom(n, 6, 7), qparamsFrom(n, 1, 2));
      continue;
    }
    if ((D === '' && n.op === 'Gemm') || (D === 'com.microsoft' && n.op === 'QGemm')) {
      const q = n.op === 'QGemm';
      if (q && n.attrs.rounding !== 'tflite') unsupported(n, "QGemm needs rounding 'tflite' to be a TFLite FULLY_CONNECTED");
      const [a, w, b] = q ? [ins[0]!, ins[3]!, ins[6] || undefined] : [ins[0]!, ins[1]!, ins[2] || undefined];
      const wt = dequantized.has(w) ? undefined : consts.get(w);
      const wdims = wt?.dims ?? (dequantized.has(w) ? (types.get(w)?.shape as number[] | undefined) : undefined);
      if (!wdims || wdims.length !== 2) unsupported(n, 'FULLY_CONNECTED needs constant 2-D weights');
      if ((n.attrs.transA ?? 0) !== 0 || (n.attrs.alpha ?? 1) !== 1 || (n.attrs.beta ?? 1) !== 1) unsupported(n, 'transA / alpha / beta other than 0 / 1 / 1');
      const tb = (n.attrs.transB ?? 0) === 1;
      const U = tb ? wdims![0]! : wdims![1]!;
      if (!tb && !wt) unsupported(n, 'float16 FULLY_CONNECTED weights need transB = 1');
      const qx = q ? qparamsFrom(n, 1, 2) : undefined;
      const qw = q ? qparamsFrom(n, 4, 5, 0) : undefined;
      let wi: number;
      if (tb) wi = tensorOf(w, n, qw);
      else {
        const [K] = wt!.dims as [number, number];
        const src = wt!.data as Float32Array;
        const dst = new (src.constructor as Float32ArrayConstructor)(src.length);
        for (let k = 0; k < K; k++) for (let u = 0; u < U; u++) dst[u * K + k] = src[k * U + u]!;
        wi = constTensor(`${w}_t`, new Tensor(wt!.type, dst as never, [U, K]), qw);
      }
      let bi = -1;
      const bq = qw && qx ? { scale: Float32Array.from(qw.scale, (s) => s * qx.scale[0]!), zeroPoint: new Int32Array(qw.scale.length) } : undefined;
      if (b) {
        const bt = consts.get(b);
        if (!bt || bt.size !== U) unsupported(n, `bias must be a constant of ${U} values (TFLite adds it per output unit)`);
        bi = bt!.dims.length === 1 ? tensorOf(b, n, bq) : constTensor(b, bt!.reshape([U]), bq);
      }
      const xs = types.get(real(a))?.shape;
      if (!xs || xs.length !== 2) unsupported(n, 'FULLY_CONNECTED input must be 2-D');
      const xi = tensorOf(a, n);
      const [yi, act] = outAct(n, true);
      if (q) tensors[yi]!.quant ??= qparamsFrom(n, 7, 8);
      emit('FULLY_CONNECTED', [xi, wi, bi], [yi], { table: 'FullyConnectedOptions', fields: [['fused_activation_function', 'i8', act]] }, q ? 4 : 1);
      continue;
    }
    if (D === '' && (n.op === 'MaxPool' || n.op === 'AveragePool')) {
      nhwc(n);
      if ((n.attrs.ceil_mode ?? 0) !== 0) unsupported(n, 'ceil_mode');
      if (n.op === 'AveragePool' && (n.attrs.count_include_pad ?? 0) !== 0 && padding(n) === 0) unsupported(n, 'count_include_pad with SAME padding');
      const [kh, kw] = pair(n, 'kernel_shape', 1);
      const [sh, sw] = pair(n, 'strides', 1);
      if ((n.attrs.dilations as number[] | undefined)?.some((d) => d !== 1)) unsupported(n, 'dilated pooling');
      const pad = padding(n);
      const xi = tensorOf(ins[0]!, n);
      const [yi, act] = outAct(n, true);
      emit(n.op === 'MaxPool' ? 'MAX_POOL_2D' : 'AVERAGE_POOL_2D', [xi], [yi], { table: 'Pool2DOptions', fields: [['padding', 'i8', pad], ['stride_w', 'i32', sw], ['stride_h', 'i32', sh], ['filter_width', 'i32', kw], ['filter_height', 'i32', kh], ['fused_activation_function', 'i8', act]] }, int8ish(ins[0]!) ? 2 : 1);
      continue;
    }
    if ((D === '' && (n.op === 'Add' || n.op === 'Sub' || n.op === 'Mul')) || (D === 'com.microsoft' && (n.op === 'QLinearAdd' || n.op === 'QLinearMul'))) {
      const q = D === 'com.microsoft';
      if (q && n.attrs.rounding !== 'tflite') unsupported(n, "needs rounding 'tflite'");
      const code = n.op.endsWith('Add') ? 'ADD' : n.op.endsWith('Mul') ? 'MUL' : 'SUB';
      const a = q ? ins[0]! : ins[0]!, b = q ? ins[3]! : ins[1]!;
      const ai = tensorOf(a, n, q ? qparamsFrom(n, 1, 2) : undefined);
      const bi = tensorOf(b, n, q ? qparamsFrom(n, 4, 5) : undefined);
      const [yi, act] = outAct(n, true);
      const fields: [string, 'i8', number][] = [['fused_activation_function', 'i8', act]];
      emit(code, [ai, bi], [yi], { table: code === 'ADD' ? 'AddOptions' : code === 'MUL' ? 'MulOptions' : 'SubOptions', fields }, q ? 2 : 1);
      continue;
    }
    if (D === '' && (n.op === 'Relu' || n.op === 'Clip' || n.op === 'Sigmoid' || n.op === 'Tanh' || n.op === 'HardSwish')) {
      let code: string | undefined;
      if (n.op === 'Sigmoid') code = 'LOGISTIC';
      else if (n.op === 'HardSwish') code = 'HARD_SWISH';
      else if (int8ish(ins[0]!)) unsupported(n, 'a quantized Relu / Clip is written as a fused activation of the op before it, which is missing here');
      else code = floatAct(n, consts);
      if (!code) unsupported(n, 'Clip bounds other than [0, inf), [0, 6], [-1, 1]');
      emit(code!, [tensorOf(ins[0]!, n)], [tensorOf(n.outputs[0]!, n)]);
      continue;
    }
    if (D === '' && n.op === 'Softmax') {
      const r = types.get(real(ins[0]!))?.shape?.length ?? 0;
      const ax = (n.attrs.axis as number | undefined) ?? -1;
      if (ax !== -1 && ax !== r - 1) unsupported(n, `softmax over axis ${ax} (TFLite SOFTMAX uses the last axis)`);
      emit('SOFTMAX', [tensorOf(ins[0]!, n)], [tensorOf(n.outputs[0]!, n)], { table: 'SoftmaxOptions', fields: [['beta', 'f32', 1]] });
      continue;
    }
    if (D === '' && n.op === 'ReduceMean') {
      const axT = ins[1] ? consts.get(ins[1]) : undefined;
      const axes = axT ? axT.toNumbers() : (n.attrs.axes as number[] | undefined);
      if (!axes?.length) unsupported(n, 'axes must be given and constant');
      emit('MEAN', [tensorOf(ins[0]!, n), i32(`${n.name}_axes`, axes!)], [tensorOf(n.outputs[0]!, n)], { table: 'ReducerOptions', fields: [['keep_dims', 'bool', (n.attrs.keepdims ?? 1) ? 1 : 0]] });
      continue;
    }
    if (D === '' && ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'].includes(n.op)) {
      const { shape, signature } = dimsOf(n.outputs[0]!, n);
      const ns = signature ?? shape;
      if (ns.filter((d) => d === -1).length > 1) unsupported(n, 'more than one unknown output dimension');
      emit('RESHAPE', [tensorOf(ins[0]!, n), i32(`${n.name}_shape`, ns)], [tensorOf(n.outputs[0]!, n)], { table: 'ReshapeOptions', fields: [['new_shape', 'ivec', ns]] });
      continue;
    }
    if (D === '' && n.op === 'Concat') {
      const r = types.get(real(n.outputs[0]!))?.shape?.length ?? 0;
      let ax = n.attrs.axis as number;
      if (ax < 0) ax += r;
      const xs = ins.map((i) => tensorOf(i, n));
      const [yi, act] = outAct(n, true);
      emit('CONCATENATION', xs, [yi], { table: 'ConcatenationOptions', fields: [['axis', 'i32', ax], ['fused_activation_function', 'i8', act]] });
      continue;
    }
    if (D === '' && n.op === 'Pad') {
      if ((n.attrs.mode ?? 'constant') !== 'constant') unsupported(n, `pad mode ${String(n.attrs.mode)}`);
      const pads = ins[1] ? consts.get(ins[1])?.toNumbers() : (n.attrs.pads as number[] | undefined);
      if (!pads) unsupported(n, 'pads must be constant');
      if (ins[3]) unsupported(n, 'Pad with axes');
      const r = pads!.length / 2;
      const p2: number[] = [];
      for (let i = 0; i < r; i++) p2.push(pads![i]!, pads![i + r]!);
      const cv = ins[2] ? consts.get(ins[2]) : undefined;
      if (ins[2] && !cv) unsupported(n, 'constant_value must be constant');
      const zero = cv === undefined || cv.num(0) === (qOf(ins[0]!)?.zeroPoint[0] ?? 0);
      const xi = tensorOf(ins[0]!, n);
      const pi = i32(`${n.name}_paddings`, p2, [r, 2]);
      if (zero) emit('PAD', [xi, pi], [tensorOf(n.outputs[0]!, n)]);
      else emit('PADV2', [xi, pi, constTensor(`${n.name}_value`, cv!.reshape([1]), qOf(ins[0]!))], [tensorOf(n.outputs[0]!, n)]);
      continue;
    }
    if (D === '' && n.op === 'Transpose') {
      const r = types.get(real(ins[0]!))?.shape?.length ?? 0;
      const perm = (n.attrs.perm as number[] | undefined) ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      emit('TRANSPOSE', [tensorOf(ins[0]!, n), i32(`${n.name}_perm`, perm)], [tensorOf(n.outputs[0]!, n)]);
      continue;
    }
    // the importer's DEPTH_TO_SPACE (depth_to_space.h: NHWC, ONNX's DCR order) back as itself
    if (D === '' && n.op === 'DepthToSpace' && n.attrs.data_layout === 'NHWC' && (n.attrs.mode ?? 'DCR') === 'DCR') {
      emit('DEPTH_TO_SPACE', [tensorOf(ins[0]!, n)], [tensorOf(n.outputs[0]!, n)], { table: 'DepthToSpaceOptions', fields: [['block_size', 'i32', n.attrs.blocksize as number]] });
      continue;
    }
    if (D === '' && n.op === 'MatMul') {
      emit('BATCH_MATMUL', [tensorOf(ins[0]!, n), tensorOf(ins[1]!, n)], [tensorOf(n.outputs[0]!, n)], { table: 'BatchMatMulOptions', fields: [] });
      continue;
    }
    if (D === '' && n.op === 'Cast') {
      const from = types.get(real(ins[0]!))?.dtype;
      if (from === 'float16' && n.attrs.to === 1) {
        emit('DEQUANTIZE', [tensorOf(ins[0]!, n)], [tensorOf(n.outputs[0]!, n)]);
        continue;
      }
      unsupported(n, `Cast from ${from} to ${String(n.attrs.to)}`);
    }
    if (D === TFL_DOMAIN) {
      const xi = ins.map((i) => (i ? tensorOf(i, n) : -1));
      const oq = qOf(n.outputs[0]!);
      const yi = tensorOf(n.outputs[0]!, n, oq && types.get(real(n.outputs[0]!))?.dtype !== 'float32' ? oq : undefined);
      switch (n.op) {
        case 'QUANTIZE':
        case 'DEQUANTIZE':
        case 'LOGISTIC':
        case 'TANH':
        case 'HARD_SWISH':
        case 'RELU':
        case 'RELU6':
        case 'RELU_N1_TO_1':
          emit(n.op, xi, [yi], undefined, int8ish(ins[0]!) || int8ish(n.outputs[0]!) ? 2 : 1);
          continue;
        case 'SOFTMAX':
          emit('SOFTMAX', xi, [yi], { table: 'SoftmaxOptions', fields: [['beta', 'f32', (n.attrs.beta as number) ?? 1]] }, 2);
          continue;
        case 'MEAN':
          emit('MEAN', xi, [yi], { table: 'ReducerOptions', fields: [['keep_dims', 'bool', n.attrs.keep_dims ? 1 : 0]] }, 2);
          continue;
        case 'AVERAGE_POOL_2D':
        case 'MAX_POOL_2D':
          emit(n.op, xi, [yi], { table: 'Pool2DOptions', fields: [['padding', 'i8', n.attrs.padding === 'VALID' ? 1 : 0], ['stride_w', 'i32', n.attrs.stride_w as number], ['stride_h', 'i32', n.attrs.stride_h as number], ['filter_width', 'i32', n.attrs.filter_width as number], ['filter_height', 'i32', n.attrs.filter_height as number]] }, 2);
          continue;
        case 'SUB':
          emit('SUB', xi, [yi], { table: 'SubOptions', fields: [] }, 2);
          continue;
      }
    }
    unsupported(n, 'no TFLite builtin for this op in the writer');
  }

  const inputsIdx = graph.inputs.map((i) => tensorOf(i.name));
  const outputsIdx = graph.outputs.map((o) => tensorOf(o.name));
  const anyQuant = tensors.some((t) => t.quant && t.type !== 0);
  return serialize({ tensors, ops, buffers, inputs: inputsIdx, outputs: outputsIdx, name: graph.name || 'main', description: opts.description ?? `edgeq ${graph.producer ? `(from ${graph.producer})` : ''}`.trim(), signatureKey: opts.signatureKey ?? 'serving_default', minRuntime: anyQuant ? '2.3.0' : '1.14.0' });
}

interface Program {
  tensors: TTensor[];
  ops: TOp[];
  buffers: Uint8Array[];
  inputs: number[];
  outputs: number[];
  name: string;
  description: string;
  signatureKey: string;
  minRuntime: string;
}

function serialize(p: Program): Uint8Array {
  const size = p.buffers.reduce((a, b) => a + b.length + 32, 0) + p.tensors.length * 128 + p.ops.length * 128 + 4096;
  const b = new flatbuffers.Builder(size);
  b.forceDefaults(true); // every field added is written, so readers never depend on schema defaults
  const ivec = (v: number[]) => {
    b.startVector(4, v.length, 4);
    for (let i = v.length - 1; i >= 0; i--) b.addInt32(v[i]!);
    return b.endVector();
  };
  const fvec = (v: ArrayLike<number>) => {
    b.startVector(4, v.length, 4);
    for (let i = v.length - 1; i >= 0; i--) b.addFloat32(v[i]!);
    return b.endVector();
  };
  // zero-point vectors are shared between tensors with the same values (per-channel weights and their biases
  // all have all-zero ones): a flatbuffer may reference one vector from many tables
  const zpCache = new Map<string, number>();
  const i64vec = (v: ArrayLike<number>) => {
    const key = Array.prototype.every.call(v, (x: number) => x === 0) ? `0x${v.length}` : Array.prototype.join.call(v, ',');
    const have = zpCache.get(key);
    if (have !== undefined) return have;
    b.startVector(8, v.length, 8);
    for (let i = v.length - 1; i >= 0; i--) b.addInt64(BigInt(v[i]!));
    const off = b.endVector();
    zpCache.set(key, off);
    return off;
  };
  const ovec = (v: number[]) => {
    b.startVector(4, v.length, 4);
    for (let i = v.length - 1; i >= 0; i--) b.addOffset(v[i]!);
    return b.endVector();
  };
  const nf = (t: Record<string, number>) => Object.keys(t).length;

  // metadata: min_runtime_version as a 16-byte NUL-padded string buffer (as TFLite's converter writes it)
  const mrv = new Uint8Array(16);
  mrv.set(new TextEncoder().encode(p.minRuntime));
  const buffers = [...p.buffers, mrv];
  const mrvBuf = buffers.length - 1;

  // buffers (data aligned to 16 as schema.fbs asks: force_align 16)
  const bufOffs = buffers.map((d, i) => {
    let dv = 0;
    if (i > 0 && d.length) {
      b.startVector(1, d.length, 16);
      // the builder grows downwards: claim d.length bytes below the head and copy the data there
      const bb = b as unknown as { space: number; bb: flatbuffers.ByteBuffer };
      bb.space -= d.length;
      bb.bb.bytes().set(d, bb.space);
      dv = b.endVector();
    }
    b.startObject(nf(F.Buffer));
    if (dv) b.addFieldOffset(F.Buffer.data, dv, 0);
    return b.endObject();
  });
  const tensorOffs = p.tensors.map((t) => {
    const name = b.createString(t.name);
    const shape = ivec(t.shape);
    const sig = t.signature ? ivec(t.signature) : 0;
    let q = 0;
    if (t.quant) {
      const sc = fvec(t.quant.scale);
      const zp = i64vec(t.quant.zeroPoint);
      b.startObject(nf(F.QuantizationParameters));
      b.addFieldOffset(F.QuantizationParameters.scale, sc, 0);
      b.addFieldOffset(F.QuantizationParameters.zero_point, zp, 0);
      b.addFieldInt32(F.QuantizationParameters.quantized_dimension, t.quant.axis ?? 0, 0);
      q = b.endObject();
    }
    b.startObject(nf(F.Tensor));
    b.addFieldOffset(F.Tensor.shape, shape, 0);
    b.addFieldInt8(F.Tensor.type, t.type, 0);
    b.addFieldInt32(F.Tensor.buffer, t.buffer, 0);
    b.addFieldOffset(F.Tensor.name, name, 0);
    if (q) b.addFieldOffset(F.Tensor.quantization, q, 0);
    if (sig) b.addFieldOffset(F.Tensor.shape_signature, sig, 0);
    return b.endObject();
  });
  const codes: string[] = [];
  const codeVersion = new Map<string, number>();
  for (const o of p.ops) {
    if (!codes.includes(o.code)) codes.push(o.code);
    codeVersion.set(o.code, Math.max(codeVersion.get(o.code) ?? 1, o.version));
  }
  const opOffs = p.ops.map((o) => {
    const ins = ivec(o.inputs);
    const outs = ivec(o.outputs);
    let opt = 0;
    if (o.options) {
      const T = (F as Record<string, Record<string, number>>)[o.options.table]!;
      const vecs = o.options.fields.map(([, k, v]) => (k === 'ivec' ? ivec(v as number[]) : 0));
      b.startObject(nf(T));
      o.options.fields.forEach(([f, k, v], i) => {
        const id = T[f];
        if (id === undefined) throw new Error(`tflite writer: ${o.options!.table} has no field ${f}`);
        if (k === 'i8' || k === 'bool') b.addFieldInt8(id, v as number, 0);
        else if (k === 'i32') b.addFieldInt32(id, v as number, 0);
        else if (k === 'f32') b.addFieldFloat32(id, v as number, 0);
        else b.addFieldOffset(id, vecs[i]!, 0);
      });
      opt = b.endObject();
    }
    b.startObject(nf(F.Operator));
    b.addFieldInt32(F.Operator.opcode_index, codes.indexOf(o.code), -1);
    b.addFieldOffset(F.Operator.inputs, ins, 0);
    b.addFieldOffset(F.Operator.outputs, outs, 0);
    if (o.options) {
      b.addFieldInt8(F.Operator.builtin_options_type, OPT[o.options.table]!, 0);
      b.addFieldOffset(F.Operator.builtin_options, opt, 0);
    }
    return b.endObject();
  });
  const codeOffs = codes.map((c) => {
    const v = OPS[c]!;
    b.startObject(nf(F.OperatorCode));
    b.addFieldInt8(F.OperatorCode.deprecated_builtin_code, Math.min(v, 127), 0);
    b.addFieldInt32(F.OperatorCode.version, codeVersion.get(c)!, 1);
    b.addFieldInt32(F.OperatorCode.builtin_code, v, 0);
    return b.endObject();
  });
  const sgName = b.createString(p.name);
  const tv = ovec(tensorOffs);
  const iv = ivec(p.inputs);
  const ov = ivec(p.outputs);
  const opv = ovec(opOffs);
  /** a table whose fields are all offsets (vectors, strings, tables) */
  const offsets = (T: Record<string, number>, fields: Record<string, number>) => {
    b.startObject(nf(T));
    for (const [k, v] of Object.entries(fields)) b.addFieldOffset(T[k]!, v, 0);
    return b.endObject();
  };
  const sg = offsets(F.SubGraph, { tensors: tv, inputs: iv, outputs: ov, operators: opv, name: sgName });
  const tmap = (idx: number[]) =>
    ovec(
      idx.map((t) => {
        const nm = b.createString(p.tensors[t]!.name);
        b.startObject(nf(F.TensorMap));
        b.addFieldOffset(F.TensorMap.name, nm, 0);
        b.addFieldInt32(F.TensorMap.tensor_index, t, -1);
        return b.endObject();
      }),
    );
  const sIn = tmap(p.inputs);
  const sOut = tmap(p.outputs);
  const sKey = b.createString(p.signatureKey);
  b.startObject(nf(F.SignatureDef));
  b.addFieldOffset(F.SignatureDef.inputs, sIn, 0);
  b.addFieldOffset(F.SignatureDef.outputs, sOut, 0);
  b.addFieldOffset(F.SignatureDef.signature_key, sKey, 0);
  b.addFieldInt32(F.SignatureDef.subgraph_index, 0, -1);
  const sdef = b.endObject();
  const mName = b.createString('min_runtime_version');
  b.startObject(nf(F.Metadata));
  b.addFieldOffset(F.Metadata.name, mName, 0);
  b.addFieldInt32(F.Metadata.buffer, mrvBuf, -1);
  const meta = b.endObject();
  const desc = b.createString(p.description);
  const codesV = ovec(codeOffs);
  const sgV = ovec([sg]);
  const bufV = ovec(bufOffs);
  const metaV = ovec([meta]);
  const sigV = ovec([sdef]);
  b.startObject(nf(F.Model));
  b.addFieldInt32(F.Model.version, 3, 0);
  const modelFields = { operator_codes: codesV, subgraphs: sgV, description: desc, buffers: bufV, metadata: metaV, signature_defs: sigV };
  for (const [k, v] of Object.entries(modelFields)) b.addFieldOffset(F.Model[k as keyof typeof modelFields], v, 0);
  const model = b.endObject();
  b.finish(model, 'TFL3');
  return b.asUint8Array().slice();
}
