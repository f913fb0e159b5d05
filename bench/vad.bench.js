// silero VAD (npm @ricky0123/vad-web, every version it ships) streamed in 512-sample chunks at 16 kHz with carried
// state: edgeq StatefulStream vs onnxruntime-web (wasm, SIMD, numThreads = 1) in the same process, per chunk.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InferenceSession, StatefulStream, Tensor } from '../dist/index.js';
import { fmt, ort, table, timeMs } from './common.js';

const VERSIONS = [
  { name: 'silero_vad_legacy', carry: { hn: 'h', cn: 'c' } },
  { name: 'silero_vad_v5', carry: { stateN: 'state' } },
  { name: 'silero_vad_v6', carry: { stateN: 'state' } },
];

export async function run() {
  let dist;
  try {
    dist = dirname(createRequire(import.meta.url).resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx'));
  } catch {
    table('silero VAD per 512-sample chunk', []);
    return {};
  }
  const chunk = Float32Array.from({ length: 512 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000));
  const rows = [];
  const out = [];
  for (const v of VERSIONS) {
    const bytes = new Uint8Array(readFileSync(join(dist, `${v.name}.onnx`)));
    const stream = new StatefulStream(await InferenceSession.create(bytes), { carry: v.carry, constants: { sr: new Tensor('int64', new BigInt64Array([16000n]), []) } });
    const edgeqMs = await timeMs(v.name, () => stream.pushSync({ input: new Tensor('float32', chunk, [1, 512]) }));
    const peer = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    let state = {};
    for (const i of Object.values(v.carry)) {
      const m = stream.current[i];
      state[i] = new ort.Tensor('float32', new Float32Array(m.size), [...m.dims]);
    }
    const sr = new ort.Tensor('int64', new BigInt64Array([16000n]), []);
    const ortMs = await timeMs(`${v.name} ort`, async () => {
      const r = await peer.run({ input: new ort.Tensor('float32', chunk, [1, 512]), sr, ...state });
      const next = {};
      for (const [o, i] of Object.entries(v.carry)) next[i] = r[o];
      state = next;
    });
    out.push({ model: v.name, edgeqMs, ortMs, ratio: edgeqMs / ortMs });
    rows.push({ model: v.name, 'edgeq ms/chunk': fmt(edgeqMs, 3), 'ORT-web ms/chunk': fmt(ortMs, 3), 'edgeq/ORT': fmt(edgeqMs / ortMs) });
  }
  table('silero VAD, one 512-sample chunk with carried state (lower edgeq/ORT is better)', rows);
  return { vad: out };
}
