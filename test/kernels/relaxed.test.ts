// The relaxed-SIMD build (dist/edgeq-relaxed.wasm, embedded): chosen only where WebAssembly.validate accepts a
// tiny relaxed-SIMD module. Node 20 needs --experimental-wasm-relaxed-simd, so this runs a child node process with
// the flag (relaxed-child.ts) and checks its kernels against the TS reference within 1e-5 (relaxed_madd may fuse).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kernelBinary, kernelFlavor, kernels, relaxedSimdSupported } from '../../src/kernels/wasm.js';

const child = fileURLToPath(new URL('./relaxed-child.ts', import.meta.url));
const qs8Child = fileURLToPath(new URL('./relaxed-qs8-child.ts', import.meta.url));
const run = (flags: string[], env: Record<string, string> = {}, file = child, args: string[] = []) =>
  JSON.parse(execFileSync(process.execPath, [...flags, '--import', 'tsx', file, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 }).trim().split('\n').pop()!);

describe('relaxed SIMD build', () => {
  it('the plain build validates without relaxed SIMD; this process picks whichever the runtime accepts', () => {
    expect(WebAssembly.validate(kernelBinary('simd'))).toBe(true);
    expect(WebAssembly.validate(kernelBinary('relaxed'))).toBe(relaxedSimdSupported());
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

  // int8 GEMM (relaxed-qs8-child.ts): whichever packing the engine's probe picks ('plain', or the c4 relaxed-dot
  // kernel with weights stored as int8 / uint8) must be BIT-EXACT to the reference on full-range data, under
  // default tiering and with V8's baseline compiler only (Node 20's Liftoff miscomputes
  // i32x4.relaxed_dot_i8x16_i7x16_add_s on x64 — the probe runs qs8_gemm_c4 itself, so it rejects that too).
  for (const flags of [[], ['--liftoff', '--no-wasm-tier-up']]) {
    it(`int8 GEMM with the probed packing is bit-exact to the reference (${flags.join(' ') || 'default tiering'})`, () => {
      const r = run(['--experimental-wasm-relaxed-simd', ...flags], {}, qs8Child, ['auto']);
      expect(r.flavor).toBe('relaxed');
      expect(r.mode).toBe(r.probed);
      expect(r.failure).toBeNull();
      expect(r.runs).toBe(400); // 150 QLinearMatMul + 150 MatMulInteger + 100 DynamicQuantizeMatMul (float epilogue)
    }, 130_000);
  }

  // The c4 kernel itself on this engine, each packing forced, with data where that packing is exact on every
  // engine (see relaxed-qs8-child.ts); optimizing compiler only, because of the Liftoff bug above.
  for (const mode of ['signed', 'unsigned']) {
    it(`qs8_gemm_c4 with weights stored ${mode} is bit-exact where the relaxed dot is exact (--no-liftoff)`, () => {
      const r = run(['--experimental-wasm-relaxed-simd', '--no-liftoff'], {}, qs8Child, [mode]);
      expect(r.flavor).toBe('relaxed');
      expect(r.mode).toBe(mode);
      expect(r.failure).toBeNull();
      expect(r.runs).toBe(300);
    }, 130_000);
  }
});
