/**
 * Calibration: run the float model batch by batch with extra fetches of the values to quantize and stream
 * every fetched tensor into its observer. Only one batch of activations is alive at a time.
 */
import { InputError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { floats } from '../ops/util.js';
import { InferenceSession } from '../runtime/session.js';
import { Tensor } from '../tensor/tensor.js';
import { type CalibMethod, type Observer, makeObserver } from './observers.js';

/** Calibration data: one tensor [N, …] for single-input models, or named tensors [N, …] per input. */
export type CalibData = Tensor | Record<string, Tensor>;

export interface CalibOptions {
  method?: CalibMethod;
  percentile?: number;
  bins?: number;
  /** samples per session.run (default 64) */
  batch?: number;
  /** visit batches in this order (indices of batches); default 0, 1, 2, … */
  order?: readonly number[];
  onProgress?: (done: number, total: number) => void;
}

/** Validate calibration data against the model inputs (InputError naming the input) and return per-input tensors. */
export function calibFeeds(g: Graph, data: CalibData): { feeds: Record<string, Tensor>; samples: number } {
  const named: Record<string, Tensor> = data instanceof Tensor ? {} : { ...data };
  if (data instanceof Tensor) {
    if (g.inputs.length !== 1) throw new InputError(`model has ${g.inputs.length} inputs (${g.inputs.map((i) => i.name).join(', ')}); give calibration data per input name`);
    named[g.inputs[0]!.name] = data;
  }
  let samples = -1;
  const feeds: Record<string, Tensor> = {};
  for (const inp of g.inputs) {
    const t = named[inp.name];
    if (!t) throw new InputError(`calibration data has no array for model input '${inp.name}'`);
    if (t.type !== inp.type.dtype) throw new InputError(`calibration data for input '${inp.name}' is ${t.type}, the model expects ${inp.type.dtype}`);
    if (t.dims.length < 1) throw new InputError(`calibration data for input '${inp.name}' needs a leading sample dimension`);
    const want = inp.type.shape;
    let rest = t.dims.slice(1);
    if (want) {
      const wr = want.slice(1);
      const per = rest.reduce((a, b) => a * b, 1);
      const concrete = wr.every((d) => typeof d === 'number');
      // flat samples ([N, 784]) are reshaped to a fully concrete input shape ([N, 1, 28, 28]) of the same size
      if (rest.length === 1 && wr.length !== 1 && concrete && (wr as number[]).reduce((a, b) => a * b, 1) === per) rest = wr as number[];
      const ok = wr.length === rest.length && wr.every((d, i) => typeof d !== 'number' || d === rest[i]);
      if (!ok) throw new InputError(`calibration data for input '${inp.name}' has sample shape [${t.dims.slice(1).join(',')}], the model expects [${wr.join(',')}]`);
    }
    if (samples >= 0 && t.dims[0] !== samples) throw new InputError(`calibration arrays disagree on the sample count (${samples} vs ${t.dims[0]} for '${inp.name}')`);
    samples = t.dims[0]!;
    feeds[inp.name] = rest.length === t.dims.length - 1 && rest.every((d, i) => d === t.dims[i + 1]) ? t : t.reshape([t.dims[0]!, ...rest]);
  }
  for (const k of Object.keys(named)) if (!g.inputs.some((i) => i.name === k)) throw new InputError(`calibration data names '${k}', which is not a model input`);
  if (samples === 0) throw new InputError('calibration data is empty (0 samples)');
  return { feeds, samples };
}

function sliceBatch(t: Tensor, s: number, e: number): Tensor {
  const per = t.size / t.dims[0]!;
  return new Tensor(t.type, t.typed.subarray(s * per, e * per) as never, [e - s, ...t.dims.slice(1)]);
}

/** Batches of the calibration data as feeds. */
export function* batches(feeds: Record<string, Tensor>, samples: number, batch: number, order?: readonly number[]): Generator<Record<string, Tensor>> {
  const nb = Math.ceil(samples / batch);
  const idx = order ?? Array.from({ length: nb }, (_, i) => i);
  for (const b of idx) {
    if (!Number.isInteger(b) || b < 0 || b >= nb) throw new InputError(`batch index ${b} out of range [0, ${nb})`);
    const s = b * batch;
    const e = Math.min(samples, s + batch);
    const f: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) f[k] = sliceBatch(t, s, e);
    yield f;
  }
}

/**
 * Observe `names` (float values of `g`) over the calibration data. Returns one observer per name.
 * The input graph is run as is (it must be the float model the ranges are meant for).
 */
export async function calibrate(g: Graph, data: CalibData, names: readonly string[], opts: CalibOptions = {}): Promise<Map<string, Observer>> {
  const { feeds, samples } = calibFeeds(g, data);
  const batch = opts.batch ?? 64;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new InputError(`calibration batch must be a positive integer, got ${batch}`);
  const method = opts.method ?? 'minmax';
  const obs = new Map<string, Observer>();
  for (const n of names) obs.set(n, makeObserver(method, { ...(opts.percentile !== undefined ? { percentile: opts.percentile } : {}), ...(opts.bins !== undefined ? { bins: opts.bins } : {}) }));
  const session = InferenceSession.fromGraph(g);
  const inputs = new Set(g.inputs.map((i) => i.name));
  const fetch = names.filter((n) => !inputs.has(n));
  let done = 0;
  try {
    for (const f of batches(feeds, samples, batch, opts.order)) {
      const out = fetch.length ? session.runSync(f, fetch) : {};
      for (const n of names) {
        const t = inputs.has(n) ? f[n]! : out[n]!;
        obs.get(n)!.observe(floats(t));
      }
      done += f[g.inputs[0]!.name]!.dims[0]!;
      opts.onProgress?.(done, samples);
    }
  } finally {
    await session.release();
  }
  return obs;
}
