import { ModelFormatError } from '../../errors.js';

/** A decoded FlexBuffers value (the subset custom_options use: scalars, strings, vectors, maps). */
export type FlexValue = number | boolean | string | null | FlexValue[] | { [key: string]: FlexValue };

/**
 * Bounds-checked FlexBuffers decoder (flatbuffers/flexbuffers.h wire format) for the custom_options of TFLite
 * custom ops. Every offset and length is checked against the buffer, nesting is limited to 16 levels and
 * element counts to the buffer length, so hostile bytes give a ModelFormatError, never a RangeError or a hang.
 */
export function readFlexbuffer(bytes: Uint8Array, what: string): FlexValue {
  const fail = (m: string): never => {
    throw new ModelFormatError(`${what}: flexbuffer ${m}`);
  };
  const n = bytes.length;
  if (n < 3) fail(`has ${n} bytes, needs at least 3`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  const uint = (p: number, w: number): number => {
    if (!(p >= 0 && p + w <= n) || ![1, 2, 4, 8].includes(w)) fail(`read of ${w} bytes at ${p} is outside the ${n}-byte buffer`);
    if (w === 1) return dv.getUint8(p);
    if (w === 2) return dv.getUint16(p, true);
    if (w === 4) return dv.getUint32(p, true);
    const v = dv.getBigUint64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`offset ${v} at ${p} is too large`);
    return Number(v);
  };
  const int = (p: number, w: number): number => {
    uint(p, w);
    return w === 1 ? dv.getInt8(p) : w === 2 ? dv.getInt16(p, true) : w === 4 ? dv.getInt32(p, true) : Number(dv.getBigInt64(p, true));
  };
  const float = (p: number, w: number): number => {
    uint(p, w);
    if (w === 4) return dv.getFloat32(p, true);
    if (w === 8) return dv.getFloat64(p, true);
    return fail(`float of width ${w}`);
  };
  const indirect = (p: number, w: number): number => {
    const t = p - uint(p, w);
    if (t < 0 || t >= n) fail(`offset at ${p} points outside the buffer`);
    return t;
  };
  const count = (p: number, w: number): number => {
    const c = uint(p - w, w);
    if (c > n) fail(`length ${c} at ${p - w} exceeds the buffer`);
    return c;
  };
  const cstr = (p: number): string => {
    let e = p;
    while (e < n && bytes[e] !== 0) e++;
    if (e >= n) fail(`key at ${p} is not terminated`);
    return new TextDecoder().decode(bytes.subarray(p, e));
  };
  const value = (p: number, parentWidth: number, packed: number, depth: number): FlexValue => {
    if (depth > 16) fail('nests deeper than 16 levels');
    const type = packed >> 2, w = 1 << (packed & 3);
    switch (type) {
      case 0: return null;
      case 1: return int(p, parentWidth);
      case 2: return uint(p, parentWidth);
      case 3: return float(p, parentWidth);
      case 26: return uint(p, parentWidth) !== 0;
      case 4: return cstr(indirect(p, parentWidth));
      case 6: return int(indirect(p, parentWidth), w);
      case 7: return uint(indirect(p, parentWidth), w);
      case 8: return float(indirect(p, parentWidth), w);
      case 5: {
        const t = indirect(p, parentWidth);
        const len = count(t, w);
        if (t + len > n) fail(`string at ${t} runs past the buffer`);
        return new TextDecoder().decode(bytes.subarray(t, t + len));
      }
      case 9: case 10: {
        const t = indirect(p, parentWidth);
        const len = count(t, w);
        if (t + len * w + len > n) fail(`vector at ${t} of ${len} elements runs past the buffer`);
        const vals: FlexValue[] = [];
        for (let i = 0; i < len; i++) vals.push(value(t + i * w, w, bytes[t + len * w + i]!, depth + 1));
        if (type === 10) return vals;
        // map: keys vector offset at t - 3w, its byte width at t - 2w
        const kp = t - 3 * w;
        const kw = uint(t - 2 * w, w);
        const keys = indirect(kp, w);
        if (count(keys, kw) !== len) fail(`map at ${t} has ${len} values but a different number of keys`);
        const out: { [key: string]: FlexValue } = {};
        for (let i = 0; i < len; i++) out[cstr(indirect(keys + i * kw, kw))] = vals[i]!;
        return out;
      }
      default: {
        // typed vectors: 11..15 (INT, UINT, FLOAT, KEY, STRING_DEPRECATED) with a length; 16..24 fixed 2/3/4 of INT/UINT/FLOAT
        const t = indirect(p, parentWidth);
        let len: number, elem: number;
        if (type >= 11 && type <= 15) (len = count(t, w)), (elem = type - 10);
        else if (type >= 16 && type <= 24) (len = Math.floor((type - 16) / 3) + 2), (elem = ((type - 16) % 3) + 1);
        else if (type === 36) (len = count(t, w)), (elem = 26);
        else return fail(`value type ${type} is not supported`);
        if (t + len * w > n) fail(`typed vector at ${t} runs past the buffer`);
        const out: FlexValue[] = [];
        for (let i = 0; i < len; i++) out.push(value(t + i * w, w, elem === 4 ? (4 << 2) | (packed & 3) : elem << 2, depth + 1));
        return out;
      }
    }
  };
  const rootWidth = bytes[n - 1]!;
  const rootPacked = bytes[n - 2]!;
  if (![1, 2, 4, 8].includes(rootWidth)) fail(`root byte width ${rootWidth}`);
  return value(n - 2 - rootWidth, rootWidth, rootPacked, 0);
}
