import type { Dim, ValueType } from './graph.js';

/** Helpers for shape rules over possibly-symbolic dims (numbers are concrete, strings symbolic). */
export const isConcrete = (s: readonly Dim[] | undefined): s is number[] => !!s && s.every((d) => typeof d === 'number');

/**
 * Broadcast dims numpy-style; returns undefined when two concrete dims clash. A symbol against a concrete dim
 * d ≠ 1 must equal d (else the model is invalid), so the result is d; two different symbols give '?'.
 */
export function broadcastDims(a: readonly Dim[], b: readonly Dim[]): Dim[] | undefined {
  const r = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else if (typeof x === 'number' && typeof y === 'number') return undefined;
    else out.push(typeof x === 'number' ? x : typeof y === 'number' ? y : '?');
  }
  return out;
}

/** Product of concrete dims, or undefined if any is symbolic. */
export function dimProduct(s: readonly Dim[]): number | undefined {
  let n = 1;
  for (const d of s) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

export const shapeStr = (s: readonly Dim[] | undefined): string => (s ? `[${s.join(',')}]` : '[?]');
export const typeStr = (t: ValueType | undefined): string => (t ? `${t.dtype}${shapeStr(t.shape)}` : 'missing');
