// Sparse vs dense f32 GEMM against weight sparsity (0 … 0.95): Y[M×N] = X[M×K] · Wᵀ with W N×K pruned by
// magnitude. Dense: the TS reference loop and edgeq's packed WASM SIMD kernel (f32_gemm_4x8); sparse: the CSR
// TS kernel (src/prune/csr.ts) and the WASM kernels of src/kernels/sparse.ts (asm/f32_spmm.ts): 1×4 blocked
// CSR (f32_spmm_1x4) and scalar CSR with SIMD across 8 rows (f32_spmm_csr_8). Then int8 MatMulInteger (sparse
// i32_spmm_1x4 vs the dense qs8 GEMM vs the TS reference) and Conv (dense WASM vs direct sparse f32_spconv2d vs
// im2col + CSR), both through the Executor with src/kernels/sparse.ts's sparseConfig switches.
// Prints the crossover (the lowest sparsity from which a sparse kernel beats dense WASM and stays ahead) per
// shape; src/kernels/sparse.ts takes its SPARSE_MIN_* constants from these numbers. Last, the 1×1 NCHW SpMM alone on
// MediaPipe's layer shapes, its channel split against one range (EDGEQ_SPARSE_NCHW=1: only that section).
// The machine may be shared: every timing is the median of REPEATS tinybench medians.
// Runs from dist/ (npm run bench) or straight from src/ with EDGEQ_SRC=1 node --import tsx bench/sparse.bench.js.
import { pathToFileURL } from 'node:url';
import { fmt, quick, table, timeMs } from './common.js';

const base = process.env.EDGEQ_SRC ? '../src/' : '../dist/';
const load = (p) => import(new URL(base + p, import.meta.url).href);
const { csrGemmNT, denseGemmNT, toCsr } = await load('prune/csr.js');
const { PackedGemmF32 } = await load('kernels/gemm.js');
const { SparseGemmF32, SpmmNchw, sparseConfig, sparseConvConfig, SMALL_M, SPARSE_MIN_SMALL_M, SPARSE_MIN_LARGE_M, SPARSE_MIN_INT8, SPARSE_MIN_CONV, SPARSE_DIRECT_CONV } = await load('kernels/sparse.js');
const { arena, kernels } = await load('kernels/wasm.js');
const { Graph } = await load('ir/graph.js');
const { Executor } = await load('runtime/executor.js');
const { Tensor } = await load('tensor/tensor.js');

const SPARSITIES = [0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
const REPEATS = quick ? 1 : 3;

/** seeded uniform weights (unstructured, like magnitude pruning of a trained layer): the `s` fraction of
 * smallest magnitudes zeroed */
function prunedWeights(n, k, s) {
  let r = 12345;
  const w = Float32Array.from({ length: n * k }, () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5);
  const idx = Uint32Array.from({ length: w.length }, (_, i) => i).sort((a, b) => Math.abs(w[a]) - Math.abs(w[b]) || a - b);
  const cut = Math.round(s * w.length);
  for (let i = 0; i < cut; i++) w[idx[i]] = 0;
  return w;
}

async function median(name, fn, repeats = REPEATS) {
  const t = [];
  for (let r = 0; r < repeats; r++) t.push(await timeMs(name, fn));
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}
/** lowest sparsity from which `ms(s) < dense(s)` holds for every larger measured sparsity */
function crossover(results, key) {
  let cross = NaN;
  for (let i = results.length - 1; i >= 0; i--) {
    if (results[i][key] < results[i].denseWasmMs) cross = results[i].sparsity;
    else break;
  }
  return cross;
}

const NCHW_TITLE = 'sparse 1×1 conv, NCHW SpMM (f32_spmm_nchw_32) on MediaPipe layer shapes, 70 % zeros, one thread (µs, medians; GFLOP/s of non-zero work)';

export async function run() {
  // EDGEQ_SPARSE_NCHW=1: only the 1×1 NCHW section (the others take minutes)
  if (process.env.EDGEQ_SPARSE_NCHW) {
    const out = [];
    table(NCHW_TITLE, await pointwiseNchw(arena(), out));
    return { sparse: out };
  }
  // [M, K, N]: batch-1 and batch-64 FC layers (lenet f1 400→120, a 1024² layer, a 512→2048 expansion),
  // and a conv as im2col GEMM (784 pixels, 150 = 6·5·5 taps, 16 filters)
  const shapes = quick
    ? [[1, 1024, 1024], [64, 400, 120]]
    : [[1, 400, 120], [1, 1024, 1024], [4, 1024, 1024], [64, 400, 120], [64, 1024, 1024], [784, 150, 16]];
  const mem = arena();
  const rows = [];
  const out = [];
  const cross = { small: [], large: [] };
  for (const [m, k, n] of shapes) {
    const x = Float32Array.from({ length: m * k }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const ybuf = new Float32Array(m * n);
    const res = [];
    for (const s of SPARSITIES) {
      const w = prunedWeights(n, k, s);
      const csr = toCsr(w, n, k);
      const big = m * k * n > 2e8; // the scalar TS loops would take seconds
      const denseTsMs = big ? NaN : await median('dense-ts', () => denseGemmNT(x, m, w, n, k, undefined, ybuf), 1);
      const csrTsMs = await median('csr-ts', () => csrGemmNT(x, m, csr, undefined, ybuf), 1);
      // the dense WASM kernel takes W as K×N
      const wt = new Float32Array(k * n);
      for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) wt[t * n + j] = w[j * k + t];
      const packed = new PackedGemmF32(mem, k, n, wt);
      const sp = new SparseGemmF32(mem, k, n, w);
      const denseWasmMs = await median('dense-wasm', () => packed.run(x, m));
      const blk4Ms = await median('spmm-1x4', () => sp.run(x, m, -Infinity, Infinity, 'f32_spmm_1x4'));
      const csr8Ms = await median('spmm-csr8', () => sp.run(x, m, -Infinity, Infinity, 'f32_spmm_csr_8'));
      const blocks = sp.blocks;
      packed.dispose();
      sp.dispose();
      const chosen = SparseGemmF32.kernelFor(m) === 'f32_spmm_1x4' ? blk4Ms : csr8Ms;
      const r = { shape: `${m}x${k}x${n}`, sparsity: s, nnz: csr.values.length, blocks1x4: blocks, denseTsMs, denseWasmMs, csrTsMs, blk4Ms, csr8Ms, chosenMs: chosen };
      res.push(r);
      out.push(r);
      rows.push({
        'M×K×N': r.shape, sparsity: fmt(s, 2), nnz: r.nnz, '1×4 blocks': blocks, 'dense TS': fmt(denseTsMs, 3), 'CSR TS': fmt(csrTsMs, 3),
        'dense WASM': fmt(denseWasmMs, 3), '1×4 WASM': fmt(blk4Ms, 3), 'CSR8 WASM': fmt(csr8Ms, 3), 'dense/sparse (chosen)': fmt(denseWasmMs / chosen, 2),
      });
    }
    const c = { shape: `${m}x${k}x${n}`, crossover1x4: crossover(res, 'blk4Ms'), crossoverCsr8: crossover(res, 'csr8Ms'), crossoverChosen: crossover(res, 'chosenMs') };
    (m < SMALL_M ? cross.small : cross.large).push(c.crossoverChosen);
    out.push(c);
    const show = (v) => (Number.isNaN(v) ? 'none ≤ 0.95' : `≥ ${v}`);
    rows.push({
      'M×K×N': `${c.shape} crossover`, sparsity: '', nnz: '', '1×4 blocks': '', 'dense TS': '', 'CSR TS': '', 'dense WASM': '',
      '1×4 WASM': show(c.crossover1x4), 'CSR8 WASM': show(c.crossoverCsr8), 'dense/sparse (chosen)': show(c.crossoverChosen),
    });
  }
  table('sparse vs dense f32 GEMM by weight sparsity (ms, medians), one thread', rows);

  // int8: MatMulInteger with a constant pruned int8 B (b_zero_point 0), all through the Executor: the TS reference
  // op, the dense WASM int8 GEMM (src/kernels/qlinear.ts, sparse kernels disabled) and the sparse i32_spmm_1x4
  // (forced at every sparsity).
  const irows = [];
  const icross = [];
  for (const [m, k, n] of quick ? [[1, 1024, 1024]] : [[1, 1024, 1024], [4, 1024, 1024], [64, 400, 120]]) {
    const A = new Tensor('int8', Int8Array.from({ length: m * k }, (_, i) => ((i * 7919) % 255) - 127), [m, k]);
    let cross = NaN;
    const res = [];
    for (const s of [0, 0.5, 0.7, 0.8, 0.9, 0.95]) {
      const w = prunedWeights(n, k, s); // N×K
      const b = new Int8Array(k * n);
      for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) b[t * n + j] = Math.round(w[j * k + t] * 254);
      const g = new Graph();
      g.inputs = [{ name: 'A', type: { dtype: 'int8', shape: [m, k] } }];
      g.initializers.set('B', new Tensor('int8', b, [k, n]));
      g.nodes.push({ name: 'mmi', op: 'MatMulInteger', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} });
      g.outputs = [{ name: 'Y', type: { dtype: 'int32' } }];
      const ref = new Executor(g, { backend: 'reference' });
      const refMs = m * k * n > 1e7 ? NaN : await median('int8-ref', () => ref.run({ A }), 1);
      sparseConfig.enabled = false;
      const dense = new Executor(g);
      sparseConfig.enabled = true;
      sparseConfig.force = true;
      const sparse = new Executor(g);
      sparseConfig.force = false;
      const dname = dense.kernels.get(g.nodes[0])?.name ?? 'reference';
      const sname = sparse.kernels.get(g.nodes[0])?.name;
      const denseMs = await median('int8-dense', () => dense.run({ A }));
      const sparseMs = await median('int8-sparse', () => sparse.run({ A }));
      dense.dispose();
      sparse.dispose();
      res.push({ s, refMs, denseMs, sparseMs, dense: dname, sparse: sname });
      irows.push({ 'M×K×N': `${m}x${k}x${n}`, sparsity: fmt(s, 2), 'TS reference': fmt(refMs, 3), [`dense WASM (${dname})`]: fmt(denseMs, 3), [`sparse (${sname})`]: fmt(sparseMs, 3), 'dense/sparse': fmt(denseMs / sparseMs, 2), 'plan picks sparse': s >= SPARSE_MIN_INT8 ? 'yes' : 'no' });
    }
    for (let i = res.length - 1; i >= 0 && res[i].sparseMs < res[i].denseMs; i--) cross = res[i].s;
    icross.push(cross);
    out.push({ shape: `int8 ${m}x${k}x${n}`, int8: res, crossoverInt8: cross });
    irows.push({ 'M×K×N': `${m}x${k}x${n} crossover`, sparsity: Number.isNaN(cross) ? 'none ≤ 0.95' : `≥ ${cross}` });
  }
  table('sparse vs dense int8 MatMulInteger (ms, medians)', irows.map((r) => Object.fromEntries(Object.keys(irows[0]).map((c) => [c, r[c] ?? '']))));

  // Conv (NCHW, batch 1): dense WASM conv (src/kernels/conv.ts) vs the sparse direct conv (f32_spconv2d) and
  // im2col + CSR (f32_spmm_csr_8), all through the Executor.
  const crows = [];
  const ccross = [];
  const convs = quick ? [[6, 12, 12, 16, 5, 1]] : [[6, 12, 12, 16, 5, 1], [32, 56, 56, 64, 3, 1], [64, 28, 28, 128, 3, 2], [64, 56, 56, 128, 1, 1]];
  for (const [c, h, wd, mo, kk, st] of convs) {
    const X = new Tensor('float32', Float32Array.from({ length: c * h * wd }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [1, c, h, wd]);
    const res = [];
    for (const s of [0, 0.5, 0.7, 0.8, 0.9, 0.95]) {
      const w = prunedWeights(mo, c * kk * kk, s);
      const g = new Graph();
      g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, c, h, wd] } }];
      g.initializers.set('W', new Tensor('float32', w, [mo, c, kk, kk]));
      const pad = (kk - 1) >> 1;
      g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['Y'], attrs: { strides: [st, st], pads: [pad, pad, pad, pad], kernel_shape: [kk, kk] } });
      g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
      sparseConfig.enabled = false;
      const dense = new Executor(g);
      sparseConfig.enabled = true;
      sparseConfig.force = true;
      sparseConvConfig.direct = 'always';
      const direct = new Executor(g);
      sparseConvConfig.direct = 'never';
      const im2col = new Executor(g);
      sparseConvConfig.direct = 'auto';
      sparseConfig.force = false;
      const names = [dense, direct, im2col].map((e) => e.kernels.get(g.nodes[0])?.name);
      const t = [];
      for (const e of [dense, direct, im2col]) t.push(await median('conv', () => e.run({ X })));
      for (const e of [dense, direct, im2col]) e.dispose();
      // the plan's pick: direct for stride 1 from SPARSE_DIRECT_CONV on (and never for a plain 1×1), else im2col + CSR
      const planMs = names[1] === 'f32_spconv2d' && st === 1 && s >= SPARSE_DIRECT_CONV ? t[1] : t[2];
      res.push({ s, denseMs: t[0], directMs: t[1], im2colMs: t[2], planMs });
      crows.push({
        conv: `${c}x${h}x${wd} → ${mo}, ${kk}x${kk}/${st}`, sparsity: fmt(s, 2), 'dense WASM': fmt(t[0], 3), [`direct (${names[1]})`]: fmt(t[1], 3),
        'im2col + CSR8': fmt(t[2], 3), 'dense/plan pick': fmt(t[0] / planMs, 2), 'plan picks sparse': s >= SPARSE_MIN_CONV ? 'yes' : 'no',
      });
    }
    let cross = NaN;
    for (let i = res.length - 1; i >= 0 && res[i].planMs < res[i].denseMs; i--) cross = res[i].s;
    ccross.push(cross);
    out.push({ shape: `conv ${c}x${h}x${wd}->${mo} k${kk} s${st}`, conv: res, crossoverConv: cross });
    crows.push({ conv: 'crossover (sparse path the plan picks)', sparsity: Number.isNaN(cross) ? 'none ≤ 0.95' : `≥ ${cross}` });
  }
  table('sparse vs dense f32 Conv, batch 1 (ms, medians)', crows.map((r) => Object.fromEntries(Object.keys(crows[0]).map((c) => [c, r[c] ?? '']))));
  const prows = await pointwiseNchw(mem, out);
  table(NCHW_TITLE, prows);

  const worst = (a) => (a.some(Number.isNaN) ? 'none' : Math.max(...a));
  const summary = { measuredSmallM: worst(cross.small), measuredLargeM: worst(cross.large), measuredInt8: worst(icross), measuredConv: worst(ccross), usedSmallM: SPARSE_MIN_SMALL_M, usedLargeM: SPARSE_MIN_LARGE_M, usedInt8: SPARSE_MIN_INT8, usedConv: SPARSE_MIN_CONV, usedDirectConv: SPARSE_DIRECT_CONV, smallMBelow: SMALL_M };
  if (!process.argv.includes('--json'))
    console.log(
      `crossover (worst over shapes): m < ${SMALL_M}: ${summary.measuredSmallM}, m ≥ ${SMALL_M}: ${summary.measuredLargeM}; ` +
        `conv: ${summary.measuredConv}; int8 vs dense WASM: ${summary.measuredInt8}; src/kernels/sparse.ts uses ${SPARSE_MIN_SMALL_M} / ${SPARSE_MIN_LARGE_M} / conv ${SPARSE_MIN_CONV} (direct from ${SPARSE_DIRECT_CONV}) / int8 ${SPARSE_MIN_INT8}`,
    );
  return { sparse: out, sparseCrossover: summary };
}

/**
 * f32_spmm_nchw_32 alone (no executor copies) on the 1×1 layer shapes of face_detection_full_range_sparse and
 * pose_detection (Cout, Cin, pixels; unstructured 70 % zeros like theirs), ReLU fused: the default channel split
 * (input-channel ranges, output-channel blocks: SPMM_CHUNK …) against one range, same bits.
 */
async function pointwiseNchw(mem, out) {
  const ex = kernels();
  const shapes = quick
    ? [[128, 32, 576], [192, 1152, 196]]
    : [[8, 32, 9216], [32, 8, 9216], [48, 64, 2304], [128, 32, 576], [64, 128, 576], [96, 192, 144], [96, 384, 36], [144, 24, 3136], [672, 112, 196], [192, 1152, 196], [1152, 192, 49], [192, 1152, 49]];
  const rows = [];
  for (const [n, k, p] of shapes) {
    const w = prunedWeights(n, k, 0.7);
    const nnz = w.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
    const bias = Float32Array.from({ length: n }, (_, j) => ((j * 37) % 11) / 11 - 0.5);
    const x = mem.alloc(k * p * 4, 'bench input');
    const y = mem.alloc(n * p * 4, 'bench output');
    mem.f32(x, k * p).set(Float32Array.from({ length: k * p }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5));
    const saved = { ...sparseConvConfig };
    const forms = [];
    for (const whole of [false, true]) {
      if (whole) sparseConvConfig.chunkMin = Infinity;
      const s = new SpmmNchw(mem, w, 0, n, k, bias, 0);
      Object.assign(sparseConvConfig, saved);
      const f = s.first(p);
      const run = () => ex.f32_spmm_nchw_32(p, 0, p, n, x + f, s.wts, s.dmap, s.nnzp, y, 0, Infinity, 0, s.chunks, s.nb);
      const us = 1000 * (await median('spmm-nchw', run));
      run();
      forms.push({ s, us, y: mem.f32(y, n * p).slice() });
    }
    const same = forms[0].y.every((v, i) => Object.is(v, forms[1].y[i]));
    const gf = (us) => fmt((2 * nnz * p) / us / 1e3, 1);
    const [split, one] = forms;
    out.push({ shape: `nchw ${n}x${k}x${p}`, nnz, chunks: split.s.chunks, block: split.s.nb, splitUs: split.us, oneRangeUs: one.us, sameBits: same });
    rows.push({
      'Cout×Cin, pixels': `${n}×${k}, ${p}`, nnz, 'ranges × block': `${split.s.chunks} × ${split.s.nb}`, 'split µs': fmt(split.us, 1), 'split GFLOP/s': gf(split.us),
      'one range µs': fmt(one.us, 1), 'one range GFLOP/s': gf(one.us), 'same bits': same ? 'yes' : 'NO',
    });
    for (const f of forms) f.s.dispose();
    mem.release(y);
    mem.release(x);
  }
  return rows;
}

// standalone: node bench/sparse.bench.js (or with EDGEQ_SRC=1 and --import tsx)
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();
