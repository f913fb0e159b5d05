import { defineOp } from '../ir/registry.js';
import { DTYPES, type DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { ONNX_DTYPE } from '../tensor/onnx-dtype.js';
import { floats, fromFloats, needType } from './util.js';

/** Signal ops: HannWindow, HammingWindow, BlackmanWindow. */

const MAX_WINDOW = 1 << 24;

/** Computed values as a tensor of `output_datatype` (floats rounded once, integers truncated). */
function numeric(dt: DType, dims: number[], v: Float64Array): Tensor {
  if (DTYPES[dt].kind === 'float') return fromFloats(dt, dims, v);
  const out = new DTYPES[dt].array!(v.length);
  for (let i = 0; i < v.length; i++) (out as any)[i] = dt === 'int64' || dt === 'uint64' ? BigInt(Math.trunc(v[i]!)) : Math.trunc(v[i]!);
  return new Tensor(dt, out as never, dims);
}

/**
 * A window op. ONNX (opset 17): "periodic: If 1, returns a window to be used as periodic function. If 0, return a
 * symmetric window" — the cosine period is size (periodic) or size - 1 (symmetric).
 */
function windowOp(name: string, w: (n: number, N: number) => number): void {
  defineOp({
    name,
    inputs: [1, 1],
    outputs: [1, 1],
    attrs: { output_datatype: { type: 'int', default: 1 }, periodic: { type: 'int', default: 1, oneOf: [0, 1] } },
    inferShape(ctx) {
      const s = needType(ctx, 0, ['int32', 'int64'], 'size');
      if (s.shape && s.shape.length !== 0 && !(s.shape.length === 1 && s.shape[0] === 1)) ctx.fail(`size must be a scalar, got [${s.shape.join(',')}]`);
      const dt = ONNX_DTYPE[ctx.attrs.output_datatype as number];
      if (!dt || dt === 'string' || dt === 'bool' || DTYPES[dt].bytes === 0) ctx.fail(`output_datatype ${ctx.attrs.output_datatype} is not a numeric type`);
      const v = ctx.value(0);
      if (!v) return [{ dtype: dt as DType, shape: ['?'] }];
      const n = v.num(0);
      if (!Number.isInteger(n) || n < 0 || n > MAX_WINDOW) ctx.fail(`size ${n} must be an integer in [0, ${MAX_WINDOW}]`);
      return [{ dtype: dt as DType, shape: [n] }];
    },
    reference({ inputs, attrs, outputTypes }) {
      const size = inputs[0]!.num(0);
      const N = attrs.periodic ? size : size - 1;
      const v = new Float64Array(size);
      for (let n = 0; n < size; n++) v[n] = w(n, N);
      return [numeric(outputTypes[0]!.dtype, [size], v)];
    },
  });
}

// Hann: w[n] = sin²(πn/N) = 0.5 - 0.5·cos(2πn/N)
windowOp('HannWindow', (n, N) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N));
// Hamming: w[n] = α - β·cos(2πn/N), α = 25/46, β = 1 - α
windowOp('HammingWindow', (n, N) => 25 / 46 - (21 / 46) * Math.cos((2 * Math.PI * n) / N));
// Blackman: w[n] = 0.42 - 0.5·cos(2πn/N) + 0.08·cos(4πn/N)
windowOp('BlackmanWindow', (n, N) => 0.42 - 0.5 * Math.cos((2 * Math.PI * n) / N) + 0.08 * Math.cos((4 * Math.PI * n) / N));

// ---------------------------------------------------------------------------------------------------------
// DFT, STFT, MelWeightMatrix
// ---------------------------------------------------------------------------------------------------------

/** Signals longer than this are refused (the reference DFT is O(n²) per signal). */
const MAX_DFT = 1 << 16;

/**
 * DFT of length n of complex samples (re, im given for j < len, zero beyond: "zero-padded or truncated to
 * dft_length"), forward X[k] = Σ x[j]·e^(-2πi·jk/n), inverse (1/n)·Σ x[j]·e^(+2πi·jk/n).
 */
function dft(re: Float64Array, im: Float64Array, n: number, inverse: boolean, outRe: Float64Array, outIm: Float64Array): void {
  const len = Math.min(re.length, n);
  const sgn = inverse ? 1 : -1;
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < len; j++) {
      const a = (sgn * 2 * Math.PI * ((j * k) % n)) / n;
      const c = Math.cos(a);
      const s = Math.sin(a);
      sr += re[j]! * c - im[j]! * s;
      si += re[j]! * s + im[j]! * c;
    }
    outRe[k] = inverse ? sr / n : sr;
    outIm[k] = inverse ? si / n : si;
  }
}

// ONNX DFT (opset 20): "Computes the discrete Fourier Transform (DFT) of the input ... input: [batch_idx][signal_dim1]
// ...[signal_dimN][1 or 2] (real or complex) ... dft_length: zero-padded or truncated ... axis (default -2; not the
// last) ... onesided: only the first floor(dft_length/2)+1 frequencies ... inverse: the inverse DFT (scaled by 1/n)";
// opset 17/19 take `axis` as an attribute (rewritten to the input on import)
defineOp({
  name: 'DFT',
  inputs: [1, 3],
  outputs: [1, 1],
  attrs: { inverse: { type: 'int', default: 0 }, onesided: { type: 'int', default: 0 } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ['float32', 'float64', 'float16'], 'input');
    if (ctx.inputs[1]) needType(ctx, 1, ['int32', 'int64'], 'dft_length');
    if (ctx.inputs[2]) needType(ctx, 2, ['int64'], 'axis');
    if (!x.shape) return [{ dtype: x.dtype }];
    const r = x.shape.length;
    if (r < 2) ctx.fail(`input must have rank ≥ 2 (…, 1 or 2), got ${r}`);
    const last = x.shape[r - 1];
    if (typeof last === 'number' && last !== 1 && last !== 2) ctx.fail(`the last dim must be 1 (real) or 2 (complex), got ${last}`);
    const av = ctx.inputs[2] ? ctx.value(2) : undefined;
    if (ctx.inputs[2] && !av) return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i === r - 1 ? 2 : '?')) }];
    let axis = av ? av.num(0) : -2;
    if (axis < -r || axis >= r) ctx.fail(`axis ${axis} out of range for rank ${r}`);
    if (axis < 0) axis += r;
    if (axis === r - 1) ctx.fail('axis must not be the last (real/imaginary) dimension');
    const lv = ctx.inputs[1] ? ctx.value(1) : undefined;
    let n: number | string = lv ? lv.num(0) : (x.shape[axis] as number | string);
    if (ctx.inputs[1] && !lv) n = '?';
    if (typeof n === 'number' && (!(n >= 1) || n > MAX_DFT)) ctx.fail(`dft_length ${n} must be in [1, ${MAX_DFT}]`);
    const out = x.shape.map((d, i) => (i === r - 1 ? 2 : i === axis ? (typeof n === 'number' ? (ctx.attrs.onesided ? Math.floor(n / 2) + 1 : n) : '?') : d));
    return [{ dtype: x.dtype, shape: out }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const x = inputs[0]!;
    const v = floats(x);
    const r = x.dims.length;
    let axis = inputs[2] ? inputs[2].num(0) : -2;
    if (axis < 0) axis += r;
    const n = inputs[1] ? inputs[1].num(0) : x.dims[axis]!;
    const comp = x.dims[r - 1]!;
    const L = x.dims[axis]!;
    const outer = x.dims.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = x.dims.slice(axis + 1, r - 1).reduce((a, b) => a * b, 1);
    const keep = attrs.onesided ? Math.floor(n / 2) + 1 : n;
    const y = new Float64Array(outer * keep * inner * 2);
    const re = new Float64Array(L);
    const im = new Float64Array(L);
    const oRe = new Float64Array(n);
    const oIm = new Float64Array(n);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        for (let j = 0; j < L; j++) {
          const p = ((o * L + j) * inner + i) * comp;
          re[j] = v[p]!;
          im[j] = comp === 2 ? v[p + 1]! : 0;
        }
        dft(re, im, n, attrs.inverse !== 0, oRe, oIm);
        for (let k = 0; k < keep; k++) {
          const q = ((o * keep + k) * inner + i) * 2;
          y[q] = oRe[k]!;
          y[q + 1] = oIm[k]!;
        }
      }
    return [fromFloats(outputTypes[0]!.dtype, [...x.dims.slice(0, axis), keep, ...x.dims.slice(axis + 1, r - 1), 2], y)];
  },
});

// ONNX STFT (opset 17): "Computes the Short-time Fourier Transform of the signal ... signal [batch, signal_length,
// 1 or 2], frame_step, window [window_length] (optional), frame_length (optional) ... output [batch, frames,
// dft_unique_bins, 2]" with frames = floor((signal_length - frame_length) / frame_step) + 1
defineOp({
  name: 'STFT',
  inputs: [2, 4],
  outputs: [1, 1],
  attrs: { onesided: { type: 'int', default: 1 } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ['float32', 'float64', 'float16'], 'signal');
    needType(ctx, 1, ['int32', 'int64'], 'frame_step');
    if (ctx.inputs[2]) needType(ctx, 2, [x.dtype], 'window');
    if (ctx.inputs[3]) needType(ctx, 3, ['int32', 'int64'], 'frame_length');
    if (x.shape && x.shape.length !== 3) ctx.fail(`signal must be [batch, length, 1 or 2], got rank ${x.shape.length}`);
    const step = ctx.value(1)?.num(0);
    const w = ctx.inputs[2];
    const fl = ctx.inputs[3] ? ctx.value(3)?.num(0) : typeof w?.shape?.[0] === 'number' ? (w.shape[0] as number) : undefined;
    if (!ctx.inputs[2] && !ctx.inputs[3]) ctx.fail('one of window and frame_length is needed');
    const len = x.shape?.[1];
    if (step === undefined || fl === undefined || typeof len !== 'number') return [{ dtype: x.dtype, shape: [x.shape?.[0] ?? '?', '?', '?', 2] }];
    if (!(step >= 1)) ctx.fail(`frame_step must be ≥ 1, got ${step}`);
    if (!(fl >= 1) || fl > len || fl > MAX_DFT) ctx.fail(`frame_length ${fl} must be in [1, ${Math.min(len, MAX_DFT)}]`);
    if (w?.shape && typeof w.shape[0] === 'number' && w.shape[0] !== fl) ctx.fail(`window has ${w.shape[0]} samples, frame_length is ${fl}`);
    const frames = Math.floor((len - fl) / step) + 1;
    return [{ dtype: x.dtype, shape: [x.shape![0]!, frames, ctx.attrs.onesided ? Math.floor(fl / 2) + 1 : fl, 2] }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [x, stepT, win, flT] = inputs as [Tensor, Tensor, Tensor | undefined, Tensor | undefined];
    const [B, len, comp] = x.dims as [number, number, number];
    const step = stepT.num(0);
    const fl = flT ? flT.num(0) : win!.dims[0]!;
    const wv = win ? floats(win) : undefined;
    const v = floats(x);
    const frames = Math.floor((len - fl) / step) + 1;
    const bins = attrs.onesided ? Math.floor(fl / 2) + 1 : fl;
    const y = new Float64Array(B * frames * bins * 2);
    const re = new Float64Array(fl);
    const im = new Float64Array(fl);
    const oRe = new Float64Array(fl);
    const oIm = new Float64Array(fl);
    for (let b = 0; b < B; b++)
      for (let f = 0; f < frames; f++) {
        for (let j = 0; j < fl; j++) {
          const p = (b * len + f * step + j) * comp;
          const w = wv ? wv[j]! : 1;
          re[j] = v[p]! * w;
          im[j] = comp === 2 ? v[p + 1]! * w : 0;
        }
        dft(re, im, fl, false, oRe, oIm);
        for (let k = 0; k < bins; k++) {
          const q = ((b * frames + f) * bins + k) * 2;
          y[q] = oRe[k]!;
          y[q + 1] = oIm[k]!;
        }
      }
    return [fromFloats(outputTypes[0]!.dtype, [B, frames, bins, 2], y)];
  },
});

// ONNX MelWeightMatrix (opset 17): "Generate a MelWeightMatrix that can be used to re-weight a Tensor containing a
// linearly sampled frequency spectra (from DFT or STFT) into num_mel_bins frequency information based on the
// [lower_edge_hertz, upper_edge_hertz] range on the mel scale" — triangular filters, mel = 2595·log10(1 + f/700)
defineOp({
  name: 'MelWeightMatrix',
  inputs: [5, 5],
  outputs: [1, 1],
  attrs: { output_datatype: { type: 'int', default: 1 } },
  inferShape(ctx) {
    for (let i = 0; i < 3; i++) needType(ctx, i, ['int32', 'int64'], ['num_mel_bins', 'dft_length', 'sample_rate'][i]);
    needType(ctx, 3, ['float32', 'float64', 'float16'], 'lower_edge_hertz');
    needType(ctx, 4, ['float32', 'float64', 'float16'], 'upper_edge_hertz');
    const dt = ONNX_DTYPE[ctx.attrs.output_datatype as number];
    if (!dt || DTYPES[dt].kind !== 'float' && DTYPES[dt].kind !== 'int' && DTYPES[dt].kind !== 'uint') ctx.fail(`output_datatype ${ctx.attrs.output_datatype} is not numeric`);
    const m = ctx.value(0)?.num(0);
    const n = ctx.value(1)?.num(0);
    if (m !== undefined && !(m >= 1 && m <= MAX_DFT)) ctx.fail(`num_mel_bins ${m} must be in [1, ${MAX_DFT}]`);
    if (n !== undefined && !(n >= 1 && n <= MAX_DFT)) ctx.fail(`dft_length ${n} must be in [1, ${MAX_DFT}]`);
    return [{ dtype: dt as DType, shape: [n !== undefined ? Math.floor(n / 2) + 1 : '?', m ?? '?'] }];
  },
  reference({ inputs, outputTypes }) {
    const [mT, nT, srT, loT, hiT] = inputs as Tensor[];
    const m = mT!.num(0);
    const n = nT!.num(0);
    const sr = srT!.num(0);
    const bins = Math.floor(n / 2) + 1;
    const mel = (f: number) => 2595 * Math.log10(1 + f / 700);
    const lo = mel(floats(loT!)[0]!);
    const hi = mel(floats(hiT!)[0]!);
    const stepMel = (hi - lo) / (m + 2); // the ONNX reference divides by the number of edges (num_mel_bins + 2)
    const fb: number[] = [];
    for (let i = 0; i < m + 2; i++) {
      const hz = 700 * (10 ** ((i * stepMel + lo) / 2595) - 1);
      fb.push(Math.floor(((n + 1) * hz) / sr));
    }
    const out = new Float64Array(bins * m);
    for (let i = 0; i < m; i++) {
      const [l, c, h] = [fb[i]!, fb[i + 1]!, fb[i + 2]!];
      if (c === l) {
        if (c >= 0 && c < bins) out[c * m + i] = 1;
      } else for (let j = l; j <= c; j++) if (j >= 0 && j < bins) out[j * m + i] = (j - l) / (c - l);
      if (h > c) for (let j = c; j < h; j++) if (j >= 0 && j < bins) out[j * m + i] = (h - j) / (h - c);
    }
    return [numeric(outputTypes[0]!.dtype, [bins, m], out)];
  },
});
