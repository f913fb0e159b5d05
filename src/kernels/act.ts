import { Tensor } from '../tensor/tensor.js';
import { Epilogue, POST_OPS, UNARY, postSupported, unaryAt } from './epilogue.js';
import { type BindArgs, type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

/**
 * LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Erf, Tanh, Gelu (erf form) on float32 as standalone kernels (asm/f32_act.ts), for activations the
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
      if (!postSupported(op, attrs)) return decline(`${op} approximate='${attrs.approximate}' is not implemented`);
      const alpha: number = attrs.alpha ?? (op === 'LeakyRelu' ? 0.01 : 0.2);
      const beta: number = attrs.beta ?? 0.5;
      return { name: 'f32_unary', run: ([x], [outType]) => unary(op, code, x!, outType!.shape as number[], alpha, beta), bind: (b) => bindUnary(b, code, alpha, beta) };
    },
  };
}

/** A static plan's f32_unary step: x at b.ins[0] → the output block (same element count). */
function bindUnary(b: BindArgs, code: number, alpha: number, beta: number): (() => void) | undefined {
  const [xp, yp] = [b.ins[0]!, b.outs[0]!];
  const n = (b.outTypes[0]!.shape as number[]).reduce((a, d) => a * d, 1);
  if (xp < 0 || yp < 0 || n !== (b.inTypes[0]!.shape as number[]).reduce((a, d) => a * d, 1)) return undefined;
  const ex = kernels()!;
  return () => unaryAt(ex, code, xp, yp, n, alpha, beta);
}

/** f32_unary `code` over x into a new kernel-memory block (x's element count; dims `shape`). */
function unary(op: string, code: number, x: Tensor, shape: number[], alpha: number, beta: number): Tensor[] {
  const mem = arena()!;
  const n = x.size;
  const xin = mem.input(x.data as Float32Array, `${op} input`);
  try {
    const op2 = mem.alloc(n * 4, `${op} output`);
    unaryAt(kernels()!, code, xin.ptr, op2, n, alpha, beta);
    return [new Tensor('float32', mem.f32(op2, n), shape)];
  } finally {
    if (xin.copied) mem.release(xin.ptr);
  }
}

for (const [op, code] of Object.entries(POST_OPS)) registerKernel(actKernel(op, code));
// ONNX Sqrt: "y = x^0.5 … If x is negative, then it will return NaN" — f32x4.sqrt, correctly rounded (bit-exact)
registerKernel(actKernel('Sqrt', UNARY.sqrt));
// ONNX Log: "Calculates the natural log of the given input tensor, element-wise" — asm/vec.ts logv, a few float ulps
// from the reference's double log (ln 0 = −inf, ln of a negative = NaN, as IEEE log)
registerKernel(actKernel('Log', UNARY.log));

/** ONNX Neg: "y = -x" on float32 — f32_unary's x·alpha with alpha = −1, an exact sign flip. */
const negWasm: KernelDef = {
  op: 'Neg',
  backend: 'wasm',
  prepare(_node, _attrs, types) {
    if (!arena() || !kernels()) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    return { name: 'f32_unary', run: ([x], [outType]) => unary('Neg', UNARY.mul, x!, outType!.shape as number[], -1, 0), bind: (b) => bindUnary(b, UNARY.mul, -1, 0) };
  },
};
registerKernel(negWasm);

/**
 * Pow(X, Y) with Y a float32 constant scalar 2 (the power spectra and variances of exported audio front ends and
 * norms): X·X, one correctly rounded multiply, bit-exact with the reference's double pow rounded to float.
 */
const powWasm: KernelDef = {
  op: 'Pow',
  backend: 'wasm',
  prepare(_node, _attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const y = constant(1);
    if (!y || y.size !== 1 || (y.type !== 'float32' && y.type !== 'float64' && y.type !== 'int64' && y.type !== 'int32') || Number(y.data[0]) !== 2) return decline('exponent is not the constant scalar 2');
    return {
      name: 'f32_unary',
      run([x], [outType]) {
        const shape = outType!.shape as number[];
        if (x!.size !== shape.reduce((a, d) => a * d, 1)) return undefined; // Y broadcast X up (rank > X's)
        return unary('Pow', UNARY.square, x!, shape, 0, 0);
      },
      bind: (b) => bindUnary(b, UNARY.square, 0, 0),
    };
  },
};
registerKernel(powWasm);

/** A float32 scalar input of a Clip (min / max): its value, `dflt` when omitted, undefined when not a float scalar. */
function clipBound(t: Tensor | undefined, dflt: number): number | undefined {
  if (!t) return dflt;
  return t.type === 'float32' && t.size === 1 ? (t.data as Float32Array)[0]! : undefined;
}

/**
 * Clip and Relu on float32 as a standalone kernel (f32_unary op 4, a clamp), for the ones the plan could not fold
 * into their producer: min / max may be run-time values (exporters compute them with CastLike). ONNX Clip:
 * "min(max(input, min), max)"; Relu: "max(0, x)". A following activation folds in (Relu after Clip, HardSigmoid …).
 */
function clampKernel(op: 'Clip' | 'Relu'): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(_node, _attrs, types) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
      const epi = new Epilogue();
      return {
        name: 'f32_clamp',
        fuseClamp: epi.fuseClamp,
        fusePost: epi.fusePost,
        run([x, tmin, tmax], [outType]) {
          const lo0 = op === 'Relu' ? 0 : clipBound(tmin, -Infinity);
          const hi0 = op === 'Relu' ? Infinity : clipBound(tmax, Infinity);
          if (lo0 === undefined || hi0 === undefined) return undefined; // not a float scalar: the reference says why
          const n = x!.size;
          const xin = mem.input(x!.data as Float32Array, `${op} input`);
          try {
            const op2 = mem.alloc(n * 4, `${op} output`);
            // a fused Clip after this one narrows the range: clamp(clamp(x, a, b), c, d) = clamp(x, max(a, c), min(b, d))
            // when the ranges overlap (ONNX: lo > hi gives hi, which the nested min/max reproduces)
            if (n) {
              ex.f32_unary(UNARY.clamp, xin.ptr, op2, n, lo0, hi0);
              if (epi.lo > -Infinity || epi.hi < Infinity) ex.f32_unary(UNARY.clamp, op2, op2, n, epi.lo, epi.hi);
            }
            const y = mem.f32(op2, n);
            epi.apply(y);
            return [new Tensor('float32', y, outType!.shape as number[])];
          } finally {
            if (xin.copied) mem.release(xin.ptr);
          }
        },
        bind({ ins, consts, inTypes, outs: [yp], outTypes: [o] }) {
          // constant bounds are read once here; a run-time bound (a value computed in the graph, ins ≥ 0: the
          // melspectrogram's dB floor, max − 80) is read from its block on every call — a float32 scalar only
          const bound = (j: number, dflt: number): (() => number) | undefined => {
            const p = ins[j] ?? -1;
            if (p < 0) {
              const v = clipBound(consts[j], dflt);
              return v === undefined ? undefined : () => v;
            }
            const t = inTypes[j];
            if (t?.dtype !== 'float32' || !t.shape || t.shape.some((d) => d !== 1)) return undefined;
            return () => mem.f32(p, 1)[0]!;
          };
          const lo0 = op === 'Relu' ? () => 0 : bound(1, -Infinity);
          const hi0 = op === 'Relu' ? () => Infinity : bound(2, Infinity);
          const xp = ins[0]!;
          if (lo0 === undefined || hi0 === undefined || xp < 0 || yp! < 0) return undefined;
          const n = (o!.shape as number[]).reduce((a, d) => a * d, 1);
          const [lo, hi] = [epi.lo, epi.hi];
          return () => {
            if (!n) return;
            ex.f32_unary(UNARY.clamp, xp, yp!, n, lo0(), hi0());
            if (lo > -Infinity || hi < Infinity) ex.f32_unary(UNARY.clamp, yp!, yp!, n, lo, hi);
            epi.applyAt(yp!, n);
          };
        },
      };
    },
  };
}

registerKernel(clampKernel('Clip'));
registerKernel(clampKernel('Relu'));

/**
 * BatchNormalization (inference, training_mode = 0), float32, X of rank ≥ 2 (N, C, …): ONNX "Y = (X − input_mean) /
 * sqrt(input_var + epsilon) · scale + B" per channel, as one affine y = x·s + t with s = scale / √(var + ε) and
 * t = B − mean·s computed in double (at plan time when the parameters are constant). Relu/Clip and the POST_OPS
 * activations fold in. (A BN right after a Conv is folded into the conv's weights instead: ir/passes/fold-bn.ts.)
 */
const batchNormWasm: KernelDef = {
  op: 'BatchNormalization',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if ((attrs.training_mode ?? 0) !== 0) return decline('training_mode = 1 (batch statistics)');
    if (node.outputs.filter((o) => o).length > 1) return decline('running mean / var outputs requested');
    if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    if ([1, 2, 3, 4].some((i) => types[i]?.dtype !== 'float32')) return decline('scale / B / mean / var are not all float32');
    const eps: number = attrs.epsilon ?? 1e-5;
    const fold = (p: Tensor[]): [Float32Array, Float32Array] => {
      const [sc, b, mean, vr] = p.map((t) => t.data as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const s = new Float32Array(sc.length);
      const t = new Float32Array(sc.length);
      for (let c = 0; c < sc.length; c++) {
        const k = sc[c]! / Math.sqrt(vr[c]! + eps);
        s[c] = k;
        t[c] = b[c]! - mean[c]! * k;
      }
      return [s, t];
    };
    const params = [1, 2, 3, 4].map((i) => constant(i));
    const fixed = params.every((t) => t) ? fold(params as Tensor[]) : undefined;
    const c0 = fixed?.[0].length ?? 0;
    const sp = c0 ? mem.alloc(c0 * 8, 'batchnorm scale/shift') : 0;
    if (fixed) {
      mem.f32(sp, c0).set(fixed[0]);
      mem.f32(sp + c0 * 4, c0).set(fixed[1]);
    }
    const epi = new Epilogue();
    return {
      name: 'f32_channel_affine',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      run(inputs, [outType]) {
        const x = inputs[0]!;
        const n = x.size;
        const c = x.dims[1]!;
        const planes = x.dims[0]! * c;
        const hw = planes ? n / planes : 0;
        const xin = mem.input(x.data as Float32Array, 'batchnorm input');
        let tmp = 0;
        try {
          let p = sp;
          if (!fixed) {
            const [s, t] = fold(inputs.slice(1, 5) as Tensor[]);
            tmp = p = mem.alloc(c * 8, 'batchnorm scale/shift');
            mem.f32(p, c).set(s);
            mem.f32(p + c * 4, c).set(t);
          }
          const op2 = mem.alloc(n * 4, 'batchnorm output');
          if (n) ex.f32_channel_affine(xin.ptr, op2, planes, c, hw, p, p + c * 4, epi.lo, epi.hi);
          const y = mem.f32(op2, n);
          epi.apply(y);
          return [new Tensor('float32', y, outType!.shape as number[])];
        } finally {
          if (tmp) mem.release(tmp);
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      dispose() {
        if (sp) mem.release(sp);
      },
    };
  },
};

registerKernel(batchNormWasm);
