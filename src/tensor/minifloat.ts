/**
 * The narrow float element types of ONNX (onnx.proto, docs/Float8.md, Cast-23/24/25), held in memory as their raw
 * codes (bfloat16 in a Uint16Array, the others one code per Uint8Array element; float4e2m1 is packed two per byte
 * only in files):
 * - bfloat16: the top 16 bits of an IEEE float32.
 * - float8e4m3fn: bias 7, no infinities, S.1111.111 is NaN (max 448).
 * - float8e4m3fnuz: bias 8, no infinities, no negative zero: 0x80 is NaN (max 240).
 * - float8e5m2: bias 15, IEEE-like (infinities, NaNs; max 57344).
 * - float8e5m2fnuz: bias 16, no infinities, 0x80 is NaN (max 57344).
 * - float4e2m1: bias 1, no infinities or NaN (values 0, 0.5, 1, 1.5, 2, 3, 4, 6).
 * - float8e8m0: an unsigned power of two 2^(c-127); 0xFF is NaN.
 * Conversions from wider floats round to nearest, ties to even; the `saturate` rule of Cast decides what happens to
 * values beyond the largest finite one.
 */
export type MiniFloat = 'bfloat16' | 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'float4e2m1' | 'float8e8m0';

export const MINIFLOATS: readonly MiniFloat[] = ['bfloat16', 'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float4e2m1', 'float8e8m0'];
export const isMiniFloat = (t: string): t is MiniFloat => (MINIFLOATS as readonly string[]).includes(t);

interface Fmt {
  e: number;
  m: number;
  bias: number;
  /** IEEE-style: all-ones exponent is inf (mantissa 0) / NaN */
  ieee: boolean;
  /** 'fn': only S.1…1.1…1 is NaN; 'uz': only 0x80 is NaN and there is no -0; 'none': no NaN */
  nan: 'ieee' | 'fn' | 'uz' | 'none';
}

const FMT: Record<Exclude<MiniFloat, 'bfloat16' | 'float8e8m0'>, Fmt> = {
  float8e4m3fn: { e: 4, m: 3, bias: 7, ieee: false, nan: 'fn' },
  float8e4m3fnuz: { e: 4, m: 3, bias: 8, ieee: false, nan: 'uz' },
  float8e5m2: { e: 5, m: 2, bias: 15, ieee: true, nan: 'ieee' },
  float8e5m2fnuz: { e: 5, m: 2, bias: 16, ieee: false, nan: 'uz' },
  float4e2m1: { e: 2, m: 1, bias: 1, ieee: false, nan: 'none' },
};

interface Table {
  /** code → value */
  decode: Float64Array;
  /** non-negative finite values ascending, with their codes */
  pos: Float64Array;
  codes: Uint8Array;
  sign: number;
  nanCode: number;
  infCode?: number;
}

const tables = new Map<string, Table>();

function table(t: Exclude<MiniFloat, 'bfloat16'>): Table {
  let tb = tables.get(t);
  if (tb) return tb;
  if (t === 'float8e8m0') {
    const decode = new Float64Array(256);
    for (let c = 0; c < 256; c++) decode[c] = c === 255 ? NaN : 2 ** (c - 127);
    const pos = decode.slice(0, 255);
    tb = { decode, pos, codes: Uint8Array.from({ length: 255 }, (_, i) => i), sign: 0, nanCode: 255 };
  } else {
    const f = FMT[t];
    const bits = 1 + f.e + f.m;
    const n = 1 << bits;
    const sign = 1 << (bits - 1);
    const emax = (1 << f.e) - 1;
    const decode = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      const s = c & sign ? -1 : 1;
      const ex = (c >> f.m) & emax;
      const mt = c & ((1 << f.m) - 1);
      let v: number;
      if (f.nan === 'uz' && c === sign) v = NaN;
      else if (f.nan === 'fn' && (c & (sign - 1)) === sign - 1) v = NaN;
      else if (f.ieee && ex === emax) v = mt ? NaN : s * Infinity;
      else if (ex === 0) v = s * (mt / (1 << f.m)) * 2 ** (1 - f.bias);
      else v = s * (1 + mt / (1 << f.m)) * 2 ** (ex - f.bias);
      decode[c] = v;
    }
    const list: [number, number][] = [];
    for (let c = 0; c < sign; c++) if (Number.isFinite(decode[c]!)) list.push([decode[c]!, c]);
    list.sort((a, b) => a[0] - b[0]);
    tb = {
      decode,
      pos: Float64Array.from(list, (x) => x[0]),
      codes: Uint8Array.from(list, (x) => x[1]),
      sign,
      nanCode: f.nan === 'uz' ? sign : f.nan === 'none' ? sign - 1 : sign - 1,
      ...(f.ieee ? { infCode: emax << f.m } : {}),
    };
  }
  tables.set(t, tb);
  return tb;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Code → value. */
export function miniToNumber(t: MiniFloat, code: number): number {
  if (t === 'bfloat16') {
    u32[0] = (code & 0xffff) << 16;
    return f32[0]!;
  }
  return table(t).decode[code]!;
}

/** Decode a whole array of codes. */
export function miniToFloats(t: MiniFloat, codes: ArrayLike<number>, dst = new Float32Array(codes.length)): Float32Array {
  for (let i = 0; i < codes.length; i++) dst[i] = miniToNumber(t, codes[i]!);
  return dst;
}

/** e8m0 rounding of Cast-25 (`round_mode`): 'up' (default), 'down', 'nearest'. */
export type E8M0Round = 'up' | 'down' | 'nearest';

/**
 * Value → code, rounding to nearest even. `saturate` (Cast's attribute, default true): values beyond the largest
 * finite value (±Inf included) become ±max; otherwise they become ±Inf where the type has it (float8e5m2), else NaN.
 * float4e2m1 has no NaN or Inf: it always saturates, and NaN becomes 0.
 */
export function numberToMini(t: MiniFloat, x: number, saturate = true, round: E8M0Round = 'up'): number {
  if (t === 'bfloat16') {
    if (Number.isNaN(x)) return 0x7fc0;
    f32[0] = x;
    const b = u32[0]!;
    return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff; // RNE on the dropped 16 bits (float32 input)
  }
  const tb = table(t);
  if (t === 'float8e8m0') {
    if (Number.isNaN(x) || x <= 0 && !saturate) return 255;
    if (!(x > 0)) return 0;
    if (x === Infinity) return saturate ? 254 : 255;
    let e = Math.floor(Math.log2(x));
    if (2 ** e > x) e--;
    else if (2 ** (e + 1) <= x) e++;
    const exact = 2 ** e === x;
    if (!exact && (round === 'up' || (round === 'nearest' && x >= 1.5 * 2 ** e))) e++;
    const c = e + 127;
    if (c > 254) return saturate ? 254 : 255;
    return Math.max(0, c);
  }
  const neg = x < 0 || Object.is(x, -0);
  const signBit = neg ? tb.sign : 0;
  // float4e2m1 has no NaN: the ONNX reference maps NaN to 0
  if (Number.isNaN(x)) return t === 'float4e2m1' ? 0 : tb.nanCode | (FMT[t].nan === 'uz' ? 0 : signBit);
  const a = Math.abs(x);
  const pos = tb.pos;
  const last = pos.length - 1;
  const max = pos[last]!;
  const overflow = (): number => {
    if (saturate || t === 'float4e2m1') return tb.codes[last]! | signBit;
    if (tb.infCode !== undefined) return tb.infCode | signBit;
    return tb.nanCode | (FMT[t].nan === 'uz' ? 0 : signBit);
  };
  if (a === Infinity) return overflow();
  if (a > max) {
    // the next value past max (one more ulp of the top binade) decides rounding: below half way → max
    const ulp = max - pos[last - 1]!;
    const half = max + ulp / 2;
    if (a < half || (a === half && (tb.codes[last]! & 1) === 0)) return tb.codes[last]! | signBit;
    return overflow();
  }
  // binary search: largest pos[i] <= a
  let lo = 0;
  let hi = last;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (pos[mid]! <= a) lo = mid;
    else hi = mid - 1;
  }
  let i = lo;
  if (pos[i]! !== a && i < last) {
    const d0 = a - pos[i]!;
    const d1 = pos[i + 1]! - a;
    if (d1 < d0 || (d1 === d0 && (tb.codes[i + 1]! & 1) === 0)) i++;
  }
  const code = tb.codes[i]!;
  if (code === 0) return FMT[t].nan === 'uz' ? 0 : signBit; // ±0 (no -0 in the fnuz types)
  return code | signBit;
}

/** Encode a whole array. */
export function floatsToMini(t: MiniFloat, v: ArrayLike<number>, saturate = true, round: E8M0Round = 'up'): Uint8Array | Uint16Array {
  const out = t === 'bfloat16' ? new Uint16Array(v.length) : new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = numberToMini(t, v[i]!, saturate, round);
  return out;
}
