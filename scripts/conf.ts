// Dev helper: run conformance cases matching a regex straight from TS sources (no build needed).
//   npx tsx scripts/conf.ts node '^test_(add|sub)'      (suite, regex; -v prints failure messages)
import { listCases, runCase } from '../src/cli/conformance-runner.js';

const [suite = 'node', pattern = '.', flag] = process.argv.slice(2);
const re = new RegExp(pattern);
let pass = 0;
let fail = 0;
for (const name of listCases(suite).filter((n) => re.test(n))) {
  const r = await runCase(suite, name);
  if (r.ok) pass++;
  else fail++;
  if (!r.ok || flag === '-a') console.log(`${r.ok ? 'PASS' : 'FAIL'} ${name}${r.ok || flag !== '-v' && flag !== '-a' ? '' : '  ' + r.message}`);
}
console.log(`${pass} passed, ${fail} failed`);
