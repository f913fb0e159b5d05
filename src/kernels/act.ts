import { Tensor } from '../tensor/tensor.js';
import { POST_OPS } from './epilogue.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

/**
 * LeakyRelu, HardSigmoid, HardSwish, Sigmoid on float32 as standalone kernels (asm/f32_act.ts), for activations the
 * plan could not fold into their producer: the output stays in kernel memory for the next kernel.
 */
function actKernel(op: string, code: number): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(_node, attrs, types) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
      const alpha: number = attrs.alpha ?? (op === 'LeakyRelu' ? 0.01 : 0.2);
      const beta: number = attrs.beta ?? 0.5;
      return {
        name: 'f32_unary',
        run([x], [outType]) {
          const n = x!.size;
          const xin = mem.input(x!.data as Float32Array, `${op} input`);
          try {
            const op2 = mem.alloc(n * 4, `${op} output`);
            if (n) ex.f32_unary(code, xin.ptr, op2, n, alpha, beta);
            return [new Tensor('float32', mem.f32(op2, n), outType!.shape as number[])];
          } finally {
            if (xin.copied) mem.release(xin.ptr);
          }
        },
      };
    },
  };
}

for (const [op, code] of Object.entries(POST_OPS)) registerKernel(actKernel(op, code));
