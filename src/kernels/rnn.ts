import { TFL_DOMAIN } from '../ir/layout.js';
import { ShapeError } from '../errors.js';
import type { Node, ValueType } from '../ir/graph.js';
import type { Attrs } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, type PreparedKernel, decline, registerKernel } from './registry.js';
import { type Arena, type KernelExports, arena, bindConstant, kernels } from './wasm.js';

/**
 * ONNX LSTM, GRU and RNN and TFLite's float UNIDIRECTIONAL_SEQUENCE_LSTM on float32 with constant weights and the
 * default activations (RNN: Tanh or Relu per direction): either layout, any direction, optional clip, biases,
 * initial states and sequence_lens (ONNX LSTM; TFLite: no CIFG, peepholes, projection or layer norm; TANH; cell_clip).
 * Per direction:
 *  - the input projection of every time step at once: Gx[T·B × G·H] = X · Wᵀ (+ Wb) (one packed GEMM, W packed
 *    transposed at plan time);
 *  - per step Gh[B × G·H] = H_{t−1} · Rᵀ + Rb (the biases ride in the packed panels; the 1×8 GEMV kernel at batch 1),
 *    then the pointwise cell of asm/f32_rnn.ts (f32_lstm_cell, f32_gru_cell, f32_rnn_cell) writes H (and C) in place
 *    and into Y. GRU with linear_before_reset = 0 takes its candidate's recurrent product on r ⊙ H_{t−1}: those rows
 *    of R are packed apart and multiplied after f32_gru_reset.
 * Gates in ONNX order (LSTM i, o, f, c — TFLite's i, f, c, o tensors are stacked in that order; GRU z, r, h). Float
 * results agree with the references (double or float accumulators) to float rounding, not bit for bit.
 */

/** The weights of one recurrent op in ONNX terms: per direction W [G·H × I], R [G·H × H], biases [G·H]. */
interface RecurrentWeights {
  dirs: number;
  H: number;
  I: number;
  /** gates: LSTM 4, GRU 3, RNN 1 */
  G: number;
  W: Float32Array;
  R: Float32Array;
  /** added to X·Wᵀ (packed into W's panels) */
  wb?: Float32Array;
  /** added to H_{t−1}·Rᵀ (packed into R's panels) */
  rb?: Float32Array;
  /** rows of R per packed part (they sum to G·H); a part is one GEMV per step */
  rParts: number[];
  /** 0: X [T, B, I], Y [T, dirs, B, H], states [dirs, B, H]; 1: X [B, T, I], Y [B, T, dirs, H], states [B, dirs, H] */
  layout: number;
  reverse: boolean;
  /** LSTM: a cell state C besides H */
  withC: boolean;
  step: Step;
}

/**
 * One time step of every batch row of direction d (kernel-memory byte offsets): rp the packed parts of R; hs, cs the
 * states (rows of Hp floats); gh rows of G·H floats; rh rows of Hp floats (GRU's r ⊙ H); gx[b] / y[b] the Gx row and Y
 * slot of batch row b at its time step, y[b] = −1 when its sequence has ended (its state stays as it is).
 */
interface StepArgs {
  d: number;
  rp: readonly number[];
  batch: number;
  gh: number;
  hs: number;
  cs: number;
  rh: number;
  gx: Float64Array;
  y: Float64Array;
}
type Step = (ex: KernelExports, a: StepArgs) => void;

/** Copy rows × k floats into kernel memory, pack them transposed (f32_gemm_pack_8_t) and put `bias` in the panels. */
function packT(mem: Arena, ex: KernelExports, m: Float32Array, rows: number, k: number, bias: Float32Array | undefined, what: string): number {
  const out = mem.alloc(ex.f32_gemm_packed_size_8(rows, k), what);
  let tmp = 0;
  try {
    tmp = mem.alloc(Math.max(4, rows * k * 4), `${what} staging`);
    mem.f32(tmp, rows * k).set(m);
    ex.f32_gemm_pack_8_t(rows, k, tmp, k, out);
  } catch (e) {
    mem.release(out);
    throw e;
  } finally {
    if (tmp) mem.release(tmp);
  }
  if (bias) {
    // panel p starts with 8 bias floats (columns 8p..8p+7), then k rows of 8 weights
    const panel = (k + 1) * 8;
    const v = mem.f32(out, ex.f32_gemm_packed_size_8(rows, k) / 4);
    for (let n = 0; n < rows; n++) v[(n >> 3) * panel + (n & 7)] = bias[n]!;
  }
  return out;
}

/** Which node inputs hold the initial states and sequence_lens (absent: zeros / full length). */
interface StateInputs {
  h0?: number;
  c0?: number;
  lens?: number;
}

/**
 * Pack the weights into kernel memory and return the run: (X, initial h, initial c, sequence_lens, which outputs) →
 * Y, Y_h, Y_c. `where` names the node in a bound call's sequence_lens error.
 */
function prepareRecurrent(mem: Arena, ex: KernelExports, rw: RecurrentWeights, name: string, where: string, want: boolean[], inputIdx: StateInputs): PreparedKernel {
  const { dirs, H, I, G, layout, reverse, withC, step } = rw;
  const GH = G * H;
  const wp: number[] = [];
  const rp: number[][] = [];
  try {
    for (let d = 0; d < dirs; d++) {
      const at = (a: Float32Array | undefined, from: number, n: number) => a?.subarray(d * GH + from, d * GH + from + n);
      wp.push(packT(mem, ex, rw.W.subarray(d * GH * I, (d + 1) * GH * I), GH, I, at(rw.wb, 0, GH), `${name} packed W`));
      const parts: number[] = [];
      rp.push(parts);
      let r0 = 0;
      for (const n of rw.rParts) {
        parts.push(packT(mem, ex, rw.R.subarray((d * GH + r0) * H, (d * GH + r0 + n) * H), n, H, at(rw.rb, r0, n), `${name} packed R`));
        r0 += n;
      }
    }
  } catch (e) {
    for (const p of [...wp, ...rp.flat()]) mem.release(p);
    throw e;
  }
  const Hp = (H + 3) & ~3;
  /**
   * The recurrence over kernel-memory pointers: X at xp ([seq, batch] or [batch, seq] rows of I); `lens` the
   * per-batch sequence lengths (undefined: all seq); Y written at yp on every valid step (zeros past a sequence's
   * end), Y_h / Y_c at yh / yc when non-zero; gx, gh, hs, cs, rh scratch (scratchFloats). `init(f, c, o, at)`
   * writes direction/batch state o of H floats (c = 0: h, 1: c) at float index `at` of f.
   */
  const recur = (xp: number, seq: number, batch: number, lens: ArrayLike<number> | undefined, init: (f: Float32Array, c: 0 | 1, o: number, at: number) => void, yp: number, yh: number, yc: number, sc: readonly number[]) => {
    const [gx, gh, hs, cs, rh] = sc as [number, number, number, number, number];
    const f = new Float32Array(mem.buffer);
    const so = (d: number, bi: number) => (layout === 0 ? (d * batch + bi) * H : (bi * dirs + d) * H);
    const len = (bi: number) => (lens ? lens[bi]! : seq);
    let longest = 0;
    let shortest = seq;
    for (let bi = 0; bi < batch; bi++) {
      longest = Math.max(longest, len(bi));
      shortest = Math.min(shortest, len(bi));
    }
    // ONNX: Y past a sequence's length is 0 (those slots are never written)
    if (shortest < seq) f.fill(0, yp >> 2, (yp >> 2) + seq * dirs * batch * H);
    const a: StepArgs = { d: 0, rp: rp[0]!, batch, gh, hs, cs, rh, gx: new Float64Array(batch), y: new Float64Array(batch) };
    for (let d = 0; d < dirs; d++) {
      ex.f32_gemm(seq * batch, GH, I, xp, I, wp[d]!, gx, GH, -Infinity, Infinity, 0);
      for (let bi = 0; bi < batch; bi++) {
        init(f, 0, so(d, bi), (hs >> 2) + bi * Hp);
        if (withC) init(f, 1, so(d, bi), (cs >> 2) + bi * Hp);
      }
      const back = reverse || d === 1;
      a.d = d;
      a.rp = rp[d]!;
      for (let s = 0; s < longest; s++) {
        for (let bi = 0; bi < batch; bi++) {
          const n = len(bi);
          const t = back ? n - 1 - s : s;
          const row = layout === 0 ? t * batch + bi : bi * seq + t;
          a.gx[bi] = gx + row * GH * 4;
          a.y[bi] = s < n ? yp + (layout === 0 ? ((t * dirs + d) * batch + bi) * H : ((bi * seq + t) * dirs + d) * H) * 4 : -1;
        }
        step(ex, a);
      }
      for (let bi = 0; bi < batch; bi++) {
        const o = so(d, bi);
        if (yh) f.copyWithin((yh >> 2) + o, (hs >> 2) + bi * Hp, (hs >> 2) + bi * Hp + H);
        if (yc) f.copyWithin((yc >> 2) + o, (cs >> 2) + bi * Hp, (cs >> 2) + bi * Hp + H);
      }
    }
  };
  /** floats of the scratch blocks gx, gh, hs, cs, rh (the cells read 3 floats past a row's gates: + 4) */
  const scratchFloats = (seq: number, batch: number) => [seq * batch * GH + 4, batch * GH + 4, batch * Hp, withC ? batch * Hp : 4, G === 3 ? batch * Hp : 4];
  const dimsOf = (x: readonly number[]) => (layout === 0 ? { seq: x[0]!, batch: x[1]! } : { seq: x[1]!, batch: x[0]! });
  const what = name.replace('f32_', '').toUpperCase();
  return {
    name,
    run(inputs, outTypes: ValueType[]) {
      const X = inputs[0]!;
      const { seq, batch } = dimsOf(X.dims);
      if (!seq || !batch || !H) return undefined;
      // initial states and lengths read before any allocation (growing the memory would detach resident inputs' views);
      // the op's shape rule has checked sequence_lens against seq on this run's values
      const st = (i: number | undefined) => (i !== undefined && inputs[i] ? Float32Array.from(inputs[i].data as Float32Array) : undefined);
      const states = [st(inputIdx.h0), st(inputIdx.c0)];
      const lt = inputIdx.lens !== undefined ? inputs[inputIdx.lens] : undefined;
      const lens = lt ? Int32Array.from(lt.data as Int32Array) : undefined;
      const xin = mem.input(X.data as Float32Array, `${what} input`);
      const scratch: number[] = [];
      const outputs: number[] = [];
      const alloc = (floats: number, what: string, into = scratch) => {
        const p = mem.alloc(floats * 4, what);
        into.push(p);
        return p;
      };
      let ok = false;
      try {
        const sc = scratchFloats(seq, batch).map((n) => alloc(n, `${what} scratch`));
        // Y is written every step (the cell's h copy); Y_h / Y_c only when fetched
        const yp = alloc(seq * dirs * batch * H, `${what} Y`, want[0] ? outputs : scratch);
        const yh = want[1] ? alloc(dirs * batch * H, `${what} Y_h`, outputs) : 0;
        const yc = want[2] ? alloc(dirs * batch * H, `${what} Y_c`, outputs) : 0;
        recur(xin.ptr, seq, batch, lens, (f, c, o, at) => (states[c] ? f.set(states[c].subarray(o, o + H), at) : f.fill(0, at, at + H)), yp, yh, yc, sc);
        const out = (k: number, p: number) => {
          if (!want[k]) return new Tensor('float32', new Float32Array(0), [0]);
          const shape = outTypes[k]!.shape as number[];
          return new Tensor('float32', mem.f32(p, shape.reduce((a, x) => a * x, 1)), shape);
        };
        const res = [out(0, yp), out(1, yh), out(2, yc)].slice(0, Math.max(1, outTypes.length));
        ok = true;
        return res;
      } finally {
        // scratch always; the output blocks stay with the caller unless the run failed
        for (const p of scratch) mem.release(p);
        if (!ok) for (const p of outputs) mem.release(p);
        if (xin.copied) mem.release(xin.ptr);
      }
    },
    bind({ ins, consts, inTypes, outs, scratch }) {
      const x = inTypes[0]?.shape as number[] | undefined;
      if (!x || ins[0] === undefined || ins[0] < 0) return undefined;
      const { seq, batch } = dimsOf(x);
      if (!seq || !batch || !H) return undefined;
      // initial states: a block (a value of this run), a constant (copied once into plan memory) or absent (zeros)
      const statePtr = (i: number | undefined): number | undefined => {
        if (i === undefined) return 0;
        if ((ins[i] ?? -1) >= 0) return ins[i];
        const c = consts[i];
        if (!c) return 0;
        if (c.type !== 'float32' || c.size !== dirs * batch * H) return undefined;
        return bindConstant(scratch, c.data as Float32Array, `${what} constant state`);
      };
      const h0 = statePtr(inputIdx.h0);
      const c0 = statePtr(inputIdx.c0);
      if (h0 === undefined || c0 === undefined) return undefined;
      // sequence_lens: a constant (the shape rule checked it at plan time) or a block read and checked on each call
      const li = inputIdx.lens;
      const lc = li !== undefined ? consts[li] : undefined;
      const lp = li !== undefined ? (ins[li] ?? -1) : -1;
      if (lc && (lc.type !== 'int32' || lc.size !== batch)) return undefined;
      if (lp >= 0 && (inTypes[li!]?.dtype !== 'int32' || lc)) return undefined;
      const fixedLens = lc ? Int32Array.from(lc.data as Int32Array) : undefined;
      const sc = scratchFloats(seq, batch).map((n) => scratch(n * 4, `${what} scratch`));
      const at = (k: number) => (want[k] && (outs[k] ?? -1) >= 0 ? outs[k]! : 0);
      const yp = at(0) || scratch(seq * dirs * batch * H * 4, `${what} Y`);
      const [yh, yc] = [at(1), at(2)];
      const src = [h0 >> 2, c0 >> 2];
      const init = (f: Float32Array, c: 0 | 1, o: number, to: number) => (src[c] ? f.copyWithin(to, src[c] + o, src[c] + o + H) : f.fill(0, to, to + H));
      const xp = ins[0];
      const lens = lp < 0 ? () => fixedLens : () => checkedLens(new Int32Array(mem.buffer, lp, batch), seq, where);
      return () => recur(xp, seq, batch, lens(), init, yp, yh, yc, sc);
    },
    dispose() {
      for (const p of [...wp, ...rp.flat()]) mem.release(p);
    },
  };
}

/** A run-time sequence_lens block of a static plan, checked as the op's shape rule checks it on the general path. */
function checkedLens(v: Int32Array, seq: number, where: string): Int32Array {
  for (let i = 0; i < v.length; i++) {
    // onnxruntime: "All values must be > 0 and <= seq_length"
    if (!(v[i]! >= 1 && v[i]! <= seq)) throw new ShapeError(`${where}: sequence_lens[${i}] = ${v[i]} is outside [1, ${seq}]`);
  }
  return v;
}

const lstmStep =
  (H: number, clip: number, cclip: number): Step =>
  (ex, a) => {
    const Hp = (H + 3) & ~3;
    ex.f32_gemm(a.batch, 4 * H, H, a.hs, Hp, a.rp[0]!, a.gh, 4 * H, -Infinity, Infinity, 0);
    for (let bi = 0; bi < a.batch; bi++) if (a.y[bi]! >= 0) ex.f32_lstm_cell(a.gx[bi]!, a.gh + bi * 16 * H, a.hs + bi * Hp * 4, a.cs + bi * Hp * 4, a.y[bi]!, H, clip, cclip);
  };

/** GRU: lbr ≠ 0 one GEMV over all 3H rows of R; lbr = 0 the z, r rows on H_{t−1}, then the h rows on r ⊙ H_{t−1}. */
const gruStep =
  (H: number, clip: number, lbr: boolean): Step =>
  (ex, a) => {
    const Hp = (H + 3) & ~3;
    const gh = (bi: number) => a.gh + bi * 12 * H;
    ex.f32_gemm(a.batch, lbr ? 3 * H : 2 * H, H, a.hs, Hp, a.rp[0]!, a.gh, 3 * H, -Infinity, Infinity, 0);
    if (!lbr) {
      for (let bi = 0; bi < a.batch; bi++) if (a.y[bi]! >= 0) ex.f32_gru_reset(a.gx[bi]!, gh(bi), a.hs + bi * Hp * 4, a.rh + bi * Hp * 4, H, clip);
      ex.f32_gemm(a.batch, H, H, a.rh, Hp, a.rp[1]!, a.gh + 8 * H, 3 * H, -Infinity, Infinity, 0);
    }
    for (let bi = 0; bi < a.batch; bi++) if (a.y[bi]! >= 0) ex.f32_gru_cell(a.gx[bi]!, gh(bi), a.hs + bi * Hp * 4, a.y[bi]!, H, clip, lbr ? 1 : 0);
  };

/** RNN: relu[d] picks Relu over Tanh for direction d. */
const rnnStep =
  (H: number, clip: number, relu: boolean[]): Step =>
  (ex, a) => {
    const Hp = (H + 3) & ~3;
    ex.f32_gemm(a.batch, H, H, a.hs, Hp, a.rp[0]!, a.gh, H, -Infinity, Infinity, 0);
    for (let bi = 0; bi < a.batch; bi++) if (a.y[bi]! >= 0) ex.f32_rnn_cell(a.gx[bi]!, a.gh + bi * 4 * H, a.hs + bi * Hp * 4, a.y[bi]!, H, clip, relu[a.d] ? 1 : 0);
  };

/** The float32 constant weights of an ONNX LSTM / GRU / RNN with G gates (W, R, optional B), or undefined (declined). */
function onnxWeights(node: Node, types: (ValueType | undefined)[], constant: (i: number) => Tensor | undefined, G: number, dirs: number) {
  if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
  const w = constant(1);
  const r = constant(2);
  const b = node.inputs[3] ? constant(3) : undefined;
  if (!w || !r || w.type !== 'float32' || r.type !== 'float32') return decline('W and R are not float32 constants');
  if (node.inputs[3] && (!b || b.type !== 'float32')) return decline('B is not a float32 constant');
  const [, gh, I] = w.dims as [number, number, number];
  const H = r.dims[2]!;
  if (gh !== G * H || r.dims[1] !== G * H || (b && b.size !== dirs * 2 * G * H)) return decline('W/R/B dims do not match hidden_size');
  const B = b?.data as Float32Array | undefined;
  /** half k (0: Wb, 1: Rb) of B per direction, as [dirs · G·H] */
  const half = (k: number) => {
    if (!B) return undefined;
    const out = new Float32Array(dirs * G * H);
    for (let d = 0; d < dirs; d++) out.set(B.subarray((2 * d + k) * G * H, (2 * d + k + 1) * G * H), d * G * H);
    return out;
  };
  return { H, I, W: w.data as Float32Array, R: r.data as Float32Array, wb: half(0), rb: half(1) };
}

/** activations (lower case) when the attribute lists other functions than `ok` allows per position, else undefined */
function otherActs(attrs: Attrs, ok: (a: string, i: number) => boolean): string | undefined {
  const acts = (attrs.activations as string[] | undefined)?.map((a) => a.toLowerCase());
  return acts && acts.some((a, i) => !ok(a, i)) ? acts.join(',') : undefined;
}

/** The kernel-memory arena and exports, or undefined (declined). */
const wasmOrDecline = () => {
  const mem = arena();
  const ex = kernels();
  return mem && ex ? { mem, ex } : decline('no WASM memory');
};

const where = (node: Node) => `node '${node.name}' (${node.op})`;
const DEFAULT_ACTS = ['sigmoid', 'tanh', 'tanh'];

// ONNX LSTM: inputs X, W, R, B, sequence_lens, initial_h, initial_c, P; outputs Y, Y_h, Y_c
const lstmWasm: KernelDef = {
  op: 'LSTM',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const k = wasmOrDecline();
    if (!k) return undefined;
    if (node.inputs[7]) return decline('peepholes (P) are given');
    if ((attrs.input_forget ?? 0) !== 0) return decline('input_forget = 1');
    const acts = otherActs(attrs, (a, i) => a === DEFAULT_ACTS[i % 3]);
    if (acts) return decline(`activations ${acts}: only Sigmoid, Tanh, Tanh`);
    const dirs = attrs.direction === 'bidirectional' ? 2 : 1;
    const w = onnxWeights(node, types, constant, 4, dirs);
    if (!w) return undefined;
    // both biases ride in R's panels (one add per step either way)
    const bias = w.wb && w.rb?.map((v, i) => w.wb![i]! + v);
    const { H, I, W, R } = w;
    const clip = attrs.clip ?? Infinity;
    const rw: RecurrentWeights = { dirs, H, I, G: 4, W, R, rb: bias, rParts: [4 * H], layout: attrs.layout ?? 0, reverse: attrs.direction === 'reverse', withC: true, step: lstmStep(H, clip, Infinity) };
    return prepareRecurrent(k.mem, k.ex, rw, 'f32_lstm', where(node), [0, 1, 2].map((i) => !!node.outputs[i]), { h0: 5, c0: 6, lens: 4 });
  },
};

// ONNX GRU: inputs X, W, R, B, sequence_lens, initial_h; outputs Y, Y_h; linear_before_reset 0 or 1 (PyTorch's)
const gruWasm: KernelDef = {
  op: 'GRU',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const k = wasmOrDecline();
    if (!k) return undefined;
    const acts = otherActs(attrs, (a, i) => a === (i % 2 ? 'tanh' : 'sigmoid'));
    if (acts) return decline(`activations ${acts}: only Sigmoid, Tanh`);
    const dirs = attrs.direction === 'bidirectional' ? 2 : 1;
    const w = onnxWeights(node, types, constant, 3, dirs);
    if (!w) return undefined;
    const H = w.H;
    const lbr = (attrs.linear_before_reset ?? 0) !== 0;
    const rw: RecurrentWeights = { dirs, G: 3, ...w, rParts: lbr ? [3 * H] : [2 * H, H], layout: attrs.layout ?? 0, reverse: attrs.direction === 'reverse', withC: false, step: gruStep(H, attrs.clip ?? Infinity, lbr) };
    return prepareRecurrent(k.mem, k.ex, rw, 'f32_gru', where(node), [0, 1].map((i) => !!node.outputs[i]), { h0: 5, lens: 4 });
  },
};

// ONNX RNN: inputs X, W, R, B, sequence_lens, initial_h; outputs Y, Y_h; Tanh (default) or Relu per direction
const rnnWasm: KernelDef = {
  op: 'RNN',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const k = wasmOrDecline();
    if (!k) return undefined;
    const acts = otherActs(attrs, (a) => a === 'tanh' || a === 'relu');
    if (acts) return decline(`activations ${acts}: only Tanh or Relu`);
    const dirs = attrs.direction === 'bidirectional' ? 2 : 1;
    const w = onnxWeights(node, types, constant, 1, dirs);
    if (!w) return undefined;
    const relu = Array.from({ length: dirs }, (_, d) => (attrs.activations as string[] | undefined)?.[d]?.toLowerCase() === 'relu');
    const rw: RecurrentWeights = { dirs, G: 1, ...w, rParts: [w.H], layout: attrs.layout ?? 0, reverse: attrs.direction === 'reverse', withC: false, step: rnnStep(w.H, attrs.clip ?? Infinity, relu) };
    return prepareRecurrent(k.mem, k.ex, rw, 'f32_rnn', where(node), [0, 1].map((i) => !!node.outputs[i]), { h0: 5, lens: 4 });
  },
};
// TFLite UNIDIRECTIONAL_SEQUENCE_LSTM: 0 input, 1–4 input_to_{input,forget,cell,output} weights, 5–8 recurrent_to_…,
// 9–11 peepholes, 12–15 {input,forget,cell,output} gate biases, 16–17 projection, 18 output state, 19 cell state,
// 20–23 layer-norm coefficients; one output [d0, d1, n_output]
const tflLstmWasm: KernelDef = {
  op: 'UNIDIRECTIONAL_SEQUENCE_LSTM',
  domain: TFL_DOMAIN,
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const k = wasmOrDecline();
    if (!k) return undefined;
    if (types[0]?.dtype !== 'float32') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const has = (i: number) => !!node.inputs[i];
    if (!has(1)) return decline('CIFG (no input gate weights)');
    if ([9, 10, 11].some(has)) return decline('peepholes are given');
    if (has(16) || has(17)) return decline('projection is given');
    if ([20, 21, 22, 23].some(has)) return decline('layer-norm LSTM');
    if ((attrs.fused_activation_function ?? 'TANH') !== 'TANH') return decline(`activation ${attrs.fused_activation_function}: only TANH`);
    // ONNX gate order i, o, f, c from TFLite's tensors (i, f, c, o)
    const order = [0, 3, 1, 2];
    const ws = order.map((g) => constant(1 + g));
    const rs = order.map((g) => constant(5 + g));
    const bs = order.map((g) => constant(12 + g));
    if (ws.some((t) => !t || t.type !== 'float32') || rs.some((t) => !t || t.type !== 'float32')) return decline('gate weights are not float32 constants');
    if (bs.some((t) => !t || t.type !== 'float32')) return decline('gate biases are not float32 constants');
    const [H, I] = ws[0]!.dims as [number, number];
    if (rs[0]!.dims[1] !== H) return decline('recurrent weights are not [n_cell, n_cell]');
    const cat = (ts: (Tensor | undefined)[]) => {
      const out = new Float32Array(ts.reduce((a, t) => a + t!.size, 0));
      let o = 0;
      for (const t of ts) {
        out.set(t!.data as Float32Array, o);
        o += t!.size;
      }
      return out;
    };
    const cellClip: number = attrs.cell_clip ?? 0;
    const rw: RecurrentWeights = { dirs: 1, H, I, G: 4, W: cat(ws), R: cat(rs), rb: cat(bs), rParts: [4 * H], layout: attrs.time_major ? 0 : 1, reverse: false, withC: true, step: lstmStep(H, Infinity, cellClip > 0 ? cellClip : Infinity) };
    return prepareRecurrent(k.mem, k.ex, rw, 'f32_lstm', where(node), [true, false, false], { h0: 18, c0: 19 });
  },
};

registerKernel(lstmWasm);
registerKernel(tflLstmWasm);
registerKernel(gruWasm);
registerKernel(rnnWasm);
