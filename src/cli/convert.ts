/**
 * `edgeq convert IN.onnx|IN.tflite OUT.tflite|OUT.onnx [--int8 --calib x.npy|DIR] [--int8-io] [--fp16] [--json]`
 *
 * ONNX → TFLite: NCHW → NHWC with the layout folded into the weights (src/convert/tflite.ts), ops as TFLite
 * builtins with fused activations; --int8 full-integer quantization from calibration data (NCHW samples are
 * transposed to the converted model's NHWC input), --int8-io int8 model inputs/outputs, --fp16 float16 weights.
 * TFLite → ONNX: the NHWC ops run between Transposes. Prints sizes and the op histogram (or JSON with --json).
 */
import { writeFileSync } from 'node:fs';
import { onnxToTfliteGraph, quantizeTfliteGraph, fp16Weights, tfliteToOnnxGraph } from '../convert/tflite.js';
import { InputError } from '../errors.js';
import { writeOnnx } from '../formats/onnx/writer.js';
import { writeTflite } from '../formats/tflite/writer.js';
import { parseTflite } from '../formats/tflite/model.js';
import { readTflite } from '../formats/tflite/reader.js';
import type { Graph } from '../ir/graph.js';
import { UsageError, parseArgs } from './args.js';
import { type Io, fmtBytes, loadModelFile, stdio } from './inspect.js';
import { loadCalib } from './quantize.js';

export const CONVERT_USAGE = 'edgeq convert IN.onnx|IN.tflite OUT.tflite|OUT.onnx [--int8 --calib x.npy|DIR] [--int8-io] [--fp16] [--batch N] [--json]';

const histogram = (g: Graph) => {
  const h: Record<string, number> = {};
  for (const n of g.nodes) h[n.op] = (h[n.op] ?? 0) + 1;
  return h;
};

const builtins = (bytes: Uint8Array) => {
  const h: Record<string, number> = {};
  for (const o of parseTflite(bytes).operators) h[o.opName] = (h[o.opName] ?? 0) + 1;
  return h;
};

export async function convertMain(argv: string[], io: Io = stdio): Promise<number> {
  const a = parseArgs(argv, { values: ['calib', 'batch'], booleans: ['int8', 'int8-io', 'fp16', 'json'] });
  if (a.positional.length !== 2) throw new UsageError(`convert needs IN and OUT paths\nusage: ${CONVERT_USAGE}`);
  const [inPath, outPath] = a.positional as [string, string];
  const toTflite = outPath.endsWith('.tflite');
  if (!toTflite && !outPath.endsWith('.onnx')) throw new UsageError(`OUT must end in .tflite or .onnx, got '${outPath}'`);
  const int8 = a.has('int8');
  if (int8 && !a.get('calib')) throw new UsageError('--int8 needs calibration data (--calib x.npy|DIR)');
  if ((int8 || a.has('fp16') || a.has('int8-io')) && !toTflite) throw new UsageError('--int8 / --int8-io / --fp16 apply to .tflite output only');
  if (a.has('int8-io') && !int8) throw new UsageError('--int8-io needs --int8');
  if (int8 && a.has('fp16')) throw new UsageError('--int8 and --fp16 are exclusive');
  const { graph, bytes: inBytes, format } = loadModelFile(inPath);
  let bytes: Uint8Array;
  let written: Graph;
  let nhwcInputs: Record<string, boolean> = {};
  if (toTflite) {
    const r = onnxToTfliteGraph(graph);
    nhwcInputs = r.nhwcInputs;
    written = r.graph;
    if (int8) {
      // calibrated on the source model (NCHW samples as given; ranges are layout-free and names are kept)
      const calib = loadCalib(a.get('calib')!, graph);
      written = await quantizeTfliteGraph(written, { calib, ...(format === 'onnx' ? { calibGraph: graph } : {}), int8Io: a.has('int8-io'), batch: a.int('batch', 64, 1) });
    } else if (a.has('fp16')) written = fp16Weights(written);
    bytes = writeTflite(written, { description: `edgeq convert ${format}${int8 ? ' int8' : a.has('fp16') ? ' fp16' : ''}` });
    readTflite(bytes); // the reader's validation of what was just written
  } else {
    if (format !== 'tflite') throw new InputError(`${inPath}: converting ${format} to ONNX: use a .tflite input (ONNX → ONNX is a copy)`);
    written = tfliteToOnnxGraph(graph);
    bytes = writeOnnx(written);
  }
  writeFileSync(outPath, bytes);
  // for a .tflite: the builtin operators as written (fused activations are gone)
  const ops = toTflite ? builtins(bytes) : histogram(written);
  const info = { in: inPath, inFormat: format, inBytes: inBytes.length, out: outPath, outFormat: toTflite ? 'tflite' : 'onnx', outBytes: bytes.length, ratio: bytes.length / inBytes.length, int8, int8Io: a.has('int8-io'), fp16: a.has('fp16'), nhwcInputs: Object.keys(nhwcInputs).filter((k) => nhwcInputs[k]), ops };
  if (a.has('json')) {
    io.out(JSON.stringify(info, null, 2) + '\n');
    return 0;
  }
  io.out(`${inPath} (${format}, ${fmtBytes(inBytes.length)}) → ${outPath} (${info.outFormat}${int8 ? ' int8' : a.has('fp16') ? ' fp16 weights' : ''}, ${fmtBytes(bytes.length)}, ${(info.ratio * 100).toFixed(1)} %)\n`);
  if (info.nhwcInputs.length) io.out(`inputs now NHWC: ${info.nhwcInputs.join(', ')}\n`);
  io.out(`ops: ${Object.entries(ops).map(([k, v]) => `${k}×${v}`).join(' ')}\n`);
  return 0;
}
