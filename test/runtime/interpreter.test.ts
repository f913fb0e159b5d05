// The TFLite-shaped Interpreter with its tensors in place (runtime/interpreter.ts): typedInputTensor(i) /
// typedOutputTensor(i), like TFLite's `typed_input_tensor<T>(i)` / `typed_output_tensor<T>(i)` ("returns a typed
// pointer to the input tensor's data … valid until the next AllocateTensors()/ResizeInputTensor()", tflite
// interpreter.h), are views of a static plan's blocks and invoke() runs the plan alone. These check that invoke()
// computes bit for bit what runSync computes, that views handed out after the kernel memory grew are valid (and
// keep what was written), that an interpreter and a session on one model do not disturb each other, and that graphs
// without a static plan fall back to copies behind the same API.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InputError } from '../../src/errors.js';
import { arena } from '../../src/kernels/wasm.js';
import { Interpreter } from '../../src/runtime/interpreter.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { TypedArray } from '../../src/tensor/dtype.js';
import { dataPath, hasData } from '../helpers/data.js';
import { layer, mlp } from '../helpers/mlp-graph.js';

const bits = (a: TypedArray) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

describe('Interpreter in place', () => {
  it('invoke() writes bit for bit what runSync returns, run after run (random static MLPs)', () => {
    fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 20 }), fc.array(layer, { minLength: 1, maxLength: 5 }), fc.integer(), async (m, k0, layers, seed) => {
        const g = mlp(m, k0, layers, seed);
        const s = await InferenceSession.create(g, { numThreads: 1 });
        const ip = Interpreter.fromSession(s);
        try {
          ip.allocateTensors();
          expect(ip.inPlace).toBe(true);
          for (let r = 0; r < 3; r++) {
            const x = Float32Array.from({ length: m * k0 }, (_, i) => Math.sin(i * 0.7 + r + seed));
            ip.typedInputTensor(0).set(x);
            ip.invoke();
            const want = s.runSync({ x: new Tensor('float32', x, [m, k0]) });
            g.outputs.forEach((o, i) => expect(bits(ip.typedOutputTensor(i))).toEqual(bits(want[o.name]!.data as TypedArray)));
            // invoked again on the inputs as written (they are kept across runs): the same outputs
            ip.invoke();
            g.outputs.forEach((o, i) => expect(bits(ip.typedOutputTensor(i))).toEqual(bits(want[o.name]!.data as TypedArray)));
          }
        } finally {
          await ip.release();
          await s.release();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('hands out views of the current memory after it grew, keeping what was written', async () => {
    const g = mlp(2, 6, [{ op: 'MatMul', n: 5, bias: true, act: 'Relu', residual: false, flatten: false }, { op: 'Gemm', n: 3, bias: true, act: 'none', residual: false, flatten: false }], 9);
    const ip = await Interpreter.create(g, { numThreads: 1 });
    ip.allocateTensors();
    const mem = arena()!;
    const x = Float32Array.from({ length: 12 }, (_, i) => i * 0.25 - 1);
    const v1 = ip.typedInputTensor(0);
    v1.set(x);
    expect(ip.typedInputTensor(0)).toBe(v1); // the same view while the memory has not grown
    const before = mem.buffer;
    // a block larger than the whole memory: it must grow
    const big = mem.alloc(before.byteLength + 65536, 'test growth');
    try {
      expect(mem.buffer).not.toBe(before);
      const v2 = ip.typedInputTensor(0);
      expect(v2).not.toBe(v1);
      expect(v2.buffer).toBe(mem.buffer);
      expect(Array.from(v2)).toEqual(Array.from(x));
      ip.invoke();
      const out = ip.typedOutputTensor(0);
      expect(out.buffer).toBe(mem.buffer);
      const want = ip.session.runSync({ x: new Tensor('float32', x, [2, 6]) })[g.outputs[0]!.name]!;
      expect(bits(out)).toEqual(bits(want.data as TypedArray));
      // getTensor copies, with the output's dims
      const t = ip.getTensor(ip.getOutputDetails()[0]!.index);
      expect(t.dims).toEqual(want.dims);
      expect(t.data).not.toBe(out);
    } finally {
      mem.release(big);
      await ip.release();
    }
  });

  it('and a session on the same model leave each other alone', async () => {
    const g = mlp(3, 7, [{ op: 'MatMul', n: 8, bias: true, act: 'Clip', residual: false, flatten: true }, { op: 'MatMul', n: 8, bias: false, act: 'none', residual: true, flatten: false }], 21);
    const y = g.outputs[0]!.name;
    const s = await InferenceSession.create(g, { numThreads: 1 });
    const fresh = await InferenceSession.create(g, { numThreads: 1 });
    const ip = Interpreter.fromSession(s);
    ip.allocateTensors();
    const xa = new Tensor('float32', Float32Array.from({ length: 21 }, (_, i) => Math.cos(i)), [3, 7]);
    const xb = new Tensor('float32', Float32Array.from({ length: 21 }, (_, i) => 1 - i / 7), [3, 7]);
    const wantA = bits(fresh.runSync({ x: xa })[y]!.data as TypedArray);
    const wantB = bits(fresh.runSync({ x: xb })[y]!.data as TypedArray);
    ip.typedInputTensor(0).set(xa.data as Float32Array);
    // the session's runSync between the interpreter's write and its invoke: its result is its own, the interpreter's
    // input stays as written
    expect(bits(s.runSync({ x: xb })[y]!.data as TypedArray)).toEqual(wantB);
    ip.invoke();
    expect(bits(ip.typedOutputTensor(0))).toEqual(wantA);
    const held = s.runSync({ x: xb })[y]!;
    expect(bits(held.data as TypedArray)).toEqual(wantB);
    expect(bits(ip.typedOutputTensor(0))).toEqual(wantA);
    ip.invoke();
    expect(bits(held.data as TypedArray)).toEqual(wantB);
    expect(s.executor.staticPlan).toBeDefined();
    await ip.release(); // fromSession: the session stays open
    expect(bits(s.runSync({ x: xa })[y]!.data as TypedArray)).toEqual(wantA);
    expect(() => ip.typedInputTensor(0)).toThrow(InputError);
    await s.release();
    await fresh.release();
  });

  it('gives its plan back on release', async () => {
    const mem = arena()!;
    const g = mlp(2, 4, [{ op: 'Gemm', n: 6, bias: true, act: 'Sigmoid', residual: false, flatten: false }], 5);
    const s = await InferenceSession.create(g, { numThreads: 1 });
    s.runSync({ x: new Tensor('float32', new Float32Array(8), [2, 4]) });
    const before = mem.inUse;
    const ip = Interpreter.fromSession(s);
    ip.allocateTensors();
    expect(mem.inUse).toBeGreaterThan(before);
    await ip.release();
    expect(mem.inUse).toBe(before);
    await s.release();
  });

  it('falls back to copies behind the same API when the graph has no static plan', async () => {
    const g = mlp(1, 3, [{ op: 'MatMul', n: 3, bias: false, act: 'none', residual: false, flatten: false }], 5);
    g.nodes.push({ name: 'cos', op: 'Cos', domain: '', inputs: [g.outputs[0]!.name], outputs: ['e'], attrs: {} });
    g.outputs = [{ name: 'e', type: { dtype: 'float32' } }];
    const ip = await Interpreter.create(g, { numThreads: 1 });
    ip.allocateTensors();
    expect(ip.inPlace).toBe(false);
    const out = ip.typedOutputTensor(0);
    for (const x of [Float32Array.of(1, 2, 3), Float32Array.of(-1, 0.5, 4)]) {
      ip.typedInputTensor(0).set(x);
      ip.invoke();
      const want = ip.session.runSync({ x: new Tensor('float32', x, [1, 3]) }).e!;
      // the preallocated output array, written in place run after run
      expect(ip.typedOutputTensor(0)).toBe(out);
      expect(bits(out)).toEqual(bits(want.data as TypedArray));
    }
    // setTensor copies into the input array typedInputTensor hands out
    ip.setTensor(0, Float32Array.of(7, 8, 9));
    expect(Array.from(ip.typedInputTensor(0))).toEqual([7, 8, 9]);
    await ip.release();
  });

  it('checks setTensor against the input in place', async () => {
    const g = mlp(1, 4, [{ op: 'Gemm', n: 2, bias: true, act: 'none', residual: false, flatten: false }], 3);
    const ip = await Interpreter.create(g, { numThreads: 1 });
    ip.allocateTensors();
    expect(() => ip.setTensor(0, new Float32Array(3))).toThrow(/4 elements/);
    expect(() => ip.setTensor(0, new Tensor('int32', new Int32Array(4), [1, 4]))).toThrow(InputError);
    expect(() => ip.setTensor(0, new Tensor('float32', new Float32Array(4), [4, 1]))).toThrow(/shape/);
    expect(() => ip.typedInputTensor(1)).toThrow(/does not exist/);
    ip.setTensor(0, Float32Array.of(1, 2, 3, 4));
    expect(Array.from(ip.getTensor(0).data as Float32Array)).toEqual([1, 2, 3, 4]);
    await ip.release();
  });

  for (const name of ['hello_world_int8', 'micro_speech_quantized']) {
    it.skipIf(!hasData(`tflite/${name}.tflite`))(`${name}: in place, bit-identical to runSync over random int8 inputs`, async () => {
      const bytes = new Uint8Array(readFileSync(dataPath(`tflite/${name}.tflite`)));
      const s = await InferenceSession.create(bytes, { numThreads: 1 });
      const ip = await Interpreter.create(bytes, { numThreads: 1 });
      ip.allocateTensors();
      expect(ip.inPlace).toBe(true);
      const meta = s.inputMetadata[0]!;
      const dims = meta.shape as number[];
      const size = dims.reduce((a, d) => a * d, 1);
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          const x = Int8Array.from({ length: size }, (_, i) => (Math.imul(i + 1, seed | 1) >>> 13) & 255);
          ip.typedInputTensor(0).set(x);
          ip.invoke();
          const want = s.runSync({ [meta.name]: new Tensor('int8', x, dims) });
          s.outputNames.forEach((o, i) => {
            expect(bits(ip.typedOutputTensor(i))).toEqual(bits(want[o]!.data as TypedArray));
            expect(ip.getTensor(ip.getOutputDetails()[i]!.index).quant).toEqual(want[o]!.quant);
          });
        }),
        { numRuns: 30 },
      );
      await ip.release();
      await s.release();
    });
  }
});
