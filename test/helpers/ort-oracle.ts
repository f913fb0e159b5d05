// One-node (or small) graphs run in edgeq and in onnxruntime-node (the oracle for ONNX and com.microsoft outputs).
import * as ort from 'onnxruntime-node';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Graph, type Node } from '../../src/ir/graph.js';
import '../../src/ops/index.js';
import { InferenceSession, type SessionOptions } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** Seeded uniform values in [-0.5, 0.5) × `amp`. */
export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

export const randT = (r: () => number, dims: number[], amp = 1) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * amp), dims);
export const i32 = (v: number[], dims = [v.length]) => new Tensor('int32', Int32Array.from(v), dims);
export const i64 = (v: number[], dims = [v.length]) => new Tensor('int64', BigInt64Array.from(v.map((x) => BigInt(x))), dims);

/** Input of a oracle graph: a fed tensor, a constant initializer, or omitted (''). */
export type OIn = { name: string; feed: Tensor } | { name: string; init: Tensor } | '';

/** Graph with one node `n0` (domain `domain`), outputs named `outs` ('' = not requested). */
export function oneNode(op: string, domain: string, ins: OIn[], attrs: Record<string, unknown>, outs: string[]): Graph {
  const g = new Graph();
  g.opsets = { '': 17, 'com.microsoft': 1 };
  for (const i of ins) {
    if (i === '') continue;
    if ('init' in i) g.initializers.set(i.name, i.init);
    else g.inputs.push({ name: i.name, type: { dtype: i.feed.type, shape: [...i.feed.dims] } });
  }
  const node: Node = { name: 'n0', op, domain, inputs: ins.map((i) => (i === '' ? '' : i.name)), outputs: outs, attrs: attrs as Node['attrs'] };
  g.nodes.push(node);
  for (const o of outs) if (o) g.outputs.push({ name: o, type: { dtype: 'float32' } });
  return g;
}

export function feedsOf(ins: OIn[]): Record<string, Tensor> {
  const f: Record<string, Tensor> = {};
  for (const i of ins) if (i !== '' && 'feed' in i) f[i.name] = i.feed;
  return f;
}

export async function ortRun(g: Graph, feeds: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  // one thread per session, released at once: hundreds of sessions otherwise pile up thread pools
  const s = await ort.InferenceSession.create(writeOnnx(g), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, [...t.dims]);
    const r = await s.run(f);
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, (v.data as Float32Array).slice()]));
  } finally {
    await s.release();
  }
}

export async function edgeqRun(g: Graph, feeds: Record<string, Tensor>, opts: SessionOptions = {}): Promise<Record<string, Tensor>> {
  const s = await InferenceSession.create(g, opts);
  return s.run(feeds);
}

/** max |a − b| / max(max |b|, floor) (b the oracle). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-30): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(Number(a[i]) - Number(b[i])));
    m = Math.max(m, Math.abs(Number(b[i])));
  }
  return d / Math.max(m, floor);
}

/**
 * Run the graph in both engines (edgeq on the reference backend and on the wasm kernels) and return the worst
 * relative error over the named outputs, per backend.
 */
export async function compareWithOrt(g: Graph, feeds: Record<string, Tensor>, outs: string[], ortGraph = g, floor = 1e-30): Promise<{ ref: number; wasm: number; ort: Record<string, Float32Array>; fallbacks: string[] }> {
  const o = await ortRun(ortGraph, feeds);
  let ref = 0;
  let wasm = 0;
  const r1 = await edgeqRun(g, feeds, { backend: 'reference' } as SessionOptions);
  const s2 = await InferenceSession.create(g);
  const r2 = await s2.run(feeds);
  // every node of the wasm run on a kernel (no decline at plan or run time)
  const fallbacks = [...s2.executor.fallbacks].map(([n, why]) => `${n.name} (${n.op}): ${why}`);
  for (const n of outs) {
    ref = Math.max(ref, relErr(r1[n]!.data as Float32Array, o[n]!, floor));
    wasm = Math.max(wasm, relErr(r2[n]!.data as Float32Array, o[n]!, floor));
  }
  return { ref, wasm, ort: o, fallbacks };
}
