// TFLite int8 CONV_2D / DEPTHWISE_CONV_2D as the importer maps them (QLinearConv, data_layout NHWC, weight_layout
// OHWI / 1HWO, rounding 'tflite'): the WASM kernel (src/kernels/tflite-int8.ts) against the TS reference, BIT-EXACT.
// TFLite quantization spec / reference_integer_ops/conv.h: acc = bias[c] + Σ (x − x_zp)·w (int8 filters symmetric),
// out = clamp(MultiplyByQuantizedMultiplier(acc, M[c], shift[c]) + y_zp), M·2^shift = x_scale·w_scale[c]/y_scale.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { rng } from '../helpers/quant-data.js';

describe('TFLite int8 conv kernel vs the TS reference', () => {
  it('is bit-exact over conv / grouped / depthwise (multiplier 1–2), strides, dilations, SAME/VALID, scales and zero points', () => {
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constantFrom('conv', 'conv', 'grouped', 'depthwise'),
          n: fc.integer({ min: 1, max: 2 }),
          c: fc.integer({ min: 1, max: 6 }),
          mg: fc.integer({ min: 1, max: 9 }),
          mult: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 11 }),
          w: fc.integer({ min: 1, max: 13 }),
          k: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          s: fc.integer({ min: 1, max: 2 }),
          d: fc.integer({ min: 1, max: 2 }),
          pad: fc.constantFrom('SAME_UPPER', 'VALID'),
          yscale: fc.constantFrom(0.5, 0.02, 0.0007, 3),
          bias: fc.boolean(),
          perChannel: fc.boolean(),
          // the importer's fused activation: a Clip on the int8 codes (folded into the kernel), or none
          clip: fc.constantFrom(undefined, [-128, 127], [-5, 127], [-20, 40]),
        }),
        fc.integer(),
        (r, seed) => {
          const [kh, kw] = r.k;
          const h = Math.max(r.h, (kh - 1) * r.d + 1);
          const w = Math.max(r.w, (kw - 1) * r.d + 1);
          const group = r.kind === 'conv' ? 1 : r.kind === 'grouped' ? (r.c % 2 === 0 ? 2 : 1) : r.c;
          const dw = r.kind === 'depthwise';
          const m = dw ? r.c * r.mult : r.mg * group;
          const cg = r.c / group;
          const rnd = rng(seed);
          const i8 = (n: number) => Int8Array.from({ length: n }, () => Math.floor(rnd() * 256) - 128);
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'int8', shape: [r.n, h, w, r.c] } }];
          const f32 = (v: number[] | Float32Array, dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);
          g.initializers.set('xs', f32([0.05], []));
          g.initializers.set('xz', new Tensor('int8', Int8Array.of(Math.floor(rnd() * 40) - 20), []));
          g.initializers.set('W', new Tensor('int8', i8(m * kh * kw * (dw ? 1 : cg)), dw ? [1, kh, kw, m] : [m, kh, kw, cg]));
          const wsc = Float32Array.from({ length: r.perChannel ? m : 1 }, () => 0.002 + rnd() * 0.05);
          g.initializers.set('ws', f32(wsc, r.perChannel ? [m] : []));
          g.initializers.set('wz', new Tensor('int8', new Int8Array(r.perChannel ? m : 1), r.perChannel ? [m] : []));
          g.initializers.set('ys', f32([r.yscale], []));
          g.initializers.set('yz', new Tensor('int8', Int8Array.of(Math.floor(rnd() * 60) - 30), []));
          if (r.bias) g.initializers.set('B', new Tensor('int32', Int32Array.from({ length: m }, () => Math.floor(rnd() * 20000) - 10000), [m]));
          const attrs = { auto_pad: r.pad, strides: [r.s, r.s], dilations: [r.d, r.d], group, data_layout: 'NHWC', weight_layout: dw ? '1HWO' : 'OHWI', rounding: 'tflite' };
          g.nodes = [{ name: 'conv', op: 'QLinearConv', domain: '', inputs: ['X', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz', ...(r.bias ? ['B'] : [])], outputs: [r.clip ? 'T' : 'Y'], attrs }];
          if (r.clip) {
            g.initializers.set('lo', new Tensor('int8', Int8Array.of(r.clip[0]!), []));
            g.initializers.set('hi', new Tensor('int8', Int8Array.of(r.clip[1]!), []));
            g.nodes.push({ name: 'act', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
          }
          g.outputs = [{ name: 'Y', type: { dtype: 'int8' } }];
          const x = new Tensor('int8', i8(r.n * h * w * r.c), [r.n, h, w, r.c]);
          const fast = new Executor(g);
          // the plan's nodes (the layout pass rewrote the conv to NCHW: src/ir/passes/layout.ts)
          const kname = dw && r.mult === 1 && r.c > 1 ? 'qs8_dwconv2d_tflite' : 'qs8_conv2d_tflite';
          expect(fast.kernels.get(fast.graph.nodes.find((n) => n.op === 'QLinearConv')!)?.name).toBe(kname);
          if (r.clip) expect(fast.fusedInto.has(fast.graph.nodes.find((n) => n.op === 'Clip')!)).toBe(true);
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          fast.dispose();
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
          // the kernel's NHWC form (plans without the layout pass)
          const nhwc = new Executor(g, { layout: false });
          expect(nhwc.kernels.get(g.nodes[0]!)?.name).toBe(kname);
          expect(Array.from(nhwc.run({ X: x }).Y!.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
          nhwc.dispose();
        },
      ),
      { numRuns: 250, seed: 51 },
    );
  });
});

// The same rule at MobileNet-like shapes, where the kernels requantize inside their tiles (asm/q8.ts tflRequant4):
// depthwise 3×3 / 5×5 (depth multiplier 1: the direct depthwise kernel) and pointwise / 3×3 convs (the int8 GEMM),
// widths past one 8-output vector with tails, channel counts past a 4-row tile, explicit asymmetric pads (a folded
// PAD), input zero points over the whole int8 range, and multipliers M·2^shift from ~2^-20 (right shifts) to > 1
// (left shifts). conv.h: "acc = MultiplyByQuantizedMultiplier(acc, output_multiplier[out_channel],
// output_shift[out_channel]); acc += output_offset; acc = std::max(acc, output_activation_min); acc = std::min(acc,
// output_activation_max);"
describe('TFLite int8 conv kernels with the requantization in the tile', () => {
  it('are bit-exact over depthwise / pointwise / full convs, strides, explicit pads, zero points and extreme multipliers', () => {
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constantFrom('depthwise', 'depthwise', 'pointwise', 'full'),
          c: fc.integer({ min: 2, max: 13 }),
          m: fc.integer({ min: 1, max: 19 }),
          h: fc.integer({ min: 5, max: 12 }),
          w: fc.integer({ min: 5, max: 27 }),
          k: fc.constantFrom(3, 3, 5),
          s: fc.integer({ min: 1, max: 2 }),
          pads: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
          xz: fc.integer({ min: -128, max: 127 }),
          // output scale: tiny (left shifts, saturating codes) … huge (right shifts up to ~20 bits)
          yscale: fc.constantFrom(1e-5, 0.0007, 0.02, 0.5, 40),
          perChannel: fc.boolean(),
          clip: fc.constantFrom(undefined, [0, 127], [-100, 6]),
        }),
        fc.integer(),
        (r, seed) => {
          const rnd = rng(seed);
          const i8 = (n: number) => Int8Array.from({ length: n }, () => Math.floor(rnd() * 256) - 128);
          const dw = r.kind === 'depthwise';
          const k = r.kind === 'pointwise' ? 1 : r.k;
          const m = dw ? r.c : r.m;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'int8', shape: [1, r.h, r.w, r.c] } }];
          const f32 = (v: number[] | Float32Array, dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);
          g.initializers.set('xs', f32([0.03 + rnd() * 0.05], []));
          g.initializers.set('xz', new Tensor('int8', Int8Array.of(r.xz), []));
          g.initializers.set('W', new Tensor('int8', i8(m * k * k * (dw ? 1 : r.c)), dw ? [1, k, k, m] : [m, k, k, r.c]));
          g.initializers.set('ws', f32(Float32Array.from({ length: r.perChannel ? m : 1 }, () => 0.001 + rnd() * 0.08), r.perChannel ? [m] : []));
          g.initializers.set('wz', new Tensor('int8', new Int8Array(r.perChannel ? m : 1), r.perChannel ? [m] : []));
          g.initializers.set('ys', f32([r.yscale], []));
          g.initializers.set('yz', new Tensor('int8', Int8Array.of(Math.floor(rnd() * 200) - 100), []));
          g.initializers.set('B', new Tensor('int32', Int32Array.from({ length: m }, () => Math.floor(rnd() * 2e6) - 1e6), [m]));
          const pads = r.kind === 'pointwise' ? [0, 0, 0, 0] : r.pads;
          const attrs = { pads, strides: [r.s, r.s], group: dw ? r.c : 1, data_layout: 'NHWC', weight_layout: dw ? '1HWO' : 'OHWI', rounding: 'tflite' };
          g.nodes = [{ name: 'conv', op: 'QLinearConv', domain: '', inputs: ['X', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz', 'B'], outputs: [r.clip ? 'T' : 'Y'], attrs }];
          if (r.clip) {
            g.initializers.set('lo', new Tensor('int8', Int8Array.of(r.clip[0]!), []));
            g.initializers.set('hi', new Tensor('int8', Int8Array.of(r.clip[1]!), []));
            g.nodes.push({ name: 'act', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
          }
          g.outputs = [{ name: 'Y', type: { dtype: 'int8' } }];
          const x = new Tensor('int8', i8(r.h * r.w * r.c), [1, r.h, r.w, r.c]);
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          for (const layout of [true, false]) {
            const fast = new Executor(g, { layout });
            const node = layout ? fast.graph.nodes.find((n) => n.op === 'QLinearConv')! : g.nodes[0]!;
            expect(fast.kernels.get(node)?.name).toBe(dw ? 'qs8_dwconv2d_tflite' : 'qs8_conv2d_tflite');
            const got = fast.run({ X: x }).Y!;
            // made NCHW by the layout pass, both convs bind: the graph ran as a static plan (the bound calls), bit-exact
            // all the same (the NHWC form transposes around the kernel on the general path)
            if (layout) expect(fast.staticPlanStatus()).toEqual({ static: true });
            fast.dispose();
            expect(got.dims).toEqual(want.dims);
            expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
          }
        },
      ),
      { numRuns: 200, seed: 53 },
    );
  });
});

describe('TFLite int8 FULLY_CONNECTED kernel vs the TS reference', () => {
  // fully_connected.cc: acc = bias[u] + Σ_k (x − x_zp)·(W[u, k] − w_zp); out = clamp(MultiplyByQuantizedMultiplier(acc) + y_zp)
  it('is bit-exact over rows, units, depth (small and packed paths), per-tensor / per-channel scales, weight zero points, bias and a fused Clip', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 9 }),
          // K·N below 1024 runs the direct small-layer path (hello_world_int8's 1→16→16→1), above it the packed GEMM
          n: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 26, max: 41 })),
          k: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 40, max: 77 })),
          perChannel: fc.boolean(),
          wz: fc.constantFrom(0, 0, 3, -7),
          yscale: fc.constantFrom(0.5, 0.02, 0.0007, 3),
          bias: fc.boolean(),
          clip: fc.constantFrom(undefined, [-128, 127], [-20, 40]),
        }),
        fc.integer(),
        (r, seed) => {
          const rnd = rng(seed);
          const i8 = (n: number) => Int8Array.from({ length: n }, () => Math.floor(rnd() * 256) - 128);
          const f32 = (v: number[] | Float32Array, dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);
          const g = new Graph();
          g.inputs = [{ name: 'A', type: { dtype: 'int8', shape: [r.m, r.k] } }];
          const per = r.perChannel;
          g.initializers.set('as', f32([0.04], []));
          g.initializers.set('az', new Tensor('int8', Int8Array.of(Math.floor(rnd() * 40) - 20), []));
          g.initializers.set('B', new Tensor('int8', i8(r.n * r.k), [r.n, r.k]));
          g.initializers.set('bs', f32(Float32Array.from({ length: per ? r.n : 1 }, () => 0.002 + rnd() * 0.05), per ? [r.n] : []));
          g.initializers.set('bz', new Tensor('int8', per ? new Int8Array(r.n) : Int8Array.of(r.wz), per ? [r.n] : []));
          g.initializers.set('ys', f32([r.yscale], []));
          g.initializers.set('yz', new Tensor('int8', Int8Array.of(Math.floor(rnd() * 60) - 30), []));
          if (r.bias) g.initializers.set('C', new Tensor('int32', Int32Array.from({ length: r.n }, () => Math.floor(rnd() * 20000) - 10000), [r.n]));
          g.nodes = [{ name: 'fc', op: 'QGemm', domain: 'com.microsoft', inputs: ['A', 'as', 'az', 'B', 'bs', 'bz', r.bias ? 'C' : '', 'ys', 'yz'], outputs: [r.clip ? 'T' : 'Y'], attrs: { transB: 1, rounding: 'tflite' } }];
          if (r.clip) {
            g.initializers.set('lo', new Tensor('int8', Int8Array.of(r.clip[0]!), []));
            g.initializers.set('hi', new Tensor('int8', Int8Array.of(r.clip[1]!), []));
            g.nodes.push({ name: 'act', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
          }
          g.outputs = [{ name: 'Y', type: { dtype: 'int8' } }];
          g.opsets = { '': 21, 'com.microsoft': 1 };
          const a = new Tensor('int8', i8(r.m * r.k), [r.m, r.k]);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(r.k * r.n < 1024 ? 'tfl_fc_i8_small' : 'qs8_gemm_tflite');
          if (r.clip) expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
          const got = fast.run({ A: a }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ A: a }).Y!;
          fast.dispose();
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
        },
      ),
      { numRuns: 250, seed: 52 },
    );
  });
});

// TFLite quantized AVERAGE_POOL_2D (reference_integer_ops/pooling.h): the mean over the taps inside the image,
// "acc > 0 ? (acc + filter_count / 2) / filter_count : (acc - filter_count / 2) / filter_count" (C division),
// clamped to the activation range; int8, and int16 in the 16x8 mode. The kernel must match the reference bit for bit.
describe('TFLite quantized AVERAGE_POOL_2D kernel vs the TS reference', () => {
  it('is bit-exact over int8 / int16, filters, strides, SAME / VALID, batch, channels and a fused Clip', () => {
    fc.assert(
      fc.property(
        fc.record({
          int16: fc.boolean(),
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 12 }),
          w: fc.integer({ min: 1, max: 12 }),
          c: fc.integer({ min: 1, max: 9 }),
          fh: fc.integer({ min: 1, max: 4 }),
          fw: fc.integer({ min: 1, max: 4 }),
          sh: fc.integer({ min: 1, max: 3 }),
          sw: fc.integer({ min: 1, max: 3 }),
          padding: fc.constantFrom('SAME', 'VALID'),
          clip: fc.constantFrom(undefined, [-10, 60]),
        }),
        fc.integer(),
        (r, seed) => {
          const h = Math.max(r.h, r.fh);
          const w = Math.max(r.w, r.fw);
          const dt = r.int16 ? 'int16' : 'int8';
          const rnd = rng(seed);
          const size = r.n * h * w * r.c;
          const x = r.int16 ? new Tensor('int16', Int16Array.from({ length: size }, () => Math.floor(rnd() * 65536) - 32768), [r.n, h, w, r.c]) : new Tensor('int8', Int8Array.from({ length: size }, () => Math.floor(rnd() * 256) - 128), [r.n, h, w, r.c]);
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: dt, shape: [r.n, h, w, r.c] } }];
          const q = { in_scale: [0.1], in_zero_point: [r.int16 ? 0 : 3], out_scale: [0.1], out_zero_point: [r.int16 ? 0 : 3] };
          g.nodes = [{ name: 'pool', op: 'AVERAGE_POOL_2D', domain: 'ai.edgeq.tflite', inputs: ['X'], outputs: [r.clip ? 'T' : 'Y'], attrs: { padding: r.padding, filter_height: r.fh, filter_width: r.fw, stride_h: r.sh, stride_w: r.sw, ...q } }];
          if (r.clip) {
            const b = (v: number) => (r.int16 ? new Tensor('int16', Int16Array.of(v), []) : new Tensor('int8', Int8Array.of(v), []));
            g.initializers.set('lo', b(r.clip[0]!));
            g.initializers.set('hi', b(r.clip[1]!));
            g.nodes.push({ name: 'act', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
          }
          g.outputs = [{ name: 'Y', type: { dtype: dt } }];
          g.opsets['ai.edgeq.tflite'] = 1;
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('tfl_avgpool_nhwc');
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          // the bound call ran (an int8 clamp fused at plan time; an int16 Clip the kernel did not fold runs on the reference)
          if (!(r.int16 && r.clip && !fast.fusedInto.has(g.nodes[1]!))) expect(fast.staticPlanStatus()).toEqual({ static: true });
          fast.dispose();
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
        },
      ),
      { numRuns: 250, seed: 17 },
    );
  });
});

// TFLite quantized ADD, general form (add.cc): "left_shift = 20 (int8); twice_max_input_scale = 2 * max(s1, s2);
// real_input_multiplier = s / twice_max_input_scale; real_output_multiplier = twice_max_input_scale / ((1 << left_shift)
// * so)", each quantized with QuantizeMultiplier and applied with MultiplyByQuantizedMultiplier. Bit-exact.
// MUL (mul.cc): "real_multiplier = input1_scale * input2_scale / output_scale", then per element
// MultiplyByQuantizedMultiplier((a − a_zp)·(b − b_zp)) + output_zp, clamped.
describe('TFLite int8 ADD / MUL kernels (QLinearAdd / QLinearMul, rounding tflite) vs the TS reference', () => {
  it('are bit-exact over scales, zero points, sizes, a scalar operand and a fused Clip', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 300 }),
          mul: fc.boolean(),
          scalar: fc.constantFrom('none', 'none', 'a', 'b'),
          s: fc.tuple(fc.double({ min: 0.001, max: 2, noNaN: true }), fc.double({ min: 0.001, max: 2, noNaN: true }), fc.double({ min: 0.001, max: 4, noNaN: true })),
          z: fc.tuple(fc.integer({ min: -128, max: 127 }), fc.integer({ min: -128, max: 127 }), fc.integer({ min: -128, max: 127 })),
          clip: fc.constantFrom(undefined, [-128, 127], [-30, 90]),
          constB: fc.boolean(),
        }),
        fc.integer(),
        (r, seed) => {
          const rnd = rng(seed);
          const i8 = (n: number) => Int8Array.from({ length: n }, () => Math.floor(rnd() * 256) - 128);
          const da = r.scalar === 'a' ? [1] : [1, r.n];
          const db = r.scalar === 'b' ? [1] : [1, r.n];
          const g = new Graph();
          g.inputs = [
            { name: 'A', type: { dtype: 'int8', shape: da } },
            { name: 'B', type: { dtype: 'int8', shape: db } },
          ];
          const f = (v: number) => new Tensor('float32', Float32Array.of(v), []);
          const z = (v: number) => new Tensor('int8', Int8Array.of(v), []);
          [['as', f(r.s[0])], ['az', z(r.z[0])], ['bs', f(r.s[1])], ['bz', z(r.z[1])], ['cs', f(r.s[2])], ['cz', z(r.z[2])]].forEach(([k, t]) => g.initializers.set(k as string, t as Tensor));
          g.nodes = [{ name: 'add', op: r.mul ? 'QLinearMul' : 'QLinearAdd', domain: 'com.microsoft', inputs: ['A', 'as', 'az', 'B', 'bs', 'bz', 'cs', 'cz'], outputs: [r.clip ? 'T' : 'Y'], attrs: { rounding: 'tflite' } }];
          if (r.clip) {
            g.initializers.set('lo', z(r.clip[0]!));
            g.initializers.set('hi', z(r.clip[1]!));
            g.nodes.push({ name: 'act', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
          }
          g.outputs = [{ name: 'Y', type: { dtype: 'int8' } }];
          g.opsets['com.microsoft'] = 1;
          const feeds: Record<string, Tensor> = { A: new Tensor('int8', i8(da.reduce((a, d) => a * d, 1)), da), B: new Tensor('int8', i8(db.reduce((a, d) => a * d, 1)), db) };
          if (r.constB) {
            // a constant operand (a bias-like tensor): copied once into the static plan's memory
            g.inputs = g.inputs.filter((i) => i.name !== 'B');
            g.initializers.set('B', feeds.B!);
            delete feeds.B;
          }
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(r.mul ? 'tfl_mul_i8' : 'tfl_add_i8');
          const got = fast.run(feeds).Y!;
          const want = new Executor(g, { backend: 'reference' }).run(feeds).Y!;
          expect(fast.staticPlanStatus()).toEqual({ static: true }); // the bound call ran
          fast.dispose();
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
        },
      ),
      { numRuns: 400, seed: 19 },
    );
  });
});
