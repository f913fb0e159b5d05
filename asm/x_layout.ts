// Data movement for the layout pass (src/ir/passes/layout.ts): 4-D permuted copies of 4-byte and 1-byte elements.
// The TS kernel (src/kernels/layout.ts) merges and pads dims to 4; strides are in elements.
// Also the byte-wise Cast / Equal of integer and bool tensors (src/kernels/anytype.ts).

/** out[i0, i1, i2, i3] (dense, dims d0..d3) = x[i0·s0 + i1·s1 + i2·s2 + i3·s3], 4-byte elements. */
export function x32_permute4(x: usize, d0: i32, d1: i32, d2: i32, d3: i32, s0: i32, s1: i32, s2: i32, s3: i32, out: usize): void {
  let o = out;
  for (let a = 0; a < d0; a++)
    for (let b = 0; b < d1; b++)
      for (let c = 0; c < d2; c++) {
        let src = x + ((<usize>(a * s0 + b * s1 + c * s2)) << 2);
        const step = (<usize>s3) << 2;
        if (s3 == 1) {
          memory.copy(o, src, (<usize>d3) << 2);
          o += (<usize>d3) << 2;
          continue;
        }
        for (let e = 0; e < d3; e++) {
          store<u32>(o, load<u32>(src));
          o += 4;
          src += step;
        }
      }
}

/**
 * DepthToSpace (ONNX DCR) of 4-byte elements on NCHW: out[q, c, y·b + i, x·b + j] = in[q, (i·b + j)·C + c, y, x]
 * (C = output channels). Each output row interleaves row y of the b input planes (i·b + j)·C + c, j = 0..b-1; for
 * b = 2 four columns of both planes at a time (two loads, two shuffles, two stores), else one element at a time.
 */
export function x32_depth_to_space(x: usize, n: i32, c: i32, h: i32, w: i32, b: i32, out: usize): void {
  const plane = (<usize>(h * w)) << 2;
  const next = (<usize>c) * plane; // plane (i·b + j)·C + c → (i·b + j + 1)·C + c
  const row = (<usize>w) << 2;
  let o = out;
  for (let q = 0; q < n; q++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let i = 0; i < b; i++) {
          const s0 = x + (<usize>((q * b + i) * b * c + ch)) * plane + (<usize>y) * row;
          let k = 0;
          if (b == 2) {
            const s1 = s0 + next;
            for (; k + 4 <= w; k += 4) {
              const u = v128.load(s0 + ((<usize>k) << 2));
              const v = v128.load(s1 + ((<usize>k) << 2));
              v128.store(o, v128.shuffle<i32>(u, v, 0, 4, 1, 5));
              v128.store(o, v128.shuffle<i32>(u, v, 2, 6, 3, 7), 16);
              o += 32;
            }
          }
          for (; k < w; k++)
            for (let j = 0; j < b; j++) {
              store<u32>(o, load<u32>(s0 + (<usize>j) * next + ((<usize>k) << 2)));
              o += 4;
            }
        }
}

/** The same for 1-byte elements. */
export function x8_permute4(x: usize, d0: i32, d1: i32, d2: i32, d3: i32, s0: i32, s1: i32, s2: i32, s3: i32, out: usize): void {
  let o = out;
  for (let a = 0; a < d0; a++)
    for (let b = 0; b < d1; b++)
      for (let c = 0; c < d2; c++) {
        let src = x + <usize>(a * s0 + b * s1 + c * s2);
        if (s3 == 1) {
          memory.copy(o, src, <usize>d3);
          o += <usize>d3;
          continue;
        }
        for (let e = 0; e < d3; e++) {
          store<u8>(o, load<u8>(src));
          o += 1;
          src += <usize>s3;
        }
      }
}

/**
 * Cast to float32 of n elements: kind 0 int64 (f32.convert_i64_s: round to nearest), 1 bool / uint8, 2 int8,
 * 3 int32 — the mask arithmetic of attention graphs (attention_mask int64 → float), integer-kernel accumulators.
 */
export function x_cast_f32(kind: i32, x: usize, n: i32, out: usize): void {
  let i = 0;
  // int32, four at a time (f32x4.convert_i32x4_s rounds to nearest even as f32.convert_i32_s does): ConvInteger /
  // MatMulInteger accumulators of dynamically quantized models
  if (kind == 3) for (; i + 4 <= n; i += 4) v128.store(out + ((<usize>i) << 2), f32x4.convert_i32x4_s(v128.load(x + ((<usize>i) << 2))));
  for (; i < n; i++) {
    const o = out + ((<usize>i) << 2);
    if (kind == 0) f32.store(o, <f32>load<i64>(x + ((<usize>i) << 3)));
    else if (kind == 1) f32.store(o, <f32>load<u8>(x + <usize>i));
    else if (kind == 2) f32.store(o, <f32>load<i8>(x + <usize>i));
    else f32.store(o, <f32>load<i32>(x + ((<usize>i) << 2)));
  }
}

/**
 * Equal → bool (one byte per element) of n elements of width `bytes` (8: int64, 4: int32 / float32 with `float`
 * set so NaN ≠ NaN and +0 = −0, 1: bool / int8 / uint8); sa / sb are 0 for a one-element operand, 1 otherwise.
 */
export function x_equal(bytes: i32, float: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const ia = <usize>(i * sa);
    const ib = <usize>(i * sb);
    let e: bool;
    if (bytes == 8) e = load<i64>(a + (ia << 3)) == load<i64>(b + (ib << 3));
    else if (bytes == 4) e = float ? f32.load(a + (ia << 2)) == f32.load(b + (ib << 2)) : load<i32>(a + (ia << 2)) == load<i32>(b + (ib << 2));
    else e = load<u8>(a + ia) == load<u8>(b + ib);
    store<u8>(out + <usize>i, e ? 1 : 0);
  }
}

/**
 * out[i] = a[i·sa] OP b[i·sb] for float32 operands (sa / sb 0: a broadcast scalar), as bytes 0/1: op 0 Greater,
 * 1 GreaterOrEqual, 2 Less, 3 LessOrEqual (IEEE: any comparison with NaN is false).
 */
export function f32_compare(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const x = f32.load(a + (<usize>(i * sa) << 2));
    const y = f32.load(b + (<usize>(i * sb) << 2));
    const e: bool = op == 0 ? x > y : op == 1 ? x >= y : op == 2 ? x < y : x <= y;
    store<u8>(out + <usize>i, e ? 1 : 0);
  }
}
