import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena, kernels } from './wasm.js';

/**
 * ReduceSum / ReduceMean / ReduceMax / ReduceMin on float32 over one contiguous run of axes (constant `axes`, or all
 * axes): the input is viewed as [outer, r, inner] and asm/f32_norm.ts f32_reduce_sum sums the middle axis (times 1/r
 * for the mean), f32_reduce_max takes its max / min.
 * Mean pooling over a sequence (a sentence embedding's ReduceSum / ReduceMean over tokens), ReduceMean over the
 * last axis (hand-written norms) and the global reductions all have that form; axes with gaps run on the reference.
 */
function reduceKernel(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin'): KernelDef {
  return {
    op,
    backend: 'wasm',
    prepare(node, attrs, types, constant) {
      const mem = arena();
      const ex = kernels();
      if (!mem || !ex) return decline('no WASM memory');
      const x = types[0];
      if (x?.dtype !== 'float32') return decline(`input is ${x?.dtype ?? 'of unknown type'}, not float32`);
      let axes0: number[] | undefined;
      if (node.inputs[1]) {
        const a = constant(1);
        if (!a) return decline('axes is not a constant');
        axes0 = a.toNumbers();
      }
      if (!axes0?.length && attrs.noop_with_empty_axes) return decline('noop_with_empty_axes: nothing to reduce');
      /** the reduced run [a0, a1] of a rank-`rank` input, or why the kernel does not take it */
      const runOf = (rank: number): [number, number] | string => {
        const axes = axes0?.length ? axes0.map((v) => (v < 0 ? v + rank : v)) : Array.from({ length: rank }, (_, i) => i);
        axes.sort((a, b) => a - b);
        if (axes.some((a, i) => i > 0 && a !== axes[i - 1]! + 1)) return `axes [${axes}] are not one contiguous run`;
        return [axes[0] ?? 0, axes[axes.length - 1] ?? -1];
      };
      // rank unknown at plan time (a control-flow body's value): the run is found from the first input's rank
      const rank = x.shape?.length;
      const fixed = rank === undefined ? undefined : runOf(rank);
      if (typeof fixed === 'string') return decline(fixed);
      let last: { rank: number; run: [number, number] | string } | undefined;
      /** x viewed as [outer, r, inner] around the reduced run [a0, a1] */
      const split = (dims: readonly number[], [a0, a1]: [number, number]): [number, number, number] => {
        let outer = 1;
        let r = 1;
        let inner = 1;
        dims.forEach((d, i) => {
          if (i < a0) outer *= d;
          else if (i <= a1) r *= d;
          else inner *= d;
        });
        return [outer, r, inner];
      };
      const reduceAt = (xp: number, outer: number, r: number, inner: number, yp: number) => {
        const n = outer * inner;
        if (!n) return;
        if (op === 'ReduceMax' || op === 'ReduceMin') ex.f32_reduce_max(xp, outer, r, inner, yp, op === 'ReduceMin' ? 1 : 0);
        else if (r) ex.f32_reduce_sum(xp, outer, r, inner, yp, op === 'ReduceMean' ? 1 / r : 1);
        else mem.f32(yp, n).fill(0);
      };
      return {
        name: op === 'ReduceSum' ? 'f32_reduce_sum' : op === 'ReduceMean' ? 'f32_reduce_mean' : 'f32_reduce_max',
        run([t], [outType]) {
          const dims = t!.dims;
          let ar = fixed;
          if (!ar) {
            if (last?.rank !== dims.length) last = { rank: dims.length, run: runOf(dims.length) };
            if (typeof last.run === 'string') return undefined; // gaps in the axes: the reference
            ar = last.run;
          }
          const [outer, r, inner] = split(dims, ar);
          const n = outer * inner;
          const shape = outType!.shape as number[];
          // ReduceMean of an empty axis is 0/0 in the reference: leave that to it
          // (and ReduceMax / ReduceMin of an empty set: ∓∞)
          if (!r && op !== 'ReduceSum') return undefined;
          const xin = mem.input(t!.data as Float32Array, `${op} input`);
          try {
            const yp = mem.alloc(n * 4, `${op} output`);
            reduceAt(xin.ptr, outer, r, inner, yp);
            return [new Tensor('float32', mem.f32(yp, n), shape)];
          } finally {
            if (xin.copied) mem.release(xin.ptr);
          }
        },
        bind({ ins: [xp], outs: [yp], inTypes: [xt] }) {
          const dims = xt?.shape as number[] | undefined;
          if (xp === undefined || yp === undefined || xp < 0 || yp < 0 || !dims || typeof fixed !== 'object') return undefined;
          const [outer, r, inner] = split(dims, fixed);
          if (!r && op !== 'ReduceSum') return undefined;
          return () => reduceAt(xp, outer, r, inner, yp);
        },
      };
    },
  };
}

registerKernel(reduceKernel('ReduceSum'));
registerKernel(reduceKernel('ReduceMean'));
// ONNX ReduceMax / ReduceMin: "Computes the max (min) of the input tensor's elements along the provided axes"
// (openWakeWord's melspectrogram front end: a ReduceMax for its dB floor)
registerKernel(reduceKernel('ReduceMax'));
registerKernel(reduceKernel('ReduceMin'));
