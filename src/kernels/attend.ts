import type { Arena } from './wasm.js';
import { forkJoin, shares, threadScratch, threadsFor } from './threads.js';
import { kernels } from './wasm.js';

/**
 * A float32 operand in kernel memory addressed by strides (in floats): element (b, h, i, d) at byte
 * `ptr + 4·(b·sb + h·sh + i·si + d)` — the last axis (head dim, or keys for a mask row) is contiguous. A stride of 0
 * broadcasts. Q heads [B, N, S, hd] can so be read straight out of a fused QKV projection ([B, S, 3·N·hd] rows:
 * sb = S·3·N·hd, sh = hd, si = 3·N·hd), K/V out of a [B, Nkv, cap, hd] cache (sb = Nkv·cap·hd, sh = cap·hd, si = hd)
 * and the output written as [B, S, N·vd] rows (sh = vd, si = N·vd).
 */
export interface Strided {
  ptr: number;
  sb: number;
  sh: number;
  si: number;
  /** stride of the last axis; K only (default 1): K read as Kᵀ rows, e.g. sd = T with si = 1 for a [hd, T] Kt */
  sd?: number;
}

/** Keys a query row may see, per batch: row i sees keys j with lo + i·dlo ≤ j < min(hi + i·dhi, end) (clipped to [0, T)). */
export interface KeyRange {
  lo: number;
  dlo: number;
  hi: number;
  dhi: number;
  end?: number;
}

export interface AttendArgs {
  B: number;
  /** query heads; `Nkv` key/value heads, N a multiple of it: query head h reads kv head ⌊h / (N / Nkv)⌋ */
  N: number;
  Nkv: number;
  /** query rows per head, keys per kv head */
  S: number;
  T: number;
  /** head dims of Q/K and of V/output */
  hd: number;
  vd: number;
  q: Strided;
  k: Strided;
  v: Strided;
  o: Strided;
  /** multiplies Q·Kᵀ before the mask is added */
  scale: number;
  /** additive mask rows of T floats over (b, h, i) (−∞ excludes a key); omitted: none */
  mask?: Strided;
  /** key window per batch (causal prefill: {lo: 0, dlo: 0, hi: past + 1, dhi: 1}); omitted: every key */
  keys?: (b: number) => KeyRange;
  /** a row that sees no key gives NaN (the unfused graph's Softmax 0/0) instead of zeros */
  nanEmpty?: boolean;
}

const clampI32 = (x: number) => Math.max(-0x40000000, Math.min(0x3fffffff, x));

/**
 * o = softmax(scale · Q·Kᵀ + mask) · V for every (b, h), on the fused kernel (asm/f32_attention.ts): per kv head, Kᵀ
 * and V are packed once, then blocks of ≤ 4 query rows run scores → softmax → ·V with one 4 × T scratch row block —
 * the [S, T] score matrix is never materialized. When S = 1 (a decoder step) the query heads sharing a kv head are
 * the rows of one block (GroupQueryAttention's kv-head sharing). Every pointer must already be in kernel memory
 * (pinned by the caller); this only allocates the packing buffers and the scratch. Strides and pointers are trusted:
 * the caller validated the shapes.
 */
export function attendStrided(mem: Arena, a: AttendArgs): void {
  const ex = kernels()!;
  const { B, N, Nkv, S, T, hd, vd, q, k, v, o, mask } = a;
  if (!B || !N || !S) return;
  const g = N / Nkv;
  const scale = a.scale;
  const nan = a.nanEmpty ? 1 : 0;
  const T1 = Math.max(T, 1);
  const kpBytes = ex.f32_gemm_packed_size_8(T1, hd);
  const vpBytes = ex.f32_gemm_packed_size_8(vd, T1);
  const at = (x: Strided, b: number, h: number, i: number) => x.ptr + 4 * (b * x.sb + h * x.sh + i * x.si);
  const range = (b: number): KeyRange => (a.keys ? a.keys(b) : { lo: 0, dlo: 0, hi: T, dhi: 0 });
  if (S === 1 && g === 1 && !a.keys && (k.sd ?? 1) === 1 && T > 0) {
    // a decoder step with one query row per kv head, every head in one call (f32_attn_step): the scores by f32_gemv_t
    // over the key rows in place, softmax over T floats, ·V by f32_gemv_n over the value rows in place — K and V are
    // each read once, never packed
    const sp = mem.alloc(4 * T, 'attention scores');
    try {
      for (let b = 0; b < B; b++)
        ex.f32_attn_step(N, T, hd, vd, at(q, b, 0, 0), q.sh, at(k, b, 0, 0), k.sh, k.si, at(v, b, 0, 0), v.sh, v.si, scale, mask ? at(mask, b, 0, 0) : 0, mask ? mask.sh : 0, sp, at(o, b, 0, 0), o.sh, nan);
    } finally {
      mem.release(sp);
    }
    return;
  }
  if (S === 1 && g > 1) {
    // a decoder step with grouped kv heads: the group's query heads are the rows of a block (row stride = head stride)
    const kp = mem.alloc(kpBytes, 'attention packed K');
    const vp = mem.alloc(vpBytes, 'attention packed V');
    const sp = mem.alloc(16 * T1, 'attention scores');
    try {
      for (let b = 0; b < B; b++) {
        const kr = range(b);
        const hi = clampI32(Math.min(kr.hi, kr.end ?? T));
        for (let kh = 0; kh < Nkv; kh++) {
          if (T > 0) {
            const kb = at(k, b, kh, 0);
            if ((k.sd ?? 1) === 1) ex.f32_gemm_pack_8_t(T, hd, kb, k.si, kp);
            else ex.f32_gemm_pack_8(T, hd, kb, k.sd!, 0, kp); // Kt rows (one per head dim) of T keys: si must be 1
            ex.f32_gemm_pack_8(vd, T, at(v, b, kh, 0), v.si, 0, vp);
          }
          for (let h0 = kh * g; h0 < (kh + 1) * g; h0 += 4) {
            const mr = Math.min(4, (kh + 1) * g - h0);
            ex.f32_attn_rows(mr, T, hd, vd, at(q, b, h0, 0), q.sh, kp, vp, scale, mask ? at(mask, b, h0, 0) : 0, mask ? mask.sh : 0, clampI32(kr.lo), 0, hi, 0, sp, at(o, b, h0, 0), o.sh, nan);
          }
        }
      }
    } finally {
      mem.release(sp);
      mem.release(vp);
      mem.release(kp);
    }
    return;
  }
  // one f32_attn_head call per (b, h) (a group's heads each repack their kv head: O(T·hd) beside O(S·T·hd)); kernel
  // threads take whole heads, each thread with its own packing buffers and scratch
  const nt = threadsFor(B * N * S * T * (hd + vd));
  const parts = shares(B * N, 1, nt);
  // one block per thread, each on its own cache lines (threadScratch): thread t's scores (written per query row)
  // never share a line with thread t + 1's packing
  const bufs = threadScratch(mem, kpBytes + vpBytes + 16 * T1, parts.length, 'attention packing and scores');
  try {
    const jobs = parts.map(([h0, h1], t): [string, number[]][] => {
      const kp = bufs.ptr + t * bufs.stride;
      const vp = kp + kpBytes;
      const sp = vp + vpBytes;
      const list: [string, number[]][] = [];
      for (let bh = h0; bh < h1; bh++) {
        const b = Math.floor(bh / N);
        const h = bh % N;
        const kh = Math.floor(h / g);
        const kr = range(b);
        const sd = k.sd ?? 1;
        list.push(['f32_attn_head', [S, T, hd, vd, at(q, b, h, 0), q.si, at(k, b, kh, 0), sd === 1 ? k.si : 0, sd, at(v, b, kh, 0), v.si, kp, vp, scale, mask ? at(mask, b, h, 0) : 0, mask ? mask.si : 0, clampI32(kr.lo), kr.dlo, clampI32(kr.hi), kr.dhi, clampI32(kr.end ?? T), sp, at(o, b, h, 0), o.si, nan]]);
      }
      return list;
    });
    forkJoin(ex, jobs);
  } finally {
    mem.release(bufs.block);
  }
}
