// TFLite's quantized pointwise ops, QUANTIZE / DEQUANTIZE and SOFTMAX on WASM kernels (src/kernels/tflite-int8.ts)
// against the TS reference (src/ops/tflite.ts), BIT-EXACT, over random shapes, scales and zero points.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { rng } from '../helpers/quant-data.js';

const T = 'ai.edgeq.tflite';

function codes(dt: DType, n: number, rnd: () => number): Tensor['data'] {
  if (dt === 'int8') return Int8Array.from({ length: n }, () => Math.floor(rnd() * 256) - 128);
  if (dt === 'uint8') return Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  if (dt === 'int16') return Int16Array.from({ length: n }, () => Math.floor(rnd() * 65536) - 32768);
  return Int32Array.from({ length: n }, () => Math.floor(rnd() * 2 ** 32) - 2 ** 31);
}

/** One TFLite node X → Y (plus an optional Clip on the 8-bit codes), run on the kernels and on the reference. */
function check(op: string, inT: DType, outT: DType, dims: number[], attrs: Record<string, unknown>, x: Tensor, kernel: string, clip?: [number, number]) {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: inT, shape: dims } }];
  g.nodes = [{ name: 'n', op, domain: T, inputs: ['X'], outputs: [clip ? 'P' : 'Y'], attrs: attrs as never }];
  if (clip) {
    const c = (v: number) => new Tensor(outT, outT === 'int8' ? Int8Array.of(v) : Uint8Array.of(v), []);
    g.initializers.set('lo', c(clip[0]));
    g.initializers.set('hi', c(clip[1]));
    g.nodes.push({ name: 'act', op: 'Clip', domain: '', inputs: ['P', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
  }
  g.outputs = [{ name: 'Y', type: { dtype: outT } }];
  g.opsets[T] = 1;
  const fast = new Executor(g);
  expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(kernel);
  if (clip) expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
  const got = fast.run({ X: x }).Y!;
  const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
  // these kernels bind: the one-node graph ran as a static plan (the bound call), not the kernel's run()
  if (kernel === 'tfl_requantize' || kernel === 'tfl_quantize_f32_x8' || kernel.startsWith('x8_lut')) expect(fast.staticPlanStatus()).toEqual({ static: true });
  fast.dispose();
  expect(got.type).toBe(want.type);
  expect(got.dims).toEqual(want.dims);
  expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
}

const dimsArb = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 });
const scaleArb = fc.constantFrom(0.003, 0.02, 0.0625, 0.1, 0.37, 1.5);

describe('TFLite 8-bit pointwise ops on a 256-entry table vs the TS reference', () => {
  // LOGISTIC / TANH int8 (reference_integer_ops/logistic.h, tanh.h): gemmlowp fixed point when the output has TFLite's
  // fixed parameters ("output->params.scale == 1. / 256", zero point −128 for LOGISTIC; 1/128 and 0 for TANH), else
  // the float function rounded; RELU / RELU6 / RELU_N1_TO_1 (activations.cc ReluPrepare): "clamped = output_offset +
  // MultiplyByQuantizedMultiplier(input - input_zero_point, multiplier, shift)" clamped to the activation range;
  // HARD_SWISH: reference_ops::HardSwish's 16-bit fixed point (hardSwishTable8). Each is a function of the input code, so the
  // table built from the reference at plan time must reproduce it for every code and every shape.
  it('LOGISTIC / TANH / HARD_SWISH / RELU / RELU6 / RELU_N1_TO_1 are bit-exact over int8 / uint8, scales, zero points and a fused Clip', () => {
    fc.assert(
      fc.property(
        fc.record({
          op: fc.constantFrom('LOGISTIC', 'TANH', 'HARD_SWISH', 'RELU', 'RELU6', 'RELU_N1_TO_1'),
          dt: fc.constantFrom<DType>('int8', 'int8', 'uint8'),
          dims: dimsArb,
          is: scaleArb,
          os: scaleArb,
          fixedOut: fc.boolean(),
          clip: fc.constantFrom(undefined, [-20, 40] as [number, number], [10, 100] as [number, number]),
        }),
        fc.integer(),
        (r, seed) => {
          const rnd = rng(seed);
          const zp = (dt: DType) => (dt === 'int8' ? Math.floor(rnd() * 60) - 30 : Math.floor(rnd() * 256));
          let [os, oz] = [r.os, zp(r.dt)];
          if (r.fixedOut && r.dt === 'int8' && r.op === 'LOGISTIC') [os, oz] = [1 / 256, -128];
          if (r.fixedOut && r.dt === 'int8' && r.op === 'TANH') [os, oz] = [1 / 128, 0];
          // HardSwishPrepare refuses output scales below input_scale / 128 (test/ops/tflite-qmath.test.ts checks the error)
          if (r.op === 'HARD_SWISH' && os < r.is / 128) os = r.is / 64;
          const attrs = { in_scale: [r.is], in_zero_point: [zp(r.dt)], out_scale: [os], out_zero_point: [oz] };
          const n = r.dims.reduce((a, d) => a * d, 1);
          const clip = r.clip && r.dt === 'uint8' ? ([Math.max(0, r.clip[0]), r.clip[1]] as [number, number]) : r.clip;
          check(r.op, r.dt, r.dt, r.dims, attrs, new Tensor(r.dt, codes(r.dt, n, rnd), r.dims), 'x8_lut', clip);
        },
      ),
      { numRuns: 200, seed: 81 },
    );
  });

  // The int8 math builtins that are per-code functions (src/ops/tflite-qmath.ts): GELU (gelu.cc LUT, erf or tanh form),
  // ELU (activations.cc EluPrepare LUT), ABS (elementwise.cc AbsEvalQuantized) land on the same table kernel.
  it('int8 GELU / ELU / ABS are bit-exact on the table kernel, with a fused Clip', () => {
    fc.assert(
      fc.property(fc.constantFrom('GELU', 'ELU', 'ABS'), fc.constantFrom(0, 1), dimsArb, scaleArb, scaleArb, fc.constantFrom(undefined, [-20, 40] as [number, number]), fc.integer(), (op, approx, dims, is, os, clip, seed) => {
        const rnd = rng(seed);
        const zp = () => Math.floor(rnd() * 60) - 30;
        const attrs = { in_scale: [is], in_zero_point: [zp()], out_scale: [os], out_zero_point: [zp()], ...(op === 'GELU' ? { approximate: approx } : {}) };
        const n = dims.reduce((a, d) => a * d, 1);
        check(op, 'int8', 'int8', dims, attrs, new Tensor('int8', codes('int8', n, rnd), dims), 'x8_lut', clip);
      }),
      { numRuns: 60, seed: 83 },
    );
  });

  // DEQUANTIZE (dequantize.cc): "static_cast<float>(scale * (val - zero_point))".
  it('DEQUANTIZE int8 / uint8 → float32 is bit-exact', () => {
    fc.assert(
      fc.property(fc.constantFrom<DType>('int8', 'uint8'), dimsArb, scaleArb, fc.integer(), (dt, dims, s, seed) => {
        const rnd = rng(seed);
        const z = dt === 'int8' ? Math.floor(rnd() * 256) - 128 : Math.floor(rnd() * 256);
        const n = dims.reduce((a, d) => a * d, 1);
        check('DEQUANTIZE', dt, 'float32', dims, { in_scale: [s], in_zero_point: [z] }, new Tensor(dt, codes(dt, n, rnd), dims), 'x8_lut_f32');
      }),
      { numRuns: 100, seed: 82 },
    );
  });

  // ONNX Clip on int8 codes standing alone (the graph input straight into it, nothing to fold it into):
  // "Clip operator limits the given input within an interval"
  it('a standalone int8 Clip runs on the table kernel, bit-exact', () => {
    fc.assert(
      fc.property(dimsArb, fc.integer({ min: -128, max: 127 }), fc.integer({ min: -128, max: 127 }), fc.integer(), (dims, a, b, seed) => {
        const rnd = rng(seed);
        const g = new Graph();
        g.inputs = [{ name: 'X', type: { dtype: 'int8', shape: dims } }];
        g.initializers.set('lo', new Tensor('int8', Int8Array.of(Math.min(a, b)), []));
        g.initializers.set('hi', new Tensor('int8', Int8Array.of(Math.max(a, b)), []));
        g.nodes = [{ name: 'c', op: 'Clip', domain: '', inputs: ['X', 'lo', 'hi'], outputs: ['Y'], attrs: {} }];
        g.outputs = [{ name: 'Y', type: { dtype: 'int8' } }];
        const x = new Tensor('int8', codes('int8', dims.reduce((p, d) => p * d, 1), rnd), dims);
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('x8_lut');
        const got = fast.run({ X: x }).Y!;
        fast.dispose();
        expect(Array.from(got.data as Int8Array)).toEqual(Array.from(new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Int8Array));
      }),
      { numRuns: 60, seed: 83 },
    );
  });
});

describe('TFLite QUANTIZE kernels vs the TS reference', () => {
  // quantize.cc, float input → AffineQuantize: "static_cast<int32>(TfLiteRound(val / scale)) + zero_point", clamped
  // to the output type (TfLiteRound rounds halves away from zero); values on exact halves, NaN and ±∞ included.
  it('float32 → int8 / uint8 is bit-exact, halves and non-finite values included', () => {
    fc.assert(
      fc.property(fc.constantFrom<DType>('int8', 'uint8'), dimsArb, scaleArb, fc.integer(), (dt, dims, s, seed) => {
        const rnd = rng(seed);
        const z = dt === 'int8' ? Math.floor(rnd() * 60) - 30 : Math.floor(rnd() * 256);
        const n = dims.reduce((a, d) => a * d, 1);
        const pick = () => {
          const u = rnd();
          if (u < 0.4) return (Math.floor(rnd() * 400) - 200 + 0.5) * s; // exact halves of the step
          if (u < 0.45) return [NaN, Infinity, -Infinity, 0, -0][Math.floor(rnd() * 5)]!;
          return (rnd() - 0.5) * 400 * s;
        };
        const x = new Tensor('float32', Float32Array.from({ length: n }, pick), dims);
        check('QUANTIZE', 'float32', dt, dims, { output_type: dt, out_scale: [s], out_zero_point: [z] }, x, 'tfl_quantize_f32_x8');
      }),
      { numRuns: 150, seed: 84 },
    );
  });

  // quantize.cc, integer input → Requantize: "effective_output_scale = input->params.scale / output->params.scale",
  // "output = MultiplyByQuantizedMultiplier(input - input_zeropoint, multiplier, shift) + output_zeropoint", clamped.
  // 8-bit → 8-bit runs on the table kernel; int16 → int8 / int32 and 8-bit → int16 (the 16x8 models) on tfl_requantize.
  it('integer → integer is bit-exact over int8 / uint8 / int16 / int32 pairs, scales and zero points', () => {
    const pairs: [DType, DType][] = [['int8', 'int8'], ['uint8', 'int8'], ['int8', 'uint8'], ['int16', 'int8'], ['int16', 'int32'], ['int8', 'int16'], ['int16', 'int16'], ['int32', 'int8']];
    fc.assert(
      fc.property(fc.constantFrom(...pairs), dimsArb, scaleArb, scaleArb, fc.integer(), ([it8, ot], dims, is, os, seed) => {
        const rnd = rng(seed);
        const zp = (dt: DType) => (dt === 'uint8' ? Math.floor(rnd() * 256) : dt === 'int16' ? 0 : Math.floor(rnd() * 60) - 30);
        const n = dims.reduce((a, d) => a * d, 1);
        const x = new Tensor(it8, codes(it8, n, rnd), dims);
        const attrs = { output_type: ot, in_scale: [is], in_zero_point: [zp(it8)], out_scale: [os], out_zero_point: [zp(ot)] };
        const k = (it8 === 'int8' || it8 === 'uint8') && (ot === 'int8' || ot === 'uint8') ? 'x8_lut' : 'tfl_requantize';
        check('QUANTIZE', it8, ot, dims, attrs, x, k);
      }),
      { numRuns: 200, seed: 85 },
    );
  });
});

describe('TFLite 8-bit SOFTMAX kernel vs the TS reference', () => {
  // reference_ops::Softmax (softmax.h, 8-bit input): "input_diff = input_data[i*depth+c] - max_in_row; if (input_diff
  // >= diff_min) { input_diff_rescaled = MultiplyByQuantizedMultiplierGreaterThanOne(input_diff, input_beta_multiplier,
  // input_beta_left_shift); sum_of_exps += Rescale<kAccumulationIntegerBits>(exp_on_negative_values(scaled_diff_f8)) }",
  // "shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)", "output = RoundingDivideByPOT(
  // (shifted_scale * exp_in_0).raw(), num_bits_over_unit + 31 - (sizeof(OutputT) * 8)) + output_min", clamped.
  it('is bit-exact over int8 / uint8 input, int8 / uint8 / int16 output, beta, input scales and row lengths', () => {
    fc.assert(
      fc.property(
        fc.record({
          dt: fc.constantFrom<DType>('int8', 'uint8'),
          out: fc.constantFrom<DType>('same' as DType, 'int16'),
          rows: fc.integer({ min: 1, max: 5 }),
          depth: fc.integer({ min: 1, max: 40 }),
          beta: fc.constantFrom(1, 1, 0.5, 2.5),
          is: fc.constantFrom(0.003, 0.02, 0.0625, 0.1, 0.37, 1.5, 7),
          narrow: fc.boolean(),
        }),
        fc.integer(),
        (r, seed) => {
          const rnd = rng(seed);
          const ot = r.out === 'int16' ? 'int16' : r.dt;
          const dims = [r.rows, r.depth];
          const n = r.rows * r.depth;
          // narrow: codes within a few steps of each other (sums far from saturation); else the full range
          const x = r.narrow ? new Tensor(r.dt, (r.dt === 'int8' ? Int8Array : Uint8Array).from({ length: n }, () => Math.floor(rnd() * 9) + (r.dt === 'int8' ? 0 : 100)), dims) : new Tensor(r.dt, codes(r.dt, n, rnd), dims);
          const oq = ot === 'int16' ? { out_scale: [1 / 65536], out_zero_point: [-32768] } : ot === 'int8' ? { out_scale: [1 / 256], out_zero_point: [-128] } : { out_scale: [1 / 256], out_zero_point: [0] };
          const attrs = { beta: r.beta, output_type: ot, in_scale: [r.is], in_zero_point: [r.dt === 'int8' ? 3 : 128], ...oq };
          check('SOFTMAX', r.dt, ot, dims, attrs, x, 'tfl_softmax_x8');
        },
      ),
      { numRuns: 250, seed: 86 },
    );
  });
});

describe('int8 Reshape is a view', () => {
  // ONNX Reshape: "the data is not changed, only the shape"; TFLite RESHAPE keeps the quantization parameters
  it('runs on the view kernel and returns the same codes under the new dims', () => {
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'int8', shape: [1, 2, 3, 4] } }];
    g.initializers.set('s', new Tensor('int64', BigInt64Array.of(6n, 4n), [2]));
    g.nodes = [{ name: 'r', op: 'Reshape', domain: '', inputs: ['X', 's'], outputs: ['Y'], attrs: {} }];
    g.outputs = [{ name: 'Y', type: { dtype: 'int8' } }];
    const x = new Tensor('int8', Int8Array.from({ length: 24 }, (_, i) => i * 5 - 60), [1, 2, 3, 4]);
    const fast = new Executor(g);
    expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('view');
    const y = fast.run({ X: x }).Y!;
    fast.dispose();
    expect(y.dims).toEqual([6, 4]);
    expect(Array.from(y.data as Int8Array)).toEqual(Array.from(x.data as Int8Array));
  });
});

describe('TFLite quantized MEAN over H and W vs the TS reference', () => {
  // reference_integer_ops/mean.h (reduce.cc EvalMeanReferenceOps: int8 / int16, keep_dims, 4-D, axes {1, 2}):
  // "acc += input_data[...] - input_zero_point"; "acc = MultiplyByQuantizedMultiplier(acc, multiplier, shift); acc =
  // acc > 0 ? (acc + num_elements_in_axis / 2) / num_elements_in_axis : (acc - num_elements_in_axis / 2) /
  // num_elements_in_axis; acc += output_zero_point", clamped; multiplier of input_scale / output_scale.
  it('is bit-exact over int8 / int16, batch, H, W, channels (vector and tail), scales and zero points', () => {
    fc.assert(
      fc.property(
        fc.record({
          dt: fc.constantFrom<DType>('int8', 'int8', 'int16'),
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 9 }),
          c: fc.integer({ min: 1, max: 37 }),
          is: scaleArb,
          os: scaleArb,
          axes: fc.constantFrom([1, 2], [2, 1], [-3, -2]),
        }),
        fc.integer(),
        (r, seed) => {
          const rnd = rng(seed);
          const dims = [r.n, r.h, r.w, r.c];
          const zp = () => (r.dt === 'int16' ? 0 : Math.floor(rnd() * 60) - 30);
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: r.dt, shape: dims } }];
          g.initializers.set('ax', new Tensor('int32', Int32Array.from(r.axes), [2]));
          g.nodes = [{ name: 'm', op: 'MEAN', domain: T, inputs: ['X', 'ax'], outputs: ['Y'], attrs: { keep_dims: 1, in_scale: [r.is], in_zero_point: [zp()], out_scale: [r.os], out_zero_point: [zp()] } as never }];
          g.outputs = [{ name: 'Y', type: { dtype: r.dt } }];
          g.opsets[T] = 1;
          const x = new Tensor(r.dt, codes(r.dt, r.n * r.h * r.w * r.c, rnd), dims);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('tfl_mean_hw');
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          expect(fast.staticPlanStatus()).toEqual({ static: true }); // the bound call ran
          fast.dispose();
          expect(got.dims).toEqual([r.n, 1, 1, r.c]);
          expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
        },
      ),
      { numRuns: 200, seed: 87 },
    );
  });
});

describe('TFLite integer SVDF kernel vs the TS reference', () => {
  // svdf.cc EvalIntegerSVDF: the state shifts left by one; "effective_scale_1 = input_scale * weights_feature_scale /
  // state_scale" requantizes each filter's dot product Σ w_f·(x − x_zp) into the newest state column (clamped to the
  // state type); "effective_scale_2 = state_scale * weights_time_scale / output_scale" requantizes bias + Σ over the
  // rank's filters and memory of w_t·(state − state_zp) into the int8 output.
  it('is bit-exact over batch, input depth, filters, rank, memory, int8 / int16 weights_time and state', () => {
    fc.assert(
      fc.property(
        fc.record({
          b: fc.integer({ min: 1, max: 3 }),
          i: fc.integer({ min: 1, max: 20 }),
          u: fc.integer({ min: 1, max: 6 }),
          r: fc.integer({ min: 1, max: 3 }),
          m: fc.integer({ min: 1, max: 10 }),
          wt: fc.constantFrom<DType>('int8', 'int16'),
          st: fc.constantFrom<DType>('int8', 'int16'),
          os: scaleArb,
        }),
        fc.integer(),
        (p, seed) => {
          const rnd = rng(seed);
          const F = p.u * p.r;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'int8', shape: [p.b, p.i] } }];
          g.initializers.set('wf', new Tensor('int8', codes('int8', F * p.i, rnd), [F, p.i]));
          g.initializers.set('wt', new Tensor(p.wt, codes(p.wt, F * p.m, rnd), [F, p.m]));
          g.initializers.set('bias', new Tensor('int32', Int32Array.from({ length: p.u }, () => Math.floor(rnd() * 20000) - 10000), [p.u]));
          g.initializers.set('state', new Tensor(p.st, codes(p.st, p.b * F * p.m, rnd), [p.b, F * p.m]));
          const szp = p.st === 'int8' ? Math.floor(rnd() * 20) - 10 : 0;
          const attrs = { rank: p.r, in_scale: [0.05, 0.01, 0.002, 0, 0.03], in_zero_point: [Math.floor(rnd() * 20) - 10, 0, 0, 0, szp], out_scale: [p.os], out_zero_point: [Math.floor(rnd() * 20) - 10] };
          g.nodes = [{ name: 's', op: 'SVDF', domain: T, inputs: ['X', 'wf', 'wt', 'bias', 'state'], outputs: ['Y'], attrs: attrs as never }];
          g.outputs = [{ name: 'Y', type: { dtype: 'int8' } }];
          g.opsets[T] = 1;
          const x = new Tensor('int8', codes('int8', p.b * p.i, rnd), [p.b, p.i]);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('tfl_svdf_i8');
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          fast.dispose();
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
        },
      ),
      { numRuns: 200, seed: 88 },
    );
  });
});
