/**
 * Quantization arithmetic: real = (q - zeroPoint) * scale on an n-bit integer grid.
 * `quantize(w, bits)` is the textbook symmetric round-to-nearest form; everything else (asymmetric
 * activations, per-channel weights, MSE-optimal clipping) is built from `qparams` + `quantizeArray`.
 */
import { InputError } from '../errors.js';
import { roundHalfToEven } from '../tensor/rounding.js';

export type QType = 'int8' | 'uint8';

export interface QParams {
  scale: number;
  zeroPoint: number;
  /** integer grid [qmin, qmax] the values are clamped to */
  qmin: number;
  qmax: number;
}

/** Smallest scale we ever emit: keeps scales finite and > 0 for all-zero / constant tensors. */
export const MIN_SCALE = 1e-8;
const F32_MAX = 3.4028234663852886e38;

/** Integer grid of an n-bit type: symmetric grids drop the most negative code (−2^(n−1)) so ±max is exact. */
export function gridOf(qtype: QType, bits = 8, symmetric = false): { qmin: number; qmax: number } {
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) throw new InputError(`bits must be an integer in [2, 8], got ${bits}`);
  if (qtype === 'uint8') return { qmin: 0, qmax: 2 ** bits - 1 };
  const h = 2 ** (bits - 1);
  return { qmin: symmetric ? -(h - 1) : -h, qmax: h - 1 };
}

/**
 * Scale and zero point covering [rmin, rmax] (widened to include 0 so that zero is exactly representable).
 * symmetric: zero point 0 (int8) or the grid midpoint (uint8), scale = max|r| / half-range.
 * Non-finite bounds are clamped to ±float32 max; a degenerate range gives scale MIN_SCALE… never 0/NaN/∞.
 */
export function qparams(rmin: number, rmax: number, qtype: QType, symmetric: boolean, bits = 8): QParams {
  const { qmin, qmax } = gridOf(qtype, bits, symmetric && qtype === 'int8');
  if (Number.isNaN(rmin) || Number.isNaN(rmax)) rmin = rmax = 0;
  rmin = Math.max(Math.min(rmin, 0), -F32_MAX);
  rmax = Math.min(Math.max(rmax, 0), F32_MAX);
  if (symmetric) {
    const a = Math.max(-rmin, rmax);
    const half = qtype === 'int8' ? qmax : (qmax - qmin) / 2;
    let scale = Math.fround(a / half);
    if (!(scale >= MIN_SCALE) || !Number.isFinite(scale)) scale = Number.isFinite(scale) ? Math.fround(MIN_SCALE) : Math.fround(F32_MAX / (qmax - qmin));
    const zeroPoint = qtype === 'int8' ? 0 : Math.ceil((qmax + qmin) / 2);
    return { scale, zeroPoint, qmin, qmax };
  }
  // (rmax - rmin) can overflow to ∞ for huge ranges: divide first
  let scale = Math.fround(rmax / (qmax - qmin) - rmin / (qmax - qmin));
  if (!(scale >= MIN_SCALE)) scale = Math.fround(MIN_SCALE);
  if (!Number.isFinite(scale)) scale = Math.fround(F32_MAX / (qmax - qmin));
  // zero point: the integer that 0.0 maps to, so 0 is exactly representable
  let zeroPoint = roundHalfToEven(qmin - rmin / scale);
  zeroPoint = Math.min(qmax, Math.max(qmin, zeroPoint));
  return { scale, zeroPoint, qmin, qmax };
}

/** ONNX QuantizeLinear on one value: saturate(round_half_even(x / scale) + zeroPoint). */
export function quantizeValue(x: number, p: QParams): number {
  const q = roundHalfToEven(Math.fround(x / p.scale)) + p.zeroPoint;
  if (q !== q) return p.zeroPoint;
  return q < p.qmin ? p.qmin : q > p.qmax ? p.qmax : q;
}

export const dequantizeValue = (q: number, p: QParams): number => Math.fround((q - p.zeroPoint) * p.scale);

/** Quantize a whole array with one set of parameters. */
export function quantizeArray(x: ArrayLike<number>, p: QParams, out: Int32Array = new Int32Array(x.length)): Int32Array {
  for (let i = 0; i < x.length; i++) out[i] = quantizeValue(x[i]!, p);
  return out;
}

/** The textbook symmetric n-bit quantizer: returns the dequantized values and the scale. */
export function quantize(w: ArrayLike<number>, bits: number): { values: Float32Array; scale: number; q: Int32Array } {
  let a = 0;
  for (let i = 0; i < w.length; i++) if (Math.abs(w[i]!) > a) a = Math.abs(w[i]!);
  const p = qparams(-a, a, 'int8', true, bits);
  const q = quantizeArray(w, p);
  const values = new Float32Array(w.length);
  for (let i = 0; i < q.length; i++) values[i] = dequantizeValue(q[i]!, p);
  return { values, scale: p.scale, q };
}

/** Per-channel view: channel c of a tensor with dims `dims` along `axis` (strided gather). */
export interface ChannelLayout {
  channels: number;
  /** element count before the axis (outer) and after it (inner) */
  outer: number;
  inner: number;
}

export function channelLayout(dims: readonly number[], axis: number): ChannelLayout {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i]!;
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i]!;
  return { channels: dims[axis]!, outer, inner };
}

/** Call f(index) for every element of channel c. */
export function forChannel(l: ChannelLayout, c: number, f: (i: number) => void): void {
  for (let o = 0; o < l.outer; o++) {
    const base = (o * l.channels + c) * l.inner;
    for (let k = 0; k < l.inner; k++) f(base + k);
  }
}

export type WeightClip = 'minmax' | 'mse';

export interface WeightQuant {
  /** quantized codes (int8 or uint8 container) */
  q: Int32Array;
  qtype: QType;
  scales: Float32Array;
  zeroPoints: Int32Array;
  /** axis of the per-channel parameters, undefined when per tensor */
  axis?: number;
  /** worst |w - dequant(q(w))| over the tensor */
  maxError: number;
  /** signal-to-quantization-noise ratio in dB */
  sqnr: number;
}

/** Symmetric n-bit quantization of values with a clip threshold t (grid ±(2^(bits−1)−1)). */
function quantErr(v: ArrayLike<number>, idx: ArrayLike<number>, t: number, bits: number): number {
  const p = qparams(-t, t, 'int8', true, bits);
  let e = 0;
  for (let k = 0; k < idx.length; k++) {
    const x = v[idx[k]!]!;
    const d = x - dequantizeValue(quantizeValue(x, p), p);
    e += d * d;
  }
  return e;
}

/**
 * MSE-optimal symmetric clip threshold for the values at `idx`: a grid search over t = α·max|w|
 * (α from 1 down to 0.2) minimising Σ (w − Q_t(w))². At 8 bits this almost always returns max|w|; at 2–4
 * bits clipping the tails buys a much finer grid for the bulk of the weights.
 */
export function mseThreshold(v: ArrayLike<number>, idx: ArrayLike<number>, bits: number, steps = 80): number {
  let a = 0;
  for (let k = 0; k < idx.length; k++) a = Math.max(a, Math.abs(v[idx[k]!]!));
  if (a === 0 || !Number.isFinite(a)) return a;
  let best = a;
  let bestE = quantErr(v, idx, a, bits);
  for (let s = 1; s < steps; s++) {
    const t = a * (1 - (0.8 * s) / steps);
    const e = quantErr(v, idx, t, bits);
    if (e < bestE) {
      bestE = e;
      best = t;
    }
  }
  return best;
}

/**
 * Symmetric per-channel (axis given) or per-tensor weight quantization to `bits` bits (codes in an int8
 * container, zero point 0). clip 'mse' searches the clip threshold per channel.
 */
export function quantizeWeight(w: ArrayLike<number>, dims: readonly number[], axis: number | undefined, bits = 8, clip: WeightClip = 'minmax', qtype: QType = 'int8'): WeightQuant {
  const n = w.length;
  const q = new Int32Array(n);
  const groups: Int32Array[] = [];
  if (axis === undefined) groups.push(Int32Array.from({ length: n }, (_, i) => i));
  else {
    const l = channelLayout(dims, axis);
    for (let c = 0; c < l.channels; c++) {
      const idx = new Int32Array(l.outer * l.inner);
      let k = 0;
      forChannel(l, c, (i) => (idx[k++] = i));
      groups.push(idx);
    }
  }
  const scales = new Float32Array(groups.length);
  const zeroPoints = new Int32Array(groups.length);
  let maxError = 0;
  let sig = 0;
  let noise = 0;
  groups.forEach((idx, c) => {
    let p: QParams;
    if (qtype === 'uint8') {
      // asymmetric uint8 weights: the channel's own [min, max]
      let lo = Infinity;
      let hi = -Infinity;
      for (let k = 0; k < idx.length; k++) {
        const x = w[idx[k]!]!;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      p = qparams(idx.length ? lo : 0, idx.length ? hi : 0, 'uint8', false, bits);
    } else {
      let t: number;
      if (clip === 'mse') t = mseThreshold(w, idx, bits);
      else {
        t = 0;
        for (let k = 0; k < idx.length; k++) t = Math.max(t, Math.abs(w[idx[k]!]!));
      }
      p = qparams(-t, t, 'int8', true, bits);
    }
    scales[c] = p.scale;
    zeroPoints[c] = p.zeroPoint;
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k]!;
      const x = w[i]!;
      const qi = quantizeValue(x, p);
      q[i] = qi;
      const d = x - dequantizeValue(qi, p);
      maxError = Math.max(maxError, Math.abs(d));
      sig += x * x;
      noise += d * d;
    }
  });
  return { q, qtype, scales, zeroPoints, ...(axis !== undefined ? { axis } : {}), maxError, sqnr: sqnrDb(sig, noise) };
}

export function sqnrDb(signal: number, noise: number): number {
  if (noise === 0) return Infinity;
  if (signal === 0) return -Infinity;
  return 10 * Math.log10(signal / noise);
}
