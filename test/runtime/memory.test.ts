// Steady state: after the first run, runs reuse the same kernel-memory blocks (issue 5: memory must not
// grow across 1,000 runs), and release() hands every packed weight back.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { arena } from '../../src/kernels/wasm.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

function convNet(): Graph {
  const g = new Graph();
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: ['N', 3, 16, 16] } }];
  g.initializers.set('W1', new Tensor('float32', rnd(8 * 3 * 9), [8, 3, 3, 3]));
  g.initializers.set('W2', new Tensor('float32', rnd(8 * 9), [8, 1, 3, 3]));
  g.initializers.set('W3', new Tensor('float32', rnd(8 * 16 * 16 * 10), [8 * 16 * 16, 10]));
  g.initializers.set('shape', new Tensor('int64', BigInt64Array.of(-1n, 2048n), [2]));
  g.nodes = [
    { name: 'c1', op: 'Conv', domain: '', inputs: ['X', 'W1'], outputs: ['a'], attrs: { pads: [1, 1, 1, 1] } },
    { name: 'r1', op: 'Relu', domain: '', inputs: ['a'], outputs: ['b'], attrs: {} },
    { name: 'dw', op: 'Conv', domain: '', inputs: ['b', 'W2'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1], group: 8 } },
    { name: 'flat', op: 'Reshape', domain: '', inputs: ['c', 'shape'], outputs: ['d'], attrs: {} },
    { name: 'fc', op: 'MatMul', domain: '', inputs: ['d', 'W3'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('kernel memory', () => {
  it('does not grow across 1,000 runs, and release() frees the packed weights', async () => {
    const mem = arena()!;
    const before = mem.inUse;
    const s = await InferenceSession.create(convNet());
    const x = new Tensor('float32', new Float32Array(2 * 3 * 16 * 16).fill(0.25), [2, 3, 16, 16]);
    const first = (await s.run({ X: x })).Y!;
    const bytes = mem.memory.buffer.byteLength;
    const held = mem.inUse;
    expect(held).toBeGreaterThan(before); // packed weights live in kernel memory
    for (let i = 0; i < 1000; i++) await s.run({ X: x });
    expect(mem.memory.buffer.byteLength).toBe(bytes);
    expect(mem.inUse).toBe(held);
    expect(Array.from((await s.run({ X: x })).Y!.data as Float32Array)).toEqual(Array.from(first.data as Float32Array));
    await s.release();
    expect(mem.inUse).toBe(before);
    await expect(s.run({ X: x })).rejects.toThrow(/released/);
  });
});

describe('shapes past 32-bit WASM memory', () => {
  it('are refused at create with ShapeError naming the node and tensor, before any kernel runs', async () => {
    // MatMul [65536 × 16384] · [16384 × 8]: A alone is 4 GiB of float32 — more than WASM32 can address
    const g = new Graph();
    g.inputs = [{ name: 'A', type: { dtype: 'float32', shape: [65536, 16384] } }];
    g.initializers.set('B', new Tensor('float32', new Float32Array(16384 * 8), [16384, 8]));
    // a first node whose weights get packed before the refusal: they must go back to the arena
    g.inputs.push({ name: 'X', type: { dtype: 'float32', shape: [4, 64] } });
    g.initializers.set('W', new Tensor('float32', new Float32Array(64 * 64), [64, 64]));
    g.nodes = [
      { name: 'small', op: 'MatMul', domain: '', inputs: ['X', 'W'], outputs: ['Z'], attrs: {} },
      { name: 'mm', op: 'MatMul', domain: '', inputs: ['A', 'B'], outputs: ['Y'], attrs: {} },
    ];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }, { name: 'Z', type: { dtype: 'float32' } }];
    const mem = arena()!;
    const before = mem.inUse;
    await expect(InferenceSession.create(g)).rejects.toThrow(/node 'mm' \(MatMul\): 'A' float32\[65536,16384\] needs 4294967296 bytes/);
    const { ShapeError } = await import('../../src/errors.js');
    await expect(InferenceSession.create(g)).rejects.toBeInstanceOf(ShapeError);
    expect(mem.inUse).toBe(before);
  });
});

describe('JS heap', () => {
  it('does not grow across 1,000 runs either (child node --expose-gc, heap measured after full GCs)', () => {
    const child = fileURLToPath(new URL('./heap-child.ts', import.meta.url));
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', child], { encoding: 'utf8', timeout: 120_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { heap0: number; heap1: number; wasm0: number; wasm1: number; kernels: string[] };
    // the run went through the kernels (not the reference ops; the Add of two runtime values folds into the conv that
    // produces one of them as a residual, so no f32_binary node is left) …
    expect(r.kernels).toEqual(expect.arrayContaining(['f32_conv2d_gemm_4x8', 'f32_maxpool2d']));
    // … WASM memory is flat, and the heap moved by less than 1 MB over 1,000 runs (a leak of one output per run,
    // 4 × 8 × 10 × 10 floats, would be 12.8 MB)
    expect(r.wasm1).toBe(r.wasm0);
    expect(Math.abs(r.heap1 - r.heap0)).toBeLessThan(1 << 20);
  });
});
