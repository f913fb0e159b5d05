import { ShapeError } from '../errors.js';
import { im2colPack } from './im2col.js';
import { conv2dAt } from '../ir/conv-geometry.js';
import { type KernelCall, chunksOf, forkCached, gemmRowPlan, gemmSplit, shares, threadScratch, threadsFor } from './threads.js';
import type { Arena, KernelExports } from './wasm.js';

/**
 * The f32 conv driver shared by the float32-weight kernel (conv.ts) and the fp16-weight kernel (fp16.ts, which
 * widens its halves first): depthwise convs run the direct kernels, the rest per group as packed GEMM over columns
 * written straight into the panel layout. No registration here, so importing it does not change kernel order.
 */

/** The static shape of a 2-D NCHW conv with OIHW weights, as both the f32 and the fp16-weight kernels run it. */
export interface ConvF32Shape {
  m: number;
  cg: number;
  kh: number;
  kw: number;
  group: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /** one input channel and one output per group */
  depthwise: boolean;
  /** depthwise 3×3, dilation 1, row stride any, column stride 1 or 2: the register-blocked kernel */
  dw3x3: boolean;
  /** depthwise 5×5, dilation 1, row stride any, column stride 1 or 2: the padded-plane kernel f32_dwconv5x5 */
  dw5x5: boolean;
  /** depthwise 1×1 stride 1 (a per-channel scale and bias): f32_dwconv1x1 when unpadded */
  dw1x1: boolean;
  /** any other depthwise kernel size (1×k, k×1, 7×7 …), dilation 1, column stride 1 or 2: f32_dwconv_plane */
  dwPlane: boolean;
  /**
   * group 1, dilation 1, at most DIRECT_MAX_CIN input channels, not 1×1 (a network's first conv over RGB): the
   * direct kernel f32_conv2d_direct_4x8, no column matrix (K = cin·kh·kw is too short to pay for im2col)
   */
  direct: boolean;
}

/** Input channels up to which a group-1 conv runs on f32_conv2d_direct_4x8 (and at most DIRECT_MAX_K taps). */
const DIRECT_MAX_CIN = 4;
const DIRECT_MAX_K = 64;

/** Shape of a 2-D conv with weight dims [m, cg, kh, kw], or undefined when group does not divide m. */
export function convF32Shape(wDims: readonly number[], attrs: Record<string, any>): ConvF32Shape | undefined {
  const group: number = attrs.group ?? 1;
  const [m, cg, kh, kw] = wDims as [number, number, number, number];
  if (m % group !== 0) return undefined;
  const [sh, sw] = (attrs.strides as number[] | undefined) ?? [1, 1];
  const [dh, dw] = (attrs.dilations as number[] | undefined) ?? [1, 1];
  const depthwise = cg === 1 && m / group === 1;
  // any stride pair with column stride 1 or 2 (PP-OCR rec's (2,1) and (1,2)): the row stride only picks plane rows
  const planeStrides = sh! >= 1 && (sw === 1 || sw === 2);
  const dw3x3 = depthwise && kh === 3 && kw === 3 && dh === 1 && dw === 1 && planeStrides;
  const dw5x5 = depthwise && kh === 5 && kw === 5 && dh === 1 && dw === 1 && planeStrides;
  const dw1x1 = depthwise && kh === 1 && kw === 1 && sh === 1 && sw === 1;
  // 1×1 stride 1 stays with f32_dwconv1x1 (unpadded) or f32_dwconv2d (padded: mostly border)
  const dwPlane = depthwise && !dw3x3 && !dw5x5 && !dw1x1 && dh === 1 && dw === 1 && planeStrides;
  const direct = group === 1 && m >= 2 && cg <= DIRECT_MAX_CIN && cg * kh * kw <= DIRECT_MAX_K && kh * kw > 1 && dh === 1 && dw === 1;
  return { m, cg, kh, kw, group, sh: sh!, sw: sw!, dh: dh!, dw: dw!, depthwise, dw3x3, dw5x5, dw1x1, dwPlane, direct };
}

/**
 * Bytes of an m×k matrix in 4-row strips (f32_gemm_pack_a4's layout, = ex.f32_gemm_pa_scratch(m, k)): ⌈m/4⌉ strips of
 * 4·k floats, the last strip's rows past m repeating row m − 1.
 */
export function stripBytes(m: number, k: number): number {
  return ((m + 3) >> 2) * k * 16;
}

/**
 * Bytes of a GEMM conv's weights packed per group into 4-row strips (packConvStrips), or 0 when the conv keeps plain
 * OIHW weights: depthwise convs (their own kernels) and one output channel per group (the GEMV path).
 */
export function convStripBytes(s: ConvF32Shape): number {
  const mg = s.m / s.group;
  // f32_conv2d_direct_size: per 4 output channels their biases and 4-channel weight vectors per tap
  if (s.direct) return ((s.m + 3) >> 2) * (s.cg * s.kh * s.kw + 1) * 16;
  return s.depthwise || mg < 2 ? 0 : s.group * stripBytes(mg, s.cg * s.kh * s.kw);
}

/**
 * Pack OIHW weights at `wp` into per-group 4-row strips at `out` (convStripBytes): once per session, so every run's
 * GEMM tiles read the weights from one pointer (f32_gemm_4x8_pa, ~1.4× f32_gemm_4x8; the same bits). A direct conv
 * (s.direct) packs f32_conv2d_direct_pack's blocks instead, the biases at `bp` (m floats) with them.
 */
export function packConvStrips(ex: KernelExports, s: ConvF32Shape, wp: number, out: number, bp: number): void {
  if (s.direct) return ex.f32_conv2d_direct_pack(wp, bp, s.m, s.cg, s.kh, s.kw, out);
  const mg = s.m / s.group;
  const kg = s.cg * s.kh * s.kw;
  for (let gi = 0; gi < s.group; gi++) ex.f32_gemm_pack_a4(mg, kg, wp + gi * mg * kg * 4, kg, out + gi * stripBytes(mg, kg));
}

/**
 * A residual Add folded into a conv (y = clamp(conv + r, lo, hi), the conv itself unclamped): r's block at `ptr`, the
 * size of the whole output. runConvF32 adds it inside the threads' chunks where it can — each chunk adds r over
 * the part of the output it wrote, while that part is in its core's cache — and sets `done`; otherwise the caller
 * adds it over the whole block (f32_binary) afterwards. In chunks, every row segment f32_binary_rows adds starts on a
 * multiple of 4 floats of the block and ends on one or at the block's end, so each element goes through the same
 * SIMD lane or tail as in the one whole-block call: bit-identical.
 */
export interface ConvResidual {
  ptr: number;
  lo: number;
  hi: number;
  done?: boolean;
}

/**
 * A residual and per-channel steps the GEMM tiles (f32_gemm_pa_epi, f32_gemm_blockpack_pa_epi) and the direct conv
 * (no residual) can apply while storing: y = affine(prelu(clamp(conv + r, lo, hi))). runConvF32 sets `done` when it
 * did (one thread, packed weights); otherwise it clamped to its own lo / hi and the caller runs the separate passes.
 */
export interface ConvFusedEpilogue {
  /** the residual's place in kernel memory (same layout as the output), or undefined */
  res?: number;
  /** per-output-channel steps: 16 bytes per channel [slope, scale, bias, −] in kernel memory (⌈m/4⌉·4 entries) */
  ep: number;
  /** which steps: 1 PRelu, 2 affine (both: PRelu first), 0 none */
  em: number;
  lo: number;
  hi: number;
  done?: boolean;
}

/**
 * Run one conv over kernel memory: input X (NCHW, `dims`) at `xp`, f32 OIHW weights at `wp`, bias (m floats) at
 * `bp`, clamped to [lo, hi]. Returns the output block (n·m·oh·ow floats), which the caller owns — or writes it at
 * `dst` when given (a block the caller sized) and returns `dst`. With `wa` (the weights packed by packConvStrips;
 * `wp` is then unused by the GEMM paths) the GEMMs run over the packed strips. `res`: a residual to add in the
 * threads' chunks (ConvResidual; `res.done` tells the caller whether it was). `nhwc`: X at `xp` is laid out NHWC (its
 * NCHW `dims` as ever) — the direct conv only (s.direct with `wa`), which reads through element strides.
 */
export function runConvF32(mem: Arena, ex: KernelExports, s: ConvF32Shape, attrs: Record<string, any>, dims: readonly number[], xp: number, wp: number, bp: number, lo: number, hi: number, dst?: number, wa = 0, fe?: ConvFusedEpilogue, res?: ConvResidual, nhwc = false): number {
  const [n, c, ih, iw] = dims as [number, number, number, number];
  const { m, cg, kh, kw, group, sh, sw, dh, dw } = s;
  const mg = m / group;
  const kg = cg * kh * kw;
  const { oh, ow, pt, pl, p, pointwise } = conv2dAt(ih, iw, kh, kw, attrs);
  const inSize = c * ih * iw;
  if (nhwc && !(s.direct && wa)) throw new ShapeError('conv: an NHWC input needs the direct kernel');
  const op = dst ?? mem.alloc(n * m * p * 4, 'conv output');
  if (s.direct && wa) {
    // the channel steps fused when there is no residual (the direct kernel adds none); row chunks on threads apply them alike
    const f = fe && fe.res === undefined && fe.em !== 0 ? fe : undefined;
    runDirect(mem, ex, s, dims, xp, wa, pt, pl, oh, ow, f ? f.lo : lo, f ? f.hi : hi, op, f?.ep ?? 0, f?.em ?? 0, nhwc);
    if (f) f.done = true;
    return op;
  }
  // kernel threads: depthwise 3×3 by channels (a plane of scratch each), GEMM by 8-column panels of output pixels.
  // A depthwise channel's work is its p·taps multiply-adds plus the copy of its input plane into the zero-padded
  // scratch plane (counted as 2 per input element): on few output pixels the copy is most of it — mobilenet_v2's
  // stride-2 14×14 → 7×7 depthwise (576 channels, 254 k multiply-adds, 0.2–0.3 ms) stayed on one thread
  const dwUnit = p * kh * kw + 2 * ih * iw;
  const nt = threadsFor(s.depthwise ? m * dwUnit : mg * p * kg);
  const dwPlane = s.dw3x3
    ? ex.f32_dwconv3x3_scratch_size(ih, iw, sh, sw, pt, pl, oh, ow)
    : s.dw5x5
      ? ex.f32_dwconv5x5_scratch_size(ih, iw, sh, sw, pt, pl, oh, ow)
      : s.dwPlane
        ? ex.f32_dwconv_plane_scratch_size(ih, iw, kh, kw, sh, sw, pt, pl, oh, ow)
        : 0;
  // scratch: im2col panels, or the depthwise 3×3 (one per thread) / 5×5 kernel's zero-padded plane
  // a pointwise conv packs its input planes one cache block at a time (f32_gemm_blockpack): one block per thread
  // few pixel panels (7×7) on threads: every panel packed once, the threads take chunks of output channels
  const rowSplit = nt > 1 && mg > 1 && gemmSplit(mg, p, nt) === 'rows';
  const blockBytes = pointwise ? ex.f32_gemm_blockpack_scratch(kg) : 0;
  // im2col convs on one thread: column panels packed and multiplied one cache block (f32_gemm's) at a time
  const blockPanels = Math.min((p + 7) >> 3, ex.f32_gemm_blockpack_scratch(kg) / ((kg + 1) * 32));
  // per-thread blocks each on their own cache lines (threadScratch: no line written by two threads)
  const scr = s.dw3x3 || s.dw5x5 || s.dwPlane
    ? threadScratch(mem, dwPlane, nt, 'dwconv plane')
    : s.depthwise
        ? undefined
        : pointwise
          ? threadScratch(mem, Math.max(blockBytes, rowSplit ? Math.ceil((((p + 7) >> 3) * (kg + 1) * 32) / nt) : 0), nt, 'conv column block')
          : nt > 1 && !rowSplit
            ? undefined // im2colPack's per-thread blocks
            : threadScratch(mem, (rowSplit ? (p + 7) >> 3 : blockPanels) * (kg + 1) * 32, 1, 'conv columns');
  const cp = scr?.ptr ?? 0;
  // the residual in the chunks (ConvResidual): one image, one group, and pixel rows on multiples of 4 floats (or a
  // split by whole rows, rowSplit) so that every segment starts where the whole-block add has a SIMD group start
  const rAdd = res && nt > 1 && n === 1 && group === 1 && pointwise && !s.depthwise && (rowSplit || p % 4 === 0)
    ? (rows: number, len: number, at: number): KernelCall => ['f32_binary_rows', [0, rows, len, p, at, res.ptr + (at - op), at, res.lo, res.hi]]
    : undefined;
  if (rAdd) res!.done = true;
  // the node's fork is the same run after run while these are (forkCached): one image, and one group or a
  // depthwise conv (one fork over all its channels) — not a grouped GEMM's fork per group
  const owner = n === 1 && (group === 1 || s.depthwise) ? s : undefined;
  const key = owner ? [c, ih, iw, xp, wp, bp, lo, hi, op, wa, res?.ptr ?? 0, res?.lo ?? 0, res?.hi ?? 0, cp, scr?.stride ?? 0] : [];
  const fork = (build: () => { chunks: KernelCall[][]; regions: readonly number[] }) => forkCached(ex, owner, key, nt, build);
  // the fused epilogue: the single-thread GEMM paths over packed weights (every group and batch alike)
  const fuse = fe && !s.depthwise && !s.direct && nt === 1 && wa !== 0 && mg >= 2 && (fe.res !== undefined || fe.em !== 0);
  const radd = fuse && fe.res !== undefined ? 1 : 0;
  const roff = fuse && fe.res !== undefined ? fe.res - op : 0;
  if (fuse) [lo, hi] = [fe.lo, fe.hi];
  const em = fuse ? fe.em : 0;
  const ep = (gi: number) => (em ? fe!.ep + gi * mg * 16 : 0);
  let ok = false;
  try {
    const bias = mem.f32(bp, m);
    for (let bi = 0; bi < n; bi++) {
      const xb = xp + bi * inSize * 4;
      const ob = op + bi * m * p * 4;
      if (s.dw3x3 || s.dw5x5) {
        const fn = s.dw3x3 ? 'f32_dwconv3x3' : 'f32_dwconv5x5';
        const taps = kh * kw;
        if (nt > 1) {
          // chunks of channels, a scratch plane per thread (argument 15)
          const plane = ih * iw * 4;
          fork(() => {
            const chans = chunksOf(m, 1, nt, dwUnit);
            return { chunks: chans.ranges.map(([c0, c1]): KernelCall[] => [[fn, [xb + c0 * plane, c1 - c0, ih, iw, wp + c0 * taps * 4, sh, sw, pt, pl, oh, ow, bp + c0 * 4, ob + c0 * p * 4, lo, hi, cp], { mask: 1 << 15, stride: scr!.stride }]]), regions: chans.regions };
          });
        } else ex[fn](xb, m, ih, iw, wp, sh, sw, pt, pl, oh, ow, bp, ob, lo, hi, cp);
        continue;
      }
      if (s.dwPlane) {
        const taps = kh * kw;
        if (nt > 1) {
          // chunks of channels, a scratch plane per thread (argument 17)
          const plane = ih * iw * 4;
          fork(() => {
            const chans = chunksOf(m, 1, nt, dwUnit);
            return { chunks: chans.ranges.map(([c0, c1]): KernelCall[] => [['f32_dwconv_plane', [xb + c0 * plane, c1 - c0, ih, iw, wp + c0 * taps * 4, kh, kw, sh, sw, pt, pl, oh, ow, bp + c0 * 4, ob + c0 * p * 4, lo, hi, cp], { mask: 1 << 17, stride: scr!.stride }]]), regions: chans.regions };
          });
        } else ex.f32_dwconv_plane(xb, m, ih, iw, wp, kh, kw, sh, sw, pt, pl, oh, ow, bp, ob, lo, hi, cp);
        continue;
      }
      if (s.dw1x1 && pt === 0 && pl === 0 && oh === ih && ow === iw) {
        ex.f32_dwconv1x1(xb, m, p, wp, bp, ob, lo, hi);
        continue;
      }
      if (s.depthwise) {
        for (let ch = 0; ch < m; ch++) ex.f32_dwconv2d(xb + ch * ih * iw * 4, ih, iw, wp + ch * kh * kw * 4, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, bias[ch]!, ob + ch * p * 4, lo, hi);
        continue;
      }
      for (let gi = 0; gi < group; gi++) {
        const xg = xb + gi * cg * ih * iw * 4;
        const wg = wp + gi * mg * kg * 4;
        // the group's weights in 4-row strips (packConvStrips), when the caller packed them
        const wag = wa && mg >= 2 ? wa + gi * stripBytes(mg, kg) : 0;
        const og = ob + gi * mg * p * 4;
        if (rowSplit) {
          // few pixel panels (7×7): pack them all here, then the threads take chunks of output channels
          if (pointwise) ex.f32_gemm_pack_8(p, cg, xg, p, 0, cp);
          else im2colPack(mem, ex, xg, cg, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, cp);
          fork(() => gemmRowPlan(mg, p, kg, wg, kg, cp, og, p, lo, hi, bp + gi * mg * 4, nt, wag, rAdd && ((r0, r1) => [rAdd(r1 - r0, p, og + r0 * p * 4)])));
          continue;
        }
        if (nt > 1) {
          // each chunk packs and multiplies its own panels: no barrier between the two
          if (pointwise) fork(() => {
            const cols = chunksOf(p, 8, nt, mg * kg);
            // few pixel panels (13×13, 14×14: 22–25) and many output channels: each chunk of panels also split into
            // mParts = nt blocks of rows (multiples of 4: f32_gemm's 4-row tiles, so the same micro-kernel calls), so the
            // last chunks, which decide the join, are a fraction of a panel's work — a panel of squeezenet's
            // classifier conv (1000 × 512) is 4 M multiply-adds. Each block packs its own copy of the B block (K·8
            // floats per panel against M·K·8 multiply-adds: at most 1/16 more work).
            const mParts = (p + 7) >> 3 < 16 * nt && mg >= 64 * nt ? nt : 1;
            const cols1 = mParts > 1 ? chunksOf(p, 8, nt, (mg * kg) / mParts) : cols;
            const rows = shares(mg, 4, mParts);
            const calls: KernelCall[][] = [];
            const call = ([c0, c1]: [number, number], [r0, r1]: [number, number]): KernelCall[] => {
              const g: KernelCall = wag
                ? ['f32_gemm_blockpack_pa', [r1 - r0, c1 - c0, kg, wag + r0 * kg * 4, xg + c0 * 4, p, og + (r0 * p + c0) * 4, p, lo, hi, bp + (gi * mg + r0) * 4, cp], { mask: 1 << 11, stride: scr!.stride }]
                : ['f32_gemm_blockpack', [r1 - r0, c1 - c0, kg, wg + r0 * kg * 4, kg, xg + c0 * 4, p, og + (r0 * p + c0) * 4, p, lo, hi, bp + (gi * mg + r0) * 4, cp], { mask: 1 << 12, stride: scr!.stride }];
              // the residual over the same rows × pixels, right after the chunk wrote them (p % 4 = 0: rAdd)
              return rAdd ? [g, rAdd(r1 - r0, c1 - c0, og + (r0 * p + c0) * 4)] : [g];
            };
            // thread t's region: its share of the row blocks (output channels) over all panels — each core reads
            // half of the weights and writes whole output planes (a split by pixels shares a cache line of every
            // plane at the boundary between the threads' pixels). One row block (many panels: 55×55, 27×27): its
            // share of the pixels (cols' regions), as every other pixel-split kernel — the pixels whose inputs the
            // same core wrote in the kernel before. (A single region here let the worker take the smallest chunks
            // from the far end of all the pixels, and the caller the largest from the front: half of each core's
            // inputs came from the other core's cache, and each thread's share of the output moved from kernel to
            // kernel.)
            if (mParts === 1) return { chunks: cols.ranges.map((cr) => call(cr, rows[0]!)), regions: cols.regions };
            const regions: number[] = [];
            for (const [b0, b1] of shares(rows.length, 1, nt)) {
              regions.push(calls.length);
              for (let b = b0; b < b1; b++) for (const cr of cols1.ranges) calls.push(call(cr, rows[b]!));
            }
            return { chunks: calls, regions };
          });
          else {
            const cols = chunksOf(p, 8, nt, mg * kg);
            const panels = cols.ranges.map(([c0, c1]): [number, number] => [c0 >> 3, (c1 + 7) >> 3]);
            // columns [c0, c1) packed at b on thread 0, b + t·stride on thread t
            const gemm = (c0: number, c1: number, b: number, stride: number): KernelCall => wag
              ? ['f32_gemm_pa', [mg, c1 - c0, kg, wag, b, og + c0 * 4, p, lo, hi, bp + gi * mg * 4], { mask: 1 << 4, stride }]
              : ['f32_gemm', [mg, c1 - c0, kg, wg, kg, b, og + c0 * 4, p, lo, hi, bp + gi * mg * 4], { mask: 1 << 5, stride }];
            im2colPack(mem, ex, xg, cg, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, 0, { panels, regions: cols.regions, threads: nt, block: blockPanels, gemm: (q0, q1, b, stride) => gemm(q0 * 8, Math.min(p, q1 * 8), b, stride) });
          }
          continue;
        }
        if (pointwise) {
          if (wag && fuse) ex.f32_gemm_blockpack_pa_epi(mg, p, kg, wag, xg, p, og, p, lo, hi, bp + gi * mg * 4, cp, radd, roff, ep(gi), em);
          else if (wag) ex.f32_gemm_blockpack_pa(mg, p, kg, wag, xg, p, og, p, lo, hi, bp + gi * mg * 4, cp);
          else ex.f32_gemm_blockpack(mg, p, kg, wg, kg, xg, p, og, p, lo, hi, bp + gi * mg * 4, cp);
          continue;
        }
        // one cache block of column panels at a time (the f32_gemm_blockpack idea for im2col): same panels, same
        // micro-kernel calls, bit-identical to packing every column first
        im2colPack(mem, ex, xg, cg, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, cp, undefined, {
          panels: blockPanels,
          gemm: (q0, q1) => wag && fuse
            ? ex.f32_gemm_pa_epi(mg, Math.min(p, q1 * 8) - q0 * 8, kg, wag, cp, og + q0 * 32, p, lo, hi, bp + gi * mg * 4, radd, roff, ep(gi), em)
            : wag
            ? ex.f32_gemm_pa(mg, Math.min(p, q1 * 8) - q0 * 8, kg, wag, cp, og + q0 * 32, p, lo, hi, bp + gi * mg * 4)
            : ex.f32_gemm(mg, Math.min(p, q1 * 8) - q0 * 8, kg, wg, kg, cp, og + q0 * 32, p, lo, hi, bp + gi * mg * 4),
        });
      }
    }
    ok = true;
    if (fuse) fe.done = true;
    return op;
  } finally {
    if (scr) mem.release(scr.block);
    if (!ok && dst === undefined) mem.release(op);
  }
}

/**
 * f32_conv2d_direct_4x8 over NCHW input (element strides: channel ih·iw, row iw, column 1) or NHWC input (`nhwc`:
 * channel 1, row iw·c, column c; `dims` still NCHW), weights packed by packConvStrips at `wa`; on threads by chunks
 * of output rows (a tap table each).
 */
function runDirect(mem: Arena, ex: KernelExports, s: ConvF32Shape, dims: readonly number[], xp: number, wa: number, pt: number, pl: number, oh: number, ow: number, lo: number, hi: number, op: number, ep: number, em: number, nhwc: boolean): void {
  const [n, c, ih, iw] = dims as [number, number, number, number];
  const [sc, sy, sx] = nhwc ? [1, iw * c, c] : [ih * iw, iw, 1];
  const k = c * s.kh * s.kw;
  const nt = threadsFor(s.m * oh * ow * k);
  const scr = threadScratch(mem, k * 4, nt, 'conv tap offsets');
  try {
    for (let bi = 0; bi < n; bi++) {
      const xb = xp + bi * c * ih * iw * 4;
      const ob = op + bi * s.m * oh * ow * 4;
      const call = (oy0: number, oy1: number): KernelCall => ['f32_conv2d_direct_4x8', [xb, sc, sy, sx, ih, iw, c, s.kh, s.kw, s.sh, s.sw, pt, pl, wa, s.m, oh, ow, oy0, oy1, ob, lo, hi, scr.ptr, ep, em], { mask: 1 << 22, stride: scr.stride }];
      if (nt > 1) {
        // the node's fork is the same run after run while these are (forkCached): one image
        const key = [c, ih, iw, xb, wa, ob, lo, hi, scr.ptr, scr.stride, ep, em, sc];
        forkCached(ex, n === 1 ? s : undefined, key, nt, () => {
          const rows = chunksOf(oh, 1, nt, s.m * ow * k);
          return { chunks: rows.ranges.map(([r0, r1]) => [call(r0, r1)]), regions: rows.regions };
        });
      } else ex.f32_conv2d_direct_4x8(xb, sc, sy, sx, ih, iw, c, s.kh, s.kw, s.sh, s.sw, pt, pl, wa, s.m, oh, ow, 0, oh, ob, lo, hi, scr.ptr, ep, em);
    }
  } finally {
    mem.release(scr.block);
  }
}

/**
 * A 1-D conv / conv-transpose / pool as the 2-D one with H = 1: ONNX's per-axis rules (strides, dilations, pads
 * "[x1_begin, x2_begin…, x1_end, x2_end…]", output_padding, output_shape, kernel_shape) gain a leading axis of
 * stride 1, dilation 1, no padding and kernel 1, which leaves every output index as it was. auto_pad keeps its
 * meaning (the added axis needs no padding under any mode). 2-D attributes pass through unchanged.
 */
export function attrs2d(attrs: Record<string, any>, rank: number): Record<string, any> {
  if (rank !== 1) return attrs;
  const a = { ...attrs };
  const lift = (k: string, v0: number) => {
    if (Array.isArray(attrs[k])) a[k] = [v0, ...attrs[k]];
  };
  lift('strides', 1);
  lift('dilations', 1);
  lift('kernel_shape', 1);
  lift('output_padding', 0);
  if (Array.isArray(attrs.pads)) a.pads = [0, attrs.pads[0], 0, attrs.pads[1]];
  if (Array.isArray(attrs.output_shape)) a.output_shape = [1, attrs.output_shape[attrs.output_shape.length - 1]];
  return a;
}

/** dims of a rank-3 (N, C, W) tensor as the rank-4 (N, C, 1, W) the 2-D kernels take; rank 4 as is. */
export const dims2d = (d: readonly number[]): number[] => (d.length === 3 ? [d[0]!, d[1]!, 1, d[2]!] : [...d]);
