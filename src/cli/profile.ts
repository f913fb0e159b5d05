/**
 * `edgeq profile MODEL [--input NAME=x.npy …] [--dims NAME=1,3,320,320 …] [--runs N] [--warmup N] [--all] [--json]`:
 * which kernel runs each node of the plan (or `reference`, and why every kernel declined), per-op totals and the
 * median run time, through `InferenceSession.create(m, { profile: true })` and `session.profile()`.
 */
import { readNpy } from '../formats/npy.js';
import type { Graph } from '../ir/graph.js';
import type { ProfileSummary } from '../runtime/profile.js';
import { InferenceSession } from '../runtime/session.js';
import type { Tensor } from '../tensor/tensor.js';
import { UsageError, parseArgs } from './args.js';
import { type Io, loadModelFile, readBytes, stdio } from './inspect.js';
import { sampleFeeds } from './split.js';

/** NAME=v or v (the model's only input): the name and the value text. */
function named(spec: string, flag: string, inputs: readonly string[]): [string, string] {
  const eq = spec.indexOf('=');
  if (eq < 0) {
    if (inputs.length !== 1) throw new UsageError(`--${flag} ${spec}: the model has ${inputs.length} inputs, use --${flag} NAME=…`);
    return [inputs[0]!, spec];
  }
  const name = spec.slice(0, eq);
  if (!inputs.includes(name)) throw new UsageError(`--${flag} ${spec}: the model has no input '${name}' (inputs: ${inputs.join(', ')})`);
  return [name, spec.slice(eq + 1)];
}

/**
 * Concrete shapes for the inputs without a --input file: --dims, else the declared dims. A symbolic first dim of a
 * rank ≥ 2 input (a batch) defaults to 1; any other symbolic dim needs --dims (UsageError listing them).
 */
export function inputShapes(g: Graph, dims: ReadonlyMap<string, number[]>, given: ReadonlySet<string>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const missing: string[] = [];
  for (const i of g.inputs) {
    if (given.has(i.name)) continue;
    const want = i.type.shape ?? [];
    const d = dims.get(i.name);
    if (d) {
      if (i.type.shape && d.length !== want.length) throw new UsageError(`--dims ${i.name}: rank ${d.length}, the model declares [${want.join(',')}]`);
      want.forEach((w, k) => {
        if (typeof w === 'number' && w !== d[k]) throw new UsageError(`--dims ${i.name}: dim ${k} is ${w} in the model, got ${d[k]}`);
      });
      out.set(i.name, d);
      continue;
    }
    const open = want.map((w, k) => (typeof w === 'number' || (k === 0 && want.length >= 2) ? undefined : w)).filter((w) => w !== undefined);
    if (open.length) missing.push(`${i.name} [${want.join(',')}]`);
    else out.set(i.name, want.map((w) => (typeof w === 'number' ? w : 1)));
  }
  if (missing.length) throw new UsageError(`symbolic input dims need --dims NAME=d0,d1,… (or --input NAME=x.npy): ${missing.join('; ')}`);
  return out;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const ms = (x: number) => (x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toFixed(3));

/** The text report: summary line, per-op totals, slowest nodes, every reference node with its reason. */
export function formatProfile(model: string, p: ProfileSummary, all = false): string {
  const lines: string[] = [];
  const planned = p.nodes.filter((n) => n.kernel !== 'skipped');
  const c = p.canonicalized;
  lines.push(`${model}: ${p.nodes.length} nodes planned (canonicalize: ${c.folded} folded, ${c.bypassed} bypassed, ${c.dead} dead)`);
  lines.push(`median ${ms(p.ms)} ms over ${p.runs} runs (nodes ${ms(p.nodes_ms)} ms: sum of per-node medians); reference ops ${pct(p.reference_share)} of node time`);
  lines.push(`static plan: ${p.static_plan}`);
  lines.push('', 'per op:');
  const w = Math.max(4, ...p.ops.map((o) => o.op.length));
  const wk = Math.max(6, ...p.ops.map((o) => o.kernel.length));
  for (const o of p.ops) lines.push(`  ${o.op.padEnd(w)}  ${o.kernel.padEnd(wk)}  ${String(o.count).padStart(4)}  ${ms(o.ms).padStart(8)} ms  ${pct(p.nodes_ms ? o.ms / p.nodes_ms : 0).padStart(7)}`);
  const slow = [...planned].sort((a, b) => b.ms - a.ms).slice(0, all ? planned.length : 15);
  lines.push('', all ? 'nodes (slowest first):' : `slowest nodes (${slow.length} of ${planned.length}; --all for every node):`);
  for (const n of slow) lines.push(`  ${ms(n.ms).padStart(8)} ms  ${n.op.padEnd(w)}  ${n.kernel.padEnd(wk)}  ${n.name}`);
  const ref = planned.filter((n) => n.kernel === 'reference');
  if (ref.length) {
    lines.push('', `on the reference (${ref.length} nodes):`);
    for (const n of [...ref].sort((a, b) => b.ms - a.ms)) lines.push(`  ${ms(n.ms).padStart(8)} ms  ${n.op.padEnd(w)}  ${n.name}: ${n.reason}`);
  }
  return lines.join('\n') + '\n';
}

/** The feeds `--input NAME=x.npy …` and `--dims NAME=d0,d1,…` ask for: files as given, the rest random (sampleFeeds). */
export function feedsFromArgs(a: ReturnType<typeof parseArgs>, graph: Graph): Record<string, Tensor> {
  const names = graph.inputs.map((i) => i.name);
  const feeds: Record<string, Tensor> = {};
  for (const spec of a.all('input')) {
    const [name, file] = named(spec, 'input', names);
    if (feeds[name]) throw new UsageError(`input '${name}' given twice`);
    feeds[name] = readNpy(readBytes(file, 'input'), file);
  }
  const dims = new Map<string, number[]>();
  for (const spec of a.all('dims')) {
    const [name, text] = named(spec, 'dims', names);
    const d = text.split(/[,x×]/).map((v) => Number(v.trim()));
    if (!d.length || d.some((v) => !Number.isInteger(v) || v < 0)) throw new UsageError(`--dims ${spec}: expected non-negative integers like 1,3,320,320`);
    dims.set(name, d);
  }
  const shapes = inputShapes(graph, dims, new Set(Object.keys(feeds)));
  const random = sampleFeeds(graph, 1, shapes);
  for (const n of names) feeds[n] ??= random[n]!;
  return feeds;
}

export async function profileMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['input', 'dims', 'runs', 'warmup'], booleans: ['json', 'all'], aliases: { i: 'input' } });
  if (a.positional.length !== 1) throw new UsageError('profile needs exactly one MODEL path');
  const path = a.positional[0]!;
  const runs = a.int('runs', 10, 1, 100000);
  const warmup = a.int('warmup', 1, 0, 100000);
  const { graph } = loadModelFile(path);
  const feeds = feedsFromArgs(a, graph);
  const session = await InferenceSession.create(graph, { profile: true });
  for (let r = 0; r < warmup; r++) session.runSync(feeds);
  session.resetProfile();
  for (let r = 0; r < runs; r++) session.runSync(feeds);
  const p = session.profile();
  await session.release();
  if (a.has('json')) io.out(JSON.stringify({ model: path, inputs: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { dtype: t.type, shape: [...t.dims] }])), ...p }) + '\n');
  else io.out(formatProfile(path, p, a.has('all')));
  return 0;
}
