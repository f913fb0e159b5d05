/**
 * `edgeq split MODEL --parts K | --at T1,T2 [--objective balance|min-transfer|latency]
 *  [--device-speed 1,0.5] [--link-mbps 100] [--link-latency-ms 0] [--keep-local N] [--measure] [--batch B]
 *  --out DIR [--report] [--report-inputs 200] [--json]`
 * Writes part1.onnx … partK.onnx and manifest.json to DIR. --report measures each part's latency and the
 * pipeline's streaming throughput against one worker running the whole model.
 */
import { join } from 'node:path';
import type { Graph } from '../ir/graph.js';
import { modelStats } from '../ir/stats.js';
import '../ops/index.js';
import { InferenceSession } from '../runtime/session.js';
import { writeSealedSplit } from '../seal/split.js';
import { writeSplit } from '../split/io.js';
import { measuredSplit } from '../split/profile.js';
import { type LinkSpec, PipelineSession } from '../split/pipeline.js';
import { type Objective, type SplitOptions, type SplitResult, split } from '../split/split.js';
import { DTYPES } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { UsageError, parseArgs } from './args.js';
import { type Io, fmtBytes, fmtCount, loadModelFile, readBytes, stdio } from './inspect.js';

function numList(s: string | undefined, name: string): number[] | undefined {
  if (s === undefined) return undefined;
  const xs = s.split(',').map((v) => Number(v.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x <= 0)) throw new UsageError(`--${name} needs positive numbers separated by commas, got '${s}'`);
  return xs;
}

/** Deterministic sample feeds for a graph's inputs (symbolic dims = 1 unless `shapes` names the input, floats in [-1, 1), ints 0). */
export function sampleFeeds(g: Graph, seed = 1, shapes?: ReadonlyMap<string, readonly number[]>): Record<string, Tensor> {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const feeds: Record<string, Tensor> = {};
  for (const i of g.inputs) {
    const dims = shapes?.get(i.name)?.slice() ?? (i.type.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
    const t = Tensor.zeros(i.type.dtype, dims);
    if (DTYPES[i.type.dtype].kind === 'float') {
      const d = t.data as Float32Array;
      if (i.type.dtype === 'float16') {
        for (let k = 0; k < d.length; k++) d[k] = 0x3800; // 0.5
      } else for (let k = 0; k < d.length; k++) d[k] = rnd();
    }
    feeds[i.name] = t;
  }
  return feeds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median latency (ms) of one part on sample inputs. */
function measurePart(g: Graph, runs: number): number {
  const s = InferenceSession.fromGraph(g);
  const feeds = sampleFeeds(g);
  s.runSync(feeds);
  const ts: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    s.runSync(feeds);
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** Inputs per second streaming `n` sample inputs through `parts` (one worker per part). */
export async function streamThroughput(parts: Graph[], n: number, links?: LinkSpec[]): Promise<number> {
  const p = await PipelineSession.create(parts, links ? { links } : {});
  try {
    const feeds = sampleFeeds(parts[0]!);
    const warm = Math.min(8, n);
    for await (const _ of p.runStream(Array.from({ length: warm }, () => feeds))) void _;
    const t0 = performance.now();
    let k = 0;
    for await (const _ of p.runStream(Array.from({ length: n }, () => feeds))) k++;
    return k / ((performance.now() - t0) / 1e3);
  } finally {
    await p.close();
  }
}

export async function splitMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, {
    values: ['parts', 'at', 'objective', 'device-speed', 'link-mbps', 'link-latency-ms', 'keep-local', 'out', 'report-inputs', 'batch', 'seal-keys', 'sign-key'],
    booleans: ['report', 'json', 'measure'],
  });
  if (a.positional.length !== 1) throw new UsageError('split needs exactly one MODEL path');
  const out = a.get('out');
  if (!out) throw new UsageError('split needs --out DIR');
  if (a.has('parts') === a.has('at')) throw new UsageError('split needs exactly one of --parts K or --at T1,T2,…');
  const objective = a.get('objective') ?? 'balance';
  if (!['balance', 'min-transfer', 'latency'].includes(objective)) throw new UsageError(`--objective must be balance, min-transfer or latency, got '${objective}'`);
  const opts: SplitOptions = { objective: objective as Objective };
  if (a.has('parts')) opts.parts = a.int('parts', 2, 1, 1 << 20);
  else opts.at = a.get('at')!.split(',').map((s) => s.trim());
  const speed = numList(a.get('device-speed'), 'device-speed');
  if (speed) opts.deviceSpeed = speed;
  const mbps = numList(a.get('link-mbps'), 'link-mbps');
  if (mbps) opts.linkMbps = mbps.length === 1 ? mbps[0]! : mbps;
  if (a.has('link-latency-ms')) {
    const l = Number(a.get('link-latency-ms'));
    if (!(l >= 0)) throw new UsageError(`--link-latency-ms must be ≥ 0, got '${a.get('link-latency-ms')}'`);
    opts.linkLatencyMs = l;
  }
  if (a.has('keep-local')) opts.keepLocal = a.int('keep-local', 0, 0, 1 << 30);
  if (a.has('batch')) opts.batch = a.int('batch', 1, 1, 1 << 20);
  const { graph } = loadModelFile(a.positional[0]!);
  // --measure: measured node and part times on sample inputs, not MACs, drive the cost model
  const result: SplitResult = a.has('measure') && opts.parts !== undefined ? measuredSplit(graph, opts, sampleFeeds(graph)) : split(graph, opts);
  result.manifest.model = a.positional[0]!;
  // --seal-keys KEYDIR: every part sealed under its own key (KEYDIR/part<i>.key); no plaintext part is written
  const keysDir = a.get('seal-keys');
  if (a.has('sign-key') && !keysDir) throw new UsageError('--sign-key needs --seal-keys KEYDIR');
  const signKey = a.get('sign-key');
  const files = keysDir
    ? (await writeSealedSplit(result, out, keysDir, signKey ? { signingKey: new TextDecoder().decode(readBytes(signKey, 'signing key')) } : {})).files
    : writeSplit(result, out);

  let report: { parts: { part: number; nodes: number; params: number; macs: number; latencyMs: number; cutBytes: number }[]; throughput?: { pipeline: number; single: number; speedup: number; inputs: number } } | undefined;
  if (a.has('report')) {
    const rows = result.parts.map((g, i) => {
      const st = modelStats(g);
      return { part: i + 1, nodes: st.nodes, params: st.params, macs: st.macs, latencyMs: measurePart(g, 20), cutBytes: result.info[i]!.cutBytes };
    });
    const n = a.int('report-inputs', 200, 1, 1 << 24);
    const simulated = mbps !== undefined || opts.linkLatencyMs;
    const links = simulated
      ? result.parts.slice(1).map((_, i) => ({ latencyMs: opts.linkLatencyMs ?? 0, ...(mbps ? { mbps: mbps[Math.min(i, mbps.length - 1)]! } : {}) }))
      : undefined;
    const pipeline = await streamThroughput(result.parts, n, links);
    const single = await streamThroughput([graph], n);
    report = { parts: rows, throughput: { pipeline, single, speedup: pipeline / single, inputs: n } };
  }

  if (a.has('json')) {
    io.out(JSON.stringify({ out, files, manifest: result.manifest, estimate: result.estimate, ...(report ? { report } : {}) }, null, 2) + '\n');
    return 0;
  }
  io.out(`split ${a.positional[0]} into ${result.parts.length} part(s) (${result.manifest.objective}) → ${out}\n`);
  result.info.forEach((p, i) => {
    const cut = i < result.info.length - 1 ? `  → ${p.outputs.map((o) => o.name).join(', ')} (${fmtBytes(p.cutBytes)})` : '';
    io.out(`  ${result.manifest.parts[i]!.file}: ${p.nodes} nodes, ${fmtCount(p.macs)} MACs, ${fmtCount(p.params)} params${cut}\n`);
  });
  if (keysDir) io.out(`  sealed: one key per part in ${keysDir} (part<i>.key); give each device only its part's key\n`);
  io.out(`  manifest: ${join(out, 'manifest.json')}\n`);
  if (report) {
    io.out('\npart  nodes      params        MACs   latency     cut bytes\n');
    for (const r of report.parts)
      io.out(`${String(r.part).padStart(4)}  ${String(r.nodes).padStart(5)}  ${fmtCount(r.params).padStart(10)}  ${fmtCount(r.macs).padStart(10)}  ${r.latencyMs.toFixed(3).padStart(7)} ms  ${fmtBytes(r.cutBytes).padStart(12)}\n`);
    const t = report.throughput!;
    io.out(`\nthroughput over ${t.inputs} inputs: pipeline ${t.pipeline.toFixed(1)}/s, one worker ${t.single.toFixed(1)}/s (${t.speedup.toFixed(2)}×)\n`);
  }
  return 0;
}
