import { UnsupportedError } from '../errors.js';
import { broadcastDims } from '../ir/dims.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { expandTo } from './broadcast.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';
import { HEAD_ROWS_ATTRS, headRows, headsOf, kvAttend, mergeHeads } from './kv-cache.js';
import { attnCost, dim } from './cost.js';

/**
 * Transformer building blocks of opset 23+: Attention, RMSNormalization, RotaryEmbedding. Plain TS references,
 * computed in float64 and rounded once to the output type (exact to the ONNX reference up to that rounding).
 */

const num = (d: Dim | undefined): number | undefined => (typeof d === 'number' ? d : undefined);

// ---------------------------------------------------------------------------------------------------------
// Attention (opset 23, 24)
// ---------------------------------------------------------------------------------------------------------

interface AttnDims {
  B: Dim;
  qh: number | undefined;
  kvh: number | undefined;
  qs: Dim;
  kvs: Dim;
  hs: Dim;
  vhs: Dim;
  rank: number;
}

/** Q/K/V in 4-D (B, heads, seq, head) or 3-D (B, seq, heads·head) with q_num_heads / kv_num_heads. */
function attnDims(ctx: ShapeCtx): AttnDims {
  const q = needType(ctx, 0, FLOATS, 'Q');
  const k = needType(ctx, 1, [q.dtype], 'K');
  const v = needType(ctx, 2, [q.dtype], 'V');
  const r = q.shape?.length ?? k.shape?.length ?? v.shape?.length ?? 4;
  for (const [t, n] of [[q, 'Q'], [k, 'K'], [v, 'V']] as const) if (t.shape && t.shape.length !== r) ctx.fail(`Q, K and V must have the same rank (3 or 4); ${n} has rank ${t.shape.length}`);
  if (r !== 3 && r !== 4) ctx.fail(`Q, K and V must be 3-D or 4-D, got rank ${r}`);
  const qs = q.shape ?? ['?', '?', '?', '?'].slice(0, r);
  const ks = k.shape ?? ['?', '?', '?', '?'].slice(0, r);
  const vs = v.shape ?? ['?', '?', '?', '?'].slice(0, r);
  if (r === 4) {
    const qh = num(qs[1]);
    const kvh = num(ks[1]);
    if (qh !== undefined && kvh !== undefined && (kvh === 0 || qh % kvh !== 0)) ctx.fail(`q heads ${qh} must be a multiple of kv heads ${kvh}`);
    if (num(qs[3]) !== undefined && num(ks[3]) !== undefined && qs[3] !== ks[3]) ctx.fail(`Q head size ${qs[3]} differs from K head size ${ks[3]}`);
    return { B: qs[0]!, qh, kvh, qs: qs[2]!, kvs: ks[2]!, hs: qs[3]!, vhs: vs[3]!, rank: 4 };
  }
  const qh: number = ctx.attrs.q_num_heads;
  const kvh: number = ctx.attrs.kv_num_heads;
  if (!(qh > 0) || !(kvh > 0)) ctx.fail('3-D Q/K/V need q_num_heads and kv_num_heads');
  if (qh % kvh !== 0) ctx.fail(`q_num_heads ${qh} must be a multiple of kv_num_heads ${kvh}`);
  const split = (d: Dim | undefined, h: number, what: string): Dim => {
    const n = num(d);
    if (n === undefined) return '?';
    if (n % h !== 0) ctx.fail(`${what} hidden size ${n} is not a multiple of ${h} heads`);
    return n / h;
  };
  return { B: qs[0]!, qh, kvh, qs: qs[1]!, kvs: ks[1]!, hs: split(qs[2], qh, 'Q'), vhs: split(vs[2], kvh, 'V'), rank: 3 };
}

const addDim = (a: Dim, b: Dim): Dim => (typeof a === 'number' && typeof b === 'number' ? a + b : '?');

/**
 * ONNX Attention's additive bias (B, qh, S, T): attn_mask (bool → 0 / -inf, float added; a short last dim padded with
 * -inf), is_causal, nonpad_kv_seqlen. Shared by the reference and the kernel (src/kernels/attention.ts).
 */
export function attentionBias(mask: Tensor | undefined, nonpad: Tensor | undefined, B: number, qh: number, S: number, T: number, P: number, causal: boolean, hasPast: boolean): Float64Array {
  const bias = new Float64Array(B * qh * S * T);
  if (mask) {
    const md = mask.dims;
    const mr = md.length;
    const ml = md[mr - 1]!;
    const mv = mask.type === 'bool' ? undefined : floats(mask);
    const full = [B, qh, S, T].slice(4 - mr);
    const strides = new Array<number>(mr);
    let st = 1;
    for (let i = mr - 1; i >= 0; i--) {
      strides[i] = md[i] === 1 && full[i] !== 1 ? 0 : st;
      st *= md[i]!;
    }
    for (let b = 0; b < B; b++)
      for (let h = 0; h < qh; h++)
        for (let i = 0; i < S; i++)
          for (let j = 0; j < T; j++) {
            const o = ((b * qh + h) * S + i) * T + j;
            if (j >= ml) {
              bias[o] = -Infinity;
              continue;
            }
            const idx = [b, h, i, j].slice(4 - mr);
            let p = 0;
            for (let a = 0; a < mr; a++) p += (md[a] === 1 ? 0 : idx[a]!) * strides[a]!;
            bias[o] = mv ? mv[p]! : mask.data[p] ? 0 : -Infinity;
          }
  }
  if (causal) {
    // "a query at in-block index i attends key j iff j <= i + offset"; offset = past length, or per batch
    // nonpad_kv_seqlen[b] - q_len when only nonpad_kv_seqlen describes the cache
    for (let b = 0; b < B; b++) {
      const off = !hasPast && nonpad ? Number(nonpad.data[b]) - S : P;
      for (let h = 0; h < qh; h++) for (let i = 0; i < S; i++) for (let j = 0; j < T; j++) if (j > i + off) bias[((b * qh + h) * S + i) * T + j] = -Infinity;
    }
  }
  if (nonpad) {
    for (let b = 0; b < B; b++) {
      const n = Number(nonpad.data[b]);
      for (let h = 0; h < qh; h++) for (let i = 0; i < S; i++) for (let j = n; j < T; j++) bias[((b * qh + h) * S + i) * T + j] = -Infinity;
    }
  }
  return bias;
}

defineOp({
  name: 'Attention',
  cost: (c) => attnCost(c, dim(c.inputs[1], -2) + (c.inputs[4] ? dim(c.inputs[4], -2) : 0)),
  inputs: [3, 7],
  outputs: [1, 4],
  attrs: {
    is_causal: { type: 'int', default: 0 },
    kv_num_heads: { type: 'int', default: 0 },
    q_num_heads: { type: 'int', default: 0 },
    qk_matmul_output_mode: { type: 'int', default: 0, oneOf: [0, 1, 2, 3] },
    scale: { type: 'float', default: undefined },
    softcap: { type: 'float', default: 0 },
    softmax_precision: { type: 'int', default: 0 },
  },
  inferShape(ctx) {
    const d = attnDims(ctx);
    const q = ctx.inputs[0]!;
    const m = ctx.inputs[3];
    if (m && m.dtype !== 'bool' && m.dtype !== q.dtype) ctx.fail(`attn_mask must be bool or ${q.dtype}, got ${m.dtype}`);
    const pk = ctx.inputs[4];
    const pv = ctx.inputs[5];
    if (!!pk !== !!pv) ctx.fail('past_key and past_value come together');
    if (pk) needType(ctx, 4, [q.dtype], 'past_key');
    if (pv) needType(ctx, 5, [q.dtype], 'past_value');
    if (pk?.shape && pk.shape.length !== 4) ctx.fail(`past_key must be 4-D, got rank ${pk.shape.length}`);
    if (pv?.shape && pv.shape.length !== 4) ctx.fail(`past_value must be 4-D, got rank ${pv.shape.length}`);
    if (ctx.inputs[6]) needType(ctx, 6, ['int64'], 'nonpad_kv_seqlen');
    const past: Dim = pk?.shape?.[2] ?? (pk ? '?' : 0);
    const total = addDim(past, d.kvs);
    // the bias loops run from nonpad_kv_seqlen[b] to the total length: a value outside [0, total] is a stranger's
    // number that would loop ~2^31 times (negative) or index past the keys
    const np = ctx.inputs[6] ? ctx.value(6) : undefined;
    if (np && typeof total === 'number')
      for (let b = 0; b < np.size; b++) if (!(np.num(b) >= 0 && np.num(b) <= total)) ctx.fail(`nonpad_kv_seqlen[${b}] = ${np.num(b)} out of range [0, ${total}]`);
    if (m?.shape) {
      // "attn_mask: shape must be broadcastable to (batch_size, q_num_heads, q_sequence_length, total_sequence_length)"
      // (opset 24: a shorter last dim is padded with -inf / false)
      const ms = m.shape;
      const last = num(ms[ms.length - 1]);
      if (ms.length < 2 || ms.length > 4) ctx.fail(`attn_mask must have rank 2..4, got ${ms.length}`);
      if (last !== undefined && typeof total === 'number' && last > total) ctx.fail(`attn_mask last dim ${last} exceeds the total sequence length ${total}`);
      if (!broadcastDims(ms.slice(0, -1), [d.B, d.qh ?? '?', d.qs])) ctx.fail(`attn_mask [${ms.join(',')}] does not broadcast to (batch, q_heads, q_seq, total_seq)`);
    }
    const Y: ValueType = { dtype: q.dtype, shape: d.rank === 4 ? [d.B, d.qh ?? '?', d.qs, d.vhs] : [d.B, d.qs, typeof d.vhs === 'number' && d.qh ? d.vhs * d.qh : '?'] };
    return [
      Y,
      { dtype: q.dtype, shape: [d.B, d.kvh ?? '?', total, d.hs] },
      { dtype: q.dtype, shape: [d.B, d.kvh ?? '?', total, d.vhs] },
      { dtype: q.dtype, shape: [d.B, d.qh ?? '?', d.qs, total] },
    ].slice(0, ctx.numOutputs);
  },
  reference({ inputs, attrs, outputTypes }) {
    const [Qt, Kt, Vt, mask, pastK, pastV, nonpad] = inputs;
    const r = Qt!.dims.length;
    // to 4-D (B, H, S, D): 3-D inputs are (B, S, H·D)
    const to4 = (t: Tensor, h: number) => {
      const v = floats(t);
      if (r === 4) return { v, H: t.dims[1]!, S: t.dims[2]!, D: t.dims[3]! };
      const [B, S, HD] = t.dims as [number, number, number];
      const D = HD / h;
      const out = new Float64Array(v.length);
      for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) for (let hh = 0; hh < h; hh++) for (let dd = 0; dd < D; dd++) out[((b * h + hh) * S + s) * D + dd] = v[(b * S + s) * HD + hh * D + dd]!;
      return { v: out, H: h, S, D };
    };
    const B = Qt!.dims[0]!;
    const q = to4(Qt!, attrs.q_num_heads);
    const k0 = to4(Kt!, attrs.kv_num_heads);
    const v0 = to4(Vt!, attrs.kv_num_heads);
    const qh = q.H;
    const kvh = k0.H;
    const hs = q.D;
    const vhs = v0.D;
    // "present_key = concat(past_key, K) along the sequence axis"
    const cat = (past: Tensor | undefined, cur: { v: ArrayLike<number>; H: number; S: number; D: number }) => {
      if (!past) return { v: cur.v, S: cur.S };
      const P = past.dims[2]!;
      const pv = floats(past);
      const S = P + cur.S;
      const D = cur.D;
      const out = new Float64Array(B * cur.H * S * D);
      for (let bh = 0; bh < B * cur.H; bh++) {
        for (let i = 0; i < P * D; i++) out[bh * S * D + i] = pv[bh * P * D + i]!;
        for (let i = 0; i < cur.S * D; i++) out[bh * S * D + P * D + i] = cur.v[bh * cur.S * D + i]!;
      }
      return { v: out, S };
    };
    const K = cat(pastK, k0);
    const V = cat(pastV, v0);
    const T = K.S;
    const P = pastK ? pastK.dims[2]! : 0;
    const S = q.S;
    const scale = attrs.scale ?? 1 / Math.sqrt(hs);
    const sq = Math.sqrt(scale);
    const softcap: number = attrs.softcap;
    // attention bias (B, qh, S, T): mask (bool → 0 / -inf, float added; a short last dim padded with -inf), causal
    const bias = attentionBias(mask, nonpad, B, qh, S, T, P, !!attrs.is_causal, !!pastK);
    const rep = qh / kvh; // GQA: "interleave-repeat each KV head: [h0, h0, h1, h1, ...]"
    const Y = new Float64Array(B * qh * S * vhs);
    const mode: number = attrs.qk_matmul_output_mode;
    const qkOut = outputTypes.length > 3 ? new Float64Array(B * qh * S * T) : undefined;
    const row = new Float64Array(T);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < qh; h++) {
        const kh = Math.floor(h / rep);
        const qo = (b * qh + h) * S * hs;
        const ko = (b * kvh + kh) * T * hs;
        const vo = (b * kvh + kh) * T * vhs;
        for (let i = 0; i < S; i++) {
          const o = ((b * qh + h) * S + i) * T;
          let mx = -Infinity;
          for (let j = 0; j < T; j++) {
            let acc = 0;
            for (let dd = 0; dd < hs; dd++) acc += q.v[qo + i * hs + dd]! * sq * (K.v[ko + j * hs + dd]! * sq);
            // softcap before the mask so that -inf stays -inf
            if (softcap > 0) acc = Math.tanh(acc / softcap) * softcap;
            if (qkOut && mode <= 1) qkOut[o + j] = acc;
            acc += bias[o + j]!;
            if (qkOut && mode === 2) qkOut[o + j] = acc;
            row[j] = acc;
            if (acc > mx) mx = acc;
          }
          if (mx === -Infinity) row.fill(0); // a fully masked row attends to nothing: zeros, not NaN (ONNX tests *_nan_robustness)
          else {
            let sum = 0;
            for (let j = 0; j < T; j++) sum += row[j] = Math.exp(row[j]! - mx);
            for (let j = 0; j < T; j++) row[j] = row[j]! / sum;
          }
          if (qkOut && mode === 3) for (let j = 0; j < T; j++) qkOut[o + j] = row[j]!;
          const yo = ((b * qh + h) * S + i) * vhs;
          for (let dd = 0; dd < vhs; dd++) {
            let acc = 0;
            for (let j = 0; j < T; j++) acc += row[j]! * V.v[vo + j * vhs + dd]!;
            Y[yo + dd] = acc;
          }
        }
      }
    const dt = Qt!.type;
    let y: Float64Array = Y;
    let ydims = [B, qh, S, vhs];
    if (r === 3) {
      y = new Float64Array(Y.length);
      for (let b = 0; b < B; b++) for (let h = 0; h < qh; h++) for (let i = 0; i < S; i++) for (let dd = 0; dd < vhs; dd++) y[(b * S + i) * qh * vhs + h * vhs + dd] = Y[((b * qh + h) * S + i) * vhs + dd]!;
      ydims = [B, S, qh * vhs];
    }
    const outs = [fromFloats(dt, ydims, y), fromFloats(dt, [B, kvh, T, hs], Float64Array.from(K.v)), fromFloats(dt, [B, kvh, T, vhs], Float64Array.from(V.v))];
    if (qkOut) outs.push(fromFloats(dt, [B, qh, S, T], qkOut));
    return outs.slice(0, outputTypes.length);
  },
});

// ---------------------------------------------------------------------------------------------------------
// RMSNormalization (opset 23)
// ---------------------------------------------------------------------------------------------------------

// ONNX RMSNormalization: "XSquared = Mul(X, X); XSquaredMean = ReduceMean<axes=normalized_axes>(XSquared);
// MeanSquareEpsilon = Add(XSquaredMean, epsilon); RMS = Sqrt(MeanSquareEpsilon); Normalized = Div(X, RMS);
// Y = Mul(Normalized, Scale)" — normalized axes are [axis, ..., rank-1]; stash_type sets the compute precision
defineOp({
  name: 'RMSNormalization',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: { axis: { type: 'int', default: -1 }, epsilon: { type: 'float', default: 1e-5 }, stash_type: { type: 'int', default: 1, oneOf: [1, 11] } },
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    const s = needType(ctx, 1, FLOATS, 'scale');
    if (x.shape) {
      const r = x.shape.length;
      const a: number = ctx.attrs.axis;
      if (a < -r || a >= r) ctx.fail(`axis ${a} out of range for rank ${r}`);
      const ax = a < 0 ? a + r : a;
      if (s.shape && !broadcastDims(x.shape.slice(ax), s.shape)) ctx.fail(`scale [${s.shape.join(',')}] does not broadcast to the normalized shape [${x.shape.slice(ax).join(',')}]`);
      if (s.shape && s.shape.length > r - ax) ctx.fail(`scale has rank ${s.shape.length}, more than the ${r - ax} normalized axes`);
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const [x, s] = inputs as [Tensor, Tensor];
    const r = x.dims.length;
    const ax = attrs.axis < 0 ? attrs.axis + r : attrs.axis;
    const inner = x.dims.slice(ax).reduce((a, b) => a * b, 1);
    const outer = inner ? x.size / inner : 0;
    const xv = floats(x);
    const sv = floats(s);
    // scale broadcast over the normalized block (right-aligned)
    const nd = x.dims.slice(ax);
    const sd = [...new Array<number>(nd.length - s.dims.length).fill(1), ...s.dims];
    const sIdx = new Int32Array(inner);
    for (let i = 0; i < inner; i++) {
      let rem = i;
      let p = 0;
      let st = 1;
      for (let a = nd.length - 1; a >= 0; a--) {
        const c = rem % nd[a]!;
        rem = Math.floor(rem / nd[a]!);
        if (sd[a] !== 1) p += c * st;
        st *= sd[a]!;
      }
      sIdx[i] = p;
    }
    const f32 = attrs.stash_type === 1 ? Math.fround : (v: number) => v;
    const y = new Float64Array(x.size);
    for (let o = 0; o < outer; o++) {
      let ss = 0;
      for (let i = 0; i < inner; i++) ss += xv[o * inner + i]! * xv[o * inner + i]!;
      const rms = f32(Math.sqrt(f32(f32(ss / inner) + attrs.epsilon)));
      for (let i = 0; i < inner; i++) y[o * inner + i] = (xv[o * inner + i]! / rms) * sv[sIdx[i]!]!;
    }
    return [fromFloats(x.type, x.dims, y)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// RotaryEmbedding (opset 23)
// ---------------------------------------------------------------------------------------------------------

// ONNX RotaryEmbedding: rotate the first rotary_embedding_dim features of each head: with x1, x2 the two halves
// (or the even/odd features when interleaved), "real = cos * x1 - sin * x2; imag = sin * x1 + cos * x2"; cos/sin
// are cos_cache[position_ids] (or the caches themselves, (batch, seq, dim/2), without position_ids)
defineOp({
  name: 'RotaryEmbedding',
  inputs: [3, 4],
  outputs: [1, 1],
  attrs: { interleaved: { type: 'int', default: 0 }, num_heads: { type: 'int', default: 0 }, rotary_embedding_dim: { type: 'int', default: 0 } },
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    const c = needType(ctx, 1, [x.dtype], 'cos_cache');
    const s = needType(ctx, 2, [x.dtype], 'sin_cache');
    const p = ctx.inputs[3] ? needType(ctx, 3, ['int64'], 'position_ids') : undefined;
    if (x.shape && x.shape.length !== 3 && x.shape.length !== 4) ctx.fail(`X must be 3-D or 4-D, got rank ${x.shape.length}`);
    if (x.shape?.length === 3 && !(ctx.attrs.num_heads > 0)) ctx.fail('3-D X needs num_heads');
    const want = p ? 2 : 3;
    for (const [t, n] of [[c, 'cos_cache'], [s, 'sin_cache']] as const) if (t.shape && t.shape.length !== want) ctx.fail(`${n} must be ${want}-D ${p ? 'with' : 'without'} position_ids, got rank ${t.shape.length}`);
    if (p?.shape && p.shape.length !== 2) ctx.fail(`position_ids must be 2-D (batch, seq), got rank ${p.shape.length}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const [x, cc, sc, pos] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
    const four = x.dims.length === 4;
    const B = x.dims[0]!;
    const S = four ? x.dims[2]! : x.dims[1]!;
    const H = four ? x.dims[1]! : attrs.num_heads;
    const D = four ? x.dims[3]! : x.dims[2]! / H;
    if (!Number.isInteger(D)) throw new UnsupportedError(`hidden size ${x.dims[2]} is not a multiple of num_heads ${H}`);
    const rot: number = attrs.rotary_embedding_dim || D;
    const half = rot >> 1;
    const xv = floats(x);
    const cv = floats(cc);
    const sv = floats(sc);
    const cw = cc.dims[cc.dims.length - 1]!;
    const y = Float64Array.from(xv);
    // element (b, h, s, d) offset in X's layout
    const at = (b: number, h: number, s: number, d: number) => (four ? ((b * H + h) * S + s) * D + d : (b * S + s) * H * D + h * D + d);
    for (let b = 0; b < B; b++)
      for (let s = 0; s < S; s++) {
        const row = pos ? Number(pos.data[b * S + s]) : b * S + s;
        if (pos && (row < 0 || row >= cc.dims[0]!)) throw new UnsupportedError(`position_ids[${b},${s}] = ${row} is outside the cache of ${cc.dims[0]} positions`);
        for (let h = 0; h < H; h++)
          for (let i = 0; i < half; i++) {
            const c = cv[row * cw + i]!;
            const sn = sv[row * cw + i]!;
            const i1 = attrs.interleaved ? at(b, h, s, 2 * i) : at(b, h, s, i);
            const i2 = attrs.interleaved ? at(b, h, s, 2 * i + 1) : at(b, h, s, i + half);
            const x1 = xv[i1]!;
            const x2 = xv[i2]!;
            y[i1] = c * x1 - sn * x2;
            y[i2] = sn * x1 + c * x2;
          }
      }
    return [fromFloats(x.type, x.dims, y)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// ai.edgeq ScaledDotProductAttention: the attention block PyTorch exports, as one node (src/ir/passes/fuse-xfmr.ts)
// ---------------------------------------------------------------------------------------------------------

/**
 * Y = MatMul(Softmax(MatMul(Q, Kt) · scale + mask, axis = −1), V) — exactly the decomposed ONNX graph PyTorch writes
 * for scaled dot-product attention (the Div/Mul of Q or of the scores by constants folded into `scale`), so the plan
 * can replace that graph by this node: Q (…, S, hd), Kt (…, hd, T), V (…, T, vd) with numpy-broadcast batch dims
 * (ONNX MatMul), mask (optional) broadcastable to (…, S, T) (ONNX Add). A row whose scores are all −∞ gives NaN, as
 * ONNX Softmax's exp(x − max) / Σ does. Not an ONNX op: only plans create it; the ONNX writer never sees it.
 */
defineOp({
  name: 'ScaledDotProductAttention',
  cost: (c) => attnCost(c, dim(c.inputs[1], -1)),
  domain: 'ai.edgeq',
  inputs: [3, 4],
  outputs: [1, 1],
  attrs: { scale: { type: 'float', default: 1 } },
  inferShape(ctx) {
    const q = needType(ctx, 0, FLOATS, 'Q');
    const kt = needType(ctx, 1, [q.dtype], 'Kt');
    const v = needType(ctx, 2, [q.dtype], 'V');
    const m = ctx.inputs[3] ? needType(ctx, 3, [q.dtype], 'mask') : undefined;
    if (!q.shape || !kt.shape || !v.shape) return [{ dtype: q.dtype }];
    for (const [t, n] of [[q, 'Q'], [kt, 'Kt'], [v, 'V']] as const) if (t.shape!.length < 2) ctx.fail(`${n} must be at least 2-D, got [${t.shape!.join(',')}]`);
    const [S, hd] = q.shape.slice(-2);
    const [hd2, T] = kt.shape.slice(-2);
    const [T2, vd] = v.shape.slice(-2);
    const same = (a: Dim | undefined, b: Dim | undefined) => typeof a !== 'number' || typeof b !== 'number' || a === b;
    if (!same(hd, hd2)) ctx.fail(`Q's last dim ${hd} differs from Kt's second-to-last ${hd2}`);
    if (!same(T, T2)) ctx.fail(`Kt's last dim ${T} differs from V's second-to-last ${T2}`);
    const fail = (msg: string): never => ctx.fail(msg);
    const qk = [...broadcastDims(q.shape.slice(0, -2), kt.shape.slice(0, -2)) ?? fail(`batch dims of Q [${q.shape.join(',')}] and Kt [${kt.shape.join(',')}] do not broadcast`), S!, T!];
    if (m?.shape) {
      const mb = broadcastDims(qk, m.shape);
      if (!mb || mb.length !== qk.length || mb.some((d, i) => typeof d === 'number' && typeof qk[i] === 'number' && d !== qk[i])) ctx.fail(`mask [${m.shape.join(',')}] does not broadcast to the scores [${qk.join(',')}]`);
    }
    const batch = broadcastDims(qk.slice(0, -2), v.shape.slice(0, -2)) ?? fail(`batch dims of the scores [${qk.join(',')}] and V [${v.shape.join(',')}] do not broadcast`);
    return [{ dtype: q.dtype, shape: [...batch, S!, vd!] }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [q, kt, v, mask] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
    const out = outputTypes[0]!.shape as number[];
    const nb = out.length - 2;
    const [S, hd] = q.dims.slice(-2) as [number, number];
    const T = kt.dims.at(-1)!;
    const vd = v.dims.at(-1)!;
    const batch = out.slice(0, nb);
    const qv = floats(q);
    const kv = floats(kt);
    const vv = floats(v);
    const mv = mask ? (expandTo(mask, [...batch, S, T]) as ArrayLike<number>) : undefined;
    /** element offset of batch index `bi` (row-major over `batch`) in a tensor with dims `d` (broadcast dims: 0) */
    const offOf = (d: readonly number[], bi: number): number => {
      let off = 0;
      let rest = bi;
      let st = d.at(-1)! * d.at(-2)!;
      const lead = d.slice(0, -2);
      const idx: number[] = [];
      for (let a = nb - 1; a >= 0; a--) {
        idx[a] = rest % batch[a]!;
        rest = Math.floor(rest / batch[a]!);
      }
      for (let a = lead.length - 1, o = nb - 1; a >= 0; a--, o--) {
        if (lead[a] !== 1) off += idx[o]! * st;
        st *= lead[a]!;
      }
      return off;
    };
    const nB = batch.reduce((a, b) => a * b, 1);
    const y = new Float64Array(nB * S * vd);
    const row = new Float64Array(T);
    for (let bi = 0; bi < nB; bi++) {
      const qo = offOf(q.dims, bi);
      const ko = offOf(kt.dims, bi);
      const vo = offOf(v.dims, bi);
      for (let i = 0; i < S; i++) {
        let mx = -Infinity;
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let d = 0; d < hd; d++) s += qv[qo + i * hd + d]! * kv[ko + d * T + j]!;
          s *= attrs.scale;
          if (mv) s += mv[(bi * S + i) * T + j]!;
          row[j] = s;
          if (s > mx) mx = s;
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += row[j] = Math.exp(row[j]! - mx); // all −∞: NaN, as Softmax gives
        const yo = (bi * S + i) * vd;
        for (let j = 0; j < T; j++) {
          const p = row[j]! / sum;
          for (let c = 0; c < vd; c++) y[yo + c] += p * vv[vo + j * vd + c]!;
        }
      }
    }
    return [fromFloats(q.type, out, y)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// ai.edgeq CacheAttention: a decoder's attention over its KV cache as exported, as one node (src/ir/passes/fuse-xfmr.ts)
// ---------------------------------------------------------------------------------------------------------

/**
 * One decoder step's attention block over an explicit KV cache, exactly the ONNX graph PyTorch exports for it:
 *
 *     Qh = Transpose(Reshape(q[..., oq : oq + H·hd], [B, S, H, hd]), [0, 2, 1, 3])          (likewise Kh, Vh)
 *     present_k = Concat(past_k, Kh, axis 2)      present_v = Concat(past_v, Vh, axis 2)   [B, H, P + S, hd | vd]
 *     Y = Transpose(Softmax(Qh · present_kᵀ · scale + mask, axis −1) · present_v, [0, 2, 1, 3])   [B, S, H, vd]
 *
 * q, k, v are [B, S, W] rows holding the heads at column offsets `offsets` = [oq, ok, ov] (one fused QKV projection
 * feeds all three with the offsets its Split had); past_k [B, H, P, hd], past_v [B, H, P, vd]; mask (optional)
 * broadcastable to the scores [B, H, S, P + S] without widening them (ONNX Add). A row whose scores are all −∞ gives
 * NaN, as ONNX Softmax's exp(x − max) / Σ does. Not an ONNX op: only plans create it; the ONNX writer never sees it.
 */
defineOp({
  name: 'CacheAttention',
  cost: (c) => attnCost(c, dim(c.inputs[0], 1) + dim(c.inputs[3], 2)),
  domain: 'ai.edgeq',
  inputs: [5, 6],
  outputs: [3, 3],
  attrs: HEAD_ROWS_ATTRS,
  inferShape(ctx) {
    const { H, rows, fits } = headRows(ctx);
    const [pk, pv] = ['past_k', 'past_v'].map((w, i) => needType(ctx, i + 3, ['float32'], w).shape);
    const m = ctx.inputs[5] ? needType(ctx, 5, ['float32'], 'mask').shape : undefined;
    if (!rows || !pk || !pv) return [{ dtype: 'float32' }, { dtype: 'float32' }, { dtype: 'float32' }];
    for (const [s, w] of [[pk, 'past_k'], [pv, 'past_v']] as const) if (s.length !== 4) ctx.fail(`${w} must be [B, H, P, D], got [${s.join(',')}]`);
    const same = (a: Dim | undefined, b: Dim | undefined) => a === b || typeof a !== 'number' || typeof b !== 'number';
    const [B, S] = rows[0] as [Dim, Dim];
    for (const [s, w] of [[pk, 'past_k'], [pv, 'past_v']] as const) if (!same(s[0], B) || !same(s[1], H)) ctx.fail(`${w} [${s.join(',')}] is not [B = ${B}, H = ${H}, P, D]`);
    if (!same(pk[2], pv[2])) ctx.fail(`past_k holds ${pk[2]} rows per head, past_v ${pv[2]}`);
    const hd = pk[3]!;
    const vd = pv[3]!;
    fits(hd, vd);
    const T = addDim(pk[2]!, S);
    if (m) {
      const want: Dim[] = [B, H, S, T];
      if (m.length > 4 || m.some((d, i) => d !== 1 && !same(d, want[4 - m.length + i]))) ctx.fail(`mask [${m.join(',')}] does not broadcast to the scores [${want.join(',')}]`);
    }
    return [
      { dtype: 'float32', shape: [B, S, H, vd] },
      { dtype: 'float32', shape: [B, H, T, hd] },
      { dtype: 'float32', shape: [B, H, T, vd] },
    ];
  },
  reference({ inputs, attrs }) {
    const [q, k, v, pk, pv, mask] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | undefined];
    const H: number = attrs.heads;
    const [oq, ok, ov] = attrs.offsets as [number, number, number];
    const [B, S] = q.dims as [number, number];
    const [, , P, hd] = pk.dims as [number, number, number, number];
    const vd = pv.dims[3]!;
    const T = P + S;
    // present = Concat(past, new heads) on the length axis
    const present = (past: Tensor, x: Tensor, d: number): Tensor => {
      const y = new Float32Array(B * H * T * d);
      const pd = past.data as Float32Array;
      const xd = x.data as Float32Array;
      for (let bh = 0; bh < B * H; bh++) {
        y.set(pd.subarray(bh * P * d, (bh + 1) * P * d), bh * T * d);
        y.set(xd.subarray(bh * S * d, (bh + 1) * S * d), (bh * T + P) * d);
      }
      return new Tensor('float32', y, [B, H, T, d]);
    };
    const K = present(pk, headsOf(k, H, ok, hd), hd);
    const V = present(pv, headsOf(v, H, ov, vd), vd);
    return [mergeHeads(kvAttend(headsOf(q, H, oq, hd), K, V, T, attrs.scale as number, mask)), K, V];
  },
  doc: 'edgeq: a decoder attention block over an explicit KV cache (head split of q/k/v rows, Concat of the caches, SDPA, head merge) as one node',
});
