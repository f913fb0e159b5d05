/** `edgeq eval MODEL --data x.npy --labels y.npy [--batch 64] [--limit N] [--json]`: top-1 accuracy. */
import { readNpy } from '../formats/npy.js';
import { InferenceSession } from '../runtime/session.js';
import { Tensor } from '../tensor/tensor.js';
import { type ParsedArgs, UsageError, parseArgs } from './args.js';
import { type Io, loadModelFile, readBytes, stdio } from './inspect.js';
import { Progress } from './progress.js';

export { type EvalResult, evaluate, labelsOf } from '../runtime/evaluate.js';
import { evaluate, labelsOf } from '../runtime/evaluate.js';

export async function evalMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['data', 'labels', 'batch', 'limit'], booleans: ['json'] });
  if (a.positional.length !== 1) throw new UsageError('eval needs exactly one MODEL path');
  const dataPath = a.get('data');
  const labelPath = a.get('labels');
  if (!dataPath || !labelPath) throw new UsageError('eval needs --data x.npy and --labels y.npy');
  const batch = a.int('batch', 64, 1, 1 << 20);
  const json = a.has('json');
  const model = a.positional[0]!;
  const { graph } = loadModelFile(model);
  const session = await InferenceSession.create(graph);
  let x = readNpy(readBytes(dataPath, 'data'), dataPath);
  let y = labelsOf(readNpy(readBytes(labelPath, 'labels'), labelPath), labelPath);
  if (a.has('limit')) {
    const lim = a.int('limit', 0, 0);
    if (lim < (x.dims[0] ?? 0)) {
      const per = x.dims.slice(1).reduce((p, d) => p * d, 1);
      x = new Tensor(x.type, x.typed.slice(0, lim * per) as never, [lim, ...x.dims.slice(1)]);
      y = y.slice(0, lim);
    }
  }
  const bar = new Progress(x.dims[0] ?? 0, 'eval', { quiet: json, ...(io.progress ? { stream: io.progress } : {}) });
  const r = await evaluate(session, x, y, { batch, onBatch: (b) => bar.tick(b) });
  bar.finish();
  if (json) {
    io.out(JSON.stringify({ model, ...r }) + '\n');
    return 0;
  }
  io.out(
    `accuracy  ${(100 * r.accuracy).toFixed(2)} % (${r.correct}/${r.total})\n` +
      `speed     ${r.imagesPerSec.toFixed(1)} images/s (${r.msPerImage.toFixed(3)} ms/image, batch ${r.batch})\n`,
  );
  return 0;
}

/**
 * The labelled set named by `--data x.npy --labels y.npy [--limit N]` (both or neither), for commands that
 * report accuracy (prune and quantize sweeps); undefined when no data was given.
 */
export function loadEvalSet(a: ParsedArgs): { x: Tensor; y: Int32Array } | undefined {
  const dataPath = a.get('data');
  const labelPath = a.get('labels');
  if (!!dataPath !== !!labelPath) throw new UsageError('--data and --labels go together');
  if (!dataPath || !labelPath) return undefined;
  let x = readNpy(readBytes(dataPath, 'data'), dataPath);
  let y = labelsOf(readNpy(readBytes(labelPath, 'labels'), labelPath), labelPath);
  if (a.has('limit')) {
    const lim = a.int('limit', 0, 0);
    if (lim < (x.dims[0] ?? 0)) {
      const per = x.dims.slice(1).reduce((p, d) => p * d, 1);
      x = new Tensor(x.type, x.typed.slice(0, lim * per) as never, [lim, ...x.dims.slice(1)]);
      y = y.slice(0, lim);
    }
  }
  return { x, y };
}
