// The layer rule from the developers' brief: src/ is layered tensor → ir → formats → ops → kernels → runtime →
// quant/prune/train/split → convert → pipeline/seal → cli, and a file imports only from its own layer or layers to its
// left. This reads every relative import in src/ and names each one that points right.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '../../src');
const RANK: Record<string, number> = {
  tensor: 0, ir: 1, formats: 2, ops: 3, kernels: 4, runtime: 5,
  quant: 6, prune: 6, train: 6, split: 6, convert: 7, pipeline: 8, seal: 8, cli: 9,
};
/** Each exception says why it is allowed; a new one needs the same. */
const ALLOWED: Record<string, string> = {
  // side-effect import: registers the op table so attribute types (float vs int) come from the op definitions;
  // without it a writer used on its own would write `alpha: 1` as an int
  'formats/onnx/writer.ts -> ops/index.js': 'op attribute types for writing',
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('source layering', () => {
  it('no file imports from a layer to its right (or a sibling layer)', () => {
    const bad: string[] = [];
    let checked = 0;
    for (const f of files(SRC)) {
      const rel = relative(SRC, f);
      const layer = rel.split('/')[0];
      if (!(layer in RANK)) continue; // index.ts, errors.ts, platform/: entry points and the leaf errors module
      for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const target = relative(SRC, normalize(join(dirname(f), m[1])));
        const tl = target.split('/')[0];
        checked++;
        if (!(tl in RANK) || tl === layer) continue;
        if (RANK[tl] >= RANK[layer] && !ALLOWED[`${rel} -> ${target}`]) bad.push(`${rel} -> ${target}`);
      }
    }
    expect(checked).toBeGreaterThan(500);
    expect(bad).toEqual([]);
  });
});
