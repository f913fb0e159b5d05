import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { kernelFlavor, relaxedSimdSupported } from '../../src/kernels/wasm.js';
import { env } from '../../src/runtime/env.js';

describe('env (like onnxruntime-web ort.env)', () => {
  it('reports the version of package.json, the Node platform, min(cores, 4) kernel threads and the SIMD build in use', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(env.version).toBe(pkg.version);
    expect(env.platform).toBe('node');
    expect(env.wasm.numThreads).toBe(Math.min(4, availableParallelism())); // Node's main thread has shared memory
    expect(env.wasm.simd).toBe(kernelFlavor() !== undefined);
    expect(env.wasm.relaxedSimd).toBe(kernelFlavor() === 'relaxed');
    expect(env.wasm.relaxedSimdSupported).toBe(relaxedSimdSupported());
  });

  it('relaxedSimd can be set to what is in use, and changing it once the kernels exist is a typed error', () => {
    const inUse = env.wasm.relaxedSimd;
    env.wasm.relaxedSimd = inUse; // a no-op is fine
    if (!env.wasm.relaxedSimdSupported) {
      env.wasm.relaxedSimd = true; // allowed but cannot pick the relaxed build here: still the plain one
      expect(env.wasm.relaxedSimd).toBe(false);
    } else {
      expect(() => (env.wasm.relaxedSimd = !inUse)).toThrow(InputError);
    }
  });

  it('numThreads takes a non-negative integer (0: the default) and refuses anything else with a typed error', () => {
    const was = env.wasm.numThreads;
    expect(() => (env.wasm.numThreads = -1)).toThrow(InputError);
    expect(() => (env.wasm.numThreads = 1.5)).toThrow(InputError);
    env.wasm.numThreads = 3;
    expect(env.wasm.numThreads).toBe(3);
    env.wasm.numThreads = 0;
    expect(env.wasm.numThreads).toBe(was);
  });
});
