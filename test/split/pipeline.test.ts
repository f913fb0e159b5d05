// PipelineSession on node:worker_threads. From TS sources the worker runs through tsx (tsImport); from
// dist/ it is the compiled worker.js. Every test closes its pipeline and checks no worker is left.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EdgeqError } from '../../src/errors.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { Graph, type Node } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { PipelineError, WorkerCrashError } from '../../src/split/errors.js';
import { writeSplit } from '../../src/split/io.js';
import { PipelineSession } from '../../src/split/pipeline.js';
import { split } from '../../src/split/split.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';
import { expectSameOutputs } from './helpers.js';

let uid = 0;
const node = (op: string, inputs: string[], outputs: string[]): Node => ({ name: `${op}_${uid++}`, op, domain: '', inputs, outputs, attrs: {} });

/** A skip-connection graph over [N, 64] with a 64×64 MatMul so stages do real work. */
function model(): Graph {
  const g = new Graph();
  g.name = 'pipe';
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: ['N', 64] } }];
  g.initializers.set('W', new Tensor('float32', new Float32Array(64 * 64).map((_, i) => Math.sin(i) / 16), [64, 64]));
  g.nodes = [node('MatMul', ['x', 'W'], ['h']), node('Relu', ['h'], ['a']), node('MatMul', ['a', 'W'], ['b']), node('Add', ['b', 'x'], ['c']), node('Tanh', ['c'], ['y'])];
  g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: ['N', 64] } }];
  return g;
}

const input = (k: number) => ({ x: new Tensor('float32', new Float32Array(2 * 64).map((_, i) => Math.sin(i * 0.37 + k)), [2, 64]) });

/** Fail instead of hanging. */
function within<T>(p: Promise<T>, ms = 30_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`hung for ${ms} ms`)), ms))]);
}

const open: PipelineSession[] = [];
async function create(...a: Parameters<typeof PipelineSession.create>): Promise<PipelineSession> {
  const p = await within(PipelineSession.create(...a));
  open.push(p);
  return p;
}
afterEach(async () => {
  for (const p of open.splice(0)) {
    await within(p.close());
    expect(p.liveWorkers).toBe(0);
  }
});

describe('PipelineSession', () => {
  it('streams inputs through 3 workers in order, bit-identical to the whole model', async () => {
    const g = model();
    const whole = InferenceSession.fromGraph(g);
    const p = await create(split(g, { parts: 3 }).parts);
    expect(p.stages).toBe(3);
    expect(p.liveWorkers).toBe(3);
    const inputs = Array.from({ length: 40 }, (_, k) => input(k));
    let k = 0;
    for await (const out of p.runStream(inputs)) {
      expectSameOutputs(out, whole.runSync(inputs[k]!), `input ${k}`);
      k++;
    }
    expect(k).toBe(40);
    // caller's buffers are copied, not detached
    expect(inputs[0]!.x.data.length).toBe(128);
    // async iterables work too, and run() for one input
    async function* gen() {
      for (let i = 0; i < 5; i++) yield input(100 + i);
    }
    let n = 0;
    for await (const out of p.runStream(gen())) expectSameOutputs(out, whole.runSync(input(100 + n++)), 'gen');
    expect(n).toBe(5);
    expectSameOutputs(await p.run(input(7)), whole.runSync(input(7)), 'run');
  });

  it('simulated links add latency and bandwidth delay per hop', async () => {
    const g = model();
    const parts = split(g, { parts: 3 }).parts;
    const p = await create(parts, { links: { latencyMs: 40 } });
    const t0 = performance.now();
    await p.run(input(1));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75); // two hops of 40 ms
    // bandwidth: 2·64·4 bytes·8 bits ≈ 4 kbit per hop at 0.1 Mbit/s ≈ 41 ms; 4 inputs serialise on the link
    const q = await create(split(g, { parts: 2 }).parts, { links: [{ mbps: 0.1 }] });
    const t1 = performance.now();
    let n = 0;
    for await (const _ of q.runStream([input(1), input(2), input(3), input(4)])) n++;
    expect(n).toBe(4);
    expect(performance.now() - t1).toBeGreaterThanOrEqual(150);
  });

  it('a worker killed mid-stream rejects the stream with WorkerCrashError; no hung promise, no leaked worker', async () => {
    const p = await create(split(model(), { parts: 3 }).parts, { links: { latencyMs: 5 } });
    const inputs = Array.from({ length: 1000 }, (_, k) => input(k));
    let got = 0;
    const consume = async () => {
      for await (const _ of p.runStream(inputs)) {
        if (++got === 3) void p.workerAt(1).terminate(); // kill stage 2 mid-stream
      }
    };
    const err = await within(consume().then(() => undefined, (e: unknown) => e));
    expect(err).toBeInstanceOf(WorkerCrashError);
    expect(err).toBeInstanceOf(EdgeqError);
    expect((err as WorkerCrashError).stage).toBe(1);
    expect((err as Error).message).toMatch(/worker for part 2 exited unexpectedly/);
    expect(got).toBeLessThan(1000);
    await within(p.close());
    expect(p.liveWorkers).toBe(0);
    // the dead pipeline rejects new work immediately
    await expect(within(p.run(input(0)))).rejects.toBeInstanceOf(PipelineError);
    await expect(within((async () => { for await (const _ of p.runStream([input(0)])) void _; })())).rejects.toBeInstanceOf(PipelineError);
  });

  it('a worker that crashes (uncaught error) rejects every pending result', async () => {
    const p = await create(split(model(), { parts: 2 }).parts, { links: { latencyMs: 30 } });
    const pending = [p.run(input(1)), p.run(input(2)), p.run(input(3))];
    p.crashStage(1);
    const results = await within(Promise.allSettled(pending));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(WorkerCrashError);
      expect(((r as PromiseRejectedResult).reason as Error).message).toMatch(/part 2 crashed: stage 1 crashed on request/);
    }
    await within(p.close());
    expect(p.liveWorkers).toBe(0);
  });

  it('a part that throws on one input rejects that input only (typed, naming the part)', async () => {
    const g = model();
    const p = await create(split(g, { parts: 2 }).parts);
    const bad = { x: new Tensor('float32', new Float32Array(3 * 5), [3, 5]) };
    const err = await within(p.run(bad).then(() => undefined, (e: unknown) => e));
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as Error).message).toMatch(/part 1 failed on input #0: InputError: input 'x' has shape \[3,5\]/);
    // still alive
    expectSameOutputs(await within(p.run(input(2))), InferenceSession.fromGraph(g).runSync(input(2)), 'after error');
    // a stream stops at the failing input
    const it2 = p.runStream([input(1), bad, input(3)]);
    await expect(within((async () => { for await (const _ of it2) void _; })())).rejects.toThrow(/part 1 failed/);
    await expect(within(p.run({} as never))).rejects.toThrow(/input 'x' is missing/);
  });

  it('bad construction is a typed error and leaves no worker behind', async () => {
    await expect(PipelineSession.create([])).rejects.toBeInstanceOf(PipelineError);
    await expect(PipelineSession.create('/nonexistent/dir')).rejects.toThrow(/cannot read split manifest/);
    const g = model();
    g.nodes[0]!.op = 'NoSuchOp';
    await expect(within(PipelineSession.create([g]))).rejects.toThrow(/part 1 failed to load: UnsupportedOpError/);
    await expect(PipelineSession.create(split(model(), { parts: 2 }).parts, { maxInFlight: 0 })).rejects.toThrow(/maxInFlight/);
  });

  it.skipIf(!hasData('mnist/lenet.onnx'))('runs a split written to disk (manifest.json + part files)', async () => {
    const g = readOnnx(new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx'))));
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-split-'));
    try {
      writeSplit(split(g, { parts: 2 }), dir);
      const p = await create(dir);
      const whole = InferenceSession.fromGraph(g);
      const xs = Array.from({ length: 6 }, (_, k) => ({ input: new Tensor('float32', new Float32Array(784).map((_, i) => Math.abs(Math.sin(i * 0.1 + k))), [1, 1, 28, 28]) }));
      let k = 0;
      for await (const out of p.runStream(xs)) expectSameOutputs(out, whole.runSync(xs[k++]!), `lenet ${k}`);
      expect(k).toBe(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
