/**
 * Model partitioning: f = f_K ∘ … ∘ f_1. A partition assigns every node to a part so that no node reads a
 * value produced in a later part. Each part becomes a standalone Graph whose inputs are the values live at
 * its start cut and whose outputs are the values live at its end cut (names kept from the original graph).
 * Skip connections simply make more values live: a value produced in part i and read in part j > i+1 is
 * an output of parts i … j-1 and an input of parts i+1 … j (it passes through the middle parts).
 * Values constant at load time (initializers and folded shape arithmetic) never cross a cut: every part
 * that reads one gets it as an initializer.
 */
import { EdgeqError } from '../errors.js';
import type { Dim, Node, ValueType } from '../ir/graph.js';
import { Graph } from '../ir/graph.js';
import { analyze } from '../ir/infer.js';
import '../ops/index.js';
import { topoSort } from '../ir/topo.js';
import { DTYPES } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { NODE_OVERHEAD, nodeMacs } from './cost.js';
import { SplitError } from './errors.js';

export type Objective = 'balance' | 'min-transfer' | 'latency';

export interface SplitOptions {
  /** number of parts K (the cost model picks the K-1 cuts) */
  parts?: number;
  /**
   * Cut after these tensors, in order: part 1 is everything `at[0]` depends on, part 2 everything
   * `at[1]` depends on that is not in part 1, …; the last part is the rest.
   */
  at?: string[];
  /** what the cost model minimises when `parts` is given (default 'balance') */
  objective?: Objective;
  /** relative speed of the device running each part (default 1 each; 0.5 = half as fast) */
  deviceSpeed?: number[];
  /** bandwidth of the link after each part, in Mbit/s (one number = every link; default: free links) */
  linkMbps?: number | number[];
  /** fixed latency of every link in ms (default 0) */
  linkLatencyMs?: number;
  /** the first N compute nodes (topological order, Constant nodes not counted) stay in part 1 */
  keepLocal?: number;
  /** MACs a speed-1 device does per second (default 1e9); converts MACs to time for link trade-offs */
  macsPerSecond?: number;
  /** value used for symbolic dims (e.g. batch 'N') when sizing tensors and MACs (default 1) */
  batch?: number;
  /** measured cost of a node in the same unit as MACs (overrides the MAC model when it returns a number) */
  nodeCost?: (node: Node, macs: number) => number | undefined;
  /** measured milliseconds per node name on a speed-1 device (see profileNodes); overrides the MAC model */
  nodeMs?: Map<string, number>;
}

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: Dim[] | null;
  /** bytes with symbolic dims = `batch` (null when the shape is unknown) */
  bytes: number | null;
}

export interface PartInfo {
  index: number;
  /** node names of this part, in execution order */
  nodeNames: string[];
  nodes: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** MACs per the cost model (symbolic dims = batch) */
  macs: number;
  /** elements of the part's initializers */
  params: number;
  /** bytes crossing the cut after this part (0 for the last) */
  cutBytes: number;
}

export interface ManifestPart {
  file: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  nodes: number;
  macs: number;
  params: number;
  cutBytes: number;
  /** set when the part file is sealed (edgeq split --seal-keys): its content key's id and signature */
  sealed?: { keyId: string; sigAlg: string; signer?: string };
}

export interface Manifest {
  format: 'edgeq-split/1';
  model: string;
  objective: Objective | 'at';
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  parts: ManifestPart[];
}

export interface SplitResult {
  parts: Graph[];
  info: PartInfo[];
  manifest: Manifest;
  /** estimated stage times (ms) and link times (ms) under the options' device/link model */
  estimate: { stageMs: number[]; linkMs: number[]; bottleneckMs: number; latencyMs: number };
}

interface Plan {
  g: Graph;
  order: Node[];
  /** producing node index in `order` per value (graph inputs: -1) */
  prodIdx: Map<string, number>;
  /** values read by each node (inputs plus outer-scope names used by subgraph attributes) */
  reads: string[][];
  types: Map<string, ValueType>;
  consts: Map<string, Tensor>;
  cost: number[];
  macs: number[];
  batch: number;
  /** why shape inference failed, when it did (sizes then come from declared value_info only) */
  inferError?: string;
}

/** Outer-scope names a subgraph attribute reads (names not defined inside it). */
function subgraphReads(sub: Graph, out: Set<string>): void {
  const defined = new Set<string>([...sub.inputs.map((i) => i.name), ...sub.initializers.keys()]);
  for (const n of sub.nodes) for (const o of n.outputs) if (o) defined.add(o);
  for (const n of sub.nodes) {
    for (const x of n.inputs) if (x && !defined.has(x)) out.add(x);
    for (const a of Object.values(n.attrs)) {
      if (a instanceof Graph) {
        const inner = new Set<string>();
        subgraphReads(a, inner);
        for (const x of inner) if (!defined.has(x)) out.add(x);
      }
    }
  }
  for (const o of sub.outputs) if (!defined.has(o.name)) out.add(o.name);
}

function nodeReads(n: Node): string[] {
  const r = new Set<string>();
  for (const x of n.inputs) if (x) r.add(x);
  for (const a of Object.values(n.attrs)) if (a instanceof Graph) subgraphReads(a, r);
  return [...r];
}

function plan(g: Graph, opts: SplitOptions): Plan {
  const order = topoSort(g);
  const batch = opts.batch ?? 1;
  let types = new Map<string, ValueType>(g.types);
  let consts = new Map<string, Tensor>(g.initializers);
  let inferError: string | undefined;
  try {
    const a = analyze(g);
    types = new Map([...g.types, ...a.types]);
    consts = a.consts;
  } catch (e) {
    // Structural splitting does not need every op; sizes fall back to declared value_info.
    if (!(e instanceof EdgeqError)) throw e;
    inferError = `${e.name}: ${e.message}`;
  }
  for (const i of g.inputs) if (!types.has(i.name)) types.set(i.name, i.type);
  for (const o of g.outputs) if (!types.has(o.name)) types.set(o.name, o.type);
  for (const [n, t] of g.initializers) if (!types.has(n)) types.set(n, { dtype: t.type, shape: [...t.dims] });
  const prodIdx = new Map<string, number>();
  for (const i of g.inputs) prodIdx.set(i.name, -1);
  order.forEach((n, k) => n.outputs.forEach((o) => o && prodIdx.set(o, k)));
  const typeOf = (n: string) => types.get(n);
  const macs = order.map((n) => nodeMacs(n, typeOf, batch));
  const cost = order.map((n, k) => {
    const ms = opts.nodeMs?.get(n.name);
    if (ms !== undefined) return (ms / 1e3) * (opts.macsPerSecond ?? 1e9);
    const m = opts.nodeCost?.(n, macs[k]!);
    return (m ?? macs[k]!) + NODE_OVERHEAD;
  });
  return { g, order, prodIdx, reads: order.map(nodeReads), types, consts, cost, macs, batch, ...(inferError ? { inferError } : {}) };
}

function tensorInfo(p: Plan, name: string): TensorInfo {
  const t = p.types.get(name);
  const shape = t?.shape ? [...t.shape] : null;
  let bytes: number | null = null;
  if (t && shape) {
    bytes = DTYPES[t.dtype].bytes;
    for (const d of shape) bytes *= typeof d === 'number' ? d : p.batch;
  }
  return { name, dtype: t?.dtype ?? 'unknown', shape, bytes };
}

/** Is `name` a value that crosses cuts (produced by a node or a graph input, and not a load-time constant)? */
function isCutValue(p: Plan, name: string): boolean {
  return p.prodIdx.has(name) && !p.consts.has(name);
}

/**
 * Live values at each cut of an assignment: live[c] (c = 1..K-1) lists, in a deterministic order
 * (graph inputs first, then by producing node), the values produced before part c that a part ≥ c reads
 * or that are graph outputs.
 */
function liveSets(p: Plan, part: Int32Array, K: number): string[][] {
  const last = new Map<string, number>(); // last part reading each cut value (K = graph output)
  p.order.forEach((_, k) => {
    for (const x of p.reads[k]!) if (isCutValue(p, x)) last.set(x, Math.max(last.get(x) ?? -1, part[k]!));
  });
  for (const o of p.g.outputs) if (isCutValue(p, o.name)) last.set(o.name, K);
  const live: string[][] = Array.from({ length: K + 1 }, () => []);
  const visit = (name: string, from: number) => {
    const l = last.get(name);
    if (l === undefined) return;
    for (let c = from + 1; c <= Math.min(l, K - 1); c++) live[c]!.push(name);
  };
  for (const i of p.g.inputs) if (isCutValue(p, i.name)) visit(i.name, 0);
  p.order.forEach((n, k) => n.outputs.forEach((o) => o && visit(o, part[k]!)));
  return live;
}

/** Partition a graph. Throws SplitError for requests that cannot be honoured. */
export function split(g: Graph, opts: SplitOptions = {}): SplitResult {
  if ((opts.parts === undefined) === (opts.at === undefined)) throw new SplitError('split needs exactly one of `parts` (K) or `at` (tensor names)');
  const p = plan(g, opts);
  const N = p.order.length;
  let K: number;
  let part: Int32Array;
  if (opts.at) {
    K = opts.at.length + 1;
    checkOpts(opts, K);
    part = assignAt(p, opts.at);
  } else {
    K = opts.parts!;
    if (!Number.isInteger(K) || K < 1) throw new SplitError(`parts must be a positive integer, got ${K}`);
    if (K > N) throw new SplitError(`cannot split into ${K} parts: graph '${g.name}' has only ${N} node${N === 1 ? '' : 's'}`);
    part = assignOptimal(p, K, opts);
  }
  checkKeepLocal(p, part, opts.keepLocal);
  return build(p, part, K, opts);
}

function checkOpts(opts: SplitOptions, K: number): void {
  const sp = opts.deviceSpeed;
  if (sp) {
    if (sp.length > K) throw new SplitError(`deviceSpeed lists ${sp.length} devices but there are ${K} parts`);
    for (const s of sp) if (!(s > 0 && Number.isFinite(s))) throw new SplitError(`deviceSpeed values must be positive numbers, got ${s}`);
  }
  const l = opts.linkMbps;
  for (const m of Array.isArray(l) ? l : l === undefined ? [] : [l]) if (!(m > 0)) throw new SplitError(`linkMbps must be positive, got ${m}`);
  if (opts.linkLatencyMs !== undefined && !(opts.linkLatencyMs >= 0)) throw new SplitError(`linkLatencyMs must be ≥ 0, got ${opts.linkLatencyMs}`);
  if (opts.keepLocal !== undefined && !(Number.isInteger(opts.keepLocal) && opts.keepLocal >= 0))
    throw new SplitError(`keepLocal must be a non-negative integer, got ${opts.keepLocal}`);
  if (opts.objective !== undefined && !['balance', 'min-transfer', 'latency'].includes(opts.objective))
    throw new SplitError(`unknown objective '${opts.objective}' (balance, min-transfer, latency)`);
}

/** Position in `order` after the first `n` compute (non-Constant) nodes. */
function keepLocalPos(p: Plan, n: number): number {
  if (n <= 0) return 0;
  let seen = 0;
  for (let k = 0; k < p.order.length; k++) {
    if (p.order[k]!.op !== 'Constant' && ++seen === n) return k + 1;
  }
  throw new SplitError(`keepLocal ${n} exceeds the ${seen} compute nodes of graph '${p.g.name}'`);
}

function checkKeepLocal(p: Plan, part: Int32Array, n: number | undefined): void {
  if (!n) return;
  const pos = keepLocalPos(p, n);
  for (let k = 0; k < pos; k++)
    if (part[k] !== 0) throw new SplitError(`keepLocal ${n}: node '${p.order[k]!.name}' is among the first ${n} layers but the cuts put it in part ${part[k]! + 1}`);
}

function assignAt(p: Plan, at: string[]): Int32Array {
  const N = p.order.length;
  const K = at.length + 1;
  const part = new Int32Array(N).fill(-1);
  const inputs = new Set(p.g.inputs.map((i) => i.name));
  const seen = new Set<string>();
  at.forEach((t, j) => {
    if (typeof t !== 'string' || t === '') throw new SplitError(`cut ${j + 1}: tensor name must be a non-empty string`);
    if (seen.has(t)) throw new SplitError(`cut tensor '${t}' is listed twice`);
    seen.add(t);
    if (inputs.has(t)) throw new SplitError(`cut at '${t}' does not separate the graph: it is a graph input (nothing comes before it)`);
    if (p.g.initializers.has(t)) throw new SplitError(`cut at '${t}' does not separate the graph: it is an initializer (a constant, not computed)`);
    const k0 = p.prodIdx.get(t);
    if (k0 === undefined) throw new SplitError(`unknown tensor '${t}': no node of graph '${p.g.name}' produces it`);
    // the ancestors of t not already in an earlier part form part j
    let count = 0;
    const stack = [k0];
    while (stack.length) {
      const k = stack.pop()!;
      if (part[k] !== -1) continue;
      part[k] = j;
      count++;
      for (const x of p.reads[k]!) {
        const q = p.prodIdx.get(x);
        if (q !== undefined && q >= 0 && part[q] === -1) stack.push(q);
      }
    }
    if (count === 0) throw new SplitError(`cut at '${t}' does not separate the graph: everything it depends on is already before the cut at '${at[j - 1]}'`);
  });
  let rest = 0;
  for (let k = 0; k < N; k++) if (part[k] === -1) (part[k] = K - 1), rest++;
  if (rest === 0)
    throw new SplitError(`cut at '${at[K - 2]}' does not separate the graph: no node remains after it`);
  return part;
}

/** Stage/link model shared by the optimiser and the estimate. */
function timeModel(opts: SplitOptions, K: number) {
  const mps = opts.macsPerSecond ?? 1e9;
  const speed = (i: number) => opts.deviceSpeed?.[i] ?? 1;
  const mbps = (i: number) => (Array.isArray(opts.linkMbps) ? opts.linkMbps[i] ?? opts.linkMbps[opts.linkMbps.length - 1] : opts.linkMbps);
  const stageMs = (i: number, cost: number) => (cost / (mps * speed(i))) * 1e3;
  const linkMs = (i: number, bytes: number) => {
    if (i >= K - 1) return 0;
    const m = mbps(i);
    return (opts.linkLatencyMs ?? 0) + (m ? (bytes * 8) / (m * 1e6) * 1e3 : 0);
  };
  return { stageMs, linkMs };
}

/**
 * Choose K-1 cut positions in the topological order by dynamic programming, O(K·N²):
 * balance = minimise the slowest stage or link (pipeline throughput), tie: fewest bytes;
 * latency = minimise the sum of stage and link times (one input end to end), tie: slowest stage;
 * min-transfer = minimise bytes crossing cuts, tie: slowest stage.
 */
function assignOptimal(p: Plan, K: number, opts: SplitOptions): Int32Array {
  checkOpts(opts, K);
  const N = p.order.length;
  const objective = opts.objective ?? 'balance';
  const lo = Math.max(1, keepLocalPos(p, opts.keepLocal ?? 0));
  if (K > 1 && lo > N - (K - 1)) throw new SplitError(`keepLocal ${opts.keepLocal} leaves fewer than ${K - 1} nodes for the other ${K - 1} part(s)`);
  const prefix = new Float64Array(N + 1);
  for (let k = 0; k < N; k++) prefix[k + 1] = prefix[k]! + p.cost[k]!;
  // bytes live across position c (between order[c-1] and order[c]), via a difference array
  const diff = new Float64Array(N + 2);
  const lastRead = new Map<string, number>();
  p.order.forEach((_, k) => {
    for (const x of p.reads[k]!) if (isCutValue(p, x)) lastRead.set(x, k);
  });
  for (const o of p.g.outputs) if (isCutValue(p, o.name)) lastRead.set(o.name, N);
  for (const [name, l] of lastRead) {
    const d = p.prodIdx.get(name)!;
    const b = tensorInfo(p, name).bytes ?? 0;
    // live across c for d < c ≤ l (c in 1..N-1)
    const from = Math.max(d + 1, 1);
    const to = Math.min(l, N - 1);
    if (from <= to) {
      diff[from]! += b;
      diff[to + 1]! -= b;
    }
  }
  const cutBytes = new Float64Array(N + 1);
  let run = 0;
  for (let c = 0; c <= N; c++) cutBytes[c] = run += diff[c]!;
  const tm = timeModel(opts, K);
  // dp[j][c]: best (a, b) for parts 0..j-1 covering order[0..c); cut positions c
  type Score = [number, number];
  const better = (x: Score, y: Score) => x[0] < y[0] - 1e-12 || (Math.abs(x[0] - y[0]) <= 1e-12 && x[1] < y[1]);
  const combine = (prev: Score, stage: number, link: number, bytes: number): Score => {
    switch (objective) {
      case 'balance':
        return [Math.max(prev[0], stage, link), prev[1] + bytes];
      case 'latency':
        return [prev[0] + stage + link, Math.max(prev[1], stage, link)];
      default:
        return [prev[0] + bytes, Math.max(prev[1], stage, link)];
    }
  };
  const INF: Score = [Infinity, Infinity];
  let dp: Score[] = new Array(N + 1).fill(INF);
  const back: Int32Array[] = [];
  // part 0 covers [0, c)
  for (let c = 1; c <= N; c++) {
    if (K > 1 && c < lo) continue;
    const stage = tm.stageMs(0, prefix[c]!);
    const bytes = K > 1 ? cutBytes[c]! : 0;
    dp[c] = combine([0, 0], stage, tm.linkMs(0, bytes), bytes);
  }
  back.push(new Int32Array(N + 1));
  for (let j = 1; j < K; j++) {
    const nd: Score[] = new Array(N + 1).fill(INF);
    const bk = new Int32Array(N + 1).fill(-1);
    const lastPart = j === K - 1;
    for (let c = j + 1; c <= N; c++) {
      if (lastPart && c !== N) continue;
      if (!lastPart && c > N - (K - 1 - j)) continue;
      const bytes = lastPart ? 0 : cutBytes[c]!;
      const link = tm.linkMs(j, bytes);
      for (let s = j; s < c; s++) {
        const prev = dp[s]!;
        if (prev[0] === Infinity) continue;
        const sc = combine(prev, tm.stageMs(j, prefix[c]! - prefix[s]!), link, bytes);
        if (better(sc, nd[c]!)) {
          nd[c] = sc;
          bk[c] = s;
        }
      }
    }
    dp = nd;
    back.push(bk);
  }
  const cuts: number[] = [N];
  for (let j = K - 1; j >= 1; j--) cuts.unshift(back[j]![cuts[0]!]!);
  if (cuts.some((c) => c < 0)) throw new SplitError(`no valid ${K}-way split of graph '${p.g.name}' under the given constraints`);
  const part = new Int32Array(N);
  let j = 0;
  for (let k = 0; k < N; k++) {
    while (k >= cuts[j]!) j++;
    part[k] = j;
  }
  return part;
}

function build(p: Plan, part: Int32Array, K: number, opts: SplitOptions): SplitResult {
  const { g } = p;
  const live = liveSets(p, part, K);
  const graphOutputs = g.outputs.map((o) => o.name);
  const parts: Graph[] = [];
  const info: PartInfo[] = [];
  const typeFor = (name: string): ValueType => {
    const t = p.types.get(name);
    if (!t) throw new SplitError(`cannot determine the type of tensor '${name}', which crosses a cut${p.inferError ? ` (shape inference failed: ${p.inferError})` : ' (add value_info for it)'}`);
    return { ...t, ...(t.shape ? { shape: [...t.shape] } : {}) };
  };
  for (let i = 0; i < K; i++) {
    const pg = new Graph();
    pg.name = `${g.name}_part${i + 1}`;
    pg.opsets = { ...g.opsets };
    pg.source = g.source;
    pg.producer = g.producer;
    pg.irVersion = g.irVersion;
    pg.metadata = { ...g.metadata, 'edgeq.split': `${i + 1}/${K}` };
    const nodes = p.order.filter((_, k) => part[k] === i);
    pg.nodes = nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } }));
    const inNames = i === 0 ? g.inputs.map((x) => x.name) : live[i]!;
    const outNames = i === K - 1 ? graphOutputs : live[i + 1]!;
    pg.inputs = i === 0 ? g.inputs.map((x) => ({ name: x.name, type: typeFor(x.name) })) : inNames.map((n) => ({ name: n, type: typeFor(n) }));
    const produced = new Set<string>(inNames);
    for (const n of nodes) for (const o of n.outputs) if (o) produced.add(o);
    // constants: initializers and load-time-folded values this part reads but does not compute
    const needConst = (name: string) => {
      if (produced.has(name) || pg.initializers.has(name)) return;
      const c = p.consts.get(name);
      if (c) pg.initializers.set(name, c);
    };
    for (const n of nodes) for (const x of nodeReads(n)) needConst(x);
    for (const o of outNames) needConst(o);
    pg.outputs = outNames.map((n) => ({ name: n, type: typeFor(n) }));
    // carry known types of everything this part touches
    for (const name of produced) {
      const t = p.types.get(name);
      if (t) pg.types.set(name, t);
    }
    for (const o of pg.outputs) pg.types.set(o.name, o.type);
    for (const x of pg.inputs) pg.types.set(x.name, x.type);
    parts.push(pg);
    let params = 0;
    for (const t of pg.initializers.values()) params += t.size;
    const outInfo = pg.outputs.map((o) => tensorInfo(p, o.name));
    info.push({
      index: i,
      nodeNames: nodes.map((n) => n.name),
      nodes: nodes.length,
      inputs: pg.inputs.map((x) => tensorInfo(p, x.name)),
      outputs: outInfo,
      macs: p.order.reduce((s, _, k) => s + (part[k] === i ? p.macs[k]! : 0), 0),
      params,
      cutBytes: i === K - 1 ? 0 : outInfo.reduce((s, t) => s + (t.bytes ?? 0), 0),
    });
  }
  for (const inf of info) if (inf.nodes === 0) throw new SplitError(`part ${inf.index + 1} of graph '${g.name}' would be empty`);
  const tm = timeModel(opts, K);
  const stageMs = info.map((inf, i) => tm.stageMs(i, p.order.reduce((s, _, k) => s + (part[k] === i ? p.cost[k]! : 0), 0)));
  const linkMs = info.slice(0, -1).map((inf, i) => tm.linkMs(i, inf.cutBytes));
  const manifest: Manifest = {
    format: 'edgeq-split/1',
    model: g.name,
    objective: opts.at ? 'at' : opts.objective ?? 'balance',
    inputs: g.inputs.map((x) => tensorInfo(p, x.name)),
    outputs: g.outputs.map((o) => tensorInfo(p, o.name)),
    parts: info.map((inf) => ({
      file: `part${inf.index + 1}.onnx`,
      inputs: inf.inputs,
      outputs: inf.outputs,
      nodes: inf.nodes,
      macs: inf.macs,
      params: inf.params,
      cutBytes: inf.cutBytes,
    })),
  };
  return {
    parts,
    info,
    manifest,
    estimate: {
      stageMs,
      linkMs,
      bottleneckMs: Math.max(...stageMs, ...linkMs),
      latencyMs: stageMs.reduce((a, b) => a + b, 0) + linkMs.reduce((a, b) => a + b, 0),
    },
  };
}
