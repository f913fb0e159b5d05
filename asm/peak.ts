// Peak-throughput probe for benchmarks: 8 independent f32x4 multiply+add chains (no memory traffic), so
// FLOP/s measured here is this machine's practical f32 SIMD ceiling for the % of peak the benches print.
// Returns a value derived from the accumulators so the loop cannot be optimised away.
export function f32_peak_muladd(iters: i32): f32 {
  let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
  let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5), a6 = f32x4.splat(0.6), a7 = f32x4.splat(0.7);
  const m = f32x4.splat(0.999999);
  const c = f32x4.splat(0.000001);
  for (let i = 0; i < iters; i++) {
    a0 = f32x4.add(f32x4.mul(a0, m), c);
    a1 = f32x4.add(f32x4.mul(a1, m), c);
    a2 = f32x4.add(f32x4.mul(a2, m), c);
    a3 = f32x4.add(f32x4.mul(a3, m), c);
    a4 = f32x4.add(f32x4.mul(a4, m), c);
    a5 = f32x4.add(f32x4.mul(a5, m), c);
    a6 = f32x4.add(f32x4.mul(a6, m), c);
    a7 = f32x4.add(f32x4.mul(a7, m), c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);
}

/**
 * Streaming-read probe: sums `bytes` (a multiple of 64) from `p` with four independent f32x4 accumulators, one
 * sequential pass. The memory-bandwidth ceiling a GEMV over packed weights of the same size can reach (bench/attention
 * and the transformer GEMV bench compare against it in the same process).
 */
export function f32_peak_read(p: usize, bytes: usize): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const end = p + bytes;
  for (; p < end; p += 64) {
    a0 = f32x4.add(a0, v128.load(p));
    a1 = f32x4.add(a1, v128.load(p, 16));
    a2 = f32x4.add(a2, v128.load(p, 32));
    a3 = f32x4.add(a3, v128.load(p, 48));
  }
  const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);
}
