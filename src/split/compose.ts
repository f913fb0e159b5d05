/** Run the parts of a split one after another (the reference for the pipeline and the tests). */
import type { Graph } from '../ir/graph.js';
import { InferenceSession, type SessionOptions } from '../runtime/session.js';
import type { Tensor } from '../tensor/tensor.js';
import { SplitError } from './errors.js';

export class PartChain {
  private constructor(readonly sessions: InferenceSession[]) {}

  static create(parts: Graph[], options: SessionOptions = {}): PartChain {
    if (!parts.length) throw new SplitError('no parts to run');
    return new PartChain(parts.map((g) => InferenceSession.fromGraph(g, options)));
  }

  /** Feed the original model's inputs; get the original model's outputs. */
  run(feeds: Record<string, Tensor>): Record<string, Tensor> {
    let cur = feeds;
    for (const s of this.sessions) {
      const f: Record<string, Tensor> = {};
      for (const n of s.inputNames) {
        const t = cur[n];
        if (t !== undefined) f[n] = t;
      }
      cur = s.runSync(f);
    }
    return cur;
  }
}

/** Compose parts once: `runParts(split(g, o).parts, feeds)` equals running `g` on `feeds`. */
export function runParts(parts: Graph[], feeds: Record<string, Tensor>, options: SessionOptions = {}): Record<string, Tensor> {
  return PartChain.create(parts, options).run(feeds);
}
