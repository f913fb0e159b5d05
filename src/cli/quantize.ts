/**
 * `edgeq quantize IN OUT --calib x.npy|DIR [--method minmax|percentile|entropy|mse] [--percentile 99.99]
 *  [--per-channel|--per-tensor] [--symmetric-activations] [--activation-type uint8|int8]
 *  [--weight-type int8|uint8] [--format qdq|qoperator] [--exclude NODE,…] [--exclude-op Softmax,…]
 *  [--dynamic] [--fp16] [--keep-io-fp16] [--weight-bits N] [--weight-clip minmax|mse]
 *  [--sweep-bits 8,6,4,3,2] [--data x.npy --labels y.npy] [--max-accuracy-drop PT] [--bias-correction]
 *  [--equalize] [--limit N] [--batch N] [--report] [--json]`
 *
 * Writes the quantized model (after a structural check), prints sizes, and with --data/--labels the fp32 and
 * quantized top-1 accuracy. --report prints per-layer scale / zero point / SQNR and the chosen setting.
 * --sweep-bits quantizes the weights at every listed width and prints accuracy and size per width, next to
 * plain round-to-nearest (min/max) so the gain of MSE-optimal clipping is visible.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { readNpy } from '../formats/npy.js';
import { writeOnnx } from '../formats/onnx/writer.js';
import type { Graph } from '../ir/graph.js';
import { CALIB_METHODS, type CalibData, type CalibMethod, type QuantizeOptions, type QuantizeResult, assertValidModel, compareOutputs, quantize } from '../quant/index.js';
import { InferenceSession } from '../runtime/session.js';
import { Tensor } from '../tensor/tensor.js';
import { UsageError, parseArgs } from './args.js';
import { evaluate, loadEvalSet } from './eval.js';
import { type Io, fmtBytes, loadModelFile, readBytes, stdio } from './inspect.js';
import { Progress } from './progress.js';

export const QUANTIZE_USAGE =
  'edgeq quantize IN OUT --calib x.npy|DIR [--method minmax|percentile|entropy|mse] [--percentile 99.99] [--per-channel|--per-tensor] [--symmetric-activations] [--activation-type uint8|int8] [--weight-type int8|uint8] [--format qdq|qoperator] [--exclude NODE,...] [--exclude-op Softmax,...] [--dynamic] [--fp16] [--keep-io-fp16] [--weight-bits 2..8] [--weight-clip minmax|mse] [--block-size 32] [--no-zero-points] [--accuracy-level 4|0] [--no-compare] [--sweep-bits 8,6,4,3,2] [--data x.npy --labels y.npy] [--max-accuracy-drop PT] [--bias-correction] [--equalize] [--limit N] [--batch N] [--report] [--json]';

function list(a: ReturnType<typeof parseArgs>, name: string): string[] {
  return a
    .all(name)
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

function concat(ts: Tensor[], what: string): Tensor {
  const first = ts[0]!;
  for (const t of ts)
    if (t.type !== first.type || t.dims.length !== first.dims.length || t.dims.slice(1).some((d, i) => d !== first.dims[i + 1]))
      throw new InputError(`${what}: arrays disagree in dtype or sample shape (${first.type} [${first.dims.join(',')}] vs ${t.type} [${t.dims.join(',')}])`);
  if (ts.length === 1) return first;
  const n = ts.reduce((s, t) => s + t.dims[0]!, 0);
  const data = new (first.typed.constructor as new (n: number) => Float32Array)(ts.reduce((s, t) => s + t.size, 0));
  let off = 0;
  for (const t of ts) {
    data.set(t.typed as Float32Array, off);
    off += t.size;
  }
  return new Tensor(first.type, data, [n, ...first.dims.slice(1)]);
}

/** --calib: one .npy, or a directory of <input>.npy files (or, for one-input models, any *.npy batches). */
export function loadCalib(path: string, g: Graph): CalibData {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new InputError(`cannot read calibration data '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!isDir) return readNpy(readBytes(path, 'calibration data'), path);
  const files = readdirSync(path).filter((f) => f.endsWith('.npy')).sort();
  if (!files.length) throw new InputError(`calibration directory '${path}' holds no .npy files`);
  const byInput: Record<string, Tensor> = {};
  for (const i of g.inputs) {
    const f = files.find((x) => x === `${i.name}.npy`);
    if (f) byInput[i.name] = readNpy(readBytes(join(path, f), 'calibration data'), f);
  }
  if (Object.keys(byInput).length === g.inputs.length) return byInput;
  if (g.inputs.length !== 1) throw new InputError(`calibration directory '${path}' needs one <input>.npy per model input (${g.inputs.map((i) => i.name).join(', ')})`);
  return concat(
    files.map((f) => readNpy(readBytes(join(path, f), 'calibration data'), f)),
    `calibration directory '${path}'`,
  );
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n') + '\n';
}

/**
 * Bytes the file would take with the weight codes bit-packed at their width. ≤ 4-bit QDQ weights are already
 * INT4/UINT4 in the file (two per byte); what remains is 3/2-bit codes in 4-bit and 5–7-bit codes in 8-bit
 * containers (and the QOperator/dynamic forms, whose integer ops need 8-bit weights).
 */
function packedBytes(r: QuantizeResult, fileBytes: number): number {
  let saved = 0;
  for (const l of r.layers) {
    if (!l.weight || !l.weightBits || l.weightBits >= 8) continue;
    const q = [...r.graph.initializers.entries()].find(([k]) => k.startsWith(`${l.weight}_quantized`))?.[1];
    if (!q) continue;
    const stored = q.type === 'int4' || q.type === 'uint4' ? Math.ceil(q.size / 2) : q.size;
    saved += stored - Math.ceil((q.size * l.weightBits) / 8);
  }
  return fileBytes - saved;
}

export async function quantizeMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, {
    values: ['calib', 'method', 'percentile', 'activation-type', 'weight-type', 'format', 'exclude', 'exclude-op', 'weight-bits', 'weight-clip', 'sweep-bits', 'data', 'labels', 'limit', 'batch', 'max-accuracy-drop', 'block-size', 'accuracy-level'],
    booleans: ['per-channel', 'per-tensor', 'symmetric-activations', 'dynamic', 'fp16', 'keep-io-fp16', 'report', 'json', 'no-check', 'bias-correction', 'equalize', 'no-zero-points', 'no-compare'],
  });
  const sweep = list(a, 'sweep-bits').map((s) => {
    const b = Number(s);
    if (!Number.isInteger(b) || b < 2 || b > 8) throw new UsageError(`--sweep-bits entries must be integers in [2, 8], got '${s}'`);
    return b;
  });
  if (a.positional.length !== 2 && !(sweep.length && a.positional.length === 1)) throw new UsageError(`quantize needs IN and OUT model paths (OUT is optional with --sweep-bits)\nusage: ${QUANTIZE_USAGE}`);
  const [inPath, outPath] = a.positional as [string, string | undefined];
  if (a.has('per-channel') && a.has('per-tensor')) throw new UsageError('give --per-channel or --per-tensor, not both');
  if (a.has('dynamic') && a.has('fp16')) throw new UsageError('give --dynamic or --fp16, not both');
  const method = a.get('method') as CalibMethod | undefined;
  if (method !== undefined && !CALIB_METHODS.includes(method)) throw new UsageError(`--method must be one of ${CALIB_METHODS.join(', ')}, got '${method}'`);
  const format = a.get('format');
  if (format !== undefined && format !== 'qdq' && format !== 'qoperator') throw new UsageError(`--format must be qdq or qoperator, got '${format}'`);
  const at = a.get('activation-type');
  if (at !== undefined && at !== 'uint8' && at !== 'int8') throw new UsageError(`--activation-type must be uint8 or int8, got '${at}'`);
  const wt = a.get('weight-type');
  if (wt !== undefined && wt !== 'uint8' && wt !== 'int8') throw new UsageError(`--weight-type must be int8 or uint8, got '${wt}'`);
  const wc = a.get('weight-clip');
  if (wc !== undefined && wc !== 'minmax' && wc !== 'mse') throw new UsageError(`--weight-clip must be minmax or mse, got '${wc}'`);
  let percentile: number | undefined;
  if (a.has('percentile')) {
    percentile = Number(a.get('percentile'));
    if (!(percentile > 0 && percentile <= 100)) throw new UsageError(`--percentile must be a number in (0, 100], got '${a.get('percentile')}'`);
  }
  // --weight-bits 4|8 without --calib / --dynamic / --fp16: weight-only com.microsoft MatMulNBits
  const weightOnly = !a.has('dynamic') && !a.has('fp16') && !a.has('calib') && a.has('weight-bits');
  const mode = a.has('dynamic') ? 'dynamic' : a.has('fp16') ? 'fp16' : weightOnly ? 'weight-only' : 'static';
  if (!weightOnly && (a.has('block-size') || a.has('no-zero-points') || a.has('accuracy-level'))) throw new UsageError('--block-size / --no-zero-points / --accuracy-level go with weight-only quantization (--weight-bits 4|8 without --calib)');
  const json = a.has('json');
  const { graph, bytes: inBytes } = loadModelFile(inPath);
  const calibPath = a.get('calib');
  if (mode === 'static' && !calibPath) throw new UsageError('static quantization needs --calib x.npy (or use --dynamic / --fp16)');
  const calib = calibPath ? loadCalib(calibPath, graph) : undefined;
  const base: QuantizeOptions = {
    mode,
    ...(calib ? { calib } : {}),
    ...(method ? { method } : {}),
    ...(percentile !== undefined ? { percentile } : {}),
    perChannel: !a.has('per-tensor'),
    ...(at ? { activationType: at as 'uint8' | 'int8' } : {}),
    ...(a.has('symmetric-activations') ? { symmetricActivations: true } : {}),
    ...(wt ? { weightType: wt as 'uint8' | 'int8' } : {}),
    ...(format ? { format: format as 'qdq' | 'qoperator' } : {}),
    exclude: list(a, 'exclude'),
    excludeOps: list(a, 'exclude-op'),
    ...(a.has('weight-bits') ? { weightBits: a.int('weight-bits', 8, 2, 8) } : {}),
    ...(wc ? { weightClip: wc as 'minmax' | 'mse' } : {}),
    ...(a.has('keep-io-fp16') ? { keepIoFp16: true } : {}),
    batch: a.int('batch', 100, 1, 1 << 20),
    ...(a.has('bias-correction') ? { biasCorrection: true } : {}),
    ...(a.has('equalize') ? { equalize: true } : {}),
    ...(weightOnly ? { blockSize: a.int('block-size', 32, 16, 1 << 16), zeroPoints: !a.has('no-zero-points'), accuracyLevel: a.int('accuracy-level', 4, 0, 4) } : {}),
  };
  let maxDrop: number | undefined;
  if (a.has('max-accuracy-drop')) {
    maxDrop = Number(a.get('max-accuracy-drop'));
    if (!(maxDrop >= 0) || !Number.isFinite(maxDrop)) throw new UsageError(`--max-accuracy-drop must be a number of percentage points ≥ 0, got '${a.get('max-accuracy-drop')}'`);
    if (mode !== 'static') throw new UsageError('--max-accuracy-drop works with static quantization (not --dynamic / --fp16)');
  }

  const evalSet = loadEvalSet(a);
  if (sweep.length && !evalSet) throw new UsageError('--sweep-bits needs --data x.npy and --labels y.npy');
  if (maxDrop !== undefined) {
    if (!evalSet) throw new UsageError('--max-accuracy-drop needs --data x.npy and --labels y.npy');
    if (sweep.length) throw new UsageError('give --max-accuracy-drop or --sweep-bits, not both');
    base.maxAccuracyDrop = maxDrop;
    base.evalData = { x: evalSet.x, labels: evalSet.y };
  }
  const accuracy = async (g: Graph) => (await evaluate(InferenceSession.fromGraph(g), evalSet!.x, evalSet!.y, { batch: 250 })).accuracy;
  const run = async (o: QuantizeOptions, label: string) => {
    const total = calib ? (calib instanceof Tensor ? calib.dims[0]! : Object.values(calib)[0]!.dims[0]!) : 0;
    const bar = new Progress(total, label, { quiet: json || mode !== 'static', ...(io.progress ? { stream: io.progress } : {}) });
    let last = 0;
    const r = await quantize(graph, { ...o, onProgress: (d) => (bar.tick(d - last), (last = d)) });
    bar.finish();
    if (!a.has('no-check')) assertValidModel(r.graph);
    return r;
  };

  if (sweep.length) {
    const fp32 = await accuracy(graph);
    const rows: { bits: number; clip: string; accuracy: number; file: number; packed: number; gzip: number }[] = [];
    for (const bits of sweep)
      for (const clip of bits < 8 ? (['mse', 'minmax'] as const) : (['minmax'] as const)) {
        const r = await run({ ...base, weightBits: bits, weightClip: clip }, `calibrate ${bits}-bit`);
        const bytes = writeOnnx(r.graph);
        rows.push({ bits, clip, accuracy: await accuracy(r.graph), file: bytes.length, packed: packedBytes(r, bytes.length), gzip: gzipSync(bytes, { level: 9 }).length });
      }
    if (json) io.out(JSON.stringify({ model: inPath, fp32: { accuracy: fp32, bytes: inBytes.length }, rows }, null, 1) + '\n');
    else {
      io.out(`weight bits sweep for ${inPath} (${mode}, activations 8-bit) on ${evalSet!.y.length} samples; fp32 ${pct(fp32)}, ${fmtBytes(inBytes.length)}\n`);
      io.out(
        table([
          ['bits', 'weight clip', 'top-1', 'Δ pt', 'file', 'file/fp32', 'packed', 'gzip'],
          ...rows.map((r) => [String(r.bits), r.clip === 'mse' ? 'mse-optimal' : 'round-to-nearest', pct(r.accuracy), ((r.accuracy - fp32) * 100).toFixed(2), fmtBytes(r.file), pct(r.file / inBytes.length), fmtBytes(r.packed), fmtBytes(r.gzip)]),
        ]),
      );
      io.out('file = the written model (weights of ≤ 4 bits are ONNX INT4/UINT4, two per byte; 5–7 bits in int8 containers); packed = the same with every code stored at its exact bit width\n');
    }
    if (!outPath) return 0;
  }

  const r = await run(base, 'calibrate');
  const outBytes = writeOnnx(r.graph);
  let acc: { fp32: number; quantized: number } | undefined;
  if (r.accuracy) acc = { fp32: r.accuracy.fp32, quantized: r.accuracy.quantized };
  else if (evalSet && !sweep.length) acc = { fp32: await accuracy(graph), quantized: await accuracy(r.graph) };
  try {
    writeFileSync(outPath!, outBytes);
  } catch (e) {
    throw new InputError(`cannot write '${outPath}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // max |Δ| and cosine per output vs fp32 on probe inputs (dynamic / weight-only / fp16 have no eval data)
  const agreement = mode !== 'static' && !a.has('no-compare') ? compareOutputs(graph, r.graph) : undefined;
  const summary = {
    input: inPath,
    output: outPath,
    mode,
    format: mode === 'static' ? (base.format ?? 'qdq') : undefined,
    method: mode === 'static' ? (base.method ?? 'minmax') : undefined,
    perChannel: base.perChannel,
    weightBits: base.weightBits ?? (mode === 'fp16' ? 16 : 8),
    bytes: { before: inBytes.length, after: outBytes.length, packed: packedBytes(r, outBytes.length), gzipBefore: gzipSync(inBytes, { level: 9 }).length, gzipAfter: gzipSync(outBytes, { level: 9 }).length },
    foldedBatchNorms: r.foldedBatchNorms,
    ...(r.equalized !== undefined ? { equalizedPairs: r.equalized } : {}),
    ...(base.biasCorrection ? { biasCorrection: true } : {}),
    accuracy: acc,
    ...(agreement ? { outputs: agreement } : {}),
    ...(r.accuracy ? { accuracyAware: r.accuracy } : {}),
    layers: r.layers,
    skipped: r.skipped,
  };
  if (json) {
    io.out(JSON.stringify(summary, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 1) + '\n');
    return 0;
  }
  const what = mode === 'fp16' ? 'fp16' : mode === 'weight-only' ? `weight-only int${summary.weightBits} MatMulNBits, block ${base.blockSize}${base.zeroPoints ? ', zero points' : ', symmetric'}` : mode === 'dynamic' ? `dynamic int8 (weights int${summary.weightBits})` : `static ${summary.format}, ${summary.method}, ${base.perChannel ? 'per-channel' : 'per-tensor'} int${summary.weightBits} weights`;
  io.out(`quantized ${inPath} -> ${outPath} (${what})\n`);
  if (r.foldedBatchNorms) io.out(`folded ${r.foldedBatchNorms} BatchNormalization node(s) into Conv\n`);
  if (r.equalized !== undefined) io.out(`cross-layer equalisation: ${r.equalized} Conv pair(s) rescaled\n`);
  if (base.biasCorrection) io.out(`bias correction: ${r.layers.filter((l) => l.biasError).length} layer(s) corrected\n`);
  if (r.accuracy) {
    const ra = r.accuracy;
    const fb = r.layers.filter((l) => l.fallback);
    io.out(`accuracy-aware: budget ${ra.maxDrop} pt on ${ra.samples} samples, fp32 ${pct(ra.fp32)}, all-quantized ${pct(ra.candidates[0]!.accuracy)}; ${ra.met ? 'met' : 'NOT met (best candidate kept)'} with ${fb.length ? fb.map((l) => `${l.node}→${l.fallback}`).join(', ') : 'every layer quantized'} (${ra.candidates.length} candidate(s) tried)\n`);
  }
  const rows = [
    ['', 'fp32', 'quantized'],
    ['file', fmtBytes(inBytes.length), `${fmtBytes(outBytes.length)} (${pct(outBytes.length / inBytes.length)})`],
    ['gzip -9', fmtBytes(summary.bytes.gzipBefore), fmtBytes(summary.bytes.gzipAfter)],
  ];
  if (summary.bytes.packed !== outBytes.length) rows.push(['packed weights', '', fmtBytes(summary.bytes.packed)]);
  for (const o of agreement ?? []) rows.push([`${o.name} vs fp32`, '', `cosine ${o.cosine.toFixed(5)}, max |Δ| ${o.maxAbsError.toPrecision(3)}`]);
  if (acc) rows.push(['top-1', pct(acc.fp32), `${pct(acc.quantized)} (${((acc.quantized - acc.fp32) * 100).toFixed(2)} pt)`]);
  io.out(table(rows));
  if (a.has('report') && r.layers.length) {
    const f = (x: number | undefined, d = 1) => (x === undefined ? '' : Number.isFinite(x) ? x.toFixed(d) : String(x));
    io.out('\n');
    io.out(
      table([
        ['layer', 'op', 'w SQNR dB', 'out SQNR dB', ...(r.accuracy ? ['solo SQNR dB'] : []), ...(base.biasCorrection ? ['|ΔE[y]| before', 'after'] : []), 'in scale', 'in zp', 'out scale', 'out zp', 'out range', 'setting'],
        ...r.layers.map((l) => [l.node, l.op, f(l.weightSqnr), f(l.outputSqnr), ...(r.accuracy ? [f(l.soloSqnr)] : []), ...(base.biasCorrection ? [l.biasError ? l.biasError.before.toPrecision(3) : '', l.biasError ? l.biasError.after.toPrecision(3) : ''] : []), l.input ? l.input.scale.toPrecision(4) : '', l.input ? String(l.input.zeroPoint) : '', l.output ? l.output.scale.toPrecision(4) : '', l.output ? String(l.output.zeroPoint) : '', l.output ? `[${l.output.min.toPrecision(3)}, ${l.output.max.toPrecision(3)}]` : '', l.setting]),
      ]),
    );
  }
  for (const s of r.skipped) io.out(`  left float: ${s.node} (${s.op}): ${s.reason}\n`);
  return 0;
}
