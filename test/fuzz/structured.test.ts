// Structure-aware fuzzing (test/helpers/model-mutate.ts): fields of real models — dims, dtype codes, attribute values,
// index fields, quantization arrays, run-time index feeds — mutated and re-encoded, so the cases reach the shape rules
// and index checks instead of stopping at the protobuf / flatbuffer framing. Every outcome must be a clean run or an
// EdgeqError; the kernel memory may not grow by more than a model's plausible need. scripts/fuzz-models.ts runs the
// same mutations at scale (with a hang watchdog); the classes it found have one regression test each below.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readTensorProto } from '../../src/formats/onnx/test-data.js';
import { kernels } from '../../src/kernels/wasm.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';
import { builtSeeds, mutateOnnx, mutateTflite, prng, runCase } from '../helpers/model-mutate.js';
import { env } from '../../src/runtime/env.js';

const GROW_LIMIT = 256 * 2 ** 20;

type Seed = { name: string; bytes: Uint8Array; feeds?: Tensor[] };

/** Every 12th conformance node model (one op each, with its test inputs): ~150 ops' attribute rules. */
function onnxSeeds(): Seed[] {
  const out: Seed[] = [];
  if (hasData('mnist/lenet.onnx')) out.push({ name: 'lenet', bytes: new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx'))) });
  if (!hasData('onnx-conformance/node')) return out;
  const dir = dataPath('onnx-conformance/node');
  readdirSync(dir)
    .sort()
    .filter((_, i) => i % 12 === 0)
    .forEach((d) => {
      const set = join(dir, d, 'test_data_set_0');
      let feeds: Tensor[] | undefined;
      try {
        feeds = readdirSync(set)
          .filter((f) => f.startsWith('input_'))
          .sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6)))
          .map((f) => readTensorProto(new Uint8Array(readFileSync(join(set, f)))));
      } catch {
        feeds = undefined; // sequence inputs or no data set: runCase builds zero feeds from the metadata
      }
      out.push({ name: d, bytes: new Uint8Array(readFileSync(join(dir, d, 'model.onnx'))), feeds });
    });
  return out;
}

function tfliteSeeds(): Seed[] {
  if (!hasData('tflite')) return [];
  const dir = dataPath('tflite');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.tflite'))
    .sort()
    .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(dir, f))) }));
}

/** One property run: seed model `which`, mutation stream `caseSeed`. Failures name the mutated fields. */
async function fuzzCase(seeds: Seed[], which: number, caseSeed: number, mutate: typeof mutateOnnx): Promise<void> {
  const s = seeds[which]!;
  const r = prng(caseSeed);
  const m = mutate(s.bytes, r);
  const mem0 = kernels()?.memory.buffer.byteLength ?? 0;
  const o = await runCase(m.bytes, s.feeds, r, m.what);
  const grow = (kernels()?.memory.buffer.byteLength ?? 0) - mem0;
  const where = `${s.name}: ${m.what.join('; ')}`;
  expect(o.kind === 'bug' ? `${where} → ${o.name}: ${o.message}` : 'ok').toBe('ok');
  expect(grow > GROW_LIMIT ? `${where} grew the kernel memory by ${grow} bytes` : 'ok').toBe('ok');
}

describe('structure-aware fuzzing', () => {
  it('ONNX field mutations (conformance ops + lenet) → a run or an EdgeqError', async () => {
    const seeds = onnxSeeds();
    if (!seeds.length) return;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: seeds.length - 1 }), fc.nat(), (which, caseSeed) => fuzzCase(seeds, which, caseSeed, mutateOnnx)),
      { numRuns: 1500, seed: 20261207 },
    );
  }, 120_000);

  it('TFLite field mutations (index, shape, dtype, quantization, options fields) → a run or an EdgeqError', async () => {
    const seeds = tfliteSeeds();
    if (!seeds.length) return;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: seeds.length - 1 }), fc.nat(), (which, caseSeed) => fuzzCase(seeds, which, caseSeed, mutateTflite)),
      { numRuns: 1000, seed: 20261207 },
    );
  }, 120_000);

  it('field mutations of built models (TFLite WHILE, int8 one-op cases, RNN/GRU/LSTM, Resize) → a run or an EdgeqError', async () => {
    // not WHILE grow: a mutation that stops its counter doubles x until the 2 GiB tensor limit, ~30 iterations and tens
    // of seconds of copying (bounded, but for the watchdog of scripts/fuzz-models.ts, not a unit test)
    const seeds = (await builtSeeds()).filter((b) => b.name !== 'tflite WHILE grow');
    const was = env.limits.nodeWork;
    env.limits.nodeWork = 1e8; // as the fuzzer runs: a mutated Resize to 65536× stays a quick ShapeError
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: seeds.length - 1 }), fc.nat(), (which, caseSeed) =>
          fuzzCase(seeds, which, caseSeed, seeds[which]!.name.startsWith('tflite') ? mutateTflite : mutateOnnx),
        ),
        { numRuns: 400, seed: 20261208 },
      );
    } finally {
      env.limits.nodeWork = was;
    }
  }, 120_000);
});
