import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { pipelineMain } from '../../src/cli/pipeline.js';
import { runPipeline } from '../../src/pipeline/pipeline.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { loadMnist, mnistSubset } from '../../src/train/mnist.js';
import { makeDataset } from '../../src/train/train.js';

const m = loadMnist();
const tr = mnistSubset(m, m.split.train.subarray(0, 1500));
const te = mnistSubset(m, m.split.test.subarray(0, 500));
const data = { train: makeDataset(tr.x, tr.y, 10), test: makeDataset(te.x, te.y, 10) };

describe('pipeline (short run)', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'edgeq-pipe-'));
  const lines: string[] = [];
  const r = await runPipeline({ outDir, data, teacherEpochs: 1, studentEpochs: 2, finetuneEpochs: 1, fewLabels: 200, latencySamples: 5, log: (s) => lines.push(s) });

  it('produces every variant with a table row, a file, sane accuracy, size, MACs and latency', () => {
    const names = r.rows.map((x) => x.name);
    expect(names.slice(0, 3)).toEqual(['teacher', 'student', 'teacher-pruned']);
    const hasQuant = r.report.stages.some((s) => s.name === 'quantize int8' && s.status === 'ran');
    if (hasQuant) expect(names).toEqual(expect.arrayContaining(['teacher-int8', 'student-int8', 'teacher-pruned-int8']));
    for (const row of r.rows) {
      expect(existsSync(row.file)).toBe(true);
      expect(statSync(row.file).size).toBe(row.bytes);
      expect(row.accuracy).toBeGreaterThan(0.6);
      expect(row.macs).toBeGreaterThan(1000);
      expect(row.latencyMs).toBeGreaterThan(0);
    }
    const acc = Object.fromEntries(r.rows.map((x) => [x.name, x.accuracy]));
    if (hasQuant) for (const n of ['teacher', 'student']) expect(Math.abs(acc[`${n}-int8`]! - acc[n]!)).toBeLessThan(0.02);
    const header = r.table.split('\n')[0]!;
    for (const col of ['variant', 'top-1', 'file', 'params', 'MACs', 'latency']) expect(header).toContain(col);
    expect(r.report.distill).toHaveLength(4);
    expect(lines.some((l) => l.startsWith('[train teacher] done'))).toBe(true);
  });

  it('every exported file loads in onnxruntime-node with outputs agreeing with edgeq', async () => {
    const x = new Tensor('float32', (te.x.data as Float32Array).slice(0, 32 * 784), [32, 1, 28, 28]);
    for (const row of r.rows) {
      const s = await ort.InferenceSession.create(row.file);
      expect(s.inputNames).toHaveLength(1);
      const want = (await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, [32, 1, 28, 28]) }))[s.outputNames[0]!]!;
      expect([...want.dims]).toEqual([32, 10]);
      const es = await InferenceSession.create(readFileSync(row.file));
      const got = (await es.run({ [es.inputNames[0]!]: x }))[es.outputNames[0]!]!;
      const a = got.data as Float32Array;
      const b = want.data as Float32Array;
      let agree = 0;
      let worst = 0;
      for (let i = 0; i < 32; i++) {
        let ia = 0;
        let ib = 0;
        for (let j = 1; j < 10; j++) {
          if (a[i * 10 + j]! > a[i * 10 + ia]!) ia = j;
          if (b[i * 10 + j]! > b[i * 10 + ib]!) ib = j;
          worst = Math.max(worst, Math.abs(a[i * 10 + j]! - b[i * 10 + j]!) / (1 + Math.abs(b[i * 10 + j]!)));
        }
        if (ia === ib) agree++;
      }
      if (row.name.endsWith('int8')) expect(agree).toBeGreaterThanOrEqual(31);
      else expect(worst, row.name).toBeLessThan(1e-3);
      await es.release();
    }
  });

  it('writes a self-contained report with accuracy-vs-size and accuracy-vs-latency SVG plots', () => {
    const html = readFileSync(join(outDir, 'report.html'), 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain('accuracy vs size on disk');
    expect(html).toContain('accuracy vs latency');
    expect(html.match(/class="point"/g)!.length).toBe(2 * r.rows.length);
    expect(html).not.toMatch(/<script|src="http/);
  });

  const chromium = ['chromium', 'chromium-browser', 'google-chrome'].map((c) => {
    try {
      return execFileSync('which', [c]).toString().trim();
    } catch {
      return '';
    }
  }).find(Boolean);
  it.skipIf(!chromium && !process.env.CI)('renders in headless Chromium (screenshot with the plots)', () => {
    const shot = join(outDir, 'report.png');
    execFileSync(chromium!, ['--headless', '--no-sandbox', '--disable-gpu', `--screenshot=${shot}`, '--window-size=1100,1400', `file://${join(outDir, 'report.html')}`], { timeout: 60_000, stdio: 'ignore' });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    const dom = execFileSync(chromium!, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${join(outDir, 'report.html')}`], { timeout: 60_000 }).toString();
    expect(dom.match(/<svg /g)).toHaveLength(2);
  });
});

describe('edgeq pipeline CLI on a user model', () => {
  it('bad usage', async () => {
    await expect(pipelineMain(['model.onnx'])).rejects.toThrow(/needs --data and --labels/);
    await expect(pipelineMain(['a.onnx', 'b.onnx'])).rejects.toThrow(/at most one MODEL/);
  });
});
