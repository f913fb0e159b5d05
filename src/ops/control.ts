import { limits } from '../tensor/limits.js';
import { ShapeError, UnsupportedError } from '../errors.js';
import type { Dim, Graph, ValueType } from '../ir/graph.js';
import { analyze } from '../ir/infer.js';
import { defineOp, type ShapeCtx, type ValueRunCtx } from '../ir/registry.js';
import { type BodyRunner, bindBody, splitCaptured } from '../ir/subgraph.js';
import { allocData } from '../tensor/dtype.js';
import { TensorSequence, type Value } from '../tensor/sequence.js';
import { MAX_ELEMENTS } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Control flow: If, Loop, Scan, SequenceMap. Bodies are graph attributes; the values a body reads from the
 * enclosing graph are appended to the node's inputs by the reader (ir/subgraph.ts), so `node.inputs` = the op's
 * ONNX inputs + a captured tail. Bodies run through the executor (`ctx.bodies`), kernels included.
 */


// ---------------------------------------------------------------------------------------------------------
// static types through bodies
// ---------------------------------------------------------------------------------------------------------

/** Output types of body `g` given its formal input types and the node's captured input types. */
function bodyTypes(ctx: ShapeCtx, g: Graph, formal: (ValueType | undefined)[]): (ValueType | undefined)[] {
  const { captured } = splitCaptured(ctx.node);
  try {
    const bound = bindBody(g, formal, (x) => {
      const i = captured.get(x);
      return { type: i === undefined ? undefined : ctx.inputs[i] };
    });
    const a = analyze(bound, { fold: false });
    return bound.outputs.map((o) => a.types.get(o.name) ?? o.type);
  } catch (e) {
    if (e instanceof UnsupportedError) throw e;
    // a body the static pass cannot type (types only known at run time): its declared output types
    return g.outputs.map((o) => o.type);
  }
}

/** One type both branches agree on: dims that differ become '?', ranks that differ an unknown shape. */
function merge(ctx: ShapeCtx, a: ValueType | undefined, b: ValueType | undefined, k: number): ValueType {
  if (!a || !b) return (a ?? b)!;
  if (a.dtype !== b.dtype || !!a.sequence !== !!b.sequence) ctx.fail(`output ${k}: then_branch gives ${a.sequence ? 'a sequence of ' : ''}${a.dtype}, else_branch ${b.sequence ? 'a sequence of ' : ''}${b.dtype}`);
  const seq = a.sequence ? { sequence: true as const } : {};
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { dtype: a.dtype, ...seq };
  return { dtype: a.dtype, shape: a.shape.map((d, i) => (d === b.shape![i] ? d : '?')), ...seq };
}

/** Same rank, every dim open: a value whose shape may change from iteration to iteration. */
const loose = (t: ValueType | undefined): ValueType | undefined => t && { dtype: t.dtype, ...(t.sequence ? { sequence: true as const } : {}), ...(t.shape ? { shape: t.shape.map((): Dim => '?') } : {}) };

function scalarOf(ctx: ShapeCtx, i: number, dtypes: string[], what: string): void {
  const t = ctx.inputs[i];
  if (!t) return;
  if (t.sequence || !dtypes.includes(t.dtype)) ctx.fail(`${what} must be a ${dtypes.join('/')} tensor, got ${t.dtype}`);
  if (t.shape && t.shape.reduce<number>((n, d) => n * (typeof d === 'number' ? d : 1), 1) !== 1) ctx.fail(`${what} must hold one element, got shape [${t.shape.join(',')}]`);
}

// ---------------------------------------------------------------------------------------------------------
// tensor helpers (any element type)
// ---------------------------------------------------------------------------------------------------------

/** Element `idx` along `axis` (the axis removed). */
function take(t: Tensor, axis: number, idx: number): Tensor {
  const outer = t.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = t.dims[axis]!;
  const out = allocData(t.type, outer * inner) as any;
  const src = t.data as any;
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out[o * inner + i] = src[(o * n + idx) * inner + i];
  return new Tensor(t.type, out, [...t.dims.slice(0, axis), ...t.dims.slice(axis + 1)]);
}

/** Stack equally shaped tensors along a new `axis`. */
function stack(parts: Tensor[], axis: number, what: string): Tensor {
  const first = parts[0]!;
  for (const p of parts)
    if (p.type !== first.type || p.dims.length !== first.dims.length || p.dims.some((d, i) => d !== first.dims[i]))
      throw new ShapeError(`${what}: iterations produced ${first.type}[${first.dims.join(',')}] and ${p.type}[${p.dims.join(',')}]; scan outputs must keep one shape`);
  const n = parts.length;
  if (n * first.size > MAX_ELEMENTS) throw new ShapeError(`${what}: ${n} iterations of [${first.dims.join(',')}] exceed ${MAX_ELEMENTS} elements`);
  const outer = first.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = first.dims.slice(axis).reduce((a, b) => a * b, 1);
  const out = allocData(first.type, n * first.size) as any;
  parts.forEach((p, k) => {
    const src = p.data as any;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out[(o * n + k) * inner + i] = src[o * inner + i];
  });
  return new Tensor(first.type, out, [...first.dims.slice(0, axis), n, ...first.dims.slice(axis)]);
}

/** An empty scan output (zero iterations): [0, …element shape] when the body's output shape is static. */
function emptyScan(t: ValueType | undefined, axis: number): Tensor {
  const el = t?.shape?.every((d) => typeof d === 'number') ? (t.shape as number[]) : [];
  const dims = [...el.slice(0, axis), 0, ...el.slice(axis)];
  return new Tensor(t?.dtype ?? 'float32', allocData(t?.dtype ?? 'float32', 0) as never, dims);
}

const runner = (ctx: ValueRunCtx): BodyRunner => {
  if (!ctx.bodies) throw new UnsupportedError(`node '${ctx.node.name}' (${ctx.node.op}): bodies run only inside an executor`);
  return ctx.bodies;
};
const need = (v: Value | undefined, what: string): Tensor => {
  if (!(v instanceof Tensor)) throw new ShapeError(`${what} must be a tensor`);
  return v;
};

// ---------------------------------------------------------------------------------------------------------
// If
// ---------------------------------------------------------------------------------------------------------

// ONNX If: "If conditional ... then_branch: Graph to run if condition is true. Has N outputs: values you wish to
// be live-out to the enclosing scope. The number of outputs must match the number of outputs in the else_branch."
defineOp({
  name: 'If',
  inputs: [1, Infinity],
  outputs: [1, Infinity],
  attrs: { then_branch: { type: 'graph', required: true }, else_branch: { type: 'graph', required: true } },
  inferShape(ctx) {
    const { own } = splitCaptured(ctx.node);
    if (own !== 1) ctx.fail(`expected 1 input (cond), got ${own}`);
    scalarOf(ctx, 0, ['bool'], 'cond');
    const a = ctx.attrs.then_branch as Graph;
    const b = ctx.attrs.else_branch as Graph;
    if (a.outputs.length !== b.outputs.length) ctx.fail(`then_branch has ${a.outputs.length} outputs, else_branch ${b.outputs.length}`);
    if (ctx.numOutputs !== a.outputs.length) ctx.fail(`node has ${ctx.numOutputs} outputs, its branches ${a.outputs.length}`);
    const ta = bodyTypes(ctx, a, []);
    const tb = bodyTypes(ctx, b, []);
    return ta.map((t, k) => merge(ctx, t, tb[k], k));
  },
  reference() {
    throw new UnsupportedError('If runs through runValues');
  },
  runValues(ctx) {
    const c = need(ctx.inputs[0], 'cond');
    if (c.size !== 1) throw new ShapeError(`cond must hold one element, got [${c.dims.join(',')}]`);
    const g = (c.data[0] ? ctx.attrs.then_branch : ctx.attrs.else_branch) as Graph;
    return runner(ctx).run(g, []);
  },
});

// ---------------------------------------------------------------------------------------------------------
// Loop
// ---------------------------------------------------------------------------------------------------------

// ONNX Loop: "Generic Looping construct ... inputs: M (optional trip count), cond (optional), v_initial (loop
// carried dependencies) ... body inputs: iteration_num, condition, loop carried dependencies; body outputs:
// condition, loop carried dependencies, scan_outputs ... scan_outputs are concatenated along a new first axis"
defineOp({
  name: 'Loop',
  inputs: [0, Infinity], // M and cond are optional (''); their count is checked in inferShape
  outputs: [0, Infinity],
  attrs: { body: { type: 'graph', required: true } },
  inferShape(ctx) {
    const g = ctx.attrs.body as Graph;
    const { own } = splitCaptured(ctx.node);
    const n = own - 2;
    if (n < 0) ctx.fail('expected the inputs M and cond (either may be empty)');
    scalarOf(ctx, 0, ['int64'], 'M (trip count)');
    scalarOf(ctx, 1, ['bool'], 'cond');
    if (g.inputs.length !== n + 2) ctx.fail(`body takes ${g.inputs.length} inputs; the node passes ${n} loop-carried values (body needs ${n + 2})`);
    const k = g.outputs.length - 1 - n;
    if (k < 0) ctx.fail(`body has ${g.outputs.length} outputs, fewer than cond + ${n} loop-carried values`);
    if (ctx.numOutputs > n + k) ctx.fail(`node has ${ctx.numOutputs} outputs, the body ${n + k}`);
    const carried = ctx.inputs.slice(2, 2 + n);
    carried.forEach((t, i) => t || ctx.fail(`loop-carried input ${i} is missing`));
    const outs = bodyTypes(ctx, g, [{ dtype: 'int64', shape: [] }, { dtype: 'bool', shape: [] }, ...carried.map(loose)]);
    const res: ValueType[] = [];
    for (let i = 0; i < n; i++) {
      const t = carried[i]!;
      const o = outs[1 + i];
      if (o && o.dtype !== t.dtype) ctx.fail(`loop-carried value ${i} enters as ${t.dtype} but the body returns ${o.dtype}`);
      res.push(loose(t)!);
    }
    for (let j = 0; j < k; j++) {
      const o = outs[1 + n + j];
      if (o?.sequence) ctx.fail(`scan output ${j} is a sequence; Loop scan outputs are tensors`);
      res.push({ dtype: o?.dtype ?? 'float32', ...(o?.shape ? { shape: ['?', ...o.shape] } : {}) });
    }
    return res.slice(0, ctx.numOutputs);
  },
  reference() {
    throw new UnsupportedError('Loop runs through runValues');
  },
  runValues(ctx) {
    const g = ctx.attrs.body as Graph;
    const { own } = splitCaptured(ctx.node);
    const n = own - 2;
    const m = ctx.inputs[0] ? Number(need(ctx.inputs[0], 'M').data[0]) : undefined;
    let cond = ctx.inputs[1] ? !!need(ctx.inputs[1], 'cond').data[0] : true;
    if (m === undefined && !ctx.inputs[1]) throw new ShapeError('Loop has neither a trip count M nor a cond input: it would never end');
    const cap = limits.loopIterations;
    if (m !== undefined && m > cap && !ctx.inputs[1]) throw new ShapeError(`${ctx.node.name || 'Loop'}: trip count ${m} exceeds env.limits.loopIterations (${cap})`);
    let carried = ctx.inputs.slice(2, 2 + n) as Value[];
    const k = g.outputs.length - 1 - n;
    const scans: Tensor[][] = Array.from({ length: k }, () => []);
    const run = runner(ctx);
    let i = 0;
    for (; (m === undefined || i < m) && cond; i++) {
      if (i >= cap) throw new ShapeError(`${ctx.node.name || 'Loop'}: ran env.limits.loopIterations (${cap}) iterations without ending`);
      const outs = run.run(g, [new Tensor('int64', new BigInt64Array([BigInt(i)]), []), new Tensor('bool', new Uint8Array([cond ? 1 : 0]), []), ...carried]);
      const c = need(outs[0], 'body cond output');
      cond = !!c.data[0];
      carried = outs.slice(1, 1 + n);
      for (let j = 0; j < k; j++) {
        const s = need(outs[1 + n + j], `scan output ${j}`);
        scans[j]!.push(s);
        if (scans[j]!.length * s.size > MAX_ELEMENTS) throw new ShapeError(`scan output ${j} grows beyond ${MAX_ELEMENTS} elements`);
      }
    }
    const res: Value[] = [...carried];
    for (let j = 0; j < k; j++) {
      const parts = scans[j]!;
      const t = ctx.outputTypes[n + j];
      res.push(parts.length ? stack(parts, 0, `scan output ${j}`) : emptyScan(t && t.shape ? { ...t, shape: t.shape.slice(1) } : t, 0));
    }
    return res.slice(0, ctx.node.outputs.length);
  },
});

// ---------------------------------------------------------------------------------------------------------
// Scan (opset 9+ form)
// ---------------------------------------------------------------------------------------------------------

// ONNX Scan-9+: "inputs: initial_state_and_scan_inputs (N state variables followed by M scan inputs) ... the
// body is run once per element of the scan inputs along scan_input_axes, in scan_input_directions (0 forward,
// 1 reverse) ... scan_outputs are stacked along scan_output_axes in scan_output_directions"
defineOp({
  name: 'Scan',
  inputs: [1, Infinity],
  outputs: [1, Infinity],
  attrs: {
    body: { type: 'graph', required: true },
    num_scan_inputs: { type: 'int', required: true },
    scan_input_axes: { type: 'ints', default: undefined },
    scan_input_directions: { type: 'ints', default: undefined },
    scan_output_axes: { type: 'ints', default: undefined },
    scan_output_directions: { type: 'ints', default: undefined },
  },
  inferShape(ctx) {
    const p = scanPlan(ctx, ctx.inputs.map((t) => (t?.shape ? t.shape.length : undefined)));
    const g = ctx.attrs.body as Graph;
    const formal: (ValueType | undefined)[] = [];
    for (let i = 0; i < p.n; i++) formal.push(ctx.inputs[i]);
    let len: Dim = '?';
    for (let j = 0; j < p.m; j++) {
      const t = ctx.inputs[p.n + j]!;
      const ax = p.inAxes[j]!;
      if (t.shape && ax >= 0) {
        const d = t.shape[ax]!;
        if (typeof d === 'number') {
          if (typeof len === 'number' && len !== d) ctx.fail(`scan inputs have lengths ${len} and ${d} along their scan axes`);
          len = d;
        }
      }
      formal.push({ dtype: t.dtype, ...(t.shape ? { shape: t.shape.filter((_, i) => i !== ax) } : {}) });
    }
    const outs = bodyTypes(ctx, g, formal);
    const res: ValueType[] = [];
    for (let i = 0; i < p.n; i++) res.push(ctx.inputs[i]!);
    for (let j = 0; j < p.k; j++) {
      const o = outs[p.n + j];
      const r = o?.shape?.length;
      const ax = r === undefined ? 0 : normAxis(ctx, p.outAxes[j] ?? 0, r + 1, 'scan_output_axes');
      res.push({ dtype: o?.dtype ?? 'float32', ...(o?.shape ? { shape: [...o.shape.slice(0, ax), len, ...o.shape.slice(ax)] } : {}) });
    }
    return res;
  },
  reference() {
    throw new UnsupportedError('Scan runs through runValues');
  },
  runValues(ctx) {
    const g = ctx.attrs.body as Graph;
    const ins = ctx.inputs.map((v) => (v instanceof Tensor ? v : undefined));
    const fail = (msg: string): never => {
      throw new ShapeError(msg);
    };
    const p = scanPlan({ ...ctx, inputs: [], value: () => undefined, numOutputs: ctx.node.outputs.length, fail } as ShapeCtx, ins.map((t) => t?.dims.length));
    const scanIn = Array.from({ length: p.m }, (_, j) => need(ctx.inputs[p.n + j], `scan input ${j}`));
    const len = scanIn.length ? scanIn[0]!.dims[p.inAxes[0]!]! : 0;
    scanIn.forEach((t, j) => t.dims[p.inAxes[j]!] !== len && fail(`scan input ${j} has length ${t.dims[p.inAxes[j]!]} along its scan axis, scan input 0 has ${len}`));
    let state = ctx.inputs.slice(0, p.n) as Value[];
    const scans: Tensor[][] = Array.from({ length: p.k }, () => []);
    const run = runner(ctx);
    for (let t = 0; t < len; t++) {
      const slices = scanIn.map((x, j) => take(x, p.inAxes[j]!, p.inDirs[j] ? len - 1 - t : t));
      const outs = run.run(g, [...state, ...slices]);
      state = outs.slice(0, p.n);
      for (let j = 0; j < p.k; j++) scans[j]!.push(need(outs[p.n + j], `scan output ${j}`));
    }
    const res: Value[] = [...state];
    for (let j = 0; j < p.k; j++) {
      const parts = p.outDirs[j] ? [...scans[j]!].reverse() : scans[j]!;
      const t = ctx.outputTypes[p.n + j];
      if (!parts.length) {
        res.push(new Tensor(t?.dtype ?? 'float32', allocData(t?.dtype ?? 'float32', 0) as never, t?.shape?.map((d) => (typeof d === 'number' ? d : 0)) ?? [0]));
        continue;
      }
      const ax = ((p.outAxes[j] ?? 0) + parts[0]!.dims.length + 1) % (parts[0]!.dims.length + 1);
      res.push(stack(parts, ax, `scan output ${j}`));
    }
    return res;
  },
});

function normAxis(ctx: ShapeCtx, a: number, r: number, what: string): number {
  if (a < -r || a >= r) ctx.fail(`${what} value ${a} is out of range for rank ${r}`);
  return a < 0 ? a + r : a;
}

/** Scan's bookkeeping: N states, M scan inputs, K scan outputs, normalized axes and directions. */
function scanPlan(ctx: ShapeCtx, ranks: (number | undefined)[]) {
  const g = ctx.attrs.body as Graph;
  const { own } = splitCaptured(ctx.node);
  const m = ctx.attrs.num_scan_inputs as number;
  const n = own - m;
  if (m < 1 || n < 0) ctx.fail(`num_scan_inputs ${m} does not fit ${own} inputs`);
  if (g.inputs.length !== own) ctx.fail(`body takes ${g.inputs.length} inputs, the node passes ${own}`);
  const k = g.outputs.length - n;
  if (k < 0 || ctx.numOutputs !== g.outputs.length) ctx.fail(`node has ${ctx.numOutputs} outputs, its body ${g.outputs.length}`);
  const list = (name: string, len: number): number[] => {
    const v = ctx.attrs[name] as number[] | undefined;
    if (v && v.length !== len) ctx.fail(`${name} has ${v.length} entries, expected ${len}`);
    return v ?? new Array<number>(len).fill(0);
  };
  const inAxes = list('scan_input_axes', m).map((a, j) => {
    const r = ranks[n + j];
    return r === undefined ? (a < 0 ? -1 : a) : normAxis(ctx, a, r, 'scan_input_axes');
  });
  const inDirs = list('scan_input_directions', m);
  const outAxes = list('scan_output_axes', k);
  const outDirs = list('scan_output_directions', k);
  for (const d of [...inDirs, ...outDirs]) if (d !== 0 && d !== 1) ctx.fail(`scan directions must be 0 or 1, got ${d}`);
  return { n, m, k, inAxes, inDirs, outAxes, outDirs };
}

// ---------------------------------------------------------------------------------------------------------
// SequenceMap
// ---------------------------------------------------------------------------------------------------------

// ONNX SequenceMap: "Applies a sub-graph to each sample in the input sequence(s). Inputs can be either tensors
// or sequences, with the exception of the first input which must be a sequence ... tensors are passed as-is to
// every iteration ... the outputs are sequences"
defineOp({
  name: 'SequenceMap',
  inputs: [1, Infinity],
  outputs: [1, Infinity],
  attrs: { body: { type: 'graph', required: true } },
  inferShape(ctx) {
    const g = ctx.attrs.body as Graph;
    const { own } = splitCaptured(ctx.node);
    const s = ctx.inputs[0];
    if (!s?.sequence) ctx.fail('input_sequence must be a sequence');
    if (g.inputs.length !== own) ctx.fail(`body takes ${g.inputs.length} inputs, the node passes ${own}`);
    if (g.outputs.length !== ctx.numOutputs) ctx.fail(`node has ${ctx.numOutputs} outputs, its body ${g.outputs.length}`);
    const formal = ctx.inputs.slice(0, own).map((t) => t && { dtype: t.dtype, ...(t.shape ? { shape: t.shape } : {}) });
    const outs = bodyTypes(ctx, g, formal);
    return outs.map((o) => ({ dtype: o?.dtype ?? 'float32', sequence: true as const }));
  },
  reference() {
    throw new UnsupportedError('SequenceMap runs through runValues');
  },
  runValues(ctx) {
    const g = ctx.attrs.body as Graph;
    const { own } = splitCaptured(ctx.node);
    const ins = ctx.inputs.slice(0, own);
    const len = (ins[0] as TensorSequence).length;
    ins.forEach((v, i) => v instanceof TensorSequence && v.length !== len && (() => {
      throw new ShapeError(`input ${i} is a sequence of ${v.length}, input_sequence has ${len}`);
    })());
    const outs: Tensor[][] = g.outputs.map(() => []);
    const run = runner(ctx);
    for (let t = 0; t < len; t++) {
      const r = run.run(g, ins.map((v) => (v instanceof TensorSequence ? v.tensors[t]! : v!)));
      r.forEach((v, k) => outs[k]!.push(need(v, `body output ${k}`)));
    }
    return outs.map((ts, k) => new TensorSequence(ts[0]?.type ?? ctx.outputTypes[k]!.dtype, ts));
  },
});
