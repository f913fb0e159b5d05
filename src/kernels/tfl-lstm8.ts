// TFLite's integer LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM on int8, "8x8_16") on asm/qs8_lstm.ts.
import type { ValueType } from '../ir/graph.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { lstm8Quant } from '../ops/tflite.js';
import { type Lstm8Params, lstm8Params } from '../ops/tflite-lstm8.js';
import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type Arena, arena, bindConstant, kernels } from './wasm.js';

const INT32_MIN = -2147483648;

/**
 * The constant block qs8_lstm_run reads: gates i, f, c, o stacked with a stride of G = n_cell rounded up to 8 rows
 * (asm/qs8_lstm.ts: whole vectors per gate), padded rows and columns zero — W_x [4G, n_input], W_h [4G, G], the
 * folded biases [4G] of each part, the 16 multipliers / shifts, 4 int32 zeros. Offsets in bytes from the block.
 */
function packLstm8(mem: Arena, p: Lstm8Params): { ptr: number; g: number; wh: number; bx: number; bh: number; q: number; zeros: number } {
  const { nCell: nc, nInput: ni, gates } = p;
  const g = (nc + 7) & ~7;
  const a16 = (n: number) => (n + 15) & ~15;
  const wh = a16(4 * g * ni);
  const bx = wh + a16(4 * g * g);
  const bh = bx + 16 * g;
  const q = bh + 16 * g;
  const zeros = q + 64;
  const ptr = mem.alloc(zeros + 16, 'int8 LSTM weights');
  const buf = mem.buffer;
  new Uint8Array(buf, ptr, zeros + 16).fill(0);
  const i8 = new Int8Array(buf, ptr, zeros);
  const i32 = new Int32Array(buf, ptr, (zeros + 16) >> 2);
  gates.forEach((gt, k) => {
    for (let r = 0; r < nc; r++) {
      const row = k * g + r;
      i8.set(gt.wIn.subarray(r * ni, (r + 1) * ni), row * ni);
      i8.set(gt.wRec.subarray(r * nc, (r + 1) * nc), wh + row * g);
    }
    i32.set(gt.biasIn, (bx >> 2) + k * g);
    i32.set(gt.biasRec, (bh >> 2) + k * g);
    i32.set([gt.mIn], (q >> 2) + k);
    i32.set([gt.sIn], (q >> 2) + 4 + k);
    i32.set([gt.mRec], (q >> 2) + 8 + k);
    i32.set([gt.sRec], (q >> 2) + 12 + k);
  });
  return { ptr, g, wh: ptr + wh, bx: ptr + bx, bh: ptr + bh, q: ptr + q, zeros: ptr + zeros };
}

/**
 * The int8 LSTM with constant weights and biases: the reference's integer steps (src/ops/tflite-lstm8.ts, TFLite's
 * EvalInteger8x8_16) in asm/qs8_lstm.ts, bit-identical — the input part of every gate for all steps at once, then
 * per step the recurrent part, gemmlowp's int16 sigmoid / tanh on 8 lanes, the cell update and the output state.
 * The states start from their initial values each run, as in the reference. Plain LSTMs only, as the reference
 * (its shape rule declines CIFG, peepholes, projection and layer norm).
 */
const tflLstm8Wasm: KernelDef = {
  op: 'UNIDIRECTIONAL_SEQUENCE_LSTM',
  domain: TFL_DOMAIN,
  backend: 'wasm',
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    if (types[0]?.dtype !== 'int8') return decline(`input is ${types[0]?.dtype ?? 'of unknown type'}, not int8`);
    const w = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => constant(i));
    const b = [12, 13, 14, 15].map((i) => (node.inputs[i] ? constant(i) : undefined));
    if (w.some((t) => !t || t.type !== 'int8')) return decline('gate weights are not int8 constants');
    if ([12, 13, 14, 15].some((i, k) => node.inputs[i] && b[k]?.type !== 'int32')) return decline('gate biases are not int32 constants');
    const [nc, ni] = w[0]!.dims as [number, number];
    if (w[4]!.dims[1] !== nc) return decline('recurrent weights are not [n_cell, n_cell]');
    const p = lstm8Params(lstm8Quant(attrs), w.slice(0, 4).map((t) => t!.data as Int8Array), w.slice(4).map((t) => t!.data as Int8Array), b.map((t) => t?.data as Int32Array | undefined), nc, ni, nc);
    if (typeof p === 'string') return decline(p);
    // asm/q8.ts tflMbqm4 excludes INT32_MIN multipliers (QuantizeMultiplier makes them only from negative scales)
    if ([p.mHidden, ...p.gates.flatMap((gt) => [gt.mIn, gt.mRec])].includes(INT32_MIN)) return decline('a negative effective scale');
    const pk = packLstm8(mem, p);
    const tm = attrs.time_major ? 1 : 0;
    const dimsOf = (x: readonly number[]) => (tm ? { T: x[0]!, B: x[1]! } : { T: x[1]!, B: x[0]! });
    const runAt = (xp: number, T: number, B: number, h0: number, c0: number, scratch: number, out: number) =>
      ex.qs8_lstm_run(xp, T, B, tm, ni, nc, pk.g, pk.ptr, pk.wh, pk.bx, pk.bh, pk.q, pk.zeros, p.cellScale, p.cellClip, p.mHidden, p.sHidden, h0, c0, scratch, out);
    return {
      name: 'qs8_lstm',
      run(inputs, [o]: ValueType[]) {
        const x = inputs[0]!;
        const { T, B } = dimsOf(x.dims);
        const [h0, c0] = [inputs[18], inputs[19]];
        if (!T || !B || !h0 || !c0 || h0.size !== B * nc || c0.size !== B * nc) return undefined;
        // resident inputs pinned before any allocation (a memory.grow detaches their views), then the others copied in
        const ins = [x, h0, c0];
        const resident = ins.map((t) => mem.ptrOf(t));
        const pins = ins.map((t, k) => (resident[k] !== undefined ? { ptr: resident[k], copied: false } : mem.inputBytes(t.data as ArrayBufferView, 'int8 LSTM input or state')));
        const scratch = mem.alloc(ex.qs8_lstm_scratch_bytes(T, B, pk.g), 'int8 LSTM scratch');
        try {
          const y = mem.alloc(T * B * nc, 'int8 LSTM output');
          runAt(pins[0]!.ptr, T, B, pins[1]!.ptr, pins[2]!.ptr, scratch, y);
          const t = new Tensor('int8', mem.view('int8', y, T * B * nc), o!.shape as number[]);
          t.quant = o!.quant;
          return [t];
        } finally {
          mem.release(scratch);
          for (const pin of pins) if (pin.copied) mem.release(pin.ptr);
        }
      },
      // static plan: the initial states from their blocks, or their constants (TFLite's variable tensors) copied once
      bind({ ins, consts, inTypes, outs, scratch }) {
        const x = inTypes[0]?.shape as number[] | undefined;
        if (!x || ins[0] === undefined || ins[0] < 0 || outs[0] === undefined || outs[0] < 0) return undefined;
        const { T, B } = dimsOf(x);
        if (!T || !B) return undefined;
        const state = (i: number) => {
          if ((ins[i] ?? -1) >= 0) return ins[i]!;
          const c = consts[i];
          return c && c.size === B * nc ? bindConstant(scratch, c.data as ArrayBufferView, 'int8 LSTM initial state') : -1;
        };
        const [h0, c0] = [state(18), state(19)];
        if (h0 < 0 || c0 < 0) return undefined;
        const st = scratch(ex.qs8_lstm_scratch_bytes(T, B, pk.g), 'int8 LSTM scratch');
        const [xp, yp] = [ins[0], outs[0]];
        return () => runAt(xp, T, B, h0, c0, st, yp);
      },
      dispose() {
        mem.release(pk.ptr);
      },
    };
  },
};

registerKernel(tflLstm8Wasm);
