// One-operator int8 TFLite models with random scales / zero points, for comparing edgeq with TFLite itself
// (test/formats/tflite/int8-math-tflite-web.test.ts).
import { type OptionField, oneOpTflite, type OneOpTensor } from './tflite-builder.js';

/** mulberry32 (the one in src/ops/nn-misc.ts): a small seeded generator, so a failing case can be rebuilt from its seed. */
import { mulberry32 as rng } from '../../src/ops/nn-misc.js';

export { rng };

const INT8 = 9, INT32 = 2;

/**
 * Where the case runs: 'both' (TFLite-web and edgeq, outputs equal byte for byte), 'tflite' (TFLite-web only: edgeq
 * refuses it with a typed error), 'neither' (this TFLite-web build refuses it too), 'xnnpack' (TFLite-web hands it to
 * XNNPACK, whose arithmetic differs from TFLite's builtin kernel, which edgeq follows).
 */
export type Oracle = 'both' | 'tflite' | 'neither' | 'xnnpack';
const ORACLE: Record<string, Oracle> = {
  RSQRT: 'neither', EXP: 'neither', LOG: 'neither', DIV: 'neither', NEG: 'neither', SQUARE: 'neither', SQRT: 'neither', BROADCAST_TO: 'neither', 'CONCATENATION requant': 'neither',
  REDUCE_PROD: 'tflite', LOG_SOFTMAX: 'tflite',
  LEAKY_RELU: 'xnnpack',
};

export interface Int8Case {
  name: string;
  oracle: Oracle;
  /** the TFLite rule the case exercises (quoted in the test's name) */
  rule: string;
  bytes: Uint8Array;
  /** graph inputs in the model's input order */
  inputs: { data: Int8Array; dims: number[] }[];
}

type Opts = { type: number; fields: OptionField[] };
interface In {
  shape: number[];
  /** a constant (int8 codes or int32 values); omitted: a graph input of random int8 codes */
  data?: Int8Array | Int32Array;
  /** int32 constant (axes, perm, …) without quantization */
  int?: boolean;
  /** a graph input holding every int8 code (a pointwise op's whole table), in a seeded order */
  all?: boolean;
  q?: [number, number];
}

/** A one-op int8 model: inputs (graph inputs get random codes), one int8 output of `outShape`. */
export function int8Case(name: string, rule: string, opcode: number, ins: In[], outShape: number[] | number[][], r: () => number, o: { options?: Opts; outQ?: [number, number] | [number, number][] } = {}): Int8Case {
  const q = (): [number, number] => [2 ** (r() * 6 - 7), Math.floor(r() * 200) - 100];
  const outs = (typeof outShape[0] === 'number' ? [outShape as number[]] : (outShape as number[][]));
  const oq = o.outQ === undefined ? outs.map(q) : typeof o.outQ[0] === 'number' ? outs.map(() => o.outQ as [number, number]) : (o.outQ as [number, number][]);
  const tensors: OneOpTensor[] = [
    ...ins.map((t) => (t.int ? { shape: t.shape, type: INT32, data: t.data } : { shape: t.shape, type: INT8, q: t.q ?? q(), ...(t.data ? { data: t.data } : {}) })),
    ...outs.map((s, k) => ({ shape: s, type: INT8, q: oq[k] })),
  ];
  const bytes = oneOpTflite({ tensors, opcode, inputs: ins.map((_, k) => k), outputs: outs.map((_, k) => ins.length + k), ...(o.options ? { options: o.options } : {}) });
  const inputs = ins.filter((t) => !t.data).map((t) => ({ data: t.all ? allCodes(r) : codes(t.shape, r), dims: t.shape }));
  return { name, oracle: ORACLE[name] ?? 'both', rule, bytes, inputs };
}

export function codes(shape: number[], r: () => number): Int8Array {
  return Int8Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(r() * 256) - 128);
}
/** The 256 int8 codes, shuffled (Fisher–Yates). */
export function allCodes(r: () => number): Int8Array {
  const a = Int8Array.from({ length: 256 }, (_, i) => i - 128);
  for (let i = 255; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
export const i32 = (v: number[]) => Int32Array.from(v);

/** Options tables (BuiltinOptions union values, schemas/tflite.fbs). */
const OPT = { Sub: 28, Reducer: 27, BatchMatMul: 101, Gelu: 116, LeakyRelu: 75, Transpose: 26, Gather: 23, Pack: 59, Unpack: 64, Split: 35, StridedSlice: 32, Pad: 22, PadV2: 43, SpaceToDepth: 19, DepthToSpace: 94, Concatenation: 10, Div: 29, Reshape: 17, Squeeze: 30, L2Norm: 12, MirrorPad: 77, SplitV: 79 };

/** Every case for one seed: a rule of TFLite's int8 kernels each (see docs/tflite-int8-coverage.md). */
export function int8Cases(seed: number): Int8Case[] {
  const r = rng(seed);
  const x = (shape: number[], q?: [number, number]): In => ({ shape, ...(q ? { q } : {}) });
  /** every code of a pointwise op's input */
  const all = (): In => ({ shape: [2, 128], all: true });
  const same: [number, number] = [2 ** (r() * 6 - 7), Math.floor(r() * 200) - 100];
  const c: Int8Case[] = [];
  const add = (name: string, rule: string, opcode: number, ins: In[], out: number[] | number[][], o: Parameters<typeof int8Case>[6] = {}) => c.push(int8Case(name, rule, opcode, ins, out, r, o));
  add('SUB', 'sub.cc: rescale both to a common scale (left_shift 20), subtract, MultiplyByQuantizedMultiplier', 41, [x([2, 3, 4]), x([4])], [2, 3, 4], { options: { type: OPT.Sub, fields: [] } });
  add('SQUARED_DIFFERENCE', 'squared_difference.cc: (x1 − x2)² after rescale (left_shift 7), requantized', 99, [x([2, 3, 4]), x([1, 4])], [2, 3, 4]);
  add('SQUARED_DIFFERENCE same', 'squared_difference.cc: one scale for both inputs', 99, [x([4, 8], same), x([4, 8], same)], [4, 8]);
  add('RSQRT', 'elementwise.cc RsqrtEvalQuantized', 76, [all()], [2, 128]);
  add('ABS', 'elementwise.cc AbsEvalQuantized: requantize |x − zp|', 101, [all()], [2, 128]);
  add('EXP', 'exp.cc: int8 LUT', 47, [all()], [2, 128]);
  add('LOG', 'elementwise.cc: int8 LUT', 73, [all()], [2, 128]);
  add('GELU', 'gelu.cc: int8 LUT (erf form)', 150, [all()], [2, 128], { options: { type: OPT.Gelu, fields: [[0, 'bool', 0]] } });
  add('GELU tanh', 'gelu.cc: int8 LUT (tanh form)', 150, [all()], [2, 128], { options: { type: OPT.Gelu, fields: [[0, 'bool', 1]] } });
  add('ELU', 'elu (activations.cc): int8 LUT of expm1', 111, [all()], [2, 128]);
  add('LEAKY_RELU', 'leaky_relu: identity / alpha multipliers', 98, [all()], [2, 128], { options: { type: OPT.LeakyRelu, fields: [[0, 'f32', 0.2]] } });
  add('HARD_SWISH', 'activations.cc HardSwish int8 fixed point', 117, [all()], [2, 128]);
  add('PRELU', 'prelu.cc: identity / alpha multipliers', 54, [x([2, 3, 4]), { shape: [4], data: codes([4], r) }], [2, 3, 4]);
  add('PRELU full alpha', 'prelu.cc: alpha of the input shape', 54, [x([1, 4, 4, 3]), { shape: [4, 4, 3], data: codes([48], r) }], [1, 4, 4, 3]);
  add('MAXIMUM', 'maximum_minimum.cc: raw max, shared parameters', 55, [x([2, 3], same), x([3], same)], [2, 3], { outQ: same });
  add('MINIMUM', 'maximum_minimum.cc: raw min, shared parameters', 57, [x([2, 3], same), x([3], same)], [2, 3], { outQ: same });
  add('BATCH_MATMUL', 'batch_matmul.cc: int32 accumulate, requantize', 126, [x([2, 3, 4]), x([2, 4, 5])], [2, 3, 5], { options: { type: OPT.BatchMatMul, fields: [] } });
  add('BATCH_MATMUL adj', 'batch_matmul.cc: adj_x / adj_y transpose, batch dims broadcast', 126, [x([2, 1, 4, 3]), x([3, 5, 4])], [2, 3, 3, 5], { options: { type: OPT.BatchMatMul, fields: [[0, 'bool', 1], [1, 'bool', 1]] } });
  add('BATCH_MATMUL long', 'batch_matmul.cc: K = 64', 126, [x([1, 2, 64]), { shape: [64, 3], data: codes([64, 3], r) }], [1, 2, 3], { options: { type: OPT.BatchMatMul, fields: [] } });
  add('SUM', 'reduce.cc: sum, requantize', 74, [x([2, 3, 4]), { shape: [1], data: i32([1]), int: true }], [2, 4], { options: { type: OPT.Reducer, fields: [[0, 'bool', 0]] } });
  add('SUM keep', 'reduce.cc: sum over two axes, keep_dims', 74, [x([3, 16, 8]), { shape: [2], data: i32([0, -1]), int: true }], [1, 16, 1], { options: { type: OPT.Reducer, fields: [[0, 'bool', 1]] } });
  add('SUM same', 'reduce.cc: equal parameters: the codes summed in int8', 74, [x([4, 6], same), { shape: [1], data: i32([1]), int: true }], [4], { options: { type: OPT.Reducer, fields: [[0, 'bool', 0]] }, outQ: same });
  add('MEAN', 'reduce.cc: mean, requantize', 40, [x([2, 3, 4]), { shape: [1], data: i32([1]), int: true }], [2, 4], { options: { type: OPT.Reducer, fields: [[0, 'bool', 0]] } });
  add('REDUCE_MAX', 'reduce.cc: raw max, shared parameters', 82, [x([2, 3, 4], same), { shape: [1], data: i32([2]), int: true }], [2, 3], { options: { type: OPT.Reducer, fields: [[0, 'bool', 0]] }, outQ: same });
  add('REDUCE_PROD', 'reduce.cc: product with per-step requantize', 81, [x([2, 3, 2]), { shape: [1], data: i32([1]), int: true }], [2, 2], { options: { type: OPT.Reducer, fields: [[0, 'bool', 0]] } });
  add('DIV', 'div.cc (uint8 only in TFLite)', 42, [x([2, 3]), x([2, 3])], [2, 3], { options: { type: OPT.Div, fields: [] } });
  add('NEG', 'neg.cc', 59, [x([2, 3], same)], [2, 3], { outQ: same });
  add('SQUARE', 'square.cc', 92, [x([2, 3])], [2, 3]);
  add('SQRT', 'elementwise.cc', 75, [x([2, 3])], [2, 3]);
  add('LOG_SOFTMAX', 'log_softmax.cc: output scale 16/256, zp 127', 50, [x([2, 6])], [2, 6], { outQ: [16 / 256, 127] });
  add('TRANSPOSE', 'transpose.cc: shared parameters', 39, [x([2, 3, 4], same), { shape: [3], data: i32([2, 0, 1]), int: true }], [4, 2, 3], { outQ: same });
  add('GATHER', 'gather.cc: shared parameters', 36, [x([4, 3], same), { shape: [2], data: i32([3, 1]), int: true }], [2, 3], { options: { type: OPT.Gather, fields: [[0, 'i32', 0]] }, outQ: same });
  add('PACK', 'pack.cc: shared parameters', 83, [x([2, 3], same), x([2, 3], same)], [2, 2, 3], { options: { type: OPT.Pack, fields: [[0, 'i32', 2], [1, 'i32', 1]] }, outQ: same });
  add('UNPACK', 'unpack.cc: shared parameters', 88, [x([2, 3], same)], [[3], [3]], { options: { type: OPT.Unpack, fields: [[0, 'i32', 2], [1, 'i32', 0]] }, outQ: same });
  add('SPLIT', 'split.cc: shared parameters', 49, [{ shape: [], data: i32([1]), int: true }, x([2, 4], same)], [[2, 2], [2, 2]], { options: { type: OPT.Split, fields: [[0, 'i32', 2]] }, outQ: same });
  add('STRIDED_SLICE', 'strided_slice.cc: shared parameters', 45, [x([4, 6], same), { shape: [2], data: i32([1, 0]), int: true }, { shape: [2], data: i32([4, 6]), int: true }, { shape: [2], data: i32([2, 2]), int: true }], [2, 3], { options: { type: OPT.StridedSlice, fields: [] }, outQ: same });
  add('PAD', 'pad.cc: pads with the output zero point', 34, [x([2, 3], same), { shape: [2, 2], data: i32([1, 0, 0, 2]), int: true }], [3, 5], { options: { type: OPT.Pad, fields: [] }, outQ: same });
  add('PADV2', 'pad.cc: pads with the constant value', 60, [x([2, 3], same), { shape: [2, 2], data: i32([0, 1, 2, 0]), int: true }, { shape: [], data: Int8Array.of(7), q: same }], [3, 5], { options: { type: OPT.PadV2, fields: [] }, outQ: same });
  add('SPACE_TO_DEPTH', 'space_to_depth.cc: shared parameters', 26, [x([1, 4, 4, 2], same)], [1, 2, 2, 8], { options: { type: OPT.SpaceToDepth, fields: [[0, 'i32', 2]] }, outQ: same });
  add('DEPTH_TO_SPACE', 'depth_to_space.cc: shared parameters', 5, [x([1, 2, 2, 8], same)], [1, 4, 4, 2], { options: { type: OPT.DepthToSpace, fields: [[0, 'i32', 2]] }, outQ: same });
  add('REDUCE_MIN', 'reduce.cc: raw min, shared parameters', 89, [x([2, 3, 4], same), { shape: [1], data: i32([0]), int: true }], [3, 4], { options: { type: OPT.Reducer, fields: [[0, 'bool', 0]] }, outQ: same });
  add('L2_NORMALIZATION', 'l2norm.cc: int8 output scale 1/128, zp 0', 11, [x([2, 8])], [2, 8], { options: { type: OPT.L2Norm, fields: [] }, outQ: [1 / 128, 0] });
  add('L2_NORMALIZATION wide', 'l2norm.cc: Σ over 200 values (GetInvSqrtQuantizedMultiplierExp normalises large sums)', 11, [x([3, 200])], [3, 200], { options: { type: OPT.L2Norm, fields: [] }, outQ: [1 / 128, 0] });
  add('SLICE', 'slice.cc: shared parameters', 65, [x([3, 5], same), { shape: [2], data: i32([1, 1]), int: true }, { shape: [2], data: i32([2, -1]), int: true }], [2, 4], { outQ: same });
  add('TILE', 'tile.cc: shared parameters', 69, [x([2, 3], same), { shape: [2], data: i32([2, 1]), int: true }], [4, 3], { outQ: same });
  add('SPLIT_V', 'split_v.cc: shared parameters', 102, [x([2, 5], same), { shape: [2], data: i32([2, -1]), int: true }, { shape: [], data: i32([1]), int: true }], [[2, 2], [2, 3]], { options: { type: OPT.SplitV, fields: [[0, 'i32', 2]] }, outQ: same });
  add('MIRROR_PAD', 'mirror_pad.cc: shared parameters', 100, [x([3, 4], same), { shape: [2, 2], data: i32([1, 1, 2, 0]), int: true }], [5, 6], { options: { type: OPT.MirrorPad, fields: [[0, 'i8', 0]] }, outQ: same });
  add('EXPAND_DIMS', 'expand_dims.cc: shared parameters', 70, [x([2, 3], same), { shape: [1], data: i32([-1]), int: true }], [2, 3, 1], { outQ: same });
  add('SQUEEZE', 'squeeze.cc: shared parameters', 43, [x([2, 1, 3], same)], [2, 3], { options: { type: OPT.Squeeze, fields: [] }, outQ: same });
  add('RESHAPE', 'reshape.cc: shared parameters', 22, [x([2, 6], same), { shape: [2], data: i32([3, 4]), int: true }], [3, 4], { outQ: same });
  add('BROADCAST_TO', 'broadcast_to.cc: shared parameters', 130, [x([1, 3], same), { shape: [2], data: i32([4, 3]), int: true }], [4, 3], { outQ: same });
  add('CONCATENATION', 'concatenation.cc: shared parameters', 2, [x([2, 3], same), x([2, 2], same)], [2, 5], { options: { type: OPT.Concatenation, fields: [[0, 'i32', 1]] }, outQ: same });
  add('CONCATENATION requant', 'concatenation.cc: int8 inputs with other parameters', 2, [x([2, 3]), x([2, 2])], [2, 5], { options: { type: OPT.Concatenation, fields: [[0, 'i32', 1]] } });
  return c;
}
