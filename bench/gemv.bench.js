// The decoder step's GEMVs against this machine's streaming-read ceiling, in the same process: f32_gemm with one row
// (asm/f32_gemm.ts f32_gemm_1x8 over 8-column panels) at the d768 transformer's weight shapes, cycling through enough
// distinct packed matrices (≥ 96 MB, 24 MB with --quick) that every call streams its weights from memory, beside
// f32_peak_read (asm/peak.ts: one sequential pass summing the same bytes) interleaved round by round. GB/s counts the
// packed weight bytes; gemv/read > 1 is time the GEMV spends beyond reading its weights.
import { arena, kernels } from '../dist/kernels/wasm.js';
import { fmt, quick, table } from './common.js';

const SHAPES = [
  ['qkv 768→2304', 768, 2304],
  ['proj 768→768', 768, 768],
  ['fc 768→3072', 768, 3072],
  ['out 3072→768', 3072, 768],
];

export async function run() {
  const k = kernels();
  const mem = arena();
  if (!k || !mem) return {};
  const rows = [];
  const out = [];
  const budget = (quick ? 24 : 96) * 2 ** 20;
  for (const [name, K, n] of SHAPES) {
    const size = k.f32_gemm_packed_size_8(n, K);
    const cnt = Math.max(2, Math.ceil(budget / size));
    const w = Float32Array.from({ length: K * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
    const wp = mem.alloc(w.length * 4, 'bench weight');
    mem.f32(wp, w.length).set(w);
    const mats = [];
    for (let c = 0; c < cnt; c++) {
      const p = mem.alloc(size, 'bench packed weight');
      k.f32_gemm_pack_8(n, K, wp, n, 0, p);
      mats.push(p);
    }
    mem.release(wp);
    const ap = mem.alloc(K * 4, 'bench row');
    mem.f32(ap, K).fill(0.5);
    const cp = mem.alloc(n * 4, 'bench out');
    let gemv = Infinity;
    let read = Infinity;
    for (let r = 0; r < (quick ? 3 : 12); r++) {
      let t = performance.now();
      for (const p of mats) k.f32_gemm(1, n, K, ap, K, p, cp, n, -Infinity, Infinity, 0);
      gemv = Math.min(gemv, (performance.now() - t) / cnt);
      t = performance.now();
      for (const p of mats) k.f32_peak_read(p, size & ~63);
      read = Math.min(read, (performance.now() - t) / cnt);
    }
    for (const p of [...mats, ap, cp]) mem.release(p);
    const gbs = (ms) => size / ms / 1e6;
    out.push({ shape: name, gemvGBs: gbs(gemv), readGBs: gbs(read), ratio: gemv / read });
    rows.push({ 'GEMV (K→N)': name, 'MB/matrix': fmt(size / 2 ** 20, 1), matrices: cnt, 'gemv GB/s': fmt(gbs(gemv), 1), 'read GB/s': fmt(gbs(read), 1), 'gemv/read': fmt(gemv / read, 2) });
  }
  table('Decoder GEMV vs streaming read of the same bytes (one thread, best of rounds)', rows);
  return { gemv: out };
}
