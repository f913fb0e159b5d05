/**
 * Large float tables left float by the MatMul quantizers (token / position embeddings read by Gather,
 * Slice or Add) become int8 codes with one symmetric scale per row plus a DequantizeLinear (per-axis,
 * axis = rank − 2) in front of their consumers: in a small transformer they are a third of the file.
 */
import type { Graph, Node } from '../ir/graph.js';
import { floats } from '../ops/util.js';
import { Tensor } from '../tensor/tensor.js';
import { Names, consumersOf, f32, mkNode } from './graph-util.js';

const TABLE_READERS = new Set(['Gather', 'Slice', 'Add', 'Expand', 'Reshape', 'Identity', 'Unsqueeze', 'Squeeze']);

export function quantizeTables(g: Graph, exclude: ReadonlySet<string>, minElements = 16384): { name: string; elements: number }[] {
  const cons = consumersOf(g);
  const names = new Names(g);
  const graphOut = new Set(g.outputs.map((o) => o.name));
  const done: { name: string; elements: number }[] = [];
  const head: Node[] = [];
  for (const [name, t] of [...g.initializers]) {
    if (g.inputs.some((i) => i.name === name)) continue;
    if (t.type !== 'float32' || t.size < minElements || t.dims.length < 2 || graphOut.has(name) || exclude.has(name)) continue;
    const cs = cons.get(name) ?? [];
    if (!cs.length || cs.some((n) => n.domain !== '' || !TABLE_READERS.has(n.op) || exclude.has(n.name) || (n.op === 'Gather' && n.inputs[0] !== name))) continue;
    const v = floats(t);
    const axis = t.dims.length - 2;
    const rows = t.dims.slice(0, axis + 1).reduce((a, b) => a * b, 1);
    const nAxis = t.dims[axis]!;
    const rowLen = t.size / rows;
    // per-axis scales cover dims[axis]; rows before the axis (leading 1s in [1, P, D]) share them
    const amax = new Float32Array(nAxis);
    for (let r = 0; r < rows; r++) for (let i = 0; i < rowLen; i++) amax[r % nAxis] = Math.max(amax[r % nAxis]!, Math.abs(v[r * rowLen + i]!));
    const scales = Float32Array.from(amax, (a) => (a > 0 ? a / 127 : 1));
    const q = new Int8Array(t.size);
    for (let r = 0; r < rows; r++) {
      const s = scales[r % nAxis]!;
      for (let i = 0; i < rowLen; i++) q[r * rowLen + i] = Math.max(-127, Math.min(127, Math.round(v[r * rowLen + i]! / s)));
    }
    const qn = names.take(`${name}_quantized`);
    const sn = names.take(`${name}_scale`);
    g.initializers.delete(name);
    g.initializers.set(qn, new Tensor('int8', q, t.dims));
    g.initializers.set(sn, f32([nAxis], scales));
    head.push(mkNode(names.take(`${name}_DequantizeLinear`), 'DequantizeLinear', [qn, sn], [name], { axis }));
    done.push({ name, elements: t.size });
  }
  g.nodes = [...head, ...g.nodes];
  return done;
}
