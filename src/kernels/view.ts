import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena } from './wasm.js';

/**
 * Reshape, Flatten, Squeeze, Unsqueeze on float32 / int8 / uint8: the output is the input's data under the new dims (the ops only
 * relabel dims: ONNX Reshape "the data is not changed, only the shape"), so a block in kernel memory stays there as an
 * alias (Residency counts it) instead of a reference op that round-trips through a JS copy. The shape rule already
 * validated the target dims, and `outputTypes` carry them concretely.
 */
function viewKernel(op: string): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(_node, _attrs, types) {
      if (!arena()) return decline('no WASM memory');
      const dt = types[0]?.dtype;
      // float32, and the 8-bit codes of quantized models (TFLite RESHAPE keeps scale and zero point: the importer's
      // sameQuant check), whose blocks live in kernel memory the same way
      if (dt !== 'float32' && dt !== 'int8' && dt !== 'uint8') return decline(`input is ${dt ?? 'of unknown type'}, not float32 / int8 / uint8`);
      return {
        name: 'view',
        run([x], [outType]) {
          const t = new Tensor(dt, x!.data as Float32Array | Int8Array | Uint8Array, outType!.shape as number[]);
          if (x!.quant) t.quant = x!.quant;
          return [t];
        },
      };
    },
  };
}

for (const op of ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']) registerKernel(viewKernel(op));
