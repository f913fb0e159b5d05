// Shared by the dense f32, fp16-weight and sparse Gemm kernels. No kernel registration here, so importing it does not
// change the order in which kernels are tried (src/kernels/index.ts: sparse first).

/**
 * Gemm's beta·C as the packed per-column bias: "Y = alpha·A'·B' + beta·C" with C unidirectionally broadcast to (M, N),
 * which fits the panels only when C is a single value or one row of N; undefined for a full M×N C.
 */
export function gemmRowBias(cd: ArrayLike<number>, dims: readonly number[], n: number, beta: number): Float32Array | undefined {
  if (cd.length === 1) return new Float32Array(n).fill(beta * cd[0]!);
  if (cd.length === n && (dims.length === 1 || (dims.length === 2 && dims[0] === 1))) return Float32Array.from(cd, (v) => beta * v);
  return undefined;
}
