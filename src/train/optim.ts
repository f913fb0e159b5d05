/** Optimizers over named Float32Array parameters: SGD with (Nesterov) momentum and Adam/AdamW, with weight decay. */
import { InputError } from '../errors.js';

export interface OptimizerOptions {
  type?: 'sgd' | 'adam';
  /** learning rate (default 0.05 for SGD, 0.002 for Adam) */
  lr?: number;
  /** SGD momentum (default 0.9) */
  momentum?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient (SGD, Adam); with `decoupled` Adam applies it to the weights (AdamW) */
  weightDecay?: number;
  decoupled?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export function validateOptimizer(o: OptimizerOptions): Required<Omit<OptimizerOptions, 'nesterov' | 'decoupled'>> & { nesterov: boolean; decoupled: boolean } {
  const type = o.type ?? 'adam';
  if (type !== 'sgd' && type !== 'adam') throw new InputError(`optimizer must be sgd or adam, got '${String(type)}'`);
  const r = {
    type,
    lr: o.lr ?? (type === 'sgd' ? 0.05 : 0.002),
    momentum: o.momentum ?? 0.9,
    nesterov: !!o.nesterov,
    weightDecay: o.weightDecay ?? 0,
    decoupled: !!o.decoupled,
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.999,
    eps: o.eps ?? 1e-8,
  };
  if (!(r.lr > 0 && Number.isFinite(r.lr))) throw new InputError(`learning rate must be a positive number, got ${r.lr}`);
  if (!(r.momentum >= 0 && r.momentum < 1)) throw new InputError(`momentum must be in [0, 1), got ${r.momentum}`);
  if (!(r.weightDecay >= 0 && Number.isFinite(r.weightDecay))) throw new InputError(`weight decay must be ≥ 0, got ${r.weightDecay}`);
  if (!(r.beta1 >= 0 && r.beta1 < 1) || !(r.beta2 >= 0 && r.beta2 < 1)) throw new InputError('Adam betas must be in [0, 1)');
  if (!(r.eps > 0)) throw new InputError(`eps must be positive, got ${r.eps}`);
  return r;
}

export class Optimizer {
  readonly o: ReturnType<typeof validateOptimizer>;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private t = 0;
  constructor(opts: OptimizerOptions = {}) {
    this.o = validateOptimizer(opts);
  }

  /** One update of every parameter with its gradient at learning rate `lr` (default: the configured one). */
  step(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr = this.o.lr): void {
    const { type, momentum, nesterov, weightDecay: wd, decoupled, beta1, beta2, eps } = this.o;
    this.t++;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      let m = this.m.get(name);
      if (!m) this.m.set(name, (m = new Float32Array(p.length)));
      if (type === 'sgd') {
        for (let i = 0; i < p.length; i++) {
          const gi = g[i]! + wd * p[i]!;
          const mi = momentum * m[i]! + gi;
          m[i] = mi;
          p[i] -= lr * (nesterov ? gi + momentum * mi : momentum ? mi : gi);
        }
        continue;
      }
      let v = this.v.get(name);
      if (!v) this.v.set(name, (v = new Float32Array(p.length)));
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! + (decoupled ? 0 : wd * p[i]!);
        const mi = beta1 * m[i]! + (1 - beta1) * gi;
        const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (decoupled && wd) p[i] -= lr * wd * p[i]!;
        p[i] -= (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
      }
    }
  }
}
