// f32 pointwise activations (LeakyRelu, HardSigmoid, HardSwish, Sigmoid) over n floats, in place or not. Kernels
// with a fused activation run this on their output block right after computing it (the plan folds the node away).
//
// Sigmoid needs exp, which WebAssembly lacks: e = exp(−|x|) by Cody–Waite reduction (x = n·ln2 + r, |r| ≤ ln2/2)
// and a degree-7 Taylor polynomial (truncation < 1e-8 relative), then 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0 —
// neither form cancels. Agreement with the reference's double-precision Math.exp is to a few float ulps.

// @ts-ignore: decorator
@inline
function expNeg(z: v128): v128 {
  // z ≤ 0; below −104 the result rounds to 0 in float (e^−104 < half the smallest subnormal)
  const zc = f32x4.max(z, f32x4.splat(-104));
  const n = f32x4.nearest(f32x4.mul(zc, f32x4.splat(1.44269504)));
  let r = f32x4.sub(zc, f32x4.mul(n, f32x4.splat(0.693145752)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(1.42860677e-6)));
  let p = f32x4.splat(1.0 / 5040.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 720.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  // 2^n through the exponent bits, as two normal factors 2^h · 2^(n−h) (n in [−150, 0]) so results below 2^−126
  // round into the subnormals as the reference's do
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const h = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

// @ts-ignore: decorator
@inline
function act(op: i32, x: v128, alpha: v128, beta: v128): v128 {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  if (op == 0) return v128.bitselect(f32x4.mul(x, alpha), x, f32x4.lt(x, zero)); // LeakyRelu
  if (op == 1) return f32x4.max(zero, f32x4.min(one, f32x4.add(f32x4.mul(alpha, x), beta))); // HardSigmoid
  if (op == 2) return f32x4.mul(x, f32x4.max(zero, f32x4.min(one, f32x4.add(f32x4.div(x, f32x4.splat(6)), f32x4.splat(0.5))))); // HardSwish
  // Clip / Relu: min(max(x, lo), hi) with lo = alpha, hi = beta; NaN stays NaN (wasm min/max propagate it)
  if (op == 4) return f32x4.min(f32x4.max(x, alpha), beta);
  // Mul / Add by a scalar folded in (each rounds once, as the separate ops do)
  if (op == 5) return f32x4.mul(x, alpha);
  if (op == 6) return f32x4.add(f32x4.mul(x, alpha), beta);
  if (op == 7) return f32x4.add(x, beta);
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
 * 4 = clamp to [alpha, beta] (Clip, Relu), 5 = x·alpha, 6 = x·alpha + beta, 7 = x + beta.
 */
export function f32_unary(op: i32, x: usize, out: usize, n: i32, alpha: f32, beta: f32): void {
  if (op == 4) runAct(4, x, out, n, alpha, beta);
  else if (op == 5) runAct(5, x, out, n, alpha, beta);
  else if (op == 6) runAct(6, x, out, n, alpha, beta);
  else if (op == 7) runAct(7, x, out, n, alpha, beta);
  else if (op == 0) runAct(0, x, out, n, alpha, beta);
  else if (op == 1) runAct(1, x, out, n, alpha, beta);
  else if (op == 2) runAct(2, x, out, n, alpha, beta);
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
