import { ModelFormatError, UnsupportedOpError } from '../../errors.js';
import type { AttrValue, Graph } from '../../ir/graph.js';
import { TFL_DOMAIN } from '../../ir/layout.js';
import type { DType } from '../../tensor/dtype.js';
import { DTYPE_ONNX } from '../../tensor/onnx-dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Table } from './flatbuf.js';
import type { TflModel, TflOperator, TflTensor } from './model.js';

/**
 * TFLite elementwise / shape builtins that converters (TF converter, onnx-tf) emit, each imported as the IR op
 * (ONNX semantics, existing reference and kernels) that computes what the TFLite kernel computes; where a
 * TFLite rule differs from the ONNX op, the mapping spells it out (negative axes, SLICE size -1, BATCH_MATMUL
 * adj_x/adj_y, SELECT's row condition, …) or refuses the form with a typed error.
 *
 * Math ops: the float / integer form maps onto IR ops; the int8 form of ABS, ELU, GELU, SQUARED_DIFFERENCE,
 * BATCH_MATMUL, SUM, L2_NORMALIZATION and PRELU onto the ai.edgeq.tflite definitions of src/ops/tflite-qmath.ts
 * (TFLite's integer kernels rescale, which no IR op does); the other math ops refuse quantized tensors. Pure data
 * movement / order ops (shape ops, MAXIMUM, comparisons, REDUCE_MAX/MIN) accept quantized tensors when all of them
 * share one scale and zero point, where the raw values carry the same order and positions.
 */

/** What the reader's Builder offers the mappings (src/formats/tflite/reader.ts). */
export interface Emitter {
  readonly g: Graph;
  readonly m: TflModel;
  readonly names: string[];
  dtype(t: TflTensor): DType;
  where(op: TflOperator): string;
  opts(op: TflOperator, table: string): Table<any> | undefined;
  act(op: TflOperator, o: Table<any> | undefined): string;
  emit(op: TflOperator, type: string, domain: string, inputs: string[], attrs: Record<string, AttrValue>, act?: string): void;
  node(op: string, domain: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue>, name: string): void;
  fresh(base: string): string;
  addConst(base: string, t: Tensor): string;
  i64(base: string, v: number[]): string;
  constOf(op: TflOperator, k: number, what: string): Tensor;
  sameQuant(op: TflOperator, tensors: number[]): void;
  qattrs(op: TflOperator): Record<string, AttrValue>;
}

type Mapper = (c: Ctx) => void;

/** One operator being mapped: its tensors, names and the checks every mapping uses. */
class Ctx {
  readonly nm: string;
  constructor(
    readonly b: Emitter,
    readonly op: TflOperator,
    readonly ins: string[],
  ) {
    this.nm = `${op.opName}_${op.index}`;
  }

  t(k: number): TflTensor {
    return this.b.m.tensors[this.op.inputs[k]!]!;
  }
  out(k = 0): TflTensor {
    return this.b.m.tensors[this.op.outputs[k]!]!;
  }
  rank(k: number): number {
    return this.t(k).shape.length;
  }
  get outName(): string {
    return this.b.names[this.op.outputs[0]!]!;
  }

  /** Input / output counts (untrusted file); omitted (-1) inputs are not accepted by these ops. */
  count(lo: number, hi = lo, outs = 1): void {
    const { op } = this;
    if (op.inputs.length < lo || op.inputs.length > hi) throw new ModelFormatError(`${this.b.where(op)}: expected ${lo}${hi !== lo ? '..' + hi : ''} inputs, got ${op.inputs.length}`);
    if (outs >= 0 && op.outputs.length !== outs) throw new ModelFormatError(`${this.b.where(op)}: expected ${outs} output(s), got ${op.outputs.length}`);
    if (op.inputs.some((i) => i < 0)) throw new ModelFormatError(`${this.b.where(op)}: omitted (-1) inputs are not allowed`);
  }

  /** Math ops: no quantized tensor (TFLite's integer kernels rescale, which these IR ops do not). */
  float(): void {
    const q = [...this.op.inputs, ...this.op.outputs].some((i) => i >= 0 && this.b.m.tensors[i]!.scale);
    if (q) throw new UnsupportedOpError(this.op.opName, `TFLite builtin code ${this.op.opcode}, ${this.b.where(this.op)}`, 'only the float / integer (not quantized) form is supported');
  }

  /**
   * Math ops with an int8 form (src/ops/tflite-qmath.ts): true when the op is quantized, after checking what TFLite's
   * int8 kernels require of every tensor — int8 with one scale and zero point per tensor (a per-channel tensor is
   * refused; the parser, model.ts, has checked each scale is finite and positive and each zero point in range); false
   * for the float / integer form. `consts` are the inputs that are not activations (axes, …) and are not checked.
   */
  int8(consts: number[] = []): boolean {
    const { op } = this;
    const ts = [...op.inputs.filter((_, k) => !consts.includes(k)), ...op.outputs];
    if (!ts.some((i) => this.b.m.tensors[i]!.scale)) return false;
    for (const i of ts) {
      const t = this.b.m.tensors[i]!;
      const dt = this.b.dtype(t);
      if (dt !== 'int8') this.unsupported(`the quantized form is supported for int8 tensors only, tensor ${i} is ${dt}`);
      if (!t.scale?.length || !t.zeroPoint?.length) this.fail(`int8 tensor ${i} has no quantization parameters`);
      if (t.scale.length !== 1 || t.zeroPoint.length !== 1) this.unsupported(`tensor ${i} is quantized per channel (${t.scale.length} scales); TFLite's int8 kernel takes one scale per tensor`);
    }
    return true;
  }

  /** The op's int8 form (src/ops/tflite-qmath.ts), quantization parameters as attributes. */
  tfl(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}): void {
    this.b.emit(this.op, type, TFL_DOMAIN, inputs, { ...attrs, ...this.b.qattrs(this.op) });
  }

  /** Order / data-movement ops: quantized tensors pass when they all share one scale and zero point. */
  same(ks: number[] = this.op.inputs.map((_, i) => i), outs = true): void {
    this.b.sameQuant(this.op, [...ks.map((k) => this.op.inputs[k]!), ...(outs ? this.op.outputs : [])]);
  }

  fail(msg: string): never {
    throw new ModelFormatError(`${this.b.where(this.op)}: ${msg}`);
  }
  unsupported(msg: string): never {
    throw new UnsupportedOpError(this.op.opName, `TFLite builtin code ${this.op.opcode}, ${this.b.where(this.op)}`, msg);
  }

  /** Integer values of constant input k. */
  ints(k: number, what: string): number[] {
    const v = this.b.constOf(this.op, k, what);
    if (v.type !== 'int32' && v.type !== 'int64') this.fail(`${what} must be int32 or int64, got ${v.type}`);
    return v.toNumbers();
  }

  /** An axis in [-r, r) (TFLite: "axis < 0 → axis + rank"), normalised. */
  axis(a: number, r: number, what = 'axis'): number {
    if (!Number.isInteger(a) || a < -r || a >= r) this.fail(`${what} ${a} out of range for rank ${r}`);
    return a < 0 ? a + r : a;
  }

  /** One scalar (or one-element) constant axis input. */
  constAxis(k: number, r: number): number {
    const v = this.ints(k, 'axis');
    if (v.length !== 1) this.fail(`axis must hold one value, got ${v.length}`);
    return this.axis(v[0]!, r);
  }

  /** Input k as int64 for ONNX shape-like inputs: a converted constant, else a Cast node. */
  int64(k: number, what: string): string {
    const i = this.op.inputs[k]!;
    const c = this.b.g.initializers.get(this.b.names[i]!);
    if (c) {
      if (c.type !== 'int32' && c.type !== 'int64') this.fail(`${what} must be int32 or int64, got ${c.type}`);
      return c.type === 'int64' ? this.ins[k]! : this.b.addConst(`${this.nm}_${what}`, new Tensor('int64', BigInt64Array.from(c.toNumbers(), BigInt), [...c.dims]));
    }
    const dt = this.b.dtype(this.t(k));
    if (dt === 'int64') return this.ins[k]!;
    if (dt !== 'int32') this.fail(`${what} must be int32 or int64, got ${dt}`);
    return this.tmp('Cast', [this.ins[k]!], { to: DTYPE_ONNX.int64 }, what);
  }

  /** An intermediate node with one fresh output. */
  tmp(type: string, inputs: string[], attrs: Record<string, AttrValue>, tag: string): string {
    const o = this.b.fresh(`${this.nm}_${tag}`);
    this.b.node(type, '', inputs, [o], attrs, `${this.nm}_${tag}`);
    return o;
  }

  emit(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, act = 'NONE'): void {
    this.b.emit(this.op, type, '', inputs, attrs, act);
  }

  /** Emit `type` producing an int64 value, Cast to the output tensor's type when that is not int64. */
  emitIndex(type: string, inputs: string[], attrs: Record<string, AttrValue>): void {
    const dt = this.b.dtype(this.out());
    if (dt === 'int64') return this.emit(type, inputs, attrs);
    if (dt !== 'int32') this.fail(`output type ${dt} is not int32 / int64`);
    this.emit('Cast', [this.tmp(type, inputs, attrs, 'i64')], { to: DTYPE_ONNX.int32 });
  }

  scalar(dtype: DType, v: number, tag: string): string {
    const t = Tensor.zeros(dtype, []);
    if (v !== 0) (t.data as Float32Array)[0] = v;
    return this.b.addConst(`${this.nm}_${tag}`, t);
  }
}

const unary = (onnx: string, attrs: Record<string, AttrValue> = {}): Mapper => (c) => {
  c.count(1);
  c.float();
  c.emit(onnx, c.ins, attrs);
};
/** Unary math with an int8 form: a per-code table op of src/ops/tflite-qmath.ts (TFLite builds the same table). */
const unaryQ = (onnx: string, attrs: Record<string, AttrValue> = {}): Mapper => (c) => {
  c.count(1);
  if (c.int8()) return c.tfl(c.op.opName, c.ins);
  c.emit(onnx, c.ins, attrs);
};
/** Binary float/integer math with broadcasting (ONNX multidirectional broadcasting = TFLite's BroadcastBinary). */
const binary = (onnx: string, attrs: Record<string, AttrValue> = {}): Mapper => (c) => {
  c.count(2);
  c.float();
  c.emit(onnx, c.ins, attrs);
};
/** Comparisons: raw values compare like real values when both inputs share scale and zero point. */
const compare = (onnx: string, negate = false): Mapper => (c) => {
  c.count(2);
  c.same([0, 1], false);
  if (!negate) return c.emit(onnx, c.ins);
  c.emit('Not', [c.tmp(onnx, c.ins, {}, 'eq')]);
};

/** Reducers (ReducerOptions keep_dims; TFLite reduces a repeated axis once and an empty axis list is the identity). */
const reducer = (onnx: string, order: boolean, int8 = false): Mapper => (c) => {
  c.count(2);
  const o = c.b.opts(c.op, 'ReducerOptions');
  const keepdims = o?.bool('keep_dims') ? 1 : 0;
  if (int8 && c.int8([1])) {
    // axes: the op's shape rule checks them (a constant, in range)
    return c.tfl(c.op.opName, c.ins, { keep_dims: keepdims });
  }
  if (order) c.same([0]);
  else c.float();
  const ax = c.b.g.initializers.get(c.ins[1]!);
  if (!ax) return c.emit(onnx, [c.ins[0]!, c.int64(1, 'axes')], { keepdims, noop_with_empty_axes: 1 });
  const r = c.rank(0);
  const axes: number[] = [];
  for (const v of c.ints(1, 'axes')) {
    const a = c.axis(v, r);
    if (!axes.includes(a)) axes.push(a);
  }
  if (!axes.length) return c.emit('Identity', [c.ins[0]!]);
  c.emit(onnx, [c.ins[0]!, c.b.i64(`${c.nm}_axes`, axes)], { keepdims });
};

const argReduce = (onnx: string, table: string): Mapper => (c) => {
  c.count(2);
  c.b.opts(c.op, table); // output_type: the output tensor's type says the same and is what TFLite writes
  c.emitIndex(onnx, [c.ins[0]!], { axis: c.constAxis(1, c.rank(0)), keepdims: 0 });
};

/** (x - y)² , x·x and 1/√x as the kernels compute them in float: one rounding per step, as here. */
const MAPPERS: Record<string, Mapper> = {
  // elementwise.cc: int8 |x − zp| requantized
  ABS: unaryQ('Abs'),
  NEG: unary('Neg'),
  SQRT: unary('Sqrt'),
  EXP: unary('Exp'),
  LOG: unary('Log'),
  SIN: unary('Sin'),
  COS: unary('Cos'),
  FLOOR: unary('Floor'),
  CEIL: unary('Ceil'),
  // round.cc: RoundToNearest rounds half to even, as ONNX Round
  ROUND: unary('Round'),
  // elu.cc: x < 0 ? expm1(x) : x (alpha 1)
  ELU: unaryQ('Elu', { alpha: 1 }),
  // log_softmax.cc over the last axis
  LOG_SOFTMAX: unary('LogSoftmax', { axis: -1 }),
  LOGICAL_NOT: unary('Not'),
  // rsqrt.cc (float): 1.f / std::sqrt(x) — as Div(1, ·), which has a WASM kernel (Reciprocal has none)
  RSQRT: (c) => {
    c.count(1);
    c.float();
    if (c.b.dtype(c.t(0)) !== 'float32') c.unsupported(`only float32 is supported, got ${c.b.dtype(c.t(0))}`);
    c.emit('Div', [c.scalar('float32', 1, 'one'), c.tmp('Sqrt', c.ins, {}, 'sqrt')]);
  },
  // square.cc: x * x
  SQUARE: (c) => {
    c.count(1);
    c.float();
    c.emit('Mul', [c.ins[0]!, c.ins[0]!]);
  },
  // gelu.cc: approximate ? tanh form : 0.5·x·(1 + erf(x/√2))
  GELU: (c) => {
    c.count(1);
    const o = c.b.opts(c.op, 'GeluOptions');
    if (c.int8()) return c.tfl('GELU', c.ins, { approximate: o?.bool('approximate') ? 1 : 0 });
    c.emit('Gelu', c.ins, { approximate: o?.bool('approximate') ? 'tanh' : 'none' });
  },
  MAXIMUM: (c) => {
    c.count(2);
    c.same();
    c.emit('Max', c.ins);
  },
  MINIMUM: (c) => {
    c.count(2);
    c.same();
    c.emit('Min', c.ins);
  },
  // div.cc: x / y (int32: C++ truncating division) with a fused activation
  DIV: (c) => {
    c.count(2);
    c.float();
    c.emit('Div', c.ins, {}, c.b.act(c.op, c.b.opts(c.op, 'DivOptions')));
  },
  POW: binary('Pow'),
  LOGICAL_AND: binary('And'),
  LOGICAL_OR: binary('Or'),
  // squared_difference.cc: (x - y) * (x - y)
  SQUARED_DIFFERENCE: (c) => {
    c.count(2);
    if (c.int8()) return c.tfl('SQUARED_DIFFERENCE', c.ins);
    const d = c.tmp('Sub', c.ins, {}, 'diff');
    c.emit('Mul', [d, d]);
  },
  // floor_div.cc: std::floor(x / y) — float: Floor(Div); integers: the truncating Div minus 1 where the
  // truncated and the floored remainder differ (signs of a non-zero remainder and y differ), no overflow
  FLOOR_DIV: (c) => {
    c.count(2);
    c.float();
    const dt = c.b.dtype(c.t(0));
    if (dt === 'float32') return c.emit('Floor', [c.tmp('Div', c.ins, {}, 'div')]);
    if (dt !== 'int32' && dt !== 'int64') c.unsupported(`only float32 / int32 / int64 are supported, got ${dt}`);
    const q = c.tmp('Div', c.ins, {}, 'div');
    const same = c.tmp('Equal', [c.tmp('Mod', c.ins, { fmod: 1 }, 'tmod'), c.tmp('Mod', c.ins, { fmod: 0 }, 'fmod')], {}, 'same');
    c.emit('Sub', [q, c.tmp('Cast', [c.tmp('Not', [same], {}, 'adj')], { to: DTYPE_ONNX[dt] }, 'one')]);
  },
  // floor_mod.cc: r = x % y (std::fmod for floats); (r != 0 && (y < 0) != (r < 0)) ? r + y : r — ONNX Mod(fmod = 0)
  // on integers; on floats Mod(fmod = 1) and that adjustment
  FLOOR_MOD: (c) => {
    c.count(2);
    c.float();
    const dt = c.b.dtype(c.t(0));
    if (dt === 'int32' || dt === 'int64') return c.emit('Mod', c.ins, { fmod: 0 });
    if (dt !== 'float32') c.unsupported(`only float32 / int32 / int64 are supported, got ${dt}`);
    const r = c.tmp('Mod', c.ins, { fmod: 1 }, 'tmod');
    const zero = c.scalar('float32', 0, 'zero');
    const signs = c.tmp('Xor', [c.tmp('Less', [c.ins[1]!, zero], {}, 'yneg'), c.tmp('Less', [r, zero], {}, 'rneg')], {}, 'signs');
    const fix = c.tmp('And', [c.tmp('Not', [c.tmp('Equal', [r, zero], {}, 'rzero')], {}, 'rnz'), signs], {}, 'fix');
    c.emit('Where', [fix, c.tmp('Add', [r, c.ins[1]!], {}, 'radd'), r]);
  },
  EQUAL: compare('Equal'),
  NOT_EQUAL: compare('Equal', true),
  LESS: compare('Less'),
  LESS_EQUAL: compare('LessOrEqual'),
  GREATER: compare('Greater'),
  GREATER_EQUAL: compare('GreaterOrEqual'),
  // reduce.cc EvalSum int8: src/ops/tflite-qmath.ts
  SUM: reducer('ReduceSum', false, true),
  REDUCE_PROD: reducer('ReduceProd', false),
  REDUCE_MAX: reducer('ReduceMax', true),
  REDUCE_MIN: reducer('ReduceMin', true),
  ARG_MAX: argReduce('ArgMax', 'ArgMaxOptions'),
  ARG_MIN: argReduce('ArgMin', 'ArgMinOptions'),
  // expand_dims.cc: "axis < 0 → axis + rank + 1", 0 ≤ axis ≤ rank
  EXPAND_DIMS: (c) => {
    c.count(2);
    c.same([0]);
    const v = c.ints(1, 'axis');
    if (v.length !== 1) c.fail(`axis must hold one value, got ${v.length}`);
    const r = c.rank(0);
    c.emit('Unsqueeze', [c.ins[0]!, c.b.i64(`${c.nm}_axes`, [c.axis(v[0]!, r + 1)])]);
  },
  // gather.cc: output = params[..., indices, ...] along axis (axis < 0 → + rank); batch_dims > 0 has no ONNX Gather form
  GATHER: (c) => {
    c.count(2);
    c.same([0]);
    const o = c.b.opts(c.op, 'GatherOptions');
    const bd = o?.int('batch_dims', 'i32') ?? 0;
    if (bd !== 0) c.unsupported(`batch_dims ${bd} is not supported (only 0)`);
    c.emit('Gather', c.ins, { axis: c.axis(o?.int('axis', 'i32') ?? 0, c.rank(0)) });
  },
  // slice.cc: begin[i] ≥ 0, size[i] = -1 means "to the end of dimension i"
  SLICE: (c) => {
    c.count(3);
    c.same([0]);
    const begin = c.ints(1, 'begin'), size = c.ints(2, 'size');
    const r = c.rank(0);
    if (begin.length !== r || size.length !== r) c.fail(`begin/size have ${begin.length}/${size.length} values for rank ${r}`);
    const ends = size.map((s, i) => {
      if (begin[i]! < 0 || s < -1) c.fail(`begin ${begin[i]} / size ${s} on axis ${i} are invalid`);
      return s === -1 ? 2 ** 31 - 1 : begin[i]! + s;
    });
    c.emit('Slice', [c.ins[0]!, c.b.i64(`${c.nm}_starts`, begin), c.b.i64(`${c.nm}_ends`, ends), c.b.i64(`${c.nm}_axes`, [...begin.keys()])]);
  },
  // pack.cc: stack values_count equally shaped inputs along a new axis (axis < 0 → + rank + 1)
  PACK: (c) => {
    c.count(1, Infinity);
    c.same();
    const o = c.b.opts(c.op, 'PackOptions');
    const n = o?.int('values_count', 'i32') ?? 0;
    if (n !== c.op.inputs.length) c.fail(`values_count ${n} ≠ ${c.op.inputs.length} inputs`);
    const axis = c.axis(o?.int('axis', 'i32') ?? 0, c.rank(0) + 1);
    const ax = c.b.i64(`${c.nm}_axis`, [axis]);
    if (n === 1) return c.emit('Unsqueeze', [c.ins[0]!, ax]);
    c.emit('Concat', c.ins.map((x, k) => c.tmp('Unsqueeze', [x, ax], {}, `u${k}`)), { axis });
  },
  // unpack.cc: num outputs, each input slice along axis with that axis removed
  UNPACK: (c) => {
    c.count(1, 1, -1);
    c.same();
    const o = c.b.opts(c.op, 'UnpackOptions');
    const r = c.rank(0);
    const axis = c.axis(o?.int('axis', 'i32') ?? 0, r);
    const n = o?.int('num', 'i32') ?? 0;
    const d = c.t(0).shape[axis]!;
    if (n !== c.op.outputs.length || (!c.t(0).signature && n !== d)) c.fail(`num ${n} does not match ${c.op.outputs.length} outputs / dimension ${d}`);
    const ax = c.b.i64(`${c.nm}_axis`, [axis]);
    const parts = n === 1 ? [c.ins[0]!] : c.op.outputs.map(() => c.b.fresh(`${c.nm}_part`));
    if (n > 1) c.b.node('Split', '', [c.ins[0]!, c.b.i64(`${c.nm}_split`, new Array(n).fill(1))], parts, { axis }, `${c.nm}_split`);
    c.op.outputs.forEach((o, k) => c.b.node('Squeeze', '', [parts[k]!, ax], [c.b.names[o]!], {}, `${c.nm}_${k}`));
  },
  // split_v.cc: (input, size_splits, axis); one size may be -1 (the rest of the dimension)
  SPLIT_V: (c) => {
    c.count(3, 3, -1);
    c.same([0]);
    const r = c.rank(0);
    const axis = c.constAxis(2, r);
    const sizes = c.ints(1, 'size_splits');
    if (sizes.length !== c.op.outputs.length) c.fail(`${sizes.length} size_splits for ${c.op.outputs.length} outputs`);
    const d = c.t(0).shape[axis]!;
    const neg = sizes.filter((s) => s === -1).length;
    if (neg > 1 || sizes.some((s) => s < -1)) c.fail(`size_splits [${sizes}] may hold one -1 and no other negative value`);
    const known = sizes.reduce((a, s) => a + (s === -1 ? 0 : s), 0);
    if (neg && c.t(0).signature?.[axis] === -1) c.unsupported('a -1 split size on a dynamic dimension is not supported');
    const full = sizes.map((s) => (s === -1 ? d - known : s));
    if (full.some((s) => s < 0) || full.reduce((a, s) => a + s, 0) !== d) c.fail(`size_splits [${sizes}] do not add up to dimension ${d}`);
    c.emit('Split', [c.ins[0]!, c.b.i64(`${c.nm}_split`, full)], { axis });
  },
  // cast.cc: static_cast to the output type (float → int truncates, → bool is x != 0), as ONNX Cast
  CAST: (c) => {
    c.count(1);
    c.float();
    c.emit('Cast', c.ins, { to: DTYPE_ONNX[c.b.dtype(c.out())] });
  },
  SHAPE: (c) => {
    c.count(1);
    c.emitIndex('Shape', c.ins, {});
  },
  // batch_matmul.cc: adj_x / adj_y transpose the last two dims; batch dims broadcast (= ONNX MatMul)
  BATCH_MATMUL: (c) => {
    c.count(2);
    const q = c.int8();
    const o = c.b.opts(c.op, 'BatchMatMulOptions');
    const side = (k: number, adj: boolean) => {
      const r = c.rank(k);
      if (r < 2) c.fail(`input ${k} has rank ${r}, BATCH_MATMUL needs ≥ 2`);
      if (!adj) return c.ins[k]!;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
      return c.tmp('Transpose', [c.ins[k]!], { perm }, `adj${k}`);
    };
    const ab = [side(0, o?.bool('adj_x') ?? false), side(1, o?.bool('adj_y') ?? false)];
    if (q) return c.tfl('BATCH_MATMUL', ab);
    c.emit('MatMul', ab);
  },
  TILE: (c) => {
    c.count(2);
    c.same([0]);
    c.emit('Tile', [c.ins[0]!, c.int64(1, 'multiples')]);
  },
  // broadcast_to.cc: the input broadcast to `shape` (ONNX Expand; TFLite rejects shapes Expand would widen)
  BROADCAST_TO: (c) => {
    c.count(2);
    c.same([0]);
    c.emit('Expand', [c.ins[0]!, c.int64(1, 'shape')]);
  },
  // fill.cc: a tensor of shape `dims` filled with the scalar `value`
  FILL: (c) => {
    c.count(2);
    c.same([1]);
    c.emit('Expand', [c.ins[1]!, c.int64(0, 'dims')]);
  },
  ZEROS_LIKE: (c) => {
    c.count(1);
    c.float();
    c.emit('Expand', [c.scalar(c.b.dtype(c.t(0)), 0, 'zero'), c.tmp('Shape', c.ins, {}, 'shape')]);
  },
  // range.cc: start, start + delta, … while < limit (delta > 0) or > limit (delta < 0), as ONNX Range
  RANGE: (c) => {
    c.count(3);
    c.float();
    c.emit('Range', c.ins);
  },
  // select_v2.cc: broadcasting where(cond, x, y)
  SELECT_V2: (c) => {
    c.count(3);
    c.same([1, 2]);
    c.emit('Where', c.ins);
  },
  // select.cc: cond has x's shape, or is a scalar, or is a vector picking whole rows of x (dimension 0)
  SELECT: (c) => {
    c.count(3);
    c.same([1, 2]);
    const rc = c.rank(0), rx = c.rank(1);
    if (rc !== 1 || rx <= 1) return c.emit('Where', c.ins);
    const rows = c.tmp('Reshape', [c.ins[0]!, c.b.i64(`${c.nm}_rows`, [-1, ...new Array(rx - 1).fill(1)])], {}, 'rows');
    c.emit('Where', [rows, c.ins[1]!, c.ins[2]!]);
  },
  // mirror_pad.cc: REFLECT excludes the edge (= ONNX Pad reflect); SYMMETRIC repeats it (no ONNX mode)
  MIRROR_PAD: (c) => {
    c.count(2);
    c.same([0]);
    const o = c.b.opts(c.op, 'MirrorPadOptions');
    const mode = o?.int('mode', 'i8') ?? 0;
    if (mode === 1) c.unsupported('SYMMETRIC mode has no IR op (ONNX Pad has reflect and edge only)');
    if (mode !== 0) c.fail(`unknown MirrorPadMode ${mode}`);
    const p = c.ints(1, 'paddings');
    const r = c.rank(0);
    if (p.length !== 2 * r) c.fail(`paddings has ${p.length} values for rank ${r}`);
    const pads = [...Array.from({ length: r }, (_, i) => p[2 * i]!), ...Array.from({ length: r }, (_, i) => p[2 * i + 1]!)];
    c.emit('Pad', [c.ins[0]!, c.b.i64(`${c.nm}_pads`, pads)], { mode: 'reflect' });
  },
  // space_to_depth.cc (NHWC): out[b, h, w, (i·bs + j)·C + c] = in[b, h·bs + i, w·bs + j, c]
  SPACE_TO_DEPTH: (c) => {
    c.count(1);
    c.same();
    const bs = c.b.opts(c.op, 'SpaceToDepthOptions')?.int('block_size', 'i32') ?? 0;
    const x = c.t(0);
    const [N, H, W, C] = x.shape as [number, number, number, number];
    if (x.shape.length !== 4 || x.signature || !(bs >= 1) || H % bs || W % bs) c.fail(`block_size ${bs} does not fit the static input [${x.shape}]`);
    const r6 = c.tmp('Reshape', [c.ins[0]!, c.b.i64(`${c.nm}_6d`, [N, H / bs, bs, W / bs, bs, C])], {}, '6d');
    const t6 = c.tmp('Transpose', [r6], { perm: [0, 1, 3, 2, 4, 5] }, 'perm');
    c.emit('Reshape', [t6, c.b.i64(`${c.nm}_shape`, [N, H / bs, W / bs, bs * bs * C])]);
  },
  // l2norm.cc (float): y = x / max(√Σ x², 1e-6) over the last axis
  L2_NORMALIZATION: (c) => {
    c.count(1);
    if (c.int8()) {
      // l2norm.cc int8: the fused activation must be NONE
      if (c.b.act(c.op, c.b.opts(c.op, 'L2NormOptions')) !== 'NONE') c.unsupported('a fused activation on the int8 form');
      return c.tfl('L2_NORMALIZATION', c.ins);
    }
    const o = c.b.opts(c.op, 'L2NormOptions');
    const sq = c.tmp('Mul', [c.ins[0]!, c.ins[0]!], {}, 'sq');
    const sum = c.tmp('ReduceSum', [sq, c.b.i64(`${c.nm}_axes`, [-1])], { keepdims: 1 }, 'sum');
    const norm = c.tmp('Max', [c.tmp('Sqrt', [sum], {}, 'norm'), c.scalar('float32', 1e-6, 'eps')], {}, 'clamp');
    c.emit('Div', [c.ins[0]!, norm], {}, c.b.act(c.op, o));
  },
  // cumsum.cc: (input, axis) with exclusive / reverse, as ONNX CumSum
  CUMSUM: (c) => {
    c.count(2);
    c.float();
    const o = c.b.opts(c.op, 'CumsumOptions');
    c.constAxis(1, c.rank(0));
    c.emit('CumSum', c.ins, { exclusive: o?.bool('exclusive') ? 1 : 0, reverse: o?.bool('reverse') ? 1 : 0 });
  },
};

/**
 * Quantized forms the reader's own cases hand over (PRELU's float form is ONNX PRelu there); false when the op is
 * not quantized.
 */
const QUANT_ONLY: Record<string, (c: Ctx) => boolean> = {
  PRELU: (c) => {
    c.count(2);
    if (!c.int8()) return false;
    c.tfl('PRELU', c.ins);
    return true;
  },
};

/** The builtins this module maps (for coverage listings). */
export const MAPPED_BUILTINS = Object.keys(MAPPERS);

/** Map `op` when this module knows it; false leaves it to the reader's other cases. */
export function mapBuiltin(b: Emitter, op: TflOperator, ins: string[]): boolean {
  const f = MAPPERS[op.opName], q = QUANT_ONLY[op.opName];
  if (!f && !q) return false;
  if (op.outputs.length < 1) throw new ModelFormatError(`${b.where(op)}: no outputs`);
  if (q) return q(new Ctx(b, op, ins));
  f!(new Ctx(b, op, ins));
  return true;
}
