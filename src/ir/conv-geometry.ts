import type { Dim } from './graph.js';
import type { Attrs } from './registry.js';

/**
 * Spatial geometry shared by Conv, ConvTranspose, pooling and the quantized convs (QLinearConv,
 * ConvInteger): one place for ONNX's auto_pad / pads / strides / dilations / ceil_mode rules.
 */
export interface Geometry {
  /** spatial rank (1 for Conv1D, 2 for 2D …) */
  rank: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** begin pads per spatial axis */
  padBegin: number[];
  padEnd: number[];
  /** output spatial dims */
  out: number[];
}

const INT32_MAX = 2 ** 31 - 1;

/** A conv/pool node's geometry attributes with the ONNX defaults (strides and dilations 1, pads 0, NOTSET). */
function convAttrs(attrs: Attrs, rank: number): { strides: number[]; dilations: number[]; pads: number[]; autoPad: string } {
  return {
    strides: attrs.strides ?? new Array(rank).fill(1),
    dilations: attrs.dilations ?? new Array(rank).fill(1),
    pads: attrs.pads ?? new Array(2 * rank).fill(0),
    autoPad: attrs.auto_pad ?? 'NOTSET',
  };
}

/**
 * ONNX Conv/Pool output size (operator docs, "auto_pad"):
 *  - NOTSET: out = floor((in + pad_begin + pad_end - ((k-1)·d + 1)) / s) + 1   (ceil with ceil_mode=1)
 *  - VALID:  out = ceil((in - ((k-1)·d + 1) + 1) / s)
 *  - SAME_UPPER/SAME_LOWER: out = ceil(in / s); total pad = max(0, (out-1)·s + (k-1)·d + 1 - in),
 *    SAME_UPPER puts the extra pixel at the end, SAME_LOWER at the beginning.
 * With ceil_mode, the last window must start inside the input or left padding (PyTorch/ONNX rule).
 * Returns undefined when the input spatial dims are symbolic.
 */
export function convGeometry(
  inSpatial: readonly Dim[],
  kernel: readonly number[],
  attrs: Attrs,
  fail: (msg: string) => never,
  opts: { ceilMode?: boolean } = {},
): Geometry | undefined {
  const rank = kernel.length;
  const { strides, dilations, pads, autoPad } = convAttrs(attrs, rank);
  if (inSpatial.length !== rank) fail(`input has ${inSpatial.length} spatial dims, kernel has ${rank}`);
  if (strides.length !== rank || strides.some((s) => s < 1)) fail(`strides must be ${rank} positive ints, got [${strides}]`);
  if (dilations.length !== rank || dilations.some((s) => s < 1)) fail(`dilations must be ${rank} positive ints, got [${dilations}]`);
  if (pads.length !== 2 * rank || pads.some((p) => p < 0)) fail(`pads must be ${2 * rank} non-negative ints, got [${pads}]`);
  if (kernel.some((k) => !(k >= 1))) fail(`kernel dims must be positive, got [${kernel}]`);
  if (inSpatial.some((d) => typeof d !== 'number')) return undefined;
  const ins = inSpatial as number[];
  const padBegin: number[] = [];
  const padEnd: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const s = strides[i]!;
    const ek = (kernel[i]! - 1) * dilations[i]! + 1;
    const n = ins[i]!;
    let o: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      o = Math.ceil(n / s);
      const total = Math.max(0, (o - 1) * s + ek - n);
      const small = Math.floor(total / 2);
      padBegin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      padEnd.push(autoPad === 'SAME_UPPER' ? total - small : small);
    } else if (autoPad === 'VALID') {
      o = Math.ceil((n - ek + 1) / s);
      padBegin.push(0);
      padEnd.push(0);
    } else if (autoPad === 'NOTSET') {
      const pb = pads[i]!;
      const pe = pads[i + rank]!;
      padBegin.push(pb);
      padEnd.push(pe);
      const span = n + pb + pe - ek;
      if (opts.ceilMode) {
        o = Math.ceil(span / s) + 1;
        // the last window must start inside the input or the left padding
        if ((o - 1) * s >= n + pb) o--;
      } else o = Math.floor(span / s) + 1;
    } else fail(`auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
    // the kernels take the geometry as int32 and index the padded input with it: a stranger's kernel_shape, pads or
    // dilations past that range wrapped inside the kernel (an out-of-bounds trap, not an answer)
    if (n + padBegin[i]! + padEnd[i]! > INT32_MAX || ek > INT32_MAX || s > INT32_MAX)
      fail(`spatial axis ${i}: padded input ${n}+${padBegin[i]}+${padEnd[i]}, kernel reach ${ek} and stride ${s} must each be below 2^31`);
    if (!(o! >= 1)) fail(`output spatial dim ${i} would be ${o!} (input ${n}, kernel ${kernel[i]}, stride ${s}, dilation ${dilations[i]}, pads ${padBegin[i]}+${padEnd[i]})`);
    out.push(o!);
  }
  return { rank, kernel: [...kernel], strides, dilations, padBegin, padEnd, out };
}

/**
 * Output spatial dims of a Conv/Pool whose input has symbolic spatial dims (dynamic-resolution exports such as
 * Paddle2ONNX's PP-OCR detector, [N, 3, H, W]): each concrete dim as convGeometry computes it; a symbolic dim keeps
 * its symbol where the output provably equals the input — stride 1 and the padding restoring the kernel's reach
 * (SAME_UPPER/SAME_LOWER: out = ceil(in / 1); NOTSET with pad_begin + pad_end = (k−1)·d + 1 − 1; VALID with a
 * 1-wide kernel) — and becomes '?' otherwise. Rank and channels then flow on, so later shape rules still check
 * ranks and `inspect` counts MACs (symbols as 1). Validates the attributes exactly as convGeometry does.
 */
export function convOutDims(
  inSpatial: readonly Dim[],
  kernel: readonly number[],
  attrs: Attrs,
  fail: (msg: string) => never,
  opts: { ceilMode?: boolean } = {},
): Dim[] {
  const g = convGeometry(inSpatial, kernel, attrs, fail, opts);
  if (g) return g.out;
  const rank = kernel.length;
  const { strides, dilations, pads, autoPad } = convAttrs(attrs, rank);
  return inSpatial.map((d, i) => {
    const s = strides[i]!;
    const pb = pads[i]!;
    const pe = pads[i + rank]!;
    if (typeof d === 'number') {
      const one = { auto_pad: autoPad, strides: [s], dilations: [dilations[i]!], pads: [pb, pe] };
      return convGeometry([d], [kernel[i]!], one, fail, opts)!.out[0]!;
    }
    const ek = (kernel[i]! - 1) * dilations[i]! + 1;
    const keeps = s === 1 && (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' || (autoPad === 'NOTSET' && pb + pe === ek - 1) || (autoPad === 'VALID' && ek === 1));
    return keeps ? d : '?';
  });
}

/** Attribute specs shared by conv-like ops (merge into an op's `attrs`). */
export const CONV_ATTRS = {
  auto_pad: { type: 'string', default: 'NOTSET', oneOf: ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] },
  dilations: { type: 'ints' },
  group: { type: 'int', default: 1 },
  kernel_shape: { type: 'ints' },
  pads: { type: 'ints' },
  strides: { type: 'ints' },
} as const;

/**
 * ONNX ConvTranspose output geometry (operator docs):
 *  - output_shape given: total_padding[i] = stride[i]·(in[i]-1) + output_padding[i] + ((k[i]-1)·d[i]+1) - output_shape[i];
 *    SAME_UPPER: pads_begin = total/2, pads_end = total - total/2; otherwise pads_begin = total - total/2, pads_end = total/2
 *  - auto_pad SAME_UPPER/SAME_LOWER without output_shape: output_shape[i] = in[i]·stride[i], then as above
 *  - otherwise: out[i] = stride[i]·(in[i]-1) + output_padding[i] + ((k[i]-1)·d[i]+1) - pads_begin[i] - pads_end[i]
 * `outputShape` is the spatial part (callers strip a leading N, C). Returns undefined for symbolic inputs.
 */
export function convTransposeGeometry(
  inSpatial: readonly Dim[],
  kernel: readonly number[],
  attrs: Attrs,
  fail: (msg: string) => never,
): Geometry | undefined {
  const rank = kernel.length;
  const strides: number[] = attrs.strides ?? new Array(rank).fill(1);
  const dilations: number[] = attrs.dilations ?? new Array(rank).fill(1);
  const pads: number[] = attrs.pads ?? new Array(2 * rank).fill(0);
  const outPad: number[] = attrs.output_padding ?? new Array(rank).fill(0);
  const autoPad: string = attrs.auto_pad ?? 'NOTSET';
  let outputShape: number[] | undefined = attrs.output_shape;
  if (inSpatial.length !== rank) fail(`input has ${inSpatial.length} spatial dims, kernel has ${rank}`);
  if (strides.length !== rank || strides.some((s) => s < 1)) fail(`strides must be ${rank} positive ints, got [${strides}]`);
  if (dilations.length !== rank || dilations.some((s) => s < 1)) fail(`dilations must be ${rank} positive ints, got [${dilations}]`);
  if (pads.length !== 2 * rank || pads.some((p) => p < 0)) fail(`pads must be ${2 * rank} non-negative ints, got [${pads}]`);
  if (outPad.length !== rank || outPad.some((p) => p < 0)) fail(`output_padding must be ${rank} non-negative ints, got [${outPad}]`);
  if (kernel.some((k) => !(k >= 1))) fail(`kernel dims must be positive, got [${kernel}]`);
  if (outputShape) {
    if (outputShape.length === rank + 2) outputShape = outputShape.slice(2);
    if (outputShape.length !== rank || outputShape.some((o) => o < 1)) fail(`output_shape must hold ${rank} positive spatial dims, got [${attrs.output_shape}]`);
  }
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) fail(`auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  if (inSpatial.some((d) => typeof d !== 'number')) return undefined;
  const ins = inSpatial as number[];
  const padBegin: number[] = [];
  const padEnd: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const s = strides[i]!;
    const ek = (kernel[i]! - 1) * dilations[i]! + 1;
    const full = s * (ins[i]! - 1) + outPad[i]! + ek;
    let o: number;
    if (outputShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      o = outputShape ? outputShape[i]! : ins[i]! * s;
      const total = full - o;
      const half = Math.floor(total / 2);
      if (autoPad === 'SAME_UPPER') {
        padBegin.push(half);
        padEnd.push(total - half);
      } else {
        padBegin.push(total - half);
        padEnd.push(half);
      }
    } else if (autoPad === 'VALID') {
      padBegin.push(0);
      padEnd.push(0);
      o = full;
    } else {
      padBegin.push(pads[i]!);
      padEnd.push(pads[i + rank]!);
      o = full - pads[i]! - pads[i + rank]!;
    }
    if (!(o >= 1)) fail(`output spatial dim ${i} would be ${o} (input ${ins[i]}, kernel ${kernel[i]}, stride ${s})`);
    out.push(o);
  }
  return { rank, kernel: [...kernel], strides, dilations, padBegin, padEnd, out };
}

/**
 * Layouts (edgeq extension; ONNX itself is always NCHW / OIHW): `data_layout` 'NHWC' puts channels last in X and
 * Y, `weight_layout` 'OHWI' is W as (M, k…, C/group) and '1HWO' is W as (C/group = 1, k…, M) (TFLite depthwise).
 * The reference does the index math for every layout; kernels only take the defaults.
 */
export const LAYOUT_ATTRS = {
  data_layout: { type: 'string', default: 'NCHW', oneOf: ['NCHW', 'NHWC'] },
  weight_layout: { type: 'string', default: 'OIHW', oneOf: ['OIHW', 'OHWI', '1HWO'] },
} as const;

export { nonOnnxAttr } from '../ir/layout.js';

/** X viewed as (N, C, spatial…) whatever its layout. */
export function xView<T>(shape: readonly T[], nhwc: boolean): { n: T; c: T; sp: T[] } {
  return nhwc ? { n: shape[0]!, c: shape[shape.length - 1]!, sp: shape.slice(1, -1) } : { n: shape[0]!, c: shape[1]!, sp: shape.slice(2) };
}

/** W viewed as (M, C/group, k…) whatever its layout. */
export function wView<T>(shape: readonly T[], wl: string): { m: T; cg: T; k: T[] } {
  if (wl === 'OHWI') return { m: shape[0]!, cg: shape[shape.length - 1]!, k: shape.slice(1, -1) };
  if (wl === '1HWO') return { m: shape[shape.length - 1]!, cg: shape[0]!, k: shape.slice(1, -1) };
  return { m: shape[0]!, cg: shape[1]!, k: shape.slice(2) };
}


/** Concrete 2-D conv geometry for a kernel's run: output size, begin pads, pixels, and whether it is a plain 1×1. */
export interface Conv2dAt {
  oh: number;
  ow: number;
  /** begin pads (top, left) */
  pt: number;
  pl: number;
  /** output pixels oh·ow */
  p: number;
  /** 1×1, stride 1, no padding: the input already is the column matrix */
  pointwise: boolean;
}

/**
 * The WASM conv kernels' per-run geometry. `inferShape` has already validated the same attributes for these
 * dims, so a failure here is a bug (plain Error), never a user-input error.
 */
export function conv2dAt(ih: number, iw: number, kh: number, kw: number, attrs: Attrs): Conv2dAt {
  // every run of a node asks again with the same attrs object and (mostly) the same dims: the last answer per attrs
  const hit = lastConv2d.get(attrs);
  if (hit && hit.ih === ih && hit.iw === iw && hit.kh === kh && hit.kw === kw) return hit.at;
  const g = convGeometry([ih, iw], [kh, kw], attrs, (msg) => {
    throw new Error(`unreachable: ${msg}`);
  })!;
  const [oh, ow] = g.out as [number, number];
  const [pt, pl] = g.padBegin as [number, number];
  const pointwise = kh === 1 && kw === 1 && g.strides.every((s) => s === 1) && [...g.padBegin, ...g.padEnd].every((v) => v === 0);
  const at: Conv2dAt = Object.freeze({ oh, ow, pt, pl, p: oh * ow, pointwise });
  lastConv2d.set(attrs, { ih, iw, kh, kw, at });
  return at;
}
const lastConv2d = new WeakMap<Attrs, { ih: number; iw: number; kh: number; kw: number; at: Conv2dAt }>();

/**
 * The WASM pooling kernels' per-run geometry (MaxPool / AveragePool, with ceil_mode), like conv2dAt: `inferShape`
 * has already validated it for these dims, so a failure here is a bug.
 */
export function pool2dAt(ih: number, iw: number, kh: number, kw: number, attrs: Attrs): Geometry {
  const hit = lastPool2d.get(attrs);
  if (hit && hit.ih === ih && hit.iw === iw && hit.kh === kh && hit.kw === kw) return hit.at;
  const at = convGeometry([ih, iw], [kh, kw], attrs, (msg) => {
    throw new Error(`unreachable: ${msg}`);
  }, { ceilMode: attrs.ceil_mode === 1 })!;
  lastPool2d.set(attrs, { ih, iw, kh, kw, at });
  return at;
}
const lastPool2d = new WeakMap<Attrs, { ih: number; iw: number; kh: number; kw: number; at: Geometry }>();
