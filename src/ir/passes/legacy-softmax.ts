import type { Node, ValueType } from '../graph.js';
import type { Tensor } from '../../tensor/tensor.js';

const OPS = new Set(['Softmax', 'LogSoftmax', 'Hardmax']);

/**
 * Softmax / LogSoftmax / Hardmax of opset ≤ 12 "coerce the input into a 2-D tensor [d0·…·d(axis−1), d(axis)·…·d(n−1)]";
 * the ONNX importer writes such a node as `Flatten(x, axis) → op(axis = −1) → Reshape(·, Shape(x))`
 * (formats/onnx/legacy/nn.ts) whenever it cannot see x's rank — the usual case, since value types are known only
 * after shape inference. When x's rank r is known here and axis = r − 1, the 2-D form reduces over x's last axis
 * alone, which is exactly opset 13's `op(x, axis = −1)`: the three nodes become that one node. Exported attention
 * blocks then read MatMul → Softmax → MatMul again, the pattern the plan fuses (fuse-xfmr.ts), and the softmax runs
 * without the two copies.
 *
 * The Reshape's shape must be x's own: the output of `Shape(x)`, or (once that folded) a constant equal to x's static
 * shape. The Flatten's and the op's outputs must each have that one reader and not be graph outputs. Rewrites
 * `nodes` in place; returns whether it changed anything.
 */
export function lastAxisSoftmax(nodes: Node[], inits: Map<string, Tensor>, types: ReadonlyMap<string, ValueType>, graphOut: ReadonlySet<string>): boolean {
  const producer = new Map<string, Node>();
  const readers = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const x of n.inputs) if (x) (readers.get(x) ?? readers.set(x, []).get(x)!).push(n);
  }
  const only = (v: string): Node | undefined => {
    const r = readers.get(v);
    return r?.length === 1 && !graphOut.has(v) ? r[0] : undefined;
  };
  const is = (n: Node | undefined, op: string): n is Node => !!n && n.op === op && n.domain === '';
  /** whether `s` is x's shape: Shape(x) (whole), or a constant equal to x's static shape */
  const shapeOf = (s: string | undefined, x: string, shape: ValueType['shape']): boolean => {
    if (!s) return false;
    const p = producer.get(s);
    if (is(p, 'Shape') && p.inputs[0] === x && p.attrs.start === undefined && p.attrs.end === undefined) return true;
    const c = inits.get(s);
    if (!c || (c.type !== 'int64' && c.type !== 'int32') || !shape || shape.some((d) => typeof d !== 'number')) return false;
    return c.size === shape.length && shape.every((d, i) => c.num(i) === d);
  };
  const drop = new Set<Node>();
  const rename = new Map<Node, Node>();
  for (const flat of nodes) {
    if (!is(flat, 'Flatten') || !flat.inputs[0] || !flat.outputs[0]) continue;
    const x = flat.inputs[0];
    const shape = types.get(x)?.shape;
    if (!shape || shape.length < 1) continue;
    const r = shape.length;
    const axis = (flat.attrs.axis as number | undefined) ?? 1;
    if ((axis < 0 ? axis + r : axis) !== r - 1) continue;
    const sm = only(flat.outputs[0]);
    if (!sm || sm.domain !== '' || !OPS.has(sm.op) || sm.inputs[0] !== flat.outputs[0] || !sm.outputs[0]) continue;
    const smAxis = (sm.attrs.axis as number | undefined) ?? -1;
    if (smAxis !== -1 && smAxis !== 1) continue; // over the 2-D form's last axis
    const back = only(sm.outputs[0]);
    if (!is(back, 'Reshape') || back.inputs[0] !== sm.outputs[0] || !back.outputs[0] || !shapeOf(back.inputs[1], x, shape)) continue;
    drop.add(flat);
    drop.add(back);
    rename.set(sm, { ...sm, inputs: [x], outputs: [back.outputs[0]], attrs: { ...sm.attrs, axis: -1 } });
  }
  if (!drop.size) return false;
  // the op takes the Reshape's place (its readers come after it); the Shape node, if any, is left to dead-node removal
  const out: Node[] = [];
  const at = new Map<Node, Node>();
  for (const [sm, repl] of rename) {
    const back = nodes.find((n) => n.op === 'Reshape' && n.inputs[0] === sm.outputs[0])!;
    at.set(back, repl);
  }
  for (const n of nodes) {
    if (rename.has(n) || (drop.has(n) && !at.has(n))) continue;
    out.push(at.get(n) ?? n);
  }
  nodes.splice(0, nodes.length, ...out);
  return true;
}
