// `edgeq profile MODEL [--dims …] [--runs N] [--json]` (src/cli/profile.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph } from '../../src/ir/graph.js';
import { writeNpy } from '../../src/formats/npy.js';
import { Tensor } from '../../src/tensor/tensor.js';

const cli = async (...argv: string[]) => {
  const o = { out: '', err: '' };
  const code = await main(argv, { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s), progress: { isTTY: false, write: () => {} } } as never);
  return { code, ...o };
};

/** X[N,4,H,W] → Conv (kernel) → Floor (reference) → GlobalAveragePool (kernel). */
function model(): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: ['N', 4, 'H', 'W'] } }];
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: 8 * 4 * 9 }, (_, i) => Math.sin(i)), [8, 4, 3, 3]));
  g.nodes = [
    { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['C'], attrs: { pads: [1, 1, 1, 1] } },
    { name: 'floor', op: 'Floor', domain: '', inputs: ['C'], outputs: ['F'], attrs: {} },
    { name: 'gap', op: 'GlobalAveragePool', domain: '', inputs: ['F'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

const dir = mkdtempSync(join(tmpdir(), 'edgeq-profile-'));
const path = join(dir, 'm.onnx');
writeFileSync(path, writeOnnx(model()));

describe('edgeq profile', () => {
  it('symbolic dims other than a leading batch need --dims: the error lists them', async () => {
    const r = await cli('profile', path);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/symbolic input dims need --dims.*X \[N,4,H,W\]/);
  });

  it('--json: median ms, reference share, per node the kernel or the reference with its reason', async () => {
    const r = await cli('profile', path, '--dims', 'X=1,4,8,8', '--runs', '3', '--json');
    expect(r.code).toBe(0);
    const p = JSON.parse(r.out);
    expect(p.runs).toBe(3);
    expect(p.ms).toBeGreaterThan(0);
    expect(p.reference_share).toBeGreaterThan(0);
    expect(p.reference_share).toBeLessThanOrEqual(1);
    expect(p.inputs).toEqual({ X: { dtype: 'float32', shape: [1, 4, 8, 8] } });
    const by = Object.fromEntries(p.nodes.map((n: { name: string }) => [n.name, n]));
    expect(by.conv.kernel).toMatch(/conv/);
    expect(by.floor).toMatchObject({ op: 'Floor', kernel: 'reference', reason: 'no WASM kernel for Floor' });
    expect(by.gap.kernel).toMatch(/avgpool/);
  });

  it('text: totals per op and the reference nodes with reasons; --input takes an .npy', async () => {
    const x = join(dir, 'x.npy');
    writeFileSync(x, writeNpy(new Tensor('float32', new Float32Array(2 * 4 * 5 * 5).fill(0.5), [2, 4, 5, 5])));
    const r = await cli('profile', path, '--input', `X=${x}`, '--runs', '2');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/median .* ms over 2 runs/);
    expect(r.out).toMatch(/per op:\n/);
    expect(r.out).toMatch(/on the reference \(1 nodes\):\n.*Floor +floor: no WASM kernel for Floor/);
  });
});
