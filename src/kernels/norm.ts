import { Tensor } from '../tensor/tensor.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

/**
 * Row normalizations of transformer graphs on float32 (asm/f32_norm.ts): LayerNormalization over the trailing dims
 * and Softmax on the last axis. Outputs stay in kernel memory for the next kernel.
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
    return {
      name: 'f32_layernorm',
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
          if (rows && n) ex.f32_layernorm(xin.ptr, rows, n, gp, bp, eps, yp);
          return [new Tensor('float32', mem.f32(yp, x!.size), out!.shape as number[])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      dispose() {
        mem.release(gp);
        if (bp) mem.release(bp);
      },
    };
  },
};

const softmaxWasm: KernelDef = {
  op: 'Softmax',
  backend: 'wasm',
  prepare(_node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const axis: number = attrs.axis ?? -1;
    const rank = types[0].shape?.length;
    if (axis !== -1 && (rank === undefined || axis !== rank - 1)) return decline(`axis ${axis} is not the last axis`);
    return {
      name: 'f32_softmax',
      run([x], [out]) {
        const n = x!.dims.at(-1) ?? 1;
        const xin = mem.input(x!.data as Float32Array, 'Softmax input');
        try {
          const yp = mem.alloc(x!.size * 4, 'Softmax output');
          if (x!.size) ex.f32_softmax(xin.ptr, x!.size / n, n, yp);
          return [new Tensor('float32', mem.f32(yp, x!.size), out!.shape as number[])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
    };
  },
};

registerKernel(layerNormWasm);
registerKernel(softmaxWasm);
