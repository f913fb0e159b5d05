// Quantized transformers: one linear layer (M = 1 decoder step, M = 128 tokens), a generated d512 × 6-layer encoder
// (full mode) and the shared encoder (1×128 tokens) as fp32, dynamic int8 (DynamicQuantizeLinear + MatMulInteger,
// fused by edgeq into DynamicQuantizeMatMul) and weight-only int4 / int8 (com.microsoft MatMulNBits, block 32,
// accuracy_level 4), each in edgeq and in onnxruntime-web (wasm, SIMD, numThreads = 1) in the same process.
// Prints medians, file sizes, edgeq/ORT per variant and every variant's speed relative to edgeq fp32.
import { readFileSync } from 'node:fs';
import { Graph, InferenceSession, Tensor, readOnnx, writeOnnx, quantize } from '../dist/index.js';
import { foldWeightChains } from '../dist/quant/index.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { alternating, args, dataFile, fmt, ort, quick, table } from './common.js';
import { encoderGraph } from './transformer-gen.js';
import { PRESETS, fileNames, writeTransformers } from '../scripts/make-transformer.mjs';

const large = args.includes('--large');

function encoderFeeds(T, seq) {
  const ids = BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 7 + 3) % 1000));
  const mask = new BigInt64Array(seq).fill(1n);
  return { input_ids: new T('int64', ids, [1, seq]), attention_mask: new T('int64', mask, [1, seq]) };
}

const VARIANTS = [
  { name: 'fp32', opts: undefined },
  // the quantizers fold weights behind Identity / Transpose first; this isolates that effect
  { name: 'fp32, weights folded', opts: 'fold' },
  { name: 'dynamic int8', opts: { mode: 'dynamic' } },
  { name: 'MatMulNBits int8', opts: { mode: 'weight-only', weightBits: 8 } },
  { name: 'MatMulNBits int4', opts: { mode: 'weight-only', weightBits: 4 } },
];

/** x [M, K] · W [K, N] + b: one transformer linear layer (seeded random weights). */
function linearGraph(M, K, N) {
  let s = M * 7919 + K * 31 + N;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'x', type: { dtype: 'float32', shape: [M, K] } });
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: K * N }, () => r() / Math.sqrt(K)), [K, N]));
  g.initializers.set('b', new Tensor('float32', Float32Array.from({ length: N }, r), [N]));
  g.nodes.push({ name: 'mm', op: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['h'], attrs: {} });
  g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: ['h', 'b'], outputs: ['y'], attrs: {} });
  g.outputs.push({ name: 'y', type: { dtype: 'float32' } });
  return { g, x: Float32Array.from({ length: M * K }, r) };
}

const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

/**
 * Runs before timing: V8 runs a WebAssembly function in its baseline tier (Liftoff) until the optimizing tier's code
 * is ready, which a long call does not wait for (no on-stack replacement) — onnxruntime-web's GEMM took ~6 runs of a
 * 128×768×768 layer to get there (10 → 2.5 ms), so quick mode's one warm-up run timed tier-up, not the kernels.
 */
const WARMUP = 6;
async function warmUp(session, feeds) {
  for (let i = 0; i < WARMUP; i++) await session.run(feeds);
}

/**
 * `g` as fp32, dynamic int8 and int4 MatMulNBits (accuracy_level 4), each in edgeq and onnxruntime-web; all six
 * sessions run round-robin in every round (so machine load drifts over all of them alike). Per variant: median ms
 * (of `reps` runs per round), file bytes and the ratios.
 */
async function variantsRoundRobin(g, feeds, rounds, reps, check) {
  const variants = [
    ['fp32', writeOnnx(g)],
    ['dynamic int8', writeOnnx((await quantize(g, { mode: 'dynamic' })).graph)],
    ['int4 MatMulNBits', writeOnnx((await quantize(g, { mode: 'weight-only', weightBits: 4 })).graph)],
  ];
  const sess = [];
  for (const [name, bytes] of variants) {
    sess.push({ name, kind: 'edgeq', s: await InferenceSession.create(bytes), feeds: feeds(Tensor), t: [] });
    sess.push({ name, kind: 'ort', s: await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] }), feeds: feeds(ort.Tensor), t: [] });
  }
  for (const z of sess) await warmUp(z.s, z.feeds);
  for (let round = 0; round < rounds; round++)
    for (const z of sess) {
      const t = performance.now();
      for (let i = 0; i < reps; i++) await z.s.run(z.feeds);
      z.t.push((performance.now() - t) / reps);
    }
  const ms = (name, kind) => med(sess.find((z) => z.name === name && z.kind === kind).t);
  const f32 = ms('fp32', 'edgeq');
  const res = variants.map(([variant, bytes]) => {
    const e = ms(variant, 'edgeq');
    const o = ms(variant, 'ort');
    return { variant, bytes: bytes.length, file: `${((bytes.length / variants[0][1].length) * 100).toFixed(1)} %`, edgeqMs: e, ortMs: o, vsFp32: e / f32 };
  });
  for (const z of sess) await z.s.release();
  if (check) for (let i = 0; i < res.length; i++) res[i].check = await check(res[i].variant, variants[i][1]);
  return res;
}

const row = (r, d = 2) => ({ variant: r.variant, file: r.file, 'edgeq ms': fmt(r.edgeqMs, d), 'ORT-web ms': fmt(r.ortMs, d), 'edgeq/ORT': fmt(r.edgeqMs / r.ortMs), 'edgeq / edgeq fp32': fmt(r.vsFp32) });

/** One linear layer: M = 1 (a decoder step, memory-bound) and M = 128 (an encoder pass). */
async function linearLayers() {
  const shapes = quick ? [[1, 768, 768], [128, 768, 768]] : [[1, 768, 768], [1, 768, 3072], [1, 3072, 768], [128, 768, 768], [128, 768, 3072], [128, 3072, 768]];
  const rows = [];
  const out = [];
  for (const [M, K, N] of shapes) {
    const { g, x } = linearGraph(M, K, N);
    const res = await variantsRoundRobin(g, (T) => ({ x: new T('float32', x, [M, K]) }), quick ? 3 : 25, M === 1 ? 20 : quick ? 1 : 2);
    for (const r of res) {
      out.push({ M, K, N, ...r });
      rows.push({ 'M×K×N': `${M}×${K}×${N}`, ...row(r, 3) });
    }
  }
  table('Quantized linear layer x·W + b, one thread, all variants round-robin (lower is better)', rows);
  return out;
}

/**
 * A generated encoder larger than the shared one (d_model 512, 6 layers, 8 heads, FFN 2048, 128 tokens; seeded random
 * weights, bench/transformer-gen.js). Full mode only.
 */
async function generatedEncoder() {
  if (quick) return [];
  const seq = 128;
  const ids = BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 7 + 3) % 1000));
  const res = await variantsRoundRobin(encoderGraph({ d: 512, layers: 6, heads: 8, seq }), (T) => ({ input_ids: new T('int64', ids, [seq]) }), 5, 1);
  table('Generated encoder d512 L6 (FFN 2048), 128 tokens, one thread, round-robin (lower is better)', res.map((r) => row(r)));
  return res;
}

function decoderFeeds(T, past, layers, heads, hd) {
  const f = { input_ids: new T('int64', BigInt64Array.from([42n]), [1, 1]) };
  for (let i = 0; i < layers; i++)
    for (const kv of ['key', 'value']) f[`past_${kv}_${i}`] = new T('float32', Float32Array.from({ length: heads * past * hd }, (_, j) => Math.sin(j * 0.37 + i) * 0.5), [1, heads, past, hd]);
  return f;
}

/** cosine similarity and max |Δ| of two float arrays */
function agree(a, b) {
  let ab = 0, aa = 0, bb = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return { cos: ab / Math.sqrt(aa * bb), max: m };
}

/**
 * `--large`: the issue's quantization "done when" figures on the generated configurations (scripts/make-transformer.mjs,
 * tmp/transformer): per model (encoder 1×128, decoder step after 64 cached) and variant (fp32, dynamic int8, int4
 * MatMulNBits block 32): file size vs fp32; cosine and max |Δ| of the first output (encoder hidden state / logits) vs
 * edgeq fp32; max |Δ| of edgeq vs onnxruntime-node on the same quantized file (it loads there); edgeq ms vs edgeq fp32
 * and vs onnxruntime-web (the three variants' six sessions round-robin in every round).
 */
async function largeQuant() {
  const dir = join('tmp', 'transformer');
  const missing = PRESETS.filter((c) => !existsSync(join(dir, fileNames(c).encoder)) || !existsSync(join(dir, fileNames(c).decoder)));
  if (missing.length) writeTransformers(dir, missing);
  const ortNode = await import('onnxruntime-node');
  const rows = [];
  const out = [];
  for (const c of PRESETS) {
    const { encoder, decoder } = fileNames(c);
    const models = [
      { name: `${encoder.replace(/\.onnx$/, '')}, 1×128`, path: join(dir, encoder), feeds: (T) => encoderFeeds(T, 128), rounds: 5, reps: 1 },
      { name: `${decoder.replace(/\.onnx$/, '')} step (past 64)`, path: join(dir, decoder), feeds: (T) => decoderFeeds(T, 64, c.layers, c.heads, c.d / c.heads), rounds: 15, reps: 3 },
    ];
    for (const m of models) {
      const g = readOnnx(new Uint8Array(readFileSync(m.path)));
      const first = g.outputs[0].name;
      const outOf = async (bytes) => {
        const s = await InferenceSession.create(bytes);
        const y = (await s.run(m.feeds(Tensor)))[first].data;
        await s.release();
        return y;
      };
      const f32 = await outOf(new Uint8Array(readFileSync(m.path)));
      const res = await variantsRoundRobin(g, m.feeds, m.rounds, m.reps, async (name, bytes) => {
        const ours = await outOf(bytes);
        const ns = await ortNode.InferenceSession.create(bytes);
        const theirs = (await ns.run(m.feeds(ortNode.Tensor)))[first].data;
        await ns.release();
        return { vsFp32: agree(f32, ours), vsOrtNode: agree(theirs, ours) };
      });
      for (const r of res) {
        out.push({ model: m.name, ...r });
        rows.push({ model: m.name, ...row(r), 'cosine vs fp32': r.check.vsFp32.cos.toFixed(5), 'max |Δ| vs fp32': r.check.vsFp32.max.toPrecision(3), 'max |Δ| vs ORT-node': r.check.vsOrtNode.max.toPrecision(3) });
      }
    }
  }
  table('Quantized generated transformers (--large): file, agreement, speed; one thread, round-robin (lower is better)', rows);
  return out;
}

export async function run() {
  if (large) return { transformerQuantLarge: await largeQuant() };
  const linear = await linearLayers();
  const generated = await generatedEncoder();
  const path = dataFile('transformer/encoder_d256_l4.onnx');
  if (!path) {
    table('Quantized transformer', [{ variant: 'skipped (no ../shared data)' }]);
    return { transformerQuant: [], transformerQuantLinear: linear, transformerQuantGenerated: generated };
  }
  const src = new Uint8Array(readFileSync(path));
  const g = readOnnx(src);
  const rows = [];
  const out = [];
  let fp32Ms;
  for (const v of VARIANTS) {
    let bytes = src;
    if (v.opts === 'fold') {
      const f = g.clone();
      f.nodes = f.nodes.map((n) => ({ ...n, inputs: [...n.inputs] }));
      foldWeightChains(f);
      bytes = writeOnnx(f);
    } else if (v.opts) bytes = writeOnnx((await quantize(g, v.opts)).graph);
    const sess = await InferenceSession.create(bytes);
    const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const feeds = encoderFeeds(Tensor, 128);
    const ofeeds = encoderFeeds(ort.Tensor, 128);
    await warmUp(sess, feeds);
    await warmUp(osess, ofeeds);
    const [e, o] = await alternating(sess, feeds, osess, ofeeds, quick ? 3 : 15);
    fp32Ms ??= e;
    out.push({ variant: v.name, bytes: bytes.length, edgeqMs: e, ortMs: o, ratio: e / o, vsFp32: e / fp32Ms });
    rows.push({ variant: v.name, file: `${(bytes.length / src.length * 100).toFixed(1)} %`, 'edgeq ms': fmt(e), 'ORT-web ms': fmt(o), 'edgeq/ORT': fmt(e / o), 'edgeq / edgeq fp32': fmt(e / fp32Ms) });
    await sess.release();
    await osess.release();
  }
  table('Quantized encoder_d256_l4, 1×128, one thread, alternating runs (lower is better)', rows);
  return { transformerQuant: out, transformerQuantLinear: linear, transformerQuantGenerated: generated };
}
