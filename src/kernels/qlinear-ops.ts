import { pool2dAt } from '../ir/conv-geometry.js';
import { roundHalfToEven } from '../tensor/rounding.js';
import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { PackedQGemm, i32, ints, isQ8, outKind, outView, type QData, scalarInt } from './qlinear.js';
import { tflLutKernel } from './tflite-int8.js';
import { arena, bindConstant, kernels } from './wasm.js';

/**
 * The int8 / uint8 ops around the convolutions of a quantized model, as WASM kernels bit-identical to the TS
 * reference ops (src/ops/quant.ts, src/ops/pool.ts): QuantizeLinear (float32 → 8-bit, per tensor), QLinearAdd
 * (same shapes), MaxPool on 8-bit codes, QLinearGlobalAveragePool and QGemm (com.microsoft). QDQ fusion
 * (src/ir/passes/qdq-fuse.ts) produces the com.microsoft ops and the 8-bit MaxPool from a QDQ model. Anything
 * else (broadcasting, per-axis parameters, float16 scales, NHWC …) is declined and runs the reference.
 */

const f32Scalar = (t: Tensor | undefined): number | undefined => (t && t.type === 'float32' && t.size === 1 ? (t.data as Float32Array)[0]! : undefined);

const quantizeLinearWasm: KernelDef = {
  op: 'QuantizeLinear',
  backend: 'wasm',
  prepare(node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex || types[0]?.dtype !== 'float32' || types[1]?.dtype !== 'float32') return decline('needs WASM with float32 X and scale');
    if ((attrs.block_size ?? 0) !== 0 || ![0, 1].includes((attrs.precision as number | undefined) ?? 0)) return decline('blocked quantization or an unsupported precision');
    if (node.inputs[2] && !isQ8(types[2]?.dtype)) return decline('zero point is not 8-bit');
    return {
      name: 'qs8_quantize_f32',
      // static plan: a constant per-tensor scale and zero point (a QDQ model's input quantizer)
      bind({ ins: [xp], consts: [, s, z], outs: [yp], outTypes: [ot] }) {
        const sv = f32Scalar(s);
        const n = (ot?.shape as number[] | undefined)?.reduce((a, d) => a * d, 1);
        if (sv === undefined || (node.inputs[2] && !z) || (z && z.size !== 1) || !isQ8(ot?.dtype) || n === undefined || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
        const [zv, uns] = [scalarInt(z), ot!.dtype === 'uint8' ? 1 : 0];
        return () => ex.qs8_quantize_f32(xp, n, sv, zv, uns, yp);
      },
      run([x, s, z], [ot]) {
        const sv = f32Scalar(s);
        if (sv === undefined || (z && z.size !== 1) || !isQ8(ot!.dtype)) return undefined;
        const xin = mem.input(x!.data as Float32Array, 'quantize input');
        const y = mem.alloc(x!.size, 'quantize output');
        ex.qs8_quantize_f32(xin.ptr, x!.size, sv, scalarInt(z), ot!.dtype === 'uint8' ? 1 : 0, y);
        if (xin.copied) mem.release(xin.ptr);
        return [new Tensor(ot!.dtype, outView(mem, outKind(ot!.dtype).code, y, x!.size), ot!.shape as number[])];
      },
    };
  },
};

/**
 * DequantizeLinear of 8-bit codes with a constant per-tensor scale and zero point ("y = (x − x_zero_point) ·
 * x_scale"): 256 possible inputs, so a float32 table made by the reference op itself (bit-identical by construction)
 * and one lookup per element (x8_lut_f32) — the float output of a QDQ model, which otherwise ran on the reference.
 */
registerKernel(
  // y has x_scale's type, or output_dtype's when set (opset 23); the tables are float32 (or 8-bit)
  tflLutKernel('DequantizeLinear', '', 3, (types, attrs) => {
    const dt = types[1]?.dtype;
    return dt === 'float32' && [0, 1].includes((attrs.output_dtype as number | undefined) ?? 0) ? 'float32' : undefined;
  }),
);

/**
 * QLinearAdd's operands as rows: the one whose shape is the output's ("big") and the other, equal to it or repeated
 * along its leading dims (a bias row [N] beside [M×N]); `swap`: the big one is B. Undefined for any other broadcast
 * (the reference). The sum f32(sa·(a − za)) + f32(sb·(b − zb)) is commutative, so swapping is exact.
 */
function addRows(da: readonly number[], db: readonly number[]): { swap: boolean; outer: number; inner: number } | undefined {
  const size = (d: readonly number[]) => d.reduce((x, y) => x * y, 1);
  const suffixOf = (big: readonly number[], small: readonly number[]) => {
    let i = 0;
    while (i < small.length - 1 && small[i] === 1) i++;
    const s = small.slice(i);
    return s.length <= big.length && s.every((v, j) => v === big[big.length - s.length + j]);
  };
  const [na, nb] = [size(da), size(db)];
  if (!na || !nb) return undefined;
  if (da.length >= db.length && nb <= na && suffixOf(da, db)) return { swap: false, outer: na / nb, inner: nb };
  if (db.length >= da.length && na < nb && suffixOf(db, da)) return { swap: true, outer: nb / na, inner: na };
  return undefined;
}

const qlinearAddWasm: KernelDef = {
  op: 'QLinearAdd',
  domain: 'com.microsoft',
  backend: 'wasm',
  prepare(node, _attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex || !isQ8(types[0]?.dtype)) return decline('needs WASM and 8-bit input');
    /** y = QLinearAdd over the rows (addRows) of operands at pa, pb */
    const addAt = (rows: NonNullable<ReturnType<typeof addRows>>, pa: number, sa: number, za: number, pb: number, sb: number, zb: number, sc: number, zc: number, uns: number, y: number) => {
      const [p, s, z, q, t, w] = rows.swap ? [pb, sb, zb, pa, sa, za] : [pa, sa, za, pb, sb, zb];
      for (let o = 0, off = 0; o < rows.outer; o++, off += rows.inner) ex.qs8_qlinear_add(p + off, s, z, q, t, w, rows.inner, sc, zc, uns, y + off);
    };
    return {
      name: 'qs8_qlinear_add',
      run([a, as, az, b, bs, bz, cs, cz], [ot]) {
        const [sa, sb, sc] = [f32Scalar(as), f32Scalar(bs), f32Scalar(cs)];
        const rows = addRows(a!.dims, b!.dims);
        // other broadcasts: the reference
        if (sa === undefined || sb === undefined || sc === undefined || !rows) return undefined;
        const n = rows.outer * rows.inner;
        const pa = mem.inputBytes(a!.data as QData, 'add input');
        const pb = mem.inputBytes(b!.data as QData, 'add input');
        const y = mem.alloc(n, 'add output');
        addAt(rows, pa.ptr, sa, scalarInt(az), pb.ptr, sb, scalarInt(bz), sc, scalarInt(cz), a!.type === 'uint8' ? 1 : 0, y);
        if (pa.copied) mem.release(pa.ptr);
        if (pb.copied) mem.release(pb.ptr);
        return [new Tensor(ot!.dtype, outView(mem, outKind(ot!.dtype).code, y, n), ot!.shape as number[])];
      },
      // static plan: constant scales and zero points; a constant operand (a bias) is copied into plan scratch once
      bind({ ins, consts, inTypes, outs: [yp], scratch }) {
        const [as, az, bs, bz, cs, cz] = [consts[1], consts[2], consts[4], consts[5], consts[6], consts[7]];
        const [sa, sb, sc] = [f32Scalar(as), f32Scalar(bs), f32Scalar(cs)];
        const [ta, tb] = [inTypes[0]?.shape as number[] | undefined, inTypes[3]?.shape as number[] | undefined];
        const rows = ta && tb ? addRows(ta, tb) : undefined;
        if (sa === undefined || sb === undefined || sc === undefined || !rows) return undefined;
        for (const [i, z] of [[2, az], [5, bz], [7, cz]] as const) if (node.inputs[i] && !z) return undefined;
        const at = (i: number) => (ins[i]! >= 0 ? ins[i]! : consts[i] ? bindConstant(scratch, consts[i]!.data as ArrayBufferView, 'add operand') : -1);
        const [pa, pb] = [at(0), at(3)];
        if (pa < 0 || pb < 0 || yp === undefined || yp < 0) return undefined;
        const [za, zb, zc, uns] = [scalarInt(az), scalarInt(bz), scalarInt(cz), inTypes[0]!.dtype === 'uint8' ? 1 : 0];
        return () => addAt(rows, pa, sa, za, pb, sb, zb, sc, zc, uns, yp);
      },
    };
  },
};

const maxPoolQ8Wasm: KernelDef = {
  op: 'MaxPool',
  backend: 'wasm',
  prepare(node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    const x = types[0];
    if (!mem || !ex || !isQ8(x?.dtype) || x.shape?.length !== 4 || (attrs.kernel_shape as number[]).length !== 2) return decline('needs WASM, 8-bit 4-D X and a 2-D window');
    if ((attrs.data_layout ?? 'NCHW') !== 'NCHW' || (node.outputs.length > 1 && node.outputs[1] !== '')) return decline('NHWC layout or an Indices output');
    if (((attrs.dilations as number[] | undefined) ?? [1, 1]).some((d) => d !== 1)) return decline('dilated pooling');
    const [kh, kw] = attrs.kernel_shape as [number, number];
    return {
      name: 'qs8_maxpool2d',
      // static plan: the same call on the input and output blocks, the column maxima in plan scratch
      bind({ ins: [xp], inTypes: [xt], outs: [yp], scratch }) {
        const d = xt?.shape as number[] | undefined;
        if (!d || d.length !== 4 || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
        const [n, c, ih, iw] = d as [number, number, number, number];
        const g = pool2dAt(ih, iw, kh, kw, attrs);
        const [oh, ow] = g.out as [number, number];
        const tmp = scratch(iw + 16, 'pool column maxima');
        const uns = xt!.dtype === 'uint8' ? 1 : 0;
        return () => ex.qs8_maxpool2d(xp, n * c, ih, iw, kh, kw, g.strides[0]!, g.strides[1]!, g.padBegin[0]!, g.padBegin[1]!, oh, ow, uns, yp, tmp);
      },
      run([input], [ot]) {
        const xt = input!;
        const [n, c, ih, iw] = xt.dims as [number, number, number, number];
        const g = pool2dAt(ih, iw, kh, kw, attrs);
        const [oh, ow] = g.out as [number, number];
        const xin = mem.inputBytes(xt.data as QData, 'pool input');
        const y = mem.alloc(n * c * oh * ow, 'pool output');
        const tmp = mem.alloc(iw + 16, 'pool column maxima');
        ex.qs8_maxpool2d(xin.ptr, n * c, ih, iw, kh, kw, g.strides[0]!, g.strides[1]!, g.padBegin[0]!, g.padBegin[1]!, oh, ow, xt.type === 'uint8' ? 1 : 0, y, tmp);
        mem.release(tmp);
        if (xin.copied) mem.release(xin.ptr);
        return [new Tensor(xt.type, outView(mem, outKind(xt.type).code, y, n * c * oh * ow), ot!.shape as number[])];
      },
    };
  },
};

/** QLinearGlobalAveragePool, NCHW: the exact integer sums by qs8_rowsum, the reference's requantization in JS. */
const qlinearGapWasm: KernelDef = {
  op: 'QLinearGlobalAveragePool',
  domain: 'com.microsoft',
  backend: 'wasm',
  prepare(node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex || !isQ8(types[0]?.dtype) || attrs.channels_last) return decline('needs WASM, 8-bit input and channels_first');
    const uns = types[0]!.dtype === 'uint8';
    const [lo, hi] = uns ? [0, 255] : [-128, 127];
    /** y[i] for each of `rows` rows of S codes at xp (sums in the int32 block `sums`), into `y` */
    const gap = (xp: number, rows: number, S: number, sx: number, zx: number, sy: number, zy: number, sums: number, y: Int8Array | Uint8Array) => {
      ex.qs8_rowsum(rows, S, xp, S, uns ? 1 : 0, sums);
      const sv = i32(mem, sums, rows);
      // the reference: round_half_even(fround((Σx − S·x_zp) · fround(x_scale / fround(S · y_scale)))) + y_zp
      const mult = Math.fround(sx / Math.fround(S * sy));
      for (let i = 0; i < rows; i++) {
        const v = roundHalfToEven(Math.fround((sv[i]! - S * zx) * mult)) + zy;
        y[i] = v !== v ? 0 : v < lo ? lo : v > hi ? hi : v;
      }
    };
    return {
      name: 'qs8_global_avgpool',
      run([x, xs, xz, ys, yz], [ot]) {
        const [sx, sy] = [f32Scalar(xs), f32Scalar(ys)];
        const rows = x!.dims[0]! * x!.dims[1]!;
        const S = rows ? x!.size / rows : 0;
        if (sx === undefined || sy === undefined || S === 0) return undefined;
        const xin = mem.inputBytes(x!.data as QData, 'pool input');
        const sums = mem.alloc(rows * 4, 'pool sums');
        const y = uns ? new Uint8Array(rows) : new Int8Array(rows);
        gap(xin.ptr, rows, S, sx, scalarInt(xz), sy, scalarInt(yz), sums, y);
        if (xin.copied) mem.release(xin.ptr);
        mem.release(sums);
        return [new Tensor(x!.type, y, ot!.shape as number[])];
      },
      // static plan: constant scales and zero points; the codes written into the output block
      bind({ ins: [xp], consts: [, xs, xz, ys, yz], inTypes: [xt], outs: [yp], scratch }) {
        const [sx, sy] = [f32Scalar(xs), f32Scalar(ys)];
        const d = xt?.shape as number[] | undefined;
        if (sx === undefined || sy === undefined || !d || d.length < 2 || (node.inputs[2] && !xz) || (node.inputs[4] && !yz)) return undefined;
        const rows = d[0]! * d[1]!;
        const S = rows ? d.reduce((a, v) => a * v, 1) / rows : 0;
        if (S === 0 || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
        const sums = scratch(rows * 4, 'pool sums');
        const [zx, zy] = [scalarInt(xz), scalarInt(yz)];
        let buf: ArrayBufferLike | undefined;
        let y: Int8Array | Uint8Array = new Uint8Array(0);
        return () => {
          // (a view of the output block, taken again when the memory has grown)
          if (mem.buffer !== buf) y = uns ? new Uint8Array((buf = mem.buffer), yp, rows) : new Int8Array((buf = mem.buffer), yp, rows);
          gap(xp, rows, S, sx, zx, sy, zy, sums, y);
        };
      },
    };
  },
};

/**
 * QGemm (com.microsoft), A [M×K] 8-bit per tensor, constant B [K×N] (transB = 0, alpha = 1) per tensor or per
 * column, optional constant int32 C of N: PackedQGemm with C added to the accumulator; y_scale given → requantized
 * like QLinearMatMul, else float32 acc · fround(a_scale · b_scale[j]). The reference adds C to the wrapped int32
 * sum in float64, the kernel in int32: identical unless K·255² + max|C| ≥ 2^31, which prepare declines.
 */
const qgemmWasm: KernelDef = {
  op: 'QGemm',
  domain: 'com.microsoft',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const bt = constant(3);
    const bs = constant(4);
    const bz = constant(5);
    const c = node.inputs[6] ? constant(6) : undefined;
    const a = types[0];
    if (!mem || !kernels() || !bt || !bs || !bz || !isQ8(a?.dtype) || !isQ8(bt.type) || bt.dims.length !== 2 || bs.type !== 'float32') return decline('needs WASM, 8-bit A, a constant 2-D 8-bit B and constant float32 scales');
    if (attrs.alpha !== 1 || attrs.transA || (attrs.rounding ?? 'onnx') !== 'onnx') return decline('alpha != 1, a transposed A or non-ONNX rounding');
    // transB (a PyTorch Linear's [N×K] weight): B is a constant, transposed once here
    const b = attrs.transB ? transposed8(bt) : bt;
    const [k, n] = b.dims as [number, number];
    if (!(bs.size === 1 || bs.size === n) || !(bz.size === 1 || bz.size === n)) return decline("B's scale/zero point are neither per-tensor nor per-column");
    if (node.inputs[6] && (!c || c.type !== 'int32' || !(c.dims.length === 1 || (c.dims.length === 2 && c.dims[0] === 1)) || c.size !== n)) return decline('C is not a constant int32 row of N');
    const cv = c ? (c.data as Int32Array) : undefined;
    let cmax = 0;
    if (cv) for (let j = 0; j < n; j++) cmax = Math.max(cmax, Math.abs(cv[j]!));
    if (k * 255 * 255 + cmax >= 2 ** 31) return decline('int32 accumulator could overflow for this K');
    const g = new PackedQGemm(mem, k, n, b, ints(bz));
    const bsv = bs.data as Float32Array;
    const mult = new Float64Array(((n + 7) >> 3) << 3);
    const scale = new Float32Array(n);
    /** scale[j] = a_scale · b_scale[j] in float32 */
    const scales = (asv: number) => {
      for (let j = 0; j < n; j++) scale[j] = Math.fround(asv * bsv[bsv.length === 1 ? 0 : j]!);
    };
    /** the requantization multipliers scale[j] / y_scale (float32) into `into` */
    const multipliers = (asv: number, ysv: number, into: Float64Array) => {
      scales(asv);
      for (let j = 0; j < n; j++) into[j] = Math.fround(scale[j]! / ysv);
      return into;
    };
    return {
      name: a.dtype === 'uint8' ? 'qu8_gemm_4x8c2' : 'qs8_gemm_4x8c2',
      run([x, as, az, , , , , ys, yz], [ot]) {
        const asv = f32Scalar(as);
        if (asv === undefined || x!.dims.length !== 2 || x!.dims[1] !== k) return undefined;
        const m = x!.dims[0]!;
        if (ys) {
          const ysv = f32Scalar(ys);
          if (ysv === undefined) return undefined;
          multipliers(asv, ysv, mult);
          const od = ot!.dtype as 'int8' | 'uint8';
          const y = g.run(x!.data as QData, m, x!.type === 'uint8', scalarInt(az), od, mult, scalarInt(yz), cv);
          return [new Tensor(od, y, ot!.shape as number[])];
        }
        scales(asv);
        const acc = g.run(x!.data as QData, m, x!.type === 'uint8', scalarInt(az), 'int32', undefined, 0, cv) as Int32Array;
        const y = new Float32Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) y[i * n + j] = acc[i * n + j]! * scale[j]!;
        mem.release(acc.byteOffset);
        return [new Tensor('float32', y, ot!.shape as number[])];
      },
      // static plan: the requantized form (y_scale given) with constant scales and zero points, as run() computes them;
      // the float32 form keeps the general path
      bind({ ins: [xp], consts: [, as, az, , , , , ys, yz], inTypes: [xt], outs: [op], outTypes: [ot], scratch }) {
        const asv = f32Scalar(as);
        const ysv = f32Scalar(ys);
        const shape = xt?.shape as number[] | undefined;
        if (asv === undefined || ysv === undefined || !shape || shape.length !== 2 || shape[1] !== k || (node.inputs[2] && !az) || (node.inputs[8] && !yz)) return undefined;
        if (xp === undefined || op === undefined || xp < 0 || op < 0 || !isQ8(ot?.dtype)) return undefined;
        return g.bindGemm(xp, shape[0]!, xt!.dtype === 'uint8', scalarInt(az), ot!.dtype as 'int8' | 'uint8', multipliers(asv, ysv, new Float64Array(n)), scalarInt(yz), cv, op, scratch);
      },
      dispose: () => g.dispose(),
    };
  },
};

/** A constant 2-D 8-bit matrix transposed (its codes moved, nothing requantized). */
function transposed8(t: Tensor): Tensor {
  const [r, c] = t.dims as [number, number];
  const src = t.data as Int8Array | Uint8Array;
  const out = t.type === 'uint8' ? new Uint8Array(r * c) : new Int8Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
  return new Tensor(t.type, out, [c, r]);
}

/**
 * Concat's layout of 8-bit parts: `outer` rows (the dims before the axis) of `row` output bytes, each part contributing
 * `chunk` bytes at byte `off` of every row.
 */
function concatRows(shape: readonly number[], axisAttr: number, sizes: readonly number[]): { outer: number; row: number; parts: { chunk: number; off: number }[] } {
  const r = shape.length;
  const ax = (axisAttr + r) % r;
  let outer = 1;
  for (let i = 0; i < ax; i++) outer *= shape[i]!;
  const row = shape.reduce((a, b) => a * b, 1) / Math.max(1, outer) || 0;
  let off = 0;
  const parts = sizes.map((size) => {
    const chunk = size / Math.max(1, outer) || 0;
    off += chunk;
    return { chunk, off: off - chunk };
  });
  return { outer, row, parts };
}

/** Each part's rows (`srcs[i]`: its bytes) into the output bytes `dst`, as concatRows lays them out. */
function copyConcatRows(dst: Uint8Array, srcs: readonly Uint8Array[], { outer, row, parts }: ReturnType<typeof concatRows>): void {
  parts.forEach(({ chunk, off }, i) => {
    for (let o = 0; o < outer; o++) dst.set(srcs[i]!.subarray(o * chunk, (o + 1) * chunk), o * row + off);
  });
}

/** Concat of 8-bit tensors (the codes between quantized ops): one block copy per input and outer index. */
const concatQ8: KernelDef = {
  op: 'Concat',
  backend: 'wasm',
  prepare(_node, _attrs, types) {
    const mem = arena();
    if (!mem || !isQ8(types[0]?.dtype)) return decline('needs WASM and 8-bit input');
    return {
      name: 'q8_concat',
      run(inputs, [ot]) {
        const ins = inputs as Tensor[];
        const shape = ot!.shape as number[];
        const total = shape.reduce((a, b) => a * b, 1);
        // inputs in kernel memory by pointer: growing the memory below detaches views of it
        const ptrs = ins.map((t) => mem.ptrOf(t));
        const y = mem.alloc(total, 'concat output');
        const srcs = ins.map((t, i) => (ptrs[i] !== undefined ? new Uint8Array(mem.buffer, ptrs[i], t.size) : new Uint8Array((t.data as QData).buffer, (t.data as QData).byteOffset, t.size)));
        copyConcatRows(new Uint8Array(mem.buffer, y, total), srcs, concatRows(shape, _attrs.axis as number, ins.map((t) => t.size)));
        return [new Tensor(ot!.dtype, outView(mem, outKind(ot!.dtype).code, y, total), shape)];
      },
      // static plan: each part's rows copied into the output block (a constant part from plan scratch)
      bind({ ins, consts, inTypes, outs: [yp], outTypes: [ot], scratch }) {
        const shape = ot?.shape as number[] | undefined;
        if (!shape || yp === undefined || yp < 0) return undefined;
        const sizes: number[] = [];
        const ptrs: number[] = [];
        for (let i = 0; i < ins.length; i++) {
          const size = (inTypes[i]?.shape as number[] | undefined)?.reduce((a, d) => a * d, 1);
          const p = ins[i]! >= 0 ? ins[i]! : consts[i] ? bindConstant(scratch, consts[i]!.data as ArrayBufferView, 'concat part') : -1;
          if (size === undefined || p < 0) return undefined;
          sizes.push(size);
          ptrs.push(p);
        }
        const layout = concatRows(shape, _attrs.axis as number, sizes);
        const total = shape.reduce((a, d) => a * d, 1);
        return () => {
          const buf = mem.buffer;
          copyConcatRows(new Uint8Array(buf, yp, total), ptrs.map((p, i) => new Uint8Array(buf, p, sizes[i]!)), layout);
        };
      },
    };
  },
};

registerKernel(quantizeLinearWasm);
registerKernel(concatQ8);
registerKernel(qlinearAddWasm);
registerKernel(maxPoolQ8Wasm);
registerKernel(qlinearGapWasm);
registerKernel(qgemmWasm);
