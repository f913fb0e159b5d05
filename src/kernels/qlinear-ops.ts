import { pool2dAt } from '../ir/conv-geometry.js';
import { roundHalfToEven } from '../tensor/rounding.js';
import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { PackedQGemm, i32, ints, isQ8, outKind, outView, type QData, scalarInt } from './qlinear.js';
import { arena, kernels } from './wasm.js';

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

const qlinearAddWasm: KernelDef = {
  op: 'QLinearAdd',
  domain: 'com.microsoft',
  backend: 'wasm',
  prepare(_node, _attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex || !isQ8(types[0]?.dtype)) return decline('needs WASM and 8-bit input');
    return {
      name: 'qs8_qlinear_add',
      run([a, as, az, b, bs, bz, cs, cz], [ot]) {
        const [sa, sb, sc] = [f32Scalar(as), f32Scalar(bs), f32Scalar(cs)];
        // broadcasting: the reference
        if (sa === undefined || sb === undefined || sc === undefined || a!.size !== b!.size || a!.dims.length !== b!.dims.length || a!.dims.some((d, i) => d !== b!.dims[i])) return undefined;
        const n = a!.size;
        const pa = mem.inputBytes(a!.data as QData, 'add input');
        const pb = mem.inputBytes(b!.data as QData, 'add input');
        const y = mem.alloc(n, 'add output');
        ex.qs8_qlinear_add(pa.ptr, sa, scalarInt(az), pb.ptr, sb, scalarInt(bz), n, sc, scalarInt(cz), a!.type === 'uint8' ? 1 : 0, y);
        if (pa.copied) mem.release(pa.ptr);
        if (pb.copied) mem.release(pb.ptr);
        return [new Tensor(ot!.dtype, outView(mem, outKind(ot!.dtype).code, y, n), ot!.shape as number[])];
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
  prepare(_node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex || !isQ8(types[0]?.dtype) || attrs.channels_last) return decline('needs WASM, 8-bit input and channels_first');
    return {
      name: 'qs8_global_avgpool',
      run([x, xs, xz, ys, yz], [ot]) {
        const [sx, sy] = [f32Scalar(xs), f32Scalar(ys)];
        const rows = x!.dims[0]! * x!.dims[1]!;
        const S = rows ? x!.size / rows : 0;
        if (sx === undefined || sy === undefined || S === 0) return undefined;
        const xin = mem.inputBytes(x!.data as QData, 'pool input');
        const sums = mem.alloc(rows * 4, 'pool sums');
        ex.qs8_rowsum(rows, S, xin.ptr, S, x!.type === 'uint8' ? 1 : 0, sums);
        if (xin.copied) mem.release(xin.ptr);
        const sv = i32(mem, sums, rows);
        const [lo, hi] = x!.type === 'uint8' ? [0, 255] : [-128, 127];
        const zx = scalarInt(xz);
        const zy = scalarInt(yz);
        // the reference: round_half_even(fround((Σx − S·x_zp) · fround(x_scale / fround(S · y_scale)))) + y_zp
        const mult = Math.fround(sx / Math.fround(S * sy));
        const y = x!.type === 'uint8' ? new Uint8Array(rows) : new Int8Array(rows);
        for (let i = 0; i < rows; i++) {
          const v = roundHalfToEven(Math.fround((sv[i]! - S * zx) * mult)) + zy;
          y[i] = v !== v ? 0 : v < lo ? lo : v > hi ? hi : v;
        }
        mem.release(sums);
        return [new Tensor(x!.type, y, ot!.shape as number[])];
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
    const b = constant(3);
    const bs = constant(4);
    const bz = constant(5);
    const c = node.inputs[6] ? constant(6) : undefined;
    const a = types[0];
    if (!mem || !kernels() || !b || !bs || !bz || !isQ8(a?.dtype) || !isQ8(b.type) || b.dims.length !== 2 || bs.type !== 'float32') return decline('needs WASM, 8-bit A, a constant 2-D 8-bit B and constant float32 scales');
    if (attrs.alpha !== 1 || attrs.transA || attrs.transB || (attrs.rounding ?? 'onnx') !== 'onnx') return decline('alpha != 1, transposes or non-ONNX rounding');
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
    return {
      name: a.dtype === 'uint8' ? 'qu8_gemm_4x8c2' : 'qs8_gemm_4x8c2',
      run([x, as, az, , , , , ys, yz], [ot]) {
        const asv = f32Scalar(as);
        if (asv === undefined || x!.dims.length !== 2 || x!.dims[1] !== k) return undefined;
        const m = x!.dims[0]!;
        for (let j = 0; j < n; j++) scale[j] = Math.fround(asv * bsv[bsv.length === 1 ? 0 : j]!);
        if (ys) {
          const ysv = f32Scalar(ys);
          if (ysv === undefined) return undefined;
          for (let j = 0; j < n; j++) mult[j] = Math.fround(scale[j]! / ysv);
          const od = ot!.dtype as 'int8' | 'uint8';
          const y = g.run(x!.data as QData, m, x!.type === 'uint8', scalarInt(az), od, mult, scalarInt(yz), cv);
          return [new Tensor(od, y, ot!.shape as number[])];
        }
        const acc = g.run(x!.data as QData, m, x!.type === 'uint8', scalarInt(az), 'int32', undefined, 0, cv) as Int32Array;
        const y = new Float32Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) y[i * n + j] = acc[i * n + j]! * scale[j]!;
        mem.release(acc.byteOffset);
        return [new Tensor('float32', y, ot!.shape as number[])];
      },
      dispose: () => g.dispose(),
    };
  },
};

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
        const r = shape.length;
        const ax = ((_attrs.axis as number) + r) % r;
        let outer = 1;
        for (let i = 0; i < ax; i++) outer *= shape[i]!;
        const total = shape.reduce((a, b) => a * b, 1);
        // inputs in kernel memory by pointer: growing the memory below detaches views of it
        const ptrs = ins.map((t) => mem.ptrOf(t));
        const y = mem.alloc(total, 'concat output');
        const dst = new Uint8Array(mem.buffer, y, total);
        const row = total / Math.max(1, outer) || 0;
        let off = 0;
        for (let i = 0; i < ins.length; i++) {
          const t = ins[i]!;
          const chunk = t.size / Math.max(1, outer) || 0;
          const p = ptrs[i];
          const src = p !== undefined ? new Uint8Array(mem.buffer, p, t.size) : new Uint8Array((t.data as QData).buffer, (t.data as QData).byteOffset, t.size);
          for (let o = 0; o < outer; o++) dst.set(src.subarray(o * chunk, (o + 1) * chunk), o * row + off);
          off += chunk;
        }
        return [new Tensor(ot!.dtype, outView(mem, outKind(ot!.dtype).code, y, total), shape)];
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
