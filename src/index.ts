/** edgeq public API: mirrors onnxruntime-web (InferenceSession, Tensor) plus edgeq's own tools. */
export { EdgeqError, InputError, ModelFormatError, ShapeError, UnsupportedError, UnsupportedOpError } from './errors.js';
export { Tensor } from './tensor/tensor.js';
export type { DType, TensorData, TypedArray } from './tensor/dtype.js';
export type { QuantParams } from './tensor/quant.js';
export { f16ToF32, f32ToF16 } from './tensor/fp16.js';
export { Graph } from './ir/graph.js';
export type { Dim, Node, ValueType } from './ir/graph.js';
export { readModel } from './formats/detect.js';
export { readOnnx } from './formats/onnx/reader.js';
export { InferenceSession } from './runtime/session.js';
export type { SessionOptions, ValueMetadata } from './runtime/session.js';
export { Interpreter, type TensorDetails } from './runtime/interpreter.js';
export { readTflite } from './formats/tflite/reader.js';
export { writeOnnx } from './formats/onnx/writer.js';
export { readNpy, writeNpy } from './formats/npy.js';
export { modelStats, type ModelStats } from './ir/stats.js';
export { prune, applyMasks, NothingToPruneError, PruneOptionsError, type PruneOptions, type PruneResult } from './prune/index.js';
export { split, PipelineSession, SplitError, PipelineError, WorkerCrashError, type SplitOptions, type SplitResult, type Manifest } from './split/index.js';
