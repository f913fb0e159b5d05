// Peak-throughput probe for benchmarks: per iteration 8 multiplies and 8 adds into 8 independent accumulators,
// shaped like a GEMM micro-kernel (acc += x·w, the product off the dependency chain), so it measures the
// machine's f32 SIMD issue rate, not add latency. One extra add advances x so nothing is loop-invariant.
// Returns a value derived from the accumulators so the loop cannot be optimised away.
export function f32_peak_muladd(iters: i32): f32 {
  let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
  let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5), a6 = f32x4.splat(0.6), a7 = f32x4.splat(0.7);
  let x = f32x4.splat(1e-6);
  const w0 = f32x4.splat(0.5), w1 = f32x4.splat(0.25), w2 = f32x4.splat(0.125), w3 = f32x4.splat(0.0625);
  const c = f32x4.splat(1e-9);
  for (let i = 0; i < iters; i++) {
    a0 = f32x4.add(a0, f32x4.mul(x, w0));
    a1 = f32x4.add(a1, f32x4.mul(x, w1));
    a2 = f32x4.add(a2, f32x4.mul(x, w2));
    a3 = f32x4.add(a3, f32x4.mul(x, w3));
    a4 = f32x4.add(a4, f32x4.mul(x, w0));
    a5 = f32x4.add(a5, f32x4.mul(x, w1));
    a6 = f32x4.add(a6, f32x4.mul(x, w2));
    a7 = f32x4.add(a7, f32x4.mul(x, w3));
    x = f32x4.add(x, c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);
}
