// The float hand_landmark_lite.tflite shipped in the npm package @mediapipe/hands (devDependency): loads,
// runs, and returns the outputs its model card lists (21 3-D landmarks, presence, handedness, world landmarks).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';

function modelPath(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@mediapipe/hands/package.json');
    const p = join(dirname(pkg), 'hand_landmark_lite.tflite');
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}
const path = modelPath();
if (!path && process.env.CI) throw new Error('@mediapipe/hands (devDependency) is not installed under CI');

describe.runIf(path)('@mediapipe/hands hand_landmark_lite.tflite (float, fp16 weights via DEQUANTIZE)', () => {
  it('runs with the documented input/output shapes', async () => {
    const s = await InferenceSession.create(path!);
    expect(s.inputMetadata.map((m) => [m.type, m.shape])).toEqual([['float32', [1, 224, 224, 3]]]);
    const x = new Float32Array(224 * 224 * 3);
    for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 255) / 255;
    const out = s.runSync({ [s.inputNames[0]!]: new Tensor('float32', x, [1, 224, 224, 3]) });
    const shapes = s.outputNames.map((n) => out[n]!.dims);
    expect(shapes).toEqual([[1, 63], [1, 1], [1, 1], [1, 63]]);
    for (const n of s.outputNames) expect(Array.from(out[n]!.data as Float32Array).every(Number.isFinite)).toBe(true);
    const presence = out[s.outputNames[1]!]!.num(0);
    expect(presence).toBeGreaterThanOrEqual(0);
    expect(presence).toBeLessThan(0.5); // noise is not a hand
  }, 60_000);
});
