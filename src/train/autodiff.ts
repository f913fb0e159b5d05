/**
 * Reverse-mode autodiff over the IR: a tape that runs a Graph's nodes forward in float32 (training or
 * inference semantics), keeps what each backward needs, and walks the tape in reverse to get gradients of
 * every trainable initializer. Ops: Conv (2-D, group 1), Gemm, MatMul, Add/Sub/Mul (broadcast), Relu,
 * LeakyRelu, Sigmoid, Tanh, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Identity, Dropout
 * (identity), BatchNormalization (batch statistics in training, running statistics otherwise), Softmax,
 * LogSoftmax. The heavy products go through the WASM f32 GEMM (gemm.ts).
 */
import { InputError, UnsupportedError } from '../errors.js';
import type { Graph, Node } from '../ir/graph.js';
import { topoSort } from '../ir/topo.js';
import { convGeometry } from '../ir/conv-geometry.js';
import { sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { gemm, transpose } from './gemm.js';

export interface Val {
  d: Float32Array;
  s: number[];
}

/** Backward of one node: gradients of its outputs in, of its inputs out (undefined = no gradient needed). */
type Back = (gOut: (Float32Array | undefined)[], need: readonly boolean[]) => (Float32Array | undefined)[];

interface Ctx {
  node: Node;
  train: boolean;
  /** a constant (non-trainable) initializer input */
  constant(i: number): Tensor | undefined;
  /** a running-statistics buffer (BatchNormalization mean/var) to update in place */
  buffer(i: number): Float32Array | undefined;
}

type OpFn = (ctx: Ctx, ins: (Val | undefined)[]) => { outs: Val[]; back?: Back };

/** Ops whose backward is implemented. */
export const TRAINABLE_OPS = new Set<string>();
const OPS = new Map<string, OpFn>();
function def(op: string, f: OpFn): void {
  OPS.set(op, f);
  TRAINABLE_OPS.add(op);
}

const attrNum = (n: Node, k: string, d: number): number => (typeof n.attrs[k] === 'number' ? (n.attrs[k] as number) : d);
const attrInts = (n: Node, k: string): number[] | undefined => (Array.isArray(n.attrs[k]) ? (n.attrs[k] as number[]) : undefined);
const fail = (node: Node) => (msg: string): never => {
  throw new InputError(`node '${node.name}' (${node.op}): ${msg}`);
};
const prod = (s: readonly number[], a = 0, b = s.length) => {
  let p = 1;
  for (let i = a; i < b; i++) p *= s[i]!;
  return p;
};

// ---------------------------------------------------------------------------------------------- elementwise

/** Map every element of `out` (shape `os`) to the element of an input of shape `is` it broadcasts from. */
function bcastMap(os: readonly number[], is: readonly number[]): Int32Array | undefined {
  if (os.length === is.length && os.every((d, i) => d === is[i])) return undefined;
  const r = os.length;
  const pad = [...new Array(r - is.length).fill(1), ...is] as number[];
  const strides = new Array<number>(r).fill(0);
  let st = 1;
  for (let i = r - 1; i >= 0; i--) {
    strides[i] = pad[i] === 1 ? 0 : st;
    st *= pad[i]!;
  }
  const n = prod(os);
  const map = new Int32Array(n);
  const idx = new Array<number>(r).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    map[k] = off;
    for (let ax = r - 1; ax >= 0; ax--) {
      idx[ax]!++;
      off += strides[ax]!;
      if (idx[ax]! < os[ax]!) break;
      off -= strides[ax]! * os[ax]!;
      idx[ax] = 0;
    }
  }
  return map;
}

function bcastShape(node: Node, a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) fail(node)(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Sum a gradient of the broadcast shape back to the input's shape. */
function unbroadcast(g: Float32Array, map: Int32Array | undefined, size: number): Float32Array {
  if (!map) return g;
  const out = new Float32Array(size);
  for (let k = 0; k < g.length; k++) out[map[k]!] += g[k]!;
  return out;
}

function binary(kind: 'Add' | 'Sub' | 'Mul'): OpFn {
  return (ctx, [a, b]) => {
    const s = bcastShape(ctx.node, a!.s, b!.s);
    const n = prod(s);
    const ma = bcastMap(s, a!.s);
    const mb = bcastMap(s, b!.s);
    const ad = a!.d;
    const bd = b!.d;
    const y = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const x1 = ad[ma ? ma[k]! : k]!;
      const x2 = bd[mb ? mb[k]! : k]!;
      y[k] = kind === 'Add' ? x1 + x2 : kind === 'Sub' ? x1 - x2 : x1 * x2;
    }
    return {
      outs: [{ d: y, s }],
      back: ([g], need) => {
        const gy = g!;
        let ga: Float32Array | undefined;
        let gb: Float32Array | undefined;
        if (kind === 'Mul') {
          if (need[0]) {
            const t = new Float32Array(n);
            for (let k = 0; k < n; k++) t[k] = gy[k]! * bd[mb ? mb[k]! : k]!;
            ga = unbroadcast(t, ma, ad.length);
          }
          if (need[1]) {
            const t = new Float32Array(n);
            for (let k = 0; k < n; k++) t[k] = gy[k]! * ad[ma ? ma[k]! : k]!;
            gb = unbroadcast(t, mb, bd.length);
          }
        } else {
          if (need[0]) ga = unbroadcast(gy, ma, ad.length);
          if (need[1]) {
            gb = unbroadcast(gy, mb, bd.length);
            if (kind === 'Sub') gb = gb.map((v) => -v);
          }
        }
        return [ga, gb];
      },
    };
  };
}
def('Add', binary('Add'));
def('Sub', binary('Sub'));
def('Mul', binary('Mul'));

function unary(f: (x: number) => number, df: (x: number, y: number) => number): OpFn {
  return (_ctx, [x]) => {
    const xd = x!.d;
    const y = new Float32Array(xd.length);
    for (let i = 0; i < xd.length; i++) y[i] = f(xd[i]!);
    return {
      outs: [{ d: y, s: x!.s }],
      back: ([g]) => {
        const gx = new Float32Array(xd.length);
        for (let i = 0; i < xd.length; i++) gx[i] = g![i]! * df(xd[i]!, y[i]!);
        return [gx];
      },
    };
  };
}
def('Relu', (_ctx, [x]) => {
  const xd = x!.d;
  const y = new Float32Array(xd.length);
  // branch-free forms: a data-dependent branch mispredicts on half the elements
  for (let i = 0; i < xd.length; i++) {
    const v = xd[i]!;
    y[i] = (v + Math.abs(v)) * 0.5;
  }
  return {
    outs: [{ d: y, s: x!.s }],
    back: ([g]) => {
      const gd = g!;
      const gx = new Float32Array(xd.length);
      for (let i = 0; i < xd.length; i++) gx[i] = gd[i]! * +(y[i]! > 0);
      return [gx];
    },
  };
});
def('Sigmoid', unary((x) => 1 / (1 + Math.exp(-x)), (_x, y) => y * (1 - y)));
def('Tanh', unary(Math.tanh, (_x, y) => 1 - y * y));
def('LeakyRelu', (ctx, ins) => {
  const alpha = attrNum(ctx.node, 'alpha', 0.01);
  return unary((x) => (x >= 0 ? x : alpha * x), (x) => (x >= 0 ? 1 : alpha))(ctx, ins);
});

const passThrough = (s: (ctx: Ctx, x: Val) => number[]): OpFn => (ctx, [x]) => ({ outs: [{ d: x!.d, s: s(ctx, x!) }], back: ([g]) => [g] });
def('Identity', passThrough((_c, x) => x.s));
/** Dropout is the identity at inference; training here keeps it the identity too (deterministic training). */
def('Dropout', (ctx, ins) => {
  const r = passThrough((_c, x) => x.s)(ctx, ins);
  if (ctx.node.outputs[1]) throw new UnsupportedError(`node '${ctx.node.name}': Dropout mask output is not supported in training`);
  return r;
});
def(
  'Flatten',
  passThrough((ctx, x) => {
    let axis = attrNum(ctx.node, 'axis', 1);
    if (axis < 0) axis += x.s.length;
    if (axis < 0 || axis > x.s.length) fail(ctx.node)(`axis ${axis} out of range for rank ${x.s.length}`);
    return [prod(x.s, 0, axis), prod(x.s, axis)];
  }),
);
def(
  'Reshape',
  passThrough((ctx, x) => {
    const st = ctx.constant(1);
    if (!st) throw new UnsupportedError(`node '${ctx.node.name}': Reshape needs a constant shape to train`);
    const want = Array.from(st.data as ArrayLike<number | bigint>, Number);
    const allowzero = attrNum(ctx.node, 'allowzero', 0);
    const out = want.map((d, i) => (d === 0 && !allowzero ? x.s[i]! : d));
    const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
    const total = prod(x.s);
    const neg = out.indexOf(-1);
    if (neg >= 0) out[neg] = known ? total / known : 0;
    if (prod(out) !== total || out.some((d) => !Number.isInteger(d) || d < 0)) fail(ctx.node)(`cannot reshape [${x.s}] to [${want}]`);
    return out;
  }),
);

// ---------------------------------------------------------------------------------------------- dense

def('Gemm', (ctx, [a, b, c]) => {
  const n = ctx.node;
  const transA = attrNum(n, 'transA', 0);
  const transB = attrNum(n, 'transB', 0);
  const alpha = attrNum(n, 'alpha', 1);
  const beta = attrNum(n, 'beta', 1);
  if (a!.s.length !== 2 || b!.s.length !== 2) fail(n)('A and B must be 2-D');
  const [M, K] = transA ? [a!.s[1]!, a!.s[0]!] : [a!.s[0]!, a!.s[1]!];
  const [K2, N] = transB ? [b!.s[1]!, b!.s[0]!] : [b!.s[0]!, b!.s[1]!];
  if (K !== K2) fail(n)(`inner dims differ: A [${a!.s}] B [${b!.s}] (transA ${transA}, transB ${transB})`);
  const y = gemm(a!.d, b!.d, M, K, N, { transA: !!transA, transB: !!transB });
  if (alpha !== 1) for (let i = 0; i < y.length; i++) y[i] *= alpha;
  let mc: Int32Array | undefined;
  if (c) {
    bcastShape(n, [M, N], c.s);
    mc = bcastMap([M, N], c.s);
    const cd = c.d;
    for (let i = 0; i < y.length; i++) y[i] += beta * cd[mc ? mc[i]! : i]!;
  }
  return {
    outs: [{ d: y, s: [M, N] }],
    back: ([g], need) => {
      let gy = g!;
      if (alpha !== 1) gy = gy.map((v) => v * alpha);
      let ga: Float32Array | undefined;
      let gb: Float32Array | undefined;
      // d op(A) = dY·op(B)ᵀ [M×K]; dA = transA ? (d op(A))ᵀ : d op(A)
      if (need[0]) ga = transA ? gemm(b!.d, gy, K, N, M, { transA: !transB, transB: true }) : gemm(gy, b!.d, M, N, K, { transB: !transB });
      // d op(B) = op(A)ᵀ·dY [K×N]; dB = transB ? (d op(B))ᵀ : d op(B)
      if (need[1]) gb = transB ? gemm(gy, a!.d, N, M, K, { transA: true, transB: !!transA }) : gemm(a!.d, gy, K, M, N, { transA: !transA });
      let gc: Float32Array | undefined;
      if (c && need[2]) {
        gc = unbroadcast(g!, mc, c.d.length);
        if (beta !== 1 || gc === g) gc = gc.map((v) => v * beta);
      }
      return [ga, gb, gc];
    },
  };
});

def('MatMul', (ctx, [a, b]) => {
  const n = ctx.node;
  if (b!.s.length !== 2 || a!.s.length < 2) throw new UnsupportedError(`node '${n.name}': training MatMul needs A of rank ≥ 2 and a 2-D B`);
  const K = a!.s[a!.s.length - 1]!;
  const M = prod(a!.s) / K;
  const [K2, N] = b!.s as [number, number];
  if (K !== K2) fail(n)(`inner dims differ: A [${a!.s}] B [${b!.s}]`);
  const y = gemm(a!.d, b!.d, M, K, N);
  return {
    outs: [{ d: y, s: [...a!.s.slice(0, -1), N] }],
    back: ([g], need) => [need[0] ? gemm(g!, b!.d, M, N, K, { transB: true }) : undefined, need[1] ? gemm(a!.d, g!, K, M, N, { transA: true }) : undefined],
  };
});

// ---------------------------------------------------------------------------------------------- conv / pool

function geometry2d(node: Node, x: Val, kernel: number[], ceilMode = false) {
  if (x.s.length !== 4) throw new UnsupportedError(`node '${node.name}' (${node.op}): training supports 2-D (NCHW) inputs only, got [${x.s}]`);
  return convGeometry(x.s.slice(2), kernel, node.attrs as Record<string, never>, fail(node), { ceilMode })!;
}

/** cols[k·(N·P) + b·P + p] = x[b, c, oy·sh − pt + i·dh, ox·sw − pl + j·dw] with k = (c·kh + i)·kw + j (0 in padding). */
/**
 * Walk the patch matrix [C·kh·kw, N·P] of a 2-D conv row segment by row segment: for each (channel, tap, image,
 * output row) inside the image, `seg(o, xr, x0, x1, sw)` covers cols[o + ox] ↔ x[xr + ox·sw] for ox in [x0, x1).
 * im2col gathers along it and col2im scatter-adds along it (its adjoint), in the same order.
 */
function walkPatches(N: number, C: number, H: number, W: number, kh: number, kw: number, geo: ReturnType<typeof geometry2d>, seg: (o: number, xr: number, x0: number, x1: number, sw: number) => void): void {
  const [oh, ow] = geo.out as [number, number];
  const [sh, sw] = geo.strides as [number, number];
  const [dh, dw] = geo.dilations as [number, number];
  const [pt, pl] = geo.padBegin as [number, number];
  const P = oh * ow;
  const NP = N * P;
  for (let c = 0; c < C; c++)
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const row = ((c * kh + i) * kw + j) * NP;
        // the valid ox range for this kernel column
        const x0 = Math.max(0, Math.ceil((pl - j * dw) / sw));
        const x1 = Math.min(ow, Math.floor((W - 1 + pl - j * dw) / sw) + 1);
        for (let b = 0; b < N; b++) {
          const xc = (b * C + c) * H * W;
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh - pt + i * dh;
            if (iy < 0 || iy >= H) continue;
            seg(row + b * P + oy * ow, xc + iy * W - pl + j * dw, x0, x1, sw);
          }
        }
      }
}

function im2col(x: Float32Array, N: number, C: number, H: number, W: number, kh: number, kw: number, geo: ReturnType<typeof geometry2d>): Float32Array {
  const [oh, ow] = geo.out as [number, number];
  const cols = new Float32Array(sizeOf([C * kh * kw, N * oh * ow], 'im2col'));
  walkPatches(N, C, H, W, kh, kw, geo, (o, xr, x0, x1, sw) => {
    for (let ox = x0; ox < x1; ox++) cols[o + ox] = x[xr + ox * sw]!;
  });
  return cols;
}

function col2im(cols: Float32Array, N: number, C: number, H: number, W: number, kh: number, kw: number, geo: ReturnType<typeof geometry2d>): Float32Array {
  const x = new Float32Array(N * C * H * W);
  walkPatches(N, C, H, W, kh, kw, geo, (o, xr, x0, x1, sw) => {
    for (let ox = x0; ox < x1; ox++) x[xr + ox * sw] += cols[o + ox]!;
  });
  return x;
}

def('Conv', (ctx, [x, w, bias]) => {
  const n = ctx.node;
  if (attrNum(n, 'group', 1) !== 1) throw new UnsupportedError(`node '${n.name}': training supports Conv with group = 1 only`);
  if (w!.s.length !== 4) throw new UnsupportedError(`node '${n.name}': training supports 2-D Conv only`);
  const [M, Cw, kh, kw] = w!.s as [number, number, number, number];
  const ks = attrInts(n, 'kernel_shape');
  if (ks && (ks[0] !== kh || ks[1] !== kw)) fail(n)(`kernel_shape [${ks}] does not match the weight [${w!.s}]`);
  const geo = geometry2d(n, x!, [kh, kw]);
  const [N, C, H, W] = x!.s as [number, number, number, number];
  if (C !== Cw) fail(n)(`input has ${C} channels, the weight expects ${Cw}`);
  const [oh, ow] = geo.out as [number, number];
  const P = oh * ow;
  const NP = N * P;
  const K = C * kh * kw;
  const cols = im2col(x!.d, N, C, H, W, kh, kw, geo);
  // Y'[M × N·P] = W[M×K] · cols[K × N·P], then [M, N, P] → [N, M, P] (+ bias)
  const yt = gemm(w!.d, cols, M, K, NP);
  const y = new Float32Array(N * M * P);
  const bd = bias?.d;
  for (let m = 0; m < M; m++)
    for (let b = 0; b < N; b++) {
      const o = (b * M + m) * P;
      y.set(yt.subarray(m * NP + b * P, m * NP + (b + 1) * P), o);
      if (bd && bd[m] !== 0) {
        const bv = bd[m]!;
        for (let p = 0; p < P; p++) y[o + p] += bv;
      }
    }
  return {
    outs: [{ d: y, s: [N, M, oh, ow] }],
    back: ([g], need) => {
      const gy = g!;
      const gt = new Float32Array(M * NP);
      for (let m = 0; m < M; m++) for (let b = 0; b < N; b++) gt.set(gy.subarray((b * M + m) * P, (b * M + m + 1) * P), m * NP + b * P);
      let gx: Float32Array | undefined;
      let gw: Float32Array | undefined;
      let gb: Float32Array | undefined;
      // dWᵀ[K×M] = cols[K × NP] · dY'ᵀ[NP × M] (the kernel is fastest with the long axis as the reduction)
      if (need[1]) gw = transpose(gemm(cols, gt, K, NP, M, { transB: true }), K, M);
      // dcols[K × NP] = Wᵀ[K×M] · dY'[M × NP]
      if (need[0]) gx = col2im(gemm(w!.d, gt, K, M, NP, { transA: true }), N, C, H, W, kh, kw, geo);
      if (bias && need[2]) {
        gb = new Float32Array(M);
        for (let m = 0; m < M; m++) {
          let s = 0;
          for (let q = m * NP; q < (m + 1) * NP; q++) s += gt[q]!;
          gb[m] = s;
        }
      }
      return [gx, gw, gb];
    },
  };
});

function pool(kind: 'max' | 'avg'): OpFn {
  return (ctx, [x]) => {
    const n = ctx.node;
    const ks = attrInts(n, 'kernel_shape');
    if (!ks || ks.length !== 2) throw new UnsupportedError(`node '${n.name}': training supports 2-D pooling only`);
    if (kind === 'max' && attrNum(n, 'storage_order', 0) !== 0) throw new UnsupportedError(`node '${n.name}': storage_order 1 is not supported in training`);
    if (n.outputs[1]) throw new UnsupportedError(`node '${n.name}': MaxPool Indices output is not supported in training`);
    const geo = geometry2d(n, x!, ks, !!attrNum(n, 'ceil_mode', 0));
    const [N, C, H, W] = x!.s as [number, number, number, number];
    const [oh, ow] = geo.out as [number, number];
    const [kh, kw] = ks as [number, number];
    const [sh, sw] = geo.strides as [number, number];
    const [dh, dw] = geo.dilations as [number, number];
    const [pt, pl] = geo.padBegin as [number, number];
    const includePad = attrNum(n, 'count_include_pad', 0);
    const xd = x!.d;
    const y = new Float32Array(N * C * oh * ow);
    const arg = kind === 'max' ? new Int32Array(y.length) : undefined;
    const cnt = kind === 'avg' ? new Float32Array(oh * ow) : undefined;
    // avg divisor per output position: window ∩ input, or ∩ padded input with count_include_pad
    if (cnt)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let c = 0;
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              const iy = oy * sh - pt + i * dh;
              const ix = ox * sw - pl + j * dw;
              const inPad = iy >= -pt && iy < H + geo.padEnd[0]! && ix >= -pl && ix < W + geo.padEnd[1]!;
              if ((iy >= 0 && iy < H && ix >= 0 && ix < W) || (includePad && inPad)) c++;
            }
          cnt[oy * ow + ox] = c;
        }
    const fast2x2 = arg && kh === 2 && kw === 2 && sh === 2 && sw === 2 && dh === 1 && dw === 1 && pt === 0 && pl === 0 && 2 * oh <= H && 2 * ow <= W;
    if (fast2x2)
      for (let bc = 0; bc < N * C; bc++) {
        const xo = bc * H * W;
        const yo = bc * oh * ow;
        for (let oy = 0; oy < oh; oy++)
          for (let ox = 0; ox < ow; ox++) {
            const i0 = xo + 2 * oy * W + 2 * ox;
            const a = xd[i0]!;
            const b = xd[i0 + 1]!;
            const c = xd[i0 + W]!;
            const d = xd[i0 + W + 1]!;
            const ab = a >= b ? a : b;
            const iab = a >= b ? i0 : i0 + 1;
            const cd = c >= d ? c : d;
            const icd = c >= d ? i0 + W : i0 + W + 1;
            const k = yo + oy * ow + ox;
            y[k] = ab >= cd ? ab : cd;
            arg[k] = ab >= cd ? iab : icd;
          }
      }
    else for (let bc = 0; bc < N * C; bc++) {
      const xo = bc * H * W;
      const yo = bc * oh * ow;
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let best = -Infinity;
          let bi = -1;
          let s = 0;
          for (let i = 0; i < kh; i++) {
            const iy = oy * sh - pt + i * dh;
            if (iy < 0 || iy >= H) continue;
            for (let j = 0; j < kw; j++) {
              const ix = ox * sw - pl + j * dw;
              if (ix < 0 || ix >= W) continue;
              const v = xd[xo + iy * W + ix]!;
              if (v > best || bi < 0) {
                best = v;
                bi = xo + iy * W + ix;
              }
              s += v;
            }
          }
          const k = yo + oy * ow + ox;
          if (arg) {
            y[k] = best;
            arg[k] = bi;
          } else y[k] = s / cnt![oy * ow + ox]!;
        }
    }
    return {
      outs: [{ d: y, s: [N, C, oh, ow] }],
      back: ([g]) => {
        const gx = new Float32Array(xd.length);
        if (arg) {
          for (let k = 0; k < y.length; k++) if (arg[k]! >= 0) gx[arg[k]!] += g![k]!;
          return [gx];
        }
        for (let bc = 0; bc < N * C; bc++) {
          const xo = bc * H * W;
          const yo = bc * oh * ow;
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++) {
              const gv = g![yo + oy * ow + ox]! / cnt![oy * ow + ox]!;
              for (let i = 0; i < kh; i++) {
                const iy = oy * sh - pt + i * dh;
                if (iy < 0 || iy >= H) continue;
                for (let j = 0; j < kw; j++) {
                  const ix = ox * sw - pl + j * dw;
                  if (ix >= 0 && ix < W) gx[xo + iy * W + ix] += gv;
                }
              }
            }
        }
        return [gx];
      },
    };
  };
}
def('MaxPool', pool('max'));
def('AveragePool', pool('avg'));

def('GlobalAveragePool', (_ctx, [x]) => {
  const [N, C] = x!.s as [number, number];
  const P = prod(x!.s, 2);
  const y = new Float32Array(N * C);
  for (let k = 0; k < N * C; k++) {
    let s = 0;
    for (let p = 0; p < P; p++) s += x!.d[k * P + p]!;
    y[k] = s / P;
  }
  return {
    outs: [{ d: y, s: [N, C, ...x!.s.slice(2).map(() => 1)] }],
    back: ([g]) => {
      const gx = new Float32Array(x!.d.length);
      for (let k = 0; k < N * C; k++) gx.fill(g![k]! / P, k * P, (k + 1) * P);
      return [gx];
    },
  };
});

// ---------------------------------------------------------------------------------------------- normalization

def('BatchNormalization', (ctx, [x, scale, bias]) => {
  const n = ctx.node;
  if (n.outputs.length > 1 && n.outputs.slice(1).some(Boolean)) throw new UnsupportedError(`node '${n.name}': BatchNormalization running-statistics outputs are not supported; training updates the mean/var initializers instead`);
  const eps = attrNum(n, 'epsilon', 1e-5);
  // ONNX: running_mean = input_mean·(1 − momentum) + running_mean·momentum
  const momentum = attrNum(n, 'momentum', 0.9);
  const [N, C] = x!.s as [number, number];
  const P = prod(x!.s, 2);
  const cnt = N * P;
  const mean = new Float32Array(C);
  const invStd = new Float32Array(C);
  const xd = x!.d;
  const rm = ctx.buffer(3);
  const rv = ctx.buffer(4);
  if (!rm || !rv) throw new UnsupportedError(`node '${n.name}': BatchNormalization mean/var must be initializers`);
  if (ctx.train) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let b = 0; b < N; b++) {
        const o = (b * C + c) * P;
        for (let p = 0; p < P; p++) s += xd[o + p]!;
      }
      const mu = s / cnt;
      let v = 0;
      for (let b = 0; b < N; b++) {
        const o = (b * C + c) * P;
        for (let p = 0; p < P; p++) {
          const d = xd[o + p]! - mu;
          v += d * d;
        }
      }
      v /= cnt;
      mean[c] = mu;
      invStd[c] = 1 / Math.sqrt(v + eps);
      rm[c] = rm[c]! * momentum + mu * (1 - momentum);
      // running variance takes the unbiased batch variance (PyTorch's convention)
      rv[c] = rv[c]! * momentum + (cnt > 1 ? (v * cnt) / (cnt - 1) : v) * (1 - momentum);
    }
  } else
    for (let c = 0; c < C; c++) {
      mean[c] = rm[c]!;
      invStd[c] = 1 / Math.sqrt(rv[c]! + eps);
    }
  const xhat = new Float32Array(xd.length);
  const y = new Float32Array(xd.length);
  const sd = scale!.d;
  const bd = bias!.d;
  for (let b = 0; b < N; b++)
    for (let c = 0; c < C; c++) {
      const o = (b * C + c) * P;
      const mu = mean[c]!;
      const is = invStd[c]!;
      const g = sd[c]!;
      const bb = bd[c]!;
      for (let p = 0; p < P; p++) {
        const h = (xd[o + p]! - mu) * is;
        xhat[o + p] = h;
        y[o + p] = g * h + bb;
      }
    }
  const train = ctx.train;
  return {
    outs: [{ d: y, s: x!.s }],
    back: ([gOut], need) => {
      const gy = gOut!;
      const gs = new Float32Array(C);
      const gb = new Float32Array(C);
      for (let b = 0; b < N; b++)
        for (let c = 0; c < C; c++) {
          const o = (b * C + c) * P;
          let s1 = 0;
          let s2 = 0;
          for (let p = 0; p < P; p++) {
            s1 += gy[o + p]!;
            s2 += gy[o + p]! * xhat[o + p]!;
          }
          gb[c] += s1;
          gs[c] += s2;
        }
      let gx: Float32Array | undefined;
      if (need[0]) {
        gx = new Float32Array(xd.length);
        for (let b = 0; b < N; b++)
          for (let c = 0; c < C; c++) {
            const o = (b * C + c) * P;
            const k = sd[c]! * invStd[c]!;
            if (train) {
              // dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂))
              const m1 = gb[c]! / cnt;
              const m2 = gs[c]! / cnt;
              for (let p = 0; p < P; p++) gx[o + p] = k * (gy[o + p]! - m1 - xhat[o + p]! * m2);
            } else for (let p = 0; p < P; p++) gx[o + p] = k * gy[o + p]!;
          }
      }
      return [gx, need[1] ? gs : undefined, need[2] ? gb : undefined];
    },
  };
});

function softmaxOp(log: boolean): OpFn {
  return (ctx, [x]) => {
    const r = x!.s.length;
    let axis = attrNum(ctx.node, 'axis', -1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) fail(ctx.node)(`axis out of range for rank ${r}`);
    if (axis !== r - 1) throw new UnsupportedError(`node '${ctx.node.name}': training supports ${ctx.node.op} on the last axis only`);
    const D = x!.s[r - 1]!;
    const rows = x!.d.length / (D || 1);
    const y = new Float32Array(x!.d.length);
    for (let i = 0; i < rows; i++) {
      let mx = -Infinity;
      for (let j = 0; j < D; j++) mx = Math.max(mx, x!.d[i * D + j]!);
      let s = 0;
      for (let j = 0; j < D; j++) s += Math.exp(x!.d[i * D + j]! - mx);
      const ls = Math.log(s);
      for (let j = 0; j < D; j++) {
        const z = x!.d[i * D + j]! - mx - ls;
        y[i * D + j] = log ? z : Math.exp(z);
      }
    }
    return {
      outs: [{ d: y, s: x!.s }],
      back: ([g]) => {
        const gx = new Float32Array(y.length);
        for (let i = 0; i < rows; i++) {
          let s = 0;
          if (log) {
            for (let j = 0; j < D; j++) s += g![i * D + j]!;
            for (let j = 0; j < D; j++) gx[i * D + j] = g![i * D + j]! - Math.exp(y[i * D + j]!) * s;
          } else {
            for (let j = 0; j < D; j++) s += g![i * D + j]! * y[i * D + j]!;
            for (let j = 0; j < D; j++) gx[i * D + j] = y[i * D + j]! * (g![i * D + j]! - s);
          }
        }
        return [gx];
      },
    };
  };
}
def('Softmax', softmaxOp(false));
def('LogSoftmax', softmaxOp(true));

// ---------------------------------------------------------------------------------------------- the tape

export interface TrainableOptions {
  /** initializer names to keep frozen (besides non-float and BatchNormalization statistics) */
  freeze?: readonly string[];
}

/**
 * A Graph prepared for training: float32 initializers copied into `params` (trainable) and `buffers`
 * (BatchNormalization running mean/var); `forward` runs the nodes, `backward` returns parameter gradients.
 */
export class TrainableGraph {
  readonly params = new Map<string, Float32Array>();
  readonly buffers = new Map<string, Float32Array>();
  readonly order: Node[];
  readonly input: string;
  readonly output: string;
  private tape: { node: Node; back?: Back; ins: (Val | undefined)[] }[] = [];
  private vals = new Map<string, Val>();
  private readonly needsGrad = new Set<string>();
  /** when set, milliseconds spent per op ('Conv', 'Conv.back', …) accumulate here */
  profile?: Map<string, number>;

  constructor(
    readonly graph: Graph,
    opts: TrainableOptions = {},
  ) {
    // old-IR models also list their initializers as graph inputs
    const inputs = graph.inputs.filter((i) => !graph.initializers.has(i.name));
    if (inputs.length !== 1) throw new UnsupportedError(`training needs a model with one input, this one has ${inputs.length}`);
    if (graph.outputs.length < 1) throw new InputError('model has no outputs');
    this.input = inputs[0]!.name;
    this.output = graph.outputs[0]!.name;
    this.order = topoSort(graph);
    const freeze = new Set(opts.freeze ?? []);
    const bnStats = new Set<string>();
    for (const n of this.order) {
      if (!OPS.has(n.op) || n.domain !== '') throw new UnsupportedError(`node '${n.name}': op ${n.domain ? n.domain + '.' : ''}${n.op} has no training backward (supported: ${[...TRAINABLE_OPS].join(', ')})`);
      if (n.op === 'BatchNormalization') for (const i of [3, 4]) if (n.inputs[i]) bnStats.add(n.inputs[i]!);
    }
    // a value needs a gradient when it is a trainable parameter or computed from one
    for (const [name, t] of graph.initializers) {
      if (t.type !== 'float32') continue;
      if (bnStats.has(name)) this.buffers.set(name, Float32Array.from(t.data as Float32Array));
      else if (!freeze.has(name) && !this.isShapeInput(name)) {
        this.params.set(name, Float32Array.from(t.data as Float32Array));
        this.needsGrad.add(name);
      }
    }
    for (const n of this.order) if (n.inputs.some((i) => this.needsGrad.has(i))) for (const o of n.outputs) if (o) this.needsGrad.add(o);
  }

  private isShapeInput(name: string): boolean {
    return this.graph.nodes.some((n) => n.op === 'Reshape' && n.inputs[1] === name);
  }

  /**
   * Forward pass of a batch x with shape `dims` ([N, …]). `train`: batch statistics in BatchNormalization
   * (and running-statistics updates); `tape` (default = train): keep what `backward` needs.
   */
  forward(x: Float32Array, dims: number[], train: boolean, tape = train): Val {
    this.tape = [];
    this.vals = new Map();
    this.vals.set(this.input, { d: x, s: dims });
    const get = (name: string): Val | undefined => {
      if (name === '') return undefined;
      const v = this.vals.get(name);
      if (v) return v;
      const p = this.params.get(name) ?? this.buffers.get(name);
      const t = this.graph.initializers.get(name);
      if (p && t) return { d: p, s: [...t.dims] };
      if (t) {
        if (t.type !== 'float32') return undefined; // int64 shapes etc. are read as constants
        return { d: t.data as Float32Array, s: [...t.dims] };
      }
      throw new InputError(`value '${name}' is not available`);
    };
    for (const node of this.order) {
      const ins = node.inputs.map(get);
      const ctx: Ctx = {
        node,
        train,
        constant: (i) => (node.inputs[i] ? this.graph.initializers.get(node.inputs[i]!) : undefined),
        buffer: (i) => (node.inputs[i] ? this.buffers.get(node.inputs[i]!) : undefined),
      };
      const t0 = this.profile ? performance.now() : 0;
      const r = OPS.get(node.op)!(ctx, ins);
      if (this.profile) this.profile.set(node.op, (this.profile.get(node.op) ?? 0) + performance.now() - t0);
      node.outputs.forEach((o, i) => {
        if (o && r.outs[i]) this.vals.set(o, r.outs[i]!);
      });
      if (tape) this.tape.push({ node, ins, ...(r.back ? { back: r.back } : {}) });
    }
    const out = this.vals.get(this.output);
    if (!out) throw new InputError(`output '${this.output}' was not computed`);
    return out;
  }

  /** Gradients of every parameter given dLoss/dOutput (after a training forward). */
  backward(gOut: Float32Array): Map<string, Float32Array> {
    const grads = new Map<string, Float32Array>();
    const add = (name: string, g: Float32Array) => {
      const cur = grads.get(name);
      if (!cur) grads.set(name, g === gOut ? g.slice() : g);
      else for (let i = 0; i < g.length; i++) cur[i] += g[i]!;
    };
    add(this.output, gOut);
    for (let t = this.tape.length - 1; t >= 0; t--) {
      const { node, back } = this.tape[t]!;
      if (!back) continue;
      const gOuts = node.outputs.map((o) => (o ? grads.get(o) : undefined));
      if (gOuts.every((g) => !g)) continue;
      const need = node.inputs.map((i) => i !== '' && this.needsGrad.has(i));
      if (!need.some(Boolean)) continue;
      const t0 = this.profile ? performance.now() : 0;
      const gIns = back(gOuts, need);
      if (this.profile) this.profile.set(node.op + '.back', (this.profile.get(node.op + '.back') ?? 0) + performance.now() - t0);
      node.inputs.forEach((name, i) => {
        const g = gIns[i];
        if (g && need[i]) add(name, g);
      });
      for (const o of node.outputs) if (o && !this.params.has(o)) grads.delete(o); // free activations' grads
    }
    const out = new Map<string, Float32Array>();
    for (const name of this.params.keys()) out.set(name, grads.get(name) ?? new Float32Array(this.params.get(name)!.length));
    this.tape = [];
    return out;
  }

  /** Free the activations kept for backward. */
  clear(): void {
    this.tape = [];
    this.vals = new Map();
  }

  /** Copy of the graph with the trained parameters and statistics as its initializers. */
  toGraph(): Graph {
    const g = this.graph.clone();
    for (const [name, d] of [...this.params, ...this.buffers]) {
      const t = g.initializers.get(name)!;
      g.initializers.set(name, new Tensor('float32', d.slice(), [...t.dims]));
    }
    return g;
  }

  /** Snapshot of params and buffers (for rollback). */
  snapshot(): Map<string, Float32Array> {
    const m = new Map<string, Float32Array>();
    for (const [k, v] of [...this.params, ...this.buffers]) m.set(k, v.slice());
    return m;
  }

  restore(s: Map<string, Float32Array>): void {
    for (const [k, v] of s) (this.params.get(k) ?? this.buffers.get(k))?.set(v);
  }
}

