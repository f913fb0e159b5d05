/**
 * Cross-layer equalisation (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias
 * Correction", §4.1). For Conv1 → f → Conv2 with f positively homogeneous per channel (ReLU, MaxPool,
 * Identity: f(x/s) = f(x)/s for s > 0), output channel i of Conv1 can be divided by s_i and input channel i of
 * Conv2 multiplied by s_i without changing the float function. With r1_i = max|W1[i]| and r2_i = max|W2[:, i]|,
 * s_i = sqrt(r1_i · r2_i) / r2_i makes both ranges sqrt(r1_i · r2_i), which is what per-tensor quantization of
 * depthwise-separable nets (very unequal channel ranges) needs. Chains are swept until the scales settle.
 *
 * ReLU6 (Clip(x, 0, 6)) is not homogeneous for one scalar bound; it is rewritten exactly as
 * Relu followed by Min(·, 6/s) with a per-channel bound, so the float outputs stay the same.
 */
import type { Graph, Node } from '../ir/graph.js';
import { floats } from '../ops/util.js';
import { Tensor } from '../tensor/tensor.js';
import { Names, consumersOf, mkNode, producersOf } from './graph-util.js';

/** Ops between the two Convs that commute with a positive per-channel scale. */
const HOMOGENEOUS = new Set(['Relu', 'MaxPool', 'Identity']);

interface ConvW {
  node: Node;
  w: Float32Array;
  dims: number[];
  b: Float32Array;
  group: number;
  touched: boolean;
}

interface Pair {
  c1: ConvW;
  c2: ConvW;
  /** Clip nodes (min 0, finite max) on the path, rewritten to Relu + Min with per-channel bounds */
  clips: { node: Node; max: number }[];
  /** accumulated scale of Conv1's output channels (the Clip bounds divide by it) */
  s: Float64Array;
}

/** Constant value of a value name: an initializer, a Constant node, or an Identity of either. */
function constOf(g: Graph, prod: Map<string, Node>, name: string): Tensor | undefined {
  if (!name) return undefined;
  const t = g.initializers.get(name);
  if (t) return t;
  const p = prod.get(name);
  if (p?.op === 'Constant' && p.attrs.value instanceof Tensor) return p.attrs.value;
  if (p?.op === 'Identity') return constOf(g, prod, p.inputs[0]!);
  return undefined;
}

const gattr = (n: Node): number => (typeof n.attrs.group === 'number' ? n.attrs.group : 1);

/**
 * Equalise every Conv → (Relu | Clip(0, max) | MaxPool | Identity)* → Conv pair of `g` in place (new
 * initializers, shared weights are copied, never changed). Returns the number of pairs rescaled.
 */
export function equalize(g: Graph, sweeps = 30): number {
  const prod = producersOf(g);
  const cons = consumersOf(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const convs = new Map<Node, ConvW | null>();
  const convOf = (n: Node): ConvW | null => {
    if (convs.has(n)) return convs.get(n)!;
    let r: ConvW | null = null;
    const W = constOf(g, prod, n.inputs[1]!);
    const B = n.inputs[2] ? constOf(g, prod, n.inputs[2]) : undefined;
    if (n.op === 'Conv' && n.domain === '' && W && W.type === 'float32' && W.dims.length >= 3 && (!n.inputs[2] || (B && B.type === 'float32' && B.size === W.dims[0])))
      r = { node: n, w: Float32Array.from(floats(W)), dims: [...W.dims], b: B ? Float32Array.from(floats(B)) : new Float32Array(W.dims[0]!), group: gattr(n), touched: false };
    convs.set(n, r);
    return r;
  };
  const pairs: Pair[] = [];
  for (const n of g.nodes) {
    const c1 = n.op === 'Conv' ? convOf(n) : null;
    if (!c1) continue;
    const clips: Pair['clips'] = [];
    let v = n.outputs[0]!;
    let c2: ConvW | null = null;
    for (;;) {
      const cs = cons.get(v) ?? [];
      if (cs.length !== 1 || outputs.has(v)) break;
      const m = cs[0]!;
      if (m.op === 'Conv' && m.inputs[0] === v && !m.inputs.slice(1).includes(v)) {
        c2 = convOf(m);
        break;
      }
      if (m.inputs[0] !== v || m.outputs.filter(Boolean).length !== 1 || m.domain !== '') break;
      if (m.op === 'Clip') {
        const lo = constOf(g, prod, m.inputs[1] ?? '');
        const hi = m.inputs[2] ? constOf(g, prod, m.inputs[2]) : undefined;
        if (!lo || lo.size !== 1 || floats(lo)[0] !== 0 || (m.inputs[2] && (!hi || hi.size !== 1))) break;
        const max = hi ? floats(hi)[0]! : Infinity;
        if (!(max > 0)) break;
        if (Number.isFinite(max)) clips.push({ node: m, max });
      } else if (!HOMOGENEOUS.has(m.op)) break;
      v = m.outputs[0]!;
    }
    if (!c2 || c2 === c1) continue;
    const M1 = c1.dims[0]!;
    const C2 = c2.dims[1]! * c2.group;
    if (M1 !== C2 || c2.dims[0]! % c2.group !== 0) continue;
    pairs.push({ c1, c2, clips, s: new Float64Array(M1).fill(1) });
  }
  if (!pairs.length) return 0;

  for (let it = 0; it < sweeps; it++) {
    let worst = 0;
    for (const p of pairs) {
      const { c1, c2 } = p;
      const M = c1.dims[0]!;
      const per1 = c1.w.length / M;
      const M2 = c2.dims[0]!;
      const cpg = c2.dims[1]!;
      const mpg = M2 / c2.group;
      const per2 = c2.w.length / (M2 * cpg);
      for (let i = 0; i < M; i++) {
        let r1 = 0;
        for (let k = 0; k < per1; k++) r1 = Math.max(r1, Math.abs(c1.w[i * per1 + k]!));
        const grp = Math.floor(i / cpg);
        const j = i % cpg;
        let r2 = 0;
        for (let m = grp * mpg; m < (grp + 1) * mpg; m++) {
          const base = (m * cpg + j) * per2;
          for (let k = 0; k < per2; k++) r2 = Math.max(r2, Math.abs(c2.w[base + k]!));
        }
        if (!(r1 > 0) || !(r2 > 0) || !Number.isFinite(r1) || !Number.isFinite(r2)) continue;
        // s_i = sqrt(r1_i · r2_i) / r2_i
        const s = Math.sqrt(r1 * r2) / r2;
        if (Math.abs(Math.log(s)) < 1e-7) continue;
        worst = Math.max(worst, Math.abs(Math.log(s)));
        for (let k = 0; k < per1; k++) c1.w[i * per1 + k] = c1.w[i * per1 + k]! / s;
        c1.b[i] = c1.b[i]! / s;
        for (let m = grp * mpg; m < (grp + 1) * mpg; m++) {
          const base = (m * cpg + j) * per2;
          for (let k = 0; k < per2; k++) c2.w[base + k] = c2.w[base + k]! * s;
        }
        p.s[i] = p.s[i]! * s;
        c1.touched = c2.touched = true;
      }
    }
    if (worst < 1e-4) break;
  }

  const names = new Names(g);
  for (const c of convs.values()) {
    if (!c?.touched) continue;
    const n = c.node;
    const wn = names.take(`${n.inputs[1]}_equalized`);
    g.initializers.set(wn, new Tensor('float32', c.w, c.dims));
    const bn = names.take(`${n.inputs[2] || `${n.name}_bias`}_equalized`);
    g.initializers.set(bn, new Tensor('float32', c.b, [c.dims[0]!]));
    n.inputs = [n.inputs[0]!, wn, bn];
  }
  // Clip(x, 0, max) on a channel scaled by 1/s: Relu then Min(·, max/s) per channel
  const extra = new Map<Node, Node>();
  for (const p of pairs) {
    const rank = p.c1.dims.length; // output rank = weight rank (N, C, spatial…)
    for (const { node, max } of p.clips) {
      const bound = new Float32Array(p.s.length);
      for (let i = 0; i < bound.length; i++) bound[i] = max / p.s[i]!;
      const bn = names.take(`${node.name}_max_equalized`);
      g.initializers.set(bn, new Tensor('float32', bound, [bound.length, ...new Array<number>(rank - 2).fill(1)]));
      const r = names.take(`${node.outputs[0]}_relu`);
      const y = node.outputs[0]!;
      const relu = mkNode(node.name, 'Relu', [node.inputs[0]!], [r]);
      extra.set(node, relu);
      extra.set(relu, mkNode(names.take(`${node.name}_Min`), 'Min', [r, bn], [y]));
    }
  }
  if (extra.size) {
    const out: Node[] = [];
    for (const n of g.nodes) {
      const r = extra.get(n);
      if (!r) out.push(n);
      else out.push(r, extra.get(r)!);
    }
    g.nodes = out;
  }
  const used = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of g.nodes) for (const x of n.inputs) used.add(x);
  for (const k of [...g.initializers.keys()]) if (!used.has(k)) g.initializers.delete(k);
  return pairs.length;
}

/**
 * Point the weight / bias inputs of Conv, Gemm and MatMul nodes that come from an Identity of an initializer
 * or from a Constant node straight at an initializer (exporters emit such chains for shared weights), so that
 * those layers can be quantized and equalised. Returns the number of inputs rewritten.
 */
export function resolveConstInputs(g: Graph): number {
  const prod = producersOf(g);
  const names = new Names(g);
  const made = new Map<string, string>();
  let n = 0;
  for (const node of g.nodes) {
    if (node.op !== 'Conv' && node.op !== 'Gemm' && node.op !== 'MatMul') continue;
    node.inputs = node.inputs.map((x, i) => {
      if (i === 0 || !x || g.initializers.has(x)) return x;
      let p = prod.get(x);
      while (p?.op === 'Identity' && !g.initializers.has(p.inputs[0]!)) p = prod.get(p.inputs[0]!);
      if (p?.op === 'Identity') return (n++, p.inputs[0]!);
      if (p?.op === 'Constant' && p.attrs.value instanceof Tensor) {
        let c = made.get(p.outputs[0]!);
        if (!c) {
          c = names.take(`${p.outputs[0]}_const`);
          g.initializers.set(c, p.attrs.value);
          made.set(p.outputs[0]!, c);
        }
        n++;
        return c;
      }
      return x;
    });
  }
  return n;
}
