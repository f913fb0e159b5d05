import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { kernelFlavor, relaxedSimdSupported } from '../../src/kernels/wasm.js';
import { env } from '../../src/runtime/env.js';

describe('env (like onnxruntime-web ort.env)', () => {
  it('reports the version of package.json, the Node platform, one thread and the SIMD build in use', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(env.version).toBe(pkg.version);
    expect(env.platform).toBe('node');
    expect(env.wasm.numThreads).toBe(1);
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
});
