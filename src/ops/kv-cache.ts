import type { Dim } from '../ir/graph.js';
import { defineOp } from '../ir/registry.js';
import type { ShapeCtx } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { needType } from './util.js';
import { KV_DOMAIN } from '../ir/passes/kv-append.js';

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

defineOp({
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
    const [b, h, cap, d] = c!.dims as [number, number, number, number];
    const s = x!.dims[2]!;
    const pos = Number((p!.data as BigInt64Array)[0]);
    const y = (c!.data as Float32Array).slice();
    const xs = x!.data as Float32Array;
    for (let bh = 0; bh < b * h; bh++) y.set(xs.subarray(bh * s * d, (bh + 1) * s * d), (bh * cap + pos) * d);
    return [new Tensor('float32', y, c!.dims)];
  },
  doc: 'edgeq KV cache: cache [B,H,C,D] with new rows [B,H,S,D] written at row `position` of every head (Concat(past, new) on axis 2 without copying the past)',
});

defineOp({
  name: 'KvMatMul',
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
