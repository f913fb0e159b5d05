import { gemmRowBias } from './gemm-bias.js';
import { Epilogue } from './epilogue.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import { type Arena, arena, kernels } from './wasm.js';
import { type KernelDef, decline, registerKernel } from './registry.js';

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
    const wp = mem.alloc(w.length * 4, 'gemm weight');
    mem.f32(wp, w.length).set(w);
    let bp = 0;
    if (bias) {
      bp = mem.alloc(n * 4, 'gemm bias');
      mem.f32(bp, n).set(bias);
    }
    ex.f32_gemm_pack_8(n, k, wp, n, bp, this.packed);
    if (bp) mem.release(bp);
    mem.release(wp);
  }

  /**
   * C[m×n] = A[m×k] · W + bias, clamped to [lo, hi], as a view into kernel memory that the caller must
   * `mem.release(ptr)` (the executor's residency does). A may itself be a resident view (no copy in).
   */
  runResident(a: Float32Array, m: number, lo = -Infinity, hi = Infinity): { view: Float32Array; ptr: number } {
    const ex = kernels()!;
    const ain = this.mem.input(a.subarray(0, m * this.k), 'gemm input');
    const cp = this.mem.alloc(m * this.n * 4, 'gemm output');
    ex.f32_gemm(m, this.n, this.k, ain.ptr, this.k, this.packed, cp, this.n, lo, hi, 0);
    if (ain.copied) this.mem.release(ain.ptr);
    return { view: this.mem.f32(cp, m * this.n), ptr: cp };
  }

  /** C[m×n] = A[m×k] · W + bias, clamped to [lo, hi], copied out to JS memory. */
  run(a: Float32Array, m: number, lo = -Infinity, hi = Infinity): Float32Array {
    const ex = kernels()!;
    const ap = this.mem.alloc(m * this.k * 4, 'gemm input');
    const cp = this.mem.alloc(m * this.n * 4, 'gemm output');
    try {
      this.mem.f32(ap, m * this.k).set(a.subarray(0, m * this.k));
      ex.f32_gemm(m, this.n, this.k, ap, this.k, this.packed, cp, this.n, lo, hi, 0);
      return this.mem.f32(cp, m * this.n).slice();
    } finally {
      this.mem.release(cp);
      this.mem.release(ap);
    }
  }

  /** Free the packed weights (session release). */
  dispose(): void {
    this.mem.release(this.packed);
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
    if (!mem) return decline('no WASM memory');
    if (!isF32Const(b)) return decline(b ? `B is a constant ${(b as TensorT).type}, not float32` : 'B is not a constant (activation × activation)');
    if (b.dims.length !== 2) return decline(`B is ${b.dims.length}-D, the kernel takes a 2-D weight`);
    if (types[0]?.dtype !== 'float32') return decline(`A is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    if (types[0].shape && types[0].shape.length < 2) return decline('A is 1-D'); // leave to the reference
    const [k, n] = b.dims as [number, number];
    const g = new PackedGemmF32(mem, k, n, b.data as Float32Array);
    const epi = new Epilogue();
    return {
      name: 'f32_gemm_4x8',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      run([a], [out]) {
        if (!a || a.dims.length < 2) return undefined;
        const m = a.size / k;
        const y = g.runResident(a.data as Float32Array, m, epi.lo, epi.hi).view;
        epi.apply(y);
        return [new Tensor('float32', y, out!.shape as number[])];
      },
      dispose: () => g.dispose(),
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
    if (!mem) return decline('no WASM memory');
    if (!isF32Const(b)) return decline(b ? `B is a constant ${(b as TensorT).type}, not float32` : 'B is not a constant');
    if (b.dims.length !== 2 || types[0]?.dtype !== 'float32') return decline(`needs float32 A and 2-D B (A ${types[0]?.dtype}, B ${b.dims.length}-D)`);
    if (attrs.transA) return decline('transA = 1');
    const [k, n] = (attrs.transB ? [b.dims[1], b.dims[0]] : b.dims) as [number, number];
    const w = new Float32Array(k * n);
    const bd = b.data as Float32Array;
    const alpha = attrs.alpha ?? 1;
    for (let kk = 0; kk < k; kk++) for (let j = 0; j < n; j++) w[kk * n + j] = alpha * (attrs.transB ? bd[j * k + kk]! : bd[kk * n + j]!);
    let bias: Float32Array | undefined;
    if (node.inputs[2]) {
      if (!isF32Const(c)) return decline('C is not a float32 constant');
      const beta = attrs.beta ?? 1;
      bias = gemmRowBias(c.data as Float32Array, c.dims, n, beta);
      if (!bias) return decline(`C [${c.dims.join(',')}] is not broadcast along rows`); // full M×N C: reference handles it
    }
    const g = new PackedGemmF32(mem, k, n, w, bias);
    const epi = new Epilogue();
    return {
      name: 'f32_gemm_4x8',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      run([a], [out]) {
        const m = a!.dims[0]!;
        const y = g.runResident(a!.data as Float32Array, m, epi.lo, epi.hi).view;
        epi.apply(y);
        return [new Tensor('float32', y, out!.shape as number[])];
      },
      dispose: () => g.dispose(),
    };
  },
};

registerKernel(matmulWasm);
registerKernel(gemmWasm);
