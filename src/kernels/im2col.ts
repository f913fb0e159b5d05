import type { Arena, KernelExports } from './wasm.js';

/**
 * im2col of one conv group (cg channels of ih×iw at `xg`) into f32_gemm's packed panels at `cp`. When any tap falls
 * outside the image (pads, or a stride that runs past the end), the planes are first copied zero-padded into scratch
 * so the packing loop (asm/f32_conv.ts f32_im2col_pack_8) needs no bounds checks.
 */
export function im2colPack(
  mem: Arena, ex: KernelExports, xg: number, cg: number, ih: number, iw: number, kh: number, kw: number,
  sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, cp: number,
): void {
  const ihp = Math.max(pt + ih, (oh - 1) * sh + (kh - 1) * dh + 1);
  const iwp = Math.max(pl + iw, (ow - 1) * sw + (kw - 1) * dw + 1);
  const padded = pt > 0 || pl > 0 || ihp > ih || iwp > iw;
  const tab = mem.alloc(ex.f32_im2col_scratch_size(cg, kh, kw), 'im2col offsets');
  let xp = xg;
  try {
    if (padded) {
      xp = mem.alloc(cg * ihp * iwp * 4, 'padded conv input');
      ex.f32_pad_planes(xg, cg, ih, iw, pt, pl, ihp, iwp, xp);
    }
    ex.f32_im2col_pack_8(xp, cg, padded ? ihp : ih, padded ? iwp : iw, kh, kw, sh, sw, dh, dw, oh, ow, cp, tab);
  } finally {
    if (xp !== xg) mem.release(xp);
    mem.release(tab);
  }
}
