// Data movement for the layout pass (src/ir/passes/layout.ts): 4-D permuted copies of 4-byte and 1-byte elements.
// The TS kernel (src/kernels/layout.ts) merges and pads dims to 4; strides are in elements.

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
