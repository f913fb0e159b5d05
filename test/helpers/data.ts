import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Shared model data ($EDGEQ_DATA or ../shared/models). Tests that need it call `requireData(rel)`:
 * locally a missing folder skips the test; under CI (CI set) it fails loudly instead.
 */
export function dataDir(): string {
  return process.env.EDGEQ_DATA ?? join(process.cwd(), '..', 'shared', 'models');
}

export function hasData(rel = ''): boolean {
  const p = join(dataDir(), rel);
  if (existsSync(p)) return true;
  if (process.env.CI) throw new Error(`test data missing under CI: ${p} (set EDGEQ_DATA or put ../shared/models beside the repo)`);
  return false;
}

export function dataPath(rel: string): string {
  return join(dataDir(), rel);
}
