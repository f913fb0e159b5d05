import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

/**
 * ONNX LSTM, float32, constant W / R (/ B), the default activations (Sigmoid, Tanh, Tanh), either layout, any
 * direction, optional clip and initial_h / initial_c. Per direction:
 *  - the input projection of every time step at once: Gx[T·B × 4H] = X · Wᵀ (one packed GEMM, W packed in place
 *    transposed at plan time);
 *  - per step Gh[B × 4H] = H_{t−1} · Rᵀ + Wb + Rb (the biases ride in R's packed panels; the 1×8 GEMV kernel at
 *    batch 1), then the pointwise cell asm/f32_lstm_cell (sigmoid/tanh, clip, C and H in place, H written into Y).
 * Declines (the reference runs them): sequence_lens, peepholes P, input_forget, other activations, non-float32.
 * Float results agree with the reference (double accumulators) to float rounding, not bit for bit.
 */
const DEFAULT_ACTS = ['sigmoid', 'tanh', 'tanh'];

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
    const clip: number = attrs.clip ?? Infinity;
    const layout: number = attrs.layout ?? 0;
    const reverse = attrs.direction === 'reverse';
    // packed weights per direction: Wᵀ [I × 4H] (no bias) and Rᵀ [H × 4H] with Wb + Rb as the panels' bias
    const wSize = ex.f32_gemm_packed_size_8(4 * H, I);
    const rSize = ex.f32_gemm_packed_size_8(4 * H, H);
    const wp: number[] = [];
    const rp: number[] = [];
    const wd = w.data as Float32Array;
    const rd = r.data as Float32Array;
    const bd = b?.data as Float32Array | undefined;
    try {
      for (let d = 0; d < dirs; d++) {
        const tmp = mem.alloc(Math.max(4 * H * I, 4 * H * H) * 4, 'LSTM weight staging');
        try {
          wp.push(mem.alloc(wSize, 'LSTM packed W'));
          mem.f32(tmp, 4 * H * I).set(wd.subarray(d * 4 * H * I, (d + 1) * 4 * H * I));
          ex.f32_gemm_pack_8_t(4 * H, I, tmp, I, wp[d]!);
          rp.push(mem.alloc(rSize, 'LSTM packed R'));
          mem.f32(tmp, 4 * H * H).set(rd.subarray(d * 4 * H * H, (d + 1) * 4 * H * H));
          ex.f32_gemm_pack_8_t(4 * H, H, tmp, H, rp[d]!);
        } finally {
          mem.release(tmp);
        }
        if (bd) {
          // panel p starts with 8 bias floats (columns 8p..8p+7), then H rows of 8 weights
          const panel = (H + 1) * 8;
          const v = mem.f32(rp[d]!, rSize / 4);
          for (let n = 0; n < 4 * H; n++) v[(n >> 3) * panel + (n & 7)] = bd[d * 8 * H + n]! + bd[d * 8 * H + 4 * H + n]!;
        }
      }
    } catch (e) {
      for (const p of [...wp, ...rp]) mem.release(p);
      throw e;
    }
    const Hp = (H + 3) & ~3;
    return {
      name: 'f32_lstm',
      run(inputs, outTypes) {
        const X = inputs[0]!;
        const [d0, d1] = X.dims as [number, number, number];
        const seq = layout === 0 ? d0 : d1;
        const batch = layout === 0 ? d1 : d0;
        if (!seq || !batch || !H) return undefined;
        // initial state read before any allocation (growing the memory would detach resident inputs' views)
        const h0 = inputs[5] ? Float32Array.from(inputs[5].data as Float32Array) : undefined;
        const c0 = inputs[6] ? Float32Array.from(inputs[6].data as Float32Array) : undefined;
        const xin = mem.input(X.data as Float32Array, 'LSTM input');
        const rows = seq * batch;
        const scratch: number[] = [];
        const outputs: number[] = [];
        const alloc = (floats: number, what: string, into = scratch) => {
          const p = mem.alloc(floats * 4, what);
          into.push(p);
          return p;
        };
        let ok = false;
        const want = node.outputs.map((o) => !!o);
        try {
          const gx = alloc(rows * 4 * H + 4, 'LSTM input gates');
          const gh = alloc(batch * 4 * H + 4, 'LSTM recurrent gates');
          const hs = alloc(batch * Hp, 'LSTM h');
          const cs = alloc(batch * Hp, 'LSTM c');
          // Y is written every step (the cell's h copy); Y_h / Y_c only when fetched
          const yp = alloc(seq * dirs * batch * H, 'LSTM Y', want[0] ? outputs : scratch);
          const yh = want[1] ? alloc(dirs * batch * H, 'LSTM Y_h', outputs) : 0;
          const yc = want[2] ? alloc(dirs * batch * H, 'LSTM Y_c', outputs) : 0;
          const f = new Float32Array(mem.memory.buffer);
          const so = (d: number, bi: number) => (layout === 0 ? (d * batch + bi) * H : (bi * dirs + d) * H);
          for (let d = 0; d < dirs; d++) {
            ex.f32_gemm(rows, 4 * H, I, xin.ptr, I, wp[d]!, gx, 4 * H, -Infinity, Infinity, 0);
            for (let bi = 0; bi < batch; bi++) {
              const o = so(d, bi);
              const hb = (hs >> 2) + bi * Hp;
              const cb = (cs >> 2) + bi * Hp;
              if (h0) f.set(h0.subarray(o, o + H), hb);
              else f.fill(0, hb, hb + H);
              if (c0) f.set(c0.subarray(o, o + H), cb);
              else f.fill(0, cb, cb + H);
            }
            const back = reverse || d === 1;
            for (let s = 0; s < seq; s++) {
              const t = back ? seq - 1 - s : s;
              ex.f32_gemm(batch, 4 * H, H, hs, Hp, rp[d]!, gh, 4 * H, -Infinity, Infinity, 0);
              for (let bi = 0; bi < batch; bi++) {
                const row = layout === 0 ? t * batch + bi : bi * seq + t;
                const yo = layout === 0 ? ((t * dirs + d) * batch + bi) * H : ((bi * seq + t) * dirs + d) * H;
                ex.f32_lstm_cell(gx + row * 16 * H, gh + bi * 16 * H, hs + bi * Hp * 4, cs + bi * Hp * 4, yp + yo * 4, H, clip);
              }
            }
            for (let bi = 0; bi < batch; bi++) {
              const o = so(d, bi);
              if (yh) f.copyWithin((yh >> 2) + o, (hs >> 2) + bi * Hp, (hs >> 2) + bi * Hp + H);
              if (yc) f.copyWithin((yc >> 2) + o, (cs >> 2) + bi * Hp, (cs >> 2) + bi * Hp + H);
            }
          }
          const out = (k: number, p: number) => (want[k] ? new Tensor('float32', mem.f32(p, outTypes[k]!.shape!.reduce<number>((a, x) => a * (x as number), 1)), outTypes[k]!.shape as number[]) : new Tensor('float32', new Float32Array(0), [0]));
          const res = [out(0, yp), out(1, yh), out(2, yc)];
          ok = true;
          return res;
        } finally {
          // scratch always; the output blocks stay with the caller unless the run failed
          for (const p of scratch) mem.release(p);
          if (!ok) for (const p of outputs) mem.release(p);
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      dispose() {
        for (const p of [...wp, ...rp]) mem.release(p);
      },
    };
  },
};

registerKernel(lstmWasm);
