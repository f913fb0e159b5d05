import { DTYPES, type DType, type TypedArray } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { type BindArgs, type KernelDef, decline, registerKernel } from './registry.js';
import { type Arena, arena, bindConstant, kernels } from './wasm.js';

/**
 * Small ops on integer / bool tensors that attention-mask paths are made of (attention_mask int64 → Equal → bool →
 * Expand → Where; Cast int64 → float32 for mean pooling), in kernel memory (asm/x_layout.ts): Cast to float32 or to
 * the input's own type, Equal with a one-element or same-shape operand, Expand of any element width. They move
 * few bytes; being kernels keeps the values in kernel memory between the float kernels around them.
 */

/** ONNX TensorProto data types these kernels meet */
const ONNX_TYPE: Record<number, DType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64' };

/** x_cast_f32's kind per source type */
const TO_F32: Partial<Record<DType, number>> = { int64: 0, bool: 1, uint8: 1, int8: 2, int32: 3 };

const castWasm: KernelDef = {
  op: 'Cast',
  backend: 'wasm',
  prepare(_node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    const from = types[0]?.dtype;
    const to = ONNX_TYPE[attrs.to as number];
    if (!from) return decline('input type unknown');
    if (from === to && from !== 'string') {
      // "Casting to the same type is a no-op": the data under the same dims
      return { name: 'view', alias: true, run: ([x]) => [new Tensor(x!.type, x!.data, x!.dims)] };
    }
    if ((from === 'float16' && to === 'float32') || (from === 'float32' && to === 'float16')) {
      // float16 ↔ float32 (the Casts widen-half.ts leaves at float16 graph inputs / outputs): exact widening,
      // rounding to nearest even (IEEE 754, as ONNX Cast specifies for float → float16)
      const widen = from === 'float16';
      return {
        name: widen ? 'f16_to_f32' : 'f32_to_f16',
        run([x]) {
          const n = x!.size;
          const xin = mem.inputBytes(x!.data as TypedArray, 'Cast input');
          try {
            const yp = mem.alloc(Math.max(n, 1) * (widen ? 4 : 2), 'Cast output');
            if (n) (widen ? ex.f16_to_f32 : ex.f32_to_f16)(n, xin.ptr, yp);
            return [widen ? new Tensor('float32', mem.f32(yp, n), x!.dims) : new Tensor('float16', new Uint16Array(mem.buffer, yp, n), x!.dims)];
          } finally {
            if (xin.copied) mem.release(xin.ptr);
          }
        },
        bind: ({ ins: [xp], outs: [yp], outTypes: [o] }) => {
          const n = (o?.shape as number[] | undefined)?.reduce((a, d) => a * d, 1);
          if (n === undefined || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
          const f = widen ? ex.f16_to_f32 : ex.f32_to_f16;
          return () => {
            if (n) f(n, xp, yp);
          };
        },
      };
    }
    const kind = TO_F32[from];
    if (to !== 'float32' || kind === undefined) return decline(`${from} → ${to ?? attrs.to}: only int64/int32/int8/uint8/bool/float16 → float32, float32 → float16 and same-type casts`);
    return {
      name: 'x_cast_f32',
      run([x]) {
        const xin = mem.inputBytes(x!.data as TypedArray, 'Cast input');
        try {
          const yp = mem.alloc(x!.size * 4, 'Cast output');
          if (x!.size) ex.x_cast_f32(kind, xin.ptr, x!.size, yp);
          return [new Tensor('float32', mem.f32(yp, x!.size), x!.dims)];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      bind: ({ ins: [xp], outs: [yp], outTypes: [o] }) => {
        const n = (o?.shape as number[] | undefined)?.reduce((a, d) => a * d, 1);
        if (n === undefined || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
        return () => {
          if (n) ex.x_cast_f32(kind, xp, n, yp);
        };
      },
    };
  },
};

/**
 * A two-operand kernel (Equal and the comparisons with a bool output, integer Add / Sub / Mul with their input type):
 * one operand of one element, or both of the output's size (other broadcasts: the reference, via undefined).
 * `call(a, strideA, b, strideB, out, n)` writes the n elements; a stride of 0 broadcasts the one-element operand.
 */
function pairOf(mem: Arena, op: string, a: Tensor, b: Tensor, shape: number[], out: DType, call: (ap: number, sa: number, bp: number, sb: number, yp: number, n: number) => void): Tensor[] | undefined {
  const n = shape.reduce((p, d) => p * d, 1);
  if ((a.size !== n && a.size !== 1) || (b.size !== n && b.size !== 1)) return undefined;
  // both residency checks before any allocation (growing the memory would detach a resident B's view)
  const bd = b.data as TypedArray;
  const bRes = bd.buffer === mem.buffer ? bd.byteOffset : undefined;
  const ap = mem.inputBytes(a.data as TypedArray, `${op} A`);
  let bp: { ptr: number; copied: boolean } | undefined;
  try {
    const bq = (bp = bRes !== undefined ? { ptr: bRes, copied: false } : mem.inputBytes(bd, `${op} B`));
    const yp = mem.alloc(Math.max(n * DTYPES[out].bytes, 1), `${op} output`);
    if (n) call(ap.ptr, a.size === 1 ? 0 : 1, bq.ptr, b.size === 1 ? 0 : 1, yp, n);
    return [new Tensor(out, mem.view(out, yp, n) as never, shape)];
  } finally {
    if (ap.copied) mem.release(ap.ptr);
    if (bp?.copied) mem.release(bp.ptr);
  }
}

/**
 * pairOf as a static plan's call: each operand a block (a value of this run) or a constant copied once into plan
 * memory; one of one element or both of the output's size, as run() takes them.
 */
function bindPair(b: BindArgs, call: (ap: number, sa: number, bp: number, sb: number, yp: number, n: number) => void): (() => void) | undefined {
  const shape = b.outTypes[0]?.shape as number[] | undefined;
  const yp = b.outs[0] ?? -1;
  if (!shape || yp < 0) return undefined;
  const n = shape.reduce((p, d) => p * d, 1);
  const operand = (j: number): { p: number; size: number } | undefined => {
    const c = b.consts[j];
    if (c) return { p: bindConstant(b.scratch, c.data as TypedArray, 'constant operand'), size: c.size };
    const t = b.inTypes[j]?.shape as number[] | undefined;
    const p = b.ins[j] ?? -1;
    return p < 0 || !t ? undefined : { p, size: t.reduce((q, d) => q * d, 1) };
  };
  const a = operand(0);
  const c = operand(1);
  if (!a || !c || (a.size !== n && a.size !== 1) || (c.size !== n && c.size !== 1)) return undefined;
  const [sa, sc] = [a.size === 1 ? 0 : 1, c.size === 1 ? 0 : 1];
  return () => {
    if (n) call(a.p, sa, c.p, sc, yp, n);
  };
}

const EQ_BYTES: Partial<Record<DType, number>> = { int64: 8, int32: 4, float32: 4, bool: 1, uint8: 1, int8: 1 };

const equalWasm: KernelDef = {
  op: 'Equal',
  backend: 'wasm',
  prepare(_node, _attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    const t = types[0]?.dtype;
    const bytes = t && EQ_BYTES[t];
    if (!bytes || types[1]?.dtype !== t) return decline(`inputs ${t ?? '?'} / ${types[1]?.dtype ?? '?'}: only int64, int32, float32, bool, int8, uint8 of one type`);
    return {
      name: 'x_equal',
      run: ([a, b], [outType]) => pairOf(mem, 'Equal', a!, b!, outType!.shape as number[], 'bool', (ap, sa, bp, sb, yp, n) => ex.x_equal(bytes, t === 'float32' ? 1 : 0, ap, sa, bp, sb, yp, n)),
      bind: (b) => bindPair(b, (ap, sa, bp, sb, yp, n) => ex.x_equal(bytes, t === 'float32' ? 1 : 0, ap, sa, bp, sb, yp, n)),
    };
  },
};

/** f32_compare's op codes */
const COMPARE: Record<string, number> = { Greater: 0, GreaterOrEqual: 1, Less: 2, LessOrEqual: 3 };

/**
 * Greater / GreaterOrEqual / Less / LessOrEqual on float32 (ONNX: "Returns the tensor resulted from performing the
 * greater (greater_equal, less, less_equal) logical operation elementwise on the input tensors A and B (with
 * Numpy-style broadcasting support)"): one operand of one element or both of the output's size; other broadcasts
 * run on the reference. A wake-word head's score threshold before its If, for instance.
 */
function compareKernel(op: string): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(_node, _attrs, types) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (types[0]?.dtype !== 'float32' || types[1]?.dtype !== 'float32') return decline(`inputs ${types[0]?.dtype ?? '?'} / ${types[1]?.dtype ?? '?'}: the kernel compares float32`);
      return {
        name: 'f32_compare',
        run: ([a, b], [outType]) => pairOf(mem, op, a!, b!, outType!.shape as number[], 'bool', (ap, sa, bp, sb, yp, n) => ex.f32_compare(COMPARE[op]!, ap, sa, bp, sb, yp, n)),
        bind: (b) => bindPair(b, (ap, sa, bp, sb, yp, n) => ex.f32_compare(COMPARE[op]!, ap, sa, bp, sb, yp, n)),
      };
    },
  };
}

/**
 * Add / Sub / Mul on int64 or int32 (ONNX: "Performs element-wise binary addition (subtraction, multiplication) (with
 * Numpy-style broadcasting support)"; integer results wrap, two's complement, as the reference's typed-array stores
 * do): the index arithmetic a graph does on fed integers — silero VAD's `sr · 0` added to its state, position ids
 * offset by a past length. Few elements, so a JS loop over kernel-memory views; being a kernel keeps such a graph on
 * the static plan. One operand of one element or both of the output's size (pairOf); other broadcasts: the reference.
 */
const INT_ARITH: Record<string, { int64: (x: bigint, y: bigint) => bigint; int32: (x: number, y: number) => number }> = {
  Add: { int64: (x, y) => x + y, int32: (x, y) => (x + y) | 0 },
  Sub: { int64: (x, y) => x - y, int32: (x, y) => (x - y) | 0 },
  Mul: { int64: (x, y) => x * y, int32: Math.imul },
};

function intArithKernel(op: string): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(node, _attrs, types) {
      const mem = arena();
      if (!mem) return decline('no WASM memory');
      const t = types[0]?.dtype;
      if (node.inputs.length !== 2 || (t !== 'int64' && t !== 'int32') || types[1]?.dtype !== t) return decline(`inputs ${t ?? '?'} / ${types[1]?.dtype ?? '?'}: the integer kernel takes two int64 or two int32`);
      const f = INT_ARITH[op]![t] as (x: number | bigint, y: number | bigint) => number | bigint;
      const A = DTYPES[t].array!;
      const call = (ap: number, sa: number, bp: number, sb: number, yp: number, n: number) => {
        const [a, b, y] = [new A(mem.buffer, ap, sa ? n : 1), new A(mem.buffer, bp, sb ? n : 1), new A(mem.buffer, yp, n)];
        for (let i = 0; i < n; i++) y[i] = f(a[i * sa]!, b[i * sb]!);
      };
      return {
        name: `${t === 'int64' ? 'i64' : 'i32'}_arith`,
        run: ([a, b], [outType]) => pairOf(mem, op, a!, b!, outType!.shape as number[], t, call),
        bind: (b) => bindPair(b, call),
      };
    },
  };
}

/**
 * Expand's copy: x (dims right-aligned under the output's `shape`, broadcast axes read with stride 0) of `e`-byte
 * elements at xp into yp, through x32_strided_copy (4-byte) or x8_strided_copy (bytes; the element's bytes an extra
 * innermost axis); `meta` holds 12 × (rank + 1) bytes of dims / strides / index scratch.
 */
function expandAt(xdims: readonly number[], shape: readonly number[], e: number, xp: number, yp: number, meta: number): void {
  const ex = kernels()!;
  const r = shape.length;
  const xd = [...new Array<number>(r - xdims.length).fill(1), ...xdims];
  const st = new Array<number>(r).fill(0);
  for (let i = r - 1, s = 1; i >= 0; i--) {
    st[i] = xd[i] === 1 ? 0 : s;
    s *= xd[i]!;
  }
  const wide = e === 4;
  const dims = wide ? [...shape] : [...shape, e];
  const strides = wide ? st : [...st.map((v) => v * e), 1];
  const rk = Math.max(dims.length, 1);
  const m = new Int32Array(arena()!.buffer, meta, 3 * rk);
  m.set(dims.length ? dims : [1], 0);
  m.set(strides.length ? strides : [1], rk);
  if (wide) ex.x32_strided_copy(xp, yp, rk, meta, meta + 4 * rk, meta + 8 * rk);
  else ex.x8_strided_copy(xp, yp, rk, meta, meta + 4 * rk, meta + 8 * rk);
}

const expandWasm: KernelDef = {
  op: 'Expand',
  backend: 'wasm',
  prepare(_node, _attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    const t = types[0]?.dtype;
    if (!t || t === 'string' || types[0]?.sequence) return decline(`input is ${t ?? 'of unknown type'}`);
    return {
      name: 'x_expand',
      run([x], [outType]) {
        const shape = outType!.shape as number[];
        const n = shape.reduce((p, d) => p * d, 1);
        const data = x!.data as TypedArray;
        const e = data.BYTES_PER_ELEMENT;
        if (!e || x!.size * e !== data.byteLength) return undefined; // packed sub-byte types: the reference
        const xin = mem.inputBytes(data, 'Expand input');
        try {
          const yp = mem.alloc(Math.max(n * e, 1), 'Expand output');
          if (n) {
            const meta = mem.alloc(12 * Math.max(shape.length + 1, 1), 'Expand meta');
            expandAt(x!.dims, shape, e, xin.ptr, yp, meta);
            mem.release(meta);
          }
          const y = new Tensor(x!.type, mem.view(x!.type, yp, n), shape);
          if (x!.quant) y.quant = x!.quant;
          return [y];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      bind({ ins: [xp], inTypes: [xt], outs: [yp], outTypes: [o], scratch }) {
        const shape = o?.shape as number[] | undefined;
        const xd = xt?.shape as number[] | undefined;
        const e = xt ? DTYPES[xt.dtype].bytes : 0;
        if (!shape || !xd || xp === undefined || yp === undefined || xp < 0 || yp < 0 || !Number.isInteger(e) || e < 1) return undefined;
        const n = shape.reduce((p, d) => p * d, 1);
        if (!n) return () => {};
        const meta = scratch(12 * Math.max(shape.length + 1, 1), 'Expand meta');
        return () => expandAt(xd, shape, e, xp, yp, meta);
      },
    };
  },
};

registerKernel(castWasm);
registerKernel(equalWasm);
for (const op of Object.keys(COMPARE)) registerKernel(compareKernel(op));
registerKernel(expandWasm);
for (const op of Object.keys(INT_ARITH)) registerKernel(intArithKernel(op));
