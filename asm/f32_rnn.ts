import { expNeg, tanhv } from './vec';
// f32 recurrent cells (ONNX LSTM with its default activations). The matrix products run on the GEMM family: the
// input projection X·Wᵀ for every time step at once, the recurrent one h·Rᵀ (+ both biases, packed into R's panels)
// per step; this file only holds the pointwise cell that turns the gate pre-activations into the new state.

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
  const vc = f32x4.splat(clip);
  const vnc = f32x4.splat(-clip);
  const vcc = f32x4.splat(cclip);
  const vncc = f32x4.splat(-cclip);
  for (let j = 0; j < hs; j += 4) {
    const o = (<usize>j) << 2;
    const pi = f32x4.min(f32x4.max(f32x4.add(v128.load(gx + o), v128.load(gh + o)), vnc), vc);
    const po = f32x4.min(f32x4.max(f32x4.add(v128.load(gx + hb + o), v128.load(gh + hb + o)), vnc), vc);
    const pf = f32x4.min(f32x4.max(f32x4.add(v128.load(gx + 2 * hb + o), v128.load(gh + 2 * hb + o)), vnc), vc);
    const pc = f32x4.min(f32x4.max(f32x4.add(v128.load(gx + 3 * hb + o), v128.load(gh + 3 * hb + o)), vnc), vc);
    const cn = f32x4.min(f32x4.max(f32x4.add(f32x4.mul(sigmoidv(pf), v128.load(c + o)), f32x4.mul(sigmoidv(pi), tanhv(pc))), vncc), vcc);
    v128.store(c + o, cn);
    v128.store(h + o, f32x4.mul(sigmoidv(po), tanhv(f32x4.min(f32x4.max(cn, vnc), vc))));
  }
  memory.copy(y, h, hb);
}
