// TFLite int8 kernels with TFLite's integer requantization: CONV_2D / DEPTHWISE_CONV_2D and FULLY_CONNECTED.
import { Tensor } from '../tensor/tensor.js';
import { perChannelMultipliers, qbounds } from '../tensor/tflite-quant.js';
import { PackedQGemm, bytesIn, prepareConv, scalarInt } from './qlinear.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

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
    if (!mem || !ex || attrs.rounding !== 'tflite' || attrs.data_layout !== 'NHWC') return decline('needs WASM and a TFLite NHWC conv (rounding tflite)');
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
    } else return decline('weight layout is neither OHWI nor 1HWO');
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
        const [n, h, wi, c] = xt.dims as [number, number, number, number];
        const out = ot!.shape as number[];
        const [, oh, ow] = out as [number, number, number, number];
        // a resident input (the previous kernel's output) is read in place: only pointers survive a memory.grow
        const xin = bytesIn(mem, xt.data as Int8Array, 'tflite conv input');
        let xp = 0;
        let ap = 0; // the accumulators' pointer, taken at once: a later alloc may grow memory and detach their view
        try {
          xp = mem.alloc(xt.size, 'tflite conv input NCHW');
          ex.x8_nhwc_to_nchw(xin.ptr, n, h * wi, c, xp);
          const xn = new Tensor('int8', new Int8Array(mem.memory.buffer, xp, xt.size), [n, c, h, wi]);
          ap = (inner.run([xn, undefined, inputs[2], undefined], [{ dtype: 'int32', shape: [n, m, oh!, ow!] }])![0]!.data as Int32Array).byteOffset;
          const op = mem.alloc(n * m * oh! * ow!, 'tflite conv output');
          ex.tfl_requant_i8_nhwc(ap, n, m, oh! * ow!, mp, mp + m * 4, scalarInt(inputs[7]), clamp.lo, clamp.hi, op);
          return [new Tensor('int8', new Int8Array(mem.memory.buffer, op, n * m * oh! * ow!), out)];
        } finally {
          if (ap) mem.release(ap);
          if (xp) mem.release(xp);
          if (xin.copied) mem.release(xin.ptr);
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
