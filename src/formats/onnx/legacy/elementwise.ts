import { UnsupportedError } from '../../../errors.js';
import type { Graph, Node, ValueType } from '../../../ir/graph.js';
import { Tensor } from '../../../tensor/tensor.js';
import { type LegacyRule, uniqueName } from './index.js';

/** Old-opset forms of the elementwise op family, rewritten into the current form. */

/** Static type of a value known at import time (initializer, graph input or value_info), if any. */
function typeOf(g: Graph, name: string): ValueType | undefined {
  return g.typeOf(name) ?? g.inputs.find((i) => i.name === name)?.type;
}

/** A rank known at import time, or undefined. */
function rankOf(g: Graph, name: string): number | undefined {
  return typeOf(g, name)?.shape?.length;
}

/**
 * `name` with `k` trailing size-1 axes appended: a reshaped initializer copy when constant, else an
 * Unsqueeze (opset-13 form, axes as an input) node pushed into `pre`.
 */
function appendOnes(g: Graph, node: Node, name: string, rank: number, k: number, pre: Node[]): string {
  if (k <= 0) return name;
  const init = g.initializers.get(name);
  const out = uniqueName(g, `${name}_${node.name}_bcast`);
  if (init) {
    g.initializers.set(out, init.reshape([...init.dims, ...new Array<number>(k).fill(1)]));
    return out;
  }
  const axesName = uniqueName(g, `${out}_axes`);
  const axes = new BigInt64Array(k);
  for (let i = 0; i < k; i++) axes[i] = BigInt(rank + i);
  g.initializers.set(axesName, new Tensor('int64', axes, [k]));
  pre.push({ name: `${node.name}_unsqueeze`, op: 'Unsqueeze', domain: node.domain, inputs: [name, axesName], outputs: [out], attrs: {} });
  return out;
}

/**
 * Binary ops of opset ≤ 6: `broadcast=1` with `axis` aligns B's dims with A's dims starting at `axis`
 * ("unidirectional broadcast of B aligned at axis"); without `axis` B aligns with A's trailing dims, which is
 * what numpy broadcasting does anyway. Rewrite: append size-1 axes to B so trailing alignment gives the same.
 */
function legacyBroadcast(op: string): LegacyRule {
  return {
    op,
    upTo: 6,
    upgrade(node, g) {
      const { broadcast, axis, ...attrs } = node.attrs;
      const inputs = [...node.inputs];
      const pre: Node[] = [];
      if (broadcast === 1 && typeof axis === 'number') {
        const ra = rankOf(g, inputs[0]!);
        const rb = rankOf(g, inputs[1]!);
        if (ra === undefined || rb === undefined)
          throw new UnsupportedError(`node '${node.name}' (${node.op}): legacy broadcast with axis=${axis} needs the ranks of both inputs at import time`);
        const ax = axis < 0 ? axis + ra : axis;
        if (ax < 0 || ax + rb > ra)
          throw new UnsupportedError(`node '${node.name}' (${node.op}): legacy broadcast axis ${axis} does not fit B of rank ${rb} into A of rank ${ra}`);
        inputs[1] = appendOnes(g, node, inputs[1]!, rb, ra - ax - rb, pre);
      }
      return [...pre, { ...node, inputs, attrs }];
    },
  };
}

/** Clip before opset 11: min/max were attributes. They become inputs of X's dtype (CastLike when unknown). */
const clipRule: LegacyRule = {
  op: 'Clip',
  upTo: 10,
  upgrade(node, g) {
    const { min, max, consumed_inputs: _ci, ...attrs } = node.attrs;
    const x = node.inputs[0]!;
    const dtype = typeOf(g, x)?.dtype;
    const pre: Node[] = [];
    const bound = (v: unknown, what: string): string => {
      if (typeof v !== 'number') return '';
      const known = dtype === 'float32' || dtype === 'float64';
      const name = uniqueName(g, `${node.name}_${what}`);
      const t = dtype === 'float64' ? new Tensor('float64', new Float64Array([v]), []) : new Tensor('float32', new Float32Array([v]), []);
      if (known) {
        g.initializers.set(name, t);
        return name;
      }
      const raw = uniqueName(g, `${name}_f32`);
      g.initializers.set(raw, t);
      pre.push({ name: `${node.name}_${what}_cast`, op: 'CastLike', domain: '', inputs: [raw, x], outputs: [name], attrs: {} });
      return name;
    };
    const lo = bound(min, 'min');
    const hi = bound(max, 'max');
    const inputs = hi ? [x, lo, hi] : lo ? [x, lo] : [x];
    return [...pre, { ...node, inputs, attrs }];
  },
};

/** Cast-1: `to` was a string naming the TensorProto data type. */
const CAST_NAMES: Record<string, number> = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13,
};
const castRule: LegacyRule = {
  op: 'Cast',
  upTo: 5,
  upgrade(node) {
    const to = node.attrs.to;
    if (typeof to !== 'string') return [node];
    const code = CAST_NAMES[to.toUpperCase()];
    if (code === undefined) throw new UnsupportedError(`node '${node.name}' (Cast): cast to '${to}' is not supported`);
    return [{ ...node, attrs: { ...node.attrs, to: code } }];
  },
};

/**
 * PRelu before opset 7: a 1-D slope of size C applies per channel (axis 1), as PyTorch exported it.
 * Rewrite the slope to [C,1,…,1] so unidirectional broadcasting gives the same.
 */
const preluRule: LegacyRule = {
  op: 'PRelu',
  upTo: 6,
  upgrade(node, g) {
    const rx = rankOf(g, node.inputs[0]!);
    const st = typeOf(g, node.inputs[1]!);
    const pre: Node[] = [];
    const inputs = [...node.inputs];
    if (rx !== undefined && rx > 2 && st?.shape?.length === 1 && st.shape[0] !== 1) inputs[1] = appendOnes(g, node, inputs[1]!, 1, rx - 2, pre);
    return [...pre, { ...node, inputs }];
  },
};

export const LEGACY_ELEMENTWISE: LegacyRule[] = [
  ...['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Less', 'Greater'].map(legacyBroadcast),
  clipRule,
  castRule,
  preluRule,
];
