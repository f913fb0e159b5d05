import { UnsupportedError } from '../errors.js';
import { type MaskFn, attnMask, catSeq, gqaLengths, msRotary, rotateInPlace, splitHeads } from '../ops/contrib-attention.js';
import { attentionBias } from '../ops/attention.js';
import { expandTo } from '../ops/broadcast.js';
import type { TypedArray } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import type { Tensor as TensorT } from '../tensor/tensor.js';
import { type AttendArgs, type KeyRange, type Strided, attendStrided } from './attend.js';
import { PackedGemmF32, pinInputs, runBatchedMatMul } from './gemm.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type Arena, arena, bindConstant, kernels } from './wasm.js';

/**
 * float32 kernels for the com.microsoft attention ops (src/ops/contrib-attention.ts): per batch and kv head,
 * scores = (scale·Q)·Kᵀ through the batched matmul (Kᵀ packed in place from K, runBatchedMatMul), the additive mask
 * on the scores, f32_softmax on the last axis in place, then scores·V through the batched matmul again. Heads
 * sharing a kv head (GroupQueryAttention) are stacked as rows of one matmul. Attention's packed Q/K/V projection runs
 * on the packed f32 GEMM. RotaryEmbedding runs in float32 TypeScript (a pointwise rotation; no reference fallback).
 */

const MS = 'com.microsoft';

/** (B, S, H·D) rows of width `ld` from column `col0` → (B, H, S, D) float32, ·scale (+ bias[bcol0 + col]). */
const heads = (x: ArrayLike<number>, B: number, S: number, H: number, D: number, ld: number, col0: number, scale = 1, bias?: ArrayLike<number>, bcol0 = 0): Float32Array =>
  splitHeads(x, B, S, H, D, ld, col0, new Float32Array(B * H * S * D), scale, bias, bcol0);

/** Add row (b, h, i) of a (B, N, S, T) bias to a score row. */
const biasRows = (bias: Float64Array, N: number, S: number, T: number): RowMask => (row, b, h, i) => {
  const o = ((b * N + h) * S + i) * T;
  for (let j = 0; j < T; j++) row[j] = row[j]! + bias[o + j]!;
};

/** A reference MaskFn (b, h, i, j) as a row writer over the first `T(b)` keys; keys from T(b) on are −∞. */
const rowMask = (fn: MaskFn | undefined, T?: (b: number) => number): RowMask | undefined =>
  fn &&
  ((row, b, h, i) => {
    const n = T ? T(b) : row.length;
    for (let j = 0; j < n; j++) row[j] = row[j]! + fn(b, h, i, j);
    row.fill(-Infinity, n);
  });

/** Additive mask writer: adds to (or sets −∞ in) the score row (b, h, i) of T floats. */
type RowMask = (row: Float32Array, b: number, h: number, i: number) => void;

/**
 * Y (B, S, N·vhs) in kernel memory = softmax((Q·Kᵀ) + mask) · V with Q (B, N, S, hs) already scaled, K (B, Nkv, T,
 * hs), V (B, Nkv, T, vhs) float32; q heads h use kv head ⌊h / (N/Nkv)⌋. A row whose every score is −∞ gives zeros.
 * Without a softcap this runs the fused kernel (kernels/attend.ts, asm/f32_attention.ts): the mask rows are
 * written once into kernel memory (or, for GroupQueryAttention, given as key windows plus the attention bias read
 * in place) and the output is written straight into its (B, S, N·vhs) rows. With a softcap (tanh between the
 * scores and the softmax) it runs the batched matmul, softmax and matmul as separate passes.
 */
export function attendF32(mem: Arena, q: Float32Array, k: Float32Array, v: Float32Array, B: number, N: number, Nkv: number, S: number, T: number, hs: number, vhs: number, mask: RowMask | FusedMask | undefined, softcap = 0, merge = true): Float32Array {
  if (softcap > 0) return attendUnfused(mem, q, k, v, B, N, Nkv, S, T, hs, vhs, typeof mask === 'function' ? mask : mask && fusedRows(mask, T), softcap, merge);
  const { ptrs, copied } = pinInputs(mem, [q, k, v], 'attention input');
  const n = B * S * N * vhs;
  let mp = 0;
  let mview: Strided | undefined;
  let keys: AttendArgs['keys'];
  try {
    if (typeof mask === 'function') {
      // the reference's mask writer, one row of T floats per (b, h, i), written once into kernel memory
      mp = mem.alloc(B * N * S * T * 4, 'attention mask');
      const m = mem.f32(mp, B * N * S * T).fill(0); // the writers add to the row
      for (let b = 0; b < B; b++)
        for (let h = 0; h < N; h++)
          for (let i = 0; i < S; i++) mask(m.subarray(((b * N + h) * S + i) * T, ((b * N + h) * S + i + 1) * T), b, h, i);
      mview = { ptr: mp, sb: N * S * T, sh: S * T, si: T };
    } else if (mask) {
      keys = mask.keys;
      if (mask.bias) {
        const bias = mask.bias;
        mp = mem.alloc(bias.data.length * 4, 'attention bias');
        mem.f32(mp, bias.data.length).set(bias.data);
        mview = { ptr: mp, sb: bias.sb, sh: bias.sh, si: bias.si };
      }
    }
    const yp = mem.alloc(n * 4, 'attention output');
    const o: Strided = merge ? { ptr: yp, sb: S * N * vhs, sh: vhs, si: N * vhs } : { ptr: yp, sb: N * S * vhs, sh: S * vhs, si: vhs };
    attendStrided(mem, {
      B, N, Nkv, S, T, hd: hs, vd: vhs, scale: 1, mask: mview, keys,
      q: { ptr: ptrs[0]!, sb: N * S * hs, sh: S * hs, si: hs },
      k: { ptr: ptrs[1]!, sb: Nkv * T * hs, sh: T * hs, si: hs },
      v: { ptr: ptrs[2]!, sb: Nkv * T * vhs, sh: T * vhs, si: vhs },
      o,
    });
    return mem.f32(yp, n);
  } finally {
    if (mp) mem.release(mp);
    for (const p of copied) mem.release(p);
  }
}

/**
 * A mask for the fused kernel without a per-row callback: key windows per batch (causal, key lengths, local window)
 * and an optional additive bias read with strides (rows of T floats).
 */
interface FusedMask {
  keys?: (b: number) => KeyRange;
  bias?: { data: Float32Array; sb: number; sh: number; si: number };
}

/** The same mask as a row writer (for the unfused softcap path). */
function fusedRows(m: FusedMask, T: number): RowMask {
  return (row, b, h, i) => {
    const kr = m.keys?.(b);
    const lo = kr ? kr.lo + i * kr.dlo : 0;
    const hi = kr ? Math.min(kr.hi + i * kr.dhi, kr.end ?? T) : T;
    if (m.bias) {
      const o = b * m.bias.sb + h * m.bias.sh + i * m.bias.si;
      for (let j = 0; j < T; j++) row[j] = row[j]! + m.bias.data[o + j]!;
    }
    for (let j = 0; j < T; j++) if (j < lo || j >= hi) row[j] = -Infinity;
  };
}

/** attendF32 as separate passes: batched Q·Kᵀ, softcap and mask on the scores, f32_softmax, batched ·V. */
function attendUnfused(mem: Arena, q: Float32Array, k: Float32Array, v: Float32Array, B: number, N: number, Nkv: number, S: number, T: number, hs: number, vhs: number, mask: RowMask | undefined, softcap: number, merge: boolean): Float32Array {
  const ex = kernels()!;
  const g = N / Nkv;
  // heads of one group are contiguous in q: (B, Nkv, g·S, hs) rows against that kv head's K
  const qT = new Tensor('float32', q, [B, Nkv, g * S, hs]);
  const kT = new Tensor('float32', k, [B, Nkv, T, hs]);
  const sc = runBatchedMatMul(mem, qT, kT, true, [B, Nkv, g * S, T], -Infinity, Infinity);
  const sp = sc.byteOffset;
  const rows = B * N * S;
  let ctxp = 0;
  try {
    if (softcap > 0 || mask) {
      const view = mem.f32(sp, rows * T);
      for (let r = 0; r < rows; r++) {
        const row = view.subarray(r * T, (r + 1) * T);
        if (softcap > 0) for (let j = 0; j < T; j++) row[j] = softcap * Math.tanh(row[j]! / softcap);
        if (mask) {
          const i = r % S;
          const bh = (r - i) / S;
          mask(row, Math.floor(bh / N), bh % N, i);
        }
      }
    }
    if (rows && T) ex.f32_softmax(sp, rows, T, sp);
    if (mask) {
      // f32_softmax gives NaN for a row of −∞ (0/0): such a row attends to nothing
      const view = mem.f32(sp, rows * T);
      for (let r = 0; r < rows; r++) if (Number.isNaN(view[r * T]!)) view.fill(0, r * T, (r + 1) * T);
    }
    const pT = new Tensor('float32', mem.f32(sp, rows * T), [B, Nkv, g * S, T]);
    const vT = new Tensor('float32', v, [B, Nkv, T, vhs]);
    ctxp = runBatchedMatMul(mem, pT, vT, false, [B, Nkv, g * S, vhs], -Infinity, Infinity).byteOffset;
  } finally {
    mem.release(sp);
  }
  const n = B * S * N * vhs;
  if (!merge) return mem.f32(ctxp, n); // (B, N, S, vhs) as it is
  // (B, N, S, vhs) → (B, S, N·vhs), in kernel memory for the next kernel
  const yp = mem.alloc(n * 4, 'attention output');
  const ctx = mem.f32(ctxp, n);
  const y = mem.f32(yp, n);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < N; h++)
      for (let s = 0; s < S; s++) {
        const src = ((b * N + h) * S + s) * vhs;
        const dst = (b * S + s) * N * vhs + h * vhs;
        y.set(ctx.subarray(src, src + vhs), dst);
      }
  mem.release(ctxp);
  return y;
}

const f32 = (t: TensorT | undefined): Float32Array => t!.data as Float32Array;

/**
 * `t` with its data copied out if it is a view of kernel memory: the matmuls allocate, which may grow the memory
 * and detach such views, so inputs read after them (K, V, masks) must not be views.
 */
function stable<T extends TensorT | undefined>(mem: Arena, t: T): T {
  if (!t || mem.ptrOf(t) === undefined) return t;
  return new Tensor(t.type, (t.data as Float32Array).slice(), [...t.dims]) as T;
}

// ---------------------------------------------------------------------------------------------------------

const msAttentionKernel: KernelDef = {
  op: 'Attention',
  domain: MS,
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    if (!mem || !kernels()) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const w = constant(1);
    if (!w || w.type !== 'float32' || w.dims.length !== 2) return decline('weights are not a 2-D float32 constant');
    const bias = node.inputs[2] ? constant(2) : undefined;
    if (node.inputs[2] && (!bias || bias.type !== 'float32')) return decline('bias is not a float32 constant');
    const [In, total] = w.dims as [number, number];
    const N: number = attrs.num_heads;
    const qkv: number[] | undefined = attrs.qkv_hidden_sizes?.length ? attrs.qkv_hidden_sizes : undefined;
    const H = qkv ? qkv[0]! : total / 3;
    const Hv = qkv ? qkv[2]! : total / 3;
    const hs = H / N;
    const vhs = Hv / N;
    const gemm = new PackedGemmF32(mem, In, total, w.data as Float32Array, bias?.data as Float32Array | undefined);
    const scale: number = attrs.scale ?? 1 / Math.sqrt(hs);
    return {
      name: 'f32_attention',
      run([x, , , mask0, past, abias0], outTypes) {
        const mask = stable(mem, mask0);
        const abias = stable(mem, abias0);
        const [B, S] = x!.dims as [number, number];
        const proj = gemm.runResident(x!.data as Float32Array, B * S);
        let q: Float32Array;
        let k: Float32Array;
        let v: Float32Array;
        try {
          q = heads(proj.view, B, S, N, hs, total, 0, scale);
          k = heads(proj.view, B, S, N, hs, total, H);
          v = heads(proj.view, B, S, N, vhs, total, 2 * H);
        } finally {
          mem.release(proj.ptr);
        }
        const P = past ? past.dims[3]! : 0;
        if (past) {
          const pv = f32(past);
          const half = B * N * P * hs;
          k = catSeq(pv.subarray(0, half), P, k, S, B * N, hs, new Float32Array(B * N * (P + S) * hs)) as Float32Array;
          v = catSeq(pv.subarray(half), P, v, S, B * N, vhs, new Float32Array(B * N * (P + S) * vhs)) as Float32Array;
        }
        const T = P + S;
        const y = attendF32(mem, q, k, v, B, N, N, S, T, hs, vhs, rowMask(attnMask(mask, abias, B, N, S, T, P, !!attrs.unidirectional, attrs.mask_filter_value)));
        const outs = [new Tensor('float32', y, [B, S, Hv])];
        if (outTypes.length > 1) {
          const pres = new Float32Array(2 * B * N * T * hs);
          pres.set(k, 0);
          pres.set(v, B * N * T * hs);
          outs.push(new Tensor('float32', pres, [2, B, N, T, hs]));
        }
        return outs;
      },
      dispose: () => gemm.dispose(),
    };
  },
};

const mhaKernel: KernelDef = {
  op: 'MultiHeadAttention',
  domain: MS,
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    if (!mem || !kernels()) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`query is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const N: number = attrs.num_heads;
    return {
      name: 'f32_attention',
      run([q0, k1, v1, bias, mask1, abias1, pk, pv], outTypes) {
        const [k0, v0, mask, abias] = [k1, v1, mask1, abias1].map((t) => stable(mem, t));
        const [B, S, H] = q0!.dims as [number, number, number];
        const hs = H / N;
        const scale: number = attrs.scale ?? 1 / Math.sqrt(hs);
        const bv = bias ? f32(bias) : undefined;
        const q = heads(f32(q0), B, S, N, hs, H, 0, scale, bv, 0);
        let k: Float32Array;
        let v: Float32Array;
        let L: number;
        let vhs: number;
        if (k0!.dims.length === 4) {
          L = k0!.dims[2]!;
          vhs = v0!.dims[3]!;
          k = f32(k0);
          v = f32(v0);
        } else {
          L = k0!.dims[1]!;
          const Hv = v0!.dims[2]!;
          vhs = Hv / N;
          k = heads(f32(k0), B, L, N, hs, H, 0, 1, bv, H);
          v = heads(f32(v0), B, L, N, vhs, Hv, 0, 1, bv, 2 * H);
        }
        const P = pk ? pk.dims[2]! : 0;
        if (pk) {
          k = catSeq(f32(pk), P, k, L, B * N, hs, new Float32Array(B * N * (P + L) * hs)) as Float32Array;
          v = catSeq(f32(pv), P, v, L, B * N, vhs, new Float32Array(B * N * (P + L) * vhs)) as Float32Array;
        }
        const T = P + L;
        const y = attendF32(mem, q, k, v, B, N, N, S, T, hs, vhs, rowMask(attnMask(mask, abias, B, N, S, T, P, !!attrs.unidirectional, attrs.mask_filter_value)));
        const outs = [new Tensor('float32', y, [B, S, N * vhs]), new Tensor('float32', k, [B, N, T, hs]), new Tensor('float32', v, [B, N, T, vhs])];
        return outs.slice(0, outTypes.length);
      },
    };
  },
};

const gqaKernel: KernelDef = {
  op: 'GroupQueryAttention',
  domain: MS,
  backend: 'wasm',
  prepare(gnode, attrs, types) {
    const mem = arena();
    if (!mem || !kernels()) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`query is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const N: number = attrs.num_heads;
    const Nkv: number = attrs.kv_num_heads;
    return {
      name: 'f32_attention',
      run([q0, k0, v0, pk, pv, sk, tl, cc, sc, pos, abias1], outTypes) {
        const abias = stable(mem, abias1);
        const [B, S, D] = q0!.dims as [number, number, number];
        const packed = !k0;
        const hs = D / (packed ? N + 2 * Nkv : N);
        const Pbuf = pk ? pk.dims[2]! : 0;
        const totalLen = (tl!.data as Int32Array)[0]!;
        const node = { name: gnode.name };
        const { first, past, total, Tp } = gqaLengths(node, sk!.data as Int32Array, totalLen, B, S, Pbuf, (m) => {
          throw new UnsupportedError(m);
        });
        const scale: number = attrs.scale ?? 1 / Math.sqrt(hs);
        const qv = f32(q0);
        const q = heads(qv, B, S, N, hs, packed ? D : N * hs, 0);
        const kn = packed ? heads(qv, B, S, Nkv, hs, D, N * hs) : heads(f32(k0), B, S, Nkv, hs, Nkv * hs, 0);
        const vn = packed ? heads(qv, B, S, Nkv, hs, D, (N + Nkv) * hs) : heads(f32(v0), B, S, Nkv, hs, Nkv * hs, 0);
        if (attrs.do_rotary) {
          const rot = cc!.dims[1]! * 2;
          const pd = pos?.data as BigInt64Array | undefined;
          const posOf = pd ? (b: number, s: number) => Number(pd[b * S + s]) : (b: number, s: number) => (first ? s : past[b]! + s);
          const what = `node '${gnode.name}'`;
          rotateInPlace(q, B, N, S, rot, !!attrs.rotary_interleaved, f32(cc), f32(sc), cc!.dims[0]!, (b, h, s) => ((b * N + h) * S + s) * hs, posOf, what);
          rotateInPlace(kn, B, Nkv, S, rot, !!attrs.rotary_interleaved, f32(cc), f32(sc), cc!.dims[0]!, (b, h, s) => ((b * Nkv + h) * S + s) * hs, posOf, what);
        }
        if (scale !== 1) for (let i = 0; i < q.length; i++) q[i]! *= scale;
        const PK = new Float32Array(B * Nkv * Tp * hs);
        const PV = new Float32Array(B * Nkv * Tp * hs);
        const pkv = pk ? f32(pk) : undefined;
        const pvv = pv ? f32(pv) : undefined;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < Nkv; h++) {
            const bh = b * Nkv + h;
            const n = past[b]! * hs;
            if (n) {
              PK.set(pkv!.subarray(bh * Pbuf * hs, bh * Pbuf * hs + n), bh * Tp * hs);
              PV.set(pvv!.subarray(bh * Pbuf * hs, bh * Pbuf * hs + n), bh * Tp * hs);
            }
            PK.set(kn.subarray(bh * S * hs, (bh + 1) * S * hs), bh * Tp * hs + n);
            PV.set(vn.subarray(bh * S * hs, (bh + 1) * S * hs), bh * Tp * hs + n);
          }
        // gqaMask as key windows: query s of batch b sees keys [past_b + s + 1 − W, past_b + s] (W ≤ 0: from 0),
        // and none from total_b on; attention_bias (B|1, N|1, S, totalLen) is read with strides
        const W: number = attrs.local_window_size;
        const keys = (b: number): KeyRange => ({ lo: W > 0 ? past[b]! + 1 - W : 0, dlo: W > 0 ? 1 : 0, hi: past[b]! + 1, dhi: 1, end: total[b]! });
        const bd = abias?.dims;
        const bias = abias && bd ? { data: f32(abias), sb: bd[0] === 1 ? 0 : bd[1]! * S * totalLen, sh: bd[1] === 1 ? 0 : S * totalLen, si: totalLen } : undefined;
        const y = attendF32(mem, q, PK, PV, B, N, Nkv, S, Tp, hs, hs, { keys, bias }, attrs.softcap);
        const outs = [new Tensor('float32', y, [B, S, N * hs]), new Tensor('float32', PK, [B, Nkv, Tp, hs]), new Tensor('float32', PV, [B, Nkv, Tp, hs])];
        return outs.slice(0, outTypes.length);
      },
    };
  },
};

const rotaryKernel: KernelDef = {
  op: 'RotaryEmbedding',
  domain: MS,
  backend: 'wasm',
  prepare(node, attrs, types) {
    if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    return {
      name: 'ts_rotary_f32',
      run(inputs) {
        const x = inputs[0]!;
        return [new Tensor('float32', msRotary(node.name, inputs as TensorT[], attrs, Float32Array.from(f32(x))), [...x.dims])];
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------------------
// ONNX (opset 23) Attention, RotaryEmbedding (src/ops/attention.ts); RMSNormalization is in kernels/contrib.ts
// ---------------------------------------------------------------------------------------------------------

const onnxAttentionKernel: KernelDef = {
  op: 'Attention',
  backend: 'wasm',
  prepare(node, attrs, types) {
    const mem = arena();
    if (!mem || !kernels()) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`Q is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    if (node.outputs[3]) return decline('qk_matmul_output is requested');
    if (attrs.softmax_precision && attrs.softmax_precision !== 1) return decline(`softmax_precision ${attrs.softmax_precision}`);
    return {
      name: 'f32_attention',
      run([Q, K1, V1, mask1, pk, pv, nonpad], outTypes) {
        const [K, V, mask] = [K1, V1, mask1].map((t) => stable(mem, t));
        const r = Q!.dims.length;
        const B = Q!.dims[0]!;
        let q: Float32Array;
        let k: Float32Array;
        let v: Float32Array;
        let N: number;
        let Nkv: number;
        let S: number;
        let L: number;
        let hs: number;
        let vhs: number;
        if (r === 4) {
          [, N, S, hs] = Q!.dims as [number, number, number, number];
          [, Nkv, L] = K!.dims as [number, number, number];
          vhs = V!.dims[3]!;
          q = f32(Q);
          k = f32(K);
          v = f32(V);
        } else {
          N = attrs.q_num_heads;
          Nkv = attrs.kv_num_heads;
          S = Q!.dims[1]!;
          L = K!.dims[1]!;
          hs = Q!.dims[2]! / N;
          vhs = V!.dims[2]! / Nkv;
          q = heads(f32(Q), B, S, N, hs, N * hs, 0);
          k = heads(f32(K), B, L, Nkv, hs, Nkv * hs, 0);
          v = heads(f32(V), B, L, Nkv, vhs, Nkv * vhs, 0);
        }
        const scale: number = attrs.scale ?? 1 / Math.sqrt(hs);
        const qs = new Float32Array(q.length);
        for (let i = 0; i < q.length; i++) qs[i] = q[i]! * scale;
        const P = pk ? pk.dims[2]! : 0;
        if (pk) {
          k = catSeq(f32(pk), P, k, L, B * Nkv, hs, new Float32Array(B * Nkv * (P + L) * hs)) as Float32Array;
          v = catSeq(f32(pv), P, v, L, B * Nkv, vhs, new Float32Array(B * Nkv * (P + L) * vhs)) as Float32Array;
        }
        const T = P + L;
        const y = attendF32(mem, qs, k, v, B, N, Nkv, S, T, hs, vhs, mask || nonpad || attrs.is_causal ? biasRows(attentionBias(mask, nonpad, B, N, S, T, P, !!attrs.is_causal, !!pk), N, S, T) : undefined, attrs.softcap, r === 3);
        const outs = [new Tensor('float32', y, r === 4 ? [B, N, S, vhs] : [B, S, N * vhs]), new Tensor('float32', k, [B, Nkv, T, hs]), new Tensor('float32', v, [B, Nkv, T, vhs])];
        return outs.slice(0, outTypes.length);
      },
    };
  },
};

const onnxRotaryKernel: KernelDef = {
  op: 'RotaryEmbedding',
  backend: 'wasm',
  prepare(node, attrs, types) {
    if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    return {
      name: 'ts_rotary_f32',
      run([x, cc, sc, p]) {
        const four = x!.dims.length === 4;
        const B = x!.dims[0]!;
        const S = four ? x!.dims[2]! : x!.dims[1]!;
        const H = four ? x!.dims[1]! : attrs.num_heads;
        const D = four ? x!.dims[3]! : x!.dims[2]! / H;
        const rot: number = attrs.rotary_embedding_dim || D;
        if (!Number.isInteger(D) || cc!.dims[cc!.dims.length - 1] !== rot / 2) return undefined; // the reference says why
        const y = Float32Array.from(f32(x));
        const pv = p?.data as BigInt64Array | undefined;
        const pos = pv ? (b: number, s: number) => Number(pv[b * S + s]) : (b: number, s: number) => b * S + s;
        const rows = pv ? cc!.dims[0]! : B * S;
        const at = four ? (b: number, h: number, s: number) => ((b * H + h) * S + s) * D : (b: number, h: number, s: number) => (b * S + s) * H * D + h * D;
        rotateInPlace(y, B, H, S, rot, !!attrs.interleaved, f32(cc), f32(sc), rows, at, pos, `node '${node.name}' (RotaryEmbedding)`);
        return [new Tensor('float32', y, [...x!.dims])];
      },
    };
  },
};

/** Row-major element strides of `dims`. */
const stridesOf = (dims: readonly number[]): number[] => {
  const st = new Array<number>(dims.length);
  for (let i = dims.length - 1, acc = 1; i >= 0; i--) {
    st[i] = acc;
    acc *= dims[i]!;
  }
  return st;
};

/**
 * The attention block PyTorch exports, fused by the plan (src/ir/passes/fuse-xfmr.ts) into ai.edgeq
 * ScaledDotProductAttention: softmax(Q·Kt·scale + mask)·V on the fused kernel (kernels/attend.ts). Q, Kt and V are
 * read in place through the head Transposes that produce them (Transpose(Reshape(x)) with the head dim last: Q and V
 * as rows of x, Kᵀ packed from x's rows), so the [B·H, S, hd] copies are not made; batch dims (≤ 2, numpy
 * broadcast) map to the kernel's batch and head strides; a mask broadcast over keys is expanded once.
 */
const sdpaKernel: KernelDef = {
  op: 'ScaledDotProductAttention',
  domain: 'ai.edgeq',
  backend: 'wasm',
  prepare(_node, attrs, types, constant, producer) {
    const mem = arena();
    if (!mem || !kernels()) return decline('no WASM memory');
    if (types.some((t, i) => t && t.dtype !== 'float32' && i < 4)) return decline(`inputs are ${types.map((t) => t?.dtype ?? '-').join('/')}, not float32`);
    // a constant all-zero mask (a decoder step's one-row causal mask, folded) adds nothing: skipped, not copied per run
    // (the shape rule has checked that it broadcasts to the scores without widening them)
    const m = constant(3);
    const noMask = !!m && (m.data as Float32Array).every((x) => x === 0);
    if (types.slice(0, 3).some((t) => t?.shape && (t.shape.length < 2 || t.shape.length > 4))) return decline('Q/Kt/V rank is not 2, 3 or 4');
    // bypass: Q and V need the Transpose to keep the head dim last; Kt needs its second-to-last axis to be the input's last
    const perms: (number[] | undefined)[] = [0, 1, 2].map((i) => {
      const p = producer?.(i);
      if (!p || p.node.op !== 'Transpose' || p.node.domain !== '') return undefined;
      const r = types[i]?.shape?.length;
      const perm = (p.attrs.perm as number[] | undefined) ?? (r ? [...Array(r).keys()].reverse() : undefined);
      if (!perm || perm.length < 2 || perm.length > 4) return undefined;
      const last = perm.length - 1;
      return (i === 1 ? perm[last - 1] : perm[last]) === last ? perm : undefined;
    });
    const scale: number = attrs.scale;
    return {
      name: 'f32_attention_fused',
      ...(perms.some((p) => p) ? { readsInstead: (i: number) => (i < 3 && perms[i] ? producer!(i)!.node.inputs[0] : undefined) } : {}),
      run([q, kt, v, mask], [out]) {
        const shape = out!.shape as number[];
        if (shape.length > 4) return undefined; // only without a bypass (ranks of bypassed inputs were checked)
        const g = geometry(q!.dims, kt!.dims, v!.dims, mask && !noMask ? mask.dims : undefined, shape);
        // a mask broadcast over keys is expanded once into rows of T
        const md = !g.mask ? undefined : g.expandMask ? Float32Array.from(expandTo(mask!, g.maskDims) as ArrayLike<number>) : (mask!.data as Float32Array);
        const ins = [q!.data as Float32Array, kt!.data as Float32Array, v!.data as Float32Array, ...(md ? [md] : [])];
        const { ptrs, copied } = pinInputs(mem, ins, 'attention input');
        try {
          const yp = mem.alloc(g.B * g.N * g.S * g.vd * 4, 'attention output');
          g.attend(ptrs[0]!, ptrs[1]!, ptrs[2]!, md ? ptrs[3]! : 0, yp);
          return [new Tensor('float32', mem.f32(yp, g.B * g.N * g.S * g.vd), shape)];
        } finally {
          for (const p of copied) mem.release(p);
        }
      },
      // Q, Kt, V blocks of this run (a Transpose's input where read through); a mask block, or a constant one copied
      // (expanded where it broadcasts over keys) into plan memory once
      bind({ ins, consts, inTypes, outs: [yp], outTypes: [o], scratch }) {
        const shape = o?.shape as number[] | undefined;
        const dims = inTypes.slice(0, 4).map((t) => t?.shape as number[] | undefined);
        if (!shape || shape.length > 4 || yp === undefined || yp < 0 || [0, 1, 2].some((i) => !dims[i] || (ins[i] ?? -1) < 0)) return undefined;
        const useMask = (inTypes[3] || consts[3]) && !noMask;
        const mdims = useMask ? ((consts[3]?.dims ?? dims[3]) as number[] | undefined) : undefined;
        if (useMask && !mdims) return undefined;
        const g = geometry(dims[0]!, dims[1]!, dims[2]!, mdims, shape);
        let mp = 0;
        if (g.mask) {
          const c = consts[3];
          if (c) {
            mp = bindConstant(scratch, g.expandMask ? Float32Array.from(expandTo(c, g.maskDims) as ArrayLike<number>) : (c.data as Float32Array), 'attention mask');
          } else if (g.expandMask || (ins[3] ?? -1) < 0) return undefined;
          else mp = ins[3]!;
        }
        const [qp, kp, vp] = [ins[0]!, ins[1]!, ins[2]!];
        return () => g.attend(qp, kp, vp, mp, yp);
      },
    };

    /**
     * Operand dims and element strides (through the Transpose when bypassed), right-aligned to the output's rank, and
     * the call of attendStrided on pointers. `maskDims` undefined: no mask. A mask not spanning the keys is to be
     * expanded to `maskDims` ([…, S, T]) by the caller first (`expandMask`).
     */
    function geometry(qd: readonly number[], kd: readonly number[], vdims: readonly number[], md: readonly number[] | undefined, shape: readonly number[]) {
      const r = shape.length;
      const view = (d0: readonly number[], i: number): { dims: number[]; st: number[] } => {
        const perm = perms[i];
        let dims = [...d0];
        let st = stridesOf(dims);
        if (perm) {
          dims = perm.map((a) => d0[a]!);
          st = perm.map((a) => st[a]!);
        }
        while (dims.length < r) {
          dims.unshift(1);
          st.unshift(0);
        }
        return { dims, st: st.map((x, a) => (dims[a] === 1 && a < r - 2 ? 0 : x)) };
      };
      const Q = view(qd, 0);
      const K = view(kd, 1);
      const V = view(vdims, 2);
      const [S, hd] = Q.dims.slice(-2) as [number, number];
      const T = K.dims[r - 1]!;
      const vd = V.dims[r - 1]!;
      const B = r === 4 ? shape[0]! : 1;
      const N = r >= 3 ? shape[r - 3]! : 1;
      const bh = (st: number[]) => ({ sb: r === 4 ? st[0]! : 0, sh: r >= 3 ? st[r - 3]! : 0 });
      let mst: number[] | undefined;
      let expandMask = false;
      let maskDims: number[] = [];
      if (md) {
        const m = view(md, 3);
        if (m.dims[r - 1] === T || T <= 1) mst = m.dims.map((d, a) => (d === 1 ? 0 : m.st[a]!));
        else {
          expandMask = true;
          maskDims = [...shape.slice(0, -2), S, T];
          mst = stridesOf(maskDims).map((x, a) => (maskDims[a] === 1 ? 0 : x));
        }
      }
      const attend = (qp: number, kp: number, vp: number, mp: number, yp: number) =>
        attendStrided(mem!, {
          B, N, Nkv: N, S, T, hd, vd, scale, nanEmpty: true,
          q: { ptr: qp, ...bh(Q.st), si: Q.st[r - 2]! },
          k: { ptr: kp, ...bh(K.st), si: K.st[r - 1]!, sd: K.st[r - 2]! },
          v: { ptr: vp, ...bh(V.st), si: V.st[r - 2]! },
          o: { ptr: yp, sb: N * S * vd, sh: S * vd, si: vd },
          mask: mst && { ptr: mp, ...bh(mst), si: mst[r - 2]! },
        });
      return { B, N, S, vd, mask: !!mst, expandMask, maskDims, attend };
    }
  },
};

/**
 * CacheAttention (a decoder step's attention block over its explicit KV cache, fused by the plan: ops/attention.ts)
 * in one pass over the caches: each head's past rows are copied once from the feed (JS or kernel memory) into the
 * present block and the new rows written after them — present_k/present_v are made once, not concatenated from
 * transposed copies — then the fused attention kernel reads Q straight out of the q rows (column offset, row stride),
 * K and V from the present blocks in place, and writes Y as [B, S, H, vd] rows (the head merge's layout), so the
 * Split, the head Transposes, the two Concats and the output Transpose make no copies of their own.
 */
/** Past rows (K and V, bytes per layer) up to which CacheAttention binds into static plans (see its bind). */
export const BIND_CACHE_BYTES = 256 * 1024;

const cacheAttentionKernel: KernelDef = {
  op: 'CacheAttention',
  domain: 'ai.edgeq',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    if (!mem || !kernels()) return decline('no WASM memory');
    if (types.some((t) => t && t.dtype !== 'float32')) return decline(`inputs are ${types.map((t) => t?.dtype ?? '-').join('/')}, not float32`);
    // a constant all-zero mask (a decoder step's one-row causal mask, folded) adds nothing
    const m = constant(5);
    const noMask = !!m && (m.data as Float32Array).every((x) => x === 0);
    const H: number = attrs.heads;
    const [oq, ok, ov] = attrs.offsets as [number, number, number];
    const scale: number = attrs.scale;
    return {
      name: 'f32_cache_attention',
      run([q, k, v, pk, pv, mask]) {
        const [B, S, wq] = q!.dims as [number, number, number];
        const wk = k!.dims[2]!;
        const wv = v!.dims[2]!;
        const [, , P, hd] = pk!.dims as [number, number, number, number];
        const vd = pv!.dims[3]!;
        const T = P + S;
        let md: Float32Array | undefined;
        let mst: number[] | undefined;
        if (mask && !noMask) {
          const dims = [...new Array<number>(4 - mask.dims.length).fill(1), ...mask.dims];
          const full = dims[3] === T || T <= 1 ? dims : [B, H, S, T]; // broadcast over keys: expanded once into rows of T
          md = full === dims ? (mask.data as Float32Array) : Float32Array.from(expandTo(mask, full) as ArrayLike<number>);
          mst = stridesOf(full).map((x, a) => (full[a] === 1 ? 0 : x));
        }
        // inputs already in kernel memory by pointer, taken before anything here allocates (a grown memory detaches
        // their views); the others (JS arrays) are copied in after the allocations
        const ins = [q!.data as Float32Array, k!.data as Float32Array, v!.data as Float32Array, ...(md ? [md] : [])];
        const ptrs = ins.map((t) => mem.ptrOf({ data: t }) ?? -1);
        const pastPtr = [mem.ptrOf(pk!), mem.ptrOf(pv!)];
        const kBytes = B * H * T * hd * 4;
        const vBytes = B * H * T * vd * 4;
        const yBytes = B * S * H * vd * 4;
        const held: number[] = [];
        const copied: number[] = [];
        try {
          const kp = mem.alloc(kBytes, 'present_k');
          held.push(kp);
          const vp = mem.alloc(vBytes, 'present_v');
          held.push(vp);
          const yp = mem.alloc(yBytes, 'cache attention output');
          held.push(yp);
          ins.forEach((t, i) => {
            if (ptrs[i]! >= 0) return;
            const same = ins.indexOf(t); // q, k and v are often the one QKV array
            if (same < i) return void (ptrs[i] = ptrs[same]!);
            const p = mem.alloc(t.length * 4, 'cache attention input');
            copied.push(p);
            mem.f32(p, t.length).set(t);
            ptrs[i] = p;
          });
          // present = the past rows of each head (copied once, from the feed or its block), then the new rows
          const fill = (dst: number, past: Tensor, pp: number | undefined, src: number, w: number, o: number, d: number) => {
            const y = mem.f32(dst, B * H * T * d);
            const pd = pp === undefined ? (past.data as Float32Array) : mem.f32(pp, B * H * P * d);
            const x = mem.f32(src, B * S * w);
            for (let bh = 0; bh < B * H; bh++) {
              if (P) y.set(pd.subarray(bh * P * d, (bh + 1) * P * d), bh * T * d);
              const b = (bh / H) | 0;
              const at = o + (bh - b * H) * d;
              for (let s = 0; s < S; s++) y.set(x.subarray((b * S + s) * w + at, (b * S + s) * w + at + d), (bh * T + P + s) * d);
            }
          };
          fill(kp, pk!, pastPtr[0], ptrs[1]!, wk, ok, hd);
          fill(vp, pv!, pastPtr[1], ptrs[2]!, wv, ov, vd);
          if (T === 0 || S === 0) mem.f32(yp, B * S * H * vd).fill(0);
          else
            attendStrided(mem, {
              B, N: H, Nkv: H, S, T, hd, vd, scale, nanEmpty: true,
              q: { ptr: ptrs[0]! + 4 * oq, sb: S * wq, sh: hd, si: wq },
              k: { ptr: kp, sb: H * T * hd, sh: T * hd, si: hd },
              v: { ptr: vp, sb: H * T * vd, sh: T * vd, si: vd },
              o: { ptr: yp, sb: S * H * vd, sh: vd, si: H * vd },
              mask: mst && { ptr: ptrs[3]!, sb: mst[0]!, sh: mst[1]!, si: mst[2]! },
            });
          return [new Tensor('float32', mem.f32(yp, B * S * H * vd), [B, S, H, vd]), new Tensor('float32', mem.f32(kp, B * H * T * hd), [B, H, T, hd]), new Tensor('float32', mem.f32(vp, B * H * T * vd), [B, H, T, vd])];
        } catch (e) {
          for (const p of held) mem.release(p);
          throw e;
        } finally {
          for (const p of copied) mem.release(p);
        }
      },
      // in a static plan, past K/V that are graph inputs are read straight from the caller's feed into the present
      // blocks (readsFeed): each past row moves once per step, as on run(). A past in a block of its own (computed in
      // the graph, or a feed the plan copied in) is copied block to block: a second move per row, cheaper than run()'s
      // per-node dispatch only while the caches are small — larger ones stay on run()
      readsFeed: [3, 4],
      bind({ ins, consts, inTypes, outs, scratch, feeds }) {
        const dims = inTypes.map((t) => t?.shape as number[] | undefined);
        const pastFeed = [feeds?.[3], feeds?.[4]] as const;
        if (ins.slice(0, 3).some((p) => p < 0) || [3, 4].some((j) => ins[j]! < 0 && !pastFeed[j - 3]) || dims.slice(0, 5).some((d) => !d)) return undefined;
        const [B, S, wq] = dims[0] as [number, number, number];
        const wk = dims[1]![2]!;
        const wv = dims[2]![2]!;
        const [, , P, hd] = dims[3] as [number, number, number, number];
        const vd = dims[4]![3]!;
        const T = P + S;
        // a step (S = 1: f32_attn_step on scratch bound here; a bound call must not allocate); caches in blocks only small
        if (S !== 1 || ((ins[3]! >= 0 || ins[4]! >= 0) && B * H * P * (hd + vd) * 4 > BIND_CACHE_BYTES)) return undefined;
        let mptr = -1;
        let mst: number[] | undefined;
        if (node.inputs[5] && !noMask) {
          const m = consts[5] ?? undefined;
          const md = [...new Array<number>(4 - dims[5]!.length).fill(1), ...(m ? m.dims : dims[5]!)];
          const full = md[3] === T || T <= 1 ? md : [B, H, S, T];
          if (m) {
            // a constant mask (not all zeros): expanded into scratch once
            mptr = bindConstant(scratch, Float32Array.from(expandTo(m, full) as ArrayLike<number>), 'cache attention mask');
          } else {
            if (full !== md) return undefined; // a run-time mask broadcast over keys: run() expands it
            mptr = ins[5]!;
          }
          mst = stridesOf(full).map((x, a) => (full[a] === 1 ? 0 : x));
        }
        const kp = outs[1]! >= 0 ? outs[1]! : scratch(B * H * T * hd * 4, 'present_k');
        const vp = outs[2]! >= 0 ? outs[2]! : scratch(B * H * T * vd * 4, 'present_v');
        const yp = outs[0]! >= 0 ? outs[0]! : scratch(B * S * H * vd * 4, 'cache attention output');
        const [qp, kin, vin, pk, pv] = ins as [number, number, number, number, number];
        // past rows from the block at `past` (≥ 0) or from the feed `given` (JS memory or a view into kernel memory)
        const fill = (f: Float32Array, dst: number, past: number, given: (() => TypedArray) | undefined, src: number, w: number, o: number, d: number) => {
          const g = given?.() as Float32Array | undefined;
          const inMem = g !== undefined && g.buffer === f.buffer;
          const from = g === undefined ? past >> 2 : inMem ? g.byteOffset >> 2 : 0;
          for (let bh = 0; bh < B * H; bh++) {
            const at = from + bh * P * d;
            if (P && g && !inMem) f.set(g.subarray(at, at + P * d), (dst >> 2) + bh * T * d);
            else if (P) f.copyWithin((dst >> 2) + bh * T * d, at, at + P * d);
            const b = (bh / H) | 0;
            const col = (src >> 2) + o + (bh - b * H) * d;
            for (let s = 0; s < S; s++) f.copyWithin((dst >> 2) + (bh * T + P + s) * d, col + (b * S + s) * w, col + (b * S + s) * w + d);
          }
        };
        const sp = scratch(4 * T, 'cache attention scores');
        const ex = kernels()!;
        return () => {
          const f = new Float32Array(mem.buffer);
          fill(f, kp, pk, pastFeed[0], kin, wk, ok, hd);
          fill(f, vp, pv, pastFeed[1], vin, wv, ov, vd);
          // every head's one query row against its T keys read in place (attendStrided's S = 1 path)
          for (let b = 0; b < B; b++)
            ex.f32_attn_step(H, T, hd, vd, qp + 4 * (oq + b * wq), hd, kp + 4 * b * H * T * hd, T * hd, hd, vp + 4 * b * H * T * vd, T * vd, vd, scale, mst ? mptr + 4 * b * mst[0]! : 0, mst ? mst[1]! : 0, sp, yp + 4 * b * H * vd, vd, 1);
        };
      },
    };
  },
};

registerKernel(sdpaKernel);
registerKernel(cacheAttentionKernel);
registerKernel(onnxAttentionKernel);
registerKernel(onnxRotaryKernel);
registerKernel(msAttentionKernel);
registerKernel(mhaKernel);
registerKernel(gqaKernel);
registerKernel(rotaryKernel);
