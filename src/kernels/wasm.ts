import { ShapeError } from '../errors.js';
import { DTYPES, type DType, type TypedArray } from '../tensor/dtype.js';
import { inflateRaw } from './inflate.js';
import { WASM_RELAXED_DELTA_DEFLATE_BASE64, WASM_RELAXED_DELTA_BYTES, WASM_SIMD_BYTES, WASM_SIMD_DEFLATE_BASE64 } from './wasm-binary.generated.js';
import { applyDelta } from './wasm-delta.js';

/** Exports of asm/index.ts (pointers are byte offsets into `memory`). */
export interface KernelExports {
  memory: WebAssembly.Memory;
  f32_gemm_pack_8(n: number, k: number, w: number, ldw: number, bias: number, out: number): void;
  f32_gemm_packed_size_8(n: number, k: number): number;
  /** the K×N operand stored transposed (N×K, row stride ldw): packs Bᵀ in place, no bias */
  f32_gemm_pack_8_t(n: number, k: number, w: number, ldw: number, out: number): void;
  /** one row x[k] times N unpacked rows of b (stride ldb floats) transposed: y[j] = x · b_j (q·Kᵀ of a decoder step) */
  f32_gemv_t(n: number, k: number, x: number, b: number, ldb: number, y: number): void;
  /** one row x[k] times K unpacked rows of b (stride ldb floats): y = Σ_r x[r]·b_r (softmax·V of a decoder step) */
  f32_gemv_n(n: number, k: number, x: number, b: number, ldb: number, y: number): void;
  /** asm/f32_norm.ts: per row of n floats; beta 0 = none; out may equal x for softmax */
  f32_layernorm(x: number, rows: number, n: number, gamma: number, beta: number, eps: number, out: number): void;
  f32_layernorm_clamp(x: number, rows: number, n: number, gamma: number, beta: number, eps: number, out: number, lo: number, hi: number): void;
  f32_softmax(x: number, rows: number, n: number, out: number): void;
  f32_softmax_strided(x: number, outer: number, n: number, inner: number, out: number): void;
  f32_reduce_max(x: number, outer: number, r: number, inner: number, out: number, isMin: number): void;
  f32_instancenorm(x: number, planes: number, c: number, hw: number, scale: number, bias: number, eps: number, lo: number, hi: number, out: number): void;
  /** asm/f32_attention.ts: one block of ≤ 4 query rows of one head, fused scores → softmax → ·V (see kernels/attend.ts) */
  f32_attn_rows(mr: number, t: number, hd: number, vd: number, q: number, ldq: number, kp: number, vp: number, scale: number, mask: number, ldm: number, lo0: number, dlo: number, hi0: number, dhi: number, s: number, o: number, ldo: number, nanEmpty: number): void;
  /** a decoder step: n heads of one query row against t keys read in place (scores, softmax, ·V in one call) */
  f32_attn_step(n: number, t: number, hd: number, vd: number, q: number, qh: number, k: number, kh: number, ldk: number, v: number, vh: number, ldv: number, scale: number, mask: number, mh: number, s: number, o: number, oh: number, nanEmpty: number): void;
  f32_attn_head(S: number, t: number, hd: number, vd: number, q: number, ldq: number, k: number, ldk: number, kd: number, v: number, ldv: number, kp: number, vp: number, scale: number, mask: number, ldm: number, lo0: number, dlo: number, hi0: number, dhi: number, end: number, s: number, o: number, ldo: number, nanEmpty: number): void;
  f32_rmsnorm(x: number, rows: number, n: number, gamma: number, eps: number, out: number): void;
  /** asm/x32_layout.ts: out (contiguous over shape) = src at element strides st (may be negative); idx: rank i32s scratch */
  x32_strided_copy(src: number, out: number, rank: number, shape: number, st: number, idx: number): void;
  /** PRelu in place over blocks [c, inner] of n floats, one slope per channel (asm/f32_act.ts) */
  f32_prelu_channels(x: number, n: number, c: number, inner: number, slopes: number): void;
  /** n matrices rows × cols (4-byte elements) transposed: out[c·rows + r] = src[r·cols + c] */
  x32_transpose2d(src: number, n: number, rows: number, cols: number, out: number): void;
  f32_peak_muladd(iters: number): number;
  /** asm/peak.ts: one sequential pass summing `bytes` (multiple of 64) at p: the streaming-read ceiling */
  f32_peak_read(p: number, bytes: number): number;
  /** rb: per-row bias pointer (0 = none) */
  tfl_requant_i8_rows(acc: number, m: number, n: number, mult: number, shift: number, zp: number, lo: number, hi: number, out: number): void;
  /** asm/tfl_requant.ts: small TFLite FULLY_CONNECTED (direct dots), 8-bit tables, QUANTIZE, int8 SOFTMAX */
  tfl_fc_i8_small(a: number, m: number, k: number, az: number, w: number, wz: number, bias: number, n: number, mult: number, shift: number, zp: number, lo: number, hi: number, out: number): void;
  x8_lut(x: number, n: number, table: number, out: number): void;
  tfl_svdf_i8(x: number, b: number, ii: number, izp: number, wf: number, f: number, m: number, wt: number, tesz: number, state: number, sesz: number, szp: number, m1: number, s1: number, slo: number, shi: number, bias: number, r: number, m2: number, s2: number, ozp: number, lo: number, hi: number, st: number, out: number): void;
  tfl_mean_hw(x: number, esz: number, nb: number, hw: number, c: number, izp: number, mult: number, shift: number, ozp: number, lo: number, hi: number, acc: number, out: number): void;
  tfl_requantize(x: number, iesz: number, isigned: number, n: number, izp: number, mult: number, shift: number, ozp: number, lo: number, hi: number, oesz: number, out: number): void;
  x8_lut_f32(x: number, n: number, table: number, out: number): void;
  tfl_quantize_f32_x8(x: number, n: number, scale: number, zp: number, lo: number, hi: number, out: number): void;
  tfl_softmax_x8(x: number, signed: number, rows: number, depth: number, expt: number, sumt: number, outBits: number, outMin: number, outMax: number, oesz: number, out: number): void;
  tfl_resize_nearest_nhwc(x: number, pix: number, n: number, ih: number, iw: number, oh: number, ow: number, ytab: number, xtab: number, out: number): void;
  tfl_resize_bilinear_nhwc(x: number, esz: number, n: number, ih: number, iw: number, c: number, oh: number, ow: number, ty: number, tx: number, out: number): void;
  tfl_avgpool_nhwc(x: number, esz: number, n: number, h: number, w: number, c: number, fh: number, fw: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number, lo: number, hi: number, out: number): void;
  tfl_add_i8(a: number, sa: number, b: number, sb: number, n: number, az: number, bz: number, ls: number, m1: number, s1: number, m2: number, s2: number, mo: number, so: number, oz: number, lo: number, hi: number, sign: number, out: number): void;
  tfl_mul_i8(a: number, sa: number, b: number, sb: number, n: number, az: number, bz: number, m: number, s: number, oz: number, lo: number, hi: number, out: number): void;
  x32_permute4(x: number, d0: number, d1: number, d2: number, d3: number, s0: number, s1: number, s2: number, s3: number, out: number): void;
  x8_permute4(x: number, d0: number, d1: number, d2: number, d3: number, s0: number, s1: number, s2: number, s3: number, out: number): void;
  x32_depth_to_space(x: number, n: number, c: number, h: number, w: number, b: number, out: number): void;
  f32_unary(op: number, x: number, out: number, n: number, alpha: number, beta: number): void;
  f32_binary_nd(op: number, a: number, b: number, out: number, rank: number, shape: number, astr: number, bstr: number, idx: number, lo: number, hi: number): void;
  f32_binary(op: number, a: number, sa: number, b: number, sb: number, out: number, n: number, lo: number, hi: number): void;
  f32_binary_rows(op: number, rows: number, n: number, ld: number, a: number, b: number, out: number, lo: number, hi: number): void;
  f32_gemm(m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number, rb: number): void;
  f32_gemm_blockpack(m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, lo: number, hi: number, rb: number, scratch: number): void;
  f32_gemm_blockpack_scratch(k: number): number;
  /** asm/f32_gemm.ts: A packed in 4-row strips (f32_gemm_pack_a4), then f32_gemm's blocking over it */
  f32_gemm_pack_a4(m: number, k: number, a: number, lda: number, out: number): void;
  f32_gemm_pa_scratch(m: number, k: number): number;
  f32_gemm_pa(m: number, n: number, k: number, ap: number, w: number, c: number, ldc: number, lo: number, hi: number, rb: number): void;
  /** asm/f32_gemm.ts: f32_gemm_blockpack with A (conv weights) packed once in 4-row strips (f32_gemm_pack_a4), m ≥ 2 */
  f32_gemm_blockpack_pa(m: number, n: number, k: number, ap: number, b: number, ldb: number, c: number, ldc: number, lo: number, hi: number, rb: number, scratch: number): void;
  f32_affine_bilinear_nhwc(x: number, h: number, w: number, c: number, oh: number, ow: number, a0: number, a1: number, a3: number, b0: number, b1: number, b3: number, out: number): void;
  f32_im2col_pack_8(x: number, c: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, oh: number, ow: number, out: number, scratch: number): void;
  /** f32_im2col_pack_8 of panels q0 ≤ q < q1 only (kernel threads pack their own) */
  f32_im2col_pack_8_range(x: number, c: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, oh: number, ow: number, q0: number, q1: number, out: number, scratch: number): void;
  f32_im2col_scratch_size(c: number, kh: number, kw: number): number;
  f32_pad_planes(x: number, c: number, ih: number, iw: number, pt: number, pl: number, ihp: number, iwp: number, out: number): void;
  f32_dwconv3x3(x: number, c: number, ih: number, iw: number, w: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number, bias: number, out: number, lo: number, hi: number, tmp: number): void;
  f32_dwconv3x3_scratch_size(ih: number, iw: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number): number;
  f32_dwconv5x5_scratch_size(ih: number, iw: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number): number;
  /** depthwise 1×1, stride 1, no pads: out = clamp(bias + w·x) per channel over p pixels */
  f32_dwconv1x1(x: number, c: number, p: number, w: number, bias: number, out: number, lo: number, hi: number): void;
  /** one LSTM step of one batch row (asm/f32_rnn.ts): gates i,o,f,c from gx + gh, c and h in place, h copied to y */
  f32_lstm_cell(gx: number, gh: number, h: number, c: number, y: number, hs: number, clip: number, cclip: number): void;
  /** GRU (linear_before_reset = 0): rh = σ(gx_r + gh_r) ⊙ h, the input of the candidate's recurrent product */
  f32_gru_reset(gx: number, gh: number, h: number, rh: number, hs: number, clip: number): void;
  /** one GRU step of one batch row: gates z,r,h from gx + gh, h in place and copied to y */
  f32_gru_cell(gx: number, gh: number, h: number, y: number, hs: number, clip: number, lbr: number): void;
  /** one RNN step of one batch row: h = tanh or relu of gx + gh, copied to y */
  f32_rnn_cell(gx: number, gh: number, h: number, y: number, hs: number, clip: number, relu: number): void;
  /** asm/qs8_lstm.ts: TFLite's integer (8x8_16) LSTM — gemmlowp int16 sigmoid / tanh, the input gates of all steps, the whole sequence */
  qs16_lstm_sigmoid(x: number, n: number, out: number): void;
  qs16_lstm_tanh(x: number, n: number, bits: number, out: number): void;
  qs8_lstm_gates(x: number, rows: number, k: number, w: number, g: number, bias: number, mult: number, shift: number, zeros: number, gx: number): void;
  qs8_lstm_scratch_bytes(t: number, b: number, g: number): number;
  qs8_lstm_run(x: number, t: number, b: number, tm: number, ni: number, nc: number, g: number, wx: number, wh: number, bx: number, bh: number, q: number, zeros: number, cellScale: number, clip: number, mh: number, sh: number, h0: number, c0: number, scratch: number, out: number): void;
  /** separable AveragePool (asm/f32_pool.ts): scratch floats, and the kernel over one channel */
  f32_avgpool2d_sep_scratch(iw: number, kw: number, sw: number, pl: number, pr: number, ow: number): number;
  f32_avgpool2d_sep(mode: number, x: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, pb: number, pr: number, oh: number, ow: number, out: number, tmp: number): void;
  /** ReduceSum / ReduceMean over the middle axis of [outer, r, inner] (asm/f32_norm.ts), times scale */
  f32_reduce_sum(x: number, outer: number, r: number, inner: number, out: number, scale: number): void;
  /** byte-strided gather (asm/x32_layout.ts): Expand of 1/2/8-byte elements */
  x8_strided_copy(src: number, out: number, rank: number, shape: number, st: number, idx: number): void;
  /** Cast to float32 (kind 0 int64, 1 bool/uint8, 2 int8, 3 int32) and Equal → bool bytes (asm/x_layout.ts) */
  x_cast_f32(kind: number, x: number, n: number, out: number): void;
  x_equal(bytes: number, float: number, a: number, sa: number, b: number, sb: number, out: number, n: number): void;
  f32_compare(op: number, a: number, sa: number, b: number, sb: number, out: number, n: number): void;
  /** asm/f32_gemm.ts: f32_gemm_pa / f32_gemm_blockpack_pa with a fused residual (radd: at C + roff bytes) and per-row channel steps (ep: 16 bytes a row [slope, scale, bias, −]; em: 1 PRelu, 2 affine) */
  f32_gemm_pa_epi(m: number, n: number, k: number, ap: number, w: number, c: number, ldc: number, lo: number, hi: number, rb: number, radd: number, roff: number, ep: number, em: number): void;
  f32_gemm_blockpack_pa_epi(m: number, n: number, k: number, ap: number, b: number, ldb: number, c: number, ldc: number, lo: number, hi: number, rb: number, scratch: number, radd: number, roff: number, ep: number, em: number): void;
  /** asm/f32_conv.ts: direct conv for few input channels (see there); weights packed by f32_conv2d_direct_pack */
  f32_conv2d_direct_size(m: number, k: number): number;
  f32_conv2d_direct_pack(w: number, bias: number, m: number, cin: number, kh: number, kw: number, out: number): void;
  f32_conv2d_direct_4x8(x: number, sc: number, sy: number, sx: number, ih: number, iw: number, cin: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, w: number, m: number, oh: number, ow: number, oy0: number, oy1: number, out: number, lo: number, hi: number, tab: number, ep: number, em: number): void;
  f32_dwconv5x5(x: number, c: number, ih: number, iw: number, w: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number, bias: number, out: number, lo: number, hi: number, tmp: number): void;
  f32_maxpool2d_sep(x: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number, out: number, tmp: number): void;
  f32_global_avgpool(x: number, count: number, hw: number, out: number): void;
  f32_pool2d(mode: number, x: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, pb: number, pr: number, oh: number, ow: number, out: number): void;
  /** `planes` planes of f32_pool2d (kind 0), f32_maxpool2d_sep (1) or f32_avgpool2d_sep (2) in one call (asm/f32_pool.ts) */
  f32_pool2d_planes(kind: number, planes: number, mode: number, x: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, pb: number, pr: number, oh: number, ow: number, out: number, tmp: number): void;
  f32_dwconv_plane_scratch_size(ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number): number;
  f32_dwconv_plane(x: number, c: number, ih: number, iw: number, w: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number, bias: number, out: number, lo: number, hi: number, tmp: number): void;
  f32_dwconv2d(x: number, ih: number, iw: number, w: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, bias: number, out: number, lo: number, hi: number): void;
  /** sparse (asm/f32_spmm.ts): 1×4 blocked CSR along N, rows of A 4 at a time */
  f32_spmm_1x4(m: number, n: number, a: number, lda: number, bptr: number, kidx: number, vals: number, bias: number, c: number, ldc: number, lo: number, hi: number): void;
  /** sparse: scalar CSR W[n×K] times 8-column panels of X[K×p]; output (j, col) at c + (j·csn + col·csp)·4 */
  f32_spmm_csr_8(n: number, p: number, x: number, pstride: number, rowptr: number, kidx: number, vals: number, bias: number, c: number, csn: number, csp: number, lo: number, hi: number): void;
  /** NCHW sparse 1×1 conv, XNNPACK's SpMM layout: per channel bias + weights, input byte increments, counts */
  f32_spmm_nchw_32(p: number, q0: number, q1: number, n: number, x: number, wts: number, dmap: number, nnz: number, out: number, lo: number, hi: number, res: number, chunks: number, nb: number): void;
  f32_spmm_pack_t8(m: number, k: number, a: number, lda: number, out: number): void;
  /** sparse int: C (i32) = A' (i32, zero point subtracted) · W' in 1×4 blocked CSR of i32x4, wrapping */
  i32_spmm_1x4(m: number, n: number, a: number, lda: number, bptr: number, kidx: number, vals: number, c: number, ldc: number): void;
  /** sparse direct Conv2D, one image: per filter j, taps eptr[j]…eptr[j+1]−1 of (c, dy, dx, w) at ent (16 bytes each) */
  f32_spconv2d(x: number, ih: number, iw: number, m: number, eptr: number, ent: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number, bias: number, out: number, lo: number, hi: number): void;
  /** int8 GEMM (asm/qs8_gemm.ts): B packed in c2 panels of 8 columns, K padded to 8 */
  qs8_packed_size_8(n: number, k: number): number;
  qs8_pack_b(n: number, k: number, b: number, ldb: number, flip: number, out: number, csum: number): void;
  qs8_pack_a(m: number, k: number, a: number, lda: number, flip: number, out: number, rsum: number): void;
  /** A in 4-row groups of int16 k pairs for qs8_gemm_a4 (mode 0 int8, 1 uint8 flipped to int8, 2 uint8) */
  qs8_packed_a4_size(m: number, k: number): number;
  qs8_pack_a4(m: number, k: number, a: number, lda: number, mode: number, out: number, rsum: number): void;
  qs8_rowsum(m: number, k: number, a: number, lda: number, uns: number, out: number): void;
  qs8_panel_colsum(n: number, k: number, w: number, out: number): void;
  /** tmp: 2·ceil8(oh·ow) + 16 bytes of scratch */
  qs8_im2col_pack_8_range(x: number, c: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, xz: number, flip: number, q0: number, q1: number, out: number, tmp: number): void;
  /** asm/q8_dynamic.ts: DynamicQuantizeLinear's two passes ([min(0, x…), max(0, x…)] as 2 float32 at out; codes ^ flip) */
  f32_minmax0(x: number, n: number, out: number): void;
  f32_dynquant_u8(x: number, n: number, scale: number, zp: number, flip: number, y: number): void;
  /** asm/qs8_nbits.ts: MatMulNBits with int8 compute (per-row symmetric int8 A, block-scaled int8 weight panels) */
  f32_rowquant_s8(x: number, m: number, k: number, out: number, sa: number): void;
  qs8_nbits_gemm(m: number, n: number, k: number, a: number, lda: number, sa: number, w: number, bs: number, ws: number, bias: number, c: number, ldc: number, tmp: number): void;
  /** out: 0 = int32, 1 = int8, 2 = uint8, 3 = float32 (mult: per panel 8 f32 scales + 8 f32 addends); mrow: mult per row (1) or per column (0) */
  qs8_gemm(m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, cb: number, rb: number, ru: number, cv: number, mult: number, mrow: number, yz: number, lo: number, hi: number, out: number, tmp: number): void;
  qu8_gemm(m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, cb: number, rb: number, ru: number, cv: number, mult: number, mrow: number, yz: number, lo: number, hi: number, out: number, tmp: number): void;
  /** as qs8_gemm with A packed by qs8_pack_a4, lda = byte stride of its 4-row groups */
  qs8_gemm_a4(m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, cb: number, rb: number, ru: number, cv: number, mult: number, mrow: number, yz: number, lo: number, hi: number, out: number, tmp: number): void;
  /** relaxed build only (asm/qs8_gemm.ts, c4 panels, i32x4.relaxed_dot_i8x16_i7x16_add_s); the plain build traps */
  qs8_pack_b_c4(n: number, k: number, b: number, ldb: number, x: number, uns: number, out: number, csum: number): void;
  qs8_gemm_c4(m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, cb: number, rb: number, ru: number, cv: number, mult: number, mrow: number, yz: number, lo: number, hi: number, out: number, tmp: number): void;
  /** depthwise int8 conv (asm/qs8_dwconv.ts): scratch bytes per channel, and the kernel over c channels of one image */
  qs8_dwconv_scratch(kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, oh: number, ow: number): number;
  qs8_dwconv2d(x: number, c: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, xz: number, uns: number, wt: number, bias: number, mult: number, yz: number, lo: number, hi: number, code: number, out: number, scratch: number): void;
  /** asm/qs8_eltwise.ts: QuantizeLinear float32 → 8-bit and QLinearAdd, per tensor (uns = 1: uint8) */
  qs8_quantize_f32(x: number, n: number, s: number, z: number, uns: number, y: number): void;
  qs8_qlinear_add(a: number, sa: number, za: number, b: number, sb: number, zb: number, n: number, sc: number, zc: number, uns: number, y: number): void;
  /** asm/qs8_pool.ts: 8-bit MaxPool 2-D over `planes` planes (dilation 1); tmp: iw bytes */
  qs8_maxpool2d(x: number, planes: number, ih: number, iw: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, oh: number, ow: number, uns: number, out: number, tmp: number): void;
  /** int8 peak probe: iters × 8 i32x4.dot_i16x8_s (64 multiply-adds each iteration) */
  qs8_peak_dot(iters: number): number;
  /** fp16 weights (asm/f16_gemm.ts): panels of 8 f32 bias + K rows of 8 halves; pack returns 1 if any weight is Inf/NaN */
  f16_to_f32(n: number, src: number, dst: number): void;
  f32_to_f16(n: number, src: number, dst: number): void;
  f16_gemm_pack_8(n: number, k: number, w: number, ldw: number, bias: number, out: number): number;
  f16_gemm_packed_size_8(n: number, k: number): number;
  f16_gemm_unpack_8(n: number, k: number, w: number, out: number): void;
  /** asm/simd.ts: 1 in the relaxed-SIMD build; peak probe through madd (relaxed_madd there, mul+add in the plain build) */
  simd_relaxed(): number;
  f32_peak_madd(iters: number): number;
  f16_gemm(m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number): void;
  /** asm/f32_act.ts: y = clamp(x·scale[c] + shift[c]) over planes of hw floats, channel = plane mod c (BatchNormalization) */
  f32_channel_affine(x: number, out: number, planes: number, c: number, hw: number, scale: number, shift: number, lo: number, hi: number): void;
  /** asm/f32_conv.ts: ConvTranspose scatter of m·kh·kw rows of ih·iw floats into m output planes (bias 0 = none) */
  f32_col2im(col: number, m: number, kh: number, kw: number, ih: number, iw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, bias: number, out: number): void;
  /** the same when stride = kernel, no pads, dilation 1 (no overlap): each output pixel written once, ow = iw·kw */
  f32_col2im_tiled(col: number, m: number, kh: number, kw: number, ih: number, iw: number, oh: number, bias: number, out: number): void;
  /** asm/f32_resize.ts: NCHW Resize from per-row / per-column tables (i32 indices, f32 weight pairs for linear) */
  f32_resize_nearest(x: number, planes: number, ih: number, iw: number, oh: number, ow: number, yi: number, xi: number, out: number): void;
  f32_resize_linear(x: number, planes: number, ih: number, iw: number, oh: number, ow: number, y: number, wy: number, xs: number, wx: number, out: number, plan: number): void;
  /** the column plan f32_resize_linear vectorises with (80 bytes per group of four output columns), from its tables */
  f32_resize_linear_plan(iw: number, ow: number, xs: number, wx: number, plan: number): void;
  f32_resize_linear_plan_size(ow: number): number;
}

function decodeBase64(s: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(s, 'base64'));
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let instance: KernelExports | undefined;
let unavailable = false;
let flavor: 'relaxed' | 'simd' | undefined;

/** (func (param v128 v128 v128) (result v128) f32x4.relaxed_madd): validates only where relaxed SIMD is on */
const RELAXED_PROBE = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 8, 1, 0x60, 3, 0x7b, 0x7b, 0x7b, 1, 0x7b, 3, 2, 1, 0, 0x0a, 0x0d, 1, 0x0b, 0, 0x20, 0, 0x20, 1, 0x20, 2, 0xfd, 0x85, 0x02, 0x0b];

/** Whether this runtime accepts relaxed SIMD (Chromium by default; Node 20 with --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(new Uint8Array(RELAXED_PROBE));
  } catch {
    return false;
  }
}

let relaxedAllowed = true;

/**
 * env.wasm.relaxedSimd = false: keep the plain SIMD build (bit-identical across runtimes). Takes effect only
 * before the kernels are first used; returns whether the build in use (or to be used) honours it.
 */
export function allowRelaxedSimd(on: boolean): boolean {
  relaxedAllowed = on;
  return !instance || flavor === (on && !plainForced() && relaxedSimdSupported() ? 'relaxed' : 'simd');
}

/** Whether allowRelaxedSimd(false) was called (pipeline workers inherit it). */
export function relaxedSimdAllowed(): boolean {
  return relaxedAllowed;
}

/** EDGEQ_SIMD=plain (environment) or allowRelaxedSimd(false) keeps the plain SIMD build even where relaxed SIMD validates. */
function plainForced(): boolean {
  if (!relaxedAllowed) return true;
  try {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    return env?.EDGEQ_SIMD === 'plain';
  } catch {
    return false; // Deno without --allow-env throws on reading the environment
  }
}

/** The import entry of env.memory in both builds (scripts/build-asm.mjs checks it occurs once); its last byte is the limits flag. */
const MEMORY_IMPORT = [3, 0x65, 0x6e, 0x76, 6, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 2, 1];

/** The module bytes with the memory import's limits flag set to 0x03 (shared, has maximum); undefined if not found. */
export function sharedMemoryBytes(bytes: Uint8Array): Uint8Array | undefined {
  const n = MEMORY_IMPORT.length;
  for (let i = 8; i + n <= bytes.length; i++) {
    let j = 0;
    while (j < n && bytes[i + j] === MEMORY_IMPORT[j]) j++;
    if (j < n) continue;
    const out = bytes.slice();
    out[i + n - 1] = 3;
    return out;
  }
  return undefined;
}

/** 65536 pages = 4 GB (the module's declared maximum); a shared memory reserves its maximum up front, so smaller ones are tried next. */
const MAX_PAGES = [65536, 16384, 4096];

/** Whether kernel threads may run (env.wasm.numThreads, the platform): only then is the kernel memory made shared. */
let threadsWanted: () => boolean = () => false;

/** threads.ts installs the thread policy (kept out of this file so wasm.ts has no platform import). */
export function setThreadsWanted(f: () => boolean): void {
  threadsWanted = f;
}

/** The bytes the instance was compiled from and its memory, when that memory is shared (kernel threads compile the same bytes). */
let sharedModule: { bytes: Uint8Array; memory: WebAssembly.Memory } | undefined;

/** The shared kernel module (bytes and memory) when kernels() made one, else undefined (single-threaded). */
export function sharedKernelModule(): { bytes: Uint8Array; memory: WebAssembly.Memory } | undefined {
  kernels();
  return sharedModule;
}

const imports = (memory: WebAssembly.Memory) => ({ env: { memory, abort: () => { throw new ShapeError('WASM kernel aborted'); } } });

/** The embedded kernel module of a flavor (the relaxed build is rebuilt from its delta against the plain one). */
export function kernelBinary(flavor: 'simd' | 'relaxed'): Uint8Array {
  const plain = inflateRaw(decodeBase64(WASM_SIMD_DEFLATE_BASE64), WASM_SIMD_BYTES);
  return flavor === 'simd' ? plain : applyDelta(plain, inflateRaw(decodeBase64(WASM_RELAXED_DELTA_DEFLATE_BASE64), WASM_RELAXED_DELTA_BYTES));
}

function instantiate(bytes: Uint8Array): KernelExports {
  if (typeof SharedArrayBuffer !== 'undefined' && threadsWanted()) {
    const sb = sharedMemoryBytes(bytes);
    for (const maximum of sb ? MAX_PAGES : []) {
      try {
        const memory = new WebAssembly.Memory({ initial: 1, maximum, shared: true } as WebAssembly.MemoryDescriptor);
        const ex = new WebAssembly.Instance(new WebAssembly.Module(sb as BufferSource), imports(memory)).exports as unknown as KernelExports;
        sharedModule = { bytes: sb!, memory };
        return ex;
      } catch {
        // no shared memory of this size here: try a smaller one, then the unshared memory
      }
    }
  }
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  return new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), imports(memory)).exports as unknown as KernelExports;
}

/**
 * The kernel module, instantiated on first use (undefined if this runtime lacks WASM SIMD): the relaxed-SIMD
 * build where the runtime validates relaxed SIMD (fused multiply-add: f32 results within 1e-5 relative of the
 * plain build, not bit-identical), else the plain SIMD build, which is the default and complete.
 */
export function kernels(): KernelExports | undefined {
  if (instance || unavailable) return instance;
  if (!plainForced() && relaxedSimdSupported()) {
    try {
      instance = instantiate(kernelBinary('relaxed'));
      flavor = 'relaxed';
      return instance;
    } catch {
      // fall through to the plain build
    }
  }
  try {
    instance = instantiate(kernelBinary('simd'));
    flavor = 'simd';
  } catch {
    unavailable = true;
  }
  return instance;
}

/** Which build kernels() instantiated ('relaxed' or 'simd'; undefined before first use or without SIMD). */
export function kernelFlavor(): 'relaxed' | 'simd' | undefined {
  kernels();
  return flavor;
}

/** WASM32 addresses: refuse anything that would not fit, before calling a kernel (never trap inside). */
export const MAX_BYTES = 2 ** 32 - 65536;

/**
 * The allocator of the one kernel memory: first-fit over a sorted free list with coalescing, 16-byte
 * aligned. Sessions allocate packed weights once and free them on release; kernels take scratch for a run
 * and free it after, so steady-state runs reuse the same blocks and the memory stops growing.
 */
export class Arena {
  private top: number;
  /** free blocks [start, size], sorted by start, never adjacent (coalesced) */
  private free: [number, number][] = [];
  private readonly sizes = new Map<number, number>();
  /**
   * The memory's buffer, cached: only `alloc` grows the memory (the kernels are built with the stub runtime and never
   * grow it), so this is `memory.buffer` without the accessor's cost on every view a run makes.
   */
  private buf: ArrayBuffer;
  constructor(private readonly k: KernelExports) {
    this.buf = k.memory.buffer;
    this.top = (this.buf.byteLength + 15) & ~15; // never touch data the module placed below its initial size
  }
  get memory(): WebAssembly.Memory {
    return this.k.memory;
  }
  /** `memory.buffer` (cached; views made before a growth are detached or stale, see Residency.rebind) */
  get buffer(): ArrayBuffer {
    return this.buf;
  }
  /** Reserve `bytes` (rounded up to 16); grows memory only when no free block fits. */
  alloc(bytes: number, what = 'buffer'): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_BYTES) throw new ShapeError(`${what}: ${bytes} bytes do not fit in 4 GB of WASM memory`);
    // +16: SIMD kernels may read (never write) up to one vector past the end of a buffer
    // (arithmetic, not `& ~15`: bitwise ops are int32, and a request of 2 GB or more came out negative, which handed out
    // a block that overlapped live data and moved a free block's start below zero for every later allocation)
    const size = Math.ceil(bytes / 16) * 16 + 16;
    for (let i = 0; i < this.free.length; i++) {
      const blk = this.free[i]!;
      if (blk[1] < size) continue;
      const p = blk[0];
      if (blk[1] === size) this.free.splice(i, 1);
      else {
        blk[0] += size;
        blk[1] -= size;
      }
      this.sizes.set(p, size);
      return p;
    }
    const p = this.top;
    const end = p + size;
    if (end > MAX_BYTES) throw new ShapeError(`${what}: ${bytes} bytes do not fit in 4 GB of WASM memory`);
    const have = this.buf.byteLength;
    if (end > have) {
      try {
        this.k.memory.grow(Math.ceil((end - have) / 65536));
      } catch (e) {
        // the engine's RangeError (maximum reached, or the host refused the pages) as the typed error callers expect
        throw new ShapeError(`${what}: ${bytes} bytes: WASM memory cannot grow to ${end} bytes (${(e as Error).message})`);
      }
      this.buf = this.k.memory.buffer;
    }
    this.top = end;
    this.sizes.set(p, size);
    return p;
  }
  /** Return a block from `alloc`. */
  release(p: number): void {
    const size = this.sizes.get(p);
    if (size === undefined) return;
    this.sizes.delete(p);
    // insert sorted, then merge with neighbours
    let i = 0;
    while (i < this.free.length && this.free[i]![0] < p) i++;
    this.free.splice(i, 0, [p, size]);
    if (i + 1 < this.free.length && p + size === this.free[i + 1]![0]) {
      this.free[i]![1] += this.free[i + 1]![1];
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1]![0] + this.free[i - 1]![1] === p) {
      this.free[i - 1]![1] += this.free[i]![1];
      this.free.splice(i, 1);
      i--;
    }
    // a free block at the top shrinks the heap instead
    const last = this.free[this.free.length - 1];
    if (last && last[0] + last[1] === this.top) {
      this.top = last[0];
      this.free.pop();
    }
  }
  /** Bytes currently handed out (for leak tests). */
  get inUse(): number {
    let n = 0;
    for (const s of this.sizes.values()) n += s;
    return n;
  }
  /** Byte offset of `t`'s data if it already lives in kernel memory (a resident view), else undefined. */
  ptrOf(t: { data: unknown }): number | undefined {
    const d = t.data as ArrayBufferView;
    return ArrayBuffer.isView(d) && d.buffer === this.buf ? d.byteOffset : undefined;
  }
  /** Pointer to `a`'s elements in kernel memory: itself if resident, else a fresh copy (`copied` = true). */
  input(a: Float32Array, what: string): { ptr: number; copied: boolean } {
    const p = this.ptrOf({ data: a });
    if (p !== undefined) return { ptr: p, copied: false };
    const ptr = this.alloc(a.length * 4, what);
    this.f32(ptr, a.length).set(a);
    return { ptr, copied: true };
  }
  /** Byte pointer to any typed array's data in kernel memory: itself if resident, else a fresh byte copy. */
  inputBytes(d: ArrayBufferView, what: string): { ptr: number; copied: boolean } {
    const p = this.ptrOf({ data: d });
    if (p !== undefined) return { ptr: p, copied: false };
    const ptr = this.alloc(d.byteLength, what);
    new Uint8Array(this.buf, ptr, d.byteLength).set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    return { ptr, copied: true };
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.buf, ptr, n);
  }
  /** n elements of `type` at ptr, as the typed array a tensor of that type holds (a view into kernel memory). */
  view(type: DType, ptr: number, n: number): TypedArray {
    const A = DTYPES[type].array;
    if (!A) throw new ShapeError(`no kernel-memory view for ${type} tensors`);
    return new A(this.buf, ptr, n);
  }
}

let shared: Arena | undefined;
/** The process-wide arena over the one kernel memory. */
export function arena(): Arena | undefined {
  const k = kernels();
  if (!k) return undefined;
  return (shared ??= new Arena(k));
}

/**
 * A static plan's copy of a constant operand (PreparedKernel.bind): `data`'s bytes, any typed array, into plan scratch
 * (BindArgs.scratch) once at bind time; returns its byte offset in kernel memory.
 */
export function bindConstant(scratch: (bytes: number, what: string) => number, data: ArrayBufferView, what: string): number {
  const p = scratch(Math.max(data.byteLength, 1), what);
  new Uint8Array(arena()!.buffer, p, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return p;
}
