import { expNeg, expShiftSum } from './vec';
// f32 row normalizations (WebAssembly SIMD128): LayerNormalization and Softmax over the last `n` floats of each of
// `rows` contiguous rows. Statistics accumulate in four f32 lanes plus a scalar tail, then in f64 across lanes.

// @ts-ignore: decorator
@inline
/** mean of n floats at xr: four f32 lanes plus a scalar tail, lanes summed in f64 */
function rowMean(xr: usize, n: i32): f32 {
  const nv = n & ~3;
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i < nv; i += 4) acc = f32x4.add(acc, v128.load(xr + (<usize>i << 2)));
  let s: f64 = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
  for (; i < n; i++) s += <f64>f32.load(xr + (<usize>i << 2));
  return <f32>(s / <f64>n);
}

// @ts-ignore: decorator
@inline
/** 1 / sqrt(variance + eps) of n floats at xr around `mean` (the variance of x − mean: no E[x²] − mean² cancellation) */
function rowInvStd(xr: usize, n: i32, mean: f32, eps: f32): f64 {
  const nv = n & ~3;
  const vm = f32x4.splat(mean);
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i < nv; i += 4) {
    const d = f32x4.sub(v128.load(xr + (<usize>i << 2)), vm);
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  let q: f64 = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
  for (; i < n; i++) {
    const d = f32.load(xr + (<usize>i << 2)) - mean;
    q += <f64>(d * d);
  }
  return 1.0 / Math.sqrt(q / <f64>n + <f64>eps);
}

/**
 * y = (x − mean) / sqrt(var + eps) · gamma + beta per row of n floats (ONNX LayerNormalization with the normalized
 * dims flattened to n; gamma: n floats; beta: n floats or 0 = none). Two passes over x: mean, then the variance of
 * x − mean (no E[x²] − mean² cancellation).
 */
export function f32_layernorm(x: usize, rows: i32, n: i32, gamma: usize, beta: usize, eps: f32, out: usize): void {
  f32_layernorm_clamp(x, rows, n, gamma, beta, eps, out, -Infinity, Infinity);
}

/**
 * f32_layernorm with its output clamped to [lo, hi]: a Relu / Clip after the normalization (openWakeWord's
 * Gemm → LayerNorm → Relu blocks) runs in the same store instead of as a node of its own.
 */
export function f32_layernorm_clamp(x: usize, rows: i32, n: i32, gamma: usize, beta: usize, eps: f32, out: usize, lo: f32, hi: f32): void {
  const nv = n & ~3;
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * n) << 2);
    const yr = out + ((<usize>r * n) << 2);
    const mean = rowMean(xr, n);
    const vm = f32x4.splat(mean);
    const inv = <f32>rowInvStd(xr, n, mean, eps);
    const vi = f32x4.splat(inv);
    let i = 0;
    for (; i < nv; i += 4) {
      const o = <usize>i << 2;
      let y = f32x4.mul(f32x4.mul(f32x4.sub(v128.load(xr + o), vm), vi), v128.load(gamma + o));
      if (beta != 0) y = f32x4.add(y, v128.load(beta + o));
      v128.store(yr + o, f32x4.min(f32x4.max(y, vlo), vhi));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      let y = (f32.load(xr + o) - mean) * inv * f32.load(gamma + o);
      if (beta != 0) y += f32.load(beta + o);
      f32.store(yr + o, min(max(y, lo), hi));
    }
  }
}

/**
 * Softmax along each row of n floats: exp(x − max) / Σ exp(x − max) (ONNX Softmax, opset 13, on the last axis).
 * `out` may equal `x`. A row whose max is −∞ (every entry masked) gives NaN, as the reference's 0/0 does.
 */
export function f32_softmax(x: usize, rows: i32, n: i32, out: usize): void {
  const nv = n & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * n) << 2);
    const yr = out + ((<usize>r * n) << 2);
    // the row max: two chains of pmax (one maxps each; max is a NaN/±0-exact sequence whose chain set the pace). A NaN
    // x is skipped here, but exp(NaN − max) then makes the sum, and so the whole row, NaN, as with max
    let vm = f32x4.splat(-Infinity);
    let vm2 = vm;
    let i = 0;
    for (; i + 8 <= nv; i += 8) {
      vm = f32x4.pmax(vm, v128.load(xr + (<usize>i << 2)));
      vm2 = f32x4.pmax(vm2, v128.load(xr + (<usize>i << 2), 16));
    }
    for (; i < nv; i += 4) vm = f32x4.pmax(vm, v128.load(xr + (<usize>i << 2)));
    vm = f32x4.pmax(vm, vm2);
    let mx = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
    for (; i < n; i++) mx = max(mx, f32.load(xr + (<usize>i << 2)));
    const s = expShiftSum(xr, yr, 0, n, mx);
    const vi = f32x4.splat(<f32>(1.0 / s));
    for (i = 0; i < nv; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.mul(v128.load(yr + o), vi));
    }
    const inv = <f32>(1.0 / s);
    for (; i < n; i++) {
      const o = <usize>i << 2;
      f32.store(yr + o, f32.load(yr + o) * inv);
    }
  }
}

/**
 * RMS normalization: y = x / sqrt(mean(x²) + eps) · gamma per row of n floats (onnxruntime SimplifiedLayerNormalization,
 * SkipSimplifiedLayerNormalization; ONNX RMSNormalization with the normalized dims flattened to n). The sum of
 * squares accumulates in four f32 lanes plus a scalar tail, then in f64.
 */
export function f32_rmsnorm(x: usize, rows: i32, n: i32, gamma: usize, eps: f32, out: usize): void {
  const nv = n & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * n) << 2);
    const yr = out + ((<usize>r * n) << 2);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i < nv; i += 4) {
      const v = v128.load(xr + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let q: f64 = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
    for (; i < n; i++) {
      const v = f32.load(xr + (<usize>i << 2));
      q += <f64>(v * v);
    }
    const inv = <f32>(1.0 / Math.sqrt(q / <f64>n + <f64>eps));
    const vi = f32x4.splat(inv);
    for (i = 0; i < nv; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.mul(f32x4.mul(v128.load(xr + o), vi), v128.load(gamma + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      f32.store(yr + o, f32.load(xr + o) * inv * f32.load(gamma + o));
    }
  }
}

/**
 * Sum over the middle axis of x viewed as [outer, r, inner] (the reduced axes of a ReduceSum / ReduceMean, one
 * contiguous run of axes), times `scale` (1, or 1/r for the mean): out[o, i] = scale · Σ_k x[o, k, i]. inner = 1
 * sums contiguous rows in four lanes (added pairwise at the end); otherwise four or sixteen output columns at a
 * time walk down the rows. Float sums in another order than the reference's doubles: agreement to rounding.
 */
export function f32_reduce_sum(x: usize, outer: i32, r: i32, inner: i32, out: usize, scale: f32): void {
  const vs = f32x4.splat(scale);
  const rowBytes = (<usize>inner) << 2;
  for (let o = 0; o < outer; o++) {
    const xo = x + ((<usize>o * r * inner) << 2);
    const oo = out + ((<usize>o * inner) << 2);
    if (inner == 1) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let k = 0;
      for (; k + 7 < r; k += 8) {
        a0 = f32x4.add(a0, v128.load(xo + (<usize>k << 2)));
        a1 = f32x4.add(a1, v128.load(xo + (<usize>k << 2), 16));
      }
      for (; k + 3 < r; k += 4) a0 = f32x4.add(a0, v128.load(xo + (<usize>k << 2)));
      const a = f32x4.add(a0, a1);
      let s: f32 = (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1)) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
      for (; k < r; k++) s += f32.load(xo + (<usize>k << 2));
      f32.store(oo, s * scale);
      continue;
    }
    let i = 0;
    for (; i + 15 < inner; i += 16) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let p = xo + (<usize>i << 2);
      for (let k = 0; k < r; k++) {
        a0 = f32x4.add(a0, v128.load(p));
        a1 = f32x4.add(a1, v128.load(p, 16));
        a2 = f32x4.add(a2, v128.load(p, 32));
        a3 = f32x4.add(a3, v128.load(p, 48));
        p += rowBytes;
      }
      const q = oo + (<usize>i << 2);
      v128.store(q, f32x4.mul(a0, vs));
      v128.store(q, f32x4.mul(a1, vs), 16);
      v128.store(q, f32x4.mul(a2, vs), 32);
      v128.store(q, f32x4.mul(a3, vs), 48);
    }
    for (; i + 3 < inner; i += 4) {
      let a0 = f32x4.splat(0);
      let p = xo + (<usize>i << 2);
      for (let k = 0; k < r; k++) {
        a0 = f32x4.add(a0, v128.load(p));
        p += rowBytes;
      }
      v128.store(oo + (<usize>i << 2), f32x4.mul(a0, vs));
    }
    for (; i < inner; i++) {
      let s: f32 = 0;
      let p = xo + (<usize>i << 2);
      for (let k = 0; k < r; k++) {
        s += f32.load(p);
        p += rowBytes;
      }
      f32.store(oo + (<usize>i << 2), s * scale);
    }
  }
}

/**
 * Softmax along the middle axis of x viewed as [outer, n, inner] (ONNX Softmax, opset 13, axis not the last one:
 * e.g. over the channels of an NCHW tensor). Four inner positions at a time walk down the n rows with stride inner:
 * max, then exp(x − max) stored and summed, then scaled by 1 / Σ. The inner tail uses the same vector exp (one
 * lane), so every entry gets identical arithmetic. `out` may equal `x`.
 */
export function f32_softmax_strided(x: usize, outer: i32, n: i32, inner: i32, out: usize): void {
  const rowBytes = (<usize>inner) << 2;
  const iv = inner & ~3;
  for (let o = 0; o < outer; o++) {
    const xo = x + ((<usize>o * n * inner) << 2);
    const yo = out + ((<usize>o * n * inner) << 2);
    let i = 0;
    for (; i < iv; i += 4) {
      const xc = xo + ((<usize>i) << 2);
      const yc = yo + ((<usize>i) << 2);
      let vm = f32x4.splat(-Infinity);
      // pmax as in f32_softmax: a NaN skipped here still makes its column NaN through the exp sum
      for (let k = 0; k < n; k++) vm = f32x4.pmax(vm, v128.load(xc + <usize>k * rowBytes));
      let acc = f32x4.splat(0);
      for (let k = 0; k < n; k++) {
        const e = expNeg(f32x4.sub(v128.load(xc + <usize>k * rowBytes), vm));
        v128.store(yc + <usize>k * rowBytes, e);
        acc = f32x4.add(acc, e);
      }
      const vi = f32x4.div(f32x4.splat(1), acc);
      for (let k = 0; k < n; k++) {
        const a = yc + <usize>k * rowBytes;
        v128.store(a, f32x4.mul(v128.load(a), vi));
      }
    }
    for (; i < inner; i++) {
      const xc = xo + ((<usize>i) << 2);
      const yc = yo + ((<usize>i) << 2);
      let mx: f32 = -Infinity;
      for (let k = 0; k < n; k++) mx = max(mx, f32.load(xc + <usize>k * rowBytes));
      let s: f32 = 0;
      for (let k = 0; k < n; k++) {
        const e = f32x4.extract_lane(expNeg(f32x4.splat(f32.load(xc + <usize>k * rowBytes) - mx)), 0);
        f32.store(yc + <usize>k * rowBytes, e);
        s += e;
      }
      const inv: f32 = 1 / s;
      for (let k = 0; k < n; k++) {
        const a = yc + <usize>k * rowBytes;
        f32.store(a, f32.load(a) * inv);
      }
    }
  }
}

/**
 * InstanceNormalization over `planes` = N·C planes of hw floats (ONNX: y = scale · (x − mean) / sqrt(var + epsilon)
 * + B, mean and variance per instance and channel over the spatial dims), channel of plane p = p mod c; the result
 * is clamped to [lo, hi] (a fused Relu / Clip, or ±∞). Two passes for the statistics as f32_layernorm (mean, then
 * the variance of x − mean, lanes summed in f64), then one fused multiply-add pass. `out` may equal `x`.
 */
export function f32_instancenorm(x: usize, planes: i32, c: i32, hw: i32, scale: usize, bias: usize, eps: f32, lo: f32, hi: f32, out: usize): void {
  const nv = hw & ~3;
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  for (let p = 0; p < planes; p++) {
    const xr = x + ((<usize>p * hw) << 2);
    const yr = out + ((<usize>p * hw) << 2);
    const ch = p % c;
    const mean = rowMean(xr, hw);
    const k = <f32>(<f64>f32.load(scale + ((<usize>ch) << 2)) * rowInvStd(xr, hw, mean, eps));
    const t = f32.load(bias + ((<usize>ch) << 2)) - mean * k;
    const vk = f32x4.splat(k);
    const vt = f32x4.splat(t);
    let i = 0;
    for (; i < nv; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.min(f32x4.max(f32x4.add(f32x4.mul(v128.load(xr + o), vk), vt), vlo), vhi));
    }
    for (; i < hw; i++) {
      const o = <usize>i << 2;
      f32.store(yr + o, min(max(f32.load(xr + o) * k + t, lo), hi));
    }
  }
}

/**
 * Max (isMin = 0) or min (isMin = 1) over the middle axis of x viewed as [outer, r, inner] (ReduceMax / ReduceMin
 * over one contiguous run of axes), r ≥ 1. Each output takes its values in the reference's order with its rule —
 * acc = a when a > acc (a < acc) or a is NaN — so NaN and which of ±0 wins agree bit for bit: four inner positions
 * at a time walk down the rows; inner = 1 (a contiguous row) is a scalar loop.
 */
export function f32_reduce_max(x: usize, outer: i32, r: i32, inner: i32, out: usize, isMin: i32): void {
  const rowBytes = (<usize>inner) << 2;
  for (let o = 0; o < outer; o++) {
    const xo = x + ((<usize>o * r * inner) << 2);
    const oo = out + ((<usize>o * inner) << 2);
    let i = 0;
    for (; i + 3 < inner; i += 4) {
      const p = xo + ((<usize>i) << 2);
      let acc = v128.load(p);
      for (let k = 1; k < r; k++) {
        const a = v128.load(p + <usize>k * rowBytes);
        const take = isMin ? f32x4.lt(a, acc) : f32x4.gt(a, acc);
        acc = v128.bitselect(a, acc, v128.or(take, f32x4.ne(a, a)));
      }
      v128.store(oo + ((<usize>i) << 2), acc);
    }
    for (; i < inner; i++) {
      const p = xo + ((<usize>i) << 2);
      let acc = f32.load(p);
      for (let k = 1; k < r; k++) {
        const a = f32.load(p + <usize>k * rowBytes);
        if ((isMin ? a < acc : a > acc) || a != a) acc = a;
      }
      f32.store(oo + ((<usize>i) << 2), acc);
    }
  }
}
