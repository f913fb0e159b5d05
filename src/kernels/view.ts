import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena } from './wasm.js';

/**
 * Reshape, Flatten, Squeeze, Unsqueeze on float32: the output is the input's data under the new dims (the ops only
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
      if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
      return {
        name: 'view',
        run([x], [outType]) {
          return [new Tensor('float32', x!.data as Float32Array, outType!.shape as number[])];
        },
      };
    },
  };
}

for (const op of ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']) registerKernel(viewKernel(op));
