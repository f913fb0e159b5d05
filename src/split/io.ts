/** Write a split to a directory: part1.onnx … partK.onnx plus manifest.json (Node only). */
import { writeOnnx } from '../formats/onnx/writer.js';
import { SplitError } from './errors.js';
import type { SplitResult } from './split.js';

// node:fs / node:path are loaded only under Node so browsers can import the package entry.
const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const fs = isNode ? await import('node:fs') : undefined;
const path = isNode ? await import('node:path') : undefined;

export function writeSplit(result: SplitResult, dir: string): string[] {
  if (!fs || !path) throw new SplitError('writeSplit needs a file system (Node)');
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  result.parts.forEach((g, i) => {
    const f = path.join(dir, result.manifest.parts[i]!.file);
    fs.writeFileSync(f, writeOnnx(g));
    files.push(f);
  });
  const m = path.join(dir, 'manifest.json');
  fs.writeFileSync(m, JSON.stringify(result.manifest, null, 2) + '\n');
  files.push(m);
  return files;
}
