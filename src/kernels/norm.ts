import { Tensor } from '../tensor/tensor.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type KernelCall, chunksOf, forkRanges, threadsFor } from './threads.js';
import { type KernelExports, arena, kernels } from './wasm.js';
import { Epilogue } from './epilogue.js';

/**
 * Normalizations on float32 (asm/f32_norm.ts): LayerNormalization over the trailing dims (a following Relu/Clip or
 * activation folded in), Softmax on any axis (the
 * last one as contiguous rows, another — e.g. the channels of NCHW — four inner positions at a time), and
 * InstanceNormalization with a following Relu/Clip or activation folded in. Outputs stay in kernel memory for the
 * next kernel.
 */

const f32Const = (t: TensorT | undefined): t is TensorT => !!t && t.type === 'float32';

const layerNormWasm: KernelDef = {
  op: 'LayerNormalization',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    if (node.outputs.slice(1).some((o) => o)) return decline('Mean/InvStdDev outputs are requested');
    const scale = constant(1);
    const bias = node.inputs[2] ? constant(2) : undefined;
    if (!f32Const(scale)) return decline('Scale is not a float32 constant');
    if (node.inputs[2] && !f32Const(bias)) return decline('B is not a float32 constant');
    const n = scale.size;
    if (bias && bias.size !== n) return decline(`B has ${bias.size} elements, Scale ${n}`);
    const gp = mem.alloc(n * 4, 'LayerNormalization scale');
    mem.f32(gp, n).set(scale.data as Float32Array);
    const bp = bias ? mem.alloc(n * 4, 'LayerNormalization bias') : 0;
    if (bias) mem.f32(bp, n).set(bias.data as Float32Array);
    const eps: number = attrs.epsilon ?? 1e-5;
    const axisAttr: number = attrs.axis ?? -1;
    // a following Relu / Clip clamps in the kernel's store, other activations run over its output (Epilogue)
    const epi = new Epilogue();
    return {
      name: 'f32_layernorm',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      run([x], [out]) {
        const dims = x!.dims;
        const axis = axisAttr < 0 ? axisAttr + dims.length : axisAttr;
        const inner = dims.slice(axis).reduce((a, d) => a * d, 1);
        // Scale/B broadcast to the normalized shape: only the full-size case here (a smaller Scale: the reference)
        if (inner !== n) return undefined;
        const rows = inner ? x!.size / inner : 0;
        const xin = mem.input(x!.data as Float32Array, 'LayerNormalization input');
        try {
          const yp = mem.alloc(x!.size * 4, 'LayerNormalization output');
          layerNormAt(ex, xin.ptr, rows, n, gp, bp, eps, yp, epi.lo, epi.hi);
          const y = mem.f32(yp, x!.size);
          epi.apply(y);
          return [new Tensor('float32', y, out!.shape as number[])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      // a static plan's call (runtime/static-plan.ts): x at b.ins[0] → b.outs[0], the same element count
      bind(b) {
        const [xp, yp] = [b.ins[0]!, b.outs[0]!];
        const dims = b.inTypes[0]!.shape as number[];
        const axis = axisAttr < 0 ? axisAttr + dims.length : axisAttr;
        const size = dims.reduce((a, d) => a * d, 1);
        const inner = dims.slice(axis).reduce((a, d) => a * d, 1);
        if (xp < 0 || yp < 0 || inner !== n || size !== (b.outTypes[0]!.shape as number[]).reduce((a, d) => a * d, 1)) return undefined;
        const rows = inner ? size / inner : 0;
        return () => {
          layerNormAt(ex, xp, rows, n, gp, bp, eps, yp, epi.lo, epi.hi);
          epi.applyAt(yp, size);
        };
      },
      dispose() {
        mem.release(gp);
        if (bp) mem.release(bp);
      },
    };
  },
};

/** f32_layernorm_clamp over `rows` rows of n, on kernel threads in chunks of rows when the work earns them (each row the same calls: same bits). */
function layerNormAt(ex: KernelExports, xp: number, rows: number, n: number, gp: number, bp: number, eps: number, yp: number, lo: number, hi: number): void {
  if (!rows || !n) return;
  const nt = threadsFor(rows * n * 4);
  if (nt <= 1 || rows < 2) return ex.f32_layernorm_clamp(xp, rows, n, gp, bp, eps, yp, lo, hi);
  const parts = chunksOf(rows, 1, nt, n * 4);
  forkRanges(ex, parts, nt, (r0, r1): KernelCall[] => [['f32_layernorm_clamp', [xp + r0 * n * 4, r1 - r0, n, gp, bp, eps, yp + r0 * n * 4, lo, hi]]]);
}

/**
 * Softmax over `rows` rows of n (inner = 1: f32_softmax) or over `outer` blocks of n × inner (f32_softmax_strided), on
 * kernel threads in chunks of rows / blocks when the work earns them (an exp and its sum ≈ 10 multiply-adds per
 * element): every row or block is computed by the same calls on whichever thread, so the bits do not depend on the
 * thread count.
 */
function softmaxAt(ex: KernelExports, xp: number, yp: number, size: number, n: number, inner: number): void {
  if (!size) return;
  const outer = size / (n * inner);
  const nt = threadsFor(size * 10);
  if (nt <= 1 || outer < 2) {
    if (inner === 1) ex.f32_softmax(xp, outer, n, yp);
    else ex.f32_softmax_strided(xp, outer, n, inner, yp);
    return;
  }
  const block = n * inner * 4;
  const parts = chunksOf(outer, 1, nt, n * inner * 10);
  forkRanges(ex, parts, nt, (r0, r1): KernelCall[] => [
    inner === 1 ? ['f32_softmax', [xp + r0 * block, r1 - r0, n, yp + r0 * block]] : ['f32_softmax_strided', [xp + r0 * block, r1 - r0, n, inner, yp + r0 * block]],
  ]);
}

const softmaxWasm: KernelDef = {
  op: 'Softmax',
  backend: 'wasm',
  prepare(_node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const axisAttr: number = attrs.axis ?? -1;
    const rank = types[0].shape?.length;
    const last = axisAttr === -1 || (rank !== undefined && axisAttr === rank - 1);
    return {
      name: last ? 'f32_softmax' : 'f32_softmax_strided',
      run([x], [out]) {
        const dims = x!.dims;
        // inferShape checked axis ∈ [−rank, rank − 1]
        const axis = axisAttr < 0 ? axisAttr + dims.length : axisAttr;
        const n = dims[axis] ?? 1;
        const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
        const xin = mem.input(x!.data as Float32Array, 'Softmax input');
        try {
          const yp = mem.alloc(x!.size * 4, 'Softmax output');
          softmaxAt(ex, xin.ptr, yp, x!.size, n, inner);
          return [new Tensor('float32', mem.f32(yp, x!.size), out!.shape as number[])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      bind({ ins: [xp], outs: [yp], inTypes: [xt] }) {
        const dims = xt?.shape as number[] | undefined;
        if (xp === undefined || yp === undefined || xp < 0 || yp < 0 || !dims) return undefined;
        const axis = axisAttr < 0 ? axisAttr + dims.length : axisAttr;
        const n = dims[axis] ?? 1;
        const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
        const size = dims.reduce((a, d) => a * d, 1);
        if (!size) return () => {};
        return () => softmaxAt(ex, xp, yp, size, n, inner);
      },
    };
  },
};

/**
 * InstanceNormalization, float32, constant scale and B: per (instance, channel) plane mean and variance, then
 * y = x·k + t with k = scale/sqrt(var + ε), t = B − mean·k (asm f32_instancenorm); a following Relu/Clip clamps in
 * the same pass, other activations run over the output (Epilogue).
 */
const instanceNormWasm: KernelDef = {
  op: 'InstanceNormalization',
  backend: 'wasm',
  prepare(_node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const scale = constant(1);
    const bias = constant(2);
    if (!f32Const(scale) || !f32Const(bias)) return decline('scale / B are not float32 constants');
    const c = scale.size;
    if (bias.size !== c) return decline(`B has ${bias.size} elements, scale ${c}`);
    const sp = mem.alloc(c * 8, 'InstanceNormalization scale/B');
    mem.f32(sp, c).set(scale.data as Float32Array);
    mem.f32(sp + c * 4, c).set(bias.data as Float32Array);
    const eps: number = attrs.epsilon ?? 1e-5;
    const epi = new Epilogue();
    return {
      name: 'f32_instancenorm',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      run([x], [out]) {
        const dims = x!.dims;
        const planes = dims[0]! * dims[1]!;
        const hw = planes ? x!.size / planes : 0;
        const xin = mem.input(x!.data as Float32Array, 'InstanceNormalization input');
        try {
          const yp = mem.alloc(x!.size * 4, 'InstanceNormalization output');
          if (x!.size) ex.f32_instancenorm(xin.ptr, planes, c, hw, sp, sp + c * 4, eps, epi.lo, epi.hi, yp);
          const y = mem.f32(yp, x!.size);
          epi.apply(y);
          return [new Tensor('float32', y, out!.shape as number[])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      dispose() {
        mem.release(sp);
      },
    };
  },
};

registerKernel(layerNormWasm);
registerKernel(instanceNormWasm);
registerKernel(softmaxWasm);
