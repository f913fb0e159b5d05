import { KV_DOMAIN } from '../ir/passes/kv-append.js';
import { Tensor } from '../tensor/tensor.js';
import { Epilogue } from './epilogue.js';
import { runBatchedMatMul } from './gemm.js';
import { type KernelDef, decline, registerKernel } from './registry.js';
import { arena } from './wasm.js';

/**
 * The KV cache ops (ops/kv-cache.ts) on kernel memory. KvAppend writes the new rows into the cache block in place
 * when the cache is already in kernel memory (generate() feeds its capacity blocks as views): the past is never
 * copied, and its output is the same block (the executor counts it as an alias of the input). KvMatMul is the batched
 * MatMul (f32_bmm's packing + GEMM/GEMV) over the first `len` rows of every head of the cache, read with the head stride
 * of the whole block.
 */
const appendWasm: KernelDef = {
  op: 'KvAppend',
  domain: KV_DOMAIN,
  backend: 'wasm',
  prepare() {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    return {
      name: 'kv_append',
      run([c, x, p]) {
        // a cache outside kernel memory would need its copy: the reference makes it
        if (mem.ptrOf(c!) === undefined) return undefined;
        const [b, h, cap, d] = c!.dims as [number, number, number, number];
        const s = x!.dims[2]!;
        const pos = Number((p!.data as BigInt64Array)[0]);
        const y = c!.data as Float32Array;
        const xs = x!.data as Float32Array;
        for (let bh = 0; bh < b * h; bh++) y.set(xs.subarray(bh * s * d, (bh + 1) * s * d), (bh * cap + pos) * d);
        return [new Tensor('float32', y, c!.dims)];
      },
    };
  },
};

const matmulWasm: KernelDef = {
  op: 'KvMatMul',
  domain: KV_DOMAIN,
  backend: 'wasm',
  prepare(_node, attrs) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    const bT = !!attrs.transB;
    const epi = new Epilogue();
    return {
      name: 'kv_bmm',
      fuseClamp: epi.fuseClamp,
      fusePost: epi.fusePost,
      run([a, c, l], [out]) {
        const shape = out!.shape as number[];
        const len = Number((l!.data as BigInt64Array)[0]);
        const y = runBatchedMatMul(mem, a!, c!, bT, shape, epi.lo, epi.hi, len);
        epi.apply(y);
        return [new Tensor('float32', y, shape)];
      },
    };
  },
};

registerKernel(appendWasm);
registerKernel(matmulWasm);
