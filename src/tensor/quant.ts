/**
 * Quantization parameters carried on tensors: real = (q - zeroPoint) * scale, per tensor (axis undefined,
 * one scale) or per axis (one scale/zero point per slice along `axis`).
 */
export interface QuantParams {
  scale: Float32Array;
  zeroPoint: Int32Array;
  /** axis for per-axis (per-channel) parameters; undefined for per-tensor */
  axis?: number;
}

export function perTensor(scale: number, zeroPoint = 0): QuantParams {
  return { scale: Float32Array.of(scale), zeroPoint: Int32Array.of(zeroPoint) };
}
