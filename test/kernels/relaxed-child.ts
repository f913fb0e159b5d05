// Run by test/kernels/relaxed.test.ts in a child `node --experimental-wasm-relaxed-simd --import tsx` process:
// checks that the relaxed-SIMD build was picked and that its kernels agree with the TS reference within 1e-5 of
// Σ|a·w| (relaxed_madd may fuse, so not bit for bit). Prints one JSON line.
import { kernelFlavor, kernels, arena } from '../../src/kernels/wasm.js';
import { PackedGemmF32 } from '../../src/kernels/gemm.js';
import { PackedGemmF16 } from '../../src/kernels/fp16.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/tensor/fp16.js';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const arr = (n: number) => Float32Array.from({ length: n }, rnd);
let worst = 0; // max |got − want| / (Σ|a·w| + |bias|)
let cases = 0;

function check(got: Float32Array, a: Float32Array, w: Float32Array, bias: Float32Array | undefined, m: number, k: number, n: number): void {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      let mag = Math.abs(s);
      for (let kk = 0; kk < k; kk++) {
        s += a[i * k + kk]! * w[kk * n + j]!;
        mag += Math.abs(a[i * k + kk]! * w[kk * n + j]!);
      }
      worst = Math.max(worst, Math.abs(got[i * n + j]! - s) / (mag + 1e-30));
    }
  cases++;
}

const mem = arena()!;
for (let t = 0; t < 200; t++) {
  const m = 1 + Math.floor(Math.abs(rnd()) * 13);
  const n = 1 + Math.floor(Math.abs(rnd()) * 27);
  const k = 1 + Math.floor(Math.abs(rnd()) * 70);
  const a = arr(m * k);
  const w = arr(k * n);
  const bias = t % 2 ? arr(n) : undefined;
  const g = new PackedGemmF32(mem, k, n, w, bias);
  check(g.run(a, m), a, w, bias, m, k, n);
  g.dispose();
  const h = f32ArrayToF16(w);
  for (const strategy of ['kernel', 'unpack'] as const) {
    const g16 = new PackedGemmF16(mem, k, n, h, bias, strategy);
    check(g16.run(a, m), a, f16ArrayToF32(h), bias, m, k, n);
    g16.dispose();
  }
}

// a Conv graph through the executor (3×3 stride 1: Winograd or im2col + GEMM, as winogradWins picks) against the reference backend
const g = new Graph();
g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 5, 9, 9] } }];
g.initializers.set('W', new Tensor('float32', arr(7 * 5 * 9), [7, 5, 3, 3]));
g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['Y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } });
g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
const x = new Tensor('float32', arr(405), [1, 5, 9, 9]);
const fast = (new Executor(g).run({ X: x }).Y as Tensor).data as Float32Array;
const slow = (new Executor(g, { backend: 'reference' }).run({ X: x }).Y as Tensor).data as Float32Array;
let convDiff = 0;
for (let i = 0; i < slow.length; i++) convDiff = Math.max(convDiff, Math.abs(fast[i]! - slow[i]!) / Math.max(1, Math.abs(slow[i]!)));

// depthwise convs (f32_dwconv3x3 / 5x5 at stride 1 and 2, f32_dwconv1x1), whose taps run through madd: fused here
for (const [k, s, pad, h, w] of [[3, 1, 1, 13, 21], [3, 2, 1, 17, 35], [3, 2, 0, 12, 20], [5, 1, 2, 11, 19], [5, 2, 2, 15, 37], [5, 2, 1, 14, 22], [1, 1, 0, 6, 23]] as const) {
  const c = 5;
  const d = new Graph();
  d.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, c, h, w] } }];
  d.initializers.set('W', new Tensor('float32', arr(c * k * k), [c, 1, k, k]));
  d.initializers.set('B', new Tensor('float32', arr(c), [c]));
  d.nodes.push({ name: 'dw', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: ['Y'], attrs: { kernel_shape: [k, k], strides: [s, s], pads: [pad, pad, pad, pad], group: c } });
  d.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  const xd = new Tensor('float32', arr(c * h * w), [1, c, h, w]);
  const ex = new Executor(d);
  if (ex.kernels.get(d.nodes[0]!)?.name !== (k === 1 ? 'f32_dwconv1x1' : `f32_dwconv${k}x${k}`)) throw new Error(`depthwise ${k}×${k} did not run on its kernel`);
  const got = (ex.run({ X: xd }).Y as Tensor).data as Float32Array;
  const want = (new Executor(d, { backend: 'reference' }).run({ X: xd }).Y as Tensor).data as Float32Array;
  for (let i = 0; i < want.length; i++) convDiff = Math.max(convDiff, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
}

console.log(JSON.stringify({ flavor: kernelFlavor(), relaxedExport: kernels()!.simd_relaxed(), cases, worst, convDiff }));
