import { UnsupportedError } from '../errors.js';
import { shapeStr } from '../ir/dims.js';
import type { Dim, ValueType } from '../ir/graph.js';
import { type Attrs, type CostCtx, defineOp, type ShapeCtx } from '../ir/registry.js';
import { sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { FLOATS, floats, fromFloats, needType } from './util.js';
import { dim, elems } from './cost.js';

/**
 * Recurrent ops RNN, GRU, LSTM (opset 22 form: `layout`, activations lists, clip, sequence_lens).
 * One shared driver walks directions × batch × time; each op supplies its cell.
 */

type Act = (x: number) => number;

/** ONNX RNN activation functions with their defaults; `a`/`b` say whether they consume activation_alpha/beta. */
const ACTS: Record<string, { a?: number; b?: number; f: (alpha: number, beta: number) => Act }> = {
  relu: { f: () => (x) => (x > 0 ? x : 0) },
  tanh: { f: () => Math.tanh },
  sigmoid: { f: () => (x) => 1 / (1 + Math.exp(-x)) },
  affine: { a: 1, b: 0, f: (a, b) => (x) => a * x + b },
  leakyrelu: { a: 0.01, f: (a) => (x) => (x >= 0 ? x : a * x) },
  thresholdedrelu: { a: 1, f: (a) => (x) => (x > a ? x : 0) },
  scaledtanh: { a: 1, b: 1, f: (a, b) => (x) => a * Math.tanh(b * x) },
  hardsigmoid: { a: 0.2, b: 0.5, f: (a, b) => (x) => Math.max(0, Math.min(1, a * x + b)) },
  elu: { a: 1, f: (a) => (x) => (x >= 0 ? x : a * (Math.exp(x) - 1)) },
  softsign: { f: () => (x) => x / (1 + Math.abs(x)) },
  softplus: { f: () => (x) => (x > 30 ? x : Math.log1p(Math.exp(x))) },
};

interface Kind {
  name: 'RNN' | 'GRU' | 'LSTM';
  /** gates per hidden unit (rows of W are gates·hidden_size) */
  gates: number;
  /** activation functions per direction and their defaults */
  defaults: string[];
}
const KINDS: Record<string, Kind> = {
  RNN: { name: 'RNN', gates: 1, defaults: ['Tanh'] },
  GRU: { name: 'GRU', gates: 3, defaults: ['Sigmoid', 'Tanh'] },
  LSTM: { name: 'LSTM', gates: 4, defaults: ['Sigmoid', 'Tanh', 'Tanh'] },
};

const numDirs = (direction: string): number => (direction === 'bidirectional' ? 2 : 1);

/**
 * Resolve the activation list: "activations: A list of … activation functions … for each direction".
 * activation_alpha/beta are consumed in order by the functions that take them (onnxruntime's rule);
 * missing entries fall back to each function's default.
 */
function activations(node: { name: string; op: string }, attrs: Attrs, kind: Kind, dirs: number): Act[] {
  const names: string[] = attrs.activations ?? Array.from({ length: dirs }, () => kind.defaults).flat();
  const where = `node '${node.name}' (${node.op})`;
  if (names.length !== kind.defaults.length * dirs)
    throw new UnsupportedError(`${where}: activations needs ${kind.defaults.length * dirs} entries (${kind.defaults.length} per direction), got ${names.length}`);
  const alphas: number[] = attrs.activation_alpha ?? [];
  const betas: number[] = attrs.activation_beta ?? [];
  let ia = 0;
  let ib = 0;
  return names.map((n) => {
    const spec = ACTS[n.toLowerCase()];
    if (!spec) throw new UnsupportedError(`${where}: activation '${n}' is not supported`);
    const a = spec.a !== undefined ? (alphas[ia++] ?? spec.a) : 0;
    const b = spec.b !== undefined ? (betas[ib++] ?? spec.b) : 0;
    return spec.f(a, b);
  });
}

const RNN_ATTRS = {
  activation_alpha: { type: 'floats' },
  activation_beta: { type: 'floats' },
  activations: { type: 'strings' },
  clip: { type: 'float' },
  direction: { type: 'string', default: 'forward', oneOf: ['forward', 'reverse', 'bidirectional'] },
  hidden_size: { type: 'int' },
  layout: { type: 'int', default: 0, oneOf: [0, 1] },
} as const;

/** Check that `t` has shape `want` (concrete entries compared, symbolic ones trusted). */
function checkShape(ctx: ShapeCtx, t: ValueType | undefined, want: Dim[], what: string): void {
  if (!t?.shape) return;
  const s = t.shape;
  if (s.length !== want.length || s.some((d, i) => typeof d === 'number' && typeof want[i] === 'number' && d !== want[i]))
    ctx.fail(`${what} must have shape ${shapeStr(want)}, got ${shapeStr(s)}`);
}

/** Shape rule shared by RNN, GRU and LSTM. Input order: X, W, R, B, sequence_lens, initial_h[, initial_c, P]. */
function rnnShape(ctx: ShapeCtx, kind: Kind): ValueType[] {
  const a = ctx.attrs;
  const G = kind.gates;
  const x = needType(ctx, 0, FLOATS, 'X');
  const w = needType(ctx, 1, [x.dtype], 'W');
  const r = needType(ctx, 2, [x.dtype], 'R');
  const dirs = numDirs(a.direction);
  activations(ctx.node, a, kind, dirs); // validates names and count
  if (a.clip !== undefined && !(a.clip > 0)) ctx.fail(`clip must be > 0, got ${a.clip}`);
  if (kind.name === 'GRU' && a.linear_before_reset !== 0 && a.linear_before_reset !== 1) ctx.fail(`linear_before_reset must be 0 or 1, got ${a.linear_before_reset}`);
  if (kind.name === 'LSTM' && a.input_forget !== 0 && a.input_forget !== 1) ctx.fail(`input_forget must be 0 or 1, got ${a.input_forget}`);
  if (x.shape && x.shape.length !== 3) ctx.fail(`X must have rank 3, got ${shapeStr(x.shape)}`);
  if (w.shape && w.shape.length !== 3) ctx.fail(`W must have rank 3 [num_directions, ${G}·hidden_size, input_size], got ${shapeStr(w.shape)}`);
  if (r.shape && r.shape.length !== 3) ctx.fail(`R must have rank 3 [num_directions, ${G}·hidden_size, hidden_size], got ${shapeStr(r.shape)}`);
  let H: Dim | undefined = a.hidden_size;
  if (H !== undefined && !((H as number) >= 1)) ctx.fail(`hidden_size must be ≥ 1, got ${H}`);
  if (H === undefined) H = r.shape?.[2] ?? (typeof w.shape?.[1] === 'number' ? (w.shape[1] as number) / G : undefined);
  if (typeof H === 'number' && !Number.isInteger(H)) ctx.fail(`W has ${w.shape![1]} rows, not a multiple of ${G}`);
  const lay = a.layout as number;
  const seq = x.shape?.[lay === 0 ? 0 : 1];
  const batch = x.shape?.[lay === 0 ? 1 : 0];
  const I = x.shape?.[2];
  const GH: Dim | undefined = typeof H === 'number' ? G * H : undefined;
  const or = <T extends Dim | undefined>(d: T): Dim => d ?? '?';
  if (H !== undefined && I !== undefined) {
    checkShape(ctx, w, [dirs, GH ?? or(undefined), I], 'W');
    checkShape(ctx, r, [dirs, GH ?? or(undefined), H], 'R');
  }
  const opt = (i: number, what: string, want: Dim[] | undefined, dtypes: readonly string[] = [x.dtype]) => {
    if (!ctx.inputs[i]) return undefined;
    const t = needType(ctx, i, dtypes as never, what);
    if (want && want.every((d) => d !== undefined)) checkShape(ctx, t, want, what);
    return t;
  };
  opt(3, 'B', GH !== undefined ? [dirs, 2 * (GH as number)] : undefined);
  opt(4, 'sequence_lens', batch !== undefined ? [batch] : undefined, ['int32']);
  const stateShape = (lay === 0 ? [dirs, batch, H] : [batch, dirs, H]) as Dim[];
  opt(5, 'initial_h', H !== undefined && batch !== undefined ? stateShape : undefined);
  if (kind.name === 'LSTM') {
    opt(6, 'initial_c', H !== undefined && batch !== undefined ? stateShape : undefined);
    opt(7, 'P', typeof H === 'number' ? [dirs, 3 * H] : undefined);
  }
  const sl = ctx.inputs[4] ? ctx.value(4) : undefined;
  if (sl && typeof seq === 'number') {
    for (let i = 0; i < sl.size; i++) {
      const v = sl.num(i);
      // onnxruntime: "All values must be > 0 and <= seq_length"
      if (!(v >= 1 && v <= seq)) ctx.fail(`sequence_lens[${i}] = ${v} is outside [1, ${seq}]`);
    }
  }
  const known = H !== undefined && seq !== undefined && batch !== undefined;
  const Y = known ? (lay === 0 ? [seq, dirs, batch, H] : [batch, seq, dirs, H]) : undefined;
  const S = known ? stateShape : undefined;
  const outs: ValueType[] = [
    { dtype: x.dtype, shape: Y as Dim[] | undefined },
    { dtype: x.dtype, shape: S },
  ];
  if (kind.name === 'LSTM') outs.push({ dtype: x.dtype, shape: S });
  return outs;
}

/** Read-only float views of the inputs plus the geometry, in layout-0 terms. */
interface Prep {
  seq: number;
  batch: number;
  I: number;
  H: number;
  dirs: number;
  /** X[t, b, i] */
  x: (t: number, b: number, i: number) => number;
  W: Float32Array | Float64Array;
  R: Float32Array | Float64Array;
  B?: Float32Array | Float64Array;
  lens: number[];
  /** initial state value for (dir, batch, unit) or 0 */
  init: (t: Tensor | undefined) => (d: number, b: number, j: number) => number;
}

function prepare(inputs: (Tensor | undefined)[], attrs: Attrs, G: number): Prep {
  const X = inputs[0]!;
  const lay = attrs.layout as number;
  const [d0, d1, I] = X.dims as [number, number, number];
  const seq = lay === 0 ? d0 : d1;
  const batch = lay === 0 ? d1 : d0;
  const R = inputs[2]!;
  const H = R.dims[2]!;
  const dirs = numDirs(attrs.direction);
  const xv = floats(X);
  const x = lay === 0 ? (t: number, b: number, i: number) => xv[(t * batch + b) * I + i]! : (t: number, b: number, i: number) => xv[(b * seq + t) * I + i]!;
  const lens = new Array<number>(batch).fill(seq);
  const sl = inputs[4];
  if (sl) for (let b = 0; b < batch; b++) lens[b] = sl.num(b);
  const init = (t: Tensor | undefined) => {
    if (!t) return () => 0;
    const v = floats(t);
    return lay === 0 ? (d: number, b: number, j: number) => v[(d * batch + b) * H + j]! : (d: number, b: number, j: number) => v[(b * dirs + d) * H + j]!;
  };
  void G;
  return { seq, batch, I, H, dirs, x, W: floats(inputs[1]!), R: floats(R), B: inputs[3] ? floats(inputs[3]) : undefined, lens, init };
}

/**
 * Drive a cell over every direction, batch entry and time step. `step(d, b, t, xt, h, c)` updates h (and
 * c) in place. Y rows beyond a batch entry's sequence length stay 0; Y_h/Y_c hold the state after its
 * last valid step (for reverse, step 0).
 */
function drive(
  p: Prep,
  attrs: Attrs,
  dtype: Tensor['type'],
  withC: boolean,
  initH: Tensor | undefined,
  initC: Tensor | undefined,
  step: (d: number, xt: Float64Array, h: Float64Array, c: Float64Array) => void,
): Tensor[] {
  const { seq, batch, I, H, dirs } = p;
  const lay = attrs.layout as number;
  const Y = new Float64Array(sizeOf([seq, dirs, batch, H]));
  const Yh = new Float64Array(sizeOf([dirs, batch, H]));
  const Yc = new Float64Array(Yh.length);
  const h0 = p.init(initH);
  const c0 = p.init(initC);
  const xt = new Float64Array(I);
  const h = new Float64Array(H);
  const c = new Float64Array(H);
  const reverse = attrs.direction === 'reverse';
  for (let d = 0; d < dirs; d++) {
    const back = reverse || d === 1;
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < H; j++) {
        h[j] = h0(d, b, j);
        c[j] = c0(d, b, j);
      }
      const len = p.lens[b]!;
      for (let s = 0; s < len; s++) {
        const t = back ? len - 1 - s : s;
        for (let i = 0; i < I; i++) xt[i] = p.x(t, b, i);
        step(d, xt, h, c);
        const yo = lay === 0 ? ((t * dirs + d) * batch + b) * H : ((b * seq + t) * dirs + d) * H;
        Y.set(h, yo);
      }
      const so = lay === 0 ? (d * batch + b) * H : (b * dirs + d) * H;
      Yh.set(h, so);
      Yc.set(c, so);
    }
  }
  const yDims = lay === 0 ? [seq, dirs, batch, H] : [batch, seq, dirs, H];
  const sDims = lay === 0 ? [dirs, batch, H] : [batch, dirs, H];
  const out = [fromFloats(dtype, yDims, narrow(dtype, Y)), fromFloats(dtype, sDims, narrow(dtype, Yh))];
  if (withC) out.push(fromFloats(dtype, sDims, narrow(dtype, Yc)));
  return out;
}

const narrow = (dtype: string, v: Float64Array): Float32Array | Float64Array => (dtype === 'float64' ? v : Float32Array.from(v));

/** out[r] = Σ_k M[off + r·cols + k] · v[k] for r in [0, rows) (one gate block of W or R times a vector). */
function matvec(M: Float32Array | Float64Array, off: number, rows: number, cols: number, v: Float64Array, out: Float64Array, outOff = 0): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = off + r * cols;
    for (let k = 0; k < cols; k++) s += M[base + k]! * v[k]!;
    out[outOff + r] = s;
  }
}

const clipper = (clip: number | undefined) => (clip === undefined ? (x: number) => x : (x: number) => (x < -clip ? -clip : x > clip ? clip : x));

// ONNX RNN: Ht = f(Xt·Wiᵀ + Ht-1·Riᵀ + Wbi + Rbi)
/** Steps × batch × directions × (W·x + R·h): gates·H × (I + H) multiply-adds each (OpDef.cost). */
const rnnCost = ({ inputs: [x, w, r] }: CostCtx): number => elems(x, 0, 2) * elems(w, 0, 2) * (dim(w, 2) + dim(r, 2));

defineOp({
  name: 'RNN',
  cost: rnnCost,
  inputs: [3, 6],
  outputs: [0, 2],
  attrs: { ...RNN_ATTRS },
  inferShape: (ctx) => rnnShape(ctx, KINDS.RNN!),
  reference({ inputs, attrs, node }) {
    const p = prepare(inputs, attrs, 1);
    const { H, I } = p;
    const acts = activations(node, attrs, KINDS.RNN!, p.dirs);
    const cl = clipper(attrs.clip);
    const gx = new Float64Array(H);
    const gh = new Float64Array(H);
    return drive(p, attrs, inputs[0]!.type, false, inputs[5], undefined, (d, xt, h) => {
      matvec(p.W, d * H * I, H, I, xt, gx);
      matvec(p.R, d * H * H, H, H, h, gh);
      const f = acts[d]!;
      const bo = d * 2 * H;
      for (let j = 0; j < H; j++) h[j] = f(cl(gx[j]! + gh[j]! + (p.B ? p.B[bo + j]! + p.B[bo + H + j]! : 0)));
    });
  },
});

// ONNX GRU (gates z, r, h in that order in W, R, B):
//   zt = f(Xt·Wzᵀ + Ht-1·Rzᵀ + Wbz + Rbz);  rt = f(Xt·Wrᵀ + Ht-1·Rrᵀ + Wbr + Rbr)
//   ht = g(Xt·Whᵀ + (rt ⊙ Ht-1)·Rhᵀ + Rbh + Wbh)            when linear_before_reset = 0
//   ht = g(Xt·Whᵀ + (rt ⊙ (Ht-1·Rhᵀ + Rbh)) + Wbh)          when linear_before_reset != 0
//   Ht = (1 - zt) ⊙ ht + zt ⊙ Ht-1
defineOp({
  name: 'GRU',
  cost: rnnCost,
  inputs: [3, 6],
  outputs: [0, 2],
  attrs: { ...RNN_ATTRS, linear_before_reset: { type: 'int', default: 0 } },
  inferShape: (ctx) => rnnShape(ctx, KINDS.GRU!),
  reference({ inputs, attrs, node }) {
    const p = prepare(inputs, attrs, 3);
    const { H, I } = p;
    const acts = activations(node, attrs, KINDS.GRU!, p.dirs);
    const cl = clipper(attrs.clip);
    const lbr = attrs.linear_before_reset !== 0;
    const gx = new Float64Array(3 * H);
    const gh = new Float64Array(3 * H);
    const rh = new Float64Array(H);
    const z = new Float64Array(H);
    const rg = new Float64Array(H);
    return drive(p, attrs, inputs[0]!.type, false, inputs[5], undefined, (d, xt, h) => {
      const f = acts[2 * d]!;
      const g = acts[2 * d + 1]!;
      const B = p.B;
      const bo = d * 6 * H;
      const wb = (k: number) => (B ? B[bo + k]! : 0);
      const rb = (k: number) => (B ? B[bo + 3 * H + k]! : 0);
      matvec(p.W, d * 3 * H * I, 3 * H, I, xt, gx);
      // z and r use Ht-1 directly
      matvec(p.R, d * 3 * H * H, 2 * H, H, h, gh);
      for (let j = 0; j < H; j++) {
        z[j] = f(cl(gx[j]! + gh[j]! + wb(j) + rb(j)));
        rg[j] = f(cl(gx[H + j]! + gh[H + j]! + wb(H + j) + rb(H + j)));
      }
      const rOff = d * 3 * H * H + 2 * H * H;
      if (lbr) {
        matvec(p.R, rOff, H, H, h, gh, 2 * H);
        for (let j = 0; j < H; j++) rh[j] = g(cl(gx[2 * H + j]! + rg[j]! * (gh[2 * H + j]! + rb(2 * H + j)) + wb(2 * H + j)));
      } else {
        for (let j = 0; j < H; j++) rh[j] = rg[j]! * h[j]!;
        matvec(p.R, rOff, H, H, rh, gh, 2 * H);
        for (let j = 0; j < H; j++) rh[j] = g(cl(gx[2 * H + j]! + gh[2 * H + j]! + rb(2 * H + j) + wb(2 * H + j)));
      }
      for (let j = 0; j < H; j++) h[j] = (1 - z[j]!) * rh[j]! + z[j]! * h[j]!;
    });
  },
});

// ONNX LSTM (gates i, o, f, c in W, R, B; peepholes P = [Pi, Po, Pf]):
//   it = f(Xt·Wiᵀ + Ht-1·Riᵀ + Pi ⊙ Ct-1 + Wbi + Rbi);  ft = f(… Pf ⊙ Ct-1 …);  ct = g(Xt·Wcᵀ + Ht-1·Rcᵀ + Wbc + Rbc)
//   Ct = ft ⊙ Ct-1 + it ⊙ ct;  ot = f(… + Po ⊙ Ct + …);  Ht = ot ⊙ h(Ct)
defineOp({
  name: 'LSTM',
  cost: rnnCost,
  inputs: [3, 8],
  outputs: [0, 3],
  attrs: { ...RNN_ATTRS, input_forget: { type: 'int', default: 0 } },
  inferShape: (ctx) => rnnShape(ctx, KINDS.LSTM!),
  reference({ inputs, attrs, node }) {
    const p = prepare(inputs, attrs, 4);
    const { H, I } = p;
    const acts = activations(node, attrs, KINDS.LSTM!, p.dirs);
    const cl = clipper(attrs.clip);
    const P = inputs[7] ? floats(inputs[7]) : undefined;
    const coupled = attrs.input_forget !== 0;
    const gx = new Float64Array(4 * H);
    const gh = new Float64Array(4 * H);
    return drive(p, attrs, inputs[0]!.type, true, inputs[5], inputs[6], (d, xt, h, c) => {
      const f = acts[3 * d]!;
      const g = acts[3 * d + 1]!;
      const hh = acts[3 * d + 2]!;
      matvec(p.W, d * 4 * H * I, 4 * H, I, xt, gx);
      matvec(p.R, d * 4 * H * H, 4 * H, H, h, gh);
      const B = p.B;
      const bo = d * 8 * H;
      const po = d * 3 * H;
      for (let j = 0; j < H; j++) {
        const pre = (k: number) => gx[k * H + j]! + gh[k * H + j]! + (B ? B[bo + k * H + j]! + B[bo + 4 * H + k * H + j]! : 0);
        const cPrev = c[j]!;
        const it = f(cl(pre(0) + (P ? P[po + j]! * cPrev : 0)));
        // input_forget: "Couple the input and forget gates if 1" (ft = 1 - it, as onnxruntime)
        const ft = coupled ? 1 - it : f(cl(pre(2) + (P ? P[po + 2 * H + j]! * cPrev : 0)));
        const ct = g(cl(pre(3)));
        const C = ft * cPrev + it * ct;
        const ot = f(cl(pre(1) + (P ? P[po + H + j]! * C : 0)));
        c[j] = C;
        h[j] = ot * hh(cl(C));
      }
    });
  },
});
