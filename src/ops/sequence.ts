import { ShapeError, UnsupportedError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { type ShapeCtx, type ValueRunCtx, defineOp } from '../ir/registry.js';
import { ONNX_DTYPE } from '../tensor/onnx-dtype.js';
import type { DType } from '../tensor/dtype.js';
import { TensorSequence, type Value } from '../tensor/sequence.js';
import { Tensor } from '../tensor/tensor.js';
import { axisIn, concatTensors, constInts, splitTensor } from './shape.js';
import { ALL, need } from './util.js';

/**
 * Sequence ops (ONNX opset 11+): values are TensorSequence at run time and ValueType{sequence: true}
 * statically (dtype = element type, shape = the shape every element shares). Data-dependent checks that
 * need the elements themselves (positions against the length, ConcatFromSequence element shapes) run in
 * runValues and throw ShapeError.
 */

const INDEX: readonly DType[] = ['int32', 'int64'];
const U = '?';

function seqIn(ctx: ShapeCtx, i: number, what: string): ValueType {
  const t = need(ctx, i, what);
  if (!t.sequence) ctx.fail(`${what} must be a sequence, got a tensor`);
  return t;
}

function tensorIn(ctx: ShapeCtx, i: number, what: string): ValueType {
  const t = need(ctx, i, what);
  if (t.sequence) ctx.fail(`${what} must be a tensor, got a sequence`);
  if (!ALL.includes(t.dtype)) ctx.fail(`${what} has unsupported type ${t.dtype}`);
  return t;
}

/** Validate an optional scalar position input (int32/int64). */
function positionIn(ctx: ShapeCtx, i: number): void {
  if (!ctx.inputs[i]) return;
  const t = tensorIn(ctx, i, 'position');
  if (!INDEX.includes(t.dtype)) ctx.fail(`position has type ${t.dtype}, expected int32 or int64`);
  if (t.shape && !(t.shape.length === 0 || (t.shape.length === 1 && t.shape[0] === 1))) ctx.fail(`position must be a scalar, got [${t.shape.join(',')}]`);
}

/** Common shape of two element shapes: equal dims kept, others '?'; undefined when ranks differ. */
function merge(a: readonly Dim[] | undefined, b: readonly Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length !== b.length) return undefined;
  return a.map((d, i) => (d === b[i] ? d : U));
}

const seqType = (dtype: DType, shape: Dim[] | undefined): ValueType => ({ dtype, sequence: true, ...(shape ? { shape } : {}) });

function asSeq(v: Value | undefined, what: string): TensorSequence {
  if (!(v instanceof TensorSequence)) throw new ShapeError(`${what} must be a sequence`);
  return v;
}
function asTensor(v: Value | undefined, what: string): Tensor {
  if (!(v instanceof Tensor)) throw new ShapeError(`${what} must be a tensor`);
  return v;
}

/** Position value normalised against [lo(n), hi(n)] (ONNX: negative counts from the back). */
function position(ctx: ValueRunCtx, i: number, n: number, insert: boolean): number | undefined {
  const p = ctx.inputs[i];
  if (p === undefined) return undefined;
  const v = asTensor(p, 'position').num(0);
  const hi = insert ? n : n - 1;
  // ONNX: "Accepted range in [-n, n - 1]" (SequenceInsert: [-n, n])
  if (!(v >= -n && v <= hi)) throw new ShapeError(`position ${v} is out of range [${-n}, ${hi}] for a sequence of length ${n}`);
  return v < 0 ? v + n : v;
}

/** Sequence ops only run through the executor's runValues path. */
const noTensorReference = (name: string) => () => {
  throw new UnsupportedError(`${name} produces or consumes sequences; run it through the executor`);
};

defineOp({
  name: 'SequenceEmpty',
  inputs: [0, 0],
  outputs: [1, 1],
  attrs: { dtype: { type: 'int' } },
  inferShape(ctx) {
    let dtype: DType = 'float32';
    if (ctx.attrs.dtype !== undefined) {
      const d = ONNX_DTYPE[ctx.attrs.dtype];
      if (!d) throw new UnsupportedError(`node '${ctx.node.name}' (SequenceEmpty): dtype ${ctx.attrs.dtype} is not supported`);
      dtype = d;
    }
    return [seqType(dtype, undefined)];
  },
  reference: noTensorReference('SequenceEmpty'),
  runValues(ctx) {
    return [new TensorSequence(ctx.outputTypes[0]!.dtype, [])];
  },
});

defineOp({
  name: 'SequenceConstruct',
  inputs: [1, Infinity],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const ins = ctx.inputs.map((_, i) => tensorIn(ctx, i, `input ${i}`));
    const dtype = ins[0]!.dtype;
    ins.forEach((t, i) => t.dtype !== dtype && ctx.fail(`input ${i} has type ${t.dtype}, input 0 has ${dtype}`));
    let shape = ins[0]!.shape;
    for (const t of ins) shape = merge(shape, t.shape);
    return [seqType(dtype, shape && [...shape])];
  },
  reference: noTensorReference('SequenceConstruct'),
  runValues(ctx) {
    return [new TensorSequence(ctx.outputTypes[0]!.dtype, ctx.inputs.map((t, i) => asTensor(t, `input ${i}`)))];
  },
});

defineOp({
  name: 'SequenceInsert',
  inputs: [2, 3],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const s = seqIn(ctx, 0, 'input_sequence');
    const t = tensorIn(ctx, 1, 'tensor');
    if (t.dtype !== s.dtype) ctx.fail(`tensor has type ${t.dtype}, the sequence holds ${s.dtype}`);
    positionIn(ctx, 2);
    return [seqType(s.dtype, merge(s.shape, t.shape))];
  },
  reference: noTensorReference('SequenceInsert'),
  runValues(ctx) {
    const s = asSeq(ctx.inputs[0], 'input_sequence');
    const t = asTensor(ctx.inputs[1], 'tensor');
    // ONNX: "If 'position' is not specified, the tensor is inserted at the end"
    const p = position(ctx, 2, s.length, true) ?? s.length;
    const out = [...s.tensors];
    out.splice(p, 0, t);
    return [new TensorSequence(s.elemType, out)];
  },
});

defineOp({
  name: 'SequenceAt',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const s = seqIn(ctx, 0, 'input_sequence');
    if (!ctx.inputs[1]) ctx.fail('position is missing');
    positionIn(ctx, 1);
    return [{ dtype: s.dtype, ...(s.shape ? { shape: [...s.shape] } : {}) }];
  },
  reference: noTensorReference('SequenceAt'),
  runValues(ctx) {
    const s = asSeq(ctx.inputs[0], 'input_sequence');
    return [s.tensors[position(ctx, 1, s.length, false)!]!];
  },
});

defineOp({
  name: 'SequenceErase',
  inputs: [1, 2],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const s = seqIn(ctx, 0, 'input_sequence');
    positionIn(ctx, 1);
    return [seqType(s.dtype, s.shape && [...s.shape])];
  },
  reference: noTensorReference('SequenceErase'),
  runValues(ctx) {
    const s = asSeq(ctx.inputs[0], 'input_sequence');
    if (s.length === 0) throw new ShapeError('cannot erase from an empty sequence');
    // ONNX: "If 'position' is not specified, it erases the last tensor"
    const p = position(ctx, 1, s.length, false) ?? s.length - 1;
    const out = [...s.tensors];
    out.splice(p, 1);
    return [new TensorSequence(s.elemType, out)];
  },
});

defineOp({
  name: 'SequenceLength',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    seqIn(ctx, 0, 'input_sequence');
    return [{ dtype: 'int64', shape: [] }];
  },
  reference: noTensorReference('SequenceLength'),
  runValues(ctx) {
    return [new Tensor('int64', BigInt64Array.of(BigInt(asSeq(ctx.inputs[0], 'input_sequence').length)), [])];
  },
});

/** Chunk sizes of SplitToSequence for a concrete axis length (split validated). */
function chunkSizes(ctx: ShapeCtx, dim: number, split: number[] | undefined, scalar: boolean): number[] {
  if (!split) return new Array<number>(dim).fill(1);
  if (scalar) {
    const c = split[0]!;
    if (!(c > 0)) ctx.fail(`split must be positive, got ${c}`);
    // ONNX: "If 'split' is a scalar ... the last chunk may be smaller"
    const out: number[] = [];
    for (let left = dim; left > 0; left -= c) out.push(Math.min(c, left));
    return out;
  }
  if (split.some((v) => v < 0)) ctx.fail(`split [${split.join(',')}] has a negative entry`);
  const sum = split.reduce((a, b) => a + b, 0);
  if (sum !== dim) ctx.fail(`split [${split.join(',')}] sums to ${sum}, but the axis has ${dim}`);
  return split;
}

defineOp({
  name: 'SplitToSequence',
  inputs: [1, 2],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', default: 0 }, keepdims: { type: 'int', default: 1, oneOf: [0, 1] } },
  inferShape(ctx) {
    const x = tensorIn(ctx, 0, 'input');
    let scalar = false;
    if (ctx.inputs[1]) {
      const st = tensorIn(ctx, 1, 'split');
      if (!INDEX.includes(st.dtype)) ctx.fail(`split has type ${st.dtype}, expected int32 or int64`);
      scalar = st.shape?.length === 0;
    }
    const split = constInts(ctx, 1, 'split', { scalarOk: true });
    if (!x.shape) return [seqType(x.dtype, undefined)];
    const axis = axisIn(ctx, ctx.attrs.axis, x.shape.length);
    const d = x.shape[axis]!;
    const hasSplit = !!ctx.inputs[1];
    let elem: Dim = U;
    if (!hasSplit) elem = 1;
    else if (split && typeof d === 'number') {
      const sizes = chunkSizes(ctx, d, split, scalar);
      if (sizes.length && sizes.every((c) => c === sizes[0])) elem = sizes[0]!;
    } else if (split && scalar && split[0]! <= 0) ctx.fail(`split must be positive, got ${split[0]}`);
    const shape = [...x.shape];
    // ONNX: "keepdims ... ignored if input 'split' is specified"
    if (!hasSplit && ctx.attrs.keepdims === 0) shape.splice(axis, 1);
    else shape[axis] = elem;
    return [seqType(x.dtype, shape)];
  },
  reference: noTensorReference('SplitToSequence'),
  runValues(ctx) {
    const x = asTensor(ctx.inputs[0], 'input');
    const axis = ctx.attrs.axis < 0 ? ctx.attrs.axis + x.dims.length : ctx.attrs.axis;
    const sp = ctx.inputs[1] ? asTensor(ctx.inputs[1], 'split') : undefined;
    const fail = (m: string): never => {
      throw new ShapeError(m);
    };
    const sizes = chunkSizes({ fail } as ShapeCtx, x.dims[axis]!, sp?.toNumbers(), sp?.dims.length === 0);
    let parts = splitTensor(x, axis, sizes);
    if (!sp && ctx.attrs.keepdims === 0) parts = parts.map((t) => t.reshape(t.dims.filter((_, i) => i !== axis)));
    return [new TensorSequence(x.type, parts)];
  },
});

defineOp({
  name: 'ConcatFromSequence',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', required: true }, new_axis: { type: 'int', default: 0, oneOf: [0, 1] } },
  inferShape(ctx) {
    const s = seqIn(ctx, 0, 'input_sequence');
    if (!s.shape) return [{ dtype: s.dtype }];
    const r = s.shape.length;
    const newAxis = ctx.attrs.new_axis === 1;
    // ONNX: "Accepted range in [-r, r - 1] ... When new_axis is 1, accepted range is [-r - 1, r]"
    const axis = axisIn(ctx, ctx.attrs.axis, newAxis ? r + 1 : r);
    if (!newAxis && r === 0) ctx.fail('cannot concatenate scalars without new_axis');
    const out: Dim[] = [...s.shape];
    if (newAxis) out.splice(axis, 0, U);
    else out[axis] = U;
    return [{ dtype: s.dtype, shape: out }];
  },
  reference: noTensorReference('ConcatFromSequence'),
  runValues(ctx) {
    const s = asSeq(ctx.inputs[0], 'input_sequence');
    if (s.length === 0) throw new ShapeError('cannot concatenate an empty sequence');
    const newAxis = ctx.attrs.new_axis === 1;
    const r0 = s.tensors[0]!.dims.length;
    const rank = newAxis ? r0 + 1 : r0;
    let axis: number = ctx.attrs.axis;
    if (axis < 0) axis += rank;
    let parts = [...s.tensors];
    if (newAxis) parts = parts.map((t) => t.reshape([...t.dims.slice(0, axis), 1, ...t.dims.slice(axis)]));
    const first = parts[0]!.dims;
    let total = 0;
    parts.forEach((t, i) => {
      if (t.dims.length !== first.length || t.dims.some((d, a) => a !== axis && d !== first[a]))
        throw new ShapeError(`sequence element ${i} has shape [${s.tensors[i]!.dims.join(',')}], incompatible with element 0 [${s.tensors[0]!.dims.join(',')}] for axis ${ctx.attrs.axis}`);
      total += t.dims[axis]!;
    });
    const out = [...first];
    out[axis] = total;
    return [concatTensors(s.elemType, parts, axis, out)];
  },
});
