// ai.edgeq CacheAttention (ops/attention.ts, kernels/attention.ts): a decoder step's attention block over an explicit
// KV cache as PyTorch exports it — Split of the QKV rows, Reshape/Transpose into heads, Concat(past, new) for the
// presents, Q·Kᵀ / √d, mask, Softmax, ·V, Transpose back — fused by the plan (ir/passes/fuse-xfmr.ts) into one node.
// The reference is the exported chain itself on the TS reference ops (ONNX Concat: "Concatenate a list of tensors into
// a single tensor. All input tensors must have the same shape, except for the dimension size of the axis to concatenate
// on"; ONNX Softmax: "Softmax(input, axis) = Exp(input) / ReduceSum(Exp(input), axis=axis, keepdims=1)"; ONNX Add
// broadcasts the mask over the scores with numpy rules), over random shapes: head sizes past the kernels' 16/8/4-lane
// tails, S = 1 (a step: f32_attn_step) and S > 1 (a prompt), no past (P = 0), caches fed from JS or kernel memory.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { KV_DOMAIN } from '../../src/ir/passes/kv-append.js';
import { arena } from '../../src/kernels/wasm.js';
import { Executor } from '../../src/runtime/executor.js';
import { env } from '../../src/runtime/env.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../helpers/compare.js';

// one kernel thread: the kernel memory is then not shared, so a growth detaches the views made before it (what the
// growth test below needs; a shared memory's old views stay valid)
env.wasm.numThreads = 1;

interface Case {
  b: number;
  s: number;
  p: number;
  h: number;
  d: number;
  vd: number;
  split: boolean;
  zeros: boolean;
  mask: 'none' | 'full' | 'causal' | 'keys' | 'bool';
}

const op = (name: string, o: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op: o, domain: '', inputs, outputs, attrs });
const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);

const bits = (t: Tensor) => Array.from(new Uint32Array((t.data as Float32Array).slice().buffer));

/** The exported attention block (make-transformer.mjs's decoder, one layer) with static shapes. */
function block(c: Case): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  const T = c.p + c.s;
  const W = c.h * (2 * c.d + c.vd);
  g.inputs = [
    ...(c.split
      ? [{ name: 'qkv', type: { dtype: 'float32' as const, shape: [c.b, c.s, W] } }]
      : [
          { name: 'xq', type: { dtype: 'float32' as const, shape: [c.b, c.s, c.h * c.d] } },
          { name: 'xk', type: { dtype: 'float32' as const, shape: [c.b, c.s, c.h * c.d] } },
          { name: 'xv', type: { dtype: 'float32' as const, shape: [c.b, c.s, c.h * c.vd] } },
        ]),
    { name: 'past_k', type: { dtype: 'float32', shape: [c.b, c.h, c.p, c.d] } },
    { name: 'past_v', type: { dtype: 'float32', shape: [c.b, c.h, c.p, c.vd] } },
  ];
  const md = { none: [], full: [c.b, c.h, c.s, T], causal: [c.s, T], keys: [c.b, 1, c.s, 1], bool: [c.s, T] }[c.mask];
  if (md.length) g.inputs.push({ name: 'mask', type: { dtype: c.mask === 'bool' ? 'bool' : 'float32', shape: md } });
  // Reshape targets as exporters write them: the dims, or 0 ("copy this dim") / −1 for batch and length
  const target = (d: number) => i64([c.zeros ? 0 : c.b, c.zeros ? -1 : c.s, c.h, d]);
  g.initializers.set('sq', target(c.d));
  g.initializers.set('sv', target(c.vd));
  g.initializers.set('parts', i64([c.h * c.d, c.h * c.d, c.h * c.vd]));
  g.initializers.set('root', new Tensor('float32', Float32Array.of(Math.sqrt(c.d)), []));
  g.initializers.set('ninf', new Tensor('float32', Float32Array.of(-Infinity), []));
  g.initializers.set('merge', i64([c.b, c.s, c.h * c.vd]));
  const [xq, xk, xv] = c.split ? ['q0', 'k0', 'v0'] : ['xq', 'xk', 'xv'];
  const scores = c.mask === 'none' ? 'scaled' : 'masked';
  g.nodes = [
    ...(c.split ? [op('split', 'Split', ['qkv', 'parts'], ['q0', 'k0', 'v0'], { axis: 2 })] : []),
    op('rq', 'Reshape', [xq, 'sq'], ['q1']),
    op('rk', 'Reshape', [xk, 'sq'], ['k1']),
    op('rv', 'Reshape', [xv, 'sv'], ['v1']),
    op('tq', 'Transpose', ['q1'], ['q'], { perm: [0, 2, 1, 3] }),
    op('tk', 'Transpose', ['k1'], ['k'], { perm: [0, 2, 1, 3] }),
    op('tv', 'Transpose', ['v1'], ['v'], { perm: [0, 2, 1, 3] }),
    op('catk', 'Concat', ['past_k', 'k'], ['present_k'], { axis: 2 }),
    op('catv', 'Concat', ['past_v', 'v'], ['present_v'], { axis: 2 }),
    op('kt', 'Transpose', ['present_k'], ['kt'], { perm: [0, 1, 3, 2] }),
    op('qk', 'MatMul', ['q', 'kt'], ['s']),
    op('div', 'Div', ['s', 'root'], ['scaled']),
    ...(c.mask === 'bool' ? [op('where', 'Where', ['mask', 'ninf', 'scaled'], ['masked'])] : c.mask !== 'none' ? [op('add', 'Add', ['scaled', 'mask'], ['masked'])] : []),
    op('softmax', 'Softmax', [scores], ['p'], { axis: -1 }),
    op('pv', 'MatMul', ['p', 'present_v'], ['o']),
    op('to', 'Transpose', ['o'], ['o1'], { perm: [0, 2, 1, 3] }),
    op('merge', 'Reshape', ['o1', 'merge'], ['y']),
  ];
  g.outputs = ['y', 'present_k', 'present_v'].map((name) => ({ name, type: { dtype: 'float32' as const } }));
  return g;
}

/** Seeded random rows (and the case's mask) for block(c): masks never hide every key of a row (key 0 stays visible; a causal row sees its past and itself). */
function rowFeeds(c: Case, seed: number): { feeds: Record<string, Tensor>; t: (dims: number[]) => Tensor } {
  const T = c.p + c.s;
  let r = seed;
  const rnd = (n: number) => Float32Array.from({ length: n }, () => ((r = (Math.imul(r, 1103515245) + 12345) | 0) >>> 8) / (1 << 23) - 1);
  const t = (dims: number[]) => new Tensor('float32', rnd(dims.reduce((a, x) => a * x, 1)), dims);
  const feeds: Record<string, Tensor> = c.split ? { qkv: t([c.b, c.s, c.h * (2 * c.d + c.vd)]) } : { xq: t([c.b, c.s, c.h * c.d]), xk: t([c.b, c.s, c.h * c.d]), xv: t([c.b, c.s, c.h * c.vd]) };
  if (c.mask === 'full') feeds.mask = new Tensor('float32', Float32Array.from({ length: c.b * c.h * c.s * T }, (_, i) => (i % T !== 0 && (i * 7 + seed) % 5 === 0 ? -Infinity : (i % 3) * 0.25)), [c.b, c.h, c.s, T]);
  if (c.mask === 'causal') feeds.mask = new Tensor('float32', Float32Array.from({ length: c.s * T }, (_, i) => (i % T > c.p + Math.floor(i / T) ? -Infinity : 0)), [c.s, T]);
  if (c.mask === 'keys') feeds.mask = new Tensor('float32', Float32Array.from({ length: c.b * c.s }, (_, i) => i * 0.5 - 1), [c.b, 1, c.s, 1]);
  if (c.mask === 'bool') feeds.mask = new Tensor('bool', Uint8Array.from({ length: c.s * T }, (_, i) => (i % T > c.p + Math.floor(i / T) ? 1 : 0)), [c.s, T]);
  return { feeds, t };
}

const cases = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  s: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 5 })),
  p: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 37 })),
  h: fc.integer({ min: 1, max: 4 }),
  d: fc.integer({ min: 1, max: 70 }),
  vd: fc.integer({ min: 1, max: 19 }),
  split: fc.boolean(),
  zeros: fc.boolean(),
  mask: fc.constantFrom('none' as const, 'full' as const, 'causal' as const, 'keys' as const, 'bool' as const),
});

describe('CacheAttention (a decoder attention block over its KV cache, fused)', () => {
  it('the plan fuses the exported block; the kernel equals the block on the reference ops, caches from JS or kernel memory', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(cases, fc.integer(), fc.boolean(), (c, seed, resident) => {
        const { feeds, t } = rowFeeds(c, seed);
        const past = { past_k: t([c.b, c.h, c.p, c.d]), past_v: t([c.b, c.h, c.p, c.vd]) };
        const ref = new Executor(block(c), { backend: 'reference' }).run({ ...feeds, ...past });
        const exec = new Executor(block(c));
        const blocks: number[] = [];
        try {
          expect(exec.graph.nodes.filter((n) => n.op === 'CacheAttention')).toHaveLength(1);
          expect(exec.graph.nodes.map((n) => n.op)).not.toContain('Concat');
          // the fused node's own reference is the block
          const own = new Executor(exec.graph, { backend: 'reference' }).run({ ...feeds, ...past });
          for (const k of ['y', 'present_k', 'present_v']) expectClose(own[k] as Tensor, ref[k] as Tensor);
          // the static plan takes its block on the first run (a growth detaches views made before): build it first
          const general = new Executor(block(c), { staticPlan: false });
          exec.run({ ...feeds, ...past });
          const pasts = Object.entries(past);
          if (resident)
            for (const [, v] of pasts) {
              const p = mem.alloc(Math.max(v.size, 1) * 4, 'test cache');
              blocks.push(p);
              mem.f32(p, v.size).set(v.data as Float32Array);
            }
          // views made just before each run (a run that grows the memory detaches the views made before it)
          const caches = () => (resident ? Object.fromEntries(pasts.map(([k, v], i) => [k, new Tensor('float32', mem.f32(blocks[i]!, v.size), v.dims)])) : past);
          // the whole block binds into a static plan (small caches: see BIND_CACHE_BYTES); run() without it
          try {
            for (const e of [exec, general]) {
              const got = e.run({ ...feeds, ...caches() });
              expect([...e.fallbacks.values()]).toEqual([]);
              expect(e.kernelName(e.graph.nodes.find((n) => n.op === 'CacheAttention')!)).toBe('f32_cache_attention');
              for (const k of ['y', 'present_k', 'present_v']) expectClose(got[k] as Tensor, ref[k] as Tensor);
              // the presents are the past rows then the new ones, exactly
              for (const k of ['present_k', 'present_v']) expect([...(got[k] as Tensor).data]).toEqual([...(ref[k] as Tensor).data]);
            }
            // a step binds (a prompt, a boolean mask's Where and a mask broadcast over keys keep the general path)
            if (c.s === 1 && c.mask !== 'bool' && c.mask !== 'keys') expect(exec.staticPlan).toBeDefined();
            expect(general.staticPlan).toBeUndefined();
          } finally {
            general.dispose();
          }
        } finally {
          for (const p of blocks) mem.release(p);
          exec.dispose();
        }
      }),
      { numRuns: 80 },
    );
  });

  it('in a static plan reads the past caches straight from the feeds (no block of their own, any size), bit for bit as the general path', () => {
    const mem = arena()!;
    // caches past BIND_CACHE_BYTES too (a past in a block of its own would keep those on run())
    fc.assert(
      fc.property(fc.record({ p: fc.integer({ min: 0, max: 600 }), h: fc.integer({ min: 1, max: 4 }), d: fc.integer({ min: 1, max: 70 }), vd: fc.integer({ min: 1, max: 70 }), mask: fc.constantFrom('none' as const, 'causal' as const) }), fc.integer(), fc.boolean(), (r, seed, resident) => {
        const c: Case = { b: 1, s: 1, split: true, zeros: false, ...r };
        const exec = new Executor(block(c));
        const general = new Executor(block(c), { staticPlan: false });
        const blocks: number[] = [];
        try {
          for (let run = 0; run < 2; run++) {
            const { feeds, t } = rowFeeds(c, seed + run);
            const past = { past_k: t([1, c.h, c.p, c.d]), past_v: t([1, c.h, c.p, c.vd]) };
            const a = exec.run({ ...feeds, ...past });
            // the same caches fed from kernel memory (views made after the plan took its block)
            let fed: Record<string, Tensor> = past;
            if (resident) {
              const at = Object.values(past).map((v) => {
                const p = mem.alloc(Math.max(v.size, 1) * 4, 'test cache');
                blocks.push(p);
                return p;
              });
              // views made after the allocations (one that grows the memory detaches the views made before it)
              fed = Object.fromEntries(
                Object.entries(past).map(([k, v], i) => {
                  const view = mem.f32(at[i]!, v.size);
                  view.set(v.data as Float32Array);
                  return [k, new Tensor('float32', view, v.dims)];
                }),
              );
            }
            const b = exec.run({ ...feeds, ...fed });
            const want = general.run({ ...feeds, ...past });
            for (const k of ['y', 'present_k', 'present_v']) {
              expect(bits(a[k] as Tensor)).toEqual(bits(want[k] as Tensor));
              expect(bits(b[k] as Tensor)).toEqual(bits(want[k] as Tensor));
            }
          }
          const plan = exec.staticPlan;
          expect(plan).toBeDefined();
          expect(plan!.inputs.filter((i) => i.ptr < 0).map((i) => i.name)).toEqual(['past_k', 'past_v']);
          expect(() => plan!.invoke()).toThrow(/past_k.*no block/);
        } finally {
          for (const p of blocks) mem.release(p);
          exec.dispose();
          general.dispose();
        }
      }),
      { numRuns: 25 },
    );
  });

  it('reads caches fed from kernel memory by place when its own allocation grows (so detaches) the memory', () => {
    const mem = arena()!;
    const c: Case = { b: 1, s: 1, p: 5, h: 2, d: 8, vd: 8, split: true, zeros: false, mask: 'none' };
    let r = 7;
    const t = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, x) => a * x, 1) }, () => ((r = (Math.imul(r, 1103515245) + 12345) | 0) >>> 8) / (1 << 23) - 1), dims);
    const feeds = { qkv: t([1, 1, 48]) };
    const past = { past_k: t([1, 2, 5, 8]), past_v: t([1, 2, 5, 8]) };
    const ref = new Executor(block(c), { backend: 'reference' }).run({ ...feeds, ...past });
    const exec = new Executor(block(c), { staticPlan: false });
    const blocks = Object.values(past).map((v) => {
      const p = mem.alloc(v.size * 4, 'test cache');
      mem.f32(p, v.size).set(v.data as Float32Array);
      return p;
    });
    const alloc = mem.alloc;
    let grow = true;
    // the kernel's first allocation grows the memory: every view made before it (the fed caches) is detached
    mem.alloc = (bytes: number, what?: string) => {
      if (grow) {
        grow = false;
        mem.release(alloc.call(mem, mem.buffer.byteLength, 'test growth'));
      }
      return alloc.call(mem, bytes, what);
    };
    try {
      const before = mem.buffer;
      const got = exec.run({ ...feeds, past_k: new Tensor('float32', mem.f32(blocks[0]!, 80), [1, 2, 5, 8]), past_v: new Tensor('float32', mem.f32(blocks[1]!, 80), [1, 2, 5, 8]) });
      expect(mem.buffer).not.toBe(before);
      expect([...exec.fallbacks.values()]).toEqual([]);
      for (const k of ['y', 'present_k', 'present_v']) expectClose(got[k] as Tensor, ref[k] as Tensor);
    } finally {
      mem.alloc = alloc;
      for (const p of blocks) mem.release(p);
      exec.dispose();
    }
  });

  it('leaves the block alone when a value inside it has another reader', () => {
    const c: Case = { b: 1, s: 1, p: 3, h: 2, d: 4, vd: 4, split: true, zeros: false, mask: 'none' };
    const g = block(c);
    g.outputs.push({ name: 'k', type: { dtype: 'float32' } }); // the new K heads fetched too
    const exec = new Executor(g);
    try {
      expect(exec.graph.nodes.map((n) => n.op)).not.toContain('CacheAttention');
      expect(exec.graph.nodes.map((n) => n.op)).toContain('Concat');
    } finally {
      exec.dispose();
    }
  });

  it('rejects caches whose heads or head size do not match (ShapeError naming the node)', () => {
    const fused = new Graph();
    fused.opsets = { '': 17, 'ai.edgeq': 1 };
    fused.inputs = [
      { name: 'qkv', type: { dtype: 'float32', shape: ['b', 's', 'w'] } },
      { name: 'past_k', type: { dtype: 'float32', shape: ['b', 'h', 'p', 'd'] } },
      { name: 'past_v', type: { dtype: 'float32', shape: ['b', 'h', 'p', 'e'] } },
    ];
    fused.nodes = [{ name: 'cache_attention', op: 'CacheAttention', domain: 'ai.edgeq', inputs: ['qkv', 'qkv', 'qkv', 'past_k', 'past_v'], outputs: ['y', 'present_k', 'present_v'], attrs: { heads: 2, scale: 0.5, offsets: [0, 8, 16] } }];
    fused.outputs = ['y', 'present_k', 'present_v'].map((name) => ({ name, type: { dtype: 'float32' as const } }));
    const e = new Executor(fused, { backend: 'reference' });
    const t = (dims: number[]) => new Tensor('float32', new Float32Array(dims.reduce((a, x) => a * x, 1)), dims);
    expect(e.run({ qkv: t([1, 1, 24]), past_k: t([1, 2, 3, 4]), past_v: t([1, 2, 3, 4]) }).y).toBeDefined();
    expect(() => e.run({ qkv: t([1, 1, 24]), past_k: t([1, 3, 3, 4]), past_v: t([1, 3, 3, 4]) })).toThrow(/cache_attention.*past_k \[1,3,3,4\] is not \[B = 1, H = 2/);
    expect(() => e.run({ qkv: t([1, 1, 24]), past_k: t([1, 2, 3, 12]), past_v: t([1, 2, 3, 4]) })).toThrow(/cache_attention.*k rows of 24 hold no 2 heads of 12 at offset 8/);
  });
});

// KvAppendAttention (ops/kv-cache.ts): the same block in a generate() step graph (ir/passes/kv-append.ts), where the
// caches are capacity blocks [B, H, C, D]: KvAppend(cache, new heads, position) for K and V, then KvAttention over the
// first `length` rows — fused into one node that writes the new rows into the blocks in place. Reference: the unfused
// KV chain on the TS reference ops (KvAppend = Concat of the past rows and the new ones on axis 2 at `position`).
function kvBlock(c: Case & { spare: number }): Graph {
  const g = block({ ...c, mask: c.mask === 'bool' || c.mask === 'keys' ? 'causal' : c.mask });
  const cap = c.p + c.s + c.spare;
  g.opsets[KV_DOMAIN] = 1;
  for (const i of g.inputs) if (i.name === 'past_k' || i.name === 'past_v') i.type = { dtype: 'float32', shape: [c.b, c.h, cap, i.name === 'past_k' ? c.d : c.vd] };
  g.inputs.push({ name: 'pos', type: { dtype: 'int64', shape: [1] } }, { name: 'len', type: { dtype: 'int64', shape: [1] } });
  g.nodes = g.nodes.flatMap((n): Node[] => {
    if (n.op === 'Concat') return [{ name: n.name, op: 'KvAppend', domain: KV_DOMAIN, inputs: [n.inputs[0]!, n.inputs[1]!, 'pos'], outputs: n.outputs, attrs: {} }];
    if (n.name === 'kt') return [];
    if (n.name === 'qk') return [{ name: 'qk', op: 'KvMatMul', domain: KV_DOMAIN, inputs: ['q', 'present_k', 'len'], outputs: ['s'], attrs: { transB: 1 } }];
    if (n.name === 'pv') return [{ name: 'pv', op: 'KvMatMul', domain: KV_DOMAIN, inputs: ['p', 'present_v', 'len'], outputs: ['o'], attrs: { transB: 0 } }];
    return [n];
  });
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  return g;
}

describe('KvAppendAttention (the attention block of a generate() step, fused)', () => {
  it('the plan fuses the KV chain; the kernel appends in place and equals the chain on the reference ops', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(cases, fc.integer({ min: 0, max: 5 }), fc.integer(), (c0, spare, seed) => {
        const c = { ...c0, spare, mask: c0.mask === 'bool' || c0.mask === 'keys' ? ('causal' as const) : c0.mask };
        const T = c.p + c.s;
        const cap = T + spare;
        const { feeds, t } = rowFeeds(c, seed);
        feeds.pos = new Tensor('int64', BigInt64Array.of(BigInt(c.p)), [1]);
        feeds.len = new Tensor('int64', BigInt64Array.of(BigInt(T)), [1]);
        const caches = { past_k: t([c.b, c.h, cap, c.d]), past_v: t([c.b, c.h, cap, c.vd]) };
        const g = kvBlock(c);
        g.outputs.push({ name: 'present_k', type: { dtype: 'float32' } }, { name: 'present_v', type: { dtype: 'float32' } });
        const ref = new Executor(g, { backend: 'reference' }).run({ ...feeds, ...caches });
        const exec = new Executor(kvBlock(c));
        const blocks: number[] = [];
        try {
          expect(exec.graph.nodes.filter((n) => n.op === 'KvAppendAttention')).toHaveLength(1);
          expect(exec.graph.nodes.map((n) => n.op)).not.toContain('KvAppend');
          const fed = Object.fromEntries(
            Object.entries(caches).map(([k, v]) => {
              const p = mem.alloc(v.size * 4, 'test cache');
              blocks.push(p);
              mem.f32(p, v.size).set(v.data as Float32Array);
              return [k, new Tensor('float32', mem.f32(p, v.size), v.dims)];
            }),
          );
          const got = exec.run({ ...feeds, ...fed });
          expect([...exec.fallbacks.values()]).toEqual([]);
          expect(exec.kernelName(exec.graph.nodes.find((n) => n.op === 'KvAppendAttention')!)).toBe('kv_append_attention');
          expectClose(got.y as Tensor, ref.y as Tensor);
          // in place: the caller's blocks now hold the appended caches, exactly
          expect([...mem.f32(blocks[0]!, caches.past_k.size)]).toEqual([...(ref.present_k as Tensor).data]);
          expect([...mem.f32(blocks[1]!, caches.past_v.size)]).toEqual([...(ref.present_v as Tensor).data]);
          // the fused node's own reference (caches from JS: a copy) is the chain too
          const own = new Executor(exec.graph, { backend: 'reference' }).run({ ...feeds, ...caches });
          expectClose(own.y as Tensor, ref.y as Tensor);
        } finally {
          for (const p of blocks) mem.release(p);
          exec.dispose();
        }
      }),
      { numRuns: 60 },
    );
  });
});
