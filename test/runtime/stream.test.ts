import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/runtime/session.js';
import { StatefulStream } from '../../src/runtime/stream.js';
import { Tensor } from '../../src/tensor/tensor.js';

// silero VAD as the npm package @ricky0123/vad-web ships it (every version in the package)
const dist = dirname(createRequire(import.meta.url).resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx'));
const VERSIONS = [
  { file: 'silero_vad_legacy.onnx', carry: { hn: 'h', cn: 'c' } },
  { file: 'silero_vad_v5.onnx', carry: { stateN: 'state' } },
  { file: 'silero_vad_v6.onnx', carry: { stateN: 'state' } },
];

/** 16 kHz test signal: low noise with 440/1200 Hz tone bursts (speech-like on/off), deterministic. */
function signal(n: number): Float32Array {
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    const burst = Math.floor(t / 0.4) % 2 === 1 ? 0.5 : 0;
    x[i] = 0.02 * rnd() + burst * (Math.sin(2 * Math.PI * 440 * t) + 0.5 * Math.sin(2 * Math.PI * 1200 * t));
  }
  return x;
}

describe('StatefulStream: silero VAD over 512-sample chunks at 16 kHz', () => {
  const CHUNKS = 40;
  const audio = signal(512 * CHUNKS);
  for (const v of VERSIONS) {
    it(`${v.file} matches onnxruntime-node within 1e-4 per chunk, state carried`, async () => {
      const bytes = new Uint8Array(readFileSync(join(dist, v.file)));
      const sr = new Tensor('int64', new BigInt64Array([16000n]), []);
      const stream = new StatefulStream(await InferenceSession.create(bytes), { carry: v.carry, constants: { sr } });
      const peer = await ort.InferenceSession.create(bytes);
      let state: Record<string, ort.Tensor> = {};
      for (const [, inp] of Object.entries(v.carry)) {
        const m = stream.current[inp]!;
        state[inp] = new ort.Tensor('float32', new Float32Array(m.size), [...m.dims]);
      }
      let worst = 0;
      const probs: number[] = [];
      for (let c = 0; c < CHUNKS; c++) {
        const chunk = audio.slice(c * 512, (c + 1) * 512);
        const got = await stream.push({ input: new Tensor('float32', chunk, [1, 512]) });
        const want = await peer.run({ input: new ort.Tensor('float32', chunk, [1, 512]), sr: new ort.Tensor('int64', new BigInt64Array([16000n]), []), ...state });
        const next: Record<string, ort.Tensor> = {};
        for (const [o, i] of Object.entries(v.carry)) next[i] = want[o]!;
        state = next;
        for (const name of Object.keys(want)) {
          const a = got[name]!.data as Float32Array;
          const b = want[name]!.data as Float32Array;
          expect(a.length).toBe(b.length);
          for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k]! - b[k]!));
        }
        probs.push((got.output!.data as Float32Array)[0]!);
        expect(worst).toBeLessThan(1e-4);
      }
      // the state is really carried: the same chunk gives another answer from the initial state
      stream.reset();
      const fresh = (await stream.push({ input: new Tensor('float32', audio.slice(512 * (CHUNKS - 1)), [1, 512]) })).output!.data[0];
      expect(fresh).not.toBe(probs[CHUNKS - 1]);
    }, 120_000);
  }

  // `sr` picks silero's 16 kHz (512-sample) or 8 kHz (256-sample) branch: one session serves both, a plan per value
  // (runtime/specialize.ts configInputs) with the branch inlined, each chain of chunks as onnxruntime-node computes it
  for (const v of VERSIONS)
    it(`${v.file}: 16 kHz and 8 kHz chunks alternately in one session, each within 1e-4 of onnxruntime-node`, async () => {
      const bytes = new Uint8Array(readFileSync(join(dist, v.file)));
      const s = await InferenceSession.create(bytes);
      const peer = await ort.InferenceSession.create(bytes);
      const rates = [16000, 8000] as const;
      const states = rates.map(() => ({ ours: {} as Record<string, Tensor>, theirs: {} as Record<string, ort.Tensor> }));
      for (const st of states)
        for (const inp of Object.values(v.carry)) {
          const dims = inp === 'state' ? [2, 1, 128] : [2, 1, 64];
          st.ours[inp] = new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
          st.theirs[inp] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
        }
      let worst = 0;
      for (let c = 0; c < 12; c++) {
        const k = c % 2;
        const n = rates[k] === 16000 ? 512 : 256;
        const chunk = audio.slice(c * 512, c * 512 + n);
        const srT = BigInt64Array.of(BigInt(rates[k]));
        const got = await s.run({ input: new Tensor('float32', chunk, [1, n]), sr: new Tensor('int64', srT, []), ...states[k]!.ours });
        const want = await peer.run({ input: new ort.Tensor('float32', chunk, [1, n]), sr: new ort.Tensor('int64', srT, []), ...states[k]!.theirs });
        for (const name of Object.keys(want)) {
          const a = got[name]!.data as Float32Array;
          const b = want[name]!.data as Float32Array;
          expect(a.length).toBe(b.length);
          for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        }
        for (const [o, i] of Object.entries(v.carry)) {
          states[k]!.ours[i] = got[o]!;
          states[k]!.theirs[i] = want[o]!;
        }
      }
      expect(worst).toBeLessThan(1e-4);
      // each rate ran on a plan of its own with the branch inlined
      for (const r of rates) {
        const n = r === 16000 ? 512 : 256;
        const e = s.executorFor({ input: new Tensor('float32', new Float32Array(n), [1, n]), sr: new Tensor('int64', BigInt64Array.of(BigInt(r)), []), ...states[0]!.ours });
        expect(e.analysis.order.some((x) => x.op === 'If')).toBe(false);
      }
      await s.release();
    }, 120_000);

  it('refuses unknown names and feeding carried state', async () => {
    const bytes = new Uint8Array(readFileSync(join(dist, 'silero_vad_v5.onnx')));
    const s = await InferenceSession.create(bytes);
    expect(() => new StatefulStream(s, { carry: { nope: 'state' } })).toThrow(/not an output/);
    expect(() => new StatefulStream(s, { carry: { stateN: 'nope' } })).toThrow(/not an input/);
    const st = new StatefulStream(s, { carry: { stateN: 'state' } });
    expect(() => st.pushSync({ state: st.current.state! })).toThrow(/carried state/);
  });
});
