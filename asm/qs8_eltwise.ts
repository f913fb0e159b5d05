// Elementwise int8 / uint8 kernels (WebAssembly SIMD128), bit-identical to the TS reference ops:
//
//   qs8_quantize_f32  QuantizeLinear, float32 → int8 / uint8, per-tensor scale and zero point:
//                     y = saturate(nearest_even(f32(x / s)) + z)
//   qs8_qlinear_add   QLinearAdd (com.microsoft), same-shape A and B of one 8-bit type:
//                     y = saturate(nearest_even(f32(f32(f32(sa·(a − za)) + f32(sb·(b − zb))) / sc)) + zc)
//
// Every float step is one correctly rounded float32 operation, which is what the reference's Math.fround of the
// double result is (a double holds the exact product of two floats, and a double-rounded sum or quotient of two
// floats equals the single rounding because 53 ≥ 2·24 + 2). The rounded value is integral; adding the zero
// point in float32 is exact below 2^24 and keeps the side of the range above it, and the saturating
// i32 → i16 → i8/u8 narrows do the clamp (NaN → 0, as the reference's saturate).

// @ts-ignore: decorator
@inline
function toBytes(f0: v128, f1: v128, f2: v128, f3: v128, uns: i32): v128 {
  const h0 = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f0), i32x4.trunc_sat_f32x4_s(f1));
  const h1 = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f2), i32x4.trunc_sat_f32x4_s(f3));
  return uns ? i8x16.narrow_i16x8_u(h0, h1) : i8x16.narrow_i16x8_s(h0, h1);
}

// @ts-ignore: decorator
@inline
function q1(v: f32, uns: i32): i32 {
  const q = <i32>v; // i32.trunc_sat_f32_s (non-trapping float-to-int is on by default): NaN → 0, saturating
  return uns ? (q < 0 ? 0 : q > 255 ? 255 : q) : q < -128 ? -128 : q > 127 ? 127 : q;
}

/** n floats at x → n bytes at y (int8, or uint8 when uns = 1). */
export function qs8_quantize_f32(x: usize, n: i32, s: f32, z: i32, uns: i32, y: usize): void {
  const vs = f32x4.splat(s);
  const vz = f32x4.splat(<f32>z);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const f0 = f32x4.add(f32x4.nearest(f32x4.div(v128.load(p), vs)), vz);
    const f1 = f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 16), vs)), vz);
    const f2 = f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 32), vs)), vz);
    const f3 = f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 48), vs)), vz);
    v128.store(y + i, toBytes(f0, f1, f2, f3, uns));
  }
  for (; i < n; i++) store<u8>(y + i, <u8>q1(nearest<f32>(load<f32>(x + (<usize>i << 2)) / s) + <f32>z, uns));
}

// @ts-ignore: decorator
@inline
function deq4(b: v128, lane: i32, uns: i32, z: v128, s: v128): v128 {
  // lanes 4·lane … 4·lane + 3 of 16 bytes as int32 − z, times s
  let h: v128;
  if (uns) h = lane < 2 ? i16x8.extend_low_i8x16_u(b) : i16x8.extend_high_i8x16_u(b);
  else h = lane < 2 ? i16x8.extend_low_i8x16_s(b) : i16x8.extend_high_i8x16_s(b);
  const w = (lane & 1) == 0 ? i32x4.extend_low_i16x8_s(h) : i32x4.extend_high_i16x8_s(h);
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(w, z)), s);
}

/** n elements of a and b (int8, or uint8 when uns = 1) → y. */
export function qs8_qlinear_add(a: usize, sa: f32, za: i32, b: usize, sb: f32, zb: i32, n: i32, sc: f32, zc: i32, uns: i32, y: usize): void {
  const vsa = f32x4.splat(sa), vza = i32x4.splat(za);
  const vsb = f32x4.splat(sb), vzb = i32x4.splat(zb);
  const vsc = f32x4.splat(sc), vzc = f32x4.splat(<f32>zc);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const va = v128.load(a + i);
    const vb = v128.load(b + i);
    const f0 = f32x4.add(f32x4.nearest(f32x4.div(f32x4.add(deq4(va, 0, uns, vza, vsa), deq4(vb, 0, uns, vzb, vsb)), vsc)), vzc);
    const f1 = f32x4.add(f32x4.nearest(f32x4.div(f32x4.add(deq4(va, 1, uns, vza, vsa), deq4(vb, 1, uns, vzb, vsb)), vsc)), vzc);
    const f2 = f32x4.add(f32x4.nearest(f32x4.div(f32x4.add(deq4(va, 2, uns, vza, vsa), deq4(vb, 2, uns, vzb, vsb)), vsc)), vzc);
    const f3 = f32x4.add(f32x4.nearest(f32x4.div(f32x4.add(deq4(va, 3, uns, vza, vsa), deq4(vb, 3, uns, vzb, vsb)), vsc)), vzc);
    v128.store(y + i, toBytes(f0, f1, f2, f3, uns));
  }
  for (; i < n; i++) {
    const ai = uns ? <i32>load<u8>(a + i) : <i32>load<i8>(a + i);
    const bi = uns ? <i32>load<u8>(b + i) : <i32>load<i8>(b + i);
    const r: f32 = <f32>(ai - za) * sa + <f32>(bi - zb) * sb;
    store<u8>(y + i, <u8>q1(nearest<f32>(r / sc) + <f32>zc, uns));
  }
}
