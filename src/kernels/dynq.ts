/**
 * Dynamic quantization on WASM: DynamicQuantizeLinear (the glue the generic reference spent more time in than the
 * integer GEMM) and the fused DynamicQuantizeMatMul. Results are bit-exact with the references
 * (src/ops/quant.ts DynamicQuantizeLinear).
 */
import { dynamicQuantParamsOf } from '../ops/quant.js';
import { floats } from '../ops/util.js';
import { getOp } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { ints, isQ8, PackedQGemm } from './qlinear.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type Arena, arena, kernels } from './wasm.js';

/**
 * DynamicQuantizeLinear's scale and zero point for the n float32 at `xp` (asm f32_minmax0 into the 8 bytes at `mm`),
 * or undefined for a degenerate range — all zeros (scale 0) or non-finite values — whose results the reference makes.
 */
function rangeOf(mem: Arena, xp: number, n: number, mm: number): { scale: number; zp: number } | undefined {
  kernels()!.f32_minmax0(xp, n, mm);
  const r = mem.f32(mm, 2);
  const q = dynamicQuantParamsOf(r[0]!, r[1]!);
  return q.scale > 0 && Number.isFinite(q.scale) ? q : undefined;
}

/** `t`'s bytes at byte offset `p` of kernel memory (a static plan's block; p < 0: a value nobody reads). */
function put(mem: Arena, p: number, t: Tensor): void {
  if (p < 0) return;
  const d = t.data as ArrayBufferView;
  new Uint8Array(mem.buffer, p, d.byteLength).set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

/**
 * DynamicQuantizeLinear on float32 (left alone when fuse-dynq folds it into DynamicQuantizeMatMul: the chains
 * onnxruntime's quantize_dynamic writes around ConvInteger keep it): x's range and its uint8 codes in two SIMD
 * passes (asm/q8_dynamic.ts f32_minmax0, f32_dynquant_u8 without the int8 flip), codes left in kernel memory for
 * the ConvInteger / MatMulInteger kernel that reads them. Bit-exact with the reference (src/ops/quant.ts).
 * (The Cast int32 → float32 after the integer kernel is anytype.ts's x_cast_f32.)
 */
const dynamicQuantizeLinearWasm: KernelDef = {
  op: 'DynamicQuantizeLinear',
  backend: 'wasm',
  prepare(node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    const def = getOp('', 'DynamicQuantizeLinear');
    if (!mem || !ex || !def) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`x is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const mm = mem.alloc(8, 'dynamic quantization range');
    return {
      name: 'u8_dynamic_quantize',
      run([x]) {
        const v = x!.data as Float32Array;
        const xin = mem.input(v, 'DynamicQuantizeLinear input');
        try {
          const q = rangeOf(mem, xin.ptr, v.length, mm);
          if (!q) return undefined; // all zeros / non-finite: the reference's rules
          const yp = mem.alloc(v.length, 'DynamicQuantizeLinear codes');
          if (v.length) ex.f32_dynquant_u8(xin.ptr, v.length, q.scale, q.zp, 0, yp);
          return [new Tensor('uint8', mem.view('uint8', yp, v.length), x!.dims), new Tensor('float32', Float32Array.of(q.scale), []), new Tensor('uint8', Uint8Array.of(q.zp), [])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      // static plan: codes, scale and zero point into their blocks (the MatMulInteger / ConvInteger and the scale Mul
      // after it read them there); a degenerate range runs the reference on x's block, as the general path would
      bind({ ins: [xp], inTypes: [xt], outs, outTypes: outputTypes }) {
        const dims = xt?.shape as number[] | undefined;
        if (!dims || xp === undefined || xp < 0) return undefined;
        const n = dims.reduce((a, d) => a * d, 1);
        const [yp, sp, zp] = [outs[0] ?? -1, outs[1] ?? -1, outs[2] ?? -1];
        return () => {
          const q = rangeOf(mem, xp, n, mm);
          if (!q) {
            const r = def.reference({ node, attrs, inputs: [new Tensor('float32', mem.f32(xp, n), dims)], outputTypes });
            [yp, sp, zp].forEach((p, i) => put(mem, p, r[i]!));
            return;
          }
          if (yp >= 0 && n) ex.f32_dynquant_u8(xp, n, q.scale, q.zp, 0, yp);
          if (sp >= 0) mem.f32(sp, 1)[0] = q.scale;
          if (zp >= 0) mem.view('uint8', zp, 1)[0] = q.zp;
        };
      },
      dispose: () => mem.release(mm),
    };
  },
};

/**
 * com.microsoft DynamicQuantizeMatMul (what src/ir/passes/fuse-dynq.ts makes of the quantizer's DynamicQuantizeLinear
 * → MatMulInteger → Cast → Mul (→ Add) chain) as one kernel: x's range and its uint8 codes in two SIMD passes
 * (asm/q8_dynamic.ts, stored as int8 code − 128 with the zero point shifted alike), the int8 GEMM against B packed
 * once (asm/qs8_gemm.ts, c2 or relaxed-dot c4 panels), and f32(acc) · fround(a_scale · b_scale[j]) + bias[j] in the
 * GEMM's epilogue (the product rounded there, in float32 as the chain's Mul rounds it) — bit-identical to the reference (src/ops/quant.ts), which follows the chain's float32 steps.
 */
const dynamicQuantizeMatMulWasm: KernelDef = {
  op: 'DynamicQuantizeMatMul',
  domain: 'com.microsoft',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const def = getOp('com.microsoft', 'DynamicQuantizeMatMul');
    if (!mem || !def) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`A is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const b = constant(1);
    const bs = constant(2);
    const bz = node.inputs[3] ? constant(3) : undefined;
    const bias = node.inputs[4] ? constant(4) : undefined;
    if (!b || !isQ8(b.type) || b.dims.length !== 2) return decline('B must be a constant 2-D int8/uint8 matrix');
    if (!bs || (node.inputs[3] && !bz) || (node.inputs[4] && !bias)) return decline('b_scale, b_zero_point and bias must be constants');
    const [k, n] = b.dims as [number, number];
    if (!(bs.size === 1 || bs.size === n) || (bz && !(bz.size === 1 || bz.size === n)) || (bias && bias.size !== n)) return decline('b_scale / b_zero_point / bias are neither per tensor nor per column');
    const g = new PackedQGemm(mem, k, n, b, bz && ints(bz));
    const bsv = floats(bs);
    const bv = bias ? Float32Array.from(floats(bias)) : undefined;
    /** A's uint8 codes stored as int8 (code − 128, the int8 GEMM's operand) */
    const quantizeInt8 = (xp: number, len: number, q: { scale: number; zp: number }, ap: number) => kernels()!.f32_dynquant_u8(xp, len, q.scale, q.zp, 0x80, ap);
    const mm = mem.alloc(8, 'dynamic quantization range');
    return {
      name: g.mode === 'plain' ? 'dynq_qs8_gemm_4x8c2_f32' : `dynq_qs8_gemm_4x8c4_rdot_${g.mode}_f32`,
      run([a], [out]) {
        const x = a!.data as Float32Array;
        if (a!.dims.length < 1 || a!.dims[a!.dims.length - 1] !== k) return undefined;
        const m = x.length / k;
        const xin = mem.input(x, 'dynamic quantization input');
        let ap = 0;
        try {
          const q = rangeOf(mem, xin.ptr, x.length, mm);
          if (!q) return undefined; // all zeros / non-finite: the reference's rules
          // codes for m rows plus 8 readable bytes past the last (the GEMM reads rows in K8 steps)
          ap = mem.alloc(x.length + 8, 'dynamic quantization codes');
          quantizeInt8(xin.ptr, x.length, q, ap);
          const y = g.runFloat(ap, m, q.zp - 128, q.scale, bsv, bv);
          return [new Tensor('float32', y, out!.shape as number[])];
        } finally {
          if (ap) mem.release(ap);
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      // static plan: the codes in held scratch, the epilogue's table of B's scales and the bias written once, A's
      // scale and zero point passed per call; a degenerate range runs the reference on A's block, as the general path would
      bind({ ins: [xp], inTypes: [xt], outs: [yp], outTypes: outputTypes, scratch }) {
        const dims = xt?.shape as number[] | undefined;
        if (!dims || dims.length < 1 || dims[dims.length - 1] !== k || xp === undefined || xp < 0 || yp === undefined || yp < 0) return undefined;
        const size = dims.reduce((a, d) => a * d, 1);
        const m = size / k;
        const ap = scratch(size + 8, 'dynamic quantization codes');
        const gemm = g.bindFloat(ap, m, yp, bsv, bv, scratch);
        const consts = [b, bs, bz, bias];
        return () => {
          const q = rangeOf(mem, xp, size, mm);
          if (!q) {
            put(mem, yp, def.reference({ node, attrs, inputs: [new Tensor('float32', mem.f32(xp, size), dims), ...consts], outputTypes })[0]!);
            return;
          }
          quantizeInt8(xp, size, q, ap);
          gemm(q.zp - 128, q.scale);
        };
      },
      dispose: () => {
        g.dispose();
        mem.release(mm);
      },
    };
  },
};

registerKernel(dynamicQuantizeLinearWasm);
registerKernel(dynamicQuantizeMatMulWasm);
