import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { pruneMain, sweepSvg } from '../../src/cli/prune.js';
import { readModel } from '../../src/formats/detect.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph } from '../../src/ir/graph.js';
import { NothingToPruneError, PruneOptionsError } from '../../src/prune/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

function collector() {
  const o = { out: '', err: '' };
  return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) } };
}

function mlpFile(dir: string): string {
  const g = new Graph();
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: ['N', 4] } }];
  g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: ['N', 2] } }];
  g.initializers.set('w1', new Tensor('float32', Float32Array.from({ length: 32 }, (_, i) => Math.sin(i + 1)), [8, 4]));
  g.initializers.set('b1', new Tensor('float32', new Float32Array(8).fill(0.1), [8]));
  g.initializers.set('w2', new Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => Math.cos(i)), [2, 8]));
  g.nodes = [
    { name: 'fc1', op: 'Gemm', domain: '', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
    { name: 'relu', op: 'Relu', domain: '', inputs: ['h'], outputs: ['a'], attrs: {} },
    { name: 'fc2', op: 'Gemm', domain: '', inputs: ['a', 'w2'], outputs: ['y'], attrs: { transB: 1 } },
  ];
  const p = join(dir, 'mlp.onnx');
  writeFileSync(p, writeOnnx(g));
  return p;
}

describe('edgeq prune (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeq-prune-'));
  const model = mlpFile(dir);

  it('channel prunes, writes a smaller model and reports sizes', async () => {
    const { o, io } = collector();
    const out = join(dir, 'ch.onnx');
    expect(await pruneMain([model, out, '--structured', 'channel', '--sparsity', '0.5'], io)).toBe(0);
    const g = readModel(new Uint8Array(readFileSync(out)));
    expect(g.initializers.get('w1')!.dims).toEqual([4, 4]);
    expect(g.initializers.get('w2')!.dims).toEqual([2, 4]);
    expect(o.out).toMatch(/fc1\s+Gemm\s+w1.*8 -> 4/);
    expect(o.out).toMatch(/gzip -9/);
    expect(o.out).toMatch(/skipped fc2: its channels reach graph output 'y'/);
  });

  it('--json unstructured global', async () => {
    const { o, io } = collector();
    const out = join(dir, 'g.onnx');
    expect(await pruneMain([model, out, '--sparsity', '0.75', '--scope', 'global', '--json'], io)).toBe(0);
    const j = JSON.parse(o.out);
    expect(j.prunedWeights).toBe(36);
    expect(j.after.zeros).toBeGreaterThanOrEqual(36);
  });

  it('bad options: typed errors, no file written', async () => {
    const { io } = collector();
    const out = join(dir, 'bad.onnx');
    await expect(pruneMain([model, out, '--sparsity', '1'], io)).rejects.toThrow(PruneOptionsError);
    await expect(pruneMain([model, out, '--sparsity', 'lots'], io)).rejects.toThrow(UsageError);
    await expect(pruneMain([model, out, '--sparsity', '0.5', '--exclude', 'fc1,nope'], io)).rejects.toThrow(/nope/);
    await expect(pruneMain([model, out, '--sparsity', '0.5', '--exclude', 'fc1,fc2'], io)).rejects.toThrow(NothingToPruneError);
    await expect(pruneMain([model, out, '--structured', 'blocks'], io)).rejects.toThrow(UsageError);
    await expect(pruneMain([model], io)).rejects.toThrow(UsageError);
    await expect(pruneMain([model, '--sweep', '0.5'], io)).rejects.toThrow(/--data/);
    expect(existsSync(out)).toBe(false);
  });

  it('sweepSvg draws one line per mode', () => {
    const svg = sweepSvg(
      [
        { mode: 'layer', requested: 0.5, sparsity: 0.5, params: 10, gzip: 100, accuracy: 0.9 },
        { mode: 'layer', requested: 0.9, sparsity: 0.9, params: 10, gzip: 50, accuracy: 0.2 },
        { mode: '2:4', requested: NaN, sparsity: 0.5, params: 10, gzip: 90, accuracy: 0.85 },
      ],
      0.95,
    );
    expect(svg.match(/<polyline/g)!.length).toBe(1);
    expect(svg.match(/<circle/g)!.length).toBe(3);
    expect(svg).toMatch(/^<svg[^>]+xmlns/);
  });

  it.skipIf(!hasData('mnist/lenet.onnx'))('lenet sweep prints a table and writes the SVG', async () => {
    const { o, io } = collector();
    const svg = join(dir, 'sweep.svg');
    const args = [dataPath('mnist/lenet.onnx'), '--sweep', '0.5,0.9', '--modes', 'global,channel,2:4', '--data', dataPath('mnist/x_test.npy'), '--labels', dataPath('mnist/y_test.npy'), '--limit', '300', '--svg', svg];
    expect(await pruneMain(args, io)).toBe(0);
    expect(o.out).toMatch(/global\s+0\.50\s+50\.0%/);
    expect(o.out).toMatch(/2:4\s+-\s+50\.0%/);
    expect(readFileSync(svg, 'utf8')).toMatch(/<polyline/);
  });
});
