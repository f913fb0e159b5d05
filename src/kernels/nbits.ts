/**
 * com.microsoft MatMulNBits on WASM, two ways:
 *
 * - accuracy_level = 4 ("int8 compute", onnxruntime's CompInt8): the 4/8-bit codes minus their zero points are unpacked
 *   once into int8 GEMM panels (1 byte per weight: ¼ of fp32, 2× the 4-bit file) with the block scales beside them, A is
 *   quantized per row to symmetric int8 when the node runs, and asm/qs8_nbits.ts accumulates each block exactly in int32
 *   and the blocks in float32. The only approximation is A's rounding: |ΔY[i, j]| ≤ ½·(max|A[i, ·]| / 127)·Σ_k |W[k, j]|
 *   plus float32 rounding (test/kernels/dynq.test.ts checks that bound). 8-bit weights whose code − zero point leaves
 *   [−128, 127] stay on the float path.
 * - otherwise (accuracy_level 0–3 ask for float compute): the blocks are dequantized once at prepare into packed f32
 *   GEMM panels (f32_gemm_4x8) — fp32 speed and fp32 weight memory.
 */
import { nbitsGeom, dequantNBits, forEachNBitsCode, type NBitsGeom } from '../ops/contrib.js';
import { floats } from '../ops/util.js';
import { Tensor } from '../tensor/tensor.js';
import { PackedGemmF32 } from './gemm.js';
import { pad8 } from './qlinear.js';
import { type KernelDef, type PreparedKernel, decline, registerKernel } from './registry.js';
import { type KernelCall, chunksOf, forkRanges, MAX_THREADS, threadScratch, threadsFor } from './threads.js';
import { type Arena, arena, kernels } from './wasm.js';

/** The weight as int8 (code − zero point), [K, N] row-major; undefined if some value leaves int8 (8-bit codes). */
export function unpackNBitsInt8(gm: NBitsGeom, b: Uint8Array, zp: Uint8Array | undefined): Int8Array | undefined {
  const w = new Int8Array(gm.K * gm.N);
  const fits = forEachNBitsCode(gm, b, zp, (k, n, q) => {
    if (q < -128 || q > 127) return false;
    w[k * gm.N + n] = q;
  });
  return fits ? w : undefined;
}

function int8Kernel(mem: Arena, gm: NBitsGeom, w: Int8Array, scales: ArrayLike<number>, bias: ArrayLike<number> | undefined): PreparedKernel {
  const ex = kernels()!;
  const { K, N, blockSize, kBlocks } = gm;
  const n8 = pad8(N);
  const k8 = pad8(K);
  const panels = n8 >> 3;
  const packed = mem.alloc(ex.qs8_packed_size_8(N, K), 'MatMulNBits int8 panels');
  const ws = mem.alloc(panels * kBlocks * 32, 'MatMulNBits block scales');
  const bp = bias ? mem.alloc(n8 * 4, 'MatMulNBits bias') : 0;
  // 32 bytes of tile scratch per kernel thread, each on its own cache lines
  const tmp = threadScratch(mem, 32, MAX_THREADS, 'MatMulNBits scratch');
  const src = mem.alloc(K * N, 'MatMulNBits unpacked codes');
  new Int8Array(mem.buffer, src, K * N).set(w);
  ex.qs8_pack_b(N, K, src, N, 0, packed, 0);
  mem.release(src);
  const sv = mem.f32(ws, panels * kBlocks * 8);
  for (let p = 0; p < panels; p++)
    for (let blk = 0; blk < kBlocks; blk++)
      for (let j = 0; j < 8; j++) {
        const n = p * 8 + j;
        sv[(p * kBlocks + blk) * 8 + j] = n < N ? scales[n * kBlocks + blk]! : 0;
      }
  if (bias) {
    const b = mem.f32(bp, n8);
    b.fill(0);
    for (let j = 0; j < N; j++) b[j] = bias[j]!;
  }
  return {
    name: 'nbits_qs8_gemm_4x8_blockscaled',
    ignoresInput: (i) => i > 0,
    run([a], [out]) {
      const x = a!.data as Float32Array;
      const m = x.length / K;
      const xin = mem.input(x, 'MatMulNBits input');
      const aq = mem.alloc(m * k8 + 8, 'MatMulNBits int8 input');
      const sa = mem.alloc(m * 4, 'MatMulNBits row scales');
      try {
        ex.f32_rowquant_s8(xin.ptr, m, K, aq, sa);
        const yp = mem.alloc(m * N * 4, 'MatMulNBits output');
        // on kernel threads: chunks of whole 8-column panels (the same tile calls per panel: bit-identical)
        const nt = threadsFor(m * N * K);
        if (nt <= 1) ex.qs8_nbits_gemm(m, N, K, aq, k8, sa, packed, blockSize, ws, bp, yp, N, tmp.ptr);
        else {
          const cols = chunksOf(N, 8, nt, m * K);
          const at = (c0: number) => c0 >> 3; // the chunk's first panel
          forkRanges(ex, cols, nt, (c0, c1): KernelCall[] => [['qs8_nbits_gemm', [m, c1 - c0, K, aq, k8, sa, packed + at(c0) * k8 * 8, blockSize, ws + at(c0) * kBlocks * 32, bp ? bp + c0 * 4 : 0, yp + c0 * 4, N, tmp.ptr], { mask: 1 << 12, stride: tmp.stride }]]);
        }
        // a row with NaN / ±inf has no int8 scale (sa = 0): its outputs are NaN (the float path gives NaN or ±inf)
        const s = mem.f32(sa, m);
        const y = mem.f32(yp, m * N);
        for (let i = 0; i < m; i++) if (s[i] === 0 && !x.subarray(i * K, (i + 1) * K).every(Number.isFinite)) y.fill(NaN, i * N, (i + 1) * N);
        return [new Tensor('float32', y, out!.shape as number[])];
      } finally {
        mem.release(sa);
        mem.release(aq);
        if (xin.copied) mem.release(xin.ptr);
      }
    },
    dispose: () => {
      for (const p of [packed, ws, bp, tmp.block]) if (p) mem.release(p);
    },
  };
}

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
    const sv = floats(s);
    const bv = bias ? Float32Array.from(floats(bias)) : undefined;
    if (attrs.accuracy_level === 4) {
      const w = unpackNBitsInt8(gm, b.data as Uint8Array, zp?.data as Uint8Array | undefined);
      if (w) return int8Kernel(mem, gm, w, sv, bv);
    }
    const w = dequantNBits(gm, b.data as Uint8Array, sv, zp?.data as Uint8Array | undefined);
    const g = new PackedGemmF32(mem, gm.K, gm.N, w, bv);
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
