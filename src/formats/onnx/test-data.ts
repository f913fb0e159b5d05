import { ModelFormatError, UnsupportedError } from '../../errors.js';
import type { DType } from '../../tensor/dtype.js';
import { TensorSequence } from '../../tensor/sequence.js';
import type { Tensor } from '../../tensor/tensor.js';
import { onnxProto } from './reader.js';
import { decodeTensor } from './tensor-proto.js';

/** Decode a serialized TensorProto (the `input_K.pb` / `output_K.pb` files of the ONNX test suite). */
export function readTensorProto(bytes: Uint8Array, what = 'tensor'): Tensor {
  let tp: unknown;
  try {
    tp = onnxProto.TensorProto.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(`${what}: not a valid TensorProto: ${(e as Error).message}`);
  }
  return decodeTensor(tp, what);
}

/**
 * Decode a serialized SequenceProto of tensors (sequence-typed `input_K.pb` / `output_K.pb`).
 * `elemType` names the element type when the sequence may be empty.
 */
export function readSequenceProto(bytes: Uint8Array, what = 'sequence', elemType?: DType): TensorSequence {
  let sp: any;
  try {
    sp = onnxProto.SequenceProto.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(`${what}: not a valid SequenceProto: ${(e as Error).message}`);
  }
  // SequenceProto.DataType: TENSOR = 1
  if ((sp.elem_type ?? 1) !== 1 || (sp.sparse_tensor_values ?? []).length || (sp.sequence_values ?? []).length)
    throw new UnsupportedError(`${what}: only sequences of dense tensors are supported`);
  const tensors = (sp.tensor_values ?? []).map((tp: unknown, i: number) => decodeTensor(tp, `${what} element ${i}`));
  const dtype = tensors[0]?.type ?? elemType;
  if (!dtype) throw new UnsupportedError(`${what}: empty sequence of unknown element type`);
  return new TensorSequence(dtype, tensors);
}
