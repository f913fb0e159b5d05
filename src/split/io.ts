/** Write a split to a directory: part1.onnx … partK.onnx plus manifest.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeOnnx } from '../formats/onnx/writer.js';
import type { SplitResult } from './split.js';

export function writeSplit(result: SplitResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  result.parts.forEach((g, i) => {
    const f = join(dir, result.manifest.parts[i]!.file);
    writeFileSync(f, writeOnnx(g));
    files.push(f);
  });
  const m = join(dir, 'manifest.json');
  writeFileSync(m, JSON.stringify(result.manifest, null, 2) + '\n');
  files.push(m);
  return files;
}
