/**
 * `edgeq prune IN OUT --sparsity 0.8 [--scope layer|global] [--structured channel|n:m] [--n 2 --m 4]
 *  [--norm l1|l2] [--threshold T] [--exclude A,B] [--exclude-first] [--exclude-last]
 *  [--sweep 0.5,0.7,…] [--modes layer,global,channel,2:4] [--data x.npy --labels y.npy] [--limit N]
 *  [--svg out.svg] [--json]`
 *
 * Writes the pruned model (zeros stored; channel pruning physically removes channels) and reports, per layer
 * and in total, weights pruned, parameters, MACs and file size raw and gzipped. With --sweep it prunes the
 * model at every listed sparsity (for each of --modes), evaluates top-1 accuracy on --data/--labels and prints
 * an accuracy-vs-sparsity table, optionally plotted to --svg.
 */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { writeOnnx } from '../formats/onnx/writer.js';
import type { Graph } from '../ir/graph.js';
import { modelStats } from '../ir/stats.js';
import { type PruneOptions, type PruneResult, prune } from '../prune/index.js';
import { InferenceSession } from '../runtime/session.js';
import { UsageError, parseArgs } from './args.js';
import { evaluate, loadEvalSet } from './eval.js';
import { type Io, fmtBytes, fmtCount, loadModelFile, stdio } from './inspect.js';

export const PRUNE_USAGE =
  'edgeq prune IN OUT --sparsity S [--scope layer|global] [--structured channel|n:m] [--n 2 --m 4] [--norm l1|l2] [--threshold T] [--exclude A,B] [--exclude-first] [--exclude-last] [--sweep 0.5,0.7,...] [--modes layer,global,channel,2:4] [--data x.npy --labels y.npy] [--limit N] [--svg out.svg] [--json]';

interface Sizes {
  params: number;
  macs: number;
  bytes: number;
  gzip: number;
  zeros: number;
}

function sizes(g: Graph, bytes: Uint8Array): Sizes {
  let params = 0;
  let macs = NaN;
  try {
    const s = modelStats(g);
    params = s.params;
    macs = s.macs;
  } catch {
    for (const t of g.initializers.values()) params += t.size;
  }
  let zeros = 0;
  for (const t of g.initializers.values()) {
    if (t.type !== 'float32' && t.type !== 'float64' && t.type !== 'float16') continue;
    const d = t.data as ArrayLike<number>;
    for (let i = 0; i < d.length; i++) if (d[i] === 0) zeros++;
  }
  return { params, macs, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, zeros };
}

function num(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${what} must be a number, got '${v}'`);
  return x;
}

function list(a: ReturnType<typeof parseArgs>, name: string): string[] {
  return a
    .all(name)
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** a --modes entry -> options: layer | global | channel | channel-l2 | threshold | N:M */
function modeOptions(mode: string, base: PruneOptions): PruneOptions {
  const nm = /^(\d+):(\d+)$/.exec(mode);
  if (nm) return { ...base, structured: 'n:m', n: Number(nm[1]), m: Number(nm[2]), scope: 'layer', sparsity: undefined };
  if (mode === 'layer' || mode === 'global') return { ...base, structured: 'none', scope: mode };
  if (mode === 'channel' || mode === 'channel-l2') return { ...base, structured: 'channel', scope: 'layer', norm: mode === 'channel-l2' ? 'l2' : 'l1' };
  throw new UsageError(`unknown mode '${mode}' in --modes (layer, global, channel, channel-l2 or N:M such as 2:4)`);
}

function modeOf(o: PruneOptions): string {
  if (o.structured === 'n:m') return `${o.n ?? 2}:${o.m ?? 4}`;
  if (o.structured === 'channel') return o.norm === 'l2' ? 'channel-l2' : 'channel';
  return o.scope ?? 'layer';
}

export interface SweepRow {
  mode: string;
  requested: number;
  /** fraction of prunable weights pruned / removed */
  sparsity: number;
  params: number;
  gzip: number;
  accuracy: number;
}

/** accuracy-vs-sparsity plot: one polyline per mode */
export function sweepSvg(rows: readonly SweepRow[], base: number, title = 'accuracy vs sparsity'): string {
  const W = 640;
  const H = 400;
  const L = 60;
  const R = 140;
  const T = 40;
  const B = 50;
  const px = (s: number) => L + s * (W - L - R);
  const py = (a: number) => T + (1 - a) * (H - T - B);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
  const modes = [...new Set(rows.map((r) => r.mode))];
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (let i = 0; i <= 10; i++) {
    const v = i / 10;
    out.push(`<line x1="${px(0)}" y1="${py(v)}" x2="${px(1)}" y2="${py(v)}" stroke="#eee"/>`);
    out.push(`<text x="${L - 6}" y="${py(v) + 4}" text-anchor="end">${(v * 100).toFixed(0)}%</text>`);
    out.push(`<line x1="${px(v)}" y1="${py(0)}" x2="${px(v)}" y2="${py(0) + 5}" stroke="black"/>`);
    out.push(`<text x="${px(v)}" y="${py(0) + 18}" text-anchor="middle">${v.toFixed(1)}</text>`);
  }
  out.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(0)}" stroke="black"/><line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(1)}" stroke="black"/>`);
  out.push(`<text x="${px(0.5)}" y="${H - 10}" text-anchor="middle">sparsity (fraction of prunable weights removed)</text>`);
  out.push(`<text transform="translate(16 ${py(0.5)}) rotate(-90)" text-anchor="middle">top-1 accuracy</text>`);
  if (Number.isFinite(base)) out.push(`<line x1="${px(0)}" y1="${py(base)}" x2="${px(1)}" y2="${py(base)}" stroke="#888" stroke-dasharray="4 3"/>`);
  modes.forEach((m, i) => {
    const c = colors[i % colors.length]!;
    const pts = rows.filter((r) => r.mode === m).sort((a, b) => a.sparsity - b.sparsity);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${px(p.sparsity).toFixed(1)},${py(p.accuracy).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.sparsity).toFixed(1)}" cy="${py(p.accuracy).toFixed(1)}" r="3.5" fill="${c}"><title>${esc(m)} ${p.sparsity.toFixed(3)}: ${(p.accuracy * 100).toFixed(2)}%</title></circle>`);
    const ly = T + 10 + i * 20;
    out.push(`<line x1="${W - R + 15}" y1="${ly}" x2="${W - R + 40}" y2="${ly}" stroke="${c}" stroke-width="2"/><text x="${W - R + 46}" y="${ly + 4}">${esc(m)}</text>`);
  });
  if (Number.isFinite(base)) out.push(`<text x="${W - R + 15}" y="${T + 14 + modes.length * 20}" fill="#666">- - dense ${(base * 100).toFixed(2)}%</text>`);
  out.push('</svg>\n');
  return out.join('\n');
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n') + '\n';
}

const pct = (x: number, d = 1) => `${(x * 100).toFixed(d)}%`;

export async function pruneMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, {
    values: ['sparsity', 'scope', 'structured', 'n', 'm', 'norm', 'threshold', 'exclude', 'sweep', 'modes', 'data', 'labels', 'limit', 'batch', 'svg'],
    booleans: ['json', 'exclude-first', 'exclude-last'],
  });
  const sweep = list(a, 'sweep').map((s) => num(s, 'sweep')!);
  if (a.positional.length !== 2 && !(sweep.length && a.positional.length === 1)) throw new UsageError(`prune needs IN and OUT model paths (OUT is optional with --sweep)\nusage: ${PRUNE_USAGE}`);
  const [inPath, outPath] = a.positional as [string, string | undefined];
  const structured = a.get('structured');
  if (structured !== undefined && !['none', 'channel', 'n:m'].includes(structured)) throw new UsageError(`--structured must be channel or n:m, got '${structured}'`);
  const scope = a.get('scope');
  if (scope !== undefined && scope !== 'layer' && scope !== 'global') throw new UsageError(`--scope must be layer or global, got '${scope}'`);
  const norm = a.get('norm');
  if (norm !== undefined && norm !== 'l1' && norm !== 'l2') throw new UsageError(`--norm must be l1 or l2, got '${norm}'`);
  const base: PruneOptions = {
    ...(a.has('sparsity') ? { sparsity: num(a.get('sparsity'), 'sparsity') } : {}),
    ...(a.has('threshold') ? { threshold: num(a.get('threshold'), 'threshold') } : {}),
    ...(scope ? { scope: scope as 'layer' | 'global' } : {}),
    ...(structured ? { structured: structured as PruneOptions['structured'] } : {}),
    ...(a.has('n') ? { n: num(a.get('n'), 'n') } : {}),
    ...(a.has('m') ? { m: num(a.get('m'), 'm') } : {}),
    ...(norm ? { norm: norm as 'l1' | 'l2' } : {}),
    exclude: list(a, 'exclude'),
    excludeFirst: a.has('exclude-first'),
    excludeLast: a.has('exclude-last'),
  };
  const json = a.has('json');
  const { graph, bytes: inBytes } = loadModelFile(inPath);

  const evalSet = loadEvalSet(a);
  if (sweep.length && !evalSet) throw new UsageError('--sweep needs --data x.npy and --labels y.npy');
  const batch = a.int('batch', 250, 1, 1 << 20);
  const accuracy = async (g: Graph) => (await evaluate(InferenceSession.fromGraph(g), evalSet!.x, evalSet!.y, { batch })).accuracy;

  if (sweep.length) {
    const modes = list(a, 'modes');
    const optsList = modes.length ? modes.map((m) => modeOptions(m, base)) : [base];
    const dense = await accuracy(graph);
    const rows: SweepRow[] = [];
    for (const o of optsList) {
      const mode = modeOf(o);
      const points = o.structured === 'n:m' ? [NaN] : sweep;
      for (const s of points) {
        const opts: PruneOptions = o.structured === 'n:m' ? o : { ...o, sparsity: s, threshold: undefined };
        const r = prune(graph, opts);
        const bytes = writeOnnx(r.graph);
        rows.push({ mode, requested: s, sparsity: r.sparsity, params: sizes(r.graph, bytes).params, gzip: gzipSync(bytes, { level: 9 }).length, accuracy: await accuracy(r.graph) });
      }
    }
    if (a.get('svg')) writeFileSync(a.get('svg')!, sweepSvg(rows, dense, `accuracy vs sparsity: ${inPath.split('/').pop()} (no fine-tuning)`));
    if (json) io.out(JSON.stringify({ model: inPath, dense, rows }, null, 1) + '\n');
    else {
      io.out(`accuracy vs sparsity for ${inPath} on ${evalSet!.y.length} samples (dense ${pct(dense, 2)}), no fine-tuning\n`);
      const head = ['mode', 'requested', 'achieved', 'params', 'gzip', 'top-1', 'Δ'];
      io.out(table([head, ...rows.map((r) => [r.mode, Number.isNaN(r.requested) ? '-' : r.requested.toFixed(2), pct(r.sparsity), fmtCount(r.params), fmtBytes(r.gzip), pct(r.accuracy, 2), `${((r.accuracy - dense) * 100).toFixed(2)}`])]));
      if (a.get('svg')) io.out(`plot written to ${a.get('svg')}\n`);
    }
    if (!outPath) return 0;
  }

  const r: PruneResult = prune(graph, base);
  const outBytes = writeOnnx(r.graph);
  const before = sizes(graph, inBytes);
  const after = sizes(r.graph, outBytes);
  let acc: { before: number; after: number } | undefined;
  if (evalSet && !sweep.length) acc = { before: await accuracy(graph), after: await accuracy(r.graph) };
  try {
    writeFileSync(outPath!, outBytes);
  } catch (e) {
    throw new InputError(`cannot write '${outPath}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (json) {
    io.out(JSON.stringify({ input: inPath, output: outPath, options: r.options, sparsity: r.sparsity, prunedWeights: r.prunedWeights, totalWeights: r.totalWeights, layers: r.layers.map((l) => ({ ...l, channels: l.channels ? { before: l.channels.before, after: l.channels.after } : undefined })), skipped: r.skipped, before, after, accuracy: acc }, null, 1) + '\n');
    return 0;
  }
  io.out(`pruned ${inPath} -> ${outPath} (${modeOf(r.options)}${r.options.threshold !== undefined ? `, |w| < ${r.options.threshold}` : `, sparsity ${r.options.sparsity ?? '-'}`})\n\n`);
  const lrows = [['layer', 'op', 'weight', 'weights', 'pruned', 'sparsity', 'channels']];
  for (const l of r.layers) lrows.push([l.node, l.op, l.weight, String(l.total), String(l.pruned), pct(l.sparsity), l.channels ? `${l.channels.before} -> ${l.channels.after}` : '']);
  io.out(table(lrows));
  for (const s of r.skipped) io.out(`  skipped ${s.node}: ${s.reason}\n`);
  io.out(`\nprunable weights: ${fmtCount(r.totalWeights)}, pruned/removed ${fmtCount(r.prunedWeights)} (${pct(r.sparsity)})\n`);
  const srows = [
    ['', 'before', 'after'],
    ['params', fmtCount(before.params), fmtCount(after.params)],
    ['zero weights', fmtCount(before.zeros), fmtCount(after.zeros)],
    ['MACs (per sample)', fmtCount(before.macs), fmtCount(after.macs)],
    ['file', fmtBytes(before.bytes), fmtBytes(after.bytes)],
    ['gzip -9', fmtBytes(before.gzip), fmtBytes(after.gzip)],
  ];
  if (acc) srows.push(['top-1', pct(acc.before, 2), pct(acc.after, 2)]);
  io.out(table(srows));
  return 0;
}
