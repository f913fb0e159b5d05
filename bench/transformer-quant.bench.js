// Quantized transformers: the shared encoder (1×128 tokens) as fp32, dynamic int8 (DynamicQuantizeLinear +
// MatMulInteger) and weight-only int4 / int8 (com.microsoft MatMulNBits, block 32), each in edgeq and in
// onnxruntime-web (wasm, SIMD, numThreads = 1) in the same process, runs alternating round by round.
// Prints medians, file sizes, edgeq/ORT per variant and every variant's speed relative to edgeq fp32.
import { readFileSync } from 'node:fs';
import { InferenceSession, Tensor, readOnnx, writeOnnx, quantize } from '../dist/index.js';
import { foldWeightChains } from '../dist/quant/index.js';
import { alternating, dataFile, fmt, ort, quick, table } from './common.js';

function encoderFeeds(T, seq) {
  const ids = BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 7 + 3) % 1000));
  const mask = new BigInt64Array(seq).fill(1n);
  return { input_ids: new T('int64', ids, [1, seq]), attention_mask: new T('int64', mask, [1, seq]) };
}

const VARIANTS = [
  { name: 'fp32', opts: undefined },
  // the quantizers fold weights behind Identity / Transpose first; this isolates that effect
  { name: 'fp32, weights folded', opts: 'fold' },
  { name: 'dynamic int8', opts: { mode: 'dynamic' } },
  { name: 'MatMulNBits int8', opts: { mode: 'weight-only', weightBits: 8 } },
  { name: 'MatMulNBits int4', opts: { mode: 'weight-only', weightBits: 4 } },
];

export async function run() {
  const path = dataFile('transformer/encoder_d256_l4.onnx');
  if (!path) {
    table('Quantized transformer', [{ variant: 'skipped (no ../shared data)' }]);
    return { transformerQuant: [] };
  }
  const src = new Uint8Array(readFileSync(path));
  const g = readOnnx(src);
  const rows = [];
  const out = [];
  let fp32Ms;
  for (const v of VARIANTS) {
    let bytes = src;
    if (v.opts === 'fold') {
      const f = g.clone();
      f.nodes = f.nodes.map((n) => ({ ...n, inputs: [...n.inputs] }));
      foldWeightChains(f);
      bytes = writeOnnx(f);
    } else if (v.opts) bytes = writeOnnx((await quantize(g, v.opts)).graph);
    const sess = await InferenceSession.create(bytes);
    const osess = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const feeds = encoderFeeds(Tensor, 128);
    const ofeeds = encoderFeeds(ort.Tensor, 128);
    const [e, o] = await alternating(sess, feeds, osess, ofeeds, quick ? 3 : 15);
    fp32Ms ??= e;
    out.push({ variant: v.name, bytes: bytes.length, edgeqMs: e, ortMs: o, ratio: e / o, vsFp32: e / fp32Ms });
    rows.push({ variant: v.name, file: `${(bytes.length / src.length * 100).toFixed(1)} %`, 'edgeq ms': fmt(e), 'ORT-web ms': fmt(o), 'edgeq/ORT': fmt(e / o), 'edgeq / edgeq fp32': fmt(e / fp32Ms) });
    await sess.release();
    await osess.release();
  }
  table('Quantized encoder_d256_l4, 1×128, one thread, alternating runs (lower is better)', rows);
  return { transformerQuant: out };
}
