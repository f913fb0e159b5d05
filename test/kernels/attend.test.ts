// The fused attention kernel (src/kernels/attend.ts → asm/f32_attention.ts f32_attn_rows) against the TS reference
// attention (attendRef in src/ops/contrib-attention.ts, the spec of the com.microsoft attention ops) over random shapes
// that hit the kernel's edges: query rows not a multiple of the 4-row block, keys not a multiple of the 8-key panel
// and of the 4-lane softmax vectors, head dims with vector tails, grouped kv heads (GroupQueryAttention), additive
// masks with −∞ entries and whole −∞ rows, causal / sliding key windows, and strided operands (Q/K/V interleaved in
// one fused-projection row, as the PyTorch pattern and a [B, H, cap, hd] cache lay them out).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attendStrided, type KeyRange, type Strided } from '../../src/kernels/attend.js';
import { arena } from '../../src/kernels/wasm.js';
import { attendRef } from '../../src/ops/contrib-attention.js';

function values(n: number, seed: number, scale = 1): Float32Array {
  let q = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    q = (Math.imul(q, 1103515245) + 12345) >>> 0;
    return (q / 2 ** 31 - 1) * scale;
  });
}

describe('f32_attn_rows: fused softmax(scale·Q·Kᵀ + mask)·V', () => {
  // com.microsoft Attention / GroupQueryAttention (ContribOperators.md): "softmax(Q·Kᵀ·scale + mask)·V", query head
  // h attending kv head h / (num_heads / kv_num_heads); ONNX Softmax: "exp(x − max) / Σ exp(x − max)" per row
  it('matches the reference over shapes, groups, masks, windows and strided layouts', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.constantFrom([1, 1], [2, 2], [4, 2], [6, 2], [8, 1], [3, 3]),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 21 }),
        fc.constantFrom(4, 5, 8, 13, 16),
        fc.constantFrom(4, 7, 8, 16),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 2 }),
        fc.boolean(),
        fc.constantFrom(1, 0.125, 0.5),
        fc.integer(),
        (B, [N, Nkv], S, P, extra, hd, vd, maskKind, window, packed, scale, seed) => {
          const T = P + S + extra;
          // Q (B, N, S, hd); K, V (B, Nkv, T, ·) — either contiguous or interleaved in one [B, S|T, rowW] row
          const q = values(B * N * S * hd, seed, 2);
          const k = values(B * Nkv * T * hd, seed ^ 0x55, 2);
          const v = values(B * Nkv * T * vd, seed ^ 0x99);
          // mask: none, random additive, −∞ at random keys (some whole rows), broadcast over heads (sh = 0)
          const mvals = values(B * N * S * T, seed ^ 0x77, 3);
          if (maskKind === 2) for (let i = 0; i < mvals.length; i++) mvals[i] = mvals[i]! > 0.5 || Math.floor(i / T) % 5 === 1 ? -Infinity : mvals[i]!;
          const mh = maskKind === 3 ? 1 : N;
          // key window: all keys; causal with past P; sliding window of 3 behind the causal edge
          const keys: KeyRange | undefined = window === 0 ? undefined : { lo: window === 2 ? P + 1 - 3 : 0, dlo: window === 2 ? 1 : 0, hi: P + 1, dhi: 1 };
          const want = attendRef(q, k, v, { B, N, Nkv, S, Tk: T, hs: hd, vhs: vd, scale }, (b, h, i, j) => {
            let m = maskKind ? mvals[((b * mh + (mh === 1 ? 0 : h)) * S + i) * T + j]! : 0;
            if (keys && (j < keys.lo + i * keys.dlo || j >= keys.hi + i * keys.dhi)) m = -Infinity;
            return m;
          });
          const put = (a: Float32Array): number => {
            const p = mem.alloc(a.length * 4 + 4, 'test');
            mem.f32(p, a.length).set(a);
            return p;
          };
          let qv: Strided;
          let kv: Strided;
          let vv: Strided;
          const ptrs: number[] = [];
          if (packed) {
            // [B, S, N·hd | …] rows: Q heads at column h·hd, row stride rowW; K, V likewise in their own [B, T, ·] rows
            const qw = N * hd + 3;
            const qa = new Float32Array(B * S * qw);
            for (let b = 0; b < B; b++) for (let h = 0; h < N; h++) for (let i = 0; i < S; i++) qa.set(q.subarray(((b * N + h) * S + i) * hd, ((b * N + h) * S + i + 1) * hd), (b * S + i) * qw + h * hd);
            const kw = Nkv * (hd + vd) + 1;
            const ka = new Float32Array(B * T * kw);
            for (let b = 0; b < B; b++)
              for (let h = 0; h < Nkv; h++)
                for (let j = 0; j < T; j++) {
                  ka.set(k.subarray(((b * Nkv + h) * T + j) * hd, ((b * Nkv + h) * T + j + 1) * hd), (b * T + j) * kw + h * hd);
                  ka.set(v.subarray(((b * Nkv + h) * T + j) * vd, ((b * Nkv + h) * T + j + 1) * vd), (b * T + j) * kw + Nkv * hd + h * vd);
                }
            const qp = put(qa);
            const kp = put(ka);
            ptrs.push(qp, kp);
            qv = { ptr: qp, sb: S * qw, sh: hd, si: qw };
            kv = { ptr: kp, sb: T * kw, sh: hd, si: kw };
            vv = { ptr: kp + 4 * Nkv * hd, sb: T * kw, sh: vd, si: kw };
          } else {
            const qp = put(q);
            const kp = put(k);
            const vp = put(v);
            ptrs.push(qp, kp, vp);
            qv = { ptr: qp, sb: N * S * hd, sh: S * hd, si: hd };
            kv = { ptr: kp, sb: Nkv * T * hd, sh: T * hd, si: hd };
            vv = { ptr: vp, sb: Nkv * T * vd, sh: T * vd, si: vd };
          }
          const mp = put(mvals);
          const op = put(new Float32Array(B * S * N * vd).fill(7));
          ptrs.push(mp, op);
          try {
            attendStrided(mem, {
              B, N, Nkv, S, T, hd, vd, scale, q: qv, k: kv, v: vv,
              o: { ptr: op, sb: S * N * vd, sh: vd, si: N * vd },
              mask: maskKind ? { ptr: mp, sb: mh * S * T, sh: mh === 1 ? 0 : S * T, si: T } : undefined,
              keys: keys && (() => keys),
            });
            const got = mem.f32(op, B * S * N * vd);
            for (let b = 0; b < B; b++)
              for (let h = 0; h < N; h++)
                for (let i = 0; i < S; i++)
                  for (let c = 0; c < vd; c++) {
                    const w = want[((b * N + h) * S + i) * vd + c]!;
                    const g = got[(b * S + i) * N * vd + h * vd + c]!;
                    // softmax weights sum to 1 and |v| ≤ 1: float32 rounding of the dot products and exps
                    if (!(Math.abs(g - w) <= 2e-5)) expect(`b${b} h${h} i${i} c${c}: ${g}`).toBe(`${w}`);
                  }
          } finally {
            for (const p of ptrs) mem.release(p);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  // the decoder-step path (asm/f32_attention.ts f32_attn_step: S = 1, every head in one call, K/V rows read in place
  // from a [B, N, cap, ·] cache with cap ≥ T) — same spec: "softmax(Q·Kᵀ·scale + mask)·V" per head
  it('decoder step (one query row per head) matches the reference over caches, masks and heads', () => {
    const mem = arena()!;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 37 }),
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom(1, 3, 4, 8, 13, 16, 20, 64),
        fc.constantFrom(1, 4, 7, 16, 17, 64),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.constantFrom(1, 0.125),
        fc.integer(),
        (B, N, T, spare, hd, vd, maskKind, nanEmpty, scale, seed) => {
          const cap = T + spare;
          const q = values(B * N * hd, seed, 2);
          const k = values(B * N * T * hd, seed ^ 0x55, 2);
          const v = values(B * N * T * vd, seed ^ 0x99);
          // mask: none, random additive, −∞ at random keys (head 1 of batch 0 fully masked), one row for all heads
          const mvals = values(B * N * T, seed ^ 0x77, 3);
          if (maskKind === 2) for (let i = 0; i < mvals.length; i++) mvals[i] = mvals[i]! > 0.5 || Math.floor(i / T) === 1 ? -Infinity : mvals[i]!;
          const mh = maskKind === 3 ? 1 : N;
          const want = attendRef(q, k, v, { B, N, Nkv: N, S: 1, Tk: T, hs: hd, vhs: vd, scale }, (b, h, _i, j) => (maskKind ? mvals[(b * mh + (mh === 1 ? 0 : h)) * T + j]! : 0));
          // K / V in capacity blocks: row j of head h at ((b·N + h)·cap + j)·d
          const kc = new Float32Array(B * N * cap * hd);
          const vc = new Float32Array(B * N * cap * vd);
          for (let bh = 0; bh < B * N; bh++) {
            kc.set(k.subarray(bh * T * hd, (bh + 1) * T * hd), bh * cap * hd);
            vc.set(v.subarray(bh * T * vd, (bh + 1) * T * vd), bh * cap * vd);
          }
          const put = (a: Float32Array): number => {
            const p = mem.alloc(a.length * 4 + 4, 'test');
            mem.f32(p, a.length).set(a);
            return p;
          };
          const ptrs = [put(q), put(kc), put(vc), put(mvals), put(new Float32Array(B * N * vd).fill(7))];
          const [qp, kp, vp, mp, op] = ptrs as [number, number, number, number, number];
          try {
            attendStrided(mem, {
              B, N, Nkv: N, S: 1, T, hd, vd, scale, nanEmpty,
              q: { ptr: qp, sb: N * hd, sh: hd, si: hd },
              k: { ptr: kp, sb: N * cap * hd, sh: cap * hd, si: hd },
              v: { ptr: vp, sb: N * cap * vd, sh: cap * vd, si: vd },
              o: { ptr: op, sb: N * vd, sh: vd, si: N * vd },
              mask: maskKind ? { ptr: mp, sb: mh * T, sh: mh === 1 ? 0 : T, si: T } : undefined,
            });
            const got = mem.f32(op, B * N * vd);
            for (let i = 0; i < got.length; i++) {
              const b = Math.floor(i / (N * vd));
              const h = Math.floor(i / vd) % N;
              const mrow = mvals.subarray((b * mh + (mh === 1 ? 0 : h)) * T, (b * mh + (mh === 1 ? 0 : h) + 1) * T);
              // a head that sees no key: NaN with nanEmpty (the unfused Softmax's 0/0), else zeros (the reference's)
              if (maskKind && mrow.every((x) => x === -Infinity) && nanEmpty) expect(got[i]).toBeNaN();
              else if (!(Math.abs(got[i]! - want[i]!) <= 2e-5)) expect(`${i}: ${got[i]}`).toBe(`${want[i]}`);
            }
          } finally {
            for (const p of ptrs) mem.release(p);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a row that sees no key gives zeros, or NaN with nanEmpty (the unfused Softmax 0/0)', () => {
    const mem = arena()!;
    const [S, T, hd] = [3, 9, 8];
    const put = (a: Float32Array): number => {
      const p = mem.alloc(a.length * 4, 'test');
      mem.f32(p, a.length).set(a);
      return p;
    };
    const qp = put(values(S * hd, 1));
    const kp = put(values(T * hd, 2));
    const vp = put(values(T * hd, 3));
    const mask = new Float32Array(S * T);
    mask.fill(-Infinity, T, 2 * T); // row 1: every key masked
    const mp = put(mask);
    for (const nanEmpty of [false, true]) {
      const op = put(new Float32Array(S * hd));
      const v: Strided = { ptr: 0, sb: 0, sh: 0, si: hd };
      attendStrided(mem, { B: 1, N: 1, Nkv: 1, S, T, hd, vd: hd, scale: 1, q: { ...v, ptr: qp }, k: { ...v, ptr: kp }, v: { ...v, ptr: vp }, o: { ...v, ptr: op }, mask: { ptr: mp, sb: 0, sh: 0, si: T }, nanEmpty });
      const o = mem.f32(op, S * hd);
      for (let c = 0; c < hd; c++) {
        expect(Number.isFinite(o[c]!)).toBe(true);
        if (nanEmpty) expect(o[hd + c]).toBeNaN();
        else expect(o[hd + c]).toBe(0);
        expect(Number.isFinite(o[2 * hd + c]!)).toBe(true);
      }
      mem.release(op);
    }
    for (const p of [qp, kp, vp, mp]) mem.release(p);
  });
});
