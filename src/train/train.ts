/**
 * Training loops: `train` (cross-entropy), `distill` ((1−α)·CE + α·T²·KL against a teacher's logits) and
 * fine-tuning with pruning masks kept. Mini-batch, seeded shuffling (numpy default_rng permutation per
 * epoch), cosine or constant learning rate, SGD/Adam. Data are validated before training starts; a loss that
 * turns NaN/∞ stops training and keeps the last weights that gave a finite loss.
 */
import { InputError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { InferenceSession } from '../runtime/session.js';
import { Tensor } from '../tensor/tensor.js';
import { TrainableGraph } from './autodiff.js';
import { distillLoss } from './loss.js';
import { defaultRng } from './numpy-rng.js';
import { Optimizer, type OptimizerOptions } from './optim.js';

/** Samples x ([n, …sample] float32) with labels (−1 = unlabelled, soft labels only). */
export interface Dataset {
  x: Float32Array;
  /** per-sample dims, e.g. [1, 28, 28] */
  sample: number[];
  n: number;
  y?: Int32Array;
}

/** Validate and wrap data: NaN/∞ pixels, label count and range → InputError. */
export function makeDataset(x: Tensor, y?: ArrayLike<number>, classes?: number, what = 'data'): Dataset {
  if (x.type !== 'float32') throw new InputError(`${what}: expected float32 samples, got ${x.type}`);
  if (x.dims.length < 2) throw new InputError(`${what}: expected [N, …] samples, got [${x.dims.join(',')}]`);
  const n = x.dims[0]!;
  if (n < 1) throw new InputError(`${what}: no samples`);
  const d = x.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) throw new InputError(`${what}: element ${i} (sample ${Math.floor(i / (d.length / n))}) is ${d[i]}; data must be finite`);
  let labels: Int32Array | undefined;
  if (y) {
    if (y.length !== n) throw new InputError(`${what} has ${n} samples but the labels have ${y.length}`);
    labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(y[i]);
      if (!Number.isInteger(v) || v < 0 || (classes !== undefined && v >= classes)) throw new InputError(`label ${i} is ${y[i]}, outside [0, ${classes ?? '∞'})`);
      labels[i] = v;
    }
  }
  return { x: d, sample: x.dims.slice(1) as number[], n, ...(labels ? { y: labels } : {}) };
}

export interface EpochStats {
  epoch: number;
  loss: number;
  /** accuracy on the labelled training rows seen this epoch */
  trainAccuracy: number;
  /** accuracy on `validation` when given */
  valAccuracy?: number;
  seconds: number;
}

export interface TrainOptions {
  epochs?: number;
  batch?: number;
  seed?: number;
  optimizer?: OptimizerOptions;
  /** 'cosine' (default) decays to 0 over the run; 'constant' keeps lr */
  schedule?: 'cosine' | 'constant';
  /** weight name → mask (1 keep, 0 pruned): masked weights are zeroed after every step (pruned fine-tuning) */
  masks?: ReadonlyMap<string, Uint8Array>;
  /** initializers to keep frozen */
  freeze?: readonly string[];
  validation?: Dataset;
  /** data augmentation: shift every [C, H, W] training image by a random whole number of pixels in
   * [−shift, shift] along each spatial axis (zero fill), drawn from the seeded generator (default 0 = off) */
  shift?: number;
  /** called after each batch with samples done / total */
  onProgress?: (done: number, total: number) => void;
  onEpoch?: (s: EpochStats) => void;
}

export interface TrainResult {
  graph: Graph;
  history: EpochStats[];
  steps: number;
  seconds: number;
  /** set when training stopped early (the loss turned NaN/∞); `graph` then holds the last good weights */
  stopped?: string;
}

/** Number of classes (last output dim) of a model from its declared or computed output shape. */
function classesOf(g: Graph, sample: number[]): number {
  const tg = new TrainableGraph(g);
  const out = tg.forward(new Float32Array(sample.reduce((a, b) => a * b, 1)), [1, ...sample], false);
  if (out.s.length !== 2 || out.s[0] !== 1) throw new InputError(`model output '${tg.output}' has shape [${out.s}] for one sample; expected logits [1, classes]`);
  return out.s[1]!;
}

/** Top-1 accuracy of a trainable graph (inference semantics) on labelled data. */
export function accuracyOf(tg: TrainableGraph, data: Dataset, batch = 256): number {
  if (!data.y) throw new InputError('accuracy needs labels');
  const per = data.sample.reduce((a, b) => a * b, 1);
  let correct = 0;
  for (let s = 0; s < data.n; s += batch) {
    const b = Math.min(batch, data.n - s);
    const out = tg.forward(data.x.subarray(s * per, (s + b) * per), [b, ...data.sample], false);
    const C = out.s[1]!;
    for (let r = 0; r < b; r++) {
      let best = 0;
      for (let j = 1; j < C; j++) if (out.d[r * C + j]! > out.d[r * C + best]!) best = j;
      if (best === data.y[s + r]) correct++;
    }
  }
  tg.clear();
  return correct / data.n;
}

/** Logits of any model (run by the inference runtime) on every sample: [n × classes]. */
export function logitsOf(g: Graph, data: Dataset, batch = 256): { logits: Float32Array; classes: number } {
  const s = InferenceSession.fromGraph(g);
  try {
    const per = data.sample.reduce((a, b) => a * b, 1);
    let out: Float32Array | undefined;
    let C = 0;
    for (let i = 0; i < data.n; i += batch) {
      const b = Math.min(batch, data.n - i);
      const r = s.runSync({ [s.inputNames[0]!]: new Tensor('float32', data.x.subarray(i * per, (i + b) * per), [b, ...data.sample]) });
      const t = r[s.outputNames[0]!]!;
      if (t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== b) throw new InputError(`model output '${s.outputNames[0]}' is ${t.type} [${t.dims.join(',')}]; expected float32 logits [${b}, classes]`);
      if (!out) {
        C = t.dims[1]!;
        out = new Float32Array(data.n * C);
      }
      out.set(t.data as Float32Array, i * C);
    }
    return { logits: out!, classes: C };
  } finally {
    void s.release();
  }
}

/** Shift the [C, H, W] image at x[off…] by (dy, dx) pixels, zero fill. */
function shiftImage(x: Float32Array, off: number, sample: number[], dy: number, dx: number, tmp: Float32Array): void {
  if (!dx && !dy) return;
  const [C, H, W] = sample as [number, number, number];
  tmp.fill(0);
  for (let c = 0; c < C; c++)
    for (let y = Math.max(0, dy); y < Math.min(H, H + dy); y++) {
      const sy = y - dy;
      const x0 = Math.max(0, dx);
      const x1 = Math.min(W, W + dx);
      if (x1 > x0) tmp.set(x.subarray(off + (c * H + sy) * W + x0 - dx, off + (c * H + sy) * W + x1 - dx), (c * H + y) * W + x0);
    }
  x.set(tmp, off);
}

interface LoopTargets {
  /** teacher logits per sample (distillation) */
  teacher?: Float32Array;
  temperature: number;
  alpha: number;
}

function loop(graph: Graph, data: Dataset, o: TrainOptions, tgt: LoopTargets): TrainResult {
  const epochs = o.epochs ?? 5;
  const batch = o.batch ?? 64;
  if (!Number.isInteger(epochs) || epochs < 0) throw new InputError(`epochs must be a non-negative integer, got ${epochs}`);
  if (!Number.isInteger(batch) || batch < 1) throw new InputError(`batch must be a positive integer, got ${batch}`);
  const tg = new TrainableGraph(graph, o.freeze ? { freeze: o.freeze } : {});
  if (o.masks)
    for (const [name, m] of o.masks) {
      const p = tg.params.get(name);
      if (!p) throw new InputError(`mask for '${name}', which is not a trainable float32 initializer`);
      if (p.length !== m.length) throw new InputError(`mask for '${name}' has ${m.length} entries, the weight ${p.length}`);
      for (let i = 0; i < p.length; i++) if (!m[i]) p[i] = 0;
    }
  const opt = new Optimizer(o.optimizer ?? {});
  const rng = defaultRng(o.seed ?? 0);
  const per = data.sample.reduce((a, b) => a * b, 1);
  const C = tgt.teacher ? tgt.teacher.length / data.n : 0;
  const stepsPerEpoch = Math.ceil(data.n / batch);
  const total = epochs * stepsPerEpoch;
  const history: EpochStats[] = [];
  const t0 = performance.now();
  let step = 0;
  let stopped: string | undefined;
  const xb = new Float32Array(batch * per);
  const yb = new Int32Array(batch);
  let last = tg.snapshot();
  const shift = o.shift ?? 0;
  if (!Number.isInteger(shift) || shift < 0) throw new InputError(`shift must be a non-negative integer, got ${shift}`);
  if (shift && data.sample.length !== 3) throw new InputError(`shift augmentation needs [C, H, W] samples, got [${data.sample}]`);
  const tmp = shift ? new Float32Array(per) : undefined;
  outer: for (let e = 0; e < epochs; e++) {
    const te = performance.now();
    const perm = rng.permutation(data.n);
    let lossSum = 0;
    let correct = 0;
    let labelled = 0;
    for (let s = 0; s < data.n; s += batch) {
      const b = Math.min(batch, data.n - s);
      const tb = tgt.teacher ? new Float32Array(b * C) : undefined;
      for (let r = 0; r < b; r++) {
        const i = perm[s + r]!;
        xb.set(data.x.subarray(i * per, (i + 1) * per), r * per);
        yb[r] = data.y ? data.y[i]! : -1;
        if (yb[r]! >= 0) labelled++;
        if (tb) tb.set(tgt.teacher!.subarray(i * C, (i + 1) * C), r * C);
      }
      if (shift) for (let r = 0; r < b; r++) shiftImage(xb, r * per, data.sample, rng.randomInterval(2 * shift) - shift, rng.randomInterval(2 * shift) - shift, tmp!);
      const out = tg.forward(xb.subarray(0, b * per), [b, ...data.sample], true);
      if (out.s.length !== 2 || out.s[0] !== b) throw new InputError(`model output has shape [${out.s}], expected logits [${b}, classes]`);
      const classes = out.s[1]!;
      for (let r = 0; r < b; r++) if (yb[r]! >= classes) throw new InputError(`label ${yb[r]} is outside the model's ${classes} classes`);
      const l = distillLoss(out.d, tb, yb.subarray(0, b), b, classes, tgt.temperature, tgt.alpha);
      if (!Number.isFinite(l.loss)) {
        tg.clear();
        tg.restore(last);
        stopped = `loss became ${l.loss} at epoch ${e + 1}, step ${step + 1}; training stopped and kept the last weights with a finite loss`;
        break outer;
      }
      last = tg.snapshot();
      lossSum += l.loss * b;
      correct += l.correct;
      const grads = tg.backward(l.grad);
      const lr = o.schedule === 'constant' ? opt.o.lr : opt.o.lr * 0.5 * (1 + Math.cos((Math.PI * step) / Math.max(1, total)));
      if (o.masks) for (const [name, m] of o.masks) {
        const g = grads.get(name)!;
        for (let i = 0; i < g.length; i++) if (!m[i]) g[i] = 0;
      }
      opt.step(tg.params, grads, lr);
      if (o.masks) for (const [name, m] of o.masks) {
        const p = tg.params.get(name)!;
        for (let i = 0; i < p.length; i++) if (!m[i]) p[i] = 0;
      }
      step++;
      o.onProgress?.(step, total);
    }
    const st: EpochStats = { epoch: e + 1, loss: lossSum / data.n, trainAccuracy: labelled ? correct / labelled : NaN, seconds: (performance.now() - te) / 1000 };
    if (o.validation) st.valAccuracy = accuracyOf(tg, o.validation);
    history.push(st);
    o.onEpoch?.(st);
  }
  tg.clear();
  return { graph: tg.toGraph(), history, steps: step, seconds: (performance.now() - t0) / 1000, ...(stopped ? { stopped } : {}) };
}

/** Train `graph` (its float32 initializers) with cross-entropy on labelled data. */
export function train(graph: Graph, data: Dataset, o: TrainOptions = {}): TrainResult {
  if (!data.y) throw new InputError('training needs labels');
  const classes = classesOf(graph, data.sample);
  for (let i = 0; i < data.n; i++) if (data.y[i]! >= classes) throw new InputError(`label ${i} is ${data.y[i]}, outside the model's ${classes} classes`);
  return loop(graph, data, o, { temperature: 1, alpha: 0 });
}

export interface DistillOptions extends TrainOptions {
  teacher: Graph;
  student: Graph;
  /** labelled data */
  data: Dataset;
  /** extra samples that get only the teacher's soft labels */
  unlabeled?: Dataset;
  /** default 4 */
  temperature?: number;
  /** weight of the soft-label term, default 0.7 */
  alpha?: number;
}

/** Knowledge distillation: loss = (1−α)·CE(student, labels) + α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)). */
export function distill(o: DistillOptions): TrainResult & { teacherAccuracy?: number } {
  const T = o.temperature ?? 4;
  const alpha = o.alpha ?? 0.7;
  if (!(T > 0 && Number.isFinite(T))) throw new InputError(`temperature must be a positive number, got ${T}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new InputError(`alpha must be in [0, 1], got ${alpha}`);
  const { data, unlabeled } = o;
  if (unlabeled && unlabeled.sample.join(',') !== data.sample.join(',')) throw new InputError(`unlabeled samples are [${unlabeled.sample}], labelled ones [${data.sample}]`);
  const sc = classesOf(o.student, data.sample);
  const probe: Dataset = { x: data.x.subarray(0, data.sample.reduce((a, b) => a * b, 1)), sample: data.sample, n: 1 };
  const tc = logitsOf(o.teacher, probe).classes;
  if (sc !== tc) throw new InputError(`student gives ${sc} outputs per sample, the teacher ${tc}; they must match`);
  if (data.y) for (let i = 0; i < data.n; i++) if (data.y[i]! >= sc) throw new InputError(`label ${i} is ${data.y[i]}, outside the model's ${sc} classes`);
  const all: Dataset = unlabeled
    ? (() => {
        const x = new Float32Array(data.x.length + unlabeled.x.length);
        x.set(data.x);
        x.set(unlabeled.x, data.x.length);
        const y = new Int32Array(data.n + unlabeled.n).fill(-1);
        if (data.y) y.set(data.y);
        return { x, sample: data.sample, n: data.n + unlabeled.n, y };
      })()
    : data;
  const { logits } = logitsOf(o.teacher, all);
  const res = loop(o.student, all, o, { teacher: logits, temperature: T, alpha });
  if (data.y) {
    let c = 0;
    for (let i = 0; i < data.n; i++) {
      let b = 0;
      for (let j = 1; j < sc; j++) if (logits[i * sc + j]! > logits[i * sc + b]!) b = j;
      if (b === data.y[i]) c++;
    }
    return { ...res, teacherAccuracy: c / data.n };
  }
  return res;
}
