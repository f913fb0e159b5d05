import { Graph, type Node, type ValueType } from '../graph.js';
import { analyze } from '../infer.js';
import { Tensor } from '../../tensor/tensor.js';
import { roundHalfToEven } from '../../tensor/rounding.js';

/** Ops that commute with DQ / Q when input and output share scale and zero point (max and data movement). */
const SAME_PARAMS = new Set(['MaxPool', 'Concat', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose', 'Identity']);

/**
 * QDQ fusion: rewrite the ONNX "QDQ format" (what onnxruntime's static quantizer writes)
 *
 *     x_q ─DQ(xs, xz)─┐
 *     w_q ─DQ(ws, wz)─┼─ Conv / MatMul / Gemm ─(Relu)─ Q(ys, yz) ─ y_q
 *     b_i32 ─DQ(bs)───┘   (Conv bias only)
 *
 * into the integer op QLinearConv / QLinearMatMul (+ Max(y, yz) for a Relu whose y_zero_point is not the
 * bottom of the range), so the int8 kernels run it. Only rewrites what is exactly the same computation up to
 * rounding (see below); anything else is left alone:
 *  - w (and the bias) constant initializers; every scale / zero point a constant; x, w, y int8 or uint8;
 *  - per-tensor x and y; w per-tensor or per output channel (Conv: axis 0; MatMul: axis 1 of the 2-D B;
 *    Gemm: the N axis of B, transposed into a new initializer when transB = 1);
 *  - Conv bias only when DQ'd from int32 with zero point 0 and scale[m] == fround(xs · ws[m]) — then
 *    DQ(b) = b·xs·ws is what QLinearConv adds to the integer accumulator. A float bias, or Gemm's C, is left
 *    alone (QLinearMatMul has no bias);
 *  - Gemm with alpha = beta = 1, transA = 0 and no C; the float op's output used only by the Relu / Q.
 *
 * Rounding. The unfused graph (ONNX reference semantics) dequantizes to float32, sums products in float32,
 * then quantizes round_half_even(v / ys) + yz. The fused op sums exactly in int32 and requantizes
 * round_half_even(acc · fround(fround(xs·ws)/ys)) + yz. Both are the same real number up to float32 rounding
 * of the terms, the sum and the multiplier, so they agree except where that real number lies within the
 * accumulated rounding error of a .5 boundary: outputs then differ by exactly 1 (onnxruntime's own QDQ→QLinear
 * fusion has the same property; the fused form is the more accurate one). The tests accept |Δ| ≤ 1 and check
 * that mismatches are rare. Q(Relu(v)) = max(Q(v), Q(0)) = max(Q(v), yz) exactly (Q is monotone and Q(0) = yz);
 * likewise Q(Clip(v, lo, hi)) = clamp(Q(v), Q(lo), Q(hi)), which is no op at all when Q(lo) and Q(hi) are the
 * ends of the output range (ReLU6 calibrated on its own output).
 *
 * The other ops of a QDQ model (what onnxruntime's QDQ selectors also rewrite):
 *  - DQ→Add→Q (both inputs DQ'd per tensor, one 8-bit type throughout) → QLinearAdd (com.microsoft), whose
 *    definition (dequantize in float32, add, divide by the output scale in float32, round half to even) is the
 *    unfused float path exactly: bit-identical;
 *  - DQ→GlobalAveragePool→Q → QLinearGlobalAveragePool (com.microsoft): the sum is exact in integers, the
 *    unfused path averages in float32, so outputs may differ by one code as above;
 *  - DQ→{MaxPool, Concat, Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Identity}→Q where every DQ and the Q
 *    use the same scale and zero point → the same op on the 8-bit codes. Exact: DQ is monotone, so
 *    max(DQ(x)) = DQ(max(x)), data movement commutes with it, and Q(DQ(c)) = c for every code c (the float32
 *    error of c·s/s is far below the .5 rounding margin). MaxPool pads with −∞ (ignored), not with zero;
 *  - DQ(x)→Gemm(DQ(w), DQ(b))(→Relu)→Q and a Gemm with such a bias whose float output is not quantized →
 *    QGemm (com.microsoft) with the int32 bias as C (same bias rule as Conv), quantized or float32 output.
 */
export function fuseQdq(graph: Graph): Graph {
  const g = graph.clone();
  const producer = new Map<string, Node>();
  const uses = new Map<string, number>();
  const names = new Set<string>([...g.initializers.keys(), ...g.types.keys(), ...g.inputs.map((i) => i.name)]);
  for (const n of g.nodes) {
    for (const o of n.outputs) if (o) (producer.set(o, n), names.add(o));
    for (const x of n.inputs) if (x) uses.set(x, (uses.get(x) ?? 0) + 1);
  }
  const graphOut = new Set(g.outputs.map((o) => o.name));
  for (const o of graphOut) uses.set(o, (uses.get(o) ?? 0) + 1);
  const fresh = (base: string): string => {
    let n = base;
    for (let i = 1; names.has(n); i++) n = `${base}_${i}`;
    names.add(n);
    return n;
  };
  const constant = (name: string | undefined): Tensor | undefined => {
    if (!name) return undefined;
    const t = g.initializers.get(name);
    if (t) return t;
    // a Constant node's value (exporters emit Clip's min / max this way)
    const p = producer.get(name);
    return p && p.op === 'Constant' && p.domain === '' && p.attrs.value instanceof Tensor ? p.attrs.value : undefined;
  };
  const addInit = (base: string, t: Tensor): string => {
    const n = fresh(base);
    g.initializers.set(n, t);
    return n;
  };
  const zeroZp = (dtype: 'int8' | 'uint8'): Tensor => new Tensor(dtype, dtype === 'int8' ? new Int8Array(1) : new Uint8Array(1), []);

  /** Constant DQ parameters of value `v` (produced by a DequantizeLinear), or undefined. */
  const dq = (v: string) => {
    const n = producer.get(v);
    if (!n || n.op !== 'DequantizeLinear' || n.domain !== '') return undefined;
    const s = constant(n.inputs[1]);
    const z = n.inputs[2] ? constant(n.inputs[2]) : undefined;
    if (!s || s.type !== 'float32' || (n.inputs[2] && !z)) return undefined;
    if (((n.attrs.block_size as number | undefined) ?? 0) !== 0) return undefined;
    const od = (n.attrs.output_dtype as number | undefined) ?? 0;
    if (od !== 0 && od !== 1) return undefined;
    if (s.dims.length > 1 || (z && z.dims.length > 1) || (z && z.size !== s.size)) return undefined;
    return { node: n, q: n.inputs[0]!, s, z, sName: n.inputs[1]!, zName: n.inputs[2] || undefined, axis: (n.attrs.axis as number | undefined) ?? 1 };
  };
  // full type inference only when a cheap look-up does not know a dtype (intermediates of imported models)
  let types: Map<string, ValueType> | undefined;
  const inferred = (): Map<string, ValueType> => {
    if (!types) {
      try {
        types = analyze(graph, { fold: false }).types;
      } catch {
        types = new Map();
      }
    }
    return types;
  };
  /** dtype of a value some node produces when it is knowable without inference (a QuantizeLinear output) */
  const dqOut = (name: string): string | undefined => {
    const n = producer.get(name);
    if (!n || n.op !== 'QuantizeLinear' || n.domain !== '') return undefined;
    const z = n.inputs[2] ? constant(n.inputs[2]) : undefined;
    const od = (n.attrs.output_dtype as number | undefined) ?? 0;
    return z ? z.type : od === 3 ? 'int8' : od === 2 || od === 0 ? 'uint8' : undefined;
  };
  type DQ = NonNullable<ReturnType<typeof dq>>;
  const qType = (name: string) => {
    const t = g.typeOf(name)?.dtype ?? g.inputs.find((i) => i.name === name)?.type.dtype ?? dqOut(name) ?? inferred().get(name)?.dtype;
    return t === 'int8' || t === 'uint8' ? t : undefined;
  };
  /** the zero point input for an op that requires one (a zero scalar when the DQ / Q omitted it) */
  const zpName = (d: { zName?: string }, dtype: 'int8' | 'uint8'): string => d.zName ?? addInit('qdq_zero_point', zeroZp(dtype));
  /** per-tensor scale / zero point (scalar or one element) */
  const perTensor = (d: DQ) => d.s.size === 1;

  const qScalar = (dtype: 'int8' | 'uint8', v: number): Tensor => new Tensor(dtype, dtype === 'int8' ? Int8Array.of(v) : Uint8Array.of(v), []);
  /**
   * The int32 codes of a bias DQ'd with zero point 0 and scale[m] == fround(xs · ws[m]) (then DQ(b) = b·xs·ws is
   * what the integer op adds to its accumulator), or undefined.
   */
  const biasOf = (b: string, xs: number, dw: DQ, m: number): string | undefined => {
    const db = dq(b);
    const bT = db && constant(db.q);
    if (!db || !bT || bT.type !== 'int32' || bT.dims.length !== 1 || bT.size !== m) return undefined;
    if (db.z && Array.from(db.z.data as Int32Array).some((z) => z !== 0)) return undefined;
    if (db.s.size !== 1 && db.s.size !== m) return undefined;
    const wsv = dw.s.data as Float32Array;
    const bsv = db.s.data as Float32Array;
    for (let i = 0; i < m; i++) if (bsv[bsv.length === 1 ? 0 : i] !== Math.fround(xs * wsv[wsv.length === 1 ? 0 : i]!)) return undefined;
    return db.q;
  };
  /**
   * MatMul / Gemm: the 2-D constant B as [K×N] (Gemm transB = 1: a transposed copy) with its scale per tensor
   * or per column, and Gemm's C as an int32 bias (beta = 1); undefined when the op is not expressible.
   */
  const matmulB = (op: Node, dw: DQ, wT: Tensor, _xType: string): { name: string; bias?: string } | undefined => {
    if (wT.dims.length !== 2) return undefined;
    let nAxis = 1;
    let bias: string | undefined;
    if (op.op === 'Gemm') {
      const a = op.attrs;
      if ((a.alpha ?? 1) !== 1 || (a.transA ?? 0) !== 0) return undefined;
      if (a.transB) nAxis = 0;
      if (op.inputs[2]) {
        if ((a.beta ?? 1) !== 1) return undefined;
        bias = biasOf(op.inputs[2], ((dq(op.inputs[0]!)!.s.data as Float32Array)[0]!), dw, wT.dims[nAxis]!);
        if (!bias) return undefined;
      }
    }
    if (!perTensor(dw)) {
      const ax = dw.axis < 0 ? dw.axis + 2 : dw.axis;
      if (ax !== nAxis || dw.s.size !== wT.dims[nAxis]) return undefined;
    }
    if (nAxis === 1) return { name: dw.q, ...(bias ? { bias } : {}) };
    // B is [N×K]: store its transpose as a new initializer
    const [n, k] = wT.dims as [number, number];
    const src = wT.data as Int8Array | Uint8Array;
    const dst = wT.type === 'int8' ? new Int8Array(k * n) : new Uint8Array(k * n);
    for (let j = 0; j < n; j++) for (let kk = 0; kk < k; kk++) dst[kk * n + j] = src[j * k + kk]!;
    return { name: addInit(`${dw.q}_t`, new Tensor(wT.type, dst, [k, n])), ...(bias ? { bias } : {}) };
  };

  const remove = new Set<Node>();
  const replace = new Map<Node, Node[]>();

  for (const q of g.nodes) {
    if (q.op !== 'QuantizeLinear' || q.domain !== '' || remove.has(q)) continue;
    const ys = constant(q.inputs[1]);
    const yzT = q.inputs[2] ? constant(q.inputs[2]) : undefined;
    if (!ys || ys.type !== 'float32' || ys.size !== 1 || (q.inputs[2] && (!yzT || yzT.size !== 1))) continue;
    if (((q.attrs.block_size as number | undefined) ?? 0) !== 0) continue;
    const prec = (q.attrs.precision as number | undefined) ?? 0;
    if (prec !== 0 && prec !== 1) continue;
    const odAttr = (q.attrs.output_dtype as number | undefined) ?? 0;
    const yType = yzT ? yzT.type : odAttr === 3 ? 'int8' : odAttr === 0 || odAttr === 2 ? 'uint8' : undefined;
    if (yType !== 'int8' && yType !== 'uint8') continue;
    if (odAttr !== 0 && odAttr !== (yType === 'int8' ? 3 : 2)) continue;
    const out = q.outputs[0]!;
    const ysName = q.inputs[1]!;
    const yzName0 = q.inputs[2] || undefined;
    const yzv = yzT ? (yzT.data as Int8Array | Uint8Array)[0]! : 0;
    const [qmin, qmax] = yType === 'int8' ? [-128, 127] : [0, 255];
    const ysv = (ys.data as Float32Array)[0]!;
    /** Q's own arithmetic on a float32 constant (QuantizeLinear reference): saturate(rhe(x / ys) + yz) */
    const quant = (x: number) => Math.min(qmax, Math.max(qmin, roundHalfToEven(Math.fround(Math.fround(x) / ysv)) + yzv));
    const yzName = () => yzName0 ?? addInit('qdq_zero_point', zeroZp(yType));
    /** a DQ input with exactly Q's scale, zero point and type (Q(DQ(c)) = c) */
    const sameAsQ = (x: string): DQ | undefined => {
      const d = dq(x);
      if (!d || !perTensor(d) || (d.s.data as Float32Array)[0] !== ysv || qType(d.q) !== yType) return undefined;
      const dz = d.z ? (d.z.data as Int8Array | Uint8Array)[0]! : 0;
      return dz === yzv && (!d.z || d.z.type === yType) ? d : undefined;
    };
    const commit = (op: Node, nodes: Node[], act?: Node) => {
      remove.add(op);
      if (act) remove.add(act);
      replace.set(q, nodes);
      for (const x of op.inputs) if (x) uses.set(x, uses.get(x)! - 1);
      for (const y of [...op.outputs, ...(act ? act.outputs : [])]) if (y) g.types.delete(y);
      if (g.opsets['com.microsoft'] === undefined && nodes.some((n) => n.domain === 'com.microsoft')) g.opsets['com.microsoft'] = 1;
    };
    // walk back: Q ← (Relu / Clip) ← op
    let v = q.inputs[0]!;
    let act: Node | undefined;
    let op = producer.get(v);
    let qlo = qmin;
    let qhi = qmax;
    if ((op?.op === 'Relu' || op?.op === 'Clip') && op.domain === '') {
      if (uses.get(v) !== 1) continue;
      act = op;
      if (op.op === 'Relu') qlo = quant(0);
      else {
        const bound = (i: number, dflt: number) => {
          if (!act!.inputs[i]) return dflt;
          const t = constant(act!.inputs[i]);
          return t && t.type === 'float32' && t.size === 1 ? quant((t.data as Float32Array)[0]!) : undefined;
        };
        const lo = bound(1, qmin);
        const hi = bound(2, qmax);
        if (lo === undefined || hi === undefined) continue;
        [qlo, qhi] = [lo, hi];
      }
      v = op.inputs[0]!;
      op = producer.get(v);
    }
    if (!op || op.domain !== '' || uses.get(v) !== 1 || remove.has(op)) continue;
    if (g.typeOf(v) && g.typeOf(v)!.dtype !== 'float32') continue;

    if (!act && op.op === 'Add' && op.inputs.length === 2) {
      // QLinearAdd(a, as, az, b, bs, bz, ys, yz): the same float32 arithmetic as DQ → Add → Q
      const da = dq(op.inputs[0]!);
      const db = dq(op.inputs[1]!);
      if (!da || !db || !perTensor(da) || !perTensor(db) || qType(da.q) !== yType || qType(db.q) !== yType) continue;
      if ((da.z && da.z.type !== yType) || (db.z && db.z.type !== yType)) continue;
      commit(op, [{
        name: fresh(`${op.name}_qlinear`), op: 'QLinearAdd', domain: 'com.microsoft', attrs: {},
        inputs: [da.q, da.sName, zpName(da, yType), db.q, db.sName, zpName(db, yType), ysName, yzName()], outputs: [out],
      }]);
      continue;
    }
    if (!act && op.op === 'GlobalAveragePool') {
      const dx = dq(op.inputs[0]!);
      if (!dx || !perTensor(dx) || qType(dx.q) !== yType || (dx.z && dx.z.type !== yType)) continue;
      commit(op, [{
        name: fresh(`${op.name}_qlinear`), op: 'QLinearGlobalAveragePool', domain: 'com.microsoft', attrs: {},
        inputs: [dx.q, dx.sName, zpName(dx, yType), ysName, yzName()], outputs: [out],
      }]);
      continue;
    }
    if (!act && SAME_PARAMS.has(op.op)) {
      // the float inputs (Concat: all; the others: the first) come from DQs with Q's parameters
      const floatIns = op.op === 'Concat' ? op.inputs.map((_, i) => i) : [0];
      if (op.outputs.filter(Boolean).length !== 1) continue; // MaxPool's Indices
      const ds = floatIns.map((i) => sameAsQ(op!.inputs[i]!));
      if (ds.some((d) => !d)) continue;
      const inputs = [...op.inputs];
      floatIns.forEach((i, k) => (inputs[i] = ds[k]!.q));
      commit(op, [{ ...op, name: fresh(`${op.name}_q8`), inputs, outputs: [out] }]);
      continue;
    }
    if (!['Conv', 'MatMul', 'Gemm'].includes(op.op)) continue;
    const dx = dq(op.inputs[0]!);
    const dw = dq(op.inputs[1]!);
    if (!dx || !dw || !perTensor(dx)) continue;
    const xType = qType(dx.q);
    const wT = constant(dw.q);
    if (!xType || !wT || (wT.type !== 'int8' && wT.type !== 'uint8')) continue;
    if (dx.z && dx.z.type !== xType) continue;
    // the integer op writes to Q's output; with a Relu / Clip that is not a no-op, through Max / Clip
    const needClamp = qlo > qmin || qhi < qmax;
    const opOut = needClamp ? fresh(`${out}_qlinear`) : out;
    const nodes: Node[] = [];
    const xs = (dx.s.data as Float32Array)[0]!;
    const m = op.op === 'Conv' ? wT.dims[0]! : undefined;
    let biasName: string | undefined;
    if (op.op === 'Conv' && op.inputs[2]) {
      biasName = biasOf(op.inputs[2], xs, dw, m!);
      if (!biasName) continue;
    }

    if (op.op === 'Conv') {
      if (wT.dims.length < 3) continue;
      // per-channel weights: axis 0 (output channels)
      if (!perTensor(dw)) {
        const ax = dw.axis < 0 ? dw.axis + wT.dims.length : dw.axis;
        if (ax !== 0 || dw.s.size !== m) continue;
      }
      const attrs = { ...op.attrs };
      nodes.push({
        name: fresh(`${op.name}_qlinear`), op: 'QLinearConv', domain: '', attrs,
        inputs: [dx.q, dx.sName, zpName(dx, xType), dw.q, dw.sName, zpName(dw, wT.type), ysName, yzName(), ...(biasName ? [biasName] : [])],
        outputs: [opOut],
      });
    } else {
      const b = matmulB(op, dw, wT, xType);
      if (!b) continue;
      if (b.bias) {
        // Gemm with C: QGemm (com.microsoft) adds the int32 bias to the accumulator
        nodes.push({
          name: fresh(`${op.name}_qgemm`), op: 'QGemm', domain: 'com.microsoft', attrs: {},
          inputs: [dx.q, dx.sName, zpName(dx, xType), b.name, dw.sName, zpName(dw, wT.type), b.bias, ysName, yzName()],
          outputs: [opOut],
        });
      } else
        nodes.push({
          name: fresh(`${op.name}_qlinear`), op: 'QLinearMatMul', domain: '', attrs: {},
          inputs: [dx.q, dx.sName, zpName(dx, xType), b.name, dw.sName, zpName(dw, wT.type), ysName, yzName()],
          outputs: [opOut],
        });
    }
    if (needClamp) {
      // a Relu is Clip(codes, q(0), qmax) too: one op, which 8-bit codes run through a 256-entry table (x8_lut; a
      // Max on 8-bit codes had no kernel and ran on the reference)
      const name = fresh(`${act!.name}_qclip`);
      nodes.push({ name, op: 'Clip', domain: '', attrs: {}, inputs: [opOut, addInit('qdq_clamp', qScalar(yType, qlo)), addInit('qdq_clamp', qScalar(yType, qhi))], outputs: [out] });
    }
    commit(op, nodes, act);
  }
  // Gemm with an int32 bias whose float32 output is not quantized (a classifier's logits): QGemm, float output
  for (const op of g.nodes) {
    if (op.op !== 'Gemm' || op.domain !== '' || remove.has(op) || !op.inputs[2]) continue;
    const dx = dq(op.inputs[0]!);
    const dw = dq(op.inputs[1]!);
    if (!dx || !dw || !perTensor(dx)) continue;
    const xType = qType(dx.q);
    const wT = constant(dw.q);
    if (!xType || !wT || (wT.type !== 'int8' && wT.type !== 'uint8') || (dx.z && dx.z.type !== xType)) continue;
    if (g.typeOf(op.outputs[0]!) && g.typeOf(op.outputs[0]!)!.dtype !== 'float32') continue;
    const b = matmulB(op, dw, wT, xType);
    if (!b?.bias) continue;
    remove.add(op);
    replace.set(op, [{
      name: fresh(`${op.name}_qgemm`), op: 'QGemm', domain: 'com.microsoft', attrs: {},
      inputs: [dx.q, dx.sName, zpName(dx, xType), b.name, dw.sName, zpName(dw, wT.type), b.bias], outputs: [op.outputs[0]!],
    }]);
    for (const x of op.inputs) if (x) uses.set(x, uses.get(x)! - 1);
    g.opsets['com.microsoft'] ??= 1;
  }
  if (!replace.size) return g;
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    const r = replace.get(n);
    if (r) nodes.push(...r);
    else if (!remove.has(n)) nodes.push(n);
  }
  // drop DequantizeLinear nodes nobody reads any more
  g.nodes = nodes.filter((n) => {
    if (n.op !== 'DequantizeLinear' || n.domain !== '' || (uses.get(n.outputs[0]!) ?? 0) > 0) return true;
    g.types.delete(n.outputs[0]!);
    return false;
  });
  return g;
}
