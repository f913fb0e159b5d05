import { Tensor } from '../tensor/tensor.js';
import { conv2dAt } from '../ops/conv-geometry.js';
import { type KernelDef, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

/**
 * Conv2D, NCHW float32, constant weights, any group count.
 *  - depthwise (one input channel per group, one output per group): direct kernel f32_dwconv2d;
 *  - otherwise per group out[M×P] = W[M×K] · cols[K×P] + bias, with cols written by f32_im2col_pack_8 straight
 *    into the GEMM's packed panels (1×1 stride-1 unpadded convs pack the input as is), so the result lands in
 *    NCHW without a transpose. Weights live in kernel memory for the session; activations (Relu, Clip) fuse
 *    into the clamp of either kernel.
 */
const convWasm: KernelDef = {
  op: 'Conv',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    if ((attrs.data_layout ?? 'NCHW') !== 'NCHW' || (attrs.weight_layout ?? 'OIHW') !== 'OIHW') return undefined; // NHWC / OHWI: reference
    const w = constant(1);
    const b = node.inputs[2] ? constant(2) : undefined;
    const mem = arena();
    const ex = kernels();
    const x = types[0];
    if (!mem || !ex || !w || w.type !== 'float32' || w.dims.length !== 4 || x?.dtype !== 'float32') return undefined;
    if (x.shape && x.shape.length !== 4) return undefined;
    if (node.inputs[2] && (!b || b.type !== 'float32')) return undefined;
    const group: number = attrs.group ?? 1;
    const [m, cg, kh, kw] = w.dims as [number, number, number, number];
    if (m % group !== 0) return undefined;
    const mg = m / group;
    const kg = cg * kh * kw;
    const depthwise = cg === 1 && mg === 1;
    const wp = mem.alloc(w.size * 4, 'conv weights');
    mem.f32(wp, w.size).set(w.data as Float32Array);
    const bp = mem.alloc(m * 4, 'conv bias');
    mem.f32(bp, m).set(b ? (b.data as Float32Array) : new Float32Array(m));
    const [sh, sw] = (attrs.strides as number[] | undefined) ?? [1, 1];
    const [dh, dw] = (attrs.dilations as number[] | undefined) ?? [1, 1];
    const dw3x3 = depthwise && kh === 3 && kw === 3 && dh === 1 && dw === 1 && sh === sw && (sh === 1 || sh === 2);
    let lo = -Infinity;
    let hi = Infinity;
    return {
      name: dw3x3 ? 'f32_dwconv3x3' : depthwise ? 'f32_dwconv2d' : 'f32_conv2d_gemm_4x8',
      fuseClamp(l: number, h: number) {
        lo = Math.max(lo, l);
        hi = Math.min(hi, h);
        return true;
      },
      run([input], [outType]) {
        const xt = input!;
        const [n, c, ih, iw] = xt.dims as [number, number, number, number];
        const { oh, ow, pt, pl, p, pointwise } = conv2dAt(ih, iw, kh, kw, attrs);
        const inSize = c * ih * iw;
        // a resident input (another kernel's output) is used in place; the output stays resident too
        // (the arena pads every block, so the stride-2 depthwise path may read one float past a row)
        const xin = mem.input(xt.data as Float32Array, 'conv input');
        const xp = xin.ptr;
        const op = mem.alloc(n * m * p * 4, 'conv output');
        const colBytes = depthwise ? 0 : ((p + 7) >> 3) * (kg + 1) * 32;
        const cp = depthwise ? 0 : mem.alloc(colBytes, 'conv columns');
        let ok = false;
        try {
          for (let bi = 0; bi < n; bi++) {
            const xb = xp + bi * inSize * 4;
            const ob = op + bi * m * p * 4;
            if (depthwise) {
              const bias = mem.f32(bp, m);
              if (dw3x3)
                for (let ch = 0; ch < m; ch++)
                  ex.f32_dwconv3x3(xb + ch * ih * iw * 4, ih, iw, wp + ch * 36, sh!, pt, pl, oh, ow, bias[ch]!, ob + ch * p * 4, lo, hi);
              else
                for (let ch = 0; ch < m; ch++)
                  ex.f32_dwconv2d(xb + ch * ih * iw * 4, ih, iw, wp + ch * kh * kw * 4, kh, kw, sh!, sw!, dh!, dw!, pt, pl, oh, ow, bias[ch]!, ob + ch * p * 4, lo, hi);
              continue;
            }
            for (let gi = 0; gi < group; gi++) {
              const xg = xb + gi * cg * ih * iw * 4;
              if (pointwise) ex.f32_gemm_pack_8(p, cg, xg, p, 0, cp);
              else ex.f32_im2col_pack_8(xg, cg, ih, iw, kh, kw, sh!, sw!, dh!, dw!, pt, pl, oh, ow, cp);
              ex.f32_gemm(mg, p, kg, wp + gi * mg * kg * 4, kg, cp, ob + gi * mg * p * 4, p, lo, hi, bp + gi * mg * 4);
            }
          }
          ok = true;
          return [new Tensor('float32', mem.f32(op, n * m * p), outType!.shape as number[])];
        } finally {
          if (cp) mem.release(cp);
          if (!ok) mem.release(op);
          if (xin.copied) mem.release(xp);
        }
      },
      dispose() {
        mem.release(bp);
        mem.release(wp);
      },
    };
  },
};

registerKernel(convWasm);
