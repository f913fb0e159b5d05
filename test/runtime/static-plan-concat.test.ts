// In-place Concat inside a static plan. The general path lets the kernels that compute a Concat's parts write them
// straight into the Concat's block (planConcats: squeezenet's fire modules, SSD box heads); the static plan now does
// the same — a part's place is the Concat's block at the part's offset, and a part that is a view (a Reshape of a
// conv output, SSD's heads) is copied there. ONNX Concat: "Concatenate a list of tensors into a single tensor. All
// input tensors must have the same shape, except for the dimension size of the axis to concatenate on." The plan
// must give the general path's bits, run after run, and be made (before, such graphs had no static plan).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const bits = (t: Tensor) => Array.from(new Uint32Array((t.data as Float32Array).slice().buffer));
const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });

function rnd(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.6;
}

interface Fire {
  squeeze: number;
  e1: number;
  e3: number;
}

/**
 * x [1, c0, h, w] → fire modules (squeeze 1×1 → Relu → expand 1×1 ‖ expand 3×3 pad 1 → Relu each → Concat on C),
 * the last followed by a head: two convs whose outputs are reshaped to [1, n, 2] and concatenated on axis 1 (views as
 * parts: copied into place), then a Sigmoid. Every Concat part has one use, so every Concat is planned in place.
 */
function fireNet(c0: number, h: number, w: number, fires: Fire[], head: boolean, seed: number): Graph {
  const r = rnd(seed);
  const g = new Graph();
  g.opsets = { '': 13 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [1, c0, h, w] } }];
  const wts = (name: string, dims: number[]) => {
    g.initializers.set(name, new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, r), dims));
    return name;
  };
  let x = 'x';
  let c = c0;
  fires.forEach((f, i) => {
    const p = (s: string) => `f${i}_${s}`;
    g.nodes.push(
      node(p('sq'), 'Conv', [x, wts(p('wsq'), [f.squeeze, c, 1, 1]), wts(p('bsq'), [f.squeeze])], [p('s')]),
      node(p('sqr'), 'Relu', [p('s')], [p('sr')]),
      node(p('e1'), 'Conv', [p('sr'), wts(p('we1'), [f.e1, f.squeeze, 1, 1]), wts(p('be1'), [f.e1])], [p('a')]),
      node(p('e1r'), 'Relu', [p('a')], [p('ar')]),
      node(p('e3'), 'Conv', [p('sr'), wts(p('we3'), [f.e3, f.squeeze, 3, 3]), wts(p('be3'), [f.e3])], [p('b')], { pads: [1, 1, 1, 1] }),
      node(p('e3r'), 'Relu', [p('b')], [p('br')]),
      node(p('cat'), 'Concat', [p('ar'), p('br')], [p('y')], { axis: 1 }),
    );
    x = p('y');
    c = f.e1 + f.e3;
  });
  if (head) {
    g.initializers.set('shape', new Tensor('int64', BigInt64Array.of(1n, -1n, 2n), [3]));
    g.nodes.push(
      node('h0', 'Conv', [x, wts('wh0', [4, c, 3, 3])], ['h0o'], { pads: [1, 1, 1, 1] }),
      node('h0r', 'Reshape', ['h0o', 'shape'], ['h0v']),
      node('h1', 'Conv', [x, wts('wh1', [6, c, 1, 1])], ['h1o']),
      node('h1r', 'Reshape', ['h1o', 'shape'], ['h1v']),
      node('hcat', 'Concat', ['h0v', 'h1v'], ['hc'], { axis: 1 }),
      node('hs', 'Sigmoid', ['hc'], ['y']), // (a graph output is never an in-place Concat's block)
    );
  } else g.nodes.push(node('out', 'Relu', [x], ['y']));
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  return g;
}

const fire = fc.record({ squeeze: fc.integer({ min: 1, max: 9 }), e1: fc.integer({ min: 1, max: 12 }), e3: fc.integer({ min: 1, max: 12 }) });

describe('static plan with in-place Concat', () => {
  it('fire modules and reshaped heads: the general path bits, run after run, and the plan is made', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 11 }), fc.array(fire, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.integer(), (c0, h, w, fires, head, seed) => {
        const g = fireNet(c0, h, w, fires, head && (h * w) % 2 === 0, seed);
        const fast = new Executor(g);
        const slow = new Executor(g, { staticPlan: false });
        try {
          for (let run = 0; run < 3; run++) {
            const x = new Tensor('float32', Float32Array.from({ length: c0 * h * w }, (_, i) => Math.sin(i * 0.3 + run + seed)), [1, c0, h, w]);
            const a = fast.run({ x }) as Record<string, Tensor>;
            const b = slow.run({ x }) as Record<string, Tensor>;
            expect(a.y!.dims).toEqual(b.y!.dims);
            expect(bits(a.y!)).toEqual(bits(b.y!));
          }
          expect(fast.staticPlanStatus()).toEqual({ static: true });
          // every Concat was planned in place
          for (const n of g.nodes) if (n.op === 'Concat') expect(fast.kernelName(n)).toBe('concat-in-place');
          expect(slow.staticPlan).toBeUndefined();
        } finally {
          fast.dispose();
          slow.dispose();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('says why a graph has no static plan', () => {
    const g = fireNet(2, 4, 4, [{ squeeze: 2, e1: 3, e3: 3 }], false, 7);
    const off = new Executor(g, { staticPlan: false });
    try {
      expect(off.staticPlanStatus()).toEqual({ static: false, why: 'not wanted (backend or staticPlan option)' });
    } finally {
      off.dispose();
    }
    // a reference-only op in the chain (Erf has kernels; Hardmax has none)
    g.nodes.push(node('hm', 'Hardmax', ['y'], ['z'], { axis: 1 }));
    g.outputs = [{ name: 'z', type: { dtype: 'float32' } }];
    const e = new Executor(g);
    try {
      e.run({ x: new Tensor('float32', new Float32Array(32), [1, 2, 4, 4]) });
      const st = e.staticPlanStatus();
      expect(st.static).toBe(false);
      expect(st.why).toMatch(/node 'hm' \(Hardmax\)/);
    } finally {
      e.dispose();
    }
  });
});
