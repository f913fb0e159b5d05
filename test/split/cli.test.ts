import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { splitMain } from '../../src/cli/split.js';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { runParts } from '../../src/split/compose.js';
import { SplitError } from '../../src/split/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';
import { expectSameOutputs } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'edgeq-split-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function collect() {
  let out = '';
  let err = '';
  return { io: { out: (s: string) => void (out += s), err: (s: string) => void (err += s) }, get out() { return out; }, get err() { return err; } };
}

describe.skipIf(!hasData('mnist/lenet.onnx'))('edgeq split', () => {
  const model = dataPath('mnist/lenet.onnx');

  it('--parts writes part files and a manifest; the parts compose to the model', async () => {
    const dir = join(tmp, 'k3');
    const c = collect();
    expect(await splitMain([model, '--parts', '3', '--objective', 'balance', '--device-speed', '1,0.5,1', '--link-mbps', '100', '--out', dir], c.io)).toBe(0);
    expect(c.out).toMatch(/into 3 part\(s\)/);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(m.parts.map((p: { file: string }) => p.file)).toEqual(['part1.onnx', 'part2.onnx', 'part3.onnx']);
    expect(m.parts[0].inputs[0]).toMatchObject({ name: 'input', dtype: 'float32', shape: ['N', 1, 28, 28], bytes: 3136 });
    for (let i = 0; i < 2; i++) expect(m.parts[i].outputs).toEqual(m.parts[i + 1].inputs);
    const parts = m.parts.map((p: { file: string }) => readOnnx(new Uint8Array(readFileSync(join(dir, p.file)))));
    const g = readOnnx(new Uint8Array(readFileSync(model)));
    const feeds = { input: new Tensor('float32', new Float32Array(2 * 784).map((_, i) => Math.abs(Math.sin(i))), [2, 1, 28, 28]) };
    expectSameOutputs(runParts(parts, feeds), InferenceSession.fromGraph(g).runSync(feeds), 'cli parts');
  });

  it('--at with --keep-local, --json', async () => {
    const dir = join(tmp, 'at');
    const c = collect();
    expect(await splitMain([model, '--at', '/p1/MaxPool_output_0,/f1/Gemm_output_0', '--keep-local', '2', '--out', dir, '--json'], c.io)).toBe(0);
    const j = JSON.parse(c.out);
    expect(j.manifest.parts).toHaveLength(3);
    expect(j.manifest.parts[0].outputs.map((o: { name: string }) => o.name)).toEqual(['/p1/MaxPool_output_0']);
    expect(existsSync(join(dir, 'part3.onnx'))).toBe(true);
  });

  it('--report prints per-part numbers and pipeline vs one-worker throughput', async () => {
    const c = collect();
    expect(await splitMain([model, '--parts', '2', '--measure', '--out', join(tmp, 'rep'), '--report', '--report-inputs', '20'], c.io)).toBe(0);
    expect(c.out).toMatch(/part\s+nodes\s+params\s+MACs\s+latency\s+cut bytes/);
    expect(c.out).toMatch(/throughput over 20 inputs: pipeline [\d.]+\/s, one worker [\d.]+\/s \([\d.]+×\)/);
  });

  it('bad usage and bad cuts are typed errors', async () => {
    const c = collect();
    await expect(splitMain([model, '--parts', '2'], c.io)).rejects.toBeInstanceOf(UsageError);
    await expect(splitMain([model, '--parts', '2', '--at', 'x', '--out', tmp], c.io)).rejects.toBeInstanceOf(UsageError);
    await expect(splitMain([model, '--parts', '2', '--objective', 'fast', '--out', tmp], c.io)).rejects.toThrow(/--objective/);
    await expect(splitMain([model, '--parts', '2', '--device-speed', '1,-2', '--out', tmp], c.io)).rejects.toThrow(/--device-speed/);
    await expect(splitMain([model, '--parts', '99', '--out', tmp], c.io)).rejects.toThrow(/cannot split into 99 parts/);
    await expect(splitMain([model, '--at', 'nope', '--out', tmp], c.io)).rejects.toBeInstanceOf(SplitError);
    await expect(splitMain([model, '--at', 'input', '--out', tmp], c.io)).rejects.toThrow(/does not separate/);
  });
});
