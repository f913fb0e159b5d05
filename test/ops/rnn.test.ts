import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../src/errors.js';
import { Graph } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import '../../src/ops/index.js';

async function run(op: string, ins: (Tensor | undefined)[], attrs: Record<string, any>, nOut: number): Promise<Tensor[]> {
  const g = new Graph();
  g.opsets = { '': 22 };
  const names = ins.map((t, i) => (t ? `in${i}` : ''));
  ins.forEach((t, i) => t && g.inputs.push({ name: `in${i}`, type: { dtype: t.type, shape: [...t.dims] } }));
  const outs = Array.from({ length: nOut }, (_, i) => `y${i}`);
  g.nodes.push({ name: 'the_node', op, domain: '', inputs: names, outputs: outs, attrs });
  g.outputs = outs.map((name) => ({ name, type: { dtype: 'float32' } }));
  const s = await InferenceSession.create(g);
  const feeds: Record<string, Tensor> = {};
  ins.forEach((t, i) => t && (feeds[`in${i}`] = t));
  const r = await s.run(feeds);
  return outs.map((o) => r[o]!);
}

const f32 = (v: number[], dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);
const list = (t: Tensor) => Array.from(t.data as ArrayLike<number>);
/** deterministic pseudo-random values in [-1, 1) */
function rand(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const close = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
};

async function rejects(p: Promise<unknown>, Err: typeof ShapeError | typeof UnsupportedError, re: RegExp) {
  const e = await p.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(Err);
  expect(String(e.message)).toMatch(/the_node/);
  expect(String(e.message)).toMatch(re);
}

/** Naive single-direction RNN over one batch entry: h = tanh(W x + R h + Wb + Rb). */
function naiveRnn(x: number[][], W: number[], R: number[], B: number[], H: number, I: number, h0: number[]): number[][] {
  let h = h0;
  const ys: number[][] = [];
  for (const xt of x) {
    h = Array.from({ length: H }, (_, j) => {
      let s = B[j]! + B[H + j]!;
      for (let i = 0; i < I; i++) s += W[j * I + i]! * xt[i]!;
      for (let k = 0; k < H; k++) s += R[j * H + k]! * h[k]!;
      return Math.tanh(s);
    });
    ys.push(h);
  }
  return ys;
}

describe('RNN', () => {
  it('bidirectional with sequence_lens and initial_h matches a naive per-sequence loop', async () => {
    const [S, Bt, I, H] = [4, 2, 3, 2];
    const X = rand(S * Bt * I, 1);
    const W = rand(2 * H * I, 2);
    const R = rand(2 * H * H, 3);
    const B = rand(2 * 2 * H, 4);
    const h0 = rand(2 * Bt * H, 5);
    const lens = [4, 2];
    const [Y, Yh] = await run('RNN', [f32(X, [S, Bt, I]), f32(W, [2, H, I]), f32(R, [2, H, H]), f32(B, [2, 2 * H]), new Tensor('int32', Int32Array.from(lens), [2]), f32(h0, [2, Bt, H])], { hidden_size: H, direction: 'bidirectional' }, 2);
    expect(Y!.dims).toEqual([S, 2, Bt, H]);
    const y = list(Y!);
    const yh = list(Yh!);
    for (let d = 0; d < 2; d++)
      for (let b = 0; b < Bt; b++) {
        let xs = Array.from({ length: lens[b]! }, (_, t) => X.slice((t * Bt + b) * I, (t * Bt + b + 1) * I));
        if (d === 1) xs = xs.reverse();
        const ys = naiveRnn(xs, W.slice(d * H * I), R.slice(d * H * H), B.slice(d * 2 * H), H, I, h0.slice((d * Bt + b) * H, (d * Bt + b + 1) * H));
        for (let t = 0; t < S; t++) {
          const at = ((t * 2 + d) * Bt + b) * H;
          const want = t < lens[b]! ? ys[d === 1 ? lens[b]! - 1 - t : t]! : [0, 0];
          close(y.slice(at, at + H), want);
        }
        close(yh.slice((d * Bt + b) * H, (d * Bt + b + 1) * H), ys[ys.length - 1]!);
      }
  });
  it('layout=1 is the batch-major transpose of layout=0', async () => {
    const [S, Bt, I, H] = [3, 2, 2, 3];
    const X = rand(S * Bt * I, 7);
    const W = f32(rand(H * I, 8), [1, H, I]);
    const R = f32(rand(H * H, 9), [1, H, H]);
    const Xb: number[] = [];
    for (let b = 0; b < Bt; b++) for (let t = 0; t < S; t++) Xb.push(...X.slice((t * Bt + b) * I, (t * Bt + b + 1) * I));
    const [Y0, H0] = await run('RNN', [f32(X, [S, Bt, I]), W, R], { hidden_size: H }, 2);
    const [Y1, H1] = await run('RNN', [f32(Xb, [Bt, S, I]), W, R], { hidden_size: H, layout: 1 }, 2);
    expect(Y1!.dims).toEqual([Bt, S, 1, H]);
    expect(H1!.dims).toEqual([Bt, 1, H]);
    const y0 = list(Y0!);
    const y1 = list(Y1!);
    for (let t = 0; t < S; t++) for (let b = 0; b < Bt; b++) close(y1.slice((b * S + t) * H, (b * S + t + 1) * H), y0.slice((t * Bt + b) * H, (t * Bt + b + 1) * H));
    close(list(H1!), list(H0!));
  });
  it('activations with alpha (LeakyRelu) and clip', async () => {
    // H=1, I=1, W=2, R=0: h = leaky(clip(2x, 1)) with alpha 0.5
    const [Y] = await run('RNN', [f32([3, -3, 0.25], [3, 1, 1]), f32([2], [1, 1, 1]), f32([0], [1, 1, 1])], { hidden_size: 1, activations: ['LeakyRelu'], activation_alpha: [0.5], clip: 1 }, 1);
    close(list(Y!), [1, -0.5, 0.5]);
  });
  it('rejects bad shapes, sequence_lens, activations', async () => {
    const X = f32(rand(6, 1), [3, 1, 2]);
    await rejects(run('RNN', [X, f32(rand(6, 2), [1, 3, 2]), f32(rand(4, 3), [1, 2, 2])], { hidden_size: 2 }, 1), ShapeError, /W must have shape/);
    await rejects(run('RNN', [X, f32(rand(4, 2), [1, 2, 2]), f32(rand(4, 3), [1, 2, 2])], { hidden_size: 2, direction: 'bidirectional' }, 1), ShapeError, /W must have shape/);
    await rejects(run('RNN', [X, f32(rand(4, 2), [1, 2, 2]), f32(rand(4, 3), [1, 2, 2]), undefined, new Tensor('int32', Int32Array.of(4), [1])], { hidden_size: 2 }, 1), ShapeError, /sequence_lens/);
    await rejects(run('RNN', [X, f32(rand(4, 2), [1, 2, 2]), f32(rand(4, 3), [1, 2, 2])], { hidden_size: 2, activations: ['Tanh', 'Tanh'] }, 1), UnsupportedError, /activations/);
    await rejects(run('RNN', [X, f32(rand(4, 2), [1, 2, 2]), f32(rand(4, 3), [1, 2, 2])], { hidden_size: 2, activations: ['Gelu'] }, 1), UnsupportedError, /Gelu/);
    await rejects(run('RNN', [f32(rand(6, 1), [3, 2]), f32(rand(4, 2), [1, 2, 2]), f32(rand(4, 3), [1, 2, 2])], { hidden_size: 2 }, 1), ShapeError, /rank 3/);
    await rejects(run('RNN', [X, f32(rand(4, 2), [1, 2, 2]), f32(rand(4, 3), [1, 2, 2])], { hidden_size: 2, clip: -1 }, 1), ShapeError, /clip/);
  });
});

describe('GRU', () => {
  /** H = I = 1 hand-derived GRU step. */
  function gru1(x: number, h: number, w: number[], r: number[], b: number[], lbr: boolean): number {
    const sg = (v: number) => 1 / (1 + Math.exp(-v));
    const z = sg(w[0]! * x + r[0]! * h + b[0]! + b[3]!);
    const rr = sg(w[1]! * x + r[1]! * h + b[1]! + b[4]!);
    const ht = lbr ? Math.tanh(w[2]! * x + rr * (r[2]! * h + b[5]!) + b[2]!) : Math.tanh(w[2]! * x + r[2]! * (rr * h) + b[5]! + b[2]!);
    return (1 - z) * ht + z * h;
  }
  for (const lbr of [0, 1])
    it(`linear_before_reset=${lbr}, reverse direction`, async () => {
      const w = [0.3, -0.7, 1.1];
      const r = [0.5, 0.2, -0.9];
      const b = [0.1, 0.2, -0.3, 0.4, -0.5, 0.6];
      const xs = [0.5, -1, 2];
      const [Y, Yh] = await run('GRU', [f32(xs, [3, 1, 1]), f32(w, [1, 3, 1]), f32(r, [1, 3, 1]), f32(b, [1, 6]), undefined, f32([0.25], [1, 1, 1])], { hidden_size: 1, linear_before_reset: lbr, direction: 'reverse' }, 2);
      let h = 0.25;
      const want = [0, 0, 0];
      for (let t = 2; t >= 0; t--) want[t] = h = gru1(xs[t]!, h, w, r, b, lbr === 1);
      close(list(Y!), want);
      close(list(Yh!), [want[0]!]);
    });
});

describe('LSTM', () => {
  it('input_forget couples the gates; Y_c is returned', async () => {
    // H = I = 1, no R, W gates (i, o, f, c); with input_forget f = 1 - i
    const w = [0.5, 1, 123, 2];
    const xs = [1, -1];
    const [Y, Yh, Yc] = await run('LSTM', [f32(xs, [2, 1, 1]), f32(w, [1, 4, 1]), f32([0, 0, 0, 0], [1, 4, 1])], { hidden_size: 1, input_forget: 1 }, 3);
    const sg = (v: number) => 1 / (1 + Math.exp(-v));
    let c = 0;
    const hs: number[] = [];
    for (const x of xs) {
      const i = sg(w[0]! * x);
      c = (1 - i) * c + i * Math.tanh(w[3]! * x);
      hs.push(sg(w[1]! * x) * Math.tanh(c));
    }
    close(list(Y!), hs);
    close(list(Yh!), [hs[1]!]);
    close(list(Yc!), [c]);
  });
  it('bidirectional equals forward and reverse runs stacked', async () => {
    const [S, Bt, I, H] = [3, 2, 2, 2];
    const X = f32(rand(S * Bt * I, 11), [S, Bt, I]);
    const W = rand(2 * 4 * H * I, 12);
    const R = rand(2 * 4 * H * H, 13);
    const B = rand(2 * 8 * H, 14);
    const P = rand(2 * 3 * H, 15);
    const [Y] = await run('LSTM', [X, f32(W, [2, 4 * H, I]), f32(R, [2, 4 * H, H]), f32(B, [2, 8 * H]), undefined, undefined, undefined, f32(P, [2, 3 * H])], { hidden_size: H, direction: 'bidirectional' }, 1);
    const one = async (d: number, direction: string) =>
      list((await run('LSTM', [X, f32(W.slice(d * 4 * H * I, (d + 1) * 4 * H * I), [1, 4 * H, I]), f32(R.slice(d * 4 * H * H, (d + 1) * 4 * H * H), [1, 4 * H, H]), f32(B.slice(d * 8 * H, (d + 1) * 8 * H), [1, 8 * H]), undefined, undefined, undefined, f32(P.slice(d * 3 * H, (d + 1) * 3 * H), [1, 3 * H])], { hidden_size: H, direction }, 1))[0]!);
    const fw = await one(0, 'forward');
    const bw = await one(1, 'reverse');
    const y = list(Y!);
    for (let t = 0; t < S; t++) {
      close(y.slice((t * 2 + 0) * Bt * H, (t * 2 + 1) * Bt * H), fw.slice(t * Bt * H, (t + 1) * Bt * H));
      close(y.slice((t * 2 + 1) * Bt * H, (t * 2 + 2) * Bt * H), bw.slice(t * Bt * H, (t + 1) * Bt * H));
    }
  });
  it('rejects a bad peephole shape and a wrong initial_c', async () => {
    const X = f32(rand(2, 1), [2, 1, 1]);
    const W = f32(rand(4, 2), [1, 4, 1]);
    const R = f32(rand(4, 3), [1, 4, 1]);
    await rejects(run('LSTM', [X, W, R, undefined, undefined, undefined, undefined, f32([1, 2], [1, 2])], { hidden_size: 1 }, 1), ShapeError, /P must have shape/);
    await rejects(run('LSTM', [X, W, R, undefined, undefined, undefined, f32([1, 2], [1, 2, 1])], { hidden_size: 1 }, 1), ShapeError, /initial_c/);
    await rejects(run('LSTM', [X, W, R], { hidden_size: 2 }, 1), ShapeError, /W must have shape/);
  });
});

describe('symbolic dims', () => {
  it('infers Y / Y_h shapes with symbolic seq and batch', async () => {
    const g = new Graph();
    g.opsets = { '': 22 };
    g.inputs.push({ name: 'X', type: { dtype: 'float32', shape: ['S', 'N', 2] } });
    g.initializers.set('W', f32(rand(12, 1), [1, 6, 2]));
    g.initializers.set('R', f32(rand(12, 2), [1, 6, 2]));
    g.nodes.push({ name: 'the_node', op: 'GRU', domain: '', inputs: ['X', 'W', 'R'], outputs: ['Y', 'Yh'], attrs: {} });
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }, { name: 'Yh', type: { dtype: 'float32' } }];
    const s = await InferenceSession.create(g);
    expect(s.outputMetadata[0]!.shape).toEqual(['S', 1, 'N', 2]);
    expect(s.outputMetadata[1]!.shape).toEqual([1, 'N', 2]);
    const r = await s.run({ X: f32(rand(10, 3), [5, 1, 2]) });
    expect(r.Y!.dims).toEqual([5, 1, 1, 2]);
  });
});
