import { dwClamp, dwClampExact, dwClampZero } from './vec';
// f32 elementwise binary ops (Add, Sub, Mul, Div) with the fused clamp epilogue (Relu/Clip after a residual Add).
// Each operand is either n floats or one scalar broadcast to all (step 0). IEEE single arithmetic per lane, which
// is what the TS reference computes (the double result of two floats' +, −, ×, ÷ rounds to the same float).

// @ts-ignore: decorator
@inline
function apply(op: i32, a: v128, b: v128): v128 {
  if (op == 0) return f32x4.add(a, b);
  if (op == 1) return f32x4.sub(a, b);
  if (op == 2) return f32x4.mul(a, b);
  if (op == 4) return v128.bitselect(f32x4.mul(a, b), a, f32x4.lt(a, f32x4.splat(0))); // PRelu: a < 0 ? a·slope : a
  // Max / Min as the reference picks: a when a > b (a < b) or a is NaN, else b (so NaN wins, and of ±0 the second)
  if (op == 5) return v128.bitselect(a, b, v128.or(f32x4.gt(a, b), f32x4.ne(a, a)));
  if (op == 6) return v128.bitselect(a, b, v128.or(f32x4.lt(a, b), f32x4.ne(a, a)));
  return f32x4.div(a, b);
}

// @ts-ignore: decorator
@inline
function apply1(op: i32, a: f32, b: f32): f32 {
  if (op == 0) return a + b;
  if (op == 1) return a - b;
  if (op == 2) return a * b;
  if (op == 4) return a < 0 ? a * b : a;
  if (op == 5) return a > b || a != a ? a : b;
  if (op == 6) return a < b || a != a ? a : b;
  return a / b;
}

// @ts-ignore: decorator
@inline
function run(op: i32, a: usize, as: usize, b: usize, bs: usize, out: usize, n: i32, lo: f32, hi: f32): void {
  // no clamp when unbounded (a residual Add or PRelu on its own), else dwClamp's three-instruction form
  if (lo == -Infinity && hi == Infinity) runClamped(op, a, as, b, bs, out, n, lo, hi, false);
  else runClamped(op, a, as, b, bs, out, n, lo, hi, true);
}

// @ts-ignore: decorator
@inline
function runClamped(op: i32, a: usize, as: usize, b: usize, bs: usize, out: usize, n: i32, lo: f32, hi: f32, clamp: bool): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const exact = dwClampExact(lo, hi);
  const vz = dwClampZero(lo);
  const sa = f32x4.splat(f32.load(a));
  const sb = f32x4.splat(f32.load(b));
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const o = (<usize>i) << 2;
    const va = as ? v128.load(a + o) : sa;
    const vb = bs ? v128.load(b + o) : sb;
    v128.store(out + o, dwClamp(apply(op, va, vb), clamp, exact, vlo, vhi, vz));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const y = apply1(op, f32.load(a + o * as), f32.load(b + o * bs));
    f32.store(out + o, max(lo, min(hi, y)));
  }
}

/**
 * out[i] = clamp(a[i·sa] op b[i·sb], lo, hi) for i < n; op 0 = add, 1 = sub, 2 = mul, 3 = div, 4 = PRelu (a < 0 ?
 * a·b : a, b the slope), 5 = max, 6 = min (two-input Max / Min); sa / sb are 1 (a
 * tensor of n floats) or 0 (a scalar). The clamp with lo = −∞, hi = +∞ passes NaN through unchanged.
 */
export function f32_binary(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32, lo: f32, hi: f32): void {
  const as = <usize>sa;
  const bs = <usize>sb;
  if (op == 0) run(0, a, as, b, bs, out, n, lo, hi);
  else if (op == 1) run(1, a, as, b, bs, out, n, lo, hi);
  else if (op == 2) run(2, a, as, b, bs, out, n, lo, hi);
  else if (op == 4) run(4, a, as, b, bs, out, n, lo, hi);
  else if (op == 5) run(5, a, as, b, bs, out, n, lo, hi);
  else if (op == 6) run(6, a, as, b, bs, out, n, lo, hi);
  else run(3, a, as, b, bs, out, n, lo, hi);
}

/**
 * Broadcasting form: out (row-major, dims `shape[rank]`, i32 at `shape`) = clamp(a op b) where a and b are read with
 * element strides astr / bstr (i32 arrays; 0 along broadcast dims). The innermost dim must have stride 0 or 1 for
 * both (true of any NumPy broadcast; the caller merges contiguous dims so rows are long). `idx` is rank i32s scratch.
 */
export function f32_binary_nd(op: i32, a: usize, b: usize, out: usize, rank: i32, shape: usize, astr: usize, bstr: usize, idx: usize, lo: f32, hi: f32): void {
  const last = (<usize>(rank - 1)) << 2;
  const inner = load<i32>(shape + last);
  const sa = load<i32>(astr + last);
  const sb = load<i32>(bstr + last);
  let outer = 1;
  for (let d = 0; d < rank - 1; d++) {
    outer *= load<i32>(shape + ((<usize>d) << 2));
    store<i32>(idx + ((<usize>d) << 2), 0);
  }
  let ao: usize = 0;
  let bo: usize = 0;
  for (let o = 0; o < outer; o++) {
    f32_binary(op, a + (ao << 2), sa, b + (bo << 2), sb, out + ((<usize>o * inner) << 2), inner, lo, hi);
    for (let d = rank - 2; d >= 0; d--) {
      const p = (<usize>d) << 2;
      const i = load<i32>(idx + p) + 1;
      ao += <usize>load<i32>(astr + p);
      bo += <usize>load<i32>(bstr + p);
      if (i < load<i32>(shape + p)) {
        store<i32>(idx + p, i);
        break;
      }
      store<i32>(idx + p, 0);
      ao -= <usize>(load<i32>(astr + p) * load<i32>(shape + p));
      bo -= <usize>(load<i32>(bstr + p) * load<i32>(shape + p));
    }
  }
}

/**
 * f32_binary over `rows` rows of n floats, row r at a / b / out + r·ld floats: one block of a strided 2-D region
 * (a conv output's channel planes over a range of pixels, as a thread's chunk covers them). Each row is exactly one
 * f32_binary call, so a row that starts on a multiple of 4 floats of a block computes every element as the one
 * whole-block call does (the same SIMD lanes and tail).
 */
export function f32_binary_rows(op: i32, rows: i32, n: i32, ld: i32, a: usize, b: usize, out: usize, lo: f32, hi: f32): void {
  const step = (<usize>ld) << 2;
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * step;
    f32_binary(op, a + o, 1, b + o, 1, out + o, n, lo, hi);
  }
}
