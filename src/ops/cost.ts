/**
 * Work of one node from its shapes (OpDef.cost): the textbook multiply-add counts, shared by the ops that define
 * them. A shape that is unknown gives NaN, which every comparison treats as "not known": the work limit checks the
 * node again at run time, when its shapes are concrete.
 */
import type { CostCtx } from '../ir/registry.js';

type Shape = readonly number[] | undefined;

/** Elements of `s` (of its dims from..to); NaN when unknown. */
export const elems = (s: Shape, from = 0, to?: number): number => (s ? s.slice(from, to).reduce((a, b) => a * b, 1) : NaN);

/** Dim `i` of `s`, negative from the end; NaN when unknown. */
export const dim = (s: Shape, i: number): number => s?.[i < 0 ? s.length + i : i] ?? NaN;

/**
 * Conv with its weight at input `w`: each output element takes C/group × ∏kernel, W's dims past the first for
 * OIHW and OHWI (1HWO, TFLite depthwise, has one input channel and M last).
 */
export const convCost =
  (w: number) =>
  ({ attrs, inputs, outputs }: CostCtx): number =>
    elems(outputs[0]) * elems(inputs[w], 1, attrs.weight_layout === '1HWO' ? -1 : undefined);

/** MatMul-like: each output element is a dot product over A's (input 0's) last dim, or its first when transposed. */
export const matmulCost = ({ attrs, inputs, outputs }: CostCtx): number => elems(outputs[0]) * dim(inputs[0], attrs.transA ? 0 : -1);

/** Pools: each output element reads its window (`kernel_shape`, or TFLite's filter_height × filter_width). */
export const poolCost = ({ attrs, outputs }: CostCtx): number =>
  elems(outputs[0]) * (attrs.kernel_shape ? elems(attrs.kernel_shape) : attrs.filter_height * attrs.filter_width);

/** Attention: Q·Kᵀ and P·V, ~2 × (output elements) × (keys attended, `keys`). */
export const attnCost = (c: CostCtx, keys: number): number => 2 * elems(c.outputs[0]) * keys;
