import { Tensor } from '../tensor/tensor.js';
import { PackedGemmF32 } from './gemm.js';
import { type KernelDef, registerKernel } from './registry.js';
import { arena } from './wasm.js';

/**
 * Conv2D (NCHW, float32, group = 1, constant weights) as packed GEMM:
 *   out^T[pixel, m] = patches[pixel, c·kh·kw] · W^T[c·kh·kw, m] + bias[m]
 * Weights are transposed and packed once per session; per run the input is unrolled into patch rows
 * (1×1 stride-1 unpadded convs skip that: their patches are the input transposed).
 */
const convWasm: KernelDef = {
  op: 'Conv',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const w = constant(1);
    const b = node.inputs[2] ? constant(2) : undefined;
    const mem = arena();
    const x = types[0];
    if (!mem || !w || w.type !== 'float32' || w.dims.length !== 4 || x?.dtype !== 'float32' || (attrs.group ?? 1) !== 1) return undefined;
    if (node.inputs[2] && (!b || b.type !== 'float32')) return undefined;
    const [m, c, kh, kw] = w.dims as [number, number, number, number];
    const k = c * kh * kw;
    const wd = w.data as Float32Array;
    const wt = new Float32Array(k * m);
    for (let o = 0; o < m; o++) for (let j = 0; j < k; j++) wt[j * m + o] = wd[o * k + j]!;
    const g = new PackedGemmF32(mem, k, m, wt, b ? (b.data as Float32Array) : undefined);
    const [sh, sw] = (attrs.strides as number[] | undefined) ?? [1, 1];
    const [dh, dw] = (attrs.dilations as number[] | undefined) ?? [1, 1];
    const autoPad: string = attrs.auto_pad ?? 'NOTSET';
    return {
      name: 'f32_conv2d_gemm_4x8',
      run([input], [outType]) {
        const xt = input!;
        const [n, , ih, iw] = xt.dims as [number, number, number, number];
        const [, , oh, ow] = outType!.shape as [number, number, number, number];
        let pt: number;
        let pl: number;
        if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
          // ONNX: total pad = max(0, (out-1)·stride + (k-1)·dilation + 1 - in); SAME_UPPER puts the odd one at the end
          const tot = (o: number, s: number, kk: number, d: number, i: number) => Math.max(0, (o - 1) * s + (kk - 1) * d + 1 - i);
          const th = tot(oh, sh!, kh, dh!, ih);
          const tw = tot(ow, sw!, kw, dw!, iw);
          pt = autoPad === 'SAME_UPPER' ? Math.floor(th / 2) : Math.ceil(th / 2);
          pl = autoPad === 'SAME_UPPER' ? Math.floor(tw / 2) : Math.ceil(tw / 2);
        } else if (autoPad === 'VALID') {
          pt = pl = 0;
        } else {
          const pads = (attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
          pt = pads[0]!;
          pl = pads[1]!;
        }
        const xd = xt.data as Float32Array;
        const p = oh * ow;
        const patches = new Float32Array(p * k);
        const out = new Float32Array(n * m * p);
        for (let b = 0; b < n; b++) {
          const xb = b * c * ih * iw;
          // unroll: row = output pixel, columns in (c, ky, kx) order to match W's layout
          let r = 0;
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++) {
              let q = r * k;
              for (let ch = 0; ch < c; ch++) {
                const xc = xb + ch * ih * iw;
                for (let ky = 0; ky < kh; ky++) {
                  const iy = oy * sh! - pt + ky * dh!;
                  const inRow = iy >= 0 && iy < ih;
                  for (let kx = 0; kx < kw; kx++) {
                    const ix = ox * sw! - pl + kx * dw!;
                    patches[q++] = inRow && ix >= 0 && ix < iw ? xd[xc + iy * iw + ix]! : 0;
                  }
                }
              }
              r++;
            }
          const ct = g.run(patches, p); // [p × m]
          const ob = b * m * p;
          for (let i = 0; i < p; i++) for (let o = 0; o < m; o++) out[ob + o * p + i] = ct[i * m + o]!;
        }
        return [new Tensor('float32', out, outType!.shape as number[])];
      },
    };
  },
};

registerKernel(convWasm);
