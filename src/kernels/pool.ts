import { Tensor } from '../tensor/tensor.js';
import { pool2dAt } from '../ir/conv-geometry.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';
import { attrs2d, dims2d } from './conv-run.js';
import { type KernelCall, chunksOf, forkCached, threadScratch, threadsFor } from './threads.js';

/**
 * MaxPool (without the Indices output) and AveragePool, 2-D NCHW float32, one channel at a time: separable
 * kernels at dilation 1 (f32_maxpool2d_sep, f32_avgpool2d_sep), f32_pool2d otherwise. Geometry (pads, ceil_mode, dilations) comes from pool2dAt, the convGeometry the ops' shape rules use.
 */
function poolKernel(op: 'MaxPool' | 'AveragePool'): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(node, attrs0, types) {
      // 1-D pooling (X [N, C, W]) runs as 2-D with H = 1 (attrs2d)
      const attrs = attrs2d(attrs0, (attrs0.kernel_shape as number[]).length);
      if ((attrs.data_layout ?? 'NCHW') !== 'NCHW') return decline(`data_layout ${attrs.data_layout}`); // NHWC: reference
      const mem = arena();
      const ex = kernels();
      const x = types[0];
      if (!mem || !ex) return decline('no WASM memory');
      if (x?.dtype !== 'float32') return decline(`input is ${x?.dtype ?? 'of unknown type'}, not float32`);
      if ((x.shape?.length !== 4 && x.shape?.length !== 3) || x.shape.length !== (attrs0.kernel_shape as number[]).length + 2) return decline(`only 1-D and 2-D pooling (input rank ${x.shape?.length ?? 'unknown'}); 3-D runs on the reference`);
      if (node.outputs.length > 1 && node.outputs[1] !== '') return decline('Indices output requested'); // reference
      const mode = op === 'MaxPool' ? 0 : attrs.count_include_pad ? 2 : 1;
      const [kh, kw] = attrs.kernel_shape as [number, number];
      const site = {}; // this node's fork, kept across runs (forkCached)
      /** run() at fixed places: X at xp ([n, c, ih, iw]), Y at yp */
      const bindPool = (xp: number, [n, c, ih, iw]: [number, number, number, number], yp: number): (() => void) => {
        const g = pool2dAt(ih, iw, kh, kw, attrs);
        const [oh, ow] = g.out as [number, number];
        const d1 = g.dilations[0] === 1 && g.dilations[1] === 1;
        const sep = mode === 0 && d1;
        const avgSep = mode !== 0 && d1;
        const planes = n * c;
        const tmpBytes = sep ? (iw + 4) * 4 : avgSep ? ex.f32_avgpool2d_sep_scratch(iw, kw, g.strides[1]!, g.padBegin[1]!, g.padEnd[1]!, ow) * 4 : 0;
        const kind = sep ? 1 : avgSep ? 2 : 0;
        const args = (i0: number, i1: number, tmp: number): Parameters<typeof ex.f32_pool2d_planes> => [kind, i1 - i0, mode, xp + i0 * ih * iw * 4, ih, iw, kh, kw, g.strides[0]!, g.strides[1]!, g.dilations[0]!, g.dilations[1]!, g.padBegin[0]!, g.padBegin[1]!, g.padEnd[0]!, g.padEnd[1]!, oh, ow, yp + i0 * oh * ow * 4, tmp];
        const bound = {}; // the bound call's fork, kept across runs like run()'s (forkCached)
        return () => {
          const nt = threadsFor(planes * oh * ow * kh * kw);
          const scr = tmpBytes ? threadScratch(mem, tmpBytes, nt, sep ? 'pool column maxima' : 'pool column sums') : undefined;
          try {
            if (nt > 1) {
              forkCached(ex, bound, [planes, ih, iw, xp, yp, scr?.ptr ?? 0, scr?.stride ?? 0], nt, () => {
                const cs = chunksOf(planes, 1, nt, oh * ow * kh * kw);
                return { chunks: cs.ranges.map(([i0, i1]): KernelCall[] => [['f32_pool2d_planes', args(i0, i1, scr?.ptr ?? 0), { mask: 1 << 19, stride: scr?.stride ?? 0 }]]), regions: cs.regions };
              });
            } else ex.f32_pool2d_planes(...args(0, planes, scr?.ptr ?? 0));
          } finally {
            if (scr) mem.release(scr.block);
          }
        };
      };
      return {
        name: op === 'MaxPool' ? 'f32_maxpool2d' : 'f32_avgpool2d',
        run([input], [outType]) {
          const xt = input!;
          const [n, c, ih, iw] = dims2d(xt.dims) as [number, number, number, number];
          const g = pool2dAt(ih, iw, kh, kw, attrs);
          const [oh, ow] = g.out as [number, number];
          const xin = mem.input(xt.data as Float32Array, 'pool input');
          const op2 = mem.alloc(n * c * oh * ow * 4, 'pool output');
          const d1 = g.dilations[0] === 1 && g.dilations[1] === 1;
          const sep = mode === 0 && d1;
          const avgSep = mode !== 0 && d1;
          const planes = n * c;
          // kernel threads: chunks of planes, the separable kernels' row scratch per thread
          const nt = threadsFor(planes * oh * ow * kh * kw);
          const tmpBytes = sep ? (iw + 4) * 4 : avgSep ? ex.f32_avgpool2d_sep_scratch(iw, kw, g.strides[1]!, g.padBegin[1]!, g.padEnd[1]!, ow) * 4 : 0;
          // the row scratch per thread, each on its own cache lines (threadScratch)
          const scr = tmpBytes ? threadScratch(mem, tmpBytes, nt, sep ? 'pool column maxima' : 'pool column sums') : undefined;
          const tmp = scr?.ptr ?? 0;
          // planes [i0, i1) in one call (asm f32_pool2d_planes: kind 1 max separable, 2 average separable, 0 any)
          const kind = sep ? 1 : avgSep ? 2 : 0;
          const args = (i0: number, i1: number): Parameters<typeof ex.f32_pool2d_planes> => [kind, i1 - i0, mode, xin.ptr + i0 * ih * iw * 4, ih, iw, kh, kw, g.strides[0]!, g.strides[1]!, g.dilations[0]!, g.dilations[1]!, g.padBegin[0]!, g.padBegin[1]!, g.padEnd[0]!, g.padEnd[1]!, oh, ow, op2 + i0 * oh * ow * 4, tmp];
          try {
            if (nt > 1) {
              // the row scratch (argument 19) per thread
              forkCached(ex, site, [planes, ih, iw, xin.ptr, op2, tmp, scr?.stride ?? 0], nt, () => {
                const cs = chunksOf(planes, 1, nt, oh * ow * kh * kw);
                return { chunks: cs.ranges.map(([i0, i1]): KernelCall[] => [['f32_pool2d_planes', args(i0, i1), { mask: 1 << 19, stride: scr?.stride ?? 0 }]]), regions: cs.regions };
              });
            } else ex.f32_pool2d_planes(...args(0, planes));
          } finally {
            if (scr) mem.release(scr.block);
          }
          if (xin.copied) mem.release(xin.ptr);
          return [new Tensor('float32', mem.f32(op2, n * c * oh * ow), outType!.shape as number[])];
        },
        // static plan: run()'s calls on fixed places, its row scratch taken per call and freed as there
        bind({ ins: [xp], inTypes: [xt], outs: [yp] }) {
          if (xp! < 0 || yp! < 0) return undefined;
          return bindPool(xp!, dims2d(xt!.shape as number[]) as [number, number, number, number], yp!);
        },
      };
    },
  };
}

registerKernel(poolKernel('MaxPool'));
registerKernel(poolKernel('AveragePool'));

/** GlobalAveragePool, float32, any rank ≥ 3 (N, C, spatial…): one SIMD sum per (n, c). */
const globalAvgWasm: KernelDef = {
  op: 'GlobalAveragePool',
  backend: 'wasm',
  prepare(_node, _attrs, types) {
    const mem = arena();
    const ex = kernels();
    const x = types[0];
    if (!mem || !ex) return decline('no WASM memory');
    if (x?.dtype !== 'float32' || (x.shape && x.shape.length < 3)) return decline(`needs float32 rank >= 3 (got ${x?.dtype} rank ${x?.shape?.length})`);
    return {
      name: 'f32_global_avgpool',
      run([input], [outType]) {
        const xt = input!;
        const count = xt.dims[0]! * xt.dims[1]!;
        const hw = count ? xt.size / count : 0;
        if (hw === 0) return undefined; // empty spatial dims: the reference defines the result
        const xin = mem.input(xt.data as Float32Array, 'pool input');
        const op = mem.alloc(count * 4, 'pool output');
        ex.f32_global_avgpool(xin.ptr, count, hw, op);
        if (xin.copied) mem.release(xin.ptr);
        return [new Tensor('float32', mem.f32(op, count), outType!.shape as number[])];
      },
      // static plan: the same call on fixed places
      bind({ ins: [xp], inTypes: [xt], outs: [yp] }) {
        const dims = xt!.shape as number[];
        const count = dims[0]! * dims[1]!;
        const hw = count ? dims.reduce((a, d) => a * d, 1) / count : 0;
        if (xp! < 0 || yp! < 0 || hw === 0) return undefined;
        return () => ex.f32_global_avgpool(xp!, count, hw, yp!);
      },
    };
  },
};

registerKernel(globalAvgWasm);
