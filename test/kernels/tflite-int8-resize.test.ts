// TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR as the importer keeps them (domain ai.edgeq.tflite, NHWC): the
// WASM kernels (src/kernels/tflite-int8.ts tflResizeWasm) against the TS reference (src/ops/tflite.ts), BIT-EXACT,
// and the reference's integer bilinear against TFLite's formula on a case computed by hand.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { rng } from '../helpers/quant-data.js';

const T = 'ai.edgeq.tflite';

function resizeGraph(op: string, dtype: DType, dims: number[], oh: number, ow: number, ac: number, hp: number): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype, shape: dims } }];
  g.initializers.set('size', new Tensor('int32', Int32Array.of(oh, ow), [2]));
  const q = dtype === 'float32' ? {} : { in_scale: [0.05], in_zero_point: [dtype === 'uint8' ? 128 : 3], out_scale: [0.05], out_zero_point: [dtype === 'uint8' ? 128 : 3] };
  g.nodes = [{ name: 'r', op, domain: T, inputs: ['X', 'size'], outputs: ['Y'], attrs: { align_corners: ac, half_pixel_centers: hp, data_layout: 'NHWC', ...q } as never }];
  g.outputs = [{ name: 'Y', type: { dtype } }];
  g.opsets = { '': 21, [T]: 1 };
  return g;
}

describe('TFLite RESIZE_BILINEAR (int8 / int16) reference', () => {
  // resize_bilinear.h ResizeBilinearInteger: scale_10 = ((1 << 10) * input_width + output_width / 2) / output_width
  // = (2048 + 2) / 4 = 512; column 1: scaled 512, x0 = 0, x1 = 1, output_20 = 100 · 1024 · 512 = 50 · 2^20, (+ 2^19) / 2^20 → 50;
  // columns 2, 3: scaled 1024 / 1536, x0 = x1 = 1 → 100
  it('follows ResizeBilinearInteger on codes (no requantization)', () => {
    const g = resizeGraph('RESIZE_BILINEAR', 'int8', [1, 1, 2, 1], 1, 4, 0, 0);
    const y = new Executor(g, { backend: 'reference' }).run({ X: new Tensor('int8', Int8Array.of(0, 100), [1, 1, 2, 1]) }).Y!;
    expect(Array.from(y.data as Int8Array)).toEqual([0, 50, 100, 100]);
  });
});

describe('TFLite RESIZE kernels vs the TS reference', () => {
  // RESIZE_NEAREST_NEIGHBOR copies the input element at GetNearestNeighbor's index (float32 scale, floor, or
  // TfLiteRound with align_corners); RESIZE_BILINEAR int8 / int16 interpolates the codes in 10-bit fixed point and
  // rounds "(output_20 + round) / (1 << 20)" with round = ±(1 << 19) (TFLite's default double rounding)
  it('are bit-exact over dtypes, up- and down-sampling, align_corners / half_pixel_centers, batch and channels', () => {
    fc.assert(
      fc.property(
        fc.record({
          bilinear: fc.boolean(),
          dtype: fc.constantFrom<DType>('int8', 'int8', 'int16', 'uint8', 'float32'),
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 11 }),
          c: fc.integer({ min: 1, max: 7 }),
          oh: fc.integer({ min: 1, max: 19 }),
          ow: fc.integer({ min: 1, max: 23 }),
          mode: fc.constantFrom([0, 0], [1, 0], [0, 1]),
        }),
        fc.integer(),
        (r, seed) => {
          // bilinear float / uint8 are other kernels (ONNX Resize, the reference): int8 / int16 here
          const dtype = r.bilinear && (r.dtype === 'uint8' || r.dtype === 'float32') ? 'int8' : r.dtype;
          const op = r.bilinear ? 'RESIZE_BILINEAR' : 'RESIZE_NEAREST_NEIGHBOR';
          const dims = [r.n, r.h, r.w, r.c];
          const g = resizeGraph(op, dtype, dims, r.oh, r.ow, r.mode[0]!, r.mode[1]!);
          const rnd = rng(seed);
          const size = dims.reduce((a, b) => a * b, 1);
          const data =
            dtype === 'int8' ? Int8Array.from({ length: size }, () => Math.floor(rnd() * 256) - 128)
            : dtype === 'uint8' ? Uint8Array.from({ length: size }, () => Math.floor(rnd() * 256))
            : dtype === 'int16' ? Int16Array.from({ length: size }, () => Math.floor(rnd() * 65536) - 32768)
            : Float32Array.from({ length: size }, () => rnd() * 10 - 5);
          const x = new Tensor(dtype, data, dims);
          const fast = new Executor(g, { layout: false });
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(r.bilinear ? 'tfl_resize_bilinear_nhwc' : 'tfl_resize_nearest_nhwc');
          const got = fast.run({ X: x }).Y!;
          fast.dispose();
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as ArrayLike<number>)).toEqual(Array.from(want.data as ArrayLike<number>));
          // and with the layout pass (a layout boundary: the plan keeps the op on its NHWC input)
          const lay = new Executor(g);
          expect(Array.from(lay.run({ X: x }).Y!.data as ArrayLike<number>)).toEqual(Array.from(want.data as ArrayLike<number>));
          lay.dispose();
        },
      ),
      { numRuns: 300, seed: 61 },
    );
  });
});
