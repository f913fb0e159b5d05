// TFLite's integer LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM on int8, 8x8_16) on its WASM kernel (asm/qs8_lstm.ts,
// src/kernels/tfl-lstm8.ts) against the TS reference (src/ops/tflite-lstm8.ts), BIT-EXACT: gemmlowp's int16 sigmoid /
// tanh on every input value, and whole LSTMs over random sizes, layouts, scales, zero points, states and clips, on
// the kernel's run() and on its static-plan bind.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { arena, kernels } from '../../src/kernels/wasm.js';
import '../../src/kernels/index.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { fixedLogistic16, fixedTanh16 } from '../../src/tensor/tflite-quant.js';
import { rng } from '../helpers/quant-data.js';
import { bytesOf, staticEqualsGeneral } from '../helpers/static-paths.js';

const T = 'ai.edgeq.tflite';

describe('qs16_lstm_sigmoid / qs16_lstm_tanh: gemmlowp int16 fixed point on 8 lanes', () => {
  // every int16 input: the kernel's lanes (q15mulr_sat for SaturatingRoundingDoublingHighMul, wrapping i16 + and −)
  // against the reference's FixedPoint<int16, N> (src/tensor/tflite-quant.ts)
  const all = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
  const onKernel = (f: (x: number, out: number) => void): number[] => {
    const mem = arena()!;
    const x = mem.alloc(all.byteLength, 'test in');
    const y = mem.alloc(all.byteLength, 'test out');
    try {
      new Int16Array(mem.buffer, x, all.length).set(all);
      f(x, y);
      return Array.from(new Int16Array(mem.buffer, y, all.length));
    } finally {
      mem.release(x);
      mem.release(y);
    }
  };
  it('ApplySigmoid (logistic on Q3.12) equals the reference on all 65,536 inputs', () => {
    const got = onKernel((x, y) => kernels()!.qs16_lstm_sigmoid(x, all.length, y));
    expect(got).toEqual(Array.from(all, (v) => fixedLogistic16(v, 3)));
  });
  // the LSTM applies tanh to Q3.12 (cell gate) and to Q(15 + cell_scale) for cell_scale in -15 … -9 (the cell state)
  for (const bits of [0, 1, 2, 3, 4, 5, 6]) {
    it(`ApplyTanh(${bits}) equals the reference on all 65,536 inputs`, () => {
      const got = onKernel((x, y) => kernels()!.qs16_lstm_tanh(x, all.length, bits, y));
      expect(got).toEqual(Array.from(all, (v) => fixedTanh16(v, bits)));
    });
  }
});

interface Case {
  steps: number;
  batch: number;
  nIn: number;
  nCell: number;
  timeMajor: boolean;
  clip: boolean;
  /** int32 biases over the whole range (gate accumulators that wrap, requantized values past int32 once int16 is added) */
  bigBias: boolean;
}

/**
 * A one-node int8 LSTM with random codes, within the TFLite quantization spec: "weights are represented by int8
 * two's complement values in the range [-127, 127] with zero-point equal to 0", "activations/inputs are represented
 * by int8 two's complement values in the range [-128, 127], with a zero-point in range [-128, 127]"; int32 biases;
 * and lstm.cc Prepare's own rules: a power-of-two int16 cell state scale 2^cell_scale with "cell_scale <= -9" (and
 * ≥ -15: ApplyTanh has 0 … 6 integer bits), the hidden intermediate's zero point 0 (src/ops/tflite.ts checkLstm8).
 */
function lstmCase(c: Case, seed: number): { g: Graph; x: Tensor } {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const codes = (n: number, lo: number, hi: number) => Int8Array.from({ length: n }, () => int(lo, hi));
  const scale = (lo: number, hi: number) => Math.fround(lo * (hi / lo) ** r()); // log-uniform
  const g = new Graph();
  g.opsets = { '': 18, [T]: 1 };
  const names: string[] = Array(24).fill('');
  const scales: number[] = Array(24).fill(0), zps: number[] = Array(24).fill(0);
  const put = (i: number, t: Tensor, s = 0, zp = 0) => {
    names[i] = `in${i}`;
    g.initializers.set(names[i]!, t);
    [scales[i], zps[i]] = [s, zp];
  };
  const { steps, batch, nIn, nCell } = c;
  for (let k = 0; k < 4; k++) {
    put(1 + k, new Tensor('int8', codes(nCell * nIn, -127, 127), [nCell, nIn]), scale(2e-3, 5e-2));
    put(5 + k, new Tensor('int8', codes(nCell * nCell, -127, 127), [nCell, nCell]), scale(2e-3, 5e-2));
    put(12 + k, new Tensor('int32', Int32Array.from({ length: nCell }, () => (c.bigBias ? int(-(2 ** 31), 2 ** 31 - 1) : int(-60000, 60000))), [nCell]));
  }
  put(18, new Tensor('int8', codes(batch * nCell, -128, 127), [batch, nCell]), scale(2e-3, 2e-2), int(-128, 127));
  const cellScale = 2 ** int(-15, -9);
  put(19, new Tensor('int16', Int16Array.from({ length: batch * nCell }, () => int(-32768, 32767)), [batch, nCell]), cellScale);
  const dims = c.timeMajor ? [steps, batch, nIn] : [batch, steps, nIn];
  names[0] = 'x';
  [scales[0], zps[0]] = [scale(2e-3, 5e-2), int(-128, 127)];
  g.inputs.push({ name: 'x', type: { dtype: 'int8', shape: dims } });
  // cell_clip in float; quantized_cell_clip = min(cell_clip / cell_scale, 32767): some clips bind, some saturate
  const attrs = {
    fused_activation_function: 'TANH',
    cell_clip: c.clip ? scale(cellScale * 100, cellScale * 40000) : 0,
    time_major: c.timeMajor ? 1 : 0,
    in_scale: scales,
    in_zero_point: zps,
    out_scale: [scales[18]],
    out_zero_point: [zps[18]],
    hidden_scale: scale(2e-3, 2e-2),
    hidden_zero_point: 0,
  };
  g.nodes.push({ name: 'lstm', op: 'UNIDIRECTIONAL_SEQUENCE_LSTM', domain: T, inputs: names, outputs: ['y'], attrs } as never);
  g.outputs = [{ name: 'y', type: { dtype: 'int8' } }];
  return { g, x: new Tensor('int8', codes(steps * batch * nIn, -128, 127), dims) };
}

describe('qs8_lstm: the int8 LSTM kernel vs the TS reference', () => {
  it('is bit-exact over sizes (n_cell not a multiple of 4 / 8), batch, time- and batch-major, scales, zero points, states, clip', () => {
    fc.assert(
      fc.property(
        fc.record({
          steps: fc.integer({ min: 1, max: 6 }),
          batch: fc.integer({ min: 1, max: 3 }),
          nIn: fc.integer({ min: 1, max: 20 }),
          nCell: fc.integer({ min: 1, max: 19 }),
          timeMajor: fc.boolean(),
          clip: fc.boolean(),
          bigBias: fc.boolean(),
        }),
        fc.integer(),
        (c, seed) => {
          const { g, x } = lstmCase(c, seed);
          const want = new Executor(g, { backend: 'reference' }).run({ x }).y!;
          // the kernel's run() (no static plan), then the bound call of the static plan
          for (const staticPlan of [false, true]) {
            const fast = new Executor(g, { staticPlan });
            try {
              expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('qs8_lstm');
              const got = fast.run({ x }).y!;
              expect(got.dims).toEqual(want.dims);
              expect(bytesOf(got), `static plan ${staticPlan}`).toEqual(bytesOf(want));
              if (staticPlan) expect(fast.staticPlanStatus()).toEqual({ static: true });
            } finally {
              fast.dispose();
            }
          }
        },
      ),
      { numRuns: 150, seed: 81 },
    );
  });

  it('static plan = general path over several inputs of one session (states restart each run)', () => {
    const { g, x } = lstmCase({ steps: 5, batch: 2, nIn: 7, nCell: 11, timeMajor: false, clip: true, bigBias: false }, 5);
    const xs = [x, new Tensor('int8', Int8Array.from(x.data as Int8Array, (v) => 127 - v), x.dims), x];
    staticEqualsGeneral(g, xs);
  });
});
