import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, type Producer, decline, registerKernel } from './registry.js';
import { type ConvFusedEpilogue, type ConvResidual, attrs2d, convF32Shape, convStripBytes, dims2d, packConvStrips, runConvF32 } from './conv-run.js';
import { arena, kernels } from './wasm.js';
import { Epilogue, UNARY } from './epilogue.js';
import { ShapeError } from '../errors.js';
import { prepareWinograd } from './winograd.js';

/**
 * Conv 2-D (and 1-D as 2-D with H = 1), NCHW float32, constant weights, any group count, pads (asymmetric too),
 * auto_pad, strides, dilations.
 *  - depthwise (one input channel per group, one output per group): direct kernels f32_dwconv3x3 / f32_dwconv5x5
 *    (dilation 1, any row stride, column stride 1 or 2), f32_dwconv1x1 (1×1 stride 1 unpadded: a per-channel scale),
 *    f32_dwconv_plane (other kernel sizes: 1×k, k×1, 7×7 …, same strides), f32_dwconv2d otherwise (dilations);
 *  - otherwise per group out[M×P] = W[M×K] · cols[K×P] + bias, with cols written by f32_im2col_pack_8 straight
 *    into the GEMM's packed panels (1×1 stride-1 unpadded convs pack the input as is), so the result lands in
 *    NCHW without a transpose. Weights live in kernel memory for the session; activations (Relu, Clip) fuse
 *    into the clamp of either kernel.
 */
const convWasm: KernelDef = {
  op: 'Conv',
  backend: 'wasm',
  prepare(node, attrs0, types, constant, producer) {
    const w = constant(1);
    // spatial rank from the weight (the input's shape may be unknown: a control-flow body planned with open dims)
    const attrs = attrs2d(attrs0, (w?.dims.length ?? types[0]?.shape?.length ?? 4) - 2);
    if ((attrs.data_layout ?? 'NCHW') !== 'NCHW' || (attrs.weight_layout ?? 'OIHW') !== 'OIHW') return decline(`layout ${attrs.data_layout ?? 'NCHW'}/${attrs.weight_layout ?? 'OIHW'}`); // NHWC / OHWI: reference
    const b = node.inputs[2] ? constant(2) : undefined;
    const mem = arena();
    const ex = kernels();
    const x0 = types[0];
    // a 1-D conv (X [N, C, W], W [M, C/group, k]) runs as the 2-D one with H = 1 (attrs2d)
    const x = x0?.shape?.length === 3 ? { ...x0, shape: [x0.shape[0]!, x0.shape[1]!, 1, x0.shape[2]!] } : x0;
    if (!mem || !ex) return decline('no WASM memory');
    if (!w) return decline('W is not a constant');
    if (w.type !== 'float32' || x?.dtype !== 'float32') return decline(`X ${x?.dtype ?? 'unknown'} / W ${w.type}: the kernel is float32`);
    if ((w.dims.length !== 4 && w.dims.length !== 3) || (x.shape && x.shape.length !== 4) || (x0?.shape && x0.shape.length !== w.dims.length)) return decline(`only 1-D and 2-D convs (X rank ${x0?.shape?.length ?? 'unknown'}, W rank ${w.dims.length}); 3-D runs on the reference`);
    if (node.inputs[2] && (!b || b.type !== 'float32')) return decline('B is not a float32 constant');
    const shape = convF32Shape(dims2d(w.dims), attrs);
    if (!shape) return decline(`group ${attrs.group} does not divide ${w.dims[0]} output channels`);
    const { m, depthwise, dw3x3, dw5x5, dw1x1, dwPlane } = shape;
    const bp = mem.alloc(m * 4, 'conv bias');
    mem.f32(bp, m).set(b ? (b.data as Float32Array) : new Float32Array(m));
    const wino = prepareWinograd(mem, w.data as Float32Array, shape, attrs, x.shape); // 3×3 stride 1 where it wins
    // X = Transpose(NHWC → NCHW) of the value the direct conv reads (a TFLite model's first conv over its RGB input):
    // the kernel takes any element strides, so it reads the NHWC value in place and the Transpose is skipped
    const nhwcIn = shape.direct && !wino && x.shape?.length === 4 ? nhwcSource(producer?.(0)) : undefined;
    // the OIHW weights for the im2col path: packed now, unless Winograd takes every run (static H and W), in which
    // case they would only double the weight memory — then copied in on the first run that needs them, if any
    const staticHW = typeof x.shape?.[2] === 'number' && typeof x.shape?.[3] === 'number';
    // GEMM convs keep only the weights packed in 4-row strips (packConvStrips: the micro-kernel reads them from one
    // pointer), depthwise ones the OIHW weights their kernels read
    const packed = convStripBytes(shape);
    let wp = 0;
    const weights = (): number => {
      if (!wp) {
        const plain = mem.alloc(w.size * 4, 'conv weights');
        mem.f32(plain, w.size).set(w.data as Float32Array);
        if (!packed) return (wp = plain);
        try {
          wp = mem.alloc(packed, 'conv weights (4-row strips)');
          packConvStrips(ex, shape, plain, wp, bp);
        } finally {
          mem.release(plain);
        }
      }
      return wp;
    };
    if (!wino || !staticHW) weights();
    const epi = new Epilogue(true);
    // the epilogue's leading per-channel steps as ConvFusedEpilogue's table (built on the first run, once the plan
    // has folded every step in): 16 bytes per output channel, [slope, scale, bias, 0], ⌈m/4⌉·4 entries
    let stepTable: { ep: number; em: number; count: number; inner: number } | undefined;
    const channelSteps = (inner: number): { ep: number; em: number; count: number } | undefined => {
      if (stepTable?.inner === inner) return stepTable.em ? stepTable : undefined;
      if (stepTable?.ep) mem.release(stepTable.ep);
      const lead = epi.leadingChannelSteps(shape.m, inner);
      stepTable = { ep: 0, em: 0, count: lead?.count ?? 0, inner };
      if (!lead) return undefined;
      const rows = (shape.m + 3) & ~3;
      const ep = mem.alloc(rows * 16, 'conv channel steps');
      const t = mem.f32(ep, rows * 4).fill(0);
      const col = (ptr: number | undefined, j: number) => {
        if (ptr === undefined) return;
        const v = mem.f32(ptr, shape.m);
        for (let i = 0; i < shape.m; i++) t[i * 4 + j] = v[i]!;
      };
      col(lead.slopes, 0);
      col(lead.scale, 1);
      col(lead.bias, 2);
      stepTable = { ep, em: (lead.slopes !== undefined ? 1 : 0) | (lead.scale !== undefined ? 2 : 0), count: lead.count, inner };
      return stepTable;
    };
    // a residual Add folded in (fuseResidual): its input index; r is added over the output block before the clamp
    let residual = -1;
    let prefix = false;
    /** whether a residual of rSize floats fits an output of total: the whole output, or a prefix of it (a channel Pad's input) */
    const residualFits = (rSize: number, total: number) => (prefix ? rSize <= total : rSize === total);
    /**
     * The conv and its folded epilogue over kernel memory (run() and the static plan's bound call): X at xp (dims
     * xd), the output (total floats) at yp (undefined: a new block), a folded residual (rSize floats) at rp (−1:
     * none). A whole-output residual and the leading per-channel steps go into the store on one thread (fe), the
     * residual into the threads' chunks on more (res), the separate passes otherwise. Returns the output block.
     */
    const convAt = (xp: number, xd: number[], yp: number | undefined, total: number, rp: number, rSize: number, nhwc = false): number => {
      const [elo, ehi] = [epi.lo, epi.hi];
      // with a residual the conv stores unclamped; the add pass or the fused store clamps
      const [lo, hi] = rp >= 0 ? [-Infinity, Infinity] : [elo, ehi];
      // (a prefix residual runs as its own pass, before the clamp and the steps: nothing fused then)
      const whole = rp >= 0 && !prefix && rSize === total;
      const steps = channelSteps(total / shape.m / (xd[0] ?? 1));
      const fe: ConvFusedEpilogue | undefined = (whole || steps) && (rp < 0 || whole) ? { res: whole ? rp : undefined, ep: steps?.ep ?? 0, em: steps?.em ?? 0, lo: elo, hi: ehi } : undefined;
      const res: ConvResidual | undefined = whole ? { ptr: rp, lo: elo, hi: ehi } : undefined;
      const op = wino?.wins(xd) ? wino.run(mem, ex, attrs, xd, xp, bp, lo, hi, yp) : runConvF32(mem, ex, shape, attrs, xd, xp, packed ? 0 : weights(), bp, lo, hi, yp, packed ? weights() : 0, fe, res, nhwc);
      if (fe?.done) {
        epi.applyAt(op, total, fe.em ? steps!.count : 0);
        return op;
      }
      if (rp >= 0 && !res?.done) {
        // y = clamp(y + r): one pass over the block while it is still in cache; a prefix residual covers the first
        // rSize values, the rest is clamp(y)
        ex.f32_binary(0, op, 1, rp, 1, op, rSize, elo, ehi);
        if (rSize < total && (elo > -Infinity || ehi < Infinity)) ex.f32_unary(UNARY.clamp, op + rSize * 4, op + rSize * 4, total - rSize, elo, ehi);
      }
      epi.applyAt(op, total);
      return op;
    };
    return {
      name: wino ? 'f32_conv3x3_winograd_2x2' : shape.direct ? 'f32_conv2d_direct_4x8' : dw3x3 ? 'f32_dwconv3x3' : dw5x5 ? 'f32_dwconv5x5' : dw1x1 && !(attrs.pads as number[] | undefined)?.some((v) => v !== 0) ? 'f32_dwconv1x1' : dwPlane ? 'f32_dwconv_plane' : depthwise ? 'f32_dwconv2d' : 'f32_conv2d_gemm_4x8',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      fuseResidual: (pre, symbolic) => {
        // Conv → Add(·, r) (residual blocks: BlazeFace, MobileNetV2, ResNet): only while nothing else is folded in,
        // so that the add comes first and a later Relu/Clip or step still folds after it; static shapes only
        if (!epi.empty || symbolic) return false;
        residual = node.inputs.length;
        prefix = pre;
        return true;
      },
      writesInto: true,
      ...(nhwcIn !== undefined ? { readsInstead: (i: number) => (i === 0 ? nhwcIn : undefined) } : {}),
      run(ins, [outType], dst) {
        const xt = ins[0]!;
        const rt = residual >= 0 ? ins[residual] : undefined;
        // the residual's place in kernel memory, taken before anything here allocates (a grown memory detaches views)
        const rPtr = rt ? mem.ptrOf(rt) : undefined;
        // with the Transpose skipped, X arrives NHWC: the conv's dims are its NCHW ones
        const xd = nhwcIn !== undefined ? nchwOf(xt.dims) : dims2d(xt.dims);
        const out = outType!.shape as number[];
        const total = out.reduce((a, d) => a * d, 1);
        if (rt && !residualFits(rt.size, total)) throw new ShapeError(`node '${node.name}': residual of ${rt.size} values for an output of ${total}`);
        // a resident input (another kernel's output) is used in place; the output stays resident too
        // (the arena pads every block, so the stride-2 depthwise path may read one float past a row)
        const xin = mem.input(xt.data as Float32Array, 'conv input');
        const r = rt ? (rPtr !== undefined ? { ptr: rPtr, copied: false } : mem.input(rt.data as Float32Array, 'conv residual')) : undefined;
        try {
          const op = convAt(xin.ptr, xd, dst, total, r?.ptr ?? -1, rt?.size ?? 0, nhwcIn !== undefined);
          return [new Tensor('float32', mem.f32(op, total), out)];
        } finally {
          if (xin.copied) mem.release(xin.ptr);
          if (r?.copied) mem.release(r.ptr);
        }
      },
      // static plan: the run above on fixed places (input, residual, output blocks); runConvF32 takes its scratch per
      // call as run() does and frees it before returning (bit-identical: the same calls)
      bind({ ins, inTypes, outs: [yp], outTypes: [ot] }) {
        const xt = inTypes[0];
        const rp = residual >= 0 ? ins[residual]! : -1;
        if (ins[0]! < 0 || yp! < 0 || (residual >= 0 && rp < 0)) return undefined;
        const xd = nhwcIn !== undefined ? nchwOf(xt!.shape as number[]) : dims2d(xt!.shape as number[]);
        const total = (ot!.shape as number[]).reduce((a, d) => a * d, 1);
        const rSize = residual >= 0 ? (inTypes[residual]!.shape as number[]).reduce((a, d) => a * d, 1) : 0;
        if (rp >= 0 && !residualFits(rSize, total)) return undefined;
        return () => void convAt(ins[0]!, xd, yp!, total, rp, rSize, nhwcIn !== undefined);
      },
      dispose() {
        mem.release(bp);
        if (stepTable?.ep) mem.release(stepTable.ep);
        if (wp) mem.release(wp);
        wino?.dispose();
        epi.dispose();
      },
    };
  },
};

/** The NHWC value a Transpose with perm [0, 3, 1, 2] (NHWC → NCHW) makes X from, else undefined. */
function nhwcSource(p: Producer | undefined): string | undefined {
  const perm = p?.attrs.perm as number[] | undefined;
  if (!p || p.node.op !== 'Transpose' || p.node.domain !== '' || !perm || perm.join() !== '0,3,1,2') return undefined;
  return p.node.inputs[0] || undefined;
}

/** NCHW dims of an NHWC 4-D shape. */
const nchwOf = (d: readonly number[]): number[] => [d[0]!, d[3]!, d[1]!, d[2]!];

registerKernel(convWasm);
