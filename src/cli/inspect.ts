/** `edgeq inspect MODEL [--json]`: format, IR version, producer, opsets, I/O, op histogram, sizes, MACs. */
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { detectFormat, readModel } from '../formats/detect.js';
import { shapeStr } from '../ir/dims.js';
import type { Graph, GraphIO } from '../ir/graph.js';
import { modelStats } from '../ir/stats.js';
import '../ops/index.js';
import { UsageError, parseArgs } from './args.js';

/** Where command output goes (tests pass a collector). */
export interface Io {
  out(s: string): void;
  err(s: string): void;
  /** stream for progress bars */
  progress?: { isTTY?: boolean; write(s: string): unknown };
}
export const stdio: Io = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  progress: process.stderr,
};

/** Read a file fully; InputError naming it when missing/unreadable. */
export function readBytes(path: string, what = 'file'): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new InputError(`cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Load a model file into the IR; errors name the file. */
export function loadModelFile(path: string): { graph: Graph; bytes: Uint8Array; format: string } {
  const bytes = readBytes(path, 'model');
  try {
    return { graph: readModel(bytes), bytes, format: detectFormat(bytes) };
  } catch (e) {
    if (e instanceof Error && !e.message.includes(path)) e.message = `${path}: ${e.message}`;
    throw e;
  }
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
export function fmtCount(n: number): string {
  if (n < 1e3) return String(Math.round(n));
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} K`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)} M`;
  return `${(n / 1e9).toFixed(2)} G`;
}
const ioJson = (v: GraphIO) => ({ name: v.name, dtype: v.type.dtype, shape: v.type.shape ?? null });

export async function inspectMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { booleans: ['json'] });
  if (a.positional.length !== 1) throw new UsageError('inspect needs exactly one MODEL path');
  const path = a.positional[0]!;
  const { graph, bytes, format } = loadModelFile(path);
  const s = modelStats(graph);
  const fileBytes = statSync(path).size;
  const opsets = Object.entries(graph.opsets).map(([d, v]) => ({ domain: d || 'ai.onnx', version: v }));
  if (a.has('json')) {
    io.out(
      JSON.stringify(
        {
          file: path,
          format,
          fileBytes,
          irVersion: graph.irVersion,
          producer: graph.producer,
          opsets,
          inputs: graph.inputs.map(ioJson),
          outputs: s.outputs.map(ioJson),
          nodes: s.nodes,
          ops: s.ops,
          params: s.params,
          paramsByDtype: s.paramsByDtype,
          bytesByDtype: s.bytesByDtype,
          macs: s.macs,
          macsByOp: s.macsByOp,
          macsPer: s.symbols,
          uncountedNodes: s.uncounted,
          ...(s.inferenceError ? { inferenceError: s.inferenceError } : {}),
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  const rows: [string, string][] = [];
  rows.push(['model', `${path} (${format}, ${fmtBytes(bytes.length)})`]);
  rows.push(['ir version', String(graph.irVersion)]);
  rows.push(['producer', graph.producer || '-']);
  rows.push(['opsets', opsets.map((o) => `${o.domain} ${o.version}`).join(', ')]);
  for (const i of graph.inputs) rows.push(['input', `${i.name}  ${i.type.dtype} ${shapeStr(i.type.shape)}`]);
  for (const o of s.outputs) rows.push(['output', `${o.name}  ${o.type.dtype} ${shapeStr(o.type.shape)}`]);
  rows.push(['nodes', fmtInt(s.nodes)]);
  rows.push(['ops', Object.entries(s.ops).map(([k, v]) => `${k} ×${v}`).join(', ') || '-']);
  const pd = Object.entries(s.paramsByDtype).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ');
  rows.push(['parameters', `${fmtInt(s.params)}${pd ? ` (${pd})` : ''}`]);
  rows.push(['weights', `${fmtBytes(s.bytes)}${s.bytes ? ` (${Object.entries(s.bytesByDtype).map(([k, v]) => `${k} ${fmtBytes(v)}`).join(', ')})` : ''}`]);
  let macs = `${fmtCount(s.macs)} (${fmtInt(s.macs)})`;
  const named = s.symbols.filter((d) => d !== '?');
  if (named.length) macs += ` per ${named.join('·')}`;
  if (s.symbols.length) macs += ' (symbolic dims counted as 1)';
  if (s.uncounted.length) macs += `; ${s.uncounted.length} node(s) with unknown shapes not counted`;
  rows.push(['MACs', macs]);
  if (s.inferenceError) rows.push(['note', `shape inference failed: ${s.inferenceError}`]);
  const w = Math.max(...rows.map((r) => r[0].length));
  io.out(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  return 0;
}
