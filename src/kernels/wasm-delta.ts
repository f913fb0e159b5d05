/**
 * Decoder for scripts/wasm-delta.mjs's delta format (the relaxed-SIMD kernel build is shipped as a delta of the
 * plain SIMD build; see the format there). Every length and offset is checked, so a corrupt delta throws instead
 * of producing a wrong module.
 */
export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  let p = 0;
  const uleb = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (p >= delta.length) throw new Error('wasm delta: truncated');
      const b = delta[p++]!;
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
      if (mul > 2 ** 35) throw new Error('wasm delta: varint too long');
    }
  };
  const n = uleb();
  if (n > 1 << 28) throw new Error('wasm delta: target too large');
  const out = new Uint8Array(n);
  let o = 0;
  while (o < n) {
    const op = delta[p++];
    const len = uleb();
    if (len === 0 || o + len > n) throw new Error('wasm delta: bad length');
    if (op === 0) {
      const z = uleb();
      const src = o + (z & 1 ? -(z + 1) / 2 : z / 2);
      if (src < 0 || src + len > base.length) throw new Error('wasm delta: copy outside the base');
      out.set(base.subarray(src, src + len), o);
    } else if (op === 1) {
      if (p + len > delta.length) throw new Error('wasm delta: truncated literal');
      out.set(delta.subarray(p, p + len), o);
      p += len;
    } else throw new Error('wasm delta: bad op');
    o += len;
  }
  if (p !== delta.length) throw new Error('wasm delta: trailing bytes');
  return out;
}
