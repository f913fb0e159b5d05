import { InputError } from '../errors.js';
import { DTYPES } from '../tensor/dtype.js';
import { f16ToF32 } from '../tensor/fp16.js';
import { Tensor } from '../tensor/tensor.js';
import type { InferenceSession } from './session.js';

/** Top-1 evaluation of a classifier session over a labelled array (used by the CLI, quantizer and pipeline). */

export interface EvalResult {
  accuracy: number;
  correct: number;
  total: number;
  seconds: number;
  imagesPerSec: number;
  msPerImage: number;
  batch: number;
}

/** Row-wise argmax of a [b, …] score tensor (first maximum wins, like numpy). */
function argmaxRows(t: Tensor, b: number): Int32Array {
  const out = new Int32Array(b);
  if (t.dims.length === 1 && (DTYPES[t.type].kind === 'int' || DTYPES[t.type].kind === 'uint')) {
    for (let i = 0; i < b; i++) out[i] = t.num(i);
    return out;
  }
  const c = b ? t.size / b : 0;
  if (!Number.isInteger(c) || c < 1 || t.dims[0] !== b) throw new InputError(`model output [${t.dims.join(',')}] is not one score row per image (batch ${b})`);
  const get = t.type === 'float16' ? (i: number) => f16ToF32(t.data[i] as number) : (i: number) => t.num(i);
  for (let r = 0; r < b; r++) {
    let best = 0;
    let bv = -Infinity;
    for (let k = 0; k < c; k++) {
      const v = get(r * c + k);
      if (v > bv || (Number.isNaN(bv) && !Number.isNaN(v))) {
        bv = v;
        best = k;
      }
    }
    out[r] = best;
  }
  return out;
}

/** Labels tensor -> class ids (rank 1 integers). */
export function labelsOf(t: Tensor, what = 'labels'): Int32Array {
  const kind = DTYPES[t.type].kind;
  if (t.dims.length !== 1 || (kind !== 'int' && kind !== 'uint')) throw new InputError(`${what}: expected a rank-1 integer array, got ${t.type} [${t.dims.join(',')}]`);
  const out = new Int32Array(t.size);
  for (let i = 0; i < t.size; i++) out[i] = t.num(i);
  return out;
}

/**
 * Top-1 accuracy of `session` (first input, first output) on `x` ([N, …]) against `labels`.
 * A concrete batch dim in the model's input forces that batch size; data whose per-sample size matches a
 * concretely shaped input of another rank is reshaped.
 */
export async function evaluate(
  session: InferenceSession,
  x: Tensor,
  labels: ArrayLike<number>,
  opts: { batch?: number; onBatch?: (n: number) => void } = {},
): Promise<EvalResult> {
  if (x.dims.length < 1) throw new InputError('data: expected an array with a leading sample dimension');
  const n = x.dims[0]!;
  if (labels.length !== n) throw new InputError(`data has ${n} samples but labels has ${labels.length}`);
  const meta = session.inputMetadata[0];
  if (!meta) throw new InputError('model has no inputs');
  let rest = x.dims.slice(1);
  const per = rest.reduce((a, b) => a * b, 1);
  const want = meta.shape.slice(1);
  if (want.length !== rest.length && want.every((d) => typeof d === 'number') && (want as number[]).reduce((a, b) => a * b, 1) === per) rest = want as number[];
  let batch = opts.batch ?? 64;
  if (typeof meta.shape[0] === 'number') batch = meta.shape[0];
  if (!Number.isSafeInteger(batch) || batch < 1) throw new InputError(`batch size must be a positive integer, got ${batch}`);
  const data = x.typed;
  let correct = 0;
  const t0 = performance.now();
  for (let s = 0; s < n; s += batch) {
    const b = Math.min(batch, n - s);
    if (b < batch && typeof meta.shape[0] === 'number') throw new InputError(`model input '${meta.name}' has fixed batch ${batch} but ${n} samples are not a multiple of it`);
    const xb = new Tensor(x.type, data.subarray(s * per, (s + b) * per) as never, [b, ...rest]);
    const outs = await session.run({ [meta.name]: xb });
    const pred = argmaxRows(outs[session.outputNames[0]!]!, b);
    for (let i = 0; i < b; i++) if (pred[i] === labels[s + i]) correct++;
    opts.onBatch?.(b);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    accuracy: n ? correct / n : 0,
    correct,
    total: n,
    seconds,
    imagesPerSec: seconds > 0 ? n / seconds : 0,
    msPerImage: n ? (seconds * 1000) / n : 0,
    batch,
  };
}
