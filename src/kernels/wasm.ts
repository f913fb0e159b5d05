import { ShapeError } from '../errors.js';
import { WASM_SIMD_BASE64 } from './wasm-binary.generated.js';

/** Exports of asm/index.ts (pointers are byte offsets into `memory`). */
export interface KernelExports {
  memory: WebAssembly.Memory;
  f32_gemm_pack_8(n: number, k: number, w: number, ldw: number, bias: number, out: number): void;
  f32_gemm_packed_size_8(n: number, k: number): number;
  f32_peak_muladd(iters: number): number;
  f32_gemm(m: number, n: number, k: number, a: number, lda: number, w: number, c: number, ldc: number, lo: number, hi: number): void;
}

function decodeBase64(s: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(s, 'base64'));
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let instance: KernelExports | undefined;
let unavailable = false;

/** The kernel module, instantiated on first use (undefined if this runtime lacks WASM SIMD). */
export function kernels(): KernelExports | undefined {
  if (instance || unavailable) return instance;
  try {
    const mod = new WebAssembly.Module(decodeBase64(WASM_SIMD_BASE64) as BufferSource);
    instance = new WebAssembly.Instance(mod, { env: { abort: () => { throw new ShapeError('WASM kernel aborted'); } } }).exports as unknown as KernelExports;
  } catch {
    unavailable = true;
  }
  return instance;
}

/** WASM32 addresses: refuse anything that would not fit, before calling a kernel (never trap inside). */
const MAX_BYTES = 2 ** 32 - 65536;

/**
 * A bump arena in the kernel module's memory. Persistent blocks (packed weights) are allocated once per
 * session; `scratch` resets per run, so steady-state runs allocate no new WASM memory.
 */
export class Arena {
  private top = 0;
  constructor(private readonly k: KernelExports) {
    this.top = k.memory.buffer.byteLength; // never touch data the module placed below its initial size
  }
  get memory(): WebAssembly.Memory {
    return this.k.memory;
  }
  /** Reserve `bytes` (16-byte aligned); grows memory as needed. Returns the byte offset. */
  alloc(bytes: number, what = 'buffer'): number {
    const p = (this.top + 15) & ~15;
    const end = p + bytes;
    if (!Number.isSafeInteger(bytes) || bytes < 0 || end > MAX_BYTES) throw new ShapeError(`${what}: ${bytes} bytes do not fit in 4 GB of WASM memory`);
    const have = this.k.memory.buffer.byteLength;
    if (end > have) this.k.memory.grow(Math.ceil((end - have) / 65536));
    this.top = end;
    return p;
  }
  /** Current top; pass to `reset` to free everything allocated after it. */
  mark(): number {
    return this.top;
  }
  reset(mark: number): void {
    this.top = mark;
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, ptr, n);
  }
}

let shared: Arena | undefined;
/** The process-wide arena over the one kernel memory. */
export function arena(): Arena | undefined {
  const k = kernels();
  if (!k) return undefined;
  return (shared ??= new Arena(k));
}
