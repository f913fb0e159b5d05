import type { Dim } from '../ir/graph.js';
import { defineOp } from '../ir/registry.js';
import type { AttrSpec, ShapeCtx } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { needType } from './util.js';
import { KV_DOMAIN } from '../ir/passes/kv-append.js';
import { expandTo } from './broadcast.js';
import { attnCost, dim, matmulCost } from './cost.js';

/**
 * A decoder's KV cache kept in a block with spare capacity (generate.ts rewrites a step graph to these; no importer
 * makes them): the cache is [B, H, C, D] with C ≥ the rows in use, and the number of rows in use travels beside it as
 * an int64 [1] value. `KvAppend` writes the new rows at a position (the Concat(past, new) of the exported graph, without
 * copying the past), `KvMatMul` multiplies by the first `len` rows of every head (the attention MatMuls that read the
 * concatenated cache, Kᵀ read in place with transB = 1). ir/passes/kv-append.ts says where they come from.
 */

function rows(ctx: ShapeCtx, i: number, what: string): number | undefined {
  const t = needType(ctx, i, ['int64'], what);
  if (t.shape && (t.shape.length !== 1 || (typeof t.shape[0] === 'number' && t.shape[0] !== 1))) ctx.fail(`${what} must be int64 [1], got [${t.shape.join(',')}]`);
  const v = ctx.value(i);
  if (!v) return undefined;
  const n = Number((v.data as BigInt64Array)[0]);
  if (!Number.isSafeInteger(n) || n < 0) ctx.fail(`${what} is ${n}, expected a row count ≥ 0`);
  return n;
}

function cache4(ctx: ShapeCtx, i: number, what: string): Dim[] {
  const t = needType(ctx, i, ['float32'], what);
  if (!t.shape || t.shape.length !== 4) ctx.fail(`${what} must be float32 rank 4 [B, H, capacity, D], got ${t.shape ? `[${t.shape.join(',')}]` : 'unknown rank'}`);
  return [...t.shape];
}

const same = (a: Dim, b: Dim) => a === b || typeof a !== 'number' || typeof b !== 'number';

/** Attributes of the fused attention blocks over q/k/v projection rows (CacheAttention, KvAppendAttention). */
export const HEAD_ROWS_ATTRS: Record<string, AttrSpec> = {
  heads: { type: 'int', default: 1 },
  scale: { type: 'float', default: 1 },
  offsets: { type: 'ints', default: [0, 0, 0] },
};

/**
 * A fused attention block's heads / offsets attributes and its q, k, v rows (inputs 0–2, float32 [B, S, W], equal
 * in B and S), checked; `rows` undefined while a shape is unknown. `fits(hd, vd)` then checks that each holds its
 * H heads (of hd, hd, vd floats) at its column offset.
 */
export function headRows(ctx: ShapeCtx): { H: number; off: number[]; rows?: Dim[][]; fits(hd: Dim, vd: Dim): void } {
  const H: number = ctx.attrs.heads;
  const off = ctx.attrs.offsets as number[];
  if (!Number.isInteger(H) || H < 1) ctx.fail(`heads must be a positive integer, got ${H}`);
  if (off.length !== 3 || off.some((o) => !Number.isInteger(o) || o < 0)) ctx.fail(`offsets must be 3 non-negative integers, got [${off.join(',')}]`);
  const shapes = ['q', 'k', 'v'].map((w, i) => needType(ctx, i, ['float32'], w).shape);
  const rows = shapes.every((x) => x) ? (shapes as Dim[][]) : undefined;
  if (rows) {
    rows.forEach((x, i) => x.length !== 3 && ctx.fail(`${'qkv'[i]} must be [B, S, W] rows, got [${x.join(',')}]`));
    for (const i of [1, 2]) if (!same(rows[i]![0]!, rows[0]![0]!) || !same(rows[i]![1]!, rows[0]![1]!)) ctx.fail(`${'qkv'[i]} [${rows[i]!.join(',')}] and q [${rows[0]!.join(',')}] differ in [B, S]`);
  }
  const fits = (hd: Dim, vd: Dim) =>
    rows?.forEach((x, i) => {
      const d = i === 2 ? vd : hd;
      if (typeof x[2] === 'number' && typeof d === 'number' && off[i]! + H * d > x[2]) ctx.fail(`${'qkv'[i]} rows of ${x[2]} hold no ${H} heads of ${d} at offset ${off[i]}`);
    });
  return { H, off, ...(rows ? { rows } : {}), fits };
}

/**
 * KvAttention's reference: softmax(Q·K[:T]ᵀ·scale + mask)·V[:T] per head, Q [B,H,S,D], caches K [B,H,C,D] and V
 * [B,H,C,Dv] (C ≥ T), mask broadcastable to [B,H,S,T]; float64 sums. A row whose scores are all −∞ gives NaN.
 */
export function kvAttend(q: Tensor, k: Tensor, v: Tensor, T: number, scale: number, mask: Tensor | undefined): Tensor {
  const [b, h, s, d] = q.dims as [number, number, number, number];
  const [, , cap] = k.dims as [number, number, number, number];
  const vd = v.dims[3]!;
  const qv = q.data as Float32Array;
  const kv = k.data as Float32Array;
  const vv = v.data as Float32Array;
  const mv = mask ? (expandTo(mask, [b, h, s, T]) as ArrayLike<number>) : undefined;
  const y = new Float32Array(b * h * s * vd);
  const row = new Float64Array(T);
  const acc = new Float64Array(vd);
  for (let bh = 0; bh < b * h; bh++) {
    const ko = bh * cap * d;
    const vo = bh * cap * vd;
    for (let i = 0; i < s; i++) {
      const qo = (bh * s + i) * d;
      let mx = -Infinity;
      for (let j = 0; j < T; j++) {
        let x = 0;
        for (let c = 0; c < d; c++) x += qv[qo + c]! * kv[ko + j * d + c]!;
        x *= scale;
        if (mv) x += mv[(bh * s + i) * T + j]!;
        row[j] = x;
        if (x > mx) mx = x;
      }
      let sum = 0;
      for (let j = 0; j < T; j++) sum += row[j] = Math.exp(row[j]! - mx); // all −∞: NaN, as Softmax gives
      acc.fill(0);
      for (let j = 0; j < T; j++) {
        const p = row[j]! / sum;
        for (let c = 0; c < vd; c++) acc[c] += p * vv[vo + j * vd + c]!;
      }
      y.set(acc, (bh * s + i) * vd);
    }
  }
  return new Tensor('float32', y, [b, h, s, vd]);
}

/** Heads of rows x [B, S, W] at column offset o: Transpose(Reshape(x[..., o : o + H·d], [B, S, H, d]), [0, 2, 1, 3]). */
export function headsOf(x: Tensor, H: number, o: number, d: number): Tensor {
  const [B, S, w] = x.dims as [number, number, number];
  const xs = x.data as Float32Array;
  const y = new Float32Array(B * H * S * d);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) y.set(xs.subarray((b * S + s) * w + o + h * d, (b * S + s) * w + o + (h + 1) * d), ((b * H + h) * S + s) * d);
  return new Tensor('float32', y, [B, H, S, d]);
}

/** The heads merged back into rows: Transpose(y [B, H, S, d], [0, 2, 1, 3]) → [B, S, H, d]. */
export function mergeHeads(y: Tensor): Tensor {
  const [B, H, S, d] = y.dims as [number, number, number, number];
  const ys = y.data as Float32Array;
  const out = new Float32Array(ys.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) out.set(ys.subarray(((b * H + h) * S + s) * d, ((b * H + h) * S + s + 1) * d), ((b * S + s) * H + h) * d);
  return new Tensor('float32', out, [B, S, H, d]);
}

/**
 * KvAppend's rows: x [B,H,S,D] written at row `position` (p) of every head of the cache c [B,H,C,D], into `y` (a copy of
 * c's values for the reference, c's own kernel-memory block for the in-place kernel).
 */
export function appendRows(c: Tensor, x: Tensor, p: Tensor, y: Float32Array): Tensor {
  const [b, h, cap, d] = c.dims as [number, number, number, number];
  const s = x.dims[2]!;
  const pos = Number((p.data as BigInt64Array)[0]);
  const xs = x.data as Float32Array;
  for (let bh = 0; bh < b * h; bh++) y.set(xs.subarray(bh * s * d, (bh + 1) * s * d), (bh * cap + pos) * d);
  return new Tensor('float32', y, c.dims);
}

const appendDef = defineOp({
  name: 'KvAppend',
  domain: KV_DOMAIN,
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const c = cache4(ctx, 0, 'cache');
    const xs = needType(ctx, 1, ['float32'], 'new rows').shape;
    if (!xs || xs.length !== 4) return ctx.fail('new rows must be float32 rank 4 [B, H, S, D]');
    for (const k of [0, 1, 3]) if (!same(c[k]!, xs[k]!)) ctx.fail(`new rows [${xs.join(',')}] do not match the cache [${c.join(',')}] in dim ${k}`);
    const pos = rows(ctx, 2, 'position');
    if (pos !== undefined && typeof xs[2] === 'number' && typeof c[2] === 'number' && pos + xs[2] > c[2])
      ctx.fail(`${xs[2]} new rows at position ${pos} do not fit the cache's capacity ${c[2]}`);
    return [{ dtype: 'float32', shape: c }];
  },
  reference({ inputs }) {
    const [c, x, p] = inputs as Tensor[];
    return [appendRows(c!, x!, p!, (c!.data as Float32Array).slice())];
  },
  doc: 'edgeq KV cache: cache [B,H,C,D] with new rows [B,H,S,D] written at row `position` of every head (Concat(past, new) on axis 2 without copying the past)',
});

defineOp({
  name: 'KvMatMul',
  cost: matmulCost,
  domain: KV_DOMAIN,
  inputs: [3, 3],
  outputs: [1, 1],
  attrs: { transB: { type: 'int', default: 0 } },
  inferShape(ctx) {
    const as = needType(ctx, 0, ['float32'], 'A').shape;
    if (!as || as.length !== 4) return ctx.fail('A must be float32 rank 4 [B, H, M, K]');
    const c = cache4(ctx, 1, 'cache');
    for (const k of [0, 1]) if (!same(as[k]!, c[k]!)) ctx.fail(`A [${as.join(',')}] and the cache [${c.join(',')}] differ in dim ${k}`);
    const len = rows(ctx, 2, 'length');
    if (len !== undefined && typeof c[2] === 'number' && len > c[2]) ctx.fail(`length ${len} exceeds the cache's capacity ${c[2]}`);
    const tb = ctx.attrs.transB as number;
    const k = as[3]!;
    if (tb) {
      if (!same(k, c[3]!)) ctx.fail(`A's K = ${k} but the cache rows have ${c[3]} columns`);
      return [{ dtype: 'float32', shape: [as[0]!, as[1]!, as[2]!, len ?? '?'] }];
    }
    if (len !== undefined && typeof k === 'number' && k !== len) ctx.fail(`A's K = ${k} but the cache has ${len} rows in use`);
    return [{ dtype: 'float32', shape: [as[0]!, as[1]!, as[2]!, c[3]!] }];
  },
  reference({ inputs, attrs }) {
    const [a, c, l] = inputs as Tensor[];
    const [b, h, m, k] = a!.dims as [number, number, number, number];
    const [, , cap, d] = c!.dims as [number, number, number, number];
    const len = Number((l!.data as BigInt64Array)[0]);
    const tb = attrs.transB as number;
    const n = tb ? len : d;
    const av = a!.data as Float32Array;
    const cv = c!.data as Float32Array;
    const y = new Float32Array(b * h * m * n);
    // per head: A[m×k] · B, B = the first len rows (transB: their transpose), accumulated in float64 like MatMul's reference
    for (let bh = 0; bh < b * h; bh++) {
      const ao = bh * m * k;
      const co = bh * cap * d;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += av[ao + i * k + p]! * (tb ? cv[co + j * d + p]! : cv[co + p * d + j]!);
          y[(bh * m + i) * n + j] = s;
        }
    }
    return [new Tensor('float32', y, [b, h, m, n])];
  },
  doc: 'edgeq KV cache: per head, A [B,H,M,K] times the first `length` rows of cache [B,H,C,D] (transB = 1: their transpose)',
});

/**
 * Y = KvMatMul(Softmax(KvMatMul(Q, K, len, transB = 1) · scale + mask, axis = −1), V, len) in one node: attention of
 * Q [B,H,S,D] over the first `length` rows of every head of the caches K [B,H,C,D] and V [B,H,C,Dv], mask (optional)
 * additive and broadcastable to the scores [B,H,S,length]. The plan makes it from that chain in a generate() step graph
 * (src/ir/passes/fuse-xfmr.ts, the KV form of ScaledDotProductAttention); a row whose scores are all −∞ gives NaN, as
 * the Softmax of the chain does; length 0 gives zeros (the chain's MatMul over an empty axis).
 */
defineOp({
  name: 'KvAttention',
  cost: (c) => attnCost(c, dim(c.inputs[1], 2)),
  domain: KV_DOMAIN,
  inputs: [4, 5],
  outputs: [1, 1],
  attrs: { scale: { type: 'float', default: 1 } },
  inferShape(ctx) {
    const q = needType(ctx, 0, ['float32'], 'Q').shape;
    if (!q || q.length !== 4) return ctx.fail('Q must be float32 rank 4 [B, H, S, D]');
    const k = cache4(ctx, 1, 'K cache');
    const v = cache4(ctx, 2, 'V cache');
    for (const a of [0, 1]) if (!same(q[a]!, k[a]!) || !same(q[a]!, v[a]!)) ctx.fail(`Q [${q.join(',')}], K cache [${k.join(',')}] and V cache [${v.join(',')}] differ in dim ${a}`);
    if (!same(q[3]!, k[3]!)) ctx.fail(`Q's D = ${q[3]} but the K cache rows have ${k[3]} columns`);
    if (!same(k[2]!, v[2]!)) ctx.fail(`the K cache holds ${k[2]} rows per head, the V cache ${v[2]}`);
    const len = rows(ctx, 3, 'length');
    if (len !== undefined && typeof k[2] === 'number' && len > k[2]) ctx.fail(`length ${len} exceeds the caches' capacity ${k[2]}`);
    if (ctx.inputs[4]) {
      const m = needType(ctx, 4, ['float32'], 'mask').shape;
      if (m) {
        const want: Dim[] = [q[0]!, q[1]!, q[2]!, len ?? '?'];
        if (m.length > 4 || m.some((d, i) => d !== 1 && !same(d, want[4 - m.length + i]!))) ctx.fail(`mask [${m.join(',')}] does not broadcast to the scores [${want.join(',')}]`);
      }
    }
    return [{ dtype: 'float32', shape: [q[0]!, q[1]!, q[2]!, v[3]!] }];
  },
  reference({ inputs, attrs }) {
    const [q, k, v, l, mask] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor | undefined];
    return [kvAttend(q, k, v, Number((l.data as BigInt64Array)[0]), attrs.scale as number, mask)];
  },
  doc: 'edgeq KV cache: softmax(Q·K[:length]ᵀ·scale + mask)·V[:length] per head over caches [B,H,C,D] (the attention chain of a generate() step graph in one node)',
});

/**
 * KvAttention over caches that KvAppend wrote this step, with the new rows taken straight from the projection rows: in
 * a generate() step graph the plan fuses (src/ir/passes/fuse-xfmr.ts, as CacheAttention for exported caches)
 *
 *     Kh = Transpose(Reshape(k[..., ok : ok + H·hd], [B, S, H, hd]), [0,2,1,3])        (likewise Qh, Vh)
 *     K' = KvAppend(cache_k, Kh, position)      V' = KvAppend(cache_v, Vh, position)
 *     Y  = Transpose(KvAttention(Qh, K', V', length, mask?), [0,2,1,3])                 [B, S, H, vd]
 *
 * into `Y, K', V' = KvAppendAttention(q, k, v, cache_k, cache_v, position, length, mask?)` (attrs heads, scale,
 * offsets as CacheAttention's). length must be position + S. The kernel writes the new rows into the cache blocks in
 * place (when they are in kernel memory, as generate() feeds them) and K', V' are those blocks.
 */
defineOp({
  name: 'KvAppendAttention',
  cost: (c) => attnCost(c, dim(c.inputs[3], 2)),
  domain: KV_DOMAIN,
  inputs: [7, 8],
  outputs: [3, 3],
  attrs: HEAD_ROWS_ATTRS,
  inferShape(ctx) {
    const { H, rows: qkv, fits } = headRows(ctx);
    const ck = cache4(ctx, 3, 'K cache');
    const cv = cache4(ctx, 4, 'V cache');
    const pos = rows(ctx, 5, 'position');
    const len = rows(ctx, 6, 'length');
    if (!qkv) return [{ dtype: 'float32' }, { dtype: 'float32', shape: ck }, { dtype: 'float32', shape: cv }];
    const [B, S] = qkv[0] as [Dim, Dim];
    for (const [c, w] of [[ck, 'K cache'], [cv, 'V cache']] as const) if (!same(c[0]!, B) || !same(c[1]!, H)) ctx.fail(`${w} [${c.join(',')}] is not [B = ${B}, H = ${H}, C, D]`);
    if (!same(ck[2]!, cv[2]!)) ctx.fail(`the K cache holds ${ck[2]} rows per head, the V cache ${cv[2]}`);
    const vd = cv[3]!;
    fits(ck[3]!, vd);
    if (pos !== undefined && typeof S === 'number') {
      if (typeof ck[2] === 'number' && pos + S > ck[2]) ctx.fail(`${S} new rows at position ${pos} do not fit the cache's capacity ${ck[2]}`);
      if (len !== undefined && len !== pos + S) ctx.fail(`length ${len} is not position ${pos} + ${S} new rows`);
    }
    if (ctx.inputs[7]) {
      const m = needType(ctx, 7, ['float32'], 'mask').shape;
      if (m) {
        const want: Dim[] = [B, H, S, len ?? '?'];
        if (m.length > 4 || m.some((d, i) => d !== 1 && !same(d, want[4 - m.length + i]!))) ctx.fail(`mask [${m.join(',')}] does not broadcast to the scores [${want.join(',')}]`);
      }
    }
    return [
      { dtype: 'float32', shape: [B, S, H, vd] },
      { dtype: 'float32', shape: ck },
      { dtype: 'float32', shape: cv },
    ];
  },
  reference({ node, inputs, attrs }) {
    const [q, k, v, ck, cv, p, l, mask] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | undefined];
    const H: number = attrs.heads;
    const [oq, ok, ov] = attrs.offsets as [number, number, number];
    const hd = ck.dims[3]!;
    const vd = cv.dims[3]!;
    const [K] = appendDef.reference({ node, attrs: {}, inputs: [ck, headsOf(k, H, ok, hd), p], outputTypes: [] }) as Tensor[];
    const [V] = appendDef.reference({ node, attrs: {}, inputs: [cv, headsOf(v, H, ov, vd), p], outputTypes: [] }) as Tensor[];
    return [mergeHeads(kvAttend(headsOf(q, H, oq, hd), K!, V!, Number((l.data as BigInt64Array)[0]), attrs.scale as number, mask)), K!, V!];
  },
  doc: 'edgeq KV cache: the new heads of q/k/v rows appended to caches [B,H,C,D] at `position`, then attention over their first `length` rows (KvAppend ×2 + KvAttention with the head split and merge, one node)',
});
