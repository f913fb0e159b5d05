import { Graph, type Node, type ValueType } from '../graph.js';
import { analyze } from '../infer.js';
import { Tensor } from '../../tensor/tensor.js';

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
 * that mismatches are rare. Q(Relu(v)) = max(Q(v), Q(0)) = max(Q(v), yz) exactly (Q is monotone and Q(0) = yz).
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
  const constant = (name: string | undefined): Tensor | undefined => (name ? g.initializers.get(name) : undefined);
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
    // walk back: Q ← (Relu) ← op
    let v = q.inputs[0]!;
    let relu: Node | undefined;
    let op = producer.get(v);
    if (op?.op === 'Relu' && op.domain === '') {
      if (uses.get(v) !== 1) continue;
      relu = op;
      v = op.inputs[0]!;
      op = producer.get(v);
    }
    if (!op || op.domain !== '' || !['Conv', 'MatMul', 'Gemm'].includes(op.op) || uses.get(v) !== 1 || remove.has(op)) continue;
    if (g.typeOf(v) && g.typeOf(v)!.dtype !== 'float32') continue;
    const dx = dq(op.inputs[0]!);
    const dw = dq(op.inputs[1]!);
    if (!dx || !dw || !perTensor(dx)) continue;
    const xType = qType(dx.q);
    const wT = constant(dw.q);
    if (!xType || !wT || (wT.type !== 'int8' && wT.type !== 'uint8')) continue;
    if (dx.z && dx.z.type !== xType) continue;
    const yzName = q.inputs[2] ? q.inputs[2] : addInit('qdq_zero_point', zeroZp(yType));
    const yzv = yzT ? (yzT.data as Int8Array | Uint8Array)[0]! : 0;
    const out = q.outputs[0]!;
    // the integer op writes to Q's output; with a Relu that is not a no-op, through Max(·, yz)
    const needMax = relu !== undefined && yzv !== (yType === 'int8' ? -128 : 0);
    const opOut = needMax ? fresh(`${out}_qlinear`) : out;
    const nodes: Node[] = [];
    const xs = (dx.s.data as Float32Array)[0]!;

    if (op.op === 'Conv') {
      const m = wT.dims[0]!;
      if (wT.dims.length < 3) continue;
      // per-channel weights: axis 0 (output channels)
      if (!perTensor(dw)) {
        const ax = dw.axis < 0 ? dw.axis + wT.dims.length : dw.axis;
        if (ax !== 0 || dw.s.size !== m) continue;
      }
      let biasName: string | undefined;
      if (op.inputs[2]) {
        const db = dq(op.inputs[2]);
        const bT = db && constant(db.q);
        if (!db || !bT || bT.type !== 'int32' || bT.dims.length !== 1 || bT.size !== m) continue;
        if (db.z && Array.from(db.z.data as Int32Array).some((z) => z !== 0)) continue;
        if (db.s.size !== 1 && db.s.size !== m) continue;
        const wsv = dw.s.data as Float32Array;
        const bsv = db.s.data as Float32Array;
        let ok = true;
        for (let i = 0; i < m && ok; i++) ok = bsv[bsv.length === 1 ? 0 : i] === Math.fround(xs * wsv[wsv.length === 1 ? 0 : i]!);
        if (!ok) continue;
        biasName = db.q;
      }
      const attrs = { ...op.attrs };
      nodes.push({
        name: fresh(`${op.name}_qlinear`), op: 'QLinearConv', domain: '', attrs,
        inputs: [dx.q, dx.sName, zpName(dx, xType), dw.q, dw.sName, zpName(dw, wT.type), q.inputs[1]!, yzName, ...(biasName ? [biasName] : [])],
        outputs: [opOut],
      });
    } else {
      // MatMul / Gemm → QLinearMatMul with a 2-D constant B [K×N]; b scale per tensor or per column
      let bName = dw.q;
      let nAxis = 1;
      if (op.op === 'Gemm') {
        const a = op.attrs;
        if ((a.alpha ?? 1) !== 1 || (a.transA ?? 0) !== 0 || op.inputs[2]) continue;
        if (wT.dims.length !== 2) continue;
        if (a.transB) {
          nAxis = 0;
          // B is [N×K]: store its transpose as a new initializer
          const [n, k] = wT.dims as [number, number];
          const src = wT.data as Int8Array | Uint8Array;
          const dst = wT.type === 'int8' ? new Int8Array(k * n) : new Uint8Array(k * n);
          for (let j = 0; j < n; j++) for (let kk = 0; kk < k; kk++) dst[kk * n + j] = src[j * k + kk]!;
          bName = addInit(`${dw.q}_t`, new Tensor(wT.type, dst, [k, n]));
        }
      }
      if (wT.dims.length !== 2) continue;
      if (!perTensor(dw)) {
        const ax = dw.axis < 0 ? dw.axis + 2 : dw.axis;
        if (ax !== nAxis || dw.s.size !== wT.dims[nAxis]) continue;
      }
      nodes.push({
        name: fresh(`${op.name}_qlinear`), op: 'QLinearMatMul', domain: '', attrs: {},
        inputs: [dx.q, dx.sName, zpName(dx, xType), bName, dw.sName, zpName(dw, wT.type), q.inputs[1]!, yzName],
        outputs: [opOut],
      });
    }
    if (needMax) nodes.push({ name: fresh(`${relu!.name}_qmax`), op: 'Max', domain: '', attrs: {}, inputs: [opOut, yzName], outputs: [out] });
    remove.add(op);
    if (relu) remove.add(relu);
    replace.set(q, nodes);
    for (const x of op.inputs) if (x) uses.set(x, uses.get(x)! - 1);
    if (relu) g.types.delete(relu.inputs[0]!);
    g.types.delete(v);
    if (relu) g.types.delete(relu.outputs[0]!);
  }
  if (!replace.size) return g;
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (remove.has(n)) continue;
    nodes.push(...(replace.get(n) ?? [n]));
  }
  // drop DequantizeLinear nodes nobody reads any more
  g.nodes = nodes.filter((n) => {
    if (n.op !== 'DequantizeLinear' || n.domain !== '' || (uses.get(n.outputs[0]!) ?? 0) > 0) return true;
    g.types.delete(n.outputs[0]!);
    return false;
  });
  return g;
}
