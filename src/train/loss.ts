/**
 * Losses on logits [B, C] with their gradients (mean over the batch):
 *  - cross-entropy CE(z, y) = −log softmax(z)_y
 *  - distillation (1−α)·CE(z, y) + α·T²·KL(softmax(t/T) ‖ softmax(z/T)) (Hinton et al.), where rows without a
 *    label (y = −1) get only the KL term (weight 1, i.e. the teacher's soft labels alone).
 */

export interface LossResult {
  loss: number;
  grad: Float32Array;
  /** correct top-1 predictions among labelled rows */
  correct: number;
}

/** log-softmax of row r of z (C wide) into out, scaled by 1/T */
function logSoftmaxRow(z: Float32Array, r: number, C: number, T: number, out: Float64Array): void {
  let mx = -Infinity;
  for (let j = 0; j < C; j++) mx = Math.max(mx, z[r * C + j]! / T);
  let s = 0;
  for (let j = 0; j < C; j++) s += Math.exp(z[r * C + j]! / T - mx);
  const ls = Math.log(s) + mx;
  for (let j = 0; j < C; j++) out[j] = z[r * C + j]! / T - ls;
}

function argmax(z: Float32Array, r: number, C: number): number {
  let b = 0;
  for (let j = 1; j < C; j++) if (z[r * C + j]! > z[r * C + b]!) b = j;
  return b;
}

/** Mean softmax cross-entropy of logits z [B×C] against labels y. */
export function crossEntropy(z: Float32Array, y: ArrayLike<number>, B: number, C: number): LossResult {
  return distillLoss(z, undefined, y, B, C, 1, 0);
}

/**
 * (1−α)·CE + α·T²·KL(p_teacher ‖ p_student), averaged over the B rows. `teacher` holds teacher logits
 * [B×C] (undefined: plain CE); label −1 marks an unlabelled row (KL only).
 */
export function distillLoss(z: Float32Array, teacher: Float32Array | undefined, y: ArrayLike<number>, B: number, C: number, T: number, alpha: number): LossResult {
  const grad = new Float32Array(B * C);
  const ls = new Float64Array(C);
  const lt = new Float64Array(C);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < B; r++) {
    const label = y[r]!;
    const labelled = label >= 0;
    const wCe = teacher ? (labelled ? 1 - alpha : 0) : 1;
    const wKl = teacher ? (labelled ? alpha : 1) : 0;
    if (labelled && argmax(z, r, C) === label) correct++;
    if (wCe) {
      logSoftmaxRow(z, r, C, 1, ls);
      loss -= wCe * ls[label]!;
      for (let j = 0; j < C; j++) grad[r * C + j] += wCe * (Math.exp(ls[j]!) - (j === label ? 1 : 0));
    }
    if (wKl && teacher) {
      logSoftmaxRow(z, r, C, T, ls);
      logSoftmaxRow(teacher, r, C, T, lt);
      let kl = 0;
      for (let j = 0; j < C; j++) {
        const p = Math.exp(lt[j]!);
        kl += p * (lt[j]! - ls[j]!);
        // d(T²·KL)/dz_j = T²·(q_j − p_j)/T = T·(q_j − p_j)
        grad[r * C + j] += wKl * T * (Math.exp(ls[j]!) - p);
      }
      loss += wKl * T * T * kl;
    }
  }
  for (let i = 0; i < grad.length; i++) grad[i] /= B;
  return { loss: loss / B, grad, correct };
}
