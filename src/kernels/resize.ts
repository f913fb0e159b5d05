import { Tensor } from '../tensor/tensor.js';
import { resizeAxisPlans, resizeAxisTaps } from '../ops/resize.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type Arena, arena, kernels } from './wasm.js';
import { TFL_DOMAIN } from '../ir/layout.js';

/**
 * Resize of float32 NCHW (rank 4) over H and W, N and C kept: mode nearest (every nearest_mode and
 * coordinate_transformation_mode) and linear (bilinear, no antialias); scales or sizes, constant or run-time. The
 * tables come from the reference's own per-axis taps (ops/resize.ts resizeAxisTaps), rebuilt only when the input
 * dims or the scales/sizes/roi values change; asm/f32_resize.ts gathers. Cubic, antialias, tf_crop_and_resize
 * extrapolation and resizing N or C stay on the reference.
 */
const resizeWasm: KernelDef = {
  op: 'Resize',
  backend: 'wasm',
  prepare(node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    const x = types[0];
    if (!mem || !ex) return decline('no WASM memory');
    if (x?.dtype !== 'float32') return decline(`X is ${x?.dtype ?? 'of unknown type'}, not float32`);
    if (x.shape && x.shape.length !== 4) return decline(`only rank-4 NCHW (X rank ${x.shape.length})`);
    const mode = attrs.mode as string;
    if (mode !== 'nearest' && mode !== 'linear') return decline(`mode ${mode}`);
    if (mode === 'linear' && attrs.antialias === 1) return decline('linear with antialias');
    if (attrs.coordinate_transformation_mode === 'tf_crop_and_resize') return decline('tf_crop_and_resize');
    const linear = mode === 'linear';
    const ctm = (attrs.coordinate_transformation_mode as string | undefined) ?? 'half_pixel';
    // the coordinate modes whose tables onnxruntime builds the same way (cpu/tensor/upsample.h): its bits
    const ortLinear = linear && ['half_pixel', 'asymmetric', 'pytorch_half_pixel', 'align_corners'].includes(ctm) && attrs.exclude_outside !== 1;
    let cached: { key: string; tab: number; oh: number; ow: number } | undefined;
    const drop = () => {
      if (cached) mem.release(cached.tab);
      cached = undefined;
    };
    /**
     * The kernel's tap tables for these inputs (X of ih×iw planes) in a block from `alloc` (`before` runs first: the
     * old tables dropped), or undefined when the reference must run (N or C resized, extrapolation, other taps).
     */
    const tables = (inputs: readonly (Tensor | undefined)[], ih: number, iw: number, alloc: (bytes: number) => number, before?: () => void): { tab: number; oh: number; ow: number } | undefined => {
      const t = axisTables(inputs, ih, iw, alloc, before);
      // bilinear: the column plan after the tables (linearBytes reserved it)
      if (t && linear) ex.f32_resize_linear_plan(iw, t.ow, t.tab + 16 * t.oh, t.tab + 16 * t.oh + 8 * t.ow, t.tab + 16 * (t.oh + t.ow));
      return t;
    };
    /** bytes of the bilinear tables (index and weight pairs per row and column) and the kernel's column plan */
    const linearBytes = (oh: number, ow: number) => (oh + ow) * 16 + ex.f32_resize_linear_plan_size(ow);
    const axisTables = (inputs: readonly (Tensor | undefined)[], ih: number, iw: number, alloc: (bytes: number) => number, before?: () => void): { tab: number; oh: number; ow: number } | undefined => {
      if (ortLinear) {
        const plans = resizeAxisPlans(node, attrs, inputs);
        if (plans[0]!.scale !== 1 || plans[1]!.scale !== 1 || plans[0]!.outLen !== inputs[0]!.dims[0] || plans[1]!.outLen !== inputs[0]!.dims[1]) return undefined;
        const [py, px] = [plans[2]!, plans[3]!];
        // align_corners and pytorch_half_pixel read the output length: onnxruntime its integer one, the ONNX reference
        // scale · input (unrounded); the two agree when that product is whole (up to the rounding of sizes / input
        // · input when sizes were given) — else the reference's taps below
        const whole = (q: typeof py, len: number) => q.scale === 1 || Math.abs(q.scale * len - q.outLen) <= 1e-9 * q.outLen;
        if (ctm !== 'half_pixel' && ctm !== 'asymmetric' && !(whole(py, ih) && whole(px, iw))) return referenceTables(inputs, ih, iw, alloc, before);
        before?.();
        const tab = alloc(linearBytes(py.outLen, px.outLen));
        ortBilinearAxis(mem, tab, ih, py.outLen, py.scale, ctm);
        ortBilinearAxis(mem, tab + 16 * py.outLen, iw, px.outLen, px.scale, ctm);
        return { tab, oh: py.outLen, ow: px.outLen };
      }
      return referenceTables(inputs, ih, iw, alloc, before);
    };
    /** tables from the reference's own taps (ops/resize.ts resizeAxisTaps) */
    const referenceTables = (inputs: readonly (Tensor | undefined)[], ih: number, iw: number, alloc: (bytes: number) => number, before?: () => void): { tab: number; oh: number; ow: number } | undefined => {
      const taps = resizeAxisTaps(node, attrs, inputs);
      if (taps[0] || taps[1]) return undefined;
      const ty = taps[2];
      const tx = taps[3];
      const oh = ty ? ty.length : ih;
      const ow = tx ? tx.length : iw;
      if ([ty, tx].some((t) => t?.some((k) => k.extrapolate || k.idx.length !== (linear ? 2 : 1)))) return undefined;
      before?.();
      // nearest: yi[oh], xi[ow] (i32); linear: y pairs, wy pairs, x pairs, wx pairs
      const per = linear ? 4 : 1;
      const tab = alloc(linear ? linearBytes(oh, ow) : (oh + ow) * 4);
      const i32 = new Int32Array(mem.buffer, tab, (oh + ow) * per);
      const f32 = new Float32Array(mem.buffer, tab, (oh + ow) * per);
      const fill = (t: typeof ty, len: number, at: number, wAt: number) => {
        for (let o = 0; o < len; o++) {
          if (!linear) i32[at + o] = t ? t[o]!.idx[0]! : o;
          else {
            // an unresized axis: both taps on the same pixel (the kernel reads it once)
            i32[at + 2 * o] = t ? t[o]!.idx[0]! : o;
            i32[at + 2 * o + 1] = t ? t[o]!.idx[1]! : o;
            f32[wAt + 2 * o] = t ? t[o]!.w[0]! : 1;
            f32[wAt + 2 * o + 1] = t ? t[o]!.w[1]! : 0;
          }
        }
      };
      if (linear) {
        fill(ty, oh, 0, 2 * oh);
        fill(tx, ow, 4 * oh, 4 * oh + 2 * ow);
      } else {
        fill(ty, oh, 0, 0);
        fill(tx, ow, oh, 0);
      }
      return { tab, oh, ow };
    };
    return {
      name: linear ? 'f32_resize_linear' : 'f32_resize_nearest',
      // static plan: constant roi / scales / sizes, the tables and the row scratch held, run()'s call on fixed places
      bind({ ins, consts, inTypes: [xt], outs: [yp], scratch }) {
        if (ins[0]! < 0 || yp! < 0 || ins.some((q, i) => i > 0 && q >= 0)) return undefined;
        const [n, c, ih, iw] = xt!.shape as [number, number, number, number];
        const t = tables([{ dims: [n, c, ih, iw], type: 'float32' } as unknown as Tensor, ...consts.slice(1)], ih, iw, (bytes) => scratch(bytes, 'resize tables'));
        if (!t) return undefined;
        const { tab, oh, ow } = t;
        const size = n * c * oh * ow;
        const xp = ins[0]!;
        if (!size) return () => {};
        if (!linear) return () => ex.f32_resize_nearest(xp, n * c, ih, iw, oh, ow, tab, tab + 4 * oh, yp!);
        return () => ex.f32_resize_linear(xp, n * c, ih, iw, oh, ow, tab, tab + 8 * oh, tab + 16 * oh, tab + 16 * oh + 8 * ow, yp!, tab + 16 * (oh + ow));
      },
      run(inputs, [outType]) {
        const xt = inputs[0]!;
        const [n, c, ih, iw] = xt.dims as [number, number, number, number];
        const key = `${xt.dims.join(',')}|${inputs.slice(1).map((t) => (t ? t.toNumbers().join(',') : '-')).join('|')}`;
        if (cached?.key !== key) {
          const t = tables(inputs, ih, iw, (bytes) => mem.alloc(bytes, 'resize tables'), drop);
          if (!t) return undefined; // N or C resized, or taps the kernel does not take: the reference
          cached = { key, ...t };
        }
        const { tab, oh, ow } = cached;
        const size = n * c * oh * ow;
        const xin = mem.input(xt.data as Float32Array, 'resize input');
        try {
          const op = mem.alloc(size * 4, 'resize output');
          if (size) {
            if (linear) ex.f32_resize_linear(xin.ptr, n * c, ih, iw, oh, ow, tab, tab + 8 * oh, tab + 16 * oh, tab + 16 * oh + 8 * ow, op, tab + 16 * (oh + ow));
            else ex.f32_resize_nearest(xin.ptr, n * c, ih, iw, oh, ow, tab, tab + 4 * oh, op);
          }
          return [new Tensor('float32', mem.f32(op, size), outType!.shape as number[])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      dispose: drop,
    };
  },
};

registerKernel(resizeWasm);

/**
 * One axis of onnxruntime's bilinear tables (cpu/tensor/upsample.cc SetupUpsampleBilinear) at `at` in the kernel's
 * layout — index pairs (len × 2 i32), then weight pairs (len × 2 f32): the source coordinate in float32 (an unresized
 * axis, scale 1, maps o to o), clamped to [0, n − 1]; taps i1 = ⌊c⌋, i2 = min(i1 + 1, n − 1) weighted |c − i2| and
 * |c − i1| (0.5 each when the two are one pixel). Every step rounds to float32 as its C++ does.
 */
function ortBilinearAxis(mem: Arena, at: number, n: number, len: number, scale: number, ctm: string): void {
  const f = Math.fround;
  const s = f(scale);
  const idx = new Int32Array(mem.buffer, at, 2 * len);
  const w = new Float32Array(mem.buffer, at + 8 * len, 2 * len);
  for (let o = 0; o < len; o++) {
    let c: number;
    if (s === 1) c = o;
    else if (ctm === 'asymmetric') c = f(o / s);
    else if (ctm === 'align_corners') c = len === 1 ? 0 : f(f(o * (n - 1)) / (len - 1));
    else if (ctm === 'pytorch_half_pixel' && len <= 1) c = 0;
    else c = f(f(f(o + 0.5) / s) - 0.5);
    c = Math.max(0, Math.min(c, n - 1));
    const i1 = Math.min(Math.trunc(c), n - 1);
    const i2 = Math.min(i1 + 1, n - 1);
    idx[2 * o] = i1;
    idx[2 * o + 1] = i2;
    w[2 * o] = i1 === i2 ? 0.5 : f(Math.abs(f(c - i2)));
    w[2 * o + 1] = i1 === i2 ? 0.5 : f(Math.abs(f(c - i1)));
  }
}

/**
 * MediaPipe TransformTensorBilinear (v2, face_landmark_with_attention's crops): float32 NHWC [1, H, W, C] resampled
 * through the affine rows of a run-time [1, 4, 4] matrix (asm/f32_resize.ts f32_affine_bilinear_nhwc, the reference's
 * arithmetic in f64: the same bits).
 */
const affineBilinearWasm: KernelDef = {
  op: 'TransformTensorBilinear',
  domain: TFL_DOMAIN,
  backend: 'wasm',
  prepare(_node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    const x = types[0];
    if (!mem || !ex) return decline('no WASM memory');
    if (x?.dtype !== 'float32' || types[1]?.dtype !== 'float32') return decline('input and matrix must be float32');
    const oh = attrs.output_height as number;
    const ow = attrs.output_width as number;
    return {
      name: 'f32_affine_bilinear_nhwc',
      run([xt, t]) {
        const [n, h, w, c] = xt!.dims as [number, number, number, number];
        if (xt!.dims.length !== 4 || n !== 1 || t!.size !== 16) return undefined; // the reference names the error
        const m = t!.data as Float32Array;
        // transform_tensor_bilinear.cc's align-corners correction, evaluated as the reference does (doubles)
        const a3 = m[3]! + m[0]! * 0.5 + m[1]! * 0.5 - 0.5;
        const b3 = m[7]! + m[4]! * 0.5 + m[5]! * 0.5 - 0.5;
        const size = oh * ow * c;
        const xin = mem.input(xt!.data as Float32Array, 'transform input');
        try {
          const op = mem.alloc(size * 4, 'transform output');
          if (size && h * w) ex.f32_affine_bilinear_nhwc(xin.ptr, h, w, c, oh, ow, m[0]!, m[1]!, a3, m[4]!, m[5]!, b3, op);
          else mem.f32(op, size).fill(0);
          return [new Tensor('float32', mem.f32(op, size), [1, oh, ow, c])];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
    };
  },
};

registerKernel(affineBilinearWasm);
