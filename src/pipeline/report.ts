/** The pipeline's text table and self-contained HTML report (inline SVG scatter plots, no scripts or fetches). */

export interface VariantRow {
  name: string;
  file: string;
  /** what it was made from and how */
  recipe: string;
  accuracy: number;
  bytes: number;
  params: number;
  macs: number;
  /** median single-image latency (ms), one thread */
  latencyMs: number;
  /** accuracy minus its source's, when it has a float source */
  delta?: number;
}

export interface ReportData {
  title: string;
  rows: VariantRow[];
  stages: { name: string; status: 'ran' | 'skipped'; seconds?: number; note?: string }[];
  notes: string[];
  /** distillation comparison rows */
  distill?: { setting: string; accuracy: number }[];
  testSamples: number;
  totalSeconds: number;
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
export const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)}%`;
export function kib(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(2)} MiB`;
}
function count(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return n < 1e3 ? String(Math.round(n)) : n < 1e6 ? `${(n / 1e3).toFixed(1)} K` : `${(n / 1e6).toFixed(2)} M`;
}

/** Plain-text table (first column left-aligned). */
export function textTable(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n') + '\n';
}

export function variantTable(rows: readonly VariantRow[]): string {
  const head = ['variant', 'top-1', 'Δ', 'file', 'params', 'MACs', 'latency', 'recipe'];
  return textTable([
    head,
    ...rows.map((r) => [r.name, pct(r.accuracy), r.delta === undefined ? '' : `${(r.delta * 100).toFixed(2)}`, kib(r.bytes), count(r.params), count(r.macs), `${r.latencyMs.toFixed(3)} ms`, r.recipe]),
  ]);
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#e377c2', '#7f7f7f', '#bcbd22'];

/** Scatter plot with a log-scaled x axis, one labelled point per variant. */
export function scatterSvg(rows: readonly VariantRow[], x: (r: VariantRow) => number, xLabel: string, fmtX: (v: number) => string, title: string): string {
  const W = 640;
  const H = 420;
  const L = 64;
  const R = 170;
  const T = 40;
  const B = 50;
  const xs = rows.map(x).filter((v) => v > 0 && Number.isFinite(v));
  let lo = Math.log10(Math.min(...xs, 1e9));
  let hi = Math.log10(Math.max(...xs, 1e-9));
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, lo + 0.5];
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const accs = rows.map((r) => r.accuracy);
  let aLo = Math.max(0, Math.floor(Math.min(...accs) * 20) / 20 - 0.05);
  const aHi = 1;
  if (aLo >= aHi) aLo = 0;
  const px = (v: number) => L + ((Math.log10(v) - lo) / (hi - lo)) * (W - L - R);
  const py = (a: number) => T + ((aHi - a) / (aHi - aLo)) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" role="img" aria-label="${esc(title)}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(L + W - R) / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  const steps = 5;
  for (let i = 0; i <= steps; i++) {
    const a = aLo + ((aHi - aLo) * i) / steps;
    out.push(`<line x1="${L}" y1="${py(a).toFixed(1)}" x2="${W - R}" y2="${py(a).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${L - 6}" y="${(py(a) + 4).toFixed(1)}" text-anchor="end">${(a * 100).toFixed(1)}%</text>`);
  }
  for (let e = Math.ceil(lo * 2) / 2; e <= hi; e += 0.5) {
    const v = 10 ** e;
    out.push(`<line x1="${px(v).toFixed(1)}" y1="${H - B}" x2="${px(v).toFixed(1)}" y2="${H - B + 5}" stroke="black"/>`);
    out.push(`<text x="${px(v).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${esc(fmtX(v))}</text>`);
  }
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${H - B}" x2="${L}" y2="${T}" stroke="black"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)} (log scale)</text>`);
  out.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">top-1 accuracy</text>`);
  rows.forEach((r, i) => {
    const v = x(r);
    if (!(v > 0)) return;
    const c = COLORS[i % COLORS.length]!;
    out.push(`<circle class="point" cx="${px(v).toFixed(1)}" cy="${py(r.accuracy).toFixed(1)}" r="5" fill="${c}"><title>${esc(r.name)}: ${pct(r.accuracy)}, ${esc(fmtX(v))}</title></circle>`);
    const ly = T + 10 + i * 18;
    out.push(`<circle cx="${W - R + 18}" cy="${ly}" r="5" fill="${c}"/><text x="${W - R + 28}" y="${ly + 4}">${esc(r.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

export function reportHtml(d: ReportData): string {
  const sizePlot = scatterSvg(d.rows, (r) => r.bytes, 'file size', kib, 'accuracy vs size on disk');
  const latPlot = scatterSvg(d.rows, (r) => r.latencyMs, 'latency per image, one thread (ms)', (v) => `${v < 0.1 ? v.toFixed(3) : v.toFixed(2)} ms`, 'accuracy vs latency');
  const tr = (cells: string[], th = false) => `<tr>${cells.map((c) => (th ? `<th>${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`;
  const table = [
    tr(['variant', 'top-1', 'Δ vs source', 'file', 'params', 'MACs', 'latency', 'recipe'], true),
    ...d.rows.map((r) => tr([esc(r.name), pct(r.accuracy), r.delta === undefined ? '' : `${(r.delta * 100).toFixed(2)} pt`, kib(r.bytes), count(r.params), count(r.macs), `${r.latencyMs.toFixed(3)} ms`, esc(r.recipe)])),
  ].join('\n');
  const stages = d.stages.map((s) => `<li><b>${esc(s.name)}</b>: ${s.status}${s.seconds !== undefined ? ` (${s.seconds.toFixed(1)} s)` : ''}${s.note ? ` — ${esc(s.note)}` : ''}</li>`).join('\n');
  const distill = d.distill?.length ? `<h2>Distillation</h2><table>${tr(['student training', 'top-1'], true)}${d.distill.map((r) => tr([esc(r.setting), pct(r.accuracy)])).join('')}</table>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(d.title)}</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child,td:last-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:12px}</style>
</head><body>
<h1>${esc(d.title)}</h1>
<p>Top-1 accuracy on ${d.testSamples} test samples; file size of the exported ONNX; MACs per sample; median single-image latency in edgeq on one thread. Total time ${d.totalSeconds.toFixed(1)} s.</p>
<table>${table}</table>
<div class="plots">${sizePlot}${latPlot}</div>
${distill}
<h2>Stages</h2><ul>${stages}</ul>
${d.notes.length ? `<h2>Notes</h2><ul>${d.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}
