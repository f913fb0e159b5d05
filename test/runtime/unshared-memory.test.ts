// Kernel memory that is not shared (env.wasm.numThreads = 1 before the first kernel use; a browser page that is not
// cross-origin isolated) is detached by every growth: a view of it read after an allocation is dead. The executor
// allocated an in-place Concat's block after reading the node's inputs, so a fire module's expand conv read a detached
// view ("Cannot perform %TypedArray%.prototype.set on a detached ArrayBuffer") whenever that allocation grew the
// memory — int8 calibration of squeezenet1_1 failed so (bench/models-int8). Run in child processes (the memory kind is
// fixed per process): unshared and shared memory give the same bits for every intermediate value.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./unshared-child.ts', import.meta.url));
const run = (threads: number) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', child, String(threads)], { encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop()!) as string[];

describe('unshared kernel memory', () => {
  it('fire modules with in-place Concats, every intermediate fetched: the same bits as on shared memory', () => {
    const unshared = run(1);
    const shared = run(2);
    expect(unshared.length).toBeGreaterThan(10);
    expect(unshared).toEqual(shared);
  });
});
