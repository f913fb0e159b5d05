// 2-part balanced split streaming inputs through PipelineSession (2 workers) vs the whole model in one
// worker (same PipelineSession machinery, 1 stage). Needs the built dist/ and ../shared/models/bench.
//   node bench/split.bench.js [--quick] [--json] [--inputs N] [--model mobilenet_v2|squeezenet1_1|lenet]
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readOnnx } from '../dist/formats/onnx/reader.js';
import { PipelineSession, measuredSplit } from '../dist/split/index.js';
import { sampleFeeds } from '../dist/cli/split.js';
import { args, dataFile, fmt, json, quick, table } from './common.js';

const argVal = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};

const MODELS = {
  mobilenet_v2: 'bench/mobilenet_v2.onnx',
  squeezenet1_1: 'bench/squeezenet1_1.onnx',
  lenet: 'mnist/lenet.onnx',
};

async function throughput(parts, feeds, n) {
  const p = await PipelineSession.create(parts);
  try {
    const warm = Array.from({ length: Math.min(4, n) }, () => feeds);
    for await (const _ of p.runStream(warm)) void _;
    const t0 = performance.now();
    let k = 0;
    for await (const _ of p.runStream(Array.from({ length: n }, () => feeds))) k++;
    const s = (performance.now() - t0) / 1e3;
    return { perSecond: k / s, seconds: s };
  } finally {
    await p.close();
  }
}

export async function run() {
  const name = argVal('--model', 'mobilenet_v2');
  const n = Number(argVal('--inputs', quick ? 100 : 1000));
  const path = dataFile(MODELS[name] ?? name);
  if (!path) {
    table('Split pipeline throughput', [{ model: name, result: 'skipped (no ../shared data)' }]);
    return { split: null };
  }
  const g = readOnnx(new Uint8Array(readFileSync(path)));
  const feeds = sampleFeeds(g);
  // balanced by measured time: per-node profile, then rescaled by timing the real parts
  const r = measuredSplit(g, { parts: 2, objective: 'balance' }, feeds);
  const single = await throughput([g], feeds, n);
  const piped = await throughput(r.parts, feeds, n);
  const speedup = piped.perSecond / single.perSecond;
  // how many cores this machine really gives two workers right now (2.0 = two free cores): the ceiling
  // for any 2-stage pipeline
  const half = Math.max(1, n >> 2);
  const both = await Promise.all([throughput([g], feeds, half), throughput([g], feeds, half)]);
  const parallelism = (both[0].perSecond + both[1].perSecond) / single.perSecond;
  const res = {
    model: name,
    inputs: n,
    cores: availableParallelism(),
    cut: r.parts[0].outputs.map((o) => o.name),
    cutBytes: r.info[0].cutBytes,
    partNodes: r.info.map((p) => p.nodes),
    partMs: r.measuredMs,
    singlePerSecond: single.perSecond,
    pipelinePerSecond: piped.perSecond,
    speedup,
    parallelism,
  };
  table(`Split pipeline: ${n} inputs, 2-part balanced split (measured part times) vs one worker, ${res.cores} cores`, [
    { model: name, 'one worker /s': fmt(single.perSecond, 1), '2-stage pipeline /s': fmt(piped.perSecond, 1), speedup: fmt(speedup) + '×', 'two whole-model workers': fmt(parallelism) + '×', nodes: res.partNodes.join('+'), 'part ms': res.partMs.map((x) => fmt(x, 1)).join(' / '), 'cut bytes': res.cutBytes },
  ]);
  return { split: res };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  if (json) console.log(JSON.stringify(r));
}
