// Inline vector helpers shared by the f32 / fp16 / sparse kernels (not re-exported by asm/index.ts).

/** Clamp each lane to [lo, hi] (the fused Relu/Clip epilogue). */
// @ts-ignore: decorator
@inline
export function clampv(v: v128, lo: v128, hi: v128): v128 {
  return f32x4.min(f32x4.max(v, lo), hi);
}

/** Store the first `nc` (1…8) floats of the 8-lane row (v0, v1) at `c`. */
// @ts-ignore: decorator
@inline
export function storeRow(c: usize, nc: i32, v0: v128, v1: v128): void {
  if (nc == 8) {
    v128.store(c, v0);
    v128.store(c, v1, 16);
  } else {
    let v = v0;
    let j = 0;
    if (nc >= 4) {
      v128.store(c, v0);
      v = v1;
      j = 4;
    }
    const r = nc - j;
    const p = c + (j << 2);
    if (r > 0) f32.store(p, f32x4.extract_lane(v, 0));
    if (r > 1) f32.store(p, f32x4.extract_lane(v, 1), 4);
    if (r > 2) f32.store(p, f32x4.extract_lane(v, 2), 8);
  }
}

/**
 * One filter tap along one output row of a direct convolution: out[ox] += wv · xr[ox·sw + off] for every ox < ow
 * whose input column lies in [0, iw). Strides 1 and 2 run four outputs per vector; the stride-2 path reads the even
 * inputs of two loads (at most one float past the last tap: inputs live in padded arena blocks).
 */
// @ts-ignore: decorator
@inline
export function tapRow(orow: usize, xr: usize, wv: f32, off: i32, sw: i32, iw: i32, ow: i32): void {
  // ox range with 0 <= ox·sw + off < iw
  const o0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
  let o1 = iw - 1 - off >= 0 ? (iw - 1 - off) / sw + 1 : 0;
  if (o1 > ow) o1 = ow;
  if (o0 >= o1) return;
  let o = o0;
  const vw = f32x4.splat(wv);
  if (sw == 1) {
    for (; o + 3 < o1; o += 4) {
      const po = orow + (<usize>o << 2);
      v128.store(po, f32x4.add(v128.load(po), f32x4.mul(vw, v128.load(xr + (<usize>(o + off) << 2)))));
    }
  } else if (sw == 2) {
    for (; o + 3 < o1; o += 4) {
      const pi = xr + (<usize>(2 * o + off) << 2);
      const ev = v128.shuffle<f32>(v128.load(pi), v128.load(pi, 16), 0, 2, 4, 6);
      const po = orow + (<usize>o << 2);
      v128.store(po, f32x4.add(v128.load(po), f32x4.mul(vw, ev)));
    }
  }
  for (; o < o1; o++) {
    const po = orow + (<usize>o << 2);
    f32.store(po, f32.load(po) + wv * f32.load(xr + (<usize>(o * sw + off) << 2)));
  }
}

// exp(z) for z ≤ 0, by Cody–Waite reduction (z = n·ln2 + r, |r| ≤ ln2/2) and a degree-7 Taylor polynomial (truncation
// < 1e-8 relative); shared by Sigmoid/Tanh (asm/f32_act.ts) and Softmax (asm/f32_norm.ts).
// @ts-ignore: decorator
@inline
export function expNeg(z: v128): v128 {
  // z ≤ 0; below −104 the result rounds to 0 in float (e^−104 < half the smallest subnormal). pmax (z < c ? c : z)
  // is one x86 maxps where max is a NaN/±0-exact sequence; a NaN z still passes through.
  const zc = f32x4.pmax(z, f32x4.splat(-104));
  // n = round-to-nearest-even(z·log2 e) by the magic-bias trick: adding 1.5·2^23 leaves the integer part in the low
  // mantissa bits (the ulp there is 1), so n is that sum minus the bias and its int32 is the sum's bits minus the
  // bias's — the same n as f32x4.nearest, without V8's long trunc_sat_f32x4_s sequence on x86
  const vn = f32x4.add(f32x4.mul(zc, f32x4.splat(1.44269504)), f32x4.splat(12582912.0));
  const n = f32x4.sub(vn, f32x4.splat(12582912.0));
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
  const ni = i32x4.sub(vn, i32x4.splat(0x4b400000));
  const h = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/**
 * dst[i] = exp(src[i] − mx) for i in [lo, hi), returning their sum in f64: four lanes at a time, then the tail through
 * the same vector exp (one lane used) so every entry gets identical arithmetic. The shared middle of Softmax
 * (asm/f32_norm.ts) and the fused attention rows (asm/f32_attention.ts); dst may equal src.
 */
// @ts-ignore: decorator
@inline
export function expShiftSum(src: usize, dst: usize, lo: i32, hi: i32, mx: f32): f64 {
  const vmx = f32x4.splat(mx);
  let acc = f32x4.splat(0);
  let j = lo;
  for (; j + 4 <= hi; j += 4) {
    const o = <usize>j << 2;
    const e = expNeg(f32x4.sub(v128.load(src + o), vmx));
    v128.store(dst + o, e);
    acc = f32x4.add(acc, e);
  }
  let sum: f64 = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
  for (; j < hi; j++) {
    const o = <usize>j << 2;
    const e = f32x4.extract_lane(expNeg(f32x4.splat(f32.load(src + o) - mx)), 0);
    f32.store(dst + o, e);
    sum += <f64>e;
  }
  return sum;
}


/**
 * erf(x), Eigen's / XLA's float rational approximation (odd degree-13 numerator over degree-8 even denominator in x,
 * x clamped to [−4, 4] where erf rounds to ±1 in float): a few float ulps from the exact value.
 */
// @ts-ignore: decorator
@inline
export function erfv(x0: v128): v128 {
  // pmin/pmax (one minps/maxps each): with bounds ≠ ±0 and x first they give min/max's results bit for bit, NaN included
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-4)), f32x4.splat(4));
  const x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-2.72614225801306e-10);
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.77068142495902e-8));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-2.10102402082508e-6));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-5.69250639462346e-5));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-7.34990630326855e-4));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-2.9545998085402e-3));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-1.60960333262415e-2));
  p = f32x4.mul(p, x);
  let q = f32x4.splat(-1.45660718464996e-5);
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-2.13374055278905e-4));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.68282697438203e-3));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-7.37332916720468e-3));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.42647390514189e-2));
  // NaN propagates through the min/max clamp (f32x4.min/max return NaN for a NaN lane)
  return f32x4.div(p, q);
}

/** tanh(x) = sign(x)·(1 − e)/(1 + e) with e = exp(−2|x|) (no overflow, no cancellation in the large-|x| tail). */
// @ts-ignore: decorator
@inline
export function tanhv(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = expNeg(f32x4.mul(ax, f32x4.splat(-2)));
  const one = f32x4.splat(1);
  let t = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
  // small |x|: 1 − e cancels; x − x³/3 + 2x⁵/15 is exact to float there
  const x2 = f32x4.mul(ax, ax);
  const s = f32x4.mul(ax, f32x4.add(one, f32x4.mul(x2, f32x4.add(f32x4.splat(-1.0 / 3.0), f32x4.mul(x2, f32x4.splat(2.0 / 15.0))))));
  t = v128.bitselect(s, t, f32x4.lt(ax, f32x4.splat(0.0625)));
  return v128.bitselect(f32x4.neg(t), t, f32x4.lt(x, f32x4.splat(0)));
}

// ln(x): x = m·2^e with m in [√½, √2) (subnormals scaled by 2^25 first), f = m − 1, s = f/(2 + f) (|s| ≤ 0.1716),
// ln m = 2·atanh(s) = 2s·(1 + s²/3 + s⁴/5 + … + s¹⁰/11) (truncation < 1e-9 relative), plus e·ln2 split in a high part
// exact in float and a low correction. Specials as ONNX Log / IEEE log: ln 0 = −inf, ln(x < 0) = NaN, ln inf = inf,
// NaN stays NaN. Agreement with the reference's double Math.log rounded to float is to a few float ulps.
// @ts-ignore: decorator
@inline
export function logv(x: v128): v128 {
  const sub = f32x4.lt(x, f32x4.splat(1.17549435e-38));
  const xs = v128.bitselect(f32x4.mul(x, f32x4.splat(33554432.0)), x, sub);
  const bits = xs;
  let e = i32x4.sub(i32x4.shr_u(bits, 23), i32x4.splat(127));
  e = i32x4.sub(e, v128.and(sub, i32x4.splat(25)));
  let m = v128.or(v128.and(bits, i32x4.splat(0x007fffff)), i32x4.splat(0x3f800000));
  const big = f32x4.gt(m, f32x4.splat(1.41421356));
  m = v128.bitselect(f32x4.mul(m, f32x4.splat(0.5)), m, big);
  e = i32x4.sub(e, big); // big lanes are −1: e + 1
  const f = f32x4.sub(m, f32x4.splat(1));
  const s = f32x4.div(f, f32x4.add(f32x4.splat(2), f));
  const z = f32x4.mul(s, s);
  let p = f32x4.splat(1.0 / 11.0);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.0 / 9.0));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.0 / 7.0));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.0 / 5.0));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.0 / 3.0));
  // 2s + 2s·z·p: the leading term kept exact-ish, the tail small
  const s2 = f32x4.add(s, s);
  const lm = f32x4.add(s2, f32x4.mul(f32x4.mul(s2, z), p));
  const ef = f32x4.convert_i32x4_s(e);
  let y = f32x4.add(f32x4.mul(ef, f32x4.splat(0.693145752)), f32x4.add(lm, f32x4.mul(ef, f32x4.splat(1.42860677e-6))));
  // specials: 0 (either sign) → −inf, negative → NaN, +inf → +inf, NaN → NaN
  y = v128.bitselect(f32x4.splat(-Infinity), y, f32x4.eq(x, f32x4.splat(0)));
  y = v128.bitselect(f32x4.splat(NaN), y, f32x4.lt(x, f32x4.splat(0)));
  y = v128.bitselect(x, y, v128.or(f32x4.eq(x, f32x4.splat(Infinity)), f32x4.ne(x, x)));
  return y;
}

/**
 * The clamp of a depthwise output vector, [lo, hi] as f32x4.min(f32x4.max(v, lo), hi) gives it, in three single
 * instructions instead of two NaN-exact sequences (f32x4.max / min are ~8 x64 instructions each in V8):
 * pmax(v, lo) = v < lo ? lo : v and pmin(_, hi) = hi < _ ? hi : _ keep a NaN v NaN and agree with max / min
 * everywhere else except max(−0, +0) = +0, which adding vz (+0 when lo is +0, else −0: x + −0 = x for every x)
 * restores. Exact except NaN payloads, for every lo and hi but hi = −0 (min(+0, −0) = −0): `exact` then keeps
 * f32x4.min / max. `clamp` false (lo = −∞, hi = +∞): v unchanged.
 */
// @ts-ignore: decorator
@inline
export function dwClamp(v: v128, clamp: bool, exact: bool, vlo: v128, vhi: v128, vz: v128): v128 {
  if (!clamp) return v;
  if (exact) return f32x4.min(f32x4.max(v, vlo), vhi);
  return f32x4.add(f32x4.pmin(f32x4.pmax(v, vlo), vhi), vz);
}

/** Whether the clamp [lo, hi] needs f32x4.min / max (hi = −0; NaN bounds): see dwClamp. */
// @ts-ignore: decorator
@inline
export function dwClampExact(lo: f32, hi: f32): bool {
  return (hi == 0 && (reinterpret<u32>(hi) >> 31) != 0) || lo != lo || hi != hi;
}

/** The vz of dwClamp: +0 when lo is +0, else −0. */
// @ts-ignore: decorator
@inline
export function dwClampZero(lo: f32): v128 {
  return f32x4.splat(lo == 0 && (reinterpret<u32>(lo) >> 31) == 0 ? <f32>0 : <f32>-0.0);
}
