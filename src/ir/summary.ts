/**
 * The model summary `edgeq inspect` prints and the web page shows: pure functions of a Graph and its
 * ModelStats (no file system), so browsers can use them.
 */
import { shapeStr } from './dims.js';
import type { Graph } from './graph.js';
import type { ModelStats } from './stats.js';

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

export const opsetList = (g: Graph) => Object.entries(g.opsets).map(([d, v]) => ({ domain: d || 'ai.onnx', version: v }));

/** The summary as [label, value] rows; `model` names the source ("lenet.onnx (onnx, 242.6 KiB)"). */
export function summaryRows(graph: Graph, s: ModelStats, model: string): [string, string][] {
  const rows: [string, string][] = [];
  rows.push(['model', model]);
  rows.push(['ir version', String(graph.irVersion)]);
  rows.push(['producer', graph.producer || '-']);
  rows.push(['opsets', opsetList(graph).map((o) => `${o.domain} ${o.version}`).join(', ')]);
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
  return rows;
}

/** Rows as aligned text. */
export function summaryText(rows: [string, string][]): string {
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}
