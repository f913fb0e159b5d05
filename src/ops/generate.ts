import { UnsupportedError } from '../errors.js';
import type { Dim } from '../ir/graph.js';
import { type ShapeCtx, defineOp } from '../ir/registry.js';
import { isConcrete } from '../ir/dims.js';
import { ONNX_DTYPE } from '../tensor/onnx-dtype.js';
import { type DType, type TensorData, allocData, isBig } from '../tensor/dtype.js';
import { f16ToF32, f32ToF16 } from '../tensor/fp16.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { constInts, outDims } from './shape.js';
import { ALL, FLOATS, NUMERIC, needType, openDims } from './util.js';

/** Generators: Constant, ConstantOfShape, Range, EyeLike, OneHot, Trilu. */

type Arr = { [i: number]: any; length: number };

/** The value `v` stored as an element of `dtype` (bigint for 64-bit ints, half bits for float16). */
function elem(dtype: DType, v: number): number | bigint {
  if (isBig(dtype)) return BigInt(Math.trunc(v));
  if (dtype === 'float16') return f32ToF16(v);
  if (dtype === 'bool') return v ? 1 : 0;
  return v;
}

/** Element i of `t` as a JS number (float16 decoded). */
function numAt(t: Tensor, i: number): number {
  const v = (t.data as Arr)[i];
  if (t.type === 'float16') return f16ToF32(v as number);
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

function checkShapeSize(ctx: ShapeCtx, s: readonly Dim[]): void {
  if (!isConcrete(s)) return;
  try {
    sizeOf(s);
  } catch (e) {
    ctx.fail((e as Error).message);
  }
}

/** A dtype attribute (TensorProto.DataType enum) as an edgeq dtype. */
function dtypeAttr(ctx: ShapeCtx, v: number, allowed: readonly DType[]): DType {
  const dt = ONNX_DTYPE[v];
  if (!dt) throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): dtype ${v} is not supported`);
  if (!allowed.includes(dt)) ctx.fail(`dtype ${dt} is not allowed (expected one of ${allowed.join(', ')})`);
  return dt;
}

// ---------------------------------------------------------------------------------------------------------
// Constant

const CONST_ATTRS = ['value', 'sparse_value', 'value_float', 'value_floats', 'value_int', 'value_ints', 'value_string', 'value_strings'] as const;

function constantTensor(attrs: Record<string, any>): Tensor {
  if (attrs.value !== undefined) return attrs.value as Tensor;
  if (attrs.value_float !== undefined) return new Tensor('float32', Float32Array.of(attrs.value_float), []);
  if (attrs.value_floats !== undefined) return new Tensor('float32', Float32Array.from(attrs.value_floats as number[]), [attrs.value_floats.length]);
  if (attrs.value_int !== undefined) return new Tensor('int64', BigInt64Array.of(BigInt(attrs.value_int)), []);
  if (attrs.value_ints !== undefined) return new Tensor('int64', BigInt64Array.from(attrs.value_ints as number[], (v) => BigInt(v)), [attrs.value_ints.length]);
  if (attrs.value_string !== undefined) return new Tensor('string', [attrs.value_string as string], []);
  return new Tensor('string', [...(attrs.value_strings as string[])], [attrs.value_strings.length]);
}

defineOp({
  name: 'Constant',
  inputs: [0, 0],
  outputs: [1, 1],
  attrs: {
    value: { type: 'tensor' },
    sparse_value: { type: 'tensor' },
    value_float: { type: 'float' },
    value_floats: { type: 'floats' },
    value_int: { type: 'int' },
    value_ints: { type: 'ints' },
    value_string: { type: 'string' },
    value_strings: { type: 'strings' },
  },
  inferShape(ctx) {
    const set = CONST_ATTRS.filter((a) => ctx.attrs[a] !== undefined);
    // ONNX: "Exactly one of the provided attributes ... must be specified"
    if (set.length !== 1) ctx.fail(`exactly one value attribute must be set, got ${set.length ? set.join(', ') : 'none'}`);
    if (set[0] === 'sparse_value') throw new UnsupportedError(`node '${ctx.node.name}' (Constant): sparse_value is not supported`);
    const t = constantTensor(ctx.attrs);
    return [{ dtype: t.type, shape: [...t.dims] }];
  },
  reference({ attrs }) {
    return [constantTensor(attrs)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// ConstantOfShape

const COS_TYPES: readonly DType[] = [...NUMERIC, 'bool'];

defineOp({
  name: 'ConstantOfShape',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { value: { type: 'tensor' } },
  inferShape(ctx) {
    const st = needType(ctx, 0, ['int64'], 'input');
    if (st.shape && st.shape.length !== 1) ctx.fail(`input must be 1-D, got rank ${st.shape.length}`);
    const v = ctx.attrs.value as Tensor | undefined;
    // ONNX: "value: (Optional) The value of the output elements. Should be a one-element tensor. If not specified, it defaults to a tensor of value 0 and datatype float32"
    const dtype: DType = v ? v.type : 'float32';
    if (v && v.size !== 1) ctx.fail(`value must hold exactly one element, got ${v.size}`);
    if (!COS_TYPES.includes(dtype)) ctx.fail(`value has type ${dtype}, expected a numeric or bool tensor`);
    const s = constInts(ctx, 0, 'input');
    if (!s) {
      const n = st.shape?.[0];
      return [{ dtype, ...(typeof n === 'number' ? { shape: openDims(ctx, n, `input of length ${n}`) } : {}) }];
    }
    if (s.some((d) => d < 0)) ctx.fail(`shape [${s.join(',')}] has a negative dim`);
    checkShapeSize(ctx, s);
    return [{ dtype, shape: s }];
  },
  reference(ctx) {
    const v = ctx.attrs.value as Tensor | undefined;
    const dims = outDims(ctx);
    const dtype: DType = v ? v.type : 'float32';
    const out = allocData(dtype, sizeOf(dims)) as Arr;
    if (v) {
      const x = (v.data as Arr)[0];
      for (let i = 0; i < out.length; i++) out[i] = x;
    }
    return [new Tensor(dtype, out as TensorData, dims)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Range

const RANGE_TYPES: readonly DType[] = [...FLOATS, 'int16', 'int32', 'int64'];

function scalarOf(ctx: ShapeCtx, i: number, what: string): number | undefined {
  const t = ctx.inputs[i]!;
  // a [1] is accepted as exporters emit it; an open dim ('?', e.g. an If output) is checked once it is concrete
  if (t.shape && !(t.shape.length === 0 || (t.shape.length === 1 && (t.shape[0] === 1 || typeof t.shape[0] === 'string')))) ctx.fail(`${what} must be a scalar, got shape [${t.shape.join(',')}]`);
  const v = ctx.value(i);
  if (v && v.size !== 1) ctx.fail(`${what} must be a scalar, got shape [${v.dims.join(',')}]`);
  return v ? numAt(v, 0) : undefined;
}

defineOp({
  name: 'Range',
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const s = needType(ctx, 0, RANGE_TYPES, 'start');
    needType(ctx, 1, [s.dtype], 'limit');
    needType(ctx, 2, [s.dtype], 'delta');
    const start = scalarOf(ctx, 0, 'start');
    const limit = scalarOf(ctx, 1, 'limit');
    const delta = scalarOf(ctx, 2, 'delta');
    if (start === undefined || limit === undefined || delta === undefined) return [{ dtype: s.dtype, shape: ['?'] }];
    if (delta === 0) ctx.fail('delta must not be 0');
    if (![start, limit, delta].every(Number.isFinite)) ctx.fail(`start/limit/delta must be finite (got ${start}, ${limit}, ${delta})`);
    // ONNX: "number_of_elements = max( ceil( (limit - start) / delta ) , 0 )"
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    checkShapeSize(ctx, [n]);
    return [{ dtype: s.dtype, shape: [n] }];
  },
  reference(ctx) {
    const [n] = outDims(ctx) as [number];
    const st = ctx.inputs[0]!;
    const dtype = st.type;
    const out = allocData(dtype, n) as Arr;
    if (dtype === 'int64') {
      const s = (st.data as BigInt64Array)[0]!;
      const d = (ctx.inputs[2]!.data as BigInt64Array)[0]!;
      for (let i = 0; i < n; i++) out[i] = s + BigInt(i) * d;
    } else {
      const s = numAt(st, 0);
      const d = numAt(ctx.inputs[2]!, 0);
      // ONNX: "output[i] = start + (i * delta)"
      for (let i = 0; i < n; i++) out[i] = elem(dtype, s + i * d);
    }
    return [new Tensor(dtype, out as TensorData, [n])];
  },
});

// ---------------------------------------------------------------------------------------------------------
// EyeLike

const EYE_TYPES: readonly DType[] = [...NUMERIC, 'bool'];

defineOp({
  name: 'EyeLike',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { dtype: { type: 'int' }, k: { type: 'int', default: 0 } },
  inferShape(ctx) {
    const x = needType(ctx, 0, EYE_TYPES, 'input');
    if (x.shape && x.shape.length !== 2) ctx.fail(`input must be 2-D, got rank ${x.shape.length}`);
    const dtype = ctx.attrs.dtype === undefined ? x.dtype : dtypeAttr(ctx, ctx.attrs.dtype, EYE_TYPES);
    return [{ dtype, shape: x.shape ? [...x.shape] : [('?' as Dim), '?'] }];
  },
  reference(ctx) {
    const [r, c] = outDims(ctx) as [number, number];
    const dtype = ctx.outputTypes[0]!.dtype;
    const k: number = ctx.attrs.k;
    const out = allocData(dtype, r * c) as Arr;
    const one = elem(dtype, 1);
    for (let i = 0; i < r; i++) {
      const j = i + k;
      if (j >= 0 && j < c) out[i * c + j] = one;
    }
    return [new Tensor(dtype, out as TensorData, [r, c])];
  },
});

// ---------------------------------------------------------------------------------------------------------
// OneHot

defineOp({
  name: 'OneHot',
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', default: -1 } },
  inferShape(ctx) {
    const ind = needType(ctx, 0, NUMERIC, 'indices');
    const dt = needType(ctx, 1, NUMERIC, 'depth');
    const vt = needType(ctx, 2, ALL, 'values');
    if (dt.shape && !(dt.shape.length === 0 || (dt.shape.length === 1 && dt.shape[0] === 1))) ctx.fail(`depth must be a scalar or a 1-element tensor, got [${dt.shape.join(',')}]`);
    if (vt.shape && !(vt.shape.length === 1 && (vt.shape[0] === 2 || typeof vt.shape[0] !== 'number'))) ctx.fail(`values must be a 2-element 1-D tensor [off, on], got [${vt.shape.join(',')}]`);
    const dv = ctx.value(1);
    let depth: Dim = '?';
    if (dv) {
      if (dv.size !== 1) ctx.fail('depth must hold one element');
      const d = numAt(dv, 0);
      // ONNX: "depth ... In case 'depth' is of non-integer type, it will be casted to int64"
      depth = Math.trunc(d);
      if (!(depth >= 1)) ctx.fail(`depth must be positive, got ${d}`);
    }
    if (!ind.shape) return [{ dtype: vt.dtype }];
    const r = ind.shape.length;
    let axis: number = ctx.attrs.axis;
    // ONNX: "Negative value means counting dimensions from the back. Accepted range is [-r-1, r]"
    if (axis < -r - 1 || axis > r) ctx.fail(`axis ${axis} is out of range [${-r - 1}, ${r}]`);
    if (axis < 0) axis += r + 1;
    const out: Dim[] = [...ind.shape];
    out.splice(axis, 0, depth);
    checkShapeSize(ctx, out);
    return [{ dtype: vt.dtype, shape: out }];
  },
  reference(ctx) {
    const ind = ctx.inputs[0]!;
    const vals = ctx.inputs[2]!;
    const out = outDims(ctx);
    const r = ind.dims.length;
    const axis = ctx.attrs.axis < 0 ? ctx.attrs.axis + r + 1 : ctx.attrs.axis;
    const depth = out[axis]!;
    let inner = 1;
    for (let a = axis; a < r; a++) inner *= ind.dims[a]!;
    const n = sizeOf(out);
    const data = allocData(vals.type, n) as Arr;
    const off = (vals.data as Arr)[0];
    const on = (vals.data as Arr)[1];
    for (let i = 0; i < n; i++) data[i] = off;
    for (let i = 0; i < ind.size; i++) {
      let v = Math.trunc(numAt(ind, i));
      // ONNX: "values outside the range [-depth, depth-1] will result in one-hot representation with all 'off_value' values"
      if (v < -depth || v >= depth) continue;
      if (v < 0) v += depth;
      const o = Math.floor(i / inner);
      const in_ = i % inner;
      data[(o * depth + v) * inner + in_] = on;
    }
    return [new Tensor(vals.type, data as TensorData, out)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Trilu

defineOp({
  name: 'Trilu',
  inputs: [1, 2],
  outputs: [1, 1],
  attrs: { upper: { type: 'int', default: 1, oneOf: [0, 1] } },
  inferShape(ctx) {
    const x = needType(ctx, 0, EYE_TYPES, 'input');
    if (x.shape && x.shape.length < 2) ctx.fail(`input must have rank ≥ 2, got ${x.shape.length}`);
    if (ctx.inputs[1]) {
      const kt = needType(ctx, 1, ['int64'], 'k');
      if (kt.shape && !(kt.shape.length === 0 || (kt.shape.length === 1 && kt.shape[0] === 1))) ctx.fail('k must be a scalar');
      constInts(ctx, 1, 'k', { scalarOk: true, clampBig: true });
    }
    return [{ dtype: x.dtype, ...(x.shape ? { shape: [...x.shape] } : {}) }];
  },
  reference(ctx) {
    const x = ctx.inputs[0]!;
    const k = ctx.inputs[1] ? Math.max(-(2 ** 40), Math.min(2 ** 40, ctx.inputs[1].num(0))) : 0;
    const upper = ctx.attrs.upper === 1;
    const r = x.dims.length;
    const rows = x.dims[r - 2]!;
    const cols = x.dims[r - 1]!;
    const src = x.data as Arr;
    const out = allocData(x.type, x.size) as Arr;
    const mats = rows * cols === 0 ? 0 : x.size / (rows * cols);
    // ONNX: upper keeps j - i >= k, lower keeps j - i <= k; all other elements are set to zero
    for (let m = 0; m < mats; m++)
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          const keep = upper ? j - i >= k : j - i <= k;
          const o = (m * rows + i) * cols + j;
          if (keep) out[o] = src[o];
        }
    return [new Tensor(x.type, out as TensorData, x.dims)];
  },
});

