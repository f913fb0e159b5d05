/**
 * com.microsoft attention ops of transformer exports: RotaryEmbedding, Attention (packed QKV weights),
 * MultiHeadAttention (separate Q/K/V) and GroupQueryAttention (kv heads < q heads, KV cache by seqlens_k).
 * Rules from onnxruntime's docs/ContribOperators.md and its CPU kernels' mask handling, quoted beside the tests
 * (test/ops/contrib-attention.test.ts, checked against onnxruntime-node). References compute in float64 and round
 * once; the float32 kernels are in src/kernels/attention.ts and share the geometry parsing below.
 */
import { UnsupportedError } from '../errors.js';
import type { Dim, ValueType } from '../ir/graph.js';
import type { Attrs, ShapeCtx } from '../ir/registry.js';
import { defineOp } from '../ir/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';
import { attnCost, dim, elems } from './cost.js';

const MS = 'com.microsoft';
const num = (d: Dim | undefined): number | undefined => (typeof d === 'number' ? d : undefined);
const addDim = (a: Dim | undefined, b: Dim | undefined): Dim => (typeof a === 'number' && typeof b === 'number' ? a + b : '?');

// ---------------------------------------------------------------------------------------------------------
// Rotary embedding (shared by RotaryEmbedding and GroupQueryAttention do_rotary)
// ---------------------------------------------------------------------------------------------------------

/**
 * Rotate the first `rot` features of every head vector in place. `at(b, h, s)` is the offset of head vector
 * (b, h, s); `pos(b, s)` the cache row. onnxruntime: with half = rot/2, for i < rot, non-interleaved
 * "cache_idx = i % half; sign = i < half ? -1 : 1; j = (i + half) % rot", interleaved "cache_idx = (i/2) % half;
 * sign = i even ? -1 : 1; j = i even ? i+1 : i-1"; out[i] = x[i]·cos[cache_idx] + sign·x[j]·sin[cache_idx].
 */
export function rotateInPlace(
  x: Float64Array | Float32Array,
  B: number,
  H: number,
  S: number,
  rot: number,
  interleaved: boolean,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  cacheRows: number,
  at: (b: number, h: number, s: number) => number,
  pos: (b: number, s: number) => number,
  what: string,
): void {
  const half = rot >> 1;
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++) {
      const p = pos(b, s);
      if (!(p >= 0 && p < cacheRows)) throw new UnsupportedError(`${what}: position ${p} (batch ${b}, token ${s}) is outside the cos/sin cache of ${cacheRows} rows`);
      const c0 = p * half;
      for (let h = 0; h < H; h++) {
        const o = at(b, h, s);
        for (let i = 0; i < half; i++) {
          const i1 = interleaved ? o + 2 * i : o + i;
          const i2 = interleaved ? o + 2 * i + 1 : o + i + half;
          const c = cos[c0 + i]!;
          const sn = sin[c0 + i]!;
          const x1 = x[i1]!;
          const x2 = x[i2]!;
          x[i1] = x1 * c - x2 * sn;
          x[i2] = x2 * c + x1 * sn;
        }
      }
    }
}

interface RotGeom {
  B: number;
  S: number;
  H: number;
  D: number;
  rot: number;
  four: boolean;
}

function rotGeom(dims: readonly Dim[], attrs: Attrs, cacheHalf: Dim | undefined, fail: (m: string) => never): Partial<RotGeom> {
  const four = dims.length === 4;
  const rotAttr: number = attrs.rotary_embedding_dim;
  const nh: number = attrs.num_heads;
  if (rotAttr > 0 && !(nh > 0)) fail('rotary_embedding_dim needs num_heads ("Must use with rotary_embedding_dim")');
  let H: number | undefined;
  let D: number | undefined;
  if (four) {
    H = num(dims[1]);
    D = num(dims[3]);
  } else {
    const hidden = num(dims[2]);
    const half = num(cacheHalf);
    if (nh > 0) H = nh;
    else if (half !== undefined && hidden !== undefined) {
      // onnxruntime: without num_heads, head_size = 2·cos_cache.shape[1]
      if (hidden % (2 * half) !== 0) fail(`hidden size ${hidden} is not a multiple of the head size 2·${half} given by cos_cache`);
      H = hidden / (2 * half);
    }
    if (H !== undefined && hidden !== undefined) {
      if (hidden % H !== 0) fail(`hidden size ${hidden} is not a multiple of num_heads ${H}`);
      D = hidden / H;
    }
  }
  const rot = rotAttr > 0 ? rotAttr : D;
  if (rot !== undefined && D !== undefined) {
    if (rot > D || rot % 2) fail(`rotary_embedding_dim ${rot} must be even and ≤ head_size ${D}`);
    const half = num(cacheHalf);
    if (half !== undefined && half !== rot / 2) fail(`cos_cache/sin_cache have ${half} columns, expected rotary_embedding_dim / 2 = ${rot / 2}`);
  }
  return { B: num(dims[0]), S: num(four ? dims[2] : dims[1]), H, D, rot, four };
}

/** com.microsoft RotaryEmbedding of inputs (input, position_ids, cos_cache, sin_cache) into `y` (a copy of input). */
export function msRotary<Y extends Float64Array | Float32Array>(name: string, [x, p, cc, sc]: Tensor[], attrs: Attrs, y: Y): Y {
  const g = rotGeom(x!.dims, attrs, cc!.dims[1], (m) => {
    throw new UnsupportedError(m);
  }) as RotGeom;
  const { B, S, H, D, rot, four } = g;
  const pv = p!.data as BigInt64Array;
  const pos = p!.dims.length === 1 ? (_b: number, s: number) => Number(pv[0]) + s : (b: number, s: number) => Number(pv[b * S + s]);
  const at = four ? (b: number, h: number, s: number) => ((b * H + h) * S + s) * D : (b: number, h: number, s: number) => (b * S + s) * H * D + h * D;
  rotateInPlace(y, B, H, S, rot, !!attrs.interleaved, floats(cc!), floats(sc!), cc!.dims[0]!, at, pos, `node '${name}' (RotaryEmbedding)`);
  return y;
}

defineOp({
  name: 'RotaryEmbedding',
  domain: MS,
  inputs: [4, 4],
  outputs: [1, 1],
  attrs: {
    interleaved: { type: 'int', default: 0 },
    is_packed_batching: { type: 'int', default: 0 },
    num_heads: { type: 'int', default: 0 },
    rotary_embedding_dim: { type: 'int', default: 0 },
    scale: { type: 'float', default: 1 },
  },
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'input');
    const p = needType(ctx, 1, ['int64'], 'position_ids');
    const c = needType(ctx, 2, [x.dtype], 'cos_cache');
    const s = needType(ctx, 3, [x.dtype], 'sin_cache');
    if (ctx.attrs.is_packed_batching) throw new UnsupportedError(`node '${ctx.node.name}' (RotaryEmbedding): is_packed_batching is not supported`);
    if (ctx.attrs.scale !== 1) throw new UnsupportedError(`node '${ctx.node.name}' (RotaryEmbedding): scale ${ctx.attrs.scale} ≠ 1 is not supported`);
    if (x.shape && x.shape.length !== 3 && x.shape.length !== 4) ctx.fail(`input must be 3-D (batch, seq, hidden) or 4-D (batch, heads, seq, head), got rank ${x.shape.length}`);
    for (const [t, n] of [[c, 'cos_cache'], [s, 'sin_cache']] as const) if (t.shape && t.shape.length !== 2) ctx.fail(`${n} must be 2-D (max_sequence_length, head_size / 2), got rank ${t.shape.length}`);
    if (c.shape && s.shape && String(c.shape) !== String(s.shape)) ctx.fail(`cos_cache [${c.shape.join(',')}] and sin_cache [${s.shape.join(',')}] differ`);
    if (p.shape && p.shape.length !== 1 && p.shape.length !== 2) ctx.fail(`position_ids must be 1-D (1) or 2-D (batch, seq), got rank ${p.shape.length}`);
    if (p.shape?.length === 1 && num(p.shape[0]) !== undefined && p.shape[0] !== 1) ctx.fail(`1-D position_ids must have one element (the start position), got ${p.shape[0]}`);
    if (x.shape) {
      const g = rotGeom(x.shape, ctx.attrs, c.shape?.[1], ctx.fail);
      if (p.shape?.length === 2) {
        const [pb, ps] = p.shape;
        if ((num(pb) !== undefined && g.B !== undefined && pb !== g.B) || (num(ps) !== undefined && g.S !== undefined && ps !== g.S)) ctx.fail(`position_ids [${p.shape.join(',')}] must be (batch ${g.B}, seq ${g.S})`);
      }
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ node, inputs, attrs }) {
    const x = inputs[0]!;
    return [fromFloats(x.type, x.dims, msRotary(node.name, inputs as Tensor[], attrs, Float64Array.from(floats(x))))];
  },
  doc: 'com.microsoft RotaryEmbedding: RoPE of 3-D (B, S, hidden) or 4-D (B, N, S, head) input by position_ids into cos/sin caches',
});

// ---------------------------------------------------------------------------------------------------------
// Scaled dot-product attention core
// ---------------------------------------------------------------------------------------------------------

/** Additive mask term for (b, h, i, j) or undefined for none; -Infinity excludes the key. */
export type MaskFn = (b: number, h: number, i: number, j: number) => number;

/**
 * Y[b, h, i] = Σ_j softmax_j(scale·q·k_j (softcapped) + mask) · v_j with q heads h using kv head ⌊h / (N/Nkv)⌋.
 * q (B, N, S, hs), k (B, Nkv, Tk, hs), v (B, Nkv, Tk, vhs) where only the first `T(b)` keys of each batch are
 * read; returns (B, N, S, vhs). A row with every key at -∞ gives zeros.
 */
export function attendRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  d: { B: number; N: number; Nkv: number; S: number; Tk: number; hs: number; vhs: number; scale: number; softcap?: number; T?: (b: number) => number },
  mask: MaskFn | undefined,
): Float64Array {
  const { B, N, Nkv, S, Tk, hs, vhs, scale } = d;
  const grp = N / Nkv;
  const Y = new Float64Array(B * N * S * vhs);
  const row = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    const T = d.T ? d.T(b) : Tk;
    for (let h = 0; h < N; h++) {
      const kh = Math.floor(h / grp);
      const ko = (b * Nkv + kh) * Tk * hs;
      const vo = (b * Nkv + kh) * Tk * vhs;
      for (let i = 0; i < S; i++) {
        const qo = ((b * N + h) * S + i) * hs;
        let mx = -Infinity;
        for (let j = 0; j < T; j++) {
          let acc = 0;
          for (let t = 0; t < hs; t++) acc += q[qo + t]! * k[ko + j * hs + t]!;
          acc *= scale;
          if (d.softcap && d.softcap > 0) acc = d.softcap * Math.tanh(acc / d.softcap);
          // the masked score is a float32 sum, as in onnxruntime (a −10000 filter value leaves ~1e-3 of precision)
          if (mask) acc = Math.fround(Math.fround(acc) + mask(b, h, i, j));
          row[j] = acc;
          if (acc > mx) mx = acc;
        }
        const yo = ((b * N + h) * S + i) * vhs;
        if (mx === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < T; j++) sum += row[j] = Math.exp(row[j]! - mx);
        for (let j = 0; j < T; j++) {
          const p = row[j]! / sum;
          if (p === 0) continue;
          for (let t = 0; t < vhs; t++) Y[yo + t] += p * v[vo + j * vhs + t]!;
        }
      }
    }
  }
  return Y;
}

/**
 * (B, S, H·D) with heads packed in the last dim, starting at column `col0` of rows `ld` wide → (B, H, S, D), each
 * value (+ bias[bcol0 + h·D + t], rounded to float32 like a separate Add) · scale.
 */
export function splitHeads<O extends Float64Array | Float32Array = Float64Array>(x: ArrayLike<number>, B: number, S: number, H: number, D: number, ld: number, col0: number, out?: O, scale = 1, bias?: ArrayLike<number>, bcol0 = 0): O {
  const o = out ?? (new Float64Array(B * H * S * D) as O);
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++) {
      const src = (b * S + s) * ld + col0;
      for (let h = 0; h < H; h++) {
        const dst = ((b * H + h) * S + s) * D;
        const sh = src + h * D;
        const bo = bcol0 + h * D;
        for (let t = 0; t < D; t++) o[dst + t] = (bias ? Math.fround(x[sh + t]! + bias[bo + t]!) : x[sh + t]!) * scale;
      }
    }
  return o;
}

/** (B, H, S, D) → (B, S, H·D). */
export function mergeHeads(y: ArrayLike<number>, B: number, H: number, S: number, D: number, out?: Float64Array | Float32Array): Float64Array | Float32Array {
  const o = out ?? new Float64Array(B * H * S * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let s = 0; s < S; s++) {
        const src = ((b * H + h) * S + s) * D;
        const dst = (b * S + s) * H * D + h * D;
        for (let t = 0; t < D; t++) o[dst + t] = y[src + t]!;
      }
  return o;
}

/** Concatenate past (B, H, P, D) and new (B, H, L, D) along the sequence → (B, H, P+L, D). */
export function catSeq(past: ArrayLike<number> | undefined, P: number, cur: ArrayLike<number>, L: number, BH: number, D: number, out?: Float64Array | Float32Array): Float64Array | Float32Array {
  const T = P + L;
  const o = out ?? new Float64Array(BH * T * D);
  for (let bh = 0; bh < BH; bh++) {
    for (let i = 0; i < P * D; i++) o[bh * T * D + i] = past![bh * P * D + i]!;
    for (let i = 0; i < L * D; i++) o[bh * T * D + P * D + i] = cur[bh * L * D + i]!;
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------------
// Masks of Attention / MultiHeadAttention (onnxruntime's PrepareMask)
// ---------------------------------------------------------------------------------------------------------

/**
 * Validate mask_index / key_padding_mask dims. "index with shape (batch_size)": keys at or after the end position
 * are masked; "(2 * batch_size)": exclusive end positions followed by inclusive start positions; raw masks
 * "(batch_size, total_sequence_length) or (batch_size, sequence_length, total_sequence_length) with value 0 for
 * masked and 1 otherwise". (3·batch+2) and the 4-D Megatron mask are not supported (onnxruntime's CPU kernel
 * refuses the 4-D one too).
 */
export function checkMask(ctx: ShapeCtx, i: number, B: Dim, S: Dim, T: Dim, what: string): void {
  const m = ctx.inputs[i];
  if (!m) return;
  needType(ctx, i, ['int32'], what);
  if (!m.shape) return;
  const sh = m.shape;
  const eq = (a: Dim | undefined, b: Dim) => num(a) === undefined || num(b) === undefined || a === b;
  if (sh.length === 1) {
    const n = num(sh[0]);
    const nb = num(B);
    if (n !== undefined && nb !== undefined) {
      if (n === 3 * nb + 2) throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): ${what} of shape (3·batch+2) is not supported`);
      if (n !== nb && n !== 2 * nb) ctx.fail(`1-D ${what} must have batch (${nb}) or 2·batch elements, got ${n}`);
    }
  } else if (sh.length === 2) {
    if (!eq(sh[0], B) || !eq(sh[1], T)) ctx.fail(`2-D ${what} must be (batch ${B}, total_sequence_length ${T}), got [${sh.join(',')}]`);
  } else if (sh.length === 3) {
    if (!eq(sh[0], B) || !eq(sh[1], S) || !eq(sh[2], T)) ctx.fail(`3-D ${what} must be (batch ${B}, sequence_length ${S}, total_sequence_length ${T}), got [${sh.join(',')}]`);
  } else if (sh.length === 4) throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): the 4-D ${what} is not supported`);
  else ctx.fail(`${what} must be 1-D, 2-D or 3-D, got rank ${sh.length}`);
}

/** attention_bias: "(batch_size or 1, num_heads or 1, sequence_length, total_sequence_length)". */
export function checkAttnBias(ctx: ShapeCtx, i: number, dtype: string, B: Dim, N: Dim, S: Dim, T: Dim): void {
  const a = ctx.inputs[i];
  if (!a) return;
  needType(ctx, i, [dtype as never], 'attention_bias');
  if (!a.shape) return;
  const sh = a.shape;
  if (sh.length !== 4) ctx.fail(`attention_bias must be 4-D (batch or 1, heads or 1, seq, total_seq), got rank ${sh.length}`);
  const ok = (d: Dim | undefined, want: Dim, one: boolean) => num(d) === undefined || num(want) === undefined || d === want || (one && d === 1);
  if (!ok(sh[0], B, true) || !ok(sh[1], N, true) || !ok(sh[2], S, false) || !ok(sh[3], T, false)) ctx.fail(`attention_bias [${sh.join(',')}] must be (batch ${B} or 1, heads ${N} or 1, seq ${S}, total_seq ${T})`);
}

/**
 * Additive mask of onnxruntime's Attention / MultiHeadAttention CPU kernels: masked keys get `mask_filter_value`
 * (raw mask "value 0 for masked"; index masks past the end / before the start), the causal part
 * (unidirectional: query i sees keys j ≤ past + i) the lowest float, then attention_bias is added.
 */
export function attnMask(mask: Tensor | undefined, bias: Tensor | undefined, B: number, N: number, S: number, T: number, past: number, causal: boolean, filter: number): MaskFn | undefined {
  if (!mask && !bias && !causal) return undefined;
  const md = mask?.data as Int32Array | undefined;
  const mdims = mask?.dims ?? [];
  const bv = bias ? floats(bias) : undefined;
  const bd = bias?.dims ?? [];
  return (b, h, i, j) => {
    let m = 0;
    if (md) {
      if (mdims.length === 1) {
        const end = md[b]!;
        if (j >= end) m = filter;
        if (mdims[0] === 2 * B && j < Math.min(md[b + B]!, T)) m = filter;
      } else if (mdims.length === 2) m = md[b * T + j]! > 0 ? 0 : filter;
      else m = md[(b * S + i) * T + j]! > 0 ? 0 : filter;
    }
    if (causal && j > past + i) m = -Infinity;
    if (bv) m += bv[((bd[0] === 1 ? 0 : b) * (bd[1] === 1 ? 1 : N) + (bd[1] === 1 ? 0 : h)) * S * T + i * T + j]!;
    return m;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Attention (packed QKV weights)
// ---------------------------------------------------------------------------------------------------------

export interface MsAttnGeom {
  B: Dim;
  S: Dim;
  In: Dim;
  N: number;
  H: number | undefined;
  Hv: number | undefined;
  hs: number | undefined;
  vhs: number | undefined;
  P: Dim;
  T: Dim;
}

/** Geometry of com.microsoft Attention from input/weights/past types (validated). */
export function msAttnGeom(ctx: ShapeCtx): MsAttnGeom {
  const a = ctx.attrs;
  const N: number = a.num_heads;
  if (!(N > 0)) ctx.fail(`num_heads must be positive, got ${N}`);
  for (const k of ['do_rotary', 'past_present_share_buffer'] as const) if (a[k]) throw new UnsupportedError(`node '${ctx.node.name}' (Attention): ${k}=1 is not supported`);
  const x = needType(ctx, 0, FLOATS, 'input');
  const w = needType(ctx, 1, [x.dtype], 'weights');
  if (x.shape && x.shape.length !== 3) ctx.fail(`input must be 3-D (batch, seq, input_hidden), got rank ${x.shape.length}`);
  if (w.shape && w.shape.length !== 2) ctx.fail(`weights must be 2-D (input_hidden, hidden + hidden + v_hidden), got rank ${w.shape.length}`);
  const In = x.shape?.[2];
  if (w.shape && num(In) !== undefined && num(w.shape[0]) !== undefined && w.shape[0] !== In) ctx.fail(`weights have ${w.shape[0]} rows, input_hidden is ${In}`);
  const total = num(w.shape?.[1]);
  let H: number | undefined;
  let Hv: number | undefined;
  const qkv: number[] | undefined = a.qkv_hidden_sizes;
  if (qkv && qkv.length) {
    if (qkv.length !== 3 || qkv[0] !== qkv[1] || qkv.some((v) => !(v > 0))) ctx.fail(`qkv_hidden_sizes must be 3 positive sizes with Q = K, got [${qkv.join(',')}]`);
    [H, , Hv] = qkv as [number, number, number];
    if (total !== undefined && total !== H! * 2 + Hv!) ctx.fail(`weights have ${total} columns, qkv_hidden_sizes sum to ${H! * 2 + Hv!}`);
  } else if (total !== undefined) {
    if (total % 3) ctx.fail(`weights have ${total} columns, not 3·hidden (give qkv_hidden_sizes when V differs)`);
    H = Hv = total / 3;
  }
  if (H !== undefined && H % N) ctx.fail(`hidden size ${H} is not a multiple of num_heads ${N}`);
  if (Hv !== undefined && Hv % N) ctx.fail(`v_hidden size ${Hv} is not a multiple of num_heads ${N}`);
  if (ctx.inputs[2]) {
    const bias = needType(ctx, 2, [x.dtype], 'bias');
    if (bias.shape && (bias.shape.length !== 1 || (num(bias.shape[0]) !== undefined && total !== undefined && bias.shape[0] !== total))) ctx.fail(`bias must be 1-D with ${total} elements, got [${bias.shape.join(',')}]`);
  }
  const B = x.shape?.[0] ?? '?';
  const S = x.shape?.[1] ?? '?';
  let P: Dim = 0;
  const past = ctx.inputs[4];
  if (past) {
    needType(ctx, 4, [x.dtype], 'past');
    if (H !== Hv) ctx.fail('with past state, hidden sizes of Q, K and V must be equal');
    if (past.shape) {
      const ps = past.shape;
      const want: Dim[] = [2, B, N, '?', H !== undefined ? H / N : '?'];
      if (ps.length !== 5 || ps.some((d, i) => i !== 3 && num(d) !== undefined && num(want[i]) !== undefined && d !== want[i])) ctx.fail(`past must be (2, batch, num_heads, past_seq, head_size) = (${want.join(', ')}), got [${ps.join(',')}]`);
      P = ps[3]!;
    } else P = '?';
  }
  if (ctx.inputs[6]) throw new UnsupportedError(`node '${ctx.node.name}' (Attention): past_sequence_length (buffer sharing) is not supported`);
  const T = addDim(P, S);
  checkMask(ctx, 3, B, S, T, 'mask_index');
  checkAttnBias(ctx, 5, x.dtype, B, N, S, T);
  return { B, S, In: In ?? '?', N, H, Hv, hs: H !== undefined ? H / N : undefined, vhs: Hv !== undefined ? Hv / N : undefined, P, T };
}

defineOp({
  name: 'Attention',
  cost: (c) => elems(c.inputs[0]) * dim(c.inputs[1], 1) + attnCost(c, dim(c.inputs[0], 1) + (c.inputs[4] ? dim(c.inputs[4], 3) : 0)),
  domain: MS,
  inputs: [2, 7],
  outputs: [1, 2],
  attrs: {
    do_rotary: { type: 'int', default: 0 },
    mask_filter_value: { type: 'float', default: -10000 },
    num_heads: { type: 'int', required: true },
    past_present_share_buffer: { type: 'int', default: 0 },
    qkv_hidden_sizes: { type: 'ints', default: undefined },
    rotary_embedding_dim: { type: 'int', default: 0 },
    scale: { type: 'float', default: undefined },
    unidirectional: { type: 'int', default: 0 },
  },
  inferShape(ctx) {
    const g = msAttnGeom(ctx);
    const dt = ctx.inputs[0]!.dtype;
    return [
      { dtype: dt, shape: [g.B, g.S, g.Hv ?? '?'] },
      { dtype: dt, shape: [2, g.B, g.N, g.T, g.hs ?? '?'] },
    ].slice(0, ctx.numOutputs);
  },
  reference({ inputs, attrs, outputTypes }) {
    const [x, w, bias, mask, past, abias] = inputs as [Tensor, Tensor, Tensor?, Tensor?, Tensor?, Tensor?];
    const [B, S, In] = x.dims as [number, number, number];
    const N: number = attrs.num_heads;
    const total = w.dims[1]!;
    const qkv: number[] | undefined = attrs.qkv_hidden_sizes?.length ? attrs.qkv_hidden_sizes : undefined;
    const H = qkv ? qkv[0]! : total / 3;
    const Hv = qkv ? qkv[2]! : total / 3;
    const hs = H / N;
    const vhs = Hv / N;
    const xv = floats(x);
    const wv = floats(w);
    const bv = bias ? floats(bias) : undefined;
    // "The weights for input projection of Q, K and V are merged ... (input_hidden_size, hidden + hidden + v_hidden)"
    const M = B * S;
    const proj = new Float64Array(M * total);
    for (let m = 0; m < M; m++)
      for (let c = 0; c < total; c++) {
        let acc = bv ? bv[c]! : 0;
        for (let k = 0; k < In; k++) acc += xv[m * In + k]! * wv[k * total + c]!;
        proj[m * total + c] = Math.fround(acc);
      }
    const q = splitHeads(proj, B, S, N, hs, total, 0);
    const k0 = splitHeads(proj, B, S, N, hs, total, H);
    const v0 = splitHeads(proj, B, S, N, vhs, total, 2 * H);
    const P = past ? past.dims[3]! : 0;
    const pv = past ? floats(past) : undefined;
    const half = B * N * P * hs;
    const K = catSeq(pv?.subarray(0, half), P, k0, S, B * N, hs);
    const V = catSeq(pv?.subarray(half), P, v0, S, B * N, vhs);
    const T = P + S;
    const scale = attrs.scale ?? 1 / Math.sqrt(hs);
    const Y = attendRef(q, K, V, { B, N, Nkv: N, S, Tk: T, hs, vhs, scale }, attnMask(mask, abias, B, N, S, T, P, !!attrs.unidirectional, attrs.mask_filter_value));
    const dt = x.type;
    const outs = [fromFloats(dt, [B, S, Hv], mergeHeads(Y, B, N, S, vhs) as Float64Array)];
    if (outputTypes.length > 1) {
      const pres = new Float64Array(2 * B * N * T * hs);
      pres.set(K, 0);
      pres.set(V, B * N * T * hs);
      outs.push(fromFloats(dt, [2, B, N, T, hs], pres));
    }
    return outs;
  },
  doc: 'com.microsoft Attention: multi-head attention with merged Q/K/V projection weights, mask_index, past/present, unidirectional',
});

// ---------------------------------------------------------------------------------------------------------
// MultiHeadAttention (separate Q / K / V)
// ---------------------------------------------------------------------------------------------------------

export interface MhaGeom {
  B: Dim;
  S: Dim;
  L: Dim;
  N: number;
  H: Dim;
  Hv: Dim;
  hs: Dim;
  vhs: Dim;
  P: Dim;
  T: Dim;
  /** key/value given as (batch, heads, kv_seq, head) (cross-attention with projected K/V) */
  kvBNSH: boolean;
}

export function mhaGeom(ctx: ShapeCtx): MhaGeom {
  const N: number = ctx.attrs.num_heads;
  if (!(N > 0)) ctx.fail(`num_heads must be positive, got ${N}`);
  const q = needType(ctx, 0, FLOATS, 'query');
  if (!ctx.inputs[1] || !ctx.inputs[2]) throw new UnsupportedError(`node '${ctx.node.name}' (MultiHeadAttention): packed QKV / packed KV inputs (no key or value) are not supported`);
  const k = needType(ctx, 1, [q.dtype], 'key');
  const v = needType(ctx, 2, [q.dtype], 'value');
  if (q.shape && q.shape.length !== 3) ctx.fail(`query must be 3-D (batch, seq, hidden), got rank ${q.shape.length}`);
  const kr = k.shape?.length ?? v.shape?.length ?? 3;
  if (kr !== 3 && kr !== 4) ctx.fail(`key must be 3-D (batch, kv_seq, hidden) or 4-D (batch, heads, kv_seq, head_size), got rank ${kr}`);
  if ((v.shape?.length ?? kr) !== kr) ctx.fail(`key and value must have the same rank, got ${kr} and ${v.shape!.length}`);
  const B = q.shape?.[0] ?? '?';
  const S = q.shape?.[1] ?? '?';
  const H = q.shape?.[2] ?? '?';
  const kvBNSH = kr === 4;
  const hs: Dim = num(H) !== undefined ? (H as number) / N : '?';
  if (num(H) !== undefined && (H as number) % N) ctx.fail(`hidden size ${H} is not a multiple of num_heads ${N}`);
  let L: Dim;
  let Hv: Dim;
  let vhs: Dim;
  const eq = (a: Dim | undefined, b: Dim | undefined) => num(a) === undefined || num(b) === undefined || a === b;
  if (kvBNSH) {
    const ks = k.shape ?? ['?', '?', '?', '?'];
    const vs = v.shape ?? ['?', '?', '?', '?'];
    if (!eq(ks[0], B) || !eq(ks[1], N) || !eq(ks[3], hs)) ctx.fail(`4-D key must be (batch ${B}, num_heads ${N}, kv_seq, head_size ${hs}), got [${ks.join(',')}]`);
    if (!eq(vs[0], B) || !eq(vs[1], N) || !eq(vs[2], ks[2])) ctx.fail(`4-D value [${vs.join(',')}] does not match key [${ks.join(',')}]`);
    if (ctx.inputs[3]) throw new UnsupportedError(`node '${ctx.node.name}' (MultiHeadAttention): bias with 4-D key/value is not supported`);
    if (ctx.inputs[6] || ctx.inputs[7]) ctx.fail('past_key/past_value cannot be combined with 4-D (already projected) key/value');
    L = ks[2]!;
    vhs = vs[3]!;
    Hv = num(vhs) !== undefined ? (vhs as number) * N : '?';
  } else {
    const ks = k.shape ?? ['?', '?', '?'];
    const vs = v.shape ?? ['?', '?', '?'];
    if (!eq(ks[0], B) || !eq(ks[2], H)) ctx.fail(`key [${ks.join(',')}] must be (batch ${B}, kv_seq, hidden ${H})`);
    if (!eq(vs[0], B) || !eq(vs[1], ks[1])) ctx.fail(`value [${vs.join(',')}] must be (batch ${B}, kv_seq ${ks[1]}, v_hidden)`);
    L = ks[1]!;
    Hv = vs[2]!;
    if (num(Hv) !== undefined && (Hv as number) % N) ctx.fail(`v_hidden size ${Hv} is not a multiple of num_heads ${N}`);
    vhs = num(Hv) !== undefined ? (Hv as number) / N : '?';
  }
  if (ctx.inputs[3]) {
    const b = needType(ctx, 3, [q.dtype], 'bias');
    const want = num(H) !== undefined && num(Hv) !== undefined ? 2 * (H as number) + (Hv as number) : undefined;
    if (b.shape && (b.shape.length !== 1 || (want !== undefined && num(b.shape[0]) !== undefined && b.shape[0] !== want))) ctx.fail(`bias must be 1-D (hidden + hidden + v_hidden = ${want}), got [${b.shape.join(',')}]`);
  }
  let P: Dim = 0;
  if (!!ctx.inputs[6] !== !!ctx.inputs[7]) ctx.fail('past_key and past_value come together');
  if (ctx.inputs[6]) {
    const pk = needType(ctx, 6, [q.dtype], 'past_key');
    const pv = needType(ctx, 7, [q.dtype], 'past_value');
    if (pk.shape && (pk.shape.length !== 4 || !eq(pk.shape[0], B) || !eq(pk.shape[1], N) || !eq(pk.shape[3], hs))) ctx.fail(`past_key must be (batch ${B}, num_heads ${N}, past_seq, head_size ${hs}), got [${pk.shape.join(',')}]`);
    if (pv.shape && pk.shape && (pv.shape.length !== 4 || !eq(pv.shape[2], pk.shape[2]) || !eq(pv.shape[3], vhs))) ctx.fail(`past_value [${pv.shape.join(',')}] does not match past_key [${pk.shape.join(',')}] / v head size ${vhs}`);
    P = pk.shape?.[2] ?? '?';
  }
  if (ctx.inputs[8] || ctx.inputs[9]) throw new UnsupportedError(`node '${ctx.node.name}' (MultiHeadAttention): past_sequence_length / cache_indirection (buffer sharing, beam search) are not supported`);
  const T = addDim(P, L);
  checkMask(ctx, 4, B, S, T, 'key_padding_mask');
  checkAttnBias(ctx, 5, q.dtype, B, N, S, T);
  return { B, S, L, N, H, Hv, hs, vhs, P, T, kvBNSH };
}

defineOp({
  name: 'MultiHeadAttention',
  cost(c) {
    // key [B, L, D], [B, N, L, H] or packed [B, L, N, 2, H]; none when query packs Q, K and V
    const [q, k, , , , , pk] = c.inputs;
    return attnCost(c, (k ? dim(k, k.length === 4 ? 2 : 1) : dim(q, 1)) + (pk ? dim(pk, 2) : 0));
  },
  domain: MS,
  inputs: [1, 10],
  outputs: [1, 4],
  attrs: {
    mask_filter_value: { type: 'float', default: -10000 },
    num_heads: { type: 'int', required: true },
    scale: { type: 'float', default: undefined },
    unidirectional: { type: 'int', default: 0 },
  },
  inferShape(ctx) {
    const g = mhaGeom(ctx);
    if (ctx.numOutputs > 3 && ctx.node.outputs[3]) throw new UnsupportedError(`node '${ctx.node.name}' (MultiHeadAttention): the qk output is not supported`);
    const dt = ctx.inputs[0]!.dtype;
    return [
      { dtype: dt, shape: [g.B, g.S, g.Hv] },
      { dtype: dt, shape: [g.B, g.N, g.T, g.hs] },
      { dtype: dt, shape: [g.B, g.N, g.T, g.vhs] },
    ].slice(0, ctx.numOutputs) as ValueType[];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [q, k, v, bias, mask, abias, pk, pv] = inputs as (Tensor | undefined)[];
    const N: number = attrs.num_heads;
    const [B, S, H] = q!.dims as [number, number, number];
    const hs = H / N;
    const bv = bias ? floats(bias) : undefined;
    const Q = splitHeads(floats(q!), B, S, N, hs, H, 0, undefined, 1, bv, 0);
    let K: ArrayLike<number>;
    let V: ArrayLike<number>;
    let L: number;
    let vhs: number;
    let Hv: number;
    if (k!.dims.length === 4) {
      L = k!.dims[2]!;
      vhs = v!.dims[3]!;
      Hv = vhs * N;
      K = floats(k!);
      V = floats(v!);
    } else {
      L = k!.dims[1]!;
      Hv = v!.dims[2]!;
      vhs = Hv / N;
      K = splitHeads(floats(k!), B, L, N, hs, H, 0, undefined, 1, bv, H);
      V = splitHeads(floats(v!), B, L, N, vhs, Hv, 0, undefined, 1, bv, 2 * H);
    }
    const P = pk ? pk.dims[2]! : 0;
    if (pk) {
      K = catSeq(floats(pk), P, K, L, B * N, hs);
      V = catSeq(floats(pv!), P, V, L, B * N, vhs);
    }
    const T = P + L;
    const scale = attrs.scale ?? 1 / Math.sqrt(hs);
    const Y = attendRef(Q, K, V, { B, N, Nkv: N, S, Tk: T, hs, vhs, scale }, attnMask(mask, abias, B, N, S, T, P, !!attrs.unidirectional, attrs.mask_filter_value));
    const dt = q!.type;
    const outs = [fromFloats(dt, [B, S, Hv], mergeHeads(Y, B, N, S, vhs) as Float64Array), fromFloats(dt, [B, N, T, hs], Float64Array.from(K)), fromFloats(dt, [B, N, T, vhs], Float64Array.from(V))];
    return outs.slice(0, outputTypes.length);
  },
  doc: 'com.microsoft MultiHeadAttention: separate Q/K/V (+ bias), key_padding_mask, attention_bias, past/present key and value',
});

// ---------------------------------------------------------------------------------------------------------
// GroupQueryAttention
// ---------------------------------------------------------------------------------------------------------

export interface GqaGeom {
  B: Dim;
  S: Dim;
  N: number;
  Nkv: number;
  hs: Dim;
  packed: boolean;
  Pbuf: Dim;
}

export function gqaGeom(ctx: ShapeCtx): GqaGeom {
  const a = ctx.attrs;
  const name = `node '${ctx.node.name}' (GroupQueryAttention)`;
  const N: number = a.num_heads;
  const Nkv: number = a.kv_num_heads;
  if (!(N > 0) || !(Nkv > 0)) ctx.fail(`num_heads (${N}) and kv_num_heads (${Nkv}) must be positive`);
  if (N % Nkv) ctx.fail(`num_heads ${N} must be a multiple of kv_num_heads ${Nkv}`);
  if (a.smooth_softmax) throw new UnsupportedError(`${name}: smooth_softmax is not supported`);
  if (a.qk_output) throw new UnsupportedError(`${name}: qk_output is not supported`);
  if (a.sliding_window_cache) throw new UnsupportedError(`${name}: sliding_window_cache is not supported`);
  if (a.causal === 0) throw new UnsupportedError(`${name}: causal=0 is not supported`);
  for (const [k, v] of [['k_quant_type', a.k_quant_type], ['v_quant_type', a.v_quant_type]] as const) if (v && v !== 'NONE') throw new UnsupportedError(`${name}: ${k}=${v} (quantized KV cache) is not supported`);
  for (const i of [11, 12, 13, 14, 15]) if (ctx.inputs[i]) throw new UnsupportedError(`${name}: input ${i} (head_sink / KV scales / qk norm weights) is not supported`);
  const q = needType(ctx, 0, FLOATS, 'query');
  if (q.shape && q.shape.length !== 3) ctx.fail(`query must be 3-D (batch, seq, hidden), got rank ${q.shape.length}`);
  const packed = !ctx.inputs[1];
  if (packed !== !ctx.inputs[2]) ctx.fail('key and value come together (or neither, for packed QKV)');
  const B = q.shape?.[0] ?? '?';
  const S = q.shape?.[1] ?? '?';
  const d = num(q.shape?.[2]);
  let hs: Dim = '?';
  if (d !== undefined) {
    const per = packed ? N + 2 * Nkv : N;
    if (d % per) ctx.fail(`query hidden ${d} is not a multiple of ${packed ? '(num_heads + 2·kv_num_heads)' : 'num_heads'} = ${per}`);
    hs = d / per;
  }
  const eq = (x: Dim | undefined, y: Dim | undefined) => num(x) === undefined || num(y) === undefined || x === y;
  if (!packed) {
    for (const [i, n] of [[1, 'key'], [2, 'value']] as const) {
      const t = needType(ctx, i, [q.dtype], n);
      if (t.shape && (t.shape.length !== 3 || !eq(t.shape[0], B) || !eq(t.shape[1], S) || !eq(t.shape[2], num(hs) !== undefined ? (hs as number) * Nkv : '?'))) ctx.fail(`${n} must be (batch ${B}, seq ${S}, kv_num_heads·head_size = ${num(hs) !== undefined ? (hs as number) * Nkv : '?'}), got [${t.shape.join(',')}]`);
    }
  }
  if (!!ctx.inputs[3] !== !!ctx.inputs[4]) ctx.fail('past_key and past_value come together');
  let Pbuf: Dim = 0;
  for (const [i, n] of [[3, 'past_key'], [4, 'past_value']] as const) {
    if (!ctx.inputs[i]) continue;
    const t = needType(ctx, i, [q.dtype], n);
    if (t.shape && (t.shape.length !== 4 || !eq(t.shape[0], B) || !eq(t.shape[1], Nkv) || !eq(t.shape[3], hs))) ctx.fail(`${n} must be (batch ${B}, kv_num_heads ${Nkv}, past_seq, head_size ${hs}) (BNSH), got [${t.shape.join(',')}]`);
    Pbuf = t.shape?.[2] ?? '?';
  }
  const sk = needType(ctx, 5, ['int32'], 'seqlens_k');
  if (sk.shape && (sk.shape.length !== 1 || !eq(sk.shape[0], B))) ctx.fail(`seqlens_k must be 1-D (batch ${B}), got [${sk.shape.join(',')}]`);
  const tt = needType(ctx, 6, ['int32'], 'total_sequence_length');
  if (tt.shape && tt.shape.reduce((p: number, x) => p * (num(x) ?? 2), 1) !== 1) ctx.fail(`total_sequence_length must be a scalar, got [${tt.shape.join(',')}]`);
  if (a.do_rotary) {
    if (!ctx.inputs[7] || !ctx.inputs[8]) ctx.fail('do_rotary needs cos_cache and sin_cache');
    for (const [i, n] of [[7, 'cos_cache'], [8, 'sin_cache']] as const) {
      const t = needType(ctx, i, [q.dtype], n);
      if (t.shape && t.shape.length !== 2) ctx.fail(`${n} must be 2-D (max_sequence_length, rotary_dim / 2), got rank ${t.shape.length}`);
      const half = num(t.shape?.[1]);
      if (half !== undefined && num(hs) !== undefined && 2 * half > (hs as number)) ctx.fail(`${n} has ${half} columns, more than head_size / 2 = ${(hs as number) / 2}`);
    }
  }
  if (ctx.inputs[9]) {
    const p = needType(ctx, 9, ['int64'], 'position_ids');
    if (p.shape && (p.shape.length !== 2 || !eq(p.shape[0], B) || !eq(p.shape[1], S))) ctx.fail(`position_ids must be (batch ${B}, seq ${S}), got [${p.shape.join(',')}]`);
  }
  const tv = ctx.value(6);
  checkAttnBias(ctx, 10, q.dtype, B, N, S, tv ? Number((tv.data as Int32Array)[0]) : '?');
  return { B, S, N, Nkv, hs, packed, Pbuf };
}

/**
 * Per-batch lengths of a GQA step: "seqlens_k: (total_sequence_lengths - 1)"; the first prompt (sequence_length
 * equals total_sequence_length) has no past, otherwise past_b = seqlens_k[b] + 1 − sequence_length. Validated
 * against the buffers (a bad seqlens_k is a ShapeError, never an out-of-bounds read).
 */
export function gqaLengths(node: { name: string }, seqlens: Int32Array, totalLen: number, B: number, S: number, Pbuf: number, fail: (m: string) => never): { first: boolean; past: number[]; total: number[]; Tp: number } {
  const first = S === totalLen;
  const Tp = Math.max(totalLen, Pbuf);
  const past: number[] = [];
  const total: number[] = [];
  for (let b = 0; b < B; b++) {
    const t = seqlens[b]! + 1;
    const p = first ? 0 : t - S;
    if (!(t >= 1 && t <= totalLen) || p < 0 || p > Pbuf || p + S > Tp) fail(`node '${node.name}': seqlens_k[${b}] = ${seqlens[b]} is inconsistent with sequence_length ${S}, total_sequence_length ${totalLen} and a past buffer of ${Pbuf}`);
    past.push(p);
    total.push(first ? Math.min(t, S) : t);
  }
  return { first, past, total, Tp };
}

/**
 * GroupQueryAttention's mask: query s of batch b sees keys j ≤ past_b + s, with local_window_size W only the last W
 * of them (onnxruntime's CPU kernel: [past_b + s + 1 − W, past_b + s]); plus attention_bias (last dim
 * total_sequence_length).
 */
export function gqaMask(past: number[], W: number, abias: Tensor | undefined, N: number, S: number, totalLen: number): MaskFn {
  const bv = abias ? floats(abias) : undefined;
  const bd = abias?.dims ?? [];
  return (b, h, i, j) => {
    const c = past[b]! + i;
    if (j > c || (W > 0 && j <= c - W)) return -Infinity;
    return bv ? bv[((bd[0] === 1 ? 0 : b) * (bd[1] === 1 ? 1 : N) + (bd[1] === 1 ? 0 : h)) * S * totalLen + i * totalLen + j]! : 0;
  };
}

defineOp({
  name: 'GroupQueryAttention',
  cost: (c) => attnCost(c, c.outputs[1] ? dim(c.outputs[1], 2) : dim(c.inputs[0], 1) + (c.inputs[3] ? dim(c.inputs[3], 2) : 0)),
  domain: MS,
  inputs: [1, 16],
  outputs: [1, 4],
  attrs: {
    causal: { type: 'int', default: 1 },
    do_rotary: { type: 'int', default: 0 },
    k_quant_type: { type: 'string', default: 'NONE' },
    kv_cache_bit_width: { type: 'int', default: 0 },
    kv_num_heads: { type: 'int', required: true },
    local_window_size: { type: 'int', default: -1 },
    num_heads: { type: 'int', required: true },
    qk_norm_epsilon: { type: 'float', default: 1e-6 },
    qk_output: { type: 'int', default: 0 },
    rotary_interleaved: { type: 'int', default: 0 },
    scale: { type: 'float', default: undefined },
    sliding_window_cache: { type: 'int', default: 0 },
    smooth_softmax: { type: 'int', default: 0 },
    softcap: { type: 'float', default: 0 },
    v_quant_type: { type: 'string', default: 'NONE' },
  },
  inferShape(ctx) {
    const g = gqaGeom(ctx);
    const dt = ctx.inputs[0]!.dtype;
    // present: "(batch_size, kv_num_heads, past_sequence_length + kv_sequence_length, head_size)" — its length is
    // max(total_sequence_length, past buffer), known only from the total_sequence_length value
    const tv = ctx.value(6);
    const tl = tv ? Number((tv.data as Int32Array)[0]) : undefined;
    const Tp: Dim = tl !== undefined && num(g.Pbuf) !== undefined ? Math.max(tl, g.Pbuf as number) : '?';
    const Hq: Dim = num(g.hs) !== undefined ? (g.hs as number) * g.N : '?';
    return [
      { dtype: dt, shape: [g.B, g.S, Hq] },
      { dtype: dt, shape: [g.B, g.Nkv, Tp, g.hs] },
      { dtype: dt, shape: [g.B, g.Nkv, Tp, g.hs] },
    ].slice(0, ctx.numOutputs) as ValueType[];
  },
  reference({ node, inputs, attrs, outputTypes }) {
    const [q, k, v, pk, pv, sk, tl, cc, sc, pos, abias] = inputs as (Tensor | undefined)[];
    const N: number = attrs.num_heads;
    const Nkv: number = attrs.kv_num_heads;
    const [B, S, D] = q!.dims as [number, number, number];
    const packed = !k;
    const hs = D / (packed ? N + 2 * Nkv : N);
    const Pbuf = pk ? pk.dims[2]! : 0;
    const fail = (m: string): never => {
      throw new UnsupportedError(m);
    };
    const totalLen = Number((tl!.data as Int32Array)[0]);
    const { first, past, total, Tp } = gqaLengths(node, sk!.data as Int32Array, totalLen, B, S, Pbuf, fail);
    const qv = floats(q!);
    const ld = packed ? D : N * hs;
    const Q = splitHeads(qv, B, S, N, hs, ld, 0);
    const Kn = packed ? splitHeads(qv, B, S, Nkv, hs, D, N * hs) : splitHeads(floats(k!), B, S, Nkv, hs, Nkv * hs, 0);
    const Vn = packed ? splitHeads(qv, B, S, Nkv, hs, D, (N + Nkv) * hs) : splitHeads(floats(v!), B, S, Nkv, hs, Nkv * hs, 0);
    if (attrs.do_rotary) {
      const rot = cc!.dims[1]! * 2;
      const pd = pos?.data as BigInt64Array | undefined;
      // onnxruntime: the first prompt rotates token s at position s, later steps at past_b + s (or position_ids)
      const posOf = pd ? (b: number, s: number) => Number(pd[b * S + s]) : (b: number, s: number) => (first ? s : past[b]! + s);
      const cv = floats(cc!);
      const sv = floats(sc!);
      rotateInPlace(Q, B, N, S, rot, !!attrs.rotary_interleaved, cv, sv, cc!.dims[0]!, (b, h, s) => ((b * N + h) * S + s) * hs, posOf, `node '${node.name}'`);
      rotateInPlace(Kn, B, Nkv, S, rot, !!attrs.rotary_interleaved, cv, sv, cc!.dims[0]!, (b, h, s) => ((b * Nkv + h) * S + s) * hs, posOf, `node '${node.name}'`);
    }
    // present = past_b rows of the past buffer, then the new keys; the rest of the buffer stays zero
    const pkv = pk ? floats(pk) : undefined;
    const pvv = pv ? floats(pv) : undefined;
    const PK = new Float64Array(B * Nkv * Tp * hs);
    const PV = new Float64Array(B * Nkv * Tp * hs);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Nkv; h++) {
        const bh = b * Nkv + h;
        const n = past[b]! * hs;
        for (let i = 0; i < n; i++) {
          PK[bh * Tp * hs + i] = pkv![bh * Pbuf * hs + i]!;
          PV[bh * Tp * hs + i] = pvv![bh * Pbuf * hs + i]!;
        }
        for (let i = 0; i < S * hs; i++) {
          PK[bh * Tp * hs + n + i] = Kn[bh * S * hs + i]!;
          PV[bh * Tp * hs + n + i] = Vn[bh * S * hs + i]!;
        }
      }
    const scale = attrs.scale ?? 1 / Math.sqrt(hs);
    const mask = gqaMask(past, attrs.local_window_size, abias, N, S, totalLen);
    const Y = attendRef(Q, PK, PV, { B, N, Nkv, S, Tk: Tp, hs, vhs: hs, scale, softcap: attrs.softcap, T: (b) => total[b]! }, mask);
    const dt = q!.type;
    const outs = [fromFloats(dt, [B, S, N * hs], mergeHeads(Y, B, N, S, hs) as Float64Array), fromFloats(dt, [B, Nkv, Tp, hs], PK), fromFloats(dt, [B, Nkv, Tp, hs], PV)];
    return outs.slice(0, outputTypes.length);
  },
  doc: 'com.microsoft GroupQueryAttention: causal attention with kv_num_heads < num_heads, KV cache by seqlens_k, optional rotary and local window',
});
