/**
 * `env`, like onnxruntime-web's `ort.env`: what this runtime picked (SIMD build, kernel threads); the SIMD build is the
 * relaxed one where the runtime validates relaxed SIMD, unless EDGEQ_SIMD=plain (Node/Deno/Bun) or
 * `env.wasm.relaxedSimd = false` before the first run.
 */
import { platform } from '#platform';
import { InputError } from '../errors.js';
import { configureThreads, threadsAvailable, threadsConfigured } from '../kernels/threads.js';
import { allowRelaxedSimd, kernelFlavor, relaxedSimdSupported } from '../kernels/wasm.js';
import { MAX_LOOP_ITERATIONS, limits } from '../tensor/limits.js';
import { VERSION } from '../version.js';

export interface Env {
  /** edgeq's version */
  readonly version: string;
  /** 'node' (Node, Deno, Bun: file paths, node:worker_threads) or 'web' (browsers: fetch, Web Workers) */
  readonly platform: 'node' | 'web';
  readonly wasm: {
    /** the WASM SIMD kernels run (false: this runtime lacks WASM SIMD and only the TS reference ops run) */
    readonly simd: boolean;
    /**
     * the relaxed-SIMD build of the kernels was picked (fused multiply-add; within 1e-5 relative of the plain
     * build). Set it to false before the first session runs to keep the plain build, whose results are
     * bit-identical in every runtime.
     */
    relaxedSimd: boolean;
    /** whether the runtime validates relaxed SIMD at all (relaxedSimd is false anyway under EDGEQ_SIMD=plain) */
    readonly relaxedSimdSupported: boolean;
    /**
     * kernel threads per session (GEMM and conv kernels; bit-identical to one thread): default min(cores, 4) on a
     * main thread where SharedArrayBuffer exists (browsers: only when crossOriginIsolated), else 1. Set it before
     * the first session runs: more than 1 needs the kernel memory to be created shared. Reads 1 when it is not.
     */
    numThreads: number;
  };
  /** run-time limits against models that would hang the caller (tensor/limits.ts) */
  readonly limits: {
    /** iterations one Loop / TFLite WHILE may run before the run fails with a ShapeError (default 1,000,000; at most 2^31 − 1) */
    loopIterations: number;
    /** multiply-adds one node may take, from its shapes, before the run fails with a ShapeError (default 10^12, ~70 s; Infinity: unchecked) */
    nodeWork: number;
  };
}

export const env: Env = {
  version: VERSION,
  platform: platform.kind,
  wasm: {
    get simd() {
      return kernelFlavor() !== undefined;
    },
    get relaxedSimd() {
      return kernelFlavor() === 'relaxed';
    },
    set relaxedSimd(on: boolean) {
      if (!allowRelaxedSimd(!!on)) throw new InputError('env.wasm.relaxedSimd can only change before the first session runs (the kernels are already instantiated)');
    },
    get relaxedSimdSupported() {
      return relaxedSimdSupported();
    },
    get numThreads() {
      return threadsAvailable() ? threadsConfigured() : 1;
    },
    set numThreads(n: number) {
      if (!(Number.isInteger(n) && n >= 0)) throw new InputError(`env.wasm.numThreads must be a non-negative integer, got ${n}`);
      configureThreads(n);
    },
  },
  limits: {
    get loopIterations() {
      return limits.loopIterations;
    },
    set loopIterations(n: number) {
      if (!(Number.isInteger(n) && n >= 1 && n <= MAX_LOOP_ITERATIONS)) throw new InputError(`env.limits.loopIterations must be an integer in [1, ${MAX_LOOP_ITERATIONS}], got ${n}`);
      limits.loopIterations = n;
    },
    get nodeWork() {
      return limits.nodeWork;
    },
    set nodeWork(n: number) {
      if (!((Number.isInteger(n) || n === Infinity) && n >= 1)) throw new InputError(`env.limits.nodeWork must be an integer ≥ 1 or Infinity, got ${n}`);
      limits.nodeWork = n;
    },
  },
};
