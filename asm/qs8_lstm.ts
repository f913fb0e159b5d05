// TFLite's integer LSTM, "8x8_16" (lstm_eval.cc EvalInteger8x8_16 → LstmStepInteger8x8_16 with the portable
// tensor_utils kernels): int8 input / weights / output state, int32 accumulators, int16 gates in Q3.12 activated by
// gemmlowp's int16 fixed-point logistic / tanh, int16 cell state. The TS reference (src/ops/tflite-lstm8.ts) is the
// spec; every step here is the same integer arithmetic, so results are bit-identical.
//
// Layout shared with the bridge (src/kernels/tfl-lstm8.ts): gates i, f, c, o are stacked with a stride of
// G = n_cell rounded up to 8 rows (whole i16x8 vectors per gate, and 4-row groups never straddle two gates); padded
// rows have zero weights and biases. Recurrent weights are [4G, G] (n_output = n_cell: no projection), the padded
// columns zero, so the output state is kept as G bytes per batch row and its padded lanes multiply zeros.

import { fcDot4, tflMask, tflMbqm4 } from './q8';

// ---------------------------------------------------------------- gemmlowp FixedPoint<int16, N> on 8 lanes
// operator* is SaturatingRoundingDoublingHighMul on int16: (a·b + 2^14) >> 15 with −2^15·−2^15 saturating, which is
// i16x8.q15mulr_sat_s (gemmlowp's nudge 1 − 2^14 for a negative product with truncating division rounds the same
// way: half up). + and − wrap (i16x8.add / sub), as the raw int16 arithmetic does.

// constants: gemmlowp's int32 raw values rescaled to int16 (RescaleConstantInitializer: RoundingDivideByPOT(v, 16))
const EXP_M1_8: i16 = 28918; // exp(-1/8), 1895147668
const ONE_THIRD: i16 = 10923; // 715827883
const NR_48_17: i16 = 23130; // 48/17 in Q2.13, 1515870810
const NR_NEG_32_17: i16 = -15420; // -32/17 in Q2.13, -1010580540
// exp(-2^k) for k = -2 … 4 (exp_on_negative_values' barrel shifter)
const EXP_BARREL_0: i16 = 25520; // 1672461947
const EXP_BARREL_1: i16 = 19875; // 1302514674
const EXP_BARREL_2: i16 = 12055; // 790015084
const EXP_BARREL_3: i16 = 4435; // 290630308
const EXP_BARREL_4: i16 = 600; // 39332535
const EXP_BARREL_5: i16 = 11; // 720401
const EXP_BARREL_6: i16 = 0; // 242

/** gemmlowp RoundingDivideByPOT on int16 lanes (round half away from zero), exponent e ≥ 1. */
// @ts-ignore: decorator
@inline
function rdbp16(x: v128, e: i32): v128 {
  const mask = (1 << e) - 1;
  const thr = i16x8.sub(i16x8.splat(<i16>(mask >> 1)), i16x8.shr_s(x, 15));
  return i16x8.sub(i16x8.shr_s(x, e), i16x8.gt_s(v128.and(x, i16x8.splat(<i16>mask)), thr));
}

/**
 * gemmlowp SaturatingRoundingMultiplyByPOT<e> on int16 lanes, e ≥ 1: x · 2^e, 32767 above 2^(15-e) − 1 and −32768
 * below −2^(15-e) (clamped to that, whose shift is −32768, then shifted).
 */
// @ts-ignore: decorator
@inline
function satShl16(x: v128, e: i32): v128 {
  const lim = 1 << (15 - e);
  const top = i16x8.splat(<i16>(lim - 1));
  const r = i16x8.shl(i16x8.max_s(x, i16x8.splat(<i16>-lim)), e);
  return v128.bitselect(i16x8.splat(32767), r, i16x8.gt_s(x, top));
}

/** lanes of `r` where bit `bit` of `sel` is set: r · k, else r (one stage of the exp barrel shifter). */
// @ts-ignore: decorator
@inline
function mulIfBit(r: v128, sel: v128, bit: i32, k: i16): v128 {
  const on = i16x8.ne(v128.and(sel, i16x8.splat(<i16>(<i32>1 << bit))), i16x8.splat(0));
  return v128.bitselect(i16x8.q15mulr_sat_s(r, i16x8.splat(k)), r, on);
}

/** gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl on FixedPoint<int16, 0>. */
// @ts-ignore: decorator
@inline
function expQuarter16(a: v128): v128 {
  const x = i16x8.add(a, i16x8.splat(4096)); // a + 1/8
  const x2 = i16x8.q15mulr_sat_s(x, x);
  const x3 = i16x8.q15mulr_sat_s(x2, x);
  const x4 = i16x8.q15mulr_sat_s(x2, x2);
  const x4over4 = rdbp16(x4, 2);
  const poly = rdbp16(i16x8.add(i16x8.q15mulr_sat_s(i16x8.add(x4over4, x3), i16x8.splat(ONE_THIRD)), x2), 1);
  const c = i16x8.splat(EXP_M1_8);
  return i16x8.add_sat_s(c, i16x8.q15mulr_sat_s(c, i16x8.add(x, poly)));
}

/** gemmlowp exp_on_negative_values: FixedPoint<int16, ib> (a ≤ 0, 1 ≤ ib ≤ 7) → FixedPoint<int16, 0>. */
// @ts-ignore: decorator
@inline
function expNeg16(a: v128, ib: i32): v128 {
  const frac = 15 - ib;
  const quarter = 1 << (frac - 2);
  const amq = i16x8.sub(v128.and(a, i16x8.splat(<i16>(quarter - 1))), i16x8.splat(<i16>quarter));
  let r = expQuarter16(satShl16(amq, ib));
  const rem = i16x8.sub(amq, a);
  // stage k multiplies by exp(-2^(k-2)) when bit frac + k - 2 of the remainder is set, for the stages ib covers
  r = mulIfBit(r, rem, frac - 2, EXP_BARREL_0);
  r = mulIfBit(r, rem, frac - 1, EXP_BARREL_1);
  if (ib > 0) r = mulIfBit(r, rem, frac, EXP_BARREL_2);
  if (ib > 1) r = mulIfBit(r, rem, frac + 1, EXP_BARREL_3);
  if (ib > 2) r = mulIfBit(r, rem, frac + 2, EXP_BARREL_4);
  if (ib > 3) r = mulIfBit(r, rem, frac + 3, EXP_BARREL_5);
  if (ib > 4) r = mulIfBit(r, rem, frac + 4, EXP_BARREL_6);
  // below -32 the result is 0 (only reachable with more than 5 integer bits)
  if (ib > 5) r = v128.andnot(r, i16x8.lt_s(a, i16x8.splat(<i16>(-(<i32>1 << (20 - ib))))));
  return v128.bitselect(i16x8.splat(32767), r, i16x8.eq(a, i16x8.splat(0)));
}

/**
 * The Newton-Raphson reciprocal shared by one_over_one_plus_x_for_x_in_0_1 and one_minus_x_over_one_plus_x: x ≈
 * 1 / (1 + e) in Q2.13 for e in [0, 1]: half = RoundingHalfSum(e, 1) = (e + 2^15) >> 1 (e ≥ 0: avgr_u), then
 * "x = 48/17 − 32/17·half" and three "x += Rescale<2>(x · (1 − half·x))".
 */
// @ts-ignore: decorator
@inline
function newton16(e: v128): v128 {
  const half = i16x8.avgr_u(e, i16x8.splat(32767));
  let x = i16x8.add(i16x8.splat(NR_48_17), i16x8.q15mulr_sat_s(half, i16x8.splat(NR_NEG_32_17)));
  const one = i16x8.splat(8192);
  for (let i = 0; i < 3; i++) x = i16x8.add(x, satShl16(i16x8.q15mulr_sat_s(x, i16x8.sub(one, i16x8.q15mulr_sat_s(half, x))), 2));
  return x;
}

/** gemmlowp logistic(FixedPoint<int16, 3>) → FixedPoint<int16, 0> (tensor_utils ApplySigmoid on Q3.12). */
// @ts-ignore: decorator
@inline
function sigmoid8(a: v128): v128 {
  const pos = satShl16(newton16(expNeg16(i16x8.neg(i16x8.abs(a)), 3)), 1);
  const r = v128.bitselect(pos, i16x8.sub(i16x8.splat(32767), pos), i16x8.gt_s(a, i16x8.splat(0)));
  return v128.bitselect(i16x8.splat(16384), r, i16x8.eq(a, i16x8.splat(0)));
}

/** gemmlowp tanh(FixedPoint<int16, n>) → FixedPoint<int16, 0>, 0 ≤ n ≤ 6 (tensor_utils ApplyTanh). */
// @ts-ignore: decorator
@inline
function tanh8(a: v128, n: i32): v128 {
  const t = satShl16(i16x8.sub(newton16(expNeg16(i16x8.neg(i16x8.abs(a)), n + 1)), i16x8.splat(8192)), 2);
  const r = v128.bitselect(i16x8.neg(t), t, i16x8.lt_s(a, i16x8.splat(0)));
  return v128.andnot(r, i16x8.eq(a, i16x8.splat(0)));
}

/** ApplySigmoid over n int16 values (n a multiple of 8). */
export function qs16_lstm_sigmoid(x: usize, n: i32, out: usize): void {
  for (let i = 0; i < n; i += 8) v128.store(out + (<usize>i << 1), sigmoid8(v128.load(x + (<usize>i << 1))));
}

/** ApplyTanh(n_bits, …) over n int16 values (n a multiple of 8), 0 ≤ bits ≤ 6. */
export function qs16_lstm_tanh(x: usize, n: i32, bits: i32, out: usize): void {
  for (let i = 0; i < n; i += 8) v128.store(out + (<usize>i << 1), tanh8(v128.load(x + (<usize>i << 1)), bits));
}

// ---------------------------------------------------------------- gate pre-activations

/**
 * MatrixBatchVectorMultiplyAccumulate (int8 × int8 → int16) for `rows` vectors of k int8 at x + r·xs against the
 * stacked gate weights w [4G, k] (zero points folded into bias [4G] int32 at plan time): per row j of gate g,
 * "acc = bias[j] + Σ x · w[j]; acc = MultiplyByQuantizedMultiplier(acc, mult[g], shift[g]); acc += add[r, j];
 * clamp to int16", written to out [rows, 4G]. add: int16 rows of 4G at add + r·as elements, or 0 (none: 0 added).
 * zeros: 4 int32 zeros (fcDot4's weight zero points).
 */
function gateRows(x: usize, rows: i32, xs: i32, k: i32, w: usize, g: i32, bias: usize, mult: usize, shift: usize, add: usize, as: i32, zeros: usize, out: usize): void {
  const n = 4 * g;
  for (let q = 0; q < 4; q++) {
    const s = load<i32>(shift + (<usize>q << 2));
    const m = i32x4.splat(load<i32>(mult + (<usize>q << 2)));
    const left = s > 0 ? s : 0;
    const right = s > 0 ? 0 : -s;
    const mask = tflMask(right);
    const vm = i32x4.splat(mask), vh = i32x4.splat(mask >> 1);
    for (let r = 0; r < rows; r++) {
      const xr = x + <usize>r * xs;
      const orow = out + ((<usize>r * n) << 1);
      const arow = add + ((<usize>r * as) << 1);
      for (let j = q * g; j < (q + 1) * g; j += 4) {
        const acc = i32x4.add(fcDot4(xr, w + <usize>j * k, k, 0, zeros), v128.load(bias + (<usize>j << 2)));
        let v = tflMbqm4(acc, m, left, right, vm, vh);
        if (add) v = i32x4.add(v, i32x4.extend_low_i16x8_s(v128.load64_zero(arow + (<usize>j << 1))));
        v128.store64_lane(orow + (<usize>j << 1), i16x8.narrow_i32x4_s(v, v), 0);
      }
    }
  }
}

/**
 * Input part of every gate for every time step at once (it does not depend on the state): x [rows, k] int8 rows
 * (the input tensor in its own order) → gx [rows, 4G] int16 = clamp16(MBQM(bias_x + W_x · x)).
 */
export function qs8_lstm_gates(x: usize, rows: i32, k: i32, w: usize, g: i32, bias: usize, mult: usize, shift: usize, zeros: usize, gx: usize): void {
  gateRows(x, rows, k, k, w, g, bias, mult, shift, 0, 0, zeros, gx);
}

// ---------------------------------------------------------------- cell and output

/** RoundingDivideByPOT(v, e) on 4 int32 lanes, then the low 16 bits of 8 such lanes (the int16 cast wraps). */
// @ts-ignore: decorator
@inline
function rdbpWrap16(lo: v128, hi: v128, e: i32): v128 {
  const mask = i32x4.splat(tflMask(e)), half = i32x4.splat(tflMask(e) >> 1);
  const a = i32x4.sub(i32x4.shr_s(lo, e), i32x4.gt_s(v128.and(lo, mask), i32x4.sub(half, i32x4.shr_s(lo, 31))));
  const b = i32x4.sub(i32x4.shr_s(hi, e), i32x4.gt_s(v128.and(hi, mask), i32x4.sub(half, i32x4.shr_s(hi, 31))));
  return v128.shuffle<i16>(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
}

/**
 * One batch row's step after its pre-activations are in `gates` ([4G] int16): ApplySigmoid to i, f, o, ApplyTanh(3)
 * to c; UpdateLstmCellInteger: "CwiseMul(forget_gate, cell_state, 15)", "CwiseMul(input_gate, cell_gate, 30 +
 * cell_state_scale)" (each RoundingDivideByPOT of the int32 product, cast to int16), saturating "CwiseAdd",
 * "CwiseClipping" by clip (> 0); CalculateLstmOutputInteger8x8_16: "ApplyTanh(15 + cell_state_scale)", then
 * clamp8(MultiplyByQuantizedMultiplier(output_gate · tanh, mh, sh)) (hidden zero point 0) into h [G] int8.
 */
function cellStep(gates: usize, g: i32, cellScale: i32, clip: i32, mh: i32, sh: i32, c: usize, h: usize): void {
  const gb = (<usize>g) << 1;
  const vq = i32x4.splat(mh);
  const left = sh > 0 ? sh : 0;
  const right = sh > 0 ? 0 : -sh;
  const vm = i32x4.splat(tflMask(right)), vh = i32x4.splat(tflMask(right) >> 1);
  const lo8 = i32x4.splat(-128), hi8 = i32x4.splat(127);
  const cmin = i16x8.splat(<i16>-clip), cmax = i16x8.splat(<i16>clip);
  for (let j = 0; j < g; j += 8) {
    const p = gates + (<usize>j << 1);
    const gi = sigmoid8(v128.load(p));
    const gf = sigmoid8(v128.load(p + gb));
    const gc = tanh8(v128.load(p + 2 * gb), 3);
    const go = sigmoid8(v128.load(p + 3 * gb));
    const cp = c + (<usize>j << 1);
    const c0 = v128.load(cp);
    const fc = rdbpWrap16(i32x4.extmul_low_i16x8_s(gf, c0), i32x4.extmul_high_i16x8_s(gf, c0), 15);
    const ig = rdbpWrap16(i32x4.extmul_low_i16x8_s(gi, gc), i32x4.extmul_high_i16x8_s(gi, gc), 30 + cellScale);
    let cn = i16x8.add_sat_s(fc, ig);
    if (clip > 0) cn = i16x8.min_s(i16x8.max_s(cn, cmin), cmax);
    v128.store(cp, cn);
    const t = tanh8(cn, 15 + cellScale);
    const a = i32x4.min_s(i32x4.max_s(tflMbqm4(i32x4.extmul_low_i16x8_s(go, t), vq, left, right, vm, vh), lo8), hi8);
    const b = i32x4.min_s(i32x4.max_s(tflMbqm4(i32x4.extmul_high_i16x8_s(go, t), vq, left, right, vm, vh), lo8), hi8);
    const hh = i16x8.narrow_i32x4_s(a, b);
    v128.store64_lane(h + j, i8x16.narrow_i16x8_s(hh, hh), 0);
  }
}

/** Bytes of qs8_lstm_run's scratch for T steps, B batch rows and gate stride G. */
export function qs8_lstm_scratch_bytes(t: i32, b: i32, g: i32): i32 {
  return ((t * b * 8 * g + 15) & ~15) + ((b * 8 * g + 15) & ~15) + ((b * g + 15) & ~15) + ((b * 2 * g + 15) & ~15);
}

/**
 * EvalInteger8x8_16 over T steps and B batch rows, n_cell = nc (gate stride g): x [T·B, ni] int8 rows, time-major
 * (tm = 1: row t·B + b) or batch-major (row b·T + t); weights wx [4G, ni], wh [4G, G] int8; folded biases bx, bh
 * [4G] int32; q: 16 int32s, the multipliers and shifts of the input part (4 + 4) then the recurrent part (4 + 4);
 * zeros: 4 int32 zeros; h0 [B, nc] int8 and c0 [B, nc] int16 the initial states (read only); each step's output
 * state is written to out at its row · nc. Batch rows do not interact: the time-major order (all rows per step)
 * computes what the batch-major one (row by row) does.
 */
export function qs8_lstm_run(x: usize, t: i32, b: i32, tm: i32, ni: i32, nc: i32, g: i32, wx: usize, wh: usize, bx: usize, bh: usize, q: usize, zeros: usize, cellScale: i32, clip: i32, mh: i32, sh: i32, h0: usize, c0: usize, scratch: usize, out: usize): void {
  const n = 4 * g;
  const gx = scratch;
  const gates = gx + <usize>((t * b * n * 2 + 15) & ~15);
  const hs = gates + <usize>((b * n * 2 + 15) & ~15);
  const cs = hs + <usize>((b * g + 15) & ~15);
  memory.fill(hs, 0, <usize>(b * g));
  memory.fill(cs, 0, <usize>(b * g * 2));
  for (let r = 0; r < b; r++) {
    memory.copy(hs + <usize>(r * g), h0 + <usize>(r * nc), <usize>nc);
    memory.copy(cs + <usize>(r * g * 2), c0 + <usize>(r * nc * 2), <usize>(nc * 2));
  }
  qs8_lstm_gates(x, t * b, ni, wx, g, bx, q, q + 16, zeros, gx);
  for (let s = 0; s < t; s++) {
    // the recurrent part of all batch rows, added to their input parts (rows s·B + r, or r·T + s: stride T)
    const row0 = tm ? s * b : s;
    const rs = tm ? n : t * n;
    gateRows(hs, b, g, g, wh, g, bh, q + 32, q + 48, gx + (<usize>(row0 * n) << 1), rs, zeros, gates);
    for (let r = 0; r < b; r++) {
      const h = hs + <usize>(r * g);
      cellStep(gates + (<usize>(r * n) << 1), g, cellScale, clip, mh, sh, cs + (<usize>(r * g) << 1), h);
      memory.copy(out + <usize>((tm ? s * b + r : r * t + s) * nc), h, <usize>nc);
    }
  }
}
