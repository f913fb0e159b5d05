// Child of bench/qgemm.bench.js, run as `node --experimental-wasm-relaxed-simd bench/qgemm-relaxed.child.js
// SHAPES_JSON [--quick]` (Node 20 needs the flag for relaxed SIMD): times edgeq's int8 GEMM kernel in the
// relaxed-SIMD build — with the packing the load-time probe picked (what a session uses), and the c4
// relaxed-dot kernel forced (timing only: its results are exact only where the probe accepts it) — on the same
// operands as the parent. Prints one JSON line; the parent times plain f32 / plain int8 and prints the ratios.
import { Tensor } from '../dist/index.js';
import { PackedQGemm, qdotMode } from '../dist/kernels/qlinear.js';
import { arena, kernelFlavor } from '../dist/kernels/wasm.js';
import { quick, timeMs } from './common.js';

const shapes = JSON.parse(process.argv[2]);
const mem = arena();
const flavor = kernelFlavor();
const probed = qdotMode();
const rows = [];
for (const [m, k, n] of shapes) {
  // the same operands as bench/qgemm.bench.js
  const aq = Uint8Array.from({ length: m * k }, (_, i) => (i * 7919) % 256);
  const bq = Int8Array.from({ length: k * n }, (_, i) => ((i * 104729) % 256) - 128);
  const qa = mem.alloc(m * k, 'bench a');
  new Uint8Array(mem.memory.buffer, qa, m * k).set(aq);
  const mult = new Float64Array(((n + 7) >> 3) << 3).fill(0.001);
  const time = async (mode) => {
    const g = new PackedQGemm(mem, k, n, new Tensor('int8', bq, [k, n]), [0], mode);
    const ms = await timeMs(`int8 ${mode}`, () => {
      const y = g.run(new Uint8Array(mem.memory.buffer, qa, m * k), m, true, 128, 'uint8', mult, 128);
      mem.release(y.byteOffset);
    });
    g.dispose();
    return ms;
  };
  // alternate the two twice and keep the faster median of each (the machine is shared; 4K-aliasing of the arena
  // placement also moves single timings)
  let relaxedMs = Infinity;
  let c4Ms = Infinity;
  for (let rep = 0; rep < (quick ? 1 : 2); rep++) {
    relaxedMs = Math.min(relaxedMs, await time(probed));
    c4Ms = Math.min(c4Ms, await time('unsigned'));
  }
  mem.release(qa);
  rows.push({ shape: `${m}x${k}x${n}`, relaxedMs, c4Ms, gops: (2 * m * n * k) / (relaxedMs / 1e3) / 1e9 });
}
console.log(JSON.stringify({ flavor, probed, rows }));
