import { ModelFormatError, UnsupportedError } from '../../errors.js';
import { FbBuffer, type Table } from './flatbuf.js';
import { BUILTIN_OPERATOR_NAMES, TFLITE_ENUMS } from './generated/tflite-schema.js';

/** Plain, validated view of a .tflite flatbuffer, before conversion to the IR. */
export interface TflTensor {
  index: number;
  name: string;
  shape: number[];
  /** TensorType enum value */
  type: number;
  buffer: number;
  scale?: number[];
  zeroPoint?: bigint[];
  quantizedDimension: number;
  isVariable: boolean;
  /** shape_signature when it has dynamic (-1) dims: same rank as `shape`, -1 where `shape` is a placeholder */
  signature?: number[];
  /** SparsityParameters (the buffer holds only the stored values; reader.ts densifies it) */
  sparsity?: TflSparsity;
}

/** A TFLite sparse tensor's format (schema.fbs SparsityParameters), index vectors widened to Int32Array. */
export interface TflSparsity {
  traversalOrder: number[];
  blockMap: number[];
  /** one entry per level of traversalOrder: DENSE (dense size) or SPARSE_CSR (segments + indices) */
  dims: ({ format: 'DENSE'; denseSize: number } | { format: 'SPARSE_CSR'; segments: Int32Array; indices: Int32Array })[];
}

export interface TflOperator {
  index: number;
  opcode: number;
  opName: string;
  version: number;
  customCode?: string;
  inputs: number[];
  outputs: number[];
  intermediates: number[];
  optionsType: number;
  options?: Table<any>;
  /** custom_options bytes (zero-copy view of the file) for CUSTOM ops */
  customOptions?: Uint8Array;
}

export interface TflModel {
  version: number;
  description: string;
  tensors: TflTensor[];
  inputs: number[];
  outputs: number[];
  operators: TflOperator[];
  /** buffer index → data (zero-copy subarray of the file) */
  buffers: Uint8Array[];
  subgraphName: string;
  numSubgraphs: number;
  /** every subgraph (subgraph 0 is also spread above); control flow / CALL_ONCE name them by index */
  subgraphs: TflSubgraph[];
}

export interface TflSubgraph {
  tensors: TflTensor[];
  inputs: number[];
  outputs: number[];
  operators: TflOperator[];
  name: string;
}

const MAX_ITEMS = 10_000_000;
/** zero-point ranges of the 8- and 16-bit quantized tensor types (TensorType codes UINT8 3, INT16 7, INT8 9) */
const ZP_RANGE: Record<number, [bigint, bigint]> = { 3: [0n, 255n], 7: [-32768n, 32767n], 9: [-128n, 127n] };
/** TensorType codes of float tensors (FLOAT32 0, FLOAT16 1, FLOAT64 10): their quantization is unused */
const FLOAT_TYPES = new Set([0, 1, 10]);

/**
 * real = scale · (q − zero_point): a scale that is not finite and positive, or a zero point the type cannot hold, is a
 * stranger's number that turns every value it touches into NaN / ±Inf or wraps, so the file is refused by name.
 */
function checkQuant(scale: number[], zp: bigint[], type: number, what: string): void {
  if (FLOAT_TYPES.has(type)) return;
  const s = scale.findIndex((v) => !(v > 0 && v < Infinity));
  if (s >= 0) throw new ModelFormatError(`${what}: quantization scale[${s}] = ${scale[s]} (expected a finite positive number)`);
  const r = ZP_RANGE[type];
  const z = r ? zp.findIndex((v) => v < r[0] || v > r[1]) : -1;
  if (z >= 0) throw new ModelFormatError(`${what}: zero_point[${z}] = ${zp[z]} outside [${r![0]}, ${r![1]}] for its type`);
}

export function parseTflite(bytes: Uint8Array): TflModel {
  if (bytes.length < 8) throw new ModelFormatError(`TFLite file is ${bytes.length} bytes, too short for a flatbuffer`);
  const buf = new FbBuffer(bytes);
  const m = buf.root('Model');
  const version = m.int('version', 'u32');
  if (version !== 3) throw new UnsupportedError(`TFLite schema version ${version} is not supported (expected 3)`);
  // buffers
  const bufs = m.tables('buffers', 'Buffer', (i) => `buffer ${i}`);
  if (bufs.length > MAX_ITEMS) throw new ModelFormatError(`model has ${bufs.length} buffers`);
  const buffers: Uint8Array[] = [];
  for (let i = 0; i < bufs.length; i++) {
    const b = bufs.at(i);
    const off = b.u64('offset');
    const size = b.u64('size');
    if (off > 1n) {
      // schema 3c: data outside the flatbuffer, offset from the start of the file
      if (off + size > BigInt(bytes.length)) throw new ModelFormatError(`buffer ${i}: offset ${off} + size ${size} is past the end of the ${bytes.length}-byte file`);
      buffers.push(bytes.subarray(Number(off), Number(off + size)));
    } else buffers.push(b.bytes('data') ?? new Uint8Array(0));
  }
  // operator codes
  const codes = m.tables('operator_codes', 'OperatorCode', (i) => `operator_code ${i}`);
  const opcodes: { code: number; version: number; custom?: string }[] = [];
  for (let i = 0; i < codes.length; i++) {
    const c = codes.at(i);
    const dep = c.int('deprecated_builtin_code', 'i8');
    const nu = c.int('builtin_code', 'i32');
    // schema 3a: "builtin_code" is authoritative; old files only set deprecated_builtin_code (< 127).
    const code = Math.max(dep, nu);
    const custom = c.string('custom_code');
    opcodes.push({ code, version: c.int('version', 'i32', 1), ...(custom !== undefined ? { custom } : {}) });
  }
  const sgs = m.tables('subgraphs', 'SubGraph', (i) => `subgraph ${i}`);
  if (sgs.length === 0) throw new ModelFormatError('TFLite model has no subgraphs');
  const subgraphs: TflSubgraph[] = [];
  for (let k = 0; k < sgs.length; k++) subgraphs.push(parseSubgraph(sgs.at(k), k, buffers, opcodes));
  const { tensors, inputs, outputs, operators, name } = subgraphs[0]!;
  return { version, description: m.string('description') ?? '', tensors, inputs, outputs, operators, buffers, subgraphName: name, numSubgraphs: sgs.length, subgraphs };
}

/** One subgraph's tensors and operators, validated against the model's buffers and operator codes. */
function parseSubgraph(sg: Table<'SubGraph'>, k: number, buffers: Uint8Array[], opcodes: { code: number; version: number; custom?: string }[]): TflSubgraph {
  const tt = sg.tables('tensors', 'Tensor', (i) => `tensor ${i}`);
  if (tt.length > MAX_ITEMS) throw new ModelFormatError(`subgraph ${k} has ${tt.length} tensors`);
  const tensors: TflTensor[] = [];
  for (let i = 0; i < tt.length; i++) {
    const t = tt.at(i);
    const name = t.string('name') ?? `tensor_${i}`;
    const what = `${k ? `subgraph ${k} ` : ''}tensor ${i} ('${name}')`;
    const shape = t.ints('shape') ?? [];
    for (const d of shape) if (d < 0) throw new ModelFormatError(`${what}: negative dimension ${d} in shape [${shape.join(',')}]`);
    const type = t.int('type', 'i8');
    const buffer = t.int('buffer', 'u32');
    if (buffer >= buffers.length && buffer !== 0) throw new ModelFormatError(`${what}: buffer index ${buffer} past the end (${buffers.length} buffers)`);
    const tensor: TflTensor = { index: i, name, shape, type, buffer, quantizedDimension: 0, isVariable: t.bool('is_variable') };
    // shape_signature: the converter's shape with -1 for dims fixed only when the input is resized (TFLite's
    // ResizeInputTensor); `shape` then holds a placeholder (often 1)
    const sig = t.ints('shape_signature');
    if (sig && sig.some((d) => d === -1)) {
      if (sig.length !== shape.length || sig.some((d, k) => d !== -1 && d !== shape[k])) throw new ModelFormatError(`${what}: shape_signature [${sig.join(',')}] does not fit shape [${shape.join(',')}]`);
      tensor.signature = sig;
    }
    const sp = t.table('sparsity', 'SparsityParameters', `${what} sparsity`);
    if (sp) tensor.sparsity = readSparsity(sp, what);
    const q = t.table('quantization', 'QuantizationParameters', `${what} quantization`);
    if (q) {
      if (q.int('details_type', 'u8')) throw new UnsupportedError(`${what}: custom quantization is not supported`);
      const scale = q.floats('scale');
      const zp = q.longs('zero_point');
      if (scale && scale.length) {
        tensor.scale = scale;
        tensor.zeroPoint = zp && zp.length ? zp : scale.map(() => 0n);
        if (tensor.zeroPoint.length !== scale.length) throw new ModelFormatError(`${what}: ${scale.length} scales but ${tensor.zeroPoint.length} zero points`);
        checkQuant(scale, tensor.zeroPoint, type, what);
        tensor.quantizedDimension = q.int('quantized_dimension', 'i32');
        // TFLite converters write the weight's quantized_dimension on 1-D biases too; the only axis there is 0
        if (shape.length === 1 && shape[0] === scale.length) tensor.quantizedDimension = 0;
        if (scale.length > 1 && (tensor.quantizedDimension < 0 || tensor.quantizedDimension >= shape.length || shape[tensor.quantizedDimension] !== scale.length))
          throw new ModelFormatError(`${what}: ${scale.length} per-channel scales do not match dimension ${tensor.quantizedDimension} of shape [${shape.join(',')}]`);
      }
    }
    tensors.push(tensor);
  }
  const checkIdx = (list: number[], what: string, allowNeg: boolean): number[] => {
    for (const x of list) if (x >= tensors.length || x < (allowNeg ? -1 : 0)) throw new ModelFormatError(`${what}: tensor index ${x} out of range (${tensors.length} tensors)`);
    return list;
  };
  const inputs = checkIdx(sg.ints('inputs') ?? [], `subgraph ${k} inputs`, false);
  const outputs = checkIdx(sg.ints('outputs') ?? [], `subgraph ${k} outputs`, false);
  const ops = sg.tables('operators', 'Operator', (i) => `subgraph ${k} operator ${i}`);
  if (ops.length > MAX_ITEMS) throw new ModelFormatError(`subgraph ${k} has ${ops.length} operators`);
  const operators: TflOperator[] = [];
  for (let i = 0; i < ops.length; i++) {
    const o = ops.at(i);
    const oi = o.int('opcode_index', 'u32');
    if (oi >= opcodes.length) throw new ModelFormatError(`subgraph ${k} operator ${i}: opcode_index ${oi} past the end (${opcodes.length} operator codes)`);
    const oc = opcodes[oi]!;
    const opName = BUILTIN_OPERATOR_NAMES[oc.code] ?? `BUILTIN_${oc.code}`;
    const what = `subgraph ${k} operator ${i} (${opName})`;
    const op: TflOperator = {
      index: i,
      opcode: oc.code,
      opName,
      version: oc.version,
      ...(oc.custom !== undefined ? { customCode: oc.custom } : {}),
      inputs: checkIdx(o.ints('inputs') ?? [], `${what} inputs`, true),
      outputs: checkIdx(o.ints('outputs') ?? [], `${what} outputs`, false),
      intermediates: checkIdx(o.ints('intermediates') ?? [], `${what} intermediates`, true),
      optionsType: o.int('builtin_options_type', 'u8'),
    };
    if (op.optionsType) op.options = o.table('builtin_options', 'Conv2DOptions' as any, `${what} options`);
    const co = o.bytes('custom_options');
    if (co) op.customOptions = co;
    operators.push(op);
  }
  return { tensors, inputs, outputs, operators, name: sg.string('name') ?? '' };
}


/** SparseIndexVector union member → its values (validated to lie in the buffer), widened to Int32Array. */
function indexVector(dm: Table<'DimensionMetadata'>, field: 'array_segments' | 'array_indices', what: string): Int32Array {
  const kind = dm.int(`${field}_type`, 'u8');
  const member = (['', 'Int32Vector', 'Uint16Vector', 'Uint8Vector'] as const)[kind];
  const t = member ? dm.table(field, member, `${what}.${field}`) : undefined;
  if (!member || !t) throw new ModelFormatError(`${what}: SPARSE_CSR dimension without ${field} (union type ${kind})`);
  const size = member === 'Int32Vector' ? 4 : member === 'Uint16Vector' ? 2 : 1;
  const v = (t as Table<'Int32Vector'>).vector('values', size);
  if (!v) throw new ModelFormatError(`${what}: ${field} has no values`);
  if (v.length > MAX_ITEMS) throw new ModelFormatError(`${what}: ${field} has ${v.length} values`);
  const out = new Int32Array(v.length);
  const view = t.buf.view;
  for (let i = 0; i < v.length; i++) out[i] = size === 4 ? view.getInt32(v.start + 4 * i, true) : size === 2 ? view.getUint16(v.start + 2 * i, true) : view.getUint8(v.start + i);
  return out;
}

function readSparsity(sp: Table<'SparsityParameters'>, what: string): TflSparsity {
  const traversalOrder = sp.ints('traversal_order') ?? [];
  const blockMap = sp.ints('block_map') ?? [];
  const dm = sp.tables('dim_metadata', 'DimensionMetadata', (i) => `${what} sparsity dim_metadata ${i}`);
  if (dm.length !== traversalOrder.length) throw new ModelFormatError(`${what}: sparsity has ${dm.length} dim_metadata for ${traversalOrder.length} traversal levels`);
  const dims: TflSparsity['dims'] = [];
  for (let i = 0; i < dm.length; i++) {
    const d = dm.at(i);
    const w = `${what} sparsity dim_metadata ${i}`;
    const f = d.int('format', 'i8');
    if (f === 0) dims.push({ format: 'DENSE', denseSize: d.int('dense_size', 'i32') });
    else if (f === 1) dims.push({ format: 'SPARSE_CSR', segments: indexVector(d, 'array_segments', w), indices: indexVector(d, 'array_indices', w) });
    else throw new ModelFormatError(`${w}: unknown DimensionType ${f}`);
  }
  return { traversalOrder, blockMap, dims };
}

export const TensorTypeEnum = TFLITE_ENUMS.TensorType;
