// Delta encoding of one binary against another (used by build-asm.mjs: the relaxed-SIMD build ships as a delta
// of the plain SIMD build — they differ only where asm/simd.ts picks relaxed instructions — so the browser bundle
// carries ~2.6 KB instead of a second ~28 KB gzipped base64 binary). Decoded by src/kernels/wasm-delta.ts.
//
// Format: uleb128 target length, then ops until the target is complete:
//   0, uleb128 len, uleb128 zigzag(srcOffset − outPos)   copy len bytes of the base (offset relative to the output)
//   1, uleb128 len, len bytes                             insert literal bytes

const MIN_MATCH = 12;
const KEY = 8;

function uleb(out, v) {
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
}

/** A delta turning `base` into `target` (both Uint8Array). */
export function encodeDelta(base, target) {
  const index = new Map();
  for (let i = 0; i + KEY <= base.length; i++) {
    const k = Buffer.from(base.subarray(i, i + KEY)).toString('latin1');
    const l = index.get(k);
    if (!l) index.set(k, [i]);
    else if (l.length < 64) l.push(i);
  }
  const out = [];
  uleb(out, target.length);
  let lit = [];
  const flush = () => {
    if (!lit.length) return;
    out.push(1);
    uleb(out, lit.length);
    out.push(...lit);
    lit = [];
  };
  let i = 0;
  while (i < target.length) {
    let best = 0;
    let at = 0;
    const cands = i + KEY <= target.length ? index.get(Buffer.from(target.subarray(i, i + KEY)).toString('latin1')) : undefined;
    for (const j of cands ?? []) {
      let l = 0;
      while (i + l < target.length && j + l < base.length && base[j + l] === target[i + l]) l++;
      if (l > best) [best, at] = [l, j];
    }
    if (best >= MIN_MATCH) {
      flush();
      out.push(0);
      uleb(out, best);
      const d = at - i;
      uleb(out, d >= 0 ? 2 * d : -2 * d - 1);
      i += best;
    } else lit.push(target[i++]);
  }
  flush();
  return Uint8Array.from(out);
}
