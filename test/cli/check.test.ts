// `edgeq check MODEL` (src/cli/check.ts): the planned kernels against the TS reference on the same inputs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviation } from '../../src/cli/check.js';
import { main } from '../../src/cli/main.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph } from '../../src/ir/graph.js';
import { defineOp } from '../../src/ir/registry.js';
import { registerKernel } from '../../src/kernels/registry.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const cli = async (...argv: string[]) => {
  const o = { out: '', err: '' };
  const code = await main(argv, { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s), progress: { isTTY: false, write: () => {} } } as never);
  return { code, ...o };
};

// A test-only op whose "kernel" is wrong by a known amount: Y = X + 1 on the reference, X + 1 + 1e-3 on the kernel.
const DOMAIN = 'test.edgeq.check';
defineOp({
  name: 'AddOne',
  domain: DOMAIN,
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {},
  inferShape: (ctx) => [ctx.inputs[0]!],
  reference: (ctx) => [new Tensor('float32', Float32Array.from(ctx.inputs[0]!.data as Float32Array, (v) => v + 1), ctx.inputs[0]!.dims)],
});
registerKernel({
  op: 'AddOne',
  domain: DOMAIN,
  backend: 'wasm',
  prepare: () => ({
    name: 'test_wrong_add_one',
    run: (inputs) => [new Tensor('float32', Float32Array.from(inputs[0]!.data as Float32Array, (v) => v + 1 + 1e-3), inputs[0]!.dims)],
  }),
});

/** X[1,4,6,6] → Conv (a real kernel) → AddOne (the wrong one) → Relu → GlobalAveragePool */
function model(): Graph {
  const g = new Graph();
  g.opsets = { '': 17, [DOMAIN]: 1 };
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 4, 6, 6] } }];
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: 8 * 4 * 9 }, (_, i) => Math.sin(i)), [8, 4, 3, 3]));
  g.nodes = [
    { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['C'], attrs: { pads: [1, 1, 1, 1] } },
    { name: 'wrong', op: 'AddOne', domain: DOMAIN, inputs: ['C'], outputs: ['A'], attrs: {} },
    { name: 'relu', op: 'Relu', domain: '', inputs: ['A'], outputs: ['R'], attrs: {} },
    { name: 'gap', op: 'GlobalAveragePool', domain: '', inputs: ['R'], outputs: ['Y'], attrs: {} },
  ];
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  return g;
}

describe('edgeq check', () => {
  it('names the node whose kernel parts from the reference, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeq-check-'));
    const path = join(dir, 'm.onnx');
    writeFileSync(path, writeOnnx(model()));
    const r = await cli('check', path, '--tol', '1e-5', '--json');
    expect(r.code).toBe(1);
    const rep = JSON.parse(r.out);
    expect(rep.ok).toBe(false);
    expect(rep.outputs[0]).toMatchObject({ name: 'Y', ok: false });
    // the Conv's output agrees (a real kernel within tolerance); the difference starts at 'wrong', not after it
    const starts = rep.values.filter((v: { starts: boolean }) => v.starts);
    expect(starts.map((v: { node: string }) => v.node)).toEqual(['wrong']);
    expect(starts[0].kernel).toBe('test_wrong_add_one');
    expect(starts[0].max_abs).toBeCloseTo(1e-3, 5); // float32 rounding of x + 1 + 1e-3
    expect(rep.values.find((v: { node: string }) => v.node === 'conv').ok).toBe(true);
    const text = await cli('check', path, '--tol', '1e-5');
    expect(text.out).toMatch(/where the difference starts.*: 1\n\s+AddOne wrong \(test_wrong_add_one\)/);
  });

  it.skipIf(!hasData('mnist/lenet.onnx'))('LeNet: every kernel within 1e-5 of the reference, exit 0; --nodes lists every value', async () => {
    const r = await cli('check', dataPath('mnist/lenet.onnx'), '--tol', '1e-5', '--nodes', '--json');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.ok).toBe(true);
    expect(rep.values.length).toBeGreaterThan(5);
    expect(rep.values.every((v: { ok: boolean }) => v.ok)).toBe(true);
  });

  it('deviation: floats relative to the reference range, NaN against a number is off, integers exact', () => {
    const f = (xs: number[]) => new Tensor('float32', Float32Array.from(xs), [xs.length]);
    expect(deviation('v', f([1, 2, 4]), f([1, 2, 4.0001]), 1e-4)).toMatchObject({ ok: true, differing: 1 });
    expect(deviation('v', f([1, 2, 4]), f([1, 2, 4.01]), 1e-4)).toMatchObject({ ok: false });
    expect(deviation('v', f([NaN, 1]), f([NaN, 1]), 0)).toMatchObject({ ok: true, differing: 0 });
    expect(deviation('v', f([NaN, 1]), f([0, 1]), 0.5)).toMatchObject({ ok: false, max_abs: Infinity });
    const i8 = (xs: number[]) => new Tensor('int8', Int8Array.from(xs), [xs.length]);
    expect(deviation('q', i8([1, 2, 3]), i8([1, 2, 4]), 0.9)).toMatchObject({ ok: false, max_abs: 1, differing: 1 });
    expect(deviation('q', i8([1, 2]), i8([1, 2, 3]), 0.9)).toMatchObject({ ok: false });
  });
});
