import { Tensor } from '../tensor/tensor.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { pinInputs } from './gemm.js';
import { UNARY, POST_OPS, unaryAt } from './epilogue.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type Arena, arena, kernels } from './wasm.js';

/**
 * Kernels for the com.microsoft normalizations and activations of transformer exports (src/ops/contrib-xfmr.ts),
 * built from the existing row-normalization and pointwise kernels: x + skip (+ bias) through f32_binary, then
 * f32_layernorm / f32_rmsnorm (asm/f32_norm.ts); (x + bias) then f32_unary / f32_binary steps (see `act`).
 * Outputs stay in kernel memory for the next kernel.
 */

const MS = 'com.microsoft';
const ADD = 0; // f32_binary op code

const f32Const = (t: TensorT | undefined): t is TensorT => !!t && t.type === 'float32';

/** Copy a float32 constant into kernel memory for the session. */
function keep(mem: Arena, t: TensorT, what: string): number {
  const p = mem.alloc(t.size * 4, what);
  mem.f32(p, t.size).set(t.data as Float32Array);
  return p;
}

/**
 * out = x + skip (+ bias per row of h): skip is x-sized or repeats every skip.length elements ((1, S, H) or (S, H)
 * under (B, S, H)); bias, when given, has h floats. Pointers into kernel memory.
 */
function addSkipBias(xp: number, n: number, sp: number, sn: number, bp: number, h: number, out: number): void {
  const ex = kernels()!;
  for (let o = 0; o < n; o += sn) ex.f32_binary(ADD, xp + o * 4, 1, sp, 1, out + o * 4, Math.min(sn, n - o), -Infinity, Infinity);
  if (bp) for (let o = 0; o < n; o += h) ex.f32_binary(ADD, out + o * 4, 1, bp, 1, out + o * 4, h, -Infinity, Infinity);
}

function skipNormKernel(simplified: boolean): KernelDef {
  const op = simplified ? 'SkipSimplifiedLayerNormalization' : 'SkipLayerNormalization';
  const betaIdx = simplified ? -1 : 3;
  const biasIdx = simplified ? 3 : 4;
  return {
    op,
    domain: MS,
    backend: 'wasm',
    prepare(node, attrs, types, constant) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
      const g = constant(2);
      const beta = betaIdx > 0 && node.inputs[betaIdx] ? constant(betaIdx) : undefined;
      const bias = node.inputs[biasIdx] ? constant(biasIdx) : undefined;
      if (!f32Const(g)) return decline('gamma is not a float32 constant');
      if (betaIdx > 0 && node.inputs[betaIdx] && !f32Const(beta)) return decline('beta is not a float32 constant');
      if (node.inputs[biasIdx] && !f32Const(bias)) return decline('bias is not a float32 constant');
      const h = g.size;
      const gp = keep(mem, g, `${op} gamma`);
      const bp = beta ? keep(mem, beta, `${op} beta`) : 0;
      const cp = bias ? keep(mem, bias, `${op} bias`) : 0;
      const eps: number = attrs.epsilon;
      const wantSum = !!node.outputs[3];
      return {
        name: simplified ? 'f32_rmsnorm' : 'f32_layernorm',
        run([x, s], outTypes) {
          const n = x!.size;
          const { ptrs, copied } = pinInputs(mem, [x!.data as Float32Array, s!.data as Float32Array], `${op} input`);
          try {
            const sum = mem.alloc(n * 4, `${op} input_skip_bias_sum`);
            const yp = mem.alloc(n * 4, `${op} output`);
            const rows = h ? n / h : 0;
            if (n) {
              addSkipBias(ptrs[0]!, n, ptrs[1]!, s!.size, cp, h, sum);
              if (simplified) ex.f32_rmsnorm(sum, rows, h, gp, eps, yp);
              else ex.f32_layernorm(sum, rows, h, gp, bp, eps, yp);
            }
            const dims = outTypes[0]!.shape as number[];
            const outs: Tensor[] = [new Tensor('float32', mem.f32(yp, n), dims)];
            if (outTypes.length > 1) {
              // outputs 1 / 2 (training statistics) are refused by the op's shape rule; the slots stay empty
              outs.push(undefined as never, undefined as never, new Tensor('float32', mem.f32(sum, n), dims));
            } else mem.release(sum);
            return outs.slice(0, wantSum ? 4 : 1);
          } finally {
            for (const p of copied) mem.release(p);
          }
        },
        dispose() {
          for (const p of [gp, bp, cp]) if (p) mem.release(p);
        },
      };
    },
  };
}

/**
 * RMS norm over the trailing dims from `axis` with a constant scale of that block's size: onnxruntime's
 * SimplifiedLayerNormalization (ONNX domain) and ONNX RMSNormalization (opset 23). A scale broadcast over the block
 * runs the reference.
 */
function rmsKernel(op: 'SimplifiedLayerNormalization' | 'RMSNormalization'): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(node, attrs, types, constant) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
      if (node.outputs[1]) return decline('inv_std_var output is requested');
      const s = constant(1);
      if (!f32Const(s)) return decline('scale is not a float32 constant');
      const gp = keep(mem, s, `${op} scale`);
      const axisAttr: number = attrs.axis;
      return {
        name: 'f32_rmsnorm',
        run([x], [out]) {
          const dims = x!.dims;
          const ax = axisAttr < 0 ? axisAttr + dims.length : axisAttr;
          const inner = dims.slice(ax).reduce((a, d) => a * d, 1);
          if (inner !== s.size) return undefined;
          const xin = mem.input(x!.data as Float32Array, `${op} input`);
          try {
            const yp = mem.alloc(x!.size * 4, `${op} output`);
            if (x!.size) ex.f32_rmsnorm(xin.ptr, x!.size / inner, inner, gp, attrs.epsilon, yp);
            return [new Tensor('float32', mem.f32(yp, x!.size), out!.shape as number[])];
          } finally {
            if (xin.copied) mem.release(xin.ptr);
          }
        },
        dispose: () => mem.release(gp),
      };
    },
  };
}

const MUL = 2; // f32_binary op code
const SQRT_2_PI = Math.sqrt(2 / Math.PI);

/**
 * The activation in place over n floats at y (x = y): Gelu is f32_unary's erf Gelu; FastGelu's
 * 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))) and QuickGelu's x·sigmoid(alpha·x) are composed from f32_unary's
 * affine / Tanh / Sigmoid and f32_binary's multiply through the scratch block t.
 */
function act(kind: 'gelu' | 'fast' | 'quick', y: number, t: number, n: number, alpha: number): void {
  const ex = kernels()!;
  const mul = (a: number, b: number, o: number) => ex.f32_binary(MUL, a, 1, b, 1, o, n, -Infinity, Infinity);
  const un = (code: number, a: number, o: number, p: number, q: number) => unaryAt(ex, code, a, o, n, p, q);
  if (kind === 'gelu') return un(POST_OPS.Gelu!, y, y, 0, 0);
  if (kind === 'quick') {
    un(UNARY.mul, y, t, alpha, 0);
    un(POST_OPS.Sigmoid!, t, t, 0, 0);
  } else {
    mul(y, y, t);
    un(UNARY.affine, t, t, 0.044715 * SQRT_2_PI, SQRT_2_PI);
    mul(t, y, t);
    un(POST_OPS.Tanh!, t, t, 0, 0);
    un(UNARY.affine, t, t, 0.5, 0.5);
  }
  mul(y, t, y);
}

/** act(x (+ bias over the last axis)); a bias must be a float32 constant of the last dim's size. */
function actKernel(op: string, kind: 'gelu' | 'fast' | 'quick', biasInput: boolean): KernelDef {
  return {
    op,
    domain: MS,
    backend: 'wasm',
    prepare(node, attrs, types, constant) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
      const b = biasInput && node.inputs[1] ? constant(1) : undefined;
      if (biasInput && node.inputs[1] && !f32Const(b)) return decline('bias is not a float32 constant');
      const bp = b ? keep(mem, b, `${op} bias`) : 0;
      const h = b?.size ?? 0;
      const alpha: number = attrs.alpha ?? 0;
      return {
        name: 'f32_unary',
        run([x], [outType]) {
          const n = x!.size;
          const xin = mem.input(x!.data as Float32Array, `${op} input`);
          try {
            const yp = mem.alloc(n * 4, `${op} output`);
            const tp = kind === 'gelu' ? 0 : mem.alloc(n * 4, `${op} scratch`);
            if (n) {
              if (bp) for (let o = 0; o < n; o += h) ex.f32_binary(ADD, xin.ptr + o * 4, 1, bp, 1, yp + o * 4, h, -Infinity, Infinity);
              else mem.f32(yp, n).set(mem.f32(xin.ptr, n));
              act(kind, yp, tp, n, alpha);
            }
            if (tp) mem.release(tp);
            return [new Tensor('float32', mem.f32(yp, n), outType!.shape as number[])];
          } finally {
            if (xin.copied) mem.release(xin.ptr);
          }
        },
        dispose() {
          if (bp) mem.release(bp);
        },
      };
    },
  };
}

/** BiasAdd: X + bias (per row) + skip. */
const biasAddKernel: KernelDef = {
  op: 'BiasAdd',
  domain: MS,
  backend: 'wasm',
  prepare(_node, _attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const b = constant(1);
    if (!f32Const(b)) return decline('bias is not a float32 constant');
    const bp = keep(mem, b, 'BiasAdd bias');
    return {
      name: 'f32_binary',
      run([x, , s], [outType]) {
        const n = x!.size;
        const { ptrs, copied } = pinInputs(mem, [x!.data as Float32Array, s!.data as Float32Array], 'BiasAdd input');
        try {
          const yp = mem.alloc(n * 4, 'BiasAdd output');
          // (X + bias) + skip: the reference's order of rounding
          for (let o = 0; o < n; o += b.size) ex.f32_binary(ADD, ptrs[0]! + o * 4, 1, bp, 1, yp + o * 4, b.size, -Infinity, Infinity);
          if (n) ex.f32_binary(ADD, yp, 1, ptrs[1]!, 1, yp, n, -Infinity, Infinity);
          return [new Tensor('float32', mem.f32(yp, n), outType!.shape as number[])];
        } finally {
          for (const p of copied) mem.release(p);
        }
      },
      dispose: () => mem.release(bp),
    };
  },
};

registerKernel(skipNormKernel(false));
registerKernel(skipNormKernel(true));
registerKernel(rmsKernel('SimplifiedLayerNormalization'));
registerKernel(rmsKernel('RMSNormalization'));
registerKernel(actKernel('Gelu', 'gelu', false));
registerKernel(actKernel('BiasGelu', 'gelu', true));
registerKernel(actKernel('FastGelu', 'fast', true));
registerKernel(actKernel('QuickGelu', 'quick', false));
registerKernel(biasAddKernel);
