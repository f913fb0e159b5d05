import { Tensor } from '../tensor/tensor.js';
import type { DType, TypedArray } from '../tensor/dtype.js';
import type { ValueType } from '../ir/graph.js';
import { type KernelDef, type PreparedKernel, decline, registerKernel } from './registry.js';
import { arena, bindConstant, kernels } from './wasm.js';
import { isConcrete } from '../ir/dims.js';
import { depthToSpaceView } from '../ops/shape.js';

/**
 * Data movement the layout pass (src/ir/passes/layout.ts) leaves between kernels: Transpose at the graph's edges,
 * DepthToSpace (TFLite's DEPTH_TO_SPACE after a conv) and constant-mode Pad (TFLite's channel pads before a residual Add, spatial pads it did not fold into a conv).
 * 1- and 4-byte elements; outputs stay in kernel memory.
 */
const BYTES: Partial<Record<DType, 1 | 4>> = { float32: 4, int32: 4, uint32: 4, int8: 1, uint8: 1, bool: 1 };

/** Merge adjacent axes that stay adjacent under perm; returns the merged input dims and the merged perm. */
export function mergePerm(dims: readonly number[], perm: readonly number[]): { dims: number[]; perm: number[] } {
  // drop size-1 axes, then merge runs where perm[i+1] = perm[i] + 1
  const keep = perm.filter((p) => dims[p] !== 1);
  const runs: number[][] = [];
  for (const p of keep) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1]! + 1 === p) last.push(p);
    else runs.push([p]);
  }
  const order = [...runs].sort((a, b) => a[0]! - b[0]!);
  const md = order.map((r) => r.reduce((a, p) => a * dims[p]!, 1));
  const mp = runs.map((r) => order.indexOf(r));
  return { dims: md, perm: mp };
}

/**
 * x32_permute4 / x8_permute4's arguments for the input `dims` permuted by `perm`: output dims and input strides,
 * after merging axes to at most 4 (undefined when more remain).
 */
function permute4Args(dims: readonly number[], perm: readonly number[]): [number, number, number, number, number, number, number, number] | undefined {
  const m = mergePerm(dims, perm);
  if (m.dims.length > 4) return undefined;
  const pad = 4 - m.dims.length;
  const d = [...Array(pad).fill(1), ...m.dims];
  const p = [...Array(pad).keys(), ...m.perm.map((q) => q + pad)];
  const st = [d[1]! * d[2]! * d[3]!, d[2]! * d[3]!, d[3]!, 1];
  return [...p.map((q) => d[q]!), ...p.map((q) => st[q]!)] as [number, number, number, number, number, number, number, number];
}

/** A kernel run that moves x's elements (at `xp`, `dims`) to `yp`: the permute kernels by element width. */
type Move = (xp: number, dims: readonly number[], yp: number) => void;

/** Run `move` on x into fresh kernel memory; the result has x's type and the dims `out`. */
function moveOut(mem: NonNullable<ReturnType<typeof arena>>, x: Tensor, esz: number, out: number[], move: Move, what: string): Tensor {
  const xin = mem.inputBytes(x.data as TypedArray, `${what} input`);
  try {
    const op = mem.alloc(x.size * esz, `${what} output`);
    move(xin.ptr, x.dims, op);
    return new Tensor(x.type, mem.view(x.type, op, x.size), out);
  } finally {
    if (xin.copied) mem.release(xin.ptr);
  }
}

/**
 * The prepared kernel of a pure data movement: run() moves into fresh kernel memory, bind() between planned blocks;
 * both decline (the reference) when `ok` rejects the input's dims.
 */
function movingKernel(name: string, mem: NonNullable<ReturnType<typeof arena>>, esz: number, ok: (dims: readonly number[]) => boolean, move: Move, what: string): PreparedKernel {
  return {
    name,
    run([xt], [outType]) {
      if (!ok(xt!.dims)) return undefined; // the reference handles it
      return [moveOut(mem, xt!, esz, outType!.shape as number[], move, what)];
    },
    bind({ ins: [xp], inTypes: [xt], outs: [yp] }) {
      const dims = xt!.shape as number[];
      if (!ok(dims) || xp! < 0 || yp! < 0) return undefined;
      return () => move(xp!, dims, yp!);
    },
  };
}

/** The memory, kernels and element width (1 or 4 bytes) a data-movement kernel needs for input type `x`, or a decline. */
function mover(x: ValueType | undefined): { mem: NonNullable<ReturnType<typeof arena>>; ex: NonNullable<ReturnType<typeof kernels>>; esz: number } | undefined {
  const mem = arena();
  const ex = kernels();
  if (!mem || !ex) return decline('no WASM memory');
  const esz = x && BYTES[x.dtype];
  if (!esz) return decline(`dtype ${x?.dtype}: the kernel moves 1- or 4-byte elements`);
  return { mem, ex, esz };
}

const transposeWasm: KernelDef = {
  op: 'Transpose',
  backend: 'wasm',
  prepare(_node, attrs, types) {
    const m = mover(types[0]);
    if (!m) return undefined;
    const { mem, ex, esz } = m;
    const f = esz === 4 ? ex.x32_permute4 : ex.x8_permute4;
    const args = (dims: readonly number[]) => permute4Args(dims, (attrs.perm as number[] | undefined) ?? [...dims.keys()].reverse());
    const move: Move = (xp, dims, yp) => f(xp, ...args(dims)!, yp);
    return movingKernel(esz === 4 ? 'x32_permute4' : 'x8_permute4', mem, esz, (dims) => !!args(dims), move, 'transpose');
  },
};

/**
 * DepthToSpace (ONNX; data_layout NHWC from TFLite's DEPTH_TO_SPACE when the layout pass did not run) as one data
 * movement: DCR on NCHW of 4-byte elements is x32_depth_to_space (the layout pass's form, after a conv), anything
 * else the 6-D transpose of ops/shape.ts depthToSpaceView on the permute kernels (NHWC merges to 4 axes; what does
 * not — CRD, 1-byte NCHW with N > 1 — declines).
 */
const depthToSpaceWasm: KernelDef = {
  op: 'DepthToSpace',
  backend: 'wasm',
  layouts: true,
  prepare(_node, attrs, types) {
    const m = mover(types[0]);
    if (!m) return undefined;
    const { mem, ex, esz } = m;
    const b: number = attrs.blocksize;
    const dcr = attrs.mode !== 'CRD';
    const nhwc = attrs.data_layout === 'NHWC';
    const view = (dims: readonly number[]) => depthToSpaceView(dims, b, dcr, nhwc);
    const direct = esz === 4 && dcr && !nhwc;
    const permArgs = (dims: readonly number[]) => {
      const v = view(dims);
      return permute4Args(v.dims, v.perm);
    };
    const args = (dims: readonly number[]) => direct || !!permArgs(dims);
    const f = esz === 4 ? ex.x32_permute4 : ex.x8_permute4;
    const move: Move = direct ? (xp, [n, c, h, w], yp) => ex.x32_depth_to_space(xp, n!, c! / (b * b), h!, w!, b, yp) : (xp, dims, yp) => f(xp, ...permArgs(dims)!, yp);
    const shape = types[0]!.shape;
    if (shape && isConcrete(shape) && !args(shape)) return decline('the 6-D view does not merge to 4 axes');
    return movingKernel(direct ? 'x32_depth_to_space' : esz === 4 ? 'x32_permute4' : 'x8_permute4', mem, esz, args, move, 'DepthToSpace');
  },
};

/**
 * Pad with constant non-negative pads: the input is copied in as contiguous blocks (every axis after the last padded
 * one is merged into the block). Mode constant fills the rest with the (constant) value first; modes reflect, edge
 * and wrap then fill each padded axis, innermost first, by copying whole slabs of the output along it (ONNX Pad:
 * "reflect - pads with the reflection of the vector mirrored on the first and last values of the vector along each
 * axis; edge - pads with the edge values of array; wrap - wrap-around padding as if the data tensor forms a torus"),
 * which fills corners as numpy.pad does. Reflect pads wider than the axis minus one run on the reference.
 */
const padWasm: KernelDef = {
  op: 'Pad',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const x = types[0];
    if (!mem) return decline('no WASM memory');
    const mode: string = attrs.mode ?? 'constant';
    if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge' && mode !== 'wrap') return decline(`mode ${mode}`);
    const esz = x && BYTES[x.dtype];
    if (!esz || !x.shape) return decline(`dtype ${x?.dtype}: the kernel moves 1- or 4-byte elements`);
    const pads = constant(1);
    if (!pads || node.inputs[3]) return decline('pads are not a constant (or axes are given)');
    const p = Array.from(pads.data as BigInt64Array, Number);
    const r = x.shape.length;
    if (p.length !== 2 * r || p.some((v) => v < 0)) return decline('negative pads (a crop)');
    const cv = node.inputs[2] ? constant(2) : undefined;
    if (node.inputs[2] && !cv) return decline('the pad value is not a constant');
    const value = cv ? Number((cv.data as ArrayLike<number>)[0] ?? 0) : 0;
    const last = p.reduce((k, v, i) => (v ? Math.max(k, i % r) : k), -1);
    /** X (`dims`, `type`) at xp padded into the n elements (`out`) at op */
    const padAt = (type: DType, xp: number, dims: readonly number[], op: number, out: readonly number[], n: number): void => {
      if (mode === 'constant') (mem.view(type, op, n) as unknown as { fill(v: number): void }).fill(value);
      const bytes = new Uint8Array(mem.buffer);
      // block = the input's axes last..r-1 (axes after `last` unpadded): one copy per index of axes 0..last-1
      const k = Math.max(last, 0);
      let block = esz;
      for (let a = k; a < r; a++) block *= dims[a]!;
      const ostr = new Array<number>(r).fill(esz);
      for (let a = r - 2; a >= 0; a--) ostr[a] = ostr[a + 1]! * out[a + 1]!;
      let base = op;
      for (let a = 0; a < r; a++) base += p[a]! * ostr[a]!;
      const rows = dims.slice(0, k).reduce((a, d) => a * d, 1);
      const idx = new Array<number>(k).fill(0);
      for (let i = 0; i < rows; i++) {
        let o = base;
        for (let a = 0; a < k; a++) o += idx[a]! * ostr[a]!;
        bytes.copyWithin(o, xp + i * block, xp + (i + 1) * block);
        for (let a = k - 1; a >= 0; a--) {
          if (++idx[a]! < dims[a]!) break;
          idx[a] = 0;
        }
      }
      if (mode !== 'constant') {
        // innermost padded axis first: a slab (one index of axis a, all of the axes after it) is complete when
        // copied; slabs in the pad regions of outer axes are overwritten when those axes are filled
        for (let a = r - 1; a >= 0; a--) {
          const pb = p[a]!;
          const d = dims[a]!;
          if (!pb && !p[a + r]) continue;
          const slab = ostr[a]!;
          const outer = out.slice(0, a).reduce((u, v) => u * v, 1);
          const src = (j: number): number => {
            const q = j - pb;
            const m = mode === 'edge' ? Math.min(Math.max(q, 0), d - 1) : mode === 'wrap' ? ((q % d) + d) % d : q < 0 ? -q : 2 * (d - 1) - q;
            return pb + m;
          };
          for (let o = 0; o < outer; o++) {
            const b = op + o * out[a]! * slab;
            for (let j = 0; j < out[a]!; j++) {
              if (j === pb) j = pb + d; // the interior is in place
              if (j >= out[a]!) break;
              const s0 = b + src(j) * slab;
              bytes.copyWithin(b + j * slab, s0, s0 + slab);
            }
          }
        }
      }
    };
    return {
      name: mode === 'constant' ? 'x_pad_constant' : `x_pad_${mode}`,
      run([xt], [outType]) {
        const dims = xt!.dims;
        const out = outType!.shape as number[];
        const n = out.reduce((a, d) => a * d, 1);
        // reflect needs pads < the axis length; edge and wrap an axis that is not empty
        if (mode !== 'constant' && dims.some((d, a) => (p[a]! || p[a + r]!) && (mode === 'reflect' ? Math.max(p[a]!, p[a + r]!) >= d : d === 0))) return undefined;
        const xin = mem.inputBytes(xt!.data as TypedArray, 'pad input');
        try {
          const op = mem.alloc(n * esz, 'pad output');
          const y = new Tensor(xt!.type, mem.view(xt!.type, op, n), out);
          padAt(xt!.type, xin.ptr, dims, op, out, n);
          return [y];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      // static plan: padAt between fixed places
      bind({ ins: [xp], inTypes: [xt], outs: [yp], outTypes: [ot] }) {
        const dims = xt!.shape as number[];
        const out = ot!.shape as number[];
        const n = out.reduce((a, d) => a * d, 1);
        if (xp! < 0 || yp! < 0) return undefined;
        if (mode !== 'constant' && dims.some((d, a) => (p[a]! || p[a + r]!) && (mode === 'reflect' ? Math.max(p[a]!, p[a + r]!) >= d : d === 0))) return undefined;
        return () => padAt(xt!.dtype, xp!, dims, yp!, out, n);
      },
    };
  },
};

/** A 4-byte Concat's output `shape` along `axis` as `outer` rows of `row` bytes (`total` elements). */
function concatRows(shape: readonly number[], axis: number): { outer: number; total: number; row: number } {
  const r = shape.length;
  const ax = ((axis % r) + r) % r;
  let outer = 1;
  for (let i = 0; i < ax; i++) outer *= shape[i]!;
  const total = shape.reduce((a, b) => a * b, 1);
  return { outer, total, row: outer ? (total / outer) * 4 : 0 };
}

/**
 * Concat of 4-byte elements (float32 / int32; 8-bit codes have q8_concat): per outer index one block copy per input
 * (TFLite detectors concatenate their per-scale box and score heads).
 */
const concat32: KernelDef = {
  op: 'Concat',
  backend: 'wasm',
  prepare(_node, attrs, types) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    if (types.some((t) => !t || BYTES[t.dtype] !== 4)) return decline(`dtype ${types[0]?.dtype}: this kernel moves 4-byte elements`);
    return {
      name: 'x32_concat',
      run(inputs, [ot]) {
        const ins = inputs as Tensor[];
        const shape = ot!.shape as number[];
        const { outer, total, row } = concatRows(shape, attrs.axis as number);
        // the resident inputs' places first: the allocation may grow memory, which detaches their views
        const ptrs = ins.map((t) => mem.ptrOf({ data: t.data }));
        const y = mem.alloc(total * 4, 'concat output');
        const bytes = new Uint8Array(mem.buffer);
        let off = 0;
        for (let i = 0; i < ins.length; i++) {
          const chunk = outer ? (ins[i]!.size / outer) * 4 : 0;
          const d = ins[i]!.data as TypedArray;
          const p = ptrs[i];
          if (p !== undefined) for (let o = 0; o < outer; o++) bytes.copyWithin(y + o * row + off, p + o * chunk, p + (o + 1) * chunk);
          else {
            // an input outside kernel memory (a graph input: a decoder's past keys/values fed back by the caller) is
            // copied once, straight into its place in the output, not staged in kernel memory first
            const src = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
            for (let o = 0; o < outer; o++) bytes.set(src.subarray(o * chunk, (o + 1) * chunk), y + o * row + off);
          }
          off += chunk;
        }
        return [new Tensor(ot!.dtype, mem.view(ot!.dtype, y, total), shape)];
      },
      // static plan: the same block copies between fixed places (a constant part copied into held scratch once)
      bind({ ins, consts, inTypes, outs: [yp], outTypes: [ot], scratch }) {
        const { outer, row } = concatRows(ot!.shape as number[], attrs.axis as number);
        if (yp! < 0) return undefined;
        const parts: { ptr: number; chunk: number }[] = [];
        for (let i = 0; i < inTypes.length; i++) {
          const size = (inTypes[i]!.shape as number[]).reduce((a, d) => a * d, 1);
          let ptr = ins[i]!;
          const c = consts[i];
          if (ptr < 0) {
            if (!c || BYTES[c.type] !== 4) return undefined;
            ptr = bindConstant(scratch, c.data as TypedArray, 'concat constant part');
          }
          parts.push({ ptr, chunk: outer ? (size / outer) * 4 : 0 });
        }
        return () => {
          const bytes = new Uint8Array(mem.buffer);
          let off = 0;
          for (const { ptr, chunk } of parts) {
            for (let o = 0; o < outer; o++) bytes.copyWithin(yp! + o * row + off, ptr + o * chunk, ptr + (o + 1) * chunk);
            off += chunk;
          }
        };
      },
    };
  },
};

registerKernel(transposeWasm);
registerKernel(depthToSpaceWasm);
registerKernel(padWasm);
registerKernel(concat32);
