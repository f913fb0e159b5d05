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
