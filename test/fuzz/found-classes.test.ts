// One regression test per class of failure the structure-aware fuzzer (scripts/fuzz-models.ts) found: each names the
// typed error the single validation point now gives, where before there was a hang, a trap or a corrupted allocator.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import { Arena, type KernelExports } from '../../src/kernels/wasm.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { i64, run } from '../helpers/op-graph.js';

const f32 = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) / 7), dims);

describe('classes found by the structure-aware fuzzer', () => {
  it('Attention: nonpad_kv_seqlen outside [0, total length] → ShapeError naming it (was a 2^31-step loop)', async () => {
    const ins = (np: number[]) => [
      { name: 'Q', feed: f32([2, 3, 4, 8]) },
      { name: 'K', feed: f32([2, 3, 6, 8]) },
      { name: 'V', feed: f32([2, 3, 6, 10]) },
      '' as const,
      '' as const,
      '' as const,
      { name: 'L', feed: i64(np) },
    ];
    const [y] = await run('Attention', ins([6, 4]));
    expect(y!.dims).toEqual([2, 3, 4, 10]);
    for (const bad of [-(2 ** 31), -1, 7])
      await expect(run('Attention', ins([bad, 4]))).rejects.toThrow(new RegExp(`Attention.*nonpad_kv_seqlen\\[0\\] = ${bad} out of range \\[0, 6\\]`));
  });

  it('kernel arena: a request of 2 GB or more is refused with ShapeError and leaves the allocator sound', () => {
    // a memory that may not grow past 4 pages: the request must fail at the grow, not hand out a block
    const a = new Arena({ memory: new WebAssembly.Memory({ initial: 1, maximum: 4 }) } as unknown as KernelExports);
    const p1 = a.alloc(64, 'first');
    expect(() => a.alloc(2 ** 31, 'huge')).toThrow(ShapeError);
    expect(() => a.alloc(2 ** 31, 'huge')).toThrow(/huge: 2147483648 bytes: WASM memory cannot grow/);
    const p2 = a.alloc(64, 'second');
    expect(p2).toBeGreaterThan(p1); // before: the negative block size moved the heap top back over live blocks
    a.release(p1);
    expect(a.alloc(64, 'third')).toBe(p1);
    expect(a.inUse).toBe(2 * (64 + 16));
  });
});
