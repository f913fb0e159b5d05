import { EdgeqError, InputError } from '../errors.js';
import { CAPACITY, PAST_LEN, TOTAL_LEN, type KvPair, kvAppendGraph } from '../ir/passes/kv-append.js';
import { type Arena, arena } from '../kernels/wasm.js';
import { Tensor } from '../tensor/tensor.js';
import { mulberry32 } from '../ops/nn-misc.js';
import type { InferenceSession } from './session.js';
import type { Specializations } from './specialize.js';

/**
 * Autoregressive generation with a KV cache for decoders exported with explicit cache inputs and outputs
 * (`past_key_i`/`past_value_i` in, `present_key_i`/`present_value_i` out, as the shared decoder and HF-style
 * `past_key_values.i.key` → `present.i.key` exports have): the prompt runs once, then one token per step, each step
 * feeding the previous step's present_* as past_*.
 *
 * With `cache: 'append'` (default) each cache lives in one block of kernel memory with room for the prompt and every
 * generated token ([B, H, capacity, D]); the step graph is rewritten (ir/passes/kv-append.ts) so that Concat(past, new)
 * writes only the new rows into it and the attention MatMuls read the rows in use with the block's head stride — the
 * past is never copied. Decoders whose cache wiring does not match that rewrite use `'resident'`: the present_* tensors
 * stay in kernel memory and are fed back in place, but the Concat kernel writes the grown cache into a fresh block every
 * step. `cache: 'plain'` round-trips them through JS tensors like any session.run. All three give identical tokens
 * (tested).
 */
export interface GenerateOptions {
  /** prompt token ids (at least one) */
  ids: readonly number[];
  /** tokens to generate (default 32) */
  maxTokens?: number;
  /** ≤ 0 or undefined: greedy (argmax); else sample from softmax(logits / temperature) */
  temperature?: number;
  /** sample among the k most likely tokens only (with temperature > 0) */
  topK?: number;
  /** seed of the sampler (default 0) */
  seed?: number;
  /** stop after emitting one of these ids */
  stopIds?: readonly number[];
  cache?: 'append' | 'resident' | 'plain';
}

/** The cache inputs/outputs of a KV decoder. */
export interface DecoderIo {
  ids: string;
  logits: string;
  /** past input → present output, with the input's declared dims (the past axis symbolic) */
  cache: { past: string; present: string; dims: (number | string)[] }[];
  attentionMask?: string;
  positionIds?: string;
}

/** Find a decoder's cache wiring; InputError naming what is missing when `session` is not such a decoder. */
export function decoderIo(session: InferenceSession): DecoderIo {
  const ins = session.inputMetadata;
  const outs = new Set(session.outputNames);
  const ids = ins.find((i) => i.name === 'input_ids') ?? ins.find((i) => i.type === 'int64' && !/past|mask|position/.test(i.name));
  if (!ids) throw new InputError(`generate: no token-id input (int64 'input_ids') among ${session.inputNames.join(', ')}`);
  const logits = session.outputNames.find((o) => o === 'logits') ?? session.outputNames.find((o) => !/present/.test(o));
  if (!logits) throw new InputError('generate: no logits output');
  const cache: DecoderIo['cache'] = [];
  for (const i of ins) {
    if (!/past/.test(i.name)) continue;
    const present = [i.name.replace('past_key_values', 'present'), i.name.replace('past', 'present')].find((o) => outs.has(o));
    if (!present) throw new InputError(`generate: cache input '${i.name}' has no matching present output`);
    if (i.type !== 'float32') throw new InputError(`generate: cache input '${i.name}' is ${i.type}, expected float32`);
    cache.push({ past: i.name, present, dims: [...i.shape] });
  }
  if (!cache.length) throw new InputError(`generate: '${[...session.inputNames].join(', ')}' has no past_* cache inputs (a decoder exported with its KV cache is needed)`);
  const attentionMask = ins.find((i) => i.name === 'attention_mask')?.name;
  const positionIds = ins.find((i) => i.name === 'position_ids')?.name;
  return { ids: ids.name, logits, cache, ...(attentionMask ? { attentionMask } : {}), ...(positionIds ? { positionIds } : {}) };
}

/** Next token from one row of logits: argmax (first maximum) when greedy, else top-k / temperature sampling. */
export function pickToken(row: Float32Array, temperature: number | undefined, topK: number | undefined, rand: () => number): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  if (!temperature || temperature <= 0) return best;
  let idx = [...row.keys()];
  if (topK && topK > 0 && topK < row.length) idx = idx.sort((a, b) => row[b]! - row[a]! || a - b).slice(0, topK);
  const mx = row[best]!;
  const w = idx.map((i) => Math.exp((row[i]! - mx) / temperature));
  let r = rand() * w.reduce((a, b) => a + b, 0);
  for (let j = 0; j < idx.length; j++) {
    r -= w[j]!;
    if (r < 0) return idx[j]!;
  }
  return idx[idx.length - 1]!;
}

const NONE: ReadonlySet<string> = new Set();

/** A step's token ids, and its attention mask / position ids when the decoder takes them. */
function stepFeeds(io: DecoderIo, step: readonly number[], pastLen: number): Record<string, Tensor> {
  const total = pastLen + step.length;
  const feeds: Record<string, Tensor> = { [io.ids]: new Tensor('int64', BigInt64Array.from(step, BigInt), [1, step.length]) };
  if (io.attentionMask) feeds[io.attentionMask] = new Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]);
  if (io.positionIds) feeds[io.positionIds] = new Tensor('int64', BigInt64Array.from(step, (_, j) => BigInt(pastLen + j)), [1, step.length]);
  return feeds;
}

/** The last row of the logits. */
function lastRow(logits: Tensor): Float32Array {
  return (logits.data as Float32Array).subarray(logits.size - logits.dims.at(-1)!);
}

/**
 * generate() over any step runner — a PipelineSession of a decoder split into parts (`(f) => pipe.run(f)`: each step
 * streams through the workers), a remote session — with the cache round-tripping as plain tensors (present_* fed back
 * as past_*, as `cache: 'plain'`). `io` is the whole decoder's wiring: decoderIo() of a session of the unsplit model.
 */
export async function* generateWith(run: (feeds: Record<string, Tensor>) => Promise<Record<string, Tensor>>, io: DecoderIo, opts: GenerateOptions): AsyncGenerator<number, void, undefined> {
  if (!opts.ids.length) throw new InputError('generate: the prompt has no tokens');
  const maxTokens = opts.maxTokens ?? 32;
  const rand = mulberry32(opts.seed ?? 0);
  let past: Tensor[] = io.cache.map((c) => {
    const dims = c.dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 0));
    return new Tensor('float32', new Float32Array(0), dims);
  });
  let pastLen = 0;
  let step: number[] = [...opts.ids];
  for (let n = 0; n < maxTokens; n++) {
    const feeds = stepFeeds(io, step, pastLen);
    io.cache.forEach((c, i) => (feeds[c.past] = past[i]!));
    const out = await run(feeds);
    const logits = out[io.logits];
    if (!logits) throw new InputError(`generate: the runner returned no '${io.logits}'`);
    past = io.cache.map((c) => {
      const t = out[c.present];
      if (!t) throw new InputError(`generate: the runner returned no '${c.present}'`);
      return t;
    });
    pastLen += step.length;
    const id = pickToken(lastRow(logits), opts.temperature, opts.topK, rand);
    yield id;
    if (opts.stopIds?.includes(id)) return;
    step = [id];
  }
}
const KEEP_CAPACITY: ReadonlySet<string> = new Set([CAPACITY]);

/** The session's KV-append plans (see GenerateOptions.cache), or undefined when its graph does not fit the rewrite. */
function appendPlans(session: InferenceSession, io: DecoderIo): { specs: Specializations; pairs: KvPair[] } | undefined {
  const pairs: KvPair[] = [];
  for (const c of io.cache) {
    const [, h, , d] = c.dims;
    if (c.dims.length !== 4 || typeof h !== 'number' || typeof d !== 'number') return undefined;
    pairs.push({ past: c.past, present: c.present, bhd: [1, h, d] });
  }
  const specs = session.derivedPlans('kv-append', (g) => {
    const r = kvAppendGraph(g, pairs);
    return typeof r === 'string' ? undefined : r;
  });
  return specs && { specs, pairs };
}

/** generate() with the cache in capacity blocks (cache: 'append'). */
async function* generateAppend(io: DecoderIo, kv: { specs: Specializations; pairs: KvPair[] }, mem: Arena, opts: GenerateOptions): AsyncGenerator<number, void, undefined> {
  const maxTokens = opts.maxTokens ?? 32;
  const rand = mulberry32(opts.seed ?? 0);
  // every token but the last generated one is fed back: prompt + maxTokens − 1 rows (at least one)
  const cap = Math.max(1, opts.ids.length + maxTokens - 1);
  const dims = kv.pairs.map((p) => [1, p.bhd[1], cap, p.bhd[2]]);
  const sizes = dims.map((d) => d.reduce((a, x) => a * x, 1));
  const blocks: number[] = [];
  try {
    for (const n of sizes) {
      const p = mem.alloc(n * 4, 'KV cache');
      blocks.push(p);
      mem.f32(p, n).fill(0);
    }
    let pastLen = 0;
    let step: number[] = [...opts.ids];
    for (let n = 0; n < maxTokens; n++) {
      const total = pastLen + step.length;
      const feeds = stepFeeds(io, step, pastLen);
      feeds[PAST_LEN] = new Tensor('int64', BigInt64Array.of(BigInt(pastLen)), [1]);
      feeds[TOTAL_LEN] = new Tensor('int64', BigInt64Array.of(BigInt(total)), [1]);
      const views = () => io.cache.forEach((c, i) => (feeds[c.past] = new Tensor('float32', mem.f32(blocks[i]!, sizes[i]!), dims[i]!)));
      views();
      const exec = kv.specs.get(feeds, KEEP_CAPACITY);
      views(); // making a plan packs weights and may grow (so detach) the memory the views point into
      const out = exec.run(feeds, [io.logits]) as Record<string, Tensor>;
      // a KvAppend on the reference wrote a copy, not the cache: never expected (the blocks are in kernel memory)
      for (const node of exec.fallbacks.keys()) if (node.op === 'KvAppend' || node.op === 'KvAppendAttention') throw new EdgeqError(`generate: KV append '${node.name}' did not run in place (${exec.fallbacks.get(node)})`);
      pastLen = total;
      const id = pickToken(lastRow(out[io.logits]!), opts.temperature, opts.topK, rand);
      yield id;
      if (opts.stopIds?.includes(id)) return;
      step = [id];
    }
  } finally {
    for (const p of blocks) mem.release(p);
  }
}

/** Generate tokens one at a time (see GenerateOptions); the session must stay alive while iterating. */
export async function* generate(session: InferenceSession, opts: GenerateOptions): AsyncGenerator<number, void, undefined> {
  const io = decoderIo(session);
  if (!opts.ids.length) throw new InputError('generate: the prompt has no tokens');
  const mode = opts.cache ?? 'append';
  const kv = mode === 'append' && arena() ? appendPlans(session, io) : undefined;
  if (kv) {
    yield* generateAppend(io, kv, arena()!, opts);
    return;
  }
  const maxTokens = opts.maxTokens ?? 32;
  const rand = mulberry32(opts.seed ?? 0);
  const resident = mode !== 'plain';
  // one plan for the prompt, one for every later step: its dims are concrete (seq = 1, the batch) except the cache
  // length, which stays symbolic — the shape arithmetic that depends on seq folds, and no plan is made per length
  const idsDims = new Set(session.inputMetadata.find((i) => i.name === io.ids)?.shape.filter((d) => typeof d === 'string'));
  const grows = new Set(io.cache.flatMap((c) => c.dims.filter((d): d is string => typeof d === 'string' && !idsDims.has(d))));
  const mem = resident ? arena() : undefined;
  const fetch = [io.logits, ...io.cache.map((c) => c.present)];
  const keep = mem ? new Set(io.cache.map((c) => c.present)) : undefined;
  // the cache between steps: JS tensors (plain) or blocks in kernel memory, as pointer + dims (views are re-made each
  // step: another session's allocation may have grown, and so detached, the memory in between)
  let past: { ptr?: number; t?: Tensor; dims: number[] }[] = io.cache.map((c) => ({ dims: c.dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 0)) }));
  let pastLen = 0;
  let step: number[] = [...opts.ids];
  const free = () => {
    for (const p of past) if (p.ptr !== undefined) mem!.release(p.ptr);
  };
  try {
    for (let n = 0; n < maxTokens; n++) {
      const feeds = stepFeeds(io, step, pastLen);
      io.cache.forEach((c, i) => {
        const p = past[i]!;
        const size = p.dims.reduce((a, d) => a * d, 1);
        feeds[c.past] = p.t ?? new Tensor('float32', p.ptr !== undefined ? mem!.f32(p.ptr, size) : new Float32Array(size), p.dims);
      });
      const exec = session.executorFor(feeds, n > 0 ? grows : NONE);
      // making a plan packs weights and may grow (so detach) the memory the cache views point into: view it again
      if (mem) io.cache.forEach((c, i) => {
        const p = past[i]!;
        if (p.ptr !== undefined) feeds[c.past] = new Tensor('float32', mem.f32(p.ptr, p.dims.reduce((a, d) => a * d, 1)), p.dims);
      });
      const out = exec.run(feeds, fetch, keep) as Record<string, Tensor>;
      const row = lastRow(out[io.logits]!);
      free();
      past = io.cache.map((c) => {
        const t = out[c.present]!;
        const p = mem ? arena()!.ptrOf(t) : undefined;
        return p !== undefined ? { ptr: p, dims: [...t.dims] } : { t, dims: [...t.dims] };
      });
      pastLen += step.length;
      const id = pickToken(row, opts.temperature, opts.topK, rand);
      yield id;
      if (opts.stopIds?.includes(id)) return;
      step = [id];
    }
  } finally {
    free();
  }
}
