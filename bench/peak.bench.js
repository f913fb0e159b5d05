// This machine's f32 SIMD ceiling in this run: 8 independent f32x4 mul+add chains (asm/peak.ts).
import { kernelFlavor, kernels } from '../dist/kernels/wasm.js';
import { table, fmt, quick } from './common.js';

export async function run() {
  const k = kernels();
  const iters = quick ? 2e7 : 1e8;
  k.f32_peak_muladd(1e6);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    k.f32_peak_muladd(iters);
    best = Math.min(best, performance.now() - t);
  }
  const gflops = (iters * 8 * 4 * 2) / (best / 1e3) / 1e9;
  // the same chains through asm/madd.ts: f32x4.relaxed_madd in the relaxed build (when this runtime validates it)
  let bestMadd = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    k.f32_peak_madd(iters);
    bestMadd = Math.min(bestMadd, performance.now() - t);
  }
  const maddGflops = (iters * 8 * 4 * 2) / (bestMadd / 1e3) / 1e9;
  const flavor = kernelFlavor();
  table('SIMD peak (one thread)', [
    { probe: 'f32x4 mul+add x8 chains', 'GFLOP/s': fmt(gflops, 1) },
    { probe: `madd x8 chains (${flavor === 'relaxed' ? 'relaxed_madd' : 'plain build: mul+add'})`, 'GFLOP/s': fmt(maddGflops, 1) },
  ]);
  return { f32PeakGflops: gflops, maddPeakGflops: maddGflops, wasmFlavor: flavor };
}
