/** Write a split to a directory: part1.onnx … partK.onnx plus manifest.json (Node, Deno, Bun). */
import { platform } from '#platform';
import { writeOnnx } from '../formats/onnx/writer.js';
import { SplitError } from './errors.js';
import type { SplitResult } from './split.js';

export function writeSplit(result: SplitResult, dir: string): string[] {
  if (platform.kind !== 'node') throw new SplitError('writeSplit needs a file system (Node, Deno or Bun)');
  const files = result.parts.map((g, i) => ({ name: result.manifest.parts[i]!.file, data: writeOnnx(g) }));
  return platform.writeFiles(dir, [...files, { name: 'manifest.json', data: JSON.stringify(result.manifest, null, 2) + '\n' }]);
}
