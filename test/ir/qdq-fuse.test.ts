// QDQ fusion (src/ir/passes/qdq-fuse.ts): DequantizeLinear → Conv/MatMul/Gemm (→ Relu) → QuantizeLinear
// rewritten to QLinearConv / QLinearMatMul. The fused graph must compute the same quantized outputs as the
// unfused one under the ONNX reference semantics up to the float rounding of the unfused path: |Δ| ≤ 1 on every
// element, and Δ ≠ 0 only rarely (a value within float32 rounding error of a .5 boundary).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { fuseQdq } from '../../src/ir/passes/qdq-fuse.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { type Q, rng, qdata, scalarQ } from '../helpers/quant-data.js';
const f32 = (v: number[] | number, dims: number[] = []) => new Tensor('float32', Float32Array.from(Array.isArray(v) ? v : [v]), dims);

interface Opts {
  op: 'Conv' | 'MatMul' | 'Gemm';
  tx: Q; tw: Q; ty: Q; perCh: boolean; relu: boolean; bias: boolean; transB: boolean; seed: number; yzMin: boolean;
}

/** x_q → DQ → op(DQ(w), DQ(b)) → (Relu) → Q → y */
function qdqGraph(o: Opts): { g: Graph; feeds: Record<string, Tensor> } {
  const rnd = rng(o.seed);
  const g = new Graph();
  const conv = o.op === 'Conv';
  const xDims = conv ? [1, 3, 6, 5] : [4, 12];
  const m = conv ? 5 : 7; // output channels / N
  const wDims = conv ? [m, 3, 3, 3] : o.op === 'Gemm' && o.transB ? [m, 12] : [12, m];
  const xs = 0.01 + rnd() * 0.05;
  g.inputs = [{ name: 'xq', type: { dtype: o.tx, shape: xDims } }];
  g.outputs = [{ name: 'y', type: { dtype: o.ty } }];
  g.initializers.set('xs', f32(xs));
  g.initializers.set('xz', scalarQ(o.tx, o.tx === 'uint8' ? 100 + Math.floor(rnd() * 50) : Math.floor(rnd() * 40) - 20));
  g.initializers.set('wq', new Tensor(o.tw, qdata(o.tw, wDims.reduce((a, b) => a * b, 1), rnd), wDims));
  const ws = o.perCh ? Array.from({ length: m }, () => 0.002 + rnd() * 0.01) : [0.005];
  g.initializers.set('ws', f32(ws, o.perCh ? [m] : []));
  g.initializers.set('wz', o.perCh ? new Tensor(o.tw, o.tw === 'int8' ? new Int8Array(m) : new Uint8Array(m).fill(128), [m]) : scalarQ(o.tw, o.tw === 'int8' ? 0 : 128));
  const wAxis = conv ? 0 : o.op === 'Gemm' && o.transB ? 0 : 1;
  const nodes: Node[] = [
    { name: 'dqx', op: 'DequantizeLinear', domain: '', inputs: ['xq', 'xs', 'xz'], outputs: ['x'], attrs: {} },
    { name: 'dqw', op: 'DequantizeLinear', domain: '', inputs: ['wq', 'ws', 'wz'], outputs: ['w'], attrs: { axis: wAxis } },
  ];
  const opIn = ['x', 'w'];
  if (o.bias && conv) {
    g.initializers.set('bq', new Tensor('int32', Int32Array.from({ length: m }, () => Math.floor(rnd() * 4000) - 2000), [m]));
    g.initializers.set('bs', f32(ws.map((w) => Math.fround(Math.fround(xs) * Math.fround(w))), o.perCh ? [m] : []));
    nodes.push({ name: 'dqb', op: 'DequantizeLinear', domain: '', inputs: ['bq', 'bs'], outputs: ['b'], attrs: { axis: 0 } });
    opIn.push('b');
  }
  const attrs: Node['attrs'] = conv ? { pads: [1, 1, 1, 1], strides: [1, 2] } : o.op === 'Gemm' ? { transB: o.transB ? 1 : 0 } : {};
  nodes.push({ name: 'op', op: o.op, domain: '', inputs: opIn, outputs: [o.relu ? 'r' : 'v'], attrs });
  if (o.relu) nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['r'], outputs: ['v'], attrs: {} });
  // y scale chosen so outputs spread over the whole range
  g.initializers.set('ys', f32(0.02 + rnd() * 0.2));
  g.initializers.set('yz', scalarQ(o.ty, o.yzMin ? (o.ty === 'int8' ? -128 : 0) : o.ty === 'int8' ? Math.floor(rnd() * 60) - 30 : 100 + Math.floor(rnd() * 50)));
  nodes.push({ name: 'q', op: 'QuantizeLinear', domain: '', inputs: ['v', 'ys', 'yz'], outputs: ['y'], attrs: {} });
  g.nodes = nodes;
  return { g, feeds: { xq: new Tensor(o.tx, qdata(o.tx, xDims.reduce((a, b) => a * b, 1), rnd), xDims) } };
}

const run = (g: Graph, feeds: Record<string, Tensor>, backend: 'wasm' | 'reference') => {
  const e = new Executor(g, { backend });
  try {
    return e.run(feeds).y as Tensor;
  } finally {
    e.dispose();
  }
};

const optsArb = fc.record({
  op: fc.constantFrom<'Conv' | 'MatMul' | 'Gemm'>('Conv', 'MatMul', 'Gemm'),
  tx: fc.constantFrom<Q>('int8', 'uint8'), tw: fc.constantFrom<Q>('int8', 'uint8'), ty: fc.constantFrom<Q>('int8', 'uint8'),
  perCh: fc.boolean(), relu: fc.boolean(), bias: fc.boolean(), transB: fc.boolean(), seed: fc.integer(), yzMin: fc.boolean(),
});

describe('fuseQdq', () => {
  it('fuses to QLinearConv / QLinearMatMul and matches the unfused graph within 1 (rarely off)', () => {
    let total = 0;
    let off = 0;
    fc.assert(
      fc.property(optsArb, (o) => {
        const { g, feeds } = qdqGraph(o);
        const f = fuseQdq(g);
        const ops = f.nodes.map((n) => n.op);
        expect(ops).toContain(o.op === 'Conv' ? 'QLinearConv' : 'QLinearMatMul');
        expect(ops).not.toContain(o.op);
        expect(ops).not.toContain('DequantizeLinear');
        expect(ops).not.toContain('QuantizeLinear');
        // a Relu that is not a no-op on the output codes: Clip(codes, q(0), qmax), which runs as an 8-bit table
        expect(ops.includes('Clip')).toBe(o.relu && !o.yzMin);
        expect(g.nodes.map((n) => n.op)).toContain(o.op); // the input graph is untouched
        const want = run(g, feeds, 'reference');
        const fusedRef = run(f, feeds, 'reference');
        const fusedWasm = run(f, feeds, 'wasm');
        expect(fusedWasm.type).toBe(want.type);
        expect(fusedWasm.dims).toEqual(want.dims);
        // the kernel and the reference QLinear op agree bit for bit
        expect(Array.from(fusedWasm.data as Int8Array)).toEqual(Array.from(fusedRef.data as Int8Array));
        const a = want.data as Int8Array;
        const b = fusedWasm.data as Int8Array;
        for (let i = 0; i < a.length; i++) {
          const d = Math.abs(a[i]! - b[i]!);
          expect(d).toBeLessThanOrEqual(1);
          total++;
          if (d) off++;
        }
      }),
      { numRuns: 150 },
    );
    if (process.env.QDQ_STATS) console.log(`fused vs unfused: ${off} of ${total} elements differ by 1`);
    expect(off / total).toBeLessThan(0.01);
  });

  it('leaves patterns alone that are not exactly expressible', () => {
    const base: Opts = { op: 'Conv', tx: 'uint8', tw: 'int8', ty: 'uint8', perCh: true, relu: false, bias: true, transB: false, seed: 5, yzMin: false };
    // bias scale ≠ xs·ws
    {
      const { g } = qdqGraph(base);
      g.initializers.set('bs', f32(Array.from({ length: 5 }, () => 0.001), [5]));
      expect(fuseQdq(g).nodes.map((n) => n.op)).toContain('Conv');
    }
    // float bias (not DQ'd)
    {
      const { g } = qdqGraph({ ...base, bias: false });
      g.initializers.set('fb', f32([1, 2, 3, 4, 5], [5]));
      g.nodes.find((n) => n.op === 'Conv')!.inputs.push('fb');
      expect(fuseQdq(g).nodes.map((n) => n.op)).toContain('Conv');
    }
    // the float result is also a graph output
    {
      const { g } = qdqGraph(base);
      g.outputs.push({ name: 'v', type: { dtype: 'float32' } });
      expect(fuseQdq(g).nodes.map((n) => n.op)).toContain('Conv');
    }
    // non-constant weights
    {
      const { g } = qdqGraph({ ...base, op: 'MatMul', bias: false });
      const w = g.initializers.get('wq')!;
      g.initializers.delete('wq');
      g.inputs.push({ name: 'wq', type: { dtype: w.type, shape: [...w.dims] } });
      expect(fuseQdq(g).nodes.map((n) => n.op)).toContain('MatMul');
    }
    // per-row (axis 0) scale on MatMul's B is not per column
    {
      const { g } = qdqGraph({ ...base, op: 'MatMul', bias: false });
      g.initializers.set('ws', f32(Array.from({ length: 12 }, () => 0.01), [12]));
      g.initializers.set('wz', new Tensor('int8', new Int8Array(12), [12]));
      g.nodes.find((n) => n.name === 'dqw')!.attrs.axis = 0;
      expect(fuseQdq(g).nodes.map((n) => n.op)).toContain('MatMul');
    }
    // Gemm with C
    {
      const { g } = qdqGraph({ ...base, op: 'Gemm', bias: false });
      g.initializers.set('c', f32(Array.from({ length: 7 }, () => 0.5), [7]));
      g.nodes.find((n) => n.op === 'Gemm')!.inputs.push('c');
      expect(fuseQdq(g).nodes.map((n) => n.op)).toContain('Gemm');
    }
  });

  it('keeps a DequantizeLinear that other nodes still read', () => {
    const { g } = qdqGraph({ op: 'MatMul', tx: 'uint8', tw: 'int8', ty: 'uint8', perCh: false, relu: false, bias: false, transB: false, seed: 1, yzMin: false });
    g.nodes.push({ name: 'id', op: 'Identity', domain: '', inputs: ['x'], outputs: ['x2'], attrs: {} });
    g.outputs.push({ name: 'x2', type: { dtype: 'float32' } });
    const f = fuseQdq(g);
    expect(f.nodes.map((n) => n.op)).toEqual(['DequantizeLinear', 'QLinearMatMul', 'Identity']);
  });
});

// The rest of a QDQ model (what onnxruntime's QDQ selectors also rewrite): Add, GlobalAveragePool, MaxPool,
// Concat, Clip after Conv, Gemm with an int32 bias. Add / MaxPool / Concat are exact rewrites (bit-identical to
// the unfused graph under the reference semantics); the others requantize once, so |Δ| ≤ 1 as above.
describe('fuseQdq: Add, GlobalAveragePool, MaxPool, Concat, Clip, Gemm with bias', () => {
  type Kind = 'Add' | 'GlobalAveragePool' | 'MaxPool' | 'Concat' | 'MaxPoolOtherScale' | 'ConvClip' | 'GemmBias' | 'GemmBiasFloat';
  const kindArb = fc.constantFrom<Kind>('Add', 'GlobalAveragePool', 'MaxPool', 'Concat', 'MaxPoolOtherScale', 'ConvClip', 'GemmBias', 'GemmBiasFloat');

  function build(kind: Kind, t: Q, seed: number, clipHi: number) {
    const rnd = rng(seed);
    const g = new Graph();
    g.opsets = { '': 13 };
    const dims = kind.startsWith('Gemm') ? [3, 10] : [1, 4, 5, 6];
    const zp = () => (t === 'int8' ? Math.floor(rnd() * 60) - 30 : 100 + Math.floor(rnd() * 50));
    const xs = Math.fround(0.01 + rnd() * 0.05);
    g.initializers.set('xs', f32(xs));
    g.initializers.set('xz', scalarQ(t, zp()));
    g.initializers.set('x2s', f32(0.01 + rnd() * 0.05));
    g.initializers.set('x2z', scalarQ(t, zp()));
    // MaxPool / Concat share the input's parameters (the quantizer gives pass-through ops one range)
    const same = kind === 'MaxPool' || kind === 'Concat';
    g.initializers.set('ys', same ? f32(xs) : f32(0.02 + rnd() * 0.1));
    g.initializers.set('yz', same ? g.initializers.get('xz')! : scalarQ(t, zp()));
    g.inputs = [{ name: 'xq', type: { dtype: t, shape: dims } }, { name: 'x2q', type: { dtype: t, shape: dims } }];
    g.outputs = [{ name: 'y', type: { dtype: kind === 'GemmBiasFloat' ? 'float32' : t } }];
    const nodes: Node[] = [
      { name: 'dq1', op: 'DequantizeLinear', domain: '', inputs: ['xq', 'xs', 'xz'], outputs: ['x'], attrs: {} },
      { name: 'dq2', op: 'DequantizeLinear', domain: '', inputs: ['x2q', same ? 'xs' : 'x2s', same ? 'xz' : 'x2z'], outputs: ['x2'], attrs: {} },
    ];
    const q = (v: string): Node => ({ name: 'q', op: 'QuantizeLinear', domain: '', inputs: [v, 'ys', 'yz'], outputs: ['y'], attrs: {} });
    if (kind === 'Add') nodes.push({ name: 'op', op: 'Add', domain: '', inputs: ['x', 'x2'], outputs: ['v'], attrs: {} }, q('v'));
    if (kind === 'GlobalAveragePool') nodes.push({ name: 'op', op: 'GlobalAveragePool', domain: '', inputs: ['x'], outputs: ['v'], attrs: {} }, q('v'));
    if (kind === 'MaxPool' || kind === 'MaxPoolOtherScale') nodes.push({ name: 'op', op: 'MaxPool', domain: '', inputs: ['x'], outputs: ['v'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } }, q('v'));
    if (kind === 'Concat') nodes.push({ name: 'op', op: 'Concat', domain: '', inputs: ['x', 'x2'], outputs: ['v'], attrs: { axis: 1 } }, q('v'));
    if (kind === 'ConvClip') {
      g.initializers.set('wq', new Tensor('int8', qdata('int8', 3 * 4 * 9, rnd), [3, 4, 3, 3]));
      g.initializers.set('ws', f32(Array.from({ length: 3 }, () => 0.002 + rnd() * 0.01), [3]));
      g.initializers.set('lo', f32(0));
      g.initializers.set('hi', f32(clipHi));
      nodes.push(
        { name: 'dqw', op: 'DequantizeLinear', domain: '', inputs: ['wq', 'ws'], outputs: ['w'], attrs: { axis: 0 } },
        { name: 'op', op: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['r'], attrs: { pads: [1, 1, 1, 1] } },
        { name: 'clip', op: 'Clip', domain: '', inputs: ['r', 'lo', 'hi'], outputs: ['v'], attrs: {} },
        q('v'),
      );
    }
    if (kind.startsWith('Gemm')) {
      const ws = Array.from({ length: 7 }, () => Math.fround(0.002 + rnd() * 0.01));
      g.initializers.set('wq', new Tensor('int8', qdata('int8', 7 * 10, rnd), [7, 10]));
      g.initializers.set('ws', f32(ws, [7]));
      g.initializers.set('bq', new Tensor('int32', Int32Array.from({ length: 7 }, () => Math.floor(rnd() * 4000) - 2000), [7]));
      g.initializers.set('bs', f32(ws.map((w) => Math.fround(xs * w)), [7]));
      nodes.push(
        { name: 'dqw', op: 'DequantizeLinear', domain: '', inputs: ['wq', 'ws'], outputs: ['w'], attrs: { axis: 0 } },
        { name: 'dqb', op: 'DequantizeLinear', domain: '', inputs: ['bq', 'bs'], outputs: ['b'], attrs: { axis: 0 } },
        { name: 'op', op: 'Gemm', domain: '', inputs: ['x', 'w', 'b'], outputs: [kind === 'GemmBias' ? 'v' : 'y'], attrs: { transB: 1 } },
      );
      if (kind === 'GemmBias') nodes.push(q('v'));
    }
    g.nodes = nodes;
    const feeds = { xq: new Tensor(t, qdata(t, dims.reduce((a, b) => a * b, 1), rnd), dims), x2q: new Tensor(t, qdata(t, dims.reduce((a, b) => a * b, 1), rnd), dims) };
    return { g, feeds };
  }
  const runY = (g: Graph, feeds: Record<string, Tensor>, backend: 'wasm' | 'reference') => {
    const e = new Executor(g, { backend, fuseQdq: false });
    try {
      return e.run(feeds).y as Tensor;
    } finally {
      e.dispose();
    }
  };

  it('rewrites each pattern to its integer op and matches the unfused graph (exactly where the rewrite is exact)', () => {
    fc.assert(
      fc.property(kindArb, fc.constantFrom<Q>('int8', 'uint8'), fc.integer(), fc.constantFrom(1000, 6, 0.05), (kind, t, seed, clipHi) => {
        const { g, feeds } = build(kind, t, seed, clipHi);
        const f = fuseQdq(g);
        const ops = f.nodes.map((n) => n.op);
        const want: Record<Kind, string> = {
          Add: 'QLinearAdd', GlobalAveragePool: 'QLinearGlobalAveragePool', MaxPool: 'MaxPool', Concat: 'Concat', MaxPoolOtherScale: 'DequantizeLinear',
          ConvClip: 'QLinearConv', GemmBias: 'QGemm', GemmBiasFloat: 'QGemm',
        };
        expect(ops).toContain(want[kind]);
        if (kind !== 'MaxPoolOtherScale') {
          expect(ops).not.toContain('DequantizeLinear');
          expect(ops).not.toContain('QuantizeLinear');
        } else expect(ops).toContain('QuantizeLinear'); // different scales: Q(DQ(c)) ≠ c, left alone
        // ReLU6 calibrated to its range with the zero point at the bottom code: no clamp node; a tighter max or a zero
        // point above the bottom code: an integer Clip [Q(0), Q(hi)] (a lone lower bound too: one 8-bit table either way)
        if (kind === 'ConvClip') {
          const yz = (g.initializers.get('yz')!.data as Int8Array | Uint8Array)[0]!;
          const [qmin, qmax] = t === 'int8' ? [-128, 127] : [0, 255];
          expect(ops.includes('Clip')).toBe(Math.round(clipHi / (g.initializers.get('ys')!.data as Float32Array)[0]!) + yz < qmax || yz > qmin);
        }
        const ref = runY(g, feeds, 'reference');
        const fusedRef = runY(f, feeds, 'reference');
        const fusedWasm = runY(f, feeds, 'wasm');
        expect(Array.from(fusedWasm.data as Float32Array)).toEqual(Array.from(fusedRef.data as Float32Array));
        expect(fusedRef.dims).toEqual(ref.dims);
        const a = ref.data as Float32Array;
        const b = fusedRef.data as Float32Array;
        const exact = kind === 'Add' || kind === 'MaxPool' || kind === 'Concat' || kind === 'MaxPoolOtherScale';
        let scale = 0;
        for (const v of a) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < a.length; i++) {
          if (exact) expect(b[i]).toBe(a[i]);
          else if (kind === 'GemmBiasFloat') expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * scale + 1e-7); // float32 rounding of the unfused sum only
          else expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 200 },
    );
  });
});
