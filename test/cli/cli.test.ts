import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError, parseArgs } from '../../src/cli/args.js';
import { fitRidge, linearGraph } from '../../src/cli/demo.js';
import { main } from '../../src/cli/main.js';
import { Progress } from '../../src/cli/progress.js';
import { readNpy, writeNpy } from '../../src/formats/npy.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { getOp } from '../../src/ir/registry.js';
import { modelStats } from '../../src/ir/stats.js';
import '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { loadMnist, mnistSubset } from '../../src/train/mnist.js';

function collect() {
  const o = { out: '', err: '', prog: '' };
  return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s), progress: { isTTY: false, write: (s: string) => (o.prog += s) } } };
}
const cli = async (...argv: string[]) => {
  const { o, io } = collect();
  const code = await main(argv, io);
  return { code, ...o };
};

const dir = mkdtempSync(join(tmpdir(), 'edgeq-cli-'));
const m = loadMnist();
const fit = fitRidge(m, m.split.train);
const model = join(dir, 'ridge.onnx');
writeFileSync(model, writeOnnx(linearGraph(fit.W, fit.b)));
const sub = mnistSubset(m, m.split.test.subarray(0, 300));
const xFile = join(dir, 'x.npy');
const yFile = join(dir, 'y.npy');
writeFileSync(xFile, writeNpy(sub.x));
writeFileSync(yFile, writeNpy(new Tensor('int64', BigInt64Array.from(sub.y, (v) => BigInt(v)), [300])));
const haveOps = !!getOp('', 'Flatten') && !!getOp('', 'Gemm');

describe('args parser', () => {
  it('handles --flag value, --flag=value, repeats, booleans, aliases and --', () => {
    const a = parseArgs(['m.onnx', '--input', 'a=1.npy', '--input=b=2.npy', '--json', '-o', 'out', '--', '--x'], {
      values: ['input', 'out'],
      booleans: ['json'],
      aliases: { o: 'out' },
    });
    expect(a.positional).toEqual(['m.onnx', '--x']);
    expect(a.all('input')).toEqual(['a=1.npy', 'b=2.npy']);
    expect(a.get('out')).toBe('out');
    expect(a.has('json')).toBe(true);
    expect(() => parseArgs(['--nope'])).toThrow(UsageError);
    expect(() => parseArgs(['--input'], { values: ['input'] })).toThrow(UsageError);
    expect(() => parseArgs(['--json=1'], { booleans: ['json'] })).toThrow(UsageError);
    expect(() => parseArgs(['--batch', 'x'], { values: ['batch'] }).int('batch', 1, 1)).toThrow(UsageError);
    expect(parseArgs(['--batch', '-5'], { values: ['batch'] }).get('batch')).toBe('-5');
  });
});

describe('progress', () => {
  it('prints nothing when quiet, a few plain lines off a TTY, a redrawn bar on a TTY', () => {
    let s = '';
    const w = { isTTY: false, write: (x: string) => (s += x) };
    const q = new Progress(10, 'q', { quiet: true, stream: w });
    q.tick(10);
    q.finish();
    expect(s).toBe('');
    const p = new Progress(100, 'p', { stream: w });
    for (let i = 0; i < 100; i++) p.tick();
    p.finish();
    expect(s.split('\n').filter(Boolean).length).toBeLessThanOrEqual(6);
    let t = '';
    const bar = new Progress(4, 'bar', { stream: { isTTY: true, write: (x: string) => (t += x) } });
    bar.tick(4);
    bar.finish();
    expect(t).toContain('\r');
    expect(t).toContain('100%');
  });
});

describe('edgeq CLI', () => {
  it('help and unknown commands', async () => {
    expect((await cli('help')).code).toBe(0);
    expect((await cli('help')).out).toContain('usage: edgeq');
    const r = await cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'frobnicate'");
    expect(r.err).toContain('usage: edgeq');
    expect((await cli()).code).toBe(2);
    expect((await cli('inspect')).code).toBe(2);
    expect((await cli('inspect', model, '--bogus')).code).toBe(2);
  });

  it('EdgeqError → "edgeq: <Name>: message", exit 1', async () => {
    const r = await cli('inspect', join(dir, 'missing.onnx'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^edgeq: InputError: cannot read model '.*missing\.onnx'/);
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f));
    const j = await cli('inspect', junk);
    expect(j.code).toBe(1);
    expect(j.err).toMatch(/^edgeq: ModelFormatError: .*junk\.onnx/);
    const badNpy = join(dir, 'bad.npy');
    writeFileSync(badNpy, 'not numpy');
    const e = await cli('eval', model, '--data', badNpy, '--labels', yFile);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/^edgeq: ModelFormatError: .*bad\.npy/);
  });

  it('inspect prints and --json parses with params and MACs', async () => {
    const r = await cli('inspect', model);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/parameters\s+7,850/);
    expect(r.out).toMatch(/MACs\s+7\.8 K \(7,840\).*symbolic dims counted as 1/);
    const j = JSON.parse((await cli('inspect', model, '--json')).out);
    expect(j).toMatchObject({ format: 'onnx', params: 7850, macs: 7840, ops: { Flatten: 1, Gemm: 1 }, bytesByDtype: { float32: 31400 } });
    expect(j.inputs).toEqual([{ name: 'input', dtype: 'float32', shape: ['N', 1, 28, 28] }]);
  });

  it('modelStats counts Conv / MatMul / Gemm MACs from shapes', () => {
    const g = linearGraph(fit.W, fit.b);
    g.types.set('c', { dtype: 'float32', shape: ['N', 8, 10, 10] });
    g.initializers.set('k', new Tensor('float32', new Float32Array(8 * 3 * 9), [8, 3, 3, 3]));
    g.initializers.set('mm', new Tensor('float32', new Float32Array(12), [4, 3]));
    g.inputs.push({ name: 'img', type: { dtype: 'float32', shape: ['N', 3, 12, 12] } }, { name: 'a', type: { dtype: 'float32', shape: [2, 5, 4] } });
    g.types.set('mmo', { dtype: 'float32', shape: [2, 5, 3] });
    g.nodes.push(
      { name: 'conv', op: 'Conv', domain: '', inputs: ['img', 'k'], outputs: ['c'], attrs: {} },
      { name: 'mm', op: 'MatMul', domain: '', inputs: ['a', 'mm'], outputs: ['mmo'], attrs: {} },
    );
    g.outputs.push({ name: 'c', type: { dtype: 'float32', shape: ['N', 8, 10, 10] } }, { name: 'mmo', type: { dtype: 'float32', shape: [2, 5, 3] } });
    const s = modelStats(g);
    expect(s.macsByOp.Conv).toBe(8 * 100 * 27);
    expect(s.macsByOp.MatMul).toBe(2 * 5 * 3 * 4);
    expect(s.macsByOp.Gemm).toBe(7840);
    expect(s.symbols).toContain('N');
  });

  it.runIf(haveOps)('run writes outputs as .npy; eval --json parses', async () => {
    const out = join(dir, 'out');
    const r = await cli('run', model, '--input', `input=${xFile}`, '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toContain('logits  float32 [300,10]');
    const logits = readNpy(new Uint8Array(readFileSync(join(out, 'logits.npy'))));
    expect(logits.dims).toEqual([300, 10]);
    const rj = JSON.parse((await cli('run', model, '--input', xFile, '--json')).out);
    expect(rj.outputs[0]).toMatchObject({ name: 'logits', dtype: 'float32', shape: [300, 10] });
    const e = await cli('eval', model, '--data', xFile, '--labels', yFile, '--batch', '64', '--json');
    expect(e.code).toBe(0);
    expect(e.prog).toBe('');
    const j = JSON.parse(e.out);
    expect(j.total).toBe(300);
    expect(j.accuracy).toBeCloseTo(j.correct / 300, 10);
    expect(j.accuracy).toBeGreaterThan(0.75);
    expect(j.imagesPerSec).toBeGreaterThan(0);
    const plain = await cli('eval', model, '--data', xFile, '--labels', yFile, '--limit', '100');
    expect(plain.out).toMatch(/accuracy\s+[\d.]+ % \(\d+\/100\)/);
    expect(plain.prog).toContain('eval:');
    expect((await cli('run', model, '--input', `nope=${xFile}`)).code).toBe(2);
    expect((await cli('run', model, '--input', `input=${yFile}`)).code).toBe(1);
  });

  it.runIf(haveOps)('demo fits, writes, reloads and evaluates the ridge model', async () => {
    const r = await cli('demo', '--out', join(dir, 'demo'), '--json', '--no-lenet');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.models[0].accuracy).toBeGreaterThan(0.8);
    expect(j.models[0].macs).toBe(7840);
  });

  it('the real entry point exits 2 on unknown commands and 1 on EdgeqError', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
    const u = run('nope');
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('usage: edgeq');
    const e = run('inspect', join(dir, 'missing.onnx'));
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/^edgeq: InputError: /);
  });
});
