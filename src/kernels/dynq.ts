/**
 * The float glue of dynamic quantization (DynamicQuantizeLinear → MatMulInteger → Cast → Mul) as tight JS loops:
 * the generic references spent more time here than the integer GEMM. Results are bit-exact with the references
 * (src/ops/quant.ts DynamicQuantizeLinear, src/ops/elementwise.ts Cast).
 */
import { dynamicQuantParams } from '../ops/quant.js';
import { Tensor } from '../tensor/tensor.js';
import { type KernelDef, decline, registerKernel } from './registry.js';

/** y = saturate(round_half_even(fround(x / scale)) + zp) over float32 x; the caller handles scale 0. */
export function dynQuantU8(v: Float32Array, scale: number, zp: number, y: Uint8Array): void {
  for (let i = 0; i < v.length; i++) {
    const q = Math.fround(v[i]! / scale);
    let r = Math.round(q); // ties up: fix odd ties to even
    if (r - q === 0.5 && (r & 1) !== 0) r -= 1;
    const t = r + zp;
    y[i] = t < 0 ? 0 : t > 255 ? 255 : t;
  }
}

const dynamicQuantizeLinearJs: KernelDef = {
  op: 'DynamicQuantizeLinear',
  backend: 'wasm',
  prepare(_node, _attrs, types) {
    if (types[0]?.dtype !== 'float32') return decline(`x is ${types[0]?.dtype ?? 'of unknown type'}, not float32`);
    return {
      name: 'js_dynamic_quantize_u8',
      run([x]) {
        const v = x!.data as Float32Array;
        const { scale, zp } = dynamicQuantParams(v);
        if (!(scale > 0) || !Number.isFinite(scale)) return undefined; // all zeros / non-finite: the reference's rules
        const y = new Uint8Array(v.length);
        dynQuantU8(v, scale, zp, y);
        return [new Tensor('uint8', y, x!.dims), new Tensor('float32', Float32Array.of(scale), []), new Tensor('uint8', Uint8Array.of(zp), [])];
      },
    };
  },
};

/** Cast int32 → float32 (MatMulInteger's accumulator): exact rounding to the nearest float32, as the reference. */
const castI32F32: KernelDef = {
  op: 'Cast',
  backend: 'wasm',
  prepare(_node, attrs, types) {
    if (types[0]?.dtype !== 'int32' || attrs.to !== 1) return decline('only int32 → float32');
    return {
      name: 'js_cast_i32_f32',
      run([x]) {
        return [new Tensor('float32', Float32Array.from(x!.data as Int32Array), x!.dims)];
      },
    };
  },
};

registerKernel(dynamicQuantizeLinearJs);
registerKernel(castI32F32);
