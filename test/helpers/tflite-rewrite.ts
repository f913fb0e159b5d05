// Re-serialize a float single-subgraph .tflite with MediaPipe's Convolution2DTransposeBias replaced by the
// builtin TRANSPOSE_CONV (+ bias, + a constant output_shape), so TFLite's own runtime (which has no MediaPipe
// custom ops registered) can serve as the oracle for such models. MediaPipe's transpose_conv_bias.cc is a copy of
// TFLite's reference TransposeConv with the bias added (its comments say so); the output size it computes,
// s·(in - 1) + K - P with P = SAME ? max(0, K - (in - 1) % s - 1) : 0 and pad_top = floor(P / 2), is what
// transpose_conv.cc computes for output_shape = that size (padding.h with the output as input).
import { parseTflite } from '../../src/formats/tflite/model.js';
import { TFLITE_UNIONS } from '../../src/formats/tflite/generated/tflite-schema.js';
import { buildTflite, type OptionField, type TflSpec } from './tflite-builder.js';

const OPTS = TFLITE_UNIONS.BuiltinOptions as Record<string, number>;
/** field id → [name, kind] for the builtin options tables copied through (schemas/tflite.fbs order) */
const FIELDS: Record<string, [string, OptionField[1]][]> = {
  Conv2DOptions: [['padding', 'i8'], ['stride_w', 'i32'], ['stride_h', 'i32'], ['fused_activation_function', 'i8'], ['dilation_w_factor', 'i32'], ['dilation_h_factor', 'i32']],
  DepthwiseConv2DOptions: [['padding', 'i8'], ['stride_w', 'i32'], ['stride_h', 'i32'], ['depth_multiplier', 'i32'], ['fused_activation_function', 'i8'], ['dilation_w_factor', 'i32'], ['dilation_h_factor', 'i32']],
  Pool2DOptions: [['padding', 'i8'], ['stride_w', 'i32'], ['stride_h', 'i32'], ['filter_width', 'i32'], ['filter_height', 'i32'], ['fused_activation_function', 'i8']],
  AddOptions: [['fused_activation_function', 'i8'], ['pot_scale_int16', 'bool']],
  MulOptions: [['fused_activation_function', 'i8']],
  ResizeBilinearOptions: [['new_height', 'i32'], ['new_width', 'i32'], ['align_corners', 'bool'], ['half_pixel_centers', 'bool']],
};
const DEFAULTS: Record<string, number[]> = { Conv2DOptions: [0, 0, 0, 0, 1, 1], DepthwiseConv2DOptions: [0, 0, 0, 0, 0, 1, 1], AddOptions: [0, 1] };

export function replaceTransposeConvBias(bytes: Uint8Array): Uint8Array {
  const m = parseTflite(bytes);
  if (m.numSubgraphs !== 1) throw new Error('one subgraph only');
  const spec: TflSpec = {
    tensors: m.tensors.map((t) => {
      if (t.scale) throw new Error(`tensor ${t.index}: quantized tensors are not copied`);
      return { shape: t.shape, type: t.type, buffer: t.buffer, name: t.name };
    }),
    buffers: m.buffers.map((b) => b.slice()),
    opcodes: [],
    ops: [],
    inputs: m.inputs,
    outputs: m.outputs,
  };
  const code = (c: number) => {
    let i = spec.opcodes.indexOf(c);
    if (i < 0) i = spec.opcodes.push(c) - 1;
    return i;
  };
  for (const op of m.operators) {
    if (op.opName === 'CUSTOM') {
      if (op.customCode !== 'Convolution2DTransposeBias') throw new Error(`custom op ${op.customCode}`);
      const dv = new DataView(op.customOptions!.buffer, op.customOptions!.byteOffset, 12);
      const padding = dv.getInt32(0, true), sw = dv.getInt32(4, true), sh = dv.getInt32(8, true);
      const [x, w] = [m.tensors[op.inputs[0]!]!, m.tensors[op.inputs[1]!]!];
      const size = (inS: number, K: number, s: number) => s * (inS - 1) + K - (padding === 1 ? Math.max(0, K - ((inS - 1) % s) - 1) : 0);
      const os = [x.shape[0]!, size(x.shape[1]!, w.shape[1]!, sh), size(x.shape[2]!, w.shape[2]!, sw), w.shape[0]!];
      spec.buffers.push(new Uint8Array(Int32Array.from(os).buffer));
      const osT = spec.tensors.push({ shape: [4], type: 2, buffer: spec.buffers.length - 1, name: `${op.index}_output_shape` }) - 1;
      // TransposeConvOptions: padding (TFLite Padding SAME 0 / VALID 1; TfLitePadding SAME 1 / VALID 2), stride_w, stride_h
      spec.ops.push({
        opcode: code(67),
        inputs: [osT, op.inputs[1]!, op.inputs[0]!, op.inputs[2]!],
        outputs: op.outputs,
        options: { type: OPTS.TransposeConvOptions!, fields: [[0, 'i8', padding === 1 ? 0 : 1], [1, 'i32', sw], [2, 'i32', sh]] },
      });
      continue;
    }
    const name = Object.entries(OPTS).find(([, v]) => v === op.optionsType)?.[0];
    let options: TflSpec['ops'][number]['options'];
    if (op.optionsType && name) {
      const fl = FIELDS[name];
      if (!fl) throw new Error(`options ${name} are not copied`);
      const o = op.options!.as(name as never) as any;
      const fields: OptionField[] = [];
      fl.forEach(([fname, k], id) => {
        const def = DEFAULTS[name]?.[id] ?? 0;
        const v = k === 'bool' ? (o.bool(fname, def !== 0) ? 1 : 0) : o.int(fname, k, def);
        fields.push([id, k, v]);
      });
      options = { type: op.optionsType, fields };
    } else if (op.optionsType) throw new Error(`options type ${op.optionsType}`);
    spec.ops.push({ opcode: code(op.opcode), inputs: op.inputs, outputs: op.outputs, ...(options ? { options } : {}) });
  }
  return buildTflite(spec);
}
