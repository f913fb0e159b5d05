import { ModelFormatError, SealError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { type ReadOnnxOptions, readOnnx } from './onnx/reader.js';
import { isSealed } from './sealed.js';
import { readTflite } from './tflite/reader.js';

export type ModelFormat = 'onnx' | 'tflite';

/** TFLite files carry the identifier "TFL3" at bytes 4..8; everything else is tried as ONNX protobuf. */
export function detectFormat(bytes: Uint8Array): ModelFormat {
  if (bytes.length >= 8 && bytes[4] === 0x54 && bytes[5] === 0x46 && bytes[6] === 0x4c && bytes[7] === 0x33) return 'tflite';
  return 'onnx';
}

/** Parse model bytes of either format into the IR. */
export function readModel(bytes: Uint8Array, opts: ReadOnnxOptions = {}): Graph {
  if (!(bytes instanceof Uint8Array)) throw new ModelFormatError('model must be given as bytes (Uint8Array/ArrayBuffer) or a path');
  if (bytes.length === 0) throw new ModelFormatError('model file is empty');
  if (isSealed(bytes)) throw new SealError('key-required', 'the model is sealed; open it with InferenceSession.create(bytes, { decryptionKey }) or `edgeq verify --key-file`');
  const fmt = detectFormat(bytes);
  if (fmt === 'tflite') return readTflite(bytes);
  return readOnnx(bytes, opts);
}
