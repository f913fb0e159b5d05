import { EdgeqError, ModelFormatError, UnsupportedError, UnsupportedOpError } from '../../errors.js';
import { type AttrValue, type Dim, Graph, type Node, type ValueType } from '../../ir/graph.js';
import { TFL_DOMAIN } from '../../ops/tflite.js';
import { DTYPES, type DType } from '../../tensor/dtype.js';
import type { QuantParams } from '../../tensor/quant.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { activationRangeQuantized } from '../../tensor/tflite-quant.js';
import type { Table } from './flatbuf.js';
import { TFLITE_ENUMS, TFLITE_UNIONS } from './generated/tflite-schema.js';
import { parseTflite, type TflModel, type TflOperator, type TflTensor } from './model.js';

/** TensorType → edgeq dtype (others: UnsupportedError). */
const DTYPE_OF: Record<number, DType> = { 0: 'float32', 1: 'float16', 2: 'int32', 3: 'uint8', 4: 'int64', 6: 'bool', 7: 'int16', 9: 'int8', 10: 'float64', 12: 'uint64', 15: 'uint32', 16: 'uint16' };
const TT_NAME: Record<number, string> = Object.fromEntries(Object.entries(TFLITE_ENUMS.TensorType).map(([k, v]) => [v, k]));
const OPTS = TFLITE_UNIONS.BuiltinOptions;
const ACT = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'] as const;
const PAD = ['SAME', 'VALID'] as const;

/**
 * Decode a .tflite flatbuffer into the IR (subgraph 0). TFLite ops with NHWC/OHWI semantics become nodes of
 * the `ai.edgeq.tflite` domain (src/ops/tflite.ts); layout-neutral ones become ONNX ops; fused activations
 * become separate Relu/Clip/Tanh nodes (on quantized tensors Clip gets the bounds of TFLite's
 * CalculateActivationRangeQuantized, which is exactly the clamp the fused kernel applies).
 */
export function readTflite(bytes: Uint8Array): Graph {
  try {
    return build(parseTflite(bytes));
  } catch (e) {
    if (e instanceof EdgeqError) throw e;
    throw new ModelFormatError(`malformed TFLite model: ${(e as Error).message}`);
  }
}

function build(m: TflModel): Graph {
  const g = new Graph();
  g.source = 'tflite';
  g.name = m.subgraphName || 'main';
  g.producer = m.description;
  g.opsets = { '': 18, [TFL_DOMAIN]: 1 };
  g.metadata['tflite.schema_version'] = String(m.version);
  if (m.numSubgraphs > 1) g.metadata['tflite.ignored_subgraphs'] = String(m.numSubgraphs - 1);
  const names: string[] = [];
  const used = new Set<string>();
  for (const t of m.tensors) {
    let n = t.name || `t${t.index}`;
    if (used.has(n)) n = `${n}__${t.index}`;
    used.add(n);
    names.push(n);
  }
  const b = new Builder(g, m, names);
  // constants
  const produced = new Set<number>();
  for (const op of m.operators) for (const o of op.outputs) produced.add(o);
  for (const t of m.tensors) {
    const data = m.buffers[t.buffer];
    if (t.buffer === 0 || !data || data.length === 0 || produced.has(t.index)) continue;
    g.initializers.set(names[t.index]!, b.constant(t, data));
  }
  for (const t of m.tensors) {
    // variable tensors (SVDF/LSTM state) start at zero: TFLite's ResetVariableTensors (state does not persist across runs here)
    if (t.isVariable && !g.initializers.has(names[t.index]!) && !produced.has(t.index)) {
      const z = Tensor.zeros(b.dtype(t), t.shape.length ? t.shape : []);
      const q = b.quant(t);
      if (q) {
        z.quant = q;
        if (q.zeroPoint[0]) (z.data as Int8Array).fill(q.zeroPoint[0]);
      }
      sizeOf(t.shape, `variable tensor ${t.index} ('${t.name}')`);
      g.initializers.set(names[t.index]!, z);
    }
  }
  for (const i of m.inputs) {
    if (g.initializers.has(names[i]!)) continue;
    g.inputs.push({ name: names[i]!, type: b.valueType(m.tensors[i]!) });
  }
  // SSA checks: every tensor has one producer; every operator input is produced earlier, constant or a graph input
  const avail = new Set<number>([...g.inputs.map((i) => names.indexOf(i.name))]);
  m.tensors.forEach((t) => g.initializers.has(names[t.index]!) && avail.add(t.index));
  const seen = new Set<number>();
  for (const op of m.operators) {
    for (const i of op.inputs)
      if (i >= 0 && !avail.has(i)) throw new ModelFormatError(`subgraph 0 operator ${op.index} (${op.opName}): input tensor ${i} ('${m.tensors[i]!.name}') has no data, no producer before it and is not a graph input`);
    for (const o of op.outputs) {
      if (seen.has(o) || g.initializers.has(names[o]!) || g.inputs.some((x) => x.name === names[o])) throw new ModelFormatError(`subgraph 0 operator ${op.index} (${op.opName}): output tensor ${o} ('${m.tensors[o]!.name}') is written twice or is a constant/graph input`);
      seen.add(o);
      avail.add(o);
    }
  }
  for (const o of m.outputs) if (!avail.has(o)) throw new ModelFormatError(`subgraph 0 output tensor ${o} ('${m.tensors[o]!.name}') is never computed`);
  for (const op of m.operators) b.convert(op);
  for (const o of m.outputs) g.outputs.push({ name: names[o]!, type: b.valueType(m.tensors[o]!) });
  return g;
}

class Builder {
  private counter = 0;
  constructor(
    readonly g: Graph,
    readonly m: TflModel,
    readonly names: string[],
  ) {}

  dtype(t: TflTensor): DType {
    const d = DTYPE_OF[t.type];
    if (!d) throw new UnsupportedError(`tensor ${t.index} ('${t.name}'): TFLite type ${TT_NAME[t.type] ?? t.type} is not supported`);
    return d;
  }

  quant(t: TflTensor): QuantParams | undefined {
    if (!t.scale) return undefined;
    const zp = Int32Array.from(t.zeroPoint!, (z) => Number(z));
    return { scale: Float32Array.from(t.scale), zeroPoint: zp, ...(t.scale.length > 1 ? { axis: t.quantizedDimension } : {}) };
  }

  valueType(t: TflTensor): ValueType {
    const dtype = this.dtype(t);
    const q = this.quant(t);
    return { dtype, shape: t.shape.map((d): Dim => d), ...(q ? { quant: q } : {}) };
  }

  /** Constant tensor over the file bytes: a zero-copy view when the offset is aligned. */
  constant(t: TflTensor, data: Uint8Array): Tensor {
    const dtype = this.dtype(t);
    const what = `tensor ${t.index} ('${t.name}')`;
    if (dtype === 'string') throw new UnsupportedError(`${what}: string tensors are not supported`);
    const n = sizeOf(t.shape, what);
    const info = DTYPES[dtype];
    if (data.length !== n * info.bytes) throw new ModelFormatError(`${what}: buffer ${t.buffer} has ${data.length} bytes, shape [${t.shape.join(',')}] of ${TT_NAME[t.type]} needs ${n * info.bytes}`);
    let arr;
    if ((data.byteOffset % info.bytes) === 0) arr = new info.array!(data.buffer, data.byteOffset, n);
    else arr = new info.array!(data.slice().buffer, 0, n);
    const tensor = new Tensor(dtype, arr as never, t.shape);
    const q = this.quant(t);
    if (q) tensor.quant = q;
    return tensor;
  }

  private node(op: string, domain: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue>, name: string): void {
    this.g.nodes.push({ name, op, domain, inputs, outputs, attrs } as Node);
  }

  private fresh(base: string): string {
    let n: string;
    do n = `${base}__${this.counter++}`;
    while (this.g.initializers.has(n) || this.names.includes(n));
    return n;
  }

  private addConst(base: string, t: Tensor): string {
    const n = this.fresh(base);
    this.g.initializers.set(n, t);
    return n;
  }

  private constOf(op: TflOperator, k: number, what: string): Tensor {
    const i = op.inputs[k];
    const t = i === undefined || i < 0 ? undefined : this.g.initializers.get(this.names[i]!);
    if (!t) throw new UnsupportedError(`${this.where(op)}: ${what} (input ${k}) must be a constant`);
    return t;
  }

  where(op: TflOperator): string {
    return `subgraph 0 operator ${op.index} (${op.opName})`;
  }

  private qattrs(op: TflOperator): Record<string, AttrValue> {
    const s = (i: number) => (i >= 0 && this.m.tensors[i]!.scale ? this.m.tensors[i]!.scale![0]! : 0);
    const z = (i: number) => (i >= 0 && this.m.tensors[i]!.zeroPoint ? Number(this.m.tensors[i]!.zeroPoint![0]!) : 0);
    return { in_scale: op.inputs.map(s), in_zero_point: op.inputs.map(z), out_scale: op.outputs.map(s), out_zero_point: op.outputs.map(z) };
  }

  private opts(op: TflOperator, table: keyof typeof OPTS): Table<any> | undefined {
    if (!op.options) return undefined;
    if (op.optionsType !== OPTS[table]) throw new ModelFormatError(`${this.where(op)}: builtin_options type ${op.optionsType}, expected ${table} (${OPTS[table]})`);
    return op.options.as(table as never);
  }

  private act(op: TflOperator, o: Table<any> | undefined): string {
    const a = o ? o.int('fused_activation_function', 'i8') : 0;
    const s = ACT[a];
    if (s === undefined) throw new ModelFormatError(`${this.where(op)}: unknown fused activation ${a}`);
    return s;
  }

  private pad(op: TflOperator, o: Table<any> | undefined): string {
    const p = o ? o.int('padding', 'i8') : 0;
    if (PAD[p] === undefined) throw new ModelFormatError(`${this.where(op)}: unknown padding ${p}`);
    return PAD[p];
  }

  /** Emit the op producing output 0 (through a fused-activation node when `act` is not NONE). */
  private emit(op: TflOperator, type: string, domain: string, inputs: string[], attrs: Record<string, AttrValue>, act = 'NONE'): void {
    const outs = op.outputs.map((o) => this.names[o]!);
    const name = `${op.opName}_${op.index}`;
    if (act === 'NONE') return this.node(type, domain, inputs, outs, attrs, name);
    const outT = this.m.tensors[op.outputs[0]!]!;
    const pre = this.fresh(`${outs[0]}_preact`);
    this.node(type, domain, inputs, [pre, ...outs.slice(1)], attrs, name);
    const dtype = this.dtype(outT);
    const an = `${name}_${act.toLowerCase()}`;
    if (act === 'TANH' && dtype === 'float32') return this.node('Tanh', '', [pre], [outs[0]!], {}, an);
    if (act === 'TANH' || act === 'SIGN_BIT') throw new UnsupportedError(`${this.where(op)}: fused activation ${act} on ${dtype} is not supported`);
    if (dtype === 'float32') {
      if (act === 'RELU') return this.node('Relu', '', [pre], [outs[0]!], {}, an);
      const [lo, hi] = act === 'RELU6' ? [0, 6] : [-1, 1];
      const lt = this.addConst(`${an}_min`, new Tensor('float32', Float32Array.of(lo), []));
      const ht = this.addConst(`${an}_max`, new Tensor('float32', Float32Array.of(hi), []));
      return this.node('Clip', '', [pre, lt, ht], [outs[0]!], {}, an);
    }
    if (!outT.scale) throw new ModelFormatError(`${this.where(op)}: quantized output without quantization parameters`);
    const [lo, hi] = activationRangeQuantized(act as 'RELU', dtype, outT.scale[0]!, Number(outT.zeroPoint![0]!));
    const mk = (v: number) => new Tensor(dtype, dtype === 'int8' ? Int8Array.of(v) : dtype === 'int16' ? Int16Array.of(v) : dtype === 'uint8' ? Uint8Array.of(v) : Int32Array.of(v), []);
    const lt = this.addConst(`${an}_min`, mk(lo));
    const ht = this.addConst(`${an}_max`, mk(hi));
    this.node('Clip', '', [pre, lt, ht], [outs[0]!], {}, an);
  }

  private ins(op: TflOperator): string[] {
    return op.inputs.map((i) => (i < 0 ? '' : this.names[i]!));
  }

  private i64(base: string, v: number[]): string {
    return this.addConst(base, new Tensor('int64', BigInt64Array.from(v, (x) => BigInt(x)), [v.length]));
  }

  private sameQuant(op: TflOperator, tensors: number[]): void {
    const ref = this.m.tensors[tensors[0]!]!;
    for (const i of tensors) {
      const t = this.m.tensors[i]!;
      if ((t.scale?.[0] ?? 0) !== (ref.scale?.[0] ?? 0) || (t.zeroPoint?.[0] ?? 0n) !== (ref.zeroPoint?.[0] ?? 0n))
        throw new UnsupportedError(`${this.where(op)}: inputs/outputs with different quantization parameters are not supported`);
    }
  }

  convert(op: TflOperator): void {
    const T = TFL_DOMAIN;
    const ins = this.ins(op);
    const q = this.qattrs(op);
    const nIn = (lo: number, hi = lo) => {
      if (op.inputs.length < lo || op.inputs.length > hi) throw new ModelFormatError(`${this.where(op)}: expected ${lo}${hi !== lo ? '..' + hi : ''} inputs, got ${op.inputs.length}`);
      if (op.outputs.length < 1) throw new ModelFormatError(`${this.where(op)}: no outputs`);
    };
    const t = (k: number) => this.m.tensors[op.inputs[k]!]!;
    switch (op.opName) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        nIn(2, 3);
        const dw = op.opName === 'DEPTHWISE_CONV_2D';
        const o = this.opts(op, dw ? 'DepthwiseConv2DOptions' : 'Conv2DOptions');
        const attrs: Record<string, AttrValue> = {
          padding: this.pad(op, o),
          stride_w: o?.int('stride_w', 'i32') ?? 1,
          stride_h: o?.int('stride_h', 'i32') ?? 1,
          dilation_w_factor: o?.int('dilation_w_factor', 'i32', 1) ?? 1,
          dilation_h_factor: o?.int('dilation_h_factor', 'i32', 1) ?? 1,
          ...(dw ? { depth_multiplier: o?.int('depth_multiplier', 'i32') ?? 0 } : {}),
          data_layout: 'NHWC',
          weight_layout: dw ? '1HWO' : 'OHWI',
          ...q,
        };
        return this.emit(op, op.opName, T, ins, attrs, this.act(op, o));
      }
      case 'TRANSPOSE_CONV': {
        nIn(3, 4);
        const o = this.opts(op, 'TransposeConvOptions');
        const attrs = { padding: this.pad(op, o), stride_w: o?.int('stride_w', 'i32') ?? 1, stride_h: o?.int('stride_h', 'i32') ?? 1, data_layout: 'NHWC', weight_layout: 'OHWI', ...q };
        return this.emit(op, op.opName, T, ins, attrs, this.act(op, o));
      }
      case 'FULLY_CONNECTED': {
        nIn(2, 3);
        const o = this.opts(op, 'FullyConnectedOptions');
        if (o && o.int('weights_format', 'i8') !== 0) throw new UnsupportedError(`${this.where(op)}: shuffled weights format is not supported`);
        return this.emit(op, op.opName, T, ins, { keep_num_dims: o?.bool('keep_num_dims') ? 1 : 0, ...q }, this.act(op, o));
      }
      case 'AVERAGE_POOL_2D':
      case 'MAX_POOL_2D': {
        nIn(1);
        const o = this.opts(op, 'Pool2DOptions');
        const attrs = {
          padding: this.pad(op, o),
          stride_w: o?.int('stride_w', 'i32') ?? 1,
          stride_h: o?.int('stride_h', 'i32') ?? 1,
          filter_width: o?.int('filter_width', 'i32') ?? 0,
          filter_height: o?.int('filter_height', 'i32') ?? 0,
          data_layout: 'NHWC',
          ...q,
        };
        return this.emit(op, op.opName, T, ins, attrs, this.act(op, o));
      }
      case 'ADD':
      case 'SUB': {
        nIn(2);
        const o = this.opts(op, op.opName === 'ADD' ? 'AddOptions' : 'SubOptions');
        // "pot_scale_int16:bool = true" — only meaningful for int16
        return this.emit(op, op.opName, T, ins, { pot_scale_int16: (o ? o.bool('pot_scale_int16', true) : true) ? 1 : 0, ...q }, this.act(op, o));
      }
      case 'MUL': {
        nIn(2);
        const o = this.opts(op, 'MulOptions');
        return this.emit(op, op.opName, T, ins, q, this.act(op, o));
      }
      case 'LOGISTIC':
      case 'TANH':
      case 'HARD_SWISH':
      case 'RELU':
      case 'RELU6':
      case 'RELU_N1_TO_1':
        nIn(1);
        if (this.dtype(t(0)) === 'float32') {
          const out = [this.names[op.outputs[0]!]!];
          const nm = `${op.opName}_${op.index}`;
          if (op.opName === 'LOGISTIC') return this.node('Sigmoid', '', ins, out, {}, nm);
          if (op.opName === 'TANH') return this.node('Tanh', '', ins, out, {}, nm);
          if (op.opName === 'RELU') return this.node('Relu', '', ins, out, {}, nm);
          if (op.opName === 'HARD_SWISH') return this.node('HardSwish', '', ins, out, {}, nm);
        }
        return this.emit(op, op.opName, T, ins, q);
      case 'LEAKY_RELU': {
        nIn(1);
        const o = this.opts(op, 'LeakyReluOptions');
        return this.emit(op, op.opName, T, ins, { alpha: o?.float('alpha') ?? 0, ...q });
      }
      case 'SOFTMAX': {
        nIn(1);
        const o = this.opts(op, 'SoftmaxOptions');
        return this.emit(op, op.opName, T, ins, { beta: o?.float('beta') ?? 0, output_type: this.dtype(this.m.tensors[op.outputs[0]!]!), ...q });
      }
      case 'MEAN': {
        nIn(2);
        const o = this.opts(op, 'ReducerOptions');
        return this.emit(op, op.opName, T, ins, { keep_dims: o?.bool('keep_dims') ? 1 : 0, ...q });
      }
      case 'QUANTIZE':
        nIn(1);
        return this.emit(op, op.opName, T, ins, { output_type: this.dtype(this.m.tensors[op.outputs[0]!]!), ...q });
      case 'DEQUANTIZE':
        nIn(1);
        return this.emit(op, op.opName, T, ins, q);
      case 'RESIZE_BILINEAR':
      case 'RESIZE_NEAREST_NEIGHBOR': {
        nIn(2);
        const o = this.opts(op, op.opName === 'RESIZE_BILINEAR' ? 'ResizeBilinearOptions' : 'ResizeNearestNeighborOptions');
        return this.emit(op, op.opName, T, ins, { align_corners: o?.bool('align_corners') ? 1 : 0, half_pixel_centers: o?.bool('half_pixel_centers') ? 1 : 0, data_layout: 'NHWC', ...q });
      }
      // ---- layout-neutral ops → ONNX
      case 'RESHAPE': {
        nIn(1, 2);
        let shape: number[];
        if (op.inputs.length === 2 && op.inputs[1]! >= 0) {
          shape = this.constOf(op, 1, 'shape').toNumbers();
        } else {
          const o = this.opts(op, 'ReshapeOptions');
          shape = o?.ints('new_shape') ?? this.m.tensors[op.outputs[0]!]!.shape;
        }
        this.sameQuant(op, [op.inputs[0]!, op.outputs[0]!]);
        return this.emit(op, 'Reshape', '', [ins[0]!, this.i64(`${op.opName}_${op.index}_shape`, shape)], { allowzero: 1 });
      }
      case 'SQUEEZE': {
        nIn(1);
        const o = this.opts(op, 'SqueezeOptions');
        let axes = o?.ints('squeeze_dims') ?? [];
        if (!axes.length) axes = t(0).shape.flatMap((d, i) => (d === 1 ? [i] : []));
        this.sameQuant(op, [op.inputs[0]!, op.outputs[0]!]);
        return this.emit(op, 'Squeeze', '', [ins[0]!, this.i64(`${op.opName}_${op.index}_axes`, axes)], {});
      }
      case 'TRANSPOSE': {
        nIn(2);
        this.sameQuant(op, [op.inputs[0]!, op.outputs[0]!]);
        return this.emit(op, 'Transpose', '', [ins[0]!], { perm: this.constOf(op, 1, 'perm').toNumbers() });
      }
      case 'CONCATENATION': {
        if (op.inputs.length < 1) nIn(1);
        const o = this.opts(op, 'ConcatenationOptions');
        this.sameQuant(op, [...op.inputs, op.outputs[0]!]);
        return this.emit(op, 'Concat', '', ins, { axis: o?.int('axis', 'i32') ?? 0 }, this.act(op, o));
      }
      case 'PAD':
      case 'PADV2': {
        nIn(2, op.opName === 'PADV2' ? 3 : 2);
        const p = this.constOf(op, 1, 'paddings').toNumbers();
        const r = p.length / 2;
        const pads = [...Array.from({ length: r }, (_, i) => p[2 * i]!), ...Array.from({ length: r }, (_, i) => p[2 * i + 1]!)];
        this.sameQuant(op, [op.inputs[0]!, op.outputs[0]!]);
        const dt = this.dtype(t(0));
        let cv: string;
        if (op.opName === 'PADV2' && op.inputs.length === 3 && op.inputs[2]! >= 0) cv = this.addConst(`${op.opName}_${op.index}_value`, this.constOf(op, 2, 'constant_values').reshape([]));
        else {
          // PAD: "the padding value is the output zero point" for quantized tensors, 0 otherwise
          const zp = Number(this.m.tensors[op.outputs[0]!]!.zeroPoint?.[0] ?? 0n);
          const data = DTYPES[dt].array!;
          const arr = new data(1);
          if (dt === 'int64' || dt === 'uint64') (arr as BigInt64Array)[0] = BigInt(zp);
          else (arr as Int32Array)[0] = zp;
          cv = this.addConst(`${op.opName}_${op.index}_value`, new Tensor(dt, arr as never, []));
        }
        return this.emit(op, 'Pad', '', [ins[0]!, this.i64(`${op.opName}_${op.index}_pads`, pads), cv], { mode: 'constant' });
      }
      case 'SPLIT': {
        nIn(2);
        const axisT = this.constOf(op, 0, 'axis');
        const x = t(1);
        const r = x.shape.length;
        let axis = axisT.num(0);
        if (axis < -r || axis >= r) throw new ModelFormatError(`${this.where(op)}: axis ${axis} out of range for rank ${r}`);
        if (axis < 0) axis += r;
        const n = op.outputs.length;
        const d = x.shape[axis]!;
        if (d % n !== 0) throw new ModelFormatError(`${this.where(op)}: dimension ${d} not divisible into ${n} splits`);
        this.sameQuant(op, [op.inputs[1]!, ...op.outputs]);
        return this.emit(op, 'Split', '', [ins[1]!, this.i64(`${op.opName}_${op.index}_split`, new Array(n).fill(d / n))], { axis });
      }
      case 'SVDF': {
        nIn(4, 5);
        const o = this.opts(op, 'SVDFOptions');
        const act = this.act(op, o);
        // Integer SVDF (svdf.cc EvalIntegerSVDF) clamps to the int8 range only; the fused activation applies to float.
        return this.emit(op, op.opName, T, ins, { rank: o?.int('rank', 'i32') ?? 0, ...q }, this.dtype(t(0)) === 'float32' ? act : 'NONE');
      }
      case 'UNIDIRECTIONAL_SEQUENCE_LSTM': {
        nIn(20, 24);
        const o = this.opts(op, 'UnidirectionalSequenceLSTMOptions');
        if (this.dtype(t(0)) !== 'float32') throw new UnsupportedOpError(op.opName, `TFLite builtin code ${op.opcode}, ${this.where(op)}`, `only float32 is supported, the input is ${this.dtype(t(0))}`);
        const attrs = {
          fused_activation_function: this.act(op, o),
          cell_clip: o?.float('cell_clip') ?? 0,
          proj_clip: o?.float('proj_clip') ?? 0,
          time_major: o?.bool('time_major') ? 1 : 0,
        };
        return this.emit(op, op.opName, T, ins, attrs);
      }
      case 'STRIDED_SLICE':
        return this.stridedSlice(op, ins);
      default:
        throw new UnsupportedOpError(op.opName, `TFLite builtin code ${op.opcode}${op.customCode !== undefined ? ` custom '${op.customCode}'` : ''}, ${this.where(op)}, output '${this.names[op.outputs[0]!] ?? '?'}'`);
    }
  }

  /** STRIDED_SLICE with constant begin/end/strides → ONNX Slice (+ Reshape for shrink_axis_mask). */
  private stridedSlice(op: TflOperator, ins: string[]): void {
    if (op.inputs.length !== 4) throw new ModelFormatError(`${this.where(op)}: expected 4 inputs, got ${op.inputs.length}`);
    const o = this.opts(op, 'StridedSliceOptions');
    const bm = o?.int('begin_mask', 'i32') ?? 0, em = o?.int('end_mask', 'i32') ?? 0;
    const ell = o?.int('ellipsis_mask', 'i32') ?? 0, nam = o?.int('new_axis_mask', 'i32') ?? 0, sam = o?.int('shrink_axis_mask', 'i32') ?? 0;
    const offset = o?.bool('offset') ?? false;
    if (ell || nam) throw new UnsupportedError(`${this.where(op)}: ellipsis_mask/new_axis_mask are not supported`);
    const x = this.m.tensors[op.inputs[0]!]!;
    const begin = this.constOf(op, 1, 'begin').toNumbers();
    const end = this.constOf(op, 2, 'end').toNumbers();
    const strides = this.constOf(op, 3, 'strides').toNumbers();
    const r = x.shape.length;
    if (begin.length !== end.length || begin.length !== strides.length || begin.length > r) throw new ModelFormatError(`${this.where(op)}: begin/end/strides lengths ${begin.length}/${end.length}/${strides.length} do not fit rank ${r}`);
    const starts: number[] = [], ends: number[] = [], steps: number[] = [], axes: number[] = [];
    const BIG = 2 ** 31 - 1;
    for (let i = 0; i < begin.length; i++) {
      const s = strides[i]!;
      if (s === 0) throw new ModelFormatError(`${this.where(op)}: stride 0 on axis ${i}`);
      let b = begin[i]!, e = offset ? begin[i]! + end[i]! : end[i]!;
      if (sam & (1 << i)) {
        // shrink: a single element at begin ("end = begin + 1", ignoring end_mask)
        const d = x.shape[i]!;
        if (bm & (1 << i)) b = 0;
        const bb = b < 0 ? b + d : b;
        if (bb < 0 || bb >= d) throw new ModelFormatError(`${this.where(op)}: shrink index ${b} out of range for dimension ${d}`);
        starts.push(bb);
        ends.push(bb + 1);
        steps.push(1);
        axes.push(i);
        continue;
      }
      if (bm & (1 << i)) b = s > 0 ? -BIG - 1 : BIG;
      if (em & (1 << i)) e = s > 0 ? BIG : -BIG - 1;
      starts.push(b);
      ends.push(e);
      steps.push(s);
      axes.push(i);
    }
    const nm = `${op.opName}_${op.index}`;
    const sliceIns = [ins[0]!, this.i64(`${nm}_starts`, starts), this.i64(`${nm}_ends`, ends), this.i64(`${nm}_axes`, axes), this.i64(`${nm}_steps`, steps)];
    this.sameQuant(op, [op.inputs[0]!, op.outputs[0]!]);
    if (!sam) return this.emit(op, 'Slice', '', sliceIns, {});
    const pre = this.fresh(`${nm}_slice`);
    this.node('Slice', '', sliceIns, [pre], {}, nm);
    const sq = Array.from({ length: begin.length }, (_, i) => i).filter((i) => sam & (1 << i));
    this.node('Squeeze', '', [pre, this.i64(`${nm}_shrink`, sq)], [this.names[op.outputs[0]!]!], {}, `${nm}_shrink`);
  }
}
