import { EdgeqError, InputError, ModelFormatError, UnsupportedError } from '../../errors.js';
import { type AttrValue, type Dim, Graph, type GraphIO, type Node, type ValueType } from '../../ir/graph.js';
import type { DType } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
// static protobufjs code (npm run gen:schemas): decode without runtime code generation (encode: writer.ts's own module)
import { onnx } from './onnx-proto.generated.js';
import { type ExternalDataEntries, type ExternalDataSource, ONNX_DTYPE, decodeTensor, entriesSource, int, withExternalData, withOwnedBytes } from './tensor-proto.js';
import { upgradeNode } from './legacy/index.js';
import { MAX_BODY_DEPTH, UNTYPED, capturedBy } from '../../ir/subgraph.js';

/** The onnx.proto messages as static protobufjs decoders (`onnx.ModelProto.decode(bytes)`). */
export const onnxProto = onnx as {
  ModelProto: ProtoMessage;
  TensorProto: ProtoMessage;
  SequenceProto: ProtoMessage;
};
interface ProtoMessage {
  decode(bytes: Uint8Array): any;
}

/** Limits that keep hostile files from causing huge work before any data is read. */
const MAX_NODES = 1_000_000;

/**
 * Decode an ONNX ModelProto into the IR. Every length, dim and reference is validated; problems are
 * ModelFormatError / UnsupportedError naming the tensor or node.
 */
export interface ReadOnnxOptions {
  /** bytes of the external data files (`[{ path, data }]`, onnxruntime-web's form) or a resolver (Node: the model's folder) */
  externalData?: ExternalDataEntries | ExternalDataSource;
  /** the bytes are handed over (nobody else reads or writes them, e.g. a decrypted sealed model): aligned raw_data is aliased, not copied */
  owned?: boolean;
  /** with `owned`: the bytes are a sealed model's skeleton, these its weights (formats/sealed-scatter.ts) */
  prefilled?: Map<number, Uint8Array>;
}

export function readOnnx(bytes: Uint8Array, opts: ReadOnnxOptions = {}): Graph {
  const ed = opts.externalData;
  const src = ed === undefined ? undefined : Array.isArray(ed) ? entriesSource(ed) : (ed as ExternalDataSource);
  if (src && typeof src.file !== 'function') throw new InputError('externalData must be [{ path, data }] or { file(location) }');
  return withExternalData(src, () => withOwnedBytes(opts.owned ? bytes.buffer : undefined, () => readOnnxBytes(bytes), opts.owned ? opts.prefilled : undefined));
}

function readOnnxBytes(bytes: Uint8Array): Graph {
  let m: any;
  try {
    m = onnxProto.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(`not a valid ONNX protobuf: ${(e as Error).message}`);
  }
  try {
    return fromModel(m);
  } catch (e) {
    if (e instanceof EdgeqError) throw e;
    throw new ModelFormatError(`malformed ONNX model: ${(e as Error).message}`);
  }
}

function fromModel(m: any): Graph {
  if (!m.graph) throw new ModelFormatError('ONNX model has no graph');
  const g = new Graph();
  g.source = 'onnx';
  g.irVersion = int(m.ir_version, 'ir_version');
  g.producer = m.producer_name ?? '';
  g.opsets = {};
  for (const o of m.opset_import ?? []) {
    const dom = o.domain === 'ai.onnx' ? '' : (o.domain ?? '');
    g.opsets[dom] = int(o.version, 'opset version');
  }
  if (!('' in g.opsets)) g.opsets[''] = 1; // IR < 3 had no opset_import: opset 1 semantics
  for (const p of m.metadata_props ?? []) g.metadata[p.key] = p.value;
  if ((m.functions ?? []).length) throw new UnsupportedError(`model-local functions are not supported (${m.functions.map((f: any) => f.name).join(', ')})`);
  readGraph(m.graph, g, 0);
  return g;
}

/** `depth` > 0: a control-flow body, whose inputs/outputs may be untyped and which may read outer values. */
function readGraph(gp: any, g: Graph, depth: number): void {
  g.name = gp.name || 'graph';
  if ((gp.sparse_initializer ?? []).length)
    throw new UnsupportedError(`sparse initializers are not supported (tensor '${gp.sparse_initializer[0].values?.name ?? '?'}')`);
  for (const tp of gp.initializer ?? []) {
    const name = tp.name ?? '';
    if (!name) throw new ModelFormatError('initializer without a name');
    if (g.initializers.has(name)) throw new ModelFormatError(`initializer '${name}' is defined twice`);
    g.initializers.set(name, decodeTensor(tp, `initializer '${name}'`));
  }
  for (const vi of gp.input ?? []) {
    if (g.initializers.has(vi.name)) continue; // initializer-backed inputs are constants (IR ≥ 4 semantics)
    g.inputs.push(readIO(vi, depth ? `body '${g.name}' input` : 'graph input', depth > 0));
  }
  for (const vi of gp.output ?? []) g.outputs.push(readIO(vi, depth ? `body '${g.name}' output` : 'graph output', depth > 0));
  for (const vi of gp.value_info ?? []) {
    const t = readType(vi.type, `value_info '${vi.name}'`);
    if (t) g.types.set(vi.name, t);
  }
  const nodes = gp.node ?? [];
  if (nodes.length > MAX_NODES) throw new ModelFormatError(`graph has ${nodes.length} nodes (limit ${MAX_NODES})`);
  const names = new Set<string>();
  nodes.forEach((np: any, i: number) => {
    let name = np.name || `${np.op_type || 'node'}_${i}`;
    while (names.has(name)) name = `${name}_${i}`;
    names.add(name);
    if (!np.op_type) throw new ModelFormatError(`node ${i} ('${name}') has no op_type`);
    const domain = np.domain === 'ai.onnx' ? '' : (np.domain ?? '');
    const attrs: Record<string, AttrValue> = {};
    for (const ap of np.attribute ?? []) attrs[ap.name] = readAttr(ap, `node '${name}' (${np.op_type}) attribute '${ap.name}'`, g, depth);
    const node: Node = { name, op: np.op_type, domain, inputs: [...(np.input ?? [])], outputs: [...(np.output ?? [])], attrs };
    // values the node's bodies read from enclosing graphs become explicit inputs (see ir/subgraph.ts)
    node.inputs.push(...capturedBy(node));
    const opset = g.opsets[domain];
    if (opset === undefined && domain !== '') throw new ModelFormatError(`node '${name}' uses domain '${domain}' which the model does not import`);
    for (const n of upgradeNode(node, opset ?? g.opsets['']!, g)) g.nodes.push(n);
  });
}

function readIO(vi: any, what: string, body = false): GraphIO {
  if (!vi.name) throw new ModelFormatError(`${what} without a name`);
  if (body && !vi.type?.tensor_type && !vi.type?.sequence_type && !vi.type?.optional_type && !vi.type?.map_type) {
    // bodies may leave types to inference: typed from the values bound at run time (ir/subgraph.ts bindBody)
    const io: GraphIO = { name: vi.name, type: { dtype: 'float32' } };
    UNTYPED.add(io);
    return io;
  }
  const t = readType(vi.type, `${what} '${vi.name}'`);
  if (!t) throw new UnsupportedError(`${what} '${vi.name}' is not a tensor or a sequence of tensors (map/optional types are not supported)`);
  return { name: vi.name, type: t };
}

function readType(tp: any, what: string): ValueType | undefined {
  if (tp?.sequence_type) {
    // sequence of tensors: the element type/shape, marked as a sequence
    const el = tp.sequence_type.elem_type ? readType(tp.sequence_type.elem_type, `${what} (sequence element)`) : undefined;
    if (!el || el.sequence) throw new UnsupportedError(`${what}: only sequences of tensors are supported`);
    return { ...el, sequence: true };
  }
  if (!tp?.tensor_type) return undefined;
  const et = tp.tensor_type.elem_type ?? 0;
  const dtype = ONNX_DTYPE[et];
  if (!dtype) throw new UnsupportedError(`${what}: element type ${et} is not supported`);
  const sp = tp.tensor_type.shape;
  if (!sp) return { dtype };
  const shape: Dim[] = (sp.dim ?? []).map((d: any, k: number) => {
    if (d.dim_value !== undefined && d.dim_value !== null && d.value === 'dim_value') {
      const v = int(d.dim_value, `${what} dim ${k}`);
      if (v < 0) throw new ModelFormatError(`${what}: negative dimension ${v}`);
      return v;
    }
    if (d.dim_param) return String(d.dim_param);
    return '?';
  });
  return { dtype, shape };
}

const utf8 = new TextDecoder();

function readAttr(ap: any, what: string, outer: Graph, depth: number): AttrValue {
  let type: number = ap.type ?? 0;
  if (type === 0) {
    // pre-IR-v3 attributes carry no type: infer from the field that is set
    if (ap.floats?.length) type = 6;
    else if (ap.ints?.length) type = 7;
    else if (ap.strings?.length) type = 8;
    else if (ap.t) type = 4;
    else if (ap.g) type = 5;
    else if (ap.s?.length) type = 3;
    else if (Object.prototype.hasOwnProperty.call(ap, 'i')) type = 2;
    else if (Object.prototype.hasOwnProperty.call(ap, 'f')) type = 1;
    else type = 7; // empty list
  }
  switch (type) {
    case 1:
      return ap.f ?? 0;
    case 2:
      return int(ap.i ?? 0, what, true);
    case 3:
      return utf8.decode(ap.s ?? new Uint8Array());
    case 4:
      if (!ap.t) throw new ModelFormatError(`${what}: TENSOR attribute without a tensor`);
      return decodeTensor(ap.t, what);
    case 6:
      return [...(ap.floats ?? [])];
    case 7:
      return (ap.ints ?? []).map((v: unknown) => int(v, what, true));
    case 8:
      return (ap.strings ?? []).map((s: Uint8Array) => utf8.decode(s));
    case 5: {
      if (!ap.g) throw new ModelFormatError(`${what}: GRAPH attribute without a graph`);
      if (depth + 1 > MAX_BODY_DEPTH) throw new ModelFormatError(`${what}: bodies nested deeper than ${MAX_BODY_DEPTH}`);
      const b = new Graph();
      b.source = outer.source;
      b.opsets = outer.opsets;
      b.irVersion = outer.irVersion;
      readGraph(ap.g, b, depth + 1);
      return b;
    }
    case 10:
      throw new UnsupportedError(`${what}: lists of graphs (GRAPHS attributes) are not supported`);
    case 11:
    case 12:
      throw new UnsupportedError(`${what}: sparse tensor attributes are not supported`);
    default:
      throw new UnsupportedError(`${what}: attribute type ${type} is not supported`);
  }
}

export type { DType, Tensor };
