// Structure-aware mutation of model files for the fuzzers (test/fuzz/structured.test.ts, scripts/fuzz-models.ts).
// Byte flips mostly break the protobuf / flatbuffer framing and stop at the parser; these mutate *fields* of a decoded
// model — dims, dtype codes, attribute values, index fields, quantization arrays — and re-encode, so the case reaches
// the semantic validation (shape rules, index checks, allocation sizes) where traps and giant allocations hide.
import { EdgeqError } from '../../src/errors.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { DType } from '../../src/tensor/dtype.js';
import type { ValueType } from '../../src/ir/graph.js';
import { TFLITE_FIELDS } from '../../src/formats/tflite/generated/tflite-schema.js';
import { getOp } from '../../src/ir/registry.js';
import '../../src/ops/index.js';
import { mulberry32 } from '../../src/ops/nn-misc.js';
import { onnxRoot } from './onnx-reflect.js';

export type Rand = () => number;

/** mulberry32 (the seeded training-mode Dropout's PRNG): every case is reproducible from (seed, case index). */
export const prng: (seed: number) => Rand = mulberry32;
const pick = <T>(r: Rand, a: readonly T[]): T => a[Math.floor(r() * a.length)]!;

/** Integers at the edges: zero, negatives, int32/uint32/int64 limits, element-count overflow, small off-by-ones. */
const EDGE_INTS: bigint[] = [0n, -1n, -2n, 1n, 2n, 3n, 7n, 64n, 65536n, 1n << 20n, 2n ** 31n - 1n, 2n ** 31n, -(2n ** 31n), 2n ** 32n + 1n, 2n ** 40n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)];
const EDGE_FLOATS = [0, -0, -1, 1, 0.5, NaN, Infinity, -Infinity, 1e30, -1e30, 1e-40, 3.4e38, 65536];

function edgeInt(r: Rand, v: bigint): bigint {
  const c = r();
  const n = c < 0.65 ? pick(r, EDGE_INTS) : c < 0.85 ? v + pick(r, [-1n, 1n, -2n, 2n]) : c < 0.93 ? -v : v * 1000n;
  return BigInt.asIntN(64, n);
}
const i32 = (v: bigint) => Number(BigInt.asIntN(32, v));

// ───────────────────────────────────────── ONNX ─────────────────────────────────────────

const ModelProto = () => onnxRoot().lookupType('onnx.ModelProto');
/** attribute names whose bad values the shape rules must refuse (added to nodes that lack them) */
const ATTR_NAMES = ['axis', 'axes', 'strides', 'pads', 'kernel_shape', 'dilations', 'group', 'perm', 'k', 'keepdims', 'blocksize', 'output_padding', 'output_shape', 'num_outputs', 'split', 'batch_dims', 'to', 'size', 'count_include_pad', 'ceil_mode'];
const STRINGS = ['', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID', 'linear', 'nearest', 'cubic', 'DCR', 'CRD', 'constant', 'reflect', 'edge', 'bogus'];
const ONNX_DTYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 21, 22, 23, 99];
const ELEM_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

type Obj = Record<string, any>;
/** `apply` returns the new value (shown in the report) where it is one expression */
type Site = { what: string; apply: () => unknown; weight?: number };
const show = (v: unknown): string => (v === undefined || typeof v === 'object' ? '' : ` = ${String(v).slice(0, 40)}`);

/** Value sites (attribute values, initializer data, feeds' shapes) weigh more than framing-ish ones (types, removal). */
function pickWeighted(r: Rand, sites: Site[]): Site {
  let total = 0;
  for (const s of sites) total += s.weight ?? 1;
  let x = r() * total;
  for (const s of sites) if ((x -= s.weight ?? 1) < 0) return s;
  return sites[sites.length - 1]!;
}

function intListSites(sites: Site[], r: Rand, holder: Obj, key: string, what: string, asInt32 = false, weight = 1): void {
  const list: unknown[] = holder[key] ?? [];
  list.forEach((v, i) =>
    sites.push({
      weight,
      what: `${what}[${i}]`,
      apply: () => {
        const n = edgeInt(r, BigInt(v as string | number));
        return (list[i] = asInt32 ? i32(n) : n.toString());
      },
    }),
  );
  sites.push({ what: `${what} length`, apply: () => (r() < 0.5 && list.length ? list.pop() : list.push(asInt32 ? i32(pick(r, EDGE_INTS)) : pick(r, EDGE_INTS).toString()), (holder[key] = list)) });
}

function floatListSites(sites: Site[], r: Rand, list: number[] | undefined, what: string, weight = 1): void {
  (list ?? []).forEach((_, i) => sites.push({ weight, what: `${what}[${i}]`, apply: () => (list![i] = pick(r, EDGE_FLOATS)) }));
}

/** raw_data: overwrite one element with an edge value of its type, or cut the bytes short. */
function rawSites(sites: Site[], r: Rand, t: Obj, what: string): void {
  const raw: Uint8Array | undefined = t.raw_data;
  if (!raw?.length) return;
  const size = ELEM_BYTES[t.data_type as number] ?? 1;
  const n = Math.floor(raw.length / size);
  sites.push({
    weight: 3,
    what: `${what}.raw_data element`,
    apply: () => {
      const b = (t.raw_data = Uint8Array.from(raw));
      const dv = new DataView(b.buffer);
      const at = Math.floor(r() * n) * size;
      if (t.data_type === 1) dv.setFloat32(at, pick(r, EDGE_FLOATS), true);
      else if (size === 8) dv.setBigInt64(at, edgeInt(r, dv.getBigInt64(at, true)), true);
      else if (size === 4) dv.setInt32(at, i32(edgeInt(r, BigInt(dv.getInt32(at, true)))), true);
      else if (size === 2) dv.setInt16(at, Number(BigInt.asIntN(16, edgeInt(r, 0n))), true);
      else b[at] = Math.floor(r() * 256);
    },
  });
  sites.push({ what: `${what}.raw_data truncated`, apply: () => (t.raw_data = raw.subarray(0, Math.floor(r() * raw.length))) });
}

function tensorSites(sites: Site[], r: Rand, t: Obj, what: string): void {
  intListSites(sites, r, t, 'dims', `${what}.dims`);
  sites.push({ what: `${what}.data_type`, apply: () => (t.data_type = pick(r, ONNX_DTYPES)) });
  intListSites(sites, r, t, 'int64_data', `${what}.int64_data`, false, 3);
  if (t.int32_data?.length) intListSites(sites, r, t, 'int32_data', `${what}.int32_data`, true, 3);
  floatListSites(sites, r, t.float_data, `${what}.float_data`);
  rawSites(sites, r, t, what);
}

function graphSites(sites: Site[], r: Rand, g: Obj, names: string[]): void {
  const gname = g.name ?? 'graph';
  for (const t of g.initializer ?? []) tensorSites(sites, r, t, `${gname}/init '${t.name}'`);
  for (const vi of [...(g.input ?? []), ...(g.output ?? [])]) {
    const tt = vi.type?.tensor_type;
    if (!tt) continue;
    sites.push({ weight: 0.3, what: `${gname}/io '${vi.name}'.elem_type`, apply: () => (tt.elem_type = pick(r, ONNX_DTYPES)) });
    (tt.shape?.dim ?? []).forEach((d: Obj, i: number) =>
      // non-negative sizes: a negative one is refused by the reader at once
      sites.push({ what: `${gname}/io '${vi.name}'.dim[${i}]`, apply: () => (r() < 0.7 ? (delete d.dim_param, (d.dim_value = pick(r, [0, 1, 2, 3, 5, 64, 65536, 2 ** 31 - 1]).toString())) : (delete d.dim_value, (d.dim_param = 'Q'))) }),
    );
  }
  for (const node of g.node ?? []) {
    const nw = `${gname}/node '${node.name ?? ''}' (${node.op_type})`;
    node.attribute ??= [];
    for (const a of node.attribute as Obj[]) {
      const aw = `${nw}.${a.name}`;
      if (a.type === 2) sites.push({ weight: 6, what: aw, apply: () => (a.i = edgeInt(r, BigInt(a.i ?? 0)).toString()) });
      if (a.type === 1) sites.push({ weight: 3, what: aw, apply: () => (a.f = pick(r, EDGE_FLOATS)) });
      if (a.type === 7) intListSites(sites, r, a, 'ints', aw, false, 4);
      if (a.type === 6) floatListSites(sites, r, a.floats, aw, 2);
      if (a.type === 3) sites.push({ what: aw, apply: () => (a.s = new TextEncoder().encode(pick(r, STRINGS))) });
      if (a.type === 4 && a.t) tensorSites(sites, r, a.t, aw);
      if (a.type === 5 && a.g) {
        graphSites(sites, r, a.g, names);
        sites.push({ what: `${aw} emptied`, apply: () => (a.g.node = [], a.g.output = (a.g.output ?? []).slice(0, Math.floor(r() * 2))) });
      }
      sites.push({ weight: 0.3, what: `${aw} type`, apply: () => (a.type = pick(r, [1, 2, 3, 4, 5, 6, 7])) });
      sites.push({ weight: 0.5, what: `${aw} removed`, apply: () => node.attribute.splice(node.attribute.indexOf(a), 1) });
    }
    // attributes the op declares but the node leaves at their default (an undeclared one is refused by name)
    const declared = Object.keys(getOp(node.domain === 'ai.onnx' ? '' : (node.domain ?? ''), node.op_type)?.attrs ?? {}).filter((n) => !node.attribute.some((a: Obj) => a.name === n));
    sites.push({
      weight: declared.length ? 3 : 0.2,
      what: `${nw} +attr`,
      apply: () => {
        const name = pick(r, declared.length ? declared : ATTR_NAMES);
        node.attribute = node.attribute.filter((a: Obj) => a.name !== name);
        node.attribute.push(r() < 0.5 ? { name, type: 2, i: pick(r, EDGE_INTS).toString() } : { name, type: 7, ints: [pick(r, EDGE_INTS), pick(r, EDGE_INTS)].slice(0, 1 + Math.floor(r() * 2)).map(String) });
      },
    });
    const ins: string[] = (node.input ??= []);
    sites.push({ weight: 0.5, what: `${nw} inputs`, apply: () => (r() < 0.4 && ins.length ? ins.pop() : r() < 0.5 ? ins.push(pick(r, ['', ...names])) : ins.length && (ins[Math.floor(r() * ins.length)] = pick(r, ['', ...names]))) });
  }
}

/** Every mutable field of a decoded ONNX model (toObject with longs as strings). */
function onnxSites(m: Obj, r: Rand): Site[] {
  const sites: Site[] = [];
  const names = [...new Set([...(m.graph?.input ?? []).map((v: Obj) => v.name), ...(m.graph?.initializer ?? []).map((t: Obj) => t.name), ...(m.graph?.node ?? []).flatMap((n: Obj) => n.output ?? [])])] as string[];
  for (const o of m.opset_import ?? []) sites.push({ what: `opset ${o.domain ?? ''}`, apply: () => (o.version = String(pick(r, [1, 6, 7, 9, 11, 13, 17, 21, 99]))) });
  if (m.graph) graphSites(sites, r, m.graph, names);
  return sites;
}

/** Decode, apply 1–3 field mutations, re-encode. `what` lists the mutated fields (for the failure report). */
export function mutateOnnx(bytes: Uint8Array, r: Rand): { bytes: Uint8Array; what: string[] } {
  const T = ModelProto();
  const m = T.toObject(T.decode(bytes), { longs: String }) as Obj;
  const what: string[] = [];
  const n = 1 + Math.floor(r() * r() * 3);
  for (let k = 0; k < n; k++) {
    const sites = onnxSites(m, r); // re-collected: an earlier mutation may have removed or added sites
    if (!sites.length) break;
    const s = pickWeighted(r, sites);
    what.push(s.what + show(s.apply()));
  }
  return { bytes: T.encode(T.fromObject(m)).finish(), what };
}

// ───────────────────────────────────────── TFLite ─────────────────────────────────────────
// In place: the flatbuffer is walked with the official field ids and a scalar (or vector element) is overwritten at its
// byte position. Sizes never change, so the framing stays valid and the reader's semantic checks are what is tested.

type Scalar = { pos: number; kind: 'i8' | 'i32' | 'u32' | 'f32' | 'i64'; what: string };

class FbWalk {
  readonly dv: DataView;
  constructor(readonly b: Uint8Array) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  field(table: number, id: number): number {
    const vt = table - this.dv.getInt32(table, true);
    const vsize = this.dv.getUint16(vt, true);
    const o = 4 + 2 * id;
    if (o + 2 > vsize) return 0;
    const off = this.dv.getUint16(vt + o, true);
    return off ? table + off : 0;
  }
  ref(p: number): number {
    return p + this.dv.getUint32(p, true);
  }
  /** [first element position, length] of the vector at field `id`, or undefined */
  vec(table: number, id: number): [number, number] | undefined {
    const p = this.field(table, id);
    if (!p) return undefined;
    const v = this.ref(p);
    return [v + 4, this.dv.getUint32(v, true)];
  }
  tables(table: number, id: number): number[] {
    const v = this.vec(table, id);
    return v ? Array.from({ length: v[1] }, (_, i) => this.ref(v[0] + 4 * i)) : [];
  }
}

const F = TFLITE_FIELDS as unknown as Record<string, Record<string, number>>;

function tfliteScalars(bytes: Uint8Array): Scalar[] {
  const w = new FbWalk(bytes);
  const out: Scalar[] = [];
  const scalar = (table: number, tname: string, fname: string, kind: Scalar['kind'], what: string) => {
    const p = w.field(table, F[tname]![fname]!);
    if (p) out.push({ pos: p, kind, what: `${what}.${fname}` });
  };
  const elems = (table: number, tname: string, fname: string, kind: Scalar['kind'], what: string) => {
    const v = w.vec(table, F[tname]![fname]!);
    const size = kind === 'i64' ? 8 : kind === 'i8' ? 1 : 4;
    if (v) for (let i = 0; i < v[1]; i++) out.push({ pos: v[0] + i * size, kind, what: `${what}.${fname}[${i}]` });
  };
  const model = w.ref(0);
  for (const [k, oc] of w.tables(model, F.Model!.operator_codes!).entries()) {
    scalar(oc, 'OperatorCode', 'builtin_code', 'i32', `opcode ${k}`);
    scalar(oc, 'OperatorCode', 'deprecated_builtin_code', 'i8', `opcode ${k}`);
    scalar(oc, 'OperatorCode', 'version', 'i32', `opcode ${k}`);
  }
  for (const [s, sg] of w.tables(model, F.Model!.subgraphs!).entries()) {
    elems(sg, 'SubGraph', 'inputs', 'i32', `subgraph ${s}`);
    elems(sg, 'SubGraph', 'outputs', 'i32', `subgraph ${s}`);
    for (const [k, t] of w.tables(sg, F.SubGraph!.tensors!).entries()) {
      const tw = `sg ${s} tensor ${k}`;
      elems(t, 'Tensor', 'shape', 'i32', tw);
      elems(t, 'Tensor', 'shape_signature', 'i32', tw);
      scalar(t, 'Tensor', 'type', 'i8', tw);
      scalar(t, 'Tensor', 'buffer', 'u32', tw);
      const qp = w.field(t, F.Tensor!.quantization!);
      if (qp) {
        const q = w.ref(qp);
        elems(q, 'QuantizationParameters', 'scale', 'f32', `${tw}.q`);
        elems(q, 'QuantizationParameters', 'zero_point', 'i64', `${tw}.q`);
        scalar(q, 'QuantizationParameters', 'quantized_dimension', 'i32', `${tw}.q`);
      }
    }
    for (const [k, op] of w.tables(sg, F.SubGraph!.operators!).entries()) {
      const ow = `sg ${s} op ${k}`;
      scalar(op, 'Operator', 'opcode_index', 'u32', ow);
      elems(op, 'Operator', 'inputs', 'i32', ow);
      elems(op, 'Operator', 'outputs', 'i32', ow);
      // builtin options: field kinds are not in the generated ids, so every present field is hit as i32 or i8
      const bo = w.field(op, F.Operator!.builtin_options!);
      if (bo) {
        const t = w.ref(bo);
        for (let id = 0; id < 16; id++) {
          const p = w.field(t, id);
          if (p) out.push({ pos: p, kind: p % 4 === 0 ? 'i32' : 'i8', what: `${ow}.options field ${id}` });
        }
      }
      const co = w.vec(op, F.Operator!.custom_options!);
      if (co) for (let i = 0; i < Math.min(co[1], 64); i++) out.push({ pos: co[0] + i, kind: 'i8', what: `${ow}.custom_options[${i}]` });
    }
  }
  return out;
}

/** Overwrite 1–3 fields of a .tflite (copy) with edge values. */
export function mutateTflite(bytes: Uint8Array, r: Rand): { bytes: Uint8Array; what: string[] } {
  const b = bytes.slice();
  const sites = tfliteScalars(b);
  const dv = new DataView(b.buffer);
  const what: string[] = [];
  const n = 1 + Math.floor(r() * r() * 3);
  for (let k = 0; k < n && sites.length; k++) {
    const s = pick(r, sites);
    let v: number | bigint;
    if (s.kind === 'f32') dv.setFloat32(s.pos, (v = pick(r, EDGE_FLOATS)), true);
    else if (s.kind === 'i64') dv.setBigInt64(s.pos, (v = edgeInt(r, dv.getBigInt64(s.pos, true))), true);
    else if (s.kind === 'i8') dv.setInt8(s.pos, (v = r() < 0.5 ? pick(r, [0, 1, -1, 2, 3, 17, 127, -128]) : Math.floor(r() * 256) - 128));
    else dv.setInt32(s.pos, (v = i32(edgeInt(r, BigInt(dv.getInt32(s.pos, true))))), true);
    what.push(`${s.what}${show(v)}`);
  }
  return { bytes: b, what };
}

// ───────────────────────────────────────── running a case ─────────────────────────────────────────

export type Outcome = { kind: 'ran' } | { kind: 'error'; name: string; message: string } | { kind: 'bug'; name: string; message: string; stack?: string };

const INT_TYPES = new Set<DType>(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

/** A feed of the session's declared type and shape: the seed's own data when it still fits, else filled. */
function feedFor(name: string, type: DType, dims: number[], given: Tensor | undefined, r: Rand, what: string[]): Tensor | undefined {
  if (given && given.type === type && given.dims.length === dims.length && given.dims.every((d, i) => d === dims[i])) {
    if (!INT_TYPES.has(type) || r() < 0.7 || !given.size) return given;
    // run-time index mutation: one element of an integer feed (indices, shapes, repeats) to an edge value
    const data = given.data.slice() as any;
    const v = edgeInt(r, 0n);
    const at = Math.floor(r() * given.size);
    data[at] = type === 'int64' || type === 'uint64' ? v : Number(BigInt.asIntN(32, v));
    what.push(`feed '${name}'[${at}] = ${data[at]}`);
    return new Tensor(type, data, dims);
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > 1 << 20) return undefined;
  return Tensor.zeros(type, dims);
}

/** Create a session from `bytes` and run it once; anything but a clean run or an EdgeqError is a bug. */
export async function runCase(bytes: Uint8Array, seedFeeds: Tensor[] | undefined, r: Rand, what: string[] = [], beforeRun?: () => void): Promise<Outcome> {
  let s: InferenceSession | undefined;
  try {
    s = await InferenceSession.create(bytes);
    const feeds: Record<string, Tensor> = {};
    for (const [k, m] of s.inputMetadata.entries()) {
      const dims = (m.shape ?? []).map((d) => (typeof d === 'number' ? d : (seedFeeds?.[k]?.dims.length === m.shape.length ? undefined : 1)));
      const seed = seedFeeds?.[k];
      const concrete = dims.map((d, i) => d ?? seed?.dims[i] ?? 1);
      const f = feedFor(m.name, m.type, concrete, seed, r, what);
      if (!f) return { kind: 'ran' }; // a feed we will not build: the load-time checks were the point
      feeds[m.name] = f;
    }
    beforeRun?.();
    await s.run(feeds);
    return { kind: 'ran' };
  } catch (e) {
    const err = e as Error;
    if (e instanceof EdgeqError) return { kind: 'error', name: err.name, message: err.message };
    return { kind: 'bug', name: err?.name ?? typeof e, message: String(err?.message ?? e), stack: err?.stack };
  } finally {
    await s?.release().catch(() => undefined);
  }
}

// ───────────────────────────────────────── built seeds ─────────────────────────────────────────

/**
 * Small models built here for code no corpus file reaches: TFLite WHILE (→ ONNX Loop), the int8 one-op cases
 * (ABS, ELU, GELU, SQUARED_DIFFERENCE, PRELU, BATCH_MATMUL, SUM, L2_NORMALIZATION, DEPTH_TO_SPACE … of
 * tflite-int8-cases.ts), ONNX GRU / RNN / LSTM in both layouts and directions, and Resize in every mode (the gather
 * reference, antialias). Each comes with feeds; the fuzzer mutates its fields like a file's.
 */
export async function builtSeeds(): Promise<{ name: string; bytes: Uint8Array; feeds: Tensor[] }[]> {
  const { whileModel } = await import('./tflite-builder.js');
  const { int8Cases } = await import('./tflite-int8-cases.js');
  const { layerGraph } = await import('./op-graph.js');
  const { writeOnnx } = await import('../../src/formats/onnx/writer.js');
  const r = prng(7);
  const f32 = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1), dims);
  const out: { name: string; bytes: Uint8Array; feeds: Tensor[] }[] = [];
  const i32 = (v: number) => new Tensor('int32', Int32Array.of(v), []);
  out.push({ name: 'tflite WHILE', bytes: whileModel({ n: 5 }), feeds: [i32(0), f32([2])] });
  out.push({ name: 'tflite WHILE grow', bytes: whileModel({ n: 3, grow: true }), feeds: [i32(0), f32([2])] });
  for (const c of int8Cases(1)) out.push({ name: `tflite int8 ${c.name}`, bytes: c.bytes, feeds: c.inputs.map((i) => new Tensor('int8', i.data, i.dims)) });
  const onnx = (name: string, op: string, ins: (Tensor | ValueType)[], attrs: Record<string, unknown>, feeds: Tensor[], nOut = 1) =>
    out.push({ name, bytes: writeOnnx(layerGraph(op, ins, attrs, nOut, 22)), feeds });
  const [T, B, I, H] = [4, 2, 3, 5];
  for (const [op, gates] of [['RNN', 1], ['GRU', 3], ['LSTM', 4]] as const)
    for (const dirs of [1, 2])
      for (const layout of [0, 1]) {
        const x = layout ? [B, T, I] : [T, B, I];
        const h0 = layout ? [B, dirs, H] : [dirs, B, H];
        const extra = op === 'GRU' ? { linear_before_reset: dirs - 1 } : {};
        onnx(`onnx ${op} dirs ${dirs} layout ${layout}`, op, [{ dtype: 'float32', shape: x }, f32([dirs, gates * H, I]), f32([dirs, gates * H, H]), f32([dirs, 2 * gates * H]), '' as never, { dtype: 'float32', shape: h0 }], { hidden_size: H, layout, direction: dirs === 2 ? 'bidirectional' : 'forward', ...extra }, [f32(x), f32(h0)], 2);
      }
  for (const mode of ['nearest', 'linear', 'cubic'])
    for (const antialias of mode === 'nearest' ? [0] : [0, 1])
      for (const scales of [[1, 1, 2, 3], [1, 1, 0.5, 0.75]])
        onnx(`onnx Resize ${mode} aa ${antialias} ${scales.join('x')}`, 'Resize', [{ dtype: 'float32', shape: [1, 2, 6, 8] }, '' as never, new Tensor('float32', Float32Array.from(scales), [4])], { mode, antialias }, [f32([1, 2, 6, 8])]);
  return out;
}
