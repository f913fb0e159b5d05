import { Graph, type Node } from '../graph.js';
import { Tensor } from '../../tensor/tensor.js';
import { KV_DOMAIN } from './kv-append.js';

/**
 * Plan-time rewrites of the decomposed forms transformer exports use into the single ops the kernels run in one pass
 * (wasm backend; the reference plan keeps the graph as written):
 *
 * - GELU, erf form, as PyTorch writes nn.GELU(): `Div(x, √2) → Erf → Add(·, 1) → Mul(x, ·) → Mul(·, 0.5)` (the Div
 *   may be a Mul by 1/√2, and operands of the commutative ops come in either order) becomes `Gelu(x)` — ONNX Gelu
 *   (opset 20, approximate = 'none'): "y = 0.5 * x * (1 + erf(x/sqrt(2)))". Its kernel then folds into the producing
 *   bias Add's epilogue.
 * - LayerNorm over the last axis, as older exporters write it: `m = ReduceMean(x); d = Sub(x, m);
 *   v = ReduceMean(Pow(d, 2)); y = Div(d, Sqrt(Add(v, eps)))`, optionally `· γ + β`, becomes
 *   `LayerNormalization(x, γ, β, axis = -1, epsilon = eps)` — ONNX LayerNormalization's own function body.
 *
 * Only values used once inside the pattern (and not graph outputs) are rewritten. Returns the graph unchanged when
 * nothing matches.
 */
export function fuseTransformerPatterns(graph: Graph): Graph {
  const producer = new Map<string, Node>();
  const uses = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const x of n.inputs) if (x) (uses.get(x) ?? uses.set(x, []).get(x)!).push(n);
  }
  const graphOut = new Set(graph.outputs.map((o) => o.name));
  const only = (v: string, n = 1): Node[] | undefined => {
    const u = uses.get(v) ?? [];
    return u.length === n && !graphOut.has(v) ? u : undefined;
  };
  /** a float constant's value when it is a scalar (initializer or Constant node), else undefined */
  const scalar = (name: string): number | undefined => {
    const t = constTensor(graph, producer, name);
    return t && t.size === 1 && (t.type === 'float32' || t.type === 'float64' || t.type === 'float16') ? Number(t.data[0]) : undefined;
  };
  const near = (v: number | undefined, want: number) => v !== undefined && Math.abs(v - want) <= 1e-6 * Math.abs(want);
  const is = (n: Node | undefined, op: string): n is Node => !!n && n.op === op && n.domain === '';
  /** the other input of a binary node, given one */
  const other = (n: Node, x: string): string | undefined => (n.inputs[0] === x ? n.inputs[1] : n.inputs[1] === x ? n.inputs[0] : undefined);

  const drop = new Set<Node>();
  const add: { at: Node; node: Node }[] = [];
  let k = 0;
  for (const erf of graph.nodes) {
    if (!is(erf, 'Erf')) continue;
    const scale = producer.get(erf.inputs[0]!);
    if (!scale || !only(erf.inputs[0]!)) continue;
    let x: string | undefined;
    if (is(scale, 'Div') && near(scalar(scale.inputs[1]!), Math.SQRT2)) x = scale.inputs[0];
    else if (is(scale, 'Mul')) {
      const c = [0, 1].find((i) => near(scalar(scale.inputs[i]!), Math.SQRT1_2));
      if (c !== undefined) x = scale.inputs[1 - c];
    }
    if (!x) continue;
    const plus = only(erf.outputs[0]!)?.[0];
    if (!is(plus, 'Add') || !near(scalar(other(plus, erf.outputs[0]!) ?? ''), 1)) continue;
    const m1 = only(plus.outputs[0]!)?.[0];
    if (!is(m1, 'Mul') || other(m1, plus.outputs[0]!) !== x) continue;
    const m2 = only(m1.outputs[0]!)?.[0];
    if (!is(m2, 'Mul') || !near(scalar(other(m2, m1.outputs[0]!) ?? ''), 0.5)) continue;
    for (const n of [scale, erf, plus, m1, m2]) drop.add(n);
    add.push({ at: m2, node: { name: `${m2.name}/gelu_fused`, op: 'Gelu', domain: '', inputs: [x], outputs: [m2.outputs[0]!], attrs: {} } });
    k++;
  }

  const lastAxis = (n: Node): boolean => {
    if (n.attrs.keepdims !== undefined && n.attrs.keepdims !== 1) return false;
    const axes = (n.attrs.axes as number[] | undefined) ?? (n.inputs[1] ? intsOf(constTensor(graph, producer, n.inputs[1])) : undefined);
    return !!axes && axes.length === 1 && axes[0] === -1;
  };
  for (const mean of graph.nodes) {
    if (!is(mean, 'ReduceMean') || !lastAxis(mean)) continue;
    const x = mean.inputs[0]!;
    const sub = only(mean.outputs[0]!)?.[0];
    if (!is(sub, 'Sub') || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0]) continue;
    const d = sub.outputs[0]!;
    const du = only(d, 2);
    if (!du) continue;
    const pow = du.find((n) => is(n, 'Pow'));
    const div = du.find((n) => is(n, 'Div'));
    if (!pow || !div || pow.inputs[0] !== d || !near(scalar(pow.inputs[1]!), 2) || div.inputs[0] !== d) continue;
    const vmean = only(pow.outputs[0]!)?.[0];
    if (!is(vmean, 'ReduceMean') || !lastAxis(vmean)) continue;
    const addEps = only(vmean.outputs[0]!)?.[0];
    const eps = addEps && is(addEps, 'Add') ? scalar(other(addEps, vmean.outputs[0]!) ?? '') : undefined;
    if (!addEps || eps === undefined) continue;
    const sqrt = only(addEps.outputs[0]!)?.[0];
    if (!is(sqrt, 'Sqrt') || only(sqrt.outputs[0]!)?.[0] !== div || div.inputs[1] !== sqrt.outputs[0]) continue;
    // optional affine: Mul(γ) then Add(β), γ and β constants over the last axis
    const nodes = [mean, sub, pow, vmean, addEps, sqrt, div];
    let y = div.outputs[0]!;
    let gamma: string | undefined;
    let beta: string | undefined;
    const mul = only(y)?.[0];
    const g = mul && is(mul, 'Mul') ? other(mul, y) : undefined;
    if (mul && g && constTensor(graph, producer, g)?.dims.length === 1) {
      gamma = g;
      nodes.push(mul);
      y = mul.outputs[0]!;
      const plus = only(y)?.[0];
      const b = plus && is(plus, 'Add') ? other(plus, y) : undefined;
      if (plus && b && constTensor(graph, producer, b)?.dims.length === 1) {
        beta = b;
        nodes.push(plus);
        y = plus.outputs[0]!;
      }
    }
    if (nodes.some((n) => drop.has(n))) continue;
    let gname = gamma;
    if (!gname) {
      // LayerNormalization needs a Scale: 1s over the normalized axis (its size is only known at run time: the kernel
      // takes a Scale of the row's size, so an all-ones scalar broadcasts through the reference instead)
      gname = `${div.name}/ln_fused_scale`;
      add.push({ at: div, node: { name: `${gname}_const`, op: 'Constant', domain: '', inputs: [], outputs: [gname], attrs: { value: new Tensor('float32', Float32Array.of(1), [1]) } } });
    }
    for (const n of nodes) drop.add(n);
    const last = nodes[nodes.length - 1]!;
    add.push({ at: last, node: { name: `${last.name}/layernorm_fused`, op: 'LayerNormalization', domain: '', inputs: beta ? [x, gname, beta] : [x, gname], outputs: [y], attrs: { axis: -1, epsilon: eps } } });
    k++;
  }
  // scaled dot-product attention as PyTorch writes it (nn.MultiheadAttention, F.scaled_dot_product_attention):
  // [Div|Mul(Q, c)] → MatMul(·, Kt) → [Div|Mul(·, c)] → [Add(·, mask) | Where(bool mask, −∞, ·)] → Softmax(axis −1)
  // → MatMul(·, V); in a generate() step graph the two MatMuls are KvMatMul over the caches → KvAttention
  const opset = graph.opsets[''] ?? 17;
  /** additive masks made from boolean ones (Where below), by condition, fill value and its type */
  const masks = new Map<string, string>();
  for (const sm of graph.nodes) {
    if (!is(sm, 'Softmax') || (sm.attrs.axis ?? (opset >= 13 ? -1 : 1)) !== -1) continue;
    const pv = only(sm.outputs[0]!)?.[0];
    // a generate() step graph (ir/passes/kv-append.ts) reads the caches through KvMatMul: Q·Kᵀ with transB = 1, ·V
    // with transB = 0, over the same `length` — fused into KvAttention instead
    const kvMatMul = (n: Node | undefined, tb: number): boolean => !!n && n.op === 'KvMatMul' && n.domain === KV_DOMAIN && (n.attrs.transB ?? 0) === tb;
    const kv = kvMatMul(pv, 0);
    if (!pv || (!is(pv, 'MatMul') && !kv) || pv.inputs[0] !== sm.outputs[0] || pv.inputs[1] === sm.outputs[0]) continue;
    const nodes: Node[] = [sm, pv];
    let x = sm.inputs[0]!;
    let scale = 1;
    let mask: string | undefined;
    /** x = op(y, scalar c) for Mul/Div (either operand order for Mul): [y, factor] */
    const scaled = (n: Node | undefined, y: string): [string, number] | undefined => {
      if (!n || !only(y)) return undefined;
      if (n.domain !== '') return undefined;
      if (n.op === 'Div') {
        const c = scalar(n.inputs[1]!);
        return c !== undefined && c !== 0 && n.inputs[0] ? [n.inputs[0], 1 / c] : undefined;
      }
      if (n.op !== 'Mul') return undefined;
      for (const i of [0, 1]) {
        const c = scalar(n.inputs[i]!);
        if (c !== undefined && n.inputs[1 - i]) return [n.inputs[1 - i]!, c];
      }
      return undefined;
    };
    let p = producer.get(x);
    const plus = p;
    const extra: Node[] = [];
    let maskKey: string | undefined;
    if (plus && is(plus, 'Where') && only(x) && plus.inputs.length === 3) {
      // a boolean mask as PyTorch decoders write it: Where(masked, c, scores) with c = −∞ (or ≤ −1e30, which absorbs
      // any finite score) is scores + Where(masked, c, 0) — the additive mask the fused node takes
      const c = scalar(plus.inputs[1]!);
      if (c === undefined || !(c <= -1e30)) continue;
      // every layer of a decoder masks with the same condition and constant: one additive mask serves them all (a
      // generate() step computes it at run time, the cache length being symbolic)
      maskKey = `${plus.inputs[0]}\u0000${c}\u0000${constTensor(graph, producer, plus.inputs[1]!)?.type}`;
      mask = masks.get(maskKey);
      if (!mask) {
        const zero = `${plus.name}/sdpa_zero`;
        mask = `${plus.name}/sdpa_mask`;
        extra.push(
          { name: zero, op: 'Constant', domain: '', inputs: [], outputs: [zero], attrs: { value: new Tensor('float32', Float32Array.of(0), []) } },
          { name: mask, op: 'Where', domain: '', inputs: [plus.inputs[0]!, plus.inputs[1]!, zero], outputs: [mask], attrs: {} },
        );
      }
      nodes.push(plus);
      x = plus.inputs[2]!;
      p = producer.get(x);
    } else if (plus && is(plus, 'Add') && only(x)) {
      // the mask is the Add operand that is not the scores chain (the scores come from a MatMul, maybe scaled)
      const fromScores = (y: string | undefined): boolean => {
        const n = y ? producer.get(y) : undefined;
        const mm = (m: Node | undefined) => (kv ? kvMatMul(m, 1) : is(m, 'MatMul'));
        return mm(n) || (!!n && !!scaled(n, y!) && mm(producer.get(scaled(n, y!)![0])));
      };
      const si = fromScores(plus.inputs[0]) ? 0 : fromScores(plus.inputs[1]) ? 1 : -1;
      if (si < 0) continue;
      mask = plus.inputs[1 - si];
      nodes.push(plus);
      x = plus.inputs[si]!;
      p = producer.get(x);
    }
    const post = scaled(p, x);
    if (post) {
      nodes.push(p!);
      scale *= post[1];
      x = post[0];
      p = producer.get(x);
    }
    if (!p || !(kv ? kvMatMul(p, 1) && p.inputs[2] === pv.inputs[2] : is(p, 'MatMul')) || !only(x)) continue;
    const qk = p;
    nodes.push(qk);
    let q = qk.inputs[0]!;
    const kt = qk.inputs[1]!;
    const qn = producer.get(q);
    const pre = scaled(qn, q);
    if (pre) {
      nodes.push(qn!);
      scale *= pre[1];
      q = pre[0];
    }
    if (!mask && nodes.length < 3) continue; // a bare MatMul → Softmax → MatMul: nothing to fold but the pattern
    if (nodes.some((n) => drop.has(n)) || [q, kt, pv.inputs[1]!, mask].some((v) => v !== undefined && nodes.some((n) => n.outputs.includes(v)))) continue;
    for (const n of nodes) drop.add(n);
    for (const n of extra) add.push({ at: pv, node: n });
    if (maskKey && mask) masks.set(maskKey, mask);
    if (kv) add.push({ at: pv, node: { name: `${pv.name}/kv_attention`, op: 'KvAttention', domain: KV_DOMAIN, inputs: [q, kt, pv.inputs[1]!, pv.inputs[2]!, ...(mask ? [mask] : [])], outputs: [pv.outputs[0]!], attrs: { scale } } });
    else add.push({ at: pv, node: { name: `${pv.name}/sdpa_fused`, op: 'ScaledDotProductAttention', domain: 'ai.edgeq', inputs: mask ? [q, kt, pv.inputs[1]!, mask] : [q, kt, pv.inputs[1]!], outputs: [pv.outputs[0]!], attrs: { scale } } });
    k++;
  }
  if (!k) return graph;
  const g = graph.clone();
  const at = new Map<Node, Node[]>();
  for (const a of add) (at.get(a.at) ?? at.set(a.at, []).get(a.at)!).push(a.node);
  // each fused node takes the place of the pattern's last node (the clone keeps the original order otherwise)
  g.nodes = graph.nodes.flatMap((n, i) => (drop.has(n) ? (at.get(n) ?? []) : [g.nodes[i]!]));
  if (!g.opsets['']) g.opsets[''] = 17;
  if (add.some((a) => a.node.domain === 'ai.edgeq')) g.opsets['ai.edgeq'] ??= 1;
  if (add.some((a) => a.node.domain === KV_DOMAIN)) g.opsets[KV_DOMAIN] ??= 1;
  return g;
}

function constTensor(graph: Graph, producer: Map<string, Node>, name: string): Tensor | undefined {
  const t = graph.initializers.get(name);
  if (t) return t;
  const p = producer.get(name);
  if (!p || p.op !== 'Constant' || p.domain !== '') return undefined;
  const v = p.attrs.value;
  if (v instanceof Tensor) return v;
  if (typeof p.attrs.value_float === 'number') return new Tensor('float32', Float32Array.of(p.attrs.value_float), []);
  return undefined;
}

function intsOf(t: Tensor | undefined): number[] | undefined {
  return t && (t.type === 'int64' || t.type === 'int32') ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
}
