/** Domain of the TFLite ops that have no ONNX counterpart (see src/ops/tflite.ts). */
export const TFL_DOMAIN = 'ai.edgeq.tflite';

/**
 * Attributes that are edgeq extensions of ONNX ops (set by the TFLite importer): `data_layout` (Conv, MaxPool,
 * AveragePool, QLinearConv), `weight_layout` (Conv, QLinearConv) and `rounding` (QLinearConv, QGemm).
 * Their defaults are ONNX's own behaviour; the WASM kernels and the ONNX writer handle only those.
 * Returns a description of the first non-default one in `attrs` (a node's raw or resolved attributes).
 */
export function nonOnnxAttr(attrs: Record<string, unknown>): string | undefined {
  const d = attrs.data_layout;
  if (d !== undefined && d !== 'NCHW') return `data_layout ${String(d)}`;
  const w = attrs.weight_layout;
  if (w !== undefined && w !== 'OIHW') return `weight_layout ${String(w)}`;
  const r = attrs.rounding;
  if (r !== undefined && r !== 'onnx') return `rounding ${String(r)}`;
  return undefined;
}
