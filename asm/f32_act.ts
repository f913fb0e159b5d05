import { erfv, expNeg, tanhv } from './vec';
// f32 pointwise activations (LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Erf, Tanh, Gelu) over n floats, in place or not. Kernels
// with a fused activation run this on their output block right after computing it (the plan folds the node away).
//
// Sigmoid needs exp, which WebAssembly lacks: e = exp(−|x|) by Cody–Waite reduction (x = n·ln2 + r, |r| ≤ ln2/2)
// and a degree-7 Taylor polynomial (truncation < 1e-8 relative), then 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0 —
// neither form cancels. Agreement with the reference's double-precision Math.exp is to a few float ulps.

// @ts-ignore: decorator
@inline
function act(op: i32, x: v128, alpha: v128, beta: v128): v128 {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  if (op == 0) return v128.bitselect(f32x4.mul(x, alpha), x, f32x4.lt(x, zero)); // LeakyRelu
  if (op == 1) return f32x4.max(zero, f32x4.min(one, f32x4.add(f32x4.mul(alpha, x), beta))); // HardSigmoid
  if (op == 2) return f32x4.mul(x, f32x4.max(zero, f32x4.min(one, f32x4.add(f32x4.div(x, f32x4.splat(6)), f32x4.splat(0.5))))); // HardSwish
  if (op == 4) return erfv(x); // Erf
  if (op == 5) return tanhv(x); // Tanh
  if (op == 6) return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(one, erfv(f32x4.mul(x, f32x4.splat(0.70710678118654752))))); // Gelu (erf form)
  // Sigmoid
  const e = expNeg(f32x4.neg(f32x4.abs(x)));
  const r = f32x4.div(one, f32x4.add(one, e));
  return v128.bitselect(f32x4.mul(e, r), r, f32x4.lt(x, zero));
}

// @ts-ignore: decorator
@inline
function runAct(op: i32, x: usize, out: usize, n: i32, alpha: f32, beta: f32): void {
  const va = f32x4.splat(alpha);
  const vb = f32x4.splat(beta);
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, act(op, v128.load(x + o), va, vb));
  }
  if (i < n) {
    // the last 1–3 floats: one vector load (arena blocks are padded: reading past the end is safe, the extra lanes are
    // computed and dropped), so the tail gets the same arithmetic as the full vectors
    const o = (<usize>i) << 2;
    const v = v128.load(x + o);
    const y = act(op, v, va, vb);
    f32.store(out + o, f32x4.extract_lane(y, 0));
    if (n - i > 1) f32.store(out + o, f32x4.extract_lane(y, 1), 4);
    if (n - i > 2) f32.store(out + o, f32x4.extract_lane(y, 2), 8);
  }
}

/**
 * out[i] = act(x[i]) for i < n; op 0 = LeakyRelu(alpha), 1 = HardSigmoid(alpha, beta), 2 = HardSwish, 3 = Sigmoid,
 * 4 = Erf, 5 = Tanh, 6 = Gelu (0.5·x·(1 + erf(x/√2))).
 */
export function f32_unary(op: i32, x: usize, out: usize, n: i32, alpha: f32, beta: f32): void {
  if (op == 0) runAct(0, x, out, n, alpha, beta);
  else if (op == 1) runAct(1, x, out, n, alpha, beta);
  else if (op == 2) runAct(2, x, out, n, alpha, beta);
  else if (op == 4) runAct(4, x, out, n, alpha, beta);
  else if (op == 5) runAct(5, x, out, n, alpha, beta);
  else if (op == 6) runAct(6, x, out, n, alpha, beta);
  else runAct(3, x, out, n, alpha, beta);
}
