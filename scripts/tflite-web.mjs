// TFLite's own WASM runtime (@tensorflow/tfjs-tflite 0.0.1-alpha.10: TFLite + XNNPACK compiled to WASM) in
// headless Chromium, as an oracle / speed peer for edgeq. Plain ESM JS, importable from vitest tests and bench/*.js.
//
// API (keep stable — bench/ and other tests copy it):
//
//   import { openTflitePage, tfliteWebAvailable } from '../scripts/tflite-web.mjs';
//   if (!tfliteWebAvailable().ok) ...                       // { ok, why }: Chromium + npm packages present?
//   const page = await openTflitePage({ chromiumPath?, log? });
//   const { outputs, ms } = await page.runTflite(modelBytes, inputs, { runs: 20, warmup: 2 });
//     modelBytes: Uint8Array | ArrayBuffer (a .tflite flatbuffer)
//     inputs:     [{ data: TypedArray, dims: number[] }, ...] in the model's input order (plain typed arrays are
//                 accepted too); the data is copied into the interpreter's input tensor (byte length must match)
//     outputs:    [{ data: TypedArray, dims: number[], dtype: string, name: string }, ...] in the model's output order
//     ms:         median wall time of one interpreter invoke (runs timed samples after warmup; a sample is k
//                 back-to-back invokes, k such that a sample lasts >= 5 ms, as the page's clock has 100 µs steps;
//                 numThreads: 1)
//     also returns `inputsInfo` / `outputsInfo` ([{ name, dtype, dims }]) as the interpreter reports them
//   const many = await page.runTfliteBatch(modelBytes, [inputs0, inputs1, ...])
//     → [{ outputs }] : one load, many single invokes (e.g. a test split of 10 000 images) with no timing
//   await page.evaluate(fn, arg)      — playwright page.evaluate, for callers adding their own code to the page
//   await page.addScript(url | { path } | { content })  — load another script into the same page
//   page.url                          — base URL of the local server; page.serve(prefix, dir) serves another
//                                       directory under `${page.url}${prefix}/...` (e.g. edgeq's browser bundle)
//   page.page / page.browser          — the raw playwright objects
//   await page.close()
//
// Pieces: Debian chromium (/usr/bin/chromium, or CHROMIUM_PATH), playwright-core, and the devDependencies
// @tensorflow/tfjs-core + @tensorflow/tfjs-backend-cpu 4.9.0 and @tensorflow/tfjs-tflite, served with the
// tflite_web_api_* wasm files from a node:http server on 127.0.0.1 (random port). The model runner is TFLite's
// TFLiteWebModelRunner (what tflite.loadTFLiteModel wraps); inputs are written straight into its tensors, so the
// timing is the interpreter's Invoke() and not tfjs tensor plumbing. Chromium runs with a fresh --user-data-dir.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';

const require = createRequire(import.meta.url);
const CHROMIUM = () => process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json', '.wasm': 'application/wasm', '.html': 'text/html' };

function pkgDir(name) {
  return dirname(require.resolve(`${name}/package.json`));
}

/** Whether the harness can run here: { ok: true } or { ok: false, why }. */
export function tfliteWebAvailable(chromiumPath = CHROMIUM()) {
  if (!existsSync(chromiumPath)) return { ok: false, why: `no Chromium at ${chromiumPath} (apt-get install -y chromium)` };
  for (const p of ['playwright-core', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-tflite']) {
    try {
      pkgDir(p);
    } catch {
      return { ok: false, why: `npm package ${p} missing (npm ci)` };
    }
  }
  return { ok: true };
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>tflite-web oracle</title>
<script src="/tfjs-core/dist/tf-core.min.js"></script>
<script src="/tfjs-backend-cpu/dist/tf-backend-cpu.min.js"></script>
<script src="/tfjs-tflite/dist/tf-tflite.min.js"></script>
<script>
(async () => {
  try {
    tflite.setWasmPath('/tfjs-tflite/wasm/');
    await tf.setBackend('cpu');
    const CTORS = { int8: Int8Array, uint8: Uint8Array, bool: Uint8Array, int16: Int16Array, int32: Int32Array, uint32: Uint32Array, float32: Float32Array, float64: Float64Array };
    const dimsOf = (t) => String(t.shape).split(',').filter((s) => s !== '').map(Number);
    const info = (ts) => ts.map((t) => ({ name: t.name, dtype: t.dataType, dims: dimsOf(t) }));
    async function load(bytes) {
      const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const model = await tflite.loadTFLiteModel(buf, { numThreads: 1 });
      return model.modelRunner;
    }
    function setInputs(runner, inputs) {
      const ins = runner.getInputs();
      if (inputs.length !== ins.length) throw new Error('model has ' + ins.length + ' inputs, got ' + inputs.length);
      ins.forEach((t, i) => {
        const dst = t.data();
        const src = inputs[i].data;
        if (src.byteLength !== dst.byteLength) throw new Error('input ' + i + ' (' + t.name + ', ' + t.dataType + ' [' + t.shape + ']): ' + src.byteLength + ' bytes given, ' + dst.byteLength + ' expected');
        new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
      });
    }
    function invoke(runner) {
      if (!runner.infer()) throw new Error('TFLite Invoke() failed');
    }
    const getOutputs = (runner) => runner.getOutputs().map((t) => ({ name: t.name, dtype: t.dataType, dims: dimsOf(t), data: t.data().slice() }));
    globalThis.tfl = {
      async run(bytes, inputs, runs, warmup) {
        const runner = await load(bytes);
        try {
          setInputs(runner, inputs);
          for (let i = 0; i < warmup; i++) invoke(runner);
          // performance.now() is coarsened to 100 µs in a page that is not cross-origin isolated: a timed sample
          // is k back-to-back invokes, k chosen so one sample takes >= 5 ms (k = 1 for anything slower)
          let k = 1;
          if (runs > 0) {
            for (;;) {
              const t0 = performance.now();
              for (let j = 0; j < k; j++) invoke(runner);
              const dt = performance.now() - t0;
              if (dt >= 5 || k >= 1 << 16) break;
              k = dt < 0.5 ? k * 8 : Math.ceil((k * 5) / dt);
            }
          }
          let times = [];
          for (;;) {
            times = [];
            for (let i = 0; i < runs; i++) {
              const t0 = performance.now();
              for (let j = 0; j < k; j++) invoke(runner);
              times.push((performance.now() - t0) / k);
            }
            // a hiccup during the choice of k (GC, a loaded machine) can leave samples below the clock's step
            const zeros = times.filter((t) => t === 0).length;
            if (zeros * 2 < times.length || k >= 1 << 20) break;
            k *= 16;
          }
          if (runs === 0) invoke(runner);
          times.sort((a, b) => a - b);
          const ms = times.length ? (times.length % 2 ? times[times.length >> 1] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2) : NaN;
          return { outputs: getOutputs(runner), ms, inputsInfo: info(runner.getInputs()), outputsInfo: info(runner.getOutputs()) };
        } finally {
          runner.cleanUp && runner.cleanUp();
        }
      },
      async batch(bytes, inputSets) {
        const runner = await load(bytes);
        try {
          return inputSets.map((inputs) => {
            setInputs(runner, inputs);
            invoke(runner);
            return { outputs: getOutputs(runner) };
          });
        } finally {
          runner.cleanUp && runner.cleanUp();
        }
      },
      CTORS,
    };
  } catch (e) {
    globalThis.tflError = String((e && e.stack) || e);
  }
})();
</script>`;

function startServer(roots) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (code, type, body) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/' || url.pathname === '/index.html') return send(200, 'text/html', PAGE);
    const parts = url.pathname.split('/');
    const base = roots.get(parts[1]);
    if (!base) return send(404, 'text/plain', 'not found');
    // tf-tflite first looks for its wasm loader beside itself (dist/), then under setWasmPath: serve it from both
    if (parts[1] === 'tfjs-tflite' && parts[2] === 'dist' && /^tflite_web_api_/.test(parts[3] ?? '')) parts.splice(2, 1, 'wasm');
    const file = normalize(join(base, decodeURIComponent(parts.slice(2).join('/'))));
    if (!file.startsWith(base + sep) || !existsSync(file) || !statSync(file).isFile()) return send(404, 'text/plain', 'not found');
    send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// typed arrays cross page.evaluate as plain number arrays (structured clone is not used by playwright): pack as
// { t: ctorName, b: base64 } both ways
const CTOR_NAMES = ['Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array'];
function pack(a) {
  const view = ArrayBuffer.isView(a) ? a : new Float32Array(a);
  const t = CTOR_NAMES.find((n) => view instanceof globalThis[n]) ?? 'Uint8Array'; // (a node Buffer is a Uint8Array)
  return { t, b: Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64') };
}
function unpack(p) {
  const bytes = Buffer.from(p.b, 'base64');
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const C = globalThis[p.t];
  return new C(ab);
}
const normInputs = (inputs) => inputs.map((x) => (ArrayBuffer.isView(x) ? { data: x, dims: [x.length] } : x)).map((x) => ({ data: pack(x.data), dims: x.dims }));
const toBytes = (m) => pack(ArrayBuffer.isView(m) ? new Uint8Array(m.buffer, m.byteOffset, m.byteLength) : new Uint8Array(m));

// page-side unpacking (runs in Chromium; no Buffer there)
const PAGE_UNPACK = `(p) => { const s = atob(p.b); const u = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i); return new globalThis[p.t](u.buffer); }`;
const PAGE_PACK = `(a) => { const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = ''; for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000)); return { t: a.constructor.name, b: btoa(s) }; }`;

/**
 * Launch headless Chromium with TFLite's WASM runtime loaded. Options: chromiumPath, log (function receiving the
 * page's console lines), timeoutMs (page setup).
 */
export async function openTflitePage(opts = {}) {
  const chromiumPath = opts.chromiumPath ?? CHROMIUM();
  const avail = tfliteWebAvailable(chromiumPath);
  if (!avail.ok) throw new Error(`tflite-web: ${avail.why}`);
  const roots = new Map([
    ['tfjs-core', pkgDir('@tensorflow/tfjs-core')],
    ['tfjs-backend-cpu', pkgDir('@tensorflow/tfjs-backend-cpu')],
    ['tfjs-tflite', pkgDir('@tensorflow/tfjs-tflite')],
  ]);
  const server = await startServer(roots);
  const userDataDir = mkdtempSync(join(tmpdir(), 'tflite-web-'));
  const logs = [];
  let browser;
  try {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (m) => {
      const line = `[console.${m.type()}] ${m.text()}`;
      logs.push(line);
      opts.log?.(line);
    });
    page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
    page.on('requestfailed', (r) => logs.push(`[requestfailed] ${r.url()}`));
    page.on('response', (r) => r.status() >= 400 && logs.push(`[http ${r.status()}] ${r.url()}`));
    const url = `http://127.0.0.1:${server.address().port}`;
    await page.goto(`${url}/index.html`);
    await page.waitForFunction(() => globalThis.tfl !== undefined || globalThis.tflError !== undefined, null, { timeout: opts.timeoutMs ?? 60_000 });
    const err = await page.evaluate(() => globalThis.tflError);
    if (err) throw new Error(`tflite-web page setup failed: ${err}\n${logs.join('\n')}`);
    const wrap = (e) => {
      throw new Error(`${e.message}\npage log:\n${logs.slice(-20).join('\n')}`);
    };
    return {
      url,
      page,
      browser,
      logs,
      serve(prefix, dir) {
        roots.set(prefix.replace(/^\/+|\/+$/g, ''), normalize(dir));
      },
      async addScript(s) {
        if (typeof s === 'string') return page.addScriptTag({ url: s });
        return page.addScriptTag(s);
      },
      evaluate: (fn, arg) => page.evaluate(fn, arg),
      async runTflite(modelBytes, inputs, o = {}) {
        const r = await page
          .evaluate(
            async ([m, ins, runs, warmup, un, pk]) => {
              const unpackP = eval(un);
              const packP = eval(pk);
              const res = await globalThis.tfl.run(unpackP(m), ins.map((x) => ({ data: unpackP(x.data), dims: x.dims })), runs, warmup);
              return { ...res, outputs: res.outputs.map((o) => ({ ...o, data: packP(o.data) })) };
            },
            [toBytes(modelBytes), normInputs(inputs), o.runs ?? 1, o.warmup ?? (o.runs > 1 ? 2 : 0), PAGE_UNPACK, PAGE_PACK],
          )
          .catch(wrap);
        return { ...r, outputs: r.outputs.map((x) => ({ ...x, data: unpack(x.data) })) };
      },
      async runTfliteBatch(modelBytes, inputSets) {
        const r = await page
          .evaluate(
            async ([m, sets, un, pk]) => {
              const unpackP = eval(un);
              const packP = eval(pk);
              const res = await globalThis.tfl.batch(unpackP(m), sets.map((ins) => ins.map((x) => ({ data: unpackP(x.data), dims: x.dims }))));
              return res.map((r) => ({ outputs: r.outputs.map((o) => ({ ...o, data: packP(o.data) })) }));
            },
            [toBytes(modelBytes), inputSets.map(normInputs), PAGE_UNPACK, PAGE_PACK],
          )
          .catch(wrap);
        return r.map((x) => ({ outputs: x.outputs.map((o) => ({ ...o, data: unpack(o.data) })) }));
      },
      async close() {
        await browser.close().catch(() => {});
        await new Promise((res) => server.close(() => res()));
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await browser?.close().catch(() => {});
    server.close();
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
}
