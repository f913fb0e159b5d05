/**
 * Dynamic quantization on WASM: DynamicQuantizeLinear (the glue the generic reference spent more time in than the
 * integer GEMM) and the fused DynamicQuantizeMatMul. Results are bit-exact with the references
 * (src/ops/quant.ts DynamicQuantizeLinear).
 */
import { dynamicQuantParamsOf } from '../ops/quant.js';
import { floats } from '../ops/util.js';
import { Tensor } from '../tensor/tensor.js';
import { ints, isQ8, PackedQGemm } from './qlinear.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

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
  prepare(_node, _attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`x is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const mm = mem.alloc(8, 'dynamic quantization range');
    return {
      name: 'u8_dynamic_quantize',
      run([x]) {
        const v = x!.data as Float32Array;
        const xin = mem.input(v, 'DynamicQuantizeLinear input');
        try {
          ex.f32_minmax0(xin.ptr, v.length, mm);
          const r = mem.f32(mm, 2);
          const { scale, zp } = dynamicQuantParamsOf(r[0]!, r[1]!);
          if (!(scale > 0) || !Number.isFinite(scale)) return undefined; // all zeros / non-finite: the reference's rules
          const yp = mem.alloc(v.length, 'DynamicQuantizeLinear codes');
          if (v.length) ex.f32_dynquant_u8(xin.ptr, v.length, scale, zp, 0, yp);
          return [new Tensor('uint8', mem.view('uint8', yp, v.length), x!.dims), new Tensor('float32', Float32Array.of(scale), []), new Tensor('uint8', Uint8Array.of(zp), [])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
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
 * GEMM's epilogue — bit-identical to the reference (src/ops/quant.ts), which follows the chain's float32 steps.
 */
const dynamicQuantizeMatMulWasm: KernelDef = {
  op: 'DynamicQuantizeMatMul',
  domain: 'com.microsoft',
  backend: 'wasm',
  prepare(node, _attrs, types, constant) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
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
    const scale = new Float32Array(n);
    const mm = mem.alloc(8, 'dynamic quantization range');
    return {
      name: g.mode === 'plain' ? 'dynq_qs8_gemm_4x8c2_f32' : `dynq_qs8_gemm_4x8c4_rdot_${g.mode}_f32`,
      run([a], [out]) {
        const ex = kernels()!;
        const x = a!.data as Float32Array;
        if (a!.dims.length < 1 || a!.dims[a!.dims.length - 1] !== k) return undefined;
        const m = x.length / k;
        const xin = mem.input(x, 'dynamic quantization input');
        let ap = 0;
        try {
          ex.f32_minmax0(xin.ptr, x.length, mm);
          const r = mem.f32(mm, 2);
          const { scale: xs, zp } = dynamicQuantParamsOf(r[0]!, r[1]!);
          if (!(xs > 0) || !Number.isFinite(xs)) return undefined; // all zeros / non-finite: the reference's rules
          // codes for m rows plus 8 readable bytes past the last (the GEMM reads rows in K8 steps)
          ap = mem.alloc(x.length + 8, 'dynamic quantization codes');
          ex.f32_dynquant_u8(xin.ptr, x.length, xs, zp, 0x80, ap);
          for (let j = 0; j < n; j++) scale[j] = xs * bsv[bsv.length === 1 ? 0 : j]!;
          const y = g.runFloat(ap, m, zp - 128, scale, bv);
          return [new Tensor('float32', y, out!.shape as number[])];
        } finally {
          if (ap) mem.release(ap);
          if (xin.copied) mem.release(xin.ptr);
        }
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
