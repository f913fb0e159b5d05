// Run by test/kernels/relaxed.test.ts in a child `node --experimental-wasm-relaxed-simd [--no-liftoff] --import
// tsx` process: the int8 GEMM of the relaxed-SIMD build (src/kernels/qlinear.ts, asm/qs8_gemm.ts qs8_gemm_c4)
// against the TS reference ops, BIT-EXACT, through the executor (QLinearMatMul and MatMulInteger graphs).
//   argv[2] = 'auto'    : the packing this engine's probe picked (qdotMode()), full-range data — weights −128…127,
//                         uint8 and int8 activations, zero points, per-column scales; and the fused
//                         DynamicQuantizeMatMul (float32 epilogue) against its reference.
//   argv[2] = 'signed' / 'unsigned': that packing forced, with the data limited to where the relaxed dot is exact
//                         on EVERY engine for that packing (so the kernel, packing and zero-point algebra are checked
//                         even on an engine that reads the "i7" operand another way):
//                         'signed'   stores weights as int8 → weights limited to stored values 0…127;
//                         'unsigned' stores weights as uint8 (0…255, all int8 weights incl. −128 and 127) → the
//                         int8 operand (activation, uint8 flipped) limited to −64…63 so no int16 pair sum saturates.
// Prints one JSON line: { flavor, probed, mode, runs, failure }.
import fc from 'fast-check';
import { Graph } from '../../src/ir/graph.js';
import { type QDotMode, qdotMode, setQDotMode } from '../../src/kernels/qlinear.js';
import { arena, kernelFlavor } from '../../src/kernels/wasm.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

type Q = 'int8' | 'uint8';
const which = (process.argv[2] ?? 'auto') as 'auto' | QDotMode;
const probed = qdotMode();
if (which !== 'auto') setQDotMode(which);
const mode = qdotMode();

function rng(seed: number) {
  let r = seed >>> 0;
  return () => (r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32;
}
/** int8 VALUES in [lo, hi], stored as int8, or as uint8 (value + 128); the extremes show up often */
function qvals(t: Q, n: number, lo: number, hi: number, rnd: () => number): Int8Array | Uint8Array {
  const a = t === 'int8' ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const u = rnd();
    const v = u < 0.1 ? lo : u < 0.2 ? hi : lo + Math.floor(rnd() * (hi - lo + 1));
    a[i] = t === 'int8' ? v : v + 128;
  }
  return a;
}
const scalarQ = (t: Q, v: number) => new Tensor(t, t === 'int8' ? Int8Array.of(v) : Uint8Array.of(v), []);
const zpv = (t: Q, rnd: () => number) => (t === 'int8' ? Math.floor(rnd() * 256) - 128 : Math.floor(rnd() * 256));
// value ranges per mode (see the file comment)
const wRange: [number, number] = mode === 'signed' && which !== 'auto' ? [0, 127] : [-128, 127];
const aRange: [number, number] = mode === 'unsigned' && which !== 'auto' ? [-64, 63] : [-128, 127];
const kernelName = mode === 'plain' ? /^q[su]8_gemm_4x8c2$/ : new RegExp(`^qs8_gemm_4x8c4_rdot_${mode}$`);

function check(g: Graph, feeds: Record<string, Tensor>): void {
  const mem = arena()!;
  const before = mem.inUse;
  const wasm = new Executor(g, { backend: 'wasm' });
  const names = [...wasm.kernels.values()].map((k) => k.name);
  if (names.length !== 1 || !kernelName.test(names[0]!)) throw new Error(`kernel ${names.join(',')} is not the ${mode} one`);
  const want = new Executor(g, { backend: 'reference' }).run(feeds).Y as Tensor;
  for (let rep = 0; rep < 2; rep++) {
    const got = wasm.run(feeds).Y as Tensor;
    if (got.type !== want.type || got.dims.join() !== want.dims.join()) throw new Error(`type/shape ${got.type}${got.dims} vs ${want.type}${want.dims}`);
    const gd = got.data as Int32Array;
    const wd = want.data as Int32Array;
    for (let i = 0; i < wd.length; i++) if (gd[i] !== wd[i]) throw new Error(`element ${i}: got ${gd[i]}, reference ${wd[i]}`);
  }
  // static shapes: those were the static plan's bound calls (PackedQGemm.bindGemm on this packing)
  if (!wasm.staticPlanStatus().static) throw new Error(`no static plan: ${wasm.staticPlanStatus().why}`);
  wasm.dispose();
  if (mem.inUse !== before) throw new Error('kernel memory leaked');
}

const qArb = fc.constantFrom<Q>('int8', 'uint8');
let runs = 0;
let failure: string | null = null;
try {
  // ONNX QLinearMatMul: y = saturate(round_half_even((Σ_k (a − a_zp)(b − b_zp)) · a_scale·b_scale / y_scale) + y_zp),
  // b_scale / b_zero_point per tensor or per column; int32 accumulation (the reference wraps like the kernel)
  fc.assert(
    fc.property(
      fc.record({
        m: fc.integer({ min: 1, max: 11 }), k: fc.integer({ min: 1, max: 45 }), n: fc.integer({ min: 1, max: 27 }),
        ta: qArb, tb: qArb, ty: qArb, perCol: fc.boolean(), perColZp: fc.boolean(), seed: fc.integer(), scale: fc.double({ min: 1e-4, max: 0.5, noNaN: true }),
      }),
      (c) => {
        runs++;
        const rnd = rng(c.seed);
        const g = new Graph();
        g.inputs = [{ name: 'A', type: { dtype: c.ta, shape: [c.m, c.k] } }];
        g.outputs = [{ name: 'Y', type: { dtype: c.ty } }];
        g.initializers.set('as', new Tensor('float32', Float32Array.of(c.scale), []));
        g.initializers.set('az', scalarQ(c.ta, zpv(c.ta, rnd)));
        g.initializers.set('B', new Tensor(c.tb, qvals(c.tb, c.k * c.n, wRange[0], wRange[1], rnd), [c.k, c.n]));
        g.initializers.set('bs', c.perCol ? new Tensor('float32', Float32Array.from({ length: c.n }, () => 0.001 + rnd() * 0.05), [c.n]) : new Tensor('float32', Float32Array.of(0.02), []));
        g.initializers.set('bz', c.perColZp ? new Tensor(c.tb, qvals(c.tb, c.n, -128, 127, rnd), [c.n]) : scalarQ(c.tb, zpv(c.tb, rnd)));
        g.initializers.set('ys', new Tensor('float32', Float32Array.of(0.05 + rnd() * 2), []));
        g.initializers.set('yz', scalarQ(c.ty, zpv(c.ty, rnd)));
        g.nodes = [{ name: 'qmm', op: 'QLinearMatMul', domain: '', inputs: ['A', 'as', 'az', 'B', 'bs', 'bz', 'ys', 'yz'], outputs: ['Y'], attrs: {} }];
        check(g, { A: new Tensor(c.ta, qvals(c.ta, c.m * c.k, aRange[0], aRange[1], rnd), [c.m, c.k]) });
      },
    ),
    { numRuns: 150 },
  );
  // ONNX MatMulInteger: y = Σ_k (a − a_zero_point)(b − b_zero_point) in int32, b_zero_point per tensor or per column
  fc.assert(
    fc.property(
      fc.record({
        m: fc.integer({ min: 1, max: 13 }), k: fc.integer({ min: 1, max: 70 }), n: fc.integer({ min: 1, max: 25 }), ta: qArb, tb: qArb,
        azp: fc.constantFrom('none', 'const', 'input'), bzp: fc.constantFrom('none', 'scalar', 'col'), seed: fc.integer(),
      }),
      (c) => {
        runs++;
        const rnd = rng(c.seed);
        const g = new Graph();
        g.inputs = [{ name: 'A', type: { dtype: c.ta, shape: [c.m, c.k] } }];
        g.outputs = [{ name: 'Y', type: { dtype: 'int32' } }];
        g.initializers.set('B', new Tensor(c.tb, qvals(c.tb, c.k * c.n, wRange[0], wRange[1], rnd), [c.k, c.n]));
        // a zero point fed at run time (as DynamicQuantizeLinear computes it): the static plan's call reads it per run
        const az = scalarQ(c.ta, zpv(c.ta, rnd));
        if (c.azp === 'const') g.initializers.set('az', az);
        if (c.azp === 'input') g.inputs.push({ name: 'az', type: { dtype: c.ta, shape: [] } });
        if (c.bzp === 'scalar') g.initializers.set('bz', scalarQ(c.tb, zpv(c.tb, rnd)));
        if (c.bzp === 'col') g.initializers.set('bz', new Tensor(c.tb, qvals(c.tb, c.n, -128, 127, rnd), [c.n]));
        g.nodes = [{ name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['A', 'B', c.azp !== 'none' ? 'az' : '', c.bzp !== 'none' ? 'bz' : ''], outputs: ['Y'], attrs: {} }];
        check(g, { A: new Tensor(c.ta, qvals(c.ta, c.m * c.k, aRange[0], aRange[1], rnd), [c.m, c.k]), ...(c.azp === 'input' ? { az } : {}) });
      },
    ),
    { numRuns: 150 },
  );
  // com.microsoft DynamicQuantizeMatMul (the fused dynamic int8 MatMul, float32 epilogue f32(acc)·scale + bias): the
  // activation codes span the whole uint8 range, so only the probed packing (exact on this engine) is checked
  if (which === 'auto')
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 1, max: 13 }), k: fc.integer({ min: 1, max: 70 }), n: fc.integer({ min: 1, max: 25 }), tb: qArb, bzp: fc.boolean(), bias: fc.boolean(), seed: fc.integer() }),
        (c) => {
          runs++;
          const rnd = rng(c.seed);
          const g = new Graph();
          g.opsets = { '': 13, 'com.microsoft': 1 };
          g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [c.m, c.k] } }];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          g.initializers.set('B', new Tensor(c.tb, qvals(c.tb, c.k * c.n, wRange[0], wRange[1], rnd), [c.k, c.n]));
          g.initializers.set('bs', new Tensor('float32', Float32Array.from({ length: c.n }, () => 0.001 + rnd() * 0.05), [c.n]));
          if (c.bzp) g.initializers.set('bz', new Tensor(c.tb, qvals(c.tb, c.n, -128, 127, rnd), [c.n]));
          if (c.bias) g.initializers.set('bias', new Tensor('float32', Float32Array.from({ length: c.n }, () => rnd() - 0.5), [c.n]));
          g.nodes = [{ name: 'dqmm', op: 'DynamicQuantizeMatMul', domain: 'com.microsoft', inputs: ['A', 'B', 'bs', c.bzp ? 'bz' : '', c.bias ? 'bias' : ''], outputs: ['Y'], attrs: {} }];
          const feeds = { A: new Tensor('float32', Float32Array.from({ length: c.m * c.k }, () => rnd() * 4 - 1.5), [c.m, c.k]) };
          const mem = arena()!;
          const before = mem.inUse;
          const wasm = new Executor(g, { backend: 'wasm' });
          const name = [...wasm.kernels.values()][0]?.name ?? '';
          if (!(mode === 'plain' ? name === 'dynq_qs8_gemm_4x8c2_f32' : name === `dynq_qs8_gemm_4x8c4_rdot_${mode}_f32`)) throw new Error(`kernel ${name} is not the ${mode} one`);
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!.data as Float32Array;
          const got = wasm.run(feeds).Y!.data as Float32Array;
          for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) throw new Error(`DynamicQuantizeMatMul element ${i}: got ${got[i]}, reference ${want[i]}`);
          // static shapes: that was the static plan's bound call (PackedQGemm.bindFloat on this packing)
          if (!wasm.staticPlanStatus().static) throw new Error(`no static plan: ${wasm.staticPlanStatus().why}`);
          wasm.dispose();
          if (mem.inUse !== before) throw new Error('kernel memory leaked');
        },
      ),
      { numRuns: 100 },
    );
} catch (e) {
  failure = String((e as Error).message).slice(0, 2000);
}
console.log(JSON.stringify({ flavor: kernelFlavor(), probed, mode, runs, failure }));
