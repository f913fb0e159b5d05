import { UnsupportedError } from '../errors.js';
import { broadcastDims } from '../ir/dims.js';
import type { Dim } from '../ir/graph.js';
import { defineOp } from '../ir/registry.js';
import type { DType } from '../tensor/dtype.js';
import { broadcastShapes, sizeOf, stridesOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';
import { dim, elems, matmulCost } from './cost.js';

/** Matrix products: MatMul (numpy semantics, batch broadcasting, 1-D promotion) and Gemm. */

const MATMUL_TYPES: readonly DType[] = [...FLOATS, 'int32', 'int64', 'uint32', 'uint64'];

const dimEq = (a: Dim, b: Dim) => a === b || typeof a !== 'number' || typeof b !== 'number';

/**
 * Core kernel on one matrix pair: out[M×N] = a[M×K] · b[K×N] (row-major, offsets into flat arrays).
 * `mode` picks the arithmetic: float (float64 accumulator), i32/u32 (wrapping), big (BigInt wrapping).
 */
function mmFloat(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, out: Float32Array | Float64Array, oo: number, m: number, k: number, n: number) {
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const av = a[ao + i * k + p]!;
      const br = bo + p * n;
      for (let j = 0; j < n; j++) acc[j]! += av * b[br + j]!;
    }
    for (let j = 0; j < n; j++) out[oo + i * n + j] = acc[j]!;
  }
}

function mmInt32(a: Int32Array | Uint32Array, ao: number, b: Int32Array | Uint32Array, bo: number, out: Int32Array | Uint32Array, oo: number, m: number, k: number, n: number) {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s = (s + Math.imul(a[ao + i * k + p]!, b[bo + p * n + j]!)) | 0;
      out[oo + i * n + j] = s; // typed array store wraps to the element type
    }
}

function mmBig(a: BigInt64Array | BigUint64Array, ao: number, b: BigInt64Array | BigUint64Array, bo: number, out: BigInt64Array | BigUint64Array, oo: number, m: number, k: number, n: number) {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0n;
      for (let p = 0; p < k; p++) s += a[ao + i * k + p]! * b[bo + p * n + j]!;
      out[oo + i * n + j] = s; // BigInt64Array store wraps mod 2^64
    }
}

interface MMShape {
  /** output shape (with the 1-D promotions removed) */
  out: Dim[];
  batch: Dim[];
  m: Dim;
  k: Dim;
  n: Dim;
}

/** ONNX MatMul = numpy.matmul: 1-D A is [1,K] (dim removed after), 1-D B is [K,1]; batch dims broadcast. */
function matmulShape(a: readonly Dim[], b: readonly Dim[], fail: (m: string) => never): MMShape {
  if (a.length === 0 || b.length === 0) fail(`MatMul needs inputs of rank ≥ 1, got ranks ${a.length} and ${b.length}`);
  const a2 = a.length === 1 ? [1, a[0]!] : [...a];
  const b2 = b.length === 1 ? [b[0]!, 1] : [...b];
  const m = a2[a2.length - 2]!;
  const k = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  const n = b2[b2.length - 1]!;
  if (!dimEq(k, k2)) fail(`inner dimensions differ: A [${a.join(',')}] has K=${k}, B [${b.join(',')}] has K=${k2}`);
  const batch = broadcastDims(a2.slice(0, -2), b2.slice(0, -2));
  if (!batch) fail(`batch dimensions of A [${a.join(',')}] and B [${b.join(',')}] are not broadcastable`);
  const out: Dim[] = [...batch!];
  if (a.length > 1) out.push(m);
  if (b.length > 1) out.push(n);
  return { out, batch: batch!, m, k: typeof k === 'number' ? k : k2, n };
}

/** Batched matmul of concrete tensors with numpy broadcasting; returns the raw output storage. */
export function matmulTensors(A: Tensor, B: Tensor): Tensor {
  const sh = matmulShape(A.dims, B.dims, (msg) => {
    throw new UnsupportedError(msg);
  });
  const m = sh.m as number;
  const k = sh.k as number;
  const n = sh.n as number;
  const a2 = A.dims.length === 1 ? [1, A.dims[0]!] : [...A.dims];
  const b2 = B.dims.length === 1 ? [B.dims[0]!, 1] : [...B.dims];
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2), 'MatMul');
  const outDims = sh.out as number[];
  const total = sizeOf(outDims, 'MatMul output');
  const nb = sizeOf(batch);
  // per-batch offsets into A and B, honouring size-1 broadcast dims
  const aB = a2.slice(0, -2);
  const bB = b2.slice(0, -2);
  const r = batch.length;
  const pad = (d: number[]) => [...new Array(r - d.length).fill(1), ...d];
  const aP = pad(aB);
  const bP = pad(bB);
  const aS = stridesOf(aP);
  const bS = stridesOf(bP);
  const bStr = stridesOf(batch);
  const dtype = A.type;
  let outData: Float32Array | Float64Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;
  const fl = dtype === 'float32' || dtype === 'float16' || dtype === 'float64';
  const av = fl ? floats(A) : A.data;
  const bv = fl ? floats(B) : B.data;
  if (fl) outData = dtype === 'float64' ? new Float64Array(total) : new Float32Array(total);
  else if (dtype === 'int32') outData = new Int32Array(total);
  else if (dtype === 'uint32') outData = new Uint32Array(total);
  else if (dtype === 'int64') outData = new BigInt64Array(total);
  else if (dtype === 'uint64') outData = new BigUint64Array(total);
  else throw new UnsupportedError(`MatMul on ${dtype} is not supported`);
  for (let bi = 0; bi < nb; bi++) {
    let ao = 0;
    let bo = 0;
    let rem = bi;
    for (let d = 0; d < r; d++) {
      const idx = Math.floor(rem / bStr[d]!);
      rem -= idx * bStr[d]!;
      if (aP[d]! !== 1) ao += idx * aS[d]!;
      if (bP[d]! !== 1) bo += idx * bS[d]!;
    }
    ao *= m * k;
    bo *= k * n;
    const oo = bi * m * n;
    if (fl) mmFloat(av as ArrayLike<number>, ao, bv as ArrayLike<number>, bo, outData as Float32Array, oo, m, k, n);
    else if (dtype === 'int32' || dtype === 'uint32') mmInt32(av as Int32Array, ao, bv as Int32Array, bo, outData as Int32Array, oo, m, k, n);
    else mmBig(av as BigInt64Array, ao, bv as BigInt64Array, bo, outData as BigInt64Array, oo, m, k, n);
  }
  if (fl) return fromFloats(dtype, outDims, outData as Float32Array);
  return new Tensor(dtype, outData, outDims);
}

defineOp({
  name: 'MatMul',
  cost: matmulCost,
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  doc: 'numpy.matmul: batched matrix product with broadcasting of leading dims; 1-D operands are promoted',
  inferShape(ctx) {
    const a = needType(ctx, 0, MATMUL_TYPES, 'A');
    const b = needType(ctx, 1, MATMUL_TYPES, 'B');
    if (a.dtype !== b.dtype) ctx.fail(`A is ${a.dtype} but B is ${b.dtype}`);
    if (!a.shape || !b.shape) return [{ dtype: a.dtype, shape: undefined }];
    return [{ dtype: a.dtype, shape: matmulShape(a.shape, b.shape, ctx.fail).out }];
  },
  reference({ inputs }) {
    return [matmulTensors(inputs[0]!, inputs[1]!)];
  },
});

/**
 * Gemm: Y = alpha · A' · B' + beta · C, A' = transpose(A) if transA, B' likewise; C broadcasts
 * unidirectionally to (M, N).
 */
defineOp({
  name: 'Gemm',
  cost: matmulCost,
  inputs: [2, 3],
  outputs: [1, 1],
  attrs: {
    alpha: { type: 'float', default: 1.0 },
    beta: { type: 'float', default: 1.0 },
    transA: { type: 'int', default: 0 },
    transB: { type: 'int', default: 0 },
  },
  inferShape(ctx) {
    const types: readonly DType[] = [...FLOATS, 'int32', 'int64', 'uint32', 'uint64'];
    const a = needType(ctx, 0, types, 'A');
    const b = needType(ctx, 1, types, 'B');
    const c = ctx.inputs[2];
    if (a.dtype !== b.dtype) ctx.fail(`A is ${a.dtype} but B is ${b.dtype}`);
    if (c && c.dtype !== a.dtype) ctx.fail(`C is ${c.dtype} but A is ${a.dtype}`);
    if (!FLOATS.includes(a.dtype)) throw new UnsupportedError(`node '${ctx.node.name}' (Gemm): integer Gemm (${a.dtype}) is not supported`);
    const { transA, transB } = ctx.attrs;
    if (transA !== 0 && transA !== 1) ctx.fail(`transA must be 0 or 1, got ${transA}`);
    if (transB !== 0 && transB !== 1) ctx.fail(`transB must be 0 or 1, got ${transB}`);
    if (a.shape && a.shape.length !== 2) ctx.fail(`A must be 2-D, got [${a.shape.join(',')}]`);
    if (b.shape && b.shape.length !== 2) ctx.fail(`B must be 2-D, got [${b.shape.join(',')}]`);
    if (!a.shape || !b.shape) return [{ dtype: a.dtype, shape: undefined }];
    const m = transA ? a.shape[1]! : a.shape[0]!;
    const ka = transA ? a.shape[0]! : a.shape[1]!;
    const kb = transB ? b.shape[1]! : b.shape[0]!;
    const n = transB ? b.shape[0]! : b.shape[1]!;
    if (!dimEq(ka, kb)) ctx.fail(`inner dimensions differ: A' is [${m},${ka}], B' is [${kb},${n}]`);
    if (c?.shape) {
      // ONNX: "C: Optional input tensor C. ... should be unidirectional broadcastable to (M, N)"
      if (c.shape.length > 2) ctx.fail(`C must have rank ≤ 2, got [${c.shape.join(',')}]`);
      const want = [m, n];
      const cs = c.shape;
      for (let i = 0; i < cs.length; i++) {
        const d = cs[i]!;
        const t = want[2 - cs.length + i]!;
        if (d !== 1 && typeof d === 'number' && typeof t === 'number' && d !== t) ctx.fail(`C [${cs.join(',')}] does not broadcast to [${m},${n}]`);
      }
    }
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  reference({ inputs, attrs, outputTypes }) {
    const [A, B, C] = inputs;
    const { transA, transB, alpha, beta } = attrs;
    const [m, n] = outputTypes[0]!.shape as number[];
    const k = transA ? A!.dims[0]! : A!.dims[1]!;
    const a = floats(A!);
    const b = floats(B!);
    const out = A!.type === 'float64' ? new Float64Array(sizeOf([m!, n!])) : new Float32Array(sizeOf([m!, n!]));
    const acc = new Float64Array(n!);
    // index helpers for (possibly transposed) operands
    const aRow = transA ? 1 : k; // stride of i in A
    const aCol = transA ? m! : 1; // stride of p in A
    const bRow = transB ? 1 : n!; // stride of p in B
    const bCol = transB ? k : 1; // stride of j in B
    let c: Float32Array | Float64Array | undefined;
    let cR = 0;
    let cC = 0;
    if (C && beta !== 0) {
      c = floats(C);
      const cd = C.dims.length === 2 ? C.dims : C.dims.length === 1 ? [1, C.dims[0]!] : [1, 1];
      cR = cd[0] === 1 ? 0 : cd[1]!; // row stride of C itself (C may be (M, 1))
      cC = cd[1] === 1 ? 0 : 1;
    }
    for (let i = 0; i < m!; i++) {
      acc.fill(0);
      for (let p = 0; p < k; p++) {
        const av = a[i * aRow + p * aCol]!;
        const bo = p * bRow;
        for (let j = 0; j < n!; j++) acc[j]! += av * b[bo + j * bCol]!;
      }
      for (let j = 0; j < n!; j++) {
        let v = alpha * acc[j]!;
        if (c) v += beta * c[i * cR + j * cC]!;
        out[i * n! + j] = v;
      }
    }
    return [fromFloats(A!.type, [m!, n!], out)];
  },
});

// ONNX Det: "Det calculates determinant of a square matrix or batches of square matrices ... X [*, M, M] → Y [*]"
// (LU decomposition with partial pivoting, in float64)
defineOp({
  name: 'Det',
  cost: ({ inputs: [x] }) => elems(x) * dim(x, -1),
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const x = needType(ctx, 0, FLOATS, 'X');
    if (!x.shape) return [{ dtype: x.dtype }];
    const r = x.shape.length;
    if (r < 2) ctx.fail(`X must have rank ≥ 2, got ${r}`);
    const [a, b] = [x.shape[r - 2], x.shape[r - 1]];
    if (typeof a === 'number' && typeof b === 'number' && a !== b) ctx.fail(`X must hold square matrices, got ${a}×${b}`);
    return [{ dtype: x.dtype, shape: x.shape.slice(0, -2) }];
  },
  reference({ inputs, outputTypes }) {
    const x = inputs[0]!;
    const r = x.dims.length;
    const M = x.dims[r - 1]!;
    const v = floats(x);
    const batch = M ? x.size / (M * M) : sizeOf(x.dims.slice(0, -2));
    const out = new Float64Array(batch);
    const a = new Float64Array(M * M);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < M * M; i++) a[i] = v[b * M * M + i]!;
      let det = 1;
      for (let c = 0; c < M; c++) {
        let piv = c;
        for (let i = c + 1; i < M; i++) if (Math.abs(a[i * M + c]!) > Math.abs(a[piv * M + c]!)) piv = i;
        if (a[piv * M + c] === 0) {
          det = 0;
          break;
        }
        if (piv !== c) {
          for (let k = 0; k < M; k++) [a[c * M + k], a[piv * M + k]] = [a[piv * M + k]!, a[c * M + k]!];
          det = -det;
        }
        const d = a[c * M + c]!;
        det *= d;
        for (let i = c + 1; i < M; i++) {
          const f = a[i * M + c]! / d;
          for (let k = c; k < M; k++) a[i * M + k]! -= f * a[c * M + k]!;
        }
      }
      out[b] = det;
    }
    return [fromFloats(outputTypes[0]!.dtype, x.dims.slice(0, -2), out)];
  },
});
