import { EdgeqError, InputError, ShapeError } from '../errors.js';
import { type Analysis, analyze, runInfer } from '../ir/infer.js';
import { type Dim, Graph, type ValueType } from '../ir/graph.js';
import { shapeStr } from '../ir/dims.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import '../ops/index.js';
import { kernelsFor, type PreparedKernel } from '../kernels/index.js';
import type { Node } from '../ir/graph.js';

export interface ExecutorOptions {
  /** 'wasm' (default): WASM SIMD kernels where one applies, reference ops elsewhere; 'reference': TS only */
  backend?: 'wasm' | 'reference';
}

/**
 * Runs a graph with the TS reference ops. Built once per session: the analysis (order, attrs, types,
 * folded constants) and the last use of every value, so intermediates are dropped as soon as possible.
 */
export class Executor {
  readonly analysis: Analysis;
  private readonly lastUse = new Map<string, number>();
  /** the kernel chosen for each node at plan time (weights packed once here) */
  readonly kernels = new Map<Node, PreparedKernel>();

  constructor(
    readonly graph: Graph,
    opts: ExecutorOptions = {},
  ) {
    this.analysis = analyze(graph);
    if (opts.backend !== 'reference') this.chooseKernels();
    this.analysis.order.forEach((n, i) => n.inputs.forEach((x) => x && this.lastUse.set(x, i)));
    for (const o of graph.outputs) this.lastUse.set(o.name, Infinity);
  }

  private chooseKernels(): void {
    const { order, attrs, types, consts } = this.analysis;
    for (const node of order) {
      if (node.outputs.every((o) => o === '' || consts.has(o))) continue; // folded
      for (const k of kernelsFor(node.domain, node.op)) {
        const inTypes = node.inputs.map((x) => (x === '' ? undefined : types.get(x)));
        const prepared = k.prepare(node, attrs.get(node)!, inTypes, (i) => consts.get(node.inputs[i] ?? ''));
        if (prepared) {
          this.kernels.set(node, prepared);
          break;
        }
      }
    }
  }

  /** Validate feeds against the graph's declared inputs (InputError naming the tensor). */
  checkFeeds(feeds: Record<string, Tensor>): void {
    if (feeds === null || typeof feeds !== 'object') throw new InputError('feeds must be an object mapping input names to Tensors');
    const symbols = new Map<string, number>();
    for (const input of this.graph.inputs) {
      const t = feeds[input.name];
      if (t === undefined) throw new InputError(`input '${input.name}' is missing (expected ${input.type.dtype}${shapeStr(input.type.shape)})`);
      if (!(t instanceof Tensor) && !looksLikeTensor(t)) throw new InputError(`input '${input.name}' must be a Tensor`);
      if (t.type !== input.type.dtype) throw new InputError(`input '${input.name}' has type ${t.type}, expected ${input.type.dtype}`);
      const want = input.type.shape;
      if (want) {
        const bad = () => new InputError(`input '${input.name}' has shape [${t.dims.join(',')}], expected ${shapeStr(want)}`);
        if (t.dims.length !== want.length) throw bad();
        want.forEach((d: Dim, i) => {
          const got = t.dims[i]!;
          if (typeof d === 'number') {
            if (d !== got) throw bad();
          } else if (d !== '' && d !== '?') {
            const seen = symbols.get(d);
            if (seen !== undefined && seen !== got) throw new InputError(`input '${input.name}' dim ${i} ('${d}') is ${got} but another input has '${d}' = ${seen}`);
            symbols.set(d, got);
          }
        });
      }
    }
    for (const k of Object.keys(feeds)) {
      if (!this.graph.inputs.some((i) => i.name === k)) throw new InputError(`unknown input '${k}' (model inputs: ${this.graph.inputs.map((i) => i.name).join(', ')})`);
    }
  }

  run(feeds: Record<string, Tensor>, fetch: readonly string[] = this.graph.outputs.map((o) => o.name)): Record<string, Tensor> {
    this.checkFeeds(feeds);
    const { order, defs, attrs, consts } = this.analysis;
    const values = new Map<string, Tensor>(consts);
    for (const i of this.graph.inputs) values.set(i.name, toTensor(feeds[i.name]!));
    const keep = new Set(fetch);
    order.forEach((node, step) => {
      if (node.outputs.every((o) => o === '' || values.has(o))) return; // folded at load
      const def = defs.get(node)!;
      const a = attrs.get(node)!;
      const inputs = node.inputs.map((x) => {
        if (x === '') return undefined;
        const v = values.get(x);
        if (!v) throw new ShapeError(`node '${node.name}': input '${x}' has no value`);
        return v;
      });
      const inTypes: (ValueType | undefined)[] = inputs.map((t) => (t ? { dtype: t.type, shape: [...t.dims], ...(t.quant ? { quant: t.quant } : {}) } : undefined));
      const outTypes = runInfer(def, node, a, inTypes, (i) => inputs[i]);
      let outs: Tensor[];
      try {
        outs = this.kernels.get(node)?.run(inputs, outTypes) ?? def.reference({ node, attrs: a, inputs, outputTypes: outTypes });
      } catch (e) {
        if (e instanceof EdgeqError) {
          if (!e.message.includes(`'${node.name}'`)) e.message = `node '${node.name}' (${node.op}): ${e.message}`;
          throw e;
        }
        throw new EdgeqError(`node '${node.name}' (${node.op}) failed: ${(e as Error).message}`);
      }
      node.outputs.forEach((o, k) => {
        if (o === '') return;
        const t = outs[k];
        if (!t) throw new ShapeError(`node '${node.name}' (${node.op}) produced no output ${k}`);
        const want = outTypes[k];
        if (want?.shape && want.shape.every((d) => typeof d === 'number') && !sameShape(want.shape as number[], t.dims))
          throw new ShapeError(`node '${node.name}' (${node.op}): output '${o}' has shape [${t.dims.join(',')}] but the shape rule says ${shapeStr(want.shape)}`);
        values.set(o, t);
      });
      for (const x of node.inputs) if (x && this.lastUse.get(x) === step && !keep.has(x) && !consts.has(x)) values.delete(x);
    });
    const result: Record<string, Tensor> = {};
    for (const name of fetch) {
      const v = values.get(name);
      if (!v) throw new InputError(`output '${name}' was not computed`);
      result[name] = v;
    }
    return result;
  }
}

function looksLikeTensor(t: unknown): t is Tensor {
  return !!t && typeof t === 'object' && 'type' in t && 'data' in t && 'dims' in t;
}

/** Accept onnxruntime-web Tensors (same shape of object) by rewrapping them. */
function toTensor(t: Tensor): Tensor {
  if (t instanceof Tensor) return t;
  const o = t as { type: Tensor['type']; data: never; dims: number[] };
  return new Tensor(o.type, o.data, o.dims);
}
