import { ModelFormatError, UnsupportedError } from '../../../errors.js';
import type { AttrValue, Graph, Node } from '../../../ir/graph.js';
import { f32ToF16 } from '../../../tensor/fp16.js';
import { Tensor } from '../../../tensor/tensor.js';
import { type LegacyRule, uniqueName } from './index.js';

/**
 * Old-opset forms of the shape op family, rewritten into the current form:
 *  - Reshape-1..4: `shape` attribute → input (Reshape-5)
 *  - Slice-1..9: `starts`/`ends`/`axes` attributes → inputs (Slice-10)
 *  - Squeeze/Unsqueeze-1..12: `axes` attribute → input (opset 13)
 *  - Split-1..12: `split` attribute → input (Split-13); Split-1..17 equal split → num_outputs (Split-18)
 *  - Pad-1..10: `pads` (`paddings` in Pad-1) / `value` attributes → inputs (Pad-11)
 *  - Concat-1..3: `axis` was optional with default 1
 */

function ints(v: AttrValue | undefined, what: string): number[] {
  if (v === undefined) return [];
  if (typeof v === 'number') return [Math.trunc(v)];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new ModelFormatError(`${what} must be a list of ints`);
  return (v as number[]).map((x) => Math.trunc(x));
}

/** Add an int64 1-D initializer holding `vals`; returns its name. */
function int64Init(g: Graph, node: Node, suffix: string, vals: readonly number[]): string {
  const name = uniqueName(g, `${node.name || node.outputs[0]}_${suffix}`);
  g.initializers.set(name, new Tensor('int64', BigInt64Array.from(vals, (v) => BigInt(v)), [vals.length]));
  return name;
}

const where = (node: Node) => `node '${node.name}' (${node.op})`;

const reshape1: LegacyRule = {
  op: 'Reshape',
  upTo: 4,
  upgrade(node, g) {
    const { shape, consumed_inputs: _c, ...attrs } = node.attrs;
    if (node.inputs.length >= 2 && node.inputs[1]) return [{ ...node, attrs }];
    if (shape === undefined) throw new ModelFormatError(`${where(node)}: Reshape-1 needs a 'shape' attribute`);
    return [{ ...node, inputs: [node.inputs[0]!, int64Init(g, node, 'shape', ints(shape, `${where(node)} shape`))], attrs }];
  },
};

const slice1: LegacyRule = {
  op: 'Slice',
  upTo: 9,
  upgrade(node, g) {
    const { starts, ends, axes, ...attrs } = node.attrs;
    if (starts === undefined || ends === undefined) throw new ModelFormatError(`${where(node)}: Slice-1 needs 'starts' and 'ends' attributes`);
    const inputs = [node.inputs[0]!, int64Init(g, node, 'starts', ints(starts, 'starts')), int64Init(g, node, 'ends', ints(ends, 'ends'))];
    if (axes !== undefined) inputs.push(int64Init(g, node, 'axes', ints(axes, 'axes')));
    return [{ ...node, inputs, attrs }];
  },
};

function axesRule(op: string): LegacyRule {
  return {
    op,
    upTo: 12,
    upgrade(node, g) {
      const { axes, ...attrs } = node.attrs;
      if (axes === undefined) {
        if (op === 'Unsqueeze') throw new ModelFormatError(`${where(node)}: Unsqueeze-1..12 needs an 'axes' attribute`);
        return [{ ...node, attrs }];
      }
      return [{ ...node, inputs: [node.inputs[0]!, int64Init(g, node, 'axes', ints(axes, 'axes'))], attrs }];
    },
  };
}

const split1: LegacyRule = {
  op: 'Split',
  upTo: 17,
  upgrade(node, g, opset) {
    const { split, ...attrs } = node.attrs;
    if (split !== undefined && opset <= 12) return [{ ...node, inputs: [node.inputs[0]!, int64Init(g, node, 'split', ints(split, 'split'))], attrs }];
    // Split-1 could also take `split` as a second input: keep it
    if (node.inputs[1]) return [{ ...node, attrs }];
    // Split-2..17 without `split` means equal parts; Split-18 spells that num_outputs (same chunks when even)
    return [{ ...node, attrs: { ...attrs, num_outputs: node.outputs.length } }];
  },
};

const pad1: LegacyRule = {
  op: 'Pad',
  upTo: 10,
  upgrade(node, g) {
    const { pads, paddings, value, ...attrs } = node.attrs;
    const p = pads ?? paddings;
    if (p === undefined) throw new ModelFormatError(`${where(node)}: Pad-1..10 needs a 'pads' attribute`);
    const inputs = [node.inputs[0]!, int64Init(g, node, 'pads', ints(p, 'pads'))];
    const v = typeof value === 'number' ? value : 0;
    if (v !== 0) {
      // Pad-2..10 only takes float tensors; the constant must match the data type
      const dt = g.typeOf(node.inputs[0]!)?.dtype ?? 'float32';
      if (dt !== 'float32' && dt !== 'float64' && dt !== 'float16') throw new UnsupportedError(`${where(node)}: Pad-2 value on ${dt} data`);
      const name = uniqueName(g, `${node.name || node.outputs[0]}_value`);
      const t =
        dt === 'float16' ? new Tensor('float16', Uint16Array.of(f32ToF16(v)), []) : dt === 'float64' ? new Tensor('float64', Float64Array.of(v), []) : new Tensor('float32', Float32Array.of(v), []);
      g.initializers.set(name, t);
      inputs.push(name);
    }
    return [{ ...node, inputs, attrs }];
  },
};

const concat1: LegacyRule = {
  op: 'Concat',
  upTo: 3,
  upgrade(node) {
    // Concat-1: "axis: Which axis to concat on. Default value is 1."
    if (node.attrs.axis !== undefined) return [node];
    return [{ ...node, attrs: { ...node.attrs, axis: 1 } }];
  },
};

export const LEGACY_SHAPE: LegacyRule[] = [reshape1, slice1, axesRule('Squeeze'), axesRule('Unsqueeze'), split1, pad1, concat1];
