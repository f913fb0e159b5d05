/**
 * com.microsoft contrib ops (onnxruntime's contrib operator schemas).
 *
 * MatMulNBits: Y = A · dequant(B)ᵀ with B the [N, K] weight quantized along K in blocks of `block_size`
 * (onnxruntime ContribOperators.md, "com.microsoft.MatMulNBits"):
 *   B            uint8 [N, k_blocks, blob_size], k_blocks = ceil(K / block_size), blob_size = block_size·bits/8;
 *                codes packed little-end first (4 bits: low nibble holds the even k)
 *   scales       [N · k_blocks] (or [N, k_blocks]) in A's float type
 *   zero_points  optional uint8 [N · ceil(k_blocks·bits/8)] packed like B per row; default 2^(bits−1)
 *   g_idx        optional (act-order): not supported
 *   bias         optional [N]
 *   dequant: w[n, k] = (code − zp[n, blk]) · scale[n, blk], blk = floor(k / block_size).
 */
import { UnsupportedError } from '../errors.js';
import type { Dim } from '../ir/graph.js';
import { defineOp, type ShapeCtx } from '../ir/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { floats, fromFloats, needType } from './util.js';
import { matmulCost } from './cost.js';

const NBITS_FLOATS = ['float32', 'float16'] as const;

/** Geometry of a MatMulNBits node from its attributes. */
export interface NBitsGeom {
  K: number;
  N: number;
  bits: number;
  blockSize: number;
  kBlocks: number;
  blobSize: number;
  /** zero-point bytes per row of N */
  zpRow: number;
}

export function nbitsGeom(attrs: { K: number; N: number; bits: number; block_size: number }, fail: (m: string) => never): NBitsGeom {
  const { K, N, bits } = attrs;
  const blockSize = attrs.block_size;
  if (!(Number.isInteger(K) && K > 0 && Number.isInteger(N) && N > 0)) fail(`K and N must be positive integers, got K=${K}, N=${N}`);
  if (bits !== 4 && bits !== 8) throw new UnsupportedError(`MatMulNBits bits=${bits} is not supported (edgeq supports 4 and 8)`);
  if (!(Number.isInteger(blockSize) && blockSize >= 16 && (blockSize & (blockSize - 1)) === 0)) fail(`block_size must be a power of two ≥ 16, got ${blockSize}`);
  const kBlocks = Math.ceil(K / blockSize);
  return { K, N, bits, blockSize, kBlocks, blobSize: (blockSize * bits) / 8, zpRow: Math.ceil((kBlocks * bits) / 8) };
}

/**
 * Every weight's code minus its zero point: f(k, n, code − zp, scale index n·k_blocks + blk) for k < K, n < N;
 * stops early (returning false) when f returns false.
 */
export function forEachNBitsCode(gm: NBitsGeom, b: Uint8Array, zp: Uint8Array | undefined, f: (k: number, n: number, q: number, si: number) => boolean | void): boolean {
  const { K, N, bits, blockSize, kBlocks, blobSize, zpRow } = gm;
  const def = 1 << (bits - 1);
  for (let n = 0; n < N; n++)
    for (let blk = 0; blk < kBlocks; blk++) {
      let z = def;
      if (zp) z = bits === 8 ? zp[n * zpRow + blk]! : (zp[n * zpRow + (blk >> 1)]! >> ((blk & 1) * 4)) & 15;
      const base = (n * kBlocks + blk) * blobSize;
      const k0 = blk * blockSize;
      const kEnd = Math.min(K, k0 + blockSize);
      for (let k = k0; k < kEnd; k++) {
        const i = k - k0;
        const code = bits === 8 ? b[base + i]! : (b[base + (i >> 1)]! >> ((i & 1) * 4)) & 15;
        if (f(k, n, code - z, n * kBlocks + blk) === false) return false;
      }
    }
  return true;
}

/** Dequantized weight, transposed to [K, N] (the MatMul B layout). */
export function dequantNBits(gm: NBitsGeom, b: Uint8Array, scales: ArrayLike<number>, zp: Uint8Array | undefined): Float32Array {
  const w = new Float32Array(gm.K * gm.N);
  forEachNBitsCode(gm, b, zp, (k, n, q, si) => {
    w[k * gm.N + n] = q * scales[si]!;
  });
  return w;
}

function elems(t: { shape?: readonly Dim[] } | undefined): number | undefined {
  if (!t?.shape || t.shape.some((d) => typeof d !== 'number')) return undefined;
  return (t.shape as number[]).reduce((a, b) => a * b, 1);
}

defineOp({
  name: 'MatMulNBits',
  cost: matmulCost,
  domain: 'com.microsoft',
  inputs: [3, 6],
  outputs: [1, 1],
  attrs: {
    K: { type: 'int', required: true },
    N: { type: 'int', required: true },
    bits: { type: 'int', default: 4 },
    block_size: { type: 'int', required: true },
    accuracy_level: { type: 'int', default: 0 },
  },
  inferShape(ctx: ShapeCtx) {
    const gm = nbitsGeom(ctx.attrs as never, ctx.fail);
    const a = needType(ctx, 0, NBITS_FLOATS, 'A');
    const b = needType(ctx, 1, ['uint8'], 'B');
    const s = needType(ctx, 2, [a.dtype], 'scales');
    if (b.shape) {
      const want = [gm.N, gm.kBlocks, gm.blobSize];
      if (b.shape.length !== 3 || b.shape.some((d, i) => typeof d === 'number' && d !== want[i])) ctx.fail(`B must be [N, k_blocks, blob_size] = [${want.join(', ')}], got [${b.shape.join(', ')}]`);
    }
    const ns = elems(s);
    if (ns !== undefined && ns !== gm.N * gm.kBlocks) ctx.fail(`scales must have N·k_blocks = ${gm.N * gm.kBlocks} elements, got ${ns}`);
    if (ctx.inputs[3]) {
      const z = needType(ctx, 3, ['uint8'], 'zero_points');
      const nz = elems(z);
      if (nz !== undefined && nz !== gm.N * gm.zpRow) ctx.fail(`zero_points must have N·ceil(k_blocks·bits/8) = ${gm.N * gm.zpRow} packed bytes, got ${nz}`);
    }
    if (ctx.inputs[4]) throw new UnsupportedError(`node '${ctx.node.name}' (MatMulNBits): g_idx (act-order) is not supported`);
    if (ctx.inputs[5]) {
      const bias = needType(ctx, 5, [a.dtype], 'bias');
      const nb = elems(bias);
      if (nb !== undefined && nb !== gm.N) ctx.fail(`bias must have N = ${gm.N} elements, got ${nb}`);
    }
    if (!a.shape) return [{ dtype: a.dtype }];
    if (a.shape.length < 1) ctx.fail('A must have rank ≥ 1');
    const k = a.shape[a.shape.length - 1];
    if (typeof k === 'number' && k !== gm.K) ctx.fail(`A's last dim ${k} must equal K = ${gm.K}`);
    return [{ dtype: a.dtype, shape: [...a.shape.slice(0, -1), gm.N] }];
  },
  reference({ node, attrs, inputs, outputTypes }) {
    const [a, b, s, zp, , bias] = inputs as [Tensor, Tensor, Tensor, Tensor?, Tensor?, Tensor?];
    const gm = nbitsGeom(attrs as never, (m) => {
      throw new UnsupportedError(`node '${node.name}': ${m}`);
    });
    const w = dequantNBits(gm, b.data as Uint8Array, floats(s), zp?.data as Uint8Array | undefined);
    const x = floats(a);
    const { K, N } = gm;
    const M = x.length / K;
    const y = new Float32Array(M * N);
    const bv = bias ? floats(bias) : undefined;
    for (let m = 0; m < M; m++) {
      const row = m * N;
      if (bv) for (let n = 0; n < N; n++) y[row + n] = bv[n]!;
      for (let k = 0; k < K; k++) {
        const xv = x[m * K + k]!;
        if (xv === 0) continue;
        const wr = k * N;
        for (let n = 0; n < N; n++) y[row + n]! += xv * w[wr + n]!;
      }
    }
    return [fromFloats(outputTypes[0]!.dtype, outputTypes[0]!.shape as number[], y)];
  },
  doc: 'com.microsoft MatMulNBits: A · dequant(B)ᵀ with 4/8-bit block-quantized B (onnxruntime layout)',
});
