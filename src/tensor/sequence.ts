import { InputError } from '../errors.js';
import type { DType } from './dtype.js';
import { Tensor } from './tensor.js';

/**
 * An ONNX sequence value: an ordered list of tensors sharing one element type (shapes may differ).
 * Immutable like Tensor: sequence ops build new sequences.
 */
export class TensorSequence {
  readonly tensors: readonly Tensor[];

  constructor(
    readonly elemType: DType,
    tensors: readonly Tensor[] = [],
  ) {
    for (const [i, t] of tensors.entries()) {
      if (!(t instanceof Tensor)) throw new InputError(`sequence element ${i} is not a Tensor`);
      if (t.type !== elemType) throw new InputError(`sequence element ${i} has type ${t.type}, the sequence holds ${elemType}`);
    }
    this.tensors = Object.freeze([...tensors]);
  }

  get length(): number {
    return this.tensors.length;
  }

  /** The element shape every tensor shares, or undefined when they differ (or the sequence is empty). */
  commonShape(): number[] | undefined {
    const first = this.tensors[0];
    if (!first) return undefined;
    const r = first.dims.length;
    const out = [...first.dims];
    for (const t of this.tensors) if (t.dims.length !== r || t.dims.some((d, i) => d !== out[i])) return undefined;
    return out;
  }
}

/** What flows along a graph edge at run time. */
export type Value = Tensor | TensorSequence;
