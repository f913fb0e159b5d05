// The int8 math builtins' integer arithmetic (src/ops/tflite-qmath.ts, src/tensor/tflite-quant.ts): properties of the
// rounding and saturation rules, and the importer's typed refusals (untrusted quantization parameters). Equality with
// TFLite itself: test/formats/tflite/int8-math-tflite-web.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelFormatError, UnsupportedError, UnsupportedOpError } from '../../src/errors.js';
import { readTflite } from '../../src/formats/tflite/reader.js';
import '../../src/ops/index.js';
import { absTable, geluTransform, squaredDifferenceInt8, sumInt8 } from '../../src/ops/tflite-qmath.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { hardSwishTable8, invSqrtQuantizedMultiplierExp, lutPopulate8, multiplyByQuantizedMultiplierSingle, quantizeMultiplier } from '../../src/tensor/tflite-quant.js';
import { buildTflite } from '../helpers/tflite-builder.js';

const scale = fc.double({ min: 2 ** -10, max: 2, noNaN: true }).map(Math.fround);
const zp = fc.integer({ min: -128, max: 127 });
const code = fc.integer({ min: -128, max: 127 });

describe('int8 math arithmetic', () => {
  // ruy apply_multiplier.cc: "result = (x * quantized_multiplier + round) >> total_shift", round = 1 << (total_shift - 1)
  it('multiplyByQuantizedMultiplierSingle rounds x·m·2^(s−31) once, halves up', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 24), max: 2 ** 24 }), fc.double({ min: 2 ** -20, max: 4, noNaN: true }), (x, real) => {
        const [m, s] = quantizeMultiplier(real);
        const y = BigInt(multiplyByQuantizedMultiplierSingle(x, m, s));
        const d = y * (1n << BigInt(31 - s)) - BigInt(x) * BigInt(m); // 2^(31−s)·(y − exact)
        const half = 1n << BigInt(30 - s);
        expect(d > -half && d <= half).toBe(true);
      }),
    );
  });

  // squared_difference.cc: both inputs on one scale (twice the larger), so equal parameters make (a, b) and (b, a) equal,
  // and the result stays within 1 LSB + the rescale's error of the real (s1(a − z1) − s2(b − z2))² / s_out
  it('SQUARED_DIFFERENCE is symmetric at equal parameters and within 2 LSB of the real square when not saturated', () => {
    fc.assert(
      fc.property(scale, zp, scale, zp, scale, zp, code, code, (s1, z1, s2, z2, so, zo, a, b) => {
        const f = squaredDifferenceInt8(s1, z1, s2, z2, so, zo);
        if (typeof f === 'string') return;
        const g = squaredDifferenceInt8(s1, z1, s1, z1, so, zo);
        if (typeof g !== 'string') expect(g(a, b)).toBe(g(b, a));
        const real = (s1 * (a - z1) - s2 * (b - z2)) ** 2 / so + zo;
        if (real < 126 && real > -127) expect(Math.abs(f(a, b) - real)).toBeLessThanOrEqual(2);
      }),
    );
  });

  it('SQUARED_DIFFERENCE refuses an output multiplier ≥ 1 (QuantizeMultiplierSmallerThanOneExp)', () => {
    expect(squaredDifferenceInt8(1, 0, 1, 0, 2 ** -20, 0)).toMatch(/not below 1/);
  });

  // LUTPopulate: identity transform with equal parameters is the identity table (float dequantize / round trip exact)
  it('lutPopulate8 of the identity at equal parameters maps every code to itself', () => {
    fc.assert(
      fc.property(scale, zp, (s, z) => {
        const t = lutPopulate8('int8', s, z, s, z, (v) => v);
        for (let k = -128; k < 128; k++) expect(t[k & 0xff]).toBe(k);
      }),
    );
  });

  it('GELU / ABS / HARD_SWISH tables stay within 1–2 LSB of the real function where not saturated', () => {
    const hs = (v: number) => (v * Math.min(6, Math.max(0, v + 3))) / 6;
    fc.assert(
      fc.property(scale, zp, scale, zp, (si, zi, so, zo) => {
        const gelu = lutPopulate8('int8', si, zi, so, zo, geluTransform);
        const abs = absTable(si, zi, so, zo);
        const h = hardSwishTable8('int8', si, zi, so, zo);
        for (let k = -128; k < 128; k++) {
          const x = si * (k - zi);
          const near = (got: number, f: number, tol: number) => {
            const real = f / so + zo;
            if (real > -127 && real < 126) expect(Math.abs(got - real)).toBeLessThanOrEqual(tol);
          };
          near(gelu[k & 0xff]!, x * 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))), 1 + 0.002 * Math.abs(x) / so);
          near(abs[k & 0xff]!, Math.abs(x), 1);
          if (typeof h !== 'string') near(h[k & 0xff]!, hs(x), 2 + Math.abs(x) / so / 256);
        }
      }),
      { numRuns: 60 },
    );
  });

  // GetInvSqrtQuantizedMultiplierExp(input, −1): multiplier · 2^(shift − 31) ≈ 1/√input (5 Newton–Raphson steps)
  it('invSqrtQuantizedMultiplierExp is 1/√x to 1e-5 relative over int32 sums (28 fraction bits, 5 steps)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 2 ** 31 - 1 }), (v) => {
        const [m, s] = invSqrtQuantizedMultiplierExp(v, -1);
        expect(Math.abs((m * 2 ** (s - 31)) * Math.sqrt(v) - 1)).toBeLessThan(1e-5);
      }),
    );
    expect(invSqrtQuantizedMultiplierExp(1, -1)).toEqual([2147483647, 0]);
    expect(invSqrtQuantizedMultiplierExp(0, -1)).toEqual([2147483647, 0]);
  });

  // reduce.cc EvalSum at equal parameters: EvalGeneric sums in the int8 type (wraps); else QuantizedMeanOrSum stores
  // static_cast<int8_t> of the rounded int32 (wraps too)
  it('SUM wraps like TFLite instead of saturating', () => {
    expect(Array.from(sumInt8(Int32Array.of(200, -300, 5), 4, 0.1, 3, 0.1, 3))).toEqual([-56, -44, 5]);
    const [v] = sumInt8(Int32Array.of(100), 2, 0.5, 0, 0.1, 0); // 100 · 5 = 500 → int8 wraps to -12
    expect(v).toBe(-12);
  });
});

// ---------------------------------------------------------------- importer refusals (untrusted files)

const INT8 = 9, INT16 = 7;
type T = { type?: number; scale?: number; zp?: number; scales?: number[]; zps?: number[]; qdim?: number; shape?: number[] };
/** One op on graph input 0 (and 1) → output (last tensor). */
function model(opcode: number, ts: T[], options?: { type: number; fields: [number, 'bool', number][] }): Uint8Array {
  return buildTflite({
    tensors: ts.map((t, k) => ({ shape: t.shape ?? [4], type: t.type ?? INT8, buffer: 0, name: `t${k}`, scale: t.scale, zp: t.zp, scales: t.scales, zps: t.zps, qdim: t.qdim })),
    buffers: [new Uint8Array(0)],
    opcodes: [opcode],
    ops: [{ opcode: 0, inputs: ts.slice(0, -1).map((_, k) => k), outputs: [ts.length - 1], ...(options ? { options } : {}) }],
    inputs: ts.slice(0, -1).map((_, k) => k),
    outputs: [ts.length - 1],
  });
}
const q: T = { scale: 0.05, zp: 3 };
const GELU = 150, SQD = 99, HARD_SWISH = 117, ABS = 101;

describe('int8 math builtins: typed errors naming the op', () => {
  it('a per-channel tensor where TFLite takes one scale per tensor', () => {
    const bytes = model(GELU, [{ scales: [0.1, 0.2, 0.3, 0.4], zps: [0, 0, 0, 0], qdim: 0 }, q]);
    expect(() => readTflite(bytes)).toThrow(UnsupportedOpError);
    expect(() => readTflite(bytes)).toThrow(/GELU.*per channel/);
  });
  it('an int8 tensor without quantization parameters next to quantized ones', () => {
    expect(() => readTflite(model(SQD, [q, { type: INT8 }, q]))).toThrow(ModelFormatError);
    expect(() => readTflite(model(SQD, [q, { type: INT8 }, q]))).toThrow(/SQUARED_DIFFERENCE.*no quantization parameters/);
  });
  it('garbage scales and zero points (refused by the parser, naming the tensor)', () => {
    for (const bad of [{ scale: -0.5, zp: 0 }, { scale: Number.NaN, zp: 0 }, { scale: 0.1, zp: 300 }]) {
      expect(() => readTflite(model(ABS, [bad, q]))).toThrow(ModelFormatError);
      expect(() => readTflite(model(ABS, [bad, q]))).toThrow(/tensor 0/);
    }
  });
  it('int8 L2_NORMALIZATION off TFLite\'s fixed output scale 1/128, zero point 0', async () => {
    await expect(InferenceSession.create(model(11, [q, { scale: 0.01, zp: 0 }]))).rejects.toThrow(/L2_NORMALIZATION.*1\/128/);
  });
  it('int16 forms this build does not define', () => {
    expect(() => readTflite(model(GELU, [{ ...q, type: INT16 }, { ...q, type: INT16 }]))).toThrow(UnsupportedOpError);
  });
  it('parameters TFLite refuses at Prepare: HARD_SWISH output scale below input_scale / 128, SQUARED_DIFFERENCE multiplier ≥ 1', async () => {
    await expect(InferenceSession.create(model(HARD_SWISH, [{ scale: 1.5, zp: 3 }, { scale: 0.003, zp: 0 }]))).rejects.toThrow(UnsupportedError);
    await expect(InferenceSession.create(model(HARD_SWISH, [{ scale: 1.5, zp: 3 }, { scale: 0.003, zp: 0 }]))).rejects.toThrow(/HARD_SWISH/);
    await expect(InferenceSession.create(model(SQD, [{ scale: 1, zp: 0 }, { scale: 1, zp: 0 }, { scale: 2 ** -20, zp: 0 }]), { backend: 'reference' })).rejects.toThrow(/SQUARED_DIFFERENCE.*not below 1/);
  });
});
