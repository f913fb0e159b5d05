// Seeded data for the int8 tests (kernels, QDQ fusion): an LCG, random 8-bit codes and zero points, scalar tensors.
import fc from 'fast-check';
import { Tensor } from '../../src/tensor/tensor.js';

export type Q = 'int8' | 'uint8';
export const qArb = fc.constantFrom<Q>('int8', 'uint8');

/** Uniform [0, 1) from a 32-bit LCG: the same stream for the same seed. */
export function rng(seed: number): () => number {
  let r = seed >>> 0;
  return () => (r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** n random codes over the whole range of `t`. */
export function qdata(t: Q, n: number, rnd: () => number): Int8Array | Uint8Array {
  const a = t === 'int8' ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = t === 'int8' ? Math.floor(rnd() * 256) - 128 : Math.floor(rnd() * 256);
  return a;
}

export const qt = (t: Q, d: Int8Array | Uint8Array, dims: number[]) => new Tensor(t, d, dims);
export const scalarQ = (t: Q, v: number) => new Tensor(t, t === 'int8' ? Int8Array.of(v) : Uint8Array.of(v), []);
/** a random zero point of `t` */
export const zpv = (t: Q, rnd: () => number) => (t === 'int8' ? Math.floor(rnd() * 256) - 128 : Math.floor(rnd() * 256));
