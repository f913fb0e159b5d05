// Dynamic activation quantization (WebAssembly SIMD128): the two passes of ONNX DynamicQuantizeLinear over float32,
// used by the fused DynamicQuantizeMatMul kernel (src/kernels/dynq.ts), which feeds the codes straight to qs8_gemm.
//
//   f32_minmax0:    min(0, x…) and max(0, x…) — "data range is adjusted to include 0"; NaN is skipped exactly as the
//                   TS reference's `if (a < mn) mn = a` skips it (f32x4.pmin / pmax are those comparisons).
//   f32_dynquant_u8: y = saturate_u8(round_half_even(x / y_scale) + y_zero_point) XOR flip, with the division in
//                   float32 (= the reference's Math.fround of the double quotient: double rounding is exact for ÷)
//                   and a NaN x giving code 0 (the reference stores NaN into a Uint8Array, which is 0).
//                   flip = 0x80 stores the int8 code y − 128 that the int8 GEMMs multiply.

/** Writes [min(0, x…), max(0, x…)] as two float32 at `out`. */
export function f32_minmax0(x: usize, n: i32, out: usize): void {
  let mn = f32x4.splat(0);
  let mx = mn;
  let mn1 = mn;
  let mx1 = mn;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = x + (<usize>i << 2);
    const v0 = v128.load(p);
    const v1 = v128.load(p, 16);
    mn = f32x4.pmin(mn, v0); // v0 < mn ? v0 : mn
    mx = f32x4.pmax(mx, v0); // mx < v0 ? v0 : mx
    mn1 = f32x4.pmin(mn1, v1);
    mx1 = f32x4.pmax(mx1, v1);
  }
  mn = f32x4.pmin(mn, mn1);
  mx = f32x4.pmax(mx, mx1);
  let a = f32x4.extract_lane(mn, 0);
  let b = f32x4.extract_lane(mx, 0);
  for (let l = 1; l < 4; l++) {
    const u = l == 1 ? f32x4.extract_lane(mn, 1) : l == 2 ? f32x4.extract_lane(mn, 2) : f32x4.extract_lane(mn, 3);
    const w = l == 1 ? f32x4.extract_lane(mx, 1) : l == 2 ? f32x4.extract_lane(mx, 2) : f32x4.extract_lane(mx, 3);
    if (u < a) a = u;
    if (w > b) b = w;
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v < a) a = v;
    if (v > b) b = v;
  }
  store<f32>(out, a);
  store<f32>(out, b, 4);
}

// 1.5·2^23: adding it to a float32 of magnitude ≤ 2^22 leaves that value rounded half to even to an integer in the
// low mantissa bits (the ulp there is 1), so the sum's bits minus MAGIC_BITS are the rounded integer
const MAGIC: f32 = 12582912.0;
const MAGIC_BITS: i32 = 0x4b400000;

// @ts-ignore: decorator
@inline
function quant4(v: v128, vs: v128, vzm: v128): v128 {
  const q = f32x4.div(v, vs);
  // clamp before rounding so ±inf or huge quotients stay in the magic add's exact range (clamping to the integers
  // ±1024 commutes with rounding); pmax / pmin keep a NaN lane NaN (one maxps / minps each, where f32x4.max / min
  // are NaN-propagating sequences), and the final mask turns it into 0
  const c = f32x4.pmin(f32x4.pmax(q, f32x4.splat(-1024)), f32x4.splat(1024));
  // bits(c + MAGIC) − MAGIC_BITS + zp in one add (vzm = zp − MAGIC_BITS): nearest-even without f32x4.nearest and
  // i32x4.trunc_sat_f32x4_s (a ~8-instruction sequence on x64)
  return v128.and(i32x4.add(f32x4.add(c, f32x4.splat(MAGIC)), vzm), f32x4.eq(q, q));
}

/** y[i] (bytes) = saturate_u8(nearest_even(x[i] / scale) + zp) ^ flip for i < n (see the file comment). */
export function f32_dynquant_u8(x: usize, n: i32, scale: f32, zp: i32, flip: i32, y: usize): void {
  const vs = f32x4.splat(scale);
  const vz = i32x4.splat(zp - MAGIC_BITS);
  const vf = i8x16.splat(<i8>flip);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const q0 = quant4(v128.load(p), vs, vz);
    const q1 = quant4(v128.load(p, 16), vs, vz);
    const q2 = quant4(v128.load(p, 32), vs, vz);
    const q3 = quant4(v128.load(p, 48), vs, vz);
    const b = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
    v128.store(y + <usize>i, v128.xor(b, vf));
  }
  for (; i < n; i++) {
    const r = nearest<f32>(load<f32>(x + (<usize>i << 2)) / scale);
    let q = 0;
    if (r == r) {
      q = <i32>min<f32>(max<f32>(r, -1024), 1024) + zp;
      q = q < 0 ? 0 : q > 255 ? 255 : q;
    }
    store<u8>(y + <usize>i, <u8>(q ^ flip));
  }
}
