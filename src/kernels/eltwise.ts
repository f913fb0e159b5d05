import { Tensor } from '../tensor/tensor.js';
import { sameShape } from '../tensor/shape.js';
import { type KernelDef, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';
import { Epilogue } from './epilogue.js';

/**
 * Add, Sub, Mul, Div on float32 where both operands have the output's shape or one is a single value (residual
 * adds, scalar scales). The output stays in kernel memory, so a residual Add between two convs no longer copies the
 * activations out to a JS array and back; a Relu/Clip after it folds into the clamp. Other broadcasts return
 * undefined at run time and the reference op runs.
 */
function binaryKernel(op: 'Add' | 'Sub' | 'Mul' | 'Div', code: number): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(_node, _attrs, types) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex || types[0]?.dtype !== 'float32' || types[1]?.dtype !== 'float32') return undefined;
      const epi = new Epilogue();
      // a clamp or activation may fold in only when run() can never fall back to the reference (which would skip it): both
      // shapes static, each the other's shape or a single value
      const a = types[0].shape;
      const b = types[1].shape;
      const numeric = (s: typeof a): s is number[] => !!s && s.every((d) => typeof d === 'number');
      const size = (s: number[]) => s.reduce((x, d) => x * d, 1);
      const fits = numeric(a) && numeric(b) && (sameShape(a, b) || (size(a) === 1 && a.length <= b.length) || (size(b) === 1 && b.length <= a.length));
      return {
        name: 'f32_binary',
        fuseClamp: (l: number, h: number) => fits && epi.fuseClamp(l, h),
        fusePost: (op: string, attrs: Record<string, unknown>) => fits && epi.fusePost(op, attrs),
        run([a, b], [outType]) {
          const out = outType!.shape as number[];
          const n = out.reduce((x, d) => x * d, 1);
          const whole = (t: Tensor) => t.size === n && sameShape(t.dims, out);
          const sa = whole(a!) ? 1 : a!.size === 1 ? 0 : -1;
          const sb = whole(b!) ? 1 : b!.size === 1 ? 0 : -1;
          if (sa < 0 || sb < 0 || n === 0) return undefined;
          const ain = mem.input(a!.data as Float32Array, `${op} input A`);
          let bin: { ptr: number; copied: boolean } | undefined;
          try {
            bin = mem.input(b!.data as Float32Array, `${op} input B`);
            const op2 = mem.alloc(n * 4, `${op} output`);
            ex.f32_binary(code, ain.ptr, sa, bin.ptr, sb, op2, n, epi.lo, epi.hi);
            const y = mem.f32(op2, n);
            epi.apply(y);
            return [new Tensor('float32', y, out)];
          } finally {
            if (ain.copied) mem.release(ain.ptr);
            if (bin?.copied) mem.release(bin.ptr);
          }
        },
      };
    },
  };
}

registerKernel(binaryKernel('Add', 0));
registerKernel(binaryKernel('Sub', 1));
registerKernel(binaryKernel('Mul', 2));
registerKernel(binaryKernel('Div', 3));
