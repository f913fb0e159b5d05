// TFLite int8 kernels with TFLite's integer requantization: CONV_2D / DEPTHWISE_CONV_2D and FULLY_CONNECTED.
import { Tensor } from '../tensor/tensor.js';
import { perChannelMultipliers, qbounds, tflAddParams, tflMulParams } from '../tensor/tflite-quant.js';
import { PackedQGemm, bytesIn, prepareConv, scalarInt } from './qlinear.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';
import { TFL_DOMAIN } from '../ir/layout.js';
import { tflPadding } from '../ops/tflite.js';

/**
 * TFLite's int8 CONV_2D / DEPTHWISE_CONV_2D (the importer's QLinearConv with data_layout NHWC, weight_layout
 * OHWI or 1HWO, rounding 'tflite'): the input is transposed to NCHW, the NCHW int8 conv kernel (prepareConv, int32
 * accumulators with the zero-point corrections and bias) computes acc, and asm/tfl_requant.ts requantizes it with
 * TFLite's MultiplyByQuantizedMultiplier while writing NHWC — bit-identical to the reference
 * (reference_integer_ops/conv.h, depthwise_conv.h; src/ops/quant.ts). int8 activations only (16x8 stays on the
 * reference); the filters are symmetric (zero point 0), which the op's shape rule enforces for rounding 'tflite'.
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
    const inner = prepareConv(ex, mem, { ...attrs, data_layout: 'NCHW', weight_layout: 'OIHW' }, 'int8', oihw, [0], b && (b.data as Int32Array), undefined);
    const { mult, shift } = perChannelMultipliers((xs.data as Float32Array)[0]!, ws.data as Float32Array, (ys.data as Float32Array)[0]!, m);
    const mp = mem.alloc(m * 8, 'tflite requant multipliers');
    new Int32Array(mem.memory.buffer, mp, m).set(mult);
    new Int32Array(mem.memory.buffer, mp + m * 4, m).set(shift);
    const clamp = new CodeClamp();
    return {
      name: 'qs8_conv2d_tflite',
      // the importer's fused activation (a Clip on the int8 output) clamps the codes in the requantization
      fuseClampQ: clamp.fuse,
      run(inputs, [ot]) {
        const xt = inputs[0]!;
        const [n, h, wi, c] = (nhwc ? xt.dims : [xt.dims[0], xt.dims[2], xt.dims[3], xt.dims[1]]) as [number, number, number, number];
        const out = ot!.shape as number[];
        const [oh, ow] = (nhwc ? out.slice(1, 3) : out.slice(2, 4)) as [number, number];
        // a resident input (the previous kernel's output) is read in place: only pointers survive a memory.grow
        const xin = nhwc ? bytesIn(mem, xt.data as Int8Array, 'tflite conv input') : undefined;
        let xp = 0;
        let ap = 0; // the accumulators' pointer, taken at once: a later alloc may grow memory and detach their view
        try {
          let xn = xt;
          if (nhwc) {
            xp = mem.alloc(xt.size, 'tflite conv input NCHW');
            ex.x8_nhwc_to_nchw(xin!.ptr, n, h * wi, c, xp);
            xn = new Tensor('int8', new Int8Array(mem.memory.buffer, xp, xt.size), [n, c, h, wi]);
          }
          ap = (inner.run([xn, undefined, inputs[2], undefined], [{ dtype: 'int32', shape: [n, m, oh, ow] }])![0]!.data as Int32Array).byteOffset;
          const op = mem.alloc(n * m * oh * ow, 'tflite conv output');
          (nhwc ? ex.tfl_requant_i8_nhwc : ex.tfl_requant_i8_nchw)(ap, n, m, oh * ow, mp, mp + m * 4, scalarInt(inputs[7]), clamp.lo, clamp.hi, op);
          return [new Tensor('int8', new Int8Array(mem.memory.buffer, op, n * m * oh * ow), out)];
        } finally {
          if (ap) mem.release(ap);
          if (xp) mem.release(xp);
          if (xin?.copied) mem.release(xin.ptr);
        }
      },
      dispose() {
        inner.dispose?.();
        mem.release(mp);
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
    // tiny layers stay on the reference: hello_world_int8 (1→16→16→1) ran 120 µs on this kernel against 88 µs on
    // the reference, while micro_speech's 4000×4 FC took it from 3.0 ms to 0.19 ms (with the conv kernel)
    if (k * n < 1024) return decline('layer too small (K\u00b7N < 1024): the reference is faster');
    const bd = b.data as Int8Array;
    const bt = new Int8Array(k * n);
    for (let j = 0; j < n; j++) for (let kk = 0; kk < k; kk++) bt[kk * n + j] = bd[j * k + kk]!;
    const g = new PackedQGemm(mem, k, n, new Tensor('int8', bt, [k, n]), Array.from(bz.data as Int8Array));
    const { mult, shift } = perChannelMultipliers((as.data as Float32Array)[0]!, bs.data as Float32Array, (ys.data as Float32Array)[0]!, n);
    const mp = mem.alloc(n * 8, 'tflite requant multipliers');
    new Int32Array(mem.memory.buffer, mp, n).set(mult);
    new Int32Array(mem.memory.buffer, mp + n * 4, n).set(shift);
    const bias = c ? (c.data as Int32Array) : undefined;
    const clamp = new CodeClamp();
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
          return [new Tensor('int8', new Int8Array(mem.memory.buffer, op, m * n), ot!.shape as number[])];
        } finally {
          mem.release(ap);
        }
      },
      dispose() {
        g.dispose();
        mem.release(mp);
      },
    };
  },
};

registerKernel(tfliteFcWasm);

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
    return {
      name: 'tfl_avgpool_nhwc',
      fuseClampQ: clamp.fuse,
      run([xt], [ot]) {
        const [n, h, w, c] = xt!.dims as [number, number, number, number];
        const ph = tflPadding(attrs.padding as string, h, attrs.filter_height as number, attrs.stride_h as number, 1);
        const pw = tflPadding(attrs.padding as string, w, attrs.filter_width as number, attrs.stride_w as number, 1);
        const d = xt!.data as Int8Array | Int16Array;
        const p = mem.ptrOf(xt!);
        let xp = p ?? 0;
        try {
          if (p === undefined) {
            xp = mem.alloc(d.byteLength, 'avgpool input');
            new Uint8Array(mem.memory.buffer, xp, d.byteLength).set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
          }
          const size = n * ph.out * pw.out * c;
          const op = mem.alloc(size * esz, 'avgpool output');
          ex.tfl_avgpool_nhwc(xp, esz, n, h, w, c, attrs.filter_height as number, attrs.filter_width as number, attrs.stride_h as number, attrs.stride_w as number, ph.pad, pw.pad, ph.out, pw.out, clamp.lo, clamp.hi, op);
          const y = esz === 1 ? new Int8Array(mem.memory.buffer, op, size) : new Int16Array(mem.memory.buffer, op, size);
          const t = new Tensor(xt!.type, y, ot!.shape as number[]);
          t.quant = ot!.quant;
          return [t];
        } finally {
          if (p === undefined && xp) mem.release(xp);
        }
      },
    };
  },
};

registerKernel(tflAvgPoolWasm);

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
      return {
        name: op === 'QLinearAdd' ? 'tfl_add_i8' : 'tfl_mul_i8',
        fuseClampQ: clamp.fuse,
        run([a, , , b], [ot]) {
          const n = (ot!.shape as number[]).reduce((x, d) => x * d, 1);
          // an operand of the output's size is the output's shape up to leading 1s (same element order)
          const sa = a!.size === 1 ? 0 : 1;
          const sb = b!.size === 1 ? 0 : 1;
          const pa = bytesIn(mem, a!.data as Int8Array, `${op} input A`);
          let pb: { ptr: number; copied: boolean } | undefined;
          try {
            pb = bytesIn(mem, b!.data as Int8Array, `${op} input B`);
            const y = mem.alloc(n, `${op} output`);
            if (p) ex.tfl_add_i8(pa.ptr, sa, pb.ptr, sb, n, az, bz, p.leftShift, p.m1, p.s1, p.m2, p.s2, p.mo, p.so, cz, clamp.lo, clamp.hi, 1, y);
            else ex.tfl_mul_i8(pa.ptr, sa, pb.ptr, sb, n, az, bz, mm, ms, cz, clamp.lo, clamp.hi, y);
            return [new Tensor('int8', new Int8Array(mem.memory.buffer, y, n), ot!.shape as number[])];
          } finally {
            if (pa.copied) mem.release(pa.ptr);
            if (pb?.copied) mem.release(pb.ptr);
          }
        },
      };
    },
  };
}

registerKernel(tflBinaryWasm('QLinearAdd'));
registerKernel(tflBinaryWasm('QLinearMul'));
