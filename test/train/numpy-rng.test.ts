import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { PCG64, SeedSequence, defaultRng } from '../../src/train/numpy-rng.js';
import { dataPath, hasData } from '../helpers/data.js';

/** numpy's output for a snippet, or undefined when python3+numpy is not available. */
function numpy(code: string): unknown {
  const r = spawnSync('python3', ['-c', `import json, numpy as np\n${code}`], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0 || !r.stdout) return undefined;
  return JSON.parse(r.stdout);
}
const hasNumpy = numpy('print(1)') === 1;

describe('numpy default_rng reimplementation', () => {
  it('permutation(10000) with seed 0 starts like numpy (fixed values)', () => {
    expect([...defaultRng(0).permutation(10000).subarray(0, 20)]).toEqual([
      3577, 8925, 1634, 485, 4753, 726, 9505, 3650, 4703, 9428, 3939, 2286, 3492, 9022, 5562, 6464, 1547, 2888, 9483, 9685,
    ]);
    expect([...defaultRng(12345).permutation(10)]).toEqual([4, 8, 1, 3, 7, 9, 6, 0, 2, 5]);
  });

  it('is a permutation and handles n = 0, 1', () => {
    expect([...defaultRng(1).permutation(0)]).toEqual([]);
    expect([...defaultRng(1).permutation(1)]).toEqual([0]);
    const p = defaultRng(7).permutation(1000);
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(1000).keys()]);
  });

  it('rejects bad arguments with InputError', () => {
    expect(() => defaultRng(-1)).toThrow(InputError);
    expect(() => defaultRng(0).permutation(-3)).toThrow(InputError);
    expect(() => defaultRng(0).permutation(1.5)).toThrow(InputError);
  });

  it.runIf(hasData('mnist/split.json'))('reproduces ../shared/models/mnist/split.json (train = first 8000, test = last 2000, calib = first 500 of train)', () => {
    const split = JSON.parse(readFileSync(dataPath('mnist/split.json'), 'utf8')) as { train: number[]; test: number[]; calib: number[] };
    const p = [...defaultRng(0).permutation(10000)];
    expect(split.train).toEqual(p.slice(0, 8000));
    expect(split.test).toEqual(p.slice(8000));
    expect(split.calib).toEqual(split.train.slice(0, 500));
  });

  describe.runIf(hasNumpy)('against numpy on this machine', () => {
    it('SeedSequence.generate_state and PCG64 raw draws', () => {
      const want = numpy(
        'ss = np.random.SeedSequence(2**70 + 5)\n' +
          'bg = np.random.PCG64(np.random.SeedSequence(42))\n' +
          'print(json.dumps({"state": ss.generate_state(8).tolist(), "u64": [str(v) for v in bg.random_raw(5)]}))',
      ) as { state: number[]; u64: string[] };
      expect([...new SeedSequence(2n ** 70n + 5n).generateState(8)]).toEqual(want.state);
      const bg = new PCG64(42);
      expect(Array.from({ length: 5 }, () => bg.next64().toString())).toEqual(want.u64);
    });

    it('permutation for many seeds and sizes', () => {
      const seeds = [0, 1, 2, 99, 123456789, 2 ** 32 + 1];
      const sizes = [2, 3, 17, 256, 5000];
      const want = numpy(`print(json.dumps([[np.random.default_rng(s).permutation(n).tolist() for n in ${JSON.stringify(sizes)}] for s in ${JSON.stringify(seeds)}]))`) as number[][][];
      seeds.forEach((s, i) => sizes.forEach((n, j) => expect([...defaultRng(s).permutation(n)]).toEqual(want[i]![j])));
    });

    it('shuffle of a plain array consumes the stream like numpy (two shuffles in a row)', () => {
      const want = numpy('r = np.random.default_rng(5)\na = np.arange(50); r.shuffle(a)\nb = np.arange(70); r.shuffle(b)\nprint(json.dumps([a.tolist(), b.tolist()]))') as number[][];
      const r = defaultRng(5);
      const a = [...Array(50).keys()];
      const b = [...Array(70).keys()];
      r.shuffle(a);
      r.shuffle(b);
      expect([a, b]).toEqual(want);
    });
  });
});
