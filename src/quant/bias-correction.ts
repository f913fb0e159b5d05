/**
 * Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and
 * Bias Correction", §4.2): quantizing W to W_q shifts the expected layer output by
 * E[W_q x] − E[W x] = (W_q − W)·E[x]; subtracting that shift per output channel from the bias removes the
 * biased part of the weight-quantization error. The expectation is measured on the calibration data with the
 * float model's inputs to each layer (every layer is corrected independently of the others).
 */
import type { Graph, Node } from '../ir/graph.js';
import { floats } from '../ops/util.js';
import { InferenceSession } from '../runtime/session.js';
import { Tensor } from '../tensor/tensor.js';
import { type CalibData, batches, calibFeeds } from './calibrate.js';
import { Names, mkNode } from './graph-util.js';
import { channelLayout, forChannel } from './params.js';
import type { WInfo } from './quantize.js';

/** Dequantized weights of a quantized layer (float32, the W_q the quantized model computes with). */
export function dequantizedWeights(g: Graph, wi: WInfo): Float32Array {
  const W = g.initializers.get(wi.w)!;
  const out = new Float32Array(W.size);
  const { q, scales, zeroPoints } = wi.wq;
  if (wi.axis === undefined) {
    for (let i = 0; i < out.length; i++) out[i] = Math.fround((q[i]! - zeroPoints[0]!) * scales[0]!);
    return out;
  }
  const l = channelLayout(W.dims, wi.axis);
  for (let c = 0; c < l.channels; c++) forChannel(l, c, (i) => (out[i] = Math.fround((q[i]! - zeroPoints[c]!) * scales[c]!)));
  return out;
}

/** Per-channel sums of an output tensor: channel axis 1 for Conv (NC…), the last axis for Gemm/MatMul. */
function channelSums(t: Tensor, conv: boolean, acc: Float64Array): number {
  const v = floats(t);
  const axis = conv ? 1 : t.dims.length - 1;
  const l = channelLayout(t.dims, axis);
  for (let c = 0; c < l.channels; c++) {
    let s = 0;
    forChannel(l, c, (i) => (s += v[i]!));
    acc[c]! += s;
  }
  return l.outer * l.inner;
}

/**
 * Correct the biases of the quantized layers in `g` (in place: new bias initializers; a Conv or Gemm without
 * a bias gets one). Returns, per corrected node, the mean over channels of |E[y_q] − E[y]| before and after.
 *
 * 'sequential' (default, Nagel et al.'s empirical form): layers are corrected in graph order on a model whose
 * weights are all quantized, so E[y_q] of a layer includes the (already corrected) error arriving from the
 * layers before it; one pass over the calibration data per layer. 'independent': one pass, each layer fed the
 * float model's input, so only its own weight error (W_q − W)·E[x] is removed.
 */
export async function correctBiases(g: Graph, wq: Map<Node, WInfo>, calib: CalibData, batch: number, how: 'sequential' | 'independent' = 'sequential'): Promise<Map<string, { before: number; after: number }>> {
  const names = new Names(g);
  const todo: { n: Node; wi: WInfo; y: string; yq: string; conv: boolean; ch: number; bias: string }[] = [];
  // independent: float graph + a weight-quantized copy of each layer on the float input;
  // sequential: the whole graph with quantized weights (nodes copied, same value names)
  const aug = g.clone();
  aug.nodes = how === 'independent' ? [...g.nodes] : g.nodes.map((n) => ({ ...n, inputs: [...n.inputs] }));
  for (const [n, wi] of wq) {
    const conv = n.op === 'Conv';
    const hasC = !!n.inputs[2];
    // a Gemm C that is not a plain [N] bias (beta ≠ 1, 2-D C, …) and MatMul cannot take the correction
    if (n.op === 'MatMul' || (!conv && hasC && !wi.bias) || (!conv && typeof n.attrs.beta === 'number' && n.attrs.beta !== 1)) continue;
    const W = g.initializers.get(wi.w)!;
    const ch = conv ? W.dims[0]! : W.dims[n.attrs.transB === 1 ? 0 : 1]!;
    const wqName = names.take(`${wi.w}_biascorr_wq`);
    aug.initializers.set(wqName, new Tensor('float32', dequantizedWeights(g, wi), W.dims));
    const bias = names.take(`${n.name}_biascorr_b`);
    aug.initializers.set(bias, wi.bias ? g.initializers.get(wi.bias)! : new Tensor('float32', new Float32Array(ch), [ch]));
    const y = n.outputs[0]!;
    if (how === 'independent') {
      const yq = names.take(`${y}_biascorr_q`);
      aug.nodes.push(mkNode(names.take(`${n.name}_biascorr`), n.op, [n.inputs[0]!, wqName, bias], [yq], { ...n.attrs }));
      todo.push({ n, wi, y, yq, conv, ch, bias });
    } else {
      const an = aug.nodes[g.nodes.indexOf(n)]!;
      an.inputs = [an.inputs[0]!, wqName, bias];
      todo.push({ n, wi, y, yq: y, conv, ch, bias });
    }
  }
  const res = new Map<string, { before: number; after: number }>();
  if (!todo.length) return res;
  const { feeds, samples } = calibFeeds(g, calib);
  /** per-channel means of `fetch` outputs of graph `m` over the calibration data */
  const means = async (m: Graph, fetch: { name: string; conv: boolean; ch: number }[]): Promise<Float64Array[]> => {
    const sums = fetch.map((t) => new Float64Array(t.ch));
    const cnt = new Float64Array(fetch.length);
    const s = InferenceSession.fromGraph(m);
    try {
      for (const f of batches(feeds, samples, batch)) {
        const out = s.runSync(f, [...new Set(fetch.map((t) => t.name))]);
        fetch.forEach((t, k) => (cnt[k]! += channelSums(out[t.name]!, t.conv, sums[k]!)));
      }
    } finally {
      await s.release();
    }
    return sums.map((v, k) => v.map((x) => x / cnt[k]!));
  };
  const apply = (t: (typeof todo)[number], mf: Float64Array, mq: Float64Array) => {
    const old = floats(aug.initializers.get(t.bias)!);
    const nb = new Float32Array(t.ch);
    let before = 0;
    let after = 0;
    for (let c = 0; c < t.ch; c++) {
      const delta = mq[c]! - mf[c]!;
      before += Math.abs(delta);
      // b' = b − (E[W_q x] − E[W x])
      nb[c] = old[c]! - delta;
      // what is left of the shift once the float32 bias carries it (rounding only)
      after += Math.abs(delta - (old[c]! - nb[c]!));
    }
    const bt = new Tensor('float32', nb, [t.ch]);
    aug.initializers.set(t.bias, bt);
    const bn = names.take(`${t.wi.bias ?? `${t.n.name}_bias`}_corrected`);
    g.initializers.set(bn, bt);
    t.n.inputs[2] = bn;
    t.wi.bias = bn;
    res.set(t.n.name, { before: before / t.ch, after: after / t.ch });
  };
  const mf = await means(g, todo.map((t) => ({ name: t.y, conv: t.conv, ch: t.ch })));
  if (how === 'independent') {
    const mq = await means(aug, todo.map((t) => ({ name: t.yq, conv: t.conv, ch: t.ch })));
    todo.forEach((t, k) => apply(t, mf[k]!, mq[k]!));
  } else
    for (let k = 0; k < todo.length; k++) {
      const t = todo[k]!;
      const [mq] = await means(aug, [{ name: t.y, conv: t.conv, ch: t.ch }]);
      apply(t, mf[k]!, mq!);
    }
  return res;
}
