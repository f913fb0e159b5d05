import type { Node } from '../../../ir/graph.js';
import { Tensor } from '../../../tensor/tensor.js';
import { type LegacyRule, uniqueName } from './index.js';

/**
 * Old-opset forms of the reduce op family, rewritten into the current form.
 * Reduce*-1..17 (ReduceSum-1..12) carry `axes` as an attribute; from opset 18 (ReduceSum 13) it is the
 * optional second input. An absent attribute means "reduce all axes", which is the absent input too.
 */
function axesToInput(op: string, upTo: number): LegacyRule {
  return {
    op,
    upTo,
    upgrade(node, g) {
      const { axes, ...attrs } = node.attrs;
      if (axes === undefined) return [{ ...node, attrs }];
      const list = Array.isArray(axes) ? (axes as number[]) : [axes as number];
      const name = uniqueName(g, `${node.name || node.outputs[0]}_axes`);
      g.initializers.set(name, new Tensor('int64', BigInt64Array.from(list.map((a) => BigInt(Math.trunc(Number(a))))), [list.length]));
      const up: Node = { ...node, inputs: [node.inputs[0]!, name], attrs };
      return [up];
    },
  };
}

const NAMES = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

export const LEGACY_REDUCE: LegacyRule[] = [...NAMES.map((n) => axesToInput(n, 17)), axesToInput('ReduceSum', 12)];
