/** `edgeq inspect MODEL [--json]`: format, IR version, producer, opsets, I/O, op histogram, sizes, MACs. */
import { isSealed } from '../formats/sealed.js';
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { detectFormat, readModel } from '../formats/detect.js';
import type { Graph, GraphIO } from '../ir/graph.js';
import { modelStats } from '../ir/stats.js';
import { fmtBytes, opsetList, summaryRows, summaryText } from '../ir/summary.js';
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

import { readOnnxFile } from '../formats/onnx/external-node.js';

/** Load a model file into the IR; errors name the file. */
export function loadModelFile(path: string): { graph: Graph; bytes: Uint8Array; format: string } {
  const bytes = readBytes(path, 'model');
  try {
    const format = detectFormat(bytes);
    // ONNX external data (model.onnx + model.onnx.data) resolves beside the model file; readModel refuses sealed bytes
    return { graph: format === 'onnx' && !isSealed(bytes) ? readOnnxFile(path, bytes) : readModel(bytes), bytes, format };
  } catch (e) {
    if (e instanceof Error && !e.message.includes(path)) e.message = `${path}: ${e.message}`;
    throw e;
  }
}

export { fmtBytes, fmtCount, fmtInt } from '../ir/summary.js';
const ioJson = (v: GraphIO) => ({ name: v.name, dtype: v.type.dtype, shape: v.type.shape ?? null });

export async function inspectMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { booleans: ['json'] });
  if (a.positional.length !== 1) throw new UsageError('inspect needs exactly one MODEL path');
  const path = a.positional[0]!;
  const { graph, bytes, format } = loadModelFile(path);
  const s = modelStats(graph);
  const fileBytes = statSync(path).size;
  const opsets = opsetList(graph);
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
  io.out(summaryText(summaryRows(graph, s, `${path} (${format}, ${fmtBytes(bytes.length)})`)));
  return 0;
}
