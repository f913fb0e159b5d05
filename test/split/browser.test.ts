// PipelineSession on Web Workers, in headless Chromium. Serves the built dist/ (after `npm run build`; set
// EDGEQ_BROWSER_DIST to use another build) from a tiny static server on 127.0.0.1; the page imports
// dist/index.js, splits a graph built in the page into 2 parts and streams inputs through module Web Workers.
//
// The server stands in for a bundler in two respects only: dist/ imports the CommonJS package 'protobufjs/minimal'
// by its bare name, which browsers (and module workers, which have no import maps) cannot resolve, so the
// server rewrites that specifier to a small ES-module wrapper around protobufjs's UMD build; and it resolves
// the package-internal '#platform' import (package.json "imports") by its "browser" condition.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dist = resolve(process.env.EDGEQ_BROWSER_DIST ?? join(root, 'dist'));
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const built = existsSync(join(dist, 'index.js')) && existsSync(join(dist, 'split', 'worker.js'));
const haveChromium = existsSync(chromiumPath);
const ci = !!process.env.CI;
const ready = built && haveChromium;

if (!ready) {
  const why = !built ? `no build at ${dist} (run npm run build first)` : `no Chromium at ${chromiumPath}`;
  // CI builds before testing and installs Chromium: a missing one there is a failure, not a skip
  if (ci) throw new Error(`browser pipeline test cannot run under CI: ${why}`);
  console.warn(`[skip] test/split/browser.test.ts: ${why}`);
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json', '.wasm': 'application/wasm', '.html': 'text/html' };

function protobufShim(): string {
  const pkg = createRequire(import.meta.url).resolve('protobufjs/package.json');
  const umd = readFileSync(join(dirname(pkg), 'dist', 'minimal', 'protobuf.min.js'), 'utf8'); // the reader's static code imports protobufjs/minimal
  // the UMD build assigns module.exports when `module` is an object
  return `const module = { exports: {} }; const exports = module.exports; const define = undefined;\n${umd}\nexport default module.exports;\n`;
}

function serve(): Promise<Server> {
  const shim = protobufShim();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (code: number, type: string, body: string | Buffer) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/' || url.pathname === '/index.html') return send(200, 'text/html', PAGE);
    if (url.pathname === '/shim/protobufjs.js') return send(200, 'text/javascript', shim);
    if (!url.pathname.startsWith('/dist/')) return send(404, 'text/plain', 'not found');
    const file = normalize(join(dist, decodeURIComponent(url.pathname.slice('/dist/'.length))));
    if (!file.startsWith(dist + sep) || !existsSync(file) || !statSync(file).isFile()) return send(404, 'text/plain', 'not found');
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    if (type !== 'text/javascript') return send(200, type, readFileSync(file));
    const js = readFileSync(file, 'utf8')
      .replace(/(from\s*)(['"])protobufjs(?:\/minimal\.js)?\2/g, '$1"/shim/protobufjs.js"')
      .replace(/(from\s*)(['"])#platform\2/g, '$1"/dist/platform/web.js"');
    send(200, type, js);
  });
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res(server));
  });
}

// The page's shared helpers (plain JS: vitest would rewrite an import() inside page.evaluate callbacks):
// a small graph (split into 2 parts by the tests), inputs, and a bit-exact tensor comparison.
const PAGE = `<!doctype html><meta charset="utf-8"><title>edgeq pipeline</title>
<script type="module">
try {
  const m = await import('/dist/index.js');
  const { Graph, Tensor } = m;
  let uid = 0;
  const node = (op, inputs, outputs) => ({ name: op + '_' + uid++, op, domain: '', inputs, outputs, attrs: {} });
  const g = new Graph();
  g.name = 'pipe';
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: ['N', 64] } }];
  g.initializers.set('W', new Tensor('float32', new Float32Array(64 * 64).map((_, i) => Math.sin(i) / 16), [64, 64]));
  g.nodes = [node('MatMul', ['x', 'W'], ['h']), node('Relu', ['h'], ['a']), node('MatMul', ['a', 'W'], ['b']), node('Add', ['b', 'x'], ['c']), node('Tanh', ['c'], ['y'])];
  g.outputs = [{ name: 'y', type: { dtype: 'float32', shape: ['N', 64] } }];
  const input = (k) => ({ x: new Tensor('float32', new Float32Array(2 * 64).map((_, i) => Math.sin(i * 0.37 + k)), [2, 64]) });
  const bytes = (t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const same = (a, b) => a.type === b.type && a.dims.join() === b.dims.join() && bytes(a).length === bytes(b).length && bytes(a).every((v, i) => v === bytes(b)[i]);
  globalThis.h = { m, g, input, same };
} catch (e) {
  globalThis.hError = String(e && e.stack || e);
}
</script>`;

type Browser = import('playwright-core').Browser;
type Page = import('playwright-core').Page;

describe.skipIf(!ready)('PipelineSession in a browser (Web Workers, headless Chromium)', () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  const logs: string[] = [];

  beforeAll(async () => {
    server = await serve();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    page = await browser.newPage();
    page.on('console', (m) => logs.push(`[console.${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/index.html`);
    await page.waitForFunction(() => (globalThis as Record<string, unknown>).h !== undefined || (globalThis as Record<string, unknown>).hError !== undefined);
    const err = await page.evaluate(() => (globalThis as Record<string, unknown>).hError as string | undefined);
    if (err) throw new Error(`page setup failed: ${err}\npage log:\n${logs.join('\n')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
  });

  const onFail = (e: unknown) => {
    throw new Error(`${(e as Error).message}\npage log:\n${logs.join('\n')}`);
  };

  it('a 20-input runStream through 2 Web Workers is bit-identical to one session in the same page', async () => {
    const r = await page
      .evaluate(async () => {
        const { m, g, input, same } = (globalThis as any).h;
        const whole = await m.InferenceSession.create(g);
        const parts = m.split(g, { parts: 2 }).parts;
        const p = await m.PipelineSession.create(parts);
        const stages = p.stages;
        const liveBefore = p.liveWorkers;
        const inputs = Array.from({ length: 20 }, (_, k) => input(k));
        const mismatches: number[] = [];
        let k = 0;
        for await (const out of p.runStream(inputs)) {
          const ref = (await whole.run(inputs[k]!)).y;
          if (!same(out.y, ref)) mismatches.push(k);
          k++;
        }
        const copied = inputs[0]!.x.data.length; // caller's buffers are copied, not detached
        await p.close();
        return { stages, parts: parts.length, liveBefore, count: k, mismatches, copied, liveAfter: p.liveWorkers, worker: typeof Worker, node: typeof process };
      })
      .catch(onFail);
    expect(r.node).toBe('undefined'); // really the browser path
    expect(r).toMatchObject({ stages: 2, parts: 2, liveBefore: 2, count: 20, mismatches: [], copied: 128, liveAfter: 0 });
  });

  it('terminating a worker mid-stream rejects with WorkerCrashError and stops the other worker', async () => {
    const r = await page
      .evaluate(async () => {
        const { m, g, input } = (globalThis as any).h;
        const p = await m.PipelineSession.create(m.split(g, { parts: 2 }).parts, { maxInFlight: 4 });
        const inputs = Array.from({ length: 200 }, (_, k) => input(k));
        let got = 0;
        let err: any;
        try {
          for await (const _ of p.runStream(inputs)) if (++got === 3) void p.workerAt(1).terminate();
        } catch (e) {
          err = e;
        }
        const later = await p.run(input(0)).then(
          () => 'resolved',
          (e: any) => e?.constructor?.name,
        );
        await p.close();
        return {
          got,
          crash: err instanceof m.WorkerCrashError,
          pipeline: err instanceof m.PipelineError,
          edgeq: err instanceof m.EdgeqError,
          stage: err?.stage,
          message: String(err?.message),
          later,
          liveAfter: p.liveWorkers,
        };
      })
      .catch(onFail);
    expect(r.got).toBeGreaterThanOrEqual(3);
    expect(r.got).toBeLessThan(200);
    expect(r).toMatchObject({ crash: true, pipeline: true, edgeq: true, stage: 1, later: 'WorkerCrashError', liveAfter: 0 });
    expect(r.message).toMatch(/part 2 exited unexpectedly/);
  });

  it('an uncaught error inside a Web Worker is fatal, as under Node', async () => {
    const r = await page
      .evaluate(async () => {
        const { m, g, input } = (globalThis as any).h;
        const p = await m.PipelineSession.create(m.split(g, { parts: 2 }).parts);
        const first = await p.run(input(1));
        p.crashStage(0);
        const err = await new Promise((res) => setTimeout(res, 50)).then(() =>
          p.run(input(2)).then(
            () => undefined,
            (e: any) => e,
          ),
        );
        await p.close();
        return { ok: first.y.dims.join(), crash: err instanceof m.WorkerCrashError, stage: err?.stage, message: String(err?.message), liveAfter: p.liveWorkers };
      })
      .catch(onFail);
    expect(r).toMatchObject({ ok: '2,64', crash: true, stage: 0, liveAfter: 0 });
    expect(r.message).toMatch(/part 1 crashed/);
  });
});
