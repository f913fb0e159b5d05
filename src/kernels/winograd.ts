import { conv2dAt } from '../ir/conv-geometry.js';
import { type ConvF32Shape, stripBytes } from './conv-run.js';
import { type KernelCall, chunksOf, forkCached, shares, threadScratch, threadsFor } from './threads.js';
import type { Arena, KernelExports } from './wasm.js';

/**
 * Winograd F(2×2, 3×3) for float32 3×3 convs with stride 1, dilation 1, group 1 (any pads): per 2×2 output tile
 * and (m, c) pair 16 multiplies instead of 36. Weights are transformed once (U = G g Gᵀ, here); per block of
 * tiles asm/f32_winograd.ts transforms the input (V = Bᵀ d B) into 16 packed GEMM operands, f32_wino_gemm forms the 16
 * products M_ξ = U_ξ · V_ξ, and the output transform (Aᵀ M A) adds bias and clamps. Not bit-identical to the
 * direct sum: the transforms reorder and rescale the arithmetic (error stays within 1e-5 of Σ|x·w|, see the test).
 */

/** asm/f32_winograd.ts exports (pointers are byte offsets into kernel memory). */
interface WinogradExports {
  f32_wino_pad(x: number, c: number, ih: number, iw: number, pt: number, pl: number, hp: number, wp: number, out: number, r0: number, r1: number): void;
  f32_wino_input(xp: number, c: number, hp: number, wp: number, tw: number, t0: number, nb: number, out: number, xiBytes: number): void;
  f32_wino_gemm(m: number, nb: number, c: number, u: number, v: number, vBytes: number, mo: number, mBytes: number, ldm: number): void;
  f32_wino_output(mb: number, m: number, ldm: number, xiBytes: number, bias: number, oh: number, ow: number, tw: number, t0: number, nb: number, out: number, lo: number, hi: number): void;
}

/** G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1] */
const G = [
  [1, 0, 0],
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0, 0, 1],
] as const;

/**
 * U_ξ = (G g Gᵀ)[i][j], ξ = 4i + j, for OIHW 3×3 weights w[m×c×3×3], as f32_wino_gemm reads them: 16 planes, each
 * U_ξ[m×c] in strips of 4 rows interleaved by input channel (f32_gemm_pack_a4's layout; rows past m repeat row m − 1).
 */
export function winogradWeights(w: Float32Array, m: number, c: number): Float32Array {
  return winogradStrips(winogradPlanes(w, m, c), m, c, [[0, m]]);
}

/** U as 16 row-major m×c planes. */
function winogradPlanes(w: Float32Array, m: number, c: number): Float32Array {
  const u = new Float32Array(16 * m * c);
  const t = new Float64Array(12); // G g: 4×3
  for (let mm = 0; mm < m; mm++) {
    for (let cc = 0; cc < c; cc++) {
      const g = (mm * c + cc) * 9;
      for (let i = 0; i < 4; i++) for (let k = 0; k < 3; k++) t[i * 3 + k] = G[i]![0]! * w[g + k]! + G[i]![1]! * w[g + 3 + k]! + G[i]![2]! * w[g + 6 + k]!;
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) u[((i * 4 + j) * m + mm) * c + cc] = t[i * 3]! * G[j]![0]! + t[i * 3 + 1]! * G[j]![1]! + t[i * 3 + 2]! * G[j]![2]!;
    }
  }
  return u;
}

/** Whether the conv has the Winograd kernel's geometry (3×3, stride 1, dilation 1, group 1). */
export function winogradShape(s: ConvF32Shape): boolean {
  return s.group === 1 && s.kh === 3 && s.kw === 3 && s.sh === 1 && s.sw === 1 && s.dh === 1 && s.dw === 1;
}

/**
 * Whether Winograd beats im2col + GEMM for c input channels, m outputs and an oh×ow output: a cost model fitted
 * (least squares, relative error) to 474 timings of both paths, oh = ow ∈
 * {3, 5…8, 10, 14, 28, 56}, c ∈ 1…64, m ∈ 1…128, one thread, in units of one 4×8 micro-kernel k-step. The GEMMs
 * pay for whole 8-column panels and 4-row blocks plus ~4 k-steps of fixed cost per micro-kernel call, so
 * Winograd loses where c is small and m large (short K = c) or the image is a few tiles (T = ⌈oh/2⌉·⌈ow/2⌉
 * columns in mostly empty panels). On those 474 points its pick is at most 1.2× slower than the better path
 * (mean 1.002×); `node bench/winograd-crossover.js` re-measures (576 shapes: worst 1.19×, mean 1.002×).
 * c = m = 1 stays on im2col (the GEMV row kernel, which the model does not describe).
 */
export function winogradWins(c: number, m: number, oh: number, ow: number): boolean {
  if (c * m === 1) return false;
  const p = oh * ow;
  const t = ((oh + 1) >> 1) * ((ow + 1) >> 1);
  const mb = Math.ceil(m / 4);
  const im2col = Math.ceil(p / 8) * mb * (9 * c + 4) + 0.46 * 9 * c * p + 400;
  const wino = 0.98 * 16 * Math.ceil(t / 8) * mb * (c + 4) + 0.18 * 16 * c * t + 0.03 * 16 * m * t + 430;
  return wino < im2col;
}

/** Tiles per block: V and M of one block (16·(c+1+m)·nb floats) stay within ~512 KB of L2; a multiple of 8. */
export function tileBlock(c: number, m: number, tiles: number): number {
  const nb = Math.max(8, Math.floor(131072 / (16 * (c + 1 + m)) / 8) * 8);
  return Math.min(nb, ((tiles + 7) >> 3) << 3);
}

/**
 * Run the conv over kernel memory: X (NCHW, `dims`) at `xp`, transformed weights (winogradWeights) at `up`, bias
 * (m floats) at `bp`, clamped to [lo, hi]. Returns the output block (n·m·oh·ow floats), which the caller owns, or writes it at `dst` when given.
 */
export function runConvWinograd(mem: Arena, ex: KernelExports, m: number, attrs: Record<string, any>, dims: readonly number[], xp: number, up: number, bp: number, lo: number, hi: number, block?: number, dst?: number, rowBlocks?: (parts: number) => RowBlocks, padSite?: object): number {
  const wx = ex as unknown as KernelExports & WinogradExports;
  const [n, c, ih, iw] = dims as [number, number, number, number];
  const { oh, ow, pt, pl } = conv2dAt(ih, iw, 3, 3, attrs);
  const th = (oh + 1) >> 1;
  const tw = (ow + 1) >> 1;
  const tiles = th * tw;
  const hp = 2 * th + 2;
  const wp = 2 * (((tw + 3) >> 2) << 2) + 2; // four-tile groups never read past a padded row
  // kernel threads claim chunks of 8-tile groups, run in blocks of up to nb tiles with their thread's V and M
  // (every tile's arithmetic is the same in any block: the block-size test in test/kernels/threads.test.ts)
  const nt = block === undefined ? threadsFor(16 * m * c * tiles) : 1;
  const nb = block ?? tileBlock(c, m, tiles);
  // the 16 planes of V and of M are read/written as 16 concurrent streams: a plane stride of an odd multiple of
  // 64 bytes puts them in 16 different L1 sets (a multiple of 4 KB would put all 16 in one 12-way set)
  const stride = (bytes: number) => (Math.ceil(bytes / 128) * 128) + 64;
  const vBytes = stride(((nb + 7) >> 3) * (c + 1) * 32); // one packed V_ξ
  const ldm = ((nb + 7) >> 3) << 3; // M rows hold whole 8-column panels
  const mBytes = stride(m * ldm * 4); // one M_ξ
  const op = dst ?? mem.alloc(n * m * oh * ow * 4, 'conv output');
  let pad = 0;
  let vBlock = 0;
  let ok = false;
  try {
    pad = mem.alloc(c * hp * wp * 4, 'winograd padded input');
    // V then M, per thread (the chunks' calls add thread × per to the V/M arguments)
    const per = 16 * (vBytes + mBytes);
    const vm = threadScratch(mem, per, nt, 'winograd V and M');
    vBlock = vm.block;
    const vp = vm.ptr;
    const mp = vp + 16 * vBytes;
    const vt = { mask: 1 << 7, stride: vm.stride };
    const vmt = { mask: (1 << 4) | (1 << 6), stride: vm.stride };
    const mt = { mask: 1, stride: vm.stride };
    for (let bi = 0; bi < n; bi++) {
      const xb = xp + bi * c * ih * iw * 4;
      // the padded copy in bands of rows over the threads: the conv before this one split its pixels, so each
      // thread copies (mostly) rows it wrote — on one thread the copy read half of them from the other core, 3–7×
      // its one-thread time (squeezenet1_1's eight expand3x3: 0.11 ms a run on one thread, 0.3–0.8 ms serial at 2)
      if (nt > 1) forkCached(ex, n === 1 ? padSite : undefined, [xb, c, ih, iw, pt, pl, hp, wp, pad], nt, () => {
        const rs = chunksOf(hp, 1, nt, c * wp);
        return { chunks: rs.ranges.map(([r0, r1]): KernelCall[] => [['f32_wino_pad', [xb, c, ih, iw, pt, pl, hp, wp, pad, r0, r1]]]), regions: rs.regions };
      });
      else wx.f32_wino_pad(xb, c, ih, iw, pt, pl, hp, wp, pad, 0, hp);
      const ob = op + bi * m * oh * ow * 4;
      // few 8-tile groups (13×13 output: 7) against many output channels: chunks of tiles × one block of output
      // channels per thread, so the last chunks, which decide the join, are a fraction of a group's work. Each block
      // runs f32_wino_gemm over its own copy of U's rows (rowBlocks: U_ξ's plane stride is the block's rows) and
      // transforms its chunk's input tiles again (16·c per tile against 16·m·c for the products). One block per
      // thread rather than two: fewer repeated input transforms (squeezenet's 13×13 expand3x3 2T 3.5–7 % faster)
      const parts = nt > 1 && rowBlocks && (tiles + 7) >> 3 < 4 * nt && m >= 32 * nt ? nt : 1;
      // a node's fork is the same run after run while these are (forkCached; its rowBlocks closure owns it)
      const owner = n === 1 ? rowBlocks : undefined;
      const key = owner ? [c, ih, iw, xp, up, bp, lo, hi, op, pad, vp, vm.stride, nb, parts] : [];
      if (parts > 1) forkCached(ex, owner, key, nt, () => {
        const rb = rowBlocks!(parts);
        const cs = chunksOf(tiles, 8, nt, (16 * m * c) / parts);
        const calls: KernelCall[][] = [];
        const chunk = (s0: number, s1: number, b: number): KernelCall[] => {
          const [r0, r1] = rb.rows[b]!;
          const out: KernelCall[] = [];
          for (let t0 = s0; t0 < s1; t0 += nb) {
            const cnt = Math.min(nb, s1 - t0);
            out.push(['f32_wino_input', [pad, c, hp, wp, tw, t0, cnt, vp, vBytes], vt]);
            out.push(['f32_wino_gemm', [r1 - r0, cnt, c, rb.ptrs[b]!, vp, vBytes, mp, mBytes, ldm], vmt]);
            out.push(['f32_wino_output', [mp, r1 - r0, ldm, mBytes, bp + r0 * 4, oh, ow, tw, t0, cnt, ob + r0 * oh * ow * 4, lo, hi], mt]);
          }
          return out;
        };
        // thread t's region: its share of the row blocks (output channels) over all tiles — each core reads
        // half of U (a 13×13 fire module's 256×64 expand: 590 KB of U) and writes whole planes of the output
        const regions: number[] = [];
        for (const [b0, b1] of shares(parts, 1, nt)) {
          regions.push(calls.length);
          for (let b = b0; b < b1; b++) for (const [s0, s1] of cs.ranges) calls.push(chunk(s0, s1, b));
        }
        return { chunks: calls, regions };
      });
      else if (nt > 1) forkCached(ex, owner, key, nt, () => {
        const cs = chunksOf(tiles, 8, nt, 16 * m * c);
        return { chunks: cs.ranges.map(([s0, s1]): KernelCall[] => {
          const calls: KernelCall[] = [];
          for (let t0 = s0; t0 < s1; t0 += nb) {
            const cnt = Math.min(nb, s1 - t0);
            calls.push(['f32_wino_input', [pad, c, hp, wp, tw, t0, cnt, vp, vBytes], vt]);
            calls.push(['f32_wino_gemm', [m, cnt, c, up, vp, vBytes, mp, mBytes, ldm], vmt]);
            calls.push(['f32_wino_output', [mp, m, ldm, mBytes, bp, oh, ow, tw, t0, cnt, ob, lo, hi], mt]);
          }
          return calls;
        }), regions: cs.regions };
      });
      else for (let t0 = 0; t0 < tiles; t0 += nb) {
        const cnt = Math.min(nb, tiles - t0);
        wx.f32_wino_input(pad, c, hp, wp, tw, t0, cnt, vp, vBytes);
        wx.f32_wino_gemm(m, cnt, c, up, vp, vBytes, mp, mBytes, ldm);
        wx.f32_wino_output(mp, m, ldm, mBytes, bp, oh, ow, tw, t0, cnt, ob, lo, hi);
      }
    }
    ok = true;
    return op;
  } finally {
    if (vBlock) mem.release(vBlock);
    if (pad) mem.release(pad);
    if (!ok && dst === undefined) mem.release(op);
  }
}

/** U split into blocks of output channels (rows [r0, r1), multiples of 4), each its own 16 planes, at ptrs[b]. */
export interface RowBlocks {
  rows: [number, number][];
  ptrs: number[];
}

/**
 * U (16 row-major m×c planes) as `rows.length` blocks, block b = 16 planes of its rows [r0, r1) in 4-row strips
 * (f32_wino_gemm's layout: strip s holds, for each input channel, rows 4s…4s+3, the last row repeated past r1).
 */
export function winogradStrips(u: Float32Array, m: number, c: number, rows: readonly [number, number][]): Float32Array {
  // 16 planes of stripBytes(rows, c) bytes per block
  const out = new Float32Array(rows.reduce((a, [r0, r1]) => a + 4 * stripBytes(r1 - r0, c), 0));
  let o = 0;
  for (const [r0, r1] of rows) for (let xi = 0; xi < 16; xi++) {
    for (let i = r0; i < r1; i += 4) {
      for (let cc = 0; cc < c; cc++) for (let r = 0; r < 4; r++) out[o + cc * 4 + r] = u[(xi * m + Math.min(i + r, r1 - 1)) * c + cc]!;
      o += 4 * c;
    }
  }
  return out;
}

/** A conv prepared for Winograd: transformed weights in kernel memory, and the per-run choice. */
export interface PreparedWinograd {
  /** whether this input (NCHW dims) runs Winograd (else the caller's im2col path) */
  wins(dims: readonly number[]): boolean;
  /** the output block (fresh, or `dst` when given: a block the caller sized) */
  run(mem: Arena, ex: KernelExports, attrs: Record<string, any>, dims: readonly number[], xp: number, bp: number, lo: number, hi: number, dst?: number): number;
  dispose(): void;
}

/**
 * Transform the weights when the conv has Winograd's geometry and the (static, if known) input size is one where
 * it wins (56×56 when the spatial dims are symbolic); undefined otherwise. The choice is made again per run.
 */
export function prepareWinograd(mem: Arena, w: Float32Array, s: ConvF32Shape, attrs: Record<string, any>, xShape: readonly (number | string)[] | undefined): PreparedWinograd | undefined {
  if (!winogradShape(s)) return undefined;
  const { m, cg: c } = s;
  const sizeWins = (ih: number, iw: number) => {
    const { oh, ow } = conv2dAt(ih, iw, 3, 3, attrs);
    return winogradWins(c, m, oh, ow);
  };
  const [ih, iw] = [xShape?.[2], xShape?.[3]];
  if (typeof ih === 'number' && typeof iw === 'number' ? !sizeWins(ih, iw) : !winogradWins(c, m, 56, 56)) return undefined;
  const u = winogradWeights(w, m, c);
  const up = mem.alloc(u.length * 4, 'winograd weights');
  mem.f32(up, u.length).set(u);
  // the row-block copy of U for threaded runs with few tiles: made on the first such run, kept for the session
  let blocks: (RowBlocks & { parts: number; ptr: number }) | undefined;
  const rowBlocks = (parts: number): RowBlocks => {
    if (blocks?.parts !== parts) {
      if (blocks) mem.release(blocks.ptr);
      blocks = undefined;
      const rows = shares(m, 4, parts);
      const ub = winogradStrips(winogradPlanes(w, m, c), m, c, rows);
      const ptr = mem.alloc(ub.length * 4, 'winograd weights (row blocks)');
      mem.f32(ptr, ub.length).set(ub);
      const ptrs: number[] = [];
      for (let b = 0, o = ptr; b < rows.length; o += 16 * stripBytes(rows[b]![1] - rows[b]![0], c), b++) ptrs.push(o);
      blocks = { parts, ptr, rows, ptrs };
    }
    return blocks;
  };
  // forkCached's owner of this node's padding fork (rowBlocks owns its conv fork)
  const padSite = {};
  return {
    wins: (dims) => sizeWins(dims[2]!, dims[3]!),
    run: (mem, ex, attrs, dims, xp, bp, lo, hi, dst) => runConvWinograd(mem, ex, m, attrs, dims, xp, up, bp, lo, hi, undefined, dst, rowBlocks, padSite),
    dispose: () => {
      mem.release(up);
      if (blocks) mem.release(blocks.ptr);
    },
  };
}
