import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

/**
 * Standalone Relu and Clip on float32 (the plan folds them into a producing kernel's epilogue where it can; this is
 * for the rest: after a reference op, or on a value with several readers). Runs the f32_binary Mul by a resident
 * 1.0 with the clamp epilogue, so y = min(max(x·1, lo), hi): x·1 is exact, and the clamp is the epilogue every
 * fused Relu/Clip already uses. Clip's bounds must be constant scalars.
 */
function clampKernel(op: 'Relu' | 'Clip'): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(node, _attrs, types, constant) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
      let lo = op === 'Relu' ? 0 : -Infinity;
      let hi = Infinity;
      if (op === 'Clip') {
        for (const [i, dflt] of [[1, -Infinity], [2, Infinity]] as const) {
          if (!node.inputs[i]) continue;
          const t = constant(i);
          if (!t || t.type !== 'float32' || t.size !== 1) return decline(`${i === 1 ? 'min' : 'max'} is not a constant float32 scalar`);
          const v = (t.data as Float32Array)[0]!;
          if (i === 1) lo = Number.isNaN(v) ? dflt : v;
          else hi = Number.isNaN(v) ? dflt : v;
        }
      }
      // ONNX: "When 'min' is greater than 'max', the clip operator sets all the 'input' values to the value of 'max'";
      // the epilogue clamps max-then-min in its scalar tail, so that case stays with the reference
      if (lo > hi) return decline('min > max');
      const one = mem.alloc(4, `${op} constant 1`);
      mem.f32(one, 1)[0] = 1;
      return {
        name: 'f32_clamp',
        run([x], [outType]) {
          const n = x!.size;
          const xin = mem.input(x!.data as Float32Array, `${op} input`);
          try {
            const y = mem.alloc(n * 4, `${op} output`);
            if (n) ex.f32_binary(2, xin.ptr, 1, one, 0, y, n, lo, hi);
            return [new Tensor('float32', mem.f32(y, n), outType!.shape as number[])];
          } finally {
            if (xin.copied) mem.release(xin.ptr);
          }
        },
        dispose: () => mem.release(one),
      };
    },
  };
}

registerKernel(clampKernel('Relu'));
registerKernel(clampKernel('Clip'));
