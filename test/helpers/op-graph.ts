// One-node graphs for op unit tests (shared by test/ops/*): build, run, and read results back.
import { upgradeNode } from '../../src/formats/onnx/legacy/index.js';
import { type Dim, Graph, type Node, type ValueType } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { InferenceSession } from '../../src/runtime/session.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** Input spec: a runtime feed (`feed`), a constant (`init`), a symbolic-shape graph input, or omitted (''). */
export type In = { name: string; feed?: Tensor; init?: Tensor; dtype?: DType; shape?: Dim[] } | '';

/** Graph with one node `n0` of `op`; outputs y0…y{nOut-1}. */
export function graph(op: string, ins: In[], attrs: Record<string, any> = {}, nOut = 1, opset = 22): Graph {
  const g = new Graph();
  g.opsets = { '': opset };
  for (const i of ins) {
    if (i === '') continue;
    if (i.init) g.initializers.set(i.name, i.init);
    else {
      const dtype = i.feed?.type ?? i.dtype!;
      const shape = i.shape ?? (i.feed ? [...i.feed.dims] : undefined);
      g.inputs.push({ name: i.name, type: { dtype, ...(shape ? { shape } : {}) } });
    }
  }
  const outs = Array.from({ length: nOut }, (_, k) => `y${k}`);
  g.nodes.push({ name: 'n0', op, domain: '', inputs: ins.map((i) => (i === '' ? '' : i.name)), outputs: outs, attrs });
  for (const o of outs) g.outputs.push({ name: o, type: { dtype: 'float32' } });
  return g;
}

/** Build and run the one-node graph, feeding every `feed` input. */
export async function run(op: string, ins: In[], attrs: Record<string, any> = {}, nOut = 1): Promise<Tensor[]> {
  const s = await InferenceSession.create(graph(op, ins, attrs, nOut));
  const feeds: Record<string, Tensor> = {};
  for (const i of ins) if (i !== '' && i.feed) feeds[i.name] = i.feed;
  const r = await s.run(feeds);
  return Array.from({ length: nOut }, (_, k) => r[`y${k}`]!);
}

export const arr = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>);
export const i64 = (v: (number | bigint)[], dims = [v.length]) => new Tensor('int64', v.map((x) => BigInt(x)), dims);

/**
 * Positional variant for layer ops: a Tensor input becomes an initializer, a ValueType a graph input (in0, in1, …),
 * '' an omitted input; outputs out0…; with `opset` the node goes through the legacy rewrite like the ONNX importer.
 */
export function layerGraph(op: string, ins: (string | Tensor | ValueType)[], attrs: Record<string, any> = {}, nOut = 1, opset?: number): Graph {
  const g = new Graph();
  const names = ins.map((v, i) => {
    const name = `in${i}`;
    if (v === '') return '';
    if (v instanceof Tensor) g.initializers.set(name, v);
    else g.inputs.push({ name, type: v as ValueType });
    return name;
  });
  const outs = Array.from({ length: nOut }, (_, i) => `out${i}`);
  const node: Node = { name: 'n0', op, domain: '', inputs: names, outputs: outs, attrs };
  if (opset !== undefined) {
    g.opsets[''] = opset;
    g.nodes.push(...upgradeNode(node, opset, g));
  } else g.nodes.push(node);
  g.outputs = outs.map((name) => ({ name, type: { dtype: 'float32' } }));
  return g;
}
