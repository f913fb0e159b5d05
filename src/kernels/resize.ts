import { Tensor } from '../tensor/tensor.js';
import { resizeAxisPlans, resizeAxisTaps } from '../ops/resize.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { type Arena, arena, kernels } from './wasm.js';
import { TFL_DOMAIN } from '../ir/layout.js';

/**
 * Resize of float32 rank-4 NCHW over H and W, N and C kept — or NHWC over H and W (a TFLite / Keras graph written as
 * ONNX: transposed to NCHW around the same call) —: mode nearest (every nearest_mode and
 * coordinate_transformation_mode) and linear (bilinear, no antialias); scales or sizes, constant or run-time. The
 * tables come from the reference's own per-axis taps (ops/resize.ts resizeAxisTaps), rebuilt only when the input
 * dims or the scales/sizes/roi values change; asm/f32_resize.ts gathers. Cubic, antialias, tf_crop_and_resize
 * extrapolation and resizing N or C stay on the reference.
 */
/** a Resize kernel's tap tables at `tab` for the resized axes ya, ya + 1 (ih × iw → oh × ow planes) */
interface Tables {
  tab: number;
  ya: 1 | 2;
  ih: number;
  iw: number;
  oh: number;
  ow: number;
}

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
    let cached: ({ key: string } & Tables) | undefined;
    const drop = () => {
      if (cached) mem.release(cached.tab);
      cached = undefined;
    };
    /**
     * The kernel's tap tables for these inputs in a block from `alloc` (`before` runs first: the old tables dropped),
     * with the resized axes: H, W of NCHW (`ya` 2) or of NHWC (`ya` 1, N and C kept: a TFLite / Keras graph's Resize
     * written as ONNX), ih × iw input planes; undefined when the reference must run (other axes resized,
     * extrapolation, other taps).
     */
    const tables = (inputs: readonly (Tensor | undefined)[], alloc: (bytes: number) => number, before?: () => void): Tables | undefined => {
      const d = inputs[0]!.dims;
      let t: Tables | undefined;
      for (const ya of [2, 1] as const) {
        t = axisTables(inputs, ya, d[ya]!, d[ya + 1]!, alloc, before);
        if (t) break;
      }
      // bilinear: the column plan after the tables (linearBytes reserved it)
      if (t && linear) ex.f32_resize_linear_plan(t.iw, t.ow, t.tab + 16 * t.oh, t.tab + 16 * t.oh + 8 * t.ow, t.tab + 16 * (t.oh + t.ow));
      return t;
    };
    /** bytes of the bilinear tables (index and weight pairs per row and column) and the kernel's column plan */
    const linearBytes = (oh: number, ow: number) => (oh + ow) * 16 + ex.f32_resize_linear_plan_size(ow);
    /** the two axes other than the resized pair ya, ya + 1 */
    const kept = (ya: number) => (ya === 2 ? [0, 1] : [0, 3]);
    const axisTables = (inputs: readonly (Tensor | undefined)[], ya: 1 | 2, ih: number, iw: number, alloc: (bytes: number) => number, before?: () => void): Tables | undefined => {
      if (ortLinear) {
        const plans = resizeAxisPlans(node, attrs, inputs);
        if (kept(ya).some((a) => plans[a]!.scale !== 1 || plans[a]!.outLen !== inputs[0]!.dims[a])) return undefined;
        const [py, px] = [plans[ya]!, plans[ya + 1]!];
        // align_corners and pytorch_half_pixel read the output length: onnxruntime its integer one, the ONNX reference
        // scale · input (unrounded); the two agree when that product is whole (up to the rounding of sizes / input
        // · input when sizes were given) — else the reference's taps below
        const whole = (q: typeof py, len: number) => q.scale === 1 || Math.abs(q.scale * len - q.outLen) <= 1e-9 * q.outLen;
        if (ctm !== 'half_pixel' && ctm !== 'asymmetric' && !(whole(py, ih) && whole(px, iw))) return referenceTables(inputs, ya, ih, iw, alloc, before);
        before?.();
        const tab = alloc(linearBytes(py.outLen, px.outLen));
        ortBilinearAxis(mem, tab, ih, py.outLen, py.scale, ctm);
        ortBilinearAxis(mem, tab + 16 * py.outLen, iw, px.outLen, px.scale, ctm);
        return { tab, ya, ih, iw, oh: py.outLen, ow: px.outLen };
      }
      return referenceTables(inputs, ya, ih, iw, alloc, before);
    };
    /** tables from the reference's own taps (ops/resize.ts resizeAxisTaps) */
    const referenceTables = (inputs: readonly (Tensor | undefined)[], ya: 1 | 2, ih: number, iw: number, alloc: (bytes: number) => number, before?: () => void): Tables | undefined => {
      // N and C resized: the reference (checked on the plans first — taps of a stranger's million-long C axis cost ~1 s)
      const plans = resizeAxisPlans(node, attrs, inputs);
      if (kept(ya).some((a) => plans[a]!.scale !== 1 || plans[a]!.outLen !== inputs[0]!.dims[a])) return undefined;
      const taps = resizeAxisTaps(node, attrs, inputs);
      if (kept(ya).some((a) => taps[a])) return undefined;
      const ty = taps[ya];
      const tx = taps[ya + 1];
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
      return { tab, ya, ih, iw, oh, ow };
    };
    /**
     * The resize of the `n` · `c` planes at xp into yp with tables `t`; an NHWC input goes to NCHW in `tmp` first
     * (n · c · ih · iw floats) and the result comes back from `tmp2` (n · c · oh · ow floats), through x32_transpose2d.
     */
    const resizeAt = (t: Tables, n: number, c: number, xp: number, yp: number, tmp: number, tmp2: number) => {
      const { tab, ih, iw, oh, ow } = t;
      const [src, dst] = t.ya === 1 ? [tmp, tmp2] : [xp, yp];
      if (t.ya === 1) ex.x32_transpose2d(xp, n, ih * iw, c, src);
      if (linear) ex.f32_resize_linear(src, n * c, ih, iw, oh, ow, tab, tab + 8 * oh, tab + 16 * oh, tab + 16 * oh + 8 * ow, dst, tab + 16 * (oh + ow));
      else ex.f32_resize_nearest(src, n * c, ih, iw, oh, ow, tab, tab + 4 * oh, dst);
      if (t.ya === 1) ex.x32_transpose2d(dst, n, c, oh * ow, yp);
    };
    /** N and C of an input of dims `d` resized over the tables' axes */
    const nc = (t: Tables, d: readonly number[]) => [d[0]!, t.ya === 1 ? d[3]! : d[1]!] as const;
    return {
      name: linear ? 'f32_resize_linear' : 'f32_resize_nearest',
      // static plan: constant roi / scales / sizes, the tables and the row scratch held, run()'s call on fixed places
      bind({ ins, consts, inTypes: [xt], outs: [yp], scratch }) {
        if (ins[0]! < 0 || yp! < 0 || ins.some((q, i) => i > 0 && q >= 0)) return undefined;
        const dims = xt!.shape as number[];
        const t = tables([{ dims, type: 'float32' } as unknown as Tensor, ...consts.slice(1)], (bytes) => scratch(bytes, 'resize tables'));
        if (!t) return undefined;
        const [n, c] = nc(t, dims);
        const size = n * c * t.oh * t.ow;
        if (!size) return () => {};
        const [tmp, tmp2] = t.ya === 1 ? [scratch(n * c * t.ih * t.iw * 4, 'resize NCHW input'), scratch(size * 4, 'resize NCHW output')] : [0, 0];
        const xp = ins[0]!;
        return () => resizeAt(t, n, c, xp, yp!, tmp, tmp2);
      },
      run(inputs, [outType]) {
        const xt = inputs[0]!;
        const key = `${xt.dims.join(',')}|${inputs.slice(1).map((t) => (t ? t.toNumbers().join(',') : '-')).join('|')}`;
        if (cached?.key !== key) {
          const t = tables(inputs, (bytes) => mem.alloc(bytes, 'resize tables'), drop);
          if (!t) return undefined; // N or C resized, or taps the kernel does not take: the reference
          cached = { key, ...t };
        }
        const t = cached;
        const [n, c] = nc(t, xt.dims);
        const size = n * c * t.oh * t.ow;
        const xin = mem.input(xt.data as Float32Array, 'resize input');
        const tmp = t.ya === 1 && size ? [mem.alloc(n * c * t.ih * t.iw * 4, 'resize NCHW input'), mem.alloc(size * 4, 'resize NCHW output')] : [];
        try {
          const op = mem.alloc(size * 4, 'resize output');
          if (size) resizeAt(t, n, c, xin.ptr, op, tmp[0] ?? 0, tmp[1] ?? 0);
          return [new Tensor('float32', mem.f32(op, size), outType!.shape as number[])];
        } finally {
          for (const p of tmp) mem.release(p);
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
