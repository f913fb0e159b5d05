// Properties of the quantization arithmetic and the calibration observers (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HistogramObserver,
  MinMaxObserver,
  dequantizeValue,
  entropyThreshold,
  makeObserver,
  mseHistThreshold,
  percentileThreshold,
  qparams,
  quantizeBits,
  quantizeValue,
  quantizeWeight,
} from '../../src/quant/index.js';

const finite = fc.float({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const f32 = (x: number) => Math.fround(x);

describe('qparams / quantize', () => {
  it('quantize→dequantize error ≤ scale/2 inside the range (asymmetric uint8, symmetric int8, n bits)', () => {
    fc.assert(
      fc.property(finite, finite, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.constantFrom('uint8', 'int8'), fc.boolean(), fc.integer({ min: 2, max: 8 }), (a, b, ts, qt, sym, bits) => {
        const lo = Math.min(a, b, 0);
        const hi = Math.max(a, b, 0);
        const p = qparams(lo, hi, qt as 'uint8' | 'int8', sym, bits);
        expect(p.scale > 0 && Number.isFinite(p.scale)).toBe(true);
        // the representable range [scale·(qmin − zp), scale·(qmax − zp)]
        const rlo = p.scale * (p.qmin - p.zeroPoint);
        const rhi = p.scale * (p.qmax - p.zeroPoint);
        for (const t of ts) {
          const x = f32(Math.max(rlo, lo) + t * (Math.min(rhi, hi) - Math.max(rlo, lo)));
          const err = Math.abs(x - dequantizeValue(quantizeValue(x, p), p));
          expect(err).toBeLessThanOrEqual(p.scale / 2 + p.scale * 1e-5 + Math.abs(x) * 1e-6);
        }
      }),
    );
  });

  it('zero is exactly representable: 0 maps to the zero point and back to 0', () => {
    fc.assert(
      fc.property(finite, finite, fc.constantFrom('uint8', 'int8'), fc.boolean(), fc.integer({ min: 2, max: 8 }), (a, b, qt, sym, bits) => {
        const p = qparams(Math.min(a, b), Math.max(a, b), qt as 'uint8' | 'int8', sym, bits);
        expect(quantizeValue(0, p)).toBe(p.zeroPoint);
        expect(dequantizeValue(quantizeValue(0, p), p)).toBe(0);
        expect(p.zeroPoint).toBeGreaterThanOrEqual(p.qmin);
        expect(p.zeroPoint).toBeLessThanOrEqual(p.qmax);
      }),
    );
  });

  it('scales are > 0 and finite for constant, all-zero and huge-range tensors', () => {
    const cases: [number, number][] = [[0, 0], [5, 5], [-3, -3], [-3.4e38, 3.4e38], [-Infinity, Infinity], [NaN, NaN], [1e-30, 1e-30], [0, 1e-40]];
    for (const [lo, hi] of cases)
      for (const qt of ['uint8', 'int8'] as const)
        for (const sym of [false, true]) {
          const p = qparams(lo, hi, qt, sym);
          expect(p.scale, `${lo},${hi},${qt},${sym}`).toBeGreaterThan(0);
          expect(Number.isFinite(p.scale)).toBe(true);
          expect(quantizeValue(0, p)).toBe(p.zeroPoint);
        }
    const w = quantizeWeight(new Float32Array(12), [3, 4], 0);
    expect([...w.scales].every((s) => s > 0 && Number.isFinite(s))).toBe(true);
    expect([...w.q].every((q) => q === 0)).toBe(true);
  });

  it('per-channel worst error ≤ per-tensor step/2 on the same weights', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 2, max: 8 }), fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 60, maxLength: 60 }), (c, k, bits, vals) => {
        const w = Float32Array.from(vals.slice(0, c * k));
        const pc = quantizeWeight(w, [c, k], 0, bits);
        const pt = quantizeWeight(w, [c, k], undefined, bits);
        expect(pc.scales.length).toBe(c);
        expect(pt.scales.length).toBe(1);
        // float32 dequantization rounding: a few ulps of the largest |w| (≤ 100)
        expect(pc.maxError).toBeLessThanOrEqual((pt.scales[0]! / 2) * (1 + 1e-5) + 1e-5);
        // each channel's scale is set by that channel's own max|w|
        for (let ch = 0; ch < c; ch++) {
          let m = 0;
          for (let j = 0; j < k; j++) m = Math.max(m, Math.abs(w[ch * k + j]!));
          if (m > 0) expect(pc.scales[ch]).toBeCloseTo(f32(m / (2 ** (bits - 1) - 1)), 5);
        }
      }),
    );
  });

  it('per-channel along axis 1 (Gemm/MatMul [K, N] weights: one scale per output column)', () => {
    const w = Float32Array.from([1, 100, -2, -50, 0.5, 25]); // [3, 2]
    const r = quantizeWeight(w, [3, 2], 1);
    expect(r.scales.length).toBe(2);
    expect(r.scales[0]).toBeCloseTo(2 / 127, 7);
    expect(r.scales[1]).toBeCloseTo(100 / 127, 6);
  });

  it('textbook quantize(w, bits) keeps codes on the n-bit grid', () => {
    const w = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i) * 3);
    for (const bits of [2, 3, 4, 8]) {
      const r = quantizeBits(w, bits);
      const h = 2 ** (bits - 1) - 1;
      expect([...r.q].every((q) => q >= -h && q <= h)).toBe(true);
    }
  });

  it('MSE-optimal clipping beats round-to-nearest at 2 bits', () => {
    const w = Float32Array.from({ length: 4000 }, (_, i) => Math.tan((i / 4000 - 0.5) * 3)); // heavy tails
    const mm = quantizeWeight(w, [4, 1000], 0, 2, 'minmax');
    const mse = quantizeWeight(w, [4, 1000], 0, 2, 'mse');
    expect(mse.sqnr).toBeGreaterThan(mm.sqnr + 1);
  });
});

describe('observers', () => {
  it('MinMax over batches in any order gives the same range', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 8 }), fc.integer(), (bs, seed) => {
        const a = new MinMaxObserver();
        for (const b of bs) a.observe(b);
        const order = bs.map((_, i) => i).sort((x, y) => ((x * 7919 + seed) % 13) - ((y * 7919 + seed) % 13));
        const b = new MinMaxObserver();
        for (const i of order) b.observe(bs[i]!);
        expect(b.range()).toEqual(a.range());
      }),
    );
  });

  it('histogram observer keeps O(bins) state while streaming a growing range', () => {
    const h = new HistogramObserver('percentile', 64, 100);
    h.observe([0.1, 0.2, 0.3]);
    h.observe([5, -7]); // range grows: bins merge
    h.observe([100]);
    expect(h.hist.length).toBe(64);
    expect(h.hist.reduce((s, x) => s + x, 0)).toBe(6);
    expect(h.range()[1]).toBe(100);
    expect(h.range()[0]).toBe(-7);
  });

  it('percentile and mse clip an outlier of uniform data; entropy clips the tail of a Laplace distribution', () => {
    const v = Float32Array.from({ length: 20000 }, (_, i) => ((i * 7919) % 1000) / 1000);
    v[0] = 50; // one outlier
    // TensorRT's KL criterion keeps the full range here (P and the 128-level Q agree once the outlier bin is inside)
    for (const m of ['percentile'] as const) {
      const o = makeObserver(m, { percentile: 99.9 });
      o.observe(v);
      const [lo, hi] = o.range();
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi, m).toBeLessThan(5);
      expect(hi, m).toBeGreaterThan(0.5);
    }
    const mm = makeObserver('minmax');
    mm.observe(v);
    expect(mm.range()).toEqual([0, 50]);
    const lap = Float32Array.from({ length: 50000 }, (_, i) => -Math.log((i + 0.5) / 50000) * (i % 2 ? 1 : -1));
    // MSE keeps a lone outlier (its squared clipping error outweighs the rounding noise) but clips a heavy tail
    for (const m of ['entropy', 'mse'] as const) {
      const e = makeObserver(m);
      for (let s = 0; s < lap.length; s += 5000) e.observe(lap.subarray(s, s + 5000));
      const [lo, hi] = e.range();
      expect(hi, m).toBeLessThan(0.9 * 11.5);
      expect(hi, m).toBeGreaterThan(3);
      expect(lo, m).toBe(-hi);
    }
  });

  it('threshold helpers handle empty and single-bin histograms', () => {
    const e = new Float64Array(16);
    expect(percentileThreshold(e, 1, 99)).toBe(0);
    const one = new Float64Array(16);
    one[3] = 10;
    expect(entropyThreshold(one, 1, 8)).toBeGreaterThan(0);
    expect(mseHistThreshold(one, 1, 256)).toBeGreaterThan(0);
  });

  it('NaN and ±inf in a batch do not poison the range', () => {
    const o = makeObserver('minmax');
    o.observe([1, NaN, -2]);
    expect(o.range()).toEqual([-2, 1]);
    const h = makeObserver('percentile', { percentile: 100 });
    h.observe([1, NaN, Infinity, -2]);
    expect(h.range()[0]).toBe(-2);
  });
});
