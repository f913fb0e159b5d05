// ONNX backend conformance: every test named in test/conformance/<suite>.allow.txt must pass
// (tolerance of the ONNX backend runner: |got − want| ≤ 1e-7 + 1e-3·|want| for floats, exact otherwise).
// The lists are written by `npm run conformance -- --write-allow`; the targets below keep them from shrinking.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCases, runCase } from '../../src/cli/conformance-runner.js';
import '../../src/ops/index.js';
import '../../src/kernels/index.js';
import { dataDir, hasData } from '../helpers/data.js';

const root = join(dataDir(), 'onnx-conformance');
const present = hasData('onnx-conformance');

function allowList(suite: string): string[] {
  const text = readFileSync(new URL(`./${suite}.allow.txt`, import.meta.url), 'utf8');
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** Issue 3's targets: all of these suites except Gradient/StringNormalizer tests, ≥750 node tests. */
const EXCLUDED = /gradient|strnorm/;
const TARGETS: Record<string, (all: string[]) => number> = {
  node: () => 750,
  simple: (all) => all.filter((n) => !EXCLUDED.test(n)).length,
  'pytorch-converted': (all) => all.length,
  'pytorch-operator': (all) => all.length,
};

describe.skipIf(!present)('ONNX conformance allow-lists', () => {
  for (const suite of Object.keys(TARGETS)) {
    const allowed = allowList(suite);
    it(`${suite}: allow-list meets the target`, () => {
      const all = listCases(suite, root);
      for (const n of allowed) expect(all, `${suite}/${n} listed but not in the data`).toContain(n);
      expect(allowed.length).toBeGreaterThanOrEqual(TARGETS[suite]!(all));
    });
    // one vitest case per chunk keeps the report readable while naming every failure
    const CHUNK = 50;
    for (let i = 0; i < allowed.length; i += CHUNK) {
      const chunk = allowed.slice(i, i + CHUNK);
      it(`${suite} ${i + 1}–${i + chunk.length} of ${allowed.length}`, async () => {
        const failed: string[] = [];
        for (const name of chunk) {
          const r = await runCase(suite, name, root);
          if (!r.ok) failed.push(`${name}: ${r.message}`);
        }
        expect(failed).toEqual([]);
      });
    }
  }
});
