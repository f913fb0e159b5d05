// The web page (web/index.html + web/dist/app.js, `npm run web`) in headless Chromium: upload LeNet through
// the file input, see the inspect summary, run, profile, quantize and prune (downloads that read back as
// valid ONNX), compare the variants on MNIST with labels, and check a full-page screenshot is a real
// rendering (size, many colours, mostly not blank). Also a TFLite model through the same page.
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModel } from '../../src/formats/detect.js';
import { openPage, browserBlocker, root, serve, type Browser, type Page } from '../helpers/browser.js';
import { dataPath, hasData } from '../helpers/data.js';

const bundle = join(root, 'web', 'dist', 'app.js');
const ready = hasData('mnist/lenet.onnx') && hasData('tflite/micro_speech_quantized.tflite') && !browserBlocker('test/web/web.test.ts', [bundle]);

describe.skipIf(!ready)('the web page in headless Chromium', () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  let logs: string[];

  beforeAll(async () => {
    const s = await serve({ '/': join(root, 'web') });
    server = s.server;
    ({ browser, page, logs } = await openPage());
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(`${s.url}/`);
    await page.waitForFunction(() => (window as any).edgeqReady === true, undefined, { timeout: 30_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
  });

  const done = (what: string) => page.waitForFunction((w) => document.getElementById('status')!.textContent!.startsWith(w), what, { timeout: 120_000 });
  const errors = () => page.evaluate(() => (window as any).edgeqErrors ?? []);
  const text = (id: string) => page.locator(`#${id}`).innerText();
  const download = async (name: string) => {
    const href = await page.locator(`a.download[download="${name}"]`).getAttribute('href');
    const b64 = await page.evaluate(async (u) => {
      const b = new Uint8Array(await (await fetch(u!)).arrayBuffer());
      let s = '';
      for (const v of b) s += String.fromCharCode(v);
      return btoa(s);
    }, href);
    return new Uint8Array(Buffer.from(b64, 'base64'));
  };

  it('LeNet: summary, run, profile, quantize, prune, compare on labelled MNIST, and a real screenshot', async () => {
    await page.setInputFiles('#model', dataPath('mnist/lenet.onnx'));
    await done('reading lenet.onnx: done');
    const summary = await text('summary');
    expect(summary).toMatch(/model\s+lenet\.onnx \(onnx, 242\.6 KiB\)/);
    expect(summary).toContain('Relu ×4, Gemm ×3, Conv ×2, MaxPool ×2, Flatten ×1');
    expect(summary).toMatch(/parameters\s+61,706/);

    await page.click('#run');
    await done('running: done');
    const out = await text('outputs');
    expect(out).toMatch(/input {2}input {2}float32 \[1,1,28,28\] {2}random/);
    expect(out).toMatch(/output logits {2}float32 \[1,10\] {2}\[-?\d/);

    await page.click('#profile');
    await done('profiling: done');
    const prof = await text('profile-table');
    for (const op of ['Conv', 'Gemm', 'MaxPool', 'Relu', 'Flatten']) expect(prof).toContain(op);

    await page.click('#quantize');
    await done('quantizing: done');
    const q = readModel(await download('lenet.int8.onnx'));
    expect(q.nodes.some((n) => n.op === 'QuantizeLinear')).toBe(true);
    expect(q.nodes.some((n) => n.op === 'DequantizeLinear')).toBe(true);

    await page.click('#prune');
    await done('pruning: done');
    const p = readModel(await download('lenet.pruned50.onnx'));
    const w = [...p.initializers.values()].filter((t) => t.dims.length >= 2).flatMap((t) => Array.from(t.data as Float32Array));
    const zeros = w.filter((v) => v === 0).length / w.length;
    expect(zeros).toBeGreaterThan(0.45);

    await page.setInputFiles('#npy', dataPath('mnist/x_test.npy'));
    await done('reading input: done');
    await page.setInputFiles('#labels', dataPath('mnist/y_test.npy'));
    await done('reading labels: done');
    await page.click('#compare');
    await done('comparing variants: done');
    const table = await text('variant-table');
    for (const v of ['original', 'pruned 50%', 'int8 static', 'int8 dynamic', 'fp16']) expect(table).toContain(v);
    const acc = Number(/original\s+(\d+\.\d+)%/.exec(table)![1]);
    expect(acc).toBeGreaterThan(95); // the trained LeNet on the 2000-sample MNIST test split (README: 96.90 %)
    expect(await text('plots')).toContain('top-1 accuracy on 2000 labelled inputs');
    expect(await page.locator('#plots svg').count()).toBe(2);
    expect(await errors()).toEqual([]);

    const png = await page.screenshot({ fullPage: true });
    expect(png.length).toBeGreaterThan(30_000);
    const pixels = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      let ink = 0;
      for (let i = 0; i < d.length; i += 4) {
        colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        if (d[i]! < 200 || d[i + 1]! < 200 || d[i + 2]! < 200) ink++;
      }
      return { width: img.width, height: img.height, colours: colours.size, ink: ink / (d.length / 4) };
    }, png.toString('base64'));
    expect(pixels.width).toBe(1200);
    expect(pixels.height).toBeGreaterThan(900); // the page grew: summary, outputs, profile, plots
    expect(pixels.colours).toBeGreaterThan(100); // text antialiasing, plot colours
    expect(pixels.ink).toBeGreaterThan(0.02);
    expect(pixels.ink).toBeLessThan(0.6);
    if (process.env.EDGEQ_SCREENSHOT) writeFileSync(process.env.EDGEQ_SCREENSHOT, png); // to look at it
  });

  it('a TFLite model (int8 micro_speech) through the same page', async () => {
    await page.setInputFiles('#npy', []);
    await done('reading input: done');
    await page.setInputFiles('#model', dataPath('tflite/micro_speech_quantized.tflite'));
    await done('reading micro_speech_quantized.tflite: done');
    expect(await text('summary')).toMatch(/model\s+micro_speech_quantized\.tflite \(tflite, 18\.4 KiB\)/);
    await page.click('#run');
    await done('running: done');
    expect(await text('outputs')).toMatch(/output labels_softmax {2}int8 \[1,4\] {2}\[-?\d+, -?\d+, -?\d+, -?\d+\]/);
    expect(await errors()).toEqual([]);
    expect(logs.filter((l) => l.startsWith('[pageerror]'))).toEqual([]);
  });
});
