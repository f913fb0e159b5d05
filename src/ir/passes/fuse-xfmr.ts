import { Graph, type Node } from '../graph.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Dim, ValueType } from '../graph.js';
import { analyze } from '../infer.js';
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
  return fuseCacheAttention(fusePatterns(graph));
}

/**
 * The graph's links: the node computing each value, the nodes reading it (once per use), the graph outputs, and
 * `only(v, n)`: v's n readers when it has exactly n and is not a graph output.
 */
function links(graph: Graph) {
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
  return { producer, uses, graphOut, only };
}

function fusePatterns(graph: Graph): Graph {
  const { producer, only } = links(graph);
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

/**
 * A decoder's attention block over an explicit KV cache, as PyTorch exports it (after the rewrites above made its
 * attention one ScaledDotProductAttention node), becomes one ai.edgeq CacheAttention (ops/attention.ts):
 *
 *     [q, k, v] = Split(qkv, last axis)                              (or three separate [B, S, H·hd] values)
 *     Qh = Transpose(Reshape(q, [B, S, H, hd]), [0,2,1,3])            likewise Kh, Vh
 *     present_k = Concat(past_k, Kh, axis 2)    present_v = Concat(past_v, Vh, axis 2)
 *     Y = Transpose(ScaledDotProductAttention(Qh, Transpose(present_k, [0,1,3,2]), present_v, mask?), [0,2,1,3])
 *
 * → `Y, present_k, present_v = CacheAttention(qkv, qkv, qkv, past_k, past_v, mask?)` with the Split's column offsets.
 * The Reshapes must keep [B, S] (checked on the inferred types); every value inside the pattern has no other reader
 * and is not a graph output, except present_k / present_v (graph outputs, read by nothing else). Float32 only.
 * In a generate() step graph (ir/passes/kv-append.ts) the same block reads KvAppend(cache, new heads, position) through
 * KvAttention: it becomes `Y, cache_k', cache_v' = KvAppendAttention(qkv, qkv, qkv, cache_k, cache_v, position,
 * length, mask?)` (ops/kv-cache.ts), whose kernel writes the new rows into the cache blocks in place.
 */
function fuseCacheAttention(graph: Graph): Graph {
  const isKv = (n: Node | undefined, op: string): n is Node => !!n && n.op === op && n.domain === KV_DOMAIN;
  if (!graph.nodes.some((n) => (n.op === 'ScaledDotProductAttention' && n.domain === 'ai.edgeq') || isKv(n, 'KvAttention'))) return graph;
  let types: Map<string, ValueType>;
  try {
    types = analyze(graph, { fold: false }).types;
  } catch {
    return graph; // a graph the analysis cannot type keeps its nodes (the plan reports why)
  }
  const { producer, uses, graphOut, only: readers } = links(graph);
  const only = (v: string): Node | undefined => readers(v)?.[0];
  const perm = (n: Node | undefined, p: number[]): n is Node => !!n && n.op === 'Transpose' && n.domain === '' && JSON.stringify(n.attrs.perm) === JSON.stringify(p);
  const shape = (x: string): readonly Dim[] | undefined => {
    const t = types.get(x);
    return t && t.dtype === 'float32' && !t.sequence ? t.shape : undefined;
  };
  /** x = Transpose(Reshape(r, [B, S, H, d]), [0,2,1,3]) of float32 rows r [B, S, H·d]: { r, H, d, nodes } */
  const heads = (x: string): { r: string; H: number; d: number; nodes: Node[] } | undefined => {
    const t = producer.get(x);
    if (!perm(t, [0, 2, 1, 3])) return undefined;
    const rs = producer.get(t.inputs[0]!);
    if (!rs || rs.op !== 'Reshape' || rs.domain !== '' || only(t.inputs[0]!) !== t) return undefined;
    const r = rs.inputs[0]!;
    const a = shape(r);
    const b = shape(rs.outputs[0]!);
    if (!a || !b || a.length !== 3 || b.length !== 4 || typeof b[2] !== 'number' || typeof b[3] !== 'number' || a[0] !== b[0] || a[1] !== b[1]) return undefined;
    if (typeof a[0] !== 'number' && (a[0] === '' || a[0] === '?')) return undefined; // unknown dims equal by name only
    if (typeof a[1] !== 'number' && (a[1] === '' || a[1] === '?')) return undefined;
    if (a[2] !== b[2] * b[3]) return undefined;
    return { r, H: b[2], d: b[3], nodes: [t, rs] };
  };
  /** present = Concat(past, new heads, axis 2) read only by `reader` (besides being a graph output) */
  const cache = (present: string, reader: Node): { past: string; h: NonNullable<ReturnType<typeof heads>>; cat: Node } | undefined => {
    const cat = producer.get(present);
    if (!cat || cat.op !== 'Concat' || cat.domain !== '' || cat.inputs.length !== 2 || (cat.attrs.axis !== 2 && cat.attrs.axis !== -2)) return undefined;
    if ((uses.get(present) ?? []).some((n) => n !== reader) || (uses.get(present) ?? []).length !== 1) return undefined;
    const past = cat.inputs[0]!;
    if (shape(past)?.length !== 4 || only(cat.inputs[1]!) !== cat) return undefined;
    const h = heads(cat.inputs[1]!);
    return h && { past, h, cat };
  };
  const drop = new Set<Node>();
  const add = new Map<Node, Node>();
  /** the generate() form: cache' = KvAppend(cache, new heads, position) read only by `reader` */
  const appended = (present: string, reader: Node): { cache: string; pos: string; h: NonNullable<ReturnType<typeof heads>>; app: Node } | undefined => {
    const app = producer.get(present);
    if (!isKv(app, 'KvAppend') || (uses.get(present) ?? []).length !== 1 || uses.get(present)![0] !== reader || graphOut.has(present)) return undefined;
    const [cache, x, pos] = app.inputs as [string, string, string];
    if (shape(cache)?.length !== 4 || only(x) !== app) return undefined;
    const h = heads(x);
    return h && { cache, pos, h, app };
  };
  /** [q, k, v] rows and column offsets: the three parts of one Split on the last axis read by nothing else, as its input */
  const splitRows = (rows: string[], nodes: Node[]): { rows: string[]; offsets: number[] } => {
    const sp = producer.get(rows[0]!);
    if (sp && sp.op === 'Split' && sp.domain === '' && sp.outputs.length === 3 && sp.outputs.every((o, i) => o === rows[i] && only(o))) {
      const xs = shape(sp.inputs[0]!);
      const w = rows.map((r) => shape(r)![2]);
      const axis = sp.attrs.axis ?? 0;
      if (xs?.length === 3 && (axis === 2 || axis === -1) && w.every((d) => typeof d === 'number')) {
        nodes.push(sp);
        return { rows: [sp.inputs[0]!, sp.inputs[0]!, sp.inputs[0]!], offsets: [0, w[0] as number, (w[0] as number) + (w[1] as number)] };
      }
    }
    return { rows, offsets: [0, 0, 0] };
  };
  for (const kva of graph.nodes) {
    if (!isKv(kva, 'KvAttention')) continue;
    const [qh, pk, pv, len, mask] = kva.inputs as [string, string, string, string, string | undefined];
    const out = only(kva.outputs[0]!);
    if (!perm(out, [0, 2, 1, 3]) || only(qh) !== kva) continue;
    const q = heads(qh);
    const ak = appended(pk, kva);
    const av = appended(pv, kva);
    if (!q || !ak || !av || ak.pos !== av.pos || q.H !== ak.h.H || q.H !== av.h.H || q.d !== ak.h.d) continue;
    if (shape(ak.cache)![3] !== q.d || shape(av.cache)![3] !== av.h.d) continue;
    const nodes = [kva, out, ak.app, av.app, ...q.nodes, ...ak.h.nodes, ...av.h.nodes];
    const { rows, offsets } = splitRows([q.r, ak.h.r, av.h.r], nodes);
    if (nodes.some((n) => drop.has(n))) continue;
    for (const n of nodes) drop.add(n);
    add.set(kva, {
      name: `${kva.name}/append_attention`,
      op: 'KvAppendAttention',
      domain: KV_DOMAIN,
      inputs: [...rows, ak.cache, av.cache, ak.pos, len, ...(mask ? [mask] : [])],
      outputs: [out.outputs[0]!, pk, pv],
      attrs: { heads: q.H, scale: kva.attrs.scale ?? 1, offsets },
    });
  }
  for (const sdpa of graph.nodes) {
    if (sdpa.op !== 'ScaledDotProductAttention' || sdpa.domain !== 'ai.edgeq') continue;
    const [qh, kt, pv, mask] = sdpa.inputs as [string, string, string, string | undefined];
    const out = only(sdpa.outputs[0]!);
    if (!perm(out, [0, 2, 1, 3]) || only(qh) !== sdpa) continue;
    const tk = producer.get(kt);
    if (!perm(tk, [0, 1, 3, 2]) || only(kt) !== sdpa) continue;
    const q = heads(qh);
    const ck = cache(tk.inputs[0]!, tk);
    const cv = cache(pv, sdpa);
    if (!q || !ck || !cv || q.H !== ck.h.H || q.H !== cv.h.H || q.d !== ck.h.d) continue;
    if (shape(ck.past)![3] !== q.d || shape(cv.past)![3] !== cv.h.d) continue;
    const nodes = [sdpa, out, tk, ck.cat, cv.cat, ...q.nodes, ...ck.h.nodes, ...cv.h.nodes];
    const { rows, offsets } = splitRows([q.r, ck.h.r, cv.h.r], nodes);
    if (nodes.some((n) => drop.has(n))) continue;
    for (const n of nodes) drop.add(n);
    add.set(sdpa, {
      name: `${sdpa.name}/cache_attention`,
      op: 'CacheAttention',
      domain: 'ai.edgeq',
      inputs: [...rows, ck.past, cv.past, ...(mask ? [mask] : [])],
      outputs: [out.outputs[0]!, ck.cat.outputs[0]!, cv.cat.outputs[0]!],
      attrs: { heads: q.H, scale: sdpa.attrs.scale ?? 1, offsets },
    });
  }
  if (!add.size) return graph;
  const g = graph.clone();
  if ([...add.values()].some((n) => n.domain === 'ai.edgeq')) g.opsets['ai.edgeq'] ??= 1;
  // the fused node takes the attention's place: every input (rows, pasts, mask) is computed before it, and the
  // presents' only reader was the attention
  g.nodes = graph.nodes.flatMap((n, i) => (add.has(n) ? [add.get(n)!] : drop.has(n) ? [] : [g.nodes[i]!]));
  for (const n of drop) for (const o of n.outputs) if (o && !graphOut.has(o)) g.types.delete(o);
  return g;
}
