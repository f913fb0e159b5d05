/**
 * com.microsoft MatMulNBits on WASM: the 4/8-bit blocks are dequantized once at prepare into the packed f32
 * GEMM panels (f32_gemm_4x8), so a weight-only model runs at fp32 speed while the file stays 4/8-bit.
 * (Memory at run time is that of the fp32 weight; a dequantize-on-the-fly GEMV is future work.)
 */
import { nbitsGeom, dequantNBits } from '../ops/contrib.js';
import { floats } from '../ops/util.js';
import { Tensor } from '../tensor/tensor.js';
import { PackedGemmF32 } from './gemm.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena } from './wasm.js';

const matmulNBitsWasm: KernelDef = {
  op: 'MatMulNBits',
  domain: 'com.microsoft',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`A is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const b = constant(1);
    const s = constant(2);
    const zp = node.inputs[3] ? constant(3) : undefined;
    const bias = node.inputs[5] ? constant(5) : undefined;
    if (!b || !s || (node.inputs[3] && !zp) || (node.inputs[5] && !bias)) return decline('B, scales, zero_points and bias must be constants');
    if (node.inputs[4]) return decline('g_idx is not supported');
    const gm = nbitsGeom(attrs as never, (m) => {
      throw new Error(m);
    });
    const w = dequantNBits(gm, b.data as Uint8Array, floats(s), zp?.data as Uint8Array | undefined);
    const g = new PackedGemmF32(mem, gm.K, gm.N, w, bias ? Float32Array.from(floats(bias)) : undefined);
    return {
      name: 'nbits_dequant_f32_gemm_4x8',
      ignoresInput: (i) => i > 0,
      run([a], [out]) {
        const m = a!.size / gm.K;
        const y = g.runResident(a!.data as Float32Array, m).view;
        return [new Tensor('float32', y, out!.shape as number[])];
      },
      dispose: () => g.dispose(),
    };
  },
};

registerKernel(matmulNBitsWasm);
