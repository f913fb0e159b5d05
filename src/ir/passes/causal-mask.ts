import type { Node, ValueType } from '../graph.js';
import { runInfer } from '../infer.js';
import { opFor, resolveAttrs } from '../registry.js';
import { stripNoopCasts } from './range-offset.js';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * A KV decoder's causal mask in a plan for one new token, whose length (past + 1) stays symbolic so nothing folds:
 * `ones = ConstantOfShape([S, k + b]); m = Trilu(ones, k, upper = 0) → Cast → Not → Cast → Where(m, −∞, scores)`
 * with S and b constants. Two rewrites make it a single constant fill:
 *
 * - ONNX Trilu, lower (upper = 0): "all elements above the k-th diagonal are set to zero", i.e. element (i, j) is kept
 *   iff j ≤ i + k. Over a [rows, k + b] input with b ≤ 1 every column index j ≤ k + b − 1 ≤ k ≤ i + k: the Trilu
 *   keeps everything and its readers read its input instead.
 * - A Cast or Not of a `ConstantOfShape(shape, value v)` read only there is `ConstantOfShape(shape, op(v))` (the op
 *   evaluated once on the one-element value): the Cast → Not → Cast chain collapses into one fill.
 *
 * `start`/`limit`-style int64 scalars are matched through int64→int64 (no-op) Casts. Returns whether it rewrote.
 */
export function trivialMasks(nodes: Node[], inits: Map<string, Tensor>, types: ReadonlyMap<string, ValueType>, graphOut: ReadonlySet<string>, opset: number | undefined): boolean {
  const producer = new Map<string, Node>();
  const uses = new Map<string, number>();
  const index = (): void => {
    producer.clear();
    uses.clear();
    for (const n of nodes) {
      for (const o of n.outputs) if (o) producer.set(o, n);
      for (const x of n.inputs) if (x) uses.set(x, (uses.get(x) ?? 0) + 1);
    }
  };
  index();
  const strip = stripNoopCasts(producer, types);
  const scalar = (x: string | undefined): number | undefined => {
    const t = x ? inits.get(x) : undefined;
    return t && t.size === 1 && (t.type === 'int64' || t.type === 'int32') ? t.num(0) : undefined;
  };
  const is = (n: Node | undefined, op: string): n is Node => !!n && n.op === op && n.domain === '';
  let changed = false;

  // 1. lower Trilu over [rows, k + b], b ≤ 1: keeps every element
  const rename = new Map<string, string>();
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (!is(n, 'Trilu') || n.attrs.upper !== 0 || !n.inputs[1] || !n.outputs[0] || graphOut.has(n.outputs[0])) continue;
    const fill = producer.get(n.inputs[0]!);
    const cat = is(fill, 'ConstantOfShape') ? producer.get(fill.inputs[0] ?? '') : undefined;
    if (!is(cat, 'Concat') || cat.inputs.length !== 2 || (cat.attrs.axis ?? 0) !== 0 || scalar(cat.inputs[0]) === undefined) continue;
    const unsq = producer.get(cat.inputs[1]!);
    if (!is(unsq, 'Unsqueeze') || types.get(unsq.inputs[0] ?? '')?.shape?.length !== 0) continue;
    const add = producer.get(strip(unsq.inputs[0]!));
    if (!is(add, 'Add') || add.inputs.length !== 2) continue;
    const k = strip(n.inputs[1]);
    const j = add.inputs.findIndex((x, m) => scalar(x) !== undefined && strip(add.inputs[1 - m]!) === k);
    if (j < 0 || scalar(add.inputs[j])! > 1) continue;
    rename.set(n.outputs[0], n.inputs[0]!);
    nodes.splice(i--, 1);
    changed = true;
  }
  if (rename.size) for (const n of nodes) n.inputs = n.inputs.map((x) => rename.get(x) ?? x);
  if (changed) index();

  // 2. Cast / Not of a single-use ConstantOfShape → ConstantOfShape of the converted value
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if ((!is(n, 'Cast') && !is(n, 'Not')) || !n.outputs[0]) continue;
    const fill = producer.get(n.inputs[0] ?? '');
    const v = is(fill, 'ConstantOfShape') ? (fill.attrs.value as Tensor | undefined) : undefined;
    if (!fill || !v || v.size !== 1 || uses.get(n.inputs[0]!) !== 1 || graphOut.has(n.inputs[0]!)) continue;
    const def = opFor(n, opset);
    const attrs = resolveAttrs(def, n);
    const outTypes = runInfer(def, n, attrs, [{ dtype: v.type, shape: [...v.dims] }], () => v);
    const value = def.reference({ node: n, attrs, inputs: [v], outputTypes: outTypes })[0];
    if (!value || value.size !== 1) continue;
    nodes[i] = { name: n.name, op: 'ConstantOfShape', domain: '', inputs: [fill.inputs[0]!], outputs: [n.outputs[0]], attrs: { value } };
    nodes.splice(nodes.indexOf(fill), 1);
    i = -1; // the new fill may feed the next Cast / Not
    index();
    changed = true;
  }
  return changed;
}
