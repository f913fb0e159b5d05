/**
 * `edgeq check MODEL [--input NAME=x.npy …] [--dims NAME=… …] [--tol 1e-4] [--nodes] [--json]`: do the WASM kernels
 * compute what the TS reference (the spec) computes, on this model? Runs the model twice on the same inputs — the
 * planned session (kernels, fusions, layout rewrites) and `backend: 'reference'` — and compares every output. When one
 * is off (or with --nodes) it fetches every node's outputs from both and names the nodes where the difference
 * starts: the output is off while every input it read was within tolerance, so that node's kernel (or fusion) is the
 * place to look. Float values are compared relative to the reference's range (max |x|); integer and 8-bit values
 * must be equal (every integer kernel is bit-exact to its reference). Exit code 1 when an output is off.
 */
import type { Graph, Node } from '../ir/graph.js';
import { topoSort } from '../ir/topo.js';
import { InferenceSession } from '../runtime/session.js';
import { DTYPES } from '../tensor/dtype.js';
import { f16ArrayToF32 } from '../tensor/fp16.js';
import type { Tensor } from '../tensor/tensor.js';
import { UsageError, parseArgs } from './args.js';
import { type Io, loadModelFile, stdio } from './inspect.js';
import { feedsFromArgs } from './profile.js';

/** How far a kernel value is from the reference value. */
export interface Deviation {
  name: string;
  dtype: string;
  shape: number[];
  /** max |kernel − reference| over the elements (NaN on one side only counts as Infinity) */
  max_abs: number;
  /** max |reference| (the range the float tolerance is relative to) */
  range: number;
  /** max_abs / range (floats); max_abs itself for integers */
  rel: number;
  /** elements that differ at all */
  differing: number;
  ok: boolean;
  /** why it was not compared (sequence values, strings), else undefined */
  skipped?: string;
}

const asNumbers = (t: Tensor): ArrayLike<number> | undefined => {
  const d = t.data;
  if (Array.isArray(d)) return undefined;
  if (t.type === 'float16') return f16ArrayToF32(d as Uint16Array);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Array.from(d, Number);
  return d as ArrayLike<number>;
};

/** Compare a kernel value with the reference value: floats within `tol` of the reference's range, others exactly. */
export function deviation(name: string, got: unknown, want: unknown, tol: number): Deviation {
  const skip = (why: string): Deviation => ({ name, dtype: '-', shape: [], max_abs: 0, range: 0, rel: 0, differing: 0, ok: true, skipped: why });
  if (!isTensor(got) || !isTensor(want)) return skip('not a tensor (sequence or map value)');
  const base = { name, dtype: want.type, shape: [...want.dims] };
  if (got.type !== want.type || got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
    return { ...base, max_abs: Infinity, range: 0, rel: Infinity, differing: want.size, ok: false, skipped: `kernel gave ${got.type} [${got.dims.join(',')}]` };
  }
  const a = asNumbers(got);
  const b = asNumbers(want);
  if (!a || !b) {
    const differing = (got.data as string[]).filter((s, i) => s !== (want.data as string[])[i]).length;
    return { ...base, max_abs: differing ? Infinity : 0, range: 0, rel: differing ? Infinity : 0, differing, ok: differing === 0 };
  }
  let maxAbs = 0;
  let range = 0;
  let differing = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isFinite(y)) range = Math.max(range, Math.abs(y));
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    differing++;
    const d = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
  }
  const float = DTYPES[want.type].kind === 'float';
  const rel = float ? (maxAbs === 0 ? 0 : maxAbs / Math.max(range, Number.MIN_VALUE)) : maxAbs;
  return { ...base, max_abs: maxAbs, range, rel, differing, ok: float ? rel <= tol : differing === 0 };
}

function isTensor(x: unknown): x is Tensor & { size: number } {
  return !!x && typeof x === 'object' && 'dims' in x && 'type' in x && 'data' in x;
}

/** A node output's deviation, with its node and whether the difference starts there. */
export type NodeDeviation = Deviation & { node: string; op: string; starts: boolean };

/**
 * Every node output of `order` (execution order), `got` against `want`: a value is off past `tol` (see deviation);
 * the difference *starts* at a node whose output is off while none of the values it read was. Outputs `want` lacks
 * are left out when `onlyWanted` (onnxruntime returns only the intermediates it could type).
 */
export function walkNodes(order: readonly Node[], got: Record<string, unknown>, want: Record<string, unknown>, tol: number, onlyWanted = false): NodeDeviation[] {
  const off = new Set<string>();
  const rows: NodeDeviation[] = [];
  for (const n of order) {
    const inputsOk = n.inputs.every((x) => !x || !off.has(x));
    for (const o of n.outputs) {
      if (!o || (onlyWanted && !want[o])) continue;
      const d = deviation(o, got[o], want[o], tol);
      if (!d.ok) off.add(o);
      rows.push({ ...d, node: n.name, op: n.op, starts: !d.ok && inputsOk });
    }
  }
  return rows;
}

export interface CheckReport {
  model: string;
  tol: number;
  outputs: Deviation[];
  /** every node output, in execution order (with --nodes, or when an output is off) */
  values?: (NodeDeviation & { kernel: string })[];
  ok: boolean;
}

/** Run `graph` on the kernels and on the reference with `feeds` and compare (see the file comment). */
export async function checkModel(model: string, graph: Graph, feeds: Record<string, Tensor>, tol: number, nodes: boolean): Promise<CheckReport> {
  const planned = await InferenceSession.create(graph, { profile: true });
  const reference = await InferenceSession.create(graph, { backend: 'reference' });
  try {
    const got = planned.runSync(feeds);
    const want = reference.runSync(feeds);
    const outputs = graph.outputs.map((o) => deviation(o.name, got[o.name], want[o.name], tol));
    const ok = outputs.every((d) => d.ok);
    const report: CheckReport = { model, tol, outputs, ok };
    if (ok && !nodes) return report;
    const kernelOf = new Map(planned.profile().nodes.map((n) => [n.name, n.kernel]));
    const order = topoSort(graph);
    const names = [...new Set(order.flatMap((n) => n.outputs.filter((o) => o !== '')))];
    const gotAll = planned.runSync(feeds, names);
    const wantAll = reference.runSync(feeds, names);
    report.values = walkNodes(order, gotAll, wantAll, tol).map((v) => ({ ...v, kernel: kernelOf.get(v.node) ?? '(folded or fused)' }));
    return report;
  } finally {
    await planned.release();
    await reference.release();
  }
}

const num = (x: number) => (x === 0 ? '0' : !Number.isFinite(x) ? String(x) : x >= 0.01 && x < 1e5 ? x.toPrecision(3) : x.toExponential(1));

function row(d: Deviation): string {
  if (d.skipped && d.ok) return `  ${d.name}: not compared (${d.skipped})`;
  const what = d.skipped ? ` (${d.skipped})` : '';
  return `  ${d.ok ? 'ok ' : 'OFF'}  ${d.name}  ${d.dtype} [${d.shape.join(',')}]  max |Δ| ${num(d.max_abs)}  range ${num(d.range)}  rel ${num(d.rel)}  ${d.differing} differ${what}`;
}

/** The text report. */
export function formatCheck(r: CheckReport): string {
  const lines = [`${r.model}: kernels vs the TS reference on the same inputs (floats within ${r.tol} of the reference's range, integers equal)`, 'outputs:'];
  for (const d of r.outputs) lines.push(row(d));
  if (r.values) {
    const starts = r.values.filter((v) => v.starts);
    const offN = r.values.filter((v) => !v.ok).length;
    lines.push('', `node outputs: ${r.values.length}, off ${offN}; where the difference starts (inputs within tolerance, output not): ${starts.length}`);
    for (const v of starts) lines.push(`  ${v.op} ${v.node} (${v.kernel})`, `  ${row(v)}`);
    const worst = [...r.values].filter((v) => !v.skipped).sort((x, y) => y.rel - x.rel).slice(0, 10);
    lines.push('', 'largest relative differences:');
    for (const v of worst) lines.push(`  ${num(v.rel).padStart(8)}  ${v.op} ${v.node} (${v.kernel}) → ${v.name}`);
  }
  lines.push('', r.ok ? 'every output within tolerance' : 'an output is off: see the nodes above');
  return lines.join('\n') + '\n';
}

export async function checkMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['input', 'dims', 'tol'], booleans: ['json', 'nodes'], aliases: { i: 'input' } });
  if (a.positional.length !== 1) throw new UsageError('check needs exactly one MODEL path');
  const path = a.positional[0]!;
  const tol = Number(a.get('tol') ?? 1e-4);
  if (!(tol >= 0 && tol < 1)) throw new UsageError(`--tol ${a.get('tol')}: expected a number in [0, 1)`);
  const { graph } = loadModelFile(path);
  const feeds = feedsFromArgs(a, graph);
  const r = await checkModel(path, graph, feeds, tol, a.has('nodes'));
  io.out(a.has('json') ? JSON.stringify(r) + '\n' : formatCheck(r));
  return r.ok ? 0 : 1;
}
