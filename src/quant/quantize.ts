/**
 * Post-training quantization of the IR.
 *
 * - static (default): calibrate activation ranges on sample data, then either
 *   'qdq'       insert QuantizeLinear → DequantizeLinear pairs on activations and DequantizeLinear on
 *               quantized weights (int8 per channel) and int32 biases (scale s_in·s_w), or
 *   'qoperator' emit QLinearConv / QLinearMatMul / QLinearAdd and integer MatMulInteger chains for Gemm,
 *               keeping activations in uint8/int8 between quantized ops.
 * - dynamic: weights int8 per channel, activations quantized at run time
 *   (DynamicQuantizeLinear + MatMulInteger) for MatMul / Gemm.
 * - fp16: every float32 initializer and value becomes float16, with Casts at the graph I/O.
 * BatchNormalization after Conv is folded first. Ops that cannot be quantized stay float and are listed.
 * The input graph is never modified.
 */
import { InputError, UnsupportedError } from '../errors.js';
import type { Graph, Node } from '../ir/graph.js';
import { analyze } from '../ir/infer.js';
import { canonicalizeIfValid } from '../ir/passes/canonicalize.js';
import '../ops/index.js';
import { f32ArrayToF16 } from '../tensor/fp16.js';
import { Tensor } from '../tensor/tensor.js';
import { roundHalfToEven } from '../tensor/rounding.js';
import { type CalibData, type CalibOptions, calibrate, calibFeeds } from './calibrate.js';
import { type Names as NamesT, Names, consumersOf, f32, mkNode, producersOf, scalarF32 } from './graph-util.js';
import type { CalibMethod } from './observers.js';
import { type QType, type WeightClip, type WeightQuant, qparams, quantizeValue, quantizeWeight, sqnrDb } from './params.js';
import { InferenceSession } from '../runtime/session.js';
import { floats } from '../ops/util.js';
import { type AccuracyReport, type Fallback, quantizeAccuracyAware } from './accuracy.js';
import { correctBiases } from './bias-correction.js';
import { equalize } from './equalize.js';
import { foldWeightChains } from './fold-weights.js';
import { quantizeTables } from './tables.js';
import { weightOnlyQuantize } from './nbits.js';

export type QuantFormat = 'qdq' | 'qoperator';
export type QuantMode = 'static' | 'dynamic' | 'fp16' | 'weight-only';

export interface QuantizeOptions {
  mode?: QuantMode;
  format?: QuantFormat;
  /** calibration data (static mode) */
  calib?: CalibData;
  method?: CalibMethod;
  percentile?: number;
  /** per output channel weight scales (default true) */
  perChannel?: boolean;
  /** activation type: 'uint8' asymmetric (default) or 'int8' (symmetric unless symmetricActivations false) */
  activationType?: QType;
  symmetricActivations?: boolean;
  weightType?: QType;
  /** 2…8 (codes on the n-bit grid inside int8 containers) */
  weightBits?: number;
  /** weight clipping: 'minmax' (default for 8 bits) or 'mse' (default below 8 bits) */
  weightClip?: WeightClip;
  /** node names to leave float */
  exclude?: readonly string[];
  /** op types to leave float */
  excludeOps?: readonly string[];
  /** fold BatchNormalization into a preceding Conv (default true) */
  foldBatchNorm?: boolean;
  /** fp16: keep the graph inputs/outputs float16 instead of inserting Casts */
  keepIoFp16?: boolean;
  /** calibration batch size */
  batch?: number;
  onProgress?: CalibOptions['onProgress'];
  /** compute per-layer output SQNR on the first calibration batch (default true when calibrating) */
  report?: boolean;
  /**
   * Accuracy-aware mode: allowed top-1 drop in percentage points on `evalData`; the most sensitive layers
   * (lowest model-output SQNR when quantized alone) fall back to fp16/fp32 until it holds (see accuracy.ts).
   */
  maxAccuracyDrop?: number;
  evalData?: { x: Tensor; labels: ArrayLike<number> };
  /**
   * correct each quantized layer's bias by E[W_q x] − E[W x] on the calibration data (bias-correction.ts):
   * true / 'sequential' layer by layer on the weight-quantized model, 'independent' each on the float input
   */
  biasCorrection?: boolean | 'sequential' | 'independent';
  /** cross-layer equalisation of consecutive Conv layers through ReLU before quantizing (equalize.ts) */
  equalize?: boolean;
  /** weight-only (MatMulNBits): quantization block size along K (power of two ≥ 16, default 32) */
  blockSize?: number;
  /** weight-only (MatMulNBits): asymmetric blocks with packed zero points (default true) */
  zeroPoints?: boolean;
  /**
   * weight-only (MatMulNBits): the node's accuracy_level — 4 (default) lets runtimes compute with int8 activations
   * (edgeq's int8 kernel, onnxruntime's CompInt8); 0 asks for float compute (weights dequantized to fp32)
   */
  accuracyLevel?: number;
  /** dynamic / weight-only: large float tables (embeddings) read by Gather / Slice / Add become int8 per row + DequantizeLinear (default true) */
  quantizeTables?: boolean;
}

export interface TensorQuant {
  name: string;
  min: number;
  max: number;
  scale: number;
  zeroPoint: number;
  type: QType;
}

export interface LayerQuant {
  node: string;
  op: string;
  /** weight initializer name */
  weight?: string;
  weightBits?: number;
  perChannel?: boolean;
  /** SQNR (dB) of the quantized weight */
  weightSqnr?: number;
  /** SQNR (dB) of the layer's output in the quantized model vs the float model (first calibration batch) */
  outputSqnr?: number;
  input?: TensorQuant;
  output?: TensorQuant;
  setting: string;
  /** accuracy-aware mode: model-output SQNR (dB) vs fp32 with only this layer quantized */
  soloSqnr?: number;
  /** accuracy-aware mode: the layer was left float with fp16 or fp32 weights */
  fallback?: Fallback;
  /** bias correction: mean |E[y_q] − E[y]| over output channels before / after the correction (calib data) */
  biasError?: { before: number; after: number };
}

export interface QuantizeResult {
  graph: Graph;
  layers: LayerQuant[];
  /** nodes left float (and why) */
  skipped: { node: string; op: string; reason: string }[];
  tensors: Map<string, TensorQuant>;
  /** number of BatchNormalization nodes folded */
  foldedBatchNorms: number;
  options: QuantizeOptions;
  /** accuracy-aware mode: budget, accuracies and the candidates tried */
  accuracy?: AccuracyReport;
  /** cross-layer equalisation: Conv pairs rescaled */
  equalized?: number;
}

/** Ops with a quantized weight (second input constant). */
const COMPUTE = new Set(['Conv', 'Gemm', 'MatMul']);
/** Ops whose output keeps the input's quantization parameters (pure data movement / max). */
const PASSTHROUGH = new Set(['MaxPool', 'GlobalMaxPool', 'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Identity']);
/** Other ops that take and produce quantized activations. */
const QUANTIZABLE = new Set(['Add', 'Mul', 'Concat', 'AveragePool', 'GlobalAveragePool', 'Relu', 'Clip', 'LeakyRelu', 'Sigmoid']);
/** Activations fused into a preceding compute op (the Q after them clamps like the activation). */
const FUSABLE = new Set(['Relu', 'Clip']);
/** Kept in float by design: quantizing them hurts accuracy. */
const KEEP_FLOAT = new Set(['Softmax', 'LogSoftmax', 'LayerNormalization', 'Exp', 'Log', 'Div', 'Pow', 'Sqrt', 'Erf', 'Gelu', 'ReduceMean', 'TopK', 'ArgMax']);

function validate(o: QuantizeOptions): void {
  if (o === null || typeof o !== 'object') throw new InputError('quantize options must be an object');
  const mode = o.mode ?? 'static';
  if (!['static', 'dynamic', 'fp16', 'weight-only'].includes(mode)) throw new InputError(`mode must be static, dynamic, fp16 or weight-only, got '${String(mode)}'`);
  if (mode === 'weight-only' && o.weightBits !== undefined && o.weightBits !== 4 && o.weightBits !== 8) throw new InputError(`weight-only quantization (MatMulNBits) takes 4 or 8 weight bits, got ${o.weightBits}`);
  if (o.blockSize !== undefined && (!Number.isInteger(o.blockSize) || o.blockSize < 16 || (o.blockSize & (o.blockSize - 1)) !== 0)) throw new InputError(`block size must be a power of two ≥ 16, got ${o.blockSize}`);
  if (o.format !== undefined && o.format !== 'qdq' && o.format !== 'qoperator') throw new InputError(`format must be qdq or qoperator, got '${String(o.format)}'`);
  if (o.activationType !== undefined && o.activationType !== 'uint8' && o.activationType !== 'int8') throw new InputError(`activation type must be uint8 or int8, got '${String(o.activationType)}'`);
  if (o.weightType !== undefined && o.weightType !== 'uint8' && o.weightType !== 'int8') throw new InputError(`weight type must be uint8 or int8, got '${String(o.weightType)}'`);
  if (o.weightBits !== undefined && (!Number.isInteger(o.weightBits) || o.weightBits < 2 || o.weightBits > 8)) throw new InputError(`weight bits must be an integer in [2, 8], got ${o.weightBits}`);
  if (o.percentile !== undefined && !(o.percentile > 0 && o.percentile <= 100)) throw new InputError(`percentile must be in (0, 100], got ${o.percentile}`);
  if (mode === 'static' && !o.calib) throw new InputError('static quantization needs calibration data (calib)');
}

const attr = (n: Node, k: string, d: number): number => (typeof n.attrs[k] === 'number' ? (n.attrs[k] as number) : d);
const isF32Init = (g: Graph, name: string) => g.initializers.get(name)?.type === 'float32';

/** Fold BatchNormalization (inference form) into the Conv feeding it when the Conv has no other consumer. */
export function foldBatchNorms(g: Graph): number {
  const cons = consumersOf(g);
  const prodm = producersOf(g);
  const names = new Names(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  let folded = 0;
  for (const bn of [...g.nodes]) {
    if (bn.op !== 'BatchNormalization' || bn.domain !== '' || attr(bn, 'training_mode', 0) !== 0 || bn.outputs.filter(Boolean).length !== 1) continue;
    const conv = prodm.get(bn.inputs[0]!);
    if (!conv || conv.op !== 'Conv' || cons.get(conv.outputs[0]!)?.length !== 1 || outputs.has(conv.outputs[0]!)) continue;
    const [, sName, bName, mName, vName] = bn.inputs;
    const W = g.initializers.get(conv.inputs[1]!);
    const prm = [sName, bName, mName, vName].map((n) => g.initializers.get(n ?? ''));
    if (!W || W.type !== 'float32' || prm.some((t) => !t || t.type !== 'float32')) continue;
    const M = W.dims[0]!;
    if (prm.some((t) => t!.size !== M)) continue;
    const B = conv.inputs[2] ? g.initializers.get(conv.inputs[2]) : undefined;
    if (conv.inputs[2] && (!B || B.type !== 'float32')) continue;
    const [gam, bet, mean, vr] = prm.map((t) => floats(t!)) as Float32Array[];
    const eps = attr(bn, 'epsilon', 1e-5);
    const w = floats(W);
    const per = W.size / M;
    const nw = new Float32Array(W.size);
    const nb = new Float32Array(M);
    for (let c = 0; c < M; c++) {
      const k = gam![c]! / Math.sqrt(vr![c]! + eps);
      for (let i = 0; i < per; i++) nw[c * per + i] = w[c * per + i]! * k;
      nb[c] = ((B ? floats(B)[c]! : 0) - mean![c]!) * k + bet![c]!;
    }
    const wn = names.take(`${conv.inputs[1]}_bnfolded`);
    const bnn = names.take(`${conv.name}_bias_bnfolded`);
    g.initializers.set(wn, new Tensor('float32', nw, W.dims));
    g.initializers.set(bnn, new Tensor('float32', nb, [M]));
    conv.inputs = [conv.inputs[0]!, wn, bnn];
    conv.outputs = [bn.outputs[0]!];
    g.nodes = g.nodes.filter((n) => n !== bn);
    folded++;
  }
  pruneInitializers(g);
  return folded;
}

/** Drop initializers no node or output uses. */
export function pruneInitializers(g: Graph): void {
  const used = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of g.nodes) for (const x of n.inputs) used.add(x);
  for (const k of [...g.initializers.keys()]) if (!used.has(k)) g.initializers.delete(k);
}

interface Plan {
  /** nodes quantized, by kind */
  kind: Map<Node, 'compute' | 'pass' | 'other'>;
  /** activation values to quantize */
  tensors: Set<string>;
  /** Relu/Clip nodes fused into the compute op before them */
  fused: Set<Node>;
  skipped: QuantizeResult['skipped'];
}

/** Weight info of a compute node: initializer, per-channel axis, whether bias can be quantized. */
function weightOf(g: Graph, n: Node): { w: string; axis: number; bias?: string } | string {
  const w = n.inputs[1];
  if (!w || !isF32Init(g, w)) return g.initializers.has(w ?? '') ? 'weight is not a float32 initializer' : 'second input is not constant (activation × activation)';
  const W = g.initializers.get(w)!;
  const b = n.inputs[2] || undefined;
  if (n.op === 'Conv') {
    if (W.dims.length < 3) return 'Conv weight rank < 3';
    if (b && !isF32Init(g, b)) return 'Conv bias is not a float32 initializer';
    return { w, axis: 0, ...(b && isF32Init(g, b) ? { bias: b } : {}) };
  }
  if (W.dims.length !== 2) return `${n.op} weight is not 2-D`;
  if (n.op === 'MatMul') return { w, axis: 1 };
  if (attr(n, 'transA', 0) !== 0) return 'Gemm with transA=1';
  const axis = attr(n, 'transB', 0) ? 0 : 1;
  const N = W.dims[axis]!;
  const B = b ? g.initializers.get(b) : undefined;
  const biasOk = !!B && B.type === 'float32' && B.size === N && (B.dims.length === 1 || (B.dims.length === 2 && B.dims[0] === 1)) && attr(n, 'alpha', 1) === 1 && attr(n, 'beta', 1) === 1;
  return { w, axis, ...(biasOk ? { bias: b! } : {}) };
}

function plan(g: Graph, o: QuantizeOptions): Plan {
  const an = analyze(g);
  // values folded at load (Constant nodes, e.g. a Clip's min / max) are constants, not activations
  const isFloatAct = (x: string) => !!x && !g.initializers.has(x) && !an.consts.has(x) && an.types.get(x)?.dtype === 'float32';
  const cons = consumersOf(g);
  const outputs = new Set(g.outputs.map((x) => x.name));
  const exclude = new Set(o.exclude ?? []);
  const excludeOps = new Set(o.excludeOps ?? []);
  const kind: Plan['kind'] = new Map();
  const skipped: Plan['skipped'] = [];
  for (const n of g.nodes) {
    if (n.domain !== '') continue;
    const isK = COMPUTE.has(n.op) || PASSTHROUGH.has(n.op) || QUANTIZABLE.has(n.op);
    if (!isK) {
      if (KEEP_FLOAT.has(n.op)) skipped.push({ node: n.name, op: n.op, reason: 'kept float (quantizing it hurts accuracy)' });
      else if (n.inputs.some(isFloatAct)) skipped.push({ node: n.name, op: n.op, reason: 'no quantized form' });
      continue;
    }
    if (exclude.has(n.name) || excludeOps.has(n.op)) {
      skipped.push({ node: n.name, op: n.op, reason: 'excluded' });
      continue;
    }
    if (!isFloatAct(n.inputs[0]!)) {
      if (COMPUTE.has(n.op)) skipped.push({ node: n.name, op: n.op, reason: 'input is not a float32 activation' });
      continue;
    }
    if (COMPUTE.has(n.op)) {
      const w = weightOf(g, n);
      if (typeof w === 'string') {
        skipped.push({ node: n.name, op: n.op, reason: w });
        continue;
      }
      kind.set(n, 'compute');
    } else if (PASSTHROUGH.has(n.op)) {
      if (n.outputs.filter(Boolean).length !== 1) continue; // MaxPool with Indices
      kind.set(n, 'pass');
    } else {
      if ((n.op === 'Add' || n.op === 'Mul') && !n.inputs.every((x) => isFloatAct(x) || isF32Init(g, x))) continue;
      kind.set(n, 'other');
    }
  }
  // pass-through ops only stay quantized when their input is quantized by a producer or consumer chain
  const tensors = new Set<string>();
  const fused = new Set<Node>();
  // QOperator fuses Relu into the quantized op's saturation, exact only when 0 maps to qmin (asymmetric)
  const symAct = o.symmetricActivations ?? o.activationType === 'int8';
  const canFuse = (o.format ?? 'qdq') === 'qdq' || !symAct;
  for (const [n, k] of kind) {
    if (k === 'compute' || k === 'other') for (const x of n.inputs) if (isFloatAct(x)) tensors.add(x);
    if (k === 'pass') tensors.add(n.inputs[0]!);
  }
  for (const [n, k] of kind) {
    const y = n.outputs[0]!;
    const cs = cons.get(y) ?? [];
    if (k === 'compute' && canFuse && cs.length === 1 && FUSABLE.has(cs[0]!.op) && kind.has(cs[0]!) && !outputs.has(y) && (cs[0]!.op === 'Relu' || isClipRelu(an.consts, cs[0]!))) {
      fused.add(cs[0]!);
      continue;
    }
    if (fused.has(n)) {
      tensors.add(n.outputs[0]!);
      continue;
    }
    if (isFloatAct(y)) tensors.add(y);
  }
  // a fused activation's input (the compute output) is not quantized
  for (const f of fused) {
    tensors.delete(f.inputs[0]!);
    tensors.add(f.outputs[0]!);
  }
  return { kind, tensors, fused, skipped };
}

/** Clip with min 0 (a ReLU6-like clamp) can be fused: the Q after it saturates at the zero point. */
function isClipRelu(consts: ReadonlyMap<string, Tensor>, n: Node): boolean {
  const lo = n.inputs[1] ? consts.get(n.inputs[1]) : undefined;
  return !!lo && lo.size === 1 && floats(lo)[0] === 0;
}

/** Union-find over value names for shared quantization parameters. */
class Shared {
  private parent = new Map<string, string>();
  find(x: string): string {
    let p = this.parent.get(x) ?? x;
    if (p !== x) {
      p = this.find(p);
      this.parent.set(x, p);
    }
    return p;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(rb, ra);
  }
}

export async function quantize(graph: Graph, options: QuantizeOptions = {}): Promise<QuantizeResult> {
  validate(options);
  if (options.maxAccuracyDrop !== undefined) return quantizeAccuracyAware(graph, options, quantize);
  const mode = options.mode ?? 'static';
  // weights computed by constant subgraphs (Cast/Transpose/DequantizeLinear of initializers) become initializers first
  graph = canonicalizeIfValid(graph);
  if (mode === 'fp16') return { graph: toFp16(graph, options), layers: [], skipped: [], tensors: new Map(), foldedBatchNorms: 0, options };
  const g = graph.clone();
  g.nodes = g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] }));
  const foldedBatchNorms = options.foldBatchNorm === false ? 0 : foldBatchNorms(g);
  // weights behind Transpose / Cast / Constant (PyTorch exports) become initializers first
  if (mode !== 'static' || g.nodes.some((n) => n.op === 'MatMul' || n.op === 'Gemm')) foldWeightChains(g);
  if (mode === 'weight-only') return weightOnlyQuantize(g, options, foldedBatchNorms, finish);
  const equalized = options.equalize ? equalize(g) : undefined;
  if (mode === 'dynamic') return dynamicQuantize(g, options, foldedBatchNorms);

  const p = plan(g, options);
  calibFeeds(g, options.calib!); // InputError naming the input before any work
  const obs = await calibrate(g, options.calib!, [...p.tensors], {
    method: options.method ?? 'minmax',
    ...(options.percentile !== undefined ? { percentile: options.percentile } : {}),
    batch: options.batch ?? 100,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  // shared parameters: pass-through outputs take their input's, Concat inputs and output share one range
  const shared = new Shared();
  for (const [n, k] of p.kind) {
    if (k === 'pass' && p.tensors.has(n.outputs[0]!) && p.tensors.has(n.inputs[0]!)) shared.union(n.inputs[0]!, n.outputs[0]!);
    if (n.op === 'Concat' && p.tensors.has(n.outputs[0]!)) for (const x of n.inputs) if (p.tensors.has(x)) shared.union(n.outputs[0]!, x);
  }
  const groupRange = new Map<string, [number, number]>();
  for (const t of p.tensors) {
    const r = obs.get(t)!.range();
    const root = shared.find(t);
    const cur = groupRange.get(root);
    groupRange.set(root, cur ? [Math.min(cur[0], r[0]), Math.max(cur[1], r[1])] : r);
  }
  const actType = options.activationType ?? 'uint8';
  const actSym = options.symmetricActivations ?? actType === 'int8';
  const tq = new Map<string, TensorQuant>();
  for (const t of p.tensors) {
    const [lo, hi] = groupRange.get(shared.find(t))!;
    const qp = qparams(lo, hi, actType, actSym);
    tq.set(t, { name: t, min: lo, max: hi, scale: qp.scale, zeroPoint: qp.zeroPoint, type: actType });
  }
  const wq = quantizeWeights(g, p, options);
  const biasErr = options.biasCorrection ? await correctBiases(g, wq, options.calib!, options.batch ?? 100, options.biasCorrection === 'independent' ? 'independent' : 'sequential') : undefined;
  const res: QuantizeResult = {
    graph: (options.format ?? 'qdq') === 'qdq' ? emitQdq(g, p, tq, wq) : emitQOperator(g, p, tq, wq),
    layers: [],
    skipped: p.skipped,
    tensors: tq,
    foldedBatchNorms,
    options,
    ...(equalized !== undefined ? { equalized } : {}),
  };
  res.layers = layerReport(g, p, tq, wq, options);
  if (biasErr) for (const l of res.layers) if (biasErr.has(l.node)) l.biasError = biasErr.get(l.node)!;
  if (options.report !== false) outputSqnr(g, res, options);
  return res;
}

export interface WInfo {
  w: string;
  axis?: number;
  bias?: string;
  wq: WeightQuant;
  bits: number;
}

function quantizeWeights(g: Graph, p: Plan, o: QuantizeOptions): Map<Node, WInfo> {
  const bits = o.weightBits ?? 8;
  const clip = o.weightClip ?? (bits < 8 ? 'mse' : 'minmax');
  const perChannel = o.perChannel ?? true;
  const out = new Map<Node, WInfo>();
  for (const [n, k] of p.kind) {
    if (k !== 'compute') continue;
    const info = weightOf(g, n) as { w: string; axis: number; bias?: string };
    const W = g.initializers.get(info.w)!;
    // Gemm's alpha applies to the dequantized weight (QDQ) or folds into the output scale (QOperator)
    const vals: ArrayLike<number> = floats(W);
    const axis = perChannel ? info.axis : undefined;
    const wq = quantizeWeight(vals, W.dims, axis, bits, clip, o.weightType ?? 'int8');
    out.set(n, { w: info.w, ...(axis !== undefined ? { axis } : {}), ...(info.bias ? { bias: info.bias } : {}), wq, bits });
  }
  return out;
}

function codesTensor(t: QType, q: ArrayLike<number>, dims: readonly number[]): Tensor {
  return new Tensor(t, t === 'int8' ? Int8Array.from(q) : Uint8Array.from(q), dims);
}

/**
 * QDQ weights of ≤ 4 bits are stored as ONNX INT4 (signed symmetric) / UINT4 initializers (opset 21,
 * packed two per byte in the file); wider codes stay in int8/uint8 containers.
 */
function weightCodes(wi: WInfo, q: ArrayLike<number>, dims: readonly number[]): Tensor {
  const t = codesTensor(wi.wq.qtype, q, dims);
  if (wi.bits > 4) return t;
  return new Tensor(wi.wq.qtype === 'int8' ? 'int4' : 'uint4', t.typed, dims);
}

/** Opset in which DequantizeLinear accepts INT4/UINT4 inputs. */
const INT4_OPSET = 21;

function zpTensor(t: QType, zp: ArrayLike<number>, dims: readonly number[]): Tensor {
  return codesTensor(t, zp, dims);
}

/** Per-channel (or per-tensor) scale/zero-point initializers of a quantized weight. */
function weightParams(wi: WInfo): { scale: Tensor; zp: Tensor } {
  const pc = wi.axis !== undefined;
  const dims = pc ? [wi.wq.scales.length] : [];
  return { scale: f32(dims, wi.wq.scales), zp: zpTensor(wi.wq.qtype, wi.wq.zeroPoints, dims) };
}

/** int32 bias with scale s_in·s_w[c]: "bias is quantized with scale = input_scale * weight_scale, zero point 0". */
function quantBias(g: Graph, wi: WInfo, sIn: number): { q: Int32Array; scale: Float32Array } {
  const b = floats(g.initializers.get(wi.bias!)!);
  const n = b.length;
  const scale = new Float32Array(n);
  const q = new Int32Array(n);
  for (let c = 0; c < n; c++) {
    const sw = wi.wq.scales.length === 1 ? wi.wq.scales[0]! : wi.wq.scales[c]!;
    let s = Math.fround(sIn * sw);
    if (!(s > 0) || !Number.isFinite(s)) s = Math.fround(1e-8);
    scale[c] = s;
    const v = roundHalfToEven(b[c]! / s);
    q[c] = Math.max(-2147483648, Math.min(2147483647, Number.isFinite(v) ? v : 0));
  }
  return { q, scale };
}

const DQ = 'DequantizeLinear';
const Q = 'QuantizeLinear';

function actParams(g: Graph, names: NamesT, t: TensorQuant, cache: Map<string, [string, string]>): [string, string] {
  const hit = cache.get(t.name);
  if (hit) return hit;
  const s = names.take(`${t.name}_scale`);
  const z = names.take(`${t.name}_zero_point`);
  g.initializers.set(s, scalarF32(t.scale));
  g.initializers.set(z, zpTensor(t.type, [t.zeroPoint], []));
  cache.set(t.name, [s, z]);
  return [s, z];
}

function finish(g: Graph): Graph {
  g.types = new Map();
  for (const i of g.inputs) g.types.set(i.name, i.type);
  for (const o of g.outputs) g.types.set(o.name, o.type);
  if ((g.opsets[''] ?? 0) < 13) g.opsets[''] = 13;
  g.producer = 'edgeq';
  pruneInitializers(g);
  return g;
}

/** QDQ format: Q→DQ on every quantized activation, DQ on quantized weights and biases. */
function emitQdq(src: Graph, p: Plan, tq: Map<string, TensorQuant>, wq: Map<Node, WInfo>): Graph {
  const g = src.clone();
  g.nodes = [];
  const names = new Names(src);
  const params = new Map<string, [string, string]>();
  const outputs = new Set(g.outputs.map((o) => o.name));
  /** activation name -> dequantized name consumers read */
  const dqName = new Map<string, string>();
  const emitted: Node[] = [];
  const qdq = (t: string, srcName: string) => {
    const [s, z] = actParams(g, names, tq.get(t)!, params);
    const qn = names.take(`${t}_quantized`);
    const dq = outputs.has(t) ? t : names.take(`${t}_dequantized`);
    emitted.push(mkNode(names.take(`${t}_QuantizeLinear`), Q, [srcName, s, z], [qn]));
    emitted.push(mkNode(names.take(`${t}_DequantizeLinear`), DQ, [qn, s, z], [dq]));
    dqName.set(t, dq);
  };
  for (const i of g.inputs) if (p.tensors.has(i.name)) qdq(i.name, i.name);
  const wDq = new Map<string, string>();
  for (const n of src.nodes) {
    const node: Node = { ...n, inputs: n.inputs.map((x) => dqName.get(x) ?? x), outputs: [...n.outputs] };
    const wi = wq.get(n);
    if (wi) {
      const key = `${wi.w}|${wi.axis}|${wi.bits}`;
      let wd = wDq.get(key);
      if (!wd) {
        const W = src.initializers.get(wi.w)!;
        const qn = names.take(`${wi.w}_quantized`);
        g.initializers.set(qn, weightCodes(wi, wi.wq.q, W.dims));
        const { scale, zp: zp8 } = weightParams(wi);
        // "x_zero_point ... must have the same type as x": a 4-bit weight gets a 4-bit zero point
        const zp = weightCodes(wi, zp8.typed as Int8Array | Uint8Array, zp8.dims);
        if (wi.bits <= 4) g.opsets[''] = Math.max(g.opsets[''] ?? 0, INT4_OPSET);
        const sn = names.take(`${wi.w}_scale`);
        const zn = names.take(`${wi.w}_zero_point`);
        g.initializers.set(sn, scale);
        g.initializers.set(zn, zp);
        wd = names.take(`${wi.w}_dequantized`);
        emitted.push(mkNode(names.take(`${wi.w}_DequantizeLinear`), DQ, [qn, sn, zn], [wd], wi.axis !== undefined ? { axis: wi.axis } : {}));
        wDq.set(key, wd);
      }
      node.inputs[1] = wd;
      const xin = tq.get(n.inputs[0]!);
      if (wi.bias && xin) {
        const B = src.initializers.get(wi.bias)!;
        const { q, scale } = quantBias(src, wi, xin.scale);
        const qn = names.take(`${wi.bias}_quantized`);
        const sn = names.take(`${wi.bias}_scale`);
        const zn = names.take(`${wi.bias}_zero_point`);
        const pc = wi.axis !== undefined;
        g.initializers.set(qn, new Tensor('int32', q, [q.length]));
        g.initializers.set(sn, pc ? f32([q.length], scale) : scalarF32(scale[0]!));
        g.initializers.set(zn, pc ? new Tensor('int32', new Int32Array(q.length), [q.length]) : new Tensor('int32', Int32Array.of(0), []));
        const bd = names.take(`${wi.bias}_dequantized`);
        emitted.push(mkNode(names.take(`${wi.bias}_DequantizeLinear`), DQ, [qn, sn, zn], [bd], pc ? { axis: 0 } : {}));
        // a Gemm C of shape [1, N] becomes the 1-D [N] bias: it broadcasts the same way
        void B;
        node.inputs[2] = bd;
      }
    }
    // a quantized graph output: the op writes <name>_float, the DQ restores <name>
    node.outputs = node.outputs.map((y) => (outputs.has(y) && p.tensors.has(y) ? names.take(`${y}_float`) : y));
    emitted.push(node);
    n.outputs.forEach((y, k) => {
      if (y && p.tensors.has(y)) qdq(y, node.outputs[k]!);
    });
  }
  g.nodes = emitted;
  return finish(g);
}

/**
 * QOperator format: QLinearConv for Conv, QLinearMatMul for MatMul, an integer MatMulInteger chain for Gemm,
 * QLinearAdd (com.microsoft) for Add; pass-through ops run directly on the 8-bit values. Values are
 * (de)quantized lazily where a float op needs them, under their original names.
 */
function emitQOperator(src: Graph, p: Plan, tq: Map<string, TensorQuant>, wq: Map<Node, WInfo>): Graph {
  const g = src.clone();
  const names = new Names(src);
  const params = new Map<string, [string, string]>();
  const out: Node[] = [];
  const qOf = new Map<string, string>();
  const floatOk = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  const getFloat = (t: string): string => {
    if (!t || floatOk.has(t)) return t;
    const q = qOf.get(t);
    if (!q) return t;
    const [s, z] = actParams(g, names, tq.get(t)!, params);
    out.push(mkNode(names.take(`${t}_DequantizeLinear`), DQ, [q, s, z], [t]));
    floatOk.add(t);
    return t;
  };
  const getQ = (t: string): string => {
    const hit = qOf.get(t);
    if (hit) return hit;
    const [s, z] = actParams(g, names, tq.get(t)!, params);
    const qn = names.take(`${t}_quantized`);
    out.push(mkNode(names.take(`${t}_QuantizeLinear`), Q, [getFloat(t), s, z], [qn]));
    qOf.set(t, qn);
    return qn;
  };
  const weightInits = (wi: WInfo, transpose: boolean): { w: string; s: string; z: string } => {
    const W = src.initializers.get(wi.w)!;
    let codes: ArrayLike<number> = wi.wq.q;
    let dims = W.dims;
    if (transpose) {
      const [r, c] = W.dims as [number, number];
      const tr = new Int32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) tr[j * r + i] = wi.wq.q[i * c + j]!;
      codes = tr;
      dims = [c, r];
    }
    const w = names.take(`${wi.w}_quantized`);
    const s = names.take(`${wi.w}_scale`);
    const z = names.take(`${wi.w}_zero_point`);
    const { scale, zp } = weightParams(wi);
    g.initializers.set(w, codesTensor(wi.wq.qtype, codes, dims));
    g.initializers.set(s, scale);
    g.initializers.set(z, zp);
    return { w, s, z };
  };
  const fusedAfter = new Map<Node, Node>();
  for (const f of p.fused) {
    const prod = src.nodes.find((n) => n.outputs[0] === f.inputs[0]);
    if (prod) fusedAfter.set(prod, f);
  }
  for (const n of src.nodes) {
    if (p.fused.has(n)) continue;
    const k = p.kind.get(n);
    const fusedAct = fusedAfter.get(n);
    const y = fusedAct ? fusedAct.outputs[0]! : n.outputs[0]!;
    const x = n.inputs[0]!;
    if (k === 'compute' && tq.has(x) && (n.op !== 'Conv' || tq.has(y))) {
      const wi = wq.get(n)!;
      const [xs, xz] = actParams(g, names, tq.get(x)!, params);
      const xq = getQ(x);
      if (n.op === 'Conv' && tq.has(y)) {
        const { w, s, z } = weightInits(wi, false);
        const [ys, yz] = actParams(g, names, tq.get(y)!, params);
        const ins = [xq, xs, xz, w, s, z, ys, yz];
        if (wi.bias) {
          const { q } = quantBias(src, wi, tq.get(x)!.scale);
          const bn = names.take(`${wi.bias}_quantized`);
          g.initializers.set(bn, new Tensor('int32', q, [q.length]));
          ins.push(bn);
        }
        const yq = names.take(`${y}_quantized`);
        const attrs = { ...n.attrs };
        out.push(mkNode(n.name, 'QLinearConv', ins, [yq], attrs));
        qOf.set(y, yq);
        continue;
      }
      if (n.op === 'MatMul' && tq.has(y) && !fusedAct) {
        const { w, s, z } = weightInits(wi, false);
        const [ys, yz] = actParams(g, names, tq.get(y)!, params);
        const yq = names.take(`${y}_quantized`);
        out.push(mkNode(n.name, 'QLinearMatMul', [xq, xs, xz, w, s, z, ys, yz], [yq]));
        qOf.set(y, yq);
        continue;
      }
      // Gemm (or MatMul feeding a float consumer): integer product, float rescale and bias
      const transpose = n.op === 'Gemm' && attr(n, 'transB', 0) === 1;
      const { w, z } = weightInits(wi, transpose);
      const acc = names.take(`${n.name}_int32`);
      out.push(mkNode(names.take(`${n.name}_MatMulInteger`), 'MatMulInteger', [xq, w, xz, z], [acc]));
      const accf = names.take(`${n.name}_int32_float`);
      out.push(mkNode(names.take(`${n.name}_Cast`), 'Cast', [acc], [accf], { to: 1 }));
      const alpha = n.op === 'Gemm' ? attr(n, 'alpha', 1) : 1;
      const sv = new Float32Array(wi.wq.scales.length);
      for (let c = 0; c < sv.length; c++) sv[c] = Math.fround(tq.get(x)!.scale * wi.wq.scales[c]! * alpha);
      const svn = names.take(`${n.name}_output_scale`);
      g.initializers.set(svn, sv.length === 1 ? scalarF32(sv[0]!) : f32([sv.length], sv));
      const c = n.op === 'Gemm' && n.inputs[2] ? n.inputs[2] : '';
      const pre = fusedAct ? names.take(`${n.outputs[0]}_prefused`) : n.outputs[0]!;
      if (c) {
        const scaled = names.take(`${n.name}_scaled`);
        out.push(mkNode(names.take(`${n.name}_Mul`), 'Mul', [accf, svn], [scaled]));
        let cn = getFloat(c);
        const beta = attr(n, 'beta', 1);
        if (beta !== 1) {
          const bn = names.take(`${n.name}_beta`);
          g.initializers.set(bn, scalarF32(beta));
          const cb = names.take(`${c}_times_beta`);
          out.push(mkNode(names.take(`${n.name}_MulBeta`), 'Mul', [cn, bn], [cb]));
          cn = cb;
        }
        out.push(mkNode(names.take(`${n.name}_Add`), 'Add', [scaled, cn], [pre]));
      } else out.push(mkNode(names.take(`${n.name}_Mul`), 'Mul', [accf, svn], [pre]));
      if (fusedAct) out.push({ ...fusedAct, inputs: [pre, ...fusedAct.inputs.slice(1).map(getFloat)] });
      floatOk.add(y);
      if (!fusedAct) floatOk.add(n.outputs[0]!);
      continue;
    }
    if (k === 'pass' && tq.has(x) && tq.has(n.outputs[0]!)) {
      const xq = getQ(x);
      const yq = names.take(`${n.outputs[0]}_quantized`);
      out.push({ ...n, inputs: [xq, ...n.inputs.slice(1).map(getFloat)], outputs: [yq], attrs: { ...n.attrs } });
      qOf.set(n.outputs[0]!, yq);
      continue;
    }
    if (n.op === 'Concat' && k && n.inputs.every((i) => tq.has(i)) && tq.has(y)) {
      const yq = names.take(`${y}_quantized`);
      out.push({ ...n, inputs: n.inputs.map(getQ), outputs: [yq], attrs: { ...n.attrs } });
      qOf.set(y, yq);
      continue;
    }
    if (n.op === 'Add' && k && n.inputs.length === 2 && n.inputs.every((i) => tq.has(i) || isF32Init(src, i)) && tq.has(y)) {
      // a constant operand is quantized per tensor on its own [min, max]
      const operand = (i: string): [string, string, string] => {
        if (tq.has(i)) return [getQ(i), ...actParams(g, names, tq.get(i)!, params)];
        const v = floats(src.initializers.get(i)!);
        let lo = Infinity;
        let hi = -Infinity;
        for (let j = 0; j < v.length; j++) {
          lo = Math.min(lo, v[j]!);
          hi = Math.max(hi, v[j]!);
        }
        const at = tq.get(y)!.type;
        const qp = qparams(lo, hi, at, at === 'int8');
        const qn = names.take(`${i}_quantized`);
        const codes = new Int32Array(v.length);
        for (let j = 0; j < v.length; j++) codes[j] = quantizeValue(v[j]!, qp);
        g.initializers.set(qn, codesTensor(at, codes, src.initializers.get(i)!.dims));
        const t: TensorQuant = { name: i, min: lo, max: hi, scale: qp.scale, zeroPoint: qp.zeroPoint, type: at };
        return [qn, ...actParams(g, names, t, params)];
      };
      const [aq, as, az] = operand(n.inputs[0]!);
      const [bq, bs, bz] = operand(n.inputs[1]!);
      const [ys, yz] = actParams(g, names, tq.get(y)!, params);
      const yq = names.take(`${y}_quantized`);
      out.push(mkNode(n.name, 'QLinearAdd', [aq, as, az, bq, bs, bz, ys, yz], [yq], {}, 'com.microsoft'));
      qOf.set(y, yq);
      continue;
    }
    // float node: make its inputs available in float
    out.push({ ...n, inputs: n.inputs.map(getFloat), outputs: [...n.outputs], attrs: { ...n.attrs } });
    for (const o of n.outputs) if (o) floatOk.add(o);
  }
  for (const o of g.outputs) getFloat(o.name);
  g.nodes = out;
  if (out.some((n) => n.domain === 'com.microsoft')) g.opsets['com.microsoft'] = Math.max(g.opsets['com.microsoft'] ?? 0, 1);
  return finish(g);
}

/** Dynamic quantization: MatMul / Gemm with constant weights → DynamicQuantizeLinear + MatMulInteger. */
function dynamicQuantize(g: Graph, o: QuantizeOptions, foldedBatchNorms: number): QuantizeResult {
  const an = analyze(g);
  const names = new Names(g);
  const exclude = new Set(o.exclude ?? []);
  const excludeOps = new Set(o.excludeOps ?? []);
  const out: Node[] = [];
  const layers: LayerQuant[] = [];
  const skipped: QuantizeResult['skipped'] = [];
  const bits = o.weightBits ?? 8;
  const dq = new Map<string, [string, string, string]>();
  const wcache = new Map<string, { wq: ReturnType<typeof quantizeWeight>; wn: string; ws: string }>();
  for (const n of g.nodes) {
    const x = n.inputs[0]!;
    const can = (n.op === 'MatMul' || n.op === 'Gemm') && n.domain === '' && an.types.get(x)?.dtype === 'float32' && !g.initializers.has(x);
    if (!can) {
      if (n.op === 'Conv') skipped.push({ node: n.name, op: n.op, reason: 'dynamic mode quantizes MatMul/Gemm only' });
      out.push(n);
      continue;
    }
    if (exclude.has(n.name) || excludeOps.has(n.op)) {
      skipped.push({ node: n.name, op: n.op, reason: 'excluded' });
      out.push(n);
      continue;
    }
    const info = weightOf(g, n);
    if (typeof info === 'string') {
      skipped.push({ node: n.name, op: n.op, reason: info });
      out.push(n);
      continue;
    }
    const W = g.initializers.get(info.w)!;
    const transpose = n.op === 'Gemm' && attr(n, 'transB', 0) === 1;
    // one quantized copy per weight (layers sharing a weight share its codes)
    const key = `${info.w}\u0000${transpose}`;
    const cached = wcache.get(key);
    // per output column of the [K, N] weight MatMulInteger takes
    let vals = floats(W) as ArrayLike<number>;
    let dims = W.dims;
    if (transpose) {
      const [r, c] = W.dims as [number, number];
      const tr = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) tr[j * r + i] = vals[i * c + j]!;
      vals = tr;
      dims = [c, r];
    }
    const perChannel = o.perChannel ?? true;
    const wq = cached?.wq ?? quantizeWeight(vals, dims, perChannel ? 1 : undefined, bits, o.weightClip ?? (bits < 8 ? 'mse' : 'minmax'), 'int8');
    const wn = cached?.wn ?? names.take(`${info.w}_quantized`);
    const ws = cached?.ws ?? names.take(`${info.w}_scale`);
    if (!cached) {
      g.initializers.set(wn, codesTensor('int8', wq.q, dims));
      g.initializers.set(ws, perChannel ? f32([wq.scales.length], wq.scales) : scalarF32(wq.scales[0]!));
      wcache.set(key, { wq, wn, ws });
    }
    let xq = dq.get(x);
    if (!xq) {
      xq = [names.take(`${x}_quantized`), names.take(`${x}_scale`), names.take(`${x}_zero_point`)];
      out.push(mkNode(names.take(`${x}_DynamicQuantizeLinear`), 'DynamicQuantizeLinear', [x], [...xq]));
      dq.set(x, xq);
    }
    const acc = names.take(`${n.name}_int32`);
    out.push(mkNode(names.take(`${n.name}_MatMulInteger`), 'MatMulInteger', [xq[0], wn, xq[2]], [acc]));
    const accf = names.take(`${n.name}_int32_float`);
    out.push(mkNode(names.take(`${n.name}_Cast`), 'Cast', [acc], [accf], { to: 1 }));
    const alpha = n.op === 'Gemm' ? attr(n, 'alpha', 1) : 1;
    let wsEff = ws;
    if (alpha !== 1) {
      const a = names.take(`${n.name}_alpha`);
      g.initializers.set(a, scalarF32(alpha));
      wsEff = names.take(`${n.name}_alpha_scale`);
      out.push(mkNode(names.take(`${n.name}_MulAlpha`), 'Mul', [ws, a], [wsEff]));
    }
    const sc = names.take(`${n.name}_scale`);
    out.push(mkNode(names.take(`${n.name}_MulScale`), 'Mul', [xq[1], wsEff], [sc]));
    const y = n.outputs[0]!;
    const c = n.op === 'Gemm' ? n.inputs[2] : '';
    if (c) {
      const m = names.take(`${n.name}_scaled`);
      out.push(mkNode(names.take(`${n.name}_Mul`), 'Mul', [accf, sc], [m]));
      let cn = c;
      const beta = attr(n, 'beta', 1);
      if (beta !== 1) {
        const bn = names.take(`${n.name}_beta`);
        g.initializers.set(bn, scalarF32(beta));
        cn = names.take(`${c}_times_beta`);
        out.push(mkNode(names.take(`${n.name}_MulBeta`), 'Mul', [c, bn], [cn]));
      }
      out.push(mkNode(names.take(`${n.name}_Add`), 'Add', [m, cn], [y]));
    } else out.push(mkNode(names.take(`${n.name}_Mul`), 'Mul', [accf, sc], [y]));
    layers.push({ node: n.name, op: n.op, weight: info.w, weightBits: bits, perChannel, weightSqnr: wq.sqnr, setting: `dynamic int8 activations, int${bits} weights${perChannel ? ' per column' : ''}` });
  }
  g.nodes = out;
  if (o.quantizeTables ?? true)
    for (const t of quantizeTables(g, exclude)) layers.push({ node: t.name, op: 'table', weight: t.name, weightBits: 8, perChannel: true, setting: 'int8 per-row table + DequantizeLinear' });
  return { graph: finish(g), layers, skipped, tensors: new Map(), foldedBatchNorms, options: o };
}

const ONNX_FLOAT = 1;
const ONNX_FLOAT16 = 10;

/** fp16: initializers and values float16; graph I/O keeps float32 via Cast unless keepIoFp16. */
export function toFp16(graph: Graph, o: QuantizeOptions = {}): Graph {
  const g = graph.clone();
  const names = new Names(g);
  const h = (t: Tensor) => new Tensor('float16', f32ArrayToF16(floats(t)), t.dims);
  for (const [k, t] of g.initializers) if (t.type === 'float32') g.initializers.set(k, h(t));
  const head: Node[] = [];
  const tail: Node[] = [];
  const rename = new Map<string, string>();
  g.nodes = g.nodes.map((n) => {
    const attrs = { ...n.attrs };
    if (n.op === 'Cast' && attrs.to === ONNX_FLOAT) attrs.to = ONNX_FLOAT16;
    if (n.op === 'Constant' && attrs.value instanceof Tensor && attrs.value.type === 'float32') attrs.value = h(attrs.value);
    for (const [k, v] of Object.entries(attrs)) if (v && typeof v === 'object' && 'nodes' in v) throw new UnsupportedError(`fp16: node '${n.name}' (${n.op}) has a subgraph attribute '${k}'; control flow is not converted`);
    return { ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs };
  });
  for (const i of g.inputs) {
    if (i.type.dtype !== 'float32') continue;
    if (o.keepIoFp16) {
      i.type = { ...i.type, dtype: 'float16' };
      continue;
    }
    const c = names.take(`${i.name}_fp16`);
    head.push(mkNode(names.take(`${i.name}_Cast`), 'Cast', [i.name], [c], { to: ONNX_FLOAT16 }));
    rename.set(i.name, c);
  }
  for (const n of g.nodes) n.inputs = n.inputs.map((x) => rename.get(x) ?? x);
  for (const out of g.outputs) {
    if (out.type.dtype !== 'float32') continue;
    if (o.keepIoFp16) {
      out.type = { ...out.type, dtype: 'float16' };
      continue;
    }
    if (g.inputs.some((i) => i.name === out.name)) continue;
    const f = names.take(`${out.name}_fp16`);
    for (const n of g.nodes) {
      n.outputs = n.outputs.map((x) => (x === out.name ? f : x));
      n.inputs = n.inputs.map((x) => (x === out.name ? f : x));
    }
    tail.push(mkNode(names.take(`${out.name}_Cast`), 'Cast', [f], [out.name], { to: ONNX_FLOAT }));
  }
  g.nodes = [...head, ...g.nodes, ...tail];
  return finish(g);
}

function layerReport(g: Graph, p: Plan, tq: Map<string, TensorQuant>, wq: Map<Node, WInfo>, o: QuantizeOptions): LayerQuant[] {
  const out: LayerQuant[] = [];
  const cons = consumersOf(g);
  for (const [n, k] of p.kind) {
    if (p.fused.has(n)) continue; // reported with the op it is fused into
    const wi = wq.get(n);
    let y = n.outputs[0]!;
    const c = cons.get(y);
    if (k === 'compute' && c?.length === 1 && p.fused.has(c[0]!)) y = c[0]!.outputs[0]!;
    const xin = tq.get(n.inputs[0]!);
    const yout = tq.get(y);
    const setting = [
      wi ? `w int${wi.bits}${wi.axis !== undefined ? ' per-channel' : ' per-tensor'}${wi.wq.qtype === 'uint8' ? ' uint8' : ''}` : '',
      `act ${o.activationType ?? 'uint8'}${(o.symmetricActivations ?? o.activationType === 'int8') ? ' sym' : ''}`,
      p.fused.has(c?.[0] as Node) ? `+${c![0]!.op}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    out.push({
      node: n.name,
      op: n.op,
      ...(wi ? { weight: wi.w, weightBits: wi.bits, perChannel: wi.axis !== undefined, weightSqnr: wi.wq.sqnr } : {}),
      ...(xin ? { input: xin } : {}),
      ...(yout ? { output: yout } : {}),
      setting,
    });
  }
  return out;
}

/** Output SQNR per layer: float model vs quantized model on the first calibration batch. */
function outputSqnr(src: Graph, res: QuantizeResult, o: QuantizeOptions): void {
  const { feeds, samples } = calibFeeds(src, o.calib!);
  const b = Math.min(samples, o.batch ?? 100);
  const f: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) f[k] = new Tensor(t.type, t.typed.subarray(0, (t.size / t.dims[0]!) * b) as never, [b, ...t.dims.slice(1)]);
  const want = res.layers.map((l) => l.output?.name ?? '').filter((n) => n && !src.inputs.some((i) => i.name === n));
  const qs = InferenceSession.fromGraph(res.graph);
  const fs = InferenceSession.fromGraph(src);
  const avail = want.filter((n) => qs.graph && (res.graph.nodes.some((x) => x.outputs.includes(n)) || res.graph.outputs.some((x) => x.name === n)));
  if (!avail.length) return;
  const a = fs.runSync(f, avail);
  const q = qs.runSync(f, avail);
  for (const l of res.layers) {
    const n = l.output?.name;
    if (!n || !a[n] || !q[n]) continue;
    const x = floats(a[n]!);
    const y = floats(q[n]!);
    let s = 0;
    let e = 0;
    for (let i = 0; i < x.length; i++) {
      s += x[i]! * x[i]!;
      e += (x[i]! - y[i]!) ** 2;
    }
    l.outputSqnr = sqnrDb(s, e);
  }
  void fs.release();
  void qs.release();
}

