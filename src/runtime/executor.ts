import { EdgeqError, InputError, ShapeError } from '../errors.js';
import { type Analysis, analyze, runInfer } from '../ir/infer.js';
import { type Dim, Graph, type ValueType } from '../ir/graph.js';
import { shapeStr, typeStr } from '../ir/dims.js';
import { Tensor } from '../tensor/tensor.js';
import type { QuantParams } from '../tensor/quant.js';
import { TensorSequence, type Value } from '../tensor/sequence.js';
import '../ops/index.js';
import { type Arena, MAX_BYTES, arena } from '../kernels/wasm.js';
import { DTYPES, type TypedArray } from '../tensor/dtype.js';
import { Residency } from './resident.js';
import { fuseQdq } from '../ir/passes/qdq-fuse.js';
import { batchNormAffine, foldBatchNorms } from '../ir/passes/fold-bn.js';
import { fuseTransformerPatterns } from '../ir/passes/fuse-xfmr.js';
import { fuseDynamicQuantMatMul } from '../ir/passes/fuse-dynq.js';
import { nhwcToNchw } from '../ir/passes/layout.js';
import { foldPads } from '../ir/passes/fold-pad.js';
import { sinkTransposes } from '../ir/passes/transpose-sink.js';
import { type CanonicalizeStats, canonicalize, canonicalizeStats } from '../ir/passes/canonicalize.js';
import { fuseHardSwish } from '../ir/passes/fuse-hardswish.js';
import { collectDeclines, kernelsFor, type PreparedKernel } from '../kernels/index.js';
import { AFFINE, CHANNEL_AFFINE, POST_OPS } from '../kernels/epilogue.js';
import type { Node } from '../ir/graph.js';
import type { Attrs, OpDef } from '../ir/registry.js';
import { nonOnnxAttr } from '../ir/layout.js';
import { Bodies } from './bodies.js';
import { splitCaptured } from '../ir/subgraph.js';
import { type Lifetime, StaticPlan, type StaticIO, planOffsets, writeInto } from './static-plan.js';

export interface ExecutorOptions {
  /** 'wasm' (default): WASM SIMD kernels where one applies, reference ops elsewhere; 'reference': TS only */
  backend?: 'wasm' | 'reference';
  /**
   * Rewrite DequantizeLinear→Conv/MatMul→QuantizeLinear into QLinearConv/QLinearMatMul (integer kernels), as
   * onnxruntime does (default true on the wasm backend). The fused form requantizes once instead of
   * dequantizing and requantizing, so an output code can differ by one from the unfused float path.
   */
  fuseQdq?: boolean;
  /** fold Relu/Clip into the producing kernel's epilogue (default true on the wasm backend) */
  fuseClamps?: boolean;
  /** let kernels write Concat inputs straight into the Concat's output block (default true on the wasm backend) */
  concatInPlace?: boolean;
  /** fold inference BatchNormalization into the preceding Conv's weights (default true on the wasm backend) */
  foldBatchNorm?: boolean;
  /** rewrite decomposed GELU / LayerNorm patterns into Gelu / LayerNormalization (default true on the wasm backend) */
  fusePatterns?: boolean;
  /**
   * rewrite NHWC convs/pools (TFLite) to NCHW with tensors kept NCHW between kernels, sink Transposes through
   * layout-agnostic ops until inverse pairs cancel (converted NHWC-born ONNX models), then fold explicit Pads into
   * the following conv (default true on the wasm backend; src/ir/passes/layout.ts, transpose-sink.ts, fold-pad.ts)
   */
  layout?: boolean;
  /** skip kernels whose output no consumer reads (a float16 weight's Cast; default true on the wasm backend) */
  elideUnread?: boolean;
  /** run ir/passes/canonicalize first: fold constant subgraphs, bypass Identity/Dropout, drop dead nodes (default true) */
  canonicalize?: boolean;
  /** canonicalize computes float16 nodes in float32 between Casts, as onnxruntime's CPU provider (default true on the wasm backend) */
  widenHalf?: boolean;
  /**
   * run graphs whose shapes are all static and whose every kernel binds (PreparedKernel.bind) as a static plan:
   * bound WASM calls on fixed blocks, no per-node JS (default true on the wasm backend; runtime/static-plan.ts)
   */
  staticPlan?: boolean;
}

/** A Concat whose inputs the producing kernels write in place: its output block and each input's byte offset. */
interface ConcatPlan {
  bytes: number;
  shape: number[];
}

/**
 * Runs a graph with the TS reference ops. Built once per session: the analysis (order, attrs, types,
 * folded constants) and the last use of every value, so intermediates are dropped as soon as possible.
 */
export class Executor {
  readonly analysis: Analysis;
  private readonly lastUse = new Map<string, number>();
  /** the kernel chosen for each node at plan time (weights packed once here) */
  readonly kernels = new Map<Node, PreparedKernel>();
  /**
   * Why each node that is not folded and has no kernel runs on the reference (plan time: no kernel for the op, or
   * every candidate's `decline` reasons), and, per node, why its kernel fell back at the last run that did.
   */
  readonly fallbacks = new Map<Node, string>();
  /** when set, run() adds each node's wall time (ms) under its kernel name or `ref:<Op>` (from `nodeTimes`) */
  profile?: Map<string, number>;
  /**
   * When set, run() records per node of `analysis.order` its wall time (input lookup, shape rule, kernel or
   * reference op, output binding) and how it ran (`RAN`); session.profile() and `edgeq profile` read it.
   */
  nodeTimes?: NodeTimes;
  /** activations folded into their producer's kernel: node → the producer's output it forwards */
  readonly fusedInto = new Map<Node, string>();
  /** names of the original graph this plan cannot fetch faithfully (see constructor); the session falls back */
  readonly altered = new Set<string>();
  /** Concats planned in place (see planConcats) and, per producing kernel node, where its output goes */
  readonly concatPlans = new Map<Node, ConcatPlan>();
  private readonly concatSlots = new Map<Node, { concat: Node; offset: number; bytes: number }>();
  /** nodes skipped unless their output is fetched, and those outputs (see planElisions) */
  private readonly elided = new Set<Node>();
  /** kernel inputs read through a Transpose the kernel undoes in place (PreparedKernel.readsInstead), per node */
  private readonly bypass = new Map<Node, { i: number; x: string; perm: number[] | undefined }[]>();
  private readonly unread = new Set<string>();
  /** plan-time links of the analysed graph: the node computing each value, and the nodes reading it (once per use) */
  private producer = new Map<string, Node>();
  private consumers = new Map<string, Node[]>();
  /** how many inputs read value `x` */
  private uses(x: string): number {
    return this.consumers.get(x)?.length ?? 0;
  }
  /** the plan as a flat list of steps (compile), built on the first run */
  private steps?: Step[];
  /** per step of analysis.order: folded at load (nothing to run), and the values whose last reader it is */
  private readonly foldedAt: boolean[] = [];
  private readonly dropAt: string[][] = [];

  /** the graph as planned: the caller's, with DQ→op→Q patterns fused into integer ops on the wasm backend */
  readonly graph: Graph;
  /** child executors of control-flow bodies (If/Loop/Scan), built on first use */
  private readonly bodies: Bodies<Executor>;
  /** what canonicalize changed before planning (undefined: nothing, or not run) */
  readonly canonicalized?: CanonicalizeStats;

  constructor(graph: Graph, opts: ExecutorOptions = {}) {
    const original = graph;
    this.staticWanted = opts.backend !== 'reference' && opts.staticPlan !== false;
    const wasm = opts.backend !== 'reference';
    const canon = opts.canonicalize !== false;
    const fuse = wasm && opts.fuseQdq !== false && graph.nodes.some((n) => n.op === 'DequantizeLinear');
    // DequantizeLinear of weights stays for QDQ fusion; what fusion leaves is folded after it
    const widenHalf = wasm && opts.widenHalf !== false;
    if (canon) graph = canonicalize(graph, { foldDequantize: !fuse, widenHalf });
    this.canonicalized = canonicalizeStats(graph);
    if (wasm && opts.layout !== false) graph = foldPads(sinkTransposes(nhwcToNchw(graph)));
    if (wasm && opts.fusePatterns !== false) graph = fuseDynamicQuantMatMul(fuseTransformerPatterns(graph));
    // Conv→BN/Mul/Add folding and HardSwish recognition (kernel-side rewrites; the unfused plan skips them too)
    if (wasm && opts.foldBatchNorm !== false) graph = fuseHardSwish(foldBatchNorms(graph));
    graph = fuse ? fuseQdq(graph) : graph;
    if (canon && fuse && graph.nodes.some((n) => n.op === 'DequantizeLinear' && n.inputs.every((x) => !x || graph.initializers.has(x)))) graph = canonicalize(graph, { widenHalf });
    this.graph = graph;
    this.analysis = analyze(graph);
    this.bodies = new Bodies((g) => new Executor(g, opts), (x) => this.analysis.consts.get(x));
    for (const n of this.analysis.order) {
      for (const o of n.outputs) if (o) this.producer.set(o, n);
      for (const x of n.inputs) if (x) (this.consumers.get(x) ?? this.consumers.set(x, []).get(x)!).push(n);
    }
    if (opts.backend !== 'reference') {
      try {
        this.chooseKernels();
        this.planBypass();
      } catch (e) {
        this.dispose(); // weights already packed for earlier nodes go back to the arena
        throw e;
      }
      if (opts.fuseClamps !== false) this.fuseClamps();
      if (opts.concatInPlace !== false) this.planConcats();
      if (opts.elideUnread !== false) this.planElisions();
    }
    // values whose contents this plan does not hold as the model defines them: removed by QDQ fusion, or
    // pre-activation outputs whose activation was fused into the producing kernel
    for (const n of original.nodes) for (const o of n.outputs) if (o && !this.analysis.types.has(o)) this.altered.add(o);
    for (const y of this.fusedInto.values()) this.altered.add(y);
    this.analysis.order.forEach((n, i) => {
      n.inputs.forEach((x) => x && this.lastUse.set(x, i));
      this.bypass.get(n)?.forEach((b) => this.lastUse.set(b.x, i));
      const also = this.alsoReads.get(n);
      if (also) this.lastUse.set(also, i);
    });
    for (const o of graph.outputs) this.lastUse.set(o.name, Infinity);
    const consts = this.analysis.consts;
    this.analysis.order.forEach((n, i) => {
      this.foldedAt.push(n.outputs.every((o) => o === '' || consts.has(o)));
      const read = [...n.inputs, ...(this.bypass.get(n)?.map((b) => b.x) ?? []), ...(this.alsoReads.has(n) ? [this.alsoReads.get(n)!] : [])];
      this.dropAt.push([...new Set(read.filter((x) => x && this.lastUse.get(x) === i && !consts.has(x)))]);
    });
  }

  private chooseKernels(): void {
    const { order, attrs, types, consts } = this.analysis;
    const producerOf = this.producer;
    for (const node of order) {
      if (node.outputs.every((o) => o === '' || consts.has(o))) continue; // folded
      // NHWC layouts, TFLite rounding etc.: only kernels that say they implement them (else the reference)
      const layouts = nonOnnxAttr(attrs.get(node)!);
      const all = kernelsFor(node.domain, node.op);
      const candidates = all.filter((k) => !layouts || k.layouts);
      if (candidates.length) this.checkFits(node);
      const reasons: string[] = [];
      for (const k of candidates) {
        const inTypes = node.inputs.map((x) => (x === '' ? undefined : types.get(x)));
        const { value: prepared, reasons: why } = collectDeclines(() =>
          k.prepare(node, attrs.get(node)!, inTypes, (i) => consts.get(node.inputs[i] ?? ''), (i) => {
            const p = producerOf.get(node.inputs[i] ?? '');
            return p && { node: p, attrs: attrs.get(p)!, constant: (j: number) => consts.get(p.inputs[j] ?? '') };
          }),
        );
        if (prepared) {
          this.kernels.set(node, prepared);
          break;
        }
        reasons.push(...(why.length ? why : ['a kernel declined without a reason']));
      }
      if (this.kernels.has(node)) continue;
      if (!all.length) this.fallbacks.set(node, `no WASM kernel for ${node.domain ? `${node.domain}.` : ''}${node.op}`);
      else if (!candidates.length) this.fallbacks.set(node, `${layouts}: no kernel implements it`);
      else this.fallbacks.set(node, [...new Set(reasons)].join('; '));
    }
  }

  /**
   * Kernels that read a Transpose's input in place of its output (MatMul packing Kᵀ from K): record the value they
   * read, and skip the Transpose when only such kernels read its output (fetching it still computes it).
   */
  private planBypass(): void {
    const graphOut = new Set(this.graph.outputs.map((o) => o.name));
    const skip = new Set<Node>();
    for (const [node, k] of this.kernels) {
      if (!k.readsInstead) continue;
      const list: { i: number; x: string; perm: number[] | undefined }[] = [];
      node.inputs.forEach((name, i) => {
        const x = name ? k.readsInstead!(i) : undefined;
        if (!x) return;
        const t = this.producer.get(name);
        if (!t || t.op !== 'Transpose' || t.domain !== '' || t.inputs[0] !== x) throw new ShapeError(`node '${node.name}': kernel ${k.name} reads '${x}' for '${name}', which is not a Transpose of it`);
        list.push({ i, x, perm: this.analysis.attrs.get(t)!.perm as number[] | undefined });
        skip.add(t);
      });
      if (list.length) this.bypass.set(node, list);
    }
    for (const t of skip) {
      const out = t.outputs[0]!;
      const readers = this.consumers.get(out) ?? [];
      if (graphOut.has(out) || !readers.every((c) => c.inputs.every((x, i) => x !== out || !!this.bypass.get(c)?.some((b) => b.i === i)))) continue;
      this.elided.add(t);
      this.unread.add(out);
    }
  }

  /**
   * A kernel marked `elidable` (Cast of a float16 weight) whose single output every consumer ignores (its kernel
   * kept the halves at plan time) does not run: widening a 1000×1280 weight every run cost more than the GEMV
   * that uses its halves. Fetching the value still computes it.
   */
  private planElisions(): void {
    const { order } = this.analysis;
    const consumers = this.consumers;
    const graphOut = new Set(this.graph.outputs.map((o) => o.name));
    for (const node of order) {
      const out = node.outputs[0];
      if (!this.kernels.get(node)?.elidable || node.outputs.length !== 1 || !out || graphOut.has(out)) continue;
      const cs = consumers.get(out) ?? [];
      if (!cs.length || !cs.every((c) => c.inputs.every((x, i) => x !== out || !!this.kernels.get(c)?.ignoresInput?.(i)))) continue;
      this.elided.add(node);
      this.unread.add(out);
    }
  }

  /**
   * Refuse at create, not inside WASM: a kernel-backed node whose static input or output would not fit in the 4 GB
   * of 32-bit WASM memory. (Symbolic shapes are checked when the run allocates them: Arena.alloc throws ShapeError.)
   */
  private checkFits(node: Node): void {
    for (const x of [...node.inputs, ...node.outputs]) {
      const t = x ? this.analysis.types.get(x) : undefined;
      if (!t?.shape || !t.shape.every((d) => typeof d === 'number')) continue;
      const bytes = (t.shape as number[]).reduce((a, d) => a * d, DTYPES[t.dtype].bytes);
      if (bytes > MAX_BYTES)
        throw new ShapeError(`node '${node.name}' (${node.op}): '${x}' ${t.dtype}[${t.shape.join(',')}] needs ${bytes} bytes, more than the 4 GB of WASM memory the kernels address`);
    }
  }

  /**
   * Plan-time fusion: a Relu/Clip whose only input is the single-use output of a kernel with a clamp
   * epilogue (Conv, Gemm, MatMul, Add …) is folded into that kernel; so is a LeakyRelu/HardSigmoid/HardSwish/Sigmoid
   * into a kernel that runs it over its output block (kernels/epilogue.ts). At run time the activation's output is
   * the kernel's output.
   */
  /**
   * A two-input default-domain node with one float32 scalar constant operand (index k, value c) whose rank does not
   * widen the other operand y, a float32 activation: the output has y's shape.
   */
  private scalarOperand(n: Node): { k: number; y: string; c: number } | undefined {
    if (n.domain !== '' || n.inputs.length !== 2) return undefined;
    const { consts, types } = this.analysis;
    const k = n.inputs.findIndex((x) => {
      const t = consts.get(x);
      return t?.type === 'float32' && t.size === 1 && t.dims.length <= (types.get(n.inputs[1 - n.inputs.indexOf(x)]!)?.shape?.length ?? -1);
    });
    if (k < 0) return undefined;
    const y = n.inputs[1 - k]!;
    if (consts.has(y) || types.get(y)?.dtype !== 'float32') return undefined;
    return { k, y, c: (consts.get(n.inputs[k]!)!.data as Float32Array)[0]! };
  }

  /**
   * A Mul / Add / Sub of a float32 value y by a float32 scalar constant c, as y·alpha + beta (ONNX broadcasting of a
   * one-element constant keeps y's shape); undefined for anything else. x − c is y + (−c) and c − y is y·(−1) + c,
   * exactly (IEEE subtraction is addition of the negation).
   */
  private scalarAffine(n: Node): { y: string; alpha: number; beta: number } | undefined {
    if (n.op !== 'Mul' && n.op !== 'Add' && n.op !== 'Sub') return undefined;
    const so = this.scalarOperand(n);
    if (!so) return undefined;
    const { k, y, c } = so;
    if (n.op === 'Mul') return { y, alpha: c, beta: -0 }; // −0: the additive identity for every float, −0 included
    if (n.op === 'Add') return { y, alpha: 1, beta: c };
    return k === 1 ? { y, alpha: 1, beta: -c } : { y, alpha: -1, beta: c };
  }

  /**
   * Max(y, c) / Min(y, c) (either order) with c a float32 scalar constant whose rank does not widen y: a clamp of y to
   * [c, ∞) / (−∞, c] (ONNX Max/Min: "Element-wise max (min) of each of the input tensors"; tf2onnx writes
   * tf.math.maximum(x, c) so, after a LeakyRelu in openWakeWord's embedding CNN).
   */
  private scalarBound(n: Node): { y: string; lo: number; hi: number } | undefined {
    if (n.op !== 'Max' && n.op !== 'Min') return undefined;
    const so = this.scalarOperand(n);
    if (!so || Number.isNaN(so.c)) return undefined;
    const { k, y, c } = so;
    // signed zeros: the reference returns its second operand on a tie (+0 vs −0), the clamp the IEEE max/min; they
    // differ only when the constant is the zero the clamp would not pick (second) or would (first) — those stay a node
    const tieDiffers = (n.op === 'Max') === (k === 1) ? Object.is(c, -0) : Object.is(c, 0);
    if (tieDiffers) return undefined;
    return n.op === 'Max' ? { y, lo: c, hi: Infinity } : { y, lo: -Infinity, hi: c };
  }

  /**
   * PRelu(y, slope) with a float32 constant slope that varies along at most one axis of y's static shape: the
   * fusePost attributes { slope (one float per channel), inner (elements after that axis) } of an epilogue step.
   */
  private channelPRelu(n: Node): { slope: Float32Array; inner: number } | undefined {
    if (n.op !== 'PRelu' || n.domain !== '' || n.inputs.length !== 2) return undefined;
    const s = this.analysis.consts.get(n.inputs[1]!);
    const ys = this.analysis.types.get(n.inputs[0]!)?.shape;
    if (!s || s.type !== 'float32' || this.analysis.consts.has(n.inputs[0]!) || !ys || ys.some((d) => typeof d !== 'number') || s.dims.length > ys.length) return undefined;
    const dims = ys as number[];
    const lead = dims.length - s.dims.length; // slope dims align to y's last ones (unidirectional broadcast)
    const axes = s.dims.map((d, i) => (d > 1 ? i + lead : -1)).filter((a) => a >= 0);
    if (axes.length > 1 || (axes.length === 1 && s.dims[axes[0]! - lead] !== dims[axes[0]!])) return undefined;
    const axis = axes[0] ?? dims.length - 1;
    const slope = axes.length ? (s.data as Float32Array) : new Float32Array(1).fill((s.data as Float32Array)[0]!);
    const inner = axes.length ? dims.slice(axis + 1).reduce((a, d) => a * d, 1) : dims.reduce((a, d) => a * d, 1);
    return { slope: Float32Array.from(slope), inner: Math.max(inner, 1) };
  }

  /**
   * A per-channel y·scale[c] + bias[c] of a float32 NCHW value y with static shape: a depthwise 1×1 Conv (stride 1,
   * no pads, constant weights [C,1,1,1] and bias, group C: ONNX Conv "Y = B + Σ X·W" over one tap) or an inference
   * BatchNormalization with constant statistics (ONNX: "Y = (X − input_mean) / sqrt(input_var + epsilon) · scale + B",
   * as the reference computes it: scale' = scale/√(var + ε), bias' = B − mean·scale'). MediaPipe's BlazeBlocks put
   * such a 1×1 "batch norm" after the PRelu of the conv before it; folded into that conv's epilogue it runs in place.
   */
  private channelAffine(n: Node): { y: string; scale: Float32Array; bias: Float32Array; inner: number } | undefined {
    if (n.domain !== '' || (n.op !== 'Conv' && n.op !== 'BatchNormalization') || n.outputs.length !== 1) return undefined;
    const { consts, types, attrs } = this.analysis;
    const y = n.inputs[0]!;
    const ys = types.get(y)?.shape;
    const a = attrs.get(n)!;
    if (!y || consts.has(y) || types.get(y)?.dtype !== 'float32' || !ys || ys.length !== 4 || ys.some((d) => typeof d !== 'number') || (a.data_layout ?? 'NCHW') !== 'NCHW') return undefined;
    const [, ch, h, w] = ys as number[];
    const f32 = (i: number, len: number) => {
      const t = consts.get(n.inputs[i] ?? '');
      return t?.type === 'float32' && t.size === len ? (t.data as Float32Array) : undefined;
    };
    if (n.op === 'BatchNormalization') {
      if (a.training_mode === 1) return undefined;
      const [sc, b, mean, v] = [f32(1, ch!), f32(2, ch!), f32(3, ch!), f32(4, ch!)];
      if (!sc || !b || !mean || !v) return undefined;
      const [scale, bias] = batchNormAffine(sc, b, mean, v, a.epsilon as number);
      return { y, scale: Float32Array.from(scale), bias: Float32Array.from(bias), inner: h! * w! };
    }
    const wt = consts.get(n.inputs[1] ?? '');
    const pads = (a.pads as number[] | undefined) ?? [];
    const ones = (v: unknown) => v === undefined || (v as number[]).every((d) => d === 1);
    if (!wt || wt.type !== 'float32' || wt.dims.join() !== `${ch},1,1,1` || a.group !== ch || !ones(a.strides) || pads.some((d) => d !== 0)) return undefined;
    const bias = n.inputs[2] ? f32(2, ch!) : new Float32Array(ch!);
    if (!bias) return undefined;
    return { y, scale: Float32Array.from(wt.data as Float32Array), bias: Float32Array.from(bias), inner: h! * w! };
  }

  /**
   * Add(c, y) / Add(y, c) with c a float32 constant row — [N] or [1, …, 1, N], N = y's last dim, so broadcasting
   * keeps y's shape — folded into y's producing kernel (`fuseBias`: a MatMul packs it with its weight).
   */
  private fuseRowBias(act: Node, graphOut: ReadonlySet<string>): boolean {
    if (act.op !== 'Add' || act.domain !== '' || act.inputs.length !== 2) return false;
    const { consts, types } = this.analysis;
    const k = act.inputs.findIndex((x) => consts.get(x)?.type === 'float32' && !consts.has(act.inputs[1 - act.inputs.indexOf(x)]!));
    if (k < 0) return false;
    const c = consts.get(act.inputs[k]!)!;
    const y = act.inputs[1 - k]!;
    const ys = types.get(y)?.shape;
    const n = ys?.at(-1);
    if (typeof n !== 'number' || c.size !== n || c.dims.length > ys!.length || c.dims.slice(0, -1).some((d) => d !== 1) || types.get(y)?.dtype !== 'float32') return false;
    const prod = this.producer.get(y);
    const kernel = prod && !this.fusedInto.has(prod) ? this.kernels.get(prod) : undefined;
    if (!kernel?.fuseBias || this.uses(y) !== 1 || graphOut.has(y) || !kernel.fuseBias(c.data as Float32Array)) return false;
    this.fusedInto.set(act, y);
    this.kernels.get(act)?.dispose?.();
    this.kernels.delete(act);
    return true;
  }

  /** kernel node → the residual value its kernel adds (fuseResidual: an Add folded into the kernel) */
  private readonly residualOf = new Map<Node, string>();
  /** a folded Add → the value its kernel reads in place of one of the Add's inputs (a zero Pad's input) */
  private readonly alsoReads = new Map<Node, string>();

  /**
   * `p` is a constant-mode Pad (domain '', constant non-negative pads, no axes input, pad value absent or a float32
   * zero) of a float32 runtime value x that pads only the end of one axis with every dim before that axis 1, so its
   * output block is x's values followed by zeros (ONNX Pad: "constant - pads with a given constant value as
   * specified by constant_value"): x's name, else undefined.
   */
  private zeroTailPad(p: Node | undefined): string | undefined {
    if (!p || p.op !== 'Pad' || p.domain !== '' || (p.inputs[3] ?? '') !== '' || (this.analysis.attrs.get(p)!.mode ?? 'constant') !== 'constant') return undefined;
    const { consts, types } = this.analysis;
    const x = p.inputs[0]!;
    const pads = consts.get(p.inputs[1] ?? '');
    const v = p.inputs[2] ? consts.get(p.inputs[2]) : undefined;
    const shape = types.get(x)?.shape;
    if (!x || consts.has(x) || !pads || !shape || types.get(x)?.dtype !== 'float32' || (p.inputs[2] && (v?.type !== 'float32' || v.size !== 1 || (v.data as Float32Array)[0] !== 0))) return undefined;
    const r = shape.length;
    const pv = Array.from(pads.data as ArrayLike<number | bigint>, Number);
    if (pv.length !== 2 * r || pv.slice(0, r).some((d) => d !== 0)) return undefined;
    const axes = pv.slice(r).flatMap((d, a) => (d !== 0 ? [a] : []));
    if (axes.length !== 1 || pv[r + axes[0]!]! < 0 || shape.slice(0, axes[0]).some((d) => d !== 1)) return undefined;
    return x;
  }

  /**
   * Add(y, r) with y the single-use float32 output of a kernel with `fuseResidual` and r another runtime value of the
   * same static shape, computed before that kernel runs (a residual connection): the kernel adds r in its epilogue.
   */
  private fuseResidual(act: Node, graphOut: ReadonlySet<string>): boolean {
    if (act.op !== 'Add' || act.domain !== '' || act.inputs.length !== 2 || this.bypass.has(act)) return false;
    const { consts, types, order } = this.analysis;
    const [a, b] = act.inputs as [string, string];
    if (!a || !b || a === b || consts.has(a) || consts.has(b)) return false;
    const sa = types.get(a);
    const sb = types.get(b);
    // equal static dims; or equal by symbol (a decoder's [batch, seq, d]): then only kernels that check at run time
    const same = (x?: ValueType, z?: ValueType) => !!x?.shape && !!z?.shape && x.dtype === 'float32' && z.dtype === 'float32' && x.shape.length === z.shape.length && x.shape.every((d, i) => (typeof d === 'number' || (d !== '' && d !== '?')) && d === z.shape![i]);
    if (!same(sa, sb)) return false;
    const symbolic = sa!.shape!.some((d) => typeof d !== 'number');
    const at = (n: Node | undefined) => (n ? order.indexOf(n) : -1);
    for (const [y, r] of [
      [a, b],
      [b, a],
    ] as const) {
      // through a bias Add already folded into its kernel (MatMul → Add(bias) → Add(residual))
      let prod = this.producer.get(y);
      while (prod && this.fusedInto.has(prod) && prod.op === 'Add') prod = this.producer.get(this.fusedInto.get(prod)!);
      const kernel = prod && !this.fusedInto.has(prod) ? this.kernels.get(prod) : undefined;
      if (!kernel?.fuseResidual || this.residualOf.has(prod!) || this.uses(y) !== 1 || graphOut.has(y)) continue;
      // r = a zero Pad of x whose block is x then zeros (BlazeFace's channel pad before its residual Add): the kernel
      // adds x over the first x.size values of its output and the Pad does not run
      const pad = this.uses(r) === 1 && !graphOut.has(r) ? this.zeroTailPad(this.producer.get(r)) : undefined;
      const add = pad ?? r;
      // the added value must hold when the kernel runs: a graph input, or computed by an earlier node
      const rp = this.producer.get(add);
      if (rp ? at(rp) >= at(prod) : !this.graph.inputs.some((i) => i.name === add)) continue;
      if (!kernel.fuseResidual(pad !== undefined, symbolic)) continue;
      this.residualOf.set(prod!, add);
      this.fusedInto.set(act, y);
      this.kernels.get(act)?.dispose?.();
      this.kernels.delete(act);
      if (pad !== undefined) {
        const p = this.producer.get(r)!;
        this.alsoReads.set(act, pad); // x lives until the Add's place, as r did
        this.elided.add(p); // runs only when its output is fetched
        this.unread.add(r);
      }
      return true;
    }
    return false;
  }

  private fuseClamps(): void {
    const { order, consts } = this.analysis;
    const graphOut = new Set(this.graph.outputs.map((o) => o.name));
    const producer = this.producer;
    for (const act of order) {
      if (this.fuseRowBias(act, graphOut) || this.fuseResidual(act, graphOut)) continue;
      const affine = this.scalarAffine(act);
      const prelu = this.channelPRelu(act);
      const scalarClamp = this.scalarBound(act);
      const chAffine = this.channelAffine(act);
      const post = POST_OPS[act.op] !== undefined || affine !== undefined || prelu !== undefined || chAffine !== undefined;
      if (act.op !== 'Relu' && act.op !== 'Clip' && !scalarClamp && !post) continue;
      if (act.domain !== '') continue;
      const y = affine ? affine.y : scalarClamp ? scalarClamp.y : act.inputs[0]!;
      // an activation already folded away forwards its producer's output: chains (Conv → HardSwish → Mul → Add) fold
      // into the one kernel at the start
      let prod = producer.get(y);
      while (prod && this.fusedInto.has(prod)) prod = producer.get(this.fusedInto.get(prod)!);
      const k = prod && this.kernels.get(prod);
      const dt = this.analysis.types.get(y)?.dtype;
      if (!prod || !k || this.uses(y) !== 1 || graphOut.has(y)) continue;
      // 8-bit codes (a TFLite conv's fused activation is a Clip on its int8 output): clamp the codes in the kernel
      if ((dt === 'int8' || dt === 'uint8') && !post && k.fuseClampQ) {
        const q = (i: number, dflt: number): number | undefined => {
          const name = act.inputs[i];
          if (!name) return dflt;
          const t = consts.get(name);
          return t && t.type === dt && t.size === 1 ? Number((t.data as Int8Array)[0]) : undefined;
        };
        const [l, h] = act.op === 'Clip' ? [q(1, -Infinity), q(2, Infinity)] : [0, Infinity];
        if (l !== undefined && h !== undefined && k.fuseClampQ(l, h)) {
          this.fusedInto.set(act, y);
          this.kernels.get(act)?.dispose?.(); // a standalone 8-bit Clip kernel (the table kernel) is not needed then
          this.kernels.delete(act);
        }
        continue;
      }
      if (dt !== 'float32') continue;
      if (post) {
        if (k.fusePost?.(affine ? AFFINE : chAffine ? CHANNEL_AFFINE : act.op, affine ?? prelu ?? chAffine ?? this.analysis.attrs.get(act)!)) {
          this.fusedInto.set(act, y);
          this.kernels.get(act)?.dispose?.();
          this.kernels.delete(act);
        }
        continue;
      }
      if (!k.fuseClamp) continue;
      let lo = scalarClamp ? scalarClamp.lo : 0;
      let hi = scalarClamp ? scalarClamp.hi : Infinity;
      if (act.op === 'Clip') {
        const bound = (i: number, dflt: number): number | undefined => {
          const name = act.inputs[i];
          if (!name) return dflt;
          const t = consts.get(name);
          return t && t.type === 'float32' && t.size === 1 ? (t.data as Float32Array)[0]! : undefined;
        };
        const l = bound(1, -Infinity);
        const h = bound(2, Infinity);
        if (l === undefined || h === undefined) continue;
        [lo, hi] = [l, h];
      }
      if (k.fuseClamp(lo, hi)) {
        this.fusedInto.set(act, y);
        this.kernels.get(act)?.dispose?.(); // its standalone kernel (kernels/act.ts f32_clamp) is not needed
        this.kernels.delete(act);
      }
    }
  }

  /**
   * Plan-time buffer sharing for Concat: when the concatenated parts are contiguous runs of the output (every dim
   * before the axis is 1, e.g. a batch-1 channel concat in NCHW) and each part is the single-use output of a kernel
   * (possibly through a fused activation), the Concat's output block is allocated when its first part is computed
   * and each producing kernel writes its part at its offset (kernels with `writesInto`; others are copied there).
   * The Concat itself then costs nothing: squeezenet's eight fire-module concats no longer copy.
   */
  private planConcats(): void {
    const { order, types, consts, attrs } = this.analysis;
    const graphIo = new Set([...this.graph.outputs.map((o) => o.name), ...this.graph.inputs.map((i) => i.name)]);
    const producer = this.producer;
    const claimed = new Set<Node>();
    const staticShape = (name: string): number[] | undefined => {
      const t = types.get(name);
      return t && t.dtype === 'float32' && !t.sequence && t.shape?.every((d) => typeof d === 'number') ? (t.shape as number[]) : undefined;
    };
    for (const cat of order) {
      // (a float32 Concat may have the copying kernel x32_concat: dropped below when planned in place)
      if (cat.op !== 'Concat' || cat.domain !== '' || (this.kernels.has(cat) && this.kernels.get(cat)!.name !== 'x32_concat')) continue;
      const shape = staticShape(cat.outputs[0]!);
      if (!shape || graphIo.has(cat.outputs[0]!)) continue;
      const axis = ((attrs.get(cat)!.axis as number) + shape.length) % shape.length;
      if (shape.slice(0, axis).some((d) => d !== 1)) continue;
      const slots: { kernel: Node; bytes: number }[] = [];
      for (const x of cat.inputs) {
        const xs = x ? staticShape(x) : undefined;
        if (!x || !xs || consts.has(x) || graphIo.has(x) || this.uses(x) !== 1) break;
        // through a fused activation to the kernel that computes the values
        let p = producer.get(x);
        const via = p && this.fusedInto.get(p);
        if (via !== undefined) p = producer.get(via);
        if (!p || !this.kernels.has(p) || claimed.has(p) || p.outputs.filter((o) => o).length !== 1 || slots.some((s) => s.kernel === p)) break;
        slots.push({ kernel: p, bytes: xs.reduce((a, d) => a * d, 4) });
      }
      if (slots.length !== cat.inputs.length || slots.length < 2) continue;
      let offset = 0;
      for (const s of slots) {
        claimed.add(s.kernel);
        this.concatSlots.set(s.kernel, { concat: cat, offset, bytes: s.bytes });
        offset += s.bytes;
      }
      this.concatPlans.set(cat, { bytes: offset, shape });
      this.kernels.delete(cat);
    }
  }

  /**
   * Concrete output types for this run. The shape rule runs again (it validates the actual inputs), except when
   * the node saw exactly these input types last run and its rule read no run-time values (only constants): then
   * the last answer is reused — small models spend most of their time here otherwise.
   */
  private inferRun(s: Step, inputs: (Value | undefined)[]): ValueType[] {
    const hit = s.shapes;
    if (hit && sameSig(hit.sig, inputs)) return hit.out;
    const node = s.node;
    const inTypes: (ValueType | undefined)[] = inputs.map((t, i) =>
      t instanceof TensorSequence ? seqType(t) : t ? { dtype: t.type, shape: [...t.dims], ...(t.quant ? { quant: t.quant } : {}) } : this.unread.has(node.inputs[i] ?? '') ? this.analysis.types.get(node.inputs[i]!) : undefined,
    );
    let readsValues = false;
    const out = runInfer(s.def, node, s.attrs, inTypes, (i) => {
      const v = inputs[i];
      if (s.consts[i] === undefined) readsValues = true;
      return v instanceof Tensor ? v : undefined;
    });
    // quantized inputs are keyed by their QuantParams object (identity): kernels and cached answers hand the same
    // object on from run to run, so an int8 graph's shape rules run once, not per run (hello_world_int8: 13.5 → 5.2 µs/run)
    if (!readsValues && !inputs.some((t) => t instanceof TensorSequence)) {
      // the cached answer's shapes are frozen copies: tensors made with them share the array instead of copying it
      const frozen = out.map((t) => (t?.shape ? { ...t, shape: Object.freeze([...t.shape]) as Dim[] } : t));
      s.shapes = { sig: inputs.map((t) => t && { type: (t as Tensor).type, dims: [...(t as Tensor).dims], frozen: Object.isFrozen((t as Tensor).dims) ? (t as Tensor).dims : undefined, quant: (t as Tensor).quant }), out: frozen };
    }
    return out;
  }

  /** Free kernel memory (packed weights). The executor must not be used afterwards. */
  dispose(): void {
    this.static?.dispose();
    this.static = null;
    for (const p of this.ownPlans ?? []) p.dispose();
    for (const k of this.kernels.values()) k.dispose?.();
    this.kernels.clear();
    this.steps = undefined;
    this.bodies?.dispose();
  }

  /** Validate feeds against the graph's declared inputs (InputError naming the tensor). */
  checkFeeds(feeds: Record<string, Value>): void {
    if (feeds === null || typeof feeds !== 'object') throw new InputError('feeds must be an object mapping input names to Tensors');
    let symbols: Map<string, number> | undefined;
    for (const input of this.graph.inputs) {
      const t = feeds[input.name];
      if (t === undefined) throw new InputError(`input '${input.name}' is missing (expected ${input.type.dtype}${shapeStr(input.type.shape)})`);
      if (input.type.sequence || t instanceof TensorSequence) {
        if (!input.type.sequence || !(t instanceof TensorSequence) || t.elemType !== input.type.dtype)
          throw new InputError(`input '${input.name}' must be a ${input.type.sequence ? `TensorSequence of ${input.type.dtype}` : 'Tensor'}`);
        continue;
      }
      if (!(t instanceof Tensor) && !looksLikeTensor(t)) throw new InputError(`input '${input.name}' must be a Tensor`);
      if (t.type !== input.type.dtype) throw new InputError(`input '${input.name}' has type ${t.type}, expected ${input.type.dtype}`);
      const want = input.type.shape;
      if (want) {
        const bad = () => new InputError(`input '${input.name}' has shape [${t.dims.join(',')}], expected ${shapeStr(want)}`);
        if (t.dims.length !== want.length) throw bad();
        for (let i = 0; i < want.length; i++) {
          const d: Dim = want[i]!;
          const got = t.dims[i]!;
          if (typeof d === 'number') {
            if (d !== got) throw bad();
          } else if (d !== '' && d !== '?') {
            const seen = (symbols ??= new Map()).get(d);
            if (seen !== undefined && seen !== got) throw new InputError(`input '${input.name}' dim ${i} ('${d}') is ${got} but another input has '${d}' = ${seen}`);
            symbols.set(d, got);
          }
        }
      }
    }
    const names = (this.inputSet ??= new Set(this.graph.inputs.map((i) => i.name)));
    for (const k in feeds) {
      if (Object.prototype.hasOwnProperty.call(feeds, k) && !names.has(k)) throw new InputError(`unknown input '${k}' (model inputs: ${this.graph.inputs.map((i) => i.name).join(', ')})`);
    }
  }

  /** the graph's input names (checkFeeds), and the last run's fetch list with its set (run) */
  private inputSet?: Set<string>;
  private lastFetch?: { fetch: readonly string[]; keep: Set<string> };

  /** `fetch` as a set, reused while callers fetch the same names (a session's output names every run). */
  private keepSet(fetch: readonly string[]): Set<string> {
    const last = this.lastFetch;
    if (last && (last.fetch === fetch || (last.fetch.length === fetch.length && last.fetch.every((x, i) => x === fetch[i])))) return last.keep;
    const keep = new Set(fetch);
    this.lastFetch = { fetch: [...fetch], keep };
    return keep;
  }

  /**
   * `resident`: fetched outputs to hand over in kernel memory instead of copying them out (a decoder's KV cache fed
   * back next step): the caller owns those blocks (`arena().release(t.data.byteOffset)`). Feeds that are such views
   * are read in place.
   */
  run(feeds: Record<string, Value>, fetch: readonly string[] = (this.outputNames ??= this.graph.outputs.map((o) => o.name)), resident?: ReadonlySet<string>, into?: Record<string, unknown>): Record<string, Value> {
    // all shapes static and every node bound: the compiled plan, when the feeds are the planned ones (else below)
    if (this.static !== null && !resident?.size && !this.profile && !this.nodeTimes && !bodySink) {
      const out = (this.static ??= this.compileStatic() ?? null)?.run(feeds, fetch, into);
      if (out) return out;
    }
    this.checkFeeds(feeds);
    // constants are bound into the plan's steps (compile); the map holds only what this run computes
    const values = new Map<string, Value>();
    for (const i of this.graph.inputs) values.set(i.name, toValue(feeds[i.name]!));
    const keep = this.keepSet(fetch);
    const mem = this.kernels.size ? arena() : undefined;
    const res = mem ? new Residency(mem) : undefined;
    // feeds already in kernel memory: rebound if memory grows, never freed by this run
    if (res) for (const i of this.graph.inputs) values.set(i.name, res.feed(i.name, values.get(i.name) as Tensor));
    const blocks = new Map<Node, number>(); // planned Concat outputs allocated this run, not yet owned by a value
    // a body run inside a profiled control-flow node: time this plan too and report its reference time to that node
    const sink = bodySink;
    const prof = this.nodeTimes ?? (this.profile || sink ? (this.nodeTimes = newNodeTimes(this.analysis.order.length)) : undefined);
    try {
      this.step(values, keep, res, blocks, prof);
      if (this.profile) this.addProfile(this.profile, prof!);
      if (sink) for (let i = 0; i < prof!.ran.length; i++) sink.reference += prof!.ran[i] === RAN.reference ? prof!.ms[i]! : prof!.ran[i] === RAN.control ? prof!.body[i]! : 0;
      const result: Record<string, Value> = {};
      for (const name of fetch) {
        const v = values.get(name) ?? this.analysis.consts.get(name);
        if (!v) throw new InputError(`output '${name}' was not computed`);
        const dst = into?.[name];
        if (dst != null && v instanceof Tensor) result[name] = writeInto(name, dst, v.type, v.dims, v.data as ArrayLike<unknown>);
        else result[name] = (res ? (resident?.has(name) && res.keep(name) !== undefined ? v : res.detach(v)) : v) as Value;
      }
      return result;
    } finally {
      res?.releaseAll();
      for (const p of blocks.values()) mem!.release(p);
    }
  }

  /** the graph's output names (run's default fetch list, one array so the plans' fetch caches hit) */
  private outputNames?: string[];
  /** whether to try a static plan (ExecutorOptions.staticPlan) */
  private readonly staticWanted: boolean;
  /** the static plan: undefined until the first run tries to build one, null when this graph has none */
  private static?: StaticPlan | null;

  /** The static plan in use, if the last runs could use one (tests, `edgeq profile`). */
  get staticPlan(): StaticPlan | undefined {
    return this.static ?? undefined;
  }

  /**
   * Whether run() takes a static plan, else why not (`edgeq profile` prints it: its own runs time each node on the
   * general path, so they cannot show it). Compiles the plan if no run has tried yet.
   */
  staticPlanStatus(): { static: boolean; why?: string } {
    if (this.static === undefined) this.static = this.compileStatic() ?? null;
    return this.static ? { static: true } : { static: false, why: this.staticMiss ?? 'released' };
  }
  private staticMiss?: string;
  private noStatic(why: string): undefined {
    this.staticMiss = why;
    return undefined;
  }

  /**
   * Compile the plan to bound calls on fixed blocks (runtime/static-plan.ts) when every graph input and output and
   * every value a kernel reads or writes has one static shape, and every step is an alias (a fused activation, a
   * view kernel), a kernel whose `bind` accepts its places, or an If whose branches plan so too (layoutStatic).
   * Values get blocks of one arena allocation, shared between values not alive at the same time (planOffsets).
   * Undefined when any step cannot bind: every run then takes the general path, as before.
   */
  private compileStatic(keepInputs = false): StaticPlan | undefined {
    this.staticMiss = undefined;
    const mem = this.staticWanted && this.kernels.size ? arena() : undefined;
    if (!mem || this.graph.inputs.length === 0) return this.noStatic(!this.staticWanted ? 'not wanted (backend or staticPlan option)' : !this.kernels.size ? 'no step runs a kernel' : 'the graph has no inputs');
    const layout = this.layoutStatic(keepInputs ? 'keep' : 'own');
    if (!layout) return undefined;
    const held: number[] = [];
    const base = mem.alloc(layout.total, 'static plan values');
    held.push(base);
    // the arrays fed to the current run, per graph input read straight from its feed (StaticPlan.run sets them)
    const fed: (TypedArray | undefined)[] = [];
    let calls: (() => void)[] | undefined;
    try {
      calls = this.bindLayout(layout, mem, base, [], held, fed);
    } finally {
      if (!calls) for (const p of held) mem.release(p);
    }
    if (!calls) return undefined;
    const at = layout.at(base, []);
    const io = (name: string): StaticIO => {
      const st = this.staticType(name)!;
      return { name, type: st.t.dtype, dims: Object.freeze([...(st.t.shape as number[])]), size: st.size, ptr: at(layout.rootOf.get(name)), ...(st.t.quant ? { quant: st.t.quant } : {}) };
    };
    const outputs = new Map<string, StaticIO>();
    for (const o of this.graph.outputs) outputs.set(o.name, io(o.name));
    return new StaticPlan(mem, this.graph.inputs.map((i) => io(i.name)), outputs, calls, held, layout.total, fed);
  }

  /** `x`'s type when it has one static shape and a place in kernel memory (not a string), with its element count and bytes. */
  private staticType(x: string): { t: ValueType; size: number; bytes: number } | undefined {
    const t = this.analysis.types.get(x);
    if (!t || t.sequence || !t.shape || !t.shape.every((d) => typeof d === 'number')) return undefined;
    const width = DTYPES[t.dtype].bytes; // 0 for strings, which have no place in kernel memory
    if (!width) return undefined;
    const size = (t.shape as number[]).reduce((a, d) => a * d, 1);
    return { t, size, bytes: size * width };
  }

  /**
   * Where every value of a static plan goes and what runs, before any memory is taken (undefined, with staticMiss
   * set, when a step cannot be planned). `own`: the graph inputs read only by binding kernels stay in the caller's
   * feeds; `keep`: every input gets a block no value shares (an in-place plan's inputs outlive a run); `branch`: the
   * graph is an If branch inside a caller's plan, its inputs (the captured values) and outputs (the If's outputs)
   * are places the caller gives (`ext` blocks: inputs first, then outputs) and the rest is one region the caller
   * places (`total` bytes), alive while the If runs.
   */
  private layoutStatic(mode: 'own' | 'keep' | 'branch'): StaticLayout | undefined {
    const { types } = this.analysis;
    const staticType = (x: string) => this.staticType(x);
    // every value at a place: a block and a byte offset in it (an alias shares its root's place; a part of an
    // in-place Concat sits at its offset in the Concat's block, see planConcats), and each block's lifetime
    const rootOf = new Map<string, number>();
    const places: { b: number; off: number }[] = [];
    const blocks: LayoutBlock[] = [];
    const place = (name: string | undefined, b: number, off: number): number => {
      if (name !== undefined) rootOf.set(name, places.length);
      places.push({ b, off });
      return places.length - 1;
    };
    const newBlock = (name: string, first: number, ext?: number): boolean => {
      const st = staticType(name);
      if (!st) return false;
      place(name, blocks.length, 0);
      blocks.push({ name, first, last: first, bytes: Math.max(st.bytes, 1), ext });
      return true;
    };
    const read = (x: string, at: number): number | undefined => {
      const p = rootOf.get(x);
      if (p !== undefined) blocks[places[p]!.b]!.last = Math.max(blocks[places[p]!.b]!.last, at);
      return p;
    };
    // an in-place Concat's block, made when its first part is computed
    const catBlocks = new Map<Node, number>();
    const catPlace = (name: string, slot: NonNullable<Step['slot']>, si: number): number => {
      let b = catBlocks.get(slot.concat);
      if (b === undefined) {
        catBlocks.set(slot.concat, (b = blocks.length));
        blocks.push({ name: slot.concat.outputs[0]!, first: si, last: si, bytes: this.concatPlans.get(slot.concat)!.bytes });
      }
      place(name, b, slot.offset);
      return rootOf.get(name)!;
    };
    const steps = (this.steps ??= this.compile());
    // graph inputs whose every reader takes them straight from the feed get no block (an in-place plan keeps blocks)
    const direct = mode === 'own' ? this.directFeeds(steps) : new Map<string, number>();
    const nIn = this.graph.inputs.length;
    for (const [k, i] of this.graph.inputs.entries()) if (!direct.has(i.name) && !newBlock(i.name, -1, mode === 'branch' ? k : undefined)) return this.noStatic(`input '${i.name}' has no static shape (${typeStr(types.get(i.name))})`);
    const work: LayoutWork[] = [];
    for (let si = 0; si < steps.length; si++) {
      const s = steps[si]!;
      const node = s.node;
      const at = `node '${node.name}' (${node.op})`;
      if (s.body) {
        const w = this.layoutIf(s, (x) => read(x, si), (o) => newBlock(o, si));
        if (typeof w === 'string') return this.noStatic(`${at} ${w}`);
        // the branches' own values: one region alive at this step, shared by both branches (one runs)
        blocks.push({ name: `${node.name} branches`, first: si, last: si, bytes: Math.max(1, ...w.arms.map((a) => a.layout.total)) });
        work.push({ ...w, region: place(undefined, blocks.length - 1, 0) });
        continue;
      }
      if (s.elided) continue; // its output is read by no one (a graph output is never elided)
      if (s.concat) {
        // every part was written in place: the output is the whole block
        const b = catBlocks.get(node);
        if (b === undefined) return this.noStatic(`${at}: no part of the in-place Concat was planned`);
        place(node.outputs[0]!, b, 0);
        continue;
      }
      if (s.fused !== undefined) {
        const b = read(s.fused, si);
        if (b === undefined) return this.noStatic(`${at}: its fused input has no block`);
        rootOf.set(node.outputs[0]!, b);
        continue;
      }
      const k = s.kernel;
      if (!k || (!k.alias && !k.bind)) return this.noStatic(`${at} ${k ? `kernel '${k.name}' has no bind` : 'runs on the reference'}`);
      // an input read through a skipped Transpose (readsInstead): the kernel gets the Transpose's input, as in run()
      const names = node.inputs.map((x, j) => s.through?.find((t) => t.i === j)?.x ?? x);
      const ins: (number | undefined)[] = [];
      const fin: (number | undefined)[] = [];
      for (let j = 0; j < node.inputs.length; j++) {
        const x = names[j]!;
        fin.push(direct.get(x));
        if (s.consts[j] !== undefined || x === '' || direct.has(x)) ins.push(undefined);
        else {
          const b = read(x, si);
          if (b === undefined && !this.unread.has(x)) return this.noStatic(`${at}: input '${x}' has no static shape (${typeStr(types.get(x))})`);
          ins.push(b); // undefined for a value no step computes here (the kernel ignores it)
        }
      }
      if (s.residual !== undefined) {
        const b = read(s.residual, si);
        if (b === undefined) return this.noStatic(`${at}: its residual input has no block`);
        ins.push(b);
      }
      if (k.alias) {
        const o = node.outputs[0]!;
        if (node.outputs.length !== 1 || ins[0] === undefined || !staticType(o)) return this.noStatic(`${at}: view '${o}' has no static shape`);
        // a view that is a part of an in-place Concat: its bytes are copied to their place (as the general path does)
        if (s.slot) work.push({ copy: [ins[0], catPlace(o, s.slot, si), s.slot.bytes] });
        else rootOf.set(o, ins[0]);
        continue;
      }
      const outs: (number | undefined)[] = [];
      if (s.slot) {
        // a part of an in-place Concat: written at its offset in the Concat's block (its single output)
        catPlace(node.outputs.find((x) => x !== '')!, s.slot, si);
        for (const x of node.outputs) outs.push(x === '' ? undefined : rootOf.get(x));
      } else
        for (const o of node.outputs) {
          if (o === '') outs.push(undefined);
          else if (!newBlock(o, si)) return this.noStatic(`${at}: output '${o}' has no static shape (${typeStr(types.get(o))})`);
          else outs.push(rootOf.get(o));
        }
      work.push({ s, ins, outs, fin, names });
    }
    const claimed = new Set<number>();
    for (const [k, o] of this.graph.outputs.entries()) {
      const p = rootOf.get(o.name);
      const st = staticType(o.name);
      const c = this.analysis.consts.get(o.name);
      if (mode === 'branch' && st && (c || p !== undefined)) {
        // an If's output: its place is the caller's. The block computing it becomes that place when it holds exactly
        // this value; else (a captured value passed on, a constant, a view of a larger block) its bytes are copied
        const b = p === undefined ? -1 : places[p]!.b;
        if (!c && blocks[b]!.ext === undefined && places[p!]!.off === 0 && blocks[b]!.bytes === Math.max(st.bytes, 1) && !claimed.has(b)) {
          blocks[b]!.ext = nIn + k;
          claimed.add(b);
          continue;
        }
        const to = place(undefined, blocks.length, 0);
        blocks.push({ name: o.name, first: steps.length, last: steps.length, bytes: st.bytes, ext: nIn + k });
        if (c) work.push({ fill: c, to });
        else {
          blocks[b]!.last = Infinity;
          work.push({ copy: [p!, to, st.bytes] });
        }
        continue;
      }
      if (p === undefined || !st) return this.noStatic(`graph output '${o.name}' has no block of a static shape`);
      blocks[places[p]!.b]!.last = Infinity;
    }
    // an in-place plan's inputs are written once and invoked many times (TFLite keeps its inputs too): no value shares them
    if (mode === 'keep') for (let b = 0; b < nIn; b++) blocks[b]!.last = Infinity;
    // blocks at the caller's places take no room here
    const { offsets, total } = planOffsets(blocks.map((b) => (b.ext === undefined ? b : { ...b, bytes: 0 })));
    const at = (base: number, ext: readonly number[]) => (p: number | undefined) => {
      if (p === undefined) return -1;
      const { b, off } = places[p]!;
      const e = blocks[b]!.ext;
      return (e === undefined ? base + offsets[b]! : ext[e]!) + off;
    };
    return { rootOf, work, total, at };
  }

  /**
   * An If step of a static plan (its condition read from kernel memory when it runs): each branch laid out as a
   * plan of its own whose inputs are the places of the captured values and whose outputs land in the places of the
   * If's outputs; or why not (Loop/Scan bodies, a branch that does not plan, outputs whose shapes differ).
   */
  private layoutIf(s: Step, read: (x: string) => number | undefined, newBlock: (o: string) => boolean): Omit<LayoutIf, 'region'> | string {
    const node = s.node;
    if (node.op !== 'If' || node.domain !== '') return `runs a subgraph (only If is planned statically; ${node.op} bodies run as plans of their own)`;
    const { types } = this.analysis;
    const c = this.staticType(node.inputs[0]!);
    if (s.consts[0] !== undefined || c?.t.dtype !== 'bool' || c.size !== 1) return `has a condition that is no one-element bool value of kernel memory (${typeStr(types.get(node.inputs[0]!))})`;
    const cond = read(node.inputs[0]!);
    if (cond === undefined) return `has a condition '${node.inputs[0]}' with no block`;
    const { captured } = splitCaptured(node);
    const arms: LayoutArm[] = [];
    for (const key of ['then_branch', 'else_branch'] as const) {
      const g = s.attrs[key] as Graph;
      if (g.inputs.length) return `${key} takes ${g.inputs.length} formal inputs (an ONNX If branch takes none)`;
      let ex: Executor | undefined;
      try {
        ex = this.bodies.branch(node, g, (i) => types.get(node.inputs[i]!));
      } catch (e) {
        // a branch the general path would build only when it is taken: its error belongs to that run, not to this plan
        if (e instanceof EdgeqError) return `${key}: ${e.message}`;
        throw e;
      }
      if (!ex) return `${key}: a captured value has no static shape`;
      const layout = ex.layoutStatic('branch');
      if (!layout) return `${key}: ${ex.staticMiss}`;
      for (const [k, o] of ex.graph.outputs.entries()) {
        const mine = types.get(node.outputs[k]!);
        const theirs = ex.analysis.types.get(o.name);
        if (!theirs || !mine || theirs.dtype !== mine.dtype || shapeStr(theirs.shape) !== shapeStr(mine.shape) || !this.staticType(node.outputs[k]!))
          return `output '${node.outputs[k]}' is ${typeStr(mine)}, ${key} gives ${typeStr(theirs)} (branches whose shapes differ run on the general path)`;
      }
      const ins: number[] = [];
      for (const i of ex.graph.inputs) {
        const x = node.inputs[captured.get(i.name) ?? -1];
        const p = x === undefined ? undefined : read(x);
        if (p === undefined) return `${key}: captured value '${x ?? i.name}' has no block`;
        ins.push(p);
      }
      arms.push({ ex, layout, ins });
    }
    const outs: number[] = [];
    for (const o of node.outputs) {
      if (o === '' || !newBlock(o)) return `output '${o}' has no static shape (${typeStr(types.get(o))})`;
      outs.push(read(o)!);
    }
    return { s, cond, arms: arms as [LayoutArm, LayoutArm], outs };
  }

  /**
   * The bound calls of a layout whose region starts at `base` and whose caller-given places are `ext` (layoutStatic);
   * scratch the kernels take goes to `held`. Undefined (staticMiss set) when a kernel declines its places.
   */
  private bindLayout(layout: StaticLayout, mem: Arena, base: number, ext: readonly number[], held: number[], fed: (TypedArray | undefined)[]): (() => void)[] | undefined {
    const { types } = this.analysis;
    const at = layout.at(base, ext);
    const calls: (() => void)[] = [];
    for (const w of layout.work) {
      if ('copy' in w) calls.push(copyCall(mem, at(w.copy[0]), at(w.copy[1]), w.copy[2]));
      else if ('fill' in w) calls.push(fillCall(mem, w.fill, at(w.to)));
      else if ('arms' in w) {
        const branch: (() => void)[][] = [];
        for (const a of w.arms) {
          const c = a.ex.bindLayout(a.layout, mem, at(w.region), [...a.ins.map(at), ...w.outs.map(at)], held, []);
          if (!c) return this.noStatic(`node '${w.s.node.name}' (If): ${a.ex.staticMiss}`);
          branch.push(c);
        }
        calls.push(ifCall(mem, at(w.cond), branch[0]!, branch[1]!));
      } else {
        const { s, ins, outs, fin, names } = w;
        const node = s.node;
        const call = s.kernel!.bind!({
          ins: ins.map(at),
          consts: s.consts,
          inTypes: [...names, ...(s.residual !== undefined ? [s.residual] : [])].map((x, j) => (x && (s.consts[j] === undefined || j >= node.inputs.length) ? types.get(x) : s.consts[j] && { dtype: s.consts[j]!.type, shape: [...s.consts[j]!.dims] })),
          outs: outs.map(at),
          outTypes: node.outputs.map((o) => (o ? types.get(o)! : { dtype: 'float32' })),
          scratch: (bytes, what) => {
            const p = mem.alloc(bytes, what);
            held.push(p);
            return p;
          },
          feeds: fin.map((d) => (d === undefined ? undefined : () => fed[d]!)),
        });
        if (!call) return this.noStatic(`node '${node.name}' (${node.op}): kernel '${s.kernel!.name}' declined to bind these places`);
        calls.push(call);
      }
    }
    return calls;
  }

  /**
   * The graph inputs (name → input index) that a static plan can leave in the caller's feed: every step reading one
   * binds and lists that input slot in its kernel's `readsFeed` (no fused, residual or other use), and it is no graph
   * output.
   */
  private directFeeds(steps: readonly Step[]): Map<string, number> {
    const index = new Map(this.graph.inputs.map((i, k) => [i.name, k]));
    const ok = new Map<string, boolean>();
    const use = (x: string | undefined, slot: boolean) => {
      if (x !== undefined && index.has(x)) ok.set(x, (ok.get(x) ?? true) && slot);
    };
    for (const s of steps) {
      if (s.elided) continue;
      use(s.fused, false);
      use(s.residual, false);
      const k = s.kernel;
      s.node.inputs.forEach((x, j) => s.consts[j] === undefined && use(x, !!k?.bind && !!k.readsFeed?.includes(j)));
    }
    for (const o of this.graph.outputs) ok.delete(o.name);
    return new Map([...ok].filter(([, v]) => v).map(([x]) => [x, index.get(x)!]));
  }

  /**
   * A static plan of its own for a caller that runs it in place (Interpreter: inputs written into its blocks, outputs
   * read from them), with blocks apart from the plan run() uses, so neither disturbs the other; its input blocks are
   * never reused within a run, so inputs stay as written. Undefined when the graph has no static plan. Freed by
   * `dispose()` of the plan or of this executor.
   */
  newStaticPlan(): StaticPlan | undefined {
    const plan = this.compileStatic(true);
    if (plan) (this.ownPlans ??= []).push(plan);
    return plan;
  }
  private ownPlans?: StaticPlan[];

  /** The kernel that computes `node`'s output: its own, or `concat-in-place` (a planned Concat its producers wrote). */
  kernelName(node: Node): string {
    return this.kernels.get(node)?.name ?? (this.concatPlans.has(node) ? 'concat-in-place' : 'kernel');
  }

  /** Per-kernel-name totals of one run (the `profile` map) from its per-node times. */
  private addProfile(into: Map<string, number>, prof: NodeTimes): void {
    this.analysis.order.forEach((node, i) => {
      if (prof.ran[i] !== RAN.kernel && prof.ran[i] !== RAN.reference) return;
      const key = prof.ran[i] === RAN.kernel ? this.kernelName(node) : `ref:${node.op}`;
      into.set(key, (into.get(key) ?? 0) + prof.ms[i]!);
    });
  }

  /**
   * The plan as a flat list, built once after planning: per node that runs (not folded at load), its op, attributes,
   * kernel, constant inputs, fusion/Concat/bypass links and the values it is the last reader of — so a run does no
   * per-node map lookups of the plan and allocates only the input list and the outputs.
   */
  private compile(): Step[] {
    const { order, defs, attrs, consts } = this.analysis;
    const fed = new Set(this.graph.inputs.map((i) => i.name));
    const steps: Step[] = [];
    order.forEach((node, at) => {
      if (this.foldedAt[at]) return;
      steps.push({
        at,
        node,
        def: defs.get(node)!,
        attrs: attrs.get(node)!,
        kernel: this.kernels.get(node),
        // constants bound now (a graph input with an initializer default is fed, not constant)
        consts: node.inputs.map((x) => (x && !fed.has(x) ? consts.get(x) : undefined)),
        fused: this.fusedInto.get(node),
        residual: this.residualOf.get(node),
        elided: this.elided.has(node),
        slot: this.concatSlots.get(node),
        concat: this.concatPlans.get(node),
        through: this.bypass.get(node),
        drop: this.dropAt[at]!,
        body: Object.values(node.attrs).some((v) => v instanceof Graph),
      });
    });
    return steps;
  }

  private step(values: Map<string, Value>, keep: Set<string>, res: Residency | undefined, blocks: Map<Node, number>, prof?: NodeTimes): void {
    const drop = (x: string) => {
      res?.drop(x);
      values.delete(x);
    };
    if (prof) prof.ran.fill(RAN.skipped);
    /** values computed without the epilogue their consumers were folded into (kernel declined), and their Concat slot */
    const raw = this.fusedInto.size ? new Map<string, number | undefined>() : undefined;
    const steps = (this.steps ??= this.compile());
    for (let si = 0; si < steps.length; si++) {
      const s = steps[si]!;
      const node = s.node;
      if (s.elided && !keep.has(node.outputs[0]!)) continue; // no consumer reads it (planElisions)
      const t0 = prof ? performance.now() : 0;
      // a profiled control-flow node: its bodies add the time their nodes spent on the reference here
      const outerSink = bodySink;
      const sink = prof && s.body ? (bodySink = { reference: 0 }) : undefined;
      const fused = s.fused;
      // a producer that fell back to the reference this run did not apply the activations folded into its kernel:
      // they run as themselves (their output goes where the raw value went, e.g. into a Concat's block)
      const rerun = fused !== undefined && raw!.has(fused);
      if (fused !== undefined && !rerun) {
        const v = values.get(fused)!;
        const out = node.outputs[0]!;
        values.set(out, res && v instanceof Tensor ? (res.isSlice(fused) ? res.slice(out, v) : res.adopt(out, v, false)) : v);
        if (!keep.has(fused)) drop(fused);
        // a folded residual Add: its other input dies here as at the Add
        for (const x of s.drop) if (x !== fused && !keep.has(x)) drop(x);
        if (prof) {
          prof.ran[s.at] = RAN.fused;
          prof.ms[s.at] = performance.now() - t0;
        }
        continue;
      }
      // in-place Concat: this node's output goes to `dst` inside the Concat's block (allocated by its first part)
      const slot = res ? s.slot : undefined;
      let dst: number | undefined = rerun ? raw!.get(fused!) : undefined;
      if (slot) {
        let blk = blocks.get(slot.concat);
        if (blk === undefined) {
          blocks.set(slot.concat, (blk = res!.mem.alloc(this.concatPlans.get(slot.concat)!.bytes, 'concat output')));
          // the allocation may have grown (and, unshared, detached) the memory: the values read below are views of it
          res!.rebind(values as Map<string, unknown>);
        }
        dst = blk + slot.offset;
      }
      const def = s.def;
      const names = node.inputs;
      const inputs: (Value | undefined)[] = new Array(names.length);
      for (let j = 0; j < names.length; j++) {
        const x = names[j]!;
        const c = s.consts[j];
        if (c !== undefined || x === '') {
          inputs[j] = c;
          continue;
        }
        const v = values.get(x);
        if (v === undefined && !this.unread.has(x)) throw new ShapeError(`node '${node.name}': input '${x}' has no value`);
        inputs[j] = v; // undefined when unread: skipped, this node's kernel ignores it
      }
      // an input read through a skipped Transpose: the kernel gets the Transpose's input, the shape rule its dims permuted
      const through = s.through;
      let kin = inputs;
      let tin = inputs;
      if (through) {
        kin = [...inputs];
        tin = [...inputs];
        for (const { i, x, perm } of through) {
          const v = (values.get(x) ?? this.analysis.consts.get(x)) as Tensor;
          const p = perm ?? v.dims.map((_, j) => v.dims.length - 1 - j);
          kin[i] = v;
          tin[i] = new Tensor(v.type, v.data, p.map((j) => v.dims[j]!));
        }
      }
      const outTypes = this.inferRun(s, tin);
      let outs: Value[];
      let fromKernel = false;
      const plan = res && s.concat;
      const blk = plan && blocks.get(node);
      try {
        // runInfer rejects sequence inputs for ops without runValues, so `inputs` are tensors here
        const tensors = kin as (Tensor | undefined)[];
        const kernel = s.kernel;
        // an op that also takes sequences (runValues: Identity) runs its kernel when it has one (tensor types at plan)
        // a kernel with a folded residual Add gets that value after the node's own inputs
        const kargs = s.residual !== undefined ? [...tensors, values.get(s.residual) as Tensor] : tensors;
        let kernelOuts = def.runValues && !kernel ? undefined : kernel?.run(kargs, outTypes, kernel.writesInto ? dst : undefined);
        if (blk !== undefined) {
          // every part is already in place: the output is the block
          blocks.delete(node);
          kernelOuts = [new Tensor('float32', res!.mem.f32(blk, plan!.bytes / 4), plan!.shape)];
        }
        fromKernel = kernelOuts !== undefined;
        if (kernel && !fromKernel) this.fallbacks.set(node, `kernel ${kernel.name} declined this run (inputs ${tensors.map((t) => (t ? `${t.type}[${t.dims.join(',')}]` : '-')).join(', ')})`);
        if (fromKernel) res?.rebind(values as Map<string, unknown>);
        outs = kernelOuts ?? (def.runValues ? def.runValues({ node, attrs: s.attrs, inputs, outputTypes: outTypes, bodies: this.bodies.runner(node, inputs, (v) => (res ? (res.detach(v) as Value) : v)) }) : def.reference({ node, attrs: s.attrs, inputs: tensors, outputTypes: outTypes }));
        if (def.runValues && res) {
          res.rebind(values as Map<string, unknown>); // a body's kernels may have grown the memory
          // a sequence must not hold views of kernel memory: their blocks are freed when the viewed value dies
          outs = outs.map((v) => (v instanceof TensorSequence && v.tensors.some((t) => res.detach(t) !== t) ? new TensorSequence(v.elemType, v.tensors.map((t) => res.detach(t) as Tensor)) : v));
        }
        if (dst !== undefined) outs = [res!.place(outs[0] as Tensor, dst, fromKernel)];
        if (raw && (rerun || (kernel && !fromKernel && !def.runValues))) for (const o of node.outputs) if (o) raw.set(o, dst);
      } catch (e) {
        if (sink) bodySink = outerSink;
        if (e instanceof EdgeqError) {
          if (!e.message.includes(`'${node.name}'`)) e.message = `node '${node.name}' (${node.op}): ${e.message}`;
          throw e;
        }
        throw new EdgeqError(`node '${node.name}' (${node.op}) failed: ${(e as Error).message}`);
      }
      const outNames = node.outputs;
      for (let k = 0; k < outNames.length; k++) {
        const o = outNames[k]!;
        if (o === '') continue;
        const t = outs[k];
        if (!t) throw new ShapeError(`node '${node.name}' (${node.op}) produced no output ${k}`);
        const want = outTypes[k];
        if (!!want?.sequence !== t instanceof TensorSequence) throw new ShapeError(`node '${node.name}' (${node.op}): output '${o}' is ${t instanceof TensorSequence ? 'a sequence' : 'a tensor'}, the shape rule says otherwise`);
        if (t instanceof Tensor && want?.shape && wrongDims(want.shape, t.dims))
          throw new ShapeError(`node '${node.name}' (${node.op}): output '${o}' has shape [${t.dims.join(',')}] but the shape rule says ${shapeStr(want.shape)}`);
        values.set(o, res && t instanceof Tensor ? (dst !== undefined ? res.slice(o, t) : res.adopt(o, t, fromKernel)) : t);
      }
      const dead = s.drop;
      for (let k = 0; k < dead.length; k++) if (!keep.has(dead[k]!)) drop(dead[k]!);
      if (prof) {
        prof.ran[s.at] = fromKernel ? RAN.kernel : sink ? RAN.control : RAN.reference;
        prof.ms[s.at] = performance.now() - t0;
        if (sink) {
          prof.body[s.at] = sink.reference;
          bodySink = outerSink;
        }
      }
    }
  }
}

/** While a profiled control-flow node runs its bodies: where their plans add the ms their nodes spent on the reference. */
let bodySink: { reference: number } | undefined;

/** One node of the compiled plan (Executor.compile). */
interface Step {
  /** index in analysis.order (profile arrays) */
  at: number;
  node: Node;
  def: OpDef;
  attrs: Attrs;
  kernel: PreparedKernel | undefined;
  /** per input: its constant value, bound at plan time (undefined: read from the run's values) */
  consts: (Tensor | undefined)[];
  /** the producer output this fused activation forwards */
  fused: string | undefined;
  /** the residual value this node's kernel adds (an Add folded into it, fuseResidual) */
  residual: string | undefined;
  elided: boolean;
  slot: { concat: Node; offset: number; bytes: number } | undefined;
  concat: ConcatPlan | undefined;
  through: { i: number; x: string; perm: number[] | undefined }[] | undefined;
  /** values this node reads last */
  drop: string[];
  /** a control-flow node (graph attributes: bodies run as plans of their own) */
  body: boolean;
  /** the last run's output types, keyed by its input types (see inferRun) */
  shapes?: { sig: InputSig[]; out: ValueType[] };
}

/** A block of a static plan's layout; `ext`: at a place the caller gives (an If branch's inputs and outputs), not planned here. */
type LayoutBlock = Lifetime & { name: string; ext?: number };

/** A branch of a planned If: its executor, its layout, and the places (in the If's layout) of its graph inputs. */
interface LayoutArm {
  ex: Executor;
  layout: StaticLayout;
  ins: number[];
}

/** A planned If: the place of its condition, then/else, its outputs' places and the region its branches' values share. */
interface LayoutIf {
  s: Step;
  cond: number;
  arms: [LayoutArm, LayoutArm];
  outs: number[];
  region: number;
}

/** What a static plan runs, in order: a kernel's bound call (places by index), a copy, a constant written, an If. */
type LayoutWork =
  | { s: Step; ins: (number | undefined)[]; outs: (number | undefined)[]; fin: (number | undefined)[]; names: string[] }
  | { copy: [from: number, to: number, bytes: number] }
  | { fill: Tensor; to: number }
  | LayoutIf;

/** A static plan before memory is taken (Executor.layoutStatic). */
interface StaticLayout {
  /** value name → its place */
  rootOf: Map<string, number>;
  work: LayoutWork[];
  /** bytes of its own blocks (the caller-given places excluded) */
  total: number;
  /** place → byte offset in kernel memory, for its blocks from `base` and the caller-given places `ext` (-1: none) */
  at(base: number, ext: readonly number[]): (p: number | undefined) => number;
}

/**
 * A static plan's If (ONNX If: "then_branch: Graph to run if condition is true"): reads the one-byte bool at `cond`
 * as the plan runs and makes the bound calls of that branch.
 */
function ifCall(mem: Arena, cond: number, then: readonly (() => void)[], other: readonly (() => void)[]): () => void {
  let buf: ArrayBufferLike | undefined;
  let u8 = new Uint8Array(0);
  return () => {
    // the memory may have grown since the last run (a new buffer)
    if (mem.buffer !== buf) u8 = new Uint8Array((buf = mem.buffer));
    const calls = u8[cond] ? then : other;
    for (let i = 0; i < calls.length; i++) calls[i]!();
  };
}

/** A static plan's call writing constant `c`'s bytes at `to` (an If branch whose output is a constant). */
function fillCall(mem: Arena, c: Tensor, to: number): () => void {
  const d = c.data as TypedArray;
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  let buf: ArrayBufferLike | undefined;
  let u8 = new Uint8Array(0);
  return () => {
    if (mem.buffer !== buf) u8 = new Uint8Array((buf = mem.buffer));
    u8.set(bytes, to);
  };
}

/** A static plan's call copying `bytes` within kernel memory (a view's bytes to their place in a Concat's block). */
function copyCall(mem: Arena, from: number, to: number, bytes: number): () => void {
  let buf: ArrayBufferLike | undefined;
  let u8 = new Uint8Array(0);
  return () => {
    // the memory may have grown since the last run (a new buffer)
    if (mem.buffer !== buf) u8 = new Uint8Array((buf = mem.buffer));
    u8.copyWithin(to, from, from + bytes);
  };
}

/** True if `want` is fully static and differs from `got` (a shape with a symbolic dim is not checked). */
function wrongDims(want: readonly Dim[], got: readonly number[]): boolean {
  let bad = want.length !== got.length;
  for (let i = 0; i < want.length; i++) {
    const d = want[i];
    if (typeof d !== 'number') return false;
    if (d !== got[i]) bad = true;
  }
  return bad;
}

/**
 * How a node ran in the last profiled run (NodeTimes.ran). `control`: a control-flow node (If/Loop/Scan) whose
 * bodies ran as plans of their own; NodeTimes.body holds the part of its time their nodes spent on the reference.
 */
export const RAN = { skipped: 0, kernel: 1, reference: 2, fused: 3, control: 4 } as const;

/** Per node of `analysis.order`: wall ms of the last run, how it ran (a RAN value), body reference ms (RAN.control). */
export interface NodeTimes {
  ms: Float64Array;
  ran: Uint8Array;
  body: Float64Array;
}

export function newNodeTimes(n: number): NodeTimes {
  return { ms: new Float64Array(n), ran: new Uint8Array(n), body: new Float64Array(n) };
}

/**
 * A cached shape-rule answer's input: dtype and dims of a tensor (no sequence), or absent; `frozen`: the tensor's
 * dims array when it was frozen (a kernel output's shape from a cached answer), so the same array again means the same
 * dims without comparing them; `quant`: its QuantParams object, matched by identity (equal objects that are not the
 * same one only miss the cache).
 */
type InputSig = { type: string; dims: number[]; frozen: readonly number[] | undefined; quant: QuantParams | undefined } | undefined;

function sameSig(sig: InputSig[], inputs: (Value | undefined)[]): boolean {
  if (sig.length !== inputs.length) return false;
  for (let i = 0; i < sig.length; i++) {
    const s = sig[i];
    const t = inputs[i];
    if (!s || !t) {
      if (s || t) return false;
      continue;
    }
    if (!(t instanceof Tensor) || t.quant !== s.quant || t.type !== s.type) return false;
    if (t.dims === s.frozen) continue;
    if (t.dims.length !== s.dims.length) return false;
    for (let k = 0; k < s.dims.length; k++) if (t.dims[k] !== s.dims[k]) return false;
  }
  return true;
}

function looksLikeTensor(t: unknown): t is Tensor {
  return !!t && typeof t === 'object' && 'type' in t && 'data' in t && 'dims' in t;
}

/** Run-time type of a sequence value: element type plus the shape all elements share. */
function seqType(s: TensorSequence): ValueType {
  const shape = s.commonShape();
  return { dtype: s.elemType, sequence: true, ...(shape ? { shape } : {}) };
}

/** Accept onnxruntime-web Tensors (same shape of object) by rewrapping them. */
function toValue(t: Value): Value {
  if (t instanceof Tensor || t instanceof TensorSequence) return t;
  const o = t as { type: Tensor['type']; data: never; dims: number[] };
  return new Tensor(o.type, o.data, o.dims);
}
