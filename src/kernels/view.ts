import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena } from './wasm.js';

/**
 * Reshape, Flatten, Squeeze, Unsqueeze, Identity on any element type: the output is the input's data under the new dims (the ops only
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
      const t = types[0];
      if (!t || t.sequence) return decline(`input is ${t ? 'a sequence' : 'of unknown type'}`);
      return {
        name: 'view',
        alias: true,
        run([x], [outType]) {
          // any element type: only the dims change (quantization parameters ride along, as in the reference)
          const y = new Tensor(x!.type, x!.data, outType!.shape as number[]);
          if (x!.quant) y.quant = x!.quant;
          return [y];
        },
      };
    },
  };
}

// Identity ("Identity operator": output = input) stays a node where canonicalize cannot bypass it: a graph output's
// own name, an inlined If branch forwarding a value (ir/passes/inline-if.ts)
for (const op of ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']) registerKernel(viewKernel(op));
