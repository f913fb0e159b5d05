import { type KernelCall, forkJoin, threadScratch } from './threads.js';
import type { Arena, KernelExports } from './wasm.js';

/**
 * im2col of one conv group (cg channels of ih×iw at `xg`) into f32_gemm's packed panels at `cp`. When any tap falls
 * outside the image (pads, or a stride that runs past the end), the planes are first copied zero-padded into scratch
 * so the packing loop (asm/f32_conv.ts f32_im2col_pack_8) needs no bounds checks.
 */
export function im2colPack(
  mem: Arena, ex: KernelExports, xg: number, cg: number, ih: number, iw: number, kh: number, kw: number,
  sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, cp: number,
  /**
   * kernel threads: chunks of panels [q0, q1) on `threads` threads, each packed and multiplied `block` panels at a
   * time in its thread's own cache block (as one thread does): gemm(q0, q1, b, stride) multiplies panels [q0, q1)
   * packed at b (+ t·stride on thread t: the call's perThread)
   */
  split?: { panels: [number, number][]; regions: number[]; threads: number; block: number; gemm(q0: number, q1: number, b: number, stride: number): KernelCall },
  /** one thread, blocked: `panels` panels are packed at `cp` and `gemm(q0, q1)` multiplies them, block after block */
  block?: { panels: number; gemm(q0: number, q1: number): void },
): void {
  const ihp = Math.max(pt + ih, (oh - 1) * sh + (kh - 1) * dh + 1);
  const iwp = Math.max(pl + iw, (ow - 1) * sw + (kw - 1) * dw + 1);
  const padded = pt > 0 || pl > 0 || ihp > ih || iwp > iw;
  const tabBytes = ex.f32_im2col_scratch_size(cg, kh, kw);
  const panelBytes = (cg * kh * kw + 1) * 32;
  // threads: each one's offset table and panel block in one per-thread block (one stride for both)
  const tabRound = Math.ceil(tabBytes / 128) * 128;
  const tabs = threadScratch(mem, split ? tabRound + split.block * panelBytes : tabBytes, split?.threads ?? 1, 'im2col offsets');
  const tab = tabs.ptr;
  let xp = xg;
  try {
    if (padded) {
      xp = mem.alloc(cg * ihp * iwp * 4, 'padded conv input');
      ex.f32_pad_planes(xg, cg, ih, iw, pt, pl, ihp, iwp, xp);
    }
    const [h, w] = padded ? [ihp, iwp] : [ih, iw];
    if (split) {
      // each chunk packs its own panels, a cache block at a time, into its thread's block (offset table argument 15,
      // panels argument 14), and multiplies them while L2-resident, as one thread does: no barrier in between, and
      // no chunk-sized round trip through memory (a thread's first chunk of squeezenet's first conv, packed whole,
      // was 385 panels, 345 KB; now ≤ 73 panels, 65 KB). The base is shifted back by b0 panels as below.
      const cb = tab + tabRound;
      forkJoin(ex, split.panels.map(([q0, q1]): KernelCall[] => {
        const calls: KernelCall[] = [];
        for (let b0 = q0; b0 < q1; b0 += split.block) {
          const b1 = Math.min(q1, b0 + split.block);
          calls.push(['f32_im2col_pack_8_range', [xp, cg, h, w, kh, kw, sh, sw, dh, dw, oh, ow, b0, b1, (cb - b0 * panelBytes) | 0, tab], { mask: (1 << 14) | (1 << 15), stride: tabs.stride }]);
          calls.push(split.gemm(b0, b1, cb, tabs.stride));
        }
        return calls;
      }), split.threads, split.regions);
    } else if (block) {
      // one cache block of panels at a time, multiplied while L2-resident: no K·P-float round trip through memory.
      // f32_im2col_pack_8_range writes panel q at base + q·panelBytes, so the base is shifted back by q0 panels
      // (i32 arithmetic wraps; every address written lies in the block)
      const np = (oh * ow + 7) >> 3;
      for (let q0 = 0; q0 < np; q0 += block.panels) {
        const q1 = Math.min(np, q0 + block.panels);
        ex.f32_im2col_pack_8_range(xp, cg, h, w, kh, kw, sh, sw, dh, dw, oh, ow, q0, q1, (cp - q0 * panelBytes) | 0, tab);
        block.gemm(q0, q1);
      }
    } else ex.f32_im2col_pack_8(xp, cg, h, w, kh, kw, sh, sw, dh, dw, oh, ow, cp, tab);
  } finally {
    if (xp !== xg) mem.release(xp);
    mem.release(tabs.block);
  }
}
