// The smoke test (smoke.mjs) in Node, Deno and Bun (npm packages `deno` and `bun`, pinned devDependencies,
// each running the built dist/ through package.json "imports") and in headless Chromium (the same module
// bundled into an app by the esbuild CLI with only --bundle --platform=browser, its pipeline stages in a
// bundle of 'edgeq/worker'; the page is served cross-origin isolated, so it has SharedArrayBuffer and kernel
// threads). Every runtime must give bit-identical outputs to Node's on every step, at 1 and 2 kernel threads.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, browserBlocker, esbuild, openPage, root, serve, type Browser } from '../helpers/browser.js';
import { dataDir, hasData } from '../helpers/data.js';

const MODELS = ['mnist/lenet.onnx', 'tflite/micro_speech_quantized.tflite', 'tflite/hello_world_float.tflite'];
const ready = MODELS.every((m) => hasData(m)) && !browserBlocker('test/runtimes/runtimes.test.ts');

const RUNTIMES: Record<string, string[]> = {
  node: [process.execPath],
  deno: [join(root, 'node_modules', '.bin', 'deno'), 'run', '--allow-read'], // no other permission needed
  bun: [join(root, 'node_modules', '.bin', 'bun')],
};

type Hex = { type: string; dims: number[]; hex: string };
interface Smoke {
  runtime: string;
  env: { version: string; platform: string; simd: boolean; relaxedSimd: boolean; numThreads: number };
  onnx: Hex;
  sourcesAgree: boolean;
  tfliteInt8: Hex;
  tfliteFloat: Hex;
  quantized: Hex;
  quantizedBytes: number;
  pipeline: Hex[];
  pipelineMatchesWhole: boolean;
  pipelineStages: number;
  urlAgrees?: boolean;
  sealed: Record<string, { same: boolean; verified: boolean; tampered: string }>;
  /** a conv model at numThreads 1 and 2: threads the 2-thread session got, its output's hash, whether 1T = 2T */
  threads: { numThreads: number; dims: number[]; sha256: string; same: boolean };
}

/** env.wasm.numThreads by default on this machine (min(cores, 4)); every runtime here has shared memory */
const THREADS = Math.min(4, availableParallelism());

/** every runtime seals and opens LeNet with WebCrypto alone (issue 19) */
const SEALED = { ed25519: { same: true, verified: true, tampered: 'signature-invalid' }, 'ecdsa-p256': { same: true, verified: true, tampered: 'signature-invalid' } };

function runIn(name: string): Smoke {
  const [bin, ...args] = RUNTIMES[name]!;
  const out = execFileSync(bin!, [...args, join(root, 'test', 'runtimes', 'run.mjs'), dataDir()], { cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, NO_COLOR: '1' } });
  return JSON.parse(out.trim().split('\n').pop()!) as Smoke;
}

const STEPS = ['onnx', 'tfliteInt8', 'tfliteFloat', 'quantized', 'pipeline', 'quantizedBytes', 'threads'] as const;

describe.skipIf(!ready)('the smoke test in Node, Deno, Bun and Chromium', () => {
  const got: Record<string, Smoke> = {};
  beforeAll(() => {
    got.node = runIn('node');
  });

  it('Node: every step runs; the pipeline equals the whole model; Blob and Response load the same model; 2 kernel threads = 1', () => {
    const r = got.node!;
    expect(r.env).toMatchObject({ platform: 'node', simd: true, relaxedSimd: false, numThreads: THREADS });
    expect(r.threads).toMatchObject({ numThreads: 2, dims: [1, 64, 20, 20], same: true });
    expect(r.onnx.dims).toEqual([2, 10]);
    expect(r.tfliteInt8).toMatchObject({ type: 'int8', dims: [1, 4] });
    expect(r.tfliteFloat).toMatchObject({ type: 'float32', dims: [1, 1] });
    expect(r.quantized.dims).toEqual([2, 10]);
    expect(r.quantized.hex).not.toBe(r.onnx.hex); // really quantized
    expect(r.pipeline).toHaveLength(3);
    expect(r).toMatchObject({ sourcesAgree: true, pipelineMatchesWhole: true, pipelineStages: 2 });
    expect(r.sealed).toEqual(SEALED);
  });

  for (const name of ['deno', 'bun']) {
    it(`${name}: bit-identical to Node on every step (kernel threads too)`, () => {
      const r = runIn(name);
      expect(r.runtime).toMatch(new RegExp(`^${name} `));
      expect(r.env).toMatchObject({ platform: 'node', simd: true, relaxedSimd: false, numThreads: THREADS });
      expect(r).toMatchObject({ sourcesAgree: true, pipelineMatchesWhole: true, pipelineStages: 2 });
      for (const k of STEPS) expect(r[k], `${name} ${k}`).toEqual(got.node![k]);
      expect(r.sealed, name).toEqual(SEALED);
    });
  }

  describe('Chromium (an esbuild bundle with no options)', () => {
    let server: Server;
    let browser: Browser;
    let dir: string;
    afterAll(async () => {
      await browser?.close();
      await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('bit-identical to Node on every step, its pipeline on Web Workers, 2 kernel threads (cross-origin isolated); a URL string loads the same model', async () => {
      dir = appDir({
        'app.js': `import * as edgeq from 'edgeq';
import { smoke } from ${JSON.stringify(join(root, 'test', 'runtimes', 'smoke.mjs'))};
const get = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
globalThis.runSmoke = async () => {
  const models = { lenet: await get('/models/mnist/lenet.onnx'), microSpeech: await get('/models/tflite/micro_speech_quantized.tflite'), helloWorld: await get('/models/tflite/hello_world_float.tflite') };
  const r = await smoke(edgeq, models, { workerUrl: new URL('/worker.bundle.js', location.href) });
  const x = new edgeq.Tensor('float32', new Float32Array(784).fill(0.5), [1, 1, 28, 28]);
  const a = (await (await edgeq.InferenceSession.create('/models/mnist/lenet.onnx')).run({ input: x })).logits.data;
  const b = (await (await edgeq.InferenceSession.create(new URL('/models/mnist/lenet.onnx', location.href))).run({ input: x })).logits.data;
  const c = (await (await edgeq.InferenceSession.create(models.lenet)).run({ input: x })).logits.data;
  r.urlAgrees = a.every((v, i) => v === c[i] && b[i] === c[i]);
  r.runtime = navigator.userAgent;
  return r;
};
`,
        'worker.js': `import 'edgeq/worker';\n`,
        'index.html': '<!doctype html><meta charset="utf-8"><title>edgeq smoke</title><script src="app.bundle.js"></script>',
      });
      esbuild(dir, 'app.js', 'app.bundle.js');
      esbuild(dir, 'worker.js', 'worker.bundle.js');
      const s = await serve({ '/': dir, '/models/': dataDir() }, true);
      server = s.server;
      const o = await openPage();
      browser = o.browser;
      await o.page.goto(`${s.url}/index.html`);
      const r = (await o.page.evaluate(() => (globalThis as any).runSmoke()).catch((e) => {
        throw new Error(`${(e as Error).message}\npage log:\n${o.logs.join('\n')}`);
      })) as Smoke;
      expect(r.runtime).toMatch(/Chrome/);
      expect(r.env).toMatchObject({ platform: 'web', simd: true, relaxedSimd: false });
      expect(r.env.numThreads).toBeGreaterThanOrEqual(1); // min(navigator.hardwareConcurrency, 4)
      expect(r.threads.numThreads).toBe(2); // shared memory (crossOriginIsolated) and a Blob-URL Web Worker
      expect(r).toMatchObject({ sourcesAgree: true, urlAgrees: true, pipelineMatchesWhole: true, pipelineStages: 2 });
      for (const k of STEPS) expect(r[k], `chromium ${k}`).toEqual(got.node![k]);
      expect(r.sealed, 'chromium').toEqual(SEALED);
    });
  });
});
