// Tests that craft or patch ONNX protobuf messages by hand (fromObject / toObject on plain objects) use protobufjs's
// reflection from schemas/onnx.proto. The runtime does not: it reads and writes through the static code generated from
// the same .proto (src/formats/onnx/onnx-proto.generated.ts), which has no reflection and no runtime code generation.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import protobuf from 'protobufjs';

let root: protobuf.Root | undefined;
/** The reflection root of schemas/onnx.proto (field names as in the .proto: keepCase, as the generated code has them). */
export function onnxRoot(): protobuf.Root {
  return (root ??= protobuf.parse(readFileSync(resolve(import.meta.dirname, '../../schemas/onnx.proto'), 'utf8'), { keepCase: true }).root);
}
