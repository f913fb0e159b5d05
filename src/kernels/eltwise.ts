import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type KernelCall, chunksOf, forkRanges, threadsFor } from './threads.js';
import { type KernelExports, arena, bindConstant, kernels } from './wasm.js';
import { Epilogue } from './epilogue.js';
import { pinInputs } from './gemm.js';

/**
 * ex.f32_binary over n elements (operand strides 1 or 0: a broadcast scalar) on the kernel threads its work earns
 * (memory-bound: ~2 steps per element), in chunks of multiples of 4 elements. An element's IEEE operation and clamp are
 * the same in the vector loop and the scalar tail, so the bits do not depend on the split.
 */
export function binaryAt(ex: KernelExports, code: number, a: number, sa: number, b: number, sb: number, y: number, n: number, lo: number, hi: number): void {
  if (!n) return;
  const nt = threadsFor(2 * n);
  if (nt <= 1) return ex.f32_binary(code, a, sa, b, sb, y, n, lo, hi);
  const parts = chunksOf(n, 4, nt, 2);
  forkRanges(ex, parts, nt, (i0, i1): KernelCall[] => [['f32_binary', [code, a + i0 * 4 * sa, sa, b + i0 * 4 * sb, sb, y + i0 * 4, i1 - i0, lo, hi]]]);
}

/**
 * Add, Sub, Mul, Div, PRelu and two-input Max / Min on float32 with NumPy broadcasting ("multidirectional broadcasting" in the ONNX spec). The
 * output stays in kernel memory (a residual Add between convs no longer copies activations out and back), and a
 * following Relu/Clip or activation folds into it. Dims are merged where both operands are contiguous or both
 * broadcast, so a same-shape or scalar op is one flat loop and a per-channel bias [C,1,1] on [N,C,H,W] runs rows of
 * H·W with a scalar per row.
 */
function binaryKernel(op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'PRelu' | 'Max' | 'Min', code: number): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(node, _attrs, types) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (node.inputs.length !== 2) return decline(`${node.inputs.length} inputs: the kernel takes two`);
      if (types[0]?.dtype !== 'float32' || types[1]?.dtype !== 'float32') return decline(`inputs are ${types[0]?.dtype}/${types[1]?.dtype}, not float32`);
      // a PRelu after the op (MediaPipe's residual Add → PRelu) runs in the epilogue too
      const epi = new Epilogue(true);
      // the last run's operand dims and their plan (small models run this per node per run: no string keys)
      let cached: { a: readonly number[]; b: readonly number[]; plan: BroadcastPlan } | undefined;
      return {
        name: 'f32_binary',
        dispose: () => epi.dispose(),
        fuseClamp: epi.fuseClamp,
        fusePost: epi.fusePost,
        run([a, b], [outType]) {
          const out = outType!.shape as number[];
          const n = out.reduce((x, d) => x * d, 1);
          if (n === 0) return [new Tensor('float32', new Float32Array(0), out)];
          if (!cached || !sameDims(cached.a, a!.dims) || !sameDims(cached.b, b!.dims)) cached = { a: [...a!.dims], b: [...b!.dims], plan: broadcastPlan(a!.dims, b!.dims, out) };
          const { shape, sa, sb } = cached.plan;
          // both operands pinned before any allocation (growing memory would detach a resident B while A is copied in)
          const ad = a!.data as Float32Array;
          const bd = b!.data as Float32Array;
          const ap = mem.ptrOf(a!);
          const bp = mem.ptrOf(b!);
          const pins = ap === undefined || bp === undefined ? pinInputs(mem, [ad, bd], `${op} input`) : undefined;
          const ain = { ptr: pins ? pins.ptrs[0]! : ap! };
          const bin = { ptr: pins ? pins.ptrs[1]! : bp! };
          let meta = 0;
          try {
            const op2 = mem.alloc(n * 4, `${op} output`);
            if (shape.length === 1) binaryAt(ex, code, ain.ptr, sa[0]!, bin.ptr, sb[0]!, op2, n, epi.lo, epi.hi);
            else {
              const r = shape.length;
              meta = mem.alloc(16 * r, `${op} broadcast strides`);
              const m = new Int32Array(mem.buffer, meta, 4 * r);
              m.set(shape, 0);
              m.set(sa, r);
              m.set(sb, 2 * r);
              ex.f32_binary_nd(code, ain.ptr, bin.ptr, op2, r, meta, meta + 4 * r, meta + 8 * r, meta + 12 * r, epi.lo, epi.hi);
            }
            const y = mem.f32(op2, n);
            epi.apply(y);
            return [new Tensor('float32', y, out)];
          } finally {
            if (meta) mem.release(meta);
            if (pins) for (const p of pins.copied) mem.release(p);
          }
        },
        bind({ ins, consts, inTypes, outs: [yp], outTypes: [o], scratch }) {
          const out = o!.shape as number[];
          const n = out.reduce((x, d) => x * d, 1);
          const [ta, tb] = [inTypes[0]?.shape as number[] | undefined, inTypes[1]?.shape as number[] | undefined];
          if (yp! < 0 || !ta || !tb) return undefined;
          // a constant operand is copied into held scratch once (run() copies it in every time)
          const place = (i: number): number => {
            if (ins[i]! >= 0) return ins[i]!;
            const c = consts[i];
            if (!c || c.type !== 'float32') return -1;
            return bindConstant(scratch, c.data as Float32Array, `${op} constant operand`);
          };
          const [ap, bp] = [place(0), place(1)];
          if (ap < 0 || bp < 0) return undefined;
          const { shape, sa, sb } = broadcastPlan(ta, tb, out);
          const [lo, hi] = [epi.lo, epi.hi];
          if (shape.length === 1)
            return () => {
              binaryAt(ex, code, ap, sa[0]!, bp, sb[0]!, yp!, n, lo, hi);
              epi.applyAt(yp!, n);
            };
          const r = shape.length;
          const meta = scratch(16 * r, `${op} broadcast strides`);
          const m = new Int32Array(mem.buffer, meta, 3 * r);
          m.set(shape, 0);
          m.set(sa, r);
          m.set(sb, 2 * r);
          return () => {
            if (n) ex.f32_binary_nd(code, ap, bp, yp!, r, meta, meta + 4 * r, meta + 8 * r, meta + 12 * r, lo, hi);
            epi.applyAt(yp!, n);
          };
        },
      };
    },
  };
}

function sameDims(x: readonly number[], y: readonly number[]): boolean {
  if (x === y) return true;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

interface BroadcastPlan {
  /** merged output dims, and each operand's element stride per merged dim (0 = broadcast) */
  shape: number[];
  sa: number[];
  sb: number[];
}

/** Strides of a and b over the output dims, with size-1 output dims dropped and mergeable neighbours merged. */
export function broadcastPlan(a: readonly number[], b: readonly number[], out: readonly number[]): BroadcastPlan {
  const r = out.length;
  const ta = bstrides(a, out);
  const tb = bstrides(b, out);
  const shape: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < r; i++) {
    if (out[i] === 1) continue;
    const k = shape.length - 1;
    // merge into the previous dim when stepping this dim n times equals one step of the previous, for both
    if (k >= 0 && sa[k] === ta[i]! * out[i]! && sb[k] === tb[i]! * out[i]!) {
      shape[k]! *= out[i]!;
      sa[k] = ta[i]!;
      sb[k] = tb[i]!;
      continue;
    }
    shape.push(out[i]!);
    sa.push(ta[i]!);
    sb.push(tb[i]!);
  }
  if (!shape.length) return { shape: [1], sa: [0], sb: [0] };
  return { shape, sa, sb };
}

/** Element strides of `d` (right-aligned) over the output dims `out`; 0 where `d` broadcasts. */
function bstrides(d: readonly number[], out: readonly number[]): number[] {
  const r = out.length;
  const pad = [...new Array<number>(r - d.length).fill(1), ...d];
  const st = new Array<number>(r).fill(0);
  let acc = 1;
  for (let i = r - 1; i >= 0; i--) {
    st[i] = pad[i] === 1 ? 0 : acc;
    acc *= pad[i]!;
  }
  return st;
}

/** Where's odometer over the output dims `out`, one element stride per operand (0 where it broadcasts). */
function whereAt(cd: Uint8Array, xd: Float32Array, yd: Float32Array, o: Float32Array, out: readonly number[], sc: readonly number[], sx: readonly number[], sy: readonly number[]): void {
  const n = o.length;
  const r = out.length;
  const idx = new Array<number>(r).fill(0);
  let ic = 0;
  let ix = 0;
  let iy = 0;
  for (let k = 0; k < n; k++) {
    o[k] = cd[ic] ? xd[ix]! : yd[iy]!;
    for (let d = r - 1; d >= 0; d--) {
      ic += sc[d]!;
      ix += sx[d]!;
      iy += sy[d]!;
      if (++idx[d]! < out[d]!) break;
      ic -= sc[d]! * out[d]!;
      ix -= sx[d]! * out[d]!;
      iy -= sy[d]! * out[d]!;
      idx[d] = 0;
    }
  }
}

/**
 * Where(condition, X, Y) on float32 X/Y with NumPy broadcasting of all three (ONNX: "Where supports
 * multidirectional (i.e., Numpy-style) broadcasting"): attention's masked fill (Where(mask, −inf, scores)). The output
 * is written in kernel memory; the odometer runs over the output with one stride per operand.
 */
const whereWasm: KernelDef = {
  op: 'Where',
  backend: 'wasm',
  prepare(_node, _attrs, types) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    if (types[1]?.dtype !== 'float32') return decline(`X is ${types[1]?.dtype ?? 'of unknown type'}, not float32`);
    return {
      name: 'f32_where',
      run([c, x, y], [outType]) {
        const out = outType!.shape as number[];
        const n = out.reduce((a, d) => a * d, 1);
        const cp = mem.ptrOf(c!);
        const pins = pinInputs(mem, [x!.data as Float32Array, y!.data as Float32Array], 'Where input');
        const op = mem.alloc(n * 4, 'Where output');
        const cd = cp !== undefined ? new Uint8Array(mem.buffer, cp, c!.size) : (c!.data as Uint8Array);
        const xd = mem.f32(pins.ptrs[0]!, x!.size);
        const yd = mem.f32(pins.ptrs[1]!, y!.size);
        const o = mem.f32(op, n);
        whereAt(cd, xd, yd, o, out, bstrides(c!.dims, out), bstrides(x!.dims, out), bstrides(y!.dims, out));
        for (const p of pins.copied) mem.release(p);
        return [new Tensor('float32', o, out)];
      },
      // each operand a block of this run or a constant (read where it is: the loop is JS)
      bind({ ins, consts, inTypes, outs: [yp], outTypes: [o] }) {
        const out = o?.shape as number[] | undefined;
        if (!out || yp === undefined || yp < 0) return undefined;
        const n = out.reduce((a, d) => a * d, 1);
        const ops: { p: number; c?: Uint8Array | Float32Array; dims: number[] }[] = [];
        for (let j = 0; j < 3; j++) {
          const c = consts[j];
          const dims = (c?.dims ?? inTypes[j]?.shape) as number[] | undefined;
          if (!dims || (!c && (ins[j] ?? -1) < 0) || (j === 0 && c && c.type !== 'bool')) return undefined;
          ops.push({ p: ins[j] ?? -1, ...(c ? { c: c.data as Uint8Array | Float32Array } : {}), dims });
        }
        const [sc, sx, sy] = ops.map((q) => bstrides(q.dims, out));
        const size = (q: (typeof ops)[number]) => q.dims.reduce((a, d) => a * d, 1);
        return () => {
          const buf = mem.buffer;
          const cd = (ops[0]!.c as Uint8Array | undefined) ?? new Uint8Array(buf, ops[0]!.p, size(ops[0]!));
          const [xd, yd] = [ops[1]!, ops[2]!].map((q) => (q.c as Float32Array | undefined) ?? new Float32Array(buf, q.p, size(q))) as [Float32Array, Float32Array];
          whereAt(cd, xd, yd, new Float32Array(buf, yp, n), out, sc!, sx!, sy!);
        };
      },
    };
  },
};

registerKernel(whereWasm);
registerKernel(binaryKernel('Add', 0));
registerKernel(binaryKernel('Sub', 1));
registerKernel(binaryKernel('Mul', 2));
registerKernel(binaryKernel('Div', 3));
// ONNX PRelu: "f(x) = slope * x for x < 0, f(x) = x for x >= 0", slope unidirectionally broadcast to X (per-channel
// slopes [C,1,1] become rows with a scalar each)
registerKernel(binaryKernel('PRelu', 4));
// ONNX Max / Min: "Element-wise max (min) of each of the input tensors (with Numpy-style broadcasting support)" —
// the two-input form (tf2onnx writes LeakyRelu as Max(x, αx) chains in openWakeWord's embedding CNN)
registerKernel(binaryKernel('Max', 5));
registerKernel(binaryKernel('Min', 6));
