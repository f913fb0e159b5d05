/**
 * Model presets as IR graphs with seeded initial weights, every one taking float32 [N, 1, 28, 28] (or any
 * [N, C, H, W] via `input`) and giving logits [N, classes]:
 *  - `mlp:784-64-10`      Flatten → (Gemm → Relu)* → Gemm
 *  - `cnn:8-16-10`        (Conv 3×3 pad 1 → BatchNormalization → Relu → MaxPool 2)* → Flatten → Gemm
 *  - `cnn:8-16-fc64-10`   … with hidden fully connected layers (fcK) before the classifier
 */
import { InputError } from '../errors.js';
import { Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { PCG64 } from './numpy-rng.js';

/** Uniform doubles in [0, 1) from PCG64 (numpy's `random()`: top 53 bits of next64). */
export class UniformRng {
  private readonly g: PCG64;
  constructor(seed: number) {
    this.g = new PCG64(seed);
  }
  next(): number {
    return Number(this.g.next64() >> 11n) / 2 ** 53;
  }
  uniform(n: number, bound: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (2 * this.next() - 1) * bound;
    return a;
  }
}

export interface PresetOptions {
  seed?: number;
  /** per-sample input dims (default [1, 28, 28]) */
  input?: number[];
  name?: string;
}

const f32 = (d: Float32Array, dims: number[]) => new Tensor('float32', d, dims);

/** Parse a preset spec and build its graph (InputError on a malformed spec). */
export function buildPreset(spec: string, o: PresetOptions = {}): Graph {
  const m = /^(mlp|cnn):([\w-]+)$/.exec(spec.trim());
  if (!m) throw new InputError(`model spec '${spec}' is not mlp:784-64-10 or cnn:8-16-10 (or a .onnx file)`);
  const parts = m[2]!.split('-');
  const input = o.input ?? [1, 28, 28];
  if (input.length !== 3 || input.some((d) => !Number.isInteger(d) || d < 1)) throw new InputError(`preset input dims must be [C, H, W], got [${input}]`);
  const rng = new UniformRng(o.seed ?? 0);
  const g = new Graph();
  g.name = o.name ?? spec.replace(/[^\w]+/g, '_');
  g.producer = 'edgeq';
  g.opsets = { '': 15 };
  g.metadata = { 'edgeq.spec': spec };
  g.inputs = [{ name: 'input', type: { dtype: 'float32', shape: ['N', ...input] } }];
  let cur = 'input';
  let k = 0;
  const node = (op: string, inputs: string[], attrs: Node['attrs'] = {}): string => {
    const name = `${op.toLowerCase()}_${k++}`;
    g.nodes.push({ name, op, domain: '', inputs, outputs: [name], attrs });
    return name;
  };
  const dense = (fin: number, fout: number, last: boolean) => {
    const w = `fc${k}.weight`;
    const b = `fc${k}.bias`;
    const bound = last ? 1 / Math.sqrt(fin) : Math.sqrt(6 / fin);
    g.initializers.set(w, f32(rng.uniform(fin * fout, bound), [fout, fin]));
    g.initializers.set(b, f32(rng.uniform(fout, 1 / Math.sqrt(fin)), [fout]));
    cur = node('Gemm', [cur, w, b], { transB: 1 });
  };
  const nums = (ps: string[]) =>
    ps.map((p) => {
      const v = Number(p.replace(/^fc/, ''));
      if (!Number.isInteger(v) || v < 1 || v > 1 << 16) throw new InputError(`model spec '${spec}': '${p}' is not a positive layer size`);
      return v;
    });
  if (m[1] === 'mlp') {
    const sizes = nums(parts);
    if (sizes.length < 2) throw new InputError(`model spec '${spec}': an MLP needs at least input and output sizes`);
    const flat = input[0]! * input[1]! * input[2]!;
    if (sizes[0] !== flat) throw new InputError(`model spec '${spec}': the first size must be the flattened input (${flat})`);
    cur = node('Flatten', [cur], { axis: 1 });
    for (let i = 1; i < sizes.length; i++) {
      dense(sizes[i - 1]!, sizes[i]!, i === sizes.length - 1);
      if (i < sizes.length - 1) cur = node('Relu', [cur]);
    }
  } else {
    const convs = nums(parts.filter((p) => !p.startsWith('fc')).slice(0, -1));
    const fcs = nums(parts.filter((p) => p.startsWith('fc')));
    const classes = nums([parts[parts.length - 1]!])[0]!;
    if (parts[parts.length - 1]!.startsWith('fc') || !convs.length) throw new InputError(`model spec '${spec}': expected cnn:C1-C2-…[-fcH]-CLASSES`);
    let [c, h, w] = input as [number, number, number];
    for (const co of convs) {
      if (h < 2 || w < 2) throw new InputError(`model spec '${spec}': too many pooling stages for a ${input[1]}×${input[2]} input`);
      const wn = `conv${k}.weight`;
      const bn = `conv${k}.bias`;
      g.initializers.set(wn, f32(rng.uniform(co * c * 9, Math.sqrt(6 / (c * 9))), [co, c, 3, 3]));
      g.initializers.set(bn, f32(new Float32Array(co), [co]));
      cur = node('Conv', [cur, wn, bn], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] });
      const p = `bn${k}`;
      g.initializers.set(`${p}.scale`, f32(new Float32Array(co).fill(1), [co]));
      g.initializers.set(`${p}.bias`, f32(new Float32Array(co), [co]));
      g.initializers.set(`${p}.mean`, f32(new Float32Array(co), [co]));
      g.initializers.set(`${p}.var`, f32(new Float32Array(co).fill(1), [co]));
      cur = node('BatchNormalization', [cur, `${p}.scale`, `${p}.bias`, `${p}.mean`, `${p}.var`], { epsilon: 1e-5, momentum: 0.9 });
      cur = node('Relu', [cur]);
      cur = node('MaxPool', [cur], { kernel_shape: [2, 2], strides: [2, 2] });
      c = co;
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
    cur = node('Flatten', [cur], { axis: 1 });
    let fin = c * h * w;
    for (const f of fcs) {
      dense(fin, f, false);
      cur = node('Relu', [cur]);
      fin = f;
    }
    dense(fin, classes, true);
  }
  const out = g.nodes[g.nodes.length - 1]!;
  out.outputs = ['logits'];
  const classes = (g.initializers.get(out.inputs[1]!)!.dims[0] as number) ?? 0;
  g.outputs = [{ name: 'logits', type: { dtype: 'float32', shape: ['N', classes] } }];
  return g;
}

/** True when `s` looks like a preset spec rather than a file path. */
export const isPresetSpec = (s: string): boolean => /^(mlp|cnn):/.test(s);
