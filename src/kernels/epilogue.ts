import { kernels } from './wasm.js';

/**
 * What a kernel folds in after its arithmetic: a clamp (Relu, Relu6/Clip) applied inside the micro-kernel's store,
 * and optionally one pointwise activation (LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Erf, Tanh, Gelu) run over the output block
 * in place right after it is written (asm/f32_act.ts). The plan (runtime/executor.ts) folds the activation node away.
 * Order is the graph's: a clamp can fold in only before the activation, so once one is taken nothing else is.
 */
export class Epilogue {
  lo = -Infinity;
  hi = Infinity;
  private post: [code: number, alpha: number, beta: number] | undefined;

  readonly fuseClamp = (l: number, h: number): boolean => {
    if (this.post) return false;
    this.lo = Math.max(this.lo, l);
    this.hi = Math.min(this.hi, h);
    return true;
  };

  readonly fusePost = (op: string, attrs: Record<string, unknown>): boolean => {
    const code = POST_OPS[op];
    if (this.post || code === undefined || !postSupported(op, attrs)) return false;
    const f = (k: string, d: number) => (typeof attrs[k] === 'number' ? (attrs[k] as number) : d);
    this.post = [code, f('alpha', op === 'LeakyRelu' ? 0.01 : 0.2), f('beta', 0.5)];
    return true;
  };

  /** Run the folded activation (if any) over a kernel output, in place. */
  apply(out: Float32Array): void {
    if (this.post && out.length) kernels()!.f32_unary(this.post[0], out.byteOffset, out.byteOffset, out.length, this.post[1], this.post[2]);
  }
}

/** Activations f32_unary implements, by ONNX op name (its `op` code). */
export const POST_OPS: Readonly<Record<string, number>> = { LeakyRelu: 0, HardSigmoid: 1, HardSwish: 2, Sigmoid: 3, Erf: 4, Tanh: 5, Gelu: 6 };

/** Attribute values f32_unary does not implement (Gelu's tanh approximation): the reference runs those. */
export function postSupported(op: string, attrs: Record<string, unknown>): boolean {
  return !(op === 'Gelu' && attrs.approximate !== undefined && attrs.approximate !== 'none');
}
