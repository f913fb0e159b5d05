import { expNeg, tanhv } from './vec';
// f32 recurrent cells (ONNX LSTM, GRU and RNN with their default activations; RNN also Relu). The matrix products
// run on the GEMM family: the input projection X·Wᵀ for every time step at once, the recurrent one h·Rᵀ (biases
// packed into the panels) per step; this file only holds the pointwise cells that turn the gate pre-activations
// into the new state.

/** sigmoid(x) = 1/(1+e) for x ≥ 0, e/(1+e) for x < 0 with e = exp(−|x|) (as f32_unary's Sigmoid: neither form cancels). */
// @ts-ignore: decorator
@inline
function sigmoidv(x: v128): v128 {
  const e = expNeg(f32x4.neg(f32x4.abs(x)));
  const r = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(f32x4.mul(e, r), r, f32x4.lt(x, f32x4.splat(0)));
}

/**
 * One LSTM step for one batch row, gates in ONNX order i, o, f, c at gx/gh + k·H (pre-activations split in two
 * addends: gx = X_t·Wᵀ, gh = H_{t−1}·Rᵀ + Wb + Rb). ONNX's `clip` bounds every pre-activation and C before h()
 * (C itself is kept unclipped); TFLite's `cell_clip` bounds the stored C (`cclip`; ±Infinity = no clip):
 *   i = σ(gx_i + gh_i)  f = σ(gx_f + gh_f)  g = tanh(gx_c + gh_c)  C = clip(f⊙C + i⊙g, cclip)  o = σ(gx_o + gh_o)
 *   h = o⊙tanh(clip(C, clip))
 * c and h are updated in place (4 floats at a time: both must have room for H rounded up to 4, and gx/gh must be
 * readable 3 floats past their 4H gates — the extra lanes compute garbage that lands in that padding only).
 * h is also written to y (exactly H floats).
 */
export function f32_lstm_cell(gx: usize, gh: usize, h: usize, c: usize, y: usize, hs: i32, clip: f32, cclip: f32): void {
  const hb = (<usize>hs) << 2;
  // the clips by pmin/pmax (one minps/maxps each): x first and bounds ±clip, they give min/max's results bit for bit
  // (NaN passes through; a ±0 bound only meets the other zero's sign when both are ±0 alike)
  const vc = f32x4.splat(clip);
  const vnc = f32x4.splat(-clip);
  const vcc = f32x4.splat(cclip);
  const vncc = f32x4.splat(-cclip);
  for (let j = 0; j < hs; j += 4) {
    const o = (<usize>j) << 2;
    const pi = f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + o), v128.load(gh + o)), vnc), vc);
    const po = f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + hb + o), v128.load(gh + hb + o)), vnc), vc);
    const pf = f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + 2 * hb + o), v128.load(gh + 2 * hb + o)), vnc), vc);
    const pc = f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + 3 * hb + o), v128.load(gh + 3 * hb + o)), vnc), vc);
    const cn = f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(sigmoidv(pf), v128.load(c + o)), f32x4.mul(sigmoidv(pi), tanhv(pc))), vncc), vcc);
    v128.store(c + o, cn);
    v128.store(h + o, f32x4.mul(sigmoidv(po), tanhv(f32x4.pmin(f32x4.pmax(cn, vnc), vc))));
  }
  memory.copy(y, h, hb);
}

/**
 * GRU with linear_before_reset = 0, first half of a step for one batch row: r = σ(clip(gx_r + gh_r)) and rh = r ⊙ h,
 * the vector the candidate's recurrent product (r ⊙ H_{t−1})·R_hᵀ takes. Gates in ONNX order z, r, h at gx/gh + k·H
 * (gh_r = H_{t−1}·R_rᵀ + Rb_r). Same padding contract as f32_lstm_cell (H rounded up to 4 for h and rh).
 */
export function f32_gru_reset(gx: usize, gh: usize, h: usize, rh: usize, hs: i32, clip: f32): void {
  const hb = (<usize>hs) << 2;
  const vc = f32x4.splat(clip);
  const vnc = f32x4.splat(-clip);
  for (let j = 0; j < hs; j += 4) {
    const o = (<usize>j) << 2;
    const pr = f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + hb + o), v128.load(gh + hb + o)), vnc), vc);
    v128.store(rh + o, f32x4.mul(sigmoidv(pr), v128.load(h + o)));
  }
}

/**
 * One GRU step for one batch row (the rest of it when lbr = 0), gates z, r, h at gx/gh + k·H, gx = X_t·Wᵀ + Wb:
 *   z = σ(clip(gx_z + gh_z)), gh_z = H_{t−1}·R_zᵀ + Rb_z
 *   lbr ≠ 0: n = tanh(clip(gx_h + σ(clip(gx_r + gh_r)) ⊙ gh_h)), gh_h = H_{t−1}·R_hᵀ + Rb_h
 *   lbr = 0: n = tanh(clip(gx_h + gh_h)),                          gh_h = (r ⊙ H_{t−1})·R_hᵀ + Rb_h (f32_gru_reset)
 *   h = (1 − z) ⊙ n + z ⊙ h, in place and copied to y (H floats). Padding as f32_lstm_cell.
 */
export function f32_gru_cell(gx: usize, gh: usize, h: usize, y: usize, hs: i32, clip: f32, lbr: i32): void {
  const hb = (<usize>hs) << 2;
  const vc = f32x4.splat(clip);
  const vnc = f32x4.splat(-clip);
  const one = f32x4.splat(1);
  for (let j = 0; j < hs; j += 4) {
    const o = (<usize>j) << 2;
    const z = sigmoidv(f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + o), v128.load(gh + o)), vnc), vc));
    let ph = v128.load(gh + 2 * hb + o);
    if (lbr != 0) ph = f32x4.mul(sigmoidv(f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + hb + o), v128.load(gh + hb + o)), vnc), vc)), ph);
    const n = tanhv(f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + 2 * hb + o), ph), vnc), vc));
    v128.store(h + o, f32x4.add(f32x4.mul(f32x4.sub(one, z), n), f32x4.mul(z, v128.load(h + o))));
  }
  memory.copy(y, h, hb);
}

/** One plain RNN step for one batch row: h = f(clip(gx + gh)) with f = tanh (relu = 0) or max(·, 0), copied to y. */
export function f32_rnn_cell(gx: usize, gh: usize, h: usize, y: usize, hs: i32, clip: f32, relu: i32): void {
  const vc = f32x4.splat(clip);
  const vnc = f32x4.splat(-clip);
  const zero = f32x4.splat(0);
  for (let j = 0; j < hs; j += 4) {
    const o = (<usize>j) << 2;
    const p = f32x4.pmin(f32x4.pmax(f32x4.add(v128.load(gx + o), v128.load(gh + o)), vnc), vc);
    v128.store(h + o, relu != 0 ? f32x4.max(p, zero) : tanhv(p));
  }
  memory.copy(y, h, (<usize>hs) << 2);
}
