// KV cache kernels (kernels/kv-cache.ts) against the TS references (ops/kv-cache.ts) over random shapes: KvAppend
// writes the new rows into a cache block fed from kernel memory, in place, and KvMatMul multiplies by the first `len`
// rows of each head with the block's head stride (both orientations; M = 1 on f32_gemv_t / f32_gemv_n, reading the
// rows unpacked, else packed panels and the 4×8 GEMM; D and len past the 16/8/4-lane tails). The
// references are the exported ops they replace: ONNX Concat ("Concatenate a list of tensors into a single tensor. All
// input tensors must have the same shape, except for the dimension size of the axis to concatenate on") of the past
// rows and the new ones on axis 2, and ONNX MatMul ("Matrix product that behaves like numpy.matmul") of the rows in use.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { KV_DOMAIN } from '../../src/ir/passes/kv-append.js';
import { arena } from '../../src/kernels/wasm.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../helpers/compare.js';

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: KV_DOMAIN, inputs, outputs, attrs });
const i64 = (v: number) => new Tensor('int64', BigInt64Array.of(BigInt(v)), [1]);

interface Case {
  b: number;
  h: number;
  d: number;
  m: number;
  s: number;
  pos: number;
  spare: number;
}

function graph(c: Case): Graph {
  const g = new Graph();
  g.opsets = { '': 20, [KV_DOMAIN]: 1 };
  const cap = c.pos + c.s + c.spare;
  const len = c.pos + c.s;
  g.inputs = [
    { name: 'cache', type: { dtype: 'float32', shape: [c.b, c.h, cap, c.d] } },
    { name: 'new', type: { dtype: 'float32', shape: [c.b, c.h, c.s, c.d] } },
    { name: 'q', type: { dtype: 'float32', shape: [c.b, c.h, c.m, c.d] } },
    { name: 'p', type: { dtype: 'float32', shape: [c.b, c.h, c.m, len] } },
    { name: 'pos', type: { dtype: 'int64', shape: [1] } },
    { name: 'len', type: { dtype: 'int64', shape: [1] } },
  ];
  g.nodes = [
    node('append', 'KvAppend', ['cache', 'new', 'pos'], ['present']),
    node('scores', 'KvMatMul', ['q', 'present', 'len'], ['s'], { transB: 1 }),
    node('mix', 'KvMatMul', ['p', 'present', 'len'], ['o'], { transB: 0 }),
  ];
  g.outputs = [{ name: 's', type: { dtype: 'float32' } }, { name: 'o', type: { dtype: 'float32' } }, { name: 'present', type: { dtype: 'float32' } }];
  return g;
}

const cases = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 4 }),
  d: fc.integer({ min: 1, max: 19 }),
  m: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 5 })), // M = 1 (a decoder step) takes the unpacked GEMV kernels
  s: fc.integer({ min: 1, max: 3 }),
  pos: fc.integer({ min: 0, max: 21 }),
  spare: fc.integer({ min: 0, max: 9 }),
});

describe('KvAppend / KvMatMul kernels', () => {
  it('equal the reference ops; the cache block fed from kernel memory is appended in place', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(cases, fc.integer(), (c, seed) => {
        const cap = c.pos + c.s + c.spare;
        const len = c.pos + c.s;
        let r = seed;
        const rnd = (n: number) => Float32Array.from({ length: n }, () => ((r = (Math.imul(r, 1103515245) + 12345) | 0) >>> 8) / (1 << 23) - 1);
        const cacheJs = rnd(c.b * c.h * cap * c.d);
        const feeds = {
          new: new Tensor('float32', rnd(c.b * c.h * c.s * c.d), [c.b, c.h, c.s, c.d]),
          q: new Tensor('float32', rnd(c.b * c.h * c.m * c.d), [c.b, c.h, c.m, c.d]),
          p: new Tensor('float32', rnd(c.b * c.h * c.m * len), [c.b, c.h, c.m, len]),
          pos: i64(c.pos),
          len: i64(len),
        };
        const ref = new Executor(graph(c), { backend: 'reference' }).run({ ...feeds, cache: new Tensor('float32', cacheJs, [c.b, c.h, cap, c.d]) });
        const exec = new Executor(graph(c));
        const blk = mem.alloc(cacheJs.length * 4, 'test cache');
        try {
          mem.f32(blk, cacheJs.length).set(cacheJs);
          const got = exec.run({ ...feeds, cache: new Tensor('float32', mem.f32(blk, cacheJs.length), [c.b, c.h, cap, c.d]) });
          expect([...exec.fallbacks.values()]).toEqual([]);
          for (const k of ['s', 'o', 'present']) expectClose(got[k] as Tensor, ref[k] as Tensor);
          // in place: the caller's block now holds the appended cache (and was not freed by the run)
          expect([...mem.f32(blk, cacheJs.length)]).toEqual([...(ref.present as Tensor).data]);
        } finally {
          mem.release(blk);
          exec.dispose();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('rejects rows that do not fit the capacity and lengths past it (ShapeError naming the node)', () => {
    const c = { b: 1, h: 2, d: 4, m: 1, s: 1, pos: 3, spare: 0 };
    const g = graph(c);
    const e = new Executor(g, { backend: 'reference' });
    const cache = new Tensor('float32', new Float32Array(2 * 4 * 4), [1, 2, 4, 4]);
    const feeds = { cache, new: new Tensor('float32', new Float32Array(8), [1, 2, 1, 4]), q: new Tensor('float32', new Float32Array(8), [1, 2, 1, 4]), p: new Tensor('float32', new Float32Array(8), [1, 2, 1, 4]), pos: i64(4), len: i64(4) };
    expect(() => e.run(feeds)).toThrow(/append.*do not fit the cache's capacity 4/);
    expect(() => e.run({ ...feeds, pos: i64(3), len: i64(5) })).toThrow(/scores.*length 5 exceeds the cache's capacity 4/);
  });
});

// KvAttention: the attention chain of a generate() step graph — KvMatMul(Q, K, len, transB = 1) → Mul(scale) →
// [Add(mask)] → Softmax(axis −1) → KvMatMul(·, V, len) — fused by the plan (ir/passes/fuse-xfmr.ts) into one node on
// the fused attention kernel. ONNX Softmax: "Softmax(input, axis) = Exp(input) / ReduceSum(Exp(input), axis=axis,
// keepdims=1)"; ONNX Add broadcasts the mask (numpy rules) over the scores [B, H, S, len].
interface AttnCase {
  b: number;
  h: number;
  d: number;
  vd: number;
  s: number;
  len: number;
  spare: number;
  mask: 'none' | 'full' | 'row' | 'batch';
}

function chain(c: AttnCase, fused: boolean): Graph {
  const g = new Graph();
  g.opsets = { '': 20, [KV_DOMAIN]: 1 };
  const cap = c.len + c.spare;
  const md = { none: [], full: [c.b, c.h, c.s, c.len], row: [1, 1, c.s, c.len], batch: [c.b, 1, 1, c.len] }[c.mask];
  g.inputs = [
    { name: 'q', type: { dtype: 'float32', shape: [c.b, c.h, c.s, c.d] } },
    { name: 'k', type: { dtype: 'float32', shape: [c.b, c.h, cap, c.d] } },
    { name: 'v', type: { dtype: 'float32', shape: [c.b, c.h, cap, c.vd] } },
    { name: 'len', type: { dtype: 'int64', shape: [1] } },
    ...(c.mask === 'none' ? [] : [{ name: 'mask', type: { dtype: 'float32' as const, shape: md } }]),
  ];
  g.initializers.set('scale', new Tensor('float32', Float32Array.of(1 / Math.sqrt(c.d)), []));
  const masked = c.mask === 'none' ? 'scaled' : 'masked';
  g.nodes = fused
    ? [node('attn', 'KvAttention', ['q', 'k', 'v', 'len', ...(c.mask === 'none' ? [] : ['mask'])], ['o'], { scale: Math.fround(1 / Math.sqrt(c.d)) })]
    : [
        node('scores', 'KvMatMul', ['q', 'k', 'len'], ['s'], { transB: 1 }),
        { name: 'mul', op: 'Mul', domain: '', inputs: ['s', 'scale'], outputs: ['scaled'], attrs: {} },
        ...(c.mask === 'none' ? [] : [{ name: 'add', op: 'Add', domain: '', inputs: ['scaled', 'mask'], outputs: ['masked'], attrs: {} }]),
        { name: 'softmax', op: 'Softmax', domain: '', inputs: [masked], outputs: ['p'], attrs: { axis: -1 } },
        node('mix', 'KvMatMul', ['p', 'v', 'len'], ['o'], { transB: 0 }),
      ];
  g.outputs = [{ name: 'o', type: { dtype: 'float32' } }];
  return g;
}

const attnCases = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 5 }),
  d: fc.integer({ min: 1, max: 70 }),
  vd: fc.integer({ min: 1, max: 19 }),
  s: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 6 })), // S = 1: a decoder step (f32_attn_step)
  len: fc.integer({ min: 1, max: 40 }),
  spare: fc.integer({ min: 0, max: 9 }),
  mask: fc.constantFrom('none' as const, 'full' as const, 'row' as const, 'batch' as const),
});

describe('KvAttention (the fused attention chain of a generate() step)', () => {
  it('the plan fuses the chain; the kernel equals the unfused chain on the reference, caches in kernel memory or not', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(attnCases, fc.integer(), fc.boolean(), (c, seed, resident) => {
        const cap = c.len + c.spare;
        let r = seed;
        const rnd = (n: number) => Float32Array.from({ length: n }, () => ((r = (Math.imul(r, 1103515245) + 12345) | 0) >>> 8) / (1 << 23) - 1);
        const kJs = rnd(c.b * c.h * cap * c.d);
        const vJs = rnd(c.b * c.h * cap * c.vd);
        const md = { none: [], full: [c.b, c.h, c.s, c.len], row: [1, 1, c.s, c.len], batch: [c.b, 1, 1, c.len] }[c.mask];
        // a causal-looking mask: −∞ on some keys, never on every key of a row (key 0 stays visible)
        const mask = md.length ? new Tensor('float32', Float32Array.from({ length: md.reduce((a, b) => a * b, 1) }, (_, i) => (i % md.at(-1)! !== 0 && (i * 7 + seed) % 5 === 0 ? -Infinity : (i % 3) * 0.25)), md) : undefined;
        const feeds = {
          q: new Tensor('float32', rnd(c.b * c.h * c.s * c.d), [c.b, c.h, c.s, c.d]),
          len: i64(c.len),
          ...(mask ? { mask } : {}),
        };
        const js = { k: new Tensor('float32', kJs, [c.b, c.h, cap, c.d]), v: new Tensor('float32', vJs, [c.b, c.h, cap, c.vd]) };
        const ref = new Executor(chain(c, false), { backend: 'reference' }).run({ ...feeds, ...js });
        // the op's own reference is the chain
        expectClose(new Executor(chain(c, true), { backend: 'reference' }).run({ ...feeds, ...js }).o as Tensor, ref.o as Tensor);
        const exec = new Executor(chain(c, false));
        const kb = mem.alloc(kJs.length * 4, 'test k');
        const vb = mem.alloc(vJs.length * 4, 'test v');
        try {
          expect(exec.graph.nodes.map((n) => n.op)).toEqual(['KvAttention']);
          mem.f32(kb, kJs.length).set(kJs);
          mem.f32(vb, vJs.length).set(vJs);
          const caches = resident ? { k: new Tensor('float32', mem.f32(kb, kJs.length), js.k.dims), v: new Tensor('float32', mem.f32(vb, vJs.length), js.v.dims) } : js;
          const got = exec.run({ ...feeds, ...caches });
          expect([...exec.fallbacks.values()]).toEqual([]);
          expect(exec.kernelName(exec.graph.nodes[0]!)).toBe('kv_attention');
          expectClose(got.o as Tensor, ref.o as Tensor);
        } finally {
          mem.release(kb);
          mem.release(vb);
          exec.dispose();
        }
      }),
      { numRuns: 80 },
    );
  });

  it('rejects a length past the capacity and a mask that does not broadcast (ShapeError naming the node)', () => {
    const c: AttnCase = { b: 1, h: 2, d: 4, vd: 4, s: 1, len: 3, spare: 0, mask: 'row' };
    const e = new Executor(chain(c, true), { backend: 'reference' });
    const t = (dims: number[]) => new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    const feeds = { q: t([1, 2, 1, 4]), k: t([1, 2, 3, 4]), v: t([1, 2, 3, 4]), len: i64(3), mask: t([1, 1, 1, 3]) };
    expect(e.run(feeds).o).toBeDefined();
    expect(() => e.run({ ...feeds, len: i64(4) })).toThrow(/attn.*length 4 exceeds the caches' capacity 3/);
    expect(() => e.run({ ...feeds, len: i64(2) })).toThrow(/attn.*mask \[1,1,1,3\] does not broadcast to the scores \[1,2,1,2\]/);
  });
});
