// Which build this is, and a peak probe through madd (asm/madd.ts).
import { madd } from './madd';

/** 1 in the relaxed build, 0 in the plain one (so the host can tell which module it instantiated). */
export function simd_relaxed(): i32 {
  // @ts-ignore: see above
  return RELAXED ? 1 : 0;
}

/** Peak probe through `madd`: 8 independent chains (plain build: mul+add, relaxed build: relaxed_madd). */
export function f32_peak_madd(iters: i32): f32 {
  let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
  let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5), a6 = f32x4.splat(0.6), a7 = f32x4.splat(0.7);
  const m = f32x4.splat(0.999999);
  const c = f32x4.splat(0.000001);
  for (let i = 0; i < iters; i++) {
    a0 = madd(a0, m, c);
    a1 = madd(a1, m, c);
    a2 = madd(a2, m, c);
    a3 = madd(a3, m, c);
    a4 = madd(a4, m, c);
    a5 = madd(a5, m, c);
    a6 = madd(a6, m, c);
    a7 = madd(a7, m, c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);
}
