/** `edgeq run MODEL --input NAME=file.npy … [--out DIR] [--json]`: run once, save outputs as .npy. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../formats/npy.js';
import { InferenceSession } from '../runtime/session.js';
import { f16ToF32 } from '../tensor/fp16.js';
import type { Tensor } from '../tensor/tensor.js';
import { UsageError, parseArgs } from './args.js';
import { type Io, loadModelFile, readBytes, stdio } from './inspect.js';

/** First `k` elements as JSON-friendly values (int64 as numbers when safe, else strings). */
export function firstValues(t: Tensor, k = 8): (number | string | boolean)[] {
  const out: (number | string | boolean)[] = [];
  for (let i = 0; i < Math.min(k, t.size); i++) {
    const v = t.data[i]!;
    if (typeof v === 'bigint') out.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());
    else if (typeof v === 'string') out.push(v);
    else if (t.type === 'float16') out.push(f16ToF32(v));
    else if (t.type === 'bool') out.push(v !== 0);
    else out.push(v);
  }
  return out;
}

const fmtVal = (v: number | string | boolean) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)).toString() : String(v));
export const safeFileName = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, '_') || 'output';

export async function runMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['input', 'out'], booleans: ['json'], aliases: { i: 'input', o: 'out' } });
  if (a.positional.length !== 1) throw new UsageError('run needs exactly one MODEL path');
  const { graph } = loadModelFile(a.positional[0]!);
  const session = await InferenceSession.create(graph);
  const feeds: Record<string, Tensor> = {};
  for (const spec of a.all('input')) {
    const eq = spec.indexOf('=');
    let name: string;
    let file: string;
    if (eq < 0) {
      if (session.inputNames.length !== 1) throw new UsageError(`--input ${spec}: the model has ${session.inputNames.length} inputs, use --input NAME=file.npy`);
      name = session.inputNames[0]!;
      file = spec;
    } else {
      name = spec.slice(0, eq);
      file = spec.slice(eq + 1);
    }
    if (!session.inputNames.includes(name)) throw new UsageError(`--input ${spec}: the model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    if (feeds[name]) throw new UsageError(`input '${name}' given twice`);
    feeds[name] = readNpy(readBytes(file, 'input'), file);
  }
  const missing = session.inputNames.filter((n) => !feeds[n]);
  if (missing.length) throw new UsageError(`missing --input for ${missing.join(', ')}`);
  const t0 = performance.now();
  const outs = await session.run(feeds);
  const ms = performance.now() - t0;
  const outDir = a.get('out');
  if (outDir) mkdirSync(outDir, { recursive: true });
  const results = session.outputNames.map((name) => {
    const t = outs[name]!;
    let file: string | undefined;
    if (outDir) {
      file = join(outDir, `${safeFileName(name)}.npy`);
      writeFileSync(file, writeNpy(t));
    }
    return { name, dtype: t.type, shape: [...t.dims], first: firstValues(t), ...(file ? { file } : {}) };
  });
  if (a.has('json')) {
    io.out(JSON.stringify({ ms, outputs: results }) + '\n');
    return 0;
  }
  for (const r of results) {
    const more = r.shape.reduce((x, y) => x * y, 1) > r.first.length ? ', …' : '';
    io.out(`${r.name}  ${r.dtype} [${r.shape.join(',')}]  [${r.first.map(fmtVal).join(', ')}${more}]${r.file ? `  -> ${r.file}` : ''}\n`);
  }
  io.out(`ran in ${ms.toFixed(1)} ms\n`);
  return 0;
}
