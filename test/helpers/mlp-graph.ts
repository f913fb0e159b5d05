// Random static-shape MLP graphs for the static-plan and Interpreter tests.
import fc from 'fast-check';
import { Graph, type Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/tensor/tensor.js';

export type Layer = { op: 'MatMul' | 'Gemm'; n: number; bias: boolean; act: 'none' | 'Relu' | 'Clip' | 'Sigmoid'; residual: boolean; flatten: boolean; norm?: boolean };

/** An MLP of MatMul / Gemm layers with bias Adds, activations, residual Adds and Flatten views (static shapes). */
export function mlp(m: number, k0: number, layers: Layer[], seed: number): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [m, k0] } }];
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.8;
  const nodes: Node[] = [];
  let cur = 'x';
  let k = k0;
  layers.forEach((l, i) => {
    const w = `w${i}`;
    g.initializers.set(w, new Tensor('float32', Float32Array.from({ length: k * l.n }, rnd), l.op === 'Gemm' ? [l.n, k] : [k, l.n]));
    const y = `y${i}`;
    if (l.op === 'Gemm') {
      const inputs = [cur, w];
      if (l.bias) {
        g.initializers.set(`c${i}`, new Tensor('float32', Float32Array.from({ length: l.n }, rnd), [l.n]));
        inputs.push(`c${i}`);
      }
      nodes.push({ name: `gemm${i}`, op: 'Gemm', domain: '', inputs, outputs: [y], attrs: { transB: 1 } });
    } else {
      nodes.push({ name: `mm${i}`, op: 'MatMul', domain: '', inputs: [cur, w], outputs: [l.bias ? `${y}_mm` : y], attrs: {} });
      if (l.bias) {
        g.initializers.set(`b${i}`, new Tensor('float32', Float32Array.from({ length: l.n }, rnd), [l.n]));
        nodes.push({ name: `bias${i}`, op: 'Add', domain: '', inputs: [`${y}_mm`, `b${i}`], outputs: [y], attrs: {} });
      }
    }
    let out = y;
    // a residual connection (x + Linear(x)) when the widths agree: folded into the MatMul's epilogue
    if (l.residual && l.n === k && l.op === 'MatMul') {
      nodes.push({ name: `res${i}`, op: 'Add', domain: '', inputs: [out, cur], outputs: [`${y}_res`], attrs: {} });
      out = `${y}_res`;
    }
    // LayerNormalization over the features (openWakeWord's classifier heads: Gemm → LayerNorm → Relu); the
    // activation after it folds into its store (Relu/Clip) or runs over its output (Sigmoid)
    if (l.norm) {
      g.initializers.set(`g${i}`, new Tensor('float32', Float32Array.from({ length: l.n }, () => 1 + rnd()), [l.n]));
      g.initializers.set(`be${i}`, new Tensor('float32', Float32Array.from({ length: l.n }, rnd), [l.n]));
      nodes.push({ name: `ln${i}`, op: 'LayerNormalization', domain: '', inputs: [out, `g${i}`, `be${i}`], outputs: [`${y}_ln`], attrs: { axis: -1, epsilon: 1e-5 } });
      out = `${y}_ln`;
    }
    if (l.act !== 'none') {
      const inputs = [out];
      if (l.act === 'Clip') {
        g.initializers.set(`lo${i}`, new Tensor('float32', new Float32Array([-0.25]), []));
        g.initializers.set(`hi${i}`, new Tensor('float32', new Float32Array([0.5]), []));
        inputs.push(`lo${i}`, `hi${i}`);
      }
      nodes.push({ name: `act${i}`, op: l.act, domain: '', inputs, outputs: [`${y}_act`], attrs: {} });
      out = `${y}_act`;
    }
    if (l.flatten) {
      nodes.push({ name: `flat${i}`, op: 'Flatten', domain: '', inputs: [out], outputs: [`${y}_flat`], attrs: { axis: 1 } });
      out = `${y}_flat`;
    }
    cur = out;
    k = l.n;
  });
  g.nodes = nodes;
  // the last value and, when there is one, an intermediate as a second output
  g.outputs = [{ name: cur, type: { dtype: 'float32' } }];
  const mid = nodes[Math.floor(nodes.length / 2)]!.outputs[0]!;
  if (mid !== cur) g.outputs.push({ name: mid, type: { dtype: 'float32' } });
  return g;
}

export const layer = fc.record({
  op: fc.constantFrom('MatMul' as const, 'MatMul' as const, 'Gemm' as const),
  n: fc.integer({ min: 1, max: 20 }),
  bias: fc.boolean(),
  act: fc.constantFrom('none' as const, 'Relu' as const, 'Clip' as const, 'Sigmoid' as const),
  residual: fc.boolean(),
  flatten: fc.boolean(),
  norm: fc.boolean(),
});


export type ConvLayer = {
  kind: 'dw3' | 'dw5' | 'pw' | 'full' | 'grouped';
  n: number;
  stride: 1 | 2;
  /** extra padding at the end of H / W (asymmetric pads) */
  padEnd: 0 | 1;
  bias: boolean;
  /** PRelu: per-channel slopes [m, 1, 1] (MediaPipe's conv → Add → PRelu, stored by the conv's fused epilogue) */
  act: 'none' | 'Relu' | 'Clip' | 'PRelu';
  residual: boolean;
  pool: 'none' | 'MaxPool' | 'AveragePool';
  transpose: boolean;
  slice: boolean;
  /** most weights zero (the sparse conv kernel takes such a non-depthwise conv) */
  sparse: boolean;
  /** a layer after: Concat with the conv's input (same H×W), a constant spatial Pad, a 2× linear Resize, or a
   * GlobalAveragePool (then nothing follows it but other layers' 1×1 geometry) */
  extra: 'none' | 'concat' | 'pad' | 'resize' | 'gap' | 'deconv';
};

export const convLayer = fc.record({
  kind: fc.constantFrom('dw3' as const, 'dw5' as const, 'pw' as const, 'full' as const, 'grouped' as const),
  n: fc.integer({ min: 1, max: 12 }),
  stride: fc.constantFrom(1 as const, 2 as const),
  padEnd: fc.constantFrom(0 as const, 1 as const),
  bias: fc.boolean(),
  act: fc.constantFrom('none' as const, 'Relu' as const, 'Clip' as const, 'PRelu' as const),
  residual: fc.boolean(),
  pool: fc.constantFrom('none' as const, 'none' as const, 'MaxPool' as const, 'AveragePool' as const),
  transpose: fc.boolean(),
  slice: fc.boolean(),
  sparse: fc.boolean(),
  extra: fc.constantFrom('none' as const, 'none' as const, 'concat' as const, 'pad' as const, 'resize' as const, 'gap' as const, 'deconv' as const),
});

/**
 * A small NCHW float CNN of static shape (MediaPipe-like): depthwise 3×3 / 5×5, pointwise, full and grouped convs
 * (strides, asymmetric pads, sparse weights), bias, Relu/Clip/PRelu, residual Adds, Max/Average pools, H↔W Transposes,
 * channel Slices and Concats, constant Pads, linear Resizes, ConvTranspose, GlobalAveragePool.
 */
export function cnn(c0: number, h0: number, w0: number, layers: ConvLayer[], seed: number): Graph {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'x', type: { dtype: 'float32', shape: [1, c0, h0, w0] } }];
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.8;
  const nodes: Node[] = [];
  let [cur, c, h, w] = ['x', c0, h0, w0];
  const init = (name: string, dims: number[], f = rnd) => g.initializers.set(name, new Tensor('float32', Float32Array.from({ length: dims.reduce((a, d) => a * d, 1) }, f), dims));
  layers.forEach((l, i) => {
    const k = l.kind === 'dw5' ? 5 : l.kind === 'pw' ? 1 : 3;
    const depthwise = l.kind === 'dw3' || l.kind === 'dw5';
    const group = depthwise ? c : l.kind === 'grouped' && c % 2 === 0 ? 2 : 1;
    const m = depthwise ? c : group === 2 ? 2 * Math.max(1, l.n >> 1) : l.n;
    const p = k >> 1;
    const stride = h >= k && w >= k ? l.stride : 1;
    const pads = [p, p, p + (k > 1 ? l.padEnd : 0), p + (k > 1 ? l.padEnd : 0)];
    const oh = Math.floor((h + pads[0]! + pads[2]! - k) / stride) + 1;
    const ow = Math.floor((w + pads[1]! + pads[3]! - k) / stride) + 1;
    let z = 0;
    init(`w${i}`, [m, c / group, k, k], l.sparse && !depthwise ? () => (z++ % 10 === 3 ? rnd() : 0) : rnd);
    const [cIn, hIn, wIn, xIn] = [c, h, w, cur];
    const inputs = [cur, `w${i}`];
    if (l.bias) {
      init(`b${i}`, [m]);
      inputs.push(`b${i}`);
    }
    let out = `conv${i}`;
    nodes.push({ name: `conv${i}`, op: 'Conv', domain: '', inputs, outputs: [out], attrs: { kernel_shape: [k, k], strides: [stride, stride], pads, group } });
    // a residual connection when the shapes agree (folded into the conv's epilogue)
    if (l.residual && m === c && oh === h && ow === w) {
      nodes.push({ name: `res${i}`, op: 'Add', domain: '', inputs: [out, cur], outputs: [`${out}_res`], attrs: {} });
      out = `${out}_res`;
    }
    if (l.act !== 'none') {
      const ins = [out];
      if (l.act === 'Clip') {
        init(`lo${i}`, [], () => -0.25);
        init(`hi${i}`, [], () => 0.5);
        ins.push(`lo${i}`, `hi${i}`);
      }
      if (l.act === 'PRelu') {
        init(`sl${i}`, [m, 1, 1]);
        ins.push(`sl${i}`);
      }
      nodes.push({ name: `act${i}`, op: l.act, domain: '', inputs: ins, outputs: [`${out}_act`], attrs: {} });
      out = `${out}_act`;
    }
    [c, h, w] = [m, oh, ow];
    if (l.pool !== 'none' && h >= 2 && w >= 2) {
      const big = h >= 3 && w >= 3 && l.stride === 1;
      const attrs = big ? { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] } : { kernel_shape: [2, 2], strides: [2, 2] };
      nodes.push({ name: `pool${i}`, op: l.pool, domain: '', inputs: [out], outputs: [`${out}_pool`], attrs });
      out = `${out}_pool`;
      if (!big) [h, w] = [h >> 1, w >> 1];
    }
    if (l.transpose) {
      nodes.push({ name: `tr${i}`, op: 'Transpose', domain: '', inputs: [out], outputs: [`${out}_tr`], attrs: { perm: [0, 1, 3, 2] } });
      out = `${out}_tr`;
      [h, w] = [w, h];
    }
    if (l.extra === 'concat' && h === hIn && w === wIn && !l.transpose) {
      nodes.push({ name: `cat${i}`, op: 'Concat', domain: '', inputs: [out, xIn], outputs: [`${out}_cat`], attrs: { axis: 1 } });
      out = `${out}_cat`;
      c += cIn;
    } else if (l.extra === 'pad') {
      g.initializers.set(`pd${i}`, new Tensor('int64', BigInt64Array.of(0n, 0n, 1n, 0n, 0n, 0n, 0n, 2n), [8]));
      nodes.push({ name: `pad${i}`, op: 'Pad', domain: '', inputs: [out, `pd${i}`], outputs: [`${out}_pad`], attrs: { mode: 'constant' } });
      out = `${out}_pad`;
      [h, w] = [h + 1, w + 2];
    } else if (l.extra === 'resize' && h * w <= 64) {
      g.initializers.set(`sz${i}`, new Tensor('int64', BigInt64Array.of(1n, BigInt(c), BigInt(2 * h), BigInt(2 * w)), [4]));
      nodes.push({ name: `rs${i}`, op: 'Resize', domain: '', inputs: [out, '', '', `sz${i}`], outputs: [`${out}_rs`], attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' } });
      out = `${out}_rs`;
      [h, w] = [2 * h, 2 * w];
    } else if (l.extra === 'deconv' && h * w <= 64) {
      // ConvTranspose 2×2 stride 2 (selfie_segmentation's upsampling), bias, then Relu
      init(`dw${i}`, [c, 3, 2, 2]);
      init(`db${i}`, [3]);
      nodes.push({ name: `dc${i}`, op: 'ConvTranspose', domain: '', inputs: [out, `dw${i}`, `db${i}`], outputs: [`${out}_dc`], attrs: { kernel_shape: [2, 2], strides: [2, 2] } });
      nodes.push({ name: `dcr${i}`, op: 'Relu', domain: '', inputs: [`${out}_dc`], outputs: [`${out}_dcr`], attrs: {} });
      out = `${out}_dcr`;
      [c, h, w] = [3, 2 * h, 2 * w];
    } else if (l.extra === 'gap') {
      nodes.push({ name: `gap${i}`, op: 'GlobalAveragePool', domain: '', inputs: [out], outputs: [`${out}_gap`], attrs: {} });
      out = `${out}_gap`;
      [h, w] = [1, 1];
    }
    if (l.slice && c >= 2) {
      g.initializers.set(`st${i}`, new Tensor('int64', BigInt64Array.of(1n), [1]));
      g.initializers.set(`en${i}`, new Tensor('int64', BigInt64Array.of(BigInt(c)), [1]));
      g.initializers.set(`ax${i}`, new Tensor('int64', BigInt64Array.of(1n), [1]));
      nodes.push({ name: `sl${i}`, op: 'Slice', domain: '', inputs: [out, `st${i}`, `en${i}`, `ax${i}`], outputs: [`${out}_sl`], attrs: {} });
      out = `${out}_sl`;
      c -= 1;
    }
    cur = out;
  });
  g.nodes = nodes;
  g.outputs = [{ name: cur, type: { dtype: 'float32' } }];
  const mid = nodes[Math.floor(nodes.length / 2)]!.outputs[0]!;
  if (mid !== cur) g.outputs.push({ name: mid, type: { dtype: 'float32' } });
  return g;
}
