// TFLite's integer LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM on int8, lstm_eval.cc EvalInteger8x8_16; src/ops/tflite-lstm8.ts):
// the int16 gemmlowp fixed point it activates with, agreement with the float LSTM on the dequantized graph,
// time-major = batch-major transposed, and typed errors for the variants edgeq declines. Bit-exactness against
// TFLite itself is checked on a real model (test/formats/tflite/lstm8-tflite-web.test.ts).
import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { Graph } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { TFL_DOMAIN } from '../../src/ops/tflite.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { fixedLogistic16, fixedTanh16 } from '../../src/tensor/tflite-quant.js';

describe('gemmlowp int16 fixed point (tensor_utils ApplySigmoid / ApplyTanh)', () => {
  // "F3 sigmoid_input = F3::FromRaw(input); F0 sigmoid_output = gemmlowp::logistic(sigmoid_input)": Q3.12 → Q0.15
  // In 16 bits gemmlowp's exp barrel shifter and Newton steps are not monotone: measured drops of up to 8 LSB
  // (logistic) and 12 LSB (tanh) between neighbours, and errors up to 6 and 12 LSB of 2^-15. TFLite computes the
  // same values (the model test matches TFLite-web bit for bit).
  it('logistic on every Q3.12 value: within 2^-11 of 1/(1+e^-x), logistic(-x) = 1 - logistic(x), near-monotone', () => {
    let worst = 0, prev = -1;
    for (let v = -32768; v <= 32767; v++) {
      const y = fixedLogistic16(v, 3);
      worst = Math.max(worst, Math.abs(y / 32768 - 1 / (1 + Math.exp(-v / 4096))));
      expect(prev - y).toBeLessThanOrEqual(16);
      prev = y;
      if (v > 0 && v < 32768) expect(fixedLogistic16(-v, 3)).toBe(32767 - y);
    }
    expect(worst).toBeLessThan(2 ** -11);
  });
  // ApplyTanh(integer_bits): gemmlowp::tanh on FixedPoint<int16, integer_bits>; the LSTM uses 3 (cell gate, Q3.12)
  // and 15 + cell_scale (the cell state)
  it('tanh on every Qn value (n = 3, 4, 6): within 2^-11 of tanh(x), odd, near-monotone', () => {
    for (const n of [3, 4, 6]) {
      let worst = 0, prev = -32769;
      for (let v = -32767; v <= 32767; v++) {
        const y = fixedTanh16(v, n);
        worst = Math.max(worst, Math.abs(y / 32768 - Math.tanh(v / 2 ** (15 - n))));
        expect(prev - y).toBeLessThanOrEqual(16);
        expect(fixedTanh16(-v, n) + y).toBe(0);
        prev = y;
      }
      expect(worst, `Q${n}`).toBeLessThan(2 ** -11);
    }
  });
});

// ---- one-node LSTM graphs

interface Lstm {
  T: number;
  B: number;
  nIn: number;
  nCell: number;
  timeMajor: boolean;
  /** [T·B·nIn] float input in (time or batch)-major order */
  x: number[];
  /** 4 input weights [nCell·nIn], 4 recurrent [nCell·nCell], 4 biases [nCell] (gate order i, f, c, o) */
  wIn: number[][];
  wRec: number[][];
  bias: number[][];
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

function randomLstm(seed: number, T: number, B: number, nIn: number, nCell: number, timeMajor = false): Lstm {
  const r = rng(seed);
  const v = (n: number, a: number) => Array.from({ length: n }, () => r() * a);
  return { T, B, nIn, nCell, timeMajor, x: v(T * B * nIn, 1).map((e) => e * 1.25 + 0.25), wIn: [0, 1, 2, 3].map(() => v(nCell * nIn, 0.6)), wRec: [0, 1, 2, 3].map(() => v(nCell * nCell, 0.6)), bias: [0, 1, 2, 3].map(() => v(nCell, 0.5)) };
}

const IN_SCALE = 2.5 / 255, IN_ZP = -26; // input in [-1, 1.5]
const STATE_SCALE = 1 / 128, CELL_SCALE = 2 ** -11;

/** Symmetric int8 weights (scale max|w| / 127) and int32 biases in units of input_scale · weight_scale, as TFLite's quantizer stores them. */
function quantized(l: Lstm) {
  const sym = (w: number[]) => {
    const s = Math.fround(Math.max(...w.map(Math.abs)) / 127);
    return { s, q: Int8Array.from(w, (e) => Math.round(e / s)) };
  };
  const wIn = l.wIn.map(sym), wRec = l.wRec.map(sym);
  const bias = l.bias.map((b, g) => Int32Array.from(b, (e) => Math.round(e / (IN_SCALE * wIn[g]!.s))));
  const x = Int8Array.from(l.x, (e) => Math.max(-128, Math.min(127, Math.round(e / IN_SCALE) + IN_ZP)));
  return { wIn, wRec, bias, x };
}

type Opt = { projection?: boolean; peephole?: boolean; cifg?: boolean; layerNorm?: boolean; hiddenZp?: number; cellScale?: number; activation?: string; cellClip?: number };

/** The int8 LSTM node on quantized `l` (or its float twin on the dequantized values when `float`), inputs 0–23 as TFLite numbers them. */
function lstmGraph(l: Lstm, float: boolean, o: Opt = {}): { g: Graph; feed: Tensor } {
  const q = quantized(l);
  const g = new Graph();
  g.opsets = { '': 18, [TFL_DOMAIN]: 1 };
  const names: string[] = Array(24).fill('');
  const scales: number[] = Array(24).fill(0), zps: number[] = Array(24).fill(0);
  const put = (i: number, t: Tensor, scale = 0, zp = 0) => {
    names[i] = `in${i}`;
    g.initializers.set(names[i]!, t);
    scales[i] = scale;
    zps[i] = zp;
  };
  const deq = (a: ArrayLike<number>, s: number, zp = 0) => Float32Array.from(a, (e) => (e - zp) * s);
  for (let k = 0; k < 4; k++) {
    if (o.cifg && k === 0) continue;
    const wi = q.wIn[k]!, wr = q.wRec[k]!;
    put(1 + k, float ? new Tensor('float32', deq(wi.q, wi.s), [l.nCell, l.nIn]) : new Tensor('int8', wi.q, [l.nCell, l.nIn]), wi.s);
    put(5 + k, float ? new Tensor('float32', deq(wr.q, wr.s), [l.nCell, l.nCell]) : new Tensor('int8', wr.q, [l.nCell, l.nCell]), wr.s);
    put(12 + k, float ? new Tensor('float32', deq(q.bias[k]!, IN_SCALE * wi.s), [l.nCell]) : new Tensor('int32', q.bias[k]!, [l.nCell]));
  }
  const extra = (i: number, dims: number[]) => put(i, float ? Tensor.zeros('float32', dims) : new Tensor('int16', new Int16Array(dims.reduce((a, b) => a * b)).fill(1), dims), 2 ** -10);
  if (o.peephole) for (const i of [9, 10, 11]) extra(i, [l.nCell]);
  if (o.projection) extra(16, [l.nCell, l.nCell]);
  if (o.layerNorm) for (const i of [20, 21, 22, 23]) extra(i, [l.nCell]);
  put(18, float ? Tensor.zeros('float32', [l.B, l.nCell]) : Tensor.zeros('int8', [l.B, l.nCell]), STATE_SCALE);
  put(19, float ? Tensor.zeros('float32', [l.B, l.nCell]) : Tensor.zeros('int16', [l.B, l.nCell]), o.cellScale ?? CELL_SCALE);
  const dims = l.timeMajor ? [l.T, l.B, l.nIn] : [l.B, l.T, l.nIn];
  const feed = float ? new Tensor('float32', deq(q.x, IN_SCALE, IN_ZP), dims) : new Tensor('int8', q.x, dims);
  names[0] = 'x';
  scales[0] = IN_SCALE;
  zps[0] = IN_ZP;
  g.inputs.push({ name: 'x', type: { dtype: feed.type, shape: dims } });
  const attrs: Record<string, unknown> = { fused_activation_function: o.activation ?? 'TANH', cell_clip: o.cellClip ?? 0, time_major: l.timeMajor ? 1 : 0 };
  if (!float) Object.assign(attrs, { in_scale: scales, in_zero_point: zps, out_scale: [STATE_SCALE], out_zero_point: [0], hidden_scale: STATE_SCALE, hidden_zero_point: o.hiddenZp ?? 0 });
  g.nodes.push({ name: 'the_lstm', op: 'UNIDIRECTIONAL_SEQUENCE_LSTM', domain: TFL_DOMAIN, inputs: names, outputs: ['y'], attrs } as never);
  g.outputs = [{ name: 'y', type: { dtype: feed.type } }];
  return { g, feed };
}

async function runLstm(l: Lstm, float: boolean, o: Opt = {}): Promise<number[]> {
  const { g, feed } = lstmGraph(l, float, o);
  const s = await InferenceSession.create(g);
  const y = (await s.run({ x: feed })).y!;
  expect(y.dims).toEqual(l.timeMajor ? [l.T, l.B, l.nCell] : [l.B, l.T, l.nCell]);
  return Array.from(y.data as ArrayLike<number>);
}

describe('int8 UNIDIRECTIONAL_SEQUENCE_LSTM (8x8_16) reference', () => {
  // The integer kernel is the float LSTM in fixed point (gates Q3.12, cell state 2^cell_scale, output state int8):
  // on the dequantized graph the float op computes what it approximates. The output state is rounded to 1/128
  // each step and fed back; measured worst over these seeds: 0.53 LSB.
  it('agrees with the float LSTM on the dequantized graph within 1.5 output LSB', async () => {
    for (const seed of [1, 2, 3]) {
      const l = randomLstm(seed, 9, 2, 6, 5);
      const qy = await runLstm(l, false);
      const fy = await runLstm(l, true);
      let worst = 0;
      qy.forEach((v, k) => (worst = Math.max(worst, Math.abs(v * STATE_SCALE - fy[k]!))));
      expect(worst, `seed ${seed}`).toBeLessThanOrEqual(1.5 * STATE_SCALE);
      expect(Math.max(...fy.map(Math.abs)), 'outputs far from 0').toBeGreaterThan(0.1);
    }
  });

  // EvalInteger8x8_16: time-major steps all batch rows per time step, batch-major walks each row's sequence;
  // rows never mix, so the same data transposed gives the output transposed, byte for byte
  it('time-major = batch-major transposed', async () => {
    const bm = randomLstm(7, 5, 3, 4, 6);
    const T = bm.T, B = bm.B, n = bm.nIn;
    const tmx: number[] = [];
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) tmx.push(...bm.x.slice((b * T + t) * n, (b * T + t + 1) * n));
    const yb = await runLstm(bm, false);
    const yt = await runLstm({ ...bm, x: tmx, timeMajor: true }, false);
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) expect(yt.slice((t * B + b) * 6, (t * B + b + 1) * 6)).toEqual(yb.slice((b * T + t) * 6, (b * T + t + 1) * 6));
  });

  // UpdateLstmCellInteger: "if (clip > 0) CwiseClipping(cell_state, n_batch * n_cell, clip)" with
  // quantized_cell_clip = cell_clip / cell_state_scale: a tiny clip bounds the cell, so |h| ≤ tanh(clip)
  it('cell_clip bounds the cell state', async () => {
    const l = randomLstm(11, 12, 1, 6, 5);
    const y = await runLstm(l, false, { cellClip: 0.05 });
    const free = await runLstm(l, false);
    expect(Math.max(...y.map(Math.abs)) * STATE_SCALE).toBeLessThanOrEqual(Math.tanh(0.05) + STATE_SCALE);
    expect(Math.max(...free.map(Math.abs)) * STATE_SCALE).toBeGreaterThan(Math.tanh(0.05) + STATE_SCALE);
  });

  const l = randomLstm(5, 3, 1, 4, 4);
  for (const [what, o] of [
    ['projection', { projection: true }],
    ['peepholes', { peephole: true }],
    ['CIFG', { cifg: true }],
    ['layer norm', { layerNorm: true }],
    ['hidden zero point', { hiddenZp: 3 }],
  ] as [string, Opt][]) {
    it(`declines ${what} with UnsupportedError naming it`, async () => {
      const e = await InferenceSession.create(lstmGraph(l, false, o).g).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UnsupportedError);
      expect(String((e as Error).message)).toContain(what);
    });
  }

  // lstm.cc: "TF_LITE_ENSURE(context, CheckedLog2(cell_state->params.scale, &cell_scale)); TF_LITE_ENSURE(context, cell_scale <= -9)"
  for (const [what, o] of [
    ['a cell state scale that is not a power of two', { cellScale: 0.0003 }],
    ['a cell state scale above 2^-9', { cellScale: 2 ** -8 }],
    ['a cell activation other than TANH', { activation: 'RELU' }],
  ] as [string, Opt][]) {
    it(`rejects ${what} with ShapeError`, async () => {
      const e = await InferenceSession.create(lstmGraph(l, false, o).g).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ShapeError);
      expect(String((e as Error).message)).toMatch(/the_lstm/);
    });
  }
});
