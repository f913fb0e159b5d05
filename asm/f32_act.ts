import { erfv, expNeg, logv, tanhv } from './vec';
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
  // Clip / Relu: min(max(x, lo), hi) with lo = alpha, hi = beta; NaN stays NaN (wasm min/max propagate it)
  if (op == 7) return f32x4.min(f32x4.max(x, alpha), beta);
  // Mul / Add by a scalar folded in (each rounds once, as the separate ops do)
  if (op == 8) return f32x4.mul(x, alpha);
  if (op == 9) return f32x4.add(f32x4.mul(x, alpha), beta);
  if (op == 10) return f32x4.add(x, beta);
  // Pow(x, 2) and Sqrt: one correctly rounded float op each, as the reference's double result rounded to float
  if (op == 11) return f32x4.mul(x, x);
  if (op == 12) return f32x4.sqrt(x);
  if (op == 13) return logv(x); // Log
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
 * 4 = Erf, 5 = Tanh, 6 = Gelu (0.5·x·(1 + erf(x/√2))), 7 = clamp to [alpha, beta] (Clip, Relu), 8 = x·alpha,
 * 9 = x·alpha + beta, 10 = x + beta, 11 = x·x (Pow by 2), 12 = sqrt(x), 13 = ln(x).
 */
export function f32_unary(op: i32, x: usize, out: usize, n: i32, alpha: f32, beta: f32): void {
  // each op a separate instantiation of the inlined loop (a constant op: no per-element dispatch)
  if (op == 0) runAct(0, x, out, n, alpha, beta);
  else if (op == 1) runAct(1, x, out, n, alpha, beta);
  else if (op == 2) runAct(2, x, out, n, alpha, beta);
  else if (op == 4) runAct(4, x, out, n, alpha, beta);
  else if (op == 5) runAct(5, x, out, n, alpha, beta);
  else if (op == 6) runAct(6, x, out, n, alpha, beta);
  else if (op == 7) runAct(7, x, out, n, alpha, beta);
  else if (op == 8) runAct(8, x, out, n, alpha, beta);
  else if (op == 9) runAct(9, x, out, n, alpha, beta);
  else if (op == 10) runAct(10, x, out, n, alpha, beta);
  else if (op == 11) runAct(11, x, out, n, alpha, beta);
  else if (op == 12) runAct(12, x, out, n, alpha, beta);
  else if (op == 13) runAct(13, x, out, n, alpha, beta);
  else runAct(3, x, out, n, alpha, beta);
}

/**
 * Per-channel affine over NC·hw floats (BatchNormalization in inference, folded to y = x·scale[c] + shift[c]),
 * clamped to [lo, hi] (a fused Relu/Clip): plane i (of `planes` = N·C planes of hw floats) uses channel i mod c.
 */
export function f32_channel_affine(x: usize, out: usize, planes: i32, c: i32, hw: i32, scale: usize, shift: usize, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  for (let p = 0; p < planes; p++) {
    const ch = <usize>(p % c) << 2;
    const s = f32.load(scale + ch);
    const t = f32.load(shift + ch);
    const vs = f32x4.splat(s);
    const vt = f32x4.splat(t);
    const base = (<usize>p * <usize>hw) << 2;
    let i = 0;
    for (; i + 3 < hw; i += 4) {
      const o = base + ((<usize>i) << 2);
      v128.store(out + o, f32x4.min(f32x4.max(f32x4.add(f32x4.mul(v128.load(x + o), vs), vt), vlo), vhi));
    }
    for (; i < hw; i++) {
      const o = base + ((<usize>i) << 2);
      const y = f32.load(x + o) * s + t;
      f32.store(out + o, y < lo ? lo : y > hi ? hi : y);
    }
  }
}

/**
 * PRelu with one slope per channel, in place: x viewed as blocks [c, inner] (n elements in all), element i of
 * channel ch becomes slopes[ch]·x where x < 0 (ONNX PRelu; NaN stays NaN). The epilogue of a kernel whose output
 * a PRelu reads (MediaPipe models put one after most convs).
 */
export function f32_prelu_channels(x: usize, n: i32, c: i32, inner: i32, slopes: usize): void {
  const zero = f32x4.splat(0);
  const block = c * inner;
  if (block <= 0) return;
  for (let base = 0; base < n; base += block) {
    for (let ch = 0; ch < c; ch++) {
      const s: f32 = f32.load(slopes + ((<usize>ch) << 2));
      const vs = f32x4.splat(s);
      const p = x + ((<usize>(base + ch * inner)) << 2);
      let i = 0;
      for (; i + 3 < inner; i += 4) {
        const q = p + ((<usize>i) << 2);
        const v = v128.load(q);
        v128.store(q, v128.bitselect(f32x4.mul(v, vs), v, f32x4.lt(v, zero)));
      }
      for (; i < inner; i++) {
        const q = p + ((<usize>i) << 2);
        const v = f32.load(q);
        if (v < 0) f32.store(q, v * s);
      }
    }
  }
}
