// Kernel threads (src/kernels/threads.ts): the GEMM/conv kernels split their output over threads that share the
// one WASM memory. The contract is bit-identity with one thread — every output element is computed by the same
// kernel calls in the same order — so these tests compare raw float bits, 1 thread vs 2 (and 3), over random
// shapes that hit panel edges (pixels not a multiple of 8), strides, pads, groups, depthwise and Winograd.
// ONNX Conv: Y[n, m, oy, ox] = B[m] + Σ_{c, ky, kx} X[n, c, oy·s − pad + ky·d, ox·s − pad + kx·d] · W[m, c, ky, kx]
// (per group): the split is over (m, oy, ox) only, never over the Σ.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { dataPath, hasData } from '../helpers/data.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { f32ArrayToF16 } from '../../src/tensor/fp16.js';
import { quantizeNBits } from '../../src/quant/nbits.js';
import { acquireThreads, chunks, forkJoin, forkStats, gemmSplit, releaseThreads, setActiveThreads, setInlineForks, setMinShare, threadsAvailable, workersSpinning } from '../../src/kernels/threads.js';
import { arena, kernels } from '../../src/kernels/wasm.js';
import { runConvWinograd, winogradWeights } from '../../src/kernels/winograd.js';
import { type ConvResidual, convF32Shape, runConvF32 } from '../../src/kernels/conv-run.js';
import { setInt8BlockBytes } from '../../src/kernels/qlinear.js';

let threads = 1;
let minShare = 0;
beforeAll(async () => {
  threads = await acquireThreads(3);
  minShare = setMinShare(1); // split even the smallest kernels
});
afterAll(() => {
  setMinShare(minShare);
  if (threads > 1) releaseThreads();
});

interface Case {
  n: number; c: number; m: number; h: number; w: number; k: number; s: number; d: number; pad: number; group: 'one' | 'dw' | 'two'; act: boolean;
}

function rng(seed: number) {
  let r = seed >>> 0 || 1;
  return () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}

function convGraph(k: Case, seed: number) {
  const rnd = rng(seed);
  const group = k.group === 'dw' ? k.c : k.group === 'two' ? 2 : 1;
  const c = k.group === 'two' ? k.c * 2 : k.c;
  const m = k.group === 'dw' ? k.c : k.group === 'two' ? k.m * 2 : k.m;
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [k.n, c, k.h, k.w] } }];
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: m * (c / group) * k.k * k.k }, rnd), [m, c / group, k.k, k.k]));
  g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: m }, rnd), [m]));
  const attrs = { group, strides: [k.s, k.s], dilations: [k.d, k.d], kernel_shape: [k.k, k.k], pads: [k.pad, k.pad, k.pad, k.pad] };
  g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: [k.act ? 'T' : 'Y'], attrs });
  if (k.act) g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  const X = new Tensor('float32', Float32Array.from({ length: k.n * c * k.h * k.w }, rnd), [k.n, c, k.h, k.w]);
  return { g, X };
}

const bits = (t: Tensor) => new Uint32Array(Float32Array.from(t.data as Float32Array).buffer);

function runWith(exec: Executor, feeds: Record<string, Tensor>, n: number): Tensor {
  const prev = setActiveThreads(n);
  try {
    return exec.run(feeds).Y as Tensor;
  } finally {
    setActiveThreads(prev);
  }
}

/**
 * The graph's Y on 1, 2 and 3 threads: the same bits, and every node on a WASM kernel (not the reference). Each
 * multi-thread run follows a 1-thread run on the negated inputs: the plan keeps its blocks from run to run, so an
 * output element no chunk wrote would otherwise still hold the bits of the 1-thread run it is compared with.
 */
function sameBitsOn123(g: Graph, feeds: Record<string, Tensor>): void {
  const exec = new Executor(g, { backend: 'wasm' });
  const negated = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new Tensor('float32', (t.data as Float32Array).map((v) => -v), [...t.dims])]));
  const after = (n: number) => {
    runWith(exec, negated, 1);
    return bits(runWith(exec, feeds, n));
  };
  try {
    const one = bits(runWith(exec, feeds, 1));
    expect(after(2)).toEqual(one);
    expect(after(3)).toEqual(one);
    expect([...exec.fallbacks.values()]).toEqual([]);
  } finally {
    exec.dispose();
  }
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 12 }),
    m: fc.integer({ min: 1, max: 20 }),
    h: fc.integer({ min: 1, max: 19 }),
    w: fc.integer({ min: 1, max: 19 }),
    k: fc.constantFrom(1, 3, 3, 5),
    s: fc.constantFrom(1, 1, 2),
    d: fc.constantFrom(1, 1, 2),
    pad: fc.integer({ min: 0, max: 2 }),
    group: fc.constantFrom('one', 'one', 'dw', 'two'),
    act: fc.boolean(),
  })
  .filter((k) => k.h + 2 * k.pad >= (k.k - 1) * k.d + 1 && k.w + 2 * k.pad >= (k.k - 1) * k.d + 1) as fc.Arbitrary<Case>;

describe('kernel threads', () => {
  it('start in Node (shared memory, worker_threads)', () => {
    expect(threadsAvailable()).toBe(true);
    expect(threads).toBe(3);
  });

  it('f32 Conv (im2col GEMM, pointwise, depthwise 3×3, Winograd, groups): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(caseArb, fc.integer(), (k, seed) => {
        const { g, X } = convGraph(k, seed);
        sameBitsOn123(g, { X });
      }),
      { numRuns: 150 },
    );
  });

  // ONNX Conv as above: the split may cut (m) into blocks of 4-row multiples as well as (oy, ox) into panels or
  // tiles — still never the Σ over (c, ky, kx).
  it('f32 Conv with few pixel panels or tiles and many outputs (pointwise, Winograd: chunks × blocks of output channels): 2 and 3 threads bit-identical to 1', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 96, max: 260 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.constantFrom(1, 3), fc.integer({ min: 0, max: 1 }), fc.boolean(), fc.integer(), (c, m, h, w, k, pad, act, seed) => {
        fc.pre(h + 2 * pad >= k && w + 2 * pad >= k);
        const { g, X } = convGraph({ n: 1, c, m, h, w, k, s: 1, d: 1, pad: k === 1 ? 0 : pad, group: 'one', act }, seed);
        sameBitsOn123(g, { X });
        const exec = new Executor(g, { backend: 'wasm' });
        seen.add(exec.kernelName(g.nodes[0]!));
        exec.dispose();
      }),
      { numRuns: 60 },
    );
    expect(seen).toContain('f32_conv3x3_winograd_2x2');
    expect(seen).toContain('f32_conv2d_gemm_4x8');
  });

  // Each thread owns a contiguous region of the output pixels (forkJoin's regions), as every pixel-split kernel before
  // and after it does, so a core reads the pixels it wrote itself; one region for all the chunks (0df7b26 to b572003)
  // let the two threads take pixels from either end of the map, a different share on every kernel.
  it('a pointwise conv split by pixels gives each thread its own region of them', () => {
    const { g, X } = convGraph({ n: 1, c: 16, m: 16, h: 40, w: 40, k: 1, s: 1, d: 1, pad: 0, group: 'one', act: false }, 7);
    const exec = new Executor(g, { backend: 'wasm' });
    try {
      expect(exec.kernelName(g.nodes[0]!)).toBe('f32_conv2d_gemm_4x8');
      const prev = setActiveThreads(2);
      forkStats(true, true);
      try {
        exec.run({ X });
      } finally {
        setActiveThreads(prev);
      }
      const log = forkStats(false)!.log!;
      expect(log).toHaveLength(1);
      expect(log[0]![8]).toBe(2);
      expect(log[0]![2]).toBeGreaterThan(2);
    } finally {
      exec.dispose();
    }
  });

  // ONNX Add: "performs element-wise binary addition" — a residual Add folded into the pointwise conv before it
  // (Conv → Add(·, r) → Relu?, MobileNetV2's projection + skip) is added by each thread over the rows × pixels its
  // chunk wrote (f32_binary_rows): by pixel panels (p % 4 = 0), by blocks of output channels too (few panels, many
  // channels) and by rows only (few panels: gemmSplit 'rows'); the same bits as one thread's whole-block add.
  it('a residual Add folded into a pointwise conv, added in the threads\' chunks: 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.constantFrom(4, 16, 24, 40, 130, 200), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.boolean(), fc.integer(), (c, m, h, w, act, seed) => {
        const rnd = rng(seed);
        const g = new Graph();
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, c, h, w] } }];
        const t = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, rnd), dims);
        g.initializers.set('W1', t([m, c, 1, 1]));
        g.initializers.set('B1', t([m]));
        g.initializers.set('W2', t([m, m, 1, 1]));
        g.initializers.set('B2', t([m]));
        const pw = { kernel_shape: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0] };
        g.nodes.push({ name: 'c1', op: 'Conv', domain: '', inputs: ['X', 'W1', 'B1'], outputs: ['A'], attrs: pw });
        g.nodes.push({ name: 'c2', op: 'Conv', domain: '', inputs: ['A', 'W2', 'B2'], outputs: ['B'], attrs: pw });
        g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: ['B', 'A'], outputs: [act ? 'S' : 'Y'], attrs: {} });
        if (act) g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['S'], outputs: ['Y'], attrs: {} });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        sameBitsOn123(g, { X: t([1, c, h, w]) });
      }),
      { numRuns: 40 },
    );
  });

  // forkCached: a node's chunk lists (and their table in the control block) are kept across runs while the pointers
  // and sizes they were built from repeat. Runs of one executor over inputs of changing size (symbolic H, W: new
  // blocks, new geometry) and changing values, interleaved, must each give the bits of a fresh 1-thread run — a
  // kept fork used past a change of its key would compute the old geometry or write the old blocks.
  it('kept forks follow their key: one executor, inputs of changing size and values, 2 threads = 1 thread each run', () => {
    const rnd = rng(11);
    const t = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, rnd), dims);
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 3, 'h', 'w'] } }];
    for (const [n, dims] of [['W0', [24, 3, 3, 3]], ['B0', [24]], ['W1', [96, 24, 1, 1]], ['B1', [96]], ['Wd', [96, 1, 3, 3]], ['Bd', [96]], ['W3', [64, 96, 3, 3]], ['B3', [64]], ['W2', [64, 64, 1, 1]], ['B2', [64]]] as const) g.initializers.set(n, t([...dims]));
    const pad1 = { pads: [1, 1, 1, 1] };
    // the direct conv over 3 channels (f32_conv2d_direct_4x8, chunks of output rows; stride 2, or Winograd takes it)
    // and the depthwise one (chunks of channels): kept forks too
    g.nodes.push({ name: 'mp', op: 'MaxPool', domain: '', inputs: ['X'], outputs: ['P'], attrs: { kernel_shape: [3, 3], strides: [1, 1], ...pad1 } });
    g.nodes.push({ name: 'c0', op: 'Conv', domain: '', inputs: ['P', 'W0', 'B0'], outputs: ['X0'], attrs: { kernel_shape: [3, 3], strides: [2, 2], ...pad1 } });
    g.nodes.push({ name: 'pw', op: 'Conv', domain: '', inputs: ['X0', 'W1', 'B1'], outputs: ['A'], attrs: { kernel_shape: [1, 1] } });
    g.nodes.push({ name: 'dw', op: 'Conv', domain: '', inputs: ['A', 'Wd', 'Bd'], outputs: ['D'], attrs: { kernel_shape: [3, 3], group: 96, ...pad1 } });
    g.nodes.push({ name: 'c3', op: 'Conv', domain: '', inputs: ['D', 'W3', 'B3'], outputs: ['E'], attrs: { kernel_shape: [3, 3], ...pad1 } });
    g.nodes.push({ name: 'pj', op: 'Conv', domain: '', inputs: ['E', 'W2', 'B2'], outputs: ['G'], attrs: { kernel_shape: [1, 1] } });
    g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: ['G', 'E'], outputs: ['Y'], attrs: {} });
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const exec = new Executor(g, { backend: 'wasm' });
    try {
      const fresh1 = (X: Tensor) => {
        const e = new Executor(g, { backend: 'wasm' });
        try {
          return bits(runWith(e, { X }, 1));
        } finally {
          e.dispose();
        }
      };
      const on2 = (X: Tensor) => {
        forkStats(true);
        const y = bits(runWith(exec, { X }, 2));
        return { y, st: forkStats(false)! };
      };
      let prev = '';
      for (const [h, w] of [[16, 16], [16, 16], [12, 20], [16, 16], [28, 28], [12, 20], [12, 20]] as const) {
        const X = t([1, 3, h, w]);
        const want = fresh1(X);
        // straight after a 2-thread run of another size every key differs (its sizes), of the same size none does
        const a = on2(X);
        expect(a.y).toEqual(want);
        expect(a.st.forks).toBeGreaterThan(0);
        if (prev === `${h}x${w}`) expect(a.st.kept).toBeGreaterThanOrEqual(a.st.forks - 1);
        else expect(a.st.kept).toBe(0);
        expect(bits(runWith(exec, { X }, 3))).toEqual(want);
        // after a 3-thread run nothing is kept (the thread count is part of every key); new values, same blocks
        const X2 = t([1, 3, h, w]);
        const b = on2(X2);
        expect(b.y).toEqual(fresh1(X2));
        expect(b.st.kept).toBe(0);
        const c = on2(X2);
        expect(c.y).toEqual(b.y);
        // the same run again: forks kept (all but where a block moved: the graph output's, which the caller still
        // holds, lands elsewhere), mostly with their tables (the table area starts over when full: the earlier
        // tests' executors left theirs)
        expect(c.st.kept).toBeGreaterThanOrEqual(c.st.forks - 1);
        expect(c.st.keptTables).toBeLessThanOrEqual(c.st.kept);
        prev = `${h}x${w}`;
      }
      expect([...exec.fallbacks.values()]).toEqual([]);
      expect(['c0', 'dw'].map((n) => exec.kernelName(g.nodes.find((x) => x.name === n)!))).toEqual(['f32_conv2d_direct_4x8', 'f32_dwconv3x3']);
    } finally {
      exec.dispose();
    }
  });

  // A run's workers spin from its first fork to its end; a plan (an executor, a static plan) whose last run on threads
  // forked has them woken when its next run starts instead, so their wake-up passes while the caller works up to
  // the first fork. A plan whose runs do not fork never wakes them.
  it('a plan whose last run on threads forked wakes the workers at its next run\'s start; others at their first fork', () => {
    const { g, X } = convGraph({ n: 1, c: 8, m: 16, h: 12, w: 12, k: 3, s: 1, d: 1, pad: 1, group: 'one', act: false }, 3);
    const exec = new Executor(g, { backend: 'wasm' });
    const idle = {};
    /** a run of `plan` on n threads that runs the conv (forks) or not; whether the workers spun at its start, and after it */
    const run = (plan: object, n: number, conv: boolean): [boolean, boolean] => {
      const prev = setActiveThreads(n, plan);
      let start = false;
      try {
        start = workersSpinning();
        if (conv) exec.run({ X });
      } finally {
        setActiveThreads(prev);
      }
      return [start, workersSpinning()];
    };
    try {
      expect(run(exec, 2, true)).toEqual([false, false]); // no run before: woken at the first fork, asleep after the run
      expect(run(exec, 2, true)).toEqual([true, false]); // its last run forked: woken at the start
      expect(run(idle, 2, false)).toEqual([false, false]); // another plan, which never forked
      expect(run(exec, 2, false)).toEqual([true, false]); // exec's last run forked, this one does not …
      expect(run(exec, 2, true)).toEqual([false, false]); // … so the next is woken at its first fork
      expect(run(exec, 1, true)).toEqual([false, false]); // one thread: no workers, and the history stays that of its runs on threads
      expect(run(exec, 2, true)).toEqual([true, false]);
    } finally {
      exec.dispose();
    }
  });

  it('the residual goes into the chunks where each segment keeps the whole-block add\'s SIMD groups', () => {
    const ex = kernels()!;
    const mem = arena()!;
    const at = (m: number, c: number, h: number, w: number, nt: number) => {
      const shape = convF32Shape([m, c, 1, 1], {})!;
      const x = mem.alloc(c * h * w * 4, 'x');
      const wt = mem.alloc(m * c * 4, 'w');
      const b = mem.alloc(m * 4, 'b');
      const r = mem.alloc(m * h * w * 4, 'r');
      const res: ConvResidual = { ptr: r, lo: -Infinity, hi: Infinity };
      const prev = setActiveThreads(nt);
      try {
        mem.release(runConvF32(mem, ex, shape, { kernel_shape: [1, 1] }, [1, c, h, w], x, wt, b, -Infinity, Infinity, undefined, 0, undefined, res));
      } finally {
        setActiveThreads(prev);
        for (const q of [x, wt, b, r]) mem.release(q);
      }
      return res.done === true;
    };
    expect(at(24, 16, 56, 56, 2)).toBe(true); // by pixel panels
    expect(at(256, 64, 13, 12, 2)).toBe(true); // panels × blocks of output channels
    expect(at(160, 96, 7, 7, 2)).toBe(true); // by rows (7×7: 49 pixels, p % 4 ≠ 0, but whole rows)
    expect(at(24, 16, 13, 13, 2)).toBe(false); // by panels with p % 4 ≠ 0: the caller adds it afterwards
    expect(at(24, 16, 56, 56, 1)).toBe(false); // one thread
  });

  // ONNX Conv as above, im2col path: a thread packs each chunk of output-pixel panels a cache block of panels at a
  // time (f32_gemm_blockpack_scratch: 65536 / ((K + 1)·32) panels, 2–6 here for K = c·25) into its own block, so
  // chunks span several blocks; the Σ over (c, ky, kx) is still one micro-kernel call per 4×8 tile.
  it('f32 Conv (im2col) with chunks of several cache blocks of panels: 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 40 }), fc.integer({ min: 4, max: 24 }), fc.integer({ min: 12, max: 36 }), fc.integer({ min: 12, max: 36 }), fc.constantFrom(1, 2), fc.integer({ min: 0, max: 2 }), fc.integer(), (c, m, h, w, s, pad, seed) => {
        const { g, X } = convGraph({ n: 1, c, m, h, w, k: 5, s, d: 1, pad, group: 'one', act: false }, seed);
        sameBitsOn123(g, { X });
      }),
      { numRuns: 25 },
    );
  });

  // ONNX Gemm: Y = A·B + C and MatMul (batched, numpy semantics): split over column panels of Y, never over K.
  it('f32 Gemm (constant B) and MatMul (batched, both operands computed): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 21 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.integer(), (b, m, n, k, matmul, seed) => {
        const rnd = rng(seed);
        const t = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, rnd), dims);
        const g = new Graph();
        const feeds: Record<string, Tensor> = {};
        if (matmul) {
          g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [b, m, k] } }, { name: 'B', type: { dtype: 'float32', shape: [b, k, n] } }];
          g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} });
          feeds.A = t([b, m, k]);
          feeds.B = t([b, k, n]);
        } else {
          g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [m, k] } }];
          g.initializers.set('B', t([k, n]));
          g.initializers.set('C', t([n]));
          g.nodes.push({ name: 'gemm', op: 'Gemm', domain: '', inputs: ['A', 'B', 'C'], outputs: ['Y'], attrs: {} });
          feeds.A = t([m, k]);
        }
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        sameBitsOn123(g, feeds);
      }),
      { numRuns: 100 },
    );
  });

  // a float16 weight read through its Cast (kernels/fp16.ts): chunks of whole 8-column panels, widened in the micro-kernel
  // (M < 16) or per chunk into f32 panels for f32_gemm (M ≥ 16)
  it('float16-weight MatMul (both widening strategies): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      // weights over 2^16 halves: smaller ones fold into float32 at canonicalize and run the f32 kernel
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 257, max: 300 }), fc.integer({ min: 256, max: 270 }), fc.integer(), (m, n, k, seed) => {
        const rnd = rng(seed);
        const g = new Graph();
        g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [m, k] } }];
        g.initializers.set('W', new Tensor('float16', f32ArrayToF16(Float32Array.from({ length: k * n }, rnd)), [k, n]));
        g.nodes.push({ name: 'cast', op: 'Cast', domain: '', inputs: ['W'], outputs: ['Wf'], attrs: { to: 1 } });
        g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'Wf'], outputs: ['Y'], attrs: {} });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        const exec = new Executor(g, { backend: 'wasm' });
        expect(exec.kernels.get(exec.graph.nodes.find((x) => x.op === 'MatMul')!)?.name).toBe('f16w_gemm_4x8');
        exec.dispose();
        sameBitsOn123(g, { A: new Tensor('float32', Float32Array.from({ length: m * k }, rnd), [m, k]) });
      }),
      { numRuns: 25 },
    );
  });

  // com.microsoft MatMulNBits at accuracy_level 4 (kernels/nbits.ts): int8 panels with block scales, chunks of whole
  // 8-column panels, a tile scratch per thread
  it('MatMulNBits (int4 / int8 codes, with and without bias): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 80 }), fc.constantFrom(4, 8), fc.constantFrom(16, 32), fc.boolean(), fc.integer(), (m, n, k, bits, bs, withBias, seed) => {
        const rnd = rng(seed);
        const q = quantizeNBits(Float32Array.from({ length: k * n }, rnd), k, n, bits as 4 | 8, bs, true);
        const g = new Graph();
        g.opsets = { '': 17, 'com.microsoft': 1 };
        g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [m, k] } }];
        g.initializers.set('B', new Tensor('uint8', q.b, [n, q.gm.kBlocks, q.gm.blobSize]));
        g.initializers.set('S', new Tensor('float32', q.scales, [n * q.gm.kBlocks]));
        g.initializers.set('Z', new Tensor('uint8', q.zp!, [n * q.gm.zpRow]));
        if (withBias) g.initializers.set('C', new Tensor('float32', Float32Array.from({ length: n }, rnd), [n]));
        const attrs = { K: k, N: n, bits, block_size: bs, accuracy_level: 4 };
        g.nodes.push({ name: 'mm', op: 'MatMulNBits', domain: 'com.microsoft', inputs: ['A', 'B', 'S', 'Z', ...(withBias ? ['', 'C'] : [])], outputs: ['Y'], attrs });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        const exec = new Executor(g, { backend: 'wasm' });
        // 4-bit codes minus their zero points always fit int8; 8-bit ones may not (then the dequantized f32 GEMM runs)
        if (bits === 4) expect(exec.kernels.get(exec.graph.nodes[0]!)?.name).toBe('nbits_qs8_gemm_4x8_blockscaled');
        exec.dispose();
        sameBitsOn123(g, { A: new Tensor('float32', Float32Array.from({ length: m * k }, rnd), [m, k]) });
      }),
      { numRuns: 60 },
    );
  });

  // ConvTranspose (kernels/conv-transpose.ts): the column GEMM split as any f32 GEMM, the scatter by output channels;
  // stride = kernel (f32_col2im_tiled) and overlapping windows with pads and dilations (f32_col2im), groups
  it('f32 ConvTranspose (tiled and overlapping windows, groups): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 11 }), fc.constantFrom(1, 2, 3), fc.constantFrom(1, 2), fc.boolean(), fc.integer(), (group, cg, mg, h, w, kern, stride, tiledCase, seed) => {
        const rnd = rng(seed);
        const [c, k, s] = [cg * group, kern, tiledCase ? kern : stride];
        // the pads remove a row and a column: keep some output
        fc.pre(tiledCase || (s * (h - 1) + k - 1 > 0 && s * (w - 1) + 2 * (k - 1) > 0));
        const attrs = tiledCase ? { group, strides: [s, s], kernel_shape: [k, k] } : { group, strides: [s, s], kernel_shape: [k, k], pads: [1, 0, 0, 1], dilations: [1, 2] };
        const g = new Graph();
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, c, h, w] } }];
        g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: c * mg * k * k }, rnd), [c, mg, k, k]));
        g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: mg * group }, rnd), [mg * group]));
        g.nodes.push({ name: 'ct', op: 'ConvTranspose', domain: '', inputs: ['X', 'W', 'B'], outputs: ['Y'], attrs });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        sameBitsOn123(g, { X: new Tensor('float32', Float32Array.from({ length: c * h * w }, rnd), [1, c, h, w]) });
      }),
      { numRuns: 80 },
    );
  });

  // Softmax (kernels/norm.ts): chunks of rows (last axis) or of outer blocks (an inner axis)
  it('f32 Softmax over the last and an inner axis: 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 4 }), fc.nat(), fc.integer(), (dims, a, seed) => {
        const rnd = rng(seed);
        const axis = a % dims.length;
        const g = new Graph();
        g.opsets = { '': 17 };
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: dims } }];
        g.nodes.push({ name: 'sm', op: 'Softmax', domain: '', inputs: ['X'], outputs: ['Y'], attrs: { axis } });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        sameBitsOn123(g, { X: new Tensor('float32', Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, () => rnd() * 6), dims) });
      }),
      { numRuns: 100 },
    );
  });

  // elementwise activations on f32_unary (kernels/epilogue.ts unaryAt): chunks of multiples of 4 floats
  it('f32 activations (Sigmoid, Tanh, Erf, Gelu, LeakyRelu, HardSwish): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.constantFrom('Sigmoid', 'Tanh', 'Erf', 'Gelu', 'LeakyRelu', 'HardSwish'), fc.integer({ min: 1, max: 300 }), fc.integer(), (op, n, seed) => {
        const rnd = rng(seed);
        const g = new Graph();
        g.opsets = { '': 20 };
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [n] } }];
        g.nodes.push({ name: 'act', op, domain: '', inputs: ['X'], outputs: ['Y'], attrs: {} });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        sameBitsOn123(g, { X: new Tensor('float32', Float32Array.from({ length: n }, () => rnd() * 5), [n]) });
      }),
      { numRuns: 120 },
    );
  });

  // elementwise binary ops over one run of elements (eltwise.ts binaryAt: same shapes, or a scalar operand) and
  // LayerNormalization (norm.ts: chunks of rows)
  it('f32 Add/Sub/Mul/Div (same shape or a scalar operand) and LayerNormalization: 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.constantFrom('Add', 'Sub', 'Mul', 'Div', 'LayerNormalization'), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 30 }), fc.boolean(), fc.integer(), (op, rows, n, scalar, seed) => {
        const rnd = rng(seed);
        const g = new Graph();
        g.opsets = { '': 17 };
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [rows, n] } }];
        const feeds: Record<string, Tensor> = { X: new Tensor('float32', Float32Array.from({ length: rows * n }, rnd), [rows, n]) };
        if (op === 'LayerNormalization') {
          g.initializers.set('G', new Tensor('float32', Float32Array.from({ length: n }, rnd), [n]));
          g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: n }, rnd), [n]));
          g.nodes.push({ name: 'ln', op, domain: '', inputs: ['X', 'G', 'B'], outputs: ['Y'], attrs: { axis: -1 } });
        } else {
          const bd = scalar ? [1] : [rows, n];
          g.inputs.push({ name: 'Z', type: { dtype: 'float32', shape: bd } });
          feeds.Z = new Tensor('float32', Float32Array.from({ length: bd.reduce((x, y) => x * y, 1) }, () => rnd() + 1.5), bd);
          g.nodes.push({ name: 'bin', op, domain: '', inputs: ['X', 'Z'], outputs: ['Y'], attrs: {} });
        }
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        sameBitsOn123(g, feeds);
      }),
      { numRuns: 120 },
    );
  });

  // the int8 GEMM (kernels/qlinear.ts PackedQGemm.gemmAt): chunks of whole 8-column panels, a tile scratch per thread —
  // as DynamicQuantizeMatMul (the fused DynamicQuantizeLinear → MatMulInteger → Cast → Mul chain, float epilogue) and as
  // QLinearMatMul between QuantizeLinear / DequantizeLinear (8-bit requantized output), 1–9 rows (GEMV and 4-row tiles)
  it('int8 GEMM (DynamicQuantizeMatMul, QLinearMatMul): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 60 }), fc.boolean(), fc.integer(), (m, n, k, dynamic, seed) => {
        const rnd = rng(seed);
        const g = new Graph();
        g.opsets = { '': 17 };
        g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [m, k] } }];
        g.initializers.set('W', new Tensor('int8', Int8Array.from({ length: k * n }, () => Math.round(rnd() * 127)), [k, n]));
        const f = (name: string, v: number) => g.initializers.set(name, new Tensor('float32', Float32Array.of(v), []));
        const u8 = (name: string, v: number) => g.initializers.set(name, new Tensor('uint8', Uint8Array.of(v), []));
        const i8 = (name: string, v: number) => g.initializers.set(name, new Tensor('int8', Int8Array.of(v), []));
        if (dynamic) {
          f('ws', 0.02);
          g.nodes.push(
            { name: 'dq', op: 'DynamicQuantizeLinear', domain: '', inputs: ['A'], outputs: ['Aq', 'As', 'Az'], attrs: {} },
            { name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['Aq', 'W', 'Az'], outputs: ['P'], attrs: {} },
            { name: 'cast', op: 'Cast', domain: '', inputs: ['P'], outputs: ['Pf'], attrs: { to: 1 } },
            { name: 'sc', op: 'Mul', domain: '', inputs: ['As', 'ws'], outputs: ['S'], attrs: {} },
            { name: 'mul', op: 'Mul', domain: '', inputs: ['Pf', 'S'], outputs: ['Y'], attrs: {} },
          );
        } else {
          f('as', 0.01);
          u8('az', 128);
          f('ws', 0.02);
          i8('wz', 0);
          f('ys', 0.05);
          u8('yz', 120);
          g.nodes.push(
            { name: 'q', op: 'QuantizeLinear', domain: '', inputs: ['A', 'as', 'az'], outputs: ['Aq'], attrs: {} },
            { name: 'qmm', op: 'QLinearMatMul', domain: '', inputs: ['Aq', 'as', 'az', 'W', 'ws', 'wz', 'ys', 'yz'], outputs: ['Yq'], attrs: {} },
            { name: 'dq', op: 'DequantizeLinear', domain: '', inputs: ['Yq', 'ys', 'yz'], outputs: ['Y'], attrs: {} },
          );
        }
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        sameBitsOn123(g, { A: new Tensor('float32', Float32Array.from({ length: m * k }, () => rnd()), [m, k]) });
      }),
      { numRuns: 80 },
    );
  });

  // ONNX Attention (opset 23): "softmax(Q·Kᵀ·scale + mask)·V" per head — the fused kernel hands whole heads to the
  // threads (kernels/attend.ts f32_attn_head), so 2 and 3 threads must give the same bits as 1
  it('fused attention (ONNX Attention on f32_attn_head): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.constantFrom([1, 1], [3, 3], [4, 2], [5, 5]), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), fc.constantFrom(4, 8, 12), fc.boolean(), fc.integer(), (b, [N, Nkv], S, T, hd, causal, seed) => {
        const rnd = rng(seed);
        const t = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, rnd), dims);
        const g = new Graph();
        g.opsets = { '': 23 };
        g.inputs = [
          { name: 'Q', type: { dtype: 'float32', shape: [b, N, S, hd] } },
          { name: 'K', type: { dtype: 'float32', shape: [b, Nkv, T, hd] } },
          { name: 'V', type: { dtype: 'float32', shape: [b, Nkv, T, hd] } },
        ];
        g.nodes.push({ name: 'att', op: 'Attention', domain: '', inputs: ['Q', 'K', 'V'], outputs: ['Y'], attrs: { is_causal: causal ? 1 : 0 } });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        const feeds = { Q: t([b, N, S, hd]), K: t([b, Nkv, T, hd]), V: t([b, Nkv, T, hd]) };
        sameBitsOn123(g, feeds);
      }),
      { numRuns: 40 },
    );
  });

  // ONNX QLinearConv: y = saturate(round(x_scale·w_scale/y_scale · Σ (x − x_zp)(w − w_zp) + B) + y_zp): integer
  // kernels, so 2 threads must give the same bytes as 1 (pointwise, im2col, depthwise, per-channel w_scale/w_zp).
  it('int8 QLinearConv (GEMM and depthwise): 2 and 3 threads give the same bytes as 1', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), fc.boolean(), fc.integer(), fc.boolean(), (k, uns, perChannel, seed, small) => {
        const rnd = rng(seed);
        const group = k.group === 'dw' ? k.c : k.group === 'two' ? 2 : 1;
        const c = k.group === 'two' ? k.c * 2 : k.c;
        const m = k.group === 'dw' ? k.c : k.group === 'two' ? k.m * 2 : k.m;
        const xt = uns ? 'uint8' : 'int8';
        const q = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => Math.round(lo + ((rnd() + 1) / 2) * (hi - lo)));
        const xArr = uns ? Uint8Array : Int8Array;
        const g = new Graph();
        g.inputs = [{ name: 'X', type: { dtype: xt, shape: [k.n, c, k.h, k.w] } }];
        const sc = (v: number, n = 1) => new Tensor('float32', Float32Array.from({ length: n }, () => v * (1 + 0.5 * rnd())), n === 1 ? [] : [n]);
        g.initializers.set('xs', sc(0.05));
        g.initializers.set('xz', new Tensor(xt, xArr.of(uns ? 128 : 3), []));
        g.initializers.set('W', new Tensor('int8', Int8Array.from(q(m * (c / group) * k.k * k.k, -127, 127)), [m, c / group, k.k, k.k]));
        g.initializers.set('ws', sc(0.01, perChannel ? m : 1));
        g.initializers.set('wz', new Tensor('int8', perChannel ? new Int8Array(m) : Int8Array.of(0), perChannel ? [m] : []));
        g.initializers.set('ys', sc(0.2));
        g.initializers.set('yz', new Tensor(xt, xArr.of(uns ? 120 : -2), []));
        g.initializers.set('B', new Tensor('int32', Int32Array.from(q(m, -500, 500)), [m]));
        const attrs = { group, strides: [k.s, k.s], dilations: [k.d, k.d], kernel_shape: [k.k, k.k], pads: [k.pad, k.pad, k.pad, k.pad] };
        g.nodes.push({ name: 'qconv', op: 'QLinearConv', domain: '', inputs: ['X', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz', 'B'], outputs: ['Y'], attrs });
        g.outputs = [{ name: 'Y', type: { dtype: xt } }];
        const X = new Tensor(xt, xArr.from(q(k.n * c * k.h * k.w, uns ? 0 : -128, uns ? 255 : 127)), [k.n, c, k.h, k.w]);
        // small: column blocks of one panel (qlinear.ts convBlock), so the threads' chunks hold several blocks each
        const prev = setInt8BlockBytes(small ? 1 : 128 * 1024);
        const exec = new Executor(g, { backend: 'wasm' });
        setInt8BlockBytes(prev);
        try {
          const y = (n: number) => Array.from(runWith(exec, { X }, n).data as Int8Array);
          const one = y(1);
          expect(y(2)).toEqual(one);
          expect(y(3)).toEqual(one);
          expect([...exec.fallbacks.values()]).toEqual([]);
        } finally {
          exec.dispose();
        }
      }),
      { numRuns: 100 },
    );
  });

  // ONNX MaxPool / AveragePool: each output is a max / mean over its own window of one (n, c) plane; the split is
  // over planes only, so every output comes from the same kernel call as on one thread.
  // ONNX MaxPool / AveragePool: each output pixel is a function of its own window only (the threads split by planes);
  // ceil_mode's partial last windows included
  it('f32 MaxPool and AveragePool (separable and general): 2 and 3 threads bit-identical to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 3, max: 31 }), fc.integer({ min: 3, max: 17 }), fc.constantFrom(2, 3), fc.constantFrom(1, 2), fc.integer({ min: 0, max: 1 }), fc.constantFrom('MaxPool', 'AveragePool'), fc.constantFrom(1, 1, 2), fc.boolean(), fc.integer(), (n, c, h, w, k, s, pad, op, d, ceil, seed) => {
        fc.pre(h + 2 * pad >= (k - 1) * d + 1 && w + 2 * pad >= (k - 1) * d + 1 && pad < k);
        const rnd = rng(seed);
        const g = new Graph();
        g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [n, c, h, w] } }];
        const attrs: Record<string, unknown> = { kernel_shape: [k, k], strides: [s, s], pads: [pad, pad, pad, pad] };
        if (op === 'MaxPool') attrs.dilations = [d, d];
        if (ceil) attrs.ceil_mode = 1;
        g.nodes.push({ name: 'pool', op, domain: '', inputs: ['X'], outputs: ['Y'], attrs });
        g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
        const X = new Tensor('float32', Float32Array.from({ length: n * c * h * w }, rnd), [n, c, h, w]);
        sameBitsOn123(g, { X });
      }),
      { numRuns: 120 },
    );
  });

  it('chunks: one contiguous region per thread, cut into shrinking chunks that cover every unit once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(1, 4, 8), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 200 }), (count, grain, nt, least) => {
        const { ranges, regions } = chunks(count, grain, nt, least);
        expect(ranges[0]![0]).toBe(0);
        expect(ranges[ranges.length - 1]![1]).toBe(count);
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1]);
        for (const [a, b] of ranges) {
          expect(b).toBeGreaterThan(a);
          expect(a % grain).toBe(0);
        }
        expect(regions[0]).toBe(0);
        expect(regions.length).toBe(Math.min(nt, Math.ceil(count / grain)));
        for (let r = 1; r < regions.length; r++) expect(regions[r]).toBeGreaterThan(regions[r - 1]!);
      }),
    );
    // a 7×7 conv's 49 pixels (7 panels) split by rows; 56×56 by columns
    expect(gemmSplit(160, 49, 2)).toBe('rows');
    expect(gemmSplit(96, 3136, 2)).toBe('cols');
  });

  it('forkJoin: chunks in three regions, each run exactly once whichever thread claims it', () => {
    const ex = kernels()!;
    const mem = arena()!;
    // f32_gemm_pack_8 of one 8-column panel per chunk: a bias row of zeros, then the 8 values
    const cols = 64;
    const src = mem.alloc(cols * 4);
    const out = mem.alloc(cols * 4 * 8);
    mem.f32(src, cols).set(Float32Array.from({ length: cols }, (_, i) => i + 1));
    const prev = setActiveThreads(3);
    try {
      for (let round = 0; round < 50; round++) {
        mem.f32(out, cols * 8).fill(0);
        // 8 chunks of 8 columns: pack columns [8c, 8c + 8) of a 1-row matrix into its own 64 floats of out
        const inl = setInlineForks(round === 1); // round 1: every chunk runs on the caller (the diagnostic)
        forkStats(true, true);
        forkJoin(ex, Array.from({ length: 8 }, (_, c) => [['f32_gemm_pack_8', [8, 1, src + c * 32, cols, 0, out + c * 8 * 32]]]), 3, [0, 3, 6]);
        const st = forkStats(false)!;
        setInlineForks(inl);
        // every chunk ran once, on the caller or on a worker (the workers' own counts)
        if (threads > 1) expect(st.callerChunks + st.workerChunks).toBe(8);
        if (threads > 1 && round === 1) expect(st).toMatchObject({ forks: 1, chunks: 8, callerChunks: 8, workerChunks: 0 });
        if (threads > 1) expect(st.log).toHaveLength(1);
        // the counters (bench/threads-nodes.js): one fork of 8 chunks when workers exist; the caller ran none to
        // all of them (fast workers may claim every one), and all of them when every worker was cancelled
        if (threads > 1) {
          expect(st).toMatchObject({ forks: 1, chunks: 8 });
          expect(st.callerChunks).toBeGreaterThanOrEqual(0);
          expect(st.callerChunks).toBeLessThanOrEqual(8);
          expect(st.cancelled).toBeLessThanOrEqual(threads - 1);
          if (st.cancelled === threads - 1) expect(st.callerChunks).toBe(8);
        }
        const o = mem.f32(out, cols * 8);
        for (let c = 0; c < 8; c++) for (let j = 0; j < 8; j++) {
          expect(o[c * 64 + j]).toBe(0);
          expect(o[c * 64 + 8 + j]).toBe(c * 8 + j + 1);
        }
      }
    } finally {
      setActiveThreads(prev);
      mem.release(src);
      mem.release(out);
    }
  });

  it('Winograd: every tile comes out the same in any tile block (threads give each a smaller block)', () => {
    const ex = kernels()!;
    const mem = arena()!;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 3, max: 30 }), fc.integer({ min: 3, max: 30 }), fc.integer(), (c, m, h, w, seed) => {
        const rnd = rng(seed);
        const x = Float32Array.from({ length: c * h * w }, rnd);
        const u = winogradWeights(Float32Array.from({ length: m * c * 9 }, rnd), m, c);
        const xp = mem.alloc(x.length * 4);
        const up = mem.alloc(u.length * 4);
        const bp = mem.alloc(m * 4);
        mem.f32(xp, x.length).set(x);
        mem.f32(up, u.length).set(u);
        mem.f32(bp, m).set(Float32Array.from({ length: m }, rnd));
        const attrs = { pads: [1, 1, 1, 1] };
        const outs: Uint32Array[] = [];
        for (const block of [undefined, 8, 16, 24]) {
          const op = runConvWinograd(mem, ex, m, attrs, [1, c, h, w], xp, up, bp, -Infinity, Infinity, block);
          outs.push(new Uint32Array(mem.memory.buffer.slice(op, op + m * h * w * 4)));
          mem.release(op);
        }
        for (const o of [xp, up, bp]) mem.release(o);
        for (const o of outs.slice(1)) expect(o).toEqual(outs[0]);
      }),
      { numRuns: 60 },
    );
  });

  for (const name of ['squeezenet1_1', 'mobilenet_v2']) {
    it.skipIf(!hasData(`bench/${name}.onnx`))(`${name}: numThreads 2 gives the same output bits as 1 (default work threshold)`, async () => {
      setMinShare(minShare); // the real threshold: the split the benchmarks run
      try {
        const bytes = new Uint8Array(readFileSync(dataPath(`bench/${name}.onnx`)));
        const s1 = await InferenceSession.create(bytes, { numThreads: 1 });
        const s2 = await InferenceSession.create(bytes, { numThreads: 2 });
        expect(s2.numThreads).toBe(2);
        const x = new Tensor('float32', Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.37)), [1, 3, 224, 224]);
        const feeds = { [s1.inputNames[0]!]: x };
        const y1 = (await s1.run(feeds))[s1.outputNames[0]!]!;
        const y2 = (await s2.run(feeds))[s2.outputNames[0]!]!;
        expect(bits(y2)).toEqual(bits(y1));
        await s1.release();
        await s2.release();
      } finally {
        setMinShare(1);
      }
    });
  }

  it('a session holds the workers until release(); a process that never releases still exits', () => {
    // a fresh Node on the built package: its own pool, nothing else holding it
    const code = `
      import { InferenceSession, Graph, Tensor } from './dist/index.js';
      import { threadWorkers } from './dist/kernels/threads.js';
      const g = new Graph();
      g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 4] } }];
      g.initializers.set('W', new Tensor('float32', new Float32Array(16).fill(1), [4, 4]));
      g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['X', 'W'], outputs: ['Y'], attrs: {} });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      const a = await InferenceSession.create(g, { numThreads: 2 });
      const b = await InferenceSession.create(g, { numThreads: 2 });
      const seen = [a.numThreads, threadWorkers()];
      await a.release();
      seen.push(threadWorkers());
      await b.release();
      seen.push(threadWorkers());
      const c = await InferenceSession.create(g, { numThreads: 2 }); // never released
      seen.push(c.numThreads);
      console.log(JSON.stringify(seen));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    // [threads of a, workers with a and b, after a's release, after b's release, threads of c] — and the process exited
    expect(JSON.parse(out.trim())).toEqual([2, 1, 1, 0, 2]);
  });
});
