import { ShapeError } from '../errors.js';
import { DTYPES } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { sliceStartSteps } from '../ops/shape.js';
import { type Arena, arena, kernels } from './wasm.js';
import { type KernelDef, decline, registerKernel } from './registry.js';

/**
 * Data movement on float32 in kernel memory (asm/x32_layout.ts x32_strided_copy): Transpose, Slice and Split
 * (Concat of 4-byte elements is permute.ts's x32_concat). Attention graphs reshuffle heads between every pair of MatMuls; on the
 * reference each shuffle left kernel memory and came back.
 */

/** Row-major element strides of `dims`. */
function strides(dims: readonly number[]): number[] {
  const st = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) st[i] = st[i + 1]! * dims[i + 1]!;
  return st;
}

/**
 * Copy the view of `srcPtr` (element strides `st`, element offset `off`) over `shape` into `dst`, contiguous. Size-1
 * dims are dropped and neighbours that step together merged, so a plain block is one memory.copy.
 */
function stridedCopy(mem: Arena, srcPtr: number, off: number, shape: readonly number[], st: readonly number[], dst: number): void {
  const sh: number[] = [];
  const ss: number[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const k = sh.length - 1;
    if (k >= 0 && ss[k] === st[i]! * d) {
      sh[k]! *= d;
      ss[k] = st[i]!;
    } else {
      sh.push(d);
      ss.push(st[i]!);
    }
  });
  if (!sh.length) {
    sh.push(1);
    ss.push(1);
  }
  const r = sh.length;
  // one contiguous block (a Split / Slice along the outermost non-1 axis: a decoder step's Q/K/V parts): a memory copy,
  // no strides table
  if (r === 1 && ss[0] === 1) {
    const b = new Uint8Array(mem.buffer);
    b.copyWithin(dst, srcPtr + off * 4, srcPtr + (off + sh[0]!) * 4);
    return;
  }
  // a (batched) 2-D transpose — out [N?, A, B] reading src [N?, B, A] (NHWC ↔ NCHW): x32_transpose2d's 4×4 blocks
  const [a, b] = [sh[r - 2]!, sh[r - 1]!];
  if (r >= 2 && r <= 3 && ss[r - 2] === 1 && ss[r - 1] === a && (r === 2 || ss[0] === a * b)) {
    kernels()!.x32_transpose2d(srcPtr + off * 4, r === 3 ? sh[0]! : 1, b, a, dst);
    return;
  }
  const meta = mem.alloc(12 * r, 'strided copy meta');
  const m = new Int32Array(mem.buffer, meta, 3 * r);
  m.set(sh, 0);
  m.set(ss, r);
  kernels()!.x32_strided_copy(srcPtr + off * 4, dst, r, meta, meta + 4 * r, meta + 8 * r);
  mem.release(meta);
}

/** Pointer to t's floats in kernel memory (a copy if not resident; release it if `copied`). */
function pin(mem: Arena, t: TensorT, what: string): { ptr: number; copied: boolean } {
  return mem.input(t.data as Float32Array, what);
}

/** The kernel memory for a kernel over a float32 input 0, or undefined after declining (no WASM, another type). */
function f32Arena(types: readonly ({ dtype: string } | undefined)[]): Arena | undefined {
  const mem = arena();
  if (!mem) return decline('no WASM memory');
  if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
  return mem;
}

const transposeWasm: KernelDef = {
  op: 'Transpose',
  backend: 'wasm',
  prepare(_node, attrs, types) {
    const mem = f32Arena(types);
    if (!mem) return undefined;
    const perm = attrs.perm as number[] | undefined;
    return {
      name: 'x32_transpose',
      run([x], [out]) {
        const dims = x!.dims;
        const p = perm ?? dims.map((_, i) => dims.length - 1 - i);
        const st = strides(dims);
        const shape = out!.shape as number[];
        // a perm that only moves size-1 axes (a decoder step's [B, 1, H, hd] ↔ [B, H, 1, hd] head shuffles) keeps the
        // element order: the output is the input's data under the new dims, an alias like Reshape's (no copy)
        let last = -1;
        if (p.every((a) => dims[a] === 1 || (a > last && (last = a) >= 0))) return [new Tensor('float32', x!.data as Float32Array, shape)];
        // inputs first: an allocation may grow memory, which detaches views (a resident input would look foreign)
        const xin = pin(mem, x!, 'Transpose input');
        const y = mem.alloc(x!.size * 4, 'Transpose output');
        if (x!.size) stridedCopy(mem, xin.ptr, 0, shape, p.map((a) => st[a]!), y);
        if (xin.copied) mem.release(xin.ptr);
        return [new Tensor('float32', mem.f32(y, x!.size), shape)];
      },
      // static plan: the same strided copy between fixed places (a perm moving only size-1 axes: a plain copy, the
      // bytes run() hands on under the new dims)
      bind({ ins: [xp], inTypes: [xt], outs: [yp], outTypes: [o] }) {
        const dims = xt!.shape as number[];
        if (xp! < 0 || yp! < 0) return undefined;
        const p = perm ?? dims.map((_, i) => dims.length - 1 - i);
        const st = strides(dims);
        const size = dims.reduce((a, d) => a * d, 1);
        const shape = o!.shape as number[];
        let last = -1;
        const same = p.every((a) => dims[a] === 1 || (a > last && (last = a) >= 0));
        if (!size) return () => {};
        return same ? () => stridedCopy(mem, xp!, 0, [size], [1], yp!) : () => stridedCopy(mem, xp!, 0, shape, p.map((a) => st[a]!), yp!);
      },
    };
  },
};

const sliceWasm: KernelDef = {
  op: 'Slice',
  backend: 'wasm',
  prepare(node, attrs, types) {
    const mem = f32Arena(types);
    if (!mem) return undefined;
    return {
      name: 'x32_slice',
      run(inputs, [out]) {
        const x = inputs[0]!;
        const per = sliceStartSteps(node, attrs, inputs);
        const st = strides(x.dims);
        const shape = out!.shape as number[];
        const n = shape.reduce((a, d) => a * d, 1);
        const xin = pin(mem, x, 'Slice input');
        const y = mem.alloc(n * 4, 'Slice output');
        if (n) {
          const off = per.reduce((a, s, i) => a + s.start * st[i]!, 0);
          stridedCopy(mem, xin.ptr, off, shape, per.map((s, i) => s.step * st[i]!), y);
        }
        if (xin.copied) mem.release(xin.ptr);
        return [new Tensor('float32', mem.f32(y, n), shape)];
      },
      // static plan: starts/ends/axes/steps constant (an ONNX Slice's inputs 1–4, or attributes), the strided copy
      // between fixed places
      bind({ ins, consts, inTypes: [xt], outs: [yp], outTypes: [o] }) {
        if (ins[0]! < 0 || yp! < 0 || ins.some((p, i) => i > 0 && p >= 0)) return undefined;
        const dims = xt!.shape as number[];
        const per = sliceStartSteps(node, attrs, [{ dims, type: xt!.dtype } as unknown as TensorT, ...consts.slice(1)]);
        const st = strides(dims);
        const shape = o!.shape as number[];
        const n = shape.reduce((a, d) => a * d, 1);
        const off = per.reduce((a, s, i) => a + s.start * st[i]!, 0);
        const ss = per.map((s, i) => s.step * st[i]!);
        return () => {
          if (n) stridedCopy(mem, ins[0]!, off, shape, ss, yp!);
        };
      },
    };
  },
};

/** Concat / Split geometry: the parts are blocks of `len_i · inner` floats repeated `outer` times along the axis. */
function axisGeometry(dims: readonly number[], axis: number): { outer: number; inner: number } {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i]!;
  let inner = 1;
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i]!;
  return { outer, inner };
}

/**
 * Split's parts: part i starts `at_i · inner` floats into the input (the sum of the earlier parts' lengths along the
 * axis) and reads the input's strides over its own shape.
 */
function splitParts(dims: readonly number[], ax: number, shapes: readonly (readonly number[])[]): { off: number; shape: number[]; n: number }[] {
  const { inner } = axisGeometry(dims, ax);
  let at = 0;
  return shapes.map((s) => {
    const part = { off: at * inner, shape: [...s], n: s.reduce((a, d) => a * d, 1) };
    at += s[ax]!;
    return part;
  });
}

const splitWasm: KernelDef = {
  op: 'Split',
  backend: 'wasm',
  prepare(_node, attrs, types) {
    const mem = f32Arena(types);
    if (!mem) return undefined;
    const a0: number = attrs.axis ?? 0;
    return {
      name: 'x32_split',
      run([x], outs) {
        const dims = x!.dims;
        const ax = (a0 + dims.length) % dims.length;
        const st = strides(dims);
        const xin = pin(mem, x!, 'Split input');
        const blocks = splitParts(dims, ax, outs.map((o) => o!.shape as number[])).map(({ off, shape, n }) => {
          const y = mem.alloc(n * 4, 'Split output');
          if (n) stridedCopy(mem, xin.ptr, off, shape, st, y);
          return [y, n, shape] as const;
        });
        if (xin.copied) mem.release(xin.ptr);
        // views last: a later allocation may have grown (and detached) memory
        return blocks.map(([y, n, shape]) => new Tensor('float32', mem.f32(y, n), shape));
      },
      // static plan (an unrolled LSTM's gates, a fused QKV projection): the same strided copies between fixed places;
      // an output nobody reads (offset -1) is skipped. The split sizes are in the output shapes, so a constant or
      // attribute `split` needs nothing here.
      bind({ ins: [xp], inTypes: [xt], outs, outTypes }) {
        const dims = xt?.shape as number[] | undefined;
        if (!dims || xp === undefined || xp < 0) return undefined;
        const ax = (a0 + dims.length) % dims.length;
        const st = strides(dims);
        const parts = splitParts(dims, ax, outTypes.map((o) => o.shape as number[]))
          .map((p, i) => ({ ...p, y: outs[i]! }))
          .filter((p) => p.y >= 0 && p.n > 0);
        return () => {
          for (const p of parts) stridedCopy(mem, xp, p.off, p.shape, st, p.y);
        };
      },
    };
  },
};

/**
 * Gather of rows of a float32, float16 or 8-bit table (embedding lookup: Gather(weight[V, D], ids) on axis 0, or any
 * axis with the rows after it contiguous — float32 embeddings, a quantized model's uint8 / int8 table):
 * each index copies one block of `inner` elements (as bytes) into kernel memory, so the embeddings start the network
 * resident. Indices were range-checked by the op's shape rule (ONNX: "values must be within bounds [-s, s-1]").
 */
const gatherWasm: KernelDef = {
  op: 'Gather',
  backend: 'wasm',
  prepare(node, attrs, types) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    const dt = types[0]?.dtype;
    // tables of rows: float32, a float16 or 8-bit (quantized) embedding; integer index / shape math stays on the reference
    if (!dt || !['float32', 'float16', 'int8', 'uint8'].includes(dt)) return decline(`input is ${dt ?? 'of unknown type'}, not a float32 / float16 / 8-bit table`);
    const info = DTYPES[dt];
    const esz = info.bytes;
    const a0: number = attrs.axis ?? 0;
    /** the rows of `idx` (numbers or bigints, range-checked) from the table bytes `src` into `dst` */
    const copyRows = (src: Uint8Array, dst: Uint8Array, idx: ArrayLike<number | bigint>, outer: number, len: number, inner: number) => {
      const row = inner * esz;
      let p = 0;
      for (let o = 0; o < outer; o++)
        for (let k = 0; k < idx.length; k++) {
          const i = Number(idx[k]!);
          const b = (o * len + (i < 0 ? i + len : i)) * row;
          dst.set(src.subarray(b, b + row), p);
          p += row;
        }
    };
    const bytesOf = (t: ArrayBufferView) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    return {
      name: esz === 4 ? 'x32_gather' : `x${esz * 8}_gather`,
      run([x, ind], [out]) {
        const dims = x!.dims;
        const ax = a0 < 0 ? a0 + dims.length : a0;
        const { outer, inner } = axisGeometry(dims, ax);
        const idx = ind!.toNumbers();
        const shape = out!.shape as number[];
        const total = outer * idx.length * inner;
        // a constant table (JS memory) is read where it is: only the gathered rows enter kernel memory
        const xp = mem.ptrOf(x!);
        const y = mem.alloc(Math.max(total * esz, 1), 'Gather output');
        const src = xp !== undefined ? new Uint8Array(mem.buffer, xp, x!.size * esz) : bytesOf(x!.data as ArrayBufferView);
        copyRows(src, new Uint8Array(mem.buffer, y, total * esz), idx, outer, dims[ax]!, inner);
        return [new Tensor(dt, new info.array!(mem.buffer, y, total) as never, shape)];
      },
      // in a static plan (a decoder step's token embedding): the indices are a run-time block (int32 or int64), so each
      // call checks them as the op's shape rule does on run() (untrusted input), then copies the rows
      // constant indices (silero's Gather(state, 0) picking h or c) are checked once, here
      bind({ ins: [xp, ip], consts: [xc, ic], inTypes: [xt, it], outs: [yp] }) {
        const dims = xt?.shape as number[] | undefined;
        const idims = (ic?.dims ?? it?.shape) as number[] | undefined;
        if (!dims || !idims || ((ip === undefined || ip < 0) && !ic) || yp === undefined || yp < 0 || (xp! < 0 && !xc)) return undefined;
        const ax = a0 < 0 ? a0 + dims.length : a0;
        const { outer, inner } = axisGeometry(dims, ax);
        const len = dims[ax]!;
        const n = idims.reduce((a, d) => a * d, 1);
        const fixed = ic?.toNumbers();
        if (fixed?.some((i) => i < -len || i >= len)) return undefined; // the general path's ShapeError says which
        if (!fixed && it!.dtype !== 'int32' && it!.dtype !== 'int64') return undefined;
        const wide = it?.dtype === 'int64';
        const table = xc ? bytesOf(xc.data as ArrayBufferView) : undefined;
        const xbytes = outer * len * inner * esz;
        return () => {
          const buf = mem.buffer;
          const idx = fixed ?? (wide ? new BigInt64Array(buf, ip!, n) : new Int32Array(buf, ip!, n));
          for (let k = 0; k < n; k++) {
            const i = Number(idx[k]!);
            // ONNX: "All index values are expected to be within bounds [-s, s-1] along axis of size s"
            if (i < -len || i >= len) throw new ShapeError(`node '${node.name}' (Gather): indices[${k}] = ${i} out of range [${-len}, ${len - 1}]`);
          }
          copyRows(table ?? new Uint8Array(buf, xp!, xbytes), new Uint8Array(buf, yp, outer * n * inner * esz), idx, outer, len, inner);
        };
      },
    };
  },
};

registerKernel(gatherWasm);
registerKernel(transposeWasm);
registerKernel(sliceWasm);
registerKernel(splitWasm);
