import { Tensor } from '../../../tensor/tensor.js';
import { type LegacyRule, uniqueName } from './index.js';

/**
 * Old forms of the resize family:
 *  - Upsample-7 carries `scales` as an attribute; Upsample-9 takes it as the second input.
 *  - Resize-10 is Upsample-9 under a new name (X, scales; "output_dimension = floor(input_dimension * scale)").
 * The Upsample definition (src/ops/resize.ts) implements Upsample-9.
 */
export const LEGACY_RESIZE: LegacyRule[] = [
  {
    op: 'Upsample',
    upTo: 8,
    upgrade(node, g) {
      const { scales, ...attrs } = node.attrs;
      if (!Array.isArray(scales)) return [node]; // Upsample's inferShape reports the missing scales
      const name = uniqueName(g, `${node.name || node.outputs[0]}_scales`);
      g.initializers.set(name, new Tensor('float32', Float32Array.from(scales as number[]), [scales.length]));
      return [{ ...node, inputs: [node.inputs[0]!, name], attrs }];
    },
  },
  {
    op: 'Resize',
    upTo: 10,
    upgrade(node) {
      return [{ ...node, op: 'Upsample' }];
    },
  },
];
