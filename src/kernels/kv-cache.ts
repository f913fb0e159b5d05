import { KV_DOMAIN } from '../ir/passes/kv-append.js';
import { appendRows } from '../ops/kv-cache.js';
import { Tensor } from '../tensor/tensor.js';
import { Epilogue } from './epilogue.js';
import { pinInputs, runBatchedMatMul } from './gemm.js';
import { attendStrided } from './attend.js';
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
        return [appendRows(c!, x!, p!, c!.data as Float32Array)];
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

/**
 * KvAttention (the attention chain of a generate() step, fused by the plan) on the fused attention kernel: Q's rows
 * against the first `length` rows of every head read in place from the cache blocks (head stride C·D), no score tensor,
 * no copy of the caches when they are in kernel memory (generate() feeds them so). A mask must have rows of `length`
 * floats (or be one value per row when length is 1); a mask broadcast over keys runs the reference.
 */
const attentionWasm: KernelDef = {
  op: 'KvAttention',
  domain: KV_DOMAIN,
  backend: 'wasm',
  prepare(_node, attrs) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    const scale = attrs.scale as number;
    return {
      name: 'kv_attention',
      run([q, k, v, l, mask], [out]) {
        const [B, H, S, hd] = q!.dims as [number, number, number, number];
        const cap = k!.dims[2]!;
        const vd = v!.dims[3]!;
        const T = Number((l!.data as BigInt64Array)[0]);
        // mask strides (floats) over (b, h, i), right-aligned to [B, H, S, T]; broadcast dims read with stride 0
        let mst: number[] | undefined;
        if (mask) {
          const md = [...new Array<number>(4 - mask.dims.length).fill(1), ...mask.dims];
          if (md[3] !== T && T > 1) return undefined;
          mst = [0, 0, 0];
          for (let a = 2, st = md[3]!; a >= 0; st *= md[a]!, a--) mst[a] = md[a] === 1 ? 0 : st;
        }
        const ins = [q!.data as Float32Array, k!.data as Float32Array, v!.data as Float32Array, ...(mask ? [mask.data as Float32Array] : [])];
        const { ptrs, copied } = pinInputs(mem, ins, 'kv attention input');
        try {
          const yp = mem.alloc(B * H * S * vd * 4, 'kv attention output');
          const y = mem.f32(yp, B * H * S * vd);
          if (T === 0) y.fill(0);
          else
            attendStrided(mem, {
              B, N: H, Nkv: H, S, T, hd, vd, scale, nanEmpty: true,
              q: { ptr: ptrs[0]!, sb: H * S * hd, sh: S * hd, si: hd },
              k: { ptr: ptrs[1]!, sb: H * cap * hd, sh: cap * hd, si: hd },
              v: { ptr: ptrs[2]!, sb: H * cap * vd, sh: cap * vd, si: vd },
              o: { ptr: yp, sb: H * S * vd, sh: S * vd, si: vd },
              mask: mst && { ptr: ptrs[3]!, sb: mst[0]!, sh: mst[1]!, si: mst[2]! },
            });
          return [new Tensor('float32', mem.f32(yp, B * H * S * vd), [B, H, S, vd])];
        } finally {
          for (const p of copied) mem.release(p);
        }
      },
    };
  },
};

/**
 * KvAppendAttention (a generate() step's attention block, fused by the plan: ops/kv-cache.ts) on the caches in place:
 * the new heads are written straight from the q/k/v projection rows into rows [position, position + S) of every head
 * of the cache blocks (no head Transposes, no KvAppend of its own), then the fused attention kernel reads Q out of the
 * q rows and the first `length` rows of every head of K and V in place, writing Y in the head-merge layout. Caches
 * outside kernel memory: the reference (a copy; generate() refuses a step that did not append in place).
 */
const appendAttentionWasm: KernelDef = {
  op: 'KvAppendAttention',
  domain: KV_DOMAIN,
  backend: 'wasm',
  prepare(_node, attrs) {
    const mem = arena();
    if (!mem) return decline('no WASM memory');
    const H: number = attrs.heads;
    const [oq, ok, ov] = attrs.offsets as [number, number, number];
    const scale: number = attrs.scale;
    return {
      name: 'kv_append_attention',
      run([q, k, v, ck, cv, p, l, mask]) {
        // caches and rows by pointer, taken before anything here allocates (a grown memory detaches views)
        const cp = [mem.ptrOf(ck!), mem.ptrOf(cv!)];
        if (cp[0] === undefined || cp[1] === undefined) return undefined; // a cache outside kernel memory: its copy is the reference's
        const [B, S, wq] = q!.dims as [number, number, number];
        const wk = k!.dims[2]!;
        const wv = v!.dims[2]!;
        const [, , C, hd] = ck!.dims as [number, number, number, number];
        const vd = cv!.dims[3]!;
        const pos = Number((p!.data as BigInt64Array)[0]);
        const T = Number((l!.data as BigInt64Array)[0]);
        let mst: number[] | undefined;
        if (mask) {
          const md = [...new Array<number>(4 - mask.dims.length).fill(1), ...mask.dims];
          if (md[3] !== T && T > 1) return undefined; // a mask broadcast over keys: the reference
          mst = [0, 0, 0];
          for (let a = 2, st = md[3]!; a >= 0; st *= md[a]!, a--) mst[a] = md[a] === 1 ? 0 : st;
        }
        const ins = [q!.data as Float32Array, k!.data as Float32Array, v!.data as Float32Array, ...(mask ? [mask.data as Float32Array] : [])];
        const { ptrs, copied } = pinInputs(mem, ins, 'kv attention input');
        let yp = -1;
        try {
          yp = mem.alloc(B * S * H * vd * 4, 'kv attention output');
          const write = (c: number, src: number, w: number, o: number, d: number) => {
            const y = mem.f32(c, B * H * C * d);
            const x = mem.f32(src, B * S * w);
            for (let b = 0; b < B; b++)
              for (let h = 0; h < H; h++)
                for (let s = 0; s < S; s++) y.set(x.subarray((b * S + s) * w + o + h * d, (b * S + s) * w + o + (h + 1) * d), ((b * H + h) * C + pos + s) * d);
          };
          write(cp[0], ptrs[1]!, wk, ok, hd);
          write(cp[1], ptrs[2]!, wv, ov, vd);
          if (T === 0 || S === 0) mem.f32(yp, B * S * H * vd).fill(0);
          else
            attendStrided(mem, {
              B, N: H, Nkv: H, S, T, hd, vd, scale, nanEmpty: true,
              q: { ptr: ptrs[0]! + 4 * oq, sb: S * wq, sh: hd, si: wq },
              k: { ptr: cp[0], sb: H * C * hd, sh: C * hd, si: hd },
              v: { ptr: cp[1], sb: H * C * vd, sh: C * vd, si: vd },
              o: { ptr: yp, sb: S * H * vd, sh: vd, si: H * vd },
              mask: mst && { ptr: ptrs[3]!, sb: mst[0]!, sh: mst[1]!, si: mst[2]! },
            });
          return [new Tensor('float32', mem.f32(yp, B * S * H * vd), [B, S, H, vd]), new Tensor('float32', mem.f32(cp[0], B * H * C * hd), ck!.dims), new Tensor('float32', mem.f32(cp[1], B * H * C * vd), cv!.dims)];
        } catch (e) {
          if (yp >= 0) mem.release(yp);
          throw e;
        } finally {
          for (const c of copied) mem.release(c);
        }
      },
    };
  },
};

registerKernel(appendWasm);
registerKernel(matmulWasm);
registerKernel(attentionWasm);
registerKernel(appendAttentionWasm);
