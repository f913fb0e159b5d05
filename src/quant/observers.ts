/**
 * Calibration observers. Each streams over batches (`observe(values)` per batch) and keeps O(bins)
 * state, never the activations themselves; `range()` returns the clipping range [min, max] to quantize with.
 *
 * - minmax: running min / max of the finite values (order independent).
 * - percentile: histogram of |x|; threshold = the p-th percentile of |x| (onnxruntime's Percentile).
 * - entropy: TensorRT / onnxruntime KL-divergence threshold search over the |x| histogram.
 * - mse: clip threshold minimising the expected squared error (clipping + rounding) under the histogram.
 * Histogram methods clip symmetrically in |x| and intersect with the exact [min, max], so a ReLU output
 * (all ≥ 0) keeps min 0.
 */
import { InputError } from '../errors.js';

export type CalibMethod = 'minmax' | 'percentile' | 'entropy' | 'mse';
export const CALIB_METHODS: readonly CalibMethod[] = ['minmax', 'percentile', 'entropy', 'mse'];

export interface Observer {
  observe(values: ArrayLike<number>): void;
  /** clipping range (min ≤ 0 ≤ max is not guaranteed here; qparams widens to include 0) */
  range(): [number, number];
  /** exact min / max seen */
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

export class MinMaxObserver implements Observer {
  min = Infinity;
  max = -Infinity;
  count = 0;
  observe(v: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (x - x !== 0) continue; // NaN and ±inf carry no range (they saturate when quantized)
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    this.min = lo;
    this.max = hi;
    this.count += v.length;
  }
  range(): [number, number] {
    return this.count && Number.isFinite(this.min) ? [this.min, this.max] : [0, 0];
  }
}

/**
 * Histogram of |x| over [0, width·bins). When a batch exceeds the range, the width doubles and pairs of
 * bins merge (exact, since bin edges stay aligned), so the state is O(bins) however many batches stream by.
 */
export class HistogramObserver extends MinMaxObserver {
  readonly hist: Float64Array;
  width = 0;
  constructor(
    readonly method: Exclude<CalibMethod, 'minmax'>,
    readonly bins = 2048,
    readonly percentile = 99.999,
    /** integer levels the activation will use (256 for 8 bits) */
    readonly levels = 256,
  ) {
    super();
    if (!Number.isInteger(bins) || bins < 16 || bins % 2) throw new InputError(`histogram bins must be an even integer ≥ 16, got ${bins}`);
    if (!(percentile > 0 && percentile <= 100)) throw new InputError(`percentile must be in (0, 100], got ${percentile}`);
    this.hist = new Float64Array(bins);
  }

  override observe(v: ArrayLike<number>): void {
    super.observe(v);
    let a = 0;
    for (let i = 0; i < v.length; i++) {
      const x = Math.abs(v[i]!);
      if (x > a && Number.isFinite(x)) a = x;
    }
    if (a === 0 && this.width === 0) {
      this.hist[0]! += countFinite(v);
      return;
    }
    if (this.width === 0) this.width = (a / this.bins) * 1.0000001;
    while (a >= this.width * this.bins) this.grow();
    const h = this.hist;
    const inv = 1 / this.width;
    const last = this.bins - 1;
    for (let i = 0; i < v.length; i++) {
      const x = Math.abs(v[i]!);
      if (!Number.isFinite(x)) continue;
      const b = Math.floor(x * inv);
      h[b > last ? last : b]!++;
    }
  }

  private grow(): void {
    const h = this.hist;
    const half = this.bins / 2;
    for (let i = 0; i < half; i++) h[i] = h[2 * i]! + h[2 * i + 1]!;
    h.fill(0, half);
    this.width *= 2;
  }

  /** clipping threshold on |x| */
  threshold(): number {
    const absMax = Math.max(Math.abs(this.min), Math.abs(this.max));
    if (this.width === 0 || !Number.isFinite(absMax)) return Number.isFinite(absMax) ? absMax : 0;
    let t: number;
    if (this.method === 'percentile') t = percentileThreshold(this.hist, this.width, this.percentile);
    else if (this.method === 'entropy') t = entropyThreshold(this.hist, this.width, this.signed() ? this.levels / 2 : this.levels);
    else t = mseHistThreshold(this.hist, this.width, this.signed() ? this.levels / 2 : this.levels);
    return Math.min(t, absMax);
  }

  private signed(): boolean {
    return this.min < 0;
  }

  override range(): [number, number] {
    if (!this.count || !Number.isFinite(this.min)) return [0, 0];
    const t = this.threshold();
    return [Math.max(this.min, -t), Math.min(this.max, t)];
  }
}

function countFinite(v: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i]!)) n++;
  return n;
}

export function makeObserver(method: CalibMethod, opts: { percentile?: number; bins?: number; bits?: number } = {}): Observer {
  if (method === 'minmax') return new MinMaxObserver();
  if (!CALIB_METHODS.includes(method)) throw new InputError(`unknown calibration method '${String(method)}' (minmax, percentile, entropy, mse)`);
  return new HistogramObserver(method, opts.bins ?? 2048, opts.percentile ?? 99.999, 2 ** (opts.bits ?? 8));
}

/** Upper edge of the bin where the cumulative count reaches p %. */
export function percentileThreshold(hist: Float64Array, width: number, p: number): number {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i]!;
  if (total === 0) return 0;
  const target = (total * p) / 100;
  let c = 0;
  for (let i = 0; i < hist.length; i++) {
    c += hist[i]!;
    if (c >= target) return (i + 1) * width;
  }
  return hist.length * width;
}

/**
 * TensorRT's entropy calibration: for every candidate threshold i (bins), P = hist[0..i) with the outliers
 * folded into the last bin; Q = hist[0..i) (outliers not folded, as in TensorRT) squeezed into `levels`
 * quantization bins and expanded back (spread over the non-empty source bins); pick the i minimising KL(P ‖ Q).
 */
export function entropyThreshold(hist: Float64Array, width: number, levels: number): number {
  const n = hist.length;
  let last = n - 1;
  while (last > 0 && hist[last] === 0) last--;
  const nq = Math.max(2, Math.floor(levels));
  if (last + 1 <= nq) return (last + 1) * width;
  // suffix sums for the outlier mass beyond candidate i
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + hist[i]!;
  let bestI = last + 1;
  let bestKl = Infinity;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  const step = Math.max(1, Math.floor((last + 1 - nq) / 512));
  for (let i = nq; i <= last + 1; i += step) {
    for (let k = 0; k < i; k++) p[k] = hist[k]!;
    p[i - 1]! += suffix[i]!;
    // merge i bins into nq quantization bins
    q.fill(0, 0, i);
    const per = i / nq;
    for (let j = 0; j < nq; j++) {
      const s = Math.floor(j * per);
      const e = j === nq - 1 ? i : Math.floor((j + 1) * per);
      let sum = 0;
      let nz = 0;
      for (let k = s; k < e; k++) {
        sum += hist[k]!;
        if (hist[k]! !== 0) nz++;
      }
      if (nz === 0) continue;
      for (let k = s; k < e; k++) if (p[k]! !== 0) q[k] = sum / nz;
    }
    const kl = klDiv(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      bestI = i;
    }
  }
  return bestI * width;
}

function klDiv(p: Float64Array, q: Float64Array, n: number): number {
  let sp = 0;
  let sq = 0;
  for (let k = 0; k < n; k++) {
    sp += p[k]!;
    sq += q[k]!;
  }
  if (sp === 0 || sq === 0) return Infinity;
  let kl = 0;
  for (let k = 0; k < n; k++) {
    const a = p[k]! / sp;
    if (a === 0) continue;
    const b = q[k]! / sq;
    if (b === 0) return Infinity;
    kl += a * Math.log(a / b);
  }
  return kl;
}

/**
 * Threshold minimising E[(x − Q_t(x))²] under the histogram (bin centres as samples): values beyond t pay
 * the clipping error (x − t)², values inside pay the uniform rounding noise Δ²/12 with Δ = t / (levels − 1).
 */
export function mseHistThreshold(hist: Float64Array, width: number, levels: number): number {
  const n = hist.length;
  let last = n - 1;
  while (last > 0 && hist[last] === 0) last--;
  let best = (last + 1) * width;
  let bestE = Infinity;
  const cand = Math.min(last + 1, 256);
  // prefix sums of counts, Σc·x, Σc·x² over bin centres
  const c0 = new Float64Array(n + 1);
  const c1 = new Float64Array(n + 1);
  const c2 = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) {
    const x = (k + 0.5) * width;
    c0[k + 1] = c0[k]! + hist[k]!;
    c1[k + 1] = c1[k]! + hist[k]! * x;
    c2[k + 1] = c2[k]! + hist[k]! * x * x;
  }
  for (let s = 1; s <= cand; s++) {
    const i = Math.max(1, Math.round(((last + 1) * s) / cand));
    const t = i * width;
    const inside = c0[i]!;
    const d = t / (levels - 1);
    // Σ_{x>t} (x − t)² = Σx² − 2tΣx + t²·n over the outside bins
    const on = c0[n]! - c0[i]!;
    const o1 = c1[n]! - c1[i]!;
    const o2 = c2[n]! - c2[i]!;
    const e = (inside * d * d) / 12 + (o2 - 2 * t * o1 + t * t * on);
    if (e < bestE) {
      bestE = e;
      best = t;
    }
  }
  return best;
}
