// Compile-time SIMD flavour (not re-exported by asm/index.ts: inline helpers only). scripts/build-asm.mjs builds asm/ twice: `--use RELAXED=0` (plain SIMD128, the
// default and complete build) and `--use RELAXED=1 --enable relaxed-simd` (dist/edgeq-relaxed.wasm). AssemblyScript
// compiles only the taken branch of an `if` on a constant, so the plain build contains no relaxed opcode.

/** c + a·b: one fused f32x4.relaxed_madd in the relaxed build (FMA where the CPU has it), else mul then add. */
// @ts-ignore: decorator
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  // @ts-ignore: RELAXED is defined on the asc command line (--use RELAXED=0|1)
  if (RELAXED) return f32x4.relaxed_madd(a, b, c);
  else return f32x4.add(c, f32x4.mul(a, b));
}
