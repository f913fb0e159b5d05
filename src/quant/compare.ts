/**
 * Output agreement of a quantized model with its float model: per output, max |Δ| and cosine similarity on
 * probe inputs (random floats in [-1, 1), integer ids in [0, 100), `*mask*` inputs all ones; symbolic dims:
 * the first 1, the others `seq`).
 */
import type { Graph } from '../ir/graph.js';
import { InferenceSession } from '../runtime/session.js';
import { DTYPES } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { floats } from '../ops/util.js';

export interface OutputAgreement {
  name: string;
  maxAbsError: number;
  cosine: number;
}

export function probeFeeds(g: Graph, seed = 1, seq = 16): Record<string, Tensor> {
  let s = seed >>> 0 || 1;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const feeds: Record<string, Tensor> = {};
  for (const i of g.inputs) {
    if (g.initializers.has(i.name)) continue;
    const dims = (i.type.shape ?? []).map((d, k) => (typeof d === 'number' ? d : k === 0 ? 1 : seq));
    const t = Tensor.zeros(i.type.dtype, dims);
    const d = t.data as unknown as { length: number; [k: number]: number | bigint };
    const kind = DTYPES[i.type.dtype].kind;
    const mask = /mask/i.test(i.name);
    for (let k = 0; k < d.length; k++) {
      if (kind === 'float' && i.type.dtype !== 'float16') d[k] = rnd() * 2 - 1;
      else if (kind !== 'float' && i.type.dtype !== 'bool' && i.type.dtype !== 'string') {
        const v = mask ? 1 : Math.floor(rnd() * 100);
        d[k] = typeof d[k] === 'bigint' ? BigInt(v) : v;
      }
    }
    feeds[i.name] = t;
  }
  return feeds;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}

/** Run both graphs on the same feeds and compare every float output. */
export function compareOutputs(ref: Graph, q: Graph, feeds: Record<string, Tensor> = probeFeeds(ref)): OutputAgreement[] {
  const a = InferenceSession.fromGraph(ref).runSync(feeds);
  const b = InferenceSession.fromGraph(q).runSync(feeds);
  const res: OutputAgreement[] = [];
  for (const o of ref.outputs) {
    const x = a[o.name];
    const y = b[o.name];
    if (!x || !y || DTYPES[x.type].kind !== 'float') continue;
    const xv = floats(x);
    const yv = floats(y);
    let m = 0;
    for (let i = 0; i < xv.length; i++) m = Math.max(m, Math.abs(xv[i]! - yv[i]!));
    res.push({ name: o.name, maxAbsError: m, cosine: cosine(xv, yv) });
  }
  return res;
}
