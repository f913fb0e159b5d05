import { UnsupportedError } from '../../../errors.js';
import type { Graph, Node, ValueType } from '../../../ir/graph.js';
import { Tensor } from '../../../tensor/tensor.js';
import { type LegacyRule, uniqueName } from './index.js';

/**
 * Old-opset forms of the nn op family (conv, pool, norm, softmax, dropout, gemm), rewritten into the
 * current form. Only the first matching rule per op applies, so each rule covers every older opset.
 */

const where = (n: Node) => `node '${n.name}' (${n.op})`;

/** Static type of a value if the graph already knows it (graph inputs, value_info, initializers). */
function typeOf(g: Graph, name: string): ValueType | undefined {
  return g.inputs.find((i) => i.name === name)?.type ?? g.typeOf(name);
}

function without(attrs: Node['attrs'], ...names: string[]): Node['attrs'] {
  const out = { ...attrs };
  for (const n of names) delete out[n];
  return out;
}

/** A fresh intermediate value name (not an initializer, typed value, or output of `node`). */
function temp(g: Graph, node: Node, suffix: string): string {
  return uniqueName(g, `${node.outputs[0] || node.name}__${suffix}`);
}

/**
 * Softmax/LogSoftmax/Hardmax ≤ 12: "The input is coerced into a 2-D tensor [d0·…·d(axis-1), d(axis)·…·d(n-1)]"
 * (default axis = 1). Rewritten as Flatten(axis) → op(axis=-1) → Reshape(Shape(X)); when the rank is
 * known and axis is the last axis the old and new semantics coincide and the node is kept.
 */
function coerce2D(op: string): LegacyRule {
  return {
    op,
    upTo: 12,
    upgrade(node, g): Node[] {
      const axis = (node.attrs.axis as number | undefined) ?? 1;
      const x = node.inputs[0]!;
      const rank = typeOf(g, x)?.shape?.length;
      if (rank !== undefined && rank > 0 && (axis === -1 || axis === rank - 1)) return [{ ...node, attrs: { ...node.attrs, axis: -1 } }];
      const shape = temp(g, node, 'shape');
      const flat = temp(g, node, 'flat');
      const y2 = temp(g, node, '2d');
      g.types.set(shape, { dtype: 'int64' }); // reserve the names for later uniqueName calls
      g.types.set(flat, typeOf(g, x) ? { dtype: typeOf(g, x)!.dtype } : { dtype: 'float32' });
      g.types.set(y2, g.types.get(flat)!);
      return [
        { name: `${node.name}__shape`, op: 'Shape', domain: '', inputs: [x], outputs: [shape], attrs: {} },
        { name: `${node.name}__flatten`, op: 'Flatten', domain: '', inputs: [x], outputs: [flat], attrs: { axis } },
        { ...node, inputs: [flat], outputs: [y2], attrs: { ...node.attrs, axis: -1 } },
        { name: `${node.name}__reshape`, op: 'Reshape', domain: '', inputs: [y2, shape], outputs: [node.outputs[0]!], attrs: {} },
      ];
    },
  };
}

/** ONNX TensorProto element type of a float dtype (for Cast `to`). */
const FLOAT_CODE: Record<string, number> = { float32: 1, float16: 10, float64: 11 };

export const LEGACY_NN: LegacyRule[] = [
  // Gemm-1..6: `broadcast` (C broadcasting became unconditional in Gemm-7)
  { op: 'Gemm', upTo: 6, upgrade: (node) => [{ ...node, attrs: without(node.attrs, 'broadcast') }] },
  {
    // BatchNormalization-1..6: is_test, spatial, consumed_inputs; -7..8: spatial; -9..13: 5 outputs in training
    op: 'BatchNormalization',
    upTo: 13,
    upgrade(node, g, opset) {
      if (node.outputs.filter((o) => o !== '').length > 1)
        throw new UnsupportedError(`${where(node)}: training-mode BatchNormalization of opset ${opset} (running/saved statistics outputs) is not supported`);
      const spatial = (node.attrs.spatial as number | undefined) ?? 1;
      if (spatial === 0) {
        // spatial=0: statistics per (C, D1, …) element; identical to spatial=1 only for (N, C) inputs
        const rank = typeOf(g, node.inputs[0]!)?.shape?.length;
        if (rank !== 2) throw new UnsupportedError(`${where(node)}: spatial=0 is not supported (only for rank-2 inputs, where it equals spatial=1)`);
      }
      return [{ ...node, outputs: [node.outputs[0]!], attrs: without(node.attrs, 'is_test', 'spatial', 'consumed_inputs') }];
    },
  },
  { op: 'InstanceNormalization', upTo: 5, upgrade: (node) => [{ ...node, attrs: without(node.attrs, 'consumed_inputs') }] },
  {
    // Dropout-1..11: is_test / ratio attributes (inference: identity); -1..9: mask has the data type T
    op: 'Dropout',
    upTo: 11,
    upgrade(node, g, opset) {
      const up: Node = { ...node, attrs: without(node.attrs, 'is_test', 'ratio', 'consumed_inputs') };
      const mask = node.outputs[1];
      if (!mask || opset >= 10) return [up];
      const dt = typeOf(g, node.inputs[0]!)?.dtype;
      const to = dt ? FLOAT_CODE[dt] : undefined;
      const m = temp(g, node, 'mask');
      g.types.set(m, { dtype: 'bool' });
      // the input's type is usually only known after inference (an intermediate value): CastLike takes it then
      const cast: Node =
        to !== undefined
          ? { name: `${node.name}__mask_cast`, op: 'Cast', domain: '', inputs: [m], outputs: [mask], attrs: { to } }
          : { name: `${node.name}__mask_cast`, op: 'CastLike', domain: '', inputs: [m, node.inputs[0]!], outputs: [mask], attrs: {} };
      return [{ ...up, outputs: [node.outputs[0]!, m] }, cast];
    },
  },
  {
    // DFT-17/19: `axis` attribute (default 1) became the third input in DFT-20 (default -2)
    op: 'DFT',
    upTo: 19,
    upgrade(node, g) {
      const axis = (node.attrs.axis as number | undefined) ?? 1;
      const name = uniqueName(g, `${node.name}_axis`);
      g.initializers.set(name, new Tensor('int64', new BigInt64Array([BigInt(axis)]), []));
      const inputs = [node.inputs[0]!, node.inputs[1] ?? '', name];
      return [{ ...node, inputs, attrs: without(node.attrs, 'axis') }];
    },
  },
  coerce2D('Softmax'),
  coerce2D('LogSoftmax'),
  coerce2D('Hardmax'),
  {
    // LpPool-1: p is a float attribute (int from LpPool-2)
    op: 'LpPool',
    upTo: 1,
    upgrade(node) {
      const p = (node.attrs.p as number | undefined) ?? 2;
      if (!Number.isInteger(p)) throw new UnsupportedError(`${where(node)}: non-integer p=${p} is not supported`);
      return [{ ...node, attrs: { ...node.attrs, p } }];
    },
  },
  {
    op: 'GlobalLpPool',
    upTo: 1,
    upgrade(node) {
      const p = (node.attrs.p as number | undefined) ?? 2;
      if (!Number.isInteger(p)) throw new UnsupportedError(`${where(node)}: non-integer p=${p} is not supported`);
      return [{ ...node, attrs: { ...node.attrs, p } }];
    },
  },
  {
    // MeanVarianceNormalization-1: across_channels / normalize_variance instead of axes
    op: 'MeanVarianceNormalization',
    upTo: 8,
    upgrade(node) {
      const across = (node.attrs.across_channels as number | undefined) ?? 0;
      const nv = (node.attrs.normalize_variance as number | undefined) ?? 1;
      if (nv === 0) throw new UnsupportedError(`${where(node)}: normalize_variance=0 is not supported`);
      const attrs = without(node.attrs, 'across_channels', 'normalize_variance');
      if (across) attrs.axes = [0, 1, 2, 3];
      return [{ ...node, attrs }];
    },
  },
  {
    // GroupNormalization-18..20: scale and bias have shape (num_groups); -21 wants (C): repeat each C/G times
    op: 'GroupNormalization',
    upTo: 20,
    upgrade(node, g) {
      const G = node.attrs.num_groups as number;
      const c = typeOf(g, node.inputs[0]!)?.shape?.[1];
      const s = g.initializers.get(node.inputs[1]!);
      const b = g.initializers.get(node.inputs[2]!);
      if (typeof c !== 'number' || !s || !b || !(G >= 1) || c % G !== 0 || s.size !== G || b.size !== G)
        throw new UnsupportedError(`${where(node)}: GroupNormalization before opset 21 needs constant per-group scale/bias and a known channel count`);
      const per = c / G;
      const expand = (t: Tensor, base: string) => {
        const v = new (t.data.constructor as Float32ArrayConstructor)(c);
        for (let ch = 0; ch < c; ch++) v[ch] = (t.data as Float32Array)[Math.floor(ch / per)]!;
        const name = uniqueName(g, `${node.name}_${base}_per_channel`);
        g.initializers.set(name, new Tensor(t.type, v, [c]));
        return name;
      };
      return [{ ...node, inputs: [node.inputs[0]!, expand(s, 'scale'), expand(b, 'bias')] }];
    },
  },
];
