/**
 * numpy's `np.random.default_rng(seed)` reimplemented bit-exactly for what edgeq needs (the MNIST split):
 * SeedSequence → PCG64 (XSL-RR 128/64) → Generator.permutation / shuffle / integers-style bounded draws.
 * Follows numpy/random/bit_generator.pyx (SeedSequence), pcg64.c and distributions.c (random_interval).
 */
import { InputError } from '../errors.js';

const M32 = 0xffffffffn;
const M64 = (1n << 64n) - 1n;
const M128 = (1n << 128n) - 1n;

// SeedSequence constants (bit_generator.pyx)
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;
const POOL_SIZE = 4;

const mul32 = (a: number, b: number): number => Math.imul(a, b) >>> 0;

/** numpy's SeedSequence(entropy) with no spawn key; `generateState(n)` gives uint32 words. */
export class SeedSequence {
  readonly pool: Uint32Array;
  constructor(entropy: number | bigint) {
    let n = BigInt(entropy);
    if (n < 0n) throw new InputError(`SeedSequence: entropy must be a non-negative integer, got ${entropy}`);
    // _int_to_uint32_array: little-endian 32-bit words, [0] for 0
    const words: number[] = [];
    if (n === 0n) words.push(0);
    while (n > 0n) {
      words.push(Number(n & M32));
      n >>= 32n;
    }
    while (words.length < POOL_SIZE) words.push(0);
    this.pool = mixEntropy(words);
  }

  /** generate_state(n, uint32) */
  generateState(nWords: number): Uint32Array {
    let hashConst = INIT_B;
    const out = new Uint32Array(nWords);
    for (let i = 0; i < nWords; i++) {
      let v = this.pool[i % POOL_SIZE]!;
      v = (v ^ hashConst) >>> 0;
      hashConst = mul32(hashConst, MULT_B);
      v = mul32(v, hashConst);
      v = (v ^ (v >>> XSHIFT)) >>> 0;
      out[i] = v;
    }
    return out;
  }

  /** generate_state(n, uint64): pairs of uint32 words, little-endian. */
  generateState64(n: number): bigint[] {
    const w = this.generateState(2 * n);
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) out.push(BigInt(w[2 * i]!) | (BigInt(w[2 * i + 1]!) << 32n));
    return out;
  }
}

function mixEntropy(entropy: number[]): Uint32Array {
  const mixer = new Uint32Array(POOL_SIZE);
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    value = (value ^ hashConst) >>> 0;
    hashConst = mul32(hashConst, MULT_A);
    value = mul32(value, hashConst);
    return (value ^ (value >>> XSHIFT)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    let r = (mul32(MIX_MULT_L, x) - mul32(MIX_MULT_R, y)) >>> 0;
    return (r ^ (r >>> XSHIFT)) >>> 0;
  };
  for (let i = 0; i < POOL_SIZE; i++) mixer[i] = hashmix(i < entropy.length ? entropy[i]! : 0);
  for (let s = 0; s < POOL_SIZE; s++)
    for (let d = 0; d < POOL_SIZE; d++) if (s !== d) mixer[d] = mix(mixer[d]!, hashmix(mixer[s]!));
  for (let s = POOL_SIZE; s < entropy.length; s++) for (let d = 0; d < POOL_SIZE; d++) mixer[d] = mix(mixer[d]!, hashmix(entropy[s]!));
  return mixer;
}

const PCG_MULT = (0x2360ed051fc65da4n << 64n) | 0x4385df649fccf645n;

/** numpy.random.PCG64 (pcg_setseq_128_xsl_rr_64) with numpy's buffered 32-bit draws. */
export class PCG64 {
  private state = 0n;
  private inc = 0n;
  private hasUint32 = false;
  private uinteger = 0;

  constructor(seed: number | bigint | SeedSequence) {
    const ss = seed instanceof SeedSequence ? seed : new SeedSequence(seed);
    const v = ss.generateState64(4);
    // pcg64_set_seed: seed = v[0]:v[1] (high:low), inc = v[2]:v[3]
    const initstate = (v[0]! << 64n) | v[1]!;
    const initseq = (v[2]! << 64n) | v[3]!;
    this.inc = ((initseq << 1n) | 1n) & M128;
    this.step();
    this.state = (this.state + initstate) & M128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & M128;
  }

  next64(): bigint {
    this.step();
    const s = this.state;
    const x = ((s >> 64n) ^ s) & M64;
    const rot = Number(s >> 122n);
    return ((x >> BigInt(rot)) | (x << BigInt((64 - rot) & 63))) & M64;
  }

  next32(): number {
    if (this.hasUint32) {
      this.hasUint32 = false;
      return this.uinteger;
    }
    const v = this.next64();
    this.hasUint32 = true;
    this.uinteger = Number(v >> 32n);
    return Number(v & M32);
  }
}

/** numpy.random.Generator subset over PCG64. */
export class Generator {
  constructor(readonly bitGen: PCG64) {}

  /** distributions.c random_interval: uniform integer in [0, max] by masked rejection. */
  randomInterval(max: number): number {
    if (!Number.isSafeInteger(max) || max < 0) throw new InputError(`randomInterval: bad max ${max}`);
    if (max === 0) return 0;
    if (max <= 0xffffffff) {
      let mask = max;
      mask |= mask >>> 1;
      mask |= mask >>> 2;
      mask |= mask >>> 4;
      mask |= mask >>> 8;
      mask |= mask >>> 16;
      mask >>>= 0;
      let v: number;
      while ((v = (this.bitGen.next32() & mask) >>> 0) > max);
      return v;
    }
    let mask = BigInt(max);
    for (const s of [1n, 2n, 4n, 8n, 16n, 32n]) mask |= mask >> s;
    const m = BigInt(max);
    let v: bigint;
    while ((v = this.bitGen.next64() & mask) > m);
    return Number(v);
  }

  /** Generator.shuffle of a 1-D array in place: `for i in reversed(range(1, n)): j = random_interval(i)`. */
  shuffle<T>(arr: { length: number; [i: number]: T }): void {
    for (let i = arr.length - 1; i >= 1; i--) {
      const j = this.randomInterval(i);
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
  }

  /** Generator.permutation(n) = shuffle(arange(n)). */
  permutation(n: number): Int32Array {
    if (!Number.isSafeInteger(n) || n < 0 || n > 2 ** 31 - 1) throw new InputError(`permutation: bad n ${n}`);
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    this.shuffle(a);
    return a;
  }
}

/** np.random.default_rng(seed) */
export function defaultRng(seed: number | bigint): Generator {
  return new Generator(new PCG64(seed));
}
