// Transformers: the shared encoder (1×128 tokens) and one decoder step (one new token after 16 cached) against
// onnxruntime-web (wasm, SIMD, numThreads = 1) in the same process. Runs alternate edgeq / ORT round by round so both
// see the same machine load; the medians and their ratio are printed.
// `--large` adds generated configurations larger than the shared ones (scripts/make-transformer.mjs, written once to
// tmp/transformer, git-ignored): encoder and decoder step at d512/l6/h8 and d768/l12/h12, and decoder steps of
// STEP_PRESETS: d1024/l12/h16 after 256 cached rows, d512/l6 after 512.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor, generate } from '../dist/index.js';
import { args, dataFile, fmt, ort, quick, table } from './common.js';
import { EXTRA_PRESETS, PRESETS, STEP_PRESETS, fileNames, writeTransformers } from '../scripts/make-transformer.mjs';

const large = args.includes('--large');
const extra = args.includes('--extra');
// `--steps`: only the decoder-step rows (one step after a fixed cache, session.run against ORT's run) — no encoders,
// generate or growth rows
const stepsOnly = args.includes('--steps');

function encoderFeeds(T, seq) {
  const ids = BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 7 + 3) % 1000));
  const mask = new BigInt64Array(seq).fill(1n);
  return { input_ids: new T('int64', ids, [1, seq]), attention_mask: new T('int64', mask, [1, seq]) };
}

function decoderFeeds(T, past, layers = 4, heads = 4, hd = 64) {
  const f = { input_ids: new T('int64', BigInt64Array.from([42n]), [1, 1]) };
  for (let i = 0; i < layers; i++)
    for (const kv of ['key', 'value']) f[`past_${kv}_${i}`] = new T('float32', Float32Array.from({ length: heads * past * hd }, (_, j) => Math.sin(j * 0.37 + i) * 0.5), [1, heads, past, hd]);
  return f;
}

/**
 * the generated configurations (written on first use) as MODELS entries with absolute paths: PRESETS (`--large`, plus
 * a 1×256 encoder of the first) and EXTRA_PRESETS (`--extra`: other widths, head counts and encoder variants)
 */
function largeModels(presets = PRESETS, long = true) {
  const dir = join('tmp', 'transformer');
  const missing = presets.filter((c) => !existsSync(join(dir, fileNames(c).encoder)) || !existsSync(join(dir, fileNames(c).decoder)));
  if (missing.length) writeTransformers(dir, missing);
  const seen = new Set();
  return presets.flatMap((c, i) => {
    const { encoder, decoder } = fileNames(c);
    const enc = encoder.replace(/\.onnx$/, '');
    const dec = decoder.replace(/\.onnx$/, '');
    const rows = [{ name: `${enc} (generated), 1×128`, path: join(dir, encoder), feeds: (T) => encoderFeeds(T, 128), rounds: [2, 8] }];
    if (long && i === 0) rows.push({ name: `${enc} (generated), 1×256`, path: join(dir, encoder), feeds: (T) => encoderFeeds(T, 256), rounds: [2, 6] });
    if (!seen.has(dec)) rows.push({ name: `${dec} (generated) step (past 64)`, path: join(dir, decoder), feeds: (T) => decoderFeeds(T, 64, c.layers, c.heads, c.d / c.heads), rounds: [5, 30] });
    seen.add(dec);
    return rows;
  });
}

/** STEP_PRESETS as MODELS entries: one decoder step after `past` cached rows (decoders written on first use). */
function stepModels() {
  const dir = join('tmp', 'transformer');
  const missing = STEP_PRESETS.filter((c) => !existsSync(join(dir, fileNames(c).decoder)));
  if (missing.length) writeTransformers(dir, missing, 'decoder');
  return STEP_PRESETS.map((c) => ({
    name: `${fileNames(c).decoder.replace(/\.onnx$/, '')} (generated) step (past ${c.past})`,
    path: join(dir, fileNames(c).decoder),
    feeds: (T) => decoderFeeds(T, c.past, c.layers, c.heads, c.d / c.heads),
    rounds: [3, 20],
  }));
}

/**
 * alternating() with process CPU time beside wall time: on a loaded machine the wall medians carry the other processes'
 * time slices, the per-run CPU-time minima do not (both engines run on this thread; CPU time includes GC threads).
 */
async function alternatingCpu(a, feedsA, b, feedsB, rounds) {
  await a.run(feedsA);
  await b.run(feedsB);
  const w = [[], []];
  const c = [[], []];
  for (let r = 0; r < rounds; r++) {
    for (const [i, s, f] of r & 1 ? [[1, b, feedsB], [0, a, feedsA]] : [[0, a, feedsA], [1, b, feedsB]]) {
      const c0 = process.cpuUsage();
      const t = performance.now();
      await s.run(f);
      w[i].push(performance.now() - t);
      const u = process.cpuUsage(c0);
      c[i].push((u.user + u.system) / 1e3);
    }
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  return { e: med(w[0]), o: med(w[1]), ce: Math.min(...c[0]), co: Math.min(...c[1]) };
}

/**
 * Greedy generation of `n` tokens after a `prompt`-token prompt: edgeq's generate() (prompt plan + one step plan, cache
 * resident in kernel memory) against the same loop on onnxruntime-web (present_* fed back as past_*), alternating
 * round by round. Returns the medians of ms per token after the first, and the tokens (they must agree).
 */
async function generation(bytes, prompt, n, rounds) {
  const sess = await InferenceSession.create(bytes);
  const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const cache = osess.inputNames.filter((x) => /past/.test(x)).map((x) => [x, x.replace('past', 'present')]);
  const dims = sess.inputMetadata.find((i) => /past/.test(i.name)).shape;
  const ids = Array.from({ length: prompt }, (_, i) => (i * 37 + 11) % 256);
  const ours = async () => {
    const toks = [];
    let t1 = 0;
    const t0 = performance.now();
    for await (const id of generate(sess, { ids, maxTokens: n })) {
      if (!toks.length) t1 = performance.now();
      toks.push(id);
    }
    return { ms: (performance.now() - t1) / (n - 1), toks, total: performance.now() - t0 };
  };
  const theirs = async () => {
    const toks = [];
    let t1 = 0;
    let step = ids;
    let past = Object.fromEntries(cache.map(([p]) => [p, new ort.Tensor('float32', new Float32Array(0), [1, dims[1], 0, dims[3]])]));
    for (let k = 0; k < n; k++) {
      const r = await osess.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(step, BigInt), [1, step.length]), ...past });
      const row = r.logits.data.subarray(r.logits.data.length - r.logits.dims.at(-1));
      let best = 0;
      for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
      if (!toks.length) t1 = performance.now();
      toks.push(best);
      past = Object.fromEntries(cache.map(([p, q]) => [p, r[q]]));
      step = [best];
    }
    return { ms: (performance.now() - t1) / (n - 1), toks };
  };
  await ours();
  await theirs();
  const a = [];
  const b = [];
  let same = true;
  for (let r = 0; r < rounds; r++) {
    const x = await ours();
    const y = await theirs();
    a.push(x.ms);
    b.push(y.ms);
    same &&= x.toks.join() === y.toks.join();
  }
  await sess.release();
  await osess.release();
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  return { e: med(a), o: med(b), same };
}

/**
 * Step time as the cache grows: greedy generation of `n` tokens after an 8-token prompt by edgeq's append path (cache in
 * capacity blocks, new rows written in place), its copying path (cache: 'resident': Concat(past, new) into a fresh
 * block every step) and onnxruntime-web (present fed back as past), advanced one token at a time in turn (rotating
 * the order) so the three see the same machine load at every cache length. Per window of 32 steps, early (cache
 * ≈ 9–40) and late (≈ n−24 … n+7): the median step time of each, and the median of the per-step edgeq/ORT ratios.
 */
async function growth(bytes, n, rounds) {
  const sess = await InferenceSession.create(bytes);
  const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const cache = osess.inputNames.filter((x) => /past/.test(x)).map((x) => [x, x.replace('past', 'present')]);
  const dims = sess.inputMetadata.find((i) => /past/.test(i.name)).shape;
  const ids = Array.from({ length: 8 }, (_, i) => (i * 37 + 11) % 256);
  const ortSteps = () => {
    let step = ids;
    let past = Object.fromEntries(cache.map(([p]) => [p, new ort.Tensor('float32', new Float32Array(0), [1, dims[1], 0, dims[3]])]));
    return async () => {
      const r = await osess.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(step, BigInt), [1, step.length]), ...past });
      const row = r.logits.data.subarray(r.logits.data.length - r.logits.dims.at(-1));
      let best = 0;
      for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
      past = Object.fromEntries(cache.map(([p, q]) => [p, r[q]]));
      step = [best];
      return best;
    };
  };
  const modes = ['append', 'resident', 'ort'];
  const t = Object.fromEntries(modes.map((m) => [m, []]));
  let same = true;
  for (let r = -1; r < rounds; r++) {
    const a = generate(sess, { ids, maxTokens: n, cache: 'append' });
    const c = generate(sess, { ids, maxTokens: n, cache: 'resident' });
    const o = ortSteps();
    const next = { append: async () => (await a.next()).value, resident: async () => (await c.next()).value, ort: o };
    for (let k = 0; k < n; k++) {
      const got = {};
      for (let j = 0; j < 3; j++) {
        const m = modes[(k + j) % 3];
        const t0 = performance.now();
        got[m] = await next[m]();
        if (r >= 0) (t[m][k] ??= []).push(performance.now() - t0);
      }
      same &&= got.append === got.ort && got.resident === got.ort;
    }
    await a.return();
    await c.return();
  }
  await sess.release();
  await osess.release();
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  const steps = (a, b) => [...Array(b - a).keys()].map((i) => a + i);
  const win = { early: steps(1, 33), late: steps(n - 32, n) };
  const res = { same };
  for (const [w, ks] of Object.entries(win)) {
    res[w] = {};
    for (const m of modes) res[w][m] = med(ks.flatMap((k) => t[m][k]));
    for (const m of ['append', 'resident']) res[w][`${m}Ratio`] = med(ks.flatMap((k) => t[m][k].map((x, i) => x / t.ort[k][i])));
  }
  return res;
}

const GROWTH = [{ name: 'decoder_kv_d256_l4', file: 'transformer/decoder_kv_d256_l4.onnx', tokens: [128, 480], rounds: [1, 3] }];

const GENERATE = [
  { name: 'decoder_kv_d256_l4 generate (ms/token, prompt 8)', file: 'transformer/decoder_kv_d256_l4.onnx', prompt: 8, tokens: [16, 64], rounds: [1, 3] },
];

const MODELS = [
  { name: 'encoder_d256_l4, 1×128', file: 'transformer/encoder_d256_l4.onnx', feeds: (T) => encoderFeeds(T, 128), rounds: [3, 15] },
  { name: 'decoder_kv_d256_l4 step (past 16)', file: 'transformer/decoder_kv_d256_l4.onnx', feeds: (T) => decoderFeeds(T, 16), rounds: [10, 60] },
];

export async function run() {
  const rows = [];
  const out = [];
  const models = [...MODELS, ...(large ? [...largeModels(), ...stepModels()] : []), ...(extra ? largeModels(EXTRA_PRESETS, false) : [])];
  for (const m of stepsOnly ? models.filter((x) => / step /.test(x.name)) : models) {
    const path = m.path ?? dataFile(m.file);
    if (!path) {
      rows.push({ model: m.name, 'edgeq ms': 'skipped (no ../shared data)', 'ORT-web ms': '', 'edgeq/ORT': '' });
      continue;
    }
    const bytes = new Uint8Array(readFileSync(path));
    const sess = await InferenceSession.create(bytes);
    const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    // the unmasked encoder variants have no attention_mask input
    const pick = (f) => Object.fromEntries(Object.entries(f).filter(([k]) => osess.inputNames.includes(k)));
    const feeds = pick(m.feeds(Tensor));
    const ofeeds = pick(m.feeds(ort.Tensor));
    const { e, o, ce, co } = await alternatingCpu(sess, feeds, osess, ofeeds, quick ? m.rounds[0] : m.rounds[1]);
    out.push({ model: m.name, edgeqMs: e, ortMs: o, ratio: e / o, cpuRatio: ce / co });
    rows.push({ model: m.name, 'edgeq ms': fmt(e), 'ORT-web ms': fmt(o), 'edgeq/ORT': fmt(e / o), 'CPU-time edgeq/ORT': fmt(ce / co) });
    await sess.release();
    await osess.release();
  }
  const gens = [...GENERATE, ...(large ? PRESETS.map((c) => ({ name: `decoder_kv_d${c.d}_l${c.layers} (generated) generate (ms/token, prompt 8)`, path: join('tmp', 'transformer', `decoder_kv_d${c.d}_l${c.layers}.onnx`), prompt: 8, tokens: [16, 48], rounds: [1, 2] })) : [])];
  for (const g of stepsOnly ? [] : gens) {
    const path = g.path ?? dataFile(g.file);
    if (!path) continue;
    const n = quick ? g.tokens[0] : g.tokens[1];
    const { e, o, same } = await generation(new Uint8Array(readFileSync(path)), g.prompt, n, quick ? g.rounds[0] : g.rounds[1]);
    const name = `${g.name.replace(' generate (', ` generate ${n} (`)}${same ? '' : ' (tokens differ!)'}`;
    out.push({ model: name, edgeqMs: e, ortMs: o, ratio: e / o });
    rows.push({ model: name, 'edgeq ms': fmt(e), 'ORT-web ms': fmt(o), 'edgeq/ORT': fmt(e / o), 'CPU-time edgeq/ORT': '' });
  }
  const grows = [...GROWTH, ...(large ? PRESETS.slice(0, 1).map((c) => ({ name: `decoder_kv_d${c.d}_l${c.layers} (generated)`, path: join('tmp', 'transformer', `decoder_kv_d${c.d}_l${c.layers}.onnx`), tokens: [96, 320], rounds: [1, 2] })) : [])];
  for (const g of stepsOnly ? [] : grows) {
    const path = g.path ?? dataFile(g.file);
    if (!path) continue;
    const n = quick ? g.tokens[0] : g.tokens[1];
    const r = await growth(new Uint8Array(readFileSync(path)), n, quick ? g.rounds[0] : g.rounds[1]);
    for (const [w, at] of [['early', 'cache 9–40'], ['late', `cache ${n - 24}–${n + 7}`]])
      for (const mode of ['append', 'resident']) {
        const name = `${g.name} step, ${at}, ${mode === 'append' ? 'append in place' : 'copying Concat'}${r.same ? '' : ' (tokens differ!)'}`;
        const x = r[w];
        out.push({ model: name, edgeqMs: x[mode], ortMs: x.ort, ratio: x[`${mode}Ratio`] });
        rows.push({ model: name, 'edgeq ms': fmt(x[mode]), 'ORT-web ms': fmt(x.ort), 'edgeq/ORT': fmt(x[`${mode}Ratio`]), 'CPU-time edgeq/ORT': '' });
      }
  }
  table('Transformers, one thread, alternating runs (lower edgeq/ORT is better)', rows);
  return { transformers: out };
}
