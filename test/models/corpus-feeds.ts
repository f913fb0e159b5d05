// Random inputs for a corpus model: floats uniform in [-1, 1), 8-bit codes uniform, other integers 1 (token ids,
// attention masks, lengths: 1 is valid for every corpus model), bool true. Deterministic (seeded).
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { CorpusModel } from './corpus.js';

export function corpusFeeds(g: Graph, m: CorpusModel, seed = 1): Record<string, Tensor> {
  let s = seed >>> 0 || 1;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const feeds: Record<string, Tensor> = {};
  for (const i of g.inputs) {
    const dims = m.dims?.[i.name] ?? (i.type.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
    const t = Tensor.zeros(i.type.dtype, dims);
    const d = t.data as unknown as { length: number; [k: number]: number | bigint };
    for (let k = 0; k < d.length; k++) {
      if (i.type.dtype === 'float32' || i.type.dtype === 'float64') d[k] = rnd() * 2 - 1;
      else if (i.type.dtype === 'int8') d[k] = Math.floor(rnd() * 256) - 128;
      else if (i.type.dtype === 'uint8') d[k] = Math.floor(rnd() * 256);
      else if (i.type.dtype === 'int64' || i.type.dtype === 'uint64') d[k] = 1n;
      else if (i.type.dtype !== 'float16') d[k] = 1;
    }
    feeds[i.name] = t;
  }
  return feeds;
}
