// Structure-aware fuzzer for strangers' model files (see test/helpers/model-mutate.ts for the mutations).
//   EDGEQ_DATA=/work/shared/models npx tsx scripts/fuzz-models.ts <corpus> [cases] [seed] [name-regex]
// corpus: onnx-node | onnx-simple | onnx-pytorch | onnx-real (lenet, bench, transformer) | tflite
//   | built (models made in test/helpers/model-mutate.ts builtSeeds: TFLite WHILE, int8 one-op cases, RNNs, Resize)
//   | onnx-extra | tflite-extra (every .onnx / .tflite under FUZZ_DIRS, ':'-separated; files are only read)
// Cases run in a worker thread watched by this thread: a case still running after HANG_MS is a hang (the worker is
// terminated and restarted after it); the process RSS past RSS_LIMIT is a giant allocation. Every outcome other than a
// clean run or an EdgeqError subclass — and any case slower than SLOW_MS or growing the WASM memory by more than
// GROW_LIMIT — is printed as one JSON line with its (seed, case) so it replays alone: append `#<case>` to the name-regex
// argument (`'.#1215'`, or the regex the run used; FUZZ_DUMP=file.onnx writes that case's mutated model).
// FUZZ_WORK / FUZZ_LOOPS set env.limits.nodeWork / loopIterations for the cases (default 1e8 / 10000).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const HANG_MS = 10_000;
const SLOW_MS = 2_000;
const RSS_LIMIT = 4 * 2 ** 30;
const GROW_LIMIT = 256 * 2 ** 20;

// Node 20 workers do not inherit tsx's loader: the worker registers it, then imports this file.
const BOOT = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(import.meta.url)}); })`;

type Seed = { name: string; model: string; inputs: string[] };

/** Model files under `dirs` (recursively) whose name ends with `ext`. */
const walk = (d: string, ext: string): string[] =>
  existsSync(d) ? readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name), ext) : e.name.endsWith(ext) ? [join(d, e.name)] : [])) : [];

function corpus(kind: string, filter: RegExp): Seed[] {
  const root = process.env.EDGEQ_DATA ?? join(process.cwd(), '..', 'shared', 'models');
  const seeds: Seed[] = [];
  const conf = (suite: string) => {
    const dir = join(root, 'onnx-conformance', suite);
    for (const d of readdirSync(dir).sort()) {
      const set = join(dir, d, 'test_data_set_0');
      if (!existsSync(join(dir, d, 'model.onnx'))) continue;
      const inputs = existsSync(set) ? readdirSync(set).filter((f) => f.startsWith('input_')).sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6))).map((f) => join(set, f)) : [];
      seeds.push({ name: d, model: join(dir, d, 'model.onnx'), inputs });
    }
  };
  if (kind === 'onnx-node') conf('node');
  else if (kind === 'onnx-simple') conf('simple');
  else if (kind === 'onnx-pytorch') (conf('pytorch-converted'), conf('pytorch-operator'));
  else if (kind === 'onnx-real') for (const f of ['mnist/lenet.onnx', 'bench/squeezenet1_1.onnx', 'bench/mobilenet_v2.onnx']) seeds.push({ name: f, model: join(root, f), inputs: [] });
  else if (kind === 'tflite') for (const f of walk(join(root, 'tflite'), '.tflite').sort()) seeds.push({ name: f.slice(root.length + 1), model: f, inputs: [] });
  else if (kind === 'onnx-extra' || kind === 'tflite-extra') {
    const dirs = (process.env.FUZZ_DIRS ?? (kind === 'onnx-extra' ? '/tmp/sweep2/m:/tmp/sweep2/conv' : '/tmp/s16/npm/x:/tmp/tflf')).split(':');
    for (const f of dirs.flatMap((d) => walk(d, kind === 'onnx-extra' ? '.onnx' : '.tflite')).sort()) seeds.push({ name: f, model: f, inputs: [] });
  } else if (kind === 'built') for (const b of BUILT_NAMES) seeds.push({ name: b, model: `built:${b}`, inputs: [] });
  else throw new Error(`unknown corpus ${kind}`);
  return seeds.filter((s) => filter.test(s.name));
}

/** TFLite flatbuffers carry the file identifier 'TFL3' at byte 4 */
const isTflite = (b: Uint8Array) => b[4] === 0x54 && b[5] === 0x46 && b[6] === 0x4c && b[7] === 0x33;

async function workerMain(): Promise<void> {
  const { seeds, seed, from, to, only } = workerData as { seeds: Seed[]; seed: number; from: number; to: number; only?: number };
  const mm = await import('../test/helpers/model-mutate.js');
  // as an app loading strangers' models would: nodes of more than FUZZ_WORK multiply-adds (default 10^8, ~0.1–3 s on
  // the kernels or the reference) are refused from their shapes, so a HANG is work the limit does not count
  const { env } = await import('../src/runtime/env.js');
  env.limits.nodeWork = Number(process.env.FUZZ_WORK ?? 1e8);
  // likewise loops: a mutated WHILE whose counter no longer moves runs the 10^6 default iterations, 5–50 s
  env.limits.loopIterations = Number(process.env.FUZZ_LOOPS ?? 10_000);
  const { readTensorProto } = await import('../src/formats/onnx/test-data.js');
  const { kernels } = await import('../src/kernels/wasm.js');
  const cache = new Map<string, { bytes: Uint8Array; feeds?: any[] }>();
  if (seeds.some((s) => s.model.startsWith('built:'))) for (const b of await mm.builtSeeds()) cache.set(`built:${b.name}`, { bytes: b.bytes, feeds: b.feeds });
  const load = (s: Seed) => {
    let c = cache.get(s.model);
    if (!c) {
      let feeds: any[] | undefined;
      try {
        feeds = s.inputs.map((f) => readTensorProto(new Uint8Array(readFileSync(f)), f));
      } catch {
        feeds = undefined; // sequence inputs: let the runner build feeds
      }
      c = { bytes: new Uint8Array(readFileSync(s.model)), feeds };
      cache.set(s.model, c);
    }
    return c;
  };
  for (let i = from; i < to; i++) {
    if (only !== undefined && i !== only) continue;
    const r = mm.prng((seed * 1_000_003 + i) >>> 0);
    const s = seeds[Math.floor(r() * seeds.length)]!;
    const c = load(s);
    let m: { bytes: Uint8Array; what: string[] };
    try {
      m = isTflite(c.bytes) ? mm.mutateTflite(c.bytes, r) : mm.mutateOnnx(c.bytes, r);
    } catch (e) {
      parentPort!.postMessage({ type: 'done', i, seed: s.name, what: [], outcome: { kind: 'skip', name: 'mutate', message: String(e) }, ms: 0, grow: 0 });
      continue;
    }
    if (process.env.FUZZ_DUMP && only === i) writeFileSync(process.env.FUZZ_DUMP, m.bytes); // the mutated model, to debug one case
    parentPort!.postMessage({ type: 'start', i, seed: s.name, what: m.what });
    const mem0 = kernels()?.memory.buffer.byteLength ?? 0;
    const t0 = performance.now();
    const outcome = await mm.runCase(m.bytes, c.feeds, r, m.what, () => parentPort!.postMessage({ type: 'start', i, seed: s.name, what: m.what }));
    const ms = performance.now() - t0;
    const grow = (kernels()?.memory.buffer.byteLength ?? 0) - mem0;
    parentPort!.postMessage({ type: 'done', i, seed: s.name, what: m.what, outcome, ms, grow });
  }
  parentPort!.postMessage({ type: 'end' });
}

/** the built seeds' names (the main thread lists them without building: the worker builds) */
let BUILT_NAMES: string[] = [];

async function main(): Promise<void> {
  const [kind = 'onnx-node', casesArg = '1000', seedArg = '1', filterArg = '.'] = process.argv.slice(2);
  const [re = '', caseArg] = filterArg.split('#');
  const only = caseArg === undefined ? undefined : Number(caseArg);
  if (kind === 'built') BUILT_NAMES = (await (await import('../test/helpers/model-mutate.js')).builtSeeds()).map((b) => b.name);
  const seeds = corpus(kind, new RegExp(re || '.'));
  const cases = Number(casesArg);
  const seed = Number(seedArg);
  const counts = new Map<string, number>();
  const bump = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const report = (o: object) => console.log(JSON.stringify(o));
  let next = only ?? 0;
  const end = only !== undefined ? only + 1 : cases;
  const t0 = Date.now();
  while (next < end) {
    await new Promise<void>((resolve) => {
      // a heap bound of its own: a giant JS array kills the worker (reported), not this process
      const w = new Worker(BOOT, { eval: true, workerData: { seeds, seed, from: next, to: end, only }, resourceLimits: { maxOldGenerationSizeMb: 2048 } });
      let current: { i: number; seed: string; what: string[]; t: number } | undefined;
      const stop = (why: string) => {
        clearInterval(timer);
        if (current) {
          bump(why);
          report({ kind: why, corpus: kind, seed, case: current.i, model: current.seed, what: current.what, rss: process.memoryUsage().rss });
          next = current.i + 1;
        } else next = end;
        void w.terminate().then(() => resolve());
      };
      const timer = setInterval(() => {
        if (current && Date.now() - current.t > HANG_MS) stop('HANG');
        else if (process.memoryUsage().rss > RSS_LIMIT) stop('RSS');
      }, 100);
      w.on('message', (msg) => {
        if (msg.type === 'start') current = { i: msg.i, seed: msg.seed, what: msg.what, t: current?.i === msg.i ? current.t : Date.now() };
        else if (msg.type === 'done') {
          current = undefined;
          next = msg.i + 1;
          const o = msg.outcome;
          bump(o.kind === 'error' ? o.name : o.kind);
          if (o.kind === 'bug') report({ kind: 'BUG', corpus: kind, seed, case: msg.i, model: msg.seed, what: msg.what, error: `${o.name}: ${o.message}`, at: o.stack?.split('\n').slice(1, 4).join(' | ') });
          if (msg.ms > SLOW_MS) (bump('SLOW'), report({ kind: 'SLOW', corpus: kind, seed, case: msg.i, model: msg.seed, what: msg.what, ms: Math.round(msg.ms), outcome: o.kind === 'ran' ? 'ran' : o.name }));
          if (msg.grow > GROW_LIMIT) (bump('GROW'), report({ kind: 'GROW', corpus: kind, seed, case: msg.i, model: msg.seed, what: msg.what, grow: msg.grow }));
          if (process.env.FUZZ_VERBOSE) report({ case: msg.i, model: msg.seed, what: msg.what, outcome: o, ms: Math.round(msg.ms) });
        } else if (msg.type === 'end') {
          current = undefined;
          stop('end');
        }
      });
      w.on('error', (e) => {
        if (current) report({ kind: 'WORKER', corpus: kind, seed, case: current.i, model: current.seed, what: current.what, error: String(e) });
        console.error(e); bump("WORKER");
        stop('WORKER-exit');
      });
    });
  }
  console.error(JSON.stringify({ corpus: kind, seeds: seeds.length, cases: end - (only ?? 0), seed, seconds: Math.round((Date.now() - t0) / 1000), outcomes: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])) }));
}

if (isMainThread) await main();
else await workerMain();
