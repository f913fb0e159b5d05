/**
 * TFLite's integer LSTM, "8x8_16": int8 input / weights / output state, int32 biases, int16 gate activations and
 * int16 cell state — tensorflow/lite/kernels/lstm_eval.cc EvalInteger8x8_16 → LstmStepInteger8x8_16 with the
 * portable tensor_utils kernels, and the constants lstm.cc / unidirectional_sequence_lstm.cc derive at Prepare
 * (PopulateQuantizedLstmParams8x8_16, PopulatePrecomputedZPTimesWeightsWithBias). Plain typed arrays in and out:
 * this is the spec the op's reference runs (src/ops/tflite.ts, UNIDIRECTIONAL_SEQUENCE_LSTM).
 *
 * Supported: the plain LSTM (input gate present, no peepholes, no projection, no layer norm), cell_clip, time-major
 * or batch-major. The importer and the op's shape check decline the rest by name.
 */
import { checkedLog2, fixedLogistic16, fixedTanh16, multiplyByQuantizedMultiplier, quantizeMultiplier, roundingDivideByPOT } from '../tensor/tflite-quant.js';

/** One gate's weights and the constants Prepare derives for it. */
export interface Lstm8Gate {
  /** input_to_gate [n_cell, n_input] and recurrent_to_gate [n_cell, n_output] weights */
  wIn: Int8Array;
  wRec: Int8Array;
  /** PrecomputeZeroPointTimesWeightWithBias: gate bias − input_zp · Σ_row wIn, and − output_state_zp · Σ_row wRec */
  biasIn: Int32Array;
  biasRec: Int32Array;
  /** QuantizeMultiplier of the effective scales (weight_scale · input_or_state_scale / 2^-12) */
  mIn: number;
  sIn: number;
  mRec: number;
  sRec: number;
}

export interface Lstm8Params {
  nCell: number;
  nInput: number;
  nOutput: number;
  /** gates i, f, c, o (lstm_eval's order) */
  gates: [Lstm8Gate, Lstm8Gate, Lstm8Gate, Lstm8Gate];
  /** log2 of the cell state's scale (CheckedLog2), in [-15, -9] */
  cellScale: number;
  /** quantized_cell_clip (0: none) */
  cellClip: number;
  /** effective_hidden_scale = 2^-15 / hidden_scale · 2^-15, decomposed */
  mHidden: number;
  sHidden: number;
}

/** The scales and zero points Prepare reads (per-tensor), the float cell_clip, and the hidden intermediate's scale. */
export interface Lstm8Quant {
  inputScale: number;
  inputZp: number;
  /** weight scales: input_to_{i,f,c,o}, recurrent_to_{i,f,c,o} */
  wInScale: number[];
  wRecScale: number[];
  stateScale: number;
  stateZp: number;
  cellStateScale: number;
  hiddenScale: number;
  cellClip: number;
}

const f32 = Math.fround;

/** "zero_point · Σ_row weights + bias" (PrecomputeZeroPointTimesWeightWithBias), zero_point already negated. */
function zpTimesWeights(w: Int8Array, rows: number, cols: number, zp: number, bias: Int32Array | undefined): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]!;
    out[r] = (bias ? bias[r]! : 0) + zp * s;
  }
  return out;
}

/**
 * cell_scale = CheckedLog2(cell state scale); lstm.cc "TF_LITE_ENSURE(context, cell_scale <= -9)", and
 * ApplyTanh(15 + cell_scale) dispatches 0..6 integer bits only (else it writes nothing).
 */
export function lstm8CellScale(scale: number): number | string {
  const l = checkedLog2(scale);
  if (l === undefined) return `cell state scale ${scale} is not a power of two`;
  if (l > -9 || l < -15) return `cell state scale 2^${l} outside 2^-15..2^-9`;
  return l;
}

/**
 * PopulateQuantizedLstmParams8x8_16 without layer norm: "Q3.12 for activation functions" (intermediate_scale =
 * 2^-12 for every gate), effective_*_scale computed in float, cell_scale = CheckedLog2(cell_state scale),
 * "quantized_cell_clip = static_cast<int16_t>(min(max(cell_clip / cell_state_scale, -32768), 32767))".
 * Returns a string naming what does not fit instead of parameters.
 */
export function lstm8Params(q: Lstm8Quant, wIn: Int8Array[], wRec: Int8Array[], bias: (Int32Array | undefined)[], nCell: number, nInput: number, nOutput: number): Lstm8Params | string {
  const cellScale = lstm8CellScale(q.cellStateScale);
  if (typeof cellScale === 'string') return cellScale;
  const gateScale = 2 ** -12;
  const gates = [0, 1, 2, 3].map((g): Lstm8Gate => {
    const [mIn, sIn] = quantizeMultiplier(f32(f32(q.wInScale[g]! * q.inputScale) / gateScale));
    const [mRec, sRec] = quantizeMultiplier(f32(f32(q.wRecScale[g]! * q.stateScale) / gateScale));
    return {
      wIn: wIn[g]!,
      wRec: wRec[g]!,
      biasIn: zpTimesWeights(wIn[g]!, nCell, nInput, -q.inputZp, bias[g]),
      biasRec: zpTimesWeights(wRec[g]!, nCell, nOutput, -q.stateZp, undefined),
      mIn,
      sIn,
      mRec,
      sRec,
    };
  }) as Lstm8Params['gates'];
  const [mHidden, sHidden] = quantizeMultiplier(f32(f32(2 ** -15 / q.hiddenScale) * 2 ** -15));
  const clip = q.cellClip > 0 ? Math.trunc(Math.min(Math.max(f32(q.cellClip / q.cellStateScale), -32768), 32767)) : 0;
  return { nCell, nInput, nOutput, gates, cellScale, cellClip: clip, mHidden, sHidden };
}

const sat16 = (v: number) => (v < -32768 ? -32768 : v > 32767 ? 32767 : v);

/**
 * PortableMatrixBatchVectorMultiplyAccumulate (int8 × int8 → int16, one batch row): "acc = bias[row] + Σ input ·
 * weights; acc = MultiplyByQuantizedMultiplier(acc, multiplier, shift); acc += output[row]; clamp to int16", acc an
 * int32 (wrapping, as TFLite's builds do: the sum reaches int32's ends only with recurrent effective scales in the thousands).
 */
function gateAccumulate(w: Int8Array, bias: Int32Array, m: number, s: number, v: ArrayLike<number>, vOff: number, n: number, gate: Int16Array): void {
  for (let r = 0; r < gate.length; r++) {
    let acc = bias[r]!;
    for (let k = 0; k < n; k++) acc += v[vOff + k]! * w[r * n + k]!;
    gate[r] = sat16((multiplyByQuantizedMultiplier(acc, m, s) + gate[r]!) | 0);
  }
}

/** CalculateLstmGateInteger8x8_16 without peephole / layer norm: input part, recurrent part, then the activation. */
function gate8x8_16(g: Lstm8Gate, x: ArrayLike<number>, xOff: number, nIn: number, h: Int8Array, nOut: number, act: (v: number) => number, out: Int16Array): void {
  out.fill(0);
  gateAccumulate(g.wIn, g.biasIn, g.mIn, g.sIn, x, xOff, nIn, out);
  gateAccumulate(g.wRec, g.biasRec, g.mRec, g.sRec, h, 0, nOut, out);
  for (let r = 0; r < out.length; r++) out[r] = act(out[r]!);
}

/**
 * An int16 → int16 function memoized per input value: gemmlowp's fixed-point activations cost ~30 multiplies, and
 * an LSTM's gates see the same few thousand values every step. The table (65,536 entries) is allocated on first use.
 */
function memo16(fn: (v: number) => number): (v: number) => number {
  const NONE = 0x40000000;
  let cache: Int32Array | undefined;
  return (v) => {
    cache ??= new Int32Array(65536).fill(NONE);
    let y = cache[v + 32768]!;
    if (y === NONE) cache[v + 32768] = y = fn(v);
    return y;
  };
}

// ApplySigmoid: gemmlowp::logistic on FixedPoint<int16, 3>; ApplyTanh(n, …) on FixedPoint<int16, n>: n = 3 for the
// cell gate's Q3.12, 15 + cell_scale (0..6) for the cell state
const sigmoidQ3 = memo16((v) => fixedLogistic16(v, 3));
const tanhQ = Array.from({ length: 7 }, (_, n) => memo16((v) => fixedTanh16(v, n)));
const tanhQ3 = tanhQ[3]!;

/**
 * EvalInteger8x8_16 for one batch row over T steps (the caller walks batch rows and the time layout): x at
 * xAt(t) in `x`, output state `h` (int8, in/out), cell state `c` (int16, in/out), each step's output state written
 * to `out` at outAt(t). Per step (LstmStepInteger8x8_16): gates i, f, c (tanh), UpdateLstmCellInteger, gate o,
 * CalculateLstmOutputInteger8x8_16.
 */
export function lstm8x8_16Run(p: Lstm8Params, x: ArrayLike<number>, xAt: (t: number) => number, T: number, h: Int8Array, c: Int16Array, out: Int8Array, outAt: (t: number) => number): void {
  const { nCell, nInput, nOutput, gates } = p;
  const gi = new Int16Array(nCell), gf = new Int16Array(nCell), gc = new Int16Array(nCell), go = new Int16Array(nCell);
  const tanhCell = tanhQ[15 + p.cellScale]!;
  for (let t = 0; t < T; t++) {
    const xo = xAt(t);
    gate8x8_16(gates[0], x, xo, nInput, h, nOutput, sigmoidQ3, gi);
    gate8x8_16(gates[1], x, xo, nInput, h, nOutput, sigmoidQ3, gf);
    gate8x8_16(gates[2], x, xo, nInput, h, nOutput, tanhQ3, gc);
    // UpdateLstmCellInteger: "CwiseMul(forget_gate, cell_state, 15)", "CwiseMul(input_gate, cell_gate, 30 +
    // cell_state_scale)", "CwiseAdd" (saturating), then "CwiseClipping" when clip > 0
    for (let r = 0; r < nCell; r++) {
      const fc = (roundingDivideByPOT(gf[r]! * c[r]!, 15) << 16) >> 16;
      const ig = (roundingDivideByPOT(gi[r]! * gc[r]!, 30 + p.cellScale) << 16) >> 16;
      let cn = sat16(fc + ig);
      if (p.cellClip > 0) cn = cn < -p.cellClip ? -p.cellClip : cn > p.cellClip ? p.cellClip : cn;
      c[r] = cn;
    }
    gate8x8_16(gates[3], x, xo, nInput, h, nOutput, sigmoidQ3, go);
    // CalculateLstmOutputInteger8x8_16 without projection: "ApplyTanh(15 + cell_state_scale, cell_state)", then
    // "CwiseMul(output_gate, scratch0, hidden_scale_a, hidden_scale_b, …)" clamped to int8 (hidden zero point 0)
    for (let r = 0; r < nCell; r++) {
      const v = multiplyByQuantizedMultiplier(go[r]! * tanhCell(c[r]!), p.mHidden, p.sHidden);
      h[r] = v < -128 ? -128 : v > 127 ? 127 : v;
    }
    out.set(h, outAt(t));
  }
}
