// Winograd F(2×2,3×3) vs im2col + GEMM crossover (the data behind winogradWins in src/kernels/winograd.ts):
// `node bench/winograd-crossover.js` after a build. Times both f32 conv drivers on the same kernel memory over
// oh = ow, c, m grids (3×3, stride 1, pad 1, batch 1, one thread), prints im2col/Winograd time ratios (> 1: Winograd
// faster) and how much slower than the better path winogradWins' pick is. Not part of bench/run.js (a minute).
import { arena, kernels } from '../dist/kernels/wasm.js';
import { convF32Shape, runConvF32 } from '../dist/kernels/conv-run.js';
import { runConvWinograd, winogradWeights, winogradWins } from '../dist/kernels/winograd.js';
import { seeded } from './conv.bench.js';

const mem = arena();
const ex = kernels();
const SIZES = [3, 5, 6, 7, 8, 10, 14, 28, 56];
const CS = [1, 2, 3, 4, 8, 16, 32, 64];
const MS = [1, 2, 4, 8, 16, 32, 64, 128];

function median(fn, minMs) {
  for (let i = 0; i < 3; i++) fn();
  const ts = [];
  const end = performance.now() + minMs;
  while (performance.now() < end || ts.length < 5) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
  }
  return ts.sort((a, b) => a - b)[ts.length >> 1];
}

let worst = 1;
let sum = 0;
let count = 0;
for (const h of SIZES) {
  console.log(`\noh = ow = ${h}; rows c, columns m = ${MS.join(' ')}: im2col ms / Winograd ms`);
  for (const c of CS) {
    const cells = [];
    for (const m of MS) {
      const attrs = { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 };
      const w = seeded(m * c * 9, m * 31 + c);
      const u = winogradWeights(w, m, c);
      const x = seeded(c * h * h, c * h + 3);
      const ptr = (a) => {
        const p = mem.alloc(a.length * 4);
        mem.f32(p, a.length).set(a);
        return p;
      };
      const [wp, up, bp, xp] = [ptr(w), ptr(u), ptr(seeded(m, m + 7)), ptr(x)];
      const shape = convF32Shape([m, c, 3, 3], attrs);
      const dims = [1, c, h, h];
      const ti = median(() => mem.release(runConvF32(mem, ex, shape, attrs, dims, xp, wp, bp, -Infinity, Infinity)), 60);
      const tw = median(() => mem.release(runConvWinograd(mem, ex, m, attrs, dims, xp, up, bp, -Infinity, Infinity)), 60);
      for (const p of [wp, up, bp, xp]) mem.release(p);
      const loss = (winogradWins(c, m, h, h) ? tw : ti) / Math.min(ti, tw);
      worst = Math.max(worst, loss);
      sum += loss;
      count++;
      cells.push((ti / tw).toFixed(2).padStart(5));
    }
    console.log(`c = ${String(c).padStart(2)}  ${cells.join(' ')}`);
  }
}
console.log(`\nwinogradWins' pick vs the faster path over ${count} shapes: worst ${worst.toFixed(2)}× slower, mean ${(sum / count).toFixed(3)}×`);
