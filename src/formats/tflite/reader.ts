import { EdgeqError, ModelFormatError, UnsupportedError, UnsupportedOpError } from '../../errors.js';
import { type AttrValue, type Dim, Graph, type Node, type ValueType } from '../../ir/graph.js';
import { TFL_DOMAIN } from '../../ir/layout.js';
import { capturedBy, MAX_BODY_DEPTH } from '../../ir/subgraph.js';
import { DTYPES, type DType } from '../../tensor/dtype.js';
import type { QuantParams } from '../../tensor/quant.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { activationRangeQuantized } from '../../tensor/tflite-quant.js';
import type { Table } from './flatbuf.js';
import { TFLITE_ENUMS, TFLITE_UNIONS } from './generated/tflite-schema.js';
import { readFlexbuffer } from './flexbuffers.js';
import { densify } from './sparse.js';
import { mapBuiltin } from './builtins.js';
import { parseTflite, type TflModel, type TflOperator, type TflTensor } from './model.js';

/** TensorType → edgeq dtype (others: UnsupportedError). */
const DTYPE_OF: Record<number, DType> = { 0: 'float32', 1: 'float16', 2: 'int32', 3: 'uint8', 4: 'int64', 6: 'bool', 7: 'int16', 9: 'int8', 10: 'float64', 12: 'uint64', 15: 'uint32', 16: 'uint16' };
const TT_NAME: Record<number, string> = Object.fromEntries(Object.entries(TFLITE_ENUMS.TensorType).map(([k, v]) => [v, k]));
const OPTS = TFLITE_UNIONS.BuiltinOptions;
const ACT = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'] as const;
const PAD = ['SAME', 'VALID'] as const;

/**
 * Decode a .tflite flatbuffer into the IR (subgraph 0; the subgraphs an IF names become its ONNX If branches,
 * a CALL_ONCE init subgraph is evaluated at load). Ops map onto the same definitions ONNX models use
 * wherever one computes exactly what TFLite does: layouts become attributes (data_layout NHWC, weight_layout
 * OHWI / 1HWO) and TFLite's integer requantization is `rounding: 'tflite'` on QLinearConv / QGemm / QLinearAdd /
 * QLinearMul (mapFloat, mapQuant). The rest become `ai.edgeq.tflite` nodes (src/ops/tflite.ts says which and why).
 * Fused activations become separate Relu/Clip/Tanh nodes (on quantized tensors Clip gets the bounds of TFLite's
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
  g.opsets = { '': 18, [TFL_DOMAIN]: 1, 'com.microsoft': 1 };
  g.metadata['tflite.schema_version'] = String(m.version);
  const used = new Set<number>([0]);
  fill(g, m, 0, [0], used);
  if (m.numSubgraphs > used.size) g.metadata['tflite.ignored_subgraphs'] = String(m.numSubgraphs - used.size);
  return g;
}

/** Subgraph `k` of `m` seen as a model of its own (same buffers and operator codes). */
function subgraphView(m: TflModel, k: number): TflModel {
  const sg = m.subgraphs[k]!;
  return { ...m, tensors: sg.tensors, inputs: sg.inputs, outputs: sg.outputs, operators: sg.operators, subgraphName: sg.name };
}

/**
 * Fill `g` with subgraph `k` (`stack`: the subgraphs being converted around it, innermost last). Subgraph 0's
 * inputs become graph inputs; a control-flow branch (k > 0) reads the enclosing graph's values `outer` instead,
 * bound to its inputs by Identity nodes (the If node then captures them: ir/subgraph.ts), or as initializers
 * where the outer value is a constant (`outerConst`).
 */
function fill(g: Graph, model: TflModel, k: number, stack: number[], used: Set<number>, outer?: string[], outerConst?: (name: string) => Tensor | undefined, prefixAs?: string): void {
  const m = k ? subgraphView(model, k) : model;
  const where = `subgraph ${k}`;
  // branch values get a per-subgraph prefix: TFLite names are per subgraph, IR names are one scope with the outer graph
  // (prefixAs: a second copy of one subgraph, WHILE's condition, needs names of its own)
  const prefix = prefixAs ?? (k ? `sg${k}/` : '');
  const names: string[] = [];
  const taken = new Set<string>();
  for (const t of m.tensors) {
    let n = prefix + (t.name || `t${t.index}`);
    if (taken.has(n)) n = `${n}__${t.index}`;
    taken.add(n);
    names.push(n);
  }
  const b = new Builder(g, m, names, k, stack, used, model);
  // constants
  const produced = new Set<number>();
  for (const op of m.operators) for (const o of op.outputs) produced.add(o);
  const isInput = new Set(m.inputs);
  for (const t of m.tensors) {
    if (produced.has(t.index) || (k && isInput.has(t.index))) continue;
    const data = m.buffers[t.buffer];
    if (t.buffer !== 0 && data && data.length !== 0) g.initializers.set(names[t.index]!, b.constant(t, data));
    // a tensor of zero elements needs no data (TFLite leaves its data pointer null; converters write such
    // shapes, e.g. RESHAPE's legacy shape [0] = "a scalar")
    else if (!t.isVariable && !t.sparsity && !isInput.has(t.index) && t.shape.some((d) => d === 0)) g.initializers.set(names[t.index]!, b.constant(t, new Uint8Array(0)));
  }
  for (const t of m.tensors) {
    // variable tensors (SVDF/LSTM state) start at zero: TFLite's ResetVariableTensors (state does not persist across runs here)
    if (t.isVariable && !g.initializers.has(names[t.index]!) && !produced.has(t.index)) {
      // checked before the zeros are allocated, so a bad shape names this tensor
      sizeOf(t.shape, `variable tensor ${t.index} ('${t.name}')`);
      const z = Tensor.zeros(b.dtype(t), t.shape.length ? t.shape : []);
      const q = b.quant(t);
      if (q) {
        z.quant = q;
        if (q.zeroPoint[0]) (z.data as Int8Array).fill(q.zeroPoint[0]);
      }
      g.initializers.set(names[t.index]!, z);
    }
  }
  for (const t of m.tensors)
    if (t.sparsity && !g.initializers.has(names[t.index]!)) throw new UnsupportedError(`tensor ${t.index} ('${t.name}'): sparse tensors must be constants (TFLite only stores sparse weights)`);
  const avail = new Set<number>();
  m.inputs.forEach((i, j) => {
    avail.add(i);
    // an operand that is a constant outside is one inside too (ops needing constant inputs, packed weights)
    const c = outer && outerConst?.(outer[j]!);
    if (c) g.initializers.set(names[i]!, c);
    else if (outer) g.nodes.push({ name: `${prefix}input_${j}`, op: 'Identity', domain: '', inputs: [outer[j]!], outputs: [names[i]!], attrs: {} } as Node);
    else if (!g.initializers.has(names[i]!)) g.inputs.push({ name: names[i]!, type: b.valueType(m.tensors[i]!) });
  });
  // SSA checks: every tensor has one producer; every operator input is produced earlier, constant or a graph input
  m.tensors.forEach((t) => g.initializers.has(names[t.index]!) && avail.add(t.index));
  const seen = new Set<number>();
  for (const op of m.operators) {
    for (const i of op.inputs)
      if (i >= 0 && !avail.has(i)) throw new ModelFormatError(`${where} operator ${op.index} (${op.opName}): input tensor ${i} ('${m.tensors[i]!.name}') has no data, no producer before it and is not a graph input`);
    for (const o of op.outputs) {
      if (seen.has(o) || g.initializers.has(names[o]!) || isInput.has(o)) throw new ModelFormatError(`${where} operator ${op.index} (${op.opName}): output tensor ${o} ('${m.tensors[o]!.name}') is written twice or is a constant/graph input`);
      seen.add(o);
      avail.add(o);
    }
  }
  for (const o of m.outputs) if (!avail.has(o)) throw new ModelFormatError(`${where} output tensor ${o} ('${m.tensors[o]!.name}') is never computed`);
  for (const op of m.operators) b.convert(op);
  for (const o of m.outputs) g.outputs.push({ name: names[o]!, type: b.valueType(m.tensors[o]!) });
}

class Builder {
  private counter = 0;
  /** resource tensor (VAR_HANDLE output) → variable shared_name */
  private readonly resources = new Map<number, string>();
  /** variable shared_name → the IR value holding its current content */
  private readonly varValues = new Map<string, string>();
  constructor(
    readonly g: Graph,
    readonly m: TflModel,
    readonly names: string[],
    /** this subgraph's index, the subgraphs converted around it and every subgraph reached so far */
    readonly k = 0,
    readonly stack: number[] = [0],
    readonly used = new Set<number>([0]),
    /** the whole model (m is subgraph k of it) */
    readonly model = m,
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

  /**
   * A tensor's type. Dims the shape_signature leaves open (-1) past the first are symbolic: TFLite runs them at
   * whatever size ResizeInputTensor sets, and their placeholder (often 1) is rarely a usable size (openWakeWord's
   * melspectrogram: 1 audio sample for a 512-tap window). An open first (batch) dim keeps its placeholder, which
   * is what TFLite's AllocateTensors runs without a resize and what edge models are fed (batch 1).
   */
  valueType(t: TflTensor): ValueType {
    const dtype = this.dtype(t);
    const q = this.quant(t);
    const shape = t.shape.map((d, i): Dim => (i > 0 && t.signature?.[i] === -1 ? `${this.names[t.index]}_d${i}` : d));
    return { dtype, shape, ...(q ? { quant: q } : {}) };
  }

  /** Constant tensor over the file bytes: a zero-copy view when the offset is aligned. */
  constant(t: TflTensor, data: Uint8Array): Tensor {
    const dtype = this.dtype(t);
    const what = `tensor ${t.index} ('${t.name}')`;
    if (dtype === 'string') throw new UnsupportedError(`${what}: string tensors are not supported`);
    const n = sizeOf(t.shape, what);
    const info = DTYPES[dtype];
    if (t.sparsity) {
      // sparse constant: the buffer holds the stored values only; densified here (sparse.ts validates every index)
      if (data.length % info.bytes) throw new ModelFormatError(`${what}: sparse buffer ${t.buffer} has ${data.length} bytes, not a whole number of ${TT_NAME[t.type]}`);
      const values = new info.array!(data.slice().buffer, 0, data.length / info.bytes);
      const dense = new info.array!(n);
      densify(values as never, t.shape, t.sparsity, dense as never, what);
      const tensor = new Tensor(dtype, dense as never, t.shape);
      const q = this.quant(t);
      if (q) tensor.quant = q;
      return tensor;
    }
    if (data.length !== n * info.bytes) throw new ModelFormatError(`${what}: buffer ${t.buffer} has ${data.length} bytes, shape [${t.shape.join(',')}] of ${TT_NAME[t.type]} needs ${n * info.bytes}`);
    let arr;
    if ((data.byteOffset % info.bytes) === 0) arr = new info.array!(data.buffer, data.byteOffset, n);
    else arr = new info.array!(data.slice().buffer, 0, n);
    const tensor = new Tensor(dtype, arr as never, t.shape);
    const q = this.quant(t);
    if (q) tensor.quant = q;
    return tensor;
  }

  node(op: string, domain: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue>, name: string): void {
    this.g.nodes.push({ name, op, domain, inputs, outputs, attrs } as Node);
  }

  fresh(base: string): string {
    let n: string;
    do n = `${base}__${this.counter++}`;
    while (this.g.initializers.has(n) || this.names.includes(n));
    return n;
  }

  addConst(base: string, t: Tensor): string {
    const n = this.fresh(base);
    this.g.initializers.set(n, t);
    return n;
  }

  constOf(op: TflOperator, k: number, what: string): Tensor {
    const i = op.inputs[k];
    const t = i === undefined || i < 0 ? undefined : this.g.initializers.get(this.names[i]!);
    if (!t) throw new UnsupportedError(`${this.where(op)}: ${what} (input ${k}) must be a constant`);
    return t;
  }

  where(op: TflOperator): string {
    return `subgraph ${this.k} operator ${op.index} (${op.opName})`;
  }

  /**
   * TFLite's integer LSTM (8x8_16: int8 input, int16 cell state) takes its hidden state's scale from the operator's
   * intermediates[4] (lstm.cc PopulateQuantizedLstmParams8x8_16; 0–3 carry gate scales only with layer norm), and
   * reads every other scale per tensor.
   */
  private lstm8Attrs(op: TflOperator, dt: string): Record<string, AttrValue> {
    const fail = (why: string) => new UnsupportedOpError(op.opName, `TFLite builtin code ${op.opcode}, ${this.where(op)}`, why);
    const cell = op.inputs[19] !== undefined && op.inputs[19] >= 0 ? this.m.tensors[op.inputs[19]]! : undefined;
    if (dt !== 'int8' || !cell || this.dtype(cell) !== 'int16') throw fail(`float32 and int8 with an int16 cell state (TFLite's 8x8_16 kernel) are supported, the input is ${dt} and the cell state ${cell ? this.dtype(cell) : 'absent'}`);
    if (op.intermediates.length !== 5) throw fail(`the int8 LSTM has ${op.intermediates.length} intermediate tensors, TFLite's 8x8_16 kernel takes 5`);
    for (const i of op.inputs) if (i >= 0 && (this.m.tensors[i]!.scale?.length ?? 0) > 1) throw fail(`tensor ${i} is quantized per channel; the integer LSTM reads one scale per tensor`);
    const hid = this.m.tensors[op.intermediates[4]!];
    if (!hid?.scale?.length) throw new ModelFormatError(`${this.where(op)}: the hidden-state intermediate (tensor ${op.intermediates[4]}) has no quantization parameters`);
    return { hidden_scale: hid.scale[0]!, hidden_zero_point: Number(hid.zeroPoint?.[0] ?? 0n) };
  }

  qattrs(op: TflOperator): Record<string, AttrValue> {
    const s = (i: number) => (i >= 0 && this.m.tensors[i]!.scale ? this.m.tensors[i]!.scale![0]! : 0);
    const z = (i: number) => (i >= 0 && this.m.tensors[i]!.zeroPoint ? Number(this.m.tensors[i]!.zeroPoint![0]!) : 0);
    return { in_scale: op.inputs.map(s), in_zero_point: op.inputs.map(z), out_scale: op.outputs.map(s), out_zero_point: op.outputs.map(z) };
  }

  opts(op: TflOperator, table: keyof typeof OPTS): Table<any> | undefined {
    if (!op.options) return undefined;
    if (op.optionsType !== OPTS[table]) throw new ModelFormatError(`${this.where(op)}: builtin_options type ${op.optionsType}, expected ${table} (${OPTS[table]})`);
    return op.options.as(table as never);
  }

  act(op: TflOperator, o: Table<any> | undefined): string {
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
  emit(op: TflOperator, type: string, domain: string, inputs: string[], attrs: Record<string, AttrValue>, act = 'NONE'): void {
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

  i64(base: string, v: number[]): string {
    return this.addConst(base, new Tensor('int64', BigInt64Array.from(v, (x) => BigInt(x)), [v.length]));
  }

  sameQuant(op: TflOperator, tensors: number[]): void {
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
    if (this.mapFloat(op, ins) || this.mapQuant(op, ins) || mapBuiltin(this, op, ins)) return;
    switch (op.opName) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D':
      case 'FULLY_CONNECTED':
      case 'MUL':
        // mapped onto ONNX Conv / Gemm / Mul or QLinearConv / com.microsoft QGemm / QLinearMul above (mapFloat,
        // mapQuant); what reaches here has no exact counterpart (hybrid float/int8, non-constant quantized
        // weights, mismatched types or quantization axes)
        nIn(2, op.opName === 'MUL' ? 2 : 3);
        throw this.unmapped(op);
      case 'TRANSPOSE_CONV': {
        nIn(3, 4);
        const o = this.opts(op, 'TransposeConvOptions');
        const attrs = { padding: this.pad(op, o), stride_w: o?.int('stride_w', 'i32') ?? 1, stride_h: o?.int('stride_h', 'i32') ?? 1, data_layout: 'NHWC', weight_layout: 'OHWI', ...q };
        return this.emit(op, op.opName, T, ins, attrs, this.act(op, o));
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
        nIn(2);
        throw this.unmapped(op);
      case 'SUB': {
        nIn(2);
        const o = this.opts(op, 'SubOptions');
        // "pot_scale_int16:bool = true" — only meaningful for int16
        return this.emit(op, op.opName, T, ins, { pot_scale_int16: (o ? o.bool('pot_scale_int16', true) : true) ? 1 : 0, ...q }, this.act(op, o));
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
      case 'LEAKY_RELU':
        // float → LeakyRelu, int8 / uint8 / int16 → com.microsoft QLinearLeakyRelu (mapFloat, mapQuant)
        nIn(1);
        throw this.unmapped(op);
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
        const attrs = {
          fused_activation_function: this.act(op, o),
          cell_clip: o?.float('cell_clip') ?? 0,
          proj_clip: o?.float('proj_clip') ?? 0,
          time_major: o?.bool('time_major') ? 1 : 0,
        };
        const dt = this.dtype(t(0));
        if (dt === 'float32') return this.emit(op, op.opName, T, ins, attrs);
        return this.emit(op, op.opName, T, ins, { ...attrs, ...q, ...this.lstm8Attrs(op, dt) });
      }
      case 'STRIDED_SLICE':
        return this.stridedSlice(op, ins);
      case 'DEPTH_TO_SPACE': {
        // depth_to_space.h (NHWC): out[b, h·bs + i, w·bs + j, c] = in[b, h, w, (i·bs + j)·C + c] — ONNX DCR order.
        // One DepthToSpace with data_layout NHWC: the layout pass runs it on the NCHW form of the conv before it
        // (no transposes around it), and one kernel moves the data
        nIn(1);
        const o = this.opts(op, 'DepthToSpaceOptions');
        const bs = o?.int('block_size', 'i32') ?? 0;
        const D = t(0).shape[3]!;
        if (t(0).shape.length !== 4 || !(bs >= 1) || D % (bs * bs) !== 0) throw new ModelFormatError(`${this.where(op)}: block_size ${bs} does not fit input [${t(0).shape.join(',')}]`);
        this.sameQuant(op, [op.inputs[0]!, op.outputs[0]!]);
        return this.emit(op, 'DepthToSpace', '', ins, { blocksize: bs, mode: 'DCR', data_layout: 'NHWC' });
      }
      case 'PRELU': {
        // (int8: src/formats/tflite/builtins.ts QUANT_ONLY → src/ops/tflite-qmath.ts)
        // prelu.cc (float): x ≥ 0 ? x : alpha·x with alpha broadcast to x = ONNX PRelu (slope broadcasts to X)
        nIn(2);
        const x = t(0), al = t(1);
        const fits = al.shape.length <= x.shape.length && al.shape.every((d, k) => d === 1 || d === x.shape[x.shape.length - al.shape.length + k]);
        if (!this.allF32(op) || !fits) throw new UnsupportedOpError(op.opName, `TFLite builtin code ${op.opcode}, ${this.where(op)}`, `only float32 with alpha [${al.shape}] broadcastable to the input [${x.shape}] is supported`);
        return this.emit(op, 'PRelu', '', ins, {});
      }
      // ---- resource variables: TFLite's CALL_ONCE runs the init subgraph on the first invoke and variables then
      // persist across invokes. Here the init subgraph (VAR_HANDLE + ASSIGN_VARIABLE of constants) is evaluated at
      // load, and in the main subgraph READ_VARIABLE / ASSIGN_VARIABLE become SSA values: every run computes
      // what TFLite's first invoke computes (state does not persist across runs, as for variable tensors above).
      case 'CALL_ONCE':
        return this.callOnce(op);
      case 'VAR_HANDLE':
        this.resources.set(op.outputs[0]!, this.varName(op, 0));
        return;
      case 'ASSIGN_VARIABLE': {
        if (op.inputs.length !== 2 || op.inputs.some((i) => i < 0)) throw new ModelFormatError(`${this.where(op)}: expected 2 inputs, got ${op.inputs.length}`);
        const v = this.resources.get(op.inputs[0]!);
        if (v === undefined) throw new UnsupportedError(`${this.where(op)}: the resource is not a VAR_HANDLE of this subgraph`);
        this.varValues.set(v, ins[1]!);
        return;
      }
      case 'READ_VARIABLE': {
        nIn(1);
        const v = this.resources.get(op.inputs[0]!);
        const cur = v === undefined ? undefined : this.varValues.get(v);
        if (cur === undefined) throw new UnsupportedError(`${this.where(op)}: variable ${v === undefined ? '(not a VAR_HANDLE)' : `'${v}'`} is read before any CALL_ONCE or ASSIGN_VARIABLE gives it a value`);
        return this.emit(op, 'Identity', '', [cur], {});
      }
      case 'DENSIFY':
        // densify.cc: sparse constant → dense; the reader densified the constant at load (sparse.ts), so this is a copy
        nIn(1);
        if (!t(0).sparsity || !this.g.initializers.has(ins[0]!)) throw new UnsupportedError(`${this.where(op)}: DENSIFY needs a sparse constant input`);
        return this.emit(op, 'Identity', '', ins, {});
      case 'CUSTOM':
        return this.custom(op, ins);
      case 'IF':
        return this.ifOp(op, ins);
      case 'WHILE':
        return this.whileOp(op, ins);
      default:
        throw new UnsupportedOpError(op.opName, `TFLite builtin code ${op.opcode}${op.customCode !== undefined ? ` custom '${op.customCode}'` : ''}, ${this.where(op)}, output '${this.names[op.outputs[0]!] ?? '?'}'`);
    }
  }

  /**
   * IF (if.cc): inputs (cond, x…) run then_subgraph_index or else_subgraph_index with x… bound to that subgraph's
   * inputs; its outputs are the op's outputs. → ONNX If whose branches are the two subgraphs (bool cond of one
   * element in both). A subgraph that (through further IFs) contains itself is rejected: TFLite would recurse forever.
   */
  private ifOp(op: TflOperator, ins: string[]): void {
    const o = this.opts(op, 'IfOptions');
    const branch = (field: string): Graph => this.subgraphBody(this.subgraphOf(op, o, field, op.inputs.length - 1, op.outputs.length), ins.slice(1));
    if (op.inputs.length < 1 || op.inputs.some((i) => i < 0)) throw new ModelFormatError(`${this.where(op)}: IF needs a condition and no omitted inputs`);
    const node: Node = { name: `${op.opName}_${op.index}`, op: 'If', domain: '', inputs: [ins[0]!], outputs: op.outputs.map((i) => this.names[i]!), attrs: { then_branch: branch('then_subgraph_index'), else_branch: branch('else_subgraph_index') } };
    node.inputs.push(...capturedBy(node));
    this.g.nodes.push(node);
  }

  /** Subgraph k as an IR graph whose inputs read the outer values `bound` (names prefixed by `prefix`, see fill). */
  private subgraphBody(k: number, bound: string[], prefix?: string): Graph {
    const g = new Graph();
    g.name = this.model.subgraphs[k]!.name || `subgraph_${k}`;
    fill(g, this.model, k, [...this.stack, k], this.used, bound, (x) => this.g.initializers.get(x), prefix);
    return g;
  }

  /**
   * The subgraph index in option `field` of a control-flow op, checked: a subgraph other than 0 that does not (through
   * further control flow) contain this op — TFLite would recurse forever —, nesting within MAX_BODY_DEPTH, and `ins` /
   * `outs` inputs and outputs.
   */
  private subgraphOf(op: TflOperator, o: ReturnType<Builder['opts']>, field: string, ins: number, outs: number): number {
    const k = o?.int(field, 'i32') ?? -1;
    const sg = this.model.subgraphs[k];
    if (!sg || k === 0) throw new ModelFormatError(`${this.where(op)}: ${field} ${k} is not a subgraph other than 0 (${this.model.subgraphs.length} subgraphs)`);
    if (this.stack.includes(k)) throw new ModelFormatError(`${this.where(op)}: ${field} ${k} contains this ${op.opName} (recursive subgraphs)`);
    if (this.stack.length >= MAX_BODY_DEPTH) throw new UnsupportedError(`${this.where(op)}: control flow nested deeper than ${MAX_BODY_DEPTH}`);
    if (sg.inputs.length !== ins || sg.outputs.length !== outs)
      throw new ModelFormatError(`${this.where(op)}: ${field} ${k} has ${sg.inputs.length} inputs and ${sg.outputs.length} outputs, expected ${ins} and ${outs}`);
    this.used.add(k);
    return k;
  }

  /**
   * WHILE (while.cc): inputs x… are the loop variables; cond_subgraph_index maps them to one bool, body_subgraph_index
   * to their next values; while the condition holds the body runs, and the op's outputs are the variables' last
   * values (shapes may change from one iteration to the next). → ONNX Loop with no trip count, whose first condition is
   * the cond subgraph on the inputs and whose body is the body subgraph followed by the cond subgraph on its results.
   * Each subgraph use is an `If` on a constant true with the subgraph as its branch — the plan inlines it
   * (ir/passes/inline-if.ts) —, the two uses of the cond subgraph with names of their own.
   */
  private whileOp(op: TflOperator, ins: string[]): void {
    const o = this.opts(op, 'WhileOptions');
    const n = op.inputs.length;
    if (op.inputs.some((i) => i < 0) || op.outputs.length !== n) throw new ModelFormatError(`${this.where(op)}: WHILE takes n loop variables (none omitted) and gives n, got ${n} inputs and ${op.outputs.length} outputs`);
    const ck = this.subgraphOf(op, o, 'cond_subgraph_index', n, 1);
    const bk = this.subgraphOf(op, o, 'body_subgraph_index', n, n);
    const base = `${op.opName}_${op.index}`;
    const yes = `${base}/true`;
    this.g.initializers.set(yes, new Tensor('bool', Uint8Array.of(1), []));
    // subgraph k on the values `bound`, as If(true) { subgraph } giving `outs`
    const call = (k: number, bound: string[], outs: string[], prefix: string): Node => {
      const g = this.subgraphBody(k, bound, prefix);
      const node: Node = { name: `${prefix}call`, op: 'If', domain: '', inputs: [yes], outputs: outs, attrs: { then_branch: g, else_branch: g.clone() } };
      node.inputs.push(...capturedBy(node));
      return node;
    };
    const cond0 = `${base}/cond0`;
    this.g.nodes.push(call(ck, ins, [cond0], `${base}/cond0/`));
    const body = new Graph();
    body.name = `${base}/body`;
    const types = this.model.subgraphs[bk]!.inputs.map((i) => this.valueType(this.model.subgraphs[bk]!.tensors[i]!));
    const vin = ins.map((_, j) => `${base}/body/v${j}`);
    const vout = ins.map((_, j) => `${base}/body/next${j}`);
    body.inputs = [
      { name: `${base}/body/iter`, type: { dtype: 'int64', shape: [] } },
      { name: `${base}/body/cond_in`, type: { dtype: 'bool', shape: [] } },
      ...vin.map((name, j) => ({ name, type: { dtype: types[j]!.dtype } })),
    ];
    body.nodes = [call(bk, vin, vout, `${base}/body/`), call(ck, vout, [`${base}/body/cond`], `${base}/body/cond/`)];
    body.outputs = [{ name: `${base}/body/cond`, type: { dtype: 'bool', shape: [] } }, ...vout.map((name, j) => ({ name, type: { dtype: types[j]!.dtype } }))];
    const node: Node = { name: base, op: 'Loop', domain: '', inputs: ['', cond0, ...ins], outputs: op.outputs.map((i) => this.names[i]!), attrs: { body } };
    node.inputs.push(...capturedBy(node));
    this.g.nodes.push(node);
  }

  /** VAR_HANDLE's variable name: shared_name, or container/shared_name when a container is given. */
  private varName(op: TflOperator, k: number): string {
    if (op.outputs.length !== 1 || op.inputs.length !== 0) throw new ModelFormatError(`${this.where(op)}${k ? ` (subgraph ${k})` : ''}: VAR_HANDLE takes no inputs and has 1 output`);
    const o = this.opts(op, 'VarHandleOptions');
    const c = o?.string('container') ?? '', n = o?.string('shared_name') ?? '';
    return c ? `${c}/${n}` : n;
  }

  /** CALL_ONCE: evaluate the init subgraph, which may only bind variables to constants (what converters emit). */
  private callOnce(op: TflOperator): void {
    const o = this.opts(op, 'CallOnceOptions');
    const k = o?.int('init_subgraph_index', 'i32') ?? -1;
    const sg = this.m.subgraphs[k];
    if (!sg || k === 0) throw new ModelFormatError(`${this.where(op)}: init_subgraph_index ${k} is not a subgraph other than 0 (${this.m.subgraphs.length} subgraphs)`);
    if (this.m.subgraphs.indexOf(sg) !== k) throw new ModelFormatError(`${this.where(op)}: bad init subgraph`);
    const handles = new Map<number, string>();
    for (const iop of sg.operators) {
      const w = `subgraph ${k} operator ${iop.index} (${iop.opName})`;
      if (iop.opName === 'VAR_HANDLE') handles.set(iop.outputs[0]!, this.varName(iop, k));
      else if (iop.opName === 'ASSIGN_VARIABLE' && iop.inputs.length === 2) {
        const v = handles.get(iop.inputs[0]!);
        const t = iop.inputs[1]! >= 0 ? sg.tensors[iop.inputs[1]!] : undefined;
        const data = t ? this.m.buffers[t.buffer] : undefined;
        if (v === undefined || !t || !t.buffer || !data || !data.length) throw new UnsupportedError(`${w}: only constants assigned to VAR_HANDLE variables are supported in a CALL_ONCE init subgraph`);
        this.varValues.set(v, this.addConst(`${v.replace(/[^A-Za-z0-9_]/g, '_')}_init`, this.constant(t, data)));
      } else throw new UnsupportedError(`${w}: a CALL_ONCE init subgraph may only hold VAR_HANDLE and ASSIGN_VARIABLE of constants`);
    }
  }

  /** MediaPipe's custom ops (mediapipe/util/tflite/operations/*.cc). */
  private custom(op: TflOperator, ins: string[]): void {
    const code = op.customCode ?? '';
    const w = `${this.where(op)} custom '${code}'`;
    if (code === 'Convolution2DTransposeBias') {
      // transpose_conv_bias.cc: inputs (input NHWC, weights OHWI, bias [O]), float32 only; custom_options is a raw
      // TfLiteTransposeConvParams { TfLitePadding padding (1 SAME, 2 VALID); int stride_width; int stride_height; … }.
      // Prepare: P = SAME ? max(0, K - (in - 1) % s - 1) : 0; out = s·(in - 1) + K - P; Eval scatters every input pixel
      // to oy = iy·s - floor(P/2) + ky over bias-initialised outputs, skipping taps outside the output. That is ONNX
      // ConvTranspose with pads [floor(P/2), P - floor(P/2)] (out = s·(in - 1) + K - pad_begin - pad_end), NHWC / OHWI.
      if (op.inputs.length !== 3 || op.outputs.length !== 1 || op.inputs.some((i) => i < 0)) throw new ModelFormatError(`${w}: expected 3 inputs and 1 output, got ${op.inputs.length} and ${op.outputs.length}`);
      if (!this.allF32(op)) throw new UnsupportedError(`${w}: only float32 is supported (as in MediaPipe's kernel)`);
      const co = op.customOptions;
      if (!co || co.length < 12) throw new ModelFormatError(`${w}: custom_options has ${co?.length ?? 0} bytes, TfLiteTransposeConvParams needs 12`);
      const dv = new DataView(co.buffer, co.byteOffset, co.byteLength);
      const padding = dv.getInt32(0, true), sw = dv.getInt32(4, true), sh = dv.getInt32(8, true);
      if (padding !== 1 && padding !== 2) throw new ModelFormatError(`${w}: padding ${padding} is neither SAME (1) nor VALID (2)`);
      if (!(sw >= 1 && sh >= 1)) throw new ModelFormatError(`${w}: strides ${sh}x${sw} must be ≥ 1`);
      const x = this.m.tensors[op.inputs[0]!]!, wt = this.m.tensors[op.inputs[1]!]!, b = this.m.tensors[op.inputs[2]!]!;
      if (x.shape.length !== 4 || wt.shape.length !== 4 || b.shape.length !== 1) throw new ModelFormatError(`${w}: expected 4-D input and weights and 1-D bias, got [${x.shape}] [${wt.shape}] [${b.shape}]`);
      if (wt.shape[3] !== x.shape[3] || b.shape[0] !== wt.shape[0]) throw new ModelFormatError(`${w}: weights [${wt.shape}] do not match input channels ${x.shape[3]} / bias [${b.shape}]`);
      const [H, W] = [x.shape[1]!, x.shape[2]!], [KH, KW] = [wt.shape[1]!, wt.shape[2]!];
      if (!(H >= 1 && W >= 1 && KH >= 1 && KW >= 1)) throw new ModelFormatError(`${w}: empty input or filter`);
      const P = (K: number, inS: number, s: number) => (padding === 1 ? Math.max(0, K - ((inS - 1) % s) - 1) : 0);
      const ph = P(KH, H, sh), pw = P(KW, W, sw);
      const attrs: Record<string, AttrValue> = {
        strides: [sh, sw],
        pads: [Math.floor(ph / 2), Math.floor(pw / 2), ph - Math.floor(ph / 2), pw - Math.floor(pw / 2)],
        data_layout: 'NHWC',
        weight_layout: 'OHWI',
      };
      return this.emit(op, 'ConvTranspose', '', ins, attrs);
    }
    if (code === 'MaxPoolingWithArgmax2D' || code === 'MaxUnpooling2D') {
      // max_pool_argmax.cc / max_unpooling.cc: float32 only; custom_options is a raw TfLitePoolParams { TfLitePadding
      // padding; int stride_width, stride_height, filter_width, filter_height; TfLiteFusedActivation activation; … }
      const pool = code === 'MaxPoolingWithArgmax2D';
      if (op.inputs.length !== (pool ? 1 : 2) || op.outputs.length !== (pool ? 2 : 1) || op.inputs.some((i) => i < 0)) throw new ModelFormatError(`${w}: expected ${pool ? '1 input and 2 outputs' : '2 inputs and 1 output'}, got ${op.inputs.length} and ${op.outputs.length}`);
      if (!this.allF32(op)) throw new UnsupportedError(`${w}: only float32 is supported (as in MediaPipe's kernel)`);
      const co = op.customOptions;
      if (!co || co.length < 24) throw new ModelFormatError(`${w}: custom_options has ${co?.length ?? 0} bytes, TfLitePoolParams needs 24`);
      const dv = new DataView(co.buffer, co.byteOffset, co.byteLength);
      const [padding, sw, sh, fw, fh, act] = [0, 4, 8, 12, 16, 20].map((o) => dv.getInt32(o, true)) as [number, number, number, number, number, number];
      if (padding !== 1 && padding !== 2) throw new ModelFormatError(`${w}: padding ${padding} is neither SAME (1) nor VALID (2)`);
      const ACTS = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT', 'SIGMOID'];
      if (ACTS[act] === undefined) throw new ModelFormatError(`${w}: unknown fused activation ${act}`);
      if (![sw, sh, fw, fh].every((v) => v >= 1 && v <= 1 << 16)) throw new ModelFormatError(`${w}: strides ${sh}x${sw} / filter ${fh}x${fw} must be in 1..65536`);
      const attrs = { padding: padding === 1 ? 'SAME' : 'VALID', stride_w: sw, stride_h: sh, filter_width: fw, filter_height: fh, activation: ACTS[act]! };
      return this.emit(op, code, TFL_DOMAIN, ins, attrs);
    }
    if (code === 'Landmarks2TransformMatrix' || code === 'TransformTensorBilinear' || code === 'TransformLandmarks') {
      // MediaPipe's face-mesh ops, registered as version 2 (version 1 had other shapes and options); float32 only
      if (op.version !== 2) throw new UnsupportedOpError(`CUSTOM '${code}'`, `${this.where(op)}`, `version ${op.version}; only version 2 is supported`);
      const nin = code === 'Landmarks2TransformMatrix' ? 1 : 2;
      if (op.inputs.length !== nin || op.outputs.length !== 1 || op.inputs.some((i) => i < 0)) throw new ModelFormatError(`${w}: expected ${nin} input(s) and 1 output, got ${op.inputs.length} and ${op.outputs.length}`);
      if (!this.allF32(op)) throw new UnsupportedError(`${w}: only float32 is supported (as in MediaPipe's kernel)`);
      if (code === 'TransformLandmarks') return this.emit(op, code, TFL_DOMAIN, ins, {});
      const o = op.customOptions ? readFlexbuffer(op.customOptions, `${w} custom_options`) : undefined;
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw new ModelFormatError(`${w}: custom_options must be a flexbuffer map`);
      const num = (k: string): number => {
        const v = o[k];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(`${w}: custom option '${k}' must be a number, got ${JSON.stringify(v)}`);
        return v;
      };
      if (code === 'TransformTensorBilinear') return this.emit(op, code, TFL_DOMAIN, ins, { output_height: num('output_height'), output_width: num('output_width') });
      const sub = o.subset_idxs;
      if (!Array.isArray(sub) || !sub.every((v) => typeof v === 'number' && Number.isInteger(v))) throw new ModelFormatError(`${w}: custom option 'subset_idxs' must be a vector of integers`);
      const attrs: Record<string, AttrValue> = {
        left_rotation_idx: num('left_rotation_idx'),
        right_rotation_idx: num('right_rotation_idx'),
        target_rotation_radians: 'target_rotation_radians' in o ? num('target_rotation_radians') : 0,
        output_height: num('output_height'),
        output_width: num('output_width'),
        scale_x: num('scale_x'),
        scale_y: num('scale_y'),
        subset_idxs: sub as number[],
      };
      return this.emit(op, code, TFL_DOMAIN, ins, attrs);
    }
    throw new UnsupportedOpError(`CUSTOM '${code}'`, `TFLite builtin code ${op.opcode}, ${this.where(op)}, output '${this.names[op.outputs[0]!] ?? '?'}'`);
  }

  /** The error for a TFLite op whose every supported form maps onto an ONNX-family op, in a form that does not. */
  private unmapped(op: TflOperator): UnsupportedOpError {
    const types = [...op.inputs, ...op.outputs].map((i) => (i < 0 ? '-' : this.dtype(this.m.tensors[i]!))).join(', ');
    return new UnsupportedOpError(op.opName, `TFLite builtin code ${op.opcode}, ${this.where(op)}`, `no exact edgeq op for this form (tensor types ${types}; quantized forms need per-tensor activation scales and constant weights quantized along the output channels)`);
  }

  /** True when every input and output tensor of `op` is float32 (TFLite's float kernels; no hybrid/quantized math). */
  private allF32(op: TflOperator): boolean {
    return [...op.inputs, ...op.outputs].every((i) => i < 0 || this.dtype(this.m.tensors[i]!) === 'float32');
  }

  /**
   * Float32 TFLite ops that ONNX ops express exactly: emitted as those ONNX ops (with `data_layout: 'NHWC'` /
   * `weight_layout` where the layout matters), so float TFLite and ONNX models run the same op definitions.
   * Returns false to leave the op to the ai.edgeq.tflite definitions (quantized, or a form ONNX lacks).
   */
  private mapFloat(op: TflOperator, ins: string[]): boolean {
    if (op.opName === 'DEQUANTIZE' && op.inputs.length === 1 && op.outputs.length === 1 && op.inputs[0]! >= 0) {
      // dequantize.cc: a float16 input is just widened to float32 (no scale / zero point) = ONNX Cast(to = FLOAT)
      if (this.dtype(this.m.tensors[op.inputs[0]!]!) !== 'float16' || this.dtype(this.m.tensors[op.outputs[0]!]!) !== 'float32') return false;
      this.emit(op, 'Cast', '', ins, { to: 1 });
      return true;
    }
    if ((op.opName === 'ADD' || op.opName === 'SUB' || op.opName === 'MUL') && op.inputs.length === 2 && op.outputs.length === 1 && op.inputs.every((i) => i >= 0)) {
      // int32 / int64 arithmetic without quantization and without a fused activation is plain ONNX Add / Sub / Mul
      const ts = [...op.inputs, ...op.outputs].map((i) => this.m.tensors[i]!);
      const it = this.dtype(ts[0]!);
      const o = this.opts(op, op.opName === 'ADD' ? 'AddOptions' : op.opName === 'SUB' ? 'SubOptions' : 'MulOptions');
      if ((it === 'int32' || it === 'int64') && ts.every((q) => this.dtype(q) === it && !q.scale) && this.act(op, o) === 'NONE') {
        this.emit(op, op.opName === 'ADD' ? 'Add' : op.opName === 'SUB' ? 'Sub' : 'Mul', '', ins, {});
        return true;
      }
    }
    const NAMES = ['CONV_2D', 'DEPTHWISE_CONV_2D', 'AVERAGE_POOL_2D', 'MAX_POOL_2D', 'FULLY_CONNECTED', 'ADD', 'SUB', 'MUL', 'SOFTMAX', 'MEAN', 'RESIZE_BILINEAR', 'RELU6', 'RELU_N1_TO_1', 'LEAKY_RELU', 'TRANSPOSE_CONV'];
    if (!NAMES.includes(op.opName) || op.outputs.length !== 1) return false;
    // MEAN's axes and RESIZE's size are int32, so is TRANSPOSE_CONV's output_shape; every other tensor must be float32
    const intSecond = op.opName === 'MEAN' || op.opName === 'RESIZE_BILINEAR';
    const f32ins = intSecond ? op.inputs.slice(0, 1) : op.opName === 'TRANSPOSE_CONV' ? op.inputs.slice(1) : op.inputs;
    if (!this.allF32({ ...op, inputs: f32ins })) return false;
    const nm = `${op.opName}_${op.index}`;
    const tt = (k: number) => this.m.tensors[op.inputs[k]!]!;
    const trim = (v: string[]) => {
      const r = [...v];
      while (r.length && r[r.length - 1] === '') r.pop();
      return r;
    };
    // TFLite padding.h: SAME → out = ceil(in/s), pad_before = total/2 (= ONNX SAME_UPPER); VALID = ONNX VALID
    const autoPad = (o: Table<any> | undefined) => (this.pad(op, o) === 'SAME' ? 'SAME_UPPER' : 'VALID');
    switch (op.opName) {
      case 'RELU6':
      case 'RELU_N1_TO_1': {
        if (op.inputs.length !== 1) return false;
        // activations.cc: min(max(x, 0), 6) / min(max(x, -1), 1)
        const [lo, hi] = op.opName === 'RELU6' ? [0, 6] : [-1, 1];
        const lt = this.addConst(`${nm}_min`, new Tensor('float32', Float32Array.of(lo), []));
        const ht = this.addConst(`${nm}_max`, new Tensor('float32', Float32Array.of(hi), []));
        this.emit(op, 'Clip', '', [ins[0]!, lt, ht], {});
        return true;
      }
      case 'LEAKY_RELU': {
        if (op.inputs.length !== 1) return false;
        const o = this.opts(op, 'LeakyReluOptions');
        // leaky_relu: "x > 0 ? x : alpha * x" = ONNX LeakyRelu
        this.emit(op, 'LeakyRelu', '', ins, { alpha: o?.float('alpha') ?? 0 });
        return true;
      }
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        if (op.inputs.length < 2 || op.inputs.length > 3 || op.inputs[1]! < 0) return false;
        const dw = op.opName === 'DEPTHWISE_CONV_2D';
        const x = tt(0), w = tt(1);
        const C = x.shape[3];
        if (x.shape.length !== 4 || w.shape.length !== 4 || !(C! > 0)) return false;
        // CONV_2D: filter OHWI, groups = C / filter input channels; DEPTHWISE_CONV_2D: filter 1HWO, one group per input channel
        const group = dw ? C! : w.shape[3]! > 0 && C! % w.shape[3]! === 0 ? C! / w.shape[3]! : 0;
        if (!(group >= 1)) return false;
        const o = this.opts(op, dw ? 'DepthwiseConv2DOptions' : 'Conv2DOptions');
        const attrs: Record<string, AttrValue> = {
          auto_pad: autoPad(o),
          strides: [o?.int('stride_h', 'i32') ?? 1, o?.int('stride_w', 'i32') ?? 1],
          dilations: [o?.int('dilation_h_factor', 'i32', 1) ?? 1, o?.int('dilation_w_factor', 'i32', 1) ?? 1],
          group,
          data_layout: 'NHWC',
          weight_layout: dw ? '1HWO' : 'OHWI',
        };
        this.emit(op, 'Conv', '', trim(ins), attrs, this.act(op, o));
        return true;
      }
      case 'TRANSPOSE_CONV': {
        // transpose_conv.cc: inputs (output_shape, weights OHWI, input NHWC, bias); every input pixel scatters to
        // oy = iy·stride - pad_top + ky, with pad from padding.h computed with the output as "input"
        if (op.inputs.length < 3 || op.inputs.length > 4 || op.inputs.slice(0, 3).some((i) => i < 0)) return false;
        const osT = this.g.initializers.get(this.names[op.inputs[0]!]!);
        const w = tt(1), x = tt(2);
        if (!osT || osT.size !== 4 || w.shape.length !== 4 || x.shape.length !== 4) return false;
        const os = osT.toNumbers();
        const [KH, KW] = [w.shape[1]!, w.shape[2]!];
        const [H, W] = [x.shape[1]!, x.shape[2]!];
        if (!(os.every((d) => Number.isInteger(d) && d >= 1) && H >= 1 && W >= 1 && KH >= 1 && KW >= 1 && w.shape[3] === x.shape[3] && os[3] === w.shape[0])) return false;
        const o = this.opts(op, 'TransposeConvOptions');
        const pad = this.pad(op, o);
        const sh = o?.int('stride_h', 'i32') ?? 1, sw = o?.int('stride_w', 'i32') ?? 1;
        if (!(sh >= 1 && sw >= 1)) return false;
        const tfp = (inSize: number, k: number, s: number) => {
          // padding.h ComputePaddingHeightWidth with dilation 1 (the output size as "in_size")
          const out = pad === 'SAME' ? Math.floor((inSize + s - 1) / s) : Math.floor((inSize + s - k) / s);
          return Math.floor(Math.max(0, (out - 1) * s + k - inSize) / 2);
        };
        const pt = tfp(os[1]!, KH, sh), pl = tfp(os[2]!, KW, sw);
        // ONNX ConvTranspose: out = s·(in - 1) + output_padding + k - pad_begin - pad_end; choose pad_end (or
        // output_padding, for outputs past the last scattered pixel, which get the bias only) to give TFLite's size
        const pb = sh * (H - 1) + KH - pt - os[1]!, pr = sw * (W - 1) + KW - pl - os[2]!;
        const attrs: Record<string, AttrValue> = {
          strides: [sh, sw],
          pads: [pt, pl, Math.max(0, pb), Math.max(0, pr)],
          output_padding: [Math.max(0, -pb), Math.max(0, -pr)],
          data_layout: 'NHWC',
          weight_layout: 'OHWI',
        };
        const bias = op.inputs.length === 4 && op.inputs[3]! >= 0 ? [ins[3]!] : [];
        this.emit(op, 'ConvTranspose', '', [ins[2]!, ins[1]!, ...bias], attrs, this.act(op, o));
        return true;
      }
      case 'AVERAGE_POOL_2D':
      case 'MAX_POOL_2D': {
        if (op.inputs.length !== 1) return false;
        const o = this.opts(op, 'Pool2DOptions');
        const attrs: Record<string, AttrValue> = {
          auto_pad: autoPad(o),
          strides: [o?.int('stride_h', 'i32') ?? 1, o?.int('stride_w', 'i32') ?? 1],
          kernel_shape: [o?.int('filter_height', 'i32') ?? 0, o?.int('filter_width', 'i32') ?? 0],
          data_layout: 'NHWC',
        };
        // TFLite averages over the in-bounds taps only (pooling.h: "filter_count") = ONNX count_include_pad 0
        this.emit(op, op.opName === 'MAX_POOL_2D' ? 'MaxPool' : 'AveragePool', '', ins, attrs, this.act(op, o));
        return true;
      }
      case 'FULLY_CONNECTED': {
        if (op.inputs.length < 2 || op.inputs.length > 3 || op.inputs[1]! < 0) return false;
        const o = this.opts(op, 'FullyConnectedOptions');
        if (o && o.int('weights_format', 'i8') !== 0) return false;
        const x = tt(0), w = tt(1);
        const K = w.shape[1];
        if (w.shape.length !== 2 || !(K! > 0) || x.shape.length < 1) return false;
        const keep = o?.bool('keep_num_dims') ?? false;
        const outT = this.m.tensors[op.outputs[0]!]!;
        // fully_connected.cc: y[b, u] = Σ_k x[b, k]·W[u, k] + bias[u], x viewed as [size/K, K] → Gemm(transB = 1)
        let a = ins[0]!;
        if (x.shape.length !== 2) {
          a = this.fresh(`${nm}_2d`);
          this.node('Reshape', '', [ins[0]!, this.i64(`${nm}_2d_shape`, [-1, K!])], [a], {}, `${nm}_2d`);
        }
        const gemmIns = trim([a, ins[1]!, ins[2] ?? '']);
        if (!keep || x.shape.length === 2) {
          this.emit(op, 'Gemm', '', gemmIns, { transB: 1 }, this.act(op, o));
          return true;
        }
        // keep_num_dims: y keeps x's leading dims ([..., K] → [..., units])
        const y2 = this.fresh(`${nm}_gemm`);
        this.node('Gemm', '', gemmIns, [y2], { transB: 1 }, `${nm}_gemm`);
        this.emit(op, 'Reshape', '', [y2, this.i64(`${nm}_shape`, outT.shape.length ? outT.shape : [...x.shape.slice(0, -1), w.shape[0]!])], {}, this.act(op, o));
        return true;
      }
      case 'ADD':
      case 'SUB':
      case 'MUL': {
        if (op.inputs.length !== 2) return false;
        const o = this.opts(op, op.opName === 'ADD' ? 'AddOptions' : op.opName === 'SUB' ? 'SubOptions' : 'MulOptions');
        this.emit(op, op.opName === 'ADD' ? 'Add' : op.opName === 'SUB' ? 'Sub' : 'Mul', '', ins, {}, this.act(op, o));
        return true;
      }
      case 'SOFTMAX': {
        if (op.inputs.length !== 1) return false;
        const o = this.opts(op, 'SoftmaxOptions');
        const beta = o?.float('beta') ?? 0;
        // softmax.h: y = exp(beta·(x - max)) / Σ exp(beta·(x - max)) over the last axis; only beta = 1 is ONNX Softmax as is
        if (beta !== 1) return false;
        this.emit(op, 'Softmax', '', ins, { axis: -1 });
        return true;
      }
      case 'MEAN': {
        if (op.inputs.length !== 2) return false;
        const ax = op.inputs[1]! >= 0 ? this.g.initializers.get(this.names[op.inputs[1]!]!) : undefined;
        const r = tt(0).shape.length;
        if (!ax) return false;
        const axes: number[] = [];
        for (const v of ax.toNumbers()) {
          if (!(v >= -r && v < r)) return false; // let the TFLite definition report it
          const a = v < 0 ? v + r : v;
          if (!axes.includes(a)) axes.push(a); // TFLite reduces a repeated axis once
        }
        // TFLite MEAN over no axes is the identity; ONNX ReduceMean with empty axes reduces everything
        if (!axes.length) return false;
        const o = this.opts(op, 'ReducerOptions');
        this.emit(op, 'ReduceMean', '', [ins[0]!, this.i64(`${nm}_axes`, axes)], { keepdims: o?.bool('keep_dims') ? 1 : 0 });
        return true;
      }
      case 'RESIZE_BILINEAR': {
        if (op.inputs.length !== 2 || tt(0).shape.length !== 4) return false;
        const sz = op.inputs[1]! >= 0 ? this.g.initializers.get(this.names[op.inputs[1]!]!) : undefined;
        const o = this.opts(op, 'ResizeBilinearOptions');
        const ac = o?.bool('align_corners') ?? false, hp = o?.bool('half_pixel_centers') ?? false;
        if (!sz || sz.size !== 2 || (ac && hp)) return false;
        const size = sz.toNumbers();
        if (size.some((d) => !(Number.isInteger(d) && d >= 1))) return false;
        // resize_bilinear.h: in = (out + 0.5)·scale - 0.5 with half_pixel_centers (ONNX half_pixel), out·(in-1)/(out-1)
        // with align_corners (ONNX align_corners), else out·scale (ONNX asymmetric); taps clamp to the edge as in ONNX.
        // (RESIZE_NEAREST_NEIGHBOR stays a TFLite op: ONNX's x/(out/in) and TFLite's x·(in/out) pick different
        // pixels where the product is an exact integer.)
        const ctm = hp ? 'half_pixel' : ac ? 'align_corners' : 'asymmetric';
        this.emit(op, 'Resize', '', [ins[0]!, '', '', this.i64(`${nm}_sizes`, size)], { mode: 'linear', coordinate_transformation_mode: ctm, axes: [1, 2] });
        return true;
      }
    }
    return false;
  }

  /** A scalar or 1-D constant of `dtype` (quantization parameters as ONNX QLinear* inputs). */
  private qconst(base: string, dtype: DType, v: ArrayLike<number>, vector: boolean): string {
    const arr = dtype === 'float32' ? Float32Array.from(v) : dtype === 'int8' ? Int8Array.from(v) : dtype === 'uint8' ? Uint8Array.from(v) : Int16Array.from(v);
    return this.addConst(base, new Tensor(dtype, arr as never, vector ? [v.length] : []));
  }

  /**
   * Quantized TFLite ops that an ONNX QLinear* definition computes bit for bit with `rounding: 'tflite'`
   * (TFLite's QuantizeMultiplier / MultiplyByQuantizedMultiplier requantization) and explicit layouts.
   * Returns false to leave the op to the ai.edgeq.tflite definitions.
   */
  private mapQuant(op: TflOperator, ins: string[]): boolean {
    if (op.opName === 'FULLY_CONNECTED') return this.mapQuantFC(op, ins);
    if (op.opName === 'ADD' || op.opName === 'MUL') return this.mapQuantBinary(op, ins);
    if (op.opName === 'LEAKY_RELU') {
      // leaky_relu.cc int8 / int16 → com.microsoft QLinearLeakyRelu with TFLite's identity / alpha multipliers
      if (op.inputs.length !== 1 || op.outputs.length !== 1 || op.inputs[0]! < 0) return false;
      const x = this.m.tensors[op.inputs[0]!]!, y = this.m.tensors[op.outputs[0]!]!;
      const t = this.dtype(x);
      if (!(t === 'int8' || t === 'uint8' || t === 'int16') || this.dtype(y) !== t || !x.scale || !y.scale || x.scale.length !== 1 || y.scale.length !== 1) return false;
      const o = this.opts(op, 'LeakyReluOptions');
      const nm = `${op.opName}_${op.index}`;
      const qins = [
        ins[0]!,
        this.qconst(`${nm}_x_scale`, 'float32', x.scale, false),
        this.qconst(`${nm}_x_zero_point`, t, [Number(x.zeroPoint![0]!)], false),
        this.qconst(`${nm}_y_scale`, 'float32', y.scale, false),
        this.qconst(`${nm}_y_zero_point`, t, [Number(y.zeroPoint![0]!)], false),
      ];
      this.emit(op, 'QLinearLeakyRelu', 'com.microsoft', qins, { alpha: o?.float('alpha') ?? 0, rounding: 'tflite' });
      return true;
    }
    if (op.opName === 'MAX_POOL_2D') {
      // pooling.cc MaxEvalQuantized: a plain max (input and output share scale and zero point) = ONNX MaxPool
      // on int8 / uint8 (ONNX MaxPool has no int16)
      if (op.inputs.length !== 1 || op.outputs.length !== 1 || op.inputs[0]! < 0) return false;
      const x = this.m.tensors[op.inputs[0]!]!, y = this.m.tensors[op.outputs[0]!]!;
      const t = this.dtype(x);
      if ((t !== 'int8' && t !== 'uint8') || this.dtype(y) !== t || !x.scale || !y.scale || x.scale.length !== 1 || y.scale.length !== 1) return false;
      if (x.scale[0] !== y.scale[0] || x.zeroPoint![0] !== y.zeroPoint![0]) return false;
      const o = this.opts(op, 'Pool2DOptions');
      const attrs: Record<string, AttrValue> = {
        auto_pad: this.pad(op, o) === 'SAME' ? 'SAME_UPPER' : 'VALID',
        strides: [o?.int('stride_h', 'i32') ?? 1, o?.int('stride_w', 'i32') ?? 1],
        kernel_shape: [o?.int('filter_height', 'i32') ?? 0, o?.int('filter_width', 'i32') ?? 0],
        data_layout: 'NHWC',
      };
      this.emit(op, 'MaxPool', '', ins, attrs, this.act(op, o));
      return true;
    }
    if (op.opName !== 'CONV_2D' && op.opName !== 'DEPTHWISE_CONV_2D') return false;
    if (op.inputs.length < 2 || op.inputs.length > 3 || op.outputs.length !== 1 || op.inputs[1]! < 0) return false;
    const dw = op.opName === 'DEPTHWISE_CONV_2D';
    const x = this.m.tensors[op.inputs[0]!]!, w = this.m.tensors[op.inputs[1]!]!, y = this.m.tensors[op.outputs[0]!]!;
    const xt = this.dtype(x), wt = this.dtype(w), yt = this.dtype(y);
    // conv.cc / depthwise_conv.cc: int8 or uint8 activations with same-type filters, or 16x8 (int16 activations, int8 filters)
    if (!(xt === 'int8' || xt === 'uint8' || xt === 'int16') || yt !== xt || wt !== (xt === 'uint8' ? 'uint8' : 'int8')) return false;
    if (!x.scale || !y.scale || !w.scale || x.scale.length !== 1 || y.scale.length !== 1) return false;
    const wc = this.g.initializers.get(this.names[op.inputs[1]!]!);
    if (!wc || x.shape.length !== 4 || w.shape.length !== 4 || !(x.shape[3]! > 0)) return false;
    const C = x.shape[3]!;
    const O = dw ? w.shape[3]! : w.shape[0]!;
    // per-channel scales run along the output-channel dim of the filter (quantized_dimension 0 for OHWI, 3 for 1HWO)
    if (w.scale.length !== 1 && (w.scale.length !== O || w.quantizedDimension !== (dw ? 3 : 0))) return false;
    const group = dw ? C : w.shape[3]! > 0 && C % w.shape[3]! === 0 ? C / w.shape[3]! : 0;
    if (!(group >= 1)) return false;
    if (op.inputs.length === 3 && op.inputs[2]! >= 0) {
      const bt = this.dtype(this.m.tensors[op.inputs[2]!]!);
      if (bt !== 'int32' && !(bt === 'int64' && xt === 'int16')) return false;
    }
    const o = this.opts(op, dw ? 'DepthwiseConv2DOptions' : 'Conv2DOptions');
    const nm = `${op.opName}_${op.index}`;
    const vec = w.scale.length > 1;
    const qins = [
      ins[0]!,
      this.qconst(`${nm}_x_scale`, 'float32', x.scale, false),
      this.qconst(`${nm}_x_zero_point`, xt, [Number(x.zeroPoint![0]!)], false),
      ins[1]!,
      this.qconst(`${nm}_w_scale`, 'float32', w.scale, vec),
      this.qconst(`${nm}_w_zero_point`, wt, Array.from(w.zeroPoint!.length === w.scale.length ? w.zeroPoint! : w.scale.map(() => 0n), Number), vec),
      this.qconst(`${nm}_y_scale`, 'float32', y.scale, false),
      this.qconst(`${nm}_y_zero_point`, yt, [Number(y.zeroPoint![0]!)], false),
      ...(op.inputs.length === 3 && op.inputs[2]! >= 0 ? [ins[2]!] : []),
    ];
    const attrs: Record<string, AttrValue> = {
      auto_pad: this.pad(op, o) === 'SAME' ? 'SAME_UPPER' : 'VALID',
      strides: [o?.int('stride_h', 'i32') ?? 1, o?.int('stride_w', 'i32') ?? 1],
      dilations: [o?.int('dilation_h_factor', 'i32', 1) ?? 1, o?.int('dilation_w_factor', 'i32', 1) ?? 1],
      group,
      data_layout: 'NHWC',
      weight_layout: dw ? '1HWO' : 'OHWI',
      rounding: 'tflite',
    };
    this.emit(op, 'QLinearConv', '', qins, attrs, this.act(op, o));
    return true;
  }

  /**
   * Quantized FULLY_CONNECTED → com.microsoft QGemm(transB = 1, rounding 'tflite') on x viewed as [size/K, K]
   * (+ Reshape back for keep_num_dims): fully_connected.cc's acc = bias[u] + Σ_k (x - x_zp)·(W[u, k] - w_zp),
   * requantized with MultiplyByQuantizedMultiplier.
   */
  private mapQuantFC(op: TflOperator, ins: string[]): boolean {
    if (op.inputs.length < 2 || op.inputs.length > 3 || op.outputs.length !== 1 || op.inputs[1]! < 0) return false;
    const x = this.m.tensors[op.inputs[0]!]!, w = this.m.tensors[op.inputs[1]!]!, y = this.m.tensors[op.outputs[0]!]!;
    const xt = this.dtype(x), wt = this.dtype(w), yt = this.dtype(y);
    if (!(xt === 'int8' || xt === 'uint8' || xt === 'int16') || yt !== xt || wt !== (xt === 'uint8' ? 'uint8' : 'int8')) return false;
    if (!x.scale || !y.scale || !w.scale || x.scale.length !== 1 || y.scale.length !== 1) return false;
    if (!this.g.initializers.get(this.names[op.inputs[1]!]!) || w.shape.length !== 2 || x.shape.length < 1) return false;
    const [U, K] = w.shape as [number, number];
    if (!(K > 0) || (w.scale.length !== 1 && (w.scale.length !== U || w.quantizedDimension !== 0 || w.zeroPoint!.some((z) => z !== 0n)))) return false;
    if (op.inputs.length === 3 && op.inputs[2]! >= 0) {
      const bt = this.dtype(this.m.tensors[op.inputs[2]!]!);
      if (bt !== 'int32' && !(bt === 'int64' && xt === 'int16')) return false;
    }
    const o = this.opts(op, 'FullyConnectedOptions');
    if (o && o.int('weights_format', 'i8') !== 0) return false;
    const keep = o?.bool('keep_num_dims') ?? false;
    const nm = `${op.opName}_${op.index}`;
    let a = ins[0]!;
    if (x.shape.length !== 2) {
      a = this.fresh(`${nm}_2d`);
      this.node('Reshape', '', [ins[0]!, this.i64(`${nm}_2d_shape`, [-1, K])], [a], {}, `${nm}_2d`);
    }
    const vec = w.scale.length > 1;
    const qins = [
      a,
      this.qconst(`${nm}_a_scale`, 'float32', x.scale, false),
      this.qconst(`${nm}_a_zero_point`, xt, [Number(x.zeroPoint![0]!)], false),
      ins[1]!,
      this.qconst(`${nm}_b_scale`, 'float32', w.scale, vec),
      this.qconst(`${nm}_b_zero_point`, wt, Array.from(w.zeroPoint!, Number), vec),
      op.inputs.length === 3 && op.inputs[2]! >= 0 ? ins[2]! : '',
      this.qconst(`${nm}_y_scale`, 'float32', y.scale, false),
      this.qconst(`${nm}_y_zero_point`, yt, [Number(y.zeroPoint![0]!)], false),
    ];
    const attrs = { transB: 1, rounding: 'tflite' };
    if (!keep || x.shape.length === 2) {
      this.emit(op, 'QGemm', 'com.microsoft', qins, attrs, this.act(op, o));
      return true;
    }
    const y2 = this.fresh(`${nm}_gemm`);
    this.node('QGemm', 'com.microsoft', qins, [y2], attrs, `${nm}_gemm`);
    this.emit(op, 'Reshape', '', [y2, this.i64(`${nm}_shape`, y.shape.length ? y.shape : [...x.shape.slice(0, -1), U])], {}, this.act(op, o));
    return true;
  }

  /**
   * Quantized ADD / MUL → com.microsoft QLinearAdd / QLinearMul with rounding 'tflite' (add.cc / mul.cc integer
   * kernels). SUB has no ONNX-family counterpart and stays an ai.edgeq.tflite op.
   */
  private mapQuantBinary(op: TflOperator, ins: string[]): boolean {
    if (op.inputs.length !== 2 || op.outputs.length !== 1 || op.inputs.some((i) => i < 0)) return false;
    const [x1, x2] = op.inputs.map((i) => this.m.tensors[i]!) as [TflTensor, TflTensor];
    const y = this.m.tensors[op.outputs[0]!]!;
    const t = this.dtype(x1);
    if (!(t === 'int8' || t === 'uint8' || t === 'int16') || this.dtype(x2) !== t || this.dtype(y) !== t) return false;
    if ([x1, x2, y].some((q) => !q.scale || q.scale.length !== 1)) return false;
    const add = op.opName === 'ADD';
    const o = this.opts(op, add ? 'AddOptions' : 'MulOptions');
    const nm = `${op.opName}_${op.index}`;
    const sc = (q: TflTensor, k: string) => this.qconst(`${nm}_${k}_scale`, 'float32', q.scale!, false);
    const zp = (q: TflTensor, k: string) => this.qconst(`${nm}_${k}_zero_point`, t, [Number(q.zeroPoint![0]!)], false);
    const qins = [ins[0]!, sc(x1, 'A'), zp(x1, 'A'), ins[1]!, sc(x2, 'B'), zp(x2, 'B'), sc(y, 'C'), zp(y, 'C')];
    // "pot_scale_int16:bool = true" (AddOptions; MUL has none)
    const attrs: Record<string, AttrValue> = { rounding: 'tflite', ...(add ? { pot_scale_int16: (o ? o.bool('pot_scale_int16', true) : true) ? 1 : 0 } : {}) };
    this.emit(op, add ? 'QLinearAdd' : 'QLinearMul', 'com.microsoft', qins, attrs, this.act(op, o));
    return true;
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
