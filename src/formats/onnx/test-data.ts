import { ModelFormatError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { onnxRoot } from './reader.js';
import { decodeTensor } from './tensor-proto.js';

let tensorType: import('protobufjs').Type | undefined;

/** Decode a serialized TensorProto (the `input_K.pb` / `output_K.pb` files of the ONNX test suite). */
export function readTensorProto(bytes: Uint8Array, what = 'tensor'): Tensor {
  tensorType ??= onnxRoot().lookupType('onnx.TensorProto');
  let tp: unknown;
  try {
    tp = tensorType.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(`${what}: not a valid TensorProto: ${(e as Error).message}`);
  }
  return decodeTensor(tp, what);
}
