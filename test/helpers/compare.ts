import { expect } from 'vitest';
import type { Tensor } from '../../src/tensor/tensor.js';

/** max |a - b| / max |b| over all elements (b the reference). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(Number(a[i]) - Number(b[i])));
    m = Math.max(m, Math.abs(Number(b[i])));
  }
  return d / Math.max(m, 1e-30);
}

/** Same dims, and every element within 1e-4 · (1 + |b|) of b (b the reference). */
export function expectClose(a: Tensor, b: Tensor): void {
  expect(a.dims).toEqual(b.dims);
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(y[i]!)));
}
