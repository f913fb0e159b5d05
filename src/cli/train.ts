/**
 * `edgeq train MODEL.onnx|SPEC --data x.npy --labels y.npy --out model.onnx [--epochs 5] [--batch 64]
 *  [--optimizer adam|sgd] [--lr R] [--momentum M] [--weight-decay W] [--schedule cosine|constant] [--seed S]
 *  [--keep-zeros] [--val-data xv.npy --val-labels yv.npy] [--json]`
 *
 * Trains a preset (mlp:784-64-10, cnn:8-16-10, …) or an ONNX model's float32 initializers with cross-entropy.
 * --keep-zeros fine-tunes a pruned model: weights that are exactly zero stay zero (masks kept).
 */
import { writeFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { readNpy } from '../formats/npy.js';
import { writeOnnx } from '../formats/onnx/writer.js';
import type { Graph } from '../ir/graph.js';
import { TrainableGraph } from '../train/autodiff.js';
import type { OptimizerOptions } from '../train/optim.js';
import { buildPreset, isPresetSpec } from '../train/presets.js';
import { type Dataset, type TrainResult, accuracyOf, makeDataset, train } from '../train/train.js';
import { type ParsedArgs, UsageError, parseArgs } from './args.js';
import { labelsOf } from './eval.js';
import { type Io, loadModelFile, readBytes, stdio } from './inspect.js';
import { Progress } from './progress.js';

export const TRAIN_USAGE =
  'edgeq train MODEL.onnx|mlp:784-64-10|cnn:8-16-10 --data x.npy --labels y.npy --out model.onnx [--epochs N] [--batch B] [--optimizer adam|sgd] [--lr R] [--momentum M] [--weight-decay W] [--schedule cosine|constant] [--seed S] [--keep-zeros] [--val-data x.npy --val-labels y.npy] [--json]';

export function numOpt(a: ParsedArgs, name: string): number | undefined {
  const v = a.get(name);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  return x;
}

/** --data/--labels (and friends) as a validated Dataset. */
export function loadDataset(dataPath: string, labelPath: string | undefined, what = 'data'): Dataset {
  const x = readNpy(readBytes(dataPath, what), dataPath);
  if (x.type !== 'float32') throw new InputError(`${dataPath}: expected float32 samples, got ${x.type}`);
  const y = labelPath ? labelsOf(readNpy(readBytes(labelPath, 'labels'), labelPath), labelPath) : undefined;
  return makeDataset(x, y, undefined, dataPath);
}

/** A model argument: preset spec or ONNX file; presets take the data's per-sample dims. */
export function loadModelArg(arg: string, sample: number[], seed: number): Graph {
  if (isPresetSpec(arg)) return buildPreset(arg, { seed, ...(sample.length === 3 ? { input: sample } : {}) });
  return loadModelFile(arg).graph;
}

export function optimizerArgs(a: ParsedArgs): OptimizerOptions {
  const type = a.get('optimizer');
  if (type !== undefined && type !== 'adam' && type !== 'sgd') throw new UsageError(`--optimizer must be adam or sgd, got '${type}'`);
  const o: OptimizerOptions = {};
  if (type) o.type = type;
  const lr = numOpt(a, 'lr');
  if (lr !== undefined) o.lr = lr;
  const m = numOpt(a, 'momentum');
  if (m !== undefined) o.momentum = m;
  const wd = numOpt(a, 'weight-decay');
  if (wd !== undefined) o.weightDecay = wd;
  return o;
}

export function scheduleArg(a: ParsedArgs): 'cosine' | 'constant' {
  const s = a.get('schedule') ?? 'cosine';
  if (s !== 'cosine' && s !== 'constant') throw new UsageError(`--schedule must be cosine or constant, got '${s}'`);
  return s;
}

export function writeModel(path: string, g: Graph): number {
  const bytes = writeOnnx(g);
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new InputError(`cannot write '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return bytes.length;
}

export function reportTraining(io: Io, r: TrainResult, out: string, bytes: number, extra: Record<string, unknown>, json: boolean): number {
  if (json) {
    io.out(JSON.stringify({ out, bytes, steps: r.steps, seconds: r.seconds, history: r.history, stopped: r.stopped ?? null, ...extra }) + '\n');
  } else {
    for (const h of r.history)
      io.out(`epoch ${h.epoch}: loss ${h.loss.toFixed(4)}, train top-1 ${Number.isNaN(h.trainAccuracy) ? '-' : (h.trainAccuracy * 100).toFixed(2) + '%'}${h.valAccuracy !== undefined ? `, val top-1 ${(h.valAccuracy * 100).toFixed(2)}%` : ''} (${h.seconds.toFixed(1)} s)\n`);
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) io.out(`${k}: ${typeof v === 'number' ? ((v as number) * 100).toFixed(2) + '%' : String(v)}\n`);
    io.out(`wrote ${out} (${bytes} bytes) after ${r.steps} steps in ${r.seconds.toFixed(1)} s\n`);
  }
  if (r.stopped) {
    io.err(`edgeq: ${r.stopped}\n`);
    return 1;
  }
  return 0;
}

export async function trainMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, {
    values: ['data', 'labels', 'out', 'epochs', 'batch', 'optimizer', 'lr', 'momentum', 'weight-decay', 'schedule', 'seed', 'val-data', 'val-labels'],
    booleans: ['json', 'keep-zeros'],
  });
  if (a.positional.length !== 1) throw new UsageError(`train needs one MODEL (ONNX file or preset spec)\nusage: ${TRAIN_USAGE}`);
  const dataPath = a.get('data');
  const labelPath = a.get('labels');
  const out = a.get('out');
  if (!dataPath || !labelPath || !out) throw new UsageError(`train needs --data, --labels and --out\nusage: ${TRAIN_USAGE}`);
  if (a.has('val-data') !== a.has('val-labels')) throw new UsageError('--val-data and --val-labels go together');
  const seed = a.int('seed', 0, 0, 2 ** 31 - 1);
  const epochs = a.int('epochs', 5, 0, 100000);
  const batch = a.int('batch', 64, 1, 1 << 16);
  const json = a.has('json');
  const data = loadDataset(dataPath, labelPath);
  const val = a.has('val-data') ? loadDataset(a.get('val-data')!, a.get('val-labels')!, 'validation data') : undefined;
  const graph = loadModelArg(a.positional[0]!, data.sample, seed);
  let masks: Map<string, Uint8Array> | undefined;
  if (a.has('keep-zeros')) {
    masks = new Map();
    for (const [name, p] of new TrainableGraph(graph).params) if (p.some((v) => v === 0) && p.length > 1) masks.set(name, Uint8Array.from(p, (v) => (v === 0 ? 0 : 1)));
  }
  const bar = new Progress(epochs * Math.ceil(data.n / batch), 'train', { quiet: json, ...(io.progress ? { stream: io.progress } : {}) });
  let last = 0;
  const r = train(graph, data, {
    epochs,
    batch,
    seed,
    optimizer: optimizerArgs(a),
    schedule: scheduleArg(a),
    ...(masks ? { masks } : {}),
    ...(val ? { validation: val } : {}),
    onProgress: (d) => {
      bar.tick(d - last);
      last = d;
    },
  });
  bar.finish();
  const bytes = writeModel(out, r.graph);
  const extra: Record<string, unknown> = {};
  if (masks) extra['masked weights kept at zero'] = `${[...masks.values()].reduce((s, m) => s + m.filter((v) => !v).length, 0)}`;
  if (val) extra['validation top-1'] = accuracyOf(new TrainableGraph(r.graph), val);
  return reportTraining(io, r, out, bytes, extra, json);
}
