import { expect } from 'vitest';
import type { Graph } from '../../src/ir/graph.js';
import { Executor, type ExecutorOptions } from '../../src/runtime/executor.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** a tensor's bytes (any element type) */
export const bytesOf = (t: Tensor): number[] => {
  const d = t.data as ArrayBufferView;
  return Array.from(new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)));
};

/**
 * The static plan of `g` and its general path (`staticPlan: false`) give the same bytes for every graph output on each
 * input `x` in turn, and the plan is made (`staticPlanStatus()` is `{ static: true }`).
 */
export function staticEqualsGeneral(g: Graph, inputs: readonly Tensor[], opts: ExecutorOptions = {}): void {
  const fast = new Executor(g, opts);
  const slow = new Executor(g, { ...opts, staticPlan: false });
  try {
    for (const x of inputs) {
      const a = fast.run({ x }) as Record<string, Tensor>;
      const b = slow.run({ x }) as Record<string, Tensor>;
      for (const o of g.outputs) expect(bytesOf(a[o.name]!)).toEqual(bytesOf(b[o.name]!));
    }
    expect(fast.staticPlanStatus()).toEqual({ static: true });
  } finally {
    fast.dispose();
    slow.dispose();
  }
}
