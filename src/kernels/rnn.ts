import type { ValueType } from '../ir/graph.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, type PreparedKernel, decline, registerKernel } from './registry.js';
import { type Arena, type KernelExports, arena, bindConstant, kernels } from './wasm.js';

/**
 * LSTM on float32 with constant weights and sigmoid / tanh / tanh activations: ONNX LSTM (either layout, any
 * direction, optional clip and initial_h / initial_c) and TFLite UNIDIRECTIONAL_SEQUENCE_LSTM (no CIFG, peepholes,
 * projection or layer norm; TANH; cell_clip). Per direction:
 *  - the input projection of every time step at once: Gx[T·B × 4H] = X · Wᵀ (one packed GEMM, W packed transposed
 *    at plan time);
 *  - per step Gh[B × 4H] = H_{t−1} · Rᵀ + Wb + Rb (the biases ride in R's packed panels; the 1×8 GEMV kernel at
 *    batch 1), then the pointwise cell asm/f32_lstm_cell (sigmoid/tanh, clips, C and H in place, H written into Y).
 * Gates are in ONNX order i, o, f, c (TFLite's i, f, c, o tensors are stacked in that order). Float results agree
 * with the references (double or float accumulators) to float rounding, not bit for bit.
 */

/** The weights of one LSTM in ONNX terms: per direction W [4H × I], R [4H × H], bias Wb + Rb [4H] (i, o, f, c). */
interface LstmWeights {
  dirs: number;
  H: number;
  I: number;
  W: Float32Array;
  R: Float32Array;
  bias?: Float32Array;
  /** ONNX clip: pre-activations and C before h() (Infinity = none) */
  clip: number;
  /** TFLite cell_clip: the stored C (Infinity = none) */
  cclip: number;
  /** 0: X [T, B, I], Y [T, dirs, B, H], states [dirs, B, H]; 1: X [B, T, I], Y [B, T, dirs, H], states [B, dirs, H] */
  layout: number;
  reverse: boolean;
}

/** Pack the weights into kernel memory and return the run: (X, initial h, initial c, which outputs) → Y, Y_h, Y_c. */
function prepareLstm(mem: Arena, ex: KernelExports, lw: LstmWeights, name: string, want: boolean[], inputIdx: { h0?: number; c0?: number }): PreparedKernel {
  const { dirs, H, I, clip, cclip, layout, reverse } = lw;
  const wSize = ex.f32_gemm_packed_size_8(4 * H, I);
  const rSize = ex.f32_gemm_packed_size_8(4 * H, H);
  const wp: number[] = [];
  const rp: number[] = [];
  try {
    for (let d = 0; d < dirs; d++) {
      const tmp = mem.alloc(Math.max(4 * H * I, 4 * H * H) * 4, 'LSTM weight staging');
      try {
        wp.push(mem.alloc(wSize, 'LSTM packed W'));
        mem.f32(tmp, 4 * H * I).set(lw.W.subarray(d * 4 * H * I, (d + 1) * 4 * H * I));
        ex.f32_gemm_pack_8_t(4 * H, I, tmp, I, wp[d]!);
        rp.push(mem.alloc(rSize, 'LSTM packed R'));
        mem.f32(tmp, 4 * H * H).set(lw.R.subarray(d * 4 * H * H, (d + 1) * 4 * H * H));
        ex.f32_gemm_pack_8_t(4 * H, H, tmp, H, rp[d]!);
      } finally {
        mem.release(tmp);
      }
      if (lw.bias) {
        // panel p starts with 8 bias floats (columns 8p..8p+7), then H rows of 8 weights
        const panel = (H + 1) * 8;
        const v = mem.f32(rp[d]!, rSize / 4);
        for (let n = 0; n < 4 * H; n++) v[(n >> 3) * panel + (n & 7)] = lw.bias[d * 4 * H + n]!;
      }
    }
  } catch (e) {
    for (const p of [...wp, ...rp]) mem.release(p);
    throw e;
  }
  const Hp = (H + 3) & ~3;
  /**
   * The recurrence over kernel-memory pointers: X at xp ([seq, batch] or [batch, seq] rows of I); Y written at yp
   * on every step, Y_h / Y_c at yh / yc when non-zero; gx, gh, hs, cs scratch (scratchFloats). `init(f, c, o, at)`
   * writes direction/batch state o of H floats (c = 0: h, 1: c) at float index `at` of f.
   */
  const recur = (xp: number, seq: number, batch: number, init: (f: Float32Array, c: 0 | 1, o: number, at: number) => void, yp: number, yh: number, yc: number, gx: number, gh: number, hs: number, cs: number) => {
    const f = new Float32Array(mem.buffer);
    const so = (d: number, bi: number) => (layout === 0 ? (d * batch + bi) * H : (bi * dirs + d) * H);
    const rows = seq * batch;
    for (let d = 0; d < dirs; d++) {
      ex.f32_gemm(rows, 4 * H, I, xp, I, wp[d]!, gx, 4 * H, -Infinity, Infinity, 0);
      for (let bi = 0; bi < batch; bi++) {
        init(f, 0, so(d, bi), (hs >> 2) + bi * Hp);
        init(f, 1, so(d, bi), (cs >> 2) + bi * Hp);
      }
      const back = reverse || d === 1;
      for (let s = 0; s < seq; s++) {
        const t = back ? seq - 1 - s : s;
        ex.f32_gemm(batch, 4 * H, H, hs, Hp, rp[d]!, gh, 4 * H, -Infinity, Infinity, 0);
        for (let bi = 0; bi < batch; bi++) {
          const row = layout === 0 ? t * batch + bi : bi * seq + t;
          const yo = layout === 0 ? ((t * dirs + d) * batch + bi) * H : ((bi * seq + t) * dirs + d) * H;
          ex.f32_lstm_cell(gx + row * 16 * H, gh + bi * 16 * H, hs + bi * Hp * 4, cs + bi * Hp * 4, yp + yo * 4, H, clip, cclip);
        }
      }
      for (let bi = 0; bi < batch; bi++) {
        const o = so(d, bi);
        if (yh) f.copyWithin((yh >> 2) + o, (hs >> 2) + bi * Hp, (hs >> 2) + bi * Hp + H);
        if (yc) f.copyWithin((yc >> 2) + o, (cs >> 2) + bi * Hp, (cs >> 2) + bi * Hp + H);
      }
    }
  };
  /** floats of the scratch blocks gx, gh, hs, cs */
  const scratchFloats = (seq: number, batch: number) => [seq * batch * 4 * H + 4, batch * 4 * H + 4, batch * Hp, batch * Hp] as const;
  const dimsOf = (x: readonly number[]) => (layout === 0 ? { seq: x[0]!, batch: x[1]! } : { seq: x[1]!, batch: x[0]! });
  return {
    name,
    run(inputs, outTypes: ValueType[]) {
      const X = inputs[0]!;
      const { seq, batch } = dimsOf(X.dims);
      if (!seq || !batch || !H) return undefined;
      // initial state read before any allocation (growing the memory would detach resident inputs' views)
      const st = (i: number | undefined) => (i !== undefined && inputs[i] ? Float32Array.from(inputs[i].data as Float32Array) : undefined);
      const states = [st(inputIdx.h0), st(inputIdx.c0)];
      const xin = mem.input(X.data as Float32Array, 'LSTM input');
      const scratch: number[] = [];
      const outputs: number[] = [];
      const alloc = (floats: number, what: string, into = scratch) => {
        const p = mem.alloc(floats * 4, what);
        into.push(p);
        return p;
      };
      let ok = false;
      try {
        const [gx, gh, hs, cs] = scratchFloats(seq, batch).map((n) => alloc(n, 'LSTM scratch')) as [number, number, number, number];
        // Y is written every step (the cell's h copy); Y_h / Y_c only when fetched
        const yp = alloc(seq * dirs * batch * H, 'LSTM Y', want[0] ? outputs : scratch);
        const yh = want[1] ? alloc(dirs * batch * H, 'LSTM Y_h', outputs) : 0;
        const yc = want[2] ? alloc(dirs * batch * H, 'LSTM Y_c', outputs) : 0;
        recur(xin.ptr, seq, batch, (f, c, o, at) => (states[c] ? f.set(states[c].subarray(o, o + H), at) : f.fill(0, at, at + H)), yp, yh, yc, gx, gh, hs, cs);
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
        return bindConstant(scratch, c.data as Float32Array, 'LSTM constant state');
      };
      const h0 = statePtr(inputIdx.h0);
      const c0 = statePtr(inputIdx.c0);
      if (h0 === undefined || c0 === undefined) return undefined;
      const [gx, gh, hs, cs] = scratchFloats(seq, batch).map((n) => scratch(n * 4, 'LSTM scratch')) as [number, number, number, number];
      const at = (k: number) => (want[k] && (outs[k] ?? -1) >= 0 ? outs[k]! : 0);
      const yp = at(0) || scratch(seq * dirs * batch * H * 4, 'LSTM Y');
      const [yh, yc] = [at(1), at(2)];
      const src = [h0 >> 2, c0 >> 2];
      const init = (f: Float32Array, c: 0 | 1, o: number, to: number) => (src[c] ? f.copyWithin(to, src[c] + o, src[c] + o + H) : f.fill(0, to, to + H));
      const xp = ins[0];
      return () => recur(xp, seq, batch, init, yp, yh, yc, gx, gh, hs, cs);
    },
    dispose() {
      for (const p of [...wp, ...rp]) mem.release(p);
    },
  };
}


const DEFAULT_ACTS = ['sigmoid', 'tanh', 'tanh'];

// ONNX LSTM: inputs X, W, R, B, sequence_lens, initial_h, initial_c, P; outputs Y, Y_h, Y_c
const lstmWasm: KernelDef = {
  op: 'LSTM',
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'float32') return decline(`X is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    const w = constant(1);
    const r = constant(2);
    const b = node.inputs[3] ? constant(3) : undefined;
    if (!w || !r || w.type !== 'float32' || r.type !== 'float32') return decline('W and R are not float32 constants');
    if (node.inputs[3] && (!b || b.type !== 'float32')) return decline('B is not a float32 constant');
    if (node.inputs[4]) return decline('sequence_lens is given');
    if (node.inputs[7]) return decline('peepholes (P) are given');
    if ((attrs.input_forget ?? 0) !== 0) return decline('input_forget = 1');
    const dirs = attrs.direction === 'bidirectional' ? 2 : 1;
    const acts = (attrs.activations as string[] | undefined)?.map((a) => a.toLowerCase());
    if (acts && acts.some((a, i) => a !== DEFAULT_ACTS[i % 3])) return decline(`activations ${acts.join(',')}: only Sigmoid, Tanh, Tanh`);
    const [, g4, I] = w.dims as [number, number, number];
    const H = r.dims[2]!;
    if (g4 !== 4 * H || r.dims[1] !== 4 * H || (b && b.size !== dirs * 8 * H)) return decline('W/R/B dims do not match hidden_size');
    let bias: Float32Array | undefined;
    if (b) {
      const bd = b.data as Float32Array;
      bias = new Float32Array(dirs * 4 * H);
      for (let d = 0; d < dirs; d++) for (let n = 0; n < 4 * H; n++) bias[d * 4 * H + n] = bd[d * 8 * H + n]! + bd[d * 8 * H + 4 * H + n]!;
    }
    const lw: LstmWeights = { dirs, H, I, W: w.data as Float32Array, R: r.data as Float32Array, bias, clip: attrs.clip ?? Infinity, cclip: Infinity, layout: attrs.layout ?? 0, reverse: attrs.direction === 'reverse' };
    return prepareLstm(mem, ex, lw, 'f32_lstm', [0, 1, 2].map((k) => !!node.outputs[k]), { h0: 5, c0: 6 });
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
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
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
    const lw: LstmWeights = { dirs: 1, H, I, W: cat(ws), R: cat(rs), bias: cat(bs), clip: Infinity, cclip: cellClip > 0 ? cellClip : Infinity, layout: attrs.time_major ? 0 : 1, reverse: false };
    return prepareLstm(mem, ex, lw, 'f32_lstm', [true, false, false], { h0: 18, c0: 19 });
  },
};

registerKernel(lstmWasm);
registerKernel(tflLstmWasm);
