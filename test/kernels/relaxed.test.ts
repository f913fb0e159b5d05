// The relaxed-SIMD build (dist/edgeq-relaxed.wasm, embedded): chosen only where WebAssembly.validate accepts a
// tiny relaxed-SIMD module. Node 20 needs --experimental-wasm-relaxed-simd, so this runs a child node process with
// the flag (relaxed-child.ts) and checks its kernels against the TS reference within 1e-5 (relaxed_madd may fuse).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kernelFlavor, kernels, relaxedSimdSupported } from '../../src/kernels/wasm.js';
import { WASM_RELAXED_BASE64, WASM_SIMD_BASE64 } from '../../src/kernels/wasm-binary.generated.js';

const child = fileURLToPath(new URL('./relaxed-child.ts', import.meta.url));
const run = (flags: string[], env: Record<string, string> = {}) =>
  JSON.parse(execFileSync(process.execPath, [...flags, '--import', 'tsx', child], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 }).trim().split('\n').pop()!);

describe('relaxed SIMD build', () => {
  it('the plain build validates without relaxed SIMD; this process picks whichever the runtime accepts', () => {
    expect(WebAssembly.validate(Buffer.from(WASM_SIMD_BASE64, 'base64'))).toBe(true);
    expect(WebAssembly.validate(Buffer.from(WASM_RELAXED_BASE64, 'base64'))).toBe(relaxedSimdSupported());
    expect(kernelFlavor()).toBe(relaxedSimdSupported() ? 'relaxed' : 'simd');
    expect(kernels()!.simd_relaxed()).toBe(relaxedSimdSupported() ? 1 : 0);
  });

  it('a child node with --experimental-wasm-relaxed-simd runs the relaxed kernels within 1e-5 of the reference', () => {
    const r = run(['--experimental-wasm-relaxed-simd']);
    expect(r.flavor).toBe('relaxed');
    expect(r.relaxedExport).toBe(1);
    expect(r.cases).toBe(600);
    expect(r.worst).toBeLessThanOrEqual(1e-5);
    expect(r.convDiff).toBeLessThanOrEqual(1e-5);
  }, 130_000);

  it('EDGEQ_SIMD=plain keeps the plain build even where relaxed SIMD validates', () => {
    const r = run(['--experimental-wasm-relaxed-simd'], { EDGEQ_SIMD: 'plain' });
    expect(r.flavor).toBe('simd');
    expect(r.relaxedExport).toBe(0);
    expect(r.worst).toBeLessThanOrEqual(1e-5);
  }, 130_000);
});
