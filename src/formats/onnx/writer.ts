/**
 * Serialize the IR as an ONNX ModelProto with the same protobufjs schema the reader uses.
 * Initializers are raw_data (little-endian); graph inputs/outputs and known intermediate types are
 * written as value_info with symbolic dims as dim_param. Nodes are in the newest ONNX form (the importer
 * upgrades old opsets), so the default-domain opset written is at least `newestFormOpset()`.
 */
import { UnsupportedError } from '../../errors.js';
import type { AttrValue, Graph, Node, ValueType } from '../../ir/graph.js';
import { type AttrType, getOp } from '../../ir/registry.js';
import '../../ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import { newestFormOpset } from './legacy/index.js';
// encode-only static protobufjs code (npm run gen:schemas): apart from the reader's decoders, so an app that only
// loads models does not bundle it
import { onnxEncoders } from './onnx-proto-encode.generated.js';
import { nonOnnxAttr } from '../../ir/layout.js';
import { UNTYPED, bodies, splitCaptured } from '../../ir/subgraph.js';
import { DTYPE_ONNX, packBits } from './tensor-proto.js';
import { packedPerByte } from '../../tensor/dtype.js';

export interface WriteOptions {
  /** producer_name (default: the graph's producer, else 'edgeq') */
  producer?: string;
  /** write value_info for intermediate values whose type is known (default true) */
  valueInfo?: boolean;
  /** store large initializers in an external data file: its bytes are returned in `externalData.data` */
  externalData?: ExternalDataWrite;
}

const enc = new TextEncoder();
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
/** An int64 field value as protobufjs LongBits-like {low, high}, saturating at the int64 range. */
function long(v: number | bigint): { low: number; high: number; unsigned: boolean } {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (!Number.isFinite(v)) b = v > 0 ? INT64_MAX : INT64_MIN;
  else b = BigInt(Math.trunc(v));
  if (b > INT64_MAX) b = INT64_MAX;
  if (b < INT64_MIN) b = INT64_MIN;
  const u = BigInt.asUintN(64, b);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: false };
}

/** Tensor -> TensorProto object (raw_data little-endian; strings as string_data). */
export function tensorProto(t: Tensor, name = ''): Record<string, unknown> {
  const tp: Record<string, unknown> = { dims: t.dims.map((d) => long(d)), data_type: DTYPE_ONNX[t.type] };
  if (name) tp.name = name;
  if (t.type === 'string') {
    tp.string_data = (t.data as string[]).map((s) => enc.encode(s));
    return tp;
  }
  const src = t.typed;
  const per = packedPerByte(t.type);
  if (per) {
    tp.raw_data = packBits(src as Int8Array | Uint8Array, per);
    return tp;
  }
  const raw = new Uint8Array(t.byteLength);
  raw.set(new Uint8Array(src.buffer, src.byteOffset, t.byteLength));
  if (!LITTLE_ENDIAN) {
    const b = DTYPES_BYTES[t.type] ?? 1;
    for (let i = 0; i < raw.length; i += b) raw.subarray(i, i + b).reverse();
  }
  if (t.type === 'bool') for (let i = 0; i < raw.length; i++) raw[i] = raw[i] ? 1 : 0;
  tp.raw_data = raw;
  return tp;
}
const DTYPES_BYTES: Record<string, number> = { float16: 2, bfloat16: 2, uint16: 2, int16: 2, float32: 4, int32: 4, uint32: 4, float64: 8, int64: 8, uint64: 8 };

function typeProto(t: ValueType): Record<string, unknown> {
  const et = DTYPE_ONNX[t.dtype];
  if (et === undefined) throw new UnsupportedError(`cannot write element type ${t.dtype}`);
  const tt: Record<string, unknown> = { elem_type: et };
  if (t.shape)
    tt.shape = {
      dim: t.shape.map((d) => (typeof d === 'number' ? { dim_value: long(d) } : d === '?' || d === '' ? {} : { dim_param: d })),
    };
  return { tensor_type: tt };
}

const valueInfo = (name: string, t: ValueType) => ({ name, type: typeProto(t) });

/** Attributes that are FLOAT(S) in every ONNX op using them (fallback when the op is not registered). */
const FLOAT_ATTRS = new Set([
  'alpha', 'beta', 'gamma', 'epsilon', 'momentum', 'bias', 'lambd', 'ratio', 'spatial_scale', 'scale', 'scales',
  'threshold', 'mean', 'std', 'high', 'low', 'extrapolation_value', 'cubic_coeff_a', 'value_float', 'value_floats',
  'activation_alpha', 'activation_beta', 'clip', 'min', 'max', 'seed',
]);

/** ONNX AttributeType of an IR attribute value, guided by the op definition when one is registered. */
function attrKind(node: Node, name: string, v: AttrValue): AttrType | 'graph' {
  const spec = getOp(node.domain, node.op)?.attrs[name];
  if (v instanceof Tensor) return 'tensor';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') {
    if (spec?.type === 'float' || spec?.type === 'int') return spec.type;
    return FLOAT_ATTRS.has(name) || !Number.isInteger(v) ? 'float' : 'int';
  }
  if (Array.isArray(v)) {
    if (v.some((x) => typeof x === 'string')) return 'strings';
    if (spec?.type === 'floats' || spec?.type === 'ints') return spec.type;
    if (FLOAT_ATTRS.has(name)) return 'floats';
    return (v as number[]).every((x) => Number.isInteger(x)) ? 'ints' : 'floats';
  }
  if (v && typeof v === 'object' && 'nodes' in v) return 'graph';
  throw new UnsupportedError(`node '${node.name}' (${node.op}): attribute '${name}' has a value that cannot be written`);
}

function attrProto(node: Node, name: string, v: AttrValue, opts: WriteOptions): Record<string, unknown> {
  const kind = attrKind(node, name, v);
  switch (kind) {
    case 'float':
      return { name, type: 1, f: v as number };
    case 'int':
      return { name, type: 2, i: long(v as number) };
    case 'string':
      return { name, type: 3, s: enc.encode(v as string) };
    case 'tensor':
      return { name, type: 4, t: tensorProto(v as Tensor) };
    case 'graph':
      return { name, type: 5, g: graphProto(v as Graph, opts) };
    case 'floats':
      return { name, type: 6, floats: [...(v as number[])] };
    case 'ints':
      return { name, type: 7, ints: (v as number[]).map((x) => long(x)) };
    case 'strings':
      return { name, type: 8, strings: (v as string[]).map((s) => enc.encode(s)) };
  }
}

function graphProto(g: Graph, opts: WriteOptions): Record<string, unknown> {
  const io = new Set<string>([...g.inputs.map((i) => i.name), ...g.outputs.map((o) => o.name)]);
  const vi: Record<string, unknown>[] = [];
  if (opts.valueInfo !== false)
    for (const [name, t] of g.types) if (!io.has(name) && !g.initializers.has(name) && t.dtype !== undefined) vi.push(valueInfo(name, t));
  return {
    name: g.name,
    node: g.nodes.map((n) => ({
      name: n.name,
      op_type: n.op,
      domain: n.domain,
      // the captured tail the reader appended (ir/subgraph.ts) is implicit in ONNX: bodies read outer values by name
      input: bodies(n).length ? n.inputs.slice(0, splitCaptured(n).own) : [...n.inputs],
      output: [...n.outputs],
      attribute: Object.entries(n.attrs).map(([k, v]) => attrProto(n, k, v, opts)),
    })),
    initializer: [...g.initializers].map(([name, t]) => tensorProto(t, name)),
    input: g.inputs.map((i) => (UNTYPED.has(i) ? { name: i.name } : valueInfo(i.name, i.type))),
    output: g.outputs.map((o) => (UNTYPED.has(o) && !g.types.has(o.name) ? { name: o.name } : valueInfo(o.name, g.types.get(o.name) ?? o.type))),
    value_info: vi,
  };
}

/** Whether any initializer, typed value or graph input/output (subgraphs included) is int4/uint4. */
function uses4Bit(g: Graph): boolean {
  const is4 = (d: string | undefined) => d === 'int4' || d === 'uint4';
  for (const t of g.initializers.values()) if (is4(t.type)) return true;
  for (const t of g.types.values()) if (is4(t.dtype)) return true;
  for (const v of [...g.inputs, ...g.outputs]) if (is4(v.type.dtype)) return true;
  for (const n of g.nodes)
    for (const v of Object.values(n.attrs)) {
      if (v instanceof Tensor && is4(v.type)) return true;
      if (v && typeof v === 'object' && 'nodes' in v && uses4Bit(v as Graph)) return true;
    }
  return false;
}

/** Encode `graph` as ONNX ModelProto bytes (readable by readOnnx and onnxruntime). */
export function writeOnnx(graph: Graph, opts: WriteOptions = {}): Uint8Array {
  // TFLite imports use edgeq's own NHWC ops (domain ai.edgeq.tflite) that no ONNX runtime knows: refuse
  // rather than write a file onnxruntime would reject
  const foreign = graph.nodes.find((n) => n.domain === 'ai.edgeq.tflite');
  if (foreign) throw new UnsupportedError(`cannot write ONNX: node '${foreign.name}' is a TFLite op (${foreign.op}, NHWC layout); exporting TFLite graphs to ONNX is not supported yet`);
  // data_layout / weight_layout are edgeq extensions ONNX does not have: only their defaults (ONNX's layouts) can be written
  for (const n of graph.nodes) {
    const lay = nonOnnxAttr(n.attrs);
    if (lay) throw new UnsupportedError(`cannot write ONNX: node '${n.name}' (${n.op}) uses ${lay}, which ONNX cannot express; exporting TFLite graphs to ONNX is not supported yet`);
  }
  const opsets = { ...graph.opsets };
  const domains = new Set(graph.nodes.map((n) => n.domain));
  for (const d of domains) opsets[d] = Math.max(opsets[d] ?? 1, newestFormOpset(d));
  opsets[''] = Math.max(opsets[''] ?? 1, newestFormOpset(''));
  // INT4/UINT4 exist from IR version 10 (ONNX 1.16, opset 21) on: readers reject them in older IR versions
  const irMin = uses4Bit(graph) ? 10 : 3;
  const model = {
    ir_version: long(Math.max(graph.irVersion || 8, irMin)),
    producer_name: opts.producer ?? (graph.producer || 'edgeq'),
    opset_import: Object.entries(opsets).map(([domain, version]) => ({ domain, version: long(version) })),
    metadata_props: Object.entries(graph.metadata).map(([key, value]) => ({ key, value })),
    graph: graphProto(graph, opts),
  };
  if (opts.externalData) moveExternal(model.graph, opts.externalData);
  // plain objects in the schema's own types (int64 as {low, high}, bytes as Uint8Array, enums as numbers): the static
  // encoder writes them as they are
  return (onnxEncoders().ModelProto as { encode(m: object): { finish(): Uint8Array } }).encode(model).finish();
}

export interface ExternalDataWrite {
  /** file name written into the model, relative to it (e.g. 'model.onnx.data') */
  location: string;
  /** initializers with at least this many bytes go external (default 1024) */
  minBytes?: number;
  /** filled by writeOnnx: the bytes of the external data file */
  data?: Uint8Array;
}

/** Move large top-level initializers' raw_data into one external blob (64-byte aligned offsets, as onnx does). */
function moveExternal(gp: Record<string, unknown>, ed: ExternalDataWrite): void {
  const min = ed.minBytes ?? 1024;
  const parts: [Uint8Array, number][] = [];
  let size = 0;
  for (const tp of (gp.initializer as Record<string, unknown>[]) ?? []) {
    const raw = tp.raw_data as Uint8Array | undefined;
    if (!raw || raw.length < min) continue;
    const offset = Math.ceil(size / 64) * 64;
    parts.push([raw, offset]);
    size = offset + raw.length;
    delete tp.raw_data;
    tp.data_location = 1;
    tp.external_data = [
      { key: 'location', value: ed.location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
  }
  const data = new Uint8Array(size);
  for (const [raw, off] of parts) data.set(raw, off);
  ed.data = data;
}
