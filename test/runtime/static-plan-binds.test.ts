// Static-plan forms (PreparedKernel.bind) of Softmax, Split, ReduceSum/Mean/Max/Min, the sparse MatMul/Gemm kernels, LSTM,
// Equal / comparisons, Cast, Expand, Where, a same-type Cast (a view) and Clip with bounds computed in the graph (openWakeWord's melspectrogram: Clip(x,
// ReduceMax(x) − 80)). Each must give the general path's bits, run after run with other inputs, and the plan must be
// made. The ops' semantics are checked against their references elsewhere (test/ops, test/kernels); here: the bound
// call = the kernel's run().
//   ONNX Softmax: "The operator computes the normalized exponential values for the given input … along the axis"
//   ONNX ReduceMax (opset 18): "Computes the max of the input tensor's elements along the provided axes"
//   ONNX Clip: "min(max(input, min), max)", min and max scalar tensors (any value, not only constants)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { readFileSync } from 'node:fs';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { sparseConfig } from '../../src/kernels/sparse.js';
import { specializeInputs } from '../../src/runtime/specialize.js';
import { dataPath, hasData } from '../helpers/data.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

const bits = (t: Tensor) => Array.from(new Uint32Array((t.data as Float32Array).slice().buffer));
const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, op, domain: '', inputs, outputs, attrs });
const f32 = (dims: number[], f: (i: number) => number) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)), dims);
const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);

function graph(dims: number[], nodes: Node[], inits: Record<string, Tensor> = {}): Graph {
  const g = new Graph();
  g.opsets = { '': 18 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: dims } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
  for (const [k, v] of Object.entries(inits)) g.initializers.set(k, v);
  g.nodes.push(...nodes);
  return g;
}

/** static plan vs general path: equal bits of every graph output over 3 runs, and the plan was made */
function samePaths(g: Graph, dims: number[], seed: number, more: (r: number) => Record<string, Tensor> = () => ({})): void {
  const fast = new Executor(g);
  const slow = new Executor(g, { staticPlan: false });
  try {
    for (let r = 0; r < 3; r++) {
      const x = f32(dims, (i) => Math.sin(i * 0.37 + r * 1.3 + seed) * (2 + r));
      const a = fast.run({ x, ...more(r) }) as Record<string, Tensor>;
      const b = slow.run({ x, ...more(r) }) as Record<string, Tensor>;
      for (const o of g.outputs) {
        expect(a[o.name]!.dims).toEqual(b[o.name]!.dims);
        expect(bits(a[o.name]!)).toEqual(bits(b[o.name]!));
      }
    }
    expect(fast.staticPlanStatus()).toEqual({ static: true });
  } finally {
    fast.dispose();
    slow.dispose();
  }
}

const dims3 = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 });

describe('static plan binds', () => {
  it('Softmax on any axis (f32_softmax / f32_softmax_strided)', () => {
    fc.assert(
      fc.property(dims3, fc.nat(), fc.integer(), (dims, a, seed) => {
        const axis = (a % (2 * dims.length)) - dims.length;
        samePaths(graph(dims, [node('sm', 'Softmax', ['x'], ['y'], { axis })]), dims, seed);
      }),
      { numRuns: 40 },
    );
  });

  it('ReduceSum / ReduceMean / ReduceMax / ReduceMin over a contiguous run of axes, keepdims 0 and 1', () => {
    fc.assert(
      fc.property(dims3, fc.constantFrom('ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin'), fc.nat(), fc.nat(), fc.boolean(), fc.integer(), (dims, op, s, l, keep, seed) => {
        const a0 = s % dims.length;
        const a1 = a0 + (l % (dims.length - a0));
        const axes = Array.from({ length: a1 - a0 + 1 }, (_, i) => a0 + i);
        samePaths(graph(dims, [node('r', op, ['x', 'axes'], ['y'], { keepdims: keep ? 1 : 0 })], { axes: i64(axes) }), dims, seed);
      }),
      { numRuns: 60 },
    );
  });

  it('Clip with a bound computed in the graph, then a same-type Cast (a view)', () => {
    fc.assert(
      fc.property(dims3, fc.integer({ min: -3, max: 3 }), fc.boolean(), fc.integer(), (dims, off, hiConst, seed) => {
        const nodes = [
          node('mx', 'ReduceMax', ['x'], ['m'], { keepdims: 0 }),
          node('sub', 'Sub', ['m', 'off'], ['lo']),
          node('clip', 'Clip', ['x', 'lo', hiConst ? 'hi' : ''], ['c']),
          node('cast', 'Cast', ['c'], ['y'], { to: 1 }),
        ];
        samePaths(graph(dims, nodes, { off: new Tensor('float32', Float32Array.of(off + 0.5), []), hi: new Tensor('float32', Float32Array.of(1.25), []) }), dims, seed);
      }),
      { numRuns: 40 },
    );
  });

  // ONNX LSTM: "Computes an one-layer LSTM … it = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Wbi + Rbi) …", inputs X, W, R, B,
  // sequence_lens, initial_h, initial_c; outputs Y, Y_h, Y_c; layout 0: X [seq, batch, input], 1: [batch, seq, input]
  it('LSTM (f32_lstm): any direction and layout, initial state fed, constant or absent, Y / Y_h / Y_c', () => {
    fc.assert(
      fc.property(
        fc.record({ seq: fc.integer({ min: 1, max: 5 }), batch: fc.integer({ min: 1, max: 3 }), I: fc.integer({ min: 1, max: 9 }), H: fc.integer({ min: 1, max: 11 }) }),
        fc.constantFrom('forward', 'reverse', 'bidirectional'),
        fc.constantFrom(0, 1),
        fc.constantFrom('fed', 'constant', 'absent'),
        fc.boolean(),
        fc.integer(),
        ({ seq, batch, I, H }, direction, layout, state, bias, seed) => {
          const D = direction === 'bidirectional' ? 2 : 1;
          const w = (dims: number[], k: number) => f32(dims, (i) => Math.sin(i * 0.71 + k + seed) * 0.4);
          const sdims = layout === 0 ? [D, batch, H] : [batch, D, H];
          const inits: Record<string, Tensor> = { W: w([D, 4 * H, I], 1), R: w([D, 4 * H, H], 2), B: w([D, 8 * H], 3) };
          if (state === 'constant') Object.assign(inits, { h0: w(sdims, 4), c0: w(sdims, 5) });
          const st = state === 'absent' ? ['', ''] : ['h0', 'c0'];
          const g = graph(layout === 0 ? [seq, batch, I] : [batch, seq, I], [node('lstm', 'LSTM', ['x', 'W', 'R', bias ? 'B' : '', '', ...st], ['y', 'yh', 'yc'], { hidden_size: H, direction, layout })], inits);
          g.outputs = ['y', 'yh', 'yc'].map((name) => ({ name, type: { dtype: 'float32' } }));
          if (state === 'fed') g.inputs.push(...['h0', 'c0'].map((name) => ({ name, type: { dtype: 'float32' as const, shape: sdims } })));
          const fed = (r: number): Record<string, Tensor> => (state === 'fed' ? { h0: f32(sdims, (i) => Math.cos(i + r)), c0: f32(sdims, (i) => Math.sin(i * 3 + r)) } : {});
          samePaths(g, layout === 0 ? [seq, batch, I] : [batch, seq, I], seed, fed);
        },
      ),
      { numRuns: 60 },
    );
  });

  // silero VAD exported by torch.onnx's dynamo exporter (opset 18, its LSTM unrolled into Split / Sigmoid / Tanh / Mul)
  // fell off the static plan on 'x32_split has no bind'. ONNX Split (opset 18): "Split a tensor into a list of tensors,
  // along the specified 'axis'. Either input 'split' or the attribute 'num_outputs' should be specified, but not both."
  // Here: the parts uneven (a constant 'split') or even ('num_outputs'), one part left unread (no block), the others
  // through a Relu or straight to the graph outputs.
  it('Split (x32_split) along any axis: constant split or num_outputs, a part nobody reads', () => {
    fc.assert(
      fc.property(dims3, fc.nat(), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.nat(), fc.integer(), (dims, a, k, even, drop, seed) => {
        const axis = (a % (2 * dims.length)) - dims.length;
        const ax = (axis + dims.length) % dims.length;
        const len = dims[ax]!;
        const parts = Math.min(k, len);
        // uneven: sizes 1, 1, … and the rest in the last part; even: num_outputs (the last part the smaller)
        const split = Array.from({ length: parts }, (_, i) => (i < parts - 1 ? 1 : len - parts + 1));
        const outs = Array.from({ length: parts }, (_, i) => `p${i}`);
        const unread = parts > 1 ? drop % parts : -1;
        const nodes = [
          even
            ? node('s', 'Split', ['x'], outs, { axis, num_outputs: parts })
            : node('s', 'Split', ['x', 'split'], outs, { axis }),
          ...outs.flatMap((o, i) => (i === unread || i % 2 ? [] : [node(`r${i}`, 'Relu', [o], [`y${i}`])])),
        ];
        const g = graph(dims, nodes, even ? {} : { split: i64(split) });
        g.outputs = outs.flatMap((o, i) => (i === unread ? [] : [{ name: i % 2 ? o : `y${i}`, type: { dtype: 'float32' as const } }]));
        samePaths(g, dims, seed);
      }),
      { numRuns: 60 },
    );
  });

  // An encoder's mask path: ONNX Equal / GreaterOrEqual "Returns the tensor resulted from performing the equal
  // (greater_equal) logical operation elementwise … (with Numpy-style broadcasting support)"; Expand "Broadcast the
  // input tensor following the given shape"; Where "Return elements, either from X or Y, depending on condition";
  // Cast int64 → float32 and float32 → float16 → float32 (round to nearest even).
  // ONNX DepthToSpace, DCR: "reshape [N, b, b, C/b², H, W], transpose [0,3,4,1,5,2]", and its NHWC form (TFLite
  // DEPTH_TO_SPACE): x32_depth_to_space and x32_permute4 bound (CRD's 6-D view does not merge to 4 axes: reference)
  it('DepthToSpace DCR (x32_depth_to_space, x32_permute4): NCHW / NHWC, block 1–3', () => {
    fc.assert(
      fc.property(fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 5 }), w: fc.integer({ min: 1, max: 9 }), b: fc.integer({ min: 1, max: 3 }) }), fc.boolean(), (r, nhwc) => {
        const cin = r.c * r.b * r.b;
        const dims = nhwc ? [r.n, r.h, r.w, cin] : [r.n, cin, r.h, r.w];
        samePaths(graph(dims, [node('d', 'DepthToSpace', ['x'], ['y'], { blocksize: r.b, ...(nhwc ? { data_layout: 'NHWC' } : {}) })]), dims, r.w);
      }),
      { numRuns: 60, seed: 8 },
    );
  });

  it('mask arithmetic: Equal, GreaterOrEqual, Cast (int64 → f32, f32 ↔ f16), Expand and Where on blocks and constants', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (b, t, r, seed) => {
        const nodes = [
          node('eq', 'Equal', ['m', 'zero'], ['e']),
          node('ex', 'Expand', ['e', 'shape'], ['ee']),
          node('xx', 'Expand', ['x', 'shape'], ['xe']),
          node('w', 'Where', ['ee', 'big', 'xe'], ['y']),
          node('ge', 'GreaterOrEqual', ['x', 'q'], ['g']),
          node('cm', 'Cast', ['m'], ['mf'], { to: 1 }),
          node('w2', 'Where', ['g', 'x', 'mf'], ['y2']),
          node('h', 'Cast', ['x'], ['xh'], { to: 10 }),
          node('f', 'Cast', ['xh'], ['y3'], { to: 1 }),
        ];
        const g = graph([b, t], nodes, {
          zero: new Tensor('int64', BigInt64Array.of(0n), []),
          shape: i64([r, b, t]),
          big: new Tensor('float32', Float32Array.of(-1e9), []),
          q: new Tensor('float32', Float32Array.of(0.25), []),
        });
        g.inputs.push({ name: 'm', type: { dtype: 'int64', shape: [b, t] } });
        g.outputs = ['y', 'y2', 'y3'].map((name) => ({ name, type: { dtype: 'float32' } }));
        const m = (run: number) => ({ m: new Tensor('int64', BigInt64Array.from({ length: b * t }, (_, i) => BigInt((i * 5 + run + seed) % 3)), [b, t]) });
        samePaths(g, [b, t], seed, m);
      }),
      { numRuns: 40 },
    );
  });

  // ONNX MatMul: "Matrix product that behaves like numpy.matmul" (batch dims broadcast); Transpose swapping the last
  // two axes of B is read through (f32_bmm packs Bᵀ in place), and a following Relu is folded
  it('batched MatMul of two activations (f32_bmm), B through a Transpose or not, broadcast batches, Relu folded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 10 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(), (bt, m, k, n, through, bcast, relu, seed) => {
        const bdims = through ? [bcast ? 1 : bt, n, k] : [bcast ? 1 : bt, k, n];
        const nodes = [
          ...(through ? [node('t', 'Transpose', ['w'], ['wt'], { perm: [0, 2, 1] })] : []),
          node('mm', 'MatMul', ['x', through ? 'wt' : 'w'], [relu ? 'z' : 'y']),
          ...(relu ? [node('r', 'Relu', ['z'], ['y'])] : []),
        ];
        const g = graph([bt, m, k], nodes);
        g.inputs.push({ name: 'w', type: { dtype: 'float32', shape: bdims } });
        samePaths(g, [bt, m, k], seed, (r) => ({ w: f32(bdims, (i) => Math.cos(i * 0.53 + r + seed)) }));
      }),
      { numRuns: 50 },
    );
  });

  // the fused attention (ScaledDotProductAttention from the exporter's MatMul → Softmax → MatMul, Q/Kt/V read through
  // their head Transposes) with the padding mask of a PyTorch-exported encoder
  it.runIf(hasData('transformer/encoder_d256_l4.onnx'))('encoder_d256_l4 with a padding mask: the whole encoder as a static plan, bit for bit', () => {
    const g = specializeInputs(readOnnx(new Uint8Array(readFileSync(dataPath('transformer/encoder_d256_l4.onnx')))), new Map([['input_ids', [2, 37]], ['attention_mask', [2, 37]]]));
    const fast = new Executor(g);
    const slow = new Executor(g, { staticPlan: false });
    try {
      for (let r = 0; r < 2; r++) {
        const ids = new Tensor('int64', BigInt64Array.from({ length: 74 }, (_, i) => BigInt((i * 7 + r) % 1000)), [2, 37]);
        const mask = new Tensor('int64', BigInt64Array.from({ length: 74 }, (_, i) => (i % 37 < 30 - 9 * r ? 1n : 0n)), [2, 37]);
        const a = fast.run({ input_ids: ids, attention_mask: mask }) as Record<string, Tensor>;
        const b = slow.run({ input_ids: ids, attention_mask: mask }) as Record<string, Tensor>;
        for (const o of g.outputs) expect(bits(a[o.name]!)).toEqual(bits(b[o.name]!));
      }
      expect(fast.staticPlanStatus()).toEqual({ static: true });
      expect(fast.analysis.order.some((n) => n.op === 'ScaledDotProductAttention')).toBe(true);
    } finally {
      fast.dispose();
      slow.dispose();
    }
  });

  it('MatMul and Gemm (bias, transB, Relu folded) on a pruned constant weight (f32_spmm, 1×4 and CSR×8 paths)', () => {
    // the sparse kernel takes every weight here (small ones rarely reach its sparsity threshold)
    sparseConfig.force = true;
    try {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.boolean(), fc.integer(), (m, k, n, gemm, transB, seed) => {
        // 90 % zeros
        const w = f32(gemm && transB ? [n, k] : [k, n], (i) => ((i * 7 + seed) % 10 === 0 ? Math.cos(i + seed) : 0));
        const nodes = gemm
          ? [node('g', 'Gemm', ['x', 'w', 'b'], ['z'], { transB: transB ? 1 : 0, alpha: 0.75 }), node('relu', 'Relu', ['z'], ['y'])]
          : [node('mm', 'MatMul', ['x', 'w'], ['y'])];
        const g = graph([m, k], nodes, { w, b: f32([n], (i) => i * 0.1 - 0.3) });
        const fast = new Executor(g);
        try {
          fast.run({ x: f32([m, k], Math.sin) });
          expect(fast.kernelName(fast.analysis.order.find((x) => x.name === nodes[0]!.name)!)).toBe('f32_spmm');
        } finally {
          fast.dispose();
        }
        samePaths(g, [m, k], seed);
      }),
      { numRuns: 40 },
    );
    } finally {
      sparseConfig.force = false;
    }
  });
});
