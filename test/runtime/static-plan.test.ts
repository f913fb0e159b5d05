// Static plans (runtime/static-plan.ts): a graph whose shapes are all static and whose every kernel binds runs as bound
// WASM calls on one planned block. These check that it computes exactly what the general path computes (bit for
// bit, over repeated runs with other inputs), that blocks alive at the same time never share bytes, that returned
// outputs are the caller's (a later run does not change them) unless the caller preallocated them, and that feeds
// the plan was not made for still get the general path's typed errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InputError, ShapeError } from '../../src/errors.js';
import { Graph } from '../../src/ir/graph.js';
import { f32ArrayToF16 } from '../../src/tensor/fp16.js';
import { arena } from '../../src/kernels/wasm.js';
import { Executor } from '../../src/runtime/executor.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { planOffsets } from '../../src/runtime/static-plan.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';
import { cnn, convLayer, layer, mlp } from '../helpers/mlp-graph.js';

const bits = (t: Tensor) => Array.from(new Uint32Array((t.data as Float32Array).slice().buffer));

/**
 * `runs` runs of g on float inputs x of `dims` through the static plan and through the general path: the outputs
 * equal bit for bit, and the plan was made (every step bound).
 */
function samePaths(g: Graph, dims: number[], runs: number, seed: number, unfused = false): void {
  const fast = new Executor(g);
  // unfused: the general path without folded activations / residuals / channel steps (every step its own pass) —
  // the fused stores must give the same bits
  const slow = new Executor(g, unfused ? { staticPlan: false, fuseClamps: false } : { staticPlan: false });
  try {
    for (let r = 0; r < runs; r++) {
      const x = new Tensor('float32', Float32Array.from({ length: dims.reduce((a, d) => a * d, 1) }, (_, i) => Math.sin(i * 0.7 + r + seed)), dims);
      const a = fast.run({ x }) as Record<string, Tensor>;
      const b = slow.run({ x }) as Record<string, Tensor>;
      for (const o of g.outputs) {
        expect(a[o.name]!.dims).toEqual(b[o.name]!.dims);
        expect(bits(a[o.name]!)).toEqual(bits(b[o.name]!));
      }
    }
    expect(fast.staticPlan).toBeDefined();
    expect(slow.staticPlan).toBeUndefined();
  } finally {
    fast.dispose();
    slow.dispose();
  }
}

describe('static plan', () => {
  it('computes bit for bit what the general path computes, run after run (random MLPs: MatMul/Gemm, bias, LayerNormalization, Relu/Clip/Sigmoid, residual, Flatten)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 24 }), fc.array(layer, { minLength: 1, maxLength: 6 }), fc.integer(), (m, k0, layers, seed) => {
        // every step of these graphs binds: the runs take the static plan
        samePaths(mlp(m, k0, layers, seed), [m, k0], 3, seed);
      }),
      { numRuns: 60 },
    );
  });

  it('computes bit for bit what the general path computes on random CNNs (depthwise 3×3/5×5, pointwise, full, grouped and sparse convs, strides, asymmetric pads, residual, Relu/Clip/PRelu, Max/AveragePool, Transpose, Slice, Concat, Pad, Resize, ConvTranspose, GlobalAveragePool)', () => {
    // ONNX Conv / MaxPool / AveragePool / Transpose / Slice semantics come from the ops' reference and shape rules;
    // here the plan's bound calls must reproduce the general path's kernel runs exactly
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 13 }), fc.array(convLayer, { minLength: 1, maxLength: 5 }), fc.integer(), (c0, h0, w0, layers, seed) => {
        // every step binds (convs, pools, Transpose, Slice, Concat, Pad, Resize, ConvTranspose, Add, activations fused
        // or bound)
        samePaths(cnn(c0, h0, w0, layers, seed), [1, c0, h0, w0], 2, seed, seed % 2 === 0);
      }),
      { numRuns: 100 },
    );
  });

  it('runs float32 MatMul / Gemm on float16 weights behind a Cast (f16w_gemm_4x8) bit for bit as the general path', () => {
    let s0 = 5;
    const rnd = () => ((s0 = (Math.imul(s0, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.5;
    for (const [op, dims] of [['MatMul', [1, 384]], ['MatMul', [2, 3, 384]], ['Gemm', [3, 384]]] as const) {
      const [k, n] = [384, 256];
      const g = new Graph();
      g.opsets = { '': 17 };
      g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [...dims] } }];
      g.initializers.set('Wh', new Tensor('float16', f32ArrayToF16(Float32Array.from({ length: k * n }, rnd)), op === 'Gemm' ? [n, k] : [k, n]));
      g.nodes.push({ name: 'cast', op: 'Cast', domain: '', inputs: ['Wh'], outputs: ['W'], attrs: { to: 1 } });
      g.nodes.push({ name: 'mm', op, domain: '', inputs: ['x', 'W'], outputs: ['y'], attrs: op === 'Gemm' ? { transB: 1 } : {} });
      g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['y'], outputs: ['z'], attrs: {} });
      g.outputs = [{ name: 'z', type: { dtype: 'float32' } }];
      const probe = new Executor(g);
      expect([...probe.kernels.values()].map((kd) => kd.name)).toContain('f16w_gemm_4x8');
      probe.dispose();
      samePaths(g, [...dims], 2, 9);
    }
  });

  it('places blocks so that two alive at the same step never share a byte (planOffsets)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ first: fc.integer({ min: -1, max: 12 }), len: fc.integer({ min: 0, max: 6 }), bytes: fc.integer({ min: 1, max: 300 }) }), { maxLength: 24 }), (bs) => {
        const blocks = bs.map((b) => ({ first: b.first, last: b.first + b.len, bytes: b.bytes }));
        const { offsets, total } = planOffsets(blocks);
        blocks.forEach((a, i) => {
          expect(offsets[i]! % 16).toBe(0);
          expect(offsets[i]! + a.bytes).toBeLessThanOrEqual(total);
          blocks.forEach((b, j) => {
            if (j <= i || a.last < b.first || b.last < a.first) return;
            expect(offsets[i]! + a.bytes <= offsets[j]! || offsets[j]! + b.bytes <= offsets[i]!).toBe(true);
          });
        });
      }),
    );
  });

  it('hands out outputs that later runs leave alone, writes preallocated outputs in place, and rejects mismatched ones', async () => {
    const g = mlp(2, 5, [{ op: 'MatMul', n: 3, bias: true, act: 'Relu', residual: false, flatten: false }], 7);
    const s = await InferenceSession.create(g);
    const y = g.outputs[0]!.name;
    const x1 = new Tensor('float32', Float32Array.from({ length: 10 }, (_, i) => i - 4), [2, 5]);
    const x2 = new Tensor('float32', Float32Array.from({ length: 10 }, (_, i) => 3 - i), [2, 5]);
    const first = s.runSync({ x: x1 })[y]!;
    const kept = Array.from(first.data as Float32Array);
    const second = s.runSync({ x: x2 })[y]!;
    expect(Array.from(first.data as Float32Array)).toEqual(kept);
    expect(second.data).not.toBe(first.data);
    expect(s.executor.staticPlan).toBeDefined();
    // onnxruntime-web's run(feeds, fetches) with preallocated tensors: the same object comes back, filled
    const pre = new Tensor('float32', new Float32Array(6), [2, 3]);
    const out = s.runSync({ x: x1 }, { [y]: pre });
    expect(out[y]).toBe(pre);
    expect(Array.from(pre.data as Float32Array)).toEqual(kept);
    // a null entry asks for that output without preallocating it
    expect(Array.from(s.runSync({ x: x2 }, { [y]: null })[y]!.data as Float32Array)).toEqual(Array.from(second.data as Float32Array));
    expect(() => s.runSync({ x: x1 }, { [y]: new Tensor('float32', new Float32Array(3), [1, 3]) })).toThrow(InputError);
    expect(() => s.runSync({ x: x1 }, { [y]: new Tensor('int32', new Int32Array(6), [2, 3]) })).toThrow(/int32\[2,3\]/);
    await s.release();
  });

  it('leaves feeds it was not made for to the general path and its typed errors', async () => {
    const g = mlp(1, 4, [{ op: 'Gemm', n: 2, bias: true, act: 'none', residual: false, flatten: false }], 3);
    const s = await InferenceSession.create(g);
    const ok = new Tensor('float32', new Float32Array(4), [1, 4]);
    s.runSync({ x: ok });
    expect(() => s.runSync({ x: new Tensor('float32', new Float32Array(8), [2, 4]) })).toThrow(InputError);
    expect(() => s.runSync({ x: new Tensor('int32', new Int32Array(4), [1, 4]) })).toThrow(/type int32/);
    expect(() => s.runSync({ x: ok, extra: ok })).toThrow(/unknown input 'extra'/);
    expect(() => s.runSync({})).toThrow(/missing/);
    // an onnxruntime-web-like tensor object (not an edgeq Tensor) still runs, through the general path
    const like = { type: 'float32', data: new Float32Array([1, 2, 3, 4]), dims: [1, 4] } as unknown as Tensor;
    expect(Array.from(s.runSync({ x: like })[g.outputs[0]!.name]!.data as Float32Array)).toEqual(Array.from(s.runSync({ x: new Tensor('float32', new Float32Array([1, 2, 3, 4]), [1, 4]) })[g.outputs[0]!.name]!.data as Float32Array));
    await s.release();
  });

  it('binds a token embedding (Gather of a constant table by int64 / int32 ids): the general path bits, and its ShapeError for ids out of range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.integer(), (V, D, S, wide, seed) => {
        const g = new Graph();
        g.opsets = { '': 17 };
        g.inputs = [{ name: 'ids', type: { dtype: wide ? 'int64' : 'int32', shape: [1, S] } }];
        g.initializers.set('table', new Tensor('float32', Float32Array.from({ length: V * D }, (_, i) => Math.sin(i * 0.37 + seed)), [V, D]));
        g.initializers.set('w', new Tensor('float32', Float32Array.from({ length: D * 3 }, (_, i) => Math.cos(i + seed)), [D, 3]));
        g.nodes = [
          { name: 'embed', op: 'Gather', domain: '', inputs: ['table', 'ids'], outputs: ['e'], attrs: { axis: 0 } },
          { name: 'mm', op: 'MatMul', domain: '', inputs: ['e', 'w'], outputs: ['y'], attrs: {} },
        ];
        g.outputs = [{ name: 'y', type: { dtype: 'float32' } }];
        const fast = new Executor(g);
        const slow = new Executor(g, { staticPlan: false });
        const ids = (v: number[]) => (wide ? new Tensor('int64', BigInt64Array.from(v, BigInt), [1, S]) : new Tensor('int32', Int32Array.from(v), [1, S]));
        try {
          for (let r = 0; r < 3; r++) {
            // negative ids count from the end (ONNX Gather: "within bounds [-s, s-1]")
            const x = ids(Array.from({ length: S }, (_, i) => ((((i * 7 + r + seed) % (2 * V)) + 2 * V) % (2 * V)) - V));
            expect(bits(fast.run({ ids: x }).y as Tensor)).toEqual(bits(slow.run({ ids: x }).y as Tensor));
          }
          expect(fast.staticPlan).toBeDefined();
          for (const bad of [V, -V - 1]) {
            const x = ids(Array.from({ length: S }, (_, i) => (i === S - 1 ? bad : 0)));
            expect(() => fast.run({ ids: x })).toThrow(ShapeError);
            expect(() => fast.run({ ids: x })).toThrow(new RegExp(`embed.*indices\\[${S - 1}\\] = ${bad} out of range`));
            expect(() => slow.run({ ids: x })).toThrow(ShapeError);
          }
        } finally {
          fast.dispose();
          slow.dispose();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('is not made when a step has no bound form (a reference op), and the plan still runs', () => {
    const g = mlp(1, 3, [{ op: 'MatMul', n: 3, bias: false, act: 'none', residual: false, flatten: false }], 5);
    g.nodes.push({ name: 'cos', op: 'Cos', domain: '', inputs: [g.outputs[0]!.name], outputs: ['e'], attrs: {} });
    g.outputs = [{ name: 'e', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    const out = ex.run({ x: new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]) }) as Record<string, Tensor>;
    expect(out.e!.dims).toEqual([1, 3]);
    expect(ex.staticPlan).toBeUndefined();
    ex.dispose();
  });

  it('gives its kernel memory back on release', async () => {
    const mem = arena()!;
    const before = mem.inUse;
    const s = await InferenceSession.create(mlp(3, 8, [{ op: 'MatMul', n: 16, bias: true, act: 'Relu', residual: false, flatten: false }, { op: 'Gemm', n: 4, bias: true, act: 'none', residual: false, flatten: false }], 11));
    s.runSync({ x: new Tensor('float32', new Float32Array(24), [3, 8]) });
    expect(s.executor.staticPlan!.bytes).toBeGreaterThan(0);
    await s.release();
    expect(mem.inUse).toBe(before);
  });

  // TFLite's hello_world, micro_speech (int8), keyword_scrambled (int16 in, integer SVDF, int32 out) and trained_lstm_int8
  // (integer LSTM): the static plan's outputs equal the general path's
  for (const name of ['hello_world_int8', 'micro_speech_quantized', 'keyword_scrambled', 'keyword_scrambled_8bit', 'trained_lstm_int8']) {
    it.skipIf(!hasData(`tflite/${name}.tflite`))(`${name}: bit-identical to the general path over random integer inputs`, async () => {
      const s = await InferenceSession.create(new Uint8Array(readFileSync(dataPath(`tflite/${name}.tflite`))), { numThreads: 1 });
      const slow = new Executor(s.graph, { staticPlan: false });
      const meta = s.inputMetadata[0]!;
      const dims = meta.shape as number[];
      const size = dims.reduce((a, d) => a * d, 1);
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          const codes = Array.from({ length: size }, (_, i) => (Math.imul(i + 1, seed | 1) >>> 13) & 255);
          const x = meta.type === 'int16' ? new Tensor('int16', Int16Array.from(codes, (c) => (c - 128) * 97), dims) : new Tensor('int8', Int8Array.from(codes), dims);
          const a = s.runSync({ [meta.name]: x });
          const b = slow.run({ [meta.name]: x }) as Record<string, Tensor>;
          const bytes = (t: Tensor) => Array.from(new Uint8Array((t.data as Int8Array).buffer, (t.data as Int8Array).byteOffset, (t.data as Int8Array).byteLength));
          for (const o of s.outputNames) {
            expect(a[o]!.dims).toEqual(b[o]!.dims);
            expect(bytes(a[o]!)).toEqual(bytes(b[o]!));
            expect(a[o]!.quant).toEqual(b[o]!.quant);
          }
        }),
        { numRuns: 30 },
      );
      // every node of both binds (FC, conv, Transpose, SOFTMAX, views): the runs above took the static plan
      expect(s.executor.staticPlan).toBeDefined();
      slow.dispose();
      await s.release();
    });
  }
});
