import { Graph, type Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** Two SqueezeNet fire modules on a 1×8×33×33 input (big enough that the run grows kernel memory), seeded weights. */
export function fireNet(): { g: Graph; x: Tensor } {
  let s = 7;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const f32 = (dims: number[], k = 0.3) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * k), dims);
  const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [1, 8, 33, 33] } }];
  let cur = 'x';
  let c = 8;
  for (let m = 0; m < 2; m++) {
    const p = `f${m}`;
    g.initializers.set(`${p}sw`, f32([4, c, 1, 1]));
    g.initializers.set(`${p}ew1`, f32([16, 4, 1, 1]));
    g.initializers.set(`${p}ew3`, f32([16, 4, 3, 3]));
    g.nodes.push(
      node(`${p}sq`, 'Conv', [cur, `${p}sw`], [`${p}s`], { kernel_shape: [1, 1] }),
      node(`${p}sr`, 'Relu', [`${p}s`], [`${p}sR`]),
      node(`${p}e1`, 'Conv', [`${p}sR`, `${p}ew1`], [`${p}a`], { kernel_shape: [1, 1] }),
      node(`${p}e1r`, 'Relu', [`${p}a`], [`${p}aR`]),
      node(`${p}e3`, 'Conv', [`${p}sR`, `${p}ew3`], [`${p}b`], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
      node(`${p}e3r`, 'Relu', [`${p}b`], [`${p}bR`]),
      node(`${p}cat`, 'Concat', [`${p}aR`, `${p}bR`], [`${p}c`], { axis: 1 }),
    );
    cur = `${p}c`;
    c = 32;
  }
  g.outputs = [{ name: cur, type: { dtype: 'float32' } }];
  const x = f32([1, 8, 33, 33], 1);
  return { g, x };
}
