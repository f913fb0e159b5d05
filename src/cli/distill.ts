/**
 * `edgeq distill TEACHER.onnx --student mlp:784-64-10|cnn:…|STUDENT.onnx --data x.npy --labels y.npy
 *  [--unlabeled xu.npy] [--temperature 4] [--alpha 0.7] [--epochs N] [--seed S] --out student.onnx`
 *
 * loss = (1−α)·CE(student, labels) + α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)); --unlabeled samples
 * get only the teacher's soft labels.
 */
import { type Dataset, distill } from '../train/train.js';
import { TrainableGraph } from '../train/autodiff.js';
import { accuracyOf } from '../train/train.js';
import { UsageError, parseArgs } from './args.js';
import { type Io, loadModelFile, stdio } from './inspect.js';
import { Progress } from './progress.js';
import { loadDataset, loadModelArg, numOpt, optimizerArgs, reportTraining, scheduleArg, writeModel } from './train.js';

export const DISTILL_USAGE =
  'edgeq distill TEACHER.onnx --student mlp:784-64-10|cnn:8-16-10|STUDENT.onnx --data x.npy --labels y.npy [--unlabeled xu.npy] [--temperature 4] [--alpha 0.7] [--epochs N] [--batch B] [--optimizer adam|sgd] [--lr R] [--seed S] [--val-data x.npy --val-labels y.npy] --out student.onnx [--json]';

export async function distillMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, {
    values: ['student', 'data', 'labels', 'unlabeled', 'temperature', 'alpha', 'epochs', 'batch', 'optimizer', 'lr', 'momentum', 'weight-decay', 'schedule', 'seed', 'out', 'val-data', 'val-labels'],
    booleans: ['json'],
  });
  if (a.positional.length !== 1) throw new UsageError(`distill needs one TEACHER model\nusage: ${DISTILL_USAGE}`);
  const studentArg = a.get('student');
  const dataPath = a.get('data');
  const out = a.get('out');
  if (!studentArg || !dataPath || !out) throw new UsageError(`distill needs --student, --data and --out\nusage: ${DISTILL_USAGE}`);
  if (a.has('val-data') !== a.has('val-labels')) throw new UsageError('--val-data and --val-labels go together');
  const seed = a.int('seed', 0, 0, 2 ** 31 - 1);
  const epochs = a.int('epochs', 10, 0, 100000);
  const batch = a.int('batch', 64, 1, 1 << 16);
  const json = a.has('json');
  const teacher = loadModelFile(a.positional[0]!).graph;
  const data = loadDataset(dataPath, a.get('labels'));
  const unlabeled: Dataset | undefined = a.has('unlabeled') ? loadDataset(a.get('unlabeled')!, undefined, 'unlabeled data') : undefined;
  const val = a.has('val-data') ? loadDataset(a.get('val-data')!, a.get('val-labels')!, 'validation data') : undefined;
  const student = loadModelArg(studentArg, data.sample, seed);
  const total = epochs * Math.ceil((data.n + (unlabeled?.n ?? 0)) / batch);
  const bar = new Progress(total, 'distill', { quiet: json, ...(io.progress ? { stream: io.progress } : {}) });
  let last = 0;
  const temperature = numOpt(a, 'temperature') ?? 4;
  const alpha = numOpt(a, 'alpha') ?? 0.7;
  const r = distill({
    teacher,
    student,
    data,
    ...(unlabeled ? { unlabeled } : {}),
    temperature,
    alpha,
    epochs,
    batch,
    seed,
    optimizer: optimizerArgs(a),
    schedule: scheduleArg(a),
    ...(val ? { validation: val } : {}),
    onProgress: (d) => {
      bar.tick(d - last);
      last = d;
    },
  });
  bar.finish();
  const bytes = writeModel(out, r.graph);
  const extra: Record<string, unknown> = { temperature: String(temperature), alpha: String(alpha) };
  if (r.teacherAccuracy !== undefined) extra['teacher top-1 on the labelled data'] = r.teacherAccuracy;
  if (val) extra['student validation top-1'] = accuracyOf(new TrainableGraph(r.graph), val);
  return reportTraining(io, r, out, bytes, extra, json);
}
