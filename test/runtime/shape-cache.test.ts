// The executor caches each step's shape-rule answer by its inputs' dtype, dims and — for quantized tensors — their
// QuantParams object. Kernels hand the same QuantParams object on from run to run, so after warm-up an int8 TFLite
// graph runs no shape rule at all (before, every quantized step re-ran its rule on every run: hello_world_int8
// 13.5 → 5.2 µs per run). What must hold: no rule runs once warm, and the answers stay right (same outputs as the
// first runs and as a fresh session, whose answers are all computed anew).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { allOps } from '../../src/ir/registry.js';
import { readTflite } from '../../src/formats/tflite/reader.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const MODEL = 'tflite/hello_world_int8.tflite';

describe.runIf(hasData(MODEL))('shape answers cached for quantized steps', () => {
  afterEach(() => vi.restoreAllMocks());

  it('hello_world_int8: no shape rule runs after warm-up, outputs unchanged', async () => {
    const s = await InferenceSession.create(readTflite(new Uint8Array(readFileSync(dataPath(MODEL)))));
    const meta = s.inputMetadata[0]!;
    expect(meta.type).toBe('int8');
    const feeds = (code: number) => ({ [s.inputNames[0]!]: new Tensor('int8', Int8Array.of(code), [1, 1]) });
    const first = [-128, -3, 0, 77, 127].map((c) => Array.from(s.runSync(feeds(c))[s.outputNames[0]!]!.data as Int8Array));
    // count shape-rule calls from here on
    let calls = 0;
    for (const def of allOps()) {
      const orig = def.inferShape;
      vi.spyOn(def, 'inferShape').mockImplementation((ctx) => {
        calls++;
        return orig.call(def, ctx);
      });
    }
    const again = [-128, -3, 0, 77, 127].map((c) => Array.from(s.runSync(feeds(c))[s.outputNames[0]!]!.data as Int8Array));
    expect(calls).toBe(0);
    expect(again).toEqual(first);
    // a fresh session (every answer computed anew) agrees
    const fresh = await InferenceSession.create(readTflite(new Uint8Array(readFileSync(dataPath(MODEL)))));
    const cold = [-128, -3, 0, 77, 127].map((c) => Array.from(fresh.runSync(feeds(c))[fresh.outputNames[0]!]!.data as Int8Array));
    expect(cold).toEqual(first);
    expect(calls).toBeGreaterThan(0); // the spy does see rules when they run
  });
});
