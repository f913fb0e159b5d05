import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CaseResult, SUITES, dataDir, listCases, runCase } from './conformance-runner.js';

/**
 * `edgeq conformance [--suite S[,S…]] [--filter REGEX] [--json] [-v] [--write-allow [DIR]]`
 * Runs the ONNX backend test folders under <data>/onnx-conformance and prints pass counts per suite and
 * per op. --write-allow rewrites test/conformance/<suite>.allow.txt with the passing tests, which
 * `npm test` then requires to keep passing.
 */
export async function conformanceMain(argv: string[]): Promise<number> {
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const suites = (opt('--suite') ?? SUITES.join(',')).split(',');
  const filter = new RegExp(opt('--filter') ?? '.');
  const json = argv.includes('--json');
  const verbose = argv.includes('-v');
  const writeAllow = argv.includes('--write-allow');
  const root = join(dataDir(), 'onnx-conformance');
  const results: CaseResult[] = [];
  for (const suite of suites) {
    const cases = listCases(suite, root).filter((c) => filter.test(c));
    if (!cases.length) {
      console.error(`edgeq conformance: no tests for suite '${suite}' under ${root}`);
      if (process.env.CI) return 1;
      continue;
    }
    for (const name of cases) {
      const r = await runCase(suite, name, root);
      results.push(r);
      if (verbose && !r.ok) console.log(`FAIL ${suite}/${name}: ${r.message}`);
    }
  }
  const summary = summarize(results);
  if (json) console.log(JSON.stringify(summary));
  else printSummary(summary);
  if (writeAllow) {
    const dir = opt('--write-allow')?.startsWith('-') === false ? opt('--write-allow')! : join(process.cwd(), 'test', 'conformance');
    mkdirSync(dir, { recursive: true });
    for (const s of Object.keys(summary.suites)) {
      const pass = results.filter((r) => r.suite === s && r.ok).map((r) => r.name).sort();
      writeFileSync(join(dir, `${s}.allow.txt`), `# ${s}: tests expected to pass (written by \`npm run conformance -- --write-allow\`)\n${pass.join('\n')}\n`);
      if (!json) console.log(`wrote ${join(dir, `${s}.allow.txt`)} (${pass.length} tests)`);
    }
  }
  return 0;
}

export interface ConformanceSummary {
  suites: Record<string, { pass: number; total: number }>;
  ops: Record<string, { pass: number; total: number }>;
  failures: { suite: string; name: string; message: string }[];
}

export function summarize(results: CaseResult[]): ConformanceSummary {
  const suites: ConformanceSummary['suites'] = {};
  const ops: ConformanceSummary['ops'] = {};
  for (const r of results) {
    const s = (suites[r.suite] ??= { pass: 0, total: 0 });
    s.total++;
    if (r.ok) s.pass++;
    // per-op counts: a test counts for every op its model uses
    for (const op of r.ops.length ? r.ops : ['(unreadable)']) {
      const o = (ops[op] ??= { pass: 0, total: 0 });
      o.total++;
      if (r.ok) o.pass++;
    }
  }
  const failures = results.filter((r) => !r.ok).map((r) => ({ suite: r.suite, name: r.name, message: r.message ?? '' }));
  return { suites, ops, failures };
}

function printSummary(s: ConformanceSummary): void {
  console.log('suite                 pass / total');
  for (const [name, c] of Object.entries(s.suites)) console.log(`${name.padEnd(20)} ${String(c.pass).padStart(5)} / ${c.total}`);
  console.log('\nper op (tests using the op: pass / total)');
  const rows = Object.entries(s.ops).sort((a, b) => a[0].localeCompare(b[0]));
  const cells = rows.map(([op, c]) => `${op.padEnd(28)} ${String(c.pass).padStart(4)} / ${String(c.total).padEnd(4)}`);
  for (let i = 0; i < cells.length; i += 3) console.log(cells.slice(i, i + 3).join('   '));
}
