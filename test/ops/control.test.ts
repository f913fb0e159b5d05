import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ModelFormatError, ShapeError } from '../../src/errors.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph, type Node, type ValueType } from '../../src/ir/graph.js';
import { capturedBy } from '../../src/ir/subgraph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

const f = (shape: number[]): ValueType => ({ dtype: 'float32', shape });
const node = (op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => {
  const n: Node = { name: `${op}_${outputs[0]}`, op, domain: '', inputs, outputs, attrs };
  n.inputs.push(...capturedBy(n)); // as the reader does: outer values the bodies read become inputs
  return n;
};
function body(name: string, inputs: [string, ValueType][], outputs: [string, ValueType][], nodes: Node[]): Graph {
  const g = new Graph();
  g.name = name;
  g.inputs = inputs.map(([n, type]) => ({ name: n, type }));
  g.outputs = outputs.map(([n, type]) => ({ name: n, type }));
  g.nodes = nodes;
  return g;
}

/**
 * x [2,3], c bool, w [3] (initializer, read inside bodies):
 *   If(c):   then y = x + w, else y = x * w                  (outer input and initializer captured)
 *   Loop(M=n, cond=true): acc += y; scan out acc             (loop-carried state, scan output, captured y)
 *   Scan over the rows of x: state s += row; scan out s·2    (scan input, state, scan output)
 */
function model(): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'x', type: f([2, 3]) }, { name: 'c', type: { dtype: 'bool', shape: [] } }, { name: 'n', type: { dtype: 'int64', shape: [] } }];
  g.initializers.set('w', new Tensor('float32', Float32Array.of(1, 2, 3), [3]));
  g.initializers.set('t', new Tensor('bool', Uint8Array.of(1), []));
  g.initializers.set('z', new Tensor('float32', new Float32Array(6), [2, 3]));
  g.initializers.set('s0', new Tensor('float32', new Float32Array(3), [3]));
  const then = body('then', [], [['ty', f([2, 3])]], [node('Add', ['x', 'w'], ['ty'])]);
  const els = body('else', [], [['ey', f([2, 3])]], [node('Mul', ['x', 'w'], ['ey'])]);
  const loop = body(
    'loop',
    [['i', { dtype: 'int64', shape: [] }], ['cin', { dtype: 'bool', shape: [] }], ['acc', f([2, 3])]],
    [['cout', { dtype: 'bool', shape: [] }], ['acc2', f([2, 3])], ['acc3', f([2, 3])]],
    [node('Identity', ['cin'], ['cout']), node('Add', ['acc', 'y'], ['acc2']), node('Identity', ['acc2'], ['acc3'])],
  );
  const scan = body('scan', [['s', f([3])], ['row', f([3])]], [['s2', f([3])], ['d', f([3])]], [node('Add', ['s', 'row'], ['s2']), node('Add', ['s2', 's2'], ['d'])]);
  g.nodes = [
    node('If', ['c'], ['y'], { then_branch: then, else_branch: els }),
    node('Loop', ['n', 't', 'z'], ['accN', 'accs'], { body: loop }),
    node('Scan', ['s0', 'x'], ['sN', 'ds'], { body: scan, num_scan_inputs: 1 }),
  ];
  g.outputs = [{ name: 'y', type: f([2, 3]) }, { name: 'accN', type: f([2, 3]) }, { name: 'accs', type: { dtype: 'float32' } }, { name: 'sN', type: f([3]) }, { name: 'ds', type: f([2, 3]) }];
  return g;
}

describe('control flow: If / Loop / Scan with captured outer values', () => {
  const bytes = writeOnnx(model());

  // ONNX If: "then_branch: Graph to run if condition is true"; Loop: "scan_outputs are concatenated along a new first
  // axis"; Scan: "the body is run once per element of the scan inputs along scan_input_axes"
  it('matches onnxruntime-node over random inputs, cond and trip counts (written with writeOnnx, read back)', async () => {
    const ours = await InferenceSession.create(readOnnx(bytes));
    const peer = await ort.InferenceSession.create(bytes);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 6, maxLength: 6 }), fc.boolean(), fc.integer({ min: 0, max: 5 }), async (xs, c, n) => {
        const x = Float32Array.from(xs);
        const got = await ours.run({ x: new Tensor('float32', x, [2, 3]), c: new Tensor('bool', Uint8Array.of(c ? 1 : 0), []), n: new Tensor('int64', BigInt64Array.of(BigInt(n)), []) });
        const want = await peer.run({ x: new ort.Tensor('float32', x, [2, 3]), c: new ort.Tensor('bool', Uint8Array.of(c ? 1 : 0), []), n: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), []) });
        for (const k of Object.keys(want)) {
          expect(got[k]!.dims, k).toEqual([...want[k]!.dims]);
          const a = got[k]!.data as Float32Array;
          const b = want[k]!.data as Float32Array;
          for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!), `${k}[${i}]`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(b[i]!)));
        }
      }),
      { numRuns: 30 },
    );
  });

  it('writes bodies without the captured tail (valid ONNX: If keeps its single input)', () => {
    const g = readOnnx(bytes);
    const iff = g.nodes.find((n) => n.op === 'If')!;
    expect(iff.inputs).toEqual(['c', 'x', 'w']); // in memory: cond + captured
    const again = readOnnx(writeOnnx(g));
    expect(again.nodes.find((n) => n.op === 'If')!.inputs).toEqual(['c', 'x', 'w']);
  });

  it('a Loop with neither trip count nor cond is refused at run time (it would never end)', async () => {
    const g = model();
    const loop = g.nodes[1]!;
    loop.inputs[0] = '';
    loop.inputs[1] = '';
    const s = await InferenceSession.create(g);
    expect(() => s.runSync({ x: new Tensor('float32', new Float32Array(6), [2, 3]), c: new Tensor('bool', Uint8Array.of(1), []), n: new Tensor('int64', BigInt64Array.of(1n), []) })).toThrow(/never end/);
  });

  it('branches that disagree on the element type are a ShapeError naming the node', async () => {
    const g = model();
    const els = g.nodes[0]!.attrs.else_branch as Graph;
    els.nodes = [node('Cast', ['x'], ['ey'], { to: 7 })];
    els.outputs = [{ name: 'ey', type: { dtype: 'int64', shape: [2, 3] } }];
    await expect(InferenceSession.create(g)).rejects.toThrow(ShapeError);
    await expect(InferenceSession.create(g)).rejects.toThrow(/If_y/);
  });

  it('bodies nested deeper than the limit are refused on read (untrusted files)', () => {
    let inner = body('b0', [], [['o', f([1])]], [node('Identity', ['x'], ['o'])]);
    const leaf = body('leaf', [], [['o', f([1])]], [node('Identity', ['x'], ['o'])]);
    for (let d = 1; d <= 20; d++) inner = body(`b${d}`, [], [['o', f([1])]], [node('If', ['c'], ['o'], { then_branch: inner, else_branch: leaf })]);
    const g = new Graph();
    g.opsets = { '': 17 };
    g.inputs = [{ name: 'x', type: f([1]) }, { name: 'c', type: { dtype: 'bool', shape: [] } }];
    g.nodes = [node('If', ['c'], ['o'], { then_branch: inner, else_branch: leaf })];
    g.outputs = [{ name: 'o', type: f([1]) }];
    expect(() => readOnnx(writeOnnx(g))).toThrow(ModelFormatError);
  });
});
