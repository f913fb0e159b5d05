import { Tensor } from '../tensor/tensor.js';
import { convTransposeGeometry } from '../ir/conv-geometry.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { attrs2d, dims2d } from './conv-run.js';
import { type KernelCall, chunksOf, f32GemmThreaded, forkRanges, threadsFor } from './threads.js';
import { arena, kernels } from './wasm.js';
import { Epilogue, UNARY } from './epilogue.js';

/**
 * ConvTranspose, NCHW float32, 1-D or 2-D, constant weights, any group count, pads, output_padding, output_shape,
 * auto_pad, dilations (ONNX operator doc; geometry from ir/conv-geometry.ts convTransposeGeometry, the reference's).
 * Per image and group: cols[(M/g·kh·kw) × (ih·iw)] = Wgᵀ · Xg with f32_gemm (Wgᵀ transposed once at plan time,
 * Xg packed as the GEMM's panels as a pointwise conv does), then f32_col2im scatter-adds the columns into the
 * output planes initialised with the bias (when stride = kernel without pads the windows do not overlap and
 * f32_col2im_tiled writes each output pixel once, bias included). A following Relu/Clip or activation folds in (applied over the output).
 */
const convTransposeWasm: KernelDef = {
  op: 'ConvTranspose',
  backend: 'wasm',
  prepare(node, attrs0, types, constant) {
    if ((attrs0.data_layout ?? 'NCHW') !== 'NCHW' || (attrs0.weight_layout ?? 'OIHW') !== 'OIHW') return decline(`layout ${attrs0.data_layout ?? 'NCHW'}/${attrs0.weight_layout ?? 'OIHW'}`);
    const mem = arena();
    const ex = kernels();
    const x = types[0];
    const w = constant(1);
    const b = node.inputs[2] ? constant(2) : undefined;
    if (!mem || !ex) return decline('no WASM memory');
    if (!w) return decline('W is not a constant');
    if (w.type !== 'float32' || x?.dtype !== 'float32') return decline(`X ${x?.dtype ?? 'unknown'} / W ${w.type}: the kernel is float32`);
    if (w.dims.length !== 4 && w.dims.length !== 3) return decline(`only 1-D and 2-D transposed convs (W rank ${w.dims.length})`);
    if (x.shape && x.shape.length !== w.dims.length) return decline(`X rank ${x.shape.length} does not match W rank ${w.dims.length}`);
    if (node.inputs[2] && (!b || b.type !== 'float32')) return decline('B is not a float32 constant');
    const attrs = attrs2d(attrs0, w.dims.length - 2);
    const group: number = attrs.group ?? 1;
    const [c, mg, kh, kw] = dims2d(w.dims) as [number, number, number, number];
    if (c % group !== 0) return decline(`group ${group} does not divide ${c} input channels`);
    const cg = c / group;
    const m = mg * group;
    const [sh, sw] = (attrs.strides as number[] | undefined) ?? [1, 1];
    const [dh, dw] = (attrs.dilations as number[] | undefined) ?? [1, 1];
    const kk = mg * kh * kw;
    // Wgᵀ: for group g, row r = (oc·kh + ky)·kw + kx, column ci (of cg) = W[g·cg + ci, oc, ky, kx]
    const wd = w.data as Float32Array;
    const wt = new Float32Array(group * kk * cg);
    for (let g = 0; g < group; g++) for (let ci = 0; ci < cg; ci++) for (let r = 0; r < kk; r++) wt[(g * kk + r) * cg + ci] = wd[(g * cg + ci) * kk + r]!;
    const wp = mem.alloc(wt.length * 4, 'conv-transpose weights');
    mem.f32(wp, wt.length).set(wt);
    const bp = mem.alloc(m * 4, 'conv-transpose bias');
    mem.f32(bp, m).set(b ? (b.data as Float32Array) : new Float32Array(m));
    const epi = new Epilogue();
    /** For X of `dims`: its pixel count p, the output size, the column bytes, and the calls X at xp → Y at op (clamped) */
    const at = ([n, , ih, iw]: [number, number, number, number]) => {
      const geo = convTransposeGeometry([ih, iw], [kh, kw], attrs, (msg) => {
        throw new Error(`unreachable: ${msg}`); // inferShape validated the same attributes for these dims
      })!;
      const [oh, ow] = geo.out as [number, number];
      const [pt, pl] = geo.padBegin as [number, number];
      const p = ih * iw;
      // stride = kernel, no pads, no dilation: windows tile the output without overlap — one write per pixel
      const tiled = sh === kh && sw === kw && (kh === 1 || dh === 1) && (kw === 1 || dw === 1) && pt === 0 && pl === 0 && ow === iw * kw && oh >= ih * kh;
      const size = n * m * oh * ow;
      const run = (xp: number, op: number, cp: number, colp: number): void => {
        for (let bi = 0; bi < n; bi++) {
          for (let g = 0; g < group; g++) {
            const xg = xp + ((bi * c + g * cg) * p) * 4;
            ex.f32_gemm_pack_8(p, cg, xg, p, 0, cp);
            // kernel threads: the GEMM split as any (f32GemmThreaded), the scatter by output channels (each channel's
            // adds in the same order on whichever thread): bit-identical to one thread
            f32GemmThreaded(ex, kk, p, cg, wp + g * kk * cg * 4, cg, cp, colp, p, -Infinity, Infinity, 0);
            const [bg, og] = [bp + g * mg * 4, op + ((bi * m + g * mg) * oh * ow) * 4];
            const scatter = (o0: number, o1: number): KernelCall => {
              const [col, b, out] = [colp + o0 * kh * kw * p * 4, bg + o0 * 4, og + o0 * oh * ow * 4];
              return tiled ? ['f32_col2im_tiled', [col, o1 - o0, kh, kw, ih, iw, oh, b, out]] : ['f32_col2im', [col, o1 - o0, kh, kw, ih, iw, sh!, sw!, dh!, dw!, pt, pl, oh, ow, b, out]];
            };
            const nt = threadsFor(mg * kh * kw * p);
            if (nt > 1) {
              const chans = chunksOf(mg, 1, nt, kh * kw * p);
              forkRanges(ex, chans, nt, (o0, o1): KernelCall[] => [scatter(o0, o1)]);
            } else if (tiled) ex.f32_col2im_tiled(colp, mg, kh, kw, ih, iw, oh, bg, og);
            else ex.f32_col2im(colp, mg, kh, kw, ih, iw, sh!, sw!, dh!, dw!, pt, pl, oh, ow, bg, og);
          }
        }
        if (size && (epi.lo > -Infinity || epi.hi < Infinity)) ex.f32_unary(UNARY.clamp, op, op, size, epi.lo, epi.hi);
      };
      return { p, size, colBytes: kk * p * 4, run };
    };
    return {
      name: 'f32_conv_transpose_gemm',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      run([input], [outType]) {
        const xt = input!;
        const dims = dims2d(xt.dims) as [number, number, number, number];
        const g = at(dims);
        const { p, size, colBytes } = g;
        const xin = mem.input(xt.data as Float32Array, 'conv-transpose input');
        const cp = mem.alloc(((p + 7) >> 3) * (cg + 1) * 32, 'conv-transpose panels');
        let colp = 0;
        try {
          colp = mem.alloc(colBytes, 'conv-transpose columns');
          const op = mem.alloc(size * 4, 'conv-transpose output');
          g.run(xin.ptr, op, cp, colp);
          const y = mem.f32(op, size);
          epi.apply(y);
          return [new Tensor('float32', y, outType!.shape as number[])];
        } finally {
          if (colp) mem.release(colp);
          mem.release(cp);
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      // static plan: the same calls on fixed places, the panels and columns held
      bind({ ins: [xp], inTypes: [xt], outs: [yp], scratch }) {
        if (xp! < 0 || yp! < 0) return undefined;
        const g = at(dims2d(xt!.shape as number[]) as [number, number, number, number]);
        const cp = scratch(((g.p + 7) >> 3) * (cg + 1) * 32, 'conv-transpose panels');
        const colp = scratch(g.colBytes, 'conv-transpose columns');
        return () => {
          g.run(xp!, yp!, cp, colp);
          epi.applyAt(yp!, g.size);
        };
      },
      dispose() {
        mem.release(wp);
        mem.release(bp);
      },
    };
  },
};

registerKernel(convTransposeWasm);
