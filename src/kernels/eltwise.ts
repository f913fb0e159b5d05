import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';
import { Epilogue } from './epilogue.js';

/**
 * Add, Sub, Mul, Div on float32 with NumPy broadcasting ("multidirectional broadcasting" in the ONNX spec). The
 * output stays in kernel memory (a residual Add between convs no longer copies activations out and back), and a
 * following Relu/Clip or activation folds into it. Dims are merged where both operands are contiguous or both
 * broadcast, so a same-shape or scalar op is one flat loop and a per-channel bias [C,1,1] on [N,C,H,W] runs rows of
 * H·W with a scalar per row.
 */
function binaryKernel(op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'PRelu', code: number): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(_node, _attrs, types) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (types[0]?.dtype !== 'float32' || types[1]?.dtype !== 'float32') return decline(`inputs are ${types[0]?.dtype}/${types[1]?.dtype}, not float32`);
      const epi = new Epilogue();
      let cached: { key: string; plan: BroadcastPlan } | undefined;
      return {
        name: 'f32_binary',
        fuseClamp: epi.fuseClamp,
        fusePost: epi.fusePost,
        run([a, b], [outType]) {
          const out = outType!.shape as number[];
          const n = out.reduce((x, d) => x * d, 1);
          if (n === 0) return [new Tensor('float32', new Float32Array(0), out)];
          const key = `${a!.dims.join(',')};${b!.dims.join(',')}`;
          if (cached?.key !== key) cached = { key, plan: broadcastPlan(a!.dims, b!.dims, out) };
          const { shape, sa, sb } = cached.plan;
          const ain = mem.input(a!.data as Float32Array, `${op} input A`);
          let bin: { ptr: number; copied: boolean } | undefined;
          let meta = 0;
          try {
            bin = mem.input(b!.data as Float32Array, `${op} input B`);
            const op2 = mem.alloc(n * 4, `${op} output`);
            if (shape.length === 1) ex.f32_binary(code, ain.ptr, sa[0]!, bin.ptr, sb[0]!, op2, n, epi.lo, epi.hi);
            else {
              const r = shape.length;
              meta = mem.alloc(16 * r, `${op} broadcast strides`);
              const m = new Int32Array(mem.memory.buffer, meta, 4 * r);
              m.set(shape, 0);
              m.set(sa, r);
              m.set(sb, 2 * r);
              ex.f32_binary_nd(code, ain.ptr, bin.ptr, op2, r, meta, meta + 4 * r, meta + 8 * r, meta + 12 * r, epi.lo, epi.hi);
            }
            const y = mem.f32(op2, n);
            epi.apply(y);
            return [new Tensor('float32', y, out)];
          } finally {
            if (meta) mem.release(meta);
            if (ain.copied) mem.release(ain.ptr);
            if (bin?.copied) mem.release(bin.ptr);
          }
        },
      };
    },
  };
}

interface BroadcastPlan {
  /** merged output dims, and each operand's element stride per merged dim (0 = broadcast) */
  shape: number[];
  sa: number[];
  sb: number[];
}

/** Strides of a and b over the output dims, with size-1 output dims dropped and mergeable neighbours merged. */
export function broadcastPlan(a: readonly number[], b: readonly number[], out: readonly number[]): BroadcastPlan {
  const r = out.length;
  const strides = (d: readonly number[]): number[] => {
    const pad = [...new Array<number>(r - d.length).fill(1), ...d];
    const st = new Array<number>(r).fill(0);
    let acc = 1;
    for (let i = r - 1; i >= 0; i--) {
      st[i] = pad[i] === 1 ? 0 : acc;
      acc *= pad[i]!;
    }
    return st;
  };
  const ta = strides(a);
  const tb = strides(b);
  const shape: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < r; i++) {
    if (out[i] === 1) continue;
    const k = shape.length - 1;
    // merge into the previous dim when stepping this dim n times equals one step of the previous, for both
    if (k >= 0 && sa[k] === ta[i]! * out[i]! && sb[k] === tb[i]! * out[i]!) {
      shape[k]! *= out[i]!;
      sa[k] = ta[i]!;
      sb[k] = tb[i]!;
      continue;
    }
    shape.push(out[i]!);
    sa.push(ta[i]!);
    sb.push(tb[i]!);
  }
  if (!shape.length) return { shape: [1], sa: [0], sb: [0] };
  return { shape, sa, sb };
}

registerKernel(binaryKernel('Add', 0));
registerKernel(binaryKernel('Sub', 1));
registerKernel(binaryKernel('Mul', 2));
registerKernel(binaryKernel('Div', 3));
// ONNX PRelu: "f(x) = slope * x for x < 0, f(x) = x for x >= 0", slope unidirectionally broadcast to X (per-channel
// slopes [C,1,1] become rows with a scalar each)
registerKernel(binaryKernel('PRelu', 4));
