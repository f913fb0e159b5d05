import type { Tensor as TensorT } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import { type Arena, arena, kernels } from './wasm.js';
import { type KernelDef, registerKernel } from './registry.js';

/**
 * f32 GEMM against a constant weight packed once into WASM memory (f32_gemm_pack_8 panels).
 * `w` is K×N row-major; `bias` has N entries or is undefined.
 */
export class PackedGemmF32 {
  private readonly packed: number;
  constructor(
    private readonly mem: Arena,
    readonly k: number,
    readonly n: number,
    w: Float32Array,
    bias?: Float32Array,
  ) {
    const ex = kernels()!;
    // the packed panels persist for the session; the row-major staging copies above them are freed at once
    this.packed = mem.alloc(ex.f32_gemm_packed_size_8(n, k), 'packed gemm weight');
    const mark = mem.mark();
    const wp = mem.alloc(w.length * 4, 'gemm weight');
    mem.f32(wp, w.length).set(w);
    let bp = 0;
    if (bias) {
      bp = mem.alloc(n * 4, 'gemm bias');
      mem.f32(bp, n).set(bias);
    }
    ex.f32_gemm_pack_8(n, k, wp, n, bp, this.packed);
    mem.reset(mark);
  }

  /** C[m×n] = A[m×k] · W + bias, clamped to [lo, hi]. */
  run(a: Float32Array, m: number, lo = -Infinity, hi = Infinity): Float32Array {
    const ex = kernels()!;
    const mark = this.mem.mark();
    try {
      const ap = this.mem.alloc(m * this.k * 4, 'gemm input');
      const cp = this.mem.alloc(m * this.n * 4, 'gemm output');
      this.mem.f32(ap, m * this.k).set(a.subarray(0, m * this.k));
      ex.f32_gemm(m, this.n, this.k, ap, this.k, this.packed, cp, this.n, lo, hi);
      return this.mem.f32(cp, m * this.n).slice();
    } finally {
      this.mem.reset(mark);
    }
  }
}

const isF32Const = (t: TensorT | undefined): t is TensorT => !!t && t.type === 'float32';

/** MatMul(A, B) with constant 2-D float32 B: rows of A (all leading dims flattened) times packed B. */
const matmulWasm: KernelDef = {
  op: 'MatMul',
  backend: 'wasm',
  prepare(node, _attrs, types, constant) {
    const b = constant(1);
    const mem = arena();
    if (!mem || !isF32Const(b) || b.dims.length !== 2 || types[0]?.dtype !== 'float32') return undefined;
    if (types[0].shape && types[0].shape.length < 2) return undefined; // 1-D A: leave to the reference
    const [k, n] = b.dims as [number, number];
    const g = new PackedGemmF32(mem, k, n, b.data as Float32Array);
    return {
      name: 'f32_gemm_4x8',
      run([a], [out]) {
        if (!a || a.dims.length < 2) return undefined;
        const m = a.size / k;
        return [new Tensor('float32', g.run(a.data as Float32Array, m), out!.shape as number[])];
      },
    };
  },
};

/** Gemm(A, B, C) with transA = 0, constant B (either transB) and constant C broadcast along rows. */
const gemmWasm: KernelDef = {
  op: 'Gemm',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const b = constant(1);
    const c = node.inputs[2] ? constant(2) : undefined;
    const mem = arena();
    if (!mem || !isF32Const(b) || b.dims.length !== 2 || types[0]?.dtype !== 'float32' || attrs.transA) return undefined;
    const [k, n] = (attrs.transB ? [b.dims[1], b.dims[0]] : b.dims) as [number, number];
    const w = new Float32Array(k * n);
    const bd = b.data as Float32Array;
    const alpha = attrs.alpha ?? 1;
    for (let kk = 0; kk < k; kk++) for (let j = 0; j < n; j++) w[kk * n + j] = alpha * (attrs.transB ? bd[j * k + kk]! : bd[kk * n + j]!);
    let bias: Float32Array | undefined;
    if (node.inputs[2]) {
      if (!isF32Const(c)) return undefined;
      const beta = attrs.beta ?? 1;
      const cd = c.data as Float32Array;
      if (c.size === 1) bias = new Float32Array(n).fill(beta * cd[0]!);
      else if (c.size === n && (c.dims.length === 1 || (c.dims.length === 2 && c.dims[0] === 1))) bias = cd.map((v) => beta * v);
      else return undefined; // full M×N C: reference handles it
    }
    const g = new PackedGemmF32(mem, k, n, w, bias);
    return {
      name: 'f32_gemm_4x8',
      run([a], [out]) {
        const m = a!.dims[0]!;
        return [new Tensor('float32', g.run(a!.data as Float32Array, m), out!.shape as number[])];
      },
    };
  },
};

registerKernel(matmulWasm);
registerKernel(gemmWasm);
