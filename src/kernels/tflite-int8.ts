// TFLite int8 kernels with TFLite's integer requantization: CONV_2D / DEPTHWISE_CONV_2D and FULLY_CONNECTED.
import { Tensor } from '../tensor/tensor.js';
import { expOnNegativeValues, perChannelMultipliers, qbounds, quantizeMultiplier, saturatingRoundingDoublingHighMul, saturatingRoundingMultiplyByPOT, softmaxParams, tflAddParams, tflMulParams } from '../tensor/tflite-quant.js';
import type { ValueType } from '../ir/graph.js';
import type { DType } from '../tensor/dtype.js';
import { getOp } from '../ir/registry.js';
import { PackedQGemm, prepareConv, prepareDwConv, scalarInt } from './qlinear.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, bindConstant, kernels } from './wasm.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { tflBilinearCoords, tflMeanHW, tflNearestIndex, tflPadding } from '../ops/tflite.js';

const INT32_MIN = -2147483648;

/**
 * TFLite's int8 CONV_2D / DEPTHWISE_CONV_2D (the importer's QLinearConv with data_layout NHWC, weight_layout
 * OHWI or 1HWO, rounding 'tflite'; NCHW / OIHW after the layout pass, src/ir/passes/layout.ts): the NCHW int8 conv
 * kernels of qlinear.ts — the direct depthwise kernel (asm/qs8_dwconv.ts) when every filter reads one channel
 * (depth multiplier 1), else im2col + the int8 GEMM (asm/qs8_gemm.ts) — with TFLite's MultiplyByQuantizedMultiplier
 * per output channel, + y_zp and the activation clamp applied in the kernels' tiles (no int32 pass through memory),
 * bit-identical to the reference (reference_integer_ops/conv.h, depthwise_conv.h; src/ops/quant.ts). A graph left in
 * NHWC (plans without the layout pass) is transposed in and out around the NCHW kernel. int8 activations only (16x8
 * stays on the reference); the filters are symmetric (zero point 0), which the op's shape rule enforces for
 * rounding 'tflite'.
 */
/** The int8 output range, narrowed by a fused Clip on the codes (the importer's fused activation). */
class CodeClamp {
  lo = qbounds('int8')[0];
  hi = qbounds('int8')[1];
  readonly fuse = (l: number, h: number): boolean => {
    const [nl, nh] = [Math.max(this.lo, Math.ceil(l)), Math.min(this.hi, Math.floor(h))];
    if (nl > nh) return false; // an empty range (Clip min > max): the reference defines it
    [this.lo, this.hi] = [nl, nh];
    return true;
  };
}

const tfliteConvWasm: KernelDef = {
  op: 'QLinearConv',
  backend: 'wasm',
  layouts: true,
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    const w = constant(3);
    const ws = constant(4);
    const xs = constant(1);
    const ys = constant(6);
    const b = node.inputs[8] ? constant(8) : undefined;
    const x = types[0];
    // NHWC (the importer's form) or NCHW / OIHW (what the layout pass, src/ir/passes/layout.ts, makes of it)
    const nhwc = attrs.data_layout === 'NHWC';
    if (!mem || !ex || attrs.rounding !== 'tflite') return decline('needs WASM and a TFLite conv (rounding tflite)');
    if (x?.dtype !== 'int8' || types[7]?.dtype !== 'int8' || !w || w.type !== 'int8' || w.dims.length !== 4 || x.shape?.length !== 4) return decline('needs int8 4-D X/Y and a constant 4-D int8 W');
    if (!ws || ws.type !== 'float32' || !xs || xs.type !== 'float32' || !ys || ys.type !== 'float32') return decline('scales are not constant float32');
    if (node.inputs[8] && (!b || b.type !== 'int32')) return decline('bias is not a constant int32');
    const layout = attrs.weight_layout as string;
    const wd = w.data as Int8Array;
    let oihw: Tensor;
    if (layout === 'OHWI') {
      const [o, kh, kw, i] = w.dims as [number, number, number, number];
      const t = new Int8Array(w.size);
      for (let a = 0; a < o; a++) for (let c = 0; c < i; c++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) t[((a * i + c) * kh + y) * kw + z] = wd[((a * kh + y) * kw + z) * i + c]!;
      oihw = new Tensor('int8', t, [o, i, kh, kw]);
    } else if (layout === '1HWO') {
      const [, kh, kw, o] = w.dims as [number, number, number, number];
      const t = new Int8Array(w.size);
      for (let a = 0; a < o; a++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) t[(a * kh + y) * kw + z] = wd[(y * kw + z) * o + a]!;
      oihw = new Tensor('int8', t, [o, 1, kh, kw]);
    } else if (!nhwc && (layout ?? 'OIHW') === 'OIHW') oihw = w;
    else return decline(`weight layout ${layout} does not match data layout ${attrs.data_layout ?? 'NCHW'}`);
    const m = oihw.dims[0]!;
    const group = (attrs.group as number | undefined) ?? 1;
    if (group < 1 || m % group !== 0) return decline('output channels not divisible by group');
    const { mult, shift } = perChannelMultipliers((xs.data as Float32Array)[0]!, ws.data as Float32Array, (ys.data as Float32Array)[0]!, m);
    if (mult.includes(INT32_MIN)) return decline('a requantization multiplier is INT32_MIN (a negative scale)');
    const clamp = new CodeClamp();
    const tfl = { mult, shift, clamp };
    const nattrs = { ...attrs, data_layout: 'NCHW', weight_layout: 'OIHW' };
    const bias = b && (b.data as Int32Array);
    const c = x.shape[nhwc ? 3 : 1];
    // depth multiplier 1: the direct depthwise kernel (the GEMM path would multiply one-row matrices per channel)
    const depthwise = group > 1 && group === m && oihw.dims[1] === 1 && (typeof c !== 'number' || c === group);
    const inner = depthwise ? prepareDwConv(ex, mem, nattrs, 'int8', oihw, [0], bias, undefined, tfl) : prepareConv(ex, mem, nattrs, 'int8', oihw, [0], bias, undefined, tfl);
    return {
      name: inner.name,
      // the importer's fused activation (a Clip on the int8 output) clamps the codes in the requantization
      fuseClampQ: clamp.fuse,
      run(inputs, [ot]) {
        const xt = inputs[0]!;
        if (!nhwc) return inner.run(inputs, [ot]);
        const [n, h, wi, ci] = xt.dims as [number, number, number, number];
        const [, oh, ow] = ot!.shape as number[] as [number, number, number, number];
        // a resident input (the previous kernel's output) is read in place: only pointers survive a memory.grow
        const xin = mem.inputBytes(xt.data as Int8Array, 'tflite conv input');
        let xp = 0;
        let yp = 0;
        try {
          xp = mem.alloc(xt.size, 'tflite conv input NCHW');
          ex.x8_permute4(xin.ptr, n, ci, h, wi, h * wi * ci, 1, wi * ci, ci, xp);
          const xn = new Tensor('int8', new Int8Array(mem.buffer, xp, xt.size), [n, ci, h, wi]);
          yp = (inner.run([xn, ...inputs.slice(1)], [{ dtype: 'int8', shape: [n, m, oh, ow] }])![0]!.data as Int8Array).byteOffset;
          const op = mem.alloc(n * m * oh * ow, 'tflite conv output');
          ex.x8_permute4(yp, n, oh, ow, m, m * oh * ow, ow, 1, oh * ow, op);
          return [new Tensor('int8', new Int8Array(mem.buffer, op, n * m * oh * ow), ot!.shape as number[])];
        } finally {
          if (yp) mem.release(yp);
          if (xp) mem.release(xp);
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      // a graph the layout pass made NCHW: the inner kernel's bound call (the NHWC form transposes around it: general path)
      bind: nhwc || !inner.bind ? undefined : (b) => inner.bind!(b),
      dispose() {
        inner.dispose?.();
      },
    };
  },
};

registerKernel(tfliteConvWasm);

/**
 * TFLite's int8 FULLY_CONNECTED (the importer's com.microsoft QGemm with transB = 1, rounding 'tflite'): the int8
 * GEMM (PackedQGemm, int32 accumulators with the zero-point corrections and bias) and TFLite's
 * MultiplyByQuantizedMultiplier per output column (fully_connected.cc), bit-identical to the reference. int8 only.
 */
const tfliteFcWasm: KernelDef = {
  op: 'QGemm',
  domain: 'com.microsoft',
  backend: 'wasm',
  layouts: true,
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    const [as, bs, ys] = [constant(1), constant(4), constant(7)];
    const b = constant(3);
    const bz = constant(5);
    const c = node.inputs[6] ? constant(6) : undefined;
    if (!mem || !ex || attrs.rounding !== 'tflite' || attrs.transA || !attrs.transB || (attrs.alpha ?? 1) !== 1) return decline('needs WASM and a TFLite FULLY_CONNECTED (rounding tflite, transB, alpha 1)');
    if (types[0]?.dtype !== 'int8' || types[8]?.dtype !== 'int8' || !b || b.type !== 'int8' || b.dims.length !== 2) return decline('needs int8 A/Y and a constant 2-D int8 B');
    if (!as || as.type !== 'float32' || !bs || bs.type !== 'float32' || !ys || ys.type !== 'float32' || !bz) return decline("scales are not constant float32 or B's zero point is not constant");
    if (node.inputs[6] && (!c || c.type !== 'int32')) return decline('bias is not a constant int32');
    const [n, k] = b.dims as [number, number];
    if (c && !(c.size === n && (c.dims.length === 1 || c.dims[0] === 1))) return decline('bias is not a row of N');
    const bd = b.data as Int8Array;
    const { mult, shift } = perChannelMultipliers((as.data as Float32Array)[0]!, bs.data as Float32Array, (ys.data as Float32Array)[0]!, n);
    const bias = c ? (c.data as Int32Array) : undefined;
    const clamp = new CodeClamp();
    // tiny layers (hello_world_int8's 1→16→16→1) on direct dot products: packing, the packed GEMM's setup and its
    // rank-1 zero-point terms cost more than the whole layer there (the packed path ran the model in 120 µs against
    // 88 µs on the reference); micro_speech's 4000×4 FC is K·N = 16000, well past this line
    if (k * n < 1024) return tflFcSmall(mem, ex, k, n, bd, Array.from(bz.data as Int8Array), bias, mult, shift, clamp);
    const bt = new Int8Array(k * n);
    for (let j = 0; j < n; j++) for (let kk = 0; kk < k; kk++) bt[kk * n + j] = bd[j * k + kk]!;
    const g = new PackedQGemm(mem, k, n, new Tensor('int8', bt, [k, n]), Array.from(bz.data as Int8Array));
    const mp = mem.alloc(n * 8, 'tflite requant multipliers');
    new Int32Array(mem.buffer, mp, n).set(mult);
    new Int32Array(mem.buffer, mp + n * 4, n).set(shift);
    return {
      name: 'qs8_gemm_tflite',
      fuseClampQ: clamp.fuse,
      run(inputs, [ot]) {
        const a = inputs[0]!;
        const m = a.dims[0]!;
        // the accumulators' pointer at once: the output alloc below may grow memory and detach their view
        const ap = (g.run(a.data as Int8Array, m, false, scalarInt(inputs[2]), 'int32', undefined, 0, bias) as Int32Array).byteOffset;
        try {
          const op = mem.alloc(m * n, 'tflite fc output');
          ex.tfl_requant_i8_rows(ap, m, n, mp, mp + n * 4, scalarInt(inputs[8]), clamp.lo, clamp.hi, op);
          return [new Tensor('int8', new Int8Array(mem.buffer, op, m * n), ot!.shape as number[])];
        } finally {
          mem.release(ap);
        }
      },
      bind({ ins, consts, inTypes: [at], outs: [op], scratch }) {
        const xp = ins[0]!;
        const m = at!.shape![0] as number;
        if (xp < 0 || op! < 0 || at!.shape!.length !== 2 || (ins[2] ?? -1) >= 0 || (ins[8] ?? -1) >= 0) return undefined;
        const acc = scratch(m * n * 4, 'tflite fc accumulators');
        const gemm = g.bindGemm(xp, m, false, scalarInt(consts[2]), 'int32', undefined, 0, bias, acc, scratch);
        const [yz, lo, hi] = [scalarInt(consts[8]), clamp.lo, clamp.hi];
        return () => {
          gemm();
          ex.tfl_requant_i8_rows(acc, m, n, mp, mp + n * 4, yz, lo, hi, op!);
        };
      },
      dispose() {
        g.dispose();
        mem.release(mp);
      },
    };
  },
};

registerKernel(tfliteFcWasm);

/** The small-layer FULLY_CONNECTED: asm tfl_fc_i8_small over W as stored (N×K rows), same accumulators and requantization. */
function tflFcSmall(mem: NonNullable<ReturnType<typeof arena>>, ex: NonNullable<ReturnType<typeof kernels>>, k: number, n: number, w: Int8Array, wz: number[], bias: Int32Array | undefined, mult: Int32Array, shift: Int32Array, clamp: CodeClamp): ReturnType<KernelDef['prepare']> {
  // one block: W (N·K bytes, rounded to 4), then N int32s each of zero points, bias, multipliers, shifts
  const wb = (n * k + 3) & ~3;
  const p = mem.alloc(wb + n * 16, 'tflite small fc weights');
  const b = mem.buffer;
  new Int8Array(b, p, n * k).set(w);
  new Int32Array(b, p + wb, n).set(Int32Array.from({ length: n }, (_, j) => wz[wz.length === 1 ? 0 : j] ?? 0));
  if (bias) new Int32Array(b, p + wb + n * 4, n).set(bias.subarray(0, n));
  new Int32Array(b, p + wb + n * 8, n).set(mult);
  new Int32Array(b, p + wb + n * 12, n).set(shift);
  return {
    name: 'tfl_fc_i8_small',
    fuseClampQ: clamp.fuse,
    run(inputs, [ot]) {
      const a = inputs[0]!;
      const m = a.dims[0]!;
      const xin = mem.inputBytes(a.data as Int8Array, 'tflite fc input');
      try {
        const op = mem.alloc(m * n, 'tflite fc output');
        ex.tfl_fc_i8_small(xin.ptr, m, k, scalarInt(inputs[2]), p, p + wb, bias ? p + wb + n * 4 : 0, n, p + wb + n * 8, p + wb + n * 12, scalarInt(inputs[8]), clamp.lo, clamp.hi, op);
        return [new Tensor('int8', new Int8Array(mem.buffer, op, m * n), ot!.shape as number[])];
      } finally {
        if (xin.copied) mem.release(xin.ptr);
      }
    },
    bind({ ins, consts, inTypes: [at], outs: [op] }) {
      const ap = ins[0]!;
      const m = at!.shape![0] as number;
      // zero points that are runtime values (never in an imported TFLite graph) keep the general path
      if (ap < 0 || op! < 0 || at!.shape!.length !== 2 || (ins[2] ?? -1) >= 0 || (ins[8] ?? -1) >= 0) return undefined;
      const [az, yz, lo, hi] = [scalarInt(consts[2]), scalarInt(consts[8]), clamp.lo, clamp.hi];
      const [wp, zp, bp, mp, sp] = [p, p + wb, bias ? p + wb + n * 4 : 0, p + wb + n * 8, p + wb + n * 12];
      return () => ex.tfl_fc_i8_small(ap, m, k, az, wp, zp, bp, n, mp, sp, yz, lo, hi, op!);
    },
    dispose() {
      mem.release(p);
    },
  };
}

/**
 * TFLite's quantized AVERAGE_POOL_2D (int8, and int16 of the 16x8 mode) on NHWC, as the importer maps it (domain
 * ai.edgeq.tflite): asm tfl_avgpool_nhwc with TFLite's rounded integer mean (reference_integer_ops/pooling.h),
 * bit-identical to the reference (src/ops/tflite.ts poolRun). A following Clip on the codes (the fused activation)
 * folds into its clamp.
 */
const tflAvgPoolWasm: KernelDef = {
  op: 'AVERAGE_POOL_2D',
  domain: TFL_DOMAIN,
  backend: 'wasm',
  layouts: true,
  prepare(_node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    const x = types[0];
    if (!mem || !ex) return decline('no WASM memory');
    const esz = x?.dtype === 'int8' ? 1 : x?.dtype === 'int16' ? 2 : 0;
    if (!esz) return decline(`input ${x?.dtype}: the kernel is int8 / int16`);
    const clamp = new CodeClamp();
    if (esz === 2) [clamp.lo, clamp.hi] = qbounds('int16');
    /** output size and the call on pointers for an NHWC input of `dims` (the clamp read at call time: fused later) */
    const geometry = (dims: readonly number[]) => {
      const [n, h, w, c] = dims as [number, number, number, number];
      const ph = tflPadding(attrs.padding as string, h, attrs.filter_height as number, attrs.stride_h as number, 1);
      const pw = tflPadding(attrs.padding as string, w, attrs.filter_width as number, attrs.stride_w as number, 1);
      const pool = (xp: number, op: number) =>
        ex.tfl_avgpool_nhwc(xp, esz, n, h, w, c, attrs.filter_height as number, attrs.filter_width as number, attrs.stride_h as number, attrs.stride_w as number, ph.pad, pw.pad, ph.out, pw.out, clamp.lo, clamp.hi, op);
      return { size: n * ph.out * pw.out * c, pool };
    };
    return {
      name: 'tfl_avgpool_nhwc',
      fuseClampQ: clamp.fuse,
      run([xt], [ot]) {
        const g = geometry(xt!.dims);
        const xin = mem.inputBytes(xt!.data as Int8Array | Int16Array, 'avgpool input');
        try {
          const op = mem.alloc(g.size * esz, 'avgpool output');
          g.pool(xin.ptr, op);
          return [outAt(mem, xt!.type, op, g.size, ot!)];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      bind({ ins: [xp], inTypes: [xt], outs: [op] }) {
        const dims = xt?.shape as number[] | undefined;
        if (!dims || dims.length !== 4 || xp === undefined || op === undefined || xp < 0 || op < 0) return undefined;
        const g = geometry(dims);
        return () => g.pool(xp, op);
      },
    };
  },
};

registerKernel(tflAvgPoolWasm);

/**
 * TFLite's RESIZE_NEAREST_NEIGHBOR (any element type: a copy of whole NHWC pixels) and int8 / int16 RESIZE_BILINEAR
 * (reference_ops::ResizeBilinearInteger) as the importer keeps them (domain ai.edgeq.tflite, NHWC): the source
 * indices / 10-bit coordinates come from the reference's own helpers (src/ops/tflite.ts tflNearestIndex,
 * tflBilinearCoords), the per-channel integer interpolation from asm tfl_resize_bilinear_nhwc — bit-identical to the
 * reference. The output size must be a constant (the importer's second input).
 */
function tflResizeWasm(op: 'RESIZE_NEAREST_NEIGHBOR' | 'RESIZE_BILINEAR'): KernelDef {
  const bilinear = op === 'RESIZE_BILINEAR';
  return {
    op,
    domain: TFL_DOMAIN,
    backend: 'wasm',
    layouts: true,
    prepare(_node, attrs, types, constant) {
      const mem = arena();
      const ex = kernels();
      const x = types[0];
      const size = constant(1);
      if (!mem || !ex) return decline('no WASM memory');
      const esz = x ? ({ int8: 1, uint8: 1, int16: 2, float32: 4, int32: 4 } as Record<string, number>)[x.dtype] : undefined;
      if (!esz || (bilinear && x!.dtype !== 'int8' && x!.dtype !== 'int16')) return decline(`input ${x?.dtype}: the kernel is ${bilinear ? 'int8 / int16 (float RESIZE_BILINEAR is an ONNX Resize)' : '8-, 16- or 32-bit'}`);
      if (!size || size.size !== 2) return decline('the output size is not a constant pair');
      const [oh, ow] = Array.from(size.data as Int32Array) as [number, number];
      const [ac, hp] = [!!attrs.align_corners, !!attrs.half_pixel_centers];
      return {
        name: bilinear ? 'tfl_resize_bilinear_nhwc' : 'tfl_resize_nearest_nhwc',
        run([xt], [ot]) {
          const [n, h, w, c] = xt!.dims as [number, number, number, number];
          const total = n * oh * ow * c;
          const xin = mem.inputBytes(xt!.data as ArrayBufferView, `${op} input`);
          let tab = 0;
          try {
            const ty = bilinear ? tflBilinearCoords(oh, h, ac, hp) : Int32Array.from({ length: oh }, (_, v) => tflNearestIndex(v, h, oh, ac, hp));
            const tx = bilinear ? tflBilinearCoords(ow, w, ac, hp) : Int32Array.from({ length: ow }, (_, v) => tflNearestIndex(v, w, ow, ac, hp));
            tab = mem.alloc((ty.length + tx.length) * 4, `${op} tables`);
            new Int32Array(mem.buffer, tab, ty.length).set(ty);
            new Int32Array(mem.buffer, tab + ty.length * 4, tx.length).set(tx);
            const op_ = mem.alloc(total * esz, `${op} output`);
            if (bilinear) ex.tfl_resize_bilinear_nhwc(xin.ptr, esz, n, h, w, c, oh, ow, tab, tab + ty.length * 4, op_);
            else ex.tfl_resize_nearest_nhwc(xin.ptr, c * esz, n, h, w, oh, ow, tab, tab + ty.length * 4, op_);
            const y = new Tensor(xt!.type, mem.view(xt!.type, op_, total), [n, oh, ow, c]);
            y.quant = ot!.quant;
            return [y];
          } finally {
            if (tab) mem.release(tab);
            if (xin.copied) mem.release(xin.ptr);
          }
        },
      };
    },
  };
}

registerKernel(tflResizeWasm('RESIZE_NEAREST_NEIGHBOR'));
registerKernel(tflResizeWasm('RESIZE_BILINEAR'));

/**
 * TFLite's int8 ADD and MUL (the importer's com.microsoft QLinearAdd / QLinearMul with rounding 'tflite'; add.cc's
 * general form, mul.cc): asm tfl_add_i8 / tfl_mul_i8 with the same integer steps as src/tensor/tflite-quant.ts
 * (tflAddSub, tflMul), bit-identical. Same shapes or one scalar operand (other broadcasts: the reference). A
 * following Clip on the codes folds into the clamp.
 */
function tflBinaryWasm(op: 'QLinearAdd' | 'QLinearMul'): KernelDef {
  return {
    op,
    domain: 'com.microsoft',
    backend: 'wasm',
    layouts: true,
    prepare(_node, attrs, types, constant) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      if (attrs.rounding !== 'tflite') return decline("rounding is not 'tflite'");
      if (types[0]?.dtype !== 'int8' || types[3]?.dtype !== 'int8') return decline(`inputs ${types[0]?.dtype}: the kernel is int8`);
      // same-size operands or a scalar one, known at plan time: run() never falls back (a fused Clip lives here)
      const size = (i: number) => (types[i]?.shape?.every((d) => typeof d === 'number') ? (types[i]!.shape as number[]).reduce((x, d) => x * d, 1) : -1);
      const [na, nb] = [size(0), size(3)];
      if (na < 0 || nb < 0 || (na !== nb && na !== 1 && nb !== 1)) return decline('broadcasting other than a scalar operand (or symbolic shapes)');
      const sc = [1, 2, 4, 5, 6, 7].map((i) => constant(i));
      if (sc.some((t) => !t || t.size !== 1)) return decline('scales / zero points are not constant scalars');
      const [as, az, bs, bz, cs, cz] = sc.map((t) => Number((t!.data as ArrayLike<number>)[0])) as [number, number, number, number, number, number];
      const [q1, q2, oq] = [{ scale: as, zp: az }, { scale: bs, zp: bz }, { scale: cs, zp: cz }];
      const p = op === 'QLinearAdd' ? tflAddParams('int8', q1, q2, oq) : undefined;
      const [mm, ms] = op === 'QLinearMul' ? tflMulParams(q1, q2, oq) : [0, 0];
      const clamp = new CodeClamp();
      // the clamp is read at call time: a Clip folds in after prepare
      const at = (pa: number, sa: number, pb: number, sb: number, n: number, y: number) => {
        if (p) ex.tfl_add_i8(pa, sa, pb, sb, n, az, bz, p.leftShift, p.m1, p.s1, p.m2, p.s2, p.mo, p.so, cz, clamp.lo, clamp.hi, 1, y);
        else ex.tfl_mul_i8(pa, sa, pb, sb, n, az, bz, mm, ms, cz, clamp.lo, clamp.hi, y);
      };
      return {
        name: op === 'QLinearAdd' ? 'tfl_add_i8' : 'tfl_mul_i8',
        fuseClampQ: clamp.fuse,
        run([a, , , b], [ot]) {
          const n = (ot!.shape as number[]).reduce((x, d) => x * d, 1);
          // an operand of the output's size is the output's shape up to leading 1s (same element order)
          const sa = a!.size === 1 ? 0 : 1;
          const sb = b!.size === 1 ? 0 : 1;
          const pa = mem.inputBytes(a!.data as Int8Array, `${op} input A`);
          let pb: { ptr: number; copied: boolean } | undefined;
          try {
            pb = mem.inputBytes(b!.data as Int8Array, `${op} input B`);
            const y = mem.alloc(n, `${op} output`);
            at(pa.ptr, sa, pb.ptr, sb, n, y);
            return [new Tensor('int8', new Int8Array(mem.buffer, y, n), ot!.shape as number[])];
          } finally {
            if (pa.copied) mem.release(pa.ptr);
            if (pb?.copied) mem.release(pb.ptr);
          }
        },
        // both operands blocks of this run, or a constant one copied once into plan memory
        bind({ ins, consts, outs: [yp], outTypes: [ot], scratch }) {
          const n = (ot?.shape as number[] | undefined)?.reduce((x, d) => x * d, 1);
          if (n === undefined || yp === undefined || yp < 0) return undefined;
          const operand = (j: number): number | undefined => {
            const c = consts[j];
            if (!c) return (ins[j] ?? -1) < 0 ? undefined : ins[j];
            return bindConstant(scratch, c.data as Int8Array, `${op} constant`);
          };
          const [ap, bp] = [operand(0), operand(3)];
          if (ap === undefined || bp === undefined) return undefined;
          const [sa, sb] = [na === 1 ? 0 : 1, nb === 1 ? 0 : 1];
          return () => at(ap, sa, bp, sb, n, yp);
        },
      };
    },
  };
}

registerKernel(tflBinaryWasm('QLinearAdd'));
registerKernel(tflBinaryWasm('QLinearMul'));

// ---------------------------------------------------------------- per-code ops on 8-bit inputs: 256-entry tables

/** The kernel's output: n elements of `dtype` at ptr in kernel memory, under the output type's shape and quantization. */
function outAt(mem: NonNullable<ReturnType<typeof arena>>, dtype: DType, ptr: number, n: number, o: ValueType): Tensor {
  const t = new Tensor(dtype, mem.view(dtype, ptr, n), o.shape as number[]);
  t.quant = o.quant;
  return t;
}

/** A tensor of every 8-bit code in byte order (entry i holds the code whose byte is i). */
function allCodes(dtype: 'int8' | 'uint8'): Tensor {
  return dtype === 'int8' ? new Tensor('int8', Int8Array.from({ length: 256 }, (_, i) => (i << 24) >> 24), [256]) : new Tensor('uint8', Uint8Array.from({ length: 256 }, (_, i) => i), [256]);
}

/**
 * A pointwise op on 8-bit codes is a function of the code: its table is the op's own reference run once over the 256
 * codes at plan time, so the kernel (asm x8_lut / x8_lut_f32) is bit-identical to the reference by construction and
 * the arithmetic stays TFLite's (LOGISTIC / TANH: reference_integer_ops fixed point; RELU*: "output_offset +
 * MultiplyByQuantizedMultiplier(input − input_zero_point, …)"; QUANTIZE requantize; DEQUANTIZE; HARD_SWISH; a
 * standalone Clip on codes). TFLite's optimized kernels use 256-entry tables for int8 LOGISTIC / TANH / HARD_SWISH too
 * (activations.cc PopulateLookupTable). A following Clip on 8-bit output codes folds into the table.
 */
export function tflLutKernel(op: string, domain: string, inputs: number, outDtype?: (types: readonly (ValueType | undefined)[], attrs: Record<string, unknown>) => ValueType['dtype'] | undefined): KernelDef {
  return {
    op,
    domain,
    backend: 'wasm',
    layouts: true,
    prepare(node, attrs, types, constant) {
      const mem = arena();
      const ex = kernels();
      const def = getOp(domain, op);
      if (!mem || !ex || !def) return decline('no WASM memory');
      const dt = types[0]?.dtype;
      if (dt !== 'int8' && dt !== 'uint8') return decline(`input is ${dt ?? 'of unknown type'}, not int8 / uint8`);
      const extra: (Tensor | undefined)[] = [];
      for (let i = 1; i < inputs; i++) {
        if (!node.inputs[i]) extra.push(undefined);
        else {
          const c = constant(i);
          if (!c) return decline(`input ${i} is not a constant`);
          extra.push(c);
        }
      }
      // one value per code: a parameter with one value per channel or element (per-axis DequantizeLinear) has no table
      if (extra.some((c) => c !== undefined && c.size !== 1)) return decline('a per-axis or per-element parameter (a table holds one value per code)');
      // the reference's output type: the input's (the TFLite ops read theirs from attributes) unless `outDtype` says
      const odt = outDtype ? outDtype(types, attrs) : dt;
      if (!odt) return decline('an output type the tables do not hold');
      const outTypes: ValueType[] = [{ dtype: odt, shape: [256] }];
      const table = def.reference({ node, attrs, inputs: [allCodes(dt), ...extra], outputTypes: outTypes })[0]!;
      const ot = table.type;
      if (ot !== 'int8' && ot !== 'uint8' && ot !== 'float32') return decline(`output is ${ot}: the tables are 8-bit or float32`);
      const esz = ot === 'float32' ? 4 : 1;
      const tp = mem.alloc(256 * esz, `${op} table`);
      const put = () => new Uint8Array(mem.buffer, tp, 256 * esz).set(new Uint8Array((table.data as ArrayBufferView).buffer, (table.data as ArrayBufferView).byteOffset, 256 * esz));
      put();
      return {
        name: esz === 1 ? 'x8_lut' : 'x8_lut_f32',
        fuseClampQ:
          esz === 1
            ? (l, h) => {
                const [lo, hi] = [Math.ceil(l), Math.floor(h)];
                if (lo > hi) return false;
                const d = table.data as Int8Array | Uint8Array;
                for (let i = 0; i < 256; i++) d[i] = Math.min(hi, Math.max(lo, d[i]!));
                put();
                return true;
              }
            : undefined,
        run([xt], [o]) {
          const n = xt!.size;
          const xin = mem.inputBytes(xt!.data as Int8Array, `${op} input`);
          try {
            const y = mem.alloc(n * esz, `${op} output`);
            (esz === 1 ? ex.x8_lut : ex.x8_lut_f32)(xin.ptr, n, tp, y);
            return [outAt(mem, ot, y, n, o!)];
          } finally {
            if (xin.copied) mem.release(xin.ptr);
          }
        },
        // the table (with any clamp fused at plan time) stays where it is; the call reads codes from the input block
        bind({ ins: [xp], outs: [yp], outTypes: [o] }) {
          const n = (o?.shape as number[] | undefined)?.reduce((a, d) => a * d, 1);
          if (n === undefined || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
          const f = esz === 1 ? ex.x8_lut : ex.x8_lut_f32;
          return () => f(xp, n, tp, yp);
        },
        dispose() {
          mem.release(tp);
        },
      };
    },
  };
}

for (const op of ['LOGISTIC', 'TANH', 'HARD_SWISH', 'RELU', 'RELU6', 'RELU_N1_TO_1', 'QUANTIZE', 'DEQUANTIZE']) registerKernel(tflLutKernel(op, TFL_DOMAIN, 1));
registerKernel(tflLutKernel('Clip', '', 3));

const ESZ: Record<string, number> = { int8: 1, uint8: 1, int16: 2, int32: 4 };

/**
 * TFLite QUANTIZE (quantize.cc), bit-identical to the reference: float32 → int8 / uint8 is AffineQuantize
 * ("static_cast<int32>(TfLiteRound(val / scale)) + zero_point" clamped; asm tfl_quantize_f32_x8, f32 division, halves
 * away from zero); integer → integer is Requantize ("MultiplyByQuantizedMultiplier(input − input_zeropoint,
 * multiplier, shift) + output_zeropoint" with the multiplier of input_scale / output_scale; asm tfl_requantize) — the
 * 16x8 models' int16 ↔ int8 / int32 steps. 8-bit → 8-bit takes the table kernel above first.
 */
const tflQuantizeWasm: KernelDef = {
  op: 'QUANTIZE',
  domain: TFL_DOMAIN,
  backend: 'wasm',
  layouts: true,
  prepare(_node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    const ot = attrs.output_type as DType;
    const it = types[0]?.dtype ?? 'unknown';
    const scale = (attrs.out_scale as number[])[0]!;
    const zp = (attrs.out_zero_point as number[])[0] ?? 0;
    const [lo, hi] = qbounds(ot);
    const oesz = ESZ[ot]!;
    const iesz = ESZ[it];
    if (it !== 'float32' && !iesz) return decline(`${it} → ${ot}`);
    if (it === 'float32' && oesz !== 1) return decline(`float32 → ${ot} (the kernel quantizes to int8 / uint8)`);
    const [mult, shift] = iesz ? quantizeMultiplier((attrs.in_scale as number[])[0]! / scale) : [0, 0];
    const izp = (attrs.in_zero_point as number[])[0] ?? 0;
    const quantizeAt = (xp: number, n: number, y: number) => {
      if (iesz) ex.tfl_requantize(xp, iesz, it === 'uint8' ? 0 : 1, n, izp, mult, shift, zp, lo, hi, oesz, y);
      else ex.tfl_quantize_f32_x8(xp, n, scale, zp, lo, hi, y);
    };
    return {
      name: iesz ? 'tfl_requantize' : 'tfl_quantize_f32_x8',
      run([xt], [o]) {
        const n = xt!.size;
        const xin = mem.inputBytes(xt!.data as ArrayBufferView, 'QUANTIZE input');
        try {
          const y = mem.alloc(n * oesz, 'QUANTIZE output');
          quantizeAt(xin.ptr, n, y);
          return [outAt(mem, ot, y, n, o!)];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      bind({ ins: [xp], outs: [yp], outTypes: [o] }) {
        const n = (o?.shape as number[] | undefined)?.reduce((a, d) => a * d, 1);
        if (n === undefined || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
        return () => quantizeAt(xp, n, yp);
      },
    };
  },
};

registerKernel(tflQuantizeWasm);

/**
 * TFLite SOFTMAX on int8 / uint8 input (int8 / uint8 / int16 output): reference_ops::Softmax's gemmlowp fixed point
 * (the TS reference, src/tensor/tflite-quant.ts softmaxQuantRow). exp_on_negative_values of the scaled difference
 * depends only on max − x (0…255), so its 256 values and their Rescale<12> are tabulated here with the reference's
 * own functions; asm tfl_softmax_x8 does the per-row max, sum, GetReciprocal and the final RoundingDivideByPOT.
 */
const tflSoftmaxWasm: KernelDef = {
  op: 'SOFTMAX',
  domain: TFL_DOMAIN,
  backend: 'wasm',
  layouts: true,
  prepare(_node, attrs, types) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    const dt = types[0]?.dtype;
    const inScale = (attrs.in_scale as number[])[0];
    const outScale = (attrs.out_scale as number[])[0];
    if ((dt !== 'int8' && dt !== 'uint8') || !inScale || !outScale) return decline(`input is ${dt ?? 'of unknown type'}: the kernel is quantized int8 / uint8`);
    const ot = ((attrs.output_type as string) || dt) as 'int8' | 'uint8' | 'int16';
    if (ot !== 'int8' && ot !== 'uint8' && ot !== 'int16') return decline(`output ${ot}`);
    const p = softmaxParams(attrs.beta as number, inScale);
    const expt = new Int32Array(256);
    const sumt = new Int32Array(256);
    for (let k = 0; k < 256; k++) {
      const d = -k;
      if (d < p.diffMin) continue; // below diff_min: no exp term, output out_min (the row loop's else branch)
      const e = expOnNegativeValues(saturatingRoundingDoublingHighMul(Math.imul(d, 2 ** p.leftShift), p.multiplier), 5);
      expt[k] = e;
      sumt[k] = saturatingRoundingMultiplyByPOT(e, -12);
    }
    const tp = mem.alloc(256 * 8, 'softmax exp tables');
    new Int32Array(mem.buffer, tp, 256).set(expt);
    new Int32Array(mem.buffer, tp + 1024, 256).set(sumt);
    const [lo, hi] = qbounds(ot);
    const bits = ot === 'int16' ? 16 : 8;
    const oesz = ot === 'int16' ? 2 : 1;
    return {
      name: 'tfl_softmax_x8',
      run([xt], [o]) {
        const n = xt!.size;
        const depth = xt!.dims.at(-1) ?? 1;
        const rows = depth ? n / depth : 0;
        const xin = mem.inputBytes(xt!.data as Int8Array, 'SOFTMAX input');
        try {
          const y = mem.alloc(n * oesz, 'SOFTMAX output');
          ex.tfl_softmax_x8(xin.ptr, dt === 'int8' ? 1 : 0, rows, depth, tp, tp + 1024, bits, lo, hi, oesz, y);
          return [outAt(mem, ot, y, n, o!)];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      bind({ ins: [xp], inTypes: [xt], outs: [yp] }) {
        const dims = xt!.shape as number[];
        const n = dims.reduce((a, d) => a * d, 1);
        const depth = dims.at(-1) ?? 1;
        const rows = depth ? n / depth : 0;
        if (xp! < 0 || yp! < 0) return undefined;
        return () => ex.tfl_softmax_x8(xp!, dt === 'int8' ? 1 : 0, rows, depth, tp, tp + 1024, bits, lo, hi, oesz, yp!);
      },
      dispose() {
        mem.release(tp);
      },
    };
  },
};

registerKernel(tflSoftmaxWasm);

/**
 * TFLite MEAN of int8 / int16 over H and W with keep_dims (the global average pool of quantized CNNs): asm tfl_mean_hw
 * with reference_integer_ops::Mean's integer steps (src/ops/tflite.ts MEAN), bit-identical. Other axes and uint8 stay
 * on the reference.
 */
const tflMeanWasm: KernelDef = {
  op: 'MEAN',
  domain: TFL_DOMAIN,
  backend: 'wasm',
  layouts: true,
  prepare(_node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    const x = types[0];
    const ax = constant(1);
    const shape = x?.shape;
    if (!x || !ax || !shape || shape.length !== 4 || !shape.every((d) => typeof d === 'number')) return decline('needs a 4-D input of known shape and constant axes');
    const axes = new Set(ax.toNumbers().map((a) => (a < 0 ? a + 4 : a)));
    if (!tflMeanHW({ type: x.dtype, dims: shape as number[] }, axes, attrs)) return decline('not int8 / int16 over axes 1 and 2 with keep_dims (reference_integer_ops::Mean)');
    const [mult, shift] = quantizeMultiplier((attrs.in_scale as number[])[0]! / (attrs.out_scale as number[])[0]!);
    const izp = (attrs.in_zero_point as number[])[0] ?? 0;
    const ozp = (attrs.out_zero_point as number[])[0] ?? 0;
    const esz = x.dtype === 'int8' ? 1 : 2;
    const [lo, hi] = qbounds(x.dtype);
    return {
      name: 'tfl_mean_hw',
      run([xt], [o]) {
        const [n, h, w, c] = xt!.dims as [number, number, number, number];
        const xin = mem.inputBytes(xt!.data as ArrayBufferView, 'MEAN input');
        const acc = mem.alloc(c * 4, 'MEAN sums');
        try {
          const y = mem.alloc(n * c * esz, 'MEAN output');
          ex.tfl_mean_hw(xin.ptr, esz, n, h * w, c, izp, mult, shift, ozp, lo, hi, acc, y);
          return [outAt(mem, x.dtype, y, n * c, o!)];
        } finally {
          mem.release(acc);
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      bind({ ins: [xp], inTypes: [xt], outs: [yp], scratch }) {
        const dims = xt?.shape as number[] | undefined;
        if (!dims || dims.length !== 4 || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
        const [n, h, w, c] = dims as [number, number, number, number];
        const acc = scratch(c * 4, 'MEAN sums');
        return () => ex.tfl_mean_hw(xp, esz, n, h * w, c, izp, mult, shift, ozp, lo, hi, acc, yp);
      },
    };
  },
};

registerKernel(tflMeanWasm);

/**
 * TFLite integer SVDF (int8 input / weights_feature / output, int8 or int16 weights_time and state): asm tfl_svdf_i8
 * with the reference's integer steps (src/ops/tflite.ts SVDF: svdf.cc's effective_scale_1 / effective_scale_2 and
 * MultiplyByQuantizedMultiplier), bit-identical; the state starts from its initial value each run, as in the
 * reference. Weights and bias must be constant.
 */
const tflSvdfWasm: KernelDef = {
  op: 'SVDF',
  domain: TFL_DOMAIN,
  backend: 'wasm',
  layouts: true,
  prepare(node, attrs, types, constant) {
    const mem = arena();
    const ex = kernels();
    if (!mem || !ex) return decline('no WASM memory');
    const [wf, wt] = [constant(1), constant(2)];
    const bias = node.inputs[3] ? constant(3) : undefined;
    if (types[0]?.dtype !== 'int8' || !wf || wf.type !== 'int8' || !wt || (wt.type !== 'int8' && wt.type !== 'int16')) return decline('needs int8 input and constant int8 weights_feature, int8 / int16 weights_time (integer SVDF)');
    if (node.inputs[3] && (!bias || bias.type !== 'int32')) return decline('bias is not a constant int32');
    const st = types[4]?.dtype;
    if (st !== 'int8' && st !== 'int16') return decline(`state is ${st}`);
    const q = (k: string, i: number) => (attrs[k] as number[])[i]!;
    const [F, I] = wf.dims as [number, number];
    const M = wt.dims[1]!;
    const R = attrs.rank as number;
    const U = F / R;
    // the reference's multipliers: "effective_scale_1 = input_scale * weights_feature_scale / state_scale",
    // "effective_scale_2 = state_scale * weights_time_scale / output_scale" (float products)
    const [m1, s1] = quantizeMultiplier(Math.fround(Math.fround(q('in_scale', 0) * q('in_scale', 1)) / q('in_scale', 4)));
    const [m2, s2] = quantizeMultiplier(Math.fround(Math.fround(q('in_scale', 4) * q('in_scale', 2)) / q('out_scale', 0)));
    const [slo, shi] = qbounds(st);
    const tesz = wt.type === 'int8' ? 1 : 2;
    const sesz = st === 'int8' ? 1 : 2;
    const wb = (F * I + 15) & ~15;
    const tb = (F * M * tesz + 15) & ~15;
    const p = mem.alloc(wb + tb + U * 4, 'SVDF weights');
    const buf = mem.buffer;
    new Int8Array(buf, p, F * I).set(wf.data as Int8Array);
    new Uint8Array(buf, p + wb, F * M * tesz).set(new Uint8Array((wt.data as Int8Array).buffer, (wt.data as Int8Array).byteOffset, F * M * tesz));
    if (bias) new Int32Array(buf, p + wb + tb, U).set((bias.data as Int32Array).subarray(0, U));
    const izp = q('in_zero_point', 0) ?? 0;
    const szp = (attrs.in_zero_point as number[])[4] ?? 0;
    const ozp = (attrs.out_zero_point as number[])[0] ?? 0;
    const svdfAt = (xp: number, B: number, sp: number, st: number, y: number) =>
      ex.tfl_svdf_i8(xp, B, I, izp, p, F, M, p + wb, tesz, sp, sesz, szp, m1, s1, slo, shi, bias ? p + wb + tb : 0, R, m2, s2, ozp, -128, 127, st, y);
    return {
      name: 'tfl_svdf_i8',
      run(inputs, [o]) {
        const [x, , , , state] = inputs as Tensor[];
        const B = x!.dims[0]!;
        if (state!.size !== B * F * M) return undefined; // the shape rule checks it when the dims are known
        // both inputs pinned before any allocation (a memory.grow detaches views of resident inputs)
        const sres = mem.ptrOf(state!);
        const xin = mem.inputBytes(x!.data as Int8Array, 'SVDF input');
        const sin = sres !== undefined ? { ptr: sres, copied: false } : mem.inputBytes(state!.data as ArrayBufferView, 'SVDF state');
        const scratch = mem.alloc(B * F * M * 4, 'SVDF state scratch');
        try {
          const y = mem.alloc(B * U, 'SVDF output');
          svdfAt(xin.ptr, B, sin.ptr, scratch, y);
          return [outAt(mem, 'int8', y, B * U, o!)];
        } finally {
          mem.release(scratch);
          if (sin.copied) mem.release(sin.ptr);
          if (xin.copied) mem.release(xin.ptr);
        }
      },
      // static plan: the state (read only: the kernel shifts it into its scratch) from its block, or its initial value
      // (a variable tensor's constant) copied into plan scratch once
      bind({ ins: [xp, , , , sp], consts, inTypes: [xt], outs: [yp], scratch }) {
        const B = (xt?.shape as number[] | undefined)?.[0];
        const sc = consts[4];
        if (B === undefined || xp === undefined || yp === undefined || xp < 0 || yp < 0) return undefined;
        const state = sp !== undefined && sp >= 0 ? sp : sc && sc.size === B * F * M ? bindConstant(scratch, sc.data as ArrayBufferView, 'SVDF state') : -1;
        if (state < 0) return undefined;
        const st = scratch(B * F * M * 4, 'SVDF state scratch');
        return () => svdfAt(xp, B, state, st, yp);
      },
      dispose() {
        mem.release(p);
      },
    };
  },
};

registerKernel(tflSvdfWasm);

// the int8 math builtins that are per-code functions (src/ops/tflite-qmath.ts) run on the same table kernel
for (const op of ['GELU', 'ELU', 'ABS']) registerKernel(tflLutKernel(op, TFL_DOMAIN, 1));
