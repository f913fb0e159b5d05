// The development corpus (issue 14): every real model we have loads, runs on random inputs, agrees with
// onnxruntime-node (ONNX models: |edgeq − ort| ≤ 1e-3 × the output's range) and, after warm-up, runs on kernels:
// no Conv/ConvTranspose/Gemm/MatMul node (any domain) on the reference and the reference ops' share of the node
// time ≤ 2 %. Models that do not meet that yet are listed in KNOWN_GAPS with the exact set of reasons their
// reference nodes give; the test asserts that set exactly (deterministic, unlike the timed share), so it fails when a
// kernel lands for a listed op (shrink the entry; drop it once the model meets the property) or a new gap opens.
// `CORPUS_PRINT_GAPS=1` prints the observed map. (TFLite outputs have no oracle in Node; their comparison with
// TFLite's own runtime lives in bench/models-tflite.bench.js.)
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { readModel } from '../../src/formats/detect.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { CORPUS_IDS, corpusModels } from './corpus.js';
import { corpusFeeds } from './corpus-feeds.js';

/** Ops whose reference runs are a performance bug on any model. */
const HEAVY = /^(|.*\.)(Conv|ConvTranspose|Gemm|MatMul|QLinearConv|QLinearMatMul|QGemm|ConvInteger|MatMulInteger)$/;
const MAX_SHARE = 0.02;

interface Gap {
  /** the model does not load: the error matches this */
  load?: RegExp;
  /** sorted distinct `Op: reason` of every node on the reference after warm-up */
  reference?: string[];
}

/** Observed after merging the issue-14/15/16 kernel branches (2026-12-06); shrink it as kernels land. */
const KNOWN_GAPS: Record<string, Gap> = {};

const observed: Record<string, Gap> = {};
afterAll(() => {
  if (process.env.CORPUS_PRINT_GAPS) console.log(JSON.stringify(observed, (_k, v) => (v instanceof RegExp ? v.source : v), 2));
});

const yieldToRunner = () => new Promise((r) => setTimeout(r, 0));

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.type as never, t.data as never, [...t.dims]);
}

const models = corpusModels();

describe('development corpus', () => {
  it('lists the models present here, and every KNOWN_GAPS key is a corpus model', () => {
    expect(models.length).toBeGreaterThan(0);
    for (const id of Object.keys(KNOWN_GAPS)) expect(CORPUS_IDS).toContain(id);
  });

  for (const m of models) {
    it(`${m.id}: loads, runs, agrees with the oracle, runs on kernels`, { timeout: 600_000 }, async () => {
      const gap = KNOWN_GAPS[m.id];
      let session: InferenceSession;
      let graph;
      try {
        graph = readModel(new Uint8Array(readFileSync(m.path)));
        session = await InferenceSession.create(graph, { profile: true });
      } catch (e) {
        observed[m.id] = { load: new RegExp((e as Error).message.slice(0, 60).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) };
        if (!gap?.load) throw e;
        expect((e as Error).message).toMatch(gap.load);
        return;
      }
      expect(gap?.load, `${m.id} loads now: drop its KNOWN_GAPS load entry`).toBeUndefined();
      const feeds = corpusFeeds(graph, m);
      const t0 = performance.now();
      const out = session.runSync(feeds); // warm-up
      const slow = performance.now() - t0 > 500;
      session.resetProfile();
      for (let r = 0; r < (slow ? 1 : 5); r++) {
        await yieldToRunner(); // a model still on the reference runs for seconds: let vitest's worker RPC through
        session.runSync(feeds);
      }
      const p = session.profile();
      await session.release();

      if (m.format === 'onnx') {
        const o = await ort.InferenceSession.create(m.path);
        const want = await o.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(t)])));
        for (const name of o.outputNames) {
          const w = want[name]!.data as Float32Array;
          const got = out[name]!;
          expect([...got.dims], name).toEqual([...want[name]!.dims]);
          if (!(w instanceof Float32Array)) {
            expect(Array.from(got.data as ArrayLike<unknown>), name).toEqual(Array.from(w as ArrayLike<unknown>));
            continue;
          }
          let lo = Infinity;
          let hi = -Infinity;
          for (const v of w) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
          // a one-element output (a wake-word score) has range 0: its magnitude is the scale then
          const tol = 1e-3 * Math.max(hi - lo, Math.abs(hi), Math.abs(lo), 1e-6);
          const g = got.data as Float32Array;
          let worst = 0;
          for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!));
          expect(worst, `${m.id} output '${name}' max |edgeq − ort| (range ${hi - lo})`).toBeLessThanOrEqual(tol);
        }
        await o.release();
      } else {
        for (const t of Object.values(out)) if (t.type === 'float32') expect((t.data as Float32Array).every(Number.isFinite)).toBe(true);
      }

      const ref = p.nodes.filter((n) => n.kernel === 'reference');
      const reasons = [...new Set(ref.map((n) => `${n.op}: ${n.reason}`))].sort();
      const heavy = ref.filter((n) => HEAVY.test(n.op));
      const meets = !heavy.length && p.reference_share <= MAX_SHARE;
      if (!meets) observed[m.id] = { reference: reasons };
      if (gap?.reference) {
        expect(reasons, `${m.id}: the reference nodes' reasons changed; update KNOWN_GAPS`).toEqual(gap.reference);
        return;
      }
      expect(heavy.map((n) => `${n.op} ${n.name}: ${n.reason}`), `${m.id}: heavy ops on the reference`).toEqual([]);
      expect(p.reference_share, `${m.id}: reference share (${reasons.join(' | ')})`).toBeLessThanOrEqual(MAX_SHARE);
    });
  }
});
